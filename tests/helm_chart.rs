//! The Helm chart (`charts/aws-invite-operator`):
//! - its `crds/` are byte for byte the generated `crds/` of the repository;
//! - `helm lint --strict` and `helm template` pass with the default values and with
//!   `ci/full-values.yaml` (every value set), rendering the expected objects;
//! - `values.schema.json` rejects bad values with a message naming the key;
//! - the RBAC has no wildcards and grants the operator exactly the verbs it uses;
//! - on a real kube-apiserver: both renders pass server-side dry-run, the pod template passes
//!   the `restricted` Pod Security Standard, and the operator binary, run with the rendered
//!   args as the chart's ServiceAccount (impersonated, so only the chart's RBAC applies), takes
//!   the Lease and drives an invite to Ready and through deletion against the orgs-emulator.
//!
//! helm is the pinned one: `$HELM` when set (`hack/test.sh` sets it), else the path
//! `hack/helm.sh` prints, building it into its cache on first use, so a plain
//! `cargo test --test helm_chart` works. If helm cannot be had these tests fail: they are never
//! skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod helm;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use aws_invite_operator::api::{self, AwsAccountInvite, BillingProfile, InvitePhase};
use helm::helm;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::wait::await_condition;
use kube_testenv::TestEnv;
use orgs_emulator::{Emulator, EmulatorConfig, Seed};
use serde_json::{Value, json};

/// The release namespace of every render.
const NS: &str = "aws-invite-system";
const FULL_VALUES: &str = "ci/full-values.yaml";
const DEADLINE: Duration = Duration::from_secs(60);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    repo().join("charts/aws-invite-operator")
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    let described = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {described}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("command finishes")
}

/// Runs `cmd`, which must succeed; returns its stdout.
fn ok(cmd: &mut Command, stdin: Option<&str>) -> String {
    let described = format!("{cmd:?}");
    let out = run(cmd, stdin);
    assert!(
        out.status.success(),
        "{described} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs `cmd`, which must fail; returns its stderr.
fn fails(cmd: &mut Command, stdin: Option<&str>) -> String {
    let described = format!("{cmd:?}");
    let out = run(cmd, stdin);
    assert!(
        !out.status.success(),
        "{described} should have failed but printed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Values {
    Default,
    Full,
}

impl Values {
    const BOTH: [Values; 2] = [Values::Default, Values::Full];

    fn release(self) -> &'static str {
        match self {
            Values::Default => "aws-invite-operator",
            Values::Full => "full",
        }
    }

    /// The objects' base name (`fullnameOverride: invites` in the full values).
    fn fullname(self) -> &'static str {
        match self {
            Values::Default => "aws-invite-operator",
            Values::Full => "invites",
        }
    }

    fn service_account(self) -> &'static str {
        match self {
            Values::Default => "aws-invite-operator",
            Values::Full => "invites-operator",
        }
    }

    fn args(self, cmd: &mut Command) -> &mut Command {
        if self == Values::Full {
            cmd.arg("-f").arg(chart().join(FULL_VALUES));
        }
        cmd
    }
}

/// `helm template` of the chart in [`NS`] with `values` and `extra` flags.
fn template(values: Values, extra: &[&str]) -> Command {
    let mut cmd = helm();
    cmd.arg("template")
        .arg(values.release())
        .arg(chart())
        .args(["--namespace", NS]);
    values.args(&mut cmd).args(extra);
    cmd
}

fn render(values: Values) -> String {
    ok(&mut template(values, &[]), None)
}

/// The YAML documents of a render, as JSON values (empty documents dropped).
fn objects(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("rendered YAML parses"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn kind_names(objects: &[Value]) -> BTreeSet<(String, String, String)> {
    objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().expect("kind").to_owned(),
                o["metadata"]["namespace"].as_str().unwrap_or("").to_owned(),
                o["metadata"]["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the render; it has {:?}", kind_names(objects)))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().expect("a string")).collect())
        .unwrap_or_default()
}

/// A role's rules as (apiGroup/resource, resourceNames) -> verbs.
fn rules(role: &Value) -> BTreeMap<(String, Vec<String>), BTreeSet<String>> {
    let mut out: BTreeMap<(String, Vec<String>), BTreeSet<String>> = BTreeMap::new();
    for rule in role["rules"].as_array().expect("rules") {
        let names: Vec<String> = strings(&rule["resourceNames"]).into_iter().map(str::to_owned).collect();
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                let key = (format!("{group}/{resource}"), names.clone());
                out.entry(key)
                    .or_default()
                    .extend(strings(&rule["verbs"]).into_iter().map(str::to_owned));
            }
        }
    }
    out
}

fn expect_rules(entries: &[(&str, &[&str], &[&str])]) -> BTreeMap<(String, Vec<String>), BTreeSet<String>> {
    entries
        .iter()
        .map(|(resource, names, verbs)| {
            (
                (resource.to_string(), names.iter().map(|n| n.to_string()).collect()),
                verbs.iter().map(|v| v.to_string()).collect(),
            )
        })
        .collect()
}

fn app_version() -> String {
    let chart_yaml: Value =
        serde_yaml::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml")).expect("yaml");
    chart_yaml["appVersion"].as_str().expect("appVersion").to_owned()
}

