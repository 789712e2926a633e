//! Leader election on a real kube-apiserver: one leader among candidates, fast hand-over on
//! release, loss reported when another holder takes the Lease.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use aws_invite_operator::runtime::install_crypto_provider;
use aws_invite_operator::runtime::leader::{LeaderConfig, LeaderHandle, acquire};
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube_testenv::TestEnv;
use serde_json::json;
use tokio::time::timeout;

const NAMESPACE: &str = "default";

async fn holder(api: &Api<Lease>, name: &str) -> Option<String> {
    api.get(name)
        .await
        .expect("lease readable")
        .spec
        .and_then(|s| s.holder_identity)
}

#[tokio::test]
async fn one_leader_and_fast_hand_over_on_release() {
    install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane starts");
    let lease = "hand-over";
    let api: Api<Lease> = Api::namespaced(env.client(), NAMESPACE);

    let first = timeout(
        Duration::from_secs(30),
        acquire(env.client(), LeaderConfig::new(lease, NAMESPACE, "candidate-a")),
    )
    .await
    .expect("first candidate elected in time")
    .expect("first candidate elected");
    assert!(first.is_leader());
    assert_eq!(first.identity(), "candidate-a");
    assert_eq!(holder(&api, lease).await.as_deref(), Some("candidate-a"));

    let mut second = tokio::spawn(acquire(
        env.client(),
        LeaderConfig::new(lease, NAMESPACE, "candidate-b"),
    ));
    // The standby must not become leader while the first one holds the Lease (which it renews:
    // 15 s duration, renewed 5 s before expiry). Watching for 3 s only checks an absence.
    assert!(
        timeout(Duration::from_secs(3), &mut second).await.is_err(),
        "the standby became leader while the lease was held"
    );
    assert_eq!(holder(&api, lease).await.as_deref(), Some("candidate-a"));

    first.release().await.expect("lease released");
    // Well under the 15 s lease duration: the standby reacts to the release, not to expiry.
    let second: LeaderHandle = timeout(Duration::from_secs(8), second)
        .await
        .expect("standby took over within 8 s of the release")
        .expect("task joins")
        .expect("standby elected");
    assert!(second.is_leader());
    assert_eq!(holder(&api, lease).await.as_deref(), Some("candidate-b"));

    second.release().await.expect("released");
    assert_eq!(holder(&api, lease).await, None);
}

#[tokio::test]
async fn loss_is_reported_when_another_holder_takes_the_lease() {
    install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane starts");
    let lease = "stolen";
    let api: Api<Lease> = Api::namespaced(env.client(), NAMESPACE);

    let leader = timeout(
        Duration::from_secs(30),
        acquire(env.client(), LeaderConfig::new(lease, NAMESPACE, "candidate-a")),
    )
    .await
    .expect("elected in time")
    .expect("elected");
    let lost = leader.lost();
    tokio::pin!(lost);
    assert!(
        timeout(Duration::from_millis(500), &mut lost).await.is_err(),
        "lost() completed while still leader"
    );

    // Someone else (e.g. a replica after a network partition) writes itself into the Lease.
    let now = k8s_openapi::jiff::Timestamp::now();
    api.patch(
        lease,
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": {
            "holderIdentity": "intruder",
            "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(now),
            "leaseDurationSeconds": 15,
        }})),
    )
    .await
    .expect("lease patched");

    timeout(Duration::from_secs(5), lost)
        .await
        .expect("loss reported well before the next renewal");
    assert!(!leader.is_leader());
    // Releasing after a loss leaves the other holder alone.
    leader.release().await.expect("release after loss is a no-op");
    assert_eq!(holder(&api, lease).await.as_deref(), Some("intruder"));
}

