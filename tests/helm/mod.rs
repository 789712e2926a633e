//! The pinned helm for the chart tests (`mod helm;` in a test crate).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The pinned helm: `$HELM` when set, else what `hack/helm.sh` prints (it builds helm into its
/// cache, keyed by version, on first use), resolved once per test process like the control
/// plane's binaries (`kube_testenv::assets`).
pub fn helm_path() -> &'static Path {
    // The outcome, a failure too, is kept: a failing build is not retried by every test.
    static HELM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let resolved = HELM.get_or_init(|| {
        let path = match std::env::var_os("HELM").filter(|p| !p.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => {
                let script = repo().join("hack/helm.sh");
                let out = Command::new("bash")
                    .arg(&script)
                    .stdin(Stdio::null())
                    // A first, slow build shows its progress.
                    .stderr(Stdio::inherit())
                    .output()
                    .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
                if !out.status.success() {
                    return Err(format!(
                        "{} failed ({}); set HELM to the pinned helm binary",
                        script.display(),
                        out.status
                    ));
                }
                let stdout = String::from_utf8_lossy(&out.stdout);
                let last = stdout.lines().map(str::trim).rfind(|l| !l.is_empty());
                PathBuf::from(last.ok_or_else(|| format!("{} printed no path", script.display()))?)
            }
        };
        if !path.is_file() {
            return Err(format!(
                "helm {} is not a file; `bash hack/helm.sh` prints the path of the pinned helm",
                path.display()
            ));
        }
        Ok(path)
    });
    match resolved {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

/// A helm command kept away from the user's config, cache and kube context.
pub fn helm() -> Command {
    let path = helm_path();
    let mut cmd = Command::new(path);
    // Keep helm away from the user's config, cache and kube context.
    let home = std::env::temp_dir().join("aws-invite-operator-helm-test-home");
    cmd.env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("KUBECONFIG", "/nonexistent");
    cmd
}
