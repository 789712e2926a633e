//! The pure decision for one AwsAccountInvite (docs/architecture.md, "Reconcile
//! pipeline"): given what was observed, what to do next and what the status says. No I/O here.

use std::ops::ControlFlow;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{self as cond, Reason};
use super::standing::{self, Joined, Standing};
use crate::api::{
    AwsAccountInviteSpec, AwsAccountInviteStatus, HISTORY_LIMIT, HandshakeRecord, HandshakeStatus,
    IAM_ACCESS_CONFIRMED_ANNOTATION, IAM_ACCESS_CONFIRMED_BY_ANNOTATION, IamAccess, IamVerification, InvitePhase,
    MIN_REINVITE_INTERVAL_SECS, ManualConfirmation, REINVITE_ANNOTATION, check_reinvite_value, parse_duration,
};
use crate::handshake::{Handshake, HandshakeState};
use crate::reason::EventReason;

/// How long AWS keeps an invitation open.
const HANDSHAKE_LIFETIME: SignedDuration = SignedDuration::from_hours(15 * 24);
/// Requeue while waiting for something the operator does not watch.
const SLOW_REQUEUE: Duration = Duration::from_secs(300);
/// Requeue while waiting for the billing profile.
const PROFILE_REQUEUE: Duration = Duration::from_secs(30);
/// How often an invite stalled on another invite's account claim looks again (the owner's
/// release wakes it at once; this covers an owner gone without releasing).
const CLAIM_REQUEUE: Duration = Duration::from_secs(300);

/// The billing profile as seen from one invite.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileView {
    /// No BillingProfile of that name.
    Missing,
    /// The profile exists but does not allow the invite's namespace.
    NotAllowed { namespace: String },
    /// The profile's spec.tagPolicy refuses the invite's tags (the message names the field).
    TagsNotAllowed { message: String },
    /// The profile exists but cannot reach its organization.
    NotReady { reason: String, message: String },
    /// The profile is Ready, but another invite owns this account in its organization
    /// (docs/security.md, "Account claims"): nothing about the account is read or done.
    AccountClaimed,
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
    Missing { reason: Reason, message: String },
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
    /// Observed on demand (see [`Need::Membership`]): DescribeAccount, where the membership
    /// sweep cannot answer or contradicts another fact (an accepted invitation, a join seen).
    pub membership: Option<Membership>,
    /// The account's membership as the organization's last ListAccounts sweep lists it (None:
    /// no sweep answer, e.g. ListAccounts is not allowed).
    pub listed_membership: Option<Membership>,
    /// The recorded handshake as AWS shows it now (None: not seen in the latest sweep).
    pub recorded_handshake: Option<Handshake>,
    /// AWS no longer knows the recorded handshake: a sweep made after it was sent does not
    /// list it, or DescribeHandshake answered HandshakeNotFound (AWS drops an ended handshake
    /// 30 days after it ended).
    pub handshake_gone: bool,
    /// This organization's invitations to this account requested since the invite was
    /// created, in any state, as AWS lists them: attempts count these, not only `status.attempts`
    /// (a status restored from a backup, or a send the status never recorded).
    pub sent_since_created: u32,
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
    pub reason: EventReason,
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

impl Action {
    /// Whether the action sends an invitation (the one AWS write that must happen exactly once).
    pub fn sends(&self) -> bool {
        matches!(self, Self::SendInvitation { .. } | Self::CancelAndResend { .. })
    }
}

impl Plan {
    fn new(obs: &Observation<'_>) -> Self {
        let mut status = obs.status.clone();
        status.observed_generation = obs.generation;
        status.attempts = attempts_used(obs);
        Plan {
            action: Action::None,
            status,
            requeue_after: None,
            events: Vec::new(),
        }
    }

    /// Writes where the invite stands (phase and every condition) at the observed generation.
    fn stand(&mut self, obs: &Observation<'_>, standing: Standing) {
        standing::write(&mut self.status, &standing, obs.generation, obs.now);
    }

    fn note(&mut self, warning: bool, reason: EventReason, message: impl Into<String>) {
        self.events.push(EventNote {
            warning,
            reason,
            message: message.into(),
        });
    }

    fn act(self) -> Decision {
        Decision::Act(self)
    }
}

/// The longest a plan waits before looking again ([`Plan::requeue_after`]): what changes in AWS
/// wakes the invite through the sweep sooner, and a timer years away (a timestamp far in the
/// future) must not reach kube-runtime's scheduler, whose queue panics beyond about two years.
pub const MAX_REQUEUE: Duration = Duration::from_secs(24 * 3600);

/// Decides the next step for one invite: the profile gate, then the join (already a member,
/// or the recorded handshake), then the IAM access step. Never waits longer than [`MAX_REQUEUE`].
pub fn decide(obs: &Observation<'_>) -> Decision {
    let mut decision = decide_unbounded(obs);
    if let Decision::Act(plan) = &mut decision {
        plan.requeue_after = plan.requeue_after.map(|after| after.min(MAX_REQUEUE));
    }
    decision
}

