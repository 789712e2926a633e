//! Contract tests: STS/IAM with the real SDKs, faults, the call log, rate limits and bad
//! requests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use aws_sdk_iam::operation::get_role::GetRoleError;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::operation::describe_handshake::DescribeHandshakeError;
use aws_sdk_organizations::operation::invite_account_to_organization::InviteAccountToOrganizationError;
use aws_sdk_organizations::types::{HandshakeParty, HandshakePartyType};
use common::*;
use orgs_emulator::{EmulatorConfig, Fault, FaultKind};
use std::time::{Duration, Instant};

fn party(id: &str) -> HandshakeParty {
    HandshakeParty::builder()
        .r#type(HandshakePartyType::Account)
        .id(id)
        .build()
        .unwrap()
}

#[tokio::test]
async fn assume_role_then_get_role_in_member_account() {
    let emu = start().await;
    let s = sts(&emu, MGMT, "secret", None);
    let role_arn = format!("arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole");
    let out = s
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("verify")
        .external_id("ext-123")
        .send()
        .await
        .unwrap();
    let creds = out.credentials.unwrap();
    assert!(creds.access_key_id.starts_with("ASIA"));
    assert_eq!(
        out.assumed_role_user.unwrap().arn,
        format!("arn:aws:sts::{MEMBER}:assumed-role/OrganizationAccountAccessRole/verify")
    );

    // The issued credentials act as the member account.
    let s2 = sts(
        &emu,
        &creds.access_key_id,
        &creds.secret_access_key,
        Some(creds.session_token.clone()),
    );
    let who = s2.get_caller_identity().send().await.unwrap();
    assert_eq!(who.account(), Some(MEMBER));
    let i = iam(
        &emu,
        &creds.access_key_id,
        &creds.secret_access_key,
        Some(creds.session_token.clone()),
    );
    let role = i
        .get_role()
        .role_name("OrganizationAccountAccessRole")
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(role.arn, role_arn);
    // IAM returns the trust policy URL-encoded.
    let doc = role.assume_role_policy_document.unwrap();
    assert!(doc.starts_with("%7B"), "{doc}");
    let decoded: String = url::form_urlencoded::parse(format!("d={doc}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let v: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(
        v["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "ext-123"
    );

    let e = i
        .get_role()
        .role_name("Missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(e, GetRoleError::NoSuchEntityException(_)), "{e:?}");

    // Wrong external ID / untrusted caller → AccessDenied.
    let e = s
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("verify")
        .external_id("wrong")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    let e = sts(&emu, STANDALONE, "s", None)
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name("x1")
        .external_id("ext-123")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
}

#[tokio::test]
async fn faults_before_and_after_execution_and_the_call_log() {
    let emu = start().await;
    let ctl = emu.control();
    let c = orgs(&emu, MGMT);

    // 500 before: nothing happens.
    ctl.add_fault(&Fault::new("InviteAccountToOrganization", FaultKind::Http500))
        .await
        .unwrap();
    let e = c
        .invite_account_to_organization()
        .target(party(STANDALONE))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, InviteAccountToOrganizationError::ServiceException(_)),
        "{e:?}"
    );
    assert!(ctl.handshakes().await.unwrap().is_empty());

    // Throttle before.
    ctl.add_fault(&Fault::new("InviteAccountToOrganization", FaultKind::Throttle))
        .await
        .unwrap();
    let e = c
        .invite_account_to_organization()
        .target(party(STANDALONE))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, InviteAccountToOrganizationError::TooManyRequestsException(_)),
        "{e:?}"
    );

    // Dropped connection AFTER the invite executed: the invite reached AWS, the reply is lost.
    ctl.add_fault(&Fault::new("InviteAccountToOrganization", FaultKind::DropConnection).after())
        .await
        .unwrap();
    let e = c
        .invite_account_to_organization()
        .target(party(STANDALONE))
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(e, SdkError::DispatchFailure(_) | SdkError::ResponseError(_)),
        "{e:?}"
    );
    let hs = ctl.handshakes().await.unwrap();
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].target_id, STANDALONE);
    // Retrying now gets DuplicateHandshakeException.
    let e = c
        .invite_account_to_organization()
        .target(party(STANDALONE))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, InviteAccountToOrganizationError::DuplicateHandshakeException(_)),
        "{e:?}"
    );

    // 500 after execution.
    ctl.add_fault(&Fault::new("InviteAccountToOrganization", FaultKind::Http500).after())
        .await
        .unwrap();
    let e = c
        .invite_account_to_organization()
        .target(party(STANDALONE2))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, InviteAccountToOrganizationError::ServiceException(_)),
        "{e:?}"
    );
    assert_eq!(ctl.handshakes().await.unwrap().len(), 2);

    // Dropped connection before: nothing happens, and the emulator keeps serving.
    ctl.add_fault(&Fault::new("*", FaultKind::DropConnection).times(2))
        .await
        .unwrap();
    assert!(c.describe_organization().send().await.is_err());
    assert!(c.list_accounts().send().await.is_err());
    c.describe_organization().send().await.unwrap();

    // Latency.
    ctl.add_fault(&Fault::new("DescribeOrganization", FaultKind::Latency).latency_ms(300))
        .await
        .unwrap();
    let t = Instant::now();
    c.describe_organization().send().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(ctl.faults().await.unwrap().is_empty());

    // The call log: 5 invite attempts, 2 of which executed.
    let invites = ctl.calls_for("InviteAccountToOrganization").await.unwrap();
    assert_eq!(invites.len(), 5);
    let outcomes: Vec<_> = invites
        .iter()
        .map(|c| (c.outcome.as_str(), c.executed, c.fault.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("ServiceException", false, Some("http500")),
            ("TooManyRequestsException", false, Some("throttle")),
            ("dropped", true, Some("drop_connection_after")),
            ("DuplicateHandshakeException", false, None),
            ("ServiceException", true, Some("http500_after")),
        ]
    );
    assert_eq!(invites.iter().filter(|c| c.executed).count(), 2);
    assert!(
        invites
            .iter()
            .all(|c| c.caller_account_id.as_deref() == Some(MGMT) && c.service == "organizations")
    );
    assert_eq!(invites[0].target_account_id.as_deref(), Some(STANDALONE));
    assert!(invites[2].handshake_id.as_deref().is_some_and(|h| h.starts_with("h-")));
    let all = ctl.calls().await.unwrap();
    assert!(all.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    ctl.clear_calls().await.unwrap();
    assert!(ctl.calls().await.unwrap().is_empty());
}

