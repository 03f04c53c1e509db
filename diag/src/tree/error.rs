//! Why a tree could not be built, and why an update was refused.

use std::fmt;

use thiserror::Error;

use crate::check::ObservationError;
use crate::path::Path;
use crate::spec::Origin;

/// A [`TreeSpec`](crate::TreeSpec) that cannot be built: every problem found,
/// not just the first, in the order of the nodes' paths.
///
/// Displays one problem per line, `FILE:LINE: PATH: message`.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub struct BuildError {
    /// Every problem, each naming its node and where it was defined.
    pub problems: Vec<BuildProblem>,
}

impl fmt::Display for BuildError {
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

/// One problem of a tree definition.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub struct BuildProblem {
    /// The node at fault, in its namespace (`shared` tells which).
    pub path: Path,
    /// True when `path` is in the shared namespace (`TreeSpec::shared`).
    pub shared: bool,
    /// Where the node was defined. An implied parent has no line of its own:
    /// it borrows the line of the first node that implied it.
    pub origin: Option<Origin>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for BuildProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "{}:{}: ", origin.source, origin.line)?;
        }
        write!(f, "{}: {}", self.path, self.kind)
    }
}

/// What is wrong with a node of a tree definition.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The same path is defined twice in one namespace.
    DuplicatePath {
        /// Where it was defined first.
        first: Option<Origin>,
    },
    /// The node sits below a leaf; a leaf (check) cannot have children.
    UnderLeaf {
        /// The leaf.
        leaf: Path,
    },
    /// The node sits below a mount; a mount's children are those of the
    /// shared subtree it mounts.
    UnderMount {
        /// The mount node.
        mount: Path,
    },
    /// A mount names a shared path that does not exist.
    UnknownMountTarget {
        /// The missing shared path.
        target: Path,
    },
    /// Mounts that contain each other: evaluating the first needs the first.
    MountCycle {
        /// The mounted shared paths in order, the first repeated at the end.
        cycle: Vec<Path>,
        /// The mount nodes that close each step, one per arrow.
        via: Vec<Path>,
    },
    /// The rule cannot hold for this node's children (`vote: 4` of 3).
    InvalidRule {
        /// What is wrong, naming the field.
        message: String,
    },
    /// The check is misconfigured (inverted bands, zero timeout, ...).
    InvalidCheck {
        /// What is wrong, naming the field.
        message: String,
    },
    /// The debounce, flap damping or latch settings cannot work.
    InvalidFilter {
        /// What is wrong, naming the field.
        message: String,
    },
}

fn origin_text(origin: &Option<Origin>) -> String {
    match origin {
        Some(o) => format!("{}:{}", o.source, o.line),
        None => "an earlier entry".to_owned(),
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::DuplicatePath { first } => {
                write!(f, "duplicate path, first defined at {}", origin_text(first))
            }
            ProblemKind::UnderLeaf { leaf } => {
                write!(f, "`{leaf}` is a leaf (a check) and cannot have children")
            }
            ProblemKind::UnderMount { mount } => {
                write!(
                    f,
                    "`{mount}` is a mount and cannot have children of its own"
                )
            }
            ProblemKind::UnknownMountTarget { target } => {
                write!(f, "mount target `{target}` is not a shared path")
            }
            ProblemKind::MountCycle { cycle, via } => {
                f.write_str("mount cycle: ")?;
                for (i, step) in cycle.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" -> ")?;
                    }
                    write!(f, "{step}")?;
                }
                let steps: Vec<String> = via
                    .iter()
                    .zip(cycle.iter().skip(1))
                    .map(|(mount, target)| format!("{mount} mounts {target}"))
                    .collect();
                if !steps.is_empty() {
                    write!(f, " ({})", steps.join(", "))?;
                }
                Ok(())
            }
            ProblemKind::InvalidRule { message } => write!(f, "invalid rule: {message}"),
            ProblemKind::InvalidCheck { message } => write!(f, "invalid check: {message}"),
            ProblemKind::InvalidFilter { message } => write!(f, "invalid filter: {message}"),
        }
    }
}

/// An observation, reset or check installation the tree refused. The tree
/// keeps its last good state.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// No node has this path, visible or shared.
    #[error("no node `{path}` in the tree")]
    UnknownPath {
        /// The path asked for.
        path: Path,
    },
    /// Only leaves take observations and checks.
    #[error("`{path}` is {what}, not a leaf")]
    NotALeaf {
        /// The path asked for.
        path: Path,
        /// What the node is (`an inner node`, `a mount`).
        what: &'static str,
    },
    /// A custom leaf whose check was never installed.
    #[error("`{path}` has no check installed yet (custom check `{name}`)")]
    NoCheck {
        /// The path asked for.
        path: Path,
        /// The custom check's name from the tree definition.
        name: String,
    },
    /// [`Tree::install_check`](crate::Tree::install_check) on a leaf whose
    /// check is built in.
    #[error("`{path}` has a built-in {kind} check; only `custom` leaves take installed checks")]
    NotCustom {
        /// The path asked for.
        path: Path,
        /// The built-in check kind.
        kind: &'static str,
    },
    /// The leaf's check refused the observation.
    #[error("`{path}`: {source}")]
    Refused {
        /// The leaf.
        path: Path,
        /// Why the check refused it.
        source: ObservationError,
    },
}
