//! The node types of the supported BehaviorTree.CPP v4 subset, and a loaded
//! tree: every node of the main tree (subtrees expanded) in one arena.

use std::fmt;
use std::time::Duration;

use vigil_diag::{Path, State, Trend};
use vigil_qos::Query;

/// A tick's result (BehaviorTree.CPP's `NodeStatus` without SKIPPED, which
/// needs the scripting preconditions this subset leaves out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Not ticked since it last finished or was halted.
    Idle,
    /// Still at work: tick again.
    Running,
    /// Done, and it worked.
    Success,
    /// Done, and it did not.
    Failure,
}

impl Status {
    /// `IDLE`, `RUNNING`, `SUCCESS`, `FAILURE`, as BehaviorTree.CPP prints them.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "IDLE",
            Status::Running => "RUNNING",
            Status::Success => "SUCCESS",
            Status::Failure => "FAILURE",
        }
    }

    /// Success or Failure.
    pub fn is_completed(self) -> bool {
        matches!(self, Status::Success | Status::Failure)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a [`Condition::Health`] compares a node's state.
///
/// States are ordered by severity, `OK < DEGRADED < UNKNOWN < FAILED`
/// ([`State`]'s order), so "at least DEGRADED" means "DEGRADED or better".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateTest {
    /// Exactly this state (`is="FAILED"`).
    Is(State),
    /// This state or a better one (`at_least="DEGRADED"`: OK or DEGRADED).
    AtLeast(State),
    /// This state or a worse one (`at_most="DEGRADED"`: DEGRADED, UNKNOWN or FAILED).
    AtMost(State),
}

impl StateTest {
    /// Whether `state` passes.
    pub fn holds(self, state: State) -> bool {
        match self {
            StateTest::Is(s) => state == s,
            StateTest::AtLeast(s) => state <= s,
            StateTest::AtMost(s) => state >= s,
        }
    }
}

/// vigil's condition leaves. A condition never returns RUNNING.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Condition {
    /// `<Health path=... is|at_least|at_most=STATE/>`: a node of the
    /// diagnostic tree; a path the tree does not have fails.
    Health {
        /// The node.
        path: Path,
        /// The test.
        test: StateTest,
    },
    /// `<Trend path=... is=TREND/>`.
    Trend {
        /// The node.
        path: Path,
        /// The trend it must have.
        is: Trend,
    },
    /// `<Available query=.../>`: some producer satisfies the query now.
    Available {
        /// The query, parsed when the file was loaded.
        query: Box<Query>,
        /// As written, for messages.
        text: String,
    },
    /// `<InMode mode=.../>`: the system is in this mode.
    InMode {
        /// The mode's name.
        mode: String,
    },
}

/// The level of a [`Action::Log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// `debug`.
    Debug,
    /// `info`.
    Info,
    /// `warn`.
    Warn,
    /// `error`.
    Error,
}

impl LogLevel {
    pub(crate) const NAMES: [(&'static str, LogLevel); 4] = [
        ("debug", LogLevel::Debug),
        ("info", LogLevel::Info),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
    ];

    /// Its name in the XML.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// vigil's action leaves. Every action is asynchronous: its first tick asks
/// the environment to start it and returns RUNNING; the environment reports
/// its outcome later ([`Executor::complete`](super::Executor::complete)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// `<Restart child=.../>`: the local supervisor restarts a child.
    Restart {
        /// The supervisor child's id.
        child: String,
    },
    /// `<Stop child=.../>`: the local supervisor stops a child.
    Stop {
        /// The supervisor child's id.
        child: String,
    },
    /// `<Isolate producer=... reason=.../>`: no consumer may select the
    /// producer until it is released.
    Isolate {
        /// The producer id.
        producer: String,
        /// Why, for operators (may be empty).
        reason: String,
    },
    /// `<Release producer=.../>`: undoes an isolation.
    Release {
        /// The producer id.
        producer: String,
    },
    /// `<SetMode mode=.../>`.
    SetMode {
        /// The mode's name.
        mode: String,
    },
    /// `<Run command=... timeout=.../>`: a command, failing when it exits
    /// non-zero or outlives its timeout.
    Run {
        /// The command line.
        command: String,
        /// How long it may take.
        timeout: Option<Duration>,
    },
    /// `<Wait duration=.../>`.
    Wait {
        /// How long.
        duration: Duration,
    },
    /// `<Log level=... message=.../>`.
    Log {
        /// The level.
        level: LogLevel,
        /// The message.
        message: String,
    },
}

impl Action {
    /// The element name (`Restart`).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Restart { .. } => "Restart",
            Action::Stop { .. } => "Stop",
            Action::Isolate { .. } => "Isolate",
            Action::Release { .. } => "Release",
            Action::SetMode { .. } => "SetMode",
            Action::Run { .. } => "Run",
            Action::Wait { .. } => "Wait",
            Action::Log { .. } => "Log",
        }
    }

    /// Its arguments as written in the XML, in a fixed order (durations
    /// with their unit).
    pub fn args(&self) -> Vec<(&'static str, String)> {
        let ms = |d: &Duration| format!("{}ms", d.as_secs_f64() * 1e3);
        match self {
            Action::Restart { child } | Action::Stop { child } => vec![("child", child.clone())],
            Action::Isolate { producer, reason } => {
                vec![("producer", producer.clone()), ("reason", reason.clone())]
            }
            Action::Release { producer } => vec![("producer", producer.clone())],
            Action::SetMode { mode } => vec![("mode", mode.clone())],
            Action::Run { command, timeout } => {
                let mut args = vec![("command", command.clone())];
                if let Some(t) = timeout {
                    args.push(("timeout", ms(t)));
                }
                args
            }
            Action::Wait { duration } => vec![("duration", ms(duration))],
            Action::Log { level, message } => vec![
                ("level", level.as_str().to_owned()),
                ("message", message.clone()),
            ],
        }
    }
}

