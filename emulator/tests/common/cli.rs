//! The AWS CLI runner shared by the CLI contract tests (`aws_cli.rs`, `aws_cli_transfers.rs`).

use super::Failure;
use serde_json::Value;

/// The AWS CLI (botocore) against an emulator, as a subprocess with a clean environment.
pub struct Cli {
    /// The emulator's endpoint.
    pub url: String,
}

/// What one CLI run printed.
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Cli {
    /// Runs `aws <args>` as the caller whose access key is `key`.
    pub async fn run(&self, key: &str, args: &[&str]) -> Out {
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

    /// Runs a command that must fail; its error code (the CLI's "An error occurred (Code)"),
    /// the body's Reason and the HTTP status, read from `--debug` output.
    pub async fn fail(&self, key: &str, args: &[&str]) -> Failure {
        let mut with_debug = args.to_vec();
        with_debug.push("--debug");
        let o = self.run(key, &with_debug).await;
        assert!(!o.ok, "aws {args:?} succeeded: {}", o.stdout);
        let after = |text: &str, marker: &str, end: char| {
            text.rfind(marker).map(|i| {
                text[i + marker.len()..]
                    .split(end)
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        };
        let code = after(&o.stderr, "An error occurred (", ')').unwrap_or_else(|| panic!("{}", o.stderr));
        let status = after(&o.stderr, "\"POST / HTTP/1.1\" ", ' ')
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {}", o.stderr));
        let reason = after(&o.stderr, "\"Reason\":\"", '"');
        Failure { code, reason, status }
    }

    /// Runs a command that must succeed; its JSON output.
    pub async fn json(&self, key: &str, args: &[&str]) -> Value {
        let o = self.run(key, args).await;
        assert!(o.ok, "aws {args:?} failed: {}", o.stderr);
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("aws {args:?}: {e}: {}", o.stdout))
    }
}

/// Whether to run the CLI tests: false when `ORGS_EMULATOR_SKIP_AWS_CLI` is set; fails when
/// the CLI is missing otherwise.
pub fn cli_available() -> bool {
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
