//! `vigil replay FILE.mcap`: feed a recording's inputs through a fresh core
//! and check that every recorded decision comes out again.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use vigil::record::{replay, replay_what_if, ReplayError, ReplayedDecision, WhatIf};

use super::dds_args::{millis, Format};
use super::{InputError, EXIT_INPUT};

/// Replay a flight recording (`--record FILE.mcap`) through the same core
/// and print every decision; exit 0 when each one is reproduced, 1 naming
/// the first that differs, 2 on a file that cannot be read (a truncated
/// file replays up to the damage and says so). With `--query` or a policy
/// flag, a "what if": the same inputs under that query or policy, printing
/// the steps whose switches would have differed. A supervisor's recording
/// (`vigil supervise --record`) has no core inputs: its events are printed.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The recording.
    file: PathBuf,
    /// What if: replay under this constraint query instead, and print
    /// the steps whose switches would have differed (exit 0).
    #[arg(long)]
    query: Option<String>,
    /// What if: this hold-off, in milliseconds.
    #[arg(long = "hold-off-ms", value_parser = millis)]
    hold_off: Option<std::time::Duration>,
    /// What if: this wait-to-restore, in milliseconds.
    #[arg(long = "wait-to-restore-ms", value_parser = millis)]
    wait_to_restore: Option<std::time::Duration>,
    /// What if: never return to a recovered producer on its own.
    #[arg(long)]
    non_revertive: bool,
    /// What if: this margin (relative, 0.1 = 10 %).
    #[arg(long)]
    margin: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl ReplayArgs {
    fn what_if(&self) -> Result<WhatIf, InputError> {
        if let Some(query) = &self.query {
            vigil_qos::Query::parse(query).map_err(|e| InputError(format!("--query: {e}")))?;
        }
        if self.margin.is_some_and(|m| !(m.is_finite() && m >= 0.0)) {
            return Err(InputError("--margin must be a non-negative number".into()));
        }
        let mut what_if = WhatIf::default();
        what_if.query = self.query.clone();
        what_if.hold_off = self.hold_off;
        what_if.wait_to_restore = self.wait_to_restore;
        what_if.revertive = self.non_revertive.then_some(false);
        what_if.margin = self.margin;
        Ok(what_if)
    }
}

/// "What if": the steps whose switches differ; exit 0, or 2 on damage.
fn run_what_if(args: &ReplayArgs, what_if: &WhatIf) -> anyhow::Result<ExitCode> {
    let format = args.format;
    let outcome = replay_what_if(&args.file, what_if, |d| match format {
        Format::Json => println!("{}", json!({"difference": d})),
        Format::Text => println!(
            "#{} t={} recorded {} -> would have {}",
            d.step,
            d.at_ns,
            serde_json::Value::from(d.recorded.clone()),
            serde_json::Value::from(d.replayed.clone())
        ),
    })
    .map_err(|e| InputError(e.to_string()))?;
    match format {
        Format::Json => println!("{}", json!({"summary": outcome})),
        Format::Text => println!(
            "replayed {} input(s) under the changes: {} step(s) would have switched differently",
            outcome.steps, outcome.differences
        ),
    }
    if let Some(damage) = &outcome.damage {
        eprintln!("error: {}: {damage}", args.file.display());
        return Ok(ExitCode::from(EXIT_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let what_if = args.what_if()?;
    if what_if.is_set() {
        return run_what_if(&args, &what_if);
    }
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
        Format::Text if outcome.supervisor_events > 0 => println!(
            "a supervisor's recording: {} event(s), no core inputs to replay",
            outcome.supervisor_events
        ),
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
            ReplayedDecision::Breaker { step, at_ns, event } => println!(
                "#{step} t={at_ns} BREAKER {} {}",
                key(&event["key"]),
                event["breaker"].as_str().unwrap_or("?")
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
