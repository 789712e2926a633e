//! Keeps the user documentation honest: the reasons, metrics, annotations and AWS actions that
//! the operator uses must be documented in `docs/`. Each list comes from the code itself (no
//! cluster, no AWS):
//!
//! - every condition type ([`conditions::TYPES`]), condition reason ([`Reason::ALL`], which
//!   includes every reason AWS errors are classified into) and event reason
//!   ([`EventReason::ALL`]) appears, in backticks, in `docs/troubleshooting.md`;
//! - every metric the operator exports (as [`Metrics::encode`] shows it) appears in
//!   `docs/metrics.md` with its exposed name, its type and its labels, and every `aws_invite_*`
//!   name the page uses exists;
//! - every annotation ([`ANNOTATIONS`]) appears in `docs/usage.md`;
//! - every AWS action the operator calls ([`AwsAction::ALL`]) appears in the IAM policy of
//!   `docs/install.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use aws_invite_operator::api::ANNOTATIONS;
use aws_invite_operator::aws::{AwsAction, AwsCallObserver};
use aws_invite_operator::reason::{EventReason, Reason};
use aws_invite_operator::reconcile::conditions;
use aws_invite_operator::telemetry::{Metrics, TransferOutcome};

fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Whether `doc` has `word` in backticks, alone or as the first word (`` `Word` `` or `` `Word: ...` ``).
fn has_code_word(doc: &str, word: &str) -> bool {
    let needle = format!("`{word}");
    doc.match_indices(&needle).any(|(at, _)| {
        let next = doc[at + needle.len()..].chars().next();
        !next.is_some_and(|n| n.is_alphanumeric() || n == '_')
    })
}

/// Whether `doc` has `name` not followed by more of an identifier.
fn has_name(doc: &str, name: &str) -> bool {
    doc.match_indices(name).any(|(at, _)| {
        let next = doc[at + name.len()..].chars().next();
        !next.is_some_and(|n| n.is_alphanumeric() || n == '_')
    })
}

fn fail_if_missing(what: &str, page: &str, missing: &[String]) {
    assert!(
        missing.is_empty(),
        "{page} does not document these {what}:\n  {}",
        missing.join("\n  ")
    );
}

fn undocumented<'a>(doc: &str, words: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    words
        .into_iter()
        .filter(|w| !has_code_word(doc, w))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_condition_type_and_reason_is_in_troubleshooting() {
    let doc = read("docs/troubleshooting.md");
    let words = conditions::TYPES
        .into_iter()
        .chain(Reason::ALL.iter().map(|r| r.as_str()));
    fail_if_missing(
        "condition types and reasons (write each in backticks, with its meaning and what to do)",
        "docs/troubleshooting.md",
        &undocumented(&doc, words),
    );
}

#[test]
fn every_classified_aws_error_reason_is_a_reason() {
    // `classify` returns a `Reason`, so the test above covers it; this pins a few known ones.
    for (code, aws_reason, want) in [
        ("AccessDeniedException", None, Reason::AccessDenied),
        (
            "MasterCannotLeaveOrganizationException",
            None,
            Reason::ManagementAccountOfAnotherOrganization,
        ),
        (
            "HandshakeConstraintViolationException",
            Some("HANDSHAKE_RATE_LIMIT_EXCEEDED"),
            Reason::QuotaExhausted,
        ),
    ] {
        let got = aws_invite_operator::aws::classify(Some(code), aws_reason, Some(400), None);
        assert_eq!(got.reason, want, "{code}");
        assert!(Reason::ALL.contains(&got.reason));
    }
}

#[test]
fn every_event_reason_is_in_troubleshooting() {
    let doc = read("docs/troubleshooting.md");
    fail_if_missing(
        "event reasons (write each in backticks, with when it is published)",
        "docs/troubleshooting.md",
        &undocumented(&doc, EventReason::ALL.iter().map(|r| r.as_str())),
    );
}

/// A metric as the operator exposes it: sample name, type and labels.
#[derive(Debug)]
struct Metric {
    name: String,
    kind: String,
    labels: BTreeSet<String>,
}

