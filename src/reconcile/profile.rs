//! Pure decisions for BillingProfiles: who may use one, its daily budget, its status.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kube::core::{Selector, SelectorExt};

use super::conditions::{self as cond};
use crate::api::{AllowedNamespaces, BillingProfileSpec, BillingProfileStatus, NamespacesFrom};

/// Whether `namespace` (with its labels) may create invites naming profile `profile_name`.
pub fn namespace_allowed(
    allowed: &AllowedNamespaces,
    profile_name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    if allowed.namespaces.iter().any(|n| n == namespace) {
        return true;
    }
    match allowed.from {
        Some(NamespacesFrom::All) => true,
        Some(NamespacesFrom::Same) => namespace == profile_name,
        Some(NamespacesFrom::Selector) => allowed
            .selector
            .clone()
            .and_then(|s| Selector::try_from(s).ok())
            .is_some_and(|selector| selector.matches(labels)),
        None => false,
    }
}

/// What DescribeOrganization said, as the profile controller saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum OrganizationCheck {
    /// The credentials reach this organization.
    Reached {
        organization_id: String,
        management_account_id: String,
        management_account_email: Option<String>,
    },
    /// AWS refused or failed: a condition reason and a message for a person.
    Failed { reason: String, message: String },
}

/// The profile's status: Ready only when the organization is the one the spec names.
pub fn profile_status(
    spec: &BillingProfileSpec,
    current: Option<&BillingProfileStatus>,
    check: &OrganizationCheck,
    invitations_in_last24h: u32,
    queued_invitations: u32,
    generation: Option<i64>,
    now: Timestamp,
) -> BillingProfileStatus {
    let mut status = current.cloned().unwrap_or_default();
    status.observed_generation = generation;
    status.invitations_in_last24h = invitations_in_last24h;
    status.queued_invitations = queued_invitations;
    let (ready, why, message) = match check {
        OrganizationCheck::Failed { reason, message } => (false, reason.clone(), message.clone()),
        OrganizationCheck::Reached {
            organization_id,
            management_account_id,
            management_account_email,
        } => {
            status.organization_id = Some(organization_id.clone());
            status.management_account_email = management_account_email.clone();
            if management_account_id != &spec.management_account_id {
                (
                    false,
                    "WrongOrganization".to_owned(),
                    format!(
                        "The credentials reach organization {organization_id}, whose management account is \
                         {management_account_id}, not {} as spec.managementAccountId says; fix the credentials or the spec",
                        spec.management_account_id
                    ),
                )
            } else if spec
                .organization_id
                .as_ref()
                .is_some_and(|want| want != organization_id)
            {
                (
                    false,
                    "WrongOrganization".to_owned(),
                    format!(
                        "The credentials reach organization {organization_id}, not {} as spec.organizationId says; fix \
                         the credentials or the spec",
                        spec.organization_id.as_deref().unwrap_or_default()
                    ),
                )
            } else {
                (
                    true,
                    "OrganizationReached".to_owned(),
                    format!(
                        "Credentials reach organization {organization_id} managed by account {management_account_id}; \
                         {invitations_in_last24h} of {} daily invitations used",
                        spec.invitations_per_day
                    ),
                )
            }
        }
    };
    cond::set(
        &mut status.conditions,
        cond::READY,
        ready,
        &why,
        message,
        generation,
        now,
    );
    status
}

/// Invitations the profile may still send in the current 24-hour window.
pub fn budget_left(spec: &BillingProfileSpec, sent_in_last24h: u32) -> u32 {
    spec.invitations_per_day.saturating_sub(sent_in_last24h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn namespace_access_follows_the_profile() {
        let none = AllowedNamespaces::default();
        assert!(
            !namespace_allowed(&none, "payer", "billing", &labels(&[])),
            "nothing is allowed by default"
        );
        let listed = AllowedNamespaces {
            namespaces: vec!["billing".into()],
            ..Default::default()
        };
        assert!(namespace_allowed(&listed, "payer", "billing", &labels(&[])));
        assert!(!namespace_allowed(&listed, "payer", "other", &labels(&[])));
        let all = AllowedNamespaces {
            from: Some(NamespacesFrom::All),
            ..Default::default()
        };
        assert!(namespace_allowed(&all, "payer", "anything", &labels(&[])));
        let same = AllowedNamespaces {
            from: Some(NamespacesFrom::Same),
            ..Default::default()
        };
        assert!(namespace_allowed(&same, "payer", "payer", &labels(&[])));
        assert!(!namespace_allowed(&same, "payer", "billing", &labels(&[])));
        let selector = AllowedNamespaces {
            from: Some(NamespacesFrom::Selector),
            selector: Some(LabelSelector {
                match_labels: Some(labels(&[("team", "billing")])),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(namespace_allowed(
            &selector,
            "payer",
            "ns",
            &labels(&[("team", "billing")])
        ));
        assert!(!namespace_allowed(
            &selector,
            "payer",
            "ns",
            &labels(&[("team", "web")])
        ));
    }
}
