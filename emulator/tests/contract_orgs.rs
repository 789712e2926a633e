//! Contract tests: the real aws-sdk-organizations client against the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::operation::accept_handshake::AcceptHandshakeError;
use aws_sdk_organizations::operation::cancel_handshake::CancelHandshakeError;
use aws_sdk_organizations::operation::decline_handshake::DeclineHandshakeError;
use aws_sdk_organizations::operation::describe_account::DescribeAccountError;
use aws_sdk_organizations::operation::describe_handshake::DescribeHandshakeError;
use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationError;
use aws_sdk_organizations::operation::invite_account_to_organization::InviteAccountToOrganizationError;
use aws_sdk_organizations::operation::leave_organization::LeaveOrganizationError;
use aws_sdk_organizations::operation::list_handshakes_for_account::ListHandshakesForAccountError;
use aws_sdk_organizations::operation::list_handshakes_for_organization::ListHandshakesForOrganizationError;
use aws_sdk_organizations::types::{
    AccountJoinedMethod, ActionType, HandshakeConstraintViolationExceptionReason as HcvReason, HandshakeFilter,
    HandshakeParty, HandshakePartyType, HandshakeResourceType, HandshakeState, InvalidInputExceptionReason, Tag,
};
use common::*;
use std::time::Duration;

fn account_party(id: &str) -> HandshakeParty {
    HandshakeParty::builder()
        .r#type(HandshakePartyType::Account)
        .id(id)
        .build()
        .unwrap()
}

fn email_party(e: &str) -> HandshakeParty {
    HandshakeParty::builder()
        .r#type(HandshakePartyType::Email)
        .id(e)
        .build()
        .unwrap()
}

