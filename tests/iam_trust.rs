//! The IAM access step decides the way IAM does (issue 10, item 3), end to end: real
//! kube-apiserver, the orgs-emulator's IAM GetRole returning the seeded trust policy, the
//! controllers in-process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use aws_invite_operator::api::InvitePhase;
use orgs_emulator::SeedRole;
use serde_json::json;
use support::*;

/// The cost tool's collector role: the invite's trustedPrincipal in the case seen.
const COLLECTOR: &str = "arn:aws:iam::454464851268:role/CloudHealthCollector";

/// Seen: the role trusts `arn:aws:iam::454464851268:root` with the right external ID, the
/// invite's trustedPrincipal is a role of that account, and the operator stopped at
/// TrustPolicyMismatch. An account principal "delegate[s] permissions to the account"
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html,
/// "AWS account principals"), so IAM lets the collector role assume it: Ready.
/// A member whose role's trust depends on the caller's source IP is reported as not
/// evaluable, not guessed.
#[tokio::test]
async fn account_root_trust_verifies_a_role_of_that_account_and_unknowable_conditions_are_reported() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite(
        "acme",
        STANDALONE,
        json!({"iamAccess": {"roleName": "CloudHealth", "trustedPrincipal": COLLECTOR, "externalId": "ext-123"}}),
    )
    .await;
    h.wait_phase("acme", InvitePhase::Invited).await;
    h.aws
        .add_role(&SeedRole {
            account_id: STANDALONE.into(),
            name: "CloudHealth".into(),
            path: None,
            trust_policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::454464851268:root"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "ext-123"}}}]}),
            max_session_duration: None,
        })
        .await
        .expect("role");
    h.aws.accept_invite_for(STANDALONE).await.expect("accept");

    let ready = h.wait_phase("acme", InvitePhase::Ready).await;
    let iam = condition(&ready, "IamAccessVerified").expect("IamAccessVerified");
    assert_eq!((iam.0.as_str(), iam.1.as_str()), ("True", "Verified"), "{}", iam.2);
    assert_eq!(condition(&ready, "Ready").map(|c| c.0), Some("True".into()));
    let get_role = h.aws.calls_for("GetRole").await.expect("call log");
    assert!(
        get_role
            .iter()
            .any(|c| c.caller_account_id.as_deref() == Some(STANDALONE)),
        "the trust policy was read from AWS in the member account: {get_role:?}"
    );

    // An existing member whose role's trust depends on aws:SourceIp: not evaluable.
    h.aws
        .add_role(&SeedRole {
            account_id: MEMBER.into(),
            name: "CloudHealth".into(),
            path: None,
            trust_policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::454464851268:root"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "ext-123"},
                              "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]}),
            max_session_duration: None,
        })
        .await
        .expect("role");
    h.create_invite(
        "member",
        MEMBER,
        json!({"iamAccess": {"roleName": "CloudHealth", "trustedPrincipal": COLLECTOR, "externalId": "ext-123"}}),
    )
    .await;
    let waiting = h
        .wait_invite("member", "IamAccessVerified=False", |i| {
            condition(i, "IamAccessVerified").is_some_and(|c| c.0 == "False")
        })
        .await;
    let iam = condition(&waiting, "IamAccessVerified").expect("IamAccessVerified");
    assert_eq!(iam.1, "TrustPolicyNotEvaluable", "{}", iam.2);
    assert!(
        iam.2.contains("IpAddress"),
        "the message names what it cannot evaluate: {}",
        iam.2
    );
    assert!(!iam.2.contains("ext-123"), "the external ID is not printed: {}", iam.2);
    assert_eq!(waiting.status.as_ref().and_then(|s| s.phase), Some(InvitePhase::Joined));
    h.stop().await;
}
