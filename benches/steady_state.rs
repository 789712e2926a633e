//! Cost of open invitations at scale (issue 14), per tier of open invites on one profile: the
//! operator's start (time until every invite is Invited, and the ListHandshakesForOrganization
//! calls it took), the steady state (AWS calls per poll interval from the emulator's call log,
//! invite reconciles per interval from the operator's metrics, the sweep's share of AWS's rate
//! limit), resident memory, and Accept → Ready latency over up to 100 acceptances. The operator
//! runs as its release process (`aws-invite-operator run`) against a real kube-apiserver and the
//! orgs-emulator, started afresh for each tier (a restart with the tier's invites waiting).
//!
//! Run: `KUBE_TESTENV_ASSETS=$(bash hack/kube-binaries.sh) cargo bench --bench steady_state`
//! (the README's "Benchmark" section lists the environment variables; `STEADY_STATE_TIERS=1,1000,10000`
//! adds the 10,000 tier).
//!
//! The first tier's invites are sent by the operator itself; every later tier's invitations are
//! sent up front through the AWS SDK, as an earlier run would have left them, and the operator
//! adopts them. Either way each ends Invited with its handshake OPEN.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_invite_operator::api::{self, AwsAccountInvite, BillingProfile, InvitePhase};
use aws_invite_operator::aws::OperationGroup;
use futures::StreamExt;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube_testenv::TestEnv;
use orgs_emulator::{ControlClient, Emulator, EmulatorConfig, Seed, SeedAccount, SeedOrganization};
use serde_json::json;

const MGMT: &str = "111111111111";
const ORG: &str = "o-exampleorg1";
const NAMESPACE: &str = "billing";
const PROFILE: &str = "payer-main";
const METRICS_PORT: u16 = 18181;
/// ListHandshakesForOrganization returns at most 20 handshakes per page (MaxResults 1-20,
/// Organizations API reference); the operator asks for full pages.
const PAGE: usize = 20;
/// AWS Organizations' throttling limit for ListHandshakesForOrganization: 5 requests per second
/// (burst 8). AWS Organizations User Guide, "Quotas and service limits for AWS Organizations",
/// section "Throttling limits"
/// (<https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html#throttling-limits>);
/// its limits "apply at the organization level, unless otherwise specified". The same numbers
/// are in docs/architecture.md ("AWS usage and rate limits") and the emulator's model.
const AWS_LIST_HANDSHAKES_PER_SECOND: f64 = 5.0;
/// Acceptances measured per tier (fewer when the tier has fewer open invites).
const ACCEPTS: usize = 100;

fn account(i: usize) -> String {
    format!("6{i:011}")
}

