//! The AWS layer against the in-process orgs-emulator, with the real AWS SDK clients.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use aws_invite_operator::api::BillingProfileSpec;
use aws_invite_operator::aws::{
    AwsCallObserver, ErrorClass, HandshakeObserver, HandshakeState, IamCheck, ProfileClients, StaticKeys,
    spawn_profile_poller, verify_member_role,
};
use aws_invite_operator::reason::Reason;
use jiff::Timestamp;
use orgs_emulator::{
    ControlClient, Emulator, EmulatorConfig, Fault, FaultKind, RunningEmulator, Seed, SeedAccount, SeedOrganization,
    SeedRole,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const MGMT: &str = "111111111111";
const MEMBER: &str = "222222222222";
const STANDALONE: &str = "333333333333";
const STANDALONE2: &str = "444444444444";
const OTHER_MGMT: &str = "555555555555";
const OTHER_MEMBER: &str = "666666666666";
const ORG: &str = "o-aaaaaaaaaa";
const CLOUDHEALTH: &str = "arn:aws:iam::454464851268:root";
const EXTERNAL_ID: &str = "ext-123";

fn seed() -> Seed {
    Seed {
        organizations: vec![
            SeedOrganization {
                id: Some(ORG.into()),
                management_account: SeedAccount {
                    id: MGMT.into(),
                    email: Some("payer@example.com".into()),
                    name: Some("Payer".into()),
                },
                members: vec![SeedAccount::new(MEMBER)],
                account_quota: Some(10),
                feature_set: None,
            },
            SeedOrganization {
                id: Some("o-bbbbbbbbbb".into()),
                management_account: SeedAccount::new(OTHER_MGMT),
                members: vec![SeedAccount::new(OTHER_MEMBER)],
                account_quota: None,
                feature_set: None,
            },
        ],
        accounts: vec![SeedAccount::new(STANDALONE), SeedAccount::new(STANDALONE2)],
        oidc_providers: vec![],
        pod_identity_associations: vec![],
        roles: vec![
            SeedRole {
                account_id: MEMBER.into(),
                name: "OrganizationAccountAccessRole".into(),
                path: None,
                trust_policy: json!({
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{MGMT}:root")}, "Action": "sts:AssumeRole"}]
                }),
                max_session_duration: None,
            },
            SeedRole {
                account_id: MEMBER.into(),
                name: "CloudHealth".into(),
                path: None,
                trust_policy: json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"AWS": CLOUDHEALTH},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}
                    }]
                }),
                max_session_duration: None,
            },
            SeedRole {
                account_id: MEMBER.into(),
                name: "CloudHealthNoExternalId".into(),
                path: None,
                trust_policy: json!({
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"AWS": CLOUDHEALTH}, "Action": "sts:AssumeRole"}]
                }),
                max_session_duration: None,
            },
            // The operator's role in the management account, assumable from STANDALONE2.
            SeedRole {
                account_id: MGMT.into(),
                name: "aws-invite-operator".into(),
                path: None,
                trust_policy: json!({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"AWS": STANDALONE2},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"sts:ExternalId": "op-ext"}}
                    }]
                }),
                max_session_duration: None,
            },
        ],
    }
}

async fn start() -> (RunningEmulator, ControlClient) {
    let emu = match Emulator::start(EmulatorConfig::with_seed(seed()).rate_limits(false)).await {
        Ok(e) => e,
        Err(e) => panic!("emulator failed to start: {e}"),
    };
    let control = ControlClient::new(emu.url());
    (emu, control)
}

fn spec(emu: &RunningEmulator, extra: serde_json::Value) -> BillingProfileSpec {
    let mut v = json!({"managementAccountId": MGMT, "endpointUrl": emu.url()});
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in extra {
            obj.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(v).expect("valid spec")
}

fn keys(account: &str) -> StaticKeys {
    StaticKeys {
        access_key_id: account.into(),
        secret_access_key: "secret".into(),
        session_token: None,
    }
}

async fn connect_as(emu: &RunningEmulator, account: &str) -> ProfileClients {
    ProfileClients::connect(&spec(emu, json!({})), Some(keys(account)))
        .await
        .expect("connect")
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String)>>);

