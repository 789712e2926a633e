//! Errors of the AWS layer, classified for the reconciler.
//!
//! Every failure of an AWS call becomes an [`AwsError`] with an [`ErrorClass`] (what the
//! reconciler should do about it), a stable CamelCase [`AwsError::reason`] (used as a condition
//! reason, so it is an API) and a [`AwsError::message`] written for the person reading
//! `kubectl describe`. Classification is a pure function of the AWS error code, the exception's
//! `Reason` member and the kind of transport failure ([`classify`]), tested as a table.
//!
//! Messages never contain credentials: they are built from the AWS error code, the exception
//! message AWS returned (which names ARNs and account IDs, never keys) and fixed text.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_organizations::config::http::HttpResponse;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use std::error::Error as StdError;
use std::fmt;

use crate::reason::Reason;

/// What the reconciler should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Transient: throttling, 5xx, network failures and timeouts, concurrent modification.
    /// Retry with backoff and jitter; the invite stays Reconciling.
    Retryable,
    /// A quota of the organization is used up (`HANDSHAKE_RATE_LIMIT_EXCEEDED`: the daily
    /// invitation quota, or `ACCOUNT_NUMBER_LIMIT_EXCEEDED`: the account quota). `reason` is
    /// `QuotaExhausted` or `AccountLimitExceeded`: queue (daily quota) or stall until the quota rises.
    Quota {
        /// `QuotaExhausted` or `AccountLimitExceeded`.
        reason: Reason,
    },
    /// Nothing will progress for this spec without a change (invalid input, account not found,
    /// already in an organization, ...): the invite is Stalled.
    Terminal,
    /// The profile's credentials or organization do not work (access denied, Organizations not
    /// in use, invalid or expired credentials): the profile is not Ready, and its invites say so.
    Profile,
}

impl ErrorClass {
    /// Whether a retry with backoff may succeed without any change.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Retryable)
    }

    /// Whether the profile itself is at fault (credentials, permissions, organization).
    pub fn is_profile_level(self) -> bool {
        matches!(self, Self::Profile)
    }
}

/// How a request failed before any AWS error code was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// The connection failed or was dropped, or the response could not be read.
    Network,
    /// A connect, read or operation timeout fired.
    Timeout,
    /// The request could not be built (a bug or invalid input on our side).
    Construction,
    /// No credentials could be loaded (empty default chain, failed AssumeRole).
    Credentials,
}

/// The result of [`classify`]: class + stable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// What to do.
    pub class: ErrorClass,
    /// Stable CamelCase reason.
    pub reason: Reason,
}

const fn c(class: ErrorClass, reason: Reason) -> Classification {
    Classification { class, reason }
}

