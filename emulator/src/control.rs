//! The control API (`/_emulator/...`, JSON): seed the world, act as invited accounts,
//! move the clock, inject faults, read the call log. See README.md for the endpoint list.

use crate::api::{
    AccountInfo, AccountQuota, AdvanceClock, ClockInfo, ControlErrorBody, Fault, HandshakeInfo, OrganizationInfo,
    RateLimits, RespondToInvite, RoleInfo, StateSnapshot, TransferInfo,
};
use crate::error::AwsError;
use crate::seed::{Seed, SeedAccount, SeedOrganization, SeedRole};
use crate::shared::{Shared, lock};
use crate::state::{ModelOptions, State};
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::TimeDelta;
use serde::Deserialize;
use std::sync::Arc;

type S = AxState<Arc<Shared>>;

/// A control API failure.
pub(crate) struct ControlFailure(StatusCode, ControlErrorBody);

impl IntoResponse for ControlFailure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl From<AwsError> for ControlFailure {
    fn from(e: AwsError) -> Self {
        ControlFailure(
            StatusCode::CONFLICT,
            ControlErrorBody {
                error: e.code.to_string(),
                message: e.message,
                reason: e.reason.as_deref().map(str::to_string),
            },
        )
    }
}

fn bad_request(msg: impl Into<String>) -> ControlFailure {
    ControlFailure(
        StatusCode::BAD_REQUEST,
        ControlErrorBody {
            error: "BadRequest".into(),
            message: msg.into(),
            reason: None,
        },
    )
}

fn not_found(msg: impl Into<String>) -> ControlFailure {
    ControlFailure(
        StatusCode::NOT_FOUND,
        ControlErrorBody {
            error: "NotFound".into(),
            message: msg.into(),
            reason: None,
        },
    )
}

type R<T> = Result<Json<T>, ControlFailure>;

/// Parses an optional JSON body (empty → default), mapping errors to 400.
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &[u8]) -> Result<T, ControlFailure> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

fn required<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ControlFailure> {
    serde_json::from_slice(bytes).map_err(|e| bad_request(format!("invalid JSON body: {e}")))
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/health", get(|| async { Json(serde_json::json!({"ok": true})) }))
        .route("/state", get(snapshot))
        .route("/reset", post(reset))
        .route("/seed", post(seed))
        .route("/organizations", post(add_org))
        .route("/organizations/{id}", axum::routing::delete(delete_org))
        .route("/organizations/{id}/quota", put(set_quota))
        .route("/accounts", post(add_account))
        .route("/accounts/{id}", get(get_account))
        .route("/accounts/{id}/accept-invite", post(accept_invite))
        .route("/accounts/{id}/decline-invite", post(decline_invite))
        .route("/accounts/{id}/leave", post(leave))
        .route("/accounts/{id}/remove", post(remove))
        .route("/accounts/{id}/move", post(move_account))
        .route("/accounts/{id}/accept-transfer", post(accept_transfer))
        .route("/accounts/{id}/decline-transfer", post(decline_transfer))
        .route("/transfers", get(list_transfers))
        .route("/roles", post(add_role))
        .route("/oidc-providers", post(add_oidc_provider))
        .route("/pod-identity-associations", post(add_pod_identity_association))
        .route("/handshakes", get(list_handshakes))
        .route("/handshakes/{id}", get(get_handshake))
        .route("/handshakes/{id}/accept", post(accept_handshake))
        .route("/handshakes/{id}/decline", post(decline_handshake))
        .route("/handshakes/{id}/cancel", post(cancel_handshake))
        .route("/handshakes/{id}/expire", post(expire_handshake))
        .route("/handshakes/{id}/purge", post(purge_handshake))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/faults", get(list_faults).post(add_faults).delete(clear_faults))
        .route("/calls", get(calls).delete(clear_calls))
        .route("/rate-limits", get(get_rate_limits).put(set_rate_limits))
        .route("/options", get(get_options).put(set_options))
        .fallback(|| async { not_found("no such control endpoint") })
}

