//! Two BillingProfiles naming the same organization share one send lock, one daily budget and
//! one handshake sweep (issue 14): together they never send more than the smaller
//! `invitationsPerDay` within 24 hours, and the organization's handshakes are listed once per
//! poll interval, not once per profile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use aws_invite_operator::api::{BillingProfile, InvitePhase};
use serde_json::json;
use support::{DEADLINE, Harness, MGMT, NAMESPACE, ORG, PROFILE, post_params};

const SECOND_PROFILE: &str = "payer-second";
/// The smaller of the two profiles' `invitationsPerDay`.
const SMALLER: usize = 2;
const INVITES_PER_PROFILE: usize = 3;

fn account(i: usize) -> String {
    format!("5000000000{i:02}")
}

fn ready(p: &BillingProfile) -> bool {
    p.status
        .as_ref()
        .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test]
async fn two_profiles_of_one_organization_share_its_budget_and_its_sweep() {
    let interval = Duration::from_secs(2);
    let h = Harness::start_with_poll_interval(interval).await;
    h.create_profile(json!({"invitationsPerDay": SMALLER})).await;
    let second: BillingProfile = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile",
        "metadata": {"name": SECOND_PROFILE},
        "spec": {"managementAccountId": MGMT, "organizationId": ORG, "endpointUrl": h.emulator.url(),
                 "allowedNamespaces": {"namespaces": [NAMESPACE]}, "invitationsPerDay": 5},
    }))
    .expect("profile");
    h.profiles()
        .create(&post_params(), &second)
        .await
        .expect("second profile");
    h.wait_profile(PROFILE, "Ready", ready).await;
    h.wait_profile(SECOND_PROFILE, "Ready", ready).await;

    // Both profiles' invites at once, each profile's own budget large enough for its three.
    let mut names = Vec::new();
    for (p, profile) in [PROFILE, SECOND_PROFILE].iter().enumerate() {
        for i in 0..INVITES_PER_PROFILE {
            let n = p * INVITES_PER_PROFILE + i;
            let name = format!("shared-{n}");
            h.create_invite(&name, &account(n), json!({"billingProfile": profile}))
                .await;
            names.push(name);
        }
    }
    let phases = || async {
        let list = h.invites().list(&Default::default()).await.expect("list").items;
        let count = |phase| {
            list.iter()
                .filter(|i| i.status.as_ref().and_then(|s| s.phase) == Some(phase))
                .count()
        };
        (count(InvitePhase::Invited), count(InvitePhase::Queued))
    };
    let sent = || h.executed_calls("InviteAccountToOrganization");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (invited, queued) = phases().await;
        assert!(sent().await <= SMALLER, "more invitations than the smaller daily limit");
        if invited == SMALLER && queued == names.len() - SMALLER {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{invited} Invited, {queued} Queued of {} invites",
            names.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Over a few poll intervals: the budget stays spent, and the organization is swept once per
    // interval (two profiles, one sweep; each sweep is one page here: fewer than 20 handshakes).
    h.aws.clear_calls().await.expect("clear the call log");
    let intervals = 5;
    let window = tokio::time::Instant::now() + interval * intervals;
    while tokio::time::Instant::now() < window {
        assert_eq!(sent().await, 0, "no invitation beyond the organization's budget");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sweeps = h
        .aws
        .calls_for("ListHandshakesForOrganization")
        .await
        .expect("call log")
        .len();
    assert!(
        sweeps <= intervals as usize + 1,
        "{sweeps} ListHandshakesForOrganization calls in {intervals} intervals: one sweep per organization per \
         interval, not one per profile"
    );
    assert!(
        sweeps >= intervals as usize - 1,
        "the organization is still swept: {sweeps}"
    );
    h.stop().await;
}
