//! The registry: every advert heard, with its liveness, updated from the
//! wire and from the passing of time.
//!
//! Sans-IO: [`Registry::apply`] takes one input and the time it arrived,
//! [`Registry::tick`] takes the time, and both return the
//! [`RegistryChange`]s they caused. Nothing here reads a clock.
//!
//! # Rules
//!
//! - **Bad input.** A malformed advert or heartbeat, or an advert that
//!   reuses a held sequence number with different content, is
//!   [`RegistryChange::Rejected`], counted in [`RegistryStats::rejected`] and
//!   logged with `tracing::warn!`; the entry keeps its last good state.
//! - **Order.** An advert is *stale* when it comes from the same writer GUID
//!   as the held one with a lower sequence: it is ignored (counted in
//!   [`RegistryStats::stale`]). An advert from another writer GUID is a new
//!   incarnation of the producer (a restart gets a new DDS GUID and starts
//!   its sequence again) and replaces the held one whatever its sequence,
//!   unless the held one is alive (next rule).
//! - **No hijacking (issue 13).** While the held advert is reachable and
//!   not said FAILED by its supervisor, an advert from another writer GUID
//!   is [`RegistryChange::Refused`] ([`Refusal::Hijack`]), counted and
//!   logged: one process cannot take a live producer id from another. It
//!   is kept aside as the entry's *pending* successor, kept alive by
//!   heartbeats from its own participant, and takes over at once when the
//!   holder withdraws (its dispose), is said FAILED by its supervisor, or
//!   its lease expires: a producer restarted within its lease (a crash and
//!   a fast restart) takes over at the old lease's end, not never. A
//!   newcomer signed by the same key as the holder proves it is the same
//!   producer and takes over at once.
//! - **Whose heartbeat.** A heartbeat is a sign of life (and carries state)
//!   only for entries advertised from its writer's participant (the GUID
//!   prefix of the advert writer): another process's heartbeats under the
//!   same producer id neither keep a dead holder alive nor fail a live
//!   one. Inputs that do not say their writer match any.
//!   An exact repeat (transient-local redelivery) changes nothing but counts
//!   as a sign of life.
//! - **Disposal.** A dispose removes the entry at once (rustdds reports an
//!   unregister, the other "not alive" change, as a dispose too), unless it
//!   comes from another *advert writer* than the one that sent the entry's
//!   current advert: then it is a late goodbye of an earlier incarnation (a
//!   producer that restarted, a bridge proxy replaced by a new one, whose
//!   old advertiser's dispose arrives after the new advert) and is ignored,
//!   counted in [`RegistryStats::disposes_ignored`] and logged at debug.
//!   The advert writer is the DDS writer of the advert sample (its
//!   `publication_handle`), not the data writer the advert names. Inputs
//!   that do not say which writer sent them ([`RegistryInput::Advert`],
//!   [`RegistryInput::Disposed`]: simulations, tests) match any writer.
//! - **Liveness.** Every accepted advert and heartbeat is a sign of life. An
//!   entry not heard from for its advert's `lease` becomes unreachable at
//!   once: its effective health is UNKNOWN (`unreachable`). It is removed
//!   `grace` after its lease expired, unless heard from again. Deadlines
//!   count from when the input arrived (`now`), not from the producer's
//!   timestamps, so clock skew between machines does not matter.
//! - **Heartbeats carry state.** A heartbeat speaks for the advert of its
//!   (producer, topic); one with an empty topic (writers before wire
//!   revision 5) for every advert of its producer. When its state differs from the advert's, it overrides the
//!   advert's overall state until the next advert (failures travel at
//!   heartbeat speed); a heartbeat that agrees clears the override. A
//!   heartbeat whose `advert_sequence` is older than the held advert is
//!   still a sign of life but says nothing of state (it was sent before
//!   that advert). This assumes a producer numbers its adverts with one
//!   counter across its topics, as the DDS shell's advertiser does.
//! - **FAILED on behalf.** A supervisor that saw a child die says, for it,
//!   that the producers it advertised are FAILED
//!   ([`RegistryInput::FailedOnBehalf`]), so consumers switch without
//!   waiting for the lease. Only the supervisor the producer's own advert
//!   names may ([`Advert::supervisor`], the GUID prefix of its
//!   participant): the sample's writer GUID prefix must be that one, else
//!   the message is [`RegistryChange::Rejected`] for that advert, counted
//!   in [`RegistryStats::rejected`] and
//!   [`RegistryStats::on_behalf_rejected`], and logged. An accepted one
//!   makes the entry FAILED, above heartbeats, until the producer's next
//!   fresh advert (a new incarnation or a new sequence: a restarted child
//!   re-enters only through its own advert, never because a supervisor
//!   says so). A message older than the held advert (both stamped by the
//!   same host's clock: a supervisor and its children share a machine)
//!   speaks of an earlier incarnation and is ignored
//!   ([`RegistryStats::stale`]). Producers the registry does not know are
//!   skipped.
//! - **Shared components.** [`Registry::shared_state`] combines what every
//!   advert reports about one diagnostic path (see
//!   [`crate::combine_reports`]). An unreachable advert still counts, as an
//!   observer reporting UNKNOWN, until it is removed: when a partition
//!   hides half of a component's observers, the other half cannot outvote
//!   them, and OK against UNKNOWN is UNKNOWN(conflicting), never OK. Reports are indexed by path, so a vote
//!   costs the number of its observers, not the number of adverts.
//!
//! # Trust (issue 13)
//!
//! Under the [`TrustPolicy`] set with [`Registry::set_policy`] (default:
//! mode off):
//!
//! - A signed advert's signature is verified whatever the mode (a valid one
//!   is what proves the same key, *No hijacking*). Under `warn` and
//!   `enforce` the policy must allow its key for its producer id and topic
//!   (or the key must speak for the producer); a signed advert from
//!   another participant than the holder's that is older than, or repeats,
//!   the held one, or one older than the newest signed advert ever
//!   accepted for its key, is a replay.
//! - A heartbeat for a signed advert must carry the next element of the
//!   hash chain the advert commits to (`trust::chain`).
//! - A supervisor's FAILED-on-behalf word must, beyond coming from the
//!   participant the advert names, be signed by the producer's own key or
//!   by one the policy allows for the producer (`speaks_for`).
//! - `enforce` refuses what fails ([`RegistryChange::Refused`], counted in
//!   [`RegistryStats::refused`]); `warn` accepts it, counts it in
//!   [`RegistryStats::warned`] and logs it; `off` checks nothing but
//!   signatures.
//!
//! # Concurrency
//!
//! Entries live in a `DashMap`, so a monitor and several selectors read
//! them from other threads while the DDS shell applies inputs. Mutations
//! are serialized by one mutex that also guards the deadline queue and the
//! producer index; reads never take it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dashmap::DashMap;
use serde::Serialize;
use vigil_diag::{Path, State, Timestamp};
use vigil_qos::Capabilities;

