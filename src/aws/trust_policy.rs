//! Evaluating an IAM role trust policy the way IAM does, for one question: would the invite's
//! `trustedPrincipal` be allowed to call `sts:AssumeRole` on this role with the invite's
//! external ID? Pure (no I/O); the table tests below cite the AWS documentation for each rule.
//!
//! What is modelled (a role trust policy is a resource-based policy):
//! - every statement is evaluated; an applicable Deny wins over any Allow, and without an
//!   applicable Allow the request is implicitly denied;
//! - `Principal` / `NotPrincipal` (`"*"`, or `{"AWS": string | list}`): an account ID or
//!   `arn:…:iam::<account>:root` trusts every principal of that account, a role ARN trusts that
//!   role's sessions, a user ARN that user, an assumed-role ARN one session;
//! - `Action` / `NotAction` (string or list, `*` and `?` wildcards, case-insensitive);
//! - `Condition`: operators AND, keys AND, values OR (NOR for negated operators), key names
//!   case-insensitive, operator names case-sensitive, `…IfExists`, `Null`, `ForAnyValue:` /
//!   `ForAllValues:`, the String, Arn and Bool operator families, policy variables (only under
//!   Version 2012-10-17).
//!
//! The request context the operator knows: `sts:ExternalId` (the invite's external ID, absent
//! when it has none), `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:PrincipalType` and
//! `aws:PrincipalIsAWSService`. Anything else (source IP, tags, the organization ID, session
//! names, other operators) makes the answer [`Verdict::NotEvaluable`] when it can change it.

use std::fmt;

use serde_json::Value;

/// The action the cost tool calls.
const ASSUME_ROLE: &str = "sts:AssumeRole";

/// The answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// IAM would allow it: statement `statement` (1-based) allows and no statement denies.
    Allowed {
        /// The first statement that allows the request.
        statement: usize,
    },
    /// IAM would refuse it; the refusal says what is missing.
    Refused(Refusal),
    /// The answer depends on something the operator cannot know; says what.
    NotEvaluable(String),
}

/// Why IAM would refuse the request. [`fmt::Display`] writes the message for the customer
/// (never the external ID itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The document is not a policy (not JSON, no Statement).
    Invalid(String),
    /// A Deny statement applies to the request (an explicit deny overrides every Allow).
    ExplicitDeny {
        /// The statement, e.g. `statement 2 (Sid "DenyAll")`.
        statement: String,
        /// The principal of the request.
        principal: String,
    },
    /// No statement has Effect Allow.
    NoAllowStatement,
    /// No Allow statement covers sts:AssumeRole; `actions` lists what they cover.
    ActionNotAllowed {
        /// The Action / NotAction values of the Allow statements.
        actions: Vec<String>,
    },
    /// No Allow statement for sts:AssumeRole names the principal; `trusted` lists whom they name.
    PrincipalNotTrusted {
        /// The principal of the request.
        principal: String,
        /// What the Allow statements' Principal elements name.
        trusted: Vec<String>,
    },
    /// Statements allow sts:AssumeRole for the principal but a condition is not met.
    ConditionNotMet {
        /// The statement, e.g. `statement 1`.
        statement: String,
        /// What is not met, e.g. "it requires sts:ExternalId …".
        detail: String,
    },
    /// The invite has an external ID, but the role can be assumed without it (or with another
    /// one): the condition that protects the customer (the "confused deputy") is missing.
    ExternalIdNotRequired {
        /// The statement that allows the request without the external ID.
        statement: String,
        /// The principal of the request.
        principal: String,
        /// True when any external ID passes; false when none is needed at all.
        any_value: bool,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Invalid(why) => write!(f, "{why}"),
            Refusal::ExplicitDeny { statement, principal } => write!(
                f,
                "{statement} explicitly denies sts:AssumeRole to {principal}, and an explicit Deny overrides every \
                 Allow: remove {principal} (and its account) from that statement or narrow its condition"
            ),
            Refusal::NoAllowStatement => write!(f, "it has no statement with \"Effect\": \"Allow\""),
            Refusal::ActionNotAllowed { actions } => write!(
                f,
                "no Allow statement covers sts:AssumeRole (they cover {}): add \"sts:AssumeRole\" to the Action of \
                 the statement that trusts the cost tool",
                quoted_list(actions)
            ),
            Refusal::PrincipalNotTrusted { principal, trusted } => write!(
                f,
                "no statement allows sts:AssumeRole for {principal} (the Allow statements trust {}): add \
                 \"{principal}\" (or its account) to Principal.AWS of the statement that allows sts:AssumeRole",
                quoted_list(trusted)
            ),
            Refusal::ConditionNotMet { statement, detail } => {
                write!(f, "{statement} allows sts:AssumeRole, but {detail}")
            }
            Refusal::ExternalIdNotRequired {
                statement,
                principal,
                any_value,
            } => {
                if *any_value {
                    write!(
                        f,
                        "{statement} lets {principal} assume the role with any sts:ExternalId, not only the invite's: \
                         use \"Condition\": {{\"StringEquals\": {{\"sts:ExternalId\": \"<the external ID>\"}}}}"
                    )
                } else {
                    write!(
                        f,
                        "{statement} lets {principal} assume the role without the invite's external ID: add \
                         \"Condition\": {{\"StringEquals\": {{\"sts:ExternalId\": \"<the external ID>\"}}}} to it"
                    )
                }
            }
        }
    }
}

fn quoted_list(items: &[String]) -> String {
    if items.is_empty() {
        return "nothing".into();
    }
    items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
}

/// A value the external-ID probe uses; external IDs are 2–1224 characters of `[\w+=,.@:/-]`
/// (AssumeRole API reference), so no real external ID contains a space.
const PROBE_EXTERNAL_ID: &str = "not the invite's external ID";

/// Evaluates `policy_json` (URL-decoded) for `sts:AssumeRole` by `trusted_principal` with
/// `external_id` (None: the request carries no `sts:ExternalId`).
///
/// When the invite has an external ID, the role must also *require* it: if IAM would allow the
/// same principal without an external ID, or with another one, the verdict is
/// [`Refusal::ExternalIdNotRequired`] (the design's "trusts trustedPrincipal with condition
/// sts:ExternalId").
pub fn evaluate(policy_json: &str, trusted_principal: &str, external_id: Option<&str>) -> Verdict {
    let policy = match Policy::parse(policy_json) {
        Ok(p) => p,
        Err(why) => return Verdict::Refused(Refusal::Invalid(why)),
    };
    let principal = match Caller::parse(trusted_principal) {
        Ok(p) => p,
        Err(why) => return Verdict::NotEvaluable(why),
    };
    let verdict = policy.decide(&principal, external_id);
    let Some(id) = external_id else {
        return verdict;
    };
    if !matches!(verdict, Verdict::Allowed { .. }) {
        return verdict;
    }
    for (probe, any_value) in [(None, false), (Some(PROBE_EXTERNAL_ID), true)] {
        if probe == Some(id) {
            continue;
        }
        if let Verdict::Allowed { statement } = policy.decide(&principal, probe) {
            return Verdict::Refused(Refusal::ExternalIdNotRequired {
                statement: policy.statements()[statement - 1].label(),
                principal: principal.raw.clone(),
                any_value,
            });
        }
    }
    verdict
}

/// Three-valued logic: IAM's answer when the operator knows it, or why it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tri {
    Yes,
    /// No, and why (for the message).
    No(String),
    /// Cannot tell, and why.
    Unknown(String),
}

impl Tri {
    fn from_bool(b: bool, why: impl FnOnce() -> String) -> Tri {
        if b { Tri::Yes } else { Tri::No(why()) }
    }

    /// Logical AND: any No wins, then any Unknown.
    fn and(parts: impl IntoIterator<Item = Tri>) -> Tri {
        let mut unknown = None;
        for p in parts {
            match p {
                Tri::No(why) => return Tri::No(why),
                Tri::Unknown(why) => {
                    unknown.get_or_insert(why);
                }
                Tri::Yes => {}
            }
        }
        unknown.map_or(Tri::Yes, Tri::Unknown)
    }

    /// Logical OR: any Yes wins, then any Unknown.
    fn or(parts: impl IntoIterator<Item = Tri>, none: impl FnOnce() -> String) -> Tri {
        let mut unknown = None;
        for p in parts {
            match p {
                Tri::Yes => return Tri::Yes,
                Tri::Unknown(why) => {
                    unknown.get_or_insert(why);
                }
                Tri::No(_) => {}
            }
        }
        unknown.map_or_else(|| Tri::No(none()), Tri::Unknown)
    }
}

// ---------------------------------------------------------------------------------------------
// The principal of the request.

