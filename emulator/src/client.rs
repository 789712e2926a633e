//! A typed client for the control API, for tests of the operator.

use crate::api::{
    AccountInfo, AccountQuota, AdvanceClock, CallRecord, ClockInfo, ControlErrorBody, Fault, HandshakeInfo,
    OrganizationInfo, RateLimits, RespondToInvite, RoleInfo, StateSnapshot, TransferInfo,
};
use crate::seed::{Seed, SeedAccount, SeedOrganization, SeedRole};
use crate::state::ModelOptions;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Errors of the control client.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The HTTP request failed.
    #[error("control API request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The emulator refused the request. `error` is an AWS error shape name when the model
    /// refused (e.g. `HandshakeConstraintViolationException`), else `NotFound`/`BadRequest`.
    #[error("control API returned {status}: {} ({})", .body.error, .body.message)]
    Api {
        /// HTTP status.
        status: u16,
        /// Error body.
        body: ControlErrorBody,
    },
}

impl ControlError {
    /// The error code (`NotFound`, `BadRequest`, or an AWS error shape name), if the
    /// emulator answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            ControlError::Api { body, .. } => Some(&body.error),
            ControlError::Http(_) => None,
        }
    }

    /// The AWS `Reason`, if any.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ControlError::Api { body, .. } => body.reason.as_deref(),
            ControlError::Http(_) => None,
        }
    }
}

/// Client of the emulator's control API (`/_emulator/...`).
#[derive(Debug, Clone)]
pub struct ControlClient {
    base: String,
    http: reqwest::Client,
}

