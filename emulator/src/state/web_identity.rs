//! STS AssumeRoleWithWebIdentity for IAM OIDC identity providers, as IRSA (EKS IAM roles for
//! service accounts) uses it: the pod's projected service-account token is an OIDC ID token
//! signed by the cluster's service-account issuer.
//!
//! STS's checks, in order (AWS STS API reference, AssumeRoleWithWebIdentity; IAM User Guide,
//! "Create an OpenID Connect (OIDC) identity provider in IAM" and "Available keys for
//! AWS OIDC federation"):
//! 1. the request's parameters (RoleArn, RoleSessionName, WebIdentityToken, DurationSeconds);
//! 2. the token is a JWT whose `iss` names an OIDC provider in the role's account
//!    (`InvalidIdentityToken: No OpenIDConnect provider found in your account for <iss>`);
//! 3. its RS256 signature verifies against the issuer's published keys (JWKS)
//!    (`InvalidIdentityToken`);
//! 4. its `aud` is one of the provider's client IDs (`InvalidIdentityToken: Incorrect token
//!    audience`);
//! 5. it is not expired (`exp`) nor used before `nbf`, on STS's clock
//!    (`ExpiredTokenException: Token expired: current date/time <now> must be before the
//!    expiration date/time<exp>`, as STS words it);
//! 6. the role's trust policy allows `sts:AssumeRoleWithWebIdentity` for
//!    `Principal.Federated` = the provider's ARN, with every condition on `<provider>:sub` /
//!    `<provider>:aud` satisfied (`AccessDenied: Not authorized to perform
//!    sts:AssumeRoleWithWebIdentity`, HTTP 403).
//!
//! Fetching the keys is I/O and happens before the model is locked (`crate::jwks`); this
//! module only checks the token against the keys it is given, on the emulator's clock.

use super::sts_iam::{Session, check_session_request, parse_role_arn};
use super::{State, Time};
use crate::error::AwsError;
use crate::seed::{SeedError, SeedOidcProvider};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

/// The audience IRSA tokens carry and an EKS cluster's OIDC provider lists as its client ID.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// An IAM OIDC identity provider (CreateOpenIDConnectProvider), plus where the emulator reads
/// the issuer's signing keys (real STS fetches them over the internet from the issuer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    /// The account that owns the provider.
    pub account_id: String,
    /// The issuer URL, e.g. `https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE`: the
    /// tokens' `iss` claim, the API server's `--service-account-issuer`.
    pub url: String,
    /// The audiences (client IDs) the provider accepts.
    pub client_ids: Vec<String>,
    /// Where the signing keys come from.
    pub keys: KeySource,
}

/// Where an OIDC provider's signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySource {
    /// A JWKS document fetched over HTTPS (the API server's `/openid/v1/jwks`), trusting the
    /// PEM CA bundle at `ca_file` when given (else the system roots).
    Jwks {
        /// The JWKS URL.
        url: String,
        /// A PEM CA bundle for the JWKS server's certificate.
        ca_file: Option<String>,
    },
    /// RSA public keys (PEM) read from a file: the API server's `--service-account-key-file`.
    PublicKeyFile(String),
}

impl OidcProvider {
    /// The issuer without its scheme: the provider's name in its ARN and the prefix of its
    /// condition keys (`<this>:sub`, `<this>:aud`).
    pub fn host_path(&self) -> &str {
        issuer_host_path(&self.url)
    }

    /// `arn:aws:iam::<account>:oidc-provider/<host/path>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:oidc-provider/{}", self.account_id, self.host_path())
    }
}

/// `https://host/path/` → `host/path`.
pub fn issuer_host_path(url: &str) -> &str {
    url.strip_prefix("https://").unwrap_or(url).trim_end_matches('/')
}

/// One verification key: its `kid` (when the JWKS names one) and the key.
#[derive(Clone)]
pub struct VerificationKey {
    /// The JWK's `kid`; `None` for a PEM key (tried for any token).
    pub kid: Option<String>,
    /// The key.
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The parameters of one AssumeRoleWithWebIdentity request.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebIdentityRequest<'a> {
    /// `RoleArn`.
    pub role_arn: Option<&'a str>,
    /// `RoleSessionName`.
    pub session_name: Option<&'a str>,
    /// `WebIdentityToken`.
    pub token: Option<&'a str>,
    /// `DurationSeconds`.
    pub duration_seconds: Option<i64>,
}

