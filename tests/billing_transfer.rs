//! BillingTransfer end to end (docs/billing-transfer.md): real kube-apiserver, orgs-emulator
//! over the real AWS wire protocol, the controllers in-process. The payer is the harness's
//! profile organization; the customer is the management account of an organization of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use aws_invite_operator::api::{BillingTransfer, TransferPhase};
use chrono::Utc;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use orgs_emulator::{SeedAccount, SeedOrganization};
use serde_json::json;
use support::*;

const CUSTOMER: &str = "777777777777";
const CUSTOMER_ORG: &str = "o-customer001";
const CUSTOMER2: &str = "888888888888";
const CUSTOMER2_ORG: &str = "o-customer002";

fn transfers(h: &Harness, ns: &str) -> Api<BillingTransfer> {
    Api::namespaced(h.env.client(), ns)
}

async fn customers(h: &Harness) {
    for (org, mgmt, member) in [
        (CUSTOMER_ORG, CUSTOMER, "777777777778"),
        (CUSTOMER2_ORG, CUSTOMER2, "888888888889"),
    ] {
        h.aws
            .add_organization(&SeedOrganization {
                id: Some(org.into()),
                management_account: SeedAccount::new(mgmt),
                members: vec![SeedAccount::new(member)],
                account_quota: None,
                feature_set: None,
            })
            .await
            .expect("customer organization");
    }
}

/// "YYYY-MM" of the month `n` months after the emulator's current month, and its first instant.
async fn month(h: &Harness, n: i32) -> (String, chrono::DateTime<Utc>) {
    emulator_month(h, n).await
}

async fn create(h: &Harness, ns: &str, name: &str, spec: serde_json::Value) -> Result<BillingTransfer, kube::Error> {
    let obj: BillingTransfer = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingTransfer",
        "metadata": {"name": name, "namespace": ns}, "spec": spec,
    }))
    .expect("transfer");
    transfers(h, ns).create(&PostParams::default(), &obj).await
}

async fn wait(
    h: &Harness,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(&BillingTransfer) -> bool,
) -> BillingTransfer {
    wait_object(transfers(h, ns), name, what, check).await
}

async fn wait_phase(h: &Harness, ns: &str, name: &str, phase: TransferPhase) -> BillingTransfer {
    wait(h, ns, name, &format!("{phase:?}"), move |t| {
        t.status.as_ref().and_then(|s| s.phase) == Some(phase)
    })
    .await
}

