//! A dry run: diagnostic events replayed through the tree, the behaviour
//! tree and the modes, with no side effects. Actions succeed after their
//! declared duration (`Wait`) or at once; `<SetMode>` moves the mode
//! engine; `<Available>` is true (a dry run has no registry).
//!
//! Ticks happen exactly where the live engine ticks: after each batch of
//! events with one timestamp that changed some state (the first batch
//! always ticks), at each action outcome, each mode change, and each
//! deadline of the behaviour tree, the diagnostic tree or the modes.

use std::collections::BTreeMap;

use vigil_diag::{Health, Observation, Path, Timestamp, Tree, UpdateError};
use vigil_qos::Query;

use super::exec::{ActionId, Environment, Executor};
use super::node::{Action, BehaviorTree, Status};
use crate::modes::{ModeChange, ModeEngine, Modes};

/// Steps at one timestamp before a dry run decides the tree loops without
/// time passing (an endless repeat of actions that finish at once).
const MAX_STEPS_AT_ONCE: usize = 10_000;

/// One line of a dry run's output.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Record {
    /// The behaviour tree was ticked.
    Tick {
        /// When.
        at: Timestamp,
        /// The main tree's ID.
        tree: String,
        /// The root's status after the tick.
        status: Status,
    },
    /// An action would start.
    Action {
        /// When.
        at: Timestamp,
        /// Its id.
        id: ActionId,
        /// What.
        action: Action,
    },
    /// A running action would be halted.
    Halt {
        /// When.
        at: Timestamp,
        /// Its id.
        id: ActionId,
        /// What.
        action: Action,
    },
    /// The mode changed.
    Mode(ModeChange),
}

/// Why a dry run stopped.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DryRunError {
    /// The diagnostic tree refused an event.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// The tree keeps acting without time passing.
    #[error("the behaviour tree loops at {at} s without time passing (actions that finish at once, repeated without end)")]
    Loop {
        /// When, in seconds.
        at: f64,
    },
}

/// A dry run in progress.
#[derive(Debug)]
pub struct DryRun {
    tree: Tree,
    exec: Executor,
    modes: Option<ModeEngine>,
    /// Outcomes due: (when, action) → success.
    due: BTreeMap<(Timestamp, ActionId), bool>,
    records: Vec<Record>,
    ticked: bool,
}

/// What the executor sees during one tick.
struct World<'a> {
    tree: &'a Tree,
    mode: Option<&'a str>,
    calls: Vec<Record>,
}

impl Environment for World<'_> {
    fn health(&self, path: &Path) -> Option<&Health> {
        self.tree.health(path)
    }
    fn available(&self, _query: &Query) -> bool {
        true
    }
    fn mode(&self) -> Option<&str> {
        self.mode
    }
    fn start(&mut self, id: ActionId, action: &Action, now: Timestamp) {
        self.calls.push(Record::Action {
            at: now,
            id,
            action: action.clone(),
        });
    }
    fn halt(&mut self, id: ActionId, action: &Action, now: Timestamp) {
        self.calls.push(Record::Halt {
            at: now,
            id,
            action: action.clone(),
        });
    }
}

impl DryRun {
    /// A dry run of `bt` over `tree`, with modes if given.
    pub fn new(tree: Tree, bt: BehaviorTree, modes: Option<Modes>) -> DryRun {
        DryRun {
            tree,
            exec: Executor::new(bt),
            modes: modes.map(ModeEngine::new),
            due: BTreeMap::new(),
            records: Vec::new(),
            ticked: false,
        }
    }

    /// The diagnostic tree as the run has it now.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The current mode, if modes are in use.
    pub fn mode(&self) -> Option<&str> {
        self.modes.as_ref().map(ModeEngine::current)
    }

    /// The records so far, taken.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// Applies a batch of observations made at `at` (after everything due
    /// before it), then ticks if anything changed and settles what follows
    /// at once.
    pub fn apply(
        &mut self,
        batch: impl IntoIterator<Item = (Path, Observation)>,
        at: Timestamp,
    ) -> Result<(), DryRunError> {
        self.run_until(at)?;
        let mut changed = !self.tree.tick(at).is_empty();
        for (path, observation) in batch {
            changed |= !self.tree.observe(&path, observation, at)?.is_empty();
        }
        let first = !self.ticked;
        self.step(at, changed || first);
        self.run_until(at)
    }

    /// Processes every deadline up to and including `to`.
    pub fn run_until(&mut self, to: Timestamp) -> Result<(), DryRunError> {
        let mut last = None;
        let mut steps = 0;
        while let Some(at) = self.next_deadline().filter(|d| *d <= to) {
            if last == Some(at) {
                steps += 1;
                if steps > MAX_STEPS_AT_ONCE {
                    return Err(DryRunError::Loop {
                        at: at.as_secs_f64(),
                    });
                }
            } else {
                steps = 0;
                last = Some(at);
            }
            let changed = !self.tree.tick(at).is_empty();
            self.step(at, changed);
        }
        Ok(())
    }

    /// The earliest time something is due without new events.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        [
            self.tree.next_deadline(),
            self.exec.next_deadline(),
            self.due.keys().next().map(|(at, _)| *at),
            self.modes.as_ref().and_then(ModeEngine::next_deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Outcomes, modes, then one tick if anything happened.
    fn step(&mut self, now: Timestamp, mut wake: bool) {
        while let Some(entry) = self.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), ok) = entry.remove_entry();
            wake |= self.exec.complete(id, ok);
        }
        if let Some(modes) = &mut self.modes {
            if let Some(change) = modes.update(now, &self.tree) {
                self.records.push(Record::Mode(change));
                wake = true;
            }
        }
        wake |= self.exec.next_deadline().is_some_and(|d| d <= now);
        if !wake {
            return;
        }
        self.ticked = true;
        let mut world = World {
            tree: &self.tree,
            mode: self.modes.as_ref().map(ModeEngine::current),
            calls: Vec::new(),
        };
        let status = self.exec.tick(now, &mut world);
        let calls = world.calls;
        let main = self.exec.tree().main_tree().to_owned();
        self.records.push(Record::Tick {
            at: now,
            tree: main.clone(),
            status,
        });
        for call in calls {
            match &call {
                Record::Action { id, action, .. } => {
                    let done = match action {
                        Action::Wait { duration } => now + *duration,
                        _ => now,
                    };
                    self.due.insert((done, *id), true);
                    self.records.push(call.clone());
                    if let (Action::SetMode { mode }, Some(modes)) = (action, &mut self.modes) {
                        if let Some(change) = modes.set_mode(mode, now, &format!("tree {main}")) {
                            self.records.push(Record::Mode(change));
                        }
                    }
                }
                Record::Halt { id, .. } => {
                    self.due.retain(|(_, due), _| due != id);
                    self.records.push(call.clone());
                }
                _ => self.records.push(call.clone()),
            }
        }
    }
}
