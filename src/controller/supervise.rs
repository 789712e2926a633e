//! Runs the operator's long-running parts (the three controllers and the phase gauges) side by
//! side, and notices a part that stops on its own: a controller whose stream ended, or a part
//! that panicked (a reconcile's panic unwinds through its controller's stream). The operator
//! is not left running half-alive: the failure is logged naming the part, counted in
//! `aws_invite_controller_failures_total`, and [`super::run`] returns an error, on which the
//! process exits non-zero so Kubernetes restarts it (docs/architecture.md, "Reconcile pipeline").

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};

use super::Error;
use crate::telemetry::Metrics;

/// A named long-running part: it ends with `Ok` (at shutdown) or `Err` with what failed (the
/// pollers' part reports a poller's panic this way).
pub(super) type Part = (&'static str, Pin<Box<dyn Future<Output = Result<(), String>> + Send>>);

/// A part that runs until it ends and never reports a failure of its own (a controller's
/// stream, a gauge task): only its ending before shutdown, or its panic, is one.
pub(super) fn part(name: &'static str, run: impl Future<Output = ()> + Send + 'static) -> Part {
    (name, Box::pin(run.map(|()| Ok(()))))
}

/// Runs every part until all have ended. A part that ends while `stopping()` is false (before
/// shutdown), reports a failure, or panics, ends the run at once with
/// [`Error::ControllerFailed`] naming it; the other parts are dropped (stopped).
pub(super) async fn supervise(parts: Vec<Part>, stopping: impl Fn() -> bool, metrics: &Metrics) -> Result<(), Error> {
    let mut running: FuturesUnordered<_> = parts
        .into_iter()
        .map(|(name, part)| {
            AssertUnwindSafe(part)
                .catch_unwind()
                .map(move |outcome| (name, outcome))
        })
        .collect();
    while let Some((name, outcome)) = running.next().await {
        let how = match outcome {
            Ok(Ok(())) if stopping() => continue,
            Ok(Ok(())) => "ended before shutdown".to_owned(),
            Ok(Err(failure)) => failure,
            Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
        };
        tracing::error!(
            controller = name,
            how = %how,
            "a controller stopped on its own; exiting so that Kubernetes restarts the operator"
        );
        metrics.controller_failed(name);
        return Err(Error::ControllerFailed { controller: name, how });
    }
    Ok(())
}

/// The text a panic was raised with (`panic!("...")` carries a `&str` or a `String`).
pub(super) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    fn pending(name: &'static str) -> Part {
        (name, Box::pin(futures::future::pending()))
    }

    #[tokio::test]
    async fn a_part_reporting_a_failure_fails_the_run_with_it() {
        let metrics = Metrics::new();
        let reports: Part = (
            "pollers",
            Box::pin(async { Err("handshake poller of \"p\" panicked: x".to_owned()) }),
        );
        let err = supervise(vec![reports, pending("BillingProfile")], || true, &metrics)
            .await
            .expect_err("a reported failure fails the run, even while stopping");
        assert_eq!(err.to_string(), r#"pollers: handshake poller of "p" panicked: x"#);
        assert!(failures(&metrics, "pollers"));
    }

    fn failures(metrics: &Metrics, controller: &str) -> bool {
        let line = format!(r#"aws_invite_controller_failures_total{{controller="{controller}"}} 1"#);
        metrics.encode().expect("encodes").lines().any(|l| l == line)
    }

    #[tokio::test]
    async fn a_controller_whose_stream_ends_fails_the_run_naming_it() {
        let metrics = Metrics::new();
        let ended: Part = ("BillingTransfer", Box::pin(async { Ok(()) }));
        let parts = vec![pending("AwsAccountInvite"), pending("BillingProfile"), ended];
        let result = supervise(parts, || false, &metrics).await;
        match result {
            Err(Error::ControllerFailed { controller, how }) => {
                assert_eq!(controller, "BillingTransfer");
                assert_eq!(how, "ended before shutdown");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(failures(&metrics, "BillingTransfer"));
        assert!(!failures(&metrics, "AwsAccountInvite"));
    }

    #[tokio::test]
    async fn a_panicking_controller_fails_the_run_with_its_message() {
        let metrics = Metrics::new();
        let panics: Part = (
            "AwsAccountInvite",
            Box::pin(async {
                tokio::task::yield_now().await;
                panic!("reconcile blew up")
            }),
        );
        let result = supervise(vec![panics, pending("BillingProfile")], || false, &metrics).await;
        let err = result.expect_err("a panic fails the run");
        let text = err.to_string();
        assert!(
            text.contains("AwsAccountInvite") && text.contains("reconcile blew up"),
            "{text}"
        );
        assert_eq!(err.reason(), "ControllerFailed");
        assert!(failures(&metrics, "AwsAccountInvite"));
    }

    #[tokio::test]
    async fn parts_ending_at_shutdown_are_a_clean_stop() {
        let metrics = Metrics::new();
        let stopping = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = futures::FutureExt::shared(async move {
            let _ = stopped.await;
            Ok::<(), String>(())
        });
        let flag = stopping.clone();
        let parts: Vec<Part> = vec![
            ("AwsAccountInvite", Box::pin(shared.clone())),
            ("BillingProfile", Box::pin(shared)),
        ];
        let run = supervise(parts, move || flag.load(Ordering::SeqCst), &metrics);
        stopping.store(true, Ordering::SeqCst);
        let _ = stop.send(());
        run.await.expect("a clean stop");
        assert!(!failures(&metrics, "AwsAccountInvite") && !failures(&metrics, "BillingProfile"));
    }
}
