//! Issue 12: attacks of one tenant (or a BillingProfile admin) on what the operator may do,
//! each on a real kube-apiserver and the orgs-emulator over the real AWS wire protocols.
//!
//! - item 1: a profile naming a Secret in another team's namespace must not make the operator
//!   read it or act with it, and the refusal must not tell whether the Secret exists;
//! - item 2: `spec.endpointUrl` must not make the operator send anything to a host its
//!   installer did not allow;
//! - item 7: profile Events go to the operator's namespace (not `default`), and tenants'
//!   invites get a generic message, not the profile's detail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_invite_operator::api::BillingProfile;
use aws_invite_operator::tenancy::EndpointPolicy;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::*;

const TEAM_A: &str = "team-a";

fn stalled_with(p: &BillingProfile, reason: &str) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True" && c.reason == reason)
    })
}

fn ready_message(p: &BillingProfile) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

async fn create_secret(h: &Harness, namespace: &str, name: &str) {
    let secrets: Api<Secret> = Api::namespaced(h.env.client(), namespace);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name},
        "stringData": {"AWS_ACCESS_KEY_ID": MGMT, "AWS_SECRET_ACCESS_KEY": "team-a-secret"},
    }))
    .expect("secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret created");
}

/// Events about the BillingProfile `name` in `namespace`.
async fn profile_events(h: &Harness, namespace: &str, name: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(h.env.client(), namespace);
    events
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| {
            e.regarding
                .as_ref()
                .is_some_and(|r| r.kind.as_deref() == Some("BillingProfile") && r.name.as_deref() == Some(name))
        })
        .collect()
}

/// Item 1: another team's Secret holds the payer's keys. A BillingProfile admin (who has no
/// Secret rights) names it. Before: the operator read it and the profile became Ready, acting
/// with that team's keys; and the message told whether the Secret existed.
#[tokio::test(flavor = "multi_thread")]
async fn a_profile_cannot_borrow_another_namespaces_secret() {
    let h = Harness::start().await;
    h.env
        .create_namespace(TEAM_A, [("team", "a")])
        .await
        .expect("namespace");
    create_secret(&h, TEAM_A, "payer-keys").await;

    h.create_profile(json!({"credentials": {"secretRef": {"namespace": TEAM_A, "name": "payer-keys"}}}))
        .await;
    h.create_invite("tenant", STANDALONE, json!({})).await;
    let refused = h
        .wait_profile(PROFILE, "Stalled CredentialsNamespaceNotAllowed", |p| {
            stalled_with(p, "CredentialsNamespaceNotAllowed")
        })
        .await;
    let existing = ready_message(&refused);
    assert!(existing.contains("spec.credentials.secretRef.namespace"), "{existing}");
    assert!(
        existing.contains(OPERATOR_NAMESPACE),
        "names the one namespace allowed: {existing}"
    );

    // The same refusal, word for word, for a Secret that does not exist: nothing is learned.
    let patch = json!({"spec": {"credentials": {"secretRef": {"namespace": TEAM_A, "name": "no-such-secret"}}}});
    h.profiles()
        .patch(PROFILE, &patch_params(), &kube::api::Patch::Merge(&patch))
        .await
        .expect("patched");
    let generation = h.profiles().get(PROFILE).await.expect("profile").metadata.generation;
    let missing = h
        .wait_profile(PROFILE, "the new generation refused", |p| {
            p.status.as_ref().and_then(|s| s.observed_generation) == generation
                && stalled_with(p, "CredentialsNamespaceNotAllowed")
        })
        .await;
    assert_eq!(
        ready_message(&missing),
        existing,
        "existence of a Secret elsewhere is not revealed"
    );

    // Nothing was sent to AWS with anything: no call at all.
    let calls = h.aws.calls().await.expect("call log");
    assert!(calls.is_empty(), "no AWS call with a refused profile: {calls:?}");
    assert_eq!(h.invitations_sent(STANDALONE).await, 0);

    // Item 7: the tenant's invite says the profile is not ready and whom to ask, not why.
    let invite = h
        .wait_invite("tenant", "BillingProfileNotReady", |i| {
            condition(i, "Ready")
                .is_some_and(|c| c.1 == "BillingProfileNotReady" && c.2.contains("ask its administrator"))
        })
        .await;
    let why = condition(&invite, "Ready").unwrap().2;
    assert!(why.contains("CredentialsNamespaceNotAllowed"), "{why}");
    assert!(
        !why.contains("secretRef") && !why.contains(TEAM_A) && !why.contains(OPERATOR_NAMESPACE),
        "{why}"
    );

    // Item 7: the profile's Events are in the operator's namespace, none in `default`, and
    // they name no Secret.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let events = loop {
        let events = profile_events(&h, OPERATOR_NAMESPACE, PROFILE).await;
        if !events.is_empty() {
            break events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no profile Event in {OPERATOR_NAMESPACE}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for event in &events {
        let note = event.note.clone().unwrap_or_default();
        assert!(
            !note.contains("payer-keys") && !note.contains("no-such-secret"),
            "{note}"
        );
    }
    assert!(profile_events(&h, "default", PROFILE).await.is_empty());

    // In the credentials namespace the same reference works (namespace may be left out).
    create_secret(&h, OPERATOR_NAMESPACE, "payer-keys").await;
    let patch = json!({"spec": {"credentials": {"secretRef": {"namespace": null, "name": "payer-keys"}}}});
    h.profiles()
        .patch(PROFILE, &patch_params(), &kube::api::Patch::Merge(&patch))
        .await
        .expect("patched");
    h.wait_profile(PROFILE, "Ready", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
    .await;
    h.stop().await;
}

/// A listener that counts the connections made to it (an in-cluster service an attacker
/// points the operator at).
async fn recording_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, connections)
}

