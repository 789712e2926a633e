//! The automatic IAM access check (docs/architecture.md, "API", the IAM access step): assume
//! the member access role in the new member account, read the cost tool's role with
//! iam:GetRole and check that its trust policy trusts the expected principal with the expected
//! `sts:ExternalId`.

use super::calls::outcome;
use super::client::{DEFAULT_SESSION_NAME, ProfileClients};
use super::error::{AwsError, ErrorClass};
use serde_json::Value;

/// The result of [`verify_member_role`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamCheck {
    /// The role exists and its trust policy allows the trusted principal (with the external ID).
    Verified,
    /// Not (yet) in place; re-check with backoff.
    Missing {
        /// Stable reason: `MemberAccessDenied`, `RoleNotFound` or `TrustPolicyMismatch`.
        reason: &'static str,
        /// What exactly is missing, for `kubectl describe`.
        message: String,
    },
}

/// Checks the IAM access step for `account_id`: assumes
/// `arn:aws:iam::<account_id>:role/<member_access_role_name>` with the profile's credentials,
/// calls iam:GetRole for `role_name` with the assumed credentials and checks the role's trust
/// policy with [`trust_policy_allows`]. Returns `Missing` for what the customer has to fix and
/// `Err` for failures of the calls themselves (throttling, network, the profile's credentials).
pub async fn verify_member_role(
    clients: &ProfileClients,
    account_id: &str,
    member_access_role_name: &str,
    role_name: &str,
    trusted_principal: &str,
    external_id: Option<&str>,
) -> Result<IamCheck, AwsError> {
    let member_role_arn = format!("arn:aws:iam::{account_id}:role/{member_access_role_name}");
    let creds = match clients.assume_role(&member_role_arn, DEFAULT_SESSION_NAME, None).await {
        Ok(c) => c,
        Err(e) if e.reason() == "AccessDenied" || e.reason() == "RoleNotFound" => {
            return Ok(IamCheck::Missing {
                reason: "MemberAccessDenied",
                message: format!(
                    "The operator cannot assume {member_role_arn} to check IAM access in account {account_id}. \
                     The role must exist in the member account and trust the payer's management account \
                     (or set spec.iamAccess.memberAccessRoleName on the billing profile to a role that does). ({})",
                    e.aws_message().unwrap_or(e.reason())
                ),
            });
        }
        Err(e) => return Err(e),
    };
    const OP: &str = "GetRole";
    let iam = clients.iam_with(creds);
    clients.limiter.acquire(OP).await;
    let result = iam
        .get_role()
        .role_name(role_name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(OP, e, |_| None));
    clients.observer.record(OP, outcome(&result));
    let out = match result {
        Ok(out) => out,
        Err(e) if e.reason() == "RoleNotFound" => {
            return Ok(IamCheck::Missing {
                reason: "RoleNotFound",
                message: format!(
                    "The IAM role {role_name} does not exist in account {account_id}. Create it there with a trust \
                     policy that allows {trusted_principal} to call sts:AssumeRole{}.",
                    if external_id.is_some() {
                        " with the condition StringEquals sts:ExternalId"
                    } else {
                        ""
                    }
                ),
            });
        }
        Err(e) if e.reason() == "AccessDenied" => {
            return Ok(IamCheck::Missing {
                reason: "MemberAccessDenied",
                message: format!(
                    "{member_role_arn} may not call iam:GetRole on {role_name} in account {account_id}; grant it \
                     iam:GetRole (e.g. the ReadOnlyAccess or SecurityAudit managed policy)."
                ),
            });
        }
        Err(e) => return Err(e),
    };
    let Some(encoded) = out.role().and_then(|r| r.assume_role_policy_document()) else {
        return Ok(IamCheck::Missing {
            reason: "TrustPolicyMismatch",
            message: format!("The IAM role {role_name} in account {account_id} has no trust policy."),
        });
    };
    let policy = urlencoding::decode(encoded).map_err(|e| {
        AwsError::local(
            OP,
            ErrorClass::Retryable,
            "AwsUnavailable",
            format!("the trust policy is not valid URL encoding: {e}"),
        )
    })?;
    Ok(match trust_policy_allows(&policy, trusted_principal, external_id) {
        Ok(()) => IamCheck::Verified,
        Err(missing) => IamCheck::Missing {
            reason: "TrustPolicyMismatch",
            message: format!("The trust policy of IAM role {role_name} in account {account_id}: {missing}."),
        },
    })
}

