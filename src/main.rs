//! The `aws-invite-operator` binary.

#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use aws_invite_operator::api;
use aws_invite_operator::controller::{self, Clock, ControllerConfig};
use aws_invite_operator::runtime::http::{self, Health};
use aws_invite_operator::runtime::leader::{self, LeaderConfig, LeaderHandle};
use aws_invite_operator::runtime::metrics_access::{MetricsAccess, MetricsAuth};
use aws_invite_operator::runtime::{install_crypto_provider, shutdown};
use aws_invite_operator::telemetry::{self, LogFormat, Metrics};
use aws_invite_operator::tenancy::{AllowedEndpoint, EndpointPolicy, Tenancy};
use clap::{ArgAction, Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// How long the controllers get to finish in-flight reconciles after a stop request.
const CONTROLLER_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Kubernetes operator that invites existing AWS accounts into an AWS Organization.
#[derive(Parser, Debug)]
#[command(name = "aws-invite-operator", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Flags of `run`, the default command.
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the operator (the default when no command is given).
    Run(RunArgs),
    /// Print every CustomResourceDefinition as YAML (the bytes checked in under crds/).
    Crds {
        /// Write one `<name>.yaml` per CRD into this directory instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Log format.
    #[arg(long, env = "AWS_INVITE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    /// Address serving /healthz, /readyz and /metrics.
    #[arg(long, env = "AWS_INVITE_LISTEN_ADDRESS", default_value = "0.0.0.0:8080")]
    listen_address: SocketAddr,
    /// Who may read /metrics: `kubernetes` (a bearer token the API server authenticates and
    /// authorizes for `get` on the non-resource URL /metrics) or `open` (anyone reaching the port).
    #[arg(long, env = "AWS_INVITE_METRICS_AUTH", value_enum, default_value_t = MetricsAuth::Kubernetes)]
    metrics_auth: MetricsAuth,
    /// How often each BillingProfile's handshakes are listed (e.g. 60s, 5m).
    #[arg(long, env = "AWS_INVITE_POLL_INTERVAL", default_value = "60s", value_parser = parse_poll_interval)]
    poll_interval: Duration,
    /// Invites reconciled at once.
    #[arg(long, env = "AWS_INVITE_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Elect a leader on a Lease so only one replica reconciles (`--leader-election=false` to
    /// turn off, e.g. for a single local run).
    #[arg(long, env = "AWS_INVITE_LEADER_ELECTION", default_value_t = true, action = ArgAction::Set)]
    leader_election: bool,
    /// Name of the leader election Lease.
    #[arg(long, env = "AWS_INVITE_LEASE_NAME", default_value = "aws-invite-operator")]
    lease_name: String,
    /// Namespace of the Lease [default: $POD_NAMESPACE, else "default"].
    #[arg(long, env = "AWS_INVITE_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// This replica's identity in the election and in Events [default: $POD_NAME, else
    /// <hostname>-<pid>].
    #[arg(long, env = "AWS_INVITE_IDENTITY")]
    identity: Option<String>,
    /// The one namespace credentials Secrets (BillingProfile spec.credentials.secretRef) are
    /// read from; a profile naming another is refused [default: the operator's namespace,
    /// $POD_NAMESPACE, else "default"].
    #[arg(long, env = "AWS_INVITE_CREDENTIALS_NAMESPACE")]
    credentials_namespace: Option<String>,
    /// Use BillingProfiles' spec.endpointUrl overrides, to the hosts of --endpoint-allowlist
    /// only (e.g. the orgs-emulator). Off: a profile with an override is refused and nothing
    /// is sent to it.
    #[arg(long, env = "AWS_INVITE_ALLOW_ENDPOINT_OVERRIDE", default_value_t = false, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    allow_endpoint_override: bool,
    /// Hosts (any port) or host:port pairs endpoint overrides may name, comma-separated, e.g.
    /// `127.0.0.1,orgs-emulator.tools.svc:4566`. Required with --allow-endpoint-override.
    #[arg(long, env = "AWS_INVITE_ENDPOINT_ALLOWLIST", value_delimiter = ',')]
    endpoint_allowlist: Vec<AllowedEndpoint>,
}

/// The longest `--poll-interval`.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(24 * 3600);

fn parse_poll_interval(s: &str) -> Result<Duration, String> {
    let d = api::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("the poll interval must be positive".to_owned());
    }
    // Every requeue is at least one interval, and kube-runtime's scheduler panics on a delay
    // beyond about two years: an interval longer than a day is a typo.
    if d > MAX_POLL_INTERVAL {
        return Err("the poll interval must be at most 24h".to_owned());
    }
    Ok(d)
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The operator's own namespace: $POD_NAMESPACE (the chart sets it), else "default".
fn operator_namespace() -> String {
    non_empty_env("POD_NAMESPACE").unwrap_or_else(|| "default".to_owned())
}

impl RunArgs {
    fn lease_namespace(&self) -> String {
        self.lease_namespace.clone().unwrap_or_else(operator_namespace)
    }

    /// The tenancy rules the flags set, or why they contradict each other.
    fn tenancy(&self) -> Result<Tenancy, String> {
        let mut tenancy = Tenancy::in_namespace(operator_namespace());
        if let Some(ns) = &self.credentials_namespace {
            tenancy.credentials_namespace.clone_from(ns);
        }
        match (self.allow_endpoint_override, self.endpoint_allowlist.is_empty()) {
            (true, true) => {
                return Err(
                    "--allow-endpoint-override needs --endpoint-allowlist: the hosts overrides may name".into(),
                );
            }
            (false, false) => return Err("--endpoint-allowlist is only used with --allow-endpoint-override".into()),
            (true, false) => tenancy.endpoints = EndpointPolicy::allow(self.endpoint_allowlist.clone()),
            (false, true) => {}
        }
        Ok(tenancy)
    }

    fn identity(&self) -> String {
        self.identity
            .clone()
            .or_else(|| non_empty_env("POD_NAME"))
            .unwrap_or_else(|| {
                let host = hostname::get()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_else(|| "aws-invite-operator".to_owned());
                format!("{host}-{}", std::process::id())
            })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Crds { out_dir }) => match print_crds(out_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Run(args)) => start(args),
        None => start(cli.run),
    }
}

