//! The `awsinvite.io/reinvite` annotation is bounded by construction (issue 12, item 6): its
//! value has one grammar (`api::REINVITE_VALUE_PATTERN`, `api::check_reinvite_value`), which the
//! chart's ValidatingAdmissionPolicy (`templates/reinvite-annotation.yaml`) enforces at
//! admission and the operator enforces again (a cluster without the policy, or a value stored
//! before it): an invalid value stalls the invite with `ReinviteRequestInvalid`, sends nothing and
//! is never copied into the status or a message; a later valid value is honoured.
//!
//! Both are given one table of values on a real kube-apiserver (and the emulator for the operator).
//! Kubernetes sources: ValidatingAdmissionPolicy (GA in 1.30), CEL `matches` (RE2 syntax),
//! https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/ and
//! https://kubernetes.io/docs/reference/using-api/cel/; an annotation may hold up to 256 KiB in
//! all, https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/#syntax-and-character-set

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod helm;
mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_invite_operator::api::{self, AwsAccountInvite, InvitePhase, REINVITE_ANNOTATION, check_reinvite_value};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_testenv::TestEnv;
use serde_json::json;
use support::{Harness, NAMESPACE, STANDALONE, condition};

const NS: &str = "team-a";

/// Every value both sides are asked about, with the verdict the grammar gives.
fn table() -> Vec<(String, bool)> {
    let valid = [
        "1",
        "no-email-1",
        "try-again",
        "v2",
        // docs/usage.md: `date -u +%Y%m%dT%H%M%SZ`
        "20261130T100000Z",
        "2026-11-30T10:00:00Z",
        "2026-11-30T10:00:00.123Z",
        "a_b.c:d-e",
    ];
    let invalid = [
        "",
        "two words",
        "2026-11-30T10:00:00+01:00",
        "a/b",
        "caf\u{e9}",
        "line\nbreak",
        "\"quoted\"",
        "semi;colon",
    ];
    let mut rows: Vec<(String, bool)> = valid.iter().map(|v| ((*v).to_owned(), true)).collect();
    rows.extend(invalid.iter().map(|v| ((*v).to_owned(), false)));
    rows.push(("a".repeat(63), true));
    rows.push(("a".repeat(64), false));
    rows.push(("x".repeat(10_000), false));
    rows
}

fn invites(env: &TestEnv, ns: &str) -> Api<AwsAccountInvite> {
    Api::namespaced(env.client(), ns)
}

fn invite(name: &str, annotations: serde_json::Value) -> AwsAccountInvite {
    serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": {"billingProfile": "payer", "accountId": "444455556666"},
    }))
    .expect("invite")
}

/// Sets the annotation on `name` (a server-side dry run when `dry_run`); Err: the API server's message.
async fn annotate(api: &Api<AwsAccountInvite>, name: &str, value: &str, dry_run: bool) -> Result<(), String> {
    let params = PatchParams {
        dry_run,
        ..PatchParams::default()
    };
    let patch = json!({"metadata": {"annotations": {REINVITE_ANNOTATION: value}}});
    match api.patch(name, &params, &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(response)) => Err(response.message),
        Err(other) => panic!("patch {name}: {other}"),
    }
}

