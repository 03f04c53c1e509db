//! Exact replay: the recorded inputs, at their recorded times, through a
//! fresh core; every decision checked against the recorded one.
//!
//! Decisions are compared as the JSON they are recorded as, both sides
//! parsed from text, so a number compares equal exactly when it printed
//! the same.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use vigil_diag::Timestamp;
use vigil_discovery::{CoreSnapshot, RecordedInput, RecordedSession, Replayer};

use super::mcap_file::{BREAKER, FORMAT, INPUT, REGISTRY_CHANGE, SELECTION, SESSION, SUPERVISOR};

/// Why a file cannot be replayed at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a vigil recording this version can replay.
    #[error("{path}: {reason}")]
    Format {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One decision, as the replay made it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplayedDecision {
    /// A registry change.
    RegistryChange {
        /// The input's number.
        step: u64,
        /// The core's time, nanoseconds.
        at_ns: u64,
        /// The change, as recorded.
        change: Value,
    },
    /// A selection event (a switch and its cause).
    Selection {
        /// The input's number.
        step: u64,
        /// The core's time, nanoseconds.
        at_ns: u64,
        /// The event, as recorded.
        event: Value,
    },
    /// A circuit breaker's transition (issue 14).
    Breaker {
        /// The input's number.
        step: u64,
        /// The core's time, nanoseconds.
        at_ns: u64,
        /// The transition, as recorded.
        event: Value,
    },
    /// A supervisor's event (`vigil supervise --record`), printed as
    /// recorded: a supervisor's recording has no core inputs to replay.
    Supervisor {
        /// Wall clock, nanoseconds since the Unix epoch.
        wall_ns: u64,
        /// The event, as `vigil supervise --format json` prints it.
        event: Value,
    },
}

impl ReplayedDecision {
    fn supervisor(message: &Value) -> ReplayedDecision {
        ReplayedDecision::Supervisor {
            wall_ns: message["wall_ns"].as_u64().unwrap_or_default(),
            event: message["event"].clone(),
        }
    }
}

/// The first decision that came out differently.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Divergence {
    /// The input's number.
    pub step: u64,
    /// The core's time, nanoseconds.
    pub at_ns: u64,
    /// Which decision of the step: `registry change 1`, `selection event 0`.
    pub what: String,
    /// What the recording says (`None`: the replay made one more).
    pub recorded: Option<Value>,
    /// What the replay made (`None`: the replay made one fewer).
    pub replayed: Option<Value>,
}

/// How a replay went.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ReplayOutcome {
    /// Inputs fed.
    pub steps: u64,
    /// Decisions checked and reproduced.
    pub decisions: u64,
    /// Of those, selection events.
    pub selections: u64,
    /// The first difference, where the replay stopped.
    pub divergence: Option<Divergence>,
    /// Where the file is damaged or has a hole, if it is: the replay went
    /// up to there.
    pub damage: Option<String>,
    /// Supervisor events listed (a supervisor's recording).
    pub supervisor_events: u64,
}

#[derive(Deserialize)]
struct SessionMsg {
    format: u32,
    segment: u64,
    first_step: u64,
    session: RecordedSession,
    /// A later segment's core as it stood before `first_step`.
    #[serde(default)]
    snapshot: Option<Box<CoreSnapshot>>,
}

impl SessionMsg {
    /// The core this segment's first step was fed to.
    fn core(&self, path: &Path) -> Result<Replayer, ReplayError> {
        let format = |reason: String| ReplayError::Format {
            path: path.to_owned(),
            reason,
        };
        match &self.snapshot {
            Some(snapshot) => Replayer::resume(&self.session, snapshot).map_err(|e| {
                format(format!(
                    "segment {}: the core snapshot does not restore: {e}",
                    self.segment
                ))
            }),
            None => Replayer::new(&self.session)
                .map_err(|e| format(format!("the recorded query does not parse: {e}"))),
        }
    }

    /// Refuses a later segment where the recording's start is needed (a
    /// fresh core fed from the first input).
    fn first_segment(&self, path: &Path, what: &str) -> Result<(), ReplayError> {
        if self.segment == 0 {
            return Ok(());
        }
        Err(ReplayError::Format {
            path: path.to_owned(),
            reason: format!(
                "segment {} of a rotated recording: {what} needs the recording from its \
                 start (its first segment)",
                self.segment
            ),
        })
    }
}

#[derive(Deserialize)]
struct InputMsg {
    step: u64,
    at_ns: u64,
    /// Read by `vigil kb import` (the knowledge base's time axis).
    #[serde(default)]
    wall_ns: u64,
    input: RecordedInput,
}

