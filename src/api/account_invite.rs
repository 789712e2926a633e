//! `AwsAccountInvite`: bring one existing AWS account into a billing profile's organization.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::billing_profile::IamVerification;

/// Annotation a person sets to a new value to ask for a fresh invitation ("I got no email").
/// Honoured once per value, and never sooner than [`MIN_REINVITE_INTERVAL_SECS`] after the last one.
pub const REINVITE_ANNOTATION: &str = "awsinvite.io/reinvite";
/// The longest `awsinvite.io/reinvite` value the operator accepts (a label value's limit).
pub const REINVITE_VALUE_MAX_LEN: usize = 63;
/// The grammar of a `awsinvite.io/reinvite` value, as the regular expression the chart's
/// ValidatingAdmissionPolicy uses (CEL `matches`, RE2): 1 to [`REINVITE_VALUE_MAX_LEN`] ASCII
/// letters, digits, `.`, `_`, `:` and `-`, so that a date (`20261130T100000Z`) or an ISO timestamp
/// (`2026-11-30T10:00:00Z`) fits. [`check_reinvite_value`] is the same rule in Rust;
/// tests/reinvite_admission.rs gives both one table of values on a real API server.
pub const REINVITE_VALUE_PATTERN: &str = "^[A-Za-z0-9._:-]{1,63}$";
/// The rule of [`REINVITE_VALUE_PATTERN`] in words, for messages (admission's and the operator's).
pub const REINVITE_VALUE_RULE: &str = "1 to 63 characters of letters, digits, '.', '_', ':' and '-' (e.g. a timestamp \
     such as 2026-11-30T10:00:00Z)";

/// Why a `awsinvite.io/reinvite` value breaks [`REINVITE_VALUE_PATTERN`] (never the value itself:
/// it may be as long as an annotation may be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReinviteValueError {
    /// The value is empty.
    #[error("annotation {REINVITE_ANNOTATION} is empty; it must be {REINVITE_VALUE_RULE}")]
    Empty,
    /// The value is longer than [`REINVITE_VALUE_MAX_LEN`] characters.
    #[error(
        "annotation {REINVITE_ANNOTATION} is longer than {REINVITE_VALUE_MAX_LEN} characters; it must be {REINVITE_VALUE_RULE}"
    )]
    TooLong,
    /// The value holds a character outside the allowed set.
    #[error("annotation {REINVITE_ANNOTATION} holds a character that is not allowed; it must be {REINVITE_VALUE_RULE}")]
    BadCharacter,
}

