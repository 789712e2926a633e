//! The AWS layer reads AWS's answers by what the Organizations model guarantees, not by the
//! shape of one example (issue 10, item 5). The emulator's `responseShape` options reshape its
//! answers within the model; the real AWS SDK parses them and the operator's AWS layer must
//! still find the invitee, follow the handshake and not loop.
//!
//! What the model promises (AWS Organizations API reference, data types): "Handshake" — every
//! member Required: No, `Parties` "information about the two accounts" with no order;
//! "HandshakeParty" — `Id` and `Type` (ACCOUNT | ORGANIZATION | EMAIL) required;
//! "HandshakeResource" — `Type`, `Value`, `Resources` all Required: No; "Account" and
//! "Organization" — every member Required: No. ListHandshakesForOrganization: "NextToken ...
//! Use this parameter in a subsequent request ... until the NextToken response element comes
//! back as null" (nothing promises that a token is not repeated).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use aws_invite_operator::api::BillingProfileSpec;
use aws_invite_operator::aws::{ErrorClass, HandshakeObserver, HandshakeState, ProfileClients, StaticKeys};
use aws_sdk_organizations::types::HandshakePartyType;
use jiff::Timestamp;
use orgs_emulator::{
    ControlClient, Emulator, EmulatorConfig, ModelOptions, ResponseShape, RunningEmulator, Seed, SeedAccount,
    SeedOrganization,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const MGMT: &str = "111111111111";
const MEMBER: &str = "222222222222";
const INVITEE: &str = "333333333333";
const ORG: &str = "o-aaaaaaaaaa";

async fn start(shape: ResponseShape) -> (RunningEmulator, ControlClient, ProfileClients) {
    let seed = Seed {
        organizations: vec![SeedOrganization {
            id: Some(ORG.into()),
            management_account: SeedAccount::new(MGMT),
            members: vec![SeedAccount::new(MEMBER)],
            account_quota: Some(10),
            feature_set: None,
        }],
        accounts: vec![SeedAccount::new(INVITEE)],
        roles: vec![],
        ..Seed::default()
    };
    let emu = Emulator::start(EmulatorConfig::with_seed(seed).rate_limits(false))
        .await
        .expect("emulator");
    let control = ControlClient::new(emu.url());
    control
        .set_options(&ModelOptions {
            response_shape: shape,
            ..ModelOptions::default()
        })
        .await
        .expect("options");
    let spec: BillingProfileSpec =
        serde_json::from_value(json!({"managementAccountId": MGMT, "endpointUrl": emu.url()})).expect("spec");
    let keys = StaticKeys {
        access_key_id: MGMT.into(),
        secret_access_key: "secret".into(),
        session_token: None,
    };
    let clients = ProfileClients::connect(&spec, Some(keys)).await.expect("connect");
    (emu, control, clients)
}

fn shapes() -> Vec<(&'static str, ResponseShape)> {
    vec![
        ("default", ResponseShape::default()),
        (
            "management account listed first",
            ResponseShape {
                management_party_first: true,
                ..ResponseShape::default()
            },
        ),
        (
            "parties and resources reversed",
            ResponseShape {
                reversed: true,
                management_party_first: true,
                ..ResponseShape::default()
            },
        ),
        (
            "invitee only in the resources",
            ResponseShape {
                invitee_in_resources_only: true,
                management_party_first: true,
                ..ResponseShape::default()
            },
        ),
        (
            "optional members omitted",
            ResponseShape {
                omit_optional: true,
                ..ResponseShape::default()
            },
        ),
        (
            "all at once",
            ResponseShape {
                management_party_first: true,
                reversed: true,
                invitee_in_resources_only: true,
                omit_optional: true,
                looping_next_token: false,
            },
        ),
    ]
}

/// Invite, sweep, accept, sweep: under every shape the handshake is filed under the invitee
/// (never the management account), found by ID, and its acceptance wakes the invitee's account.
#[tokio::test]
async fn every_shape_files_the_handshake_under_the_invitee() {
    for (name, shape) in shapes() {
        let (_emu, control, clients) = start(shape.clone()).await;
        let h = clients
            .invite_account(INVITEE, Some("welcome"), &BTreeMap::new())
            .await
            .unwrap_or_else(|e| panic!("{name}: invite: {e}"));
        assert_eq!(h.account_id.as_deref(), Some(INVITEE), "{name}");
        assert_eq!(h.state, HandshakeState::Open, "{name}");
        if shape.omit_optional {
            assert_eq!(
                (h.arn.as_ref(), h.requested_at, h.expires_at),
                (None, None, None),
                "{name}"
            );
        } else {
            assert!(h.expires_at > h.requested_at, "{name}");
        }

        // The raw answer, through the SDK: the shape the operator must cope with.
        let raw = clients
            .orgs
            .describe_handshake()
            .handshake_id(&h.id)
            .send()
            .await
            .expect("raw");
        let parties = raw.handshake().expect("handshake").parties();
        let first_account = parties.iter().find(|p| *p.r#type() == HandshakePartyType::Account);
        if shape.management_party_first && !shape.reversed {
            // What `invited_account` took before issue 10 item 5: the management account.
            assert_eq!(first_account.map(|p| p.id()), Some(MGMT), "{name}");
        }
        if shape.invitee_in_resources_only {
            assert!(parties.iter().all(|p| p.id() != INVITEE), "{name}: {parties:?}");
        }

        let observer = HandshakeObserver::new();
        let first = observer.refresh("p", &clients, Timestamp::now()).await.expect("sweep");
        assert_eq!(first.accounts, vec![INVITEE.to_string()], "{name}");
        assert_eq!(first.handshakes, vec![h.id.clone()], "{name}");
        let view = observer.view("p").expect("view");
        assert_eq!(
            view.index.pending_for_account(INVITEE).map(|p| p.id.clone()),
            Some(h.id.clone()),
            "{name}"
        );
        assert!(
            view.index.for_account(MGMT).is_empty(),
            "{name}: nothing filed under the payer"
        );
        let described = clients.describe_handshake(&h.id).await.expect("describe");
        assert_eq!(described.account_id.as_deref(), Some(INVITEE), "{name}");

        control.accept_handshake(&h.id).await.expect("accept");
        let changed = observer.refresh("p", &clients, Timestamp::now()).await.expect("sweep");
        assert_eq!(changed.accounts, vec![INVITEE.to_string()], "{name}");
        assert_eq!(changed.handshakes, vec![h.id.clone()], "{name}");
        let view = observer.view("p").expect("view");
        assert_eq!(
            view.index.get(&h.id).map(|x| x.state),
            Some(HandshakeState::Accepted),
            "{name}"
        );

        // Membership: DescribeAccount with every optional member omitted is still a member.
        let member = clients.describe_account(INVITEE).await.expect("describe account");
        let member = member.unwrap_or_else(|| panic!("{name}: a member"));
        assert_eq!(member.id, INVITEE);
        assert_eq!(member.joined_at.is_none(), shape.omit_optional, "{name}");
        let org = clients.describe_organization().await.expect("describe organization");
        assert_eq!(
            (org.id.as_str(), org.management_account_id.as_str()),
            (ORG, MGMT),
            "{name}"
        );
        assert_eq!(org.management_account_email.is_none(), shape.omit_optional, "{name}");
    }
}

/// A NextToken that comes back forever ends the sweep with a retryable error after a bounded
/// number of calls (two: the first page, and the page whose token repeats), not a hang.
#[tokio::test]
async fn a_looping_next_token_is_an_error_not_a_hang() {
    let (_emu, control, clients) = start(ResponseShape {
        looping_next_token: true,
        ..ResponseShape::default()
    })
    .await;
    clients
        .invite_account(INVITEE, None, &BTreeMap::new())
        .await
        .expect("invite");
    control.clear_calls().await.expect("clear");
    let swept = tokio::time::timeout(Duration::from_secs(20), clients.list_invite_handshakes())
        .await
        .expect("the sweep ends");
    let e = swept.expect_err("a repeated NextToken is refused");
    assert_eq!(e.class(), ErrorClass::Retryable);
    assert!(e.message().contains("NextToken repeated"), "{}", e.message());
    let calls = control.calls_for("ListHandshakesForOrganization").await.expect("calls");
    assert_eq!(calls.len(), 2);

    for (op, result) in [
        (
            "ListHandshakesForOrganization",
            tokio::time::timeout(Duration::from_secs(20), clients.list_transfer_handshakes())
                .await
                .expect("ends")
                .map(|_| ()),
        ),
        (
            "ListAccounts",
            tokio::time::timeout(Duration::from_secs(20), clients.list_accounts())
                .await
                .expect("ends")
                .map(|_| ()),
        ),
        (
            "ListInboundResponsibilityTransfers",
            tokio::time::timeout(Duration::from_secs(20), clients.list_inbound_transfers())
                .await
                .expect("ends")
                .map(|_| ()),
        ),
    ] {
        let e = result.expect_err(op);
        assert_eq!(e.class(), ErrorClass::Retryable, "{op}");
    }
}
