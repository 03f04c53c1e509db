//! The engine: the diagnostic tree, the behaviour tree and the modes, fed
//! observations and action outcomes with the time they happened. The dry
//! run and the live engine (`vigil recover`) are this one core: the dry
//! run lets every action succeed on its own, the live one waits for the
//! outcomes its shell reports ([`Engine::complete`]).
//!
//! Ticks happen after each batch of observations with one timestamp that
//! changed some state (the first batch always ticks), at each action
//! outcome, each mode change, and each deadline of the behaviour tree, the
//! diagnostic tree or the modes. Time is only ever an argument, so a run
//! fed the same inputs at the same times makes the same records.

use std::collections::BTreeMap;

use vigil_diag::{Health, Observation, Path, Timestamp, Tree};
use vigil_qos::Query;

use super::dry_run::{DryRunError, Record};
use super::exec::{ActionId, Environment, Executor};
use super::node::{Action, BehaviorTree};
use crate::modes::{ModeEngine, Modes};

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

/// Steps at one timestamp before the engine decides the tree loops without
/// time passing (an endless repeat of actions that finish at once).
const MAX_STEPS_AT_ONCE: usize = 10_000;

/// Whether some producer satisfies a query now: the live registry, or
/// always true in a dry run.
pub type Availability<'a> = &'a dyn Fn(&Query) -> bool;

/// Who finishes the actions that act on the world (`Restart`, `Stop`,
/// `Isolate`, `Release`, `Run`). `SetMode`, `Log` and `Wait` the engine
/// always finishes itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcomes {
    /// They succeed at once (a dry run).
    Immediate,
    /// The shell carries them out and reports with [`Engine::complete`].
    Reported,
}

/// The reconfiguration engine (see the module docs).
#[derive(Debug)]
pub struct Engine {
    tree: Tree,
    exec: Option<Executor>,
    modes: Option<ModeEngine>,
    outcomes: Outcomes,
    /// Outcomes due: (when, action) → success.
    due: BTreeMap<(Timestamp, ActionId), bool>,
    records: Vec<Record>,
    ticked: bool,
}

/// What the executor sees during one tick.
struct World<'a> {
    tree: &'a Tree,
    mode: Option<&'a str>,
    available: Availability<'a>,
    calls: Vec<Record>,
}

impl Environment for World<'_> {
    fn health(&self, path: &Path) -> Option<&Health> {
        self.tree.health(path)
    }
    fn available(&self, query: &Query) -> bool {
        (self.available)(query)
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

impl Engine {
    /// An engine over `tree`, with a behaviour tree and modes if given.
    pub fn new(
        tree: Tree,
        bt: Option<BehaviorTree>,
        modes: Option<Modes>,
        outcomes: Outcomes,
    ) -> Engine {
        Engine {
            tree,
            exec: bt.map(Executor::new),
            modes: modes.map(ModeEngine::new),
            outcomes,
            due: BTreeMap::new(),
            records: Vec::new(),
            ticked: false,
        }
    }

    /// The diagnostic tree as the engine has it now.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The current mode, if modes are in use.
    pub fn mode(&self) -> Option<&str> {
        self.modes.as_ref().map(ModeEngine::current)
    }

    /// The modes, if in use.
    pub fn modes(&self) -> Option<&Modes> {
        self.modes.as_ref().map(ModeEngine::modes)
    }

    /// The behaviour tree's main tree ID, if there is one.
    pub fn main_tree(&self) -> Option<&str> {
        self.exec.as_ref().map(|e| e.tree().main_tree())
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
        available: Availability<'_>,
    ) -> Result<(), DryRunError> {
        self.run_until(at, available)?;
        let mut changed = !self.tree.tick(at).is_empty();
        for (path, observation) in batch {
            changed |= !self.tree.observe(&path, observation, at)?.is_empty();
        }
        let first = !self.ticked;
        self.step(at, changed || first, available);
        self.run_until(at, available)
    }

    /// The outcome of an action the shell carried out, at `at`: ticks the
    /// tree if the action was still running (a halted one is ignored).
    pub fn complete(
        &mut self,
        id: ActionId,
        success: bool,
        at: Timestamp,
        available: Availability<'_>,
    ) -> Result<(), DryRunError> {
        self.run_until(at, available)?;
        let woke = self.exec.as_mut().is_some_and(|e| e.complete(id, success));
        if woke {
            self.tree.tick(at);
            self.step(at, true, available);
        }
        self.run_until(at, available)
    }

    /// Something outside the tree changed at `at` (the registry, for
    /// `<Available>`): tick once.
    pub fn poke(&mut self, at: Timestamp, available: Availability<'_>) -> Result<(), DryRunError> {
        self.run_until(at, available)?;
        self.tree.tick(at);
        self.step(at, true, available);
        self.run_until(at, available)
    }

    /// Processes every deadline up to and including `to`.
    pub fn run_until(
        &mut self,
        to: Timestamp,
        available: Availability<'_>,
    ) -> Result<(), DryRunError> {
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
            self.step(at, changed, available);
        }
        Ok(())
    }

    /// The earliest time something is due without new inputs.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        [
            self.tree.next_deadline(),
            self.exec.as_ref().and_then(Executor::next_deadline),
            self.due.keys().next().map(|(at, _)| *at),
            self.modes.as_ref().and_then(ModeEngine::next_deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Outcomes, modes, then one tick if anything happened.
    fn step(&mut self, now: Timestamp, mut wake: bool, available: Availability<'_>) {
        while let Some(entry) = self.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), ok) = entry.remove_entry();
            wake |= self.exec.as_mut().is_some_and(|e| e.complete(id, ok));
        }
        if let Some(modes) = &mut self.modes {
            if let Some(change) = modes.update(now, &self.tree) {
                self.records.push(Record::Mode(change));
                wake = true;
            }
        }
        let Some(exec) = &mut self.exec else {
            return;
        };
        wake |= exec.next_deadline().is_some_and(|d| d <= now);
        if !wake {
            return;
        }
        self.ticked = true;
        let mut world = World {
            tree: &self.tree,
            mode: self.modes.as_ref().map(ModeEngine::current),
            available,
            calls: Vec::new(),
        };
        let status = exec.tick(now, &mut world);
        let calls = world.calls;
        let main = exec.tree().main_tree().to_owned();
        self.records.push(Record::Tick {
            at: now,
            tree: main.clone(),
            status,
        });
        for call in calls {
            match &call {
                Record::Action { id, action, .. } => {
                    let done = match action {
                        Action::Wait { duration } => Some(now + *duration),
                        Action::SetMode { .. } | Action::Log { .. } => Some(now),
                        _ if self.outcomes == Outcomes::Immediate => Some(now),
                        _ => None,
                    };
                    if let Some(done) = done {
                        self.due.insert((done, *id), true);
                    }
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