/// Checks a `awsinvite.io/reinvite` value against [`REINVITE_VALUE_PATTERN`].
pub fn check_reinvite_value(value: &str) -> Result<(), ReinviteValueError> {
    if value.is_empty() {
        return Err(ReinviteValueError::Empty);
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
    {
        return Err(ReinviteValueError::BadCharacter);
    }
    // Only ASCII is left: bytes are characters.
    if value.len() > REINVITE_VALUE_MAX_LEN {
        return Err(ReinviteValueError::TooLong);
    }
    Ok(())
}

/// Annotation a person sets to "true" to confirm IAM access when verification is Manual.
pub const IAM_ACCESS_CONFIRMED_ANNOTATION: &str = "awsinvite.io/iam-access-confirmed";
/// Annotation naming the user who confirmed IAM access (their Kubernetes user name). The chart's
/// ValidatingAdmissionPolicy admits it only from a user granted the `confirm-iam-access` verb and
/// only when it equals that user's `request.userInfo.username` (docs/usage.md, "The IAM access step").
pub const IAM_ACCESS_CONFIRMED_BY_ANNOTATION: &str = "awsinvite.io/iam-access-confirmed-by";
/// Every annotation the operator reads (docs/usage.md explains each).
pub const ANNOTATIONS: [&str; 3] = [
    REINVITE_ANNOTATION,
    IAM_ACCESS_CONFIRMED_ANNOTATION,
    IAM_ACCESS_CONFIRMED_BY_ANNOTATION,
];
/// The floor between two invitations for the same invite, whatever asks for the second.
pub const MIN_REINVITE_INTERVAL_SECS: u64 = 5 * 60;
/// Default for `spec.reinvite.maxAttempts`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// How many ended handshakes `status.history` keeps.
pub const HISTORY_LIMIT: usize = 10;

/// Which account to invite into which payer organization, and how to follow up.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "An invitation for an existing AWS account to join a billing profile's AWS Organization. The operator sends the invitation, follows the handshake until the account owner accepts, re-invites when spec.reinvite says so, and tracks the IAM access the cost-management tool needs in the new member account.",
    group = "awsinvite.io",
    version = "v1alpha1",
    kind = "AwsAccountInvite",
    plural = "awsaccountinvites",
    namespaced,
    shortname = "awsinvite",
    category = "awsinvite",
    status = "AwsAccountInviteStatus",
    printcolumn = r#"{"name":"Account","type":"string","jsonPath":".spec.accountId"}"#,
    printcolumn = r#"{"name":"Profile","type":"string","jsonPath":".spec.billingProfile"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Handshake","type":"string","jsonPath":".status.handshake.state"}"#,
    printcolumn = r#"{"name":"Attempts","type":"integer","jsonPath":".status.attempts"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AwsAccountInviteSpec {
    /// Name of the BillingProfile (the payer organization) to invite the account into.
    /// Immutable: create a new invite to use another profile.
    #[x_kube(validation = Rule::new("self == oldSelf").message("billingProfile is immutable: delete this invite and create a new one to use another billing profile"))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$')").message("billingProfile must be the name of a BillingProfile (lowercase letters, digits, '-' and '.')"))]
    #[schemars(length(max = 253))]
    pub billing_profile: String,

    /// The 12-digit ID of the AWS account to invite, e.g. "444455556666" (quote it in YAML so
    /// leading zeros survive). Immutable: create a new invite for another account.
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{12}$')").message("accountId must be exactly 12 digits, e.g. \"444455556666\" (quote it in YAML)"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("accountId is immutable: delete this invite and create a new one to invite another account"))]
    #[schemars(length(max = 64))]
    pub account_id: String,

    /// Text included in the invitation email, at most 1024 characters (AWS's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(self) <= 1024").message("notes must be at most 1024 characters (AWS's limit for invitation notes)"))]
    #[schemars(length(max = 8192))]
    pub notes: Option<String>,

    /// Tags applied to the account when it joins the organization: at most 50; keys 1–128
    /// characters, not starting with "aws:"; values at most 256 characters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, size(k) >= 1 && size(k) <= 128)").message("tag keys must be 1 to 128 characters"))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('aws:'))").message("tag keys must not start with \"aws:\" (reserved by AWS)"))]
    #[x_kube(validation = Rule::new("self.all(k, k.matches('^[\\\\p{L}\\\\p{Z}\\\\p{N}_.:/=+@-]+$'))").message("tag keys may contain only letters, digits, spaces and _.:/=+-@"))]
    #[x_kube(validation = Rule::new("self.all(k, self[k].matches('^[\\\\p{L}\\\\p{Z}\\\\p{N}_.:/=+@-]*$'))").message("tag values may contain only letters, digits, spaces and _.:/=+-@"))]
    #[schemars(extend("maxProperties" = 50, "additionalProperties" = {"type": "string", "maxLength": 256}))]
    pub tags: BTreeMap<String, String>,

    /// When to send another invitation.
    #[serde(default)]
    pub reinvite: ReinvitePolicy,

    /// The IAM access the cost-management tool needs in the member account. When absent the
    /// invite is Ready as soon as the account has joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_access: Option<IamAccess>,

    /// What deleting this resource does in AWS: `CancelPending` (default) cancels an open
    /// invitation (a joined account stays in the organization); `Orphan` touches nothing.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// When the operator sends another invitation for the same account.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReinvitePolicy {
    /// Invitations this resource may send in all, the first included (1–20). Default 3.
    #[serde(default = "default_max_attempts")]
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: u32,

    /// Send a new invitation when one expires unanswered (AWS expires them after 15 days). Default true.
    #[serde(default = "default_true")]
    pub on_expired: bool,

    /// Send a new invitation when the account owner declines one. Default false.
    #[serde(default)]
    pub on_declined: bool,

    /// Cancel and resend an invitation still open after this long: a Kubernetes duration
    /// (Go's `time.ParseDuration` grammar) between "5m" and "360h", e.g. "24h", "1.5h", "1h30m"
    /// or "300s". AWS expires an unanswered invitation after 15 days (360h), so a longer timer
    /// could never fire. Unset: never resend an open invitation on a timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(super::duration::RESEND_AFTER_RULE).message("resendAfter must be a duration between 5m and 360h (15 days), e.g. \"30m\", \"1.5h\" or \"1h30m\" (units ns, us, ms, s, m, h)"))]
    #[schemars(length(max = 32))]
    pub resend_after: Option<String>,
}

