//! Per-producer flap damping, after BGP route-flap damping (RFC 2439).
//!
//! Every change of a producer's effective health state is recorded in a
//! [`FlapPenalty`], the same damping arithmetic vigil-diag's node filter
//! uses: the penalty halves every `half_life`, above `suppress` the producer
//! is suppressed until the penalty decays below `reuse`, and the penalty is
//! capped so suppression ends at most about four half-lives after the
//! flapping stops.

use vigil_diag::{FlapDamping, FlapPenalty, Timestamp};

/// The damping state of one producer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flap {
    penalty: FlapPenalty,
    /// Whether this suppression episode was already counted in
    /// `flaps_suppressed`.
    pub(crate) counted: bool,
}

impl Flap {
    /// Its state as plain values: the penalty's parts and `counted`.
    pub(crate) fn parts(&self) -> ((f64, Timestamp, bool, Timestamp), bool) {
        (self.penalty.parts(), self.counted)
    }

    /// The state [`Flap::parts`] gave, back.
    pub(crate) fn from_parts(
        (penalty, at, suppressed, release_at): (f64, Timestamp, bool, Timestamp),
        counted: bool,
    ) -> Flap {
        Flap {
            penalty: FlapPenalty::from_parts(penalty, at, suppressed, release_at),
            counted,
        }
    }

    /// Records one health-state change at `now`.
    pub(crate) fn record_change(&mut self, spec: &FlapDamping, now: Timestamp) {
        if self.penalty.record_change(spec, now) {
            self.counted = false;
        }
    }

    /// Whether the producer is suppressed at `now`.
    pub(crate) fn suppressed_at(&self, now: Timestamp) -> bool {
        self.penalty.suppressed_at(now)
    }

    /// When the current suppression ends (meaningful while suppressed).
    pub(crate) fn release_at(&self) -> Timestamp {
        self.penalty.release_at().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    // The damping arithmetic is tested in vigil-diag; here only what this
    // wrapper adds: a new suppression episode is counted afresh.
    #[test]
    fn a_new_episode_is_counted_again() {
        let spec = FlapDamping::default();
        let mut f = Flap::default();
        for i in 0..3 {
            f.record_change(&spec, t(i * 10));
        }
        assert!(f.suppressed_at(t(20)));
        f.counted = true;
        f.record_change(&spec, t(30));
        assert!(f.counted, "the same episode stays counted");
        let release = f.release_at();
        for i in 0..3 {
            f.record_change(&spec, release + std::time::Duration::from_millis(i * 10));
        }
        assert!(!f.counted, "a later episode is counted again");
    }
}
