//! Shared state of the controllers: stores, AWS connections per profile, handshake indexes,
//! pollers, events and metrics.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::{ControllerConfig, MANAGER};
use crate::api::{AwsAccountInvite, BillingProfile, InvitePhase};
use crate::aws::{
    AwsCallObserver, AwsError, ErrorClass, HandshakeObserver, ProfileClients, StaticKeys, spawn_profile_poller,
};
use crate::reconcile::invite::{EventNote, Membership};

/// How long a DescribeAccount answer is reused (queued invites are reconciled often).
const MEMBERSHIP_TTL: Duration = Duration::from_secs(300);

/// A profile's connection and the spec/secret version it was built from.
#[derive(Clone)]
struct Connection {
    key: String,
    clients: ProfileClients,
}

struct Poller {
    key: String,
    stop: CancellationToken,
}

/// Shared by every reconcile.
pub struct Context {
    pub(super) client: Client,
    pub(super) config: ControllerConfig,
    pub(super) invites: Store<AwsAccountInvite>,
    pub(super) profiles: Store<BillingProfile>,
    pub(super) observer: HandshakeObserver,
    recorder: Recorder,
    wake: UnboundedSender<ObjectRef<AwsAccountInvite>>,
    connections: tokio::sync::Mutex<HashMap<String, Connection>>,
    send_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    membership: Mutex<HashMap<(String, String), (Membership, Timestamp)>>,
    pollers: Mutex<HashMap<String, Poller>>,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub(super) fn new(
        client: Client,
        config: ControllerConfig,
        invites: Store<AwsAccountInvite>,
        profiles: Store<BillingProfile>,
        wake: UnboundedSender<ObjectRef<AwsAccountInvite>>,
    ) -> Self {
        let reporter = Reporter {
            controller: MANAGER.to_owned(),
            instance: config.instance.clone(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            config,
            invites,
            profiles,
            observer: HandshakeObserver::new(),
            wake,
            connections: tokio::sync::Mutex::new(HashMap::new()),
            send_locks: Mutex::new(HashMap::new()),
            membership: Mutex::new(HashMap::new()),
            pollers: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Now, by the operator's clock.
    pub fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    /// The AWS clients of a profile, built once per spec generation and Secret version.
    pub(super) async fn connect(&self, profile: &BillingProfile) -> Result<ProfileClients, AwsError> {
        let name = profile.name_any();
        let (static_keys, secret_version) = self.static_keys(profile).await?;
        let key = format!(
            "{}/{}",
            profile.metadata.generation.unwrap_or_default(),
            secret_version.unwrap_or_default()
        );
        let mut connections = self.connections.lock().await;
        if let Some(existing) = connections.get(&name)
            && existing.key == key
        {
            return Ok(existing.clients.clone());
        }
        let observer: Arc<dyn AwsCallObserver> = self.config.metrics.clone();
        let clients = ProfileClients::connect(&profile.spec, static_keys)
            .await?
            .with_observer(observer);
        connections.insert(
            name,
            Connection {
                key,
                clients: clients.clone(),
            },
        );
        Ok(clients)
    }

    /// The connection key of a profile's cached clients, if connected.
    async fn connection_key(&self, profile: &str) -> Option<String> {
        self.connections.lock().await.get(profile).map(|c| c.key.clone())
    }

    async fn static_keys(&self, profile: &BillingProfile) -> Result<(Option<StaticKeys>, Option<String>), AwsError> {
        let Some(secret_ref) = profile.spec.credentials.as_ref().and_then(|c| c.secret_ref.as_ref()) else {
            return Ok((None, None));
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &secret_ref.namespace);
        let secret = secrets.get(&secret_ref.name).await.map_err(|e| {
            AwsError::local(
                "LoadCredentials",
                ErrorClass::Profile,
                "CredentialsUnavailable",
                format!(
                    "cannot read Secret {}/{} named by spec.credentials.secretRef: {e}",
                    secret_ref.namespace, secret_ref.name
                ),
            )
        })?;
        let data = secret.data.unwrap_or_default();
        let field = |key: &str| {
            data.get(key)
                .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let (Some(access_key_id), Some(secret_access_key)) =
            (field("AWS_ACCESS_KEY_ID"), field("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(AwsError::local(
                "LoadCredentials",
                ErrorClass::Profile,
                "CredentialsUnavailable",
                format!(
                    "Secret {}/{} must have the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    secret_ref.namespace, secret_ref.name
                ),
            ));
        };
        let keys = StaticKeys {
            access_key_id,
            secret_access_key,
            session_token: field("AWS_SESSION_TOKEN"),
        };
        Ok((Some(keys), secret.metadata.resource_version))
    }

    /// Runs the profile's handshake poller (restarted when its connection changes).
    pub(super) async fn ensure_poller(self: &Arc<Self>, profile: &str, clients: &ProfileClients) {
        let Some(key) = self.connection_key(profile).await else {
            return;
        };
        let mut pollers = self.pollers.lock().unwrap_or_else(|e| e.into_inner());
        if pollers.get(profile).is_some_and(|p| p.key == key) {
            return;
        }
        if let Some(old) = pollers.remove(profile) {
            old.stop.cancel();
        }
        let stop = CancellationToken::new();
        let ctx = Arc::downgrade(self);
        let clock = self.config.clock.clone();
        let name = profile.to_owned();
        spawn_profile_poller(
            self.observer.clone(),
            profile.to_owned(),
            clients.clone(),
            self.config.poll_interval,
            stop.clone(),
            move || clock.now(),
            move |accounts| {
                if let Some(ctx) = ctx.upgrade() {
                    ctx.wake_accounts(&name, &accounts);
                }
            },
            |_| {},
        );
        pollers.insert(profile.to_owned(), Poller { key, stop });
    }

    /// Stops a profile's poller and forgets what it knew.
    pub(super) fn stop_poller(&self, profile: &str) {
        if let Some(p) = self.pollers.lock().unwrap_or_else(|e| e.into_inner()).remove(profile) {
            p.stop.cancel();
        }
        self.observer.forget(profile);
    }

    /// Stops every poller (shutdown).
    pub(super) fn stop_pollers(&self) {
        for (_, p) in self.pollers.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            p.stop.cancel();
        }
    }

    /// Wakes the invites of `profile` for these accounts.
    fn wake_accounts(&self, profile: &str, accounts: &[String]) {
        let woken = super::invites_where(&self.invites, |i| {
            i.spec.billing_profile == profile && accounts.contains(&i.spec.account_id)
        });
        for invite in woken {
            let _ = self.wake.send(invite);
        }
    }

    /// The lock held while deciding and sending an invitation for a profile (the budget check
    /// and the send are one step).
    pub(super) fn send_lock(&self, profile: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.send_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(profile.to_owned())
            .or_default()
            .clone()
    }

    /// DescribeAccount, cached for a few minutes.
    pub(super) async fn membership(
        &self,
        profile: &str,
        clients: &ProfileClients,
        account_id: &str,
        fresh: bool,
    ) -> Result<Membership, AwsError> {
        let key = (profile.to_owned(), account_id.to_owned());
        let now = self.now();
        if !fresh
            && let Some((m, at)) = self.membership.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
            && now.duration_since(*at).unsigned_abs() < MEMBERSHIP_TTL
        {
            return Ok(m.clone());
        }
        let membership = match clients.describe_account(account_id).await? {
            Some(account) => Membership::Member {
                joined_at: account.joined_at,
            },
            None => Membership::NotMember,
        };
        self.membership
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (membership.clone(), now));
        Ok(membership)
    }

    /// Forgets a cached membership answer (after a send, an accept).
    pub(super) fn forget_membership(&self, profile: &str, account_id: &str) {
        self.membership
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(profile.to_owned(), account_id.to_owned()));
    }