impl AwsCallObserver for Recorder {
    fn record(&self, operation: &'static str, outcome: &str) {
        self.0
            .lock()
            .expect("lock")
            .push((operation.to_string(), outcome.to_string()));
    }
}

#[tokio::test]
async fn describe_organization_with_static_keys() {
    let (emu, _control) = start().await;
    let recorder = Arc::new(Recorder::default());
    let clients = connect_as(&emu, MGMT).await.with_observer(recorder.clone());
    let org = clients.describe_organization().await.expect("describe");
    assert_eq!(org.id, ORG);
    assert_eq!(org.management_account_id, MGMT);
    assert_eq!(org.management_account_email.as_deref(), Some("payer@example.com"));
    let recorded = recorder.0.lock().expect("lock").clone();
    assert_eq!(
        recorded,
        vec![("DescribeOrganization".to_string(), "success".to_string())]
    );
    assert!(!format!("{clients:?}").contains("secret"));
}

#[tokio::test]
async fn invite_is_indexed_by_the_observer_and_followed_to_acceptance() {
    let (emu, control) = start().await;
    let clients = connect_as(&emu, MGMT).await;
    let observer = HandshakeObserver::new();
    let first = observer
        .refresh("payer", &clients, Timestamp::now())
        .await
        .expect("first sweep");
    // No handshake yet; the first sweep wakes every invite of the organization (they wait for it).
    assert!(first.accounts.is_empty() && first.handshakes.is_empty() && first.first_sweep);

    let tags = BTreeMap::from([("team".to_string(), "billing".to_string())]);
    let h = clients
        .invite_account(STANDALONE, Some("welcome"), &tags)
        .await
        .expect("invite");
    assert_eq!(h.state, HandshakeState::Open);
    assert_eq!(h.account_id.as_deref(), Some(STANDALONE));
    assert!(h.id.starts_with("h-"));
    assert!(h.expires_at > h.requested_at);
    let sent = control.handshake(&h.id).await.expect("emulator handshake");
    assert_eq!(sent.notes.as_deref(), Some("welcome"));
    assert_eq!(sent.tags.get("team").map(String::as_str), Some("billing"));

    // Recorded at once: budget and adoption see it before the next sweep.
    observer.record_sent("payer", h.clone());
    let view = observer.view("payer").expect("view");
    assert_eq!(view.index.sent_in_last_24h(h.requested_at.expect("requested")), 1);

    let changed = observer
        .refresh("payer", &clients, Timestamp::now())
        .await
        .expect("sweep");
    assert!(changed.is_empty(), "the recorded handshake is unchanged: {changed:?}");
    let view = observer.view("payer").expect("view");
    assert_eq!(
        view.index.pending_for_account(STANDALONE).map(|p| p.id.clone()),
        Some(h.id.clone())
    );
    assert!(view.last_error.is_none());

    control.accept_handshake(&h.id).await.expect("accept");
    let changed = observer
        .refresh("payer", &clients, Timestamp::now())
        .await
        .expect("sweep");
    assert_eq!(changed.accounts, vec![STANDALONE.to_string()]);
    let view = observer.view("payer").expect("view");
    assert_eq!(view.index.get(&h.id).map(|x| x.state), Some(HandshakeState::Accepted));
    assert!(view.index.pending_for_account(STANDALONE).is_none());
    // Accepted invitations do not count against the daily quota.
    assert_eq!(view.index.sent_in_last_24h(h.requested_at.expect("requested")), 0);

    let member = clients
        .describe_account(STANDALONE)
        .await
        .expect("describe account")
        .expect("member");
    assert_eq!(member.id, STANDALONE);
    assert_eq!(member.joined_method.as_deref(), Some("INVITED"));
    assert!(member.joined_at.is_some());
    assert_eq!(member.status.as_deref(), Some("ACTIVE"));

    // One sweep per refresh, one page each.
    let lists = control.calls_for("ListHandshakesForOrganization").await.expect("calls");
    assert_eq!(lists.len(), 3);
}