fn invite_name(i: usize) -> String {
    format!("bench-{i:05}")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn tiers() -> Vec<usize> {
    let spec = std::env::var("STEADY_STATE_TIERS").unwrap_or_else(|_| "1,1000".into());
    let mut tiers: Vec<usize> = spec
        .split(',')
        .map(|t| t.trim().parse().expect("STEADY_STATE_TIERS: comma-separated counts"))
        .collect();
    tiers.sort_unstable();
    tiers.dedup();
    assert!(
        tiers.first().is_some_and(|&t| t > 0),
        "STEADY_STATE_TIERS: positive counts"
    );
    tiers
}

/// The poll interval of a tier: at least `STEADY_STATE_POLL_SECS` (default 5) and at least
/// twice one sweep's duration at the operator's client-side ListHandshakes rate, so that one
/// sweep fits in an interval with room to spare (what an operator of that many invites sets).
fn poll_for(tier: usize) -> Duration {
    let floor = env_u64("STEADY_STATE_POLL_SECS", 5);
    let (rate, _) = OperationGroup::ListHandshakes.limits();
    let sweep = tier.div_ceil(PAGE) as f64 / rate;
    Duration::from_secs(floor.max((2.0 * sweep).ceil() as u64))
}

/// What the bench's own watch has seen of each invite: its phase, and when it was first seen Ready.
#[derive(Default)]
struct Seen {
    phase: HashMap<String, InvitePhase>,
    ready_at: HashMap<String, Instant>,
}

struct Row {
    tier: usize,
    poll: Duration,
    start_sweeps: f64,
    calls: f64,
    ops: String,
    reconciles: f64,
    rss_mib: f64,
    peak_mib: f64,
    to_invited: f64,
    accepts: usize,
    p50: Option<f64>,
    p99: Option<f64>,
    share: f64,
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let intervals = env_u64("STEADY_STATE_INTERVALS", 3) as u32;
    let accept_every = Duration::from_millis(env_u64("STEADY_STATE_ACCEPT_EVERY_MS", 500));
    let tiers = tiers();
    aws_invite_operator::runtime::install_crypto_provider();
    // SAFETY: set before any other thread reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", MGMT);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "emulator");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    }

    let env = TestEnv::start().await.expect("control plane");
    env.install_crds(&api::crds()).await.expect("CRDs");
    env.create_namespace(NAMESPACE, [("team", "billing")])
        .await
        .expect("namespace");
    let max = *tiers.last().expect("tiers");
    let seed = Seed {
        organizations: vec![SeedOrganization {
            id: Some(ORG.into()),
            management_account: SeedAccount::new(MGMT),
            members: vec![],
            account_quota: Some(u32::try_from(max).expect("small") + 100),
            feature_set: None,
        }],
        accounts: (0..max).map(|i| SeedAccount::new(account(i))).collect(),
        roles: vec![],
        oidc_providers: vec![],
        pod_identity_associations: vec![],
    };
    let emulator = Emulator::start(EmulatorConfig::with_seed(seed).rate_limits(false))
        .await
        .expect("emulator");
    let aws = emulator.control();
    let profile: BillingProfile = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile", "metadata": {"name": PROFILE},
        "spec": {"managementAccountId": MGMT, "organizationId": ORG, "endpointUrl": emulator.url(),
                 "allowedNamespaces": {"namespaces": [NAMESPACE]}, "invitationsPerDay": 1000},
    }))
    .expect("profile");
    Api::<BillingProfile>::all(env.client())
        .create(&PostParams::default(), &profile)
        .await
        .expect("profile created");

    let invites: Api<AwsAccountInvite> = Api::namespaced(env.client(), NAMESPACE);
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(watch_invites(invites.clone(), seen.clone()));
    let metrics_url = format!("http://127.0.0.1:{METRICS_PORT}/metrics");
    println!(
        "steady_state: tiers {tiers:?}, {intervals} intervals measured per tier, one profile, an acceptance every {}ms; load {}",
        accept_every.as_millis(),
        load()
    );

    let mut created = 0;
    let mut rows = Vec::new();
    for (n, &tier) in tiers.iter().enumerate() {
        let poll = poll_for(tier);
        if n > 0 {
            presend(&emulator.url(), created..tier).await;
        }
        create_invites(&invites, created..tier).await;
        created = tier;
        aws.clear_calls().await.expect("clear calls");

        // A restart with the tier's invites waiting: how long until all are Invited, at what cost.
        let started = Instant::now();
        let started_wall = chrono::Utc::now();
        let mut operator = spawn_operator(&env, poll);
        let pid = operator_pid(&operator).await;
        wait_all_invited(&seen, tier, started + poll * 4 + Duration::from_secs(600)).await;
        let to_invited = started.elapsed();
        let mut start_pages = aws.calls_for("ListHandshakesForOrganization").await.expect("calls");
        let start_calls = start_pages.len();
        // When the start's first sweep listed its last page (emulator clock = wall clock): the
        // rest of the time to Invited is the API writes after it.
        start_pages.sort_by_key(|c| c.seq);
        let swept = start_pages
            .get(tier.div_ceil(PAGE).saturating_sub(1))
            .map(|c| (c.time - started_wall).as_seconds_f64());
        println!(
            "open invites {tier:>5}: all Invited after {:.1}s, the first sweep's last page after {} (the tier's row follows its steady-state window)",
            to_invited.as_secs_f64(),
            fmt_secs(swept)
        );
        let start_sweeps = start_calls as f64 / tier.div_ceil(PAGE) as f64;

        // One interval to settle, then the window.
        tokio::time::sleep(poll).await;
        aws.clear_calls().await.expect("clear calls");
        let reconciles_before = reconciles(&metrics_url).await;
        tokio::time::sleep(poll * intervals).await;
        let calls = aws.calls().await.expect("calls");
        let reconciles_after = reconciles(&metrics_url).await;
        let (rss, hwm) = memory_kib(pid);
        let mut by_op: BTreeMap<String, usize> = BTreeMap::new();
        for c in &calls {
            *by_op.entry(c.operation.clone()).or_default() += 1;
        }
        let per_interval = |n: usize| n as f64 / f64::from(intervals);
        let ops: Vec<String> = by_op
            .iter()
            .map(|(op, n)| format!("{op} {:.1}", per_interval(*n)))
            .collect();
        // The sweep's calls per second over AWS's per-organization limit for them: the larger of
        // the handshake sweep's and the membership sweep's shares (separate limits). ListAccounts'
        // limit is the emulator's model (`ratelimit::limit_for`); that sweep lists members only.
        let per_second = |op: &str| by_op.get(op).copied().unwrap_or(0) as f64 / (poll * intervals).as_secs_f64();
        let handshakes_share = per_second("ListHandshakesForOrganization") / AWS_LIST_HANDSHAKES_PER_SECOND;
        let accounts_share = per_second("ListAccounts") / orgs_emulator::ratelimit::limit_for("ListAccounts").0;
        let share = handshakes_share.max(accounts_share);

        let latencies = accept_and_wait(&aws, &seen, accept_every, poll).await;
        stop_operator(&mut operator, pid);

        let row = Row {
            tier,
            poll,
            start_sweeps,
            calls: per_interval(calls.len()),
            ops: ops.join(", "),
            reconciles: (reconciles_after - reconciles_before) / f64::from(intervals),
            rss_mib: rss as f64 / 1024.0,
            peak_mib: hwm as f64 / 1024.0,
            to_invited: to_invited.as_secs_f64(),
            accepts: latencies.len(),
            p50: percentile(&latencies, 50),
            p99: percentile(&latencies, 99),
            share,
        };
        print_row(&row);
        rows.push(row);
    }
    println!("\n{}", table(&rows));
}

