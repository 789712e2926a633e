//! Where an invite stands, and the one place that turns a standing into the status's phase and
//! conditions (docs/architecture.md, "Conditions and kstatus table").
//!
//! The kstatus rules live here, once (the table in docs/architecture.md; its "–" is `Keep`):
//! while the operator has work of its own to do (sending, queued, waiting for AWS or the
//! profile) the invite is `Reconciling`; when nothing progresses without a change it is
//! `Stalled`; while it waits on a person (the account owner accepting, creating the IAM role or
//! confirming it) it is neither, and carries no `Ready` condition, which Flux would read as
//! InProgress; `Ready=True` only when the account joined and IAM access is verified (or not
//! required).
//!
//! Every condition written carries the current generation: one left at an older generation
//! would make `kubectl wait --for=condition=...` wait forever.

use jiff::Timestamp;

use super::conditions::{self as cond, Reason};
use crate::api::{AwsAccountInviteStatus, InvitePhase};

/// How the account came to be a member (written with [`Standing::Ready`] and
/// [`Standing::WaitingOnIam`] when the join is first seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// `Accepted` (an invitation was accepted) or `AlreadyMember` (none was needed).
    pub how: Reason,
    /// Whether an invitation was sent (InvitationSent=True) or not (already a member).
    pub invitation_sent: bool,
    /// What happened, for `kubectl describe`.
    pub message: String,
}

/// Where an invite stands: each value decides the phase and every condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// The billing profile is missing or not ready; the operator looks again.
    WaitingOnProfile { reason: Reason, message: String },
    /// An invitation is about to be sent.
    Sending,
    /// The daily invitation budget (the profile's or AWS's) is used up; it goes out later.
    Queued { message: String },
    /// A send failed with a retryable AWS error; retried with backoff.
    AwsUnavailable { message: String },
    /// A send was refused because of the profile's credentials or organization.
    ProfileRefused { reason: Reason, message: String },
    /// An invitation is open: the account owner decides.
    Invited { message: String },
    /// An invitation is open and a requested new one goes out at the 5-minute floor (`note`).
    Reinviting { message: String, note: String },
    /// The invitation ended without a join and a new one goes out at the 5-minute floor (`note`).
    Resending {
        reason: Reason,
        message: String,
        note: String,
    },
    /// Joined; the IAM access step waits on a person.
    WaitingOnIam {
        joined: Option<Joined>,
        reason: Reason,
        message: String,
    },
    /// Joined, IAM access verified (with `iam`, when just verified) or not required.
    Ready {
        joined: Option<Joined>,
        iam: Option<(Reason, String)>,
        message: String,
    },
    /// Nothing progresses without a change by a person.
    Stalled { reason: Reason, message: String },
    /// The invitation ended without a join (declined, expired, canceled, attempts used up), or
    /// the account left after joining, and the policy sends no other: like `Stalled`, and the
    /// step conditions say how it ended (never an AwaitingAcceptance left behind).
    Ended { reason: Reason, message: String },
    /// AWS refused this very invitation; nothing progresses without a change.
    Refused { reason: Reason, message: String },
}

/// What a standing does to one condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect<'a> {
    /// Leave as it is (its generation still moves to the current one).
    Keep,
    /// Remove it.
    Remove,
    /// Set it.
    Set(bool, Reason, &'a str),
    /// Unknown until checked again (a verification of an older generation).
    Recheck,
}

use Effect::{Keep, Recheck, Remove, Set};

/// The message of [`Standing::Sending`].
const SENDING: &str = "Sending the invitation";

/// What IamAccessVerified says while a verification of an older generation waits to be redone.
const RECHECK: &str = "The spec changed; IAM access is checked again once the invite gets to the IAM access step";

/// The three kstatus conditions of a standing: (Ready, Reconciling, Stalled).
type Kstatus<'a> = [Effect<'a>; 3];

impl Standing {
    /// The standing's message (what the Ready or Reconciling condition says).
    pub fn message(&self) -> &str {
        match self {
            Self::Sending => SENDING,
            Self::WaitingOnProfile { message, .. }
            | Self::Queued { message }
            | Self::AwsUnavailable { message }
            | Self::ProfileRefused { message, .. }
            | Self::Invited { message }
            | Self::Reinviting { message, .. }
            | Self::Resending { message, .. }
            | Self::WaitingOnIam { message, .. }
            | Self::Ready { message, .. }
            | Self::Stalled { message, .. }
            | Self::Ended { message, .. }
            | Self::Refused { message, .. } => message,
        }
    }

