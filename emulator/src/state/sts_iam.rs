//! STS and IAM: who is calling (access keys and AssumeRole sessions), roles, AssumeRole
//! with trust-policy evaluation, GetRole.

use super::validate::is_account_id;
use super::{State, Time, random_lower_alnum, random_upper_alnum};
use crate::error::AwsError;
use crate::seed::{SeedError, SeedRole};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// Owning account.
    pub account_id: String,
    /// Role name.
    pub name: String,
    /// Path, `/` by default.
    pub path: String,
    /// The trust policy document (JSON text).
    pub trust_policy: String,
    /// `AROA...`.
    pub role_id: String,
    /// Creation time.
    pub created_at: Time,
    /// The longest session AssumeRole grants, in seconds (IAM: 3600-43200, default 3600).
    pub max_session_duration: i64,
}

/// AssumeRole's default DurationSeconds, and a role's default MaxSessionDuration.
pub const DEFAULT_SESSION_SECONDS: i64 = 3600;

impl Role {
    /// `arn:aws:iam::<acct>:role<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.account_id, self.path, self.name)
    }
}

/// Temporary credentials issued by AssumeRole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Access key ID (`ASIA...`).
    pub access_key_id: String,
    /// Secret key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// The assumed role's account.
    pub account_id: String,
    /// The assumed role.
    pub role_name: String,
    /// The role's ID.
    pub role_id: String,
    /// Session name.
    pub session_name: String,
    /// Expiry.
    pub expires_at: Time,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The account the caller acts as.
    pub account_id: String,
    /// The caller's ARN (a user `emulator` or an assumed-role session).
    pub arn: String,
    /// The principal's unique ID (for GetCallerIdentity).
    pub user_id: String,
}

