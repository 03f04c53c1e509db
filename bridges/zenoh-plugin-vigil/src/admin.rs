//! The plugin's status in the router's admin space, `@/<zid>/vigil/**`:
//! `status` (what the bridge routes now, from its events), `version`
//! (what the plugin was built for: [`PluginInfo`]) and `config` (the
//! section it runs with). Kept from the bridge's events, so a query costs
//! a lock and a serialization, never a turn of the bridge's loop.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde_json::{json, Value};
use vigil_bridges::zenoh::{BridgeEvent, BridgeStats, PluginInfo, ProducerState};

/// What the bridge is doing, as its events said.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Status {
    /// `starting`, `running`, `stopped` or `failed`.
    state: &'static str,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The DDS domain.
    domain: u16,
    /// The key prefix.
    key_prefix: String,
    /// The bridged topics.
    topics: Vec<String>,
    /// Zenoh producers advertised on DDS, by id: their topic.
    zenoh_producers: BTreeMap<String, String>,
    /// DDS producers whose token is on Zenoh, by id: their topic.
    dds_producers: BTreeMap<String, String>,
    /// Followed streams by data key: query, producer followed now.
    followed: BTreeMap<String, Followed>,
    /// Events seen since the start.
    events: u64,
    /// The counters, once the bridge has stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<BridgeStats>,
}

/// One followed stream, as the admin space shows it.
#[derive(Debug, Default, Serialize)]
struct Followed {
    query: String,
    declared_by: String,
    producer: Option<String>,
    switches: u64,
}

impl Status {
    /// Before the bridge's first event.
    pub(crate) fn starting(domain: u16, key_prefix: &str) -> Status {
        Status {
            state: "starting",
            domain,
            key_prefix: key_prefix.to_owned(),
            ..Status::default()
        }
    }

    /// Applies one of the bridge's events.
    pub(crate) fn apply(&mut self, event: &BridgeEvent) {
        self.events += 1;
        let track = |map: &mut BTreeMap<String, String>, p: &str, t: &str, s: &ProducerState| {
            match s {
                ProducerState::Down => map.remove(p),
                ProducerState::Up | ProducerState::Updated => {
                    map.insert(p.to_owned(), t.to_owned())
                }
            };
        };
        match event {
            BridgeEvent::Ready { topics, .. } => {
                self.state = "running";
                self.topics.clone_from(topics);
            }
            BridgeEvent::ZenohProducer {
                producer,
                topic,
                state,
                ..
            } => track(&mut self.zenoh_producers, producer, topic, state),
            BridgeEvent::DdsProducer {
                producer,
                topic,
                state,
                ..
            } => track(&mut self.dds_producers, producer, topic, state),
            BridgeEvent::Following {
                key,
                query,
                declared_by,
                ..
            } => {
                let entry = self.followed.entry(key.clone()).or_default();
                entry.query.clone_from(query);
                entry.declared_by.clone_from(declared_by);
            }
            BridgeEvent::Unfollowed { key, .. } => {
                self.followed.remove(key);
            }
            BridgeEvent::Switched { key, producer, .. } => {
                let entry = self.followed.entry(key.clone()).or_default();
                entry.producer.clone_from(producer);
                entry.switches += 1;
            }
            BridgeEvent::Stopped { stats } => {
                self.state = "stopped";
                self.stats = Some(*stats);
            }
            _ => {}
        }
    }

    /// The bridge ended with an error.
    pub(crate) fn failed(&mut self, error: String) {
        self.state = "failed";
        self.error = Some(error);
    }
}

/// The admin space's answers, shared between the bridge's sink and the
/// queryable's callback.
#[derive(Clone, Debug)]
pub(crate) struct Admin {
    status: Arc<Mutex<Status>>,
    config: Arc<Value>,
}

impl Admin {
    /// The admin space of a bridge starting with `config`.
    pub(crate) fn new(status: Status, config: Value) -> Admin {
        Admin {
            status: Arc::new(Mutex::new(status)),
            config: Arc::new(config),
        }
    }

    /// Changes the status. A panic elsewhere while it was held leaves a
    /// status that is still worth showing.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Status)) {
        change(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Each admin key under `root` (`@/<zid>/vigil`) and its value.
    pub(crate) fn entries(&self, root: &str) -> Vec<(String, Value)> {
        let status = {
            let status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
            serde_json::to_value(&*status).unwrap_or_else(|e| json!({ "error": e.to_string() }))
        };
        let version = serde_json::to_value(PluginInfo::current())
            .unwrap_or_else(|e| json!({ "error": e.to_string() }));
        vec![
            (format!("{root}/status"), status),
            (format!("{root}/version"), version),
            (format!("{root}/config"), (*self.config).clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_follows_the_bridges_events() {
        let admin = Admin::new(Status::starting(160, "vigil"), json!({"domain": 160}));
        admin.update(|s| {
            s.apply(&BridgeEvent::Ready {
                listen: vec![],
                connect: vec![],
                domain: 160,
                key_prefix: "vigil".into(),
                topics: vec!["imu".into()],
                zid: "1".into(),
            });
            s.apply(&BridgeEvent::Following {
                key: "vigil/followed/imu_best".into(),
                switches: "vigil/switches/imu_best".into(),
                query: "imu".into(),
                declared_by: "config".into(),
            });
            s.apply(&BridgeEvent::Switched {
                key: "vigil/followed/imu_best".into(),
                producer: Some("a".into()),
                origin: None,
                previous: None,
                cause: "first".into(),
            });
        });
        let entries = admin.entries("@/z/vigil");
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["@/z/vigil/status", "@/z/vigil/version", "@/z/vigil/config"]
        );
        let status = &entries[0].1;
        assert_eq!(status["state"], "running", "{status}");
        assert_eq!(status["topics"][0], "imu", "{status}");
        let followed = &status["followed"]["vigil/followed/imu_best"];
        assert_eq!(followed["producer"], "a", "{status}");
        assert_eq!(followed["switches"], 1, "{status}");
        assert_eq!(entries[1].1["plugin"], "vigil");
    }
}
