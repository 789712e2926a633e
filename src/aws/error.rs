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
        "HandshakeConstraintViolationException" => handshake_constraint(aws_reason.unwrap_or("")),
        "ConstraintViolationException" => constraint(aws_reason.unwrap_or("")),
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
        | "MalformedPolicyDocument"
        | "PackedPolicyTooLarge" => c(Terminal, R::InvalidInput),
        "AccessDeniedException" | "AccessDenied" | "AccessDeniedForDependencyException" => c(Profile, R::AccessDenied),
        "AWSOrganizationsNotInUseException" => c(Profile, R::OrganizationsNotInUse),
        "AccountOwnerNotVerifiedException" => c(Terminal, R::ManagementEmailNotVerified),
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

/// Classifies a `HandshakeConstraintViolationException` by its `Reason`: every value of the
/// Organizations model (`HandshakeConstraintViolationExceptionReason`; AWS's text for each is
/// quoted in docs/troubleshooting.md) has its own reason. Retried where AWS says the condition
/// passes by itself (the membership-change rate limit, an enable-all-features migration);
/// stalled where a person must act; queued on the daily quota. Unknown values (a newer model)
/// stall as `HandshakeConstraintViolation`, with AWS's reason and text in the message.
fn handshake_constraint(aws_reason: &str) -> Classification {
    use ErrorClass::*;
    use Reason as R;
    match aws_reason {
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
        "ORGANIZATION_ALREADY_HAS_ALL_FEATURES" => c(Terminal, R::AllFeaturesAlreadyEnabled),
        "PAYMENT_INSTRUMENT_REQUIRED" => c(Terminal, R::PaymentInstrumentRequired),
        "MANAGEMENT_ACCOUNT_EMAIL_NOT_VERIFIED" | "MASTER_ACCOUNT_EMAIL_NOT_VERIFIED" => {
            c(Terminal, R::ManagementEmailNotVerified)
        }
        "PAST_DUE_INVOICE" => c(Terminal, R::PastDueInvoice),
        "UNUSED_PREPAYMENT_BALANCE" => c(Terminal, R::UnusedPrepaymentBalance),
        "LEGACY_PERMISSIONS_STILL_IN_USE" => c(Terminal, R::LegacyPermissionsStillInUse),
        "TARGET_ACCOUNT_VALIDATION_FAILURE" => c(Terminal, R::TargetAccountValidationFailure),
        "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS" => c(Terminal, R::ResponsibilityTransferExists),
        "SOURCE_AND_TARGET_CANNOT_MATCH" => c(Terminal, R::SourceAndTargetCannotMatch),
        _ => c(Terminal, R::HandshakeConstraintViolation),
    }
}

