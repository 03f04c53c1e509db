//! Explanations: the leaves that made a node what it is (causes), the causal
//! chain as a structure and as text, and the impact of a node.

use std::fmt;

use super::{Kind, NodeId, Tree};
use crate::health::{Health, State};
use crate::path::Path;
use crate::rule::{aggregate, decisive, ChildHealth};
use crate::spec::{Criticality, Rule};
use crate::time::Timestamp;

/// The causal chain of one node: its health, what decided it, and the same
/// for each child that decided it, down to the leaves.
///
/// Displays as indented text, one node per line.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Explanation {
    /// The visible path of the node.
    pub path: Path,
    /// Its path in the shared namespace, when it is a shared node.
    pub shared: Option<Path>,
    /// Its reported health.
    pub health: Health,
    /// Its state before debounce, flap damping and latching. When it differs
    /// from `health.state`, the filter holds the node.
    pub raw: State,
    /// True when the node is latched and waits for a reset.
    pub latched: bool,
    /// How much it matters to its parent.
    pub criticality: Criticality,
    /// What decided its raw state.
    pub decided_by: Explained,
    /// The children that decided it (all of them when every child counts),
    /// each explained in turn.
    pub causes: Vec<Explanation>,
    /// How many children the node has in all.
    pub children: usize,
}

/// What decided a node's raw state.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Explained {
    /// An inner node's rule over its children.
    Rule(Rule),
    /// An inner node without children: UNKNOWN(no data).
    Empty,
    /// A leaf's check: its kind and its own description of what it saw.
    Check {
        /// The check kind (`heartbeat`, `threshold`, ...).
        kind: &'static str,
        /// The check's [`describe`](crate::Check::describe) at the time asked.
        detail: String,
    },
    /// A `custom` leaf whose check was never installed.
    MissingCheck {
        /// The custom check's name.
        name: String,
    },
    /// A mount: the shared subtree's health, explained in `causes`.
    Mount {
        /// The mounted shared path.
        target: Path,
    },
}

impl Tree {
    /// The leaves (as visible paths under `path`) that made the node what it
    /// is, following only the children each rule found decisive. An inner
    /// node without children is its own cause. `None` for an unknown path.
    ///
    /// When a filter holds a node in a state its inputs no longer support
    /// (a latch, a debounce), these are the causes of the current raw state;
    /// [`Tree::explain`] shows the hold.
    pub fn causes(&self, path: &Path) -> Option<Vec<Path>> {
        self.resolve(path).map(|id| self.causes_of(id, path))
    }

