//! The integration harness: a real kube-apiserver (kube-testenv), the orgs-emulator in-process,
//! and the operator's controllers running against both.

#![allow(dead_code)]

pub mod ambient;

use std::time::Duration;

use aws_invite_operator::api::{self, AwsAccountInvite, BillingProfile, InvitePhase};
use aws_invite_operator::controller::{self, Clock, ClockHandle, ControllerConfig};
use aws_invite_operator::telemetry::Metrics;
use aws_invite_operator::tenancy::{EndpointPolicy, Tenancy};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, PostParams};
use kube::runtime::wait::await_condition;
use kube_testenv::TestEnv;
use orgs_emulator::{
    ControlClient, Emulator, EmulatorConfig, RunningEmulator, Seed, SeedAccount, SeedOrganization, SeedRole,
};
use serde_json::json;
use tokio::sync::oneshot;

pub const MGMT: &str = "111111111111";
pub const ORG: &str = "o-exampleorg1";
pub const STANDALONE: &str = "222222222222";
pub const SECOND: &str = "444444444444";
pub const MEMBER: &str = "333333333333";
pub const NAMESPACE: &str = "billing";
/// The operator's own namespace: its credentials namespace and where profile Events go.
pub const OPERATOR_NAMESPACE: &str = "aws-invite-operator";
/// The emulator's host: the one endpoint override the tests' operator allows.
pub const EMULATOR_HOST: &str = "127.0.0.1";

/// The tests' tenancy rules: credentials from [`OPERATOR_NAMESPACE`], endpoint overrides to
/// the in-process emulator ([`EMULATOR_HOST`], any port) only.
pub fn test_tenancy() -> Tenancy {
    let mut tenancy = Tenancy::in_namespace(OPERATOR_NAMESPACE);
    tenancy.endpoints = EndpointPolicy::allow(vec![EMULATOR_HOST.parse().expect("allowlist entry")]);
    tenancy
}
pub const PROFILE: &str = "payer-main";
/// A second payer organization (its own management account, so its own daily budget: the
/// budget belongs to the organization, the smallest `invitationsPerDay` of its profiles).
pub const SECOND_PAYER_ORG: &str = "o-secondpayer1";
/// The management account of [`SECOND_PAYER_ORG`] (the emulator's access key IDs are account IDs).
pub const SECOND_PAYER_MGMT: &str = "777777777777";
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn seed() -> Seed {
    let trust_mgmt = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{MGMT}:root")}, "Action": "sts:AssumeRole"}]});
    let mut accounts: Vec<SeedAccount> = [STANDALONE, SECOND].iter().map(|id| SeedAccount::new(*id)).collect();
    accounts.extend((0..30).map(|i| SeedAccount::new(format!("5000000000{i:02}"))));
    Seed {
        organizations: vec![SeedOrganization {
            id: Some(ORG.into()),
            management_account: SeedAccount::new(MGMT),
            members: vec![SeedAccount::new(MEMBER)],
            account_quota: Some(100),
            feature_set: None,
        }],
        accounts,
        oidc_providers: vec![],
        pod_identity_associations: vec![],
        roles: [STANDALONE, MEMBER]
            .iter()
            .map(|account| SeedRole {
                account_id: (*account).into(),
                name: "OrganizationAccountAccessRole".into(),
                path: None,
                trust_policy: trust_mgmt.clone(),
                max_session_duration: None,
            })
            .collect(),
    }
}

pub struct Harness {
    pub env: TestEnv,
    pub emulator: RunningEmulator,
    pub aws: ControlClient,
    pub clock: ClockHandle,
    pub metrics: std::sync::Arc<Metrics>,
    /// How often the operator sweeps each profile's handshakes (1 s unless a test sets it).
    pub poll_interval: Duration,
    /// The operator's tenancy rules ([`test_tenancy`] unless a test sets them before
    /// [`Harness::start_operator`]).
    pub tenancy: Tenancy,
    /// Invites reconciled at once (4 unless a test sets it before [`Harness::start_operator`]).
    pub concurrency: u16,
    clock_source: Clock,
    stop: Option<oneshot::Sender<()>>,
    operator: Option<tokio::task::JoinHandle<Result<(), controller::Error>>>,
}

