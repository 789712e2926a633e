//! GitOps health of real objects: the operator drives invites, billing transfers and profiles into each state on a real
//! API server (with the orgs-emulator), the test saves every object exactly as the API server returns
//! it, then runs the Go module `integrations/health-test`, which computes Flux's kstatus
//! (`sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute`) and runs the shipped Argo CD Lua health checks
//! (`integrations/argocd/*.lua`, in gopher-lua as Argo CD runs them) and compares both with the
//! expectations written here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_invite_operator::api::{AwsAccountInvite, BillingProfile, BillingTransfer, InvitePhase, TransferPhase};
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use orgs_emulator::SeedRole;
use serde_json::{Value, json};
use support::*;

/// The environment variable that tells the Go test where the objects are.
const CASES_ENV: &str = "GITOPS_HEALTH_CASES";
/// The first run downloads the Go modules and compiles k8s.io/apimachinery: minutes on 2 cores.
const GO_TEST_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// A finalizer of the test's own, so that a deleted invite stays visible after the operator's cleanup.
const HOLD: &str = "test.awsinvite.io/hold";

const TIGHT: &str = "payer-tight";
const WRONG_ORG: &str = "payer-wrong-org";
const DENIED: &str = "payer-denied";
const CLOSED: &str = "payer-closed";
const MISSING: &str = "payer-missing";

const CLOUDHEALTH: &str = "arn:aws:iam::454464851268:root";

/// The saved objects and what each should look like.
struct Cases {
    dir: PathBuf,
    list: Vec<Value>,
}

/// What a case's health should be: Argo CD's status and kstatus's, each with a part of its
/// message ("" for any), and a known deviation of kstatus's (its status, and why), if any.
struct Expect {
    argo: &'static str,
    argo_message: &'static str,
    kstatus: &'static str,
    kstatus_message: &'static str,
    deviation: Option<(&'static str, &'static str)>,
}

impl Expect {
    /// Argo CD's status and a part of its message (kstatus's: [`Self::kstatus`]).
    fn argo(status: &'static str, message: &'static str) -> Self {
        Expect {
            argo: status,
            argo_message: message,
            kstatus: "",
            kstatus_message: "",
            deviation: None,
        }
    }

    /// kstatus's status and a part of its message ("" for any).
    fn kstatus(self, status: &'static str, message: &'static str) -> Self {
        Expect {
            kstatus: status,
            kstatus_message: message,
            ..self
        }
    }
}

impl Cases {
    fn new() -> Self {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gitops-health-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cases directory");
        Cases { dir, list: Vec::new() }
    }

    /// Saves `object` (as the API server sent it) as case `name`.
    fn save(&mut self, name: &str, description: &str, object: Value, expect: Expect) {
        let file = format!("{name}.json");
        let text = serde_json::to_string_pretty(&object).expect("object JSON");
        std::fs::write(self.dir.join(&file), text).expect("save object");
        let mut case = json!({
            "name": name,
            "file": file,
            "description": description,
            "argo": {"status": expect.argo, "messageContains": expect.argo_message},
            "kstatus": {"status": expect.kstatus, "messageContains": expect.kstatus_message},
        });
        if let Some((kstatus, why)) = expect.deviation {
            case["knownDeviation"] = json!({"kstatus": kstatus, "why": why});
        }
        self.list.push(case);
    }

    fn write_expectations(&self) {
        let text = serde_json::to_string_pretty(&json!({ "cases": self.list })).expect("expectations JSON");
        std::fs::write(self.dir.join("expectations.json"), text).expect("save expectations");
    }
}

/// The object exactly as the API server returns it (no round trip through the Rust types).
async fn raw(h: &Harness, collection: String, name: &str) -> Value {
    let request = kube::core::Request::new(collection)
        .get(name, &Default::default())
        .expect("request");
    let text = h.env.client().request_text(request).await.expect("GET object");
    serde_json::from_str(&text).expect("object JSON")
}

async fn raw_invite(h: &Harness, name: &str) -> Value {
    raw(h, AwsAccountInvite::url_path(&(), Some(NAMESPACE)), name).await
}

async fn raw_profile(h: &Harness, name: &str) -> Value {
    raw(h, BillingProfile::url_path(&(), None), name).await
}

fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

async fn create_profile_named(h: &Harness, name: &str, spec: Value) {
    let mut base = json!({
        "managementAccountId": MGMT,
        "organizationId": ORG,
        "endpointUrl": h.emulator.url(),
        "allowedNamespaces": {"namespaces": [NAMESPACE]},
    });
    merge(&mut base, spec);
    let profile: BillingProfile = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile",
        "metadata": {"name": name}, "spec": base,
    }))
    .expect("profile");
    h.profiles()
        .create(&PostParams::default(), &profile)
        .await
        .expect("profile created");
}

async fn create_invite_with(h: &Harness, name: &str, profile: &str, account: &str, extra: Value, finalizers: &[&str]) {
    let mut spec = json!({"billingProfile": profile, "accountId": account});
    merge(&mut spec, extra);
    let invite: AwsAccountInvite = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
        "metadata": {"name": name, "namespace": NAMESPACE, "finalizers": finalizers},
        "spec": spec,
    }))
    .expect("invite");
    h.invites()
        .create(&PostParams::default(), &invite)
        .await
        .expect("invite created");
}

fn profile_ready(profile: &BillingProfile) -> Option<(String, String)> {
    profile.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| (c.status.clone(), c.reason.clone()))
    })
}

fn has(invite: &AwsAccountInvite, type_: &str, status: &str, reason: &str) -> bool {
    condition(invite, type_).is_some_and(|c| c.0 == status && (reason.is_empty() || c.1 == reason))
}

/// Waits until the invite `name` has condition `type_` True for `reason`.
async fn wait_invite_condition(h: &Harness, name: &str, type_: &str, reason: &str) -> AwsAccountInvite {
    h.wait_invite(name, &format!("{type_} {reason}"), |i| has(i, type_, "True", reason))
        .await
}

/// Waits until the profile `name` is not Ready for `reason`.
async fn wait_profile_not_ready(h: &Harness, name: &str, reason: &str) {
    h.wait_profile(name, reason, |p| {
        profile_ready(p).is_some_and(|r| r.0 == "False" && r.1 == reason)
    })
    .await;
}

/// Deleted, with only the test's finalizer left: the operator's cleanup is done.
fn held_after_cleanup(object: &impl Resource) -> bool {
    let meta = object.meta();
    meta.deletion_timestamp.is_some() && meta.finalizers.as_deref() == Some(&[HOLD.to_owned()][..])
}

