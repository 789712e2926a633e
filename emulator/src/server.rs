//! The HTTP server: starting and stopping an emulator, and its routes: the AWS endpoint
//! ([`crate::endpoint`]) at `/` and the control API ([`crate::control`]) under `/_emulator/`.

use crate::call::ConnKill;
use crate::seed::{Seed, SeedError};
use crate::shared::Shared;
use crate::state::{ModelOptions, State};
use axum::Router;
use chrono::Utc;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{Notify, watch};

/// Configuration of an emulator instance.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The initial world.
    pub seed: Seed,
    /// Address to listen on (default `127.0.0.1:0`, an ephemeral port).
    pub listen: SocketAddr,
    /// Whether API rate limits are enforced (default true; switchable at run time).
    pub rate_limits: bool,
    /// Behavioural switches of the model.
    pub options: ModelOptions,
    /// Largest accepted request body (default 1 MiB).
    pub max_body_bytes: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            seed: Seed::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            rate_limits: true,
            options: ModelOptions::default(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl EmulatorConfig {
    /// A config with the given seed and defaults otherwise.
    pub fn with_seed(seed: Seed) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Sets whether rate limits are enforced.
    pub fn rate_limits(mut self, enabled: bool) -> Self {
        self.rate_limits = enabled;
        self
    }
}

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The seed is invalid.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// Binding the listener failed.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Starting the background runtime failed.
    #[error("starting the emulator runtime: {0}")]
    Runtime(std::io::Error),
}

/// Entry point for starting emulators.
pub struct Emulator;

/// A running emulator. Dropping it (or calling [`RunningEmulator::shutdown`]) stops it.
pub struct RunningEmulator {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, StartError> {
        let (listener, shared) = prepare(&config).await?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, shared, rx));
        tracing::info!(%addr, "orgs-emulator listening");
        Ok(RunningEmulator {
            addr,
            shutdown: tx,
            task: Some(task),
            thread: None,
        })
    }

    /// Starts an emulator on its own thread and runtime, independent of the caller's runtime
    /// (useful to share one emulator between tests that each have their own runtime).
    pub fn start_in_background(config: EmulatorConfig) -> Result<RunningEmulator, StartError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let (listener, shared) = rt.block_on(prepare(&config))?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let (tx, rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("orgs-emulator".into())
            .spawn(move || rt.block_on(serve(listener, shared, rx)))
            .map_err(StartError::Runtime)?;
        Ok(RunningEmulator {
            addr,
            shutdown: tx,
            task: None,
            thread: Some(thread),
        })
    }
}

async fn prepare(config: &EmulatorConfig) -> Result<(tokio::net::TcpListener, Arc<Shared>), StartError> {
    let state = State::from_seed(&config.seed, config.options.clone(), Utc::now())?;
    let shared = Arc::new(Shared::new(state, config.rate_limits, config.max_body_bytes));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    Ok((listener, shared))
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A control client for this emulator.
    pub fn control(&self) -> crate::ControlClient {
        crate::ControlClient::new(self.url())
    }

    /// Stops the emulator and waits for its server loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        // A background thread notices the shutdown signal and exits by itself.
    }
}

/// Builds the axum router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/_emulator", crate::control::routes())
        .route("/v1/credentials", axum::routing::get(crate::pod_identity::credentials))
        .fallback(crate::endpoint::handle)
        .with_state(shared)
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let app = router(shared);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let app = app.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let kill = Arc::new(Notify::new());
                    let kill_for_requests = kill.clone();
                    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(ConnKill(kill_for_requests.clone()));
                        tower::ServiceExt::oneshot(app.clone(), req)
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                    tokio::select! {
                        res = conn => {
                            if let Err(e) = res {
                                tracing::debug!(%peer, error = %e, "connection ended with error");
                            }
                        }
                        () = kill.notified() => tracing::debug!(%peer, "connection dropped by fault injection"),
                        _ = shutdown.changed() => {}
                    }
                });
            }
        }
    }
}