use crate::advert::{Advert, AdvertKey, FailedOnBehalf, Heartbeat};
use crate::reconfig::{CapabilityOverrideWire, IsolationWire};
use crate::trust::{
    AdvertProof, ChainCheck, HeartbeatAuth, PublicKey, Refusal, RefusedStats, TrustMode, Verifier,
};

/// Who signed a FAILED-on-behalf word: nobody, a key, or a signature that
/// does not verify (and why).
type Signer = Result<Option<PublicKey>, (Refusal, String)>;
use crate::vote::Combined;
use crate::wire::{AdvertWire, FailedOnBehalfWire, HeartbeatWire};

mod reports;
mod snapshot;
mod trusted;
mod view;

use reports::Reports;
pub(crate) use snapshot::RegistrySnapshot;

pub use trusted::{PolicySlot, RefusalFeed, RefusalNote, REFUSALS_KEPT};
pub use view::{EffectiveHealth, EntryView};

/// How the registry forgets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryConfig {
    /// How long an unreachable entry is kept (shown as UNKNOWN) before it is
    /// removed.
    pub grace: Duration,
}

impl Default for RegistryConfig {
    /// Ten seconds of grace.
    fn default() -> Self {
        RegistryConfig {
            grace: Duration::from_secs(10),
        }
    }
}

/// One input to the registry.
// Inputs are moved once per sample and never stored: boxing the advert
// would cost an allocation per sample for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum RegistryInput {
    /// An advert sample, from an advert writer not named: a later dispose
    /// from any writer removes it.
    Advert(AdvertWire),
    /// An advert sample and the GUID of the advert writer that sent it (what
    /// the DDS shell gives): only that writer's dispose removes the entry
    /// (see the module doc, *Disposal*).
    AdvertFrom {
        /// The sample.
        wire: AdvertWire,
        /// The advert writer's GUID (the sample's `publication_handle`).
        sender: [u8; 16],
    },
    /// A heartbeat sample, from a writer not named: it speaks for every
    /// advert of its producer.
    Heartbeat(HeartbeatWire),
    /// A heartbeat sample and the GUID of the writer that sent it (what the
    /// DDS shell gives): it speaks only for the adverts sent from that
    /// writer's participant (see the module doc, *Whose heartbeat*).
    HeartbeatFrom {
        /// The sample.
        wire: HeartbeatWire,
        /// The heartbeat writer's GUID.
        sender: [u8; 16],
    },
    /// The advert instance was disposed (the producer left cleanly), by an
    /// advert writer not named: removes the entry whoever published it.
    Disposed(AdvertKey),
    /// The advert instance was disposed or unregistered by the advert
    /// writer `sender`: ignored unless `sender` published the entry's
    /// current advert.
    DisposedBy {
        /// Which instance.
        key: AdvertKey,
        /// The advert writer's GUID (the sample's `publication_handle`).
        sender: [u8; 16],
    },
    /// A supervisor's word that a dead child's producers FAILED, and the
    /// GUID of the writer that sent it: applied to the adverts that name
    /// that writer's participant (its GUID prefix) as their supervisor,
    /// rejected for the others (see the module doc, *FAILED on behalf*).
    FailedOnBehalf {
        /// The sample.
        wire: FailedOnBehalfWire,
        /// The writer's GUID (the sample's `writer_guid`).
        sender: [u8; 16],
    },
    /// The reconfiguration engine isolated or released a producer (see
    /// [`crate::reconfig`]).
    Isolation(IsolationWire),
    /// The reconfiguration engine overrode (or, with an empty set, stopped
    /// overriding) some capabilities of a producer (see
    /// [`crate::reconfig`]).
    CapabilityOverride(CapabilityOverrideWire),
    /// Bytes on a vigil topic that did not even decode as a wire struct.
    Malformed {
        /// Where they came from (topic, writer GUID).
        source: String,
        /// What the decoder said.
        error: String,
    },
}

/// What an input or the passing of time changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum RegistryChange {
    /// A new entry.
    Added(AdvertKey),
    /// An entry got a new advert.
    Updated(AdvertKey),
    /// An entry's effective health state changed.
    HealthChanged {
        /// Which.
        key: AdvertKey,
        /// Before.
        old: State,
        /// After.
        new: State,
    },
    /// An entry's lease expired.
    Unreachable(AdvertKey),
    /// An unreachable entry was heard from again.
    Reachable(AdvertKey),
    /// An entry was disposed or stayed unreachable for the grace period.
    Removed(AdvertKey),
    /// An input was rejected; the registry kept its last good state.
    Rejected {
        /// Which message.
        what: String,
        /// Why.
        error: String,
    },
    /// A well-formed input was refused on trust grounds (a hijack, a bad
    /// or missing signature); the registry kept its last good state.
    Refused {
        /// The producer id it claimed.
        producer: String,
        /// The topic it claimed; empty for a heartbeat.
        topic: String,
        /// Why, as a code.
        reason: Refusal,
        /// Why, for people.
        error: String,
    },
}

