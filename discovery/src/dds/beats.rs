//! One heartbeat per participant (wire v2, issue 14): every advertiser of
//! a participant joins its [`Beat`], and one task sends, each period, one
//! [`HeartbeatBundleWire`] for all of them (or, while a v1 reader is on
//! the domain, their single v1 heartbeats: the negotiation of the `wire`
//! module doc, *Wire v2*).
//!
//! One task and one writer per participant instead of one each per
//! advertiser: a process holding a hundred advertisers (an agent, a
//! bridge) wakes once a period, not a hundred times, and its readers
//! receive one sample where they received a hundred.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures::StreamExt;
use rustdds::dds::key::{CdrEncodingMaxSize, CdrEncodingSize};
use rustdds::{DomainParticipant, DomainParticipantStatusEvent, Key, Keyed, StatusEvented};
use tokio::task::JoinHandle;

use super::participant::CdrWriter;
use super::sample::unix_now_ns;
use super::{DdsError, VigilParticipant};
use crate::wire::{
    BundleEntryWire, BundleKeyWire, HeartbeatBundleWire, HeartbeatWire, BUNDLE_VERSION,
    HEARTBEAT_BUNDLE_TOPIC, HEARTBEAT_TOPIC, MAX_BUNDLE_ENTRIES,
};

impl Key for BundleKeyWire {}

impl CdrEncodingSize for BundleKeyWire {
    /// A sequence: unbounded, hashed with MD5 (RTPS 2.3 §9.6.3.8).
    fn cdr_encoding_max_size() -> CdrEncodingMaxSize {
        CdrEncodingMaxSize::Unbounded
    }
}

impl Keyed for HeartbeatBundleWire {
    type K = BundleKeyWire;

    fn key(&self) -> BundleKeyWire {
        BundleKeyWire {
            participant: self.participant.clone(),
            part: self.part,
        }
    }
}

/// The part number of a bundle sent out of period (a state change), so
/// it never supersedes a period's part in a reader's keep-last-1 history.
const URGENT_PART: u32 = u32::MAX;

/// What the beat asks of one advertiser.
pub(crate) trait Member: Send + Sync {
    /// Ages the tree, publishes a due advert and returns this period's
    /// heartbeat; `None` once the advertiser stopped.
    fn beat(&self, unix_ns: u64) -> Option<HeartbeatWire>;
    /// Writes the last advert again (see `ADVERT_REFRESH`).
    fn repeat(&self);
}

/// The heartbeat of one participant (see the module doc).
pub(crate) struct Beat {
    prefix: [u8; 12],
    period: Duration,
    /// `--wire-version 1`: behave as a v1 writer, single heartbeats only.
    v1_only: bool,
    /// A v1 reader is on the domain: single heartbeats, no bundles.
    v1_readers: AtomicBool,
    bundles: CdrWriter<HeartbeatBundleWire>,
    singles: CdrWriter<HeartbeatWire>,
    members: Mutex<Members>,
}

#[derive(Default)]
struct Members {
    live: Vec<Weak<dyn Member>>,
    task: Option<JoinHandle<()>>,
}

