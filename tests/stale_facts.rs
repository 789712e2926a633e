//! Everything the operator recorded can go stale (issue 10, item 1): the operator is down (or
//! the cluster restored from a backup) while, outside it, an invitation is accepted, declined,
//! canceled or expires, AWS drops an ended handshake, or the account leaves, is removed, or
//! moves to another organization. The matrix: starting phase × outside event × downtime, on the real control
//! plane and the orgs-emulator, with the operator's and the emulator's clocks moved together.
//!
//! One control plane and one emulator per downtime; one invite (its own account) per (phase,
//! event) cell. The operator is stopped, the events happen, both clocks move, the operator is
//! started again; then every cell must reach its expected state, with a bound on the AWS calls
//! made for each invite (read from the emulator's call log) and no call of one kind for one
//! invite sooner than a poll interval after the last.
//!
//! AWS facts the expectations rest on (AWS Organizations API reference):
//! - `Handshake`: an unanswered invitation expires after 15 days (`ExpirationTimestamp`), and
//!   "Handshakes that are CANCELED, ACCEPTED, DECLINED, or EXPIRED show up in lists for only 30
//!   days after entering that state. After that they are deleted."
//! - `InviteAccountToOrganization`: an account that is a member of another organization may be
//!   invited (accepting moves it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use aws_invite_operator::api::{AwsAccountInvite, BillingProfile, BillingProfileSpec, InvitePhase};
use aws_invite_operator::aws::{ProfileClients, StaticKeys};
use kube::api::Patch;
use orgs_emulator::{CallRecord, SeedAccount, SeedOrganization};
use serde_json::json;
use support::{Harness, NAMESPACE, PROFILE, SECOND_PAYER_MGMT, condition, patch_params, post_params};

const OTHER_ORG: &str = "o-otherorg0001";
const OTHER_MGMT: &str = "666666666666";
/// The poll interval of these runs: every per-invite requeue is at least this long.
const POLL: Duration = Duration::from_secs(2);
/// How long every cell has to reach its state after the restart.
const SETTLE: Duration = Duration::from_secs(120);
/// The most AWS calls one invite may cost after the restart (an IAM check is AssumeRole +
/// GetRole; a re-invite is one InviteAccountToOrganization; a departure is confirmed by one
/// DescribeAccount).
const MAX_CALLS_PER_INVITE: usize = 3;
const DAY: u64 = 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Queued,
    Invited,
    /// Joined, the IAM access step waiting for the role.
    Joined,
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The owner accepts (for a queued invite: an invitation sent by hand from the console).
    Accepted,
    Declined,
    /// Canceled from the console or CLI.
    Canceled,
    /// Expired (15 days unanswered), made to happen at the start of the downtime.
    Expired,
    /// AWS dropped the handshake (30 days after it ended), made to happen at once.
    Purged,
    /// The account leaves the organization.
    Left,
    /// The organization's management account removes it (RemoveAccountFromOrganization).
    Removed,
    /// The account moves to another organization.
    Moved,
}

const PHASES: [Phase; 4] = [Phase::Queued, Phase::Invited, Phase::Joined, Phase::Ready];
const EVENTS: [Event; 8] = [
    Event::Accepted,
    Event::Declined,
    Event::Canceled,
    Event::Expired,
    Event::Purged,
    Event::Left,
    Event::Removed,
    Event::Moved,
];

/// Where a cell must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Want {
    phase: InvitePhase,
    /// For `Failed`: the Stalled reason.
    reason: Option<&'static str>,
    /// `status.attempts`: the invitations AWS holds for the invite.
    attempts: u32,
}

const fn want(phase: InvitePhase, reason: Option<&'static str>, attempts: u32) -> Option<Want> {
    Some(Want {
        phase,
        reason,
        attempts,
    })
}