fn decide_unbounded(obs: &Observation<'_>) -> Decision {
    let mut plan = Plan::new(obs);
    let organization_id = match &obs.profile {
        ProfileView::Ready { organization_id, .. } => organization_id.as_str(),
        other => {
            profile_gate(obs, &mut plan, other);
            return plan.act();
        }
    };
    if is_joined(obs.status) {
        // The truth comes from AWS every time: an account that left (was removed, moved to
        // another organization) after joining is noticed; the sweep's "not a member" is confirmed
        // once with DescribeAccount (ListAccounts may lag behind a join just seen).
        if obs.listed_membership == Some(Membership::NotMember) {
            match &obs.membership {
                None => return Decision::Observe(Need::Membership),
                Some(Membership::NotMember) => return account_left(obs, plan, organization_id),
                Some(Membership::Member { .. }) => {}
            }
        }
        // Joined while the sweep still listed the invitation open: record the state AWS lists
        // now (ACCEPTED), so status does not keep an open handshake of a joined account.
        if let Some(h) = obs
            .recorded_handshake
            .as_ref()
            .filter(|h| h.state == HandshakeState::Accepted)
        {
            update_handshake_status(&mut plan.status, h);
        }
        return decide_iam(obs, plan, None);
    }
    if let Some(error) = invalid_reinvite_request(obs) {
        // Neither copied into status nor quoted in a message: it may be as long as an annotation.
        let message = format!("{error}. Nothing is sent until it is fixed or removed");
        stall(obs, &mut plan, Reason::ReinviteRequestInvalid, message);
        return plan.act();
    }
    match obs.status.handshake.clone() {
        Some(recorded) => follow_handshake(obs, plan, &recorded, organization_id),
        None => decide_first(obs, plan, organization_id),
    }
}

/// The profile is missing, not allowed or not ready: wait for it (or stall), no AWS call.
fn profile_gate(obs: &Observation<'_>, plan: &mut Plan, profile: &ProfileView) {
    let name = &obs.spec.billing_profile;
    let standing = match profile {
        ProfileView::NotAllowed { namespace } => {
            let message = format!(
                "BillingProfile {name:?} does not allow invites from namespace {namespace:?}; ask its owner to add the \
                 namespace to spec.allowedNamespaces"
            );
            return stall(obs, plan, Reason::BillingProfileNotAllowed, message);
        }
        ProfileView::TagsNotAllowed { message } => {
            return stall(obs, plan, Reason::TagNotAllowed, message.clone());
        }
        ProfileView::AccountClaimed => {
            let message = format!(
                "Another AwsAccountInvite already owns account {} for BillingProfile {name:?}'s organization; this \
                 invite sends, adopts, cancels and reads nothing about it",
                obs.spec.account_id
            );
            stall(obs, plan, Reason::AccountClaimed, message);
            // The owner's release wakes this invite; a holder gone without releasing (its
            // finalizer removed by force) is noticed at this pace.
            plan.requeue_after = Some(CLAIM_REQUEUE);
            return;
        }
        // The profile's own detail (credentials, organization) is for its administrators:
        // tenants get the reason only (docs/security.md).
        ProfileView::NotReady { reason, .. } => Standing::WaitingOnProfile {
            reason: Reason::BillingProfileNotReady,
            message: format!("BillingProfile {name:?} is not ready ({reason}); ask its administrator"),
        },
        ProfileView::Missing | ProfileView::Ready { .. } => Standing::WaitingOnProfile {
            reason: Reason::BillingProfileNotFound,
            message: format!("BillingProfile {name:?} does not exist; the invite waits until it is created"),
        },
    };
    plan.stand(obs, standing);
    plan.requeue_after = Some(PROFILE_REQUEUE);
}

/// Nothing recorded: already a member? an invitation left by an earlier run? else send.
fn decide_first(obs: &Observation<'_>, mut plan: Plan, organization_id: &str) -> Decision {
    let account = &obs.spec.account_id;
    match obs.membership.as_ref().or(obs.listed_membership.as_ref()) {
        None => return Decision::Observe(Need::Membership),
        Some(Membership::Member { joined_at }) => {
            let message =
                format!("Account {account} was already a member of {organization_id}; no invitation was needed");
            plan.note(
                false,
                EventReason::AlreadyMember,
                format!("Account {account} is already a member of {organization_id}; no invitation sent"),
            );
            let joined = record_joined(
                obs,
                &mut plan,
                organization_id,
                *joined_at,
                Reason::AlreadyMember,
                message,
            );
            return decide_iam(obs, plan, Some(joined));
        }
        Some(Membership::NotMember) if left_recorded(obs.status) => {
            // It joined without an invitation and left: never invited again by itself.
            return match new_reinvite_request(obs) {
                Some(request) => send_or_queue(obs, plan, Some(request.to_owned())),
                None => plan.act(),
            };
        }
        Some(Membership::NotMember) => {}
    }
    if let Some(pending) = &obs.pending_for_account {
        adopt(obs, &mut plan, pending);
        return plan.act();
    }
    let max = obs.spec.reinvite.max_attempts;
    if attempts_used(obs) >= max {
        // AWS holds as many invitations for this invite as it may send (its status forgot
        // them, e.g. restored from a backup): none more.
        let message = format!(
            "AWS lists {} invitations from {organization_id} to account {account} since this invite was created; all \
             {max} allowed by spec.reinvite.maxAttempts were sent; raise it to try again",
            attempts_used(obs)
        );
        stall(obs, &mut plan, Reason::MaxAttemptsReached, message);
        return plan.act();
    }
    if refused_for_this_generation(obs) {
        // AWS refused this very request (e.g. the account is in another organization): the same
        // request again changes nothing. An edit of the spec or a new reinvite annotation value
        // tries again.
        return match new_reinvite_request(obs) {
            Some(request) => send_or_queue(obs, plan, Some(request.to_owned())),
            None => plan.act(),
        };
    }
    send_or_queue(obs, plan, None)
}