#[tokio::test]
async fn paginated_sweep_reads_every_page() {
    let (emu, control) = start().await;
    control.set_account_quota(ORG, 100).await.expect("quota");
    let mut seed = Seed::default();
    for i in 0..45 {
        seed.accounts.push(SeedAccount::new(format!("7000000000{i:02}")));
    }
    control.seed(&seed).await.expect("seed");
    let clients = connect_as(&emu, MGMT).await;
    for i in 0..45 {
        let account = format!("7000000000{i:02}");
        match clients.invite_account(&account, None, &BTreeMap::new()).await {
            Ok(_) => {}
            Err(e) if e.reason() == "QuotaExhausted" => break,
            Err(e) => panic!("invite {account}: {e}"),
        }
    }
    let sent = control.calls_for("InviteAccountToOrganization").await.expect("calls");
    let executed = sent.iter().filter(|c| c.executed).count();
    let all = clients.list_invite_handshakes().await.expect("list");
    assert_eq!(all.len(), executed);
    assert!(
        all.len() > 20,
        "more than one page (AWS pages hold at most 20): {}",
        all.len()
    );
    let pages = control.calls_for("ListHandshakesForOrganization").await.expect("calls");
    assert!(pages.len() >= 2, "{} pages", pages.len());
}

#[tokio::test]
async fn membership_sweep_lists_every_member_20_per_page() {
    let (emu, control) = start().await;
    // An organization of 45 accounts (its management account and 44 members): three pages
    // (ListAccounts MaxResults is at most 20: AWS Organizations API reference, ListAccounts).
    let mut seed = Seed::default();
    seed.organizations.push(SeedOrganization {
        id: Some("o-dddddddddd".into()),
        management_account: SeedAccount::new("710000000099"),
        members: (0..44).map(|i| SeedAccount::new(format!("7100000000{i:02}"))).collect(),
        account_quota: Some(100),
        feature_set: None,
    });
    control.seed(&seed).await.expect("seed");
    let clients = connect_as(&emu, "710000000099").await;
    control.clear_calls().await.expect("clear");
    let members = clients.list_accounts().await.expect("list accounts");
    assert_eq!(members.len(), 45);
    let member = members.iter().find(|m| m.id == "710000000007").expect("listed");
    assert_eq!(member.status.as_deref(), Some("ACTIVE"));
    assert_eq!(member.joined_method.as_deref(), Some("CREATED"));
    assert!(member.joined_at.is_some());
    let pages = control.calls_for("ListAccounts").await.expect("calls");
    assert_eq!(pages.len(), 3, "45 accounts, 20 per page");

    // The observer's sweep answers membership for every account without a DescribeAccount.
    let observer = HandshakeObserver::new();
    observer.refresh("p", &clients, Timestamp::now()).await.expect("sweep");
    let view = observer.view("p").expect("view");
    let listed = view.members.expect("members listed");
    assert!(listed.is_member("710000000043"));
    assert!(!listed.is_member(STANDALONE));
    assert!(control.calls_for("DescribeAccount").await.expect("calls").is_empty());
}

#[tokio::test]
async fn duplicate_invitation_is_classified_for_adoption() {
    let (emu, control) = start().await;
    let clients = connect_as(&emu, MGMT).await;
    let first = clients
        .invite_account(STANDALONE, None, &BTreeMap::new())
        .await
        .expect("invite");
    let err = clients
        .invite_account(STANDALONE, None, &BTreeMap::new())
        .await
        .expect_err("duplicate");
    assert!(err.is_duplicate_handshake(), "{err:?}");
    assert_eq!(err.reason(), "DuplicateHandshake");
    assert_eq!(err.class(), ErrorClass::Retryable);
    assert_eq!(err.aws_code(), Some("DuplicateHandshakeException"));
    let pending = clients.list_invite_handshakes().await.expect("list");
    assert_eq!(pending.iter().filter(|h| h.state.is_pending()).count(), 1);
    assert_eq!(pending[0].id, first.id);
    let invites = control.calls_for("InviteAccountToOrganization").await.expect("calls");
    assert_eq!(invites.iter().filter(|c| c.executed).count(), 1);
}

