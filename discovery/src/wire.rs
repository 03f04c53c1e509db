//! What travels on the vigil DDS topics, exactly as it is encoded.
//!
//! These are the wire structs: plain fields, CDR-encoded by rustdds's CDR
//! adapters through serde. They are deliberately dumb: decoding never trusts
//! them, and [`crate::advert`] turns a received struct into a validated
//! advert or a precise rejection. Every struct starts with a `version` so the
//! format can evolve: a receiver rejects a major version it does not know.
//!
//! Changing a field here changes the protocol: bump [`WIRE_VERSION`].
//! The one exception is a field *appended* at the end of a struct, read as
//! absent from older writers: CDR has no field tags, but an older reader
//! stops after the last field it knows (rustdds's deserializer ignores
//! trailing bytes) and a newer reader finds the sample's end where the new
//! field would start. Such a field keeps the version (old and new builds
//! still understand each other) and says since which revision it exists
//! ([`WIRE_REVISION`]); its absence must mean what older writers meant.
//!
//! # Wire v2 (issue 14)
//!
//! Wire v2 adds one thing: the [`HEARTBEAT_BUNDLE_TOPIC`], on which a
//! participant sends, once per heartbeat period, one
//! [`HeartbeatBundleWire`] for all the (producer, topic)s it advertises
//! instead of one [`HeartbeatWire`] each. Everything a v1 build reads
//! keeps [`WIRE_VERSION`] 1: the only change to those structs is
//! [`HeartbeatWire::topic`], appended (revision 5). A v2 build therefore
//! reads everything a v1 build writes, and the question during an upgrade
//! is only what a v2 *writer* sends.
//!
//! **Negotiation.** A v2 writer sends bundles while no v1 reader is on the
//! domain, and single v1 heartbeats (with their topic, which v1 readers
//! skip) instead of bundles as long as one is: a v1 reader is a remote
//! participant with a reader on [`HEARTBEAT_TOPIC`] and none on
//! [`HEARTBEAT_BUNDLE_TOPIC`] (every v2 reader creates both, the bundle
//! reader first). The writer looks at DDS discovery's table of remote
//! readers at its start, whenever discovery reports a new reader on
//! either topic, and once a second (a lost reader is reported without its
//! topic). Why this way round and
//! not both at once: sending both would double the traffic the bundle is
//! there to cut and hand v2 readers every heartbeat twice; and the choice
//! needs no new message, since DDS discovery already says who reads what.
//! A v1 reader that joins gets v1 heartbeats from the period after DDS
//! discovery told the writer of it, which is before or about when the
//! reader gets the transient-local adverts. Detection errs on the v1 side: a v2 participant whose bundle reader is
//! not yet discovered reads the v1 heartbeats meanwhile.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The wire format version this build writes and reads.
pub const WIRE_VERSION: u16 = 1;

/// The revision of [`WIRE_VERSION`] this build writes: fields appended
/// since the version's first revision (see the module doc). Not on the
/// wire: a reader tells by the sample's length.
///
/// - 1: the first.
/// - 2: [`AdvertWire::supervisor`]; the [`FAILED_ON_BEHALF_TOPIC`].
/// - 3: the [`CONSUMER_ROUTE_TOPIC`] (a new topic: older builds ignore it).
/// - 4: [`HeartbeatWire::auth`] and [`FailedOnBehalfWire::signature`]
///   appended; [`AdvertWire::signature`] carries a signature (issue 13;
///   the field existed, empty, since revision 1).
/// - 5: [`HeartbeatWire::topic`] appended: a heartbeat speaks for one
///   (producer, topic), so one producer id may advertise several topics
///   that live and die apart (issue 14); the heartbeat bundle topic; the
///   capability overrides topic (`reconfig::CAPABILITY_OVERRIDE_TOPIC`,
///   issue 10). New topics: older builds ignore them.
pub const WIRE_REVISION: u16 = 5;

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
/// The DDS topic carrying heartbeat bundles (wire v2): one sample per
/// participant and period speaks for every producer the participant
/// advertises, as DDS's own participant liveliness does. QoS as
/// [`HEARTBEAT_TOPIC`]'s (best effort, volatile, keep-last 1 per
/// instance), keyed by [`HeartbeatBundleWire::participant`] and
/// [`HeartbeatBundleWire::part`]. See the module doc, *Wire v2*.
pub const HEARTBEAT_BUNDLE_TOPIC: &str = "vigil_heartbeat_bundles";
/// The DDS type name of [`HeartbeatBundleWire`].
pub const HEARTBEAT_BUNDLE_TYPE: &str = "vigil::wire::HeartbeatBundle_v2";
/// The version of [`HeartbeatBundleWire`]: the bundle is what wire v2 adds.
pub const BUNDLE_VERSION: u16 = 2;
/// At most this many entries travel in one bundle sample; a participant
/// with more producers sends several parts. Keeps a sample within one
/// datagram (an entry is 40 to 150 bytes), so a lost fragment never costs
/// every producer its heartbeat, and bounds what a reader accepts.
pub const MAX_BUNDLE_ENTRIES: usize = 64;

