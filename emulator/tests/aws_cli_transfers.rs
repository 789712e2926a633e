//! Billing transfers through a second AWS client: the AWS CLI (botocore), driven as a
//! subprocess, as in aws_cli.rs. Set `ORGS_EMULATOR_SKIP_AWS_CLI=1` to skip on machines
//! without it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use chrono::{Datelike, TimeZone, Utc};
use common::*;
use serde_json::Value;

struct Cli {
    url: String,
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Cli {
    async fn run(&self, key: &str, args: &[&str]) -> Out {
        let out = tokio::process::Command::new("aws")
            .arg("--endpoint-url")
            .arg(&self.url)
            .arg("--output")
            .arg("json")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_PAGER", "")
            .output()
            .await
            .expect("running aws");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn json(&self, key: &str, args: &[&str]) -> Value {
        let o = self.run(key, args).await;
        assert!(o.ok, "aws {args:?} failed: {}", o.stderr);
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("aws {args:?}: {e}: {}", o.stdout))
    }
}

fn cli_available() -> bool {
    if std::env::var_os("ORGS_EMULATOR_SKIP_AWS_CLI").is_some() {
        eprintln!("ORGS_EMULATOR_SKIP_AWS_CLI set: skipping the AWS CLI test");
        return false;
    }
    assert!(
        std::process::Command::new("aws")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "the AWS CLI is required (pip install awscli), or set ORGS_EMULATOR_SKIP_AWS_CLI=1"
    );
    true
}

#[tokio::test]
async fn aws_cli_billing_transfer_invite_accept_rename_withdraw() {
    if !cli_available() {
        return;
    }
    let emu = start().await;
    let cli = Cli { url: emu.url() };
    // The month after next always leaves the 24 h acceptance time.
    let now = emu.control().clock().await.unwrap().now;
    let index = now.year() * 12 + now.month0() as i32 + 2;
    let start = Utc
        .with_ymd_and_hms(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1, 0, 0, 0)
        .unwrap();
    let start_arg = start.format("%Y-%m-%dT%H:%M:%SZ").to_string();

    let v = cli
        .json(
            MGMT,
            &[
                "organizations",
                "invite-organization-to-transfer-responsibility",
                "--type",
                "BILLING",
                "--target",
                &format!("Type=ACCOUNT,Id={OTHER_MGMT}"),
                "--start-timestamp",
                &start_arg,
                "--source-name",
                "Customer A",
                "--notes",
                "hello & <welcome>",
            ],
        )
        .await;
    let h = &v["Handshake"];
    assert_eq!(h["Action"], "TRANSFER_RESPONSIBILITY");
    assert_eq!(h["State"], "OPEN");
    let handshake_id = h["Id"].as_str().unwrap().to_string();
    let transfer_id = h["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Type"] == "RESPONSIBILITY_TRANSFER")
        .and_then(|r| r["Value"].as_str())
        .unwrap()
        .to_string();

    let bad = cli
        .run(
            MGMT,
            &[
                "organizations",
                "invite-organization-to-transfer-responsibility",
                "--type",
                "BILLING",
                "--target",
                &format!("Type=ACCOUNT,Id={OTHER_MGMT}"),
                "--start-timestamp",
                &(start + chrono::TimeDelta::days(1))
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
                "--source-name",
                "Customer A",
            ],
        )
        .await;
    assert!(!bad.ok);
    assert!(bad.stderr.contains("InvalidInputException"), "{}", bad.stderr);

    // The customer finds the invitation as the user guide shows, and accepts it.
    let v = cli
        .json(
            OTHER_MGMT,
            &[
                "organizations",
                "list-handshakes-for-account",
                "--filter",
                "ActionType=TRANSFER_RESPONSIBILITY",
            ],
        )
        .await;
    assert_eq!(v["Handshakes"][0]["Id"], handshake_id.as_str());
    let v = cli
        .json(
            OTHER_MGMT,
            &["organizations", "accept-handshake", "--handshake-id", &handshake_id],
        )
        .await;
    assert_eq!(v["Handshake"]["State"], "ACCEPTED");

    let v = cli
        .json(
            MGMT,
            &[
                "organizations",
                "list-inbound-responsibility-transfers",
                "--type",
                "BILLING",
            ],
        )
        .await;
    let t = &v["ResponsibilityTransfers"][0];
    assert_eq!(t["Id"], transfer_id.as_str());
    assert_eq!(t["Status"], "ACCEPTED");
    assert_eq!(t["Source"]["ManagementAccountId"], OTHER_MGMT);
    let v = cli
        .json(
            OTHER_MGMT,
            &[
                "organizations",
                "list-outbound-responsibility-transfers",
                "--type",
                "BILLING",
            ],
        )
        .await;
    assert_eq!(v["ResponsibilityTransfers"][0]["Id"], transfer_id.as_str());

    let v = cli
        .json(
            MGMT,
            &[
                "organizations",
                "update-responsibility-transfer",
                "--id",
                &transfer_id,
                "--name",
                "Customer A (EMEA)",
            ],
        )
        .await;
    assert_eq!(v["ResponsibilityTransfer"]["Name"], "Customer A (EMEA)");

    // Withdraw at the end of the start month (23:59:59 UTC on its last day).
    let end = {
        let i = index + 1;
        Utc.with_ymd_and_hms(i.div_euclid(12), i.rem_euclid(12) as u32 + 1, 1, 0, 0, 0)
            .unwrap()
            - chrono::TimeDelta::seconds(1)
    };
    let v = cli
        .json(
            OTHER_MGMT,
            &[
                "organizations",
                "terminate-responsibility-transfer",
                "--id",
                &transfer_id,
                "--end-timestamp",
                &end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ],
        )
        .await;
    assert_eq!(v["ResponsibilityTransfer"]["Status"], "WITHDRAWN");
    let v = cli
        .json(
            MGMT,
            &[
                "organizations",
                "describe-responsibility-transfer",
                "--id",
                &transfer_id,
            ],
        )
        .await;
    assert_eq!(v["ResponsibilityTransfer"]["Status"], "WITHDRAWN");
    let missing = cli
        .run(
            MGMT,
            &[
                "organizations",
                "describe-responsibility-transfer",
                "--id",
                "rt-doesnotexist",
            ],
        )
        .await;
    assert!(
        missing.stderr.contains("ResponsibilityTransferNotFoundException"),
        "{}",
        missing.stderr
    );
}
