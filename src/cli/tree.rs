//! `vigil tree`: check, evaluate and explain tree files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// `vigil tree` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TreeCommand {
    /// Validate a tree file and summarize it.
    Check {
        /// The tree file (YAML).
        file: PathBuf,
    },
}

pub(crate) fn run(command: TreeCommand) -> anyhow::Result<ExitCode> {
    match command {
        TreeCommand::Check { file } => Err(anyhow::anyhow!("tree check of {} is not built yet", file.display())),
    }
}