#[tokio::test]
async fn describe_organization_for_management_member_and_standalone() {
    let emu = start().await;
    // A non-numeric key acts as the first organization's management account.
    let org = orgs(&emu, "AKIAEXAMPLE")
        .describe_organization()
        .send()
        .await
        .unwrap()
        .organization
        .unwrap();
    assert_eq!(org.id(), Some(ORG));
    assert_eq!(org.master_account_id(), Some(MGMT));
    assert_eq!(org.master_account_email(), Some("payer@example.com"));
    assert_eq!(
        org.arn(),
        Some(format!("arn:aws:organizations::{MGMT}:organization/{ORG}").as_str())
    );
    let org = orgs(&emu, MEMBER)
        .describe_organization()
        .send()
        .await
        .unwrap()
        .organization
        .unwrap();
    assert_eq!(org.id(), Some(ORG));
    let err = orgs(&emu, STANDALONE)
        .describe_organization()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, DescribeOrganizationError::AwsOrganizationsNotInUseException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn invite_returns_handshake_shaped_like_aws() {
    let emu = start().await;
    let c = orgs(&emu, MGMT);
    let h = c
        .invite_account_to_organization()
        .target(account_party(STANDALONE))
        .notes("welcome")
        .tags(Tag::builder().key("team").value("billing").build().unwrap())
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    let id = h.id().unwrap().to_string();
    assert!(id.starts_with("h-") && (10..=34).contains(&id.len()), "{id}");
    assert_eq!(
        h.arn(),
        Some(format!("arn:aws:organizations::{MGMT}:handshake/{ORG}/invite/{id}").as_str())
    );
    assert_eq!(h.state(), Some(&HandshakeState::Open));
    assert_eq!(h.action(), Some(&ActionType::InviteAccountToOrganization));
    let req = h.requested_timestamp().unwrap().secs();
    let exp = h.expiration_timestamp().unwrap().secs();
    assert_eq!(exp - req, 15 * 24 * 3600);
    let parties = h.parties();
    assert_eq!(parties.len(), 2);
    assert_eq!(parties[0].r#type(), &HandshakePartyType::Organization);
    assert_eq!(parties[0].id(), ORG);
    assert_eq!(parties[1].r#type(), &HandshakePartyType::Account);
    assert_eq!(parties[1].id(), STANDALONE);
    let res = h.resources();
    assert_eq!(res[0].r#type(), Some(&HandshakeResourceType::Organization));
    assert_eq!(res[0].value(), Some(ORG));
    let nested = res[0].resources();
    assert!(
        nested
            .iter()
            .any(|r| r.r#type() == Some(&HandshakeResourceType::MasterEmail) && r.value() == Some("payer@example.com"))
    );
    assert!(
        nested
            .iter()
            .any(|r| r.r#type() == Some(&HandshakeResourceType::MasterName) && r.value() == Some("Payer"))
    );
    assert!(
        res.iter()
            .any(|r| r.r#type() == Some(&HandshakeResourceType::Account) && r.value() == Some(STANDALONE))
    );
    assert!(
        res.iter()
            .any(|r| r.r#type() == Some(&HandshakeResourceType::Notes) && r.value() == Some("welcome"))
    );

    // DescribeHandshake by the sender and by the invitee; not by a stranger.
    let d = c
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(d.id(), Some(id.as_str()));
    orgs(&emu, STANDALONE)
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap();
    let err = orgs(&emu, STANDALONE2)
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, DescribeHandshakeError::HandshakeNotFoundException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn invite_errors_surface_as_typed_sdk_errors() {
    let emu = start().await;
    let c = orgs(&emu, MGMT);
    invite(&c, STANDALONE).await;

    let e = c
        .invite_account_to_organization()
        .target(account_party(STANDALONE))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, InviteAccountToOrganizationError::DuplicateHandshakeException(_)),
        "{e:?}"
    );

    let e = orgs(&emu, MEMBER)
        .invite_account_to_organization()
        .target(account_party(STANDALONE2))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, InviteAccountToOrganizationError::AccessDeniedException(_)),
        "{e:?}"
    );

    let e = orgs(&emu, STANDALONE)
        .invite_account_to_organization()
        .target(account_party(STANDALONE2))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            e,
            InviteAccountToOrganizationError::AwsOrganizationsNotInUseException(_)
        ),
        "{e:?}"
    );

    let org_party = HandshakeParty::builder()
        .r#type(HandshakePartyType::Organization)
        .id(OTHER_ORG)
        .build()
        .unwrap();
    let e = c
        .invite_account_to_organization()
        .target(org_party)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        InviteAccountToOrganizationError::InvalidInputException(x) => {
            assert_eq!(x.reason(), Some(&InvalidInputExceptionReason::InvalidPartyTypeTarget));
        }
        other => panic!("{other:?}"),
    }

    let e = c
        .invite_account_to_organization()
        .target(account_party(STANDALONE2))
        .notes("x".repeat(1025))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        InviteAccountToOrganizationError::InvalidInputException(x) => {
            assert_eq!(x.reason(), Some(&InvalidInputExceptionReason::MaxLengthExceeded));
        }
        other => panic!("{other:?}"),
    }
    // Exactly 1024 characters is fine.
    c.invite_account_to_organization()
        .target(account_party(STANDALONE2))
        .notes("y".repeat(1024))
        .send()
        .await
        .unwrap();

    let e = c
        .invite_account_to_organization()
        .target(account_party("12345"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        InviteAccountToOrganizationError::InvalidInputException(x) => {
            assert_eq!(x.reason(), Some(&InvalidInputExceptionReason::InvalidPattern));
        }
        other => panic!("{other:?}"),
    }

    let e = c
        .invite_account_to_organization()
        .target(email_party("not-an-email"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        InviteAccountToOrganizationError::InvalidInputException(x) => assert_eq!(
            x.reason(),
            Some(&InvalidInputExceptionReason::InvalidEmailAddressTarget)
        ),
        other => panic!("{other:?}"),
    }

    let e = c
        .invite_account_to_organization()
        .target(account_party(MEMBER))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        InviteAccountToOrganizationError::HandshakeConstraintViolationException(x) => {
            assert_eq!(x.reason(), Some(&HcvReason::AlreadyInAnOrganization));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn accept_flow_joins_account_with_tags() {
    let emu = start().await;
    let c = orgs(&emu, MGMT);
    let id = c
        .invite_account_to_organization()
        .target(account_party(STANDALONE))
        .tags(Tag::builder().key("cost-center").value("42").build().unwrap())
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap()
        .id
        .unwrap();
    let invitee = orgs(&emu, STANDALONE);
    // The invitee sees it.
    let mine = invitee.list_handshakes_for_account().send().await.unwrap();
    assert_eq!(mine.handshakes().len(), 1);
    // The sender can't accept its own invitation.
    let e = c
        .accept_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(e, AcceptHandshakeError::AccessDeniedException(_)), "{e:?}");

    let h = invitee
        .accept_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(h.state(), Some(&HandshakeState::Accepted));

    let acct = c
        .describe_account()
        .account_id(STANDALONE)
        .send()
        .await
        .unwrap()
        .account
        .unwrap();
    assert_eq!(acct.joined_method(), Some(&AccountJoinedMethod::Invited));
    assert!(acct.joined_timestamp().is_some());
    assert_eq!(acct.email(), Some("owner3@example.com"));
    assert_eq!(
        acct.arn(),
        Some(format!("arn:aws:organizations::{MGMT}:account/{ORG}/{STANDALONE}").as_str())
    );
    let info = emu.control().account(STANDALONE).await.unwrap();
    assert_eq!(info.organization_id.as_deref(), Some(ORG));
    assert_eq!(info.tags.get("cost-center").map(String::as_str), Some("42"));

    // Ended handshakes: no further transitions.
    let e = invitee
        .accept_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, AcceptHandshakeError::HandshakeAlreadyInStateException(_)),
        "{e:?}"
    );
    let e = invitee
        .decline_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, DeclineHandshakeError::InvalidHandshakeTransitionException(_)),
        "{e:?}"
    );
    let e = c
        .cancel_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, CancelHandshakeError::InvalidHandshakeTransitionException(_)),
        "{e:?}"
    );

    // Listing the organization's accounts includes it.
    let pages = c
        .list_accounts()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.accounts())
        .filter_map(|a| a.id().map(String::from))
        .collect();
    assert_eq!(ids, vec![MGMT.to_string(), MEMBER.to_string(), STANDALONE.to_string()]);
}

