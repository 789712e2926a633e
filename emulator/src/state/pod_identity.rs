//! EKS Pod Identity: the EKS Pod Identity Agent's container-credentials endpoint backed by EKS
//! Auth's AssumeRoleForPodIdentity. A pod presents its projected service-account token
//! (audience `pods.eks.amazonaws.com`) in the `Authorization` header; EKS validates it with the
//! cluster's signing keys, finds the pod identity association of its namespace and
//! ServiceAccount, and assumes the associated role, whose trust policy must allow the service
//! principal `pods.eks.amazonaws.com` both `sts:AssumeRole` and `sts:TagSession` (EKS User
//! Guide, "Create an IAM role with trust policy required by EKS Pod Identity"). The SDK reads
//! the answer as container credentials (`AWS_CONTAINER_CREDENTIALS_FULL_URI` +
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, which EKS's webhook sets).

use super::sts_iam::{Session, parse_role_arn};
use super::web_identity::{KeySource, VerificationKey, issuer_host_path};
use super::{State, Time};
use crate::error::AwsError;
use crate::seed::{SeedError, SeedPodIdentityAssociation};
use serde::{Deserialize, Serialize};

/// The audience of Pod Identity tokens.
pub const POD_IDENTITY_AUDIENCE: &str = "pods.eks.amazonaws.com";

/// The service principal a Pod Identity role must trust.
pub const POD_IDENTITY_PRINCIPAL: &str = "pods.eks.amazonaws.com";

/// One pod identity association (EKS CreatePodIdentityAssociation) of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodIdentityAssociation {
    /// The cluster's service-account issuer (tokens' `iss`).
    pub cluster_issuer: String,
    /// Where the cluster's signing keys come from.
    pub keys: KeySource,
    /// The pods' namespace.
    pub namespace: String,
    /// The pods' ServiceAccount.
    pub service_account: String,
    /// The role the pods get.
    pub role_arn: String,
}

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::query(code, status, message)
}

impl State {
    /// Adds or replaces a pod identity association.
    pub fn add_pod_identity_association(
        &mut self,
        a: &SeedPodIdentityAssociation,
    ) -> Result<PodIdentityAssociation, SeedError> {
        if parse_role_arn(&a.role_arn).is_none() {
            return Err(SeedError::Invalid(format!(
                "pod identity association: {} is not a role ARN",
                a.role_arn
            )));
        }
        let keys = match (&a.jwks_url, &a.public_key_file) {
            (Some(url), None) => KeySource::Jwks {
                url: url.clone(),
                ca_file: a.jwks_ca_file.clone(),
            },
            (None, Some(file)) => KeySource::PublicKeyFile(file.clone()),
            _ => {
                return Err(SeedError::Invalid(
                    "pod identity association: give exactly one of jwks_url and public_key_file".into(),
                ));
            }
        };
        let assoc = PodIdentityAssociation {
            cluster_issuer: a.cluster_issuer.trim_end_matches('/').to_string(),
            keys,
            namespace: a.namespace.clone(),
            service_account: a.service_account.clone(),
            role_arn: a.role_arn.clone(),
        };
        self.pod_identity_associations.retain(|x| {
            !(x.cluster_issuer == assoc.cluster_issuer
                && x.namespace == assoc.namespace
                && x.service_account == assoc.service_account)
        });
        self.pod_identity_associations.push(assoc.clone());
        Ok(assoc)
    }

    /// The associations of the cluster a token (by its unverified `iss`) comes from; their key
    /// source is what the agent endpoint fetches keys from.
    pub fn pod_identity_keys_source(&self, token: &str) -> Option<KeySource> {
        let issuer = super::web_identity::unverified_issuer(token)?;
        self.pod_identity_associations
            .iter()
            .find(|a| issuer_host_path(&a.cluster_issuer) == issuer_host_path(&issuer))
            .map(|a| a.keys.clone())
    }

