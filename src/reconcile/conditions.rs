//! Condition types (an API: they are stable) and the one way to set a condition. Their reasons
//! are [`Reason`]s.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub use crate::reason::Reason;

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

/// Every condition type, in the order the invite's status lists them.
pub const TYPES: [&str; 6] = [
    INVITATION_SENT,
    ACCOUNT_JOINED,
    IAM_ACCESS_VERIFIED,
    READY,
    RECONCILING,
    STALLED,
];

/// Sets condition `type_` in `conditions`, keeping `lastTransitionTime` when the status is unchanged.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: Reason,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" };
    set_status(conditions, type_, status, reason, message.into(), generation, now);
}

/// Sets condition `type_` to `status` ("True", "False" or "Unknown"); see [`set`].
pub fn set_status(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: Reason,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) {
    if let Some(existing) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if existing.status != status {
            existing.last_transition_time = Time(now);
        }
        existing.status = status.to_owned();
        existing.reason = reason.as_str().to_owned();
        existing.message = message;
        existing.observed_generation = generation;
        return;
    }
    conditions.push(Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.as_str().to_owned(),
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
        set(&mut conditions, READY, false, Reason::Pending, "a", Some(1), t0);
        set(&mut conditions, READY, false, Reason::Checking, "b", Some(2), t1);
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, Time(t0));
        assert_eq!(conditions[0].reason, "Checking");
        assert_eq!(conditions[0].observed_generation, Some(2));
        set(&mut conditions, READY, true, Reason::Ready, "c", Some(2), t2);
        assert_eq!(conditions[0].last_transition_time, Time(t2));
        assert!(is_true(&conditions, READY));
    }
}