#[tokio::test]
async fn decline_and_cancel() {
    let emu = start().await;
    let c = orgs(&emu, MGMT);
    let a = invite(&c, STANDALONE).await;
    let b = invite(&c, STANDALONE2).await;
    let h = orgs(&emu, STANDALONE)
        .decline_handshake()
        .handshake_id(&a)
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(h.state(), Some(&HandshakeState::Declined));
    let e = orgs(&emu, STANDALONE)
        .decline_handshake()
        .handshake_id(&a)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, DeclineHandshakeError::HandshakeAlreadyInStateException(_)),
        "{e:?}"
    );
    // Only the sender cancels.
    let e = orgs(&emu, STANDALONE2)
        .cancel_handshake()
        .handshake_id(&b)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(e, CancelHandshakeError::AccessDeniedException(_)), "{e:?}");
    let h = c
        .cancel_handshake()
        .handshake_id(&b)
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(h.state(), Some(&HandshakeState::Canceled));
    let e = c
        .cancel_handshake()
        .handshake_id(&b)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, CancelHandshakeError::HandshakeAlreadyInStateException(_)),
        "{e:?}"
    );
    let e = orgs(&emu, STANDALONE2)
        .accept_handshake()
        .handshake_id(&b)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, AcceptHandshakeError::InvalidHandshakeTransitionException(_)),
        "{e:?}"
    );
    // A new invitation after decline is allowed (no open one).
    invite(&c, STANDALONE).await;
    // Unknown and malformed IDs.
    let e = c
        .describe_handshake()
        .handshake_id("h-0000000000")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, DescribeHandshakeError::HandshakeNotFoundException(_)),
        "{e:?}"
    );
    let e = c
        .describe_handshake()
        .handshake_id("bogus")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(e, DescribeHandshakeError::InvalidInputException(_)), "{e:?}");
}

