//! Validated adverts and heartbeats: what the registry holds, made from the
//! wire structs of [`crate::wire`] only after every field was checked.
//!
//! Decoding never trusts what it received: every enum code is matched
//! against the codes this version knows, every length is checked, every path
//! is parsed, and the capability bytes go through vigil-qos's checked CDR
//! decoder. A received advert with several bad fields is reported with all
//! of them ([`AdvertError::Invalid`]), so a producer's author sees every
//! mistake at once.
//!
//! The `signature` field of the wire is reserved (issue 4 item 1) and is
//! neither checked nor kept by this version.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_diag::{Path, State, Trend, UnknownReason};
use vigil_qos::{
    Candidate, Capabilities, DestinationOrder, Durability, Key, Liveliness, LivelinessKind,
    Ownership, Period, QosPolicies, Reliability, Value,
};

mod error;

pub use error::{AdvertError, FieldProblem, ProblemKind};

use crate::wire::{
    AdvertKeyWire, AdvertWire, FailedOnBehalfWire, HealthWire, HeartbeatWire, NodeStateWire,
    OfferedQosWire, NOT_SET, WIRE_VERSION,
};

/// Longest producer id, topic or type name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Most tree nodes one advert may report.
pub const MAX_NODES: usize = 4096;
/// Most producers one [`FailedOnBehalf`] may name.
pub const MAX_ON_BEHALF: usize = 1024;
/// Longest [`FailedOnBehalf::reason`], in bytes.
pub const MAX_REASON_LEN: usize = 1024;

/// Which advert: one producer may publish several topics.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AdvertKey {
    /// Producer id.
    pub producer: String,
    /// Topic name.
    pub topic: String,
}

impl AdvertKey {
    /// A key from its parts.
    pub fn new(producer: impl Into<String>, topic: impl Into<String>) -> AdvertKey {
        AdvertKey {
            producer: producer.into(),
            topic: topic.into(),
        }
    }

    /// The key as it travels.
    pub fn to_wire(&self) -> AdvertKeyWire {
        AdvertKeyWire {
            producer: self.producer.clone(),
            topic: self.topic.clone(),
        }
    }
}

impl fmt::Display for AdvertKey {
    /// `producer/topic`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.producer, self.topic)
    }
}

/// A producer's health as its advert states it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthSummary {
    /// Overall state.
    pub state: State,
    /// Why, when `state` is UNKNOWN; `None` otherwise.
    pub reason: Option<UnknownReason>,
    /// Confidence in `[0, 1]`.
    pub confidence: f64,
    /// Which way it is moving.
    pub trend: Trend,
    /// States of the nodes of its tree it publishes, by absolute path.
    pub nodes: BTreeMap<Path, State>,
}

/// A validated advert.
#[derive(Clone, Debug, PartialEq)]
pub struct Advert {
    /// Producer and topic.
    pub key: AdvertKey,
    /// DDS type name of the data topic.
    pub type_name: String,
    /// GUID of the DDS DataWriter publishing the data.
    pub writer_guid: [u8; 16],
    /// What the producer offers.
    pub capabilities: Capabilities,
    /// The DDS QoS its writer offers (`None` fields: DDS default).
    pub qos: QosPolicies,
    /// Root of its diagnostic subtree.
    pub diagnostic_root: Option<Path>,
    /// Its health.
    pub health: HealthSummary,
    /// How often it promises a heartbeat.
    pub heartbeat_period: Duration,
    /// How long after its last heartbeat it counts as unreachable.
    pub lease: Duration,
    /// Incremented by the producer at every change.
    pub sequence: u64,
    /// When the producer made it, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The DDS GUID prefix of the participant of the supervisor that may
    /// say, on this producer's behalf, that it FAILED; `None`: nobody may.
    pub supervisor: Option<[u8; 12]>,
}

/// A validated heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// Producer id.
    pub producer: String,
    /// The topic of the one advert it speaks for; empty: every advert of
    /// the producer (writers before wire revision 5).
    pub topic: String,
    /// Incremented at every heartbeat.
    pub sequence: u64,
    /// The producer's overall state now.
    pub state: State,
    /// The sequence of the producer's latest advert.
    pub advert_sequence: u64,
    /// When it was sent, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

/// Collects problems while a message is checked.
pub(crate) struct Problems(pub(crate) Vec<FieldProblem>);

impl Problems {
    pub(crate) fn push(&mut self, field: impl Into<String>, kind: ProblemKind) {
        self.0.push(FieldProblem {
            field: field.into(),
            kind,
        });
    }

