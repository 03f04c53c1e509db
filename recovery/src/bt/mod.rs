//! Behaviour trees in BehaviorTree.CPP v4 XML, run over the diagnostic
//! tree: troubleshooting procedures that check health, restart, isolate
//! and switch modes.
//!
//! The supported subset (anything else is an error naming the element and
//! its line):
//!
//! - `<root BTCPP_format="4" main_tree_to_execute="ID">`, `<BehaviorTree
//!   ID>`, `<SubTree ID/>`; Groot2's `<TreeNodesModel>` is skipped.
//! - Controls: `Sequence`, `ReactiveSequence`, `Fallback`,
//!   `ReactiveFallback`, `Parallel` (`success_count`, default -1 = all;
//!   `failure_count`, default 1), `IfThenElse` (2 or 3 children).
//! - Decorators: `Inverter`, `ForceSuccess`, `ForceFailure`, `Repeat`
//!   (`num_cycles`), `RetryUntilSuccessful` (`num_attempts`), `Timeout`
//!   (`msec`), `Delay` (`delay_msec`), `KeepRunningUntilFailure`.
//! - Conditions: `<Health path is|at_least|at_most>`, `<Trend path is>`,
//!   `<Available query>`, `<InMode mode>`.
//! - Actions (asynchronous): `<Restart child>`, `<Stop child>`, `<Isolate
//!   producer reason>`, `<Release producer>`, `<SetMode mode>`, `<Run
//!   command timeout>`, `<Wait duration>`, `<Log level message>`.
//!   Durations of vigil's leaves carry a unit (`500ms`); BehaviorTree.CPP's
//!   own `msec` ports stay milliseconds.
//!
//! # Layout
//!
//! - `node`: the node types, [`Action`], [`Condition`], [`Status`], and the
//!   loaded [`BehaviorTree`].
//! - `xml`: the file into a [`BehaviorTree`] ([`load_bt_str`]), every
//!   problem with its line ([`XmlError`]).
//! - `exec`: the [`Executor`] and its [`Environment`] (halts before starts).
//! - `engine`: [`Engine`], the diagnostic tree, the behaviour tree and the
//!   modes fed observations and action outcomes with their times: the core
//!   of the live engine (`vigil recover`) and of the dry run.
//! - `dry_run`: [`DryRun`], diagnostic events replayed through the engine
//!   with no side effects ([`Record`]s).

mod dry_run;
mod engine;
mod exec;
mod node;
mod xml;

#[cfg(test)]
mod tests;

pub use dry_run::{DryRun, DryRunError, Record};
pub use engine::{Availability, Engine, Outcomes};
pub use exec::{ActionId, Environment, Executor};
pub use node::{Action, BehaviorTree, Condition, Leaf, LogLevel, StateTest, Status};
pub use xml::{load_bt_str, XmlError, XmlProblem};
