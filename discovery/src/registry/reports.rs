//! [`Reports`]: what every advert (an unreachable one as UNKNOWN) says about each diagnostic
//! path, indexed by path so a shared-component vote costs the number of its
//! observers, not the number of adverts.
//!
//! # Why this shape
//!
//! Most paths have one observer (a producer's own nodes), so the per-path
//! value is what decides the footprint: 1 000 adverts of 10 nodes are
//! 10 000 paths. A `BTreeMap<AdvertKey, State>` per path allocated a whole
//! B-tree leaf (~0.6 kB) plus two key strings for a single report, about
//! 7 MB in all. Here a path holds a `Vec` of `(advert, state)` sorted by
//! advert key: one 16-byte element per observer, and the advert is the
//! registry entry's own `Arc`, so neither the key nor the advert is copied.
//! Lookups by key are binary searches over a handful of observers.

use std::sync::Arc;

use dashmap::DashMap;
use vigil_diag::{Path, State};

use crate::advert::{Advert, AdvertKey};
use crate::vote::{combine_reports, Combined};

/// One observer of a path: the reporting advert and the state it reports.
type Report = (Arc<Advert>, State);

/// Node reports of every entry (UNKNOWN for an unreachable one): path → reports sorted by advert key.
#[derive(Debug, Default)]
pub(super) struct Reports {
    by_path: DashMap<Path, Vec<Report>>,
}

impl Reports {
    /// Records every node `advert` reports (replacing what the same key
    /// reported before on those paths).
    pub(super) fn add(&self, advert: &Arc<Advert>) {
        let key = &advert.key;
        for (path, state) in &advert.health.nodes {
            let report = (Arc::clone(advert), *state);
            // `get_mut` first: the common case (a path already indexed)
            // then costs no clone of the path. No other writer can add the
            // path in between: the registry serializes mutations.
            if let Some(mut reports) = self.by_path.get_mut(path) {
                match position(&reports, key) {
                    Ok(i) => reports[i] = report,
                    Err(i) => reports.insert(i, report),
                }
            } else {
                // `vec![..]` allocates exactly one slot; `Vec::push` on an
                // empty vector would reserve four.
                self.by_path.insert(path.clone(), vec![report]);
            }
        }
    }

    /// Turns every node report of `advert` into UNKNOWN: an observer that
    /// became unreachable still counts in votes until it is removed.
    pub(super) fn silence(&self, advert: &Arc<Advert>) {
        let key = &advert.key;
        for path in advert.health.nodes.keys() {
            if let Some(mut reports) = self.by_path.get_mut(path) {
                if let Ok(i) = position(&reports, key) {
                    reports[i].1 = State::Unknown;
                }
            }
        }
    }

    /// Forgets every node report of `advert`'s key on the paths `advert`
    /// reports; a path nobody reports any more is dropped.
    pub(super) fn remove(&self, advert: &Advert) {
        let key = &advert.key;
        for path in advert.health.nodes.keys() {
            let empty = self.by_path.get_mut(path).is_some_and(|mut reports| {
                if let Ok(i) = position(&reports, key) {
                    reports.remove(i);
                }
                reports.is_empty()
            });
            if empty {
                self.by_path
                    .remove_if(path, |_, reports| reports.is_empty());
            }
        }
    }

    /// The vote of every advert reporting `path` (each producer is
    /// one observer).
    pub(super) fn shared_state(&self, path: &Path, quorum: usize) -> Combined {
        match self.by_path.get(path) {
            Some(reports) => {
                let observers: Vec<(&str, State)> = reports
                    .iter()
                    .map(|(advert, state)| (advert.key.producer.as_str(), *state))
                    .collect();
                combine_reports(&observers, quorum)
            }
            None => combine_reports::<&str>(&[], quorum),
        }
    }

    /// How many adverts report `path` (unreachable ones included).
    pub(super) fn reporters(&self, path: &Path) -> usize {
        self.by_path.get(path).map_or(0, |reports| reports.len())
    }
}

/// Where `key`'s report is (`Ok`) or would go (`Err`) in sorted `reports`.
fn position(reports: &[Report], key: &AdvertKey) -> Result<usize, usize> {
    reports.binary_search_by(|(advert, _)| advert.key.cmp(key))
}