#[tokio::test]
async fn invitation_errors_are_classified() {
    let (emu, control) = start().await;
    let clients = connect_as(&emu, MGMT).await;
    let err = clients
        .invite_account(MEMBER, None, &BTreeMap::new())
        .await
        .expect_err("already a member");
    assert_eq!(err.reason(), "AlreadyInOrganization");
    assert_eq!(err.class(), ErrorClass::Terminal);
    assert!(err.message().contains("leave"), "{}", err.message());
    let err = clients
        .invite_account("12345", None, &BTreeMap::new())
        .await
        .expect_err("bad id");
    assert_eq!(err.class(), ErrorClass::Terminal);
    assert_eq!(err.reason(), "InvalidInput");

    // The account quota (10): 2 accounts + 8 open invitations.
    let mut seed = Seed::default();
    for i in 0..9 {
        seed.accounts.push(SeedAccount::new(format!("8000000000{i:02}")));
    }
    control.seed(&seed).await.expect("seed");
    let mut last = None;
    for i in 0..9 {
        if let Err(e) = clients
            .invite_account(&format!("8000000000{i:02}"), None, &BTreeMap::new())
            .await
        {
            last = Some(e);
            break;
        }
    }
    let err = last.expect("the account quota is reached");
    assert_eq!(
        err.class(),
        ErrorClass::Quota {
            reason: Reason::AccountLimitExceeded
        }
    );
    assert_eq!(err.reason(), "AccountLimitExceeded");

    // Canceling: ended handshakes are "gone".
    let open = clients.list_invite_handshakes().await.expect("list");
    let h = open.iter().find(|h| h.state.is_pending()).expect("an open invitation");
    let canceled = clients.cancel_handshake(&h.id).await.expect("cancel");
    assert_eq!(canceled.state, HandshakeState::Canceled);
    let again = clients.cancel_handshake(&h.id).await.expect_err("already canceled");
    assert!(again.is_handshake_gone(), "{again:?}");
    let described = clients.describe_handshake(&h.id).await.expect("describe");
    assert_eq!(described.state, HandshakeState::Canceled);
    let missing = clients.describe_handshake("h-doesnotexist").await.expect_err("unknown");
    assert_eq!(missing.reason(), "HandshakeNotFound");
}

/// AWS's newer refusals, injected through the emulator's `error` fault and read by the real
/// SDK: the `Reason` member survives the wire and decides the class (texts: the
/// HandshakeConstraintViolationException and ConstraintViolationException reference).
#[tokio::test]
async fn newer_refusals_are_classified_from_the_wire() {
    let (emu, control) = start().await;
    let clients = connect_as(&emu, MGMT).await;
    let cases = [
        (
            "HandshakeConstraintViolationException",
            "ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED",
            "You attempted to change the membership of an account too quickly after its previous change.",
            ErrorClass::Retryable,
            Reason::MembershipChangeRateLimited,
        ),
        (
            "HandshakeConstraintViolationException",
            "PAST_DUE_INVOICE",
            "Your organization has an invoice that is past due.",
            ErrorClass::Terminal,
            Reason::PastDueInvoice,
        ),
        (
            "HandshakeConstraintViolationException",
            "LEGACY_PERMISSIONS_STILL_IN_USE",
            "Your organization must migrate to use the new IAM fine-grained actions for billing, cost management, and accounts.",
            ErrorClass::Terminal,
            Reason::LegacyPermissionsStillInUse,
        ),
        (
            "ConstraintViolationException",
            "WAIT_PERIOD_ACTIVE",
            "You must wait until at least seven days after the account was created.",
            ErrorClass::Retryable,
            Reason::WaitPeriodActive,
        ),
    ];
    for (code, aws_reason, text, class, reason) in cases {
        control
            .add_fault(&Fault::error(
                "InviteAccountToOrganization",
                code,
                Some(aws_reason),
                text,
            ))
            .await
            .expect("fault");
        let err = clients
            .invite_account(STANDALONE, None, &BTreeMap::new())
            .await
            .expect_err(aws_reason);
        assert_eq!((err.class(), err.reason()), (class, reason), "{aws_reason}: {err:?}");
        assert_eq!(err.aws_reason(), Some(aws_reason));
        assert!(
            err.message().contains(text) && err.message().contains(aws_reason),
            "{}",
            err.message()
        );
    }
    // The fault was used up: the next invitation goes out.
    clients
        .invite_account(STANDALONE, None, &BTreeMap::new())
        .await
        .expect("invitation after the faults");
}

