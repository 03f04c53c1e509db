//! The replay format: one input event per JSON line.
//!
//! ```text
//! # comments and blank lines are skipped
//! {"t": 0.5, "path": "vehicle.sensors.imu.b", "value": 72.0}
//! {"t": 0.6, "path": "vehicle.sensors.imu.c", "status": "FAILED"}
//! {"t": 0.6, "path": "vehicle.sensors.imu.c", "status": 2}
//! {"t": 0.7, "path": "vehicle.sensors.imu.a", "heartbeat": true}
//! ```
//!
//! `t` is seconds from the replay's origin, never negative, and never
//! smaller than the line before: a replay reproduces what happened, and
//! time does not run backwards. Each line carries exactly one of `value`
//! (a number), `status` (OK, DEGRADED, FAILED, UNKNOWN, the ROS 2 names
//! WARN, ERROR, STALE, or a ROS 2 level 0-3) and `heartbeat` (`true`).

use std::fmt;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::health::{State, StateParseError};
use crate::observation::Observation;
use crate::path::{Path, PathError};
use crate::time::Timestamp;

/// One input event of a replay.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayEvent {
    /// When it happened.
    pub at: Timestamp,
    /// The leaf it is for.
    pub path: Path,
    /// What the leaf is told.
    pub observation: Observation,
}

/// Why one line is not an event.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The line is not JSON.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// The line is JSON but not an object.
    #[error("expected a JSON object such as {{\"t\": 0.5, \"path\": \"a.b\", \"value\": 1.0}}, found {0}")]
    NotAnObject(String),
    /// No `t`.
    #[error("missing `t` (seconds since the start of the replay)")]
    MissingTime,
    /// `t` is not a usable time.
    #[error("`t` must be a number of seconds >= 0, found {0}")]
    BadTime(String),
    /// No `path`.
    #[error("missing `path`")]
    MissingPath,
    /// `path` is not a string.
    #[error("`path` must be a string, found {0}")]
    PathNotString(String),
    /// `path` is not a valid path.
    #[error("bad `path`: {0}")]
    BadPath(PathError),
    /// None of `value`, `status`, `heartbeat`.
    #[error("missing the observation: one of `value`, `status` or `heartbeat`")]
    NoObservation,
    /// More than one of `value`, `status`, `heartbeat`.
    #[error("one observation per line: found {}", .0.join(" and "))]
    ManyObservations(Vec<&'static str>),
    /// A key the format does not have.
    #[error("unknown key `{0}`; expected t, path, value, status or heartbeat")]
    UnknownKey(String),
    /// `value` is not a number.
    #[error("`value` must be a number, found {0}")]
    BadValue(String),
    /// `status` is neither a state name nor a ROS 2 level.
    #[error("bad `status`: {0}")]
    BadStatus(StateParseError),
    /// `heartbeat` is not `true`.
    #[error(
        "`heartbeat` must be true, found {0} (leave the line out when there was no heartbeat)"
    )]
    BadHeartbeat(String),
    /// The event is earlier than the line before it.
    #[error("out of order: t = {at} is before t = {previous} on line {previous_line}; a replay must be in time order")]
    OutOfOrder {
        /// This event's time.
        at: Timestamp,
        /// The previous event's time.
        previous: Timestamp,
        /// The previous event's line.
        previous_line: usize,
    },
}

/// One bad line of a replay.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("line {line}: {error}")]
#[non_exhaustive]
pub struct ReplayLineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub error: ReplayError,
}

/// Every bad line of a replay, in order.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub struct ReplayErrors {
    /// The bad lines.
    pub errors: Vec<ReplayLineError>,
}

impl fmt::Display for ReplayErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

const OBSERVATION_KEYS: [&str; 3] = ["value", "status", "heartbeat"];

/// Parses one event line (not blank, not a comment).
pub fn parse_event_line(line: &str) -> Result<ReplayEvent, ReplayError> {
    let value: Value = serde_json::from_str(line).map_err(|e| ReplayError::Json(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(ReplayError::NotAnObject(describe(&value)));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "t" | "path" | "value" | "status" | "heartbeat"))
    {
        return Err(ReplayError::UnknownKey(clip(key)));
    }
    let at = time(&object)?;
    let path = match object.get("path") {
        None => return Err(ReplayError::MissingPath),
        Some(Value::String(text)) => Path::parse(text).map_err(ReplayError::BadPath)?,
        Some(other) => return Err(ReplayError::PathNotString(describe(other))),
    };
    let given: Vec<&'static str> = OBSERVATION_KEYS
        .into_iter()
        .filter(|k| object.contains_key(*k))
        .collect();
    let observation = match given.as_slice() {
        [] => return Err(ReplayError::NoObservation),
        ["value"] => match object.get("value").and_then(Value::as_f64) {
            Some(v) => Observation::Value(v),
            None => return Err(ReplayError::BadValue(describe(&object["value"]))),
        },
        ["status"] => status(&object["status"])?,
        ["heartbeat"] => match &object["heartbeat"] {
            Value::Bool(true) => Observation::Heartbeat,
            other => return Err(ReplayError::BadHeartbeat(describe(other))),
        },
        _ => return Err(ReplayError::ManyObservations(given)),
    };
    Ok(ReplayEvent {
        at,
        path,
        observation,
    })
}