/// Checks a trust policy (JSON, already URL-decoded): some statement with Effect Allow, an
/// Action including `sts:AssumeRole` (or `sts:*`, `*`), a Principal AWS matching
/// `trusted_principal` (string or list; `arn:aws:iam::X:root` and `X` are equal; `*` matches)
/// and, when `external_id` is given, a Condition `StringEquals` (or `StringLike`) on
/// `sts:ExternalId` equal to it. A Deny statement without conditions for the principal and
/// action fails the check. `Err` says what is missing. The external ID is never printed.
pub fn trust_policy_allows(
    policy_json: &str,
    trusted_principal: &str,
    external_id: Option<&str>,
) -> Result<(), String> {
    let doc: Value =
        serde_json::from_str(policy_json).map_err(|e| format!("the trust policy is not valid JSON ({e})"))?;
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return Err("the trust policy has no Statement".into()),
    };
    let want = normalize_principal(trusted_principal);

    let for_action: Vec<&Value> = statements.iter().copied().filter(|s| allows_assume_role(s)).collect();
    let denied = statements.iter().any(|s| {
        effect(s) == Some("Deny") && allows_action(s) && principal_matches(s, &want) && s.get("Condition").is_none()
    });
    if denied {
        return Err(format!(
            "a Deny statement forbids {trusted_principal} to call sts:AssumeRole"
        ));
    }
    if for_action.is_empty() {
        return Err("it has no statement with Effect Allow and Action sts:AssumeRole".into());
    }
    let trusting: Vec<&Value> = for_action.into_iter().filter(|s| principal_matches(s, &want)).collect();
    if trusting.is_empty() {
        return Err(format!(
            "it does not trust {trusted_principal}: add \"{trusted_principal}\" to Principal.AWS of the statement that allows sts:AssumeRole"
        ));
    }
    let Some(external_id) = external_id else {
        return Ok(());
    };
    let mut saw_other_value = false;
    for s in &trusting {
        if let Some(values) = external_id_condition(s) {
            if values
                .iter()
                .any(|(like, v)| if *like { glob(v, external_id) } else { *v == external_id })
            {
                return Ok(());
            }
            saw_other_value = true;
        }
    }
    if saw_other_value {
        Err(format!(
            "the statement that trusts {trusted_principal} requires a different sts:ExternalId than the one configured for this invite"
        ))
    } else {
        Err(format!(
            "the statement that trusts {trusted_principal} has no condition StringEquals sts:ExternalId: add \"Condition\": {{\"StringEquals\": {{\"sts:ExternalId\": \"<the external ID>\"}}}}"
        ))
    }
}

fn effect(s: &Value) -> Option<&str> {
    s.get("Effect").and_then(Value::as_str)
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn allows_action(s: &Value) -> bool {
    strings(s.get("Action"))
        .iter()
        .any(|a| a.eq_ignore_ascii_case("sts:AssumeRole") || a.eq_ignore_ascii_case("sts:*") || *a == "*")
}

fn allows_assume_role(s: &Value) -> bool {
    effect(s) == Some("Allow") && allows_action(s)
}

/// `arn:aws:iam::X:root` → `X`; anything else unchanged.
fn normalize_principal(p: &str) -> String {
    let p = p.trim();
    if let Some(rest) = p.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if parts.len() == 5 && parts[1] == "iam" && parts[4] == "root" && !parts[3].is_empty() {
            return parts[3].to_string();
        }
    }
    p.to_string()
}

fn principal_matches(s: &Value, want: &str) -> bool {
    match s.get("Principal") {
        Some(Value::String(p)) => p == "*",
        Some(p @ Value::Object(_)) => strings(p.get("AWS"))
            .iter()
            .any(|p| *p == "*" || normalize_principal(p) == want),
        _ => false,
    }
}

/// The `sts:ExternalId` values required by a statement: (is StringLike, value).
fn external_id_condition(s: &Value) -> Option<Vec<(bool, &str)>> {
    let cond = s.get("Condition")?.as_object()?;
    let mut values = Vec::new();
    let mut found = false;
    for (op, kv) in cond {
        let like = match op.as_str() {
            "StringEquals" => false,
            "StringLike" => true,
            _ => continue,
        };
        let Some(kv) = kv.as_object() else { continue };
        for (key, v) in kv {
            if key.eq_ignore_ascii_case("sts:ExternalId") {
                found = true;
                values.extend(strings(Some(v)).into_iter().map(|v| (like, v)));
            }
        }
    }
    found.then_some(values)
}

