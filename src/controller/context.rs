//! What every reconcile shares: the Kubernetes client and stores, the handshake observer, the
//! event recorder, and small owned parts (connections, membership cache, pollers, send locks,
//! backoff; see [`super::parts`]).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::events::{Event as KubeEvent, EventType, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use tokio::sync::mpsc::UnboundedSender;

use super::claims::Claims;
use super::connections::Connections;
use super::event_series::Recorder;
use super::events::{self, EventQueue, EventWriter};
use super::parts::{Backoff, IamChecks, MembershipCache, PollerFailures, Pollers, ReconcileTimer, SendLocks};
use super::{ControllerConfig, MANAGER};
use crate::api::{AwsAccountInvite, BillingProfile, InvitePhase};
use crate::aws::{AwsCallObserver, AwsError, Changes, HandshakeObserver, ProfileClients, spawn_profile_poller};
use crate::reconcile::invite::{EventNote, Membership};

/// How long a DescribeAccount answer is reused (queued invites are reconciled often).
const MEMBERSHIP_TTL: Duration = Duration::from_secs(300);

/// How long a read of a profile's credentials Secret is trusted at most (less when the poll
/// interval is shorter): a rotated Secret is used within this long ([`Connections`]).
const SECRET_TTL: Duration = Duration::from_secs(30);

/// Shared by every reconcile.
pub struct Context {
    pub(super) client: Client,
    pub(super) config: ControllerConfig,
    pub(super) invites: Store<AwsAccountInvite>,
    pub(super) profiles: Store<BillingProfile>,
    pub(super) observer: HandshakeObserver,
    pub(super) send_locks: SendLocks,
    pub(super) backoff: Backoff,
    pub(super) membership: MembershipCache,
    pub(super) iam_checks: IamChecks,
    /// Who owns which (organization, account) pair ([`super::claims`]).
    pub(super) claims: Claims,
    connections: Connections,
    pollers: Pollers,
    /// Where every poller's panic is reported (the transfer pollers' too).
    pub(super) poller_failures: PollerFailures,
    /// The one event writer's queue ([`super::events`]).
    events: EventQueue,
    wake: UnboundedSender<ObjectRef<AwsAccountInvite>>,
}

impl Context {
    pub(super) fn new(
        client: Client,
        config: ControllerConfig,
        invites: Store<AwsAccountInvite>,
        profiles: Store<BillingProfile>,
        wake: UnboundedSender<ObjectRef<AwsAccountInvite>>,
        poller_failures: PollerFailures,
    ) -> (Self, EventWriter) {
        let reporter = Reporter {
            controller: MANAGER.to_owned(),
            instance: config.instance.clone(),
        };
        let (events, event_writer) = events::channel(Recorder::new(client.clone(), reporter));
        let iam_ttl = config.poll_interval;
        let secret_ttl = config.poll_interval.min(SECRET_TTL);
        let claims = Claims::new(client.clone(), &config.tenancy.operator_namespace);
        let context = Self {
            events,
            claims,
            client,
            config,
            invites,
            profiles,
            observer: HandshakeObserver::new(),
            send_locks: SendLocks::default(),
            backoff: Backoff::default(),
            membership: MembershipCache::new(MEMBERSHIP_TTL),
            iam_checks: IamChecks::new(iam_ttl),
            connections: Connections::new(secret_ttl),
            pollers: Pollers::new("handshake", poller_failures.clone()),
            poller_failures,
            wake,
        };
        (context, event_writer)
    }

    /// Now, by the operator's clock.
    pub fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    /// Counts a reconcile of `kind` and times it until the returned guard is dropped.
    pub(super) fn time_reconcile(&self, kind: &'static str) -> ReconcileTimer {
        ReconcileTimer::start(&self.config.metrics, kind)
    }

    /// The AWS clients of a profile, built once per spec generation and Secret version.
    pub(super) async fn connect(&self, profile: &BillingProfile) -> Result<ProfileClients, AwsError> {
        let observer: Arc<dyn AwsCallObserver> = self.config.metrics.clone();
        self.connections
            .connect(&self.client, &self.config.tenancy, observer, profile)
            .await
    }

    /// The key of the profile's current connection (what a poller is tagged with), if any.
    pub(super) async fn connection_key(&self, profile: &str) -> Option<String> {
        self.connections.key(profile).await
    }

    /// Runs the profile's handshake poller (restarted when its connection or its organization
    /// changes). The poller sweeps `organization` (see [`organization_key`]): pollers of profiles
    /// naming the same organization share its sweep, which each makes only when none was made
    /// in the last half interval, and wake the invites of all those profiles.
    pub(super) async fn ensure_poller(self: &Arc<Self>, profile: &str, organization: &str, clients: &ProfileClients) {
        let Some(key) = self.connections.key(profile).await else {
            return;
        };
        self.pollers.ensure(profile, format!("{key} {organization}"), |stop| {
            let ctx = Arc::downgrade(self);
            let clock = self.config.clock.clone();
            let name = organization.to_owned();
            spawn_profile_poller(
                self.observer.clone(),
                organization.to_owned(),
                clients.clone(),
                self.config.poll_interval,
                stop,
                move || clock.now(),
                move |changes| {
                    if let Some(ctx) = ctx.upgrade() {
                        ctx.wake_changed(&name, &changes);
                    }
                },
            )
        });
    }

