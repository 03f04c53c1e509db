//! `threshold`: a value compared with degraded and failed bands.

use std::time::Duration;

use super::{
    describe_no_value, monotonic, next_stale, require_value, value_verdict, Check,
    ObservationError, Sample, Verdict,
};
use crate::health::State;
use crate::observation::Observation;
use crate::time::Timestamp;

/// The bounds of a threshold check. Crossing is strict: a value equal to
/// `degraded_above` is not above it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bands {
    pub(crate) degraded_above: Option<f64>,
    pub(crate) failed_above: Option<f64>,
    pub(crate) degraded_below: Option<f64>,
    pub(crate) failed_below: Option<f64>,
}

/// Which bound a value crossed, for `describe`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Crossing {
    state: State,
    bound: &'static str,
    limit: f64,
    above: bool,
}

impl Bands {
    /// The worst bound `value` crosses; failed bounds are tried first
    /// because FAILED beats DEGRADED.
    fn crossing(&self, value: f64) -> Option<Crossing> {
        let bounds = [
            (State::Failed, "failed_above", self.failed_above, true),
            (State::Failed, "failed_below", self.failed_below, false),
            (State::Degraded, "degraded_above", self.degraded_above, true),
            (
                State::Degraded,
                "degraded_below",
                self.degraded_below,
                false,
            ),
        ];
        bounds.into_iter().find_map(|(state, bound, limit, above)| {
            let limit = limit?;
            let crossed = if above { value > limit } else { value < limit };
            crossed.then_some(Crossing {
                state,
                bound,
                limit,
                above,
            })
        })
    }

    fn classify(&self, value: f64) -> State {
        self.crossing(value).map_or(State::Ok, |c| c.state)
    }

    /// Reports bounds that are not finite, a degraded band that can never
    /// be reached (the failed bound is inside it), and bands that leave no
    /// OK value at all.
    pub(crate) fn validate(&self, problems: &mut Vec<String>) {
        let named = [
            ("degraded_above", self.degraded_above),
            ("failed_above", self.failed_above),
            ("degraded_below", self.degraded_below),
            ("failed_below", self.failed_below),
        ];
        if named.iter().all(|(_, v)| v.is_none()) {
            problems.push(
                "threshold sets no bound: give degraded_above, failed_above, degraded_below or failed_below"
                    .to_owned(),
            );
            return;
        }
        let mut finite = true;
        for (name, value) in named {
            if let Some(v) = value.filter(|v| !v.is_finite()) {
                problems.push(format!("threshold.{name} must be a finite number, not {v}"));
                finite = false;
            }
        }
        if !finite {
            return;
        }
        if let (Some(d), Some(f)) = (self.degraded_above, self.failed_above) {
            if d > f {
                problems.push(format!(
                    "threshold.degraded_above ({d}) must not be above failed_above ({f}): the degraded band would be unreachable"
                ));
            }
        }
        if let (Some(d), Some(f)) = (self.degraded_below, self.failed_below) {
            if d < f {
                problems.push(format!(
                    "threshold.degraded_below ({d}) must not be below failed_below ({f}): the degraded band would be unreachable"
                ));
            }
        }
        // OK values are those in [highest lower bound, lowest upper bound].
        let low = [self.degraded_below, self.failed_below]
            .into_iter()
            .flatten()
            .reduce(f64::max);
        let high = [self.degraded_above, self.failed_above]
            .into_iter()
            .flatten()
            .reduce(f64::min);
        if let (Some(low), Some(high)) = (low, high) {
            if low > high {
                problems.push(format!(
                    "threshold bounds leave no OK value: the lower bounds (degraded_below/failed_below, up to {low}) are above the upper bounds (degraded_above/failed_above, from {high})"
                ));
            }
        }
    }
}

/// DEGRADED or FAILED when the last value is strictly above/below a bound
/// (FAILED wins when both apply), OK otherwise; UNKNOWN(stale) when
/// `stale_after` is set and no value arrived for longer than that.
///
/// Takes only finite values: NaN and infinities are refused, as are reported
/// states and bare heartbeats (neither says what the value is now).
#[derive(Clone, Debug)]
pub(crate) struct ThresholdCheck {
    bands: Bands,
    stale_after: Option<Duration>,
    last: Option<Sample>,
}

impl ThresholdCheck {
    pub(crate) fn new(bands: Bands, stale_after: Option<Duration>) -> ThresholdCheck {
        ThresholdCheck {
            bands,
            stale_after,
            last: None,
        }
    }
}

impl Check for ThresholdCheck {
    fn kind(&self) -> &'static str {
        "threshold"
    }

    fn observe(
        &mut self,
        observation: Observation,
        now: Timestamp,
    ) -> Result<(), ObservationError> {
        let value = require_value(self.kind(), observation)?;
        let at = monotonic(self.last.map(|s| s.at), now);
        self.last = Some(Sample { value, at });
        Ok(())
    }

    fn evaluate(&self, now: Timestamp) -> Verdict {
        value_verdict(self.last, self.stale_after, now, |v| self.bands.classify(v))
    }

    fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        next_stale(self.last.map(|s| s.at), self.stale_after, now)
    }

    fn describe(&self, now: Timestamp) -> String {
        if let Some(line) = describe_no_value(self.last, self.stale_after, now) {
            return line;
        }
        let Some(Sample { value, .. }) = self.last else {
            return "no value received".to_owned();
        };
        match self.bands.crossing(value) {
            Some(c) => {
                let side = if c.above { "above" } else { "below" };
                format!("value {value} {side} {} {}", c.bound, c.limit)
            }
            None => format!("value {value} within bounds"),
        }
    }
}