#[tokio::test]
async fn paginators_walk_all_pages() {
    let emu = start().await;
    let ctl = emu.control();
    ctl.set_account_quota(ORG, 100).await.unwrap();
    let c = orgs(&emu, MGMT);
    for i in 0..23 {
        c.invite_account_to_organization()
            .target(email_party(&format!("user{i}@example.com")))
            .send()
            .await
            .unwrap();
    }
    let pages: Vec<_> = c
        .list_handshakes_for_organization()
        .filter(
            HandshakeFilter::builder()
                .action_type(ActionType::InviteAccountToOrganization)
                .build(),
        )
        .max_results(7)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.len(), 4);
    assert_eq!(pages.iter().map(|p| p.handshakes().len()).sum::<usize>(), 23);
    assert!(pages.last().unwrap().next_token().is_none());
    let ids: std::collections::HashSet<_> = pages
        .iter()
        .flat_map(|p| p.handshakes())
        .filter_map(|h| h.id())
        .collect();
    assert_eq!(ids.len(), 23);

    // Default page size is 20.
    let first = c.list_handshakes_for_organization().send().await.unwrap();
    assert_eq!(first.handshakes().len(), 20);
    assert!(first.next_token().is_some());

    let e = c
        .list_handshakes_for_organization()
        .max_results(21)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        ListHandshakesForOrganizationError::InvalidInputException(x) => {
            assert_eq!(x.reason(), Some(&InvalidInputExceptionReason::MaxValueExceeded));
        }
        other => panic!("{other:?}"),
    }
    let e = c
        .list_handshakes_for_organization()
        .next_token("garbage")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        ListHandshakesForOrganizationError::InvalidInputException(x) => {
            assert_eq!(x.reason(), Some(&InvalidInputExceptionReason::InvalidPaginationToken));
        }
        other => panic!("{other:?}"),
    }
    let both = HandshakeFilter::builder()
        .action_type(ActionType::InviteAccountToOrganization)
        .parent_handshake_id("h-1234567890")
        .build();
    let e = c
        .list_handshakes_for_organization()
        .filter(both)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, ListHandshakesForOrganizationError::InvalidInputException(_)),
        "{e:?}"
    );
    let parent = HandshakeFilter::builder().parent_handshake_id("h-1234567890").build();
    assert!(
        c.list_handshakes_for_organization()
            .filter(parent)
            .send()
            .await
            .unwrap()
            .handshakes()
            .is_empty()
    );

    // Members can't list the organization's handshakes; standalone accounts have no org.
    let e = orgs(&emu, MEMBER)
        .list_handshakes_for_organization()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, ListHandshakesForOrganizationError::AccessDeniedException(_)),
        "{e:?}"
    );
    let e = orgs(&emu, STANDALONE)
        .list_handshakes_for_organization()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            e,
            ListHandshakesForOrganizationError::AwsOrganizationsNotInUseException(_)
        ),
        "{e:?}"
    );
    let e = orgs(&emu, STANDALONE)
        .list_handshakes_for_account()
        .max_results(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, ListHandshakesForAccountError::InvalidInputException(_)),
        "{e:?}"
    );

    // ListAccounts paginates too.
    for i in 0..5u32 {
        let id = format!("7000000000{i:02}");
        ctl.add_account(&orgs_emulator::SeedAccount::new(&id)).await.unwrap();
        invite(&c, &id).await;
        ctl.accept_invite_for(&id).await.unwrap();
    }
    let pages: Vec<_> = c
        .list_accounts()
        .max_results(3)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(pages.iter().map(|p| p.accounts().len()).sum::<usize>(), 7);
}