/// The common input, a heartbeat (nearly every step of a recording), read
/// without the detour an internally tagged enum costs: serde reads a
/// [`RecordedInput`] into a generic tree first to find its `kind`, then
/// into the variant. Anything that is not a heartbeat fails here at once
/// and is read as an [`InputMsg`].
#[derive(Deserialize)]
struct HeartbeatMsg {
    step: u64,
    at_ns: u64,
    #[serde(default)]
    wall_ns: u64,
    input: HeartbeatInput,
}

#[derive(Deserialize)]
struct HeartbeatInput {
    // Checked, not kept: a heartbeat's is `heartbeat`.
    #[allow(dead_code)]
    kind: HeartbeatKind,
    wire: vigil_discovery::HeartbeatWire,
    #[serde(default)]
    sender: Option<[u8; 16]>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum HeartbeatKind {
    Heartbeat,
}

impl InputMsg {
    /// Reads an input message, a heartbeat the quick way.
    fn read(data: &[u8]) -> Result<InputMsg, serde_json::Error> {
        match serde_json::from_slice::<HeartbeatMsg>(data) {
            Ok(h) => Ok(InputMsg {
                step: h.step,
                at_ns: h.at_ns,
                wall_ns: h.wall_ns,
                input: RecordedInput::Heartbeat {
                    wire: h.input.wire,
                    sender: h.input.sender,
                },
            }),
            Err(_) => serde_json::from_slice(data),
        }
    }
}

#[derive(Deserialize)]
struct DecisionMsg {
    step: u64,
    #[serde(alias = "event")]
    change: Value,
}

/// One recorded input and the decisions recorded for it.
struct Step {
    n: u64,
    at_ns: u64,
    /// Read by `vigil kb import` only (the wall time of the rows).
    #[cfg_attr(not(feature = "kb"), allow(dead_code))]
    wall_ns: u64,
    input: RecordedInput,
    changes: Vec<Value>,
    events: Vec<Value>,
    /// Circuit-breaker transitions (none in recordings made before them).
    breakers: Vec<Value>,
}

/// Replays the recording at `path`, calling `on_decision` for every
/// decision reproduced; stops at the first difference.
pub fn replay(
    path: &Path,
    on_decision: impl FnMut(&ReplayedDecision),
) -> Result<ReplayOutcome, ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Read {
        path: path.to_owned(),
        source,
    })?;
    replay_named(path, &bytes, on_decision)
}

/// [`replay`] of a recording already in memory (errors name it `(bytes)`).
pub fn replay_bytes(
    bytes: &[u8],
    on_decision: impl FnMut(&ReplayedDecision),
) -> Result<ReplayOutcome, ReplayError> {
    replay_named(Path::new("(bytes)"), bytes, on_decision)
}

/// A replayable file: its session, its steps, and its damage.
type Opened = (SessionMsg, Vec<Step>, Option<String>);

/// What a recording holds: a core's inputs, or a supervisor's events.
enum Contents {
    /// Boxed: the session is large and read once.
    Core(Box<Opened>),
    /// The `/vigil/supervisor` messages, and the damage.
    Supervisor(Vec<Value>, Option<String>),
}

impl Contents {
    /// The core's recording; a supervisor's has none to replay.
    fn core(self, path: &Path) -> Result<Opened, ReplayError> {
        match self {
            Contents::Core(opened) => Ok(*opened),
            Contents::Supervisor(..) => Err(ReplayError::Format {
                path: path.to_owned(),
                reason: "a supervisor's recording: no core inputs to replay under another \
                         query or policy"
                    .into(),
            }),
        }
    }
}

fn open(path: &Path, bytes: &[u8]) -> Result<Contents, ReplayError> {
    let format = |reason: String| ReplayError::Format {
        path: path.to_owned(),
        reason,
    };
    let (session, steps, damage, supervisor) = read(bytes).map_err(format)?;
    let Some(session) = session else {
        if !supervisor.is_empty() {
            return Ok(Contents::Supervisor(supervisor, damage));
        }
        return Err(format(match damage {
            Some(damage) => format!("no session record before the damage ({damage})"),
            None => "not a vigil recording (no /vigil/session message)".into(),
        }));
    };
    if session.format != FORMAT {
        return Err(format(format!(
            "recording format {} (this vigil replays format {FORMAT})",
            session.format
        )));
    }
    if session.segment != 0 && session.snapshot.is_none() {
        return Err(format(format!(
            "segment {} of a rotated recording holds no core snapshot (the recorder \
             had dropped steps before it): its start at step {} cannot be rebuilt",
            session.segment, session.first_step
        )));
    }
    Ok(Contents::Core(Box::new((session, steps, damage))))
}