/// Classifies an AWS failure from its error `code` (the exception shape name, e.g.
/// `HandshakeConstraintViolationException`; `None` when no AWS answer was received), the
/// exception's `Reason` member (e.g. `HANDSHAKE_RATE_LIMIT_EXCEEDED`), the HTTP status and
/// the transport failure, if any. Pure.
pub fn classify(
    code: Option<&str>,
    aws_reason: Option<&str>,
    http_status: Option<u16>,
    transport: Option<Transport>,
) -> Classification {
    use ErrorClass::*;
    use Reason as R;
    if let Some(t) = transport {
        return match t {
            Transport::Network | Transport::Timeout => c(Retryable, R::AwsUnavailable),
            Transport::Construction => c(Terminal, R::InvalidInput),
            Transport::Credentials => c(Profile, R::CredentialsUnavailable),
        };
    }
    match code.unwrap_or("") {
        "TooManyRequestsException"
        | "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "SlowDown"
        | "PriorRequestNotComplete"
        | "TransactionInProgressException" => c(Retryable, R::Throttled),
        "ServiceException"
        | "InternalFailure"
        | "InternalError"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "RequestTimeout"
        | "RequestTimeoutException" => c(Retryable, R::AwsUnavailable),
        "ConcurrentModificationException" => c(Retryable, R::ConcurrentModification),
        "DuplicateHandshakeException" => c(Retryable, R::DuplicateHandshake),
        "HandshakeConstraintViolationException" => match aws_reason.unwrap_or("") {
            "HANDSHAKE_RATE_LIMIT_EXCEEDED" => c(
                Quota {
                    reason: R::QuotaExhausted,
                },
                R::QuotaExhausted,
            ),
            "ACCOUNT_NUMBER_LIMIT_EXCEEDED" => c(
                Quota {
                    reason: R::AccountLimitExceeded,
                },
                R::AccountLimitExceeded,
            ),
            "ALREADY_IN_AN_ORGANIZATION" => c(Terminal, R::AlreadyInOrganization),
            "ORGANIZATION_FROM_DIFFERENT_SELLER_OF_RECORD" => c(Terminal, R::DifferentSellerOfRecord),
            "ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED" => c(Retryable, R::MembershipChangeRateLimited),
            "INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES" | "ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION" => {
                c(Retryable, R::EnableAllFeaturesInProgress)
            }
            "PAYMENT_INSTRUMENT_REQUIRED" => c(Profile, R::PaymentInstrumentRequired),
            "MANAGEMENT_ACCOUNT_EMAIL_NOT_VERIFIED" | "MASTER_ACCOUNT_EMAIL_NOT_VERIFIED" => {
                c(Profile, R::ManagementEmailNotVerified)
            }
            _ => c(Terminal, R::HandshakeConstraintViolation),
        },
        "MasterCannotLeaveOrganizationException" => c(Terminal, R::ManagementAccountOfAnotherOrganization),
        "HandshakeNotFoundException" => c(Terminal, R::HandshakeNotFound),
        "InvalidHandshakeTransitionException" => c(Terminal, R::InvalidHandshakeTransition),
        "HandshakeAlreadyInStateException" => c(Terminal, R::HandshakeAlreadyInState),
        "AccountNotFoundException" => c(Terminal, R::AccountNotFound),
        "NoSuchEntity" | "NoSuchEntityException" => c(Terminal, R::RoleNotFound),
        "InvalidInputException"
        | "ValidationError"
        | "ValidationException"
        | "MissingParameter"
        | "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "ConstraintViolationException"
        | "MalformedPolicyDocument"
        | "PackedPolicyTooLarge" => c(Terminal, R::InvalidInput),
        "AccessDeniedException" | "AccessDenied" | "AccessDeniedForDependencyException" => c(Profile, R::AccessDenied),
        "AWSOrganizationsNotInUseException" => c(Profile, R::OrganizationsNotInUse),
        "AccountOwnerNotVerifiedException" => c(Profile, R::ManagementEmailNotVerified),
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "InvalidSignatureException"
        | "MissingAuthenticationToken"
        | "AuthFailure"
        | "InvalidAccessKeyId"
        | "NotAuthorized" => c(Profile, R::InvalidCredentials),
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => {
            c(Profile, R::ExpiredCredentials)
        }
        "RegionDisabledException" => c(Profile, R::RegionDisabled),
        _ => match http_status {
            Some(s) if s >= 500 => c(Retryable, R::AwsUnavailable),
            Some(429) => c(Retryable, R::Throttled),
            Some(401 | 403) => c(Profile, R::AccessDenied),
            _ => c(Terminal, R::AwsRequestFailed),
        },
    }
}

/// A failed AWS call, classified. Cheap to clone (the observer keeps the last one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {}", self.message())]
pub struct AwsError {
    operation: &'static str,
    class: ErrorClass,
    reason: Reason,
    code: Option<Box<str>>,
    aws_reason: Option<Box<str>>,
    aws_message: Option<Box<str>>,
    http_status: Option<u16>,
}

impl AwsError {
    /// Builds an error from its parts, classifying it with [`classify`].
    pub fn new(
        operation: &'static str,
        code: Option<&str>,
        aws_reason: Option<&str>,
        aws_message: Option<&str>,
        http_status: Option<u16>,
        transport: Option<Transport>,
    ) -> Self {
        let Classification { class, reason } = classify(code, aws_reason, http_status, transport);
        Self {
            operation,
            class,
            reason,
            code: code.map(Box::from),
            aws_reason: aws_reason.map(Box::from),
            aws_message: aws_message.map(|m| sanitize(m).into_boxed_str()),
            http_status,
        }
    }

    /// An error raised by this layer itself (not by AWS), with an explicit class and reason.
    pub fn local(operation: &'static str, class: ErrorClass, reason: Reason, message: impl Into<String>) -> Self {
        Self {
            operation,
            class,
            reason,
            code: None,
            aws_reason: None,
            aws_message: Some(sanitize(&message.into()).into_boxed_str()),
            http_status: None,
        }
    }

