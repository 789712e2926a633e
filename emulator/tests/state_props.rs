//! Property tests of the pure handshake state machine.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use chrono::{TimeDelta, TimeZone, Utc};
use orgs_emulator::seed::{Seed, SeedAccount, SeedOrganization};
use orgs_emulator::state::{HandshakeFilter, HandshakeState, InviteInput, ModelOptions, State, Time};
use proptest::prelude::*;
use std::collections::HashMap;

const MGMT: &str = "111111111111";
const ORG: &str = "o-aaaaaaaaaa";
const OTHER_MGMT: &str = "555555555555";

fn accounts() -> Vec<String> {
    (0..4).map(|i| format!("30000000000{i}")).collect()
}

fn world(now: Time) -> State {
    let seed = Seed {
        organizations: vec![
            SeedOrganization {
                id: Some(ORG.into()),
                management_account: SeedAccount::new(MGMT),
                members: vec![],
                account_quota: Some(6),
                feature_set: None,
            },
            SeedOrganization {
                id: Some("o-bbbbbbbbbb".into()),
                management_account: SeedAccount::new(OTHER_MGMT),
                members: vec![],
                account_quota: Some(6),
                feature_set: None,
            },
        ],
        accounts: accounts().into_iter().map(SeedAccount::new).collect(),
        roles: vec![],
        oidc_providers: vec![],
        pod_identity_associations: vec![],
    };
    State::from_seed(&seed, ModelOptions::default(), now).unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Invite { from_other: bool, account: usize },
    Accept(usize),
    Decline(usize),
    Cancel(usize),
    Leave(usize),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0..4usize).prop_map(|(from_other, account)| Op::Invite { from_other, account }),
        2 => (0..16usize).prop_map(Op::Accept),
        2 => (0..16usize).prop_map(Op::Decline),
        2 => (0..16usize).prop_map(Op::Cancel),
        1 => (0..4usize).prop_map(Op::Leave),
        2 => prop_oneof![Just(60i64), Just(3600), Just(86400), Just(5 * 86400), Just(16 * 86400)].prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn handshake_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let mut now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut s = world(now);
        let accts = accounts();
        // Every handshake ever created, in order; and the last state seen for each.
        let mut ids: Vec<String> = Vec::new();
        let mut seen: HashMap<String, (HandshakeState, Time)> = HashMap::new();
        for op in ops {
            match op {
                Op::Invite { from_other, account } => {
                    let caller = if from_other { OTHER_MGMT } else { MGMT };
                    let input = InviteInput { target_type: Some("ACCOUNT".into()), target_id: Some(accts[account].clone()), ..InviteInput::default() };
                    let open_before = s.handshakes.values().filter(|h| h.state == HandshakeState::Open && h.target.id() == accts[account] && h.management_account_id == caller && h.expires_at > now).count();
                    match s.invite(caller, input, now) {
                        Ok(h) => {
                            prop_assert_eq!(open_before, 0);
                            prop_assert_eq!(h.state, HandshakeState::Open);
                            prop_assert_eq!(h.expires_at - h.requested_at, TimeDelta::days(15));
                            ids.push(h.id);
                        }
                        Err(e) => {
                            if e.code == "DuplicateHandshakeException" { prop_assert_eq!(open_before, 1); }
                        }
                    }
                }
                Op::Accept(i) | Op::Decline(i) | Op::Cancel(i) => {
                    let Some(id) = ids.get(i).cloned() else { continue };
                    let Some(h) = s.handshakes.get(&id).cloned() else { continue };
                    let target = h.target.id().to_string();
                    let before = s.accounts.get(&target).and_then(|a| a.organization_id.clone());
                    let res = match op {
                        Op::Accept(_) => s.accept_handshake(&target, Some(&id), now),
                        Op::Decline(_) => s.decline_handshake(&target, Some(&id), now),
                        _ => s.cancel_handshake(&h.management_account_id, Some(&id), now),
                    };
                    match res {
                        Ok(h2) => {
                            prop_assert!(h2.state.is_ended());
                            if h2.state == HandshakeState::Accepted {
                                prop_assert_eq!(s.accounts[&target].organization_id.as_deref(), Some(h.organization_id.as_str()));
                                prop_assert_eq!(s.accounts[&target].joined_method.as_deref(), Some("INVITED"));
                            }
                        }
                        Err(e) => {
                            // Failures change nothing about membership.
                            prop_assert_eq!(s.accounts.get(&target).and_then(|a| a.organization_id.clone()), before);
                            prop_assert!([
                                "HandshakeAlreadyInStateException",
                                "InvalidHandshakeTransitionException",
                                "HandshakeConstraintViolationException",
                                "HandshakeNotFoundException",
                            ].contains(&&*e.code), "unexpected {}", e.code);
                        }
                    }
                }
                Op::Leave(a) => { let _ = s.leave_organization(&accts[a]); }
                Op::Advance(secs) => {
                    now += TimeDelta::seconds(secs);
                    s.refresh(now);
                }
            }
            s.refresh(now);
            // Invariant: an ended handshake never changes state (nor end time).
            for id in &ids {
                match (s.handshakes.get(id), seen.get(id)) {
                    (Some(h), Some((prev, prev_end))) if prev.is_ended() => {
                        prop_assert_eq!(h.state, *prev);
                        prop_assert_eq!(h.ended_at, Some(*prev_end));
                    }
                    (None, Some((prev, end))) => {
                        // Only ended handshakes disappear, and only 30 days after ending.
                        prop_assert!(prev.is_ended());
                        prop_assert!(now >= *end + TimeDelta::days(30));
                    }
                    _ => {}
                }
                if let Some(h) = s.handshakes.get(id) {
                    if let Some(end) = h.ended_at { seen.insert(id.clone(), (h.state, end)); }
                    else { seen.insert(id.clone(), (h.state, now)); }
                    // OPEN only before expiry; ended ones have an end time.
                    prop_assert_eq!(h.state == HandshakeState::Open, h.ended_at.is_none());
                    if h.state == HandshakeState::Open { prop_assert!(now < h.expires_at); }
                    if h.state == HandshakeState::Expired { prop_assert_eq!(h.ended_at, Some(h.expires_at)); }
                }
            }
            // Invariant: at most one OPEN invitation per (organization, account).
            let mut open: HashMap<(String, String), usize> = HashMap::new();
            for h in s.handshakes.values().filter(|h| h.state == HandshakeState::Open) {
                *open.entry((h.organization_id.clone(), h.target.id().to_string())).or_default() += 1;
            }
            prop_assert!(open.values().all(|&n| n == 1));
            // Invariant: membership + pending never exceeds the quota.
            for org in s.organizations.values() {
                let members = s.members(&org.id).len();
                let pending = s.handshakes.values().filter(|h| h.organization_id == org.id && h.state == HandshakeState::Open).count();
                prop_assert!(members + pending <= org.account_quota as usize);
            }
            // Invariant: the listing API returns exactly the visible handshakes of the organization.
            let page = s.list_handshakes_for_organization(MGMT, &HandshakeFilter::default(), Some(20), None, now).unwrap();
            let listed_total = {
                let mut total = page.items.len();
                let mut token = page.next_token.clone();
                while let Some(t) = token {
                    let p = s.list_handshakes_for_organization(MGMT, &HandshakeFilter::default(), Some(20), Some(&t), now).unwrap();
                    total += p.items.len();
                    token = p.next_token;
                }
                total
            };
            prop_assert_eq!(listed_total, s.handshakes.values().filter(|h| h.organization_id == ORG).count());
            // Invariant: the daily counter never exceeds the limit.
            prop_assert!(s.invitations_in_last_24h(ORG, now) <= 20);
        }
    }

    #[test]
    fn pagination_returns_each_item_once(n in 0usize..45, page in 1i64..=20) {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut s = world(now);
        s.set_account_quota(ORG, 100);
        for i in 0..n {
            let input = InviteInput { target_type: Some("EMAIL".into()), target_id: Some(format!("p{i}@example.com")), ..InviteInput::default() };
            // Spread over days so the daily limit is not hit.
            let t = now + TimeDelta::hours(2 * i as i64);
            s.invite(MGMT, input, t).unwrap();
        }
        let at = now + TimeDelta::hours(2 * n as i64);
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let p = s.list_handshakes_for_organization(MGMT, &HandshakeFilter::default(), Some(page), token.as_deref(), at).unwrap();
            prop_assert!(p.items.len() <= page as usize);
            all.extend(p.items.into_iter().map(|h| h.id));
            match p.next_token { Some(t) => token = Some(t), None => break }
        }
        let unique: std::collections::HashSet<_> = all.iter().collect();
        prop_assert_eq!(unique.len(), all.len());
        prop_assert_eq!(all.len(), s.handshakes.len());
    }
}
