//! An AWS Organizations handshake (invitation) as the operator sees it: plain data shared by
//! the AWS layer ([`crate::aws`], which reads handshakes from AWS) and the pure decisions
//! ([`crate::reconcile`], which never talk to AWS).

use jiff::Timestamp;

/// The states of an AWS Organizations handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeState {
    /// Sent, not yet delivered to every party.
    Requested,
    /// Waiting for the invited account to answer.
    Open,
    /// Canceled by the sender.
    Canceled,
    /// Accepted: the account joined.
    Accepted,
    /// Declined by the account owner.
    Declined,
    /// Not answered within 15 days.
    Expired,
}

impl HandshakeState {
    /// AWS's spelling, as stored in `status.handshake.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Open => "OPEN",
            Self::Canceled => "CANCELED",
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
            Self::Expired => "EXPIRED",
        }
    }

    /// Parses AWS's spelling.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "REQUESTED" => Self::Requested,
            "OPEN" => Self::Open,
            "CANCELED" => Self::Canceled,
            "ACCEPTED" => Self::Accepted,
            "DECLINED" => Self::Declined,
            "EXPIRED" => Self::Expired,
            _ => return None,
        })
    }

    /// Still waiting for the invited account (REQUESTED or OPEN).
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Requested | Self::Open)
    }
}

/// An invitation handshake: what ListHandshakesForOrganization / InviteAccountToOrganization return.
///
/// The AWS Organizations API reference ("Handshake" data type) marks every member of a
/// handshake optional. The operator needs an ID (to name it) and a state (to decide from it);
/// everything else may be absent and is `None` here, never invented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// `h-...`.
    pub id: String,
    /// The handshake ARN, when AWS gives one.
    pub arn: Option<String>,
    /// Current state.
    pub state: HandshakeState,
    /// The invited account: the one ACCOUNT party or resource that is not the organization's
    /// management account (see `crate::aws::convert_handshake`). `None` when AWS names no such
    /// account, or names more than one.
    pub account_id: Option<String>,
    /// When it was sent, when AWS says.
    pub requested_at: Option<Timestamp>,
    /// When AWS expires it if nobody answers, when AWS says.
    pub expires_at: Option<Timestamp>,
}
