//! The index the per-profile observer keeps of its organization's invitation handshakes
//! (docs/architecture.md, "AWS usage and rate limits"). Pure: built from one ListHandshakesForOrganization sweep.

use crate::handshake::{Handshake, HandshakeState};
use jiff::{SignedDuration, Timestamp};
use std::collections::{BTreeSet, HashMap};

/// AWS's rolling window for the daily invitation quota.
pub const QUOTA_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// Handshakes of one organization, by ID and by invited account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeIndex {
    by_id: HashMap<String, Handshake>,
    /// Account ID → handshake IDs, newest first.
    by_account: HashMap<String, Vec<String>>,
    as_of: Option<Timestamp>,
}

impl HandshakeIndex {
    /// Builds the index from one sweep made at `now`. A handshake listed twice keeps its last entry.
    pub fn new(handshakes: Vec<Handshake>, now: Timestamp) -> Self {
        let mut index = Self {
            as_of: Some(now),
            ..Self::default()
        };
        for h in handshakes {
            index.insert(h);
        }
        index
    }

    /// When the sweep this index comes from was made.
    pub fn as_of(&self) -> Option<Timestamp> {
        self.as_of
    }

    /// Adds or replaces one handshake (e.g. one just sent, before the next sweep sees it).
    pub fn insert(&mut self, h: Handshake) {
        if let Some(old) = self.by_id.remove(&h.id)
            && let Some(account) = &old.account_id
            && let Some(ids) = self.by_account.get_mut(account)
        {
            ids.retain(|id| id != &old.id);
            if ids.is_empty() {
                self.by_account.remove(account);
            }
        }
        let id = h.id.clone();
        let account = h.account_id.clone();
        self.by_id.insert(id.clone(), h);
        if let Some(account) = account {
            let by_id = &self.by_id;
            let ids = self.by_account.entry(account).or_default();
            ids.push(id);
            let key = |id: &String| by_id.get(id).map(|h| (h.requested_at, h.id.clone()));
            ids.sort_by_key(|id| std::cmp::Reverse(key(id)));
        }
    }

    /// The handshake with this ID.
    pub fn get(&self, id: &str) -> Option<&Handshake> {
        self.by_id.get(id)
    }

    /// Number of handshakes.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the index holds no handshake.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// All handshakes, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Handshake> {
        self.by_id.values()
    }

    /// All handshakes to `account_id`, newest first (those without a request time last).
    pub fn for_account(&self, account_id: &str) -> Vec<&Handshake> {
        self.by_account
            .get(account_id)
            .map(|ids| ids.iter().filter_map(|id| self.by_id.get(id)).collect())
            .unwrap_or_default()
    }

    /// The newest pending (REQUESTED or OPEN) invitation to `account_id`: the one to adopt.
    pub fn pending_for_account(&self, account_id: &str) -> Option<&Handshake> {
        self.for_account(account_id).into_iter().find(|h| h.state.is_pending())
    }

    /// Invitations that count against AWS's daily quota at `now`: requested within the last
    /// 24 hours and not accepted (cancel-and-resend counts; accepted ones do not).
    ///
    /// A handshake AWS lists without a RequestedTimestamp (the model makes it optional) is not
    /// counted: its place in the window is unknown, and counting it forever would starve the
    /// queue. AWS still enforces its quota, and the operator queues on that refusal.
    pub fn sent_in_last_24h(&self, now: Timestamp) -> u32 {
        let n = self.counted(now).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The request times of the invitations counted against the daily quota at `now`.
    fn counted(&self, now: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        let since = now.checked_sub(QUOTA_WINDOW).unwrap_or(Timestamp::MIN);
        self.by_id
            .values()
            .filter(|h| h.state != HandshakeState::Accepted)
            .filter_map(|h| h.requested_at)
            .filter(move |t| *t > since)
    }

    /// When the oldest invitation counted by [`Self::sent_in_last_24h`] leaves the window: the
    /// earliest time a queued invitation may get room. `None` when nothing is counted.
    pub fn next_quota_release(&self, now: Timestamp) -> Option<Timestamp> {
        self.counted(now)
            .min()
            .map(|t| t.checked_add(QUOTA_WINDOW).unwrap_or(Timestamp::MAX))
    }

    /// What differs between `old` and `self`: the handshakes that appeared, disappeared or
    /// changed (state, expiry, invitee), by ID, and the accounts they were or are filed under.
    /// Both sorted, without duplicates.
    pub fn diff(&self, old: &HandshakeIndex) -> Changes {
        let mut accounts = BTreeSet::new();
        let mut handshakes = BTreeSet::new();
        for (id, h) in &self.by_id {
            match old.by_id.get(id) {
                Some(o) if o == h => continue,
                Some(o) => accounts.extend(o.account_id.clone()),
                None => {}
            }
            accounts.extend(h.account_id.clone());
            handshakes.insert(id.clone());
        }
        for (id, o) in &old.by_id {
            if !self.by_id.contains_key(id) {
                accounts.extend(o.account_id.clone());
                handshakes.insert(id.clone());
            }
        }
        Changes {
            accounts: accounts.into_iter().collect(),
            handshakes: handshakes.into_iter().collect(),
            first_sweep: false,
        }
    }
}

