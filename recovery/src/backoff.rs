//! Restart delays: exponential backoff with replayable jitter.
//!
//! The jitter comes from a [`Jitter`] source seeded by the caller (SplitMix64,
//! a few lines and no dependency): the same seed and the same inputs give the
//! same delays, so a recorded run replays exactly.

use std::time::Duration;

use crate::spec::Backoff;

/// A seeded source of jitter (SplitMix64).
#[derive(Clone, Debug)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A source that replays exactly for the same `seed`.
    pub fn new(seed: u64) -> Self {
        Jitter { state: seed }
    }

    /// A uniform value in `[-1, 1]`.
    pub fn next_signed(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits into [0, 1], then onto [-1, 1].
        let unit = (z >> 11) as f64 / ((1u64 << 53) - 1) as f64;
        unit * 2.0 - 1.0
    }
}

impl Backoff {
    /// The delay before consecutive restart number `attempt` (1 for the
    /// first), with `spread` in `[-1, 1]` choosing where in the jitter band
    /// it falls. Never more than `max`, never negative.
    pub fn delay(&self, attempt: u32, spread: f64) -> Duration {
        let initial = self.initial.as_secs_f64();
        let max = self.max.as_secs_f64();
        let multiplier = if self.multiplier.is_finite() {
            self.multiplier.max(1.0)
        } else {
            1.0
        };
        let exponent = attempt.saturating_sub(1).min(1024) as i32;
        let base = (initial * multiplier.powi(exponent)).min(max);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let spread = if spread.is_finite() {
            spread.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let seconds = (base * (1.0 + jitter * spread)).clamp(0.0, max);
        Duration::try_from_secs_f64(seconds).unwrap_or(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn backoff(jitter: f64) -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            multiplier: 2.0,
            jitter,
            reset_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn doubles_up_to_max() {
        let b = backoff(0.0);
        let delays: Vec<_> = (1..=8).map(|n| b.delay(n, 0.0).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn jitter_spreads_both_ways() {
        let b = backoff(0.5);
        assert_eq!(b.delay(1, -1.0), Duration::from_millis(50));
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(150));
        assert_eq!(b.delay(10, 1.0), Duration::from_secs(5));
    }

    #[test]
    fn same_seed_same_jitter() {
        let mut a = Jitter::new(7);
        let mut b = Jitter::new(7);
        for _ in 0..100 {
            let x = a.next_signed();
            assert!((-1.0..=1.0).contains(&x));
            assert_eq!(x, b.next_signed());
        }
    }

    proptest! {
        #[test]
        fn bounded_by_max(
            initial_ms in 0u64..10_000,
            max_ms in 0u64..60_000,
            multiplier in 1.0f64..10.0,
            jitter in 0.0f64..=1.0,
            attempt in 0u32..2_000,
            seed: u64,
        ) {
            let b = Backoff {
                initial: Duration::from_millis(initial_ms),
                max: Duration::from_millis(max_ms),
                multiplier,
                jitter,
                reset_after: Duration::from_secs(1),
            };
            let d = b.delay(attempt, Jitter::new(seed).next_signed());
            prop_assert!(d <= b.max);
        }

        #[test]
        fn never_shrinks_without_jitter(attempt in 1u32..100, multiplier in 1.0f64..4.0) {
            let b = Backoff { multiplier, ..backoff(0.0) };
            prop_assert!(b.delay(attempt, 0.0) <= b.delay(attempt + 1, 0.0));
        }
    }
}
