//! Leaf checks: narrow tests that turn observations into a state.
//!
//! Rules every built-in check follows:
//!
//! - A check that never took an observation is UNKNOWN(no_data).
//! - Time never runs backwards for a check: an observation stamped earlier
//!   than the previous one is taken as made at the previous one's time (it
//!   arrived later, so it is the newest news).
//! - "Stale after `d`" means silent for *longer* than `d` (as the ROS 2
//!   diagnostic aggregator's `now - last > timeout`): with the last
//!   observation at `t`, the check is still fresh at `t + d` and stale from
//!   `t + d + 1 ns`, which is exactly what [`Check::next_change`] returns.
//! - A refused observation leaves the check untouched (it does not even
//!   count as a sign of life).

use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::health::{State, UnknownReason};
use crate::observation::Observation;
use crate::spec::CheckSpec;
use crate::time::Timestamp;

mod heartbeat;
mod range;
mod rate;
mod status;
mod threshold;

pub(crate) use heartbeat::HeartbeatCheck;
pub(crate) use range::RangeCheck;
pub(crate) use rate::RateCheck;
pub(crate) use status::StatusCheck;
pub(crate) use threshold::ThresholdCheck;

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
    fn observe(&mut self, observation: Observation, now: Timestamp)
        -> Result<(), ObservationError>;

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

impl Verdict {
    /// A determinate state (no reason).
    pub(crate) const fn of(state: State) -> Verdict {
        Verdict {
            state,
            reason: None,
        }
    }

    /// UNKNOWN with `reason`.
    pub(crate) const fn unknown(reason: UnknownReason) -> Verdict {
        Verdict {
            state: State::Unknown,
            reason: Some(reason),
        }
    }
}

/// Builds the check a leaf spec describes; `None` for
/// [`CheckSpec::Custom`], which the application installs by name.
///
/// The spec should have passed [`validate_check`]; an invalid one still
/// builds a check that never panics.
pub(crate) fn build_check(spec: &CheckSpec) -> Option<Box<dyn Check>> {
    let check: Box<dyn Check> = match spec {
        CheckSpec::Heartbeat { timeout } => Box::new(HeartbeatCheck::new(*timeout)),
        CheckSpec::Threshold {
            degraded_above,
            failed_above,
            degraded_below,
            failed_below,
            stale_after,
        } => Box::new(ThresholdCheck::new(
            threshold::Bands {
                degraded_above: *degraded_above,
                failed_above: *failed_above,
                degraded_below: *degraded_below,
                failed_below: *failed_below,
            },
            *stale_after,
        )),
        CheckSpec::Range {
            ok,
            degraded,
            stale_after,
        } => Box::new(RangeCheck::new(*ok, *degraded, *stale_after)),
        CheckSpec::Rate {
            min_hz,
            failed_below_hz,
            window,
        } => Box::new(RateCheck::new(*min_hz, *failed_below_hz, *window)),
        CheckSpec::Status { stale_after } => Box::new(StatusCheck::new(*stale_after)),
        CheckSpec::Custom { .. } => return None,
    };
    Some(check)
}

/// Every problem with a leaf spec, each message naming the offending field
/// (`threshold.degraded_above`, `rate.window`, ...). Empty when the spec is
/// valid. The tree builder adds the node path and origin.
pub(crate) fn validate_check(spec: &CheckSpec) -> Vec<String> {
    let mut problems = Vec::new();
    match spec {
        CheckSpec::Heartbeat { timeout } => {
            if timeout.is_zero() {
                problems.push("heartbeat.timeout must be longer than zero".to_owned());
            }
        }
        CheckSpec::Threshold {
            degraded_above,
            failed_above,
            degraded_below,
            failed_below,
            stale_after,
        } => {
            let bands = threshold::Bands {
                degraded_above: *degraded_above,
                failed_above: *failed_above,
                degraded_below: *degraded_below,
                failed_below: *failed_below,
            };
            bands.validate(&mut problems);
            validate_stale_after("threshold", *stale_after, &mut problems);
        }
        CheckSpec::Range {
            ok,
            degraded,
            stale_after,
        } => {
            range::validate(*ok, *degraded, &mut problems);
            validate_stale_after("range", *stale_after, &mut problems);
        }
        CheckSpec::Rate {
            min_hz,
            failed_below_hz,
            window,
        } => rate::validate(*min_hz, *failed_below_hz, *window, &mut problems),
        CheckSpec::Status { stale_after } => {
            validate_stale_after("status", *stale_after, &mut problems);
        }
        CheckSpec::Custom { name } => {
            if name.trim().is_empty() {
                problems.push("custom.name must not be empty".to_owned());
            }
        }
    }
    problems
}