/// Follows the recorded handshake to where AWS says it is.
fn follow_handshake(
    obs: &Observation<'_>,
    mut plan: Plan,
    recorded: &HandshakeStatus,
    organization_id: &str,
) -> Decision {
    let seen = obs.recorded_handshake.as_ref();
    if seen.is_none() && obs.handshake_gone {
        return follow_gone(obs, plan, recorded, organization_id);
    }
    let state = seen
        .map(|h| h.state)
        .or_else(|| HandshakeState::parse(&recorded.state))
        .unwrap_or(HandshakeState::Open);
    if let Some(h) = seen {
        update_handshake_status(&mut plan.status, h);
    }
    let ended = match state {
        HandshakeState::Open | HandshakeState::Requested => {
            // The sweep lists the members right after the handshakes: an account that accepted
            // between the two listings is listed as a member while its handshake still reads
            // open. A member has joined: waiting for the next sweep to list the handshake
            // ACCEPTED would add a whole poll interval to Accept -> Ready (issue 14).
            if let Some(Membership::Member { joined_at }) = &obs.listed_membership {
                return accepted(obs, plan, recorded, *joined_at, organization_id);
            }
            return decide_open(obs, plan, recorded);
        }
        HandshakeState::Accepted => match accepted_membership(obs) {
            None => return Decision::Observe(Need::Membership),
            Some(Membership::Member { joined_at }) => {
                return accepted(obs, plan, recorded, *joined_at, organization_id);
            }
            Some(Membership::NotMember) => Ended::Left,
        },
        HandshakeState::Declined => Ended::Declined,
        HandshakeState::Expired => Ended::Expired,
        HandshakeState::Canceled => Ended::Canceled,
    };
    decide_ended(obs, plan, recorded, ended, organization_id)
}

/// The recorded invitation was accepted and the account is a member: joined.
fn accepted(
    obs: &Observation<'_>,
    mut plan: Plan,
    recorded: &HandshakeStatus,
    joined_at: Option<Timestamp>,
    organization_id: &str,
) -> Decision {
    let (account, id) = (&obs.spec.account_id, &recorded.id);
    let message = format!("Account {account} joined {organization_id}");
    plan.note(
        false,
        EventReason::Accepted,
        format!("Account {account} accepted invitation {id} and joined {organization_id}"),
    );
    let joined = record_joined(obs, &mut plan, organization_id, joined_at, Reason::Accepted, message);
    decide_iam(obs, plan, Some(joined))
}

/// The membership that settles an accepted invitation: the sweep's "member"; otherwise a
/// DescribeAccount answer (the sweep may lag behind an acceptance), unless the status already
/// says the account left (then the sweep's "not a member" is enough: no call per reconcile).
fn accepted_membership<'a>(obs: &'a Observation<'_>) -> Option<&'a Membership> {
    match (&obs.listed_membership, &obs.membership) {
        (Some(listed @ Membership::Member { .. }), _) => Some(listed),
        (_, Some(confirmed)) => Some(confirmed),
        (Some(listed), None) if left_recorded(obs.status) => Some(listed),
        _ => None,
    }
}

/// AWS no longer knows the recorded handshake. An end the status recorded stands; otherwise
/// membership says what happened: a member joined (the acceptance was purged), else the
/// invitation ended unseen and is treated as expired (the re-invite policy decides).
fn follow_gone(obs: &Observation<'_>, mut plan: Plan, recorded: &HandshakeStatus, organization_id: &str) -> Decision {
    let recorded_state = HandshakeState::parse(&recorded.state);
    let ended = match recorded_state {
        Some(HandshakeState::Declined) => Some(Ended::Declined),
        Some(HandshakeState::Expired) => Some(Ended::Expired),
        Some(HandshakeState::Canceled) => Some(Ended::Canceled),
        _ => None,
    };
    if let Some(ended) = ended {
        return decide_ended(obs, plan, recorded, ended, organization_id);
    }
    let (account, id) = (&obs.spec.account_id, &recorded.id);
    match obs.listed_membership.as_ref().or(obs.membership.as_ref()) {
        None => Decision::Observe(Need::Membership),
        Some(Membership::Member { joined_at }) => {
            let message = format!("Account {account} joined {organization_id}");
            if recorded_state != Some(HandshakeState::Accepted) {
                plan.note(
                    false,
                    EventReason::Accepted,
                    format!(
                        "Account {account} accepted invitation {id} and joined {organization_id} (AWS no longer lists \
                         the invitation: it drops ended ones after 30 days)"
                    ),
                );
            }
            let joined = record_joined(obs, &mut plan, organization_id, *joined_at, Reason::Accepted, message);
            decide_iam(obs, plan, Some(joined))
        }
        Some(Membership::NotMember) if recorded_state == Some(HandshakeState::Accepted) => {
            decide_ended(obs, plan, recorded, Ended::Left, organization_id)
        }
        Some(Membership::NotMember) => decide_ended(obs, plan, recorded, Ended::Vanished, organization_id),
    }
}