/// The expected outcome of each cell; `None`: the event cannot happen in that phase (nothing
/// to accept while queued without an invitation, no invitation to decline once joined, no
/// membership to leave before joining).
fn expected(phase: Phase, event: Event, down: Duration) -> Option<Want> {
    use InvitePhase::{Failed, Invited, Joined, Ready};
    let purged = down >= Duration::from_secs(30 * DAY); // an end at the downtime's start is gone
    let expires = down >= Duration::from_secs(15 * DAY); // an open invitation expired meanwhile
    match (phase, event) {
        // An invitation sent by hand was accepted: a member, adopted without a send; the
        // accepted handshake (since the invite's creation) counts as its one attempt while AWS
        // lists it, and not once AWS dropped it.
        (Phase::Queued, Event::Accepted) => want(Ready, None, u32::from(!purged)),
        // The budget was raised while the operator was down: the queued invitation goes out.
        (Phase::Queued, Event::Moved) => want(Invited, None, 1),
        (Phase::Queued, _) => None,
        (Phase::Invited, Event::Accepted) => want(Ready, None, 1),
        // Declined or canceled: stalled (onDeclined false, no resendAfter) while AWS still lists
        // the end; once it is purged, how it ended is unknown: treated as expired (onExpired).
        (Phase::Invited, Event::Declined) if purged => want(Invited, None, 2),
        (Phase::Invited, Event::Declined) => want(Failed, Some("Declined"), 1),
        (Phase::Invited, Event::Canceled) if purged => want(Invited, None, 2),
        (Phase::Invited, Event::Canceled) => want(Failed, Some("Canceled"), 1),
        (Phase::Invited, Event::Expired | Event::Purged) => want(Invited, None, 2),
        // Moved to another organization while invited: the invitation stays open until it
        // expires, then onExpired sends another.
        (Phase::Invited, Event::Moved) if expires => want(Invited, None, 2),
        (Phase::Invited, Event::Moved) => want(Invited, None, 1),
        (Phase::Invited, Event::Left | Event::Removed) => None,
        (Phase::Joined | Phase::Ready, Event::Left | Event::Removed | Event::Moved) => {
            want(Failed, Some("AccountLeftOrganization"), 1)
        }
        (Phase::Joined, Event::Purged) => want(Joined, None, 1),
        (Phase::Ready, Event::Purged) => want(Ready, None, 1),
        (Phase::Joined | Phase::Ready, _) => None,
    }
}

fn cells(down: Duration) -> Vec<(Phase, Event, Want)> {
    let mut out = Vec::new();
    for phase in PHASES {
        for event in EVENTS {
            if let Some(w) = expected(phase, event, down) {
                out.push((phase, event, w));
            }
        }
    }
    out
}

fn name(phase: Phase, event: Event) -> String {
    format!("{phase:?}-{event:?}").to_lowercase()
}

/// A distinct 12-digit account per cell.
fn account(phase: Phase, event: Event) -> String {
    format!("6{:05}{:06}", phase as u32, event as u32)
}

fn holds(invite: &AwsAccountInvite, want: &Want) -> bool {
    let Some(status) = invite.status.as_ref() else {
        return false;
    };
    if status.phase != Some(want.phase) || status.attempts != want.attempts {
        return false;
    }
    match want.phase {
        InvitePhase::Failed => {
            condition(invite, "Stalled").is_some_and(|c| c.0 == "True" && Some(c.1.as_str()) == want.reason)
                // An ended invitation never keeps an AwaitingAcceptance behind.
                && condition(invite, "InvitationSent").is_none_or(|c| c.1 != "AwaitingAcceptance")
        }
        InvitePhase::Ready => condition(invite, "Ready").is_some_and(|c| c.0 == "True"),
        InvitePhase::Joined => condition(invite, "AccountJoined").is_some_and(|c| c.0 == "True"),
        _ => true,
    }
}

fn summary(invite: Option<&AwsAccountInvite>) -> String {
    let Some(status) = invite.and_then(|i| i.status.as_ref()) else {
        return "no status".into();
    };
    let stalled = invite
        .and_then(|i| condition(i, "Stalled"))
        .filter(|c| c.0 == "True")
        .map(|c| format!("/{}", c.1))
        .unwrap_or_default();
    format!("{:?}{stalled} a{}", status.phase.unwrap_or_default(), status.attempts)
}

/// The account an AWS call was made for: its target, the account of its handshake, or the
/// account in its role ARN.
fn call_account(call: &CallRecord, handshake_accounts: &HashMap<String, String>) -> Option<String> {
    if let Some(a) = &call.target_account_id {
        return Some(a.clone());
    }
    if let Some(account) = call.handshake_id.as_ref().and_then(|h| handshake_accounts.get(h)) {
        return Some(account.clone());
    }
    let role = call.role.as_deref()?;
    let account = role.split(':').nth(4).filter(|a| a.len() == 12)?;
    Some(account.to_owned())
}

