//! The producer side: advertise one (producer, topic), keep the advert in
//! step with the diagnostic tree, and send heartbeats.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use rustdds::policy::{DestinationOrder, Durability, Liveliness, Ownership, Reliability};
use rustdds::QosPolicies;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vigil_diag::{Health, Observation, Path, State, Tree, Trend, UnknownReason};
use vigil_qos::{Capabilities, Degradation, Value};

use super::participant::CdrWriter;
use super::sample::{now, unix_now_ns};
use super::{DdsError, VigilParticipant};
use crate::advert::Advert;
use crate::wire::{
    AdvertKeyWire, AdvertWire, HealthWire, HeartbeatWire, NodeStateWire, OfferedQosWire, NOT_SET,
    WIRE_VERSION,
};

/// What a producer declares about one topic it publishes.
///
/// Built with [`AdvertiserConfig::new`] and the `with_` methods, then
/// started with [`Advertiser::start`].
#[derive(Debug)]
#[non_exhaustive]
pub struct AdvertiserConfig {
    /// Producer id (unique in the domain).
    pub producer: String,
    /// The DDS topic of the data.
    pub topic: String,
    /// The DDS type name of the data.
    pub type_name: String,
    /// The GUID of the application's DataWriter for the data
    /// (`writer.guid().to_bytes()`): consumers follow it.
    pub writer_guid: [u8; 16],
    /// Capabilities while all is well.
    pub capabilities: Capabilities,
    /// The producer's diagnostic tree; `None` advertises OK with
    /// confidence 1.
    pub tree: Option<Tree>,
    /// The node whose health is the advert's health. Default: the tree's
    /// only root.
    pub diagnostic_root: Option<Path>,
    /// How health worsens the advertised capabilities. Rule paths are
    /// looked up under the diagnostic root first, then as absolute paths.
    pub degradation: Degradation,
    /// The QoS the data writer offers.
    pub qos: OfferedQosWire,
}

impl AdvertiserConfig {
    /// A declaration with no capabilities, no tree, no degradation and the
    /// QoS of [`data_qos`](super::data_qos).
    pub fn new(
        producer: impl Into<String>,
        topic: impl Into<String>,
        type_name: impl Into<String>,
        writer_guid: [u8; 16],
    ) -> AdvertiserConfig {
        AdvertiserConfig {
            producer: producer.into(),
            topic: topic.into(),
            type_name: type_name.into(),
            writer_guid,
            capabilities: Capabilities::new(),
            tree: None,
            diagnostic_root: None,
            degradation: Degradation::default(),
            qos: offered_qos(&super::data_qos()),
        }
    }

    /// Sets the capabilities.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> AdvertiserConfig {
        self.capabilities = capabilities;
        self
    }

    /// Sets the diagnostic tree and, optionally, the node that is the
    /// producer's health.
    pub fn with_tree(mut self, tree: Tree, root: Option<Path>) -> AdvertiserConfig {
        self.tree = Some(tree);
        self.diagnostic_root = root;
        self
    }

    /// Sets the degradation rules.
    pub fn with_degradation(mut self, degradation: Degradation) -> AdvertiserConfig {
        self.degradation = degradation;
        self
    }

    /// Sets the offered QoS (see [`offered_qos`]).
    pub fn with_qos(mut self, qos: OfferedQosWire) -> AdvertiserConfig {
        self.qos = qos;
        self
    }
}

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
/// aged at every heartbeat). A tokio task sends heartbeats every period of
/// the participant's [`DdsConfig`](super::DdsConfig). Dropping the
/// advertiser stops the heartbeats; [`Advertiser::shutdown`] also disposes
/// the advert so consumers switch away at once instead of after the lease.
pub struct Advertiser {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<AdState>,
    adverts: CdrWriter<AdvertWire>,
    heartbeats: CdrWriter<HeartbeatWire>,
}

struct AdState {
    config: AdvertiserConfig,
    /// The resolved diagnostic root (None without a tree).
    root: Option<Path>,
    /// The advert as last built; republished when it differs.
    current: AdvertWire,
    /// The last publication failed: retry at the next heartbeat.
    dirty: bool,
    heartbeat_sequence: u64,
}