/// Joined earlier, now not a member (left, removed, or moved to another organization): Ready
/// goes False with its own reason and a Warning; no invitation is sent by itself.
fn account_left(obs: &Observation<'_>, mut plan: Plan, organization_id: &str) -> Decision {
    let account = &obs.spec.account_id;
    let message = format!(
        "Account {account} is no longer a member of {organization_id}: it left, was removed, or moved to another \
         organization. The operator does not invite it again by itself; ask the account owner, then set annotation \
         {REINVITE_ANNOTATION} to a new value to send an invitation"
    );
    plan.note(true, EventReason::AccountLeftOrganization, message.clone());
    plan.stand(
        obs,
        Standing::Ended {
            reason: Reason::AccountLeftOrganization,
            message,
        },
    );
    plan.act()
}

/// Whether the status records that the account left the organization after joining.
fn left_recorded(status: &AwsAccountInviteStatus) -> bool {
    cond::find(&status.conditions, cond::ACCOUNT_JOINED)
        .is_some_and(|c| c.status == "False" && c.reason == Reason::AccountLeftOrganization.as_str())
}

/// Invitations used: what the status recorded or what AWS lists for this invite, whichever is more.
fn attempts_used(obs: &Observation<'_>) -> u32 {
    obs.status.attempts.max(obs.sent_since_created)
}

/// How a handshake ended without the account joining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Declined,
    Expired,
    Canceled,
    /// Accepted, but the account is no longer a member.
    Left,
    /// AWS no longer knows it and the account is not a member: it ended unseen (ended
    /// handshakes are listed for 30 days); treated as expired.
    Vanished,
}

impl Ended {
    fn reason(self) -> Reason {
        match self {
            Self::Declined => Reason::Declined,
            Self::Expired | Self::Vanished => Reason::Expired,
            Self::Canceled => Reason::Canceled,
            Self::Left => Reason::AccountLeftOrganization,
        }
    }

    fn event(self) -> EventReason {
        match self {
            Self::Declined => EventReason::Declined,
            Self::Expired | Self::Vanished => EventReason::Expired,
            Self::Canceled => EventReason::Canceled,
            Self::Left => EventReason::AccountLeftOrganization,
        }
    }

    /// `message` and what a person does to send another invitation.
    fn what_to_do(self, message: &str) -> String {
        let hint = match self {
            Self::Declined => " spec.reinvite.onDeclined is false;",
            Self::Expired | Self::Vanished => " spec.reinvite.onExpired is false;",
            Self::Canceled | Self::Left => "",
        };
        format!("{message}.{hint} set annotation {REINVITE_ANNOTATION} to a new value to send another invitation")
    }

