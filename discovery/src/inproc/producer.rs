//! A producer on the in-process network.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use vigil_diag::{Health, Observation, Path, Tree};
use vigil_qos::Value;

use super::{endpoint, InProcError, InProcess, ProducerSlot};
use crate::advertising::{AdvertState, AdvertiserConfig};
use crate::wire::AdvertWire;

/// Entity kinds of the endpoint ids, as in DDS GUIDs: a keyed data writer
/// and the advert writer.
const DATA_WRITER: u8 = 0x02;
const ADVERT_WRITER: u8 = 0xc2;

/// One advertised (producer, topic) on an [`InProcess`] network, with its
/// data writer: the in-process twin of [`Advertiser`](crate::Advertiser).
///
/// Dropping it is a crash: heartbeats stop and consumers notice at the
/// lease. [`InProcAdvertiser::shutdown`] leaves cleanly (the advert is
/// disposed and consumers switch away at once).
pub struct InProcAdvertiser {
    net: InProcess,
    id: u64,
    producer: String,
    topic: String,
    type_name: String,
    writer: [u8; 16],
}

impl fmt::Debug for InProcAdvertiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcAdvertiser")
            .field("producer", &self.producer)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl InProcess {
    /// Starts advertising `config` now; its data writer is the network's
    /// (the config's `writer_guid` is replaced by it). The first advert
    /// and heartbeat go out at once.
    pub fn advertise(&self, mut config: AdvertiserConfig) -> Result<InProcAdvertiser, InProcError> {
        let mut bus = self.lock();
        let id = InProcess::next_id(&mut bus);
        let writer = endpoint(id, DATA_WRITER);
        config.writer_guid = writer;
        let (producer, topic, type_name) = (
            config.producer.clone(),
            config.topic.clone(),
            config.type_name.clone(),
        );
        let state = AdvertState::new(config, bus.config.heartbeat_period, bus.config.lease)
            .map_err(|reason| InProcError::Advertiser {
                producer: producer.clone(),
                topic: topic.clone(),
                reason,
            })?;
        let now = bus.now;
        bus.producers.insert(
            id,
            ProducerSlot {
                state,
                advert_writer: endpoint(id, ADVERT_WRITER),
                next_heartbeat: now,
            },
        );
        bus.heartbeat(id);
        drop(bus);
        Ok(InProcAdvertiser {
            net: self.clone(),
            id,
            producer,
            topic,
            type_name,
            writer,
        })
    }
}

impl InProcAdvertiser {
    /// Runs `change` on this producer's state, then publishes the advert
    /// if it changed.
    fn with_state<R>(
        &self,
        change: impl FnOnce(&mut AdvertState) -> Result<R, InProcError>,
    ) -> Result<R, InProcError> {
        let mut bus = self.net.lock();
        let slot = bus
            .producers
            .get_mut(&self.id)
            .ok_or_else(|| InProcError::Closed {
                producer: self.producer.clone(),
            })?;
        let result = change(&mut slot.state)?;
        bus.publish_advert(self.id);
        Ok(result)
    }

    fn refused(&self, reason: String) -> InProcError {
        InProcError::Advertiser {
            producer: self.producer.clone(),
            topic: self.topic.clone(),
            reason,
        }
    }

    /// The producer id.
    pub fn producer(&self) -> &str {
        &self.producer
    }

    /// The data writer's endpoint id (what consumers follow).
    pub fn writer_guid(&self) -> [u8; 16] {
        self.writer
    }

    /// Publishes one data sample, stamped with the network's wall clock,
    /// to every consumer reading the topic (each gets a clone).
    pub fn write<T: Any + Send + Sync>(&self, value: T) {
        let mut bus = self.net.lock();
        if bus.producers.contains_key(&self.id) {
            bus.write(&self.topic, &self.type_name, self.writer, Arc::new(value));
        }
    }

    /// Gives an observation to the tree leaf at `path` at the network's
    /// time; republishes at once when the advert changed. Returns whether
    /// it did.
    pub fn observe(&self, path: &Path, observation: Observation) -> Result<bool, InProcError> {
        let now = self.net.now();
        self.with_state(|state| Ok(state.observe(path, observation, now)?))
    }

    /// Sets (or replaces) a base capability and republishes; refused, with
    /// nothing changed, when a degradation rule cannot apply to it.
    pub fn set_capability(&self, key: &str, value: Value) -> Result<(), InProcError> {
        self.with_state(|state| {
            state
                .set_capability(key, value)
                .map_err(|reason| self.refused(reason))
        })
    }

    /// Signs from now on with `key` (see
    /// [`Advertiser::set_key`](crate::Advertiser::set_key)).
    pub fn set_key(&self, key: Option<crate::KeyPair>) -> Result<(), InProcError> {
        self.with_state(|state| state.set_key(key).map_err(|reason| self.refused(reason)))
    }

    /// Replaces the diagnostic tree (see
    /// [`Advertiser::replace_tree`](crate::Advertiser::replace_tree)).
    pub fn replace_tree(&self, tree: Tree) -> Result<bool, InProcError> {
        self.with_state(|state| {
            state
                .replace_tree(tree)
                .map_err(|reason| self.refused(reason))
        })
    }

    /// Runs `read` on the diagnostic tree, if there is one.
    pub fn with_tree<R>(&self, read: impl FnOnce(&Tree) -> R) -> Option<R> {
        let bus = self.net.lock();
        bus.producers.get(&self.id)?.state.tree().map(read)
    }

    /// The advert as last built.
    pub fn advert(&self) -> AdvertWire {
        let bus = self.net.lock();
        bus.producers
            .get(&self.id)
            .map(|slot| slot.state.advert().clone())
            // Only `shutdown` and `drop` remove the slot, and both take the
            // handle: while it exists, so does its slot.
            .expect("an in-process producer's slot lives as long as its handle")
    }

    /// The health of a tree node, if there is a tree and such a node.
    pub fn health(&self, path: &Path) -> Option<Health> {
        let bus = self.net.lock();
        bus.producers.get(&self.id)?.state.health(path).cloned()
    }

    /// Leaves cleanly: the advert is disposed, consumers switch at once.
    pub fn shutdown(self) {
        self.net.lock().remove_producer(self.id, true);
    }
}

impl Drop for InProcAdvertiser {
    /// Heartbeats stop and the advert stays: consumers find out at the
    /// lease, as when a process dies.
    fn drop(&mut self) {
        self.net.lock().remove_producer(self.id, false);
    }
}
