//! The operator's Prometheus metrics, encoded as OpenMetrics text.

use std::collections::BTreeMap;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::aws::AwsCallObserver;

/// Every phase an `AwsAccountInvite` can report; [`Metrics::set_invite_phases`] sets each one
/// (zero when absent) so a phase that empties drops to 0 instead of keeping a stale value.
pub const INVITE_PHASES: [&str; 6] = ["Pending", "Queued", "Invited", "Joined", "Ready", "Failed"];

/// Every phase a `BillingTransfer` can report; [`Metrics::set_transfer_phases`] sets each one.
pub const TRANSFER_PHASES: [&str; 6] = ["Pending", "Invited", "Accepted", "InEffect", "Withdrawn", "Failed"];

/// How a billing transfer invitation ended, the `outcome` label of
/// `aws_invite_transfer_invitation_outcomes_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// The customer's management account accepted.
    Accepted,
    /// The customer declined.
    Declined,
    /// Not accepted 24 hours before the start month.
    Expired,
    /// Canceled (by the operator on deletion, or outside it).
    Canceled,
}

impl TransferOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Expired => "expired",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    profile: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: String,
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsCallLabels {
    operation: String,
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileLabels {
    profile: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn reconcile_duration_histogram() -> Histogram {
    // 5 ms .. ~41 s
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// The operator's metrics. Cheap to share behind the [`Arc`] returned by [`Metrics::new`];
/// every method takes `&self` and is safe to call from any task.
///
/// All names carry the `aws_invite_` prefix:
///
/// | metric | type | labels |
/// |---|---|---|
/// | `aws_invite_reconciles_total` | counter | `kind` |
/// | `aws_invite_reconcile_errors_total` | counter | `kind`, `reason` |
/// | `aws_invite_reconcile_duration_seconds` | histogram | `kind` |
/// | `aws_invite_aws_calls_total` | counter | `operation`, `outcome` |
/// | `aws_invite_invites` | gauge | `phase` |
/// | `aws_invite_queue_length` | gauge | `profile` |
/// | `aws_invite_invitations_sent_total` | counter | `profile` |
/// | `aws_invite_leader` | gauge | – |
/// | `aws_invite_billing_transfers` | gauge | `phase` |
/// | `aws_invite_transfer_invitations_sent_total` | counter | `profile` |
/// | `aws_invite_transfer_invitation_outcomes_total` | counter | `profile`, `outcome` |
/// | `aws_invite_controller_failures_total` | counter | `controller` |
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<KindLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: HistogramFamily<KindLabels>,
    aws_calls: Family<AwsCallLabels, Counter>,
    invites: Family<PhaseLabels, Gauge>,
    queue_length: Family<ProfileLabels, Gauge>,
    invitations_sent: Family<ProfileLabels, Counter>,
    accounts_left: Family<ProfileLabels, Counter>,
    leader: Gauge,
    transfers: Family<PhaseLabels, Gauge>,
    transfer_invitations_sent: Family<ProfileLabels, Counter>,
    transfer_outcomes: Family<OutcomeLabels, Counter>,
    controller_failures: Family<ControllerLabels, Counter>,
}

impl Metrics {
    /// Creates and registers every metric.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("aws_invite");
        let reconciles = Family::<KindLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciliations started, by resource kind",
            reconciles.clone(),
        );
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Reconciliations that ended in an error, by resource kind and reason",
            reconcile_errors.clone(),
        );
        let reconcile_duration: HistogramFamily<KindLabels> =
            Family::new_with_constructor(reconcile_duration_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "reconcile_duration",
            "Time spent in one reconciliation, by resource kind",
            prometheus_client::registry::Unit::Seconds,
            reconcile_duration.clone(),
        );
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        registry.register(
            "aws_calls",
            "AWS API calls, by operation and outcome (success or the error's reason)",
            aws_calls.clone(),
        );
        let invites = Family::<PhaseLabels, Gauge>::default();
        registry.register("invites", "AwsAccountInvites by status phase", invites.clone());
        let queue_length = Family::<ProfileLabels, Gauge>::default();
        registry.register(
            "queue_length",
            "Invitations waiting for the daily quota, by BillingProfile",
            queue_length.clone(),
        );
        let invitations_sent = Family::<ProfileLabels, Counter>::default();
        registry.register(
            "invitations_sent",
            "Invitations sent to AWS, by BillingProfile",
            invitations_sent.clone(),
        );
        let accounts_left = Family::<ProfileLabels, Counter>::default();
        registry.register(
            "accounts_left",
            "Invited or adopted accounts found no longer members of the BillingProfile's organization (left, \
             removed, or moved to another organization), by BillingProfile",
            accounts_left.clone(),
        );
        for phase in INVITE_PHASES {
            invites
                .get_or_create(&PhaseLabels {
                    phase: phase.to_owned(),
                })
                .set(0);
        }
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 when this replica holds the leader Lease, else 0",
            leader.clone(),
        );
        let transfers = Family::<PhaseLabels, Gauge>::default();
        registry.register(
            "billing_transfers",
            "BillingTransfers by status phase",
            transfers.clone(),
        );
        for phase in TRANSFER_PHASES {
            transfers
                .get_or_create(&PhaseLabels {
                    phase: phase.to_owned(),
                })
                .set(0);
        }
        let transfer_invitations_sent = Family::<ProfileLabels, Counter>::default();
        registry.register(
            "transfer_invitations_sent",
            "Billing transfer invitations sent to AWS, by BillingProfile",
            transfer_invitations_sent.clone(),
        );
        let transfer_outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "transfer_invitation_outcomes",
            "Billing transfer invitations that ended, by BillingProfile and outcome (accepted, declined, expired, canceled)",
            transfer_outcomes.clone(),
        );
        let controller_failures = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "controller_failures",
            "Controllers that stopped on their own (their stream ended before shutdown, or they panicked), by \
             controller; the process then exits non-zero",
            controller_failures.clone(),
        );
        for controller in crate::controller::controller_names::ALL {
            // Exported at 0 from the start, so an alert sees the first failure as an increase.
            let _ = controller_failures.get_or_create(&ControllerLabels {
                controller: controller.to_owned(),
            });
        }
        Arc::new(Metrics {
            registry,
            controller_failures,
            transfers,
            transfer_invitations_sent,
            transfer_outcomes,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            aws_calls,
            invites,
            queue_length,
            invitations_sent,
            accounts_left,
            leader,
        })
    }

    /// Counts one reconciliation of a resource `kind` (e.g. `"AwsAccountInvite"`).
    pub fn reconcile(&self, kind: &'static str) {
        self.reconciles
            .get_or_create(&KindLabels { kind: kind.to_owned() })
            .inc();
    }

    /// Counts one failed reconciliation of `kind`, labelled with the error's stable `reason`.
    pub fn reconcile_error(&self, kind: &'static str, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: kind.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records how long one reconciliation of `kind` took, in seconds.
    pub fn observe_reconcile_duration(&self, kind: &'static str, secs: f64) {
        self.reconcile_duration
            .get_or_create(&KindLabels { kind: kind.to_owned() })
            .observe(secs);
    }

    /// Sets the number of invites per phase. Every phase of [`INVITE_PHASES`] is set (zero
    /// when missing from `counts`); phases outside that list are exported as given.
    pub fn set_invite_phases(&self, counts: &BTreeMap<String, i64>) {
        set_phases(&self.invites, &INVITE_PHASES, counts);
    }

    /// Sets the number of billing transfers per phase, as [`Self::set_invite_phases`] does
    /// for invites (every phase of [`TRANSFER_PHASES`] is set).
    pub fn set_transfer_phases(&self, counts: &BTreeMap<String, i64>) {
        set_phases(&self.transfers, &TRANSFER_PHASES, counts);
    }

    /// Counts one billing transfer invitation sent through `profile`.
    pub fn transfer_invitation_sent(&self, profile: &str) {
        self.transfer_invitations_sent
            .get_or_create(&ProfileLabels {
                profile: profile.to_owned(),
            })
            .inc();
    }

    /// Counts one billing transfer invitation of `profile` that ended with `outcome`.
    pub fn transfer_invitation_ended(&self, profile: &str, outcome: TransferOutcome) {
        self.transfer_outcomes
            .get_or_create(&OutcomeLabels {
                profile: profile.to_owned(),
                outcome: outcome.as_str().to_owned(),
            })
            .inc();
    }

    /// Sets the number of invitations of `profile` waiting for the daily quota.
    pub fn set_queue_length(&self, profile: &str, n: i64) {
        self.queue_length
            .get_or_create(&ProfileLabels {
                profile: profile.to_owned(),
            })
            .set(n);
    }

    /// Counts one invitation sent through `profile`.
    pub fn invitation_sent(&self, profile: &str) {
        self.invitations_sent
            .get_or_create(&ProfileLabels {
                profile: profile.to_owned(),
            })
            .inc();
    }

    /// Counts one account found no longer a member of `profile`'s organization.
    pub fn account_left(&self, profile: &str) {
        self.accounts_left
            .get_or_create(&ProfileLabels {
                profile: profile.to_owned(),
            })
            .inc();
    }

    /// Counts one controller (a name of [`crate::controller::controller_names`]) that stopped on
    /// its own.
    pub fn controller_failed(&self, controller: &str) {
        self.controller_failures
            .get_or_create(&ControllerLabels {
                controller: controller.to_owned(),
            })
            .inc();
    }

    /// Sets the `aws_invite_leader` gauge.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Encodes every metric as OpenMetrics text (ends with `# EOF`).
    ///
    /// # Errors
    /// Only if formatting fails, which writing into a `String` does not.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Sets every phase of `all` (zero when missing from `counts`) and any other phase as given.
fn set_phases(family: &Family<PhaseLabels, Gauge>, all: &[&str], counts: &BTreeMap<String, i64>) {
    for phase in all {
        let n = counts.get(*phase).copied().unwrap_or(0);
        family
            .get_or_create(&PhaseLabels {
                phase: (*phase).to_owned(),
            })
            .set(n);
    }
    for (phase, n) in counts {
        if !all.contains(&phase.as_str()) {
            family.get_or_create(&PhaseLabels { phase: phase.clone() }).set(*n);
        }
    }
}

impl AwsCallObserver for Metrics {
    fn record(&self, operation: &'static str, outcome: &str) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                operation: operation.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(metrics: &Metrics) -> Vec<String> {
        metrics.encode().expect("encodes").lines().map(str::to_owned).collect()
    }

    fn has(lines: &[String], want: &str) -> bool {
        lines.iter().any(|l| l == want)
    }

    #[test]
    fn fresh_metrics_export_leader_and_every_phase() {
        let m = Metrics::new();
        let l = lines(&m);
        assert_eq!(l.last().map(String::as_str), Some("# EOF"));
        assert!(has(&l, "# TYPE aws_invite_leader gauge"));
        assert!(has(&l, "aws_invite_leader 0"));
        assert!(has(&l, "# TYPE aws_invite_invites gauge"));
        for phase in INVITE_PHASES {
            assert!(
                has(&l, &format!(r#"aws_invite_invites{{phase="{phase}"}} 0"#)),
                "{phase}"
            );
        }
    }

    #[test]
    fn types_and_units() {
        let m = Metrics::new();
        m.reconcile("BillingProfile");
        m.reconcile_error("BillingProfile", "AccessDenied");
        m.record("DescribeOrganization", "success");
        m.set_queue_length("p", 0);
        m.invitation_sent("p");
        m.observe_reconcile_duration("BillingProfile", 0.1);
        let l = lines(&m);
        assert!(has(&l, "# TYPE aws_invite_reconciles counter"));
        assert!(has(&l, "# TYPE aws_invite_reconcile_errors counter"));
        assert!(has(&l, "# TYPE aws_invite_aws_calls counter"));
        assert!(has(&l, "# TYPE aws_invite_queue_length gauge"));
        assert!(has(&l, "# TYPE aws_invite_invitations_sent counter"));
        assert!(has(&l, "# TYPE aws_invite_reconcile_duration_seconds histogram"));
        assert!(has(&l, "# UNIT aws_invite_reconcile_duration_seconds seconds"));
    }

    #[test]
    fn counters_carry_labels() {
        let m = Metrics::new();
        m.reconcile("AwsAccountInvite");
        m.reconcile("AwsAccountInvite");
        m.reconcile("BillingProfile");
        m.reconcile_error("AwsAccountInvite", "Throttled");
        m.invitation_sent("payer-main");
        let l = lines(&m);
        assert!(has(&l, r#"aws_invite_reconciles_total{kind="AwsAccountInvite"} 2"#));
        assert!(has(&l, r#"aws_invite_reconciles_total{kind="BillingProfile"} 1"#));
        assert!(has(
            &l,
            r#"aws_invite_reconcile_errors_total{kind="AwsAccountInvite",reason="Throttled"} 1"#
        ));
        assert!(has(&l, r#"aws_invite_invitations_sent_total{profile="payer-main"} 1"#));
    }

    #[test]
    fn aws_call_observer_counts_by_operation_and_outcome() {
        let m = Metrics::new();
        let observer: &dyn AwsCallObserver = &*m;
        observer.record("InviteAccountToOrganization", "success");
        observer.record("InviteAccountToOrganization", "success");
        observer.record("ListHandshakesForOrganization", "Throttled");
        let l = lines(&m);
        assert!(has(
            &l,
            r#"aws_invite_aws_calls_total{operation="InviteAccountToOrganization",outcome="success"} 2"#
        ));
        assert!(has(
            &l,
            r#"aws_invite_aws_calls_total{operation="ListHandshakesForOrganization",outcome="Throttled"} 1"#
        ));
    }

    #[test]
    fn invite_phases_are_all_set_and_reset_to_zero() {
        let m = Metrics::new();
        let mut counts = BTreeMap::new();
        counts.insert("Invited".to_owned(), 3);
        counts.insert("Ready".to_owned(), 7);
        m.set_invite_phases(&counts);
        let l = lines(&m);
        assert!(has(&l, r#"aws_invite_invites{phase="Invited"} 3"#));
        assert!(has(&l, r#"aws_invite_invites{phase="Ready"} 7"#));
        for phase in ["Pending", "Queued", "Joined", "Failed"] {
            assert!(
                has(&l, &format!(r#"aws_invite_invites{{phase="{phase}"}} 0"#)),
                "{phase}"
            );
        }

        counts.remove("Invited");
        m.set_invite_phases(&counts);
        let l = lines(&m);
        assert!(has(&l, r#"aws_invite_invites{phase="Invited"} 0"#));
        assert!(has(&l, r#"aws_invite_invites{phase="Ready"} 7"#));
    }

    #[test]
    fn transfer_metrics() {
        let m = Metrics::new();
        let l = lines(&m);
        for phase in TRANSFER_PHASES {
            assert!(
                has(&l, &format!(r#"aws_invite_billing_transfers{{phase="{phase}"}} 0"#)),
                "{phase}"
            );
        }
        let mut counts = BTreeMap::new();
        counts.insert("Invited".to_owned(), 2);
        m.set_transfer_phases(&counts);
        m.transfer_invitation_sent("payer-main");
        m.transfer_invitation_ended("payer-main", TransferOutcome::Accepted);
        m.transfer_invitation_ended("payer-main", TransferOutcome::Expired);
        m.transfer_invitation_ended("payer-main", TransferOutcome::Expired);
        let l = lines(&m);
        assert!(has(&l, r#"aws_invite_billing_transfers{phase="Invited"} 2"#));
        assert!(has(&l, "# TYPE aws_invite_transfer_invitations_sent counter"));
        assert!(has(
            &l,
            r#"aws_invite_transfer_invitations_sent_total{profile="payer-main"} 1"#
        ));
        assert!(has(
            &l,
            r#"aws_invite_transfer_invitation_outcomes_total{profile="payer-main",outcome="accepted"} 1"#
        ));
        assert!(has(
            &l,
            r#"aws_invite_transfer_invitation_outcomes_total{profile="payer-main",outcome="expired"} 2"#
        ));
    }

    #[test]
    fn queue_length_and_leader_gauges() {
        let m = Metrics::new();
        m.set_queue_length("payer-main", 5);
        m.set_queue_length("payer-main", 4);
        m.set_leader(true);
        let l = lines(&m);
        assert!(has(&l, r#"aws_invite_queue_length{profile="payer-main"} 4"#));
        assert!(has(&l, "aws_invite_leader 1"));
    }

    #[test]
    fn reconcile_duration_histogram_buckets() {
        let m = Metrics::new();
        m.observe_reconcile_duration("AwsAccountInvite", 0.25);
        m.observe_reconcile_duration("AwsAccountInvite", 3.0);
        let l = lines(&m);
        assert!(has(
            &l,
            r#"aws_invite_reconcile_duration_seconds_count{kind="AwsAccountInvite"} 2"#
        ));
        assert!(has(
            &l,
            r#"aws_invite_reconcile_duration_seconds_sum{kind="AwsAccountInvite"} 3.25"#
        ));
        assert!(has(
            &l,
            r#"aws_invite_reconcile_duration_seconds_bucket{le="+Inf",kind="AwsAccountInvite"} 2"#
        ));
        assert!(has(
            &l,
            r#"aws_invite_reconcile_duration_seconds_bucket{le="0.32",kind="AwsAccountInvite"} 1"#
        ));
    }
}