/// Drives every state and saves the objects; returns the cases.
async fn collect(h: &Harness) -> Cases {
    let mut cases = Cases::new();

    h.create_profile(json!({})).await;
    // The tight budget is its own organization's: a budget belongs to the organization (the
    // smallest invitationsPerDay of the profiles naming it), so sharing PROFILE's would queue all.
    let mut tight = h.add_second_payer("tight-keys").await;
    merge(&mut tight, json!({"invitationsPerDay": 1}));
    create_profile_named(h, TIGHT, tight).await;
    create_profile_named(h, WRONG_ORG, json!({"organizationId": "o-wrongorg0000"})).await;
    create_profile_named(
        h,
        DENIED,
        json!({"credentials": {"roleArn": format!("arn:aws:iam::{MGMT}:role/NoSuchRole")}}),
    )
    .await;
    create_profile_named(h, CLOSED, json!({"allowedNamespaces": {}})).await;
    h.wait_profile(PROFILE, "Ready", |p| profile_ready(p).is_some_and(|r| r.0 == "True"))
        .await;

    let iam =
        json!({"iamAccess": {"roleName": "CloudHealth", "trustedPrincipal": CLOUDHEALTH, "externalId": "ext-123"}});
    create_invite_with(h, "ready", PROFILE, STANDALONE, iam, &[]).await;
    create_invite_with(h, "awaiting", PROFILE, SECOND, json!({}), &[]).await;
    create_invite_with(h, "declined", PROFILE, "500000000000", json!({}), &[]).await;
    create_invite_with(h, "deleting", PROFILE, "500000000001", json!({}), &[HOLD]).await;
    create_invite_with(h, "profile-missing", MISSING, "500000000002", json!({}), &[]).await;
    create_invite_with(h, "profile-not-ready", WRONG_ORG, "500000000003", json!({}), &[]).await;
    create_invite_with(h, "not-allowed", CLOSED, "500000000004", json!({}), &[]).await;

    // Waiting for the account owner.
    h.wait_phase("awaiting", InvitePhase::Invited).await;
    cases.save(
        "invite-awaiting-acceptance",
        "invitation sent, the account owner has not answered",
        raw_invite(h, "awaiting").await,
        Expect::argo("Progressing", "waiting for the account owner to accept").kstatus("Current", ""),
    );

    // Queued behind the daily budget: a first invitation uses TIGHT's organization's one a day
    // (wait until TIGHT's sweep has counted it).
    create_invite_with(h, "tight-first", TIGHT, "500000000006", json!({}), &[]).await;
    h.wait_phase("tight-first", InvitePhase::Invited).await;
    h.wait_profile(TIGHT, "an invitation counted", |p| {
        p.status.as_ref().is_some_and(|s| s.invitations_in_last24h >= 1)
    })
    .await;
    create_invite_with(h, "queued", TIGHT, "500000000005", json!({}), &[]).await;
    let queued = h.wait_phase("queued", InvitePhase::Queued).await;
    assert!(
        has(&queued, "Reconciling", "True", "QuotaExhausted"),
        "{:?}",
        queued.status
    );
    cases.save(
        "invite-queued-daily-budget",
        "queued behind the profile's invitationsPerDay",
        raw_invite(h, "queued").await,
        Expect::argo("Progressing", "queued").kstatus("InProgress", "queued"),
    );

    // Declined, and the policy does not re-invite.
    h.wait_phase("declined", InvitePhase::Invited).await;
    h.aws.decline_invite_for("500000000000").await.expect("decline");
    let declined = h.wait_phase("declined", InvitePhase::Failed).await;
    assert!(has(&declined, "Stalled", "True", "Declined"), "{:?}", declined.status);
    cases.save(
        "invite-stalled-declined",
        "declined; spec.reinvite.onDeclined is false",
        raw_invite(h, "declined").await,
        Expect::argo("Degraded", "declined").kstatus("Failed", "declined"),
    );

    // Joined, then waiting for the customer to create the cost tool's role, then Ready.
    h.wait_phase("ready", InvitePhase::Invited).await;
    h.aws.accept_invite_for(STANDALONE).await.expect("accept");
    let joined = h
        .wait_invite("ready", "joined, IAM access missing", |i| {
            i.status.as_ref().and_then(|s| s.phase) == Some(InvitePhase::Joined)
                && has(i, "IamAccessVerified", "False", "")
        })
        .await;
    assert!(has(&joined, "Reconciling", "False", ""), "{:?}", joined.status);
    cases.save(
        "invite-joined-awaiting-iam-role",
        "joined; the customer has not created the IAM role yet",
        raw_invite(h, "ready").await,
        Expect::argo("Progressing", "CloudHealth").kstatus("Current", ""),
    );
    h.aws
        .add_role(&SeedRole {
            account_id: STANDALONE.into(),
            name: "CloudHealth".into(),
            path: None,
            trust_policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": CLOUDHEALTH}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "ext-123"}}}]}),
            max_session_duration: None,
        })
        .await
        .expect("role");
    // The IAM re-check backs off (30 s at least); a metadata change wakes the invite now.
    let touch = json!({"metadata": {"labels": {"test.awsinvite.io/role-created": "true"}}});
    h.invites()
        .patch("ready", &PatchParams::default(), &Patch::Merge(&touch))
        .await
        .expect("touch");
    h.wait_phase("ready", InvitePhase::Ready).await;
    cases.save(
        "invite-ready",
        "joined and IAM access verified",
        raw_invite(h, "ready").await,
        Expect::argo("Healthy", "CloudHealth").kstatus("Current", ""),
    );

    // Held by their BillingProfile: it does not exist (yet) or is not Ready (the invite waits for
    // it, Reconciling), or it does not allow the namespace (Stalled).
    for (invite, (type_, reason), case, description, expect) in [
        (
            "profile-missing",
            ("Reconciling", "BillingProfileNotFound"),
            "invite-profile-missing",
            "names a BillingProfile that does not exist",
            Expect::argo("Progressing", "does not exist").kstatus("InProgress", "does not exist"),
        ),
        (
            "profile-not-ready",
            ("Reconciling", "BillingProfileNotReady"),
            "invite-profile-not-ready",
            "names a BillingProfile whose credentials reach the wrong organization",
            Expect::argo("Progressing", "is not ready").kstatus("InProgress", "is not ready"),
        ),
        (
            "not-allowed",
            ("Stalled", "BillingProfileNotAllowed"),
            "invite-namespace-not-allowed",
            "the BillingProfile does not allow the invite's namespace",
            Expect::argo("Degraded", "allowedNamespaces").kstatus("Failed", "allowedNamespaces"),
        ),
    ] {
        let held = wait_invite_condition(h, invite, type_, reason).await;
        if type_ == "Reconciling" {
            assert!(has(&held, "Stalled", "False", ""), "{invite}: {:?}", held.status);
        }
        cases.save(case, description, raw_invite(h, invite).await, expect);
    }

    // Deletion: the operator cancels the invitation and lets go; the test's finalizer holds the object.
    h.wait_phase("deleting", InvitePhase::Invited).await;
    h.invites()
        .delete("deleting", &DeleteParams::default())
        .await
        .expect("delete");
    h.wait_invite("deleting", "deleted, operator finalizer released", held_after_cleanup)
        .await;
    cases.save(
        "invite-being-deleted",
        "deleted; the operator has canceled the invitation and removed its finalizer",
        raw_invite(h, "deleting").await,
        Expect::argo("Progressing", "Being deleted").kstatus("Terminating", ""),
    );
    let release = json!({"metadata": {"finalizers": null}});
    h.invites()
        .patch("deleting", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .expect("release the test's finalizer");

    // Profiles.
    wait_profile_not_ready(h, WRONG_ORG, "WrongOrganization").await;
    cases.save(
        "profile-wrong-organization",
        "spec.organizationId differs from the organization the credentials reach",
        raw_profile(h, WRONG_ORG).await,
        Expect::argo("Degraded", "WrongOrganization: ").kstatus("Failed", "o-wrongorg0000"),
    );
    wait_profile_not_ready(h, DENIED, "AccessDenied").await;
    cases.save(
        "profile-credentials-refused",
        "spec.credentials.roleArn names a role that cannot be assumed",
        raw_profile(h, DENIED).await,
        Expect::argo("Degraded", "AccessDenied: ").kstatus("Failed", "sts:AssumeRole"),
    );
    cases.save(
        "profile-ready",
        "the credentials reach the organization the spec names",
        raw_profile(h, PROFILE).await,
        Expect::argo("Healthy", "OrganizationReached: ").kstatus("Current", ""),
    );
    collect_transfers(h, &mut cases).await;
    cases
}

async fn raw_transfer(h: &Harness, name: &str) -> Value {
    raw(h, BillingTransfer::url_path(&(), Some(NAMESPACE)), name).await
}

async fn create_transfer(
    h: &Harness,
    name: &str,
    profile: &str,
    customer: &str,
    start_month: &str,
    finalizers: &[&str],
) {
    let transfer: BillingTransfer = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingTransfer",
        "metadata": {"name": name, "namespace": NAMESPACE, "finalizers": finalizers},
        "spec": {"billingProfile": profile, "managementAccountId": customer, "name": name, "startMonth": start_month},
    }))
    .expect("transfer");
    Api::<BillingTransfer>::namespaced(h.env.client(), NAMESPACE)
        .create(&PostParams::default(), &transfer)
        .await
        .expect("transfer created");
}

