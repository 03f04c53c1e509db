//! The agent for unmodified ROS 2 nodes (`vigil agent`).
//!
//! A ROS 2 node that knows nothing of vigil still shows on DDS what vigil
//! needs: its data writers (discovery), how often it publishes (its
//! samples), and how it is doing (`/diagnostics`). The agent turns that
//! into vigil adverts and relays the best writer onto a stable topic.
//!
//! # Contract
//!
//! - Every writer of a configured topic, of the configured type, seen in
//!   DDS discovery, is advertised on vigil's topics as a *proxy* producer:
//!   the advert's writer GUID is the node's own writer, so any vigil
//!   consumer (not only the relay) can follow it directly. Its id is its
//!   node's name, learnt from the node's `/diagnostics` (see
//!   [`proxy`](self::proxy) for how), or `w<GUID>`.
//! - A proxy's capabilities are the config's, plus `rate`: the measured
//!   rate, updated when it moves by more than 10 %, at most once a second.
//! - A proxy's health is its tree: the stream's freshness (UNKNOWN(stale)
//!   after `stale_after` without a sample), its rate against `min_rate`,
//!   and one `status` leaf per DiagnosticStatus its node reports
//!   (OK/WARN/ERROR/STALE → OK/DEGRADED/FAILED/UNKNOWN(stale); stale after
//!   the diagnostics timeout). A writer that leaves discovery is withdrawn
//!   (its advert disposed) at once.
//! - A topic with a `relay` runs a vigil selection with the relay's query
//!   and forwards the selected writer's samples, raw (the agent never
//!   knows the type), onto the relay topic; when the selection switches,
//!   so does the relay, sample by sample.
//! - The proxies' trees are published as `/diagnostics_agg` (every node,
//!   `/`-separated names) and `/diagnostics_toplevel_state`: at once when
//!   a proxy got worse, otherwise at `publish_rate`. With an analyzers
//!   file (`diagnostics.analyzers`), every node's statuses are also
//!   aggregated by it, as ROS 2's diagnostic_aggregator would, and that
//!   tree is published first: the agent can stand in for the aggregator.
//! - Each relay is a consumer like `vigil consume`: it publishes its route
//!   (query, the producer relayed, every switch and its cause) on
//!   `vigil_consumer_routes` as `<host>:<pid>:<relay topic>`, so monitors
//!   and the knowledge base see it.
//! - Malformed diagnostics and writers of the wrong type are counted,
//!   logged and reported ([`AgentEvent::Rejected`]); nothing else changes.
//!
//! Two DDS participants: one watches (discovery, samples, diagnostics, the
//! relays' selections), one speaks (adverts, relay writers, aggregated
//! diagnostics), so the relay's selector hears the proxies' adverts as any
//! other consumer would.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use vigil_discovery::{
    ConsumerIdentity, DdsConfig, DdsError, PolicySlot, Recorder, SelectionEvent, Selector,
    SelectorConfig, VigilParticipant,
};

mod aggregate;
mod analyzed;
mod config;
mod dds;
mod live;
mod proxy;
mod relay;
mod runner;

pub use config::{
    AgentConfig, ConfigError, ConfigProblem, ProducerConfig, RelayConfig, TopicConfig,
};

/// What the agent reports, one JSON line each in `vigil agent --format json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgentEvent {
    /// The agent listens.
    Ready {
        /// The watched ROS 2 topics.
        topics: Vec<String>,
        /// The relay topics.
        relays: Vec<String>,
    },
    /// A proxy producer was advertised (`up`) or withdrawn (`down`).
    Proxy {
        /// The ROS 2 topic.
        topic: String,
        /// The producer id.
        producer: String,
        /// The ROS node, when known.
        node: Option<String>,
        /// The writer GUID, hex.
        writer: String,
        /// `up` or `down`.
        state: &'static str,
        /// Why.
        cause: String,
    },
    /// A proxy's advertised health changed.
    Health {
        /// The ROS 2 topic.
        topic: String,
        /// The producer id.
        producer: String,
        /// The new state.
        state: String,
        /// Why it is UNKNOWN, if it is.
        reason: Option<String>,
        /// The explanation of the tree.
        cause: Option<String>,
    },
    /// A relay's routing decision: the writer it forwards changed.
    Selected {
        /// The relay topic (ROS 2 name).
        relay: String,
        /// The DDS topic of the producer followed now.
        topic: Option<String>,
        /// The producer left.
        previous: Option<String>,
        /// The producer followed now (`None`: nothing qualifies, nothing
        /// is relayed).
        producer: Option<String>,
        /// The fallback chain, best first.
        chain: Vec<String>,
        /// Why.
        cause: String,
    },
    /// Once a second: samples relayed per producer since the last one,
    /// and totals of dropped samples and rejected input.
    Stats {
        /// Samples relayed, by producer.
        relayed: BTreeMap<String, u64>,
        /// Samples that could not be relayed, in all.
        dropped: u64,
        /// Input rejected, in all.
        malformed: u64,
    },
    /// Input refused: what, from whom, why.
    Rejected {
        /// `diagnostics`, `sample` or `writer`.
        what: String,
        /// Where it came from.
        from: String,
        /// Why.
        reason: String,
    },
    /// The agent cannot go on.
    Error {
        /// Why.
        reason: String,
    },
}