/// The DDS topic on which a supervisor says, on a dead child's behalf, that
/// the producers it advertised are FAILED: reliable (each message is an
/// event, none is superseded by a heartbeat), volatile (a late joiner
/// learns nothing of a death it did not see: the producer's lease covers
/// it), keep-last 1 per (supervisor's) child.
pub const FAILED_ON_BEHALF_TOPIC: &str = "vigil_failed_on_behalf";
/// The DDS type name of [`FailedOnBehalfWire`].
pub const FAILED_ON_BEHALF_TYPE: &str = "vigil::wire::FailedOnBehalf_v1";

/// The DDS topic on which each consumer says who it is, what it asks for,
/// whom it follows and why it last switched (revision 3): reliable,
/// transient-local, keep-last [`CONSUMER_ROUTE_HISTORY`] per consumer
/// (keyed by [`ConsumerRouteWire::consumer`]). A late joiner (a monitor,
/// the knowledge base) gets every consumer's current route and its last
/// switches; a reader that stays sees every switch as it happens. A
/// consumer that stops cleanly disposes its instance.
pub const CONSUMER_ROUTE_TOPIC: &str = "vigil_consumer_routes";
/// The DDS type name of [`ConsumerRouteWire`].
pub const CONSUMER_ROUTE_TYPE: &str = "vigil::wire::ConsumerRoute_v1";
/// How many samples per consumer the route topic keeps for late joiners:
/// the current route and the switches before it.
pub const CONSUMER_ROUTE_HISTORY: i32 = 16;

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
///
/// Decoded by hand (not derived) only so that [`AdvertWire::supervisor`],
/// appended in revision 2, may be absent.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    /// Empty, or the producer's Ed25519 signature over every other field,
    /// with its public key and its heartbeats' hash-chain anchor (since
    /// revision 4; layout in `trust::sign`). Older readers ignore it.
    pub signature: Vec<u8>,
    /// Who may say that this producer FAILED on its behalf: the DDS GUID
    /// prefix (12 bytes) of its supervisor's participant, which the child
    /// learned from its environment; empty when unsupervised.
    /// [`FailedOnBehalfWire`] samples are accepted only from a writer with
    /// this prefix. Since revision 2; absent (older writers) reads as empty.
    pub supervisor: Vec<u8>,
}

/// The fields of [`AdvertWire`] in wire order.
const ADVERT_FIELDS: &[&str] = &[
    "version",
    "key",
    "type_name",
    "writer_guid",
    "capabilities",
    "qos",
    "diagnostic_root",
    "health",
    "heartbeat_period_ns",
    "lease_ns",
    "sequence",
    "timestamp_ns",
    "signature",
    "supervisor",
];

impl<'de> Deserialize<'de> for AdvertWire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AdvertWire, D::Error> {
        deserializer.deserialize_struct("AdvertWire", ADVERT_FIELDS, AdvertVisitor)
    }
}

struct AdvertVisitor;