/// What AssumeRoleWithWebIdentity returns besides the credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct WebIdentitySession {
    /// The temporary credentials (an assumed-role session).
    pub session: Session,
    /// `SubjectFromWebIdentityToken`: the token's `sub`.
    pub subject: String,
    /// `Audience`: the token's audience that matched a client ID.
    pub audience: String,
    /// `Provider`: the token's issuer (for OIDC, the `iss` claim).
    pub provider: String,
}

/// The claims STS reads.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Claims {
    pub(super) iss: Option<String>,
    pub(super) sub: Option<String>,
    #[serde(default)]
    pub(super) aud: Audience,
    pub(super) exp: Option<i64>,
    pub(super) nbf: Option<i64>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub(super) enum Audience {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

impl Audience {
    pub(super) fn values(&self) -> Vec<&str> {
        match self {
            Audience::One(a) => vec![a.as_str()],
            Audience::Many(v) => v.iter().map(String::as_str).collect(),
            Audience::None => vec![],
        }
    }
}

fn invalid_token(message: impl Into<String>) -> AwsError {
    AwsError::query("InvalidIdentityToken", 400, message)
}

/// The `iss` claim of a token, read without verifying it (to find the provider and its keys).
pub fn unverified_issuer(token: &str) -> Option<String> {
    jsonwebtoken::dangerous::insecure_decode::<Claims>(token)
        .ok()
        .and_then(|d| d.claims.iss)
}

impl State {
    /// Adds or replaces an IAM OIDC identity provider in an existing account.
    pub fn add_oidc_provider(&mut self, p: &SeedOidcProvider) -> Result<OidcProvider, SeedError> {
        if !self.accounts.contains_key(&p.account_id) {
            return Err(SeedError::Invalid(format!(
                "OIDC provider {}: account {} does not exist",
                p.url, p.account_id
            )));
        }
        if !p.url.starts_with("https://") {
            // IAM: "The URL must begin with https://".
            return Err(SeedError::Invalid(format!(
                "OIDC provider {}: the URL must begin with https://",
                p.url
            )));
        }
        let keys = match (&p.jwks_url, &p.public_key_file) {
            (Some(_), Some(_)) => {
                return Err(SeedError::Invalid(format!(
                    "OIDC provider {}: give jwks_url or public_key_file, not both",
                    p.url
                )));
            }
            (Some(url), None) => KeySource::Jwks {
                url: url.clone(),
                ca_file: p.jwks_ca_file.clone(),
            },
            (None, Some(file)) => KeySource::PublicKeyFile(file.clone()),
            // The Kubernetes API server publishes its keys at <issuer>/openid/v1/jwks when the
            // issuer is its own URL.
            (None, None) => KeySource::Jwks {
                url: format!("{}/openid/v1/jwks", p.url.trim_end_matches('/')),
                ca_file: p.jwks_ca_file.clone(),
            },
        };
        let provider = OidcProvider {
            account_id: p.account_id.clone(),
            url: p.url.trim_end_matches('/').to_string(),
            client_ids: p.client_ids.clone().unwrap_or_else(|| vec![STS_AUDIENCE.to_string()]),
            keys,
        };
        self.oidc_providers.insert(
            (provider.account_id.clone(), provider.host_path().to_string()),
            provider.clone(),
        );
        Ok(provider)
    }

    /// The provider a token names (by its unverified `iss`) in the account of the role it
    /// asks for: what the endpoint fetches keys for before calling
    /// [`State::assume_role_with_web_identity`].
    pub fn web_identity_provider(&self, role_arn: Option<&str>, token: Option<&str>) -> Option<OidcProvider> {
        let (account, _) = parse_role_arn(role_arn?)?;
        let issuer = unverified_issuer(token?)?;
        self.oidc_providers
            .get(&(account.to_string(), issuer_host_path(&issuer).to_string()))
            .cloned()
    }

    /// STS AssumeRoleWithWebIdentity: checks the token against `keys` (the provider's signing
    /// keys, fetched by the caller) and the role's trust policy, and issues a session. See the
    /// module documentation for the order of the checks and STS's errors.
    pub fn assume_role_with_web_identity(
        &mut self,
        req: &WebIdentityRequest<'_>,
        keys: &[VerificationKey],
        now: Time,
    ) -> Result<WebIdentitySession, AwsError> {
        self.refresh(now);
        let missing = |name: &str| {
            AwsError::query(
                "MissingParameter",
                400,
                format!("The request must contain the parameter {name}"),
            )
        };
        let role_arn = req.role_arn.ok_or_else(|| missing("RoleArn"))?;
        let session_name = req.session_name.ok_or_else(|| missing("RoleSessionName"))?;
        let token = req.token.ok_or_else(|| missing("WebIdentityToken"))?;
        let duration = check_session_request(session_name, req.duration_seconds)?;
        let (account, role_name) = parse_role_arn(role_arn)
            .ok_or_else(|| AwsError::query("ValidationError", 400, format!("{role_arn} is invalid")))?;

        // 2. A JWT naming a provider of the role's account.
        let unverified = jsonwebtoken::dangerous::insecure_decode::<Claims>(token)
            .map_err(|_| invalid_token("The ID Token provided is not a valid JWT."))?
            .claims;
        let issuer = unverified
            .iss
            .ok_or_else(|| invalid_token("The ID Token provided has no issuer (iss)."))?;
        let provider = self
            .oidc_providers
            .get(&(account.to_string(), issuer_host_path(&issuer).to_string()))
            .cloned()
            .ok_or_else(|| invalid_token(format!("No OpenIDConnect provider found in your account for {issuer}")))?;

        // 3. The signature, with a key the issuer publishes (the JWK of the header's kid).
        let claims = verified_claims(token, keys)?;

        // 4. The audience: one of the provider's client IDs.
        let audience = claims
            .aud
            .values()
            .into_iter()
            .find(|a| provider.client_ids.iter().any(|c| c == a))
            .map(str::to_string)
            .ok_or_else(|| invalid_token("Incorrect token audience"))?;

        // 5. The validity window, on STS's (the emulator's) clock.
        let now_secs = now.timestamp();
        let exp = claims
            .exp
            .ok_or_else(|| invalid_token("The ID Token provided has no expiration (exp)."))?;
        if now_secs >= exp {
            return Err(AwsError::query(
                "ExpiredTokenException",
                400,
                format!("Token expired: current date/time {now_secs} must be before the expiration date/time{exp}"),
            ));
        }
        if let Some(nbf) = claims.nbf
            && now_secs < nbf
        {
            return Err(invalid_token(format!(
                "Token not yet valid: current date/time {now_secs} must be after the not-before date/time {nbf}"
            )));
        }
        let subject = claims
            .sub
            .ok_or_else(|| invalid_token("The ID Token provided has no subject (sub)."))?;

        // 6. The role and its trust policy.
        let denied = || {
            AwsError::query(
                "AccessDenied",
                403,
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            )
        };
        let role = self
            .roles
            .get(&(account.to_string(), role_name.to_string()))
            .cloned()
            .ok_or_else(denied)?;
        let context = [
            (format!("{}:sub", provider.host_path()), subject.clone()),
            (format!("{}:aud", provider.host_path()), audience.clone()),
        ];
        if !web_identity_trust_allows(&role.trust_policy, &provider.arn(), &context) {
            return Err(denied());
        }
        let session = self.issue_session(&role, session_name, duration, now)?;
        Ok(WebIdentitySession {
            session,
            subject,
            audience,
            provider: issuer,
        })
    }
}

/// The claims of a token whose RS256 signature verifies with one of `keys`.
pub(super) fn verified_claims(token: &str, keys: &[VerificationKey]) -> Result<Claims, AwsError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| invalid_token("The ID Token provided is not a valid JWT."))?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid_token(format!(
            "The ID Token's signing algorithm {:?} is not supported; expected RS256.",
            header.alg
        )));
    }
    verify_signature(token, header.kid.as_deref(), keys)
}

