//! The HTTP server: one endpoint for Organizations (awsJson1_1), STS and IAM (query
//! protocol), plus the control API under `/_emulator/`.

use crate::api::{CallRecord, Fault, FaultKind, FaultWhen};
use crate::error::AwsError;
use crate::ratelimit::RateLimiter;
use crate::seed::{Seed, SeedError};
use crate::state::{Caller, HandshakeFilter, InviteInput, ModelOptions, State, Time};
use crate::wire;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
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

/// Mutable parts of a running emulator, shared by all requests.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) clock_offset: Mutex<TimeDelta>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) calls: Mutex<Vec<CallRecord>>,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) rate_limits: Mutex<bool>,
    pub(crate) max_body_bytes: usize,
}

/// Locks a mutex, recovering from poisoning (a panicking request must not wedge the emulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn now(&self) -> Time {
        Utc::now() + *lock(&self.clock_offset)
    }
}

/// Marker inserted into each request: notifying it closes the connection without a reply.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

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
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        clock_offset: Mutex::new(TimeDelta::zero()),
        faults: Mutex::new(Vec::new()),
        calls: Mutex::new(Vec::new()),
        limiter: Mutex::new(RateLimiter::default()),
        rate_limits: Mutex::new(config.rate_limits),
        max_body_bytes: config.max_body_bytes,
    });
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
        .fallback(aws_handler)
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
                        _ = kill.notified() => tracing::debug!(%peer, "connection dropped by fault injection"),
                        _ = shutdown.changed() => {}
                    }
                });
            }
        }
    }
}

fn request_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let a: u32 = rng.random();
    let b: u16 = rng.random();
    let c: u16 = rng.random();
    let d: u64 = rng.random();
    format!(
        "{a:08x}-{b:04x}-4{:03x}-a{:03x}-{:012x}",
        c & 0xfff,
        (d >> 48) & 0xfff,
        d & 0xffff_ffff_ffff
    )
}

/// The protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json,
    Query { iam: bool },
}

/// Outcome of executing an operation.
struct Executed {
    status: u16,
    body: String,
    outcome: String,
    executed: bool,
    handshake_id: Option<String>,
}

fn access_key_from(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let key = cred.split('/').next()?.trim();
    (!key.is_empty()).then(|| key.to_string())
}

fn respond(protocol: Protocol, status: u16, body: String, rid: &str) -> Response {
    let ct = match protocol {
        Protocol::Json => "application/x-amz-json-1.1",
        Protocol::Query { .. } => "text/xml",
    };
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Ok(v) = HeaderValue::from_str(rid) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    resp
}

fn error_body(protocol: Protocol, e: &AwsError, rid: &str) -> String {
    match protocol {
        Protocol::Json => wire::json_error(e).to_string(),
        Protocol::Query { iam } => wire::xml_error(if iam { wire::IAM_NS } else { wire::STS_NS }, e, rid),
    }
}

/// Key fields of a request, for the call log.
#[derive(Default)]
struct KeyFields {
    target_account_id: Option<String>,
    target_email: Option<String>,
    handshake_id: Option<String>,
    role: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared,
    service: &str,
    operation: &str,
    access_key_id: Option<String>,
    caller: Option<&Caller>,
    keys: KeyFields,
    outcome: String,
    http_status: u16,
    executed: bool,
    fault: Option<String>,
) {
    let time = shared.now();
    let mut calls = lock(&shared.calls);
    let seq = calls.len() as u64 + 1;
    tracing::info!(seq, service, operation, caller = caller.map(|c| c.account_id.as_str()), outcome = %outcome, http_status, "aws call");
    calls.push(CallRecord {
        seq,
        time,
        service: service.into(),
        operation: operation.into(),
        access_key_id,
        caller_account_id: caller.map(|c| c.account_id.clone()),
        target_account_id: keys.target_account_id,
        target_email: keys.target_email,
        handshake_id: keys.handshake_id,
        role: keys.role,
        outcome,
        http_status,
        executed,
        fault,
    });
}