impl<'de> Visitor<'de> for AdvertVisitor {
    type Value = AdvertWire;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a vigil advert")
    }

    /// CDR: fields by position, the appended ones optional.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AdvertWire, A::Error> {
        let mut at = 0;
        macro_rules! next {
            () => {{
                at += 1;
                seq.next_element()?
                    .ok_or_else(|| de::Error::invalid_length(at - 1, &self))?
            }};
        }
        let mut wire = AdvertWire {
            version: next!(),
            key: next!(),
            type_name: next!(),
            writer_guid: next!(),
            capabilities: next!(),
            qos: next!(),
            diagnostic_root: next!(),
            health: next!(),
            heartbeat_period_ns: next!(),
            lease_ns: next!(),
            sequence: next!(),
            timestamp_ns: next!(),
            signature: next!(),
            supervisor: Vec::new(),
        };
        // Revision 2. A revision-1 sample ends here, and the deserializer
        // then fails for want of bytes; any other failure to read it (bytes
        // that do not make a sequence) reads as absent too: the producer is
        // then unsupervised, which refuses every FAILED on its behalf, the
        // safe side. Nothing after it is read.
        let supervisor = seq.next_element::<Vec<u8>>().ok().flatten();
        wire.supervisor = supervisor.unwrap_or_default();
        Ok(wire)
    }

    /// Self-describing formats: by name, the appended fields defaulted.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AdvertWire, A::Error> {
        #[derive(Deserialize)]
        struct Named {
            version: u16,
            key: AdvertKeyWire,
            type_name: String,
            writer_guid: Vec<u8>,
            capabilities: Vec<u8>,
            qos: OfferedQosWire,
            diagnostic_root: String,
            health: HealthWire,
            heartbeat_period_ns: u64,
            lease_ns: u64,
            sequence: u64,
            timestamp_ns: u64,
            signature: Vec<u8>,
            #[serde(default)]
            supervisor: Vec<u8>,
        }
        let n = Named::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(AdvertWire {
            version: n.version,
            key: n.key,
            type_name: n.type_name,
            writer_guid: n.writer_guid,
            capabilities: n.capabilities,
            qos: n.qos,
            diagnostic_root: n.diagnostic_root,
            health: n.health,
            heartbeat_period_ns: n.heartbeat_period_ns,
            lease_ns: n.lease_ns,
            sequence: n.sequence,
            timestamp_ns: n.timestamp_ns,
            signature: n.signature,
            supervisor: n.supervisor,
        })
    }
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
///
/// Decoded by hand (not derived) only so that [`HeartbeatWire::auth`],
/// appended in revision 4, may be absent.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    /// Empty, or the next element of the hash chain the producer's signed
    /// advert commits to (layout in `trust::chain`). Since revision 4;
    /// absent (older writers) reads as empty: unsigned.
    pub auth: Vec<u8>,
    /// The topic of the advert this heartbeat speaks for. Since revision
    /// 5; empty (and absent, from older writers) means what it always
    /// meant: every advert of the producer id.
    pub topic: String,
}

impl<'de> Deserialize<'de> for HeartbeatWire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<HeartbeatWire, D::Error> {
        #[derive(Deserialize)]
        struct Named {
            version: u16,
            producer: String,
            sequence: u64,
            state: u8,
            advert_sequence: u64,
            timestamp_ns: u64,
            #[serde(default)]
            auth: Vec<u8>,
            #[serde(default)]
            topic: String,
        }
        struct HeartbeatVisitor;
        impl<'de> Visitor<'de> for HeartbeatVisitor {
            type Value = HeartbeatWire;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a vigil heartbeat")
            }

            /// CDR: fields by position, the appended one optional (as
            /// [`AdvertWire::supervisor`]: any failure to read it reads as
            /// absent, which is unsigned, the side a policy refuses).
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeartbeatWire, A::Error> {
                let mut at = 0;
                macro_rules! next {
                    () => {{
                        at += 1;
                        seq.next_element()?
                            .ok_or_else(|| de::Error::invalid_length(at - 1, &self))?
                    }};
                }
                let mut wire = HeartbeatWire {
                    version: next!(),
                    producer: next!(),
                    sequence: next!(),
                    state: next!(),
                    advert_sequence: next!(),
                    timestamp_ns: next!(),
                    auth: Vec::new(),
                    topic: String::new(),
                };
                wire.auth = seq
                    .next_element::<Vec<u8>>()
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                // Revision 5, read only after a present `auth` (revision-4
                // writers always wrote it, empty when unsigned): absent or
                // unreadable reads as empty, every topic of the producer,
                // what older writers meant.
                wire.topic = seq
                    .next_element::<String>()
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                Ok(wire)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<HeartbeatWire, A::Error> {
                let n = Named::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(HeartbeatWire {
                    version: n.version,
                    producer: n.producer,
                    sequence: n.sequence,
                    state: n.state,
                    advert_sequence: n.advert_sequence,
                    timestamp_ns: n.timestamp_ns,
                    auth: n.auth,
                    topic: n.topic,
                })
            }
        }
        deserializer.deserialize_struct(
            "HeartbeatWire",
            &[
                "version",
                "producer",
                "sequence",
                "state",
                "advert_sequence",
                "timestamp_ns",
                "auth",
                "topic",
            ],
            HeartbeatVisitor,
        )
    }
}

