//! The bridge's routing decisions, one event each: JSON for tools and
//! tests, one readable line for people.

use std::fmt;

use serde::Serialize;
use vigil_discovery::RefusedStats;

use super::advert_json::Origin;

/// Up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProducerState {
    /// Bridged: advertised on the other side.
    Up,
    /// Still bridged, advert changed (health or capabilities).
    Updated,
    /// No longer bridged.
    Down,
}

impl fmt::Display for ProducerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProducerState::Up => "up",
            ProducerState::Updated => "updated",
            ProducerState::Down => "down",
        })
    }
}

/// Counters of a bridge run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Zenoh adverts refused (malformed, wrong key, wrong type).
    pub adverts_rejected: u64,
    /// DDS samples put on Zenoh.
    pub samples_to_zenoh: u64,
    /// Zenoh samples written on DDS.
    pub samples_to_dds: u64,
    /// Samples not forwarded: unwritable encoding, a write DDS or Zenoh
    /// refused, a sample rustdds could not read, or a full queue.
    pub samples_dropped: u64,
    /// Samples not forwarded because no producer is advertised for them: a
    /// DDS writer no advert names (yet), or a Zenoh producer without both
    /// advert and liveliness token. vigil routes producers, not anonymous
    /// writers; these are not losses.
    pub samples_unadvertised: u64,
    /// Adverts, liveliness changes and queries from Zenoh dropped by a full
    /// queue (a peer flooding the bridge).
    pub inputs_dropped: u64,
    /// Zenoh adverts without a liveliness token forgotten: too old, or to
    /// make room (see the bridge's bounds).
    pub adverts_evicted: u64,
    /// Zenoh producers not tracked: as many as the bridge tracks already
    /// hold liveliness tokens.
    pub producers_refused: u64,
    /// Registry, best-producer and follow queries answered.
    pub queries: u64,
    /// Samples put on followed streams' keys.
    pub samples_followed: u64,
    /// Zenoh adverts refused on trust grounds, by reason (issue 13).
    pub adverts_refused: RefusedStats,
    /// Zenoh adverts the trust mode `warn` accepted but `enforce` would
    /// have refused, by reason.
    pub adverts_warned: RefusedStats,
}

/// One routing decision (see the module doc).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BridgeEvent {
    /// The Zenoh session is open and the DDS side is up.
    Ready {
        /// The Zenoh endpoints listened on.
        listen: Vec<String>,
        /// The Zenoh endpoints connected to.
        connect: Vec<String>,
        /// The DDS domain.
        domain: u16,
        /// The key prefix.
        key_prefix: String,
        /// The bridged topics.
        topics: Vec<String>,
        /// The bridge's Zenoh id.
        zid: String,
    },
    /// A producer living on Zenoh is advertised on DDS, updated, or
    /// withdrawn.
    ZenohProducer {
        /// Producer id.
        producer: String,
        /// Topic.
        topic: String,
        /// What happened.
        state: ProducerState,
        /// Why.
        cause: String,
        /// The DDS writer the bridge writes its samples with (up only).
        #[serde(skip_serializing_if = "Option::is_none")]
        writer_guid: Option<String>,
    },
    /// A DDS producer's liveliness token is declared or withdrawn on Zenoh.
    DdsProducer {
        /// Producer id.
        producer: String,
        /// Topic.
        topic: String,
        /// What happened.
        state: ProducerState,
        /// Why.
        cause: String,
    },
    /// A best-producer query was answered.
    Best {
        /// The topic asked about.
        topic: String,
        /// The query (normalized when it parsed).
        query: String,
        /// The answer; `None` when nothing qualifies or the query is bad.
        producer: Option<String>,
        /// Where it lives.
        origin: Option<Origin>,
        /// Where its samples are on Zenoh.
        data: Option<String>,
        /// Why the query was refused, if it was.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Something received from Zenoh was refused; nothing changed.
    Rejected {
        /// The key it came on.
        key: String,
        /// What was wrong.
        error: String,
        /// Refused adverts since the start.
        rejected: u64,
    },
    /// A Zenoh advert was refused on trust grounds (issue 13): unsigned,
    /// badly signed, by a key the policy does not list or allow for it,
    /// or older than one already accepted. Nothing changed on DDS.
    Refused {
        /// The key it came on.
        key: String,
        /// The producer id it claimed.
        producer: String,
        /// The topic it claimed.
        topic: String,
        /// Why, as a code (`unsigned`, `bad_signature`, `unknown_key`,
        /// `not_allowed`, `replayed`).
        reason: String,
        /// Why, for people.
        error: String,
        /// Refused on trust grounds since the start.
        refused: u64,
    },
    /// A replaced or withdrawn proxy has shut down: its advert's dispose
    /// is on the wire (acknowledged, or 200 ms passed). What tests and
    /// operators wait for instead of guessing how long a withdrawal takes.
    Retired {
        /// Producer id.
        producer: String,
        /// Topic.
        topic: String,
        /// The retired proxy's data writer.
        writer_guid: String,
    },
    /// A followed stream started (from the config, or declared by a
    /// Zenoh application on `<prefix>/follow`).
    Following {
        /// Where its samples are put.
        key: String,
        /// Where its switch events are put.
        switches: String,
        /// The query, normalized.
        query: String,
        /// `config` or `zenoh`.
        declared_by: String,
    },
    /// A stream a Zenoh application declared stopped: nobody subscribed
    /// to its key for a while.
    Unfollowed {
        /// Its data key.
        key: String,
        /// Its query.
        query: String,
        /// Why.
        cause: String,
    },
    /// A followed stream's selection switched: its samples come from
    /// another producer now (or from none).
    Switched {
        /// The stream's data key.
        key: String,
        /// The producer followed now; `None`: nothing qualifies.
        producer: Option<String>,
        /// Where it lives.
        origin: Option<Origin>,
        /// The producer left.
        previous: Option<String>,
        /// Why.
        cause: String,
    },
    /// The counters so far, at most once a second and only when they
    /// changed (what `--metrics` exports while the bridge runs).
    Stats {
        /// Its counters since the start.
        stats: BridgeStats,
    },
    /// The bridge stopped.
    Stopped {
        /// Its counters.
        stats: BridgeStats,
    },
}

