//! The mutable parts of a running emulator, shared by the AWS endpoint and the control API.

use crate::api::{CallRecord, Fault, FaultWhen};
use crate::ratelimit::RateLimiter;
use crate::state::{State, Time};
use chrono::{TimeDelta, Utc};
use std::sync::{Mutex, MutexGuard};

/// Everything a request may read or change. Each part has its own lock; take them one at a
/// time (never two at once), except `calls` inside `state` where the call log must follow the
/// order of execution.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) clock_offset: Mutex<TimeDelta>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) calls: Mutex<Vec<CallRecord>>,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) rate_limits: Mutex<bool>,
    pub(crate) max_body_bytes: usize,
    /// OIDC providers' signing keys by JWKS URL (see `crate::jwks`).
    pub(crate) jwks_cache: Mutex<std::collections::HashMap<String, Vec<crate::state::VerificationKey>>>,
}

/// Locks a mutex, recovering from poisoning (a panicking request must not wedge the emulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// A fresh emulator around `state`.
    pub(crate) fn new(state: State, rate_limits: bool, max_body_bytes: usize) -> Self {
        Self {
            state: Mutex::new(state),
            clock_offset: Mutex::new(TimeDelta::zero()),
            faults: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            limiter: Mutex::new(RateLimiter::default()),
            rate_limits: Mutex::new(rate_limits),
            max_body_bytes,
            jwks_cache: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The emulator clock: the wall clock plus the offset the control API moved it by.
    pub(crate) fn now(&self) -> Time {
        Utc::now() + *lock(&self.clock_offset)
    }

    /// Takes one use of the first fault armed for `operation` at `when`.
    pub(crate) fn take_fault(&self, operation: &str, when: FaultWhen) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let idx = faults
            .iter()
            .position(|f| f.when == when && f.count > 0 && (f.operation == operation || f.operation == "*"))?;
        let f = faults[idx].clone();
        faults[idx].count -= 1;
        if faults[idx].count == 0 {
            faults.remove(idx);
        }
        Some(f)
    }

    /// Whether the caller's rate limit lets this call through (always, when limits are off).
    pub(crate) fn admit(&self, account_id: &str, operation: &str) -> bool {
        !*lock(&self.rate_limits) || lock(&self.limiter).try_acquire(account_id, operation, std::time::Instant::now())
    }

    /// Appends an entry to the call log, numbering it and stamping it with the emulator clock.
    pub(crate) fn log(&self, mut entry: CallRecord) -> u64 {
        entry.time = self.now();
        let mut calls = lock(&self.calls);
        entry.seq = calls.len() as u64 + 1;
        tracing::info!(
            seq = entry.seq,
            service = %entry.service,
            operation = %entry.operation,
            caller = entry.caller_account_id.as_deref(),
            outcome = %entry.outcome,
            http_status = entry.http_status,
            "aws call"
        );
        let seq = entry.seq;
        calls.push(entry);
        seq
    }
}