async fn snapshot(AxState(sh): S) -> Json<StateSnapshot> {
    let now = sh.now();
    let mut st = lock(&sh.state);
    st.refresh(now);
    Json(StateSnapshot::new(&st, now))
}

async fn reset(AxState(sh): S, bytes: axum::body::Bytes) -> R<StateSnapshot> {
    let seed: Seed = body(&bytes)?;
    *lock(&sh.clock_offset) = TimeDelta::zero();
    let now = sh.now();
    let options = lock(&sh.state).options.clone();
    let new = State::from_seed(&seed, options, now).map_err(|e| bad_request(e.to_string()))?;
    let mut st = lock(&sh.state);
    *st = new;
    lock(&sh.faults).clear();
    lock(&sh.calls).clear();
    lock(&sh.limiter).reset();
    Ok(Json(StateSnapshot::new(&st, now)))
}

async fn seed(AxState(sh): S, bytes: axum::body::Bytes) -> R<StateSnapshot> {
    let seed: Seed = required(&bytes)?;
    let now = sh.now();
    let mut st = lock(&sh.state);
    // Apply atomically: on error nothing changes.
    let mut copy = st.clone();
    copy.apply_seed(&seed, now).map_err(|e| bad_request(e.to_string()))?;
    *st = copy;
    Ok(Json(StateSnapshot::new(&st, now)))
}

async fn add_org(AxState(sh): S, bytes: axum::body::Bytes) -> R<OrganizationInfo> {
    let o: SeedOrganization = required(&bytes)?;
    let now = sh.now();
    let mut st = lock(&sh.state);
    let org = st.add_organization(&o, now).map_err(|e| bad_request(e.to_string()))?;
    Ok(Json(OrganizationInfo::new(&org, &st)))
}

async fn delete_org(AxState(sh): S, Path(id): Path<String>) -> R<serde_json::Value> {
    let mut st = lock(&sh.state);
    if !st.organizations.contains_key(&id) {
        return Err(not_found(format!("organization {id} not found")));
    }
    st.delete_organization(&id)?;
    Ok(Json(serde_json::json!({"deleted": id})))
}

async fn set_quota(AxState(sh): S, Path(id): Path<String>, bytes: axum::body::Bytes) -> R<OrganizationInfo> {
    let q: AccountQuota = required(&bytes)?;
    let mut st = lock(&sh.state);
    if !st.set_account_quota(&id, q.account_quota) {
        return Err(not_found(format!("organization {id} not found")));
    }
    let org = st
        .organizations
        .get(&id)
        .cloned()
        .ok_or_else(|| not_found(id.clone()))?;
    Ok(Json(OrganizationInfo::new(&org, &st)))
}

async fn add_account(AxState(sh): S, bytes: axum::body::Bytes) -> R<AccountInfo> {
    let a: SeedAccount = required(&bytes)?;
    let mut st = lock(&sh.state);
    let acct = st.add_account(&a).map_err(|e| bad_request(e.to_string()))?;
    Ok(Json(AccountInfo::new(&acct, &st)))
}

async fn get_account(AxState(sh): S, Path(id): Path<String>) -> R<AccountInfo> {
    let st = lock(&sh.state);
    let a = st
        .accounts
        .get(&id)
        .ok_or_else(|| not_found(format!("account {id} not found")))?;
    Ok(Json(AccountInfo::new(a, &st)))
}

async fn add_role(AxState(sh): S, bytes: axum::body::Bytes) -> R<RoleInfo> {
    let r: SeedRole = required(&bytes)?;
    let now = sh.now();
    let mut st = lock(&sh.state);
    let role = st.add_role(&r, now).map_err(|e| bad_request(e.to_string()))?;
    Ok(Json(RoleInfo::from(&role)))
}

