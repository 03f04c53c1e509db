//! What the agent knows about one foreign writer, without DDS: who it is,
//! the diagnostic tree its advert carries, and its measured rate.
//!
//! # Who a writer is
//!
//! DDS discovery gives a writer's GUID, topic and type, not the ROS node
//! that owns it. rmw says it on `ros_discovery_info` (writer GUIDs per node
//! of each participant): that comes first, and is the only way to tell
//! apart the nodes of one process (a component container: one participant
//! since Foxy). Failing that, the node names itself in `/diagnostics`:
//! diagnostic_updater names statuses `NODE: task` and most drivers set
//! `hardware_id`; both come from the same DDS participant as the node's
//! data writers, so the agent learns node names per participant (GUID
//! prefix) from the statuses it reads ([`node_names`]) and names a writer
//! after its participant's node ([`identify`]). A writer named by neither
//! within the config's `identify_within` is advertised under its GUID.
//!
//! # The proxy's tree
//!
//! ```text
//! <id>                        worst
//!   stream                    worst
//!     fresh                   heartbeat: UNKNOWN(stale) after `stale_after` of silence
//!     rate                    threshold: DEGRADED below `min_rate` (if configured),
//!                             fed the measured rate once per tick
//!   diagnostics               worst
//!     <status item>           status: the node's DiagnosticStatus, stale after the timeout
//! ```
//!
//! `diagnostics` exists once the node has reported an item: a node without
//! diagnostics is judged on its stream alone, instead of never qualifying.
//! A new item grows the tree ([`ProxyShape::add_item`]); the agent rebuilds
//! and replays the last observations ([`Replay`]).

use std::collections::VecDeque;
use std::time::Duration;

use vigil_diag::{CheckSpec, NodeBody, NodeSpec, Observation, Path, Rule, Timestamp, TreeSpec};

use super::super::ingest::sanitize_label;
use super::super::msgs::DiagnosticStatus;

/// The node a status speaks for: the part of its name before `:` (without
/// a leading `/`), and its `hardware_id`. Empty parts are left out.
pub(crate) fn node_names(status: &DiagnosticStatus) -> Vec<String> {
    let mut names = Vec::with_capacity(2);
    if let Some((node, _task)) = status.name.split_once(':') {
        let node = node.trim().trim_start_matches('/');
        if !node.is_empty() {
            names.push(node.to_owned());
        }
    }
    let hardware = status.hardware_id.trim();
    if !hardware.is_empty() && !names.iter().any(|n| n == hardware) {
        names.push(hardware.to_owned());
    }
    names
}

/// The producer id of a writer: the first configured node among the
/// participant's node names, else its first node name, else (when
/// `give_up` says the wait is over) `w` and the writer GUID in hex. `None`:
/// keep waiting.
pub(crate) fn identify(
    participant_nodes: &[String],
    configured: &[&str],
    writer_guid: &[u8; 16],
    give_up: bool,
) -> Option<Identity> {
    let configured_match = participant_nodes
        .iter()
        .find(|n| configured.contains(&n.as_str()));
    if let Some(node) = configured_match {
        return Some(Identity::node(node));
    }
    if !give_up {
        return None;
    }
    match participant_nodes.first() {
        Some(node) => Some(Identity::node(node)),
        None => Some(Identity {
            node: None,
            id: format!("w{}", hex(writer_guid)),
        }),
    }
}

/// Who a proxied writer is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The ROS node it belongs to, when known.
    pub(crate) node: Option<String>,
    /// The producer id it is advertised as (a tree label).
    pub(crate) id: String,
}

impl Identity {
    fn node(node: &str) -> Identity {
        Identity {
            node: Some(node.to_owned()),
            id: sanitize_label(node),
        }
    }

    /// This identity with `_2`, `_3`... appended until `taken` says no: two
    /// writers of one topic from one node stay two producers.
    pub(crate) fn unique(mut self, taken: impl Fn(&str) -> bool) -> Identity {
        if !taken(&self.id) {
            return self;
        }
        let base = self.id.clone();
        for n in 2.. {
            let id = format!("{base}_{n}");
            if !taken(&id) {
                self.id = id;
                break;
            }
        }
        self
    }
}

