//! Which BillingProfile changes wake its invites and BillingTransfers (issue 14;
//! src/controller/wakes.rs), on the real API server: the profile's own status writes of its
//! counts (`invitationsInLast24h`, `queuedInvitations` and the Ready message quoting them) wake
//! none of them; a new generation wakes every one. Counted with the operator's
//! `aws_invite_reconciles_total`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use aws_invite_operator::api::{BillingTransfer, InvitePhase, TransferPhase};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::{
    DEADLINE, Harness, NAMESPACE, PROFILE, SECOND, STANDALONE, add_customer_organization, emulator_month, post_params,
    wait_object,
};

/// Reconciles of invites and of BillingTransfers, together.
fn invite_reconciles(h: &Harness) -> u64 {
    let page = h.metrics.encode().expect("metrics");
    ["AwsAccountInvite", "BillingTransfer"]
        .iter()
        .map(|kind| {
            page.lines()
                .find_map(|l| {
                    l.strip_prefix(&format!(r#"aws_invite_reconciles_total{{kind="{kind}"}} "#))?
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .unwrap_or(0)
        })
        .sum()
}

/// The reconcile count once it has not moved for `quiet` (polled every 50 ms, within DEADLINE).
async fn settled(h: &Harness, quiet: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut last = invite_reconciles(h);
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = invite_reconciles(h);
        if now != last {
            (last, since) = (now, tokio::time::Instant::now());
        } else if since.elapsed() >= quiet {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "invite reconciles never settled"
        );
    }
}

#[tokio::test]
async fn profile_status_writes_wake_no_invite_and_a_new_generation_wakes_all() {
    // A long poll interval: no sweep or requeue wakes an invite during the test.
    let h = Harness::start_with_poll_interval(Duration::from_secs(300)).await;
    h.create_profile(json!({"invitationsPerDay": 100})).await;
    let ready = |p: &aws_invite_operator::api::BillingProfile| {
        p.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    h.wait_profile(PROFILE, "Ready", ready).await;
    for (name, account) in [("wake-a", STANDALONE), ("wake-b", SECOND)] {
        h.create_invite(name, account, json!({})).await;
    }
    for name in ["wake-a", "wake-b"] {
        h.wait_phase(name, InvitePhase::Invited).await;
    }
    // And a BillingTransfer of the same profile.
    add_customer_organization(&h, "o-wakecust001", "610000000001").await;
    let (start_month, _) = emulator_month(&h, 2).await;
    let transfer: BillingTransfer = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingTransfer",
        "metadata": {"name": "wake-t", "namespace": NAMESPACE},
        "spec": {"billingProfile": PROFILE, "managementAccountId": "610000000001", "name": "Wake",
            "startMonth": start_month},
    }))
    .expect("transfer");
    let transfers: Api<BillingTransfer> = Api::namespaced(h.env.client(), NAMESPACE);
    transfers
        .create(&post_params(), &transfer)
        .await
        .expect("transfer created");
    wait_object(transfers, "wake-t", "Invited", |t| {
        t.status.as_ref().and_then(|s| s.phase) == Some(TransferPhase::Invited)
    })
    .await;
    let before = settled(&h, Duration::from_secs(2)).await;

    // Status-only writes of what the profile controller writes every interval: counts and the
    // Ready message that quotes them.
    for n in 1..=3u32 {
        let mut status = h
            .profiles()
            .get(PROFILE)
            .await
            .expect("profile")
            .status
            .expect("status");
        status.invitations_in_last24h = n;
        status.queued_invitations = n;
        for c in &mut status.conditions {
            if c.type_ == "Ready" {
                c.message = format!("Credentials reach the organization; {n} of 100 daily invitations used");
            }
        }
        h.profiles()
            .patch_status(
                PROFILE,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .expect("status written");
    }
    // Nothing should happen, so there is no event to wait for: watch the count for a window
    // several times longer than the wake below takes.
    let after_status = settled(&h, Duration::from_secs(3)).await;
    assert_eq!(after_status, before, "invite reconciles woken by profile status writes");

    // A new generation wakes each of the profile's invites and its transfer (the positive
    // control: the same watches, the same path).
    let started = tokio::time::Instant::now();
    h.profiles()
        .patch(
            PROFILE,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"invitationsPerDay": 101}})),
        )
        .await
        .expect("spec changed");
    let deadline = started + DEADLINE;
    while invite_reconciles(&h) < before + 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a new generation woke no invite"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "a new generation woke both invites and the transfer within {:?}",
        started.elapsed()
    );
    h.stop().await;
}
