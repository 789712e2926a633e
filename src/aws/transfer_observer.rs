//! The per-profile billing transfer sweep (docs/architecture.md, "The per-profile handshake
//! sweep and index"): once per poll interval, for each BillingProfile that a BillingTransfer
//! names, one ListInboundResponsibilityTransfers (the payer's transfers, every page) and one
//! ListHandshakesForOrganization filtered to `TRANSFER_RESPONSIBILITY` (every page). The
//! BillingTransfers whose customer's transfers changed between two sweeps are woken; no
//! BillingTransfer polls AWS itself, so steady-state calls are O(profiles), not O(transfers).
//!
//! It mirrors [`super::HandshakeObserver`]: sweeps of one profile never overlap (a per-profile
//! lock), a reconcile that finds no sweep yet waits for the one in flight ([`TransferObserver::sync`]),
//! and what an AWS call just returned is recorded at once ([`TransferObserver::record`]).

use super::client::ProfileClients;
use super::error::AwsError;
use super::sweep_gate::{Observer, SweepGates, When, spawn_poller};
use crate::handshake::Handshake;
use crate::transfer::AwsTransfer;
use jiff::Timestamp;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What one sweep saw of a profile's organization, plus what was sent or changed since.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransferView {
    /// The organization's inbound transfers (it pays).
    pub transfers: Vec<AwsTransfer>,
    /// Its `TRANSFER_RESPONSIBILITY` handshakes, by ID.
    pub handshakes: HashMap<String, Handshake>,
    /// When the last successful sweep was made (`UNIX_EPOCH`: none yet).
    pub refreshed_at: Timestamp,
}

impl TransferView {
    /// Who each transfer is to (its customer's account ID, else its email), with what can
    /// change: a transfer's key changes when any of these does.
    fn keys(&self) -> BTreeSet<(String, String)> {
        self.transfers
            .iter()
            .map(|t| {
                let handshake = t
                    .handshake_id
                    .as_deref()
                    .and_then(|h| self.handshakes.get(h))
                    .map(|h| h.state.as_str());
                (
                    customer_of(t),
                    format!("{}|{}|{}|{:?}|{handshake:?}", t.id, t.status.as_str(), t.name, t.end),
                )
            })
            .collect()
    }
}

/// The customer a transfer is to: its management account ID, else its email (lowercase).
pub fn customer_of(t: &AwsTransfer) -> String {
    t.source_account_id
        .clone()
        .or_else(|| t.source_email.as_ref().map(|e| e.to_ascii_lowercase()))
        .unwrap_or_default()
}

