//! The operator end to end: real kube-apiserver, orgs-emulator over the real AWS wire
//! protocols, the controllers in-process. Each test asserts conditions, phase, events and
//! the emulator's call log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use aws_invite_operator::api::InvitePhase;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use orgs_emulator::{Fault, FaultKind, SeedRole};
use serde_json::json;
use support::*;

#[tokio::test]
async fn happy_path_invite_accept_join_iam_ready_with_exactly_one_invitation() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite(
        "acme",
        STANDALONE,
        json!({
            "notes": "welcome",
            "tags": {"customer": "acme"},
            "iamAccess": {"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root", "externalId": "ext-123"},
        }),
    )
    .await;

    let invited = h.wait_phase("acme", InvitePhase::Invited).await;
    let status = invited.status.clone().expect("status");
    assert_eq!(status.attempts, 1);
    assert_eq!(status.handshake.as_ref().map(|h| h.state.as_str()), Some("OPEN"));
    assert_eq!(
        condition(&invited, "InvitationSent").map(|c| c.1),
        Some("AwaitingAcceptance".into())
    );
    assert_eq!(
        condition(&invited, "Reconciling").map(|c| c.0),
        Some("False".into()),
        "waiting on a human is not Reconciling"
    );
    assert_eq!(condition(&invited, "Stalled").map(|c| c.0), Some("False".into()));

    // The account owner accepts.
    h.aws.accept_invite_for(STANDALONE).await.expect("accept");
    let joined = h.wait_phase("acme", InvitePhase::Joined).await;
    assert_eq!(
        condition(&joined, "AccountJoined").map(|c| (c.0, c.1)),
        Some(("True".into(), "Accepted".into()))
    );
    let iam = condition(&joined, "IamAccessVerified").expect("iam condition");
    assert_eq!(iam.0, "False");
    assert!(
        iam.2.contains("CloudHealth"),
        "the message says what is missing: {}",
        iam.2
    );

    // The customer creates the cost tool's role.
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
    let ready = h.wait_phase("acme", InvitePhase::Ready).await;
    assert_eq!(condition(&ready, "Ready").map(|c| c.0), Some("True".into()));
    assert_eq!(
        condition(&ready, "IamAccessVerified").map(|c| (c.0, c.1)),
        Some(("True".into(), "Verified".into()))
    );
    assert_eq!(
        ready.status.as_ref().and_then(|s| s.organization_id.clone()).as_deref(),
        Some(ORG)
    );

    assert_eq!(h.invitations_sent(STANDALONE).await, 1, "exactly one invitation");
    let account = h.aws.account(STANDALONE).await.expect("account");
    assert_eq!(account.organization_id.as_deref(), Some(ORG));
    h.wait_events("acme", &["InvitationSent", "Accepted", "IamAccessVerified", "Ready"])
        .await;
    let metrics = h.metrics.encode().expect("metrics");
    assert!(metrics.contains("aws_invite_aws_calls_total"), "{metrics}");
    h.stop().await;
}

