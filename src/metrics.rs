//! Prometheus metrics of a consumer's core, served over HTTP.
//!
//! [`CoreMetrics`] is a [`Recorder`]: it sees every step of the core the
//! flight recorder sees, so the counters and the recording never disagree.
//! It keeps its own `prometheus_client` registry (no global state: it can
//! live inside a host process). [`MetricsServer`] serves it on
//! `GET /metrics` as OpenMetrics text.
//!
//! Every label set is bounded: input kinds, registry change kinds and
//! switch causes are fixed lists; producer ids label only the per-producer
//! health gauge, and only for the first [`DEFAULT_PRODUCER_LIMIT`] (or
//! the configured limit) producers at a time: the others are counted in
//! `vigil_producers_untracked`.
//!
//! `vigil agent` and `vigil bridge zenoh` add their own counters
//! (`relay`: [`CoreMetrics::with_agent`], [`CoreMetrics::with_bridge`]).

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use vigil_diag::State;
use vigil_discovery::{
    AdvertKey, RecordedInput, RecordedSession, RecordedStep, Recorder, RegistryChange, SwitchCause,
};

use crate::record::FlightRecorder;

mod relay;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabel {
    change: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabel {
    event: &'static str,
}

/// The supervisor's event kinds (`vigil supervise --format json`): a fixed
/// label set; anything else counts as `other`.
const SUPERVISOR_EVENTS: &[&str] = &[
    "started",
    "exited",
    "status",
    "restarting",
    "hung",
    "escalated",
    "stopped",
    "failed",
    "gave_up",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProducerLabel {
    producer: String,
    topic: String,
}

/// How many producers get a health series by default.
pub const DEFAULT_PRODUCER_LIMIT: usize = 100;

/// Which producers have a health series: the first `limit` known, a slot
/// freed when one is removed.
#[derive(Debug, Default)]
struct Tracked {
    limit: usize,
    tracked: BTreeSet<AdvertKey>,
    untracked: BTreeSet<AdvertKey>,
}

/// The counters of one consumer's (or monitor's) core.
pub struct CoreMetrics {
    registry: Registry,
    inputs: Family<KindLabel, Counter>,
    rejected: Family<KindLabel, Counter>,
    refused: Family<ReasonLabel, Counter>,
    changes: Family<ChangeLabel, Counter>,
    switches: Family<CauseLabel, Counter>,
    lease_expiries: Counter,
    reroute: Histogram,
    samples_delivered: Counter,
    samples_lost: Counter,
    record_dropped: Counter,
    producer_health: Family<ProducerLabel, Gauge>,
    producers_untracked: Gauge,
    supervisor_events: Family<EventLabel, Counter>,
    breaker_events: Family<EventLabel, Counter>,
    tracked: Mutex<Tracked>,
    /// The recorder's dropped count last added to `record_dropped`.
    record_dropped_seen: AtomicU64,
    /// Forwarded every step (the flight recorder), when there is one.
    recorder: Option<Arc<FlightRecorder>>,
    /// The agent's relay counters (`vigil agent` only).
    relay: Option<relay::RelayMetrics>,
    /// The Zenoh bridge's counters (`vigil bridge zenoh` only).
    #[cfg(feature = "zenoh")]
    bridge: Option<relay::BridgeMetrics>,
}

impl fmt::Debug for CoreMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreMetrics").finish_non_exhaustive()
    }
}

