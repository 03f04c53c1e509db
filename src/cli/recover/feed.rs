//! What the domain's adverts say about the engine's status leaves: one
//! state per leaf, from every advert that reports the leaf's path.
//!
//! A reachable advert's report counts (FAILED when its supervisor said the
//! process died); only unreachable reporters: UNKNOWN (unreachable);
//! nobody: UNKNOWN (no data). Several reporters: the worst, in the tree's
//! severity order `OK < DEGRADED < UNKNOWN < FAILED`. An isolated producer
//! still reports: isolation keeps consumers away, it does not change what
//! the producer says about itself (so the engine sees it recover).

use std::collections::BTreeMap;

use vigil_diag::{Observation, Path, State, UnknownReason};
use vigil_discovery::EntryView;

/// The state and reason of each leaf, from `entries`.
pub(crate) fn leaf_states(
    leaves: &[Path],
    entries: &[EntryView],
) -> BTreeMap<Path, (State, Option<UnknownReason>)> {
    leaves
        .iter()
        .map(|leaf| {
            let mut best: Option<(State, Option<UnknownReason>)> = None;
            let mut unreachable = false;
            for e in entries {
                let Some(&said) = e.advert.health.nodes.get(leaf) else {
                    continue;
                };
                if !e.reachable {
                    unreachable = true;
                    continue;
                }
                let state = if e.failed_on_behalf.is_some() {
                    State::Failed
                } else {
                    said
                };
                let reason = (state == State::Unknown).then_some(UnknownReason::Stale);
                if best.is_none_or(|(b, _)| severity(state) > severity(b)) {
                    best = Some((state, reason));
                }
            }
            let state = best.unwrap_or(if unreachable {
                (State::Unknown, Some(UnknownReason::Unreachable))
            } else {
                (State::Unknown, Some(UnknownReason::NoData))
            });
            (leaf.clone(), state)
        })
        .collect()
}

fn severity(state: State) -> u8 {
    match state {
        State::Ok => 0,
        State::Degraded => 1,
        State::Unknown => 2,
        State::Failed => 3,
    }
}

/// The leaves whose state differs from `held`, as observations; `held`
/// is updated.
pub(crate) fn changes(
    now: BTreeMap<Path, (State, Option<UnknownReason>)>,
    held: &mut BTreeMap<Path, (State, Option<UnknownReason>)>,
) -> Vec<(Path, Observation)> {
    let mut out = Vec::new();
    for (path, (state, reason)) in now {
        if held.get(&path) != Some(&(state, reason)) {
            held.insert(path.clone(), (state, reason));
            out.push((path, Observation::Status { state, reason }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use vigil_diag::Timestamp;
    use vigil_discovery::{Registry, RegistryConfig, RegistryInput};

    use super::*;

    fn path(p: &str) -> Path {
        Path::parse(p).unwrap()
    }

    fn entries(reports: &[(&str, &str, State)]) -> Vec<EntryView> {
        let registry = Registry::new(RegistryConfig::default());
        for (i, (producer, node, state)) in reports.iter().enumerate() {
            let mut advert = vigil_discovery::Advert {
                key: vigil_discovery::AdvertKey::new(*producer, "imu"),
                type_name: "t".into(),
                writer_guid: [i as u8 + 1; 16],
                capabilities: Default::default(),
                qos: Default::default(),
                diagnostic_root: None,
                health: vigil_discovery::HealthSummary {
                    state: State::Ok,
                    reason: None,
                    confidence: 1.0,
                    trend: vigil_diag::Trend::Stable,
                    nodes: Default::default(),
                },
                heartbeat_period: std::time::Duration::from_millis(20),
                lease: std::time::Duration::from_millis(100),
                sequence: 1,
                timestamp_ns: 1,
                supervisor: None,
            };
            advert.health.nodes.insert(path(node), *state);
            registry.apply(RegistryInput::Advert(advert.to_wire()), Timestamp::ZERO);
        }
        registry.snapshot()
    }

    #[test]
    fn worst_reporter_wins_and_silence_is_unknown() {
        let leaves = [path("v.imu_a.driver"), path("v.imu_b.driver")];
        let got = leaf_states(
            &leaves,
            &entries(&[
                ("a", "v.imu_a.driver", State::Ok),
                ("a2", "v.imu_a.driver", State::Failed),
            ]),
        );
        assert_eq!(got[&leaves[0]], (State::Failed, None));
        assert_eq!(
            got[&leaves[1]],
            (State::Unknown, Some(UnknownReason::NoData))
        );
        let mut held = BTreeMap::new();
        assert_eq!(changes(got.clone(), &mut held).len(), 2);
        assert!(changes(got, &mut held).is_empty(), "nothing new");
    }
}
