//! What the knowledge base stores, as rows, and the [`Converter`] that
//! turns the core's steps (the flight recorder's [`RecordedStep`]s) into
//! them: health as transitions plus periodic keyframes, trees as versions.
//!
//! Pure: no database, no clock. The wall-clock time of each step is passed
//! in, so `sync` (live) and `import` (a recording) produce the same rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{json, Value};
use vigil_diag::{Path, State};
use vigil_discovery::{Advert, AdvertKey, RecordedInput, RecordedStep, RegistryChange};

/// One health sample: a transition, or a keyframe restating the state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthRow {
    /// Wall clock, nanoseconds since the Unix epoch.
    pub t_ns: u64,
    /// The producer whose tree holds the node.
    pub producer: String,
    /// The node.
    pub path: String,
    /// OK, DEGRADED, FAILED or UNKNOWN.
    pub state: String,
    /// Why UNKNOWN (or why the node stopped being known); `None` otherwise.
    pub reason: Option<String>,
    /// The producer's confidence, on the root node; `None` elsewhere.
    pub confidence: Option<f64>,
    /// True for a periodic restatement, false for a transition.
    pub keyframe: bool,
}

/// A routing, registry or recovery event: the flight recorder's decisions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventRow {
    /// Wall clock, nanoseconds since the Unix epoch.
    pub t_ns: u64,
    /// Who saw it: `sync` or `import:FILE`.
    pub source: String,
    /// `added`, `updated`, `health_changed`, `unreachable`, `reachable`,
    /// `removed`, `rejected` or `selection`.
    pub kind: String,
    /// The consumer, for a selection event.
    pub consumer: Option<String>,
    /// The producer it is about, if any.
    pub producer: Option<String>,
    /// The topic it is about, if any.
    pub topic: Option<String>,
    /// The decision as the flight recorder writes it.
    pub body: Value,
}

/// Which producer a consumer follows from `t_ns` on, and why.
///
/// Today these come from selection events (imported recordings of `vigil
/// consume --record`); the route topic consumers are to publish (`vigil
/// consume --id`) fills the same table with `source = 'route_topic'`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteRow {
    /// Wall clock, nanoseconds since the Unix epoch.
    pub t_ns: u64,
    /// The consumer.
    pub consumer: String,
    /// The topic of the producer followed now (or of the one left).
    pub topic: Option<String>,
    /// The producer followed from now on; `None`: no candidate qualifies.
    pub producer: Option<String>,
    /// The producer left.
    pub previous: Option<String>,
    /// Why, as the selection says it.
    pub cause: String,
    /// The head of the fallback chain after the switch (producer ids).
    pub chain: Vec<String>,
    /// Where the route came from.
    pub source: String,
}

/// An advert as received: capabilities as JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdvertRow {
    /// Wall clock, nanoseconds since the Unix epoch.
    pub t_ns: u64,
    /// Producer id.
    pub producer: String,
    /// Topic.
    pub topic: String,
    /// DDS type name.
    pub type_name: String,
    /// The producer's sequence number of this advert.
    pub sequence: u64,
    /// The data writer's GUID, hex.
    pub writer_guid: String,
    /// Capabilities, `{key: "value with unit"}`.
    pub capabilities: Value,
    /// The overall state it advertised.
    pub state: String,
    /// Its diagnostic root, if any.
    pub diagnostic_root: Option<String>,
}

/// A producer's tree as advertised: its root and every node path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeRow {
    /// Wall clock, nanoseconds since the Unix epoch: from when it holds.
    pub t_ns: u64,
    /// Producer id.
    pub producer: String,
    /// Its diagnostic root.
    pub root: Option<String>,
    /// Every node path, sorted.
    pub paths: Vec<String>,
}

/// One row of any table.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "table", rename_all = "snake_case")]
#[allow(missing_docs)] // each variant is its row type
pub enum Row {
    Health(HealthRow),
    Event(EventRow),
    Route(RouteRow),
    Advert(AdvertRow),
    Tree(TreeRow),
}

/// What the converter knows of one producer.
#[derive(Debug, Default)]
struct Known {
    root: Option<Path>,
    /// Node paths of its latest tree.
    paths: BTreeSet<String>,
    /// Last state written per node: (state, reason).
    states: BTreeMap<String, (String, Option<String>)>,
}