/// A recording's inputs, each with its core and wall-clock times, up to
/// its first hole or damage: what `vigil kb import` feeds a fresh core.
#[cfg(feature = "kb")]
#[derive(Debug)]
pub(crate) struct RecordedRun {
    /// What the recorded core was made with.
    pub(crate) session: RecordedSession,
    /// `(at_ns, wall_ns, input)` in order.
    pub(crate) steps: Vec<(u64, u64, RecordedInput)>,
    /// Where the file is damaged or has a hole: read up to there.
    pub(crate) damage: Option<String>,
}

/// Reads the recording at `path` for an import (the checks of a replay:
/// format, first segment).
#[cfg(feature = "kb")]
pub(crate) fn read_run(path: &Path) -> Result<RecordedRun, ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Read {
        path: path.to_owned(),
        source,
    })?;
    let (session, steps, mut damage) = open(path, &bytes)?.core(path)?;
    session.first_segment(path, "an import")?;
    let mut run = Vec::with_capacity(steps.len());
    for (expected, step) in (session.first_step..).zip(steps) {
        if step.n != expected {
            damage = Some(format!(
                "steps {expected} to {} are missing (dropped by the recorder): imported \
                 up to there",
                step.n.saturating_sub(1)
            ));
            break;
        }
        run.push((step.at_ns, step.wall_ns, step.input));
    }
    Ok(RecordedRun {
        session: session.session,
        steps: run,
        damage,
    })
}

fn replay_named(
    path: &Path,
    bytes: &[u8],
    mut on_decision: impl FnMut(&ReplayedDecision),
) -> Result<ReplayOutcome, ReplayError> {
    let (session, steps, damage) = match open(path, bytes)? {
        Contents::Core(opened) => *opened,
        Contents::Supervisor(events, damage) => {
            for event in &events {
                on_decision(&ReplayedDecision::supervisor(event));
            }
            return Ok(ReplayOutcome {
                damage,
                supervisor_events: events.len() as u64,
                ..ReplayOutcome::default()
            });
        }
    };
    let mut replayer = session.core(path)?;
    let mut outcome = ReplayOutcome {
        damage,
        ..ReplayOutcome::default()
    };
    for (expected, step) in (session.first_step..).zip(steps) {
        if step.n != expected {
            outcome.damage = Some(format!(
                "steps {expected} to {} are missing (dropped by the recorder): replayed \
                 up to there",
                step.n.saturating_sub(1)
            ));
            break;
        }
        outcome.steps += 1;
        let (changes, events) = replayer.step(Timestamp::from_nanos(step.at_ns), &step.input);
        let changes: Vec<Value> = changes.iter().map(as_recorded).collect();
        let events: Vec<Value> = events.iter().map(as_recorded).collect();
        let breakers: Vec<Value> = replayer
            .take_breaker_events()
            .iter()
            .map(as_recorded)
            .collect();
        if let Some(divergence) =
            first_difference(&step, "registry change", &step.changes, &changes)
                .or_else(|| first_difference(&step, "selection event", &step.events, &events))
                .or_else(|| first_difference(&step, "breaker event", &step.breakers, &breakers))
        {
            outcome.divergence = Some(divergence);
            break;
        }
        for change in changes {
            outcome.decisions += 1;
            on_decision(&ReplayedDecision::RegistryChange {
                step: step.n,
                at_ns: step.at_ns,
                change,
            });
        }
        for event in events {
            outcome.decisions += 1;
            outcome.selections += 1;
            on_decision(&ReplayedDecision::Selection {
                step: step.n,
                at_ns: step.at_ns,
                event,
            });
        }
        for event in breakers {
            outcome.decisions += 1;
            on_decision(&ReplayedDecision::Breaker {
                step: step.n,
                at_ns: step.at_ns,
                event,
            });
        }
    }
    Ok(outcome)
}

/// A decision as it reads back from the file: serialized, then parsed.
fn as_recorded(value: &impl serde::Serialize) -> Value {
    serde_json::to_string(value)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null)
}

fn first_difference(
    step: &Step,
    kind: &str,
    recorded: &[Value],
    replayed: &[Value],
) -> Option<Divergence> {
    let len = recorded.len().max(replayed.len());
    (0..len).find_map(|i| {
        let (r, p) = (recorded.get(i), replayed.get(i));
        (r != p).then(|| Divergence {
            step: step.n,
            at_ns: step.at_ns,
            what: format!("{kind} {i}"),
            recorded: r.cloned(),
            replayed: p.cloned(),
        })
    })
}

