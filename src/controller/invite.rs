//! AwsAccountInvite reconcile, one pipeline read top to bottom (docs/architecture.md,
//! "Reconcile pipeline"): [`observe`] gathers what the decision needs, [`decide_fully`] runs the
//! pure [`decide`] (observing on demand what it asks for), [`act`] performs the plan's one AWS
//! action under the profile's send lock, and [`record`] writes the status and the events.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action as Requeue;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::claims::ClaimKey;
use super::context::organization_key;
use super::finalizer::{self, Stage};
use super::{Context, Error, MANAGER};
use crate::api::{
    AwsAccountInvite, AwsAccountInviteStatus, BillingProfile, DEFAULT_MEMBER_ACCESS_ROLE, DeletionPolicy,
    IAM_ACCESS_CONFIRMED_ANNOTATION, IAM_ACCESS_CONFIRMED_BY_ANNOTATION, REINVITE_ANNOTATION, SecretKeyReference,
};
use crate::aws::{self, AwsError, ErrorClass, ProfileClients};
use crate::handshake::{Handshake, HandshakeState};
use crate::reason::{EventReason, Reason};
use crate::reconcile::conditions;
use crate::reconcile::invite::{
    Action, Decision, EventNote, IamCheck, Membership, Need, Observation, Plan, ProfileView, SendFailure, decide,
    record_send_failure, record_sent,
};
use crate::reconcile::profile::{
    budget_left, counts_against_budget, invitation_tags, namespace_allowed, namespace_budget_left,
};

const KIND: &str = "AwsAccountInvite";

/// A Ready profile and its AWS clients.
struct Connected {
    profile: Arc<BillingProfile>,
    clients: ProfileClients,
    /// The organization's key: its sweep, send lock and budget ([`organization_key`]).
    organization: String,
}

pub(super) async fn reconcile(invite: Arc<AwsAccountInvite>, ctx: Arc<Context>) -> Result<Requeue, Error> {
    let _timer = ctx.time_reconcile(KIND);
    let namespace = invite.namespace().ok_or(Error::Invalid {
        kind: KIND,
        what: "namespace",
    })?;
    let api: Api<AwsAccountInvite> = Api::namespaced(ctx.client.clone(), &namespace);
    let requeue = match finalizer::stage(invite.as_ref()) {
        Stage::Add => finalizer::add(&api, invite.as_ref())
            .await
            .map(|()| Requeue::await_change())?,
        Stage::Apply => apply(&invite, &ctx).await?,
        Stage::Cleanup => {
            cleanup(&invite, &ctx).await?;
            finalizer::remove(&api, invite.as_ref()).await?;
            Requeue::await_change()
        }
        Stage::Done => Requeue::await_change(),
    };
    ctx.backoff.succeeded(&key(&invite));
    Ok(requeue)
}

pub(super) fn error_policy(invite: Arc<AwsAccountInvite>, error: &Error, ctx: Arc<Context>) -> Requeue {
    let key = key(&invite);
    tracing::warn!(invite = %key, reason = error.reason(), error = %error, "invite reconcile failed");
    ctx.config.metrics.reconcile_error(KIND, error.reason());
    Requeue::requeue(ctx.backoff.failed(key))
}

fn key(invite: &AwsAccountInvite) -> String {
    format!(
        "invite/{}/{}",
        invite.namespace().unwrap_or_default(),
        invite.name_any()
    )
}

