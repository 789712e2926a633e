//! A failing controller does not take the process down silently (issue 12, item 6): the
//! controllers run under one supervisor (`src/controller/supervise.rs`; its unit tests end and
//! panic a part). Here, on the real API server and emulator: a shutdown is a clean stop, not a
//! failure, and every part is exported in `aws_invite_controller_failures_total` at 0 while the
//! operator works.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use aws_invite_operator::api::InvitePhase;
use serde_json::json;
use support::{Harness, STANDALONE};

#[tokio::test]
async fn a_shutdown_is_a_clean_stop_and_no_controller_failure_is_counted() {
    let mut h = Harness::start().await;
    h.create_profile(json!({})).await;
    h.create_invite("acme", STANDALONE, json!({})).await;
    h.wait_phase("acme", InvitePhase::Invited).await;

    let text = h.metrics.encode().expect("metrics");
    for controller in [
        "AwsAccountInvite",
        "BillingProfile",
        "BillingTransfer",
        "invite-gauges",
        "transfer-gauges",
        "pollers",
    ] {
        let line = format!(r#"aws_invite_controller_failures_total{{controller="{controller}"}} 0"#);
        assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
    }

    let ended = h.stop_operator_with_result().await;
    assert_eq!(ended, Some(Ok(())), "controller::run ends cleanly on shutdown");
    let text = h.metrics.encode().expect("metrics");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("aws_invite_controller_failures_total") && !l.ends_with(" 0")),
        "{text}"
    );
}
