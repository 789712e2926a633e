//! JSON types of the control API (`/_emulator/...`), shared by the server and
//! [`crate::ControlClient`].

use crate::state::{Account, Handshake, Organization, Role, State, Time, Transfer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A handshake as the control API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandshakeInfo {
    /// `h-...`.
    pub id: String,
    /// Handshake ARN.
    pub arn: String,
    /// Sending organization.
    pub organization_id: String,
    /// `ACCOUNT` or `EMAIL`.
    pub target_type: String,
    /// Account ID or email of the invitee.
    pub target_id: String,
    /// `OPEN`, `ACCEPTED`, `DECLINED`, `CANCELED` or `EXPIRED`.
    pub state: String,
    /// Notes sent with the invitation.
    pub notes: Option<String>,
    /// Tags to apply on join.
    pub tags: BTreeMap<String, String>,
    /// When it was sent (emulator clock).
    pub requested_at: Time,
    /// When it expires.
    pub expires_at: Time,
    /// When it ended, if it has.
    pub ended_at: Option<Time>,
    /// `INVITE` or `TRANSFER_RESPONSIBILITY`.
    #[serde(default)]
    pub action: String,
    /// For a billing transfer invitation: the transfer's `rt-...` ID.
    #[serde(default)]
    pub transfer_id: Option<String>,
}

/// A billing (responsibility) transfer as the control API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferInfo {
    /// `rt-...`.
    pub id: String,
    /// Name.
    pub name: String,
    /// `REQUESTED`, `ACCEPTED`, `DECLINED`, `CANCELED`, `EXPIRED` or `WITHDRAWN`.
    pub status: String,
    /// The payer's (bill-transfer) organization.
    pub target_organization_id: String,
    /// The payer's management account.
    pub target_account_id: String,
    /// The customer's (bill-source) management account, once known.
    pub source_account_id: Option<String>,
    /// The customer's organization, once accepted.
    pub source_organization_id: Option<String>,
    /// When the transfer starts (emulator clock).
    pub start: Time,
    /// When it ends, once withdrawn.
    pub end: Option<Time>,
    /// The invitation's handshake.
    pub handshake_id: String,
    /// Whether the payer manages the customer's bill now.
    pub in_effect: bool,
}

impl TransferInfo {
    /// The report of `t` at emulator time `now`.
    pub fn new(t: &Transfer, now: Time) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            status: t.status.as_str().into(),
            target_organization_id: t.target_organization_id.clone(),
            target_account_id: t.target_account_id.clone(),
            source_account_id: t.source_account_id.clone(),
            source_organization_id: t.source_organization_id.clone(),
            start: t.start,
            end: t.end,
            handshake_id: t.handshake_id.clone(),
            in_effect: t.in_effect(now),
        }
    }
}

impl From<&Handshake> for HandshakeInfo {
    fn from(h: &Handshake) -> Self {
        Self {
            id: h.id.clone(),
            arn: h.arn(),
            organization_id: h.organization_id.clone(),
            target_type: h.target.type_name().into(),
            target_id: h.target.id().into(),
            state: h.state.as_str().into(),
            notes: h.notes.clone(),
            tags: h.tags.iter().cloned().collect(),
            requested_at: h.requested_at,
            expires_at: h.expires_at,
            ended_at: h.ended_at,
            action: h.action().into(),
            transfer_id: h.transfer.as_ref().map(|t| t.transfer_id.clone()),
        }
    }
}

/// An account as the control API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// 12-digit ID.
    pub id: String,
    /// Root email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Its organization, if any.
    pub organization_id: Option<String>,
    /// Whether it is the management account of its organization.
    pub is_management_account: bool,
    /// `INVITED` / `CREATED`.
    pub joined_method: Option<String>,
    /// When it joined.
    pub joined_at: Option<Time>,
    /// Tags set by the organization.
    pub tags: BTreeMap<String, String>,
}