/// observe → decide → act → record.
async fn apply(invite: &AwsAccountInvite, ctx: &Arc<Context>) -> Result<Requeue, Error> {
    let status = invite.status.clone().unwrap_or_default();
    let Some((mut obs, connected)) = observe(invite, &status, ctx).await? else {
        // Woken by the organization's first sweep; the requeue only guards a lost wake-up.
        return Ok(Requeue::requeue(ctx.config.poll_interval));
    };
    let mut plan = decide_fully(invite, &mut obs, connected.as_ref(), ctx).await?;
    let mut failure = None;
    if plan.action.sends()
        && let Some(connected) = &connected
    {
        failure = act(invite, &mut obs, connected, &mut plan, ctx).await?;
    }
    record(ctx, invite, &plan).await?;
    if plan
        .events
        .iter()
        .any(|e| e.reason == EventReason::AccountLeftOrganization)
    {
        ctx.config.metrics.account_left(&invite.spec.billing_profile);
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    // Never a per-invite loop faster than the poll interval: what changes in AWS is seen by
    // the sweep, which wakes the invite (docs/architecture.md, "AWS usage and rate limits").
    Ok(match plan.requeue_after {
        Some(after) => Requeue::requeue(after.max(ctx.config.poll_interval)),
        None => Requeue::await_change(),
    })
}

/// Observe: the profile as this invite sees it, the recorded and any pending handshake, the
/// annotations. Membership and IAM access are observed on demand by [`decide_fully`]. `None`
/// while the organization's first sweep has not ended (the sweep wakes the invite).
async fn observe<'a>(
    invite: &'a AwsAccountInvite,
    status: &'a AwsAccountInviteStatus,
    ctx: &Arc<Context>,
) -> Result<Option<(Observation<'a>, Option<Connected>)>, Error> {
    let (mut profile, mut connected) = profile_view(invite, ctx).await?;
    if let (ProfileView::Ready { organization_id, .. }, Some(_)) = (&profile, &connected)
        && !ctx
            .claims
            .claim(
                &ClaimKey::account(organization_id, &invite.spec.account_id),
                invite,
                &ctx.invites,
            )
            .await?
    {
        // Another invite owns the account here: nothing about it is read or done.
        profile = ProfileView::AccountClaimed;
        connected = None;
    }
    if let Some(c) = &connected
        && !ctx.observer.is_synced(&c.organization)
    {
        // Never decide before the organization's handshakes are known: an invitation sent by
        // an earlier run is adopted, not sent again. The organization's poller makes its first
        // sweep, which wakes every invite of the organization when it ends: a new leader costs
        // one sweep per organization, and no reconcile holds a worker while it waits (the
        // finalizers and claims of the others are written meanwhile; issue 14).
        ctx.ensure_poller(&c.profile.name_any(), &c.organization, &c.clients)
            .await;
        return Ok(None);
    }
    let seen = match &connected {
        Some(connected) => handshakes(invite, status, connected, ctx).await?,
        None => Seen::default(),
    };
    let annotations = invite.annotations();
    let iam_confirmed = annotations
        .get(IAM_ACCESS_CONFIRMED_ANNOTATION)
        .filter(|v| v.as_str() == "true")
        .map(|_| confirmed_by(invite));
    let profile_verification = connected
        .as_ref()
        .and_then(|c| c.profile.spec.iam_access.as_ref().and_then(|i| i.verification));
    let obs = Observation {
        spec: &invite.spec,
        status,
        generation: invite.metadata.generation,
        reinvite_request: annotations.get(REINVITE_ANNOTATION).map(String::as_str),
        iam_confirmed,
        profile,
        profile_verification,
        membership: None,
        listed_membership: seen.listed_membership,
        recorded_handshake: seen.recorded,
        handshake_gone: seen.gone,
        sent_since_created: seen.sent_since_created,
        pending_for_account: seen.pending,
        iam: None,
        now: ctx.now(),
    };
    Ok(Some((obs, connected)))
}

/// What the profile's sweep (and, where it cannot answer, DescribeHandshake) says about this
/// invite's account.
#[derive(Default)]
struct Seen {
    /// The recorded handshake as AWS shows it now.
    recorded: Option<Handshake>,
    /// AWS no longer knows the recorded handshake.
    gone: bool,
    /// The newest pending invitation to the account.
    pending: Option<Handshake>,
    /// The account's membership as the last ListAccounts sweep listed it. `None` when that
    /// sweep failed, or when the recorded handshake was read after the sweep (the sweep's
    /// membership is then older than the handshake's state).
    listed_membership: Option<Membership>,
    /// This organization's invitations to the account since the invite was created.
    sent_since_created: u32,
}

