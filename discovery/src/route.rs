//! A consumer's route, validated: who the consumer is, what it asks for,
//! whom it follows and why it last switched. Made from a received
//! [`ConsumerRouteWire`] only after every field was checked, and from a
//! [`SelectionEvent`] by the consumer that publishes it.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::advert::{name, AdvertError, AdvertKey, ProblemKind, Problems, MAX_REASON_LEN};
use crate::selection::{SelectionEvent, EVENT_CHAIN_MAX};
use crate::wire::{AdvertKeyWire, ConsumerRouteWire, WIRE_VERSION};

/// Longest query a route may carry, in bytes.
pub const MAX_QUERY_LEN: usize = 4096;

/// Who a consumer is, as it says on the route topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerIdentity {
    /// Its id, unique on the domain: `vigil consume --id`, by default
    /// `<host>:<pid>`.
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
}

impl ConsumerIdentity {
    /// An identity; `id` defaults to `<host>:<pid>` when `None`.
    pub fn new(id: Option<String>, host: impl Into<String>, pid: u32) -> ConsumerIdentity {
        let host = host.into();
        ConsumerIdentity {
            id: id.unwrap_or_else(|| format!("{host}:{pid}")),
            host,
            pid,
        }
    }

    /// Checks the id and host as a receiver would (so a consumer refuses an
    /// id nobody could read instead of publishing it).
    pub fn validate(&self) -> Result<(), AdvertError> {
        let mut p = Problems(Vec::new());
        p.check("consumer", name(&self.id, true));
        p.check("host", name(&self.host, false));
        p.into_result(|| describe(&self.id))
    }
}

/// The last switch of a [`ConsumerRoute`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteSwitch {
    /// The producer it left.
    pub previous: Option<AdvertKey>,
    /// The cause's stable label (`active_failed`, see
    /// [`SwitchCause::label`](crate::SwitchCause::label)).
    pub cause: String,
    /// The cause for people.
    pub explanation: String,
    /// When it was decided, nanoseconds since the Unix epoch.
    pub at_ns: u64,
}

/// A consumer's route: see [`ConsumerRouteWire`] for each field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerRoute {
    /// Who the consumer is.
    pub identity: ConsumerIdentity,
    /// Its query as it prints back.
    pub query: String,
    /// The producer it follows; `None`: nothing qualifies.
    pub active: Option<AdvertKey>,
    /// The next candidate.
    pub standby: Option<AdvertKey>,
    /// The head of the fallback chain, best first (at most
    /// [`EVENT_CHAIN_MAX`]).
    pub chain: Vec<AdvertKey>,
    /// The whole chain's length.
    pub chain_len: u32,
    /// Switches so far.
    pub switches: u64,
    /// The last switch; `None` before the first.
    pub last_switch: Option<RouteSwitch>,
    /// When this route was stated, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

impl ConsumerRoute {
    /// A consumer's route before its first switch.
    pub fn starting(identity: ConsumerIdentity, query: String, now_ns: u64) -> ConsumerRoute {
        ConsumerRoute {
            identity,
            query,
            active: None,
            standby: None,
            chain: Vec::new(),
            chain_len: 0,
            switches: 0,
            last_switch: None,
            timestamp_ns: now_ns,
        }
    }

    /// The route after `event`, decided at `at_ns` (Unix nanoseconds).
    pub fn switched(&mut self, event: &SelectionEvent, at_ns: u64) {
        self.active = event.active.as_ref().map(|a| a.key.clone());
        self.standby = event.standby.as_ref().map(|a| a.key.clone());
        self.chain = event.chain.iter().take(EVENT_CHAIN_MAX).cloned().collect();
        self.chain_len = u32::try_from(event.chain_len).unwrap_or(u32::MAX);
        self.switches += 1;
        self.last_switch = Some(RouteSwitch {
            previous: event.previous.clone(),
            cause: event.cause.label().to_owned(),
            explanation: clip(&event.cause.to_string(), MAX_REASON_LEN),
            at_ns,
        });
        self.timestamp_ns = at_ns;
    }

    /// The route as it travels.
    pub fn to_wire(&self) -> ConsumerRouteWire {
        let key = |k: &Option<AdvertKey>| match k {
            Some(k) => key_wire(k),
            None => AdvertKeyWire {
                producer: String::new(),
                topic: String::new(),
            },
        };
        let last = self.last_switch.as_ref();
        ConsumerRouteWire {
            version: WIRE_VERSION,
            consumer: self.identity.id.clone(),
            host: self.identity.host.clone(),
            pid: self.identity.pid,
            query: self.query.clone(),
            active: key(&self.active),
            standby: key(&self.standby),
            chain: self.chain.iter().map(key_wire).collect(),
            chain_len: self.chain_len,
            switches: self.switches,
            previous: key(&last.and_then(|s| s.previous.clone())),
            cause: last.map(|s| s.cause.clone()).unwrap_or_default(),
            explanation: last.map(|s| s.explanation.clone()).unwrap_or_default(),
            switched_at_ns: last.map_or(0, |s| s.at_ns),
            timestamp_ns: self.timestamp_ns,
        }
    }

