//! Table and property tests of the invite decision.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::api::{IamAccess, ReinvitePolicy};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

const T0: &str = "2026-11-01T00:00:00Z";

fn spec() -> AwsAccountInviteSpec {
    AwsAccountInviteSpec {
        billing_profile: "payer".into(),
        account_id: "222222222222".into(),
        notes: None,
        tags: BTreeMap::new(),
        reinvite: ReinvitePolicy::default(),
        iam_access: None,
        deletion_policy: Default::default(),
    }
}

fn ready_profile(budget_left: u32) -> ProfileView {
    ProfileView::Ready {
        organization_id: "o-exampleorg1".into(),
        budget_left,
        budget_frees_at: None,
    }
}

fn handshake(id: &str, state: HandshakeState, requested: &str) -> Handshake {
    let requested_at = ts(requested);
    Handshake {
        id: id.into(),
        arn: Some(format!(
            "arn:aws:organizations::111111111111:handshake/o-exampleorg1/invite/{id}"
        )),
        state,
        account_id: Some("222222222222".into()),
        requested_at: Some(requested_at),
        expires_at: Some(requested_at + SignedDuration::from_hours(360)),
    }
}

fn invited_status(h: &Handshake, attempts: u32) -> AwsAccountInviteStatus {
    let mut status = AwsAccountInviteStatus::default();
    let spec = spec();
    for _ in 0..attempts.saturating_sub(1) {
        status.attempts += 1;
    }
    record_sent(&mut status, &spec, Some(1), h, None, h.requested_at.expect("requested"));
    status
}

fn observe<'a>(spec: &'a AwsAccountInviteSpec, status: &'a AwsAccountInviteStatus, now: &str) -> Observation<'a> {
    Observation {
        spec,
        status,
        generation: Some(1),
        reinvite_request: None,
        iam_confirmed: None,
        profile: ready_profile(20),
        profile_verification: None,
        membership: None,
        listed_membership: None,
        recorded_handshake: None,
        handshake_gone: false,
        sent_since_created: 0,
        pending_for_account: None,
        iam: None,
        now: ts(now),
    }
}

fn act(decision: Decision) -> Plan {
    match decision {
        Decision::Act(plan) => plan,
        other => panic!("expected a plan, got {other:?}"),
    }
}

fn condition<'a>(plan: &'a Plan, type_: &str) -> (&'a str, &'a str) {
    let c = cond::find(&plan.status.conditions, type_).unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.as_str(), c.reason.as_str())
}

#[test]
fn missing_profile_waits_without_aws() {
    let (spec, status) = (spec(), AwsAccountInviteStatus::default());
    let mut obs = observe(&spec, &status, T0);
    obs.profile = ProfileView::Missing;
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        condition(&plan, cond::RECONCILING),
        ("True", Reason::BillingProfileNotFound.as_str())
    );
    assert_eq!(condition(&plan, cond::STALLED).0, "False");
    assert!(plan.requeue_after.is_some());
}

#[test]
fn namespace_not_allowed_stalls_without_aws() {
    let (spec, status) = (spec(), AwsAccountInviteStatus::default());
    let mut obs = observe(&spec, &status, T0);
    obs.profile = ProfileView::NotAllowed {
        namespace: "web".into(),
    };
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        condition(&plan, cond::STALLED),
        ("True", Reason::BillingProfileNotAllowed.as_str())
    );
    assert_eq!(plan.status.phase, Some(InvitePhase::Failed));
    assert!(plan.events.iter().any(|e| e.warning));
}

#[test]
fn an_account_claimed_by_another_invite_stalls_without_aws_and_looks_again_later() {
    let (spec, status) = (spec(), AwsAccountInviteStatus::default());
    let mut obs = observe(&spec, &status, T0);
    obs.profile = ProfileView::AccountClaimed;
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        condition(&plan, cond::STALLED),
        ("True", Reason::AccountClaimed.as_str())
    );
    assert_eq!(plan.status.phase, Some(InvitePhase::Failed));
    assert!(plan.status.handshake.is_none() && plan.status.joined_at.is_none());
    // The owner's release wakes it; an owner gone without releasing is noticed by a requeue.
    assert!(plan.requeue_after.is_some());
}

#[test]
fn profile_not_ready_is_reconciling_with_the_profile_reason_in_the_message() {
    let (spec, status) = (spec(), AwsAccountInviteStatus::default());
    let mut obs = observe(&spec, &status, T0);
    obs.profile = ProfileView::NotReady {
        reason: "AccessDenied".into(),
        message: "not the management account".into(),
    };
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    let ready = cond::find(&plan.status.conditions, cond::READY).expect("ready");
    assert_eq!(ready.reason, Reason::BillingProfileNotReady.as_str());
    assert!(ready.message.contains("AccessDenied"), "{}", ready.message);
}

#[test]
fn first_look_asks_for_membership_then_sends() {
    let (spec, status) = (spec(), AwsAccountInviteStatus::default());
    let mut obs = observe(&spec, &status, T0);
    assert_eq!(decide(&obs), Decision::Observe(Need::Membership));
    obs.membership = Some(Membership::NotMember);
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::SendInvitation { reinvite_request: None });
    assert_eq!(
        condition(&plan, cond::RECONCILING),
        ("True", Reason::SendingInvitation.as_str())
    );
}

