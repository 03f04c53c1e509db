//! `vigil tree`: check, evaluate and explain tree files.
//!
//! Files are read here (vigil-diag does no I/O); every problem in a tree
//! file or a replay is printed, each as `FILE:LINE: ...`, and exits with 2.

use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use vigil_diag::{
    load_tree_partial, parse_numbered_events, BuildProblem, LoadProblem, Path, ProblemKind,
    Timestamp, Tree, TreeSpec,
};

use super::InputError;

mod live;
mod render;

/// `vigil tree` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TreeCommand {
    /// Validate a tree file: print a summary, or every problem (exit 2).
    Check {
        /// The tree file (YAML).
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Replay events into a tree and print every node's health at one time.
    Eval {
        #[command(flatten)]
        replay: Replay,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Explain one node: the causal chain down to the leaves, and every
    /// node it can affect.
    Explain {
        #[command(flatten)]
        source: ExplainSource,
        /// The node to explain (a tree path, or a shared path).
        #[arg(long, value_parser = parse_path)]
        path: Path,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// What `explain` looks at: a tree file and its events, or (`--domain`)
/// the live adverts of a domain.
#[derive(Debug, Args)]
pub(crate) struct ExplainSource {
    /// The tree file (YAML); not with `--domain`.
    #[arg(required_unless_present = "domain")]
    file: Option<PathBuf>,
    /// Events, as for `eval`; not with `--domain`.
    #[arg(long, required_unless_present = "domain")]
    events: Option<PathBuf>,
    /// Seconds since the start of the replay at which to evaluate.
    #[arg(long, value_parser = parse_at, conflicts_with = "domain")]
    at: Option<Timestamp>,
    /// Explain live instead: join this DDS domain (on loopback) and explain
    /// a producer (`--path` its id) or a node of the advertised trees, with
    /// what a supervisor said on its behalf and the supervision's own tree.
    #[arg(long, conflicts_with_all = ["file", "events"])]
    domain: Option<u16>,
    /// With `--domain`: how long to listen before explaining, in ms.
    #[arg(long = "settle-ms", default_value = "1500", value_parser = super::dds_args::millis)]
    settle: std::time::Duration,
}

/// A tree file, the events to replay into it, and when to look.
#[derive(Debug, Args)]
pub(crate) struct Replay {
    /// The tree file (YAML).
    file: PathBuf,
    /// Events, one JSON object per line:
    /// {"t": 0.5, "path": "a.b", "value": 72.0}, {"t": 0.6, "path": "a.c", "status": "FAILED"}
    /// or {"t": 0.7, "path": "a.d", "heartbeat": true}.
    #[arg(long)]
    events: PathBuf,
    /// Seconds since the start of the replay at which to evaluate; events
    /// after it are not applied. Default: the last event's time.
    #[arg(long, value_parser = parse_at)]
    at: Option<Timestamp>,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

fn parse_at(text: &str) -> Result<Timestamp, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(Timestamp::from_secs_f64)
        .ok_or_else(|| format!("`{text}` is not a number of seconds >= 0"))
}

fn parse_path(text: &str) -> Result<Path, String> {
    Path::parse(text).map_err(|e| e.to_string())
}

pub(crate) fn run(command: TreeCommand) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        TreeCommand::Check { file, format } => check(&file, format, &mut out),
        TreeCommand::Eval { replay, format } => {
            let (spec, tree, at) = replay.run()?;
            render::eval(&mut out, &replay.file, &spec, &tree, at, format)?;
            Ok(ExitCode::SUCCESS)
        }
        TreeCommand::Explain {
            source,
            path,
            format,
        } => {
            let (file, events) = match (source.domain, source.file, source.events) {
                (Some(domain), _, _) => {
                    return live::explain(domain, source.settle, &path, format, &mut out)
                }
                (None, Some(file), Some(events)) => (file, events),
                // clap requires both without --domain.
                _ => return Err(InputError("a tree file and --events, or --domain".into()).into()),
            };
            let replay = Replay {
                file,
                events,
                at: source.at,
            };
            let (_, tree, at) = replay.run()?;
            let Some(explanation) = tree.explain(&path, at) else {
                let file = replay.file.display();
                return Err(InputError(format!("no node `{path}` in {file}")).into());
            };
            let impact = tree.impact(&path).unwrap_or_default();
            let causes = tree.causes(&path).unwrap_or_default();
            render::explain(&mut out, &explanation, &causes, &impact, at, format)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(file: &FsPath, format: Format, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let text = read(file)?;
    let source = file.display().to_string();
    match validate(&text, &source) {
        Ok((_, tree)) => {
            render::summary(out, &source, &tree.summary(), format)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) if format == Format::Json => {
            render::problems_json(out, &source, &problems)?;
            Ok(ExitCode::from(super::EXIT_INPUT))
        }
        Err(problems) => Err(problems_error(&source, &problems).into()),
    }
}

/// One problem of a tree file, from the loader or from `Tree::build`.
#[derive(Debug)]
pub(crate) struct Problem {
    line: u32,
    path: String,
    message: String,
}

/// Loads and builds a tree file; on failure, every problem of both steps
/// in line order.
pub(super) fn validate(text: &str, source: &str) -> Result<(TreeSpec, Tree), Vec<Problem>> {
    let (spec, mut load_problems) = load_tree_partial(text, source);
    // Warnings (deprecated spellings) are said on stderr and fail nothing.
    load_problems.retain(|p| {
        if p.is_warning() {
            eprintln!("warning: {p}");
        }
        !p.is_warning()
    });
    // Build even a partial spec: its whole-tree problems (mount cycles,
    // duplicates) are real, and the user should see them in the same run.
    let built = Tree::build(&spec);
    let mut problems: Vec<Problem> = load_problems.iter().map(Problem::from).collect();
    match built {
        Ok(tree) if problems.is_empty() => return Ok((spec, tree)),
        Ok(_) => {}
        Err(error) => problems.extend(
            error
                .problems
                .iter()
                .filter(|p| !caused_by_load_problem(p, &load_problems))
                .map(Problem::from),
        ),
    }
    problems.sort_by_key(|p| p.line);
    Err(problems)
}

/// True when a build problem may only be there because the loader dropped
/// nodes. Nodes with bad entries stay in the partial spec with stand-in
/// bodies, so only a bad section (all of `shared` unreadable) or a bad path
/// drops nodes; then a vote may lack children and a mount its target.
fn caused_by_load_problem(problem: &BuildProblem, load: &[LoadProblem]) -> bool {
    let dropped_nodes = load.iter().any(|l| {
        matches!(l.path.as_str(), "file" | "nodes" | "shared") || Path::parse(&l.path).is_err()
    });
    dropped_nodes
        && matches!(
            problem.kind,
            ProblemKind::InvalidRule { .. } | ProblemKind::UnknownMountTarget { .. }
        )
}

impl From<&LoadProblem> for Problem {
    fn from(p: &LoadProblem) -> Problem {
        Problem {
            line: p.line,
            path: p.path.clone(),
            message: p.kind.to_string(),
        }
    }
}

impl From<&BuildProblem> for Problem {
    fn from(p: &BuildProblem) -> Problem {
        Problem {
            line: p.origin.as_ref().map_or(0, |o| o.line),
            path: p.path.to_string(),
            message: p.kind.to_string(),
        }
    }
}

pub(super) fn problems_error(source: &str, problems: &[Problem]) -> InputError {
    let count = problems.len();
    let mut text = format!(
        "{source}: {count} problem{}",
        if count == 1 { "" } else { "s" }
    );
    for p in problems {
        text.push_str(&format!("\n{source}:{}: {}: {}", p.line, p.path, p.message));
    }
    InputError(text)
}

pub(super) fn read(file: &FsPath) -> Result<String, InputError> {
    std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))
}

impl Replay {
    /// Loads the tree, replays the events up to `--at` and ages the tree
    /// to it. Every bad event line is an input error naming its line.
    fn run(&self) -> anyhow::Result<(TreeSpec, Tree, Timestamp)> {
        let source = self.file.display().to_string();
        let (spec, mut tree) =
            validate(&read(&self.file)?, &source).map_err(|p| problems_error(&source, &p))?;
        let events_name = self.events.display().to_string();
        let events = parse_numbered_events(&read(&self.events)?).map_err(|e| {
            let lines: Vec<String> = e
                .errors
                .iter()
                .map(|e| format!("{events_name}:{}: {}", e.line, e.error))
                .collect();
            InputError(lines.join("\n"))
        })?;
        let last = events.last().map_or(Timestamp::ZERO, |(_, e)| e.at);
        let at = self.at.unwrap_or(last);
        let mut refused = Vec::new();
        for (line, event) in events.into_iter().take_while(|(_, e)| e.at <= at) {
            // Age first, so a heartbeat that expired before this event is
            // seen to expire, as it would have live.
            tree.tick(event.at);
            if let Err(error) = tree.observe(&event.path, event.observation, event.at) {
                refused.push(format!("{events_name}:{line}: {error}"));
            }
        }
        if !refused.is_empty() {
            return Err(InputError(refused.join("\n")).into());
        }
        tree.tick(at);
        Ok((spec, tree, at))
    }
}