impl fmt::Display for Action {
    /// `Restart child=imu_driver`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        for (key, value) in self.args() {
            write!(f, " {key}={value:?}")?;
        }
        Ok(())
    }
}

/// What a node does. Thresholds and counts keep BehaviorTree.CPP's port
/// names and meanings (`-1`: unbounded, or "all" for Parallel).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Sequence,
    ReactiveSequence,
    Fallback,
    ReactiveFallback,
    /// Thresholds as written; negative counts from the end, as in Python.
    Parallel {
        success: i32,
        failure: i32,
    },
    IfThenElse,
    Inverter,
    ForceSuccess,
    ForceFailure,
    Repeat {
        cycles: i32,
    },
    Retry {
        attempts: i32,
    },
    Timeout {
        after: Duration,
    },
    Delay {
        delay: Duration,
    },
    KeepRunningUntilFailure,
    /// A `<SubTree ID>`, expanded: ticks its tree's root.
    SubTree,
    Condition(Condition),
    Action(Action),
}

/// One node of a loaded tree.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    pub(crate) children: Vec<usize>,
    /// Where it was written.
    pub(crate) line: u32,
    /// The element name (or the `ID` of a `<Action ID=...>` form).
    pub(crate) element: String,
    /// The `name` attribute, if any.
    pub(crate) name: Option<String>,
}

/// A loaded behaviour tree file: the main tree, subtrees expanded, ready to
/// run in an [`Executor`](super::Executor).
#[derive(Clone, Debug, PartialEq)]
pub struct BehaviorTree {
    pub(crate) main: String,
    pub(crate) ids: Vec<String>,
    /// Index 0 is the main tree's root; parents before children.
    pub(crate) nodes: Vec<Node>,
}

/// One leaf of a loaded tree, for callers that check the tree's references
/// against other files (paths against a diagnostic tree, modes against a
/// modes file).
#[derive(Clone, Copy, Debug)]
pub enum Leaf<'a> {
    /// A condition.
    Condition(&'a Condition),
    /// An action.
    Action(&'a Action),
}

impl BehaviorTree {
    /// The `ID` of the tree that runs (`main_tree_to_execute`).
    pub fn main_tree(&self) -> &str {
        &self.main
    }

    /// The `ID` of every `<BehaviorTree>` in the file, in file order.
    pub fn tree_ids(&self) -> &[String] {
        &self.ids
    }

    /// How many nodes the main tree has, subtrees expanded.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never true: a tree has a root.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every leaf of the main tree with the line it was written on, in
    /// depth-first order (a subtree used twice appears twice).
    pub fn leaves(&self) -> impl Iterator<Item = (u32, Leaf<'_>)> + '_ {
        self.nodes.iter().filter_map(|n| match &n.kind {
            Kind::Condition(c) => Some((n.line, Leaf::Condition(c))),
            Kind::Action(a) => Some((n.line, Leaf::Action(a))),
            _ => None,
        })
    }
}
