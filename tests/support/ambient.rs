//! Ambient credentials in a pod, without a node (tests/irsa.rs, tests/pod_identity.rs): a real
//! kube-apiserver mints the service-account tokens the kubelet would project, the emulator
//! checks them against the API server's published keys, and the operator's own AWS client
//! set-up finds them where EKS's webhook points the SDK default chain (process environment).

use std::ffi::OsStr;
use std::path::PathBuf;

use aws_invite_operator::api::BillingProfileSpec;
use aws_invite_operator::aws::ProfileClients;
use aws_invite_operator::runtime::install_crypto_provider;
use aws_smithy_types::error::display::DisplayErrorContext;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::Api;
use kube::api::PostParams;
use kube_testenv::TestEnv;
use orgs_emulator::{SeedAccount, SeedOrganization, SeedRole};
use serde_json::json;

/// testenv's `--service-account-issuer`.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// The body of the first ```` ```{lang} ```` block in docs/install.md's section `### {title}`.
pub fn install_doc_block(title: &str, lang: &str) -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/install.md")).unwrap();
    let section = doc
        .split(&format!("\n### {title}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/install.md has a section '### {title}'"));
    let section = section.split("\n### ").next().unwrap();
    let start = section
        .find(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("a ```{lang} block in the {title} section"));
    let body = &section[start + lang.len() + 4..];
    body[..body.find("```").unwrap()].to_string()
}

/// A control plane whose service-account issuer keys are public, as EKS's are (the documented
/// way to let anonymous clients read /.well-known/openid-configuration and /openid/v1/jwks),
/// with `namespace` and its `service_accounts`.
pub async fn cluster_with_service_accounts(namespace: &str, service_accounts: &[&str]) -> TestEnv {
    install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane starts");
    let client = env.client();
    let crb: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "service-account-issuer-discovery-public"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:service-account-issuer-discovery"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}]
    }))
    .unwrap();
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &crb)
        .await
        .unwrap();
    env.create_namespace(namespace, Vec::<(String, String)>::new())
        .await
        .unwrap();
    let sa_api: Api<ServiceAccount> = Api::namespaced(client, namespace);
    for name in service_accounts {
        let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        sa_api.create(&PostParams::default(), &sa).await.unwrap();
    }
    env
}

/// A token of `namespace/service_account` for `audience`, minted by the TokenRequest API (what
/// the kubelet projects into the pod), valid for the shortest the API allows (10 minutes).
pub async fn token(env: &TestEnv, namespace: &str, service_account: &str, audience: &str) -> String {
    let api: Api<ServiceAccount> = Api::namespaced(env.client(), namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_string()],
            expiration_seconds: Some(600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    api.create_token_request(service_account, &PostParams::default(), &request)
        .await
        .expect("TokenRequest")
        .status
        .expect("token status")
        .token
}

/// Where the emulator fetches the API server's published issuer keys, and the CA file that
/// trusts it (the seed's `jwks_url`, `jwks_ca_file`).
pub fn issuer_keys(env: &TestEnv) -> (Option<String>, Option<String>) {
    (
        Some(format!("{}/openid/v1/jwks", env.server_url())),
        Some(env.dir().join("certs/apiserver.crt").display().to_string()),
    )
}

/// The account ID and role name of `arn:aws:iam::<account>:role/<name>`.
pub fn split_role_arn(role_arn: &str) -> (String, String) {
    let rest = role_arn.strip_prefix("arn:aws:iam::").unwrap();
    let (account, role) = rest.split_once(":role/").unwrap();
    (account.to_string(), role.to_string())
}

/// An organization of `account` alone (its management account, no members).
pub fn lone_organization(account: &str) -> SeedOrganization {
    SeedOrganization {
        id: None,
        management_account: SeedAccount::new(account),
        members: vec![],
        account_quota: None,
        feature_set: None,
    }
}

/// The role `name` in `account` with `trust_policy` (JSON text).
pub fn role(account: &str, name: &str, trust_policy: &str) -> SeedRole {
    SeedRole {
        account_id: account.to_string(),
        name: name.to_string(),
        path: None,
        trust_policy: serde_json::Value::String(trust_policy.to_string()),
        max_session_duration: None,
    }
}

/// Puts what EKS's webhook sets into this process's environment (`set`), with no instance
/// metadata and none of the variables of another credential source (the static keys, a
/// profile, and `remove`), so that the SDK default chain finds only the one under test.
///
/// # Safety
/// Call before any other thread of the test binary reads the environment (a binary of one test
/// function; the SDK reads the variables later, on that test's runtime).
#[allow(unsafe_code)]
pub unsafe fn set_pod_environment(set: &[(&str, &OsStr)], remove: &[&str]) {
    // SAFETY: the caller's promise above.
    unsafe {
        for (var, value) in set {
            std::env::set_var(var, value);
        }
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ]
        .iter()
        .chain(remove)
        {
            std::env::remove_var(var);
        }
    }
}

/// The operator's ambient credentials for a profile of `account` without spec.credentials (its
/// endpoint the emulator), as it builds them, with the token the pod's token file holds.
pub struct AmbientProfile {
    spec: BillingProfileSpec,
    token_file: PathBuf,
}

impl AmbientProfile {
    /// A profile of `account` at `endpoint_url`, reading its token from `token_file`.
    pub fn new(account: &str, endpoint_url: &str, token_file: PathBuf) -> Self {
        let spec = serde_json::from_value(json!({
            "managementAccountId": account,
            "endpointUrl": endpoint_url,
        }))
        .unwrap();
        Self { spec, token_file }
    }

    /// The profile's clients, the token file holding `token`.
    pub async fn clients(&self, token: &str) -> ProfileClients {
        std::fs::write(&self.token_file, token).unwrap();
        ProfileClients::connect(&self.spec, None).await.expect("clients")
    }

    /// The caller STS sees for `token` (its ARN), or the SDK's error with its context.
    pub async fn caller(&self, token: &str) -> Result<String, String> {
        self.clients(token)
            .await
            .sts
            .get_caller_identity()
            .send()
            .await
            .map(|out| out.arn().unwrap_or_default().to_string())
            .map_err(|e| DisplayErrorContext(e).to_string())
    }
}