impl fmt::Display for BridgeEvent {
    /// One line for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeEvent::Ready {
                listen,
                connect,
                domain,
                key_prefix,
                topics,
                zid,
            } => write!(
                f,
                "ready: zenoh {zid} listening on [{}] connecting to [{}], DDS domain {domain}, keys under `{key_prefix}/`, topics [{}]",
                listen.join(", "),
                connect.join(", "),
                topics.join(", ")
            ),
            BridgeEvent::ZenohProducer {
                producer,
                topic,
                state,
                cause,
                ..
            } => write!(f, "zenoh producer {producer} on `{topic}` {state} on DDS: {cause}"),
            BridgeEvent::Retired {
                producer,
                topic,
                writer_guid,
            } => write!(
                f,
                "zenoh producer {producer} on `{topic}`: proxy {writer_guid} retired (advert withdrawn)"
            ),
            BridgeEvent::DdsProducer {
                producer,
                topic,
                state,
                cause,
            } => write!(f, "DDS producer {producer} on `{topic}` {state} on Zenoh: {cause}"),
            BridgeEvent::Best {
                topic,
                query,
                producer,
                error,
                ..
            } => match (producer, error) {
                (_, Some(error)) => write!(f, "best for `{topic}` refused: {error}"),
                (Some(p), None) => write!(f, "best for `{query}`: {p}"),
                (None, None) => write!(f, "best for `{query}`: none qualifies"),
            },
            BridgeEvent::Rejected {
                key,
                error,
                rejected,
            } => write!(f, "rejected {key} ({rejected} so far): {error}"),
            BridgeEvent::Refused {
                key,
                reason,
                error,
                refused,
                ..
            } => write!(f, "refused {key}: {reason} ({refused} so far): {error}"),
            BridgeEvent::Following {
                key,
                switches,
                query,
                declared_by,
            } => write!(
                f,
                "following `{query}` on {key} (switches on {switches}), declared by {declared_by}"
            ),
            BridgeEvent::Unfollowed { key, query, cause } => {
                write!(f, "stopped following `{query}` on {key}: {cause}")
            }
            BridgeEvent::Switched {
                key,
                producer,
                previous,
                cause,
                ..
            } => write!(
                f,
                "{key}: {} -> {} ({cause})",
                previous.as_deref().unwrap_or("none"),
                producer.as_deref().unwrap_or("none")
            ),
            BridgeEvent::Stats { stats } => write!(
                f,
                "so far: {} sample(s) to Zenoh, {} to DDS, {} on followed streams, {} dropped",
                stats.samples_to_zenoh,
                stats.samples_to_dds,
                stats.samples_followed,
                stats.samples_dropped
            ),
            BridgeEvent::Stopped { stats } => {
                write!(
                    f,
                    "stopped: {} sample(s) to Zenoh, {} to DDS, {} on followed streams, {} dropped, {} of no advertised producer, {} advert(s) rejected, queries answered: {}",
                    stats.samples_to_zenoh,
                    stats.samples_to_dds,
                    stats.samples_followed,
                    stats.samples_dropped,
                    stats.samples_unadvertised,
                    stats.adverts_rejected,
                    stats.queries
                )?;
                let bounds = [
                    (stats.inputs_dropped, "input(s) from Zenoh dropped (queue full)"),
                    (stats.adverts_evicted, "advert(s) without token forgotten"),
                    (stats.producers_refused, "producer(s) refused (table full)"),
                ];
                for (count, what) in bounds {
                    if count > 0 {
                        write!(f, ", {count} {what}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_json_and_one_line_of_text() {
        let event = BridgeEvent::ZenohProducer {
            producer: "zenoh_imu".to_owned(),
            topic: "imu".to_owned(),
            state: ProducerState::Down,
            cause: "liveliness token deleted".to_owned(),
            writer_guid: None,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "zenoh_producer");
        assert_eq!(json["state"], "down");
        assert!(json.get("writer_guid").is_none());
        let text = event.to_string();
        assert_eq!(
            text,
            "zenoh producer zenoh_imu on `imu` down on DDS: liveliness token deleted"
        );
        let best = BridgeEvent::Best {
            topic: "imu".to_owned(),
            query: "imu".to_owned(),
            producer: None,
            origin: None,
            data: None,
            error: None,
        };
        assert_eq!(
            serde_json::to_value(&best).unwrap()["producer"],
            serde_json::Value::Null
        );
    }
}
