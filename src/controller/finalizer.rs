//! The operator's finalizer on AwsAccountInvites: added before the first apply, removed after
//! the cleanup on deletion. Like kube-runtime's `finalizer` helper, but every patch names the
//! operator's field manager (so managedFields shows who owns the finalizer) and carries the
//! object's resourceVersion (a concurrent change fails the patch instead of being overwritten;
//! the next reconcile sees the change, and the conflict itself is no error: see [`patch`]).

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{FINALIZER, MANAGER};

/// What a reconcile does with an object, given its finalizers and deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Not being deleted, no finalizer yet: add it (the patch wakes the next reconcile).
    Add,
    /// Not being deleted, finalizer present: reconcile.
    Apply,
    /// Being deleted with the finalizer: clean up, then remove it.
    Cleanup,
    /// Being deleted without the finalizer: nothing left to do.
    Done,
}

/// The stage of `object`.
pub(super) fn stage<K: Resource>(object: &K) -> Stage {
    let has = object.finalizers().iter().any(|f| f == FINALIZER);
    match (object.meta().deletion_timestamp.is_some(), has) {
        (false, false) => Stage::Add,
        (false, true) => Stage::Apply,
        (true, true) => Stage::Cleanup,
        (true, false) => Stage::Done,
    }
}

/// Adds the finalizer.
pub(super) async fn add<K>(api: &Api<K>, object: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    patch(api, object, finalizers).await
}

/// Removes the finalizer (the object goes once no other finalizer holds it).
pub(super) async fn remove<K>(api: &Api<K>, object: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let finalizers = object
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch(api, object, finalizers).await
}

async fn patch<K>(api: &Api<K>, object: &K, finalizers: Vec<String>) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let params = PatchParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let body = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": object.resource_version(),
        }
    });
    match api.patch(&object.name_any(), &params, &Patch::Merge(body)).await {
        Ok(_) => Ok(()),
        // 409 Conflict: this copy is older than the server's (e.g. the reconcile was woken
        // before the watch delivered this finalizer's own earlier patch). The watch brings the
        // newer object and a reconcile of it, which decides again; nothing to retry here, and
        // no backoff (Kubernetes API conventions, "Concurrency Control and Consistency").
        Err(kube::Error::Api(status)) if status.code == 409 => {
            tracing::debug!(object = %object.name_any(), "finalizer patch on a stale copy; the newer one follows");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AwsAccountInvite;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn stages_follow_finalizer_and_deletion() {
        let mut invite: AwsAccountInvite = serde_json::from_value(json!({
            "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
            "metadata": {"name": "a", "namespace": "n"},
            "spec": {"billingProfile": "p", "accountId": "222222222222"}
        }))
        .expect("invite");
        assert_eq!(stage(&invite), Stage::Add);
        invite.metadata.finalizers = Some(vec!["other".into(), FINALIZER.into()]);
        assert_eq!(stage(&invite), Stage::Apply);
        invite.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(stage(&invite), Stage::Cleanup);
        invite.metadata.finalizers = Some(vec!["other".into()]);
        assert_eq!(stage(&invite), Stage::Done);
    }
}