#[tokio::test]
async fn rate_limits_throttle_and_can_be_switched_off() {
    let emu = start_with(EmulatorConfig::with_seed(seed())).await;
    let c = orgs(&emu, MGMT);
    let id = invite(&c, STANDALONE).await;
    // DescribeHandshake: burst 2.
    c.describe_handshake().handshake_id(&id).send().await.unwrap();
    c.describe_handshake().handshake_id(&id).send().await.unwrap();
    let e = c
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, DescribeHandshakeError::TooManyRequestsException(_)),
        "{e:?}"
    );
    // Another account has its own bucket.
    orgs(&emu, STANDALONE)
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap();
    emu.control().set_rate_limits(false).await.unwrap();
    for _ in 0..5 {
        c.describe_handshake().handshake_id(&id).send().await.unwrap();
    }
    // The SDK's default retry policy rides out throttling.
    emu.control().set_rate_limits(true).await.unwrap();
    let retrying = aws_sdk_organizations::Client::from_conf(
        c.config()
            .to_builder()
            .retry_config(aws_sdk_organizations::config::retry::RetryConfig::standard().with_max_attempts(5))
            .build(),
    );
    for _ in 0..4 {
        retrying.describe_handshake().handshake_id(&id).send().await.unwrap();
    }
}

#[tokio::test]
async fn bad_requests_get_aws_shaped_errors_and_do_not_wedge() {
    let emu = start().await;
    let http = reqwest::Client::new();
    let post = |target: Option<&str>, ct: &str, body: Vec<u8>| {
        let mut r = http.post(emu.url()).header("content-type", ct.to_string()).body(body);
        if let Some(t) = target {
            r = r.header("x-amz-target", t.to_string());
        }
        r.send()
    };
    let json_ct = "application/x-amz-json-1.1";
    let r = post(
        Some("AWSOrganizationsV20161128.DescribeOrganization"),
        json_ct,
        b"{not json".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["__type"], "SerializationException");

    let r = post(Some("AWSOrganizationsV20161128.CreateGalaxy"), json_ct, b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["__type"],
        "UnknownOperationException"
    );

    let r = post(None, json_ct, b"{}".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["__type"],
        "UnknownOperationException"
    );

    let r = post(
        Some("AWSOrganizationsV20161128.InviteAccountToOrganization"),
        json_ct,
        br#"{"Target": 5}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["__type"],
        "SerializationException"
    );

    let r = post(
        Some("AWSOrganizationsV20161128.InviteAccountToOrganization"),
        json_ct,
        b"{}".to_vec(),
    )
    .await
    .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["__type"], "InvalidInputException");
    assert_eq!(v["Reason"], "INPUT_REQUIRED");

    let big = vec![b' '; 2 * 1024 * 1024];
    let r = post(Some("AWSOrganizationsV20161128.DescribeOrganization"), json_ct, big).await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }

    let r = post(
        None,
        "application/x-www-form-urlencoded",
        b"Action=DeleteEverything&Version=2011-06-15".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<ErrorResponse") && text.contains("<Code>InvalidAction</Code>"),
        "{text}"
    );

    // Still healthy.
    orgs(&emu, MGMT).describe_organization().send().await.unwrap();
    let r = http.get(format!("{}/_emulator/nope", emu.url())).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn control_api_makes_the_outside_world_change() {
    let emu = start().await;
    let ctl = emu.control();
    let c = orgs(&emu, MGMT);
    // Canceled from the console, expired without moving the clock, purged as AWS does 30 days
    // after a handshake ended (AWS Organizations API reference, Handshake: "show up in lists
    // for only 30 days after entering that state. After that they are deleted").
    let canceled = invite(&c, STANDALONE).await;
    assert_eq!(ctl.cancel_handshake(&canceled).await.unwrap().state, "CANCELED");
    let expired = invite(&c, STANDALONE2).await;
    assert_eq!(ctl.expire_handshake(&expired).await.unwrap().state, "EXPIRED");
    let e = ctl.expire_handshake(&expired).await.unwrap_err();
    assert_eq!(e.code(), Some("HandshakeAlreadyInStateException"));
    assert_eq!(ctl.purge_handshake(&canceled).await.unwrap().state, "CANCELED");
    let e = c.describe_handshake().handshake_id(&canceled).send().await.unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("HandshakeNotFoundException"));
    let listed = c.list_handshakes_for_organization().send().await.unwrap();
    assert_eq!(listed.handshakes().len(), 1, "only the expired one is still listed");
    // An OPEN handshake purged is expired first.
    let open = invite(&c, STANDALONE).await;
    assert_eq!(ctl.purge_handshake(&open).await.unwrap().state, "EXPIRED");

    // A member is removed by its management account; another moves to a second organization.
    let moved = ctl.move_account(STANDALONE, ORG).await.unwrap();
    assert_eq!(moved.organization_id.as_deref(), Some(ORG));
    assert_eq!(
        ctl.remove_from_organization(STANDALONE).await.unwrap().organization_id,
        None
    );
    let moved = ctl.move_account(MEMBER, OTHER_ORG).await.unwrap();
    assert_eq!(moved.organization_id.as_deref(), Some(OTHER_ORG));
    let e = c.describe_account().account_id(MEMBER).send().await.unwrap_err();
    assert_eq!(e.into_service_error().meta().code(), Some("AccountNotFoundException"));
    let e = ctl.move_account(MGMT, OTHER_ORG).await.unwrap_err();
    assert_eq!(e.code(), Some("MasterCannotLeaveOrganizationException"));
}