impl State {
    /// Adds or replaces an IAM role in an existing account.
    pub fn add_role(&mut self, r: &SeedRole, now: Time) -> Result<Role, SeedError> {
        if !self.accounts.contains_key(&r.account_id) {
            return Err(SeedError::Invalid(format!(
                "role {}: account {} does not exist",
                r.name, r.account_id
            )));
        }
        let trust_policy = match &r.trust_policy {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let mut path = r.path.clone().unwrap_or_else(|| "/".into());
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        let max_session_duration = r.max_session_duration.unwrap_or(DEFAULT_SESSION_SECONDS);
        if !(3600..=43200).contains(&max_session_duration) {
            // IAM's roleMaxSessionDurationType: 3600-43200.
            return Err(SeedError::Invalid(format!(
                "role {}: max_session_duration {max_session_duration} is not between 3600 and 43200",
                r.name
            )));
        }
        let role = Role {
            account_id: r.account_id.clone(),
            name: r.name.clone(),
            path,
            trust_policy,
            role_id: format!("AROA{}", random_upper_alnum(17)),
            created_at: now,
            max_session_duration,
        };
        self.roles.insert((r.account_id.clone(), r.name.clone()), role.clone());
        Ok(role)
    }

    /// Resolves the caller from an access key ID (see README: 12 digits → that account;
    /// an AssumeRole key → the role's account; anything else → the default organization's
    /// management account).
    pub fn resolve_caller(&self, access_key_id: Option<&str>, now: Time) -> Result<Caller, AwsError> {
        if let Some(key) = access_key_id {
            if is_account_id(key) {
                return Ok(Caller {
                    account_id: key.to_string(),
                    arn: format!("arn:aws:iam::{key}:user/emulator"),
                    user_id: format!("AIDA{key}"),
                });
            }
            if let Some(s) = self.sessions.get(key) {
                if now >= s.expires_at {
                    return Err(AwsError::client(
                        "ExpiredTokenException",
                        "The security token included in the request is expired",
                    ));
                }
                return Ok(Caller {
                    account_id: s.account_id.clone(),
                    arn: format!(
                        "arn:aws:sts::{}:assumed-role/{}/{}",
                        s.account_id, s.role_name, s.session_name
                    ),
                    user_id: format!("{}:{}", s.role_id, s.session_name),
                });
            }
        }
        let account = self
            .default_organization
            .as_ref()
            .and_then(|o| self.organizations.get(o))
            .map(|o| o.management_account_id.clone())
            .unwrap_or_else(|| "000000000000".into());
        Ok(Caller {
            arn: format!("arn:aws:iam::{account}:user/emulator"),
            user_id: format!("AIDA{account}"),
            account_id: account,
        })
    }

    /// STS AssumeRole. The role's trust policy must allow the caller's account (see README),
    /// and DurationSeconds may not exceed the role's MaxSessionDuration.
    pub fn assume_role(
        &mut self,
        caller: &Caller,
        role_arn: Option<&str>,
        session_name: Option<&str>,
        external_id: Option<&str>,
        duration_seconds: Option<i64>,
        now: Time,
    ) -> Result<Session, AwsError> {
        self.refresh(now);
        let role_arn = required_param(role_arn, "RoleArn")?;
        let session_name = required_param(session_name, "RoleSessionName")?;
        let duration = check_session_request(session_name, duration_seconds)?;
        let denied = || {
            AwsError::query(
                "AccessDenied",
                403,
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.arn
                ),
            )
        };
        let (account, name) = parse_role_arn(role_arn)
            .ok_or_else(|| AwsError::query("ValidationError", 400, format!("{role_arn} is invalid")))?;
        let role = self
            .roles
            .get(&(account.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(denied)?;
        if !trust_allows(&role.trust_policy, &caller.account_id, external_id) {
            return Err(denied());
        }
        self.issue_session(&role, session_name, duration, now)
    }

    /// New temporary credentials for `role`, valid `duration` seconds of emulator time, unless
    /// `duration` exceeds the role's MaxSessionDuration.
    pub(super) fn issue_session(
        &mut self,
        role: &Role,
        session_name: &str,
        duration: i64,
        now: Time,
    ) -> Result<Session, AwsError> {
        if duration > role.max_session_duration {
            // STS's answer, as SDKs report it: ValidationError, HTTP 400.
            return Err(AwsError::query(
                "ValidationError",
                400,
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let session = Session {
            access_key_id: format!("ASIA{}", random_upper_alnum(16)),
            secret_access_key: random_lower_alnum(40),
            session_token: format!("FwoGZXIvYXdzE{}", random_lower_alnum(100)),
            account_id: role.account_id.clone(),
            role_name: role.name.clone(),
            role_id: role.role_id.clone(),
            session_name: session_name.to_string(),
            expires_at: now + TimeDelta::seconds(duration),
        };
        self.sessions.insert(session.access_key_id.clone(), session.clone());
        Ok(session)
    }

    /// IAM GetRole in the caller's account.
    pub fn get_role(&self, caller: &Caller, name: Option<&str>) -> Result<Role, AwsError> {
        let name = name.ok_or_else(|| {
            AwsError::query("ValidationError", 400, "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
        })?;
        self.roles
            .get(&(caller.account_id.clone(), name.to_string()))
            .cloned()
            .ok_or_else(|| {
                AwsError::query(
                    "NoSuchEntity",
                    404,
                    format!("The role with name {name} cannot be found."),
                )
            })
    }
}

fn required_param<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, AwsError> {
    value.ok_or_else(|| {
        AwsError::query(
            "MissingParameter",
            400,
            format!("The request must contain the parameter {name}"),
        )
    })
}

/// The RoleSessionName and DurationSeconds constraints of the STS model (roleSessionNameType:
/// 2-64 characters of `[\w+=,.@-]`; roleDurationSecondsType: 900-43200, default 3600).
/// Returns the duration.
pub(crate) fn check_session_request(session_name: &str, duration_seconds: Option<i64>) -> Result<i64, AwsError> {
    if session_name.len() < 2
        || session_name.len() > 64
        || !session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(c))
    {
        return Err(AwsError::query(
            "ValidationError",
            400,
            format!(
                "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            ),
        ));
    }
    let duration = duration_seconds.unwrap_or(DEFAULT_SESSION_SECONDS);
    if !(900..=43200).contains(&duration) {
        return Err(AwsError::query(
            "ValidationError",
            400,
            format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200"
            ),
        ));
    }
    Ok(duration)
}

/// Parses `arn:aws:iam::<acct>:role/<path/><name>` into (account, name).
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    (is_account_id(account) && !name.is_empty()).then_some((account, name))
}

/// Whether a trust policy lets `caller_account` assume the role, given the request's
/// ExternalId. A statement matches when its Effect is Allow, its Action includes
/// `sts:AssumeRole` (or `sts:*`/`*`), its Principal.AWS is `*`, the caller's account ID, or
/// any `arn:aws:iam::<caller_account>:...` ARN, and every `sts:ExternalId` condition
/// (StringEquals / StringLike, exact comparison) equals the given ExternalId.
pub fn trust_allows(policy: &str, caller_account: &str, external_id: Option<&str>) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
            _ => vec![],
        }
    }
    statements.iter().any(|st| {
        if st.get("Effect").and_then(|e| e.as_str()) != Some("Allow") {
            return false;
        }
        let actions = strings(st.get("Action"));
        if !actions
            .iter()
            .any(|a| a == "sts:AssumeRole" || a == "sts:*" || a == "*")
        {
            return false;
        }
        let principal = st.get("Principal");
        let principals = match principal {
            Some(serde_json::Value::String(s)) if s == "*" => vec!["*".to_string()],
            Some(p) => strings(p.get("AWS")),
            None => vec![],
        };
        let prefix = format!("arn:aws:iam::{caller_account}:");
        if !principals
            .iter()
            .any(|p| p == "*" || p == caller_account || p.starts_with(&prefix))
        {
            return false;
        }
        if let Some(cond) = st.get("Condition").and_then(|c| c.as_object()) {
            for (op, kv) in cond {
                let Some(kv) = kv.as_object() else { continue };
                for (key, val) in kv {
                    if key.eq_ignore_ascii_case("sts:ExternalId") {
                        if !(op == "StringEquals" || op == "StringLike") {
                            return false;
                        }
                        let wanted = strings(Some(val));
                        if !external_id.is_some_and(|e| wanted.iter().any(|w| w == e)) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{Seed, SeedAccount, SeedOrganization};
    use crate::state::ModelOptions;
    use chrono::{TimeZone, Utc};

    fn t0() -> Time {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn trust_policy_evaluation() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:root"]},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}"#;
        assert!(trust_allows(p, "111111111111", Some("x")));
        assert!(!trust_allows(p, "111111111111", Some("y")));
        assert!(!trust_allows(p, "111111111111", None));
        assert!(!trust_allows(p, "222222222222", Some("x")));
        let open = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole"]}}"#;
        assert!(trust_allows(open, "999999999999", None));
        assert!(!trust_allows("not json", "999999999999", None));
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        assert!(!trust_allows(deny, "999999999999", None));
    }

    #[test]
    fn caller_resolution() {
        let seed = Seed {
            organizations: vec![SeedOrganization {
                id: Some("o-aaaaaaaaaa".into()),
                management_account: SeedAccount::new("111111111111"),
                members: vec![],
                account_quota: None,
                feature_set: None,
            }],
            ..Seed::default()
        };
        let s = State::from_seed(&seed, ModelOptions::default(), t0()).unwrap();
        assert_eq!(
            s.resolve_caller(Some("222222222222"), t0()).unwrap().account_id,
            "222222222222"
        );
        assert_eq!(
            s.resolve_caller(Some("AKIAEXAMPLE"), t0()).unwrap().account_id,
            "111111111111"
        );
        assert_eq!(s.resolve_caller(None, t0()).unwrap().account_id, "111111111111");
    }
}