    /// Validates a received route; every bad field is reported.
    pub fn from_wire(wire: &ConsumerRouteWire) -> Result<ConsumerRoute, AdvertError> {
        let what = || describe(&wire.consumer);
        if wire.version != WIRE_VERSION {
            return Err(AdvertError::UnsupportedVersion {
                what: what(),
                found: wire.version,
                supported: WIRE_VERSION,
            });
        }
        let mut p = Problems(Vec::new());
        p.check("consumer", name(&wire.consumer, true));
        p.check("host", name(&wire.host, false));
        p.check("query", text(&wire.query, MAX_QUERY_LEN, true));
        let active = optional_key(&mut p, "active", &wire.active);
        let standby = optional_key(&mut p, "standby", &wire.standby);
        let previous = optional_key(&mut p, "previous", &wire.previous);
        let mut chain = Vec::new();
        if wire.chain.len() > EVENT_CHAIN_MAX {
            p.push(
                "chain",
                ProblemKind::TooManyProducers {
                    count: wire.chain.len(),
                    max: EVENT_CHAIN_MAX,
                },
            );
        } else {
            let mut seen = BTreeSet::new();
            for (i, k) in wire.chain.iter().enumerate() {
                let field = format!("chain[{i}]");
                if k.producer.is_empty() {
                    p.push(format!("{field}.producer"), ProblemKind::Empty);
                } else if let Some(key) = optional_key(&mut p, &field, k) {
                    if !seen.insert(key.clone()) {
                        p.push(field, ProblemKind::DuplicateProducer);
                    }
                    chain.push(key);
                }
            }
        }
        if (wire.chain_len as usize) < wire.chain.len() {
            p.push(
                "chain_len",
                ProblemKind::TooLong {
                    len: wire.chain.len(),
                    max: wire.chain_len as usize,
                },
            );
        }
        let last_switch = if wire.switches == 0 {
            // The starting sample: no switch to describe.
            for (field, empty) in [
                ("previous", wire.previous.producer.is_empty()),
                ("cause", wire.cause.is_empty()),
                ("explanation", wire.explanation.is_empty()),
            ] {
                if !empty {
                    p.push(field, ProblemKind::NotBeforeFirstSwitch);
                }
            }
            None
        } else {
            p.check("cause", cause_label(&wire.cause));
            p.check(
                "explanation",
                text(&wire.explanation, MAX_REASON_LEN, false),
            );
            Some(RouteSwitch {
                previous,
                cause: wire.cause.clone(),
                explanation: wire.explanation.clone(),
                at_ns: wire.switched_at_ns,
            })
        };
        p.into_result(what)?;
        Ok(ConsumerRoute {
            identity: ConsumerIdentity {
                id: wire.consumer.clone(),
                host: wire.host.clone(),
                pid: wire.pid,
            },
            query: wire.query.clone(),
            active,
            standby,
            chain,
            chain_len: wire.chain_len,
            switches: wire.switches,
            last_switch,
            timestamp_ns: wire.timestamp_ns,
        })
    }
}

/// The labels [`SwitchCause::label`](crate::SwitchCause::label) gives.
/// A receiver refuses others: a newer cause needs a newer revision.
const CAUSES: &[&str] = &[
    "initial",
    "available",
    "active_failed",
    "active_unreachable",
    "active_removed",
    "constraint_violated",
    "hold_off_expired",
    "restored",
    "better_candidate",
    "endpoint_changed",
];

fn cause_label(label: &str) -> Result<(), ProblemKind> {
    if CAUSES.contains(&label) {
        Ok(())
    } else {
        Err(ProblemKind::UnknownCause(clip(label, 64)))
    }
}

fn key_wire(k: &AdvertKey) -> AdvertKeyWire {
    AdvertKeyWire {
        producer: k.producer.clone(),
        topic: k.topic.clone(),
    }
}

/// An optional producer: an empty producer id (and topic) is none.
fn optional_key(p: &mut Problems, field: &str, k: &AdvertKeyWire) -> Option<AdvertKey> {
    if k.producer.is_empty() {
        if !k.topic.is_empty() {
            p.push(format!("{field}.producer"), ProblemKind::Empty);
        }
        return None;
    }
    let producer = p.check(&format!("{field}.producer"), name(&k.producer, true));
    let topic = p.check(&format!("{field}.topic"), name(&k.topic, true));
    producer
        .and(topic)
        .map(|()| AdvertKey::new(k.producer.clone(), k.topic.clone()))
}