#[tokio::test]
async fn non_management_credentials_are_profile_errors() {
    let (emu, _control) = start().await;
    let member = connect_as(&emu, MEMBER).await;
    let err = member
        .invite_account(STANDALONE, None, &BTreeMap::new())
        .await
        .expect_err("member cannot invite");
    assert_eq!(err.class(), ErrorClass::Profile);
    assert_eq!(err.reason(), "AccessDenied");
    let err = member.list_invite_handshakes().await.expect_err("member cannot list");
    assert_eq!(err.reason(), "AccessDenied");

    let standalone = connect_as(&emu, STANDALONE).await;
    let err = standalone
        .describe_organization()
        .await
        .expect_err("not in an organization");
    assert_eq!(err.class(), ErrorClass::Profile);
    assert_eq!(err.reason(), "OrganizationsNotInUse");

    // A failed sweep keeps the error visible in the view.
    let observer = HandshakeObserver::new();
    let err = observer
        .refresh("p", &member, Timestamp::now())
        .await
        .expect_err("denied");
    assert_eq!(err.reason(), "AccessDenied");
    let view = observer.view("p").expect("view");
    assert_eq!(view.last_error.map(|e| e.reason.as_str()), Some("AccessDenied"));
    assert!(!observer.is_synced("p"));
}

#[tokio::test]
async fn describe_account_distinguishes_members() {
    let (emu, _control) = start().await;
    let clients = connect_as(&emu, MGMT).await;
    let member = clients
        .describe_account(MEMBER)
        .await
        .expect("describe")
        .expect("member");
    assert_eq!(member.joined_method.as_deref(), Some("CREATED"));
    assert!(clients.describe_account(STANDALONE).await.expect("describe").is_none());
    assert!(
        clients
            .describe_account(OTHER_MEMBER)
            .await
            .expect("describe")
            .is_none()
    );
}

#[tokio::test]
async fn transient_faults_are_retried_or_classified_retryable() {
    let (emu, control) = start().await;
    let clients = connect_as(&emu, MGMT).await;

    // One throttle: the SDK's retry absorbs it.
    control
        .add_fault(&Fault::new("DescribeOrganization", FaultKind::Throttle))
        .await
        .expect("fault");
    clients.describe_organization().await.expect("retried");

    // Persistent throttling: 3 attempts, then Retryable/Throttled.
    control.clear_calls().await.expect("clear");
    control
        .add_fault(&Fault::new("DescribeOrganization", FaultKind::Throttle).times(10))
        .await
        .expect("fault");
    let err = clients.describe_organization().await.expect_err("throttled");
    assert_eq!(err.class(), ErrorClass::Retryable);
    assert_eq!(err.reason(), "Throttled");
    assert_eq!(control.calls_for("DescribeOrganization").await.expect("calls").len(), 3);
    control.clear_faults().await.expect("clear");

    // 500s.
    control
        .add_fault(&Fault::new("ListHandshakesForOrganization", FaultKind::Http500).times(10))
        .await
        .expect("fault");
    let err = clients.list_invite_handshakes().await.expect_err("500");
    assert_eq!(err.class(), ErrorClass::Retryable);
    assert_eq!(err.reason(), "AwsUnavailable");
    control.clear_faults().await.expect("clear");

    // Dropped connections.
    control
        .add_fault(&Fault::new("DescribeAccount", FaultKind::DropConnection).times(10))
        .await
        .expect("fault");
    let err = clients.describe_account(MEMBER).await.expect_err("dropped");
    assert_eq!(err.class(), ErrorClass::Retryable, "{err:?}");
    assert_eq!(err.reason(), "AwsUnavailable");
    assert!(!err.message().is_empty());
    control.clear_faults().await.expect("clear");
}

