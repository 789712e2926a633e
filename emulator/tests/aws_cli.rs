//! Wire compatibility with a second AWS client: the AWS CLI (botocore), driven as a
//! subprocess. CI installs it with `pip install awscli` (hack/prereqs.sh). Set
//! `ORGS_EMULATOR_SKIP_AWS_CLI=1` to skip on machines without it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use common::cli::{Cli, cli_available};
use common::*;
use serde_json::Value;

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn aws_cli_invite_accept_and_iam_access() {
    if !cli_available() {
        return;
    }
    let emu = start().await;
    let cli = Cli { url: emu.url() };
    let ctl = emu.control();
    ctl.set_account_quota(ORG, 50).await.unwrap();

    let v = cli
        .json(
            MGMT,
            &[
                "organizations",
                "invite-account-to-organization",
                "--target",
                &format!("Type=ACCOUNT,Id={STANDALONE}"),
                "--notes",
                "hello & <welcome>",
            ],
        )
        .await;
    let h = &v["Handshake"];
    let id = h["Id"].as_str().unwrap().to_string();
    assert_eq!(h["State"], "OPEN");
    assert_eq!(h["Parties"][1]["Id"], STANDALONE);

    let dup = cli
        .run(
            MGMT,
            &[
                "organizations",
                "invite-account-to-organization",
                "--target",
                &format!("Type=ACCOUNT,Id={STANDALONE}"),
            ],
        )
        .await;
    assert!(!dup.ok);
    assert!(dup.stderr.contains("DuplicateHandshakeException"), "{}", dup.stderr);

    let bad = cli
        .run(
            MGMT,
            &[
                "organizations",
                "invite-account-to-organization",
                "--target",
                "Type=ORGANIZATION,Id=o-bbbbbbbbbb",
            ],
        )
        .await;
    assert!(bad.stderr.contains("InvalidInputException"), "{}", bad.stderr);

    for i in 0..4 {
        cli.json(
            MGMT,
            &[
                "organizations",
                "invite-account-to-organization",
                "--target",
                &format!("Type=EMAIL,Id=cli{i}@example.com"),
            ],
        )
        .await;
    }
    // The CLI follows NextToken itself (page size 2 → 3 requests).
    ctl.clear_calls().await.unwrap();
    let v = cli
        .json(
            MGMT,
            &["organizations", "list-handshakes-for-organization", "--page-size", "2"],
        )
        .await;
    assert_eq!(v["Handshakes"].as_array().unwrap().len(), 5);
    assert_eq!(ctl.calls_for("ListHandshakesForOrganization").await.unwrap().len(), 3);

    // The invitee accepts, with its account ID as access key.
    let v = cli
        .json(STANDALONE, &["organizations", "list-handshakes-for-account"])
        .await;
    assert_eq!(v["Handshakes"][0]["Id"], id.as_str());
    let v = cli
        .json(
            STANDALONE,
            &["organizations", "accept-handshake", "--handshake-id", &id],
        )
        .await;
    assert_eq!(v["Handshake"]["State"], "ACCEPTED");
    let again = cli
        .run(
            STANDALONE,
            &["organizations", "accept-handshake", "--handshake-id", &id],
        )
        .await;
    assert!(
        again.stderr.contains("HandshakeAlreadyInStateException"),
        "{}",
        again.stderr
    );

    let v = cli
        .json(MGMT, &["organizations", "describe-account", "--account-id", STANDALONE])
        .await;
    assert_eq!(v["Account"]["JoinedMethod"], "INVITED");
    let v = cli.json(MGMT, &["organizations", "describe-organization"]).await;
    assert_eq!(v["Organization"]["Id"], ORG);

    // STS + IAM over the query protocol.
    let role_arn = format!("arn:aws:iam::{MEMBER}:role/OrganizationAccountAccessRole");
    let v = cli
        .json(
            MGMT,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                &role_arn,
                "--role-session-name",
                "cli",
                "--external-id",
                "ext-123",
            ],
        )
        .await;
    let key = v["Credentials"]["AccessKeyId"].as_str().unwrap().to_string();
    let v = cli
        .json(
            &key,
            &["iam", "get-role", "--role-name", "OrganizationAccountAccessRole"],
        )
        .await;
    assert_eq!(v["Role"]["Arn"], role_arn.as_str());
    // botocore decodes the URL-encoded policy document.
    assert_eq!(
        v["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"],
        "sts:AssumeRole"
    );
    let v = cli.json(&key, &["sts", "get-caller-identity"]).await;
    assert_eq!(v["Account"], MEMBER);
    let denied = cli
        .run(
            MGMT,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                &role_arn,
                "--role-session-name",
                "cli",
            ],
        )
        .await;
    assert!(denied.stderr.contains("AccessDenied"), "{}", denied.stderr);
    let missing = cli.run(&key, &["iam", "get-role", "--role-name", "Nope"]).await;
    assert!(missing.stderr.contains("NoSuchEntity"), "{}", missing.stderr);

    let calls = ctl.calls_for("AcceptHandshake").await.unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.caller_account_id.as_deref() == Some(STANDALONE)));
}

