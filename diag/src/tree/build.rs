//! From a [`TreeSpec`] to the arena: implied parents, validation of the
//! whole spec (every problem reported), mount cycle detection, then layout.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::error::{BuildError, BuildProblem, ProblemKind};
use super::{Kind, Node, NodeId, Scratch, Span, Tree, TreeSummary, NEVER};
use crate::check::{build_check, validate_check};
use crate::filter::{validate_filter, Filter};
use crate::health::{Health, State, UnknownReason};
use crate::path::Path;
use crate::rule::validate_rule;
use crate::spec::{Criticality, FilterSpec, NodeBody, NodeSpec, Origin, Rule, TreeSpec};
use crate::time::Timestamp;

/// A node before layout: explicit (from the spec) or implied by a
/// descendant's path.
struct Draft<'a> {
    spec: Option<&'a NodeSpec>,
    /// The spec's origin, or for an implied node the first node implying it.
    origin: Option<Origin>,
}

/// One namespace (tree proper or shared), sorted by path: a sorted walk is a
/// pre-order walk with children in label order.
type Drafts<'a> = BTreeMap<Path, Draft<'a>>;

struct Problems(Vec<BuildProblem>);

impl Problems {
    fn push(&mut self, path: &Path, shared: bool, origin: &Option<Origin>, kind: ProblemKind) {
        self.0.push(BuildProblem {
            path: path.clone(),
            shared,
            origin: origin.clone(),
            kind,
        });
    }
}

pub(super) fn build(spec: &TreeSpec) -> Result<Tree, BuildError> {
    let mut problems = Problems(Vec::new());
    let proper = drafts(&spec.nodes, false, &mut problems);
    let shared = drafts(&spec.shared, true, &mut problems);
    check_namespace(&proper, false, &shared, &mut problems);
    check_namespace(&shared, true, &shared, &mut problems);
    check_cycles(&shared, &mut problems);
    if !problems.0.is_empty() {
        let mut problems = problems.0;
        // File order reads best; problems without an origin go last, and a
        // stable sort keeps path order among equals.
        problems.sort_by(|a, b| origin_key(&a.origin).cmp(&origin_key(&b.origin)));
        return Err(BuildError { problems });
    }
    Ok(layout(&proper, &shared))
}

fn origin_key(origin: &Option<Origin>) -> (bool, &str, u32) {
    match origin {
        Some(o) => (false, o.source.as_str(), o.line),
        None => (true, "", 0),
    }
}

/// Collects one namespace: explicit nodes (duplicates reported) and the
/// parents their paths imply.
fn drafts<'a>(specs: &'a [NodeSpec], shared: bool, problems: &mut Problems) -> Drafts<'a> {
    let mut drafts = Drafts::new();
    for spec in specs {
        if let Some(first) = drafts.get(&spec.path) {
            let first = first.origin.clone();
            problems.push(
                &spec.path,
                shared,
                &spec.origin,
                ProblemKind::DuplicatePath { first },
            );
            continue;
        }
        drafts.insert(
            spec.path.clone(),
            Draft {
                spec: Some(spec),
                origin: spec.origin.clone(),
            },
        );
    }
    for spec in specs {
        for ancestor in spec.path.ancestors() {
            drafts.entry(ancestor).or_insert_with(|| Draft {
                spec: None,
                origin: spec.origin.clone(),
            });
        }
    }
    drafts
}

