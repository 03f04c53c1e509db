//! Process supervision: starts a node's processes, sees each exit the
//! moment it happens, restarts them by Erlang/OTP strategies with backoff,
//! and escalates when restarts do not help.
//!
//! The core ([`Supervisor`]) is plain data and functions: exits, readiness
//! and watchdog pings go in with the time they happened, [`Action`]s come
//! out, so every decision is replayable and tested without processes.
//!
//! # Layout
//!
//! - `spec`: what to supervise, as plain data ([`GroupSpec`], [`ChildSpec`],
//!   [`Strategy`], [`Restart`], [`Backoff`]).
//! - `backoff`: restart delays with seeded, replayable [`Jitter`].
//! - `config`: the YAML file into a [`GroupSpec`] ([`load_config`]),
//!   every problem with its line.
//! - `supervisor`: the state machine ([`Supervisor`], [`Action`]).
//! - [`bt`]: behaviour trees in BehaviorTree.CPP v4 XML ([`bt::load_bt_str`])
//!   and their deterministic [`bt::Executor`].
//! - [`modes`]: named modes and the rules that switch them on health
//!   ([`modes::ModeEngine`], [`modes::load_modes_str`]).
//! - `shell`: the tokio process shell ([`run`]): process groups, exits as
//!   they happen, notify sockets, the parent-death signal (the crate's one
//!   `unsafe` block, in `shell/pdeathsig.rs`).
// `deny`, not `forbid`: shell/pdeathsig.rs holds the crate's one unsafe
// block (PR_SET_PDEATHSIG in pre_exec), reviewed and documented there.
#![deny(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
// Denied, not only warned: every public item is documented (issue 15).
#![deny(missing_docs)]

mod backoff;
pub mod bt;
mod config;
pub mod modes;
mod shell;
mod spec;
pub mod supervision;
mod supervisor;

pub use backoff::Jitter;
pub use config::{
    load_config, load_config_str, parse_duration, ConfigError, ConfigProblem, DEFAULT_NAME,
};
pub use shell::{
    guardian, run, run_commanded, Command, Event as ShellEvent, Notice, Outcome, ShellConfig,
    ENV_CHILD, ENV_SUPERVISOR,
};
pub use spec::{Backoff, ChildSpec, GroupSpec, MemberSpec, Ready, Restart, Strategy};
pub use supervisor::{Action, ChildId, ChildStatus, Exit, GroupId, Hang, MemberId, Supervisor};
