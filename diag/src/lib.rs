//! The diagnostic knowledge tree: paths, checks, aggregation, health and
//! explanations.
//!
//! A pure library: no I/O, no threads, no clock. Time is passed in as a
//! [`Timestamp`], so evaluation is deterministic and replays reproduce it.
//!
//! # Layout
//!
//! - `path`: ltree-style dotted [`Path`]s.
//! - `pattern`: lquery [`Pattern`]s selecting paths (PostgreSQL semantics).
//! - `health`: [`State`], [`UnknownReason`], [`Trend`], [`Health`].
//! - `time`: [`Timestamp`], the caller's notion of now.
//! - `spec`: [`TreeSpec`], a tree definition as plain data.
//! - [`config`]: the one YAML config reader (spanned values, every problem
//!   with its line, did-you-mean, units), for tree files and every other
//!   file vigil reads.
//! - `file`: YAML tree files into a [`TreeSpec`] ([`load_tree_str`]), every problem reported.
//! - `replay`: the JSON-lines replay format ([`parse_events`]).
//! - `observation`: [`Observation`], what a leaf can be told.
//! - `check`: the [`Check`] trait for leaves, and the built-in checks.
//! - `rule`: aggregation by [`Rule`] (semantics documented on [`Rule`]).
//! - `filter`: per-node debounce, flap damping, latching and trend ([`FilterSpec`]).
//! - `damping`: [`FlapPenalty`], RFC 2439 flap damping, shared with discovery.
//! - `tree`: the live [`Tree`]: built from a spec, incremental evaluation
//!   returning [`Transition`]s, mounts, causes, [`Explanation`]s and impact.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
// Denied, not only warned: every public item is documented (issue 15).
#![deny(missing_docs)]

mod check;
pub mod config;
mod damping;
mod file;
mod filter;
mod health;
mod observation;
mod path;
mod pattern;
mod replay;
mod rule;
mod spec;
mod time;
mod tree;

pub use check::{Check, ObservationError, Verdict};
pub use damping::FlapPenalty;
pub use file::{load_tree_partial, load_tree_str, LoadError, LoadProblem, LoadProblemKind};
pub use health::{Health, State, StateParseError, Trend, UnknownReason};
pub use observation::Observation;
pub use path::{is_valid_label, Path, PathError};
pub use pattern::{Pattern, PatternError, PatternErrorKind};
pub use replay::{
    parse_event_line, parse_events, parse_numbered_events, ReplayError, ReplayErrors, ReplayEvent,
    ReplayLineError,
};
pub use spec::{
    CheckSpec, Criticality, Debounce, FilterSpec, FlapDamping, NodeBody, NodeSpec, Origin, Rule,
    TreeSpec,
};
pub use time::Timestamp;
pub use tree::{
    BuildError, BuildProblem, Explained, Explanation, Nodes, ProblemKind, Transition, Tree,
    TreeSummary, UpdateError,
};
