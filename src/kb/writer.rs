//! `vigil kb sync`'s write path: the [`KbRecorder`] the selector hands its
//! steps to, a bounded queue that keeps the newest rows, and the batched
//! writer that survives a slow or absent database.
//!
//! The selector calls the recorder on its routing path, so the recorder
//! converts and queues, never waits: when the database is slow or down the
//! queue fills, the oldest rows are dropped and counted, and routing goes
//! on. After a reconnection the writer restates every tree and node state
//! (a keyframe), so what was dropped is bounded in time, not lost for good.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::watch;
use tokio_postgres::Client;
use vigil_discovery::{RecordedSession, RecordedStep, Recorder};

use super::rows::{Converter, Row, TreeRow};
use super::{DbUrl, KbError};

/// Rows waiting for the database; at most `capacity`, the newest kept.
#[derive(Debug)]
pub struct KbQueue {
    rows: Mutex<VecDeque<Row>>,
    capacity: usize,
    dropped: AtomicU64,
}

impl KbQueue {
    /// A queue of at most `capacity` rows (at least 1).
    pub fn new(capacity: usize) -> KbQueue {
        KbQueue {
            rows: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Row>> {
        // A panic elsewhere while holding it leaves rows, still valid.
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `rows`, dropping the oldest queued ones beyond capacity.
    pub fn push(&self, rows: Vec<Row>) {
        let mut queue = self.lock();
        for row in rows {
            if queue.len() == self.capacity {
                queue.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            queue.push_back(row);
        }
    }

    /// Takes up to `max` of the oldest rows.
    fn take(&self, max: usize) -> Vec<Row> {
        let mut queue = self.lock();
        let n = max.min(queue.len());
        queue.drain(..n).collect()
    }

    /// Puts back a batch that could not be written, ahead of newer rows;
    /// what no longer fits is the oldest, and is dropped.
    fn put_back(&self, batch: Vec<Row>) {
        let mut queue = self.lock();
        let room = self.capacity - queue.len().min(self.capacity);
        let skip = batch.len().saturating_sub(room);
        self.dropped.fetch_add(skip as u64, Ordering::Relaxed);
        for row in batch.into_iter().skip(skip).rev() {
            queue.push_front(row);
        }
    }

    /// Rows waiting now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows dropped since the start because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The [`Recorder`] of `vigil kb sync`: converts each step to rows and
/// queues them. Never blocks on the database.
#[derive(Debug)]
pub struct KbRecorder {
    converter: Mutex<Converter>,
    queue: Arc<KbQueue>,
}

impl KbRecorder {
    /// Rows go to `queue`; events say they came from `source`.
    pub fn new(source: &str, queue: Arc<KbQueue>) -> KbRecorder {
        KbRecorder {
            converter: Mutex::new(Converter::new(source, None)),
            queue,
        }
    }

    fn converter(&self) -> MutexGuard<'_, Converter> {
        self.converter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a keyframe: every node's state now (and every tree, after a
    /// reconnection).
    pub fn keyframe(&self, with_trees: bool) {
        let rows = self.converter().keyframe(unix_now_ns(), with_trees);
        self.queue.push(rows);
    }

    /// Queues the rows of one step at wall-clock time `t_ns` (what the
    /// [`Recorder`] calls with now; benchmarks call it with their own).
    pub fn step_at(&self, t_ns: u64, step: &RecordedStep) {
        let rows = self.converter().step(t_ns, step);
        self.queue.push(rows);
    }

    /// Nodes whose state the converter remembers.
    pub fn nodes(&self) -> usize {
        self.converter().nodes()
    }
}

impl Recorder for KbRecorder {
    fn session(&self, _session: RecordedSession) {}

    fn step(&self, step: RecordedStep) {
        self.step_at(unix_now_ns(), &step);
    }
}

fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn time_of(t_ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(t_ns)
}

/// How the writer batches and retries.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WriterConfig {
    /// Rows per transaction at most.
    pub batch: usize,
    /// How long rows gather before a write.
    pub flush: Duration,
    /// The first wait after a failed connection; doubled up to `backoff_max`.
    pub backoff_min: Duration,
    /// The longest wait between connection attempts.
    pub backoff_max: Duration,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            batch: 5_000,
            flush: Duration::from_millis(100),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// What the writer did.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Rows written.
    pub written: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Connections made again after one was lost or refused.
    pub reconnects: AtomicU64,
    /// Failed connection attempts and failed writes.
    pub failures: AtomicU64,
    /// Connected now.
    pub connected: AtomicBool,
}

/// Writes what `recorder` queues into the database at `db` until
/// `shutdown` turns true, then flushes what it can and returns. A lost
/// connection is retried with exponential backoff; after each
/// reconnection the recorder restates its trees and states.
pub async fn run_writer(
    db: DbUrl,
    mut client: Option<Client>,
    recorder: Arc<KbRecorder>,
    config: WriterConfig,
    stats: Arc<WriterStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let queue = Arc::clone(&recorder.queue);
    let mut backoff = config.backoff_min;
    loop {
        let mut connected = match client.take() {
            Some(c) => c,
            None => {
                if *shutdown.borrow() {
                    return;
                }
                match db.connect().await {
                    Ok(c) => {
                        stats.reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(at = db.at(), "knowledge base reconnected");
                        recorder.keyframe(true);
                        backoff = config.backoff_min;
                        c
                    }
                    Err(e) => {
                        stats.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, retry_ms = backoff.as_millis() as u64,
                            "knowledge base unreachable");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            _ = shutdown.changed() => {}
                        }
                        backoff = (backoff * 2).min(config.backoff_max);
                        continue;
                    }
                }
            }
        };
        stats.connected.store(true, Ordering::Relaxed);
        loop {
            let stopping = *shutdown.borrow();
            let batch = queue.take(config.batch);
            if batch.is_empty() {
                if stopping {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(config.flush) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let n = batch.len() as u64;
            match write_rows(&mut connected, &batch).await {
                Ok(()) => {
                    stats.written.fetch_add(n, Ordering::Relaxed);
                    stats.batches.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    queue.put_back(batch);
                    stats.failures.fetch_add(1, Ordering::Relaxed);
                    stats.connected.store(false, Ordering::Relaxed);
                    tracing::warn!(error = %e, "knowledge-base write failed; reconnecting");
                    if stopping {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

/// Writes `rows` in one transaction: one multi-row statement per table.
pub async fn write_rows(client: &mut Client, rows: &[Row]) -> Result<(), KbError> {
    let tx = client.transaction().await.map_err(KbError::query)?;
    let mut health = Health::default();
    let mut events = Events::default();
    let mut routes = Routes::default();
    let mut adverts = Adverts::default();
    let mut trees = Vec::new();
    for row in rows {
        match row {
            Row::Health(h) => health.push(h),
            Row::Event(e) => events.push(e),
            Row::Route(r) => routes.push(r),
            Row::Advert(a) => adverts.push(a),
            Row::Tree(t) => trees.push(t),
        }
    }
    // Trees first: a query for a node's history joins them.
    for tree in trees {
        write_tree(&tx, tree).await?;
    }
    if !health.t.is_empty() {
        tx.execute(
            "INSERT INTO health_samples (t, producer, path, state, reason, confidence, keyframe)
             SELECT t, producer, path::ltree, state, reason, confidence, keyframe
             FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::float8[], $7::bool[])
                  AS u(t, producer, path, state, reason, confidence, keyframe)",
            &[
                &health.t,
                &health.producer,
                &health.path,
                &health.state,
                &health.reason,
                &health.confidence,
                &health.keyframe,
            ],
        )
        .await
        .map_err(KbError::query)?;
    }
    if !events.t.is_empty() {
        tx.execute(
            "INSERT INTO events (t, source, kind, consumer, producer, topic, body)
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[],
                                  $5::text[], $6::text[], $7::jsonb[])",
            &[
                &events.t,
                &events.source,
                &events.kind,
                &events.consumer,
                &events.producer,
                &events.topic,
                &events.body,
            ],
        )
        .await
        .map_err(KbError::query)?;
    }
    if !routes.t.is_empty() {
        tx.execute(
            "INSERT INTO routes (t, consumer, topic, producer, previous, cause, chain, source)
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[],
                                  $5::text[], $6::text[], $7::jsonb[], $8::text[])",
            &[
                &routes.t,
                &routes.consumer,
                &routes.topic,
                &routes.producer,
                &routes.previous,
                &routes.cause,
                &routes.chain,
                &routes.source,
            ],
        )
        .await
        .map_err(KbError::query)?;
    }
    if !adverts.t.is_empty() {
        tx.execute(
            "INSERT INTO adverts (t, producer, topic, type_name, sequence, writer_guid,
                                  capabilities, state, diagnostic_root)
             SELECT t, producer, topic, type_name, sequence, writer_guid, capabilities, state,
                    root::ltree
             FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::int8[],
                         $6::text[], $7::jsonb[], $8::text[], $9::text[])
                  AS u(t, producer, topic, type_name, sequence, writer_guid, capabilities,
                       state, root)",
            &[
                &adverts.t,
                &adverts.producer,
                &adverts.topic,
                &adverts.type_name,
                &adverts.sequence,
                &adverts.writer_guid,
                &adverts.capabilities,
                &adverts.state,
                &adverts.root,
            ],
        )
        .await
        .map_err(KbError::query)?;
    }
    tx.commit().await.map_err(KbError::query)
}

/// A new version of the producer's tree, unless its latest is the same.
async fn write_tree(tx: &tokio_postgres::Transaction<'_>, tree: &TreeRow) -> Result<(), KbError> {
    let joined = format!(
        "{}|{}",
        tree.root.as_deref().unwrap_or(""),
        tree.paths.join(",")
    );
    tx.execute(
        "WITH latest AS (
             SELECT version, digest FROM trees WHERE producer = $1
             ORDER BY version DESC LIMIT 1),
         new AS (
             INSERT INTO trees (producer, version, valid_from, root, digest)
             SELECT $1, coalesce((SELECT version FROM latest), 0) + 1, $2, $3::text::ltree,
                    md5($4)
             WHERE NOT EXISTS (SELECT 1 FROM latest WHERE digest = md5($4))
             ON CONFLICT DO NOTHING
             RETURNING producer, version)
         INSERT INTO nodes (producer, version, path)
         SELECT new.producer, new.version, p::ltree FROM new, unnest($5::text[]) AS p",
        &[
            &tree.producer,
            &time_of(tree.t_ns),
            &tree.root,
            &joined,
            &tree.paths,
        ],
    )
    .await
    .map_err(KbError::query)?;
    Ok(())
}

#[derive(Default)]
struct Health {
    t: Vec<SystemTime>,
    producer: Vec<String>,
    path: Vec<String>,
    state: Vec<String>,
    reason: Vec<Option<String>>,
    confidence: Vec<Option<f64>>,
    keyframe: Vec<bool>,
}

impl Health {
    fn push(&mut self, h: &super::HealthRow) {
        self.t.push(time_of(h.t_ns));
        self.producer.push(h.producer.clone());
        self.path.push(h.path.clone());
        self.state.push(h.state.clone());
        self.reason.push(h.reason.clone());
        self.confidence.push(h.confidence);
        self.keyframe.push(h.keyframe);
    }
}

#[derive(Default)]
struct Events {
    t: Vec<SystemTime>,
    source: Vec<String>,
    kind: Vec<String>,
    consumer: Vec<Option<String>>,
    producer: Vec<Option<String>>,
    topic: Vec<Option<String>>,
    body: Vec<Value>,
}

impl Events {
    fn push(&mut self, e: &super::EventRow) {
        self.t.push(time_of(e.t_ns));
        self.source.push(e.source.clone());
        self.kind.push(e.kind.clone());
        self.consumer.push(e.consumer.clone());
        self.producer.push(e.producer.clone());
        self.topic.push(e.topic.clone());
        self.body.push(e.body.clone());
    }
}

#[derive(Default)]
struct Routes {
    t: Vec<SystemTime>,
    consumer: Vec<String>,
    topic: Vec<Option<String>>,
    producer: Vec<Option<String>>,
    previous: Vec<Option<String>>,
    cause: Vec<String>,
    chain: Vec<Value>,
    source: Vec<String>,
}

impl Routes {
    fn push(&mut self, r: &super::RouteRow) {
        self.t.push(time_of(r.t_ns));
        self.consumer.push(r.consumer.clone());
        self.topic.push(r.topic.clone());
        self.producer.push(r.producer.clone());
        self.previous.push(r.previous.clone());
        self.cause.push(r.cause.clone());
        self.chain.push(Value::from(r.chain.clone()));
        self.source.push(r.source.clone());
    }
}

#[derive(Default)]
struct Adverts {
    t: Vec<SystemTime>,
    producer: Vec<String>,
    topic: Vec<String>,
    type_name: Vec<String>,
    sequence: Vec<i64>,
    writer_guid: Vec<String>,
    capabilities: Vec<Value>,
    state: Vec<String>,
    root: Vec<Option<String>>,
}

impl Adverts {
    fn push(&mut self, a: &super::AdvertRow) {
        self.t.push(time_of(a.t_ns));
        self.producer.push(a.producer.clone());
        self.topic.push(a.topic.clone());
        self.type_name.push(a.type_name.clone());
        self.sequence
            .push(i64::try_from(a.sequence).unwrap_or(i64::MAX));
        self.writer_guid.push(a.writer_guid.clone());
        self.capabilities.push(a.capabilities.clone());
        self.state.push(a.state.clone());
        self.root.push(a.diagnostic_root.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::{EventRow, Row};

    fn row(n: u64) -> Row {
        Row::Event(EventRow {
            t_ns: n,
            source: "test".into(),
            kind: "added".into(),
            consumer: None,
            producer: None,
            topic: None,
            body: Value::Null,
        })
    }

    fn times(rows: &[Row]) -> Vec<u64> {
        rows.iter()
            .map(|r| match r {
                Row::Event(e) => e.t_ns,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn a_full_queue_keeps_the_newest_and_counts_the_rest() {
        let queue = KbQueue::new(3);
        queue.push((0..5).map(row).collect());
        assert_eq!(queue.dropped(), 2);
        assert_eq!(times(&queue.take(10)), vec![2, 3, 4]);
    }

    #[test]
    fn a_batch_put_back_goes_first_and_loses_its_oldest_when_full() {
        let queue = KbQueue::new(4);
        queue.push((0..3).map(row).collect());
        let batch = queue.take(3);
        queue.push((3..6).map(row).collect());
        queue.put_back(batch);
        assert_eq!(queue.dropped(), 2);
        assert_eq!(times(&queue.take(10)), vec![2, 3, 4, 5]);
    }
}