#[tokio::test]
async fn invitation_is_never_retried_by_the_sdk() {
    let (emu, control) = start().await;
    let clients = connect_as(&emu, MGMT).await;
    // The invitation is sent, but the answer is lost.
    control
        .add_fault(&Fault::new("InviteAccountToOrganization", FaultKind::Http500).after())
        .await
        .expect("fault");
    let err = clients
        .invite_account(STANDALONE, None, &BTreeMap::new())
        .await
        .expect_err("500 after");
    assert_eq!(err.class(), ErrorClass::Retryable);
    let invites = control.calls_for("InviteAccountToOrganization").await.expect("calls");
    assert_eq!(invites.len(), 1, "no SDK retry for invitations");
    assert!(invites[0].executed);
    // The next sweep finds it, so the reconciler adopts it instead of sending again.
    let observer = HandshakeObserver::new();
    let changed = observer.refresh("p", &clients, Timestamp::now()).await.expect("sweep");
    assert_eq!(changed.accounts, vec![STANDALONE.to_string()]);
    assert!(
        observer
            .view("p")
            .expect("view")
            .index
            .pending_for_account(STANDALONE)
            .is_some()
    );

    // Dropped connection after the invitation executed: same story.
    control
        .add_fault(&Fault::new("InviteAccountToOrganization", FaultKind::DropConnection).after())
        .await
        .expect("fault");
    let err = clients
        .invite_account(STANDALONE2, None, &BTreeMap::new())
        .await
        .expect_err("dropped after");
    assert_eq!(err.class(), ErrorClass::Retryable);
    let invites = control.calls_for("InviteAccountToOrganization").await.expect("calls");
    assert_eq!(invites.len(), 2);
}

#[tokio::test]
async fn connect_assumes_the_profile_role() {
    let (emu, control) = start().await;
    let role_spec = spec(
        &emu,
        json!({"credentials": {"roleArn": format!("arn:aws:iam::{MGMT}:role/aws-invite-operator"), "externalId": "op-ext"}}),
    );
    let clients = ProfileClients::connect(&role_spec, Some(keys(STANDALONE2)))
        .await
        .expect("connect");
    let org = clients
        .describe_organization()
        .await
        .expect("describe as the assumed role");
    assert_eq!(org.management_account_id, MGMT);
    clients.list_invite_handshakes().await.expect("list");
    let assumes = control.calls_for("AssumeRole").await.expect("calls");
    assert_eq!(assumes.len(), 1, "credentials are cached");
    assert_eq!(assumes[0].access_key_id.as_deref(), Some(STANDALONE2));
    let org_calls = control.calls_for("DescribeOrganization").await.expect("calls");
    assert_eq!(org_calls[0].caller_account_id.as_deref(), Some(MGMT));

    // Wrong external ID: the role cannot be assumed, the profile is not Ready.
    let bad = spec(
        &emu,
        json!({"credentials": {"roleArn": format!("arn:aws:iam::{MGMT}:role/aws-invite-operator"), "externalId": "nope"}}),
    );
    let err = ProfileClients::connect(&bad, Some(keys(STANDALONE2)))
        .await
        .expect_err("denied");
    assert_eq!(err.class(), ErrorClass::Profile);
    assert_eq!(err.reason(), "AccessDenied");
    assert_eq!(err.operation(), "AssumeRole");
}

