//! One AWS request on its way through the emulator: what the call log records about it, the
//! faults it meets and the reply it gets, in one place.

use crate::api::{CallRecord, Fault, FaultKind, FaultWhen};
use crate::error::AwsError;
use crate::shared::Shared;
use crate::state::{Caller, Time};
use crate::wire;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// awsJson1_1 (Organizations).
    Json,
    /// The query protocol with XML replies (STS, or IAM when `iam`).
    Query {
        /// IAM's XML namespace instead of STS's.
        iam: bool,
    },
}

impl Protocol {
    fn content_type(self) -> &'static str {
        match self {
            Protocol::Json => "application/x-amz-json-1.1",
            Protocol::Query { .. } => "text/xml",
        }
    }

    /// The error body of `e` in this protocol.
    pub(crate) fn error_body(self, e: &AwsError, rid: &str) -> String {
        match self {
            Protocol::Json => wire::json_error(e).to_string(),
            Protocol::Query { iam } => wire::xml_error(if iam { wire::IAM_NS } else { wire::STS_NS }, e, rid),
        }
    }

    /// The service's throttling error.
    pub(crate) fn throttle_error(self) -> AwsError {
        match self {
            Protocol::Json => AwsError::too_many_requests(),
            Protocol::Query { .. } => AwsError::query("Throttling", 400, "Rate exceeded"),
        }
    }

    /// The service's internal error (HTTP 500).
    fn server_error(self) -> AwsError {
        match self {
            Protocol::Json => AwsError::service(),
            Protocol::Query { .. } => AwsError::query("InternalFailure", 500, "An internal error occurred."),
        }
    }
}

/// Marker inserted into each request: notifying it closes the connection without a reply.
#[derive(Clone)]
pub(crate) struct ConnKill(pub(crate) Arc<Notify>);

/// The key fields of a request, for the call log.
#[derive(Debug, Default)]
pub(crate) struct KeyFields {
    pub(crate) target_account_id: Option<String>,
    pub(crate) target_email: Option<String>,
    pub(crate) handshake_id: Option<String>,
    pub(crate) role: Option<String>,
}

/// What an operation answers when it succeeds.
#[derive(Debug)]
pub(crate) struct Output {
    /// The response body (JSON or XML).
    pub(crate) body: String,
    /// The handshake it created or changed, for the call log.
    pub(crate) handshake_id: Option<String>,
}

/// A reply not yet sent.
enum Reply {
    /// An HTTP answer.
    Answer { status: u16, body: String, outcome: String },
    /// No answer: the connection is closed.
    Dropped,
}

/// One AWS request: it accumulates what the call log says about the request as the request
/// is understood, carries the reply once there is one (an error, a fault's, the operation's),
/// and [`Call::send`] logs it and answers.
pub(crate) struct Call {
    shared: Arc<Shared>,
    rid: String,
    protocol: Protocol,
    kill: Option<ConnKill>,
    entry: CallRecord,
    reply: Option<Reply>,
    logged: bool,
}

impl Call {
    /// A request received with `access_key_id`, answered in `protocol` until it is identified.
    pub(crate) fn new(
        shared: Arc<Shared>,
        kill: Option<ConnKill>,
        access_key_id: Option<String>,
        protocol: Protocol,
    ) -> Self {
        let entry = CallRecord {
            seq: 0,
            time: Time::default(),
            service: "unknown".into(),
            operation: "?".into(),
            access_key_id,
            caller_account_id: None,
            target_account_id: None,
            target_email: None,
            handshake_id: None,
            role: None,
            outcome: String::new(),
            http_status: 0,
            executed: false,
            fault: None,
        };
        Self {
            shared,
            rid: request_id(),
            protocol,
            kill,
            entry,
            reply: None,
            logged: false,
        }
    }

    /// The request ID of the reply.
    pub(crate) fn rid(&self) -> &str {
        &self.rid
    }

    /// The protocol the reply speaks.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The operation name (`?` until identified).
    pub(crate) fn operation(&self) -> &str {
        &self.entry.operation
    }

    /// The emulator this call runs in.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Whether the call has its reply (an error or a fault's) before the operation executes.
    pub(crate) fn has_reply(&self) -> bool {
        self.reply.is_some()
    }

    /// Names the service and operation (`unknown` for requests no service claims).
    pub(crate) fn identify(&mut self, service: &str, operation: &str, protocol: Protocol) {
        self.entry.service = service.into();
        self.entry.operation = operation.into();
        self.protocol = protocol;
    }

