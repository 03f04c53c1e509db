//! The agent as ROS 2's diagnostic_aggregator: every node's statuses routed
//! by an analyzers file into one tree, which `/diagnostics_agg` publishes
//! next to the proxies' trees.
//!
//! The tree is the import of the analyzers file ([`Analyzers::tree_spec`]);
//! a status item that reports for the first time grows it by its leaf
//! ([`Analyzers::extend`]) and the tree is rebuilt with the last report of
//! every item replayed. A file's analyzers may match any number of items,
//! so the leaves are capped ([`MAX_LEAVES`]); statuses past the cap are
//! counted and dropped, not grown into. A status no analyzer matches goes
//! to the aggregator's `Other` group ([`Analyzers::route_other`]).

use vigil_diag::{Observation, Path, Timestamp, Tree, TreeSpec};

use super::proxy::Replay;
use crate::ros2::ingest::Analyzers;
use crate::ros2::msgs::DiagnosticStatus;

/// At most this many leaves grow into the tree beyond the file's own.
pub(crate) const MAX_LEAVES: usize = 256;

/// An analyzers file's tree, fed by every status.
pub(crate) struct AnalyzedTree {
    analyzers: Analyzers,
    spec: TreeSpec,
    tree: Tree,
    replay: Replay,
    grown: usize,
    /// Statuses not aggregated: a bad level, or past the cap.
    pub(crate) dropped: u64,
    /// The tree got worse since it was last published.
    pub(crate) got_worse: bool,
}

impl AnalyzedTree {
    /// The tree of `analyzers` (already checked to build when imported).
    pub(crate) fn new(analyzers: Analyzers) -> Result<AnalyzedTree, String> {
        let spec = analyzers.tree_spec();
        let tree = Tree::build(&spec).map_err(|e| e.to_string())?;
        Ok(AnalyzedTree {
            analyzers,
            spec,
            tree,
            replay: Replay::default(),
            grown: 0,
            dropped: 0,
            got_worse: false,
        })
    }

    /// Routes one status to the leaves its analyzers give it.
    pub(crate) fn observe(&mut self, status: &DiagnosticStatus, at: Timestamp) {
        let routes = match self.analyzers.route(status) {
            // No analyzer: the `Other` group, as in the aggregator.
            Ok(routes) if routes.is_empty() => self.analyzers.route_other(status).map(|r| vec![r]),
            routed => routed,
        };
        let routes = match routes {
            Ok(routes) => routes,
            Err(error) => {
                self.dropped += 1;
                tracing::debug!(%error, "status not aggregated");
                return;
            }
        };
        for (path, observation) in routes {
            self.observe_leaf(path, observation, at);
        }
    }

    fn observe_leaf(&mut self, path: Path, observation: Observation, at: Timestamp) {
        let known = self.spec.nodes.iter().any(|n| n.path == path);
        if !known {
            if self.grown >= MAX_LEAVES || !self.analyzers.extend(&mut self.spec, &path) {
                self.dropped += 1;
                return;
            }
            self.grown += 1;
        }
        self.replay.remember(&path, observation, at);
        if known {
            self.apply(&path, observation, at);
        } else {
            self.rebuild(at);
        }
    }

    fn apply(&mut self, path: &Path, observation: Observation, at: Timestamp) {
        match self.tree.observe(path, observation, at) {
            Ok(transitions) => self.got_worse |= transitions.iter().any(|t| t.new > t.old),
            Err(error) => tracing::warn!(%error, "aggregated tree refused a status"),
        }
    }

    /// The tree with its new leaf, fed what the old one was.
    fn rebuild(&mut self, at: Timestamp) {
        let tree = match Tree::build(&self.spec) {
            Ok(tree) => tree,
            Err(error) => {
                tracing::warn!(%error, "aggregated tree not grown");
                return;
            }
        };
        self.tree = tree;
        for (path, observation, when) in self.replay.events() {
            self.apply(&path, observation, when);
        }
        self.tick(at);
    }

