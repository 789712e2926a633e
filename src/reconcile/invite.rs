//! The pure decision for one AwsAccountInvite (docs/architecture.md, "Reconcile
//! pipeline"): given what was observed, what to do next and what the status says. No I/O here.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{self as cond, reason};
use crate::api::{
    AwsAccountInviteSpec, AwsAccountInviteStatus, HISTORY_LIMIT, HandshakeRecord, HandshakeStatus, IamVerification,
    InvitePhase, MIN_REINVITE_INTERVAL_SECS, ManualConfirmation, parse_duration,
};
use crate::handshake::{Handshake, HandshakeState};

/// How long AWS keeps an invitation open.
const HANDSHAKE_LIFETIME: SignedDuration = SignedDuration::from_hours(15 * 24);
/// Requeue while waiting for something the operator does not watch.
const SLOW_REQUEUE: Duration = Duration::from_secs(300);
/// Requeue while waiting for the billing profile.
const PROFILE_REQUEUE: Duration = Duration::from_secs(30);

/// The billing profile as seen from one invite.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileView {
    /// No BillingProfile of that name.
    Missing,
    /// The profile exists but does not allow the invite's namespace.
    NotAllowed { namespace: String },
    /// The profile exists but cannot reach its organization.
    NotReady { reason: String, message: String },
    /// Ready: the organization, and room left in the daily invitation budget.
    Ready {
        organization_id: String,
        budget_left: u32,
        /// When the oldest invitation in the window leaves it (budget grows again).
        budget_frees_at: Option<Timestamp>,
    },
}

/// Whether the account is a member of the profile's organization.
#[derive(Debug, Clone, PartialEq)]
pub enum Membership {
    /// A member since this time (when AWS says).
    Member { joined_at: Option<Timestamp> },
    /// Not a member.
    NotMember,
}

/// The automatic IAM access check's result.
#[derive(Debug, Clone, PartialEq)]
pub enum IamCheck {
    /// The role exists and trusts the principal with the external ID.
    Verified,
    /// Something is missing; `message` says what.
    Missing { reason: String, message: String },
}

/// Everything the decision looks at.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub spec: &'a AwsAccountInviteSpec,
    pub status: &'a AwsAccountInviteStatus,
    pub generation: Option<i64>,
    /// The `awsinvite.io/reinvite` annotation's value.
    pub reinvite_request: Option<&'a str>,
    /// `awsinvite.io/iam-access-confirmed` is "true"; with who set it when known.
    pub iam_confirmed: Option<Option<String>>,
    pub profile: ProfileView,
    /// The profile's default IAM verification mode.
    pub profile_verification: Option<IamVerification>,
    /// Observed on demand (see [`Need::Membership`]).
    pub membership: Option<Membership>,
    /// The recorded handshake as AWS shows it now (None: not seen in the latest sweep).
    pub recorded_handshake: Option<Handshake>,
    /// A pending invitation to this account from this organization (adoption candidate).
    pub pending_for_account: Option<Handshake>,
    /// Observed on demand (see [`Need::IamAccess`]).
    pub iam: Option<IamCheck>,
    pub now: Timestamp,
}

/// Something the decision needs observed before it can decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// DescribeAccount in the profile's organization.
    Membership,
    /// The automatic IAM access check in the member account.
    IamAccess,
}

/// What to do in AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing: record the status.
    None,
    /// Send an invitation (only decided when no pending one exists to adopt).
    SendInvitation { reinvite_request: Option<String> },
    /// Cancel the open invitation, then send a new one.
    CancelAndResend {
        handshake_id: String,
        reinvite_request: Option<String>,
    },
}

/// A Kubernetes Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventNote {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// The decision: an action, the status to record, when to look again, events.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub action: Action,
    pub status: AwsAccountInviteStatus,
    pub requeue_after: Option<Duration>,
    pub events: Vec<EventNote>,
}

/// The next step: observe something more, or act. Returned, never stored: not worth boxing.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Decision {
    Observe(Need),
    Act(Plan),
}

