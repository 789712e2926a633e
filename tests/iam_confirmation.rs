//! Manual IAM access confirmation is an authorized act (issue 12 item 5; docs/usage.md, "The IAM access step"):
//! the chart's ValidatingAdmissionPolicy lets only a user the authorizer grants the
//! `confirm-iam-access` verb set, change or remove the `awsinvite.io/iam-access-confirmed`
//! annotations, and only with `awsinvite.io/iam-access-confirmed-by` naming that user.
//! Checked on a real kube-apiserver (RBAC authorizer) with two users, through impersonation.
//!
//! Kubernetes sources: ValidatingAdmissionPolicy (GA in 1.30) and its `authorizer` and
//! `request.userInfo` variables, https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
//! ("authorizer ... may be used to perform authorization checks for the principal
//! (user or service account) of the request"); custom verbs in RBAC rules,
//! https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod helm;
mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use aws_invite_operator::api::{self, InvitePhase};
use kube_testenv::TestEnv;
use serde_json::json;

const NS: &str = "team-a";
const RELEASE: &str = "aio";
const FULLNAME: &str = "aio-aws-invite-operator";
const CONFIRMED: &str = "awsinvite.io/iam-access-confirmed";
const CONFIRMED_BY: &str = "awsinvite.io/iam-access-confirmed-by";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn ok(env: &TestEnv, args: &[&str], stdin: Option<&str>) -> String {
    let out = run(env.kubectl().args(args), stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs kubectl as `user` and returns (succeeded, stderr).
fn as_user(env: &TestEnv, user: &str, args: &[&str]) -> (bool, String) {
    let out = run(env.kubectl().args(["--as", user]).args(args), None);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn annotations(env: &TestEnv) -> serde_json::Value {
    let out = ok(env, &["get", "-n", NS, "awsaccountinvite", "acme", "-o", "json"], None);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    v["metadata"]["annotations"].clone()
}

fn annotate(env: &TestEnv, user: &str, pairs: &[String], dry_run: bool) -> (bool, String) {
    annotate_in(env, NS, user, pairs, dry_run)
}

fn annotate_in(env: &TestEnv, ns: &str, user: &str, pairs: &[String], dry_run: bool) -> (bool, String) {
    let mut args = vec!["annotate", "-n", ns, "awsaccountinvite", "acme", "--overwrite"];
    if dry_run {
        args.push("--dry-run=server");
    }
    args.extend(pairs.iter().map(String::as_str));
    as_user(env, user, &args)
}

fn confirm(by: &str) -> Vec<String> {
    vec![format!("{CONFIRMED}=true"), format!("{CONFIRMED_BY}={by}")]
}

#[tokio::test]
async fn only_a_granted_user_confirms_iam_access_and_only_as_themselves() {
    aws_invite_operator::runtime::install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane starts");
    env.install_crds(&api::crds()).await.expect("CRDs install");

    install_policy_and_roles(&env);

    ok(&env, &["create", "namespace", NS], None);
    let invite = grant_alice_and_bob(&env, NS);
    let (created, err) = {
        let out = run(env.kubectl().args(["--as", "bob", "create", "-f", "-"]), Some(&invite));
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert!(created, "bob may create an invite without confirming anything: {err}");
    wait_for_policy(&env, NS).await;
    assert_rules(&env, &invite);
}

/// The chart's policy, its binding and the user roles, as `helm install` would create them.
fn install_policy_and_roles(env: &TestEnv) {
    let rendered = run(
        helm::helm()
            .args(["template", RELEASE, "--namespace", "aws-invite-system"])
            .arg(repo().join("charts/aws-invite-operator"))
            .args([
                "--show-only",
                "templates/iam-access-confirmation.yaml",
                "--show-only",
                "templates/user-roles.yaml",
            ]),
        None,
    );
    assert!(
        rendered.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    ok(
        env,
        &["apply", "-f", "-"],
        Some(&String::from_utf8_lossy(&rendered.stdout)),
    );
}

/// Binds the roles in `ns` and returns an invite manifest (`acme`, account 444455556666) for it.
/// alice and bob both edit invites there (the asset-manager role); only alice may confirm.
/// (Aggregation into `edit` needs kube-controller-manager, absent here: bind the role itself.)
fn grant_alice_and_bob(env: &TestEnv, ns: &str) -> String {
    let bind = |name: &str, role: &str, user: &str| {
        let role = format!("--clusterrole={FULLNAME}-{role}");
        let user = format!("--user={user}");
        ok(env, &["create", "rolebinding", name, "-n", ns, &role, &user], None);
    };
    bind("alice-assets", "asset-manager", "alice");
    bind("bob-assets", "asset-manager", "bob");
    bind("alice-confirms", "iam-access-confirmer", "alice");
    format!(
        r#"{{"apiVersion":"awsinvite.io/v1alpha1","kind":"AwsAccountInvite",
            "metadata":{{"name":"acme","namespace":"{ns}"}},
            "spec":{{"billingProfile":"payer","accountId":"444455556666","notes":"Acme"}}}}"#
    )
}

/// The policy is loaded asynchronously: wait (server-side dry run, nothing stored) until it
/// refuses bob's confirmation of invite `acme` in `ns`.
async fn wait_for_policy(env: &TestEnv, ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (allowed, _) = annotate_in(env, ns, "bob", &confirm("bob"), true);
        if !allowed {
            return;
        }
        assert!(Instant::now() < deadline, "the confirmation policy never took effect");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What the policy allows and refuses, on invite `acme` in [`NS`].
fn assert_rules(env: &TestEnv, invite: &str) {
    // bob (no confirm-iam-access verb) cannot confirm, not even as himself.
    let (allowed, err) = annotate(env, "bob", &confirm("bob"), false);
    assert!(!allowed);
    assert!(err.contains("confirm-iam-access"), "{err}");
    assert!(err.contains(r#"user "bob""#), "{err}");
    assert!(annotations(env).get(CONFIRMED).is_none());

    // alice may confirm, but not in bob's name (nor in nobody's).
    let (allowed, err) = annotate(env, "alice", &confirm("bob"), false);
    assert!(!allowed);
    assert!(err.contains(r#"must be "alice""#), "{err}");
    let (allowed, err) = annotate(env, "alice", &[format!("{CONFIRMED}=true")], false);
    assert!(!allowed, "a confirmation without confirmed-by is refused");
    assert!(err.contains(CONFIRMED_BY), "{err}");

    // alice confirms as herself.
    let (allowed, err) = annotate(env, "alice", &confirm("alice"), false);
    assert!(allowed, "{err}");
    let a = annotations(env);
    assert_eq!(a[CONFIRMED], "true");
    assert_eq!(a[CONFIRMED_BY], "alice");

    // bob can still edit the invite (nothing about the confirmation changes) ...
    let (allowed, err) = as_user(
        env,
        "bob",
        &[
            "patch",
            "-n",
            NS,
            "awsaccountinvite",
            "acme",
            "--type=merge",
            "-p",
            r#"{"spec":{"notes":"Acme Corp"}}"#,
        ],
    );
    assert!(allowed, "an editor's unrelated change is allowed: {err}");
    // ... but cannot take the confirmation back or rewrite who gave it.
    let (allowed, err) = annotate(
        env,
        "bob",
        &[format!("{CONFIRMED}-"), format!("{CONFIRMED_BY}-")],
        false,
    );
    assert!(!allowed, "removing a confirmation needs the verb too");
    assert!(err.contains("confirm-iam-access"), "{err}");
    let (allowed, _) = annotate(env, "bob", &[format!("{CONFIRMED_BY}=bob")], false);
    assert!(!allowed);
    assert_eq!(annotations(env)[CONFIRMED_BY], "alice");

    // Creating an invite that is already confirmed is held to the same rules.
    let confirmed_invite = invite.replace(
        r#""name":"acme""#,
        &format!(r#""name":"acme2","annotations":{{"{CONFIRMED}":"true","{CONFIRMED_BY}":"bob"}}"#),
    );
    let out = run(
        env.kubectl().args(["--as", "bob", "create", "-f", "-"]),
        Some(&confirmed_invite),
    );
    assert!(!out.status.success(), "bob cannot create a pre-confirmed invite");
}

/// The operator end to end: a Manual invite becomes Ready on alice's admitted confirmation and
/// records her (the admission-checked annotation), not the field manager kubectl chose.
#[tokio::test]
async fn the_operator_records_the_admitted_confirmer() {
    let h = support::Harness::start().await;
    install_policy_and_roles(&h.env);
    h.create_profile(json!({})).await;
    let ns = support::NAMESPACE;
    let _ = grant_alice_and_bob(&h.env, ns);
    h.create_invite(
        "acme",
        support::STANDALONE,
        json!({"iamAccess": {"roleName": "CloudHealth", "trustedPrincipal": "arn:aws:iam::454464851268:root",
                              "externalId": "ext-123", "verification": "Manual"}}),
    )
    .await;
    h.wait_phase("acme", InvitePhase::Invited).await;
    h.aws.accept_invite_for(support::STANDALONE).await.expect("accept");
    let joined = h.wait_phase("acme", InvitePhase::Joined).await;
    assert_eq!(
        support::condition(&joined, "IamAccessVerified").map(|c| (c.0, c.1)),
        Some(("False".into(), "AwaitingManualConfirmation".into()))
    );
    wait_for_policy(&h.env, ns).await;
    let confirmed = format!("{CONFIRMED}=true");
    let confirmed_by = format!("{CONFIRMED_BY}=alice");
    let (allowed, err) = as_user(
        &h.env,
        "alice",
        &[
            "annotate",
            "-n",
            ns,
            "awsaccountinvite",
            "acme",
            "--field-manager=somebody-else",
            &confirmed,
            &confirmed_by,
        ],
    );
    assert!(allowed, "{err}");
    let ready = h.wait_phase("acme", InvitePhase::Ready).await;
    let confirmation = ready
        .status
        .and_then(|s| s.iam_access_confirmation)
        .expect("status.iamAccessConfirmation");
    assert_eq!(confirmation.confirmed_by.as_deref(), Some("alice"));
    h.stop().await;
}
