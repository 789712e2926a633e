//! The seed model: organizations, standalone accounts and IAM roles the emulator starts with.
//!
//! Seeds are plain serde types and load from JSON or YAML (YAML is a superset of JSON, so
//! [`Seed::from_file`] accepts both).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything the emulator starts with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Organizations, each with a management account and member accounts.
    #[serde(default)]
    pub organizations: Vec<SeedOrganization>,
    /// Standalone accounts (in no organization).
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    /// IAM roles in any seeded account.
    #[serde(default)]
    pub roles: Vec<SeedRole>,
    /// IAM OIDC identity providers (for AssumeRoleWithWebIdentity, e.g. IRSA).
    #[serde(default)]
    pub oidc_providers: Vec<SeedOidcProvider>,
    /// EKS pod identity associations (the Pod Identity Agent's endpoint, `GET /v1/credentials`).
    #[serde(default)]
    pub pod_identity_associations: Vec<SeedPodIdentityAssociation>,
}

/// One organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrganization {
    /// `o-[a-z0-9]{10,32}`; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The management account.
    pub management_account: SeedAccount,
    /// Member accounts (joined with JoinedMethod CREATED).
    #[serde(default)]
    pub members: Vec<SeedAccount>,
    /// The organization's account quota (management + members + pending invitations).
    /// Defaults to 10, AWS's default for a new organization.
    #[serde(default)]
    pub account_quota: Option<u32>,
    /// `ALL` (default) or `CONSOLIDATED_BILLING`.
    #[serde(default)]
    pub feature_set: Option<String>,
}

/// One account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    /// 12-digit account ID.
    pub id: String,
    /// Root email; defaults to `account-<id>@example.com`.
    #[serde(default)]
    pub email: Option<String>,
    /// Account name; defaults to `Account <id>`.
    #[serde(default)]
    pub name: Option<String>,
}

impl SeedAccount {
    /// An account with default email and name.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            email: None,
            name: None,
        }
    }
}

/// One IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRole {
    /// The account that owns the role.
    pub account_id: String,
    /// Role name.
    pub name: String,
    /// IAM path (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// The trust policy (AssumeRolePolicyDocument): a JSON object or a JSON string.
    pub trust_policy: serde_json::Value,
    /// The role's MaxSessionDuration in seconds: 3600 (the default) to 43200. AssumeRole
    /// refuses a longer DurationSeconds.
    #[serde(default)]
    pub max_session_duration: Option<i64>,
}

/// One IAM OIDC identity provider (IAM CreateOpenIDConnectProvider), and where the emulator
/// reads the issuer's signing keys. For a Kubernetes cluster (IRSA): `url` is the API server's
/// `--service-account-issuer`, the keys its `/openid/v1/jwks` (readable without credentials once
/// `system:service-account-issuer-discovery` is bound to `system:unauthenticated`) or its
/// `--service-account-key-file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOidcProvider {
    /// The account that owns the provider.
    pub account_id: String,
    /// The issuer URL (`https://...`): tokens' `iss`.
    pub url: String,
    /// The accepted audiences (IAM's client ID list); default `[sts.amazonaws.com]`.
    #[serde(default)]
    pub client_ids: Option<Vec<String>>,
    /// The JWKS URL to fetch the signing keys from; default `<url>/openid/v1/jwks`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// A PEM CA bundle the JWKS server's certificate is checked against (default: the
    /// system's roots).
    #[serde(default)]
    pub jwks_ca_file: Option<String>,
    /// Instead of a JWKS URL: a PEM file of RSA public keys.
    #[serde(default)]
    pub public_key_file: Option<String>,
}

/// One EKS pod identity association (EKS CreatePodIdentityAssociation) and the cluster's
/// signing keys (EKS knows them; the emulator is told).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPodIdentityAssociation {
    /// The cluster's service-account issuer (`iss` of its tokens).
    pub cluster_issuer: String,
    /// The JWKS URL of the cluster's signing keys (its API server's `/openid/v1/jwks`).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// A PEM CA bundle for the JWKS server.
    #[serde(default)]
    pub jwks_ca_file: Option<String>,
    /// Instead of `jwks_url`: a PEM file of RSA public keys.
    #[serde(default)]
    pub public_key_file: Option<String>,
    /// The pods' namespace.
    pub namespace: String,
    /// The pods' ServiceAccount.
    pub service_account: String,
    /// The role the pods get.
    pub role_arn: String,
}

/// Errors loading a seed file.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read.
    #[error("reading seed file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is neither valid JSON nor valid YAML for the seed model.
    #[error("parsing seed file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The cause.
        source: serde_yaml::Error,
    },
    /// The seed is inconsistent (bad IDs, duplicate accounts, ...).
    #[error("invalid seed: {0}")]
    Invalid(String),
}

impl Seed {
    /// Loads a seed from a JSON or YAML file.
    pub fn from_file(path: &Path) -> Result<Self, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_str(&text).map_err(|source| SeedError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Parses a seed from JSON or YAML text.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }
}
