//! Pure decisions for BillingProfiles: who may use one, its daily budget, its status.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kube::core::{Selector, SelectorExt};

use super::conditions::{self as cond, Reason};
use crate::api::{AllowedNamespaces, BillingProfileSpec, BillingProfileStatus, NamespacesFrom, TagPolicy};

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

/// The tags an invitation from `namespace` carries under `policy`: the invite's own `tags`
/// (each key allowed by `allowedKeyPrefixes`) plus the namespace tag the operator forces, or
/// why not (a message naming the fields, for the invite's status).
pub fn invitation_tags(
    policy: Option<&TagPolicy>,
    namespace: &str,
    tags: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let Some(policy) = policy else {
        return Ok(tags.clone());
    };
    if let Some(forced) = &policy.namespace_tag_key
        && tags.contains_key(forced)
    {
        return Err(format!(
            "spec.tags may not set {forced:?}: the BillingProfile's spec.tagPolicy.namespaceTagKey makes the \
             operator set it to the invite's namespace"
        ));
    }
    if let Some(prefixes) = &policy.allowed_key_prefixes
        && let Some(key) = tags
            .keys()
            .find(|k| !prefixes.iter().any(|p| k.starts_with(p.as_str())))
    {
        return Err(format!(
            "spec.tags key {key:?} is not allowed by the BillingProfile's spec.tagPolicy.allowedKeyPrefixes {prefixes:?}"
        ));
    }
    let mut all = tags.clone();
    if let Some(forced) = &policy.namespace_tag_key {
        all.insert(forced.clone(), namespace.to_owned());
    }
    Ok(all)
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
    /// AWS refused or failed: a condition reason and a message for a person. `retryable`
    /// failures (throttling, 5xx, network) may pass on their own; the others need a change
    /// to the credentials, their permissions or the spec.
    Failed {
        reason: Reason,
        message: String,
        retryable: bool,
    },
}

/// The profile's status: Ready only when the organization is the one the spec names.
///
/// kstatus: Ready (Current); a passing AWS failure is Reconciling (InProgress) and keeps a
/// profile that was Ready for this generation Ready, so one throttled call does not stop its
/// invites; anything else is Stalled (Failed): nothing improves until the credentials, their
/// permissions or the spec change.
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
        OrganizationCheck::Failed {
            reason,
            message,
            retryable: true,
        } => {
            let was_ready = current
                .is_some_and(|c| c.observed_generation == generation && cond::is_true(&c.conditions, cond::READY));
            let message = format!("{message} The operator retries.");
            let c = &mut status.conditions;
            cond::set(c, cond::RECONCILING, true, *reason, &message, generation, now);
            cond::set(c, cond::STALLED, false, NOT_STALLED, "", generation, now);
            if !was_ready {
                cond::set(c, cond::READY, false, *reason, message, generation, now);
            }
            return status;
        }
        OrganizationCheck::Failed { reason, message, .. } => (false, *reason, message.clone()),
        OrganizationCheck::Reached {
            organization_id,
            management_account_id,
            management_account_email,
        } => {
            status.organization_id = Some(organization_id.clone());
            status.management_account_email = management_account_email.clone();
            match wrong_organization(spec, organization_id, management_account_id) {
                Some(message) => (false, Reason::WrongOrganization, message),
                None => (
                    true,
                    Reason::OrganizationReached,
                    format!(
                        "Credentials reach organization {organization_id} managed by account {management_account_id}; \
                         {invitations_in_last24h} of {} daily invitations used",
                        spec.invitations_per_day
                    ),
                ),
            }
        }
    };
    let c = &mut status.conditions;
    if ready {
        cond::set(c, cond::STALLED, false, NOT_STALLED, "", generation, now);
    } else {
        cond::set(c, cond::STALLED, true, why, &message, generation, now);
    }
    cond::set(c, cond::RECONCILING, false, why, "", generation, now);
    cond::set(c, cond::READY, ready, why, message, generation, now);
    status
}

/// Why the reached organization is not the one the spec names, if it is not.
fn wrong_organization(spec: &BillingProfileSpec, organization_id: &str, management_account_id: &str) -> Option<String> {
    if management_account_id != spec.management_account_id {
        return Some(format!(
            "The credentials reach organization {organization_id}, whose management account is \
             {management_account_id}, not {} as spec.managementAccountId says; fix the credentials or the spec",
            spec.management_account_id
        ));
    }
    let want = spec
        .organization_id
        .as_deref()
        .filter(|want| *want != organization_id)?;
    Some(format!(
        "The credentials reach organization {organization_id}, not {want} as spec.organizationId says; fix the \
         credentials or the spec"
    ))
}