/// The chart's reinvite policy and its binding, as `helm install` would create them.
fn install_policy(env: &TestEnv) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rendered = helm::helm()
        .args(["template", "aio", "--namespace", "aws-invite-system"])
        .arg(repo.join("charts/aws-invite-operator"))
        .args(["--show-only", "templates/reinvite-annotation.yaml"])
        .output()
        .expect("helm template");
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let yaml = String::from_utf8(rendered.stdout).expect("utf-8");
    assert!(
        yaml.contains(api::REINVITE_VALUE_PATTERN),
        "the policy uses the operator's pattern {}",
        api::REINVITE_VALUE_PATTERN
    );
    let mut apply = env
        .kubectl()
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    {
        use std::io::Write;
        apply
            .stdin
            .take()
            .expect("stdin")
            .write_all(yaml.as_bytes())
            .expect("write");
    }
    let out = apply.wait_with_output().expect("kubectl apply");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn admission_and_the_operator_agree_on_every_reinvite_value() {
    aws_invite_operator::runtime::install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane starts");
    env.install_crds(&api::crds()).await.expect("CRDs install");
    env.create_namespace(NS, [("team", "a")]).await.expect("namespace");
    let api = invites(&env, NS);
    // Stored before the policy: an invalid value the policy must still let other edits pass.
    api.create(
        &PostParams::default(),
        &invite("legacy", json!({REINVITE_ANNOTATION: "not valid!"})),
    )
    .await
    .expect("created before the policy");
    api.create(&PostParams::default(), &invite("acme", json!({})))
        .await
        .expect("acme");

    install_policy(&env);
    // The policy is loaded asynchronously: wait (dry runs, nothing stored) until it refuses.
    let deadline = Instant::now() + Duration::from_secs(60);
    while annotate(&api, "acme", "two words", true).await.is_ok() {
        assert!(Instant::now() < deadline, "the reinvite policy never took effect");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    for (value, valid) in table() {
        let shown = format!("{value:.40?} ({} bytes)", value.len());
        assert_eq!(check_reinvite_value(&value).is_ok(), valid, "operator: {shown}");
        let admitted = annotate(&api, "acme", &value, false).await;
        match admitted {
            Ok(()) => assert!(valid, "admission let {shown} in"),
            Err(message) => {
                assert!(!valid, "admission refused {shown}: {message}");
                assert!(message.contains(REINVITE_ANNOTATION), "{message}");
                assert!(message.contains("1 to 63 characters"), "{message}");
            }
        }
        // Creating with the value is held to the same rule.
        let created = api
            .create(
                &PostParams {
                    dry_run: true,
                    ..PostParams::default()
                },
                &invite("fresh", json!({REINVITE_ANNOTATION: value})),
            )
            .await;
        assert_eq!(created.is_ok(), valid, "create with {shown}: {created:?}");
    }

    // An object stored before the policy: unrelated edits pass, a new value is checked.
    let notes = json!({"spec": {"notes": "edited"}});
    api.patch("legacy", &PatchParams::default(), &Patch::Merge(&notes))
        .await
        .expect("an unchanged value does not block other edits");
    assert!(annotate(&api, "legacy", "still not valid", false).await.is_err());
    annotate(&api, "legacy", "2026-11-30T10:00:00Z", false)
        .await
        .expect("a valid value replaces it");
    env.stop().expect("stop");
}

/// Without the policy (or with a value stored before it), the operator refuses the value itself.
#[tokio::test]
async fn an_invalid_reinvite_value_stalls_the_invite_until_a_valid_one_is_honoured() {
    let h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite("noemail", STANDALONE, json!({})).await;
    h.wait_phase("noemail", InvitePhase::Invited).await;

    let huge = "x".repeat(64 * 1024);
    let patch = json!({"metadata": {"annotations": {REINVITE_ANNOTATION: huge}}});
    h.invites()
        .patch("noemail", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("no policy installed: the API server stores it");
    let stalled = h
        .wait_invite("noemail", "Stalled ReinviteRequestInvalid", |i| {
            condition(i, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "ReinviteRequestInvalid")
        })
        .await;
    let status = stalled.status.expect("status");
    assert_eq!(status.last_reinvite_request, None, "the value is not recorded");
    assert_eq!(status.attempts, 1);
    let stalled_message = condition(&h.invites().get("noemail").await.expect("get"), "Stalled")
        .expect("Stalled")
        .2;
    assert!(stalled_message.contains(REINVITE_ANNOTATION), "{stalled_message}");
    assert!(stalled_message.contains("63 characters"), "{stalled_message}");
    for c in &status.conditions {
        assert!(!c.message.contains("xxxxxxxx"), "{} quotes the value", c.type_);
    }
    h.wait_events("noemail", &["Stalled"]).await;
    let events: Api<Event> = Api::namespaced(h.env.client(), NAMESPACE);
    for e in events.list(&Default::default()).await.expect("events").items {
        let note = e.note.unwrap_or_default();
        assert!(!note.contains("xxxxxxxx"), "event {:?} quotes the value", e.reason);
    }
    assert_eq!(h.invitations_sent(STANDALONE).await, 1, "nothing sent");

    // A valid value (an ISO timestamp) is honoured once the 5-minute floor has passed.
    let valid = "2026-11-30T10:00:00Z";
    let patch = json!({"metadata": {"annotations": {REINVITE_ANNOTATION: valid}}});
    h.invites()
        .patch("noemail", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("annotate");
    h.advance(Duration::from_secs(6 * 60)).await;
    let resent = h
        .wait_invite("noemail", "attempt 2", |i| {
            i.status.as_ref().is_some_and(|s| s.attempts == 2)
        })
        .await;
    assert_eq!(condition(&resent, "Stalled").map(|c| c.0), Some("False".into()));
    let status = resent.status.expect("status");
    assert_eq!(status.last_reinvite_request.as_deref(), Some(valid));
    assert_eq!(h.invitations_sent(STANDALONE).await, 2);
    h.stop().await;
}