fn take_fault(shared: &Shared, operation: &str, when: FaultWhen) -> Option<Fault> {
    let mut faults = lock(&shared.faults);
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

fn fault_name(f: &Fault) -> String {
    let kind = match f.kind {
        FaultKind::Latency => "latency",
        FaultKind::Http500 => "http500",
        FaultKind::Throttle => "throttle",
        FaultKind::DropConnection => "drop_connection",
    };
    match f.when {
        FaultWhen::Before => kind.to_string(),
        FaultWhen::After => format!("{kind}_after"),
    }
}

fn throttle_error(protocol: Protocol) -> AwsError {
    match protocol {
        Protocol::Json => AwsError::too_many_requests(),
        Protocol::Query { .. } => AwsError::query("Throttling", 400, "Rate exceeded"),
    }
}

fn server_error(protocol: Protocol) -> AwsError {
    match protocol {
        Protocol::Json => AwsError::service(),
        Protocol::Query { .. } => AwsError::query("InternalFailure", 500, "An internal error occurred."),
    }
}

/// Handles every non-control request: Organizations (awsJson1_1) or STS/IAM (query).
async fn aws_handler(axum::extract::State(shared): axum::extract::State<Arc<Shared>>, req: Request) -> Response {
    let rid = request_id();
    let kill = req.extensions().get::<ConnKill>().cloned();
    let headers = req.headers().clone();
    let access_key_id = access_key_from(&headers);
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let json_protocol = target.is_some() || !is_form;
    let guess = if json_protocol {
        Protocol::Json
    } else {
        Protocol::Query { iam: false }
    };

    let body = match axum::body::to_bytes(req.into_body(), shared.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            let e = AwsError::query(
                "RequestEntityTooLargeException",
                413,
                format!("Request body exceeds the limit of {} bytes.", shared.max_body_bytes),
            );
            record(
                &shared,
                "unknown",
                "?",
                access_key_id,
                None,
                KeyFields::default(),
                e.code.into(),
                413,
                false,
                None,
            );
            return respond(guess, 413, error_body(guess, &e, &rid), &rid);
        }
    };

    // Work out service and operation.
    let (service, operation, protocol, form): (&str, String, Protocol, Vec<(String, String)>) = if json_protocol {
        match target
            .as_deref()
            .and_then(|t| t.strip_prefix("AWSOrganizationsV20161128."))
        {
            Some(op) => ("organizations", op.to_string(), Protocol::Json, vec![]),
            None => {
                let e = AwsError::client(
                    "UnknownOperationException",
                    match &target {
                        Some(t) => format!("Unknown operation: {t}"),
                        None => "Missing X-Amz-Target header (or a form-encoded Action).".to_string(),
                    },
                );
                record(
                    &shared,
                    "unknown",
                    target.as_deref().unwrap_or("?"),
                    access_key_id,
                    None,
                    KeyFields::default(),
                    e.code.into(),
                    400,
                    false,
                    None,
                );
                return respond(Protocol::Json, 400, error_body(Protocol::Json, &e, &rid), &rid);
            }
        }
    } else {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let action = form.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone());
        match action.as_deref() {
            Some(a @ ("AssumeRole" | "GetCallerIdentity")) => {
                ("sts", a.to_string(), Protocol::Query { iam: false }, form)
            }
            Some(a @ "GetRole") => ("iam", a.to_string(), Protocol::Query { iam: true }, form),
            other => {
                let e = match other {
                    Some(a) => AwsError::query(
                        "InvalidAction",
                        400,
                        format!("Could not find operation {a} for version in this emulator"),
                    ),
                    None => AwsError::query("MissingAction", 400, "Missing Action"),
                };
                let p = Protocol::Query { iam: false };
                record(
                    &shared,
                    "unknown",
                    other.unwrap_or("?"),
                    access_key_id,
                    None,
                    KeyFields::default(),
                    e.code.into(),
                    400,
                    false,
                    None,
                );
                return respond(p, 400, error_body(p, &e, &rid), &rid);
            }
        }
    };

    let now = shared.now();
    let caller = lock(&shared.state).resolve_caller(access_key_id.as_deref(), now);
    let caller = match caller {
        Ok(c) => c,
        Err(mut e) => {
            if matches!(protocol, Protocol::Query { .. }) && e.code == "ExpiredTokenException" {
                // STS and IAM call it ExpiredToken.
                e.code = "ExpiredToken";
            }
            record(
                &shared,
                service,
                &operation,
                access_key_id,
                None,
                KeyFields::default(),
                e.code.into(),
                e.status,
                false,
                None,
            );
            return respond(protocol, e.status, error_body(protocol, &e, &rid), &rid);
        }
    };

    // Parse the JSON body (Organizations).
    let input: Value = if protocol == Protocol::Json {
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            json!({})
        } else {
            match serde_json::from_slice::<Value>(&body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    let e = AwsError::client(
                        "SerializationException",
                        "Start of structure or map found where not expected, or the body is not valid JSON.",
                    );
                    record(
                        &shared,
                        service,
                        &operation,
                        access_key_id,
                        Some(&caller),
                        KeyFields::default(),
                        e.code.into(),
                        400,
                        false,
                        None,
                    );
                    return respond(protocol, 400, error_body(protocol, &e, &rid), &rid);
                }
            }
        }
    } else {
        json!({})
    };
    let mut keys = key_fields(&operation, &input, &form);

    // Faults before execution.
    if let Some(f) = take_fault(&shared, &operation, FaultWhen::Before) {
        let name = fault_name(&f);
        match f.kind {
            FaultKind::Latency => tokio::time::sleep(std::time::Duration::from_millis(f.latency_ms)).await,
            FaultKind::Http500 | FaultKind::Throttle => {
                let e = if f.kind == FaultKind::Http500 {
                    server_error(protocol)
                } else {
                    throttle_error(protocol)
                };
                record(
                    &shared,
                    service,
                    &operation,
                    access_key_id,
                    Some(&caller),
                    keys,
                    e.code.into(),
                    e.status,
                    false,
                    Some(name),
                );
                return respond(protocol, e.status, error_body(protocol, &e, &rid), &rid);
            }
            FaultKind::DropConnection => {
                record(
                    &shared,
                    service,
                    &operation,
                    access_key_id,
                    Some(&caller),
                    keys,
                    "dropped".into(),
                    0,
                    false,
                    Some(name),
                );
                return drop_connection(kill).await;
            }
        }
    }

    // Rate limits.
    if *lock(&shared.rate_limits)
        && !lock(&shared.limiter).try_acquire(&caller.account_id, &operation, std::time::Instant::now())
    {
        let e = throttle_error(protocol);
        record(
            &shared,
            service,
            &operation,
            access_key_id,
            Some(&caller),
            keys,
            e.code.into(),
            e.status,
            false,
            None,
        );
        return respond(protocol, e.status, error_body(protocol, &e, &rid), &rid);
    }

    let result = {
        let now = shared.now();
        let mut state = lock(&shared.state);
        match protocol {
            Protocol::Json => execute_orgs(&mut state, &caller, &operation, &input, now),
            Protocol::Query { .. } => execute_query(&mut state, &caller, &operation, &form, now, &rid),
        }
    };
    let exec = match result {
        Ok(x) => x,
        Err(e) => Executed {
            status: e.status,
            body: error_body(protocol, &e, &rid),
            outcome: e.code.to_string(),
            executed: false,
            handshake_id: None,
        },
    };
    if keys.handshake_id.is_none() {
        keys.handshake_id = exec.handshake_id.clone();
    }

    // Faults after execution.
    if let Some(f) = take_fault(&shared, &operation, FaultWhen::After) {
        let name = fault_name(&f);
        match f.kind {
            FaultKind::Latency => tokio::time::sleep(std::time::Duration::from_millis(f.latency_ms)).await,
            FaultKind::Http500 | FaultKind::Throttle => {
                let e = if f.kind == FaultKind::Http500 {
                    server_error(protocol)
                } else {
                    throttle_error(protocol)
                };
                record(
                    &shared,
                    service,
                    &operation,
                    access_key_id,
                    Some(&caller),
                    keys,
                    e.code.into(),
                    e.status,
                    exec.executed,
                    Some(name),
                );
                return respond(protocol, e.status, error_body(protocol, &e, &rid), &rid);
            }
            FaultKind::DropConnection => {
                record(
                    &shared,
                    service,
                    &operation,
                    access_key_id,
                    Some(&caller),
                    keys,
                    "dropped".into(),
                    0,
                    exec.executed,
                    Some(name),
                );
                return drop_connection(kill).await;
            }
        }
    }
    record(
        &shared,
        service,
        &operation,
        access_key_id,
        Some(&caller),
        keys,
        exec.outcome,
        exec.status,
        exec.executed,
        None,
    );
    respond(protocol, exec.status, exec.body, &rid)
}

