//! Plain types of AWS billing (responsibility) transfers, shared by `aws/` (which lists and
//! changes them) and `reconcile/` (which decides from them); docs/billing-transfer.md.

use jiff::Timestamp;

/// AWS's `ResponsibilityTransferStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsTransferStatus {
    /// Invitation sent, not answered.
    Requested,
    /// Accepted.
    Accepted,
    /// Declined by the customer.
    Declined,
    /// Invitation canceled by the payer.
    Canceled,
    /// Not accepted 24 h before the start.
    Expired,
    /// Withdrawn; ends at its end.
    Withdrawn,
}

impl AwsTransferStatus {
    /// Parses AWS's name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "REQUESTED" => Self::Requested,
            "ACCEPTED" => Self::Accepted,
            "DECLINED" => Self::Declined,
            "CANCELED" => Self::Canceled,
            "EXPIRED" => Self::Expired,
            "WITHDRAWN" => Self::Withdrawn,
            _ => return None,
        })
    }

    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
            Self::Canceled => "CANCELED",
            Self::Expired => "EXPIRED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }
}

/// One transfer as AWS lists it for the payer (ListInboundResponsibilityTransfers).
#[derive(Debug, Clone, PartialEq)]
pub struct AwsTransfer {
    /// `rt-...`.
    pub id: String,
    /// ARN.
    pub arn: Option<String>,
    /// Name.
    pub name: String,
    /// Status.
    pub status: AwsTransferStatus,
    /// Start.
    pub start: Timestamp,
    /// End, once withdrawn.
    pub end: Option<Timestamp>,
    /// The invitation's handshake.
    pub handshake_id: Option<String>,
    /// The customer's management account (the transfer's Source), when AWS names it.
    pub source_account_id: Option<String>,
    /// The customer's management account email, when AWS names it.
    pub source_email: Option<String>,
}

impl AwsTransfer {
    /// Whether this transfer is to the customer named by account ID or email.
    pub fn is_to(&self, account_id: Option<&str>, email: Option<&str>) -> bool {
        match (account_id, email) {
            (Some(a), _) => self.source_account_id.as_deref() == Some(a),
            (None, Some(e)) => self.source_email.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(e)),
            (None, None) => false,
        }
    }
}