/// The recorded handshake as AWS shows it now, a pending invitation to the account, the
/// account's listed membership and the invitations AWS holds for this invite, all from the
/// profile's sweep. DescribeHandshake only for a recorded handshake sent after the last sweep
/// that the index does not hold (never while the sweep can answer).
async fn handshakes(
    invite: &AwsAccountInvite,
    status: &AwsAccountInviteStatus,
    connected: &Connected,
    ctx: &Context,
) -> Result<Seen, Error> {
    let clients = &connected.clients;
    let recorded = status.handshake.as_ref();
    let account = &invite.spec.account_id;
    let created = invite.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let (mut seen, swept_at) = ctx
        .observer
        .with_view(&connected.organization, |v| {
            let sent = v
                .index
                .for_account(account)
                .into_iter()
                .filter(|h| created.is_none_or(|c| h.requested_at.is_some_and(|t| t >= c)))
                .count();
            let seen = Seen {
                recorded: recorded.and_then(|h| v.index.get(&h.id).cloned()),
                gone: false,
                pending: v.index.pending_for_account(account).cloned(),
                listed_membership: v.members.as_ref().map(|m| match m.get(account) {
                    Some(member) => Membership::Member {
                        joined_at: member.joined_at,
                    },
                    None => Membership::NotMember,
                }),
                sent_since_created: u32::try_from(sent).unwrap_or(u32::MAX),
            };
            (seen, v.refreshed_at)
        })
        .unwrap_or_default();
    if let (Some(h), None) = (recorded, &seen.recorded) {
        let requested = h.requested_at.as_ref().map(|t| t.0);
        if requested.is_some_and(|at| at < swept_at) {
            // A sweep made after it was sent does not list it: AWS no longer knows it.
            seen.gone = true;
        } else if HandshakeState::parse(&h.state).is_some_and(|s| s.is_pending()) {
            // Sent after the last sweep and not in the index (another replica sent it): ask AWS.
            match clients.describe_handshake(&h.id).await {
                Ok(found) => {
                    seen.recorded = Some(found);
                    seen.listed_membership = None;
                }
                Err(e) if e.is_handshake_gone() => seen.gone = true,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(seen)
}

/// What the profile looks like from this invite, and its clients when Ready.
async fn profile_view(invite: &AwsAccountInvite, ctx: &Context) -> Result<(ProfileView, Option<Connected>), Error> {
    let name = &invite.spec.billing_profile;
    let Some(profile) = ctx.profiles.get(&ObjectRef::new(name)) else {
        return Ok((ProfileView::Missing, None));
    };
    let namespace = invite.namespace().unwrap_or_default();
    let labels = if profile.spec.allowed_namespaces.selector.is_some() {
        let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
        namespaces.get(&namespace).await?.metadata.labels.unwrap_or_default()
    } else {
        Default::default()
    };
    if !namespace_allowed(&profile.spec.allowed_namespaces, name, &namespace, &labels) {
        return Ok((ProfileView::NotAllowed { namespace }, None));
    }
    if let Err(message) = invitation_tags(profile.spec.tag_policy.as_ref(), &namespace, &invite.spec.tags) {
        return Ok((ProfileView::TagsNotAllowed { message }, None));
    }
    let status = profile.status.clone().unwrap_or_default();
    let ready = conditions::find(&status.conditions, conditions::READY);
    if ready.is_none_or(|c| c.status != "True") {
        let (reason, message) = ready.map_or_else(
            || {
                (
                    Reason::NotChecked.to_string(),
                    "the operator has not checked it yet".to_owned(),
                )
            },
            |c| (c.reason.clone(), c.message.clone()),
        );
        return Ok((ProfileView::NotReady { reason, message }, None));
    }
    let clients = match ctx.connect(&profile).await {
        Ok(c) => c,
        Err(e) => {
            let (reason, message) = (e.reason().to_string(), e.message());
            return Ok((ProfileView::NotReady { reason, message }, None));
        }
    };
    let organization = organization_key(&profile);
    let organization_id = status.organization_id.clone().unwrap_or_default();
    let view = ready_view(organization_id, &organization, &profile, &namespace, ctx);
    let connected = Connected {
        profile,
        clients,
        organization,
    };
    Ok((view, Some(connected)))
}

/// A Ready profile's view: its organization and what is left of the daily budget, now: the
/// organization's (the smallest `invitationsPerDay` of the profiles naming it, less the
/// invitations the organization sent in the last 24 hours, whichever profile sent them), and
/// `namespace`'s share of this profile's (`spec.invitationsPerNamespacePerDay`), counted from
/// what AWS holds (the handshake index) for the accounts of the namespace's invites of this
/// profile (the operator's record).
fn ready_view(
    organization_id: String,
    organization: &str,
    profile: &BillingProfile,
    namespace: &str,
    ctx: &Context,
) -> ProfileView {
    let now = ctx.now();
    let name = profile.name_any();
    // The namespace's accounts only when the profile shares its budget per namespace: this
    // walks every cached invite, once per reconcile (issue 14: O(n²) per start otherwise).
    let accounts: BTreeSet<String> = match profile.spec.invitations_per_namespace_per_day {
        Some(_) => ctx
            .invites
            .state()
            .iter()
            .filter(|i| i.spec.billing_profile == name && i.metadata.namespace.as_deref() == Some(namespace))
            .map(|i| i.spec.account_id.clone())
            .collect(),
        None => BTreeSet::new(),
    };
    let (sent, frees_at, namespace_sent) = ctx
        .observer
        .with_view(organization, |v| {
            let namespace_sent = accounts
                .iter()
                .flat_map(|a| v.index.for_account(a))
                .filter(|h| counts_against_budget(h, now))
                .count();
            (
                v.index.sent_in_last_24h(now),
                v.index.next_quota_release(now),
                u32::try_from(namespace_sent).unwrap_or(u32::MAX),
            )
        })
        .unwrap_or_default();
    ProfileView::Ready {
        organization_id,
        budget_left: namespace_budget_left(
            budget_left(ctx.daily_limits(organization), sent),
            profile.spec.invitations_per_namespace_per_day,
            namespace_sent,
        ),
        budget_frees_at: frees_at,
    }
}

/// Decide: the pure decision, observing what it asks for (membership, IAM access) until it acts.
async fn decide_fully(
    invite: &AwsAccountInvite,
    obs: &mut Observation<'_>,
    connected: Option<&Connected>,
    ctx: &Context,
) -> Result<Plan, Error> {
    loop {
        let need = match decide(obs) {
            Decision::Act(plan) => return Ok(plan),
            Decision::Observe(need) => need,
        };
        let Some(Connected { profile, clients, .. }) = connected else {
            return Err(Error::Invalid {
                kind: KIND,
                what: "ready billing profile",
            });
        };
        match need {
            Need::Membership => {
                // Asked where the sweep cannot answer (no ListAccounts answer: the cache may
                // serve) or to confirm a fact the sweep contradicts (then always fresh).
                let fresh = obs.listed_membership.is_some()
                    || obs
                        .recorded_handshake
                        .as_ref()
                        .is_some_and(|h| h.state == HandshakeState::Accepted);
                let (name, account) = (&invite.spec.billing_profile, &invite.spec.account_id);
                obs.membership = Some(ctx.membership(name, clients, account, fresh).await?);
            }
            Need::IamAccess => {
                let (key, generation) = (key(invite), invite.metadata.generation);
                let check = match ctx.iam_checks.get(&key, generation) {
                    Some(check) => check,
                    None => {
                        let check = check_iam(invite, profile, clients, ctx).await?;
                        ctx.iam_checks.put(&key, generation, check.clone());
                        check
                    }
                };
                obs.iam = Some(check);
            }
        }
    }
}

/// Act: the plan's one AWS action (send, or cancel and resend) under the organization's send
/// lock (one for every profile naming the organization).
/// Under the lock the budget and pending invitations are observed again and the same
/// [`decide`] runs again: another reconcile may have used the budget or sent meanwhile.
/// Returns a retryable failure to report after the status is recorded.
async fn act(
    invite: &AwsAccountInvite,
    obs: &mut Observation<'_>,
    connected: &Connected,
    plan: &mut Plan,
    ctx: &Context,
) -> Result<Option<AwsError>, Error> {
    let organization = connected.organization.as_str();
    let _lock = ctx.send_locks.lock(organization).await;
    obs.now = ctx.now();
    if let ProfileView::Ready { organization_id, .. } = &obs.profile {
        let namespace = invite.namespace().unwrap_or_default();
        obs.profile = ready_view(
            organization_id.clone(),
            organization,
            &connected.profile,
            &namespace,
            ctx,
        );
    }
    obs.pending_for_account = ctx
        .observer
        .with_view(organization, |v| {
            v.index.pending_for_account(&invite.spec.account_id).cloned()
        })
        .flatten();
    *plan = decide_fully(invite, obs, Some(connected), ctx).await?;
    let (cancel, reinvite_request) = match &plan.action {
        Action::None => return Ok(None),
        Action::SendInvitation { reinvite_request } => (None, reinvite_request.clone()),
        Action::CancelAndResend {
            handshake_id,
            reinvite_request,
        } => (Some(handshake_id.clone()), reinvite_request.clone()),
    };
    let sent = send(ctx, &connected.clients, organization, invite, cancel.as_deref()).await;
    after_send(invite, obs, connected, plan, sent, reinvite_request, ctx).await
}

/// Records what InviteAccountToOrganization answered in the plan (pure status updates) and in
/// the handshake index; a lost reply is looked for before any retry.
async fn after_send(
    invite: &AwsAccountInvite,
    obs: &Observation<'_>,
    connected: &Connected,
    plan: &mut Plan,
    sent: Result<Handshake, AwsError>,
    reinvite_request: Option<String>,
    ctx: &Context,
) -> Result<Option<AwsError>, Error> {
    let (spec, generation) = (&invite.spec, invite.metadata.generation);
    let (profile, organization) = (spec.billing_profile.as_str(), connected.organization.as_str());
    match sent {
        Ok(mut handshake) => {
            // Just sent: requested now, when the answer does not say (the model makes it optional).
            handshake.requested_at = handshake.requested_at.or(Some(obs.now));
            ctx.observer.record_sent(organization, handshake.clone());
            ctx.membership.forget(profile, &spec.account_id);
            ctx.config.metrics.invitation_sent(profile);
            let event = record_sent(
                &mut plan.status,
                spec,
                generation,
                &handshake,
                reinvite_request,
                obs.now,
            );
            plan.events.push(event);
            plan.requeue_after = Some(Duration::from_secs(3600));
            Ok(None)
        }
        Err(e) if e.is_duplicate_handshake() => {
            // An invitation is already open (sent by an earlier run): adopt it next time.
            ctx.observer
                .refresh(organization, &connected.clients, ctx.now())
                .await?;
            plan.requeue_after = Some(Duration::from_millis(200));
            Ok(None)
        }
        Err(e) => {
            // The invitation may have reached AWS with its reply lost: list before any retry.
            if e.class().is_retryable() {
                let _ = ctx.observer.refresh(organization, &connected.clients, ctx.now()).await;
            }
            let (event, requeue) = record_send_failure(&mut plan.status, spec, generation, &send_failure(&e), obs.now);
            plan.events.push(event);
            plan.requeue_after = requeue;
            Ok(e.class().is_retryable().then_some(e))
        }
    }
}

/// Record: the reconcile's one status write and its one event write.
async fn record(ctx: &Context, invite: &AwsAccountInvite, plan: &Plan) -> Result<(), Error> {
    if super::status_changed(invite.status.as_ref(), &plan.status) {
        let api: Api<AwsAccountInvite> = Api::namespaced(ctx.client.clone(), &invite.namespace().unwrap_or_default());
        api.patch_status(
            &invite.name_any(),
            &PatchParams::apply(MANAGER),
            &Patch::Merge(json!({ "status": plan.status })),
        )
        .await?;
    }
    ctx.publish(invite, &plan.events).await;
    Ok(())
}

/// Cancels `cancel` (when resending) and sends the invitation.
async fn send(
    ctx: &Context,
    clients: &ProfileClients,
    organization: &str,
    invite: &AwsAccountInvite,
    cancel: Option<&str>,
) -> Result<Handshake, AwsError> {
    if let Some(id) = cancel {
        match clients.cancel_handshake(id).await {
            Ok(canceled) => ctx.observer.record_sent(organization, canceled),
            // Already ended (accepted, expired, canceled) or gone: nothing left to cancel.
            Err(e) if e.is_handshake_gone() || e.class() == ErrorClass::Terminal => {}
            Err(e) => return Err(e),
        }
    }
    // The profile's tag policy, again at the moment of sending (the profile may have changed
    // since the gate): the invite's allowed tags plus the tags the operator forces.
    let policy = ctx
        .profiles
        .get(&ObjectRef::new(&invite.spec.billing_profile))
        .and_then(|p| p.spec.tag_policy.clone());
    let namespace = invite.namespace().unwrap_or_default();
    let tags = invitation_tags(policy.as_ref(), &namespace, &invite.spec.tags).map_err(|message| {
        AwsError::local(
            "InviteAccountToOrganization",
            ErrorClass::Terminal,
            Reason::TagNotAllowed,
            message,
        )
    })?;
    clients
        .invite_account(&invite.spec.account_id, invite.spec.notes.as_deref(), &tags)
        .await
}

fn send_failure(e: &AwsError) -> SendFailure {
    let (reason, message) = (e.reason(), e.message());
    match e.class() {
        ErrorClass::Retryable => SendFailure::Retryable { reason, message },
        ErrorClass::Quota {
            reason: Reason::QuotaExhausted,
        } => SendFailure::DailyQuota { message },
        ErrorClass::Quota { .. } | ErrorClass::Terminal => SendFailure::Terminal { reason, message },
        ErrorClass::Profile => SendFailure::Profile { reason, message },
    }
}

/// The automatic IAM access check: the external ID (from the spec or its Secret), then
/// [`aws::verify_member_role`] through the profile's member access role.
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
        (None, Some(secret_ref)) => match external_id_from_secret(invite, secret_ref, ctx).await? {
            Ok(id) => Some(id),
            Err(missing) => return Ok(missing),
        },
        (None, None) => None,
    };
    let member_role = profile
        .spec
        .iam_access
        .as_ref()
        .and_then(|i| i.member_access_role_name.clone())
        .unwrap_or_else(|| DEFAULT_MEMBER_ACCESS_ROLE.to_owned());
    let account = &invite.spec.account_id;
    let (role, principal) = (&iam.role_name, &iam.trusted_principal);
    let check =
        aws::verify_member_role(clients, account, &member_role, role, principal, external_id.as_deref()).await?;
    Ok(match check {
        aws::IamCheck::Verified => IamCheck::Verified,
        aws::IamCheck::Missing { reason, message } => IamCheck::Missing { reason, message },
    })
}

/// The external ID from `spec.iamAccess.externalIdSecretRef`, or why it is missing.
async fn external_id_from_secret(
    invite: &AwsAccountInvite,
    secret_ref: &SecretKeyReference,
    ctx: &Context,
) -> Result<Result<String, IamCheck>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &invite.namespace().unwrap_or_default());
    let name = &secret_ref.name;
    let missing = |message: String| IamCheck::Missing {
        reason: Reason::ExternalIdSecretNotFound,
        message,
    };
    let Some(secret) = secrets.get_opt(name).await? else {
        return Ok(Err(missing(format!(
            "Secret {name:?} named by spec.iamAccess.externalIdSecretRef does not exist"
        ))));
    };
    Ok(match secret.data.unwrap_or_default().get(&secret_ref.key) {
        Some(v) => Ok(String::from_utf8_lossy(&v.0).trim().to_owned()),
        None => Err(missing(format!("Secret {name:?} has no key {:?}", secret_ref.key))),
    })
}

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

