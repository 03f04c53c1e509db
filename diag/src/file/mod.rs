//! Tree files: YAML, as ROS users write them, loaded into a [`TreeSpec`]
//! with every problem reported.
//!
//! ```yaml
//! nodes:
//!   vehicle.sensors.imu: { rule: { vote: 2 }, criticality: critical }
//!   vehicle.sensors.imu.a: { check: { heartbeat: { timeout: 100ms } } }
//!   vehicle.sensors.imu.b: { check: { threshold: { degraded_above: 60, failed_above: 80 } } }
//!   vehicle.sensors.imu.c: { check: status }
//!   vehicle.propulsion.engine1.power: { mount: power.bus_a }
//! shared:
//!   power.bus_a.voltage: { check: { range: { ok: [26, 30], degraded: [24, 32] } } }
//! ```
//!
//! Each node is keyed by its path and is exactly one of: a leaf (`check`),
//! an inner node (`rule`, or nothing: `worst` is the default), or a mount
//! (`mount: SHARED.PATH`). Any node may add `criticality`, `debounce`,
//! `flap` and `latch`. Inner nodes that no entry names are implied by
//! their descendants.
//!
//! This module only reads one file's text: checks that need the whole tree
//! (mount targets and cycles, a vote larger than its children) belong to
//! [`Tree::build`](crate::Tree::build), which reports them the same way.

use std::fmt;

use thiserror::Error;

use crate::config::{did_you_mean, shorten, Document, Node, ProblemKind};
use crate::path::{Path, PathError};
use crate::spec::{NodeSpec, Origin, TreeSpec};

mod check;
mod node;

#[cfg(test)]
mod tests;

/// Every problem found in one tree file.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub struct LoadError {
    /// The problems, in file order.
    pub problems: Vec<LoadProblem>,
}

/// One problem in a tree file: where it is and what is wrong.
///
/// Displays as `FILE:LINE: PATH: message`.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("{file}:{line}: {path}: {kind}")]
#[non_exhaustive]
pub struct LoadProblem {
    /// The source name given to the loader.
    pub file: String,
    /// 1-based line of the offending YAML.
    pub line: u32,
    /// The node path as written, or the section (`nodes`, `shared`, `file`)
    /// for problems outside any node.
    pub path: String,
    /// What is wrong.
    pub kind: LoadProblemKind,
}

impl LoadProblem {
    /// Whether this only warns (a deprecated spelling): the file still
    /// loads.
    pub fn is_warning(&self) -> bool {
        matches!(self.kind, LoadProblemKind::Deprecated { .. })
    }
}

/// What is wrong in a tree file.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum LoadProblemKind {
    /// The text is not YAML.
    #[error("not valid YAML: {0}")]
    Syntax(String),
    /// The file holds no document, or more than one.
    #[error("{0}")]
    Document(&'static str),
    /// A key the format does not have.
    #[error("unknown key `{key}`{}; expected {expected}", suggest(.suggestion))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The keys allowed here.
        expected: &'static str,
        /// The allowed key it most resembles.
        suggestion: Option<&'static str>,
    },
    /// A name (rule, criticality, check kind) the format does not have.
    #[error("unknown {what} `{name}`{}; expected {expected}", suggest(.suggestion))]
    UnknownName {
        /// What kind of name.
        what: &'static str,
        /// The name as written.
        name: String,
        /// The names allowed here.
        expected: &'static str,
        /// The allowed name it most resembles.
        suggestion: Option<&'static str>,
    },
    /// A value of the wrong shape.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The key whose value is wrong.
        key: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: String,
    },
    /// A required key is absent.
    #[error("{what} needs `{key}`, e.g. `{example}`")]
    Missing {
        /// What lacks it.
        what: &'static str,
        /// The missing key.
        key: &'static str,
        /// How to write it.
        example: &'static str,
    },
    /// A node or mount target path that is not a valid path.
    #[error("invalid path: {0}")]
    BadPath(PathError),
    /// A duration without a unit, with an unknown unit, or unreadable.
    #[error("`{key}: {text}`: {why}")]
    BadDuration {
        /// The key.
        key: String,
        /// The value as written.
        text: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Keys that cannot go together.
    #[error("{0}")]
    Conflict(String),
    /// An older spelling that still reads, with the one to write now. A
    /// warning: it does not fail a load (see [`LoadProblem::is_warning`]).
    #[error("`{old}` is deprecated; write `{new}`")]
    Deprecated {
        /// The key as written.
        old: &'static str,
        /// What to write instead, with an example value.
        new: &'static str,
    },
    /// A value of the right shape that makes no sense (reversed bounds,
    /// zero votes, ...).
    #[error("{0}")]
    Invalid(String),
}

/// What the shared reader finds by itself (syntax, document count,
/// duplicate keys), worded as it words it.
impl From<ProblemKind> for LoadProblemKind {
    fn from(kind: ProblemKind) -> Self {
        match kind {
            ProblemKind::Syntax(why) => LoadProblemKind::Syntax(why),
            other => LoadProblemKind::Invalid(other.to_string()),
        }
    }
}

fn suggest(suggestion: &Option<&'static str>) -> String {
    suggestion
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while a file is walked, so that one bad node does not
/// hide the next.
#[derive(Debug)]
pub(super) struct Problems<'s> {
    file: &'s str,
    list: Vec<LoadProblem>,
}

impl Problems<'_> {
    pub(super) fn push(&mut self, node: &Node<'_>, path: &str, kind: LoadProblemKind) {
        self.push_at(node.line(), path, kind);
    }

    fn push_at(&mut self, line: u32, path: &str, kind: LoadProblemKind) {
        self.list.push(LoadProblem {
            file: self.file.to_owned(),
            line,
            path: shorten(path).into_owned(),
            kind,
        });
    }
}