#[tokio::test]
async fn existing_member_is_ready_without_an_invitation_and_disallowed_namespace_makes_no_call() {
    let h = Harness::start().await;
    h.create_profile(json!({"allowedNamespaces": {
        "namespaces": [NAMESPACE], "from": "Selector", "selector": {"matchLabels": {"billing-access": "granted"}},
    }}))
    .await;
    h.create_invite("member", MEMBER, json!({})).await;
    let ready = h.wait_phase("member", InvitePhase::Ready).await;
    assert_eq!(
        condition(&ready, "AccountJoined").map(|c| c.1),
        Some("AlreadyMember".into())
    );
    assert_eq!(ready.status.as_ref().map(|s| s.attempts), Some(0));
    assert_eq!(h.invitations_sent(MEMBER).await, 0);

    // A namespace the profile does not allow: Stalled, and no AWS call for that account.
    h.env.create_namespace("web", [("team", "web")]).await.expect("ns");
    let other: Api<aws_invite_operator::api::AwsAccountInvite> = Api::namespaced(h.env.client(), "web");
    let invite = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
        "metadata": {"name": "sneaky", "namespace": "web"},
        "spec": {"billingProfile": PROFILE, "accountId": SECOND},
    }))
    .expect("invite");
    other.create(&Default::default(), &invite).await.expect("created");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let stalled = loop {
        let current = other.get("sneaky").await.expect("get");
        if condition(&current, "Stalled").is_some_and(|c| c.0 == "True") {
            break current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never stalled: {:?}",
            current.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        condition(&stalled, "Stalled").map(|c| c.1),
        Some("BillingProfileNotAllowed".into())
    );
    let calls = h.aws.calls().await.expect("calls");
    assert!(
        calls.iter().all(|c| c.target_account_id.as_deref() != Some(SECOND)),
        "no AWS call about the disallowed invite's account"
    );

    // Labelling the namespace admits it: the namespace watch re-checks its invites.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(h.env.client());
    namespaces
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"billing-access": "granted"}}})),
        )
        .await
        .expect("label");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let current = other.get("sneaky").await.expect("get");
        if current.status.as_ref().and_then(|s| s.phase) == Some(InvitePhase::Invited) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "labelling the namespace did not admit the invite: {:?}",
            current.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(h.invitations_sent(SECOND).await, 1);
    h.stop().await;
}

#[tokio::test]
async fn declined_stalls_and_expired_is_reinvited() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite("declines", STANDALONE, json!({})).await;
    h.create_invite("expires", SECOND, json!({})).await;
    h.wait_phase("declines", InvitePhase::Invited).await;
    h.wait_phase("expires", InvitePhase::Invited).await;

    h.aws.decline_invite_for(STANDALONE).await.expect("decline");
    let failed = h.wait_phase("declines", InvitePhase::Failed).await;
    let stalled = condition(&failed, "Stalled").expect("stalled");
    assert_eq!((stalled.0.as_str(), stalled.1.as_str()), ("True", "Declined"));
    assert!(stalled.2.contains("onDeclined"), "{}", stalled.2);

    // Fifteen days pass: the other invitation expires and is sent again (attempt 2).
    h.advance(Duration::from_secs(15 * 24 * 3600 + 60)).await;
    let reinvited = h
        .wait_invite("expires", "attempt 2", |i| {
            i.status
                .as_ref()
                .is_some_and(|s| s.attempts == 2 && s.phase == Some(InvitePhase::Invited))
        })
        .await;
    let status = reinvited.status.expect("status");
    assert_eq!(status.history.first().map(|r| r.state.as_str()), Some("EXPIRED"));
    assert_eq!(h.invitations_sent(SECOND).await, 2);
    assert_eq!(
        h.invitations_sent(STANDALONE).await,
        1,
        "a declined invitation is not resent by default"
    );
    h.stop().await;
}

#[tokio::test]
async fn reply_lost_after_the_invitation_reached_aws_is_adopted_not_resent() {
    let h = Harness::start().await;
    // The invitation takes effect in AWS but the connection drops before the reply.
    h.aws
        .add_fault(&Fault::new("InviteAccountToOrganization", FaultKind::DropConnection).after())
        .await
        .expect("fault");
    h.create_profile(json!({})).await;
    h.create_invite("lossy", STANDALONE, json!({})).await;
    let invited = h.wait_phase("lossy", InvitePhase::Invited).await;
    assert_eq!(invited.status.as_ref().map(|s| s.attempts), Some(1));
    assert_eq!(
        h.invitations_sent(STANDALONE).await,
        1,
        "exactly one invitation despite the lost reply"
    );
    h.stop().await;
}