#[test]
fn existing_member_is_adopted_without_an_invitation() {
    let (spec, status) = (spec(), AwsAccountInviteStatus::default());
    let mut obs = observe(&spec, &status, T0);
    obs.membership = Some(Membership::Member {
        joined_at: Some(ts("2025-01-01T00:00:00Z")),
    });
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        condition(&plan, cond::ACCOUNT_JOINED),
        ("True", Reason::AlreadyMember.as_str())
    );
    assert_eq!(condition(&plan, cond::READY).0, "True");
    assert_eq!(plan.status.phase, Some(InvitePhase::Ready));
    assert_eq!(plan.status.attempts, 0);
}

#[test]
fn an_open_invitation_left_by_a_crash_is_adopted_not_resent() {
    let (spec, status) = (spec(), AwsAccountInviteStatus::default());
    let mut obs = observe(&spec, &status, T0);
    obs.membership = Some(Membership::NotMember);
    obs.pending_for_account = Some(handshake("h-crashed0001", HandshakeState::Open, T0));
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        plan.status.handshake.as_ref().map(|h| h.id.as_str()),
        Some("h-crashed0001")
    );
    assert_eq!(plan.status.attempts, 1);
    assert_eq!(plan.status.phase, Some(InvitePhase::Invited));
}

#[test]
fn no_budget_queues() {
    let (spec, status) = (spec(), AwsAccountInviteStatus::default());
    let mut obs = observe(&spec, &status, T0);
    obs.membership = Some(Membership::NotMember);
    obs.profile = ProfileView::Ready {
        organization_id: "o-exampleorg1".into(),
        budget_left: 0,
        budget_frees_at: Some(ts("2026-11-01T02:00:00Z")),
    };
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(plan.status.phase, Some(InvitePhase::Queued));
    assert_eq!(
        condition(&plan, cond::RECONCILING),
        ("True", Reason::QuotaExhausted.as_str())
    );
    assert_eq!(
        condition(&plan, cond::INVITATION_SENT),
        ("False", Reason::QuotaExhausted.as_str())
    );
    assert!(plan.requeue_after.is_some_and(|d| d <= Duration::from_secs(300)));
    assert_eq!(plan.events.len(), 1);
}

#[test]
fn open_invitation_awaits_acceptance_neither_reconciling_nor_stalled() {
    let spec = spec();
    let h = handshake("h-open00000001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let mut obs = observe(&spec, &status, "2026-11-01T01:00:00Z");
    obs.recorded_handshake = Some(h.clone());
    obs.pending_for_account = Some(h);
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        condition(&plan, cond::INVITATION_SENT),
        ("True", Reason::AwaitingAcceptance.as_str())
    );
    assert_eq!(condition(&plan, cond::RECONCILING).0, "False");
    assert_eq!(condition(&plan, cond::STALLED).0, "False");
    assert!(
        cond::find(&plan.status.conditions, cond::READY).is_none(),
        "no Ready=False while a person decides (kstatus would say InProgress)"
    );
    assert_eq!(plan.status.phase, Some(InvitePhase::Invited));
    assert!(plan.requeue_after.is_some_and(|d| d <= Duration::from_secs(3600)));
}

#[test]
fn resend_after_cancels_and_resends_once_due() {
    let mut spec = spec();
    spec.reinvite.resend_after = Some("30m".into());
    let h = handshake("h-open00000001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let mut obs = observe(&spec, &status, "2026-11-01T00:20:00Z");
    obs.recorded_handshake = Some(h.clone());
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(600)));
    obs.now = ts("2026-11-01T00:30:00Z");
    let plan = act(decide(&obs));
    assert_eq!(
        plan.action,
        Action::CancelAndResend {
            handshake_id: h.id.clone(),
            reinvite_request: None
        }
    );
}

#[test]
fn reinvite_annotation_honours_the_five_minute_floor_once_per_value() {
    let spec = spec();
    let h = handshake("h-open00000001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let mut obs = observe(&spec, &status, "2026-11-01T00:02:00Z");
    obs.recorded_handshake = Some(h.clone());
    obs.reinvite_request = Some("no-email-1");
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None, "too soon after the last invitation");
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(180)));
    obs.now = ts("2026-11-01T00:05:00Z");
    let plan = act(decide(&obs));
    assert_eq!(
        plan.action,
        Action::CancelAndResend {
            handshake_id: h.id.clone(),
            reinvite_request: Some("no-email-1".into())
        }
    );
    // Once honoured (recorded), the same value does nothing more.
    let mut honoured = status.clone();
    honoured.last_reinvite_request = Some("no-email-1".into());
    let mut obs = observe(&spec, &honoured, "2026-11-01T01:00:00Z");
    obs.recorded_handshake = Some(h);
    obs.reinvite_request = Some("no-email-1");
    assert_eq!(act(decide(&obs)).action, Action::None);
}

