//! The switching policy and what a selection reports: events, causes,
//! counters.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};
use vigil_diag::{FlapDamping, State, Timestamp};

use super::breaker::BreakerPolicy;
use crate::advert::AdvertKey;

/// How a selection switches (ITU-T G.8031 terms; see the `selection`
/// module doc for the rules).
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchPolicy {
    /// How long a merely DEGRADED active producer is kept before the
    /// selection leaves it for a better one. Not applied to FAILED,
    /// UNKNOWN, unreachable or removed producers: those are left at once.
    pub hold_off: Duration,
    /// How long a challenger (a recovered producer, a return to an earlier
    /// clause, a better newcomer) must stay eligible before a revertive
    /// switch to it.
    pub wait_to_restore: Duration,
    /// Whether a healthy active producer is ever left for a better one.
    /// Non-revertive: only faults move the consumer.
    pub revertive: bool,
    /// How much better, relatively, a challenger's first `PREFER` value
    /// must be (0.1: 10 % better). 0: any strictly better rank.
    pub margin: f64,
    /// Flap damping of producers' health changes (RFC 2439).
    pub flap: FlapDamping,
    /// Circuit breakers per consumer→producer link (issue 14); `None`:
    /// no breakers, sample arrivals are not judged.
    pub breaker: Option<BreakerPolicy>,
    /// Predictive switching (issue 14): an active producer whose health
    /// trend is `degrading` (it got worse within the trend window) is left
    /// at once for a healthier candidate, without waiting out the hold-off
    /// that rides out a mere blip.
    pub predictive: bool,
}

impl Default for SwitchPolicy {
    /// Hold-off 200 ms, wait-to-restore 1 s, revertive, no margin, default
    /// flap damping (three quick changes suppress), no circuit breakers,
    /// not predictive.
    fn default() -> Self {
        SwitchPolicy {
            hold_off: Duration::from_millis(200),
            wait_to_restore: Duration::from_secs(1),
            revertive: true,
            margin: 0.0,
            flap: FlapDamping::default(),
            breaker: None,
            predictive: false,
        }
    }
}

/// The producer a consumer follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ActiveProducer {
    /// Which advert.
    pub key: AdvertKey,
    /// The DDS writer whose samples to deliver.
    pub writer_guid: [u8; 16],
    /// The query clause it satisfies (0: the first, 1: the first `ELSE`...).
    pub clause: usize,
}

/// Why a selection changed its active producer.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SwitchCause {
    /// The first producer selected.
    Initial,
    /// A candidate appeared while none was active (after the first).
    Available,
    /// The active producer became FAILED or UNKNOWN.
    ActiveFailed {
        /// Its state.
        state: State,
    },
    /// The active producer's lease expired.
    ActiveUnreachable,
    /// The active producer's advert was disposed or removed.
    ActiveRemoved,
    /// The active producer no longer satisfies a hard constraint of its
    /// clause (for a reason other than being DEGRADED).
    ConstraintViolated {
        /// The first condition it fails.
        reason: String,
    },
    /// The active producer stayed degraded for the whole hold-off.
    HoldOffExpired {
        /// Its state.
        state: State,
    },
    /// Revertive switch to a producer that recovered (or had been active
    /// before), after wait-to-restore.
    Restored,
    /// Revertive switch to a better producer that never failed while known,
    /// after wait-to-restore.
    BetterCandidate,
    /// The active producer restarted: same advert key, new writer GUID.
    EndpointChanged,
    /// Predictive: the active producer's health is degrading (worse within
    /// the trend window); left before the hold-off ends, before FAILED.
    Degrading {
        /// Its state.
        state: State,
    },
    /// The active producer's circuit breaker opened: its samples came with
    /// gaps or late against its advertised rate, or its health flapped.
    Ejected {
        /// Its ejection count.
        ejections: u32,
    },
}

