//! Termination signals.

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal as unix_signal};

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `SIGTERM`, as sent by the kubelet when a pod is deleted.
    Term,
    /// `SIGINT`, as sent by Ctrl-C.
    Int,
}

/// A future that completes on the first `SIGTERM` or `SIGINT`.
///
/// The handlers are installed when this function is called (not when the future is first
/// polled), so a signal arriving before the first poll is not lost. If a handler cannot be
/// installed the error is logged and that signal is never reported.
pub fn signal() -> impl Future<Output = Signal> + Send + 'static {
    let term = unix_signal(SignalKind::terminate())
        .inspect_err(|err| tracing::error!(error = %err, "cannot install the SIGTERM handler"))
        .ok();
    let int = unix_signal(SignalKind::interrupt())
        .inspect_err(|err| tracing::error!(error = %err, "cannot install the SIGINT handler"))
        .ok();
    async move {
        let term = async {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let int = async {
            match int {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = term => Signal::Term,
            () = int => Signal::Int,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn completes_on_sigterm_sent_to_self() {
        let fut = signal();
        // Send SIGTERM to this very process; the handler installed above keeps it alive.
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let got = tokio::time::timeout(Duration::from_secs(10), fut)
            .await
            .expect("signal future completes");
        assert_eq!(got, Signal::Term);
    }
}