fn validate_stale_after(kind: &str, stale_after: Option<Duration>, problems: &mut Vec<String>) {
    if stale_after.is_some_and(|d| d.is_zero()) {
        problems.push(format!(
            "{kind}.stale_after must be longer than zero (omit it to never go stale)"
        ));
    }
}

/// The first instant at which a source last heard from at `last` has been
/// silent for longer than `limit`.
fn stale_from(last: Timestamp, limit: Duration) -> Timestamp {
    last + limit + Duration::from_nanos(1)
}

/// True when the silence since `last` exceeds `limit` at `now`.
fn is_stale(last: Timestamp, limit: Duration, now: Timestamp) -> bool {
    now >= stale_from(last, limit)
}

/// When a source that is fresh at `now` goes stale; `None` when it never
/// will without news (no staleness limit, nothing heard, or already stale).
fn next_stale(
    last: Option<Timestamp>,
    limit: Option<Duration>,
    now: Timestamp,
) -> Option<Timestamp> {
    let at = stale_from(last?, limit?);
    (at > now).then_some(at)
}

/// The later of `now` and the previous observation time: checks never see
/// time run backwards.
fn monotonic(previous: Option<Timestamp>, now: Timestamp) -> Timestamp {
    previous.map_or(now, |p| p.max(now))
}

/// A duration as `0.350s`, the form every `describe` line uses.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.0.as_secs_f64())
    }
}

/// The value of a value observation; refuses everything else, and values
/// that are not finite (a NaN compares false with every bound and would
/// pass as OK).
fn require_value(check: &'static str, observation: Observation) -> Result<f64, ObservationError> {
    let why = match observation {
        Observation::Value(v) if v.is_finite() => return Ok(v),
        Observation::Value(_) => "the value is not a finite number",
        Observation::Status { .. } => "a value check takes values, not reported states",
        Observation::Heartbeat => "a heartbeat carries no value to compare",
    };
    Err(ObservationError {
        check,
        observation,
        why,
    })
}

/// The value a value check last took, and when.
#[derive(Clone, Copy, Debug)]
struct Sample {
    value: f64,
    at: Timestamp,
}

/// Shared evaluation of value checks: no data, stale, or the classified value.
fn value_verdict(
    last: Option<Sample>,
    stale_after: Option<Duration>,
    now: Timestamp,
    classify: impl FnOnce(f64) -> State,
) -> Verdict {
    match last {
        None => Verdict::unknown(UnknownReason::NoData),
        Some(s) if stale_after.is_some_and(|d| is_stale(s.at, d, now)) => {
            Verdict::unknown(UnknownReason::Stale)
        }
        Some(s) => Verdict::of(classify(s.value)),
    }
}

/// The `describe` line of a value check that has no usable value, or `None`
/// when its last value is fresh.
fn describe_no_value(
    last: Option<Sample>,
    stale_after: Option<Duration>,
    now: Timestamp,
) -> Option<String> {
    match (last, stale_after) {
        (None, _) => Some("no value received".to_owned()),
        (Some(s), Some(d)) if is_stale(s.at, d, now) => Some(format!(
            "no value for {} (stale_after {}; last value {})",
            Secs(now.saturating_since(s.at)),
            Secs(d),
            s.value
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
