//! A proxy while it lives: its advertiser, fed by the samples and status
//! items of its writer's node, its measured rate, its health events.

use std::time::Duration;

use vigil_diag::{Observation, Path, State, Timestamp, Tree};
use vigil_discovery::clock::now;
use vigil_discovery::{
    offered_qos, supervisor_from_env, Advertiser, AdvertiserConfig, KeyPair, VigilParticipant,
};
use vigil_qos::{Quantity, Unit, Value};

use super::config::TopicConfig;
use super::proxy::{rate_moved, Identity, ProxyShape, RateMeter, Replay};
use super::AgentEvent;

/// The advertised rate is updated at most this often.
const RATE_UPDATE_EVERY: Duration = Duration::from_secs(1);
/// The first measured rate is advertised once samples span this long.
const FIRST_RATE_AFTER: Duration = Duration::from_millis(200);

/// The last report of one status item of a participant.
#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) name: String,
    pub(super) nodes: Vec<String>,
    pub(super) observation: Observation,
    pub(super) at: Timestamp,
}

/// A writer found in DDS discovery and named, ready to be advertised.
pub(super) struct FoundWriter<'c> {
    /// Its topic's index in the config.
    pub(super) topic_index: usize,
    /// Its topic's config.
    pub(super) topic: &'c TopicConfig,
    /// Who it is.
    pub(super) identity: Identity,
    /// Its GUID.
    pub(super) guid: [u8; 16],
    /// What it offers, as discovery announced it.
    pub(super) qos: rustdds::QosPolicies,
}

/// A writer advertised on its node's behalf.
pub(super) struct Proxy {
    pub(super) topic: usize,
    ros_topic: String,
    stale_after: Duration,
    pub(super) identity: Identity,
    shape: ProxyShape,
    pub(super) advertiser: Advertiser,
    meter: RateMeter,
    replay: Replay,
    advertised_rate: Option<f64>,
    rate_updated: Timestamp,
    last_fresh: Timestamp,
    /// The state of the last health event.
    state: State,
    /// It got worse since `/diagnostics_agg` was last published.
    pub(super) got_worse: bool,
}

/// Whether a status item speaks for a proxy's node: every item of its
/// participant when the node is unknown.
pub(super) fn item_belongs(item: &Item, identity: &Identity) -> bool {
    match &identity.node {
        None => true,
        Some(node) => item.nodes.iter().any(|n| n == node),
    }
}

