//! The synthetic sample of `vigil produce`, and the clocks of the shell.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rustdds::Keyed;
use serde::{Deserialize, Serialize};
use vigil_diag::Timestamp;

/// The DDS type name of [`SyntheticSample`].
pub const SYNTHETIC_TYPE: &str = "vigil::demo::Sample_v1";

/// A sample of the synthetic producer (`vigil produce`): enough to measure
/// what a consumer got and what it missed. Keyed by producer, so each
/// producer is its own DDS instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyntheticSample {
    /// The producer id.
    pub producer: String,
    /// 1 for the first sample, +1 per sample: a jump is a lost sample.
    pub seq: u64,
    /// When it was taken, nanoseconds since the Unix epoch (producers and
    /// consumers on one host share this clock).
    pub source_ts_ns: u64,
    /// The producer's sample period in nanoseconds, so a consumer can count
    /// the samples a switch between producers skipped.
    pub period_ns: u64,
}

impl Keyed for SyntheticSample {
    type K = String;

    fn key(&self) -> String {
        self.producer.clone()
    }
}

/// The process-wide origin of the core's clock. A monotonic `Instant`, so
/// leases and timers never jump with the wall clock.
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Now on the core's clock: nanoseconds since this process first asked.
pub fn now() -> Timestamp {
    let nanos = origin().elapsed().as_nanos();
    Timestamp::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The `Instant` of a core timestamp, for `tokio::time::sleep_until`.
pub fn instant_of(at: Timestamp) -> Instant {
    origin() + std::time::Duration::from_nanos(at.as_nanos())
}

/// The environment variable that shifts this process's wall clock by a
/// signed number of milliseconds: a host whose clock is off, in tests of
/// several hosts (network namespaces share the machine's clock).
pub const CLOCK_OFFSET_ENV: &str = "VIGIL_CLOCK_OFFSET_MS";

/// The offset of [`CLOCK_OFFSET_ENV`] in nanoseconds, read once; 0 when
/// unset, and 0 with an error logged when it is not an integer.
fn clock_offset_ns() -> i128 {
    static OFFSET: OnceLock<i128> = OnceLock::new();
    *OFFSET.get_or_init(|| match std::env::var(CLOCK_OFFSET_ENV) {
        Err(_) => 0,
        Ok(text) => match text.trim().parse::<i64>() {
            Ok(ms) => i128::from(ms) * 1_000_000,
            Err(e) => {
                tracing::error!(
                    "{CLOCK_OFFSET_ENV}={text:?} is not a whole number of milliseconds ({e}); \
                     the wall clock is not shifted"
                );
                0
            }
        },
    })
}

/// Now on the wall clock, nanoseconds since the Unix epoch (0 if the clock
/// is set before 1970), shifted by [`CLOCK_OFFSET_ENV`] if set.
pub fn unix_now_ns() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let shifted = i128::try_from(now).unwrap_or(i128::MAX) + clock_offset_ns();
    u64::try_from(shifted.max(0)).unwrap_or(u64::MAX)
}

/// A DDS source timestamp (RTPS 32.32 fixed-point seconds since the Unix
/// epoch) for a time in nanoseconds since the Unix epoch. Pass it to
/// `DataWriter::write`: rustdds sends none unless given one, and a hot
/// standby orders samples by it.
pub fn dds_timestamp(unix_ns: u64) -> rustdds::Timestamp {
    let secs = unix_ns / 1_000_000_000;
    let frac = ((unix_ns % 1_000_000_000) << 32) / 1_000_000_000;
    rustdds::Timestamp::from_ticks((secs << 32) | frac)
}

/// The inverse of [`dds_timestamp`].
pub fn unix_ns_of(ts: rustdds::Timestamp) -> u64 {
    let nanos = (u128::from(ts.to_ticks()) * 1_000_000_000) >> 32;
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dds_timestamps_round_trip_to_the_nanosecond_grain() {
        let t = 1_795_441_948_583_855_400u64;
        let back = unix_ns_of(dds_timestamp(t));
        // 32-bit fractions are 0.23 ns apart; truncation twice loses < 2 ns.
        assert!(t - back < 2, "{t} {back}");
    }

    #[test]
    fn clock_is_monotonic_and_maps_back_to_instants() {
        let a = now();
        let b = now();
        assert!(b >= a);
        let instant = instant_of(b);
        assert!(instant <= Instant::now());
    }
}
