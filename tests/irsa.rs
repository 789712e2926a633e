//! IRSA (EKS IAM roles for service accounts) as a contract, without a node: service-account
//! tokens minted by a real kube-apiserver's TokenRequest API (what the kubelet projects into
//! the pod), presented by the operator's own AWS client set-up (the SDK default chain's web
//! identity provider, `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` as EKS's pod identity
//! webhook sets them) to the emulator's STS AssumeRoleWithWebIdentity, which checks them as STS
//! does for an EKS cluster's OIDC provider: the signature against the API server's published
//! keys (`/openid/v1/jwks`), issuer, audience `sts.amazonaws.com`, expiry, and the role's trust
//! policy, which is the one docs/install.md tells users to create (read from the document, so a
//! wrong document fails here).
//!
//! One test function: the SDK reads its web identity settings from the process environment,
//! which this test sets once before anything else runs in this binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use aws_invite_operator::api::BillingProfileSpec;
use aws_invite_operator::aws::ProfileClients;
use aws_invite_operator::reason::Reason;
use aws_invite_operator::runtime::install_crypto_provider;
use aws_smithy_types::error::display::DisplayErrorContext;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::Api;
use kube::api::PostParams;
use kube_testenv::TestEnv;
use orgs_emulator::{Emulator, EmulatorConfig, Seed, SeedAccount, SeedOidcProvider, SeedOrganization, SeedRole};
use serde_json::json;

/// The chart's names with docs/install.md's `helm install aws-invite-operator ... -n
/// aws-invite-operator`: the ServiceAccount the trust policy must name.
const NAMESPACE: &str = "aws-invite-operator";
const SERVICE_ACCOUNT: &str = "aws-invite-operator";
/// testenv's `--service-account-issuer`.
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// What docs/install.md's "EKS with IRSA" section tells users to create: the role's trust
/// policy (its OIDC provider placeholder replaced by `issuer_host`, as a user puts their
/// cluster's) and the role ARN of the ServiceAccount annotation.
pub struct DocumentedIrsa {
    /// The trust policy, as JSON text.
    pub trust_policy: String,
    /// `eks.amazonaws.com/role-arn` in the documented values.
    pub role_arn: String,
}

fn documented_irsa(issuer_host: &str) -> DocumentedIrsa {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/install.md")).unwrap();
    let section = doc
        .split("\n### EKS with IRSA\n")
        .nth(1)
        .expect("docs/install.md has a section '### EKS with IRSA'");
    let section = section.split("\n### ").next().unwrap();
    let block = |lang: &str| {
        let start = section
            .find(&format!("```{lang}\n"))
            .unwrap_or_else(|| panic!("a ```{lang} block in the IRSA section"));
        let body = &section[start + lang.len() + 4..];
        body[..body.find("```").unwrap()].to_string()
    };
    let policy = block("json");
    let parsed: serde_json::Value = serde_json::from_str(&policy).expect("the documented trust policy is JSON");
    let federated = parsed["Statement"][0]["Principal"]["Federated"]
        .as_str()
        .expect("Principal.Federated");
    let placeholder = federated
        .split_once(":oidc-provider/")
        .expect("an OIDC provider ARN")
        .1
        .to_string();
    let values = block("yaml");
    let role_arn = values
        .lines()
        .find_map(|l| l.trim().strip_prefix("eks.amazonaws.com/role-arn:"))
        .expect("the role-arn annotation in the documented values")
        .trim()
        .to_string();
    DocumentedIrsa {
        trust_policy: policy.replace(&placeholder, issuer_host),
        role_arn,
    }
}

async fn token(env: &TestEnv, service_account: &str, audience: &str) -> String {
    let api: Api<ServiceAccount> = Api::namespaced(env.client(), NAMESPACE);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.to_string()],
            // The shortest the API allows (10 minutes).
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

/// The token with its payload's `sub` replaced, keeping the signature (a forgery).
fn with_subject(token: &str, sub: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!(sub);
    format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(serde_json::to_vec(&payload).unwrap()),
        parts[2]
    )
}