/// What a file holds: its session, its steps in order, and the damage
/// that ended the read, if any.
type Read = (Option<SessionMsg>, Vec<Step>, Option<String>, Vec<Value>);

/// The most a chunk may claim to hold once decompressed. vigil writes
/// chunks of at most 512 KiB (and one message over); a claim of more is
/// damage, refused before anything is allocated for it.
const MAX_CHUNK_BYTES: u64 = 64 << 20;

/// What the records read so far hold.
#[derive(Default)]
struct Reader {
    topics: std::collections::HashMap<u16, String>,
    session: Option<SessionMsg>,
    steps: Vec<Step>,
    supervisor: Vec<Value>,
}

/// Reads the file's records in order. Chunks are decompressed here, whole
/// and bounded by [`MAX_CHUNK_BYTES`], and their records read from memory:
/// the `mcap` crate's streaming decompression trusted a record length read
/// inside a chunk and allocated it (the `replay_file` fuzz target found
/// lengths of petabytes).
fn read(bytes: &[u8]) -> Result<Read, String> {
    let records = mcap::read::LinearReader::new_with_options(
        bytes,
        mcap::read::Options::IgnoreEndMagic.into(),
    )
    .map_err(|e| format!("not an MCAP file: {e}"))?;
    let mut reader = Reader::default();
    for record in records {
        let damage = match record {
            Ok(record) => reader.record(record)?,
            Err(e) => Some(format!("the file is damaged or truncated ({e})")),
        };
        if let Some(damage) = damage {
            // Its decisions may be in the part that is lost.
            reader.steps.pop();
            return Ok((
                reader.session,
                reader.steps,
                Some(damage),
                reader.supervisor,
            ));
        }
    }
    Ok((reader.session, reader.steps, None, reader.supervisor))
}

impl Reader {
    /// Takes one top-level record; `Ok(Some(damage))` where it is damaged.
    fn record(&mut self, record: mcap::records::Record<'_>) -> Result<Option<String>, String> {
        use mcap::records::Record;
        match record {
            Record::Channel(channel) => {
                self.topics.insert(channel.id, channel.topic);
            }
            Record::Message { header, data } => self.message(header.channel_id, &data)?,
            Record::Chunk { header, data } => {
                if header.uncompressed_size > MAX_CHUNK_BYTES {
                    return Ok(Some(format!(
                        "a chunk claims {} bytes decompressed (at most {MAX_CHUNK_BYTES} are read)",
                        header.uncompressed_size
                    )));
                }
                // Bounded above: the cast cannot truncate.
                let size = header.uncompressed_size as usize;
                let plain = match header.compression.as_str() {
                    "" => data.into_owned(),
                    "zstd" => match zstd::bulk::decompress(&data, size) {
                        Ok(plain) => plain,
                        Err(e) => return Ok(Some(format!("a chunk does not decompress ({e})"))),
                    },
                    other => {
                        return Ok(Some(format!("a chunk compressed with `{other}`, not zstd")))
                    }
                };
                for inner in mcap::read::LinearReader::sans_magic(&plain) {
                    match inner {
                        Ok(Record::Channel(channel)) => {
                            self.topics.insert(channel.id, channel.topic);
                        }
                        Ok(Record::Message { header, data }) => {
                            self.message(header.channel_id, &data)?
                        }
                        Ok(_) => {}
                        Err(e) => return Ok(Some(format!("a chunk is damaged ({e})"))),
                    }
                }
            }
            _ => {}
        }
        Ok(None)
    }

