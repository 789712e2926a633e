//! Issue 12, item 3: tenants sharing a BillingProfile cannot act on each other's accounts. One
//! (organization, account) pair belongs to the first invite that claims it (docs/security.md,
//! "Account claims"); an invite of another namespace naming it stalls with `AccountClaimed`,
//! learns nothing about the account and makes no AWS call about it: no adoption, no cancel on
//! deletion, no resend, no membership or IAM read. Each attack runs on a real kube-apiserver and
//! the orgs-emulator over the real AWS wire protocols.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use aws_invite_operator::api::{AwsAccountInvite, BillingTransfer, InvitePhase, TransferPhase};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, Patch};
use serde_json::json;
use support::*;

/// The second tenant's namespace.
const TEAM_B: &str = "team-b";
/// The claim Lease of (ORG, STANDALONE) in the operator's namespace.
const CLAIM: &str = "claim-o-exampleorg1-222222222222";

fn team_b(h: &Harness) -> Api<AwsAccountInvite> {
    Api::namespaced(h.env.client(), TEAM_B)
}

/// A profile both tenants may use, and the second tenant's namespace.
async fn shared_profile(h: &Harness) {
    h.env
        .create_namespace(TEAM_B, [("team", "b")])
        .await
        .expect("namespace");
    h.create_profile(json!({"allowedNamespaces": {"namespaces": [NAMESPACE, TEAM_B]}}))
        .await;
}

/// Tenant B's invite for `account`, with IAM access to check (a probe of the member account
/// through the payer's member-access role) and, if `resend`, a reinvite request.
async fn create_b(h: &Harness, name: &str, account: &str, resend: bool) {
    let annotations = if resend {
        json!({"awsinvite.io/reinvite": "no-email"})
    } else {
        json!({})
    };
    let invite: AwsAccountInvite = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
        "metadata": {"name": name, "namespace": TEAM_B, "annotations": annotations},
        "spec": {"billingProfile": PROFILE, "accountId": account,
            "iamAccess": {"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                "externalId": "ext-123"}},
    }))
    .expect("invite");
    team_b(h).create(&post_params(), &invite).await.expect("invite created");
}

async fn wait_b(h: &Harness, name: &str, what: &str, check: impl Fn(&AwsAccountInvite) -> bool) -> AwsAccountInvite {
    wait_object(team_b(h), name, what, check).await
}

fn stalled_on_claim(invite: &AwsAccountInvite) -> bool {
    condition(invite, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "AccountClaimed")
}

/// What tenant B's stalled invite may show: its own reason and nothing about the account or
/// the owner.
fn assert_learns_nothing(invite: &AwsAccountInvite, owner_handshake: &str) {
    let status = invite.status.clone().expect("status");
    assert!(status.handshake.is_none(), "{status:?}");
    assert!(status.history.is_empty(), "{status:?}");
    assert!(status.joined_at.is_none(), "{status:?}");
    assert!(status.organization_id.is_none(), "{status:?}");
    assert_eq!(status.attempts, 0, "{status:?}");
    assert_eq!(status.phase, Some(InvitePhase::Failed), "{status:?}");
    for c in &status.conditions {
        for secret in [NAMESPACE, "acme", owner_handshake, "Invited", "member"] {
            assert!(
                !c.message.contains(secret),
                "condition {} tells {secret:?}: {}",
                c.type_,
                c.message
            );
        }
    }
}

async fn calls(h: &Harness, operation: &str) -> usize {
    h.aws.calls_for(operation).await.expect("call log").len()
}

async fn claim_holder(h: &Harness) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(h.env.client(), OPERATOR_NAMESPACE);
    leases
        .get_opt(CLAIM)
        .await
        .expect("lease")
        .and_then(|l| l.spec?.holder_identity)
}

