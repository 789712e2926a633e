//! Reshapes rendered Organizations answers as [`ResponseShape`] asks, within what the AWS
//! Organizations model allows: a handshake's Parties and Resources are lists promised in
//! neither number nor order, and every member of Handshake, Account and Organization is
//! optional (AWS Organizations API reference, data types "Handshake", "HandshakeParty",
//! "HandshakeResource", "Account", "Organization").

use crate::state::{ResponseShape, State};
use serde_json::{Map, Value, json};

/// The NextToken every list answer carries under `looping_next_token`.
pub(crate) const LOOP_TOKEN: &str = "emulator-looping-next-token";

/// Whether `op` is a paginated list.
fn is_list(op: &str) -> bool {
    op.starts_with("List")
}

/// The input with the looping token removed (so the model serves the first page again).
pub(crate) fn input(shape: &ResponseShape, op: &str, input: &Value) -> Value {
    let mut input = input.clone();
    if shape.looping_next_token
        && is_list(op)
        && let Some(o) = input.as_object_mut()
        && o.get("NextToken").and_then(Value::as_str) == Some(LOOP_TOKEN)
    {
        o.remove("NextToken");
    }
    input
}

/// Reshapes the rendered body of `op`.
pub(crate) fn body(state: &State, op: &str, body: &str) -> String {
    let shape = &state.options.response_shape;
    if *shape == ResponseShape::default() {
        return body.to_owned();
    }
    let Ok(mut v) = serde_json::from_str::<Value>(body) else {
        return body.to_owned();
    };
    let Some(o) = v.as_object_mut() else {
        return body.to_owned();
    };
    if let Some(h) = o.get_mut("Handshake") {
        handshake(state, shape, h);
    }
    if let Some(Value::Array(hs)) = o.get_mut("Handshakes") {
        for h in hs {
            handshake(state, shape, h);
        }
    }
    if let Some(a) = o.get_mut("Account") {
        keep(shape, a, &["Id"]);
    }
    if let Some(Value::Array(accounts)) = o.get_mut("Accounts") {
        for a in accounts {
            keep(shape, a, &["Id"]);
        }
    }
    if let Some(org) = o.get_mut("Organization") {
        keep(shape, org, &["Id", "MasterAccountId"]);
    }
    if shape.looping_next_token && is_list(op) {
        o.insert("NextToken".into(), json!(LOOP_TOKEN));
    }
    v.to_string()
}

/// Under `omit_optional`, keeps only `members` of an object.
fn keep(shape: &ResponseShape, v: &mut Value, members: &[&str]) {
    if shape.omit_optional
        && let Some(o) = v.as_object_mut()
    {
        o.retain(|k, _| members.contains(&k.as_str()));
    }
}

/// Runs `f` on the list `key` of `o` (created empty when absent).
fn with_array(o: &mut Map<String, Value>, key: &str, f: impl FnOnce(&mut Vec<Value>)) {
    if !matches!(o.get(key), Some(Value::Array(_))) {
        o.insert(key.to_owned(), Value::Array(Vec::new()));
    }
    if let Some(Value::Array(a)) = o.get_mut(key) {
        f(a);
    }
}

/// The management account of the handshake's organization (its ORGANIZATION party).
fn management_account(state: &State, o: &Map<String, Value>) -> Option<String> {
    let parties = o.get("Parties")?.as_array()?;
    let org = parties
        .iter()
        .find(|p| p.get("Type").and_then(Value::as_str) == Some("ORGANIZATION"))?
        .get("Id")?
        .as_str()?;
    state.organizations.get(org).map(|o| o.management_account_id.clone())
}

fn handshake(state: &State, shape: &ResponseShape, h: &mut Value) {
    let Some(o) = h.as_object_mut() else { return };
    let mgmt = management_account(state, o);
    if shape.invitee_in_resources_only {
        with_array(o, "Parties", |p| {
            p.retain(|p| p.get("Type").and_then(Value::as_str) != Some("ACCOUNT"));
        });
    }
    if shape.management_party_first
        && let Some(mgmt) = &mgmt
    {
        with_array(o, "Parties", |p| p.insert(0, json!({"Id": mgmt, "Type": "ACCOUNT"})));
        with_array(o, "Resources", |r| {
            r.insert(0, json!({"Type": "ACCOUNT", "Value": mgmt}));
        });
    }
    if shape.reversed {
        with_array(o, "Parties", |p| p.reverse());
        with_array(o, "Resources", |r| r.reverse());
    }
    keep(shape, h, &["Id", "State", "Parties", "Resources"]);
}
