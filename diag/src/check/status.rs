//! `status`: a state reported from outside (ROS 2 DiagnosticStatus levels).

use std::time::Duration;

use super::{is_stale, monotonic, next_stale, Check, ObservationError, Secs, Verdict};
use crate::health::{State, UnknownReason};
use crate::observation::Observation;
use crate::time::Timestamp;

/// Reports the last state it was told; UNKNOWN(stale) when `stale_after` is
/// set and no report arrived for longer than that.
///
/// A reported UNKNOWN keeps its reason; an UNKNOWN reported without one is
/// UNKNOWN(no_data), the reading `State::parse_with_reason("UNKNOWN")` gives:
/// the source says it does not know, which is "no data" rather than any of
/// the more specific reasons. A reason sent with a state other than UNKNOWN
/// is dropped (a verdict carries a reason exactly when it is UNKNOWN).
///
/// Takes only reported states: values and bare heartbeats say nothing about
/// the state and are refused.
#[derive(Clone, Debug)]
pub(crate) struct StatusCheck {
    stale_after: Option<Duration>,
    last: Option<(Verdict, Timestamp)>,
}

impl StatusCheck {
    pub(crate) fn new(stale_after: Option<Duration>) -> StatusCheck {
        StatusCheck {
            stale_after,
            last: None,
        }
    }
}

impl Check for StatusCheck {
    fn kind(&self) -> &'static str {
        "status"
    }

    fn observe(
        &mut self,
        observation: Observation,
        now: Timestamp,
    ) -> Result<(), ObservationError> {
        let Observation::Status { state, reason } = observation else {
            return Err(ObservationError {
                check: self.kind(),
                observation,
                why: "a status check takes reported states (OK, DEGRADED, FAILED, UNKNOWN)",
            });
        };
        let verdict = match state {
            State::Unknown => Verdict::unknown(reason.unwrap_or(UnknownReason::NoData)),
            determinate => Verdict::of(determinate),
        };
        let at = monotonic(self.last.map(|(_, at)| at), now);
        self.last = Some((verdict, at));
        Ok(())
    }

    fn evaluate(&self, now: Timestamp) -> Verdict {
        match self.last {
            None => Verdict::unknown(UnknownReason::NoData),
            Some((_, at)) if self.stale_after.is_some_and(|d| is_stale(at, d, now)) => {
                Verdict::unknown(UnknownReason::Stale)
            }
            Some((verdict, _)) => verdict,
        }
    }

    fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        let (verdict, at) = self.last?;
        if verdict == Verdict::unknown(UnknownReason::Stale) {
            // Going stale would not change a verdict that already says so.
            return None;
        }
        next_stale(Some(at), self.stale_after, now)
    }

    fn describe(&self, now: Timestamp) -> String {
        let Some((verdict, at)) = self.last else {
            return "no status reported".to_owned();
        };
        let reported = match verdict.reason {
            Some(reason) => format!("{} ({reason})", verdict.state),
            None => verdict.state.to_string(),
        };
        let age = Secs(now.saturating_since(at));
        match self.stale_after {
            Some(d) if is_stale(at, d, now) => format!(
                "no status for {age} (stale_after {}; last reported {reported})",
                Secs(d)
            ),
            _ => format!("reported {reported} {age} ago"),
        }
    }
}
