//! Errors the emulated services return, shaped as AWS returns them.

use std::borrow::Cow;

/// An error as an AWS service returns it: the error shape name (`__type` for awsJson,
/// `Code` for the query protocol), a message, an optional `Reason` and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    /// Error shape name, e.g. `DuplicateHandshakeException` or `AccessDenied`.
    pub code: Cow<'static, str>,
    /// Human-readable message.
    pub message: String,
    /// The `Reason` member of exceptions that have one.
    pub reason: Option<Cow<'static, str>>,
    /// HTTP status code of the response.
    pub status: u16,
}

impl AwsError {
    /// A client error (HTTP 400) without a reason.
    pub fn client(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            reason: None,
            status: 400,
        }
    }

    /// A client error (HTTP 400) with a `Reason`.
    pub fn with_reason(code: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            reason: Some(reason.into()),
            status: 400,
        }
    }

    /// `AccessDeniedException`.
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::client("AccessDeniedException", message)
    }

    /// `AWSOrganizationsNotInUseException`.
    pub fn not_in_use() -> Self {
        Self::client(
            "AWSOrganizationsNotInUseException",
            "Your account is not a member of an organization.",
        )
    }

    /// `InvalidInputException` with a reason.
    pub fn invalid_input(reason: &'static str, message: impl Into<String>) -> Self {
        Self::with_reason("InvalidInputException", reason, message)
    }

    /// `HandshakeConstraintViolationException` with a reason.
    pub fn handshake_constraint(reason: &'static str, message: impl Into<String>) -> Self {
        Self::with_reason("HandshakeConstraintViolationException", reason, message)
    }

    /// `HandshakeNotFoundException`.
    pub fn handshake_not_found(id: &str) -> Self {
        Self::client(
            "HandshakeNotFoundException",
            format!("We can't find a handshake with the HandshakeId that you specified: {id}."),
        )
    }

    /// `AccountNotFoundException`.
    pub fn account_not_found(id: &str) -> Self {
        Self::client(
            "AccountNotFoundException",
            format!("You specified an account that doesn't exist: {id}."),
        )
    }

    /// `TooManyRequestsException` (HTTP 400, as in the Organizations model).
    pub fn too_many_requests() -> Self {
        Self::client(
            "TooManyRequestsException",
            "You have sent too many requests in too short a period of time. The quota helps protect against denial-of-service attacks. Try again later.",
        )
    }

    /// `ServiceException` (HTTP 500).
    pub fn service() -> Self {
        Self {
            code: "ServiceException".into(),
            message:
                "AWS Organizations can't complete your request because of an internal service error. Try again later."
                    .into(),
            reason: None,
            status: 500,
        }
    }

    /// `MasterCannotLeaveOrganizationException`.
    pub fn master_cannot_leave() -> Self {
        Self::client(
            "MasterCannotLeaveOrganizationException",
            "You can't remove a management account from an organization. If you want the management account to become a member account in another organization, you must first delete the current organization of the management account.",
        )
    }

    /// Any error, e.g. one a fault injects: `code` (the exception shape name), an optional
    /// `Reason`, the message and the HTTP status.
    pub fn any(code: String, reason: Option<String>, message: String, status: u16) -> Self {
        Self {
            code: code.into(),
            message,
            reason: reason.map(Cow::Owned),
            status,
        }
    }

    /// A query-protocol (STS/IAM) error with the given code and status.
    pub fn query(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            reason: None,
            status,
        }
    }
}