/// Cleanup on deletion: the owner of the account's claim applies `spec.deletionPolicy` (cancels
/// a pending invitation unless Orphan) and releases the claim, waking the invites waiting on
/// it; an invite that does not own the account touches nothing in AWS (docs/security.md,
/// "Account claims").
async fn cleanup(invite: &AwsAccountInvite, ctx: &Context) -> Result<(), Error> {
    let claim = claim_organization(invite, ctx).map(|o| ClaimKey::account(&o, &invite.spec.account_id));
    let owner = match &claim {
        Some(claim) => ctx.claims.holds(claim, invite).await?,
        // No organization known: no claim can have been made for it.
        None => true,
    };
    if owner {
        cancel_pending(invite, ctx).await?;
    }
    if let Some(claim) = &claim
        && ctx.claims.release(claim, invite).await?
    {
        ctx.wake_claimants(invite);
    }
    Ok(())
}

/// The organization the invite's claim is for: its profile's, as the profile's status records
/// it, else the one the invite joined.
fn claim_organization(invite: &AwsAccountInvite, ctx: &Context) -> Option<String> {
    ctx.profiles
        .get(&ObjectRef::new(&invite.spec.billing_profile))
        .and_then(|p| p.status.as_ref()?.organization_id.clone())
        .or_else(|| invite.status.as_ref()?.organization_id.clone())
}

