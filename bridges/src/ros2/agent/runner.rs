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
use vigil_diag::{Observation, State, Timestamp};
use vigil_discovery::clock::now;
use vigil_discovery::{DdsError, Selector, VigilParticipant};

use super::aggregate::Aggregate;
use super::analyzed::AnalyzedTree;
use super::config::AgentConfig;
use super::dds::{discovery_info_stream, raw_stream};
use super::live::{FoundWriter, Item, Proxy};
use super::proxy::{hex, identify, node_names, MAX_ITEMS};
use super::relay::Relay;
use super::AgentEvent;
use crate::raw::RawSample;
use crate::ros2::discovery_info::decode as decode_discovery_info;
use crate::ros2::msgs::{self, DiagnosticArray};

/// How often timers are looked at.
const TICK: Duration = Duration::from_millis(50);
/// DDS discovery is polled every this many ticks (250 ms).
const DISCOVER_EVERY_TICKS: u64 = 5;
/// After `identify_within`, how long a relay waits for proxies to qualify
/// (a measured rate, a tick, the advert on the wire) before its first
/// selection.
pub(super) const FIRST_SELECTION_AFTER: Duration = Duration::from_millis(500);

/// At most this many writers of one participant are named from
/// `ros_discovery_info`.
const MAX_WRITERS_PER_PARTICIPANT: usize = 4096;

type Prefix = [u8; 12];

/// One raw sample (or rustdds's error) of a watched topic.
type Sample = rustdds::dds::ReadResult<rustdds::no_key::DataSample<RawSample>>;

/// Every watched topic's samples, tagged with the topic's index.
type TopicSamples = futures::stream::SelectAll<BoxStream<'static, (usize, Sample)>>;

fn prefix_of(guid: &[u8; 16]) -> Prefix {
    let mut prefix = [0; 12];
    prefix.copy_from_slice(&guid[..12]);
    prefix
}

enum Writer {
    Pending {
        topic: usize,
        since: Timestamp,
        /// What it offers, as discovery announced it.
        qos: Box<rustdds::QosPolicies>,
    },
    Proxied(Box<Proxy>),
    /// Wrong type for its topic: reported once, then ignored.
    Ignored,
}