impl CoreMetrics {
    /// Fresh counters; steps are also passed on to `recorder`.
    pub fn new(recorder: Option<Arc<FlightRecorder>>) -> CoreMetrics {
        let mut registry = Registry::with_prefix("vigil");
        let inputs = Family::<KindLabel, Counter>::default();
        registry.register(
            "inputs",
            "Inputs the core took, by kind (tick: a timer run)",
            inputs.clone(),
        );
        let rejected = Family::<KindLabel, Counter>::default();
        registry.register(
            "inputs_rejected",
            "Inputs the registry rejected, by the kind of input",
            rejected.clone(),
        );
        let refused = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "inputs_refused",
            "Inputs refused on trust grounds (issue 13), by reason",
            refused.clone(),
        );
        let changes = Family::<ChangeLabel, Counter>::default();
        registry.register(
            "registry_changes",
            "Registry changes, by kind",
            changes.clone(),
        );
        let switches = Family::<CauseLabel, Counter>::default();
        registry.register(
            "switches",
            "Changes of the active producer, by cause",
            switches.clone(),
        );
        let lease_expiries = Counter::default();
        registry.register(
            "lease_expiries",
            "Adverts whose lease expired",
            lease_expiries.clone(),
        );
        // 50 us to about 1.6 s.
        let reroute = Histogram::new(exponential_buckets(50e-6, 2.0, 16));
        registry.register(
            "reroute_seconds",
            "Switch decided -> first sample from the new producer",
            reroute.clone(),
        );
        let samples_delivered = Counter::default();
        registry.register(
            "samples_delivered",
            "Samples delivered to the application",
            samples_delivered.clone(),
        );
        let samples_lost = Counter::default();
        registry.register(
            "samples_lost",
            "Samples lost (switches and sequence gaps)",
            samples_lost.clone(),
        );
        let record_dropped = Counter::default();
        registry.register(
            "record_dropped_steps",
            "Steps the flight recorder dropped because the disk did not keep up",
            record_dropped.clone(),
        );
        let producer_health = Family::<ProducerLabel, Gauge>::default();
        registry.register(
            "producer_health",
            "A producer's health as its ROS 2 level: 0 OK, 1 DEGRADED, 2 FAILED, 3 UNKNOWN \
             (the first producers up to the configured limit)",
            producer_health.clone(),
        );
        let producers_untracked = Gauge::default();
        registry.register(
            "producers_untracked",
            "Producers known but past the limit of vigil_producer_health series",
            producers_untracked.clone(),
        );
        let supervisor_events = Family::<EventLabel, Counter>::default();
        registry.register(
            "supervisor_events",
            "A supervisor's events (vigil supervise), by kind",
            supervisor_events.clone(),
        );
        let breaker_events = Family::<EventLabel, Counter>::default();
        registry.register(
            "breaker_events",
            "Circuit-breaker transitions of the consumer's producer links, by kind \
             (ejected, ejection_refused, half_open, closed)",
            breaker_events.clone(),
        );
        registry.register(
            "build",
            "The vigil version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        CoreMetrics {
            registry,
            inputs,
            rejected,
            refused,
            changes,
            switches,
            lease_expiries,
            reroute,
            samples_delivered,
            samples_lost,
            record_dropped,
            producer_health,
            producers_untracked,
            supervisor_events,
            breaker_events,
            tracked: Mutex::new(Tracked {
                limit: DEFAULT_PRODUCER_LIMIT,
                ..Tracked::default()
            }),
            record_dropped_seen: AtomicU64::new(0),
            recorder,
            relay: None,
            #[cfg(feature = "zenoh")]
            bridge: None,
        }
    }

    /// With the agent's relay counters (`vigil_relay_*`, `vigil_agent_*`),
    /// kept by [`CoreMetrics::agent_event`].
    pub fn with_agent(mut self) -> CoreMetrics {
        self.relay = Some(relay::RelayMetrics::register(&mut self.registry));
        self
    }

    /// Counts what an agent's event says (relayed samples, switches,
    /// proxies, rejected input); nothing without [`CoreMetrics::with_agent`].
    pub fn agent_event(&self, event: &vigil_bridges::ros2::AgentEvent) {
        if let Some(relay) = &self.relay {
            relay.event(event);
        }
    }

    /// With the Zenoh bridge's counters (`vigil_bridge_*`), kept by
    /// [`CoreMetrics::bridge_event`].
    #[cfg(feature = "zenoh")]
    pub fn with_bridge(mut self) -> CoreMetrics {
        self.bridge = Some(relay::BridgeMetrics::register(&mut self.registry));
        self
    }

    /// Counts what a bridge's event says (samples each way, producers
    /// bridged, followed streams, refused input); nothing without
    /// [`CoreMetrics::with_bridge`].
    #[cfg(feature = "zenoh")]
    pub fn bridge_event(&self, event: &vigil_bridges::zenoh::BridgeEvent) {
        if let Some(bridge) = &self.bridge {
            bridge.event(event);
        }
    }

    /// At most `limit` producers get a `vigil_producer_health` series (a
    /// label set per producer and topic); the others are only counted.
    pub fn with_producer_limit(self, limit: usize) -> CoreMetrics {
        lock(&self.tracked).limit = limit;
        self
    }

    /// Keeps the health gauge in step with one registry change; `input`
    /// tells a new producer's state (its advert's).
    fn track(&self, change: &RegistryChange, input: &RecordedInput) {
        let label = |k: &AdvertKey| ProducerLabel {
            producer: k.producer.clone(),
            topic: k.topic.clone(),
        };
        let mut t = lock(&self.tracked);
        match change {
            RegistryChange::Added(key) => {
                if t.tracked.contains(key) || t.untracked.contains(key) {
                    return;
                }
                if t.tracked.len() < t.limit {
                    let level = match input {
                        RecordedInput::Advert { wire, .. }
                            if wire.key.producer == key.producer
                                && wire.key.topic == key.topic
                                && wire.health.state <= 3 =>
                        {
                            i64::from(wire.health.state)
                        }
                        _ => i64::from(State::Unknown.ros_level()),
                    };
                    self.producer_health.get_or_create(&label(key)).set(level);
                    t.tracked.insert(key.clone());
                } else {
                    t.untracked.insert(key.clone());
                }
            }
            RegistryChange::HealthChanged { key, new, .. } if t.tracked.contains(key) => {
                self.producer_health
                    .get_or_create(&label(key))
                    .set(i64::from(new.ros_level()));
            }
            RegistryChange::Removed(key) => {
                if t.tracked.remove(key) {
                    self.producer_health.remove(&label(key));
                }
                t.untracked.remove(key);
            }
            _ => {}
        }
        self.producers_untracked
            .set(i64::try_from(t.untracked.len()).unwrap_or(i64::MAX));
    }

    /// Counts a supervisor's event of kind `event` (`exited`,
    /// `restarting`...).
    pub fn supervisor_event(&self, event: &str) {
        let event = SUPERVISOR_EVENTS
            .iter()
            .find(|e| **e == event)
            .copied()
            .unwrap_or("other");
        self.supervisor_events
            .get_or_create(&EventLabel { event })
            .inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            tracing::warn!(%error, "metrics did not encode");
        }
        text
    }

    /// A switch cost `after` (decided -> first sample of the new producer).
    pub fn observe_reroute(&self, after: Duration) {
        self.reroute.observe(after.as_secs_f64());
    }

    /// Samples delivered and lost since the last call.
    pub fn add_samples(&self, delivered: u64, lost: u64) {
        self.samples_delivered.inc_by(delivered);
        self.samples_lost.inc_by(lost);
    }

    fn count_dropped(&self) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let now = recorder.stats().dropped;
        let before = self.record_dropped_seen.swap(now, Ordering::Relaxed);
        if now > before {
            self.record_dropped.inc_by(now - before);
        }
    }
}

