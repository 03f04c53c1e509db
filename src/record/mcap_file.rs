//! The recording's MCAP layout and its writer thread.
//!
//! JSON messages, one JSON Schema per channel: Foxglove and the `mcap` CLI
//! show them with no vigil code, next to a rosbag2 recording of the same
//! robot. Chunked and zstd-compressed: JSON of repeated adverts and
//! heartbeats compresses about tenfold, and the chunk index lets a reader
//! seek by time. `log_time` is the wall clock (what other recordings of
//! the robot use); each message also carries `at_ns`, the core's monotonic
//! time, which is what a replay feeds the core.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use vigil_discovery::{CoreSnapshot, RecordedSession, RecordedStep, Replayer};

use super::{rotated_path, Counters, Msg, RecordConfig, RecordError};

pub(crate) const SESSION: &str = "/vigil/session";
pub(crate) const INPUT: &str = "/vigil/input";
pub(crate) const REGISTRY_CHANGE: &str = "/vigil/registry_change";
pub(crate) const SELECTION: &str = "/vigil/selection";
pub(crate) const DROPPED: &str = "/vigil/dropped";
pub(crate) const SUPERVISOR: &str = "/vigil/supervisor";
pub(crate) const BREAKER: &str = "/vigil/breaker";

/// The format of the messages' JSON; a replay refuses others.
pub(crate) const FORMAT: u32 = 1;

/// Each channel with its schema: the envelope every message shares
/// (`step`, `at_ns`, `wall_ns`) and what it carries.
fn schemas() -> [(&'static str, &'static str, serde_json::Value); 7] {
    let envelope = |title: &str, key: &str, body: serde_json::Value| {
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "type": "object",
            "required": ["step", "at_ns", "wall_ns", key],
            "properties": {
                "step": {"type": "integer", "minimum": 0,
                         "description": "The input's number; decisions carry their input's."},
                "at_ns": {"type": "integer", "minimum": 0,
                          "description": "The core's monotonic clock, nanoseconds."},
                "wall_ns": {"type": "integer", "minimum": 0,
                            "description": "Wall clock, nanoseconds since the Unix epoch."},
                key: body,
            }
        })
    };
    [
        (
            SESSION,
            "vigil.Session",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "vigil.Session",
                "type": "object",
                "required": ["format", "segment", "first_step", "wall_start_ns", "session"],
                "properties": {
                    "format": {"type": "integer", "const": FORMAT},
                    "vigil": {"type": "string"},
                    "segment": {"type": "integer", "minimum": 0,
                                "description": "0 for the recording's start; later segments follow a rotation."},
                    "first_step": {"type": "integer", "minimum": 0},
                    "wall_start_ns": {"type": "integer", "minimum": 0},
                    "snapshot": {"type": ["object", "null"],
                                 "description": "A later segment's core as it stood before first_step: where its replay starts."},
                    "session": {
                        "type": "object",
                        "required": ["query", "policy", "settle_ns", "grace_ns", "start"],
                        "properties": {
                            "query": {"type": ["string", "null"]},
                            "policy": {"type": "object"},
                            "settle_ns": {"type": "integer"},
                            "grace_ns": {"type": "integer"},
                            "start": {"type": "integer"}
                        }
                    }
                }
            }),
        ),
        (
            INPUT,
            "vigil.Input",
            envelope(
                "vigil.Input",
                "input",
                json!({"type": "object", "required": ["kind"], "properties": {
                    "kind": {"enum": ["advert", "heartbeat", "disposed",
                                      "failed_on_behalf", "isolation", "malformed", "tick",
                                      "samples"]}}}),
            ),
        ),
        (
            REGISTRY_CHANGE,
            "vigil.RegistryChange",
            envelope(
                "vigil.RegistryChange",
                "change",
                json!({"type": "object", "required": ["change"], "properties": {
                    "change": {"enum": ["added", "updated", "health_changed", "unreachable",
                                        "reachable", "removed", "rejected"]}}}),
            ),
        ),
        (
            SELECTION,
            "vigil.SelectionEvent",
            envelope(
                "vigil.SelectionEvent",
                "event",
                json!({"type": "object", "required": ["at", "active", "cause"], "properties": {
                    "previous": {"type": ["object", "null"]},
                    "active": {"type": ["object", "null"]},
                    "chain": {"type": "array"},
                    "chain_len": {"type": "integer"},
                    "cause": {"type": "string"},
                    "standby": {"type": ["object", "null"]}}}),
            ),
        ),
        (
            BREAKER,
            "vigil.BreakerEvent",
            envelope(
                "vigil.BreakerEvent",
                "event",
                json!({"type": "object", "required": ["breaker", "key"], "properties": {
                    "breaker": {"enum": ["ejected", "ejection_refused", "half_open", "closed"]},
                    "key": {"type": "object"},
                    "ejections": {"type": "integer"},
                    "until": {"type": "integer"}}}),
            ),
        ),
        (
            DROPPED,
            "vigil.Dropped",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "vigil.Dropped",
                "type": "object",
                "required": ["dropped_total", "wall_ns"],
                "properties": {
                    "dropped_total": {"type": "integer", "minimum": 0,
                                      "description": "Steps the writer could not keep up with, since the start."},
                    "wall_ns": {"type": "integer"}
                }
            }),
        ),
        (
            SUPERVISOR,
            "vigil.SupervisorEvent",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "vigil.SupervisorEvent",
                "type": "object",
                "required": ["wall_ns", "event"],
                "properties": {
                    "wall_ns": {"type": "integer", "minimum": 0,
                                "description": "Wall clock, nanoseconds since the Unix epoch."},
                    "event": {"type": "object", "required": ["event"], "properties": {
                        "event": {"enum": ["started", "exited", "status", "restarting", "hung",
                                           "escalated", "stopped", "failed", "gave_up"]}}}
                }
            }),
        ),
    ]
}

