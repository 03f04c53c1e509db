//! The live tree: build from a spec, incremental evaluation, mounts,
//! explanations.
//!
//! # Model
//!
//! A [`Tree`] is an arena of nodes addressed by `u32` ids, with the children
//! and parents of every node stored flat. The tree proper and the shared
//! subtrees live in one arena; a mount node has the root of its shared subtree
//! as its only child, so a shared node has one parent per place it is mounted
//! (plus its own shared parent). A shared node is evaluated **once**; its
//! health is visible under every mount path. A *visible path* is a path of
//! the tree proper, or a mount path followed by labels of the mounted subtree
//! (`vehicle.propulsion.engine1.power.voltage` when
//! `vehicle.propulsion.engine1.power` mounts `power.bus_a`).
//!
//! # Health of a node
//!
//! - **Leaf**: the raw state and reason are its check's
//!   [`Verdict`](crate::Verdict); confidence is 1.0 for a determinate state and
//!   0.0 for UNKNOWN. A `custom` leaf whose check is not installed yet is
//!   UNKNOWN(no data).
//! - **Inner node**: its rule aggregates the children's *reported* health
//!   (after their filters); confidence is the rule's (the mean of the
//!   children's confidences), so it is 1.0 exactly when every contributing
//!   leaf is fresh and determinate. An inner node without children is
//!   UNKNOWN(no data), never OK.
//! - **Mount node**: the reported health of the shared subtree it mounts.
//!
//! The node's filter (debounce, flap damping, latch) then turns the raw state
//! into the reported state and gives the trend. The reported reason is the raw
//! reason when the filter reports the raw state; when the filter holds the
//! node UNKNOWN while the raw state is something else, it is the last reason
//! the node was UNKNOWN for. Confidence is always the raw confidence. `since`
//! moves only when the reported state changes.
//!
//! # Incremental evaluation
//!
//! An observation re-evaluates its leaf, then climbs through every parent
//! (every mount of a shared node), in order of height so that a node shared
//! by two changed children is evaluated once, after both. Climbing stops where
//! a node's reported state, reason and confidence did not change. Timers
//! (heartbeat and staleness deadlines, debounce holds, flap decay) sit in a
//! min-heap keyed by each node's next change; [`Tree::tick`] and every other
//! update first re-evaluate the nodes whose deadline has passed, so the tree
//! always answers for the latest `now` it was given.
//!
//! A counter debounce counts *evaluations*: a leaf is evaluated once per
//! observation and when its deadline passes, an inner node whenever a child's
//! reported health changes or its own deadline (a hold, a trend window)
//! passes. [`Tree::reevaluate_all`] evaluates every node once.
//!
//! # Transitions
//!
//! Every change of a node's reported state is a [`Transition`], in the order
//! the nodes were evaluated (children before parents), one per visible path
//! of the node. Its `cause` is what [`Tree::causes`] says, except that a
//! recovery to OK names only the leaves whose own recovery made it OK.
//! Causes are computed only for transitions: an update that changes no state
//! allocates nothing.

mod build;
mod error;
mod eval;
mod explain;
mod mount;
mod timer;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;

use crate::check::{Check, Verdict};
use crate::health::{Health, State, UnknownReason};
use crate::observation::Observation;
use crate::path::Path;
use crate::spec::{Criticality, Rule, TreeSpec};
use crate::time::Timestamp;

use crate::filter::Filter;
use crate::rule::ChildHealth;

pub use error::{BuildError, BuildProblem, ProblemKind, UpdateError};
pub use explain::{Explained, Explanation};
pub use mount::Nodes;

/// Index of a node in the arena.
type NodeId = u32;

/// "No deadline": later than any timestamp a caller can pass.
const NEVER: Timestamp = Timestamp::from_nanos(u64::MAX);

