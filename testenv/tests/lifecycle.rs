//! Process lifecycle guarantees, against the real binaries: the control plane dies with the
//! test process even when no destructor runs, survives the thread that started it, and a
//! failed start reports the log and leaves nothing behind.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube_testenv::{TestEnv, TestEnvError};

const HELPER_ENV: &str = "KUBE_TESTENV_ORPHAN_HELPER";

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

/// Not a test on its own: run by `processes_die_with_a_killed_test_process` in a child
/// process, which it SIGKILLs once the control plane is up.
#[tokio::test]
#[ignore = "helper, run by processes_die_with_a_killed_test_process"]
async fn orphan_helper() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let env = TestEnv::start().await.expect("start");
    let (apiserver, etcd) = env.pids();
    println!(
        "PIDS {} {} {}",
        apiserver.expect("pid"),
        etcd.expect("pid"),
        env.dir().display()
    );
    // Wait to be killed; leak the env so that no destructor could help even by accident.
    std::mem::forget(env);
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[test]
fn processes_die_with_a_killed_test_process() {
    let exe = std::env::current_exe().expect("current exe");
    let mut helper = Command::new(exe)
        .args([
            "orphan_helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn helper");
    let stdout = helper.stdout.take().expect("stdout");
    // libtest prints "test orphan_helper ... " before the helper's own output, on that line.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let pids = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| l.split_once("PIDS ").map(|(_, rest)| rest.to_string()));
        let _ = tx.send(pids);
    });
    let line = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Some(line)) => line,
        other => {
            let _ = helper.kill();
            panic!("helper did not report its pids: {other:?}");
        }
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (apiserver, etcd): (u32, u32) = (fields[0].parse().expect("pid"), fields[1].parse().expect("pid"));
    assert!(pid_alive(apiserver) && pid_alive(etcd));

    helper.kill().expect("SIGKILL the helper"); // no destructors, no atexit
    helper.wait().expect("reap helper");

    assert!(
        wait_gone(apiserver, Duration::from_secs(10)),
        "kube-apiserver {apiserver} outlived its test process"
    );
    assert!(
        wait_gone(etcd, Duration::from_secs(10)),
        "etcd {etcd} outlived its test process"
    );
    // Only the temp dir is left behind after a SIGKILL; tidy it up.
    let _ = std::fs::remove_dir_all(fields[2]);
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