    /// What happened, and whether the reinvite policy sends another invitation.
    fn describe(self, obs: &Observation<'_>, recorded: &HandshakeStatus, organization_id: &str) -> (String, bool) {
        let (account, id, policy) = (&obs.spec.account_id, &recorded.id, &obs.spec.reinvite);
        match self {
            Self::Declined => (
                format!("The owner of account {account} declined invitation {id}"),
                policy.on_declined,
            ),
            Self::Expired => (
                format!("Invitation {id} to account {account} expired unanswered after 15 days"),
                policy.on_expired,
            ),
            Self::Vanished => (
                format!(
                    "Invitation {id} to account {account} is no longer known to AWS (it lists an ended invitation for \
                     30 days) and the account is not a member of {organization_id}: treated as expired"
                ),
                policy.on_expired,
            ),
            Self::Canceled => {
                let resend_due = resend_after(obs.spec)
                    .zip(recorded.requested_at.as_ref())
                    .is_some_and(|(after, at)| elapsed_since(obs.now, at.0) >= after);
                (format!("Invitation {id} to account {account} was canceled"), resend_due)
            }
            Self::Left => (
                format!(
                    "Account {account} accepted invitation {id} but is no longer a member of {organization_id}: it left \
                     the organization. Ask the account owner why, then set annotation {REINVITE_ANNOTATION} to a new \
                     value to invite it again"
                ),
                false,
            ),
        }
    }
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
fn decide_open(obs: &Observation<'_>, plan: Plan, recorded: &HandshakeStatus) -> Decision {
    let attempts_left = attempts_used(obs) < obs.spec.reinvite.max_attempts;
    // A new value of the reinvite annotation: "I got no email".
    let mut plan = match new_reinvite_request(obs) {
        Some(request) => match reinvite(obs, plan, recorded, request, attempts_left) {
            ControlFlow::Break(decision) => return decision,
            ControlFlow::Continue(plan) => plan,
        },
        None => plan,
    };
    // The resendAfter timer.
    if let (Some(after), Some(requested)) = (resend_after(obs.spec), recorded.requested_at.as_ref()) {
        let due = later(
            requested.0,
            SignedDuration::try_from(after).unwrap_or(SignedDuration::MAX),
        );
        if obs.now >= due && attempts_left {
            return resend(obs, plan, recorded, None);
        }
        if obs.now < due && attempts_left {
            plan.requeue_after = Some(until(obs.now, due));
        }
    }
    let message = invited_message(obs, recorded);
    plan.stand(obs, Standing::Invited { message });
    let expiry = recorded
        .expires_at
        .as_ref()
        .map(|t| t.0)
        .or_else(|| recorded.requested_at.as_ref().map(|t| later(t.0, HANDSHAKE_LIFETIME)));
    // AWS marks it EXPIRED and the sweep wakes the invite; this is only a safety net, and
    // never a loop once the expiry is past.
    let to_expiry = expiry
        .filter(|e| *e > obs.now)
        .map(|e| until(obs.now, e) + Duration::from_secs(1));
    plan.requeue_after = [plan.requeue_after, to_expiry, Some(Duration::from_secs(3600))]
        .into_iter()
        .flatten()
        .min();
    plan.act()
}

/// A new reinvite request for an open invitation: resend now, at the 5-minute floor, or (all
/// attempts used) refuse it with an event and keep waiting.
fn reinvite(
    obs: &Observation<'_>,
    mut plan: Plan,
    recorded: &HandshakeStatus,
    request: &str,
    attempts_left: bool,
) -> ControlFlow<Decision, Plan> {
    if !attempts_left {
        plan.status.last_reinvite_request = Some(request.to_owned());
        let max = obs.spec.reinvite.max_attempts;
        let message = format!(
            "Reinvite {request:?} ignored: all {max} attempts of spec.reinvite.maxAttempts are used; raise it to send \
             another invitation"
        );
        plan.note(true, EventReason::ReinviteRefused, message);
        return ControlFlow::Continue(plan);
    }
    let Some(wait) = until_floor(obs, recorded.requested_at.as_ref()) else {
        return ControlFlow::Break(resend(obs, plan, recorded, Some(request.to_owned())));
    };
    let note = format!(
        "Reinvite {request:?} will be honoured {}s from now: invitations are at least 5 minutes apart",
        wait.as_secs()
    );
    let message = invited_message(obs, recorded);
    plan.stand(obs, Standing::Reinviting { message, note });
    plan.requeue_after = Some(wait);
    ControlFlow::Break(plan.act())
}

/// How long until the 5-minute floor since the last invitation (`status.lastInvitedAt`, else
/// `sent_at`) passes; None when it has.
fn until_floor(obs: &Observation<'_>, sent_at: Option<&Time>) -> Option<Duration> {
    let last_sent = obs.status.last_invited_at.as_ref().or(sent_at)?;
    let floor = later(
        last_sent.0,
        SignedDuration::from_secs(MIN_REINVITE_INTERVAL_SECS as i64),
    );
    (obs.now < floor).then(|| until(obs.now, floor))
}

/// Cancel the open invitation and send a new one (or adopt, or queue).
fn resend(obs: &Observation<'_>, mut plan: Plan, recorded: &HandshakeStatus, request: Option<String>) -> Decision {
    // Another pending invitation (a resend whose reply was lost) is adopted, never doubled.
    if let Some(pending) = &obs.pending_for_account
        && pending.id != recorded.id
    {
        adopt(obs, &mut plan, pending);
        return plan.act();
    }
    let mut decision = send_or_queue(obs, plan, request);
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

/// The recorded handshake ended without the account joining: resend when the policy or a
/// reinvite request says so and attempts are left, else stall.
fn decide_ended(
    obs: &Observation<'_>,
    mut plan: Plan,
    recorded: &HandshakeStatus,
    ended: Ended,
    organization_id: &str,
) -> Decision {
    let (message, policy_resends) = ended.describe(obs, recorded, organization_id);
    let why = ended.reason();
    let request = new_reinvite_request(obs).map(str::to_owned);
    let attempts_left = attempts_used(obs) < obs.spec.reinvite.max_attempts;
    let was_pending = HandshakeState::parse(&recorded.state).is_some_and(|s| s.is_pending());
    if was_pending {
        plan.note(true, ended.event(), message.clone());
    }
    if let Some(pending) = &obs.pending_for_account
        && pending.id != recorded.id
    {
        adopt(obs, &mut plan, pending);
        return plan.act();
    }
    let wants_another = policy_resends || request.is_some();
    if wants_another && attempts_left {
        if let Some(wait) = until_floor(obs, None) {
            let note = format!("{message}; a new invitation goes out once 5 minutes have passed since the last");
            plan.stand(
                obs,
                Standing::Resending {
                    reason: why,
                    message,
                    note,
                },
            );
            plan.requeue_after = Some(wait);
            return plan.act();
        }
        return send_or_queue(obs, plan, request);
    }
    let (why, message) = if attempts_left || !wants_another {
        (why, ended.what_to_do(&message))
    } else {
        let max = obs.spec.reinvite.max_attempts;
        let message = format!(
            "{message}. All {max} invitations allowed by spec.reinvite.maxAttempts were sent; raise it to try again"
        );
        (Reason::MaxAttemptsReached, message)
    };
    if let Some(request) = request {
        plan.status.last_reinvite_request = Some(request);
    }
    if obs.status.phase != Some(InvitePhase::Failed) || !cond::is_true(&obs.status.conditions, cond::STALLED) {
        plan.note(true, EventReason::Stalled, message.clone());
    }
    plan.stand(obs, Standing::Ended { reason: why, message });
    plan.requeue_after = None;
    plan.act()
}

/// Send when the daily budget has room, else queue.
fn send_or_queue(obs: &Observation<'_>, mut plan: Plan, request: Option<String>) -> Decision {
    let ProfileView::Ready {
        budget_left,
        budget_frees_at,
        ..
    } = &obs.profile
    else {
        return plan.act();
    };
    if *budget_left > 0 {
        plan.stand(obs, Standing::Sending);
        plan.action = Action::SendInvitation {
            reinvite_request: request,
        };
        return plan.act();
    }
    let message = format!(
        "BillingProfile {:?} has no room left in its daily invitations (spec.invitationsPerDay, or this \
         namespace's share, spec.invitationsPerNamespacePerDay); this invite is queued{}",
        obs.spec.billing_profile,
        budget_frees_at.map(|t| format!(" until about {t}")).unwrap_or_default()
    );
    if obs.status.phase != Some(InvitePhase::Queued) {
        plan.note(false, EventReason::Queued, message.clone());
    }
    plan.stand(obs, Standing::Queued { message });
    let frees = budget_frees_at.map(|t| until(obs.now, t) + Duration::from_secs(1));
    plan.requeue_after = Some(frees.unwrap_or(SLOW_REQUEUE).min(SLOW_REQUEUE));
    plan.act()
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
    let mut recorded = handshake_status(handshake);
    // Just sent: requested now, whatever the answer omitted.
    recorded.requested_at.get_or_insert(Time(now));
    status.handshake = Some(recorded);
    status.attempts = status.attempts.saturating_add(1);
    status.last_invited_at = Some(Time(now));
    if let Some(request) = reinvite_request {
        status.last_reinvite_request = Some(request);
    }
    let lead = format!(
        "Invitation {} sent to account {} (attempt {} of {}); waiting for the account owner to accept it",
        handshake.id, spec.account_id, status.attempts, spec.reinvite.max_attempts
    );
    let message = with_acceptance_advice(status, &lead, now);
    standing::write(status, &Standing::Invited { message }, generation, now);
    EventNote {
        warning: false,
        reason: if reinvite {
            EventReason::ReInvited
        } else {
            EventReason::InvitationSent
        },
        message: lead,
    }
}

/// How a failed InviteAccountToOrganization (or its cancel) is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// Throttling, 5xx, network: retried with backoff.
    Retryable { reason: Reason, message: String },
    /// The organization's daily invitation quota (AWS's own): queued.
    DailyQuota { message: String },
    /// Needs a change (account quota, invalid input, account cannot join): stalled.
    Terminal { reason: Reason, message: String },
    /// The profile's credentials or organization do not work.
    Profile { reason: Reason, message: String },
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
    let account = &spec.account_id;
    let (standing, event, requeue) = match failure {
        SendFailure::Retryable { reason, message } => {
            let message = format!(
                "AWS did not answer the invitation for account {account} ({reason}): {message}; retrying with backoff"
            );
            (Standing::AwsUnavailable { message }, EventReason::AwsUnavailable, None)
        }
        SendFailure::DailyQuota { message } => {
            let message = format!(
                "AWS refused the invitation: the organization's daily invitation quota is used up ({message}); queued"
            );
            (
                Standing::Queued { message },
                EventReason::Queued,
                Some(Duration::from_secs(3600)),
            )
        }
        SendFailure::Terminal { reason, message } => (
            Standing::Refused {
                reason: *reason,
                message: message.clone(),
            },
            EventReason::Stalled,
            None,
        ),
        SendFailure::Profile { reason, .. } => {
            // AWS's text names the payer's principal and organization: for the profile's
            // administrators (the profile's status and the operator's log), not for tenants.
            let profile = &spec.billing_profile;
            let message = format!(
                "AWS refused the billing profile's credentials ({reason}); BillingProfile {profile:?} needs its \
                 administrator"
            );
            let standing = Standing::ProfileRefused {
                reason: *reason,
                message,
            };
            (standing, EventReason::BillingProfileNotReady, Some(PROFILE_REQUEUE))
        }
    };
    let message = standing.message().to_owned();
    standing::write(status, &standing, generation, now);
    let note = EventNote {
        warning: true,
        reason: event,
        message,
    };
    (note, requeue)
}

fn adopt(obs: &Observation<'_>, plan: &mut Plan, pending: &Handshake) {
    push_history(&mut plan.status, obs.now);
    plan.status.handshake = Some(handshake_status(pending));
    // The adopted invitation counts once, whether AWS lists it since the invite's creation or not.
    plan.status.attempts = obs.status.attempts.saturating_add(1).max(obs.sent_since_created);
    plan.status.last_invited_at = Some(Time(pending.requested_at.map_or(obs.now, |r| obs.now.min(r))));
    // The condition says what the next reconciles will say of this invitation (one status write
    // per adoption, issue 14); the Event says it was adopted.
    let lead = format!(
        "Invitation {} sent to account {} (attempt {} of {}); waiting for the account owner to accept it",
        pending.id, obs.spec.account_id, plan.status.attempts, obs.spec.reinvite.max_attempts
    );
    let message = with_acceptance_advice(&plan.status, &lead, obs.now);
    plan.stand(obs, Standing::Invited { message });
    let adopted = format!(
        "Adopted open invitation {} to account {} (sent earlier, not yet recorded); waiting for the account owner to \
         accept it",
        pending.id, obs.spec.account_id
    );
    plan.note(false, EventReason::Adopted, adopted);
    plan.requeue_after = Some(Duration::from_secs(3600));
}

/// What the account owner must do when the invited account already belongs to an organization:
/// AWS only tells the invitee (when accepting), never the inviting organization, so every
/// AwaitingAcceptance message carries it.
pub const ANOTHER_ORGANIZATION_ADVICE: &str = "If the account is a member of another organization, accepting moves it \
     here (if AWS refuses, its owner leaves that organization first: Organizations console, Leave organization). If it \
     is the management account of another organization, it cannot join until its owner removes all member accounts \
     from that organization and deletes it (Organizations console, Settings, Delete organization); then accept. To keep \
     that organization instead, use a BillingTransfer: the payer takes over its bill (AWS billing transfer).";

/// `lead` says which invitation ("... waiting for the account owner to accept it"); the message
/// adds where, until when (never a time already past at `now`), and what an account in another
/// organization must do first.
fn with_acceptance_advice(status: &AwsAccountInviteStatus, lead: &str, now: Timestamp) -> String {
    // Whole seconds, as the status records the expiry (a Kubernetes Time is written in whole
    // seconds): the message is the same whether the expiry came from AWS's answer or the status.
    let expires = match status.handshake.as_ref().and_then(|h| h.expires_at.as_ref()) {
        Some(t) if t.0 > now => format!(" before it expires at {}", whole_seconds(t.0)),
        Some(t) => format!(" (its expiry, {}, has passed: AWS ends it shortly)", whole_seconds(t.0)),
        None => String::new(),
    };
    format!("{lead} in the AWS Organizations console{expires}. {ANOTHER_ORGANIZATION_ADVICE}")
}

/// `t` without its fraction of a second.
fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

fn invited_message(obs: &Observation<'_>, recorded: &HandshakeStatus) -> String {
    let lead = format!(
        "Invitation {} sent to account {} (attempt {} of {}); waiting for the account owner to accept it",
        recorded.id,
        obs.spec.account_id,
        attempts_used(obs),
        obs.spec.reinvite.max_attempts
    );
    with_acceptance_advice(obs.status, &lead, obs.now)
}

/// Records the join facts (when, where) and returns how the account joined, for the standing.
fn record_joined(
    obs: &Observation<'_>,
    plan: &mut Plan,
    organization_id: &str,
    joined_at: Option<Timestamp>,
    how: Reason,
    message: String,
) -> Joined {
    let status = &mut plan.status;
    status.joined_at = Some(Time(joined_at.unwrap_or(obs.now)));
    status.organization_id = Some(organization_id.to_owned());
    Joined {
        how,
        invitation_sent: how != Reason::AlreadyMember || status.handshake.is_some(),
        message,
    }
}

/// Joined: the IAM access step decides Ready.
fn decide_iam(obs: &Observation<'_>, mut plan: Plan, joined: Option<Joined>) -> Decision {
    let account = &obs.spec.account_id;
    let Some(iam) = &obs.spec.iam_access else {
        let message = format!("Account {account} is a member; no IAM access step is required");
        return iam_done(obs, plan, joined, Reason::NotRequired, message);
    };
    let already = cond::find(&obs.status.conditions, cond::IAM_ACCESS_VERIFIED).is_some_and(|c| {
        c.status == "True" && c.observed_generation == obs.generation && c.reason != Reason::NotRequired
    });
    if already {
        let message = format!(
            "Account {account} is a member and IAM role {} is in place",
            iam.role_name
        );
        ready(obs, &mut plan, joined, None, message);
        return plan.act();
    }
    match iam.verification.or(obs.profile_verification).unwrap_or_default() {
        IamVerification::Manual => manual_iam(obs, plan, joined, iam),
        IamVerification::Automatic => automatic_iam(obs, plan, joined, iam),
    }
}

/// Manual verification: a person confirms with the annotation.
fn manual_iam(obs: &Observation<'_>, mut plan: Plan, joined: Option<Joined>, iam: &IamAccess) -> Decision {
    let Some(who) = &obs.iam_confirmed else {
        let with_external_id = if iam.external_id.is_some() || iam.external_id_secret_ref.is_some() {
            " with the external ID"
        } else {
            ""
        };
        let message = format!(
            "Waiting for a person to confirm that account {} created role {} trusting {}{with_external_id}: set \
             annotation {IAM_ACCESS_CONFIRMED_ANNOTATION}: \"true\"",
            obs.spec.account_id, iam.role_name, iam.trusted_principal
        );
        return waiting_on_iam(obs, plan, joined, Reason::AwaitingManualConfirmation, message);
    };
    // Without the chart's admission policy, the confirmed-by annotation may hold anything up to
    // the annotation size limit: only a plausible user name is copied into status and messages.
    let (who, by) = match who.as_deref() {
        Some(name) if is_user_name(name) => (Some(name.to_owned()), format!(" by {name}")),
        Some(_) => (
            None,
            format!(
                " (annotation {IAM_ACCESS_CONFIRMED_BY_ANNOTATION} not recorded: not a user name of at most \
                 {MAX_USER_NAME_LEN} characters)"
            ),
        ),
        None => (None, String::new()),
    };
    let message = format!("IAM access to role {} confirmed by hand{by}", iam.role_name);
    plan.status.iam_access_confirmation = Some(ManualConfirmation {
        confirmed_by: who,
        confirmed_at: Time(obs.now),
    });
    plan.note(false, EventReason::IamAccessConfirmed, message.clone());
    iam_done(obs, plan, joined, Reason::ConfirmedManually, message)
}

/// The longest confirmer name recorded (a Kubernetes object name's limit; user names from
/// certificates, OIDC or service accounts fit).
const MAX_USER_NAME_LEN: usize = 253;

/// Whether `name` may be recorded as who confirmed: 1 to [`MAX_USER_NAME_LEN`] characters, no
/// control characters.
fn is_user_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= MAX_USER_NAME_LEN && !name.chars().any(char::is_control)
}

