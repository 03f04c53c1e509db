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

impl NodeSpec {
    /// A node of standard criticality, unfiltered, defined nowhere in
    /// particular: what a tree built in code needs (set the other fields
    /// with struct update syntax).
    pub fn new(path: Path, body: NodeBody) -> NodeSpec {
        NodeSpec {
            path,
            body,
            criticality: Criticality::Standard,
            filter: FilterSpec::default(),
            origin: None,
        }
    }
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

/// How an inner node combines its children.
///
/// An inner node sees each child's *reported* health (after the child's
/// filter) and combines them with its [`Rule`]. States are compared by the
/// severity order `OK < DEGRADED < UNKNOWN < FAILED`. Three rules hold for
/// every rule below:
///
/// - **No children: UNKNOWN(no_data)**, confidence 0, never OK (an empty or
///   discarded group is not evidence of health).
/// - **UNKNOWN never aggregates to OK**: a result is OK only when OK children
///   alone make it so.
/// - **Monotone**: making any one child worse never makes the result better,
///   and the result does not depend on the order of the children.
///
/// # `worst`
///
/// The worst child, after criticality caps each child's effect:
///
/// | child criticality | child state | counts as |
/// | --- | --- | --- |
/// | `low` | FAILED or UNKNOWN | DEGRADED |
/// | `low` | OK or DEGRADED | itself |
/// | `standard`, `essential`, `critical` | any | itself |
///
/// `essential` and `critical` have no further meaning here yet; they record
/// intent for reconfiguration and behave as `standard`.
///
/// # `vote: k`
///
/// k-of-n voting among redundant children (ArduPilot's 2-of-3 EKF check).
/// Criticality is ignored: redundant units matter equally. Count the
/// children OK (`o`), DEGRADED (`d`) and UNKNOWN (`u`); FAILED make up the
/// rest of `n`. An UNKNOWN child could turn out to be in any state, so the
/// vote is decided only when every possibility gives the same answer:
///
/// | counts | result | decisive children |
/// | --- | --- | --- |
/// | `o ≥ k` | OK | the OK ones |
/// | `o < k ≤ o + d` | DEGRADED | the ones not OK |
/// | `o + d + u < k` (failed > n − k) | FAILED | the FAILED ones |
/// | `o + d < k ≤ o + d + u` | UNKNOWN | see below |
///
/// Row two also covers the case where the UNKNOWN children could still make
/// it OK (`o + u ≥ k`): at worst it is DEGRADED and at best OK, so the vote
/// reports the worse of the two, DEGRADED (UNKNOWN would be honest too, but
/// then an UNKNOWN child turning FAILED could *improve* the vote from
/// UNKNOWN to DEGRADED, breaking monotonicity).
///
/// Row four is the undecidable vote: the UNKNOWN children decide between
/// FAILED and something better. Its reason is `conflicting` when the known
/// children disagree (they are not all in the same state; all children are
/// decisive), otherwise the UNKNOWN children's reason (they are decisive).
///
/// A `k` outside `1..=n` is rejected by [`Tree::build`](crate::Tree::build).
///
/// # `any`
///
/// Redundant paths: OK when any child is OK. Otherwise the best child state,
/// which is then never OK: DEGRADED if any child is DEGRADED, else UNKNOWN if
/// any is UNKNOWN, else FAILED. Criticality is ignored. Decisive: the OK
/// children when OK, otherwise every child (none of them is OK).
///
/// # UNKNOWN reasons
///
/// When a result is UNKNOWN for the UNKNOWN children's sake, its reason is
/// the most telling of theirs, in the order
/// `unreachable > stale > conflicting > no_data` (a lost source says more
/// than a silent one, which says more than a disagreement or missing data).
/// Equal reasons are the same reason, so the pick is order-independent. A
/// child UNKNOWN without a reason counts as `no_data`.
///
/// # Confidence
///
/// A leaf's confidence is 1.0 when its state is determinate and fresh and
/// 0.0 when UNKNOWN. An inner node's confidence is the plain mean of its
/// children's confidences, each child counting once whatever its rule,
/// criticality or subtree size (values outside `[0, 1]` are clamped, NaN
/// counts as 0). So it is 1.0 exactly when every contributing leaf is fresh
/// and determinate, and 0.0 for no children.
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
