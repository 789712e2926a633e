//! The operator's notion of now: the system clock, or one a test can move forward together
//! with the orgs-emulator's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Where `now` comes from.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Option<Arc<AtomicI64>>,
}

/// Moves a [`Clock`] made by [`Clock::adjustable`] forward.
#[derive(Clone, Debug)]
pub struct ClockHandle {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock plus an offset that the returned handle moves.
    pub fn adjustable() -> (Self, ClockHandle) {
        let offset_ms = Arc::new(AtomicI64::new(0));
        (
            Self {
                offset_ms: Some(offset_ms.clone()),
            },
            ClockHandle { offset_ms },
        )
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        match &self.offset_ms {
            None => now,
            Some(offset) => now
                .checked_add(SignedDuration::from_millis(offset.load(Ordering::SeqCst)))
                .unwrap_or(now),
        }
    }
}

impl ClockHandle {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustable_clock_moves_forward() {
        let (clock, handle) = Clock::adjustable();
        let before = clock.now();
        handle.advance(Duration::from_secs(86_400));
        let after = clock.now();
        assert!(after.duration_since(before) >= SignedDuration::from_hours(24));
    }
}
