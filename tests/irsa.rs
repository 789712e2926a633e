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

mod support;

use std::ffi::OsStr;
use std::time::Duration;

use aws_invite_operator::reason::Reason;
use orgs_emulator::{Emulator, EmulatorConfig, Seed, SeedOidcProvider};
use serde_json::json;
use support::ambient::{
    AmbientProfile, ISSUER, cluster_with_service_accounts, install_doc_block, issuer_keys, lone_organization, role,
    set_pod_environment, split_role_arn, token,
};

/// The chart's names with docs/install.md's `helm install aws-invite-operator ... -n
/// aws-invite-operator`: the ServiceAccount the trust policy must name.
const NAMESPACE: &str = "aws-invite-operator";
const SERVICE_ACCOUNT: &str = "aws-invite-operator";

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
    let block = |lang: &str| install_doc_block("EKS with IRSA", lang);
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
    let env = cluster_with_service_accounts(NAMESPACE, &[SERVICE_ACCOUNT, "someone-else"]).await;

    let documented = documented_irsa(issuer_host(ISSUER));
    let (account, role_name) = split_role_arn(&documented.role_arn);
    let (jwks_url, jwks_ca_file) = issuer_keys(&env);
    let seed = Seed {
        organizations: vec![lone_organization(&account)],
        roles: vec![role(&account, &role_name, &documented.trust_policy)],
        oidc_providers: vec![SeedOidcProvider {
            account_id: account.clone(),
            url: ISSUER.into(),
            client_ids: None,
            jwks_url,
            jwks_ca_file,
            public_key_file: None,
        }],
        ..Seed::default()
    };
    let emulator = Emulator::start(EmulatorConfig::with_seed(seed)).await.unwrap();
    let url = emulator.url();

    // What EKS's pod identity webhook puts into the pod, read by the SDK default chain.
    let token_file = env.dir().join("irsa-token");
    // SAFETY: set before any other thread of this test binary reads the environment (this is
    // its only test; the SDK reads the variables later, on this thread's runtime).
    #[allow(unsafe_code)]
    unsafe {
        set_pod_environment(
            &[
                ("AWS_ROLE_ARN", OsStr::new(&documented.role_arn)),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.as_os_str()),
                ("AWS_ROLE_SESSION_NAME", OsStr::new("aws-invite-operator-pod")),
                ("AWS_ENDPOINT_URL_STS", OsStr::new(&url)),
            ],
            &[],
        );
    }
    // The operator's ambient credentials for a profile without spec.credentials, as it builds
    // them; the caller STS sees for them.
    let profile = AmbientProfile::new(&account, &url, token_file);
    let mint = async |service_account: &str, audience: &str| token(&env, NAMESPACE, service_account, audience).await;

    let good = mint(SERVICE_ACCOUNT, "sts.amazonaws.com").await;
    let arn = profile
        .caller(&good)
        .await
        .expect("the projected token is exchanged for the role");
    assert_eq!(
        arn,
        format!("arn:aws:sts::{account}:assumed-role/{role_name}/aws-invite-operator-pod")
    );

    let refused: Vec<(&str, String, &str)> = vec![
        (
            "audience other than sts.amazonaws.com",
            mint(SERVICE_ACCOUNT, "https://kubernetes.default.svc").await,
            "InvalidIdentityToken",
        ),
        (
            "another ServiceAccount's token (sub)",
            mint("someone-else", "sts.amazonaws.com").await,
            "AccessDenied",
        ),
        (
            "another ServiceAccount's token with sub rewritten (bad signature)",
            with_subject(
                &mint("someone-else", "sts.amazonaws.com").await,
                &format!("system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"),
            ),
            "InvalidIdentityToken",
        ),
        ("not a JWT", "not-a-token".to_string(), "InvalidIdentityToken"),
    ];
    for (case, token, code) in &refused {
        let err = profile.caller(token).await.expect_err(case);
        eprintln!("{case}: {}", err.split(" (DispatchFailure").next().unwrap_or_default());
        assert!(err.contains(code), "{case}: expected {code}, got {err}");
    }

    // How the operator reports a refusal: the profile's CredentialsUnavailable, naming STS's code.
    let clients = profile.clients(&mint("someone-else", "sts.amazonaws.com").await).await;
    let err = clients.describe_organization().await.expect_err("refused");
    assert_eq!(err.reason(), Reason::CredentialsUnavailable, "{err}");
    assert!(err.message().contains("AccessDenied"), "{}", err.message());

    // Expired: the same good token once STS's clock is past its 10-minute lifetime.
    emulator
        .control()
        .advance_clock(Duration::from_secs(601))
        .await
        .unwrap();
    let err = profile.caller(&good).await.expect_err("an expired token is refused");
    assert!(err.contains("ExpiredTokenException"), "expired: {err}");
    assert!(err.contains("Token expired: current date/time"), "expired: {err}");
    emulator.shutdown().await;
}

fn issuer_host(issuer: &str) -> &str {
    issuer.strip_prefix("https://").unwrap()
}