/// `spec.deletionPolicy` CancelPending: cancels the recorded invitation if it is still pending.
async fn cancel_pending(invite: &AwsAccountInvite, ctx: &Context) -> Result<(), Error> {
    let Some(handshake) = invite.status.as_ref().and_then(|s| s.handshake.clone()) else {
        return Ok(());
    };
    let pending = HandshakeState::parse(&handshake.state).is_some_and(|s| s.is_pending());
    if invite.spec.deletion_policy == DeletionPolicy::Orphan || !pending {
        return Ok(());
    }
    let (_, connected) = profile_view(invite, ctx).await?;
    let Some(Connected {
        clients, organization, ..
    }) = connected
    else {
        let message = format!(
            "Invitation {} could not be canceled: billing profile {:?} is missing or not ready; cancel it in the AWS \
             Organizations console",
            handshake.id, invite.spec.billing_profile
        );
        publish(ctx, invite, true, EventReason::CancelSkipped, message).await;
        return Ok(());
    };
    match clients.cancel_handshake(&handshake.id).await {
        Ok(canceled) => {
            ctx.observer.record_sent(&organization, canceled);
            let message = format!("Invitation {} canceled because the invite was deleted", handshake.id);
            publish(ctx, invite, false, EventReason::Canceled, message).await;
        }
        Err(e) if e.is_handshake_gone() || e.class() == ErrorClass::Terminal => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

async fn publish(ctx: &Context, invite: &AwsAccountInvite, warning: bool, reason: EventReason, message: String) {
    let note = EventNote {
        warning,
        reason,
        message,
    };
    ctx.publish(invite, &[note]).await;
}
