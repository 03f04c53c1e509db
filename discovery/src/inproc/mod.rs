//! The in-process transport: the same adverts, heartbeats and data as the
//! DDS shell, moved through memory on a clock the caller controls.
//!
//! An [`InProcess`] network holds the transient-local advert store, every
//! producer's heartbeat timer and every consumer's registry and selection.
//! Nothing runs on its own: [`InProcess::advance`] moves the clock and
//! fires, in time order, every heartbeat, lease expiry, hold-off and
//! wait-to-restore due on the way, so a scenario of many producers runs
//! deterministically in milliseconds, and the same scenario gives the same
//! events every time. [`InProcess::spawn_realtime`] lets the clock follow
//! the wall clock instead, for applications and tests that want real time
//! without DDS.
//!
//! Delivery is immediate and lossless; the producers and consumers are the
//! same cores as on DDS (`advertising`, `follow`, the registry and the
//! selection), so what a simulation decides is what DDS would decide given
//! the same inputs at the same times.
//!
//! # Layout
//!
//! - this file: [`InProcess`], the bus and its clock.
//! - `producer`: [`InProcAdvertiser`], a producer's advert, tree and data.
//! - `consumer`: [`InProcConsumer`], a consumer's selection and filtered
//!   data, as one ordered stream of [`Incoming`] items.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use thiserror::Error;
use vigil_diag::Timestamp;

use crate::advert::AdvertKey;
use crate::advertising::AdvertState;
use crate::registry::{Registry, RegistryInput};
use crate::wire::{AdvertWire, HeartbeatWire};

mod consumer;
mod producer;

use consumer::ConsumerSlot;
pub use consumer::{InProcConsumer, InProcConsumerConfig, InProcConsumerStats, Incoming};
pub use producer::InProcAdvertiser;

/// What can go wrong on the in-process transport.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InProcError {
    /// The producer's declaration is wrong (bad id, topic, tree path or
    /// degradation rule), or a change to it was refused; nothing changed.
    #[error("invalid advertiser for `{producer}` on `{topic}`: {reason}")]
    Advertiser {
        /// Producer id.
        producer: String,
        /// Topic.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// An observation was refused by the producer's diagnostic tree.
    #[error(transparent)]
    Observation(#[from] vigil_diag::UpdateError),
    /// The network's configuration is inconsistent.
    #[error("invalid in-process configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The producer was shut down.
    #[error("producer `{producer}` has been shut down")]
    Closed {
        /// Producer id.
        producer: String,
    },
}

/// The liveness contract of an in-process network, as
/// [`DdsConfig`](crate::DdsConfig) states it for DDS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InProcConfig {
    /// How often a producer sends a heartbeat.
    pub heartbeat_period: Duration,
    /// How long after the last heartbeat a producer counts as unreachable.
    pub lease: Duration,
    /// How long an unreachable producer stays in a consumer's registry.
    pub grace: Duration,
    /// The wall-clock time (nanoseconds since the Unix epoch) at core time
    /// zero: samples are stamped with it plus the core time.
    pub unix_origin_ns: u64,
}

impl Default for InProcConfig {
    /// The DDS shell's defaults: 10 ms heartbeats, 100 ms lease, 5 s
    /// grace; the wall clock starts at 2026-01-01T00:00:00Z.
    fn default() -> Self {
        InProcConfig {
            heartbeat_period: crate::DdsConfig::DEFAULT_HEARTBEAT_PERIOD,
            lease: crate::DdsConfig::DEFAULT_LEASE,
            grace: crate::DdsConfig::DEFAULT_GRACE,
            unix_origin_ns: 1_767_225_600_000_000_000,
        }
    }
}

impl InProcConfig {
    /// Checks the liveness contract as [`DdsConfig::validate`](crate::DdsConfig::validate)
    /// does: a positive heartbeat period, a lease longer than it.
    pub fn validate(&self) -> Result<(), InProcError> {
        if self.heartbeat_period.is_zero() {
            return Err(InProcError::Config {
                reason: "heartbeat period must be positive".to_owned(),
            });
        }
        if self.lease <= self.heartbeat_period {
            return Err(InProcError::Config {
                reason: format!(
                    "lease ({:?}) must be longer than the heartbeat period ({:?})",
                    self.lease, self.heartbeat_period
                ),
            });
        }
        Ok(())
    }

    /// Sets the heartbeat period and lease.
    pub fn with_liveness(mut self, heartbeat_period: Duration, lease: Duration) -> InProcConfig {
        self.heartbeat_period = heartbeat_period;
        self.lease = lease;
        self
    }
}

