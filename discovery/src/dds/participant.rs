//! One DDS domain participant with vigil's two topics, and the rustdds
//! plumbing of the wire structs (keys, QoS).

use std::fmt;
use std::sync::Arc;

use rustdds::dds::key::{CdrEncodingMaxSize, CdrEncodingSize};
use rustdds::policy::{Durability, History, Reliability, ResourceLimits};
use rustdds::with_key::{DataReader, DataWriter};
use rustdds::{
    CDRDeserializerAdapter, CDRSerializerAdapter, DomainParticipant, DomainParticipantBuilder, Key,
    Keyed, Publisher, QosPolicies, QosPolicyBuilder, RTPSEntity, Subscriber, Topic,
    TopicDescription, TopicKind,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{DdsConfig, DdsError};
use crate::wire::{
    AdvertKeyWire, AdvertWire, ConsumerRouteWire, FailedOnBehalfWire, HeartbeatWire, ADVERT_TOPIC,
    ADVERT_TYPE, CONSUMER_ROUTE_HISTORY, CONSUMER_ROUTE_TOPIC, CONSUMER_ROUTE_TYPE,
    FAILED_ON_BEHALF_TOPIC, FAILED_ON_BEHALF_TYPE, HEARTBEAT_TOPIC, HEARTBEAT_TYPE,
};
use crate::wire::{HeartbeatBundleWire, HEARTBEAT_BUNDLE_TOPIC, HEARTBEAT_BUNDLE_TYPE};

/// A typed writer with rustdds's CDR adapter, as vigil creates them.
pub type CdrWriter<T> = DataWriter<T, CDRSerializerAdapter<T>>;
/// A typed reader with rustdds's CDR adapter, as vigil creates them.
pub type CdrReader<T> = DataReader<T, CDRDeserializerAdapter<T>>;

// The advert instance key: one instance per (producer, topic).
impl Key for AdvertKeyWire {}

impl CdrEncodingSize for AdvertKeyWire {
    /// Two strings: unbounded, so rustdds hashes the key with MD5 (RTPS 2.3
    /// §9.6.3.8), which is what other vendors do for string keys too.
    fn cdr_encoding_max_size() -> CdrEncodingMaxSize {
        CdrEncodingMaxSize::Unbounded
    }
}

impl Keyed for AdvertWire {
    type K = AdvertKeyWire;

    fn key(&self) -> AdvertKeyWire {
        self.key.clone()
    }
}

// One instance per supervised child: a later word about the same child
// supersedes an unacknowledged earlier one.
impl Keyed for FailedOnBehalfWire {
    type K = String;

    fn key(&self) -> String {
        self.child.clone()
    }
}

// One instance per consumer: its current route and recent switches.
impl Keyed for ConsumerRouteWire {
    type K = String;

    fn key(&self) -> String {
        self.consumer.clone()
    }
}

// One instance per (producer, topic) since wire revision 5 (issue 14):
// keyed by producer alone, a reader's keep-last-1 history would let one
// topic's heartbeat supersede another's of the same producer before it
// was taken. A v1 build keys by producer; it does not tell topics apart
// anyway.
impl Keyed for HeartbeatWire {
    type K = AdvertKeyWire;

    fn key(&self) -> AdvertKeyWire {
        AdvertKeyWire {
            producer: self.producer.clone(),
            topic: self.topic.clone(),
        }
    }
}

/// A DDS domain participant joined for vigil: the advert and heartbeat
/// topics, one publisher and one subscriber. Cheap to clone; every clone is
/// the same participant.
///
/// Applications create their own data writers and readers on it (or on
/// [`VigilParticipant::dds`]) so that a producer's data writer and its
/// advert share a participant, as a DDS expert would expect.
#[derive(Clone)]
pub struct VigilParticipant {
    inner: Arc<Inner>,
}

struct Inner {
    dp: DomainParticipant,
    config: DdsConfig,
    adverts: Topic,
    heartbeats: Topic,
    failed_on_behalf: Topic,
    consumer_routes: Topic,
    /// Wire v2's heartbeat bundles (issue 14).
    bundles: Topic,
    /// The participant's one heartbeat for all its advertisers, made by
    /// the first (see `beats`).
    beat: std::sync::Mutex<Option<Arc<super::beats::Beat>>>,
    publisher: Publisher,
    subscriber: Subscriber,
}

impl fmt::Debug for VigilParticipant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VigilParticipant")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl VigilParticipant {
    /// Joins the domain of `config` on its interface only (loopback by
    /// default) and creates vigil's topics. Takes about 40 ms.
    pub fn new(config: DdsConfig) -> Result<VigilParticipant, DdsError> {
        config.validate()?;
        // rustdds's threads start here: see `signals`.
        let dp = super::signals::without_signals(|| {
            DomainParticipantBuilder::new(config.domain)
                .with_only_networks([config.interface])
                .build()
        })
        .map_err(|e| DdsError::Participant {
            domain: config.domain,
            interface: config.interface,
            source: Box::new(e),
        })?;
        let adverts = dp
            .create_topic(
                ADVERT_TOPIC.to_owned(),
                ADVERT_TYPE.to_owned(),
                &advert_qos(),
                TopicKind::WithKey,
            )
            .map_err(|e| DdsError::create("topic", ADVERT_TOPIC, e))?;
        let heartbeats = dp
            .create_topic(
                HEARTBEAT_TOPIC.to_owned(),
                HEARTBEAT_TYPE.to_owned(),
                &heartbeat_qos(),
                TopicKind::WithKey,
            )
            .map_err(|e| DdsError::create("topic", HEARTBEAT_TOPIC, e))?;
        let failed_on_behalf = dp
            .create_topic(
                FAILED_ON_BEHALF_TOPIC.to_owned(),
                FAILED_ON_BEHALF_TYPE.to_owned(),
                &failed_on_behalf_qos(),
                TopicKind::WithKey,
            )
            .map_err(|e| DdsError::create("topic", FAILED_ON_BEHALF_TOPIC, e))?;
        let consumer_routes = dp
            .create_topic(
                CONSUMER_ROUTE_TOPIC.to_owned(),
                CONSUMER_ROUTE_TYPE.to_owned(),
                &consumer_route_qos(),
                TopicKind::WithKey,
            )
            .map_err(|e| DdsError::create("topic", CONSUMER_ROUTE_TOPIC, e))?;
        let bundles = dp
            .create_topic(
                HEARTBEAT_BUNDLE_TOPIC.to_owned(),
                HEARTBEAT_BUNDLE_TYPE.to_owned(),
                &heartbeat_qos(),
                TopicKind::WithKey,
            )
            .map_err(|e| DdsError::create("topic", HEARTBEAT_BUNDLE_TOPIC, e))?;
        let default_qos = QosPolicyBuilder::new().build();
        let publisher = dp
            .create_publisher(&default_qos)
            .map_err(|e| DdsError::create("publisher", ADVERT_TOPIC, e))?;
        let subscriber = dp
            .create_subscriber(&default_qos)
            .map_err(|e| DdsError::create("subscriber", ADVERT_TOPIC, e))?;
        Ok(VigilParticipant {
            inner: Arc::new(Inner {
                dp,
                config,
                adverts,
                heartbeats,
                failed_on_behalf,
                consumer_routes,
                bundles,
                beat: std::sync::Mutex::new(None),
                publisher,
                subscriber,
            }),
        })
    }

    /// The configuration it was joined with.
    pub fn config(&self) -> &DdsConfig {
        &self.inner.config
    }

    /// The participant's GUID prefix (12 bytes): what a supervisor passes
    /// its children so their adverts name it, and what the GUID of every
    /// writer of this participant starts with.
    pub fn guid_prefix(&self) -> [u8; 12] {
        let guid = self.inner.dp.guid().to_bytes();
        let mut prefix = [0; 12];
        prefix.copy_from_slice(&guid[..12]);
        prefix
    }

    /// The rustdds participant, for the application's own entities.
    pub fn dds(&self) -> &DomainParticipant {
        &self.inner.dp
    }

    /// The shared publisher.
    pub fn publisher(&self) -> &Publisher {
        &self.inner.publisher
    }

    /// The shared subscriber.
    pub fn subscriber(&self) -> &Subscriber {
        &self.inner.subscriber
    }

    /// Creates (or finds) a keyed application data topic with
    /// [`data_qos`].
    pub fn data_topic(&self, name: &str, type_name: &str) -> Result<Topic, DdsError> {
        self.inner
            .dp
            .create_topic(
                name.to_owned(),
                type_name.to_owned(),
                &data_qos(),
                TopicKind::WithKey,
            )
            .map_err(|e| DdsError::create("topic", name, e))
    }

    /// A CDR writer on an application topic with `qos` (default
    /// [`data_qos`]).
    pub fn data_writer<T>(
        &self,
        topic: &Topic,
        qos: Option<QosPolicies>,
    ) -> Result<CdrWriter<T>, DdsError>
    where
        T: Keyed + Serialize,
        T::K: Serialize,
    {
        self.inner
            .publisher
            .create_datawriter_cdr::<T>(topic, Some(qos.unwrap_or_else(data_qos)))
            .map_err(|e| DdsError::create("data writer", &topic.name(), e))
    }

    /// A CDR reader on an application topic with `qos` (default
    /// [`data_qos`]).
    pub fn data_reader<T>(
        &self,
        topic: &Topic,
        qos: Option<QosPolicies>,
    ) -> Result<CdrReader<T>, DdsError>
    where
        T: Keyed + DeserializeOwned + 'static,
        for<'de> T::K: serde::Deserialize<'de>,
    {
        self.inner
            .subscriber
            .create_datareader_cdr::<T>(topic, Some(qos.unwrap_or_else(data_qos)))
            .map_err(|e| DdsError::create("data reader", &topic.name(), e))
    }

    pub(crate) fn advert_writer(&self) -> Result<CdrWriter<AdvertWire>, DdsError> {
        self.inner
            .publisher
            .create_datawriter_cdr::<AdvertWire>(&self.inner.adverts, Some(advert_qos()))
            .map_err(|e| DdsError::create("advert writer", ADVERT_TOPIC, e))
    }

    pub(crate) fn heartbeat_writer(&self) -> Result<CdrWriter<HeartbeatWire>, DdsError> {
        self.inner
            .publisher
            .create_datawriter_cdr::<HeartbeatWire>(&self.inner.heartbeats, Some(beat_writer_qos()))
            .map_err(|e| DdsError::create("heartbeat writer", HEARTBEAT_TOPIC, e))
    }

    pub(crate) fn advert_reader(&self) -> Result<CdrReader<AdvertWire>, DdsError> {
        self.inner
            .subscriber
            .create_datareader_cdr::<AdvertWire>(&self.inner.adverts, Some(advert_qos()))
            .map_err(|e| DdsError::create("advert reader", ADVERT_TOPIC, e))
    }

    pub(crate) fn failed_on_behalf_writer(
        &self,
    ) -> Result<CdrWriter<FailedOnBehalfWire>, DdsError> {
        self.inner
            .publisher
            .create_datawriter_cdr::<FailedOnBehalfWire>(
                &self.inner.failed_on_behalf,
                Some(failed_on_behalf_qos()),
            )
            .map_err(|e| DdsError::create("FAILED-on-behalf writer", FAILED_ON_BEHALF_TOPIC, e))
    }

    pub(crate) fn failed_on_behalf_reader(
        &self,
    ) -> Result<CdrReader<FailedOnBehalfWire>, DdsError> {
        self.inner
            .subscriber
            .create_datareader_cdr::<FailedOnBehalfWire>(
                &self.inner.failed_on_behalf,
                Some(failed_on_behalf_qos()),
            )
            .map_err(|e| DdsError::create("FAILED-on-behalf reader", FAILED_ON_BEHALF_TOPIC, e))
    }

    pub(crate) fn consumer_route_writer(&self) -> Result<CdrWriter<ConsumerRouteWire>, DdsError> {
        self.inner
            .publisher
            .create_datawriter_cdr::<ConsumerRouteWire>(
                &self.inner.consumer_routes,
                Some(consumer_route_qos()),
            )
            .map_err(|e| DdsError::create("consumer route writer", CONSUMER_ROUTE_TOPIC, e))
    }

    /// A reader of every consumer's route ([`CONSUMER_ROUTE_TOPIC`]), for
    /// readers that keep their own (the knowledge base); validate each
    /// sample with [`ConsumerRoute::from_wire`](crate::ConsumerRoute::from_wire).
    /// [`RouteBoard`](super::RouteBoard) keeps the current routes.
    pub fn consumer_route_reader(&self) -> Result<CdrReader<ConsumerRouteWire>, DdsError> {
        self.inner
            .subscriber
            .create_datareader_cdr::<ConsumerRouteWire>(
                &self.inner.consumer_routes,
                Some(consumer_route_qos()),
            )
            .map_err(|e| DdsError::create("consumer route reader", CONSUMER_ROUTE_TOPIC, e))
    }

    /// The participant's heartbeat, made at the first call.
    pub(crate) fn beat(&self) -> Result<Arc<super::beats::Beat>, DdsError> {
        let mut beat = self
            .inner
            .beat
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(beat) = beat.as_ref() {
            return Ok(Arc::clone(beat));
        }
        let made = Arc::new(super::beats::Beat::new(self)?);
        *beat = Some(Arc::clone(&made));
        Ok(made)
    }

    pub(crate) fn bundle_writer(&self) -> Result<CdrWriter<HeartbeatBundleWire>, DdsError> {
        self.inner
            .publisher
            .create_datawriter_cdr::<HeartbeatBundleWire>(
                &self.inner.bundles,
                Some(beat_writer_qos()),
            )
            .map_err(|e| DdsError::create("heartbeat bundle writer", HEARTBEAT_BUNDLE_TOPIC, e))
    }

    pub(crate) fn bundle_reader(&self) -> Result<CdrReader<HeartbeatBundleWire>, DdsError> {
        self.inner
            .subscriber
            .create_datareader_cdr::<HeartbeatBundleWire>(
                &self.inner.bundles,
                Some(heartbeat_qos()),
            )
            .map_err(|e| DdsError::create("heartbeat bundle reader", HEARTBEAT_BUNDLE_TOPIC, e))
    }

    pub(crate) fn heartbeat_reader(&self) -> Result<CdrReader<HeartbeatWire>, DdsError> {
        self.inner
            .subscriber
            .create_datareader_cdr::<HeartbeatWire>(&self.inner.heartbeats, Some(heartbeat_qos()))
            .map_err(|e| DdsError::create("heartbeat reader", HEARTBEAT_TOPIC, e))
    }
}

