//! Leaf checks: narrow tests that turn observations into a state.

use std::fmt;

use thiserror::Error;

use crate::health::{State, UnknownReason};
use crate::observation::Observation;
use crate::time::Timestamp;

/// What a check concludes at one time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// The leaf's raw state (before debounce, flap damping and latching).
    pub state: State,
    /// Set exactly when `state` is UNKNOWN.
    pub reason: Option<UnknownReason>,
}

/// An observation a check cannot use, such as a value sent to a heartbeat
/// or a NaN sent to a threshold.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("{check} check cannot take {observation:?}: {why}")]
pub struct ObservationError {
    /// The check kind.
    pub check: &'static str,
    /// What it was given.
    pub observation: Observation,
    /// Why it was refused.
    pub why: &'static str,
}

/// A leaf test. Implement it for user-defined checks and install it with
/// [`Tree::install_check`](crate::Tree::install_check).
///
/// Checks are pure: they never read a clock, they are told the time.
pub trait Check: fmt::Debug + Send + Sync {
    /// The check kind, for messages (`"heartbeat"`, `"threshold"`, ...).
    fn kind(&self) -> &'static str;

    /// Takes one observation made at `now`. A refused observation leaves the
    /// check exactly as it was.
    fn observe(&mut self, observation: Observation, now: Timestamp) -> Result<(), ObservationError>;

    /// The state at `now`. Never received anything: UNKNOWN(no data).
    fn evaluate(&self, now: Timestamp) -> Verdict;

    /// The earliest time after `now` at which [`evaluate`](Check::evaluate)
    /// may change without a new observation (a heartbeat's deadline, a rate
    /// window sliding). `None` when only an observation can change it.
    /// The tree's `tick` uses this to age only the leaves that need it.
    fn next_change(&self, now: Timestamp) -> Option<Timestamp>;

    /// One line for explanations: what was last seen and which bound it
    /// crossed, e.g. `value 72 above degraded_above 60`.
    fn describe(&self, now: Timestamp) -> String;
}