/// Decides the next step for one invite.
pub fn decide(obs: &Observation<'_>) -> Decision {
    let mut plan = Plan {
        action: Action::None,
        status: obs.status.clone(),
        requeue_after: None,
        events: Vec::new(),
    };
    plan.status.observed_generation = obs.generation;

    let organization_id = match &obs.profile {
        ProfileView::Missing => {
            let msg = format!(
                "BillingProfile {:?} does not exist; the invite waits until it is created",
                obs.spec.billing_profile
            );
            waiting_on_profile(obs, &mut plan, reason::BILLING_PROFILE_NOT_FOUND, &msg);
            return Decision::Act(plan);
        }
        ProfileView::NotAllowed { namespace } => {
            let msg = format!(
                "BillingProfile {:?} does not allow invites from namespace {namespace:?}; ask its owner to add the \
                 namespace to spec.allowedNamespaces",
                obs.spec.billing_profile
            );
            stalled(obs, &mut plan, reason::BILLING_PROFILE_NOT_ALLOWED, &msg);
            return Decision::Act(plan);
        }
        ProfileView::NotReady { reason: why, message } => {
            let msg = format!(
                "BillingProfile {:?} is not ready ({why}): {message}",
                obs.spec.billing_profile
            );
            waiting_on_profile(obs, &mut plan, reason::BILLING_PROFILE_NOT_READY, &msg);
            return Decision::Act(plan);
        }
        ProfileView::Ready { organization_id, .. } => organization_id.clone(),
    };

    if is_joined(obs.status) {
        return decide_iam(obs, plan);
    }

    // Follow the recorded handshake.
    if let Some(recorded) = obs.status.handshake.clone() {
        let seen = obs.recorded_handshake.as_ref();
        let state = seen
            .map(|h| h.state)
            .or_else(|| HandshakeState::parse(&recorded.state))
            .unwrap_or(HandshakeState::Open);
        if let Some(h) = seen {
            update_handshake_status(&mut plan.status, h);
        }
        return match state {
            HandshakeState::Open | HandshakeState::Requested => decide_open(obs, plan, &recorded),
            HandshakeState::Accepted => match &obs.membership {
                None => Decision::Observe(Need::Membership),
                Some(Membership::Member { joined_at }) => {
                    record_joined(obs, &mut plan, &organization_id, *joined_at, reason::ACCEPTED);
                    plan.events.push(EventNote {
                        warning: false,
                        reason: "Accepted",
                        message: format!(
                            "Account {} accepted invitation {} and joined {organization_id}",
                            obs.spec.account_id, recorded.id
                        ),
                    });
                    decide_iam(obs, plan)
                }
                Some(Membership::NotMember) => {
                    let msg = format!(
                        "Account {} accepted invitation {} but is no longer a member of {organization_id}: it left the \
                         organization. Ask the account owner why, then set annotation {} to a new value to invite it again",
                        obs.spec.account_id,
                        recorded.id,
                        crate::api::REINVITE_ANNOTATION
                    );
                    decide_ended(obs, plan, &recorded, reason::ACCOUNT_LEFT, &msg, false)
                }
            },
            HandshakeState::Declined => {
                let msg = format!(
                    "The owner of account {} declined invitation {}",
                    obs.spec.account_id, recorded.id
                );
                decide_ended(
                    obs,
                    plan,
                    &recorded,
                    reason::DECLINED,
                    &msg,
                    obs.spec.reinvite.on_declined,
                )
            }
            HandshakeState::Expired => {
                let msg = format!(
                    "Invitation {} to account {} expired unanswered after 15 days",
                    recorded.id, obs.spec.account_id
                );
                decide_ended(
                    obs,
                    plan,
                    &recorded,
                    reason::EXPIRED,
                    &msg,
                    obs.spec.reinvite.on_expired,
                )
            }
            HandshakeState::Canceled => {
                let resend_due = resend_after(obs.spec)
                    .zip(recorded.requested_at.as_ref())
                    .is_some_and(|(after, at)| elapsed_since(obs.now, at.0) >= after);
                let msg = format!(
                    "Invitation {} to account {} was canceled",
                    recorded.id, obs.spec.account_id
                );
                decide_ended(obs, plan, &recorded, reason::CANCELED, &msg, resend_due)
            }
        };
    }

    // Nothing recorded: already a member? an invitation left by an earlier run? else send.
    match &obs.membership {
        None => return Decision::Observe(Need::Membership),
        Some(Membership::Member { joined_at }) => {
            record_joined(obs, &mut plan, &organization_id, *joined_at, reason::ALREADY_MEMBER);
            plan.events.push(EventNote {
                warning: false,
                reason: "AlreadyMember",
                message: format!(
                    "Account {} is already a member of {organization_id}; no invitation sent",
                    obs.spec.account_id
                ),
            });
            return decide_iam(obs, plan);
        }
        Some(Membership::NotMember) => {}
    }
    if let Some(pending) = &obs.pending_for_account {
        adopt(obs, &mut plan, pending);
        return Decision::Act(plan);
    }
    if refused_for_this_generation(obs) {
        // AWS refused this very request (e.g. the account is in another organization): the same
        // request again changes nothing. An edit of the spec or a new reinvite annotation value
        // tries again.
        return match new_reinvite_request(obs) {
            Some(request) => send_or_queue(obs, plan, Some(request.to_owned())),
            None => Decision::Act(plan),
        };
    }
    send_or_queue(obs, plan, None)
}