/// One heartbeat of a participant's period for all its producers (wire
/// v2, [`HEARTBEAT_BUNDLE_TOPIC`]).
///
/// Each entry is one (producer, topic)'s heartbeat: a receiver expands it
/// ([`HeartbeatBundleWire::heartbeats`]) into the [`HeartbeatWire`] that
/// producer would have sent alone and handles it exactly so (validation,
/// hash chain, *Whose heartbeat*: the bundle's writer is the sender).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatBundleWire {
    /// [`BUNDLE_VERSION`] of the writer.
    pub version: u16,
    /// The writing participant's GUID prefix (12 bytes): with `part`, the
    /// instance key, so one participant's bundles never supersede
    /// another's in a reader's keep-last-1 history.
    pub participant: Vec<u8>,
    /// Which part of the period's bundle (a participant with more than
    /// [`MAX_BUNDLE_ENTRIES`] producers sends several).
    pub part: u32,
    /// When it was sent, nanoseconds since the Unix epoch (every entry's
    /// timestamp).
    pub timestamp_ns: u64,
    /// The heartbeats, at most [`MAX_BUNDLE_ENTRIES`].
    pub entries: Vec<BundleEntryWire>,
}

/// The instance key of a [`HeartbeatBundleWire`]: its participant and
/// part.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BundleKeyWire {
    /// [`HeartbeatBundleWire::participant`].
    pub participant: Vec<u8>,
    /// [`HeartbeatBundleWire::part`].
    pub part: u32,
}

/// One producer's heartbeat inside a [`HeartbeatBundleWire`]: the fields
/// of [`HeartbeatWire`] but the version and timestamp, which the bundle
/// carries once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleEntryWire {
    /// Producer id.
    pub producer: String,
    /// The topic of the advert it speaks for (never empty from a v2
    /// writer; empty reads as every advert of the producer).
    pub topic: String,
    /// As [`HeartbeatWire::sequence`].
    pub sequence: u64,
    /// As [`HeartbeatWire::state`].
    pub state: u8,
    /// As [`HeartbeatWire::advert_sequence`].
    pub advert_sequence: u64,
    /// As [`HeartbeatWire::auth`]: the producer's own hash-chain element
    /// when it signs.
    pub auth: Vec<u8>,
}

/// A bundle a reader does not take: the reason, for the rejection count.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Another major version than [`BUNDLE_VERSION`].
    #[error("heartbeat bundle version {found}, this build reads {BUNDLE_VERSION}")]
    Version {
        /// What the sample said.
        found: u16,
    },
    /// More entries than [`MAX_BUNDLE_ENTRIES`].
    #[error("heartbeat bundle with {found} entries, at most {MAX_BUNDLE_ENTRIES} are read")]
    TooLarge {
        /// How many it had.
        found: usize,
    },
}

impl HeartbeatBundleWire {
    /// The single heartbeats this bundle stands for, each as its producer
    /// would have sent it alone; every entry is then validated on its own
    /// ([`Heartbeat::from_wire`](crate::Heartbeat::from_wire)), so one bad
    /// entry costs only its producer. Refused whole when its version or
    /// size is not one this build reads.
    pub fn heartbeats(&self) -> Result<impl Iterator<Item = HeartbeatWire> + '_, BundleError> {
        if self.version != BUNDLE_VERSION {
            return Err(BundleError::Version {
                found: self.version,
            });
        }
        if self.entries.len() > MAX_BUNDLE_ENTRIES {
            return Err(BundleError::TooLarge {
                found: self.entries.len(),
            });
        }
        Ok(self.entries.iter().map(|e| HeartbeatWire {
            version: WIRE_VERSION,
            producer: e.producer.clone(),
            sequence: e.sequence,
            state: e.state,
            advert_sequence: e.advert_sequence,
            timestamp_ns: self.timestamp_ns,
            auth: e.auth.clone(),
            topic: e.topic.clone(),
        }))
    }
}

impl BundleEntryWire {
    /// The entry for a heartbeat built as a single one.
    pub fn of(beat: HeartbeatWire) -> BundleEntryWire {
        BundleEntryWire {
            producer: beat.producer,
            topic: beat.topic,
            sequence: beat.sequence,
            state: beat.state,
            advert_sequence: beat.advert_sequence,
            auth: beat.auth,
        }
    }
}

