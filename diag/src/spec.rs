//! The definition of a tree as plain data: what a tree file says, before it
//! is built into a live [`Tree`](crate::Tree).
//!
//! Loaders (the YAML tree file, the ROS 2 aggregator import) produce a
//! [`TreeSpec`]; [`Tree::build`](crate::Tree::build) validates it as a whole
//! (mount targets, mount cycles, rules that cannot hold) and reports every
//! problem with the [`Origin`] of the node that caused it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::path::Path;

/// A whole tree definition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TreeSpec {
    /// The tree proper. Inner nodes missing from this list are implied by
    /// their descendants' paths, with rule [`Rule::Worst`] and criticality
    /// [`Criticality::Standard`].
    pub nodes: Vec<NodeSpec>,
    /// Shared subtrees, defined once and attached under any number of nodes
    /// with [`NodeBody::Mount`]. Their paths live in a namespace of their own:
    /// `power.bus_a` here is not a node of the tree proper.
    pub shared: Vec<NodeSpec>,
}

/// One node of a [`TreeSpec`].
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSpec {
    /// Where the node sits.
    pub path: Path,
    /// What the node is.
    pub body: NodeBody,
    /// How much its state matters to its parent's worst-of rule.
    pub criticality: Criticality,
    /// Debounce, flap damping and latching applied to the node's state.
    pub filter: FilterSpec,
    /// Where the node was defined, for error messages.
    pub origin: Option<Origin>,
}

/// Where a node was defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file (or other source) name, as given to the loader.
    pub source: String,
    /// 1-based line.
    pub line: u32,
}

/// What a node is.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeBody {
    /// An inner node combining its children with a rule.
    Inner(Rule),
    /// A leaf holding a check.
    Leaf(CheckSpec),
    /// This node *is* the shared subtree rooted at the given shared path: its
    /// health is that subtree's health and its descendants appear under it.
    Mount(Path),
}

/// How an inner node combines its children. Exact semantics are documented
/// on the aggregation module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Worst child, adjusted by criticality.
    Worst,
    /// k-of-n vote among redundant children.
    Vote {
        /// How many children must be OK.
        k: usize,
    },
    /// OK when any child is OK (redundant paths).
    Any,
}

/// How much a child's state matters to a parent that takes the worst.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    /// Least important: a FAILED `low` child leaves its parent DEGRADED.
    Low,
    /// The default.
    #[default]
    Standard,
    /// Needed for the parent to do its job.
    Essential,
    /// Needed for the parent to be safe.
    Critical,
}

/// The check a leaf runs.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckSpec {
    /// UNKNOWN(stale) when nothing arrived for `timeout`.
    Heartbeat {
        /// Longest allowed silence.
        timeout: Duration,
    },
    /// A value compared with degraded and failed bands above and/or below.
    Threshold {
        /// DEGRADED when the value is above this.
        degraded_above: Option<f64>,
        /// FAILED when the value is above this.
        failed_above: Option<f64>,
        /// DEGRADED when the value is below this.
        degraded_below: Option<f64>,
        /// FAILED when the value is below this.
        failed_below: Option<f64>,
        /// UNKNOWN(stale) when no value arrived for this long, if set.
        stale_after: Option<Duration>,
    },
    /// OK inside `ok`, DEGRADED inside `degraded`, FAILED outside both.
    Range {
        /// Inclusive OK range.
        ok: (f64, f64),
        /// Inclusive DEGRADED range; contains `ok` when set.
        degraded: Option<(f64, f64)>,
        /// UNKNOWN(stale) when no value arrived for this long, if set.
        stale_after: Option<Duration>,
    },
    /// Observed event rate over a sliding window compared with a minimum.
    Rate {
        /// Below this rate the leaf is DEGRADED.
        min_hz: f64,
        /// Below this rate the leaf is FAILED, if set.
        failed_below_hz: Option<f64>,
        /// The sliding window.
        window: Duration,
    },
    /// A state reported from outside (a ROS 2 DiagnosticStatus level).
    Status {
        /// UNKNOWN(stale) when no report arrived for this long, if set.
        stale_after: Option<Duration>,
    },
    /// A user-defined check, installed by name on the built tree.
    Custom {
        /// The name the application registered.
        name: String,
    },
}

/// Optional per-node filtering of state changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterSpec {
    /// Delays improvements (degradations are always reported at once).
    pub debounce: Option<Debounce>,
    /// Holds an oscillating node instead of toggling it.
    pub flap: Option<FlapDamping>,
    /// Keeps FAILED until an explicit reset.
    pub latch: bool,
}

/// How improvements are debounced.
#[derive(Clone, Debug, PartialEq)]
pub enum Debounce {
    /// Leaky counter: +1 per bad evaluation, −1 per good one, bounded by
    /// `limit`; the node goes bad once the counter reaches `trip` and clears
    /// only when it drains to 0.
    Counter {
        /// Bad evaluations before the node trips (1: at once).
        trip: u32,
        /// Upper bound of the counter: good evaluations needed to clear
        /// after a long bad spell.
        limit: u32,
    },
    /// An improvement is reported only after it has held this long.
    Hold(Duration),
}

/// Flap damping after BGP route-flap damping (RFC 2439).
#[derive(Clone, Debug, PartialEq)]
pub struct FlapDamping {
    /// Penalty added per state change.
    pub penalty: f64,
    /// The penalty halves every `half_life`.
    pub half_life: Duration,
    /// Above this penalty the node is suppressed: it holds its worst recent
    /// state and reports trend `intermittent`.
    pub suppress: f64,
    /// Below this penalty a suppressed node is released.
    pub reuse: f64,
}

impl Default for FlapDamping {
    /// Three changes in quick succession suppress; about two half-lives of
    /// calm release.
    fn default() -> Self {
        FlapDamping {
            penalty: 1.0,
            half_life: Duration::from_secs(5),
            suppress: 2.5,
            reuse: 0.75,
        }
    }
}
