//! The pure decision for one BillingTransfer (docs/billing-transfer.md): given the billing
//! profile, the transfers AWS lists for the profile's organization (inbound: the payer's side)
//! and the clock, what to do in AWS and where the transfer stands. No I/O here.
//!
//! Dates follow AWS: a transfer starts at 00:00 UTC on the first day of the next month or the
//! one after; the customer must accept at least 24 h before the start (the invitation expires
//! then); a withdrawal ends it at 23:59:59 UTC on the last day of the current or next month of
//! the transfer.

use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{self as cond};
use crate::api::{
    BillingTransferSpec, BillingTransferStatus, HandshakeStatus, Month, TransferDeletionPolicy, TransferPhase,
    TransferRecord,
};
use crate::reason::Reason;
pub use crate::transfer::{AwsTransfer, AwsTransferStatus};

/// The invitation went out (True) or why not (False).
pub const INVITATION_SENT: &str = "InvitationSent";
/// The customer accepted the transfer.
pub const TRANSFER_ACCEPTED: &str = "TransferAccepted";
/// The payer manages the customer's bill now.
pub const IN_EFFECT: &str = "InEffect";

/// How long before its start a transfer invitation must be accepted.
pub const ACCEPT_LEAD: SignedDuration = SignedDuration::from_hours(24);
/// Requeue while waiting for something the operator does not watch.
const SLOW_REQUEUE: Duration = Duration::from_secs(300);
/// How often a transfer stalled on another transfer's claim looks again (the owner's release
/// wakes it at once; this covers an owner gone without releasing).
const CLAIM_REQUEUE: Duration = Duration::from_secs(300);

/// The billing profile as seen from one transfer.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferProfile {
    /// No BillingProfile of that name.
    Missing,
    /// The profile does not allow the transfer's namespace.
    NotAllowed { namespace: String },
    /// The profile cannot reach its organization. `message` is its reason only: the profile's
    /// detail is for its administrators, not for the transfer's namespace (docs/security.md).
    NotReady { message: String },
    /// The profile is Ready, but another BillingTransfer owns this customer in its
    /// organization (docs/security.md, "Account claims"): nothing about it is read or done.
    Claimed,
    /// Ready.
    Ready,
}

/// Everything the decision looks at.
#[derive(Debug, Clone)]
pub struct TransferObservation<'a> {
    /// The resource's spec.
    pub spec: &'a BillingTransferSpec,
    /// The resource's status as stored.
    pub status: &'a BillingTransferStatus,
    /// The profile.
    pub profile: TransferProfile,
    /// The transfer recorded in status, as the latest sweep listed it (None: not listed).
    pub recorded: Option<AwsTransfer>,
    /// With nothing recorded: a requested or accepted transfer from this organization to this
    /// customer (one an earlier run sent and did not record): adopted, never sent twice.
    pub adoptable: Option<AwsTransfer>,
    /// The resource is being deleted.
    pub deleting: bool,
    /// Now.
    pub now: Timestamp,
}

/// What to do in AWS (at most one call per reconcile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferAction {
    /// InviteOrganizationToTransferResponsibility for `start`.
    Send { start: Month },
    /// UpdateResponsibilityTransfer with the spec's name.
    Rename { transfer_id: String, name: String },
    /// TerminateResponsibilityTransfer ending at the end of `end`.
    Withdraw { transfer_id: String, end: Month },
    /// CancelHandshake of the unanswered invitation.
    Cancel { handshake_id: String },
}

/// Stable reasons of a transfer's conditions (CamelCase; an API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferReason {
    /// The billing profile does not exist.
    BillingProfileNotFound,
    /// The billing profile does not allow the namespace.
    BillingProfileNotAllowed,
    /// The billing profile is not ready.
    BillingProfileNotReady,
    /// An invitation is about to be sent.
    SendingInvitation,
    /// The start month cannot be invited for yet (more than two months ahead).
    StartMonthNotYetOpen,
    /// The start month's acceptance deadline has passed.
    StartMonthTooEarly,
    /// The customer has not answered.
    AwaitingAcceptance,
    /// The customer accepted; the transfer starts later.
    Accepted,
    /// The payer manages the bill.
    InEffect,
    /// Withdrawn; ends at the end month.
    Withdrawn,
    /// The transfer ended.
    Ended,
    /// The customer declined.
    Declined,
    /// The invitation expired unanswered.
    Expired,
    /// The invitation was canceled outside the operator.
    Canceled,
    /// No invitations left.
    MaxAttemptsReached,
    /// endMonth cannot be applied (already past).
    EndMonthTooEarly,
    /// endMonth waits until AWS allows it.
    EndMonthNotYetOpen,
    /// The recorded transfer is gone from AWS.
    TransferNotFound,
    /// AWS refused the invitation (the message names AWS's reason).
    InvitationRefused,
    /// Another BillingTransfer owns this customer for the profile's organization.
    AccountClaimed,
}

impl TransferReason {
    /// The condition reason.
    pub fn reason(self) -> Reason {
        match self {
            Self::BillingProfileNotFound => Reason::BillingProfileNotFound,
            Self::BillingProfileNotAllowed => Reason::BillingProfileNotAllowed,
            Self::BillingProfileNotReady => Reason::BillingProfileNotReady,
            Self::SendingInvitation => Reason::SendingInvitation,
            Self::StartMonthNotYetOpen => Reason::StartMonthNotYetOpen,
            Self::StartMonthTooEarly => Reason::StartMonthTooEarly,
            Self::AwaitingAcceptance => Reason::AwaitingAcceptance,
            Self::Accepted => Reason::Accepted,
            Self::InEffect => Reason::InEffect,
            Self::Withdrawn => Reason::Withdrawn,
            Self::Ended => Reason::Ended,
            Self::Declined => Reason::Declined,
            Self::Expired => Reason::Expired,
            Self::Canceled => Reason::Canceled,
            Self::MaxAttemptsReached => Reason::MaxAttemptsReached,
            Self::EndMonthTooEarly => Reason::EndMonthTooEarly,
            Self::EndMonthNotYetOpen => Reason::EndMonthNotYetOpen,
            Self::TransferNotFound => Reason::TransferNotFound,
            Self::InvitationRefused => Reason::InvitationRefused,
            Self::AccountClaimed => Reason::AccountClaimed,
        }
    }

