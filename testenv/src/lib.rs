//! A real, fresh, local Kubernetes control plane (etcd + kube-apiserver) for integration
//! tests, envtest style.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kube_testenv::TestEnvError> {
//! let env = kube_testenv::TestEnv::start().await?;
//! let client = env.client();
//! // ... use the client; `env.kubectl()` runs the pinned kubectl against the same server.
//! env.stop()?; // or just drop it
//! # Ok(()) }
//! ```
//!
//! The binaries come from [`assets::ASSETS_ENV`] (`KUBE_TESTENV_ASSETS`) when set, else from
//! the repository's `hack/kube-binaries.sh` (the pinned release, built once and cached).
//! `openssl` must be on `PATH` (it generates the service-account signing key).
//! Set [`KEEP_DIR_ENV`] (`KUBE_TESTENV_KEEP_DIR=1`) to keep the temp dirs (data, certs,
//! kubeconfig, `etcd.log`, `kube-apiserver.log`) for debugging; their paths go to stderr.
//!
//! There is no kube-controller-manager and no scheduler: objects are stored and validated
//! (admission, CRD schemas and CEL rules, RBAC), but nothing reconciles them. In particular
//! namespaces stay `Terminating` after a delete, and pods are never scheduled.
//!
//! Processes are killed (SIGKILL) and the temp dir removed when the [`TestEnv`] is dropped or
//! [`TestEnv::stop`]ped; they also die with the test process itself (see `process`).

pub mod assets;
mod error;
mod process;