impl RegistryChange {
    /// The entry it is about, if any.
    pub fn key(&self) -> Option<&AdvertKey> {
        match self {
            RegistryChange::Added(k)
            | RegistryChange::Updated(k)
            | RegistryChange::Unreachable(k)
            | RegistryChange::Reachable(k)
            | RegistryChange::Removed(k)
            | RegistryChange::HealthChanged { key: k, .. } => Some(k),
            RegistryChange::Rejected { .. } | RegistryChange::Refused { .. } => None,
        }
    }
}

/// Counters for `vigil monitor` and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RegistryStats {
    /// Entries held now.
    pub adverts: usize,
    /// Of those, reachable now.
    pub reachable: usize,
    /// Inputs rejected since the start.
    pub rejected: u64,
    /// Valid heartbeats received since the start.
    pub heartbeats: u64,
    /// Stale adverts ignored since the start.
    pub stale: u64,
    /// Disposes ignored since the start because another advert writer
    /// published the entry's current advert (a late goodbye of an earlier
    /// incarnation).
    pub disposes_ignored: u64,
    /// Adverts made FAILED by their supervisor since the start.
    pub on_behalf_accepted: u64,
    /// "FAILED on behalf of" refused since the start, per advert, because
    /// its sender is not the supervisor the advert names (also counted in
    /// `rejected`).
    pub on_behalf_rejected: u64,
    /// Inputs refused on trust grounds since the start, by reason (not
    /// counted in `rejected`).
    pub refused: RefusedStats,
    /// Inputs the trust mode `warn` accepted but `enforce` would have
    /// refused, by reason.
    pub warned: RefusedStats,
}

/// One entry: the latest good advert and what liveness made of it.
#[derive(Clone, Debug)]
struct Entry {
    advert: Arc<Advert>,
    /// A heartbeat's state that differs from the advert's, until the next
    /// advert.
    heartbeat_state: Option<State>,
    last_heard: Timestamp,
    reachable: bool,
    /// Lease expiry while reachable, removal time while unreachable.
    deadline: Timestamp,
    last_heartbeat: Option<u64>,
    /// The advert writer that sent `advert`, when the input said: only its
    /// dispose removes the entry.
    sender: Option<[u8; 16]>,
    /// Why its supervisor said it FAILED, until the next fresh advert.
    failed_on_behalf: Option<Arc<str>>,
    /// A newcomer refused as a hijack while this entry is alive: it takes
    /// over when the holder goes (see the module doc, *No hijacking*).
    pending: Option<Pending>,
    /// What its advert's signature proved.
    proof: Option<AdvertProof>,
    /// Where its heartbeats' hash chain is (signed adverts under a policy).
    chain: Option<ChainCheck>,
    /// Why the reconfiguration engine isolated its producer, until released.
    isolated: Option<Arc<str>>,
    /// The capabilities the reconfiguration engine overrides, until cleared.
    overrides: Option<Arc<Capabilities>>,
}

/// A refused newcomer waiting for the holder to go.
#[derive(Clone, Debug)]
struct Pending {
    advert: Arc<Advert>,
    sender: Option<[u8; 16]>,
    proof: Option<AdvertProof>,
    last_heard: Timestamp,
}

impl Pending {
    fn alive_at(&self, now: Timestamp) -> bool {
        now < self.last_heard + self.advert.lease
    }
}

/// Whether two writers, when both are known, belong to one participant
/// (the first 12 bytes of a GUID are its participant's prefix).
fn same_participant(a: Option<[u8; 16]>, b: Option<[u8; 16]>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a[..12] == b[..12],
        _ => true,
    }
}

impl Entry {
    fn view(&self) -> EntryView {
        EntryView::new(
            self.advert.clone(),
            self.heartbeat_state,
            self.failed_on_behalf.clone(),
            self.isolated.clone(),
            self.overrides.clone(),
            self.last_heard,
            self.reachable,
        )
    }

    fn effective_state(&self) -> State {
        self.view().health.state
    }
}

/// What only mutations touch.
#[derive(Debug, Default)]
struct Inner {
    /// Topics of each producer, for heartbeats.
    by_producer: HashMap<String, BTreeSet<String>>,
    /// `(deadline, key)` of every entry.
    deadlines: BTreeSet<(Timestamp, AdvertKey)>,
    /// Time never goes back before the latest input.
    now: Timestamp,
    /// The newest signed advert accepted per key, kept after the entry
    /// goes: an older one is a replay, and so is the same one from another
    /// participant.
    seen: HashMap<AdvertKey, Seen>,
    /// Isolated producers and why: kept apart from the entries, so that an
    /// isolation outlives the producer's restarts and precedes its advert.
    isolated: HashMap<String, Arc<str>>,
    /// Overridden capabilities per producer: kept apart from the entries
    /// for the same reason as `isolated`.
    overrides: HashMap<String, Arc<Capabilities>>,
}

/// The newest signed advert accepted for a key: when it was signed and
/// which advert writer sent it.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    timestamp_ns: u64,
    sender: Option<[u8; 16]>,
}

impl Seen {
    /// Notes an accepted signed advert.
    fn accept(&mut self, timestamp_ns: u64, sender: Option<[u8; 16]>) {
        if timestamp_ns > self.timestamp_ns {
            *self = Seen {
                timestamp_ns,
                sender,
            };
        }
    }