/// Automatic verification: the operator checks the role in the member account, again and
/// again (slower as time passes) until it is in place.
fn automatic_iam(obs: &Observation<'_>, mut plan: Plan, joined: Option<Joined>, iam: &IamAccess) -> Decision {
    match &obs.iam {
        None => Decision::Observe(Need::IamAccess),
        Some(IamCheck::Verified) => {
            let message = format!(
                "Role {} in account {} trusts {} as required",
                iam.role_name, obs.spec.account_id, iam.trusted_principal
            );
            plan.note(false, EventReason::IamAccessVerified, message.clone());
            iam_done(obs, plan, joined, Reason::Verified, message)
        }
        Some(IamCheck::Missing { reason, message }) => {
            let joined_at = obs.status.joined_at.as_ref().map(|t| t.0).unwrap_or(obs.now);
            let since = elapsed_since(obs.now, joined_at);
            plan.requeue_after = Some((since / 10).clamp(Duration::from_secs(30), Duration::from_secs(1800)));
            waiting_on_iam(obs, plan, joined, *reason, message.clone())
        }
    }
}

/// Joined; the IAM access step waits on a person (the role, or the confirmation).
fn waiting_on_iam(
    obs: &Observation<'_>,
    mut plan: Plan,
    joined: Option<Joined>,
    reason: Reason,
    message: String,
) -> Decision {
    plan.stand(
        obs,
        Standing::WaitingOnIam {
            joined,
            reason,
            message,
        },
    );
    plan.act()
}

