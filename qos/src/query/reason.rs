//! Why a candidate was not selected.

use std::fmt;

use vigil_diag::Path;

use crate::dds_qos::Incompatibility;

/// One reason a candidate does not satisfy a clause.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// A condition reads a capability the candidate does not offer.
    MissingCapability {
        /// The key.
        key: String,
    },
    /// `health('path')` names a node the candidate does not report.
    MissingNode {
        /// The node.
        path: Path,
    },
    /// `path ~ ...` on a candidate without a diagnostic path.
    MissingPath,
    /// A condition is false.
    Failed {
        /// The condition as written (normalized).
        condition: String,
        /// The candidate's values it read (`latency_p99 = 2ms`).
        actual: String,
    },
    /// A condition compares values of different kinds or dimensions
    /// (a custom capability holds a string where a time was expected).
    Incomparable {
        /// The condition.
        condition: String,
        /// The candidate's values it read.
        actual: String,
    },
    /// The offered QoS does not satisfy the requested QoS.
    Qos(Incompatibility),
    /// No clause of the query is about the candidate's topic.
    Topic {
        /// The candidate's topic.
        topic: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MissingCapability { key } => write!(f, "missing capability {key}"),
            Reason::MissingNode { path } => write!(f, "no health reported for node {path}"),
            Reason::MissingPath => f.write_str("no diagnostic path"),
            Reason::Failed { condition, actual } if actual.is_empty() => {
                write!(f, "{condition} is false")
            }
            Reason::Failed { condition, actual } => write!(f, "{condition} is false ({actual})"),
            Reason::Incomparable { condition, actual } => {
                write!(
                    f,
                    "{condition} cannot be evaluated: different kinds of value ({actual})"
                )
            }
            Reason::Qos(i) => i.fmt(f),
            Reason::Topic { topic } => write!(f, "topic {topic} is not in the query"),
        }
    }
}

/// A reason, and the clause it is about (`None` when about none of them).
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// 0-based clause index.
    pub clause: Option<usize>,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason.fmt(f)
    }
}
