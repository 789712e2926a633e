//! The operator as a process (`aws-invite-operator run`, the binary the image ships), against a
//! real kube-apiserver and the orgs-emulator: SIGKILL between the invitation and the status
//! write (an invite and a BillingTransfer), and two replicas at once. Exactly one invitation per
//! invite or transfer, proven by the emulator's state and call log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_invite_operator::api::{self, AwsAccountInvite, BillingProfile, InvitePhase};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams, PostParams};
use kube_testenv::TestEnv;
use orgs_emulator::{ControlClient, Emulator, EmulatorConfig, Fault, FaultKind, RunningEmulator};
use serde_json::json;
use support::{DEADLINE, MGMT, NAMESPACE, ORG, PROFILE, STANDALONE, seed};

const LEASE_NAMESPACE: &str = "aws-invite-operator";
const LEASE_NAME: &str = "aws-invite-operator";
/// A killed leader's Lease expires after 15 s; the successor needs that plus its start.
const TAKEOVER_DEADLINE: Duration = Duration::from_secs(90);

/// One `aws-invite-operator run` process; SIGKILLed when dropped.
struct Operator {
    child: Child,
    identity: String,
    port: u16,
    log: PathBuf,
}

impl Operator {
    fn spawn(env: &TestEnv, identity: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::env::temp_dir().join(format!("aws-invite-operator-{}-{identity}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_aws-invite-operator"))
            .args([
                "run",
                "--log-format",
                "text",
                "--poll-interval",
                "1s",
                "--concurrency",
                "4",
            ])
            .args([
                "--listen-address",
                &format!("127.0.0.1:{port}"),
                "--metrics-auth",
                "open",
            ])
            .args(["--leader-election", "true", "--lease-name", LEASE_NAME])
            // The emulator stands in for AWS: the one endpoint override allowed.
            .args(["--allow-endpoint-override", "--endpoint-allowlist", "127.0.0.1"])
            .args(["--lease-namespace", LEASE_NAMESPACE, "--identity", identity])
            .env("KUBECONFIG", env.kubeconfig_path())
            .env("AWS_ACCESS_KEY_ID", MGMT)
            .env("AWS_SECRET_ACCESS_KEY", "emulator")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("operator process starts");
        Operator {
            child,
            identity: identity.to_owned(),
            port,
            log,
        }
    }