/// A network in one process, on a clock the caller moves. Cheap to clone;
/// every clone is the same network. See the module docs.
///
/// ```
/// use std::time::Duration;
/// use vigil_discovery::inproc::{InProcess, InProcConsumerConfig};
/// use vigil_discovery::AdvertiserConfig;
///
/// let net = InProcess::new(Default::default());
/// let imu = net.advertise(AdvertiserConfig::new("imu_a", "imu", "Imu", [0; 16])).unwrap();
/// let query = vigil_qos::Query::parse("imu").unwrap();
/// let consumer = net.follow::<f64>(&query, "Imu", InProcConsumerConfig::default());
/// net.advance(Duration::from_secs(1));
/// imu.write(1.5);
/// let mut got = Vec::new();
/// while let Some(item) = consumer.try_recv() {
///     got.push(item);
/// }
/// assert!(matches!(got.last(), Some(vigil_discovery::inproc::Incoming::Sample(s)) if s.value == 1.5));
/// ```
#[derive(Clone)]
pub struct InProcess {
    bus: Arc<Mutex<Bus>>,
}

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bus = self.lock();
        f.debug_struct("InProcess")
            .field("now", &bus.now)
            .field("producers", &bus.producers.len())
            .field("consumers", &bus.consumers.len())
            .finish_non_exhaustive()
    }
}

/// The shared state: every producer and consumer, under one lock, so an
/// input reaches every consumer before the next one is taken.
pub(crate) struct Bus {
    config: InProcConfig,
    now: Timestamp,
    next_id: u64,
    /// The advert topic's transient-local store: the latest advert of
    /// each (producer, topic) and the advert writer that sent it.
    adverts: BTreeMap<AdvertKey, (AdvertWire, [u8; 16])>,
    producers: BTreeMap<u64, ProducerSlot>,
    consumers: BTreeMap<u64, ConsumerSlot>,
}

struct ProducerSlot {
    state: AdvertState,
    /// The id of this producer's advert writer (its DDS GUID twin).
    advert_writer: [u8; 16],
    next_heartbeat: Timestamp,
}

