//! Flap damping after BGP route-flap damping (RFC 2439), as one small state
//! machine shared by the tree's node filter and by discovery's per-producer
//! damping, so both damp with exactly the same arithmetic.
//!
//! Every recorded change adds [`FlapDamping::penalty`]; the penalty halves
//! every `half_life`. When it rises above `suppress` the subject is
//! suppressed until the penalty decays below `reuse`. As RFC 2439 advises,
//! the penalty is capped, at `reuse × 2⁴` (or `suppress + penalty` if that is
//! higher), so suppression ends at most about four half-lives after the
//! flapping stops.
//!
//! The release time is computed once per recorded change, so a caller's
//! "next deadline" and its decisions agree to the nanosecond.

use crate::spec::FlapDamping;
use crate::time::Timestamp;

/// The penalty ceiling is `reuse × 2^MAX_SUPPRESS_HALF_LIVES`.
const MAX_SUPPRESS_HALF_LIVES: i32 = 4;

/// The damping state of one subject (a tree node, a producer).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlapPenalty {
    /// The penalty as of `at`.
    penalty: f64,
    at: Timestamp,
    suppressed: bool,
    /// When the current suppression ends (meaningful while `suppressed`).
    release_at: Timestamp,
}

impl FlapPenalty {
    /// Its state as plain values, `(penalty, at, suppressed, release_at)`:
    /// what a core snapshot stores (vigil replay of a rotated recording).
    pub fn parts(&self) -> (f64, Timestamp, bool, Timestamp) {
        (self.penalty, self.at, self.suppressed, self.release_at)
    }

    /// The state [`FlapPenalty::parts`] gave, back.
    pub fn from_parts(
        penalty: f64,
        at: Timestamp,
        suppressed: bool,
        release_at: Timestamp,
    ) -> FlapPenalty {
        FlapPenalty {
            penalty,
            at,
            suppressed,
            release_at,
        }
    }

    /// No penalty, as of `now`.
    pub fn new(now: Timestamp) -> FlapPenalty {
        FlapPenalty {
            at: now,
            release_at: now,
            ..FlapPenalty::default()
        }
    }

    /// Records one change at `now`. Returns true when this change starts a
    /// suppression (it was not suppressed just before).
    pub fn record_change(&mut self, spec: &FlapDamping, now: Timestamp) -> bool {
        // A non-finite or negative penalty in a spec that skipped validation
        // must not poison the state: it adds nothing.
        let added = if spec.penalty.is_finite() {
            spec.penalty.max(0.0)
        } else {
            0.0
        };
        let ceiling = (spec.reuse * 2f64.powi(MAX_SUPPRESS_HALF_LIVES)).max(spec.suppress + added);
        if self.suppressed && now >= self.release_at {
            self.suppressed = false;
        }
        self.penalty = (self.decayed(spec, now) + added).min(ceiling);
        self.at = now.max(self.at);
        let starts = !self.suppressed && self.penalty > spec.suppress;
        if starts {
            self.suppressed = true;
        }
        if self.suppressed {
            self.release_at = self.release_time(spec);
        }
        starts
    }

    /// Whether the subject is suppressed at `now`.
    pub fn suppressed_at(&self, now: Timestamp) -> bool {
        self.suppressed && now < self.release_at
    }

    /// When the current suppression ends; `None` when not suppressed.
    pub fn release_at(&self) -> Option<Timestamp> {
        self.suppressed.then_some(self.release_at)
    }

    /// The penalty decayed to `now`.
    pub fn penalty_at(&self, spec: &FlapDamping, now: Timestamp) -> f64 {
        self.decayed(spec, now)
    }

    fn decayed(&self, spec: &FlapDamping, now: Timestamp) -> f64 {
        let elapsed = now.saturating_since(self.at).as_secs_f64();
        let half_life = spec.half_life.as_secs_f64();
        if elapsed == 0.0 {
            self.penalty
        } else if half_life == 0.0 {
            0.0
        } else {
            self.penalty * (-elapsed / half_life).exp2()
        }
    }

    /// The first instant the penalty is strictly below `reuse`:
    /// `at + half_life × log2(penalty / reuse)`, plus one nanosecond.
    fn release_time(&self, spec: &FlapDamping) -> Timestamp {
        let ratio = self.penalty / spec.reuse;
        if ratio.is_nan() || ratio < 1.0 {
            return self.at;
        }
        let nanos = spec.half_life.as_secs_f64() * ratio.log2() * 1e9;
        let nanos = if nanos.is_finite() {
            nanos.floor() as u64
        } else {
            u64::MAX
        };
        Timestamp::from_nanos(self.at.as_nanos().saturating_add(nanos).saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn three_quick_changes_suppress_and_calm_releases() {
        let spec = FlapDamping::default();
        let mut f = FlapPenalty::new(t(0));
        assert!(!f.record_change(&spec, t(0)));
        assert!(!f.record_change(&spec, t(10)));
        assert!(!f.suppressed_at(t(20)));
        assert!(
            f.record_change(&spec, t(20)),
            "the third change starts suppression"
        );
        assert!(f.suppressed_at(t(20)));
        let release = f.release_at().unwrap();
        // ≈ 3 / 0.75 = 4 → two half-lives of 5 s.
        assert!(release > t(9_000) && release < t(11_000), "{release}");
        assert!(f.suppressed_at(release - Duration::from_nanos(1)));
        assert!(!f.suppressed_at(release));
        assert!(f.penalty_at(&spec, release) < spec.reuse);
    }

    #[test]
    fn slow_changes_never_suppress() {
        let spec = FlapDamping::default();
        let mut f = FlapPenalty::new(t(0));
        for i in 0..20 {
            f.record_change(&spec, t(i * 10_000));
            assert!(!f.suppressed_at(t(i * 10_000)));
        }
        assert_eq!(f.release_at(), None);
    }

    #[test]
    fn the_penalty_is_capped() {
        let spec = FlapDamping::default();
        let mut f = FlapPenalty::new(t(0));
        for i in 0..1000 {
            f.record_change(&spec, t(i));
        }
        // Ceiling 0.75 × 16 = 12 → release four half-lives (20 s) after the
        // last change, plus a nanosecond.
        let release = f.release_at().unwrap();
        assert!(release <= t(999 + 20_001), "{release}");
    }

    #[test]
    fn a_bad_penalty_adds_nothing() {
        let spec = FlapDamping {
            penalty: f64::NAN,
            ..FlapDamping::default()
        };
        let mut f = FlapPenalty::new(t(0));
        for i in 0..10 {
            assert!(!f.record_change(&spec, t(i)));
        }
        assert_eq!(f.penalty_at(&spec, t(10)), 0.0);
    }
}