/// Closes the connection without answering: the response future never completes and the
/// connection task drops the socket.
async fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(k) => {
            k.0.notify_one();
            std::future::pending::<Response>().await
        }
        None => (StatusCode::INTERNAL_SERVER_ERROR, Body::empty()).into_response(),
    }
}

fn key_fields(operation: &str, input: &Value, form: &[(String, String)]) -> KeyFields {
    let s = |k: &str| input.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let f = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut keys = KeyFields {
        handshake_id: s("HandshakeId"),
        target_account_id: s("AccountId"),
        ..KeyFields::default()
    };
    if operation == "InviteAccountToOrganization" {
        let t = input.get("Target");
        let ty = t.and_then(|t| t.get("Type")).and_then(|v| v.as_str());
        let id = t.and_then(|t| t.get("Id")).and_then(|v| v.as_str()).map(str::to_string);
        match ty {
            Some("EMAIL") => keys.target_email = id,
            _ => keys.target_account_id = id,
        }
    }
    keys.role = f("RoleArn").or_else(|| f("RoleName"));
    keys
}

fn ser_err(field: &str, expected: &str) -> AwsError {
    AwsError::client("SerializationException", format!("{field}: expected {expected}"))
}

fn opt_str<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ser_err(field, "a string")),
    }
}

