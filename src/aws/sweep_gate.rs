//! What the per-profile sweeps share (the handshake sweep in [`super::observer`], the transfer
//! sweep in [`super::transfer_observer`]): one lock per profile so sweeps of a profile never
//! overlap, the rule for when a caller sweeps or uses the sweep in flight ([`Observer`]), and
//! the poller task that sweeps once per poll interval ([`spawn_poller`]).

use super::client::ProfileClients;
use super::error::AwsError;
use jiff::Timestamp;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// When a caller sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    /// Now, after any sweep in flight: the caller wants a list made after its call.
    Now,
    /// Only when the profile has no successful sweep once the sweep in flight ended; a sweep
    /// that failed while the caller waited returns its error (no second sweep right behind it).
    Unsynced,
    /// Unless a sweep succeeded less than this long ago (the poller's tick right after a
    /// reconcile's sweep).
    Due(Duration),
}

/// What a sweep reports as changed: nothing is the default.
pub(super) trait Changed: Default {
    /// Nothing changed (nobody to wake).
    fn is_nothing(&self) -> bool;
}

impl Changed for Vec<String> {
    fn is_nothing(&self) -> bool {
        self.is_empty()
    }
}

impl Changed for super::handshake_index::Changes {
    fn is_nothing(&self) -> bool {
        self.is_empty()
    }
}

/// The last sweep attempt of a profile: when it ended and its error, if it failed.
type LastSweep = Option<(Instant, Option<AwsError>)>;

/// One sweep lock per profile. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(super) struct SweepGates(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<LastSweep>>>>>);

impl SweepGates {
    fn gate(&self, profile: &str) -> Arc<tokio::sync::Mutex<LastSweep>> {
        let mut gates = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        gates.entry(profile.to_owned()).or_default().clone()
    }

    /// Runs `sweep` for `profile` under its lock as `when` says; `synced` tells whether the
    /// profile has had a successful sweep. A skipped sweep reports no change.
    pub(super) async fn run<Fut, C: Changed>(
        &self,
        profile: &str,
        when: When,
        synced: impl Fn() -> bool,
        sweep: impl FnOnce() -> Fut,
    ) -> Result<C, AwsError>
    where
        Fut: Future<Output = Result<C, AwsError>>,
    {
        let began = Instant::now();
        if when == When::Unsynced && synced() {
            return Ok(C::default());
        }
        let gate = self.gate(profile);
        let mut last = gate.lock().await;
        match (when, last.as_ref()) {
            (When::Unsynced, _) if synced() => return Ok(C::default()),
            (When::Unsynced, Some((ended, Some(e)))) if *ended >= began => return Err(e.clone()),
            (When::Due(gap), Some((ended, None))) if ended.elapsed() < gap && synced() => return Ok(C::default()),
            _ => {}
        }
        let result = sweep().await;
        *last = Some((Instant::now(), result.as_ref().err().cloned()));
        result
    }

    /// Forgets a profile's lock (deleted profile).
    pub(super) fn forget(&self, profile: &str) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(profile);
    }
}

/// A per-profile observer: its sweeps of a profile go through the profile's [`SweepGates`]
/// lock, as [`When`] says.
pub(super) trait Observer: Clone + Send + Sync + 'static {
    /// What a sweep reports as changed (who to wake).
    type Changed: Changed + Send;
    /// What it sweeps, for the logs ("handshake", "transfer").
    const WHAT: &'static str;

    /// The observer's sweep locks.
    fn gates(&self) -> &SweepGates;

    /// Whether `profile` has had a successful sweep.
    fn synced(&self, profile: &str) -> bool;

    /// One sweep of `profile` made at `now`, without the lock (the callers hold it): installs
    /// what it listed and returns what changed.
    fn sweep(
        &self,
        profile: &str,
        clients: &ProfileClients,
        now: Timestamp,
    ) -> impl Future<Output = Result<Self::Changed, AwsError>> + Send;

    /// Sweeps `profile` under its lock as `when` says (a skipped sweep reports no change).
    fn sweep_when(
        &self,
        when: When,
        profile: &str,
        clients: &ProfileClients,
        now: Timestamp,
    ) -> impl Future<Output = Result<Self::Changed, AwsError>> + Send {
        self.gates().run(
            profile,
            when,
            move || self.synced(profile),
            move || self.sweep(profile, clients, now),
        )
    }
}

/// Sweeps `profile` with `observer` every `interval` until `stop` is cancelled, and calls `wake`
/// with what changed (not when nothing did). A sweep is skipped when one of the profile
/// succeeded less than half an interval ago (e.g. a reconcile's just before the poller's first
/// tick); a failed sweep is logged. `now` gives the current time (the wall clock in production).
pub(super) fn spawn_poller<O, N, W>(
    observer: O,
    profile: String,
    clients: ProfileClients,
    interval: Duration,
    stop: CancellationToken,
    now: N,
    wake: W,
) -> tokio::task::JoinHandle<()>
where
    O: Observer,
    N: Fn() -> Timestamp + Send + 'static,
    W: Fn(O::Changed) + Send + 'static,
{
    tokio::spawn(async move {
        let what = O::WHAT;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let result = tokio::select! {
                () = stop.cancelled() => break,
                r = observer.sweep_when(When::Due(interval / 2), &profile, &clients, now()) => r,
            };
            match result {
                Ok(changed) if !changed.is_nothing() => wake(changed),
                Ok(_) => {}
                Err(e) => tracing::warn!(profile = %profile, reason = %e.reason(), error = %e, "{what} sweep failed"),
            }
        }
        tracing::debug!(profile = %profile, "{what} poller stopped");
    })
}