    /// Publishes events about `object`; failures are logged, never fatal.
    pub(super) async fn publish<K: Resource<DynamicType = ()>>(&self, object: &K, events: &[EventNote]) {
        let reference = object.object_ref(&());
        for note in events {
            let event = KubeEvent {
                type_: if note.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: note.reason.to_owned(),
                note: Some(note.message.chars().take(1000).collect()),
                action: note.reason.to_owned(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&event, &reference).await {
                tracing::warn!(error = %e, reason = note.reason, "could not publish event");
            }
        }
    }

    /// Counts a failed reconcile of `key`; returns the backoff to wait.
    pub(super) fn backoff(&self, key: String) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key).or_default();
        *n = n.saturating_add(1);
        let base = Duration::from_millis(500).saturating_mul(1 << (*n).min(9));
        let jitter = Duration::from_millis(u64::from(rand_jitter()) % 500);
        base.min(Duration::from_secs(300)) + jitter
    }

    /// Clears the failure count of `key` after a successful reconcile.
    pub(super) fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Updates the invites-by-phase and queue-length gauges every few seconds.
    pub(super) async fn report_gauges(self: Arc<Self>, shutdown: impl Future<Output = ()> + Send) {
        let mut ticker = tokio::time::interval(Duration::from_secs(5));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticker.tick() => {}
            }
            let mut phases: BTreeMap<String, i64> = BTreeMap::new();
            let mut queued: BTreeMap<String, i64> = BTreeMap::new();
            for profile in self.profiles.state() {
                queued.insert(profile.name_any(), 0);
            }
            for invite in self.invites.state() {
                let phase = invite.status.as_ref().and_then(|s| s.phase).unwrap_or_default();
                *phases.entry(format!("{phase:?}")).or_default() += 1;
                if phase == InvitePhase::Queued {
                    *queued.entry(invite.spec.billing_profile.clone()).or_default() += 1;
                }
            }
            self.config.metrics.set_invite_phases(&phases);
            for (profile, n) in queued {
                self.config.metrics.set_queue_length(&profile, n);
            }
        }
    }
}

fn rand_jitter() -> u16 {
    // Sub-second jitter from the clock's nanoseconds: enough to spread retries.
    (Timestamp::now().subsec_nanosecond() / 1000 % 65_536) as u16
}
