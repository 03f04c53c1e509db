//! What can stop a running bridge (and, shared with the agent, a config
//! file with every problem and its line).

use std::fmt;

use vigil_discovery::DdsError;

pub use crate::config_file::{ConfigError, ConfigProblem};

/// What stops a bridge from starting or running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// The Zenoh session could not be opened or an entity declared.
    #[error("zenoh: {what}: {reason}")]
    Zenoh {
        /// What was attempted (`opening the session`, `declaring ...`).
        what: String,
        /// What Zenoh said.
        reason: String,
    },
    /// A followed stream of the config could not start.
    #[error("{what}: {reason}")]
    Follow {
        /// What was attempted (`starting the followed stream ...`).
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// The DDS side failed.
    #[error(transparent)]
    Dds(#[from] DdsError),
}

impl BridgeError {
    pub(crate) fn zenoh(what: impl Into<String>, reason: impl fmt::Display) -> BridgeError {
        BridgeError::Zenoh {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