/// A supervisor's word, on a dead child's behalf, that every producer the
/// child advertised is FAILED (revision 2).
///
/// Receivers apply it to a producer only when the sample's writer has the
/// GUID prefix the producer's own advert names
/// ([`AdvertWire::supervisor`]); the message itself names no supervisor, so
/// nothing in it can claim to be one.
///
/// Decoded by hand (not derived) only so that
/// [`FailedOnBehalfWire::signature`], appended in revision 4, may be
/// absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailedOnBehalfWire {
    /// [`WIRE_VERSION`] of the writer.
    pub version: u16,
    /// The supervisor's id of the child (the instance key).
    pub child: String,
    /// The producer ids the child advertised.
    pub producers: Vec<String>,
    /// Why, for people: `exited: signal 9`, `hung: no WATCHDOG=1 within
    /// 500ms`.
    pub reason: String,
    /// When it was said, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Empty, or the supervisor's Ed25519 signature over every other
    /// field, with its public key (issue 13; layout in `trust::sign`).
    /// Since revision 4; absent (older writers) reads as empty: unsigned.
    pub signature: Vec<u8>,
}

impl<'de> Deserialize<'de> for FailedOnBehalfWire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FailedOnBehalfWire, D::Error> {
        #[derive(Deserialize)]
        struct Named {
            version: u16,
            child: String,
            producers: Vec<String>,
            reason: String,
            timestamp_ns: u64,
            #[serde(default)]
            signature: Vec<u8>,
        }
        struct SaidVisitor;
        impl<'de> Visitor<'de> for SaidVisitor {
            type Value = FailedOnBehalfWire;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a vigil FAILED-on-behalf message")
            }

            /// CDR: fields by position, the appended one optional (as
            /// [`HeartbeatWire::auth`]: any failure to read it reads as
            /// absent, which is unsigned, the side a policy refuses).
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FailedOnBehalfWire, A::Error> {
                let mut at = 0;
                macro_rules! next {
                    () => {{
                        at += 1;
                        seq.next_element()?
                            .ok_or_else(|| de::Error::invalid_length(at - 1, &self))?
                    }};
                }
                let mut wire = FailedOnBehalfWire {
                    version: next!(),
                    child: next!(),
                    producers: next!(),
                    reason: next!(),
                    timestamp_ns: next!(),
                    signature: Vec::new(),
                };
                wire.signature = seq
                    .next_element::<Vec<u8>>()
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                Ok(wire)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FailedOnBehalfWire, A::Error> {
                let n = Named::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FailedOnBehalfWire {
                    version: n.version,
                    child: n.child,
                    producers: n.producers,
                    reason: n.reason,
                    timestamp_ns: n.timestamp_ns,
                    signature: n.signature,
                })
            }
        }
        deserializer.deserialize_struct(
            "FailedOnBehalfWire",
            &[
                "version",
                "child",
                "producers",
                "reason",
                "timestamp_ns",
                "signature",
            ],
            SaidVisitor,
        )
    }
}

/// A consumer's route as it travels on [`CONSUMER_ROUTE_TOPIC`]: one
/// sample when it starts (no switch yet) and one at every switch.
///
/// Optional producers are an [`AdvertKeyWire`] with an empty producer id
/// (CDR has no optional fields). Validated by
/// [`ConsumerRoute::from_wire`](crate::ConsumerRoute::from_wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRouteWire {
    /// [`WIRE_VERSION`] of the writer.
    pub version: u16,
    /// The consumer's id (the instance key): `vigil consume --id`, by
    /// default `<host>:<pid>`.
    pub consumer: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its constraint query, as it prints back (parses to the same query).
    pub query: String,
    /// The producer it follows now; empty producer id: none qualifies.
    pub active: AdvertKeyWire,
    /// The next candidate (kept warm in hot-standby mode); empty: none.
    pub standby: AdvertKeyWire,
    /// The head of its fallback chain, best first (at most
    /// [`EVENT_CHAIN_MAX`](crate::EVENT_CHAIN_MAX) entries).
    pub chain: Vec<AdvertKeyWire>,
    /// The length of the whole chain.
    pub chain_len: u32,
    /// How many switches it made so far; 0: this is its starting sample and
    /// the switch fields below are empty.
    pub switches: u64,
    /// The producer the last switch left; empty: none.
    pub previous: AdvertKeyWire,
    /// The last switch's cause as a stable label (`active_failed`,
    /// `active_unreachable`, ... as
    /// [`SwitchCause::label`](crate::SwitchCause::label)); empty before
    /// the first switch.
    pub cause: String,
    /// The last switch's cause for people (`active producer is FAILED`).
    pub explanation: String,
    /// When the last switch was decided, nanoseconds since the Unix epoch
    /// (0 before the first).
    pub switched_at_ns: u64,
    /// When this sample was written, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

