//! `/metrics` behind Kubernetes authentication and authorization (`--metrics-auth kubernetes`,
//! the chart's default; issue 12 item 7), on a real kube-apiserver: the scraper's bearer token is
//! checked with a TokenReview and its user with a SubjectAccessReview for `get` on the
//! non-resource URL `/metrics`, as controller-runtime's secure metrics filter does.
//!
//! Kubernetes sources: TokenReview, https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/ ;
//! SubjectAccessReview with nonResourceAttributes, https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access ;
//! RBAC nonResourceURLs, https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources .
//! Bearer scheme and 401 + `WWW-Authenticate: Bearer`: RFC 6750 section 3.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod helm;

use std::net::SocketAddr;
use std::path::Path;

use aws_invite_operator::runtime::http::{self, Health};
use aws_invite_operator::runtime::metrics_access::{MetricsAccess, MetricsAuth};
use aws_invite_operator::telemetry::Metrics;
use kube_testenv::TestEnv;

fn kubectl(env: &TestEnv, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = env
        .kubectl()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kubectl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The chart's `<release>-metrics-reader` ClusterRole, rendered by the pinned helm.
fn metrics_reader_role() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = helm::helm()
        .args([
            "template",
            "aio",
            "--namespace",
            "aws-invite-system",
            "--show-only",
            "templates/rbac.yaml",
        ])
        .arg(repo.join("charts/aws-invite-operator"))
        .output()
        .expect("helm template");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8_lossy(&out.stdout).into_owned();
    rendered
        .split("\n---")
        .find(|doc| doc.contains("name: aio-aws-invite-operator-metrics-reader"))
        .expect("the chart renders a metrics-reader ClusterRole by default")
        .to_owned()
}

#[tokio::test]
async fn metrics_need_a_token_the_api_server_authenticates_and_authorizes() {
    aws_invite_operator::runtime::install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane");
    kubectl(&env, &["apply", "-f", "-"], Some(&metrics_reader_role()));
    kubectl(&env, &["create", "namespace", "monitoring"], None);
    for sa in ["prometheus", "nobody"] {
        kubectl(&env, &["create", "serviceaccount", sa, "-n", "monitoring"], None);
    }
    kubectl(
        &env,
        &[
            "create",
            "clusterrolebinding",
            "prometheus-reads-metrics",
            "--clusterrole=aio-aws-invite-operator-metrics-reader",
            "--serviceaccount=monitoring:prometheus",
        ],
        None,
    );
    let token = |sa: &str| kubectl(&env, &["create", "token", sa, "-n", "monitoring"], None);
    let (allowed_token, other_token) = (token("prometheus"), token("nobody"));

    let access = MetricsAccess::new(MetricsAuth::Kubernetes);
    access.connect(env.client());
    let (listener, addr) = http::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
    let health = Health::new();
    health.set_ready(true);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve_listener(
        listener,
        health,
        Metrics::new(),
        access,
        async move {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let get = |path: &str, bearer: Option<&str>| {
        let mut req = http.get(format!("http://{addr}{path}"));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        req.send()
    };

    // Probes stay open: the kubelet sends no credentials.
    assert_eq!(get("/healthz", None).await.expect("healthz").status(), 200);
    assert_eq!(get("/readyz", None).await.expect("readyz").status(), 200);

    // No token, or one the API server does not accept: 401 with the Bearer challenge.
    let resp = get("/metrics", None).await.expect("metrics");
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        get("/metrics", Some("not-a-token")).await.expect("metrics").status(),
        401
    );

    // An authenticated ServiceAccount without get on /metrics: 403, naming the user.
    let resp = get("/metrics", Some(&other_token)).await.expect("metrics");
    assert_eq!(resp.status(), 403);
    let body = resp.text().await.expect("body");
    assert!(body.contains("system:serviceaccount:monitoring:nobody"), "{body}");

    // The bound scraper reads the metrics (OpenMetrics), twice (the second from the cache).
    for _ in 0..2 {
        let resp = get("/metrics", Some(&allowed_token)).await.expect("metrics");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], http::OPENMETRICS_CONTENT_TYPE);
        let body = resp.text().await.expect("body");
        assert!(body.ends_with("# EOF\n"), "{body}");
    }

    let _ = stop.send(());
    server.await.expect("join").expect("server ends cleanly");
}
