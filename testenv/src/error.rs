use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting, using or stopping a [`crate::TestEnv`].
///
/// Errors about a control-plane process name the binary and carry the tail of its log, so a
/// failing test says why the control plane did not come up without digging in temp dirs.
#[derive(Debug, thiserror::Error)]
pub enum TestEnvError {
    /// The directory with `etcd`, `kube-apiserver` and `kubectl` could not be found or built.
    #[error("cannot locate the Kubernetes test binaries: {0}")]
    Assets(String),

    /// A file-system or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A binary could not be started at all.
    #[error("cannot start {binary} ({path}): {source}")]
    Spawn {
        /// `etcd`, `kube-apiserver`, `openssl`, ...
        binary: &'static str,
        /// The path that was executed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A control-plane process exited while it should have been running.
    #[error("{binary} exited early ({status}); last lines of its log:\n{log_tail}")]
    Exited {
        /// `etcd` or `kube-apiserver`.
        binary: &'static str,
        /// Its exit status.
        status: String,
        /// The last lines of its log file.
        log_tail: String,
    },

    /// A control-plane process did not become ready before the deadline.
    #[error("{binary} not ready after {timeout:?} (last probe: {last_error}); last lines of its log:\n{log_tail}")]
    NotReady {
        /// `etcd` or `kube-apiserver`.
        binary: &'static str,
        /// The deadline that passed.
        timeout: Duration,
        /// The outcome of the last readiness probe.
        last_error: String,
        /// The last lines of its log file.
        log_tail: String,
    },

    /// `openssl` failed to generate the service-account signing key.
    #[error("openssl failed to generate the service-account key: {0}")]
    Openssl(String),

    /// The kubeconfig written for the environment could not be loaded by kube.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// A request to the API server failed.
    #[error("{context}: {source}")]
    Kube {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },

    /// A CRD did not become Established and NamesAccepted in time.
    #[error("CustomResourceDefinition {name} not Established/NamesAccepted after {timeout:?}")]
    CrdNotEstablished {
        /// The CRD's name.
        name: String,
        /// The deadline that passed.
        timeout: Duration,
    },

    /// Watching a CRD for its conditions failed.
    #[error("waiting for CustomResourceDefinition {name}: {source}")]
    CrdWait {
        /// The CRD's name.
        name: String,
        /// The underlying error.
        #[source]
        source: kube::runtime::wait::Error,
    },

    /// A CRD to install has no `metadata.name`.
    #[error("a CustomResourceDefinition to install has no metadata.name")]
    CrdWithoutName,
}

impl TestEnvError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn kube(context: impl Into<String>, source: kube::Error) -> Self {
        Self::Kube {
            context: context.into(),
            source,
        }
    }

    /// Whether the failure looks like a lost race for a loopback port (worth a retry on
    /// fresh ports).
    pub(crate) fn is_port_conflict(&self) -> bool {
        let (Self::Exited { log_tail, .. } | Self::NotReady { log_tail, .. }) = self else {
            return false;
        };
        log_tail.contains("address already in use")
    }
}
