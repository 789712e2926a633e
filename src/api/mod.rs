//! Custom resources of the `awsinvite.io` group, version `v1alpha1`.
//!
//! The types here are the API: their doc comments become `kubectl explain`, their
//! `x_kube(validation)` rules become CEL rules the API server enforces at admission.
//! `crds/` holds what [`crds`] generates; a test fails on drift.

mod account_invite;
mod billing_profile;
mod billing_transfer;
mod duration;
pub mod prose;
pub mod schema;

pub use account_invite::*;
pub use billing_profile::*;
pub use billing_transfer::*;
pub use duration::{
    DurationError, RESEND_AFTER_MAX, RESEND_AFTER_MIN, parse_duration, parse_go_duration, parse_resend_after,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// API group of every resource the operator owns.
pub const GROUP: &str = "awsinvite.io";

/// Every custom resource definition, in a stable order, with each field's description joined
/// into paragraphs so that `kubectl explain` wraps it once ([`schema::join_descriptions`]),
/// and an explicit `null` in any optional field meaning unset ([`schema::null_means_unset`]).
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![BillingProfile::crd(), AwsAccountInvite::crd(), BillingTransfer::crd()];
    for crd in &mut crds {
        schema::join_descriptions(crd);
        schema::null_means_unset(crd);
    }
    crds
}

/// One CRD as the YAML document stored in `crds/<name>.yaml`.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    Ok(format!("---\n{}", serde_yaml::to_string(crd)?))
}

/// Every CRD as one multi-document YAML stream: what `aws-invite-operator crds` prints, the
/// concatenation of the files in `crds/`.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    crds().iter().map(crd_yaml).collect()
}
