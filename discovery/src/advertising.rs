//! The producer side's state, shared by every shell: the declaration, the
//! diagnostic tree, and the advert and heartbeats built from them.
//!
//! Plain data: the caller passes the time (the tree's clock and the wall
//! clock of the wire timestamps) and publishes what this builds.

use std::time::Duration;

use vigil_diag::{Health, Observation, Path, State, Timestamp, Tree, Trend, UnknownReason};
use vigil_qos::{Capabilities, Degradation, Value};

use crate::advert::Advert;
use crate::trust::{sign_advert, HashChain, KeyPair};
use crate::wire::{
    AdvertKeyWire, AdvertWire, HealthWire, HeartbeatWire, NodeStateWire, OfferedQosWire, NOT_SET,
    WIRE_VERSION,
};

/// What a producer declares about one topic it publishes.
///
/// Built with [`AdvertiserConfig::new`] and the `with_` methods, then
/// started with [`Advertiser::start`](crate::Advertiser::start) (DDS) or
/// [`InProcess::advertise`](crate::inproc::InProcess::advertise).
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
    /// The GUID prefix of the participant of the supervisor that may say,
    /// on this producer's behalf, that it FAILED (advertised in
    /// [`AdvertWire::supervisor`]). Default: none, nobody may. A process
    /// started by `vigil supervise` finds it in its environment
    /// ([`supervisor_from_env`](crate::supervisor_from_env)).
    pub supervisor: Option<[u8; 12]>,
    /// The key that signs the advert and authenticates the heartbeats
    /// (issue 13); `None`: unsigned.
    pub key: Option<KeyPair>,
}

impl AdvertiserConfig {
    /// A declaration with no capabilities, no tree, no degradation and the
    /// QoS of [`data_qos`](crate::data_qos).
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
            qos: crate::dds::offered_qos(&crate::dds::data_qos()),
            supervisor: None,
            key: None,
        }
    }

    /// Signs the advert and heartbeats with `key` (see the field).
    pub fn with_key(mut self, key: Option<KeyPair>) -> AdvertiserConfig {
        self.key = key;
        self
    }

    /// Names the supervisor that may say this producer FAILED (see the
    /// field).
    pub fn with_supervisor(mut self, supervisor: Option<[u8; 12]>) -> AdvertiserConfig {
        self.supervisor = supervisor;
        self
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

    /// Sets the offered QoS (see [`offered_qos`](crate::offered_qos)).
    pub fn with_qos(mut self, qos: OfferedQosWire) -> AdvertiserConfig {
        self.qos = qos;
        self
    }
}

/// One advertised (producer, topic): the declaration, the tree, and the
/// advert as last built.
#[derive(Debug)]
pub(crate) struct AdvertState {
    config: AdvertiserConfig,
    /// The resolved diagnostic root (None without a tree).
    root: Option<Path>,
    /// The advert as last built; republished when it differs.
    current: AdvertWire,
    /// Not published since it last changed (or the last publication
    /// failed: retried at the next heartbeat).
    dirty: bool,
    heartbeat_sequence: u64,
    /// The heartbeats' hash chain, when signing.
    chain: Option<HashChain>,
    /// The advert as last handed out for publication, signed when
    /// signing: what a repeat sends again (a repeat of `current` would
    /// travel unsigned, and a policy refuses that).
    sent: Option<AdvertWire>,
}

