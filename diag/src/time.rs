//! Time as the tree sees it: a point passed in by the caller.
//!
//! The tree never reads a clock. Callers pass a [`Timestamp`] measured from an
//! origin of their choosing (process start, the first event of a replay, the
//! Unix epoch), so evaluation is deterministic and replays reproduce exactly.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time, in nanoseconds from an origin the caller chose.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The origin.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// A timestamp `secs` seconds after the origin; `None` when `secs` is
    /// negative, not finite, or too large for 64-bit nanoseconds (≈ 584 years).
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        let nanos = secs * 1e9;
        // u64::MAX as f64 rounds up, so compare with `<` to stay in range.
        (nanos < u64::MAX as f64).then(|| Timestamp(nanos.round() as u64))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the origin.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The time elapsed from `earlier` to `self`; zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// Saturates at the far end of time instead of overflowing.
    fn add(self, rhs: Duration) -> Timestamp {
        let nanos = u64::try_from(rhs.as_nanos()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(nanos))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;

    /// Saturates at the origin instead of underflowing.
    fn sub(self, rhs: Duration) -> Timestamp {
        let nanos = u64::try_from(rhs.as_nanos()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_sub(nanos))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip() {
        let t = Timestamp::from_secs_f64(1.5).unwrap();
        assert_eq!(t.as_nanos(), 1_500_000_000);
        assert_eq!(t.as_secs_f64(), 1.5);
    }

    #[test]
    fn rejects_negative_and_non_finite_seconds() {
        assert_eq!(Timestamp::from_secs_f64(-0.1), None);
        assert_eq!(Timestamp::from_secs_f64(f64::NAN), None);
        assert_eq!(Timestamp::from_secs_f64(f64::INFINITY), None);
        assert_eq!(Timestamp::from_secs_f64(1e12), None);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_nanos(10);
        assert_eq!(t - Duration::from_nanos(20), Timestamp::ZERO);
        assert_eq!(
            Timestamp::from_nanos(u64::MAX) + Duration::from_secs(1),
            Timestamp::from_nanos(u64::MAX)
        );
        assert_eq!(
            t.saturating_since(Timestamp::from_nanos(20)),
            Duration::ZERO
        );
        assert_eq!(
            Timestamp::from_nanos(30).saturating_since(t),
            Duration::from_nanos(20)
        );
    }
}
