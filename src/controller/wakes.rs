//! Which BillingProfile changes wake the profile's invites (docs/architecture.md, "Reconcile
//! pipeline"). A profile's status is written once per poll interval whenever its counts change
//! (`invitationsInLast24h`, `queuedInvitations`, the Ready message that quotes them); waking
//! every invite of the profile on each such write cost one reconcile per invite (1,000 at the
//! 1,000 tier of `benches/steady_state.rs`) for nothing, and delayed the reconciles that mattered.
//! Only what an invite's reconcile reads of its profile wakes it: a new generation (the spec),
//! the start of deletion, the Ready condition's status and reason (and its message while not
//! Ready: invites quote it), the organization the status records, and the profile appearing or
//! going.

use std::collections::{HashMap, HashSet};

use futures::{Stream, StreamExt};
use kube::ResourceExt;
use kube::runtime::watcher;

use crate::api::BillingProfile;
use crate::reconcile::conditions;

/// What an invite's reconcile reads of its profile, beyond the spec (covered by the generation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InviteFacing {
    uid: Option<String>,
    generation: Option<i64>,
    deleting: bool,
    /// Ready's (status, reason, message while not True).
    ready: Option<(String, String, Option<String>)>,
    organization_id: Option<String>,
}

/// The part of `profile` its invites act on.
pub(super) fn invite_facing(profile: &BillingProfile) -> InviteFacing {
    let status = profile.status.as_ref();
    let ready = status
        .and_then(|s| conditions::find(&s.conditions, conditions::READY))
        .map(|c| {
            let message = (c.status != "True").then(|| c.message.clone());
            (c.status.clone(), c.reason.clone(), message)
        });
    InviteFacing {
        uid: profile.metadata.uid.clone(),
        generation: profile.metadata.generation,
        deleting: profile.metadata.deletion_timestamp.is_some(),
        ready,
        organization_id: status.and_then(|s| s.organization_id.clone()),
    }
}

/// Profiles from a watch whose invites must be woken: each profile when first seen, when
/// [`invite_facing`] changed, when it was deleted, and (after a re-list) when it is no longer
/// listed. Status writes that change nothing an invite reads pass nothing on.
pub(super) fn invite_facing_changes<S>(events: S) -> impl Stream<Item = Result<BillingProfile, watcher::Error>>
where
    S: Stream<Item = Result<watcher::Event<BillingProfile>, watcher::Error>>,
{
    let mut seen: HashMap<String, (InviteFacing, BillingProfile)> = HashMap::new();
    let mut relisted: Option<HashSet<String>> = None;
    events.flat_map(move |event| {
        let mut out = Vec::new();
        match event {
            Err(e) => out.push(Err(e)),
            Ok(watcher::Event::Init) => relisted = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(profile) | watcher::Event::Apply(profile)) => {
                let name = profile.name_any();
                if let Some(listed) = relisted.as_mut() {
                    listed.insert(name.clone());
                }
                let facing = invite_facing(&profile);
                if seen.get(&name).is_none_or(|(before, _)| *before != facing) {
                    out.push(Ok(profile.clone()));
                }
                seen.insert(name, (facing, slim(profile)));
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(listed) = relisted.take() {
                    let gone: Vec<String> = seen.keys().filter(|n| !listed.contains(*n)).cloned().collect();
                    for name in gone {
                        if let Some((_, profile)) = seen.remove(&name) {
                            out.push(Ok(profile));
                        }
                    }
                }
            }
            Ok(watcher::Event::Delete(profile)) => {
                seen.remove(&profile.name_any());
                out.push(Ok(profile));
            }
        }
        futures::stream::iter(out)
    })
}

/// What is kept of a profile to name it once it is gone (the mapper reads only its name).
fn slim(mut profile: BillingProfile) -> BillingProfile {
    profile.metadata.managed_fields = None;
    profile.metadata.annotations = None;
    profile.metadata.labels = None;
    profile.status = None;
    profile
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(name: &str, generation: i64, ready: &str, message: &str, counts: u32) -> BillingProfile {
        serde_json::from_value(json!({
            "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile",
            "metadata": {"name": name, "uid": format!("uid-{name}"), "generation": generation},
            "spec": {"managementAccountId": "111111111111"},
            "status": {
                "organizationId": "o-exampleorg1",
                "invitationsInLast24h": counts, "queuedInvitations": counts,
                "conditions": [{"type": "Ready", "status": ready, "reason": "OrganizationReached",
                                "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            },
        }))
        .expect("profile")
    }

    fn passed(events: Vec<watcher::Event<BillingProfile>>) -> Vec<String> {
        let stream = invite_facing_changes(futures::stream::iter(events.into_iter().map(Ok)));
        futures::executor::block_on(stream.collect::<Vec<_>>())
            .into_iter()
            .map(|p| p.expect("no error").name_any())
            .collect()
    }

    #[test]
    fn status_writes_that_invites_do_not_read_wake_nothing() {
        use watcher::Event::*;
        let a = |g, ready, message, counts| profile("a", g, ready, message, counts);
        let woken = passed(vec![
            Init,
            InitApply(a(1, "True", "0 of 20 daily invitations used", 0)),
            InitApply(profile("b", 1, "True", "", 0)),
            InitDone,
            // Counts and the Ready message that quotes them: nothing an invite reads.
            Apply(a(1, "True", "5 of 20 daily invitations used", 5)),
            Apply(a(1, "True", "6 of 20 daily invitations used", 6)),
            // A new generation (the spec changed).
            Apply(a(2, "True", "6 of 20 daily invitations used", 6)),
            // Ready flips; then its message changes while not Ready (invites quote it).
            Apply(a(2, "False", "denied", 6)),
            Apply(a(2, "False", "denied again", 6)),
            Apply(a(2, "False", "denied again", 7)),
            Delete(a(2, "False", "denied again", 7)),
        ]);
        assert_eq!(woken, vec!["a", "b", "a", "a", "a", "a"]);
    }

    #[test]
    fn a_relist_wakes_only_changed_and_vanished_profiles() {
        use watcher::Event::*;
        let woken = passed(vec![
            Init,
            InitApply(profile("a", 1, "True", "", 0)),
            InitApply(profile("b", 1, "True", "", 0)),
            InitDone,
            // The watch restarts: a unchanged, b gone meanwhile, c new.
            Init,
            InitApply(profile("a", 1, "True", "", 3)),
            InitApply(profile("c", 1, "True", "", 0)),
            InitDone,
        ]);
        assert_eq!(woken, vec!["a", "b", "c", "b"]);
    }
}