/// What the invite's `trustedPrincipal` names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// The account (`123456789012` or `arn:aws:iam::123456789012:root`).
    Account,
    /// An IAM role: the cost tool calls with one of its sessions.
    Role { name: String },
    /// An IAM user.
    User { name: String },
    /// One session of a role (`arn:aws:sts::…:assumed-role/<role>/<session>`).
    Session { role: String, session: String },
    /// Another ARN (e.g. a federated user): matched literally.
    Other,
}

/// The principal that calls sts:AssumeRole.
#[derive(Debug, Clone)]
struct Caller {
    /// As the invite spells it.
    raw: String,
    /// None for a bare account ID.
    partition: Option<String>,
    account: String,
    kind: Kind,
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The six colon-separated parts of an ARN (the last keeps its colons).
fn arn_parts(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let parts = [it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?];
    (parts[0] == "arn").then_some(parts)
}

/// `role/path/Name` → `Name`.
fn last_segment(resource: &str) -> &str {
    resource.rsplit('/').next().unwrap_or(resource)
}

impl Caller {
    fn parse(raw: &str) -> Result<Caller, String> {
        let raw = raw.trim();
        if is_account_id(raw) {
            return Ok(Caller {
                raw: raw.to_owned(),
                partition: None,
                account: raw.to_owned(),
                kind: Kind::Account,
            });
        }
        let unsupported = || {
            format!(
                "cannot evaluate the trust policy for trustedPrincipal \"{raw}\": it is not an account ID or the ARN \
                 of an account root, IAM role, IAM user or role session"
            )
        };
        let [_, partition, service, _, account, resource] = arn_parts(raw).ok_or_else(unsupported)?;
        if !is_account_id(account) {
            return Err(unsupported());
        }
        let kind = match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => Kind::Account,
            ("iam", Some(("role", _))) => Kind::Role {
                name: last_segment(resource).to_owned(),
            },
            ("iam", Some(("user", _))) => Kind::User {
                name: last_segment(resource).to_owned(),
            },
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((role, session)) => Kind::Session {
                    role: role.to_owned(),
                    session: session.to_owned(),
                },
                None => return Err(unsupported()),
            },
            ("sts", Some(("federated-user", _))) => Kind::Other,
            _ => return Err(unsupported()),
        };
        Ok(Caller {
            raw: raw.to_owned(),
            partition: Some(partition.to_owned()),
            account: account.to_owned(),
            kind,
        })
    }

    fn partition_matches(&self, partition: &str) -> bool {
        self.partition.as_deref().is_none_or(|p| p == partition)
    }

    /// Whether a `Principal` entry names this caller. IAM names are unique per account
    /// regardless of path and case, so a role or user is matched by account and name.
    fn named_by(&self, entry: &str) -> Tri {
        let no = || format!("it names {entry}");
        if entry == "*" {
            return Tri::Yes;
        }
        if is_account_id(entry) {
            return Tri::from_bool(entry == self.account, no);
        }
        let Some([_, partition, service, _, account, resource]) = arn_parts(entry) else {
            // A unique ID (AROA…, AIDA…) or something IAM would not store: names no one now.
            return Tri::No(no());
        };
        if !self.partition_matches(partition) || account != self.account {
            return Tri::No(no());
        }
        let kind = resource.split_once('/').map(|(k, _)| k).unwrap_or(resource);
        match (service, kind, &self.kind) {
            ("iam", "root", _) => Tri::Yes,
            ("iam", "role", Kind::Role { name } | Kind::Session { role: name, .. }) => {
                Tri::from_bool(last_segment(resource).eq_ignore_ascii_case(name), no)
            }
            ("iam", "user", Kind::User { name }) => {
                Tri::from_bool(last_segment(resource).eq_ignore_ascii_case(name), no)
            }
            ("sts", "assumed-role", Kind::Session { role, session }) => {
                Tri::from_bool(resource == format!("assumed-role/{role}/{session}"), no)
            }
            ("sts", "assumed-role", Kind::Role { name }) => {
                let session_of_role = resource
                    .strip_prefix("assumed-role/")
                    .and_then(|r| r.split_once('/'))
                    .is_some_and(|(r, _)| r.eq_ignore_ascii_case(name));
                if session_of_role {
                    Tri::Unknown(format!(
                        "cannot evaluate Principal \"{entry}\": it trusts one session of the role, and the session \
                         name the cost tool uses is not known"
                    ))
                } else {
                    Tri::No(no())
                }
            }
            (_, _, Kind::Other) => Tri::from_bool(entry == self.raw, no),
            _ => Tri::No(no()),
        }
    }

    /// The ARN of this caller's account.
    fn account_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:root",
            self.partition.as_deref().unwrap_or("aws"),
            self.account
        )
    }

    /// `aws:PrincipalArn`: for a role session, the role's ARN (global condition keys).
    fn principal_arn(&self) -> Result<String, String> {
        match &self.kind {
            Kind::Account if self.partition.is_some() => Ok(self.account_arn()),
            Kind::Account => Err("trustedPrincipal is a bare account ID, so its ARN's partition is not known".into()),
            Kind::Session { .. } => Err("the role's path is not part of a session ARN".into()),
            Kind::Role { .. } | Kind::User { .. } | Kind::Other => Ok(self.raw.clone()),
        }
    }

    /// `aws:PrincipalType` (global condition keys).
    fn principal_type(&self) -> &'static str {
        match self.kind {
            Kind::Account => "Account",
            Kind::Role { .. } | Kind::Session { .. } => "AssumedRole",
            Kind::User { .. } => "User",
            Kind::Other => "FederatedUser",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The policy.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// The request as the statements see it.
struct Request<'a> {
    caller: &'a Caller,
    external_id: Option<&'a str>,
    /// Version 2012-10-17: policy variables are substituted.
    variables: bool,
}

impl Statement<'_> {
    fn label(&self) -> String {
        match self.sid {
            Some(sid) if !sid.is_empty() => format!("statement {} (Sid \"{sid}\")", self.index),
            _ => format!("statement {}", self.index),
        }
    }
}

/// A parsed trust policy (owns the document; statements are read from it on each evaluation).
#[derive(Debug)]
struct Policy {
    /// Version 2012-10-17: policy variables are substituted (otherwise they are literal text).
    variables: bool,
    statements: Vec<Value>,
}

impl Policy {
    fn parse(policy_json: &str) -> Result<Policy, String> {
        let doc: Value =
            serde_json::from_str(policy_json).map_err(|e| format!("the trust policy is not valid JSON ({e})"))?;
        let Some(doc) = doc.as_object() else {
            return Err("the trust policy is not a JSON object".into());
        };
        let variables = doc.get("Version").and_then(Value::as_str) == Some("2012-10-17");
        let statements = match doc.get("Statement") {
            Some(Value::Array(a)) if !a.is_empty() => a.clone(),
            Some(s @ Value::Object(_)) => vec![s.clone()],
            _ => return Err("the trust policy has no Statement".into()),
        };
        Ok(Policy { variables, statements })
    }

    fn statements(&self) -> Vec<Statement<'_>> {
        self.statements
            .iter()
            .enumerate()
            .map(|(i, v)| Statement::read(i + 1, v))
            .collect()
    }

    fn decide(&self, caller: &Caller, external_id: Option<&str>) -> Verdict {
        let req = Request {
            caller,
            external_id,
            variables: self.variables,
        };
        let statements = self.statements();
        let evals: Vec<Eval<'_, '_>> = statements
            .iter()
            .filter_map(|st| st.effect.map(|effect| Eval::of(st, effect, &req)))
            .collect();
        let first =
            |effect: Effect, pick: fn(&Tri) -> bool| evals.iter().find(|e| e.effect == effect && pick(&e.applies));
        let yes = |t: &Tri| matches!(t, Tri::Yes);
        let unknown = |t: &Tri| matches!(t, Tri::Unknown(_));
        if let Some(deny) = first(Effect::Deny, yes) {
            return Verdict::Refused(Refusal::ExplicitDeny {
                statement: deny.st.label(),
                principal: caller.raw.clone(),
            });
        }
        let why = |e: &Eval<'_, '_>| match &e.applies {
            Tri::Unknown(why) => format!("{}: {why}", e.st.label()),
            _ => e.st.label(),
        };
        match (
            first(Effect::Allow, yes),
            first(Effect::Allow, unknown),
            first(Effect::Deny, unknown),
        ) {
            (Some(_), _, Some(deny)) => {
                Verdict::NotEvaluable(format!("{} (a Deny statement that may apply)", why(deny)))
            }
            (Some(allow), _, None) => Verdict::Allowed {
                statement: allow.st.index,
            },
            (None, Some(allow), _) => Verdict::NotEvaluable(why(allow)),
            (None, None, _) => Verdict::Refused(diagnose(&evals, caller)),
        }
    }
}

