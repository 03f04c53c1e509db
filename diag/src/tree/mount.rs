//! Mounts: resolving visible paths through them, the visible paths of a
//! shared node, and the walk over every visible node.

use super::{Kind, NodeId, Tree};
use crate::health::Health;
use crate::path::Path;

impl Tree {
    /// The node at a visible path, or failing that at a shared path.
    pub(super) fn resolve(&self, path: &Path) -> Option<NodeId> {
        self.resolve_in(false, path.as_str())
            .or_else(|| self.resolve_in(true, path.as_str()))
    }

    /// Looks `text` up in one namespace; when it is not there, continues
    /// through the deepest existing ancestor if that ancestor is a mount.
    fn resolve_in(&self, shared: bool, text: &str) -> Option<NodeId> {
        let index = if shared { &self.shared } else { &self.proper };
        if let Some(&id) = index.get(text) {
            return Some(id);
        }
        // Every ancestor of a node exists, so the deepest existing ancestor
        // is the only one that can lead further.
        let (dot, id) = text
            .rmatch_indices('.')
            .find_map(|(dot, _)| index.get(&text[..dot]).map(|&id| (dot, id)))?;
        let Kind::Mount(target) = self.nodes[id as usize].kind else {
            return None;
        };
        let below = format!("{}.{}", self.nodes[target as usize].path, &text[dot + 1..]);
        self.resolve_in(true, &below)
    }

    /// Follows a chain of mounts to the node that holds the subtree.
    pub(super) fn through_mounts(&self, mut id: NodeId) -> NodeId {
        // Bounded: mount cycles are rejected at build.
        while let Kind::Mount(target) = self.nodes[id as usize].kind {
            id = target;
        }
        id
    }