#[tokio::test]
async fn member_role_verification() {
    let (emu, control) = start().await;
    let clients = connect_as(&emu, MGMT).await;
    let oaar = "OrganizationAccountAccessRole";

    let ok = verify_member_role(&clients, MEMBER, oaar, "CloudHealth", CLOUDHEALTH, Some(EXTERNAL_ID)).await;
    assert_eq!(ok.expect("check"), IamCheck::Verified);
    // The bare account ID is the same principal.
    let ok = verify_member_role(&clients, MEMBER, oaar, "CloudHealth", "454464851268", Some(EXTERNAL_ID)).await;
    assert_eq!(ok.expect("check"), IamCheck::Verified);

    let check = verify_member_role(&clients, MEMBER, oaar, "Missing", CLOUDHEALTH, Some(EXTERNAL_ID)).await;
    match check.expect("check") {
        IamCheck::Missing { reason, message } => {
            assert_eq!(reason, "RoleNotFound");
            assert!(message.contains("Missing"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let check = verify_member_role(&clients, MEMBER, oaar, "CloudHealth", CLOUDHEALTH, Some("other")).await;
    match check.expect("check") {
        IamCheck::Missing { reason, message } => {
            assert_eq!(reason, "TrustPolicyMismatch");
            assert!(message.contains("matches none of them"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let check = verify_member_role(
        &clients,
        MEMBER,
        oaar,
        "CloudHealthNoExternalId",
        CLOUDHEALTH,
        Some(EXTERNAL_ID),
    )
    .await;
    match check.expect("check") {
        IamCheck::Missing { reason, message } => {
            assert_eq!(reason, "TrustPolicyMismatch");
            assert!(message.contains("sts:ExternalId"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    let check = verify_member_role(
        &clients,
        MEMBER,
        oaar,
        "CloudHealth",
        "arn:aws:iam::999999999999:root",
        None,
    )
    .await;
    match check.expect("check") {
        IamCheck::Missing { reason, message } => {
            assert_eq!(reason, "TrustPolicyMismatch");
            assert!(message.contains("999999999999"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // No member access role in that account.
    let check = verify_member_role(&clients, STANDALONE, oaar, "CloudHealth", CLOUDHEALTH, None).await;
    match check.expect("check") {
        IamCheck::Missing { reason, .. } => assert_eq!(reason, "MemberAccessDenied"),
        other => panic!("{other:?}"),
    }

    // The role created later is found by the next check.
    control
        .add_role(&SeedRole {
            account_id: MEMBER.into(),
            name: "Later".into(),
            path: None,
            trust_policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": CLOUDHEALTH}, "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]}),
            max_session_duration: None,
        })
        .await
        .expect("role");
    let ok = verify_member_role(&clients, MEMBER, oaar, "Later", CLOUDHEALTH, Some(EXTERNAL_ID)).await;
    assert_eq!(ok.expect("check"), IamCheck::Verified);

    // Throttled GetRole is an error to retry, not a verdict.
    control
        .add_fault(&Fault::new("GetRole", FaultKind::Throttle).times(10))
        .await
        .expect("fault");
    let err = verify_member_role(&clients, MEMBER, oaar, "CloudHealth", CLOUDHEALTH, Some(EXTERNAL_ID))
        .await
        .expect_err("throttled");
    assert_eq!(err.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn poller_wakes_changed_accounts_and_stops() {
    let (emu, control) = start().await;
    let clients = connect_as(&emu, MGMT).await;
    let observer = HandshakeObserver::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<String>>();
    let stop = CancellationToken::new();
    let task = spawn_profile_poller(
        observer.clone(),
        "payer".into(),
        clients.clone(),
        Duration::from_millis(100),
        stop.clone(),
        Timestamp::now,
        move |changed| {
            let _ = tx.send(changed.accounts);
        },
    );
    let h = clients
        .invite_account(STANDALONE, None, &BTreeMap::new())
        .await
        .expect("invite");
    let woken = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("woken")
        .expect("message");
    assert_eq!(woken, vec![STANDALONE.to_string()]);
    control.decline_handshake(&h.id).await.expect("decline");
    let woken = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("woken")
        .expect("message");
    assert_eq!(woken, vec![STANDALONE.to_string()]);
    assert_eq!(
        observer.view("payer").expect("view").index.get(&h.id).map(|x| x.state),
        Some(HandshakeState::Declined)
    );
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stopped")
        .expect("joined");
    // Steady state: one ListHandshakesForOrganization and one ListAccounts per interval,
    // nothing else.
    let calls = control.calls().await.expect("calls");
    assert!(calls.iter().all(|c| matches!(
        c.operation.as_str(),
        "ListHandshakesForOrganization" | "ListAccounts" | "InviteAccountToOrganization"
    )));
}