/// A built, live diagnostic tree.
///
/// Built once from a [`TreeSpec`] with [`Tree::build`]; fed with
/// [`Tree::observe`] and aged with [`Tree::tick`]. Every state change comes
/// back as a [`Transition`]. See the module docs for how health is computed.
///
/// ```
/// use vigil_diag::{load_tree_str, Observation, Path, State, Timestamp, Tree};
///
/// let spec = load_tree_str(
///     "nodes:\n  imu.temperature: { check: { threshold: { degraded_above: 60, failed_above: 80 } } }\n  imu.driver: { check: status }\n",
///     "imu.tree.yaml",
/// )
/// .unwrap();
/// let mut tree = Tree::build(&spec).unwrap();
/// let at = Timestamp::from_nanos(1_000_000);
/// let driver = Path::parse("imu.driver").unwrap();
/// tree.observe(&driver, Observation::Status { state: State::Ok, reason: None }, at).unwrap();
/// let temperature = Path::parse("imu.temperature").unwrap();
/// tree.observe(&temperature, Observation::Value(85.0), at).unwrap();
/// let imu = Path::parse("imu").unwrap();
/// assert_eq!(tree.health(&imu).unwrap().state, State::Failed);
/// // Why: the causal chain down to the leaf.
/// let why = tree.explain(&imu, at).unwrap().to_string();
/// assert!(why.contains("imu.temperature"));
/// ```
pub struct Tree {
    nodes: Vec<Node>,
    /// Children of every node, flat; each node's `children` span indexes it.
    /// Sorted by label, so a walk visits paths in order.
    child_ids: Vec<NodeId>,
    /// Parents of every node, flat; each node's `parents` span indexes it.
    parent_ids: Vec<NodeId>,
    /// Tree-proper paths. Keyed by `str` so lookups do not allocate.
    proper: HashMap<Box<str>, NodeId>,
    /// Shared-namespace paths.
    shared: HashMap<Box<str>, NodeId>,
    /// Names of `custom` leaves, the only leaves that take installed checks.
    custom: HashMap<NodeId, String>,
    /// Top-level nodes of the tree proper, in path order.
    roots: Vec<NodeId>,
    /// Every node, children before parents: the order of a full evaluation.
    order: Vec<NodeId>,
    /// Deadlines, earliest first. Lazily deleted: an entry counts only while
    /// it equals its node's `scheduled`.
    timers: BinaryHeap<Reverse<(Timestamp, NodeId)>>,
    scratch: Scratch,
    summary: TreeSummary,
}

/// Buffers reused by every update, so that an update that changes no state
/// allocates nothing.
#[derive(Default)]
struct Scratch {
    /// Nodes to evaluate, lowest first.
    queue: BinaryHeap<Reverse<(u32, NodeId)>>,
    /// Marks nodes already queued in this update (see `Node::mark`).
    epoch: u32,
    /// The children of the node being aggregated.
    kids: Vec<ChildHealth>,
    /// Nodes whose reported state changed in this update, with the old state.
    changed: Vec<(NodeId, State)>,
}

struct Node {
    /// The node's own path: tree-proper or shared namespace.
    path: Path,
    kind: Kind,
    criticality: Criticality,
    shared: bool,
    /// 0 for leaves; otherwise one more than the highest child.
    height: u32,
    children: Span,
    parents: Span,
    filter: Filter,
    /// The state before filtering, for explanations.
    raw: State,
    /// Why the raw state was last UNKNOWN; reported while a filter holds the
    /// node UNKNOWN after the raw state moved on.
    last_unknown: UnknownReason,
    health: Health,
    /// The node's next change without new input (`NEVER`: none).
    deadline: Timestamp,
    /// The time of this node's live entry in `Tree::timers` (`NEVER`: none).
    scheduled: Timestamp,
    /// Equals `Scratch::epoch` while queued in the current update.
    mark: u32,
}

