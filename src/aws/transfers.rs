//! The AWS Organizations calls of billing transfers (docs/billing-transfer.md), made as the
//! payer (the bill-transfer side): its transfers are *inbound*.

use super::client::ProfileClients;
use super::error::AwsError;
use super::organizations::{malformed, party, sdk_tags, to_timestamp, without_retries};
use crate::handshake::Handshake;
use crate::transfer::{AwsTransfer, AwsTransferStatus};
use aws_sdk_organizations::operation::invite_organization_to_transfer_responsibility::InviteOrganizationToTransferResponsibilityError;
use aws_sdk_organizations::operation::terminate_responsibility_transfer::TerminateResponsibilityTransferError;
use aws_sdk_organizations::operation::update_responsibility_transfer::UpdateResponsibilityTransferError;
use aws_sdk_organizations::types::{
    ActionType, HandshakePartyType, HandshakeResourceType, ResponsibilityTransfer, ResponsibilityTransferType,
};
use aws_smithy_types::DateTime;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// Whom a billing transfer invitation goes to: the customer's management account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// By 12-digit account ID.
    Account(String),
    /// By email address.
    Email(String),
}

/// What InviteOrganizationToTransferResponsibility sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferInvitation<'a> {
    /// The customer.
    pub target: TransferTarget,
    /// 00:00 UTC on the first day of the start month.
    pub start: Timestamp,
    /// The transfer's name (SourceName).
    pub name: &'a str,
    /// Invitation notes.
    pub notes: Option<&'a str>,
    /// Tags of the transfer.
    pub tags: &'a BTreeMap<String, String>,
}

/// Converts an SDK transfer. `None` when it lacks an ID, status or start.
pub fn convert_transfer(t: &ResponsibilityTransfer) -> Option<AwsTransfer> {
    Some(AwsTransfer {
        id: t.id()?.to_string(),
        arn: t.arn().map(str::to_owned),
        name: t.name().unwrap_or_default().to_string(),
        status: AwsTransferStatus::parse(t.status()?.as_str())?,
        start: to_timestamp(t.start_timestamp()?)?,
        end: t.end_timestamp().and_then(to_timestamp),
        handshake_id: t.active_handshake_id().map(str::to_owned),
        source_account_id: t.source().and_then(|s| s.management_account_id()).map(str::to_owned),
        source_email: t.source().and_then(|s| s.management_account_email()).map(str::to_owned),
    })
}

/// The transfer ID a `TRANSFER_RESPONSIBILITY` handshake carries (resource
/// `RESPONSIBILITY_TRANSFER`), searched recursively.
pub fn handshake_transfer_id(h: &aws_sdk_organizations::types::Handshake) -> Option<String> {
    fn search(resources: &[aws_sdk_organizations::types::HandshakeResource]) -> Option<String> {
        for r in resources {
            if r.r#type() == Some(&HandshakeResourceType::ResponsibilityTransfer)
                && let Some(v) = r.value()
            {
                return Some(v.to_string());
            }
            if let Some(v) = search(r.resources()) {
                return Some(v);
            }
        }
        None
    }
    search(h.resources())
}

fn dt(t: Timestamp) -> DateTime {
    DateTime::from_secs(t.as_second())
}

impl ProfileClients {
    /// InviteOrganizationToTransferResponsibility (Type BILLING). Returns the handshake and
    /// the transfer ID it carries.
    ///
    /// Like account invitations, the SDK does not retry this call: after a lost answer the
    /// caller looks for a requested transfer to the same customer in the next sweep before it
    /// sends again. DuplicateHandshakeException means "adopt the open one".
    pub async fn invite_transfer(&self, inv: &TransferInvitation<'_>) -> Result<(Handshake, Option<String>), AwsError> {
        const OP: &str = "InviteOrganizationToTransferResponsibility";
        self.metered(OP, async {
            let (kind, id) = match &inv.target {
                TransferTarget::Account(a) => (HandshakePartyType::Account, a.as_str()),
                TransferTarget::Email(e) => (HandshakePartyType::Email, e.as_str()),
            };
            let target = party(OP, kind, id)?;
            let tags = sdk_tags(OP, inv.tags)?;
            let out = self
                .orgs
                .invite_organization_to_transfer_responsibility()
                .r#type(ResponsibilityTransferType::Billing)
                .target(target)
                .start_timestamp(dt(inv.start))
                .source_name(inv.name)
                .set_notes(inv.notes.map(str::to_owned))
                .set_tags(tags)
                .customize()
                .config_override(without_retries())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, invite_reason))?;
            let h = self.answered_handshake(OP, out.handshake())?;
            Ok((h, out.handshake().and_then(handshake_transfer_id)))
        })
        .await
    }

    /// ListInboundResponsibilityTransfers (Type BILLING), all pages: every transfer and
    /// invitation in which the profile's organization pays.
    pub async fn list_inbound_transfers(&self) -> Result<Vec<AwsTransfer>, AwsError> {
        const OP: &str = "ListInboundResponsibilityTransfers";
        // The model declares no paginator for this operation: follow NextToken by hand.
        self.list_pages(OP, |token| async move {
            let page = self
                .orgs
                .list_inbound_responsibility_transfers()
                .r#type(ResponsibilityTransferType::Billing)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, |_| None))?;
            let mut transfers = Vec::new();
            for t in page.responsibility_transfers() {
                match convert_transfer(t) {
                    Some(t) => transfers.push(t),
                    None => tracing::warn!(transfer = ?t.id(), "skipping an incomplete transfer"),
                }
            }
            Ok((transfers, page.next_token))
        })
        .await
    }

    /// ListHandshakesForOrganization with Filter ActionType=TRANSFER_RESPONSIBILITY, all pages.
    pub async fn list_transfer_handshakes(&self) -> Result<Vec<Handshake>, AwsError> {
        self.list_handshakes(ActionType::TransferResponsibility).await
    }

    /// UpdateResponsibilityTransfer: renames the transfer.
    pub async fn rename_transfer(&self, id: &str, name: &str) -> Result<AwsTransfer, AwsError> {
        const OP: &str = "UpdateResponsibilityTransfer";
        self.metered(OP, async {
            let out = self
                .orgs
                .update_responsibility_transfer()
                .id(id)
                .name(name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, update_reason))?;
            out.responsibility_transfer()
                .and_then(convert_transfer)
                .ok_or_else(|| malformed(OP, "transfer"))
        })
        .await
    }

    /// TerminateResponsibilityTransfer ending at `end` (23:59:59 UTC on a month's last day).
    pub async fn withdraw_transfer(&self, id: &str, end: Timestamp) -> Result<AwsTransfer, AwsError> {
        const OP: &str = "TerminateResponsibilityTransfer";
        self.metered(OP, async {
            let out = self
                .orgs
                .terminate_responsibility_transfer()
                .id(id)
                .end_timestamp(dt(end))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(OP, e, terminate_reason))?;
            out.responsibility_transfer()
                .and_then(convert_transfer)
                .ok_or_else(|| malformed(OP, "transfer"))
        })
        .await
    }
}

