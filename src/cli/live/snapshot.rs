//! What the live page shows, as one JSON document: producers per topic
//! with their health, tree and explanation, consumers' routes, and the
//! timeline. Built from the registry and the route board; pure but for
//! the clock it is handed.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};
use vigil_diag::{State, Timestamp};
use vigil_discovery::{ConsumerRoute, EntryView, RegistryChange, RouteUpdate};

use super::super::monitor::{entry_json, route_json};

/// Most timeline entries kept (the page shows the newest first).
pub(crate) const TIMELINE_MAX: usize = 200;

/// The whole page state at `t` (Unix seconds).
pub(crate) fn snapshot(
    entries: &[EntryView],
    routes: &[ConsumerRoute],
    timeline: &VecDeque<Value>,
    at: Timestamp,
    t: f64,
) -> Value {
    let mut topics: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for e in entries {
        let mut producer = entry_json(e, at);
        let (explanation, causes) = explain(e);
        producer["explanation"] = json!(explanation);
        producer["causes"] = json!(causes);
        producer["failed_on_behalf"] = json!(e.failed_on_behalf.as_deref());
        topics
            .entry(&e.advert.key.topic)
            .or_default()
            .push(producer);
    }
    json!({
        "t": t,
        "topics": topics,
        "consumers": routes.iter().map(route_json).collect::<Vec<_>>(),
        "timeline": timeline.iter().collect::<Vec<_>>(),
    })
}

/// Why a producer is in its state, in one sentence, and the diagnostic
/// paths that cause it: the deepest nodes that are not OK (a node whose
/// children are all OK but which is not is a cause too).
pub(crate) fn explain(e: &EntryView) -> (String, Vec<String>) {
    let h = &e.health;
    let state = h.state.as_str();
    if !e.reachable {
        return (
            format!("{state} (unreachable): nothing heard from it within its lease"),
            Vec::new(),
        );
    }
    if let (true, Some(reason)) = (h.from_supervisor, &e.failed_on_behalf) {
        return (format!("{state}: its supervisor says {reason}"), Vec::new());
    }
    if h.state == State::Ok {
        return ("OK".to_owned(), Vec::new());
    }
    let causes = deepest_not_ok(
        e.advert
            .health
            .nodes
            .iter()
            .map(|(p, s)| (p.to_string(), *s)),
    );
    let reason = h.reason.map_or(String::new(), |r| format!(" ({r})"));
    if causes.is_empty() {
        let from = if h.from_heartbeat {
            "its heartbeat says so"
        } else {
            "its advert says so (no failing node published)"
        };
        return (format!("{state}{reason}: {from}"), Vec::new());
    }
    let listed: Vec<String> = causes
        .iter()
        .map(|(p, s)| format!("{p} is {}", s.as_str()))
        .collect();
    (
        format!("{state}{reason} because {}", listed.join(", ")),
        causes.into_iter().map(|(p, _)| p).collect(),
    )
}

/// The nodes that are not OK and have no descendant that is not OK
/// either: where the failing paths end.
fn deepest_not_ok(nodes: impl Iterator<Item = (String, State)>) -> Vec<(String, State)> {
    let bad: Vec<(String, State)> = nodes.filter(|(_, s)| *s != State::Ok).collect();
    bad.iter()
        .filter(|(p, _)| {
            let below = format!("{p}.");
            !bad.iter().any(|(q, _)| q.starts_with(&below))
        })
        .cloned()
        .collect()
}

/// The timeline entries a registry change makes (health changes, leases,
/// arrivals and departures; adverts refreshed and rejections are not
/// events of the page).
pub(crate) fn registry_entry(change: &RegistryChange, t: f64) -> Option<Value> {
    let (key, what) = match change {
        RegistryChange::Added(k) => (k, "appeared".to_owned()),
        RegistryChange::Removed(k) => (k, "removed".to_owned()),
        RegistryChange::Unreachable(k) => (k, "unreachable: its lease expired".to_owned()),
        RegistryChange::Reachable(k) => (k, "reachable again".to_owned()),
        RegistryChange::HealthChanged { key, old, new } => {
            (key, format!("health {} -> {}", old.as_str(), new.as_str()))
        }
        _ => return None,
    };
    Some(json!({
        "t": t,
        "kind": "producer",
        "producer": key.producer,
        "topic": key.topic,
        "what": what,
    }))
}

/// The timeline entry of a route update: a switch (newer than the last
/// one seen of that consumer, `seen`) or a consumer leaving.
pub(crate) fn route_entry(update: &RouteUpdate, seen: &mut BTreeMap<String, u64>) -> Option<Value> {
    match update {
        RouteUpdate::Route(route) => {
            let last = route.last_switch.as_ref()?;
            let known = seen.insert(route.identity.id.clone(), route.switches);
            if known.is_some_and(|n| n >= route.switches) {
                return None;
            }
            let name = |k: Option<&vigil_discovery::AdvertKey>| {
                k.map_or_else(|| "(none)".to_owned(), |k| k.producer.clone())
            };
            Some(json!({
                "t": last.at_ns as f64 / 1e9,
                "kind": "switch",
                "consumer": route.identity.id,
                "from": name(last.previous.as_ref()),
                "to": name(route.active.as_ref()),
                "cause": last.cause,
                "what": last.explanation,
            }))
        }
        RouteUpdate::Gone(id) => {
            seen.remove(id);
            Some(json!({
                "t": super::super::dds_args::unix_seconds(),
                "kind": "consumer",
                "consumer": id,
                "what": "stopped",
            }))
        }
        _ => None,
    }
}

/// Appends an entry, dropping the oldest past [`TIMELINE_MAX`].
pub(crate) fn push(timeline: &mut VecDeque<Value>, entry: Value) {
    if timeline.len() == TIMELINE_MAX {
        timeline.pop_front();
    }
    timeline.push_back(entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_the_deepest_nodes_not_ok() {
        let nodes = [
            ("v", State::Failed),
            ("v.imu", State::Failed),
            ("v.imu.gyro", State::Failed),
            ("v.imu.accel", State::Ok),
            ("v.power", State::Degraded),
            ("v.power.bus1", State::Ok),
            ("v.comms", State::Ok),
        ]
        .map(|(p, s)| (p.to_owned(), s));
        let causes = deepest_not_ok(nodes.into_iter());
        assert_eq!(
            causes,
            [
                ("v.imu.gyro".to_owned(), State::Failed),
                ("v.power".to_owned(), State::Degraded)
            ]
        );
    }

    #[test]
    fn timeline_is_bounded_and_switches_counted_once() {
        let mut timeline = VecDeque::new();
        for i in 0..TIMELINE_MAX + 5 {
            push(&mut timeline, json!(i));
        }
        assert_eq!(timeline.len(), TIMELINE_MAX);
        assert_eq!(timeline[0], json!(5));

        let change = RegistryChange::HealthChanged {
            key: vigil_discovery::AdvertKey::new("imu_a", "imu"),
            old: State::Ok,
            new: State::Failed,
        };
        let entry = registry_entry(&change, 1.0).unwrap();
        assert_eq!(entry["what"], "health OK -> FAILED");
        assert!(registry_entry(
            &RegistryChange::Updated(vigil_discovery::AdvertKey::new("a", "b")),
            1.0
        )
        .is_none());
    }
}