pub(super) struct Runner {
    config: AgentConfig,
    proxies_dp: VigilParticipant,
    watch_dp: VigilParticipant,
    own: [Prefix; 2],
    items: HashMap<Prefix, Vec<Item>>,
    /// Writer GUID → its node's name, from `ros_discovery_info`.
    writer_nodes: HashMap<[u8; 16], String>,
    ticks: u64,
    writers: HashMap<[u8; 16], Writer>,
    relays: Vec<Relay>,
    aggregate: Option<Aggregate>,
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
            built.extend(Relay::new(&config, index, selector, &proxies_dp)?);
        }
        let analyzed = match config.analyzers.clone().map(AnalyzedTree::new) {
            None => None,
            Some(Ok(tree)) => Some(tree),
            Some(Err(reason)) => return Err(DdsError::Config { reason }),
        };
        let aggregate = Aggregate::new(&proxies_dp, config.publish_rate, analyzed)?;
        Ok(Runner {
            config,
            proxies_dp,
            watch_dp,
            own,
            items: HashMap::new(),
            writer_nodes: HashMap::new(),
            ticks: 0,
            writers: HashMap::new(),
            relays: built,
            aggregate,
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
        let mut discovery_info = match discovery_info_stream(&self.watch_dp) {
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
                Some(sample) = discovery_info.next() => match sample {
                    Ok(sample) => self.on_discovery_info(sample.into_value()),
                    Err(error) => self.reject("ros_discovery_info", "?", format!("{error:?}")),
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

    fn sample_streams(&self) -> Result<TopicSamples, DdsError> {
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

    fn on_sample(&mut self, topic: usize, sample: Sample) {
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
            match relay.forward(topic, &guid, sample.value()) {
                None => {}
                Some((producer, Ok(()))) => *self.relayed.entry(producer).or_default() += 1,
                Some((producer, Err(error))) => {
                    self.dropped += 1;
                    tracing::warn!(%producer, %error, "sample not relayed");
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
        if let Some(analyzed) = self.aggregate.as_mut().and_then(|a| a.analyzed.as_mut()) {
            for status in &array.status {
                analyzed.observe(status, at);
            }
        }
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

    /// A participant's nodes and their writers, from rmw: replaces what it
    /// said before.
    fn on_discovery_info(&mut self, sample: RawSample) {
        let info = match decode_discovery_info(&sample.to_encapsulated()) {
            Ok(info) => info,
            Err(error) => return self.reject("ros_discovery_info", "?", error.to_string()),
        };
        let prefix = prefix_of(&info.participant);
        self.writer_nodes
            .retain(|guid, _| prefix_of(guid) != prefix);
        // Only the participant's own writers (a GUID of another participant
        // is not its to name), and not more than a participant could have.
        let own = info
            .nodes
            .iter()
            .flat_map(|node| node.writers.iter().map(move |w| (*w, &node.name)))
            .filter(|(writer, _)| prefix_of(writer) == prefix)
            .take(MAX_WRITERS_PER_PARTICIPANT);
        for (writer, name) in own {
            self.writer_nodes.insert(writer, name.clone());
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
        // rustdds's snapshot copies every writer of the domain: four times
        // a second is soon enough to see one come or go (staleness, not
        // discovery, is what reroutes within a tick).
        self.ticks += 1;
        if (self.ticks - 1).is_multiple_of(DISCOVER_EVERY_TICKS) {
            self.discover(at);
        }
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

    fn publish_diagnostics(&mut self, at: Timestamp) {
        let Some(aggregate) = self.aggregate.as_mut() else {
            return;
        };
        let proxies: Vec<&Proxy> = self
            .writers
            .values()
            .filter_map(|w| match w {
                Writer::Proxied(p) => Some(p.as_ref()),
                _ => None,
            })
            .collect();
        if aggregate.publish(&proxies, at) {
            for writer in self.writers.values_mut() {
                if let Writer::Proxied(p) = writer {
                    p.got_worse = false;
                }
            }
        }
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
            self.writers.insert(
                guid,
                Writer::Pending {
                    topic,
                    since: at,
                    qos: Box::new(publication.qos()),
                },
            );
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
        self.writer_nodes
            .retain(|guid, _| participants.contains(&prefix_of(guid)));
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
        let pending: Vec<([u8; 16], usize, Timestamp, rustdds::QosPolicies)> = self
            .writers
            .iter()
            .filter_map(|(g, w)| match w {
                Writer::Pending { topic, since, qos } => {
                    Some((*g, *topic, *since, (**qos).clone()))
                }
                _ => None,
            })
            .collect();
        for (guid, topic, since, qos) in pending {
            // rmw's own word first; the node's diagnostics otherwise.
            let named_by_rmw = self.writer_nodes.contains_key(&guid);
            let nodes: Vec<String> = match self.writer_nodes.get(&guid) {
                Some(node) => vec![node.clone()],
                None => self
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
                    .unwrap_or_default(),
            };
            let config = &self.config.topics[topic];
            let configured: Vec<&str> = config.producers.iter().map(|p| p.node.as_str()).collect();
            let give_up = named_by_rmw || at.saturating_since(since) >= self.config.identify_within;
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
            let items = self.items.get(&prefix_of(&guid)).into_iter().flatten();
            let writer = FoundWriter {
                topic_index: topic,
                topic: config,
                identity,
                guid,
                qos,
            };
            let timeout = self.config.diagnostics_timeout;
            let key = self.config.key.as_ref();
            let started = Proxy::start(&self.proxies_dp, key, writer, items, timeout, at);
            match started {
                Ok(proxy) => {
                    self.emit(AgentEvent::Proxy {
                        topic: config.ros_topic.clone(),
                        producer: proxy.identity.id.clone(),
                        node: proxy.identity.node.clone(),
                        writer: hex(&guid),
                        state: "up",
                        cause: if named_by_rmw {
                            "named by ros_discovery_info".to_owned()
                        } else if proxy.identity.node.is_some() {
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
