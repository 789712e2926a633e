//! EKS Pod Identity as a contract, without a node: a service-account token for the audience
//! `pods.eks.amazonaws.com`, minted by a real kube-apiserver's TokenRequest API (what EKS's
//! webhook has the kubelet project), read by the operator's own AWS client set-up (the SDK
//! default chain's container credentials provider: `AWS_CONTAINER_CREDENTIALS_FULL_URI` +
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, as the webhook sets them) from the emulator's Pod
//! Identity Agent endpoint, which checks the token against the API server's published keys,
//! finds the association the docs/install.md command creates and assumes the role if its trust
//! policy (the document's) allows `pods.eks.amazonaws.com` `sts:AssumeRole` and `sts:TagSession`.
//!
//! One test function: the SDK reads its settings from the process environment, which this test
//! sets once before anything else runs in this binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

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
use orgs_emulator::{
    Emulator, EmulatorConfig, Seed, SeedAccount, SeedOrganization, SeedPodIdentityAssociation, SeedRole,
};
use serde_json::json;

/// testenv's `--service-account-issuer`.
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// docs/install.md's "EKS Pod Identity": the role's trust policy and the association
/// (namespace, ServiceAccount, role ARN) its `aws eks create-pod-identity-association` makes.
struct DocumentedPodIdentity {
    trust_policy: String,
    namespace: String,
    service_account: String,
    role_arn: String,
}

fn documented() -> DocumentedPodIdentity {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/install.md")).unwrap();
    let section = doc
        .split("\n### EKS Pod Identity\n")
        .nth(1)
        .expect("docs/install.md has a section '### EKS Pod Identity'");
    let section = section.split("\n### ").next().unwrap();
    let block = |lang: &str| {
        let start = section
            .find(&format!("```{lang}\n"))
            .unwrap_or_else(|| panic!("a ```{lang} block in the Pod Identity section"));
        let body = &section[start + lang.len() + 4..];
        body[..body.find("```").unwrap()].to_string()
    };
    let command = block("sh");
    let flag = |name: &str| {
        command
            .split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .unwrap_or_else(|| panic!("{name} in the documented command"))
            .to_string()
    };
    DocumentedPodIdentity {
        trust_policy: block("json"),
        namespace: flag("--namespace"),
        service_account: flag("--service-account"),
        role_arn: flag("--role-arn"),
    }
}

async fn token(env: &TestEnv, namespace: &str, service_account: &str, audience: &str) -> String {
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

#[tokio::test]
async fn pod_identity_tokens_against_the_documented_association_and_trust_policy() {
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
    let doc = documented();
    env.create_namespace(&doc.namespace, Vec::<(String, String)>::new())
        .await
        .unwrap();
    let sa_api: Api<ServiceAccount> = Api::namespaced(client.clone(), &doc.namespace);
    for name in [doc.service_account.as_str(), "someone-else"] {
        let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        sa_api.create(&PostParams::default(), &sa).await.unwrap();
    }

    let rest = doc.role_arn.strip_prefix("arn:aws:iam::").unwrap();
    let (account, role_name) = rest.split_once(":role/").unwrap();
    let role = |trust_policy: &str| SeedRole {
        account_id: account.to_string(),
        name: role_name.to_string(),
        path: None,
        trust_policy: serde_json::Value::String(trust_policy.to_string()),
        max_session_duration: None,
    };
    let seed = Seed {
        organizations: vec![SeedOrganization {
            id: None,
            management_account: SeedAccount::new(account),
            members: vec![],
            account_quota: None,
            feature_set: None,
        }],
        roles: vec![role(&doc.trust_policy)],
        pod_identity_associations: vec![SeedPodIdentityAssociation {
            cluster_issuer: ISSUER.into(),
            jwks_url: Some(format!("{}/openid/v1/jwks", env.server_url())),
            jwks_ca_file: Some(env.dir().join("certs/apiserver.crt").display().to_string()),
            public_key_file: None,
            namespace: doc.namespace.clone(),
            service_account: doc.service_account.clone(),
            role_arn: doc.role_arn.clone(),
        }],
        ..Seed::default()
    };
    let emulator = Emulator::start(EmulatorConfig {
        seed,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();

    // What EKS's webhook puts into the pod for Pod Identity (the agent's address there is
    // http://169.254.170.23/v1/credentials; the SDK accepts plain HTTP to loopback too).
    let token_file = env.dir().join("eks-pod-identity-token");
    // SAFETY: set before any other thread of this test binary reads the environment (this is
    // its only test; the SDK reads the variables later, on this thread's runtime).
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials", emulator.url()),
        );
        std::env::set_var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ] {
            std::env::remove_var(var);
        }
    }
    let spec: BillingProfileSpec = serde_json::from_value(json!({
        "managementAccountId": account,
        "endpointUrl": emulator.url(),
    }))
    .unwrap();
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

    let good = token(&env, &doc.namespace, &doc.service_account, "pods.eks.amazonaws.com").await;
    let arn = who(&good).await.expect("the projected token is exchanged for the role");
    assert_eq!(
        arn,
        format!(
            "arn:aws:sts::{account}:assumed-role/{role_name}/eks-{}-{}",
            doc.namespace, doc.service_account
        )
    );

    // Refusals: the agent answers 4xx, which the SDK reports with the status.
    let refused = [
        (
            "an IRSA token (audience sts.amazonaws.com)",
            token(&env, &doc.namespace, &doc.service_account, "sts.amazonaws.com").await,
            "400",
        ),
        (
            "a ServiceAccount without an association",
            token(&env, &doc.namespace, "someone-else", "pods.eks.amazonaws.com").await,
            "404",
        ),
    ];
    for (case, token, status) in &refused {
        let err = who(token).await.expect_err(case);
        eprintln!("{case}: {}", err.split(" (").next().unwrap_or_default());
        assert!(err.contains(status), "{case}: expected HTTP {status}, got {err}");
    }
    // A role whose trust policy lacks sts:TagSession: EKS Pod Identity may not assume it.
    let without_tag_session = doc.trust_policy.replace(", \"sts:TagSession\"", "");
    assert_ne!(without_tag_session, doc.trust_policy);
    emulator.control().add_role(&role(&without_tag_session)).await.unwrap();
    let err = who(&good).await.expect_err("trust policy without sts:TagSession");
    assert!(err.contains("403"), "{err}");
    emulator.shutdown().await;
}
