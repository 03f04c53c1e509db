//! What a leaf can be told.

use serde::{Deserialize, Serialize};

use crate::health::{State, UnknownReason};

/// One input to a leaf check.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observation {
    /// A measured value (threshold, range; also counts as an event for rate
    /// and heartbeat checks).
    Value(f64),
    /// A state reported from outside, such as a ROS 2 DiagnosticStatus level.
    Status {
        /// The reported state.
        state: State,
        /// Why, when `state` is UNKNOWN.
        reason: Option<UnknownReason>,
    },
    /// A sign of life with no value (heartbeat, rate).
    Heartbeat,
}
