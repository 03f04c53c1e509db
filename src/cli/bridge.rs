//! `vigil bridge zenoh`: join a Zenoh network and a DDS domain into one
//! registry (vigil-bridges, cargo feature `zenoh`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::dds_args::{DdsArgs, Format};
use super::InputError;

/// `vigil bridge` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BridgeCommand {
    /// Bridge adverts, liveliness and data between the DDS domain and a
    /// Zenoh network, as the config file says. Runs until interrupted.
    Zenoh {
        /// The bridge config (see examples/zenoh-bridge.yaml).
        #[arg(long)]
        config: PathBuf,
        #[command(flatten)]
        dds: DdsArgs,
        /// Output format: one JSON line per routing decision with `json`.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

pub(crate) fn run(command: BridgeCommand) -> anyhow::Result<ExitCode> {
    match command {
        BridgeCommand::Zenoh { .. } => Err(InputError(
            "this vigil was built without the Zenoh bridge: build it with `cargo build --features zenoh`"
                .to_owned(),
        )
        .into()),
    }
}