    /// Ages the tree (staleness).
    pub(crate) fn tick(&mut self, at: Timestamp) {
        let transitions = self.tree.tick(at);
        self.got_worse |= transitions.iter().any(|t| t.new > t.old);
    }

    /// The tree.
    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_diag::State;

    const FILE: &str = "\
analyzers:
  ros__parameters:
    path: Robot
    sensors:
      type: diagnostic_aggregator/GenericAnalyzer
      path: Sensors
      startswith: [ 'imu' ]
      expected: [ 'imu_a: IMU driver' ]
      timeout: 1.0
";

    fn status(name: &str, level: u8) -> DiagnosticStatus {
        DiagnosticStatus {
            level,
            name: name.into(),
            ..DiagnosticStatus::default()
        }
    }

    fn s(secs: f64) -> Timestamp {
        Timestamp::from_secs_f64(secs).unwrap()
    }

    #[test]
    fn statuses_route_to_analyzer_leaves_and_new_items_grow_the_tree() {
        let analyzers = Analyzers::from_yaml(FILE, "a.yaml").unwrap();
        let mut tree = AnalyzedTree::new(analyzers).unwrap();
        let root = Path::parse("robot").unwrap();
        // The expected item has not reported: never OK.
        tree.tick(s(0.1));
        assert_eq!(tree.tree().health(&root).unwrap().state, State::Unknown);
        tree.observe(&status("imu_a: IMU driver", 0), s(0.2));
        assert_eq!(tree.tree().health(&root).unwrap().state, State::Ok);
        // A new item of the same analyzer grows a leaf, and keeps imu_a's report.
        tree.got_worse = false;
        tree.observe(&status("imu_b: IMU driver", 2), s(0.3));
        assert_eq!(tree.tree().health(&root).unwrap().state, State::Failed);
        assert!(tree.got_worse);
        let leaves = tree.tree().nodes().count();
        tree.observe(&status("imu_b: IMU driver", 0), s(0.4));
        assert_eq!(tree.tree().nodes().count(), leaves);
        assert_eq!(tree.tree().health(&root).unwrap().state, State::Ok);
        // Silence past the analyzer's timeout: stale.
        tree.tick(s(2.0));
        assert_eq!(tree.tree().health(&root).unwrap().state, State::Unknown);
        // A status no analyzer matches goes to `Other`, a bad level is dropped.
        tree.observe(&status("gps: fix", 1), s(2.1));
        let other = Path::parse("other.gps_fix").unwrap();
        assert_eq!(tree.tree().health(&other).unwrap().state, State::Degraded);
        tree.observe(&status("imu_c: x", 9), s(2.1));
        assert_eq!(tree.dropped, 1);
    }

    #[test]
    fn the_other_group_steps_aside_for_a_root_named_other() {
        let file = FILE.replace("path: Robot", "path: Other");
        let analyzers = Analyzers::from_yaml(&file, "a.yaml").unwrap();
        let mut tree = AnalyzedTree::new(analyzers).unwrap();
        tree.observe(&status("/gps/fix", 2), s(0.1));
        let other = Path::parse("unanalyzed.gps_fix").unwrap();
        assert_eq!(tree.tree().health(&other).unwrap().state, State::Failed);
        // Items of the file's own `other` root are untouched.
        assert!(tree
            .tree()
            .health(&Path::parse("other.sensors").unwrap())
            .is_some());
    }

    #[test]
    fn an_item_flood_stops_at_the_cap() {
        let analyzers = Analyzers::from_yaml(FILE, "a.yaml").unwrap();
        let mut tree = AnalyzedTree::new(analyzers).unwrap();
        for i in 0..MAX_LEAVES + 20 {
            tree.observe(&status(&format!("imu {i}"), 0), s(1.0));
        }
        assert_eq!(tree.dropped, 20);
    }
}