#[tokio::test]
async fn daily_budget_queues_the_rest_until_the_window_moves() {
    let h = Harness::start().await;
    // AWS's own daily limit for a new organization is 20: 25 invites, 20 go out, 5 wait.
    h.create_profile(json!({"invitationsPerDay": 20})).await;
    let accounts: Vec<String> = (0..25).map(|i| format!("5000000000{i:02}")).collect();
    for (i, account) in accounts.iter().enumerate() {
        h.create_invite(&format!("bulk-{i}"), account, json!({})).await;
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let list = h.invites().list(&ListParams::default()).await.expect("list");
        let count = |p: InvitePhase| {
            list.items
                .iter()
                .filter(|i| i.status.as_ref().and_then(|s| s.phase) == Some(p))
                .count()
        };
        if count(InvitePhase::Invited) == 20 && count(InvitePhase::Queued) == 5 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "expected 20 invited + 5 queued");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sent: usize = futures::future::join_all(accounts.iter().map(|a| h.invitations_sent(a)))
        .await
        .into_iter()
        .sum();
    assert_eq!(sent, 20, "never more than invitationsPerDay");
    // The profile reports its budget at its next poll.
    h.wait_profile(PROFILE, "20 sent + 5 queued", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.invitations_in_last24h == 20 && s.queued_invitations == 5)
    })
    .await;

    h.advance(Duration::from_secs(24 * 3600 + 60)).await;
    for i in 0..25 {
        h.wait_phase(&format!("bulk-{i}"), InvitePhase::Invited).await;
    }
    let sent: usize = futures::future::join_all(accounts.iter().map(|a| h.invitations_sent(a)))
        .await
        .into_iter()
        .sum();
    assert_eq!(sent, 25, "each invite got exactly one invitation");
    h.stop().await;
}

