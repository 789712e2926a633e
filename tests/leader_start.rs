//! A newly started operator (a restart or a new leader) costs one ListHandshakesForOrganization
//! sweep (and one ListAccounts membership sweep) per organization, not one per reconcile and no
//! DescribeAccount per invite (issue 14): a reconcile that finds its organization's index not
//! yet synced leaves it to the organization's first sweep, which wakes every invite when it
//! ends; none holds a worker while it waits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_invite_operator::api::{AwsAccountInvite, BillingProfileSpec, InvitePhase};
use aws_invite_operator::aws::ProfileClients;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use orgs_emulator::api::{Fault, FaultKind};
use serde_json::json;
use support::{DEADLINE, Harness, MGMT, OPERATOR_NAMESPACE, PROFILE, condition};

/// Invitations that already exist when the operator starts.
const N: usize = 30;
/// ListHandshakesForOrganization returns at most 20 handshakes per page (MaxResults 1-20 in the
/// Organizations API reference and botocore's organizations service model); the operator asks for
/// full pages, so one sweep of `n` handshakes is ceil(n/20) calls.
const PAGE: usize = 20;

fn account(i: usize) -> String {
    format!("5000000000{i:02}")
}

/// Stops the operator of a harness whose profile is Ready, sends `n` invitations as an earlier
/// run would have, and creates their invites (no status yet).
async fn invitations_sent_before_a_restart(h: &mut Harness, n: usize) {
    h.create_profile(json!({"invitationsPerDay": 100})).await;
    h.wait_profile(PROFILE, "Ready", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
    .await;
    h.stop_operator().await;
    let spec: BillingProfileSpec =
        serde_json::from_value(json!({"managementAccountId": MGMT, "endpointUrl": h.emulator.url()})).expect("spec");
    let clients = ProfileClients::connect(&spec, None).await.expect("connect");
    for i in 0..n {
        clients
            .invite_account(&account(i), None, &BTreeMap::new())
            .await
            .expect("invitation sent before the operator starts");
    }
    for i in 0..n {
        h.create_invite(&format!("existing-{i:02}"), &account(i), json!({}))
            .await;
    }
}

fn phase(invite: &AwsAccountInvite) -> Option<InvitePhase> {
    invite.status.as_ref().and_then(|s| s.phase)
}

#[tokio::test]
async fn waiting_for_the_first_sweep_holds_no_worker() {
    // One worker, a slow first sweep (two pages, 1.5 s each) and a poll interval far longer
    // than the test: an invite that held the worker while it waited for the sweep would keep
    // every other invite from being reconciled until the sweep ended, and an invite that
    // waited for the next poll tick instead of the sweep's wake-up would take a minute.
    let interval = Duration::from_secs(120);
    let mut h = Harness::start_with_poll_interval(interval).await;
    invitations_sent_before_a_restart(&mut h, N).await;
    let pages = u32::try_from(N.div_ceil(PAGE)).expect("small");
    h.aws
        .add_fault(
            &Fault::new("ListHandshakesForOrganization", FaultKind::Latency)
                .times(pages)
                .latency_ms(1500),
        )
        .await
        .expect("slow sweep");
    h.aws.clear_calls().await.expect("clear the call log");
    h.concurrency = 1;
    let started = tokio::time::Instant::now();
    h.start_operator();

    // The moment the first invite is Invited, the sweep has ended: by then every invite was
    // reconciled while it ran (its finalizer added and its account claimed).
    let invites = loop {
        let invites = h.invites().list(&Default::default()).await.expect("list").items;
        if invites.iter().any(|i| phase(i) == Some(InvitePhase::Invited)) {
            break invites;
        }
        assert!(started.elapsed() < DEADLINE, "no invite adopted its invitation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let with_finalizer = invites
        .iter()
        .filter(|i| i.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty()))
        .count();
    assert_eq!(
        with_finalizer, N,
        "invites with the finalizer when the first sweep ended"
    );
    let leases: Api<Lease> = Api::namespaced(h.env.client(), OPERATOR_NAMESPACE);
    let claims = leases
        .list(&Default::default())
        .await
        .expect("leases")
        .items
        .into_iter()
        .filter(|l| l.metadata.name.as_deref().is_some_and(|n| n.starts_with("claim-")))
        .count();
    assert_eq!(claims, N, "accounts claimed when the first sweep ended");

    // The sweep's end woke every invite: all Invited long before the next poll tick.
    loop {
        let invites = h.invites().list(&Default::default()).await.expect("list").items;
        let invited = invites
            .iter()
            .filter(|i| phase(i) == Some(InvitePhase::Invited))
            .count();
        if invited == N {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{invited} of {N} invites adopted their invitation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        started.elapsed() < interval / 2,
        "all Invited after {:?}",
        started.elapsed()
    );
    let sweeps = h.aws.calls_for("ListHandshakesForOrganization").await.expect("calls");
    assert_eq!(sweeps.len(), N.div_ceil(PAGE), "one sweep at the start");
    h.stop().await;
}

#[tokio::test]
async fn a_restart_costs_one_sweep_not_one_per_invite() {
    // A long poll interval, so the periodic sweeps do not hide the start's.
    let interval = Duration::from_secs(30);
    let mut h = Harness::start_with_poll_interval(interval).await;
    // The invitations exist in AWS (sent by an earlier run), the invites have no status yet.
    invitations_sent_before_a_restart(&mut h, N).await;
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

/// How many times the API server answered a GET of a Secret, from its own metrics
/// (`apiserver_request_total`, the Kubernetes API server's request counter).
async fn secret_reads(h: &Harness) -> u64 {
    let request = http::Request::get("/metrics").body(Vec::new()).expect("request");
    let text = h.env.client().request_text(request).await.expect("API server metrics");
    text.lines()
        .filter(|l| {
            l.starts_with("apiserver_request_total{")
                && l.contains(r#"resource="secrets""#)
                && l.contains(r#"verb="GET""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

#[tokio::test]
async fn invites_share_one_read_of_the_credentials_secret() {
    // Every reconcile connects with the profile's credentials; the Secret holding them is read
    // once per poll interval at most (here 30 s), not once per reconcile of every invite.
    let interval = Duration::from_secs(30);
    let h = Harness::start_with_poll_interval(interval).await;
    let mut spec = h.add_second_payer("payer-keys").await;
    spec["invitationsPerDay"] = json!(100);
    h.create_profile(spec).await;
    h.wait_profile(PROFILE, "Ready", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
    .await;
    let before = secret_reads(&h).await;
    let started = tokio::time::Instant::now();
    for i in 0..N {
        h.create_invite(&format!("fresh-{i:02}"), &account(i), json!({})).await;
    }
    // Each invite is reconciled at least twice (finalizer, then the send).
    for i in 0..N {
        h.wait_phase(&format!("fresh-{i:02}"), InvitePhase::Invited).await;
    }
    let reads = secret_reads(&h).await - before;
    let elapsed = started.elapsed();
    let intervals = elapsed.as_secs() / interval.as_secs();
    assert!(
        reads <= 1 + intervals,
        "{reads} reads of the credentials Secret for {N} invites in {elapsed:?}"
    );
    h.stop().await;
}