/// Whether the last send for the current generation ended in a terminal refusal (Stalled, no
/// handshake recorded, InvitationSent=False with the same reason).
fn refused_for_this_generation(obs: &Observation<'_>) -> bool {
    let conditions = &obs.status.conditions;
    obs.status.handshake.is_none()
        && obs.status.phase == Some(InvitePhase::Failed)
        && cond::find(conditions, cond::STALLED).is_some_and(|stalled| {
            stalled.status == "True"
                && stalled.observed_generation == obs.generation
                && cond::find(conditions, cond::INVITATION_SENT)
                    .is_some_and(|sent| sent.status == "False" && sent.reason == stalled.reason)
        })
}

/// The recorded handshake is still open: wait, or resend when asked to.
fn decide_open(obs: &Observation<'_>, mut plan: Plan, recorded: &HandshakeStatus) -> Decision {
    let now = obs.now;
    let last_sent = obs
        .status
        .last_invited_at
        .as_ref()
        .or(recorded.requested_at.as_ref())
        .map(|t| t.0);
    let floor_at = last_sent.map(|t| t + SignedDuration::from_secs(MIN_REINVITE_INTERVAL_SECS as i64));
    let attempts_left = obs.status.attempts < obs.spec.reinvite.max_attempts;

    // A new value of the reinvite annotation: "I got no email".
    if let Some(request) = new_reinvite_request(obs) {
        if !attempts_left {
            plan.status.last_reinvite_request = Some(request.to_owned());
            plan.events.push(EventNote {
                warning: true,
                reason: "ReinviteRefused",
                message: format!(
                    "Reinvite {request:?} ignored: all {} attempts of spec.reinvite.maxAttempts are used; raise it to \
                     send another invitation",
                    obs.spec.reinvite.max_attempts
                ),
            });
        } else if floor_at.is_some_and(|f| now < f) {
            let wait = floor_at.map(|f| until(now, f)).unwrap_or(SLOW_REQUEUE);
            awaiting_acceptance(obs, &mut plan, recorded);
            cond::set(
                &mut plan.status.conditions,
                cond::RECONCILING,
                true,
                reason::SENDING,
                format!(
                    "Reinvite {request:?} will be honoured {}s from now: invitations are at least 5 minutes apart",
                    wait.as_secs()
                ),
                obs.generation,
                now,
            );
            plan.requeue_after = Some(wait);
            return Decision::Act(plan);
        } else {
            return resend(obs, plan, recorded, Some(request.to_owned()));
        }
    }

    // The resendAfter timer.
    if let (Some(after), Some(requested)) = (resend_after(obs.spec), recorded.requested_at.as_ref()) {
        let due = requested.0 + SignedDuration::try_from(after).unwrap_or(SignedDuration::MAX);
        if now >= due && attempts_left {
            return resend(obs, plan, recorded, None);
        }
        if now < due && attempts_left {
            plan.requeue_after = Some(until(now, due));
        }
    }

    awaiting_acceptance(obs, &mut plan, recorded);
    let expiry = recorded
        .expires_at
        .as_ref()
        .map(|t| t.0)
        .or_else(|| recorded.requested_at.as_ref().map(|t| t.0 + HANDSHAKE_LIFETIME));
    let to_expiry = expiry.map(|e| until(now, e) + Duration::from_secs(1));
    plan.requeue_after = [plan.requeue_after, to_expiry, Some(Duration::from_secs(3600))]
        .into_iter()
        .flatten()
        .min();
    Decision::Act(plan)
}

/// Cancel the open invitation and send a new one (or adopt, or queue).
fn resend(obs: &Observation<'_>, mut plan: Plan, recorded: &HandshakeStatus, request: Option<String>) -> Decision {
    // Another pending invitation (a resend whose reply was lost) is adopted, never doubled.
    if let Some(pending) = &obs.pending_for_account
        && pending.id != recorded.id
    {
        adopt(obs, &mut plan, pending);
        return Decision::Act(plan);
    }
    let mut decision = send_or_queue(obs, plan, request.clone());
    if let Decision::Act(plan) = &mut decision
        && let Action::SendInvitation { reinvite_request } = &plan.action
    {
        plan.action = Action::CancelAndResend {
            handshake_id: recorded.id.clone(),
            reinvite_request: reinvite_request.clone(),
        };
    }
    decision
}

