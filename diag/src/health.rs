//! Health values: state, why it is unknown, confidence, trend.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::time::Timestamp;

/// The state of a node.
///
/// The derived order is the severity order used by worst-of aggregation:
/// `Ok < Degraded < Unknown < Failed`. Unknown ranks above Degraded because a
/// part we cannot see may be broken, and below Failed because it may not be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Working as specified.
    Ok,
    /// Working with reduced quality (ROS 2 `WARN`).
    Degraded,
    /// Not known: no data, stale data, conflicting reports, or unreachable.
    Unknown,
    /// Not working (ROS 2 `ERROR`).
    Failed,
}

/// Why a node is [`State::Unknown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownReason {
    /// Nothing was ever received.
    NoData,
    /// Data stopped arriving (a heartbeat timed out, ROS 2 `STALE`).
    Stale,
    /// Reports disagree and the rule cannot decide between them.
    Conflicting,
    /// The source cannot be reached (its producer or link is gone).
    Unreachable,
}

/// Which way a node's health is moving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// No recent change.
    #[default]
    Stable,
    /// The last recent change made it worse.
    Degrading,
    /// Better inputs are arriving; the improvement is recent or still being
    /// debounced.
    Recovering,
    /// It keeps changing; flap damping holds the reported state.
    Intermittent,
}

/// The health of one node at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// The reported state.
    pub state: State,
    /// Set exactly when `state` is [`State::Unknown`].
    pub reason: Option<UnknownReason>,
    /// How much of what decided this state was fresh and determinate, in `[0, 1]`.
    pub confidence: f64,
    /// Which way it is moving.
    pub trend: Trend,
    /// When `state` last changed.
    pub since: Timestamp,
}

impl Health {
    /// The health of a node that never received input.
    pub fn no_data(since: Timestamp) -> Health {
        Health {
            state: State::Unknown,
            reason: Some(UnknownReason::NoData),
            confidence: 0.0,
            trend: Trend::Stable,
            since,
        }
    }
}

/// A string or ROS 2 level that is not a state.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid state `{0}`: expected OK, DEGRADED, FAILED or UNKNOWN (or ROS 2 OK, WARN, ERROR, STALE, or a level 0-3)")]
pub struct StateParseError(pub String);

impl State {
    /// Every state, best first.
    pub const ALL: [State; 4] = [State::Ok, State::Degraded, State::Unknown, State::Failed];

    /// The canonical upper-case name (`OK`, `DEGRADED`, `UNKNOWN`, `FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Degraded => "DEGRADED",
            State::Unknown => "UNKNOWN",
            State::Failed => "FAILED",
        }
    }

    /// Maps a ROS 2 `diagnostic_msgs/DiagnosticStatus` level
    /// (OK=0, WARN=1, ERROR=2, STALE=3) to a state and, for STALE, its reason.
    pub fn from_ros_level(level: u8) -> Option<(State, Option<UnknownReason>)> {
        match level {
            0 => Some((State::Ok, None)),
            1 => Some((State::Degraded, None)),
            2 => Some((State::Failed, None)),
            3 => Some((State::Unknown, Some(UnknownReason::Stale))),
            _ => None,
        }
    }

    /// The ROS 2 level for this state (UNKNOWN maps to STALE).
    pub fn ros_level(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Degraded => 1,
            State::Failed => 2,
            State::Unknown => 3,
        }
    }

    /// Parses a state name, a ROS 2 level name or a ROS 2 level digit, case
    /// insensitively, with the reason ROS 2 `STALE` implies.
    pub fn parse_with_reason(
        text: &str,
    ) -> Result<(State, Option<UnknownReason>), StateParseError> {
        let upper = text.trim().to_ascii_uppercase();
        let parsed = match upper.as_str() {
            "OK" | "0" => (State::Ok, None),
            "DEGRADED" | "WARN" | "1" => (State::Degraded, None),
            "FAILED" | "ERROR" | "2" => (State::Failed, None),
            "STALE" | "3" => (State::Unknown, Some(UnknownReason::Stale)),
            "UNKNOWN" => (State::Unknown, Some(UnknownReason::NoData)),
            _ => return Err(StateParseError(text.to_owned())),
        };
        Ok(parsed)
    }
}

impl FromStr for State {
    type Err = StateParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::parse_with_reason(s).map(|(state, _)| state)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl UnknownReason {
    /// The snake_case name used in JSON (`no_data`, `stale`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownReason::NoData => "no_data",
            UnknownReason::Stale => "stale",
            UnknownReason::Conflicting => "conflicting",
            UnknownReason::Unreachable => "unreachable",
        }
    }
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Trend {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Stable => "stable",
            Trend::Degrading => "degrading",
            Trend::Recovering => "recovering",
            Trend::Intermittent => "intermittent",
        }
    }
}

impl fmt::Display for Trend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.state)?;
        if let Some(reason) = self.reason {
            write!(f, " ({reason})")?;
        }
        write!(f, ", confidence {:.2}, {}", self.confidence, self.trend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_order() {
        assert!(State::Ok < State::Degraded);
        assert!(State::Degraded < State::Unknown);
        assert!(State::Unknown < State::Failed);
        assert_eq!(State::ALL.iter().max(), Some(&State::Failed));
    }

    #[test]
    fn ros_levels_map_both_ways() {
        for state in State::ALL {
            let (back, _) = State::from_ros_level(state.ros_level()).unwrap();
            assert_eq!(back, state);
        }
        assert_eq!(
            State::from_ros_level(3),
            Some((State::Unknown, Some(UnknownReason::Stale)))
        );
        assert_eq!(State::from_ros_level(4), None);
    }

    #[test]
    fn parses_names_levels_and_digits() {
        assert_eq!("ok".parse::<State>(), Ok(State::Ok));
        assert_eq!("WARN".parse::<State>(), Ok(State::Degraded));
        assert_eq!("2".parse::<State>(), Ok(State::Failed));
        assert_eq!(
            State::parse_with_reason("stale"),
            Ok((State::Unknown, Some(UnknownReason::Stale)))
        );
        let err = "broken".parse::<State>().unwrap_err();
        assert!(err.to_string().contains("`broken`"));
    }

    #[test]
    fn json_names() {
        assert_eq!(
            serde_json::to_string(&State::Degraded).unwrap(),
            "\"DEGRADED\""
        );
        assert_eq!(
            serde_json::to_string(&UnknownReason::NoData).unwrap(),
            "\"no_data\""
        );
        assert_eq!(
            serde_json::to_string(&Trend::Intermittent).unwrap(),
            "\"intermittent\""
        );
    }
}
