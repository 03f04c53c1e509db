//! Shared helpers of the sans-IO core tests: adverts, and a simulated
//! world where producers heartbeat on their own while time is advanced.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use vigil_diag::{Path, State, Timestamp, Trend, UnknownReason};
use vigil_discovery::{
    Advert, AdvertKey, HealthSummary, Heartbeat, Registry, RegistryConfig, RegistryInput,
    Selection, SelectionEvent, SwitchCause, SwitchPolicy,
};
use vigil_qos::{Capabilities, QosPolicies, Query, Value};

/// `ms` milliseconds after the origin.
pub fn t(ms: u64) -> Timestamp {
    Timestamp::from_nanos(ms * 1_000_000)
}

pub fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A writer GUID derived from the producer id (and an incarnation).
pub fn guid(producer: &str, incarnation: u8) -> [u8; 16] {
    let mut g = [0u8; 16];
    for (i, b) in producer.bytes().enumerate() {
        g[i % 15] ^= b;
    }
    g[15] = incarnation;
    g
}

pub fn caps(pairs: &[(&str, &str)]) -> Capabilities {
    let mut c = Capabilities::new();
    for (k, v) in pairs {
        let value = Value::parse_capability(v).expect("test capability value");
        c.insert(k, value).expect("test capability key");
    }
    c
}

/// An OK advert, sequence 1, heartbeat 20 ms, lease 100 ms.
pub fn advert(producer: &str, topic: &str, capabilities: &[(&str, &str)]) -> Advert {
    Advert {
        key: AdvertKey::new(producer, topic),
        type_name: "sensor_msgs::msg::dds_::Imu_".into(),
        writer_guid: guid(producer, 0),
        capabilities: caps(capabilities),
        qos: QosPolicies::default(),
        diagnostic_root: None,
        health: HealthSummary {
            state: State::Ok,
            reason: None,
            confidence: 1.0,
            trend: Trend::Stable,
            nodes: BTreeMap::new(),
        },
        heartbeat_period: ms(20),
        lease: ms(100),
        sequence: 1,
        timestamp_ns: 0,
        supervisor: None,
    }
}

/// Sets the overall state (with a reason when UNKNOWN).
pub fn set_state(a: &mut Advert, state: State) {
    a.health.state = state;
    a.health.reason = (state == State::Unknown).then_some(UnknownReason::NoData);
}

pub fn path(text: &str) -> Path {
    Path::parse(text).expect("test path")
}

/// A registry and one selection, producers that heartbeat every 20 ms on
/// their own while alive, and simulated time.
pub struct Sim {
    pub registry: Registry,
    pub selection: Selection,
    pub now: Timestamp,
    pub events: Vec<SelectionEvent>,
    /// Latest advert of each producer/topic.
    pub adverts: BTreeMap<AdvertKey, Advert>,
    /// Producers that heartbeat, with their next heartbeat sequence.
    pub alive: BTreeMap<String, u64>,
    /// Every heartbeat's state, per producer (overrides the advert's).
    pub heartbeat_state: BTreeMap<String, State>,
    last_heartbeat: Timestamp,
}

impl Sim {
    pub fn new(query: &str, policy: SwitchPolicy) -> Sim {
        let query = Query::parse(query).expect("test query");
        Sim {
            registry: Registry::new(RegistryConfig { grace: ms(500) }),
            selection: Selection::new(&query, policy),
            now: Timestamp::ZERO,
            events: Vec::new(),
            adverts: BTreeMap::new(),
            alive: BTreeMap::new(),
            heartbeat_state: BTreeMap::new(),
            last_heartbeat: Timestamp::ZERO,
        }
    }

    pub fn apply(&mut self, input: RegistryInput) {
        let changes = self.registry.apply(input, self.now);
        if let Some(e) = self
            .selection
            .on_changes(&self.registry, &changes, self.now)
        {
            self.events.push(e);
        }
    }