fn iam_done(obs: &Observation<'_>, mut plan: Plan, joined: Option<Joined>, how: Reason, message: String) -> Decision {
    ready(obs, &mut plan, joined, Some((how, message.clone())), message);
    plan.act()
}

fn ready(
    obs: &Observation<'_>,
    plan: &mut Plan,
    joined: Option<Joined>,
    iam: Option<(Reason, String)>,
    message: String,
) {
    if obs.status.phase != Some(InvitePhase::Ready) {
        plan.note(false, EventReason::Ready, message.clone());
    }
    plan.stand(obs, Standing::Ready { joined, iam, message });
}

/// Stalled: nothing progresses without a change by a person (an event the first time).
fn stall(obs: &Observation<'_>, plan: &mut Plan, reason: Reason, message: String) {
    if obs.status.phase != Some(InvitePhase::Failed) || !cond::is_true(&obs.status.conditions, cond::STALLED) {
        plan.note(true, EventReason::Stalled, message.clone());
    }
    plan.stand(obs, Standing::Stalled { reason, message });
    plan.requeue_after = None;
}

fn is_joined(status: &AwsAccountInviteStatus) -> bool {
    status.joined_at.is_some() && cond::is_true(&status.conditions, cond::ACCOUNT_JOINED)
}

/// A new value of the reinvite annotation (not the one last honoured), valid by its grammar.
fn new_reinvite_request<'a>(obs: &Observation<'a>) -> Option<&'a str> {
    obs.reinvite_request.filter(|value| {
        check_reinvite_value(value).is_ok() && obs.status.last_reinvite_request.as_deref() != Some(*value)
    })
}