impl Default for ReinvitePolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            on_expired: true,
            on_declined: false,
            resend_after: None,
        }
    }
}

fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}

fn default_true() -> bool {
    true
}

/// The IAM role the member account must create for the cost-management tool.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.externalId) && has(self.externalIdSecretRef))").message("set iamAccess.externalId or iamAccess.externalIdSecretRef, not both"))]
pub struct IamAccess {
    /// Name of the role the member account must create, e.g. "CloudHealth".
    #[x_kube(validation = Rule::new("self.matches('^[\\\\w+=,.@-]{1,64}$')").message("roleName must be an IAM role name: 1 to 64 letters, digits and +=,.@_-"))]
    #[schemars(length(max = 128))]
    pub role_name: String,

    /// The principal the role must trust, e.g. "arn:aws:iam::454464851268:root".
    #[x_kube(validation = Rule::new("self.matches('^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$')").message("trustedPrincipal must be an IAM principal ARN such as \"arn:aws:iam::454464851268:root\""))]
    #[schemars(length(max = 2048))]
    pub trusted_principal: String,

    /// The external ID the role's trust policy must require (condition sts:ExternalId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(self) >= 2 && size(self) <= 1224").message("externalId must be 2 to 1224 characters"))]
    #[schemars(length(max = 4096))]
    pub external_id: Option<String>,

    /// The external ID read from a key of a Secret in the invite's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id_secret_ref: Option<SecretKeyReference>,

    /// `Automatic` or `Manual`; default: the billing profile's, else Automatic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<IamVerification>,
}

/// A key of a Secret in the invite's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyReference {
    /// Name of the Secret.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')").message("must be a Secret name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"))]
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret.
    #[x_kube(validation = Rule::new("self.matches('^[-._a-zA-Z0-9]+$') && self != '.' && !self.startsWith('..')").message("must be a Secret key: letters, digits, '-', '_' and '.', not \".\" and not starting with \"..\""))]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// What deleting the invite does in AWS: `CancelPending` (default) cancels an open invitation,
/// a joined account stays in the organization; `Orphan` touches nothing in AWS.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    /// Cancel an open invitation; a joined account stays in the organization.
    #[default]
    CancelPending,
    /// Touch nothing in AWS.
    Orphan,
}

/// Where the invite stands, for humans and printer columns (conditions are the contract):
/// Pending, Queued (waiting for the daily budget), Invited (waiting for the account owner),
/// Joined (IAM access not verified yet), Ready, or Failed (see the Stalled condition).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InvitePhase {
    /// Nothing sent yet.
    #[default]
    Pending,
    /// Waiting for room in the billing profile's daily invitation budget.
    Queued,
    /// An invitation is open, waiting for the account owner.
    Invited,
    /// The account is a member; IAM access is not verified yet.
    Joined,
    /// Joined, and IAM access verified or not required.
    Ready,
    /// Nothing will progress without a change (see the Stalled condition).
    Failed,
}

