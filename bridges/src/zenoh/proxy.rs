//! A Zenoh producer as DDS sees it: a raw data writer on its topic and an
//! [`Advertiser`] that advertises that writer with the producer's
//! capabilities and health, so DDS consumers select it, follow its writer
//! GUID and fail over from it like from any DDS producer.
//!
//! # The proxy's tree
//!
//! ```text
//! <producer>        worst: the advert's health
//!   health          status: the state and reason the Zenoh advert reports
//!   fresh           heartbeat: UNKNOWN(stale) after the topic's
//!                   `stale_after` without a sample written on DDS
//! ```
//!
//! `<producer>` is the producer id made a path label. Confidence and trend
//! are the tree's, not the Zenoh advert's: vigil's advert health always
//! comes from a tree.
//!
//! Until its first sample, `fresh` is UNKNOWN (no data), and so is the
//! advert: a producer whose data has never reached DDS is not one a
//! consumer should select, whatever its own advert says. A producer that
//! stops publishing but keeps its session (and so its liveliness token) is
//! UNKNOWN (stale) `stale_after` later, and consumers fail over.

use std::time::Duration;

use rustdds::{Topic, TopicKind};
use vigil_diag::{
    CheckSpec, NodeBody, NodeSpec, Observation, Path, Rule, Timestamp, Tree, TreeSpec,
};
use vigil_discovery::clock::{dds_timestamp, now, unix_now_ns};
use vigil_discovery::{
    data_qos, guid_of, supervisor_from_env, Advertiser, AdvertiserConfig, DdsError, KeyPair,
    VigilParticipant,
};

use super::advert_json::AdvertJson;
use super::config::TopicRoute;
use crate::raw::{RawCdrLe, RawEncoding, RawKeyedSample, RawSample, RawWriteError, RawWriter};

/// The raw writer of one proxied producer (boxed: writers are large, and
/// one of each kind differ by hundreds of bytes).
enum Writer {
    /// Keyed by producer id, as vigil's own data types are: XCDR1 only.
    Keyed(Box<rustdds::with_key::DataWriter<RawKeyedSample, RawCdrLe>>),
    /// Keyless: XCDR1, or XCDR2 through a second writer made on need.
    Plain(Box<RawWriter>),
}

/// Why a sample from Zenoh was not written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WriteFailure {
    /// Not an encapsulated sample (shorter than the 4-byte header).
    NotEncapsulated,
    /// An encoding the raw writer cannot reproduce (XCDR1 little endian,
    /// and XCDR2 little endian on keyless topics).
    Encoding(String),
    /// DDS refused it (a full reliable window).
    Refused(String),
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteFailure::NotEncapsulated => f.write_str("not an encapsulated CDR sample"),
            WriteFailure::Encoding(e) => write!(
                f,
                "encoding {e} cannot be written (little-endian XCDR1, or XCDR2 on keyless topics)"
            ),
            WriteFailure::Refused(e) => write!(f, "DDS refused the sample: {e}"),
        }
    }
}

/// One Zenoh producer advertised on DDS.
pub(crate) struct Proxy {
    advertiser: Advertiser,
    writer: Writer,
    guid: [u8; 16],
    producer: String,
    /// The leaves of its tree.
    shape: Shape,
    advert: AdvertJson,
    /// When `fresh` was last fed: it is fed at most every
    /// `stale_after / 8`, not at every sample (each observation re-evaluates
    /// the advert).
    last_fresh: Option<Timestamp>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("producer", &self.producer)
            .field("topic", &self.advert.topic)
            .finish_non_exhaustive()
    }
}

/// The paths of a proxy's tree (see the module doc).
#[derive(Clone, Debug)]
struct Shape {
    root: Path,
    /// Fed the Zenoh advert's state.
    health: Path,
    /// Fed a heartbeat when samples are written.
    fresh: Path,
    stale_after: Duration,
}

impl Shape {
    fn new(producer: &str, stale_after: Duration) -> Result<Shape, String> {
        let root =
            Path::parse(&crate::ros2::sanitize_label(producer)).map_err(|e| e.to_string())?;
        let child = |name: &str| root.child(name).map_err(|e| e.to_string());
        Ok(Shape {
            health: child("health")?,
            fresh: child("fresh")?,
            root,
            stale_after,
        })
    }

    fn tree(&self) -> Result<Tree, String> {
        let node = |path: &Path, body| NodeSpec::new(path.clone(), body);
        let spec = TreeSpec {
            nodes: vec![
                node(&self.root, NodeBody::Inner(Rule::Worst)),
                node(
                    &self.health,
                    NodeBody::Leaf(CheckSpec::Status { stale_after: None }),
                ),
                node(
                    &self.fresh,
                    NodeBody::Leaf(CheckSpec::Heartbeat {
                        timeout: self.stale_after,
                    }),
                ),
            ],
            shared: Vec::new(),
        };
        Tree::build(&spec).map_err(|e| e.to_string())
    }

