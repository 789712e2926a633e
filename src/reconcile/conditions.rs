//! Condition types and reasons (an API: they are stable) and the one way to set a condition.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The invitation went out (True) or why not (False).
pub const INVITATION_SENT: &str = "InvitationSent";
/// The account is a member of the profile's organization.
pub const ACCOUNT_JOINED: &str = "AccountJoined";
/// The cost tool's IAM role exists and trusts the right principal.
pub const IAM_ACCESS_VERIFIED: &str = "IamAccessVerified";
/// Joined and IAM access verified (or not required).
pub const READY: &str = "Ready";
/// The operator still has work of its own to do (kstatus).
pub const RECONCILING: &str = "Reconciling";
/// Nothing will progress without a change (kstatus).
pub const STALLED: &str = "Stalled";

/// Stable CamelCase reasons.
pub mod reason {
    pub const PENDING: &str = "Pending";
    pub const AWAITING_ACCEPTANCE: &str = "AwaitingAcceptance";
    pub const ACCEPTED: &str = "Accepted";
    pub const DECLINED: &str = "Declined";
    pub const EXPIRED: &str = "Expired";
    pub const CANCELED: &str = "Canceled";
    pub const MAX_ATTEMPTS_REACHED: &str = "MaxAttemptsReached";
    pub const QUOTA_EXHAUSTED: &str = "QuotaExhausted";
    pub const ALREADY_MEMBER: &str = "AlreadyMember";
    pub const ACCOUNT_LEFT: &str = "AccountLeftOrganization";
    pub const BILLING_PROFILE_NOT_FOUND: &str = "BillingProfileNotFound";
    pub const BILLING_PROFILE_NOT_ALLOWED: &str = "BillingProfileNotAllowed";
    pub const BILLING_PROFILE_NOT_READY: &str = "BillingProfileNotReady";
    pub const AWS_UNAVAILABLE: &str = "AwsUnavailable";
    pub const SENDING: &str = "SendingInvitation";
    pub const NOT_REQUIRED: &str = "NotRequired";
    pub const VERIFIED: &str = "Verified";
    pub const CONFIRMED_MANUALLY: &str = "ConfirmedManually";
    pub const AWAITING_MANUAL_CONFIRMATION: &str = "AwaitingManualConfirmation";
    pub const AWAITING_JOIN: &str = "AwaitingJoin";
    pub const CHECKING: &str = "Checking";
    pub const READY: &str = "Ready";
    pub const IDLE: &str = "Idle";
    pub const NOT_STALLED: &str = "Progressing";
}

/// Sets condition `type_` in `conditions`, keeping `lastTransitionTime` when the status is unchanged.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" };
    let message = message.into();
    if let Some(existing) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if existing.status != status {
            existing.last_transition_time = Time(now);
        }
        existing.status = status.to_owned();
        existing.reason = reason.to_owned();
        existing.message = message;
        existing.observed_generation = generation;
        return;
    }
    conditions.push(Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time: Time(now),
    });
}

/// Removes condition `type_`. Used for Ready while the invite waits on a person: kstatus
/// (Flux) reads Ready=False as InProgress, but waiting for an account owner is Current.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The condition of type `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when condition `type_` is present with status "True".
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
        let t1: Timestamp = "2026-01-01T01:00:00Z".parse().expect("ts");
        let t2: Timestamp = "2026-01-01T02:00:00Z".parse().expect("ts");
        let mut conditions = Vec::new();
        set(&mut conditions, READY, false, "A", "a", Some(1), t0);
        set(&mut conditions, READY, false, "B", "b", Some(2), t1);
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, Time(t0));
        assert_eq!(conditions[0].reason, "B");
        assert_eq!(conditions[0].observed_generation, Some(2));
        set(&mut conditions, READY, true, "C", "c", Some(2), t2);
        assert_eq!(conditions[0].last_transition_time, Time(t2));
        assert!(is_true(&conditions, READY));
    }
}