/// An AWS Organizations handshake (invitation) as the operator last saw it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HandshakeStatus {
    /// Handshake ID, e.g. "h-examplehandshakeid111".
    pub id: String,
    /// Handshake ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// OPEN, REQUESTED, ACCEPTED, DECLINED, CANCELED or EXPIRED.
    pub state: String,
    /// When the invitation was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Time>,
    /// When AWS expires the invitation if nobody answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
}

/// An earlier handshake of this invite.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HandshakeRecord {
    /// Handshake ID.
    pub id: String,
    /// Its final (or last seen) state.
    pub state: String,
    /// When it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Time>,
    /// When the operator saw it end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
}

/// Who confirmed IAM access by hand, and when.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManualConfirmation {
    /// The user who confirmed: the `awsinvite.io/iam-access-confirmed-by` annotation, which the
    /// chart's admission policy holds to the requesting user's name. Without that annotation, the
    /// field manager that last set the confirmation (from managedFields): a client-chosen name,
    /// not a verified user. Recorded only when it is 1 to 253 characters without control
    /// characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    /// When the operator first saw the confirmation.
    pub confirmed_at: Time,
}

/// What the operator knows about an invite.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AwsAccountInviteStatus {
    /// InvitationSent, AccountJoined, IamAccessVerified, Ready, Reconciling and Stalled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// Pending, Queued, Invited, Joined, Ready or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<InvitePhase>,

    /// The current (latest) handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake: Option<HandshakeStatus>,

    /// Invitations sent for this resource so far.
    #[serde(default)]
    pub attempts: u32,

    /// When the latest invitation was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_invited_at: Option<Time>,

    /// The last reinvite annotation value that was honoured (only a value the annotation's
    /// grammar admits is ever recorded: at most 63 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reinvite_request: Option<String>,

    /// The last 10 handshakes, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub history: Vec<HandshakeRecord>,

    /// When the account joined the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<Time>,

    /// The organization the account joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,

    /// Who confirmed IAM access when verification is Manual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_access_confirmation: Option<ManualConfirmation>,

    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reinvite_values_follow_one_grammar() {
        let long = "a".repeat(REINVITE_VALUE_MAX_LEN);
        let too_long = "a".repeat(REINVITE_VALUE_MAX_LEN + 1);
        let table: &[(&str, Result<(), ReinviteValueError>)] = &[
            ("1", Ok(())),
            ("no-email-1", Ok(())),
            ("20261130T100000Z", Ok(())),
            ("2026-11-30T10:00:00Z", Ok(())),
            ("2026-11-30T10:00:00.123Z", Ok(())),
            ("v2_again", Ok(())),
            (&long, Ok(())),
            ("", Err(ReinviteValueError::Empty)),
            (&too_long, Err(ReinviteValueError::TooLong)),
            ("two words", Err(ReinviteValueError::BadCharacter)),
            ("2026-11-30T10:00:00+01:00", Err(ReinviteValueError::BadCharacter)),
            ("line\nbreak", Err(ReinviteValueError::BadCharacter)),
            ("caf\u{e9}", Err(ReinviteValueError::BadCharacter)),
            ("\"quoted\"", Err(ReinviteValueError::BadCharacter)),
        ];
        for (value, want) in table {
            assert_eq!(check_reinvite_value(value), *want, "{value:?}");
        }
        // A message names the annotation and the rule, never the value.
        let message = ReinviteValueError::TooLong.to_string();
        assert!(
            message.contains(REINVITE_ANNOTATION) && message.contains("63 characters"),
            "{message}"
        );
    }
}