async fn add_oidc_provider(AxState(sh): S, bytes: axum::body::Bytes) -> R<crate::state::OidcProvider> {
    let p: crate::seed::SeedOidcProvider = required(&bytes)?;
    let provider = lock(&sh.state)
        .add_oidc_provider(&p)
        .map_err(|e| bad_request(e.to_string()))?;
    // New keys may come with a new provider: forget what was fetched before.
    lock(&sh.jwks_cache).clear();
    Ok(Json(provider))
}

async fn add_pod_identity_association(
    AxState(sh): S,
    bytes: axum::body::Bytes,
) -> R<crate::state::PodIdentityAssociation> {
    let a: crate::seed::SeedPodIdentityAssociation = required(&bytes)?;
    let association = lock(&sh.state)
        .add_pod_identity_association(&a)
        .map_err(|e| bad_request(e.to_string()))?;
    lock(&sh.jwks_cache).clear();
    Ok(Json(association))
}

async fn list_handshakes(AxState(sh): S) -> Json<Vec<HandshakeInfo>> {
    let now = sh.now();
    let mut st = lock(&sh.state);
    st.refresh(now);
    let mut hs: Vec<_> = st.handshakes.values().collect();
    hs.sort_by_key(|h| h.seq);
    Json(hs.into_iter().map(HandshakeInfo::from).collect())
}

async fn get_handshake(AxState(sh): S, Path(id): Path<String>) -> R<HandshakeInfo> {
    let now = sh.now();
    let mut st = lock(&sh.state);
    st.refresh(now);
    let h = st
        .handshakes
        .get(&id)
        .ok_or_else(|| not_found(format!("handshake {id} not found")))?;
    Ok(Json(HandshakeInfo::from(h)))
}

/// The account that responds to handshake `id`: the given one, the ACCOUNT target, or the
/// account whose email is the EMAIL target.
fn responder(st: &State, id: &str, given: Option<String>) -> Result<String, ControlFailure> {
    if let Some(a) = given {
        return Ok(a);
    }
    let h = st
        .handshakes
        .get(id)
        .ok_or_else(|| not_found(format!("handshake {id} not found")))?;
    match &h.target {
        crate::state::Target::Account(a) => Ok(a.clone()),
        crate::state::Target::Email(e) => st
            .account_for_email(e)
            .ok_or_else(|| bad_request(format!("no account has email {e}; pass account_id"))),
    }
}

async fn respond_handshake(sh: Arc<Shared>, id: String, bytes: axum::body::Bytes, accept: bool) -> R<HandshakeInfo> {
    let req: RespondToInvite = body(&bytes)?;
    let now = sh.now();
    let mut st = lock(&sh.state);
    st.refresh(now);
    let who = responder(&st, &id, req.account_id)?;
    let h = if accept {
        st.accept_handshake(&who, Some(&id), now)?
    } else {
        st.decline_handshake(&who, Some(&id), now)?
    };
    Ok(Json(HandshakeInfo::from(&h)))
}

async fn accept_handshake(AxState(sh): S, Path(id): Path<String>, bytes: axum::body::Bytes) -> R<HandshakeInfo> {
    respond_handshake(sh, id, bytes, true).await
}

async fn decline_handshake(AxState(sh): S, Path(id): Path<String>, bytes: axum::body::Bytes) -> R<HandshakeInfo> {
    respond_handshake(sh, id, bytes, false).await
}

async fn respond_invite(sh: Arc<Shared>, account: String, bytes: axum::body::Bytes, accept: bool) -> R<HandshakeInfo> {
    let req: RespondToInvite = body(&bytes)?;
    let now = sh.now();
    let mut st = lock(&sh.state);
    let h = st
        .open_invite_for(&account, req.organization_id.as_deref(), now)
        .ok_or_else(|| not_found(format!("no open invitation to account {account}")))?;
    let h = if accept {
        st.accept_handshake(&account, Some(&h.id), now)?
    } else {
        st.decline_handshake(&account, Some(&h.id), now)?
    };
    Ok(Json(HandshakeInfo::from(&h)))
}