    /// Whether a sample at `at` should feed `fresh`, given when it was last
    /// fed.
    fn fresh_due(&self, last: Option<Timestamp>, at: Timestamp) -> bool {
        last.is_none_or(|last| at.saturating_since(last) >= self.stale_after / 8)
    }
}

fn status(advert: &AdvertJson) -> Observation {
    Observation::Status {
        state: advert.health.state,
        reason: advert.health.reason,
    }
}

impl Proxy {
    /// Creates the writer and starts advertising. Must run inside a tokio
    /// runtime (the advertiser's heartbeat task).
    pub(crate) fn start(
        participant: &VigilParticipant,
        route: &TopicRoute,
        advert: &AdvertJson,
        key: Option<KeyPair>,
    ) -> Result<Proxy, DdsError> {
        let bad = |reason: String| DdsError::Advertiser {
            producer: advert.producer.clone(),
            topic: advert.topic.clone(),
            reason,
        };
        if advert.type_name != route.type_name {
            return Err(bad(format!(
                "the advert names type `{}` but the bridge carries `{}` on this topic",
                advert.type_name, route.type_name
            )));
        }
        let topic = data_topic(participant, route)?;
        let writer = if route.keyed {
            Writer::Keyed(Box::new(
                participant
                    .publisher()
                    .create_datawriter::<RawKeyedSample, RawCdrLe>(&topic, Some(data_qos()))
                    .map_err(|e| DdsError::create("raw writer", &route.topic, e))?,
            ))
        } else {
            let writer = RawWriter::new(participant.publisher(), &topic, data_qos())
                .map_err(|e| DdsError::create("raw writer", &route.topic, e))?;
            Writer::Plain(Box::new(writer))
        };
        let guid = match &writer {
            Writer::Keyed(w) => guid_of(&**w),
            Writer::Plain(w) => w.guid(),
        };
        let shape = Shape::new(&advert.producer, route.stale_after).map_err(&bad)?;
        let mut tree = shape.tree().map_err(&bad)?;
        // Observed before the start, so the first advert already carries
        // the reported state (`fresh` keeps it UNKNOWN until data comes).
        tree.observe(&shape.health, status(advert), now())?;
        // A bridge run by `vigil supervise` lets its supervisor say that
        // its proxies FAILED when it dies.
        let declaration =
            AdvertiserConfig::new(&advert.producer, &advert.topic, &route.type_name, guid)
                .with_supervisor(supervisor_from_env()?)
                .with_key(key)
                .with_capabilities(advert.capabilities.clone())
                .with_tree(tree, Some(shape.root.clone()));
        let advertiser = Advertiser::start(participant, declaration)?;
        Ok(Proxy {
            advertiser,
            writer,
            guid,
            producer: advert.producer.clone(),
            shape,
            advert: advert.clone(),
            last_fresh: None,
        })
    }

    /// The DDS writer GUID its samples come from.
    pub(crate) fn guid(&self) -> [u8; 16] {
        self.guid
    }

    /// Follows a changed Zenoh advert: health through the leaf, changed
    /// capabilities one by one. `Ok(false)` when it cannot be followed in
    /// place (a capability was removed, which an advertiser cannot do): the
    /// caller restarts the proxy.
    pub(crate) fn update(&mut self, advert: &AdvertJson) -> Result<bool, DdsError> {
        let removed = self
            .advert
            .capabilities
            .iter()
            .any(|(k, _)| advert.capabilities.get(k.as_str()).is_none());
        if removed || advert.type_name != self.advert.type_name {
            return Ok(false);
        }
        if advert.health.state != self.advert.health.state
            || advert.health.reason != self.advert.health.reason
        {
            self.advertiser
                .observe(&self.shape.health, status(advert))?;
        }
        for (key, value) in advert.capabilities.iter() {
            if self.advert.capabilities.get(key.as_str()) != Some(value) {
                self.advertiser
                    .set_capability(key.as_str(), value.clone())?;
            }
        }
        self.advert = advert.clone();
        Ok(true)
    }

