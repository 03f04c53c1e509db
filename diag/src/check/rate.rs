//! `rate`: the observed event rate over a sliding window.

use std::collections::VecDeque;
use std::time::Duration;

use super::{monotonic, Check, ObservationError, Secs, Verdict};
use crate::health::{State, UnknownReason};
use crate::observation::Observation;
use crate::time::Timestamp;

/// The most events one window may need to count before it stops being
/// slow. Beyond this a spec is refused: the ring of event times would cost
/// more than a leaf should (each event is 8 bytes, and the ring keeps up to
/// [`RING_FACTOR`] times this many).
pub(crate) const MAX_EVENTS_PER_WINDOW: f64 = 100_000.0;

/// The ring keeps this many times the events needed to be OK, so `describe`
/// can report rates up to four times the minimum exactly; above that it says
/// "at least". The verdict and `next_change` only ever need the newest
/// `ok_count` events, so capping never changes them.
const RING_FACTOR: usize = 4;

/// Reports `min_hz`, `failed_below_hz` and `window` problems.
pub(crate) fn validate(
    min_hz: f64,
    failed_below_hz: Option<f64>,
    window: Duration,
    problems: &mut Vec<String>,
) {
    if window.is_zero() {
        problems.push("rate.window must be longer than zero".to_owned());
    }
    let min_ok = min_hz.is_finite() && min_hz > 0.0;
    if !min_ok {
        problems.push(format!(
            "rate.min_hz must be a positive finite number, not {min_hz}"
        ));
    }
    if let Some(failed) = failed_below_hz {
        if !(failed.is_finite() && failed > 0.0) {
            problems.push(format!(
                "rate.failed_below_hz must be a positive finite number, not {failed}"
            ));
        } else if min_ok && failed > min_hz {
            problems.push(format!(
                "rate.failed_below_hz ({failed} Hz) must not be above rate.min_hz ({min_hz} Hz): the degraded band would be unreachable"
            ));
        }
    }
    let per_window = min_hz * window.as_secs_f64();
    if min_ok && per_window > MAX_EVENTS_PER_WINDOW {
        problems.push(format!(
            "rate.min_hz ({min_hz} Hz) over rate.window ({}) needs {per_window:.0} events per window; at most {MAX_EVENTS_PER_WINDOW:.0} are supported: shorten the window",
            Secs(window)
        ));
    }
}

/// The fewest events in `window` whose rate `count / window` is not below
/// `hz`. Computed once, with the same float comparison the description
/// prints, so that the verdict can compare integer counts.
fn min_count(hz: f64, window: Duration) -> usize {
    let secs = window.as_secs_f64();
    if !(hz.is_finite() && hz > 0.0) || secs <= 0.0 {
        return 0;
    }
    let fast_enough = |count: usize| count as f64 / secs >= hz;
    // The cap keeps an invalid spec (refused by `validate`) from asking for
    // an unbounded ring.
    let mut count = (hz * secs).ceil().min(MAX_EVENTS_PER_WINDOW) as usize;
    while count > 0 && fast_enough(count - 1) {
        count -= 1;
    }
    while !fast_enough(count) && (count as f64) < MAX_EVENTS_PER_WINDOW {
        count += 1;
    }
    count
}

/// Counts events (heartbeats and values; reported states are refused) in
/// the sliding window `(now - window, now]`: an event at `t` counts until
/// just before `t + window`.
///
/// With `n` events in the window, the observed rate is `n / window`:
///
/// | condition | verdict |
/// | --- | --- |
/// | no event ever | UNKNOWN(no_data) |
/// | `now < first event + window` (warming up) | OK |
/// | rate < `failed_below_hz` | FAILED |
/// | rate < `min_hz` | DEGRADED |
/// | otherwise | OK |
///
/// Warming up: until one whole window has passed since the first event, the
/// window reaches back to before the check heard anything, so a low count
/// says nothing about the rate; the check does not call it slow. The warm-up
/// ends exactly when the first event leaves the window.
///
/// A source that stops altogether ends at rate 0: FAILED when
/// `failed_below_hz` is set, DEGRADED otherwise. Use a heartbeat leaf beside
/// it to say "stale".
///
/// Memory: event times live in a ring capped at four times the events an OK
/// window needs (at least 4), see [`RING_FACTOR`].
#[derive(Clone, Debug)]
pub(crate) struct RateCheck {
    min_hz: f64,
    failed_below_hz: Option<f64>,
    window: Duration,
    /// Fewest events in a window that are not DEGRADED.
    ok_count: usize,
    /// Fewest events in a window that are not FAILED (0: no failed band).
    degraded_count: usize,
    cap: usize,
    /// Why: the warm-up ends one window after it.
    first: Option<Timestamp>,
    /// Event times, oldest first, never decreasing.
    events: VecDeque<Timestamp>,
}

impl RateCheck {
    pub(crate) fn new(min_hz: f64, failed_below_hz: Option<f64>, window: Duration) -> RateCheck {
        let ok_count = min_count(min_hz, window);
        let degraded_count = failed_below_hz.map_or(0, |hz| min_count(hz, window).min(ok_count));
        RateCheck {
            min_hz,
            failed_below_hz,
            window,
            ok_count,
            degraded_count,
            cap: (ok_count * RING_FACTOR).max(RING_FACTOR),
            first: None,
            events: VecDeque::new(),
        }
    }