#[tokio::test]
async fn expiry_after_15_days_and_disappearance_after_30_more() {
    let emu = start().await;
    let ctl = emu.control();
    let c = orgs(&emu, MGMT);
    let id = invite(&c, STANDALONE).await;
    ctl.advance_clock(Duration::from_secs(15 * 86400 - 60)).await.unwrap();
    let h = c
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(h.state(), Some(&HandshakeState::Open));
    ctl.advance_clock(Duration::from_secs(120)).await.unwrap();
    let h = c
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(h.state(), Some(&HandshakeState::Expired));
    let e = orgs(&emu, STANDALONE)
        .accept_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, AcceptHandshakeError::InvalidHandshakeTransitionException(_)),
        "{e:?}"
    );
    // Expired → a new invitation is possible.
    let id2 = invite(&c, STANDALONE).await;
    assert_ne!(id, id2);
    // 30 days after it ended, the first one is gone.
    ctl.advance_clock(Duration::from_secs(30 * 86400 - 120)).await.unwrap();
    c.describe_handshake().handshake_id(&id).send().await.unwrap();
    ctl.advance_clock(Duration::from_secs(120)).await.unwrap();
    let e = c
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, DescribeHandshakeError::HandshakeNotFoundException(_)),
        "{e:?}"
    );
    let listed: Vec<_> = c
        .list_handshakes_for_organization()
        .send()
        .await
        .unwrap()
        .handshakes()
        .iter()
        .filter_map(|h| h.id().map(String::from))
        .collect();
    assert!(!listed.contains(&id));
    // The second one expired too but is still listed.
    assert!(listed.contains(&id2));
}

#[tokio::test]
async fn account_number_limit_counts_pending_invitations() {
    let emu = start().await;
    let ctl = emu.control();
    ctl.set_account_quota(ORG, 3).await.unwrap();
    let c = orgs(&emu, MGMT);
    // 2 members + 1 pending = 3.
    invite(&c, STANDALONE).await;
    let e = c
        .invite_account_to_organization()
        .target(account_party(STANDALONE2))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        InviteAccountToOrganizationError::HandshakeConstraintViolationException(x) => {
            assert_eq!(x.reason(), Some(&HcvReason::AccountNumberLimitExceeded));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn daily_invitation_limit_counts_all_but_accepted() {
    let emu = start().await;
    let ctl = emu.control();
    let c = orgs(&emu, MGMT);
    // 20 invitations (quota 10 → max(20, 10) = 20), each canceled so the quota is not hit.
    for i in 0..20 {
        let id = c
            .invite_account_to_organization()
            .target(email_party(&format!("u{i}@example.com")))
            .send()
            .await
            .unwrap()
            .handshake
            .unwrap()
            .id
            .unwrap();
        c.cancel_handshake().handshake_id(id).send().await.unwrap();
    }
    let e = c
        .invite_account_to_organization()
        .target(account_party(STANDALONE))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        InviteAccountToOrganizationError::HandshakeConstraintViolationException(x) => {
            assert_eq!(x.reason(), Some(&HcvReason::HandshakeRateLimitExceeded));
        }
        other => panic!("{other:?}"),
    }
    // Rolling 24 h window.
    ctl.advance_clock(Duration::from_secs(24 * 3600 + 1)).await.unwrap();
    let id = invite(&c, STANDALONE).await;
    // Accepted invitations don't count: accept it, then 19 more + 1 accepted = fine.
    ctl.accept_handshake(&id).await.unwrap();
    for i in 0..20 {
        let id = c
            .invite_account_to_organization()
            .target(email_party(&format!("v{i}@example.com")))
            .send()
            .await
            .unwrap()
            .handshake
            .unwrap()
            .id
            .unwrap();
        c.cancel_handshake().handshake_id(id).send().await.unwrap();
    }
    let e = c
        .invite_account_to_organization()
        .target(account_party(STANDALONE2))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(
            e,
            InviteAccountToOrganizationError::HandshakeConstraintViolationException(_)
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn accept_by_accounts_of_other_organizations() {
    let emu = start().await;
    let ctl = emu.control();
    let c = orgs(&emu, MGMT);
    // The management account of another organization can't accept.
    let id = invite(&c, OTHER_MGMT).await;
    let e = orgs(&emu, OTHER_MGMT)
        .accept_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, AcceptHandshakeError::MasterCannotLeaveOrganizationException(_)),
        "{e:?}"
    );
    let e = ctl.accept_invite_for(OTHER_MGMT).await.unwrap_err();
    assert_eq!(e.code(), Some("MasterCannotLeaveOrganizationException"));

    // With direct moves off, a member of another organization must leave first.
    ctl.set_options(&orgs_emulator::ModelOptions {
        move_members_on_accept: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let id = invite(&c, OTHER_MEMBER).await;
    let e = orgs(&emu, OTHER_MEMBER)
        .accept_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        AcceptHandshakeError::HandshakeConstraintViolationException(x) => {
            assert_eq!(x.reason(), Some(&HcvReason::AlreadyInAnOrganization));
        }
        other => panic!("{other:?}"),
    }
    // By default (AWS's current behaviour) it moves directly.
    ctl.set_options(&orgs_emulator::ModelOptions::default()).await.unwrap();
    orgs(&emu, OTHER_MEMBER)
        .accept_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ctl.account(OTHER_MEMBER).await.unwrap().organization_id.as_deref(),
        Some(ORG)
    );

    // Once the other organization is deleted, its former management account can join.
    ctl.delete_organization(OTHER_ORG).await.unwrap();
    let h = ctl.accept_invite_for(OTHER_MGMT).await.unwrap();
    assert_eq!(h.state, "ACCEPTED");
}

#[tokio::test]
async fn leave_and_remove() {
    let emu = start().await;
    let c = orgs(&emu, MGMT);
    let e = c.leave_organization().send().await.unwrap_err().into_service_error();
    assert!(
        matches!(e, LeaveOrganizationError::MasterCannotLeaveOrganizationException(_)),
        "{e:?}"
    );
    orgs(&emu, MEMBER).leave_organization().send().await.unwrap();
    let e = c
        .describe_account()
        .account_id(MEMBER)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(e, DescribeAccountError::AccountNotFoundException(_)), "{e:?}");
    let e = orgs(&emu, MEMBER)
        .leave_organization()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, LeaveOrganizationError::AwsOrganizationsNotInUseException(_)),
        "{e:?}"
    );
    // Re-invite and remove.
    invite(&c, MEMBER).await;
    emu.control().accept_invite_for(MEMBER).await.unwrap();
    c.remove_account_from_organization()
        .account_id(MEMBER)
        .send()
        .await
        .unwrap();
    let e = c
        .remove_account_from_organization()
        .account_id(MEMBER)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccountNotFoundException"));
    let e = orgs(&emu, MEMBER)
        .describe_account()
        .account_id(MGMT)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, DescribeAccountError::AwsOrganizationsNotInUseException(_)),
        "{e:?}"
    );
}