impl fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("Advertiser")
            .field("producer", &state.config.producer)
            .field("topic", &state.config.topic)
            .field("sequence", &state.current.sequence)
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
        if config.producer.is_empty() || config.topic.is_empty() {
            return Err(bad("producer id and topic must not be empty".to_owned()));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| bad("Advertiser::start needs a tokio runtime".to_owned()))?;
        let root = match &config.tree {
            None => None,
            Some(tree) => Some(resolve_root(tree, config.diagnostic_root.as_ref()).map_err(bad)?),
        };
        let dds = participant.config().clone();
        let mut state = AdState {
            current: AdvertWire {
                version: WIRE_VERSION,
                key: AdvertKeyWire {
                    producer: config.producer.clone(),
                    topic: config.topic.clone(),
                },
                type_name: config.type_name.clone(),
                writer_guid: config.writer_guid.to_vec(),
                capabilities: Vec::new(),
                qos: config.qos.clone(),
                diagnostic_root: root
                    .as_ref()
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default(),
                health: ok_health(),
                heartbeat_period_ns: nanos(dds.heartbeat_period),
                lease_ns: nanos(dds.lease),
                sequence: 0,
                timestamp_ns: 0,
                signature: Vec::new(),
            },
            config,
            root,
            dirty: true,
            heartbeat_sequence: 0,
        };
        // A rule naming a missing capability is reported now, not first
        // during an incident.
        state.rebuild().map_err(bad)?;
        // Publish nothing a consumer would reject (names, root path, GUID).
        Advert::from_wire(&state.current).map_err(|e| bad(e.to_string()))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            adverts: participant.advert_writer()?,
            heartbeats: participant.heartbeat_writer()?,
        });
        shared.publish_if_dirty()?;
        let (stop, stopped) = watch::channel(false);
        let task = runtime.spawn(heartbeat_loop(
            Arc::clone(&shared),
            dds.heartbeat_period,
            stopped,
        ));
        Ok(Advertiser {
            shared,
            stop,
            task: Some(task),
        })
    }

    /// Gives an observation to the tree leaf at `path`; republishes the
    /// advert at once when the advertised health or capabilities changed.
    /// Returns whether it republished.
    pub fn observe(&self, path: &Path, observation: Observation) -> Result<bool, DdsError> {
        let changed = {
            let mut state = lock(&self.shared.state);
            let at = now();
            let Some(tree) = state.config.tree.as_mut() else {
                return Err(DdsError::Observation(
                    vigil_diag::UpdateError::UnknownPath { path: path.clone() },
                ));
            };
            tree.observe(path, observation, at)?;
            state.refresh()
        };
        if changed {
            self.shared.publish_if_dirty()?;
        }
        Ok(changed)
    }

    /// Sets (or replaces) a base capability and republishes. Refused, with
    /// nothing changed, when a degradation rule cannot apply to the new
    /// value.
    pub fn set_capability(&self, key: &str, value: Value) -> Result<(), DdsError> {
        {
            let mut state = lock(&self.shared.state);
            let bad = |reason: String| DdsError::Advertiser {
                producer: state.config.producer.clone(),
                topic: state.config.topic.clone(),
                reason,
            };
            let mut base = state.config.capabilities.clone();
            base.insert(key, value).map_err(|e| bad(e.to_string()))?;
            let previous = std::mem::replace(&mut state.config.capabilities, base);
            if let Err(reason) = state.rebuild() {
                state.config.capabilities = previous;
                return Err(DdsError::Advertiser {
                    producer: state.config.producer.clone(),
                    topic: state.config.topic.clone(),
                    reason,
                });
            }
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
        let changed = {
            let mut state = lock(&self.shared.state);
            let root =
                resolve_root(&tree, state.config.diagnostic_root.as_ref()).map_err(|reason| {
                    DdsError::Advertiser {
                        producer: state.config.producer.clone(),
                        topic: state.config.topic.clone(),
                        reason,
                    }
                })?;
            state.current.diagnostic_root = root.as_str().to_owned();
            state.root = Some(root);
            state.config.tree = Some(tree);
            state.refresh()
        };
        if changed {
            self.shared.publish_if_dirty()?;
        }
        Ok(changed)
    }

    /// Runs `read` on the diagnostic tree, if there is one (to publish it,
    /// say, as ROS 2 `/diagnostics_agg`).
    pub fn with_tree<R>(&self, read: impl FnOnce(&Tree) -> R) -> Option<R> {
        let state = lock(&self.shared.state);
        state.config.tree.as_ref().map(read)
    }

    /// The advert as last built (published unless a write failed; it is
    /// retried at the next heartbeat).
    pub fn advert(&self) -> AdvertWire {
        lock(&self.shared.state).current.clone()
    }

    /// The health of a tree node, if there is a tree and such a node.
    pub fn health(&self, path: &Path) -> Option<Health> {
        let state = lock(&self.shared.state);
        state.config.tree.as_ref()?.health(path).cloned()
    }

    /// Stops the heartbeats and disposes the advert, waiting up to 200 ms
    /// for readers to acknowledge so a clean exit is seen at once.
    pub async fn shutdown(mut self) -> Result<(), DdsError> {
        self.stop_task().await;
        let key = lock(&self.shared.state).current.key.clone();
        self.shared
            .adverts
            .dispose(&key, None)
            .map_err(|e| DdsError::Write {
                topic: crate::wire::ADVERT_TOPIC.to_owned(),
                reason: format!("{e:?}"),
            })?;
        let wait = self.shared.adverts.async_wait_for_acknowledgments();
        // Not acknowledged in time: readers learn from the lease instead.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), wait).await;
        Ok(())
    }

    async fn stop_task(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn heartbeat_loop(
    shared: Arc<Shared>,
    period: std::time::Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(period);
    // After a stall, one heartbeat now is what matters, not a burst.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stopped.changed() => return,
        }
        {
            let mut state = lock(&shared.state);
            let at = now();
            if let Some(tree) = state.config.tree.as_mut() {
                // Debounced improvements and staleness surface here.
                if !tree.tick(at).is_empty() {
                    state.refresh();
                }
            }
        }
        if let Err(error) = shared.publish_if_dirty() {
            tracing::warn!(%error, "advert not published; retrying at the next heartbeat");
        }
        if let Err(error) = shared.heartbeat() {
            tracing::warn!(%error, "heartbeat not sent");
        }
    }
}

