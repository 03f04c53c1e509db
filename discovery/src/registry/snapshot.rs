//! The registry's state as plain data, and back: what a recording's later
//! segment starts from (see [`crate::CoreSnapshot`]).
//!
//! Only what decides something is kept: each entry as it stands (its
//! advert as the wire carries it), the time, the isolations. The indexes
//! (producers' topics, the deadline queue, node reports) are rebuilt from
//! the entries as the registry itself builds them; the counters are not
//! decisions and start again at zero.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vigil_diag::{State, Timestamp};
use vigil_qos::Capabilities;

use super::{Entry, Registry, RegistryConfig};
use crate::advert::{Advert, AdvertKey};
use crate::wire::AdvertWire;

/// One entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct EntrySnapshot {
    advert: AdvertWire,
    heartbeat_state: Option<State>,
    last_heard: Timestamp,
    reachable: bool,
    deadline: Timestamp,
    last_heartbeat: Option<u64>,
    sender: Option<[u8; 16]>,
    failed_on_behalf: Option<String>,
    isolated: Option<String>,
}

/// The registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RegistrySnapshot {
    now: Timestamp,
    isolated: BTreeMap<String, String>,
    /// Capability overrides per producer, in vigil-qos's CDR encoding
    /// (absent in snapshots written before they existed).
    #[serde(default)]
    overrides: BTreeMap<String, Vec<u8>>,
    entries: Vec<EntrySnapshot>,
}

impl Registry {
    /// Its state now.
    pub(crate) fn save(&self) -> RegistrySnapshot {
        let inner = self.lock();
        let mut entries: Vec<(AdvertKey, EntrySnapshot)> = self
            .entries
            .iter()
            .map(|e| {
                let entry = e.value();
                let snapshot = EntrySnapshot {
                    advert: entry.advert.to_wire(),
                    heartbeat_state: entry.heartbeat_state,
                    last_heard: entry.last_heard,
                    reachable: entry.reachable,
                    deadline: entry.deadline,
                    last_heartbeat: entry.last_heartbeat,
                    sender: entry.sender,
                    failed_on_behalf: entry.failed_on_behalf.as_deref().map(str::to_owned),
                    isolated: entry.isolated.as_deref().map(str::to_owned),
                };
                (e.key().clone(), snapshot)
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        RegistrySnapshot {
            now: inner.now,
            isolated: inner
                .isolated
                .iter()
                .map(|(p, r)| (p.clone(), r.to_string()))
                .collect(),
            overrides: inner
                .overrides
                .iter()
                .map(|(p, o)| (p.clone(), o.encode_cdr()))
                .collect(),
            entries: entries.into_iter().map(|(_, e)| e).collect(),
        }
    }

    /// A registry in the state `snapshot` holds. An advert that does not
    /// decode (a snapshot from another version, or damaged) is an error
    /// naming it.
    pub(crate) fn restore(
        config: RegistryConfig,
        snapshot: &RegistrySnapshot,
    ) -> Result<Registry, String> {
        let registry = Registry::new(config);
        {
            let mut inner = registry.lock();
            inner.now = snapshot.now;
            inner.isolated = snapshot
                .isolated
                .iter()
                .map(|(p, r)| (p.clone(), Arc::from(r.as_str())))
                .collect();
            for (producer, bytes) in &snapshot.overrides {
                let values = Capabilities::decode_cdr(bytes).map_err(|error| {
                    format!("the snapshot's capability override of {producer}: {error}")
                })?;
                inner.overrides.insert(producer.clone(), Arc::new(values));
            }
            for e in &snapshot.entries {
                let advert = Advert::from_wire(&e.advert).map_err(|error| {
                    format!(
                        "the snapshot's advert {}/{}: {error}",
                        e.advert.key.producer, e.advert.key.topic
                    )
                })?;
                let key = advert.key.clone();
                let entry = Entry {
                    advert: Arc::new(advert),
                    heartbeat_state: e.heartbeat_state,
                    last_heard: e.last_heard,
                    reachable: e.reachable,
                    deadline: e.deadline,
                    last_heartbeat: e.last_heartbeat,
                    sender: e.sender,
                    failed_on_behalf: e.failed_on_behalf.as_deref().map(Arc::from),
                    isolated: e.isolated.as_deref().map(Arc::from),
                    overrides: inner.overrides.get(&key.producer).cloned(),
                    // Not carried (issue 13 met issue 11 at the merge): a
                    // newcomer waiting for the holder to go, and what a
                    // signature proved. Replays run without a trust policy,
                    // and a waiting newcomer is heard again at its next
                    // advert (one a second); a rotation that falls while one
                    // waits may replay that takeover later than recorded.
                    pending: None,
                    proof: None,
                    chain: None,
                };
                inner
                    .by_producer
                    .entry(key.producer.clone())
                    .or_default()
                    .insert(key.topic.clone());
                inner.deadlines.insert((entry.deadline, key.clone()));
                registry.reports.add(&entry.advert);
                if entry.reachable {
                    registry.reachable.fetch_add(1, Ordering::Relaxed);
                } else {
                    registry.reports.silence(&entry.advert);
                }
                registry.entries.insert(key, entry);
            }
        }
        Ok(registry)
    }
}
