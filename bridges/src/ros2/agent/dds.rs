//! The agent's DDS endpoints: raw readers of watched topics, the relay
//! writer, the diagnostics reader and the `/diagnostics_agg` writers.

use rustdds::no_key::DataReaderStream;
use rustdds::policy::{Durability, History, Reliability};
use rustdds::{QosPolicies, QosPolicyBuilder, TopicKind};
use vigil_discovery::{data_qos, DdsError, VigilParticipant};

use crate::raw::{RawReader, RawSample, RawWriter};

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
    let mut qos = QosPolicyBuilder::new()
        .reliability(reliability)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 10 });
    // vigil's data writers' resource limits: rustdds sizes its reliable send
    // window from `max_samples`, and a SIGKILLed reliable subscriber stays
    // matched until its lease ends, so the default window (8192) would fill
    // and refuse every write at 1 kHz (see `vigil_discovery::data_qos`).
    if let Some(limits) = data_qos().resource_limits() {
        qos = qos.resource_limits(limits);
    }
    qos.build()
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
    raw_stream_with(participant, name, type_name, ros_qos(reliable))
}

/// A raw reader of `ros_discovery_info`: reliable and transient-local, as
/// rmw writes it, so the mapping of nodes already running arrives at once.
pub(super) fn discovery_info_stream(participant: &VigilParticipant) -> Result<RawStream, DdsError> {
    let qos = QosPolicyBuilder::new()
        .reliability(Reliability::Reliable {
            max_blocking_time: rustdds::Duration::ZERO,
        })
        .durability(Durability::TransientLocal)
        .history(History::KeepLast { depth: 1 })
        .build();
    raw_stream_with(
        participant,
        crate::ros2::discovery_info::DISCOVERY_INFO_TOPIC,
        crate::ros2::discovery_info::DISCOVERY_INFO_TYPE,
        qos,
    )
}

fn raw_stream_with(
    participant: &VigilParticipant,
    name: &str,
    type_name: &str,
    qos: QosPolicies,
) -> Result<RawStream, DdsError> {
    let topic = ros_topic(participant, name, type_name, &qos)?;
    let reader = participant
        .subscriber()
        .create_datareader_no_key::<RawSample, RawReader>(&topic, Some(qos))
        .map_err(|e| DdsError::create("raw reader", name, e))?;
    Ok(reader.async_sample_stream())
}

/// A raw writer on a ROS 2 topic with ROS 2's default QoS (reliable,
/// volatile, keep last 10: it matches every subscriber but a
/// transient-local one).
pub(super) fn raw_writer(
    participant: &VigilParticipant,
    name: &str,
    type_name: &str,
) -> Result<RawWriter, DdsError> {
    let qos = ros_qos(true);
    let topic = ros_topic(participant, name, type_name, &qos)?;
    RawWriter::new(participant.publisher(), &topic, qos)
        .map_err(|e| DdsError::create("raw writer", name, e))
}
