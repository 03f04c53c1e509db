//! `range`: a value inside an OK range, a wider degraded range, or neither.

use std::time::Duration;

use super::{
    describe_no_value, monotonic, next_stale, require_value, value_verdict, Check,
    ObservationError, Sample, Verdict,
};
use crate::health::State;
use crate::observation::Observation;
use crate::time::Timestamp;

/// Reports bounds that are not finite, reversed ranges, and a degraded range
/// that does not contain the OK range.
pub(crate) fn validate(ok: (f64, f64), degraded: Option<(f64, f64)>, problems: &mut Vec<String>) {
    let mut check_range = |name: &str, (lo, hi): (f64, f64)| {
        if !lo.is_finite() || !hi.is_finite() {
            problems.push(format!(
                "range.{name} bounds must be finite numbers, not [{lo}, {hi}]"
            ));
            false
        } else if lo > hi {
            problems.push(format!(
                "range.{name} is reversed: [{lo}, {hi}] (low bound first)"
            ));
            false
        } else {
            true
        }
    };
    let ok_valid = check_range("ok", ok);
    let Some(degraded) = degraded else { return };
    if check_range("degraded", degraded) && ok_valid && !(degraded.0 <= ok.0 && ok.1 <= degraded.1)
    {
        problems.push(format!(
            "range.degraded [{}, {}] must contain range.ok [{}, {}]",
            degraded.0, degraded.1, ok.0, ok.1
        ));
    }
}

/// OK when the last value is inside the inclusive `ok` range, DEGRADED when
/// inside the inclusive `degraded` range, FAILED otherwise; UNKNOWN(stale)
/// when `stale_after` is set and no value arrived for longer than that.
///
/// Takes only finite values, like [`ThresholdCheck`](super::ThresholdCheck).
#[derive(Clone, Debug)]
pub(crate) struct RangeCheck {
    ok: (f64, f64),
    degraded: Option<(f64, f64)>,
    stale_after: Option<Duration>,
    last: Option<Sample>,
}

fn inside(value: f64, (lo, hi): (f64, f64)) -> bool {
    lo <= value && value <= hi
}

impl RangeCheck {
    pub(crate) fn new(
        ok: (f64, f64),
        degraded: Option<(f64, f64)>,
        stale_after: Option<Duration>,
    ) -> RangeCheck {
        RangeCheck {
            ok,
            degraded,
            stale_after,
            last: None,
        }
    }

    fn classify(&self, value: f64) -> State {
        if inside(value, self.ok) {
            State::Ok
        } else if self.degraded.is_some_and(|d| inside(value, d)) {
            State::Degraded
        } else {
            State::Failed
        }
    }
}

impl Check for RangeCheck {
    fn kind(&self) -> &'static str {
        "range"
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
        value_verdict(self.last, self.stale_after, now, |v| self.classify(v))
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
        let (ok_lo, ok_hi) = self.ok;
        match (self.classify(value), self.degraded) {
            (State::Ok, _) => format!("value {value} inside ok [{ok_lo}, {ok_hi}]"),
            (State::Degraded, Some((lo, hi))) => {
                format!("value {value} outside ok [{ok_lo}, {ok_hi}], inside degraded [{lo}, {hi}]")
            }
            (_, Some((lo, hi))) => format!("value {value} outside degraded [{lo}, {hi}]"),
            (_, None) => format!("value {value} outside ok [{ok_lo}, {ok_hi}]"),
        }
    }
}
