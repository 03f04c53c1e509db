//! The flight recorder: every input of a consumer's core and every
//! decision it made, to an MCAP file, and the exact replay of such a file.
//!
//! # Layout
//!
//! - this file: [`FlightRecorder`], the [`Recorder`] a [`Selector`] hands
//!   its steps to: a bounded queue to a writer thread, so recording never
//!   blocks routing; what the queue cannot take is counted as dropped.
//! - `mcap_file`: the channels, their JSON Schemas and the writer thread
//!   (chunked, zstd, rotated at half the size bound, each later segment
//!   opened by a core snapshot from the thread's shadow core).
//! - `replay`: [`replay`], reading a file back and feeding a fresh core.
//!
//! [`Selector`]: vigil_discovery::Selector

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use vigil_discovery::{RecordedSession, RecordedStep, Recorder};

mod mcap_file;
mod replay;

#[cfg(feature = "kb")]
pub(crate) use replay::read_run;
pub use replay::{
    replay, replay_bytes, replay_what_if, Difference, Divergence, ReplayError, ReplayOutcome,
    ReplayedDecision, WhatIf, WhatIfOutcome,
};

/// How a [`FlightRecorder`] writes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RecordConfig {
    /// The file. When it reaches half of `max_bytes` it is renamed to
    /// `NAME.1.mcap` (replacing the previous one) and a new `NAME.mcap`
    /// begins: the two never hold more than `max_bytes` together. Each
    /// later segment starts with a snapshot of the core as it stood (kept
    /// by a shadow core on the writer thread), so it replays exactly on
    /// its own.
    pub path: PathBuf,
    /// The size bound of the recording on disk.
    pub max_bytes: u64,
    /// How many steps may wait for the writer; beyond that they are
    /// dropped and counted.
    pub queue: usize,
}

impl RecordConfig {
    /// `path`, at most 1 GiB, a queue of 65 536 steps.
    pub fn new(path: impl Into<PathBuf>) -> RecordConfig {
        RecordConfig {
            path: path.into(),
            max_bytes: 1 << 30,
            queue: 1 << 16,
        }
    }

    /// With this size bound.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> RecordConfig {
        self.max_bytes = max_bytes;
        self
    }

    /// With this queue length.
    pub fn with_queue(mut self, queue: usize) -> RecordConfig {
        self.queue = queue;
        self
    }
}

/// What a [`FlightRecorder`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RecordStats {
    /// Steps written.
    pub steps: u64,
    /// Steps the writer could not keep up with, dropped.
    pub dropped: u64,
    /// Bytes written, over every segment.
    pub bytes: u64,
    /// Segments begun (1 + rotations).
    pub segments: u64,
}

/// Errors of the flight recorder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The file could not be created or written.
    #[error("recording to {path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The MCAP writer failed.
    #[error("recording to {path}: {source}")]
    Mcap {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: mcap::McapError,
    },
    /// The size bound is too small to hold even one chunk per segment.
    #[error("--record-max {max_bytes} bytes: at least {min} needed")]
    TooSmall {
        /// Asked.
        max_bytes: u64,
        /// The least accepted.
        min: u64,
    },
}

/// The least size bound: two segments of a few chunks each.
pub const MIN_RECORD_BYTES: u64 = 64 << 10;

pub(crate) enum Msg {
    Session(Box<RecordedSession>),
    Step(Box<(u64, RecordedStep)>),
    Supervisor(Box<serde_json::Value>),
    Finish,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) steps: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) segments: AtomicU64,
}

/// A [`Recorder`] writing an MCAP file on a thread of its own.
///
/// The routing task only numbers each step and `try_send`s it on a bounded
/// queue: it never waits for the disk. A step the queue cannot take is
/// dropped, counted in [`RecordStats::dropped`] and written to the file's
/// `/vigil/dropped` channel, so a replay knows where the record has a hole.
#[derive(Debug)]
pub struct FlightRecorder {
    tx: SyncSender<Msg>,
    /// Numbers every step offered, dropped ones included: a gap in the
    /// file's numbers is a drop.
    next_step: AtomicU64,
    counters: Arc<Counters>,
    writer: Mutex<Option<JoinHandle<Result<(), RecordError>>>>,
}