    /// The reason as written in conditions.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BillingProfileNotFound => "BillingProfileNotFound",
            Self::BillingProfileNotAllowed => "BillingProfileNotAllowed",
            Self::BillingProfileNotReady => "BillingProfileNotReady",
            Self::SendingInvitation => "SendingInvitation",
            Self::StartMonthNotYetOpen => "StartMonthNotYetOpen",
            Self::StartMonthTooEarly => "StartMonthTooEarly",
            Self::AwaitingAcceptance => "AwaitingAcceptance",
            Self::Accepted => "Accepted",
            Self::InEffect => "InEffect",
            Self::Withdrawn => "Withdrawn",
            Self::Ended => "Ended",
            Self::Declined => "Declined",
            Self::Expired => "Expired",
            Self::Canceled => "Canceled",
            Self::MaxAttemptsReached => "MaxAttemptsReached",
            Self::EndMonthTooEarly => "EndMonthTooEarly",
            Self::EndMonthNotYetOpen => "EndMonthNotYetOpen",
            Self::TransferNotFound => "TransferNotFound",
            Self::InvitationRefused => "InvitationRefused",
            Self::AccountClaimed => "AccountClaimed",
        }
    }
}

/// Where a transfer stands: each value decides the phase and the kstatus conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferStanding {
    /// The operator has work of its own to do (send, wait for the profile or the month
    /// window): Reconciling.
    Working { reason: TransferReason, message: String },
    /// Waiting for the customer: neither Reconciling nor Stalled.
    Invited { message: String },
    /// Accepted (and maybe withdrawn, or ended): Ready; `in_effect` says whether the payer
    /// manages the bill now.
    Agreed {
        reason: TransferReason,
        in_effect: bool,
        message: String,
    },
    /// Nothing progresses without a change by a person: Stalled.
    Stalled { reason: TransferReason, message: String },
}

