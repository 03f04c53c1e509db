//! What of the DDS registry has to be (re)published on Zenoh: a diff of
//! registry snapshots. Pure: the shell takes a snapshot, asks what changed,
//! and puts, declares or undeclares accordingly.
//!
//! The registry is read by snapshot rather than by its change events
//! because the selector that owns it (`Selector::registry_only`, as
//! `vigil monitor` uses) does not publish them; a snapshot every few
//! milliseconds costs one `Arc` clone per advert, and the diff below is
//! what makes the Zenoh side incremental.

use std::collections::{HashMap, HashSet};
use std::fmt;

use vigil_diag::{State, Trend, UnknownReason};
use vigil_discovery::{AdvertKey, EntryView};

/// Why a DDS producer's liveliness token is withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gone {
    /// Its lease expired (no heartbeat): the registry holds it UNKNOWN.
    Unreachable,
    /// It was disposed (clean exit) or stayed unreachable for the grace.
    Removed,
}

impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Gone::Unreachable => "unreachable (lease expired)",
            Gone::Removed => "removed (advert disposed or grace expired)",
        })
    }
}

/// One thing to do on Zenoh.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Export {
    /// Put its advert (new, changed, or its health changed).
    Put(EntryView),
    /// Declare its liveliness token (it is new and reachable, or reachable
    /// again).
    Up(AdvertKey),
    /// Undeclare its token.
    Down(AdvertKey, Gone),
    /// It left the registry: delete its advert key (its token, if any, was
    /// withdrawn by a `Down` just before).
    Delete(AdvertKey),
}

/// What was last published of one entry.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    sequence: u64,
    writer_guid: [u8; 16],
    state: State,
    reason: Option<UnknownReason>,
    trend: Trend,
    /// Confidence in thousandths: finer changes are not worth a put.
    confidence: i64,
    reachable: bool,
}

impl Seen {
    fn of(view: &EntryView) -> Seen {
        Seen {
            sequence: view.advert.sequence,
            writer_guid: view.advert.writer_guid,
            state: view.health.state,
            reason: view.health.reason,
            trend: view.health.trend,
            confidence: (view.health.confidence * 1000.0).round() as i64,
            reachable: view.reachable,
        }
    }
}

/// The entries published so far.
#[derive(Debug, Default)]
pub(crate) struct Exported {
    seen: HashMap<AdvertKey, Seen>,
}

impl Exported {
    /// Compares `snapshot` (entries `skip` says are not exported left out)
    /// with what was published; returns what to do, in an order that never
    /// shows a token without its advert: puts before `Up`, `Down` before
    /// `Delete`.
    pub(crate) fn diff(
        &mut self,
        snapshot: &[EntryView],
        skip: impl Fn(&EntryView) -> bool,
    ) -> Vec<Export> {
        let mut out = Vec::new();
        let mut present = HashSet::with_capacity(snapshot.len());
        for view in snapshot {
            if skip(view) {
                continue;
            }
            let key = &view.advert.key;
            present.insert(key.clone());
            let now = Seen::of(view);
            match self.seen.get(key) {
                Some(before) if *before == now => {}
                before => {
                    let was_reachable = before.is_some_and(|b| b.reachable);
                    out.push(Export::Put(view.clone()));
                    match (was_reachable, now.reachable) {
                        (false, true) => out.push(Export::Up(key.clone())),
                        (true, false) => out.push(Export::Down(key.clone(), Gone::Unreachable)),
                        _ => {}
                    }
                    self.seen.insert(key.clone(), now);
                }
            }
        }
        let gone: Vec<AdvertKey> = self
            .seen
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if self.seen.remove(&key).is_some_and(|s| s.reachable) {
                out.push(Export::Down(key.clone(), Gone::Removed));
            }
            out.push(Export::Delete(key));
        }
        out
    }

    /// Every entry published and reachable (tokens held), for the shutdown.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &AdvertKey> {
        self.seen.keys()
    }
}

#[cfg(test)]
mod tests {
    use vigil_diag::Timestamp;
    use vigil_discovery::{Registry, RegistryConfig, RegistryInput};

    use super::*;
    use crate::zenoh::testkit::wire;

    fn ms(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    fn kinds(exports: &[Export]) -> Vec<String> {
        exports
            .iter()
            .map(|e| match e {
                Export::Put(v) => format!("put {} {}", v.advert.key.producer, v.health.state),
                Export::Up(k) => format!("up {}", k.producer),
                Export::Down(k, gone) => format!("down {} {gone:?}", k.producer),
                Export::Delete(k) => format!("delete {}", k.producer),
            })
            .collect()
    }

    #[test]
    fn follows_an_entry_from_advert_to_removal() {
        let registry = Registry::new(RegistryConfig {
            grace: std::time::Duration::from_millis(500),
        });
        let mut exported = Exported::default();
        let none = |_: &EntryView| false;
        registry.apply(RegistryInput::Advert(wire("a", 1, 0)), ms(0));
        assert_eq!(
            kinds(&exported.diff(&registry.snapshot(), none)),
            ["put a OK", "up a"]
        );
        // Nothing changed: nothing to do.
        assert!(exported.diff(&registry.snapshot(), none).is_empty());
        // A new advert with another state.
        registry.apply(RegistryInput::Advert(wire("a", 2, 1)), ms(10));
        assert_eq!(
            kinds(&exported.diff(&registry.snapshot(), none)),
            ["put a DEGRADED"]
        );
        // The lease (100 ms) expires: UNKNOWN, token withdrawn.
        registry.tick(ms(200));
        assert_eq!(
            kinds(&exported.diff(&registry.snapshot(), none)),
            ["put a UNKNOWN", "down a Unreachable"]
        );
        // Heard again: back up.
        registry.apply(RegistryInput::Advert(wire("a", 3, 0)), ms(250));
        assert_eq!(
            kinds(&exported.diff(&registry.snapshot(), none)),
            ["put a OK", "up a"]
        );
        // Disposed: token withdrawn and advert deleted.
        registry.apply(RegistryInput::Disposed(AdvertKey::new("a", "imu")), ms(260));
        assert_eq!(
            kinds(&exported.diff(&registry.snapshot(), none)),
            ["down a Removed", "delete a"]
        );
        assert_eq!(exported.keys().count(), 0);
    }

    #[test]
    fn skipped_entries_are_never_exported() {
        let registry = Registry::new(RegistryConfig::default());
        registry.apply(RegistryInput::Advert(wire("a", 1, 0)), ms(0));
        registry.apply(RegistryInput::Advert(wire("proxy", 1, 0)), ms(0));
        let mut exported = Exported::default();
        let skip = |v: &EntryView| v.advert.key.producer == "proxy";
        assert_eq!(
            kinds(&exported.diff(&registry.snapshot(), skip)),
            ["put a OK", "up a"]
        );
    }

    #[test]
    fn an_entry_removed_while_unreachable_is_only_deleted() {
        let registry = Registry::new(RegistryConfig {
            grace: std::time::Duration::from_millis(100),
        });
        let mut exported = Exported::default();
        let none = |_: &EntryView| false;
        registry.apply(RegistryInput::Advert(wire("a", 1, 0)), ms(0));
        exported.diff(&registry.snapshot(), none);
        registry.tick(ms(150));
        exported.diff(&registry.snapshot(), none);
        registry.tick(ms(400));
        assert_eq!(
            kinds(&exported.diff(&registry.snapshot(), none)),
            ["delete a"]
        );
    }
}