enum Kind {
    Inner(Rule),
    /// `None`: a `custom` leaf waiting for [`Tree::install_check`].
    Leaf(Option<Box<dyn Check>>),
    Mount(NodeId),
}

#[derive(Clone, Copy, Default)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// One change of a node's reported state.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The visible path of the node. A shared node gives one transition per
    /// visible path (one per mount); at a mount path itself the mount node
    /// reports, not the shared root it mounts. A shared node mounted nowhere
    /// is not part of the visible tree and reports none.
    pub path: Path,
    /// The state before.
    pub old: State,
    /// The state now.
    pub new: State,
    /// The node's full health now.
    pub health: Health,
    /// The leaves (visible paths under `path`) that made the new state: those
    /// [`Tree::causes`] gives, except for a recovery to OK, where they are
    /// the leaves whose own recovery in this update made it OK (not every
    /// OK leaf below).
    pub cause: Vec<Path>,
    /// When it changed.
    pub at: Timestamp,
}

/// Counts describing a built tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeSummary {
    /// Visible nodes: what [`Tree::nodes`] yields, each mounted subtree
    /// counted once per mount.
    pub nodes: usize,
    /// Leaves defined (tree proper and shared), each evaluated once.
    pub leaves: usize,
    /// Mount nodes defined (tree proper and shared).
    pub mounts: usize,
    /// Nodes of the shared namespace, implied parents included.
    pub shared_nodes: usize,
    /// Nodes actually stored and evaluated.
    pub evaluated: usize,
}

impl Tree {
    /// Builds and validates a tree, reporting every problem of `spec` at once.
    ///
    /// Parents missing from the spec are implied (rule `worst`, criticality
    /// `standard`), in the tree proper and in the shared namespace alike.
    /// Every node starts UNKNOWN(no data) at [`Timestamp::ZERO`] (or what its
    /// rule makes of that).
    pub fn build(spec: &TreeSpec) -> Result<Tree, BuildError> {
        build::build(spec)
    }

    /// Gives an observation to the leaf at `path` (a visible path, or a path
    /// of the shared namespace) and returns every state change it caused,
    /// bottom-up, after first aging what was due at `now`.
    ///
    /// An unknown path, a non-leaf, a custom leaf without a check, or an
    /// observation the check refuses is an error and changes nothing.
    pub fn observe(
        &mut self,
        path: &Path,
        observation: Observation,
        now: Timestamp,
    ) -> Result<Vec<Transition>, UpdateError> {
        let id = self.leaf_for_update(path)?;
        if let Kind::Leaf(check) = &mut self.nodes[id as usize].kind {
            match check {
                Some(check) => {
                    check
                        .observe(observation, now)
                        .map_err(|source| UpdateError::Refused {
                            path: path.clone(),
                            source,
                        })?
                }
                None => {
                    return Err(UpdateError::NoCheck {
                        path: path.clone(),
                        name: self.custom.get(&id).cloned().unwrap_or_default(),
                    })
                }
            }
        }
        Ok(self.update(now, &[id]))
    }