fn time(object: &Map<String, Value>) -> Result<Timestamp, ReplayError> {
    let t = object.get("t").ok_or(ReplayError::MissingTime)?;
    t.as_f64()
        .and_then(Timestamp::from_secs_f64)
        .ok_or_else(|| ReplayError::BadTime(describe(t)))
}

fn status(value: &Value) -> Result<Observation, ReplayError> {
    let parsed = match value {
        Value::String(text) => State::parse_with_reason(text),
        Value::Number(n) => n
            .as_u64()
            .and_then(|level| u8::try_from(level).ok())
            .and_then(State::from_ros_level)
            .ok_or_else(|| StateParseError(n.to_string())),
        other => Err(StateParseError(describe(other))),
    };
    let (state, reason) =
        parsed.map_err(|e| ReplayError::BadStatus(StateParseError(clip(&e.0))))?;
    Ok(Observation::Status { state, reason })
}

/// Parses a whole replay: every line that is not blank or a `#` comment.
/// Reports every bad line, each with its 1-based number.
pub fn parse_events(text: &str) -> Result<Vec<ReplayEvent>, ReplayErrors> {
    parse_numbered_events(text).map(|events| events.into_iter().map(|(_, e)| e).collect())
}

/// [`parse_events`], keeping each event's 1-based line number, for callers
/// that must name the line when applying an event fails (an unknown path).
pub fn parse_numbered_events(text: &str) -> Result<Vec<(usize, ReplayEvent)>, ReplayErrors> {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    // The last good event's time and line, for the order check.
    let mut last: Option<(Timestamp, usize)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_event_line(trimmed) {
            Ok(event) => {
                if let Some((previous, previous_line)) = last {
                    if event.at < previous {
                        let error = ReplayError::OutOfOrder {
                            at: event.at,
                            previous,
                            previous_line,
                        };
                        errors.push(ReplayLineError { line, error });
                        continue;
                    }
                }
                last = Some((event.at, line));
                events.push((line, event));
            }
            Err(error) => errors.push(ReplayLineError { line, error }),
        }
    }
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(ReplayErrors { errors })
    }
}

/// A JSON value for a message, clipped.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "an array".into(),
        other => clip(&other.to_string()),
    }
}

