//! Per-producer flap damping, after BGP route-flap damping (RFC 2439).
//!
//! Every change of a producer's effective health state adds
//! `FlapDamping::penalty`; the penalty halves every `half_life`. Above
//! `suppress` the producer is suppressed until the penalty decays below
//! `reuse`. As in RFC 2439 (and vigil-diag's node filter) the penalty is
//! capped at `reuse × 2⁴` (or `suppress + penalty` if higher), so
//! suppression ends at most about four half-lives after the flapping stops.
//!
//! The release time is computed once per penalty increase, so
//! `next_deadline` and the decisions agree to the nanosecond.

use vigil_diag::{FlapDamping, Timestamp};

const MAX_SUPPRESS_HALF_LIVES: i32 = 4;

/// The damping state of one producer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flap {
    /// The penalty as of `at`.
    penalty: f64,
    at: Timestamp,
    suppressed: bool,
    release_at: Timestamp,
    /// Whether this suppression episode was already counted in
    /// `flaps_suppressed`.
    pub(crate) counted: bool,
}

impl Flap {
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

    /// Records one health-state change at `now`.
    pub(crate) fn record_change(&mut self, spec: &FlapDamping, now: Timestamp) {
        let penalty = if spec.penalty.is_finite() {
            spec.penalty.max(0.0)
        } else {
            0.0
        };
        let ceiling =
            (spec.reuse * 2f64.powi(MAX_SUPPRESS_HALF_LIVES)).max(spec.suppress + penalty);
        if self.suppressed && now >= self.release_at {
            self.suppressed = false;
        }
        self.penalty = (self.decayed(spec, now) + penalty).min(ceiling);
        self.at = now;
        if !self.suppressed && self.penalty > spec.suppress {
            self.suppressed = true;
            self.counted = false;
        }
        if self.suppressed {
            self.release_at = self.release_time(spec);
        }
    }

    /// The first instant the penalty is strictly below `reuse`.
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

    /// Whether the producer is suppressed at `now`.
    pub(crate) fn suppressed_at(&self, now: Timestamp) -> bool {
        self.suppressed && now < self.release_at
    }

    /// When the current suppression ends (meaningful while suppressed).
    pub(crate) fn release_at(&self) -> Timestamp {
        self.release_at
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
        let mut f = Flap::default();
        f.record_change(&spec, t(0));
        f.record_change(&spec, t(10));
        assert!(!f.suppressed_at(t(20)));
        f.record_change(&spec, t(20));
        assert!(f.suppressed_at(t(20)));
        let release = f.release_at();
        // ≈ 3 / 0.75 = 4 → two half-lives of 5 s.
        assert!(release > t(9_000) && release < t(11_000), "{release}");
        assert!(f.suppressed_at(release - Duration::from_nanos(1)));
        assert!(!f.suppressed_at(release));
    }

    #[test]
    fn slow_changes_never_suppress() {
        let spec = FlapDamping::default();
        let mut f = Flap::default();
        for i in 0..20 {
            f.record_change(&spec, t(i * 10_000));
            assert!(!f.suppressed_at(t(i * 10_000)));
        }
    }

    #[test]
    fn the_penalty_is_capped() {
        let spec = FlapDamping::default();
        let mut f = Flap::default();
        for i in 0..1000 {
            f.record_change(&spec, t(i));
        }
        // Ceiling 0.75 × 16 = 12 → release four half-lives (20 s) after
        // the last change, plus a nanosecond.
        assert!(f.release_at() <= t(999 + 20_001), "{}", f.release_at());
    }
}