const NOT_STALLED: Reason = Reason::Progressing;

/// Invitations a profile may still send in the current 24-hour window. The budget belongs to
/// the organization: `daily_limits` are the `invitationsPerDay` of every profile naming it,
/// `sent_in_last24h` the organization's invitations whichever profile sent them, and together
/// the profiles never send more than the smallest limit (none without a limit).
pub fn budget_left(daily_limits: impl IntoIterator<Item = u32>, sent_in_last24h: u32) -> u32 {
    let limit = daily_limits.into_iter().min().unwrap_or(0);
    limit.saturating_sub(sent_in_last24h)
}

/// Invitations one namespace may still send now: `left` (the organization's budget left),
/// capped by the namespace's `share` (`spec.invitationsPerNamespacePerDay`) less what its
/// invites' accounts were sent in the window, so one tenant cannot use up every other's.
pub fn namespace_budget_left(left: u32, share: Option<u32>, namespace_sent: u32) -> u32 {
    match share {
        Some(share) => left.min(share.saturating_sub(namespace_sent)),
        None => left,
    }
}

/// Whether a handshake counts against a daily budget now: requested in the last 24 hours and
/// not accepted (the rule of [`crate::aws::HandshakeIndex::sent_in_last_24h`]).
pub fn counts_against_budget(h: &crate::handshake::Handshake, now: Timestamp) -> bool {
    let since = now
        .checked_sub(jiff::SignedDuration::from_hours(24))
        .unwrap_or(Timestamp::MIN);
    h.requested_at.is_some_and(|t| t > since) && h.state != crate::handshake::HandshakeState::Accepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_budget_is_the_organizations_smallest_limit() {
        // (invitationsPerDay of the profiles naming the organization, sent in 24 h, left)
        let table: [(&[u32], u32, u32); 6] = [
            (&[20], 0, 20),
            (&[20], 19, 1),
            (&[20], 25, 0),
            (&[5, 20], 3, 2),
            (&[20, 5], 5, 0),
            (&[], 0, 0),
        ];
        for (limits, sent, left) in table {
            assert_eq!(budget_left(limits.iter().copied(), sent), left, "{limits:?} {sent}");
        }
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

    #[test]
    fn a_namespace_gets_its_share_of_the_daily_budget() {
        assert_eq!(
            namespace_budget_left(15, None, 5),
            15,
            "no share: the organization's budget"
        );
        for (left, namespace_sent, want) in [(20, 0, 3), (15, 2, 1), (15, 3, 0), (15, 9, 0), (1, 0, 1), (0, 0, 0)] {
            assert_eq!(
                namespace_budget_left(left, Some(3), namespace_sent),
                want,
                "{left} {namespace_sent}"
            );
        }
    }

    #[test]
    fn tags_follow_the_profiles_tag_policy() {
        let tags = |pairs: &[(&str, &str)]| labels(pairs);
        let ns = "team-a";
        // No policy: the invite's tags as they are.
        assert_eq!(
            invitation_tags(None, ns, &tags(&[("any", "v")])),
            Ok(tags(&[("any", "v")]))
        );
        let policy = TagPolicy {
            allowed_key_prefixes: Some(vec!["team/".into(), "cost-center".into()]),
            namespace_tag_key: Some("awsinvite.io/namespace".into()),
        };
        for (own, want) in [
            (tags(&[]), Ok(tags(&[("awsinvite.io/namespace", ns)]))),
            (
                tags(&[("team/owner", "a"), ("cost-center", "42")]),
                Ok(tags(&[
                    ("team/owner", "a"),
                    ("cost-center", "42"),
                    ("awsinvite.io/namespace", ns),
                ])),
            ),
            (tags(&[("Team/owner", "a")]), Err("\"Team/owner\"")),
            (tags(&[("env", "prod")]), Err("allowedKeyPrefixes")),
            (tags(&[("awsinvite.io/namespace", "team-b")]), Err("namespaceTagKey")),
        ] {
            match (invitation_tags(Some(&policy), ns, &own), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(got), Err(want)) => assert!(got.contains(want) && got.contains("spec.tags"), "{got}"),
                (got, want) => panic!("{own:?}: {got:?}, want {want:?}"),
            }
        }
        // An empty list of prefixes: no tags of the invite's own; the forced one still goes.
        let none = TagPolicy {
            allowed_key_prefixes: Some(vec![]),
            namespace_tag_key: None,
        };
        assert!(invitation_tags(Some(&none), ns, &tags(&[("a", "b")])).is_err());
        assert_eq!(invitation_tags(Some(&none), ns, &tags(&[])), Ok(tags(&[])));
    }

    fn profile_spec() -> BillingProfileSpec {
        serde_json::from_value(
            serde_json::json!({"managementAccountId": "111111111111", "organizationId": "o-exampleorg1"}),
        )
        .expect("spec")
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("ts")
    }

    fn conditions(status: &BillingProfileStatus) -> Vec<(&str, &str, &str)> {
        let mut all: Vec<_> = status
            .conditions
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_str()))
            .collect();
        all.sort();
        all
    }

    fn reached(org: &str, mgmt: &str) -> OrganizationCheck {
        OrganizationCheck::Reached {
            organization_id: org.into(),
            management_account_id: mgmt.into(),
            management_account_email: None,
        }
    }

    fn failed(reason: &str, retryable: bool) -> OrganizationCheck {
        OrganizationCheck::Failed {
            reason: Reason::parse(reason).expect("a reason"),
            message: "AWS said no.".into(),
            retryable,
        }
    }

    #[test]
    fn profile_conditions_follow_kstatus() {
        let spec = profile_spec();
        let ok = profile_status(
            &spec,
            None,
            &reached("o-exampleorg1", "111111111111"),
            2,
            1,
            Some(1),
            ts(0),
        );
        assert_eq!(
            conditions(&ok),
            vec![
                ("Ready", "True", "OrganizationReached"),
                ("Reconciling", "False", "OrganizationReached"),
                ("Stalled", "False", "Progressing"),
            ]
        );
        assert_eq!((ok.invitations_in_last24h, ok.queued_invitations), (2, 1));

        // Needs a change by a person: Stalled (kstatus Failed), not Reconciling.
        for check in [reached("o-other000000", "111111111111"), failed("AccessDenied", false)] {
            let bad = profile_status(&spec, Some(&ok), &check, 0, 0, Some(1), ts(10));
            let all = conditions(&bad);
            assert_eq!(all[0].0, "Ready");
            assert_eq!(all[0].1, "False");
            assert_eq!((all[1].0, all[1].1), ("Reconciling", "False"));
            assert_eq!((all[2].0, all[2].1), ("Stalled", "True"));
            assert_eq!(all[0].2, all[2].2, "Ready and Stalled give the same reason");
        }
    }

    #[test]
    fn a_passing_aws_failure_keeps_a_ready_profile_ready_and_says_it_retries() {
        let spec = profile_spec();
        let ok = profile_status(
            &spec,
            None,
            &reached("o-exampleorg1", "111111111111"),
            0,
            0,
            Some(1),
            ts(0),
        );
        let blip = profile_status(&spec, Some(&ok), &failed("Throttled", true), 0, 0, Some(1), ts(10));
        assert_eq!(
            conditions(&blip),
            vec![
                ("Ready", "True", "OrganizationReached"),
                ("Reconciling", "True", "Throttled"),
                ("Stalled", "False", "Progressing"),
            ]
        );
        let retry = cond::find(&blip.conditions, cond::RECONCILING).expect("reconciling");
        assert!(retry.message.contains("retries"), "{}", retry.message);
        // A new generation has not been checked yet: not Ready until it is.
        let changed = profile_status(&spec, Some(&ok), &failed("AwsUnavailable", true), 0, 0, Some(2), ts(20));
        assert_eq!(conditions(&changed)[0], ("Ready", "False", "AwsUnavailable"));
        // Never checked: not Ready, Reconciling.
        let fresh = profile_status(&spec, None, &failed("AwsUnavailable", true), 0, 0, Some(1), ts(0));
        assert_eq!(
            conditions(&fresh),
            vec![
                ("Ready", "False", "AwsUnavailable"),
                ("Reconciling", "True", "AwsUnavailable"),
                ("Stalled", "False", "Progressing"),
            ]
        );
        // Recovery clears Reconciling.
        let back = profile_status(
            &spec,
            Some(&blip),
            &reached("o-exampleorg1", "111111111111"),
            0,
            0,
            Some(1),
            ts(30),
        );
        assert_eq!(conditions(&back)[1], ("Reconciling", "False", "OrganizationReached"));
    }
}
