//! AWS Organizations over awsJson1_1: member parsing (wrong types are a
//! SerializationException, as AWS's JSON deserializer answers) and the operations.

use crate::call::Output;
use crate::error::AwsError;
use crate::state::{
    Caller, Handshake, HandshakeFilter, InviteInput, Organization, Page, Side, State, Time, Transfer,
    TransferInviteInput,
};
use crate::wire;
use serde_json::{Value, json};

/// Executes one Organizations operation: the input is checked against AWS's model first, then
/// the operation runs against the emulator's state. Operations are grouped by concern, as the
/// state is: the organization and its accounts, handshakes, tags.
pub(super) fn execute(
    state: &mut State,
    caller: &Caller,
    op: &str,
    input: &Value,
    now: Time,
) -> Result<Output, AwsError> {
    crate::model::validate(op, input)?;
    let me = caller.account_id.as_str();
    match op {
        "InviteAccountToOrganization"
        | "DescribeHandshake"
        | "AcceptHandshake"
        | "DeclineHandshake"
        | "CancelHandshake"
        | "ListHandshakesForOrganization"
        | "ListHandshakesForAccount" => handshake_operation(state, me, op, input, now),
        "ListTagsForResource" | "TagResource" | "UntagResource" => tag_operation(state, me, op, input),
        _ => organization_operation(state, me, op, input, now),
    }
}

/// The organization and its accounts.
fn organization_operation(state: &mut State, me: &str, op: &str, input: &Value, now: Time) -> Result<Output, AwsError> {
    match op {
        "CreateOrganization" => {
            let org = state.create_organization(me, opt_str(input, "FeatureSet")?, now)?;
            organization(state, &org)
        }
        "DeleteOrganization" => {
            state.delete_own_organization(me)?;
            ok(json!({}), None)
        }
        "DescribeOrganization" => {
            let org = state.describe_organization(me)?;
            organization(state, &org)
        }
        "ListRoots" => {
            let org = state.list_roots(me)?;
            ok(json!({"Roots": [wire::root_json(&org)]}), None)
        }
        "DescribeAccount" => {
            let (a, org) = state.describe_account(me, opt_str(input, "AccountId")?)?;
            ok(json!({"Account": wire::account_json(&a, &org)}), None)
        }
        "ListAccounts" => {
            let (page, org) = state.list_accounts(me, opt_i64(input, "MaxResults")?, opt_str(input, "NextToken")?)?;
            let items = page.items.iter().map(|a| wire::account_json(a, &org)).collect();
            ok(
                with_next_token(json!({"Accounts": Value::Array(items)}), page.next_token),
                None,
            )
        }
        "LeaveOrganization" => {
            state.leave_organization(me)?;
            ok(json!({}), None)
        }
        "InviteOrganizationToTransferResponsibility" => {
            let h = state.invite_transfer(me, transfer_invite_input(input)?, now)?;
            handshake(&h)
        }
        "DescribeResponsibilityTransfer" => {
            let (t, side) = state.describe_transfer(me, opt_str(input, "Id")?, now)?;
            transfer(&t, side)
        }
        "ListInboundResponsibilityTransfers" => {
            let page = state.list_inbound_transfers(
                me,
                opt_str(input, "Type")?,
                opt_str(input, "Id")?,
                opt_i64(input, "MaxResults")?,
                opt_str(input, "NextToken")?,
                now,
            )?;
            transfers(page, Side::Inbound)
        }
        "ListOutboundResponsibilityTransfers" => {
            let page = state.list_outbound_transfers(
                me,
                opt_str(input, "Type")?,
                opt_i64(input, "MaxResults")?,
                opt_str(input, "NextToken")?,
                now,
            )?;
            transfers(page, Side::Outbound)
        }
        "UpdateResponsibilityTransfer" => {
            let (t, side) = state.update_transfer(me, opt_str(input, "Id")?, opt_str(input, "Name")?, now)?;
            transfer(&t, side)
        }
        "TerminateResponsibilityTransfer" => {
            let end = opt_timestamp(input, "EndTimestamp")?;
            let (t, side) = state.terminate_transfer(me, opt_str(input, "Id")?, end, now)?;
            transfer(&t, side)
        }
        "RemoveAccountFromOrganization" => {
            state.remove_account(me, opt_str(input, "AccountId")?)?;
            ok(json!({}), None)
        }
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The operation {other} is not implemented by orgs-emulator."),
        )),
    }
}

/// Invitations and their state machine.
fn handshake_operation(state: &mut State, me: &str, op: &str, input: &Value, now: Time) -> Result<Output, AwsError> {
    if op == "InviteAccountToOrganization" {
        return handshake(&state.invite(me, invite_input(input)?, now)?);
    }
    if op.starts_with("ListHandshakesFor") {
        return list_handshakes(state, me, op, input, now);
    }
    let id = opt_str(input, "HandshakeId")?;
    let h = match op {
        "DescribeHandshake" => state.describe_handshake(me, id, now)?,
        "AcceptHandshake" => state.accept_handshake(me, id, now)?,
        "DeclineHandshake" => state.decline_handshake(me, id, now)?,
        _ => state.cancel_handshake(me, id, now)?,
    };
    handshake(&h)
}

/// Tags on accounts and the root.
fn tag_operation(state: &mut State, me: &str, op: &str, input: &Value) -> Result<Output, AwsError> {
    let resource = opt_str(input, "ResourceId")?;
    match op {
        "ListTagsForResource" => {
            let tags = state.list_tags(me, resource)?;
            ok(json!({"Tags": wire::tags_json(&tags)}), None)
        }
        "TagResource" => {
            state.tag_resource(me, resource, &tags(input)?)?;
            ok(json!({}), None)
        }
        _ => {
            state.untag_resource(me, resource, &tag_keys(input)?)?;
            ok(json!({}), None)
        }
    }
}

