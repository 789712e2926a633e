//! The fresh-start scenario with the Rust SDK: an emulator without a seed, driven only through
//! AWS's API (issue: "usable from a fresh start by any SDK"). `go_sdk.rs` runs the same
//! scenario with the AWS SDK for Go v2 and `aws_cli.rs` with the AWS CLI.
//!
//! Expected values come from AWS's Organizations model (botocore
//! `botocore/data/organizations/2016-11-28/service-2.json`, which the SDKs are generated from)
//! and the API reference (<https://docs.aws.amazon.com/organizations/latest/APIReference/>).
//! Every modeled Organizations error is HTTP 400: the model gives them no `httpError` code, so
//! awsJson1_1's client-error default applies.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use aws_sdk_organizations::types::{
    AccountJoinedMethod, ActionType, HandshakeFilter, HandshakeParty, HandshakePartyType, HandshakeState,
    OrganizationFeatureSet, Tag,
};
use common::*;
use orgs_emulator::{EmulatorConfig, Seed};

const JOINER: &str = "222222222222"; // invited by ID, accepts
const DECLINER: &str = "333333333333"; // invited by the email of an unseeded account, declines
const CANCELED: &str = "444444444444"; // invited by ID, the invitation is canceled
/// An account the seed does not list has the email account-<id>@example.com (README).
const DECLINER_EMAIL: &str = "account-333333333333@example.com";