fn opt_i64(input: &Value, field: &str) -> Result<Option<i64>, AwsError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| ser_err(field, "an integer")),
        Some(_) => Err(ser_err(field, "an integer")),
    }
}

fn ok_json(v: Value, handshake_id: Option<String>) -> Result<Executed, AwsError> {
    Ok(Executed {
        status: 200,
        body: v.to_string(),
        outcome: "ok".into(),
        executed: true,
        handshake_id,
    })
}

fn handshake_filter(input: &Value) -> Result<HandshakeFilter, AwsError> {
    match input.get("Filter") {
        None | Some(Value::Null) => Ok(HandshakeFilter::default()),
        Some(f @ Value::Object(_)) => Ok(HandshakeFilter {
            action_type: opt_str(f, "ActionType")?.map(str::to_string),
            parent_handshake_id: opt_str(f, "ParentHandshakeId")?.map(str::to_string),
        }),
        Some(_) => Err(ser_err("Filter", "a structure")),
    }
}

fn handshake_page(page: crate::state::Page<crate::state::Handshake>) -> Result<Executed, AwsError> {
    let mut v = json!({"Handshakes": page.items.iter().map(wire::handshake_json).collect::<Vec<_>>()});
    if let (Some(t), Some(o)) = (page.next_token, v.as_object_mut()) {
        o.insert("NextToken".into(), json!(t));
    }
    ok_json(v, None)
}