fn print_row(r: &Row) {
    println!(
        "open invites {:>5}: poll {}s | start: all Invited after {:.1}s, {:.1} sweeps | AWS calls/interval {:.1} ({}) | \
         invite reconciles/interval {:.1} | RSS {:.1} MiB (peak {:.1}) | Accept→Ready p50 {} p99 {} over {} | \
         sweep share of AWS's limit {:.3} | load {}",
        r.tier,
        r.poll.as_secs(),
        r.to_invited,
        r.start_sweeps,
        r.calls,
        r.ops,
        r.reconciles,
        r.rss_mib,
        r.peak_mib,
        fmt_secs(r.p50),
        fmt_secs(r.p99),
        r.accepts,
        r.share,
        load(),
    );
    // One JSON object per tier on its own line (issue 14), for scripts: `grep '^{'`.
    println!(
        "{}",
        json!({
            "invites": r.tier,
            "aws_calls_per_interval": r.calls,
            "reconciles_per_interval": r.reconciles,
            "rss_mib": r.rss_mib,
            "time_to_invited_s": r.to_invited,
            "accept_to_ready_p50_s": r.p50,
            "accept_to_ready_p99_s": r.p99,
            "rate_limit_share": r.share,
        })
    );
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| invites | poll | all Invited after | start sweeps | AWS calls/interval | reconciles/interval | RSS MiB (peak) | Accept→Ready p50 / p99 (n) | rate limit share |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {}s | {:.1}s | {:.1} | {:.1} | {:.1} | {:.1} ({:.1}) | {} / {} ({}) | {:.3} |\n",
            r.tier,
            r.poll.as_secs(),
            r.to_invited,
            r.start_sweeps,
            r.calls,
            r.reconciles,
            r.rss_mib,
            r.peak_mib,
            fmt_secs(r.p50),
            fmt_secs(r.p99),
            r.accepts,
            r.share
        ));
    }
    out
}

fn fmt_secs(s: Option<f64>) -> String {
    s.map_or_else(|| "-".into(), |s| format!("{s:.1}s"))
}