/// The recorded handshake ended without the account joining.
fn decide_ended(
    obs: &Observation<'_>,
    mut plan: Plan,
    recorded: &HandshakeStatus,
    why: &'static str,
    message: &str,
    policy_resends: bool,
) -> Decision {
    let request = new_reinvite_request(obs).map(str::to_owned);
    let attempts_left = obs.status.attempts < obs.spec.reinvite.max_attempts;
    let state_changed = obs
        .status
        .handshake
        .as_ref()
        .is_some_and(|h| HandshakeState::parse(&h.state).is_some_and(|s| s.is_pending()));
    if state_changed {
        plan.events.push(EventNote {
            warning: true,
            reason: why,
            message: message.to_owned(),
        });
    }
    if let Some(pending) = &obs.pending_for_account
        && pending.id != recorded.id
    {
        adopt(obs, &mut plan, pending);
        return Decision::Act(plan);
    }
    if (policy_resends || request.is_some()) && attempts_left {
        if let Some(last) = obs.status.last_invited_at.as_ref() {
            let floor = last.0 + SignedDuration::from_secs(MIN_REINVITE_INTERVAL_SECS as i64);
            if obs.now < floor {
                set_not_joined(obs, &mut plan, why, message);
                cond::set(
                    &mut plan.status.conditions,
                    cond::RECONCILING,
                    true,
                    reason::SENDING,
                    format!("{message}; a new invitation goes out once 5 minutes have passed since the last"),
                    obs.generation,
                    obs.now,
                );
                plan.requeue_after = Some(until(obs.now, floor));
                return Decision::Act(plan);
            }
        }
        return send_or_queue(obs, plan, request);
    }
    let (why, message) = if attempts_left || !(policy_resends || request.is_some()) {
        let hint = match why {
            reason::DECLINED => " spec.reinvite.onDeclined is false;",
            reason::EXPIRED => " spec.reinvite.onExpired is false;",
            _ => "",
        };
        (
            why,
            format!(
                "{message}.{hint} set annotation {} to a new value to send another invitation",
                crate::api::REINVITE_ANNOTATION
            ),
        )
    } else {
        (
            reason::MAX_ATTEMPTS_REACHED,
            format!(
                "{message}. All {} invitations allowed by spec.reinvite.maxAttempts were sent; raise it to try again",
                obs.spec.reinvite.max_attempts
            ),
        )
    };
    if let Some(request) = request {
        plan.status.last_reinvite_request = Some(request);
    }
    stalled(obs, &mut plan, why, &message);
    Decision::Act(plan)
}

/// Send when the daily budget has room, else queue.
fn send_or_queue(obs: &Observation<'_>, mut plan: Plan, request: Option<String>) -> Decision {
    let ProfileView::Ready {
        budget_left,
        budget_frees_at,
        ..
    } = &obs.profile
    else {
        return Decision::Act(plan);
    };
    if *budget_left == 0 {
        let msg = format!(
            "BillingProfile {:?} has sent its daily invitations (spec.invitationsPerDay); this invite is queued{}",
            obs.spec.billing_profile,
            budget_frees_at.map(|t| format!(" until about {t}")).unwrap_or_default()
        );
        let first_time = obs.status.phase != Some(InvitePhase::Queued);
        plan.status.phase = Some(InvitePhase::Queued);
        cond::set(
            &mut plan.status.conditions,
            cond::INVITATION_SENT,
            false,
            reason::QUOTA_EXHAUSTED,
            &msg,
            obs.generation,
            obs.now,
        );
        cond::set(
            &mut plan.status.conditions,
            cond::READY,
            false,
            reason::QUOTA_EXHAUSTED,
            &msg,
            obs.generation,
            obs.now,
        );
        cond::set(
            &mut plan.status.conditions,
            cond::RECONCILING,
            true,
            reason::QUOTA_EXHAUSTED,
            &msg,
            obs.generation,
            obs.now,
        );
        not_stalled(obs, &mut plan);
        if first_time {
            plan.events.push(EventNote {
                warning: false,
                reason: "Queued",
                message: msg,
            });
        }
        plan.requeue_after = Some(
            budget_frees_at
                .map(|t| until(obs.now, t) + Duration::from_secs(1))
                .unwrap_or(SLOW_REQUEUE)
                .min(SLOW_REQUEUE),
        );
        return Decision::Act(plan);
    }
    cond::set(
        &mut plan.status.conditions,
        cond::RECONCILING,
        true,
        reason::SENDING,
        "Sending the invitation",
        obs.generation,
        obs.now,
    );
    plan.action = Action::SendInvitation {
        reinvite_request: request,
    };
    Decision::Act(plan)
}