    pub(super) fn causes_of(&self, id: NodeId, path: &Path) -> Vec<Path> {
        let mut out = Vec::new();
        let mut stack = vec![(id, path.clone())];
        let mut buffers = Buffers::default();
        while let Some((id, path)) = stack.pop() {
            let holder = self.through_mounts(id);
            let node = &self.nodes[holder as usize];
            match node.kind {
                Kind::Inner(_) if node.children.len > 0 => {
                    self.decisive_children(holder, &mut buffers);
                    for &child in buffers.picked.iter().rev() {
                        let label = self.nodes[child as usize].path.leaf_label();
                        if let Ok(child_path) = path.child(label) {
                            stack.push((child, child_path));
                        }
                    }
                }
                _ => out.push(path),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The cause of a transition *to OK*: the leaves under `id` whose
    /// recovery in this update made it OK, found by walking down only
    /// through children that changed state in this update (`changed`,
    /// sorted) and are OK now. Listing every OK leaf instead (what the
    /// rules find decisive for OK) would cost the size of the subtree on
    /// every recovery of a node near the root. A node that recovered by its
    /// own timer (a debounce hold ending) has no such children: its decisive
    /// leaves are given instead.
    pub(super) fn recovery_causes(&self, id: NodeId, path: &Path, changed: &[NodeId]) -> Vec<Path> {
        let is_changed = |id: NodeId| changed.binary_search(&id).is_ok();
        let mut out = Vec::new();
        let mut stack = vec![(id, path.clone())];
        while let Some((id, path)) = stack.pop() {
            let holder = self.through_mounts(id);
            let node = &self.nodes[holder as usize];
            if !matches!(node.kind, Kind::Inner(_)) || node.children.len == 0 {
                out.push(path);
                continue;
            }
            let before = stack.len();
            for &child in self.children(holder) {
                let recovered = self.nodes[child as usize].health.state == State::Ok
                    && (is_changed(child) || is_changed(self.through_mounts(child)));
                if recovered {
                    let label = self.nodes[child as usize].path.leaf_label();
                    if let Ok(child_path) = path.child(label) {
                        stack.push((child, child_path));
                    }
                }
            }
            if stack.len() == before {
                out.extend(self.causes_of(holder, &path));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The children of an inner node that decided its raw state, into
    /// `buffers.picked` (the other buffers are scratch, reused across a walk).
    fn decisive_children(&self, id: NodeId, buffers: &mut Buffers) {
        buffers.picked.clear();
        let Kind::Inner(rule) = self.nodes[id as usize].kind else {
            return;
        };
        self.child_healths(id, &mut buffers.kids);
        let result = aggregate(rule, &buffers.kids);
        decisive(rule, &buffers.kids, &result, &mut buffers.indices);
        let children = self.children(id);
        let picked = buffers
            .indices
            .iter()
            .filter_map(|&i| children.get(i).copied());
        buffers.picked.extend(picked);
    }

    /// The causal chain of the node at `path` down to the leaves, with each
    /// leaf check's description at `now`. `None` for an unknown path.
    pub fn explain(&self, path: &Path, now: Timestamp) -> Option<Explanation> {
        let id = self.resolve(path)?;
        Some(self.explain_node(id, path.clone(), now))
    }

    fn explain_node(&self, id: NodeId, path: Path, now: Timestamp) -> Explanation {
        let node = &self.nodes[id as usize];
        let mut causes = Vec::new();
        let decided_by = match &node.kind {
            Kind::Leaf(Some(check)) => Explained::Check {
                kind: check.kind(),
                detail: check.describe(now),
            },
            Kind::Leaf(None) => Explained::MissingCheck {
                name: self.custom.get(&id).cloned().unwrap_or_default(),
            },
            Kind::Mount(target) => {
                causes.push(self.explain_node(*target, path.clone(), now));
                Explained::Mount {
                    target: self.nodes[*target as usize].path.clone(),
                }
            }
            Kind::Inner(_) if node.children.len == 0 => Explained::Empty,
            Kind::Inner(rule) => {
                let mut buffers = Buffers::default();
                self.decisive_children(id, &mut buffers);
                for child in buffers.picked {
                    let label = self.nodes[child as usize].path.leaf_label();
                    if let Ok(child_path) = path.child(label) {
                        causes.push(self.explain_node(child, child_path, now));
                    }
                }
                Explained::Rule(*rule)
            }
        };
        Explanation {
            shared: node.shared.then(|| node.path.clone()),
            path,
            health: node.health.clone(),
            raw: node.raw,
            latched: node.filter.is_latched(),
            criticality: node.criticality,
            decided_by,
            causes,
            children: node.children.len as usize,
        }
    }

    /// Every node whose state the node at `path` can change, as visible paths
    /// through every mount: its ancestors, and for a shared node its other
    /// mount paths too (the same node, seen elsewhere). Sorted; `path` itself
    /// is left out. `None` for an unknown path.
    pub fn impact(&self, path: &Path) -> Option<Vec<Path>> {
        let id = self.resolve(path)?;
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![id];
        let mut out = Vec::new();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut seen[id as usize], true) {
                continue;
            }
            out.extend(self.visible_paths(id));
            stack.extend_from_slice(self.parents(id));
        }
        out.sort();
        out.dedup();
        out.retain(|p| p != path);
        Some(out)
    }
}

/// Scratch for [`Tree::decisive_children`], reused across one walk.
#[derive(Default)]
struct Buffers {
    kids: Vec<ChildHealth>,
    indices: Vec<usize>,
    picked: Vec<NodeId>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_indented(f, 0)
    }
}

impl Explanation {
    fn write_indented(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        write!(f, "{:indent$}{}", "", self.path, indent = depth * 2)?;
        if let Some(shared) = &self.shared {
            write!(f, " [{shared}]")?;
        }
        write!(f, ": {} since {}", self.health, self.health.since)?;
        if self.criticality != Criticality::Standard {
            write!(f, ", {:?}", self.criticality)?;
        }
        f.write_str(" — ")?;
        match &self.decided_by {
            Explained::Rule(rule) => {
                write!(f, "{} of {} children", rule_text(*rule), self.children)?;
                if self.causes.len() < self.children {
                    write!(f, ", decided by {}", self.causes.len())?;
                }
            }
            Explained::Empty => f.write_str("no children: an empty subtree is UNKNOWN")?,
            Explained::Check { kind, detail } => write!(f, "{kind} check: {detail}")?,
            Explained::MissingCheck { name } => write!(f, "custom check `{name}` not installed")?,
            Explained::Mount { target } => write!(f, "mounts {target}")?,
        }
        if self.latched {
            f.write_str("; latched until reset")?;
        } else if self.raw != self.health.state {
            write!(f, "; held by its filter (inputs say {})", self.raw)?;
        }
        for cause in &self.causes {
            f.write_str("\n")?;
            cause.write_indented(f, depth + 1)?;
        }
        Ok(())
    }
}

/// The rule as the tree file spells it. Written without an exhaustive match
/// so new rules display (by name) before anyone updates this.
fn rule_text(rule: Rule) -> String {
    if let Rule::Vote { k } = rule {
        return format!("vote {k}");
    }
    format!("{rule:?}").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::spec::TreeSpec;

    fn failed_bus() -> Tree {
        let mut tree = built(&vehicle());
        for (path, state) in [
            ("vehicle.sensors.imu.a", State::Ok),
            ("vehicle.sensors.imu.b", State::Ok),
            ("vehicle.sensors.imu.c", State::Failed),
            ("vehicle.propulsion.engine1.pump", State::Ok),
            ("vehicle.propulsion.engine2.pump", State::Ok),
            ("comms.link.carrier", State::Ok),
            ("power.bus_a.voltage", State::Failed),
        ] {
            tree.observe(&p(path), said(state), ms(10)).unwrap();
        }
        tree
    }

    #[test]
    fn causes_follow_decisive_children_through_mounts() {
        let tree = failed_bus();
        assert_eq!(tree.health(&p("vehicle")).unwrap().state, State::Failed);
        assert_eq!(
            tree.causes(&p("vehicle")).unwrap(),
            [
                p("vehicle.propulsion.engine1.power.voltage"),
                p("vehicle.propulsion.engine2.power.voltage")
            ]
        );
        assert_eq!(
            tree.causes(&p("vehicle.sensors.imu.c")).unwrap(),
            [p("vehicle.sensors.imu.c")]
        );
        assert_eq!(tree.causes(&p("nowhere")), None);
    }

    #[test]
    fn a_recovery_is_caused_by_the_leaves_that_recovered() {
        let mut tree = failed_bus();
        tree.observe(&p("vehicle.sensors.imu.c"), said(State::Ok), ms(11))
            .unwrap();
        let up = tree
            .observe(&p("power.bus_a.voltage"), said(State::Ok), ms(12))
            .unwrap();
        let root = up.iter().find(|t| t.path.as_str() == "vehicle").unwrap();
        assert_eq!((root.old, root.new), (State::Failed, State::Ok));
        assert_eq!(
            root.cause,
            [
                p("vehicle.propulsion.engine1.power.voltage"),
                p("vehicle.propulsion.engine2.power.voltage")
            ]
        );
        // Asked afterwards, every OK leaf is what keeps it OK.
        assert_eq!(tree.causes(&p("vehicle")).unwrap().len(), 9);
    }

    #[test]
    fn explain_walks_down_to_the_leaf_checks() {
        let tree = failed_bus();
        let e = tree
            .explain(&p("vehicle.propulsion.engine1"), ms(10))
            .unwrap();
        assert_eq!(e.health.state, State::Failed);
        assert_eq!(e.decided_by, Explained::Rule(Rule::Worst));
        assert_eq!(e.children, 2);
        let mount = &e.causes[0];
        assert_eq!(mount.path, p("vehicle.propulsion.engine1.power"));
        assert_eq!(
            mount.decided_by,
            Explained::Mount {
                target: p("power.bus_a")
            }
        );
        let bus = &mount.causes[0];
        assert_eq!(
            (bus.path.as_str(), bus.shared.as_ref()),
            ("vehicle.propulsion.engine1.power", Some(&p("power.bus_a")))
        );
        let voltage = &bus.causes[0];
        assert_eq!(voltage.path, p("vehicle.propulsion.engine1.power.voltage"));
        assert!(
            matches!(&voltage.decided_by, Explained::Check { kind: "status", .. }),
            "{:?}",
            voltage.decided_by
        );

        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].starts_with("vehicle.propulsion.engine1: FAILED"),
            "{text}"
        );
        assert!(
            lines[0].contains("worst of 2 children, decided by 1"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("  vehicle.propulsion.engine1.power: FAILED"),
            "{text}"
        );
        assert!(lines[1].contains("mounts power.bus_a"), "{text}");
        assert!(
            lines[2].starts_with("    vehicle.propulsion.engine1.power [power.bus_a]: FAILED"),
            "{text}"
        );
        assert!(lines[3].starts_with(
            "      vehicle.propulsion.engine1.power.voltage [power.bus_a.voltage]: FAILED"
        ));
        assert!(lines[3].contains("status check: "), "{text}");
    }

    #[test]
    fn impact_reaches_every_mount_path_and_ancestor() {
        let tree = failed_bus();
        let from_leaf = tree.impact(&p("vehicle.sensors.imu.a")).unwrap();
        assert_eq!(
            from_leaf,
            [p("vehicle"), p("vehicle.sensors"), p("vehicle.sensors.imu")]
        );

        let from_carrier = tree.impact(&p("comms.link.carrier")).unwrap();
        let expected: Vec<Path> = [
            "vehicle",
            "vehicle.propulsion",
            "vehicle.propulsion.engine1",
            "vehicle.propulsion.engine1.power",
            "vehicle.propulsion.engine1.power.link",
            "vehicle.propulsion.engine1.power.link.carrier",
            "vehicle.propulsion.engine2",
            "vehicle.propulsion.engine2.power",
            "vehicle.propulsion.engine2.power.link",
            "vehicle.propulsion.engine2.power.link.carrier",
        ]
        .into_iter()
        .map(p)
        .collect();
        assert_eq!(from_carrier, expected);
        // Asked through one mount, the same node under the other mount is
        // still impacted; the path asked about is not.
        let via_mount = tree
            .impact(&p("vehicle.propulsion.engine1.power.link.carrier"))
            .unwrap();
        assert!(via_mount.contains(&p("vehicle.propulsion.engine2.power.link.carrier")));
        assert!(!via_mount.contains(&p("vehicle.propulsion.engine1.power.link.carrier")));
        assert_eq!(tree.impact(&p("nowhere")), None);
    }

    #[test]
    fn explain_says_when_a_subtree_is_empty_or_a_check_is_missing() {
        let spec = TreeSpec {
            nodes: vec![
                node("v.empty", inner(Rule::Worst), 1),
                node("v.user", custom("my_check"), 2),
            ],
            shared: vec![],
        };
        let tree = built(&spec);
        let text = tree.explain(&p("v"), ms(0)).unwrap().to_string();
        assert!(text.contains("v.empty: UNKNOWN (no_data)"), "{text}");
        assert!(
            text.contains("no children: an empty subtree is UNKNOWN"),
            "{text}"
        );
        assert!(
            text.contains("custom check `my_check` not installed"),
            "{text}"
        );
        assert_eq!(tree.causes(&p("v.empty")).unwrap(), [p("v.empty")]);
    }
}
