//! `vigil bt`: check behaviour tree files and dry-run them over replayed
//! diagnostic events.
//!
//! `check` prints a one-line summary (exit 0) or every problem as
//! `FILE:LINE: <Element>: message` (exit 2). `run` loads the behaviour
//! tree, the diagnostic tree, the events (the `vigil tree eval` format) and
//! optionally a modes file, checks the behaviour tree's paths and modes
//! against them, and prints per tick the root's status, the actions that
//! would start or be halted, and the mode changes, with no side effects.
//! JSON lines: `{"event":"tick","at":S,"tree":ID,"status":...}`,
//! `{"event":"action","at":S,"action":"Restart","args":{...},"id":N}`,
//! `{"event":"halt",...}` (same fields), `{"event":"mode","at":S,"from":A,
//! "to":B,"cause":...}`.

use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{json, Map, Value};
use vigil_diag::{parse_numbered_events, Observation, Path, Timestamp, Tree};
use vigil_recovery::bt::{
    load_bt_str, Action, BehaviorTree, Condition, DryRun, Leaf, Record, XmlError,
};
use vigil_recovery::modes::{load_modes_str, Modes};

use super::tree::{problems_error, read, validate, Format};
use super::InputError;

/// `vigil bt` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BtCommand {
    /// Validate a behaviour tree file (BehaviorTree.CPP v4 XML, vigil's
    /// subset): a one-line summary, or every problem with its line (exit 2).
    Check {
        /// The behaviour tree file.
        file: PathBuf,
    },
    /// Dry run: replay diagnostic events through a tree file, the behaviour
    /// tree and the modes, and print each tick, each action that would run
    /// and each mode change. Nothing is started, stopped or isolated.
    Run {
        /// The behaviour tree file.
        file: PathBuf,
        /// The diagnostic tree file (YAML).
        #[arg(long)]
        tree: PathBuf,
        /// Events, one JSON object per line, as `vigil tree eval` reads them.
        #[arg(long)]
        events: PathBuf,
        /// A modes file (YAML): named modes and the rules that switch them.
        #[arg(long)]
        modes: Option<PathBuf>,
        /// Run on to this time (seconds) after the last event, for the
        /// waits, timeouts and hold times still due. Default: the last
        /// event's time.
        #[arg(long, value_parser = parse_until)]
        until: Option<Timestamp>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

fn parse_until(text: &str) -> Result<Timestamp, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(Timestamp::from_secs_f64)
        .ok_or_else(|| format!("`{text}` is not a number of seconds >= 0"))
}

pub(crate) fn run(command: BtCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        BtCommand::Check { file } => {
            let bt = load_bt(&file)?;
            let (mut conditions, mut actions) = (0, 0);
            for (_, leaf) in bt.leaves() {
                match leaf {
                    Leaf::Condition(_) => conditions += 1,
                    Leaf::Action(_) => actions += 1,
                }
            }
            let trees = bt.tree_ids().len();
            writeln!(
                out,
                "{}: ok: main tree `{}`, {trees} tree{}, {} nodes expanded, {conditions} conditions, {actions} actions",
                file.display(),
                bt.main_tree(),
                if trees == 1 { "" } else { "s" },
                bt.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        BtCommand::Run {
            file,
            tree,
            events,
            modes,
            until,
            format,
        } => {
            let bt = load_bt(&file)?;
            let tree_name = tree.display().to_string();
            let (_, built) =
                validate(&read(&tree)?, &tree_name).map_err(|p| problems_error(&tree_name, &p))?;
            let modes = modes.map(|m| load_modes(&m)).transpose()?;
            cross_check(&file, &bt, &built, modes.as_ref())?;
            let batches = read_events(&events)?;
            let last = batches.last().map_or(Timestamp::ZERO, |(at, _)| *at);
            let mut run = DryRun::new(built, bt, modes);
            let events_name = events.display();
            let refused = |e| InputError(format!("{events_name}: {e}"));
            for (at, batch) in batches {
                run.apply(batch, at).map_err(refused)?;
                print(&mut out, run.take_records(), format)?;
            }
            run.run_until(until.unwrap_or(last).max(last))
                .map_err(refused)?;
            print(&mut out, run.take_records(), format)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) fn load_bt(file: &FsPath) -> anyhow::Result<BehaviorTree> {
    let name = file.display().to_string();
    load_bt_str(&read(file)?).map_err(|e: XmlError| {
        let count = e.problems.len();
        let header = format!(
            "{name}: {count} problem{}",
            if count == 1 { "" } else { "s" }
        );
        InputError(format!("{header}\n{}", e.render(&name))).into()
    })
}

pub(crate) fn load_modes(file: &FsPath) -> anyhow::Result<Modes> {
    let name = file.display().to_string();
    match load_modes_str(&read(file)?, &name) {
        Ok((modes, warnings)) => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            Ok(modes)
        }
        Err(e) => Err(InputError(e.to_string()).into()),
    }
}

/// Every path the behaviour tree reads must be in the diagnostic tree, and
/// every mode it names in the modes file (when there is one).
pub(crate) fn cross_check(
    file: &FsPath,
    bt: &BehaviorTree,
    tree: &Tree,
    modes: Option<&Modes>,
) -> Result<(), InputError> {
    let name = file.display();
    let mut problems = Vec::new();
    for (line, leaf) in bt.leaves() {
        match leaf {
            Leaf::Condition(Condition::Health { path, .. } | Condition::Trend { path, .. })
                if tree.health(path).is_none() =>
            {
                problems.push(format!(
                    "{name}:{line}: no node `{path}` in the diagnostic tree"
                ));
            }
            Leaf::Condition(Condition::InMode { mode })
            | Leaf::Action(Action::SetMode { mode }) => {
                if let Some(modes) = modes.filter(|m| m.mode(mode).is_none()) {
                    let known: Vec<&str> = modes.modes.iter().map(|m| m.name.as_str()).collect();
                    problems.push(format!(
                        "{name}:{line}: no mode `{mode}` in the modes file; it has {}",
                        vigil_diag::config::one_of(&known)
                    ));
                }
            }
            _ => {}
        }
    }
    problems.dedup();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InputError(problems.join("\n")))
    }
}

