//! The agent's loop: one task owns every proxy, so nothing is locked but
//! the advertisers' own state.
//!
//! Inputs: the raw samples of every watched topic, the nodes'
//! `/diagnostics`, and a 50 ms tick that polls DDS discovery (rustdds's
//! snapshot of discovered writers: unlike its event stream, a snapshot
//! cannot miss a writer that appeared before the agent listened),
//! identifies pending writers, updates measured rates and publishes
//! `/diagnostics_agg`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures::stream::{select_all, BoxStream, StreamExt};
use rustdds::RTPSEntity;
use tokio::sync::{mpsc, watch};
use vigil_diag::{Observation, State, Timestamp, Tree};
use vigil_discovery::{
    now, offered_qos, Advertiser, AdvertiserConfig, DdsError, Route, Selector, VigilParticipant,
};
use vigil_qos::{Quantity, Unit, Value};

use super::config::{AgentConfig, TopicConfig};
use super::dds::{raw_stream, raw_writer};
use super::proxy::{
    hex, identify, node_names, rate_moved, Identity, ProxyShape, RateMeter, Replay, MAX_ITEMS,
};
use super::AgentEvent;
use crate::raw::{RawSample, RawWriter};
use crate::ros2::msgs::{self, DiagnosticArray, DiagnosticStatus, Time};
use crate::ros2::publish::{aggregated_array, toplevel_state, PublishPolicy};

/// How often discovery is polled and timers are looked at.
const TICK: Duration = Duration::from_millis(50);
/// The advertised rate is updated at most this often.
const RATE_UPDATE_EVERY: Duration = Duration::from_secs(1);
/// The first measured rate is advertised once samples span this long.
const FIRST_RATE_AFTER: Duration = Duration::from_millis(200);
/// After `identify_within`, how long a relay waits for proxies to qualify
/// (a measured rate, a tick, the advert on the wire) before its first
/// selection.
pub(super) const FIRST_SELECTION_AFTER: Duration = Duration::from_millis(500);

type Prefix = [u8; 12];

fn prefix_of(guid: &[u8; 16]) -> Prefix {
    let mut prefix = [0; 12];
    prefix.copy_from_slice(&guid[..12]);
    prefix
}

/// The last report of one status item of a participant.
#[derive(Clone, Debug)]
struct Item {
    name: String,
    nodes: Vec<String>,
    observation: Observation,
    at: Timestamp,
}

struct Proxy {
    topic: usize,
    ros_topic: String,
    stale_after: Duration,
    identity: Identity,
    shape: ProxyShape,
    advertiser: Advertiser,
    meter: RateMeter,
    replay: Replay,
    advertised_rate: Option<f64>,
    rate_updated: Timestamp,
    last_fresh: Timestamp,
    /// The state of the last health event.
    state: State,
    /// It got worse since `/diagnostics_agg` was last published.
    got_worse: bool,
}

enum Writer {
    Pending {
        topic: usize,
        since: Timestamp,
    },
    Proxied(Box<Proxy>),
    /// Wrong type for its topic: reported once, then ignored.
    Ignored,
}

struct Relay {
    ros_topic: String,
    reads: Vec<usize>,
    selector: Selector,
    routes: watch::Receiver<Route>,
    writer: RawWriter,
}

pub(super) struct Runner {
    config: AgentConfig,
    proxies_dp: VigilParticipant,
    watch_dp: VigilParticipant,
    own: [Prefix; 2],
    items: HashMap<Prefix, Vec<Item>>,
    writers: HashMap<[u8; 16], Writer>,
    relays: Vec<Relay>,
    publish: Option<(PublishPolicy, RawWriter, RawWriter)>,
    events: mpsc::UnboundedSender<AgentEvent>,
    relayed: BTreeMap<String, u64>,
    dropped: u64,
    malformed: u64,
}