impl Recorder for CoreMetrics {
    fn session(&self, session: RecordedSession) {
        if let Some(recorder) = &self.recorder {
            recorder.session(session);
        }
    }

    fn step(&self, step: RecordedStep) {
        let kind = input_kind(&step.input);
        self.inputs.get_or_create(&KindLabel { kind }).inc();
        for change in &step.changes {
            let change_kind = change_kind(change);
            self.changes
                .get_or_create(&ChangeLabel {
                    change: change_kind,
                })
                .inc();
            match change {
                RegistryChange::Rejected { .. } => {
                    self.rejected.get_or_create(&KindLabel { kind }).inc();
                }
                RegistryChange::Unreachable(_) => {
                    self.lease_expiries.inc();
                }
                RegistryChange::Refused { reason, .. } => {
                    let reason = reason.as_str();
                    self.refused.get_or_create(&ReasonLabel { reason }).inc();
                }
                _ => {}
            }
            self.track(change, &step.input);
        }
        for event in &step.events {
            let cause = SwitchCause::label(&event.cause);
            self.switches.get_or_create(&CauseLabel { cause }).inc();
        }
        for event in &step.breakers {
            let event = event.label();
            self.breaker_events
                .get_or_create(&EventLabel { event })
                .inc();
        }
        if let Some(recorder) = &self.recorder {
            recorder.step(step);
        }
        self.count_dropped();
    }
}

/// A poisoned lock only means a panic elsewhere; the set is plain data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn input_kind(input: &RecordedInput) -> &'static str {
    match input {
        RecordedInput::Advert { .. } => "advert",
        RecordedInput::Heartbeat { .. } => "heartbeat",
        RecordedInput::Disposed { .. } => "disposed",
        RecordedInput::FailedOnBehalf { .. } => "failed_on_behalf",
        RecordedInput::Isolation { .. } => "isolation",
        RecordedInput::CapabilityOverride { .. } => "capability_override",
        RecordedInput::Malformed { .. } => "malformed",
        RecordedInput::Tick => "tick",
        RecordedInput::Samples { .. } => "samples",
    }
}

fn change_kind(change: &RegistryChange) -> &'static str {
    match change {
        RegistryChange::Added(_) => "added",
        RegistryChange::Updated(_) => "updated",
        RegistryChange::HealthChanged { .. } => "health_changed",
        RegistryChange::Unreachable(_) => "unreachable",
        RegistryChange::Reachable(_) => "reachable",
        RegistryChange::Removed(_) => "removed",
        RegistryChange::Rejected { .. } => "rejected",
        RegistryChange::Refused { .. } => "refused",
    }
}

/// An HTTP server of `GET /metrics`, on a thread of its own; stops when
/// dropped.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The server could not listen.
#[derive(Debug, thiserror::Error)]
#[error("metrics on {addr}: {reason}")]
pub struct MetricsError {
    /// Where.
    pub addr: SocketAddr,
    /// Why.
    pub reason: String,
}