/// A running agent. Dropping it stops it (its runner withdraws the proxies
/// as it ends); [`Agent::shutdown`] also waits for that.
#[derive(Debug)]
pub struct Agent {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    forwarders: Vec<JoinHandle<()>>,
    /// The relays' trust policies, for a reload.
    policies: Vec<PolicySlot>,
}

impl Agent {
    /// Joins the domain of `dds` and starts watching. Events arrive on the
    /// returned receiver. Must be called inside a tokio runtime.
    pub fn start(
        config: AgentConfig,
        dds: DdsConfig,
    ) -> Result<(Agent, mpsc::UnboundedReceiver<AgentEvent>), DdsError> {
        Agent::start_recorded(config, dds, |_| None)
    }

    /// [`Agent::start`], handing each relay's selection core to the
    /// recorder `recorder_for(relay topic)` gives (the flight recorder,
    /// the metrics): every input and decision of that relay's routing.
    pub fn start_recorded(
        config: AgentConfig,
        dds: DdsConfig,
        recorder_for: impl Fn(&str) -> Option<Arc<dyn Recorder>>,
    ) -> Result<(Agent, mpsc::UnboundedReceiver<AgentEvent>), DdsError> {
        let proxies = VigilParticipant::new(dds.clone())?;
        let watching = VigilParticipant::new(dds)?;
        let (events, receiver) = mpsc::unbounded_channel();
        let mut selectors = Vec::new();
        let mut forwarders = Vec::new();
        for (index, topic) in config.topics.iter().enumerate() {
            let Some(relay) = &topic.relay else { continue };
            // Proxies qualify one by one (named, then a measured rate): the
            // first selection waits for them, instead of starting on the
            // first heard and reverting to the best after wait-to-restore.
            let settle = config.identify_within + runner::FIRST_SELECTION_AFTER;
            let selector = Selector::start(
                &watching,
                &relay.query,
                SelectorConfig::default()
                    .with_settle(settle)
                    .with_recorder(recorder_for(&relay.ros_topic))
                    .with_identity(Some(relay_identity(&relay.ros_topic)))
                    .with_trust(config.trust.clone()),
            )?;
            forwarders.push(tokio::spawn(forward_selections(
                relay.ros_topic.clone(),
                selector.events(),
                events.clone(),
            )));
            selectors.push((index, selector));
        }
        let policies = selectors
            .iter()
            .map(|(_, selector)| selector.registry().policy_slot())
            .collect();
        let runner = runner::Runner::new(config, proxies, watching, selectors, events)?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(runner.run(stopped));
        Ok((
            Agent {
                stop,
                task: Some(task),
                forwarders,
                policies,
            },
            receiver,
        ))
    }

    /// A handle on each relay's trust policy, to reload it (issue 13).
    pub fn policy_slots(&self) -> &[PolicySlot] {
        &self.policies
    }

    /// Stops the agent, withdrawing every proxy advert.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        for forwarder in self.forwarders.drain(..) {
            forwarder.abort();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for forwarder in &self.forwarders {
            forwarder.abort();
        }
    }
}

/// Turns a relay's selection events into [`AgentEvent::Selected`].
async fn forward_selections(
    relay: String,
    mut selections: tokio::sync::broadcast::Receiver<SelectionEvent>,
    events: mpsc::UnboundedSender<AgentEvent>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let event = match selections.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, relay = %relay, "routing decisions not reported");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let selected = AgentEvent::Selected {
            relay: relay.clone(),
            topic: event.active.as_ref().map(|a| a.key.topic.clone()),
            previous: event.previous.as_ref().map(|k| k.producer.clone()),
            producer: event.active.as_ref().map(|a| a.key.producer.clone()),
            chain: event.chain.iter().map(|k| k.producer.clone()).collect(),
            cause: event.cause.to_string(),
        };
        if events.send(selected).is_err() {
            return;
        }
    }
}

/// Who a relay says it is on `vigil_consumer_routes`:
/// `<host>:<pid>:<relay topic>`, unique on the domain as long as one
/// agent process relays a topic once.
fn relay_identity(relay: &str) -> ConsumerIdentity {
    // Linux's, as `uname -n` reads it; not silent when missing.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    let pid = std::process::id();
    ConsumerIdentity::new(Some(format!("{host}:{pid}:{relay}")), host, pid)
}