#[tokio::test]
async fn control_api_acts_as_the_invitee() {
    let emu = start().await;
    let ctl = emu.control();
    let c = orgs(&emu, MGMT);
    let a = invite(&c, STANDALONE).await;
    let b = invite(&c, STANDALONE2).await;
    assert_eq!(ctl.decline_invite_for(STANDALONE).await.unwrap().id, a);
    assert_eq!(ctl.accept_handshake(&b).await.unwrap().state, "ACCEPTED");
    let e = ctl.accept_handshake(&b).await.unwrap_err();
    assert_eq!(e.code(), Some("HandshakeAlreadyInStateException"));
    let e = ctl.accept_invite_for(STANDALONE).await.unwrap_err();
    assert_eq!(e.code(), Some("NotFound"));
    assert_eq!(ctl.leave_organization(STANDALONE2).await.unwrap().organization_id, None);
    let e = ctl.leave_organization(MGMT).await.unwrap_err();
    assert_eq!(e.code(), Some("MasterCannotLeaveOrganizationException"));
    let snap = ctl.state().await.unwrap();
    assert_eq!(snap.organizations.len(), 2);
    assert_eq!(snap.handshakes.len(), 2);
    // Reset to an empty world.
    ctl.reset(None).await.unwrap();
    assert!(ctl.state().await.unwrap().accounts.is_empty());
    ctl.seed(&seed()).await.unwrap();
    assert_eq!(ctl.state().await.unwrap().accounts.len(), 6);
    // Invalid seeds are refused atomically.
    let e = ctl.seed(&seed()).await.unwrap_err();
    assert_eq!(e.code(), Some("BadRequest"));
    assert_eq!(ctl.state().await.unwrap().accounts.len(), 6);
}

