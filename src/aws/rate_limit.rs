//! Client-side rate limiting per profile, below AWS Organizations' published per-account limits
//! (docs/architecture.md, "AWS usage and rate limits"), so the operator is not the one that gets throttled.
//!
//! One token bucket per operation group. [`RateLimiter::acquire`] reserves a token and sleeps
//! (tokio time, so tests run with paused time) until it is due; callers are served in the
//! order they asked.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Operations that share a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationGroup {
    /// InviteAccountToOrganization (AWS: 3/s, burst 5).
    Invite,
    /// DescribeHandshake (AWS: 1/s, burst 2).
    DescribeHandshake,
    /// ListHandshakesForOrganization / ListHandshakesForAccount (AWS: 5/s, burst 8).
    ListHandshakes,
    /// Everything else.
    Other,
}

impl OperationGroup {
    /// The group of an AWS operation name.
    pub fn of(operation: &str) -> Self {
        match operation {
            "InviteAccountToOrganization" => Self::Invite,
            "DescribeHandshake" => Self::DescribeHandshake,
            "ListHandshakesForOrganization" | "ListHandshakesForAccount" => Self::ListHandshakes,
            _ => Self::Other,
        }
    }

    /// (tokens per second, burst) the operator allows itself: never above AWS Organizations'
    /// throttling limits (AWS Organizations User Guide, "Quotas and service limits for AWS
    /// Organizations", section "Throttling limits",
    /// <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html#throttling-limits>;
    /// they apply per organization unless stated otherwise).
    ///
    /// ListHandshakes runs at AWS's sustained 5 requests/s with a smaller burst (6 of AWS's 8):
    /// a restart's sweep is what every invite waits for before it is decided (one page of 20
    /// handshakes per call: 1,000 open invitations are 50 pages, 8.8 s at this rate, 11 s at
    /// the 4/s it was; issue 14), and sweeps of an organization never overlap (one sweep lock
    /// per organization), so the sustained rate stays within AWS's.
    pub fn limits(self) -> (f64, u32) {
        match self {
            Self::Invite => (2.0, 4),
            Self::DescribeHandshake => (1.0, 2),
            Self::ListHandshakes => (5.0, 6),
            Self::Other => (5.0, 5),
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Invite => 0,
            Self::DescribeHandshake => 1,
            Self::ListHandshakes => 2,
            Self::Other => 3,
        }
    }

    const ALL: [OperationGroup; 4] = [Self::Invite, Self::DescribeHandshake, Self::ListHandshakes, Self::Other];
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    /// May be negative: tokens already promised to waiting callers.
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token; returns how long the caller must wait for it.
    fn reserve(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// Token buckets of one profile, one per [`OperationGroup`].
#[derive(Debug)]
pub struct RateLimiter {
    buckets: [Mutex<Bucket>; 4],
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// A limiter with the default limits of [`OperationGroup::limits`].
    pub fn new() -> Self {
        let now = Instant::now();
        Self {
            buckets: OperationGroup::ALL.map(|g| {
                let (rate, burst) = g.limits();
                Mutex::new(Bucket::new(rate, burst, now))
            }),
        }
    }

    /// A limiter where every group allows `rate` per second with `burst` (for tests).
    pub fn uniform(rate: f64, burst: u32) -> Self {
        let now = Instant::now();
        Self {
            buckets: OperationGroup::ALL.map(|_| Mutex::new(Bucket::new(rate, burst, now))),
        }
    }

    /// Waits until a call of `operation` (an AWS operation name) may be made, and takes its token.
    pub async fn acquire(&self, operation: &str) {
        let wait = self.reserve(OperationGroup::of(operation));
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn reserve(&self, group: OperationGroup) -> Duration {
        let mut bucket = match self.buckets[group.index()].lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        bucket.reserve(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let l = RateLimiter::new();
        let start = Instant::now();
        for _ in 0..4 {
            l.acquire("InviteAccountToOrganization").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        l.acquire("InviteAccountToOrganization").await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        l.acquire("InviteAccountToOrganization").await;
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
    }

    #[tokio::test(start_paused = true)]
    async fn groups_are_independent() {
        let l = RateLimiter::new();
        let start = Instant::now();
        l.acquire("DescribeHandshake").await;
        l.acquire("DescribeHandshake").await;
        // The DescribeHandshake bucket is empty; others are not affected.
        l.acquire("ListHandshakesForOrganization").await;
        l.acquire("DescribeOrganization").await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        l.acquire("DescribeHandshake").await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_rate_stays_below_aws_limits() {
        let l = RateLimiter::new();
        let start = Instant::now();
        // 6 burst + 40 more at 5/s = 8 s for ListHandshakes.
        for _ in 0..46 {
            l.acquire("ListHandshakesForOrganization").await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(8));
        // AWS's (rate, burst) per organization (the User Guide's throttling limits, see
        // `OperationGroup::limits`).
        for (group, aws_rate, aws_burst) in [
            (OperationGroup::Invite, 3.0, 5),
            (OperationGroup::DescribeHandshake, 1.0, 2),
            (OperationGroup::ListHandshakes, 5.0, 8),
        ] {
            let (rate, burst) = group.limits();
            assert!(rate <= aws_rate && burst <= aws_burst, "{group:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_are_spaced() {
        let l = Arc::new(RateLimiter::uniform(1.0, 1));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                l.acquire("X").await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.expect("task").duration_since(start));
        }
        times.sort();
        assert_eq!(
            times,
            vec![Duration::ZERO, Duration::from_secs(1), Duration::from_secs(2)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn refills_after_idle() {
        let l = RateLimiter::new();
        for _ in 0..4 {
            l.acquire("InviteAccountToOrganization").await;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        for _ in 0..4 {
            l.acquire("InviteAccountToOrganization").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "refilled up to the burst, not beyond");
        l.acquire("InviteAccountToOrganization").await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
    }
}
