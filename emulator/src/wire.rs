//! Rendering of model values in AWS's wire formats: awsJson1_1 for Organizations and the
//! query protocol's XML for STS and IAM.

use crate::error::AwsError;
use crate::state::{Account, Handshake, Organization, Role, Session, Side, Time, Transfer, WebIdentitySession};
use serde_json::{Value, json};

/// Epoch seconds (floating, millisecond precision), as awsJson timestamps.
pub fn epoch(t: Time) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// ISO 8601 with seconds precision (`2024-01-01T00:00:00Z`), as query-protocol timestamps.
pub fn iso(t: Time) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The `Handshake` structure.
pub fn handshake_json(h: &Handshake) -> Value {
    let resources = match &h.transfer {
        None => invite_resources(h),
        Some(offer) => {
            let mut r = vec![
                json!({"Type": "RESPONSIBILITY_TRANSFER", "Value": offer.transfer_id}),
                json!({"Type": "TRANSFER_TYPE", "Value": offer.transfer_type}),
                json!({"Type": "TRANSFER_START_TIMESTAMP", "Value": offer.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}),
                json!({"Type": "MANAGEMENT_ACCOUNT", "Value": h.management_account_id}),
                json!({"Type": "MANAGEMENT_EMAIL", "Value": h.management_email}),
                json!({"Type": "MANAGEMENT_NAME", "Value": h.management_name}),
                json!({"Type": h.target.type_name(), "Value": h.target.id()}),
            ];
            if let Some(n) = &h.notes {
                r.push(json!({"Type": "NOTES", "Value": n}));
            }
            r
        }
    };
    json!({
        "Id": h.id,
        "Arn": h.arn(),
        "Parties": [
            {"Id": h.organization_id, "Type": "ORGANIZATION"},
            {"Id": h.target.id(), "Type": h.target.type_name()},
        ],
        "State": h.state.as_str(),
        "RequestedTimestamp": epoch(h.requested_at),
        "ExpirationTimestamp": epoch(h.expires_at),
        "Action": h.action(),
        "Resources": resources,
    })
}

/// The `ResponsibilityTransfer` structure as `side` sees it.
pub fn transfer_json(t: &Transfer, side: Side) -> Value {
    let mut source = serde_json::Map::new();
    if let Some(id) = &t.source_account_id {
        source.insert("ManagementAccountId".into(), json!(id));
    }
    if let crate::state::Target::Email(e) = &t.invited {
        source.insert("ManagementAccountEmail".into(), json!(e));
    }
    let mut v = json!({
        "Arn": t.arn(side),
        "Name": t.name,
        "Id": t.id,
        "Type": t.transfer_type,
        "Status": t.status.as_str(),
        "Source": Value::Object(source),
        "Target": {"ManagementAccountId": t.target_account_id, "ManagementAccountEmail": t.target_email},
        "StartTimestamp": epoch(t.start),
        "ActiveHandshakeId": t.handshake_id,
    });
    if let (Some(end), Some(obj)) = (t.end, v.as_object_mut()) {
        obj.insert("EndTimestamp".into(), json!(epoch(end)));
    }
    v
}

/// The resources of an invitation to join.
fn invite_resources(h: &Handshake) -> Vec<Value> {
    let mut resources = vec![
        json!({
            "Type": "ORGANIZATION",
            "Value": h.organization_id,
            "Resources": [
                {"Type": "MASTER_EMAIL", "Value": h.management_email},
                {"Type": "MASTER_NAME", "Value": h.management_name},
                {"Type": "ORGANIZATION_FEATURE_SET", "Value": h.feature_set},
            ],
        }),
        json!({"Type": h.target.type_name(), "Value": h.target.id()}),
    ];
    if let Some(n) = &h.notes {
        resources.push(json!({"Type": "NOTES", "Value": n}));
    }
    resources
}

/// The `Account` structure (as a member of `org`).
pub fn account_json(a: &Account, org: &Organization) -> Value {
    let mut v = json!({
        "Id": a.id,
        "Arn": format!("arn:aws:organizations::{}:account/{}/{}", org.management_account_id, org.id, a.id),
        "Email": a.email,
        "Name": a.name,
        "Status": "ACTIVE",
        "State": "ACTIVE",
    });
    if let (Some(m), Some(obj)) = (&a.joined_method, v.as_object_mut()) {
        obj.insert("JoinedMethod".into(), json!(m));
    }
    if let (Some(t), Some(obj)) = (a.joined_at, v.as_object_mut()) {
        obj.insert("JoinedTimestamp".into(), json!(epoch(t)));
    }
    v
}

