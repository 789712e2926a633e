//! API rate limits as token buckets per (caller account, operation), on the wall clock.

use std::collections::HashMap;
use std::time::Instant;

/// (sustained rate per second, burst) for an operation, following AWS Organizations'
/// published per-account limits where they exist.
pub fn limit_for(operation: &str) -> (f64, f64) {
    match operation {
        "InviteAccountToOrganization" => (3.0, 5.0),
        "DescribeHandshake" => (1.0, 2.0),
        "ListHandshakesForOrganization" | "ListHandshakesForAccount" => (5.0, 8.0),
        "AcceptHandshake" | "DeclineHandshake" | "CancelHandshake" => (3.0, 5.0),
        "DescribeOrganization" | "DescribeAccount" | "ListAccounts" => (10.0, 20.0),
        _ => (10.0, 20.0),
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by (account, operation).
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<(String, String), Bucket>,
}

impl RateLimiter {
    /// Takes a token for `operation` by `account` at `now`; false if throttled.
    pub fn try_acquire(&mut self, account: &str, operation: &str, now: Instant) -> bool {
        let (rate, burst) = limit_for(operation);
        let b = self
            .buckets
            .entry((account.to_string(), operation.to_string()))
            .or_insert(Bucket {
                tokens: burst,
                last: now,
            });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets all buckets.
    pub fn reset(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(rl.try_acquire("a", "InviteAccountToOrganization", t0));
        }
        assert!(!rl.try_acquire("a", "InviteAccountToOrganization", t0));
        // Another account has its own bucket.
        assert!(rl.try_acquire("b", "InviteAccountToOrganization", t0));
        // 1/3 s later one token is back.
        let t1 = t0 + Duration::from_millis(340);
        assert!(rl.try_acquire("a", "InviteAccountToOrganization", t1));
        assert!(!rl.try_acquire("a", "InviteAccountToOrganization", t1));
    }

    #[test]
    fn describe_handshake_burst_two() {
        let mut rl = RateLimiter::default();
        let t0 = Instant::now();
        assert!(rl.try_acquire("a", "DescribeHandshake", t0));
        assert!(rl.try_acquire("a", "DescribeHandshake", t0));
        assert!(!rl.try_acquire("a", "DescribeHandshake", t0));
    }
}
