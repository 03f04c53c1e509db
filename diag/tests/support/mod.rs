//! Random trees and input sequences for the tree's property tests.
//!
//! A tree is generated as a list of nodes, each naming its parent by index
//! (so proptest shrinks it node by node): the tree proper under `r`, and two
//! shared namespaces `sa` and `sb`. The tree proper mounts nodes of either;
//! `sa` mounts nodes of `sb` (nested mounts, acyclic by construction).

#![allow(dead_code)] // each test file uses part of it

use std::time::Duration;

use proptest::prelude::*;
use vigil_diag::{
    CheckSpec, Criticality, FilterSpec, NodeBody, NodeSpec, Observation, Path, Rule, State,
    Timestamp, TreeSpec, UnknownReason,
};

/// One generated node; the fields are selectors reduced modulo what fits.
#[derive(Clone, Debug)]
pub struct NodeGen {
    parent: usize,
    body: u8,
    criticality: u8,
    check: u8,
}

/// The shape of a random tree.
#[derive(Clone, Debug)]
pub struct Shape {
    proper: Vec<NodeGen>,
    shared_a: Vec<NodeGen>,
    shared_b: Vec<NodeGen>,
}

fn node_gen() -> impl Strategy<Value = NodeGen> {
    (any::<usize>(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(
        |(parent, body, criticality, check)| NodeGen {
            parent,
            body,
            criticality,
            check,
        },
    )
}

/// Trees of up to about 50 nodes.
pub fn shape() -> impl Strategy<Value = Shape> {
    (
        prop::collection::vec(node_gen(), 1..25),
        prop::collection::vec(node_gen(), 1..12),
        prop::collection::vec(node_gen(), 1..8),
    )
        .prop_map(|(proper, shared_a, shared_b)| Shape {
            proper,
            shared_a,
            shared_b,
        })
}

/// Which checks leaves may hold.
#[derive(Clone, Copy, Debug)]
pub enum Checks {
    /// Every built-in kind, some with staleness and time windows.
    All,
    /// `status` without staleness: the state is exactly what was reported.
    StatusOnly,
}

/// A generated spec, and the paths worth observing.
#[derive(Clone, Debug)]
pub struct Generated {
    pub spec: TreeSpec,
    /// Leaf paths: tree proper, shared, and leaves seen through a mount.
    pub leaves: Vec<Path>,
    /// Every shared path, to compare nodes mounted nowhere too.
    pub shared: Vec<Path>,
}

fn p(text: &str) -> Path {
    Path::parse(text).expect("generated paths are valid")
}

struct Namespace {
    paths: Vec<String>,
    children: Vec<usize>,
}

fn layout(prefix: &str, gens: &[NodeGen]) -> Namespace {
    let mut paths = vec![prefix.to_owned()];
    let mut children = vec![0; gens.len()];
    for (i, gen) in gens.iter().enumerate().skip(1) {
        let parent = gen.parent % i;
        children[parent] += 1;
        paths.push(format!("{}.n{i}", paths[parent]));
    }
    Namespace { paths, children }
}

fn check(selector: u8, checks: Checks) -> CheckSpec {
    let ms = Duration::from_millis;
    match (checks, selector % 6) {
        (Checks::StatusOnly, _) | (Checks::All, 0) => CheckSpec::Status { stale_after: None },
        (_, 1) => CheckSpec::Status {
            stale_after: Some(ms(150)),
        },
        (_, 2) => CheckSpec::Heartbeat { timeout: ms(100) },
        (_, 3) => CheckSpec::Threshold {
            degraded_above: Some(60.0),
            failed_above: Some(80.0),
            degraded_below: Some(10.0),
            failed_below: Some(0.0),
            stale_after: Some(ms(200)),
        },
        (_, 4) => CheckSpec::Range {
            ok: (20.0, 40.0),
            degraded: Some((10.0, 50.0)),
            stale_after: None,
        },
        _ => CheckSpec::Rate {
            min_hz: 10.0,
            failed_below_hz: Some(2.0),
            window: ms(500),
        },
    }
}

/// Specs of one namespace; returns the leaf paths and the mounts made.
fn namespace_specs(
    ns: &Namespace,
    gens: &[NodeGen],
    targets: &[String],
    checks: Checks,
    out: &mut Vec<NodeSpec>,
    leaves: &mut Vec<String>,
    mounts: &mut Vec<(String, String)>,
) {
    for (i, gen) in gens.iter().enumerate() {
        let path = &ns.paths[i];
        let criticality = match gen.criticality % 4 {
            0 => Criticality::Low,
            1 => Criticality::Standard,
            2 => Criticality::Essential,
            _ => Criticality::Critical,
        };
        let n = ns.children[i];
        let body = if n > 0 {
            match gen.body % 6 {
                0 | 1 => Rule::Worst,
                2 => Rule::Any,
                _ => Rule::Vote {
                    k: 1 + gen.check as usize % n,
                },
            }
        } else {
            match gen.body % 8 {
                0 => Rule::Worst, // an empty inner node
                1 | 2 if !targets.is_empty() => {
                    let target = targets[gen.check as usize % targets.len()].clone();
                    mounts.push((path.clone(), target.clone()));
                    out.push(spec(path, NodeBody::Mount(p(&target)), criticality));
                    continue;
                }
                _ => {
                    leaves.push(path.clone());
                    out.push(spec(
                        path,
                        NodeBody::Leaf(check(gen.check, checks)),
                        criticality,
                    ));
                    continue;
                }
            }
        };
        // Leave some `worst`/`standard` parents implied by their children.
        if n > 0
            && body == Rule::Worst
            && criticality == Criticality::Standard
            && gen.check % 2 == 0
        {
            continue;
        }
        out.push(spec(path, NodeBody::Inner(body), criticality));
    }
}

fn spec(path: &str, body: NodeBody, criticality: Criticality) -> NodeSpec {
    NodeSpec {
        path: p(path),
        body,
        criticality,
        filter: FilterSpec::default(),
        origin: None,
    }
}

/// A spec (without filters) from a shape.
pub fn generate(shape: &Shape, checks: Checks) -> Generated {
    let proper = layout("r", &shape.proper);
    let a = layout("sa", &shape.shared_a);
    let b = layout("sb", &shape.shared_b);
    let (mut nodes, mut shared) = (Vec::new(), Vec::new());
    let (mut leaves, mut shared_leaves, mut mounts) = (Vec::new(), Vec::new(), Vec::new());
    let all_shared: Vec<String> = a.paths.iter().chain(&b.paths).cloned().collect();
    namespace_specs(
        &proper,
        &shape.proper,
        &all_shared,
        checks,
        &mut nodes,
        &mut leaves,
        &mut mounts,
    );
    let mut nested = Vec::new();
    namespace_specs(
        &a,
        &shape.shared_a,
        &b.paths,
        checks,
        &mut shared,
        &mut shared_leaves,
        &mut nested,
    );
    namespace_specs(
        &b,
        &shape.shared_b,
        &[],
        checks,
        &mut shared,
        &mut shared_leaves,
        &mut nested,
    );
    // Shared leaves seen through the tree proper's mounts (one level).
    let mut visible = Vec::new();
    for (mount, target) in &mounts {
        for leaf in &shared_leaves {
            if leaf == target {
                visible.push(mount.clone());
            } else if let Some(rest) = leaf.strip_prefix(&format!("{target}.")) {
                visible.push(format!("{mount}.{rest}"));
            }
        }
    }
    let leaves = leaves
        .iter()
        .chain(&shared_leaves)
        .chain(&visible)
        .map(|s| p(s))
        .collect();
    Generated {
        spec: TreeSpec { nodes, shared },
        leaves,
        shared: all_shared.iter().map(|s| p(s)).collect(),
    }
}

/// One step of a generated input sequence.
#[derive(Clone, Debug)]
pub enum Step {
    /// Observe leaf `leaf % leaves.len()` after `dt_ms`.
    Observe {
        leaf: usize,
        what: u8,
        value: f64,
        dt_ms: u16,
    },
    /// Age the tree after `dt_ms`.
    Tick { dt_ms: u16 },
}

pub fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        3 => (any::<usize>(), any::<u8>(), -20.0f64..120.0, 0u16..300)
            .prop_map(|(leaf, what, value, dt_ms)| Step::Observe { leaf, what, value, dt_ms }),
        1 => (0u16..400).prop_map(|dt_ms| Step::Tick { dt_ms }),
    ];
    prop::collection::vec(step, 1..max)
}

/// The observation a step makes. Some are refused by some checks (a value
/// for a status check): that is part of what is tested.
pub fn observation(what: u8, value: f64) -> Observation {
    let state = State::ALL[(value.abs() as usize) % 4];
    match what % 5 {
        0 | 1 => Observation::Value(value),
        2 => Observation::Heartbeat,
        _ if state == State::Unknown => {
            let reasons = [
                UnknownReason::NoData,
                UnknownReason::Stale,
                UnknownReason::Conflicting,
                UnknownReason::Unreachable,
            ];
            Observation::Status {
                state,
                reason: Some(reasons[what as usize % 4]),
            }
        }
        _ => Observation::Status {
            state,
            reason: None,
        },
    }
}

pub fn at(ms: u64) -> Timestamp {
    Timestamp::from_nanos(ms * 1_000_000)
}