/// Per-node checks of one namespace: children under leaves or mounts, rules,
/// checks, mount targets.
fn check_namespace(
    drafts: &Drafts<'_>,
    shared: bool,
    targets: &Drafts<'_>,
    problems: &mut Problems,
) {
    for (path, draft) in drafts {
        let Some(spec) = draft.spec else { continue };
        // Only the nearest offending ancestor is reported, once per node.
        for ancestor in path.ancestors() {
            let body = drafts.get(&ancestor).and_then(|d| d.spec).map(|s| &s.body);
            let kind = match body {
                Some(NodeBody::Leaf(_)) => ProblemKind::UnderLeaf { leaf: ancestor },
                Some(NodeBody::Mount(_)) => ProblemKind::UnderMount { mount: ancestor },
                _ => continue,
            };
            problems.push(path, shared, &spec.origin, kind);
            break;
        }
        match &spec.body {
            NodeBody::Inner(rule) => {
                if let Some(message) = validate_rule(*rule, child_count(drafts, path)) {
                    problems.push(
                        path,
                        shared,
                        &spec.origin,
                        ProblemKind::InvalidRule { message },
                    );
                }
            }
            NodeBody::Leaf(check) => {
                for message in validate_check(check) {
                    problems.push(
                        path,
                        shared,
                        &spec.origin,
                        ProblemKind::InvalidCheck { message },
                    );
                }
            }
            NodeBody::Mount(target) => {
                if !targets.contains_key(target) {
                    let kind = ProblemKind::UnknownMountTarget {
                        target: target.clone(),
                    };
                    problems.push(path, shared, &spec.origin, kind);
                }
            }
        }
        for message in validate_filter(&spec.filter) {
            problems.push(
                path,
                shared,
                &spec.origin,
                ProblemKind::InvalidFilter { message },
            );
        }
    }
}

/// Direct children of `path`: the sorted range of its descendants, filtered
/// to one level deeper.
fn child_count(drafts: &Drafts<'_>, path: &Path) -> usize {
    let depth = path.depth() + 1;
    drafts
        .range(path.clone()..)
        .skip(1)
        .take_while(|(p, _)| path.is_strict_ancestor_of(p))
        .filter(|(p, _)| p.depth() == depth)
        .count()
}

/// Rejects shared subtrees that mount themselves, directly or through other
/// mounts. The graph: shared path T → target of every mount inside T's
/// subtree (T itself included). Its cycles pass only through mount targets.
fn check_cycles(shared: &Drafts<'_>, problems: &mut Problems) {
    // Every shared mount whose target exists (unknown targets are reported
    // on their own).
    let mounts: Vec<MountEdge<'_>> = shared
        .iter()
        .filter_map(|(path, d)| match d.spec.map(|s| &s.body) {
            Some(NodeBody::Mount(target)) if shared.contains_key(target) => Some(MountEdge {
                mount: path,
                target,
                origin: &d.origin,
            }),
            _ => None,
        })
        .collect();
    // Edges out of every target, sorted for a deterministic report.
    let mut edges: BTreeMap<&Path, Vec<&MountEdge<'_>>> = BTreeMap::new();
    for edge in &mounts {
        let from = edge.target;
        let out = mounts
            .iter()
            .filter(|m| from.is_ancestor_of(m.mount))
            .collect();
        edges.insert(from, out);
    }
    let mut reported: HashSet<Vec<&Path>> = HashSet::new();
    let mut done: HashSet<&Path> = HashSet::new();
    for &start in edges.keys() {
        if done.contains(start) {
            continue;
        }
        // Iterative DFS: `stack` holds (target, next edge to try), `via[i]`
        // the edge from `stack[i]` to `stack[i + 1]`.
        let mut stack: Vec<(&Path, usize)> = vec![(start, 0)];
        let mut via: Vec<&MountEdge<'_>> = Vec::new();
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some(&edge) = edges.get(node).and_then(|out| out.get(*next)) else {
                done.insert(node);
                stack.pop();
                via.pop();
                continue;
            };
            *next += 1;
            if let Some(pos) = stack.iter().position(|(p, _)| *p == edge.target) {
                let mut cycle: Vec<&Path> = stack[pos..].iter().map(|(p, _)| *p).collect();
                let mut steps: Vec<&MountEdge<'_>> = via[pos..].to_vec();
                steps.push(edge);
                // Rotate to the smallest target so each cycle is reported once.
                let min = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                cycle.rotate_left(min);
                steps.rotate_left(min);
                if reported.insert(cycle.clone()) {
                    let mut shown: Vec<Path> = cycle.iter().map(|p| (*p).clone()).collect();
                    shown.push(cycle[0].clone());
                    let kind = ProblemKind::MountCycle {
                        cycle: shown,
                        via: steps.iter().map(|e| e.mount.clone()).collect(),
                    };
                    problems.push(steps[0].mount, true, steps[0].origin, kind);
                }
            } else if !done.contains(edge.target) {
                stack.push((edge.target, 0));
                via.push(edge);
            }
        }
    }
}

