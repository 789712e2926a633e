//! The BillingTransfer controller (docs/billing-transfer.md): observe → decide → act →
//! record.
//!
//! Observe: the profile (namespace access, readiness, clients) and the profile organization's
//! inbound transfers and transfer handshakes, from the per-profile transfer sweep
//! ([`TransferObserver`]: one ListInboundResponsibilityTransfers and one
//! ListHandshakesForOrganization per profile per poll interval, made by the profile's poller,
//! which wakes the transfers whose customer's transfers changed; no BillingTransfer polls AWS). Decide: [`decide_transfer`], pure. Act: at most one AWS call.
//! Record: one status write, events.
//!
//! Exactly once: a send happens under the profile's send lock, after a fresh sweep and a second
//! decision on it, so a transfer that an earlier run (or replica) sent and did not record is
//! adopted, never sent again; the transfer ID is written to status right after the call.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;

use super::claims::ClaimKey;
use super::finalizer::{self, Stage};
use super::parts::Pollers;
use super::{Context, Error, MANAGER};
use crate::api::{BillingProfile, BillingTransfer, BillingTransferStatus};
use crate::aws::{
    AwsError, ErrorClass, ProfileClients, TransferInvitation, TransferObserver, TransferTarget, TransferView,
    spawn_transfer_poller,
};
use crate::reason::{EventReason, Reason};
use crate::reconcile::conditions;
use crate::reconcile::invite::EventNote;
use crate::reconcile::profile::namespace_allowed;
use crate::reconcile::transfer::{
    AwsTransfer, AwsTransferStatus, TransferAction, TransferObservation, TransferPlan, TransferProfile, TransferReason,
    TransferStanding, decide_transfer, month_end, month_start, write_status,
};
use crate::telemetry::{Metrics, TransferOutcome};

/// The transfer controller's context: the shared one plus the transfer sweep.
pub struct TransferContext {
    /// Shared by every controller.
    pub base: Arc<Context>,
    /// Inbound transfers and transfer handshakes per profile, one sweep per poll interval.
    pub observer: TransferObserver,
    /// The running transfer pollers, one per profile that a BillingTransfer names.
    pub(super) pollers: Pollers,
    /// Where a poller sends (profile, customers whose transfers changed).
    pub wake: UnboundedSender<(String, Vec<String>)>,
    /// The BillingTransfers' cache (whether a claim's holder still exists).
    store: Store<BillingTransfer>,
}

impl TransferContext {
    /// A context around `base`; the pollers wake transfers through `wake`.
    pub fn new(
        base: Arc<Context>,
        wake: UnboundedSender<(String, Vec<String>)>,
        store: Store<BillingTransfer>,
    ) -> Self {
        Self {
            pollers: Pollers::new("transfer", base.poller_failures.clone()),
            base,
            store,
            observer: TransferObserver::new(),
            wake,
        }
    }

    /// Runs the profile's transfer poller (restarted when its connection changes).
    async fn ensure_poller(&self, profile: &str, clients: &ProfileClients) {
        let Some(key) = self.base.connection_key(profile).await else {
            return;
        };
        self.pollers.ensure(profile, key, |stop| {
            let clock = self.base.config.clock.clone();
            let wake = self.wake.clone();
            let name = profile.to_owned();
            spawn_transfer_poller(
                self.observer.clone(),
                profile.to_owned(),
                clients.clone(),
                self.base.config.poll_interval,
                stop,
                move || clock.now(),
                move |customers| {
                    let _ = wake.send((name.clone(), customers));
                },
            )
        });
    }

    /// Stops a profile's transfer poller and forgets its view (profile gone or not Ready).
    fn stop_poller(&self, profile: &str) {
        self.pollers.stop(profile);
        self.observer.forget(profile);
    }

    /// Stops every transfer poller (shutdown).
    pub(super) fn stop_pollers(&self) {
        self.pollers.stop_all();
    }
}

/// Whether `t` is one of `customers` (account IDs or lowercase emails) of `profile`: what a
/// poller's wake-up selects.
pub(super) fn woken_by(t: &BillingTransfer, profile: &str, customers: &[String]) -> bool {
    t.spec.billing_profile == profile
        && customers.iter().any(|c| {
            t.spec.management_account_id.as_deref() == Some(c.as_str())
                || t.spec.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(c))
        })
}

