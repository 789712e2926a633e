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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// `h-...`.
    pub id: String,
    /// The handshake ARN.
    pub arn: String,
    /// Current state.
    pub state: HandshakeState,
    /// The invited account (the ACCOUNT party), when the target was an account ID.
    pub account_id: Option<String>,
    /// When it was sent.
    pub requested_at: Timestamp,
    /// When AWS expires it if nobody answers.
    pub expires_at: Timestamp,
}