    /// Why an advert signed at `timestamp_ns`, sent by `sender`, replays
    /// one accepted before: older than the newest, or the newest itself
    /// from another participant. A producer that restarts signs a fresh
    /// advert; the same one sent again by its own participant (its once
    /// a second repeat, or after a partition healed) is no replay. This
    /// holds after the entry went: the last advert of a dead producer,
    /// captured and sent again, does not bring it back.
    fn replayed_by(&self, timestamp_ns: u64, sender: Option<[u8; 16]>) -> Option<String> {
        if timestamp_ns < self.timestamp_ns {
            Some(format!(
                "signed at {timestamp_ns} ns, older than the advert of {} ns already accepted",
                self.timestamp_ns
            ))
        } else if timestamp_ns == self.timestamp_ns && !same_participant(self.sender, sender) {
            Some(format!(
                "the advert signed at {timestamp_ns} ns, already accepted from another \
                 participant, sent again"
            ))
        } else {
            None
        }
    }
}

/// The concurrent registry of adverts (see the module doc).
///
/// ```
/// use vigil_diag::Timestamp;
/// use vigil_discovery::{Registry, RegistryConfig, RegistryInput, RegistryChange};
///
/// let registry = Registry::new(RegistryConfig::default());
/// // Bad input is rejected, counted, and costs nothing held.
/// let changes = registry.apply(
///     RegistryInput::Malformed { source: "a sample".into(), error: "truncated".into() },
///     Timestamp::from_nanos(1),
/// );
/// assert!(matches!(changes.as_slice(), [RegistryChange::Rejected { .. }]));
/// assert_eq!(registry.stats().rejected, 1);
/// assert!(registry.is_empty());
/// ```
#[derive(Debug)]
pub struct Registry {
    config: RegistryConfig,
    entries: DashMap<AdvertKey, Entry>,
    /// Node reports of reachable entries, by path.
    reports: Reports,
    inner: Mutex<Inner>,
    reachable: AtomicUsize,
    rejected: AtomicU64,
    heartbeats: AtomicU64,
    stale: AtomicU64,
    disposes_ignored: AtomicU64,
    on_behalf_accepted: AtomicU64,
    on_behalf_rejected: AtomicU64,
    /// By [`Refusal::index`].
    refused: [AtomicU64; 6],
    /// Would have been refused under `enforce`, by [`Refusal::index`].
    warned: [AtomicU64; 6],
    policy: PolicySlot,
    verifier: Verifier,
    refusals: RefusalFeed,
}

impl Registry {
    /// An empty registry.
    pub fn new(config: RegistryConfig) -> Registry {
        Registry::with_policy_slot(config, PolicySlot::default())
    }

