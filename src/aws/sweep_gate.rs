//! What the per-profile sweeps share (the handshake sweep in [`super::observer`], the transfer
//! sweep in [`super::transfer_observer`]): one lock per profile so sweeps of a profile never
//! overlap, the rule for when a caller sweeps or uses the sweep in flight, and the poller task
//! that sweeps once per poll interval.

use super::error::AwsError;
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

/// Calls `sweep` every `interval` until `stop` is cancelled, and `wake` with what changed (not
/// when nothing did); a failed sweep is logged as `what` ("handshake", "transfer").
pub(super) fn spawn_poller<S, Fut, W, C>(
    what: &'static str,
    profile: String,
    interval: Duration,
    stop: CancellationToken,
    sweep: S,
    wake: W,
) -> tokio::task::JoinHandle<()>
where
    S: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<C, AwsError>> + Send,
    W: Fn(C) + Send + 'static,
    C: Changed + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let result = tokio::select! {
                () = stop.cancelled() => break,
                r = sweep() => r,
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
