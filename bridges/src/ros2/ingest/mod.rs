//! ROS 2 `diagnostic_aggregator` analyzers as a vigil tree, and incoming
//! `/diagnostics` statuses routed to its leaves.
//!
//! # The import
//!
//! [`Analyzers::from_yaml`] reads a ROS 2 parameter file as users write
//! them for the aggregator (`analyzers: ros__parameters: { path: Base,
//! sensors: { type: diagnostic_aggregator/AnalyzerGroup, ... } }`) and
//! reports every problem with its line. Analyzer types:
//! `diagnostic_aggregator/GenericAnalyzer` (parameters `path`,
//! `startswith`, `contains`, `name`, `expected`, `regex`, `remove_prefix`,
//! `find_and_remove_prefix`, `num_items`, `timeout`, `discard_stale`) and
//! `diagnostic_aggregator/AnalyzerGroup` (`path`, `analyzers`).
//!
//! [`Analyzers::tree_spec`] is the tree it corresponds to:
//!
//! - the top-level `path` (the aggregator's base path), each group and each
//!   analyzer is an inner node (worst of its children); a `path` with `/`
//!   gives one level per segment;
//! - each `expected` item is a `status` leaf under its analyzer with
//!   `stale_after` = the analyzer's `timeout` (default 5 s, as in ROS 2; 0
//!   or less: never stale). A leaf nobody reported on stays
//!   UNKNOWN(no_data), so a missing expected item is never OK;
//! - an analyzer with no expected item has no leaf at first, and an inner
//!   node without children is UNKNOWN(no_data): an empty group does not
//!   roll up as OK (the complaint of diagnostics PR #315).
//!
//! # Items nobody expected
//!
//! A built [`Tree`](vigil_diag::Tree) has fixed leaves, and a status that
//! matches an analyzer without being `expected` (most of them: `startswith`,
//! `contains`) needs one. [`Analyzers::route`] gives every status its own
//! leaf path, `<analyzer>.<item>`, and [`Analyzers::extend`] adds that leaf
//! (a `status` leaf with the analyzer's timeout) to a spec; the agent
//! extends and rebuilds its tree the first time an item reports, which is
//! what ROS users asked of the aggregator (#31, #313: analyzers that
//! cannot grow at run time). A single catch-all leaf per analyzer would
//! have been simpler and wrong: a `status` leaf holds the last report, so
//! one item's OK would hide another's ERROR.
//!
//! # Names
//!
//! Labels come from ROS names through [`sanitize_label`]: lower case,
//! every run of characters outside `[a-z0-9_]` (after lower-casing ASCII)
//! becomes `_`, runs of `_` collapse, `_` is trimmed at both ends, and a
//! name with nothing left is `unnamed`. So `Forearm Cam (Left)` is
//! `forearm_cam_left` and `/imu_node: IMU` is `imu_node_imu`. An item's
//! name is first shortened as the aggregator does: `remove_prefix` and
//! `find_and_remove_prefix` strip a leading prefix (and then a `:` and
//! spaces), `/` becomes a space. Two different ROS paths that sanitize to
//! the same vigil path are an import problem.
//!
//! # Deviations from the aggregator
//!
//! - `discard_stale` is read and not applied: vigil reports a stale item
//!   as UNKNOWN(stale), and UNKNOWN never aggregates to OK (DESIGN.md). The
//!   printed tree file says so in a comment.
//! - `num_items` is read and kept ([`Mapping::note`]); the tree cannot
//!   count items it has not seen, so it is not enforced yet.
//! - A status whose name matches no analyzer goes to the aggregator's
//!   `Other` group ([`Analyzers::route_other`]): a root of its own,
//!   `other` (`unanalyzed` if the file already has a root `other`), one
//!   `status` leaf per item, stale after 5 s. The printed tree file does
//!   not list it: it has no item until one arrives.
//! - A worst-of parent ranks FAILED above UNKNOWN: one stale item makes its
//!   parents UNKNOWN, not ERROR (diagnostics #297, #658).

use std::collections::HashMap;
use std::time::Duration;