    /// An empty registry whose trust policy is the one `slot` holds, now
    /// and after every [`PolicySlot::set`]: a host that checks other
    /// inputs against the same policy (the Zenoh bridge's Zenoh adverts)
    /// reloads both at once.
    pub fn with_policy_slot(config: RegistryConfig, slot: PolicySlot) -> Registry {
        Registry {
            config,
            entries: DashMap::new(),
            reports: Reports::default(),
            inner: Mutex::new(Inner::default()),
            reachable: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
            heartbeats: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            disposes_ignored: AtomicU64::new(0),
            on_behalf_accepted: AtomicU64::new(0),
            on_behalf_rejected: AtomicU64::new(0),
            refused: Default::default(),
            warned: Default::default(),
            policy: slot,
            verifier: Verifier::new(),
            refusals: RefusalFeed::default(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the maps
        // consistent (every mutation is completed before the next line), so
        // a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies one input received at `now`.
    pub fn apply(&self, input: RegistryInput, now: Timestamp) -> Vec<RegistryChange> {
        let mut inner = self.lock();
        inner.now = inner.now.max(now);
        let now = inner.now;
        let mut changes = Vec::new();
        match input {
            RegistryInput::Advert(wire) => {
                self.advert_wire(&mut inner, &wire, None, now, &mut changes)
            }
            RegistryInput::AdvertFrom { wire, sender } => {
                self.advert_wire(&mut inner, &wire, Some(sender), now, &mut changes)
            }
            RegistryInput::Heartbeat(wire) => {
                self.heartbeat_wire(&mut inner, &wire, None, now, &mut changes)
            }
            RegistryInput::HeartbeatFrom { wire, sender } => {
                self.heartbeat_wire(&mut inner, &wire, Some(sender), now, &mut changes)
            }
            RegistryInput::Disposed(key) => self.disposed(&mut inner, key, None, now, &mut changes),
            RegistryInput::DisposedBy { key, sender } => {
                self.disposed(&mut inner, key, Some(sender), now, &mut changes)
            }
            RegistryInput::FailedOnBehalf { wire, sender } => {
                match FailedOnBehalf::from_wire(&wire) {
                    Ok(said) => {
                        let signer = self.verifier.verify_failed_on_behalf(&wire);
                        self.failed_on_behalf(&mut inner, &said, &signer, sender, now, &mut changes)
                    }
                    Err(e) => self.reject(
                        e.to_string(),
                        format!("FAILED on behalf of child {}", printable(&wire.child)),
                        &mut changes,
                    ),
                }
            }
            RegistryInput::Isolation(wire) => match wire.validate() {
                Ok(()) => self.isolation(&mut inner, &wire, &mut changes),
                Err(e) => self.reject(e.to_string(), e.what.clone(), &mut changes),
            },
            RegistryInput::CapabilityOverride(wire) => match wire.validate() {
                Ok(values) => self.capability_override(&mut inner, &wire, values, &mut changes),
                Err(e) => self.reject(e.to_string(), e.what.clone(), &mut changes),
            },
            RegistryInput::Malformed { source, error } => self.reject(error, source, &mut changes),
        }
        changes
    }

    /// The reconfiguration engine overrode some capabilities of a producer
    /// (or cleared them): every advert of it is matched and ranked on the
    /// overridden values, an `Updated` change for each.
    fn capability_override(
        &self,
        inner: &mut Inner,
        wire: &CapabilityOverrideWire,
        values: Capabilities,
        changes: &mut Vec<RegistryChange>,
    ) {
        let values = (!values.is_empty()).then(|| Arc::new(values));
        match &values {
            Some(v) => {
                tracing::info!(producer = %wire.producer, mode = %wire.mode, by = %wire.by, values = %v, "capabilities overridden");
                inner.overrides.insert(wire.producer.clone(), v.clone());
            }
            None => {
                tracing::info!(producer = %wire.producer, by = %wire.by, "capability override cleared");
                inner.overrides.remove(&wire.producer);
            }
        }
        self.each_entry_of(inner, &wire.producer, |key, entry| {
            if entry.overrides != values {
                entry.overrides = values.clone();
                changes.push(RegistryChange::Updated(key.clone()));
            }
        });
    }

    /// Calls `change` on every entry of `producer` (one per topic) and
    /// keeps what it made of it.
    fn each_entry_of(
        &self,
        inner: &Inner,
        producer: &str,
        mut change: impl FnMut(&AdvertKey, &mut Entry),
    ) {
        let Some(topics) = inner.by_producer.get(producer) else {
            return;
        };
        for topic in topics {
            let key = AdvertKey::new(producer, topic.clone());
            let Some(mut entry) = self.entries.get(&key).map(|e| e.clone()) else {
                continue;
            };
            change(&key, &mut entry);
            self.entries.insert(key, entry);
        }
    }

    /// The capabilities overridden for `producer`, if any.
    pub fn capability_overrides(&self, producer: &str) -> Option<Arc<Capabilities>> {
        self.lock().overrides.get(producer).cloned()
    }

    /// The reconfiguration engine isolated or released a producer: every
    /// advert of it is FAILED while isolated (see [`crate::reconfig`]).
    fn isolation(
        &self,
        inner: &mut Inner,
        wire: &IsolationWire,
        changes: &mut Vec<RegistryChange>,
    ) {
        let reason: Option<Arc<str>> = wire.isolated.then(|| Arc::from(wire.reason.as_str()));
        match &reason {
            Some(r) => {
                inner.isolated.insert(wire.producer.clone(), r.clone());
                tracing::info!(producer = %wire.producer, reason = %r, by = %wire.by, "producer isolated");
            }
            None => {
                inner.isolated.remove(&wire.producer);
                tracing::info!(producer = %wire.producer, by = %wire.by, "producer released");
            }
        }
        self.each_entry_of(inner, &wire.producer, |key, entry| {
            let old = entry.effective_state();
            entry.isolated = reason.clone();
            let new = entry.effective_state();
            if old != new {
                changes.push(RegistryChange::HealthChanged {
                    key: key.clone(),
                    old,
                    new,
                });
            }
        });
    }

    /// Whether `producer` is isolated, and why.
    pub fn isolated(&self, producer: &str) -> Option<Arc<str>> {
        self.lock().isolated.get(producer).cloned()
    }

    /// A supervisor's word that `said.producers` FAILED, from the writer
    /// `sender`: applied to each advert that names `sender`'s participant
    /// as its supervisor, rejected for the others; under a trust policy
    /// its `signer` must also be the producer's key or one the policy lets
    /// speak for it.
    fn failed_on_behalf(
        &self,
        inner: &mut Inner,
        said: &FailedOnBehalf,
        signer: &Signer,
        sender: [u8; 16],
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) {
        let policy = self.policy();
        let mut prefix = [0; 12];
        prefix.copy_from_slice(&sender[..12]);
        let reason: Arc<str> = Arc::from(said.reason.as_str());
        for producer in &said.producers {
            let Some(topics) = inner.by_producer.get(producer).cloned() else {
                tracing::debug!(%producer, child = %printable(&said.child),
                    "FAILED on behalf of a producer not known here; skipped");
                continue;
            };
            for topic in topics {
                let key = AdvertKey::new(producer.clone(), topic.clone());
                let Some(mut entry) = self.entries.get(&key).map(|e| e.clone()) else {
                    continue;
                };
                if entry.advert.supervisor != Some(prefix) {
                    self.on_behalf_rejected.fetch_add(1, Ordering::Relaxed);
                    let named = entry.advert.supervisor.map_or_else(
                        || "names no supervisor".to_owned(),
                        |s| format!("names supervisor {}", hex(&s)),
                    );
                    let error = format!(
                        "sent by participant {}, but the advert {named}",
                        hex(&prefix)
                    );
                    self.reject(
                        error,
                        format!(
                            "FAILED on behalf of {key} (child {})",
                            printable(&said.child)
                        ),
                        changes,
                    );
                    continue;
                }
                if let trusted::Verdict::Refused =
                    self.check_on_behalf(&policy, &entry, signer, &key, changes)
                {
                    continue;
                }
                if entry.advert.timestamp_ns > said.timestamp_ns {
                    self.stale.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%key, "FAILED on behalf older than the held advert ignored");
                    continue;
                }
                let old_state = entry.effective_state();
                entry.failed_on_behalf = Some(reason.clone());
                self.on_behalf_accepted.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%key, reason = %said.reason, "FAILED, said by its supervisor");
                // Its restarted successor may already be waiting.
                if self.promote(inner, &key, &mut entry, now, changes) {
                    continue;
                }
                let new_state = entry.effective_state();
                self.entries.insert(key.clone(), entry);
                if old_state != new_state {
                    changes.push(RegistryChange::HealthChanged {
                        key,
                        old: old_state,
                        new: new_state,
                    });
                }
            }
        }
    }

    fn advert_wire(
        &self,
        inner: &mut Inner,
        wire: &AdvertWire,
        sender: Option<[u8; 16]>,
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) {
        let advert = match Advert::from_wire(wire) {
            Ok(advert) => advert,
            Err(e) => return self.reject(e.to_string(), wire_what(wire), changes),
        };
        let policy = self.policy();
        let Ok(proof) = self.check_advert(&policy, wire, changes) else {
            return;
        };
        // A signed advert older than one already accepted for its key, or
        // the same from another participant.
        if let Some(proof) = proof.filter(|_| policy.mode != TrustMode::Off) {
            let seen = inner.seen.get(&advert.key).copied().unwrap_or_default();
            if let Some(why) = seen.replayed_by(advert.timestamp_ns, sender) {
                let error = format!("{why} (key {})", proof.key);
                let failed = (Refusal::Replayed, error);
                let (p, t) = (&advert.key.producer, &advert.key.topic);
                if let trusted::Verdict::Refused =
                    self.failed_check(policy.mode, p, t, failed, changes)
                {
                    return;
                }
            }
        }
        self.advert(inner, advert, sender, proof, policy.mode, now, changes)
    }

    /// A dispose: removes the entry unless another advert writer than
    /// `sender` published it (both known).
    fn disposed(
        &self,
        inner: &mut Inner,
        key: AdvertKey,
        sender: Option<[u8; 16]>,
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) {
        let Some(mut entry) = self.entries.get(&key).map(|e| e.clone()) else {
            return;
        };
        if let (Some(sender), Some(publisher)) = (sender, entry.sender) {
            if sender != publisher {
                self.disposes_ignored.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%key, sender = %hex(&sender), publisher = %hex(&publisher),
                    "dispose from another advert writer than the current advert's ignored");
                return;
            }
        }
        // The holder withdrew: a waiting successor takes over at once.
        if self.promote(inner, &key, &mut entry, now, changes) {
            return;
        }
        self.remove(inner, &key);
        changes.push(RegistryChange::Removed(key));
    }