/// The GUID of a DDS entity (a data writer, for
/// [`AdvertiserConfig`](super::AdvertiserConfig)) as 16 bytes: prefix and
/// entity id.
pub fn guid_of(entity: &impl RTPSEntity) -> [u8; 16] {
    entity.guid().to_bytes()
}

/// Writers never wait for a full reliable window: a sample that cannot be
/// admitted is reported at once. The advertiser's heartbeat task also
/// republishes the advert, so a blocked advert write would stop its
/// heartbeats and make the producer look dead, which is worse than one lost
/// sample (the advert is retried at the next heartbeat).
fn reliable() -> Reliability {
    Reliability::Reliable {
        max_blocking_time: rustdds::Duration::ZERO,
    }
}

/// QoS of the advert topic: reliable, transient-local so late joiners get
/// the current set, keep-last 1 per (producer, topic) instance.
pub fn advert_qos() -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(reliable())
        .durability(Durability::TransientLocal)
        .history(History::KeepLast { depth: 1 })
        .build()
}

/// QoS of the FAILED-on-behalf topic: reliable (each message is an event
/// no heartbeat repeats), volatile (a consumer that joins later never saw
/// the producer alive either; its lease covers the rest), keep-last 8 per
/// child.
pub fn failed_on_behalf_qos() -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(reliable())
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 8 })
        .build()
}