/// A holder that crashed never releases its Lease: a standby may take it only once it has
/// expired, `leaseDurationSeconds` after its last `renewTime` (client-go's rule, which measures
/// the expiry on the candidate's own clock from when it observed the Lease; here every clock is
/// this machine's). The e2e tier saw a new pod take a SIGKILLed pod's Lease ~3 s after its last
/// renewal.
#[tokio::test]
async fn a_crashed_holders_lease_is_taken_only_after_it_expired() {
    install_crypto_provider();
    let env = TestEnv::start().await.expect("control plane starts");
    let lease = "crashed";
    let api: Api<Lease> = Api::namespaced(env.client(), NAMESPACE);

    // A real candidate is elected (so the Lease carries what kube-lease-manager writes: its
    // field managers, transitions), then "crashes".
    let first = timeout(
        Duration::from_secs(30),
        acquire(env.client(), LeaderConfig::new(lease, NAMESPACE, "crashed-holder")),
    )
    .await
    .expect("first candidate elected in time")
    .expect("first candidate elected");
    // Its handle cannot be made to stop renewing without releasing (Drop releases), so let it
    // release, then write the crashed holder's last renewal back: the state a SIGKILL leaves.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while holder(&api, lease).await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dropped handle released the lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let renewed = k8s_openapi::jiff::Timestamp::now();
    api.patch(
        lease,
        &PatchParams::default(),
        &Patch::Merge(json!({ "spec": {
            "holderIdentity": "crashed-holder",
            "acquireTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(renewed),
            "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(renewed),
            "leaseDurationSeconds": 15,
        }})),
    )
    .await
    .expect("lease patched");
    let observed = std::time::Instant::now();

    let standby = timeout(
        Duration::from_secs(40),
        acquire(env.client(), LeaderConfig::new(lease, NAMESPACE, "standby")),
    )
    .await
    .expect("standby elected once the lease expired")
    .expect("standby elected");
    let waited = observed.elapsed();
    let spec = api.get(lease).await.expect("lease readable").spec.expect("spec");
    let acquired = spec.acquire_time.expect("acquireTime").0;
    assert_eq!(spec.holder_identity.as_deref(), Some("standby"));
    assert!(
        waited >= Duration::from_secs(15),
        "the standby took the lease {waited:?} after the crashed holder's last renewal (lease 15 s)"
    );
    assert!(
        acquired >= renewed + Duration::from_secs(15),
        "acquireTime {acquired} is before the crashed holder's lease expired ({renewed} + 15 s)"
    );
    standby.release().await.expect("released");
}

/// The e2e tier's sequence: a hand-over (the old leader releases on SIGTERM, the standby takes
/// the Lease) and then the new leader crashes within a second of taking it. The crash is its
/// whole runtime stopping (every task dropped, nothing released), as a SIGKILL does; a third
/// candidate must still wait for the crashed holder's Lease to expire.
#[test]
fn a_holder_crashing_right_after_a_hand_over_keeps_its_lease_until_it_expires() {
    install_crypto_provider();
    let main = tokio::runtime::Runtime::new().unwrap();
    let env = main.block_on(TestEnv::start()).expect("control plane starts");
    let lease = "hand-over-crash";
    let config = env.kube_config();

    // The second candidate runs on a runtime of its own: shutting that runtime down is its crash.
    let crashable = tokio::runtime::Runtime::new().unwrap();
    let (elected_tx, elected_rx) = std::sync::mpsc::channel();
    // The second candidate campaigns only once the first leads: otherwise it may win first,
    // and the first then waits for a Lease that is never released.
    let (a_leads_tx, a_leads_rx) = tokio::sync::oneshot::channel::<()>();
    let b_config = config.clone();
    crashable.spawn(async move {
        let client = kube::Client::try_from(b_config).unwrap();
        if a_leads_rx.await.is_err() {
            return;
        }
        let handle = acquire(client, LeaderConfig::new(lease, NAMESPACE, "candidate-b"))
            .await
            .unwrap();
        elected_tx.send(()).unwrap();
        // Leads (renews) until its runtime goes away.
        std::future::pending::<()>().await;
        drop(handle);
    });

    main.block_on(async {
        let api: Api<Lease> = Api::namespaced(env.client(), NAMESPACE);
        let first = timeout(
            Duration::from_secs(30),
            acquire(env.client(), LeaderConfig::new(lease, NAMESPACE, "candidate-a")),
        )
        .await
        .expect("first elected in time")
        .expect("first elected");
        a_leads_tx.send(()).expect("the second candidate waits");
        first.release().await.expect("released");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while elected_rx.try_recv().is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the standby did not take over");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(holder(&api, lease).await.as_deref(), Some("candidate-b"));
    });
    // The crash, within a second of the hand-over.
    crashable.shutdown_background();
    main.block_on(async {
        let api: Api<Lease> = Api::namespaced(env.client(), NAMESPACE);
        let spec = api.get(lease).await.unwrap().spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("candidate-b"));
        let renewed = spec.renew_time.expect("renewTime").0;
        let third = timeout(
            Duration::from_secs(40),
            acquire(env.client(), LeaderConfig::new(lease, NAMESPACE, "candidate-c")),
        )
        .await
        .expect("third elected once the lease expired")
        .expect("third elected");
        let spec = api.get(lease).await.unwrap().spec.unwrap();
        let acquired = spec.acquire_time.expect("acquireTime").0;
        eprintln!("crashed holder's last renewal {renewed}, successor acquired {acquired}");
        assert!(
            acquired >= renewed + Duration::from_secs(15),
            "acquireTime {acquired} is before the crashed holder's lease expired ({renewed} + 15 s)"
        );
        third.release().await.expect("released");
    });
}