/// Chunks of 512 KiB, or an eighth of the bound if that is less, so a
/// rotation overshoots half the bound by little.
fn chunk_size(max_bytes: u64) -> u64 {
    (max_bytes / 8).min(512 * 1024)
}

/// A `Write + Seek` that tells how far the file reaches.
struct Counting {
    inner: BufWriter<File>,
    pos: u64,
    len: Arc<AtomicU64>,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        self.len.fetch_max(self.pos, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Seek for Counting {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

/// One file of the recording.
pub(crate) struct Segment {
    writer: mcap::Writer<Counting>,
    channels: BTreeMap<&'static str, u16>,
    len: Arc<AtomicU64>,
    index: u64,
    path: std::path::PathBuf,
}

impl Segment {
    pub(crate) fn create(
        path: &Path,
        max_bytes: u64,
        index: u64,
        counters: Arc<Counters>,
    ) -> Result<Segment, RecordError> {
        let io = |source| RecordError::Io {
            path: path.to_owned(),
            source,
        };
        let mcap_err = |source| RecordError::Mcap {
            path: path.to_owned(),
            source,
        };
        let file = File::create(path).map_err(io)?;
        let len = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: BufWriter::with_capacity(256 * 1024, file),
            pos: 0,
            len: Arc::clone(&len),
        };
        let mut writer = mcap::WriteOptions::new()
            .profile("")
            .library(concat!("vigil ", env!("CARGO_PKG_VERSION")))
            .compression(Some(mcap::Compression::Zstd))
            .chunk_size(Some(chunk_size(max_bytes)))
            .create(counting)
            .map_err(mcap_err)?;
        let mut channels = BTreeMap::new();
        for (topic, name, schema) in schemas() {
            let schema = writer
                .add_schema(name, "jsonschema", schema.to_string().as_bytes())
                .map_err(mcap_err)?;
            let id = writer
                .add_channel(schema, topic, "json", &BTreeMap::new())
                .map_err(mcap_err)?;
            channels.insert(topic, id);
        }
        counters.segments.fetch_add(1, Ordering::Relaxed);
        Ok(Segment {
            writer,
            channels,
            len,
            index,
            path: path.to_owned(),
        })
    }

    fn write(&mut self, topic: &'static str, wall_ns: u64, body: &impl Serialize) -> bool {
        let Some(&channel_id) = self.channels.get(topic) else {
            return false;
        };
        let data = match serde_json::to_vec(body) {
            Ok(data) => data,
            Err(error) => {
                tracing::warn!(%error, topic, "an event did not serialize; not recorded");
                return false;
            }
        };
        let header = mcap::records::MessageHeader {
            channel_id,
            sequence: 0,
            log_time: wall_ns,
            publish_time: wall_ns,
        };
        match self.writer.write_to_known_channel(&header, &data) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, path = %self.path.display(), "recording failed");
                false
            }
        }
    }

    fn finish(mut self) -> Result<u64, RecordError> {
        self.writer.finish().map_err(|source| RecordError::Mcap {
            path: self.path.clone(),
            source,
        })?;
        let mut inner = self.writer.into_inner();
        inner.flush().map_err(|source| RecordError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.len.load(Ordering::Relaxed))
    }
}