/// Verifies the token's RS256 signature with the key named by `kid` (or, for a token or keys
/// without kids, any key) and returns its claims. The claims' times and audience are checked
/// by the caller on the emulator's clock, not here.
fn verify_signature(token: &str, kid: Option<&str>, keys: &[VerificationKey]) -> Result<Claims, AwsError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let candidates: Vec<&VerificationKey> = keys
        .iter()
        .filter(|k| match (kid, k.kid.as_deref()) {
            (Some(want), Some(have)) => want == have,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(invalid_token(
            "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements",
        ));
    }
    candidates
        .iter()
        .find_map(|k| jsonwebtoken::decode::<Claims>(token, &k.key, &validation).ok())
        .map(|d| d.claims)
        .ok_or_else(|| {
            invalid_token(
                "The web identity token that was passed could not be validated by AWS: its signature does not verify with the identity provider's keys.",
            )
        })
}

/// Whether a trust policy lets the holder of a web identity token assume the role: an Allow
/// statement whose Action includes `sts:AssumeRoleWithWebIdentity` (or `sts:*` / `*`), whose
/// `Principal.Federated` names `provider_arn`, and all of whose conditions hold for the
/// request's `context` (condition keys such as `<provider>:sub` and `<provider>:aud`,
/// compared case-insensitively as IAM does), unless a Deny statement matches too. Supported
/// operators: StringEquals, StringLike (`*` and `?` wildcards), StringNotEquals,
/// StringNotLike, each optionally with `ForAnyValue:`; any other operator, or a condition on a
/// key the request does not carry, is not satisfied.
pub fn web_identity_trust_allows(policy: &str, provider_arn: &str, context: &[(String, String)]) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    let matches = |st: &serde_json::Value| {
        let actions = strings(st.get("Action"));
        if !actions
            .iter()
            .any(|a| a == "sts:AssumeRoleWithWebIdentity" || a == "sts:*" || a == "*")
        {
            return false;
        }
        let federated = match st.get("Principal") {
            Some(serde_json::Value::String(s)) if s == "*" => vec!["*".to_string()],
            Some(p) => strings(p.get("Federated")),
            None => vec![],
        };
        if !federated.iter().any(|p| p == "*" || p == provider_arn) {
            return false;
        }
        conditions_hold(st.get("Condition"), context)
    };
    let effect = |st: &serde_json::Value| st.get("Effect").and_then(|e| e.as_str()).map(str::to_string);
    let denied = statements
        .iter()
        .any(|st| effect(st).as_deref() == Some("Deny") && matches(st));
    !denied
        && statements
            .iter()
            .any(|st| effect(st).as_deref() == Some("Allow") && matches(st))
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => vec![],
    }
}