#[test]
fn an_invalid_reinvite_value_stalls_without_sending_or_copying_it_and_a_valid_one_works() {
    let spec = spec();
    let h = handshake("h-open00000001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let huge = "x".repeat(256 * 1024 - 100);
    for bad in [
        huge.as_str(),
        "",
        "two words",
        "2026-11-30T10:00:00+01:00",
        &"a".repeat(64),
    ] {
        let mut obs = observe(&spec, &status, "2026-11-01T01:00:00Z");
        obs.recorded_handshake = Some(h.clone());
        obs.reinvite_request = Some(bad);
        let plan = act(decide(&obs));
        assert_eq!(plan.action, Action::None, "{bad:.20?}: nothing is sent");
        assert_eq!(condition(&plan, cond::STALLED), ("True", "ReinviteRequestInvalid"));
        assert_eq!(plan.status.last_reinvite_request, None, "{bad:.20?} is not recorded");
        let messages = plan.status.conditions.iter().map(|c| c.message.as_str());
        let events = plan.events.iter().map(|e| e.message.as_str());
        for text in messages.chain(events) {
            assert!(text.len() < 2048, "a bounded message: {} bytes", text.len());
            if bad.len() > 4 {
                assert!(!text.contains(bad), "{bad:.20?} is not quoted: {text}");
            }
        }
        let stalled = cond::find(&plan.status.conditions, cond::STALLED).expect("Stalled");
        assert!(stalled.message.contains(REINVITE_ANNOTATION), "{}", stalled.message);
        assert!(stalled.message.contains("63 characters"), "{}", stalled.message);
        assert_eq!(plan.events.len(), 1, "one Warning the first time");

        // A later valid value is honoured (the ISO timestamp form included).
        let stalled_status = plan.status;
        let mut obs = observe(&spec, &stalled_status, "2026-11-01T01:00:00Z");
        obs.recorded_handshake = Some(h.clone());
        obs.reinvite_request = Some("2026-11-01T01:00:00Z");
        assert_eq!(
            act(decide(&obs)).action,
            Action::CancelAndResend {
                handshake_id: h.id.clone(),
                reinvite_request: Some("2026-11-01T01:00:00Z".into())
            }
        );
    }
}

#[test]
fn declined_stalls_by_default_and_resends_when_policy_says() {
    let mut spec = spec();
    let h = handshake("h-declined0001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let declined = Handshake {
        state: HandshakeState::Declined,
        ..h
    };
    let mut obs = observe(&spec, &status, "2026-11-01T01:00:00Z");
    obs.recorded_handshake = Some(declined.clone());
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(condition(&plan, cond::STALLED), ("True", Reason::Declined.as_str()));
    assert_eq!(plan.status.phase, Some(InvitePhase::Failed));
    assert!(plan.events.iter().any(|e| e.reason == Reason::Declined.as_str()));
    let message = &cond::find(&plan.status.conditions, cond::STALLED)
        .expect("stalled")
        .message;
    assert!(message.contains("onDeclined"), "{message}");

    spec.reinvite.on_declined = true;
    let mut obs = observe(&spec, &status, "2026-11-01T01:00:00Z");
    obs.recorded_handshake = Some(declined);
    obs.membership = Some(Membership::NotMember);
    assert_eq!(
        act(decide(&obs)).action,
        Action::SendInvitation { reinvite_request: None }
    );
}

#[test]
fn expired_is_reinvited_until_max_attempts() {
    let spec = spec();
    let h = handshake("h-expired00001", HandshakeState::Open, T0);
    let expired = Handshake {
        state: HandshakeState::Expired,
        ..h.clone()
    };
    let status = invited_status(&h, 1);
    let mut obs = observe(&spec, &status, "2026-11-16T00:00:01Z");
    obs.recorded_handshake = Some(expired.clone());
    assert_eq!(
        act(decide(&obs)).action,
        Action::SendInvitation { reinvite_request: None }
    );

    let exhausted = invited_status(&h, 3);
    let mut obs = observe(&spec, &exhausted, "2026-11-16T00:00:01Z");
    obs.recorded_handshake = Some(expired);
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        condition(&plan, cond::STALLED),
        ("True", Reason::MaxAttemptsReached.as_str())
    );
}

#[test]
fn a_resend_left_by_a_crash_is_adopted_not_sent_twice() {
    let spec = spec();
    let old = handshake("h-expired00001", HandshakeState::Open, T0);
    let status = invited_status(&old, 1);
    let mut obs = observe(&spec, &status, "2026-11-16T00:10:00Z");
    obs.recorded_handshake = Some(Handshake {
        state: HandshakeState::Expired,
        ..old
    });
    obs.pending_for_account = Some(handshake(
        "h-resent000001",
        HandshakeState::Open,
        "2026-11-16T00:05:00Z",
    ));
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        plan.status.handshake.as_ref().map(|h| h.id.as_str()),
        Some("h-resent000001")
    );
    assert_eq!(plan.status.attempts, 2);
    assert_eq!(plan.status.history.len(), 1);
    assert_eq!(plan.status.history[0].state, "EXPIRED");
}