/// A mount inside the shared namespace: evaluating any subtree holding
/// `mount` needs `target`.
struct MountEdge<'a> {
    mount: &'a Path,
    target: &'a Path,
    origin: &'a Option<Origin>,
}

/// Lays a valid spec out as the arena and evaluates it once at
/// [`Timestamp::ZERO`] (without filters: nothing has happened yet).
fn layout(proper: &Drafts<'_>, shared: &Drafts<'_>) -> Tree {
    let no_filter = FilterSpec::default();
    let mut nodes = Vec::with_capacity(proper.len() + shared.len());
    let mut proper_ids: HashMap<Box<str>, NodeId> = HashMap::with_capacity(proper.len());
    let mut shared_ids: HashMap<Box<str>, NodeId> = HashMap::with_capacity(shared.len());
    let mut custom = HashMap::new();
    let mut summary = TreeSummary {
        shared_nodes: shared.len(),
        ..TreeSummary::default()
    };
    for (is_shared, drafts) in [(false, proper), (true, shared)] {
        for (path, draft) in drafts {
            let id = nodes.len() as NodeId;
            let (kind, criticality, filter) = match draft.spec {
                None => (Kind::Inner(Rule::Worst), Criticality::Standard, &no_filter),
                Some(spec) => {
                    let kind = match &spec.body {
                        NodeBody::Inner(rule) => Kind::Inner(*rule),
                        NodeBody::Leaf(check) => {
                            if let crate::spec::CheckSpec::Custom { name } = check {
                                custom.insert(id, name.clone());
                            }
                            summary.leaves += 1;
                            Kind::Leaf(build_check(check))
                        }
                        NodeBody::Mount(_) => {
                            summary.mounts += 1;
                            Kind::Mount(0) // the target's id is set below
                        }
                    };
                    (kind, spec.criticality, &spec.filter)
                }
            };
            let index = if is_shared {
                &mut shared_ids
            } else {
                &mut proper_ids
            };
            index.insert(path.as_str().into(), id);
            nodes.push(Node {
                path: path.clone(),
                kind,
                criticality,
                shared: is_shared,
                height: 0,
                children: Span::default(),
                parents: Span::default(),
                filter: Filter::new(filter),
                raw: State::Unknown,
                last_unknown: UnknownReason::NoData,
                health: Health::no_data(Timestamp::ZERO),
                deadline: NEVER,
                scheduled: NEVER,
                mark: 0,
            });
        }
    }
    // Edges: path parent → child within a namespace, mount → its target.
    let mut children: Vec<Vec<NodeId>> = vec![Vec::new(); nodes.len()];
    let mut parents: Vec<Vec<NodeId>> = vec![Vec::new(); nodes.len()];
    for (is_shared, drafts) in [(false, proper), (true, shared)] {
        let index = if is_shared { &shared_ids } else { &proper_ids };
        for (path, draft) in drafts {
            let Some(&id) = index.get(path.as_str()) else {
                continue;
            };
            if let Some(parent) = path.parent().and_then(|p| index.get(p.as_str()).copied()) {
                children[parent as usize].push(id);
                parents[id as usize].push(parent);
            }
            if let Some(NodeBody::Mount(target)) = draft.spec.map(|s| &s.body) {
                if let Some(&target) = shared_ids.get(target.as_str()) {
                    nodes[id as usize].kind = Kind::Mount(target);
                    children[id as usize].push(target);
                    parents[target as usize].push(id);
                }
            }
        }
    }
    let (child_ids, parent_ids) = flatten(&mut nodes, &children, &parents);
    let order = bottom_up(&mut nodes, &children, &parents);
    let roots = proper_ids
        .iter()
        .filter(|(path, _)| !path.contains('.'))
        .map(|(_, &id)| id)
        .collect::<std::collections::BTreeSet<_>>() // ids follow path order
        .into_iter()
        .collect();
    summary.evaluated = nodes.len();
    let mut tree = Tree {
        nodes,
        child_ids,
        parent_ids,
        proper: proper_ids,
        shared: shared_ids,
        custom,
        roots,
        order,
        timers: Default::default(),
        scratch: Scratch::default(),
        summary,
    };
    tree.summary.nodes = tree.count_visible();
    tree.initial_evaluation();
    tree
}

