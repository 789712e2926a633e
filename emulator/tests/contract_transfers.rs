//! Contract tests of billing transfers (docs/billing-transfer.md): the real
//! aws-sdk-organizations client against the emulator. The payer is `MGMT` (organization
//! `ORG`), the customer `OTHER_MGMT`, the management account of `OTHER_ORG`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::operation::accept_handshake::AcceptHandshakeError;
use aws_sdk_organizations::operation::describe_responsibility_transfer::DescribeResponsibilityTransferError;
use aws_sdk_organizations::operation::invite_organization_to_transfer_responsibility::InviteOrganizationToTransferResponsibilityError;
use aws_sdk_organizations::operation::terminate_responsibility_transfer::TerminateResponsibilityTransferError;
use aws_sdk_organizations::operation::update_responsibility_transfer::UpdateResponsibilityTransferError;
use aws_sdk_organizations::primitives::DateTime;
use aws_sdk_organizations::types::{
    ActionType, ConstraintViolationExceptionReason, HandshakeConstraintViolationExceptionReason as HcvReason,
    HandshakeFilter, HandshakeParty, HandshakePartyType, HandshakeResourceType, HandshakeState,
    InvalidInputExceptionReason, ResponsibilityTransferStatus, ResponsibilityTransferType, Tag,
};
use chrono::{Datelike, TimeZone, Utc};
use common::*;
use std::time::Duration;

/// 00:00 UTC on the first day of the month `months` after the emulator's current month.
async fn month_start(emu: &orgs_emulator::RunningEmulator, months: i32) -> chrono::DateTime<Utc> {
    let now = emu.control().clock().await.unwrap().now;
    let index = now.year() * 12 + now.month0() as i32 + months;
    Utc.with_ymd_and_hms(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1, 0, 0, 0)
        .unwrap()
}

/// The first start AWS takes now: the next month unless its acceptance deadline (24 h before
/// the start) has passed.
async fn first_start(emu: &orgs_emulator::RunningEmulator) -> chrono::DateTime<Utc> {
    let now = emu.control().clock().await.unwrap().now;
    let next = month_start(emu, 1).await;
    if now < next - chrono::TimeDelta::hours(24) {
        next
    } else {
        month_start(emu, 2).await
    }
}

fn dt(t: chrono::DateTime<Utc>) -> DateTime {
    DateTime::from_secs(t.timestamp())
}

fn account(id: &str) -> HandshakeParty {
    HandshakeParty::builder()
        .r#type(HandshakePartyType::Account)
        .id(id)
        .build()
        .unwrap()
}

async fn send(
    c: &aws_sdk_organizations::Client,
    target: HandshakeParty,
    start: chrono::DateTime<Utc>,
) -> Result<
    aws_sdk_organizations::types::Handshake,
    aws_sdk_organizations::error::SdkError<InviteOrganizationToTransferResponsibilityError>,
> {
    c.invite_organization_to_transfer_responsibility()
        .r#type(ResponsibilityTransferType::Billing)
        .target(target)
        .start_timestamp(dt(start))
        .source_name("Customer A")
        .notes("We would like to pay your organization's bill.")
        .tags(Tag::builder().key("team").value("billing").build().unwrap())
        .send()
        .await
        .map(|o| o.handshake.unwrap())
}