async fn wait_all(h: &Harness, cells: &[(String, InvitePhase)]) {
    let deadline = tokio::time::Instant::now() + support::DEADLINE;
    loop {
        let invites = h.invites().list(&Default::default()).await.expect("list").items;
        let missing: Vec<_> = cells
            .iter()
            .filter(|(n, phase)| {
                !invites.iter().any(|i| {
                    i.metadata.name.as_deref() == Some(n) && i.status.as_ref().and_then(|s| s.phase) == Some(*phase)
                })
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not in their phase: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The profile of the queued cells: its own organization (a budget belongs to the organization,
/// the smallest invitationsPerDay of its profiles), a budget of one invitation per day, which an
/// invitation sent by hand from that organization uses up.
const QUEUE_PROFILE: &str = "payer-queue";
/// The Secret with the keys of [`QUEUE_PROFILE`]'s organization.
const QUEUE_KEYS: &str = "queue-keys";
/// The account the by-hand invitation that uses up [`QUEUE_PROFILE`]'s budget goes to.
const BUDGET_USER: &str = "500000000029";

/// The clients of [`QUEUE_PROFILE`]'s organization, acting by hand (a person at the console).
async fn queue_org_by_hand(h: &Harness) -> ProfileClients {
    let spec: BillingProfileSpec =
        serde_json::from_value(json!({"managementAccountId": SECOND_PAYER_MGMT, "endpointUrl": h.emulator.url()}))
            .expect("spec");
    let keys = StaticKeys {
        access_key_id: SECOND_PAYER_MGMT.into(),
        secret_access_key: "emulator".into(),
        session_token: None,
    };
    ProfileClients::connect(&spec, Some(keys)).await.expect("connect")
}

/// Brings each cell to its starting phase.
async fn start_cells(h: &Harness, cells: &[(Phase, Event, Want)]) {
    let sent: Vec<_> = cells.iter().filter(|c| c.0 != Phase::Queued).collect();
    h.create_profile(json!({"invitationsPerDay": 100})).await;
    let mut spec = h.add_second_payer(QUEUE_KEYS).await;
    spec["endpointUrl"] = json!(h.emulator.url());
    spec["allowedNamespaces"] = json!({"namespaces": [NAMESPACE]});
    spec["invitationsPerDay"] = json!(1);
    queue_org_by_hand(h)
        .await
        .invite_account(BUDGET_USER, None, &BTreeMap::new())
        .await
        .expect("the invitation that uses up the queue profile's budget");
    let queue: BillingProfile = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile",
        "metadata": {"name": QUEUE_PROFILE}, "spec": spec,
    }))
    .expect("profile");
    h.profiles()
        .create(&post_params(), &queue)
        .await
        .expect("queue profile");
    for (phase, event, _) in &sent {
        let extra = if *phase == Phase::Joined {
            // No such role in the member account: the IAM access step waits.
            json!({"iamAccess": {"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                "externalId": "ext-123"}})
        } else {
            json!({})
        };
        h.create_invite(&name(*phase, *event), &account(*phase, *event), extra)
            .await;
    }
    let invited: Vec<_> = sent
        .iter()
        .map(|(p, e, _)| (name(*p, *e), InvitePhase::Invited))
        .collect();
    wait_all(h, &invited).await;
    for (phase, event, _) in sent.iter().filter(|c| matches!(c.0, Phase::Joined | Phase::Ready)) {
        h.aws.accept_invite_for(&account(*phase, *event)).await.expect("accept");
    }
    let mut starting: Vec<_> = sent
        .iter()
        .map(|(p, e, _)| {
            let phase = match p {
                Phase::Joined => InvitePhase::Joined,
                Phase::Ready => InvitePhase::Ready,
                _ => InvitePhase::Invited,
            };
            (name(*p, *e), phase)
        })
        .collect();
    for (phase, event, _) in cells.iter().filter(|c| c.0 == Phase::Queued) {
        let extra = json!({"billingProfile": QUEUE_PROFILE});
        h.create_invite(&name(*phase, *event), &account(*phase, *event), extra)
            .await;
        starting.push((name(*phase, *event), InvitePhase::Queued));
    }
    wait_all(h, &starting).await;
}

/// What happens outside while the operator is down, at the start of the downtime.
async fn outside(h: &Harness, phase: Phase, event: Event) {
    let account = account(phase, event);
    let invite = h.invites().get(&name(phase, event)).await.expect("get");
    let handshake = invite.status.and_then(|s| s.handshake).map(|hs| hs.id);
    let recorded = || handshake.clone().expect("a recorded handshake");
    match event {
        Event::Accepted if phase == Phase::Queued => {
            // Someone sent an invitation from the console and the owner accepted it.
            queue_org_by_hand(h)
                .await
                .invite_account(&account, None, &BTreeMap::new())
                .await
                .expect("invitation by hand");
            h.aws.accept_invite_for(&account).await.expect("accept");
        }
        Event::Accepted => drop(h.aws.accept_invite_for(&account).await.expect("accept")),
        Event::Declined => drop(h.aws.decline_invite_for(&account).await.expect("decline")),
        Event::Canceled => drop(h.aws.cancel_handshake(&recorded()).await.expect("cancel")),
        Event::Expired => drop(h.aws.expire_handshake(&recorded()).await.expect("expire")),
        Event::Purged => drop(h.aws.purge_handshake(&recorded()).await.expect("purge")),
        Event::Left => drop(h.aws.leave_organization(&account).await.expect("leave")),
        Event::Removed => drop(h.aws.remove_from_organization(&account).await.expect("remove")),
        Event::Moved => drop(h.aws.move_account(&account, OTHER_ORG).await.expect("move")),
    }
}

/// One downtime: every cell from its starting phase through its event and the downtime to its
/// expected state. Returns the matrix column: (phase, event) → "state (AWS calls)".
async fn run(down: Duration) -> BTreeMap<(Phase, Event), String> {
    let cells = cells(down);
    let mut h = Harness::start_with_poll_interval(POLL).await;
    h.aws
        .add_organization(&SeedOrganization {
            id: Some(OTHER_ORG.into()),
            management_account: SeedAccount::new(OTHER_MGMT),
            members: vec![],
            account_quota: Some(100),
            feature_set: None,
        })
        .await
        .expect("other organization");
    start_cells(&h, &cells).await;

    h.stop_operator().await;
    // An administrator raised the budget meanwhile (so the queued cells may send).
    let raise = json!({"spec": {"invitationsPerDay": 100}});
    h.profiles()
        .patch(QUEUE_PROFILE, &patch_params(), &Patch::Merge(&raise))
        .await
        .expect("budget");
    for (phase, event, _) in &cells {
        outside(&h, *phase, *event).await;
    }
    // Both clocks move together, with the operator down (no touch of the invites: the restart
    // alone must find every change).
    h.aws.advance_clock(down).await.expect("emulator clock");
    h.clock.advance(down);
    let before = h
        .aws
        .calls()
        .await
        .expect("calls")
        .iter()
        .map(|c| c.seq)
        .max()
        .unwrap_or(0);
    let restarted = tokio::time::Instant::now();
    h.start_operator();

    let deadline = restarted + SETTLE;
    let invites = loop {
        let invites = h.invites().list(&Default::default()).await.expect("list").items;
        let by_name: HashMap<_, _> = invites
            .iter()
            .map(|i| (i.metadata.name.clone().unwrap_or_default(), i))
            .collect();
        let wrong: Vec<String> = cells
            .iter()
            .filter(|(p, e, w)| !by_name.get(&name(*p, *e)).is_some_and(|i| holds(i, w)))
            .map(|(p, e, w)| {
                format!(
                    "{}: want {w:?}, is {}",
                    name(*p, *e),
                    summary(by_name.get(&name(*p, *e)).copied())
                )
            })
            .collect();
        if wrong.is_empty() {
            break invites;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "down {}: after {SETTLE:?}, cells not in their expected state:\n{}",
            label(down),
            wrong.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let settled = restarted.elapsed();
    // Three more poll intervals: nothing may keep calling AWS for an invite in a loop.
    tokio::time::sleep(3 * POLL).await;
    let window = restarted.elapsed();
    h.stop_operator().await;

    let calls: Vec<CallRecord> = h.aws.calls().await.expect("calls");
    let handshake_accounts: HashMap<String, String> = calls
        .iter()
        .filter(|c| c.operation == "InviteAccountToOrganization")
        .filter_map(|c| Some((c.handshake_id.clone()?, c.target_account_id.clone()?)))
        .collect();
    let after: Vec<&CallRecord> = calls.iter().filter(|c| c.seq > before).collect();
    let mut per_account: HashMap<String, Vec<&CallRecord>> = HashMap::new();
    let mut organization_calls: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &after {
        match call_account(c, &handshake_accounts) {
            Some(a) => per_account.entry(a).or_default().push(c),
            None => *organization_calls.entry(c.operation.as_str()).or_default() += 1,
        }
    }
    let mut column = BTreeMap::new();
    let mut problems = Vec::new();
    for (phase, event, _) in &cells {
        let calls = per_account.get(&account(*phase, *event)).cloned().unwrap_or_default();
        let ops: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).collect();
        if calls.len() > MAX_CALLS_PER_INVITE {
            problems.push(format!("{}: {} AWS calls: {ops:?}", name(*phase, *event), calls.len()));
        }
        // No call of one kind for one invite sooner than a poll interval after the last.
        let mut last: HashMap<&str, chrono::DateTime<chrono::Utc>> = HashMap::new();
        for c in &calls {
            if let Some(prev) = last.insert(c.operation.as_str(), c.time) {
                let gap = (c.time - prev).to_std().unwrap_or_default();
                if gap < POLL {
                    problems.push(format!("{}: {} again after {gap:?}", name(*phase, *event), c.operation));
                }
            }
        }
        let invite = invites
            .iter()
            .find(|i| i.metadata.name.as_deref() == Some(name(*phase, *event).as_str()));
        let ops = if ops.is_empty() {
            String::new()
        } else {
            format!(": {}", ops.join("+"))
        };
        column.insert((*phase, *event), format!("{} ({}{ops})", summary(invite), calls.len()));
    }
    // Each departure: a Warning Event on its invite and one count of the metric.
    let left: Vec<String> = cells
        .iter()
        .filter(|(_, _, w)| w.reason == Some("AccountLeftOrganization"))
        .map(|(p, e, _)| name(*p, *e))
        .collect();
    for invite in &left {
        h.wait_events(invite, &["AccountLeftOrganization"]).await;
    }
    // Counted right after the Event is published: poll briefly.
    let counted = format!("aws_invite_accounts_left_total{{profile=\"{PROFILE}\"}} {}", left.len());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = h.metrics.encode().expect("metrics");
        if metrics.contains(&counted) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{counted} in\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let describe_handshakes = after.iter().filter(|c| c.operation == "DescribeHandshake").count();
    let intervals = window.as_secs_f64() / POLL.as_secs_f64();
    println!(
        "down {:>3}: all {} cells settled {settled:.1?} after the restart; per-organization calls in {window:.1?} \
         (~{intervals:.0} poll intervals): {organization_calls:?}; DescribeHandshake: {describe_handshakes}",
        label(down),
        cells.len(),
    );
    assert_eq!(
        describe_handshakes, 0,
        "no DescribeHandshake while the sweep can answer"
    );
    assert!(problems.is_empty(), "down {}:\n{}", label(down), problems.join("\n"));
    column
}

fn label(down: Duration) -> String {
    if down < Duration::from_secs(DAY) {
        format!("{}h", down.as_secs() / 3600)
    } else {
        format!("{}d", down.as_secs() / DAY)
    }
}

fn print_matrix(down: Duration, column: &BTreeMap<(Phase, Event), String>) {
    let mut out = format!(
        "\nstale facts, operator down {} (state, attempts, AWS calls for the invite after the restart)\n",
        label(down)
    );
    for ((phase, event), cell) in column {
        let _ = writeln!(
            out,
            "  {:<8} {:<9} -> {cell}",
            format!("{phase:?}"),
            format!("{event:?}")
        );
    }
    println!("{out}");
}

#[tokio::test]
async fn operator_down_for_an_hour() {
    let down = Duration::from_secs(3600);
    let column = run(down).await;
    print_matrix(down, &column);
}

#[tokio::test]
async fn operator_down_for_16_days() {
    let down = Duration::from_secs(16 * DAY);
    let column = run(down).await;
    print_matrix(down, &column);
}

#[tokio::test]
async fn operator_down_for_46_days() {
    let down = Duration::from_secs(46 * DAY);
    let column = run(down).await;
    print_matrix(down, &column);
}

#[test]
fn every_cell_has_a_defined_outcome_or_is_marked_impossible() {
    // 4 phases × 8 events; the impossible ones are the same for every downtime.
    for down in [3600, 16 * DAY, 46 * DAY].map(Duration::from_secs) {
        let n = cells(down).len();
        assert_eq!(n, 16, "meaningful cells at {down:?}");
    }
    let accounts: std::collections::BTreeSet<_> = PHASES
        .iter()
        .flat_map(|p| EVENTS.iter().map(move |e| account(*p, *e)))
        .collect();
    assert_eq!(accounts.len(), 32, "one account per cell");
    assert!(
        accounts
            .iter()
            .all(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
    );
}
