//! Locating the pinned `etcd`, `kube-apiserver` and `kubectl` binaries.

use std::path::{Path, PathBuf};

use tokio::sync::OnceCell;

use crate::TestEnvError;

/// Environment variable naming a directory that holds `etcd`, `kube-apiserver` and `kubectl`.
/// When unset, `hack/kube-binaries.sh` of this repository is run (once per process); it builds
/// the pinned release on first use and caches it (it also honours `KUBEBUILDER_ASSETS`).
pub const ASSETS_ENV: &str = "KUBE_TESTENV_ASSETS";

const BINARIES: [&str; 3] = ["etcd", "kube-apiserver", "kubectl"];

/// Paths of the three binaries.
#[derive(Debug, Clone)]
pub struct Assets {
    /// The directory holding them.
    pub dir: PathBuf,
    /// `etcd`.
    pub etcd: PathBuf,
    /// `kube-apiserver`.
    pub kube_apiserver: PathBuf,
    /// `kubectl`.
    pub kubectl: PathBuf,
}

impl Assets {
    fn in_dir(dir: PathBuf) -> Result<Self, String> {
        for bin in BINARIES {
            let path = dir.join(bin);
            if !path.is_file() {
                return Err(format!("{} does not exist", path.display()));
            }
        }
        Ok(Self {
            etcd: dir.join("etcd"),
            kube_apiserver: dir.join("kube-apiserver"),
            kubectl: dir.join("kubectl"),
            dir,
        })
    }
}

/// The binaries to use, resolved once per process (the outcome, even a failure, is cached so
/// that a failing build is not retried by every test).
pub async fn assets() -> Result<Assets, TestEnvError> {
    static ASSETS: OnceCell<Result<Assets, String>> = OnceCell::const_new();
    ASSETS.get_or_init(resolve).await.clone().map_err(TestEnvError::Assets)
}

async fn resolve() -> Result<Assets, String> {
    if let Some(dir) = std::env::var_os(ASSETS_ENV).filter(|d| !d.is_empty()) {
        return Assets::in_dir(PathBuf::from(dir)).map_err(|e| format!("{ASSETS_ENV}: {e}"));
    }
    let script = repo_root().join("hack").join("kube-binaries.sh");
    let output = tokio::process::Command::new("bash")
        .arg(&script)
        .stdin(std::process::Stdio::null())
        // The build's progress goes to stderr; let it through so a first, slow build shows.
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}); set {ASSETS_ENV} to a directory with {BINARIES:?}",
            script.display(),
            output.status
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or_else(|| format!("{} printed no directory", script.display()))?;
    Assets::in_dir(PathBuf::from(dir))
}

/// The repository root: the parent of this crate's manifest directory.
fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
