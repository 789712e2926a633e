//! Observability: Prometheus/OpenMetrics metrics ([`Metrics`]) and structured logging
//! ([`init_logging`]).

mod logging;
mod metrics;

pub use logging::{DEFAULT_FILTER, LogFormat, LoggingError, init_logging};
pub use metrics::{INVITE_PHASES, Metrics, TRANSFER_PHASES, TransferOutcome};
