//! Leader election on a `coordination.k8s.io/v1` Lease, built on `kube-lease-manager`.
//!
//! [`acquire`] resolves once this process holds the Lease; standbys wait inside it. The
//! returned [`LeaderHandle`] keeps renewing the Lease in a background task, reports loss through
//! [`LeaderHandle::lost`] and gives the Lease up with [`LeaderHandle::release`].
//!
//! Besides the renew loop of `kube-lease-manager`, the task watches the Lease object itself:
//! - a standby that sees the Lease released (no holder) re-reads it at once instead of
//!   sleeping until the old holder's expiry, so a graceful hand-over takes about a second;
//! - a leader that sees another holder on the Lease reports the loss at once instead of at its
//!   next renewal;
//! - a leader whose renewals keep failing for `grace_secs` reports the loss, so it stops
//!   working before a standby may take the expired Lease over.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as lease_watcher};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Default Lease duration: a crashed leader is replaced after at most this long.
pub const DEFAULT_DURATION_SECS: u64 = 15;
/// Default grace: the leader renews this long before the Lease would expire.
pub const DEFAULT_GRACE_SECS: u64 = 5;

/// Delay between attempts after an API error while not leading.
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(15);

/// Where and as whom to run the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Name of the Lease object (created when missing).
    pub lease_name: String,
    /// Namespace of the Lease.
    pub namespace: String,
    /// This candidate's identity, unique among replicas (e.g. the pod name).
    pub identity: String,
    /// Seconds a Lease stays valid after its last renewal.
    pub duration_secs: u64,
    /// Seconds before expiry at which the leader renews; must be less than `duration_secs`.
    pub grace_secs: u64,
}

impl LeaderConfig {
    /// A config with [`DEFAULT_DURATION_SECS`] and [`DEFAULT_GRACE_SECS`].
    pub fn new(lease_name: impl Into<String>, namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            lease_name: lease_name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            duration_secs: DEFAULT_DURATION_SECS,
            grace_secs: DEFAULT_GRACE_SECS,
        }
    }

    fn validate(&self) -> Result<(), LeaderError> {
        let bad = |why: &str| Err(LeaderError::InvalidConfig(why.to_owned()));
        if self.lease_name.is_empty() {
            return bad("lease name is empty");
        }
        if self.namespace.is_empty() {
            return bad("lease namespace is empty");
        }
        if self.identity.is_empty() {
            return bad("identity is empty");
        }
        if self.duration_secs == 0 || self.grace_secs >= self.duration_secs {
            return bad("grace_secs must be less than duration_secs, and duration_secs positive");
        }
        if i32::try_from(self.duration_secs).is_err() {
            return bad("duration_secs is too large");
        }
        Ok(())
    }
}

/// Why leader election failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The [`LeaderConfig`] is unusable.
    #[error("invalid leader election config: {0}")]
    InvalidConfig(String),
    /// The Lease could not be read, created or updated.
    #[error("lease: {0}")]
    Lease(#[from] LeaseManagerError),
    /// The election task ended before this process became leader.
    #[error("leader election stopped before this process became leader")]
    Stopped,
    /// The election task panicked or was aborted.
    #[error("leader election task failed: {0}")]
    Task(String),
}

/// Proof that this process holds the Lease. Dropping it stops renewing (the Lease then expires
/// after `duration_secs`); call [`LeaderHandle::release`] to hand over at once.
#[derive(Debug)]
pub struct LeaderHandle {
    identity: String,
    state: watch::Receiver<bool>,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), LeaseManagerError>>>,
}

impl LeaderHandle {
    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Whether this process still holds the Lease, as far as it knows.
    pub fn is_leader(&self) -> bool {
        *self.state.borrow()
    }

    /// A future that completes when leadership is lost (another holder, renewals failing, or
    /// the election task ended). Independent of `self`, so it can be moved into a task.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut state = self.state.clone();
        async move {
            // Err: the task ended, which also means we no longer renew.
            let _ = state.wait_for(|leader| !*leader).await;
        }
    }

    /// Stops renewing and clears the holder of the Lease (if still ours) so a standby takes
    /// over right away.
    ///
    /// # Errors
    /// [`LeaderError::Lease`] when the Lease could not be released (it then expires on its own).
    pub async fn release(mut self) -> Result<(), LeaderError> {
        self.stop.cancel();
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        match task.await {
            Ok(result) => result.map_err(LeaderError::from),
            Err(err) => Err(LeaderError::Task(err.to_string())),
        }
    }
}

impl Drop for LeaderHandle {
    fn drop(&mut self) {
        // Without release(): stop renewing; the task releases the Lease if it still can.
        self.stop.cancel();
    }
}

/// Campaigns for the Lease described by `config` and resolves once this process holds it.
///
/// Standby replicas wait here (possibly forever); drop the future to give up. The Lease is
/// created when missing.
///
/// # Errors
/// [`LeaderError::InvalidConfig`], or [`LeaderError::Lease`] when the Lease cannot be set up.
pub async fn acquire(client: Client, config: LeaderConfig) -> Result<LeaderHandle, LeaderError> {
    config.validate()?;
    let manager = build_manager(&client, &config).await?;
    let (tx, mut rx) = watch::channel(false);
    let stop = CancellationToken::new();
    let identity = config.identity.clone();
    let task = tokio::spawn(campaign(client, config, manager, tx, stop.clone()));
    // If this future is dropped while waiting, stop campaigning.
    let guard = stop.clone().drop_guard();
    let became_leader = rx.wait_for(|leader| *leader).await.is_ok();
    let stop = guard.disarm();
    if !became_leader {
        return match task.await {
            Ok(Ok(())) => Err(LeaderError::Stopped),
            Ok(Err(err)) => Err(err.into()),
            Err(err) => Err(LeaderError::Task(err.to_string())),
        };
    }
    tracing::info!(identity = %identity, "became leader");
    Ok(LeaderHandle {
        identity,
        state: rx,
        stop,
        task: Some(task),
    })
}

