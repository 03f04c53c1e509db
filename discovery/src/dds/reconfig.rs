//! The DDS side of [`crate::reconfig`]: the engine's writers of isolations
//! and of its mode, and the readers consumers use.

use rustdds::policy::{Durability, History, Reliability};
use rustdds::{Keyed, QosPolicies, QosPolicyBuilder, TopicKind};

use super::participant::{CdrReader, CdrWriter};
use super::sample::unix_now_ns;
use super::{DdsError, VigilParticipant};
use crate::reconfig::{
    CapabilityOverrideWire, IsolationWire, ModeWire, CAPABILITY_OVERRIDE_TOPIC,
    CAPABILITY_OVERRIDE_TYPE, ISOLATION_TOPIC, ISOLATION_TYPE, MODE_TOPIC, MODE_TYPE,
};
use crate::wire::WIRE_VERSION;

// One instance per producer: a release supersedes the isolation.
impl Keyed for IsolationWire {
    type K = String;

    fn key(&self) -> String {
        self.producer.clone()
    }
}

// One instance per producer: the latest override (or clearing) holds.
impl Keyed for CapabilityOverrideWire {
    type K = String;

    fn key(&self) -> String {
        self.producer.clone()
    }
}

// One instance per engine: its latest mode is the one that holds.
impl Keyed for ModeWire {
    type K = String;

    fn key(&self) -> String {
        self.engine.clone()
    }
}

/// QoS of the isolation and mode topics: reliable, transient-local (a
/// consumer that starts later learns who is isolated and the mode now),
/// keep-last 1 per instance (only the latest word counts).
pub fn reconfig_qos() -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(Reliability::Reliable {
            max_blocking_time: rustdds::Duration::ZERO,
        })
        .durability(Durability::TransientLocal)
        .history(History::KeepLast { depth: 1 })
        .build()
}

fn topic(
    participant: &VigilParticipant,
    name: &str,
    type_name: &str,
) -> Result<rustdds::Topic, DdsError> {
    participant
        .dds()
        .create_topic(
            name.to_owned(),
            type_name.to_owned(),
            &reconfig_qos(),
            TopicKind::WithKey,
        )
        .map_err(|e| DdsError::create("topic", name, e))
}

/// A reader of the isolation topic (the selector feeds it to its registry).
pub(crate) fn isolation_reader(
    participant: &VigilParticipant,
) -> Result<CdrReader<IsolationWire>, DdsError> {
    let topic = topic(participant, ISOLATION_TOPIC, ISOLATION_TYPE)?;
    participant
        .subscriber()
        .create_datareader_cdr::<IsolationWire>(&topic, Some(reconfig_qos()))
        .map_err(|e| DdsError::create("isolation reader", ISOLATION_TOPIC, e))
}

/// A reader of the capability overrides topic (the selector feeds it to
/// its registry).
pub(crate) fn capability_override_reader(
    participant: &VigilParticipant,
) -> Result<CdrReader<CapabilityOverrideWire>, DdsError> {
    let topic = topic(
        participant,
        CAPABILITY_OVERRIDE_TOPIC,
        CAPABILITY_OVERRIDE_TYPE,
    )?;
    participant
        .subscriber()
        .create_datareader_cdr::<CapabilityOverrideWire>(&topic, Some(reconfig_qos()))
        .map_err(|e| DdsError::create("capability override reader", CAPABILITY_OVERRIDE_TOPIC, e))
}

/// A reader of the mode topic: what `vigil consume --query-in` follows.
pub fn mode_reader(participant: &VigilParticipant) -> Result<CdrReader<ModeWire>, DdsError> {
    let topic = topic(participant, MODE_TOPIC, MODE_TYPE)?;
    participant
        .subscriber()
        .create_datareader_cdr::<ModeWire>(&topic, Some(reconfig_qos()))
        .map_err(|e| DdsError::create("mode reader", MODE_TOPIC, e))
}

