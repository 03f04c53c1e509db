//! The facade's error: what went wrong, with the input and where.

use thiserror::Error;

/// An error of the facade API. Each variant keeps the error it came from
/// as its [`source`](std::error::Error::source).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// DDS refused something (joining, an entity, a write).
    #[error(transparent)]
    Dds(#[from] vigil_discovery::DdsError),
    /// The in-process transport refused something.
    #[error(transparent)]
    InProcess(#[from] vigil_discovery::inproc::InProcError),
    /// A diagnostic tree file could not be read.
    #[error("cannot read tree file {path}: {source}")]
    TreeFile {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A diagnostic tree file has problems (every one with its line).
    #[error(transparent)]
    TreeLoad(#[from] vigil_diag::LoadError),
    /// A diagnostic tree does not build (paths, mounts, rules).
    #[error(transparent)]
    TreeBuild(#[from] vigil_diag::BuildError),
    /// An observation was refused by the producer's tree.
    #[error(transparent)]
    Observation(#[from] vigil_diag::UpdateError),
    /// A tree path is not a valid path.
    #[error(transparent)]
    Path(#[from] vigil_diag::PathError),
    /// A capability is malformed (`KEY=VALUE`, a unit, a duplicate key).
    #[error("capability `{input}`: {reason}")]
    Capability {
        /// What was given.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// A constraint query does not parse (the message has a caret).
    #[error(transparent)]
    Query(#[from] vigil_qos::ParseError),
    /// A sample could not be published (DDS did not admit it).
    #[error("sample not published on `{topic}`: {reason}")]
    Publish {
        /// The data topic.
        topic: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Whether the input is at fault (a declaration, a tree, a capability,
    /// a query, an observation) rather than the transport: a command line
    /// exits with 2 for these.
    pub fn is_input(&self) -> bool {
        use vigil_discovery::inproc::InProcError;
        use vigil_discovery::DdsError;
        match self {
            // A bad VIGIL_SUPERVISOR_ID is a configuration the user gave.
            Error::Dds(e) => matches!(
                e,
                DdsError::Advertiser { .. } | DdsError::Observation(_) | DdsError::Config { .. }
            ),
            Error::InProcess(e) => !matches!(e, InProcError::Closed { .. }),
            Error::TreeFile { .. }
            | Error::TreeLoad(_)
            | Error::TreeBuild(_)
            | Error::Observation(_)
            | Error::Path(_)
            | Error::Capability { .. }
            | Error::Query(_) => true,
            Error::Publish { .. } => false,
        }
    }
}
