//! Combining several observers' reports on one shared component (issue 4
//! item 7): a power bus seen by every unit it feeds, a sensor read by two
//! computers.
//!
//! # Rule
//!
//! 1. Each observer counts once. An observer that reports the same path
//!    several times (one producer, several topics) counts with its worst
//!    report: a producer contradicting itself is not trusted for the better
//!    half.
//! 2. Fewer distinct observers than `quorum` (at least 1): UNKNOWN
//!    (`no_data`). Too few witnesses decide nothing.
//! 3. A state reported by a strict majority of the observers decides, as in
//!    k-of-n voting for redundant units (REFERENCES.md "Health aggregation
//!    practice": ArduPilot's 2 of 3). A majority of UNKNOWN reports gives
//!    UNKNOWN (`no_data`): most witnesses have nothing determinate to say.
//! 4. Otherwise the disagreement cannot be settled: UNKNOWN
//!    (`conflicting`). In particular a split between OK and anything else
//!    is never OK.

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_diag::{State, UnknownReason};

/// The combined view of a shared component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Combined {
    /// The decided state.
    pub state: State,
    /// Why, when `state` is UNKNOWN.
    pub reason: Option<UnknownReason>,
    /// How many distinct observers reported `state` when a majority decided;
    /// the size of the largest group of identical reports when none did
    /// (0 when nobody reported).
    pub agreeing: usize,
}

/// Combines `(observer, state)` reports by majority (see the module doc).
pub fn combine_reports<O: AsRef<str>>(reports: &[(O, State)], quorum: usize) -> Combined {
    let mut by_observer: BTreeMap<&str, State> = BTreeMap::new();
    for (observer, state) in reports {
        let slot = by_observer.entry(observer.as_ref()).or_insert(*state);
        *slot = (*slot).max(*state);
    }
    let mut counts = [0usize; 4];
    for state in by_observer.values() {
        counts[*state as usize] += 1;
    }
    let observers = by_observer.len();
    let largest = counts.iter().copied().max().unwrap_or(0);
    if observers < quorum.max(1) {
        return Combined {
            state: State::Unknown,
            reason: Some(UnknownReason::NoData),
            agreeing: largest,
        };
    }
    match State::ALL
        .into_iter()
        .find(|s| counts[*s as usize] * 2 > observers)
    {
        Some(State::Unknown) => Combined {
            state: State::Unknown,
            reason: Some(UnknownReason::NoData),
            agreeing: largest,
        },
        Some(state) => Combined {
            state,
            reason: None,
            agreeing: largest,
        },
        None => Combined {
            state: State::Unknown,
            reason: Some(UnknownReason::Conflicting),
            agreeing: largest,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    fn combine(reports: &[(&str, State)], quorum: usize) -> (State, Option<UnknownReason>, usize) {
        let c = combine_reports(reports, quorum);
        (c.state, c.reason, c.agreeing)
    }

    #[test]
    fn majority_decides() {
        assert_eq!(
            combine(&[("a", Ok), ("b", Ok), ("c", Failed)], 2),
            (Ok, None, 2)
        );
        assert_eq!(
            combine(&[("a", Failed), ("b", Failed), ("c", Ok)], 1),
            (Failed, None, 2)
        );
        assert_eq!(combine(&[("a", Degraded)], 1), (Degraded, None, 1));
    }

    #[test]
    fn unsettled_disagreement_is_conflicting_never_ok() {
        let conflicting = Some(UnknownReason::Conflicting);
        assert_eq!(
            combine(&[("a", Ok), ("b", Failed)], 1),
            (Unknown, conflicting, 1)
        );
        assert_eq!(
            combine(&[("a", Ok), ("b", Degraded), ("c", Failed)], 1),
            (Unknown, conflicting, 1)
        );
        assert_eq!(
            combine(&[("a", Ok), ("b", Ok), ("c", Unknown), ("d", Unknown)], 1),
            (Unknown, conflicting, 2)
        );
    }

    #[test]
    fn below_quorum_is_no_data() {
        let no_data = Some(UnknownReason::NoData);
        assert_eq!(combine(&[], 1), (Unknown, no_data, 0));
        assert_eq!(combine(&[], 0), (Unknown, no_data, 0));
        assert_eq!(combine(&[("a", Ok), ("b", Ok)], 3), (Unknown, no_data, 2));
    }

    #[test]
    fn an_observer_counts_once_with_its_worst_report() {
        // "a" says OK on one topic and FAILED on another: one FAILED vote.
        assert_eq!(
            combine(&[("a", Ok), ("a", Failed), ("b", Failed)], 2),
            (Failed, None, 2)
        );
        assert_eq!(
            combine(&[("a", Ok), ("a", Ok)], 2),
            (Unknown, Some(UnknownReason::NoData), 1)
        );
    }

    #[test]
    fn unknown_majority_is_unknown() {
        assert_eq!(
            combine(&[("a", Unknown), ("b", Unknown), ("c", Ok)], 1),
            (Unknown, Some(UnknownReason::NoData), 2)
        );
    }

    #[test]
    fn never_ok_without_an_ok_majority() {
        // Exhaustive over three observers.
        for a in State::ALL {
            for b in State::ALL {
                for c in State::ALL {
                    let reports = [("a", a), ("b", b), ("c", c)];
                    let oks = reports.iter().filter(|(_, s)| *s == Ok).count();
                    let out = combine_reports(&reports, 1);
                    assert_eq!(out.state == Ok, oks >= 2, "{reports:?} -> {out:?}");
                }
            }
        }
    }
}
