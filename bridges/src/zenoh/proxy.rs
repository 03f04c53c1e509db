//! A Zenoh producer as DDS sees it: a raw data writer on its topic and an
//! [`Advertiser`] that advertises that writer with the producer's
//! capabilities and health, so DDS consumers select it, follow its writer
//! GUID and fail over from it like from any DDS producer.

use rustdds::{Topic, TopicKind};
use vigil_diag::{
    CheckSpec, Criticality, FilterSpec, NodeBody, NodeSpec, Observation, Path, Tree, TreeSpec,
};
use vigil_discovery::{
    data_qos, dds_timestamp, guid_of, now, unix_now_ns, Advertiser, AdvertiserConfig, DdsError,
    VigilParticipant,
};

use super::advert_json::AdvertJson;
use super::config::TopicRoute;
use crate::raw::{RawCdrLe, RawEncoding, RawKeyedSample, RawSample};

/// The raw writer of one proxied producer.
enum Writer {
    /// Keyed by producer id, as vigil's own data types are.
    Keyed(rustdds::with_key::DataWriter<RawKeyedSample, RawCdrLe>),
    Plain(rustdds::no_key::DataWriter<RawSample, RawCdrLe>),
}

/// Why a sample from Zenoh was not written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WriteFailure {
    /// Not an encapsulated sample (shorter than the 4-byte header).
    NotEncapsulated,
    /// An encoding the raw writer cannot reproduce (only XCDR1 little
    /// endian is written).
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
                "encoding {e} cannot be written (XCDR1 little endian only)"
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
    /// The status leaf whose state is the producer's advertised health.
    leaf: Path,
    advert: AdvertJson,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("producer", &self.producer)
            .field("topic", &self.advert.topic)
            .finish_non_exhaustive()
    }
}

/// The tree of a proxied producer: one status leaf, `<producer>.health`
/// (the producer id made a path label), as `vigil produce` has by default.
/// Its state is the one the Zenoh advert reports; the tree then gives the
/// advert its health (confidence and trend are the tree's, not the Zenoh
/// advert's: vigil's advert health always comes from a tree).
fn one_leaf_tree(producer: &str) -> Result<(Tree, Path), String> {
    let leaf = Path::parse(&format!("{}.health", crate::sanitize_label(producer)))
        .map_err(|e| e.to_string())?;
    let spec = TreeSpec {
        nodes: vec![NodeSpec {
            path: leaf.clone(),
            body: NodeBody::Leaf(CheckSpec::Status { stale_after: None }),
            criticality: Criticality::default(),
            filter: FilterSpec::default(),
            origin: None,
        }],
        shared: Vec::new(),
    };
    let tree = Tree::build(&spec).map_err(|e| e.to_string())?;
    Ok((tree, leaf))
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
            Writer::Keyed(
                participant
                    .publisher()
                    .create_datawriter::<RawKeyedSample, RawCdrLe>(&topic, Some(data_qos()))
                    .map_err(|e| DdsError::create("raw writer", &route.topic, e))?,
            )
        } else {
            Writer::Plain(
                participant
                    .publisher()
                    .create_datawriter_no_key::<RawSample, RawCdrLe>(&topic, Some(data_qos()))
                    .map_err(|e| DdsError::create("raw writer", &route.topic, e))?,
            )
        };
        let guid = match &writer {
            Writer::Keyed(w) => guid_of(w),
            Writer::Plain(w) => guid_of(w),
        };
        let (mut tree, leaf) = one_leaf_tree(&advert.producer).map_err(bad)?;
        // Observed before the start, so the first advert already carries
        // the reported state rather than UNKNOWN (no data).
        tree.observe(&leaf, status(advert), now())?;
        let declaration =
            AdvertiserConfig::new(&advert.producer, &advert.topic, &route.type_name, guid)
                .with_capabilities(advert.capabilities.clone())
                .with_tree(tree, None);
        let advertiser = Advertiser::start(participant, declaration)?;
        Ok(Proxy {
            advertiser,
            writer,
            guid,
            producer: advert.producer.clone(),
            leaf,
            advert: advert.clone(),
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
            self.advertiser.observe(&self.leaf, status(advert))?;
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

    /// Writes one sample received from Zenoh (encapsulated CDR).
    pub(crate) fn write(&self, payload: &[u8]) -> Result<(), WriteFailure> {
        let sample = RawSample::from_encapsulated(payload).ok_or(WriteFailure::NotEncapsulated)?;
        if sample.writable_encoding() != Some(RawEncoding::CdrLe) {
            return Err(WriteFailure::Encoding(format!("{:?}", sample.encoding)));
        }
        // The bridge's clock: a hot-standby consumer orders samples by it.
        let timestamp = Some(dds_timestamp(unix_now_ns()));
        let refused = |e: &dyn std::fmt::Debug| WriteFailure::Refused(format!("{e:?}"));
        match &self.writer {
            Writer::Keyed(w) => w
                .write(
                    RawKeyedSample {
                        key: self.producer.clone(),
                        sample,
                    },
                    timestamp,
                )
                .map_err(|e| refused(&e)),
            Writer::Plain(w) => w.write(sample, timestamp).map_err(|e| refused(&e)),
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

    #[test]
    fn the_leaf_is_a_label_of_the_producer_id() {
        let (tree, leaf) = one_leaf_tree("Zenoh-IMU/1").unwrap();
        assert_eq!(leaf.as_str(), "zenoh_imu_1.health");
        assert!(tree.health(&leaf).is_some());
    }
}