/// What the writer thread keeps between messages.
struct State {
    session: Option<RecordedSession>,
    /// The same core as the recorded one, fed every step written: its
    /// snapshot starts each later segment. `None` once a step was
    /// dropped (it missed an input) or it decided otherwise than the
    /// recorded core.
    shadow: Option<Replayer>,
    wall_start_ns: u64,
    /// The dropped count last written to the file.
    dropped_written: u64,
    /// Bytes of the segments already closed.
    closed_bytes: u64,
}

impl State {
    fn wall(&self, at: vigil_diag::Timestamp) -> u64 {
        let start = self.session.as_ref().map(|s| s.start).unwrap_or_default();
        self.wall_start_ns
            .saturating_add(at.as_nanos().saturating_sub(start.as_nanos()))
    }
}

fn write_session(segment: &mut Segment, state: &State, first_step: u64) {
    if let Some(session) = &state.session {
        let snapshot: Option<CoreSnapshot> = (segment.index > 0)
            .then(|| state.shadow.as_ref().map(Replayer::snapshot))
            .flatten();
        segment.write(
            SESSION,
            state.wall_start_ns,
            &json!({
                "format": FORMAT,
                "vigil": env!("CARGO_PKG_VERSION"),
                "segment": segment.index,
                "first_step": first_step,
                "wall_start_ns": state.wall_start_ns,
                "session": session,
                "snapshot": snapshot,
            }),
        );
    }
}

/// Feeds `step` (number `n`, `expected` the next in order) to the shadow
/// core, which stops being one where it cannot follow the recorded core.
fn shadow_step(state: &mut State, n: u64, expected: u64, step: &RecordedStep) {
    let Some(shadow) = &mut state.shadow else {
        return;
    };
    if n != expected {
        tracing::warn!(
            missing = n - expected,
            "recording: steps were dropped; later segments cannot be replayed on their own"
        );
        state.shadow = None;
        return;
    }
    let (changes, events) = shadow.step(step.at, &step.input);
    let breakers = shadow.take_breaker_events();
    if changes != step.changes || events != step.events || breakers != step.breakers {
        // Cannot happen while the core is deterministic; a later segment
        // then says it cannot be rebuilt rather than replay wrong.
        tracing::error!(step = n, "recording: the shadow core decided otherwise");
        state.shadow = None;
    }
}

fn write_step(segment: &mut Segment, state: &State, n: u64, step: &RecordedStep) {
    let at_ns = step.at.as_nanos();
    let wall_ns = state.wall(step.at);
    segment.write(
        INPUT,
        wall_ns,
        &json!({"step": n, "at_ns": at_ns, "wall_ns": wall_ns, "input": step.input}),
    );
    for change in &step.changes {
        segment.write(
            REGISTRY_CHANGE,
            wall_ns,
            &json!({"step": n, "at_ns": at_ns, "wall_ns": wall_ns, "change": change}),
        );
    }
    for event in &step.events {
        segment.write(
            SELECTION,
            wall_ns,
            &json!({"step": n, "at_ns": at_ns, "wall_ns": wall_ns, "event": event}),
        );
    }
    for event in &step.breakers {
        segment.write(
            BREAKER,
            wall_ns,
            &json!({"step": n, "at_ns": at_ns, "wall_ns": wall_ns, "event": event}),
        );
    }
}