async fn wait_transfer(
    h: &Harness,
    name: &str,
    what: &str,
    check: impl Fn(&BillingTransfer) -> bool,
) -> BillingTransfer {
    wait_object(Api::namespaced(h.env.client(), NAMESPACE), name, what, check).await
}

/// Waits until the transfer `name` is in `phase`.
async fn wait_transfer_phase(h: &Harness, name: &str, phase: TransferPhase) -> BillingTransfer {
    wait_transfer(h, name, &format!("{phase:?}"), |t| transfer_phase(t) == Some(phase)).await
}

/// Waits until the transfer `name` has condition `type_` True for `reason`.
async fn wait_transfer_condition(h: &Harness, name: &str, type_: &str, reason: &str) {
    wait_transfer(h, name, &format!("{type_} {reason}"), |t| {
        transfer_has(t, type_, "True", reason)
    })
    .await;
}

fn transfer_phase(t: &BillingTransfer) -> Option<TransferPhase> {
    t.status.as_ref().and_then(|s| s.phase)
}

fn transfer_has(t: &BillingTransfer, type_: &str, status: &str, reason: &str) -> bool {
    t.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == status && (reason.is_empty() || c.reason == reason))
    })
}

/// BillingTransfers driven into each standing (docs/architecture.md's kstatus rules, the same
/// as invites'): waiting for the customer, accepted, in effect, declined, start month too
/// early, profile missing, namespace not allowed, being deleted.
async fn collect_transfers(h: &Harness, cases: &mut Cases) {
    let customers = ["610000000001", "610000000002", "610000000003", "610000000004"];
    for (i, mgmt) in customers.iter().enumerate() {
        add_customer_organization(h, &format!("o-healthcust{i:02}"), mgmt).await;
    }
    let (start_month, first) = emulator_month(h, 2).await;
    let [awaiting, accepted, declined, deleting] = customers;
    create_transfer(h, "transfer-awaiting", PROFILE, awaiting, &start_month, &[]).await;
    create_transfer(h, "transfer-accepted", PROFILE, accepted, &start_month, &[]).await;
    create_transfer(h, "transfer-declined", PROFILE, declined, &start_month, &[]).await;
    create_transfer(h, "transfer-deleting", PROFILE, deleting, &start_month, &[HOLD]).await;
    create_transfer(h, "transfer-too-early", PROFILE, "610000000009", "2020-01", &[]).await;
    create_transfer(
        h,
        "transfer-profile-missing",
        MISSING,
        "610000000009",
        &start_month,
        &[],
    )
    .await;
    create_transfer(h, "transfer-not-allowed", CLOSED, "610000000009", &start_month, &[]).await;

    let invited = wait_transfer_phase(h, "transfer-awaiting", TransferPhase::Invited).await;
    assert!(
        transfer_has(&invited, "Reconciling", "False", ""),
        "{:?}",
        invited.status
    );
    assert!(transfer_has(&invited, "Stalled", "False", ""), "{:?}", invited.status);
    cases.save(
        "transfer-awaiting-acceptance",
        "billing transfer invitation sent, the customer's management account has not answered",
        raw_transfer(h, "transfer-awaiting").await,
        Expect::argo("Progressing", "to accept the billing transfer invitation").kstatus("Current", ""),
    );

    wait_transfer_phase(h, "transfer-accepted", TransferPhase::Invited).await;
    h.aws.accept_transfer_for(accepted).await.expect("accept");
    wait_transfer_phase(h, "transfer-accepted", TransferPhase::Accepted).await;
    cases.save(
        "transfer-accepted",
        "accepted; the transfer starts on the first day of the start month",
        raw_transfer(h, "transfer-accepted").await,
        Expect::argo("Healthy", "accepted; the payer takes over the bill").kstatus("Current", ""),
    );

    wait_transfer_phase(h, "transfer-declined", TransferPhase::Invited).await;
    h.aws.decline_transfer_for(declined).await.expect("decline");
    wait_transfer_condition(h, "transfer-declined", "Stalled", "Declined").await;
    cases.save(
        "transfer-stalled-declined",
        "declined; spec.reinvite.onDeclined is false",
        raw_transfer(h, "transfer-declined").await,
        Expect::argo("Degraded", "declined").kstatus("Failed", "declined"),
    );

    // Held by their start month (too early: Stalled) or their BillingProfile, as invites are.
    for (transfer, (type_, reason), case, description, expect) in [
        (
            "transfer-too-early",
            ("Stalled", "StartMonthTooEarly"),
            "transfer-start-month-too-early",
            "spec.startMonth's acceptance deadline has passed (admission cannot know today's date)",
            Expect::argo("Degraded", "startMonth 2020-01 is too early")
                .kstatus("Failed", "startMonth 2020-01 is too early"),
        ),
        (
            "transfer-profile-missing",
            ("Reconciling", "BillingProfileNotFound"),
            "transfer-profile-missing",
            "names a BillingProfile that does not exist",
            Expect::argo("Progressing", "does not exist").kstatus("InProgress", "does not exist"),
        ),
        (
            "transfer-not-allowed",
            ("Stalled", "BillingProfileNotAllowed"),
            "transfer-namespace-not-allowed",
            "the BillingProfile does not allow the transfer's namespace",
            Expect::argo("Degraded", "allowedNamespaces").kstatus("Failed", "allowedNamespaces"),
        ),
    ] {
        wait_transfer_condition(h, transfer, type_, reason).await;
        cases.save(case, description, raw_transfer(h, transfer).await, expect);
    }

    // Deletion: the operator cancels the invitation and lets go; the test's finalizer holds it.
    let api = Api::<BillingTransfer>::namespaced(h.env.client(), NAMESPACE);
    wait_transfer_phase(h, "transfer-deleting", TransferPhase::Invited).await;
    api.delete("transfer-deleting", &DeleteParams::default())
        .await
        .expect("delete");
    wait_transfer(
        h,
        "transfer-deleting",
        "deleted, operator finalizer released",
        held_after_cleanup,
    )
    .await;
    cases.save(
        "transfer-being-deleted",
        "deleted; the operator has canceled the invitation and removed its finalizer",
        raw_transfer(h, "transfer-deleting").await,
        Expect::argo("Progressing", "Being deleted").kstatus("Terminating", ""),
    );
    api.patch(
        "transfer-deleting",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release the test's finalizer");

    // The start month begins (both clocks move past it): in effect. Last, as it moves time.
    let start = h.aws.clock().await.expect("clock").now;
    h.aws
        .advance_clock(Duration::from_secs(((first - start).num_seconds() + 3600) as u64))
        .await
        .expect("emulator clock");
    h.clock
        .advance(Duration::from_secs(((first - start).num_seconds() + 3600) as u64));
    api.patch(
        "transfer-accepted",
        &PatchParams::default(),
        &Patch::Merge(&json!({"metadata": {"labels": {"test.awsinvite.io/clock-advanced": "true"}}})),
    )
    .await
    .expect("touch");
    wait_transfer_phase(h, "transfer-accepted", TransferPhase::InEffect).await;
    cases.save(
        "transfer-in-effect",
        "accepted and the start month has begun: the payer manages the customer's bill",
        raw_transfer(h, "transfer-accepted").await,
        Expect::argo("Healthy", "manages and pays the consolidated bill").kstatus("Current", ""),
    );
}

/// `go`, from PATH or the usual install location.
fn go_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("go")).collect::<Vec<_>>())
        .unwrap_or_default();
    candidates
        .into_iter()
        .chain([PathBuf::from("/usr/local/go/bin/go")])
        .find(|p| p.is_file())
        .expect("the Go toolchain (`go`) is needed for the GitOps health test: install Go and put it on PATH")
}

