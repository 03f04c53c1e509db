//! What can go wrong in the DDS shell, with the entity and input involved.

use thiserror::Error;

/// An error of the DDS shell. Each variant names the DDS entity (domain,
/// topic) or the input it concerns; rustdds's own error is kept as text since
/// its error types are not part of our API.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DdsError {
    /// The configuration is inconsistent.
    #[error("invalid DDS configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The domain participant could not be created.
    #[error("cannot join DDS domain {domain} on {interface}: {reason}")]
    Participant {
        /// Domain id.
        domain: u16,
        /// Interface address.
        interface: std::net::IpAddr,
        /// rustdds's error.
        reason: String,
    },
    /// A topic, publisher, subscriber, reader or writer could not be created.
    #[error("cannot create the {what} for topic `{topic}`: {reason}")]
    Create {
        /// The kind of entity.
        what: &'static str,
        /// The topic.
        topic: String,
        /// rustdds's error.
        reason: String,
    },
    /// A sample could not be written.
    #[error("cannot write to topic `{topic}`: {reason}")]
    Write {
        /// The topic.
        topic: String,
        /// rustdds's error.
        reason: String,
    },
    /// The producer's declaration is wrong (bad id, topic, tree path or
    /// degradation rule); nothing was published.
    #[error("invalid advertiser for `{producer}` on `{topic}`: {reason}")]
    Advertiser {
        /// Producer id.
        producer: String,
        /// Topic.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// An observation was refused by the producer's diagnostic tree.
    #[error(transparent)]
    Observation(#[from] vigil_diag::UpdateError),
    /// The background task is gone (the advertiser or selector was shut
    /// down, or its task panicked).
    #[error("the {0} task has stopped")]
    Stopped(&'static str),
}

impl DdsError {
    /// A failure to create a DDS entity (`what`: "topic", "raw reader", ...)
    /// on `topic`, with rustdds's error.
    pub fn create(what: &'static str, topic: &str, error: impl std::fmt::Debug) -> DdsError {
        DdsError::Create {
            what,
            topic: topic.to_owned(),
            reason: format!("{error:?}"),
        }
    }
}