/// A poisoned lock only means another thread panicked while holding it;
/// the member list is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Beat {
    /// The beat of `participant`, with its writers (created once, by the
    /// participant's first advertiser).
    pub(crate) fn new(participant: &VigilParticipant) -> Result<Beat, DdsError> {
        let config = participant.config();
        Ok(Beat {
            prefix: participant.guid_prefix(),
            period: config.heartbeat_period,
            v1_only: config.wire_version < 2,
            v1_readers: AtomicBool::new(false),
            bundles: participant.bundle_writer()?,
            singles: participant.heartbeat_writer()?,
            members: Mutex::new(Members::default()),
        })
    }

    /// Adds an advertiser; starts the task on the current tokio runtime
    /// when none runs (the first advertiser, or all earlier ones went, or
    /// the runtime that ran it is gone).
    pub(crate) fn join(
        self: &Arc<Self>,
        member: Weak<dyn Member>,
        participant: &VigilParticipant,
        runtime: &tokio::runtime::Handle,
    ) {
        let mut members = lock(&self.members);
        members.live.push(member);
        if members.task.as_ref().is_none_or(JoinHandle::is_finished) {
            let beat = Arc::clone(self);
            let dp = participant.dds().clone();
            members.task = Some(runtime.spawn(beat.run(dp)));
        }
    }

    /// Sends one member's heartbeat now, out of period: a state change
    /// travels at once, not a period later.
    pub(crate) fn now(&self, member: &dyn Member) {
        let unix_ns = unix_now_ns();
        if let Some(beat) = member.beat(unix_ns) {
            self.send(vec![beat], unix_ns, Some(URGENT_PART));
        }
    }

    async fn run(self: Arc<Self>, dp: DomainParticipant) {
        let mut interval = tokio::time::interval(self.period);
        // After a stall, one heartbeat now is what matters, not a burst.
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(super::advertiser::ADVERT_REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate and the adverts were just published.
        refresh.tick().await;
        let listener = dp.status_listener();
        let mut events = listener.as_async_status_stream();
        let mut events_open = true;
        self.negotiate(&dp);
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    if !self.period_beat() {
                        return;
                    }
                }
                _ = refresh.tick() => {
                    for member in self.members() {
                        member.repeat();
                    }
                    self.negotiate(&dp);
                }
                event = events.next(), if events_open => match event {
                    Some(DomainParticipantStatusEvent::ReaderDetected { reader })
                        if reader.topic_name == HEARTBEAT_TOPIC
                            || reader.topic_name == HEARTBEAT_BUNDLE_TOPIC =>
                    {
                        self.negotiate(&dp);
                    }
                    Some(_) => {}
                    None => events_open = false,
                },
            }
        }
    }

    /// The live members; forgets the gone ones.
    fn members(&self) -> Vec<Arc<dyn Member>> {
        let mut members = lock(&self.members);
        let mut live = Vec::with_capacity(members.live.len());
        members.live.retain(|weak| match weak.upgrade() {
            Some(member) => {
                live.push(member);
                true
            }
            None => false,
        });
        live
    }

    /// One period: every member's heartbeat. Returns false (and the task
    /// ends) when no member is left; a later advertiser starts it again.
    fn period_beat(&self) -> bool {
        let unix_ns = unix_now_ns();
        let members = self.members();
        if members.is_empty() {
            let mut guard = lock(&self.members);
            if guard.live.is_empty() {
                // `join` sees it finished (or absent) and starts another.
                guard.task = None;
                return false;
            }
            return true;
        }
        let beats: Vec<HeartbeatWire> = members.iter().filter_map(|m| m.beat(unix_ns)).collect();
        self.send(beats, unix_ns, None);
        true
    }

    /// Writes `beats` as bundles, or as single heartbeats while v1 readers
    /// need them. `part` names the one part of an out-of-period bundle.
    fn send(&self, beats: Vec<HeartbeatWire>, unix_ns: u64, part: Option<u32>) {
        if beats.is_empty() {
            return;
        }
        if self.v1_only || self.v1_readers.load(Ordering::Relaxed) {
            for beat in beats {
                if let Err(error) = self.singles.write(beat, None) {
                    tracing::warn!(%error, topic = HEARTBEAT_TOPIC, "heartbeat not sent");
                }
            }
            return;
        }
        let mut entries = beats.into_iter().map(BundleEntryWire::of).peekable();
        let mut index = 0u32;
        while entries.peek().is_some() {
            let bundle = HeartbeatBundleWire {
                version: BUNDLE_VERSION,
                participant: self.prefix.to_vec(),
                part: part.unwrap_or(index),
                timestamp_ns: unix_ns,
                entries: entries.by_ref().take(MAX_BUNDLE_ENTRIES).collect(),
            };
            if let Err(error) = self.bundles.write(bundle, None) {
                tracing::warn!(%error, topic = HEARTBEAT_BUNDLE_TOPIC, "heartbeat bundle not sent");
            }
            index += 1;
        }
    }

    /// Looks at DDS discovery's remote readers: is a v1 reader on the
    /// domain (a participant reading single heartbeats but no bundles)?
    fn negotiate(&self, dp: &DomainParticipant) {
        let readers = dp.discovered_readers();
        let v1 = v1_participants(readers.iter().map(|reader| {
            (
                reader.reader_proxy.remote_reader_guid.prefix,
                reader.subscription_topic_data.topic_name().as_str(),
            )
        }));
        let was = self.v1_readers.swap(v1 > 0, Ordering::Relaxed);
        if was != (v1 > 0) {
            tracing::info!(
                v1_readers = v1,
                "heartbeats now {}",
                if v1 > 0 {
                    "single (v1 readers on the domain)"
                } else {
                    "bundled"
                }
            );
        }
    }
}

/// How many participants among `readers` (participant, topic read) are
/// v1 readers: they read single heartbeats and no bundles.
fn v1_participants<'a, P: std::hash::Hash + Eq>(
    readers: impl Iterator<Item = (P, &'a str)>,
) -> usize {
    let mut topics: HashMap<P, (bool, bool)> = HashMap::new();
    for (participant, topic) in readers {
        let reads = topics.entry(participant).or_default();
        match topic {
            HEARTBEAT_TOPIC => reads.0 = true,
            HEARTBEAT_BUNDLE_TOPIC => reads.1 = true,
            _ => {}
        }
    }
    topics
        .values()
        .filter(|(singles, bundles)| *singles && !bundles)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_reader_reads_single_heartbeats_and_no_bundles() {
        let v1 = |readers: &[(u8, &'static str)]| v1_participants(readers.iter().copied());
        assert_eq!(v1(&[]), 0);
        // A v2 reader reads both.
        assert_eq!(v1(&[(1, HEARTBEAT_BUNDLE_TOPIC), (1, HEARTBEAT_TOPIC)]), 0);
        assert_eq!(
            v1(&[
                (1, HEARTBEAT_BUNDLE_TOPIC),
                (1, HEARTBEAT_TOPIC),
                (2, HEARTBEAT_TOPIC),
                (3, "vigil_adverts"),
            ]),
            1
        );
    }
}