async fn accept_invite(AxState(sh): S, Path(id): Path<String>, bytes: axum::body::Bytes) -> R<HandshakeInfo> {
    respond_invite(sh, id, bytes, true).await
}

async fn decline_invite(AxState(sh): S, Path(id): Path<String>, bytes: axum::body::Bytes) -> R<HandshakeInfo> {
    respond_invite(sh, id, bytes, false).await
}

/// Accepts or declines the (most recent) open billing transfer invitation to `account`, as
/// that account (AcceptHandshake / DeclineHandshake with its checks).
async fn respond_transfer(sh: Arc<Shared>, account: String, accept: bool) -> R<HandshakeInfo> {
    let now = sh.now();
    let mut st = lock(&sh.state);
    let h = st
        .open_transfer_invite_for(&account, now)
        .ok_or_else(|| not_found(format!("no open billing transfer invitation to account {account}")))?;
    let h = if accept {
        st.accept_handshake(&account, Some(&h.id), now)?
    } else {
        st.decline_handshake(&account, Some(&h.id), now)?
    };
    st.refresh(now);
    Ok(Json(HandshakeInfo::from(&h)))
}

async fn accept_transfer(AxState(sh): S, Path(id): Path<String>) -> R<HandshakeInfo> {
    respond_transfer(sh, id, true).await
}

async fn decline_transfer(AxState(sh): S, Path(id): Path<String>) -> R<HandshakeInfo> {
    respond_transfer(sh, id, false).await
}

async fn list_transfers(AxState(sh): S) -> Json<Vec<TransferInfo>> {
    let now = sh.now();
    let mut st = lock(&sh.state);
    st.refresh(now);
    let mut ts: Vec<_> = st.transfers.values().collect();
    ts.sort_by_key(|t| t.seq);
    Json(ts.into_iter().map(|t| TransferInfo::new(t, now)).collect())
}

async fn leave(AxState(sh): S, Path(id): Path<String>) -> R<AccountInfo> {
    let mut st = lock(&sh.state);
    if !st.accounts.contains_key(&id) {
        return Err(not_found(format!("account {id} not found")));
    }
    st.leave_organization(&id)?;
    let a = st.accounts.get(&id).ok_or_else(|| not_found(id.clone()))?;
    Ok(Json(AccountInfo::new(a, &st)))
}

/// RemoveAccountFromOrganization, made by the account's organization's management account.
async fn remove(AxState(sh): S, Path(id): Path<String>) -> R<AccountInfo> {
    let mut st = lock(&sh.state);
    let mgmt = st
        .accounts
        .get(&id)
        .and_then(|a| a.organization_id.as_ref())
        .and_then(|o| st.organizations.get(o))
        .map(|o| o.management_account_id.clone())
        .ok_or_else(|| not_found(format!("account {id} is in no organization")))?;
    st.remove_account(&mgmt, Some(&id))?;
    let a = st.accounts.get(&id).ok_or_else(|| not_found(id.clone()))?;
    Ok(Json(AccountInfo::new(a, &st)))
}

/// The account moves to another organization (`{"organization_id": ...}`).
async fn move_account(AxState(sh): S, Path(id): Path<String>, bytes: axum::body::Bytes) -> R<AccountInfo> {
    let req: MoveAccount = required(&bytes)?;
    let now = sh.now();
    let mut st = lock(&sh.state);
    let a = st.move_account(&id, &req.organization_id, now)?;
    Ok(Json(AccountInfo::new(&a, &st)))
}

/// CancelHandshake, made by the sending organization's management account (the console or CLI).
async fn cancel_handshake(AxState(sh): S, Path(id): Path<String>) -> R<HandshakeInfo> {
    let now = sh.now();
    let mut st = lock(&sh.state);
    st.refresh(now);
    let sender = st
        .handshakes
        .get(&id)
        .map(|h| h.management_account_id.clone())
        .ok_or_else(|| not_found(format!("handshake {id} not found")))?;
    let h = st.cancel_handshake(&sender, Some(&id), now)?;
    Ok(Json(HandshakeInfo::from(&h)))
}