    /// Stops a profile's poller; what its organization's sweep knew is forgotten unless
    /// another profile names that organization.
    pub(super) fn stop_poller(&self, profile: &BillingProfile) {
        let name = profile.name_any();
        self.pollers.stop(&name);
        let organization = organization_key(profile);
        let shared = self
            .profiles
            .state()
            .iter()
            .any(|p| p.name_any() != name && organization_key(p) == organization);
        if !shared {
            self.observer.forget(&organization);
        }
    }

    /// Stops every poller (shutdown).
    pub(super) fn stop_pollers(&self) {
        self.pollers.stop_all();
    }

    /// Wakes the invites of every profile of `organization` whose account, or whose recorded
    /// handshake (by ID), changed; all of them after the organization's first sweep.
    pub(super) fn wake_changed(&self, organization: &str, changes: &Changes) {
        let profiles: Vec<String> = self
            .profiles
            .state()
            .iter()
            .filter(|p| organization_key(p) == organization)
            .map(|p| p.name_any())
            .collect();
        let accounts: HashSet<&str> = changes.accounts.iter().map(String::as_str).collect();
        let handshakes: HashSet<&str> = changes.handshakes.iter().map(String::as_str).collect();
        let woken = super::invites_where(&self.invites, |i| {
            profiles.contains(&i.spec.billing_profile)
                && (changes.first_sweep
                    || accounts.contains(i.spec.account_id.as_str())
                    || i.status
                        .as_ref()
                        .and_then(|s| s.handshake.as_ref())
                        .is_some_and(|h| handshakes.contains(h.id.as_str())))
        });
        for invite in woken {
            let _ = self.wake.send(invite);
        }
    }

    /// Wakes the invites other than `released_by` that name its account: the claim it
    /// released may be theirs now.
    pub(super) fn wake_claimants(&self, released_by: &AwsAccountInvite) {
        let me = ObjectRef::from_obj(released_by);
        let woken = super::invites_where(&self.invites, |i| i.spec.account_id == released_by.spec.account_id);
        for invite in woken.into_iter().filter(|i| *i != me) {
            let _ = self.wake.send(invite);
        }
    }

    /// The `invitationsPerDay` of every profile naming `organization`: together they never
    /// send more than the smallest (see [`crate::reconcile::profile::budget_left`]).
    pub(super) fn daily_limits(&self, organization: &str) -> Vec<u32> {
        self.profiles
            .state()
            .iter()
            .filter(|p| organization_key(p) == organization)
            .map(|p| p.spec.invitations_per_day)
            .collect()
    }

    /// DescribeAccount, cached for a few minutes (`fresh`: ask AWS whatever the cache says).
    pub(super) async fn membership(
        &self,
        profile: &str,
        clients: &ProfileClients,
        account_id: &str,
        fresh: bool,
    ) -> Result<Membership, AwsError> {
        let now = self.now();
        if !fresh && let Some(known) = self.membership.get(profile, account_id, now) {
            return Ok(known);
        }
        let membership = match clients.describe_account(account_id).await? {
            Some(account) => Membership::Member {
                joined_at: account.joined_at,
            },
            None => Membership::NotMember,
        };
        self.membership.put(profile, account_id, membership.clone(), now);
        Ok(membership)
    }

    /// Queues events about `object` for the one event writer ([`super::events`]): they are
    /// published after this returns, and a failure is logged, never fatal.
    /// Events about a cluster-scoped object (a BillingProfile) go to the operator's own
    /// namespace, where only those who administer the operator read them, not to `default`
    /// (where the Events API would otherwise put them).
    pub(super) async fn publish<K: Resource<DynamicType = ()>>(&self, object: &K, events: &[EventNote]) {
        let mut reference = object.object_ref(&());
        if reference.namespace.is_none() {
            reference.namespace = Some(self.config.tenancy.operator_namespace.clone());
        }
        for note in events {
            let event = KubeEvent {
                type_: if note.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: note.reason.as_str().to_owned(),
                note: Some(note.message.chars().take(1000).collect()),
                action: note.reason.as_str().to_owned(),
                secondary: None,
            };
            self.events.queue(event, reference.clone()).await;
        }
    }

    /// Updates the invites-by-phase and queue-length gauges every few seconds.
    pub(super) async fn report_gauges(self: Arc<Self>, shutdown: impl Future<Output = ()> + Send) {
        let mut ticker = tokio::time::interval(Duration::from_secs(5));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
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

/// The key of the organization a profile reaches, as its status records it (the spec's
/// `organizationId` before the first check): the handshake and membership sweep, their index,
/// the send lock and the daily budget belong to the organization, shared by every profile
/// naming it (issue 14), not to each profile. The endpoint is part of the key.
pub(super) fn organization_key(profile: &BillingProfile) -> String {
    let id = profile
        .status
        .as_ref()
        .and_then(|s| s.organization_id.as_deref())
        .or(profile.spec.organization_id.as_deref());
    match id {
        Some(id) => organization_key_of(profile, id),
        None => format!("profile {}", profile.name_any()),
    }
}

/// The organization key of `profile` once DescribeOrganization answered `organization_id`.
pub(super) fn organization_key_of(profile: &BillingProfile, organization_id: &str) -> String {
    format!(
        "{organization_id} {}",
        profile.spec.endpoint_url.as_deref().unwrap_or_default()
    )
}
