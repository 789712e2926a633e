//! The AWS clients of each billing profile, built once per spec generation and Secret version.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};

use crate::api::BillingProfile;
use crate::aws::{AwsCallObserver, AwsError, ErrorClass, ProfileClients, StaticKeys};
use crate::reason::Reason;
use crate::tenancy::Tenancy;

/// A profile's clients and the spec/secret version they were built from.
#[derive(Clone)]
struct Connection {
    key: String,
    /// The profile generation the clients were built for.
    generation: Option<i64>,
    /// When the credentials Secret was last read (or, without one, when the clients were built).
    checked_at: Instant,
    clients: ProfileClients,
}

/// The connection cache: profile name → clients.
pub(super) struct Connections {
    cached: tokio::sync::Mutex<HashMap<String, Connection>>,
    /// How long a read of the credentials Secret is trusted: every reconcile of every invite
    /// connects, and a Secret read per reconcile would be one API read per invite (issue 14: a
    /// start with 1,000 invites would read the Secret 1,000 times). A rotated Secret is used
    /// within this long.
    secret_ttl: Duration,
}

impl Connections {
    /// A cache trusting a read of a credentials Secret for `secret_ttl`.
    pub(super) fn new(secret_ttl: Duration) -> Self {
        Self {
            cached: tokio::sync::Mutex::default(),
            secret_ttl,
        }
    }

    /// The AWS clients of `profile`, reusing the cached ones while its generation and its
    /// credentials Secret are unchanged (the Secret is read again once the last read is older
    /// than the cache's `secret_ttl`). Calls are reported to `observer` (metrics).
    /// The installer's tenancy rules are checked first: an endpoint override not allowed or a
    /// credentials Secret outside the credentials namespace fails before any Secret is read or
    /// any request is sent.
    pub(super) async fn connect(
        &self,
        client: &Client,
        tenancy: &Tenancy,
        observer: Arc<dyn AwsCallObserver>,
        profile: &BillingProfile,
    ) -> Result<ProfileClients, AwsError> {
        if let Err(message) = tenancy.endpoints.check(profile.spec.endpoint_url.as_deref()) {
            return Err(AwsError::local(
                "Connect",
                ErrorClass::Profile,
                Reason::EndpointNotAllowed,
                message,
            ));
        }
        let generation = profile.metadata.generation;
        if let Some(fresh) = self.cached.lock().await.get(&profile.name_any())
            && fresh.generation == generation
            && fresh.checked_at.elapsed() < self.secret_ttl
        {
            return Ok(fresh.clients.clone());
        }
        let checked_at = Instant::now();
        let (static_keys, secret_version) = static_keys(client, tenancy, profile).await?;
        let key = format!(
            "{}/{}",
            generation.unwrap_or_default(),
            secret_version.unwrap_or_default()
        );
        let mut connections = self.cached.lock().await;
        if let Some(existing) = connections.get_mut(&profile.name_any())
            && existing.key == key
        {
            existing.checked_at = existing.checked_at.max(checked_at);
            existing.generation = generation;
            return Ok(existing.clients.clone());
        }
        let clients = ProfileClients::connect(&profile.spec, static_keys)
            .await?
            .with_observer(observer);
        let connection = Connection {
            key,
            generation,
            checked_at,
            clients: clients.clone(),
        };
        connections.insert(profile.name_any(), connection);
        Ok(clients)
    }

    /// The key (spec generation / Secret version) of a profile's cached clients, if connected.
    pub(super) async fn key(&self, profile: &str) -> Option<String> {
        self.cached.lock().await.get(profile).map(|c| c.key.clone())
    }
}

/// The static keys of `spec.credentials.secretRef` and the Secret's resource version (None,
/// None without a secretRef: the SDK's default chain).
/// Only the credentials namespace is read: a reference elsewhere is refused without a read,
/// so the answer says nothing about Secrets there.
async fn static_keys(
    client: &Client,
    tenancy: &Tenancy,
    profile: &BillingProfile,
) -> Result<(Option<StaticKeys>, Option<String>), AwsError> {
    let Some(secret_ref) = profile.spec.credentials.as_ref().and_then(|c| c.secret_ref.as_ref()) else {
        return Ok((None, None));
    };
    let namespace = tenancy
        .credentials_secret_namespace(secret_ref.namespace.as_deref())
        .map_err(|message| {
            AwsError::local(
                "LoadCredentials",
                ErrorClass::Profile,
                Reason::CredentialsNamespaceNotAllowed,
                message,
            )
        })?;
    let name = &secret_ref.name;
    let unavailable = |message: String| {
        AwsError::local(
            "LoadCredentials",
            ErrorClass::Profile,
            Reason::CredentialsUnavailable,
            message,
        )
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets.get(name).await.map_err(|e| {
        let why = match &e {
            kube::Error::Api(status) if status.code == 404 => "it does not exist".to_owned(),
            kube::Error::Api(status) if status.code == 403 => {
                "the operator may not read it (the chart grants Secret reads in the credentials namespace only)"
                    .to_owned()
            }
            other => other.to_string(),
        };
        unavailable(format!(
            "cannot read Secret {name:?} named by spec.credentials.secretRef in the credentials namespace \
             {namespace:?}: {why}"
        ))
    })?;
    let data = secret.data.unwrap_or_default();
    let field = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let (Some(access_key_id), Some(secret_access_key)) = (field("AWS_ACCESS_KEY_ID"), field("AWS_SECRET_ACCESS_KEY"))
    else {
        return Err(unavailable(format!(
            "Secret {name:?} in the credentials namespace {namespace:?} must have the keys AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY"
        )));
    };
    let keys = StaticKeys {
        access_key_id,
        secret_access_key,
        session_token: field("AWS_SESSION_TOKEN"),
    };
    Ok((Some(keys), secret.metadata.resource_version))
}
