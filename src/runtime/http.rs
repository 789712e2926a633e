//! The health and metrics HTTP server: `/healthz`, `/readyz` and `/metrics` (the latter behind
//! [`MetricsAccess`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use super::metrics_access::{MetricsAccess, Verdict};
use crate::telemetry::Metrics;

/// The `Content-Type` of `/metrics`.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Readiness and leadership flags shared between the runtime and the HTTP server. Cloning is
/// cheap: clones share the same flags.
#[derive(Debug, Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
    leader: Arc<AtomicBool>,
}

impl Health {
    /// Not ready, not leader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the process ready (or not) to serve; `/readyz` answers 200 only when ready.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Records whether this replica holds the leader Lease (exported as `aws_invite_leader`).
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Release);
    }

    /// Whether this replica holds the leader Lease.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }
}

/// Why the HTTP server failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed after the socket was bound.
    #[error("HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

#[derive(Clone)]
struct AppState {
    health: Health,
    metrics: Arc<Metrics>,
    access: MetricsAccess,
}

/// Binds `addr` (port 0 picks a free port) and returns the listener with its actual address.
///
/// # Errors
/// [`HttpError::Bind`] when the address cannot be bound.
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), HttpError> {
    let bind_err = |source| HttpError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    Ok((listener, local))
}

/// The router serving `/healthz`, `/readyz` and `/metrics` (as `access` allows).
pub fn router(health: Health, metrics: Arc<Metrics>, access: MetricsAccess) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .with_state(AppState {
            health,
            metrics,
            access,
        })
}

/// Binds `addr` and serves until `shutdown` completes (then finishes in-flight requests).
///
/// # Errors
/// [`HttpError::Bind`] when the address cannot be bound, [`HttpError::Serve`] when serving fails.
pub async fn serve(
    addr: SocketAddr,
    health: Health,
    metrics: Arc<Metrics>,
    access: MetricsAccess,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let (listener, _) = bind(addr).await?;
    serve_listener(listener, health, metrics, access, shutdown).await
}

/// Like [`serve`], on a listener that is already bound (see [`bind`]).
///
/// # Errors
/// [`HttpError::Serve`] when serving fails.
pub async fn serve_listener(
    listener: TcpListener,
    health: Health,
    metrics: Arc<Metrics>,
    access: MetricsAccess,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
    }
    axum::serve(listener, router(health, metrics, access))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(HttpError::Serve)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.health.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics_handler(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match state.access.check(authorization).await {
        Verdict::Allowed => {}
        Verdict::Unauthenticated => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token the Kubernetes API server accepts is required",
            )
                .into_response();
        }
        Verdict::Forbidden { user } => {
            return (
                StatusCode::FORBIDDEN,
                format!("user \"{user}\" may not get /metrics (grant nonResourceURLs [\"/metrics\"] verb get)"),
            )
                .into_response();
        }
        Verdict::Unavailable => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot check the token with the Kubernetes API server now",
            )
                .into_response();
        }
    }
    state.metrics.set_leader(state.health.is_leader());
    match state.metrics.encode() {
        Ok(body) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot encode metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Server {
        base: String,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<Result<(), HttpError>>,
    }

    async fn start(health: Health, metrics: Arc<Metrics>) -> Server {
        let (listener, addr) = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("binds");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve_listener(
            listener,
            health,
            metrics,
            MetricsAccess::open(),
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            base: format!("http://{addr}"),
            stop: Some(tx),
            task,
        }
    }

    impl Server {
        async fn stop(mut self) {
            if let Some(tx) = self.stop.take() {
                let _ = tx.send(());
            }
            tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .expect("server stops")
                .expect("task joins")
                .expect("server ends cleanly");
        }
    }

    #[tokio::test]
    async fn healthz_readyz_and_metrics() {
        let health = Health::new();
        let metrics = Metrics::new();
        metrics.reconcile("AwsAccountInvite");
        let server = start(health.clone(), metrics.clone()).await;
        let http = reqwest::Client::new();

        let resp = http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("GET /healthz");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.expect("body"), "ok");

        let resp = http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("GET /readyz");
        assert_eq!(resp.status(), 503);
        health.set_ready(true);
        let resp = http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("GET /readyz");
        assert_eq!(resp.status(), 200);
        health.set_ready(false);
        let resp = http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("GET /readyz");
        assert_eq!(resp.status(), 503);

        health.set_leader(true);
        let resp = http
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()),
            Some(OPENMETRICS_CONTENT_TYPE)
        );
        let body = resp.text().await.expect("body");
        assert!(
            body.contains("aws_invite_reconciles_total{kind=\"AwsAccountInvite\"} 1\n"),
            "{body}"
        );
        assert!(body.contains("aws_invite_leader 1\n"), "{body}");
        assert!(body.ends_with("# EOF\n"), "{body}");

        let resp = http
            .get(format!("{}/nope", server.base))
            .send()
            .await
            .expect("GET /nope");
        assert_eq!(resp.status(), 404);

        server.stop().await;
    }

    #[tokio::test]
    async fn bind_reports_address_in_use() {
        let (_listener, addr) = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("binds");
        let err = bind(addr).await.expect_err("second bind fails");
        assert!(matches!(err, HttpError::Bind { .. }), "{err}");
        assert!(err.to_string().contains(&addr.to_string()));
    }

    #[tokio::test]
    async fn serve_stops_on_shutdown() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Health::new(),
            Metrics::new(),
            MetricsAccess::open(),
            async move {
                let _ = rx.await;
            },
        ));
        let _ = tx.send(());
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("stops")
            .expect("joins")
            .expect("clean");
    }
}