#[tokio::test]
async fn argo_cd_and_flux_health_of_real_objects() {
    let started = Instant::now();
    let h = Harness::start().await;
    let cases = collect(&h).await;
    h.stop().await;
    cases.write_expectations();
    let live = started.elapsed();

    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("integrations/health-test");
    let go_started = Instant::now();
    let mut command = tokio::process::Command::new(go_binary());
    command
        .args(["test", "./...", "-count=1", "-v"])
        .current_dir(&module)
        .env(CASES_ENV, &cases.dir)
        // The committed go.mod/go.sum are complete: fail rather than edit them; a go.work above
        // the checkout must not pull this module into another build; no C toolchain needed.
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .env("GOWORK", "off")
        .env("CGO_ENABLED", "0")
        .kill_on_drop(true);
    let output = tokio::time::timeout(GO_TEST_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("`go test` in {} took longer than {GO_TEST_TIMEOUT:?}", module.display()))
        .expect("run `go test`");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    eprintln!(
        "gitops health: {} objects saved in {live:?}; `go test` took {:?}",
        cases.list.len(),
        go_started.elapsed()
    );
    assert!(
        output.status.success(),
        "`go test` in {} failed ({}); objects kept in {}:\n{stdout}\n{stderr}",
        module.display(),
        output.status,
        cases.dir.display()
    );
    std::fs::remove_dir_all(&cases.dir).ok();
}