fn clip(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::UnknownReason;
    use proptest::prelude::*;

    fn event(line: &str) -> ReplayEvent {
        parse_event_line(line).unwrap()
    }

    fn error(line: &str) -> ReplayError {
        parse_event_line(line).unwrap_err()
    }

    #[test]
    fn the_three_kinds() {
        let e = event(r#"{"t": 0.5, "path": "vehicle.sensors.imu.b", "value": 72.0}"#);
        assert_eq!(e.at, Timestamp::from_nanos(500_000_000));
        assert_eq!(e.path.as_str(), "vehicle.sensors.imu.b");
        assert_eq!(e.observation, Observation::Value(72.0));
        let failed = Observation::Status {
            state: State::Failed,
            reason: None,
        };
        assert_eq!(
            event(r#"{"t": 0.6, "path": "a", "status": "FAILED"}"#).observation,
            failed
        );
        assert_eq!(
            event(r#"{"t": 0.6, "path": "a", "status": 2}"#).observation,
            failed
        );
        assert_eq!(
            event(r#"{"t": 0.6, "path": "a", "status": "error"}"#).observation,
            failed
        );
        let stale = Observation::Status {
            state: State::Unknown,
            reason: Some(UnknownReason::Stale),
        };
        assert_eq!(
            event(r#"{"t": 1, "path": "a", "status": 3}"#).observation,
            stale
        );
        assert_eq!(
            event(r#"{"t": 1, "path": "a", "status": "STALE"}"#).observation,
            stale
        );
        let warn = Observation::Status {
            state: State::Degraded,
            reason: None,
        };
        assert_eq!(
            event(r#"{"t": 1, "path": "a", "status": "WARN"}"#).observation,
            warn
        );
        assert_eq!(
            event(r#"{"t": 0.7, "path": "a", "heartbeat": true}"#).observation,
            Observation::Heartbeat
        );
        assert_eq!(
            event(r#"{"path": "a", "heartbeat": true, "t": 0}"#).at,
            Timestamp::ZERO
        );
    }

    #[test]
    fn what_is_wrong() {
        assert!(matches!(error("{"), ReplayError::Json(_)));
        assert!(matches!(error("[1]"), ReplayError::NotAnObject(_)));
        assert_eq!(
            error(r#"{"path": "a", "value": 1}"#),
            ReplayError::MissingTime
        );
        assert!(matches!(
            error(r#"{"t": -1, "path": "a", "value": 1}"#),
            ReplayError::BadTime(_)
        ));
        assert!(matches!(
            error(r#"{"t": "1", "path": "a", "value": 1}"#),
            ReplayError::BadTime(_)
        ));
        assert!(matches!(
            error(r#"{"t": 1e300, "path": "a", "value": 1}"#),
            ReplayError::BadTime(_)
        ));
        assert_eq!(error(r#"{"t": 1, "value": 1}"#), ReplayError::MissingPath);
        assert!(matches!(
            error(r#"{"t": 1, "path": "a..b", "value": 1}"#),
            ReplayError::BadPath(_)
        ));
        assert!(matches!(
            error(r#"{"t": 1, "path": 3, "value": 1}"#),
            ReplayError::PathNotString(_)
        ));
        assert_eq!(
            error(r#"{"t": 1, "path": "a"}"#),
            ReplayError::NoObservation
        );
        assert_eq!(
            error(r#"{"t": 1, "path": "a", "value": 1, "heartbeat": true}"#),
            ReplayError::ManyObservations(vec!["value", "heartbeat"])
        );
        assert_eq!(
            error(r#"{"t": 1, "path": "a", "vlaue": 1}"#),
            ReplayError::UnknownKey("vlaue".into())
        );
        assert!(matches!(
            error(r#"{"t": 1, "path": "a", "value": "72"}"#),
            ReplayError::BadValue(_)
        ));
        assert!(matches!(
            error(r#"{"t": 1, "path": "a", "status": "BROKEN"}"#),
            ReplayError::BadStatus(_)
        ));
        assert!(matches!(
            error(r#"{"t": 1, "path": "a", "status": 4}"#),
            ReplayError::BadStatus(_)
        ));
        assert!(matches!(
            error(r#"{"t": 1, "path": "a", "status": -1}"#),
            ReplayError::BadStatus(_)
        ));
        assert!(matches!(
            error(r#"{"t": 1, "path": "a", "heartbeat": false}"#),
            ReplayError::BadHeartbeat(_)
        ));
        let message = error(r#"{"t": 1, "path": "a", "status": "BROKEN"}"#).to_string();
        assert!(message.contains("`BROKEN`"), "{message}");
    }

    #[test]
    fn whole_replays_report_every_bad_line() {
        let text = "\
# a comment
{\"t\": 0.1, \"path\": \"a\", \"value\": 1}

{\"t\": 0.2, \"path\": \"a\"}
   # indented comment
{\"t\": 0.05, \"path\": \"a\", \"value\": 1}
{\"t\": 0.3, \"path\": \"a\", \"heartbeat\": true}\r
not json
{\"t\": 0.3, \"path\": \"b\", \"status\": \"OK\"}
";
        let errors = parse_events(text).unwrap_err().errors;
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 6, 8]);
        assert_eq!(
            errors[1].error,
            ReplayError::OutOfOrder {
                at: Timestamp::from_nanos(50_000_000),
                previous: Timestamp::from_nanos(100_000_000),
                previous_line: 2
            }
        );
        assert!(
            errors[1].to_string().starts_with("line 6: out of order"),
            "{}",
            errors[1]
        );
        let good = "{\"t\": 0, \"path\": \"a\", \"value\": 1}\n{\"t\": 0, \"path\": \"b\", \"value\": 2}\n";
        assert_eq!(parse_events(good).unwrap().len(), 2);
        assert_eq!(parse_events("").unwrap(), vec![]);
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC{0,80}") {
            let _ = parse_event_line(&line);
            let _ = parse_events(&line);
        }

        #[test]
        fn never_panics_on_near_misses(
            t in prop_oneof![Just("0.5".to_owned()), "-?[0-9e.]{1,6}", Just("\"x\"".to_owned())],
            key in prop_oneof![Just("value"), Just("status"), Just("heartbeat"), Just("nope")],
            v in prop_oneof![Just("1".to_owned()), Just("true".to_owned()), Just("\"OK\"".to_owned()), "[0-9\"a-z]{0,4}"],
        ) {
            let line = format!("{{\"t\": {t}, \"path\": \"a.b\", \"{key}\": {v}}}");
            let _ = parse_event_line(&line);
        }
    }
}
