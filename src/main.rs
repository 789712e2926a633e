//! The `aws-invite-operator` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use aws_invite_operator::api;
use clap::{Parser, Subcommand};

/// Kubernetes operator that invites existing AWS accounts into an AWS Organization.
#[derive(Parser, Debug)]
#[command(name = "aws-invite-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print every CustomResourceDefinition as YAML (the bytes checked in under crds/).
    Crds {
        /// Write one `<name>.yaml` per CRD into this directory instead of printing.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Crds { out_dir }) => match print_crds(out_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::FAILURE
            }
        },
        None => {
            eprintln!("the `run` command arrives with the reconciler; try `aws-invite-operator crds`");
            ExitCode::FAILURE
        }
    }
}

fn print_crds(out_dir: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = out_dir else {
        print!("{}", api::crds_yaml()?);
        return Ok(());
    };
    std::fs::create_dir_all(&dir)?;
    for crd in api::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, api::crd_yaml(&crd)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
