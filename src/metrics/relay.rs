//! The counters of the agent's relays and of the Zenoh bridge, kept from
//! the events those print (the same events `--format json` shows), so the
//! metrics and the log never disagree.
//!
//! Label sets are bounded: relay topics come from the agent's config,
//! rejected inputs and sample directions are fixed lists. Producer ids
//! label nothing here (the per-producer series is
//! `vigil_producer_health`, with its limit).

use std::collections::BTreeSet;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use vigil_bridges::ros2::AgentEvent;

use super::lock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RelayLabel {
    relay: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WhatLabel {
    what: &'static str,
}

/// What the agent rejects (`AgentEvent::Rejected::what`): a fixed label
/// set; anything else counts as `other`.
const AGENT_REJECTS: &[&str] = &["diagnostics", "sample", "writer", "ros_discovery_info"];

/// Totals the agent reports as running sums, and the proxies up.
#[derive(Debug, Default)]
struct AgentSeen {
    dropped: u64,
    malformed: u64,
    proxies: BTreeSet<(String, String)>,
}

/// `vigil agent`'s relay counters.
#[derive(Debug)]
pub(super) struct RelayMetrics {
    relayed: Counter,
    relay_dropped: Counter,
    malformed: Counter,
    rejected: Family<WhatLabel, Counter>,
    switches: Family<RelayLabel, Counter>,
    relaying: Family<RelayLabel, Gauge>,
    proxies: Gauge,
    seen: Mutex<AgentSeen>,
}

impl RelayMetrics {
    pub(super) fn register(registry: &mut Registry) -> RelayMetrics {
        let metrics = RelayMetrics {
            relayed: Counter::default(),
            relay_dropped: Counter::default(),
            malformed: Counter::default(),
            rejected: Family::default(),
            switches: Family::default(),
            relaying: Family::default(),
            proxies: Gauge::default(),
            seen: Mutex::new(AgentSeen::default()),
        };
        registry.register(
            "relay_samples",
            "Samples the agent relayed onto its stable topics",
            metrics.relayed.clone(),
        );
        registry.register(
            "relay_samples_dropped",
            "Samples the agent could not relay",
            metrics.relay_dropped.clone(),
        );
        registry.register(
            "agent_inputs_malformed",
            "Input the agent could not read (samples, diagnostics, discovery info)",
            metrics.malformed.clone(),
        );
        registry.register(
            "agent_inputs_rejected",
            "Input the agent refused, by what it was",
            metrics.rejected.clone(),
        );
        registry.register(
            "relay_switches",
            "Changes of the producer a relay forwards, by relay topic",
            metrics.switches.clone(),
        );
        registry.register(
            "relay_active",
            "1 while a relay forwards a producer, 0 while nothing qualifies",
            metrics.relaying.clone(),
        );
        registry.register(
            "agent_proxies",
            "Proxy producers the agent advertises for unmodified ROS 2 writers",
            metrics.proxies.clone(),
        );
        metrics
    }

    pub(super) fn event(&self, event: &AgentEvent) {
        match event {
            AgentEvent::Ready { relays, .. } => {
                for relay in relays {
                    let label = RelayLabel {
                        relay: relay.clone(),
                    };
                    // The series exist, at 0, before the first switch.
                    let _ = self.switches.get_or_create(&label);
                    self.relaying.get_or_create(&label).set(0);
                }
            }
            AgentEvent::Selected {
                relay, producer, ..
            } => {
                let label = RelayLabel {
                    relay: relay.clone(),
                };
                self.switches.get_or_create(&label).inc();
                self.relaying
                    .get_or_create(&label)
                    .set(i64::from(producer.is_some()));
            }
            AgentEvent::Stats {
                relayed,
                dropped,
                malformed,
            } => {
                // `relayed` is per interval; `dropped` and `malformed` are
                // running totals.
                self.relayed.inc_by(relayed.values().sum());
                let mut seen = lock(&self.seen);
                self.relay_dropped
                    .inc_by(dropped.saturating_sub(seen.dropped));
                self.malformed
                    .inc_by(malformed.saturating_sub(seen.malformed));
                seen.dropped = seen.dropped.max(*dropped);
                seen.malformed = seen.malformed.max(*malformed);
            }
            AgentEvent::Proxy {
                topic,
                producer,
                state,
                ..
            } => {
                let mut seen = lock(&self.seen);
                let key = (topic.clone(), producer.clone());
                if *state == "up" {
                    seen.proxies.insert(key);
                } else {
                    seen.proxies.remove(&key);
                }
                self.proxies
                    .set(i64::try_from(seen.proxies.len()).unwrap_or(i64::MAX));
            }
            AgentEvent::Rejected { what, .. } => {
                let what = AGENT_REJECTS
                    .iter()
                    .find(|w| **w == what.as_str())
                    .copied()
                    .unwrap_or("other");
                self.rejected.get_or_create(&WhatLabel { what }).inc();
            }
            _ => {}
        }
    }
}

#[cfg(feature = "zenoh")]
pub(super) use bridge::BridgeMetrics;

#[cfg(feature = "zenoh")]
mod bridge {
    use std::sync::Mutex;

    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::registry::Registry;
    use vigil_bridges::zenoh::{BridgeEvent, BridgeStats, ProducerState};

    use super::super::lock;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct DirectionLabel {
        direction: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct SideLabel {
        side: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ReasonLabel {
        reason: &'static str,
    }

    /// `vigil bridge zenoh`'s counters.
    #[derive(Debug)]
    pub(in super::super) struct BridgeMetrics {
        samples: Family<DirectionLabel, Counter>,
        not_forwarded: Family<ReasonLabel, Counter>,
        inputs_dropped: Counter,
        adverts_rejected: Counter,
        adverts_refused: Family<ReasonLabel, Counter>,
        adverts_evicted: Counter,
        producers_refused: Counter,
        queries: Counter,
        producers: Family<SideLabel, Gauge>,
        followed: Gauge,
        followed_switches: Counter,
        /// The running totals last counted.
        seen: Mutex<BridgeStats>,
    }

    impl BridgeMetrics {
        pub(in super::super) fn register(registry: &mut Registry) -> BridgeMetrics {
            let metrics = BridgeMetrics {
                samples: Family::default(),
                not_forwarded: Family::default(),
                inputs_dropped: Counter::default(),
                adverts_rejected: Counter::default(),
                adverts_refused: Family::default(),
                adverts_evicted: Counter::default(),
                producers_refused: Counter::default(),
                queries: Counter::default(),
                producers: Family::default(),
                followed: Gauge::default(),
                followed_switches: Counter::default(),
                seen: Mutex::new(BridgeStats::default()),
            };
            registry.register(
                "bridge_samples",
                "Samples the bridge forwarded, by direction (to_zenoh, to_dds, followed: \
                 put on a followed stream's key)",
                metrics.samples.clone(),
            );
            registry.register(
                "bridge_samples_not_forwarded",
                "Samples the bridge did not forward, by reason (dropped: a write refused or \
                 a full queue; unadvertised: no producer advertised for its writer)",
                metrics.not_forwarded.clone(),
            );
            registry.register(
                "bridge_inputs_dropped",
                "Adverts, liveliness changes and queries from Zenoh dropped by a full queue",
                metrics.inputs_dropped.clone(),
            );
            registry.register(
                "bridge_adverts_rejected",
                "Zenoh adverts refused (malformed, wrong key, wrong type)",
                metrics.adverts_rejected.clone(),
            );
            registry.register(
                "bridge_adverts_refused",
                "Zenoh adverts refused on trust grounds (issue 13), by reason",
                metrics.adverts_refused.clone(),
            );
            registry.register(
                "bridge_adverts_evicted",
                "Zenoh adverts without a liveliness token forgotten",
                metrics.adverts_evicted.clone(),
            );
            registry.register(
                "bridge_producers_refused",
                "Zenoh producers not tracked because the table was full",
                metrics.producers_refused.clone(),
            );
            registry.register(
                "bridge_queries",
                "Registry, best-producer and follow queries answered",
                metrics.queries.clone(),
            );
            registry.register(
                "bridge_producers",
                "Producers bridged, by the side they live on (zenoh: advertised on DDS; \
                 dds: a liveliness token on Zenoh)",
                metrics.producers.clone(),
            );
            registry.register(
                "bridge_followed_streams",
                "Followed streams the bridge serves",
                metrics.followed.clone(),
            );
            registry.register(
                "bridge_followed_switches",
                "Switches of followed streams",
                metrics.followed_switches.clone(),
            );
            metrics
        }

        pub(in super::super) fn event(&self, event: &BridgeEvent) {
            match event {
                BridgeEvent::ZenohProducer { state, .. } => self.producer("zenoh", *state),
                BridgeEvent::DdsProducer { state, .. } => self.producer("dds", *state),
                BridgeEvent::Following { .. } => {
                    self.followed.inc();
                }
                BridgeEvent::Unfollowed { .. } => {
                    self.followed.dec();
                }
                BridgeEvent::Switched { .. } => {
                    self.followed_switches.inc();
                }
                BridgeEvent::Stats { stats } | BridgeEvent::Stopped { stats } => {
                    self.totals(stats);
                }
                _ => {}
            }
        }

        fn producer(&self, side: &'static str, state: ProducerState) {
            let gauge = self.producers.get_or_create(&SideLabel { side });
            match state {
                ProducerState::Up => {
                    gauge.inc();
                }
                ProducerState::Down => {
                    gauge.dec();
                }
                ProducerState::Updated => {}
            }
        }

        /// Adds what the running totals grew by since the last report.
        fn totals(&self, now: &BridgeStats) {
            let mut seen = lock(&self.seen);
            let grew = |new: u64, old: u64| new.saturating_sub(old);
            let direction = |direction| DirectionLabel { direction };
            let reason = |reason| ReasonLabel { reason };
            self.samples
                .get_or_create(&direction("to_zenoh"))
                .inc_by(grew(now.samples_to_zenoh, seen.samples_to_zenoh));
            self.samples
                .get_or_create(&direction("to_dds"))
                .inc_by(grew(now.samples_to_dds, seen.samples_to_dds));
            self.samples
                .get_or_create(&direction("followed"))
                .inc_by(grew(now.samples_followed, seen.samples_followed));
            self.not_forwarded
                .get_or_create(&reason("dropped"))
                .inc_by(grew(now.samples_dropped, seen.samples_dropped));
            self.not_forwarded
                .get_or_create(&reason("unadvertised"))
                .inc_by(grew(now.samples_unadvertised, seen.samples_unadvertised));
            self.inputs_dropped
                .inc_by(grew(now.inputs_dropped, seen.inputs_dropped));
            self.adverts_rejected
                .inc_by(grew(now.adverts_rejected, seen.adverts_rejected));
            for why in vigil_discovery::Refusal::ALL {
                self.adverts_refused
                    .get_or_create(&reason(why.as_str()))
                    .inc_by(grew(
                        now.adverts_refused.get(why),
                        seen.adverts_refused.get(why),
                    ));
            }
            self.adverts_evicted
                .inc_by(grew(now.adverts_evicted, seen.adverts_evicted));
            self.producers_refused
                .inc_by(grew(now.producers_refused, seen.producers_refused));
            self.queries.inc_by(grew(now.queries, seen.queries));
            *seen = *now;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::CoreMetrics;
    use super::*;

    fn selected(producer: Option<&str>) -> AgentEvent {
        AgentEvent::Selected {
            relay: "/imu/data/best".into(),
            topic: None,
            previous: None,
            producer: producer.map(str::to_owned),
            chain: Vec::new(),
            cause: "initial".into(),
        }
    }

    fn stats(relayed: u64, dropped: u64) -> AgentEvent {
        AgentEvent::Stats {
            relayed: BTreeMap::from([("imu_a".to_owned(), relayed)]),
            dropped,
            malformed: 0,
        }
    }

    #[test]
    fn the_agents_events_become_relay_counters() {
        let metrics = CoreMetrics::new(None).with_agent();
        metrics.agent_event(&AgentEvent::Ready {
            topics: vec!["/imu/data".into()],
            relays: vec!["/imu/data/best".into()],
        });
        metrics.agent_event(&selected(Some("imu_a")));
        // Relayed counts are per interval, dropped a running total.
        metrics.agent_event(&stats(50, 1));
        metrics.agent_event(&stats(50, 3));
        metrics.agent_event(&AgentEvent::Proxy {
            topic: "/imu/data".into(),
            producer: "imu_a".into(),
            node: None,
            writer: "01".into(),
            state: "up",
            cause: "named".into(),
        });
        metrics.agent_event(&AgentEvent::Rejected {
            what: "diagnostics".into(),
            from: "x".into(),
            reason: "y".into(),
        });
        metrics.agent_event(&AgentEvent::Rejected {
            what: "something new".into(),
            from: "x".into(),
            reason: "y".into(),
        });
        metrics.agent_event(&selected(None));
        let text = metrics.encode();
        for line in [
            "vigil_relay_samples_total 100",
            "vigil_relay_samples_dropped_total 3",
            "vigil_relay_switches_total{relay=\"/imu/data/best\"} 2",
            "vigil_relay_active{relay=\"/imu/data/best\"} 0",
            "vigil_agent_proxies 1",
            "vigil_agent_inputs_rejected_total{what=\"diagnostics\"} 1",
            "vigil_agent_inputs_rejected_total{what=\"other\"} 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn a_consumers_metrics_have_no_relay_series() {
        let metrics = CoreMetrics::new(None);
        metrics.agent_event(&selected(Some("imu_a")));
        assert!(!metrics.encode().contains("vigil_relay"));
    }

    #[cfg(feature = "zenoh")]
    #[test]
    fn the_bridges_running_totals_become_counters() {
        use vigil_bridges::zenoh::{BridgeEvent, BridgeStats, ProducerState};

        let metrics = CoreMetrics::new(None).with_bridge();
        let up = |producer: &str| BridgeEvent::ZenohProducer {
            producer: producer.into(),
            topic: "imu".into(),
            state: ProducerState::Up,
            cause: "advertised".into(),
            writer_guid: None,
        };
        metrics.bridge_event(&up("z1"));
        metrics.bridge_event(&up("z2"));
        metrics.bridge_event(&BridgeEvent::DdsProducer {
            producer: "d1".into(),
            topic: "imu".into(),
            state: ProducerState::Up,
            cause: "advertised".into(),
        });
        let mut stats = BridgeStats::default();
        stats.samples_to_zenoh = 10;
        stats.samples_unadvertised = 2;
        metrics.bridge_event(&BridgeEvent::Stats { stats });
        stats.samples_to_zenoh = 25;
        stats.queries = 1;
        metrics.bridge_event(&BridgeEvent::Stopped { stats });
        let text = metrics.encode();
        for line in [
            "vigil_bridge_samples_total{direction=\"to_zenoh\"} 25",
            "vigil_bridge_samples_not_forwarded_total{reason=\"unadvertised\"} 2",
            "vigil_bridge_queries_total 1",
            "vigil_bridge_producers{side=\"zenoh\"} 2",
            "vigil_bridge_producers{side=\"dds\"} 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
