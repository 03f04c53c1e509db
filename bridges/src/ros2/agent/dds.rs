//! The agent's DDS endpoints: raw readers of watched topics, the relay
//! writer, the diagnostics reader and the `/diagnostics_agg` writers.

use rustdds::no_key::{DataReaderStream, DataWriter};
use rustdds::policy::{Durability, History, Reliability};
use rustdds::{QosPolicies, QosPolicyBuilder, TopicKind};
use vigil_discovery::{DdsError, VigilParticipant};

use crate::raw::{RawCdr2Le, RawCdrLe, RawEncoding, RawReader, RawSample};

/// A stream of raw samples of one topic.
pub(super) type RawStream = DataReaderStream<RawSample, RawReader>;

/// ROS 2's default QoS (reliable, volatile, keep last 10), or best effort
/// for sensor-data topics. A best-effort reader matches every writer; a
/// reliable one only reliable writers.
pub(super) fn ros_qos(reliable: bool) -> QosPolicies {
    let reliability = if reliable {
        Reliability::Reliable {
            max_blocking_time: rustdds::Duration::ZERO,
        }
    } else {
        Reliability::BestEffort
    };
    QosPolicyBuilder::new()
        .reliability(reliability)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 10 })
        .build()
}

/// A keyless topic, as every ROS 2 topic is.
pub(super) fn ros_topic(
    participant: &VigilParticipant,
    name: &str,
    type_name: &str,
    qos: &QosPolicies,
) -> Result<rustdds::Topic, DdsError> {
    participant
        .dds()
        .create_topic(name.to_owned(), type_name.to_owned(), qos, TopicKind::NoKey)
        .map_err(|e| DdsError::create("topic", name, e))
}

/// A raw reader of a ROS 2 topic.
pub(super) fn raw_stream(
    participant: &VigilParticipant,
    name: &str,
    type_name: &str,
    reliable: bool,
) -> Result<RawStream, DdsError> {
    let qos = ros_qos(reliable);
    let topic = ros_topic(participant, name, type_name, &qos)?;
    let reader = participant
        .subscriber()
        .create_datareader_no_key::<RawSample, RawReader>(&topic, Some(qos))
        .map_err(|e| DdsError::create("raw reader", name, e))?;
    Ok(reader.async_sample_stream())
}

/// A raw writer that reproduces the encoding of the samples it forwards:
/// created for the first sample's encoding, and again if a later sample
/// comes in the other one.
pub(super) struct RawWriter {
    participant: VigilParticipant,
    topic: rustdds::Topic,
    qos: QosPolicies,
    cdr: Option<DataWriter<RawSample, RawCdrLe>>,
    cdr2: Option<DataWriter<RawSample, RawCdr2Le>>,
}

/// Why a sample was not written.
#[derive(Debug)]
pub(super) enum WriteFailure {
    /// Big endian or parameter-list CDR: not writable without the type.
    Encoding,
    /// rustdds refused.
    Dds(String),
}

impl RawWriter {
    pub(super) fn new(
        participant: &VigilParticipant,
        name: &str,
        type_name: &str,
    ) -> Result<RawWriter, DdsError> {
        let qos = ros_qos(true);
        let topic = ros_topic(participant, name, type_name, &qos)?;
        Ok(RawWriter {
            participant: participant.clone(),
            topic,
            qos,
            cdr: None,
            cdr2: None,
        })
    }

    pub(super) fn write(&mut self, sample: RawSample) -> Result<(), WriteFailure> {
        let create = |e: rustdds::dds::CreateError| WriteFailure::Dds(format!("{e:?}"));
        let write = |e: String| WriteFailure::Dds(e);
        match sample.writable_encoding() {
            None => Err(WriteFailure::Encoding),
            Some(RawEncoding::CdrLe) => {
                if self.cdr.is_none() {
                    let w = self
                        .participant
                        .publisher()
                        .create_datawriter_no_key::<RawSample, RawCdrLe>(
                            &self.topic,
                            Some(self.qos.clone()),
                        )
                        .map_err(create)?;
                    self.cdr = Some(w);
                }
                match &self.cdr {
                    Some(w) => w.write(sample, None).map_err(|e| write(format!("{e:?}"))),
                    None => Ok(()),
                }
            }
            Some(RawEncoding::Cdr2Le) => {
                if self.cdr2.is_none() {
                    let w = self
                        .participant
                        .publisher()
                        .create_datawriter_no_key::<RawSample, RawCdr2Le>(
                            &self.topic,
                            Some(self.qos.clone()),
                        )
                        .map_err(create)?;
                    self.cdr2 = Some(w);
                }
                match &self.cdr2 {
                    Some(w) => w.write(sample, None).map_err(|e| write(format!("{e:?}"))),
                    None => Ok(()),
                }
            }
        }
    }
}