const TOP_KEYS: &[&str] = &["nodes", "shared"];

/// Loads a tree file's text. `source` names the file in messages and in
/// each node's [`Origin`].
///
/// Every problem is reported, not only the first; a YAML syntax error is
/// the one exception, since nothing after it can be trusted.
pub fn load_tree_str(text: &str, source: &str) -> Result<TreeSpec, LoadError> {
    let (spec, problems) = load_tree_partial(text, source);
    // Warnings (deprecated spellings) do not fail a load; `vigil tree
    // check` prints them.
    if problems.iter().all(LoadProblem::is_warning) {
        Ok(spec)
    } else {
        Err(LoadError { problems })
    }
}

/// Like [`load_tree_str`], but also returns a spec when there are problems:
/// every node with a valid path, those whose entry had problems with a
/// stand-in body (a `status` leaf if it named a `check`, else an inner
/// node). For tools that go on checking a broken file with
/// [`Tree::build`](crate::Tree::build) to report its problems too; such a
/// spec must never be used to run a tree.
pub fn load_tree_partial(text: &str, source: &str) -> (TreeSpec, Vec<LoadProblem>) {
    let mut problems = Problems {
        file: source,
        list: Vec::new(),
    };
    let doc = Document::parse(text, source);
    let spec = match doc.root("a tree file") {
        Some(root) => read_document(&root, source, &mut problems),
        None => TreeSpec::default(),
    };
    // What the reader found itself: syntax, document count, duplicate keys.
    for p in doc.into_problems() {
        problems.push_at(p.line, &p.key, p.kind.into());
    }
    // Stable: problems on one line keep the order they were found in.
    problems.list.sort_by_key(|p| p.line);
    (spec, problems.list)
}

fn read_document(document: &Node<'_>, source: &str, problems: &mut Problems<'_>) -> TreeSpec {
    let mut spec = TreeSpec::default();
    let Some(top) = entries(document) else {
        let found = document.describe();
        problems.push(
            document,
            "file",
            LoadProblemKind::WrongType {
                key: "the file".into(),
                expected: "a mapping with `nodes`",
                found,
            },
        );
        return spec;
    };
    let mut saw_nodes = false;
    for (key, value) in top {
        let (key, value) = (&key, &value);
        match key.text().unwrap_or("") {
            "nodes" => {
                saw_nodes = true;
                let empty = value.is_null() || value.is_empty_map();
                if empty {
                    let why = "`nodes` is empty: a tree needs at least one node";
                    problems.push(key, "nodes", LoadProblemKind::Invalid(why.into()));
                } else {
                    spec.nodes = read_section(key, value, "nodes", source, problems);
                }
            }
            "shared" => spec.shared = read_section(key, value, "shared", source, problems),
            other => problems.push(
                key,
                "file",
                unknown_key(other, TOP_KEYS, "`nodes` or `shared`"),
            ),
        }
    }
    if !saw_nodes && problems.list.is_empty() {
        problems.push(
            document,
            "file",
            LoadProblemKind::Missing {
                what: "a tree file",
                key: "nodes",
                example: "nodes: { vehicle.imu: { check: status } }",
            },
        );
    }
    spec
}

fn read_section(
    key: &Node<'_>,
    value: &Node<'_>,
    section: &'static str,
    source: &str,
    problems: &mut Problems<'_>,
) -> Vec<NodeSpec> {
    if value.is_null() {
        return Vec::new();
    }
    let Some(entries) = entries(value) else {
        let found = value.describe();
        problems.push(
            key,
            section,
            LoadProblemKind::WrongType {
                key: section.into(),
                expected: "a mapping from paths to nodes",
                found,
            },
        );
        return Vec::new();
    };
    let mut nodes = Vec::new();
    for (path_node, body) in entries {
        let (path_node, body) = (&path_node, &body);
        let Some(text) = path_node.text() else {
            let found = path_node.describe();
            problems.push(
                path_node,
                section,
                LoadProblemKind::WrongType {
                    key: "a node key".into(),
                    expected: "a dotted path",
                    found,
                },
            );
            continue;
        };
        let path = Path::parse(text);
        if let Err(error) = &path {
            problems.push(path_node, text, LoadProblemKind::BadPath(error.clone()));
        }
        // Read the body even under a bad path, to report its problems too.
        let parts = node::read_body(body, text, problems);
        let Ok(path) = path else { continue };
        // A node whose entry had problems stays in the (partial) spec with a
        // stand-in body, so that whole-tree checks still see the tree's
        // shape: a vote still counts all its children.
        let (body, criticality, filter) = parts.unwrap_or_else(|| node::stand_in(body));
        let origin = Origin {
            source: source.to_owned(),
            line: path_node.line(),
        };
        nodes.push(NodeSpec {
            path,
            body,
            criticality,
            filter,
            origin: Some(origin),
        });
    }
    nodes
}

/// An [`LoadProblemKind::UnknownKey`] with a suggestion among `allowed`.
pub(super) fn unknown_key(
    key: &str,
    allowed: &[&'static str],
    expected: &'static str,
) -> LoadProblemKind {
    LoadProblemKind::UnknownKey {
        key: shorten(key).into_owned(),
        expected,
        suggestion: did_you_mean(key, allowed),
    }
}

/// The entries of a mapping in file order, `None` if it is not one. Keys
/// are open here (node paths), so none is reported unknown; duplicates are.
pub(super) fn entries<'d>(node: &Node<'d>) -> Option<std::vec::IntoIter<(Node<'d>, Node<'d>)>> {
    let mut map = node.is_map().then(|| node.map())??;
    Some(map.rest().into_iter())
}