fn invite_reason(e: &InviteOrganizationToTransferResponsibilityError) -> Option<String> {
    match e {
        InviteOrganizationToTransferResponsibilityError::HandshakeConstraintViolationException(e) => {
            e.reason().map(|r| r.as_str().to_string())
        }
        InviteOrganizationToTransferResponsibilityError::ConstraintViolationException(e) => {
            e.reason().map(|r| r.as_str().to_string())
        }
        InviteOrganizationToTransferResponsibilityError::InvalidInputException(e) => {
            e.reason().map(|r| r.as_str().to_string())
        }
        _ => None,
    }
}

fn update_reason(e: &UpdateResponsibilityTransferError) -> Option<String> {
    match e {
        UpdateResponsibilityTransferError::ConstraintViolationException(e) => {
            e.reason().map(|r| r.as_str().to_string())
        }
        UpdateResponsibilityTransferError::InvalidInputException(e) => e.reason().map(|r| r.as_str().to_string()),
        _ => None,
    }
}

fn terminate_reason(e: &TerminateResponsibilityTransferError) -> Option<String> {
    match e {
        TerminateResponsibilityTransferError::ConstraintViolationException(e) => {
            e.reason().map(|r| r.as_str().to_string())
        }
        TerminateResponsibilityTransferError::InvalidInputException(e) => e.reason().map(|r| r.as_str().to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::types::{HandshakeResource, ResponsibilityTransferStatus, TransferParticipant};

    #[test]
    fn converts_transfers() {
        let t = ResponsibilityTransfer::builder()
            .id("rt-exampletransferid222")
            .arn("arn:aws:organizations::222222222222:transfer/o-exampleorgid222/billing/outbound/rt-exampletransferid222")
            .name("sample transfer")
            .status(ResponsibilityTransferStatus::Withdrawn)
            .source(TransferParticipant::builder().management_account_id("222222222222").build())
            .target(TransferParticipant::builder().management_account_id("333333333333").build())
            // The API reference example: 2026-01-01T00:00:00Z to 2026-01-31T23:59:59Z.
            .start_timestamp(DateTime::from_secs(1_767_225_600))
            .end_timestamp(DateTime::from_secs(1_769_903_999))
            .build();
        let got = convert_transfer(&t).expect("complete");
        assert_eq!(got.status, AwsTransferStatus::Withdrawn);
        assert_eq!(got.start, "2026-01-01T00:00:00Z".parse::<Timestamp>().expect("ts"));
        assert_eq!(got.end, Some("2026-01-31T23:59:59Z".parse::<Timestamp>().expect("ts")));
        assert_eq!(got.source_account_id.as_deref(), Some("222222222222"));
        assert!(convert_transfer(&ResponsibilityTransfer::builder().id("rt-x").build()).is_none());
    }

    #[test]
    fn finds_the_transfer_id_of_a_handshake() {
        let h = aws_sdk_organizations::types::Handshake::builder()
            .id("h-abcdefgh")
            .resources(
                HandshakeResource::builder()
                    .r#type(HandshakeResourceType::TransferType)
                    .value("BILLING")
                    .build(),
            )
            .resources(
                HandshakeResource::builder()
                    .r#type(HandshakeResourceType::ResponsibilityTransfer)
                    .value("rt-abcdefgh12")
                    .build(),
            )
            .build();
        assert_eq!(handshake_transfer_id(&h).as_deref(), Some("rt-abcdefgh12"));
    }
}
