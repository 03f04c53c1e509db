//! Speaking for a dead child: the supervisor's side of the
//! FAILED-on-behalf topic, and how a child learns who supervises it.
//!
//! A supervisor joins the domain, passes its participant's GUID prefix to
//! each child in [`SUPERVISOR_ID_ENV`], and when a child dies publishes
//! with an [`OnBehalfPublisher`] that the child's producers FAILED. Each
//! child's producers name that prefix in their adverts
//! ([`AdvertiserConfig::supervisor`](super::AdvertiserConfig::supervisor)),
//! so consumers accept the word from that participant's writers only.

use super::participant::CdrWriter;
use super::sample::unix_now_ns;
use super::{DdsError, VigilParticipant};
use crate::advert::FailedOnBehalf;
use crate::trust::{sign_failed_on_behalf, KeyPair};
use crate::wire::{FailedOnBehalfWire, FAILED_ON_BEHALF_TOPIC};

/// The environment variable in which a supervisor gives its children its
/// DDS participant's GUID prefix, as 24 hexadecimal digits.
pub const SUPERVISOR_ID_ENV: &str = "VIGIL_SUPERVISOR_ID";

/// A GUID prefix as [`SUPERVISOR_ID_ENV`] carries it: 24 lowercase hex
/// digits.
pub fn supervisor_id_text(prefix: &[u8; 12]) -> String {
    prefix.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a GUID prefix written by [`supervisor_id_text`] (either case).
pub fn parse_supervisor_id(text: &str) -> Result<[u8; 12], DdsError> {
    let bad = || DdsError::Config {
        reason: format!(
            "{SUPERVISOR_ID_ENV}={text:?} is not a GUID prefix (24 hexadecimal digits)"
        ),
    };
    let text = text.trim();
    if text.len() != 24 || !text.is_ascii() {
        return Err(bad());
    }
    let mut prefix = [0; 12];
    for (i, byte) in prefix.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(prefix)
}

/// The supervisor named by this process's environment
/// ([`SUPERVISOR_ID_ENV`]): `None` when unset or empty (not supervised), an
/// error when set to something that is not a GUID prefix (a supervised
/// producer that silently advertised no supervisor would be failed over
/// only by its lease).
pub fn supervisor_from_env() -> Result<Option<[u8; 12]>, DdsError> {
    match std::env::var(SUPERVISOR_ID_ENV) {
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => parse_supervisor_id(&text).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => Err(DdsError::Config {
            reason: format!("{SUPERVISOR_ID_ENV}={raw:?} is not a GUID prefix"),
        }),
    }
}

/// Publishes, for dead children, that their producers FAILED.
///
/// Its writer belongs to the participant it was made on, so the producers
/// must name that participant's [`VigilParticipant::guid_prefix`] (see
/// [`OnBehalfPublisher::supervisor_id`]).
pub struct OnBehalfPublisher {
    writer: CdrWriter<FailedOnBehalfWire>,
    id: [u8; 12],
    /// Signs every word (issue 13): consumers under a trust policy believe
    /// only a key allowed to speak for the producer.
    key: Option<KeyPair>,
}

impl std::fmt::Debug for OnBehalfPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnBehalfPublisher")
            .field("id", &supervisor_id_text(&self.id))
            .finish_non_exhaustive()
    }
}

impl OnBehalfPublisher {
    /// A writer on `participant`'s FAILED-on-behalf topic.
    pub fn new(participant: &VigilParticipant) -> Result<OnBehalfPublisher, DdsError> {
        Ok(OnBehalfPublisher {
            writer: participant.failed_on_behalf_writer()?,
            id: participant.guid_prefix(),
            key: None,
        })
    }

    /// Signs what it says with `key` (`None`: unsigned).
    pub fn signing(mut self, key: Option<KeyPair>) -> OnBehalfPublisher {
        self.key = key;
        self
    }

    /// What the children's adverts must name: this participant's GUID
    /// prefix.
    pub fn supervisor_id(&self) -> [u8; 12] {
        self.id
    }

    /// Says that `producers`, advertised by the child `child`, FAILED
    /// because of `reason`. Does not block: a full reliable window is an
    /// error (the consumers' leases still cover the death).
    pub fn publish(&self, child: &str, producers: &[String], reason: &str) -> Result<(), DdsError> {
        let said = FailedOnBehalf {
            child: child.to_owned(),
            producers: producers.to_vec(),
            reason: reason.to_owned(),
            timestamp_ns: unix_now_ns(),
        };
        // What consumers would refuse is refused here, with the reason.
        let mut wire = said.to_wire();
        FailedOnBehalf::from_wire(&wire).map_err(|e| DdsError::Config {
            reason: e.to_string(),
        })?;
        if let Some(key) = &self.key {
            sign_failed_on_behalf(&mut wire, key).map_err(|reason| DdsError::Config { reason })?;
        }
        self.writer
            .write(wire, None)
            .map_err(|e| DdsError::write(FAILED_ON_BEHALF_TOPIC, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisor_ids_round_trip_and_bad_ones_say_why() {
        let id = [0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff];
        let text = supervisor_id_text(&id);
        assert_eq!(text, "ab0102030405060708090aff");
        assert_eq!(parse_supervisor_id(&text).unwrap(), id);
        assert_eq!(parse_supervisor_id(&text.to_uppercase()).unwrap(), id);
        for bad in [
            "",
            "ab",
            "zz0102030405060708090aff",
            "ab0102030405060708090aff00",
            "é0102030405060708090aff",
        ] {
            let e = parse_supervisor_id(bad).unwrap_err().to_string();
            assert!(e.contains(SUPERVISOR_ID_ENV), "{e}");
        }
    }
}
