//! `vigil ros`: ROS 2 interoperation that needs no network.
//!
//! `import-aggregator` turns a diagnostic_aggregator analyzers file (a ROS 2
//! parameter file) into the vigil tree file it corresponds to, so that
//! `vigil tree check`, `eval` and `explain` work on it. Every problem of a
//! bad file is printed as `FILE:LINE: KEY: message` and exits with 2.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use vigil_bridges::ros2::{Analyzers, ImportProblem};

use super::tree::Format;
use super::{InputError, EXIT_INPUT};

/// `vigil ros` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RosCommand {
    /// Print the vigil tree file a ROS 2 diagnostic_aggregator analyzers
    /// YAML file corresponds to (every problem and exit 2 for a bad one).
    ImportAggregator {
        /// The analyzers file (`NODE: { ros__parameters: { ... } }`).
        file: PathBuf,
        /// Output format: the tree file, or JSON with the tree file text,
        /// its leaf count and how each ROS path was mapped.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

pub(crate) fn run(command: RosCommand) -> anyhow::Result<ExitCode> {
    match command {
        RosCommand::ImportAggregator { file, format } => {
            import_aggregator(&file, format, &mut std::io::stdout().lock())
        }
    }
}

fn import_aggregator(
    file: &std::path::Path,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {}: {e}", file.display())))?;
    let source = file.display().to_string();
    let analyzers = match Analyzers::from_yaml(&text, &source) {
        Ok(analyzers) => analyzers,
        Err(error) if format == Format::Json => {
            problems_json(out, &source, &error.problems)?;
            return Ok(ExitCode::from(EXIT_INPUT));
        }
        Err(error) => {
            let count = error.problems.len();
            let plural = if count == 1 { "" } else { "s" };
            return Err(InputError(format!("{source}: {count} problem{plural}\n{error}")).into());
        }
    };
    match format {
        Format::Text => write!(out, "{}", analyzers.tree_file())?,
        Format::Json => {
            let mappings: Vec<_> = analyzers
                .mappings()
                .map(|m| {
                    json!({
                        "ros_path": m.ros_path,
                        "path": m.path.as_str(),
                        "kind": m.kind.as_str(),
                        "note": m.note,
                    })
                })
                .collect();
            let value = json!({
                "file": source,
                "tree": analyzers.tree_file(),
                "leaves": analyzers.leaves(),
                "pub_rate": analyzers.pub_rate(),
                "mappings": mappings,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn problems_json(
    out: &mut impl Write,
    source: &str,
    problems: &[ImportProblem],
) -> anyhow::Result<()> {
    let list: Vec<_> = problems
        .iter()
        .map(|p| json!({ "line": p.line, "key": p.key, "message": p.kind.to_string() }))
        .collect();
    let value = json!({ "file": source, "valid": false, "problems": list });
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Ok(())
}