use regex::{Regex, RegexBuilder};
use thiserror::Error;
use vigil_diag::{CheckSpec, NodeBody, NodeSpec, Observation, Origin, Path, Rule, State, TreeSpec};

use super::msgs::DiagnosticStatus;

mod parse;
mod render;

#[cfg(test)]
mod tests;

/// The root of the aggregator's `Other` group.
const OTHER: &str = "other";
/// Its name when the file already has a root `other`.
const OTHER_FALLBACK: &str = "unanalyzed";
/// How long an `Other` item stays fresh (the aggregator's default).
const OTHER_TIMEOUT: Duration = Duration::from_secs(5);

/// The analyzers of one aggregator parameter file.
#[derive(Clone, Debug)]
pub struct Analyzers {
    source: String,
    /// Inner nodes and expected leaves, in file order, each path once.
    nodes: Vec<Entry>,
    /// Generic analyzers, in file order.
    analyzers: Vec<Analyzer>,
    /// Analyzer path → index in `analyzers`, for [`Analyzers::extend`].
    by_path: HashMap<Path, usize>,
    pub_rate: Option<f64>,
}

/// One node of the imported tree and where it came from.
#[derive(Clone, Debug)]
struct Entry {
    mapping: Mapping,
    line: u32,
    /// `Some` for a leaf: its staleness.
    leaf: Option<Option<Duration>>,
}

/// One GenericAnalyzer.
#[derive(Clone, Debug)]
struct Analyzer {
    path: Path,
    ros_path: String,
    line: u32,
    startswith: Vec<String>,
    contains: Vec<String>,
    name: Vec<String>,
    expected: Vec<String>,
    regex: Vec<Regex>,
    /// Prefixes stripped from output names (`remove_prefix` and
    /// `find_and_remove_prefix`).
    chaff: Vec<String>,
    timeout: Option<Duration>,
}

/// How a ROS aggregator path became a vigil path.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mapping {
    /// The name the aggregator publishes on `/diagnostics_agg`
    /// (`/Sensors/Base Hokuyo`).
    pub ros_path: String,
    /// The vigil path (`sensors.base_hokuyo`).
    pub path: Path,
    /// What the node is.
    pub kind: MappingKind,
    /// What the file said about it that the tree does not show
    /// (matching rules, `num_items`, `discard_stale`), for comments.
    pub note: String,
}

/// What an imported node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MappingKind {
    /// The aggregator's base `path`, or one level of a multi-level path.
    Base,
    /// An AnalyzerGroup.
    Group,
    /// A GenericAnalyzer.
    Analyzer,
    /// An `expected` item: a leaf.
    Expected,
}

impl MappingKind {
    /// `base`, `group`, `analyzer` or `expected`.
    pub fn as_str(self) -> &'static str {
        match self {
            MappingKind::Base => "base",
            MappingKind::Group => "group",
            MappingKind::Analyzer => "analyzer",
            MappingKind::Expected => "expected",
        }
    }
}

/// Every problem found in an analyzer file.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub struct ImportError {
    /// The problems, in file order.
    pub problems: Vec<ImportProblem>,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// One problem: where and what. Displays as `FILE:LINE: KEY: message`.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("{file}:{line}: {key}: {kind}")]
#[non_exhaustive]
pub struct ImportProblem {
    /// The source name given to the importer.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// The parameter key path (`analyzers.sensors.base_hk`), or `file`.
    pub key: String,
    /// What is wrong.
    pub kind: ImportProblemKind,
}