#[test]
fn accepted_then_iam_access_automatic() {
    let mut spec = spec();
    spec.iam_access = Some(IamAccess {
        role_name: "CloudHealth".into(),
        trusted_principal: "arn:aws:iam::454464851268:root".into(),
        external_id: Some("ext-1".into()),
        external_id_secret_ref: None,
        verification: None,
    });
    let h = handshake("h-accepted0001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let mut obs = observe(&spec, &status, "2026-11-02T00:00:00Z");
    obs.recorded_handshake = Some(Handshake {
        state: HandshakeState::Accepted,
        ..h
    });
    assert_eq!(decide(&obs), Decision::Observe(Need::Membership));
    obs.membership = Some(Membership::Member {
        joined_at: Some(ts("2026-11-01T12:00:00Z")),
    });
    assert_eq!(decide(&obs), Decision::Observe(Need::IamAccess));
    obs.iam = Some(IamCheck::Missing {
        reason: Reason::RoleNotFound,
        message: "role CloudHealth does not exist in 222222222222".into(),
    });
    let plan = act(decide(&obs));
    assert_eq!(plan.status.phase, Some(InvitePhase::Joined));
    assert_eq!(
        condition(&plan, cond::ACCOUNT_JOINED),
        ("True", Reason::Accepted.as_str())
    );
    assert_eq!(condition(&plan, cond::IAM_ACCESS_VERIFIED), ("False", "RoleNotFound"));
    assert_eq!(condition(&plan, cond::IAM_ACCESS_VERIFIED), ("False", "RoleNotFound"));
    assert!(
        cond::find(&plan.status.conditions, cond::READY).is_none(),
        "waiting on the customer's role"
    );
    assert_eq!(condition(&plan, cond::STALLED).0, "False");
    assert!(plan.requeue_after.is_some());

    obs.iam = Some(IamCheck::Verified);
    let plan = act(decide(&obs));
    assert_eq!(plan.status.phase, Some(InvitePhase::Ready));
    assert_eq!(condition(&plan, cond::READY), ("True", Reason::Ready.as_str()));
    assert_eq!(
        condition(&plan, cond::IAM_ACCESS_VERIFIED),
        ("True", Reason::Verified.as_str())
    );
    assert!(plan.events.iter().any(|e| e.reason == "Ready"));

    // Once verified for this generation, it is not re-checked.
    let verified = plan.status.clone();
    let mut obs = observe(&spec, &verified, "2026-11-03T00:00:00Z");
    obs.iam = None;
    let plan = act(decide(&obs));
    assert_eq!(plan.status.phase, Some(InvitePhase::Ready));
    assert!(plan.events.is_empty(), "no repeated events: {:?}", plan.events);
}

/// The sweep lists members right after handshakes: an account that accepted between the two
/// listings is a member while its handshake still reads OPEN. It has joined now (not a poll
/// interval later, when the next sweep lists the handshake ACCEPTED), with no DescribeAccount;
/// that next sweep's ACCEPTED then goes into status.
#[test]
fn a_listed_member_with_its_invitation_still_open_has_joined() {
    let spec = spec();
    let h = handshake("h-lagging00001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let mut obs = observe(&spec, &status, "2026-11-02T00:00:00Z");
    obs.recorded_handshake = Some(h.clone());
    obs.listed_membership = Some(Membership::NotMember);
    let plan = act(decide(&obs));
    assert_eq!(
        plan.status.phase,
        Some(InvitePhase::Invited),
        "not a member: still open"
    );

    let joined_at = Some(ts("2026-11-01T12:00:00Z"));
    obs.listed_membership = Some(Membership::Member { joined_at });
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(plan.status.phase, Some(InvitePhase::Ready));
    assert_eq!(
        condition(&plan, cond::ACCOUNT_JOINED),
        ("True", Reason::Accepted.as_str())
    );
    assert!(plan.events.iter().any(|e| e.reason == "Accepted"));

    // The next sweep lists the handshake ACCEPTED: status follows, nothing else changes.
    let ready = plan.status.clone();
    let mut obs = observe(&spec, &ready, "2026-11-02T00:01:00Z");
    obs.listed_membership = Some(Membership::Member { joined_at });
    obs.recorded_handshake = Some(Handshake {
        state: HandshakeState::Accepted,
        ..h
    });
    let plan = act(decide(&obs));
    assert_eq!(plan.status.phase, Some(InvitePhase::Ready));
    assert_eq!(
        plan.status.handshake.as_ref().map(|r| r.state.as_str()),
        Some("ACCEPTED")
    );
    assert!(plan.events.is_empty(), "no repeated events: {:?}", plan.events);
}

#[test]
fn manual_iam_access_needs_the_annotation() {
    let mut spec = spec();
    spec.iam_access = Some(IamAccess {
        role_name: "CloudHealth".into(),
        trusted_principal: "arn:aws:iam::454464851268:root".into(),
        external_id: None,
        external_id_secret_ref: None,
        verification: Some(IamVerification::Manual),
    });
    let status = AwsAccountInviteStatus::default();
    let mut obs = observe(&spec, &status, T0);
    obs.membership = Some(Membership::Member { joined_at: None });
    let plan = act(decide(&obs));
    assert_eq!(
        condition(&plan, cond::IAM_ACCESS_VERIFIED),
        ("False", Reason::AwaitingManualConfirmation.as_str())
    );
    assert_eq!(plan.status.phase, Some(InvitePhase::Joined));
    obs.iam_confirmed = Some(Some("alice@example.com".into()));
    let plan = act(decide(&obs));
    assert_eq!(plan.status.phase, Some(InvitePhase::Ready));
    assert_eq!(
        plan.status
            .iam_access_confirmation
            .as_ref()
            .and_then(|c| c.confirmed_by.as_deref()),
        Some("alice@example.com")
    );
    // Without the admission policy the annotation may hold anything: never copied unbounded.
    let huge = "x".repeat(100_000);
    for bad in [huge.as_str(), "alice\nmallory"] {
        obs.iam_confirmed = Some(Some(bad.to_owned()));
        let plan = act(decide(&obs));
        assert_eq!(plan.status.phase, Some(InvitePhase::Ready), "still confirmed");
        let confirmation = plan.status.iam_access_confirmation.as_ref().expect("recorded");
        assert_eq!(confirmation.confirmed_by, None, "{bad:.20?} is not recorded");
        for text in plan
            .status
            .conditions
            .iter()
            .map(|c| c.message.as_str())
            .chain(plan.events.iter().map(|e| e.message.as_str()))
        {
            assert!(!text.contains(bad) && text.len() < 2048, "{text:.100}");
        }
        let iam = cond::find(&plan.status.conditions, cond::IAM_ACCESS_VERIFIED).expect("condition");
        assert!(
            iam.message.contains(IAM_ACCESS_CONFIRMED_BY_ANNOTATION),
            "{}",
            iam.message
        );
    }
}

#[test]
fn record_sent_counts_attempts_and_keeps_history() {
    let spec = spec();
    let mut status = AwsAccountInviteStatus::default();
    let first = handshake("h-first0000001", HandshakeState::Open, T0);
    let event = record_sent(&mut status, &spec, Some(1), &first, None, ts(T0));
    assert_eq!(event.reason, "InvitationSent");
    let second = handshake("h-second000001", HandshakeState::Open, "2026-11-02T00:00:00Z");
    let event = record_sent(
        &mut status,
        &spec,
        Some(1),
        &second,
        Some("v2".into()),
        ts("2026-11-02T00:00:00Z"),
    );
    assert_eq!(event.reason, "ReInvited");
    assert_eq!(status.attempts, 2);
    assert_eq!(status.history.len(), 1);
    assert_eq!(status.history[0].id, "h-first0000001");
    assert_eq!(status.last_reinvite_request.as_deref(), Some("v2"));
    for i in 0..20 {
        let h = handshake(&format!("h-many{i:08}"), HandshakeState::Open, "2026-11-03T00:00:00Z");
        record_sent(&mut status, &spec, Some(1), &h, None, ts("2026-11-03T00:00:00Z"));
    }
    assert_eq!(status.history.len(), HISTORY_LIMIT);
}

fn any_state() -> impl Strategy<Value = HandshakeState> {
    prop_oneof![
        Just(HandshakeState::Open),
        Just(HandshakeState::Requested),
        Just(HandshakeState::Accepted),
        Just(HandshakeState::Declined),
        Just(HandshakeState::Expired),
        Just(HandshakeState::Canceled),
    ]
}

proptest! {
    /// Exactly-once: whatever was observed, the decision never sends while an invitation to
    /// the account is pending, never beyond maxAttempts, never without budget, and never within
    /// five minutes of the last invitation.
    #[test]
    fn never_sends_when_it_must_not(
        recorded in proptest::option::of(any_state()),
        pending in proptest::option::of(any_state().prop_filter("pending", |s| s.is_pending())),
        attempts in 0u32..5,
        max_attempts in 1u32..5,
        budget in 0u32..3,
        minutes_since_sent in 0i64..40_000,
        on_expired in any::<bool>(),
        on_declined in any::<bool>(),
        reinvite in proptest::option::of("[a-z]{1,3}"),
        member in any::<bool>(),
        listed in proptest::option::of(any::<bool>()),
        gone in any::<bool>(),
        sent_since_created in 0u32..5,
    ) {
        let mut spec = spec();
        spec.reinvite.max_attempts = max_attempts;
        spec.reinvite.on_expired = on_expired;
        spec.reinvite.on_declined = on_declined;
        spec.reinvite.resend_after = Some("1h".into());
        let sent_at = ts(T0);
        let now = sent_at + SignedDuration::from_mins(minutes_since_sent);
        let mut status = AwsAccountInviteStatus::default();
        let recorded_h = recorded.map(|state| Handshake { state, ..handshake("h-recorded0001", HandshakeState::Open, T0) });
        if let Some(h) = &recorded_h {
            record_sent(&mut status, &spec, Some(1), &Handshake { state: HandshakeState::Open, ..h.clone() }, None, sent_at);
            status.attempts = attempts.max(1);
        }
        let pending_h = pending.map(|state| Handshake { state, ..handshake("h-pending00001", HandshakeState::Open, T0) });
        let obs = Observation {
            spec: &spec,
            status: &status,
            generation: Some(1),
            reinvite_request: reinvite.as_deref(),
            iam_confirmed: None,
            profile: ready_profile(budget),
            profile_verification: None,
            membership: Some(if member { Membership::Member { joined_at: None } } else { Membership::NotMember }),
            listed_membership: listed.map(|m| if m { Membership::Member { joined_at: None } } else { Membership::NotMember }),
            recorded_handshake: if gone { None } else { recorded_h.clone() },
            handshake_gone: gone,
            sent_since_created,
            pending_for_account: pending_h.clone(),
            iam: Some(IamCheck::Verified),
            now,
        };
        if let Decision::Act(plan) = decide(&obs) {
            let sends = matches!(plan.action, Action::SendInvitation { .. } | Action::CancelAndResend { .. });
            if sends {
                let pending_other = pending_h.as_ref().is_some_and(|p| recorded_h.as_ref().is_none_or(|r| r.id != p.id));
                prop_assert!(!pending_other, "sent while another invitation is pending");
                prop_assert!(status.attempts < max_attempts, "sent beyond maxAttempts");
                prop_assert!(sent_since_created < max_attempts, "sent beyond maxAttempts as AWS counts them");
                prop_assert!(budget > 0, "sent without budget");
                if recorded_h.is_some() {
                    prop_assert!(minutes_since_sent >= 5, "sent within 5 minutes of the last invitation");
                }
                prop_assert!(!(member && recorded_h.is_none()), "invited an existing member");
            }
        }
    }
}

#[test]
fn a_refused_send_is_not_repeated_until_the_spec_or_the_reinvite_annotation_changes() {
    let spec = spec();
    let mut status = AwsAccountInviteStatus::default();
    let refusal = SendFailure::Terminal {
        reason: Reason::AlreadyInOrganization,
        message: "The account is already a member of another AWS organization.".into(),
    };
    let (event, requeue) = record_send_failure(&mut status, &spec, Some(1), &refusal, ts(T0));
    assert!(event.warning);
    assert_eq!(requeue, None);
    assert_eq!(status.phase, Some(InvitePhase::Failed));

    let mut obs = observe(&spec, &status, T0);
    obs.membership = Some(Membership::NotMember);
    let again = act(decide(&obs));
    assert_eq!(again.action, Action::None, "the same request would be refused again");
    assert_eq!(
        again.status.conditions, status.conditions,
        "the refusal stays as it was"
    );
    assert_eq!(again.status.phase, Some(InvitePhase::Failed));

    // A new reinvite annotation value: one more try, recorded.
    obs.reinvite_request = Some("try-again");
    let retry = act(decide(&obs));
    assert!(
        matches!(retry.action, Action::SendInvitation { .. }),
        "{:?}",
        retry.action
    );

    // An edited spec (new generation): a new request.
    obs.reinvite_request = None;
    obs.generation = Some(2);
    let edited = act(decide(&obs));
    assert!(
        matches!(edited.action, Action::SendInvitation { .. }),
        "{:?}",
        edited.action
    );
}

/// The stale-facts table (issue 10, item 1): the recorded handshake is gone from AWS, or the
/// account's membership changed, while the operator was not looking. Each row: what the status
/// recorded, what AWS shows now, and what the decision does.
#[test]
fn stale_facts_are_resolved_from_what_aws_shows_now() {
    struct Row {
        name: &'static str,
        recorded: HandshakeState,
        listed: Option<bool>,
        on_expired: bool,
        phase: InvitePhase,
        sends: bool,
        joined: (&'static str, &'static str),
    }
    let rows = [
        // Accepted while the operator was down, purged 30 days later: membership says joined.
        Row {
            name: "purged acceptance",
            recorded: HandshakeState::Open,
            listed: Some(true),
            on_expired: true,
            phase: InvitePhase::Ready,
            sends: false,
            joined: ("True", "Accepted"),
        },
        // Ended unseen (expired, declined or canceled) and purged: treated as expired.
        Row {
            name: "purged, re-invite policy",
            recorded: HandshakeState::Open,
            listed: Some(false),
            on_expired: true,
            phase: InvitePhase::Invited,
            sends: true,
            joined: ("False", "AwaitingAcceptance"),
        },
        Row {
            name: "purged, no re-invite",
            recorded: HandshakeState::Open,
            listed: Some(false),
            on_expired: false,
            phase: InvitePhase::Failed,
            sends: false,
            joined: ("False", "Expired"),
        },
        // An end the status recorded stands when AWS drops the handshake.
        Row {
            name: "recorded decline",
            recorded: HandshakeState::Declined,
            listed: Some(false),
            on_expired: true,
            phase: InvitePhase::Failed,
            sends: false,
            joined: ("False", "Declined"),
        },
        // Recorded accepted, gone, not a member: it left.
        Row {
            name: "accepted then left",
            recorded: HandshakeState::Accepted,
            listed: Some(false),
            on_expired: true,
            phase: InvitePhase::Failed,
            sends: false,
            joined: ("False", "AccountLeftOrganization"),
        },
    ];
    for row in rows {
        let mut spec = spec();
        spec.reinvite.on_expired = row.on_expired;
        let h = handshake("h-stale0000001", row.recorded, T0);
        let mut status = invited_status(&handshake("h-stale0000001", HandshakeState::Open, T0), 1);
        if let Some(recorded) = status.handshake.as_mut() {
            recorded.state = row.recorded.as_str().to_owned();
        }
        let mut obs = observe(&spec, &status, "2026-12-17T00:00:00Z");
        obs.handshake_gone = true;
        obs.sent_since_created = 1;
        obs.listed_membership = row.listed.map(|m| {
            if m {
                Membership::Member {
                    joined_at: h.requested_at,
                }
            } else {
                Membership::NotMember
            }
        });
        let mut plan = act(decide(&obs));
        if row.sends {
            assert!(plan.action.sends(), "{}: {:?}", row.name, plan.action);
            let next = handshake("h-stale0000002", HandshakeState::Open, "2026-12-17T00:00:00Z");
            record_sent(&mut plan.status, &spec, Some(1), &next, None, obs.now);
            assert_eq!(plan.status.attempts, 2, "{}", row.name);
        } else {
            assert_eq!(plan.action, Action::None, "{}", row.name);
        }
        assert_eq!(plan.status.phase, Some(row.phase), "{}", row.name);
        assert_eq!(condition(&plan, cond::ACCOUNT_JOINED), row.joined, "{}", row.name);
        if row.phase == InvitePhase::Failed {
            let sent = cond::find(&plan.status.conditions, cond::INVITATION_SENT).expect("sent");
            assert_ne!(
                sent.reason,
                Reason::AwaitingAcceptance.as_str(),
                "{}: {}",
                row.name,
                sent.message
            );
            assert!(
                !sent.message.contains("before it expires"),
                "{}: {}",
                row.name,
                sent.message
            );
        }
    }
    // No membership answer from the sweep: ask (DescribeAccount), never guess.
    let spec = spec();
    let status = invited_status(&handshake("h-stale0000001", HandshakeState::Open, T0), 1);
    let mut obs = observe(&spec, &status, "2026-12-17T00:00:00Z");
    obs.handshake_gone = true;
    assert_eq!(decide(&obs), Decision::Observe(Need::Membership));
}

#[test]
fn an_account_that_leaves_after_ready_is_noticed_and_not_invited_again() {
    for with_handshake in [true, false] {
        let spec = spec();
        let h = handshake("h-joined000001", HandshakeState::Open, T0);
        let mut status = if with_handshake {
            invited_status(&h, 1)
        } else {
            AwsAccountInviteStatus::default()
        };
        let mut obs = observe(&spec, &status, "2026-11-02T00:00:00Z");
        obs.recorded_handshake = with_handshake.then(|| Handshake {
            state: HandshakeState::Accepted,
            ..h.clone()
        });
        obs.listed_membership = Some(Membership::Member {
            joined_at: Some(ts(T0)),
        });
        let ready = act(decide(&obs));
        assert_eq!(ready.status.phase, Some(InvitePhase::Ready));
        status = ready.status;

        // The sweep no longer lists it: confirmed once, then Ready=False with its own reason.
        let mut obs = observe(&spec, &status, "2026-11-20T00:00:00Z");
        obs.recorded_handshake = with_handshake.then(|| Handshake {
            state: HandshakeState::Accepted,
            ..h.clone()
        });
        obs.listed_membership = Some(Membership::NotMember);
        assert_eq!(decide(&obs), Decision::Observe(Need::Membership));
        obs.membership = Some(Membership::Member { joined_at: None });
        assert_eq!(
            act(decide(&obs)).status.phase,
            Some(InvitePhase::Ready),
            "ListAccounts lagging"
        );
        obs.membership = Some(Membership::NotMember);
        let left = act(decide(&obs));
        assert_eq!(left.action, Action::None);
        assert_eq!(left.status.phase, Some(InvitePhase::Failed));
        assert_eq!(
            condition(&left, cond::READY),
            ("False", Reason::AccountLeftOrganization.as_str())
        );
        assert_eq!(condition(&left, cond::STALLED).0, "True");
        assert!(
            left.events
                .iter()
                .any(|e| e.warning && e.reason == EventReason::AccountLeftOrganization)
        );

        // Later looks: no invitation by itself, no DescribeAccount per look, no second event.
        let status = left.status;
        let mut obs = observe(&spec, &status, "2026-11-21T00:00:00Z");
        obs.recorded_handshake = with_handshake.then(|| Handshake {
            state: HandshakeState::Accepted,
            ..h.clone()
        });
        obs.listed_membership = Some(Membership::NotMember);
        let again = act(decide(&obs));
        assert_eq!(again.action, Action::None, "with handshake: {with_handshake}");
        assert_eq!(again.status.phase, Some(InvitePhase::Failed));
        assert!(
            again
                .events
                .iter()
                .all(|e| e.reason != EventReason::AccountLeftOrganization)
        );
        // The reinvite annotation sends one.
        obs.reinvite_request = Some("back");
        assert!(act(decide(&obs)).action.sends(), "with handshake: {with_handshake}");
    }
}

#[test]
fn attempts_count_what_aws_holds_for_the_invite() {
    let spec = spec(); // maxAttempts 3
    let h = handshake("h-expired00001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let mut obs = observe(&spec, &status, "2026-11-17T00:00:00Z");
    obs.recorded_handshake = Some(Handshake {
        state: HandshakeState::Expired,
        ..h.clone()
    });
    obs.listed_membership = Some(Membership::NotMember);
    obs.sent_since_created = 3; // two more were sent that the status never recorded
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        condition(&plan, cond::STALLED),
        ("True", Reason::MaxAttemptsReached.as_str())
    );
    assert_eq!(plan.status.attempts, 3);
    // With nothing recorded (a status restored from before the first send) the same holds.
    let empty = AwsAccountInviteStatus::default();
    let mut obs = observe(&spec, &empty, "2026-11-17T00:00:00Z");
    obs.listed_membership = Some(Membership::NotMember);
    obs.sent_since_created = 3;
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    assert_eq!(
        condition(&plan, cond::STALLED),
        ("True", Reason::MaxAttemptsReached.as_str())
    );
}

#[test]
fn an_open_invitation_past_its_expiry_neither_loops_nor_names_a_past_date() {
    let spec = spec();
    let h = handshake("h-late00000001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    // AWS has not marked it EXPIRED yet, 16 days later.
    let mut obs = observe(&spec, &status, "2026-11-17T00:00:00Z");
    obs.recorded_handshake = Some(h.clone());
    let plan = act(decide(&obs));
    let (_, _, message) = {
        let c = cond::find(&plan.status.conditions, cond::INVITATION_SENT).expect("sent");
        (c.status.clone(), c.reason.clone(), c.message.clone())
    };
    assert!(!message.contains("before it expires"), "{message}");
    assert!(message.contains("has passed"), "{message}");
    assert!(
        plan.requeue_after.is_some_and(|d| d >= Duration::from_secs(60)),
        "no 1-second loop once the expiry is past: {:?}",
        plan.requeue_after
    );
}

#[test]
fn a_cancel_made_outside_says_canceled_on_every_condition() {
    let spec = spec();
    let h = handshake("h-cancel000001", HandshakeState::Open, T0);
    let status = invited_status(&h, 1);
    let mut obs = observe(&spec, &status, "2026-11-02T00:00:00Z");
    obs.recorded_handshake = Some(Handshake {
        state: HandshakeState::Canceled,
        ..h
    });
    obs.sent_since_created = 1;
    let plan = act(decide(&obs));
    assert_eq!(plan.action, Action::None);
    for type_ in [cond::INVITATION_SENT, cond::ACCOUNT_JOINED, cond::STALLED] {
        let c = cond::find(&plan.status.conditions, type_).expect("condition");
        assert_eq!(c.reason, Reason::Canceled.as_str(), "{type_}");
        assert!(
            !c.message.contains("AwaitingAcceptance") && !c.message.contains("expires"),
            "{type_}: {}",
            c.message
        );
    }
}

/// Any timestamp jiff can hold, the extremes and the neighbourhood of [`T0`] most often: AWS's
/// answers and a status may carry any of them.
fn any_timestamp() -> impl Strategy<Value = Timestamp> {
    let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    prop_oneof![
        Just(Timestamp::MIN),
        Just(Timestamp::MAX),
        (min..=max).prop_map(|s| Timestamp::from_second(s).expect("in range")),
        (-1_000_000i64..1_000_000).prop_map(|s| ts(T0) + SignedDuration::from_secs(s)),
    ]
}

proptest! {
    /// Bounded by construction (issue 12, item 6): whatever timestamps AWS or a status hold and
    /// whatever the counts, deciding and recording never panic, and a plan never waits longer
    /// than [`MAX_REQUEUE`] (kube-runtime's scheduler panics beyond about two years).
    #[test]
    fn decide_never_panics_on_extreme_times_or_counts(
        recorded in proptest::option::of(any_state()),
        pending in proptest::option::of(any_state()),
        requested_at in proptest::option::of(any_timestamp()),
        expires_at in proptest::option::of(any_timestamp()),
        last_invited_at in proptest::option::of(any_timestamp()),
        joined_at in proptest::option::of(any_timestamp()),
        member_since in proptest::option::of(any_timestamp()),
        budget_frees_at in proptest::option::of(any_timestamp()),
        now in any_timestamp(),
        attempts in prop_oneof![Just(u32::MAX), Just(u32::MAX - 1), 0u32..25],
        sent_since_created in prop_oneof![Just(u32::MAX), 0u32..25],
        max_attempts in prop_oneof![Just(u32::MAX), 1u32..21],
        budget in prop_oneof![Just(u32::MAX), 0u32..3],
        resend_after in proptest::option::of(prop_oneof![Just("5m"), Just("360h"), Just("2562047h"), Just("9223372036s")]),
        reinvite in proptest::option::of("[a-z0-9:-]{1,8}"),
        member in proptest::option::of(any::<bool>()),
        listed in proptest::option::of(any::<bool>()),
        gone in any::<bool>(),
        joined in any::<bool>(),
        iam in any::<bool>(),
    ) {
        let mut spec = spec();
        spec.reinvite.max_attempts = max_attempts;
        spec.reinvite.resend_after = resend_after.map(str::to_owned);
        if iam {
            spec.iam_access = Some(IamAccess {
                role_name: "CloudHealth".into(),
                trusted_principal: "arn:aws:iam::454464851268:root".into(),
                external_id: None,
                external_id_secret_ref: None,
                verification: None,
            });
        }
        let mut status = AwsAccountInviteStatus { attempts, ..Default::default() };
        let at = |t: Option<Timestamp>| t.map(Time);
        if let Some(state) = recorded {
            status.handshake = Some(HandshakeStatus {
                id: "h-recorded0001".into(),
                arn: None,
                state: state.as_str().to_owned(),
                requested_at: at(requested_at),
                expires_at: at(expires_at),
            });
        }
        status.last_invited_at = at(last_invited_at);
        if joined {
            status.joined_at = Some(Time(joined_at.unwrap_or(now)));
            standing::write(
                &mut status,
                &Standing::WaitingOnIam { joined: None, reason: Reason::RoleNotFound, message: String::new() },
                Some(1),
                now,
            );
            let joined_condition = cond::find(&status.conditions, cond::ACCOUNT_JOINED).is_some();
            if !joined_condition {
                status.conditions.push(k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
                    type_: cond::ACCOUNT_JOINED.into(),
                    status: "True".into(),
                    reason: Reason::Accepted.as_str().into(),
                    message: String::new(),
                    observed_generation: Some(1),
                    last_transition_time: Time(now),
                });
            }
        }
        let aws_handshake = |id: &str, state: HandshakeState| Handshake {
            id: id.into(),
            arn: None,
            state,
            account_id: Some("222222222222".into()),
            requested_at,
            expires_at,
        };
        let membership = |m: bool| if m { Membership::Member { joined_at: member_since } } else { Membership::NotMember };
        let mut obs = Observation {
            spec: &spec,
            status: &status,
            generation: Some(1),
            reinvite_request: reinvite.as_deref(),
            iam_confirmed: None,
            profile: ProfileView::Ready {
                organization_id: "o-exampleorg1".into(),
                budget_left: budget,
                budget_frees_at,
            },
            profile_verification: None,
            membership: member.map(membership),
            listed_membership: listed.map(membership),
            recorded_handshake: if gone { None } else { recorded.map(|s| aws_handshake("h-recorded0001", s)) },
            handshake_gone: gone,
            sent_since_created,
            pending_for_account: pending.map(|s| aws_handshake("h-pending00001", s)),
            iam: None,
            now,
        };
        // Answer every Need the decision asks for, as the controller does.
        for _ in 0..3 {
            match decide(&obs) {
                Decision::Observe(Need::Membership) => obs.membership = Some(membership(member.unwrap_or(true))),
                Decision::Observe(Need::IamAccess) => {
                    obs.iam = Some(IamCheck::Missing { reason: Reason::RoleNotFound, message: "no role".into() });
                }
                Decision::Act(plan) => {
                    prop_assert!(plan.requeue_after.is_none_or(|r| r <= MAX_REQUEUE), "{:?}", plan.requeue_after);
                    let mut sent = plan.status.clone();
                    let h = aws_handshake("h-new00000001", HandshakeState::Open);
                    record_sent(&mut sent, &spec, Some(1), &h, Some("r".into()), now);
                    prop_assert!(sent.attempts >= plan.status.attempts);
                    let mut failed = plan.status.clone();
                    let failure = SendFailure::Retryable { reason: Reason::Throttled, message: "slow".into() };
                    record_send_failure(&mut failed, &spec, Some(1), &failure, now);
                    break;
                }
            }
        }
    }
}
