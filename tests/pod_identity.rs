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

mod support;

use std::ffi::OsStr;

use orgs_emulator::{Emulator, EmulatorConfig, Seed, SeedPodIdentityAssociation};
use support::ambient::{
    AmbientProfile, ISSUER, cluster_with_service_accounts, install_doc_block, issuer_keys, lone_organization, role,
    set_pod_environment, split_role_arn, token,
};

/// docs/install.md's "EKS Pod Identity": the role's trust policy and the association
/// (namespace, ServiceAccount, role ARN) its `aws eks create-pod-identity-association` makes.
struct DocumentedPodIdentity {
    trust_policy: String,
    namespace: String,
    service_account: String,
    role_arn: String,
}

fn documented() -> DocumentedPodIdentity {
    let block = |lang: &str| install_doc_block("EKS Pod Identity", lang);
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

#[tokio::test]
async fn pod_identity_tokens_against_the_documented_association_and_trust_policy() {
    let doc = documented();
    let env = cluster_with_service_accounts(&doc.namespace, &[&doc.service_account, "someone-else"]).await;

    let (account, role_name) = split_role_arn(&doc.role_arn);
    let role = |trust_policy: &str| role(&account, &role_name, trust_policy);
    let (jwks_url, jwks_ca_file) = issuer_keys(&env);
    let seed = Seed {
        organizations: vec![lone_organization(&account)],
        roles: vec![role(&doc.trust_policy)],
        pod_identity_associations: vec![SeedPodIdentityAssociation {
            cluster_issuer: ISSUER.into(),
            jwks_url,
            jwks_ca_file,
            public_key_file: None,
            namespace: doc.namespace.clone(),
            service_account: doc.service_account.clone(),
            role_arn: doc.role_arn.clone(),
        }],
        ..Seed::default()
    };
    let emulator = Emulator::start(EmulatorConfig::with_seed(seed)).await.unwrap();
    let url = emulator.url();

    // What EKS's webhook puts into the pod for Pod Identity (the agent's address there is
    // http://169.254.170.23/v1/credentials; the SDK accepts plain HTTP to loopback too).
    let token_file = env.dir().join("eks-pod-identity-token");
    // SAFETY: set before any other thread of this test binary reads the environment (this is
    // its only test; the SDK reads the variables later, on this thread's runtime).
    #[allow(unsafe_code)]
    unsafe {
        set_pod_environment(
            &[
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    OsStr::new(&format!("{url}/v1/credentials")),
                ),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.as_os_str()),
            ],
            &["AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"],
        );
    }
    let profile = AmbientProfile::new(&account, &url, token_file);

    let good = token(&env, &doc.namespace, &doc.service_account, "pods.eks.amazonaws.com").await;
    let arn = profile
        .caller(&good)
        .await
        .expect("the projected token is exchanged for the role");
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
        let err = profile.caller(token).await.expect_err(case);
        eprintln!("{case}: {}", err.split(" (").next().unwrap_or_default());
        assert!(err.contains(status), "{case}: expected HTTP {status}, got {err}");
    }
    // A role whose trust policy lacks sts:TagSession: EKS Pod Identity may not assume it.
    let without_tag_session = doc.trust_policy.replace(", \"sts:TagSession\"", "");
    assert_ne!(without_tag_session, doc.trust_policy);
    emulator.control().add_role(&role(&without_tag_session)).await.unwrap();
    let err = profile
        .caller(&good)
        .await
        .expect_err("trust policy without sts:TagSession");
    assert!(err.contains("403"), "{err}");
    emulator.shutdown().await;
}