/// One statement's answer for the request.
struct Eval<'s, 'v> {
    st: &'s Statement<'v>,
    effect: Effect,
    action: bool,
    principal: Tri,
    applies: Tri,
}

impl<'s, 'v> Eval<'s, 'v> {
    fn of(st: &'s Statement<'v>, effect: Effect, req: &Request<'_>) -> Eval<'s, 'v> {
        let action = st.covers_assume_role();
        let principal = st.principal_applies(req.caller, effect);
        let applies = if !action {
            Tri::No("it does not cover sts:AssumeRole".into())
        } else if let Tri::No(why) = &principal {
            Tri::No(why.clone())
        } else {
            let condition = st.condition.map_or(Tri::Yes, |c| condition_holds(c, req));
            Tri::and([principal.clone(), condition])
        };
        Eval {
            st,
            effect,
            action,
            principal,
            applies,
        }
    }
}

/// Why no Allow statement applies: the first missing piece, looking at the statements that
/// come closest (Effect, then Action, then Principal, then Condition).
fn diagnose(evals: &[Eval<'_, '_>], caller: &Caller) -> Refusal {
    let allows: Vec<&Eval<'_, '_>> = evals.iter().filter(|e| e.effect == Effect::Allow).collect();
    if allows.is_empty() {
        return Refusal::NoAllowStatement;
    }
    let with_action: Vec<&Eval<'_, '_>> = allows.iter().copied().filter(|e| e.action).collect();
    if with_action.is_empty() {
        return Refusal::ActionNotAllowed {
            actions: allows.iter().flat_map(|e| e.st.action_names()).collect(),
        };
    }
    let Some(closest) = with_action.iter().find(|e| !matches!(e.principal, Tri::No(_))) else {
        return Refusal::PrincipalNotTrusted {
            principal: caller.raw.clone(),
            trusted: with_action.iter().flat_map(|e| e.st.principal_names()).collect(),
        };
    };
    let detail = match &closest.applies {
        Tri::No(why) => why.clone(),
        _ => "its condition is not met".into(),
    };
    Refusal::ConditionNotMet {
        statement: closest.st.label(),
        detail,
    }
}

// ---------------------------------------------------------------------------------------------
// Statements.

#[derive(Debug)]
struct Statement<'v> {
    index: usize,
    sid: Option<&'v str>,
    /// None: not a statement IAM would accept; ignored.
    effect: Option<Effect>,
    /// (is NotPrincipal, the element)
    principal: Option<(bool, &'v Value)>,
    /// (is NotAction, the element)
    action: Option<(bool, &'v Value)>,
    condition: Option<&'v Value>,
}

/// A string or a list of strings (numbers and booleans as IAM writes them).
fn strings(v: &Value) -> Vec<String> {
    fn one(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match v {
        Value::Array(a) => a.iter().filter_map(one).collect(),
        v => one(v).into_iter().collect(),
    }
}

impl<'v> Statement<'v> {
    fn read(index: usize, v: &'v Value) -> Statement<'v> {
        let effect = match v.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Some(Effect::Allow),
            Some("Deny") => Some(Effect::Deny),
            _ => None,
        };
        let either = |yes: &str, not: &str| v.get(yes).map(|p| (false, p)).or_else(|| v.get(not).map(|p| (true, p)));
        Statement {
            index,
            sid: v.get("Sid").and_then(Value::as_str),
            effect,
            principal: either("Principal", "NotPrincipal"),
            action: either("Action", "NotAction"),
            condition: v.get("Condition"),
        }
    }

    /// Action / NotAction against sts:AssumeRole: case-insensitive, `*` and `?` wildcards.
    fn covers_assume_role(&self) -> bool {
        let Some((not, v)) = self.action else {
            return false;
        };
        let listed = strings(v).iter().any(|p| {
            Pattern::compile(&p.to_ascii_lowercase(), true, false)
                .is_ok_and(|p| p.matches(&ASSUME_ROLE.to_ascii_lowercase()))
        });
        listed != not
    }

    fn action_names(&self) -> Vec<String> {
        match self.action {
            Some((false, v)) => strings(v),
            Some((true, v)) => strings(v).into_iter().map(|a| format!("NotAction {a}")).collect(),
            None => vec![],
        }
    }

    fn principal_names(&self) -> Vec<String> {
        fn hint(e: String) -> String {
            if e.starts_with("AROA") || e.starts_with("AIDA") {
                format!("{e} (a unique ID: IAM shows it when the role or user it named was deleted)")
            } else {
                e
            }
        }
        fn names(v: &Value) -> Vec<String> {
            match v {
                Value::String(s) => vec![s.clone()],
                Value::Object(m) => m
                    .iter()
                    .flat_map(|(k, v)| {
                        strings(v)
                            .into_iter()
                            .map(move |e| if k == "AWS" { hint(e) } else { format!("{k} {e}") })
                    })
                    .collect(),
                _ => vec![],
            }
        }
        match self.principal {
            Some((false, v)) => names(v),
            Some((true, v)) => names(v).into_iter().map(|n| format!("everyone but {n}")).collect(),
            None => vec![],
        }
    }

    /// The AWS entries of a Principal / NotPrincipal element (`"*"` counts as one).
    fn aws_entries(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) if s == "*" => vec!["*".into()],
            Value::Object(m) => m.get("AWS").map(strings).unwrap_or_default(),
            _ => vec![],
        }
    }

    fn principal_applies(&self, caller: &Caller, effect: Effect) -> Tri {
        match self.principal {
            None => Tri::No("it has no Principal".into()),
            Some((false, v)) => {
                let entries = Statement::aws_entries(v);
                Tri::or(entries.iter().map(|e| caller.named_by(e)), || {
                    format!("it does not name {}", caller.raw)
                })
            }
            Some((true, v)) => not_principal(&Statement::aws_entries(v), caller, effect),
        }
    }
}

