//! The index the per-profile observer keeps of its organization's member accounts
//! (docs/architecture.md, "AWS usage and rate limits"). Pure: built from one paginated
//! ListAccounts sweep (20 accounts per page), so an invite's membership is answered without a
//! DescribeAccount of its own.

use super::organizations::MemberAccount;
use jiff::Timestamp;
use std::collections::{BTreeSet, HashMap};

/// The members of one organization (its management account included), by account ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipIndex {
    by_id: HashMap<String, MemberAccount>,
    as_of: Option<Timestamp>,
}

impl MembershipIndex {
    /// Builds the index from one ListAccounts sweep made at `now`. An account listed twice
    /// (a page boundary moving under the sweep) keeps its last entry.
    pub fn new(members: Vec<MemberAccount>, now: Timestamp) -> Self {
        Self {
            by_id: members.into_iter().map(|m| (m.id.clone(), m)).collect(),
            as_of: Some(now),
        }
    }

    /// When the sweep this index comes from was made.
    pub fn as_of(&self) -> Option<Timestamp> {
        self.as_of
    }

    /// The member with this account ID, if the sweep listed it.
    pub fn get(&self, account_id: &str) -> Option<&MemberAccount> {
        self.by_id.get(account_id)
    }

    /// Whether the sweep listed `account_id` as a member.
    pub fn is_member(&self, account_id: &str) -> bool {
        self.by_id.contains_key(account_id)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the organization has no member (never true for a real one: its management
    /// account is listed).
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Accounts that joined, left, or whose listing changed (status, joined method or time)
    /// between `old` and `self`. Sorted, without duplicates.
    pub fn diff(&self, old: &MembershipIndex) -> Vec<String> {
        let mut changed = BTreeSet::new();
        for (id, m) in &self.by_id {
            if old.by_id.get(id) != Some(m) {
                changed.insert(id.clone());
            }
        }
        for id in old.by_id.keys() {
            if !self.by_id.contains_key(id) {
                changed.insert(id.clone());
            }
        }
        changed.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("ts")
    }

    fn member(id: &str, joined: i64) -> MemberAccount {
        MemberAccount {
            id: id.into(),
            status: Some("ACTIVE".into()),
            joined_at: Some(ts(joined)),
            joined_method: Some("INVITED".into()),
        }
    }

    #[test]
    fn answers_membership_from_one_sweep() {
        let idx = MembershipIndex::new(vec![member("111111111111", 0), member("333333333333", 5)], ts(10));
        assert_eq!(idx.len(), 2);
        assert!(!idx.is_empty());
        assert_eq!(idx.as_of(), Some(ts(10)));
        assert!(idx.is_member("333333333333"));
        assert!(!idx.is_member("222222222222"));
        assert_eq!(
            idx.get("333333333333").and_then(|m| m.joined_at),
            Some(ts(5)),
            "the join time comes from the sweep"
        );
        assert!(MembershipIndex::default().is_empty());
    }

    #[test]
    fn duplicate_listing_keeps_the_last() {
        let mut later = member("333333333333", 5);
        later.status = Some("SUSPENDED".into());
        let idx = MembershipIndex::new(vec![member("333333333333", 5), later], ts(10));
        assert_eq!(idx.len(), 1);
        assert_eq!(
            idx.get("333333333333").and_then(|m| m.status.clone()).as_deref(),
            Some("SUSPENDED")
        );
    }

    #[test]
    fn diff_reports_joins_departures_and_changes() {
        let old = MembershipIndex::new(
            vec![
                member("111111111111", 0),
                member("222222222222", 0),
                member("333333333333", 0),
            ],
            ts(0),
        );
        let mut rejoined = member("333333333333", 50); // left and joined again: a new join time
        rejoined.joined_method = Some("INVITED".into());
        let new = MembershipIndex::new(
            vec![member("111111111111", 0), rejoined, member("444444444444", 40)],
            ts(60),
        );
        // 222… left, 333… joined again, 444… joined.
        assert_eq!(new.diff(&old), vec!["222222222222", "333333333333", "444444444444"]);
        assert!(new.diff(&new).is_empty());
        assert_eq!(old.diff(&MembershipIndex::default()).len(), 3);
    }
}