/// Turns steps into rows; remembers the last state of every node so that
/// only transitions are written, and can restate everything (a keyframe).
#[derive(Debug)]
pub struct Converter {
    source: String,
    consumer: Option<String>,
    producers: HashMap<String, Known>,
}

impl Converter {
    /// A converter whose events say they came from `source`; selection
    /// events (if any) are routes of `consumer`.
    pub fn new(source: impl Into<String>, consumer: Option<String>) -> Converter {
        Converter {
            source: source.into(),
            consumer,
            producers: HashMap::new(),
        }
    }

    /// The rows of one step, at wall-clock time `t_ns`.
    pub fn step(&mut self, t_ns: u64, step: &RecordedStep) -> Vec<Row> {
        let mut rows = Vec::new();
        if let RecordedInput::Advert { wire, .. } = &step.input {
            // Only adverts the registry took: a rejected one changed nothing.
            let taken = step.changes.iter().any(|c| {
                matches!(c, RegistryChange::Added(k) | RegistryChange::Updated(k)
                    if k.producer == wire.key.producer && k.topic == wire.key.topic)
            });
            if taken {
                if let Ok(advert) = Advert::from_wire(wire) {
                    self.advert(t_ns, &advert, &mut rows);
                }
            }
        }
        for change in &step.changes {
            self.change(t_ns, change, &mut rows);
        }
        for event in &step.events {
            let body = serde_json::to_value(event).unwrap_or(Value::Null);
            let consumer = self.consumer.clone();
            let active = event.active.as_ref().map(|a| &a.key);
            let topic = active.or(event.previous.as_ref()).map(|k| k.topic.clone());
            rows.push(Row::Event(EventRow {
                t_ns,
                source: self.source.clone(),
                kind: "selection".into(),
                consumer: consumer.clone(),
                producer: active.map(|k| k.producer.clone()),
                topic: topic.clone(),
                body,
            }));
            if let Some(consumer) = consumer {
                rows.push(Row::Route(RouteRow {
                    t_ns,
                    consumer,
                    topic,
                    producer: active.map(|k| k.producer.clone()),
                    previous: event.previous.as_ref().map(|k| k.producer.clone()),
                    cause: event.cause.to_string(),
                    chain: event.chain.iter().map(|k| k.producer.clone()).collect(),
                    source: self.source.clone(),
                }));
            }
        }
        rows
    }

    /// Every known producer's tree and every node's current state, as a
    /// keyframe: written periodically, and after a reconnection (rows
    /// dropped while the database was down are then restated).
    pub fn keyframe(&self, t_ns: u64, with_trees: bool) -> Vec<Row> {
        let mut rows = Vec::new();
        for (producer, known) in &self.producers {
            if with_trees && !known.paths.is_empty() {
                rows.push(Row::Tree(TreeRow {
                    t_ns,
                    producer: producer.clone(),
                    root: known.root.as_ref().map(ToString::to_string),
                    paths: known.paths.iter().cloned().collect(),
                }));
            }
            for (path, (state, reason)) in &known.states {
                rows.push(Row::Health(HealthRow {
                    t_ns,
                    producer: producer.clone(),
                    path: path.clone(),
                    state: state.clone(),
                    reason: reason.clone(),
                    confidence: None,
                    keyframe: true,
                }));
            }
        }
        rows
    }

    /// Nodes whose state is remembered (the converter's memory).
    pub fn nodes(&self) -> usize {
        self.producers.values().map(|k| k.states.len()).sum()
    }