impl AdvertState {
    /// Checks the declaration and builds the first advert (not yet
    /// published: [`AdvertState::due_publication`]). The error says what is
    /// wrong with it.
    pub(crate) fn new(
        config: AdvertiserConfig,
        heartbeat_period: Duration,
        lease: Duration,
    ) -> Result<AdvertState, String> {
        if config.producer.is_empty() || config.topic.is_empty() {
            return Err("producer id and topic must not be empty".to_owned());
        }
        let root = match &config.tree {
            None => None,
            Some(tree) => Some(resolve_root(tree, config.diagnostic_root.as_ref())?),
        };
        let mut state = AdvertState {
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
                heartbeat_period_ns: nanos(heartbeat_period),
                lease_ns: nanos(lease),
                sequence: 0,
                timestamp_ns: 0,
                signature: Vec::new(),
                supervisor: config.supervisor.map_or_else(Vec::new, |s| s.to_vec()),
            },
            config,
            root,
            dirty: true,
            sent: None,
            heartbeat_sequence: 0,
            chain: None,
        };
        if state.config.key.is_some() {
            state.chain = Some(HashChain::random().map_err(|e| e.to_string())?);
        }
        // A rule naming a missing capability is reported now, not first
        // during an incident.
        state.rebuild()?;
        // Publish nothing a consumer would reject (names, root path, GUID).
        Advert::from_wire(&state.current).map_err(|e| e.to_string())?;
        Ok(state)
    }

    /// The producer id.
    pub(crate) fn producer(&self) -> &str {
        &self.config.producer
    }

    /// The data topic.
    pub(crate) fn topic(&self) -> &str {
        &self.config.topic
    }

    /// The advert as last built.
    pub(crate) fn advert(&self) -> &AdvertWire {
        &self.current
    }

    /// The advert exactly as last handed out for publication (with its
    /// signature), for a repeat; the one built if none was yet.
    pub(crate) fn last_sent(&self) -> &AdvertWire {
        self.sent.as_ref().unwrap_or(&self.current)
    }

    /// The diagnostic tree, if there is one.
    pub(crate) fn tree(&self) -> Option<&Tree> {
        self.config.tree.as_ref()
    }

    /// The health of a tree node, if there is a tree and such a node.
    pub(crate) fn health(&self, path: &Path) -> Option<&Health> {
        self.config.tree.as_ref()?.health(path)
    }

    /// Gives an observation to the tree leaf at `path`. Returns whether the
    /// advert changed (it is then to be published).
    pub(crate) fn observe(
        &mut self,
        path: &Path,
        observation: Observation,
        at: Timestamp,
    ) -> Result<bool, vigil_diag::UpdateError> {
        let Some(tree) = self.config.tree.as_mut() else {
            return Err(vigil_diag::UpdateError::UnknownPath { path: path.clone() });
        };
        tree.observe(path, observation, at)?;
        Ok(self.refresh())
    }

    /// Ages the tree to `at` (debounced improvements and staleness surface
    /// here). Returns whether the advert changed.
    pub(crate) fn tick(&mut self, at: Timestamp) -> bool {
        let moved = match self.config.tree.as_mut() {
            Some(tree) => !tree.tick(at).is_empty(),
            None => false,
        };
        moved && self.refresh()
    }

    /// Sets (or replaces) a base capability. Refused, with nothing
    /// changed, when a degradation rule cannot apply to the new value.
    pub(crate) fn set_capability(&mut self, key: &str, value: Value) -> Result<(), String> {
        let mut base = self.config.capabilities.clone();
        base.insert(key, value).map_err(|e| e.to_string())?;
        let previous = std::mem::replace(&mut self.config.capabilities, base);
        if let Err(reason) = self.rebuild() {
            self.config.capabilities = previous;
            return Err(reason);
        }
        Ok(())
    }

    /// Signs from now on with `key` (`None`: unsigned): a key rotation
    /// without a restart. The advert is signed again at once, with a new
    /// heartbeat hash chain it commits to, so the data writer and every
    /// route to it stay: consumers whose policy allows the new key take
    /// the new advert like any update of the same writer.
    pub(crate) fn set_key(&mut self, key: Option<KeyPair>) -> Result<(), String> {
        let chain = match &key {
            Some(_) => Some(HashChain::random().map_err(|e| e.to_string())?),
            None => None,
        };
        self.config.key = key;
        self.chain = chain;
        self.current.sequence += 1;
        self.current.signature.clear();
        self.dirty = true;
        Ok(())
    }

    /// Replaces the diagnostic tree, keeping the diagnostic root given at
    /// the start (or, if none was given, taking the new tree's only root).
    /// Refused, with nothing changed, when the root is not in the new
    /// tree. Returns whether the advert changed.
    pub(crate) fn replace_tree(&mut self, tree: Tree) -> Result<bool, String> {
        let root = resolve_root(&tree, self.config.diagnostic_root.as_ref())?;
        self.current.diagnostic_root = root.as_str().to_owned();
        self.root = Some(root);
        self.config.tree = Some(tree);
        Ok(self.refresh())
    }

    /// The advert to publish, stamped with `unix_ns`, if it changed since
    /// it was last [published](AdvertState::published).
    pub(crate) fn due_publication(&mut self, unix_ns: u64) -> Option<AdvertWire> {
        if !self.dirty {
            return None;
        }
        self.current.timestamp_ns = unix_ns;
        let mut wire = self.current.clone();
        if let (Some(key), Some(chain)) = (&self.config.key, &self.chain) {
            if let Err(error) = sign_advert(&mut wire, key, chain.anchor()) {
                // Only an advert that does not encode fails here; it would
                // not travel either.
                tracing::error!(producer = %self.config.producer, %error, "advert not signed");
            }
        }
        self.sent = Some(wire.clone());
        Some(wire)
    }

    /// The advert from [`AdvertState::due_publication`] went out.
    pub(crate) fn published(&mut self) {
        self.dirty = false;
    }

    /// The next heartbeat, stamped with `unix_ns`.
    pub(crate) fn heartbeat(&mut self, unix_ns: u64) -> HeartbeatWire {
        self.heartbeat_sequence += 1;
        let auth = self.chain.as_mut().and_then(HashChain::next_auth);
        if self.chain.as_ref().is_some_and(HashChain::exhausted) {
            // The last element went: a new chain, committed to by a newly
            // signed advert published before the next heartbeat.
            match HashChain::random() {
                Ok(chain) => {
                    self.chain = Some(chain);
                    self.current.sequence += 1;
                    self.dirty = true;
                }
                Err(error) => tracing::error!(%error, "no new heartbeat chain"),
            }
        }
        HeartbeatWire {
            auth: auth.unwrap_or_default(),
            version: WIRE_VERSION,
            producer: self.current.key.producer.clone(),
            topic: self.current.key.topic.clone(),
            sequence: self.heartbeat_sequence,
            state: self.current.health.state,
            advert_sequence: self.current.sequence,
            timestamp_ns: unix_ns,
        }
    }

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
