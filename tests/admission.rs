//! The CRDs on a real kube-apiserver: installed as structural, examples accepted as users
//! apply them, bad input rejected at admission with a message that names the field.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::time::{Duration, Instant};

use aws_invite_operator::api::{self, AwsAccountInvite, BillingProfile};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::{Client, Resource};
use kube_testenv::TestEnv;
use serde_json::{Value, json};

const NAMESPACE: &str = "billing";

async fn control_plane() -> TestEnv {
    let env = TestEnv::start().await.expect("control plane starts");
    env.install_crds(&api::crds())
        .await
        .expect("CRDs install and become Established");
    env
}

fn valid_invite(name: &str) -> Value {
    json!({
        "apiVersion": "awsinvite.io/v1alpha1",
        "kind": "AwsAccountInvite",
        "metadata": { "name": name, "namespace": NAMESPACE },
        "spec": {
            "billingProfile": "payer-main",
            "accountId": "222222222222",
            "notes": "hello",
            "tags": { "customer": "acme" },
        }
    })
}

fn valid_profile(name: &str) -> Value {
    json!({
        "apiVersion": "awsinvite.io/v1alpha1",
        "kind": "BillingProfile",
        "metadata": { "name": name },
        "spec": { "managementAccountId": "111111111111", "organizationId": "o-exampleorg1" }
    })
}

fn dynamic_api<K: Resource<DynamicType = ()>>(
    client: &Client,
    namespace: Option<&str>,
) -> (Api<DynamicObject>, ApiResource) {
    let resource = ApiResource::erase::<K>(&());
    let api = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    (api, resource)
}

