//! Steady-state cost of open invitations: AWS calls per poll interval (from the emulator's
//! call log) and reconciles per interval, with 1, 100 and 1,000 open invites on one profile,
//! and the operator's resident memory. The operator runs as its release process
//! (`aws-invite-operator run`) against a real kube-apiserver and the orgs-emulator.
//!
//! Run: `KUBE_TESTENV_ASSETS=$(bash hack/kube-binaries.sh) cargo bench --bench steady_state`
//! (optional env: `STEADY_STATE_POLL_SECS` (default 5), `STEADY_STATE_INTERVALS` (default 6)).
//!
//! Invites 1..100 are sent by the operator itself (client-side limit 2 invitations/s);
//! the 900 beyond are sent up front through the AWS SDK, as an earlier run would have left
//! them, and the operator adopts them. Either way each ends Invited with its handshake OPEN.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_invite_operator::api::{self, AwsAccountInvite, BillingProfile, InvitePhase};
use futures::StreamExt;
use kube::api::{Api, ListParams, PostParams};
use kube_testenv::TestEnv;
use orgs_emulator::{Emulator, EmulatorConfig, Seed, SeedAccount, SeedOrganization};
use serde_json::json;

const MGMT: &str = "111111111111";
const ORG: &str = "o-exampleorg1";
const NAMESPACE: &str = "billing";
const PROFILE: &str = "payer-main";
const TIERS: [usize; 3] = [1, 100, 1000];
const OPERATOR_SENDS_UP_TO: usize = 100;

fn account(i: usize) -> String {
    format!("6{i:011}")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let poll = Duration::from_secs(env_u64("STEADY_STATE_POLL_SECS", 5));
    let intervals = env_u64("STEADY_STATE_INTERVALS", 6) as u32;
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
    let max = *TIERS.iter().max().expect("tiers");
    let seed = Seed {
        organizations: vec![SeedOrganization {
            id: Some(ORG.into()),
            management_account: SeedAccount::new(MGMT),
            members: vec![],
            account_quota: Some(5000),
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

    let mut operator = spawn_operator(&env, poll);
    let pid = operator.id();
    let metrics_url = format!("http://127.0.0.1:{METRICS_PORT}/metrics");
    let invites: Api<AwsAccountInvite> = Api::namespaced(env.client(), NAMESPACE);

    println!(
        "steady_state: poll interval {}s, {} intervals measured per tier, one profile",
        poll.as_secs(),
        intervals
    );
    let mut created = 0;
    let mut rows = Vec::new();
    for tier in TIERS {
        let started = Instant::now();
        if tier > OPERATOR_SENDS_UP_TO {
            presend(&emulator.url(), created.max(OPERATOR_SENDS_UP_TO)..tier).await;
        }
        create_invites(&invites, created..tier).await;
        created = tier;
        wait_all_invited(&invites, tier).await;
        let settle = started.elapsed();

        // One interval to settle, then the window.
        tokio::time::sleep(poll).await;
        aws.clear_calls().await.expect("clear calls");
        let reconciles_before = reconciles(&metrics_url).await;
        let window = poll * intervals;
        tokio::time::sleep(window).await;
        let calls = aws.calls().await.expect("calls");
        let reconciles_after = reconciles(&metrics_url).await;
        let mut by_op: BTreeMap<String, usize> = BTreeMap::new();
        for c in &calls {
            *by_op.entry(c.operation.clone()).or_default() += 1;
        }
        let per_interval = calls.len() as f64 / f64::from(intervals);
        let (rss, hwm) = memory_kib(pid);
        let ops: Vec<String> = by_op
            .iter()
            .map(|(op, n)| format!("{op} {:.1}", *n as f64 / f64::from(intervals)))
            .collect();
        println!(
            "open invites {tier:>5}: AWS calls/interval {per_interval:>6.1} ({}) | invite reconciles/interval {:>7.1} | \
             RSS {:.1} MiB (peak {:.1} MiB) | all Invited after {:.1}s",
            ops.join(", "),
            (reconciles_after - reconciles_before) / f64::from(intervals),
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            settle.as_secs_f64(),
        );
        // The sweep's share of AWS's per-organization rate for ListHandshakesForOrganization
        // (the emulator's model of the published limit: ratelimit::limit_for).
        let (sweep_rate, _) = orgs_emulator::ratelimit::limit_for("ListHandshakesForOrganization");
        let sweeps = by_op.get("ListHandshakesForOrganization").copied().unwrap_or(0) as f64 / f64::from(intervals);
        let rate_limit_share = sweeps / (sweep_rate * poll.as_secs_f64());
        // One JSON object per tier on its own line (issue 14); null where this bench does not
        // measure a field.
        println!(
            "{}",
            json!({
                "invites": tier,
                "aws_calls_per_interval": per_interval,
                "reconciles_per_interval": (reconciles_after - reconciles_before) / f64::from(intervals),
                "rss_mib": rss as f64 / 1024.0,
                "time_to_invited_s": settle.as_secs_f64(),
                "accept_to_ready_p50_s": null,
                "accept_to_ready_p99_s": null,
                "rate_limit_share": rate_limit_share,
            })
        );
        rows.push((tier, per_interval, rss));
    }
    operator.kill().ok();
    operator.wait().ok();
    let (_, base, _) = rows[0];
    let (_, top, rss) = rows[rows.len() - 1];
    println!(
        "steady_state: {base:.1} → {top:.1} AWS calls per interval from 1 to {} open invites; RSS {:.1} MiB at {}",
        TIERS[TIERS.len() - 1],
        rss as f64 / 1024.0,
        TIERS[TIERS.len() - 1]
    );
}

const METRICS_PORT: u16 = 18181;

fn spawn_operator(env: &TestEnv, poll: Duration) -> Child {
    let exe = env!("CARGO_BIN_EXE_aws-invite-operator");
    Command::new(exe)
        .args(["run", "--log-format", "text", "--leader-election", "false"])
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
                    "metadata": {"name": format!("bench-{i:04}"), "namespace": NAMESPACE},
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

async fn wait_all_invited(api: &Api<AwsAccountInvite>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let list = api.list(&ListParams::default()).await.expect("list");
        let invited = list
            .items
            .iter()
            .filter(|i| i.status.as_ref().and_then(|s| s.phase) == Some(InvitePhase::Invited))
            .count();
        if invited >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {invited} of {n} invites reached Invited"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
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
