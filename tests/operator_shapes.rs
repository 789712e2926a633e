//! The operator on a real API server against answers shaped unlike the emulator's defaults but
//! within the AWS Organizations model (issue 10, item 5): the management account listed as an
//! ACCOUNT party before the invitee (as an independent emulator does), parties and resources
//! reversed, the invitee only in the resources, optional members omitted (API reference, data
//! types "Handshake", "HandshakeParty", "HandshakeResource", "Account": every Handshake and
//! Account member is Required: No; a party's Id and Type are required). The invite must still
//! reach Joined and Ready with exactly one invitation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::BTreeMap;

use aws_invite_operator::api::{BillingProfileSpec, InvitePhase};
use aws_invite_operator::aws::{ProfileClients, StaticKeys};
use orgs_emulator::{ModelOptions, ResponseShape};
use serde_json::json;
use support::*;

async fn invite_accept_ready(h: &Harness, name: &str, account: &str) {
    h.create_invite(name, account, json!({})).await;
    let invited = h.wait_phase(name, InvitePhase::Invited).await;
    let recorded = invited.status.and_then(|s| s.handshake).expect("handshake recorded");
    h.aws.accept_invite_for(account).await.expect("accept");
    let ready = h.wait_phase(name, InvitePhase::Ready).await;
    assert_eq!(
        condition(&ready, "AccountJoined").map(|c| (c.0, c.1)),
        Some(("True".into(), "Accepted".into())),
        "{name}"
    );
    let status = ready.status.expect("status");
    assert_eq!(
        status.handshake.as_ref().map(|x| x.id.as_str()),
        Some(recorded.id.as_str())
    );
    assert_eq!(status.handshake.as_ref().map(|x| x.state.as_str()), Some("ACCEPTED"));
    assert_eq!(invitation_calls(h, account).await, 1, "{name}: exactly one invitation");
}

/// Every InviteAccountToOrganization call for `account`, whatever its outcome.
async fn invitation_calls(h: &Harness, account: &str) -> usize {
    let calls = h.aws.calls_for("InviteAccountToOrganization").await.expect("call log");
    calls
        .iter()
        .filter(|c| c.target_account_id.as_deref() == Some(account))
        .count()
}

/// The payer's own clients, as an earlier run of the operator (or a person at the console) used.
async fn payer(h: &Harness) -> ProfileClients {
    let spec: BillingProfileSpec =
        serde_json::from_value(json!({"managementAccountId": MGMT, "endpointUrl": h.emulator.url()})).expect("spec");
    let keys = StaticKeys {
        access_key_id: MGMT.into(),
        secret_access_key: "secret".into(),
        session_token: None,
    };
    ProfileClients::connect(&spec, Some(keys)).await.expect("connect")
}

#[tokio::test]
async fn invites_reach_ready_whatever_the_shape_of_the_answers() {
    let h = Harness::start().await;
    h.aws
        .set_options(&ModelOptions {
            response_shape: ResponseShape {
                management_party_first: true,
                ..ResponseShape::default()
            },
            ..ModelOptions::default()
        })
        .await
        .expect("options");
    // An invitation sent by an earlier run that crashed before recording it: the invite must
    // adopt it (exactly once), which needs the handshake filed under the invitee. Filed under
    // the management account (the first ACCOUNT party), it is not found, a second invitation
    // is tried, AWS answers DuplicateHandshake and the invite never leaves that loop.
    let earlier = payer(&h)
        .await
        .invite_account(STANDALONE, None, &BTreeMap::new())
        .await
        .expect("earlier invitation");
    h.create_profile(json!({})).await;
    h.create_invite("payer-listed-first", STANDALONE, json!({})).await;
    let invited = h.wait_phase("payer-listed-first", InvitePhase::Invited).await;
    let recorded = invited.status.and_then(|s| s.handshake).expect("adopted");
    assert_eq!(recorded.id, earlier.id, "the earlier invitation is adopted");
    h.wait_events("payer-listed-first", &["Adopted"]).await;
    h.aws.accept_invite_for(STANDALONE).await.expect("accept");
    h.wait_phase("payer-listed-first", InvitePhase::Ready).await;
    assert_eq!(
        invitation_calls(&h, STANDALONE).await,
        1,
        "no second invitation was tried"
    );

    h.aws
        .set_options(&ModelOptions {
            response_shape: ResponseShape {
                management_party_first: true,
                reversed: true,
                invitee_in_resources_only: true,
                omit_optional: true,
                looping_next_token: false,
            },
            ..ModelOptions::default()
        })
        .await
        .expect("options");
    invite_accept_ready(&h, "every-shape", SECOND).await;
    h.stop().await;
}
