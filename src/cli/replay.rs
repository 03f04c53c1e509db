//! `vigil replay FILE.mcap`: feed a recording's inputs through a fresh core
//! and check that every recorded decision comes out again.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use vigil::record::{replay, ReplayError, ReplayedDecision};

use super::dds_args::Format;
use super::{InputError, EXIT_INPUT};

/// Replay a flight recording (`--record FILE.mcap`) through the same core
/// and print every decision; exit 0 when each one is reproduced, 1 naming
/// the first that differs, 2 on a file that cannot be read (a truncated
/// file replays up to the damage and says so).
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The recording.
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let format = args.format;
    let outcome = replay(&args.file, |decision| print(format, decision));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error @ (ReplayError::Read { .. } | ReplayError::Format { .. })) => {
            return Err(InputError(error.to_string()).into())
        }
        Err(error) => return Err(error.into()),
    };
    match format {
        Format::Json => println!("{}", json!({"summary": outcome})),
        Format::Text => {
            println!(
                "replayed {} input(s): {} decision(s) reproduced, {} of them switches",
                outcome.steps, outcome.decisions, outcome.selections
            );
            if let Some(d) = &outcome.divergence {
                let show = |v: &Option<serde_json::Value>| {
                    v.as_ref()
                        .map_or_else(|| "(none)".to_owned(), ToString::to_string)
                };
                println!(
                    "DIVERGED at step {} (t={} ns), {}:\n  recorded: {}\n  replayed: {}",
                    d.step,
                    d.at_ns,
                    d.what,
                    show(&d.recorded),
                    show(&d.replayed)
                );
            }
        }
    }
    if outcome.divergence.is_some() {
        return Ok(ExitCode::FAILURE);
    }
    if let Some(damage) = &outcome.damage {
        eprintln!("error: {}: {damage}", args.file.display());
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

fn print(format: Format, decision: &ReplayedDecision) {
    match format {
        Format::Json => println!("{}", json!(decision)),
        Format::Text => match decision {
            ReplayedDecision::RegistryChange {
                step,
                at_ns,
                change,
            } => {
                println!("#{step} t={at_ns} registry {change}")
            }
            ReplayedDecision::Selection { step, at_ns, event } => println!(
                "#{step} t={at_ns} SWITCH {} -> {}: {}",
                key(&event["previous"]),
                key(&event["active"]["key"]),
                event["cause"].as_str().unwrap_or("?")
            ),
            _ => println!("{}", json!(decision)),
        },
    }
}

fn key(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "(none)".into(),
        v => match (v["producer"].as_str(), v["topic"].as_str()) {
            (Some(p), Some(t)) => format!("{p}/{t}"),
            _ => v.to_string(),
        },
    }
}