    /// Every visible path of a node: its own path in the tree proper; for a
    /// shared node, one per place its subtree is mounted (none when it is
    /// mounted nowhere). Sorted, without duplicates.
    pub(super) fn visible_paths(&self, id: NodeId) -> Vec<Path> {
        let node = &self.nodes[id as usize];
        if !node.shared {
            return vec![node.path.clone()];
        }
        let mut out = Vec::new();
        for &parent in self.parents(id) {
            let above = self.visible_paths(parent);
            match self.nodes[parent as usize].kind {
                // The mount path *is* this node's path there.
                Kind::Mount(_) => out.extend(above),
                _ => out.extend(
                    above
                        .iter()
                        .filter_map(|p| p.child(node.path.leaf_label()).ok()),
                ),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The paths a transition of `id` is reported under: its visible paths,
    /// except those it shares with a mount node (the mount node is what
    /// [`Tree::health`] shows there, and reports its own transitions). Empty
    /// for a shared node mounted nowhere: it is not part of the visible tree.
    pub(super) fn transition_paths(&self, id: NodeId) -> Vec<Path> {
        let node = &self.nodes[id as usize];
        if !node.shared {
            return vec![node.path.clone()];
        }
        let mut out = Vec::new();
        for &parent in self.parents(id) {
            if !matches!(self.nodes[parent as usize].kind, Kind::Mount(_)) {
                let above = self.visible_paths(parent);
                out.extend(
                    above
                        .iter()
                        .filter_map(|p| p.child(node.path.leaf_label()).ok()),
                );
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// How many visible nodes there are: [`Tree::nodes`] without the walk.
    /// Memoized per node, since nested mounts can repeat a subtree many times.
    pub(super) fn count_visible(&self) -> usize {
        let mut below = vec![0usize; self.nodes.len()];
        // `order` puts children first; a mount counts what it mounts (its
        // own path is the target's visible path, so not counted twice).
        for &id in &self.order {
            below[id as usize] = match self.nodes[id as usize].kind {
                Kind::Mount(target) => below[target as usize],
                _ => self
                    .children(id)
                    .iter()
                    .fold(1usize, |sum, &c| sum.saturating_add(below[c as usize])),
            };
        }
        self.roots
            .iter()
            .fold(0usize, |sum, &r| sum.saturating_add(below[r as usize]))
    }
}

/// Every visible node of a [`Tree`] with its health, in path order; see
/// [`Tree::nodes`].
#[derive(Debug)]
pub struct Nodes<'a> {
    tree: &'a Tree,
    /// Nodes still to visit with their visible paths, next on top.
    stack: Vec<(NodeId, Path)>,
}

impl<'a> Nodes<'a> {
    pub(super) fn new(tree: &'a Tree) -> Nodes<'a> {
        let stack = tree
            .roots
            .iter()
            .rev()
            .map(|&id| (id, tree.nodes[id as usize].path.clone()))
            .collect();
        Nodes { tree, stack }
    }
}

impl<'a> Iterator for Nodes<'a> {
    type Item = (Path, &'a Health);

    fn next(&mut self) -> Option<Self::Item> {
        let (id, path) = self.stack.pop()?;
        let tree = self.tree;
        // A mount shows its own health; below it, the mounted subtree.
        let holder = tree.through_mounts(id);
        for &child in tree.children(holder).iter().rev() {
            let label = tree.nodes[child as usize].path.leaf_label();
            if let Ok(child_path) = path.child(label) {
                self.stack.push((child, child_path));
            }
        }
        Some((path, &tree.nodes[id as usize].health))
    }
}

impl std::iter::FusedIterator for Nodes<'_> {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::super::testkit::*;
    use super::super::UpdateError;
    use super::*;
    use crate::check::{Check, ObservationError, Verdict};
    use crate::health::State;
    use crate::observation::Observation;
    use crate::spec::TreeSpec;
    use crate::time::Timestamp;

    /// Counts evaluations, to show a shared leaf is evaluated once.
    #[derive(Debug)]
    struct Counting(Scripted, Arc<AtomicUsize>);

    impl Check for Counting {
        fn kind(&self) -> &'static str {
            "counting"
        }
        fn observe(&mut self, o: Observation, now: Timestamp) -> Result<(), ObservationError> {
            self.0.observe(o, now)
        }
        fn evaluate(&self, now: Timestamp) -> Verdict {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.evaluate(now)
        }
        fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
            self.0.next_change(now)
        }
        fn describe(&self, now: Timestamp) -> String {
            self.0.describe(now)
        }
    }

    fn paths(transitions: &[super::super::Transition]) -> Vec<&str> {
        transitions.iter().map(|t| t.path.as_str()).collect()
    }

    #[test]
    fn a_shared_leaf_is_evaluated_once_and_seen_under_every_mount() {
        let mut spec = vehicle();
        spec.shared[0] = node("power.bus_a.voltage", custom("bus_voltage"), 11);
        let mut tree = built(&spec);
        let evaluations = Arc::new(AtomicUsize::new(0));
        let check = Counting(Scripted::new(), evaluations.clone());
        tree.install_check(
            &p("vehicle.propulsion.engine2.power.voltage"),
            Box::new(check),
        )
        .unwrap();

        let changes = tree
            .observe(
                &p("vehicle.propulsion.engine1.power.voltage"),
                said(State::Failed),
                ms(5),
            )
            .unwrap();
        assert_eq!(evaluations.load(Ordering::SeqCst), 1);
        assert_eq!(
            paths(&changes),
            [
                "vehicle.propulsion.engine1.power.voltage",
                "vehicle.propulsion.engine2.power.voltage",
                // power.bus_a changed too: its mount nodes report it.
                "vehicle.propulsion.engine1.power",
                "vehicle.propulsion.engine2.power",
                "vehicle.propulsion.engine1",
                "vehicle.propulsion.engine2",
                "vehicle.propulsion",
                "vehicle",
            ]
        );
        for t in &changes {
            assert_eq!(
                (t.old, t.new, t.at),
                (State::Unknown, State::Failed, ms(5)),
                "{}",
                t.path
            );
        }
        let seen = tree
            .health(&p("vehicle.propulsion.engine2.power.voltage"))
            .unwrap();
        assert_eq!(seen.state, State::Failed);
        assert_eq!(tree.health(&p("power.bus_a.voltage")), Some(seen));
    }

    #[test]
    fn visible_and_shared_paths_resolve_through_nested_mounts() {
        let mut tree = built(&vehicle());
        let carrier = p("vehicle.propulsion.engine2.power.link.carrier");
        tree.observe(&carrier, said(State::Degraded), ms(1))
            .unwrap();
        assert_eq!(
            tree.health(&p("comms.link.carrier")).unwrap().state,
            State::Degraded
        );
        assert_eq!(
            tree.health(&p("vehicle.propulsion.engine1.power.link"))
                .unwrap()
                .state,
            State::Degraded
        );
        tree.observe(&p("power.bus_a.voltage"), said(State::Ok), ms(2))
            .unwrap();
        assert_eq!(
            tree.health(&p("vehicle.propulsion.engine1.power.voltage"))
                .unwrap()
                .state,
            State::Ok
        );

        for missing in [
            "vehicle.propulsion.engine1.power.nope",
            "vehicle.sensors.imu.a.x",
            "nowhere",
            "power.bus_b",
        ] {
            assert_eq!(tree.health(&p(missing)), None, "{missing}");
            let err = tree
                .observe(&p(missing), said(State::Ok), ms(3))
                .unwrap_err();
            assert_eq!(err, UpdateError::UnknownPath { path: p(missing) });
        }
        let err = tree
            .observe(
                &p("vehicle.propulsion.engine1.power"),
                said(State::Ok),
                ms(3),
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                UpdateError::NotALeaf {
                    what: "a mount",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = tree
            .observe(&p("vehicle.sensors"), said(State::Ok), ms(3))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`vehicle.sensors` is an inner node, not a leaf"
        );
    }

    #[test]
    fn a_mounted_leaf_takes_observations_at_its_mount_path() {
        let spec = TreeSpec {
            nodes: vec![
                node("v.a", mount("sensor.gps"), 1),
                node("v.b", mount("sensor.gps"), 2),
            ],
            shared: vec![node("sensor.gps", status(), 3)],
        };
        let mut tree = built(&spec);
        let changes = tree.observe(&p("v.a"), said(State::Ok), ms(1)).unwrap();
        assert_eq!(paths(&changes), ["v.a", "v.b", "v"]);
        assert_eq!(changes[0].cause, [p("v.a")]);
    }

    #[test]
    fn nodes_walks_visible_paths_in_order_with_mounts_expanded() {
        let tree = built(&vehicle());
        let all: Vec<String> = tree.nodes().map(|(path, _)| path.to_string()).collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted);
        for expected in [
            "vehicle.propulsion.engine1.power",
            "vehicle.propulsion.engine1.power.link",
            "vehicle.propulsion.engine1.power.link.carrier",
            "vehicle.propulsion.engine2.power.voltage",
        ] {
            assert!(
                all.iter().any(|p| p == expected),
                "{expected} missing from {all:?}"
            );
        }
        assert!(!all
            .iter()
            .any(|p| p.starts_with("power") || p.starts_with("comms")));
        assert_eq!(
            tree.roots().map(Path::as_str).collect::<Vec<_>>(),
            ["vehicle"]
        );
    }

    #[test]
    fn a_shared_node_mounted_nowhere_answers_by_shared_path_but_reports_nothing() {
        let spec = TreeSpec {
            nodes: vec![node("v.x", status(), 1)],
            shared: vec![node("spare.x", status(), 2)],
        };
        let mut tree = built(&spec);
        let changes = tree.observe(&p("spare.x"), said(State::Ok), ms(1)).unwrap();
        assert_eq!(changes, []);
        assert_eq!(tree.health(&p("spare")).unwrap().state, State::Ok);
        assert_eq!(tree.nodes().count(), 2);
    }
}