/// At half the size bound, closes `segment`, moves it to `NAME.1.mcap` and
/// begins the next one (with the session, its first step `next_step`);
/// else gives `segment` back.
fn rotate(
    segment: Segment,
    state: &mut State,
    config: &RecordConfig,
    counters: &Arc<Counters>,
    next_step: u64,
) -> Result<Segment, RecordError> {
    let len = segment.len.load(Ordering::Relaxed);
    counters
        .bytes
        .store(state.closed_bytes + len, Ordering::Relaxed);
    if len < config.max_bytes / 2 {
        return Ok(segment);
    }
    let index = segment.index + 1;
    state.closed_bytes += segment.finish()?;
    let old = rotated_path(&config.path);
    std::fs::rename(&config.path, &old).map_err(|source| RecordError::Io {
        path: old.clone(),
        source,
    })?;
    let mut segment = Segment::create(&config.path, config.max_bytes, index, Arc::clone(counters))?;
    write_session(&mut segment, state, next_step);
    Ok(segment)
}

/// The writer thread: takes the queue until [`Msg::Finish`] or until every
/// sender is gone, rotating at half the size bound, flushing a chunk after
/// a second without input so a crash loses at most that second.
pub(crate) fn run(
    config: RecordConfig,
    mut segment: Segment,
    rx: Receiver<Msg>,
    counters: Arc<Counters>,
) -> Result<(), RecordError> {
    let mut state = State {
        session: None,
        shadow: None,
        wall_start_ns: vigil_discovery::clock::unix_now_ns(),
        dropped_written: 0,
        closed_bytes: 0,
    };
    let mut dirty = false;
    // The number of the next step: where a segment begun now starts.
    let mut next_step = 0;
    loop {
        let msg = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                if dirty {
                    if let Err(error) = segment.writer.flush() {
                        tracing::warn!(%error, "recording: flushing a chunk failed");
                    }
                    dirty = false;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Msg::Session(session) => {
                // The wall clock of the core's start: taken now, a few
                // microseconds after the core read its own.
                state.wall_start_ns = vigil_discovery::clock::unix_now_ns().saturating_sub(
                    vigil_discovery::clock::now()
                        .as_nanos()
                        .saturating_sub(session.start.as_nanos()),
                );
                state.shadow = match Replayer::new(&session) {
                    Ok(shadow) => Some(shadow),
                    Err(error) => {
                        tracing::warn!(%error, "recording: the query does not parse again");
                        None
                    }
                };
                state.session = Some(*session);
                write_session(&mut segment, &state, 0);
            }
            Msg::Step(step) => {
                let (n, step) = *step;
                let dropped = counters.dropped.load(Ordering::Relaxed);
                if dropped != state.dropped_written {
                    state.dropped_written = dropped;
                    segment.write(
                        DROPPED,
                        state.wall(step.at),
                        &json!({"dropped_total": dropped, "wall_ns": state.wall(step.at)}),
                    );
                }
                write_step(&mut segment, &state, n, &step);
                shadow_step(&mut state, n, next_step, &step);
                counters.steps.fetch_add(1, Ordering::Relaxed);
                dirty = true;
                next_step = n + 1;
                segment = rotate(segment, &mut state, &config, &counters, next_step)?;
            }
            Msg::Supervisor(event) => {
                let wall_ns = vigil_discovery::clock::unix_now_ns();
                segment.write(
                    SUPERVISOR,
                    wall_ns,
                    &json!({"wall_ns": wall_ns, "event": event}),
                );
                dirty = true;
                segment = rotate(segment, &mut state, &config, &counters, next_step)?;
            }
            Msg::Finish => break,
        }
    }
    let dropped = counters.dropped.load(Ordering::Relaxed);
    if dropped != state.dropped_written {
        let wall = vigil_discovery::clock::unix_now_ns();
        segment.write(
            DROPPED,
            wall,
            &json!({"dropped_total": dropped, "wall_ns": wall}),
        );
    }
    let len = segment.finish()?;
    counters
        .bytes
        .store(state.closed_bytes + len, Ordering::Relaxed);
    Ok(())
}
