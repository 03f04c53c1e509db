//! The flight recorder's hook into the core and its exact replay.
//!
//! A shell that drives a [`Registry`] and a selection (the DDS
//! [`Selector`](crate::Selector), the in-process consumer) hands
//! each input, with the time it applied it and what it caused, to an optional
//! [`Recorder`]: a [`RecordedStep`]. The core stays pure: it never sees the
//! recorder, the shell calls it after routing.
//!
//! [`Replayer`] is the other half: the same core, fresh, fed the recorded
//! inputs at their recorded times. Since the core reads no clock and no
//! randomness, it decides the same again, which is what `vigil replay`
//! checks.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_diag::{FlapDamping, Timestamp};
use vigil_qos::{ParseError, Query};

use crate::advert::AdvertKey;
use crate::follow::Follower;
use crate::reconfig::{CapabilityOverrideWire, IsolationWire};
use crate::registry::{Registry, RegistryChange, RegistryConfig, RegistryInput};
use crate::selection::{
    BreakerEvent, BreakerPolicy, SampleArrival, Selection, SelectionEvent, SelectionQuery,
    SwitchPolicy,
};
use crate::wire::{AdvertWire, FailedOnBehalfWire, HeartbeatWire};

/// Where a shell sends what its core did. Called on the routing path:
/// an implementation must return at once (queue, never wait on a disk).
pub trait Recorder: Send + Sync + fmt::Debug {
    /// Once, before the first step: what the core was made with.
    fn session(&self, session: RecordedSession);
    /// After every input and every timer run, once its route is published.
    fn step(&self, step: RecordedStep);
}

/// What a core was made with: enough for [`Replayer::new`] to make the
/// same one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedSession {
    /// The constraint query (as the query prints back); `None` for a
    /// registry-only core (`vigil monitor`).
    pub query: Option<String>,
    /// The switching policy.
    pub policy: RecordedPolicy,
    /// The settle time before the first selection, in nanoseconds.
    pub settle_ns: u64,
    /// The registry's grace, in nanoseconds.
    pub grace_ns: u64,
    /// When the core started, on the core's clock.
    pub start: Timestamp,
}

