//! The operator when things go wrong: AWS throttles or fails, attempts run out, the invited
//! account belongs to another organization, the profile's credentials are wrong. Real
//! kube-apiserver, orgs-emulator over the real AWS wire protocols, controllers in-process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use aws_invite_operator::api::InvitePhase;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use orgs_emulator::{Fault, FaultKind, ModelOptions, SeedAccount, SeedOrganization};
use serde_json::json;
use support::*;

const OTHER_ORG: &str = "o-otherorg0001";
const OTHER_MGMT: &str = "666666666666";
const OTHER_MEMBER: &str = "777777777777";
const OTHER_MEMBER_2: &str = "888888888888";

async fn add_other_organization(h: &Harness) {
    h.aws
        .add_organization(&SeedOrganization {
            id: Some(OTHER_ORG.into()),
            management_account: SeedAccount::new(OTHER_MGMT),
            members: vec![SeedAccount::new(OTHER_MEMBER), SeedAccount::new(OTHER_MEMBER_2)],
            account_quota: Some(10),
            feature_set: None,
        })
        .await
        .expect("second organization");
}

fn condition_of(invite: &aws_invite_operator::api::AwsAccountInvite, type_: &str) -> (String, String, String) {
    condition(invite, type_).unwrap_or_else(|| panic!("no {type_} condition in {:#?}", invite.status))
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_without_a_second_invitation() {
    let h = Harness::start().await;
    // The first send is throttled, the second fails with a 500 before AWS acts, the third
    // takes effect but its reply is a 500; the handshake sweeps fail twice along the way.
    for fault in [
        Fault::new("InviteAccountToOrganization", FaultKind::Throttle),
        Fault::new("InviteAccountToOrganization", FaultKind::Http500),
        Fault::new("InviteAccountToOrganization", FaultKind::Http500).after(),
        Fault::new("ListHandshakesForOrganization", FaultKind::Http500).times(2),
    ] {
        h.aws.add_fault(&fault).await.expect("fault");
    }
    h.create_profile(json!({})).await;
    h.create_invite("retry", STANDALONE, json!({})).await;

    let invited = h.wait_phase("retry", InvitePhase::Invited).await;
    let status = invited.status.clone().expect("status");
    assert_eq!(status.attempts, 1, "retries of one attempt are not new attempts");
    assert_eq!(condition_of(&invited, "Stalled").0, "False");

    let calls = h.aws.calls_for("InviteAccountToOrganization").await.expect("call log");
    let faults: Vec<_> = calls.iter().filter_map(|c| c.fault.clone()).collect();
    assert_eq!(
        faults,
        vec!["throttle", "http500", "http500_after"],
        "every injected fault was met: {calls:#?}"
    );
    assert_eq!(
        h.invitations_sent(STANDALONE).await,
        1,
        "exactly one invitation took effect"
    );
    let handshakes: Vec<_> = h
        .aws
        .handshakes()
        .await
        .expect("handshakes")
        .into_iter()
        .filter(|hs| hs.target_id == STANDALONE)
        .collect();
    assert_eq!(handshakes.len(), 1, "one handshake in AWS: {handshakes:#?}");
    assert_eq!(
        status.handshake.as_ref().map(|r| r.id.clone()),
        Some(handshakes[0].id.clone()),
        "the invitation whose reply was lost is the one adopted"
    );
    // The failures were told to the user as they happened.
    h.wait_events("retry", &["AwsUnavailable", "Adopted"]).await;
    h.stop().await;
}

#[tokio::test]
async fn attempts_exhausted_stall_the_invite() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite(
        "twice",
        STANDALONE,
        json!({"reinvite": {"maxAttempts": 2, "onDeclined": true}}),
    )
    .await;

    h.wait_phase("twice", InvitePhase::Invited).await;
    h.aws.decline_invite_for(STANDALONE).await.expect("decline 1");
    h.wait_invite("twice", "declined seen", |i| {
        i.status
            .as_ref()
            .and_then(|s| s.handshake.as_ref())
            .is_some_and(|hs| hs.state == "DECLINED")
    })
    .await;
    // Re-invitations keep 5 minutes between invitations.
    h.advance(Duration::from_secs(301)).await;
    let second = h
        .wait_invite("twice", "attempt 2 open", |i| {
            i.status
                .as_ref()
                .is_some_and(|s| s.attempts == 2 && s.handshake.as_ref().is_some_and(|hs| hs.state == "OPEN"))
        })
        .await;
    assert_eq!(
        second.status.as_ref().map(|s| s.history.len()),
        Some(1),
        "the declined one is in history"
    );
    h.aws.decline_invite_for(STANDALONE).await.expect("decline 2");

    let failed = h.wait_phase("twice", InvitePhase::Failed).await;
    let stalled = condition_of(&failed, "Stalled");
    assert_eq!((stalled.0.as_str(), stalled.1.as_str()), ("True", "MaxAttemptsReached"));
    assert!(
        stalled.2.contains("2"),
        "the message says how many attempts: {}",
        stalled.2
    );
    assert_eq!(condition_of(&failed, "Reconciling").0, "False");
    assert_eq!(condition_of(&failed, "Ready").0, "False");
    assert_eq!(h.invitations_sent(STANDALONE).await, 2, "no third invitation");
    h.stop().await;
}

