//! The per-profile handshake observer (docs/architecture.md, "AWS usage and rate limits"):
//! one paginated ListHandshakesForOrganization sweep and one paginated ListAccounts sweep per
//! profile per poll interval feed a [`HandshakeIndex`] and a [`MembershipIndex`]; the invites
//! whose handshakes or membership changed are woken. Steady-state AWS calls are O(profiles),
//! independent of the number of invites.

use super::client::ProfileClients;
use super::error::{AwsError, ErrorClass};
use super::handshake_index::{Changes, HandshakeIndex};
use super::membership_index::MembershipIndex;
use super::organizations::MemberAccount;
use super::sweep_gate::{Observer, SweepGates, When, spawn_poller};
use crate::handshake::Handshake;
use crate::reason::Reason;
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The last failed sweep of a profile: enough to report it, without holding the SDK error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepError {
    /// What the reconciler should do.
    pub class: ErrorClass,
    /// Stable CamelCase reason.
    pub reason: Reason,
    /// Message for `kubectl describe`.
    pub message: String,
    /// When the sweep failed.
    pub at: Timestamp,
}

impl SweepError {
    fn new(e: &AwsError, at: Timestamp) -> Self {
        Self {
            class: e.class(),
            reason: e.reason(),
            message: e.message(),
            at,
        }
    }
}

/// What the observer knows about one profile's organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileView {
    /// The handshakes of the last successful sweep, plus those sent since.
    pub index: HandshakeIndex,
    /// The organization's members as the last successful sweep's ListAccounts listed them;
    /// `None` when that listing failed (e.g. the credentials may not call ListAccounts): then
    /// membership is asked per account (DescribeAccount).
    pub members: Option<MembershipIndex>,
    /// When the last successful sweep was made.
    pub refreshed_at: Timestamp,
    /// The error of the last sweep if it failed (the index is then the previous one).
    pub last_error: Option<SweepError>,
}

/// Per-profile handshake indexes, shared between the poller tasks and the reconcilers.
/// Cheap to clone.
///
/// Sweeps of one profile never overlap: each holds the profile's sweep lock, so a reconcile
/// that finds the index not yet synced waits for the sweep in flight and uses its result
/// ([`Self::sync`]) instead of listing the organization's handshakes itself. A newly elected
/// leader (or a restart) thus costs one sweep per organization, not one per invite.
#[derive(Debug, Clone, Default)]
pub struct HandshakeObserver {
    views: Arc<RwLock<HashMap<String, ProfileView>>>,
    sweeps: SweepGates,
}

