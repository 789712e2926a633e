//! Billing transfers through a second AWS client: the AWS CLI (botocore), driven as a
//! subprocess, as in aws_cli.rs. Set `ORGS_EMULATOR_SKIP_AWS_CLI=1` to skip on machines
//! without it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use chrono::{Datelike, TimeZone, Utc};
use common::cli::{Cli, cli_available};
use common::*;

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