/// IAM `StringLike` matching: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CH: &str = "arn:aws:iam::454464851268:root";

    fn policy(statement: Value) -> String {
        json!({"Version": "2012-10-17", "Statement": statement}).to_string()
    }

    fn stmt(principal: Value, action: Value, condition: Option<Value>) -> Value {
        let mut s = json!({"Effect": "Allow", "Principal": principal, "Action": action});
        if let Some(c) = condition {
            s["Condition"] = c;
        }
        s
    }

    fn ext(id: &str) -> Option<Value> {
        Some(json!({"StringEquals": {"sts:ExternalId": id}}))
    }

    #[test]
    fn table() {
        // (policy, principal, external id, ok, substring of the error)
        let cases: Vec<(String, &str, Option<&str>, bool, &str)> = vec![
            // The plain, correct policy.
            (
                policy(json!([stmt(json!({"AWS": CH}), json!("sts:AssumeRole"), ext("abc"))])),
                CH,
                Some("abc"),
                true,
                "",
            ),
            // A single statement object instead of a list.
            (
                policy(stmt(json!({"AWS": CH}), json!("sts:AssumeRole"), ext("abc"))),
                CH,
                Some("abc"),
                true,
                "",
            ),
            // Bare account ID in the policy, root ARN expected, and the other way around.
            (
                policy(json!([stmt(
                    json!({"AWS": "454464851268"}),
                    json!("sts:AssumeRole"),
                    None
                )])),
                CH,
                None,
                true,
                "",
            ),
            (
                policy(json!([stmt(json!({"AWS": CH}), json!("sts:AssumeRole"), None)])),
                "454464851268",
                None,
                true,
                "",
            ),
            // Principal list.
            (
                policy(json!([stmt(
                    json!({"AWS": ["arn:aws:iam::999999999999:root", CH]}),
                    json!("sts:AssumeRole"),
                    None
                )])),
                CH,
                None,
                true,
                "",
            ),
            // Action list, sts:* and *.
            (
                policy(json!([stmt(
                    json!({"AWS": CH}),
                    json!(["sts:TagSession", "sts:AssumeRole"]),
                    None
                )])),
                CH,
                None,
                true,
                "",
            ),
            (
                policy(json!([stmt(json!({"AWS": CH}), json!("sts:*"), None)])),
                CH,
                None,
                true,
                "",
            ),
            (
                policy(json!([stmt(json!({"AWS": CH}), json!("*"), None)])),
                CH,
                None,
                true,
                "",
            ),
            // Wildcard principals.
            (
                policy(json!([stmt(json!("*"), json!("sts:AssumeRole"), ext("abc"))])),
                CH,
                Some("abc"),
                true,
                "",
            ),
            (
                policy(json!([stmt(json!({"AWS": "*"}), json!("sts:AssumeRole"), None)])),
                CH,
                None,
                true,
                "",
            ),
            // A specific role ARN as the trusted principal.
            (
                policy(json!([stmt(
                    json!({"AWS": "arn:aws:iam::454464851268:role/x"}),
                    json!("sts:AssumeRole"),
                    None
                )])),
                "arn:aws:iam::454464851268:role/x",
                None,
                true,
                "",
            ),
            (
                policy(json!([stmt(
                    json!({"AWS": "arn:aws:iam::454464851268:role/x"}),
                    json!("sts:AssumeRole"),
                    None
                )])),
                "arn:aws:iam::454464851268:role/y",
                None,
                false,
                "does not trust arn:aws:iam::454464851268:role/y",
            ),
            // External ID: list, StringLike with a wildcard, case of the key.
            (
                policy(json!([stmt(
                    json!({"AWS": CH}),
                    json!("sts:AssumeRole"),
                    Some(json!({"StringEquals": {"sts:ExternalId": ["x", "abc"]}}))
                )])),
                CH,
                Some("abc"),
                true,
                "",
            ),
            (
                policy(json!([stmt(
                    json!({"AWS": CH}),
                    json!("sts:AssumeRole"),
                    Some(json!({"StringLike": {"sts:externalid": "ab*"}}))
                )])),
                CH,
                Some("abc"),
                true,
                "",
            ),
            // External ID required but absent from the policy.
            (
                policy(json!([stmt(json!({"AWS": CH}), json!("sts:AssumeRole"), None)])),
                CH,
                Some("abc"),
                false,
                "no condition StringEquals sts:ExternalId",
            ),
            // A different external ID (its value is not printed).
            (
                policy(json!([stmt(
                    json!({"AWS": CH}),
                    json!("sts:AssumeRole"),
                    ext("other-id")
                )])),
                CH,
                Some("abc"),
                false,
                "different sts:ExternalId",
            ),
            // The condition on another statement (for another principal) does not count.
            (
                policy(json!([
                    stmt(json!({"AWS": CH}), json!("sts:AssumeRole"), None),
                    stmt(json!({"AWS": "111111111111"}), json!("sts:AssumeRole"), ext("abc")),
                ])),
                CH,
                Some("abc"),
                false,
                "no condition",
            ),
            // An unrelated condition operator.
            (
                policy(json!([stmt(
                    json!({"AWS": CH}),
                    json!("sts:AssumeRole"),
                    Some(json!({"StringNotEquals": {"sts:ExternalId": "abc"}}))
                )])),
                CH,
                Some("abc"),
                false,
                "no condition",
            ),
            // Wrong principal.
            (
                policy(json!([stmt(
                    json!({"AWS": "arn:aws:iam::999999999999:root"}),
                    json!("sts:AssumeRole"),
                    ext("abc")
                )])),
                CH,
                Some("abc"),
                false,
                "does not trust arn:aws:iam::454464851268:root",
            ),
            // Service principal only.
            (
                policy(json!([stmt(
                    json!({"Service": "ec2.amazonaws.com"}),
                    json!("sts:AssumeRole"),
                    None
                )])),
                CH,
                None,
                false,
                "does not trust",
            ),
            // Wrong action.
            (
                policy(json!([stmt(json!({"AWS": CH}), json!("sts:AssumeRoleWithSAML"), None)])),
                CH,
                None,
                false,
                "no statement with Effect Allow",
            ),
            // Deny effect only.
            (
                policy(json!([{"Effect": "Deny", "Principal": {"AWS": CH}, "Action": "sts:AssumeRole"}])),
                CH,
                None,
                false,
                "Deny statement",
            ),
            // Allow plus an unconditional Deny.
            (
                policy(json!([
                    stmt(json!({"AWS": CH}), json!("sts:AssumeRole"), None),
                    {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:*"}
                ])),
                CH,
                None,
                false,
                "Deny statement",
            ),
            // Garbage.
            ("not json".to_string(), CH, None, false, "not valid JSON"),
            (
                json!({"Version": "2012-10-17"}).to_string(),
                CH,
                None,
                false,
                "no Statement",
            ),
        ];
        for (i, (p, principal, ext_id, ok, needle)) in cases.iter().enumerate() {
            let got = trust_policy_allows(p, principal, *ext_id);
            match (ok, &got) {
                (true, Ok(())) => {}
                (false, Err(msg)) => {
                    assert!(msg.contains(needle), "case {i}: {msg:?} should contain {needle:?}");
                    if let Some(e) = ext_id {
                        assert!(
                            !msg.contains(&format!("\"{e}\"")),
                            "case {i}: external ID leaked: {msg}"
                        );
                    }
                }
                _ => panic!("case {i}: expected ok={ok}, got {got:?} for {p}"),
            }
        }
    }

    #[test]
    fn glob_matching() {
        assert!(glob("abc", "abc"));
        assert!(glob("a*", "abc"));
        assert!(glob("*c", "abc"));
        assert!(glob("a?c", "abc"));
        assert!(glob("*", ""));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("ab", "abc"));
    }

    #[test]
    fn principals_normalize() {
        assert_eq!(normalize_principal("arn:aws:iam::123456789012:root"), "123456789012");
        assert_eq!(normalize_principal("arn:aws-cn:iam::123456789012:root"), "123456789012");
        assert_eq!(normalize_principal("123456789012"), "123456789012");
        assert_eq!(
            normalize_principal("arn:aws:iam::123456789012:role/x"),
            "arn:aws:iam::123456789012:role/x"
        );
    }
}