    fn message(&mut self, channel: u16, data: &[u8]) -> Result<(), String> {
        let Some(topic) = self.topics.get(&channel) else {
            return Err(format!(
                "a message on channel {channel}, which no record declared"
            ));
        };
        let bad = |e: serde_json::Error| format!("a `{topic}` message does not read: {e}");
        match topic.as_str() {
            SESSION if self.session.is_none() => {
                self.session = Some(serde_json::from_slice::<SessionMsg>(data).map_err(bad)?);
            }
            INPUT => {
                let input = InputMsg::read(data).map_err(bad)?;
                self.steps.push(Step {
                    n: input.step,
                    at_ns: input.at_ns,
                    wall_ns: input.wall_ns,
                    input: input.input,
                    changes: Vec::new(),
                    events: Vec::new(),
                    breakers: Vec::new(),
                });
            }
            t @ (REGISTRY_CHANGE | SELECTION | BREAKER) => {
                let decision: DecisionMsg = serde_json::from_slice(data).map_err(bad)?;
                let Some(last) = self.steps.last_mut().filter(|s| s.n == decision.step) else {
                    return Err(format!(
                        "a `{t}` message of step {} follows no input of that step",
                        decision.step
                    ));
                };
                if t == SELECTION {
                    last.events.push(decision.change);
                } else if t == BREAKER {
                    last.breakers.push(decision.change);
                } else {
                    last.changes.push(decision.change);
                }
            }
            SUPERVISOR => {
                let message: Value = serde_json::from_slice(data).map_err(bad)?;
                self.supervisor.push(message);
            }
            // The dropped count and channels of later versions: not inputs.
            _ => {}
        }
        Ok(())
    }
}

/// What to change before replaying ("what if"): the query or parts of the
/// switching policy. Unset fields keep the recorded ones.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct WhatIf {
    /// Another constraint query.
    pub query: Option<String>,
    /// Another hold-off.
    pub hold_off: Option<std::time::Duration>,
    /// Another wait-to-restore.
    pub wait_to_restore: Option<std::time::Duration>,
    /// Revertive or not.
    pub revertive: Option<bool>,
    /// Another margin.
    pub margin: Option<f64>,
}

impl WhatIf {
    /// Whether anything is changed.
    pub fn is_set(&self) -> bool {
        *self != WhatIf::default()
    }

    fn apply(&self, session: &mut RecordedSession) {
        let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if let Some(query) = &self.query {
            session.query = Some(query.clone());
        }
        if let Some(d) = self.hold_off {
            session.policy.hold_off_ns = nanos(d);
        }
        if let Some(d) = self.wait_to_restore {
            session.policy.wait_to_restore_ns = nanos(d);
        }
        if let Some(r) = self.revertive {
            session.policy.revertive = r;
        }
        if let Some(m) = self.margin {
            session.policy.margin = m;
        }
    }
}

/// A step whose selection events differ under a [`WhatIf`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Difference {
    /// The input's number.
    pub step: u64,
    /// The core's time, nanoseconds.
    pub at_ns: u64,
    /// The recorded selection events of the step.
    pub recorded: Vec<Value>,
    /// What the changed core decided instead.
    pub replayed: Vec<Value>,
}

/// How a "what if" replay went.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct WhatIfOutcome {
    /// Inputs fed.
    pub steps: u64,
    /// Steps whose selection events differed.
    pub differences: u64,
    /// Where the file is damaged or has a hole, if it is.
    pub damage: Option<String>,
}

/// Replays the recording at `path` under `what_if` and calls
/// `on_difference` for every step whose switches would have differed.
/// Registry changes do not depend on the query or policy and are not
/// compared.
pub fn replay_what_if(
    path: &Path,
    what_if: &WhatIf,
    mut on_difference: impl FnMut(&Difference),
) -> Result<WhatIfOutcome, ReplayError> {
    let bytes = std::fs::read(path).map_err(|source| ReplayError::Read {
        path: path.to_owned(),
        source,
    })?;
    let (mut session, steps, damage) = open(path, &bytes)?.core(path)?;
    // The snapshot's selection was made under the recorded query and
    // policy: another one must start from the recording's start.
    session.first_segment(path, "a \"what if\"")?;
    what_if.apply(&mut session.session);
    let mut replayer = Replayer::new(&session.session).map_err(|e| ReplayError::Format {
        path: path.to_owned(),
        reason: format!("the query does not parse: {e}"),
    })?;
    let mut outcome = WhatIfOutcome {
        damage,
        ..WhatIfOutcome::default()
    };
    for (expected, step) in (session.first_step..).zip(steps) {
        if step.n != expected {
            outcome.damage = Some(format!(
                "steps {expected} to {} are missing (dropped by the recorder): replayed \
                 up to there",
                step.n.saturating_sub(1)
            ));
            break;
        }
        outcome.steps += 1;
        let (_, events) = replayer.step(Timestamp::from_nanos(step.at_ns), &step.input);
        // What if judges switches only; the breakers' log is not kept.
        replayer.take_breaker_events();
        let events: Vec<Value> = events.iter().map(as_recorded).collect();
        if events != step.events {
            outcome.differences += 1;
            on_difference(&Difference {
                step: step.n,
                at_ns: step.at_ns,
                recorded: step.events,
                replayed: events,
            });
        }
    }
    Ok(outcome)
}