fn print_crds(out_dir: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = out_dir else {
        print!("{}", api::crds_yaml()?);
        return Ok(());
    };
    std::fs::create_dir_all(&dir)?;
    for crd in api::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, api::crd_yaml(&crd)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn start(args: RunArgs) -> ExitCode {
    if let Err(err) = telemetry::init_logging(args.log_format) {
        eprintln!("error: {err}");
        return ExitCode::FAILURE;
    }
    if let Err(err) = args.tenancy() {
        tracing::error!(error = %err, "invalid flags");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

/// Why the operator stopped.
enum Stop {
    /// SIGTERM/SIGINT: a clean stop.
    Signal(shutdown::Signal),
    /// Leadership lost: restart as a standby.
    LeadershipLost,
    /// The controllers ended on their own.
    ControllersEnded(Result<(), controller::Error>),
}

async fn run(args: RunArgs) -> ExitCode {
    install_crypto_provider();
    // Install the signal handlers first so an early SIGTERM is not lost.
    let signal = shutdown::signal();
    tokio::pin!(signal);

    let identity = args.identity();
    tracing::info!(
        identity = %identity,
        listen_address = %args.listen_address,
        poll_interval = ?args.poll_interval,
        concurrency = args.concurrency,
        leader_election = args.leader_election,
        credentials_namespace = ?args.credentials_namespace,
        allow_endpoint_override = args.allow_endpoint_override,
        "starting aws-invite-operator"
    );

    let metrics = Metrics::new();
    let health = Health::new();
    let (listener, addr) = match http::bind(args.listen_address).await {
        Ok(bound) => bound,
        Err(err) => {
            tracing::error!(error = %err, "cannot serve health and metrics");
            return ExitCode::FAILURE;
        }
    };
    let http_stop = CancellationToken::new();
    let access = MetricsAccess::new(args.metrics_auth);
    let http_server = tokio::spawn(http::serve_listener(
        listener,
        health.clone(),
        metrics.clone(),
        access.clone(),
        http_stop.clone().cancelled_owned(),
    ));
    tracing::debug!(%addr, "health and metrics server bound");

    let code = run_with_server(&args, identity, &health, &metrics, &access, &mut signal).await;

    health.set_ready(false);
    http_stop.cancel();
    match http_server.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "health and metrics server failed"),
        Err(err) => tracing::warn!(error = %err, "health and metrics server task failed"),
    }
    tracing::info!("stopped");
    code
}

async fn run_with_server(
    args: &RunArgs,
    identity: String,
    health: &Health,
    metrics: &std::sync::Arc<Metrics>,
    access: &MetricsAccess,
    signal: &mut Pin<&mut impl Future<Output = shutdown::Signal>>,
) -> ExitCode {
    let client = match kube::Client::try_default().await {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build a Kubernetes client");
            return ExitCode::FAILURE;
        }
    };
    access.connect(client.clone());

    // A standby is ready (it serves health and metrics) but reconciles nothing.
    health.set_ready(true);
    let leader: Option<LeaderHandle> = if args.leader_election {
        let config = LeaderConfig::new(args.lease_name.clone(), args.lease_namespace(), identity.clone());
        tracing::info!(lease = %config.lease_name, namespace = %config.namespace, "waiting for leadership");
        tokio::select! {
            elected = leader::acquire(client.clone(), config) => match elected {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::error!(error = %err, "leader election failed");
                    return ExitCode::FAILURE;
                }
            },
            sig = signal.as_mut() => {
                tracing::info!(signal = ?sig, "stopping while on standby");
                return ExitCode::SUCCESS;
            }
        }
    } else {
        None
    };
    health.set_leader(true);

    let lost: Pin<Box<dyn Future<Output = ()> + Send>> = match &leader {
        Some(handle) => Box::pin(handle.lost()),
        None => Box::pin(std::future::pending()),
    };
    let controller_stop = CancellationToken::new();
    let config = ControllerConfig {
        poll_interval: args.poll_interval,
        concurrency: args.concurrency,
        metrics: metrics.clone(),
        clock: Clock::system(),
        instance: Some(identity),
        tenancy: match args.tenancy() {
            Ok(tenancy) => tenancy,
            Err(err) => {
                tracing::error!(error = %err, "invalid flags");
                return ExitCode::FAILURE;
            }
        },
    };
    let controllers = controller::run(client, config, controller_stop.clone().cancelled_owned());
    tokio::pin!(controllers);

    let stop = tokio::select! {
        result = controllers.as_mut() => Stop::ControllersEnded(result),
        sig = signal.as_mut() => Stop::Signal(sig),
        () = lost => Stop::LeadershipLost,
    };
    health.set_leader(false);

    if !matches!(stop, Stop::ControllersEnded(_)) {
        controller_stop.cancel();
        match tokio::time::timeout(CONTROLLER_STOP_TIMEOUT, controllers.as_mut()).await {
            Ok(Ok(())) => tracing::info!("controllers stopped"),
            Ok(Err(err)) => tracing::warn!(error = %err, "controllers stopped with an error"),
            Err(_) => tracing::warn!(timeout = ?CONTROLLER_STOP_TIMEOUT, "controllers did not stop in time"),
        }
    }
    if let Some(handle) = leader {
        match handle.release().await {
            Ok(()) => tracing::info!("leader lease released"),
            Err(err) => tracing::warn!(error = %err, "could not release the leader lease; it expires on its own"),
        }
    }

    match stop {
        Stop::Signal(sig) => {
            tracing::info!(signal = ?sig, "shut down on signal");
            ExitCode::SUCCESS
        }
        Stop::LeadershipLost => {
            tracing::error!("leadership lost; exiting so the pod restarts as a standby");
            ExitCode::FAILURE
        }
        Stop::ControllersEnded(Ok(())) => {
            tracing::error!("controllers ended unexpectedly");
            ExitCode::FAILURE
        }
        Stop::ControllersEnded(Err(err)) => {
            tracing::error!(error = %err, "controllers failed");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_is_the_default_with_defaults() {
        let cli = Cli::try_parse_from(["aws-invite-operator"]).expect("parses");
        assert!(cli.command.is_none());
        let a = cli.run;
        assert_eq!(a.log_format, LogFormat::Json);
        assert_eq!(a.listen_address, "0.0.0.0:8080".parse::<SocketAddr>().expect("addr"));
        assert_eq!(a.poll_interval, Duration::from_secs(60));
        assert_eq!(a.concurrency, 8);
        assert!(a.leader_election);
        assert_eq!(a.lease_name, "aws-invite-operator");
    }

    #[test]
    fn run_flags() {
        let cli = Cli::try_parse_from([
            "aws-invite-operator",
            "run",
            "--log-format",
            "text",
            "--poll-interval",
            "1m30s",
            "--concurrency",
            "2",
            "--leader-election=false",
            "--lease-namespace",
            "ops",
            "--identity",
            "pod-0",
        ])
        .expect("parses");
        let Some(Command::Run(a)) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(a.log_format, LogFormat::Text);
        assert_eq!(a.poll_interval, Duration::from_secs(90));
        assert_eq!(a.concurrency, 2);
        assert!(!a.leader_election);
        assert_eq!(a.lease_namespace(), "ops");
        assert_eq!(a.identity(), "pod-0");
    }

    #[test]
    fn bad_values_are_rejected() {
        for args in [
            &["aws-invite-operator", "--poll-interval", "soon"][..],
            &["aws-invite-operator", "--poll-interval", "0s"],
            &["aws-invite-operator", "--poll-interval", "25h"],
            &["aws-invite-operator", "--poll-interval", "2562047h"],
            &["aws-invite-operator", "--concurrency", "0"],
            &["aws-invite-operator", "--log-format", "xml"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn tenancy_flags_are_safe_by_default_and_consistent() {
        let cli = Cli::try_parse_from(["aws-invite-operator"]).expect("parses");
        let t = cli.run.tenancy().expect("consistent");
        assert!(!t.endpoints.enabled(), "endpoint overrides are off by default");
        assert_eq!(t.credentials_namespace, t.operator_namespace);
        let cli = Cli::try_parse_from([
            "aws-invite-operator",
            "--credentials-namespace",
            "aws-creds",
            "--allow-endpoint-override",
            "--endpoint-allowlist",
            "127.0.0.1,emulator:4566",
        ])
        .expect("parses");
        let t = cli.run.tenancy().expect("consistent");
        assert_eq!(t.credentials_namespace, "aws-creds");
        assert!(t.endpoints.check(Some("http://emulator:4566")).is_ok());
        assert!(t.endpoints.check(Some("http://emulator:80")).is_err());
        for args in [
            &["aws-invite-operator", "--allow-endpoint-override=true"][..],
            &["aws-invite-operator", "--endpoint-allowlist", "127.0.0.1"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert!(cli.run.tenancy().is_err(), "{args:?}");
        }
        assert!(Cli::try_parse_from(["aws-invite-operator", "--endpoint-allowlist", "http://x"]).is_err());
    }

    #[test]
    fn crds_keeps_out_dir() {
        let cli = Cli::try_parse_from(["aws-invite-operator", "crds", "--out-dir", "/tmp/x"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Crds { out_dir: Some(_) })));
    }
}
