//! What travels on the vigil DDS topics, exactly as it is encoded.
//!
//! These are the wire structs: plain fields, CDR-encoded by rustdds's CDR
//! adapters through serde. They are deliberately dumb: decoding never trusts
//! them, and [`crate::advert`] turns a received struct into a validated
//! advert or a precise rejection. Every struct starts with a `version` so the
//! format can evolve: a receiver rejects a major version it does not know.
//!
//! Changing a field here changes the protocol: bump [`WIRE_VERSION`].

use serde::{Deserialize, Serialize};

/// The wire format version this build writes and reads.
pub const WIRE_VERSION: u16 = 1;

/// The DDS topic carrying adverts: reliable, transient-local, keep-last 1 per
/// instance, keyed by producer and topic, so late joiners get the current set.
pub const ADVERT_TOPIC: &str = "vigil_adverts";
/// The DDS type name of [`AdvertWire`].
pub const ADVERT_TYPE: &str = "vigil::wire::Advert_v1";
/// The DDS topic carrying producer heartbeats: best effort (a lost heartbeat
/// is superseded by the next, never repaired), volatile, keep-last 1 per
/// producer.
pub const HEARTBEAT_TOPIC: &str = "vigil_heartbeats";
/// The DDS type name of [`HeartbeatWire`].
pub const HEARTBEAT_TYPE: &str = "vigil::wire::Heartbeat_v1";

/// Marks an optional enum-coded field as not set (the DDS default applies).
pub const NOT_SET: u8 = u8::MAX;

/// The key of an advert instance: one producer may publish several topics.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AdvertKeyWire {
    /// Producer id.
    pub producer: String,
    /// Topic name.
    pub topic: String,
}

/// An advert as it travels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvertWire {
    /// [`WIRE_VERSION`] of the writer.
    pub version: u16,
    /// Instance key: producer id and topic.
    pub key: AdvertKeyWire,
    /// DDS type name of the data topic (`sensor_msgs::msg::dds_::Imu_`).
    pub type_name: String,
    /// GUID of the DDS DataWriter that publishes the data (16 bytes: prefix
    /// and entity id), so consumers follow one producer by filtering on it.
    pub writer_guid: Vec<u8>,
    /// The capability vector in vigil-qos's versioned CDR encoding.
    pub capabilities: Vec<u8>,
    /// The DDS QoS the data writer offers.
    pub qos: OfferedQosWire,
    /// Root path of the producer's diagnostic subtree; empty for none.
    pub diagnostic_root: String,
    /// Health summary.
    pub health: HealthWire,
    /// Heartbeat period the producer promises, in nanoseconds.
    pub heartbeat_period_ns: u64,
    /// How long after its last heartbeat the producer counts as unreachable,
    /// in nanoseconds.
    pub lease_ns: u64,
    /// Incremented by the producer at every change of this advert.
    pub sequence: u64,
    /// When the producer made this advert, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Reserved for a signature over the other fields; empty for now.
    pub signature: Vec<u8>,
}

/// The QoS a data writer offers, as codes. Each `u8` is [`NOT_SET`] when the
/// producer did not say (the DDS default applies).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedQosWire {
    /// 0 best effort, 1 reliable.
    pub reliability: u8,
    /// 0 volatile, 1 transient local, 2 transient, 3 persistent.
    pub durability: u8,
    /// Deadline period in nanoseconds; `u64::MAX` for infinite / not set.
    pub deadline_ns: u64,
    /// 0 automatic, 1 manual by participant, 2 manual by topic.
    pub liveliness: u8,
    /// Liveliness lease in nanoseconds; `u64::MAX` for infinite / not set.
    pub liveliness_lease_ns: u64,
    /// 0 shared, 1 exclusive.
    pub ownership: u8,
    /// 0 by reception timestamp, 1 by source timestamp.
    pub destination_order: u8,
}

/// A health summary as it travels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthWire {
    /// Overall state as its ROS 2 level: 0 OK, 1 DEGRADED, 2 FAILED, 3 UNKNOWN.
    pub state: u8,
    /// Reason when UNKNOWN: 0 no data, 1 stale, 2 conflicting, 3 unreachable;
    /// [`NOT_SET`] otherwise.
    pub reason: u8,
    /// Confidence in `[0, 1]`.
    pub confidence: f32,
    /// 0 stable, 1 degrading, 2 recovering, 3 intermittent.
    pub trend: u8,
    /// States of the nodes of the producer's tree that it publishes, by
    /// absolute path, with state codes as in `state`.
    pub nodes: Vec<NodeStateWire>,
}

/// One node of a [`HealthWire`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStateWire {
    /// Absolute dotted path.
    pub path: String,
    /// State code as in [`HealthWire::state`].
    pub state: u8,
}

/// A producer's periodic sign of life.
///
/// It carries the overall state too, so a consumer learns of a failure from
/// whichever of advert and heartbeat arrives first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatWire {
    /// [`WIRE_VERSION`] of the writer.
    pub version: u16,
    /// Producer id (the instance key).
    pub producer: String,
    /// Incremented at every heartbeat.
    pub sequence: u64,
    /// The producer's overall state code, as in [`HealthWire::state`].
    pub state: u8,
    /// The `sequence` of the producer's latest advert, so a receiver can tell
    /// it missed one.
    pub advert_sequence: u64,
    /// When it was sent, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}