/// Per-profile transfer views, shared by the pollers and the BillingTransfer reconciles.
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TransferObserver {
    views: Arc<Mutex<HashMap<String, TransferView>>>,
    sweeps: SweepGates,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TransferObserver {
    /// An observer that knows no profile yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes one sweep now (waiting for one in flight first); returns the customers whose
    /// transfers changed. The caller wants a list made after its call (e.g. before a send).
    pub async fn refresh(
        &self,
        profile: &str,
        clients: &ProfileClients,
        now: Timestamp,
    ) -> Result<Vec<String>, AwsError> {
        self.sweep_when(When::Now, profile, clients, now).await
    }

    /// Makes sure `profile` has had a successful sweep: at once when it has, else waits for
    /// the sweep in flight and uses it, sweeping only when none succeeded meanwhile.
    pub async fn sync(&self, profile: &str, clients: &ProfileClients, now: Timestamp) -> Result<(), AwsError> {
        self.sweep_when(When::Unsynced, profile, clients, now).await.map(|_| ())
    }

    /// Installs a sweep made at `now`; returns the customers whose transfers changed. A
    /// transfer recorded with [`Self::record`] after the previous sweep that this one does not
    /// list yet (AWS lists are eventually consistent) is kept.
    pub fn apply_sweep(
        &self,
        profile: &str,
        transfers: Vec<AwsTransfer>,
        handshakes: Vec<Handshake>,
        now: Timestamp,
    ) -> Vec<String> {
        let mut view = TransferView {
            transfers,
            handshakes: handshakes.into_iter().map(|h| (h.id.clone(), h)).collect(),
            refreshed_at: now,
        };
        let mut views = locked(&self.views);
        let old = views.remove(profile).unwrap_or_default();
        let recent = old
            .transfers
            .iter()
            .filter(|t| !view.transfers.iter().any(|x| x.id == t.id))
            .filter(|t| {
                t.handshake_id
                    .as_deref()
                    .and_then(|h| old.handshakes.get(h))
                    .is_some_and(|h| h.requested_at.is_some_and(|t| t > old.refreshed_at))
            })
            .cloned()
            .collect::<Vec<_>>();
        for t in recent {
            if let Some(h) = t.handshake_id.as_deref().and_then(|h| old.handshakes.get(h)) {
                view.handshakes.entry(h.id.clone()).or_insert_with(|| h.clone());
            }
            view.transfers.push(t);
        }
        let (before, after) = (old.keys(), view.keys());
        let changed: BTreeSet<String> = before
            .symmetric_difference(&after)
            .map(|(customer, _)| customer.clone())
            .collect();
        views.insert(profile.to_owned(), view);
        changed.into_iter().collect()
    }

    /// Whether `profile` has had a successful sweep.
    pub fn is_synced(&self, profile: &str) -> bool {
        locked(&self.views)
            .get(profile)
            .is_some_and(|v| v.refreshed_at > Timestamp::UNIX_EPOCH)
    }

    /// The profile's view (a copy).
    pub fn view(&self, profile: &str) -> Option<TransferView> {
        locked(&self.views).get(profile).cloned()
    }

    /// Records a transfer an AWS call just returned (and the invitation's handshake, for a
    /// send), so reconciles see it before the next sweep lists it.
    pub fn record(&self, profile: &str, transfer: AwsTransfer, handshake: Option<Handshake>) {
        let mut views = locked(&self.views);
        let view = views.entry(profile.to_owned()).or_default();
        view.transfers.retain(|t| t.id != transfer.id);
        view.transfers.push(transfer);
        if let Some(h) = handshake {
            view.handshakes.insert(h.id.clone(), h);
        }
    }

    /// Records the new state of a handshake (after CancelHandshake).
    pub fn record_handshake(&self, profile: &str, handshake: Handshake) {
        if let Some(view) = locked(&self.views).get_mut(profile) {
            view.handshakes.insert(handshake.id.clone(), handshake);
        }
    }

    /// Drops everything known about a profile.
    pub fn forget(&self, profile: &str) {
        locked(&self.views).remove(profile);
        self.sweeps.forget(profile);
    }
}

impl Observer for TransferObserver {
    type Changed = Vec<String>;
    const WHAT: &'static str = "transfer";

    fn gates(&self) -> &SweepGates {
        &self.sweeps
    }

    fn synced(&self, profile: &str) -> bool {
        self.is_synced(profile)
    }

    /// ListInboundResponsibilityTransfers, then the `TRANSFER_RESPONSIBILITY` handshakes (every
    /// page of each); a failure leaves the view as it was.
    async fn sweep(&self, profile: &str, clients: &ProfileClients, now: Timestamp) -> Result<Vec<String>, AwsError> {
        let transfers = clients.list_inbound_transfers().await?;
        let handshakes = clients.list_transfer_handshakes().await?;
        Ok(self.apply_sweep(profile, transfers, handshakes, now))
    }
}

/// Sweeps `profile`'s transfers every `interval` until `stop` is cancelled, calling `wake`
/// with the customers whose transfers changed. The first sweep is made at once unless one
/// succeeded less than half an interval ago. A failed sweep is logged; the view stays.
pub fn spawn_transfer_poller<W, N>(
    observer: TransferObserver,
    profile: String,
    clients: ProfileClients,
    interval: Duration,
    stop: CancellationToken,
    now: N,
    wake: W,
) -> tokio::task::JoinHandle<()>
where
    W: Fn(Vec<String>) + Send + 'static,
    N: Fn() -> Timestamp + Send + 'static,
{
    spawn_poller(observer, profile, clients, interval, stop, now, wake)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::HandshakeState;
    use crate::transfer::AwsTransferStatus;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("ts")
    }

    fn transfer(id: &str, customer: &str, status: AwsTransferStatus) -> AwsTransfer {
        AwsTransfer {
            id: id.into(),
            arn: None,
            name: "n".into(),
            status,
            start: ts(86_400 * 40),
            end: None,
            handshake_id: Some(format!("h-{id}")),
            source_account_id: Some(customer.into()),
            source_email: None,
        }
    }

    fn handshake(id: &str, state: HandshakeState, requested: i64) -> Handshake {
        Handshake {
            id: format!("h-{id}"),
            arn: Some(format!("arn:h-{id}")),
            state,
            account_id: None,
            requested_at: Some(ts(requested)),
            expires_at: Some(ts(86_400 * 39)),
        }
    }

    #[test]
    fn sweeps_report_the_customers_whose_transfers_changed() {
        use AwsTransferStatus::*;
        let obs = TransferObserver::new();
        assert!(!obs.is_synced("p"));
        let a = transfer("rt-a", "111111111111", Requested);
        let b = transfer("rt-b", "222222222222", Requested);
        let hs = vec![
            handshake("rt-a", HandshakeState::Open, 0),
            handshake("rt-b", HandshakeState::Open, 0),
        ];
        let changed = obs.apply_sweep("p", vec![a.clone(), b.clone()], hs.clone(), ts(10));
        assert_eq!(changed, vec!["111111111111", "222222222222"]);
        assert!(obs.is_synced("p"));
        assert!(
            obs.apply_sweep("p", vec![a.clone(), b.clone()], hs.clone(), ts(20))
                .is_empty()
        );
        let accepted = AwsTransfer {
            status: Accepted,
            ..b.clone()
        };
        let changed = obs.apply_sweep("p", vec![a.clone(), accepted], hs, ts(30));
        assert_eq!(changed, vec!["222222222222"]);
        obs.forget("p");
        assert!(obs.view("p").is_none());
    }

    #[test]
    fn a_just_sent_transfer_survives_a_sweep_that_does_not_list_it_yet() {
        use AwsTransferStatus::*;
        let obs = TransferObserver::new();
        obs.apply_sweep("p", vec![], vec![], ts(10));
        obs.record(
            "p",
            transfer("rt-c", "333333333333", Requested),
            Some(handshake("rt-c", HandshakeState::Open, 15)),
        );
        let changed = obs.apply_sweep("p", vec![], vec![], ts(20));
        assert!(changed.is_empty(), "{changed:?}");
        let view = obs.view("p").expect("view");
        assert_eq!(view.transfers.len(), 1);
        assert!(view.handshakes.contains_key("h-rt-c"));
        // Listed once, then gone from the list: it goes.
        obs.apply_sweep(
            "p",
            vec![transfer("rt-c", "333333333333", Requested)],
            vec![handshake("rt-c", HandshakeState::Open, 15)],
            ts(30),
        );
        assert_eq!(obs.apply_sweep("p", vec![], vec![], ts(40)), vec!["333333333333"]);
        assert!(obs.view("p").expect("view").transfers.is_empty());
    }
}