/// NotPrincipal: the statement applies to everyone the list does not name. AWS may check the
/// caller's account, then its role, then the session, so a principal is safely excluded only
/// when the list also names its account (and role); see the NotPrincipal reference.
fn not_principal(entries: &[String], caller: &Caller, effect: Effect) -> Tri {
    let is_account_entry = |e: &str| {
        e == "*"
            || e == caller.account
            || arn_parts(e).is_some_and(|[_, p, s, _, a, r]| {
                caller.partition_matches(p) && s == "iam" && a == caller.account && r == "root"
            })
    };
    let account_listed = entries.iter().any(|e| is_account_entry(e));
    let role_name = match &caller.kind {
        Kind::Role { name } => Some(name.as_str()),
        Kind::Session { role, .. } => Some(role.as_str()),
        _ => None,
    };
    let role_listed = role_name.is_none_or(|name| {
        entries.iter().any(|e| {
            e == "*"
                || arn_parts(e).is_some_and(|[_, _, s, _, a, r]| {
                    s == "iam"
                        && a == caller.account
                        && r.starts_with("role/")
                        && last_segment(r).eq_ignore_ascii_case(name)
                })
        })
    });
    // Is the caller itself (the session, the user, the account) in the list?
    let own = Tri::or(
        entries.iter().map(|e| match &caller.kind {
            _ if e == "*" => Tri::Yes,
            Kind::Account => Tri::from_bool(is_account_entry(e), String::new),
            _ if is_account_entry(e) => Tri::No(String::new()),
            Kind::Role { name } => {
                let session_of_role = arn_parts(e).is_some_and(|[_, _, s, _, a, r]| {
                    s == "sts"
                        && a == caller.account
                        && r.strip_prefix("assumed-role/")
                            .and_then(|r| r.split_once('/'))
                            .is_some_and(|(r, _)| r.eq_ignore_ascii_case(name))
                });
                if session_of_role {
                    Tri::Unknown(format!(
                        "cannot evaluate NotPrincipal \"{e}\": it names one session of the role, and the session name \
                         the cost tool uses is not known"
                    ))
                } else {
                    Tri::No(String::new())
                }
            }
            Kind::Session { .. } | Kind::User { .. } | Kind::Other => match caller.named_by(e) {
                // A role entry names the role, not the session (the NotPrincipal reference lists both).
                Tri::Yes if matches!(caller.kind, Kind::Session { .. }) && !e.contains(":assumed-role/") => {
                    Tri::No(String::new())
                }
                t => t,
            },
        }),
        String::new,
    );
    let partial = || {
        Tri::Unknown(format!(
            "cannot evaluate NotPrincipal for {}: it names some but not all of the principal, its role and its \
             account, and AWS may check each of them",
            caller.raw
        ))
    };
    match (effect, own) {
        (_, Tri::Unknown(why)) => Tri::Unknown(why),
        (Effect::Deny, Tri::No(_)) => Tri::Yes,
        (Effect::Deny, Tri::Yes) if account_listed && role_listed => {
            Tri::No(format!("its NotPrincipal excludes {}", caller.raw))
        }
        (Effect::Deny, Tri::Yes) => partial(),
        (Effect::Allow, Tri::Yes) => Tri::No(format!("its NotPrincipal excludes {}", caller.raw)),
        (Effect::Allow, Tri::No(_)) if account_listed || (role_name.is_some() && role_listed) => partial(),
        (Effect::Allow, Tri::No(_)) => Tri::Yes,
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions.

/// The condition operators evaluated here (the String, ARN, Boolean and Null families).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Bool,
    Null,
}

impl Op {
    /// Operator names are matched exactly (case-sensitive).
    fn parse(name: &str) -> Option<Op> {
        Some(match name {
            "StringEquals" => Op::StringEquals,
            "StringNotEquals" => Op::StringNotEquals,
            "StringEqualsIgnoreCase" => Op::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Op::StringNotEqualsIgnoreCase,
            "StringLike" => Op::StringLike,
            "StringNotLike" => Op::StringNotLike,
            "ArnEquals" => Op::ArnEquals,
            "ArnNotEquals" => Op::ArnNotEquals,
            "ArnLike" => Op::ArnLike,
            "ArnNotLike" => Op::ArnNotLike,
            "Bool" => Op::Bool,
            "Null" => Op::Null,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        matches!(
            self,
            Op::StringNotEquals | Op::StringNotEqualsIgnoreCase | Op::StringNotLike | Op::ArnNotEquals | Op::ArnNotLike
        )
    }

    fn wildcards(self) -> bool {
        matches!(
            self,
            Op::StringLike | Op::StringNotLike | Op::ArnEquals | Op::ArnNotEquals | Op::ArnLike | Op::ArnNotLike
        )
    }

    fn ignore_case(self) -> bool {
        matches!(
            self,
            Op::StringEqualsIgnoreCase | Op::StringNotEqualsIgnoreCase | Op::Bool
        )
    }

    fn arn(self) -> bool {
        matches!(self, Op::ArnEquals | Op::ArnNotEquals | Op::ArnLike | Op::ArnNotLike)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    AnyValue,
    AllValues,
}

/// A context key's value in the request, as far as the operator knows it.
enum Ctx {
    Present(Vec<String>),
    Absent,
    Unknown(String),
}

fn lookup(key: &str, req: &Request<'_>) -> Ctx {
    let caller = req.caller;
    match key.to_ascii_lowercase().as_str() {
        "sts:externalid" => req
            .external_id
            .map_or(Ctx::Absent, |id| Ctx::Present(vec![id.to_owned()])),
        "aws:principalaccount" => Ctx::Present(vec![caller.account.clone()]),
        "aws:principalarn" => match caller.principal_arn() {
            Ok(arn) => Ctx::Present(vec![arn]),
            Err(why) => Ctx::Unknown(why),
        },
        "aws:principaltype" => Ctx::Present(vec![caller.principal_type().to_owned()]),
        "aws:principalisawsservice" => Ctx::Present(vec!["false".into()]),
        _ => Ctx::Unknown(format!(
            "the operator does not know the request's {key} (it knows sts:ExternalId, aws:PrincipalAccount, \
             aws:PrincipalArn, aws:PrincipalType and aws:PrincipalIsAWSService)"
        )),
    }
}

/// The whole Condition element: every operator and every key must hold (logical AND).
fn condition_holds(condition: &Value, req: &Request<'_>) -> Tri {
    let Some(ops) = condition.as_object() else {
        return Tri::Unknown("cannot evaluate its Condition: it is not an object".into());
    };
    Tri::and(ops.iter().flat_map(|(op, block)| operator_holds(op, block, req)))
}

/// One operator block: one answer per key.
fn operator_holds(name: &str, block: &Value, req: &Request<'_>) -> Vec<Tri> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Some(SetOp::AnyValue), r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Some(SetOp::AllValues), r)
    } else {
        (None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let op = match Op::parse(base) {
        Some(Op::Null) if if_exists || set.is_some() => None,
        op => op,
    };
    let Some(op) = op else {
        return vec![Tri::Unknown(format!("cannot evaluate condition operator {name}"))];
    };
    let Some(block) = block.as_object() else {
        return vec![Tri::Unknown(format!(
            "cannot evaluate condition {name}: it is not an object"
        ))];
    };
    block
        .iter()
        .map(|(key, values)| key_holds(name, op, set, if_exists, key, &strings(values), req))
        .collect()
}

fn key_holds(
    name: &str,
    op: Op,
    set: Option<SetOp>,
    if_exists: bool,
    key: &str,
    values: &[String],
    req: &Request<'_>,
) -> Tri {
    let is_external_id = key.eq_ignore_ascii_case("sts:ExternalId");
    let ctx = match lookup(key, req) {
        Ctx::Unknown(why) => return Tri::Unknown(format!("cannot evaluate condition {key} ({name}): {why}")),
        ctx => ctx,
    };
    if op == Op::Null {
        let present = matches!(ctx, Ctx::Present(_));
        let holds = values.iter().any(|v| v.eq_ignore_ascii_case("true") != present);
        return Tri::from_bool(holds, || {
            if present {
                format!("it requires {key} to be absent (Null), and the request has it")
            } else if is_external_id {
                format!("it requires {key} (Null), and the invite sets no external ID: {NO_EXTERNAL_ID_FIX}")
            } else {
                format!("it requires {key} (Null), and the request has none")
            }
        });
    }
    let Ctx::Present(request_values) = ctx else {
        // Absent: IfExists passes; ForAllValues is vacuously true; ForAnyValue is false;
        // otherwise only a negated operator holds (condition operators reference).
        let holds = if_exists || set == Some(SetOp::AllValues) || (set.is_none() && op.negated());
        return Tri::from_bool(holds, || {
            if is_external_id {
                format!("it requires sts:ExternalId ({name}), and the invite sets no external ID: {NO_EXTERNAL_ID_FIX}")
            } else {
                format!("it requires {key} ({name}), and the request has none")
            }
        });
    };
    let mut patterns = Vec::with_capacity(values.len());
    for v in values {
        let v = if op.ignore_case() { v.to_lowercase() } else { v.clone() };
        match Pattern::compile(&v, op.wildcards(), req.variables) {
            Ok(p) => patterns.push(p),
            Err(var) => {
                return Tri::Unknown(format!(
                    "cannot evaluate condition {key} ({name}): it uses the policy variable {var}"
                ));
            }
        }
    }
    let one = |rv: &String| {
        let rv = if op.ignore_case() {
            rv.to_lowercase()
        } else {
            rv.clone()
        };
        let any = patterns
            .iter()
            .any(|p| if op.arn() { p.matches_arn(&rv) } else { p.matches(&rv) });
        any != op.negated()
    };
    let holds = match set {
        Some(SetOp::AllValues) => request_values.iter().all(one),
        Some(SetOp::AnyValue) | None => request_values.iter().any(one),
    };
    Tri::from_bool(holds, || {
        if is_external_id {
            external_id_mismatch(name, op, values, req.external_id.unwrap_or_default())
        } else {
            let have = request_values
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ");
            let what = if key.eq_ignore_ascii_case("aws:PrincipalAccount") {
                " (the account of trustedPrincipal)"
            } else {
                ""
            };
            format!(
                "it requires {key} {name} {}, and the request's {key}{what} is {have}",
                quoted_list(values)
            )
        }
    })
}

const NO_EXTERNAL_ID_FIX: &str =
    "set spec.iamAccess.externalId (or externalIdSecretRef) to the external ID the cost tool uses";

/// The external ID is never printed (it may come from a Secret): say how the values differ.
fn external_id_mismatch(name: &str, op: Op, values: &[String], invite: &str) -> String {
    if op.negated() {
        return format!(
            "its condition {name} on sts:ExternalId refuses the invite's external ID: remove it from that condition"
        );
    }
    let hint = if values.iter().any(|v| v.eq_ignore_ascii_case(invite)) {
        " (one of them differs from it only in letter case)"
    } else if values.iter().any(|v| v.trim() == invite.trim()) {
        " (one of them differs from it only by surrounding spaces)"
    } else {
        ""
    };
    format!(
        "it requires sts:ExternalId {name} {} value(s), and the invite's external ID matches none of them{hint}: \
         put the invite's external ID in that condition (or correct the invite's)",
        values.len()
    )
}

// ---------------------------------------------------------------------------------------------
// Wildcard patterns.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

#[derive(Debug, Clone)]
struct Pattern(Vec<Tok>);

impl Pattern {
    /// `wildcards`: `*` and `?` match (StringLike, Arn*, Action). `variables` (Version
    /// 2012-10-17): `${*}`, `${?}`, `${$}` are the literal characters, any other `${…}` is a
    /// policy variable the operator cannot resolve (`Err` with it).
    fn compile(value: &str, wildcards: bool, variables: bool) -> Result<Pattern, String> {
        let mut toks = Vec::with_capacity(value.len());
        let mut rest = value;
        while let Some(c) = rest.chars().next() {
            if variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                match &rest[2..end] {
                    "*" => toks.push(Tok::Lit('*')),
                    "?" => toks.push(Tok::Lit('?')),
                    "$" => toks.push(Tok::Lit('$')),
                    _ => return Err(rest[..=end].to_owned()),
                }
                rest = &rest[end + 1..];
                continue;
            }
            toks.push(match c {
                '*' if wildcards => Tok::Star,
                '?' if wildcards => Tok::One,
                c => Tok::Lit(c),
            });
            rest = &rest[c.len_utf8()..];
        }
        Ok(Pattern(toks))
    }

    fn matches(&self, text: &str) -> bool {
        let t: Vec<char> = text.chars().collect();
        glob(&self.0, &t)
    }

    /// ARN operators: each of the six colon-separated parts is matched on its own.
    fn matches_arn(&self, text: &str) -> bool {
        let mut pattern_parts: Vec<&[Tok]> = Vec::with_capacity(6);
        let mut start = 0;
        for (i, t) in self.0.iter().enumerate() {
            if *t == Tok::Lit(':') && pattern_parts.len() < 5 {
                pattern_parts.push(&self.0[start..i]);
                start = i + 1;
            }
        }
        pattern_parts.push(&self.0[start..]);
        let text_parts: Vec<&str> = text.splitn(6, ':').collect();
        pattern_parts.len() == 6
            && text_parts.len() == 6
            && pattern_parts.iter().zip(&text_parts).all(|(p, t)| {
                let t: Vec<char> = t.chars().collect();
                glob(p, &t)
            })
    }
}

/// Wildcard matching with backtracking over the last `*`.
fn glob(p: &[Tok], t: &[char]) -> bool {
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        match p.get(pi) {
            Some(Tok::One) => {
                pi += 1;
                ti += 1;
            }
            Some(Tok::Lit(c)) if *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            Some(Tok::Star) => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|t| *t == Tok::Star)
}

#[cfg(test)]
mod tests {
    //! One table per rule family. Each case: a trust policy, the invite's trustedPrincipal and
    //! external ID, the expected verdict (`allowed N`, `deny`, `no-allow`, `action`,
    //! `principal`, `condition`, `external-id-not-required`, `invalid`, `not-evaluable`) and a
    //! piece of the message. The AWS documentation each rule comes from is cited per table.

    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "454464851268";
    const ROOT: &str = "arn:aws:iam::454464851268:root";
    const ROLE: &str = "arn:aws:iam::454464851268:role/CloudHealthCollector";
    const SESSION: &str = "arn:aws:sts::454464851268:assumed-role/CloudHealthCollector/collector-1";
    const USER: &str = "arn:aws:iam::454464851268:user/collector";
    const OTHER_ROOT: &str = "arn:aws:iam::999999999999:root";
    const EXT: &str = "ext-123";

    struct Case {
        name: &'static str,
        policy: String,
        principal: &'static str,
        external_id: Option<&'static str>,
        want: &'static str,
        needle: &'static str,
    }

    fn case(
        name: &'static str,
        policy: Value,
        principal: &'static str,
        external_id: Option<&'static str>,
        want: &'static str,
        needle: &'static str,
    ) -> Case {
        let policy = if policy.get("Statement").is_some() {
            policy.to_string()
        } else {
            json!({"Version": "2012-10-17", "Statement": policy}).to_string()
        };
        Case {
            name,
            policy,
            principal,
            external_id,
            want,
            needle,
        }
    }

    /// An Allow statement for sts:AssumeRole.
    fn allow(principal: Value, condition: Value) -> Value {
        let mut s = json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
        if !condition.is_null() {
            s["Condition"] = condition;
        }
        s
    }

    fn with_ext() -> Value {
        json!({"StringEquals": {"sts:ExternalId": EXT}})
    }

    fn kind(v: &Verdict) -> String {
        match v {
            Verdict::Allowed { statement } => format!("allowed {statement}"),
            Verdict::NotEvaluable(_) => "not-evaluable".into(),
            Verdict::Refused(r) => match r {
                Refusal::Invalid(_) => "invalid",
                Refusal::ExplicitDeny { .. } => "deny",
                Refusal::NoAllowStatement => "no-allow",
                Refusal::ActionNotAllowed { .. } => "action",
                Refusal::PrincipalNotTrusted { .. } => "principal",
                Refusal::ConditionNotMet { .. } => "condition",
                Refusal::ExternalIdNotRequired { .. } => "external-id-not-required",
            }
            .into(),
        }
    }

    fn message(v: &Verdict) -> String {
        match v {
            Verdict::Allowed { .. } => String::new(),
            Verdict::NotEvaluable(why) => why.clone(),
            Verdict::Refused(r) => r.to_string(),
        }
    }

    fn run(table: &[Case]) {
        for c in table {
            let got = evaluate(&c.policy, c.principal, c.external_id);
            let msg = message(&got);
            assert_eq!(kind(&got), c.want, "{}: {msg}\npolicy: {}", c.name, c.policy);
            assert!(
                msg.contains(c.needle),
                "{}: {msg:?} should contain {:?}",
                c.name,
                c.needle
            );
            if let Some(id) = c.external_id {
                assert!(!msg.contains(id), "{}: the external ID is printed: {msg}", c.name);
            }
        }
    }

    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    /// ("AWS account principals": the account ARN `arn:aws:iam::account-ID:root` and the bare
    /// account ID "behave the same way. Both delegate permissions to the account"; "IAM role
    /// principals"; "Role session principals"; "All principals" `*`; an array is a logical OR;
    /// an ARN naming a role or user is stored as its unique ID, which is shown when that role or
    /// user was deleted). Names are unique per account regardless of path and case:
    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html
    #[test]
    fn principal_rules() {
        run(&[
            case(
                "root trusts a role of the account (the case seen in issue 10)",
                json!([allow(json!({"AWS": ROOT}), with_ext())]),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "bare account ID trusts a role of the account",
                json!([allow(json!({"AWS": ACCOUNT}), with_ext())]),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "root trusts a user of the account",
                json!([allow(json!({"AWS": ROOT}), Value::Null)]),
                USER,
                None,
                "allowed 1",
                "",
            ),
            case(
                "root trusts a role session of the account",
                json!([allow(json!({"AWS": ROOT}), Value::Null)]),
                SESSION,
                None,
                "allowed 1",
                "",
            ),
            case(
                "root trusts the account itself",
                json!([allow(json!({"AWS": ACCOUNT}), Value::Null)]),
                ROOT,
                None,
                "allowed 1",
                "",
            ),
            case(
                "another account's root",
                json!([allow(json!({"AWS": OTHER_ROOT}), with_ext())]),
                ROLE,
                Some(EXT),
                "principal",
                "the Allow statements trust \"arn:aws:iam::999999999999:root\"): add \"arn:aws:iam::454464851268:role/CloudHealthCollector\"",
            ),
            case(
                "the role itself",
                json!([allow(json!({"AWS": ROLE}), Value::Null)]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "the role with its path",
                json!([allow(
                    json!({"AWS": "arn:aws:iam::454464851268:role/cost/CloudHealthCollector"}),
                    Value::Null
                )]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "the role, other letter case",
                json!([allow(
                    json!({"AWS": "arn:aws:iam::454464851268:role/cloudhealthcollector"}),
                    Value::Null
                )]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "another role of the account",
                json!([allow(
                    json!({"AWS": "arn:aws:iam::454464851268:role/Other"}),
                    Value::Null
                )]),
                ROLE,
                None,
                "principal",
                "role/Other",
            ),
            case(
                "a role does not trust the account root",
                json!([allow(json!({"AWS": ROLE}), Value::Null)]),
                ROOT,
                None,
                "principal",
                "add \"arn:aws:iam::454464851268:root\"",
            ),
            case(
                "a role ARN trusts that role's sessions",
                json!([allow(json!({"AWS": ROLE}), Value::Null)]),
                SESSION,
                None,
                "allowed 1",
                "",
            ),
            case(
                "one session, the invite names the role",
                json!([allow(json!({"AWS": SESSION}), Value::Null)]),
                ROLE,
                None,
                "not-evaluable",
                "session name",
            ),
            case(
                "one session, the invite names that session",
                json!([allow(json!({"AWS": SESSION}), Value::Null)]),
                SESSION,
                None,
                "allowed 1",
                "",
            ),
            case(
                "another session of the role",
                json!([allow(
                    json!({"AWS": "arn:aws:sts::454464851268:assumed-role/CloudHealthCollector/other"}),
                    Value::Null
                )]),
                SESSION,
                None,
                "principal",
                "other",
            ),
            case(
                "a user ARN trusts that user only",
                json!([allow(json!({"AWS": USER}), Value::Null)]),
                ROLE,
                None,
                "principal",
                "user/collector",
            ),
            case(
                "Principal \"*\"",
                json!([allow(json!("*"), with_ext())]),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "Principal {\"AWS\": \"*\"}",
                json!([allow(json!({"AWS": "*"}), with_ext())]),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "a list is a logical OR",
                json!([allow(json!({"AWS": [OTHER_ROOT, ROOT]}), Value::Null)]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "a service principal names no AWS principal",
                json!([allow(json!({"Service": "ec2.amazonaws.com"}), Value::Null)]),
                ROLE,
                None,
                "principal",
                "Service ec2.amazonaws.com",
            ),
            case(
                "a unique ID: the principal was deleted",
                json!([allow(json!({"AWS": "AROA1234567890EXAMPLE"}), Value::Null)]),
                ROLE,
                None,
                "principal",
                "unique ID",
            ),
            case(
                "another partition",
                json!([allow(json!({"AWS": "arn:aws-cn:iam::454464851268:root"}), Value::Null)]),
                ROLE,
                None,
                "principal",
                "aws-cn",
            ),
            case(
                "trustedPrincipal that is no principal",
                json!([allow(json!({"AWS": ROOT}), Value::Null)]),
                "arn:aws:iam::454464851268:group/billing",
                None,
                "not-evaluable",
                "not an account ID",
            ),
        ]);
    }

    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
    /// (with Deny, list the account and the role too: "AWS might validate the account first, then
    /// the role, and then the assumed-role user"; a session must be named by its session ARN;
    /// with Allow, everyone but the listed principals).
    #[test]
    fn not_principal_rules() {
        let deny_all_but =
            |except: Value| json!({"Effect": "Deny", "NotPrincipal": {"AWS": except}, "Action": "sts:AssumeRole"});
        let allow_root = allow(json!({"AWS": ROOT}), Value::Null);
        run(&[
            case(
                "Deny NotPrincipal without the session denies the role's sessions",
                json!([allow_root.clone(), deny_all_but(json!([ROLE, ROOT]))]),
                ROLE,
                None,
                "deny",
                "statement 2 explicitly denies",
            ),
            case(
                "Deny NotPrincipal naming session, role and account",
                json!([allow_root.clone(), deny_all_but(json!([SESSION, ROLE, ROOT]))]),
                SESSION,
                None,
                "allowed 1",
                "",
            ),
            case(
                "Deny NotPrincipal naming only the session",
                json!([allow_root.clone(), deny_all_but(json!([SESSION]))]),
                SESSION,
                None,
                "not-evaluable",
                "NotPrincipal",
            ),
            case(
                "Deny NotPrincipal naming the user and its account",
                json!([allow_root.clone(), deny_all_but(json!([USER, ROOT]))]),
                USER,
                None,
                "allowed 1",
                "",
            ),
            case(
                "Deny NotPrincipal naming a session of the role (name unknown)",
                json!([allow_root.clone(), deny_all_but(json!([SESSION, ROLE, ROOT]))]),
                ROLE,
                None,
                "not-evaluable",
                "session name",
            ),
            case(
                "Deny NotPrincipal for another account",
                json!([allow_root.clone(), deny_all_but(json!([OTHER_ROOT]))]),
                ROLE,
                None,
                "deny",
                "statement 2",
            ),
            case(
                "Allow NotPrincipal another account",
                json!([{"Effect": "Allow", "NotPrincipal": {"AWS": OTHER_ROOT}, "Action": "sts:AssumeRole"}]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "Allow NotPrincipal the role's account",
                json!([{"Effect": "Allow", "NotPrincipal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}]),
                ROLE,
                None,
                "not-evaluable",
                "NotPrincipal",
            ),
            case(
                "Allow NotPrincipal the user",
                json!([{"Effect": "Allow", "NotPrincipal": {"AWS": USER}, "Action": "sts:AssumeRole"}]),
                USER,
                None,
                "principal",
                "everyone but",
            ),
        ]);
    }

    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
    /// ("The prefix and the action name are case insensitive"; `*` and `?` wildcards; a list)
    /// and https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
    /// (NotAction "explicitly matches everything except the specified list of actions").
    #[test]
    fn action_rules() {
        let with_action = |action: Value| json!([{"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": action}]);
        let with_not_action =
            |action: Value| json!([{"Effect": "Allow", "Principal": {"AWS": ROOT}, "NotAction": action}]);
        run(&[
            case("sts:*", with_action(json!("sts:*")), ROLE, None, "allowed 1", ""),
            case("*", with_action(json!("*")), ROLE, None, "allowed 1", ""),
            case(
                "a list",
                with_action(json!(["sts:TagSession", "sts:AssumeRole"])),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "case-insensitive",
                with_action(json!("STS:assumerole")),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "prefix wildcard",
                with_action(json!("sts:Assume*")),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "single-character wildcard",
                with_action(json!("sts:AssumeRol?")),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "another action",
                with_action(json!("sts:AssumeRoleWithSAML")),
                ROLE,
                None,
                "action",
                "\"sts:AssumeRoleWithSAML\"",
            ),
            case(
                "another service",
                with_action(json!("iam:*")),
                ROLE,
                None,
                "action",
                "\"iam:*\"",
            ),
            case(
                "NotAction of another action",
                with_not_action(json!("sts:TagSession")),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "NotAction sts:AssumeRole",
                with_not_action(json!("sts:AssumeRole")),
                ROLE,
                None,
                "action",
                "NotAction sts:AssumeRole",
            ),
            case(
                "NotAction sts:*",
                with_not_action(json!(["sts:*"])),
                ROLE,
                None,
                "action",
                "NotAction sts:*",
            ),
        ]);
    }

    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
    /// (every applicable statement is evaluated; "An explicit deny overrides an explicit allow";
    /// without an allow, the request is implicitly denied).
    #[test]
    fn evaluation_rules() {
        let deny = |principal: Value, condition: Value| {
            let mut s = json!({"Effect": "Deny", "Principal": principal, "Action": "sts:*"});
            if !condition.is_null() {
                s["Condition"] = condition;
            }
            s
        };
        run(&[
            case(
                "one statement object, not a list",
                json!(allow(json!({"AWS": ROOT}), with_ext())),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "the second statement allows",
                json!([
                    allow(json!({"Service": "ec2.amazonaws.com"}), Value::Null),
                    allow(json!({"AWS": ROOT}), Value::Null)
                ]),
                ROLE,
                None,
                "allowed 2",
                "",
            ),
            case(
                "an unconditional Deny wins",
                json!([
                    allow(json!({"AWS": ROOT}), Value::Null),
                    deny(json!({"AWS": "*"}), Value::Null)
                ]),
                ROLE,
                None,
                "deny",
                "statement 2 explicitly denies sts:AssumeRole to arn:aws:iam::454464851268:role/CloudHealthCollector",
            ),
            case(
                "the Deny's Sid is named",
                json!([allow(json!({"AWS": ROOT}), Value::Null), {"Sid": "NoOne", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}]),
                ROLE,
                None,
                "deny",
                "statement 2 (Sid \"NoOne\")",
            ),
            case(
                "a Deny for another account does not apply",
                json!([
                    allow(json!({"AWS": ROOT}), Value::Null),
                    deny(json!({"AWS": OTHER_ROOT}), Value::Null)
                ]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "a Deny whose condition is not met does not apply",
                json!([
                    allow(json!({"AWS": ROOT}), Value::Null),
                    deny(
                        json!("*"),
                        json!({"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}})
                    )
                ]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "a Deny whose condition is met applies",
                json!([
                    allow(json!("*"), Value::Null),
                    deny(
                        json!("*"),
                        json!({"StringNotEquals": {"aws:PrincipalAccount": "111111111111"}})
                    )
                ]),
                ROLE,
                None,
                "deny",
                "statement 2",
            ),
            case(
                "a Deny for another action does not apply",
                json!([allow(json!({"AWS": ROOT}), Value::Null), {"Effect": "Deny", "Principal": "*", "Action": "sts:TagSession"}]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "only a Deny",
                json!([deny(json!({"AWS": OTHER_ROOT}), Value::Null)]),
                ROLE,
                None,
                "no-allow",
                "no statement with \"Effect\": \"Allow\"",
            ),
            case(
                "a Deny that may apply makes the Allow unsure",
                json!([
                    allow(json!({"AWS": ROOT}), Value::Null),
                    deny(json!("*"), json!({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}))
                ]),
                ROLE,
                None,
                "not-evaluable",
                "statement 2: cannot evaluate condition operator NotIpAddress",
            ),
            case(
                "one known Allow is enough",
                json!([
                    allow(
                        json!({"AWS": ROOT}),
                        json!({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
                    ),
                    allow(json!({"AWS": ROOT}), Value::Null)
                ]),
                ROLE,
                None,
                "allowed 2",
                "",
            ),
            case(
                "an unknown Allow alone",
                json!([allow(
                    json!({"AWS": ROOT}),
                    json!({"StringEquals": {"aws:SourceVpc": "vpc-1"}})
                )]),
                ROLE,
                None,
                "not-evaluable",
                "statement 1: cannot evaluate condition aws:SourceVpc",
            ),
            case(
                "an unknown condition does not matter for another principal",
                json!([allow(
                    json!({"AWS": OTHER_ROOT}),
                    json!({"StringEquals": {"aws:SourceVpc": "vpc-1"}})
                )]),
                ROLE,
                None,
                "principal",
                "999999999999",
            ),
            case(
                "a failed condition beats an unknown one (AND)",
                json!([allow(
                    json!({"AWS": ROOT}),
                    json!({"StringEquals": {"sts:ExternalId": "another-id", "aws:SourceVpc": "vpc-1"}})
                )]),
                ROLE,
                Some(EXT),
                "condition",
                "statement 1 allows sts:AssumeRole, but it requires sts:ExternalId StringEquals 1 value(s)",
            ),
        ]);
    }

    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
    /// ("Context key names are not case-sensitive"),
    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
    /// (operators AND, keys AND, values OR, negated operators NOR) and
    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    /// (aws:PrincipalArn is the role's ARN for a role session; aws:PrincipalAccount,
    /// aws:PrincipalType, aws:PrincipalIsAWSService; aws:PrincipalOrgID is the caller's
    /// organization, which the operator does not know).
    #[test]
    fn condition_key_rules() {
        let any = |condition: Value| json!([allow(json!("*"), condition)]);
        run(&[
            case(
                "key names are case-insensitive",
                any(json!({"StringEquals": {"STS:EXTERNALID": EXT}})),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "operator names are case-sensitive",
                any(json!({"stringequals": {"sts:ExternalId": EXT}})),
                ROLE,
                Some(EXT),
                "not-evaluable",
                "operator stringequals",
            ),
            case(
                "values are OR'd",
                any(json!({"StringEquals": {"sts:ExternalId": ["x1", EXT]}})),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "keys are AND'ed",
                any(json!({"StringEquals": {"sts:ExternalId": EXT, "aws:PrincipalAccount": "111111111111"}})),
                ROLE,
                Some(EXT),
                "condition",
                "it requires aws:PrincipalAccount StringEquals \"111111111111\", and the request's aws:PrincipalAccount (the account of trustedPrincipal) is \"454464851268\"",
            ),
            case(
                "operators are AND'ed",
                any(
                    json!({"StringEquals": {"sts:ExternalId": EXT}, "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::454464851268:role/*"}}),
                ),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "negated values are NOR'ed",
                any(json!({"StringNotEquals": {"aws:PrincipalAccount": ["111111111111", ACCOUNT]}})),
                ROLE,
                None,
                "condition",
                "aws:PrincipalAccount StringNotEquals",
            ),
            case(
                "aws:PrincipalAccount",
                any(json!({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "aws:PrincipalArn ArnLike",
                any(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::454464851268:role/Cloud*"}})),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "aws:PrincipalArn ArnEquals another role",
                any(json!({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::454464851268:role/Other"}})),
                ROLE,
                None,
                "condition",
                "role/Other",
            ),
            case(
                "ArnLike matches each of the six parts",
                any(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:*"}})),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "ArnLike: a part does not match",
                any(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:sts::*:*"}})),
                ROLE,
                None,
                "condition",
                "ArnLike",
            ),
            case(
                "aws:PrincipalArn of a session needs the role's path",
                any(json!({"ArnLike": {"aws:PrincipalArn": ROLE}})),
                SESSION,
                None,
                "not-evaluable",
                "path",
            ),
            case(
                "aws:PrincipalArn of a bare account ID",
                any(json!({"ArnLike": {"aws:PrincipalArn": ROOT}})),
                ACCOUNT,
                None,
                "not-evaluable",
                "bare account ID",
            ),
            case(
                "aws:PrincipalOrgID is not known",
                any(json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}})),
                ROLE,
                None,
                "not-evaluable",
                "cannot evaluate condition aws:PrincipalOrgID (StringEquals)",
            ),
            case(
                "aws:PrincipalType of a role",
                any(json!({"StringEquals": {"aws:PrincipalType": "AssumedRole"}})),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "aws:PrincipalType of a user",
                any(json!({"StringEquals": {"aws:PrincipalType": "AssumedRole"}})),
                USER,
                None,
                "condition",
                "\"User\"",
            ),
            case(
                "Bool aws:PrincipalIsAWSService",
                any(json!({"Bool": {"aws:PrincipalIsAWSService": false}})),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
        ]);
    }

    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
    /// (StringEquals exact and case-sensitive, StringEqualsIgnoreCase, StringLike with `*` and `?`;
    /// a key absent from the request context fails the condition unless the operator is negated;
    /// `...IfExists` passes when the key is absent; Null tests presence) and
    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
    /// (ForAllValues "also returns true if there are no context keys in the request";
    /// ForAnyValue needs at least one matching value).
    #[test]
    fn operator_rules() {
        let any = |condition: Value| json!([allow(json!({"AWS": ROOT}), condition)]);
        run(&[
            case(
                "StringEqualsIgnoreCase",
                any(json!({"StringEqualsIgnoreCase": {"sts:ExternalId": "EXT-123"}})),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "StringLike *",
                any(json!({"StringLike": {"sts:ExternalId": "ext-*"}})),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "StringLike ?",
                any(json!({"StringLike": {"sts:ExternalId": "ext-?23"}})),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "StringEquals has no wildcards",
                any(json!({"StringEquals": {"sts:ExternalId": "ext-*"}})),
                ROLE,
                Some(EXT),
                "condition",
                "matches none",
            ),
            case(
                "StringEquals is case-sensitive",
                any(json!({"StringEquals": {"sts:ExternalId": "EXT-123"}})),
                ROLE,
                Some(EXT),
                "condition",
                "only in letter case",
            ),
            case(
                "IfExists, key present and equal",
                any(json!({"StringEqualsIfExists": {"sts:ExternalId": EXT}})),
                ROLE,
                Some(EXT),
                "external-id-not-required",
                "without the invite's external ID",
            ),
            case(
                "IfExists, key absent",
                any(json!({"StringEqualsIfExists": {"sts:ExternalId": EXT}})),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "IfExists, key present and different",
                any(json!({"StringEqualsIfExists": {"sts:ExternalId": "another-id"}})),
                ROLE,
                Some(EXT),
                "condition",
                "matches none",
            ),
            case(
                "absent key fails a positive operator",
                any(json!({"StringEquals": {"sts:ExternalId": EXT}})),
                ROLE,
                None,
                "condition",
                "the invite sets no external ID: set spec.iamAccess.externalId",
            ),
            case(
                "absent key passes a negated operator",
                any(json!({"StringNotEquals": {"sts:ExternalId": "blocked"}})),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "a negated operator refusing the invite's value",
                any(json!({"StringNotLike": {"sts:ExternalId": "ext-*"}})),
                ROLE,
                Some(EXT),
                "condition",
                "refuses the invite's external ID",
            ),
            case(
                "Null false: the key must exist (any value passes)",
                any(json!({"Null": {"sts:ExternalId": "false"}})),
                ROLE,
                Some(EXT),
                "external-id-not-required",
                "with any sts:ExternalId",
            ),
            case(
                "Null true: the key must be absent",
                any(json!({"Null": {"sts:ExternalId": "true"}})),
                ROLE,
                Some(EXT),
                "condition",
                "to be absent",
            ),
            case(
                "Null false without an external ID",
                any(json!({"Null": {"sts:ExternalId": "false"}})),
                ROLE,
                None,
                "condition",
                "the invite sets no external ID",
            ),
            case(
                "ForAnyValue with the value",
                any(json!({"ForAnyValue:StringEquals": {"sts:ExternalId": EXT}})),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "ForAnyValue without the key",
                any(json!({"ForAnyValue:StringEquals": {"sts:ExternalId": EXT}})),
                ROLE,
                None,
                "condition",
                "sets no external ID",
            ),
            case(
                "ForAllValues without the key is true",
                any(json!({"ForAllValues:StringEquals": {"sts:ExternalId": EXT}})),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "ForAllValues fails open: the external ID is not required",
                any(json!({"ForAllValues:StringEquals": {"sts:ExternalId": EXT}})),
                ROLE,
                Some(EXT),
                "external-id-not-required",
                "without the invite's external ID",
            ),
            case(
                "Null with IfExists is no operator",
                any(json!({"NullIfExists": {"sts:ExternalId": "false"}})),
                ROLE,
                Some(EXT),
                "not-evaluable",
                "NullIfExists",
            ),
            case(
                "IpAddress is not evaluated",
                any(json!({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})),
                ROLE,
                None,
                "not-evaluable",
                "IpAddress",
            ),
            case(
                "Numeric operators are not evaluated",
                any(json!({"NumericLessThan": {"sts:DurationSeconds": 3600}})),
                ROLE,
                None,
                "not-evaluable",
                "NumericLessThan",
            ),
            case(
                "Date operators are not evaluated",
                any(json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
                ROLE,
                None,
                "not-evaluable",
                "DateLessThan",
            ),
            case(
                "a Bool on an unknown key",
                any(json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
                ROLE,
                None,
                "not-evaluable",
                "aws:MultiFactorAuthPresent",
            ),
        ]);
    }

    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html
    /// (the external ID in the trust policy's `sts:ExternalId` condition protects against the
    /// confused deputy; the role must require it). The external ID is never printed.
    #[test]
    fn external_id_rules() {
        let deny_without_ext = json!({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
            "Condition": {"StringNotEquals": {"sts:ExternalId": EXT}}});
        run(&[
            case(
                "the right external ID",
                json!([allow(json!({"AWS": ROOT}), with_ext())]),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "another external ID",
                json!([allow(
                    json!({"AWS": ROOT}),
                    json!({"StringEquals": {"sts:ExternalId": "another-id"}})
                )]),
                ROLE,
                Some(EXT),
                "condition",
                "put the invite's external ID in that condition",
            ),
            case(
                "differs only by spaces",
                json!([allow(
                    json!({"AWS": ROOT}),
                    json!({"StringEquals": {"sts:ExternalId": " ext-123 "}})
                )]),
                ROLE,
                Some(EXT),
                "condition",
                "surrounding spaces",
            ),
            case(
                "no condition: not required",
                json!([allow(json!({"AWS": ROOT}), Value::Null)]),
                ROLE,
                Some(EXT),
                "external-id-not-required",
                "statement 1 lets arn:aws:iam::454464851268:role/CloudHealthCollector assume the role without the invite's external ID",
            ),
            case(
                "StringLike *: any external ID",
                json!([allow(
                    json!({"AWS": ROOT}),
                    json!({"StringLike": {"sts:ExternalId": "*"}})
                )]),
                ROLE,
                Some(EXT),
                "external-id-not-required",
                "with any sts:ExternalId",
            ),
            case(
                "the condition is on another principal's statement",
                json!([
                    allow(json!({"AWS": ROOT}), Value::Null),
                    allow(json!({"AWS": OTHER_ROOT}), with_ext())
                ]),
                ROLE,
                Some(EXT),
                "external-id-not-required",
                "statement 1",
            ),
            case(
                "required by a Deny with StringNotEquals",
                json!([allow(json!({"AWS": ROOT}), Value::Null), deny_without_ext.clone()]),
                ROLE,
                Some(EXT),
                "allowed 1",
                "",
            ),
            case(
                "the Deny refuses another external ID",
                json!([allow(json!({"AWS": ROOT}), Value::Null), deny_without_ext]),
                ROLE,
                Some("another-id"),
                "deny",
                "statement 2",
            ),
            case(
                "no external ID on either side",
                json!([allow(json!({"AWS": ROOT}), Value::Null)]),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
            case(
                "required, and the invite has none",
                json!([allow(json!({"AWS": ROOT}), with_ext())]),
                ROLE,
                None,
                "condition",
                "externalIdSecretRef",
            ),
        ]);
    }

    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
    /// (without Version 2012-10-17, "variables such as ${aws:username} aren't recognized as
    /// variables and are instead treated as literal strings") and
    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
    /// (`${*}`, `${?}`, `${$}` stand for the literal characters).
    #[test]
    fn version_and_variable_rules() {
        let stmt = |pattern: &str| allow(json!("*"), json!({"StringLike": {"aws:PrincipalArn": pattern}}));
        let var = "arn:aws:iam::454464851268:role/${aws:username}";
        run(&[
            case(
                "2012-10-17: a variable is not evaluable",
                json!({"Version": "2012-10-17", "Statement": [stmt(var)]}),
                ROLE,
                None,
                "not-evaluable",
                "${aws:username}",
            ),
            case(
                "2008-10-17: a variable is literal text",
                json!({"Version": "2008-10-17", "Statement": [stmt(var)]}),
                ROLE,
                None,
                "condition",
                "${aws:username}",
            ),
            case(
                "no Version: literal text",
                json!({"Statement": [stmt(var)]}),
                ROLE,
                None,
                "condition",
                "${aws:username}",
            ),
            case(
                "2012-10-17: ${?} is a literal ?",
                json!({"Version": "2012-10-17", "Statement": [stmt("arn:aws:iam::454464851268:role/CloudHealthCollecto${?}")]}),
                ROLE,
                None,
                "condition",
                "StringLike",
            ),
            case(
                "2008-10-17: ? is a wildcard",
                json!({"Version": "2008-10-17", "Statement": [stmt("arn:aws:iam::454464851268:role/CloudHealthCollecto?")]}),
                ROLE,
                None,
                "allowed 1",
                "",
            ),
        ]);
    }

    #[test]
    fn documents_that_are_no_policy() {
        let raw = |name: &'static str, policy: &str, needle: &'static str| Case {
            name,
            policy: policy.into(),
            principal: ROLE,
            external_id: None,
            want: "invalid",
            needle,
        };
        run(&[
            raw("not JSON", "not json", "not valid JSON"),
            raw("no Statement", r#"{"Version": "2012-10-17"}"#, "no Statement"),
            raw(
                "an empty Statement",
                r#"{"Version": "2012-10-17", "Statement": []}"#,
                "no Statement",
            ),
            raw("not an object", r#"["Statement"]"#, "not a JSON object"),
        ]);
    }

    #[test]
    fn wildcard_patterns() {
        let m = |p: &str, t: &str| Pattern::compile(p, true, false).is_ok_and(|p| p.matches(t));
        assert!(m("abc", "abc"));
        assert!(m("a*", "abc"));
        assert!(m("*c", "abc"));
        assert!(m("a?c", "abc"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXbYbc"));
        assert!(!m("a?c", "ac"));
        assert!(!m("ab", "abc"));
        assert!(Pattern::compile("x${aws:username}", true, true).is_err());
        assert!(Pattern::compile("x${*}", true, true).is_ok_and(|p| p.matches("x*") && !p.matches("xy")));
    }

    fn any_piece() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let text = prop_oneof![
            Just("*".to_owned()),
            Just("arn:aws:iam::454464851268:root".to_owned()),
            Just("454464851268".to_owned()),
            Just("arn:aws:iam::*:role/?x${*}${aws:username}".to_owned()),
            Just("sts:AssumeRole".to_owned()),
            Just("${".to_owned()),
            "\\PC{0,12}",
        ];
        let leaf = prop_oneof![
            text.prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            let keys = prop_oneof![
                Just("Effect".to_owned()),
                Just("Principal".to_owned()),
                Just("NotPrincipal".to_owned()),
                Just("AWS".to_owned()),
                Just("Action".to_owned()),
                Just("NotAction".to_owned()),
                Just("Condition".to_owned()),
                Just("StringEquals".to_owned()),
                Just("StringLike".to_owned()),
                Just("ForAnyValue:StringLike".to_owned()),
                Just("StringEqualsIfExists".to_owned()),
                Just("Null".to_owned()),
                Just("sts:ExternalId".to_owned()),
                Just("aws:PrincipalArn".to_owned()),
                "\\PC{0,8}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(keys, inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// A trust policy is an AWS answer written by the member account's owner: whatever it
        /// holds, evaluating it never panics (issue 12, item 6).
        #[test]
        fn evaluate_never_panics(
            statements in proptest::collection::vec(any_piece(), 0..4),
            version in proptest::option::of(proptest::prop_oneof![proptest::strategy::Just("2012-10-17"), proptest::strategy::Just("2008-10-17"), proptest::strategy::Just("x")]),
            raw in "\\PC{0,64}",
            external_id in proptest::option::of("\\PC{0,12}"),
        ) {
            let mut doc = serde_json::json!({"Statement": statements});
            if let Some(v) = version {
                doc["Version"] = serde_json::Value::from(v);
            }
            for principal in ["arn:aws:iam::454464851268:root", "454464851268", "arn:aws:iam::454464851268:role/x"] {
                let _ = evaluate(&doc.to_string(), principal, external_id.as_deref());
                let _ = evaluate(&raw, principal, external_id.as_deref());
            }
        }
    }
}