    /// Hands `entry` (the held one, already out of date or going) to its
    /// pending successor if that is still alive at `now`, and stores it.
    /// Returns whether it did; without a live successor nothing is stored.
    fn promote(
        &self,
        inner: &mut Inner,
        key: &AdvertKey,
        entry: &mut Entry,
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) -> bool {
        let Some(pending) = entry.pending.take() else {
            return false;
        };
        if !pending.alive_at(now) {
            return false;
        }
        let old_state = entry.effective_state();
        if entry.reachable {
            self.reports.remove(&entry.advert);
        } else {
            self.reachable.fetch_add(1, Ordering::Relaxed);
        }
        inner.deadlines.remove(&(entry.deadline, key.clone()));
        entry.chain = trusted::next_chain(None, None, pending.proof.as_ref());
        entry.proof = pending.proof;
        entry.advert = pending.advert;
        entry.sender = pending.sender;
        entry.last_heard = pending.last_heard;
        entry.deadline = pending.last_heard + entry.advert.lease;
        entry.reachable = true;
        entry.heartbeat_state = None;
        entry.last_heartbeat = None;
        entry.failed_on_behalf = None;
        inner.deadlines.insert((entry.deadline, key.clone()));
        self.reports.add(&entry.advert);
        let new_state = entry.effective_state();
        tracing::info!(%key, "the producer's holder went; its waiting successor took over");
        self.entries.insert(key.clone(), entry.clone());
        changes.push(RegistryChange::Updated(key.clone()));
        if old_state != new_state {
            changes.push(RegistryChange::HealthChanged {
                key: key.clone(),
                old: old_state,
                new: new_state,
            });
        }
        true
    }

    /// Counts, logs and reports a refusal.
    fn refuse(
        &self,
        producer: &str,
        topic: &str,
        reason: Refusal,
        error: String,
        changes: &mut Vec<RegistryChange>,
    ) {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
        self.refusals.push(RefusalNote {
            producer: producer.to_owned(),
            reason,
        });
        tracing::warn!(producer = %printable(producer), topic = %printable(topic),
            %reason, %error, "refused input; last good state kept");
        changes.push(RegistryChange::Refused {
            producer: producer.to_owned(),
            topic: topic.to_owned(),
            reason,
            error,
        });
    }