/// Creates `object`, expecting the API server to refuse it; returns the refusal's message.
async fn create_rejected(api: &Api<DynamicObject>, object: Value) -> String {
    let object: DynamicObject = serde_json::from_value(object).expect("object parses");
    match api.create(&PostParams::default(), &object).await {
        Ok(stored) => panic!("expected a rejection, but the API server stored {:?}", stored.data),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "rejections are 422 Invalid: {status:?}");
            status.message.clone()
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

fn set(mut object: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    object
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent exists")
        .insert(key.to_owned(), value);
    object
}

#[tokio::test]
async fn crds_install_as_structural_with_names_accepted() {
    let env = control_plane().await;
    let crds: Api<CustomResourceDefinition> = Api::all(env.client());
    for expected in api::crds() {
        let name = expected.metadata.name.clone().expect("named");
        let crd = crds.get(&name).await.expect("CRD stored");
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        let status_of = |t: &str| conditions.iter().find(|c| c.type_ == t).map(|c| c.status.clone());
        assert_eq!(
            status_of("Established").as_deref(),
            Some("True"),
            "{name}: {conditions:?}"
        );
        assert_eq!(
            status_of("NamesAccepted").as_deref(),
            Some("True"),
            "{name}: {conditions:?}"
        );
        assert_eq!(
            status_of("NonStructuralSchema"),
            None,
            "{name} must be structural: {conditions:?}"
        );
    }
    // Short names resolve through discovery and the doc comments reach `kubectl explain`, as
    // users type them. The API server publishes a new CRD's OpenAPI asynchronously: poll.
    // kubectl wraps descriptions to its width; the text is compared with runs of whitespace
    // made one space, so the check holds at any width. A description is one paragraph, so
    // its sentence reads on, wrapped only by kubectl (crds_generated.rs checks every one).
    for (words, expected) in [
        ("bp", "KIND: BillingProfile"),
        ("awsinvite", "KIND: AwsAccountInvite"),
        ("awsinvite.spec.accountId", "12-digit ID of the AWS account"),
        (
            "awsinvite.spec.accountId",
            "(quote it in YAML so leading zeros survive). Immutable:",
        ),
        (
            "bp.spec.allowedNamespaces.from",
            "(the namespace whose name equals this profile's name)",
        ),
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = env.kubectl().args(["explain", words]).output().expect("kubectl runs");
            let text = String::from_utf8_lossy(&out.stdout);
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if out.status.success() && text.contains(expected) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl explain {words} never showed {expected:?}:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    // The category lists invites.
    let out = env
        .kubectl()
        .args(["get", "awsinvite", "-A"])
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl get awsinvite: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn every_example_applies_with_kubectl_and_is_stored() {
    let env = control_plane().await;
    let examples = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    let out = env
        .kubectl()
        .args(["apply", "-f"])
        .arg(examples)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl apply -f examples/ failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let profiles: Api<BillingProfile> = Api::all(env.client());
    let profile = profiles.get("payer-main").await.expect("profile stored");
    assert_eq!(profile.spec.management_account_id, "111111111111");
    assert_eq!(profile.spec.invitations_per_day, 20);

    let invites: Api<AwsAccountInvite> = Api::namespaced(env.client(), NAMESPACE);
    let full = invites.get("acme-prod").await.expect("invite stored");
    assert_eq!(full.spec.account_id, "222222222222");
    assert_eq!(full.spec.reinvite.resend_after.as_deref(), Some("24h"));
    assert_eq!(full.spec.tags.get("customer").map(String::as_str), Some("acme"));
    let minimal = invites.get("globex-sandbox").await.expect("invite stored");
    // Defaults are applied by the API server, so every reader sees the same policy.
    assert_eq!(minimal.spec.reinvite, api::ReinvitePolicy::default());
    assert_eq!(minimal.spec.deletion_policy, api::DeletionPolicy::CancelPending);

    // Every example file produced at least one stored object.
    let listed = env
        .kubectl()
        .args(["get", "-f"])
        .arg(examples)
        .args(["-o", "name"])
        .output()
        .expect("kubectl runs");
    let names = String::from_utf8_lossy(&listed.stdout);
    for expected in [
        "namespace/billing",
        "billingprofile.awsinvite.io/payer-main",
        "awsaccountinvite.awsinvite.io/acme-prod",
        "awsaccountinvite.awsinvite.io/globex-sandbox",
    ] {
        assert!(
            names.lines().any(|l| l == expected),
            "{expected} missing from:\n{names}"
        );
    }
}

#[tokio::test]
async fn bad_invites_are_rejected_with_a_message_naming_the_field() {
    let env = control_plane().await;
    env.create_namespace(NAMESPACE, [("team", "billing")])
        .await
        .expect("namespace");
    let (invites, _) = dynamic_api::<AwsAccountInvite>(&env.client(), Some(NAMESPACE));

    let fifty_one_tags: serde_json::Map<String, Value> = (0..51).map(|i| (format!("tag{i}"), json!("v"))).collect();
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "11-digit account ID",
            set(valid_invite("a"), "/spec/accountId", json!("12345678901")),
            &["spec.accountId", "exactly 12 digits"],
        ),
        (
            "13-digit account ID",
            set(valid_invite("a"), "/spec/accountId", json!("1234567890123")),
            &["spec.accountId", "exactly 12 digits"],
        ),
        (
            "letters in account ID",
            set(valid_invite("a"), "/spec/accountId", json!("12345678901a")),
            &["spec.accountId", "exactly 12 digits"],
        ),
        (
            "empty account ID",
            set(valid_invite("a"), "/spec/accountId", json!("")),
            &["spec.accountId", "exactly 12 digits"],
        ),
        (
            "account ID as a YAML number",
            set(valid_invite("a"), "/spec/accountId", json!(222222222222_u64)),
            &["spec.accountId", "string"],
        ),
        (
            "missing account ID",
            {
                let mut v = valid_invite("a");
                v["spec"].as_object_mut().expect("spec").remove("accountId");
                v
            },
            &["spec.accountId", "Required"],
        ),
        (
            "notes of 1025 characters",
            set(valid_invite("a"), "/spec/notes", json!("n".repeat(1025))),
            &["spec.notes", "at most 1024 characters"],
        ),
        (
            "resendAfter of 1m",
            set(valid_invite("a"), "/spec/reinvite", json!({"resendAfter": "1m"})),
            &["spec.reinvite.resendAfter", "between 5m and 360h"],
        ),
        (
            // The documented maximum (docs/usage.md): an unanswered handshake expires at its
            // ExpirationTimestamp (AWS Organizations API reference, Handshake), 15 days after it
            // was sent, so a longer timer could never fire.
            "resendAfter of 361h, over the documented maximum of 360h",
            set(valid_invite("a"), "/spec/reinvite", json!({"resendAfter": "361h"})),
            &["spec.reinvite.resendAfter", "between 5m and 360h"],
        ),
        (
            "resendAfter not a duration",
            set(valid_invite("a"), "/spec/reinvite", json!({"resendAfter": "soon"})),
            &["spec.reinvite.resendAfter", "between 5m and 360h"],
        ),
        (
            "maxAttempts of 0",
            set(valid_invite("a"), "/spec/reinvite", json!({"maxAttempts": 0})),
            &["spec.reinvite.maxAttempts", "greater than or equal to 1"],
        ),
        (
            "maxAttempts of 21",
            set(valid_invite("a"), "/spec/reinvite", json!({"maxAttempts": 21})),
            &["spec.reinvite.maxAttempts", "less than or equal to 20"],
        ),
        (
            "a 51st tag",
            set(valid_invite("a"), "/spec/tags", Value::Object(fifty_one_tags)),
            &["spec.tags", "at most 50"],
        ),
        (
            "tag key of 129 characters",
            set(valid_invite("a"), "/spec/tags", json!({ "k".repeat(129): "v" })),
            &["spec.tags", "1 to 128 characters"],
        ),
        (
            "tag key starting with aws:",
            set(valid_invite("a"), "/spec/tags", json!({"aws:owner": "v"})),
            &["spec.tags", "must not start with \"aws:\""],
        ),
        (
            "tag value of 257 characters",
            set(valid_invite("a"), "/spec/tags", json!({"k": "v".repeat(257)})),
            &["spec.tags", "256"],
        ),
        (
            "tag key with a forbidden character",
            set(valid_invite("a"), "/spec/tags", json!({"a*b": "v"})),
            &["spec.tags", "may contain only"],
        ),
        (
            "unknown deletion policy",
            set(valid_invite("a"), "/spec/deletionPolicy", json!("Delete")),
            &["spec.deletionPolicy", "Unsupported value"],
        ),
        (
            "both externalId and externalIdSecretRef",
            set(
                valid_invite("a"),
                "/spec/iamAccess",
                json!({
                    "roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                    "externalId": "abc", "externalIdSecretRef": {"name": "s", "key": "k"}
                }),
            ),
            &["spec.iamAccess", "not both"],
        ),
        (
            "trusted principal that is not an ARN",
            set(
                valid_invite("a"),
                "/spec/iamAccess",
                json!({
                    "roleName": "CloudHealth", "trustedPrincipal": "cloudhealth"
                }),
            ),
            &["spec.iamAccess.trustedPrincipal", "IAM principal ARN"],
        ),
        (
            "external ID Secret whose name is not a Secret name",
            set(
                valid_invite("a"),
                "/spec/iamAccess",
                json!({"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                       "externalIdSecretRef": {"name": "Ext_ID", "key": "id"}}),
            ),
            &["spec.iamAccess.externalIdSecretRef.name", "Secret name"],
        ),
        (
            "external ID Secret key with a slash",
            set(
                valid_invite("a"),
                "/spec/iamAccess",
                json!({"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                       "externalIdSecretRef": {"name": "ext", "key": "a/b"}}),
            ),
            &["spec.iamAccess.externalIdSecretRef.key", "Secret key"],
        ),
        (
            "billing profile that is not a name",
            set(valid_invite("a"), "/spec/billingProfile", json!("Payer Main")),
            &["spec.billingProfile", "name of a BillingProfile"],
        ),
    ];
    let mut failures = Vec::new();
    for (what, object, expected) in cases {
        let message = create_rejected(&invites, object).await;
        for fragment in expected {
            if !message.contains(fragment) {
                failures.push(format!("{what}: message lacks {fragment:?}: {message}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The boundaries themselves are accepted: 1024-character notes, 50 tags, resendAfter 5m.
    let fifty_tags: serde_json::Map<String, Value> = (0..50).map(|i| (format!("tag{i}"), json!("v"))).collect();
    let edge = set(valid_invite("edge"), "/spec/notes", json!("n".repeat(1024)));
    let edge = set(edge, "/spec/tags", Value::Object(fifty_tags));
    let edge = set(edge, "/spec/reinvite", json!({"resendAfter": "5m", "maxAttempts": 20}));
    let edge: DynamicObject = serde_json::from_value(edge).expect("parses");
    invites
        .create(&PostParams::default(), &edge)
        .await
        .expect("boundary values are accepted");
}

#[tokio::test]
async fn bad_billing_profiles_are_rejected_with_a_message_naming_the_field() {
    let env = control_plane().await;
    let (profiles, _) = dynamic_api::<BillingProfile>(&env.client(), None);
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "malformed organization ID",
            set(valid_profile("p"), "/spec/organizationId", json!("org-123")),
            &["spec.organizationId", "\"o-\" followed by"],
        ),
        (
            "organization ID too short",
            set(valid_profile("p"), "/spec/organizationId", json!("o-abc")),
            &["spec.organizationId", "10 to 32"],
        ),
        (
            "management account ID of 11 digits",
            set(valid_profile("p"), "/spec/managementAccountId", json!("11111111111")),
            &["spec.managementAccountId", "exactly 12 digits"],
        ),
        (
            "role ARN that is not a role",
            set(
                valid_profile("p"),
                "/spec/credentials",
                json!({"roleArn": "arn:aws:iam::111111111111:user/bob"}),
            ),
            &["spec.credentials.roleArn", "IAM role ARN"],
        ),
        (
            "external ID without a role",
            set(valid_profile("p"), "/spec/credentials", json!({"externalId": "abc"})),
            &["spec.credentials", "only makes sense with credentials.roleArn"],
        ),
        (
            "selector without from: Selector",
            set(
                valid_profile("p"),
                "/spec/allowedNamespaces",
                json!({"from": "All", "selector": {"matchLabels": {"a": "b"}}}),
            ),
            &["spec.allowedNamespaces", "only used when from is Selector"],
        ),
        (
            "from: Selector without selector",
            set(
                valid_profile("p"),
                "/spec/allowedNamespaces",
                json!({"from": "Selector"}),
            ),
            &["spec.allowedNamespaces", "selector is required"],
        ),
        (
            "invitationsPerDay of 0",
            set(valid_profile("p"), "/spec/invitationsPerDay", json!(0)),
            &["spec.invitationsPerDay", "greater than or equal to 1"],
        ),
        // Names the operator looks up must be names Kubernetes can hold
        // (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
        (
            "allowed namespace that is not a namespace name",
            set(
                valid_profile("p"),
                "/spec/allowedNamespaces",
                json!({"namespaces": ["Billing_Team"]}),
            ),
            &["spec.allowedNamespaces.namespaces", "namespace names"],
        ),
        (
            "allowed namespace of 64 characters (a DNS label is at most 63)",
            set(
                valid_profile("p"),
                "/spec/allowedNamespaces",
                json!({"namespaces": ["n".repeat(64)]}),
            ),
            &["spec.allowedNamespaces.namespaces"],
        ),
        (
            "secret namespace that is not a namespace name",
            set(
                valid_profile("p"),
                "/spec/credentials",
                json!({"secretRef": {"namespace": "Ops", "name": "keys"}}),
            ),
            &["spec.credentials.secretRef.namespace", "namespace name"],
        ),
        (
            "secret name that is not a Secret name",
            set(
                valid_profile("p"),
                "/spec/credentials",
                json!({"secretRef": {"namespace": "ops", "name": "aws keys"}}),
            ),
            &["spec.credentials.secretRef.name", "Secret name"],
        ),
        (
            "member access role that is not an IAM role name",
            set(
                valid_profile("p"),
                "/spec/iamAccess",
                json!({"memberAccessRoleName": "read only"}),
            ),
            &["spec.iamAccess.memberAccessRoleName", "IAM role name"],
        ),
        (
            "endpoint that is not a URL",
            set(valid_profile("p"), "/spec/endpointUrl", json!("localhost:4566")),
            &["spec.endpointUrl", "http:// or https://"],
        ),
        (
            // AWS tag keys may not start with "aws:" (Organizations API Reference, Tag).
            "forced tag key in AWS's reserved space",
            set(
                valid_profile("p"),
                "/spec/tagPolicy",
                json!({"namespaceTagKey": "aws:namespace"}),
            ),
            &["spec.tagPolicy.namespaceTagKey", "aws:"],
        ),
    ];
    let mut failures = Vec::new();
    for (what, object, expected) in cases {
        let message = create_rejected(&profiles, object).await;
        for fragment in expected {
            if !message.contains(fragment) {
                failures.push(format!("{what}: message lacks {fragment:?}: {message}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn account_id_and_billing_profile_are_immutable() {
    let env = control_plane().await;
    env.create_namespace(NAMESPACE, [("team", "billing")])
        .await
        .expect("namespace");
    let invites: Api<AwsAccountInvite> = Api::namespaced(env.client(), NAMESPACE);
    let invite: AwsAccountInvite = serde_json::from_value(valid_invite("immutable")).expect("parses");
    invites.create(&PostParams::default(), &invite).await.expect("created");

    let params = PatchParams::default();
    for (patch, field, message) in [
        (
            json!({"spec": {"accountId": "333333333333"}}),
            "spec.accountId",
            "accountId is immutable",
        ),
        (
            json!({"spec": {"billingProfile": "other-payer"}}),
            "spec.billingProfile",
            "billingProfile is immutable",
        ),
    ] {
        match invites.patch("immutable", &params, &Patch::Merge(&patch)).await {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 422, "{status:?}");
                assert!(
                    status.message.contains(field) && status.message.contains(message),
                    "{}",
                    status.message
                );
            }
            other => panic!("changing {field} must be rejected, got {other:?}"),
        }
    }
    // Other fields stay editable.
    let patched = invites
        .patch(
            "immutable",
            &params,
            &Patch::Merge(&json!({"spec": {"notes": "updated"}})),
        )
        .await
        .expect("notes may change");
    assert_eq!(patched.spec.notes.as_deref(), Some("updated"));
    assert_eq!(patched.spec.account_id, "222222222222");
}

#[tokio::test]
async fn status_subresource_takes_status_and_ignores_spec() {
    let env = control_plane().await;
    env.create_namespace(NAMESPACE, [("team", "billing")])
        .await
        .expect("namespace");
    let invites: Api<AwsAccountInvite> = Api::namespaced(env.client(), NAMESPACE);
    let invite: AwsAccountInvite = serde_json::from_value(valid_invite("status")).expect("parses");
    let created = invites.create(&PostParams::default(), &invite).await.expect("created");
    assert!(created.status.is_none());

    // A client writes status through the subresource; a spec change sent there is ignored.
    let status_patch = json!({
        "spec": { "notes": "changed through status" },
        "status": {
            "phase": "Invited",
            "attempts": 1,
            "handshake": { "id": "h-0123456789", "state": "OPEN", "requestedAt": "2026-11-26T10:00:00Z" },
            "conditions": [{
                "type": "InvitationSent", "status": "True", "reason": "AwaitingAcceptance",
                "message": "waiting", "lastTransitionTime": "2026-11-26T10:00:00Z", "observedGeneration": 1
            }]
        }
    });
    let after = invites
        .patch_status("status", &PatchParams::default(), &Patch::Merge(&status_patch))
        .await
        .expect("status written");
    let status = after.status.clone().expect("status stored");
    assert_eq!(status.phase, Some(api::InvitePhase::Invited));
    assert_eq!(status.attempts, 1);
    assert_eq!(status.handshake.map(|h| h.id).as_deref(), Some("h-0123456789"));
    assert_eq!(status.conditions.len(), 1);
    assert_eq!(
        after.spec.notes.as_deref(),
        Some("hello"),
        "spec changes through /status are ignored"
    );
    assert_eq!(
        after.metadata.generation, created.metadata.generation,
        "a status write does not bump generation"
    );

    // And the main endpoint ignores status.
    let spec_patch = json!({ "spec": { "notes": "changed" }, "status": { "phase": "Ready" } });
    let after = invites
        .patch("status", &PatchParams::default(), &Patch::Merge(&spec_patch))
        .await
        .expect("spec written");
    assert_eq!(after.spec.notes.as_deref(), Some("changed"));
    assert_eq!(after.status.and_then(|s| s.phase), Some(api::InvitePhase::Invited));
    assert!(after.metadata.generation > created.metadata.generation);
}

/// Creates `object` with `dryRun=All`: the API server runs defaulting, pruning and every
/// validation but stores nothing. Ok(the object as it would be stored) or Err(the refusal).
async fn dry_run_create(api: &Api<DynamicObject>, object: &Value) -> Result<Value, String> {
    let object: DynamicObject = serde_json::from_value(object.clone()).expect("object parses");
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    match api.create(&params, &object).await {
        Ok(stored) => Ok(serde_json::to_value(stored).expect("object serializes")),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "refusals are 422 Invalid: {status:?}");
            Err(status.message)
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Strings that look like durations, built from the pieces Go's `time.ParseDuration` grammar is
/// made of (signs, digits, leading zeros, fractions, every unit, the micro signs U+00B5 and
/// U+03BC) and from pieces it refuses (days, spaces, exponents), plus arbitrary short strings.
fn duration_strings() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let atom = prop_oneof![
        Just("0"),
        Just("1"),
        Just("5"),
        Just("9"),
        Just("00"),
        Just("4"),
        Just("59"),
        Just("300"),
        Just("360"),
        Just("361"),
        Just("21600"),
        Just("1296000"),
        Just("9999999999"),
        Just("0000000"),
        Just("."),
        Just("-"),
        Just("+"),
        Just("h"),
        Just("m"),
        Just("s"),
        Just("ms"),
        Just("us"),
        Just("\u{b5}s"),
        Just("\u{3bc}s"),
        Just("ns"),
        Just("d"),
        Just(" "),
        Just("e3"),
    ];
    // Around the bounds (5m = 300 s, 360h = 1,296,000 s), written in several units.
    let near_bounds = (0_u64..=1_400_000, 0_usize..5).prop_map(|(secs, form)| match form {
        0 => format!("{secs}s"),
        1 => format!("{}ms", secs * 1000),
        2 => format!("{}.{:02}m", secs / 60, secs % 60),
        3 => format!("{}h{}s", secs / 3600, secs % 3600),
        _ => format!("{}h", secs as f64 / 3600.0),
    });
    prop_oneof![
        4 => proptest::collection::vec(atom, 1..8).prop_map(|parts| parts.concat()),
        1 => "[-+0-9.hmsnu\u{b5}d ]{0,12}",
        1 => "(([0-9]{1,6}(\\.[0-9]{0,3})?)(h|m|s|ms)){1,3}",
        2 => near_bounds,
    ]
}

/// One duration grammar on both sides: every generated string gets the same verdict from the
/// real API server (the CRD's CEL rule, Kubernetes' `duration()`, i.e. Go's `time.ParseDuration`,
/// https://pkg.go.dev/time#ParseDuration, and the field's maxLength) and from the operator's
/// parser (`api::parse_resend_after`). Accepted means a Kubernetes duration between 5m and 360h.
#[tokio::test]
async fn resend_after_admission_and_the_operator_agree_on_every_duration() {
    use proptest::strategy::{Strategy, ValueTree};
    let env = control_plane().await;
    env.create_namespace(NAMESPACE, [("team", "billing")])
        .await
        .expect("namespace");
    let (invites, _) = dynamic_api::<AwsAccountInvite>(&env.client(), Some(NAMESPACE));

    // The examples and the edges, then generated strings.
    let mut inputs: Vec<String> = [
        "1.5h",
        "1h30m",
        "300s",
        "5m",
        "4m59.999s",
        "5000000000ms",
        "360h",
        "360h0.000000001s",
        "15.0h",
        ".1h",
        "+5m",
        "-5m",
        "0",
        "5m0",
        "1d",
        "99999999999999999999h",
        "9223372036854775807ns",
        "0000000000000000000000000000005m",
        "00000000000000000000000000000005m",
        "3\u{b5}s3h",
        "2\u{3bc}s20h",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = duration_strings();
    for _ in 0..400 {
        inputs.push(strategy.new_tree(&mut runner).expect("a value").current());
    }

    let mut disagreements = Vec::new();
    let mut accepted = 0;
    for input in &inputs {
        let object = set(
            valid_invite("duration"),
            "/spec/reinvite",
            json!({ "resendAfter": input }),
        );
        let admitted = dry_run_create(&invites, &object).await;
        let parsed = api::parse_resend_after(input);
        match (&admitted, &parsed) {
            (Ok(stored), Ok(_)) => {
                accepted += 1;
                assert_eq!(stored.pointer("/spec/reinvite/resendAfter"), Some(&json!(input)));
            }
            (Err(message), Err(_)) => {
                if !message.contains("spec.reinvite.resendAfter") {
                    disagreements.push(format!("{input:?}: the refusal does not name the field: {message}"));
                }
            }
            _ => disagreements.push(format!("{input:?}: API server {admitted:?}, operator {parsed:?}")),
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // The generator reaches both verdicts often enough to mean something.
    assert!(
        accepted >= 40 && accepted <= inputs.len() - 100,
        "{accepted} of {} accepted",
        inputs.len()
    );
}

/// Every property path of `schema` (an OpenAPI v3 schema as JSON), with whether it is
/// required by its parent; arrays contribute their items as index 0.
fn property_paths(schema: &Value, path: &str, out: &mut Vec<(String, bool)>) {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = schema["properties"].as_object() {
        for (name, child) in properties {
            let child_path = format!("{path}/{name}");
            out.push((child_path.clone(), required.contains(&name.as_str())));
            property_paths(child, &child_path, out);
        }
    }
    if schema["items"].is_object() {
        property_paths(&schema["items"], &format!("{path}/0"), out);
    }
}

fn spec_schema(kind: &str) -> Value {
    let crd = api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .expect("CRD of that kind");
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema serializes");
    schema["openAPIV3Schema"]["properties"]["spec"].clone()
}

/// Helm templates, Kustomize and Argo CD write `field: null` for an optional field left empty.
/// For every optional field of both specs (found by walking the CRDs' schemas, so a new field
/// is covered without editing this test), an object that sets it to `null` is admitted and the
/// field reads back as unset (the API server prunes a `null` in a field that is not nullable:
/// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#defaulting-and-nullable),
/// and the operator reads the stored object.
#[tokio::test]
async fn null_in_every_optional_field_is_admitted_and_means_unset() {
    let env = control_plane().await;
    env.create_namespace(NAMESPACE, [("team", "billing")])
        .await
        .expect("namespace");
    let (invites, _) = dynamic_api::<AwsAccountInvite>(&env.client(), Some(NAMESPACE));
    let (profiles, _) = dynamic_api::<BillingProfile>(&env.client(), None);

    // Objects with every optional field set (two of each, where fields exclude each other).
    let full_invites = [
        set(
            set(
                valid_invite("nulls"),
                "/spec/reinvite",
                json!({"maxAttempts": 3, "onExpired": true, "onDeclined": false, "resendAfter": "24h"}),
            ),
            "/spec/iamAccess",
            json!({"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                   "externalId": "acme-7f3c9e", "verification": "Manual"}),
        ),
        set(
            set(valid_invite("nulls"), "/spec/deletionPolicy", json!("Orphan")),
            "/spec/iamAccess",
            json!({"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                   "externalIdSecretRef": {"name": "ext", "key": "id"}, "verification": "Automatic"}),
        ),
    ];
    let credentials = json!({"roleArn": "arn:aws:iam::111111111111:role/operator", "externalId": "abc",
                             "sessionName": "ops", "secretRef": {"namespace": "ops", "name": "keys"}});
    let full_profiles = [
        set(
            set(
                set(
                    set(valid_profile("nulls"), "/spec/credentials", credentials),
                    "/spec/endpointUrl",
                    json!("http://127.0.0.1:4566"),
                ),
                "/spec/region",
                json!("eu-west-1"),
            ),
            "/spec/allowedNamespaces",
            json!({"from": "Selector", "namespaces": ["billing"], "selector": {
                "matchLabels": {"team": "billing"},
                "matchExpressions": [{"key": "tier", "operator": "Exists", "values": []}]}}),
        ),
        set(
            set(
                set(
                    set(valid_profile("nulls"), "/spec/invitationsPerDay", json!(5)),
                    "/spec/invitationsPerNamespacePerDay",
                    json!(2),
                ),
                "/spec/iamAccess",
                json!({"verification": "Manual", "memberAccessRoleName": "ReadOnlyBilling"}),
            ),
            "/spec/tagPolicy",
            json!({"allowedKeyPrefixes": ["team/"], "namespaceTagKey": "awsinvite.io/namespace"}),
        ),
    ];
    for full in full_invites.iter().chain(&full_profiles) {
        let api = if full["kind"] == "BillingProfile" {
            &profiles
        } else {
            &invites
        };
        dry_run_create(api, full).await.expect("the full object is admitted");
    }

    let mut failures = Vec::new();
    let mut admitted = 0;
    for (kind, api, fulls) in [
        ("AwsAccountInvite", &invites, &full_invites[..]),
        ("BillingProfile", &profiles, &full_profiles[..]),
    ] {
        let mut paths = Vec::new();
        property_paths(&spec_schema(kind), "/spec", &mut paths);
        for (path, required) in paths {
            if required {
                continue;
            }
            let holders: Vec<&Value> = fulls.iter().filter(|f| f.pointer(&path).is_some()).collect();
            if holders.is_empty() {
                failures.push(format!("{kind} {path}: no full object sets it; add it to this test"));
            }
            for full in holders {
                // `null` must mean exactly what leaving the field out means.
                let with_null = dry_run_create(api, &set(full.clone(), &path, Value::Null)).await;
                let (parent, key) = path.rsplit_once('/').expect("a parent");
                let mut absent = full.clone();
                match absent.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(key);
                    }
                    other => panic!("{path}: parent is {other:?}"),
                }
                let without = dry_run_create(api, &absent).await;
                match (&with_null, &without) {
                    (Ok(stored), Ok(expected)) => {
                        admitted += 1;
                        if stored["spec"] != expected["spec"] {
                            failures.push(format!(
                                "{kind} {path}: null stored {} but leaving it out stores {}",
                                stored["spec"], expected["spec"]
                            ));
                        }
                        let typed = if kind == "BillingProfile" {
                            serde_json::from_value::<BillingProfile>(stored.clone()).map(|_| ())
                        } else {
                            serde_json::from_value::<AwsAccountInvite>(stored.clone()).map(|_| ())
                        };
                        if let Err(e) = typed {
                            failures.push(format!(
                                "{kind} {path}: the operator cannot read the stored object: {e}"
                            ));
                        }
                    }
                    (Err(_), Err(_)) => {}
                    _ => failures.push(format!(
                        "{kind} {path}: with null {with_null:?}, left out {:?}",
                        without.as_ref().map(|_| "admitted")
                    )),
                }
            }
        }
    }
    assert!(admitted >= 25, "only {admitted} null cases were admitted");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The cases, read back through the typed API: null means unset.
    let invite = set(full_invites[0].clone(), "/spec/iamAccess/verification", Value::Null);
    let stored = dry_run_create(&invites, &invite).await.expect("admitted");
    let stored: AwsAccountInvite = serde_json::from_value(stored).expect("typed");
    assert_eq!(stored.spec.iam_access.and_then(|i| i.verification), None);
    let profile = set(
        full_profiles[1].clone(),
        "/spec/allowedNamespaces",
        json!({"from": null}),
    );
    let stored = dry_run_create(&profiles, &profile).await.expect("admitted");
    let stored: BillingProfile = serde_json::from_value(stored).expect("typed");
    assert_eq!(stored.spec.allowed_namespaces.from, None);
}

/// `allowedNamespaces.selector` is a LabelSelector, validated at admission the way Kubernetes
/// validates every LabelSelector (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
/// and https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/label-selector/):
/// operators In, NotIn, Exists, DoesNotExist; values required for In/NotIn and forbidden for
/// Exists/DoesNotExist; keys and values of label syntax. Each selector is also sent as the
/// podSelector of a NetworkPolicy, which the API server validates with its own
/// LabelSelector validation: both verdicts must agree, and our refusal names the field.
#[tokio::test]
async fn namespace_selectors_are_validated_as_kubernetes_validates_label_selectors() {
    let env = control_plane().await;
    env.create_namespace(NAMESPACE, [("team", "billing")])
        .await
        .expect("namespace");
    let (profiles, _) = dynamic_api::<BillingProfile>(&env.client(), None);
    let policies: Api<DynamicObject> = Api::namespaced_with(
        env.client(),
        NAMESPACE,
        &ApiResource::erase::<k8s_openapi::api::networking::v1::NetworkPolicy>(&()),
    );
    let long_prefix = format!("{}.example.com/team", "a".repeat(250));
    let name_63 = "n".repeat(63);
    let name_64 = "n".repeat(64);
    let value_63 = "v".repeat(63);
    let value_64 = "v".repeat(64);
    let req = |key: &str, op: &str, values: Option<Vec<&str>>| {
        let mut r = json!({"key": key, "operator": op});
        if let Some(v) = values {
            r["values"] = json!(v);
        }
        json!({"matchExpressions": [r]})
    };
    let labels = |key: &str, value: &str| json!({"matchLabels": {key: value}});
    // (what, selector, None if valid, else a fragment of the field path our refusal names)
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("In with values", req("team", "In", Some(vec!["billing", "ops"])), None),
        ("NotIn with a value", req("team", "NotIn", Some(vec!["x"])), None),
        ("Exists", req("team", "Exists", None), None),
        (
            "DoesNotExist with empty values",
            req("team", "DoesNotExist", Some(vec![])),
            None,
        ),
        ("prefixed key", req("example.com/team", "Exists", None), None),
        ("63-character name", req(&name_63, "Exists", None), None),
        ("matchLabels with an empty value", labels("team", ""), None),
        (
            "matchLabels 63-character value",
            labels("example.com/team", &value_63),
            None,
        ),
        (
            "unknown operator",
            req("team", "Equals", Some(vec!["x"])),
            Some("matchExpressions[0].operator"),
        ),
        (
            "In without values",
            req("team", "In", None),
            Some("matchExpressions[0].values"),
        ),
        (
            "NotIn with empty values",
            req("team", "NotIn", Some(vec![])),
            Some("matchExpressions[0].values"),
        ),
        (
            "Exists with values",
            req("team", "Exists", Some(vec!["x"])),
            Some("matchExpressions[0].values"),
        ),
        (
            "DoesNotExist with values",
            req("team", "DoesNotExist", Some(vec!["x"])),
            Some("matchExpressions[0].values"),
        ),
        (
            "key with a space",
            req("my team", "Exists", None),
            Some("matchExpressions[0].key"),
        ),
        (
            "key starting with a dash",
            req("-team", "Exists", None),
            Some("matchExpressions[0].key"),
        ),
        (
            "64-character name",
            req(&name_64, "Exists", None),
            Some("matchExpressions[0].key"),
        ),
        ("empty key", req("", "Exists", None), Some("matchExpressions[0].key")),
        (
            "prefix not a DNS subdomain",
            req("Example.com/team", "Exists", None),
            Some("matchExpressions[0].key"),
        ),
        (
            "prefix over 253 characters",
            req(&long_prefix, "Exists", None),
            Some("matchExpressions[0].key"),
        ),
        (
            "two slashes",
            req("a/b/c", "Exists", None),
            Some("matchExpressions[0].key"),
        ),
        (
            "value with a space",
            req("team", "In", Some(vec!["a b"])),
            Some("matchExpressions[0].values[0]"),
        ),
        (
            "64-character value",
            req("team", "In", Some(vec![&value_64])),
            Some("matchExpressions[0].values[0]"),
        ),
        (
            "matchLabels bad key",
            labels("team!", "x"),
            Some("selector.matchLabels"),
        ),
        (
            "matchLabels value ending in a dot",
            labels("team", "billing."),
            Some("selector.matchLabels"),
        ),
        (
            "matchLabels 64-character value",
            labels("team", &value_64),
            Some("selector.matchLabels"),
        ),
    ];
    let mut failures = Vec::new();
    for (what, selector, refused_at) in cases {
        let profile = set(
            valid_profile("selector"),
            "/spec/allowedNamespaces",
            json!({"from": "Selector", "selector": selector}),
        );
        let ours = dry_run_create(&profiles, &profile).await;
        let policy = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "selector", "namespace": NAMESPACE},
            "spec": {"podSelector": selector}
        });
        let kubernetes = dry_run_create(&policies, &policy).await;
        if ours.is_ok() != kubernetes.is_ok() {
            failures.push(format!(
                "{what}: BillingProfile {:?}, NetworkPolicy {:?}",
                ours.as_ref().map(|_| "admitted"),
                kubernetes.as_ref().map(|_| "admitted")
            ));
        }
        match (refused_at, &ours) {
            (None, Ok(_)) => {}
            (None, Err(message)) => failures.push(format!("{what}: refused: {message}")),
            (Some(_), Ok(_)) => failures.push(format!("{what}: admitted")),
            (Some(field), Err(message)) => {
                let path = format!(
                    "spec.allowedNamespaces.selector.{}",
                    field.trim_start_matches("selector.")
                );
                if !message.contains(&path) {
                    failures.push(format!("{what}: the refusal does not name {path}: {message}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The Secret an invite names for its external ID: admission accepts a name and key exactly
/// when Kubernetes can hold such a Secret (names: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-subdomain-names;
/// keys: https://kubernetes.io/docs/concepts/configuration/secret/#restriction-names-data).
/// Each pair goes to the API server twice: as a Secret and as an invite naming it.
#[tokio::test]
async fn secret_references_admit_what_kubernetes_admits_for_secrets() {
    let env = control_plane().await;
    env.create_namespace(NAMESPACE, [("team", "billing")])
        .await
        .expect("namespace");
    let (invites, _) = dynamic_api::<AwsAccountInvite>(&env.client(), Some(NAMESPACE));
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        env.client(),
        NAMESPACE,
        &ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    );
    let long_name = format!("{}.example", "a".repeat(240));
    let too_long = "a".repeat(254);
    let pairs = [
        ("ext", "id"),
        ("ext-id.v2", "external_id.txt"),
        ("0ext", "ID-1"),
        (long_name.as_str(), "k"),
        ("Ext", "id"),
        ("ext_id", "id"),
        ("-ext", "id"),
        ("ext.", "id"),
        ("ext", "a/b"),
        ("ext", "a b"),
        ("ext", ".."),
        (too_long.as_str(), "id"),
    ];
    let mut failures = Vec::new();
    for (name, key) in pairs {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "stringData": {key: "x"}
        });
        let kubernetes = dry_run_create(&secrets, &secret).await.is_ok();
        let invite = set(
            valid_invite("secret-ref"),
            "/spec/iamAccess",
            json!({"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                   "externalIdSecretRef": {"name": name, "key": key}}),
        );
        let ours = dry_run_create(&invites, &invite).await;
        if ours.is_ok() != kubernetes {
            failures.push(format!(
                "name {name:?} key {key:?}: Secret admitted {kubernetes}, invite {ours:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
