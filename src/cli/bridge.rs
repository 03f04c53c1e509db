//! `vigil bridge zenoh`: join a Zenoh network and a DDS domain into one
//! registry (vigil-bridges, cargo feature `zenoh`; this module is built
//! with it only).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::dds_args::ConfigRunArgs;
use super::metrics_args::MetricsArgs;
use super::record_args::RecordArgs;

/// `vigil bridge` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BridgeCommand {
    /// Bridge adverts, liveliness and data between the DDS domain and a
    /// Zenoh network, as the config file says. Runs until interrupted.
    Zenoh(ZenohArgs),
}

/// `vigil bridge zenoh`'s flags.
#[derive(Debug, Args)]
pub(crate) struct ZenohArgs {
    #[command(flatten)]
    run: ConfigRunArgs,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

pub(crate) fn run(command: BridgeCommand) -> anyhow::Result<ExitCode> {
    match command {
        BridgeCommand::Zenoh(args) => zenoh::run(
            &args.run.config,
            &args.run.dds,
            args.run.format,
            args.run.check,
            (&args.record, &args.metrics),
        ),
    }
}

mod zenoh {
    use std::path::Path;
    use std::process::ExitCode;

    use anyhow::Context;
    use serde_json::json;
    use vigil_bridges::zenoh::{BridgeConfig, BridgeEvent};
    use vigil_discovery::{DdsConfig, VigilParticipant};

    use super::super::dds_args::{init_logging, runtime, terminated, unix_seconds};
    use super::super::dds_args::{DdsArgs, Format};
    use super::super::metrics_args::MetricsArgs;
    use super::super::record_args::{self, RecordArgs};
    use super::super::{InputError, EXIT_INPUT};

    pub(super) fn run(
        path: &Path,
        dds: &DdsArgs,
        format: Format,
        check: bool,
        (record, metrics): (&RecordArgs, &MetricsArgs),
    ) -> anyhow::Result<ExitCode> {
        init_logging();
        let config = match BridgeConfig::load(path) {
            Ok(config) => config,
            Err(error) => {
                for problem in &error.problems {
                    eprintln!("error: {problem}");
                }
                return Ok(ExitCode::from(EXIT_INPUT));
            }
        };
        let dds_config = dds_config(dds, &config)?;
        if check {
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            println!("ok: {}", config.summary());
            return Ok(ExitCode::SUCCESS);
        }
        let recorder = record.start()?;
        let observers = metrics.start(recorder.clone())?;
        let outcome = runtime()?.block_on(async move {
            let participant = VigilParticipant::new(dds_config).context("joining DDS")?;
            vigil_bridges::zenoh::run_recorded(
                config,
                participant,
                observers.recorder.clone(),
                terminated(),
                |event| print(format, &event),
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        });
        record_args::finish(recorder);
        outcome
    }

    /// The DDS side: the flags' domain and interface, the config's
    /// liveness contract for the producers it advertises.
    fn dds_config(dds: &DdsArgs, config: &BridgeConfig) -> Result<DdsConfig, InputError> {
        let base = dds.config()?;
        let heartbeat = config.dds.heartbeat.unwrap_or(base.heartbeat_period);
        let lease = config.dds.lease.unwrap_or(base.lease);
        let dds_config = base.with_liveness(heartbeat, lease);
        dds_config
            .validate()
            .map_err(|e| InputError(format!("{}: {e}", config.source)))?;
        Ok(dds_config)
    }

    fn print(format: Format, event: &BridgeEvent) {
        match format {
            Format::Json => match serde_json::to_value(event) {
                Ok(mut value) => {
                    if let Some(map) = value.as_object_mut() {
                        map.insert("t".to_owned(), json!(unix_seconds()));
                    }
                    println!("{value}");
                }
                Err(e) => eprintln!("error: cannot print an event: {e}"),
            },
            Format::Text => println!("{event}"),
        }
    }
}
