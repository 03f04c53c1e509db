//! Command-line parsing and dispatch. Each subcommand lives in its own module
//! and returns the exit code to use; errors the user must fix in their input
//! exit with 2, anything else with 1.

use std::fmt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agent;
#[cfg(feature = "zenoh")]
mod bridge;
mod bt;
mod consume;
mod dds_args;
mod demo;
#[cfg(feature = "kb")]
mod kb;
mod live;
mod metrics_args;
mod monitor;
mod produce;
mod query;
mod record_args;
mod recover;
mod replay;
mod ros;
mod supervise;
mod tree;
mod trust_args;

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
    /// Run the failover demo: three producers, one consumer, a timeline of
    /// faults, on a private domain. No arguments, under a minute.
    Demo(demo::DemoArgs),
    /// Publish synthetic samples on a topic and advertise them; diagnostic
    /// commands on stdin.
    Produce(produce::ProduceArgs),
    /// Follow the best producer for a constraint query and report switches.
    Consume(consume::ConsumeArgs),
    /// Show the live registry: every advert, its capabilities and health.
    Monitor(monitor::MonitorArgs),
    /// Replay a flight recording (`--record`) and check every decision.
    Replay(replay::ReplayArgs),
    /// ROS 2 interoperation: import a diagnostic_aggregator analyzers file
    /// as a tree file.
    #[command(subcommand)]
    Ros(ros::RosCommand),
    /// Advertise unmodified ROS 2 nodes (their measured rate, their
    /// `/diagnostics`) and relay the best producer onto a stable topic.
    Agent(agent::AgentArgs),
    /// Bridge the DDS registry and data to other networks (Zenoh). Only
    /// in a vigil built with `--features zenoh`: the default binary stays
    /// small and does not list a command it cannot run.
    #[cfg(feature = "zenoh")]
    #[command(subcommand)]
    Bridge(bridge::BridgeCommand),
    /// Start and keep running a node's processes (OTP strategies, backoff, watchdogs).
    Supervise(supervise::SuperviseArgs),
    /// Internal: the process `vigil supervise` starts beside itself to kill
    /// what its children forked should it be SIGKILLed (reads its stdin).
    #[command(hide = true)]
    SuperviseGuardian,
    /// Run behaviour trees and mode rules over the live registry: restart
    /// supervised children, isolate producers, switch and publish modes.
    Recover(recover::RecoverArgs),
    /// Behaviour trees (BehaviorTree.CPP v4 XML): check a file, dry-run it over events.
    #[command(subcommand)]
    Bt(bt::BtCommand),
    /// Writes an Ed25519 key pair for signed adverts (`PREFIX.key`, `PREFIX.pub`).
    Keygen(trust_args::KeygenArgs),
    /// The knowledge base in PostgreSQL + ltree: sync a domain, import
    /// recordings, ask for history, routes and trees as they were. Only in
    /// a vigil built with `--features kb`.
    #[cfg(feature = "kb")]
    #[command(subcommand)]
    Kb(kb::KbCommand),
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
        Command::Demo(args) => demo::run(args),
        Command::Produce(args) => produce::run(args),
        Command::Consume(args) => consume::run(args),
        Command::Monitor(args) => monitor::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Ros(command) => ros::run(command),
        Command::Agent(args) => agent::run(args),
        #[cfg(feature = "zenoh")]
        Command::Bridge(command) => bridge::run(command),
        Command::Supervise(args) => supervise::run(args),
        Command::SuperviseGuardian => supervise::guardian(),
        Command::Bt(command) => bt::run(command),
        Command::Keygen(args) => trust_args::keygen(args),
        Command::Recover(args) => recover::run(args),
        #[cfg(feature = "kb")]
        Command::Kb(command) => kb::run(command),
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