#[tokio::test]
async fn deleting_cancels_the_open_invitation_and_missing_profile_recovers() {
    let h = Harness::start().await;
    // The invite comes first: it waits for its profile.
    h.create_invite("early", STANDALONE, json!({})).await;
    let waiting = h
        .wait_invite("early", "BillingProfileNotFound", |i| {
            condition(i, "Reconciling").is_some_and(|c| c.0 == "True" && c.1 == "BillingProfileNotFound")
        })
        .await;
    assert_eq!(condition(&waiting, "Stalled").map(|c| c.0), Some("False".into()));
    h.create_profile(json!({})).await;
    let invited = h.wait_phase("early", InvitePhase::Invited).await;
    let handshake = invited.status.and_then(|s| s.handshake).expect("handshake").id;

    h.invites()
        .delete("early", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while h.invites().get_opt("early").await.expect("get").is_some() {
        assert!(tokio::time::Instant::now() < deadline, "finalizer never released");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let state = h.aws.handshake(&handshake).await.expect("handshake").state;
    assert_eq!(state, "CANCELED");

    // Orphan: nothing is called on delete.
    h.create_invite("orphan", SECOND, json!({"deletionPolicy": "Orphan"}))
        .await;
    let invited = h.wait_phase("orphan", InvitePhase::Invited).await;
    let id = invited.status.and_then(|s| s.handshake).expect("handshake").id;
    h.invites()
        .delete("orphan", &DeleteParams::default())
        .await
        .expect("delete");
    while h.invites().get_opt("orphan").await.expect("get").is_some() {
        assert!(tokio::time::Instant::now() < deadline, "finalizer never released");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(h.aws.handshake(&id).await.expect("handshake").state, "OPEN");
    h.stop().await;
}

#[tokio::test]
async fn reinvite_annotation_cancels_and_resends_after_the_floor() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite("noemail", STANDALONE, json!({})).await;
    let first = h.wait_phase("noemail", InvitePhase::Invited).await;
    let first_id = first.status.and_then(|s| s.handshake).expect("handshake").id;
    let patch = json!({"metadata": {"annotations": {"awsinvite.io/reinvite": "1"}}});
    h.invites()
        .patch("noemail", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate");
    // Within 5 minutes of the first: not yet.
    let waiting = h
        .wait_invite("noemail", "reinvite scheduled", |i| {
            condition(i, "Reconciling").is_some_and(|c| c.2.contains("5 minutes apart"))
        })
        .await;
    assert_eq!(waiting.status.as_ref().map(|s| s.attempts), Some(1));
    h.advance(Duration::from_secs(6 * 60)).await;
    let resent = h
        .wait_invite("noemail", "attempt 2", |i| {
            i.status.as_ref().is_some_and(|s| s.attempts == 2)
        })
        .await;
    let status = resent.status.expect("status");
    assert_ne!(status.handshake.as_ref().map(|h| h.id.clone()), Some(first_id.clone()));
    assert_eq!(h.aws.handshake(&first_id).await.expect("old").state, "CANCELED");
    assert_eq!(status.last_reinvite_request.as_deref(), Some("1"));
    assert_eq!(h.invitations_sent(STANDALONE).await, 2);
    h.stop().await;
}

#[tokio::test]
async fn resend_after_cancels_an_unanswered_invitation_and_sends_a_new_one() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite("nudge", STANDALONE, json!({"reinvite": {"resendAfter": "24h"}}))
        .await;
    let first = h.wait_phase("nudge", InvitePhase::Invited).await;
    let first_id = first.status.and_then(|s| s.handshake).expect("handshake").id;

    // Not before resendAfter.
    h.advance(Duration::from_secs(23 * 3600)).await;
    // The touch reconciles the invite; two more handshake sweeps give it time to act (wrongly).
    let sweeps = h
        .aws
        .calls_for("ListHandshakesForOrganization")
        .await
        .expect("calls")
        .len();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while h
        .aws
        .calls_for("ListHandshakesForOrganization")
        .await
        .expect("calls")
        .len()
        < sweeps + 2
    {
        assert!(tokio::time::Instant::now() < deadline, "the poller stopped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let still = h.invites().get("nudge").await.expect("invite");
    assert_eq!(still.status.as_ref().map(|s| s.attempts), Some(1));

    h.advance(Duration::from_secs(3600 + 60)).await;
    let resent = h
        .wait_invite("nudge", "attempt 2", |i| {
            i.status.as_ref().is_some_and(|s| s.attempts == 2)
        })
        .await;
    let status = resent.status.expect("status");
    assert_ne!(status.handshake.as_ref().map(|h| h.id.clone()), Some(first_id.clone()));
    assert_eq!(h.aws.handshake(&first_id).await.expect("old").state, "CANCELED");
    assert_eq!(status.history.first().map(|r| r.id.clone()), Some(first_id));
    assert_eq!(
        h.invitations_sent(STANDALONE).await,
        2,
        "one resend, not one per reconcile"
    );
    h.wait_events("nudge", &["ReInvited"]).await;
    h.stop().await;
}

#[tokio::test]
async fn a_spec_edit_of_a_ready_invite_moves_every_condition_to_the_new_generation() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite("member", MEMBER, json!({})).await;
    let ready = h.wait_phase("member", InvitePhase::Ready).await;
    assert_eq!(ready.metadata.generation, Some(1));

    // A new note: generation 2. `kubectl wait --for=condition=AccountJoined` only counts a
    // condition of the current generation, so every condition must move to it.
    h.invites()
        .patch(
            "member",
            &patch_params(),
            &Patch::Merge(json!({"spec": {"notes": "billing contact changed"}})),
        )
        .await
        .expect("edit");
    let edited = h
        .wait_invite("member", "Ready at generation 2", |i| {
            i.status
                .as_ref()
                .is_some_and(|s| s.observed_generation == Some(2) && s.phase == Some(InvitePhase::Ready))
        })
        .await;
    assert_eq!(edited.metadata.generation, Some(2));
    let conditions = edited.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
    assert_eq!(conditions.len(), 6, "{conditions:?}");
    for c in &conditions {
        assert_eq!(c.observed_generation, Some(2), "{c:?}");
    }
    assert_eq!(condition(&edited, "AccountJoined").map(|c| c.0), Some("True".into()));

    // Every write names its field manager; the operator's finalizer patch names the operator.
    let managed = edited.metadata.managed_fields.clone().unwrap_or_default();
    let managers: Vec<String> = managed.iter().map(|f| f.manager.clone().unwrap_or_default()).collect();
    assert!(managers.iter().all(|m| !m.is_empty() && m != "unknown"), "{managers:?}");
    let finalizer_owner = managed
        .iter()
        .find(|f| {
            f.fields_v1
                .as_ref()
                .is_some_and(|v| v.0.to_string().contains("f:finalizers"))
        })
        .and_then(|f| f.manager.clone());
    assert_eq!(finalizer_owner.as_deref(), Some("aws-invite-operator"), "{managers:?}");
    h.stop().await;
}
