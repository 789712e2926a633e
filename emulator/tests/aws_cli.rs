//! Wire compatibility with a second AWS client: the AWS CLI (botocore), driven as a
//! subprocess. CI installs it with `pip install awscli` (hack/prereqs.sh). Set
//! `ORGS_EMULATOR_SKIP_AWS_CLI=1` to skip on machines without it.

mod common;

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
