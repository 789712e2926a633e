//! AwsAccountInvite reconcile: observe (profile, handshake index, membership, IAM), decide
//! ([`crate::reconcile::invite::decide`]), act (send, cancel), record (status, events).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{Context, Error, FINALIZER, MANAGER};
use crate::api::{
    AwsAccountInvite, AwsAccountInviteStatus, BillingProfile, DEFAULT_MEMBER_ACCESS_ROLE, DeletionPolicy,
    IAM_ACCESS_CONFIRMED_ANNOTATION, IAM_ACCESS_CONFIRMED_BY_ANNOTATION, REINVITE_ANNOTATION,
};
use crate::aws::{self, AwsError, ErrorClass, HandshakeState, ProfileClients};
use crate::reconcile::conditions;
use crate::reconcile::invite::{
    Action, Decision, EventNote, IamCheck, Need, Observation, ProfileView, SendFailure, decide, record_send_failure,
    record_sent,
};
use crate::reconcile::profile::{budget_left, namespace_allowed};

pub(super) async fn reconcile(invite: Arc<AwsAccountInvite>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let started = std::time::Instant::now();
    ctx.config.metrics.reconcile("AwsAccountInvite");
    let namespace = invite.namespace().ok_or(Error::Invalid {
        kind: "AwsAccountInvite",
        what: "namespace",
    })?;
    let api: Api<AwsAccountInvite> = Api::namespaced(ctx.client.clone(), &namespace);
    let key = format!("invite/{namespace}/{}", invite.name_any());
    let result = finalizer(&api, FINALIZER, invite, |event| async {
        match event {
            Finalizer::Apply(invite) => apply(invite, &ctx).await,
            Finalizer::Cleanup(invite) => cleanup(invite, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.config
        .metrics
        .observe_reconcile_duration("AwsAccountInvite", started.elapsed().as_secs_f64());
    if result.is_ok() {
        ctx.succeeded(&key);
    }
    result
}

pub(super) fn error_policy(invite: Arc<AwsAccountInvite>, error: &Error, ctx: Arc<Context>) -> Requeue {
    let key = format!(
        "invite/{}/{}",
        invite.namespace().unwrap_or_default(),
        invite.name_any()
    );
    tracing::warn!(invite = %key, reason = error.reason(), error = %error, "invite reconcile failed");
    ctx.config.metrics.reconcile_error("AwsAccountInvite", error.reason());
    Requeue::requeue(ctx.backoff(key))
}

/// What the profile looks like from this invite, and its clients when Ready.
async fn profile_view(
    invite: &AwsAccountInvite,
    ctx: &Context,
) -> Result<(ProfileView, Option<(Arc<BillingProfile>, ProfileClients)>), Error> {
    let name = &invite.spec.billing_profile;
    let Some(profile) = ctx.profiles.get(&kube::runtime::reflector::ObjectRef::new(name)) else {
        return Ok((ProfileView::Missing, None));
    };
    let namespace = invite.namespace().unwrap_or_default();
    let needs_labels = profile.spec.allowed_namespaces.selector.is_some();
    let labels = if needs_labels {
        let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
        namespaces.get(&namespace).await?.metadata.labels.unwrap_or_default()
    } else {
        Default::default()
    };
    if !namespace_allowed(&profile.spec.allowed_namespaces, name, &namespace, &labels) {
        return Ok((ProfileView::NotAllowed { namespace }, None));
    }
    let status = profile.status.clone().unwrap_or_default();
    let ready = conditions::find(&status.conditions, conditions::READY);
    if ready.is_none_or(|c| c.status != "True") {
        let (reason, message) = ready.map(|c| (c.reason.clone(), c.message.clone())).unwrap_or_else(|| {
            (
                "NotChecked".to_owned(),
                "the operator has not checked it yet".to_owned(),
            )
        });
        return Ok((ProfileView::NotReady { reason, message }, None));
    }
    let clients = match ctx.connect(&profile).await {
        Ok(c) => c,
        Err(e) => {
            return Ok((
                ProfileView::NotReady {
                    reason: e.reason().to_owned(),
                    message: e.message(),
                },
                None,
            ));
        }
    };
    if !ctx.observer.is_synced(name) {
        // Never decide to send before the organization's handshakes are known: an invitation
        // sent by an earlier run is adopted, not sent again.
        ctx.observer.refresh(name, &clients, ctx.now()).await?;
    }
    let now = ctx.now();
    let (sent, frees_at) = ctx
        .observer
        .with_view(name, |v| {
            (v.index.sent_in_last_24h(now), v.index.next_quota_release(now))
        })
        .unwrap_or_default();
    let view = ProfileView::Ready {
        organization_id: status.organization_id.clone().unwrap_or_default(),
        budget_left: budget_left(&profile.spec, sent),
        budget_frees_at: frees_at,
    };
    Ok((view, Some((profile, clients))))
}

async fn apply(invite: Arc<AwsAccountInvite>, ctx: &Context) -> Result<Requeue, Error> {
    let spec = &invite.spec;
    let status = invite.status.clone().unwrap_or_default();
    let annotations = invite.annotations();
    let (view, connection) = profile_view(&invite, ctx).await?;
    let profile_name = spec.billing_profile.as_str();

    let mut recorded_handshake = None;
    let mut pending_for_account = None;
    if connection.is_some() {
        ctx.observer.with_view(profile_name, |v| {
            recorded_handshake = status.handshake.as_ref().and_then(|h| v.index.get(&h.id).cloned());
            pending_for_account = v.index.pending_for_account(&spec.account_id).cloned();
        });
    }
    if let (Some((_, clients)), Some(h), None) = (&connection, &status.handshake, &recorded_handshake)
        && HandshakeState::parse(&h.state).is_some_and(|s| s.is_pending())
    {
        // Recorded but not in the index (older than the sweep, or listed no more): ask AWS.
        match clients.describe_handshake(&h.id).await {
            Ok(found) => recorded_handshake = Some(found),
            Err(e) if e.is_handshake_gone() => {}
            Err(e) => return Err(e.into()),
        }
    }

    let iam_confirmed = annotations
        .get(IAM_ACCESS_CONFIRMED_ANNOTATION)
        .filter(|v| v.as_str() == "true")
        .map(|_| confirmed_by(&invite));
    let profile_verification = connection
        .as_ref()
        .and_then(|(p, _)| p.spec.iam_access.as_ref().and_then(|i| i.verification));
    let mut obs = Observation {
        spec,
        status: &status,
        generation: invite.metadata.generation,
        reinvite_request: annotations.get(REINVITE_ANNOTATION).map(String::as_str),
        iam_confirmed,
        profile: view,
        profile_verification,
        membership: None,
        recorded_handshake,
        pending_for_account,
        iam: None,
        now: ctx.now(),
    };
    let mut plan = loop {
        match decide(&obs) {
            Decision::Act(plan) => break plan,
            Decision::Observe(need) => {
                let Some((profile, clients)) = &connection else {
                    return Err(Error::Invalid {
                        kind: "AwsAccountInvite",
                        what: "ready billing profile",
                    });
                };
                match need {
                    Need::Membership => {
                        let fresh = obs
                            .recorded_handshake
                            .as_ref()
                            .is_some_and(|h| h.state == HandshakeState::Accepted);
                        obs.membership = Some(ctx.membership(profile_name, clients, &spec.account_id, fresh).await?);
                    }
                    Need::IamAccess => obs.iam = Some(check_iam(&invite, profile, clients, ctx).await?),
                }
            }
        }
    };

    // Act.
    let mut failure = None;
    if let Action::SendInvitation { reinvite_request } | Action::CancelAndResend { reinvite_request, .. } =
        plan.action.clone()
        && let Some((profile, clients)) = &connection
    {
        let lock = ctx.send_lock(profile_name);
        let _guard = lock.lock().await;
        let now = ctx.now();
        let sent = ctx
            .observer
            .with_view(profile_name, |v| v.index.sent_in_last_24h(now))
            .unwrap_or_default();
        let still_pending = ctx
            .observer
            .with_view(profile_name, |v| v.index.pending_for_account(&spec.account_id).cloned())
            .flatten();
        let cancel = match &plan.action {
            Action::CancelAndResend { handshake_id, .. } => Some(handshake_id.clone()),
            _ => None,
        };
        if budget_left(&profile.spec, sent) == 0
            || still_pending.as_ref().is_some_and(|p| Some(&p.id) != cancel.as_ref())
        {
            // Another reconcile used the budget or sent meanwhile: decide again with what is known now.
            if let ProfileView::Ready { budget_left: left, .. } = &mut obs.profile {
                *left = budget_left(&profile.spec, sent);
            }
            obs.pending_for_account = still_pending;
            obs.now = now;
            if let Decision::Act(again) = decide(&obs)
                && !matches!(
                    again.action,
                    Action::SendInvitation { .. } | Action::CancelAndResend { .. }
                )
            {
                plan = again;
            }
        } else {
            let outcome = send(ctx, clients, profile_name, &invite, cancel.as_deref()).await;
            match outcome {
                Ok(handshake) => {
                    ctx.observer.record_sent(profile_name, handshake.clone());
                    ctx.forget_membership(profile_name, &spec.account_id);
                    ctx.config.metrics.invitation_sent(profile_name);
                    let event = record_sent(
                        &mut plan.status,
                        spec,
                        invite.metadata.generation,
                        &handshake,
                        reinvite_request,
                        now,
                    );
                    plan.events.push(event);
                    plan.requeue_after = Some(Duration::from_secs(3600));
                }
                Err(e) if e.is_duplicate_handshake() => {
                    // An invitation is already open (sent by an earlier run): adopt it next time.
                    ctx.observer.refresh(profile_name, clients, ctx.now()).await?;
                    plan.requeue_after = Some(Duration::from_millis(200));
                }
                Err(e) => {
                    // The invitation may have reached AWS with its reply lost: list before any retry.
                    if e.class().is_retryable() {
                        let _ = ctx.observer.refresh(profile_name, clients, ctx.now()).await;
                    }
                    let (event, requeue) = record_send_failure(
                        &mut plan.status,
                        spec,
                        invite.metadata.generation,
                        &send_failure(&e),
                        now,
                    );
                    plan.events.push(event);
                    plan.requeue_after = requeue;
                    if e.class().is_retryable() {
                        failure = Some(e);
                    }
                }
            }
        }
    }

    // Record.
    write_status(ctx, &invite, &plan.status).await?;
    ctx.publish(invite.as_ref(), &plan.events).await;
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok(match plan.requeue_after {
        Some(after) => Requeue::requeue(after),
        None => Requeue::await_change(),
    })
}

/// Cancels `cancel` (when resending) and sends the invitation.
async fn send(
    ctx: &Context,
    clients: &ProfileClients,
    profile: &str,
    invite: &AwsAccountInvite,
    cancel: Option<&str>,
) -> Result<aws::Handshake, AwsError> {
    if let Some(id) = cancel {
        match clients.cancel_handshake(id).await {
            Ok(canceled) => ctx.observer.record_sent(profile, canceled),
            // Already ended (accepted, expired, canceled) or gone: nothing left to cancel.
            Err(e) if e.is_handshake_gone() || e.class() == ErrorClass::Terminal => {}
            Err(e) => return Err(e),
        }
    }
    clients
        .invite_account(&invite.spec.account_id, invite.spec.notes.as_deref(), &invite.spec.tags)
        .await
}

fn send_failure(e: &AwsError) -> SendFailure {
    let (reason, message) = (e.reason().to_owned(), e.message());
    match e.class() {
        ErrorClass::Retryable => SendFailure::Retryable { reason, message },
        ErrorClass::Quota {
            reason: "QuotaExhausted",
        } => SendFailure::DailyQuota { message },
        ErrorClass::Quota { .. } | ErrorClass::Terminal => SendFailure::Terminal { reason, message },
        ErrorClass::Profile => SendFailure::Profile { reason, message },
    }
}

async fn check_iam(
    invite: &AwsAccountInvite,
    profile: &BillingProfile,
    clients: &ProfileClients,
    ctx: &Context,
) -> Result<IamCheck, Error> {
    let Some(iam) = &invite.spec.iam_access else {
        return Ok(IamCheck::Verified);
    };
    let external_id = match (&iam.external_id, &iam.external_id_secret_ref) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(secret_ref)) => {
            let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &invite.namespace().unwrap_or_default());
            let secret = match secrets.get_opt(&secret_ref.name).await? {
                Some(s) => s,
                None => {
                    return Ok(IamCheck::Missing {
                        reason: "ExternalIdSecretNotFound".to_owned(),
                        message: format!(
                            "Secret {:?} named by spec.iamAccess.externalIdSecretRef does not exist",
                            secret_ref.name
                        ),
                    });
                }
            };
            match secret.data.unwrap_or_default().get(&secret_ref.key) {
                Some(v) => Some(String::from_utf8_lossy(&v.0).trim().to_owned()),
                None => {
                    return Ok(IamCheck::Missing {
                        reason: "ExternalIdSecretNotFound".to_owned(),
                        message: format!("Secret {:?} has no key {:?}", secret_ref.name, secret_ref.key),
                    });
                }
            }
        }
        (None, None) => None,
    };
    let member_role = profile
        .spec
        .iam_access
        .as_ref()
        .and_then(|i| i.member_access_role_name.clone())
        .unwrap_or_else(|| DEFAULT_MEMBER_ACCESS_ROLE.to_owned());
    let check = aws::verify_member_role(
        clients,
        &invite.spec.account_id,
        &member_role,
        &iam.role_name,
        &iam.trusted_principal,
        external_id.as_deref(),
    )
    .await?;
    Ok(match check {
        aws::IamCheck::Verified => IamCheck::Verified,
        aws::IamCheck::Missing { reason, message } => IamCheck::Missing {
            reason: reason.to_owned(),
            message,
        },
    })
}

/// Who last set the IAM confirmation annotation, from managedFields (best effort).
/// Who confirmed IAM access: the confirmed-by annotation (admission-checked, see
/// [`IAM_ACCESS_CONFIRMED_BY_ANNOTATION`]), else the field manager that set the confirmation.
fn confirmed_by(invite: &AwsAccountInvite) -> Option<String> {
    if let Some(user) = invite
        .annotations()
        .get(IAM_ACCESS_CONFIRMED_BY_ANNOTATION)
        .filter(|u| !u.is_empty())
    {
        return Some(user.clone());
    }
    let needle = format!("f:{IAM_ACCESS_CONFIRMED_ANNOTATION}");
    invite
        .metadata
        .managed_fields
        .as_ref()?
        .iter()
        .rev()
        .find(|f| f.fields_v1.as_ref().is_some_and(|v| v.0.to_string().contains(&needle)))
        .and_then(|f| f.manager.clone())
}

async fn write_status(ctx: &Context, invite: &AwsAccountInvite, status: &AwsAccountInviteStatus) -> Result<(), Error> {
    if invite.status.as_ref() == Some(status) {
        return Ok(());
    }
    let api: Api<AwsAccountInvite> = Api::namespaced(ctx.client.clone(), &invite.namespace().unwrap_or_default());
    api.patch_status(
        &invite.name_any(),
        &PatchParams::apply(MANAGER),
        &Patch::Merge(json!({ "status": status })),
    )
    .await?;
    Ok(())
}

/// Deletion: cancel an open invitation (CancelPending), then let the finalizer go.
async fn cleanup(invite: Arc<AwsAccountInvite>, ctx: &Context) -> Result<Requeue, Error> {
    let Some(handshake) = invite.status.as_ref().and_then(|s| s.handshake.clone()) else {
        return Ok(Requeue::await_change());
    };
    if invite.spec.deletion_policy == DeletionPolicy::Orphan {
        return Ok(Requeue::await_change());
    }
    let pending = HandshakeState::parse(&handshake.state).is_some_and(|s| s.is_pending());
    if !pending {
        return Ok(Requeue::await_change());
    }
    let (_, connection) = profile_view(&invite, ctx).await?;
    let Some((_, clients)) = connection else {
        let note = EventNote {
            warning: true,
            reason: "CancelSkipped",
            message: format!(
                "Invitation {} could not be canceled: billing profile {:?} is missing or not ready; cancel it in the \
                 AWS Organizations console",
                handshake.id, invite.spec.billing_profile
            ),
        };
        ctx.publish(invite.as_ref(), &[note]).await;
        return Ok(Requeue::await_change());
    };
    match clients.cancel_handshake(&handshake.id).await {
        Ok(canceled) => {
            ctx.observer.record_sent(&invite.spec.billing_profile, canceled);
            let note = EventNote {
                warning: false,
                reason: "Canceled",
                message: format!("Invitation {} canceled because the invite was deleted", handshake.id),
            };
            ctx.publish(invite.as_ref(), &[note]).await;
        }
        Err(e) if e.is_handshake_gone() || e.class() == ErrorClass::Terminal => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Requeue::await_change())
}
