//! Process lifecycle guarantees, against the real binaries: the control plane dies with the
//! test process even when no destructor runs, survives the thread that started it, and a
//! failed start reports the log and leaves nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube_testenv::{TestEnv, TestEnvError};

fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !pid_alive(pid)
}

/// The `kube-testenv` binary starts a control plane and is then SIGKILLed: no destructor or
/// atexit handler runs, yet kube-apiserver and etcd must die with it (PR_SET_PDEATHSIG).
#[test]
fn processes_die_with_a_killed_test_process() {
    let kubeconfig = tempfile::NamedTempFile::new().expect("temp kubeconfig");
    let mut helper = Command::new(env!("CARGO_BIN_EXE_kube-testenv"))
        .arg("--kubeconfig")
        .arg(kubeconfig.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kube-testenv");
    let stderr = helper.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let pids = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.split_once("; pids ").map(|(_, rest)| rest.to_string()));
        let _ = tx.send(pids);
    });
    let line = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Some(line)) => line,
        other => {
            let _ = helper.kill();
            panic!("kube-testenv did not report its pids: {other:?}");
        }
    };
    // "kube-apiserver=N etcd=M dir=D"
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
            .to_owned()
    };
    let apiserver: u32 = field("kube-apiserver=").parse().expect("pid");
    let etcd: u32 = field("etcd=").parse().expect("pid");
    let dir = field("dir=");
    assert!(pid_alive(apiserver) && pid_alive(etcd));

    helper.kill().expect("SIGKILL kube-testenv"); // no destructors, no atexit
    helper.wait().expect("reap kube-testenv");

    assert!(
        wait_gone(apiserver, Duration::from_secs(10)),
        "kube-apiserver {apiserver} outlived its parent process"
    );
    assert!(
        wait_gone(etcd, Duration::from_secs(10)),
        "etcd {etcd} outlived its parent process"
    );
    // Only the temp dir is left behind after a SIGKILL; tidy it up.
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn env_outlives_the_thread_and_runtime_that_started_it() {
    // One env for a whole suite: started on a thread that then exits (PR_SET_PDEATHSIG is per
    // thread, so this only works because the processes are forked by a long-lived thread).
    let env = std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(TestEnv::start())
            .expect("start")
    })
    .join()
    .expect("starter thread");
    std::thread::sleep(Duration::from_millis(500));
    let (apiserver, etcd) = env.pids();
    assert!(pid_alive(apiserver.expect("pid")) && pid_alive(etcd.expect("pid")));

    // Used from another runtime through a client made there.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let client = env.new_client().expect("client");
            let ns = Api::<Namespace>::all(client).get("default").await.expect("get default");
            assert_eq!(ns.metadata.name.as_deref(), Some("default"));
        });
    env.stop().expect("stop");
}

#[tokio::test]
async fn failed_start_reports_the_log_and_cleans_up() {
    let err = TestEnv::builder()
        .apiserver_flag("--no-such-flag=1")
        .start()
        .await
        .expect_err("an unknown flag must fail the start");
    match &err {
        TestEnvError::Exited { binary, log_tail, .. } => {
            assert_eq!(*binary, "kube-apiserver");
            assert!(log_tail.contains("no-such-flag"), "log tail: {log_tail}");
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(err.to_string().contains("no-such-flag"), "{err}");
}
