//! Command-line parsing and dispatch. Each subcommand lives in its own module
//! and returns the exit code to use; errors the user must fix in their input
//! exit with 2, anything else with 1.

use std::fmt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod query;
mod tree;

/// Diagnostic-aware service discovery for DDS/pub-sub systems.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load, evaluate and explain diagnostic tree files.
    #[command(subcommand)]
    Tree(tree::TreeCommand),
    /// Check constraint queries and rank adverts with them.
    #[command(subcommand)]
    Query(query::QueryCommand),
}

/// Exit code for input the user must fix (a bad file, query or flag), as
/// ripgrep and clap use it.
pub(crate) const EXIT_INPUT: u8 = 2;

/// An error in what the user gave us: printed as is, exit code 2.
#[derive(Debug)]
pub(crate) struct InputError(pub(crate) String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

pub(crate) fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Tree(command) => tree::run(command),
        Command::Query(command) => query::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if let Some(input) = error.downcast_ref::<InputError>() {
                eprintln!("error: {input}");
                ExitCode::from(EXIT_INPUT)
            } else {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        }
    }
}
