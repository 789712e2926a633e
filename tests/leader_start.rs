//! A newly started operator (a restart or a new leader) costs one ListHandshakesForOrganization
//! sweep (and one ListAccounts membership sweep) per organization, not one per reconcile and no
//! DescribeAccount per invite (issue 14): every reconcile that finds the profile's index not
//! yet synced waits for the sweep in flight.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_invite_operator::api::{BillingProfileSpec, InvitePhase};
use aws_invite_operator::aws::ProfileClients;
use serde_json::json;
use support::{DEADLINE, Harness, MGMT, PROFILE, condition};

/// Invitations that already exist when the operator starts.
const N: usize = 30;
/// ListHandshakesForOrganization returns at most 20 handshakes per page (MaxResults 1-20 in the
/// Organizations API reference and botocore's organizations service model); the operator asks for
/// full pages, so one sweep of `n` handshakes is ceil(n/20) calls.
const PAGE: usize = 20;

fn account(i: usize) -> String {
    format!("5000000000{i:02}")
}

#[tokio::test]
async fn a_restart_costs_one_sweep_not_one_per_invite() {
    // A long poll interval, so the periodic sweeps do not hide the start's.
    let interval = Duration::from_secs(30);
    let mut h = Harness::start_with_poll_interval(interval).await;
    h.create_profile(json!({"invitationsPerDay": 100})).await;
    h.wait_profile(PROFILE, "Ready", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
    .await;
    h.stop_operator().await;

    // The invitations exist in AWS (sent by an earlier run), the invites have no status yet.
    let spec: BillingProfileSpec =
        serde_json::from_value(json!({"managementAccountId": MGMT, "endpointUrl": h.emulator.url()})).expect("spec");
    let clients = ProfileClients::connect(&spec, None).await.expect("connect");
    for i in 0..N {
        clients
            .invite_account(&account(i), None, &BTreeMap::new())
            .await
            .expect("invitation sent before the operator starts");
    }
    for i in 0..N {
        h.create_invite(&format!("existing-{i:02}"), &account(i), json!({}))
            .await;
    }
    h.aws.clear_calls().await.expect("clear the call log");

    let started = tokio::time::Instant::now();
    h.start_operator();
    let deadline = started + DEADLINE;
    loop {
        let invites = h.invites().list(&Default::default()).await.expect("list").items;
        let invited = invites
            .iter()
            .filter(|i| i.status.as_ref().and_then(|s| s.phase) == Some(InvitePhase::Invited))
            .count();
        if invited == N {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{invited} of {N} invites adopted their invitation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let sweeps = h.aws.calls_for("ListHandshakesForOrganization").await.expect("calls");
    let pages = N.div_ceil(PAGE);
    // One sweep at the start, plus one per poll interval elapsed.
    let intervals = usize::try_from(elapsed.as_secs() / interval.as_secs()).expect("small");
    assert_eq!(
        sweeps.len(),
        pages * (1 + intervals),
        "ListHandshakesForOrganization calls in the {elapsed:?} until all {N} invites were Invited"
    );

    // Membership came from the same sweep's ListAccounts (the organization's 2 accounts: one
    // page per sweep), not from one DescribeAccount per invite (issue 14).
    let member_pages = h.aws.calls_for("ListAccounts").await.expect("calls");
    assert_eq!(member_pages.len(), 1 + intervals, "ListAccounts calls in {elapsed:?}");
    let describes = h.aws.calls_for("DescribeAccount").await.expect("calls");
    assert!(describes.is_empty(), "{} DescribeAccount calls", describes.len());

    // Every invite adopted the existing invitation: none was sent again.
    assert!(
        h.aws
            .calls_for("InviteAccountToOrganization")
            .await
            .expect("calls")
            .is_empty()
    );
    let invite = h.invites().get("existing-00").await.expect("get");
    assert_eq!(condition(&invite, "InvitationSent").map(|c| c.0), Some("True".into()));
    h.stop().await;
}