async fn expire_handshake(AxState(sh): S, Path(id): Path<String>) -> R<HandshakeInfo> {
    let now = sh.now();
    let h = lock(&sh.state).expire_handshake(&id, now)?;
    Ok(Json(HandshakeInfo::from(&h)))
}

async fn purge_handshake(AxState(sh): S, Path(id): Path<String>) -> R<HandshakeInfo> {
    let now = sh.now();
    let h = lock(&sh.state).purge_handshake(&id, now)?;
    Ok(Json(HandshakeInfo::from(&h)))
}

/// Body of `POST /accounts/{id}/move`.
#[derive(Deserialize)]
struct MoveAccount {
    organization_id: String,
}

fn clock_info(sh: &Shared) -> ClockInfo {
    let offset = *lock(&sh.clock_offset);
    ClockInfo {
        now: sh.now(),
        offset_seconds: offset.num_seconds(),
    }
}

async fn clock(AxState(sh): S) -> Json<ClockInfo> {
    Json(clock_info(&sh))
}

async fn advance(AxState(sh): S, bytes: axum::body::Bytes) -> R<ClockInfo> {
    let a: AdvanceClock = required(&bytes)?;
    if a.seconds < 0 {
        return Err(bad_request("the clock only moves forward"));
    }
    let delta = TimeDelta::try_seconds(a.seconds).ok_or_else(|| bad_request("seconds out of range"))?;
    {
        let mut off = lock(&sh.clock_offset);
        *off += delta;
    }
    let now = sh.now();
    lock(&sh.state).refresh(now);
    Ok(Json(clock_info(&sh)))
}

/// A single fault or a list of faults.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Fault),
    Many(Vec<Fault>),
}

async fn list_faults(AxState(sh): S) -> Json<Vec<Fault>> {
    Json(lock(&sh.faults).clone())
}

async fn add_faults(AxState(sh): S, bytes: axum::body::Bytes) -> R<Vec<Fault>> {
    let f: OneOrMany = required(&bytes)?;
    let mut faults = lock(&sh.faults);
    match f {
        OneOrMany::One(f) => faults.push(f),
        OneOrMany::Many(v) => faults.extend(v),
    }
    Ok(Json(faults.clone()))
}

async fn clear_faults(AxState(sh): S) -> Json<Vec<Fault>> {
    lock(&sh.faults).clear();
    Json(vec![])
}

#[derive(Deserialize)]
struct CallsQuery {
    operation: Option<String>,
}

async fn calls(AxState(sh): S, Query(q): Query<CallsQuery>) -> Json<Vec<crate::api::CallRecord>> {
    let calls = lock(&sh.calls);
    Json(
        calls
            .iter()
            .filter(|c| q.operation.as_deref().is_none_or(|o| c.operation == o))
            .cloned()
            .collect(),
    )
}

async fn clear_calls(AxState(sh): S) -> Json<serde_json::Value> {
    lock(&sh.calls).clear();
    Json(serde_json::json!({"cleared": true}))
}

async fn get_rate_limits(AxState(sh): S) -> Json<RateLimits> {
    Json(RateLimits {
        enabled: *lock(&sh.rate_limits),
    })
}

async fn set_rate_limits(AxState(sh): S, bytes: axum::body::Bytes) -> R<RateLimits> {
    let r: RateLimits = required(&bytes)?;
    *lock(&sh.rate_limits) = r.enabled;
    lock(&sh.limiter).reset();
    Ok(Json(r))
}

async fn get_options(AxState(sh): S) -> Json<ModelOptions> {
    Json(lock(&sh.state).options.clone())
}

async fn set_options(AxState(sh): S, bytes: axum::body::Bytes) -> R<ModelOptions> {
    let o: ModelOptions = required(&bytes)?;
    lock(&sh.state).options = o.clone();
    Ok(Json(o))
}