/// Item 2: `spec.endpointUrl` at a host the installer did not allow (here `localhost`, which
/// reaches the listener, while the tests' allowlist names only 127.0.0.1), and with overrides
/// off altogether. Before: the operator sent its signed requests there every poll.
#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_override_goes_nowhere_the_installer_did_not_allow() {
    let mut h = Harness::start().await;
    let (port, connections) = recording_listener().await;
    let url = format!("http://localhost:{port}");
    h.create_profile(json!({"endpointUrl": url})).await;
    let refused = h
        .wait_profile(PROFILE, "Stalled EndpointNotAllowed", |p| {
            stalled_with(p, "EndpointNotAllowed")
        })
        .await;
    let message = ready_message(&refused);
    assert!(
        message.contains("spec.endpointUrl") && message.contains("allowlist"),
        "{message}"
    );

    // Overrides off (the chart's default): even the emulator's address is refused.
    h.stop_operator().await;
    h.tenancy.endpoints = EndpointPolicy::default();
    h.start_operator();
    let patch = json!({"spec": {"endpointUrl": h.emulator.url()}});
    h.profiles()
        .patch(PROFILE, &patch_params(), &kube::api::Patch::Merge(&patch))
        .await
        .expect("patched");
    let generation = h.profiles().get(PROFILE).await.expect("profile").metadata.generation;
    let off = h
        .wait_profile(PROFILE, "refused with overrides off", |p| {
            p.status.as_ref().and_then(|s| s.observed_generation) == generation && stalled_with(p, "EndpointNotAllowed")
        })
        .await;
    let message = ready_message(&off);
    assert!(message.contains("--allow-endpoint-override"), "{message}");

    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "nothing connected to the attacker's listener"
    );
    let calls = h.aws.calls().await.expect("call log");
    assert!(calls.is_empty(), "no request reached the emulator either: {calls:?}");
    h.stop().await;
}

/// Item 4: tags go to AWS under the payer's name. A profile restricts the keys tenants may set
/// and forces the invite's namespace as a tag. Before: a tenant could set any key, including
/// the one that says which tenant an account belongs to.
#[tokio::test(flavor = "multi_thread")]
async fn tenants_cannot_put_arbitrary_tags_under_the_payers_name() {
    let h = Harness::start().await;
    h.create_profile(json!({"tagPolicy": {
        "allowedKeyPrefixes": ["team/"],
        "namespaceTagKey": "awsinvite.io/namespace",
    }}))
    .await;
    // Claims to belong to another tenant, and sets a key outside the allowed prefixes.
    h.create_invite(
        "spoof",
        STANDALONE,
        json!({"tags": {"awsinvite.io/namespace": "team-b", "team/owner": "a"}}),
    )
    .await;
    h.create_invite("abac", SECOND, json!({"tags": {"access-level": "admin"}}))
        .await;
    for (name, field) in [("spoof", "namespaceTagKey"), ("abac", "allowedKeyPrefixes")] {
        let invite = h
            .wait_invite(name, "Stalled TagNotAllowed", |i| {
                condition(i, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "TagNotAllowed")
            })
            .await;
        let why = condition(&invite, "Stalled").unwrap().2;
        assert!(why.contains("spec.tags") && why.contains(field), "{why}");
    }
    assert_eq!(h.invitations_sent(STANDALONE).await, 0);
    assert_eq!(h.invitations_sent(SECOND).await, 0);

    // Allowed keys go, with the namespace tag the operator sets.
    h.create_invite("ok", "500000000001", json!({"tags": {"team/owner": "a"}}))
        .await;
    h.wait_phase("ok", aws_invite_operator::api::InvitePhase::Invited).await;
    let sent: Vec<_> = h
        .aws
        .handshakes()
        .await
        .expect("handshakes")
        .into_iter()
        .filter(|hs| hs.target_id == "500000000001")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].tags,
        [("team/owner", "a"), ("awsinvite.io/namespace", NAMESPACE)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    );
    h.stop().await;
}

/// Item 4: one namespace's invites cannot use up the profile's daily budget. Before: the
/// first tenant to create invites took every invitation of the day.
#[tokio::test(flavor = "multi_thread")]
async fn one_namespace_cannot_starve_the_others() {
    let h = Harness::start().await;
    let other = "team-b";
    h.env.create_namespace(other, [("team", "b")]).await.expect("namespace");
    h.create_profile(json!({
        "invitationsPerDay": 20,
        "invitationsPerNamespacePerDay": 1,
        "allowedNamespaces": {"namespaces": [NAMESPACE, other]},
    }))
    .await;
    h.create_invite("first", STANDALONE, json!({})).await;
    h.wait_phase("first", aws_invite_operator::api::InvitePhase::Invited)
        .await;
    h.create_invite("second", SECOND, json!({})).await;
    let queued = h
        .wait_phase("second", aws_invite_operator::api::InvitePhase::Queued)
        .await;
    let why = condition(&queued, "Ready").unwrap();
    assert_eq!(why.1, "QuotaExhausted");
    assert!(why.2.contains("spec.invitationsPerNamespacePerDay"), "{}", why.2);
    assert_eq!(h.invitations_sent(SECOND).await, 0);

    // Another namespace still gets its share the same day.
    let invites: Api<aws_invite_operator::api::AwsAccountInvite> = Api::namespaced(h.env.client(), other);
    let invite = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
        "metadata": {"name": "theirs", "namespace": other},
        "spec": {"billingProfile": PROFILE, "accountId": "500000000002"},
    }))
    .expect("invite");
    invites.create(&post_params(), &invite).await.expect("created");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while h.invitations_sent("500000000002").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "team-b's invite was starved");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    h.stop().await;
}