/// Records a handshake returned by InviteAccountToOrganization. Pure; called by the shell.
pub fn record_sent(
    status: &mut AwsAccountInviteStatus,
    spec: &AwsAccountInviteSpec,
    generation: Option<i64>,
    handshake: &Handshake,
    reinvite_request: Option<String>,
    now: Timestamp,
) -> EventNote {
    let reinvite = status.handshake.is_some();
    push_history(status, now);
    status.handshake = Some(handshake_status(handshake));
    status.attempts += 1;
    status.last_invited_at = Some(Time(now));
    if let Some(request) = reinvite_request {
        status.last_reinvite_request = Some(request);
    }
    let message = format!(
        "Invitation {} sent to account {} (attempt {} of {}); waiting for the account owner to accept it",
        handshake.id, spec.account_id, status.attempts, spec.reinvite.max_attempts
    );
    set_invited(status, generation, &message, now);
    EventNote {
        warning: false,
        reason: if reinvite { "ReInvited" } else { "InvitationSent" },
        message,
    }
}

/// How a failed InviteAccountToOrganization (or its cancel) is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// Throttling, 5xx, network: retried with backoff.
    Retryable { reason: String, message: String },
    /// The organization's daily invitation quota (AWS's own): queued.
    DailyQuota { message: String },
    /// Needs a change (account quota, invalid input, account cannot join): stalled.
    Terminal { reason: String, message: String },
    /// The profile's credentials or organization do not work.
    Profile { reason: String, message: String },
}

/// Records a failed send in the status; returns the event and when to look again (None:
/// nothing will change without an edit, or the caller backs off).
pub fn record_send_failure(
    status: &mut AwsAccountInviteStatus,
    spec: &AwsAccountInviteSpec,
    generation: Option<i64>,
    failure: &SendFailure,
    now: Timestamp,
) -> (EventNote, Option<Duration>) {
    let c = &mut status.conditions;
    match failure {
        SendFailure::Retryable { reason: why, message } => {
            let msg = format!(
                "AWS did not answer the invitation for account {} ({why}): {message}; retrying with backoff",
                spec.account_id
            );
            cond::set(
                c,
                cond::RECONCILING,
                true,
                reason::AWS_UNAVAILABLE,
                &msg,
                generation,
                now,
            );
            cond::set(c, cond::READY, false, reason::AWS_UNAVAILABLE, &msg, generation, now);
            (
                EventNote {
                    warning: true,
                    reason: "AwsUnavailable",
                    message: msg,
                },
                None,
            )
        }
        SendFailure::DailyQuota { message } => {
            let msg = format!(
                "AWS refused the invitation: the organization's daily invitation quota is used up ({message}); queued"
            );
            status.phase = Some(InvitePhase::Queued);
            cond::set(
                c,
                cond::INVITATION_SENT,
                false,
                reason::QUOTA_EXHAUSTED,
                &msg,
                generation,
                now,
            );
            cond::set(c, cond::READY, false, reason::QUOTA_EXHAUSTED, &msg, generation, now);
            cond::set(
                c,
                cond::RECONCILING,
                true,
                reason::QUOTA_EXHAUSTED,
                &msg,
                generation,
                now,
            );
            (
                EventNote {
                    warning: true,
                    reason: "Queued",
                    message: msg,
                },
                Some(Duration::from_secs(3600)),
            )
        }
        SendFailure::Terminal { reason: why, message } => {
            status.phase = Some(InvitePhase::Failed);
            cond::set(c, cond::INVITATION_SENT, false, why, message, generation, now);
            cond::set(c, cond::READY, false, why, message, generation, now);
            cond::set(c, cond::STALLED, true, why, message, generation, now);
            cond::set(c, cond::RECONCILING, false, why, "", generation, now);
            (
                EventNote {
                    warning: true,
                    reason: "Stalled",
                    message: message.clone(),
                },
                None,
            )
        }
        SendFailure::Profile { reason: why, message } => {
            let msg = format!("The billing profile's credentials were refused ({why}): {message}");
            cond::set(c, cond::READY, false, why, &msg, generation, now);
            cond::set(c, cond::RECONCILING, true, why, &msg, generation, now);
            (
                EventNote {
                    warning: true,
                    reason: "BillingProfileNotReady",
                    message: msg,
                },
                Some(PROFILE_REQUEUE),
            )
        }
    }
}