#[test]
fn chart_crds_are_the_generated_crds() {
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    let generated = repo().join("crds");
    let in_chart = chart().join("crds");
    let fix = "copy them: `cp crds/*.yaml charts/aws-invite-operator/crds/`";
    assert_eq!(
        names(&in_chart),
        names(&generated),
        "the chart's crds/ must hold the files of crds/; {fix}"
    );
    for name in names(&generated) {
        let want = std::fs::read(generated.join(&name)).expect("generated CRD");
        let got = std::fs::read(in_chart.join(&name)).expect("chart CRD");
        assert!(
            want == got,
            "charts/aws-invite-operator/crds/{name} differs from crds/{name}; {fix}"
        );
    }
}

#[test]
fn chart_app_version_is_the_operator_version() {
    assert_eq!(
        app_version(),
        env!("CARGO_PKG_VERSION"),
        "Chart.yaml appVersion must be the operator's Cargo.toml version (the default image tag)"
    );
}

#[test]
fn helm_lint_passes_with_default_and_full_values() {
    for values in Values::BOTH {
        let mut cmd = helm();
        cmd.arg("lint").arg("--strict").arg(chart()).args(["--namespace", NS]);
        let out = ok(values.args(&mut cmd), None);
        assert!(
            out.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{values:?}: {out}"
        );
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "{values:?}: {out}"
        );
    }
}

#[test]
fn default_values_render_one_replica_with_secret_reads_in_the_release_namespace() {
    let objs = objects(&render(Values::Default));
    let name = "aws-invite-operator";
    let want: BTreeSet<(String, String, String)> = [
        ("ServiceAccount", NS, name.to_owned()),
        ("ClusterRole", "", name.to_owned()),
        ("ClusterRoleBinding", "", name.to_owned()),
        ("Role", NS, format!("{name}-leader-election")),
        ("RoleBinding", NS, format!("{name}-leader-election")),
        ("Role", NS, format!("{name}-account-claims")),
        ("RoleBinding", NS, format!("{name}-account-claims")),
        ("Role", NS, format!("{name}-credentials")),
        ("RoleBinding", NS, format!("{name}-credentials")),
        ("ClusterRole", "", format!("{name}-asset-manager")),
        ("ClusterRole", "", format!("{name}-viewer")),
        ("ClusterRole", "", format!("{name}-billing-profile-admin")),
        ("ClusterRole", "", format!("{name}-iam-access-confirmer")),
        ("ClusterRole", "", format!("{name}-metrics-reader")),
        (
            "ValidatingAdmissionPolicy",
            "",
            format!("{name}-iam-access-confirmation"),
        ),
        (
            "ValidatingAdmissionPolicyBinding",
            "",
            format!("{name}-iam-access-confirmation"),
        ),
        ("ValidatingAdmissionPolicy", "", format!("{name}-reinvite-annotation")),
        (
            "ValidatingAdmissionPolicyBinding",
            "",
            format!("{name}-reinvite-annotation"),
        ),
        ("Service", NS, format!("{name}-metrics")),
        ("Deployment", NS, name.to_owned()),
    ]
    .into_iter()
    .map(|(k, ns, n)| (k.to_owned(), ns.to_owned(), n))
    .collect();
    assert_eq!(
        kind_names(&objs),
        want,
        "no PodDisruptionBudget with one replica, no ServiceMonitor by default"
    );

    let deploy = find(&objs, "Deployment", name);
    assert_eq!(deploy["spec"]["replicas"], 1);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], name);
    let container = &pod["containers"][0];
    assert_eq!(container["image"], format!("aws-invite-operator:{}", app_version()));
    assert_eq!(
        strings(&container["args"]),
        [
            "--log-format=json",
            "--listen-address=0.0.0.0:8080",
            "--metrics-auth=kubernetes",
            "--poll-interval=60s",
            "--concurrency=8",
            "--leader-election=true",
            "--lease-name=aws-invite-operator",
            "--lease-namespace=aws-invite-system",
            "--credentials-namespace=aws-invite-system",
        ]
    );
    let env = container["env"].as_array().expect("env");
    assert!(
        env.contains(&json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})),
        "the election identity comes from the pod name: {env:?}"
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "http-metrics");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert!(container["resources"]["requests"]["memory"].is_string());
    let sc = &container["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["runAsUser"], 65532);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");

    // Issue 12 item 1: no cluster-wide Secret reads; `get` in the credentials namespace only.
    let operator = rules(find(&objs, "ClusterRole", name));
    assert_eq!(operator.get(&("/secrets".to_owned(), vec![])), None);
    let credentials = find(&objs, "Role", &format!("{name}-credentials"));
    assert_eq!(credentials["metadata"]["namespace"], NS);
    assert_eq!(rules(credentials), expect_rules(&[("/secrets", &[], &["get"])]));
    // Issue 12 item 3: account claims are Leases in the release namespace only.
    let claims = find(&objs, "Role", &format!("{name}-account-claims"));
    assert_eq!(claims["metadata"]["namespace"], NS);
    assert_eq!(
        rules(claims),
        expect_rules(&[(
            "coordination.k8s.io/leases",
            &[],
            &["create", "delete", "get", "list", "update"]
        )])
    );
}