/// Nearest-rank percentile of `values` (seconds).
fn percentile(values: &[f64], p: usize) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// The machine's load averages (the bench shares its cores; read the numbers with them).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn spawn_operator(env: &TestEnv, poll: Duration) -> Child {
    let exe = env!("CARGO_BIN_EXE_aws-invite-operator");
    // `STEADY_STATE_WRAP` runs the operator under a profiler, e.g. "heaptrack -o /tmp/op"
    // (RSS is still the operator's: see `operator_pid`).
    let wrap = std::env::var("STEADY_STATE_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    command
        .args(["run", "--log-format", "text", "--leader-election", "false"])
        .args(["--allow-endpoint-override", "--endpoint-allowlist", "127.0.0.1"])
        .args(["--poll-interval", &format!("{}s", poll.as_secs())])
        .args([
            "--listen-address",
            &format!("127.0.0.1:{METRICS_PORT}"),
            "--metrics-auth",
            "open",
        ])
        .env("KUBECONFIG", env.kubeconfig_path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("operator starts")
}

/// The operator's process: the spawned child, or under `STEADY_STATE_WRAP` the wrapper's
/// descendant that runs the operator binary (a profiler such as heaptrack runs it as its
/// child): its RSS is the operator's, not the wrapper's. The spawned child when none shows up
/// within 30 s.
async fn operator_pid(child: &Child) -> u32 {
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_aws-invite-operator")).expect("operator binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut pending = vec![child.id()];
        while let Some(pid) = pending.pop() {
            if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == exe) {
                return pid;
            }
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
            pending.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
        if Instant::now() > deadline {
            return child.id();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kills the operator (SIGKILL: under a heap profiler, what it reports as leaked is then what
/// was live at the end of the tier) and waits for the spawned child, so that a wrapper has
/// written its output before the next tier. Killing only a wrapper would leave the operator
/// running, holding the metrics port of the next tier.
fn stop_operator(child: &mut Child, pid: u32) {
    if pid == child.id() {
        child.kill().ok();
    } else {
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().ok();
    }
    child.wait().ok();
}

/// Sends invitations as an earlier run would have, through the AWS SDK.
async fn presend(url: &str, range: std::ops::Range<usize>) {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .load()
        .await;
    let orgs = aws_sdk_organizations::Client::new(&config);
    futures::stream::iter(range)
        .map(|i| {
            let orgs = orgs.clone();
            async move {
                let target = aws_sdk_organizations::types::HandshakeParty::builder()
                    .r#type(aws_sdk_organizations::types::HandshakePartyType::Account)
                    .id(account(i))
                    .build()
                    .expect("party");
                orgs.invite_account_to_organization()
                    .target(target)
                    .send()
                    .await
                    .expect("presend");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

async fn create_invites(api: &Api<AwsAccountInvite>, range: std::ops::Range<usize>) {
    futures::stream::iter(range)
        .map(|i| {
            let api = api.clone();
            async move {
                let invite: AwsAccountInvite = serde_json::from_value(json!({
                    "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
                    "metadata": {"name": invite_name(i), "namespace": NAMESPACE},
                    "spec": {"billingProfile": PROFILE, "accountId": account(i)},
                }))
                .expect("invite");
                api.create(&PostParams::default(), &invite)
                    .await
                    .expect("invite created");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

/// Follows every invite's phase with one watch (no repeated lists of thousands of objects).
async fn watch_invites(api: Api<AwsAccountInvite>, seen: Arc<Mutex<Seen>>) {
    let mut stream = std::pin::pin!(
        watcher(api, watcher::Config::default())
            .default_backoff()
            .applied_objects()
    );
    while let Some(event) = stream.next().await {
        let Ok(invite) = event else { continue };
        let (Some(name), Some(phase)) = (invite.metadata.name, invite.status.and_then(|s| s.phase)) else {
            continue;
        };
        let mut seen = seen.lock().unwrap();
        if phase == InvitePhase::Ready {
            seen.ready_at.entry(name.clone()).or_insert_with(Instant::now);
        }
        seen.phase.insert(name, phase);
    }
}

fn invited(phase: InvitePhase) -> bool {
    matches!(phase, InvitePhase::Invited | InvitePhase::Joined | InvitePhase::Ready)
}

async fn wait_all_invited(seen: &Mutex<Seen>, n: usize, deadline: Instant) {
    loop {
        let count = seen.lock().unwrap().phase.values().filter(|p| invited(**p)).count();
        if count >= n {
            return;
        }
        assert!(Instant::now() < deadline, "only {count} of {n} invites reached Invited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Accepts up to [`ACCEPTS`] open invitations, one every `every` (as the invited accounts'
/// owners would, in the emulator), and returns each one's Accept → Ready latency in seconds:
/// from the emulator's reply to the bench's watch seeing the invite's phase Ready.
async fn accept_and_wait(aws: &ControlClient, seen: &Mutex<Seen>, every: Duration, poll: Duration) -> Vec<f64> {
    let mut open: Vec<String> = {
        let seen = seen.lock().unwrap();
        seen.phase
            .iter()
            .filter(|(_, p)| **p == InvitePhase::Invited)
            .map(|(name, _)| name.clone())
            .collect()
    };
    open.sort();
    open.truncate(ACCEPTS);
    let mut accepted = Vec::new();
    let mut ticker = tokio::time::interval(every);
    for name in open {
        ticker.tick().await;
        let i: usize = name.trim_start_matches("bench-").parse().expect("bench invite name");
        aws.accept_invite_for(&account(i)).await.expect("accept");
        accepted.push((name, Instant::now()));
    }
    let deadline = Instant::now() + poll * 3 + Duration::from_secs(120);
    loop {
        let ready: Vec<f64> = {
            let seen = seen.lock().unwrap();
            accepted
                .iter()
                .filter_map(|(name, at)| {
                    seen.ready_at
                        .get(name)
                        .map(|r| r.saturating_duration_since(*at).as_secs_f64())
                })
                .collect()
        };
        if ready.len() == accepted.len() {
            return ready;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} accepted invites became Ready",
            ready.len(),
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn reconciles(url: &str) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(resp) = reqwest::get(url).await
            && let Ok(page) = resp.text().await
        {
            return page
                .lines()
                .find_map(|l| {
                    l.strip_prefix(r#"aws_invite_reconciles_total{kind="AwsAccountInvite"} "#)?
                        .trim()
                        .parse()
                        .ok()
                })
                .unwrap_or(0.0);
        }
        assert!(Instant::now() < deadline, "operator metrics unreachable");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// (VmRSS, VmHWM) in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