impl Shared {
    fn publish_if_dirty(&self) -> Result<(), DdsError> {
        let mut state = lock(&self.state);
        if !state.dirty {
            return Ok(());
        }
        state.current.timestamp_ns = unix_now_ns();
        let advert = state.current.clone();
        match self.adverts.write(advert, None) {
            Ok(()) => {
                state.dirty = false;
                Ok(())
            }
            Err(e) => Err(DdsError::Write {
                topic: crate::wire::ADVERT_TOPIC.to_owned(),
                reason: format!("{e:?}"),
            }),
        }
    }

    fn heartbeat(&self) -> Result<(), DdsError> {
        let beat = {
            let mut state = lock(&self.state);
            state.heartbeat_sequence += 1;
            HeartbeatWire {
                version: WIRE_VERSION,
                producer: state.current.key.producer.clone(),
                sequence: state.heartbeat_sequence,
                state: state.current.health.state,
                advert_sequence: state.current.sequence,
                timestamp_ns: unix_now_ns(),
            }
        };
        self.heartbeats
            .write(beat, None)
            .map_err(|e| DdsError::Write {
                topic: crate::wire::HEARTBEAT_TOPIC.to_owned(),
                reason: format!("{e:?}"),
            })
    }
}

impl AdState {
    /// Recomputes health and capabilities after the tree moved; marks the
    /// advert for publication when they changed. Returns whether they did.
    fn refresh(&mut self) -> bool {
        match self.rebuild() {
            Ok(changed) => changed,
            Err(reason) => {
                // Base capabilities were validated against every rule when
                // they were set, so this is a rule producing an invalid
                // value: advertise the undegraded vector, loudly.
                tracing::error!(producer = %self.config.producer, %reason, "degradation failed");
                false
            }
        }
    }

    /// Rebuilds the advert from the tree and the capabilities. Returns
    /// whether it changed (and then bumps the sequence and marks it dirty).
    fn rebuild(&mut self) -> Result<bool, String> {
        let (health, capabilities) = match (&self.config.tree, &self.root) {
            (Some(tree), Some(root)) => {
                let health = tree.health(root).map_or_else(ok_health, health_wire);
                let nodes = tree
                    .nodes()
                    .map(|(path, health)| NodeStateWire {
                        path: path.as_str().to_owned(),
                        state: health.state.ros_level(),
                    })
                    .collect();
                let state_of = |path: &Path| {
                    tree.health(&root.join(path))
                        .or_else(|| tree.health(path))
                        .map(|h| h.state)
                };
                let capabilities = self
                    .config
                    .degradation
                    .apply(&self.config.capabilities, state_of)
                    .map_err(|e| e.to_string())?;
                (HealthWire { nodes, ..health }, capabilities)
            }
            _ => {
                let capabilities = self
                    .config
                    .degradation
                    .apply(&self.config.capabilities, |_| Some(State::Ok))
                    .map_err(|e| e.to_string())?;
                (ok_health(), capabilities)
            }
        };
        let capabilities = capabilities.encode_cdr();
        let changed = self.current.health != health || self.current.capabilities != capabilities;
        if changed || self.current.sequence == 0 {
            self.current.health = health;
            self.current.capabilities = capabilities;
            self.current.sequence += 1;
            self.dirty = true;
        }
        Ok(changed)
    }
}

/// The node whose health the advert carries.
fn resolve_root(tree: &Tree, root: Option<&Path>) -> Result<Path, String> {
    if let Some(root) = root {
        return tree
            .health(root)
            .map(|_| root.clone())
            .ok_or_else(|| format!("diagnostic root `{root}` is not a node of the tree"));
    }
    let roots: Vec<&Path> = tree.roots().collect();
    match roots.as_slice() {
        [only] => Ok((*only).clone()),
        [] => Err("the diagnostic tree is empty".to_owned()),
        many => Err(format!(
            "the diagnostic tree has {} roots ({}); name the diagnostic root",
            many.len(),
            many.iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn ok_health() -> HealthWire {
    HealthWire {
        state: State::Ok.ros_level(),
        reason: NOT_SET,
        confidence: 1.0,
        trend: 0,
        nodes: Vec::new(),
    }
}

fn health_wire(health: &Health) -> HealthWire {
    HealthWire {
        state: health.state.ros_level(),
        reason: match health.reason {
            None => NOT_SET,
            Some(UnknownReason::NoData) => 0,
            Some(UnknownReason::Stale) => 1,
            Some(UnknownReason::Conflicting) => 2,
            Some(UnknownReason::Unreachable) => 3,
        },
        confidence: health.confidence as f32,
        trend: match health.trend {
            Trend::Stable => 0,
            Trend::Degrading => 1,
            Trend::Recovering => 2,
            Trend::Intermittent => 3,
        },
        nodes: Vec::new(),
    }
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