#[tokio::test]
async fn management_account_of_another_organization_is_told_to_delete_it_first() {
    let h = Harness::start().await;
    add_other_organization(&h).await;
    h.create_profile(json!({})).await;
    h.create_invite("other-mgmt", OTHER_MGMT, json!({})).await;

    let invited = h.wait_phase("other-mgmt", InvitePhase::Invited).await;
    let sent = condition_of(&invited, "InvitationSent");
    assert_eq!(sent.1, "AwaitingAcceptance");
    for step in [
        "management account of another organization",
        "removes all member accounts",
        "Delete organization",
        // Issue 13: the alternative that keeps the customer's organization.
        "use a BillingTransfer",
        "AWS billing transfer",
    ] {
        assert!(sent.2.contains(step), "the message explains {step:?}: {}", sent.2);
    }

    // The owner tries to accept: AWS refuses, as it says.
    let refused = h
        .aws
        .accept_invite_for(OTHER_MGMT)
        .await
        .expect_err("a management account cannot accept");
    assert_eq!(refused.code(), Some("MasterCannotLeaveOrganizationException"));

    // They follow the message: remove the members, delete the organization, accept.
    for member in [OTHER_MEMBER, OTHER_MEMBER_2] {
        h.aws.leave_organization(member).await.expect("member leaves");
    }
    h.aws
        .delete_organization(OTHER_ORG)
        .await
        .expect("organization deleted");
    h.aws.accept_invite_for(OTHER_MGMT).await.expect("accept");
    let ready = h.wait_phase("other-mgmt", InvitePhase::Ready).await;
    assert_eq!(condition_of(&ready, "AccountJoined").1, "Accepted");
    assert_eq!(h.invitations_sent(OTHER_MGMT).await, 1);
    h.stop().await;
}