    /// The phase, given the current one (None: unchanged).
    fn phase(&self, current: Option<InvitePhase>) -> Option<InvitePhase> {
        match self {
            Self::WaitingOnProfile { .. } => current.is_none().then_some(InvitePhase::Pending),
            Self::Sending | Self::AwsUnavailable { .. } | Self::ProfileRefused { .. } | Self::Resending { .. } => None,
            Self::Queued { .. } => Some(InvitePhase::Queued),
            Self::Invited { .. } | Self::Reinviting { .. } => Some(InvitePhase::Invited),
            Self::WaitingOnIam { .. } => Some(InvitePhase::Joined),
            Self::Ready { .. } => Some(InvitePhase::Ready),
            Self::Stalled { .. } | Self::Ended { .. } | Self::Refused { .. } => Some(InvitePhase::Failed),
        }
    }

    /// The kstatus table: Ready, Reconciling, Stalled.
    fn kstatus(&self) -> Kstatus<'_> {
        const NOT_STALLED: Effect<'static> = Set(false, Reason::Progressing, "");
        match self {
            Self::Sending => [Keep, Set(true, Reason::SendingInvitation, SENDING), NOT_STALLED],
            Self::WaitingOnProfile { reason, message } => {
                [Set(false, *reason, message), Set(true, *reason, message), NOT_STALLED]
            }
            // A failed send or a resend after the floor leaves Stalled as it was.
            Self::ProfileRefused { reason, message } => {
                [Set(false, *reason, message), Set(true, *reason, message), Keep]
            }
            Self::Queued { message } => {
                let why = Reason::QuotaExhausted;
                [Set(false, why, message), Set(true, why, message), NOT_STALLED]
            }
            Self::AwsUnavailable { message } => {
                let why = Reason::AwsUnavailable;
                [Set(false, why, message), Set(true, why, message), Keep]
            }
            // Waiting on a person: neither Reconciling nor Stalled, and no Ready=False.
            Self::Invited { message } => [Remove, Set(false, Reason::AwaitingAcceptance, message), NOT_STALLED],
            Self::WaitingOnIam { reason, message, .. } => [Remove, Set(false, *reason, message), NOT_STALLED],
            Self::Reinviting { note, .. } => [Remove, Set(true, Reason::SendingInvitation, note), NOT_STALLED],
            Self::Resending { reason, message, note } => [
                Set(false, *reason, message),
                Set(true, Reason::SendingInvitation, note),
                Keep,
            ],
            Self::Ready { message, .. } => [
                Set(true, Reason::Ready, message),
                Set(false, Reason::Ready, ""),
                NOT_STALLED,
            ],
            Self::Stalled { reason, message } | Self::Ended { reason, message } | Self::Refused { reason, message } => {
                [
                    Set(false, *reason, message),
                    Set(false, *reason, ""),
                    Set(true, *reason, message),
                ]
            }
        }
    }

    /// The step conditions: InvitationSent, AccountJoined, IamAccessVerified.
    fn steps(&self, has_handshake: bool) -> [Effect<'_>; 3] {
        match self {
            Self::Queued { message } => [Set(false, Reason::QuotaExhausted, message), Keep, Keep],
            Self::Invited { message } | Self::Reinviting { message, .. } => {
                let why = Reason::AwaitingAcceptance;
                [Set(true, why, message), Set(false, why, message), Keep]
            }
            Self::Resending { reason, message, .. } => {
                [Set(true, *reason, message), Set(false, *reason, message), Keep]
            }
            Self::WaitingOnIam {
                joined: j,
                reason,
                message,
            } => {
                let [sent, member] = joined_effects(j);
                [sent, member, Set(false, *reason, message)]
            }
            Self::Ready { joined: j, iam, .. } => {
                let [sent, member] = joined_effects(j);
                let iam = iam.as_ref().map_or(Keep, |(why, message)| Set(true, *why, message));
                [sent, member, iam]
            }
            Self::Stalled { reason, message } if has_handshake => [Keep, Set(false, *reason, message), Keep],
            // An invitation was sent (and ended) or not (the account joined without one).
            Self::Ended { reason, message } if has_handshake => {
                [Set(true, *reason, message), Set(false, *reason, message), Keep]
            }
            Self::Ended { reason, message } => [Keep, Set(false, *reason, message), Keep],
            Self::Refused { reason, message } => [Set(false, *reason, message), Keep, Keep],
            _ => [Keep, Keep, Keep],
        }
    }
}

/// InvitationSent and AccountJoined when a join is first seen (Keep when it was seen before).
fn joined_effects(joined: &Option<Joined>) -> [Effect<'_>; 2] {
    match joined {
        None => [Keep, Keep],
        Some(Joined {
            how,
            invitation_sent: true,
            message,
        }) => [Set(true, Reason::Accepted, message), Set(true, *how, message)],
        Some(Joined { how, message, .. }) => [Set(false, *how, message), Set(true, *how, message)],
    }
}