    /// Keeps `Ok` values; records an `Err` under `field`.
    pub(crate) fn check<T>(&mut self, field: &str, result: Result<T, ProblemKind>) -> Option<T> {
        result.map_err(|kind| self.push(field, kind)).ok()
    }

    /// `Ok` when no problem was found, else every problem of `what`.
    pub(crate) fn into_result(self, what: impl FnOnce() -> String) -> Result<(), AdvertError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AdvertError::Invalid {
                what: what(),
                problems: self.0,
            })
        }
    }
}

pub(crate) fn name(text: &str, required: bool) -> Result<(), ProblemKind> {
    if required && text.is_empty() {
        Err(ProblemKind::Empty)
    } else if text.len() > MAX_NAME_LEN {
        Err(ProblemKind::TooLong {
            len: text.len(),
            max: MAX_NAME_LEN,
        })
    } else if text.chars().any(char::is_control) {
        Err(ProblemKind::ControlCharacter)
    } else {
        Ok(())
    }
}

/// A printable name of a received key for messages, whatever it holds.
fn describe(producer: &str, topic: Option<&str>) -> String {
    let clip = |s: &str| -> String {
        s.chars()
            .take(64)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    match topic {
        Some(t) => format!("advert {}/{}", clip(producer), clip(t)),
        None => format!("heartbeat {}", clip(producer)),
    }
}

/// State codes are ROS 2 levels (wire.rs: 0 OK, 1 DEGRADED, 2 FAILED, 3 UNKNOWN).
fn state_of(code: u8) -> Result<State, ProblemKind> {
    State::from_ros_level(code)
        .map(|(state, _)| state)
        .ok_or(ProblemKind::BadCode {
            code,
            expected: "0 OK, 1 DEGRADED, 2 FAILED or 3 UNKNOWN",
        })
}

const REASONS: [UnknownReason; 4] = [
    UnknownReason::NoData,
    UnknownReason::Stale,
    UnknownReason::Conflicting,
    UnknownReason::Unreachable,
];

fn reason_code(reason: UnknownReason) -> u8 {
    REASONS
        .iter()
        .position(|r| *r == reason)
        .map_or(NOT_SET, |i| i as u8)
}

const TRENDS: [Trend; 4] = [
    Trend::Stable,
    Trend::Degrading,
    Trend::Recovering,
    Trend::Intermittent,
];

/// Decodes an optional policy code: [`NOT_SET`] is `None`.
fn code<T: Copy>(code: u8, all: &[T], expected: &'static str) -> Result<Option<T>, ProblemKind> {
    if code == NOT_SET {
        return Ok(None);
    }
    all.get(usize::from(code))
        .map(|v| Some(*v))
        .ok_or(ProblemKind::BadCode { code, expected })
}

fn period(ns: u64) -> Period {
    if ns == u64::MAX {
        Period::Infinite
    } else {
        Period::Finite(Duration::from_nanos(ns))
    }
}

fn period_ns(period: Period) -> u64 {
    match period {
        Period::Infinite => u64::MAX,
        Period::Finite(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
    }
}

fn qos_from_wire(wire: &OfferedQosWire, p: &mut Problems) -> QosPolicies {
    let reliability = p.check(
        "qos.reliability",
        code(
            wire.reliability,
            Reliability::ALL,
            "0 best effort or 1 reliable",
        ),
    );
    let durability = p.check(
        "qos.durability",
        code(
            wire.durability,
            Durability::ALL,
            "0 volatile, 1 transient local, 2 transient or 3 persistent",
        ),
    );
    let kind = p.check(
        "qos.liveliness",
        code(
            wire.liveliness,
            LivelinessKind::ALL,
            "0 automatic, 1 manual by participant or 2 manual by topic",
        ),
    );
    let ownership = p.check(
        "qos.ownership",
        code(wire.ownership, Ownership::ALL, "0 shared or 1 exclusive"),
    );
    let destination_order = p.check(
        "qos.destination_order",
        code(
            wire.destination_order,
            DestinationOrder::ALL,
            "0 by reception or 1 by source timestamp",
        ),
    );
    let liveliness = match kind.flatten() {
        None if wire.liveliness_lease_ns == u64::MAX => None,
        kind => Some(Liveliness {
            kind: kind.unwrap_or_default(),
            lease: period(wire.liveliness_lease_ns),
        }),
    };
    QosPolicies {
        reliability: reliability.flatten(),
        durability: durability.flatten(),
        deadline: (wire.deadline_ns != u64::MAX).then(|| period(wire.deadline_ns)),
        liveliness,
        ownership: ownership.flatten(),
        destination_order: destination_order.flatten(),
    }
}

fn qos_to_wire(qos: &QosPolicies) -> OfferedQosWire {
    let index = |i: Option<u8>| i.unwrap_or(NOT_SET);
    OfferedQosWire {
        reliability: index(qos.reliability.map(|v| v as u8)),
        durability: index(qos.durability.map(|v| v as u8)),
        deadline_ns: qos.deadline.map_or(u64::MAX, period_ns),
        liveliness: index(qos.liveliness.map(|l| l.kind as u8)),
        liveliness_lease_ns: qos.liveliness.map_or(u64::MAX, |l| period_ns(l.lease)),
        ownership: index(qos.ownership.map(|v| v as u8)),
        destination_order: index(qos.destination_order.map(|v| v as u8)),
    }
}

fn health_from_wire(wire: &HealthWire, p: &mut Problems) -> Option<HealthSummary> {
    let state = p.check("health.state", state_of(wire.state));
    let reason = match (state, wire.reason) {
        (Some(State::Unknown), code) if usize::from(code) < REASONS.len() => {
            Some(REASONS[usize::from(code)])
        }
        (Some(s), NOT_SET) if s != State::Unknown => None,
        (Some(state), reason) => {
            p.push(
                "health.reason",
                ProblemKind::ReasonMismatch { state, reason },
            );
            None
        }
        (None, _) => None,
    };
    let confidence = wire.confidence;
    if !(0.0..=1.0).contains(&confidence) {
        p.push("health.confidence", ProblemKind::Confidence(confidence));
    }
    let trend = p.check(
        "health.trend",
        code(
            wire.trend,
            &TRENDS,
            "0 stable, 1 degrading, 2 recovering or 3 intermittent",
        )
        .and_then(|t| {
            t.ok_or(ProblemKind::BadCode {
                code: NOT_SET,
                expected: "a trend code 0-3",
            })
        }),
    );
    let mut nodes = BTreeMap::new();
    if wire.nodes.len() > MAX_NODES {
        // Do not even look at the entries: the count alone is the problem.
        p.push(
            "health.nodes",
            ProblemKind::TooManyNodes {
                count: wire.nodes.len(),
                max: MAX_NODES,
            },
        );
    } else {
        for (i, NodeStateWire { path, state }) in wire.nodes.iter().enumerate() {
            // Field names are formatted only for problems: a valid advert
            // with many nodes costs no allocation per node here.
            let path = Path::parse(path)
                .map_err(|e| p.push(format!("health.nodes[{i}].path"), ProblemKind::Path(e)))
                .ok();
            let state = state_of(*state)
                .map_err(|e| p.push(format!("health.nodes[{i}].state"), e))
                .ok();
            if let (Some(path), Some(state)) = (path, state) {
                match nodes.entry(path) {
                    Entry::Occupied(taken) => p.push(
                        format!("health.nodes[{i}].path"),
                        ProblemKind::DuplicateNode(taken.key().clone()),
                    ),
                    Entry::Vacant(free) => {
                        free.insert(state);
                    }
                }
            }
        }
    }
    Some(HealthSummary {
        state: state?,
        reason,
        confidence: f64::from(confidence),
        trend: trend?,
        nodes,
    })
}

impl Advert {
    /// Validates a received advert; every bad field is reported.
    pub fn from_wire(wire: &AdvertWire) -> Result<Advert, AdvertError> {
        let what = describe(&wire.key.producer, Some(&wire.key.topic));
        if wire.version != WIRE_VERSION {
            return Err(AdvertError::UnsupportedVersion {
                what,
                found: wire.version,
                supported: WIRE_VERSION,
            });
        }
        let mut p = Problems(Vec::new());
        p.check("key.producer", name(&wire.key.producer, true));
        p.check("key.topic", name(&wire.key.topic, true));
        p.check("type_name", name(&wire.type_name, false));
        let writer_guid = p.check(
            "writer_guid",
            <[u8; 16]>::try_from(wire.writer_guid.as_slice())
                .map_err(|_| ProblemKind::GuidLength(wire.writer_guid.len())),
        );
        let capabilities = p.check(
            "capabilities",
            Capabilities::decode_cdr(&wire.capabilities).map_err(ProblemKind::Capabilities),
        );
        let qos = qos_from_wire(&wire.qos, &mut p);
        let diagnostic_root = if wire.diagnostic_root.is_empty() {
            Some(None)
        } else {
            p.check(
                "diagnostic_root",
                Path::parse(&wire.diagnostic_root)
                    .map(Some)
                    .map_err(ProblemKind::Path),
            )
        };
        let health = health_from_wire(&wire.health, &mut p);
        let supervisor = match wire.supervisor.len() {
            0 => Some(None),
            _ => p.check(
                "supervisor",
                <[u8; 12]>::try_from(wire.supervisor.as_slice())
                    .map(Some)
                    .map_err(|_| ProblemKind::SupervisorLength(wire.supervisor.len())),
            ),
        };
        let heartbeat_period = Duration::from_nanos(wire.heartbeat_period_ns);
        let lease = Duration::from_nanos(wire.lease_ns);
        if heartbeat_period.is_zero() {
            p.push("heartbeat_period_ns", ProblemKind::Zero);
        }
        if lease.is_zero() {
            p.push("lease_ns", ProblemKind::Zero);
        } else if lease < heartbeat_period {
            p.push(
                "lease_ns",
                ProblemKind::LeaseShorterThanPeriod {
                    lease,
                    period: heartbeat_period,
                },
            );
        }
        match (
            writer_guid,
            capabilities,
            diagnostic_root,
            health,
            supervisor,
        ) {
            (
                Some(writer_guid),
                Some(capabilities),
                Some(diagnostic_root),
                Some(health),
                Some(supervisor),
            ) if p.0.is_empty() => Ok(Advert {
                key: AdvertKey::new(wire.key.producer.clone(), wire.key.topic.clone()),
                type_name: wire.type_name.clone(),
                writer_guid,
                capabilities,
                qos,
                diagnostic_root,
                health,
                heartbeat_period,
                lease,
                sequence: wire.sequence,
                timestamp_ns: wire.timestamp_ns,
                supervisor,
            }),
            _ => Err(AdvertError::Invalid {
                what,
                problems: p.0,
            }),
        }
    }

    /// The advert as it travels ([`WIRE_VERSION`], no signature).
    pub fn to_wire(&self) -> AdvertWire {
        let h = &self.health;
        AdvertWire {
            version: WIRE_VERSION,
            key: self.key.to_wire(),
            type_name: self.type_name.clone(),
            writer_guid: self.writer_guid.to_vec(),
            capabilities: self.capabilities.encode_cdr(),
            qos: qos_to_wire(&self.qos),
            diagnostic_root: self
                .diagnostic_root
                .as_ref()
                .map_or_else(String::new, |p| p.to_string()),
            health: HealthWire {
                state: h.state.ros_level(),
                // An UNKNOWN without a reason is sent as no data, never
                // left out: receivers reject UNKNOWN without a reason.
                reason: match (h.state, h.reason) {
                    (State::Unknown, r) => reason_code(r.unwrap_or(UnknownReason::NoData)),
                    _ => NOT_SET,
                },
                confidence: h.confidence as f32,
                trend: TRENDS
                    .iter()
                    .position(|t| *t == h.trend)
                    .map_or(0, |i| i as u8),
                nodes: h
                    .nodes
                    .iter()
                    .map(|(path, state)| NodeStateWire {
                        path: path.to_string(),
                        state: state.ros_level(),
                    })
                    .collect(),
            },
            heartbeat_period_ns: u64::try_from(self.heartbeat_period.as_nanos())
                .unwrap_or(u64::MAX),
            lease_ns: u64::try_from(self.lease.as_nanos()).unwrap_or(u64::MAX),
            sequence: self.sequence,
            timestamp_ns: self.timestamp_ns,
            signature: Vec::new(),
            supervisor: self.supervisor.map_or_else(Vec::new, |s| s.to_vec()),
        }
    }
}

impl Heartbeat {
    /// Validates a received heartbeat.
    pub fn from_wire(wire: &HeartbeatWire) -> Result<Heartbeat, AdvertError> {
        let what = describe(&wire.producer, None);
        if wire.version != WIRE_VERSION {
            return Err(AdvertError::UnsupportedVersion {
                what,
                found: wire.version,
                supported: WIRE_VERSION,
            });
        }
        let mut p = Problems(Vec::new());
        p.check("producer", name(&wire.producer, true));
        p.check("topic", name(&wire.topic, false));
        let state = p.check("state", state_of(wire.state));
        match state {
            Some(state) if p.0.is_empty() => Ok(Heartbeat {
                producer: wire.producer.clone(),
                topic: wire.topic.clone(),
                sequence: wire.sequence,
                state,
                advert_sequence: wire.advert_sequence,
                timestamp_ns: wire.timestamp_ns,
            }),
            _ => Err(AdvertError::Invalid {
                what,
                problems: p.0,
            }),
        }
    }

    /// The heartbeat as it travels.
    pub fn to_wire(&self) -> HeartbeatWire {
        HeartbeatWire {
            auth: Vec::new(),
            version: WIRE_VERSION,
            producer: self.producer.clone(),
            topic: self.topic.clone(),
            sequence: self.sequence,
            state: self.state.ros_level(),
            advert_sequence: self.advert_sequence,
            timestamp_ns: self.timestamp_ns,
        }
    }
}

/// A supervisor's word that a dead child's producers are FAILED,
/// validated ([`FailedOnBehalfWire`]). Who sent it is not in it: the
/// registry compares the sample's writer with each producer's advert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedOnBehalf {
    /// The supervisor's id of the child.
    pub child: String,
    /// The producer ids the child advertised (no duplicates, at most
    /// [`MAX_ON_BEHALF`]).
    pub producers: Vec<String>,
    /// Why (`exited: signal 9`).
    pub reason: String,
    /// When it was said, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

impl FailedOnBehalf {
    /// Validates a received message; every bad field is reported.
    pub fn from_wire(wire: &FailedOnBehalfWire) -> Result<FailedOnBehalf, AdvertError> {
        let what = format!(
            "FAILED on behalf of child {}",
            wire.child
                .chars()
                .take(64)
                .map(|c| if c.is_control() { '?' } else { c })
                .collect::<String>()
        );
        if wire.version != WIRE_VERSION {
            return Err(AdvertError::UnsupportedVersion {
                what,
                found: wire.version,
                supported: WIRE_VERSION,
            });
        }
        let mut p = Problems(Vec::new());
        p.check("child", name(&wire.child, true));
        if wire.producers.len() > MAX_ON_BEHALF {
            p.push(
                "producers",
                ProblemKind::TooManyProducers {
                    count: wire.producers.len(),
                    max: MAX_ON_BEHALF,
                },
            );
        } else {
            let mut seen = std::collections::BTreeSet::new();
            for (i, producer) in wire.producers.iter().enumerate() {
                if let Err(kind) = name(producer, true) {
                    p.push(format!("producers[{i}]"), kind);
                } else if !seen.insert(producer.as_str()) {
                    p.push(format!("producers[{i}]"), ProblemKind::DuplicateProducer);
                }
            }
        }
        if wire.reason.len() > MAX_REASON_LEN {
            p.push(
                "reason",
                ProblemKind::TooLong {
                    len: wire.reason.len(),
                    max: MAX_REASON_LEN,
                },
            );
        } else if wire.reason.chars().any(char::is_control) {
            p.push("reason", ProblemKind::ControlCharacter);
        }
        if !p.0.is_empty() {
            return Err(AdvertError::Invalid {
                what,
                problems: p.0,
            });
        }
        Ok(FailedOnBehalf {
            child: wire.child.clone(),
            producers: wire.producers.clone(),
            reason: wire.reason.clone(),
            timestamp_ns: wire.timestamp_ns,
        })
    }

    /// The message as it travels.
    pub fn to_wire(&self) -> FailedOnBehalfWire {
        FailedOnBehalfWire {
            version: WIRE_VERSION,
            child: self.child.clone(),
            producers: self.producers.clone(),
            reason: self.reason.clone(),
            timestamp_ns: self.timestamp_ns,
            signature: Vec::new(),
        }
    }
}

/// An advert as its producer states it; the registry's
/// [`crate::EntryView`] is the one with liveness applied.
impl Candidate for Advert {
    fn producer(&self) -> &str {
        &self.key.producer
    }
    fn topic(&self) -> &str {
        &self.key.topic
    }
    fn capability(&self, key: &Key) -> Option<&Value> {
        self.capabilities.get_key(key)
    }
    fn health_state(&self) -> State {
        self.health.state
    }
    fn health_confidence(&self) -> f64 {
        self.health.confidence
    }
    fn health_trend(&self) -> Trend {
        self.health.trend
    }
    fn node_state(&self, path: &Path) -> Option<State> {
        self.health.nodes.get(path).copied()
    }
    fn offered_qos(&self) -> &QosPolicies {
        &self.qos
    }
    fn diagnostic_root(&self) -> Option<&Path> {
        self.diagnostic_root.as_ref()
    }
}