    /// SIGKILL: no shutdown code runs, the Lease is not released.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process's OpenMetrics page, once it serves one.
    async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Ok(resp) = reqwest::get(&url).await
                && let Ok(body) = resp.text().await
            {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never served /metrics; log:\n{}",
                self.identity,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Control plane + emulator, nothing running the operator yet.
struct World {
    env: TestEnv,
    _emulator: RunningEmulator,
    url: String,
    aws: ControlClient,
}

impl World {
    async fn start() -> Self {
        aws_invite_operator::runtime::install_crypto_provider();
        let env = TestEnv::start().await.expect("control plane");
        env.install_crds(&api::crds()).await.expect("CRDs");
        env.create_namespace(NAMESPACE, [("team", "billing")])
            .await
            .expect("namespace");
        env.create_namespace(LEASE_NAMESPACE, [("app", "aws-invite-operator")])
            .await
            .expect("operator namespace");
        let emulator = Emulator::start(EmulatorConfig::with_seed(seed()).rate_limits(false))
            .await
            .expect("emulator");
        let url = emulator.url();
        let aws = emulator.control();
        let world = World {
            env,
            _emulator: emulator,
            url,
            aws,
        };
        let profile: BillingProfile = serde_json::from_value(json!({
            "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile",
            "metadata": {"name": PROFILE},
            "spec": {
                "managementAccountId": MGMT, "organizationId": ORG, "endpointUrl": world.url,
                "allowedNamespaces": {"namespaces": [NAMESPACE]}, "invitationsPerDay": 50,
            },
        }))
        .expect("profile");
        Api::<BillingProfile>::all(world.env.client())
            .create(&PostParams::default(), &profile)
            .await
            .expect("profile created");
        world
    }

    fn invites(&self) -> Api<AwsAccountInvite> {
        Api::namespaced(self.env.client(), NAMESPACE)
    }

    async fn create_invite(&self, name: &str, account: &str) {
        let invite: AwsAccountInvite = serde_json::from_value(json!({
            "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"billingProfile": PROFILE, "accountId": account},
        }))
        .expect("invite");
        self.invites()
            .create(&PostParams::default(), &invite)
            .await
            .expect("invite created");
    }

    /// Handshakes AWS holds for `account`, in any state.
    async fn handshakes_for(&self, account: &str) -> Vec<orgs_emulator::HandshakeInfo> {
        self.aws
            .handshakes()
            .await
            .expect("handshakes")
            .into_iter()
            .filter(|h| h.target_id == account)
            .collect()
    }

    async fn wait_phase(
        &self,
        name: &str,
        phase: InvitePhase,
        within: Duration,
        ops: &[&Operator],
    ) -> AwsAccountInvite {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let invite = self.invites().get(name).await.expect("invite");
            if invite.status.as_ref().and_then(|s| s.phase) == Some(phase) {
                return invite;
            }
            if tokio::time::Instant::now() > deadline {
                let logs: Vec<String> = ops
                    .iter()
                    .map(|o| format!("--- {}:\n{}", o.identity, o.log()))
                    .collect();
                panic!(
                    "invite {name} never reached {phase:?}: {:#?}\n{}",
                    invite.status,
                    logs.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn lease_holder(&self) -> Option<String> {
        Api::<Lease>::namespaced(self.env.client(), LEASE_NAMESPACE)
            .get_opt(LEASE_NAME)
            .await
            .expect("lease")
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
    }
}

fn metric(page: &str, name_and_labels: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test]
async fn sigkill_after_the_invitation_reached_aws_then_restart_adopts_it() {
    let world = World::start().await;
    // AWS takes the invitation, then the reply is held back: the operator is waiting for it
    // when it dies, so nothing about the invitation is in status yet.
    world
        .aws
        .add_fault(
            &Fault::new("InviteAccountToOrganization", FaultKind::Latency)
                .latency_ms(60_000)
                .after(),
        )
        .await
        .expect("fault");
    let mut first = Operator::spawn(&world.env, "replica-1");
    world.create_invite("crash", STANDALONE).await;

    let deadline = tokio::time::Instant::now() + DEADLINE;
    let handshake = loop {
        if let Some(h) = world.handshakes_for(STANDALONE).await.into_iter().next() {
            break h;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the invitation never reached the emulator; log:\n{}",
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first.kill();
    let before_restart = world.invites().get("crash").await.expect("invite");
    assert!(
        before_restart
            .status
            .as_ref()
            .and_then(|s| s.handshake.as_ref())
            .is_none(),
        "killed before the status write: {:#?}",
        before_restart.status
    );

    let second = Operator::spawn(&world.env, "replica-2");
    let adopted = world
        .wait_phase("crash", InvitePhase::Invited, TAKEOVER_DEADLINE, &[&second])
        .await;
    let status = adopted.status.expect("status");
    assert_eq!(
        status.handshake.map(|h| h.id),
        Some(handshake.id.clone()),
        "the open invitation is adopted"
    );
    assert_eq!(status.attempts, 1);
    let all = world.handshakes_for(STANDALONE).await;
    assert_eq!(all.len(), 1, "exactly one invitation in AWS: {all:#?}");
    let executed = world
        .aws
        .calls_for("InviteAccountToOrganization")
        .await
        .expect("call log")
        .into_iter()
        .filter(|c| c.executed)
        .count();
    // The emulator logs an invitation when it executes, even though its reply never reached
    // the killed operator: exactly one executed call.
    assert_eq!(executed, 1, "exactly one InviteAccountToOrganization took effect");
    assert_eq!(world.lease_holder().await.as_deref(), Some("replica-2"));

    world.aws.accept_invite_for(STANDALONE).await.expect("accept");
    world
        .wait_phase("crash", InvitePhase::Ready, DEADLINE, &[&second])
        .await;
    assert_eq!(world.handshakes_for(STANDALONE).await.len(), 1);
}

/// Issue 13: the same for a BillingTransfer. AWS takes the billing transfer invitation, the
/// reply is held back, the operator is SIGKILLed before it writes status; the next process
/// adopts the open invitation from its first transfer sweep and never sends a second one.
#[tokio::test]
async fn sigkill_after_the_transfer_invitation_reached_aws_then_restart_adopts_it() {
    use aws_invite_operator::api::{BillingTransfer, TransferPhase};
    use chrono::Datelike;
    const CUSTOMER: &str = "777777777777";
    let world = World::start().await;
    world
        .aws
        .add_organization(&orgs_emulator::SeedOrganization {
            id: Some("o-customer001".into()),
            management_account: orgs_emulator::SeedAccount::new(CUSTOMER),
            members: vec![orgs_emulator::SeedAccount::new("777777777778")],
            account_quota: None,
            feature_set: None,
        })
        .await
        .expect("customer organization");
    world
        .aws
        .add_fault(
            &Fault::new("InviteOrganizationToTransferResponsibility", FaultKind::Latency)
                .latency_ms(60_000)
                .after(),
        )
        .await
        .expect("fault");
    // AWS takes the next month or the one after as the start (docs/billing-transfer.md).
    let now = world.aws.clock().await.expect("clock").now;
    let index = now.year() * 12 + now.month0() as i32 + 2;
    let start_month = format!("{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1);
    let transfers: Api<BillingTransfer> = Api::namespaced(world.env.client(), NAMESPACE);
    let mut first = Operator::spawn(&world.env, "replica-1");
    let transfer: BillingTransfer = serde_json::from_value(json!({
        "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingTransfer",
        "metadata": {"name": "crash", "namespace": NAMESPACE},
        "spec": {"billingProfile": PROFILE, "managementAccountId": CUSTOMER, "name": "Acme", "startMonth": start_month},
    }))
    .expect("transfer");
    transfers
        .create(&PostParams::default(), &transfer)
        .await
        .expect("transfer created");

    let deadline = tokio::time::Instant::now() + DEADLINE;
    let sent = loop {
        if let Some(t) = world.aws.transfers().await.expect("transfers").into_iter().next() {
            break t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the transfer invitation never reached the emulator; log:\n{}",
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first.kill();
    let before_restart = transfers.get("crash").await.expect("transfer");
    assert!(
        before_restart
            .status
            .as_ref()
            .and_then(|s| s.transfer.as_ref())
            .is_none(),
        "killed before the status write: {:#?}",
        before_restart.status
    );

    let second = Operator::spawn(&world.env, "replica-2");
    let deadline = tokio::time::Instant::now() + TAKEOVER_DEADLINE;
    let adopted = loop {
        let t = transfers.get("crash").await.expect("transfer");
        if t.status.as_ref().and_then(|s| s.phase) == Some(TransferPhase::Invited) {
            break t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never Invited: {:#?}\n{}",
            t.status,
            second.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let status = adopted.status.expect("status");
    assert_eq!(
        status.transfer.map(|t| t.id),
        Some(sent.id.clone()),
        "the open one is adopted"
    );
    assert_eq!(status.handshake.map(|h| h.id), Some(sent.handshake_id.clone()));
    assert_eq!(status.attempts, 1);
    let all = world.aws.transfers().await.expect("transfers");
    assert_eq!(all.len(), 1, "exactly one transfer invitation in AWS: {all:#?}");
    let executed = world
        .aws
        .calls_for("InviteOrganizationToTransferResponsibility")
        .await
        .expect("call log")
        .into_iter()
        .filter(|c| c.executed)
        .count();
    assert_eq!(
        executed, 1,
        "exactly one InviteOrganizationToTransferResponsibility took effect"
    );

    world.aws.accept_transfer_for(CUSTOMER).await.expect("accept");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while transfers
        .get("crash")
        .await
        .expect("transfer")
        .status
        .and_then(|s| s.phase)
        != Some(TransferPhase::Accepted)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never Accepted:\n{}",
            second.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(world.aws.transfers().await.expect("transfers").len(), 1);
}

#[tokio::test]
async fn two_replicas_one_leader_one_invitation_each_and_a_clean_takeover() {
    let world = World::start().await;
    let replicas = [
        Operator::spawn(&world.env, "replica-a"),
        Operator::spawn(&world.env, "replica-b"),
    ];
    let accounts: Vec<String> = (0..10).map(|i| format!("5000000000{i:02}")).collect();
    for (i, account) in accounts.iter().enumerate() {
        world.create_invite(&format!("pair-{i}"), account).await;
    }
    let ops: Vec<&Operator> = replicas.iter().collect();
    for i in 0..accounts.len() {
        world
            .wait_phase(&format!("pair-{i}"), InvitePhase::Invited, DEADLINE, &ops)
            .await;
    }
    for account in &accounts {
        assert_eq!(
            world.handshakes_for(account).await.len(),
            1,
            "one invitation to {account}"
        );
    }

    let holder = world.lease_holder().await.expect("a leader holds the Lease");
    let (leader, standby): (Vec<_>, Vec<_>) = replicas.into_iter().partition(|r| r.identity == holder);
    let (mut leader, standby) = (
        leader.into_iter().next().expect("leader is a replica"),
        standby.into_iter().next().expect("one standby"),
    );
    let leader_page = leader.metrics().await;
    let standby_page = standby.metrics().await;
    assert_eq!(metric(&leader_page, "aws_invite_leader "), Some(1.0));
    assert_eq!(metric(&standby_page, "aws_invite_leader "), Some(0.0));
    assert!(
        !standby_page
            .lines()
            .any(|l| l.starts_with("aws_invite_aws_calls_total{")),
        "the standby made no AWS call:\n{standby_page}"
    );
    assert_eq!(
        metric(
            &leader_page,
            r#"aws_invite_invitations_sent_total{profile="payer-main"} "#
        ),
        Some(accounts.len() as f64)
    );

    // The leader dies; the standby takes over, sends what is new and nothing again.
    leader.kill();
    world.create_invite("after-takeover", "500000000010").await;
    world
        .wait_phase("after-takeover", InvitePhase::Invited, TAKEOVER_DEADLINE, &[&standby])
        .await;
    assert_eq!(world.lease_holder().await, Some(standby.identity.clone()));
    for account in accounts.iter().chain(std::iter::once(&"500000000010".to_owned())) {
        assert_eq!(
            world.handshakes_for(account).await.len(),
            1,
            "one invitation to {account}"
        );
    }
    let page = standby.metrics().await;
    assert_eq!(metric(&page, "aws_invite_leader "), Some(1.0));
    assert_eq!(
        metric(&page, r#"aws_invite_invitations_sent_total{profile="payer-main"} "#),
        Some(1.0),
        "the new leader sent only the new invitation"
    );
    let invites = world.invites().list(&ListParams::default()).await.expect("list");
    assert!(
        invites
            .items
            .iter()
            .all(|i| i.status.as_ref().is_some_and(|s| s.attempts == 1)),
        "no invite counts a second attempt"
    );
}