/// What is wrong in an analyzer file.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ImportProblemKind {
    /// Not YAML.
    #[error("not valid YAML: {0}")]
    Syntax(String),
    /// Not shaped like a ROS 2 parameter file for the aggregator.
    #[error("{0}")]
    Shape(String),
    /// An analyzer `type` vigil does not know.
    #[error("unknown analyzer type `{0}`; expected diagnostic_aggregator/GenericAnalyzer or diagnostic_aggregator/AnalyzerGroup")]
    UnknownType(String),
    /// A parameter the analyzer type does not have.
    #[error("unknown parameter `{key}` for a {of}{}", .suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The analyzer type.
        of: &'static str,
        /// The known key it most resembles.
        suggestion: Option<&'static str>,
    },
    /// A required parameter is absent.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// A value of the wrong shape.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The parameter.
        key: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: String,
    },
    /// A `regex` that does not compile.
    #[error("bad regex `{pattern}`: {why}")]
    BadRegex {
        /// The pattern as written.
        pattern: String,
        /// The regex crate's message, first line.
        why: String,
    },
    /// A GenericAnalyzer with nothing to match statuses by.
    #[error("matches nothing: give at least one of startswith, contains, name, expected, regex or find_and_remove_prefix")]
    MatchesNothing,
    /// Two different ROS paths that give one vigil path.
    #[error("`{ros_path}` maps to `{path}`, as does `{other}` (line {other_line})")]
    Collision {
        /// This node's ROS path.
        ros_path: String,
        /// The vigil path.
        path: String,
        /// The other ROS path.
        other: String,
        /// Where the other was defined.
        other_line: u32,
    },
    /// The resulting tree does not build (reported by vigil-diag).
    #[error("{0}")]
    Tree(String),
}

/// A status that cannot be routed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RouteError {
    /// A level outside OK=0, WARN=1, ERROR=2, STALE=3.
    #[error(
        "status `{name}` has level {level}, not one of 0 (OK), 1 (WARN), 2 (ERROR), 3 (STALE)"
    )]
    BadLevel {
        /// The status name.
        name: String,
        /// The level received.
        level: u8,
    },
}

/// A ROS name as a path label: see the module docs, "Names".
pub fn sanitize_label(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let keep = c.is_ascii_lowercase() || c.is_ascii_digit();
        if keep {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("unnamed");
    }
    out
}

impl Analyzers {
    /// Reads an aggregator parameter file. `source` names it in messages
    /// and origins. Every problem is reported, each with its line.
    pub fn from_yaml(text: &str, source: &str) -> Result<Analyzers, ImportError> {
        parse::read(text, source)
    }

    /// The vigil tree the analyzers correspond to (see the module docs).
    pub fn tree_spec(&self) -> TreeSpec {
        let nodes = self
            .nodes
            .iter()
            .map(|entry| {
                let body = match entry.leaf {
                    Some(stale_after) => NodeBody::Leaf(CheckSpec::Status { stale_after }),
                    None => NodeBody::Inner(Rule::Worst),
                };
                self.node(entry.mapping.path.clone(), body, entry.line)
            })
            .collect();
        TreeSpec {
            nodes,
            shared: Vec::new(),
        }
    }

    fn node(&self, path: Path, body: NodeBody, line: u32) -> NodeSpec {
        NodeSpec {
            origin: Some(Origin {
                source: self.source.clone(),
                line,
            }),
            ..NodeSpec::new(path, body)
        }
    }