/// Writes `standing` into `status`: its phase and every condition, all at `generation`.
pub fn write(status: &mut AwsAccountInviteStatus, standing: &Standing, generation: Option<i64>, now: Timestamp) {
    if let Some(phase) = standing.phase(status.phase) {
        status.phase = Some(phase);
    }
    let [sent, member, mut iam] = standing.steps(status.handshake.is_some());
    // IAM access is verified for a spec: a verification of an older generation that this
    // standing does not restate is stale (the IAM access step checks it again).
    let stale = cond::find(&status.conditions, cond::IAM_ACCESS_VERIFIED)
        .is_some_and(|c| c.status == "True" && c.observed_generation != generation);
    if iam == Keep && stale {
        iam = Recheck;
    }
    let [ready, reconciling, stalled] = standing.kstatus();
    let effects = [sent, member, iam, ready, reconciling, stalled];
    let conditions = &mut status.conditions;
    for (type_, effect) in cond::TYPES.into_iter().zip(effects) {
        match effect {
            Keep => {}
            Remove => cond::remove(conditions, type_),
            Set(value, reason, message) => cond::set(conditions, type_, value, reason, message, generation, now),
            Recheck => {
                let message = RECHECK.to_owned();
                cond::set_status(conditions, type_, "Unknown", Reason::Checking, message, generation, now);
            }
        }
    }
    for condition in &mut status.conditions {
        condition.observed_generation = generation;
    }
    status.observed_generation = generation;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined() -> Option<Joined> {
        Some(Joined {
            how: Reason::Accepted,
            invitation_sent: true,
            message: "joined".into(),
        })
    }

    /// Every standing, once.
    fn all() -> Vec<Standing> {
        let (r, m) = (Reason::Declined, String::from("m"));
        vec![
            Standing::WaitingOnProfile {
                reason: Reason::BillingProfileNotFound,
                message: m.clone(),
            },
            Standing::Sending,
            Standing::Queued { message: m.clone() },
            Standing::AwsUnavailable { message: m.clone() },
            Standing::ProfileRefused {
                reason: Reason::AccessDenied,
                message: m.clone(),
            },
            Standing::Invited { message: m.clone() },
            Standing::Reinviting {
                message: m.clone(),
                note: m.clone(),
            },
            Standing::Resending {
                reason: r,
                message: m.clone(),
                note: m.clone(),
            },
            Standing::WaitingOnIam {
                joined: joined(),
                reason: Reason::RoleNotFound,
                message: m.clone(),
            },
            Standing::Ready {
                joined: joined(),
                iam: Some((Reason::Verified, m.clone())),
                message: m.clone(),
            },
            Standing::Stalled {
                reason: r,
                message: m.clone(),
            },
            Standing::Ended {
                reason: r,
                message: m.clone(),
            },
            Standing::Refused { reason: r, message: m },
        ]
    }

    /// (Ready, Reconciling, Stalled) as written on an empty status: "-" when absent.
    fn kstatus_of(standing: &Standing) -> (&'static str, &'static str, &'static str) {
        let mut status = AwsAccountInviteStatus::default();
        write(&mut status, standing, Some(3), Timestamp::UNIX_EPOCH);
        let get = |type_| match cond::find(&status.conditions, type_).map(|c| c.status.as_str()) {
            Some("True") => "True",
            Some(_) => "False",
            None => "-",
        };
        (get(cond::READY), get(cond::RECONCILING), get(cond::STALLED))
    }

    #[test]
    fn kstatus_table() {
        // Reconciling: the operator's own work. Stalled: a person must change something.
        // Neither (and no Ready): a person decides. Ready: done.
        let want = [
            ("False", "True", "False"), // WaitingOnProfile
            ("-", "True", "False"),     // Sending (Ready unchanged)
            ("False", "True", "False"), // Queued
            ("False", "True", "-"),     // AwsUnavailable (Stalled unchanged)
            ("False", "True", "-"),     // ProfileRefused (Stalled unchanged)
            ("-", "False", "False"),    // Invited
            ("-", "True", "False"),     // Reinviting
            ("False", "True", "-"),     // Resending (Stalled unchanged)
            ("-", "False", "False"),    // WaitingOnIam
            ("True", "False", "False"), // Ready
            ("False", "False", "True"), // Stalled
            ("False", "False", "True"), // Ended
            ("False", "False", "True"), // Refused
        ];
        let standings = all();
        assert_eq!(standings.len(), want.len());
        for (standing, want) in standings.iter().zip(want) {
            assert_eq!(kstatus_of(standing), want, "{standing:?}");
        }
    }

    #[test]
    fn every_condition_moves_to_the_current_generation() {
        for standing in all() {
            let mut status = AwsAccountInviteStatus::default();
            for type_ in cond::TYPES {
                cond::set(
                    &mut status.conditions,
                    type_,
                    true,
                    Reason::Accepted,
                    "old",
                    Some(1),
                    Timestamp::UNIX_EPOCH,
                );
            }
            write(&mut status, &standing, Some(2), Timestamp::UNIX_EPOCH);
            assert!(
                status.conditions.iter().all(|c| c.observed_generation == Some(2)),
                "{standing:?}: {:?}",
                status.conditions
            );
            assert_eq!(status.observed_generation, Some(2));
        }
    }

    #[test]
    fn a_verification_of_an_older_generation_is_checked_again() {
        let mut status = AwsAccountInviteStatus::default();
        let verified = Standing::Ready {
            joined: joined(),
            iam: Some((Reason::Verified, "role in place".into())),
            message: "ready".into(),
        };
        write(&mut status, &verified, Some(1), Timestamp::UNIX_EPOCH);
        let waiting = Standing::WaitingOnProfile {
            reason: Reason::BillingProfileNotReady,
            message: "profile down".into(),
        };
        write(&mut status, &waiting, Some(2), Timestamp::UNIX_EPOCH);
        let iam = cond::find(&status.conditions, cond::IAM_ACCESS_VERIFIED).expect("iam");
        assert_eq!((iam.status.as_str(), iam.reason.as_str()), ("Unknown", "Checking"));
        assert_eq!(iam.observed_generation, Some(2));
        let joined = cond::find(&status.conditions, cond::ACCOUNT_JOINED).expect("joined");
        assert_eq!((joined.status.as_str(), joined.observed_generation), ("True", Some(2)));
    }

    #[test]
    fn joining_sets_the_step_conditions() {
        let mut status = AwsAccountInviteStatus::default();
        let standing = Standing::Ready {
            joined: Some(Joined {
                how: Reason::AlreadyMember,
                invitation_sent: false,
                message: "was a member".into(),
            }),
            iam: Some((Reason::NotRequired, "none".into())),
            message: "ready".into(),
        };
        write(&mut status, &standing, Some(1), Timestamp::UNIX_EPOCH);
        let get = |type_| cond::find(&status.conditions, type_).map(|c| (c.status.clone(), c.reason.clone()));
        assert_eq!(
            get(cond::INVITATION_SENT),
            Some(("False".into(), "AlreadyMember".into()))
        );
        assert_eq!(get(cond::ACCOUNT_JOINED), Some(("True".into(), "AlreadyMember".into())));
        assert_eq!(
            get(cond::IAM_ACCESS_VERIFIED),
            Some(("True".into(), "NotRequired".into()))
        );
        assert_eq!(status.phase, Some(InvitePhase::Ready));
    }

    #[test]
    fn an_ended_invitation_leaves_no_awaiting_acceptance_behind() {
        let mut status = AwsAccountInviteStatus {
            handshake: Some(crate::api::HandshakeStatus {
                id: "h-1".into(),
                arn: None,
                state: "CANCELED".into(),
                requested_at: None,
                expires_at: None,
            }),
            ..AwsAccountInviteStatus::default()
        };
        write(
            &mut status,
            &Standing::Invited {
                message: "waiting … before it expires".into(),
            },
            Some(1),
            Timestamp::UNIX_EPOCH,
        );
        let ended = Standing::Ended {
            reason: Reason::Canceled,
            message: "Invitation h-1 was canceled".into(),
        };
        write(&mut status, &ended, Some(1), Timestamp::UNIX_EPOCH);
        let get = |type_| {
            cond::find(&status.conditions, type_).map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
        };
        let canceled = "Invitation h-1 was canceled".to_owned();
        assert_eq!(
            get(cond::INVITATION_SENT),
            Some(("True".into(), "Canceled".into(), canceled.clone()))
        );
        assert_eq!(
            get(cond::ACCOUNT_JOINED),
            Some(("False".into(), "Canceled".into(), canceled))
        );
        assert_eq!(status.phase, Some(InvitePhase::Failed));
        // Without an invitation (joined without one, then left), InvitationSent is left as it was.
        let mut joined_without = AwsAccountInviteStatus::default();
        let left = Standing::Ended {
            reason: Reason::AccountLeftOrganization,
            message: "left".into(),
        };
        write(&mut joined_without, &left, Some(1), Timestamp::UNIX_EPOCH);
        assert!(cond::find(&joined_without.conditions, cond::INVITATION_SENT).is_none());
        assert_eq!(
            cond::find(&joined_without.conditions, cond::ACCOUNT_JOINED).map(|c| c.reason.as_str()),
            Some("AccountLeftOrganization")
        );
    }
}