impl Harness {
    /// Control plane + emulator + operator, with the `billing` namespace.
    pub async fn start() -> Self {
        Self::start_with_poll_interval(Duration::from_secs(1)).await
    }

    /// Like [`Harness::start`], with the operator sweeping each profile every `poll_interval`.
    pub async fn start_with_poll_interval(poll_interval: Duration) -> Self {
        Self::start_with(poll_interval, test_tenancy()).await
    }

    /// Like [`Harness::start`], with the operator sweeping every `poll_interval` under `tenancy`.
    pub async fn start_with(poll_interval: Duration, tenancy: Tenancy) -> Self {
        aws_invite_operator::runtime::install_crypto_provider();
        // The SDK's default chain reads these: the management account's "access key".
        // SAFETY: every test in a binary sets the same values, and the SDK only reads them, so a
        // concurrent reader never sees a value torn or changing under it.
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
        env.create_namespace(OPERATOR_NAMESPACE, [("app", "aws-invite-operator")])
            .await
            .expect("operator namespace");
        let emulator = Emulator::start(EmulatorConfig::with_seed(seed()).rate_limits(false))
            .await
            .expect("emulator");
        let aws = emulator.control();
        let (clock, handle) = Clock::adjustable();
        let metrics = Metrics::new();
        let mut harness = Harness {
            env,
            emulator,
            aws,
            clock: handle,
            metrics: metrics.clone(),
            poll_interval,
            tenancy,
            concurrency: 4,
            clock_source: clock,
            stop: None,
            operator: None,
        };
        harness.start_operator();
        harness
    }

    /// Starts the operator (again, after [`Harness::stop_operator`]: a restart, with nothing
    /// of the previous run's memory).
    pub fn start_operator(&mut self) {
        let clock = self.clock_source.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let config = ControllerConfig {
            poll_interval: self.poll_interval,
            concurrency: self.concurrency,
            metrics: self.metrics.clone(),
            clock,
            instance: Some("test".into()),
            tenancy: self.tenancy.clone(),
        };
        let client = self.env.client();
        self.operator = Some(tokio::spawn(async move {
            controller::run(client, config, async move {
                let _ = stopped.await;
            })
            .await
        }));
        self.stop = Some(stop);
    }

    /// Moves the operator's and the emulator's clocks forward together.
    /// Then touches every invite: a requeue timer set before the jump counts real time, so
    /// the touch stands in for "the timer fired".
    pub async fn advance(&self, by: Duration) {
        self.aws.advance_clock(by).await.expect("emulator clock");
        self.clock.advance(by);
        let stamp = format!("{}", by.as_secs());
        for invite in self.invites().list(&Default::default()).await.expect("list").items {
            let name = invite.metadata.name.clone().expect("named");
            let patch = json!({"metadata": {"labels": {"test.awsinvite.io/clock-advanced": stamp}}});
            self.invites()
                .patch(&name, &patch_params(), &kube::api::Patch::Merge(&patch))
                .await
                .expect("touch");
        }
    }

    pub fn invites(&self) -> Api<AwsAccountInvite> {
        Api::namespaced(self.env.client(), NAMESPACE)
    }

    pub fn profiles(&self) -> Api<BillingProfile> {
        Api::all(self.env.client())
    }

    pub async fn create_profile(&self, spec: serde_json::Value) {
        let mut base = json!({
            "managementAccountId": MGMT,
            "organizationId": ORG,
            "endpointUrl": self.emulator.url(),
            "allowedNamespaces": {"namespaces": [NAMESPACE]},
        });
        merge(&mut base, spec);
        let profile: BillingProfile = serde_json::from_value(json!({
            "apiVersion": "awsinvite.io/v1alpha1", "kind": "BillingProfile",
            "metadata": {"name": PROFILE}, "spec": base,
        }))
        .expect("profile");
        self.profiles()
            .create(&post_params(), &profile)
            .await
            .expect("profile created");
    }