const KIND: &str = "BillingTransfer";

fn key(t: &BillingTransfer) -> String {
    format!("transfer/{}/{}", t.namespace().unwrap_or_default(), t.name_any())
}

pub(super) async fn reconcile(t: Arc<BillingTransfer>, ctx: Arc<TransferContext>) -> Result<Requeue, Error> {
    let _timer = ctx.base.time_reconcile(KIND);
    let namespace = t.namespace().ok_or(Error::Invalid {
        kind: KIND,
        what: "namespace",
    })?;
    let api: Api<BillingTransfer> = Api::namespaced(ctx.base.client.clone(), &namespace);
    let requeue = match finalizer::stage(t.as_ref()) {
        Stage::Add => finalizer::add(&api, t.as_ref())
            .await
            .map(|()| Requeue::await_change())?,
        Stage::Apply => run(t.clone(), &ctx, false).await?,
        Stage::Cleanup => {
            run(t.clone(), &ctx, true).await?;
            release_claim(&t, &ctx).await?;
            finalizer::remove(&api, t.as_ref()).await?;
            Requeue::await_change()
        }
        Stage::Done => Requeue::await_change(),
    };
    ctx.base.backoff.succeeded(&key(&t));
    Ok(requeue)
}

pub(super) fn error_policy(t: Arc<BillingTransfer>, error: &Error, ctx: Arc<TransferContext>) -> Requeue {
    let k = key(&t);
    tracing::warn!(transfer = %k, reason = error.reason(), error = %error, "billing transfer reconcile failed");
    ctx.base.config.metrics.reconcile_error(KIND, error.reason());
    Requeue::requeue(ctx.base.backoff.failed(k))
}

/// The transfer's claim on its customer in the profile's organization (docs/security.md,
/// "Account claims"); `None` before the profile's status names its organization.
fn claim_key(t: &BillingTransfer, profile: &BillingProfile) -> Option<ClaimKey> {
    let organization_id = profile.status.as_ref()?.organization_id.as_deref()?;
    let customer = t.spec.management_account_id.as_deref().or(t.spec.email.as_deref())?;
    Some(ClaimKey::transfer_customer(organization_id, customer))
}

/// The customer a transfer claims (any case; [`ClaimKey::subject`] is its lowercase form).
fn claim_subject(t: &BillingTransfer) -> Option<&str> {
    t.spec.management_account_id.as_deref().or(t.spec.email.as_deref())
}

/// After a deleted transfer's cleanup: releases its claim, if it held it, and wakes the
/// transfers naming the same customer (one of them may own it now).
async fn release_claim(t: &BillingTransfer, ctx: &TransferContext) -> Result<(), Error> {
    let Some(profile) = ctx
        .base
        .profiles
        .get(&ObjectRef::<BillingProfile>::new(&t.spec.billing_profile))
    else {
        return Ok(());
    };
    let Some(claim) = claim_key(t, &profile) else {
        return Ok(());
    };
    if ctx.base.claims.release(&claim, t).await? {
        // Only where another transfer waits on the claim: a wake names (profile, customer), so
        // it also reaches this transfer, whose cached copy may still show it being deleted.
        let waiting: BTreeSet<String> = ctx
            .store
            .state()
            .iter()
            .filter(|other| {
                other.uid() != t.uid() && claim_subject(other).is_some_and(|c| c.eq_ignore_ascii_case(&claim.subject))
            })
            .map(|other| other.spec.billing_profile.clone())
            .collect();
        for profile in waiting {
            let _ = ctx.wake.send((profile, vec![claim.subject.clone()]));
        }
    }
    Ok(())
}

