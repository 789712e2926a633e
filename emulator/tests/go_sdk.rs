//! Wire compatibility with a third AWS client: the AWS SDK for Go v2. Runs `go test` in
//! `tests/go-sdk` (the fresh-start scenario, the same as `fresh_start.rs` with the Rust SDK
//! and `aws_cli.rs` with the AWS CLI) against an emulator started here without a seed.
//! The Go modules come from the Go module proxy (go.mod/go.sum are committed and complete);
//! the emulator listens on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use orgs_emulator::{EmulatorConfig, Seed};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Generous: the first run downloads and compiles the SDK modules.
const GO_TEST_TIMEOUT: Duration = Duration::from_secs(540);

/// `go`, from PATH or the usual install location.
fn go_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("go")).collect::<Vec<_>>())
        .unwrap_or_default();
    candidates
        .into_iter()
        .chain([PathBuf::from("/usr/local/go/bin/go")])
        .find(|p| p.is_file())
        .expect("the Go toolchain (`go`) is needed for the Go SDK contract test: install Go and put it on PATH")
}

#[tokio::test]
async fn go_sdk_fresh_start_scenario() {
    let emu = start_with(EmulatorConfig::with_seed(Seed::default()).rate_limits(false)).await;
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go-sdk");
    let started = Instant::now();
    let mut command = tokio::process::Command::new(go_binary());
    command
        .args(["test", "./...", "-count=1", "-v"])
        .current_dir(&module)
        .env("ORGS_EMULATOR_URL", emu.url())
        // The committed go.mod/go.sum are complete: fail rather than edit them; a go.work above
        // the checkout must not pull this module into another build; no C toolchain needed.
        .env("GOFLAGS", "-mod=readonly -buildvcs=false")
        .env("GOWORK", "off")
        .env("CGO_ENABLED", "0")
        .kill_on_drop(true);
    let output = tokio::time::timeout(GO_TEST_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("`go test` in {} took longer than {GO_TEST_TIMEOUT:?}", module.display()))
        .expect("run `go test`");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    eprintln!("go sdk: `go test` took {:?}", started.elapsed());
    assert!(
        output.status.success(),
        "`go test` in {} failed ({}):\n{stdout}\n{stderr}",
        module.display(),
        output.status
    );
    // The scenario really reached the emulator: its calls are in the call log.
    let calls = emu.control().calls().await.unwrap();
    for op in [
        "CreateOrganization",
        "InviteAccountToOrganization",
        "AcceptHandshake",
        "DeleteOrganization",
    ] {
        assert!(
            calls.iter().any(|c| c.operation == op && c.executed),
            "{op} not in the call log"
        );
    }
}