use std::collections::{BTreeMap, HashSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{Condition, await_condition, conditions};
use kube::{Client, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use assets::Assets;
pub use error::TestEnvError;
use process::ManagedChild;

/// Default deadline for the control plane to come up (generous: CI machines are small and
/// shared).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(90);
/// Default deadline for installed CRDs to become Established.
pub const DEFAULT_CRD_TIMEOUT: Duration = Duration::from_secs(30);
/// The field manager used for server-side apply by [`TestEnv::install_crds`].
pub const FIELD_MANAGER: &str = "kube-testenv";

/// When set (to anything but empty or `0`), temp dirs are kept instead of removed.
pub const KEEP_DIR_ENV: &str = "KUBE_TESTENV_KEEP_DIR";

const PORT_ATTEMPTS: usize = 3;
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Options for starting a [`TestEnv`].
#[derive(Debug, Clone)]
pub struct TestEnvBuilder {
    apiserver_flags: Vec<String>,
    start_timeout: Duration,
}

impl Default for TestEnvBuilder {
    fn default() -> Self {
        Self {
            apiserver_flags: Vec::new(),
            start_timeout: DEFAULT_START_TIMEOUT,
        }
    }
}

impl TestEnvBuilder {
    /// Adds a kube-apiserver flag (e.g. `--feature-gates=Foo=true`). Extra flags come after
    /// the defaults, so a repeated flag overrides its default.
    pub fn apiserver_flag(mut self, flag: impl Into<String>) -> Self {
        self.apiserver_flags.push(flag.into());
        self
    }

    /// How long to wait for etcd and kube-apiserver to become ready, in total.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Starts the control plane. Retries on fresh ports when a port was taken in between.
    pub async fn start(self) -> Result<TestEnv, TestEnvError> {
        let assets = assets::assets().await?;
        let mut attempt = 1;
        loop {
            match self.start_once(&assets).await {
                Err(e) if e.is_port_conflict() && attempt < PORT_ATTEMPTS => {
                    tracing::info!(attempt, error = %e, "port conflict; retrying on other ports");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(&self, assets: &Assets) -> Result<TestEnv, TestEnvError> {
        let started = Instant::now();
        let deadline = started + self.start_timeout;
        let dir = tempfile::Builder::new()
            .prefix("kube-testenv-")
            .tempdir()
            .map_err(|e| TestEnvError::io("creating the temp dir", e))?;
        let root = dir.path().to_path_buf();
        let dir = if std::env::var(KEEP_DIR_ENV).is_ok_and(|v| !v.is_empty() && v != "0") {
            eprintln!("kube-testenv: keeping {} ({KEEP_DIR_ENV} is set)", root.display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        let [etcd_port, etcd_peer_port, apiserver_port] = free_ports()?;

        // etcd first; the key is generated while it boots.
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let etcd_peer_url = format!("http://127.0.0.1:{etcd_peer_port}");
        let etcd_args = vec![
            "--name=default".to_string(),
            format!("--data-dir={}", root.join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={etcd_peer_url}"),
            format!("--initial-advertise-peer-urls={etcd_peer_url}"),
            format!("--initial-cluster=default={etcd_peer_url}"),
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ];
        let mut etcd = ManagedChild::spawn("etcd", &assets.etcd, &etcd_args, root.join("etcd.log"))?;

        let sa_key = root.join("sa.key");
        generate_rsa_key(&sa_key).await?;
        let token = random_token()?;
        let tokens = root.join("tokens.csv");
        write(&tokens, format!("{token},admin,admin,\"system:masters\"\n"))?;

        wait_for_etcd(&mut etcd, etcd_port, deadline, self.start_timeout).await?;
        let etcd_ready = started.elapsed();

        let cert_dir = root.join("certs");
        let mut apiserver_args = vec![
            format!("--etcd-servers={etcd_url}"),
            format!("--cert-dir={}", cert_dir.display()),
            format!("--secure-port={apiserver_port}"),
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            "--service-cluster-ip-range=10.0.0.0/24".to_string(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_string(),
            format!("--service-account-key-file={}", sa_key.display()),
            format!("--service-account-signing-key-file={}", sa_key.display()),
            format!("--token-auth-file={}", tokens.display()),
            "--authorization-mode=RBAC".to_string(),
            // The ServiceAccount admission plugin needs the token controller of
            // kube-controller-manager, which does not run here.
            "--disable-admission-plugins=ServiceAccount".to_string(),
            "--allow-privileged=true".to_string(),
        ];
        apiserver_args.extend(self.apiserver_flags.iter().cloned());
        let mut apiserver = ManagedChild::spawn(
            "kube-apiserver",
            &assets.kube_apiserver,
            &apiserver_args,
            root.join("kube-apiserver.log"),
        )?;

        let server_url = format!("https://127.0.0.1:{apiserver_port}");
        // The apiserver writes its self-signed serving certificate (and the CA that signed
        // it) to the cert dir before it listens; once it listens the file is complete.
        let ca_file = cert_dir.join("apiserver.crt");
        wait_for_listen(&mut apiserver, apiserver_port, deadline, self.start_timeout).await?;
        let kubeconfig = root.join("kubeconfig");
        write(&kubeconfig, kubeconfig_json(&server_url, &ca_file, &token))?;
        let config = load_kubeconfig(&kubeconfig).await?;
        let client = make_client(&config)?;
        wait_for_readyz(&mut apiserver, &client, deadline, self.start_timeout).await?;
        ensure_default_namespace(&client).await?;
        tracing::info!(
            server = %server_url,
            dir = %root.display(),
            etcd_ready_ms = etcd_ready.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "kube-testenv started"
        );

        Ok(TestEnv {
            apiserver,
            etcd,
            client,
            config,
            kubeconfig,
            kubectl: assets.kubectl.clone(),
            server_url,
            etcd_url,
            token,
            root,
            startup: started.elapsed(),
            dir,
        })
    }
}

/// A running etcd + kube-apiserver in a temp dir, with an admin (system:masters) identity.
///
/// Dropping it kills both processes and removes the temp dir.
pub struct TestEnv {
    // Drop order is declaration order: the apiserver dies first, then etcd, and the temp dir
    // goes last.
    apiserver: ManagedChild,
    etcd: ManagedChild,
    client: Client,
    config: Config,
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    server_url: String,
    etcd_url: String,
    token: String,
    root: PathBuf,
    startup: Duration,
    dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv")
            .field("server_url", &self.server_url)
            .field("etcd_url", &self.etcd_url)
            .field("dir", &self.root)
            .field("apiserver", &self.apiserver)
            .field("etcd", &self.etcd)
            .finish_non_exhaustive()
    }
}

impl TestEnv {
    /// Starts a control plane with the default options.
    pub async fn start() -> Result<Self, TestEnvError> {
        Self::builder().start().await
    }

    /// Options for starting a control plane.
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder::default()
    }

    /// An admin client (bearer token in group `system:masters`, verifying the server against
    /// its self-signed CA).
    ///
    /// The client was built on the runtime that called `start`; to use the environment from
    /// another tokio runtime (e.g. one env shared by several `#[tokio::test]`s), build a
    /// client there with [`TestEnv::new_client`].
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A new admin client bound to the current tokio runtime.
    pub fn new_client(&self) -> Result<Client, TestEnvError> {
        make_client(&self.config)
    }

    /// The kube config behind [`TestEnv::client`], e.g. to build clients with other settings.
    pub fn kube_config(&self) -> Config {
        self.config.clone()
    }

    /// A kubeconfig file for this environment (admin user, `default` namespace).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The pinned `kubectl`, set up with `--kubeconfig` for this environment (and
    /// `KUBECONFIG`, for plugins).
    pub fn kubectl(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.kubectl);
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig);
        cmd
    }

    /// `https://127.0.0.1:<port>` of the kube-apiserver.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// `http://127.0.0.1:<port>` of etcd.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// The admin bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The temp dir holding data, certificates, keys and the logs `etcd.log` and
    /// `kube-apiserver.log`.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// How long `start` took for this environment.
    pub fn startup_duration(&self) -> Duration {
        self.startup
    }

    /// Process ids of kube-apiserver and etcd, while they run.
    pub fn pids(&self) -> (Option<u32>, Option<u32>) {
        (self.apiserver.pid(), self.etcd.pid())
    }

    /// The last lines of the kube-apiserver log (for assertions' messages).
    pub fn apiserver_log_tail(&self) -> String {
        self.apiserver.log_tail()
    }

    /// Creates (server-side apply, forced, field manager [`FIELD_MANAGER`]) each CRD and waits
    /// until all are Established and NamesAccepted, within [`DEFAULT_CRD_TIMEOUT`].
    pub async fn install_crds(&self, crds: &[CustomResourceDefinition]) -> Result<(), TestEnvError> {
        self.install_crds_with_timeout(crds, DEFAULT_CRD_TIMEOUT).await
    }

    /// [`TestEnv::install_crds`] with an explicit deadline for all of them together.
    pub async fn install_crds_with_timeout(
        &self,
        crds: &[CustomResourceDefinition],
        timeout: Duration,
    ) -> Result<(), TestEnvError> {
        let api: Api<CustomResourceDefinition> = Api::all(self.new_client()?);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let mut names = Vec::with_capacity(crds.len());
        for crd in crds {
            let name = crd.metadata.name.clone().ok_or(TestEnvError::CrdWithoutName)?;
            // Apply only what a manifest would hold: no status, no server-owned metadata.
            let mut body = crd.clone();
            body.status = None;
            body.metadata = ObjectMeta {
                name: Some(name.clone()),
                labels: crd.metadata.labels.clone(),
                annotations: crd.metadata.annotations.clone(),
                ..ObjectMeta::default()
            };
            api.patch(&name, &params, &Patch::Apply(&body))
                .await
                .map_err(|e| TestEnvError::kube(format!("applying CustomResourceDefinition {name}"), e))?;
            names.push(name);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        for name in names {
            let ready = conditions::is_crd_established().and(names_accepted);
            match tokio::time::timeout_at(deadline, await_condition(api.clone(), &name, ready)).await {
                Ok(Ok(_)) => {}
                Ok(Err(source)) => return Err(TestEnvError::CrdWait { name, source }),
                Err(_) => return Err(TestEnvError::CrdNotEstablished { name, timeout }),
            }
        }
        Ok(())
    }

    /// Creates a namespace with the given labels.
    pub async fn create_namespace<K, V>(
        &self,
        name: &str,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Namespace, TestEnvError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let labels: BTreeMap<String, String> = labels.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: (!labels.is_empty()).then_some(labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.new_client()?)
            .create(&PostParams::default(), &ns)
            .await
            .map_err(|e| TestEnvError::kube(format!("creating namespace {name}"), e))
    }

    /// Kills kube-apiserver and etcd (SIGKILL, then waits for them) and removes the temp dir,
    /// reporting failures (which `Drop` can only log).
    pub fn stop(mut self) -> Result<(), TestEnvError> {
        self.apiserver
            .kill()
            .map_err(|e| TestEnvError::io("stopping kube-apiserver", e))?;
        self.etcd.kill().map_err(|e| TestEnvError::io("stopping etcd", e))?;
        if let Some(dir) = self.dir.take() {
            dir.close()
                .map_err(|e| TestEnvError::io(format!("removing {}", self.root.display()), e))?;
        }
        Ok(())
    }
}

fn names_accepted(crd: Option<&CustomResourceDefinition>) -> bool {
    crd.and_then(|crd| crd.status.as_ref())
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conds| conds.iter().any(|c| c.type_ == "NamesAccepted" && c.status == "True"))
}

/// Three distinct free loopback ports, never handed out before in this process.
///
/// The ports are free when picked; another process may still take one before our server
/// binds it, which [`TestEnvBuilder::start`] handles by retrying on fresh ports.
fn free_ports() -> Result<[u16; 3], TestEnvError> {
    static ISSUED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut issued = ISSUED.lock().unwrap_or_else(|p| p.into_inner());
    let issued = issued.get_or_insert_with(HashSet::new);
    // Keep every listener open until all ports are picked so the kernel hands out distinct ones.
    let mut held = Vec::new();
    let mut ports = Vec::with_capacity(3);
    for _ in 0..100 {
        if ports.len() == 3 {
            break;
        }
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(|e| TestEnvError::io("binding a free loopback port", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| TestEnvError::io("reading a bound port", e))?
            .port();
        if issued.insert(port) {
            ports.push(port);
        }
        held.push(listener);
    }
    match ports[..] {
        [a, b, c] => Ok([a, b, c]),
        _ => Err(TestEnvError::io(
            "picking free loopback ports",
            std::io::Error::other("no unused port found"),
        )),
    }
}

fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), TestEnvError> {
    std::fs::write(path, contents).map_err(|e| TestEnvError::io(format!("writing {}", path.display()), e))
}

/// 128 random bits, hex encoded.
fn random_token() -> Result<String, TestEnvError> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| TestEnvError::io("reading /dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `openssl genrsa` writes a 2048-bit RSA key (PEM) for signing service-account tokens.
async fn generate_rsa_key(path: &Path) -> Result<(), TestEnvError> {
    let output = tokio::process::Command::new("openssl")
        .arg("genrsa")
        .arg("-out")
        .arg(path)
        .arg("2048")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| TestEnvError::Spawn {
            binary: "openssl",
            path: "openssl".into(),
            source,
        })?;
    if !output.status.success() {
        return Err(TestEnvError::Openssl(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

fn kubeconfig_json(server: &str, ca_file: &Path, token: &str) -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "kube-testenv", "cluster": {
            "server": server,
            "certificate-authority": ca_file,
        }}],
        "users": [{ "name": "admin", "user": { "token": token } }],
        "contexts": [{ "name": "kube-testenv", "context": {
            "cluster": "kube-testenv",
            "user": "admin",
            "namespace": "default",
        }}],
        "current-context": "kube-testenv",
    })
    .to_string()
}

async fn load_kubeconfig(path: &Path) -> Result<Config, TestEnvError> {
    let err = |source| TestEnvError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(err)?;
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(err)
}

fn make_client(config: &Config) -> Result<Client, TestEnvError> {
    // A workspace build can link two rustls crypto providers; pick one before the first client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::try_from(config.clone()).map_err(|e| TestEnvError::kube("building a client", e))
}

/// Polls etcd's `/health` until it reports healthy.
async fn wait_for_etcd(
    etcd: &mut ManagedChild,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), TestEnvError> {
    loop {
        etcd.check_running()?;
        let last = match http_get(port, "/health").await {
            Ok(body) if body.contains(r#""health":"true""#) => return Ok(()),
            Ok(body) => format!("unhealthy: {}", body.lines().last().unwrap_or_default()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(etcd.not_ready(timeout, last));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// A minimal HTTP/1.0 GET on loopback (etcd's health endpoint is plain HTTP).
async fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let fut = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")))
}

/// Waits until the apiserver accepts TCP connections (its certificates are written by then).
async fn wait_for_listen(
    apiserver: &mut ManagedChild,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), TestEnvError> {
    loop {
        apiserver.check_running()?;
        let last = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => return Ok(()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(apiserver.not_ready(timeout, format!("port {port}: {last}")));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls `/readyz` (as admin) until it answers `ok`.
async fn wait_for_readyz(
    apiserver: &mut ManagedChild,
    client: &Client,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), TestEnvError> {
    loop {
        apiserver.check_running()?;
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| TestEnvError::io("building the /readyz request", std::io::Error::other(e)))?;
        let last = match tokio::time::timeout(Duration::from_secs(5), client.request_text(request)).await {
            Ok(Ok(body)) if body.trim() == "ok" => return Ok(()),
            Ok(Ok(body)) => body,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "request timed out".into(),
        };
        if Instant::now() >= deadline {
            return Err(apiserver.not_ready(timeout, format!("/readyz: {last}")));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Without kube-controller-manager, the apiserver's own bootstrap controller creates the
/// `default` namespace, shortly after (not necessarily before) `/readyz` turns ok. Create it
/// if it is not there yet; either side losing the race gets AlreadyExists, which is fine.
async fn ensure_default_namespace(client: &Client) -> Result<(), TestEnvError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let existing = api
        .get_opt("default")
        .await
        .map_err(|e| TestEnvError::kube("reading namespace default", e))?;
    if existing.is_some() {
        return Ok(());
    }
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("default".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
        Err(e) => Err(TestEnvError::kube("creating namespace default", e)),
    }
}