/// The fresh-start scenario of `fresh_start.rs` (Rust SDK) and `go-sdk/scenario_test.go` (Go
/// SDK), with the AWS CLI: an emulator without a seed, driven only through AWS's API. Expected
/// values: AWS's Organizations model (service-2.json) and API reference; modeled errors are
/// HTTP 400 (no httpError code in the model: awsJson1_1's client-error default).
#[tokio::test]
async fn aws_cli_fresh_start_scenario() {
    if !cli_available() {
        return;
    }
    let emu =
        start_with(orgs_emulator::EmulatorConfig::with_seed(orgs_emulator::Seed::default()).rate_limits(false)).await;
    let cli = Cli { url: emu.url() };
    let (joiner, decliner, canceled) = ("222222222222", "333333333333", "444444444444");
    let decliner_email = "account-333333333333@example.com";
    let orgs_cmd = |args: &[&'static str]| [&["organizations"][..], args].concat();

    assert_eq!(
        cli.fail(MGMT, &orgs_cmd(&["describe-organization"])).await,
        Failure::client("AWSOrganizationsNotInUseException")
    );
    let v = cli
        .json(MGMT, &["organizations", "create-organization", "--feature-set", "ALL"])
        .await;
    let org = &v["Organization"];
    assert_eq!(org["MasterAccountId"], MGMT);
    assert_eq!(org["FeatureSet"], "ALL");
    assert!(orgs_emulator::state::is_org_id(org["Id"].as_str().unwrap()), "{org}");
    assert_eq!(
        cli.fail(MGMT, &orgs_cmd(&["create-organization"])).await,
        Failure::client("AlreadyInOrganizationException")
    );

    let invite = |target: String, extra: &[&str]| {
        let mut args = vec![
            "organizations".to_string(),
            "invite-account-to-organization".into(),
            "--target".into(),
            target,
            "--notes".into(),
            "welcome".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let a = invite(
        format!("Type=ACCOUNT,Id={joiner}"),
        &["--tags", "Key=team,Value=billing"],
    );
    let h_join = cli.json(MGMT, &refs(&a)).await["Handshake"].clone();
    assert_eq!(h_join["State"], "OPEN");
    assert_eq!(h_join["Action"], "INVITE");
    let h_decline = cli
        .json(MGMT, &refs(&invite(format!("Type=EMAIL,Id={decliner_email}"), &[])))
        .await["Handshake"]
        .clone();
    assert_eq!(
        cli.fail(MGMT, &refs(&invite(format!("Type=ACCOUNT,Id={decliner}"), &[])))
            .await,
        Failure::client("DuplicateHandshakeException")
    );
    let h_cancel = cli
        .json(MGMT, &refs(&invite(format!("Type=ACCOUNT,Id={canceled}"), &[])))
        .await["Handshake"]
        .clone();
    assert_eq!(
        cli.fail(
            MGMT,
            &refs(&invite(
                "Type=ACCOUNT,Id=555555555555".into(),
                &["--tags", "Key=aws:x,Value=y"]
            ))
        )
        .await,
        Failure::invalid_input("INVALID_SYSTEM_TAGS_PARAMETER")
    );

    // Pages of 2 (the CLI follows NextToken itself: 2 requests), and filters.
    emu.control().clear_calls().await.unwrap();
    let v = cli
        .json(
            MGMT,
            &["organizations", "list-handshakes-for-organization", "--page-size", "2"],
        )
        .await;
    let ids: Vec<_> = v["Handshakes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["Id"].clone())
        .collect();
    assert_eq!(
        ids,
        [h_join["Id"].clone(), h_decline["Id"].clone(), h_cancel["Id"].clone()]
    );
    assert_eq!(
        emu.control()
            .calls_for("ListHandshakesForOrganization")
            .await
            .unwrap()
            .len(),
        2
    );
    let v = cli
        .json(
            MGMT,
            &[
                "organizations",
                "list-handshakes-for-organization",
                "--filter",
                "ActionType=INVITE",
            ],
        )
        .await;
    assert_eq!(v["Handshakes"].as_array().unwrap().len(), 3);
    assert_eq!(
        cli.fail(
            MGMT,
            &orgs_cmd(&[
                "list-handshakes-for-organization",
                "--filter",
                "ParentHandshakeId=h-XXXX"
            ])
        )
        .await,
        Failure::invalid_input("INVALID_PATTERN")
    );
    assert_eq!(
        cli.fail(
            MGMT,
            &orgs_cmd(&[
                "describe-handshake",
                "--handshake-id",
                "h-a123456789012345678901234567890123"
            ])
        )
        .await,
        Failure::invalid_input("MAX_LENGTH_EXCEEDED")
    );

    let id_join = h_join["Id"].as_str().unwrap();
    let v = cli
        .json(
            MGMT,
            &["organizations", "describe-handshake", "--handshake-id", id_join],
        )
        .await;
    assert_eq!(
        (&v["Handshake"]["Id"], &v["Handshake"]["State"]),
        (&h_join["Id"], &Value::from("OPEN"))
    );
    let v = cli
        .json(
            joiner,
            &["organizations", "accept-handshake", "--handshake-id", id_join],
        )
        .await;
    assert_eq!(v["Handshake"]["State"], "ACCEPTED");
    let v = cli
        .json(MGMT, &["organizations", "describe-account", "--account-id", joiner])
        .await;
    assert_eq!(v["Account"]["JoinedMethod"], "INVITED");
    let v = cli
        .json(
            MGMT,
            &["organizations", "list-tags-for-resource", "--resource-id", joiner],
        )
        .await;
    assert_eq!(v["Tags"], serde_json::json!([{"Key": "team", "Value": "billing"}]));
    let id_decline = h_decline["Id"].as_str().unwrap();
    assert_eq!(
        cli.fail(
            joiner,
            &["organizations", "accept-handshake", "--handshake-id", id_decline]
        )
        .await,
        Failure::client("HandshakeNotFoundException")
    );
    assert_eq!(
        cli.fail(joiner, &orgs_cmd(&["list-accounts"])).await,
        Failure::client("AccessDeniedException")
    );

    let v = cli
        .json(decliner, &["organizations", "list-handshakes-for-account"])
        .await;
    assert_eq!(v["Handshakes"].as_array().unwrap().len(), 1);
    assert_eq!(v["Handshakes"][0]["Id"], h_decline["Id"]);
    let v = cli
        .json(
            decliner,
            &["organizations", "decline-handshake", "--handshake-id", id_decline],
        )
        .await;
    assert_eq!(v["Handshake"]["State"], "DECLINED");

    let id_cancel = h_cancel["Id"].as_str().unwrap();
    let v = cli
        .json(
            MGMT,
            &["organizations", "cancel-handshake", "--handshake-id", id_cancel],
        )
        .await;
    assert_eq!(v["Handshake"]["State"], "CANCELED");
    assert_eq!(
        cli.fail(
            MGMT,
            &["organizations", "cancel-handshake", "--handshake-id", id_cancel]
        )
        .await,
        Failure::client("HandshakeAlreadyInStateException")
    );

    assert_eq!(
        cli.fail(MGMT, &orgs_cmd(&["delete-organization"])).await,
        Failure::client("OrganizationNotEmptyException")
    );
    cli.run(
        MGMT,
        &[
            "organizations",
            "remove-account-from-organization",
            "--account-id",
            joiner,
        ],
    )
    .await;
    let deleted = cli.run(MGMT, &["organizations", "delete-organization"]).await;
    assert!(deleted.ok, "{}", deleted.stderr);
    assert_eq!(
        cli.fail(MGMT, &orgs_cmd(&["describe-organization"])).await,
        Failure::client("AWSOrganizationsNotInUseException")
    );
}