#[test]
fn full_values_render_every_option() {
    let objs = objects(&render(Values::Full));
    let deploy = find(&objs, "Deployment", "invites");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pdb = find(&objs, "PodDisruptionBudget", "invites");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pdb["spec"]["selector"], deploy["spec"]["selector"]);
    let monitor = find(&objs, "ServiceMonitor", "invites");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http-metrics");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(
        monitor["spec"]["endpoints"][0]["bearerTokenFile"], "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "Prometheus sends its ServiceAccount token to the authenticated /metrics"
    );
    let policy = find(&objs, "NetworkPolicy", "invites");
    assert_eq!(policy["spec"]["podSelector"], deploy["spec"]["selector"]);
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"port": "http-metrics", "protocol": "TCP"}],
        }]),
        "only the listed peers reach the metrics port"
    );
    let service = find(&objs, "Service", "invites-metrics");
    for (k, v) in monitor["spec"]["selector"]["matchLabels"].as_object().expect("labels") {
        assert_eq!(
            &service["metadata"]["labels"][k], v,
            "the ServiceMonitor selects the metrics Service"
        );
    }
    assert_eq!(service["spec"]["ports"][0]["port"], 9090);
    let sa = find(&objs, "ServiceAccount", "invites-operator");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/aws-invite-operator"
    );

    let pod = &deploy["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"],
        "registry.example.com/platform/aws-invite-operator:0.1.0-rc.1"
    );
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "regcred"}]));
    assert_eq!(pod["nodeSelector"]["kubernetes.io/os"], "linux");
    assert!(pod["tolerations"].is_array() && pod["affinity"].is_object());
    assert!(pod["topologySpreadConstraints"].is_array());
    let args = strings(&container["args"]);
    for want in [
        "--log-format=text",
        "--listen-address=0.0.0.0:9090",
        "--poll-interval=1m30s",
        "--concurrency=4",
        "--lease-name=invites-leader",
        "--lease-namespace=aws-invite-system",
    ] {
        assert!(args.contains(&want), "{want} missing from {args:?}");
    }
    let env = container["env"].as_array().expect("env");
    assert!(env.contains(&json!({"name": "AWS_REGION", "value": "us-east-1"})));
    // webIdentity: what EKS's pod identity webhook injects for the role-arn annotation.
    assert!(
        env.contains(&json!({"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/aws-invite-operator"}))
    );
    assert!(env.contains(&json!({"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"})));
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "aws-iam-token", "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount", "readOnly": true}])
    );
    assert_eq!(
        pod["volumes"],
        json!([{"name": "aws-iam-token", "projected": {"sources": [{"serviceAccountToken": {
            "audience": "sts.amazonaws.com", "expirationSeconds": 3600, "path": "token"}}]}}])
    );
    assert!(env.contains(&json!({"name": "RUST_LOG", "value": "info,aws_invite_operator=debug"})));

    // Secret reads only in the listed namespaces, through Roles.
    let operator = rules(find(&objs, "ClusterRole", "invites"));
    assert!(!operator.keys().any(|(r, _)| r == "/secrets"), "{operator:?}");
    for ns in ["billing", "billing-secrets"] {
        let role = objs
            .iter()
            .find(|o| o["kind"] == "Role" && o["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("no secrets Role in {ns}"));
        assert_eq!(rules(role), expect_rules(&[("/secrets", &[], &["get"])]));
        let binding = objs
            .iter()
            .find(|o| o["kind"] == "RoleBinding" && o["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("no secrets RoleBinding in {ns}"));
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": "invites-operator", "namespace": NS}])
        );
    }
}

#[test]
fn by_default_secrets_are_read_in_the_credentials_namespace_only() {
    // Issue 12 item 1: a BillingProfile admin must not be able to make the operator read
    // another team's Secret. By default the only Secret grant is a Role in the credentials
    // namespace (the release namespace unless operator.credentialsNamespace says otherwise).
    for (extra, credentials_ns) in [
        (&[][..], NS),
        (
            &["--set", "operator.credentialsNamespace=aws-credentials"][..],
            "aws-credentials",
        ),
    ] {
        let objs = objects(&ok(&mut template(Values::Default, extra), None));
        for role in objs
            .iter()
            .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
        {
            let name = role["metadata"]["name"].as_str().unwrap_or_default();
            let grants = rules(role).keys().any(|(resource, _)| resource == "/secrets");
            if name == "aws-invite-operator-credentials" {
                assert_eq!(role["kind"], "Role");
                assert_eq!(role["metadata"]["namespace"], credentials_ns);
                assert_eq!(rules(role), expect_rules(&[("/secrets", &[], &["get"])]));
            } else {
                assert!(!grants, "{name} grants Secret reads");
            }
        }
        let binding = find(&objs, "RoleBinding", "aws-invite-operator-credentials");
        assert_eq!(binding["metadata"]["namespace"], credentials_ns);
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "ServiceAccount", "name": "aws-invite-operator", "namespace": NS}])
        );
        let args = strings(
            &find(&objs, "Deployment", "aws-invite-operator")["spec"]["template"]["spec"]["containers"][0]["args"],
        );
        let want = format!("--credentials-namespace={credentials_ns}");
        assert!(args.contains(&want.as_str()), "{args:?}");
        assert!(
            !args.iter().any(|a| a.contains("endpoint")),
            "endpoint overrides are off by default: {args:?}"
        );
    }
}

