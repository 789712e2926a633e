//! The small owned parts of the controllers' shared [`super::Context`]: the membership cache,
//! the per-profile send locks, the handshake pollers, the failure backoff and the reconcile
//! timer. Each owns its own map behind one poison-tolerant lock ([`locked`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::reconcile::invite::{IamCheck, Membership};
use crate::telemetry::Metrics;

/// Locks `mutex`, recovering the data when a holder panicked (every map here stays valid).
pub(super) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// DescribeAccount answers per (profile, account), reused for a while (queued invites are
/// reconciled often).
pub(super) struct MembershipCache {
    ttl: Duration,
    answers: Mutex<HashMap<(String, String), (Membership, Timestamp)>>,
}

impl MembershipCache {
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for `account` in `profile` if it is younger than the TTL at `now`.
    pub(super) fn get(&self, profile: &str, account: &str, now: Timestamp) -> Option<Membership> {
        let answers = locked(&self.answers);
        let (membership, at) = answers.get(&(profile.to_owned(), account.to_owned()))?;
        (now.duration_since(*at).unsigned_abs() < self.ttl).then(|| membership.clone())
    }

    pub(super) fn put(&self, profile: &str, account: &str, membership: Membership, now: Timestamp) {
        locked(&self.answers).insert((profile.to_owned(), account.to_owned()), (membership, now));
    }

    /// Forgets an answer (after a send, an accept).
    pub(super) fn forget(&self, profile: &str, account: &str) {
        locked(&self.answers).remove(&(profile.to_owned(), account.to_owned()));
    }
}

/// The last automatic IAM access check per invite (key: namespace/name and generation), reused
/// for one poll interval: reconciles woken in a burst (a restart, a sweep, the status write)
/// make one AssumeRole + GetRole, not one each.
pub(super) struct IamChecks {
    ttl: Duration,
    checks: Mutex<HashMap<InviteGeneration, (IamCheck, Instant)>>,
}

/// An invite's `namespace/name` and generation.
type InviteGeneration = (String, Option<i64>);

impl IamChecks {
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            checks: Mutex::new(HashMap::new()),
        }
    }

    /// The check of `invite` at `generation` if it was made less than the TTL ago.
    pub(super) fn get(&self, invite: &str, generation: Option<i64>) -> Option<IamCheck> {
        let checks = locked(&self.checks);
        let (check, at) = checks.get(&(invite.to_owned(), generation))?;
        (at.elapsed() < self.ttl).then(|| check.clone())
    }

    pub(super) fn put(&self, invite: &str, generation: Option<i64>, check: IamCheck) {
        let mut checks = locked(&self.checks);
        let ttl = self.ttl;
        checks.retain(|_, (_, at)| at.elapsed() < ttl);
        checks.insert((invite.to_owned(), generation), (check, Instant::now()));
    }
}

/// One lock per profile, held while deciding and sending an invitation (the budget check and
/// the send are one step).
#[derive(Default)]
pub(super) struct SendLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl SendLocks {
    /// Waits for `profile`'s lock.
    pub(super) async fn lock(&self, profile: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = locked(&self.0).entry(profile.to_owned()).or_default().clone();
        lock.lock_owned().await
    }
}

struct Poller {
    key: String,
    stop: CancellationToken,
}

/// Where a poller task that panicked is reported: the supervisor stops the operator on it
/// ([`super::supervise`]), as it does for a controller; the text names the poller.
pub(super) type PollerFailures = tokio::sync::mpsc::UnboundedSender<String>;

/// The running pollers of one kind (`what`: "handshake", "transfer"), one per profile, each
/// tagged with the connection it uses.
pub(super) struct Pollers {
    what: &'static str,
    running: Mutex<HashMap<String, Poller>>,
    failures: PollerFailures,
}

impl Pollers {
    /// No pollers yet; a poller's panic is sent to `failures`.
    pub(super) fn new(what: &'static str, failures: PollerFailures) -> Self {
        Self {
            what,
            running: Mutex::default(),
            failures,
        }
    }

    /// Starts `profile`'s poller with `start` unless one runs for connection `key`; a poller of
    /// an older connection is stopped first. A panic of the task `start` spawns is reported to
    /// the supervisor (a poller that died silently would leave its invites unwoken).
    pub(super) fn ensure(
        &self,
        profile: &str,
        key: String,
        start: impl FnOnce(CancellationToken) -> tokio::task::JoinHandle<()>,
    ) {
        let mut pollers = locked(&self.running);
        if pollers.get(profile).is_some_and(|p| p.key == key) {
            return;
        }
        if let Some(old) = pollers.remove(profile) {
            old.stop.cancel();
        }
        let stop = CancellationToken::new();
        let task = start(stop.clone());
        let (what, name, failures) = (self.what, profile.to_owned(), self.failures.clone());
        tokio::spawn(async move {
            if let Err(err) = task.await
                && err.is_panic()
            {
                let panic = err.into_panic();
                let message = super::supervise::panic_message(panic.as_ref());
                let _ = failures.send(format!("{what} poller of BillingProfile {name:?} panicked: {message}"));
            }
        });
        pollers.insert(profile.to_owned(), Poller { key, stop });
    }

