//! `kube-testenv --kubeconfig PATH`: starts a local control plane (etcd + kube-apiserver),
//! writes an admin kubeconfig to PATH, and runs until SIGTERM or Ctrl-C. Used by the
//! one-command demo (`hack/demo.sh`) and by the lifecycle test that SIGKILLs it. Its startup
//! line ends with the pids of kube-apiserver and etcd and the control plane's directory.

use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let kubeconfig = match (args.next().as_deref(), args.next()) {
        (Some("--kubeconfig"), Some(path)) => PathBuf::from(path),
        _ => {
            eprintln!("usage: kube-testenv --kubeconfig PATH");
            return ExitCode::from(2);
        }
    };
    let env = match kube_testenv::TestEnv::start().await {
        Ok(env) => env,
        Err(e) => {
            eprintln!("kube-testenv: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::copy(env.kubeconfig_path(), &kubeconfig) {
        eprintln!("kube-testenv: cannot write {}: {e}", kubeconfig.display());
        return ExitCode::FAILURE;
    }
    let (apiserver, etcd) = env.pids();
    eprintln!(
        "kube-testenv: control plane at {} (started in {:.1}s); kubeconfig {}; pids kube-apiserver={} etcd={} dir={}",
        env.server_url(),
        env.startup_duration().as_secs_f64(),
        kubeconfig.display(),
        apiserver.unwrap_or_default(),
        etcd.unwrap_or_default(),
        env.dir().display()
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kube-testenv: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(env);
    ExitCode::SUCCESS
}