impl HandshakeObserver {
    /// An observer that knows no profile yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, ProfileView>> {
        match self.views.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, ProfileView>> {
        match self.views.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Makes one sweep (ListHandshakesForOrganization, ActionType=INVITE, all pages) for
    /// `profile`, swaps its index and returns the accounts whose handshakes changed (all
    /// accounts with a handshake on the first sweep). On failure the previous index stays,
    /// `last_error` is set and the error is returned. Waits for a sweep of the same profile
    /// already in flight, then sweeps anyway (the caller wants a list made after its call).
    pub async fn refresh(&self, profile: &str, clients: &ProfileClients, now: Timestamp) -> Result<Changes, AwsError> {
        self.sweep_when(When::Now, profile, clients, now).await
    }

    /// Makes sure `profile` has had a successful sweep: returns at once when it has; otherwise
    /// waits for the sweep in flight (the poller's or another reconcile's) and uses its result,
    /// sweeping only when no sweep ended since this call began. A sweep that failed while this
    /// call waited returns its error (no second sweep right behind a failed one).
    /// Returns what the sweep changed when this call made it (nothing when it used another's).
    pub async fn sync(&self, profile: &str, clients: &ProfileClients, now: Timestamp) -> Result<Changes, AwsError> {
        self.sweep_when(When::Unsynced, profile, clients, now).await
    }

    /// Installs the result of a sweep made at `now` (what [`Self::refresh`] does after the
    /// calls); returns what changed: the handshakes (by ID) and the accounts whose handshakes or membership changed. Handshakes recorded
    /// with [`Self::record_sent`] that the sweep does not list yet (AWS lists are eventually
    /// consistent) are kept while they are younger than the sweep. `members` is `None` when
    /// ListAccounts failed.
    pub fn apply_sweep(
        &self,
        profile: &str,
        handshakes: Vec<Handshake>,
        members: Option<Vec<MemberAccount>>,
        now: Timestamp,
    ) -> Changes {
        let mut index = HandshakeIndex::new(handshakes, now);
        let members = members.map(|m| MembershipIndex::new(m, now));
        let mut views = self.write();
        let first_sweep = views
            .get(profile)
            .is_none_or(|v| v.refreshed_at == Timestamp::UNIX_EPOCH);
        // Membership changes between two listings (the first listing wakes nobody: every
        // invite is reconciled at start anyway, and a failed listing is no change).
        let member_changes = match (views.get(profile).and_then(|v| v.members.as_ref()), &members) {
            (Some(old), Some(new)) => new.diff(old),
            _ => Vec::new(),
        };
        let handshake_changes = match views.get(profile) {
            Some(old) => {
                // Keep just-sent handshakes the sweep missed (sent after the previous sweep).
                for h in old.index.iter() {
                    if index.get(&h.id).is_none()
                        && h.requested_at.is_some_and(|t| t > old.refreshed_at)
                        && h.state.is_pending()
                    {
                        index.insert(h.clone());
                    }
                }
                index.diff(&old.index)
            }
            None => index.diff(&HandshakeIndex::default()),
        };
        views.insert(
            profile.to_string(),
            ProfileView {
                index,
                members,
                refreshed_at: now,
                last_error: None,
            },
        );
        let mut changed = handshake_changes;
        changed.first_sweep = first_sweep;
        changed.accounts.extend(member_changes);
        changed.accounts.sort();
        changed.accounts.dedup();
        changed
    }

    /// The profile's view (a copy), if any sweep was attempted.
    pub fn view(&self, profile: &str) -> Option<ProfileView> {
        self.read().get(profile).cloned()
    }

    /// Whether the profile has had a successful sweep.
    pub fn is_synced(&self, profile: &str) -> bool {
        self.read()
            .get(profile)
            .is_some_and(|v| v.refreshed_at > Timestamp::UNIX_EPOCH)
    }

    /// Reads the profile's view without copying it.
    pub fn with_view<T>(&self, profile: &str, f: impl FnOnce(&ProfileView) -> T) -> Option<T> {
        self.read().get(profile).map(f)
    }

    /// Inserts a handshake just returned by InviteAccountToOrganization (or CancelHandshake), so
    /// the daily budget and adoption see it before the next sweep.
    pub fn record_sent(&self, profile: &str, handshake: Handshake) {
        let mut views = self.write();
        let view = views.entry(profile.to_string()).or_insert_with(|| ProfileView {
            index: HandshakeIndex::default(),
            members: None,
            refreshed_at: Timestamp::UNIX_EPOCH,
            last_error: None,
        });
        view.index.insert(handshake);
    }

    /// Drops everything known about a profile (deleted profile).
    pub fn forget(&self, profile: &str) {
        self.write().remove(profile);
        self.sweeps.forget(profile);
    }

    /// Names of the profiles the observer has a view of.
    pub fn profiles(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }
}

impl Observer for HandshakeObserver {
    type Changed = Changes;
    const WHAT: &'static str = "handshake";

    fn gates(&self) -> &SweepGates {
        &self.sweeps
    }

    fn synced(&self, profile: &str) -> bool {
        self.is_synced(profile)
    }

    /// ListHandshakesForOrganization (ActionType=INVITE, all pages), then ListAccounts; on
    /// failure of the first the previous index stays and `last_error` is set.
    async fn sweep(&self, profile: &str, clients: &ProfileClients, now: Timestamp) -> Result<Changes, AwsError> {
        match clients.list_invite_handshakes().await {
            Ok(list) => {
                // Listed after the handshakes: an ACCEPTED handshake of this sweep has its
                // account among these members unless it left since.
                let members = match clients.list_accounts().await {
                    Ok(members) => Some(members),
                    Err(e) => {
                        tracing::warn!(profile = %profile, reason = %e.reason(), error = %e,
                            "membership sweep (ListAccounts) failed; membership is asked per account");
                        None
                    }
                };
                Ok(self.apply_sweep(profile, list, members, now))
            }
            Err(e) => {
                let mut views = self.write();
                match views.get_mut(profile) {
                    Some(v) => v.last_error = Some(SweepError::new(&e, now)),
                    None => {
                        // No successful sweep yet: nothing to serve, but keep the error visible.
                        views.insert(
                            profile.to_string(),
                            ProfileView {
                                index: HandshakeIndex::default(),
                                members: None,
                                refreshed_at: Timestamp::UNIX_EPOCH,
                                last_error: Some(SweepError::new(&e, now)),
                            },
                        );
                    }
                }
                Err(e)
            }
        }
    }
}

/// Runs the handshake sweep ([`HandshakeObserver::refresh`]) for `profile` every `interval`
/// until `stop` is cancelled, calling `wake` with the accounts whose handshakes changed (not
/// called when nothing changed); a failed sweep is logged and kept as the view's `last_error`.
/// The first sweep is made at once, unless a reconcile's [`HandshakeObserver::sync`] swept less
/// than half an interval ago. `now` gives the current time (the wall clock in production). The
/// task ends when `stop` is cancelled.
pub fn spawn_profile_poller<W, N>(
    observer: HandshakeObserver,
    profile: String,
    clients: ProfileClients,
    interval: Duration,
    stop: CancellationToken,
    now: N,
    wake: W,
) -> tokio::task::JoinHandle<()>
where
    W: Fn(Changes) + Send + 'static,
    N: Fn() -> Timestamp + Send + 'static,
{
    spawn_poller(observer, profile, clients, interval, stop, now, wake)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::HandshakeState;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("ts")
    }

