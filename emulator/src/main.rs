//! `orgs-emulator --listen 127.0.0.1:PORT [--seed FILE]`.

#![forbid(unsafe_code)]

use clap::Parser;
use orgs_emulator::{Emulator, EmulatorConfig, ModelOptions, Seed};
use std::net::SocketAddr;
use std::path::PathBuf;

/// A local AWS Organizations (+ STS/IAM) emulator.
#[derive(Debug, Parser)]
#[command(name = "orgs-emulator", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ORGS_EMULATOR_LISTEN", default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    /// Seed file (JSON or YAML).
    #[arg(long, env = "ORGS_EMULATOR_SEED")]
    seed: Option<PathBuf>,
    /// Do not enforce API rate limits.
    #[arg(long)]
    no_rate_limits: bool,
    /// Accepting an invitation while a member of another organization fails with
    /// ALREADY_IN_AN_ORGANIZATION instead of moving the account.
    #[arg(long)]
    no_direct_move: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let seed = match &args.seed {
        Some(p) => Seed::from_file(p)?,
        None => Seed::default(),
    };
    let config = EmulatorConfig {
        seed,
        listen: args.listen,
        rate_limits: !args.no_rate_limits,
        options: ModelOptions {
            move_members_on_accept: !args.no_direct_move,
            ..ModelOptions::default()
        },
        ..EmulatorConfig::default()
    };
    let running = Emulator::start(config).await?;
    println!("orgs-emulator listening on {}", running.url());
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