fn ok(v: Value, handshake_id: Option<String>) -> Result<Output, AwsError> {
    Ok(Output {
        body: v.to_string(),
        handshake_id,
    })
}

fn handshake(h: &Handshake) -> Result<Output, AwsError> {
    ok(json!({"Handshake": wire::handshake_json(h)}), Some(h.id.clone()))
}

fn transfer(t: &Transfer, side: Side) -> Result<Output, AwsError> {
    ok(json!({"ResponsibilityTransfer": wire::transfer_json(t, side)}), None)
}

fn transfers(page: Page<Transfer>, side: Side) -> Result<Output, AwsError> {
    let items = page.items.iter().map(|t| wire::transfer_json(t, side)).collect();
    ok(
        with_next_token(json!({"ResponsibilityTransfers": Value::Array(items)}), page.next_token),
        None,
    )
}

fn with_next_token(mut v: Value, token: Option<String>) -> Value {
    if let (Some(t), Some(o)) = (token, v.as_object_mut()) {
        o.insert("NextToken".into(), json!(t));
    }
    v
}

fn organization(state: &State, org: &Organization) -> Result<Output, AwsError> {
    let email = state
        .management_account(org)
        .map(|a| a.email.clone())
        .unwrap_or_default();
    ok(json!({"Organization": wire::organization_json(org, &email)}), None)
}

fn list_handshakes(state: &mut State, me: &str, op: &str, input: &Value, now: Time) -> Result<Output, AwsError> {
    let filter = handshake_filter(input)?;
    let max = opt_i64(input, "MaxResults")?;
    let token = opt_str(input, "NextToken")?;
    let page: Page<Handshake> = if op == "ListHandshakesForOrganization" {
        state.list_handshakes_for_organization(me, &filter, max, token, now)?
    } else {
        state.list_handshakes_for_account(me, &filter, max, token, now)?
    };
    let items = page.items.iter().map(wire::handshake_json).collect();
    ok(
        with_next_token(json!({"Handshakes": Value::Array(items)}), page.next_token),
        None,
    )
}

fn ser_err(field: &str, expected: &str) -> AwsError {
    AwsError::client("SerializationException", format!("{field}: expected {expected}"))
}

fn opt_str<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ser_err(field, "a string")),
    }
}

fn opt_i64(input: &Value, field: &str) -> Result<Option<i64>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| ser_err(field, "an integer")),
        Some(_) => Err(ser_err(field, "an integer")),
    }
}

/// An awsJson timestamp: epoch seconds, integral or fractional.
fn opt_timestamp(input: &Value, field: &str) -> Result<Option<Time>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let millis = n.as_f64().map(|s| (s * 1000.0).round() as i64);
            millis
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(Some)
                .ok_or_else(|| ser_err(field, "a timestamp"))
        }
        Some(_) => Err(ser_err(field, "a timestamp (epoch seconds)")),
    }
}

fn transfer_invite_input(input: &Value) -> Result<TransferInviteInput, AwsError> {
    let (target_type, target_id) = match input.get("Target") {
        None | Some(Value::Null) => (None, None),
        Some(t @ Value::Object(_)) => (
            opt_str(t, "Type")?.map(str::to_string),
            opt_str(t, "Id")?.map(str::to_string),
        ),
        Some(_) => return Err(ser_err("Target", "a structure")),
    };
    Ok(TransferInviteInput {
        transfer_type: opt_str(input, "Type")?.map(str::to_string),
        target_type,
        target_id,
        notes: opt_str(input, "Notes")?.map(str::to_string),
        start: opt_timestamp(input, "StartTimestamp")?,
        source_name: opt_str(input, "SourceName")?.map(str::to_string),
        tags: tags(input)?,
    })
}

fn handshake_filter(input: &Value) -> Result<HandshakeFilter, AwsError> {
    match input.get("Filter") {
        None | Some(Value::Null) => Ok(HandshakeFilter::default()),
        Some(f @ Value::Object(_)) => Ok(HandshakeFilter {
            action_type: opt_str(f, "ActionType")?.map(str::to_string),
            parent_handshake_id: opt_str(f, "ParentHandshakeId")?.map(str::to_string),
        }),
        Some(_) => Err(ser_err("Filter", "a structure")),
    }
}

fn invite_input(input: &Value) -> Result<InviteInput, AwsError> {
    let (target_type, target_id) = match input.get("Target") {
        None | Some(Value::Null) => (None, None),
        Some(t @ Value::Object(_)) => (
            opt_str(t, "Type")?.map(str::to_string),
            opt_str(t, "Id")?.map(str::to_string),
        ),
        Some(_) => return Err(ser_err("Target", "a structure")),
    };
    let tags = tags(input)?;
    Ok(InviteInput {
        target_type,
        target_id,
        notes: opt_str(input, "Notes")?.map(str::to_string),
        tags,
    })
}

fn tags(input: &Value) -> Result<Vec<(String, String)>, AwsError> {
    match input.get("Tags") {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                let k = opt_str(t, "Key")?
                    .ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Tag Key is required."))?;
                let v = opt_str(t, "Value")?
                    .ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Tag Value is required."))?;
                Ok((k.to_string(), v.to_string()))
            })
            .collect(),
        Some(_) => Err(ser_err("Tags", "a list")),
    }
}

fn tag_keys(input: &Value) -> Result<Vec<String>, AwsError> {
    match input.get("TagKeys") {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|k| {
                k.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ser_err("TagKeys", "a list of strings"))
            })
            .collect(),
        Some(_) => Err(ser_err("TagKeys", "a list")),
    }
}