fn adopt(obs: &Observation<'_>, plan: &mut Plan, pending: &Handshake) {
    push_history(&mut plan.status, obs.now);
    plan.status.handshake = Some(handshake_status(pending));
    plan.status.attempts = plan.status.attempts.saturating_add(1);
    plan.status.last_invited_at = Some(Time(obs.now.min(pending.requested_at)));
    let message = format!(
        "Adopted open invitation {} to account {} (sent earlier, not yet recorded); waiting for the account owner to \
         accept it",
        pending.id, obs.spec.account_id
    );
    set_invited(&mut plan.status, obs.generation, &message, obs.now);
    plan.events.push(EventNote {
        warning: false,
        reason: "Adopted",
        message,
    });
    plan.requeue_after = Some(Duration::from_secs(3600));
}

/// Phase Invited, conditions AwaitingAcceptance. `lead` says which invitation ("... waiting for
/// the account owner to accept it"); the message adds where, until when, and what an account
/// in another organization must do first.
fn set_invited(status: &mut AwsAccountInviteStatus, generation: Option<i64>, lead: &str, now: Timestamp) {
    let expires = status
        .handshake
        .as_ref()
        .and_then(|h| h.expires_at.as_ref())
        .map(|t| format!(" before it expires at {}", t.0))
        .unwrap_or_default();
    let message = format!("{lead} in the AWS Organizations console{expires}. {ANOTHER_ORGANIZATION_ADVICE}");
    let message = message.as_str();
    status.phase = Some(InvitePhase::Invited);
    let c = &mut status.conditions;
    cond::set(
        c,
        cond::INVITATION_SENT,
        true,
        reason::AWAITING_ACCEPTANCE,
        message,
        generation,
        now,
    );
    cond::set(
        c,
        cond::ACCOUNT_JOINED,
        false,
        reason::AWAITING_ACCEPTANCE,
        message,
        generation,
        now,
    );
    // Waiting on a person: neither Reconciling nor Stalled, and no Ready=False (kstatus would
    // read it as InProgress); Ready appears, True, when the invite is ready.
    cond::remove(c, cond::READY);
    cond::set(
        c,
        cond::RECONCILING,
        false,
        reason::AWAITING_ACCEPTANCE,
        message,
        generation,
        now,
    );
    cond::set(c, cond::STALLED, false, reason::NOT_STALLED, "", generation, now);
}

/// What the account owner must do when the invited account already belongs to an organization:
/// AWS only tells the invitee (when accepting), never the inviting organization, so every
/// AwaitingAcceptance message carries it.
pub const ANOTHER_ORGANIZATION_ADVICE: &str = "If the account is a member of another organization, accepting moves it \
     here (if AWS refuses, its owner leaves that organization first: Organizations console, Leave organization). If it \
     is the management account of another organization, it cannot join until its owner removes all member accounts \
     from that organization and deletes it (Organizations console, Settings, Delete organization); then accept.";

fn awaiting_acceptance(obs: &Observation<'_>, plan: &mut Plan, recorded: &HandshakeStatus) {
    let lead = format!(
        "Invitation {} sent to account {} (attempt {} of {}); waiting for the account owner to accept it",
        recorded.id, obs.spec.account_id, obs.status.attempts, obs.spec.reinvite.max_attempts
    );
    set_invited(&mut plan.status, obs.generation, &lead, obs.now);
}

fn record_joined(
    obs: &Observation<'_>,
    plan: &mut Plan,
    organization_id: &str,
    joined_at: Option<Timestamp>,
    why: &'static str,
) {
    let status = &mut plan.status;
    status.joined_at = Some(Time(joined_at.unwrap_or(obs.now)));
    status.organization_id = Some(organization_id.to_owned());
    status.phase = Some(InvitePhase::Joined);
    let message = match why {
        reason::ALREADY_MEMBER => format!(
            "Account {} was already a member of {organization_id}; no invitation was needed",
            obs.spec.account_id
        ),
        _ => format!("Account {} joined {organization_id}", obs.spec.account_id),
    };
    if why == reason::ALREADY_MEMBER && status.handshake.is_none() {
        cond::set(
            &mut status.conditions,
            cond::INVITATION_SENT,
            false,
            reason::ALREADY_MEMBER,
            &message,
            obs.generation,
            obs.now,
        );
    } else {
        cond::set(
            &mut status.conditions,
            cond::INVITATION_SENT,
            true,
            reason::ACCEPTED,
            &message,
            obs.generation,
            obs.now,
        );
    }
    cond::set(
        &mut status.conditions,
        cond::ACCOUNT_JOINED,
        true,
        why,
        &message,
        obs.generation,
        obs.now,
    );
}