fn resource(h: &aws_sdk_organizations::types::Handshake, t: HandshakeResourceType) -> Option<&str> {
    h.resources()
        .iter()
        .find(|r| r.r#type() == Some(&t))
        .and_then(|r| r.value())
}

#[tokio::test]
async fn invite_returns_a_transfer_responsibility_handshake() {
    let emu = start().await;
    let payer = orgs(&emu, MGMT);
    let start = first_start(&emu).await;
    let h = send(&payer, account(OTHER_MGMT), start).await.unwrap();
    assert_eq!(h.action(), Some(&ActionType::TransferResponsibility));
    assert_eq!(h.state(), Some(&HandshakeState::Open));
    let id = h.id().unwrap();
    assert!(
        h.arn().unwrap().starts_with(&format!(
            "arn:aws:organizations::{MGMT}:handshake/{ORG}/transfer_responsibility/h-"
        )),
        "{:?}",
        h.arn()
    );
    // The invitation expires 24 hours before the start (docs/billing-transfer.md, Dates).
    assert_eq!(
        h.expiration_timestamp().map(|t| t.secs()),
        Some((start - chrono::TimeDelta::hours(24)).timestamp())
    );
    let transfer_id = resource(&h, HandshakeResourceType::ResponsibilityTransfer)
        .unwrap()
        .to_string();
    assert!(transfer_id.starts_with("rt-"), "{transfer_id}");
    assert_eq!(resource(&h, HandshakeResourceType::TransferType), Some("BILLING"));
    assert_eq!(resource(&h, HandshakeResourceType::ManagementAccount), Some(MGMT));
    assert_eq!(
        resource(&h, HandshakeResourceType::ManagementEmail),
        Some("payer@example.com")
    );
    assert!(resource(&h, HandshakeResourceType::TransferStartTimestamp).is_some());

    // The payer sees it inbound, REQUESTED, with the handshake; the customer outbound.
    let inbound = payer
        .list_inbound_responsibility_transfers()
        .r#type(ResponsibilityTransferType::Billing)
        .send()
        .await
        .unwrap();
    let t = &inbound.responsibility_transfers()[0];
    assert_eq!(t.id(), Some(transfer_id.as_str()));
    assert_eq!(t.status(), Some(&ResponsibilityTransferStatus::Requested));
    assert_eq!(t.name(), Some("Customer A"));
    assert_eq!(t.active_handshake_id(), Some(id));
    assert_eq!(t.start_timestamp().map(|s| s.secs()), Some(start.timestamp()));
    assert_eq!(t.target().and_then(|p| p.management_account_id()), Some(MGMT));
    assert_eq!(t.source().and_then(|p| p.management_account_id()), Some(OTHER_MGMT));
    assert_eq!(
        t.arn(),
        Some(format!("arn:aws:organizations::{MGMT}:transfer/{ORG}/billing/inbound/{transfer_id}").as_str())
    );
    let customer = orgs(&emu, OTHER_MGMT);
    let outbound = customer
        .list_outbound_responsibility_transfers()
        .r#type(ResponsibilityTransferType::Billing)
        .send()
        .await
        .unwrap();
    assert_eq!(outbound.responsibility_transfers().len(), 1);
    // The customer finds the handshake with the documented filter.
    let received = customer
        .list_handshakes_for_account()
        .filter(
            HandshakeFilter::builder()
                .action_type(ActionType::TransferResponsibility)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(received.handshakes().len(), 1);
    // The payer's account-invitation listing does not mix it in.
    let invites = payer
        .list_handshakes_for_organization()
        .filter(
            HandshakeFilter::builder()
                .action_type(ActionType::InviteAccountToOrganization)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(invites.handshakes().is_empty());
}

#[tokio::test]
async fn invalid_invitations_are_refused_with_aws_reasons() {
    let emu = start().await;
    let payer = orgs(&emu, MGMT);
    let start = first_start(&emu).await;
    let reason = |e: aws_sdk_organizations::error::SdkError<InviteOrganizationToTransferResponsibilityError>| match e
        .into_service_error()
    {
        InviteOrganizationToTransferResponsibilityError::InvalidInputException(x) => {
            format!("InvalidInput {:?}", x.reason())
        }
        InviteOrganizationToTransferResponsibilityError::HandshakeConstraintViolationException(x) => {
            format!("HandshakeConstraint {:?}", x.reason())
        }
        other => format!("{other:?}"),
    };
    let mid_month = start + chrono::TimeDelta::days(3);
    assert_eq!(
        reason(send(&payer, account(OTHER_MGMT), mid_month).await.unwrap_err()),
        format!(
            "InvalidInput {:?}",
            Some(&InvalidInputExceptionReason::StartDateNotBeginningOfMonth)
        )
    );
    let too_late = month_start(&emu, 3).await;
    assert_eq!(
        reason(send(&payer, account(OTHER_MGMT), too_late).await.unwrap_err()),
        format!(
            "InvalidInput {:?}",
            Some(&InvalidInputExceptionReason::StartDateTooLate)
        )
    );
    let this_month = month_start(&emu, 0).await;
    assert_eq!(
        reason(send(&payer, account(OTHER_MGMT), this_month).await.unwrap_err()),
        format!(
            "InvalidInput {:?}",
            Some(&InvalidInputExceptionReason::StartDateTooEarly)
        )
    );
    assert_eq!(
        reason(send(&payer, account(MGMT), start).await.unwrap_err()),
        format!("HandshakeConstraint {:?}", Some(&HcvReason::SourceAndTargetCannotMatch))
    );
    // A name outside printable ASCII fails the model's pattern.
    let err = payer
        .invite_organization_to_transfer_responsibility()
        .r#type(ResponsibilityTransferType::Billing)
        .target(account(OTHER_MGMT))
        .start_timestamp(dt(start))
        .source_name("caf\u{e9}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidInputException"));
    // Only a management account sends.
    let err = send(&orgs(&emu, MEMBER), account(OTHER_MGMT), start).await.unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        InviteOrganizationToTransferResponsibilityError::AccessDeniedException(_)
    ));
    // A second open invitation to the same customer is a duplicate.
    send(&payer, account(OTHER_MGMT), start).await.unwrap();
    let err = send(&payer, account(OTHER_MGMT), start).await.unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        InviteOrganizationToTransferResponsibilityError::DuplicateHandshakeException(_)
    ));
}

