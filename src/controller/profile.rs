//! BillingProfile reconcile, the same pipeline as the invite's: [`observe`] whether the
//! credentials reach the right organization (and keep its handshake poller running), decide the
//! status ([`profile_status`], pure), act (stop the poller of a profile that is not Ready), and
//! [`record`] the status and the Ready/NotReady event.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::context::{organization_key, organization_key_of};
use super::{Context, Error, MANAGER};
use crate::api::{BillingProfile, BillingProfileStatus, InvitePhase};
use crate::aws::{AwsError, OrganizationInfo, ProfileClients};
use crate::reason::{EventReason, Reason};
use crate::reconcile::conditions;
use crate::reconcile::invite::EventNote;
use crate::reconcile::profile::{OrganizationCheck, profile_status};

const KIND: &str = "BillingProfile";

pub(super) async fn reconcile(profile: Arc<BillingProfile>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.time_reconcile(KIND);
    let name = profile.name_any();
    let check = observe(&profile, &ctx).await;
    let status = decide(&profile, &check, &ctx);
    let ready = conditions::is_true(&status.conditions, conditions::READY);
    if !ready {
        ctx.stop_poller(&profile);
    }
    record(&ctx, &profile, &status).await?;
    ctx.backoff.succeeded(&key(&name));
    let interval = ctx.config.poll_interval;
    Ok(Action::requeue(if ready {
        interval
    } else {
        interval.min(Duration::from_secs(60))
    }))
}

pub(super) fn error_policy(profile: Arc<BillingProfile>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(profile = %profile.name_any(), error = %error, "profile reconcile failed");
    ctx.config.metrics.reconcile_error(KIND, error.reason());
    Action::requeue(ctx.backoff.failed(key(&profile.name_any())))
}

fn key(name: &str) -> String {
    format!("profile/{name}")
}

/// Observe: connect, DescribeOrganization, and (when reached) the handshake poller and the
/// first sweep, whose failure to list handshakes makes the credentials not good enough.
async fn observe(profile: &BillingProfile, ctx: &Arc<Context>) -> OrganizationCheck {
    let name = profile.name_any();
    let clients = match ctx.connect(profile).await {
        Ok(clients) => clients,
        Err(e) => return failed(&e),
    };
    let info = match clients.describe_organization().await {
        Ok(info) => info,
        Err(e) => return failed(&e),
    };
    let organization = organization_key_of(profile, &info.id);
    sweep(&name, &organization, &clients, ctx).await;
    // DescribeOrganization works for any member account; listing the organization's
    // handshakes needs the management account. Credentials that cannot list are not ready,
    // whatever DescribeOrganization said.
    match ctx
        .observer
        .with_view(&organization, |v| v.last_error.clone())
        .flatten()
    {
        Some(e) if e.class.is_profile_level() => OrganizationCheck::Failed {
            reason: e.reason,
            message: format!(
                "The credentials reach organization {} but cannot list its handshakes \
                 (ListHandshakesForOrganization): {}",
                info.id, e.message
            ),
            retryable: false,
        },
        _ => reached(info),
    }
}

/// Keeps the profile's poller running and waits for its organization's first sweep (shared
/// with every reconcile waiting for it), so the budget and adoption are right from the start.
async fn sweep(name: &str, organization: &str, clients: &ProfileClients, ctx: &Arc<Context>) {
    ctx.ensure_poller(name, organization, clients).await;
    match ctx.observer.sync(organization, clients, ctx.now()).await {
        // This reconcile made the sweep: wake whom it names (every invite of the organization
        // after its first sweep; the poller does so for its own sweeps).
        Ok(changes) if !changes.is_empty() => ctx.wake_changed(organization, &changes),
        Ok(_) => {}
        Err(e) => tracing::warn!(profile = %name, error = %e, "first handshake sweep failed"),
    }
}

fn reached(info: OrganizationInfo) -> OrganizationCheck {
    OrganizationCheck::Reached {
        organization_id: info.id,
        management_account_id: info.management_account_id,
        management_account_email: info.management_account_email,
    }
}

fn failed(e: &AwsError) -> OrganizationCheck {
    OrganizationCheck::Failed {
        reason: e.reason(),
        message: e.message(),
        retryable: e.class().is_retryable(),
    }
}

/// Decide: the status from the check, the daily budget used and the queue.
fn decide(profile: &BillingProfile, check: &OrganizationCheck, ctx: &Context) -> BillingProfileStatus {
    let name = profile.name_any();
    let now = ctx.now();
    // The organization's invitations, whichever profile sent them.
    let organization = match check {
        OrganizationCheck::Reached { organization_id, .. } => organization_key_of(profile, organization_id),
        OrganizationCheck::Failed { .. } => organization_key(profile),
    };
    let sent = ctx
        .observer
        .with_view(&organization, |v| v.index.sent_in_last_24h(now))
        .unwrap_or_default();
    let queued = ctx
        .invites
        .state()
        .iter()
        .filter(|i| i.spec.billing_profile == name)
        .filter(|i| i.status.as_ref().and_then(|s| s.phase) == Some(InvitePhase::Queued))
        .count();
    let queued = u32::try_from(queued).unwrap_or(u32::MAX);
    let (current, generation) = (profile.status.as_ref(), profile.metadata.generation);
    profile_status(&profile.spec, current, check, sent, queued, generation, now)
}

/// Record: the one status write, and an event when Ready changes (or on the first check).
async fn record(ctx: &Context, profile: &BillingProfile, status: &BillingProfileStatus) -> Result<(), Error> {
    if super::status_changed(profile.status.as_ref(), status) {
        let api: Api<BillingProfile> = Api::all(ctx.client.clone());
        api.patch_status(
            &profile.name_any(),
            &PatchParams::apply(MANAGER),
            &Patch::Merge(json!({ "status": status })),
        )
        .await?;
    }
    let ready = conditions::is_true(&status.conditions, conditions::READY);
    let was_ready = profile
        .status
        .as_ref()
        .is_some_and(|s| conditions::is_true(&s.conditions, conditions::READY));
    if ready != was_ready || profile.status.is_none() {
        let condition = conditions::find(&status.conditions, conditions::READY);
        // The NotReady event carries the reason and its advice, not the condition's detail
        // (which may name the credentials Secret); `kubectl describe bp` shows the detail.
        let message = match condition {
            Some(c) if ready => c.message.clone(),
            Some(c) => match Reason::parse(&c.reason) {
                Some(reason) => format!("{reason}: {}", reason.advice()),
                None => c.reason.clone(),
            },
            None => String::new(),
        };
        let note = EventNote {
            warning: !ready,
            reason: if ready {
                EventReason::OrganizationReached
            } else {
                EventReason::NotReady
            },
            message,
        };
        ctx.publish(profile, &[note]).await;
    }
    Ok(())
}
