//! The kube wiring: a controller for BillingProfiles, one for AwsAccountInvites, the
//! per-profile handshake pollers that wake invites, and the I/O that carries out what
//! [`crate::reconcile`] decides. Observe, decide, act, record.

mod cache;
mod claims;
mod clock;
mod connections;
mod context;
pub mod event_series;
mod events;
mod finalizer;
mod invite;
mod parts;
mod profile;
mod supervise;
mod transfer;
mod wakes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::runtime::controller::{Config as ControllerRuntimeConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{PredicateConfig, predicates};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tokio::sync::mpsc;

pub use clock::{Clock, ClockHandle};
pub use context::Context;

use crate::api::{AwsAccountInvite, BillingProfile, BillingTransfer};
use crate::telemetry::Metrics;
use crate::tenancy::Tenancy;

/// The finalizer that lets the operator cancel an open invitation before an invite goes.
pub const FINALIZER: &str = "awsinvite.io/cleanup";
/// Field manager and event reporter name.
pub const MANAGER: &str = "aws-invite-operator";

/// How long a stopping operator publishes the Events still queued.
const EVENT_DRAIN: Duration = Duration::from_secs(5);

/// How the controllers run.
#[derive(Clone)]
pub struct ControllerConfig {
    /// How often each profile's handshakes are listed (one paginated sweep per profile).
    pub poll_interval: Duration,
    /// Invites reconciled at once.
    pub concurrency: u16,
    /// Metrics sink.
    pub metrics: Arc<Metrics>,
    /// The operator's clock (the system clock; tests move it with the emulator's).
    pub clock: Clock,
    /// The event reporter instance (pod name).
    pub instance: Option<String>,
    /// The installer's tenancy rules: the credentials namespace, endpoint overrides, where
    /// profile Events go (docs/security.md).
    pub tenancy: Tenancy,
}

/// Everything that can fail in a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Aws(#[from] crate::aws::AwsError),
    #[error("{kind} has no {what}")]
    Invalid { kind: &'static str, what: &'static str },
    /// A controller (or the gauges) stopped on its own: its stream ended before shutdown, or
    /// it panicked. The process exits non-zero on it.
    #[error("{controller}: {how}")]
    ControllerFailed { controller: &'static str, how: String },
}

impl Error {
    /// A stable label for metrics.
    pub fn reason(&self) -> &str {
        match self {
            Error::Kube(_) => "KubernetesApi",
            Error::Aws(e) => e.reason().as_str(),
            Error::Invalid { .. } => "Invalid",
            Error::ControllerFailed { .. } => "ControllerFailed",
        }
    }
}

/// Runs both controllers until `shutdown` completes.
pub async fn run(
    client: Client,
    config: ControllerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (wake_tx, wake_rx) = mpsc::unbounded_channel::<ObjectRef<AwsAccountInvite>>();
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));

    // The caches keep only what the operator reads (cache.rs): objects are slimmed before they
    // enter the reflector.
    let (invite_store, invite_writer) = reflector::store();
    let invite_stream = watcher::watcher(Api::<AwsAccountInvite>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(cache::slim_invite)
        .reflect(invite_writer)
        .applied_objects();
    let invites = Controller::for_stream(invite_stream, invite_store.clone())
        .with_config(ControllerRuntimeConfig::default().concurrency(config.concurrency));
    let (profile_store, profile_writer) = reflector::store();
    let profile_stream = watcher::watcher(Api::<BillingProfile>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(cache::slim_profile)
        .reflect(profile_writer)
        .applied_objects()
        // A profile is reconciled when its spec changes (a new generation) and once per poll
        // interval (its requeue), not on its own status writes: each reconcile calls
        // DescribeOrganization, and a status write per invite sent would otherwise cost one
        // call each (docs/architecture.md, "AWS usage and rate limits").
        .predicate_filter(predicates::generation, PredicateConfig::default());
    let profiles = Controller::for_stream(profile_stream, profile_store.clone())
        .with_config(ControllerRuntimeConfig::default().concurrency(2));

    // A poller task that panics is reported here, and stops the operator as a controller would.
    let (poller_failures, mut poller_failed) = mpsc::unbounded_channel::<String>();
    let (ctx, event_writer) = Context::new(
        client.clone(),
        config,
        invite_store.clone(),
        profile_store,
        wake_tx,
        poller_failures,
    );
    let ctx = Arc::new(ctx);
    let event_writer = tokio::spawn(event_writer.run());
    ctx.claims.prime().await;

    let by_profile = invite_store.clone();
    let by_namespace = invite_store.clone();
    let invites = invites
        // Only the profile changes an invite reads wake its invites, not the profile's status
        // writes of its counts (wakes.rs).
        .watches_stream(
            wakes::invite_facing_changes(
                watcher::watcher(Api::<BillingProfile>::all(client.clone()), watcher::Config::default())
                    .default_backoff(),
            ),
            move |profile: BillingProfile| {
                let name = profile.name_any();
                invites_where(&by_profile, |i| i.spec.billing_profile == name)
            },
        )
        .watches(
            Api::<Namespace>::all(client.clone()),
            watcher::Config::default(),
            move |namespace: Namespace| {
                // A namespace's labels decide selector-based access to profiles: re-check its
                // invites when it changes (e.g. labelled to be admitted).
                let name = namespace.name_any();
                invites_where(&by_namespace, |i| {
                    i.metadata.namespace.as_deref() == Some(name.as_str())
                })
            },
        )
        .reconcile_on(tokio_stream::wrappers::UnboundedReceiverStream::new(wake_rx))
        .graceful_shutdown_on(shutdown.clone())
        .run(invite::reconcile, invite::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let profiles = profiles
        .graceful_shutdown_on(shutdown.clone())
        .run(profile::reconcile, profile::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let transfers = Controller::new(Api::<BillingTransfer>::all(client.clone()), watcher::Config::default())
        .with_config(ControllerRuntimeConfig::default().concurrency(config_concurrency(&ctx)));
    let transfer_store = transfers.store();
    let transfer_gauges = transfer::report_gauges(transfer_store.clone(), ctx.config.metrics.clone(), shutdown.clone());
    let (transfer_wake_tx, transfer_wake_rx) = tokio::sync::mpsc::unbounded_channel();
    let transfer_ctx = Arc::new(transfer::TransferContext::new(
        ctx.clone(),
        transfer_wake_tx,
        transfer_store.clone(),
    ));
    // A transfer poller names the customers whose transfers changed: wake their BillingTransfers.
    let woken_store = transfer_store.clone();
    let transfer_wakes = tokio_stream::wrappers::UnboundedReceiverStream::new(transfer_wake_rx).flat_map(
        move |(profile, customers): (String, Vec<String>)| {
            let refs = woken_store
                .state()
                .iter()
                .filter(|t| transfer::woken_by(t, &profile, &customers))
                .map(|t| ObjectRef::from_obj(t.as_ref()))
                .collect::<Vec<_>>();
            futures::stream::iter(refs)
        },
    );
    let transfers = transfers
        // A transfer reads of its profile what an invite does (a subset: no Ready message):
        // the profile's status writes of its counts wake none (wakes.rs).
        .watches_stream(
            wakes::invite_facing_changes(
                watcher::watcher(Api::<BillingProfile>::all(client.clone()), watcher::Config::default())
                    .default_backoff(),
            ),
            move |profile: BillingProfile| {
                let name = profile.name_any();
                transfer_store
                    .state()
                    .iter()
                    .filter(|t| t.spec.billing_profile == name)
                    .map(|t| ObjectRef::from_obj(t.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .reconcile_on(transfer_wakes)
        .graceful_shutdown_on(shutdown.clone())
        .run(transfer::reconcile, transfer::error_policy, transfer_ctx.clone())
        .for_each(|_| futures::future::ready(()));
    let gauges = ctx.clone().report_gauges(shutdown.clone());

    tracing::info!("controllers started");
    // One part stopping on its own (its stream ended, or it panicked) stops them all with an
    // error naming it, rather than leaving the operator running half-alive.
    let pollers_stop = shutdown.clone();
    let pollers = async move {
        tokio::select! {
            failure = poller_failed.recv() => failure.map_or(Ok(()), Err),
            () = pollers_stop => Ok(()),
        }
    };
    let parts: Vec<supervise::Part> = vec![
        supervise::part(controller_names::INVITES, invites),
        supervise::part(controller_names::PROFILES, profiles),
        supervise::part(controller_names::TRANSFERS, transfers),
        supervise::part(controller_names::INVITE_GAUGES, gauges),
        supervise::part(controller_names::TRANSFER_GAUGES, transfer_gauges),
        (controller_names::POLLERS, Box::pin(pollers)),
    ];
    let metrics = ctx.config.metrics.clone();
    let stopping = shutdown.clone();
    let result = supervise::supervise(parts, move || stopping.peek().is_some(), &metrics).await;
    ctx.stop_pollers();
    transfer_ctx.stop_pollers();
    // The controllers have stopped: once the last queue is dropped the event writer publishes
    // what the last reconciles queued, and ends.
    drop((ctx, transfer_ctx));
    match tokio::time::timeout(EVENT_DRAIN, event_writer).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "event writer failed"),
        Err(_) => tracing::warn!("events still queued after {EVENT_DRAIN:?} at shutdown were not published"),
    }
    match &result {
        Ok(()) => tracing::info!("controllers stopped"),
        Err(err) => tracing::error!(error = %err, "controllers stopped"),
    }
    result
}

/// The `controller` label of `aws_invite_controller_failures_total`: each long-running part.
pub mod controller_names {
    /// The AwsAccountInvite controller.
    pub const INVITES: &str = "AwsAccountInvite";
    /// The BillingProfile controller.
    pub const PROFILES: &str = "BillingProfile";
    /// The BillingTransfer controller.
    pub const TRANSFERS: &str = "BillingTransfer";
    /// The task refreshing `aws_invite_invites` and `aws_invite_queue_length`.
    pub const INVITE_GAUGES: &str = "invite-gauges";
    /// The task refreshing `aws_invite_billing_transfers`.
    pub const TRANSFER_GAUGES: &str = "transfer-gauges";
    /// The per-profile handshake and transfer pollers (a panic of any one of them).
    pub const POLLERS: &str = "pollers";
    /// Every part, in a stable order.
    pub const ALL: [&str; 6] = [INVITES, PROFILES, TRANSFERS, INVITE_GAUGES, TRANSFER_GAUGES, POLLERS];
}

fn config_concurrency(ctx: &Context) -> u16 {
    ctx.config.concurrency
}

/// Whether writing the `planned` status would change the `recorded` one: the status writers
/// (invite, profile, transfer) skip a write that changes nothing. Compared as written: a
/// Kubernetes Time is written in whole seconds, so a time from AWS's answer or the clock
/// (nanoseconds) that the status already records is no change (issue 14: such no-op writes
/// were a third status write per adopted invite at a start).
pub(super) fn status_changed<S: serde::Serialize + PartialEq>(recorded: Option<&S>, planned: &S) -> bool {
    match recorded {
        Some(recorded) if recorded == planned => false,
        Some(recorded) => serde_json::to_value(recorded).ok() != serde_json::to_value(planned).ok(),
        None => true,
    }
}

/// References to the cached invites that `keep` selects: what a watch or a poller wakes.
pub(super) fn invites_where(
    store: &Store<AwsAccountInvite>,
    keep: impl Fn(&AwsAccountInvite) -> bool,
) -> Vec<ObjectRef<AwsAccountInvite>> {
    store
        .state()
        .iter()
        .filter(|i| keep(i))
        .map(|i| ObjectRef::from_obj(i.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AwsAccountInviteStatus, HandshakeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn status(expires: jiff::Timestamp) -> AwsAccountInviteStatus {
        AwsAccountInviteStatus {
            handshake: Some(HandshakeStatus {
                id: "h-1".into(),
                arn: None,
                state: "OPEN".into(),
                requested_at: None,
                expires_at: Some(Time(expires)),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_time_already_recorded_in_whole_seconds_is_no_change() {
        let from_aws: jiff::Timestamp = "2026-12-16T04:21:08.704999923Z".parse().expect("time");
        let recorded: jiff::Timestamp = "2026-12-16T04:21:08Z".parse().expect("time");
        // The API server gives back what the operator wrote: whole seconds.
        assert!(!status_changed(Some(&status(recorded)), &status(from_aws)));
        assert!(status_changed(
            Some(&status(recorded)),
            &status("2026-12-16T04:21:09Z".parse().expect("time"))
        ));
        assert!(status_changed(None, &status(recorded)));
    }
}