    /// Re-evaluates every node whose deadline (heartbeat timeout, staleness,
    /// debounce hold, flap decay) is at or before `now`, and what they affect.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Transition> {
        self.update(now, &[])
    }

    /// Clears latches (and other filter memory) of the node at `path` and of
    /// everything below it, mounted subtrees included. A shared node is reset
    /// for every mount, since it is evaluated once.
    pub fn reset(&mut self, path: &Path, now: Timestamp) -> Result<Vec<Transition>, UpdateError> {
        let id = self
            .resolve(path)
            .ok_or_else(|| UpdateError::UnknownPath { path: path.clone() })?;
        let reset = self.reset_below(id, now);
        Ok(self.update(now, &reset))
    }

    /// Installs the user-defined check of a `custom` leaf (a visible or shared
    /// path), replacing any earlier one. It is first evaluated at the next
    /// update of the tree ([`Tree::tick`], [`Tree::observe`], ...).
    pub fn install_check(&mut self, path: &Path, check: Box<dyn Check>) -> Result<(), UpdateError> {
        let id = self.leaf_for_update(path)?;
        if !self.custom.contains_key(&id) {
            let kind = match &self.nodes[id as usize].kind {
                Kind::Leaf(Some(check)) => check.kind(),
                _ => "unknown",
            };
            return Err(UpdateError::NotCustom {
                path: path.clone(),
                kind,
            });
        }
        self.nodes[id as usize].kind = Kind::Leaf(Some(check));
        // Due at once: the next update evaluates it, observed or not.
        self.schedule(id, Timestamp::ZERO);
        Ok(())
    }

    /// The earliest time at which [`Tree::tick`] may change something
    /// without a new observation (a heartbeat deadline, a debounce hold, a
    /// trend window), or `None` when only observations can. Never later than
    /// the real next change, possibly earlier (a tick then finds nothing to
    /// do): an event loop can sleep until it.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Evaluates every node bottom-up from its inputs at `now`, ignoring what
    /// incremental updates concluded, and returns the state changes. Use it
    /// after loading many observations at once; it equals incremental
    /// evaluation for trees without filters.
    pub fn reevaluate_all(&mut self, now: Timestamp) -> Vec<Transition> {
        self.full_update(now)
    }

    /// The health of the node at a visible path or a shared path.
    pub fn health(&self, path: &Path) -> Option<&Health> {
        self.resolve(path).map(|id| &self.nodes[id as usize].health)
    }

    /// Every visible node with its health, in path order: the tree proper
    /// with each mounted subtree expanded under its mount path.
    pub fn nodes(&self) -> Nodes<'_> {
        Nodes::new(self)
    }

    /// The top-level paths of the tree proper, in order.
    pub fn roots(&self) -> impl Iterator<Item = &Path> + '_ {
        self.roots.iter().map(|&id| &self.nodes[id as usize].path)
    }

    /// Counts of the built tree.
    pub fn summary(&self) -> TreeSummary {
        self.summary
    }

    /// The verdict of a leaf's check at `now` (raw, before the filter).
    fn verdict(&self, id: NodeId, now: Timestamp) -> Verdict {
        match &self.nodes[id as usize].kind {
            Kind::Leaf(Some(check)) => check.evaluate(now),
            _ => Verdict {
                state: State::Unknown,
                reason: Some(UnknownReason::NoData),
            },
        }
    }

    /// The leaf at `path` for an observation or a check installation.
    fn leaf_for_update(&self, path: &Path) -> Result<NodeId, UpdateError> {
        let id = self
            .resolve(path)
            .ok_or_else(|| UpdateError::UnknownPath { path: path.clone() })?;
        // A mount of a shared leaf forwards to the leaf: same node, seen here.
        let holder = self.through_mounts(id);
        match (
            &self.nodes[id as usize].kind,
            &self.nodes[holder as usize].kind,
        ) {
            (_, Kind::Leaf(_)) => Ok(holder),
            (Kind::Mount(_), _) => Err(UpdateError::NotALeaf {
                path: path.clone(),
                what: "a mount",
            }),
            _ => Err(UpdateError::NotALeaf {
                path: path.clone(),
                what: "an inner node",
            }),
        }
    }

    fn children(&self, id: NodeId) -> &[NodeId] {
        &self.child_ids[self.nodes[id as usize].children.range()]
    }

    fn parents(&self, id: NodeId) -> &[NodeId] {
        &self.parent_ids[self.nodes[id as usize].parents.range()]
    }
}

impl fmt::Debug for Tree {
    /// A summary, not the nodes: a tree may hold a hundred thousand of them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let roots: Vec<&Path> = self.roots().collect();
        f.debug_struct("Tree")
            .field("roots", &roots)
            .field("summary", &self.summary)
            .field("pending_timers", &self.timers.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod testkit;