#[cfg(test)]
mod tests {
    use rustdds::no_key::{DeserializerAdapter, SerializerAdapter};
    use rustdds::{CDRDeserializerAdapter, CDRSerializerAdapter, RepresentationIdentifier};

    use super::*;

    /// An advert as a revision-1 build wrote and read it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct AdvertWireRev1 {
        version: u16,
        key: AdvertKeyWire,
        type_name: String,
        writer_guid: Vec<u8>,
        capabilities: Vec<u8>,
        qos: OfferedQosWire,
        diagnostic_root: String,
        health: HealthWire,
        heartbeat_period_ns: u64,
        lease_ns: u64,
        sequence: u64,
        timestamp_ns: u64,
        signature: Vec<u8>,
    }

    fn rev1(signature_len: usize) -> AdvertWireRev1 {
        AdvertWireRev1 {
            version: WIRE_VERSION,
            key: AdvertKeyWire {
                producer: "imu_a".into(),
                topic: "imu".into(),
            },
            type_name: "t".into(),
            writer_guid: vec![1; 16],
            capabilities: vec![],
            qos: OfferedQosWire::default(),
            diagnostic_root: String::new(),
            health: HealthWire {
                state: 0,
                reason: NOT_SET,
                confidence: 1.0,
                trend: 0,
                nodes: vec![],
            },
            heartbeat_period_ns: 20,
            lease_ns: 100,
            sequence: 3,
            timestamp_ns: 4,
            signature: vec![0xee; signature_len],
        }
    }

    /// As rustdds's writers encode (little endian).
    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        CDRSerializerAdapter::<T>::to_bytes(value)
            .expect("encodes")
            .to_vec()
    }

    #[test]
    fn revision_1_and_2_read_each_other() {
        {
            let le = RepresentationIdentifier::CDR_LE;
            // Every end alignment of the last revision-1 field.
            for signature_len in 0..5 {
                let old = rev1(signature_len);
                let bytes = encode(&old);
                let new = CDRDeserializerAdapter::<AdvertWire>::from_bytes(&bytes, le)
                    .expect("a revision-1 advert still reads");
                assert!(new.supervisor.is_empty());
                assert_eq!(new.signature, old.signature);
                assert_eq!(new.sequence, 3);

                let supervised = AdvertWire {
                    supervisor: vec![7; 12],
                    ..new
                };
                let bytes = encode(&supervised);
                let back = CDRDeserializerAdapter::<AdvertWire>::from_bytes(&bytes, le)
                    .expect("revision 2 reads");
                assert_eq!(back, supervised);
                let seen_by_old = CDRDeserializerAdapter::<AdvertWireRev1>::from_bytes(&bytes, le)
                    .expect("a revision-1 reader ignores the appended field");
                assert_eq!(seen_by_old, old);
            }
        }
    }

    /// A heartbeat as a revision-1/2 build wrote and read it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct HeartbeatWireRev2 {
        version: u16,
        producer: String,
        sequence: u64,
        state: u8,
        advert_sequence: u64,
        timestamp_ns: u64,
    }

    #[test]
    fn heartbeat_revisions_read_each_other() {
        let le = RepresentationIdentifier::CDR_LE;
        for len in 0..6 {
            let old = HeartbeatWireRev2 {
                version: WIRE_VERSION,
                producer: "p".repeat(len),
                sequence: 1,
                state: 0,
                advert_sequence: 2,
                timestamp_ns: 3,
            };
            let new = CDRDeserializerAdapter::<HeartbeatWire>::from_bytes(&encode(&old), le)
                .expect("an older heartbeat reads");
            assert!(new.auth.is_empty());
            let signed = HeartbeatWire {
                auth: vec![1; 45],
                ..new
            };
            let bytes = encode(&signed);
            let back = CDRDeserializerAdapter::<HeartbeatWire>::from_bytes(&bytes, le).unwrap();
            assert_eq!(back, signed);
            let seen_by_old =
                CDRDeserializerAdapter::<HeartbeatWireRev2>::from_bytes(&bytes, le).unwrap();
            assert_eq!(seen_by_old, old);
        }
        let json = serde_json::to_value(HeartbeatWireRev2 {
            version: 1,
            producer: "p".into(),
            sequence: 1,
            state: 0,
            advert_sequence: 1,
            timestamp_ns: 0,
        })
        .unwrap();
        let back: HeartbeatWire = serde_json::from_value(json).unwrap();
        assert!(back.auth.is_empty());
        assert!(back.topic.is_empty());
    }

    /// A heartbeat as a revision-4 build wrote and read it (signed or
    /// not, no topic).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct HeartbeatWireRev4 {
        version: u16,
        producer: String,
        sequence: u64,
        state: u8,
        advert_sequence: u64,
        timestamp_ns: u64,
        auth: Vec<u8>,
    }

    /// Issue 14: a revision-5 heartbeat names its topic; revision-4
    /// readers still read it (and speak for every topic, as they always
    /// did), and a revision-4 heartbeat reads as speaking for every topic.
    #[test]
    fn heartbeat_topic_revision_5_and_4_read_each_other() {
        let le = RepresentationIdentifier::CDR_LE;
        // Every end alignment of the last revision-4 field.
        for auth_len in [0, 1, 2, 3, 45, 46, 47, 48] {
            let old = HeartbeatWireRev4 {
                version: WIRE_VERSION,
                producer: "imu_a".into(),
                sequence: 9,
                state: 2,
                advert_sequence: 4,
                timestamp_ns: 5,
                auth: vec![3; auth_len],
            };
            let new = CDRDeserializerAdapter::<HeartbeatWire>::from_bytes(&encode(&old), le)
                .expect("a revision-4 heartbeat reads");
            assert!(new.topic.is_empty(), "auth {auth_len}: {new:?}");
            assert_eq!(new.auth, old.auth);
            for topic in ["i", "imu", "imu_raw", "gps_fix"] {
                let named = HeartbeatWire {
                    topic: topic.into(),
                    ..new.clone()
                };
                let bytes = encode(&named);
                let back = CDRDeserializerAdapter::<HeartbeatWire>::from_bytes(&bytes, le)
                    .expect("revision 5 reads");
                assert_eq!(back, named);
                let seen_by_old =
                    CDRDeserializerAdapter::<HeartbeatWireRev4>::from_bytes(&bytes, le)
                        .expect("a revision-4 reader ignores the topic");
                assert_eq!(seen_by_old, old);
            }
        }
        let json = serde_json::to_value(HeartbeatWireRev4 {
            version: 1,
            producer: "p".into(),
            sequence: 1,
            state: 0,
            advert_sequence: 1,
            timestamp_ns: 0,
            auth: vec![1],
        })
        .unwrap();
        let back: HeartbeatWire = serde_json::from_value(json).unwrap();
        assert!(back.topic.is_empty());
    }

    #[test]
    fn self_describing_formats_default_the_appended_field() {
        let json = serde_json::to_value(rev1(0)).unwrap();
        let new: AdvertWire = serde_json::from_value(json).unwrap();
        assert!(new.supervisor.is_empty());
        let again: AdvertWire =
            serde_json::from_value(serde_json::to_value(&new).unwrap()).unwrap();
        assert_eq!(again, new);
    }

    /// Wire v2: a bundle stands for the single heartbeats of its
    /// entries, each with the bundle's timestamp; it survives CDR; a
    /// bundle of another version or over the limit is refused whole.
    #[test]
    fn a_bundle_expands_to_the_single_heartbeats_it_stands_for() {
        let le = RepresentationIdentifier::CDR_LE;
        let single = |producer: &str, topic: &str, auth: Vec<u8>| HeartbeatWire {
            version: WIRE_VERSION,
            producer: producer.into(),
            sequence: 7,
            state: 2,
            advert_sequence: 3,
            timestamp_ns: 99,
            auth,
            topic: topic.into(),
        };
        let beats = vec![
            single("imu_a", "imu", vec![]),
            single("imu_a", "imu_raw", vec![5; 45]),
            single("gps", "fix", vec![1]),
        ];
        let bundle = HeartbeatBundleWire {
            version: BUNDLE_VERSION,
            participant: vec![4; 12],
            part: 0,
            timestamp_ns: 99,
            entries: beats.iter().cloned().map(BundleEntryWire::of).collect(),
        };
        let back = CDRDeserializerAdapter::<HeartbeatBundleWire>::from_bytes(&encode(&bundle), le)
            .expect("a bundle reads");
        assert_eq!(back, bundle);
        let expanded: Vec<HeartbeatWire> = back.heartbeats().expect("readable").collect();
        assert_eq!(expanded, beats);

        let future = HeartbeatBundleWire {
            version: BUNDLE_VERSION + 1,
            ..bundle.clone()
        };
        assert_eq!(
            future.heartbeats().err(),
            Some(BundleError::Version {
                found: BUNDLE_VERSION + 1
            })
        );
        let huge = HeartbeatBundleWire {
            entries: vec![BundleEntryWire::of(beats[0].clone()); MAX_BUNDLE_ENTRIES + 1],
            ..bundle
        };
        assert!(matches!(
            huge.heartbeats().err(),
            Some(BundleError::TooLarge { found }) if found == MAX_BUNDLE_ENTRIES + 1
        ));
    }

    proptest::proptest! {
        /// Any bundle of up to the limit survives CDR, and expands to
        /// exactly the single heartbeats it was made of.
        #[test]
        fn bundles_round_trip_to_their_heartbeats(
            entries in proptest::collection::vec(
                (
                    "[a-z_]{1,12}",
                    "[a-z_]{0,12}",
                    proptest::num::u64::ANY,
                    0u8..5,
                    proptest::num::u64::ANY,
                    proptest::collection::vec(proptest::num::u8::ANY, 0..50),
                ),
                0..=MAX_BUNDLE_ENTRIES,
            ),
            timestamp_ns in proptest::num::u64::ANY,
            part in proptest::num::u32::ANY,
        ) {
            let beats: Vec<HeartbeatWire> = entries
                .into_iter()
                .map(|(producer, topic, sequence, state, advert_sequence, auth)| HeartbeatWire {
                    version: WIRE_VERSION,
                    producer,
                    sequence,
                    state,
                    advert_sequence,
                    timestamp_ns,
                    auth,
                    topic,
                })
                .collect();
            let bundle = HeartbeatBundleWire {
                version: BUNDLE_VERSION,
                participant: vec![1; 12],
                part,
                timestamp_ns,
                entries: beats.iter().cloned().map(BundleEntryWire::of).collect(),
            };
            let back = CDRDeserializerAdapter::<HeartbeatBundleWire>::from_bytes(
                &encode(&bundle),
                RepresentationIdentifier::CDR_LE,
            )
            .expect("decodes");
            proptest::prop_assert_eq!(&back, &bundle);
            let expanded: Vec<HeartbeatWire> = back.heartbeats().expect("readable").collect();
            proptest::prop_assert_eq!(expanded, beats);
        }
    }

    /// The fuzz seed of bundles is a real encoding: two producers, one
    /// signed.
    #[test]
    fn bundle_seed_is_a_real_encoding() {
        let entry = |producer: &str, topic: &str, auth: Vec<u8>| BundleEntryWire {
            producer: producer.into(),
            topic: topic.into(),
            sequence: 41,
            state: 0,
            advert_sequence: 2,
            auth,
        };
        let bundle = HeartbeatBundleWire {
            version: BUNDLE_VERSION,
            participant: vec![1, 15, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9],
            part: 0,
            timestamp_ns: 1_764_755_000_000_000_000,
            entries: vec![
                entry("imu_a", "imu", vec![]),
                entry("imu_a", "imu_raw", vec![9; 45]),
            ],
        };
        let seed = include_bytes!("../../fuzz/seeds/advert_decode/heartbeat_bundle.bin");
        let bytes = encode(&bundle);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(seed.as_slice(), bytes.as_slice(), "encoding: {hex}");
    }

    /// The fuzz seed is a real encoding, as a revision-2 supervisor's
    /// writer sends it (no signature): this build reads it as unsigned,
    /// and writes the same bytes followed by the (here empty) signature.
    #[test]
    fn failed_on_behalf_seed_is_a_real_encoding() {
        let said = FailedOnBehalfWire {
            version: WIRE_VERSION,
            child: "imu_child".into(),
            producers: vec!["imu_a".into(), "imu_a_raw".into()],
            reason: "exited: signal 9".into(),
            timestamp_ns: 1_764_755_000_000_000_000,
            signature: vec![],
        };
        let seed = include_bytes!("../../fuzz/seeds/advert_decode/failed_on_behalf.bin");
        let bytes = encode(&said);
        assert_eq!(&bytes[..seed.len()], seed.as_slice());
        assert_eq!(&bytes[seed.len()..], &[0, 0, 0, 0]);
        let back = CDRDeserializerAdapter::<FailedOnBehalfWire>::from_bytes(
            seed,
            RepresentationIdentifier::CDR_LE,
        )
        .expect("decodes");
        assert_eq!(back, said);
        let signed = FailedOnBehalfWire {
            signature: vec![7; 97],
            ..said
        };
        let back = CDRDeserializerAdapter::<FailedOnBehalfWire>::from_bytes(
            &encode(&signed),
            RepresentationIdentifier::CDR_LE,
        )
        .expect("decodes");
        assert_eq!(back, signed);
    }
}