#[test]
fn background_emulator_outlives_test_runtimes() {
    let emu =
        orgs_emulator::Emulator::start_in_background(EmulatorConfig::with_seed(seed()).rate_limits(false)).unwrap();
    for _ in 0..2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            orgs(&emu, MGMT).describe_organization().send().await.unwrap();
        });
    }
}

#[tokio::test]
async fn seed_file_loads_json_and_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let y = dir.path().join("seed.yaml");
    std::fs::write(
        &y,
        "organizations:\n  - id: o-cccccccccc\n    management_account: {id: '777777777777', email: boss@example.com}\n    members: [{id: '888888888888'}]\n    account_quota: 50\naccounts: [{id: '999999999999'}]\nroles:\n  - account_id: '888888888888'\n    name: CloudHealth\n    trust_policy: '{\"Version\":\"2012-10-17\",\"Statement\":[]}'\n",
    )
    .unwrap();
    let s = orgs_emulator::Seed::from_file(&y).unwrap();
    assert_eq!(s.organizations[0].account_quota, Some(50));
    let j = dir.path().join("seed.json");
    std::fs::write(&j, serde_json::to_string(&seed()).unwrap()).unwrap();
    assert_eq!(orgs_emulator::Seed::from_file(&j).unwrap(), seed());
    let emu = start_with(EmulatorConfig::with_seed(s)).await;
    let org = orgs(&emu, "777777777777")
        .describe_organization()
        .send()
        .await
        .unwrap()
        .organization
        .unwrap();
    assert_eq!(org.id(), Some("o-cccccccccc"));
}

#[tokio::test]
async fn example_seed_starts() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed.yaml");
    let s = orgs_emulator::Seed::from_file(&path).unwrap();
    let emu = start_with(EmulatorConfig::with_seed(s)).await;
    let snap = emu.control().state().await.unwrap();
    assert_eq!(snap.organizations.len(), 2);
    assert_eq!(snap.roles.len(), 2);
}

#[tokio::test]
async fn assumed_role_credentials_expire_with_the_emulator_clock() {
    let emu = start().await;
    let out = sts(&emu, MGMT, "s", None)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole"))
        .role_session_name("short")
        .external_id("ext-123")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let c = out.credentials.unwrap();
    let as_member = orgs(&emu, &c.access_key_id);
    assert_eq!(
        as_member
            .describe_organization()
            .send()
            .await
            .unwrap()
            .organization
            .unwrap()
            .id(),
        Some(ORG)
    );
    emu.control().advance_clock(Duration::from_secs(901)).await.unwrap();
    let e = as_member.describe_organization().send().await.unwrap_err();
    assert_eq!(e.code(), Some("ExpiredTokenException"));
    let e = iam(
        &emu,
        &c.access_key_id,
        &c.secret_access_key,
        Some(c.session_token.clone()),
    )
    .get_role()
    .role_name("OrganizationAccountAccessRole")
    .send()
    .await
    .unwrap_err();
    assert_eq!(aws_sdk_iam::error::ProvideErrorMetadata::code(&e), Some("ExpiredToken"));
}
