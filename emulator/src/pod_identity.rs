//! The EKS Pod Identity Agent's endpoint, `GET /v1/credentials` (on the node at
//! `169.254.170.23`; here on the emulator's address): the pod's projected token in the
//! `Authorization` header, container credentials as JSON in the answer (the format the AWS SDKs'
//! container credentials provider reads: AccessKeyId, SecretAccessKey, Token, AccountId,
//! Expiration). Not in the call log (it is not an AWS API call).

use crate::shared::{Shared, lock};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// Answers one credentials request.
pub(crate) async fn credentials(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidTokenException",
            "Missing Authorization header",
        );
    };
    let source = lock(&shared.state).pod_identity_keys_source(token);
    let Some(source) = source else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidTokenException",
            "The token's issuer is not a cluster with pod identity associations",
        );
    };
    let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
    let keys = match crate::jwks::keys_for_source(&shared, &source, kid.as_deref()).await {
        Ok(keys) => keys,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.code, &e.message),
    };
    let now = shared.now();
    let result = lock(&shared.state).assume_role_for_pod_identity(token, &keys, now);
    match result {
        Ok(s) => (
            StatusCode::OK,
            axum::Json(json!({
                "AccessKeyId": s.access_key_id,
                "SecretAccessKey": s.secret_access_key,
                "Token": s.session_token,
                "AccountId": s.account_id,
                "Expiration": crate::wire::iso(s.expires_at),
            })),
        )
            .into_response(),
        Err(e) => error(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.code,
            &e.message,
        ),
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": message}))).into_response()
}