/// The exported metrics: the `# TYPE` lines of [`Metrics::encode`], with the labels of their
/// samples after every metric was touched once.
fn exported_metrics() -> Vec<Metric> {
    let metrics = Metrics::new();
    metrics.reconcile("AwsAccountInvite");
    metrics.reconcile_error("AwsAccountInvite", "Throttled");
    metrics.observe_reconcile_duration("AwsAccountInvite", 0.1);
    AwsCallObserver::record(metrics.as_ref(), "InviteAccountToOrganization", "success");
    metrics.set_queue_length("payer", 1);
    metrics.invitation_sent("payer");
    metrics.account_left("payer");
    metrics.set_leader(true);
    metrics.transfer_invitation_sent("payer");
    metrics.transfer_invitation_ended("payer", TransferOutcome::Declined);
    let text = metrics.encode().expect("encode");
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            families.insert(name.to_owned(), kind.to_owned());
        }
    }
    let mut out = Vec::new();
    for (family, kind) in families {
        let name = if kind == "counter" {
            format!("{family}_total")
        } else {
            family.clone()
        };
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.strip_prefix(family.as_str())
                    .is_some_and(|rest| rest.starts_with(['{', ' ', '_']))
            })
            .collect();
        assert!(
            !samples.is_empty(),
            "metric {name} has no sample: touch it in exported_metrics() so its labels show"
        );
        let labels = samples
            .iter()
            .filter_map(|l| l.split_once('{').and_then(|(_, rest)| rest.split_once('}')))
            .flat_map(|(labels, _)| labels.split(',').filter_map(|kv| kv.split_once('=')))
            .map(|(k, _)| k.to_owned())
            .filter(|k| k != "le")
            .collect();
        out.push(Metric { name, kind, labels });
    }
    assert!(out.len() >= 8, "expected the exported metrics, found {out:?}");
    out
}

#[test]
fn every_metric_is_in_metrics_page_with_type_and_labels() {
    let doc = read("docs/metrics.md");
    let mut missing = Vec::new();
    for m in exported_metrics() {
        if !has_name(&doc, &m.name) {
            missing.push(format!("{} ({}, labels {:?}): not mentioned", m.name, m.kind, m.labels));
            continue;
        }
        // Its row in a table: `| `name` | type | labels | ... |`.
        let row = doc.lines().filter(|l| l.trim_start().starts_with('|')).find(|l| {
            l.split('|')
                .nth(1)
                .is_some_and(|cell| cell.trim() == format!("`{}`", m.name))
        });
        let Some(row) = row else {
            missing.push(format!("{}: no table row starting with `{}`", m.name, m.name));
            continue;
        };
        // Cells: "", name, type, labels, meaning, "".
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (kind, labels) = (cells.get(2).copied().unwrap_or(""), cells.get(3).copied().unwrap_or(""));
        if !kind.contains(m.kind.as_str()) {
            missing.push(format!("{}: its type column says {kind:?}, not {}", m.name, m.kind));
        }
        for label in &m.labels {
            if !labels.contains(&format!("`{label}`")) {
                missing.push(format!("{}: its labels column {labels:?} lacks `{label}`", m.name));
            }
        }
    }
    fail_if_missing("metrics", "docs/metrics.md", &missing);
}

#[test]
fn metrics_page_names_no_unknown_metric() {
    let doc = read("docs/metrics.md");
    let mut known = BTreeSet::new();
    for m in exported_metrics() {
        let base = m.name.trim_end_matches("_total").to_owned();
        if m.kind == "histogram" {
            for suffix in ["_bucket", "_count", "_sum"] {
                known.insert(format!("{}{suffix}", m.name));
            }
        }
        known.insert(m.name);
        known.insert(base);
    }
    let prefix = "aws_invite_";
    let mut unknown = BTreeSet::new();
    for (at, _) in doc.match_indices(prefix) {
        if doc[..at]
            .chars()
            .next_back()
            .is_some_and(|p| p.is_alphanumeric() || p == '_')
        {
            continue;
        }
        let name: String = doc[at..]
            .chars()
            .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
            .collect();
        // The bare prefix ("all names start with aws_invite_") names no metric.
        if name != prefix && !known.contains(&name) {
            unknown.insert(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "docs/metrics.md names metrics the operator does not export: {unknown:?}"
    );
}

#[test]
fn every_annotation_is_in_usage() {
    let doc = read("docs/usage.md");
    let missing: Vec<String> = ANNOTATIONS
        .into_iter()
        .filter(|a| !doc.contains(a))
        .map(str::to_owned)
        .collect();
    fail_if_missing("annotations (explain when to set each)", "docs/usage.md", &missing);
}

#[test]
fn every_aws_action_is_in_the_iam_policy() {
    let doc = read("docs/install.md");
    let missing: Vec<String> = AwsAction::ALL
        .iter()
        .map(|a| a.iam_action())
        .filter(|a| !doc.contains(&format!("\"{a}\"")))
        .collect();
    fail_if_missing(
        "AWS actions (as \"service:Action\" in a policy)",
        "docs/install.md",
        &missing,
    );
}