impl AccountInfo {
    /// Builds the view of `a` in `state`.
    pub fn new(a: &Account, state: &State) -> Self {
        let is_management_account = a
            .organization_id
            .as_ref()
            .and_then(|o| state.organizations.get(o))
            .is_some_and(|o| o.management_account_id == a.id);
        Self {
            id: a.id.clone(),
            email: a.email.clone(),
            name: a.name.clone(),
            organization_id: a.organization_id.clone(),
            is_management_account,
            joined_method: a.joined_method.clone(),
            joined_at: a.joined_at,
            tags: a.tags.clone(),
        }
    }
}

/// An organization as the control API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationInfo {
    /// `o-...`.
    pub id: String,
    /// Organization ARN.
    pub arn: String,
    /// Management account ID.
    pub management_account_id: String,
    /// `ALL` / `CONSOLIDATED_BILLING`.
    pub feature_set: String,
    /// Account quota.
    pub account_quota: u32,
    /// All member account IDs (management account included).
    pub member_ids: Vec<String>,
}

impl OrganizationInfo {
    /// Builds the view of `o` in `state`.
    pub fn new(o: &Organization, state: &State) -> Self {
        Self {
            id: o.id.clone(),
            arn: o.arn(),
            management_account_id: o.management_account_id.clone(),
            feature_set: o.feature_set.clone(),
            account_quota: o.account_quota,
            member_ids: state.members(&o.id).iter().map(|a| a.id.clone()).collect(),
        }
    }
}

/// A role as the control API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleInfo {
    /// Owning account.
    pub account_id: String,
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// Trust policy JSON text.
    pub trust_policy: String,
    /// MaxSessionDuration in seconds.
    #[serde(default)]
    pub max_session_duration: i64,
}

impl From<&Role> for RoleInfo {
    fn from(r: &Role) -> Self {
        Self {
            account_id: r.account_id.clone(),
            name: r.name.clone(),
            arn: r.arn(),
            trust_policy: r.trust_policy.clone(),
            max_session_duration: r.max_session_duration,
        }
    }
}

/// A snapshot of the whole emulated world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// Emulator clock.
    pub now: Time,
    /// Organizations.
    pub organizations: Vec<OrganizationInfo>,
    /// Accounts.
    pub accounts: Vec<AccountInfo>,
    /// Handshakes still visible (ended ones disappear after 30 days).
    pub handshakes: Vec<HandshakeInfo>,
    /// Roles.
    pub roles: Vec<RoleInfo>,
}

impl StateSnapshot {
    /// Snapshot of `state` at `now`.
    pub fn new(state: &State, now: Time) -> Self {
        let mut handshakes: Vec<&Handshake> = state.handshakes.values().collect();
        handshakes.sort_by_key(|h| h.seq);
        Self {
            now,
            organizations: state
                .organizations
                .values()
                .map(|o| OrganizationInfo::new(o, state))
                .collect(),
            accounts: state.accounts.values().map(|a| AccountInfo::new(a, state)).collect(),
            handshakes: handshakes.into_iter().map(HandshakeInfo::from).collect(),
            roles: state.roles.values().map(RoleInfo::from).collect(),
        }
    }
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Sleep `latency_ms` (then carry on normally).
    Latency,
    /// Answer HTTP 500 (ServiceException / InternalFailure).
    Http500,
    /// Answer TooManyRequestsException (Organizations) / Throttling (STS, IAM).
    Throttle,
    /// Close the TCP connection without any response.
    DropConnection,
    /// Answer the error `error` (its code, `Reason` and message) instead: any exception of the
    /// service model, e.g. HandshakeConstraintViolationException with a `Reason` the
    /// emulator's own rules never produce.
    Error,
}

/// The error a [`FaultKind::Error`] fault answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultError {
    /// The error code (exception shape name), e.g. `HandshakeConstraintViolationException`.
    pub code: String,
    /// The exception's `Reason` member, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The message (default: the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP status (default 400).
    #[serde(default = "status_400")]
    pub status: u16,
}

fn status_400() -> u16 {
    400
}

/// When a fault applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultWhen {
    /// Before the operation executes: the operation has no effect.
    #[default]
    Before,
    /// After the operation executed: its effect stays, but the reply is replaced (e.g. the
    /// invitation was sent but the caller sees a 500 or a dropped connection).
    After,
}