    /// Publishes `a` (its sequence bumped past the last one) and marks the
    /// producer alive.
    pub fn publish(&mut self, mut a: Advert) {
        let last = self.adverts.get(&a.key).map_or(0, |o| o.sequence);
        a.sequence = a.sequence.max(last + 1);
        self.alive.entry(a.key.producer.clone()).or_insert(1);
        self.heartbeat_state.remove(&a.key.producer);
        self.adverts.insert(a.key.clone(), a.clone());
        self.apply(RegistryInput::Advert(a.to_wire()));
    }

    /// Republishes the held advert of `producer/topic` after `change`.
    pub fn update(&mut self, producer: &str, topic: &str, change: impl FnOnce(&mut Advert)) {
        let key = AdvertKey::new(producer, topic);
        let mut a = self.adverts.get(&key).cloned().expect("published before");
        change(&mut a);
        self.publish(a);
    }

    pub fn state(&mut self, producer: &str, topic: &str, state: State) {
        self.update(producer, topic, |a| set_state(a, state));
    }

    /// The producer stops heartbeating (SIGKILL).
    pub fn kill(&mut self, producer: &str) {
        self.alive.remove(producer);
    }

    /// A heartbeat now carrying `state` (and every later one).
    pub fn heartbeat_with(&mut self, producer: &str, state: State) {
        self.heartbeat_state.insert(producer.to_owned(), state);
        self.send_heartbeat(producer);
    }

    fn send_heartbeat(&mut self, producer: &str) {
        let Some(seq) = self.alive.get_mut(producer) else {
            return;
        };
        *seq += 1;
        let sequence = *seq;
        let advert_sequence = self
            .adverts
            .values()
            .filter(|a| a.key.producer == producer)
            .map(|a| a.sequence)
            .max()
            .unwrap_or(0);
        let state = self
            .heartbeat_state
            .get(producer)
            .copied()
            .unwrap_or_else(|| {
                self.adverts
                    .values()
                    .find(|a| a.key.producer == producer)
                    .map_or(State::Ok, |a| a.health.state)
            });
        let hb = Heartbeat {
            producer: producer.to_owned(),
            topic: String::new(),
            sequence,
            state,
            advert_sequence,
            timestamp_ns: self.now.as_nanos(),
        };
        self.apply(RegistryInput::Heartbeat(hb.to_wire()));
    }

    /// Advances to `target`: heartbeats every 20 ms, registry and selection
    /// deadlines, in time order (heartbeats first at equal times).
    pub fn advance_to(&mut self, target: Timestamp) {
        loop {
            let next_hb = self.last_heartbeat + ms(20);
            let next_dl = [
                self.registry.next_deadline(),
                self.selection.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .filter(|d| *d > self.now)
            .min();
            let next = next_dl.map_or(next_hb, |d| d.min(next_hb)).max(self.now);
            if next > target {
                break;
            }
            self.now = next;
            if next == next_hb {
                self.last_heartbeat = next_hb;
                let producers: Vec<String> = self.alive.keys().cloned().collect();
                for p in producers {
                    self.send_heartbeat(&p);
                }
            }
            let changes = self.registry.tick(self.now);
            if let Some(e) = self
                .selection
                .on_changes(&self.registry, &changes, self.now)
            {
                self.events.push(e);
            }
            if let Some(e) = self.selection.tick(&self.registry, self.now) {
                self.events.push(e);
            }
        }
        self.now = target;
    }

    pub fn advance(&mut self, by: Duration) {
        self.advance_to(self.now + by);
    }

    /// The active producer's id.
    pub fn active(&self) -> Option<String> {
        self.selection.active().map(|a| a.key.producer.clone())
    }

    /// `(time ms, from, to, cause)` of every event so far.
    pub fn switches(&self) -> Vec<(u64, Option<String>, Option<String>, SwitchCause)> {
        self.events
            .iter()
            .map(|e| {
                (
                    e.at.as_nanos() / 1_000_000,
                    e.previous.as_ref().map(|k| k.producer.clone()),
                    e.active.as_ref().map(|a| a.key.producer.clone()),
                    e.cause.clone(),
                )
            })
            .collect()
    }

    pub fn last_event(&self) -> &SelectionEvent {
        self.events.last().expect("an event")
    }
}
