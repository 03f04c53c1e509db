//! A dry run: diagnostic events replayed through the tree, the behaviour
//! tree and the modes, with no side effects. Actions succeed after their
//! declared duration (`Wait`) or at once; `<SetMode>` moves the mode
//! engine; `<Available>` is true (a dry run has no registry).
//!
//! It is the live [`Engine`] with its outcomes given at once, so it ticks
//! exactly where the live engine ticks.

use vigil_diag::{Observation, Path, Timestamp, Tree, UpdateError};
use vigil_qos::Query;

use super::engine::{Engine, Outcomes};
use super::exec::ActionId;
use super::node::{Action, BehaviorTree, Status};
use crate::modes::{ModeChange, Modes};

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

/// A dry run in progress: the [`Engine`] with every action succeeding on
/// its own and `<Available>` always true (a dry run has no registry).
#[derive(Debug)]
pub struct DryRun {
    engine: Engine,
}

fn always(_: &Query) -> bool {
    true
}

impl DryRun {
    /// A dry run of `bt` over `tree`, with modes if given.
    pub fn new(tree: Tree, bt: BehaviorTree, modes: Option<Modes>) -> DryRun {
        DryRun {
            engine: Engine::new(tree, Some(bt), modes, Outcomes::Immediate),
        }
    }

    /// The diagnostic tree as the run has it now.
    pub fn tree(&self) -> &Tree {
        self.engine.tree()
    }

    /// The current mode, if modes are in use.
    pub fn mode(&self) -> Option<&str> {
        self.engine.mode()
    }

    /// The records so far, taken.
    pub fn take_records(&mut self) -> Vec<Record> {
        self.engine.take_records()
    }

    /// Applies a batch of observations made at `at` (after everything due
    /// before it), then ticks if anything changed and settles what follows
    /// at once.
    pub fn apply(
        &mut self,
        batch: impl IntoIterator<Item = (Path, Observation)>,
        at: Timestamp,
    ) -> Result<(), DryRunError> {
        self.engine.apply(batch, at, &always)
    }

    /// Processes every deadline up to and including `to`.
    pub fn run_until(&mut self, to: Timestamp) -> Result<(), DryRunError> {
        self.engine.run_until(to, &always)
    }

    /// The earliest time something is due without new events.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.engine.next_deadline()
    }
}