    /// Adds [`SECOND_PAYER_ORG`] to the emulator and a credentials Secret `secret` in
    /// [`OPERATOR_NAMESPACE`] holding its management account's keys; returns the profile spec
    /// fields (`managementAccountId`, `organizationId`, `credentials`) that reach it.
    pub async fn add_second_payer(&self, secret: &str) -> serde_json::Value {
        self.aws
            .add_organization(&SeedOrganization {
                id: Some(SECOND_PAYER_ORG.into()),
                management_account: SeedAccount::new(SECOND_PAYER_MGMT),
                members: vec![],
                account_quota: Some(100),
                feature_set: None,
            })
            .await
            .expect("second payer organization");
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(self.env.client(), OPERATOR_NAMESPACE);
        let keys = serde_json::from_value(json!({
            "metadata": {"name": secret},
            "stringData": {"AWS_ACCESS_KEY_ID": SECOND_PAYER_MGMT, "AWS_SECRET_ACCESS_KEY": "emulator"},
        }))
        .expect("secret");
        secrets.create(&post_params(), &keys).await.expect("secret created");
        json!({
            "managementAccountId": SECOND_PAYER_MGMT,
            "organizationId": SECOND_PAYER_ORG,
            "credentials": {"secretRef": {"namespace": OPERATOR_NAMESPACE, "name": secret}},
        })
    }

    pub async fn create_invite(&self, name: &str, account: &str, extra: serde_json::Value) {
        let mut spec = json!({"billingProfile": PROFILE, "accountId": account});
        merge(&mut spec, extra);
        let invite: AwsAccountInvite = serde_json::from_value(json!({
            "apiVersion": "awsinvite.io/v1alpha1", "kind": "AwsAccountInvite",
            "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec,
        }))
        .expect("invite");
        self.invites()
            .create(&post_params(), &invite)
            .await
            .expect("invite created");
    }

    /// Waits until the invite satisfies `check`, or fails with its last status.
    pub async fn wait_invite(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&AwsAccountInvite) -> bool,
    ) -> AwsAccountInvite {
        let cond = move |obj: Option<&AwsAccountInvite>| obj.is_some_and(&check);
        match tokio::time::timeout(DEADLINE, await_condition(self.invites(), name, cond)).await {
            Ok(Ok(Some(invite))) => invite,
            other => {
                let current = self.invites().get(name).await.ok();
                panic!(
                    "invite {name} never reached {what}: {other:?}\nstatus: {:#?}",
                    current.and_then(|i| i.status)
                )
            }
        }
    }

    /// Waits until the BillingProfile `name` satisfies `check`, or fails with its last status.
    pub async fn wait_profile(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&BillingProfile) -> bool,
    ) -> BillingProfile {
        let cond = move |obj: Option<&BillingProfile>| obj.is_some_and(&check);
        match tokio::time::timeout(DEADLINE, await_condition(self.profiles(), name, cond)).await {
            Ok(Ok(Some(profile))) => profile,
            other => {
                let current = self.profiles().get(name).await.ok();
                panic!(
                    "profile {name} never reached {what}: {other:?}\nstatus: {:#?}",
                    current.and_then(|p| p.status)
                )
            }
        }
    }

    /// Waits until Events about the invite `name` carry every reason in `expected` (they are
    /// published right after the status write), or fails listing what is missing.
    pub async fn wait_events(&self, name: &str, expected: &[&str]) -> Vec<String> {
        let events: Api<Event> = Api::namespaced(self.env.client(), NAMESPACE);
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let reasons: Vec<String> = events
                .list(&Default::default())
                .await
                .expect("events")
                .items
                .into_iter()
                .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
                .filter_map(|e| e.reason)
                .collect();
            let missing: Vec<_> = expected
                .iter()
                .filter(|want| !reasons.iter().any(|r| r == *want))
                .collect();
            if missing.is_empty() {
                return reasons;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "events {missing:?} about {name} missing from {reasons:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn wait_phase(&self, name: &str, phase: InvitePhase) -> AwsAccountInvite {
        self.wait_invite(name, &format!("{phase:?}"), move |i| {
            i.status.as_ref().and_then(|s| s.phase) == Some(phase)
        })
        .await
    }

    /// Calls of `operation` that took effect in the emulator (the call log's executed ones).
    pub async fn executed_calls(&self, operation: &str) -> usize {
        self.aws
            .calls_for(operation)
            .await
            .expect("call log")
            .iter()
            .filter(|c| c.executed)
            .count()
    }

    /// InviteAccountToOrganization calls that took effect in the emulator.
    pub async fn invitations_sent(&self, account: &str) -> usize {
        self.aws
            .calls_for("InviteAccountToOrganization")
            .await
            .expect("call log")
            .iter()
            .filter(|c| c.executed && c.target_account_id.as_deref() == Some(account))
            .count()
    }

    pub async fn stop(mut self) {
        self.stop_operator().await;
    }

    /// Stops the operator, leaving the control plane and the emulator running.
    pub async fn stop_operator(&mut self) {
        let _ = self.stop_operator_with_result().await;
    }

    /// Stops the operator and returns how `controller::run` ended (None: it did not end
    /// within 10 s of the shutdown signal; a panic is an Err too).
    pub async fn stop_operator_with_result(&mut self) -> Option<Result<(), String>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let op = self.operator.take()?;
        match tokio::time::timeout(Duration::from_secs(10), op).await {
            Ok(Ok(result)) => Some(result.map_err(|e| e.to_string())),
            Ok(Err(join)) => Some(Err(join.to_string())),
            Err(_) => None,
        }
    }
}