#[test]
fn web_identity_needs_the_role_arn_annotation() {
    let stderr = fails(
        &mut template(Values::Default, &["--set", "webIdentity.enabled=true"]),
        None,
    );
    assert!(
        stderr.contains("webIdentity.enabled needs serviceAccount.annotations.eks.amazonaws.com/role-arn"),
        "{stderr}"
    );
    // Off by default: no token volume, no AWS_ROLE_ARN.
    let objs = objects(&render(Values::Default));
    let deploy = objs.iter().find(|o| o["kind"] == "Deployment").expect("Deployment");
    assert!(deploy["spec"]["template"]["spec"]["volumes"].is_null());
}

#[test]
fn endpoint_overrides_are_an_installer_choice_with_an_allowlist() {
    let objs = objects(&ok(
        &mut template(
            Values::Default,
            &[
                "--set",
                "operator.endpointOverride.enabled=true",
                "--set",
                "operator.endpointOverride.allowlist={127.0.0.1,emulator.tools:4566}",
            ],
        ),
        None,
    ));
    let args =
        strings(&find(&objs, "Deployment", "aws-invite-operator")["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(args.contains(&"--allow-endpoint-override=true"), "{args:?}");
    assert!(
        args.contains(&"--endpoint-allowlist=127.0.0.1,emulator.tools:4566"),
        "{args:?}"
    );
}

#[test]
fn several_replicas_need_leader_election() {
    let stderr = fails(
        &mut template(
            Values::Default,
            &[
                "--set",
                "replicaCount=2",
                "--set",
                "operator.leaderElection.enabled=false",
            ],
        ),
        None,
    );
    assert!(
        stderr.contains("replicaCount > 1 needs operator.leaderElection.enabled"),
        "{stderr}"
    );
    let objs = objects(&ok(
        &mut template(Values::Default, &["--set", "operator.leaderElection.enabled=false"]),
        None,
    ));
    let args =
        strings(&find(&objs, "Deployment", "aws-invite-operator")["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(args.contains(&"--leader-election=false"), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("--lease-")), "{args:?}");
    assert!(
        !objs
            .iter()
            .any(|o| o["kind"] == "Role" && o["metadata"]["name"] == "aws-invite-operator-leader-election"),
        "no Lease Role without leader election"
    );
}

#[test]
fn values_schema_rejects_bad_values_naming_the_key() {
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "replicaCount=0"], "/replicaCount"),
        (&["--set-json", r#"replicaCount="2""#], "/replicaCount"),
        (&["--set", "operator.logFormat=xml"], "/operator/logFormat"),
        (&["--set", "operator.pollInterval=5d"], "/operator/pollInterval"),
        (&["--set", "operator.concurrency=0"], "/operator/concurrency"),
        (&["--set", "operator.concurrency=many"], "/operator/concurrency"),
        (&["--set", "replicas=2"], "'replicas' not allowed"),
        (
            &["--set", "operator.leaderElection.leaseNmae=x"],
            "'leaseNmae' not allowed",
        ),
        (&["--set", "rbac.secretAccess=Some"], "/rbac/secretAccess"),
        (
            &["--set", "operator.endpointOverride.enabled=true"],
            "/operator/endpointOverride/allowlist",
        ),
        (
            &["--set", "operator.endpointOverride.allowlist={http://evil.example}"],
            "/operator/endpointOverride/allowlist/0",
        ),
        (
            &["--set", "operator.credentialsNamespace=Not_A_Namespace"],
            "/operator/credentialsNamespace",
        ),
        (&["--set", "rbac.secretAccess=Namespaces"], "/rbac/secretNamespaces"),
        (
            &["--set", "rbac.secretNamespaces={Not_A_Namespace}"],
            "/rbac/secretNamespaces/0",
        ),
        (
            &["--set-json", r#"serviceAccount.annotations={"count":1}"#],
            "/serviceAccount/annotations/count",
        ),
        (&["--set", "image.pullPolicy=Sometimes"], "/image/pullPolicy"),
        (
            &["--set", "metrics.serviceMonitor.enabled=yes"],
            "/metrics/serviceMonitor/enabled",
        ),
        (
            &["--set", "podDisruptionBudget.minAvailable=half"],
            "/podDisruptionBudget/minAvailable",
        ),
        // Values that Kubernetes objects receive: each typed as the Kubernetes API types it, so
        // helm refuses a wrong type instead of rendering an object the API server refuses.
        // EnvVar.value is a string (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#environment-variables).
        (
            &["--set-json", r#"extraEnv=[{"name":"AWS_MAX_ATTEMPTS","value":10}]"#],
            "/extraEnv/0/value",
        ),
        (
            &["--set-json", r#"extraEnv=[{"name":"DEBUG","value":true}]"#],
            "/extraEnv/0/value",
        ),
        (&["--set-json", r#"extraEnv=[{"value":"x"}]"#], "/extraEnv/0"),
        // EnvVarSource.secretKeyRef: SecretKeySelector, `key` required (same page).
        (
            &[
                "--set-json",
                r#"extraEnv=[{"name":"K","valueFrom":{"secretKeyRef":{"name":"s"}}}]"#,
            ],
            "/extraEnv/0/valueFrom/secretKeyRef",
        ),
        // SecurityContext.runAsUser is an int64; runAsNonRoot a boolean
        // (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#security-context-1).
        (
            &["--set", "securityContext.runAsUser=nobody"],
            "/securityContext/runAsUser",
        ),
        (
            &["--set-string", "podSecurityContext.runAsNonRoot=true"],
            "/podSecurityContext/runAsNonRoot",
        ),
        (
            &["--set", "securityContext.readOnlyRootFilesytem=true"],
            "'readOnlyRootFilesytem' not allowed",
        ),
        // A resource quantity (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
        (&["--set", "resources.limits.memory=lots"], "/resources/limits/memory"),
        // Toleration.operator is Exists or Equal; tolerationSeconds an int64
        // (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#scheduling).
        (
            &[
                "--set-json",
                r#"tolerations=[{"key":"k","operator":"Equals","value":"v"}]"#,
            ],
            "/tolerations/0/operator",
        ),
        (
            &[
                "--set-json",
                r#"tolerations=[{"operator":"Exists","tolerationSeconds":"300"}]"#,
            ],
            "/tolerations/0/tolerationSeconds",
        ),
        // TopologySpreadConstraint.maxSkew is an int32 (same page).
        (
            &[
                "--set-json",
                r#"topologySpreadConstraints=[{"maxSkew":"1","topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule"}]"#,
            ],
            "/topologySpreadConstraints/0/maxSkew",
        ),
        (
            &["--set-json", r#"affinity={"podAntiAfinity":{}}"#],
            "'podAntiAfinity' not allowed",
        ),
        (
            &["--set-json", r#"imagePullSecrets=[{"name":1}]"#],
            "/imagePullSecrets/0/name",
        ),
        (&["--set", "operator.pollInterval=1.5"], "/operator/pollInterval"),
        // The operator refuses a zero poll interval at start-up (--poll-interval must be positive).
        (&["--set", "operator.pollInterval=0m0.0s"], "/operator/pollInterval"),
        (
            &["--set", "metrics.serviceMonitor.interval=30 seconds"],
            "/metrics/serviceMonitor/interval",
        ),
    ];
    for (args, key) in cases {
        let stderr = fails(&mut template(Values::Default, args), None);
        assert!(
            stderr.contains("values don't meet the specifications of the schema") && stderr.contains(key),
            "{args:?}: expected a schema error naming {key:?}, got:\n{stderr}"
        );
    }
    // The same values, typed right, render: a quoted EnvVar value, a quantity as a number, a
    // Kubernetes duration with a fraction.
    let out = ok(
        &mut template(
            Values::Default,
            &[
                "--set-json",
                r#"extraEnv=[{"name":"AWS_MAX_ATTEMPTS","value":"10"}]"#,
                "--set-json",
                r#"resources={"limits":{"cpu":1,"memory":"256Mi"}}"#,
                "--set",
                "operator.pollInterval=1.5m",
            ],
        ),
        None,
    );
    assert!(out.contains("value: \"10\""), "{out}");
}

#[test]
fn rbac_has_no_wildcards_and_grants_the_operator_exactly_what_it_uses() {
    for values in Values::BOTH {
        let objs = objects(&render(values));
        for role in objs
            .iter()
            .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
        {
            for rule in role["rules"].as_array().expect("rules") {
                for field in ["apiGroups", "resources", "verbs", "resourceNames"] {
                    assert!(
                        !strings(&rule[field]).iter().any(|s| s.contains('*')),
                        "{values:?}: wildcard in {} {}: {rule}",
                        role["kind"],
                        role["metadata"]["name"]
                    );
                }
                let metrics_reader = format!("{}-metrics-reader", values.fullname());
                if role["metadata"]["name"] == metrics_reader.as_str() {
                    // The one non-resource rule: reading /metrics (metrics.auth=kubernetes).
                    assert_eq!(rule, &json!({"nonResourceURLs": ["/metrics"], "verbs": ["get"]}));
                } else {
                    assert!(rule.get("nonResourceURLs").is_none(), "{rule}");
                }
            }
        }
        let fullname = values.fullname();
        let want = expect_rules(&[
            ("awsinvite.io/awsaccountinvites", &[], &["list", "watch", "patch"]),
            ("awsinvite.io/awsaccountinvites/status", &[], &["patch"]),
            ("awsinvite.io/billingprofiles", &[], &["list", "watch"]),
            ("awsinvite.io/billingprofiles/status", &[], &["patch"]),
            ("awsinvite.io/billingtransfers", &[], &["list", "watch", "patch"]),
            ("awsinvite.io/billingtransfers/status", &[], &["patch"]),
            ("/namespaces", &[], &["get", "list", "watch"]),
            ("events.k8s.io/events", &[], &["create", "patch"]),
            // /metrics behind TokenReview + SubjectAccessReview (metrics.auth=kubernetes).
            ("authentication.k8s.io/tokenreviews", &[], &["create"]),
            ("authorization.k8s.io/subjectaccessreviews", &[], &["create"]),
        ]);
        assert_eq!(
            rules(find(&objs, "ClusterRole", fullname)),
            want,
            "{values:?}: operator ClusterRole"
        );
        let lease = match values {
            Values::Default => "aws-invite-operator",
            Values::Full => "invites-leader",
        };
        assert_eq!(
            rules(find(&objs, "Role", &format!("{fullname}-leader-election"))),
            expect_rules(&[
                ("coordination.k8s.io/leases", &[], &["create"]),
                (
                    "coordination.k8s.io/leases",
                    &[lease],
                    &["get", "list", "watch", "patch"]
                ),
            ]),
            "{values:?}: leader election Role"
        );
        let leader_role = find(&objs, "Role", &format!("{fullname}-leader-election"));
        assert_eq!(
            leader_role["metadata"]["namespace"], NS,
            "the Lease lives in the release namespace"
        );

        let labels = |name: &str| find(&objs, "ClusterRole", name)["metadata"]["labels"].clone();
        let asset_manager = labels(&format!("{fullname}-asset-manager"));
        assert_eq!(asset_manager["rbac.authorization.k8s.io/aggregate-to-edit"], "true");
        assert_eq!(asset_manager["rbac.authorization.k8s.io/aggregate-to-admin"], "true");
        assert_eq!(
            labels(&format!("{fullname}-viewer"))["rbac.authorization.k8s.io/aggregate-to-view"],
            "true"
        );
        let profile_admin = labels(&format!("{fullname}-billing-profile-admin"));
        assert!(
            !profile_admin
                .as_object()
                .expect("labels")
                .keys()
                .any(|k| k.starts_with("rbac.authorization.k8s.io/aggregate")),
            "BillingProfiles are cluster-scoped: their admin role is bound explicitly, never aggregated"
        );
        let viewer = rules(find(&objs, "ClusterRole", &format!("{fullname}-viewer")));
        assert!(
            viewer
                .values()
                .all(|verbs| verbs.iter().all(|v| ["get", "list", "watch"].contains(&v.as_str()))),
            "{viewer:?}"
        );
    }
}

// ---- on a real kube-apiserver ----

async fn control_plane() -> TestEnv {
    aws_invite_operator::runtime::install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane starts");
    env.install_crds(&api::crds()).await.expect("CRDs install");
    env
}

fn kubectl_ok(env: &TestEnv, args: &[&str], stdin: Option<&str>) -> String {
    ok(env.kubectl().args(args), stdin)
}

/// The rendered Deployment's pod as a Pod in [`NS`].
fn pod_of(objs: &[Value], fullname: &str, name: &str) -> Value {
    let template = &find(objs, "Deployment", fullname)["spec"]["template"];
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    })
}

#[tokio::test]
async fn rendered_chart_passes_server_side_dry_run_and_restricted_pod_security() {
    let env = control_plane().await;
    let fixture = repo().join("tests/fixtures/servicemonitor-crd.yaml");
    kubectl_ok(&env, &["apply", "-f", fixture.to_str().expect("utf-8 path")], None);
    kubectl_ok(
        &env,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            "crd/servicemonitors.monitoring.coreos.com",
        ],
        None,
    );
    env.create_namespace(
        NS,
        [
            ("pod-security.kubernetes.io/enforce", "restricted"),
            ("pod-security.kubernetes.io/enforce-version", "latest"),
        ],
    )
    .await
    .expect("release namespace");
    for ns in ["billing", "billing-secrets"] {
        env.create_namespace(ns, [("team", "billing")])
            .await
            .expect("namespace");
    }

    for values in Values::BOTH {
        let rendered = render(values);
        let objs = objects(&rendered);
        let out = kubectl_ok(&env, &["apply", "--dry-run=server", "-f", "-"], Some(&rendered));
        let accepted = out.lines().filter(|l| l.ends_with("(server dry run)")).count();
        assert_eq!(accepted, objs.len(), "{values:?}: every object accepted:\n{out}");

        // The pod the Deployment would create, admitted under `restricted` (PodSecurity
        // admission is on by default in kube-apiserver).
        let pod = pod_of(&objs, values.fullname(), "operator-restricted").to_string();
        let out = run(
            env.kubectl()
                .args(["create", "--dry-run=server", "-o", "name", "-f", "-"]),
            Some(&pod),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{values:?}: the operator pod must pass restricted Pod Security:\n{stderr}"
        );
        assert!(
            !stderr.contains("PodSecurity"),
            "{values:?}: no Pod Security warnings: {stderr}"
        );
    }

    // The namespace really enforces: the same pod without its security contexts is refused.
    let objs = objects(&render(Values::Default));
    let mut pod = pod_of(&objs, "aws-invite-operator", "operator-unrestricted");
    pod["spec"].as_object_mut().expect("pod spec").remove("securityContext");
    pod["spec"]["containers"][0]
        .as_object_mut()
        .expect("container")
        .remove("securityContext");
    let stderr = fails(
        env.kubectl().args(["create", "--dry-run=server", "-f", "-"]),
        Some(&pod.to_string()),
    );
    assert!(
        stderr.contains(r#"violates PodSecurity "restricted:latest""#),
        "expected a restricted Pod Security refusal, got:\n{stderr}"
    );
}

/// The emulated world: the payer organization and one standalone account to invite.
const SEED: &str = r#"
organizations:
  - id: o-helmchart01
    management_account: {id: "111111111111", email: payer@example.com, name: Payer}
    account_quota: 20
accounts:
  - {id: "222222222222", email: aws@acme.example, name: Acme}
"#;

/// Kills the operator process when the test ends, however it ends.
struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for<K>(api: Api<K>, name: &str, what: &str, check: impl Fn(&K) -> bool + Send + 'static) -> K
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let cond = move |obj: Option<&K>| obj.is_some_and(&check);
    match tokio::time::timeout(DEADLINE, await_condition(api.clone(), name, cond)).await {
        Ok(Ok(Some(obj))) => obj,
        other => panic!(
            "{name} never reached {what}: {other:?}\nnow: {:#?}",
            api.get_opt(name).await
        ),
    }
}

#[tokio::test]
async fn operator_runs_as_the_charts_service_account_with_only_the_charts_rbac() {
    let env = control_plane().await;
    env.create_namespace(NS, [("pod-security.kubernetes.io/enforce", "restricted")])
        .await
        .expect("release namespace");
    env.create_namespace("billing", [("awsinvite.io/billing-profile", "payer-main")])
        .await
        .expect("billing namespace");
    let rendered = render(Values::Default);
    let objs = objects(&rendered);
    kubectl_ok(&env, &["apply", "-f", "-"], Some(&rendered));

    // What the ServiceAccount may and may not do, as the API server's RBAC sees it.
    let user = format!("system:serviceaccount:{NS}:{}", Values::Default.service_account());
    let can = |args: &[&str]| -> bool {
        let out = run(env.kubectl().args(["auth", "can-i", "--as", &user]).args(args), None);
        match out.status.code() {
            Some(0) => true,
            Some(1) => false,
            _ => panic!("kubectl auth can-i {args:?}: {}", String::from_utf8_lossy(&out.stderr)),
        }
    };
    for yes in [
        &["watch", "awsaccountinvites.awsinvite.io", "-A"][..],
        &["patch", "awsaccountinvites.awsinvite.io", "-n", "billing"],
        &[
            "patch",
            "awsaccountinvites.awsinvite.io",
            "--subresource=status",
            "-n",
            "billing",
        ],
        &["list", "billingprofiles.awsinvite.io"],
        &["patch", "billingprofiles.awsinvite.io", "--subresource=status"],
        &["get", "namespaces"],
        &["watch", "namespaces"],
        &["get", "secrets", "-n", NS],
        &["create", "events.events.k8s.io", "-n", "billing"],
        &["create", "leases.coordination.k8s.io", "-n", NS],
        &["patch", "leases.coordination.k8s.io/aws-invite-operator", "-n", NS],
    ] {
        assert!(can(yes), "the operator needs: {yes:?}");
    }
    for no in [
        &["create", "awsaccountinvites.awsinvite.io", "-n", "billing"][..],
        &["delete", "awsaccountinvites.awsinvite.io", "-n", "billing"],
        &["update", "awsaccountinvites.awsinvite.io", "-n", "billing"],
        &["patch", "billingprofiles.awsinvite.io"],
        // Issue 12 item 1: no Secret outside the credentials namespace (the release's).
        &["get", "secrets", "-n", "billing"],
        &["get", "secrets", "-n", "default"],
        &["list", "secrets", "-n", "billing"],
        &["watch", "secrets", "-A"],
        &["create", "secrets", "-n", "billing"],
        &["patch", "namespaces"],
        &["patch", "leases.coordination.k8s.io/someone-else", "-n", NS],
        &["create", "leases.coordination.k8s.io", "-n", "default"],
        &["get", "leases.coordination.k8s.io/aws-invite-operator", "-n", "default"],
        &["create", "events", "-n", "billing"],
        &["get", "pods", "-n", NS],
    ] {
        assert!(!can(no), "the operator must not be allowed: {no:?}");
    }

    // With rbac.secretAccess=Namespaces (the full values), Secret reads only where listed.
    env.create_namespace("billing-secrets", [("team", "billing")])
        .await
        .expect("namespace");
    let full_rbac: Vec<Value> = objects(&render(Values::Full))
        .into_iter()
        .filter(|o| {
            let kind = o["kind"].as_str().unwrap_or_default();
            kind.starts_with("ClusterRole") || kind.starts_with("Role") || kind == "ServiceAccount"
        })
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": full_rbac}).to_string();
    kubectl_ok(&env, &["apply", "-f", "-"], Some(&list));
    let full_user = format!("system:serviceaccount:{NS}:{}", Values::Full.service_account());
    let full_can = |args: &[&str]| -> bool {
        let out = run(
            env.kubectl().args(["auth", "can-i", "--as", &full_user]).args(args),
            None,
        );
        out.status.success()
    };
    assert!(full_can(&["get", "secrets", "-n", "billing"]));
    assert!(full_can(&["get", "secrets", "-n", "billing-secrets"]));
    assert!(!full_can(&["get", "secrets", "-n", "default"]));
    assert!(!full_can(&["get", "secrets", "-n", NS]));
    assert!(full_can(&[
        "patch",
        "leases.coordination.k8s.io/invites-leader",
        "-n",
        NS
    ]));
    assert!(!full_can(&[
        "patch",
        "leases.coordination.k8s.io/aws-invite-operator",
        "-n",
        NS
    ]));

    // The orgs-emulator stands in for AWS; the profile reaches it with static keys from a
    // Secret (so the Secret read goes through the chart's RBAC too).
    let seed: Seed = serde_yaml::from_str(SEED).expect("seed");
    let emulator = Emulator::start(EmulatorConfig::with_seed(seed).rate_limits(false))
        .await
        .expect("emulator starts");
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "payer-keys", "namespace": NS},
        "stringData": {"AWS_ACCESS_KEY_ID": "111111111111", "AWS_SECRET_ACCESS_KEY": "emulator"},
    });
    kubectl_ok(&env, &["apply", "-f", "-"], Some(&secret.to_string()));

    // The operator binary, with the rendered Deployment's args, as the ServiceAccount.
    let mut kubeconfig: Value =
        serde_json::from_str(&std::fs::read_to_string(env.kubeconfig_path()).expect("kubeconfig")).expect("json");
    kubeconfig["users"][0]["user"]["as"] = json!(user);
    // Written into the control plane's temp dir, removed with it.
    let kubeconfig_path = env.dir().join("kubeconfig-as-operator");
    std::fs::write(&kubeconfig_path, kubeconfig.to_string()).expect("write kubeconfig");
    let container = &find(&objs, "Deployment", "aws-invite-operator")["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<String> = strings(&container["args"])
        .into_iter()
        .map(|a| {
            if a.starts_with("--listen-address=") {
                "--listen-address=127.0.0.1:0".to_owned()
            } else if a.starts_with("--poll-interval=") {
                "--poll-interval=1s".to_owned()
            } else {
                a.to_owned()
            }
        })
        // The installer's choice for a demo: overrides to the emulator only (the chart's
        // operator.endpointOverride renders these; see endpoint_overrides_are_an_installer_choice...).
        .chain([
            "--allow-endpoint-override=true".to_owned(),
            "--endpoint-allowlist=127.0.0.1".to_owned(),
        ])
        .collect();
    let log_path = env.dir().join("operator.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let identity = "aws-invite-operator-7d9f8-abcde";
    let child = Command::new(env!("CARGO_BIN_EXE_aws-invite-operator"))
        .arg("run")
        .args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBECONFIG", &kubeconfig_path)
        .env("POD_NAME", identity)
        .env("POD_NAMESPACE", NS)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("operator starts");
    let mut operator = Operator(child);
    let log_tail = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let client = env.client();
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let lease = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(lease) = leases.get_opt("aws-invite-operator").await.expect("read lease")
                && lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(identity)
            {
                return lease;
            }
            if let Ok(Some(status)) = operator.0.try_wait() {
                panic!("the operator exited ({status}):\n{}", log_tail());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the operator never took the Lease:\n{}", log_tail()));
    assert!(lease.spec.is_some());

    let profiles: Api<BillingProfile> = Api::all(client.clone());
    let profile: BillingProfile = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile",
        "metadata": {"name": "payer-main"},
        "spec": {
            "managementAccountId": "111111111111",
            "organizationId": "o-helmchart01",
            "endpointUrl": emulator.url(),
            "credentials": {"secretRef": {"name": "payer-keys"}},
            "allowedNamespaces": {
                "from": "Selector",
                "selector": {"matchLabels": {"awsinvite.io/billing-profile": "payer-main"}},
            },
        },
    }))
    .expect("profile");
    profiles
        .create(&PostParams::default(), &profile)
        .await
        .expect("profile created");
    let ready = |conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]| {
        conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
    };
    let profile = tokio::time::timeout(
        DEADLINE,
        await_condition(profiles.clone(), "payer-main", move |p: Option<&BillingProfile>| {
            p.and_then(|p| p.status.as_ref()).is_some_and(|s| ready(&s.conditions))
        }),
    )
    .await;
    assert!(
        matches!(profile, Ok(Ok(Some(_)))),
        "the profile never became Ready (secret read + status patch): {:#?}\n{}",
        profiles.get("payer-main").await.map(|p| p.status),
        log_tail()
    );

    let invites: Api<AwsAccountInvite> = Api::namespaced(client.clone(), "billing");
    let invite: AwsAccountInvite = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
        "metadata": {"name": "acme", "namespace": "billing"},
        "spec": {"billingProfile": "payer-main", "accountId": "222222222222"},
    }))
    .expect("invite");
    invites
        .create(&PostParams::default(), &invite)
        .await
        .expect("invite created");
    let phase = |i: &AwsAccountInvite| i.status.as_ref().and_then(|s| s.phase);
    let invited = wait_for(invites.clone(), "acme", "Invited", move |i| {
        phase(i) == Some(InvitePhase::Invited)
    })
    .await;
    assert!(
        invited.metadata.finalizers.as_ref().is_some_and(|f| !f.is_empty()),
        "the finalizer was added (patch)"
    );
    let events = kubectl_ok(
        &env,
        &["get", "events.events.k8s.io", "-n", "billing", "-o", "json"],
        None,
    );
    let events: Value = serde_json::from_str(&events).expect("events json");
    assert!(
        events["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["regarding"]["name"] == "acme" && e["reportingInstance"] == identity),
        "the operator published Events for the invite: {events:#}"
    );

    emulator
        .control()
        .accept_invite_for("222222222222")
        .await
        .expect("the account owner accepts");
    wait_for(invites.clone(), "acme", "Ready", move |i| {
        phase(i) == Some(InvitePhase::Ready)
    })
    .await;

    invites.delete("acme", &DeleteParams::default()).await.expect("delete");
    let gone = tokio::time::timeout(DEADLINE, async {
        while invites.get_opt("acme").await.expect("read invite").is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the finalizer was removed (patch):\n{}", log_tail());

    if let Ok(Some(status)) = operator.0.try_wait() {
        panic!("the operator exited ({status}):\n{}", log_tail());
    }
    let log = log_tail();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the operator hit an RBAC refusal:\n{log}"
    );
}
