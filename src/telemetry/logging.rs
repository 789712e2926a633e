//! `tracing` set-up: JSON or human-readable text, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::TryInitError;

/// The filter used when `RUST_LOG` is unset or empty. Target directives match by prefix, so
/// `aws=warn` would also silence this crate (`aws_invite_operator`); the last, more specific
/// directive keeps the operator's own logs at `info`.
pub const DEFAULT_FILTER: &str = "info,kube=warn,aws=warn,hyper=warn,aws_invite_operator=info";

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    #[default]
    Json,
    /// Human-readable text, for terminals.
    Text,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `RUST_LOG` is not a valid filter directive.
    #[error("RUST_LOG is not a valid filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// A global subscriber was already installed.
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] TryInitError),
}

/// Builds the filter from `RUST_LOG`, falling back to [`DEFAULT_FILTER`].
fn filter() -> Result<EnvFilter, LoggingError> {
    match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(directives) if !directives.trim().is_empty() => Ok(EnvFilter::try_new(directives)?),
        _ => Ok(EnvFilter::try_new(DEFAULT_FILTER)?),
    }
}

/// Installs the global `tracing` subscriber writing to stderr in the given format, filtered by
/// `RUST_LOG` (default [`DEFAULT_FILTER`]).
///
/// # Errors
/// Fails when `RUST_LOG` does not parse or a global subscriber is already installed.
pub fn init_logging(format: LogFormat) -> Result<(), LoggingError> {
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = filter()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .finish()
            .try_init()?,
        LogFormat::Text => builder.with_target(true).finish().try_init()?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_parses() {
        assert!(EnvFilter::try_new(DEFAULT_FILTER).is_ok());
    }

    #[test]
    fn default_filter_keeps_operator_info_and_quiets_libraries() {
        use tracing::subscriber::with_default;
        use tracing_subscriber::layer::SubscriberExt;

        let filter = EnvFilter::try_new(DEFAULT_FILTER).expect("parses");
        let subscriber = tracing_subscriber::registry().with(filter);
        with_default(subscriber, || {
            assert!(tracing::event_enabled!(target: "aws_invite_operator::controller", tracing::Level::INFO));
            assert!(!tracing::event_enabled!(target: "aws_invite_operator", tracing::Level::DEBUG));
            assert!(!tracing::event_enabled!(target: "aws_smithy_runtime::client", tracing::Level::INFO));
            assert!(!tracing::event_enabled!(target: "kube_runtime::controller", tracing::Level::INFO));
            assert!(!tracing::event_enabled!(target: "hyper_util::client", tracing::Level::INFO));
        });
    }

    #[test]
    fn log_format_values() {
        use clap::ValueEnum;
        let names: Vec<_> = LogFormat::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_owned())
            .collect();
        assert_eq!(names, ["json", "text"]);
    }
}