/// The profile as this transfer sees it, and its clients when Ready.
async fn profile_of(
    t: &BillingTransfer,
    ctx: &TransferContext,
) -> Result<(TransferProfile, Option<ProfileClients>), Error> {
    let name = &t.spec.billing_profile;
    let Some(profile) = ctx.base.profiles.get(&ObjectRef::<BillingProfile>::new(name)) else {
        return Ok((TransferProfile::Missing, None));
    };
    let namespace = t.namespace().unwrap_or_default();
    let labels = if profile.spec.allowed_namespaces.selector.is_some() {
        let namespaces: Api<Namespace> = Api::all(ctx.base.client.clone());
        namespaces.get(&namespace).await?.metadata.labels.unwrap_or_default()
    } else {
        Default::default()
    };
    if !namespace_allowed(&profile.spec.allowed_namespaces, name, &namespace, &labels) {
        return Ok((TransferProfile::NotAllowed { namespace }, None));
    }
    let status = profile.status.clone().unwrap_or_default();
    let ready = conditions::find(&status.conditions, conditions::READY);
    if ready.is_none_or(|c| c.status != "True") {
        let message = ready.map_or_else(|| Reason::NotChecked.to_string(), |c| c.reason.clone());
        return Ok((TransferProfile::NotReady { message }, None));
    }
    if let Some(claim) = claim_key(t, &profile)
        && !ctx.base.claims.claim(&claim, t, &ctx.store).await?
    {
        // Another transfer owns this customer here: nothing about it is read or done.
        return Ok((TransferProfile::Claimed, None));
    }
    match ctx.base.connect(&profile).await {
        Ok(c) => Ok((TransferProfile::Ready, Some(c))),
        Err(e) => Ok((
            TransferProfile::NotReady {
                message: e.reason().to_string(),
            },
            None,
        )),
    }
}

/// The profile's transfer view: the poller's last sweep (waiting for the first one), or a
/// sweep made now when `fresh` (under the send lock, before deciding to send).
async fn transfers(
    ctx: &TransferContext,
    profile: &str,
    clients: &ProfileClients,
    fresh: bool,
) -> Result<TransferView, AwsError> {
    let now = ctx.base.now();
    if fresh {
        ctx.observer.refresh(profile, clients, now).await?;
    } else {
        ctx.observer.sync(profile, clients, now).await?;
    }
    Ok(ctx.observer.view(profile).unwrap_or_default())
}

/// Splits the sweep into the recorded transfer and an adoption candidate: the newest
/// requested or accepted transfer to this customer that is not the recorded one.
fn observe_transfers(t: &BillingTransfer, list: &[AwsTransfer]) -> (Option<AwsTransfer>, Option<AwsTransfer>) {
    let recorded_id = t
        .status
        .as_ref()
        .and_then(|s| s.transfer.as_ref())
        .map(|r| r.id.clone());
    let recorded = recorded_id
        .as_deref()
        .and_then(|id| list.iter().find(|x| x.id == id).cloned());
    let adoptable = list
        .iter()
        .filter(|x| Some(x.id.as_str()) != recorded_id.as_deref())
        .filter(|x| matches!(x.status, AwsTransferStatus::Requested | AwsTransferStatus::Accepted))
        .filter(|x| x.is_to(t.spec.management_account_id.as_deref(), t.spec.email.as_deref()))
        .max_by_key(|x| x.start)
        .cloned();
    (recorded, adoptable)
}

fn decide(
    t: &BillingTransfer,
    status: &BillingTransferStatus,
    profile: TransferProfile,
    list: &[AwsTransfer],
    deleting: bool,
    now: Timestamp,
) -> TransferPlan {
    let (recorded, adoptable) = observe_transfers(t, list);
    decide_transfer(&TransferObservation {
        spec: &t.spec,
        status,
        profile,
        recorded,
        adoptable,
        deleting,
        now,
    })
}