fn cond(t: &BillingTransfer, type_: &str) -> Option<(String, String)> {
    t.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

async fn sends(h: &Harness) -> usize {
    h.executed_calls("InviteOrganizationToTransferResponsibility").await
}

/// Waits until the operator's metrics show `line` (a gauge refreshed every few seconds).
async fn wait_metric(h: &Harness, line: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let metrics = h.metrics.encode().expect("metrics");
        if metrics.lines().any(|l| l == line) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{line} never in\n{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Moves both clocks and touches the transfers (a requeue timer counts real time).
async fn advance(h: &Harness, ns: &str, by: Duration) {
    h.aws.advance_clock(by).await.expect("emulator clock");
    h.clock.advance(by);
    for t in transfers(h, ns).list(&Default::default()).await.expect("list").items {
        let name = t.metadata.name.clone().expect("named");
        let patch = json!({"metadata": {"labels": {"test.awsinvite.io/clock-advanced": by.as_secs().to_string()}}});
        transfers(h, ns)
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("touch");
    }
}

#[tokio::test]
async fn invite_accept_rename_in_effect_and_end() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    customers(&h).await;
    let (start_month, start) = month(&h, 2).await;
    create(
        &h,
        NAMESPACE,
        "acme",
        json!({"billingProfile": PROFILE, "managementAccountId": CUSTOMER, "name": "Acme",
               "startMonth": start_month, "notes": "We pay your bill", "tags": {"customer": "acme"}}),
    )
    .await
    .expect("created");

    let invited = wait_phase(&h, NAMESPACE, "acme", TransferPhase::Invited).await;
    let status = invited.status.clone().expect("status");
    assert_eq!(status.attempts, 1);
    assert_eq!(status.start_month.as_deref(), Some(start_month.as_str()));
    assert_eq!(status.transfer.as_ref().map(|t| t.status.as_str()), Some("REQUESTED"));
    assert_eq!(status.handshake.as_ref().map(|h| h.state.as_str()), Some("OPEN"));
    // Waiting for the customer is neither Reconciling nor Stalled, and not Ready=False.
    assert_eq!(cond(&invited, "Reconciling").map(|c| c.0).as_deref(), Some("False"));
    assert_eq!(cond(&invited, "Stalled").map(|c| c.0).as_deref(), Some("False"));
    assert_eq!(cond(&invited, "Ready"), None);
    assert_eq!(cond(&invited, "InvitationSent").map(|c| c.0).as_deref(), Some("True"));
    assert_eq!(sends(&h).await, 1);

    // The customer's management account accepts.
    h.aws.accept_transfer_for(CUSTOMER).await.expect("accept");
    let accepted = wait_phase(&h, NAMESPACE, "acme", TransferPhase::Accepted).await;
    assert_eq!(cond(&accepted, "Ready"), Some(("True".into(), "Accepted".into())));
    assert_eq!(cond(&accepted, "InEffect").map(|c| c.0).as_deref(), Some("False"));

    // A rename becomes UpdateResponsibilityTransfer.
    transfers(&h, NAMESPACE)
        .patch(
            "acme",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"name": "Acme EMEA"}})),
        )
        .await
        .expect("rename");
    wait(&h, NAMESPACE, "acme", "renamed", |t| {
        t.status
            .as_ref()
            .and_then(|s| s.transfer.as_ref())
            .and_then(|x| x.name.as_deref())
            == Some("Acme EMEA")
    })
    .await;
    assert_eq!(h.aws.transfers().await.expect("transfers")[0].name, "Acme EMEA");

    // The start month begins on the emulator clock: in effect.
    let now = h.aws.clock().await.expect("clock").now;
    advance(
        &h,
        NAMESPACE,
        Duration::from_secs(((start - now).num_seconds() + 3600) as u64),
    )
    .await;
    let in_effect = wait_phase(&h, NAMESPACE, "acme", TransferPhase::InEffect).await;
    assert_eq!(cond(&in_effect, "InEffect"), Some(("True".into(), "InEffect".into())));

    // endMonth withdraws it at the end of that month.
    transfers(&h, NAMESPACE)
        .patch(
            "acme",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"endMonth": start_month}})),
        )
        .await
        .expect("end");
    let withdrawn = wait_phase(&h, NAMESPACE, "acme", TransferPhase::Withdrawn).await;
    let aws = &h.aws.transfers().await.expect("transfers")[0];
    assert_eq!(aws.status, "WITHDRAWN");
    let (_, next) = month(&h, 1).await;
    assert_eq!(aws.end, Some(next - chrono::TimeDelta::seconds(1)));
    assert_eq!(cond(&withdrawn, "Ready").map(|c| c.0).as_deref(), Some("True"));
    h.wait_events("acme", &["InvitationSent", "Accepted", "Renamed", "Withdrawn"])
        .await;
    // Still exactly one invitation.
    assert_eq!(sends(&h).await, 1);
    // The metrics (docs/metrics.md) counted it: one sent, one accepted; the phase gauge is
    // refreshed every 5 s.
    let metrics = h.metrics.encode().expect("metrics");
    for line in [
        format!(r#"aws_invite_transfer_invitations_sent_total{{profile="{PROFILE}"}} 1"#),
        format!(r#"aws_invite_transfer_invitation_outcomes_total{{profile="{PROFILE}",outcome="accepted"}} 1"#),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    wait_metric(&h, r#"aws_invite_billing_transfers{phase="Withdrawn"} 1"#).await;
    h.stop().await;
}

#[tokio::test]
async fn declined_not_allowed_adopted_and_deleted() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    customers(&h).await;
    let (start_month, start) = month(&h, 2).await;

    // An invitation an earlier run sent (and never recorded) is adopted, not sent again.
    let payer = aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::Config::builder()
            .behavior_version(aws_sdk_organizations::config::BehaviorVersion::latest())
            .endpoint_url(h.emulator.url())
            .region(aws_sdk_organizations::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_organizations::config::Credentials::new(
                MGMT, "x", None, None, "test",
            ))
            .build(),
    );
    payer
        .invite_organization_to_transfer_responsibility()
        .r#type(aws_sdk_organizations::types::ResponsibilityTransferType::Billing)
        .target(
            aws_sdk_organizations::types::HandshakeParty::builder()
                .r#type(aws_sdk_organizations::types::HandshakePartyType::Account)
                .id(CUSTOMER2)
                .build()
                .expect("party"),
        )
        .start_timestamp(aws_sdk_organizations::primitives::DateTime::from_secs(
            start.timestamp(),
        ))
        .source_name("Beta")
        .send()
        .await
        .expect("earlier run's invitation");
    create(
        &h,
        NAMESPACE,
        "beta",
        json!({"billingProfile": PROFILE, "managementAccountId": CUSTOMER2, "name": "Beta", "startMonth": start_month}),
    )
    .await
    .expect("created");
    let adopted = wait_phase(&h, NAMESPACE, "beta", TransferPhase::Invited).await;
    assert_eq!(adopted.status.as_ref().map(|s| s.attempts), Some(1));
    assert_eq!(sends(&h).await, 1, "adopted, not sent again");
    h.wait_events("beta", &["Adopted"]).await;

    // Deleting with the default policy cancels the unanswered invitation.
    transfers(&h, NAMESPACE)
        .delete("beta", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let gone = transfers(&h, NAMESPACE).get_opt("beta").await.expect("get").is_none();
        let canceled = h.aws.transfers().await.expect("transfers")[0].status == "CANCELED";
        if gone && canceled {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gone {gone}, canceled {canceled}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Declined, with the default policy (no re-invite on decline): Stalled.
    create(
        &h,
        NAMESPACE,
        "acme",
        json!({"billingProfile": PROFILE, "managementAccountId": CUSTOMER, "name": "Acme", "startMonth": start_month}),
    )
    .await
    .expect("created");
    wait_phase(&h, NAMESPACE, "acme", TransferPhase::Invited).await;
    h.aws.decline_transfer_for(CUSTOMER).await.expect("decline");
    let declined = wait_phase(&h, NAMESPACE, "acme", TransferPhase::Failed).await;
    let metrics = h.metrics.encode().expect("metrics");
    for outcome in ["declined", "canceled"] {
        let line =
            format!(r#"aws_invite_transfer_invitation_outcomes_total{{profile="{PROFILE}",outcome="{outcome}"}} 1"#);
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    assert_eq!(cond(&declined, "Stalled"), Some(("True".into(), "Declined".into())));
    assert_eq!(cond(&declined, "Reconciling").map(|c| c.0).as_deref(), Some("False"));

    // A namespace the profile does not allow: Stalled, and no AWS call.
    h.env
        .create_namespace("other", [("team", "other")])
        .await
        .expect("namespace");
    let before = sends(&h).await;
    create(
        &h,
        "other",
        "gamma",
        json!({"billingProfile": PROFILE, "managementAccountId": CUSTOMER2, "name": "Gamma", "startMonth": start_month}),
    )
    .await
    .expect("created");
    let refused = wait_phase(&h, "other", "gamma", TransferPhase::Failed).await;
    assert_eq!(
        cond(&refused, "Stalled"),
        Some(("True".into(), "BillingProfileNotAllowed".into()))
    );
    assert_eq!(sends(&h).await, before);
    h.stop().await;
}

#[tokio::test]
async fn an_expired_invitation_is_sent_again_for_the_next_month() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    customers(&h).await;
    let (start_month, start) = month(&h, 2).await;
    create(
        &h,
        NAMESPACE,
        "acme",
        json!({"billingProfile": PROFILE, "managementAccountId": CUSTOMER, "name": "Acme", "startMonth": start_month}),
    )
    .await
    .expect("created");
    wait_phase(&h, NAMESPACE, "acme", TransferPhase::Invited).await;
    // Past the acceptance deadline (24 h before the start).
    let now = h.aws.clock().await.expect("clock").now;
    let deadline = start - chrono::TimeDelta::hours(24);
    advance(
        &h,
        NAMESPACE,
        Duration::from_secs(((deadline - now).num_seconds() + 60) as u64),
    )
    .await;
    let (next_month, _) = month(&h, 2).await;
    let again = wait(&h, NAMESPACE, "acme", "re-invited", |t| {
        t.status.as_ref().is_some_and(|s| s.attempts == 2)
    })
    .await;
    let status = again.status.expect("status");
    assert_eq!(status.start_month.as_deref(), Some(next_month.as_str()));
    assert_eq!(status.transfer.as_ref().map(|t| t.status.as_str()), Some("REQUESTED"));
    let all = h.aws.transfers().await.expect("transfers");
    let statuses: Vec<&str> = all.iter().map(|t| t.status.as_str()).collect();
    assert_eq!(statuses, ["EXPIRED", "REQUESTED"]);
    assert_eq!(sends(&h).await, 2);
    let metrics = h.metrics.encode().expect("metrics");
    for line in [
        format!(r#"aws_invite_transfer_invitations_sent_total{{profile="{PROFILE}"}} 2"#),
        format!(r#"aws_invite_transfer_invitation_outcomes_total{{profile="{PROFILE}",outcome="expired"}} 1"#),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    h.wait_events("acme", &["InvitationSent", "Expired"]).await;
    h.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_at_admission_with_the_field_named() {
    let h = Harness::start().await;
    let base =
        json!({"billingProfile": PROFILE, "managementAccountId": CUSTOMER, "name": "Acme", "startMonth": "2027-01"});
    let cases = [
        (
            json!({"email": "owner@example.com"}),
            "exactly one of managementAccountId and email",
        ),
        (json!({"startMonth": "2027-13"}), "startMonth must be a month"),
        (json!({"endMonth": "2026-12"}), "endMonth must not be before startMonth"),
        (json!({"name": "caf\u{e9}"}), "name must be 1 to 128 printable ASCII"),
        (
            json!({"managementAccountId": "12345"}),
            "managementAccountId must be exactly 12 digits",
        ),
        (json!({"notes": "x".repeat(1025)}), "notes must be at most 1024"),
    ];
    for (i, (patch, message)) in cases.into_iter().enumerate() {
        let mut spec = base.clone();
        for (k, v) in patch.as_object().expect("object") {
            spec[k] = v.clone();
        }
        let err = create(&h, NAMESPACE, &format!("bad-{i}"), spec)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains(message), "{message}: {err}");
    }
    create(&h, NAMESPACE, "ok", base).await.expect("valid");
    let err = transfers(&h, NAMESPACE)
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"billingProfile": "other"}})),
        )
        .await
        .expect_err("immutable");
    assert!(err.to_string().contains("billingProfile is immutable"), "{err}");
    h.stop().await;
}

/// Issue 13 item 2: transfers are observed in the per-profile sweep, not per resource. With
/// five open invitations of one profile, every poll interval costs one
/// ListInboundResponsibilityTransfers and one TRANSFER_RESPONSIBILITY
/// ListHandshakesForOrganization (plus the invite sweep's one), whatever the number of
/// BillingTransfers; the emulator's call log counts them.
#[tokio::test]
async fn transfers_are_swept_once_per_profile_per_poll_interval() {
    const N: usize = 5;
    const SWEEPS: usize = 4;
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    let (start_month, _) = month(&h, 2).await;
    for i in 0..N {
        let mgmt = format!("60000000000{i}");
        h.aws
            .add_organization(&SeedOrganization {
                id: Some(format!("o-sweepcust{i:03}")),
                management_account: SeedAccount::new(&mgmt),
                members: vec![],
                account_quota: None,
                feature_set: None,
            })
            .await
            .expect("customer organization");
        create(
            &h,
            NAMESPACE,
            &format!("customer-{i}"),
            json!({"billingProfile": PROFILE, "managementAccountId": mgmt, "name": format!("Customer {i}"),
                   "startMonth": start_month}),
        )
        .await
        .expect("created");
    }
    for i in 0..N {
        wait_phase(&h, NAMESPACE, &format!("customer-{i}"), TransferPhase::Invited).await;
    }
    assert_eq!(sends(&h).await, N);

    // Steady state: count the calls between now and SWEEPS more inbound sweeps.
    let count = |calls: &[orgs_emulator::CallRecord], op: &str, after: u64| {
        calls.iter().filter(|c| c.seq > after && c.operation == op).count()
    };
    let first = h.aws.calls().await.expect("calls");
    let after = first.iter().map(|c| c.seq).max().unwrap_or(0);
    let started = tokio::time::Instant::now();
    let deadline = started + DEADLINE;
    let calls = loop {
        let calls = h.aws.calls().await.expect("calls");
        if count(&calls, "ListInboundResponsibilityTransfers", after) >= SWEEPS {
            break calls;
        }
        assert!(tokio::time::Instant::now() < deadline, "the transfer sweep stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    // Cut the window at the last of those sweeps' calls.
    let end = calls
        .iter()
        .filter(|c| c.seq > after && c.operation == "ListInboundResponsibilityTransfers")
        .map(|c| c.seq)
        .nth(SWEEPS - 1)
        .expect("sweeps")
        + 1;
    let window: Vec<_> = calls
        .iter()
        .filter(|c| c.seq > after && c.seq <= end)
        .cloned()
        .collect();
    let by_op = |op: &str| window.iter().filter(|c| c.operation == op).count();
    let transfer_sweeps = by_op("ListInboundResponsibilityTransfers");
    let handshake_lists = by_op("ListHandshakesForOrganization");
    eprintln!(
        "{N} open transfers, {SWEEPS} transfer sweeps in {elapsed:?} (poll interval {:?}): {} calls: {:?}",
        h.poll_interval,
        window.len(),
        window.iter().map(|c| c.operation.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(transfer_sweeps, SWEEPS);
    // One transfer-handshake list per transfer sweep, one invite sweep per interval (the
    // window may hold one more of either at its edges).
    assert!(handshake_lists <= 2 * SWEEPS + 2, "{handshake_lists} handshake lists");
    // The profile's own check (DescribeOrganization) is per profile too.
    assert!(by_op("DescribeOrganization") <= SWEEPS + 1);
    // The invite sweep's membership listing is per profile too (one page here).
    assert!(by_op("ListAccounts") <= SWEEPS + 1);
    // Nothing per resource: no describe, no send, no other transfer call.
    let others: Vec<_> = window
        .iter()
        .filter(|c| {
            !matches!(
                c.operation.as_str(),
                "ListInboundResponsibilityTransfers"
                    | "ListHandshakesForOrganization"
                    | "ListAccounts"
                    | "DescribeOrganization"
            )
        })
        .map(|c| c.operation.clone())
        .collect();
    assert!(others.is_empty(), "per-resource calls: {others:?}");
    // SWEEPS sweeps need at least SWEEPS - 1 poll intervals (a reconcile never sweeps when a
    // sweep is less than half an interval old).
    assert!(
        elapsed >= h.poll_interval * (SWEEPS as u32 - 2),
        "{SWEEPS} sweeps in {elapsed:?}: more than one per interval"
    );
    assert_eq!(sends(&h).await, N, "nothing sent again");
    h.stop().await;
}

/// Waits until the BillingTransfer is gone (the operator removed its finalizer).
async fn wait_gone(h: &Harness, ns: &str, name: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while transfers(h, ns).get_opt(name).await.expect("get").is_some() {
        assert!(tokio::time::Instant::now() < deadline, "{name} was never released");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The AWS status of the transfer to `customer` (the emulator's view).
async fn aws_status(h: &Harness, customer: &str) -> (String, Option<chrono::DateTime<Utc>>) {
    let all = h.aws.transfers().await.expect("transfers");
    let t = all
        .iter()
        .rev()
        .find(|t| t.source_account_id.as_deref() == Some(customer))
        .unwrap_or_else(|| panic!("no transfer to {customer}: {all:?}"));
    (t.status.clone(), t.end)
}

/// Deleting with each `deletionPolicy` (issue 13 item 4): the default `CancelPending` never
/// ends an accepted transfer; `Withdraw` withdraws it (ending at the end of its start month,
/// as it has not started); `Orphan` leaves even an unanswered invitation open.
#[tokio::test]
async fn delete_with_each_policy() {
    const CUSTOMER3: &str = "999999999999";
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    customers(&h).await;
    h.aws
        .add_organization(&SeedOrganization {
            id: Some("o-customer003".into()),
            management_account: SeedAccount::new(CUSTOMER3),
            members: vec![],
            account_quota: None,
            feature_set: None,
        })
        .await
        .expect("customer organization");
    let (start_month, start) = month(&h, 2).await;
    for (name, customer, policy) in [
        ("keep", CUSTOMER, "CancelPending"),
        ("withdraw", CUSTOMER2, "Withdraw"),
        ("orphan", CUSTOMER3, "Orphan"),
    ] {
        create(
            &h,
            NAMESPACE,
            name,
            json!({"billingProfile": PROFILE, "managementAccountId": customer, "name": name,
                   "startMonth": start_month, "deletionPolicy": policy}),
        )
        .await
        .expect("created");
        wait_phase(&h, NAMESPACE, name, TransferPhase::Invited).await;
    }
    for customer in [CUSTOMER, CUSTOMER2] {
        h.aws.accept_transfer_for(customer).await.expect("accept");
    }
    wait_phase(&h, NAMESPACE, "keep", TransferPhase::Accepted).await;
    wait_phase(&h, NAMESPACE, "withdraw", TransferPhase::Accepted).await;
    let cancels_before = h.aws.calls_for("CancelHandshake").await.expect("calls").len();

    for name in ["keep", "withdraw", "orphan"] {
        transfers(&h, NAMESPACE)
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
        wait_gone(&h, NAMESPACE, name).await;
    }
    // CancelPending: the accepted transfer stays.
    assert_eq!(aws_status(&h, CUSTOMER).await, ("ACCEPTED".into(), None));
    // Withdraw: withdrawn, ending at 23:59:59 UTC on the last day of the start month
    // (AWS: "the end date is 23:59:59 UTC on the last day of the month specified").
    let (_, after_start) = month(&h, 3).await;
    assert_eq!(
        aws_status(&h, CUSTOMER2).await,
        ("WITHDRAWN".into(), Some(after_start - chrono::TimeDelta::seconds(1)))
    );
    assert!(after_start > start);
    // Orphan: the unanswered invitation is still open, and nothing was canceled.
    assert_eq!(aws_status(&h, CUSTOMER3).await.0, "REQUESTED");
    assert_eq!(
        h.aws.calls_for("CancelHandshake").await.expect("calls").len(),
        cancels_before
    );
    assert_eq!(
        h.aws
            .calls_for("TerminateResponsibilityTransfer")
            .await
            .expect("calls")
            .len(),
        1
    );
    assert_eq!(sends(&h).await, 3);
    h.stop().await;
}