    fn hs(id: &str, account: &str, state: HandshakeState, requested: i64) -> Handshake {
        Handshake {
            id: id.into(),
            arn: Some(format!("arn:{id}")),
            state,
            account_id: Some(account.into()),
            requested_at: Some(ts(requested)),
            expires_at: Some(ts(requested + 15 * 86_400)),
        }
    }

    #[test]
    fn sweeps_swap_the_index_and_report_changes() {
        use HandshakeState::*;
        let obs = HandshakeObserver::new();
        assert!(obs.view("p").is_none());
        let changed = obs.apply_sweep("p", vec![hs("h-1", "111111111111", Open, 0)], None, ts(10));
        assert_eq!(changed.accounts, vec!["111111111111"]);
        assert!(obs.is_synced("p"));
        let changed = obs.apply_sweep("p", vec![hs("h-1", "111111111111", Open, 0)], None, ts(20));
        assert!(changed.is_empty());
        let changed = obs.apply_sweep("p", vec![hs("h-1", "111111111111", Accepted, 0)], None, ts(30));
        assert_eq!(changed.accounts, vec!["111111111111"]);
        let v = obs.view("p").expect("view");
        assert_eq!(v.refreshed_at, ts(30));
        assert_eq!(v.index.get("h-1").map(|h| h.state), Some(Accepted));
        assert_eq!(obs.profiles(), vec!["p".to_string()]);
        obs.forget("p");
        assert!(obs.view("p").is_none());
    }

    #[test]
    fn sent_handshakes_count_before_the_next_sweep() {
        use HandshakeState::*;
        let obs = HandshakeObserver::new();
        obs.apply_sweep("p", vec![], None, ts(10));
        obs.record_sent("p", hs("h-2", "222222222222", Open, 15));
        let v = obs.view("p").expect("view");
        assert_eq!(v.index.sent_in_last_24h(ts(16)), 1);
        assert_eq!(
            v.index.pending_for_account("222222222222").map(|h| h.id.as_str()),
            Some("h-2")
        );
        // A sweep made before AWS lists it keeps it; no change reported for it.
        let changed = obs.apply_sweep("p", vec![], None, ts(20));
        assert!(changed.is_empty());
        assert!(obs.view("p").expect("view").index.get("h-2").is_some());
        // Once listed and then gone from the list (e.g. a newer sweep after 30 days), it goes.
        obs.apply_sweep("p", vec![hs("h-2", "222222222222", Open, 15)], None, ts(30));
        let changed = obs.apply_sweep("p", vec![], None, ts(40));
        assert_eq!(changed.accounts, vec!["222222222222"]);
        assert!(obs.view("p").expect("view").index.get("h-2").is_none());
    }

    fn member(id: &str) -> MemberAccount {
        MemberAccount {
            id: id.into(),
            status: Some("ACTIVE".into()),
            joined_at: Some(ts(0)),
            joined_method: Some("INVITED".into()),
        }
    }

    #[test]
    fn membership_changes_wake_their_accounts() {
        let obs = HandshakeObserver::new();
        let first = obs.apply_sweep(
            "p",
            vec![],
            Some(vec![member("111111111111"), member("333333333333")]),
            ts(10),
        );
        assert!(
            first.accounts.is_empty() && first.first_sweep,
            "the first listing names no account: it wakes every invite as the first sweep"
        );
        let view = obs.view("p").expect("view");
        assert!(view.members.as_ref().is_some_and(|m| m.is_member("333333333333")));
        // Nothing changed.
        let same = obs.apply_sweep(
            "p",
            vec![],
            Some(vec![member("111111111111"), member("333333333333")]),
            ts(20),
        );
        assert!(same.is_empty());
        // 333… left, 555… joined.
        let changed = obs.apply_sweep(
            "p",
            vec![],
            Some(vec![member("111111111111"), member("555555555555")]),
            ts(30),
        );
        assert_eq!(changed.accounts, vec!["333333333333", "555555555555"]);
        // A failed ListAccounts leaves no membership answer (asked per account instead) and
        // reports no change.
        let failed = obs.apply_sweep("p", vec![], None, ts(40));
        assert!(failed.is_empty());
        assert!(obs.view("p").expect("view").members.is_none());
    }
}