async fn run(t: Arc<BillingTransfer>, ctx: &TransferContext, deleting: bool) -> Result<Requeue, Error> {
    let profile_name = t.spec.billing_profile.clone();
    let mut status = t.status.clone().unwrap_or_default();
    let (profile, clients) = profile_of(&t, ctx).await?;
    let mut view = match &clients {
        Some(c) => {
            ctx.ensure_poller(&profile_name, c).await;
            match transfers(ctx, &profile_name, c, false).await {
                Ok(v) => v,
                Err(e) => return aws_unavailable(&t, ctx, status, e).await,
            }
        }
        None => {
            if matches!(profile, TransferProfile::Missing | TransferProfile::NotReady { .. }) {
                ctx.stop_poller(&profile_name);
            }
            TransferView::default()
        }
    };
    let mut plan = decide(&t, &status, profile.clone(), &view.transfers, deleting, ctx.base.now());
    let refused_this_generation = conditions::find(&status.conditions, conditions::STALLED).is_some_and(|c| {
        c.status == "True"
            && c.reason == TransferReason::InvitationRefused.as_str()
            && c.observed_generation == t.metadata.generation
    });
    if refused_this_generation && matches!(plan.action, Some(TransferAction::Send { .. })) {
        // AWS refused this spec's invitation: not again until the spec changes.
        return Ok(Requeue::await_change());
    }
    let mut events = Vec::new();
    let mut result: Option<AwsTransfer> = None;

    if let (Some(action), Some(clients)) = (plan.action.clone(), clients.as_ref()) {
        match action {
            TransferAction::Send { .. } => {
                // Exactly once: decide again on a fresh sweep under the profile's send lock.
                let _guard = ctx.base.send_locks.lock(&profile_name).await;
                view = match transfers(ctx, &profile_name, clients, true).await {
                    Ok(v) => v,
                    Err(e) => return aws_unavailable(&t, ctx, status, e).await,
                };
                plan = decide(&t, &status, profile, &view.transfers, deleting, ctx.base.now());
                if let Some(TransferAction::Send { start }) = plan.action.clone() {
                    match send(&t, clients, start, ctx).await {
                        Ok(sent) => {
                            status.attempts = status.attempts.saturating_add(1);
                            status.last_invited_at = Some(Time(ctx.base.now()));
                            ctx.base.config.metrics.transfer_invitation_sent(&profile_name);
                            events.push(EventNote {
                                warning: false,
                                reason: EventReason::InvitationSent,
                                message: format!(
                                    "Sent billing transfer invitation {} for {start} ({})",
                                    sent.handshake_id.clone().unwrap_or_default(),
                                    sent.id
                                ),
                            });
                            result = Some(sent);
                        }
                        Err(e) if e.class() == ErrorClass::Retryable => {
                            return aws_unavailable(&t, ctx, status, e).await;
                        }
                        Err(e) => {
                            plan.standing = TransferStanding::Stalled {
                                reason: TransferReason::InvitationRefused,
                                message: format!(
                                    "AWS refused the billing transfer invitation ({}): {}; change the spec to try again",
                                    e.reason(),
                                    e.message()
                                ),
                            };
                            plan.action = None;
                            events.push(EventNote {
                                warning: true,
                                reason: EventReason::InvitationRefused,
                                message: format!("AWS refused the billing transfer invitation: {}", e.message()),
                            });
                        }
                    }
                }
            }
            TransferAction::Rename { transfer_id, name } => match clients.rename_transfer(&transfer_id, &name).await {
                Ok(x) => {
                    events.push(EventNote {
                        warning: false,
                        reason: EventReason::Renamed,
                        message: format!("Renamed transfer {transfer_id} to {name:?}"),
                    });
                    result = Some(x);
                }
                Err(e) => return aws_unavailable(&t, ctx, status, e).await,
            },
            TransferAction::Withdraw { transfer_id, end } => {
                match clients.withdraw_transfer(&transfer_id, month_end(end)).await {
                    Ok(x) => {
                        events.push(EventNote {
                            warning: false,
                            reason: EventReason::Withdrawn,
                            message: format!("Withdrew transfer {transfer_id}; it ends {}", month_end(end)),
                        });
                        result = Some(x);
                    }
                    Err(e) => return aws_unavailable(&t, ctx, status, e).await,
                }
            }
            TransferAction::Cancel { handshake_id } => match clients.cancel_handshake(&handshake_id).await {
                Ok(_) => {
                    ctx.base
                        .config
                        .metrics
                        .transfer_invitation_ended(&profile_name, TransferOutcome::Canceled);
                    events.push(EventNote {
                        warning: false,
                        reason: EventReason::Canceled,
                        message: format!("Canceled the unanswered billing transfer invitation {handshake_id}"),
                    });
                }
                Err(e) if e.is_handshake_gone() => {}
                Err(e) => return aws_unavailable(&t, ctx, status, e).await,
            },
        }
    }

    if deleting {
        ctx.base.publish(t.as_ref(), &events).await;
        return Ok(Requeue::await_change());
    }
    if let Some(x) = result {
        // Decide again on what AWS answered, so the status says where it stands now.
        ctx.observer.record(&profile_name, x.clone(), None);
        view = ctx.observer.view(&profile_name).unwrap_or_default();
        let mut recorded = status.clone();
        recorded.transfer = Some(crate::reconcile::transfer::record_of(&x));
        plan = decide(
            &t,
            &recorded,
            TransferProfile::Ready,
            &view.transfers,
            false,
            ctx.base.now(),
        );
        plan.action = None;
        status = recorded;
    } else if plan.adopted {
        status.attempts = status.attempts.saturating_add(1);
        events.push(EventNote {
            warning: false,
            reason: EventReason::Adopted,
            message: "Adopted a billing transfer invitation an earlier run sent".to_owned(),
        });
    }
    let transitions = transition_events(&t, &plan, &view);
    for note in &transitions {
        let outcome = match note.reason {
            EventReason::Accepted => Some(TransferOutcome::Accepted),
            EventReason::Declined => Some(TransferOutcome::Declined),
            EventReason::Expired => Some(TransferOutcome::Expired),
            EventReason::Canceled => Some(TransferOutcome::Canceled),
            _ => None,
        };
        if let Some(outcome) = outcome {
            ctx.base
                .config
                .metrics
                .transfer_invitation_ended(&profile_name, outcome);
        }
    }
    events.extend(transitions);
    write_status(&mut status, &plan, t.metadata.generation, ctx.base.now());
    with_swept_handshake(&mut status, &view);
    store(ctx, &t, &status).await?;
    ctx.base.publish(t.as_ref(), &events).await;
    let poll = ctx.base.config.poll_interval;
    Ok(match &plan.standing {
        TransferStanding::Stalled { .. } => Requeue::requeue(poll.max(Duration::from_secs(60))),
        _ => Requeue::requeue(
            plan.requeue_after
                .map_or(poll, |r| r.min(poll))
                .max(Duration::from_secs(1)),
        ),
    })
}