/// Executes one Organizations operation against the model.
fn execute_orgs(state: &mut State, caller: &Caller, op: &str, input: &Value, now: Time) -> Result<Executed, AwsError> {
    let me = caller.account_id.as_str();
    match op {
        "DescribeOrganization" => {
            let org = state.describe_organization(me)?;
            let email = state
                .management_account(&org)
                .map(|a| a.email.clone())
                .unwrap_or_default();
            ok_json(json!({"Organization": wire::organization_json(&org, &email)}), None)
        }
        "InviteAccountToOrganization" => {
            let (target_type, target_id) = match input.get("Target") {
                None | Some(Value::Null) => (None, None),
                Some(t @ Value::Object(_)) => (
                    opt_str(t, "Type")?.map(str::to_string),
                    opt_str(t, "Id")?.map(str::to_string),
                ),
                Some(_) => return Err(ser_err("Target", "a structure")),
            };
            let tags = match input.get("Tags") {
                None | Some(Value::Null) => vec![],
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|t| {
                        let k = opt_str(t, "Key")?
                            .ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Tag Key is required."))?;
                        let v = opt_str(t, "Value")?
                            .ok_or_else(|| AwsError::invalid_input("INPUT_REQUIRED", "Tag Value is required."))?;
                        Ok((k.to_string(), v.to_string()))
                    })
                    .collect::<Result<Vec<_>, AwsError>>()?,
                Some(_) => return Err(ser_err("Tags", "a list")),
            };
            let notes = opt_str(input, "Notes")?.map(str::to_string);
            let h = state.invite(
                me,
                InviteInput {
                    target_type,
                    target_id,
                    notes,
                    tags,
                },
                now,
            )?;
            ok_json(json!({"Handshake": wire::handshake_json(&h)}), Some(h.id))
        }
        "DescribeHandshake" | "AcceptHandshake" | "DeclineHandshake" | "CancelHandshake" => {
            let id = opt_str(input, "HandshakeId")?;
            let h = match op {
                "DescribeHandshake" => state.describe_handshake(me, id, now)?,
                "AcceptHandshake" => state.accept_handshake(me, id, now)?,
                "DeclineHandshake" => state.decline_handshake(me, id, now)?,
                _ => state.cancel_handshake(me, id, now)?,
            };
            ok_json(json!({"Handshake": wire::handshake_json(&h)}), Some(h.id))
        }
        "ListHandshakesForOrganization" | "ListHandshakesForAccount" => {
            let filter = handshake_filter(input)?;
            let max = opt_i64(input, "MaxResults")?;
            let token = opt_str(input, "NextToken")?;
            let page = if op == "ListHandshakesForOrganization" {
                state.list_handshakes_for_organization(me, &filter, max, token, now)?
            } else {
                state.list_handshakes_for_account(me, &filter, max, token, now)?
            };
            handshake_page(page)
        }
        "DescribeAccount" => {
            let (a, org) = state.describe_account(me, opt_str(input, "AccountId")?)?;
            ok_json(json!({"Account": wire::account_json(&a, &org)}), None)
        }
        "ListAccounts" => {
            let (page, org) = state.list_accounts(me, opt_i64(input, "MaxResults")?, opt_str(input, "NextToken")?)?;
            let mut v = json!({"Accounts": page.items.iter().map(|a| wire::account_json(a, &org)).collect::<Vec<_>>()});
            if let (Some(t), Some(o)) = (page.next_token, v.as_object_mut()) {
                o.insert("NextToken".into(), json!(t));
            }
            ok_json(v, None)
        }
        "LeaveOrganization" => {
            state.leave_organization(me)?;
            ok_json(json!({}), None)
        }
        "RemoveAccountFromOrganization" => {
            state.remove_account(me, opt_str(input, "AccountId")?)?;
            ok_json(json!({}), None)
        }
        other => Err(AwsError::client(
            "UnknownOperationException",
            format!("The operation {other} is not implemented by orgs-emulator."),
        )),
    }
}

/// Executes one STS / IAM query-protocol operation.
fn execute_query(
    state: &mut State,
    caller: &Caller,
    op: &str,
    form: &[(String, String)],
    now: Time,
    rid: &str,
) -> Result<Executed, AwsError> {
    let f = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let body = match op {
        "AssumeRole" => {
            let duration = match f("DurationSeconds") {
                Some(d) => Some(
                    d.parse::<i64>()
                        .map_err(|_| AwsError::query("ValidationError", 400, "DurationSeconds must be an integer"))?,
                ),
                None => None,
            };
            let s = state.assume_role(
                caller,
                f("RoleArn"),
                f("RoleSessionName"),
                f("ExternalId"),
                duration,
                now,
            )?;
            wire::assume_role_xml(&s, rid)
        }
        "GetCallerIdentity" => wire::caller_identity_xml(&caller.account_id, &caller.arn, &caller.user_id, rid),
        "GetRole" => {
            let r = state.get_role(caller, f("RoleName"))?;
            wire::get_role_xml(&r, rid)
        }
        other => {
            return Err(AwsError::query(
                "InvalidAction",
                400,
                format!("Could not find operation {other}"),
            ));
        }
    };
    Ok(Executed {
        status: 200,
        body,
        outcome: "ok".into(),
        executed: true,
        handshake_id: None,
    })
}