/// The field manager of every write the tests make (so managedFields names each writer).
pub const TEST_MANAGER: &str = "e2e-test";

pub fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(TEST_MANAGER.into()),
        ..PostParams::default()
    }
}

pub fn patch_params() -> kube::api::PatchParams {
    kube::api::PatchParams {
        field_manager: Some(TEST_MANAGER.into()),
        ..kube::api::PatchParams::default()
    }
}

pub fn condition(invite: &AwsAccountInvite, type_: &str) -> Option<(String, String, String)> {
    invite.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
    })
}

fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(b), serde_json::Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// Waits until the object `name` of `api` satisfies `check`, or fails naming `what` with the
/// object as it last was.
pub async fn wait_object<K>(api: Api<K>, name: &str, what: &str, check: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let cond = move |obj: Option<&K>| obj.is_some_and(&check);
    match tokio::time::timeout(DEADLINE, await_condition(api.clone(), name, cond)).await {
        Ok(Ok(Some(object))) => object,
        other => {
            let current = api.get(name).await.ok();
            panic!("{name} never reached {what}: {other:?}\nlast: {current:#?}")
        }
    }
}

/// Waits until the object `name` of `api` is gone (its finalizer's cleanup done), or fails
/// naming `what`. (`kube::runtime::wait::conditions::is_deleted` needs the object's UID: with
/// an empty one it holds at once.)
pub async fn wait_gone<K>(api: Api<K>, name: &str, what: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let absent = |obj: Option<&K>| obj.is_none();
    match tokio::time::timeout(DEADLINE, await_condition(api, name, absent)).await {
        Ok(Ok(_)) => {}
        other => panic!("{name} never gone ({what}): {other:?}"),
    }
}

/// Adds a customer organization `id` with management account `management_account` and no
/// members (a BillingTransfer's customer).
pub async fn add_customer_organization(h: &Harness, id: &str, management_account: &str) {
    h.aws
        .add_organization(&SeedOrganization {
            id: Some(id.into()),
            management_account: SeedAccount::new(management_account),
            members: vec![],
            account_quota: None,
            feature_set: None,
        })
        .await
        .expect("customer organization");
}

/// The month (`YYYY-MM`) `n` months after the emulator clock's, and its first instant (UTC).
/// AWS takes the next month or the one after as a billing transfer's start: `n` = 2 is always
/// open.
pub async fn emulator_month(h: &Harness, n: i32) -> (String, chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, TimeZone};
    let now = h.aws.clock().await.expect("clock").now;
    let index = now.year() * 12 + now.month0() as i32 + n;
    let first = chrono::Utc
        .with_ymd_and_hms(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1, 0, 0, 0)
        .single()
        .expect("a month's first instant");
    (first.format("%Y-%m").to_string(), first)
}