/// Updates the BillingTransfers-by-phase gauge every few seconds, until `shutdown`.
pub(super) async fn report_gauges(
    store: Store<BillingTransfer>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        let mut phases: BTreeMap<String, i64> = BTreeMap::new();
        for t in store.state() {
            let phase = t.status.as_ref().and_then(|s| s.phase).unwrap_or_default();
            *phases.entry(format!("{phase:?}")).or_default() += 1;
        }
        metrics.set_transfer_phases(&phases);
    }
}

/// Events for a change of the AWS transfer's status since the last recorded one: the recorded
/// transfer as the sweep lists it now (e.g. EXPIRED, even when a re-invitation replaces it in
/// the same pass), else the one the plan records (adopted).
fn transition_events(t: &BillingTransfer, plan: &TransferPlan, view: &TransferView) -> Vec<EventNote> {
    let before = t.status.as_ref().and_then(|s| s.transfer.as_ref());
    let listed = before.and_then(|b| view.transfers.iter().find(|x| x.id == b.id));
    let Some(now) = listed.or(plan.transfer.as_ref()) else {
        return Vec::new();
    };
    if before.is_some_and(|b| b.id == now.id && b.status == now.status.as_str()) {
        return Vec::new();
    }
    let (warning, reason) = match now.status {
        AwsTransferStatus::Accepted => (false, EventReason::Accepted),
        AwsTransferStatus::Declined => (true, EventReason::Declined),
        AwsTransferStatus::Expired => (true, EventReason::Expired),
        AwsTransferStatus::Canceled => (true, EventReason::Canceled),
        AwsTransferStatus::Withdrawn => (false, EventReason::Withdrawn),
        AwsTransferStatus::Requested => return Vec::new(),
    };
    vec![EventNote {
        warning,
        reason,
        message: format!("Transfer {} is {}", now.id, now.status.as_str()),
    }]
}