/// The `Organization` structure.
pub fn organization_json(o: &Organization, mgmt_email: &str) -> Value {
    json!({
        "Id": o.id,
        "Arn": o.arn(),
        "FeatureSet": o.feature_set,
        "MasterAccountArn": format!("arn:aws:organizations::{}:account/{}/{}", o.management_account_id, o.id, o.management_account_id),
        "MasterAccountId": o.management_account_id,
        "MasterAccountEmail": mgmt_email,
        "AvailablePolicyTypes": [],
    })
}

/// The `Root` structure of an organization's one root (no policy types enabled).
pub fn root_json(o: &Organization) -> Value {
    json!({"Id": o.root_id, "Arn": o.root_arn(), "Name": "Root", "PolicyTypes": []})
}

/// A list of `Tag` structures.
pub fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect())
}

/// The awsJson1_1 error body.
pub fn json_error(e: &AwsError) -> Value {
    let mut v = json!({"__type": e.code, "Message": e.message});
    if let (Some(r), Some(obj)) = (e.reason.as_deref(), v.as_object_mut()) {
        obj.insert("Reason".into(), json!(r));
    }
    v
}

/// Escapes text for XML element content.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// RFC 3986 percent-encoding (unreserved characters kept), as IAM encodes policy documents.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// XML namespace of the STS query API.
pub const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// XML namespace of the IAM query API.
pub const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// A query-protocol `ErrorResponse`.
pub fn xml_error(ns: &str, e: &AwsError, request_id: &str) -> String {
    let ty = if e.status >= 500 { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse xmlns=\"{ns}\">\n  <Error>\n    <Type>{ty}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        xml_escape(&e.code),
        xml_escape(&e.message)
    )
}

/// The STS `AssumeRoleResponse`.
pub fn assume_role_xml(s: &Session, request_id: &str) -> String {
    format!(
        "<AssumeRoleResponse xmlns=\"{STS_NS}\">\n  <AssumeRoleResult>\n    <AssumedRoleUser>\n      <AssumedRoleId>{}:{}</AssumedRoleId>\n      <Arn>arn:aws:sts::{}:assumed-role/{}/{}</Arn>\n    </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n",
        xml_escape(&s.role_id),
        xml_escape(&s.session_name),
        s.account_id,
        xml_escape(&s.role_name),
        xml_escape(&s.session_name),
        s.access_key_id,
        s.secret_access_key,
        s.session_token,
        iso(s.expires_at),
    )
}

/// The STS `AssumeRoleWithWebIdentityResponse`.
pub fn assume_role_with_web_identity_xml(w: &WebIdentitySession, request_id: &str) -> String {
    let s = &w.session;
    format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{STS_NS}\">\n  <AssumeRoleWithWebIdentityResult>\n    <SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\n    <Audience>{}</Audience>\n    <AssumedRoleUser>\n      <AssumedRoleId>{}:{}</AssumedRoleId>\n      <Arn>arn:aws:sts::{}:assumed-role/{}/{}</Arn>\n    </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n    <Provider>{}</Provider>\n  </AssumeRoleWithWebIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleWithWebIdentityResponse>\n",
        xml_escape(&w.subject),
        xml_escape(&w.audience),
        xml_escape(&s.role_id),
        xml_escape(&s.session_name),
        s.account_id,
        xml_escape(&s.role_name),
        xml_escape(&s.session_name),
        s.access_key_id,
        s.secret_access_key,
        s.session_token,
        iso(s.expires_at),
        xml_escape(&w.provider),
    )
}

/// The STS `GetCallerIdentityResponse`.
pub fn caller_identity_xml(account: &str, arn: &str, user_id: &str, request_id: &str) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"{STS_NS}\">\n  <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{account}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        xml_escape(arn),
        xml_escape(user_id),
    )
}

/// The IAM `GetRoleResponse` (the trust policy URL-encoded, as IAM returns it).
pub fn get_role_xml(r: &Role, request_id: &str) -> String {
    format!(
        "<GetRoleResponse xmlns=\"{IAM_NS}\">\n  <GetRoleResult>\n    <Role>\n      <Path>{}</Path>\n      <AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument>\n      <MaxSessionDuration>{}</MaxSessionDuration>\n      <RoleId>{}</RoleId>\n      <RoleName>{}</RoleName>\n      <Arn>{}</Arn>\n      <CreateDate>{}</CreateDate>\n      <RoleLastUsed/>\n    </Role>\n  </GetRoleResult>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</GetRoleResponse>\n",
        xml_escape(&r.path),
        percent_encode(&r.trust_policy),
        r.max_session_duration,
        r.role_id,
        xml_escape(&r.name),
        xml_escape(&r.arn()),
        iso(r.created_at),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(percent_encode("{\"a\": 1}"), "%7B%22a%22%3A%201%7D");
    }
}
