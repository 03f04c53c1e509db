//! The bridge's errors: a config file with every problem and its line, and
//! what can stop a running bridge.

use std::fmt;

use vigil_discovery::DdsError;

/// One problem of a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigProblem {
    /// The file (as given).
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// The key it is about (`zenoh.listen[0]`, `topics[1].forward`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    /// `FILE:LINE: key: message`, as compilers print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.key, self.message
        )
    }
}

/// A config file that cannot be used: every problem found, in line order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ConfigError {
    /// The problems, at least one.
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            problem.fmt(f)?;
        }
        Ok(())
    }
}

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