impl MetricsServer {
    /// Listens on `addr` and serves `metrics`.
    pub fn start(
        addr: SocketAddr,
        metrics: Arc<CoreMetrics>,
    ) -> Result<MetricsServer, MetricsError> {
        let server = tiny_http::Server::http(addr).map_err(|e| MetricsError {
            addr,
            reason: e.to_string(),
        })?;
        let server = Arc::new(server);
        let bound = server.server_addr().to_ip().unwrap_or(addr);
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("vigil-metrics".into())
            .spawn(move || serve(&serving, &metrics))
            .map_err(|e| MetricsError {
                addr,
                reason: e.to_string(),
            })?;
        Ok(MetricsServer {
            server,
            addr: bound,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn serve(server: &tiny_http::Server, metrics: &CoreMetrics) {
    for request in server.incoming_requests() {
        let found = *request.method() == tiny_http::Method::Get
            && request.url().split('?').next() == Some("/metrics");
        let response = if found {
            let header = tiny_http::Header::from_bytes("Content-Type", OPENMETRICS)
                .expect("a valid static header");
            tiny_http::Response::from_string(metrics.encode()).with_header(header)
        } else {
            tiny_http::Response::from_string("only GET /metrics here\n").with_status_code(404)
        };
        if let Err(error) = request.respond(response) {
            tracing::debug!(%error, "a metrics client went away");
        }
    }
}

#[cfg(test)]
mod tests {
    use vigil_diag::Timestamp;
    use vigil_discovery::AdvertKey;

    use super::*;

    #[test]
    fn counts_steps_with_bounded_labels() {
        let metrics = CoreMetrics::new(None);
        metrics.step(RecordedStep {
            at: Timestamp::from_nanos(1),
            input: RecordedInput::Tick,
            changes: vec![RegistryChange::Unreachable(AdvertKey::new("a", "imu"))],
            events: Vec::new(),
            breakers: vec![vigil_discovery::BreakerEvent::HalfOpen {
                key: AdvertKey::new("a", "imu"),
            }],
        });
        metrics.step(RecordedStep {
            at: Timestamp::from_nanos(2),
            input: RecordedInput::Malformed {
                source: "x".into(),
                error: "y".into(),
            },
            changes: vec![RegistryChange::Rejected {
                what: "x".into(),
                error: "y".into(),
            }],
            events: Vec::new(),
            breakers: Vec::new(),
        });
        metrics.observe_reroute(Duration::from_millis(2));
        let text = metrics.encode();
        for line in [
            "vigil_inputs_total{kind=\"tick\"} 1",
            "vigil_inputs_rejected_total{kind=\"malformed\"} 1",
            "vigil_lease_expiries_total 1",
            "vigil_breaker_events_total{event=\"half_open\"} 1",
            "vigil_reroute_seconds_count 1",
            "vigil_build_info{version=",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn producer_health_series_are_bounded_by_the_limit() {
        let metrics = CoreMetrics::new(None).with_producer_limit(2);
        let change = |c: RegistryChange| RecordedStep {
            at: Timestamp::from_nanos(1),
            input: RecordedInput::Tick,
            changes: vec![c],
            events: Vec::new(),
            breakers: Vec::new(),
        };
        let key = |p: &str| AdvertKey::new(p, "imu");
        for p in ["a", "b", "c"] {
            metrics.step(change(RegistryChange::Added(key(p))));
        }
        metrics.step(change(RegistryChange::HealthChanged {
            key: key("a"),
            old: State::Unknown,
            new: State::Failed,
        }));
        let text = metrics.encode();
        assert!(
            text.contains("vigil_producer_health{producer=\"a\",topic=\"imu\"} 2"),
            "{text}"
        );
        assert!(text.contains("producer=\"b\""), "{text}");
        assert!(!text.contains("producer=\"c\""), "{text}");
        assert!(text.contains("vigil_producers_untracked 1"), "{text}");
        // A removed producer's series goes; its slot serves the next one.
        metrics.step(change(RegistryChange::Removed(key("a"))));
        metrics.step(change(RegistryChange::Added(key("d"))));
        let text = metrics.encode();
        assert!(!text.contains("producer=\"a\""), "{text}");
        assert!(
            text.contains("vigil_producer_health{producer=\"d\",topic=\"imu\"} 3"),
            "{text}"
        );
    }

    #[test]
    fn serves_get_metrics_only() {
        let metrics = Arc::new(CoreMetrics::new(None));
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), metrics).unwrap();
        let get = |path: &str| {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
            write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let ok = get("/metrics");
        assert!(
            ok.starts_with("HTTP/1.0 200") || ok.starts_with("HTTP/1.1 200"),
            "{ok}"
        );
        assert!(ok.contains("vigil_build_info"), "{ok}");
        assert!(get("/").contains(" 404 "));
    }
}