impl RecordedSession {
    /// A session of a core made at `start`.
    pub fn new(
        query: Option<&Query>,
        policy: &SwitchPolicy,
        settle: Duration,
        grace: Duration,
        start: Timestamp,
    ) -> RecordedSession {
        RecordedSession {
            query: query.map(ToString::to_string),
            policy: RecordedPolicy::from(policy),
            settle_ns: nanos(settle),
            grace_ns: nanos(grace),
            start,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A [`SwitchPolicy`] as plain numbers (durations in nanoseconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // the fields of SwitchPolicy and FlapDamping, flattened
pub struct RecordedPolicy {
    pub hold_off_ns: u64,
    pub wait_to_restore_ns: u64,
    pub revertive: bool,
    pub margin: f64,
    pub flap_penalty: f64,
    pub flap_half_life_ns: u64,
    pub flap_suppress: f64,
    pub flap_reuse: f64,
    /// The circuit breakers (absent in recordings made before issue 14's
    /// breakers were wired: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerPolicy>,
    /// Predictive switching (false in recordings made before it).
    #[serde(default)]
    pub predictive: bool,
}

impl From<&SwitchPolicy> for RecordedPolicy {
    fn from(p: &SwitchPolicy) -> RecordedPolicy {
        RecordedPolicy {
            hold_off_ns: nanos(p.hold_off),
            wait_to_restore_ns: nanos(p.wait_to_restore),
            revertive: p.revertive,
            margin: p.margin,
            flap_penalty: p.flap.penalty,
            flap_half_life_ns: nanos(p.flap.half_life),
            flap_suppress: p.flap.suppress,
            flap_reuse: p.flap.reuse,
            breaker: p.breaker.clone(),
            predictive: p.predictive,
        }
    }
}

impl From<&RecordedPolicy> for SwitchPolicy {
    fn from(p: &RecordedPolicy) -> SwitchPolicy {
        SwitchPolicy {
            hold_off: Duration::from_nanos(p.hold_off_ns),
            wait_to_restore: Duration::from_nanos(p.wait_to_restore_ns),
            revertive: p.revertive,
            margin: p.margin,
            flap: FlapDamping {
                penalty: p.flap_penalty,
                half_life: Duration::from_nanos(p.flap_half_life_ns),
                suppress: p.flap_suppress,
                reuse: p.flap_reuse,
            },
            breaker: p.breaker.clone(),
            predictive: p.predictive,
        }
    }
}

/// One input of the core: a [`RegistryInput`], or the timers' run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // moved once per input, as RegistryInput
pub enum RecordedInput {
    /// An advert sample, and its advert writer when the shell knew it.
    Advert {
        /// The sample.
        wire: AdvertWire,
        /// The advert writer's GUID.
        sender: Option<[u8; 16]>,
    },
    /// A heartbeat sample, and its writer when the shell knew it.
    Heartbeat {
        /// The sample.
        wire: HeartbeatWire,
        /// The heartbeat writer's GUID (absent in recordings made before
        /// issue 13).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender: Option<[u8; 16]>,
    },
    /// A dispose of an advert instance, and by whom when known.
    Disposed {
        /// Which instance.
        key: AdvertKey,
        /// The advert writer's GUID.
        sender: Option<[u8; 16]>,
    },
    /// A supervisor's word that a dead child's producers FAILED.
    FailedOnBehalf {
        /// The sample.
        wire: FailedOnBehalfWire,
        /// Its writer's GUID.
        sender: [u8; 16],
    },
    /// A producer isolated or released.
    Isolation {
        /// The sample.
        wire: IsolationWire,
    },
    /// A producer's capabilities overridden or cleared.
    CapabilityOverride {
        /// The sample.
        wire: CapabilityOverrideWire,
    },
    /// Bytes that did not decode.
    Malformed {
        /// Where they came from.
        source: String,
        /// What the decoder said.
        error: String,
    },
    /// The timers ran (leases, hold-off, wait-to-restore, housekeeping).
    Tick,
    /// Data samples the consumer's data path saw, for the circuit
    /// breakers (recorded only when the policy has them).
    Samples {
        /// Each sample's writer and arrival time, oldest first.
        arrivals: Vec<SampleArrival>,
    },
}

impl From<&RegistryInput> for RecordedInput {
    fn from(input: &RegistryInput) -> RecordedInput {
        match input {
            RegistryInput::Advert(wire) => RecordedInput::Advert {
                wire: wire.clone(),
                sender: None,
            },
            RegistryInput::AdvertFrom { wire, sender } => RecordedInput::Advert {
                wire: wire.clone(),
                sender: Some(*sender),
            },
            RegistryInput::Heartbeat(wire) => RecordedInput::Heartbeat {
                wire: wire.clone(),
                sender: None,
            },
            RegistryInput::HeartbeatFrom { wire, sender } => RecordedInput::Heartbeat {
                wire: wire.clone(),
                sender: Some(*sender),
            },
            RegistryInput::Disposed(key) => RecordedInput::Disposed {
                key: key.clone(),
                sender: None,
            },
            RegistryInput::DisposedBy { key, sender } => RecordedInput::Disposed {
                key: key.clone(),
                sender: Some(*sender),
            },
            RegistryInput::FailedOnBehalf { wire, sender } => RecordedInput::FailedOnBehalf {
                wire: wire.clone(),
                sender: *sender,
            },
            RegistryInput::Isolation(wire) => RecordedInput::Isolation { wire: wire.clone() },
            RegistryInput::CapabilityOverride(wire) => {
                RecordedInput::CapabilityOverride { wire: wire.clone() }
            }
            RegistryInput::Malformed { source, error } => RecordedInput::Malformed {
                source: source.clone(),
                error: error.clone(),
            },
        }
    }
}

impl RecordedInput {
    /// The registry input it was; `None` for [`RecordedInput::Tick`] and
    /// [`RecordedInput::Samples`].
    pub fn to_registry_input(&self) -> Option<RegistryInput> {
        Some(match self.clone() {
            RecordedInput::Advert { wire, sender } => match sender {
                Some(sender) => RegistryInput::AdvertFrom { wire, sender },
                None => RegistryInput::Advert(wire),
            },
            RecordedInput::Heartbeat { wire, sender } => match sender {
                Some(sender) => RegistryInput::HeartbeatFrom { wire, sender },
                None => RegistryInput::Heartbeat(wire),
            },
            RecordedInput::Disposed { key, sender } => match sender {
                Some(sender) => RegistryInput::DisposedBy { key, sender },
                None => RegistryInput::Disposed(key),
            },
            RecordedInput::FailedOnBehalf { wire, sender } => {
                RegistryInput::FailedOnBehalf { wire, sender }
            }
            RecordedInput::Malformed { source, error } => {
                RegistryInput::Malformed { source, error }
            }
            RecordedInput::Isolation { wire } => RegistryInput::Isolation(wire),
            RecordedInput::CapabilityOverride { wire } => RegistryInput::CapabilityOverride(wire),
            RecordedInput::Tick | RecordedInput::Samples { .. } => return None,
        })
    }
}

/// One input, when the core took it, and every decision it caused.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedStep {
    /// When, on the core's clock.
    pub at: Timestamp,
    /// What came in.
    pub input: RecordedInput,
    /// What it changed in the registry.
    pub changes: Vec<RegistryChange>,
    /// What the selection decided.
    pub events: Vec<SelectionEvent>,
    /// What the circuit breakers did (issue 14; empty without them).
    pub breakers: Vec<BreakerEvent>,
}

/// A fresh core fed recorded inputs: what it decides is what the recorded
/// core would decide, given the same session.
#[derive(Debug)]
pub struct Replayer {
    registry: Registry,
    follower: Follower,
}

impl Replayer {
    /// The core `session` describes (change its query or policy first to
    /// ask "what if").
    pub fn new(session: &RecordedSession) -> Result<Replayer, ParseError> {
        let selection = match &session.query {
            Some(text) => {
                let query = Query::parse(text)?;
                Some(Selection::new(
                    SelectionQuery::new(&query),
                    SwitchPolicy::from(&session.policy),
                ))
            }
            None => None,
        };
        Ok(Replayer {
            registry: Registry::new(RegistryConfig {
                grace: Duration::from_nanos(session.grace_ns),
            }),
            follower: Follower::new(
                selection,
                session.start,
                Duration::from_nanos(session.settle_ns),
            ),
        })
    }

    /// Takes one input at `at`, as the shell did; returns what it decided.
    pub fn step(
        &mut self,
        at: Timestamp,
        input: &RecordedInput,
    ) -> (Vec<RegistryChange>, Vec<SelectionEvent>) {
        if let RecordedInput::Samples { arrivals } = input {
            let events = self.follower.on_samples(&self.registry, arrivals, at);
            return (Vec::new(), events);
        }
        match input.to_registry_input() {
            Some(input) => {
                let changes = self.registry.apply(input, at);
                let events = self.follower.on_changes(&self.registry, &changes, at);
                (changes, events)
            }
            None => self.follower.tick(&self.registry, at),
        }
    }

    /// The circuit breakers' transitions since the last call: what the
    /// recorded core's breakers did, replayed.
    pub fn take_breaker_events(&mut self) -> Vec<BreakerEvent> {
        self.follower.take_breaker_events()
    }

    /// The registry as replayed so far.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Its whole state now: a replay resumed from it
    /// ([`Replayer::resume`]) decides what this one would decide next.
    pub fn snapshot(&self) -> CoreSnapshot {
        CoreSnapshot {
            registry: self.registry.save(),
            follower: self.follower.save(),
        }
    }

    /// The core `session` describes, in the state `snapshot` holds (taken
    /// from a core of the same session). A snapshot that does not fit the
    /// session, or holds an advert that does not decode, is an error
    /// saying what.
    pub fn resume(session: &RecordedSession, snapshot: &CoreSnapshot) -> Result<Replayer, String> {
        let mut replayer =
            Replayer::new(session).map_err(|e| format!("the recorded query: {e}"))?;
        replayer.registry = Registry::restore(
            RegistryConfig {
                grace: Duration::from_nanos(session.grace_ns),
            },
            &snapshot.registry,
        )?;
        replayer
            .follower
            .restore(&replayer.registry, &snapshot.follower)?;
        Ok(replayer)
    }
}

/// A core's whole state as plain data (serde): the registry's entries as
/// they stand, and what only history made of the selection (who is
/// active, the running hold-off and wait-to-restore times, flap
/// penalties). What a rotated recording's later segment starts from, so
/// that every segment replays exactly on its own. Opaque: its fields are
/// the core's business; a snapshot is read back by the same version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoreSnapshot {
    registry: crate::registry::RegistrySnapshot,
    follower: crate::follow::FollowerSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_round_trips() {
        let policy = SwitchPolicy {
            hold_off: Duration::from_millis(7),
            revertive: false,
            margin: 0.25,
            ..SwitchPolicy::default()
        };
        assert_eq!(SwitchPolicy::from(&RecordedPolicy::from(&policy)), policy);
    }

    #[test]
    fn inputs_round_trip_through_json() {
        let inputs = [
            RecordedInput::Tick,
            RecordedInput::Disposed {
                key: AdvertKey::new("imu_a", "imu"),
                sender: Some([7; 16]),
            },
            RecordedInput::Malformed {
                source: "a sample".into(),
                error: "truncated".into(),
            },
        ];
        for input in inputs {
            let text = serde_json::to_string(&input).unwrap();
            let back: RecordedInput = serde_json::from_str(&text).unwrap();
            assert_eq!(back, input, "{text}");
        }
    }
}