    fn reject(&self, error: String, what: String, changes: &mut Vec<RegistryChange>) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(what = %what, error = %error, "rejected input; last good state kept");
        changes.push(RegistryChange::Rejected { what, error });
    }

    // The inputs of one advert, each needed: grouping them would only move
    // the list into a struct built for this one call.
    #[allow(clippy::too_many_arguments)]
    fn advert(
        &self,
        inner: &mut Inner,
        advert: Advert,
        sender: Option<[u8; 16]>,
        proof: Option<AdvertProof>,
        mode: TrustMode,
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) {
        let key = advert.key.clone();
        let held = self.entries.get(&key).map(|e| e.clone());
        if proof.is_some() {
            let seen = inner.seen.entry(key.clone()).or_default();
            if held.is_none() {
                seen.accept(advert.timestamp_ns, sender);
            }
        }
        let Some(old) = held else {
            let entry = Entry {
                proof,
                chain: trusted::next_chain(None, None, proof.as_ref()),
                deadline: now + advert.lease,
                advert: Arc::new(advert),
                heartbeat_state: None,
                last_heard: now,
                reachable: true,
                last_heartbeat: None,
                sender,
                failed_on_behalf: None,
                pending: None,
                isolated: inner.isolated.get(&key.producer).cloned(),
                overrides: inner.overrides.get(&key.producer).cloned(),
            };
            inner
                .by_producer
                .entry(key.producer.clone())
                .or_default()
                .insert(key.topic.clone());
            inner.deadlines.insert((entry.deadline, key.clone()));
            self.reports.add(&entry.advert);
            self.reachable.fetch_add(1, Ordering::Relaxed);
            self.entries.insert(key.clone(), entry);
            changes.push(RegistryChange::Added(key));
            return;
        };
        let same_writer = old.advert.writer_guid == advert.writer_guid;
        let same_key = matches!((&old.proof, &proof), (Some(a), Some(b)) if a.key == b.key);
        if !same_writer && old.reachable && old.failed_on_behalf.is_none() && !same_key {
            self.hijack(&key, old, advert, sender, proof, now, changes);
            return;
        }
        // A signed advert no newer than the held one, sent again from
        // another participant: a captured advert replayed.
        let not_newer = same_writer && advert.sequence <= old.advert.sequence;
        if not_newer && mode != TrustMode::Off && Self::replayed(&old, proof.as_ref(), sender) {
            let error = format!(
                "sequence {} (held: {}) sent again by another participant than the producer's",
                advert.sequence, old.advert.sequence
            );
            let failed = (Refusal::Replayed, error);
            if let trusted::Verdict::Refused =
                self.failed_check(mode, &key.producer, &key.topic, failed, changes)
            {
                return;
            }
        }
        if same_writer && advert.sequence < old.advert.sequence {
            self.stale.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%key, sequence = advert.sequence, held = old.advert.sequence, "stale advert ignored");
            return;
        }
        if same_writer && advert.sequence == old.advert.sequence {
            if *old.advert != advert {
                let error = format!("sequence {} reused with different content", advert.sequence);
                self.reject(error, format!("advert {key}"), changes);
                return;
            }
            // A repeat: only a sign of life (from the writer that sent it
            // last, should the advert have changed writers).
            let mut entry = old;
            entry.sender = sender;
            if self.heard(inner, &key, &mut entry, now, changes) {
                self.reports.add(&entry.advert);
            }
            self.entries.insert(key, entry);
            return;
        }
        let old_state = old.effective_state();
        let mut entry = old.clone();
        // Reachable or not (an unreachable one votes UNKNOWN), the old
        // advert's reports go: the new one's replace them.
        self.reports.remove(&old.advert);
        if proof.is_some() {
            inner
                .seen
                .entry(key.clone())
                .or_default()
                .accept(advert.timestamp_ns, sender);
        }
        entry.chain = trusted::next_chain(old.chain.as_ref(), old.proof.as_ref(), proof.as_ref());
        entry.proof = proof;
        entry.advert = Arc::new(advert);
        entry.sender = sender;
        entry.heartbeat_state = None;
        // A fresh advert: the producer speaks for itself again.
        entry.failed_on_behalf = None;
        if !same_writer {
            entry.last_heartbeat = None;
            entry.pending = None;
        }
        self.heard(inner, &key, &mut entry, now, changes);
        // Reachable now in any case: the new advert's reports count.
        self.reports.add(&entry.advert);
        let new_state = entry.effective_state();
        self.entries.insert(key.clone(), entry);
        changes.push(RegistryChange::Updated(key.clone()));
        if old_state != new_state {
            changes.push(RegistryChange::HealthChanged {
                key,
                old: old_state,
                new: new_state,
            });
        }
    }

    /// An advert from another writer than the live holder's: refused and
    /// kept as the pending successor (see the module doc, *No hijacking*).
    // As `advert`, whose inputs it takes over.
    #[allow(clippy::too_many_arguments)]
    fn hijack(
        &self,
        key: &AdvertKey,
        mut held: Entry,
        advert: Advert,
        sender: Option<[u8; 16]>,
        proof: Option<AdvertProof>,
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) {
        let error = format!(
            "producer {key} is live, advertised by writer {}; an advert from writer {} \
             waits until it withdraws or its lease expires",
            hex(&held.advert.writer_guid),
            hex(&advert.writer_guid)
        );
        self.refuse(&key.producer, &key.topic, Refusal::Hijack, error, changes);
        held.pending = Some(Pending {
            advert: Arc::new(advert),
            sender,
            proof,
            last_heard: now,
        });
        self.entries.insert(key.clone(), held);
    }

    /// Records a sign of life: pushes the lease deadline and brings an
    /// unreachable entry back. Returns whether it came back (its node
    /// reports then need adding again).
    fn heard(
        &self,
        inner: &mut Inner,
        key: &AdvertKey,
        entry: &mut Entry,
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) -> bool {
        inner.deadlines.remove(&(entry.deadline, key.clone()));
        entry.last_heard = now;
        entry.deadline = now + entry.advert.lease;
        inner.deadlines.insert((entry.deadline, key.clone()));
        if entry.reachable {
            return false;
        }
        entry.reachable = true;
        self.reachable.fetch_add(1, Ordering::Relaxed);
        changes.push(RegistryChange::Reachable(key.clone()));
        true
    }

    fn heartbeat_wire(
        &self,
        inner: &mut Inner,
        wire: &HeartbeatWire,
        sender: Option<[u8; 16]>,
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) {
        match Heartbeat::from_wire(wire) {
            Ok(hb) => {
                let auth = HeartbeatAuth::decode(&wire.auth);
                let mode = self.policy().mode;
                self.heartbeat(inner, &hb, sender, (mode, &auth), now, changes)
            }
            Err(e) => self.reject(
                e.to_string(),
                format!("heartbeat {}", printable(&wire.producer)),
                changes,
            ),
        }
    }

    fn heartbeat(
        &self,
        inner: &mut Inner,
        hb: &Heartbeat,
        sender: Option<[u8; 16]>,
        (mode, auth): (TrustMode, &Result<Option<HeartbeatAuth>, String>),
        now: Timestamp,
        changes: &mut Vec<RegistryChange>,
    ) {
        self.heartbeats.fetch_add(1, Ordering::Relaxed);
        let Some(mut topics) = inner.by_producer.get(&hb.producer).cloned() else {
            tracing::trace!(producer = %hb.producer, "heartbeat before any advert; ignored");
            return;
        };
        if !hb.topic.is_empty() {
            // Since wire revision 5 a heartbeat names its advert: the
            // producer's other topics live and die on their own.
            topics.retain(|topic| *topic == hb.topic);
        }
        for topic in topics {
            let key = AdvertKey::new(hb.producer.clone(), topic);
            let Some(mut entry) = self.entries.get(&key).map(|e| e.clone()) else {
                continue;
            };
            if !same_participant(entry.sender, sender) {
                // Another process under this producer id: a sign of life
                // for the successor it may have advertised, nothing else.
                if let Some(pending) = entry.pending.as_mut() {
                    if same_participant(pending.sender, sender) {
                        pending.last_heard = now;
                        self.entries.insert(key, entry);
                        continue;
                    }
                }
                tracing::debug!(%key, "heartbeat from another participant than the advert's ignored");
                continue;
            }
            if !self.check_heartbeat(mode, &mut entry, auth, changes) {
                // Its chain state may have moved (a refusal does not).
                continue;
            }
            let old_state = entry.effective_state();
            let newer = entry.last_heartbeat.is_none_or(|last| hb.sequence > last);
            if newer && hb.advert_sequence >= entry.advert.sequence {
                entry.heartbeat_state = (hb.state != entry.advert.health.state).then_some(hb.state);
            }
            if newer {
                entry.last_heartbeat = Some(hb.sequence);
            }
            if self.heard(inner, &key, &mut entry, now, changes) {
                self.reports.add(&entry.advert);
            }
            let new_state = entry.effective_state();
            self.entries.insert(key.clone(), entry);
            if old_state != new_state {
                changes.push(RegistryChange::HealthChanged {
                    key,
                    old: old_state,
                    new: new_state,
                });
            }
        }
    }

    /// Expires leases and grace periods due at or before `now`.
    pub fn tick(&self, now: Timestamp) -> Vec<RegistryChange> {
        let mut inner = self.lock();
        inner.now = inner.now.max(now);
        let now = inner.now;
        let mut changes = Vec::new();
        while let Some((deadline, key)) = inner.deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            inner.deadlines.pop_first();
            let Some(mut entry) = self.entries.get(&key).map(|e| e.clone()) else {
                continue;
            };
            if entry.reachable && self.promote(&mut inner, &key, &mut entry, now, &mut changes) {
                continue;
            }
            if entry.reachable {
                let old_state = entry.effective_state();
                entry.reachable = false;
                self.reachable.fetch_sub(1, Ordering::Relaxed);
                // Still an observer of what it reported, one that cannot
                // tell: a partition must not leave the observers on this
                // side to outvote the silent ones (issue 14).
                self.reports.silence(&entry.advert);
                // Grace counts from the lease expiry, not from this tick, so
                // a late tick does not keep a dead producer longer.
                entry.deadline = deadline + self.config.grace;
                inner.deadlines.insert((entry.deadline, key.clone()));
                self.entries.insert(key.clone(), entry);
                changes.push(RegistryChange::Unreachable(key.clone()));
                if old_state != State::Unknown {
                    changes.push(RegistryChange::HealthChanged {
                        key,
                        old: old_state,
                        new: State::Unknown,
                    });
                }
            } else {
                self.remove(&mut inner, &key);
                changes.push(RegistryChange::Removed(key));
            }
        }
        changes
    }

    /// The next time [`Registry::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.lock().deadlines.first().map(|(t, _)| *t)
    }

    fn remove(&self, inner: &mut Inner, key: &AdvertKey) {
        let Some((_, entry)) = self.entries.remove(key) else {
            return;
        };
        inner.deadlines.remove(&(entry.deadline, key.clone()));
        if let Some(topics) = inner.by_producer.get_mut(&key.producer) {
            topics.remove(&key.topic);
            if topics.is_empty() {
                inner.by_producer.remove(&key.producer);
            }
        }
        if entry.reachable {
            self.reachable.fetch_sub(1, Ordering::Relaxed);
        }
        self.reports.remove(&entry.advert);
    }

    /// A snapshot of one entry.
    pub fn get(&self, key: &AdvertKey) -> Option<EntryView> {
        self.entries.get(key).map(|e| e.view())
    }

    /// Snapshots of every entry, sorted by key.
    pub fn snapshot(&self) -> Vec<EntryView> {
        let mut all: Vec<EntryView> = self.entries.iter().map(|e| e.view()).collect();
        all.sort_by(|a, b| a.advert.key.cmp(&b.advert.key));
        all
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> RegistryStats {
        RegistryStats {
            adverts: self.entries.len(),
            reachable: self.reachable.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            heartbeats: self.heartbeats.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            disposes_ignored: self.disposes_ignored.load(Ordering::Relaxed),
            on_behalf_accepted: self.on_behalf_accepted.load(Ordering::Relaxed),
            on_behalf_rejected: self.on_behalf_rejected.load(Ordering::Relaxed),
            refused: RefusedStats::from_counts(
                self.refused.each_ref().map(|c| c.load(Ordering::Relaxed)),
            ),
            warned: RefusedStats::from_counts(
                self.warned.each_ref().map(|c| c.load(Ordering::Relaxed)),
            ),
        }
    }

    /// What the adverts (unreachable ones as UNKNOWN) together say about `path`, voted with
    /// `quorum` (each producer is one observer).
    pub fn shared_state(&self, path: &Path, quorum: usize) -> Combined {
        self.reports.shared_state(path, quorum)
    }

    /// How many adverts report `path` (unreachable ones included).
    pub fn reporters(&self, path: &Path) -> usize {
        self.reports.reporters(path)
    }
}

fn printable(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn hex(guid: &[u8]) -> String {
    guid.iter().map(|b| format!("{b:02x}")).collect()
}

fn wire_what(wire: &AdvertWire) -> String {
    format!(
        "advert {}/{}",
        printable(&wire.key.producer),
        printable(&wire.key.topic)
    )
}