impl Runner {
    pub(super) fn new(
        config: AgentConfig,
        proxies_dp: VigilParticipant,
        watch_dp: VigilParticipant,
        relays: Vec<(usize, Selector)>,
        events: mpsc::UnboundedSender<AgentEvent>,
    ) -> Result<Runner, DdsError> {
        let own = [
            prefix_of(&proxies_dp.dds().guid().to_bytes()),
            prefix_of(&watch_dp.dds().guid().to_bytes()),
        ];
        let mut built = Vec::new();
        for (index, selector) in relays {
            let topic = &config.topics[index];
            let Some(relay) = &topic.relay else { continue };
            let reads = relay
                .query
                .clauses()
                .iter()
                .filter_map(|c| config.topics.iter().position(|t| t.dds_topic == c.topic()))
                .collect();
            built.push(Relay {
                ros_topic: relay.ros_topic.clone(),
                reads,
                routes: selector.routes(),
                selector,
                writer: raw_writer(&proxies_dp, &relay.dds_topic, &topic.dds_type)?,
            });
        }
        let publish = match config.publish_rate.and_then(PublishPolicy::new) {
            Some(policy) => Some((
                policy,
                raw_writer(
                    &proxies_dp,
                    "rt/diagnostics_agg",
                    msgs::DIAGNOSTIC_ARRAY_TYPE,
                )?,
                raw_writer(
                    &proxies_dp,
                    "rt/diagnostics_toplevel_state",
                    msgs::DIAGNOSTIC_STATUS_TYPE,
                )?,
            )),
            None => None,
        };
        Ok(Runner {
            config,
            proxies_dp,
            watch_dp,
            own,
            items: HashMap::new(),
            writers: HashMap::new(),
            relays: built,
            publish,
            events,
            relayed: BTreeMap::new(),
            dropped: 0,
            malformed: 0,
        })
    }

