//! The CRDs on a real kube-apiserver: installed as structural, examples accepted as users
//! apply them, bad input rejected at admission with a message that names the field.

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
            &["spec.reinvite.resendAfter", "at least 5m"],
        ),
        (
            "resendAfter not a duration",
            set(valid_invite("a"), "/spec/reinvite", json!({"resendAfter": "soon"})),
            &["spec.reinvite.resendAfter", "at least 5m"],
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
        (
            "endpoint that is not a URL",
            set(valid_profile("p"), "/spec/endpointUrl", json!("localhost:4566")),
            &["spec.endpointUrl", "http:// or https://"],
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