/// The engine's voice: isolations, releases, its mode and the capability
/// overrides the mode holds.
pub struct ReconfigPublisher {
    isolations: CdrWriter<IsolationWire>,
    modes: CdrWriter<ModeWire>,
    overrides: CdrWriter<CapabilityOverrideWire>,
    engine: String,
}

impl std::fmt::Debug for ReconfigPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconfigPublisher")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl ReconfigPublisher {
    /// Writers on `participant` for the engine named `engine`.
    pub fn new(participant: &VigilParticipant, engine: &str) -> Result<Self, DdsError> {
        let isolations = topic(participant, ISOLATION_TOPIC, ISOLATION_TYPE)?;
        let modes = topic(participant, MODE_TOPIC, MODE_TYPE)?;
        let overrides = topic(
            participant,
            CAPABILITY_OVERRIDE_TOPIC,
            CAPABILITY_OVERRIDE_TYPE,
        )?;
        Ok(ReconfigPublisher {
            isolations: participant
                .publisher()
                .create_datawriter_cdr::<IsolationWire>(&isolations, Some(reconfig_qos()))
                .map_err(|e| DdsError::create("isolation writer", ISOLATION_TOPIC, e))?,
            modes: participant
                .publisher()
                .create_datawriter_cdr::<ModeWire>(&modes, Some(reconfig_qos()))
                .map_err(|e| DdsError::create("mode writer", MODE_TOPIC, e))?,
            overrides: participant
                .publisher()
                .create_datawriter_cdr::<CapabilityOverrideWire>(&overrides, Some(reconfig_qos()))
                .map_err(|e| {
                    DdsError::create("capability override writer", CAPABILITY_OVERRIDE_TOPIC, e)
                })?,
            engine: engine.to_owned(),
        })
    }

    /// Isolates (`reason` is `Some`) or releases `producer`. What
    /// consumers would refuse is refused here, with the reason.
    pub fn isolation(&self, producer: &str, reason: Option<&str>) -> Result<(), DdsError> {
        let wire = IsolationWire {
            version: WIRE_VERSION,
            producer: producer.to_owned(),
            isolated: reason.is_some(),
            reason: reason.unwrap_or_default().to_owned(),
            by: self.engine.clone(),
            timestamp_ns: unix_now_ns(),
        };
        wire.validate().map_err(|e| DdsError::Config {
            reason: e.to_string(),
        })?;
        self.isolations
            .write(wire, None)
            .map_err(|e| DdsError::write(ISOLATION_TOPIC, e))
    }

    /// Publishes the mode now, the one before and why.
    pub fn mode(&self, mode: &str, from: &str, cause: &str) -> Result<(), DdsError> {
        let wire = ModeWire {
            version: WIRE_VERSION,
            engine: self.engine.clone(),
            mode: mode.to_owned(),
            from: from.to_owned(),
            cause: cause.to_owned(),
            timestamp_ns: unix_now_ns(),
        };
        wire.validate().map_err(|e| DdsError::Config {
            reason: e.to_string(),
        })?;
        self.modes
            .write(wire, None)
            .map_err(|e| DdsError::write(MODE_TOPIC, e))
    }

    /// Overrides `producer`'s capabilities with `values` while `mode`
    /// holds; an empty set clears the override.
    pub fn capabilities(
        &self,
        producer: &str,
        values: &vigil_qos::Capabilities,
        mode: &str,
    ) -> Result<(), DdsError> {
        let wire = CapabilityOverrideWire {
            version: WIRE_VERSION,
            producer: producer.to_owned(),
            capabilities: values.encode_cdr(),
            mode: mode.to_owned(),
            by: self.engine.clone(),
            timestamp_ns: unix_now_ns(),
        };
        wire.validate().map_err(|e| DdsError::Config {
            reason: e.to_string(),
        })?;
        self.overrides
            .write(wire, None)
            .map_err(|e| DdsError::write(CAPABILITY_OVERRIDE_TOPIC, e))
    }
}