/// An injected fault for the next `count` calls of `operation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Operation name (`InviteAccountToOrganization`, `AssumeRole`, ...) or `*` for all.
    pub operation: String,
    /// What happens.
    pub kind: FaultKind,
    /// How many calls it applies to (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Delay for `latency` faults (milliseconds).
    #[serde(default)]
    pub latency_ms: u64,
    /// Before (default) or after the operation executes.
    #[serde(default)]
    pub when: FaultWhen,
    /// The error an `error` fault answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FaultError>,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault of `kind` for the next call of `operation`, applied before it executes.
    pub fn new(operation: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            operation: operation.into(),
            kind,
            count: 1,
            latency_ms: 0,
            when: FaultWhen::Before,
            error: None,
        }
    }

    /// A fault answering the error `code` with `reason` (HTTP 400) for the next call of
    /// `operation`, before it executes.
    pub fn error(operation: impl Into<String>, code: &str, reason: Option<&str>, message: &str) -> Self {
        let mut f = Self::new(operation, FaultKind::Error);
        f.error = Some(FaultError {
            code: code.to_string(),
            reason: reason.map(str::to_string),
            message: Some(message.to_string()),
            status: 400,
        });
        f
    }

    /// Sets the number of calls it applies to.
    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    /// Applies it after the operation executed.
    pub fn after(mut self) -> Self {
        self.when = FaultWhen::After;
        self
    }

    /// Sets the latency in milliseconds.
    pub fn latency_ms(mut self, ms: u64) -> Self {
        self.latency_ms = ms;
        self
    }
}

/// One AWS call the emulator received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Sequence number (from 1).
    pub seq: u64,
    /// Emulator clock when received.
    pub time: Time,
    /// `organizations`, `sts`, `iam` or `unknown`.
    pub service: String,
    /// Operation name (`?` if it could not be determined).
    pub operation: String,
    /// The access key ID of the request, if signed.
    pub access_key_id: Option<String>,
    /// The account the caller acted as.
    pub caller_account_id: Option<String>,
    /// Target account of the operation (Target.Id of an ACCOUNT invitation, AccountId).
    pub target_account_id: Option<String>,
    /// Target email of an EMAIL invitation.
    pub target_email: Option<String>,
    /// Handshake ID from the request or the response.
    pub handshake_id: Option<String>,
    /// Role ARN / name for STS / IAM calls.
    pub role: Option<String>,
    /// `ok` or the error code returned.
    pub outcome: String,
    /// HTTP status returned (0 if the connection was dropped).
    pub http_status: u16,
    /// Whether the operation took effect (false for faults applied before it ran and for errors).
    pub executed: bool,
    /// The fault applied, if any (`http500`, `drop_connection_after`, ...).
    pub fault: Option<String>,
}

/// Body of `POST /_emulator/clock/advance`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdvanceClock {
    /// Seconds to move the clock forward.
    pub seconds: i64,
}

/// The emulator clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClockInfo {
    /// Current emulator time.
    pub now: Time,
    /// Offset from the wall clock in seconds.
    pub offset_seconds: i64,
}

/// Body of `PUT /_emulator/rate-limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    /// Whether API rate limits are enforced.
    pub enabled: bool,
}

/// Body of `PUT /_emulator/organizations/{id}/quota`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountQuota {
    /// New account quota.
    pub account_quota: u32,
}

/// Optional body of the accept/decline-invite endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RespondToInvite {
    /// Only consider invitations from this organization.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// For `/handshakes/{id}/...`: the account responding (needed only for EMAIL
    /// invitations whose email matches no account... or to act as another account).
    #[serde(default)]
    pub account_id: Option<String>,
}

/// Error body of the control API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlErrorBody {
    /// Error code: an AWS error shape name when the model refused the action, or
    /// `NotFound` / `BadRequest`.
    pub error: String,
    /// Message.
    pub message: String,
    /// AWS `Reason`, if any.
    #[serde(default)]
    pub reason: Option<String>,
}