impl FlightRecorder {
    /// Creates the file and starts the writer thread.
    pub fn create(config: RecordConfig) -> Result<Arc<FlightRecorder>, RecordError> {
        if config.max_bytes < MIN_RECORD_BYTES {
            return Err(RecordError::TooSmall {
                max_bytes: config.max_bytes,
                min: MIN_RECORD_BYTES,
            });
        }
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::sync_channel(config.queue.max(1));
        let segment =
            mcap_file::Segment::create(&config.path, config.max_bytes, 0, Arc::clone(&counters))?;
        let thread_counters = Arc::clone(&counters);
        let writer = std::thread::Builder::new()
            .name("vigil-recorder".into())
            .spawn(move || mcap_file::run(config, segment, rx, thread_counters))
            .map_err(|source| RecordError::Io {
                path: PathBuf::from("(recorder thread)"),
                source,
            })?;
        Ok(Arc::new(FlightRecorder {
            tx,
            next_step: AtomicU64::new(0),
            counters,
            writer: Mutex::new(Some(writer)),
        }))
    }

    /// Steps offered so far, dropped ones included: with
    /// [`RecordStats::steps`] and [`RecordStats::dropped`], how far the
    /// writer is behind (a simulation that outruns the disk waits on it).
    pub fn offered(&self) -> u64 {
        self.next_step.load(Ordering::Relaxed)
    }

    /// The counters so far.
    pub fn stats(&self) -> RecordStats {
        RecordStats {
            steps: self.counters.steps.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            bytes: self.counters.bytes.load(Ordering::Relaxed),
            segments: self.counters.segments.load(Ordering::Relaxed),
        }
    }

    /// Writes what is queued, closes the file (summary and index) and
    /// stops the thread. Steps offered afterwards are dropped.
    pub fn finish(&self) -> Result<RecordStats, RecordError> {
        // Blocking is fine here: routing is over.
        let _ = self.tx.send(Msg::Finish);
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(handle) = handle {
            match handle.join() {
                Ok(result) => result?,
                Err(_) => tracing::error!("the recorder thread panicked"),
            }
        }
        Ok(self.stats())
    }

    /// Records a supervisor's event (`{"event": "exited", "child": ...}`,
    /// as `vigil supervise --format json` prints it) on the
    /// `/vigil/supervisor` channel, at the wall clock of now. Like a step,
    /// it is dropped and counted when the writer cannot keep up.
    pub fn supervisor_event(&self, event: serde_json::Value) {
        self.offer(Msg::Supervisor(Box::new(event)));
    }

