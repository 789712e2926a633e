//! Where the outcome of every AWS call goes (metrics): the observer trait and the outcome label.
//! Used by the clients ([`super::client`]) and every wrapper of an AWS call.

use super::error::AwsError;

/// Receives the outcome of every AWS call (for metrics: AWS calls by operation and outcome).
pub trait AwsCallObserver: Send + Sync {
    /// `operation` is the AWS operation name (e.g. `InviteAccountToOrganization`); `outcome` is
    /// `"success"` or the error's stable reason (e.g. `Throttled`).
    fn record(&self, operation: &'static str, outcome: &str);
}

/// An observer that records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl AwsCallObserver for NoopObserver {
    fn record(&self, _operation: &'static str, _outcome: &str) {}
}

/// `"success"` or the error's reason, for [`AwsCallObserver::record`].
pub(crate) fn outcome<T>(result: &Result<T, AwsError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(e) => e.reason(),
    }
}