fn party(ty: HandshakePartyType, id: &str) -> HandshakeParty {
    HandshakeParty::builder().r#type(ty).id(id).build().unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

async fn fresh() -> orgs_emulator::RunningEmulator {
    start_with(EmulatorConfig::with_seed(Seed::default()).rate_limits(false)).await
}

#[tokio::test]
async fn rust_sdk_fresh_start_scenario() {
    let emu = fresh().await;
    let m = orgs(&emu, MGMT);

    // A fresh emulator: the caller is in no organization.
    assert_eq!(
        failure(m.describe_organization().send().await),
        Failure::client("AWSOrganizationsNotInUseException")
    );

    // CreateOrganization: the caller becomes the management account (API reference,
    // CreateOrganization); Organization.Id matches the model's ^o-[a-z0-9]{10,32}$.
    let org = m
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap()
        .organization
        .unwrap();
    assert_eq!(org.master_account_id(), Some(MGMT));
    assert_eq!(org.feature_set(), Some(&OrganizationFeatureSet::All));
    let id = org.id().unwrap();
    assert!(orgs_emulator::state::is_org_id(id), "{id}");
    assert_eq!(
        org.arn(),
        Some(format!("arn:aws:organizations::{MGMT}:organization/{id}").as_str())
    );
    assert_eq!(
        failure(m.create_organization().send().await),
        Failure::client("AlreadyInOrganizationException")
    );

    // Invitations by ID and by email.
    let invite = |ty: HandshakePartyType, target: &str, tags: Vec<Tag>| {
        m.invite_account_to_organization()
            .target(party(ty, target))
            .notes("welcome")
            .set_tags(Some(tags))
            .send()
    };
    let h_join = invite(HandshakePartyType::Account, JOINER, vec![tag("team", "billing")])
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(h_join.state(), Some(&HandshakeState::Open));
    assert_eq!(h_join.action(), Some(&ActionType::InviteAccountToOrganization));
    let h_decline = invite(HandshakePartyType::Email, DECLINER_EMAIL, vec![])
        .await
        .unwrap()
        .handshake
        .unwrap();
    // The same account by ID while its email invitation is open: DuplicateHandshakeException
    // ("the invited account might already have a pending invitation from this organization").
    assert_eq!(
        failure(invite(HandshakePartyType::Account, DECLINER, vec![]).await),
        Failure::client("DuplicateHandshakeException")
    );
    let h_cancel = invite(HandshakePartyType::Account, CANCELED, vec![])
        .await
        .unwrap()
        .handshake
        .unwrap();
    // Tag keys starting with aws: are reserved (InvalidInputException INVALID_SYSTEM_TAGS_PARAMETER).
    assert_eq!(
        failure(invite(HandshakePartyType::Account, "555555555555", vec![tag("aws:x", "y")]).await),
        Failure::invalid_input("INVALID_SYSTEM_TAGS_PARAMETER")
    );

    // Listing with pages (MaxResults 1-20 in the model) and filters.
    let pages: Vec<_> = m
        .list_handshakes_for_organization()
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let ids: Vec<_> = pages
        .iter()
        .flat_map(|p| p.handshakes())
        .map(|h| h.id().unwrap())
        .collect();
    assert_eq!(pages.len(), 2);
    assert_eq!(
        ids,
        [h_join.id().unwrap(), h_decline.id().unwrap(), h_cancel.id().unwrap()]
    );
    let invites = m
        .list_handshakes_for_organization()
        .filter(
            HandshakeFilter::builder()
                .action_type(ActionType::InviteAccountToOrganization)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(invites.handshakes().len(), 3);
    // ParentHandshakeId has the model's HandshakeId pattern ^h-[0-9a-z]{8,32}$.
    assert_eq!(
        failure(
            m.list_handshakes_for_organization()
                .filter(HandshakeFilter::builder().parent_handshake_id("h-XXXX").build())
                .send()
                .await
        ),
        Failure::invalid_input("INVALID_PATTERN")
    );
    // HandshakeId is at most 34 characters: the length is checked before the pattern.
    assert_eq!(
        failure(
            m.describe_handshake()
                .handshake_id(format!("h-{}", "a123456789012345678901234567890123"))
                .send()
                .await
        ),
        Failure::invalid_input("MAX_LENGTH_EXCEEDED")
    );

    // Describe, then the invitee accepts: it becomes a member with the invitation's tags.
    let d = m
        .describe_handshake()
        .handshake_id(h_join.id().unwrap())
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!((d.id(), d.state()), (h_join.id(), Some(&HandshakeState::Open)));
    let j = orgs(&emu, JOINER);
    let accepted = j
        .accept_handshake()
        .handshake_id(h_join.id().unwrap())
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(accepted.state(), Some(&HandshakeState::Accepted));
    let a = m
        .describe_account()
        .account_id(JOINER)
        .send()
        .await
        .unwrap()
        .account
        .unwrap();
    assert_eq!(a.joined_method(), Some(&AccountJoinedMethod::Invited));
    let tags = m.list_tags_for_resource().resource_id(JOINER).send().await.unwrap();
    assert_eq!(
        tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(),
        [("team", "billing")]
    );
    // The member can't see the other invitations, nor list accounts.
    assert_eq!(
        failure(j.accept_handshake().handshake_id(h_decline.id().unwrap()).send().await),
        Failure::client("HandshakeNotFoundException")
    );
    assert_eq!(
        failure(j.list_accounts().send().await),
        Failure::client("AccessDeniedException")
    );

    // The email invitee sees its invitation and declines.
    let dc = orgs(&emu, DECLINER);
    let mine = dc.list_handshakes_for_account().send().await.unwrap();
    assert_eq!(
        mine.handshakes().iter().map(|h| h.id().unwrap()).collect::<Vec<_>>(),
        [h_decline.id().unwrap()]
    );
    let declined = dc
        .decline_handshake()
        .handshake_id(h_decline.id().unwrap())
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(declined.state(), Some(&HandshakeState::Declined));

    // The sender cancels the third; canceling again is HandshakeAlreadyInStateException.
    let canceled = m
        .cancel_handshake()
        .handshake_id(h_cancel.id().unwrap())
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(canceled.state(), Some(&HandshakeState::Canceled));
    assert_eq!(
        failure(m.cancel_handshake().handshake_id(h_cancel.id().unwrap()).send().await),
        Failure::client("HandshakeAlreadyInStateException")
    );

    // DeleteOrganization only without members (OrganizationNotEmptyException).
    assert_eq!(
        failure(m.delete_organization().send().await),
        Failure::client("OrganizationNotEmptyException")
    );
    m.remove_account_from_organization()
        .account_id(JOINER)
        .send()
        .await
        .unwrap();
    m.delete_organization().send().await.unwrap();
    assert_eq!(
        failure(m.describe_organization().send().await),
        Failure::client("AWSOrganizationsNotInUseException")
    );
}

/// Without a seed, a caller whose access key is not a 12-digit account ID is the account
/// 000000000000 (README, "Who is calling"), and CreateOrganization makes it a management
/// account like any other.
#[tokio::test]
async fn a_caller_without_an_account_id_key_is_000000000000() {
    let emu = fresh().await;
    let who = sts(&emu, "AKIAEXAMPLE", "secret", None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.account(), Some("000000000000"));
    let c = orgs(&emu, "AKIAEXAMPLE");
    let org = c.create_organization().send().await.unwrap().organization.unwrap();
    assert_eq!(org.master_account_id(), Some("000000000000"));
    // FeatureSet defaults to ALL (CreateOrganization, API reference).
    assert_eq!(org.feature_set(), Some(&OrganizationFeatureSet::All));
    let d = c.describe_organization().send().await.unwrap().organization.unwrap();
    assert_eq!(d.id(), org.id());
    assert_eq!(d.master_account_email(), Some("account-000000000000@example.com"));
}