async fn build_manager(client: &Client, config: &LeaderConfig) -> Result<LeaseManager, LeaseManagerError> {
    LeaseManagerBuilder::new(client.clone(), config.lease_name.clone())
        .with_namespace(config.namespace.clone())
        .with_identity(config.identity.clone())
        .with_duration(config.duration_secs)
        .with_grace(config.grace_secs)
        .build()
        .await
}

type LeaseEvents = Pin<Box<dyn Stream<Item = Result<Event<Lease>, watcher::Error>> + Send>>;

fn lease_events(client: &Client, config: &LeaderConfig) -> LeaseEvents {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.namespace);
    let watch_config = watcher::Config::default().fields(&format!("metadata.name={}", config.lease_name));
    lease_watcher(api, watch_config).default_backoff().boxed()
}

fn holder(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()
        .and_then(|spec| spec.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
}

/// The background task: keeps `tx` equal to "we hold the Lease" until `stop` is cancelled or
/// leadership is lost (then it ends, which `LeaderHandle::lost` also observes).
async fn campaign(
    client: Client,
    config: LeaderConfig,
    mut manager: LeaseManager,
    tx: watch::Sender<bool>,
    stop: CancellationToken,
) -> Result<(), LeaseManagerError> {
    let identity = config.identity.clone();
    let grace = Duration::from_secs(config.grace_secs);
    let mut events = lease_events(&client, &config);
    let mut leader = false;
    let mut failing_since: Option<Instant> = None;
    let mut retry = RETRY_MIN;

    loop {
        #[allow(clippy::large_enum_variant)] // one short-lived value per loop turn
        enum Step {
            Stop,
            Changed(Result<bool, LeaseManagerError>),
            Lease(Option<Result<Event<Lease>, watcher::Error>>),
        }
        let step = tokio::select! {
            biased;
            () = stop.cancelled() => Step::Stop,
            event = events.next() => Step::Lease(event),
            changed = manager.changed() => Step::Changed(changed),
        };
        match step {
            Step::Stop => {
                let released = manager.release().await;
                tx.send_replace(false);
                match &released {
                    Ok(()) if leader => tracing::info!(identity = %identity, "released the leader lease"),
                    Ok(()) => {}
                    Err(err) => tracing::warn!(identity = %identity, error = %err, "could not release the lease"),
                }
                return released;
            }
            Step::Changed(Ok(now_leader)) => {
                failing_since = None;
                retry = RETRY_MIN;
                if leader && !now_leader {
                    tracing::warn!(identity = %identity, "lost the leader lease");
                    tx.send_replace(false);
                    return Ok(());
                }
                leader = now_leader;
                tx.send_replace(leader);
            }
            Step::Changed(Err(err)) => {
                if leader {
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    tracing::warn!(identity = %identity, error = %err, "renewing the leader lease failed");
                    if since.elapsed() >= grace {
                        tracing::error!(identity = %identity, "leader lease not renewed in time; giving up leadership");
                        tx.send_replace(false);
                        return Ok(());
                    }
                } else {
                    tracing::warn!(identity = %identity, error = %err, "leader election: lease API error");
                }
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(retry) => {}
                }
                retry = retry.saturating_mul(2).min(RETRY_MAX);
            }
            Step::Lease(None) => {
                // The watcher stream never ends; if it does, fall back to the renew loop alone.
                events = Box::pin(futures::stream::pending());
            }
            Step::Lease(Some(Err(err))) => {
                tracing::debug!(error = %err, "lease watch error");
            }
            Step::Lease(Some(Ok(Event::Apply(lease) | Event::InitApply(lease)))) => match holder(&lease) {
                Some(h) if leader && h != identity => {
                    tracing::warn!(identity = %identity, holder = %h, "another candidate holds the leader lease");
                    tx.send_replace(false);
                    return Ok(());
                }
                None if !leader => {
                    // Released: re-read now instead of sleeping until the old expiry.
                    match build_manager(&client, &config).await {
                        Ok(fresh) => manager = fresh,
                        Err(err) => tracing::debug!(error = %err, "re-reading the released lease failed"),
                    }
                }
                _ => {}
            },
            Step::Lease(Some(Ok(_))) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_validation() {
        let c = LeaderConfig::new("lease", "ns", "me");
        assert_eq!((c.duration_secs, c.grace_secs), (15, 5));
        assert!(c.validate().is_ok());
        for bad in [
            LeaderConfig {
                grace_secs: 15,
                ..c.clone()
            },
            LeaderConfig {
                duration_secs: 0,
                grace_secs: 0,
                ..c.clone()
            },
            LeaderConfig {
                identity: String::new(),
                ..c.clone()
            },
            LeaderConfig {
                lease_name: String::new(),
                ..c.clone()
            },
            LeaderConfig {
                namespace: String::new(),
                ..c.clone()
            },
        ] {
            assert!(matches!(bad.validate(), Err(LeaderError::InvalidConfig(_))), "{bad:?}");
        }
    }
}