type Batch = Vec<(Path, Observation)>;

/// The events, grouped by time; time may not go backwards.
fn read_events(file: &FsPath) -> Result<Vec<(Timestamp, Batch)>, InputError> {
    let name = file.display().to_string();
    let events = parse_numbered_events(&read(file)?).map_err(|e| {
        let lines: Vec<String> = e
            .errors
            .iter()
            .map(|e| format!("{name}:{}: {}", e.line, e.error))
            .collect();
        InputError(lines.join("\n"))
    })?;
    let mut batches: Vec<(Timestamp, Batch)> = Vec::new();
    for (line, event) in events {
        match batches.last_mut() {
            Some((at, batch)) if *at == event.at => batch.push((event.path, event.observation)),
            Some((at, _)) if *at > event.at => {
                return Err(InputError(format!(
                    "{name}:{line}: time goes backwards ({} s after {} s)",
                    event.at.as_secs_f64(),
                    at.as_secs_f64()
                )))
            }
            _ => batches.push((event.at, vec![(event.path, event.observation)])),
        }
    }
    Ok(batches)
}

fn args(action: &Action) -> Value {
    let map: Map<String, Value> = action
        .args()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    Value::Object(map)
}

/// A record as one JSON object (the dry run's and the live engine's
/// lines).
pub(crate) fn record_json(record: &Record) -> Option<Value> {
    Some(match record {
        Record::Tick { at, tree, status } => json!({
            "event": "tick", "at": at.as_secs_f64(), "tree": tree, "status": status.as_str(),
        }),
        Record::Action { at, id, action } | Record::Halt { at, id, action } => json!({
            "event": if matches!(record, Record::Action { .. }) { "action" } else { "halt" },
            "at": at.as_secs_f64(), "action": action.name(), "args": args(action), "id": id.0,
        }),
        Record::Mode(change) => json!({
            "event": "mode", "at": change.at.as_secs_f64(), "from": change.from,
            "to": change.to, "cause": change.cause.to_string(),
        }),
        _ => return None,
    })
}

/// A record as one line of text.
pub(crate) fn record_text(record: &Record) -> Option<String> {
    Some(match record {
        Record::Tick { at, tree, status } => {
            format!("{:>9.3}  tick    {tree}: {status}", at.as_secs_f64())
        }
        Record::Action { at, action, .. } => format!("{:>9.3}  start   {action}", at.as_secs_f64()),
        Record::Halt { at, action, .. } => format!("{:>9.3}  halt    {action}", at.as_secs_f64()),
        Record::Mode(c) => format!(
            "{:>9.3}  mode    {} -> {} ({})",
            c.at.as_secs_f64(),
            c.from,
            c.to,
            c.cause
        ),
        _ => return None,
    })
}

pub(crate) fn print(
    out: &mut impl Write,
    records: Vec<Record>,
    format: Format,
) -> std::io::Result<()> {
    for record in records {
        let line = match format {
            Format::Json => record_json(&record).map(|v| v.to_string()),
            Format::Text => record_text(&record),
        };
        if let Some(line) = line {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
