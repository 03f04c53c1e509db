//! What the agent's and the Zenoh bridge's config readers share: both are
//! read with vigil's one config reader ([`vigil_diag::config`]), so a
//! problem is a [`ConfigProblem`] with its file, line and key, and a file
//! that cannot be used is a [`ConfigError`] with every problem.

use vigil_diag::config::ProblemKind;
pub use vigil_diag::config::{Error as ConfigError, Problem as ConfigProblem};

/// A file that could not be read at all.
pub(crate) fn unreadable(file: &str, line: u32, key: &str, e: &std::io::Error) -> ConfigError {
    let why = ProblemKind::Invalid(format!("cannot read it: {e}"));
    ConfigError::new(vec![ConfigProblem::new(file, line, key, why)])
}

/// Logs a loaded file's warnings (deprecated keys), so a service started
/// without `--check` still says what to change.
pub(crate) fn log_warnings(warnings: &[ConfigProblem]) {
    for warning in warnings {
        tracing::warn!("{warning}");
    }
}