    /// How each ROS path became a vigil path, in file order.
    pub fn mappings(&self) -> impl Iterator<Item = &Mapping> + '_ {
        self.nodes.iter().map(|e| &e.mapping)
    }

    /// The number of leaves of [`Analyzers::tree_spec`].
    pub fn leaves(&self) -> usize {
        self.nodes.iter().filter(|e| e.leaf.is_some()).count()
    }

    /// The file's `pub_rate` (Hz), if it set one.
    pub fn pub_rate(&self) -> Option<f64> {
        self.pub_rate
    }

    /// The leaves `status` reports to: one per GenericAnalyzer whose rules
    /// match its name (as in the aggregator, a status may match several),
    /// each with the observation to give it. Empty when no analyzer
    /// matches. The leaf may not be in the tree yet: see
    /// [`Analyzers::extend`].
    pub fn route(&self, status: &DiagnosticStatus) -> Result<Vec<(Path, Observation)>, RouteError> {
        let (state, reason) =
            State::from_ros_level(status.level).ok_or_else(|| RouteError::BadLevel {
                name: status.name.clone(),
                level: status.level,
            })?;
        let observation = Observation::Status { state, reason };
        let mut out: Vec<(Path, Observation)> = Vec::new();
        for analyzer in self.analyzers.iter().filter(|a| a.matches(&status.name)) {
            let path = analyzer.item_path(&status.name);
            if !out.iter().any(|(p, _)| *p == path) {
                out.push((path, observation));
            }
        }
        Ok(out)
    }

    /// The leaf of a status no analyzer matches, in the aggregator's
    /// `Other` group (see the module docs), with its observation.
    pub fn route_other(
        &self,
        status: &DiagnosticStatus,
    ) -> Result<(Path, Observation), RouteError> {
        let (state, reason) =
            State::from_ros_level(status.level).ok_or_else(|| RouteError::BadLevel {
                name: status.name.clone(),
                level: status.level,
            })?;
        let other = self.other_root();
        let label = sanitize_label(&status.name.replace('/', " "));
        let path = other.child(&label).unwrap_or(other);
        Ok((path, Observation::Status { state, reason }))
    }

    /// The root of the `Other` group.
    fn other_root(&self) -> Path {
        let taken = |name: &str| self.nodes.iter().any(|e| e.mapping.path.as_str() == name);
        let name = if taken(OTHER) { OTHER_FALLBACK } else { OTHER };
        // Both names are valid labels.
        Path::parse(name).unwrap_or_else(|_| self.analyzers[0].path.clone())
    }

    /// Adds the `status` leaf for a path [`Analyzers::route`] or
    /// [`Analyzers::route_other`] gave, with its analyzer's timeout (the
    /// aggregator's 5 s default for `Other`). `false` when `spec` already
    /// has a node there or the path is not an item.
    pub fn extend(&self, spec: &mut TreeSpec, path: &Path) -> bool {
        if spec.nodes.iter().any(|n| n.path == *path) {
            return false;
        }
        let parent = path.parent();
        let (stale_after, line) = match parent.as_ref().and_then(|p| self.by_path.get(p)) {
            Some(&index) => (self.analyzers[index].timeout, self.analyzers[index].line),
            None if parent.as_ref() == Some(&self.other_root()) => (Some(OTHER_TIMEOUT), 1),
            None => return false,
        };
        let body = NodeBody::Leaf(CheckSpec::Status { stale_after });
        spec.nodes.push(self.node(path.clone(), body, line));
        true
    }

    /// The tree file (vigil's YAML format) of [`Analyzers::tree_spec`],
    /// with a comment per node naming its ROS path.
    pub fn tree_file(&self) -> String {
        render::tree_file(self)
    }
}

/// Compiled size cap for one `regex`: a parameter file is outside input.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// std::regex_match semantics: the whole name must match.
pub(super) fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let line = text
                .lines()
                .rev()
                .find(|l| l.starts_with("error:"))
                .or(text.lines().next());
            line.unwrap_or("invalid")
                .trim_start_matches("error: ")
                .to_owned()
        })
}

impl Analyzer {
    /// The aggregator's GenericAnalyzer::match, in its order.
    fn matches(&self, name: &str) -> bool {
        self.regex.iter().any(|r| r.is_match(name))
            || self.name.iter().any(|n| n == name)
            || self.startswith.iter().any(|s| name.starts_with(s.as_str()))
            || self.contains.iter().any(|c| name.contains(c.as_str()))
            || self.expected.iter().any(|e| e == name)
    }

    /// The item's name as the aggregator shows it under the analyzer.
    fn output_name(&self, name: &str) -> String {
        let mut out = name;
        for chaff in &self.chaff {
            let bare = out.strip_prefix('/').unwrap_or(out);
            if let Some(rest) = bare.strip_prefix(chaff.as_str()) {
                out = rest.strip_prefix(':').unwrap_or(rest).trim_start();
                break;
            }
        }
        out.replace('/', " ")
    }

    fn item_path(&self, name: &str) -> Path {
        let label = sanitize_label(&self.output_name(name));
        // A sanitized label is always valid; the fallback keeps the
        // analyzer itself rather than panicking if that ever changed.
        self.path
            .child(&label)
            .unwrap_or_else(|_| self.path.clone())
    }
}