#[tokio::test]
async fn accept_rename_terminate_and_the_start_on_the_emulator_clock() {
    let emu = start().await;
    let ctl = emu.control();
    let payer = orgs(&emu, MGMT);
    let customer = orgs(&emu, OTHER_MGMT);
    let start = first_start(&emu).await;
    let h = send(&payer, account(OTHER_MGMT), start).await.unwrap();
    let transfer_id = resource(&h, HandshakeResourceType::ResponsibilityTransfer)
        .unwrap()
        .to_string();

    // A member of the customer's organization cannot accept; its management account can.
    let err = orgs(&emu, OTHER_MEMBER)
        .accept_handshake()
        .handshake_id(h.id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(err.code().is_some(), "{err:?}");
    let accepted = customer
        .accept_handshake()
        .handshake_id(h.id().unwrap())
        .send()
        .await
        .unwrap()
        .handshake
        .unwrap();
    assert_eq!(accepted.state(), Some(&HandshakeState::Accepted));
    // The customer keeps its organization.
    assert_eq!(
        ctl.account(OTHER_MGMT).await.unwrap().organization_id.as_deref(),
        Some(OTHER_ORG)
    );

    let t = payer
        .describe_responsibility_transfer()
        .id(&transfer_id)
        .send()
        .await
        .unwrap()
        .responsibility_transfer
        .unwrap();
    assert_eq!(t.status(), Some(&ResponsibilityTransferStatus::Accepted));
    let seen_by_customer = customer
        .describe_responsibility_transfer()
        .id(&transfer_id)
        .send()
        .await
        .unwrap()
        .responsibility_transfer
        .unwrap();
    assert_eq!(
        seen_by_customer.arn(),
        Some(
            format!("arn:aws:organizations::{OTHER_MGMT}:transfer/{OTHER_ORG}/billing/outbound/{transfer_id}").as_str()
        )
    );
    // A second invitation while the transfer binds the two answers ALREADY_EXISTS.
    let err = send(&payer, account(OTHER_MGMT), start).await.unwrap_err();
    match err.into_service_error() {
        InviteOrganizationToTransferResponsibilityError::HandshakeConstraintViolationException(x) => {
            assert_eq!(x.reason(), Some(&HcvReason::ResponsibilityTransferAlreadyExists));
        }
        other => panic!("{other:?}"),
    }
    // Rename (the payer only).
    let renamed = payer
        .update_responsibility_transfer()
        .id(&transfer_id)
        .name("Customer A (EMEA)")
        .send()
        .await
        .unwrap()
        .responsibility_transfer
        .unwrap();
    assert_eq!(renamed.name(), Some("Customer A (EMEA)"));
    let err = customer
        .update_responsibility_transfer()
        .id(&transfer_id)
        .name("mine")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        UpdateResponsibilityTransferError::AccessDeniedException(_)
    ));

    // The start passes on the emulator clock: still ACCEPTED (AWS has no separate status).
    let now = ctl.clock().await.unwrap().now;
    let by = (start - now).num_seconds() + 3600;
    ctl.advance_clock(Duration::from_secs(by as u64)).await.unwrap();

    // Terminate: the end must be the end of a month; then WITHDRAWN at once.
    let err = payer
        .terminate_responsibility_transfer()
        .id(&transfer_id)
        .end_timestamp(dt(start + chrono::TimeDelta::days(10)))
        .send()
        .await
        .unwrap_err();
    match err.into_service_error() {
        TerminateResponsibilityTransferError::InvalidInputException(x) => {
            assert_eq!(x.reason(), Some(&InvalidInputExceptionReason::EndDateNotEndOfMonth));
        }
        other => panic!("{other:?}"),
    }
    let end = month_start(&emu, 1).await - chrono::TimeDelta::seconds(1);
    let withdrawn = payer
        .terminate_responsibility_transfer()
        .id(&transfer_id)
        .end_timestamp(dt(end))
        .send()
        .await
        .unwrap()
        .responsibility_transfer
        .unwrap();
    assert_eq!(withdrawn.status(), Some(&ResponsibilityTransferStatus::Withdrawn));
    assert_eq!(withdrawn.end_timestamp().map(|t| t.secs()), Some(end.timestamp()));
    let err = customer
        .terminate_responsibility_transfer()
        .id(&transfer_id)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        TerminateResponsibilityTransferError::ResponsibilityTransferAlreadyInStatusException(_)
    ));
    let err = payer
        .update_responsibility_transfer()
        .id(&transfer_id)
        .name("late")
        .send()
        .await
        .unwrap_err();
    match err.into_service_error() {
        UpdateResponsibilityTransferError::ConstraintViolationException(x) => assert_eq!(
            x.reason(),
            Some(&ConstraintViolationExceptionReason::TransferResponsibilityUpdateNotAllowed)
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_invitation_expires_24_hours_before_the_start() {
    let emu = start().await;
    let ctl = emu.control();
    let payer = orgs(&emu, MGMT);
    let start = first_start(&emu).await;
    let h = send(&payer, account(OTHER_MGMT), start).await.unwrap();
    let transfer_id = resource(&h, HandshakeResourceType::ResponsibilityTransfer)
        .unwrap()
        .to_string();
    let now = ctl.clock().await.unwrap().now;
    let deadline = start - chrono::TimeDelta::hours(24);
    ctl.advance_clock(Duration::from_secs(((deadline - now).num_seconds() - 60) as u64))
        .await
        .unwrap();
    let t = payer
        .describe_responsibility_transfer()
        .id(&transfer_id)
        .send()
        .await
        .unwrap()
        .responsibility_transfer
        .unwrap();
    assert_eq!(t.status(), Some(&ResponsibilityTransferStatus::Requested));
    ctl.advance_clock(Duration::from_secs(120)).await.unwrap();
    let t = payer
        .describe_responsibility_transfer()
        .id(&transfer_id)
        .send()
        .await
        .unwrap()
        .responsibility_transfer
        .unwrap();
    assert_eq!(t.status(), Some(&ResponsibilityTransferStatus::Expired));
    let err = orgs(&emu, OTHER_MGMT)
        .accept_handshake()
        .handshake_id(h.id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        AcceptHandshakeError::InvalidHandshakeTransitionException(_)
    ));
}

#[tokio::test]
async fn the_control_api_declines_as_the_customer_and_the_payer_cancels() {
    let emu = start().await;
    let ctl = emu.control();
    let payer = orgs(&emu, MGMT);
    let start = first_start(&emu).await;
    let first = send(&payer, account(OTHER_MGMT), start).await.unwrap();
    let declined = ctl.decline_transfer_for(OTHER_MGMT).await.unwrap();
    assert_eq!(declined.id, first.id().unwrap());
    assert_eq!(declined.state, "DECLINED");
    assert_eq!(declined.action, "TRANSFER_RESPONSIBILITY");

    let second = send(&payer, account(OTHER_MGMT), start).await.unwrap();
    payer
        .cancel_handshake()
        .handshake_id(second.id().unwrap())
        .send()
        .await
        .unwrap();
    let transfers = ctl.transfers().await.unwrap();
    let statuses: Vec<&str> = transfers.iter().map(|t| t.status.as_str()).collect();
    assert_eq!(statuses, ["DECLINED", "CANCELED"]);

    let third = send(&payer, account(OTHER_MGMT), start).await.unwrap();
    let accepted = ctl.accept_transfer_for(OTHER_MGMT).await.unwrap();
    assert_eq!(accepted.id, third.id().unwrap());
    let transfers = ctl.transfers().await.unwrap();
    assert_eq!(transfers[2].status, "ACCEPTED");
    assert_eq!(transfers[2].source_organization_id.as_deref(), Some(OTHER_ORG));

    // Unknown IDs.
    let err = payer
        .describe_responsibility_transfer()
        .id("rt-doesnotexist")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error(),
        DescribeResponsibilityTransferError::ResponsibilityTransferNotFoundException(_)
    ));
}