impl TransferStanding {
    /// The phase shown to humans.
    pub fn phase(&self) -> TransferPhase {
        match self {
            Self::Working { .. } => TransferPhase::Pending,
            Self::Invited { .. } => TransferPhase::Invited,
            Self::Agreed { reason, in_effect, .. } => match (reason, in_effect) {
                (TransferReason::Withdrawn | TransferReason::Ended, _) => TransferPhase::Withdrawn,
                (_, true) => TransferPhase::InEffect,
                (_, false) => TransferPhase::Accepted,
            },
            Self::Stalled { .. } => TransferPhase::Failed,
        }
    }
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferPlan {
    /// The AWS call to make, if any.
    pub action: Option<TransferAction>,
    /// Where the transfer stands (before the action's result is known).
    pub standing: TransferStanding,
    /// The transfer to record (the recorded one as AWS shows it now, or the adopted one).
    pub transfer: Option<AwsTransfer>,
    /// The month of the current (or next) invitation.
    pub start_month: Option<Month>,
    /// When to look again (besides the sweep's wake-ups).
    pub requeue_after: Option<Duration>,
    /// Deletion may finish (the finalizer can go).
    pub release: bool,
    /// `transfer` is one an earlier run sent and did not record (counts as an attempt).
    pub adopted: bool,
}

/// The last moment a transfer starting at `start` can be accepted ([`ACCEPT_LEAD`] before it);
/// the beginning of time for a start that early (AWS's answer may hold any timestamp:
/// `Timestamp - SignedDuration` panics on overflow).
pub fn acceptance_deadline(start: Timestamp) -> Timestamp {
    start.checked_sub(ACCEPT_LEAD).unwrap_or(Timestamp::MIN)
}

/// 00:00:00 UTC on the first day of `m` (the Unix epoch for a month jiff cannot represent).
pub fn month_start(m: Month) -> Timestamp {
    i16::try_from(m.year)
        .ok()
        .and_then(|year| Date::new(year, m.month as i8, 1).ok())
        .and_then(|d| d.to_zoned(TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// 23:59:59 UTC on the last day of `m`.
pub fn month_end(m: Month) -> Timestamp {
    let next = month_start(m.plus(1));
    next.checked_sub(SignedDuration::from_secs(1)).unwrap_or(next)
}

/// The month `t` falls in (UTC).
pub fn month_of(t: Timestamp) -> Month {
    let d = t.to_zoned(TimeZone::UTC).date();
    Month {
        year: i32::from(d.year()),
        month: d.month() as u8,
    }
}

/// Whether AWS would take `m` as a start now: the next month or the one after, with the
/// acceptance deadline still ahead.
fn start_window(m: Month, now: Timestamp) -> Result<(), TransferReason> {
    let this = month_of(now);
    if m <= this || now >= acceptance_deadline(month_start(m)) {
        return Err(TransferReason::StartMonthTooEarly);
    }
    if m > this.plus(2) {
        return Err(TransferReason::StartMonthNotYetOpen);
    }
    Ok(())
}

/// The earliest month AWS takes as a start now (the next month, unless its deadline passed).
pub fn next_possible_start(now: Timestamp) -> Month {
    let next = month_of(now).plus(1);
    if now < acceptance_deadline(month_start(next)) {
        next
    } else {
        next.plus(1)
    }
}

fn until(t: Timestamp, now: Timestamp) -> Duration {
    let secs = t.duration_since(now).as_secs().max(1);
    Duration::from_secs(secs.unsigned_abs()).min(SLOW_REQUEUE * 12)
}

fn customer(spec: &BillingTransferSpec) -> String {
    match (&spec.management_account_id, &spec.email) {
        (Some(id), _) => format!("management account {id}"),
        (None, Some(e)) => format!("management account <{e}>"),
        (None, None) => "the customer".into(),
    }
}

/// Decides the next step for one BillingTransfer.
pub fn decide_transfer(obs: &TransferObservation<'_>) -> TransferPlan {
    let mut plan = TransferPlan {
        action: None,
        standing: TransferStanding::Working {
            reason: TransferReason::SendingInvitation,
            message: String::new(),
        },
        transfer: None,
        start_month: obs.status.start_month.as_deref().and_then(|m| Month::parse(m).ok()),
        requeue_after: None,
        release: false,
        adopted: false,
    };
    let profile = &obs.spec.billing_profile;
    let waiting = |reason, message: String| TransferStanding::Working { reason, message };
    match &obs.profile {
        TransferProfile::Missing => {
            plan.standing = waiting(
                TransferReason::BillingProfileNotFound,
                format!("BillingProfile {profile:?} does not exist; the transfer waits until it is created"),
            );
            plan.release = obs.deleting;
            return plan;
        }
        TransferProfile::NotAllowed { namespace } => {
            plan.standing = TransferStanding::Stalled {
                reason: TransferReason::BillingProfileNotAllowed,
                message: format!(
                    "BillingProfile {profile:?} does not allow billing transfers from namespace {namespace:?}; ask its \
                     owner to add the namespace to spec.allowedNamespaces"
                ),
            };
            plan.release = obs.deleting;
            return plan;
        }
        TransferProfile::Claimed => {
            plan.standing = TransferStanding::Stalled {
                reason: TransferReason::AccountClaimed,
                message: format!(
                    "Another BillingTransfer already owns this customer for BillingProfile {profile:?}'s organization; \
                     this transfer sends, adopts, withdraws and reads nothing about it"
                ),
            };
            // The owner's release wakes it; an owner gone without releasing is noticed here.
            plan.requeue_after = Some(CLAIM_REQUEUE);
            // Deleted, it touches nothing in AWS: the transfer is the owner's.
            plan.release = obs.deleting;
            return plan;
        }
        TransferProfile::NotReady { message } => {
            plan.standing = waiting(
                TransferReason::BillingProfileNotReady,
                format!("BillingProfile {profile:?} is not ready ({message}); ask its administrator"),
            );
            // Deleting waits for the profile, unless nothing in AWS needs touching.
            plan.release = obs.deleting && obs.status.transfer.is_none();
            return plan;
        }
        TransferProfile::Ready => {}
    }

    let recorded_id = obs.status.transfer.as_ref().map(|t| t.id.clone());
    let current = match (&recorded_id, &obs.recorded, &obs.adoptable) {
        (Some(_), Some(seen), _) => Some(seen.clone()),
        (Some(id), None, _) => {
            if obs.deleting {
                plan.release = true;
                return plan;
            }
            plan.standing = TransferStanding::Stalled {
                reason: TransferReason::TransferNotFound,
                message: format!(
                    "AWS no longer lists transfer {id} for the billing profile's organization; delete this resource \
                     and create a new one to invite again"
                ),
            };
            return plan;
        }
        (None, _, Some(adopt)) => {
            plan.adopted = true;
            Some(adopt.clone())
        }
        (None, _, None) => None,
    };

    if obs.deleting {
        return decide_deletion(obs, plan, current);
    }

    let Some(t) = current else {
        return decide_send(obs, plan, obs.spec.start_month.as_str());
    };
    plan.transfer = Some(t.clone());
    plan.start_month = Some(month_of(t.start));
    let who = customer(obs.spec);
    match t.status {
        AwsTransferStatus::Requested => {
            let deadline = acceptance_deadline(t.start);
            if t.name != obs.spec.name {
                plan.action = Some(TransferAction::Rename {
                    transfer_id: t.id.clone(),
                    name: obs.spec.name.clone(),
                });
            }
            plan.standing = TransferStanding::Invited {
                message: format!(
                    "Waiting for {who} to accept the billing transfer invitation in the AWS Billing console (Billing \
                     transfers, Outbound billing) before {deadline}; the transfer would start {}",
                    t.start
                ),
            };
            plan.requeue_after = Some(until(deadline, obs.now));
        }
        AwsTransferStatus::Accepted => decide_accepted(obs, &mut plan, &t, &who),
        AwsTransferStatus::Withdrawn => {
            let end = t.end.unwrap_or(t.start);
            let in_effect = t.start <= obs.now && obs.now <= end;
            let ended = obs.now > end;
            plan.standing = TransferStanding::Agreed {
                reason: if ended {
                    TransferReason::Ended
                } else {
                    TransferReason::Withdrawn
                },
                in_effect,
                message: if ended {
                    format!("The transfer was withdrawn and ended {end}; {who} pays its own bill again")
                } else {
                    format!("The transfer is withdrawn and ends {end}")
                },
            };
            if !ended {
                plan.requeue_after = Some(until(if in_effect { end } else { t.start }, obs.now));
            }
        }
        AwsTransferStatus::Declined | AwsTransferStatus::Expired | AwsTransferStatus::Canceled => {
            return decide_ended_invitation(obs, plan, &t, &who);
        }
    }
    plan
}

fn decide_accepted(obs: &TransferObservation<'_>, plan: &mut TransferPlan, t: &AwsTransfer, who: &str) {
    let in_effect = t.start <= obs.now;
    plan.standing = TransferStanding::Agreed {
        reason: if in_effect {
            TransferReason::InEffect
        } else {
            TransferReason::Accepted
        },
        in_effect,
        message: if in_effect {
            format!(
                "The payer manages and pays the consolidated bill of {who}'s organization since {}",
                t.start
            )
        } else {
            format!("{who} accepted; the payer takes over the bill from {}", t.start)
        },
    };
    if !in_effect {
        plan.requeue_after = Some(until(t.start, obs.now));
    }
    if let Some(end) = obs.spec.end_month.as_deref().and_then(|m| Month::parse(m).ok()) {
        let base = month_of(obs.now.max(t.start));
        if end < base {
            plan.standing = TransferStanding::Stalled {
                reason: TransferReason::EndMonthTooEarly,
                message: format!(
                    "endMonth {end} has passed: AWS ends a transfer at the end of the current or the next month \
                     ({base} or {}); the transfer stays in place",
                    base.plus(1)
                ),
            };
            return;
        }
        if end > base.plus(1) {
            plan.requeue_after = Some(until(month_start(end.plus(-1)), obs.now));
            if let TransferStanding::Agreed { message, .. } = &mut plan.standing {
                message.push_str(&format!(
                    "; it will be withdrawn to end {end} once AWS allows (from {})",
                    end.plus(-1)
                ));
            }
            return;
        }
        plan.action = Some(TransferAction::Withdraw {
            transfer_id: t.id.clone(),
            end,
        });
        return;
    }
    if t.name != obs.spec.name {
        plan.action = Some(TransferAction::Rename {
            transfer_id: t.id.clone(),
            name: obs.spec.name.clone(),
        });
    }
}

fn decide_ended_invitation(
    obs: &TransferObservation<'_>,
    mut plan: TransferPlan,
    t: &AwsTransfer,
    who: &str,
) -> TransferPlan {
    let policy = &obs.spec.reinvite;
    let (reason, again, what) = match t.status {
        AwsTransferStatus::Declined => (TransferReason::Declined, policy.on_declined, format!("{who} declined")),
        AwsTransferStatus::Expired => (
            TransferReason::Expired,
            policy.on_expired,
            format!("{who} did not accept before {}", acceptance_deadline(t.start)),
        ),
        _ => (
            TransferReason::Canceled,
            false,
            "the invitation was canceled outside the operator".to_string(),
        ),
    };
    if !again {
        plan.standing = TransferStanding::Stalled {
            reason,
            message: format!(
                "{what} and spec.reinvite does not invite again; delete this resource and create a new one to invite \
                 again"
            ),
        };
        return plan;
    }
    if let Some(newer) = obs.adoptable.as_ref().filter(|a| a.id != t.id) {
        // An earlier run re-invited and did not record it: adopt, never send twice.
        let mut adopted = obs.clone();
        adopted.recorded = Some(newer.clone());
        adopted.adoptable = None;
        let mut next = decide_transfer(&TransferObservation {
            status: &BillingTransferStatus {
                transfer: Some(record_of(newer)),
                ..obs.status.clone()
            },
            ..adopted
        });
        next.adopted = true;
        return next;
    }
    if obs.status.attempts >= policy.max_attempts {
        plan.standing = TransferStanding::Stalled {
            reason: TransferReason::MaxAttemptsReached,
            message: format!(
                "{what}, and all {} invitations allowed by spec.reinvite.maxAttempts were sent",
                policy.max_attempts
            ),
        };
        return plan;
    }
    // Invite again for the next possible month, never earlier than spec.startMonth.
    let spec_month = Month::parse(&obs.spec.start_month).unwrap_or_else(|_| month_of(obs.now));
    let next = next_possible_start(obs.now)
        .max(spec_month)
        .max(month_of(t.start).plus(1));
    plan.transfer = None;
    decide_send(obs, plan, &next.to_string())
}

fn decide_send(obs: &TransferObservation<'_>, mut plan: TransferPlan, month: &str) -> TransferPlan {
    let Ok(m) = Month::parse(month) else {
        plan.standing = TransferStanding::Stalled {
            reason: TransferReason::StartMonthTooEarly,
            message: format!("startMonth {month:?} is not a month written as YYYY-MM"),
        };
        return plan;
    };
    plan.start_month = Some(m);
    if obs.status.attempts >= obs.spec.reinvite.max_attempts {
        plan.standing = TransferStanding::Stalled {
            reason: TransferReason::MaxAttemptsReached,
            message: format!(
                "all {} invitations allowed by spec.reinvite.maxAttempts were sent",
                obs.spec.reinvite.max_attempts
            ),
        };
        return plan;
    }
    match start_window(m, obs.now) {
        Ok(()) => {
            plan.action = Some(TransferAction::Send { start: m });
            plan.standing = TransferStanding::Working {
                reason: TransferReason::SendingInvitation,
                message: format!(
                    "Sending a billing transfer invitation to {} for {m}",
                    customer(obs.spec)
                ),
            };
        }
        Err(TransferReason::StartMonthNotYetOpen) => {
            let opens = month_start(m.plus(-2));
            plan.standing = TransferStanding::Working {
                reason: TransferReason::StartMonthNotYetOpen,
                message: format!(
                    "AWS accepts a start in the next month or the one after; the invitation for {m} goes out from {opens}"
                ),
            };
            plan.requeue_after = Some(until(opens, obs.now));
        }
        Err(reason) => {
            plan.standing = TransferStanding::Stalled {
                reason,
                message: format!(
                    "startMonth {m} is too early: AWS needs the customer to accept at least 24 hours before the start \
                     ({}); set startMonth to {} or later",
                    acceptance_deadline(month_start(m)),
                    next_possible_start(obs.now)
                ),
            };
        }
    }
    plan
}

fn decide_deletion(
    obs: &TransferObservation<'_>,
    mut plan: TransferPlan,
    current: Option<AwsTransfer>,
) -> TransferPlan {
    let policy = obs.spec.deletion_policy;
    plan.release = true;
    let Some(t) = current else { return plan };
    match (policy, t.status) {
        (TransferDeletionPolicy::Orphan, _) => {}
        (_, AwsTransferStatus::Requested) => {
            if let Some(h) = &t.handshake_id {
                plan.action = Some(TransferAction::Cancel {
                    handshake_id: h.clone(),
                });
            }
        }
        (TransferDeletionPolicy::Withdraw, AwsTransferStatus::Accepted) => {
            plan.action = Some(TransferAction::Withdraw {
                transfer_id: t.id.clone(),
                end: month_of(obs.now.max(t.start)),
            });
        }
        _ => {}
    }
    plan.transfer = Some(t);
    plan
}

/// The status record of an AWS transfer.
pub fn record_of(t: &AwsTransfer) -> TransferRecord {
    TransferRecord {
        id: t.id.clone(),
        arn: t.arn.clone(),
        status: t.status.as_str().to_owned(),
        start: Some(Time(t.start)),
        end: t.end.map(Time),
        name: Some(t.name.clone()),
    }
}

/// The handshake state matching a transfer status.
fn handshake_state(s: AwsTransferStatus) -> &'static str {
    match s {
        AwsTransferStatus::Requested => "OPEN",
        AwsTransferStatus::Accepted | AwsTransferStatus::Withdrawn => "ACCEPTED",
        AwsTransferStatus::Declined => "DECLINED",
        AwsTransferStatus::Canceled => "CANCELED",
        AwsTransferStatus::Expired => "EXPIRED",
    }
}

/// Writes what `plan` says into `status`: the transfer, the phase and every condition, all at
/// `generation`. kstatus: `Working` is Reconciling; waiting for the customer is neither
/// Reconciling nor Stalled and carries no Ready condition (Flux reads Ready=False as
/// InProgress); an accepted transfer is Ready; `Stalled` is Stalled.
pub fn write_status(status: &mut BillingTransferStatus, plan: &TransferPlan, generation: Option<i64>, now: Timestamp) {
    if let Some(t) = &plan.transfer {
        status.transfer = Some(record_of(t));
        if let Some(h) = &t.handshake_id {
            status.handshake = Some(HandshakeStatus {
                id: h.clone(),
                arn: None,
                state: handshake_state(t.status).to_owned(),
                requested_at: status
                    .handshake
                    .as_ref()
                    .filter(|old| &old.id == h)
                    .and_then(|old| old.requested_at.clone()),
                expires_at: Some(Time(acceptance_deadline(t.start))),
            });
        }
    }
    status.start_month = plan.start_month.map(|m| m.to_string());
    status.phase = Some(plan.standing.phase());
    status.observed_generation = generation;
    let c = &mut status.conditions;
    let sent = status.transfer.is_some();
    let (reason, message) = match &plan.standing {
        TransferStanding::Working { reason, message }
        | TransferStanding::Agreed { reason, message, .. }
        | TransferStanding::Stalled { reason, message } => (reason.reason(), message.as_str()),
        TransferStanding::Invited { message } => (Reason::AwaitingAcceptance, message.as_str()),
    };
    cond::set(
        c,
        INVITATION_SENT,
        sent,
        if sent { Reason::Sent } else { reason },
        message,
        generation,
        now,
    );
    let (accepted, in_effect) = match &plan.standing {
        TransferStanding::Agreed { in_effect, .. } => (true, *in_effect),
        _ => (false, false),
    };
    cond::set(c, TRANSFER_ACCEPTED, accepted, reason, message, generation, now);
    cond::set(c, IN_EFFECT, in_effect, reason, message, generation, now);
    let (reconciling, stalled) = match &plan.standing {
        TransferStanding::Working { .. } => (true, false),
        TransferStanding::Stalled { .. } => (false, true),
        _ => (false, false),
    };
    let idle = if stalled { reason } else { Reason::Idle };
    cond::set(
        c,
        cond::RECONCILING,
        reconciling,
        if reconciling { reason } else { idle },
        message,
        generation,
        now,
    );
    cond::set(
        c,
        cond::STALLED,
        stalled,
        if stalled { reason } else { Reason::Progressing },
        message,
        generation,
        now,
    );
    match &plan.standing {
        TransferStanding::Invited { .. } => cond::remove(c, cond::READY),
        TransferStanding::Agreed { .. } => cond::set(c, cond::READY, true, reason, message, generation, now),
        _ => cond::set(c, cond::READY, false, reason, message, generation, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{TransferRecord, TransferReinvitePolicy};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// 2026-11-10T12:00:00Z: the next possible starts are 2026-12 and 2027-01.
    fn now() -> Timestamp {
        ts("2026-11-10T12:00:00Z")
    }

    fn spec() -> BillingTransferSpec {
        serde_json::from_value(serde_json::json!({
            "billingProfile": "payer-main",
            "managementAccountId": "444455556666",
            "name": "Customer A",
            "startMonth": "2027-01"
        }))
        .unwrap()
    }

    fn aws(status: AwsTransferStatus) -> AwsTransfer {
        AwsTransfer {
            id: "rt-aaaaaaaaaaaa".into(),
            arn: None,
            name: "Customer A".into(),
            status,
            start: ts("2027-01-01T00:00:00Z"),
            end: None,
            handshake_id: Some("h-aaaaaaaaaa".into()),
            source_account_id: Some("444455556666".into()),
            source_email: None,
        }
    }

    fn recorded_status(attempts: u32) -> BillingTransferStatus {
        BillingTransferStatus {
            transfer: Some(TransferRecord {
                id: "rt-aaaaaaaaaaaa".into(),
                arn: None,
                status: "REQUESTED".into(),
                start: None,
                end: None,
                name: None,
            }),
            attempts,
            ..BillingTransferStatus::default()
        }
    }

    fn obs<'a>(spec: &'a BillingTransferSpec, status: &'a BillingTransferStatus) -> TransferObservation<'a> {
        TransferObservation {
            spec,
            status,
            profile: TransferProfile::Ready,
            recorded: None,
            adoptable: None,
            deleting: false,
            now: now(),
        }
    }

    #[test]
    fn month_arithmetic() {
        let jan = Month::parse("2027-01").unwrap();
        assert_eq!(month_start(jan), ts("2027-01-01T00:00:00Z"));
        assert_eq!(month_end(jan), ts("2027-01-31T23:59:59Z"));
        assert_eq!(month_end(Month::parse("2028-02").unwrap()), ts("2028-02-29T23:59:59Z"));
        assert_eq!(month_of(ts("2026-12-31T23:59:59Z")).to_string(), "2026-12");
        assert_eq!(next_possible_start(now()).to_string(), "2026-12");
        // The acceptance deadline of December is 2026-11-30T00:00Z.
        assert_eq!(next_possible_start(ts("2026-11-29T23:59:59Z")).to_string(), "2026-12");
        assert_eq!(next_possible_start(ts("2026-11-30T00:00:00Z")).to_string(), "2027-01");
    }

    #[test]
    fn the_start_month_decides_send_wait_or_stall() {
        // (startMonth, now, expected standing reason, sends?)
        let table = [
            (
                "2027-01",
                "2026-11-10T12:00:00Z",
                TransferReason::SendingInvitation,
                true,
            ),
            (
                "2026-12",
                "2026-11-10T12:00:00Z",
                TransferReason::SendingInvitation,
                true,
            ),
            (
                "2026-12",
                "2026-11-30T00:00:00Z",
                TransferReason::StartMonthTooEarly,
                false,
            ),
            (
                "2026-11",
                "2026-11-10T12:00:00Z",
                TransferReason::StartMonthTooEarly,
                false,
            ),
            (
                "2027-02",
                "2026-11-10T12:00:00Z",
                TransferReason::StartMonthNotYetOpen,
                false,
            ),
            (
                "2027-02",
                "2026-12-01T00:00:00Z",
                TransferReason::SendingInvitation,
                true,
            ),
        ];
        for (month, at, want, sends) in table {
            let mut s = spec();
            s.start_month = month.into();
            let status = BillingTransferStatus::default();
            let mut o = obs(&s, &status);
            o.now = ts(at);
            let plan = decide_transfer(&o);
            let reason = match &plan.standing {
                TransferStanding::Working { reason, .. } | TransferStanding::Stalled { reason, .. } => *reason,
                other => panic!("{month} at {at}: {other:?}"),
            };
            assert_eq!(reason, want, "{month} at {at}");
            assert_eq!(plan.action.is_some(), sends, "{month} at {at}");
            if sends {
                assert_eq!(
                    plan.action,
                    Some(TransferAction::Send {
                        start: Month::parse(month).unwrap()
                    })
                );
            }
        }
    }

    #[test]
    fn an_open_transfer_is_adopted_not_sent_again() {
        let s = spec();
        let status = BillingTransferStatus::default();
        let mut o = obs(&s, &status);
        o.adoptable = Some(aws(AwsTransferStatus::Requested));
        let plan = decide_transfer(&o);
        assert_eq!(plan.action, None);
        assert_eq!(plan.transfer.as_ref().map(|t| t.id.as_str()), Some("rt-aaaaaaaaaaaa"));
        assert!(matches!(plan.standing, TransferStanding::Invited { .. }));
        assert_eq!(plan.standing.phase(), TransferPhase::Invited);
    }

    #[test]
    fn accepted_then_in_effect_then_withdrawn() {
        let s = spec();
        let status = recorded_status(1);
        let mut o = obs(&s, &status);
        o.recorded = Some(aws(AwsTransferStatus::Accepted));
        let plan = decide_transfer(&o);
        assert_eq!(plan.standing.phase(), TransferPhase::Accepted);
        assert_eq!(plan.action, None);
        // Wakes up at the start.
        assert!(plan.requeue_after.is_some());
        o.now = ts("2027-01-01T00:00:00Z");
        let plan = decide_transfer(&o);
        assert_eq!(plan.standing.phase(), TransferPhase::InEffect);
        assert!(matches!(
            plan.standing,
            TransferStanding::Agreed { in_effect: true, .. }
        ));

        let mut w = aws(AwsTransferStatus::Withdrawn);
        w.end = Some(ts("2027-02-28T23:59:59Z"));
        o.recorded = Some(w);
        o.now = ts("2027-02-10T00:00:00Z");
        let plan = decide_transfer(&o);
        assert_eq!(plan.standing.phase(), TransferPhase::Withdrawn);
        assert!(matches!(
            plan.standing,
            TransferStanding::Agreed {
                in_effect: true,
                reason: TransferReason::Withdrawn,
                ..
            }
        ));
        o.now = ts("2027-03-01T00:00:00Z");
        let plan = decide_transfer(&o);
        assert!(matches!(
            plan.standing,
            TransferStanding::Agreed {
                in_effect: false,
                reason: TransferReason::Ended,
                ..
            }
        ));
    }

    #[test]
    fn rename_and_end_month() {
        let mut s = spec();
        s.name = "Customer A (EMEA)".into();
        let status = recorded_status(1);
        let mut o = obs(&s, &status);
        o.recorded = Some(aws(AwsTransferStatus::Requested));
        assert_eq!(
            decide_transfer(&o).action,
            Some(TransferAction::Rename {
                transfer_id: "rt-aaaaaaaaaaaa".into(),
                name: "Customer A (EMEA)".into()
            })
        );
        // endMonth withdraws an accepted transfer, in the window AWS allows.
        let mut s = spec();
        s.end_month = Some("2027-02".into());
        let mut o = obs(&s, &status);
        o.recorded = Some(aws(AwsTransferStatus::Accepted));
        assert_eq!(
            decide_transfer(&o).action,
            Some(TransferAction::Withdraw {
                transfer_id: "rt-aaaaaaaaaaaa".into(),
                end: Month::parse("2027-02").unwrap()
            })
        );
        s.end_month = Some("2027-06".into());
        let mut o = obs(&s, &status);
        o.recorded = Some(aws(AwsTransferStatus::Accepted));
        let plan = decide_transfer(&o);
        assert_eq!(plan.action, None);
        assert_eq!(plan.standing.phase(), TransferPhase::Accepted);
        // An end month that has passed is reported, not applied.
        s.end_month = Some("2027-01".into());
        let mut o = obs(&s, &status);
        o.recorded = Some(aws(AwsTransferStatus::Accepted));
        o.now = ts("2027-03-05T00:00:00Z");
        let plan = decide_transfer(&o);
        assert!(matches!(
            plan.standing,
            TransferStanding::Stalled {
                reason: TransferReason::EndMonthTooEarly,
                ..
            }
        ));
    }

    #[test]
    fn ended_invitations_follow_the_reinvite_policy() {
        let table = [
            // (status, policy, attempts, expected)
            (AwsTransferStatus::Expired, TransferReinvitePolicy::default(), 1, None),
            (
                AwsTransferStatus::Expired,
                TransferReinvitePolicy::default(),
                3,
                Some(TransferReason::MaxAttemptsReached),
            ),
            (
                AwsTransferStatus::Declined,
                TransferReinvitePolicy::default(),
                1,
                Some(TransferReason::Declined),
            ),
            (
                AwsTransferStatus::Declined,
                TransferReinvitePolicy {
                    on_declined: true,
                    ..TransferReinvitePolicy::default()
                },
                1,
                None,
            ),
            (
                AwsTransferStatus::Canceled,
                TransferReinvitePolicy::default(),
                1,
                Some(TransferReason::Canceled),
            ),
        ];
        for (st, policy, attempts, stalled) in table {
            let mut s = spec();
            s.reinvite = policy;
            let status = recorded_status(attempts);
            let mut o = obs(&s, &status);
            o.recorded = Some(aws(st));
            // The January invitation expired on 2026-12-31; now is 2027-01-02.
            o.now = ts("2027-01-02T00:00:00Z");
            let plan = decide_transfer(&o);
            match stalled {
                Some(want) => {
                    assert!(
                        matches!(&plan.standing, TransferStanding::Stalled { reason, .. } if *reason == want),
                        "{st:?}: {:?}",
                        plan.standing
                    );
                    assert_eq!(plan.action, None);
                }
                None => assert_eq!(
                    plan.action,
                    Some(TransferAction::Send {
                        start: Month::parse("2027-02").unwrap()
                    }),
                    "{st:?}: re-invites for the next possible month"
                ),
            }
        }
    }

    #[test]
    fn deletion_policies() {
        let table = [
            (
                TransferDeletionPolicy::CancelPending,
                AwsTransferStatus::Requested,
                Some("cancel"),
            ),
            (TransferDeletionPolicy::CancelPending, AwsTransferStatus::Accepted, None),
            (
                TransferDeletionPolicy::Withdraw,
                AwsTransferStatus::Accepted,
                Some("withdraw"),
            ),
            (
                TransferDeletionPolicy::Withdraw,
                AwsTransferStatus::Requested,
                Some("cancel"),
            ),
            (TransferDeletionPolicy::Orphan, AwsTransferStatus::Requested, None),
            (TransferDeletionPolicy::Orphan, AwsTransferStatus::Accepted, None),
        ];
        for (policy, st, want) in table {
            let mut s = spec();
            s.deletion_policy = policy;
            let status = recorded_status(1);
            let mut o = obs(&s, &status);
            o.recorded = Some(aws(st));
            o.deleting = true;
            let plan = decide_transfer(&o);
            assert!(plan.release);
            let got = match plan.action {
                Some(TransferAction::Cancel { .. }) => Some("cancel"),
                Some(TransferAction::Withdraw { end, .. }) => {
                    // Not started yet: it ends with its start month.
                    assert_eq!(end.to_string(), "2027-01");
                    Some("withdraw")
                }
                None => None,
                other => panic!("{other:?}"),
            };
            assert_eq!(got, want, "{policy:?} {st:?}");
        }
    }

    #[test]
    fn a_profile_not_ready_tells_the_tenant_its_reason_only() {
        let s = spec();
        let status = BillingTransferStatus::default();
        let mut o = obs(&s, &status);
        o.profile = TransferProfile::NotReady {
            message: "CredentialsNamespaceNotAllowed".into(),
        };
        let TransferStanding::Working { reason, message } = decide_transfer(&o).standing else {
            panic!("waits for the profile");
        };
        assert_eq!(reason, TransferReason::BillingProfileNotReady);
        assert!(
            message.ends_with("(CredentialsNamespaceNotAllowed); ask its administrator"),
            "{message}"
        );
    }

    #[test]
    fn profile_problems_stop_before_aws() {
        let s = spec();
        let status = BillingTransferStatus::default();
        let mut o = obs(&s, &status);
        o.profile = TransferProfile::NotAllowed {
            namespace: "team-a".into(),
        };
        let plan = decide_transfer(&o);
        assert_eq!(plan.action, None);
        assert!(matches!(
            plan.standing,
            TransferStanding::Stalled {
                reason: TransferReason::BillingProfileNotAllowed,
                ..
            }
        ));
        o.profile = TransferProfile::Missing;
        assert!(matches!(
            decide_transfer(&o).standing,
            TransferStanding::Working {
                reason: TransferReason::BillingProfileNotFound,
                ..
            }
        ));
    }

    #[test]
    fn a_vanished_transfer_is_reported() {
        let s = spec();
        let status = recorded_status(1);
        let plan = decide_transfer(&obs(&s, &status));
        assert!(matches!(
            plan.standing,
            TransferStanding::Stalled {
                reason: TransferReason::TransferNotFound,
                ..
            }
        ));
        assert_eq!(plan.action, None);
    }

    #[test]
    fn a_reinvitation_an_earlier_run_sent_is_adopted() {
        let s = spec();
        let status = recorded_status(1);
        let mut o = obs(&s, &status);
        o.recorded = Some(aws(AwsTransferStatus::Expired));
        let mut newer = aws(AwsTransferStatus::Requested);
        newer.id = "rt-bbbbbbbbbbbb".into();
        newer.start = ts("2027-02-01T00:00:00Z");
        o.adoptable = Some(newer);
        o.now = ts("2027-01-02T00:00:00Z");
        let plan = decide_transfer(&o);
        assert_eq!(plan.action, None);
        assert!(plan.adopted);
        assert_eq!(plan.transfer.as_ref().map(|t| t.id.as_str()), Some("rt-bbbbbbbbbbbb"));
        assert_eq!(plan.standing.phase(), TransferPhase::Invited);
    }

    #[test]
    fn conditions_follow_kstatus() {
        fn conds(status: &BillingTransferStatus) -> Vec<(String, String)> {
            let mut v: Vec<_> = status
                .conditions
                .iter()
                .map(|c| (c.type_.clone(), c.status.clone()))
                .collect();
            v.sort();
            v
        }
        let s = spec();
        // (standing of the AWS transfer, Ready, Reconciling, Stalled, TransferAccepted, InEffect)
        type Row<'a> = (
            Option<AwsTransferStatus>,
            &'a str,
            Option<&'a str>,
            &'a str,
            &'a str,
            &'a str,
            &'a str,
        );
        let table: [Row<'_>; 4] = [
            (
                None,
                "2026-11-10T12:00:00Z",
                Some("False"),
                "True",
                "False",
                "False",
                "False",
            ),
            (
                Some(AwsTransferStatus::Requested),
                "2026-11-10T12:00:00Z",
                None,
                "False",
                "False",
                "False",
                "False",
            ),
            (
                Some(AwsTransferStatus::Accepted),
                "2026-11-10T12:00:00Z",
                Some("True"),
                "False",
                "False",
                "True",
                "False",
            ),
            (
                Some(AwsTransferStatus::Accepted),
                "2027-01-05T00:00:00Z",
                Some("True"),
                "False",
                "False",
                "True",
                "True",
            ),
        ];
        for (st, at, ready, reconciling, stalled, accepted, in_effect) in table {
            let stored = if st.is_some() {
                recorded_status(1)
            } else {
                BillingTransferStatus::default()
            };
            let mut o = obs(&s, &stored);
            o.recorded = st.map(aws);
            o.now = ts(at);
            let plan = decide_transfer(&o);
            let mut status = stored.clone();
            write_status(&mut status, &plan, Some(3), o.now);
            let got = conds(&status);
            let want_of = |t: &str| got.iter().find(|(k, _)| k == t).map(|(_, v)| v.as_str());
            assert_eq!(want_of("Ready"), ready, "{st:?} at {at}");
            assert_eq!(want_of("Reconciling"), Some(reconciling), "{st:?}");
            assert_eq!(want_of("Stalled"), Some(stalled), "{st:?}");
            assert_eq!(want_of(TRANSFER_ACCEPTED), Some(accepted), "{st:?}");
            assert_eq!(want_of(IN_EFFECT), Some(in_effect), "{st:?}");
            assert!(status.conditions.iter().all(|c| c.observed_generation == Some(3)));
        }
        // A stalled transfer.
        let mut bad = spec();
        bad.start_month = "2026-11".into();
        let stored = BillingTransferStatus::default();
        let plan = decide_transfer(&obs(&bad, &stored));
        let mut status = stored.clone();
        write_status(&mut status, &plan, Some(1), now());
        assert!(cond::is_true(&status.conditions, cond::STALLED));
        assert_eq!(status.phase, Some(TransferPhase::Failed));
        assert_eq!(
            cond::find(&status.conditions, cond::STALLED).map(|c| c.reason.as_str()),
            Some("StartMonthTooEarly")
        );
    }

    fn any_timestamp() -> impl proptest::strategy::Strategy<Value = Timestamp> {
        use proptest::prelude::*;
        let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
        prop_oneof![
            Just(Timestamp::MIN),
            Just(Timestamp::MAX),
            (min..=max).prop_map(|s| Timestamp::from_second(s).unwrap()),
            (-10_000_000i64..10_000_000).prop_map(|s| now() + SignedDuration::from_secs(s)),
        ]
    }

    fn any_status() -> impl proptest::strategy::Strategy<Value = AwsTransferStatus> {
        use proptest::prelude::*;
        prop_oneof![
            Just(AwsTransferStatus::Requested),
            Just(AwsTransferStatus::Accepted),
            Just(AwsTransferStatus::Declined),
            Just(AwsTransferStatus::Canceled),
            Just(AwsTransferStatus::Expired),
            Just(AwsTransferStatus::Withdrawn),
        ]
    }

    proptest::proptest! {
        /// Bounded by construction (issue 12, item 6): whatever times AWS lists for a transfer
        /// (start, end: any timestamp jiff holds), whatever the clock, the months in the spec
        /// and the attempts, deciding and writing the status never panic, and the plan never
        /// waits longer than an hour.
        #[test]
        fn decide_transfer_never_panics_on_extreme_times_or_counts(
            recorded in proptest::option::of((any_status(), any_timestamp(), proptest::option::of(any_timestamp()))),
            adoptable in proptest::option::of((any_status(), any_timestamp())),
            now in any_timestamp(),
            start_year in proptest::prop_oneof![proptest::strategy::Just(0i32), proptest::strategy::Just(9999), 0i32..10_000],
            start_month in 1u8..=12,
            end in proptest::option::of((0i32..10_000, 1u8..=12)),
            attempts in proptest::prop_oneof![proptest::strategy::Just(u32::MAX), 0u32..25],
            max_attempts in proptest::prop_oneof![proptest::strategy::Just(u32::MAX), 1u32..21],
            deleting in proptest::bool::ANY,
        ) {
            let mut spec = spec();
            spec.start_month = format!("{start_year:04}-{start_month:02}");
            spec.end_month = end.map(|(y, m)| format!("{y:04}-{m:02}"));
            spec.reinvite.max_attempts = max_attempts;
            let mut status = recorded_status(attempts);
            if recorded.is_none() {
                status.transfer = None;
            }
            let transfer = |status: AwsTransferStatus, start: Timestamp, end: Option<Timestamp>| AwsTransfer {
                start,
                end,
                ..aws(status)
            };
            let obs = TransferObservation {
                spec: &spec,
                status: &status,
                profile: TransferProfile::Ready,
                recorded: recorded.map(|(s, start, end)| transfer(s, start, end)),
                adoptable: adoptable.map(|(s, start)| transfer(s, start, None)),
                deleting,
                now,
            };
            let plan = decide_transfer(&obs);
            proptest::prop_assert!(plan.requeue_after.is_none_or(|r| r <= Duration::from_secs(3600)), "{:?}", plan.requeue_after);
            let mut written = status.clone();
            write_status(&mut written, &plan, Some(1), now);
            if let Some(t) = &plan.transfer {
                let _ = record_of(t);
            }
        }
    }
}