    /// Stops `profile`'s poller, if any.
    pub(super) fn stop(&self, profile: &str) {
        if let Some(p) = locked(&self.running).remove(profile) {
            p.stop.cancel();
        }
    }

    /// Stops every poller (shutdown).
    pub(super) fn stop_all(&self) {
        for (_, p) in locked(&self.running).drain() {
            p.stop.cancel();
        }
    }
}

/// Failed reconciles per object key, for exponential backoff with jitter.
#[derive(Default)]
pub(super) struct Backoff(Mutex<HashMap<String, u32>>);

impl Backoff {
    /// Counts a failed reconcile of `key`; returns the backoff to wait.
    pub(super) fn failed(&self, key: String) -> Duration {
        let mut failures = locked(&self.0);
        let n = failures.entry(key).or_default();
        *n = n.saturating_add(1);
        let base = Duration::from_millis(500).saturating_mul(1 << (*n).min(9));
        let jitter = Duration::from_millis(u64::from(jitter_millis()));
        base.min(Duration::from_secs(300)) + jitter
    }

    /// Clears the failure count of `key` after a successful reconcile.
    pub(super) fn succeeded(&self, key: &str) {
        locked(&self.0).remove(key);
    }
}

/// Sub-second jitter (0..500 ms) from the clock's nanoseconds: enough to spread retries.
fn jitter_millis() -> u16 {
    (Timestamp::now().subsec_nanosecond() / 1000 % 500) as u16
}

/// Counts a reconcile when made and observes its duration when dropped, whichever way the
/// reconcile ends (success, error, `?`).
pub(super) struct ReconcileTimer {
    metrics: Arc<Metrics>,
    kind: &'static str,
    started: Instant,
}

impl ReconcileTimer {
    pub(super) fn start(metrics: &Arc<Metrics>, kind: &'static str) -> Self {
        metrics.reconcile(kind);
        Self {
            metrics: metrics.clone(),
            kind,
            started: Instant::now(),
        }
    }
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        self.metrics.observe_reconcile_duration(self.kind, seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_poller_that_panics_is_reported_naming_it() {
        let (failures, mut reported) = tokio::sync::mpsc::unbounded_channel();
        let pollers = Pollers::new("handshake", failures);
        pollers.ensure("payer-main", "k1".into(), |_stop| {
            tokio::spawn(async {
                tokio::task::yield_now().await;
                panic!("sweep blew up");
            })
        });
        let report = reported.recv().await.expect("reported");
        assert_eq!(
            report,
            r#"handshake poller of BillingProfile "payer-main" panicked: sweep blew up"#
        );
        // A poller stopped on purpose is not a failure.
        pollers.ensure("other", "k1".into(), |stop| {
            tokio::spawn(async move { stop.cancelled().await })
        });
        pollers.stop_all();
        drop(pollers);
        assert_eq!(reported.recv().await, None, "nothing else reported");
    }

    #[test]
    fn backoff_grows_and_resets() {
        let backoff = Backoff::default();
        let first = backoff.failed("a".into());
        let second = backoff.failed("a".into());
        assert!(
            first >= Duration::from_secs(1) && first < Duration::from_millis(1500),
            "{first:?}"
        );
        assert!(second >= Duration::from_secs(2), "{second:?}");
        backoff.succeeded("a");
        assert!(backoff.failed("a".into()) < Duration::from_millis(1500));
    }

    #[test]
    fn membership_answers_expire() {
        let cache = MembershipCache::new(Duration::from_secs(300));
        let t0 = Timestamp::UNIX_EPOCH;
        cache.put("p", "1", Membership::NotMember, t0);
        assert_eq!(cache.get("p", "1", t0), Some(Membership::NotMember));
        let later = t0 + jiff::SignedDuration::from_secs(301);
        assert_eq!(cache.get("p", "1", later), None);
        cache.forget("p", "1");
        assert_eq!(cache.get("p", "1", t0), None);
    }

    #[test]
    fn iam_checks_are_reused_for_the_ttl_and_per_generation() {
        let checks = IamChecks::new(Duration::from_secs(60));
        assert_eq!(checks.get("ns/a", Some(1)), None);
        checks.put("ns/a", Some(1), IamCheck::Verified);
        assert_eq!(checks.get("ns/a", Some(1)), Some(IamCheck::Verified));
        assert_eq!(checks.get("ns/a", Some(2)), None, "a new generation is checked again");
        let expired = IamChecks::new(Duration::ZERO);
        expired.put("ns/a", Some(1), IamCheck::Verified);
        assert_eq!(expired.get("ns/a", Some(1)), None);
    }

    #[test]
    fn the_timer_observes_on_drop() {
        let metrics = Metrics::new();
        drop(ReconcileTimer::start(&metrics, "BillingProfile"));
        let text = metrics.encode().unwrap_or_default();
        assert!(
            text.contains("aws_invite_reconcile_duration_seconds_count{kind=\"BillingProfile\"} 1"),
            "{text}"
        );
    }
}