#[tokio::test]
async fn a_tenant_cannot_adopt_cancel_resend_or_probe_another_tenants_account() {
    let mut h = Harness::start().await;
    shared_profile(&h).await;

    // Tenant A invites the account first: it owns (organization, account).
    h.create_invite("acme", STANDALONE, json!({})).await;
    let a = h.wait_phase("acme", InvitePhase::Invited).await;
    let handshake = a.status.unwrap().handshake.unwrap().id;
    assert_eq!(claim_holder(&h).await.as_deref(), Some("billing/acme"));

    // Tenant B names it (with a resend request and an IAM check): stalled, nothing learnt.
    create_b(&h, "acme-b", STANDALONE, true).await;
    let b = wait_b(&h, "acme-b", "Stalled AccountClaimed", stalled_on_claim).await;
    assert_learns_nothing(&b, &handshake);
    assert_eq!(h.invitations_sent(STANDALONE).await, 1, "B resent A's invitation");

    // Deleting B (deletionPolicy CancelPending by default) cancels nothing of A's.
    team_b(&h)
        .delete("acme-b", &DeleteParams::default())
        .await
        .expect("delete");
    wait_gone(team_b(&h), "acme-b", "B deleted in time").await;
    assert_eq!(
        calls(&h, "CancelHandshake").await,
        0,
        "B's deletion canceled A's invitation"
    );
    assert_eq!(h.aws.handshake(&handshake).await.expect("handshake").state, "OPEN");

    // B again; then A's status is lost and the operator restarts: the claim is durable, A
    // adopts its own invitation again, B stays stalled and nothing is sent twice.
    create_b(&h, "acme-b2", STANDALONE, true).await;
    wait_b(&h, "acme-b2", "Stalled AccountClaimed", stalled_on_claim).await;
    h.stop_operator().await;
    h.invites()
        .patch_status("acme", &patch_params(), &Patch::Merge(json!({"status": null})))
        .await
        .expect("status lost");
    h.start_operator();
    let a = h
        .wait_invite("acme", "Invited with its own invitation again", |i| {
            i.status
                .as_ref()
                .and_then(|s| s.handshake.as_ref())
                .is_some_and(|hs| hs.id == handshake)
        })
        .await;
    assert_eq!(a.status.unwrap().phase, Some(InvitePhase::Invited));
    assert_eq!(h.invitations_sent(STANDALONE).await, 1);

    // The owner accepts: A is Ready; B still learns nothing and never probed the account.
    h.aws.accept_invite_for(STANDALONE).await.expect("accept");
    h.wait_phase("acme", InvitePhase::Ready).await;
    // B is woken by the sweep that saw the account join (its account changed): still stalled.
    let b = wait_b(&h, "acme-b2", "still Stalled AccountClaimed", stalled_on_claim).await;
    assert_learns_nothing(&b, &handshake);
    assert_eq!(calls(&h, "AssumeRole").await, 0, "B probed the member account's roles");

    // A leaves: its claim is released and B, woken, owns the account now (and may check it).
    h.invites()
        .delete("acme", &DeleteParams::default())
        .await
        .expect("delete A");
    let b = wait_b(&h, "acme-b2", "AccountJoined after the claim was released", |i| {
        condition(i, "AccountJoined").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(b.status.unwrap().organization_id.as_deref(), Some(ORG));
    assert_eq!(claim_holder(&h).await.as_deref(), Some("team-b/acme-b2"));
    assert_eq!(h.invitations_sent(STANDALONE).await, 1, "no invitation to a member");
    h.stop().await;
}

#[tokio::test]
async fn a_claim_whose_holder_vanished_is_taken_over() {
    let mut h = Harness::start().await;
    shared_profile(&h).await;
    h.create_invite("acme", STANDALONE, json!({})).await;
    let a = h.wait_phase("acme", InvitePhase::Invited).await;
    let handshake = a.status.unwrap().handshake.unwrap().id;

    // A is deleted with its finalizer removed by force while the operator is down: nothing
    // released the claim.
    h.stop_operator().await;
    h.invites()
        .patch(
            "acme",
            &patch_params(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("finalizer removed");
    h.invites()
        .delete("acme", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(claim_holder(&h).await.as_deref(), Some("billing/acme"));

    // B names the account: the holder is gone, so B takes the claim over and adopts the open
    // invitation (sending none).
    create_b(&h, "acme-b", STANDALONE, false).await;
    h.start_operator();
    let b = wait_b(&h, "acme-b", "Invited", |i| {
        i.status.as_ref().and_then(|s| s.phase) == Some(InvitePhase::Invited)
    })
    .await;
    assert_eq!(b.status.unwrap().handshake.unwrap().id, handshake);
    assert_eq!(claim_holder(&h).await.as_deref(), Some("team-b/acme-b"));
    assert_eq!(h.invitations_sent(STANDALONE).await, 1);
    h.stop().await;
}

/// A customer organization for the BillingTransfer attack.
const CUSTOMER: &str = "610000000001";

fn transfers(h: &Harness, namespace: &str) -> Api<BillingTransfer> {
    Api::namespaced(h.env.client(), namespace)
}

async fn create_transfer(h: &Harness, namespace: &str, name: &str, start_month: &str) {
    let transfer: BillingTransfer = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingTransfer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"billingProfile": PROFILE, "managementAccountId": CUSTOMER, "name": name, "startMonth": start_month},
    }))
    .expect("transfer");
    transfers(h, namespace)
        .create(&post_params(), &transfer)
        .await
        .expect("transfer created");
}

async fn wait_transfer(
    h: &Harness,
    namespace: &str,
    name: &str,
    what: &str,
    check: impl Fn(&BillingTransfer) -> bool,
) -> BillingTransfer {
    wait_object(transfers(h, namespace), name, what, check).await
}

fn transfer_phase(t: &BillingTransfer) -> Option<TransferPhase> {
    t.status.as_ref().and_then(|s| s.phase)
}

#[tokio::test]
async fn a_tenant_cannot_adopt_or_cancel_another_tenants_billing_transfer() {
    let h = Harness::start().await;
    shared_profile(&h).await;
    add_customer_organization(&h, "o-claimcust01", CUSTOMER).await;
    let (start_month, _) = emulator_month(&h, 2).await;

    create_transfer(&h, NAMESPACE, "globex", &start_month).await;
    let a = wait_transfer(&h, NAMESPACE, "globex", "Invited", |t| {
        transfer_phase(t) == Some(TransferPhase::Invited)
    })
    .await;
    let transfer_id = a.status.unwrap().transfer.unwrap().id;

    // Tenant B names the same customer: stalled, nothing learnt, nothing sent.
    create_transfer(&h, TEAM_B, "globex-b", &start_month).await;
    let b = wait_transfer(&h, TEAM_B, "globex-b", "Stalled AccountClaimed", |t| {
        t.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Stalled" && c.status == "True" && c.reason == "AccountClaimed")
        })
    })
    .await;
    let status = b.status.unwrap();
    assert!(status.transfer.is_none() && status.handshake.is_none(), "{status:?}");
    assert_eq!(status.attempts, 0);
    for c in &status.conditions {
        assert!(
            !c.message.contains(&transfer_id) && !c.message.contains(NAMESPACE),
            "{c:?}"
        );
    }
    assert_eq!(h.executed_calls("InviteOrganizationToTransferResponsibility").await, 1);

    // Deleting B cancels nothing of A's.
    transfers(&h, TEAM_B)
        .delete("globex-b", &DeleteParams::default())
        .await
        .expect("delete");
    wait_gone(transfers(&h, TEAM_B), "globex-b", "B deleted in time").await;
    assert_eq!(
        calls(&h, "CancelHandshake").await,
        0,
        "B's deletion canceled A's invitation"
    );
    assert_eq!(calls(&h, "WithdrawResponsibilityTransfer").await, 0);
    let a = transfers(&h, NAMESPACE).get("globex").await.expect("A");
    assert_eq!(transfer_phase(&a), Some(TransferPhase::Invited));
    let leases: Api<Lease> = Api::namespaced(h.env.client(), OPERATOR_NAMESPACE);
    let claim = format!("claim-transfer-o-exampleorg1-{CUSTOMER}");
    let holder = leases.get(&claim).await.expect("claim").spec.unwrap().holder_identity;
    assert_eq!(holder.as_deref(), Some("billing/globex"));

    // A's deletion releases its claim.
    transfers(&h, NAMESPACE)
        .delete("globex", &DeleteParams::default())
        .await
        .expect("delete A");
    wait_gone(transfers(&h, NAMESPACE), "globex", "A deleted in time").await;
    assert!(leases.get_opt(&claim).await.expect("lease").is_none(), "claim kept");
    h.stop().await;
}