/// Classifies a `ConstraintViolationException` by its `Reason`. InviteAccountToOrganization
/// and TagResource (the tags applied on joining) can answer it; the values that concern an
/// invitation have their own reason, every other one is `InvalidInput` with AWS's reason in
/// the message.
fn constraint(aws_reason: &str) -> Classification {
    use ErrorClass::*;
    use Reason as R;
    match aws_reason {
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
        "MASTER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED" | "INVALID_PAYMENT_INSTRUMENT" => {
            c(Terminal, R::PaymentInstrumentRequired)
        }
        "MEMBER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED" => c(Terminal, R::MemberPaymentInstrumentRequired),
        "MASTER_ACCOUNT_MISSING_CONTACT_INFO"
        | "MASTER_ACCOUNT_MISSING_BUSINESS_LICENSE"
        | "MASTER_ACCOUNT_ADDRESS_DOES_NOT_MATCH_MARKETPLACE"
        | "UNMET_BILLING_PREREQUISITE" => c(Terminal, R::ManagementAccountIncomplete),
        "WAIT_PERIOD_ACTIVE" => c(Retryable, R::WaitPeriodActive),
        "MAX_TAG_LIMIT_EXCEEDED" | "TAG_POLICY_VIOLATION" => c(Terminal, R::TagsRefused),
        _ => c(Terminal, R::InvalidInput),
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
        let code = match (&self.code, &self.aws_reason) {
            (Some(code), Some(r)) => Some(format!("{code} {r}")),
            (code, _) => code.as_deref().map(str::to_string),
        };
        let aws = match (&code, &self.aws_message) {
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
                Terminal,
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

    /// The Organizations model's `Reason` values of `exception` (emulator/model/organizations.json,
    /// extracted from botocore by emulator/model/extract.py).
    fn model_reasons(shape: &str) -> Vec<String> {
        let model: serde_json::Value =
            serde_json::from_str(include_str!("../../emulator/model/organizations.json")).expect("model");
        let values = model["errorReasons"][shape]
            .as_array()
            .expect("reason list in the model");
        values.iter().map(|v| v.as_str().expect("string").to_string()).collect()
    }

    /// Every HandshakeConstraintViolationException reason: its class and condition reason.
    /// AWS's text for each: the `HandshakeConstraintViolationException` documentation of the
    /// Organizations API reference (quoted in docs/troubleshooting.md).
    const HANDSHAKE_CONSTRAINTS: &[(&str, ErrorClass, Reason)] = &[
        (
            "ACCOUNT_NUMBER_LIMIT_EXCEEDED",
            ErrorClass::Quota {
                reason: Reason::AccountLimitExceeded,
            },
            Reason::AccountLimitExceeded,
        ),
        (
            "HANDSHAKE_RATE_LIMIT_EXCEEDED",
            ErrorClass::Quota {
                reason: Reason::QuotaExhausted,
            },
            Reason::QuotaExhausted,
        ),
        (
            "ALREADY_IN_AN_ORGANIZATION",
            ErrorClass::Terminal,
            Reason::AlreadyInOrganization,
        ),
        (
            "ORGANIZATION_ALREADY_HAS_ALL_FEATURES",
            ErrorClass::Terminal,
            Reason::AllFeaturesAlreadyEnabled,
        ),
        (
            "ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION",
            ErrorClass::Retryable,
            Reason::EnableAllFeaturesInProgress,
        ),
        (
            "INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES",
            ErrorClass::Retryable,
            Reason::EnableAllFeaturesInProgress,
        ),
        (
            "PAYMENT_INSTRUMENT_REQUIRED",
            ErrorClass::Terminal,
            Reason::PaymentInstrumentRequired,
        ),
        (
            "ORGANIZATION_FROM_DIFFERENT_SELLER_OF_RECORD",
            ErrorClass::Terminal,
            Reason::DifferentSellerOfRecord,
        ),
        (
            "ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED",
            ErrorClass::Retryable,
            Reason::MembershipChangeRateLimited,
        ),
        (
            "MANAGEMENT_ACCOUNT_EMAIL_NOT_VERIFIED",
            ErrorClass::Terminal,
            Reason::ManagementEmailNotVerified,
        ),
        (
            "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS",
            ErrorClass::Terminal,
            Reason::ResponsibilityTransferExists,
        ),
        (
            "SOURCE_AND_TARGET_CANNOT_MATCH",
            ErrorClass::Terminal,
            Reason::SourceAndTargetCannotMatch,
        ),
        (
            "UNUSED_PREPAYMENT_BALANCE",
            ErrorClass::Terminal,
            Reason::UnusedPrepaymentBalance,
        ),
        (
            "LEGACY_PERMISSIONS_STILL_IN_USE",
            ErrorClass::Terminal,
            Reason::LegacyPermissionsStillInUse,
        ),
        ("PAST_DUE_INVOICE", ErrorClass::Terminal, Reason::PastDueInvoice),
        (
            "TARGET_ACCOUNT_VALIDATION_FAILURE",
            ErrorClass::Terminal,
            Reason::TargetAccountValidationFailure,
        ),
    ];

    fn expected_handshake_constraint(aws_reason: &str) -> (ErrorClass, Reason) {
        let (_, class, reason) = HANDSHAKE_CONSTRAINTS
            .iter()
            .find(|(r, _, _)| *r == aws_reason)
            .unwrap_or_else(|| panic!("{aws_reason}: a HandshakeConstraintViolation reason without a mapping"));
        (*class, *reason)
    }

    #[test]
    fn every_handshake_constraint_reason_of_the_model_has_its_own_reason() {
        // The reasons of the model the emulator ships, and of the SDK's (newer) model.
        let mut reasons = model_reasons("HandshakeConstraintViolationExceptionReason");
        assert!(reasons.len() >= 14, "{reasons:?}");
        reasons.extend(
            aws_sdk_organizations::types::HandshakeConstraintViolationExceptionReason::values()
                .iter()
                .map(|r| r.to_string()),
        );
        for aws_reason in &reasons {
            let (class, reason) = expected_handshake_constraint(aws_reason);
            let got = classify(
                Some("HandshakeConstraintViolationException"),
                Some(aws_reason),
                Some(400),
                None,
            );
            assert_eq!((got.class, got.reason), (class, reason), "{aws_reason}");
            assert_ne!(got.reason, Reason::HandshakeConstraintViolation, "{aws_reason}");
            // Retried exactly where AWS says the condition passes by itself.
            let passes = matches!(
                aws_reason.as_str(),
                "ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED"
                    | "INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES"
                    | "ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION"
            );
            assert_eq!(got.class.is_retryable(), passes, "{aws_reason}");
            let e = AwsError::new(
                "InviteAccountToOrganization",
                Some("HandshakeConstraintViolationException"),
                Some(aws_reason),
                Some("AWS's text"),
                Some(400),
                None,
            );
            let m = e.message();
            assert!(m.contains(aws_reason.as_str()) && m.contains("AWS's text"), "{m}");
        }
        // A reason no model has yet: stalled under the generic reason, AWS's reason in the message.
        let e = AwsError::new(
            "InviteAccountToOrganization",
            Some("HandshakeConstraintViolationException"),
            Some("SOMETHING_NEW"),
            Some("new text"),
            Some(400),
            None,
        );
        assert_eq!(
            (e.class(), e.reason()),
            (Terminal, Reason::HandshakeConstraintViolation)
        );
        assert!(e.message().contains("SOMETHING_NEW"), "{}", e.message());
    }

    #[test]
    fn every_constraint_violation_reason_of_the_model_is_classified() {
        use ErrorClass::*;
        let specific: &[(&str, ErrorClass, Reason)] = &[
            (
                "ACCOUNT_NUMBER_LIMIT_EXCEEDED",
                Quota {
                    reason: Reason::AccountLimitExceeded,
                },
                Reason::AccountLimitExceeded,
            ),
            (
                "HANDSHAKE_RATE_LIMIT_EXCEEDED",
                Quota {
                    reason: Reason::QuotaExhausted,
                },
                Reason::QuotaExhausted,
            ),
            (
                "MASTER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED",
                Terminal,
                Reason::PaymentInstrumentRequired,
            ),
            (
                "INVALID_PAYMENT_INSTRUMENT",
                Terminal,
                Reason::PaymentInstrumentRequired,
            ),
            (
                "MEMBER_ACCOUNT_PAYMENT_INSTRUMENT_REQUIRED",
                Terminal,
                Reason::MemberPaymentInstrumentRequired,
            ),
            (
                "MASTER_ACCOUNT_MISSING_CONTACT_INFO",
                Terminal,
                Reason::ManagementAccountIncomplete,
            ),
            (
                "MASTER_ACCOUNT_MISSING_BUSINESS_LICENSE",
                Terminal,
                Reason::ManagementAccountIncomplete,
            ),
            (
                "MASTER_ACCOUNT_ADDRESS_DOES_NOT_MATCH_MARKETPLACE",
                Terminal,
                Reason::ManagementAccountIncomplete,
            ),
            (
                "UNMET_BILLING_PREREQUISITE",
                Terminal,
                Reason::ManagementAccountIncomplete,
            ),
            ("WAIT_PERIOD_ACTIVE", Retryable, Reason::WaitPeriodActive),
            ("MAX_TAG_LIMIT_EXCEEDED", Terminal, Reason::TagsRefused),
            ("TAG_POLICY_VIOLATION", Terminal, Reason::TagsRefused),
        ];
        // The reasons of the model the emulator ships, and of the SDK's (newer) model.
        let mut model = model_reasons("ConstraintViolationExceptionReason");
        assert!(model.len() >= 40, "{model:?}");
        model.extend(
            aws_sdk_organizations::types::ConstraintViolationExceptionReason::values()
                .iter()
                .map(|r| r.to_string()),
        );
        for (r, _, _) in specific {
            assert!(model.iter().any(|m| m == r), "{r} is not in the model");
        }
        for aws_reason in &model {
            let got = classify(Some("ConstraintViolationException"), Some(aws_reason), Some(400), None);
            let want = specific
                .iter()
                .find(|(r, _, _)| r == aws_reason)
                .map_or((Terminal, Reason::InvalidInput), |(_, c, r)| (*c, *r));
            assert_eq!((got.class, got.reason), want, "{aws_reason}");
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