pub(crate) use crate::raw::hex;

/// The tree of one proxy, as leaves are added.
#[derive(Clone, Debug)]
pub(crate) struct ProxyShape {
    root: Path,
    stale_after: Duration,
    min_rate: Option<f64>,
    item_timeout: Duration,
    items: Vec<Path>,
}

/// The window over which the rate is measured.
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(1);

/// At most this many status items per proxy (and per participant in the
/// agent's memory).
pub(crate) const MAX_ITEMS: usize = 256;

impl ProxyShape {
    /// The shape for producer `id` (a valid label: [`Identity::id`]).
    pub(crate) fn new(
        id: &str,
        stale_after: Duration,
        min_rate: Option<f64>,
        item_timeout: Duration,
    ) -> Result<ProxyShape, vigil_diag::PathError> {
        Ok(ProxyShape {
            root: Path::parse(id)?,
            stale_after,
            min_rate,
            item_timeout,
            items: Vec::new(),
        })
    }

    /// The root: the advert's health.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The heartbeat leaf, fed at every sample.
    pub(crate) fn fresh(&self) -> Path {
        self.stream()
            .child("fresh")
            .unwrap_or_else(|_| self.root.clone())
    }

    /// The rate leaf, if a minimum rate is configured.
    pub(crate) fn rate(&self) -> Option<Path> {
        self.min_rate?;
        self.stream().child("rate").ok()
    }

    fn stream(&self) -> Path {
        self.root
            .child("stream")
            .unwrap_or_else(|_| self.root.clone())
    }

    /// The leaf of a status item (named by its full status name).
    pub(crate) fn item(&self, status_name: &str) -> Path {
        let diagnostics = self
            .root
            .child("diagnostics")
            .unwrap_or_else(|_| self.root.clone());
        diagnostics
            .child(&sanitize_label(status_name))
            .unwrap_or(diagnostics)
    }

    /// Adds the leaf of a status item; false when it is there already or
    /// the tree has [`MAX_ITEMS`] of them (a node that puts a counter in
    /// its status names must not grow the tree, and the advert, forever).
    pub(crate) fn add_item(&mut self, path: Path) -> bool {
        if self.items.contains(&path) || self.items.len() >= MAX_ITEMS {
            return false;
        }
        self.items.push(path);
        true
    }

    /// Whether the tree has a leaf for this status item.
    pub(crate) fn has_item(&self, path: &Path) -> bool {
        self.items.contains(path)
    }

    /// The tree spec as it stands.
    pub(crate) fn spec(&self) -> TreeSpec {
        let mut nodes = vec![
            NodeSpec::new(self.root.clone(), NodeBody::Inner(Rule::Worst)),
            NodeSpec::new(self.stream(), NodeBody::Inner(Rule::Worst)),
            NodeSpec::new(
                self.fresh(),
                NodeBody::Leaf(CheckSpec::Heartbeat {
                    timeout: self.stale_after,
                }),
            ),
        ];
        if let (Some(path), Some(min_hz)) = (self.rate(), self.min_rate) {
            // A threshold on the rate the agent measures, not a `rate`
            // check fed every sample: that would re-evaluate the advert at
            // the full data rate.
            nodes.push(NodeSpec::new(
                path,
                NodeBody::Leaf(CheckSpec::Threshold {
                    degraded_above: None,
                    failed_above: None,
                    degraded_below: Some(min_hz),
                    failed_below: None,
                    stale_after: None,
                }),
            ));
        }
        for item in &self.items {
            nodes.push(NodeSpec::new(
                item.clone(),
                NodeBody::Leaf(CheckSpec::Status {
                    stale_after: Some(self.item_timeout),
                }),
            ));
        }
        TreeSpec {
            nodes,
            shared: Vec::new(),
        }
    }
}

