//! The producer side: advertise one (producer, topic), keep the advert in
//! step with the diagnostic tree, and send heartbeats.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rustdds::policy::{DestinationOrder, Durability, Liveliness, Ownership, Reliability};
use rustdds::QosPolicies;
use vigil_diag::{Health, Observation, Path, Tree};
use vigil_qos::Value;

use super::beats::{Beat, Member};
use super::participant::CdrWriter;
use super::sample::{now, unix_now_ns};
use super::{DdsError, VigilParticipant};
use crate::advertising::AdvertState;
pub use crate::advertising::AdvertiserConfig;
use crate::trust::KeyPair;
use crate::wire::{AdvertWire, HeartbeatWire, OfferedQosWire, NOT_SET};

/// The wire codes of the QoS a rustdds writer offers; unset policies are
/// [`NOT_SET`] (the DDS default applies, DDS 1.4 §2.2.3).
pub fn offered_qos(qos: &QosPolicies) -> OfferedQosWire {
    let infinite = |d: rustdds::Duration| {
        if d == rustdds::Duration::INFINITE {
            u64::MAX
        } else {
            u64::try_from(d.to_nanoseconds()).unwrap_or(u64::MAX)
        }
    };
    let (liveliness, liveliness_lease_ns) = match qos.liveliness() {
        None => (NOT_SET, u64::MAX),
        Some(Liveliness::Automatic { lease_duration }) => (0, infinite(lease_duration)),
        Some(Liveliness::ManualByParticipant { lease_duration }) => (1, infinite(lease_duration)),
        Some(Liveliness::ManualByTopic { lease_duration }) => (2, infinite(lease_duration)),
    };
    OfferedQosWire {
        reliability: match qos.reliability() {
            None => NOT_SET,
            Some(Reliability::BestEffort) => 0,
            Some(Reliability::Reliable { .. }) => 1,
        },
        durability: match qos.durability() {
            None => NOT_SET,
            Some(Durability::Volatile) => 0,
            Some(Durability::TransientLocal) => 1,
            Some(Durability::Transient) => 2,
            Some(Durability::Persistent) => 3,
        },
        deadline_ns: qos.deadline().map_or(u64::MAX, |d| infinite(d.0)),
        liveliness,
        liveliness_lease_ns,
        ownership: match qos.ownership() {
            None => NOT_SET,
            Some(Ownership::Shared) => 0,
            Some(Ownership::Exclusive { .. }) => 1,
        },
        destination_order: match qos.destination_order() {
            None => NOT_SET,
            Some(DestinationOrder::ByReceptionTimestamp) => 0,
            Some(DestinationOrder::BySourceTimeStamp) => 1,
        },
    }
}

/// Advertises one (producer, topic) on DDS, beside the application's own
/// DataWriter.
///
/// Feeding the diagnostic tree with [`Advertiser::observe`] republishes the
/// advert as soon as a node's reported state changes: degradations at once,
/// improvements when the tree's debounce lets them through (the tree is
/// aged at every heartbeat). Heartbeats go every period of the
/// participant's [`DdsConfig`](super::DdsConfig), bundled with those of
/// the participant's other advertisers (wire v2; one task per
/// participant, see `beats`), and at once when the advertised state
/// changes. Dropping the advertiser stops the heartbeats;
/// [`Advertiser::shutdown`] also disposes the advert so consumers switch
/// away at once instead of after the lease.
pub struct Advertiser {
    shared: Arc<Shared>,
    beat: Arc<Beat>,
}

struct Shared {
    state: Mutex<AdvertState>,
    adverts: CdrWriter<AdvertWire>,
    /// Set by shutdown and drop: the beat sends nothing more for it.
    stopped: AtomicBool,
}

impl fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("Advertiser")
            .field("producer", &state.producer())
            .field("topic", &state.topic())
            .field("sequence", &state.advert().sequence)
            .finish_non_exhaustive()
    }
}