impl ControlClient {
    /// A client for the emulator at `url` (e.g. `http://127.0.0.1:4566`).
    pub fn new(url: impl Into<String>) -> Self {
        let base = url.into().trim_end_matches('/').to_string();
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ControlError> {
        let mut req = self.http.request(method, format!("{}/_emulator{path}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        if status.is_success() {
            Ok(resp.json().await?)
        } else {
            let code = status.as_u16();
            let text = resp.text().await?;
            let body = serde_json::from_str(&text).unwrap_or(ControlErrorBody {
                error: "Unknown".into(),
                message: text,
                reason: None,
            });
            Err(ControlError::Api { status: code, body })
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ControlError> {
        self.call::<(), T>(Method::GET, path, None).await
    }

    /// Snapshot of the whole world.
    pub async fn state(&self) -> Result<StateSnapshot, ControlError> {
        self.get("/state").await
    }

    /// Replaces the world with `seed` (empty if None); clears faults, call log, rate-limit
    /// buckets and the clock offset.
    pub async fn reset(&self, seed: Option<&Seed>) -> Result<StateSnapshot, ControlError> {
        self.call(Method::POST, "/reset", Some(&seed.cloned().unwrap_or_default()))
            .await
    }

    /// Adds everything in `seed` (atomically).
    pub async fn seed(&self, seed: &Seed) -> Result<StateSnapshot, ControlError> {
        self.call(Method::POST, "/seed", Some(seed)).await
    }

    /// Adds an organization.
    pub async fn add_organization(&self, org: &SeedOrganization) -> Result<OrganizationInfo, ControlError> {
        self.call(Method::POST, "/organizations", Some(org)).await
    }

    /// Deletes an organization with no members (its management account becomes standalone).
    pub async fn delete_organization(&self, org_id: &str) -> Result<(), ControlError> {
        self.call::<(), serde_json::Value>(Method::DELETE, &format!("/organizations/{org_id}"), None)
            .await
            .map(|_| ())
    }

    /// Sets an organization's account quota.
    pub async fn set_account_quota(&self, org_id: &str, quota: u32) -> Result<OrganizationInfo, ControlError> {
        self.call(
            Method::PUT,
            &format!("/organizations/{org_id}/quota"),
            Some(&AccountQuota { account_quota: quota }),
        )
        .await
    }

    /// Adds a standalone account.
    pub async fn add_account(&self, account: &SeedAccount) -> Result<AccountInfo, ControlError> {
        self.call(Method::POST, "/accounts", Some(account)).await
    }

    /// Reads an account.
    pub async fn account(&self, account_id: &str) -> Result<AccountInfo, ControlError> {
        self.get(&format!("/accounts/{account_id}")).await
    }

    /// Adds (or replaces) an IAM role.
    pub async fn add_role(&self, role: &SeedRole) -> Result<RoleInfo, ControlError> {
        self.call(Method::POST, "/roles", Some(role)).await
    }

    /// All visible handshakes, oldest first.
    pub async fn handshakes(&self) -> Result<Vec<HandshakeInfo>, ControlError> {
        self.get("/handshakes").await
    }

    /// One handshake.
    pub async fn handshake(&self, id: &str) -> Result<HandshakeInfo, ControlError> {
        self.get(&format!("/handshakes/{id}")).await
    }

    /// Accepts handshake `id` as the invited account (same checks as AcceptHandshake).
    pub async fn accept_handshake(&self, id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call(
            Method::POST,
            &format!("/handshakes/{id}/accept"),
            Some(&RespondToInvite::default()),
        )
        .await
    }

    /// Declines handshake `id` as the invited account.
    pub async fn decline_handshake(&self, id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call(
            Method::POST,
            &format!("/handshakes/{id}/decline"),
            Some(&RespondToInvite::default()),
        )
        .await
    }

    /// Accepts the (most recent) open invitation to `account_id`.
    pub async fn accept_invite_for(&self, account_id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call(
            Method::POST,
            &format!("/accounts/{account_id}/accept-invite"),
            Some(&RespondToInvite::default()),
        )
        .await
    }

    /// Declines the (most recent) open invitation to `account_id`.
    pub async fn decline_invite_for(&self, account_id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call(
            Method::POST,
            &format!("/accounts/{account_id}/decline-invite"),
            Some(&RespondToInvite::default()),
        )
        .await
    }

    /// Accepts the (most recent) open billing transfer invitation to `account_id`, as that
    /// (management) account.
    pub async fn accept_transfer_for(&self, account_id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call::<(), HandshakeInfo>(Method::POST, &format!("/accounts/{account_id}/accept-transfer"), None)
            .await
    }

    /// Declines the (most recent) open billing transfer invitation to `account_id`.
    pub async fn decline_transfer_for(&self, account_id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call::<(), HandshakeInfo>(Method::POST, &format!("/accounts/{account_id}/decline-transfer"), None)
            .await
    }

    /// Every billing transfer, oldest first.
    pub async fn transfers(&self) -> Result<Vec<TransferInfo>, ControlError> {
        self.get("/transfers").await
    }

    /// `account_id` leaves its organization (as LeaveOrganization).
    pub async fn leave_organization(&self, account_id: &str) -> Result<AccountInfo, ControlError> {
        self.call::<(), AccountInfo>(Method::POST, &format!("/accounts/{account_id}/leave"), None)
            .await
    }

    /// `account_id` is removed from its organization by that organization's management account
    /// (as RemoveAccountFromOrganization).
    pub async fn remove_from_organization(&self, account_id: &str) -> Result<AccountInfo, ControlError> {
        self.call::<(), AccountInfo>(Method::POST, &format!("/accounts/{account_id}/remove"), None)
            .await
    }

    /// `account_id` moves to organization `org_id` (it accepted that organization's invitation).
    pub async fn move_account(&self, account_id: &str, org_id: &str) -> Result<AccountInfo, ControlError> {
        let body = serde_json::json!({ "organization_id": org_id });
        self.call(Method::POST, &format!("/accounts/{account_id}/move"), Some(&body))
            .await
    }

    /// Cancels handshake `id` as its sender (the console or CLI of the sending organization).
    pub async fn cancel_handshake(&self, id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call::<(), HandshakeInfo>(Method::POST, &format!("/handshakes/{id}/cancel"), None)
            .await
    }

    /// Expires OPEN handshake `id` now, as if its 15 days had passed.
    pub async fn expire_handshake(&self, id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call::<(), HandshakeInfo>(Method::POST, &format!("/handshakes/{id}/expire"), None)
            .await
    }

    /// Drops handshake `id` as AWS does 30 days after it ended (an OPEN one is expired first).
    pub async fn purge_handshake(&self, id: &str) -> Result<HandshakeInfo, ControlError> {
        self.call::<(), HandshakeInfo>(Method::POST, &format!("/handshakes/{id}/purge"), None)
            .await
    }

    /// The emulator clock.
    pub async fn clock(&self) -> Result<ClockInfo, ControlError> {
        self.get("/clock").await
    }

    /// Moves the emulator clock forward.
    pub async fn advance_clock(&self, by: Duration) -> Result<ClockInfo, ControlError> {
        let seconds = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.call(Method::POST, "/clock/advance", Some(&AdvanceClock { seconds }))
            .await
    }

    /// Adds a fault.
    pub async fn add_fault(&self, fault: &Fault) -> Result<Vec<Fault>, ControlError> {
        self.call(Method::POST, "/faults", Some(fault)).await
    }

    /// Pending faults.
    pub async fn faults(&self) -> Result<Vec<Fault>, ControlError> {
        self.get("/faults").await
    }

    /// Removes all faults.
    pub async fn clear_faults(&self) -> Result<(), ControlError> {
        self.call::<(), Vec<Fault>>(Method::DELETE, "/faults", None)
            .await
            .map(|_| ())
    }

    /// Every AWS call received, in order.
    pub async fn calls(&self) -> Result<Vec<CallRecord>, ControlError> {
        self.get("/calls").await
    }

    /// The calls of one operation.
    pub async fn calls_for(&self, operation: &str) -> Result<Vec<CallRecord>, ControlError> {
        self.get(&format!("/calls?operation={operation}")).await
    }

    /// Clears the call log.
    pub async fn clear_calls(&self) -> Result<(), ControlError> {
        self.call::<(), serde_json::Value>(Method::DELETE, "/calls", None)
            .await
            .map(|_| ())
    }

    /// Switches API rate limits on or off.
    pub async fn set_rate_limits(&self, enabled: bool) -> Result<RateLimits, ControlError> {
        self.call(Method::PUT, "/rate-limits", Some(&RateLimits { enabled }))
            .await
    }

    /// Sets the model's behavioural switches.
    pub async fn set_options(&self, options: &ModelOptions) -> Result<ModelOptions, ControlError> {
        self.call(Method::PUT, "/options", Some(options)).await
    }
}