/// Why a new value of the reinvite annotation is refused (the value breaks its grammar).
fn invalid_reinvite_request(obs: &Observation<'_>) -> Option<crate::api::ReinviteValueError> {
    let value = obs.reinvite_request?;
    if obs.status.last_reinvite_request.as_deref() == Some(value) {
        return None;
    }
    check_reinvite_value(value).err()
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
        arn: h.arn.clone(),
        state: h.state.as_str().to_owned(),
        requested_at: h.requested_at.map(Time),
        expires_at: h.expires_at.map(Time),
    }
}

/// Updates the recorded handshake (same ID) from what AWS says now; what this answer omits
/// (every member of a Handshake is optional in the model) keeps its recorded value.
fn update_handshake_status(status: &mut AwsAccountInviteStatus, h: &Handshake) {
    if let Some(current) = status.handshake.as_mut()
        && current.id == h.id
    {
        let fresh = handshake_status(h);
        *current = HandshakeStatus {
            arn: fresh.arn.or_else(|| current.arn.take()),
            requested_at: fresh.requested_at.or_else(|| current.requested_at.take()),
            expires_at: fresh.expires_at.or_else(|| current.expires_at.take()),
            ..fresh
        };
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

/// `t` plus `d`, or "never" ([`Timestamp::MAX`]) past the end of time: a timestamp from AWS or a
/// status may be anything jiff can hold, and `Timestamp + SignedDuration` panics on overflow.
fn later(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
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
