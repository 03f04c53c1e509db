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
    /// `removed`, `rejected`, `selection`; recovery's `failed_on_behalf`,
    /// `isolated`, `released` and `mode`.
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
        self.recovery(t_ns, &step.input, &mut rows);
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

    /// Recovery's inputs as events: a supervisor saying a dead child's
    /// producers FAILED, an engine isolating or releasing a producer.
    fn recovery(&self, t_ns: u64, input: &RecordedInput, rows: &mut Vec<Row>) {
        let mut event = |kind: &str, producer: &str, body: Value| {
            rows.push(Row::Event(EventRow {
                t_ns,
                source: self.source.clone(),
                kind: kind.to_owned(),
                consumer: None,
                producer: Some(producer.to_owned()),
                topic: None,
                body,
            }));
        };
        match input {
            RecordedInput::FailedOnBehalf { wire, .. } => {
                for producer in &wire.producers {
                    event(
                        "failed_on_behalf",
                        producer,
                        serde_json::json!({"child": wire.child, "reason": wire.reason}),
                    );
                }
            }
            RecordedInput::Isolation { wire } => event(
                if wire.isolated {
                    "isolated"
                } else {
                    "released"
                },
                &wire.producer,
                serde_json::json!({"reason": wire.reason, "by": wire.by}),
            ),
            RecordedInput::CapabilityOverride { wire } => event(
                "capability_override",
                &wire.producer,
                serde_json::json!({
                    "mode": wire.mode,
                    "by": wire.by,
                    "capabilities": vigil_qos::Capabilities::decode_cdr(&wire.capabilities)
                        .map(|c| c.to_string())
                        .unwrap_or_default(),
                }),
            ),
            _ => {}
        }
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

/// The event of a mode change as an engine publishes it (`vigil recover`
/// repeats its mode every second: only a change makes a row, `last` being
/// the mode last written for this engine).
pub fn mode_event(
    source: &str,
    wire: &vigil_discovery::reconfig::ModeWire,
    last: Option<&str>,
) -> Option<EventRow> {
    if last == Some(wire.mode.as_str()) {
        return None;
    }
    Some(EventRow {
        t_ns: wire.timestamp_ns,
        source: source.to_owned(),
        kind: "mode".to_owned(),
        consumer: None,
        producer: None,
        topic: None,
        body: serde_json::json!({"engine": wire.engine, "from": wire.from, "mode": wire.mode, "cause": wire.cause}),
    })
}

/// The row of a consumer's route as it publishes it on the route topic
/// (`vigil consume --id`): its start, then one per switch. `None` when the
/// sample says nothing new for the routes table: its switch count is the
/// `after` last written for this consumer (a restarted consumer counts
/// from zero again, and is written).
pub fn route_row(route: &vigil_discovery::ConsumerRoute, after: Option<u64>) -> Option<RouteRow> {
    if after == Some(route.switches) {
        return None;
    }
    let last = route.last_switch.as_ref();
    Some(RouteRow {
        t_ns: last.map_or(route.timestamp_ns, |s| s.at_ns),
        consumer: route.identity.id.clone(),
        topic: route.active.as_ref().map(|k| k.topic.clone()),
        producer: route.active.as_ref().map(|k| k.producer.clone()),
        previous: last.and_then(|s| s.previous.as_ref().map(|k| k.producer.clone())),
        cause: last.map_or_else(|| "start".to_owned(), |s| s.explanation.clone()),
        chain: route.chain.iter().map(|k| k.producer.clone()).collect(),
        source: "route topic".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use vigil_diag::{Timestamp, Trend};
    use vigil_discovery::HealthSummary;

    use super::*;

    fn advert(leaf: State) -> Advert {
        let mut nodes = BTreeMap::new();
        nodes.insert(Path::parse("p.health").unwrap(), leaf);
        Advert {
            key: AdvertKey::new("p", "imu"),
            type_name: "T".into(),
            writer_guid: [1; 16],
            capabilities: vigil_qos::Capabilities::new(),
            qos: Default::default(),
            diagnostic_root: Path::parse("p").ok(),
            health: HealthSummary {
                state: leaf,
                reason: None,
                confidence: 0.5,
                trend: Trend::Stable,
                nodes,
            },
            heartbeat_period: Duration::from_millis(100),
            lease: Duration::from_millis(300),
            sequence: 1,
            timestamp_ns: 0,
            supervisor: None,
        }
    }

    fn step(input: RecordedInput, changes: Vec<RegistryChange>) -> RecordedStep {
        RecordedStep {
            at: Timestamp::ZERO,
            input,
            changes,
            events: Vec::new(),
            breakers: Vec::new(),
        }
    }

    fn advert_step(leaf: State, first: bool) -> RecordedStep {
        let a = advert(leaf);
        let change = if first {
            RegistryChange::Added(a.key.clone())
        } else {
            RegistryChange::Updated(a.key.clone())
        };
        step(
            RecordedInput::Advert {
                wire: a.to_wire(),
                sender: None,
            },
            vec![change],
        )
    }

    fn health(rows: &[Row]) -> Vec<(String, String, Option<String>, bool)> {
        rows.iter()
            .filter_map(|r| match r {
                Row::Health(h) => Some((
                    h.path.clone(),
                    h.state.clone(),
                    h.reason.clone(),
                    h.keyframe,
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn only_transitions_are_written_and_a_keyframe_restates_them() {
        let mut c = Converter::new("test", None);
        let first = c.step(1, &advert_step(State::Ok, true));
        assert!(first
            .iter()
            .any(|r| matches!(r, Row::Tree(t) if t.paths == ["p", "p.health"])));
        assert_eq!(health(&first).len(), 2);
        // The same advert again: an advert row, no health row, no new tree.
        let again = c.step(2, &advert_step(State::Ok, false));
        assert!(health(&again).is_empty());
        assert!(!again.iter().any(|r| matches!(r, Row::Tree(_))));
        let failed = c.step(3, &advert_step(State::Failed, false));
        assert_eq!(
            health(&failed),
            vec![
                ("p.health".into(), "FAILED".into(), None, false),
                ("p".into(), "FAILED".into(), None, false)
            ]
        );
        let key = c.keyframe(4, false);
        assert_eq!(health(&key).len(), 2);
        assert!(health(&key).iter().all(|h| h.3 && h.1 == "FAILED"));
    }

    #[test]
    fn an_unreachable_producer_makes_every_node_unknown_and_removal_forgets_it() {
        let mut c = Converter::new("test", None);
        c.step(1, &advert_step(State::Ok, true));
        let key = AdvertKey::new("p", "imu");
        let lost = c.step(
            2,
            &step(
                RecordedInput::Tick,
                vec![RegistryChange::Unreachable(key.clone())],
            ),
        );
        let h = health(&lost);
        assert_eq!(h.len(), 2, "{h:?}");
        assert!(h
            .iter()
            .all(|h| h.1 == "UNKNOWN" && h.2.as_deref() == Some("unreachable")));
        assert!(lost
            .iter()
            .any(|r| matches!(r, Row::Event(e) if e.kind == "unreachable")));
        c.step(
            3,
            &step(RecordedInput::Tick, vec![RegistryChange::Removed(key)]),
        );
        assert_eq!(c.nodes(), 0);
        // Back again: its states are written anew.
        assert_eq!(health(&c.step(4, &advert_step(State::Ok, true))).len(), 2);
    }

    #[test]
    fn a_rejected_advert_writes_nothing_about_the_producer() {
        let mut c = Converter::new("test", None);
        let rows = c.step(
            1,
            &step(
                RecordedInput::Advert {
                    wire: advert(State::Ok).to_wire(),
                    sender: None,
                },
                vec![RegistryChange::Rejected {
                    what: "advert".into(),
                    error: "bad".into(),
                }],
            ),
        );
        assert!(health(&rows).is_empty());
        assert!(matches!(rows.as_slice(), [Row::Event(e)] if e.kind == "rejected"));
    }

    #[test]
    fn recovery_inputs_are_events() {
        let mut converter = Converter::new("sync", None);
        let failed = step(
            RecordedInput::FailedOnBehalf {
                wire: vigil_discovery::FailedOnBehalfWire {
                    version: 1,
                    child: "imu_a_proc".into(),
                    producers: vec!["imu_a".into(), "imu_a2".into()],
                    reason: "child imu_a_proc exited with signal 9".into(),
                    timestamp_ns: 5,
                    signature: vec![],
                },
                sender: [0; 16],
            },
            vec![],
        );
        let rows = converter.step(7, &failed);
        let kinds: Vec<(String, Option<String>)> = rows
            .iter()
            .filter_map(|r| match r {
                Row::Event(e) => Some((e.kind.clone(), e.producer.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("failed_on_behalf".to_owned(), Some("imu_a".to_owned())),
                ("failed_on_behalf".to_owned(), Some("imu_a2".to_owned()))
            ]
        );
        let isolated = step(
            RecordedInput::Isolation {
                wire: vigil_discovery::reconfig::IsolationWire {
                    version: 1,
                    producer: "imu_a".into(),
                    isolated: true,
                    reason: "3 restarts".into(),
                    by: "nav".into(),
                    timestamp_ns: 9,
                },
            },
            vec![],
        );
        let rows = converter.step(9, &isolated);
        assert!(
            matches!(&rows[..], [Row::Event(e)] if e.kind == "isolated" && e.body["by"] == "nav")
        );
    }

    #[test]
    fn a_repeated_mode_is_no_event() {
        let wire = vigil_discovery::reconfig::ModeWire {
            version: 1,
            engine: "nav".into(),
            mode: "degraded_nav".into(),
            from: "nominal".into(),
            cause: "rule 0".into(),
            timestamp_ns: 1,
        };
        let first = mode_event("sync", &wire, None).expect("a change");
        assert_eq!(first.body["mode"], "degraded_nav");
        assert!(mode_event("sync", &wire, Some("degraded_nav")).is_none());
        assert!(mode_event("sync", &wire, Some("nominal")).is_some());
    }
}