impl Proxy {
    /// Advertises `writer` on `participant`, with what its node already
    /// said (`items`: its participant's status items, stale after
    /// `item_timeout`).
    pub(super) fn start<'i>(
        participant: &VigilParticipant,
        key: Option<&KeyPair>,
        writer: FoundWriter<'_>,
        items: impl Iterator<Item = &'i Item>,
        item_timeout: Duration,
        at: Timestamp,
    ) -> Result<Proxy, String> {
        let FoundWriter {
            topic_index,
            topic,
            identity,
            guid,
            qos,
        } = writer;
        let mut shape = ProxyShape::new(
            &identity.id,
            topic.stale_after,
            topic.min_rate,
            item_timeout,
        )
        .map_err(|e| e.to_string())?;
        // What the node already said, its items and their last reports.
        let mut replay = Replay::default();
        for item in items {
            if item_belongs(item, &identity) {
                let path = shape.item(&item.name);
                shape.add_item(path.clone());
                replay.remember(&path, item.observation, item.at);
            }
        }
        let mut tree = Tree::build(&shape.spec()).map_err(|e| e.to_string())?;
        for (path, observation, when) in replay.events() {
            tree.observe(&path, observation, when)
                .map_err(|e| e.to_string())?;
        }
        tree.tick(at);
        let declaration = AdvertiserConfig::new(
            identity.id.clone(),
            topic.dds_topic.clone(),
            topic.dds_type.clone(),
            guid,
        )
        // An agent run by `vigil supervise` lets its supervisor say that its
        // proxies FAILED when it dies.
        .with_supervisor(supervisor_from_env().map_err(|e| e.to_string())?)
        .with_capabilities(topic.capabilities_of(identity.node.as_deref()))
        .with_tree(tree, Some(shape.root().clone()))
        .with_qos(offered_qos(&qos))
        .with_key(key.cloned());
        let advertiser = Advertiser::start(participant, declaration).map_err(|e| e.to_string())?;
        let state = advertiser
            .health(shape.root())
            .map_or(State::Unknown, |h| h.state);
        Ok(Proxy {
            topic: topic_index,
            ros_topic: topic.ros_topic.clone(),
            identity,
            shape,
            advertiser,
            meter: RateMeter::default(),
            replay,
            advertised_rate: None,
            rate_updated: at,
            last_fresh: Timestamp::ZERO,
            state,
            got_worse: false,
            stale_after: topic.stale_after,
        })
    }

    /// A sample arrived: feed the stream leaves.
    pub(super) fn on_sample(&mut self, at: Timestamp) -> Option<AgentEvent> {
        self.meter.record(at);
        // The heartbeat leaf only needs a beat well inside its timeout; one
        // per sample would re-evaluate the advert at the full data rate.
        if at.saturating_since(self.last_fresh) >= self.stale_after / 8 {
            self.last_fresh = at;
            let fresh = self.shape.fresh();
            self.observe(&fresh, Observation::Heartbeat, at);
            self.replay.remember(&fresh, Observation::Heartbeat, at);
        }
        self.health_event()
    }

    /// A status item of its participant: a new leaf, or a new report.
    pub(super) fn on_item(&mut self, item: &Item) -> Option<AgentEvent> {
        if !item_belongs(item, &self.identity) {
            return None;
        }
        let path = self.shape.item(&item.name);
        let known = self.shape.has_item(&path);
        if !known && !self.shape.add_item(path.clone()) {
            return None;
        }
        self.replay.remember(&path, item.observation, item.at);
        if !known {
            if let Err(reason) = self.rebuild(item.at) {
                tracing::warn!(producer = %self.identity.id, %reason, "proxy tree not grown");
            }
        } else {
            self.observe(&path, item.observation, item.at);
        }
        self.health_event()
    }

    /// The tree with a new leaf, fed what the old one was fed.
    fn rebuild(&mut self, at: Timestamp) -> Result<(), String> {
        let mut tree = Tree::build(&self.shape.spec()).map_err(|e| e.to_string())?;
        for (path, observation, when) in self.replay.events() {
            tree.observe(&path, observation, when)
                .map_err(|e| e.to_string())?;
        }
        tree.tick(at);
        self.advertiser
            .replace_tree(tree)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn observe(&mut self, path: &Path, observation: Observation, _at: Timestamp) {
        if let Err(error) = self.advertiser.observe(path, observation) {
            tracing::warn!(producer = %self.identity.id, %error, "proxy observation refused");
        }
    }

    /// Timers: the advertised rate, and states that changed with time.
    pub(super) fn on_tick(&mut self, at: Timestamp) -> Option<AgentEvent> {
        let measured = self
            .meter
            .hz()
            .filter(|_| self.meter.span() >= FIRST_RATE_AFTER);
        if let (Some(path), Some(hz)) = (self.shape.rate(), measured) {
            self.observe(&path, Observation::Value(hz), at);
            self.replay.remember(&path, Observation::Value(hz), at);
        }
        if let Some(hz) = self.meter.hz() {
            // The first rate as soon as it means something (a proxy without
            // `rate` fails every query that asks for one), then at most
            // once a period.
            let due = match self.advertised_rate {
                None => self.meter.span() >= FIRST_RATE_AFTER,
                Some(_) => at.saturating_since(self.rate_updated) >= RATE_UPDATE_EVERY,
            };
            if due && rate_moved(self.advertised_rate, hz) {
                self.rate_updated = at;
                let rounded = (hz * 10.0).round() / 10.0;
                let value = Quantity::new(rounded, Some(Unit::Hertz)).map(Value::Number);
                match value.map_err(|e| e.to_string()).and_then(|v| {
                    self.advertiser
                        .set_capability("rate", v)
                        .map_err(|e| e.to_string())
                }) {
                    Ok(()) => self.advertised_rate = Some(rounded),
                    Err(reason) => {
                        tracing::warn!(producer = %self.identity.id, %reason, "measured rate not advertised")
                    }
                }
            }
        }
        self.health_event()
    }

    /// An event when the advertised state changed since the last one.
    pub(super) fn health_event(&mut self) -> Option<AgentEvent> {
        let health = self.advertiser.health(self.shape.root())?;
        if health.state == self.state {
            return None;
        }
        let old = std::mem::replace(&mut self.state, health.state);
        // As `PublishPolicy` ranks states: a worse one is published at once.
        self.got_worse |= health.state > old;
        let cause = self
            .advertiser
            .with_tree(|tree| {
                tree.explain(self.shape.root(), now())
                    .map(|e| e.to_string())
            })
            .flatten();
        Some(AgentEvent::Health {
            topic: self.ros_topic.clone(),
            producer: self.identity.id.clone(),
            state: health.state.to_string(),
            reason: health.reason.map(|r| r.to_string()),
            cause,
        })
    }
}
