//! Small builders shared by the tree's unit tests.

use std::time::Duration;

use crate::check::{Check, ObservationError, Verdict};
use crate::health::{State, UnknownReason};
use crate::observation::Observation;
use crate::path::Path;
use crate::spec::{CheckSpec, Criticality, FilterSpec, NodeBody, NodeSpec, Origin, Rule, TreeSpec};
use crate::time::Timestamp;

use super::{Transition, Tree};

pub(super) fn p(text: &str) -> Path {
    Path::parse(text).unwrap()
}

pub(super) fn ms(millis: u64) -> Timestamp {
    Timestamp::from_nanos(millis * 1_000_000)
}

pub(super) fn node(path: &str, body: NodeBody, line: u32) -> NodeSpec {
    NodeSpec {
        path: p(path),
        body,
        criticality: Criticality::Standard,
        filter: FilterSpec::default(),
        origin: Some(Origin {
            source: "tree.yaml".into(),
            line,
        }),
    }
}

pub(super) fn status() -> NodeBody {
    NodeBody::Leaf(CheckSpec::Status { stale_after: None })
}

pub(super) fn heartbeat(timeout_ms: u64) -> NodeBody {
    NodeBody::Leaf(CheckSpec::Heartbeat {
        timeout: Duration::from_millis(timeout_ms),
    })
}

pub(super) fn custom(name: &str) -> NodeBody {
    NodeBody::Leaf(CheckSpec::Custom { name: name.into() })
}

pub(super) fn inner(rule: Rule) -> NodeBody {
    NodeBody::Inner(rule)
}

pub(super) fn mount(target: &str) -> NodeBody {
    NodeBody::Mount(p(target))
}

pub(super) fn said(state: State) -> Observation {
    Observation::Status {
        state,
        reason: None,
    }
}

/// Two engines sharing one power bus, an IMU voted 2 of 3, and a comms link
/// mounted inside the bus (a nested mount).
pub(super) fn vehicle() -> TreeSpec {
    TreeSpec {
        nodes: vec![
            node("vehicle.sensors.imu", inner(Rule::Vote { k: 2 }), 2),
            node("vehicle.sensors.imu.a", status(), 3),
            node("vehicle.sensors.imu.b", status(), 4),
            node("vehicle.sensors.imu.c", status(), 5),
            node("vehicle.propulsion.engine1.power", mount("power.bus_a"), 6),
            node("vehicle.propulsion.engine1.pump", status(), 7),
            node("vehicle.propulsion.engine2.power", mount("power.bus_a"), 8),
            node("vehicle.propulsion.engine2.pump", status(), 9),
        ],
        shared: vec![
            node("power.bus_a.voltage", status(), 11),
            node("power.bus_a.link", mount("comms.link"), 12),
            node("comms.link.carrier", status(), 13),
        ],
    }
}

pub(super) fn built(spec: &TreeSpec) -> Tree {
    match Tree::build(spec) {
        Ok(tree) => tree,
        Err(e) => panic!("spec should build:\n{e}"),
    }
}

/// A user-defined check whose state the test sets, optionally changing by
/// itself at a set time (to exercise timers without a built-in check).
#[derive(Debug)]
pub(super) struct Scripted {
    pub(super) now: Verdict,
    pub(super) later: Option<(Timestamp, State)>,
}

impl Scripted {
    pub(super) fn new() -> Scripted {
        Scripted {
            now: Verdict {
                state: State::Unknown,
                reason: Some(UnknownReason::NoData),
            },
            later: None,
        }
    }
}

impl Check for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    fn observe(
        &mut self,
        observation: Observation,
        _now: Timestamp,
    ) -> Result<(), ObservationError> {
        match observation {
            Observation::Status { state, reason } => {
                self.now = Verdict { state, reason };
                Ok(())
            }
            other => Err(ObservationError {
                check: "scripted",
                observation: other,
                why: "takes states only",
            }),
        }
    }

    fn evaluate(&self, now: Timestamp) -> Verdict {
        match self.later {
            Some((at, state)) if now >= at => Verdict {
                state,
                reason: None,
            },
            _ => self.now,
        }
    }

    fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        self.later.map(|(at, _)| at).filter(|&at| at > now)
    }

    fn describe(&self, _now: Timestamp) -> String {
        format!("scripted {}", self.now.state)
    }
}

/// A tree of one node at `path` (and its implied parents).
pub(super) fn one(path: &str, body: NodeBody) -> Tree {
    built(&TreeSpec {
        nodes: vec![node(path, body, 1)],
        shared: vec![],
    })
}

/// Transitions as (path, old, new), for compact assertions.
pub(super) fn summary(transitions: &[Transition]) -> Vec<(String, State, State)> {
    transitions
        .iter()
        .map(|t| (t.path.to_string(), t.old, t.new))
        .collect()
}