/// Joined: the IAM access step decides Ready.
fn decide_iam(obs: &Observation<'_>, mut plan: Plan) -> Decision {
    let now = obs.now;
    let generation = obs.generation;
    let Some(iam) = &obs.spec.iam_access else {
        let msg = format!(
            "Account {} is a member; no IAM access step is required",
            obs.spec.account_id
        );
        cond::set(
            &mut plan.status.conditions,
            cond::IAM_ACCESS_VERIFIED,
            true,
            reason::NOT_REQUIRED,
            &msg,
            generation,
            now,
        );
        ready(obs, &mut plan, &msg);
        return Decision::Act(plan);
    };
    let mode = iam.verification.or(obs.profile_verification).unwrap_or_default();
    let already = cond::find(&obs.status.conditions, cond::IAM_ACCESS_VERIFIED)
        .is_some_and(|c| c.status == "True" && c.observed_generation == generation && c.reason != reason::NOT_REQUIRED);
    if already {
        let msg = format!(
            "Account {} is a member and IAM role {} is in place",
            obs.spec.account_id, iam.role_name
        );
        ready(obs, &mut plan, &msg);
        return Decision::Act(plan);
    }
    match mode {
        IamVerification::Manual => match &obs.iam_confirmed {
            Some(who) => {
                let msg = format!(
                    "IAM access to role {} confirmed by hand{}",
                    iam.role_name,
                    who.as_ref().map(|w| format!(" by {w}")).unwrap_or_default()
                );
                plan.status.iam_access_confirmation = Some(ManualConfirmation {
                    confirmed_by: who.clone(),
                    confirmed_at: Time(now),
                });
                cond::set(
                    &mut plan.status.conditions,
                    cond::IAM_ACCESS_VERIFIED,
                    true,
                    reason::CONFIRMED_MANUALLY,
                    &msg,
                    generation,
                    now,
                );
                plan.events.push(EventNote {
                    warning: false,
                    reason: "IamAccessConfirmed",
                    message: msg.clone(),
                });
                ready(obs, &mut plan, &msg);
            }
            None => {
                let msg = format!(
                    "Waiting for a person to confirm that account {} created role {} trusting {}{}: set annotation {}: \"true\"",
                    obs.spec.account_id,
                    iam.role_name,
                    iam.trusted_principal,
                    if iam.external_id.is_some() || iam.external_id_secret_ref.is_some() {
                        " with the external ID"
                    } else {
                        ""
                    },
                    crate::api::IAM_ACCESS_CONFIRMED_ANNOTATION
                );
                waiting_on_iam(obs, &mut plan, reason::AWAITING_MANUAL_CONFIRMATION, &msg);
            }
        },
        IamVerification::Automatic => match &obs.iam {
            None => return Decision::Observe(Need::IamAccess),
            Some(IamCheck::Verified) => {
                let msg = format!(
                    "Role {} in account {} trusts {} as required",
                    iam.role_name, obs.spec.account_id, iam.trusted_principal
                );
                cond::set(
                    &mut plan.status.conditions,
                    cond::IAM_ACCESS_VERIFIED,
                    true,
                    reason::VERIFIED,
                    &msg,
                    generation,
                    now,
                );
                plan.events.push(EventNote {
                    warning: false,
                    reason: "IamAccessVerified",
                    message: msg.clone(),
                });
                ready(obs, &mut plan, &msg);
            }
            Some(IamCheck::Missing { reason: why, message }) => {
                waiting_on_iam(obs, &mut plan, why, message);
                let joined = obs.status.joined_at.as_ref().map(|t| t.0).unwrap_or(now);
                let since = elapsed_since(now, joined);
                plan.requeue_after = Some((since / 10).clamp(Duration::from_secs(30), Duration::from_secs(1800)));
            }
        },
    }
    Decision::Act(plan)
}

fn waiting_on_iam(obs: &Observation<'_>, plan: &mut Plan, why: &str, message: &str) {
    let (generation, now) = (obs.generation, obs.now);
    plan.status.phase = Some(InvitePhase::Joined);
    let c = &mut plan.status.conditions;
    cond::set(c, cond::IAM_ACCESS_VERIFIED, false, why, message, generation, now);
    // Waiting on a person (the role, or the manual confirmation): see `set_invited`.
    cond::remove(c, cond::READY);
    cond::set(c, cond::RECONCILING, false, why, message, generation, now);
    cond::set(c, cond::STALLED, false, reason::NOT_STALLED, "", generation, now);
}