    /// Writes one sample received from Zenoh (encapsulated CDR); a sample
    /// written is a sign of life for the `fresh` leaf.
    pub(crate) fn write(&mut self, payload: &[u8]) -> Result<(), WriteFailure> {
        let sample = RawSample::from_encapsulated(payload).ok_or(WriteFailure::NotEncapsulated)?;
        let encoding = || WriteFailure::Encoding(format!("{:?}", sample.encoding));
        // The bridge's clock: a hot-standby consumer orders samples by it.
        let timestamp = Some(dds_timestamp(unix_now_ns()));
        let refused = |e: &dyn std::fmt::Debug| WriteFailure::Refused(format!("{e:?}"));
        match &mut self.writer {
            Writer::Keyed(w) => {
                if sample.writable_encoding() != Some(RawEncoding::CdrLe) {
                    return Err(encoding());
                }
                w.write(
                    RawKeyedSample {
                        key: self.producer.clone(),
                        sample,
                    },
                    timestamp,
                )
                .map_err(|e| refused(&e))?;
            }
            Writer::Plain(w) => match w.write_stamped(sample.clone(), timestamp) {
                Ok(()) => {}
                Err(RawWriteError::Encoding(_)) => return Err(encoding()),
                Err(RawWriteError::Dds(e)) => return Err(WriteFailure::Refused(e)),
            },
        }
        self.fresh(now());
        Ok(())
    }

    /// Feeds `fresh` if it is due (see [`Proxy::last_fresh`]).
    fn fresh(&mut self, at: Timestamp) {
        if !self.shape.fresh_due(self.last_fresh, at) {
            return;
        }
        self.last_fresh = Some(at);
        if let Err(error) = self
            .advertiser
            .observe(&self.shape.fresh, Observation::Heartbeat)
        {
            tracing::warn!(producer = %self.producer, %error, "proxy freshness not updated");
        }
    }

    /// Disposes the advert (consumers switch away at once) and drops the
    /// writer.
    pub(crate) async fn shutdown(self) {
        if let Err(error) = self.advertiser.shutdown().await {
            tracing::warn!(producer = %self.producer, %error, "proxy advert not disposed; consumers will see the lease expire");
        }
        drop(self.writer);
    }
}

/// The DDS topic of a route: keyed or not, as configured.
fn data_topic(participant: &VigilParticipant, route: &TopicRoute) -> Result<Topic, DdsError> {
    if route.keyed {
        participant.data_topic(&route.topic, &route.type_name)
    } else {
        participant
            .dds()
            .create_topic(
                route.topic.clone(),
                route.type_name.clone(),
                &data_qos(),
                TopicKind::NoKey,
            )
            .map_err(|e| DdsError::create("topic", &route.topic, e))
    }
}

/// The topic for a raw reader of `route` (the same topic object).
pub(crate) fn reader_topic(
    participant: &VigilParticipant,
    route: &TopicRoute,
) -> Result<Topic, DdsError> {
    data_topic(participant, route)
}

#[cfg(test)]
mod tests {
    use super::*;

    use vigil_diag::{State, UnknownReason};

    fn ms(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn the_root_is_a_label_of_the_producer_id() {
        let shape = Shape::new("Zenoh-IMU/1", Duration::from_millis(500)).unwrap();
        assert_eq!(shape.root.as_str(), "zenoh_imu_1");
        assert_eq!(shape.health.as_str(), "zenoh_imu_1.health");
        assert_eq!(shape.fresh.as_str(), "zenoh_imu_1.fresh");
        let tree = shape.tree().unwrap();
        assert!(tree.health(&shape.root).is_some());
    }

    /// B6: a producer alive but silent goes UNKNOWN (stale); one that never
    /// sent data is UNKNOWN (no data) whatever its advert says.
    #[test]
    fn b6_health_needs_data_and_goes_stale_without_it() {
        let shape = Shape::new("z", Duration::from_millis(500)).unwrap();
        let mut tree = shape.tree().unwrap();
        let ok = Observation::Status {
            state: State::Ok,
            reason: None,
        };
        tree.observe(&shape.health, ok, ms(0)).unwrap();
        tree.tick(ms(0));
        let root = |tree: &Tree| tree.health(&shape.root).cloned().unwrap();
        assert_eq!(root(&tree).state, State::Unknown);
        assert_eq!(root(&tree).reason, Some(UnknownReason::NoData));

        tree.observe(&shape.fresh, Observation::Heartbeat, ms(10))
            .unwrap();
        tree.tick(ms(10));
        assert_eq!(root(&tree).state, State::Ok);

        tree.tick(ms(509));
        assert_eq!(root(&tree).state, State::Ok);
        tree.tick(ms(511));
        assert_eq!(root(&tree).state, State::Unknown);
        assert_eq!(root(&tree).reason, Some(UnknownReason::Stale));

        // Data again: back to the advert's own state.
        tree.observe(&shape.fresh, Observation::Heartbeat, ms(600))
            .unwrap();
        tree.tick(ms(600));
        assert_eq!(root(&tree).state, State::Ok);
    }

    #[test]
    fn fresh_is_fed_at_most_every_eighth_of_stale_after() {
        let shape = Shape::new("z", Duration::from_millis(800)).unwrap();
        assert!(shape.fresh_due(None, ms(0)));
        assert!(!shape.fresh_due(Some(ms(0)), ms(99)));
        assert!(shape.fresh_due(Some(ms(0)), ms(100)));
    }
}