#[tokio::test]
async fn members_of_another_organization_move_or_leave_first() {
    let h = Harness::start().await;
    add_other_organization(&h).await;
    h.create_profile(json!({})).await;

    // Today's AWS: accepting moves a member account directly.
    h.create_invite("mover", OTHER_MEMBER, json!({})).await;
    let invited = h.wait_phase("mover", InvitePhase::Invited).await;
    assert!(
        condition_of(&invited, "InvitationSent")
            .2
            .contains("member of another organization"),
        "the message covers accounts in another organization"
    );
    h.aws.accept_invite_for(OTHER_MEMBER).await.expect("accept moves it");
    h.wait_phase("mover", InvitePhase::Ready).await;
    assert_eq!(
        h.aws
            .account(OTHER_MEMBER)
            .await
            .expect("account")
            .organization_id
            .as_deref(),
        Some(ORG)
    );

    // AWS's older rule (still met): the member must leave first.
    h.aws
        .set_options(&ModelOptions {
            move_members_on_accept: false,
            ..Default::default()
        })
        .await
        .expect("options");
    h.create_invite("leaver", OTHER_MEMBER_2, json!({})).await;
    h.wait_phase("leaver", InvitePhase::Invited).await;
    let refused = h
        .aws
        .accept_invite_for(OTHER_MEMBER_2)
        .await
        .expect_err("must leave first");
    assert_eq!(refused.reason(), Some("ALREADY_IN_AN_ORGANIZATION"));
    h.aws.leave_organization(OTHER_MEMBER_2).await.expect("leave");
    h.aws.accept_invite_for(OTHER_MEMBER_2).await.expect("accept");
    h.wait_phase("leaver", InvitePhase::Ready).await;
    assert_eq!(h.invitations_sent(OTHER_MEMBER).await, 1);
    assert_eq!(h.invitations_sent(OTHER_MEMBER_2).await, 1);
    h.stop().await;
}

#[tokio::test]
async fn credentials_that_cannot_manage_the_organization_stop_the_profile_and_the_invite_says_why() {
    let h = Harness::start().await;
    // A Secret holding a *member* account's keys: DescribeOrganization works for members,
    // listing and sending invitations does not.
    let secrets: Api<Secret> = Api::namespaced(h.env.client(), OPERATOR_NAMESPACE);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "payer-keys"},
        "stringData": {"AWS_ACCESS_KEY_ID": MEMBER, "AWS_SECRET_ACCESS_KEY": "not-the-payer"},
    }))
    .expect("secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret created");
    h.create_profile(json!({"credentials": {"secretRef": {"namespace": OPERATOR_NAMESPACE, "name": "payer-keys"}}}))
        .await;
    h.create_invite("blocked", STANDALONE, json!({})).await;

    let profile = h
        .wait_profile(PROFILE, "not Ready", |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "False"))
        })
        .await
        .status
        .expect("status");
    let ready = profile.conditions.iter().find(|c| c.type_ == "Ready").expect("Ready");
    assert_eq!(ready.reason, "AccessDenied", "{ready:?}");
    assert!(
        ready.message.contains("ListHandshakesForOrganization"),
        "{}",
        ready.message
    );
    assert!(!ready.message.contains("not-the-payer"), "no secret in status");
    let stalled = profile
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled")
        .expect("Stalled");
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "AccessDenied"),
        "a person must fix the credentials (kstatus Failed)"
    );

    let invite = h
        .wait_invite("blocked", "BillingProfileNotReady with the profile's reason", |i| {
            // The invite may first have seen the profile unchecked (NotChecked); the profile's
            // status change wakes it again.
            condition(i, "Ready").is_some_and(|c| c.1 == "BillingProfileNotReady" && c.2.contains("AccessDenied"))
        })
        .await;
    let why = condition_of(&invite, "Ready").2;
    // The tenant learns the profile's name and reason, not its administrator's detail.
    assert!(
        why.contains(PROFILE) && why.contains("ask its administrator") && !why.contains("handshakes"),
        "{why}"
    );
    assert_eq!(
        h.invitations_sent(STANDALONE).await,
        0,
        "nothing sent with the wrong credentials"
    );

    // The payer's keys go in; everything continues without touching the invite.
    let fixed = json!({"stringData": {"AWS_ACCESS_KEY_ID": MGMT}});
    secrets
        .patch("payer-keys", &PatchParams::default(), &Patch::Merge(&fixed))
        .await
        .expect("secret fixed");
    h.wait_profile(PROFILE, "Ready", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
    .await;
    h.wait_phase("blocked", InvitePhase::Invited).await;
    assert_eq!(h.invitations_sent(STANDALONE).await, 1);
    h.stop().await;
}