#[tokio::test]
async fn email_invitations_are_answered_by_the_account_with_that_email() {
    let emu = start().await;
    let c = orgs(&emu, MGMT);
    let h = c
        .invite_account_to_organization()
        .target(email_party("owner3@example.com"))
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(h.parties()[1].r#type(), &HandshakePartyType::Email);
    let e = c
        .invite_account_to_organization()
        .target(email_party("OWNER3@example.com"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(e, InviteAccountToOrganizationError::DuplicateHandshakeException(_)),
        "{e:?}"
    );
    let mine = orgs(&emu, STANDALONE)
        .list_handshakes_for_account()
        .filter(
            HandshakeFilter::builder()
                .action_type(ActionType::InviteAccountToOrganization)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(mine.handshakes().len(), 1);
    orgs(&emu, STANDALONE)
        .accept_handshake()
        .handshake_id(h.id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        emu.control()
            .account(STANDALONE)
            .await
            .unwrap()
            .organization_id
            .as_deref(),
        Some(ORG)
    );
}

#[tokio::test]
async fn unknown_account_invitation_stays_open_until_it_expires() {
    let emu = start().await;
    let c = orgs(&emu, MGMT);
    let id = invite(&c, "999999999999").await;
    emu.control()
        .advance_clock(Duration::from_secs(16 * 86400))
        .await
        .unwrap();
    let h = c
        .describe_handshake()
        .handshake_id(&id)
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(h.state(), Some(&HandshakeState::Expired));
}
