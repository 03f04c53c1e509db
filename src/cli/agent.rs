//! `vigil agent`: advertise unmodified ROS 2 nodes and relay the best one.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::dds_args::{DdsArgs, Format};

/// Watch DDS discovery for writers of the configured ROS 2 topics, advertise
/// them with their measured rate and their `/diagnostics` health, and relay
/// the best one onto a stable topic. Runs until interrupted.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// The agent config (see examples/agent.yaml).
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    dds: DdsArgs,
    /// Output format: one JSON line per routing decision with `json`.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let _ = (&args.config, &args.dds, args.format);
    anyhow::bail!("vigil agent is not built yet")
}