/// What changed between two sweeps: whom to wake. An invite is woken when its account is
/// listed, or when the handshake it recorded is (a handshake is identified by its ID wherever
/// one is recorded, whatever AWS's answer says about its parties).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Accounts whose handshakes changed.
    pub accounts: Vec<String>,
    /// IDs of the handshakes that changed.
    pub handshakes: Vec<String>,
    /// The organization's first successful sweep: every invite of the organization waits for
    /// it (an invite decides nothing before its organization's handshakes are known), so all
    /// are woken, whatever their accounts.
    pub first_sweep: bool,
}

impl Changes {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.handshakes.is_empty() && !self.first_sweep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("ts")
    }

    fn hs(id: &str, account: &str, state: HandshakeState, requested: i64) -> Handshake {
        Handshake {
            id: id.into(),
            arn: Some(format!("arn:aws:organizations::111111111111:handshake/o-x/invite/{id}")),
            state,
            account_id: Some(account.into()),
            requested_at: Some(ts(requested)),
            expires_at: Some(ts(requested + 15 * 86_400)),
        }
    }

    const H: i64 = 3600;

    #[test]
    fn get_and_pending() {
        use HandshakeState::*;
        let idx = HandshakeIndex::new(
            vec![
                hs("h-1", "333333333333", Expired, 0),
                hs("h-2", "333333333333", Open, 10),
                hs("h-3", "333333333333", Canceled, 20),
                hs("h-4", "444444444444", Declined, 0),
            ],
            ts(100),
        );
        assert_eq!(idx.len(), 4);
        assert_eq!(idx.get("h-3").map(|h| h.state), Some(Canceled));
        assert!(idx.get("h-9").is_none());
        assert_eq!(
            idx.pending_for_account("333333333333").map(|h| h.id.as_str()),
            Some("h-2")
        );
        assert!(idx.pending_for_account("444444444444").is_none());
        assert!(idx.pending_for_account("555555555555").is_none());
        let ids: Vec<_> = idx.for_account("333333333333").iter().map(|h| h.id.clone()).collect();
        assert_eq!(ids, vec!["h-3", "h-2", "h-1"]);
    }

    #[test]
    fn newest_pending_wins() {
        use HandshakeState::*;
        let idx = HandshakeIndex::new(
            vec![
                hs("h-old", "333333333333", Open, 0),
                hs("h-new", "333333333333", Requested, 50),
            ],
            ts(100),
        );
        assert_eq!(
            idx.pending_for_account("333333333333").map(|h| h.id.as_str()),
            Some("h-new")
        );
    }

    #[test]
    fn daily_quota_counts_like_aws() {
        use HandshakeState::*;
        let now = ts(48 * H);
        let idx = HandshakeIndex::new(
            vec![
                hs("h-a", "1", Open, 47 * H),     // counted
                hs("h-b", "2", Accepted, 47 * H), // accepted: not counted
                hs("h-c", "3", Canceled, 30 * H), // canceled within 24h: counted
                hs("h-d", "4", Declined, 25 * H), // counted
                hs("h-e", "5", Expired, 24 * H),  // exactly 24h old: out of the window
                hs("h-f", "6", Open, 10 * H),     // old: not counted
            ],
            now,
        );
        assert_eq!(idx.sent_in_last_24h(now), 3);
        assert_eq!(idx.next_quota_release(now), Some(ts(49 * H)));
        assert_eq!(idx.sent_in_last_24h(ts(100 * H)), 0);
        assert_eq!(idx.next_quota_release(ts(100 * H)), None);
    }

    #[test]
    fn insert_replaces_and_counts() {
        use HandshakeState::*;
        let mut idx = HandshakeIndex::new(vec![], ts(0));
        assert!(idx.is_empty());
        idx.insert(hs("h-1", "333333333333", Open, 0));
        assert_eq!(idx.sent_in_last_24h(ts(10)), 1);
        idx.insert(hs("h-1", "333333333333", Canceled, 0));
        assert_eq!(idx.len(), 1);
        assert!(idx.pending_for_account("333333333333").is_none());
        assert_eq!(idx.for_account("333333333333").len(), 1);
    }

    #[test]
    fn diff_reports_changed_accounts() {
        use HandshakeState::*;
        let old = HandshakeIndex::new(
            vec![
                hs("h-1", "111111111111", Open, 0),
                hs("h-2", "222222222222", Open, 0),
                hs("h-3", "333333333333", Open, 0),
            ],
            ts(0),
        );
        let new = HandshakeIndex::new(
            vec![
                hs("h-1", "111111111111", Open, 0),     // unchanged
                hs("h-2", "222222222222", Accepted, 0), // changed
                hs("h-4", "444444444444", Open, 5),     // appeared
            ],
            ts(10),
        );
        // h-3 disappeared.
        let changes = new.diff(&old);
        assert_eq!(changes.accounts, vec!["222222222222", "333333333333", "444444444444"]);
        assert_eq!(changes.handshakes, vec!["h-2", "h-3", "h-4"]);
        assert!(new.diff(&new).is_empty());
        assert_eq!(old.diff(&HandshakeIndex::default()).accounts.len(), 3);
    }
}