#[tokio::test]
async fn projected_service_account_tokens_against_the_documented_trust_policy() {
    install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane starts");
    let client = env.client();

    // The issuer's keys are public, as EKS's are: the documented way to let anonymous clients
    // read /.well-known/openid-configuration and /openid/v1/jwks.
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
    env.create_namespace(NAMESPACE, Vec::<(String, String)>::new())
        .await
        .unwrap();
    let sa_api: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    for name in [SERVICE_ACCOUNT, "someone-else"] {
        let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        sa_api.create(&PostParams::default(), &sa).await.unwrap();
    }

    let documented = documented_irsa(issuer_host(ISSUER));
    let (account, role_name) = {
        let rest = documented.role_arn.strip_prefix("arn:aws:iam::").unwrap();
        let (account, role) = rest.split_once(":role/").unwrap();
        (account.to_string(), role.to_string())
    };
    let seed = Seed {
        organizations: vec![SeedOrganization {
            id: None,
            management_account: SeedAccount::new(account.clone()),
            members: vec![],
            account_quota: None,
            feature_set: None,
        }],
        roles: vec![SeedRole {
            account_id: account.clone(),
            name: role_name.clone(),
            path: None,
            trust_policy: serde_json::Value::String(documented.trust_policy.clone()),
            max_session_duration: None,
        }],
        oidc_providers: vec![SeedOidcProvider {
            account_id: account.clone(),
            url: ISSUER.into(),
            client_ids: None,
            jwks_url: Some(format!("{}/openid/v1/jwks", env.server_url())),
            jwks_ca_file: Some(env.dir().join("certs/apiserver.crt").display().to_string()),
            public_key_file: None,
        }],
        ..Seed::default()
    };
    let emulator = Emulator::start(EmulatorConfig {
        seed,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();

    // What EKS's pod identity webhook puts into the pod, read by the SDK default chain.
    let token_file = env.dir().join("irsa-token");
    // SAFETY: set before any other thread of this test binary reads the environment (this is
    // its only test; the SDK reads the variables later, on this thread's runtime).
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("AWS_ROLE_ARN", &documented.role_arn);
        std::env::set_var("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file);
        std::env::set_var("AWS_ROLE_SESSION_NAME", "aws-invite-operator-pod");
        std::env::set_var("AWS_ENDPOINT_URL_STS", emulator.url());
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ] {
            std::env::remove_var(var);
        }
    }
    let spec: BillingProfileSpec = serde_json::from_value(json!({
        "managementAccountId": account,
        "endpointUrl": emulator.url(),
    }))
    .unwrap();
    // The operator's ambient credentials for a profile without spec.credentials, as it builds
    // them; the caller STS sees for them.
    let who = async |token: &str| {
        std::fs::write(&token_file, token).unwrap();
        let clients = ProfileClients::connect(&spec, None).await.expect("clients");
        clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map(|out| out.arn().unwrap_or_default().to_string())
            .map_err(|e| DisplayErrorContext(e).to_string())
    };

    let good = token(&env, SERVICE_ACCOUNT, "sts.amazonaws.com").await;
    let arn = who(&good).await.expect("the projected token is exchanged for the role");
    assert_eq!(
        arn,
        format!("arn:aws:sts::{account}:assumed-role/{role_name}/aws-invite-operator-pod")
    );

    let refused: Vec<(&str, String, &str)> = vec![
        (
            "audience other than sts.amazonaws.com",
            token(&env, SERVICE_ACCOUNT, "https://kubernetes.default.svc").await,
            "InvalidIdentityToken",
        ),
        (
            "another ServiceAccount's token (sub)",
            token(&env, "someone-else", "sts.amazonaws.com").await,
            "AccessDenied",
        ),
        (
            "another ServiceAccount's token with sub rewritten (bad signature)",
            with_subject(
                &token(&env, "someone-else", "sts.amazonaws.com").await,
                &format!("system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"),
            ),
            "InvalidIdentityToken",
        ),
        ("not a JWT", "not-a-token".to_string(), "InvalidIdentityToken"),
    ];
    for (case, token, code) in &refused {
        let err = who(token).await.expect_err(case);
        eprintln!("{case}: {}", err.split(" (DispatchFailure").next().unwrap_or_default());
        assert!(err.contains(code), "{case}: expected {code}, got {err}");
    }

    // How the operator reports a refusal: the profile's CredentialsUnavailable, naming STS's code.
    std::fs::write(&token_file, token(&env, "someone-else", "sts.amazonaws.com").await).unwrap();
    let clients = ProfileClients::connect(&spec, None).await.expect("clients");
    let err = clients.describe_organization().await.expect_err("refused");
    assert_eq!(err.reason(), Reason::CredentialsUnavailable, "{err}");
    assert!(err.message().contains("AccessDenied"), "{}", err.message());

    // Expired: the same good token once STS's clock is past its 10-minute lifetime.
    emulator
        .control()
        .advance_clock(Duration::from_secs(601))
        .await
        .unwrap();
    let err = who(&good).await.expect_err("an expired token is refused");
    assert!(err.contains("ExpiredTokenException"), "expired: {err}");
    assert!(err.contains("Token expired: current date/time"), "expired: {err}");
    emulator.shutdown().await;
}

fn issuer_host(issuer: &str) -> &str {
    issuer.strip_prefix("https://").unwrap()
}