/// Sample arrival times over [`RATE_WINDOW`]: the measured rate, and the
/// events to replay into a rebuilt tree.
#[derive(Clone, Debug, Default)]
pub(crate) struct RateMeter {
    arrivals: VecDeque<Timestamp>,
}

impl RateMeter {
    /// Records a sample at `at` (times never go back).
    pub(crate) fn record(&mut self, at: Timestamp) {
        self.arrivals.push_back(at);
        let window = RATE_WINDOW.as_nanos() as u64;
        while let Some(&first) = self.arrivals.front() {
            if at.as_nanos().saturating_sub(first.as_nanos()) > window {
                self.arrivals.pop_front();
            } else {
                break;
            }
        }
    }

    /// Samples per second over the window; `None` before two samples.
    pub(crate) fn hz(&self) -> Option<f64> {
        let (first, last) = (self.arrivals.front()?, self.arrivals.back()?);
        let span = last.as_nanos().checked_sub(first.as_nanos())?;
        if span == 0 {
            return None;
        }
        Some((self.arrivals.len() - 1) as f64 * 1e9 / span as f64)
    }

    /// How long the window's arrivals span: a rate measured over less than
    /// a few periods is noise.
    pub(crate) fn span(&self) -> Duration {
        match (self.arrivals.front(), self.arrivals.back()) {
            (Some(first), Some(last)) => last.saturating_since(*first),
            _ => Duration::ZERO,
        }
    }
}

/// Whether an advertised rate should be updated: it moved by more than 10 %
/// (measured rates jitter; republishing the advert at every sample would
/// flood the advert topic).
pub(crate) fn rate_moved(advertised: Option<f64>, measured: f64) -> bool {
    match advertised {
        None => true,
        Some(old) => (measured - old).abs() > 0.1 * old.abs().max(f64::EPSILON),
    }
}

/// The last observation of each leaf, to give a rebuilt tree.
#[derive(Clone, Debug, Default)]
pub(crate) struct Replay {
    last: Vec<(Path, Observation, Timestamp)>,
}

impl Replay {
    /// Remembers the latest observation of `path`.
    pub(crate) fn remember(&mut self, path: &Path, observation: Observation, at: Timestamp) {
        match self.last.iter_mut().find(|(p, _, _)| p == path) {
            Some(entry) => {
                entry.1 = observation;
                entry.2 = at;
            }
            None => self.last.push((path.clone(), observation, at)),
        }
    }

