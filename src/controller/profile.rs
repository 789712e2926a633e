//! BillingProfile reconcile: check the credentials reach the right organization, keep the
//! handshake poller running, report the daily budget and the queue.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{Context, Error, MANAGER};
use crate::api::{BillingProfile, InvitePhase};
use crate::reconcile::conditions;
use crate::reconcile::invite::EventNote;
use crate::reconcile::profile::{OrganizationCheck, profile_status};

pub(super) async fn reconcile(profile: Arc<BillingProfile>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    ctx.config.metrics.reconcile("BillingProfile");
    let name = profile.name_any();
    let check = match ctx.connect(&profile).await {
        Err(e) => OrganizationCheck::Failed {
            reason: e.reason().to_owned(),
            message: e.message(),
            retryable: e.class().is_retryable(),
        },
        Ok(clients) => match clients.describe_organization().await {
            Ok(info) => {
                let check = OrganizationCheck::Reached {
                    organization_id: info.id.clone(),
                    management_account_id: info.management_account_id.clone(),
                    management_account_email: info.management_account_email.clone(),
                };
                ctx.ensure_poller(&name, &clients).await;
                if !ctx.observer.is_synced(&name) {
                    // The first sweep, so the budget and adoption are right from the start.
                    if let Err(e) = ctx.observer.refresh(&name, &clients, ctx.now()).await {
                        tracing::warn!(profile = %name, error = %e, "first handshake sweep failed");
                    }
                }
                // DescribeOrganization works for any member account; listing the organization's
                // handshakes needs the management account. Credentials that cannot list are not
                // ready, whatever DescribeOrganization said.
                match ctx.observer.with_view(&name, |v| v.last_error.clone()).flatten() {
                    Some(e) if e.class.is_profile_level() => OrganizationCheck::Failed {
                        reason: e.reason.to_owned(),
                        message: format!(
                            "The credentials reach organization {} but cannot list its handshakes \
                             (ListHandshakesForOrganization): {}",
                            info.id, e.message
                        ),
                        retryable: false,
                    },
                    _ => check,
                }
            }
            Err(e) => OrganizationCheck::Failed {
                reason: e.reason().to_owned(),
                message: e.message(),
                retryable: e.class().is_retryable(),
            },
        },
    };
    let now = ctx.now();
    let sent = ctx
        .observer
        .with_view(&name, |v| v.index.sent_in_last_24h(now))
        .unwrap_or_default();
    let queued = ctx
        .invites
        .state()
        .iter()
        .filter(|i| i.spec.billing_profile == name)
        .filter(|i| i.status.as_ref().and_then(|s| s.phase) == Some(InvitePhase::Queued))
        .count();
    let queued = u32::try_from(queued).unwrap_or(u32::MAX);
    let status = profile_status(
        &profile.spec,
        profile.status.as_ref(),
        &check,
        sent,
        queued,
        profile.metadata.generation,
        now,
    );
    let ready = conditions::is_true(&status.conditions, conditions::READY);
    if !ready {
        ctx.stop_poller(&name);
    }
    let was_ready = profile
        .status
        .as_ref()
        .is_some_and(|s| conditions::is_true(&s.conditions, conditions::READY));
    if profile.status.as_ref() != Some(&status) {
        let api: Api<BillingProfile> = Api::all(ctx.client.clone());
        api.patch_status(
            &name,
            &PatchParams::apply(MANAGER),
            &Patch::Merge(json!({ "status": status })),
        )
        .await?;
    }
    if ready != was_ready || profile.status.is_none() {
        let message = conditions::find(&status.conditions, conditions::READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        let note = EventNote {
            warning: !ready,
            reason: if ready { "OrganizationReached" } else { "NotReady" },
            message,
        };
        ctx.publish(profile.as_ref(), &[note]).await;
    }
    ctx.config
        .metrics
        .observe_reconcile_duration("BillingProfile", started.elapsed().as_secs_f64());
    ctx.succeeded(&format!("profile/{name}"));
    let interval = ctx.config.poll_interval;
    Ok(Action::requeue(if ready {
        interval
    } else {
        interval.min(Duration::from_secs(60))
    }))
}

pub(super) fn error_policy(profile: Arc<BillingProfile>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(profile = %profile.name_any(), error = %error, "profile reconcile failed");
    ctx.config.metrics.reconcile_error("BillingProfile", error.reason());
    Action::requeue(ctx.backoff(format!("profile/{}", profile.name_any())))
}