/// A poisoned lock only means another thread panicked while holding it; the
/// state is plain data and still consistent enough to keep advertising.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Advertiser {
    /// Checks the declaration, publishes the first advert and starts the
    /// heartbeat task. Must be called inside a tokio runtime.
    pub fn start(
        participant: &VigilParticipant,
        config: AdvertiserConfig,
    ) -> Result<Advertiser, DdsError> {
        let (producer, topic) = (config.producer.clone(), config.topic.clone());
        let bad = |reason: String| DdsError::Advertiser {
            producer: producer.clone(),
            topic: topic.clone(),
            reason,
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| bad("Advertiser::start needs a tokio runtime".to_owned()))?;
        let dds = participant.config().clone();
        let state = AdvertState::new(config, dds.heartbeat_period, dds.lease).map_err(bad)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            adverts: participant.advert_writer()?,
            stopped: AtomicBool::new(false),
        });
        shared.publish_if_dirty()?;
        let beat = participant.beat()?;
        let member: Arc<dyn Member> = shared.clone();
        beat.join(Arc::downgrade(&member), participant, &runtime);
        Ok(Advertiser { shared, beat })
    }

    /// A heartbeat now when the advertised state changed: a failure
    /// travels at once on both the advert and the heartbeat.
    fn state_may_have_changed(&self, before: u8) {
        if lock(&self.shared.state).advert().health.state != before {
            self.beat.now(self.shared.as_ref());
        }
    }

    fn state_code(&self) -> u8 {
        lock(&self.shared.state).advert().health.state
    }

    /// Gives an observation to the tree leaf at `path`; republishes the
    /// advert at once when the advertised health or capabilities changed.
    /// Returns whether it republished.
    pub fn observe(&self, path: &Path, observation: Observation) -> Result<bool, DdsError> {
        let before = self.state_code();
        let changed = lock(&self.shared.state).observe(path, observation, now())?;
        if changed {
            self.shared.publish_if_dirty()?;
            self.state_may_have_changed(before);
        }
        Ok(changed)
    }

    /// Sets (or replaces) a base capability and republishes. Refused, with
    /// nothing changed, when a degradation rule cannot apply to the new
    /// value.
    pub fn set_capability(&self, key: &str, value: Value) -> Result<(), DdsError> {
        {
            let mut state = lock(&self.shared.state);
            state
                .set_capability(key, value)
                .map_err(|reason| refused(&state, reason))?;
        }
        self.shared.publish_if_dirty()
    }

    /// Signs from now on with `key` (`None`: unsigned) and republishes at
    /// once: a key rotation that keeps the writer and every route to it
    /// (issue 13). Consumers need the new key allowed for this producer
    /// before, and may drop the old one after.
    pub fn set_key(&self, key: Option<KeyPair>) -> Result<(), DdsError> {
        {
            let mut state = lock(&self.shared.state);
            state
                .set_key(key)
                .map_err(|reason| refused(&state, reason))?;
        }
        self.shared.publish_if_dirty()
    }

    /// Replaces the diagnostic tree (a tree that grew a leaf, as the ROS 2
    /// agent's trees do when a node reports a new status item) and
    /// republishes if the advert changed. The diagnostic root given at the
    /// start is kept (or, if none was given, the new tree's only root is
    /// taken). Refused, with nothing changed, when the root is not in the
    /// new tree. Returns whether it republished.
    pub fn replace_tree(&self, tree: Tree) -> Result<bool, DdsError> {
        let before = self.state_code();
        let changed = {
            let mut state = lock(&self.shared.state);
            state
                .replace_tree(tree)
                .map_err(|reason| refused(&state, reason))?
        };
        if changed {
            self.shared.publish_if_dirty()?;
            self.state_may_have_changed(before);
        }
        Ok(changed)
    }

    /// Runs `read` on the diagnostic tree, if there is one (to publish it,
    /// say, as ROS 2 `/diagnostics_agg`).
    pub fn with_tree<R>(&self, read: impl FnOnce(&Tree) -> R) -> Option<R> {
        lock(&self.shared.state).tree().map(read)
    }

    /// The advert as last built (published unless a write failed; it is
    /// retried at the next heartbeat).
    pub fn advert(&self) -> AdvertWire {
        lock(&self.shared.state).advert().clone()
    }

    /// The health of a tree node, if there is a tree and such a node.
    pub fn health(&self, path: &Path) -> Option<Health> {
        lock(&self.shared.state).health(path).cloned()
    }

    /// Stops the heartbeats and disposes the advert, waiting up to 200 ms
    /// for readers to acknowledge so a clean exit is seen at once.
    pub async fn shutdown(self) -> Result<(), DdsError> {
        self.shared.stopped.store(true, Ordering::Relaxed);
        let key = lock(&self.shared.state).advert().key.clone();
        self.shared
            .adverts
            .dispose(&key, None)
            .map_err(|e| DdsError::write(crate::wire::ADVERT_TOPIC, e))?;
        let wait = self.shared.adverts.async_wait_for_acknowledgments();
        // Not acknowledged in time: readers learn from the lease instead.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), wait).await;
        Ok(())
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        // The beat holds it weakly only; this says so at once, also to a
        // beat that upgraded it a moment ago.
        self.shared.stopped.store(true, Ordering::Relaxed);
    }
}

/// How often an unchanged advert is written again (issue 14). A consumer
/// cut off for longer than its grace forgets the producer; the reliable
/// advert was acknowledged before the cut, so DDS never sends it again and
/// the producer's heartbeats alone cannot bring it back. Like DDS's own
/// periodic participant announcements (SPDP), the advert is repeated: an
/// exact repeat is only a sign of life to a registry that holds it, and a
/// new entry to one that forgot it. One advert a second per producer.
pub(crate) const ADVERT_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

impl Shared {
    fn publish_if_dirty(&self) -> Result<(), DdsError> {
        let mut state = lock(&self.state);
        let Some(advert) = state.due_publication(unix_now_ns()) else {
            return Ok(());
        };
        self.adverts
            .write(advert, None)
            .map_err(|e| DdsError::write(crate::wire::ADVERT_TOPIC, e))?;
        state.published();
        Ok(())
    }

    /// Writes the advert last published again, unchanged (same sequence,
    /// timestamp and signature): see [`ADVERT_REFRESH`].
    fn repeat_advert(&self) -> Result<(), DdsError> {
        let advert = lock(&self.state).last_sent().clone();
        self.adverts
            .write(advert, None)
            .map_err(|e| DdsError::write(crate::wire::ADVERT_TOPIC, e))
    }
}

impl Member for Shared {
    fn beat(&self, unix_ns: u64) -> Option<HeartbeatWire> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        // Debounced improvements and staleness surface here.
        lock(&self.state).tick(now());
        if let Err(error) = self.publish_if_dirty() {
            tracing::warn!(%error, "advert not published; retrying at the next heartbeat");
        }
        Some(lock(&self.state).heartbeat(unix_ns))
    }

    fn repeat(&self) {
        if self.stopped.load(Ordering::Relaxed) {
            return;
        }
        if let Err(error) = self.repeat_advert() {
            tracing::warn!(%error, "advert not repeated");
        }
    }
}

/// A change the advertiser refused, with its producer and topic.
fn refused(state: &AdvertState, reason: String) -> DdsError {
    DdsError::Advertiser {
        producer: state.producer().to_owned(),
        topic: state.topic().to_owned(),
        reason,
    }
}
