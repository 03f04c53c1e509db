//! Why a received advert or heartbeat was rejected: every bad field, named
//! by its path in the wire struct.

use std::time::Duration;

use thiserror::Error;
use vigil_diag::{Path, PathError, State};
use vigil_qos::DecodeError;

/// Why a received advert or heartbeat was rejected.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum AdvertError {
    /// The sender writes a wire version this build does not read; nothing
    /// else of the message is trusted.
    #[error("{what}: unsupported wire version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Which message (`advert imu_a/imu`, `heartbeat imu_a`).
        what: String,
        /// The version received.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// One or more fields are invalid; every problem found is listed.
    #[error("{what}: {}", join(problems))]
    Invalid {
        /// Which message.
        what: String,
        /// Every problem, in field order.
        problems: Vec<FieldProblem>,
    },
}

impl AdvertError {
    /// The problems of an [`AdvertError::Invalid`]; empty otherwise.
    pub fn problems(&self) -> &[FieldProblem] {
        match self {
            AdvertError::Invalid { problems, .. } => problems,
            AdvertError::UnsupportedVersion { .. } => &[],
        }
    }
}

fn join(problems: &[FieldProblem]) -> String {
    let parts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// One bad field of a received message.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("{field}: {kind}")]
pub struct FieldProblem {
    /// The field, as a path into the wire struct (`health.nodes[3].path`).
    pub field: String,
    /// What is wrong with it.
    pub kind: ProblemKind,
}

/// What is wrong with a field.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A required text is empty.
    #[error("must not be empty")]
    Empty,
    /// A text is longer than allowed.
    #[error("{len} bytes is longer than the {max} allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text holds a control character (ids are printed by `vigil monitor`).
    #[error("contains a control character")]
    ControlCharacter,
    /// An enum code this version does not know.
    #[error("unknown code {code} (expected {expected})")]
    BadCode {
        /// The code received.
        code: u8,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// Confidence is NaN or outside `[0, 1]`.
    #[error("confidence {0} is not a number in [0, 1]")]
    Confidence(f32),
    /// The reason code does not fit the state: UNKNOWN needs a reason, the
    /// other states take none.
    #[error("reason code {reason} does not fit state {state}")]
    ReasonMismatch {
        /// The state.
        state: State,
        /// The reason code received.
        reason: u8,
    },
    /// A path does not parse.
    #[error("{0}")]
    Path(PathError),
    /// The same node is reported twice.
    #[error("node {0} is reported twice")]
    DuplicateNode(Path),
    /// More nodes than [`MAX_NODES`](super::MAX_NODES).
    #[error("{count} nodes is more than the {max} allowed")]
    TooManyNodes {
        /// How many were received.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The writer GUID is not 16 bytes.
    #[error("writer GUID must be 16 bytes, not {0}")]
    GuidLength(usize),
    /// The supervisor id is neither empty nor a 12-byte GUID prefix.
    #[error("supervisor must be empty or a 12-byte GUID prefix, not {0} bytes")]
    SupervisorLength(usize),
    /// More producers than [`MAX_ON_BEHALF`](crate::MAX_ON_BEHALF).
    #[error("{count} producers is more than the {max} allowed")]
    TooManyProducers {
        /// How many were received.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A consumer route's starting sample (no switch yet) describes a
    /// switch.
    #[error("must be empty before the first switch")]
    NotBeforeFirstSwitch,
    /// A switch cause label this version does not know.
    #[error("unknown switch cause `{0}`")]
    UnknownCause(String),
    /// A producer is named twice.
    #[error("producer named twice")]
    DuplicateProducer,
    /// The capability bytes do not decode.
    #[error("{0}")]
    Capabilities(DecodeError),
    /// A duration that must be positive is zero.
    #[error("must be longer than zero")]
    Zero,
    /// The lease is shorter than the heartbeat period: the producer would be
    /// declared unreachable between two of its own heartbeats.
    #[error("lease {lease:?} is shorter than the heartbeat period {period:?}")]
    LeaseShorterThanPeriod {
        /// The lease.
        lease: Duration,
        /// The heartbeat period.
        period: Duration,
    },
}