    /// Converts an SDK error. `aws_reason` extracts the `Reason` member of the typed
    /// exception (HandshakeConstraintViolation, InvalidInput, ConstraintViolation), if any.
    pub fn from_sdk<E>(
        operation: &'static str,
        err: SdkError<E, HttpResponse>,
        aws_reason: impl Fn(&E) -> Option<String>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        match &err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                let status = se.raw().status().as_u16();
                let reason = aws_reason(e);
                Self::new(operation, e.code(), reason.as_deref(), e.message(), Some(status), None)
            }
            SdkError::TimeoutError(_) => Self::new(
                operation,
                None,
                None,
                Some("the request timed out"),
                None,
                Some(Transport::Timeout),
            ),
            SdkError::DispatchFailure(d) => {
                if let Some(inner) = find_in_chain(&err) {
                    return inner.with_operation(operation);
                }
                if d.is_timeout() {
                    Self::new(
                        operation,
                        None,
                        None,
                        Some("the request timed out"),
                        None,
                        Some(Transport::Timeout),
                    )
                } else if credentials_failure(&err) {
                    Self::new(
                        operation,
                        None,
                        None,
                        Some(&chain_text(&err)),
                        None,
                        Some(Transport::Credentials),
                    )
                } else {
                    Self::new(
                        operation,
                        None,
                        None,
                        Some(&chain_text(&err)),
                        None,
                        Some(Transport::Network),
                    )
                }
            }
            SdkError::ResponseError(_) => Self::new(
                operation,
                None,
                None,
                Some(&chain_text(&err)),
                None,
                Some(Transport::Network),
            ),
            SdkError::ConstructionFailure(_) => {
                if let Some(inner) = find_in_chain(&err) {
                    return inner.with_operation(operation);
                }
                let transport = if credentials_failure(&err) {
                    Transport::Credentials
                } else {
                    Transport::Construction
                };
                Self::new(operation, None, None, Some(&chain_text(&err)), None, Some(transport))
            }
            _ => Self::new(
                operation,
                None,
                None,
                Some(&chain_text(&err)),
                None,
                Some(Transport::Network),
            ),
        }
    }

    fn with_operation(mut self, operation: &'static str) -> Self {
        // Keep the operation that failed first (e.g. AssumeRole) in the message, but report
        // the call the caller made.
        if self.operation != operation {
            let inner = self.operation;
            self.aws_message = Some(
                match self.aws_message.take() {
                    Some(m) => format!("{inner} failed: {m}"),
                    None => format!("{inner} failed"),
                }
                .into_boxed_str(),
            );
            self.operation = operation;
        }
        self
    }

    /// What the reconciler should do.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// Stable CamelCase reason for conditions, e.g. `Throttled`, `AlreadyInOrganization`.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The AWS error code (exception shape name), when AWS answered.
    pub fn aws_code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The exception's `Reason` member (e.g. `HANDSHAKE_RATE_LIMIT_EXCEEDED`), if any.
    pub fn aws_reason(&self) -> Option<&str> {
        self.aws_reason.as_deref()
    }

    /// The message AWS returned, if any.
    pub fn aws_message(&self) -> Option<&str> {
        self.aws_message.as_deref()
    }

    /// The HTTP status of AWS's answer, if any.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// The AWS operation that failed, e.g. `InviteAccountToOrganization`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// Whether this is DuplicateHandshakeException: an open invitation to this account already
    /// exists. Never an error for the user: adopt the open handshake (docs/architecture.md,
    /// "Exactly-once argument").
    pub fn is_duplicate_handshake(&self) -> bool {
        self.reason == Reason::DuplicateHandshake
    }

    /// Whether the handshake no longer exists or has already ended (safe to treat a cancel as done).
    pub fn is_handshake_gone(&self) -> bool {
        matches!(
            self.reason,
            Reason::HandshakeNotFound | Reason::InvalidHandshakeTransition | Reason::HandshakeAlreadyInState
        )
    }

    /// What happened and what to do, for `kubectl describe`.
    pub fn message(&self) -> String {
        let advice = self.reason.advice();
        let aws = match (&self.code, &self.aws_message) {
            (Some(code), Some(m)) => format!(" (AWS {} {code}: {m})", self.operation),
            (Some(code), None) => format!(" (AWS {} {code})", self.operation),
            (None, Some(m)) => format!(" ({}: {m})", self.operation),
            (None, None) => format!(" ({})", self.operation),
        };
        format!("{advice}{aws}")
    }
}

/// Removes anything that looks like a secret from a message, and bounds its length.
fn sanitize(message: &str) -> String {
    let mut out: String = message
        .split_inclusive(char::is_whitespace)
        .map(|w| {
            let t = w.trim_end();
            let looks_like_key = (t.starts_with("AKIA") || t.starts_with("ASIA")) && t.len() >= 16;
            if looks_like_key {
                w.replacen(t, "[redacted]", 1)
            } else {
                w.to_string()
            }
        })
        .collect();
    if out.chars().count() > 600 {
        out = out.chars().take(600).collect::<String>() + "...";
    }
    out
}

fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p == &s) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

fn find_in_chain(err: &(dyn StdError + 'static)) -> Option<AwsError> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(found) = e.downcast_ref::<AwsError>() {
            return Some(found.clone());
        }
        cur = e.source();
    }
    None
}

fn credentials_failure(err: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<CredentialsError>().is_some() {
            return true;
        }
        let text = e.to_string();
        if text.contains("no credentials") || text.contains("credentials provider") {
            return true;
        }
        cur = e.source();
    }
    false
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retryable => f.write_str("Retryable"),
            Self::Quota { reason } => write!(f, "Quota({reason})"),
            Self::Terminal => f.write_str("Terminal"),
            Self::Profile => f.write_str("Profile"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    #[test]
    fn classification_table() {
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<u16>,
            Option<Transport>,
            ErrorClass,
            &'a str,
        );
        let table: &[Row] = &[
            (
                Some("TooManyRequestsException"),
                None,
                Some(400),
                None,
                Retryable,
                "Throttled",
            ),
            (Some("Throttling"), None, Some(400), None, Retryable, "Throttled"),
            (
                Some("ThrottlingException"),
                None,
                Some(400),
                None,
                Retryable,
                "Throttled",
            ),
            (
                Some("ServiceException"),
                None,
                Some(500),
                None,
                Retryable,
                "AwsUnavailable",
            ),
            (
                Some("InternalFailure"),
                None,
                Some(500),
                None,
                Retryable,
                "AwsUnavailable",
            ),
            (Some("SomethingNew"), None, Some(503), None, Retryable, "AwsUnavailable"),
            (None, None, Some(502), None, Retryable, "AwsUnavailable"),
            (
                Some("ConcurrentModificationException"),
                None,
                Some(400),
                None,
                Retryable,
                "ConcurrentModification",
            ),
            (None, None, None, Some(Transport::Network), Retryable, "AwsUnavailable"),
            (None, None, None, Some(Transport::Timeout), Retryable, "AwsUnavailable"),
            (
                None,
                None,
                None,
                Some(Transport::Credentials),
                Profile,
                "CredentialsUnavailable",
            ),
            (
                None,
                None,
                None,
                Some(Transport::Construction),
                Terminal,
                "InvalidInput",
            ),
            (
                Some("HandshakeConstraintViolationException"),
                Some("HANDSHAKE_RATE_LIMIT_EXCEEDED"),
                Some(400),
                None,
                Quota {
                    reason: Reason::QuotaExhausted,
                },
                "QuotaExhausted",
            ),
            (
                Some("HandshakeConstraintViolationException"),
                Some("ACCOUNT_NUMBER_LIMIT_EXCEEDED"),
                Some(400),
                None,
                Quota {
                    reason: Reason::AccountLimitExceeded,
                },
                "AccountLimitExceeded",
            ),
            (
                Some("HandshakeConstraintViolationException"),
                Some("ALREADY_IN_AN_ORGANIZATION"),
                Some(400),
                None,
                Terminal,
                "AlreadyInOrganization",
            ),
            (
                Some("HandshakeConstraintViolationException"),
                Some("ORGANIZATION_FROM_DIFFERENT_SELLER_OF_RECORD"),
                Some(400),
                None,
                Terminal,
                "DifferentSellerOfRecord",
            ),
            (
                Some("HandshakeConstraintViolationException"),
                Some("PAYMENT_INSTRUMENT_REQUIRED"),
                Some(400),
                None,
                Profile,
                "PaymentInstrumentRequired",
            ),
            (
                Some("HandshakeConstraintViolationException"),
                None,
                Some(400),
                None,
                Terminal,
                "HandshakeConstraintViolation",
            ),
            (
                Some("MasterCannotLeaveOrganizationException"),
                None,
                Some(400),
                None,
                Terminal,
                "ManagementAccountOfAnotherOrganization",
            ),
            (
                Some("DuplicateHandshakeException"),
                None,
                Some(400),
                None,
                Retryable,
                "DuplicateHandshake",
            ),
            (
                Some("HandshakeNotFoundException"),
                None,
                Some(400),
                None,
                Terminal,
                "HandshakeNotFound",
            ),
            (
                Some("InvalidHandshakeTransitionException"),
                None,
                Some(400),
                None,
                Terminal,
                "InvalidHandshakeTransition",
            ),
            (
                Some("HandshakeAlreadyInStateException"),
                None,
                Some(400),
                None,
                Terminal,
                "HandshakeAlreadyInState",
            ),
            (
                Some("AccountNotFoundException"),
                None,
                Some(400),
                None,
                Terminal,
                "AccountNotFound",
            ),
            (
                Some("InvalidInputException"),
                Some("INVALID_PATTERN"),
                Some(400),
                None,
                Terminal,
                "InvalidInput",
            ),
            (Some("ValidationError"), None, Some(400), None, Terminal, "InvalidInput"),
            (Some("NoSuchEntity"), None, Some(404), None, Terminal, "RoleNotFound"),
            (
                Some("AccessDeniedException"),
                None,
                Some(400),
                None,
                Profile,
                "AccessDenied",
            ),
            (Some("AccessDenied"), None, Some(403), None, Profile, "AccessDenied"),
            (
                Some("AWSOrganizationsNotInUseException"),
                None,
                Some(400),
                None,
                Profile,
                "OrganizationsNotInUse",
            ),
            (
                Some("UnrecognizedClientException"),
                None,
                Some(400),
                None,
                Profile,
                "InvalidCredentials",
            ),
            (
                Some("InvalidClientTokenId"),
                None,
                Some(403),
                None,
                Profile,
                "InvalidCredentials",
            ),
            (
                Some("SignatureDoesNotMatch"),
                None,
                Some(403),
                None,
                Profile,
                "InvalidCredentials",
            ),
            (
                Some("InvalidSignatureException"),
                None,
                Some(400),
                None,
                Profile,
                "InvalidCredentials",
            ),
            (
                Some("ExpiredTokenException"),
                None,
                Some(400),
                None,
                Profile,
                "ExpiredCredentials",
            ),
            (
                Some("ExpiredToken"),
                None,
                Some(400),
                None,
                Profile,
                "ExpiredCredentials",
            ),
            (
                Some("SomethingNew"),
                None,
                Some(400),
                None,
                Terminal,
                "AwsRequestFailed",
            ),
            (Some("SomethingNew"), None, Some(429), None, Retryable, "Throttled"),
        ];
        for (code, reason, status, transport, class, want) in table {
            let got = classify(*code, *reason, *status, *transport);
            assert_eq!(got.class, *class, "{code:?}/{reason:?}/{status:?}/{transport:?}");
            assert_eq!(got.reason, *want, "{code:?}/{reason:?}/{status:?}/{transport:?}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = AwsError::new(
            "AcceptHandshake",
            Some("MasterCannotLeaveOrganizationException"),
            None,
            Some("You can't remove a management account"),
            Some(400),
            None,
        );
        assert_eq!(e.reason(), "ManagementAccountOfAnotherOrganization");
        assert!(e.message().contains("remove all member accounts"));
        assert!(e.message().contains("delete the organization"));
        let e = AwsError::new(
            "InviteAccountToOrganization",
            Some("HandshakeConstraintViolationException"),
            Some("ALREADY_IN_AN_ORGANIZATION"),
            None,
            Some(400),
            None,
        );
        assert!(e.message().contains("leave that organization"));
        assert_eq!(e.aws_code(), Some("HandshakeConstraintViolationException"));
        assert_eq!(e.aws_reason(), Some("ALREADY_IN_AN_ORGANIZATION"));
        assert!(e.to_string().starts_with("InviteAccountToOrganization: "));
    }

    #[test]
    fn messages_never_carry_keys() {
        let e = AwsError::new(
            "GetRole",
            Some("InvalidClientTokenId"),
            None,
            Some("The security token ASIAABCDEFGHIJKLMNOP included in the request is invalid"),
            Some(403),
            None,
        );
        assert!(!e.message().contains("ASIAABCDEFGHIJKLMNOP"), "{}", e.message());
        assert!(e.message().contains("[redacted]"));
    }

    #[test]
    fn helpers() {
        let dup = AwsError::new(
            "InviteAccountToOrganization",
            Some("DuplicateHandshakeException"),
            None,
            None,
            None,
            None,
        );
        assert!(dup.is_duplicate_handshake());
        let gone = AwsError::new(
            "CancelHandshake",
            Some("InvalidHandshakeTransitionException"),
            None,
            None,
            None,
            None,
        );
        assert!(gone.is_handshake_gone());
        let local = AwsError::local("X", ErrorClass::Terminal, Reason::InvalidInput, "text");
        assert_eq!(local.class(), ErrorClass::Terminal);
        assert!(local.message().contains("text"));
    }
}
