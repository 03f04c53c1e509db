//! What can go wrong in the DDS shell, with the entity and input involved.

use thiserror::Error;

/// An error of the DDS shell. Each variant names the DDS entity (domain,
/// topic) or the input it concerns. Where rustdds failed, its error is kept
/// whole as the variant's [`source`](std::error::Error::source) (boxed, so
/// rustdds's types stay out of our signatures, but a caller can downcast
/// it) and its text ends the message.
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
    #[error("cannot join DDS domain {domain} on {interface}: {source}")]
    Participant {
        /// Domain id.
        domain: u16,
        /// Interface address.
        interface: std::net::IpAddr,
        /// rustdds's error (a `rustdds::dds::CreateError`).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A topic, publisher, subscriber, reader or writer could not be created.
    #[error("cannot create the {what} for topic `{topic}`: {source}")]
    Create {
        /// The kind of entity.
        what: &'static str,
        /// The topic.
        topic: String,
        /// rustdds's error (usually a `rustdds::dds::CreateError`).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A sample could not be written.
    #[error("cannot write to topic `{topic}`: {source}")]
    Write {
        /// The topic.
        topic: String,
        /// rustdds's error, as a `rustdds::dds::WriteError<()>`: the rejected
        /// sample it carried is dropped.
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// on `topic`, keeping `error` (rustdds's) as the source.
    pub fn create(
        what: &'static str,
        topic: &str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> DdsError {
        DdsError::Create {
            what,
            topic: topic.to_owned(),
            source: Box::new(error),
        }
    }

    /// A failed write on `topic`. rustdds's `WriteError<D>` is generic over
    /// the sample, which it hands back; the sample is dropped so the source
    /// is a plain `WriteError<()>`.
    pub(crate) fn write<D>(topic: &str, error: rustdds::dds::WriteError<D>) -> DdsError {
        DdsError::Write {
            topic: topic.to_owned(),
            source: Box::new(error.forget_data()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use rustdds::dds::{CreateError, WriteError};

    use super::*;

    #[test]
    fn create_keeps_rustdds_error_as_source() {
        let error = DdsError::create(
            "data writer",
            "camera",
            CreateError::BadParameter {
                reason: "no such QoS".to_owned(),
            },
        );
        let source = error.source().expect("the rustdds error is the source");
        assert!(matches!(
            source.downcast_ref::<CreateError>(),
            Some(CreateError::BadParameter { reason }) if reason == "no such QoS"
        ));
        assert_eq!(
            error.to_string(),
            "cannot create the data writer for topic `camera`: \
             Invalid call parameter: no such QoS"
        );
    }

    #[test]
    fn write_keeps_rustdds_error_without_the_sample() {
        let rejected: WriteError<Vec<u8>> = WriteError::WouldBlock {
            data: vec![1, 2, 3],
        };
        let error = DdsError::write("camera", rejected);
        let source = error.source().expect("the rustdds error is the source");
        assert!(matches!(
            source.downcast_ref::<WriteError<()>>(),
            Some(WriteError::WouldBlock { data: () })
        ));
        assert_eq!(
            error.to_string(),
            "cannot write to topic `camera`: Write operation timed out while blocking"
        );
    }

    #[test]
    fn participant_keeps_rustdds_error_as_source() {
        let error = DdsError::Participant {
            domain: 7,
            interface: std::net::Ipv4Addr::LOCALHOST.into(),
            source: Box::new(CreateError::Internal {
                reason: "socket".to_owned(),
            }),
        };
        assert!(error
            .source()
            .is_some_and(|s| s.downcast_ref::<CreateError>().is_some()));
    }
}