async fn send(
    t: &BillingTransfer,
    clients: &ProfileClients,
    start: crate::api::Month,
    ctx: &TransferContext,
) -> Result<AwsTransfer, AwsError> {
    let target = match (&t.spec.management_account_id, &t.spec.email) {
        (Some(a), _) => TransferTarget::Account(a.clone()),
        (None, Some(e)) => TransferTarget::Email(e.clone()),
        (None, None) => {
            return Err(AwsError::local(
                "InviteOrganizationToTransferResponsibility",
                ErrorClass::Terminal,
                Reason::InvalidInput,
                "set managementAccountId or email".to_owned(),
            ));
        }
    };
    let inv = TransferInvitation {
        target,
        start: month_start(start),
        name: &t.spec.name,
        notes: t.spec.notes.as_deref(),
        tags: &t.spec.tags,
    };
    match clients.invite_transfer(&inv).await {
        Ok((handshake, Some(id))) => {
            // What AWS answered goes into the view at once (the next sweep adds the ARN).
            let sent = AwsTransfer {
                id,
                arn: None,
                name: t.spec.name.clone(),
                status: AwsTransferStatus::Requested,
                start: inv.start,
                end: None,
                handshake_id: Some(handshake.id.clone()),
                source_account_id: t.spec.management_account_id.clone(),
                source_email: t.spec.email.clone(),
            };
            ctx.observer
                .record(&t.spec.billing_profile, sent.clone(), Some(handshake));
            Ok(sent)
        }
        Ok((_, None)) => Err(AwsError::local(
            "InviteOrganizationToTransferResponsibility",
            ErrorClass::Retryable,
            Reason::AwsUnavailable,
            "AWS returned a handshake without its transfer".to_owned(),
        )),
        Err(e) if e.is_duplicate_handshake() => {
            // An open invitation exists: adopt it from a fresh sweep.
            let listed = transfers(ctx, &t.spec.billing_profile, clients, true).await?;
            let (_, adoptable) = observe_transfers(t, &listed.transfers);
            adoptable.ok_or(e)
        }
        Err(e) => Err(e),
    }
}

/// The recorded handshake as the sweep listed it (ARN, state, when sent and when it expires).
fn with_swept_handshake(status: &mut BillingTransferStatus, view: &TransferView) {
    let Some(recorded) = status.handshake.as_mut() else {
        return;
    };
    let Some(h) = view.handshakes.get(&recorded.id) else {
        return;
    };
    // What the answer omits (every Handshake member is optional in the model) stays as recorded.
    if let Some(arn) = &h.arn {
        recorded.arn = Some(arn.clone());
    }
    recorded.state = h.state.as_str().to_owned();
    if let Some(t) = h.requested_at {
        recorded.requested_at = Some(Time(t));
    }
    if let Some(t) = h.expires_at {
        recorded.expires_at = Some(Time(t));
    }
}

/// AWS could not be reached: Reconciling with the reason, retry with backoff.
async fn aws_unavailable(
    t: &BillingTransfer,
    ctx: &TransferContext,
    mut status: BillingTransferStatus,
    e: AwsError,
) -> Result<Requeue, Error> {
    let now = ctx.base.now();
    let g = t.metadata.generation;
    let message = format!("AWS call failed, retrying: {}", e.message());
    conditions::set(
        &mut status.conditions,
        conditions::RECONCILING,
        true,
        e.reason(),
        &message,
        g,
        now,
    );
    conditions::set(
        &mut status.conditions,
        conditions::STALLED,
        false,
        Reason::Progressing,
        &message,
        g,
        now,
    );
    store(ctx, t, &status).await?;
    Err(Error::Aws(e))
}

async fn store(ctx: &TransferContext, t: &BillingTransfer, status: &BillingTransferStatus) -> Result<(), Error> {
    if !super::status_changed(t.status.as_ref(), status) {
        return Ok(());
    }
    let api: Api<BillingTransfer> = Api::namespaced(ctx.base.client.clone(), &t.namespace().unwrap_or_default());
    api.patch_status(
        &t.name_any(),
        &PatchParams::apply(MANAGER),
        &Patch::Merge(json!({ "status": status })),
    )
    .await?;
    Ok(())
}