    fn offer(&self, msg: Msg) {
        match self.tx.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Recorder for FlightRecorder {
    fn session(&self, session: RecordedSession) {
        // The session is what makes the file replayable: worth a wait if
        // the queue is full (it never is this early).
        let _ = self.tx.send(Msg::Session(Box::new(session)));
    }

    fn step(&self, step: RecordedStep) {
        let n = self.next_step.fetch_add(1, Ordering::Relaxed);
        self.offer(Msg::Step(Box::new((n, step))));
    }
}

/// `NAME.mcap` -> `NAME.1.mcap`: where the previous segment goes.
pub(crate) fn rotated_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mcap".into());
    path.with_file_name(format!("{stem}.1.{ext}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use vigil_diag::Timestamp;
    use vigil_discovery::{RecordedInput, Replayer, SwitchPolicy};

    use super::*;

    fn session() -> RecordedSession {
        RecordedSession::new(
            None,
            &SwitchPolicy::default(),
            Duration::ZERO,
            Duration::from_secs(10),
            Timestamp::from_nanos(0),
        )
    }

    /// Records what a real core decides on `n` malformed inputs (each with
    /// text of its own, so they do not compress away).
    fn record(config: RecordConfig, n: u64) -> RecordStats {
        let recorder = FlightRecorder::create(config).unwrap();
        let session = session();
        let mut core = Replayer::new(&session).unwrap();
        recorder.session(session);
        for i in 0..n {
            let at = Timestamp::from_nanos(1_000 * (i + 1));
            let input = RecordedInput::Malformed {
                source: format!("sample {i}"),
                error: format!("{:x}", (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            };
            let (changes, events) = core.step(at, &input);
            recorder.step(RecordedStep {
                at,
                input,
                changes,
                events,
                breakers: core.take_breaker_events(),
            });
        }
        recorder.finish().unwrap()
    }

    #[test]
    fn a_recording_replays_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.mcap");
        let stats = record(RecordConfig::new(&path), 500);
        assert_eq!((stats.steps, stats.dropped, stats.segments), (500, 0, 1));
        let outcome = replay(&path, |_| {}).unwrap();
        assert_eq!((outcome.steps, outcome.decisions), (500, 500));
        assert_eq!(outcome.divergence, None);
        assert_eq!(outcome.damage, None);
    }

    #[test]
    fn what_the_queue_cannot_take_is_counted_and_replay_stops_at_the_hole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.mcap");
        let stats = record(RecordConfig::new(&path).with_queue(1), 20_000);
        assert_eq!(stats.steps + stats.dropped, 20_000, "{stats:?}");
        let outcome = replay(&path, |_| {}).unwrap();
        assert_eq!(outcome.divergence, None);
        if stats.dropped > 0 {
            let damage = outcome.damage.unwrap();
            assert!(damage.contains("dropped"), "{damage}");
        }
    }

    #[test]
    fn rotation_keeps_the_recording_under_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.mcap");
        let max = MIN_RECORD_BYTES;
        let stats = record(RecordConfig::new(&path).with_max_bytes(max), 20_000);
        assert!(stats.segments >= 2, "{stats:?}");
        let on_disk = std::fs::metadata(&path).unwrap().len()
            + std::fs::metadata(rotated_path(&path)).unwrap().len();
        // A segment closes at the first step past half the bound: one
        // chunk and the summary over it at most.
        assert!(on_disk <= max + 2 * (max / 8) + 16 * 1024, "{on_disk}");
        // A later segment replays on its own, from its core snapshot.
        let outcome = replay(&path, |_| {}).unwrap();
        assert_eq!(outcome.divergence, None);
        assert!(outcome.steps > 0);
    }

    /// Found by the `replay_file` fuzz target: a chunk claiming exabytes
    /// was allocated before being read.
    #[test]
    fn a_chunk_claiming_too_much_is_damage_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.mcap");
        record(RecordConfig::new(&path), 10);
        let mut bytes = std::fs::read(&path).unwrap();
        // Magic, then the header record (opcode, u64 length, body), then
        // the first chunk: opcode, u64 length, start, end, uncompressed size.
        let header_len = u64::from_le_bytes(bytes[9..17].try_into().unwrap()) as usize;
        let chunk = 8 + 1 + 8 + header_len;
        assert_eq!(bytes[chunk], 0x06, "a chunk follows the header");
        let size = chunk + 1 + 8 + 16;
        bytes[size..size + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
        let err = replay_bytes(&bytes, |_| {}).unwrap_err().to_string();
        assert!(err.contains("claims"), "{err}");
    }

    /// The demo's timeline (degrade, kill, recover, flap), `cycles` times,
    /// the last one cut after the degradation's switch, on a simulated
    /// clock: three in-process producers and a consumer recorded by
    /// `recorder`. Returns the switches the application saw.
    fn record_demo(recorder: &Arc<FlightRecorder>, cycles: usize) -> usize {
        use crate::{Consumer, Producer, Transport};
        use vigil_diag::State;
        use vigil_discovery::inproc::InProcess;
        use vigil_discovery::SyntheticSample;

        let net = InProcess::new(Default::default());
        let sim = Transport::from(net.clone());
        let imu = |id: &str, accuracy: &str| {
            Producer::<SyntheticSample>::builder("imu", id)
                .capability("accuracy", accuracy)
                .start(&sim)
                .unwrap()
        };
        let (a, _c) = (imu("imu_a", "0.001"), imu("imu_c", "0.01"));
        let policy = vigil_discovery::SwitchPolicy {
            hold_off: Duration::from_millis(200),
            wait_to_restore: Duration::from_secs(1),
            ..vigil_discovery::SwitchPolicy::default()
        };
        let mut consumer =
            Consumer::<SyntheticSample>::builder("imu WHERE health.state = OK PREFER accuracy ASC")
                .policy(policy)
                .recorder(Arc::clone(recorder) as Arc<dyn Recorder>)
                .start(&sim)
                .unwrap();
        let mut switches = 0;
        let mut run = |ms: u64| {
            net.advance(Duration::from_millis(ms));
            while let Some(event) = consumer.try_next() {
                switches += usize::from(matches!(event, crate::Event::Switched(_)));
            }
            // A simulation outruns any disk: let the writer keep up.
            while {
                let s = recorder.stats();
                s.steps + s.dropped + 10_000 < recorder.offered()
            } {
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        for cycle in 0..cycles {
            let b = imu("imu_b", "0.002");
            run(1500);
            a.set("imu_a.health", State::Degraded).unwrap();
            run(1500);
            if cycle + 1 == cycles {
                // Ends just after the hold-off's switch, so the last
                // segments of a rotated recording hold a switch.
                break;
            }
            drop(b); // killed: the lease decides
            run(1500);
            a.set("imu_a.health", State::Ok).unwrap();
            run(3000);
            for state in [State::Failed, State::Ok, State::Failed, State::Ok] {
                a.set("imu_a.health", state).unwrap();
                run(150);
            }
            // Past the grace: imu_b is gone before it starts again.
            run(6000);
        }
        switches
    }

    /// Issue 11: a library consumer on the in-process transport records
    /// like `vigil consume`, and its recording replays exactly.
    #[test]
    fn an_in_process_consumers_recording_replays_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.mcap");
        let recorder = FlightRecorder::create(RecordConfig::new(&path)).unwrap();
        let switches = record_demo(&recorder, 2);
        let stats = recorder.finish().unwrap();
        assert_eq!(stats.dropped, 0);
        let outcome = replay(&path, |_| {}).unwrap();
        assert_eq!(outcome.divergence, None);
        assert_eq!(outcome.damage, None);
        assert_eq!(outcome.steps, stats.steps);
        // Every switch the application saw is a recorded, replayed one.
        assert!(switches >= 4, "{switches} switches");
        assert_eq!(outcome.selections, switches as u64);
    }

    /// Issue 11: `--record-max` rotates, and every segment replays exactly
    /// on its own, from the core snapshot it starts with: the demo's
    /// timeline recorded in segments of a few hundred kilobytes.
    #[test]
    fn every_segment_of_a_rotated_recording_replays_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.mcap");
        let recorder =
            FlightRecorder::create(RecordConfig::new(&path).with_max_bytes(MIN_RECORD_BYTES))
                .unwrap();
        record_demo(&recorder, 6);
        let stats = recorder.finish().unwrap();
        assert_eq!(stats.dropped, 0);
        assert!(stats.segments >= 3, "{stats:?}");
        let (mut steps, mut selections) = (0, 0);
        for file in [rotated_path(&path), path.clone()] {
            let outcome = replay(&file, |_| {}).unwrap();
            assert_eq!(outcome.divergence, None, "{}", file.display());
            assert_eq!(outcome.damage, None, "{}", file.display());
            assert!(outcome.steps > 0, "{outcome:?}");
            steps += outcome.steps;
            selections += outcome.selections;
        }
        // Mid-run state (who is active, leases, flap penalties) carried
        // over by the snapshots: switches replayed in later segments.
        assert!(steps > 500 && selections > 0, "{steps} {selections}");
        // A "what if" needs the recording's start.
        let what_if = WhatIf {
            revertive: Some(false),
            ..WhatIf::default()
        };
        let err = replay_what_if(&path, &what_if, |_| {}).unwrap_err();
        assert!(err.to_string().contains("first segment"), "{err}");
    }

    #[test]
    fn too_small_a_bound_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = RecordConfig::new(dir.path().join("r.mcap")).with_max_bytes(1000);
        assert!(matches!(
            FlightRecorder::create(config),
            Err(RecordError::TooSmall { .. })
        ));
    }

    #[test]
    fn rotated_name() {
        assert_eq!(
            rotated_path(Path::new("/x/run.mcap")),
            PathBuf::from("/x/run.1.mcap")
        );
    }
}