fn conditions_hold(condition: Option<&serde_json::Value>, context: &[(String, String)]) -> bool {
    let Some(cond) = condition else { return true };
    let Some(cond) = cond.as_object() else { return false };
    cond.iter().all(|(op, kv)| {
        let Some(kv) = kv.as_object() else { return false };
        let op = op.strip_prefix("ForAnyValue:").unwrap_or(op);
        kv.iter().all(|(key, wanted)| {
            let wanted = strings(Some(wanted));
            let value = context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str());
            let Some(value) = value else { return false };
            match op {
                "StringEquals" => wanted.iter().any(|w| w == value),
                "StringLike" => wanted.iter().any(|w| glob(w, value)),
                "StringNotEquals" => wanted.iter().all(|w| w != value),
                "StringNotLike" => wanted.iter().all(|w| !glob(w, value)),
                _ => false,
            }
        })
    })
}

/// IAM's StringLike: `*` matches any run of characters, `?` any one character.
fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    // Dynamic programming over (pattern index, value index).
    let mut reach = vec![false; v.len() + 1];
    reach[0] = true;
    for &pc in &p {
        let mut next = vec![false; v.len() + 1];
        match pc {
            '*' => {
                let mut any = false;
                for j in 0..=v.len() {
                    any |= reach[j];
                    next[j] = any;
                }
            }
            c => {
                for j in 1..=v.len() {
                    next[j] = reach[j - 1] && (c == '?' || c == v[j - 1]);
                }
            }
        }
        reach = next;
    }
    reach[v.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVIDER: &str = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EX";

    fn ctx(sub: &str, aud: &str) -> Vec<(String, String)> {
        vec![
            ("oidc.eks.us-east-1.amazonaws.com/id/EX:sub".into(), sub.into()),
            ("oidc.eks.us-east-1.amazonaws.com/id/EX:aud".into(), aud.into()),
        ]
    }

    fn policy(condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{PROVIDER}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{condition}}}]}}"#
        )
    }

    #[test]
    fn trust_policy_table() {
        let sa = "system:serviceaccount:aws-invite-operator:aws-invite-operator";
        let exact = policy(&format!(
            r#"{{"StringEquals":{{"oidc.eks.us-east-1.amazonaws.com/id/EX:sub":"{sa}","oidc.eks.us-east-1.amazonaws.com/id/EX:aud":"sts.amazonaws.com"}}}}"#
        ));
        let like = policy(
            r#"{"StringLike":{"oidc.eks.us-east-1.amazonaws.com/id/EX:sub":"system:serviceaccount:aws-invite-operator:*"}}"#,
        );
        let upper_key = policy(&format!(
            r#"{{"StringEquals":{{"OIDC.EKS.US-EAST-1.AMAZONAWS.COM/ID/EX:SUB":"{sa}"}}}}"#
        ));
        let unknown_op = policy(&format!(
            r#"{{"StringEqualsIgnoreCaseX":{{"oidc.eks.us-east-1.amazonaws.com/id/EX:sub":"{sa}"}}}}"#
        ));
        let other_key = policy(r#"{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/EX:amr":"x"}}"#);
        type Case<'a> = (&'a str, &'a str, Vec<(String, String)>, bool);
        let table: &[Case<'_>] = &[
            ("exact sub and aud", &exact, ctx(sa, "sts.amazonaws.com"), true),
            (
                "wrong sub",
                &exact,
                ctx("system:serviceaccount:default:default", "sts.amazonaws.com"),
                false,
            ),
            ("wrong aud", &exact, ctx(sa, "other"), false),
            ("StringLike prefix", &like, ctx(sa, "x"), true),
            (
                "StringLike other namespace",
                &like,
                ctx("system:serviceaccount:kube-system:x", "x"),
                false,
            ),
            ("condition keys are case-insensitive", &upper_key, ctx(sa, "x"), true),
            ("unknown operator is not satisfied", &unknown_op, ctx(sa, "x"), false),
            (
                "a key the request lacks is not satisfied",
                &other_key,
                ctx(sa, "x"),
                false,
            ),
        ];
        for (name, p, c, want) in table {
            assert_eq!(web_identity_trust_allows(p, PROVIDER, c), *want, "{name}");
        }
        // Another provider, another action, a Deny.
        assert!(!web_identity_trust_allows(
            &exact,
            "arn:aws:iam::111122223333:oidc-provider/other",
            &ctx(sa, "sts.amazonaws.com")
        ));
        let assume_role_only = exact.replace("sts:AssumeRoleWithWebIdentity", "sts:AssumeRole");
        assert!(!web_identity_trust_allows(
            &assume_role_only,
            PROVIDER,
            &ctx(sa, "sts.amazonaws.com")
        ));
        let with_deny = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{PROVIDER}"}},"Action":"sts:AssumeRoleWithWebIdentity"}},{{"Effect":"Deny","Principal":"*","Action":"*"}}]}}"#
        );
        assert!(!web_identity_trust_allows(&with_deny, PROVIDER, &ctx(sa, "x")));
        assert!(!web_identity_trust_allows("not json", PROVIDER, &ctx(sa, "x")));
    }

    #[test]
    fn string_like_globs() {
        for (p, v, want) in [
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*", "", true),
            ("abc", "abcd", false),
            ("a*b*c", "aXXbYYc", true),
        ] {
            assert_eq!(glob(p, v), want, "{p} vs {v}");
        }
    }

    #[test]
    fn issuer_names() {
        assert_eq!(issuer_host_path("https://oidc.eks.x/id/ABC/"), "oidc.eks.x/id/ABC");
        assert_eq!(issuer_host_path("https://10.0.0.1:6443"), "10.0.0.1:6443");
    }
}
