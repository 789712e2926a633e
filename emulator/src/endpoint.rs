//! The AWS endpoint: every request that is not for the control API. A request is read and
//! identified, meets the faults armed before execution and the rate limits, executes against
//! the model, meets the faults armed after execution, and is answered; the [`Call`] logs it
//! on every way out.

use crate::api::FaultWhen;
use crate::call::{Call, ConnKill, KeyFields, Protocol};
use crate::error::AwsError;
use crate::ops;
use crate::shared::{Shared, lock};
use crate::state::Caller;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// An identified request.
pub(crate) struct Parsed {
    /// Who is calling.
    pub(crate) caller: Caller,
    /// The JSON input (Organizations), `{}` for the query protocol.
    pub(crate) input: Value,
    /// The form fields (STS, IAM), empty for awsJson.
    pub(crate) form: Vec<(String, String)>,
    /// AssumeRoleWithWebIdentity: the signing keys of the OIDC provider the token names
    /// (fetched before the model is locked), empty otherwise.
    pub(crate) web_identity_keys: Vec<crate::state::VerificationKey>,
}

/// Handles every non-control request: Organizations (awsJson1_1) or STS/IAM (query).
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let kill = req.extensions().get::<ConnKill>().cloned();
    let access_key_id = access_key_from(req.headers());
    let mut call = Call::new(shared, kill, access_key_id.clone(), guess_protocol(req.headers()));
    let parsed = match read(&mut call, access_key_id.as_deref(), req).await {
        Ok(parsed) if call.operation() == "AssumeRoleWithWebIdentity" => with_web_identity_keys(&call, parsed).await,
        other => other,
    };
    match parsed {
        Ok(parsed) => {
            if let Some(delay) = fault(&mut call, FaultWhen::Before) {
                tokio::time::sleep(delay).await;
            }
            if !call.has_reply()
                && let Some(delay) = execute(&mut call, &parsed)
            {
                tokio::time::sleep(delay).await;
            }
        }
        Err(e) => call.reply_error(&e),
    }
    call.send().await
}

/// Fetches the signing keys of the OIDC provider an AssumeRoleWithWebIdentity token names in
/// the role's account (none when there is no such provider: the model then says so).
async fn with_web_identity_keys(call: &Call, mut parsed: Parsed) -> Result<Parsed, AwsError> {
    let f = |k: &str| parsed.form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (role_arn, token) = (f("RoleArn"), f("WebIdentityToken"));
    let provider = lock(&call.shared().state).web_identity_provider(role_arn, token);
    if let (Some(provider), Some(token)) = (provider, token) {
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        parsed.web_identity_keys = crate::jwks::keys_for(&call.shared(), &provider, kid.as_deref()).await?;
    }
    Ok(parsed)
}

/// Applies the fault armed for the call's operation at `when`, if any; returns its delay.
fn fault(call: &mut Call, when: FaultWhen) -> Option<Duration> {
    let f = call.shared().take_fault(call.operation(), when)?;
    call.apply_fault(&f)
}

/// Runs the operation against the model, unless the caller's rate limit refuses it (then
/// the call's reply is the throttling error). An operation that ran meets the faults armed
/// after execution and is logged at once, while the model is still locked; returns the
/// delay of an after-execution latency fault.
fn execute(call: &mut Call, parsed: &Parsed) -> Option<Duration> {
    let shared = call.shared();
    if !shared.admit(&parsed.caller.account_id, call.operation()) {
        call.reply_error(&call.protocol().throttle_error());
        return None;
    }
    let now = shared.now();
    let mut state = lock(&shared.state);
    let result = ops::execute(&mut state, parsed, call.operation(), call.protocol(), now, call.rid());
    call.executed(result);
    let delay = fault(call, FaultWhen::After);
    call.log();
    drop(state);
    delay
}

/// awsJson unless the request is form-encoded without an `X-Amz-Target`.
fn guess_protocol(headers: &HeaderMap) -> Protocol {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if headers.contains_key("x-amz-target") || !is_form {
        Protocol::Json
    } else {
        Protocol::Query { iam: false }
    }
}

fn access_key_from(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?;
    let key = cred.split('/').next()?.trim();
    (!key.is_empty()).then(|| key.to_string())
}

/// Reads the body, identifies the operation, resolves the caller and parses the input,
/// telling `call` each as it is known.
async fn read(call: &mut Call, access_key_id: Option<&str>, req: Request) -> Result<Parsed, AwsError> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let max = call.shared().max_body_bytes;
    let body = axum::body::to_bytes(req.into_body(), max).await.map_err(|_| {
        AwsError::query(
            "RequestEntityTooLargeException",
            413,
            format!("Request body exceeds the limit of {max} bytes."),
        )
    })?;
    let form = if call.protocol() == Protocol::Json {
        identify_json(call, target.as_deref())?;
        vec![]
    } else {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        identify_query(call, &form)?;
        form
    };
    let caller = resolve_caller(call, access_key_id)?;
    call.set_caller(&caller);
    let input = if call.protocol() == Protocol::Json {
        parse_json(&body)?
    } else {
        json!({})
    };
    call.set_keys(key_fields(call.operation(), &input, &form));
    Ok(Parsed {
        caller,
        input,
        form,
        web_identity_keys: Vec::new(),
    })
}

/// Organizations operations come in `X-Amz-Target: AWSOrganizationsV20161128.<Operation>`.
fn identify_json(call: &mut Call, target: Option<&str>) -> Result<(), AwsError> {
    match target.and_then(|t| t.strip_prefix("AWSOrganizationsV20161128.")) {
        Some(op) => {
            call.identify("organizations", op, Protocol::Json);
            Ok(())
        }
        None => {
            call.identify("unknown", target.unwrap_or("?"), Protocol::Json);
            Err(AwsError::client(
                "UnknownOperationException",
                match target {
                    Some(t) => format!("Unknown operation: {t}"),
                    None => "Missing X-Amz-Target header (or a form-encoded Action).".to_string(),
                },
            ))
        }
    }
}

/// STS and IAM operations come in the form's `Action`.
fn identify_query(call: &mut Call, form: &[(String, String)]) -> Result<(), AwsError> {
    let action = form.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.as_str());
    match action.and_then(ops::query_service) {
        Some((service, protocol)) => {
            call.identify(service, action.unwrap_or("?"), protocol);
            Ok(())
        }
        None => {
            call.identify("unknown", action.unwrap_or("?"), Protocol::Query { iam: false });
            Err(match action {
                Some(a) => AwsError::query(
                    "InvalidAction",
                    400,
                    format!("Could not find operation {a} for version in this emulator"),
                ),
                None => AwsError::query("MissingAction", 400, "Missing Action"),
            })
        }
    }
}

fn resolve_caller(call: &Call, access_key_id: Option<&str>) -> Result<Caller, AwsError> {
    let shared = call.shared();
    let now = shared.now();
    let resolved = lock(&shared.state).resolve_caller(access_key_id, now);
    resolved.map_err(|mut e| {
        if matches!(call.protocol(), Protocol::Query { .. }) && e.code == "ExpiredTokenException" {
            // STS and IAM call it ExpiredToken.
            e.code = "ExpiredToken".into();
        }
        e
    })
}

/// The JSON body of an Organizations request: an object, or nothing.
fn parse_json(body: &[u8]) -> Result<Value, AwsError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(AwsError::client(
            "SerializationException",
            "Start of structure or map found where not expected, or the body is not valid JSON.",
        )),
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
