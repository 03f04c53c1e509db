//! What the agent's and the Zenoh bridge's config readers share: a config
//! file that cannot be used (every problem, each with its file, line and
//! key), and quantities written with their unit.

use std::fmt;
use std::time::Duration;

use vigil_qos::{Dimension, Quantity};

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

/// A quantity of `dimension` written with its unit (`250ms`, `50Hz`), in
/// base units (seconds, hertz); never negative.
pub(crate) fn quantity(text: &str, dimension: Dimension) -> Result<f64, String> {
    let q = Quantity::parse(text.trim()).map_err(|e| e.to_string())?;
    if q.dimension() != dimension {
        let example = match dimension {
            Dimension::Time => "250ms or 1s",
            Dimension::Frequency => "50Hz",
            _ => "a number with a unit",
        };
        Err(format!(
            "expected a {}, such as {example}",
            dimension.as_str()
        ))
    } else if q.base() < 0.0 {
        Err("must not be negative".to_owned())
    } else {
        Ok(q.base())
    }
}

/// A duration written with its unit (`500ms`, `2s`).
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let seconds = quantity(text, Dimension::Time)?;
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}