    fn advert(&mut self, t_ns: u64, advert: &Advert, rows: &mut Vec<Row>) {
        let producer = advert.key.producer.clone();
        let capabilities: serde_json::Map<String, Value> = advert
            .capabilities
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_string())))
            .collect();
        let root = advert
            .diagnostic_root
            .clone()
            .or_else(|| Path::parse(&producer).ok());
        rows.push(Row::Advert(AdvertRow {
            t_ns,
            producer: producer.clone(),
            topic: advert.key.topic.clone(),
            type_name: advert.type_name.clone(),
            sequence: advert.sequence,
            writer_guid: advert
                .writer_guid
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            capabilities: Value::Object(capabilities),
            state: advert.health.state.as_str().into(),
            diagnostic_root: advert.diagnostic_root.as_ref().map(ToString::to_string),
        }));
        let known = self.producers.entry(producer.clone()).or_default();
        let mut paths: BTreeSet<String> = advert
            .health
            .nodes
            .keys()
            .map(ToString::to_string)
            .collect();
        if let Some(root) = &root {
            paths.insert(root.to_string());
        }
        if paths != known.paths || root != known.root {
            known.paths = paths.clone();
            known.root = root.clone();
            rows.push(Row::Tree(TreeRow {
                t_ns,
                producer: producer.clone(),
                root: root.as_ref().map(ToString::to_string),
                paths: paths.into_iter().collect(),
            }));
        }
        for (path, state) in &advert.health.nodes {
            transition(
                known,
                &producer,
                t_ns,
                path.to_string(),
                *state,
                None,
                None,
                rows,
            );
        }
        if let Some(root) = root {
            let h = &advert.health;
            let reason = h.reason.map(|r| r.as_str().to_owned());
            transition(
                known,
                &producer,
                t_ns,
                root.to_string(),
                h.state,
                reason,
                Some(h.confidence),
                rows,
            );
        }
    }

    fn change(&mut self, t_ns: u64, change: &RegistryChange, rows: &mut Vec<Row>) {
        let (kind, key): (&str, Option<&AdvertKey>) = match change {
            RegistryChange::Added(k) => ("added", Some(k)),
            RegistryChange::Updated(k) => ("updated", Some(k)),
            RegistryChange::HealthChanged { key, .. } => ("health_changed", Some(key)),
            RegistryChange::Unreachable(k) => ("unreachable", Some(k)),
            RegistryChange::Reachable(k) => ("reachable", Some(k)),
            RegistryChange::Removed(k) => ("removed", Some(k)),
            RegistryChange::Rejected { .. } => ("rejected", None),
            // A kind added later: recorded as an event all the same.
            #[allow(unreachable_patterns)]
            _ => ("other", change.key()),
        };
        // An update says nothing an advert row does not: not an event.
        if kind != "updated" {
            rows.push(Row::Event(EventRow {
                t_ns,
                source: self.source.clone(),
                kind: kind.into(),
                consumer: None,
                producer: key.map(|k| k.producer.clone()),
                topic: key.map(|k| k.topic.clone()),
                body: serde_json::to_value(change).unwrap_or(Value::Null),
            }));
        }
        match change {
            // A heartbeat's state: the root's. UNKNOWN comes with its reason
            // from the advert or the lease (`Unreachable`), not from here.
            RegistryChange::HealthChanged { key, new, .. } if *new != State::Unknown => {
                if let Some(known) = self.producers.get_mut(&key.producer) {
                    if let Some(root) = known.root.as_ref().map(ToString::to_string) {
                        let same = known.states.get(&root).is_some_and(|s| s.0 == new.as_str());
                        if !same {
                            transition(known, &key.producer, t_ns, root, *new, None, None, rows);
                        }
                    }
                }
            }
            RegistryChange::Unreachable(key) => {
                self.unknown_all(t_ns, &key.producer, "unreachable", rows)
            }
            RegistryChange::Removed(key) => {
                self.unknown_all(t_ns, &key.producer, "removed", rows);
                // Forgotten: if it comes back, its first states are written.
                self.producers.remove(&key.producer);
            }
            _ => {}
        }
    }

    /// A producer no longer heard: every node of its tree is UNKNOWN.
    fn unknown_all(&mut self, t_ns: u64, producer: &str, reason: &str, rows: &mut Vec<Row>) {
        if let Some(known) = self.producers.get_mut(producer) {
            let paths: Vec<String> = known.paths.iter().cloned().collect();
            for path in paths {
                transition(
                    known,
                    producer,
                    t_ns,
                    path,
                    State::Unknown,
                    Some(reason.to_owned()),
                    None,
                    rows,
                );
            }
        }
    }
}

/// Writes a health row when `path`'s state or reason differs from the last
/// one written.
#[allow(clippy::too_many_arguments)] // one call shape, four callers
fn transition(
    known: &mut Known,
    producer: &str,
    t_ns: u64,
    path: String,
    state: State,
    reason: Option<String>,
    confidence: Option<f64>,
    rows: &mut Vec<Row>,
) {
    let state = state.as_str().to_owned();
    let now = (state, reason);
    if known.states.get(&path) == Some(&now) {
        return;
    }
    known.states.insert(path.clone(), now.clone());
    rows.push(Row::Health(HealthRow {
        t_ns,
        producer: producer.to_owned(),
        path,
        state: now.0,
        reason: now.1,
        confidence,
        keyframe: false,
    }));
}
