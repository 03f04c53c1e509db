//! A relay: the selected writer's samples, raw, onto the stable topic.

use tokio::sync::watch;
use vigil_discovery::{DdsError, Route, Selector, VigilParticipant};

use super::config::AgentConfig;
use super::dds::raw_writer;
use crate::raw::{RawSample, RawWriteError, RawWriter};

/// One relay and the selection it follows.
pub(super) struct Relay {
    pub(super) ros_topic: String,
    reads: Vec<usize>,
    pub(super) selector: Selector,
    routes: watch::Receiver<Route>,
    writer: RawWriter,
}

impl Relay {
    /// The relay of topic `index`, following `selector`, writing on
    /// `participant`; `None` when the topic has no relay.
    pub(super) fn new(
        config: &AgentConfig,
        index: usize,
        selector: Selector,
        participant: &VigilParticipant,
    ) -> Result<Option<Relay>, DdsError> {
        let topic = &config.topics[index];
        let Some(relay) = &topic.relay else {
            return Ok(None);
        };
        // Every watched topic a clause of the query names (same type, as
        // the config checked).
        let reads = relay
            .query
            .clauses()
            .iter()
            .filter_map(|c| config.topics.iter().position(|t| t.dds_topic == c.topic()))
            .collect();
        Ok(Some(Relay {
            ros_topic: relay.ros_topic.clone(),
            reads,
            routes: selector.routes(),
            selector,
            writer: raw_writer(participant, &relay.dds_topic, &topic.dds_type)?,
        }))
    }

    /// Forwards a sample of watched topic `topic` from writer `guid` if it
    /// is the selected one: `Some(producer)` and the write's result when it
    /// was, `None` when the relay does not carry it.
    pub(super) fn forward(
        &mut self,
        topic: usize,
        guid: &[u8; 16],
        sample: &RawSample,
    ) -> Option<(String, Result<(), RawWriteError>)> {
        if !self.reads.contains(&topic) {
            return None;
        }
        let producer = {
            let route = self.routes.borrow();
            let active = route.active.as_ref().filter(|a| a.writer_guid == *guid)?;
            active.producer.clone()
        };
        Some((producer, self.writer.write(sample.clone())))
    }
}
