//! `vigil bridge zenoh`: join a Zenoh network and a DDS domain into one
//! registry (vigil-bridges, cargo feature `zenoh`; this module is built
//! with it only).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::dds_args::{DdsArgs, Format};
use super::metrics_args::MetricsArgs;
use super::record_args::RecordArgs;
use super::trust_args::{KeyArgs, TrustArgs};

/// `vigil bridge` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BridgeCommand {
    /// Bridge adverts, liveliness and data between the DDS domain and a
    /// Zenoh network, as the config file says. Runs until interrupted.
    Zenoh(ZenohArgs),
}

/// `vigil bridge zenoh`'s flags: `vigil agent`'s, with `--config`
/// not needed by `--plugin-info` (which takes no other flag).
#[derive(Debug, Args)]
pub(crate) struct ZenohArgs {
    /// Print what the zenohd plugin built from this tree
    /// (`libzenoh_plugin_vigil`) is compatible with: the Rust compiler,
    /// the Zenoh version and feature set a router must have been built
    /// with to load it. Needs no config; `--plugin-info json` prints it
    /// as one JSON object.
    #[arg(long, exclusive = true, value_enum, num_args = 0..=1, default_missing_value = "text", value_name = "FORMAT")]
    plugin_info: Option<Format>,
    /// The config file (commented examples under examples/).
    #[arg(long, required_unless_present = "plugin_info")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    dds: DdsArgs,
    /// Output format: with `json`, one JSON line per event.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Only check the config: print a one-line summary and exit 0, or
    /// every problem with its line and exit 2.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    trust: TrustArgs,
}

pub(crate) fn run(command: BridgeCommand) -> anyhow::Result<ExitCode> {
    match command {
        BridgeCommand::Zenoh(ZenohArgs {
            plugin_info: Some(format),
            ..
        }) => {
            let info = vigil_bridges::zenoh::PluginInfo::current();
            match format {
                Format::Text => println!("{info}"),
                Format::Json => println!("{}", serde_json::to_string(&info)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        BridgeCommand::Zenoh(ZenohArgs {
            config: Some(config),
            dds,
            format,
            check,
            record,
            metrics,
            key,
            trust,
            ..
        }) => zenoh::run(
            &config,
            &dds,
            format,
            check,
            (&record, &metrics),
            (&key, &trust),
        ),
        // clap requires `--config` unless `--plugin-info` is given.
        BridgeCommand::Zenoh(_) => Err(anyhow::anyhow!("--config FILE is required")),
    }
}

mod zenoh {
    use std::path::Path;
    use std::process::ExitCode;

    use anyhow::Context;
    use serde_json::json;
    use vigil::metrics::CoreMetrics;
    use vigil_bridges::zenoh::{BridgeConfig, BridgeEvent, BridgeTrust};
    use vigil_discovery::{DdsConfig, PolicySlot, VigilParticipant};

    use super::super::dds_args::{init_logging, runtime, terminated, unix_seconds};
    use super::super::dds_args::{DdsArgs, Format};
    use super::super::metrics_args::MetricsArgs;
    use super::super::record_args::{self, RecordArgs};
    use super::super::trust_args::{KeyArgs, TrustArgs};
    use super::super::{InputError, EXIT_INPUT};

    pub(super) fn run(
        path: &Path,
        dds: &DdsArgs,
        format: Format,
        check: bool,
        (record, metrics): (&RecordArgs, &MetricsArgs),
        (key, trust): (&KeyArgs, &TrustArgs),
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
        let key = key.load()?;
        let policy = trust.load()?;
        if check {
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            println!("ok: {}", config.summary());
            return Ok(ExitCode::SUCCESS);
        }
        let recorder = record.start()?;
        let observers = metrics.start_with(recorder.clone(), CoreMetrics::with_bridge)?;
        let counted = observers.metrics.clone();
        let outcome = runtime()?.block_on(async move {
            let participant = VigilParticipant::new(dds_config).context("joining DDS")?;
            // One slot for the DDS registry and the Zenoh adverts: a
            // reload (SIGHUP, the file changed) reaches both.
            let slot = PolicySlot::default();
            if let Some(policy) = policy {
                slot.set(policy);
            }
            trust.watch(slot.clone());
            vigil_bridges::zenoh::run_recorded(
                config,
                participant,
                observers.recorder.clone(),
                BridgeTrust::new(key, slot),
                terminated(),
                |event| {
                    if let Some(metrics) = &counted {
                        metrics.bridge_event(&event);
                    }
                    print(format, &event)
                },
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
            // Once a second is for the metrics and JSON readers.
            Format::Text if matches!(event, BridgeEvent::Stats { .. }) => {}
            Format::Text => println!("{event}"),
        }
    }
}