/// QoS of the consumer route topic: reliable, transient-local so a
/// monitor that joins later sees every consumer's route, keep-last
/// [`CONSUMER_ROUTE_HISTORY`] per consumer so a reader that lags a few
/// switches still gets each of them.
pub fn consumer_route_qos() -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(reliable())
        .durability(Durability::TransientLocal)
        .history(History::KeepLast {
            depth: CONSUMER_ROUTE_HISTORY,
        })
        .build()
}

/// QoS of the heartbeat topic: best effort, volatile (an old heartbeat is
/// worthless), keep-last 1 per producer.
///
/// Best effort because each heartbeat supersedes the one before it. Were the
/// topic reliable, one lost datagram would hold every later heartbeat of
/// that producer in the reader until the RTPS repair (a writer HEARTBEAT,
/// the reader's ACKNACK, the resend: 100 ms to 1 s), and a lease of 100 ms
/// would expire on a producer that is alive and still sending. Best effort,
/// the next heartbeat simply arrives one period later.
///
/// A best-effort reader matches a reliable writer but not the reverse
/// (DDS 1.4 §2.2.3, RELIABILITY: offered must be >= requested), so every
/// vigil process must use this same QoS for the topic.
pub fn heartbeat_qos() -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(Reliability::BestEffort)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 1 })
        .build()
}

/// QoS of a participant's heartbeat writers (`beats`): the topic's, with
/// a deep writer history. rustdds keeps only the newest `depth` samples of
/// a best-effort writer until its event loop sends them, across instances:
/// with depth 1, the single heartbeats of a hundred advertisers written in
/// one burst went out as one or two (measured: 13-19 of 1 000 a second
/// reached a reader), and a bundle's first part was lost to its second.
fn beat_writer_qos() -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(Reliability::BestEffort)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 1024 })
        .build()
}

/// Default QoS of application data topics (`vigil produce` and
/// [`Subscription`](super::Subscription)): reliable, volatile, keep-last 256.
///
/// The resource limit sizes rustdds's reliable send window. rustdds derives
/// it from `max_samples` (default 8192) and keeps a SIGKILLed reader matched
/// for its 50 s participant lease: at 1 kHz the default window fills in 8 s
/// and every later sample would be refused for every reader. 65 536 covers
/// the lease at 1 kHz.
pub fn data_qos() -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(reliable())
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 256 })
        .resource_limits(ResourceLimits {
            max_samples: 65_536,
            max_instances: 1024,
            max_samples_per_instance: 65_536,
        })
        .build()
}
