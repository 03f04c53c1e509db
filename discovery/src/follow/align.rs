//! Source timestamps of several hosts on the consumer's own clock (issue
//! 14): a hot standby orders the standby's samples against the last one
//! delivered, and a switch counts what it lost, by source timestamp. With
//! producers on hosts whose clocks disagree, comparing their raw stamps
//! replayed seconds of duplicates (standby ahead) or dropped the whole
//! buffer as "already covered" (standby behind).
//!
//! # Rule
//!
//! Per writer, the offset `reception - source` is estimated by its minimum
//! over recent samples (the NTP idea: the least-delayed sample shows the
//! clock difference plus the path's minimum delay), and a stamp is moved
//! by that offset. Aligned stamps of two writers then differ from the
//! truth by the difference of their paths' minimum one-way delays (well
//! under a millisecond on one Ethernet), whatever their clocks say. The
//! minimum is taken over two windows of [`Align::WINDOW`] so a clock that
//! is stepped (NTP correcting it) is followed within two windows.

use std::collections::HashMap;

/// One writer's estimate.
#[derive(Clone, Copy, Debug)]
struct Estimate {
    /// Minimum offset in the current window, nanoseconds.
    current: i128,
    /// Minimum offset in the previous window.
    previous: i128,
    /// When (reception time) the current window began.
    since: u64,
}

impl Estimate {
    fn offset(&self) -> i128 {
        self.current.min(self.previous)
    }
}

/// Maps each writer's source timestamps onto the receiver's clock.
#[derive(Clone, Debug, Default)]
pub(crate) struct Align {
    // One entry per writer heard on the consumer's topics: bounded by the
    // producers there.
    writers: HashMap<[u8; 16], Estimate>,
}

impl Align {
    /// How long one window of the minimum lasts, nanoseconds (2 s).
    pub(crate) const WINDOW: u64 = 2_000_000_000;

    /// An aligner that has seen nothing.
    pub(crate) fn new() -> Align {
        Align::default()
    }

    /// The source stamp `source_ns` of writer `guid`, received at
    /// `received_ns` (both nanoseconds since the Unix epoch, on their own
    /// hosts' clocks), as a time on the receiver's clock.
    pub(crate) fn align(&mut self, guid: [u8; 16], source_ns: u64, received_ns: u64) -> u64 {
        let offset = i128::from(received_ns) - i128::from(source_ns);
        let estimate = self.writers.entry(guid).or_insert(Estimate {
            current: offset,
            previous: offset,
            since: received_ns,
        });
        if received_ns.saturating_sub(estimate.since) >= Self::WINDOW {
            estimate.previous = estimate.current;
            estimate.current = offset;
            estimate.since = received_ns;
        } else {
            estimate.current = estimate.current.min(offset);
        }
        let aligned = i128::from(source_ns) + estimate.offset();
        u64::try_from(aligned.max(0)).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: u64 = 1_000_000;
    const T0: u64 = 1_795_000_000_000_000_000;

    #[test]
    fn two_writers_with_clocks_five_seconds_apart_line_up() {
        let mut align = Align::new();
        let (a, b) = ([1; 16], [2; 16]);
        // Both sample at the same instants; b's clock is 5 s ahead; delays
        // vary between 0.2 and 3 ms.
        let mut last = (0, 0);
        for i in 0..100u64 {
            let truth = T0 + i * 10 * MS;
            let delay_a = 200_000 + (i * 7 % 11) * 250_000;
            let delay_b = 200_000 + (i * 5 % 13) * 200_000;
            let ta = align.align(a, truth, truth + delay_a);
            let tb = align.align(b, truth + 5_000 * MS, truth + delay_b);
            last = (ta, tb);
        }
        let diff = last.0.abs_diff(last.1);
        assert!(diff < MS, "aligned stamps {diff} ns apart");
    }

    #[test]
    fn a_stepped_clock_is_followed_within_two_windows() {
        let mut align = Align::new();
        let g = [3; 16];
        let mut now = T0;
        let mut aligned = 0;
        // The writer's clock is stepped 1 s back after 1 s.
        for i in 0..600u64 {
            now += 10 * MS;
            let step = if i >= 100 { 1_000 * MS } else { 0 };
            aligned = align.align(g, now - step, now + MS);
        }
        assert!(
            aligned.abs_diff(now) <= MS,
            "{} ns off",
            aligned.abs_diff(now)
        );
    }

    proptest! {
        #[test]
        fn aligned_order_of_one_writer_is_its_source_order(
            stamps in prop::collection::vec((0u64..1_000_000_000, 0u64..5_000_000), 1..50),
            skew in -10_000_000_000i64..10_000_000_000,
        ) {
            let mut align = Align::new();
            let mut sorted = stamps.clone();
            sorted.sort();
            let mut previous = None;
            for (source, delay) in sorted {
                let received = T0 + source + delay;
                let skewed = i128::from(T0 + source) + i128::from(skew);
                let t = align.align([9; 16], u64::try_from(skewed).unwrap_or(0), received);
                // Never later than the reception: the minimum delay is >= 0.
                prop_assert!(t <= received);
                if let Some(p) = previous {
                    // Within one window the offset only shrinks, so order
                    // holds up to that shrinkage (at most the delay range).
                    prop_assert!(t + 5_000_000 >= p);
                }
                previous = Some(t);
            }
        }
    }
}