impl fmt::Display for SwitchCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchCause::Initial => f.write_str("initial selection"),
            SwitchCause::Available => f.write_str("a candidate became available"),
            SwitchCause::ActiveFailed { state } => write!(f, "active producer is {state}"),
            SwitchCause::ActiveUnreachable => {
                f.write_str("active producer is unreachable (lease expired)")
            }
            SwitchCause::ActiveRemoved => f.write_str("active producer was removed"),
            SwitchCause::ConstraintViolated { reason } => {
                write!(f, "active producer violates its clause: {reason}")
            }
            SwitchCause::HoldOffExpired { state } => {
                write!(f, "active producer stayed {state} past the hold-off")
            }
            SwitchCause::Restored => {
                f.write_str("revert to a restored producer after wait-to-restore")
            }
            SwitchCause::BetterCandidate => f.write_str("better candidate after wait-to-restore"),
            SwitchCause::EndpointChanged => {
                f.write_str("active producer restarted with a new writer")
            }
            SwitchCause::Degrading { state } => write!(
                f,
                "active producer is {state} and degrading: left before the hold-off (predictive)"
            ),
            SwitchCause::Ejected { ejections } => write!(
                f,
                "active producer ejected by its circuit breaker (ejection {ejections}): \
                 samples late or missing, or health flapping"
            ),
        }
    }
}

impl SwitchCause {
    /// A stable snake_case label of the cause's kind, without its details:
    /// a metric label, the `cause` of a consumer's route on the wire.
    pub fn label(&self) -> &'static str {
        match self {
            SwitchCause::Initial => "initial",
            SwitchCause::Available => "available",
            SwitchCause::ActiveFailed { .. } => "active_failed",
            SwitchCause::ActiveUnreachable => "active_unreachable",
            SwitchCause::ActiveRemoved => "active_removed",
            SwitchCause::ConstraintViolated { .. } => "constraint_violated",
            SwitchCause::HoldOffExpired { .. } => "hold_off_expired",
            SwitchCause::Restored => "restored",
            SwitchCause::BetterCandidate => "better_candidate",
            SwitchCause::EndpointChanged => "endpoint_changed",
            SwitchCause::Ejected { .. } => "ejected",
            SwitchCause::Degrading { .. } => "degrading",
        }
    }
}

impl Serialize for SwitchCause {
    /// As its text.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// At most this many chain entries travel in a [`SelectionEvent`]: with
/// 10 000 candidates, copying the whole chain would cost milliseconds of the
/// reroute itself. [`crate::Selection::chain`] has all of it.
pub const EVENT_CHAIN_MAX: usize = 32;

/// A change of the active producer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelectionEvent {
    /// When it was decided.
    pub at: Timestamp,
    /// The producer left, if any.
    pub previous: Option<AdvertKey>,
    /// The producer to follow now; `None` when no candidate qualifies.
    pub active: Option<ActiveProducer>,
    /// The head of the fallback chain after the switch, best first: at most
    /// [`EVENT_CHAIN_MAX`] entries.
    pub chain: Vec<AdvertKey>,
    /// The length of the whole chain.
    pub chain_len: usize,
    /// Why.
    pub cause: SwitchCause,
    /// The next candidate, for hot standby.
    pub standby: Option<ActiveProducer>,
}

impl fmt::Display for SelectionEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.at)?;
        match &self.previous {
            Some(p) => write!(f, "{p}")?,
            None => f.write_str("(none)")?,
        }
        f.write_str(" -> ")?;
        match &self.active {
            Some(a) => write!(f, "{}", a.key)?,
            None => f.write_str("(none)")?,
        }
        write!(f, ": {}", self.cause)
    }
}

/// A selection's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SelectionStats {
    /// Changes of the active producer.
    pub switches: u64,
    /// Times a flap-suppressed producer was passed over for a switch it
    /// would otherwise have won; counted once per producer per suppression
    /// episode.
    pub flaps_suppressed: u64,
    /// Links ejected by their circuit breakers (failed probes included).
    pub ejections: u64,
}