    /// AssumeRoleForPodIdentity, as the agent's endpoint answers it: the token (signature with
    /// `keys`, audience `pods.eks.amazonaws.com`, expiry on the emulator clock), the association
    /// of its `sub` (`system:serviceaccount:<namespace>:<name>`), and the role's trust policy.
    /// Errors carry the HTTP status the agent answers with (400 bad token, 403 refused).
    pub fn assume_role_for_pod_identity(
        &mut self,
        token: &str,
        keys: &[VerificationKey],
        now: Time,
    ) -> Result<Session, AwsError> {
        self.refresh(now);
        let claims = super::web_identity::verified_claims(token, keys)
            .map_err(|e| refused(400, "InvalidTokenException", e.message))?;
        let issuer = claims.iss.clone().unwrap_or_default();
        if !claims.aud.values().contains(&POD_IDENTITY_AUDIENCE) {
            return Err(refused(
                400,
                "InvalidTokenException",
                format!("The token's audience is not {POD_IDENTITY_AUDIENCE}"),
            ));
        }
        match claims.exp {
            Some(exp) if now.timestamp() < exp => {}
            _ => {
                return Err(refused(
                    400,
                    "ExpiredTokenException",
                    "The service account token has expired",
                ));
            }
        }
        let sub = claims.sub.clone().unwrap_or_default();
        let Some((namespace, service_account)) = sub
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'))
        else {
            return Err(refused(
                400,
                "InvalidTokenException",
                "The token is not a service account token",
            ));
        };
        let assoc = self
            .pod_identity_associations
            .iter()
            .find(|a| {
                issuer_host_path(&a.cluster_issuer) == issuer_host_path(&issuer)
                    && a.namespace == namespace
                    && a.service_account == service_account
            })
            .cloned()
            .ok_or_else(|| {
                refused(
                    404,
                    "ResourceNotFoundException",
                    format!("No Pod Identity Association found for service account {namespace}/{service_account}"),
                )
            })?;
        let denied = || {
            refused(
                403,
                "AccessDeniedException",
                format!(
                    "EKS Pod Identity is not authorized to perform sts:AssumeRole and sts:TagSession on resource: {}",
                    assoc.role_arn
                ),
            )
        };
        let (account, role_name) = parse_role_arn(&assoc.role_arn).ok_or_else(denied)?;
        let role = self
            .roles
            .get(&(account.to_string(), role_name.to_string()))
            .cloned()
            .ok_or_else(denied)?;
        if !pod_identity_trust_allows(&role.trust_policy) {
            return Err(denied());
        }
        let mut session_name = format!("eks-{namespace}-{service_account}");
        session_name.retain(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(c));
        session_name.truncate(64);
        // The emulator's choice: the role's MaxSessionDuration.
        self.issue_session(&role, &session_name, role.max_session_duration, now)
    }
}

/// Whether a trust policy lets EKS Pod Identity assume the role: Allow statements whose
/// `Principal.Service` is `pods.eks.amazonaws.com` (or `*`), together allowing both
/// `sts:AssumeRole` and `sts:TagSession` (or `sts:*` / `*`), without conditions (EKS passes
/// session tags; conditions on them are not evaluated here and count as unmet), and no Deny.
pub fn pod_identity_trust_allows(policy: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
            _ => vec![],
        }
    };
    let for_eks = |st: &serde_json::Value| match st.get("Principal") {
        Some(serde_json::Value::String(s)) => s == "*",
        Some(p) => strings(p.get("Service"))
            .iter()
            .any(|s| s == POD_IDENTITY_PRINCIPAL || s == "*"),
        None => false,
    };
    let allows = |st: &serde_json::Value, action: &str| {
        strings(st.get("Action"))
            .iter()
            .any(|a| a == action || a == "sts:*" || a == "*")
    };
    let effect = |st: &serde_json::Value, e: &str| st.get("Effect").and_then(|v| v.as_str()) == Some(e);
    let allowed = |action: &str| {
        statements
            .iter()
            .any(|st| effect(st, "Allow") && for_eks(st) && allows(st, action) && st.get("Condition").is_none())
            && !statements
                .iter()
                .any(|st| effect(st, "Deny") && for_eks(st) && allows(st, action))
    };
    allowed("sts:AssumeRole") && allowed("sts:TagSession")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policy_needs_the_service_and_both_actions() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
        assert!(pod_identity_trust_allows(ok));
        assert!(!pod_identity_trust_allows(&ok.replace(",\"sts:TagSession\"", "")));
        assert!(!pod_identity_trust_allows(
            &ok.replace("pods.eks.amazonaws.com", "ec2.amazonaws.com")
        ));
        let split = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:TagSession"}]}"#;
        assert!(pod_identity_trust_allows(split));
        let denied = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:*"},{"Effect":"Deny","Principal":"*","Action":"sts:TagSession"}]}"#;
        assert!(!pod_identity_trust_allows(denied));
        assert!(!pod_identity_trust_allows("{}"));
    }
}