    /// Names the account the caller acts as.
    pub(crate) fn set_caller(&mut self, caller: &Caller) {
        self.entry.caller_account_id = Some(caller.account_id.clone());
    }

    /// Notes the request's key fields.
    pub(crate) fn set_keys(&mut self, keys: KeyFields) {
        self.entry.target_account_id = keys.target_account_id;
        self.entry.target_email = keys.target_email;
        self.entry.handshake_id = keys.handshake_id;
        self.entry.role = keys.role;
    }

    /// Notes the operation's result: its effect and reply, or the error it answered.
    pub(crate) fn executed(&mut self, result: Result<Output, AwsError>) {
        match result {
            Ok(out) => {
                self.entry.executed = true;
                if self.entry.handshake_id.is_none() {
                    self.entry.handshake_id = out.handshake_id;
                }
                self.reply = Some(Reply::Answer {
                    status: 200,
                    body: out.body,
                    outcome: "ok".into(),
                });
            }
            Err(e) => self.reply_error(&e),
        }
    }

    /// Makes `e` the reply.
    pub(crate) fn reply_error(&mut self, e: &AwsError) {
        self.reply = Some(Reply::Answer {
            status: e.status,
            body: self.protocol.error_body(e, &self.rid),
            outcome: e.code.to_string(),
        });
    }

    /// Applies fault `f`, met before or after execution, and names it in the call log: a 500,
    /// a throttling error or a dropped connection replaces the reply; a latency fault returns
    /// the delay to add.
    pub(crate) fn apply_fault(&mut self, f: &Fault) -> Option<Duration> {
        let name = fault_name(f);
        self.entry.fault = Some(match self.entry.fault.take() {
            Some(earlier) => format!("{earlier},{name}"),
            None => name,
        });
        let error = match f.kind {
            FaultKind::Latency => return Some(Duration::from_millis(f.latency_ms)),
            FaultKind::Http500 => self.protocol.server_error(),
            FaultKind::Throttle => self.protocol.throttle_error(),
            FaultKind::DropConnection => {
                self.reply = Some(Reply::Dropped);
                return None;
            }
            FaultKind::Error => match &f.error {
                Some(e) => AwsError::any(
                    e.code.clone(),
                    e.reason.clone(),
                    e.message.clone().unwrap_or_else(|| e.code.clone()),
                    e.status,
                ),
                None => self.protocol.server_error(),
            },
        };
        self.reply_error(&error);
        None
    }

    /// Writes the call log's entry, with the outcome and status of the reply as it stands
    /// (once: later calls do nothing). The AWS endpoint logs an executed operation at once,
    /// while the model is still locked, so the log's order and times are those of execution,
    /// and the entry exists whatever becomes of the reply.
    pub(crate) fn log(&mut self) {
        if self.logged {
            return;
        }
        (self.entry.outcome, self.entry.http_status) = match &self.reply {
            Some(Reply::Answer { status, outcome, .. }) => (outcome.clone(), *status),
            Some(Reply::Dropped) => ("dropped".into(), 0),
            None => (String::new(), 0),
        };
        self.shared.log(self.entry.clone());
        self.logged = true;
    }

    /// Logs the call (unless it is logged already) and answers, or drops the connection.
    pub(crate) async fn send(&mut self) -> Response {
        if self.reply.is_none() {
            self.reply_error(&self.protocol.server_error());
        }
        self.log();
        match self.reply.take() {
            Some(Reply::Answer { status, body, .. }) => respond(self.protocol, status, body, &self.rid),
            Some(Reply::Dropped) | None => drop_connection(self.kill.clone()).await,
        }
    }
}

/// The call log's name of a fault: its kind, with `_after` when it applied after execution.
fn fault_name(f: &Fault) -> String {
    let kind = match f.kind {
        FaultKind::Latency => "latency",
        FaultKind::Http500 => "http500",
        FaultKind::Throttle => "throttle",
        FaultKind::DropConnection => "drop_connection",
        FaultKind::Error => "error",
    };
    match f.when {
        FaultWhen::Before => kind.to_string(),
        FaultWhen::After => format!("{kind}_after"),
    }
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

fn respond(protocol: Protocol, status: u16, body: String, rid: &str) -> Response {
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(protocol.content_type()));
    if let Ok(v) = HeaderValue::from_str(rid) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    resp
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