fn ready(obs: &Observation<'_>, plan: &mut Plan, message: &str) {
    let (generation, now) = (obs.generation, obs.now);
    if obs.status.phase != Some(InvitePhase::Ready) {
        plan.events.push(EventNote {
            warning: false,
            reason: "Ready",
            message: message.to_owned(),
        });
    }
    plan.status.phase = Some(InvitePhase::Ready);
    let c = &mut plan.status.conditions;
    cond::set(c, cond::READY, true, reason::READY, message, generation, now);
    cond::set(c, cond::RECONCILING, false, reason::READY, "", generation, now);
    cond::set(c, cond::STALLED, false, reason::NOT_STALLED, "", generation, now);
}

fn waiting_on_profile(obs: &Observation<'_>, plan: &mut Plan, why: &str, message: &str) {
    let (generation, now) = (obs.generation, obs.now);
    if plan.status.phase.is_none() {
        plan.status.phase = Some(InvitePhase::Pending);
    }
    let c = &mut plan.status.conditions;
    cond::set(c, cond::READY, false, why, message, generation, now);
    cond::set(c, cond::RECONCILING, true, why, message, generation, now);
    cond::set(c, cond::STALLED, false, reason::NOT_STALLED, "", generation, now);
    plan.requeue_after = Some(PROFILE_REQUEUE);
}

fn set_not_joined(obs: &Observation<'_>, plan: &mut Plan, why: &str, message: &str) {
    let c = &mut plan.status.conditions;
    cond::set(c, cond::INVITATION_SENT, true, why, message, obs.generation, obs.now);
    cond::set(c, cond::ACCOUNT_JOINED, false, why, message, obs.generation, obs.now);
    cond::set(c, cond::READY, false, why, message, obs.generation, obs.now);
}

fn stalled(obs: &Observation<'_>, plan: &mut Plan, why: &str, message: &str) {
    let (generation, now) = (obs.generation, obs.now);
    if obs.status.phase != Some(InvitePhase::Failed) || !cond::is_true(&obs.status.conditions, cond::STALLED) {
        plan.events.push(EventNote {
            warning: true,
            reason: "Stalled",
            message: message.to_owned(),
        });
    }
    plan.status.phase = Some(InvitePhase::Failed);
    let c = &mut plan.status.conditions;
    if plan.status.handshake.is_some() {
        cond::set(c, cond::ACCOUNT_JOINED, false, why, message, generation, now);
    }
    cond::set(c, cond::READY, false, why, message, generation, now);
    cond::set(c, cond::STALLED, true, why, message, generation, now);
    cond::set(c, cond::RECONCILING, false, why, "", generation, now);
    plan.requeue_after = None;
}

fn not_stalled(obs: &Observation<'_>, plan: &mut Plan) {
    cond::set(
        &mut plan.status.conditions,
        cond::STALLED,
        false,
        reason::NOT_STALLED,
        "",
        obs.generation,
        obs.now,
    );
}

fn is_joined(status: &AwsAccountInviteStatus) -> bool {
    status.joined_at.is_some() && cond::is_true(&status.conditions, cond::ACCOUNT_JOINED)
}

fn new_reinvite_request<'a>(obs: &Observation<'a>) -> Option<&'a str> {
    obs.reinvite_request
        .filter(|value| !value.is_empty() && obs.status.last_reinvite_request.as_deref() != Some(*value))
}

fn resend_after(spec: &AwsAccountInviteSpec) -> Option<Duration> {
    spec.reinvite
        .resend_after
        .as_deref()
        .and_then(|d| parse_duration(d).ok())
        .map(|d| d.max(Duration::from_secs(MIN_REINVITE_INTERVAL_SECS)))
}

fn handshake_status(h: &Handshake) -> HandshakeStatus {
    HandshakeStatus {
        id: h.id.clone(),
        arn: Some(h.arn.clone()),
        state: h.state.as_str().to_owned(),
        requested_at: Some(Time(h.requested_at)),
        expires_at: Some(Time(h.expires_at)),
    }
}

fn update_handshake_status(status: &mut AwsAccountInviteStatus, h: &Handshake) {
    if let Some(current) = status.handshake.as_mut()
        && current.id == h.id
    {
        *current = handshake_status(h);
    }
}

fn push_history(status: &mut AwsAccountInviteStatus, now: Timestamp) {
    if let Some(previous) = status.handshake.take() {
        let ended = HandshakeState::parse(&previous.state).is_some_and(|s| !s.is_pending());
        status.history.insert(
            0,
            HandshakeRecord {
                id: previous.id,
                state: if ended { previous.state } else { "CANCELED".to_owned() },
                requested_at: previous.requested_at,
                ended_at: Some(Time(now)),
            },
        );
        status.history.truncate(HISTORY_LIMIT);
    }
}

fn elapsed_since(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(then)).unwrap_or(Duration::ZERO)
}

fn until(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(then.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
#[path = "invite_tests.rs"]
mod tests;