    /// Everything to replay, oldest first.
    pub(crate) fn events(&self) -> Vec<(Path, Observation, Timestamp)> {
        let mut events = self.last.clone();
        events.sort_by_key(|(_, _, at)| *at);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_diag::{State, Tree, UnknownReason};

    fn status(name: &str, hardware_id: &str) -> DiagnosticStatus {
        DiagnosticStatus {
            level: 0,
            name: name.into(),
            message: String::new(),
            hardware_id: hardware_id.into(),
            values: Vec::new(),
        }
    }

    fn ms(n: u64) -> Timestamp {
        Timestamp::from_nanos(n * 1_000_000)
    }

    #[test]
    fn a_status_names_its_node_by_prefix_and_hardware_id() {
        assert_eq!(
            node_names(&status("/imu_a: IMU driver", "imu_a")),
            ["imu_a"]
        );
        assert_eq!(
            node_names(&status("imu_a: driver", "board7")),
            ["imu_a", "board7"]
        );
        assert_eq!(node_names(&status("no colon", "")), Vec::<String>::new());
        assert_eq!(node_names(&status(": x", " ")), Vec::<String>::new());
    }

    #[test]
    fn configured_nodes_win_and_guid_names_wait_for_the_deadline() {
        let guid = [0xab; 16];
        let nodes = vec!["board7".to_owned(), "imu_a".to_owned()];
        let id = identify(&nodes, &["imu_a"], &guid, false).unwrap();
        assert_eq!(id.id, "imu_a");
        assert_eq!(identify(&[], &["imu_a"], &guid, false), None);
        let id = identify(&[], &["imu_a"], &guid, true).unwrap();
        assert_eq!(id.node, None);
        assert_eq!(id.id, format!("w{}", "ab".repeat(16)));
        let id = identify(&["My Node".to_owned()], &[], &guid, true).unwrap();
        assert_eq!(id.id, "my_node");
        let taken = |s: &str| s == "imu_a" || s == "imu_a_2";
        assert_eq!(Identity::node("imu_a").unique(taken).id, "imu_a_3");
    }

    #[test]
    fn the_tree_starts_without_diagnostics_and_grows_an_item() {
        let mut shape = ProxyShape::new(
            "imu_a",
            Duration::from_millis(250),
            Some(50.0),
            Duration::from_secs(5),
        )
        .unwrap();
        let mut tree = Tree::build(&shape.spec()).unwrap();
        let root = shape.root().clone();
        tree.observe(&shape.fresh(), Observation::Heartbeat, ms(10))
            .unwrap();
        let rate = shape.rate().unwrap();
        tree.observe(&rate, Observation::Value(30.0), ms(500))
            .unwrap();
        tree.observe(&shape.fresh(), Observation::Heartbeat, ms(600))
            .unwrap();
        assert_eq!(tree.health(&root).unwrap().state, State::Degraded);
        tree.observe(&rate, Observation::Value(100.0), ms(600))
            .unwrap();
        assert_eq!(tree.health(&root).unwrap().state, State::Ok);
        // Silence past stale_after: the stream is stale.
        tree.tick(ms(900));
        assert_eq!(tree.health(&root).unwrap().state, State::Unknown);
        assert_eq!(
            tree.health(&shape.fresh()).unwrap().reason,
            Some(UnknownReason::Stale)
        );

        let item = shape.item("imu_a: IMU driver");
        assert_eq!(item.as_str(), "imu_a.diagnostics.imu_a_imu_driver");
        assert!(shape.add_item(item.clone()));
        assert!(!shape.add_item(item.clone()));
        assert!(shape.has_item(&item));
        let mut tree = Tree::build(&shape.spec()).unwrap();
        let (state, reason) = State::from_ros_level(2).unwrap();
        tree.observe(&item, Observation::Status { state, reason }, ms(1000))
            .unwrap();
        tree.observe(&shape.fresh(), Observation::Heartbeat, ms(1000))
            .unwrap();
        assert_eq!(tree.health(&root).unwrap().state, State::Failed);
    }

    #[test]
    fn a_node_inventing_status_names_cannot_grow_the_tree_forever() {
        let mut shape = ProxyShape::new(
            "p",
            Duration::from_millis(250),
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        for i in 0..MAX_ITEMS + 10 {
            shape.add_item(shape.item(&format!("p: reading {i}")));
        }
        assert_eq!(shape.spec().nodes.len(), 3 + MAX_ITEMS);
    }

    #[test]
    fn the_rate_is_measured_over_the_window() {
        let mut meter = RateMeter::default();
        assert_eq!(meter.hz(), None);
        for i in 0..=300 {
            meter.record(ms(i * 10));
        }
        let hz = meter.hz().unwrap();
        assert!((hz - 100.0).abs() < 1.0, "{hz}");
        assert!(meter.span() <= RATE_WINDOW);
        assert!(rate_moved(None, 100.0));
        assert!(!rate_moved(Some(100.0), 105.0));
        assert!(rate_moved(Some(100.0), 89.0));
    }

    #[test]
    fn replay_keeps_the_last_observation_per_leaf_in_time_order() {
        let a = Path::parse("p.a").unwrap();
        let b = Path::parse("p.b").unwrap();
        let mut replay = Replay::default();
        replay.remember(&a, Observation::Heartbeat, ms(5));
        replay.remember(&b, Observation::Heartbeat, ms(3));
        replay.remember(&a, Observation::Value(1.0), ms(7));
        let events = replay.events();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].0, b);
        assert_eq!(events[1], (a, Observation::Value(1.0), ms(7)));
    }
}