/// A poisoned lock only means a panic elsewhere; the bus is plain data and
/// every mutation completes before it returns.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl InProcess {
    /// An empty network at core time zero.
    ///
    /// # Panics
    ///
    /// If `config` fails [`InProcConfig::validate`]: a zero heartbeat
    /// period would never let the clock move past it. Configurations are
    /// built in code; check one from elsewhere with `validate` first.
    pub fn new(config: InProcConfig) -> InProcess {
        if let Err(error) = config.validate() {
            panic!("{error}");
        }
        InProcess {
            bus: Arc::new(Mutex::new(Bus {
                config,
                now: Timestamp::ZERO,
                next_id: 1,
                adverts: BTreeMap::new(),
                producers: BTreeMap::new(),
                consumers: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Bus> {
        lock(&self.bus)
    }

    /// The network's liveness contract.
    pub fn config(&self) -> InProcConfig {
        self.lock().config
    }

    /// Now on the network's core clock.
    pub fn now(&self) -> Timestamp {
        self.lock().now
    }

    /// Now on the network's wall clock, nanoseconds since the Unix epoch.
    pub fn unix_now_ns(&self) -> u64 {
        self.lock().unix_now_ns()
    }

    /// Moves the clock forward by `by`, firing everything due on the way
    /// in time order (see the module docs).
    pub fn advance(&self, by: Duration) {
        let mut bus = self.lock();
        let until = bus.now + by;
        bus.run_until(until);
    }

    /// Moves the clock to `at` (no-op if it is already past it).
    pub fn advance_to(&self, at: Timestamp) {
        self.lock().run_until(at);
    }

    /// Lets the clock follow the wall clock from now on, in steps of at
    /// most `step`, until the returned task is aborted or the network is
    /// dropped. Must be called inside a tokio runtime.
    pub fn spawn_realtime(&self, step: Duration) -> tokio::task::JoinHandle<()> {
        let bus = Arc::downgrade(&self.bus);
        let start = tokio::time::Instant::now();
        let base = self.now();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(step.max(Duration::from_micros(100)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(bus) = bus.upgrade() else { return };
                let at = base + start.elapsed();
                lock(&bus).run_until(at);
            }
        })
    }

    fn next_id(bus: &mut Bus) -> u64 {
        let id = bus.next_id;
        bus.next_id += 1;
        id
    }
}

/// A 16-byte endpoint id for an in-process writer, shaped like a DDS GUID
/// (a fixed prefix naming the transport, then the id).
fn endpoint(id: u64, kind: u8) -> [u8; 16] {
    let mut guid = [0u8; 16];
    guid[..4].copy_from_slice(b"vipr");
    guid[4..12].copy_from_slice(&id.to_be_bytes());
    guid[15] = kind;
    guid
}

impl Bus {
    fn unix_now_ns(&self) -> u64 {
        self.config
            .unix_origin_ns
            .saturating_add(self.now.as_nanos())
    }

    /// Fires everything due up to `until`, earliest first, then sets the
    /// clock to `until`. Producers fire before consumers at the same
    /// instant, and each kind in id order, so runs are repeatable.
    fn run_until(&mut self, until: Timestamp) {
        loop {
            let producer = self
                .producers
                .iter()
                .map(|(id, p)| (p.next_heartbeat, *id))
                .min();
            let consumer = self
                .consumers
                .iter()
                .filter_map(|(id, c)| c.next_deadline().map(|at| (at, *id)))
                .min();
            let next = match (producer, consumer) {
                (Some(p), Some(c)) if c.0 < p.0 => Due::Consumer(c),
                (Some(p), _) => Due::Producer(p),
                (None, Some(c)) => Due::Consumer(c),
                (None, None) => break,
            };
            let (at, id) = match next {
                Due::Producer(x) | Due::Consumer(x) => x,
            };
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            match next {
                Due::Producer(_) => self.heartbeat(id),
                Due::Consumer(_) => {
                    let now = self.now;
                    if let Some(consumer) = self.consumers.get_mut(&id) {
                        consumer.tick(now);
                    }
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// One producer's heartbeat: the tree ages, a changed advert goes out,
    /// then the heartbeat.
    fn heartbeat(&mut self, id: u64) {
        let (now, unix) = (self.now, self.unix_now_ns());
        let period = self.config.heartbeat_period;
        let Some(slot) = self.producers.get_mut(&id) else {
            return;
        };
        slot.next_heartbeat = now + period;
        slot.state.tick(now);
        self.publish_advert(id);
        let Some(slot) = self.producers.get_mut(&id) else {
            return;
        };
        let beat = slot.state.heartbeat(unix);
        // From the advert writer's participant, as on DDS (the registry
        // takes a heartbeat only from the advertising participant).
        let sender = slot.advert_writer;
        self.deliver_heartbeat(beat, sender);
    }

    /// Publishes producer `id`'s advert if it changed.
    fn publish_advert(&mut self, id: u64) {
        let unix = self.unix_now_ns();
        let Some(slot) = self.producers.get_mut(&id) else {
            return;
        };
        let Some(advert) = slot.state.due_publication(unix) else {
            return;
        };
        slot.state.published();
        let sender = slot.advert_writer;
        let key = AdvertKey::new(advert.key.producer.clone(), advert.key.topic.clone());
        self.adverts.insert(key, (advert.clone(), sender));
        let now = self.now;
        for consumer in self.consumers.values_mut() {
            consumer.input(
                RegistryInput::AdvertFrom {
                    wire: advert.clone(),
                    sender,
                },
                now,
            );
        }
    }

    fn deliver_heartbeat(&mut self, beat: HeartbeatWire, sender: [u8; 16]) {
        let now = self.now;
        for consumer in self.consumers.values_mut() {
            consumer.input(
                RegistryInput::HeartbeatFrom {
                    wire: beat.clone(),
                    sender,
                },
                now,
            );
        }
    }

    /// Producer `id` leaves: cleanly (its advert disposed) or not (its
    /// heartbeats just stop, as when a process is killed).
    fn remove_producer(&mut self, id: u64, dispose: bool) {
        let Some(slot) = self.producers.remove(&id) else {
            return;
        };
        let advert = slot.state.advert();
        let key = AdvertKey::new(advert.key.producer.clone(), advert.key.topic.clone());
        // A dead writer's transient-local data dies with it on DDS too: a
        // consumer that joins later must not hear a crashed producer.
        let published_by_it = self
            .adverts
            .get(&key)
            .is_some_and(|(_, sender)| *sender == slot.advert_writer);
        if published_by_it {
            self.adverts.remove(&key);
        }
        if !dispose {
            // The consumers that knew it find out at the lease.
            return;
        }
        let now = self.now;
        for consumer in self.consumers.values_mut() {
            consumer.input(
                RegistryInput::DisposedBy {
                    key: key.clone(),
                    sender: slot.advert_writer,
                },
                now,
            );
        }
    }

    /// A data sample of `topic` from `writer`, to every consumer reading it.
    fn write(
        &mut self,
        topic: &str,
        type_name: &str,
        writer: [u8; 16],
        value: Arc<dyn Any + Send + Sync>,
    ) {
        let (ts, now) = (self.unix_now_ns(), self.now);
        for consumer in self.consumers.values_mut() {
            consumer.data(topic, type_name, (writer, ts, now), &value);
        }
    }

    fn new_registry(&self) -> Registry {
        let registry = Registry::new(crate::RegistryConfig {
            grace: self.config.grace,
        });
        // The advert topic is transient-local: a consumer that joins late
        // gets every current advert at once.
        for input in self.stored_adverts() {
            registry.apply(input, self.now);
        }
        registry
    }

    /// The advert store, as the inputs a joining consumer takes.
    pub(crate) fn stored_adverts(&self) -> Vec<RegistryInput> {
        self.adverts
            .values()
            .map(|(wire, sender)| RegistryInput::AdvertFrom {
                wire: wire.clone(),
                sender: *sender,
            })
            .collect()
    }
}

enum Due {
    Producer((Timestamp, u64)),
    Consumer((Timestamp, u64)),
}