/// Stores the edge lists flat and gives each node its spans.
fn flatten(
    nodes: &mut [Node],
    children: &[Vec<NodeId>],
    parents: &[Vec<NodeId>],
) -> (Vec<NodeId>, Vec<NodeId>) {
    let mut child_ids = Vec::with_capacity(children.iter().map(Vec::len).sum());
    let mut parent_ids = Vec::with_capacity(parents.iter().map(Vec::len).sum());
    for (i, node) in nodes.iter_mut().enumerate() {
        node.children = Span {
            start: child_ids.len() as u32,
            len: children[i].len() as u32,
        };
        child_ids.extend_from_slice(&children[i]);
        node.parents = Span {
            start: parent_ids.len() as u32,
            len: parents[i].len() as u32,
        };
        parent_ids.extend_from_slice(&parents[i]);
    }
    (child_ids, parent_ids)
}

/// Heights and a children-first order (Kahn's algorithm from the leaves up;
/// the graph is acyclic once mount cycles are rejected).
fn bottom_up(nodes: &mut [Node], children: &[Vec<NodeId>], parents: &[Vec<NodeId>]) -> Vec<NodeId> {
    let mut pending: Vec<usize> = children.iter().map(Vec::len).collect();
    let mut order: Vec<NodeId> = (0..nodes.len() as NodeId)
        .filter(|&i| pending[i as usize] == 0)
        .collect();
    let mut next = 0;
    while next < order.len() {
        let id = order[next] as usize;
        next += 1;
        for &parent in &parents[id] {
            let p = parent as usize;
            nodes[p].height = nodes[p].height.max(nodes[id].height + 1);
            pending[p] -= 1;
            if pending[p] == 0 {
                order.push(parent);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testkit::*;
    use super::*;
    use crate::spec::{CheckSpec, Debounce};

    fn problems(spec: &TreeSpec) -> Vec<String> {
        match Tree::build(spec) {
            Ok(_) => panic!("spec should be rejected"),
            Err(e) => {
                let lines: Vec<String> = e.to_string().lines().map(str::to_owned).collect();
                assert_eq!(lines.len(), e.problems.len(), "one problem per line");
                lines
            }
        }
    }

    #[test]
    fn every_problem_is_reported_together_with_its_line() {
        let spec = TreeSpec {
            nodes: vec![
                node("vehicle.imu", inner(Rule::Vote { k: 4 }), 1),
                node("vehicle.imu.a", status(), 2),
                node("vehicle.imu.a", status(), 3),
                node("vehicle.imu.a.x", status(), 4),
                NodeSpec {
                    filter: FilterSpec {
                        debounce: Some(Debounce::Counter { trip: 0, limit: 3 }),
                        ..FilterSpec::default()
                    },
                    ..node("vehicle.hb", heartbeat(0), 5)
                },
                node("vehicle.power", mount("power.nowhere"), 6),
                node("vehicle.bus", mount("power.bus_a"), 7),
                node("vehicle.bus.extra", status(), 8),
            ],
            shared: vec![
                node("power.bus_a.link", mount("comms.link"), 10),
                node("comms.link.backup", mount("power.bus_a"), 11),
            ],
        };
        let lines = problems(&spec);
        assert_eq!(
            lines,
            [
                "tree.yaml:1: vehicle.imu: invalid rule: vote.k is 4 but the node has 1 child: it could never be OK",
                "tree.yaml:3: vehicle.imu.a: duplicate path, first defined at tree.yaml:2",
                "tree.yaml:4: vehicle.imu.a.x: `vehicle.imu.a` is a leaf (a check) and cannot have children",
                "tree.yaml:5: vehicle.hb: invalid check: heartbeat.timeout must be longer than zero",
                "tree.yaml:5: vehicle.hb: invalid filter: debounce.trip must be at least 1",
                "tree.yaml:6: vehicle.power: mount target `power.nowhere` is not a shared path",
                "tree.yaml:8: vehicle.bus.extra: `vehicle.bus` is a mount and cannot have children of its own",
                "tree.yaml:11: comms.link.backup: mount cycle: comms.link -> power.bus_a -> comms.link \
                 (comms.link.backup mounts power.bus_a, power.bus_a.link mounts comms.link)",
            ]
        );
    }

    #[test]
    fn mount_cycle_is_spelled_out() {
        let spec = TreeSpec {
            nodes: vec![node("vehicle.power", mount("power.bus_a"), 1)],
            shared: vec![
                node("power.bus_a.link", mount("zcomms.link"), 2),
                node("zcomms.link.backup", mount("power.bus_a"), 3),
            ],
        };
        let err = Tree::build(&spec).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        let cycle = match &err.problems[0].kind {
            ProblemKind::MountCycle { cycle, .. } => {
                cycle.iter().map(Path::as_str).collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(cycle, ["power.bus_a", "zcomms.link", "power.bus_a"]);
        assert!(
            err.to_string()
                .contains("mount cycle: power.bus_a -> zcomms.link -> power.bus_a"),
            "{err}"
        );
        assert!(err.problems[0].shared);
    }

    #[test]
    fn a_subtree_mounting_its_own_ancestor_is_a_cycle() {
        let spec = TreeSpec {
            nodes: vec![],
            shared: vec![
                node("power.bus_a.loop", mount("power"), 1),
                node("power.bus_a.v", status(), 2),
            ],
        };
        let err = Tree::build(&spec).unwrap_err();
        assert!(
            err.to_string()
                .contains("mount cycle: power -> power (power.bus_a.loop mounts power)"),
            "{err}"
        );
    }

    #[test]
    fn a_dag_of_mounts_is_not_a_cycle() {
        // Two buses both mount the same link: shared twice, no cycle.
        let spec = TreeSpec {
            nodes: vec![
                node("v.a", mount("power.bus_a"), 1),
                node("v.b", mount("power.bus_b"), 2),
            ],
            shared: vec![
                node("power.bus_a.link", mount("comms.link"), 3),
                node("power.bus_b.link", mount("comms.link"), 4),
                node("comms.link.carrier", status(), 5),
            ],
        };
        let tree = built(&spec);
        assert_eq!(tree.summary().mounts, 4);
    }

    #[test]
    fn parents_are_implied_and_an_explicit_empty_inner_node_is_unknown() {
        let spec = TreeSpec {
            nodes: vec![
                node("a.b.c", status(), 1),
                node("a.empty", inner(Rule::Any), 2),
            ],
            shared: vec![],
        };
        let tree = built(&spec);
        let paths: Vec<String> = tree.nodes().map(|(path, _)| path.to_string()).collect();
        assert_eq!(paths, ["a", "a.b", "a.b.c", "a.empty"]);
        let empty = tree.health(&p("a.empty")).unwrap();
        assert_eq!(
            (empty.state, empty.reason),
            (State::Unknown, Some(UnknownReason::NoData))
        );
        let root = tree.health(&p("a")).unwrap();
        assert_eq!(root.state, State::Unknown);
        assert_eq!(root.confidence, 0.0);
    }

    #[test]
    fn problems_without_origin_still_name_the_path() {
        let mut bad = node(
            "x.y",
            NodeBody::Leaf(CheckSpec::Heartbeat {
                timeout: Duration::ZERO,
            }),
            1,
        );
        bad.origin = None;
        let err = Tree::build(&TreeSpec {
            nodes: vec![bad],
            shared: vec![],
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.y: invalid check: heartbeat.timeout must be longer than zero"
        );
    }

    #[test]
    fn summary_counts_visible_nodes_once_per_mount() {
        let tree = built(&vehicle());
        let summary = tree.summary();
        // Tree proper: vehicle, sensors, imu, a, b, c, propulsion, engine1,
        // engine1.power, engine1.pump, engine2, engine2.power, engine2.pump
        // = 13; each power mount adds voltage, link, link.carrier = 3 more.
        assert_eq!(summary.nodes, 19);
        assert_eq!(summary.nodes, tree.nodes().count());
        assert_eq!(summary.leaves, 7);
        assert_eq!(summary.mounts, 3);
        // power, power.bus_a, voltage, link, comms, comms.link, carrier.
        assert_eq!(summary.shared_nodes, 7);
        assert_eq!(summary.evaluated, 20);
    }
}