fn text(s: &str, max: usize, required: bool) -> Result<(), ProblemKind> {
    if required && s.is_empty() {
        Err(ProblemKind::Empty)
    } else if s.len() > max {
        Err(ProblemKind::TooLong { len: s.len(), max })
    } else if s.chars().any(char::is_control) {
        Err(ProblemKind::ControlCharacter)
    } else {
        Ok(())
    }
}

/// At most `max` bytes of `s`, cut at a character boundary, control
/// characters replaced.
fn clip(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

fn describe(consumer: &str) -> String {
    format!("route of consumer {}", clip(consumer, 64))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use vigil_diag::{State, Timestamp};

    use super::*;
    use crate::selection::{ActiveProducer, SwitchCause};

    fn active(producer: &str) -> ActiveProducer {
        ActiveProducer {
            key: AdvertKey::new(producer, "imu"),
            writer_guid: [1; 16],
            clause: 0,
        }
    }

    fn identity() -> ConsumerIdentity {
        ConsumerIdentity::new(None, "rover", 42)
    }

    #[test]
    fn default_id_is_host_and_pid() {
        assert_eq!(identity().id, "rover:42");
        assert_eq!(
            ConsumerIdentity::new(Some("nav".into()), "rover", 42).id,
            "nav"
        );
    }

    #[test]
    fn a_switch_round_trips_with_its_cause() {
        let mut route = ConsumerRoute::starting(identity(), "imu".into(), 5);
        let start = route.to_wire();
        assert_eq!(ConsumerRoute::from_wire(&start).unwrap(), route);
        route.switched(
            &SelectionEvent {
                at: Timestamp::from_nanos(1),
                previous: Some(AdvertKey::new("imu_a", "imu")),
                active: Some(active("imu_b")),
                chain: vec![AdvertKey::new("imu_b", "imu")],
                chain_len: 1,
                cause: SwitchCause::ActiveFailed {
                    state: State::Failed,
                },
                standby: None,
            },
            9,
        );
        let wire = route.to_wire();
        assert_eq!(wire.cause, "active_failed");
        assert_eq!(wire.previous.producer, "imu_a");
        assert_eq!(wire.switches, 1);
        let back = ConsumerRoute::from_wire(&wire).unwrap();
        assert_eq!(back, route);
        assert_eq!(
            back.last_switch.unwrap().explanation,
            "active producer is FAILED"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut wire = ConsumerRoute::starting(identity(), "imu".into(), 5).to_wire();
        wire.consumer = String::new();
        wire.query = "x".repeat(MAX_QUERY_LEN + 1);
        wire.active.topic = "imu".into();
        wire.cause = "bored".into();
        let err = ConsumerRoute::from_wire(&wire).unwrap_err();
        let fields: Vec<&str> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["consumer", "query", "active.producer", "cause"],
            "{err}"
        );
        wire.version = 9;
        assert!(matches!(
            ConsumerRoute::from_wire(&wire),
            Err(AdvertError::UnsupportedVersion { found: 9, .. })
        ));
    }

    #[test]
    fn unknown_causes_and_duplicate_chain_entries_are_refused() {
        let mut wire = ConsumerRoute::starting(identity(), "imu".into(), 5).to_wire();
        wire.switches = 1;
        wire.cause = "bored".into();
        let k = AdvertKeyWire {
            producer: "a".into(),
            topic: "imu".into(),
        };
        wire.chain = vec![k.clone(), k];
        wire.chain_len = 2;
        let err = ConsumerRoute::from_wire(&wire).unwrap_err();
        let fields: Vec<&str> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["chain[1]", "cause"], "{err}");
    }

    proptest! {
        /// Whatever validates re-encodes to the same route.
        #[test]
        fn valid_routes_round_trip(
            consumer in "[a-z:0-9]{1,20}",
            query in "[ -~]{1,60}",
            producers in proptest::collection::vec("[a-z_]{1,8}", 0..5),
            switches in 0u64..3,
            cause in proptest::sample::select(CAUSES),
        ) {
            let chain: Vec<AdvertKeyWire> = producers
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|p| AdvertKeyWire { producer: p.clone(), topic: "imu".into() })
                .collect();
            let mut wire = ConsumerRoute::starting(identity(), query, 1).to_wire();
            wire.consumer = consumer;
            wire.chain_len = chain.len() as u32;
            wire.active = chain.first().cloned().unwrap_or(wire.active);
            wire.chain = chain;
            wire.switches = switches;
            if switches > 0 {
                wire.cause = cause.to_owned();
                wire.explanation = "why".into();
            }
            let route = ConsumerRoute::from_wire(&wire).unwrap();
            prop_assert_eq!(route.to_wire(), wire);
        }
    }
}
