//! Real tests against real etcd + kube-apiserver processes (no mocks).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use kube_testenv::TestEnv;

async fn start() -> TestEnv {
    let t = Instant::now();
    let env = TestEnv::start().await.expect("control plane starts");
    eprintln!("kube-testenv started in {:?} at {}", t.elapsed(), env.server_url());
    env
}

fn pid_alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie would show state Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn lists_namespaces_and_stores_objects() {
    let env = start().await;
    let client = env.client();
    let names: Vec<String> = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("list namespaces")
        .items
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .collect();
    assert!(names.iter().any(|n| n == "default"), "namespaces: {names:?}");

    let ns = env
        .create_namespace("team-a", [("team", "a")])
        .await
        .expect("create namespace");
    assert_eq!(
        ns.metadata.labels.unwrap_or_default().get("team").map(String::as_str),
        Some("a")
    );
    let cm = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("cm".into()),
            ..Default::default()
        },
        data: Some([("k".to_string(), "v".to_string())].into()),
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), "team-a")
        .create(&PostParams::default(), &cm)
        .await
        .expect("create configmap");
    let got = Api::<ConfigMap>::namespaced(client, "team-a")
        .get("cm")
        .await
        .expect("get configmap");
    assert_eq!(got.data.unwrap_or_default().get("k").map(String::as_str), Some("v"));
    env.stop().expect("stop");
}

#[tokio::test]
async fn kubectl_uses_the_kubeconfig() {
    let env = start().await;
    let out = env
        .kubectl()
        .args(["get", "ns", "-o", "name"])
        .output()
        .expect("run kubectl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l == "namespace/default"),
        "kubectl get ns: {stdout}"
    );

    let out = env
        .kubectl()
        .args(["auth", "can-i", "*", "*"])
        .output()
        .expect("run kubectl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "yes",
        "admin is system:masters"
    );
}

const WIDGET_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": { "name": "widgets.example.com" },
  "spec": {
    "group": "example.com",
    "scope": "Namespaced",
    "names": { "plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList" },
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "schema": { "openAPIV3Schema": { "type": "object", "properties": {
        "spec": { "type": "object", "properties": { "size": { "type": "integer", "minimum": 1 } } }
      } } }
    }]
  }
}"#;

#[tokio::test]
async fn installs_crds_and_serves_them() {
    let env = start().await;
    let crd: CustomResourceDefinition = serde_json::from_str(WIDGET_CRD).expect("crd json");
    env.install_crds(std::slice::from_ref(&crd)).await.expect("install CRD");
    // Installing again (server-side apply) is idempotent.
    env.install_crds(&[crd]).await.expect("re-install CRD");

    let ok = env
        .kubectl()
        .args(["apply", "-n", "default", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(
                br#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":0}}"#,
            )?;
            child.wait_with_output()
        })
        .expect("run kubectl");
    assert!(!ok.status.success(), "size 0 must be rejected by the CRD schema");
    assert!(
        String::from_utf8_lossy(&ok.stderr).contains("spec.size"),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[tokio::test]
async fn two_envs_run_side_by_side() {
    let (a, b) = tokio::join!(start(), start());
    assert_ne!(a.server_url(), b.server_url());
    assert_ne!(a.etcd_url(), b.etcd_url());
    a.create_namespace("only-in-a", Vec::<(String, String)>::new())
        .await
        .expect("create in a");
    let in_b = Api::<Namespace>::all(b.client())
        .get_opt("only-in-a")
        .await
        .expect("get from b");
    assert!(in_b.is_none(), "environments must not share storage");
    let in_a = Api::<Namespace>::all(a.client())
        .get_opt("only-in-a")
        .await
        .expect("get from a");
    assert!(in_a.is_some());
}

#[tokio::test]
async fn drop_kills_the_processes_and_removes_the_dir() {
    let env = start().await;
    let (apiserver, etcd) = env.pids();
    let (apiserver, etcd) = (apiserver.expect("apiserver pid"), etcd.expect("etcd pid"));
    let dir = env.dir().to_path_buf();
    assert!(pid_alive(apiserver) && pid_alive(etcd));
    assert!(dir.exists());
    drop(env);
    assert!(!pid_alive(apiserver), "kube-apiserver {apiserver} still alive");
    assert!(!pid_alive(etcd), "etcd {etcd} still alive");
    if std::env::var_os(kube_testenv::KEEP_DIR_ENV).is_none() {
        assert!(!dir.exists(), "{} not removed", dir.display());
    }
}

#[tokio::test]
async fn builder_passes_extra_apiserver_flags() {
    let t = Instant::now();
    let env = TestEnv::builder()
        .apiserver_flag("--service-cluster-ip-range=10.96.0.0/24")
        .start_timeout(Duration::from_secs(120))
        .start()
        .await
        .expect("start");
    eprintln!("started with extra flags in {:?}", t.elapsed());
    // The apiserver allocates the `kubernetes` service's IP from the (overridden) range.
    let svc = Api::<k8s_openapi::api::core::v1::Service>::namespaced(env.client(), "default");
    let deadline = Instant::now() + Duration::from_secs(30);
    let ip = loop {
        if let Some(s) = svc.get_opt("kubernetes").await.expect("get svc") {
            break s.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
        }
        assert!(Instant::now() < deadline, "kubernetes service never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ip, "10.96.0.1");
}