    /// Index of the oldest event still in the window at `now`.
    fn window_start(&self, now: Timestamp) -> usize {
        self.events.partition_point(|&e| e + self.window <= now)
    }

    fn classify(&self, count: usize) -> State {
        if count < self.degraded_count {
            State::Failed
        } else if count < self.ok_count {
            State::Degraded
        } else {
            State::Ok
        }
    }

    /// `now`, not earlier than the newest event.
    fn clamp(&self, now: Timestamp) -> Timestamp {
        monotonic(self.events.back().copied(), now)
    }

    /// When the count in the window, now `count`, drops below `needed`
    /// (the `needed`-th newest event leaves); `None` if it already has or
    /// `needed` is 0.
    fn drops_below(&self, count: usize, needed: usize) -> Option<Timestamp> {
        if needed == 0 || count < needed {
            return None;
        }
        let index = self.events.len().checked_sub(needed)?;
        self.events.get(index).map(|&e| e + self.window)
    }
}

impl Check for RateCheck {
    fn kind(&self) -> &'static str {
        "rate"
    }

    fn observe(
        &mut self,
        observation: Observation,
        now: Timestamp,
    ) -> Result<(), ObservationError> {
        if let Observation::Status { .. } = observation {
            return Err(ObservationError {
                check: self.kind(),
                observation,
                why: "a rate check counts heartbeats and values, not reported states",
            });
        }
        let now = self.clamp(now);
        self.first.get_or_insert(now);
        // Events that left the window can never count again: time only
        // moves forward for a check.
        let expired = self.window_start(now);
        self.events.drain(..expired);
        if self.events.len() >= self.cap {
            self.events.pop_front();
        }
        self.events.push_back(now);
        Ok(())
    }

    fn evaluate(&self, now: Timestamp) -> Verdict {
        let Some(first) = self.first else {
            return Verdict::unknown(UnknownReason::NoData);
        };
        let now = self.clamp(now);
        if now < first + self.window {
            return Verdict::of(State::Ok);
        }
        let count = self.events.len() - self.window_start(now);
        Verdict::of(self.classify(count))
    }

    fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        let first = self.first?;
        let now = self.clamp(now);
        let count = self.events.len() - self.window_start(now);
        let warm_up_end = first + self.window;
        if now < warm_up_end {
            // OK until the warm-up ends; then OK only while the count holds.
            let leaves_ok = self.drops_below(count, self.ok_count);
            if self.ok_count == 0 {
                return None;
            }
            return Some(leaves_ok.map_or(warm_up_end, |t| t.max(warm_up_end)));
        }
        match self.classify(count) {
            State::Ok => self.drops_below(count, self.ok_count),
            State::Degraded => self.drops_below(count, self.degraded_count),
            _ => None,
        }
    }

    fn describe(&self, now: Timestamp) -> String {
        let min = self.min_hz;
        let window = Secs(self.window);
        let Some(first) = self.first else {
            return format!("no events received (min {min} Hz over {window})");
        };
        let now = self.clamp(now);
        let count = self.events.len() - self.window_start(now);
        let at_least = if count >= self.cap { "at least " } else { "" };
        if now < first + self.window {
            return format!(
                "{at_least}{count} events in the first {} of a {window} window (warming up; min {min} Hz)",
                Secs(now.saturating_since(first))
            );
        }
        let rate = count as f64 / self.window.as_secs_f64();
        let verdict = match (self.classify(count), self.failed_below_hz) {
            (State::Failed, Some(failed)) => format!("< failed_below {failed} Hz"),
            (State::Ok, _) => format!(">= min {min} Hz"),
            _ => format!("< min {min} Hz"),
        };
        format!("{at_least}{count} events in {window} = {rate:.1} Hz {verdict}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Timestamp {
        Timestamp::from_nanos(n * 1_000_000)
    }

    fn dur_ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rate_ring_is_bounded_but_the_verdict_exact() {
        let mut r = RateCheck::new(5.0, None, dur_ms(1000));
        for i in 0..1000 {
            r.observe(Observation::Heartbeat, ms(2000 + i)).unwrap();
        }
        assert_eq!(r.events.len(), 20);
        assert_eq!(r.evaluate(ms(3000)), Verdict::of(State::Ok));
        // The 5th newest event (t=2995) decides when it becomes slow.
        assert_eq!(r.next_change(ms(3000)), Some(ms(3995)));
        assert!(r.describe(ms(3000)).starts_with("at least 20 events"));
    }

    #[test]
    fn min_count_matches_the_printed_comparison() {
        for (hz, window_ms, want) in [
            (10.0, 1000, 10),
            (0.3, 10_000, 3),
            (50.0, 100, 5),
            (1.0, 1500, 2),
        ] {
            let r = RateCheck::new(hz, None, dur_ms(window_ms));
            assert_eq!(r.ok_count, want, "{hz} Hz over {window_ms} ms");
        }
    }
}
