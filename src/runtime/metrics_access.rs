//! Who may read `/metrics`.
//!
//! `open`: anyone who reaches the port. `kubernetes` (the chart's default): as controller-runtime's
//! secure metrics and kube-rbac-proxy do, the caller sends `Authorization: Bearer <token>`; the
//! API server authenticates the token (a TokenReview, authentication.k8s.io/v1) and authorizes
//! the user for `get` on the non-resource URL `/metrics` (a SubjectAccessReview,
//! authorization.k8s.io/v1). Prometheus scrapes with its ServiceAccount token and a ClusterRole
//! granting `nonResourceURLs: ["/metrics"], verbs: ["get"]` (the chart's `<release>-metrics-reader`).
//! `/healthz` and `/readyz` stay open: the kubelet probes them without credentials.
//!
//! Verdicts are cached for [`VERDICT_TTL`] per token, so a scrape every 15 s costs the API server
//! two small requests a minute at most. Tokens are never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{NonResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::PostParams;
use kube::{Api, Client};

/// How long an authentication + authorization verdict for one token is reused.
pub const VERDICT_TTL: Duration = Duration::from_secs(60);
/// Tokens remembered at once; past this the cache starts afresh.
const CACHE_LIMIT: usize = 256;
/// The non-resource URL the SubjectAccessReview asks about.
pub const METRICS_PATH: &str = "/metrics";

/// How `/metrics` is protected (`--metrics-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsAuth {
    /// No authentication: anyone who reaches the port reads the metrics.
    Open,
    /// A bearer token the API server authenticates (TokenReview) and authorizes for `get` on
    /// `/metrics` (SubjectAccessReview).
    Kubernetes,
}

/// What a request to `/metrics` gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Serve the metrics.
    Allowed,
    /// No bearer token, or one the API server does not accept: 401.
    Unauthenticated,
    /// An authenticated user without `get` on `/metrics`: 403.
    Forbidden {
        /// The user the token belongs to.
        user: String,
    },
    /// The API server could not be asked (not connected yet, or it failed): 503.
    Unavailable,
}

/// The `/metrics` gate shared by the HTTP server; cheap to clone.
#[derive(Clone)]
pub struct MetricsAccess {
    inner: Arc<Inner>,
}

struct Inner {
    mode: MetricsAuth,
    client: OnceLock<Client>,
    verdicts: Mutex<HashMap<String, (Verdict, Instant)>>,
}

impl MetricsAccess {
    /// A gate in `mode`; with [`MetricsAuth::Kubernetes`] it answers 503 until
    /// [`MetricsAccess::connect`] gives it a client.
    pub fn new(mode: MetricsAuth) -> Self {
        Self {
            inner: Arc::new(Inner {
                mode,
                client: OnceLock::new(),
                verdicts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Anyone may read the metrics.
    pub fn open() -> Self {
        Self::new(MetricsAuth::Open)
    }

    /// The client that sends TokenReviews and SubjectAccessReviews (the operator's own).
    pub fn connect(&self, client: Client) {
        let _ = self.inner.client.set(client);
    }

    /// Decides a request from its `Authorization` header value.
    pub async fn check(&self, authorization: Option<&str>) -> Verdict {
        if self.inner.mode == MetricsAuth::Open {
            return Verdict::Allowed;
        }
        let Some(token) = authorization.and_then(bearer_token) else {
            return Verdict::Unauthenticated;
        };
        if let Some(cached) = self.cached(token) {
            return cached;
        }
        let Some(client) = self.inner.client.get() else {
            return Verdict::Unavailable;
        };
        let verdict = review(client, token).await;
        if verdict != Verdict::Unavailable {
            self.remember(token, verdict.clone());
        }
        verdict
    }

    fn cached(&self, token: &str) -> Option<Verdict> {
        let verdicts = self
            .inner
            .verdicts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        verdicts
            .get(token)
            .filter(|(_, at)| at.elapsed() < VERDICT_TTL)
            .map(|(v, _)| v.clone())
    }

    fn remember(&self, token: &str, verdict: Verdict) {
        let mut verdicts = self
            .inner
            .verdicts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verdicts.len() >= CACHE_LIMIT {
            verdicts.clear();
        }
        verdicts.insert(token.to_owned(), (verdict, Instant::now()));
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// TokenReview, then SubjectAccessReview for `get` on `/metrics`.
async fn review(client: &Client, token: &str) -> Verdict {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_owned()),
            audiences: None,
        },
        ..Default::default()
    };
    let reviewed = match Api::<TokenReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
    {
        Ok(r) => r,
        Err(err) => {
            tracing::warn!(error = %err, "metrics: TokenReview failed");
            return Verdict::Unavailable;
        }
    };
    let status = reviewed.status.unwrap_or_default();
    let Some(user) = status.user.filter(|_| status.authenticated == Some(true)) else {
        return Verdict::Unauthenticated;
    };
    let username = user.username.clone().unwrap_or_default();
    let access = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: user.username,
            groups: user.groups,
            uid: user.uid,
            extra: user.extra,
            non_resource_attributes: Some(NonResourceAttributes {
                path: Some(METRICS_PATH.to_owned()),
                verb: Some("get".to_owned()),
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    match Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &access)
        .await
    {
        Ok(r) if r.status.as_ref().is_some_and(|s| s.allowed) => Verdict::Allowed,
        Ok(_) => {
            tracing::debug!(user = %username, "metrics: not allowed to get /metrics");
            Verdict::Forbidden { user: username }
        }
        Err(err) => {
            tracing::warn!(error = %err, "metrics: SubjectAccessReview failed");
            Verdict::Unavailable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_follow_rfc_6750() {
        assert_eq!(bearer_token("Bearer abc.def"), Some("abc.def"));
        assert_eq!(
            bearer_token("bearer abc"),
            Some("abc"),
            "the scheme is case-insensitive"
        );
        assert_eq!(bearer_token("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[tokio::test]
    async fn open_allows_anyone_and_kubernetes_needs_a_token_and_a_client() {
        assert_eq!(MetricsAccess::open().check(None).await, Verdict::Allowed);
        let gate = MetricsAccess::new(MetricsAuth::Kubernetes);
        assert_eq!(gate.check(None).await, Verdict::Unauthenticated);
        assert_eq!(gate.check(Some("Basic x")).await, Verdict::Unauthenticated);
        assert_eq!(
            gate.check(Some("Bearer t")).await,
            Verdict::Unavailable,
            "no client yet: nothing can be checked"
        );
    }
}