    fn emit(&self, event: AgentEvent) {
        // The receiver is gone only while the agent shuts down.
        let _ = self.events.send(event);
    }

    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut samples = match self.sample_streams() {
            Ok(s) => s,
            Err(error) => {
                self.emit(AgentEvent::Error {
                    reason: error.to_string(),
                });
                return;
            }
        };
        let mut diagnostics = match raw_stream(
            &self.watch_dp,
            &self.config.diagnostics_topic,
            msgs::DIAGNOSTIC_ARRAY_TYPE,
            true,
        ) {
            Ok(s) => s,
            Err(error) => {
                self.emit(AgentEvent::Error {
                    reason: error.to_string(),
                });
                return;
            }
        };
        self.emit(AgentEvent::Ready {
            topics: self
                .config
                .topics
                .iter()
                .map(|t| t.ros_topic.clone())
                .collect(),
            relays: self.relays.iter().map(|r| r.ros_topic.clone()).collect(),
        });
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stats_due = now() + Duration::from_secs(1);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                Some((topic, sample)) = samples.next() => self.on_sample(topic, sample),
                Some(sample) = diagnostics.next() => match sample {
                    Ok(sample) => {
                        let writer = sample.sample_info().writer_guid().to_bytes();
                        self.on_diagnostics(writer, sample.into_value());
                    }
                    Err(error) => self.reject("diagnostics", "?", format!("{error:?}")),
                },
                _ = tick.tick() => {
                    self.on_tick();
                    if now() >= stats_due {
                        stats_due = now() + Duration::from_secs(1);
                        let relayed = std::mem::take(&mut self.relayed);
                        self.emit(AgentEvent::Stats {
                            relayed,
                            dropped: self.dropped,
                            malformed: self.malformed,
                        });
                    }
                }
            }
        }
        self.shutdown().await;
    }

    #[allow(clippy::type_complexity)]
    fn sample_streams(
        &self,
    ) -> Result<
        futures::stream::SelectAll<
            BoxStream<
                'static,
                (
                    usize,
                    rustdds::dds::ReadResult<rustdds::no_key::DataSample<RawSample>>,
                ),
            >,
        >,
        DdsError,
    > {
        let mut streams = Vec::new();
        for (index, topic) in self.config.topics.iter().enumerate() {
            let stream = raw_stream(
                &self.watch_dp,
                &topic.dds_topic,
                &topic.dds_type,
                topic.reliable,
            )?;
            streams.push(stream.map(move |s| (index, s)).boxed());
        }
        Ok(select_all(streams))
    }

    fn reject(&mut self, what: &str, from: &str, reason: String) {
        self.malformed += 1;
        tracing::warn!(what, from, %reason, "input rejected");
        self.emit(AgentEvent::Rejected {
            what: what.to_owned(),
            from: from.to_owned(),
            reason,
        });
    }

    fn on_sample(
        &mut self,
        topic: usize,
        sample: rustdds::dds::ReadResult<rustdds::no_key::DataSample<RawSample>>,
    ) {
        let sample = match sample {
            Ok(sample) => sample,
            Err(error) => {
                let from = self.config.topics[topic].ros_topic.clone();
                return self.reject("sample", &from, format!("{error:?}"));
            }
        };
        let guid = sample.sample_info().writer_guid().to_bytes();
        let at = now();
        if let Some(Writer::Proxied(proxy)) = self.writers.get_mut(&guid) {
            let transitions = proxy.on_sample(at);
            if let Some(event) = transitions {
                self.emit(event);
            }
        }
        for relay in &mut self.relays {
            if !relay.reads.contains(&topic) {
                continue;
            }
            let active = relay.routes.borrow().active.clone();
            let Some(active) = active.filter(|a| a.writer_guid == guid) else {
                continue;
            };
            match relay.writer.write(sample.value().clone()) {
                Ok(()) => *self.relayed.entry(active.producer).or_default() += 1,
                Err(error) => {
                    self.dropped += 1;
                    tracing::warn!(producer = %active.producer, %error, "sample not relayed");
                }
            }
        }
    }

    fn on_diagnostics(&mut self, writer: [u8; 16], sample: RawSample) {
        let from = format!("participant {}", hex(&writer[..12]));
        let array: DiagnosticArray = match msgs::decode(&sample.to_encapsulated()) {
            Ok(array) => array,
            Err(error) => return self.reject("diagnostics", &from, error.to_string()),
        };
        let prefix = prefix_of(&writer);
        let at = now();
        for status in &array.status {
            let Some((state, reason)) = State::from_ros_level(status.level) else {
                let why = format!(
                    "status `{}` has level {}, not 0-3",
                    status.name, status.level
                );
                self.reject("diagnostics", &from, why);
                continue;
            };
            let item = Item {
                name: status.name.clone(),
                nodes: node_names(status),
                observation: Observation::Status { state, reason },
                at,
            };
            if !self.remember(prefix, item.clone()) {
                continue;
            }
            let events: Vec<AgentEvent> = self
                .writers
                .iter_mut()
                .filter(|(guid, _)| prefix_of(guid) == prefix)
                .filter_map(|(_, w)| match w {
                    Writer::Proxied(proxy) => proxy.on_item(&item),
                    _ => None,
                })
                .collect();
            for event in events {
                self.emit(event);
            }
        }
    }

    /// Keeps the latest report of a status item; false when the
    /// participant already has [`MAX_ITEMS`] others (then it is ignored,
    /// here and in the proxies' trees).
    fn remember(&mut self, prefix: Prefix, item: Item) -> bool {
        let items = self.items.entry(prefix).or_default();
        if let Some(old) = items.iter_mut().find(|i| i.name == item.name) {
            *old = item;
            true
        } else if items.len() < MAX_ITEMS {
            items.push(item);
            true
        } else {
            tracing::warn!(status = %item.name, "too many status items from one participant; ignored");
            false
        }
    }

    fn on_tick(&mut self) {
        let at = now();
        self.discover(at);
        self.identify_pending(at);
        let mut events = Vec::new();
        for writer in self.writers.values_mut() {
            if let Writer::Proxied(proxy) = writer {
                events.extend(proxy.on_tick(at));
            }
        }
        for event in events {
            self.emit(event);
        }
        self.publish_diagnostics(at);
    }

    /// New writers of watched topics become pending; vanished ones are
    /// withdrawn.
    fn discover(&mut self, at: Timestamp) {
        let mut seen = HashSet::new();
        let mut participants = HashSet::new();
        for data in self.watch_dp.dds().discovered_writers() {
            let publication = &data.publication_topic_data;
            let guid = publication.key.to_bytes();
            participants.insert(prefix_of(&guid));
            if self.own.contains(&prefix_of(&guid)) {
                continue;
            }
            let Some(topic) = self
                .config
                .topics
                .iter()
                .position(|t| t.dds_topic == publication.topic_name)
            else {
                continue;
            };
            seen.insert(guid);
            if self.writers.contains_key(&guid) {
                continue;
            }
            tracing::debug!(writer = %hex(&guid), topic = %publication.topic_name, "writer discovered");
            let expected = &self.config.topics[topic].dds_type;
            if &publication.type_name != expected {
                let reason = format!(
                    "writer {} of {} has type {}, expected {expected}",
                    hex(&guid),
                    publication.topic_name,
                    publication.type_name
                );
                self.reject("writer", &publication.topic_name.clone(), reason);
                self.writers.insert(guid, Writer::Ignored);
                continue;
            }
            self.writers
                .insert(guid, Writer::Pending { topic, since: at });
        }
        let gone: Vec<[u8; 16]> = self
            .writers
            .keys()
            .filter(|g| !seen.contains(*g))
            .copied()
            .collect();
        for guid in gone {
            if let Some(Writer::Proxied(proxy)) = self.writers.remove(&guid) {
                tokio::spawn(self.withdraw(*proxy, &guid, "the writer left the DDS domain"));
            }
        }
        // What participants that left said is of no more use.
        self.items.retain(|prefix, _| participants.contains(prefix));
    }

    /// Withdraws a proxy: the event now; the dispose and the wait for its
    /// acknowledgement (up to 200 ms) in the returned future, which the
    /// caller spawns so that the relay never waits on it.
    fn withdraw(
        &self,
        proxy: Proxy,
        guid: &[u8; 16],
        cause: &str,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.emit(AgentEvent::Proxy {
            topic: self.config.topics[proxy.topic].ros_topic.clone(),
            producer: proxy.identity.id.clone(),
            node: proxy.identity.node.clone(),
            writer: hex(guid),
            state: "down",
            cause: cause.to_owned(),
        });
        async move {
            if let Err(error) = proxy.advertiser.shutdown().await {
                tracing::warn!(%error, "proxy advert not disposed; consumers will see its lease expire");
            }
        }
    }

    fn identify_pending(&mut self, at: Timestamp) {
        let pending: Vec<([u8; 16], usize, Timestamp)> = self
            .writers
            .iter()
            .filter_map(|(g, w)| match w {
                Writer::Pending { topic, since } => Some((*g, *topic, *since)),
                _ => None,
            })
            .collect();
        for (guid, topic, since) in pending {
            let nodes: Vec<String> = self
                .items
                .get(&prefix_of(&guid))
                .map(|items| {
                    let mut names: Vec<String> = Vec::new();
                    for name in items.iter().flat_map(|i| i.nodes.iter()) {
                        if !names.contains(name) {
                            names.push(name.clone());
                        }
                    }
                    names
                })
                .unwrap_or_default();
            let config = &self.config.topics[topic];
            let configured: Vec<&str> = config.producers.iter().map(|p| p.node.as_str()).collect();
            let give_up = at.saturating_since(since) >= self.config.identify_within;
            let Some(identity) = identify(&nodes, &configured, &guid, give_up) else {
                continue;
            };
            if let Some(producer) = self.advertised_by(&guid) {
                // A vigil producer (or another agent or bridge) already
                // advertises this writer: a second advert would make it
                // two candidates.
                tracing::debug!(writer = %hex(&guid), %producer, "writer already advertised; not proxied");
                self.writers.insert(guid, Writer::Ignored);
                continue;
            }
            let identity = identity.unique(|id| self.id_taken(topic, id));
            match self.start_proxy(topic, identity, guid, at) {
                Ok(proxy) => {
                    self.emit(AgentEvent::Proxy {
                        topic: config.ros_topic.clone(),
                        producer: proxy.identity.id.clone(),
                        node: proxy.identity.node.clone(),
                        writer: hex(&guid),
                        state: "up",
                        cause: if proxy.identity.node.is_some() {
                            "named by its node's diagnostics".to_owned()
                        } else {
                            "its node did not name itself in time: advertised by GUID".to_owned()
                        },
                    });
                    self.writers.insert(guid, Writer::Proxied(Box::new(proxy)));
                }
                Err(error) => {
                    let reason = format!("cannot advertise writer {}: {error}", hex(&guid));
                    self.reject("writer", &config.ros_topic.clone(), reason);
                    self.writers.insert(guid, Writer::Ignored);
                }
            }
        }
    }

    /// The producer that already advertises `guid`, as the relays'
    /// registries know it (without a relay the agent keeps no registry).
    fn advertised_by(&self, guid: &[u8; 16]) -> Option<String> {
        self.relays.iter().find_map(|relay| {
            relay
                .selector
                .registry()
                .snapshot()
                .into_iter()
                .find(|entry| entry.advert.writer_guid == *guid)
                .map(|entry| entry.advert.key.producer.clone())
        })
    }

    fn id_taken(&self, topic: usize, id: &str) -> bool {
        self.writers.values().any(|w| match w {
            Writer::Proxied(p) => p.topic == topic && p.identity.id == id,
            _ => false,
        })
    }

    fn start_proxy(
        &self,
        topic_index: usize,
        identity: Identity,
        guid: [u8; 16],
        at: Timestamp,
    ) -> Result<Proxy, String> {
        let topic: &TopicConfig = &self.config.topics[topic_index];
        let mut shape = ProxyShape::new(
            &identity.id,
            topic.stale_after,
            topic.min_rate,
            self.config.diagnostics_timeout,
        )
        .map_err(|e| e.to_string())?;
        // What the node already said, its items and their last reports.
        let mut replay = Replay::default();
        for item in self.items.get(&prefix_of(&guid)).into_iter().flatten() {
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
        let qos = self
            .watch_dp
            .dds()
            .discovered_writers()
            .into_iter()
            .find(|d| d.publication_topic_data.key.to_bytes() == guid)
            .map(|d| offered_qos(&d.publication_topic_data.qos()));
        let mut declaration = AdvertiserConfig::new(
            identity.id.clone(),
            topic.dds_topic.clone(),
            topic.dds_type.clone(),
            guid,
        )
        .with_capabilities(topic.capabilities_of(identity.node.as_deref()))
        .with_tree(tree, Some(shape.root().clone()));
        if let Some(qos) = qos {
            declaration = declaration.with_qos(qos);
        }
        let advertiser =
            Advertiser::start(&self.proxies_dp, declaration).map_err(|e| e.to_string())?;
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

    fn publish_diagnostics(&mut self, at: Timestamp) {
        let proxies: Vec<&Proxy> = self
            .writers
            .values()
            .filter_map(|w| match w {
                Writer::Proxied(p) => Some(p.as_ref()),
                _ => None,
            })
            .collect();
        let Some((policy, agg, toplevel)) = self.publish.as_mut() else {
            return;
        };
        if proxies.is_empty() {
            return;
        }
        let worse = proxies.iter().any(|p| p.got_worse);
        let due = policy.due(&[], at);
        if !(worse || due) {
            return;
        }
        let stamp = Time::from_unix_nanos(vigil_discovery::unix_now_ns());
        let mut array = DiagnosticArray::default();
        let mut top: Option<DiagnosticStatus> = None;
        for proxy in &proxies {
            let Some((part, state)) = proxy
                .advertiser
                .with_tree(|tree| (aggregated_array(tree, stamp), toplevel_state(tree)))
            else {
                continue;
            };
            array.header = part.header;
            array.status.extend(part.status);
            if top.as_ref().is_none_or(|t| state.level > t.level) {
                top = Some(state);
            }
        }
        for (writer, bytes) in [
            (&mut *agg, msgs::encode(&array)),
            (
                &mut *toplevel,
                top.map(|t| msgs::encode(&t)).unwrap_or_default(),
            ),
        ] {
            let Some(sample) = RawSample::from_encapsulated(&bytes) else {
                continue;
            };
            if let Err(error) = writer.write(sample) {
                tracing::warn!(?error, "diagnostics not published");
            }
        }
        for writer in self.writers.values_mut() {
            if let Writer::Proxied(p) = writer {
                p.got_worse = false;
            }
        }
    }

    async fn shutdown(mut self) {
        for relay in self.relays.drain(..) {
            relay.selector.shutdown().await;
        }
        let writers: Vec<([u8; 16], Writer)> = self.writers.drain().collect();
        let withdrawals: Vec<_> = writers
            .into_iter()
            .filter_map(|(guid, writer)| match writer {
                Writer::Proxied(proxy) => Some(self.withdraw(*proxy, &guid, "the agent stopped")),
                _ => None,
            })
            .collect();
        futures::future::join_all(withdrawals).await;
    }
}

/// Whether a status item speaks for a proxy's node: every item of its
/// participant when the node is unknown.
fn item_belongs(item: &Item, identity: &Identity) -> bool {
    match &identity.node {
        None => true,
        Some(node) => item.nodes.iter().any(|n| n == node),
    }
}

impl Proxy {
    /// A sample arrived: feed the stream leaves.
    fn on_sample(&mut self, at: Timestamp) -> Option<AgentEvent> {
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
    fn on_item(&mut self, item: &Item) -> Option<AgentEvent> {
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

    fn observe(&mut self, path: &vigil_diag::Path, observation: Observation, _at: Timestamp) {
        if let Err(error) = self.advertiser.observe(path, observation) {
            tracing::warn!(producer = %self.identity.id, %error, "proxy observation refused");
        }
    }

    /// Timers: the advertised rate, and states that changed with time.
    fn on_tick(&mut self, at: Timestamp) -> Option<AgentEvent> {
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
    fn health_event(&mut self) -> Option<AgentEvent> {
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
