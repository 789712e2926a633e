//! What the controllers' caches keep of each object (docs/architecture.md, "Reconcile
//! pipeline"): the reflector stores every watched object for as long as it exists, so fields the
//! operator never reads are dropped before an object enters the cache. Most of an object's
//! size is `metadata.managedFields` (one entry per writer, each with the full set of fields it
//! owns) and, for objects applied with `kubectl apply`, the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation (a second copy of the spec).

use crate::api::{AwsAccountInvite, BillingProfile, IAM_ACCESS_CONFIRMED_ANNOTATION};
use kube::core::ObjectMeta;

/// The annotation `kubectl apply` keeps (a copy of the applied object); nothing reads it here.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// An invite as the cache keeps it: no last-applied copy, and only the managedFields entries
/// that set the IAM access confirmation annotations (what `confirmed_by` falls back to when the
/// `awsinvite.io/iam-access-confirmed-by` annotation is absent), in their order.
pub fn slim_invite(invite: &mut AwsAccountInvite) {
    slim_metadata(&mut invite.metadata);
    let needle = format!("f:{IAM_ACCESS_CONFIRMED_ANNOTATION}");
    if let Some(fields) = invite.metadata.managed_fields.as_mut() {
        fields.retain(|f| f.fields_v1.as_ref().is_some_and(|v| v.0.to_string().contains(&needle)));
        if fields.is_empty() {
            invite.metadata.managed_fields = None;
        }
    }
}

/// A profile as the cache keeps it: no managedFields, no last-applied copy.
pub fn slim_profile(profile: &mut BillingProfile) {
    slim_metadata(&mut profile.metadata);
    profile.metadata.managed_fields = None;
}

fn slim_metadata(meta: &mut ObjectMeta) {
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invite(managed: serde_json::Value) -> AwsAccountInvite {
        serde_json::from_value(json!({
            "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
            "metadata": {
                "name": "i", "namespace": "billing",
                "annotations": {LAST_APPLIED_ANNOTATION: "{}", "awsinvite.io/reinvite": "1"},
                "managedFields": managed,
            },
            "spec": {"billingProfile": "p", "accountId": "222222222222"},
        }))
        .expect("invite")
    }

    fn entry(manager: &str, fields: serde_json::Value) -> serde_json::Value {
        json!({"manager": manager, "operation": "Update", "apiVersion": "awsinvite.io/v1alpha1",
               "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    #[test]
    fn invites_keep_only_the_confirmation_writers() {
        let confirm = json!({"f:metadata": {"f:annotations": {"f:awsinvite.io/iam-access-confirmed": {}}}});
        let spec = json!({"f:spec": {"f:accountId": {}, "f:billingProfile": {}}});
        let mut i = invite(json!([
            entry("kubectl-client-side-apply", spec),
            entry("alice", confirm.clone()),
            entry("aws-invite-operator", json!({"f:status": {"f:phase": {}}})),
        ]));
        slim_invite(&mut i);
        let kept: Vec<_> = i
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter_map(|f| f.manager.clone())
            .collect();
        assert_eq!(kept, vec!["alice".to_string()]);
        let annotations = i.metadata.annotations.clone().unwrap_or_default();
        assert!(!annotations.contains_key(LAST_APPLIED_ANNOTATION));
        assert_eq!(annotations.get("awsinvite.io/reinvite").map(String::as_str), Some("1"));

        let mut none = invite(json!([entry("kubectl", json!({"f:spec": {}}))]));
        slim_invite(&mut none);
        assert!(none.metadata.managed_fields.is_none());
    }

    #[test]
    fn profiles_keep_no_managed_fields() {
        let mut p: BillingProfile = serde_json::from_value(json!({
            "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile",
            "metadata": {"name": "p", "annotations": {LAST_APPLIED_ANNOTATION: "{}"},
                         "managedFields": [entry("kubectl", json!({"f:spec": {}}))]},
            "spec": {"managementAccountId": "111111111111"},
        }))
        .expect("profile");
        slim_profile(&mut p);
        assert!(p.metadata.managed_fields.is_none());
        assert!(p.metadata.annotations.unwrap_or_default().is_empty());
    }
}
