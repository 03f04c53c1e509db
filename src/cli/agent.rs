//! `vigil agent`: advertise unmodified ROS 2 nodes and relay the best one.
//!
//! The config is read first, every problem printed as `FILE:LINE: KEY:
//! message` with exit 2. Then the agent runs until SIGINT or SIGTERM,
//! printing its events: with `--format json` one JSON line each (`t`,
//! `event` and the fields of [`AgentEvent`]); `selected` lines are the
//! routing decisions.
//!
//! `--record FILE.mcap` records each relay's routing core (one file per
//! relay when there are several, see `RecordArgs::start_each`);
//! `--metrics` counts them all on one endpoint.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use vigil::metrics::CoreMetrics;
use vigil_bridges::ros2::{Agent, AgentConfig, AgentEvent};
use vigil_discovery::Recorder;

use super::dds_args::{init_logging, runtime, terminated, unix_seconds, ConfigRunArgs, Format};
use super::metrics_args::MetricsArgs;
use super::record_args::{self, RecordArgs, Tee};
use super::trust_args::{KeyArgs, TrustArgs};
use super::InputError;

/// Watch DDS discovery for writers of the configured ROS 2 topics, advertise
/// them with their measured rate and their `/diagnostics` health, and relay
/// the best one onto a stable topic. Runs until interrupted.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    #[command(flatten)]
    run: ConfigRunArgs,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    trust: TrustArgs,
}

pub(crate) fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let (record, metrics) = (args.record, args.metrics);
    let (key, trust) = (args.key.load()?, args.trust.load()?);
    let trust_args = args.trust;
    let args = args.run;
    let mut config = read_config(&args.config)?;
    config.key = key;
    config.trust = trust;
    if args.check {
        for warning in &config.warnings {
            eprintln!("warning: {warning}");
        }
        println!("{}", summary(&config));
        return Ok(ExitCode::SUCCESS);
    }
    let dds = args.dds.config()?;
    init_logging();
    // Each relay is a core of its own: a recording each, one set of metrics.
    let relays: Vec<String> = config
        .topics
        .iter()
        .filter_map(|t| t.relay.as_ref().map(|r| r.ros_topic.clone()))
        .collect();
    let recorders = record.start_each(&relays)?;
    let observers = metrics.start_with(None, CoreMetrics::with_agent)?;
    let recorder_for = |relay: &str| {
        let mut each: Vec<Arc<dyn Recorder>> = Vec::new();
        if let Some(metrics) = &observers.metrics {
            each.push(Arc::clone(metrics) as Arc<dyn Recorder>);
        }
        if let Some((_, flight)) = recorders.iter().find(|(name, _)| name == relay) {
            each.push(Arc::clone(flight) as Arc<dyn Recorder>);
        }
        Tee::of(each)
    };
    let outcome = runtime()?.block_on(async {
        let (agent, mut events) =
            Agent::start_recorded(config, dds, recorder_for).context("cannot start the agent")?;
        for slot in agent.policy_slots() {
            trust_args.watch(slot.clone());
        }
        let mut failed = None;
        tokio::select! {
            _ = terminated() => {}
            _ = async {
                while let Some(event) = events.recv().await {
                    if let Some(metrics) = &observers.metrics {
                        metrics.agent_event(&event);
                    }
                    print_event(args.format, &event);
                    if let AgentEvent::Error { reason } = event {
                        failed = Some(reason);
                        break;
                    }
                }
            } => {}
        }
        agent.shutdown().await;
        match failed {
            Some(reason) => Err(anyhow::anyhow!(reason)),
            None => Ok(ExitCode::SUCCESS),
        }
    });
    for (_, recorder) in recorders {
        record_args::finish(Some(recorder));
    }
    outcome
}

/// Reads and checks the config (and its analyzers file); every problem is
/// an input error.
pub(crate) fn read_config(path: &std::path::Path) -> anyhow::Result<AgentConfig> {
    AgentConfig::load(path).map_err(|e| InputError(e.to_string()).into())
}

fn summary(config: &AgentConfig) -> String {
    let topics: Vec<String> = config
        .topics
        .iter()
        .map(|t| match &t.relay {
            Some(relay) => format!(
                "{} ({}) -> relay {}",
                t.ros_topic, t.ros_type, relay.ros_topic
            ),
            None => format!("{} ({})", t.ros_topic, t.ros_type),
        })
        .collect();
    let analyzers = match (&config.analyzers_file, &config.analyzers) {
        (Some(file), Some(analyzers)) => {
            format!(
                "; aggregates /diagnostics with {file} ({} leaves)",
                analyzers.leaves()
            )
        }
        _ => String::new(),
    };
    format!("{}: ok: {}{analyzers}", config.source, topics.join("; "))
}

fn print_event(format: Format, event: &AgentEvent) {
    match format {
        Format::Json => {
            let mut line = match serde_json::to_value(event) {
                Ok(line) => line,
                Err(e) => return eprintln!("error: cannot print an event: {e}"),
            };
            if let Some(object) = line.as_object_mut() {
                object.insert("t".to_owned(), serde_json::json!(unix_seconds()));
            }
            println!("{line}");
        }
        Format::Text => match event {
            AgentEvent::Stats { .. } => {}
            AgentEvent::Selected {
                relay,
                previous,
                producer,
                cause,
                ..
            } => println!(
                "{relay}: relaying {} (was {}): {cause}",
                producer.as_deref().unwrap_or("nothing"),
                previous.as_deref().unwrap_or("nothing"),
            ),
            AgentEvent::Proxy {
                topic,
                producer,
                state,
                cause,
                ..
            } => println!("{topic}: proxy {producer} {state}: {cause}"),
            AgentEvent::Health {
                topic,
                producer,
                state,
                cause,
                ..
            } => println!(
                "{topic}: {producer} is {state}{}",
                cause.as_ref().map_or(String::new(), |c| format!(": {c}"))
            ),
            other => match serde_json::to_string(other) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("error: cannot print an event: {e}"),
            },
        },
    }
}
