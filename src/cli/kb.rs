//! `vigil kb`: the knowledge base in PostgreSQL + ltree (issue 12): `sync`
//! a domain into it, `import` a recording, and ask it `query`, `why` and
//! `tree`.
//!
//! Every subcommand takes `--db URL` (or `VIGIL_DB_URL`), connects, and
//! applies the schema's migrations first; an unreachable database or a
//! schema newer than this build exits 2 with the reason.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::{Args, Subcommand};
use futures::StreamExt;
use rustdds::with_key::Sample;
use serde_json::json;
use tokio::sync::{broadcast, watch};
use tokio_postgres::Client;
use vigil::kb::{
    self, DbUrl, HistoryFilter, KbError, KbQueue, KbRecorder, LtreeFilter, WriterConfig,
    WriterStats,
};
use vigil_diag::{Pattern, State};
use vigil_discovery::{
    Recorder, RouteBoard, RouteUpdate, Selector, SelectorConfig, VigilParticipant,
};

use super::dds_args::{init_logging, millis, runtime, seconds, terminated, unix_seconds};
use super::dds_args::{DdsArgs, Format};
use super::InputError;

/// The environment variable `--db` falls back to.
const DB_ENV: &str = "VIGIL_DB_URL";

/// Knowledge-base subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KbCommand {
    /// Join a domain like `vigil monitor` and write what it sees: adverts,
    /// tree versions, health transitions (plus keyframes), registry events.
    Sync(SyncArgs),
    /// Import a flight recording (`vigil consume|monitor --record`).
    Import(ImportArgs),
    /// The state history of the nodes an lquery pattern matches.
    Query(QueryArgs),
    /// Which producer a consumer followed at a time, and the events that
    /// led there.
    Why(WhyArgs),
    /// A producer's tree and its nodes' states as they were at a time.
    Tree(TreeArgs),
}

/// Where the database is.
#[derive(Debug, Args)]
struct DbArgs {
    /// PostgreSQL URL (`postgres://user@host:port/db`); default: the
    /// `VIGIL_DB_URL` environment variable.
    #[arg(long)]
    db: Option<String>,
}

impl DbArgs {
    fn url(&self) -> Result<DbUrl, InputError> {
        let text = match &self.db {
            Some(text) => text.clone(),
            None => std::env::var(DB_ENV)
                .map_err(|_| InputError(format!("no database: give --db URL or set {DB_ENV}")))?,
        };
        DbUrl::parse(&text).map_err(|e| InputError(e.to_string()))
    }

    async fn connect(&self) -> anyhow::Result<(DbUrl, Client)> {
        let url = self.url()?;
        let client = url.connect().await.map_err(kb_error)?;
        Ok((url, client))
    }
}

/// Input errors (exit 2) as [`InputError`], the rest as they are.
fn kb_error(error: KbError) -> anyhow::Error {
    if error.is_input() {
        InputError(error.to_string()).into()
    } else {
        error.into()
    }
}

/// `vigil kb sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    dds: DdsArgs,
    /// Restate every node's state this often, in seconds (a reader of the
    /// history then never needs to look further back than this).
    #[arg(long = "keyframe-s", default_value = "60", value_parser = seconds)]
    keyframe: Duration,
    /// Rows held while the database is slow or down; beyond, the oldest
    /// are dropped and counted.
    #[arg(long, default_value_t = 100_000)]
    queue: usize,
    /// Print the writer's counters this often, in milliseconds.
    #[arg(long = "stats-ms", default_value = "1000", value_parser = millis)]
    stats: Duration,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_parser = seconds)]
    duration: Option<Duration>,
    /// Output format of the counters.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `vigil kb import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The recording.
    file: PathBuf,
    #[command(flatten)]
    db: DbArgs,
    /// The consumer whose routes the recording's selections are (default:
    /// the file's name without `.mcap`).
    #[arg(long)]
    consumer: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `vigil kb query`.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// An lquery pattern, as `vigil tree` reads them (`vehicle.*.imu`,
    /// `*.power.*{1,2}`).
    pattern: String,
    #[command(flatten)]
    db: DbArgs,
    /// Only periods in this state (OK, DEGRADED, FAILED, UNKNOWN).
    #[arg(long)]
    state: Option<String>,
    /// Periods that last until after this time (`now`, an RFC 3339 time,
    /// or `-1 hour` for that long ago).
    #[arg(long, allow_hyphen_values = true)]
    since: Option<String>,
    /// Periods that began at or before this time.
    #[arg(long, allow_hyphen_values = true)]
    until: Option<String>,
    /// At most this many periods.
    #[arg(long, default_value_t = 10_000)]
    limit: i64,
    /// Output format: JSON prints one period per line.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `vigil kb why`.
#[derive(Debug, Args)]
pub(crate) struct WhyArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The consumer id.
    #[arg(long)]
    consumer: String,
    /// The time (`now`, an RFC 3339 time, or `-10 min`).
    #[arg(long, allow_hyphen_values = true)]
    at: String,
    /// Output format: JSON prints one object.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// `vigil kb tree`.
#[derive(Debug, Args)]
pub(crate) struct TreeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The producer id.
    #[arg(long)]
    producer: String,
    /// The time (default: now).
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    at: String,
    /// Output format: JSON prints one object.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(command: KbCommand) -> anyhow::Result<ExitCode> {
    init_logging();
    let rt = runtime()?;
    match command {
        KbCommand::Sync(args) => rt.block_on(sync(args)),
        KbCommand::Import(args) => rt.block_on(import(args)),
        KbCommand::Query(args) => rt.block_on(query(args)),
        KbCommand::Why(args) => rt.block_on(why(args)),
        KbCommand::Tree(args) => rt.block_on(tree(args)),
    }
}

/// The next route update; a lagging receiver only loses updates (the next
/// switch of a consumer still writes its row), a closed board is silent.
async fn next_route(updates: &mut broadcast::Receiver<RouteUpdate>) -> RouteUpdate {
    loop {
        match updates.recv().await {
            Ok(update) => return update,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "kb sync: consumer route updates missed");
            }
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

async fn sync(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let config = args.dds.config()?;
    let (url, client) = args.db.connect().await?;
    let participant = VigilParticipant::new(config).context("joining DDS")?;
    let queue = Arc::new(KbQueue::new(args.queue));
    let recorder = Arc::new(KbRecorder::new("sync", Arc::clone(&queue)));
    let as_recorder: Arc<dyn Recorder> = recorder.clone();
    let selector = Selector::registry_only(
        &participant,
        SelectorConfig::default().with_recorder(Some(as_recorder)),
    )?;
    // Consumers' routes (`vigil consume --id`) for `vigil kb why`: a row at
    // each start and switch.
    let board = RouteBoard::start(&participant).context("reading consumer routes")?;
    let mut route_updates = board.updates();
    let mut written_switches: HashMap<String, u64> = HashMap::new();
    // Recovery engines' modes (`vigil recover`): a row at each change.
    let mut modes = vigil_discovery::mode_reader(&participant)
        .context("reading modes")?
        .async_sample_stream();
    let mut written_modes: HashMap<String, String> = HashMap::new();
    let stats = Arc::new(WriterStats::default());
    let (stop, stopped) = watch::channel(false);
    let writer = tokio::spawn(kb::run_writer(
        url.clone(),
        Some(client),
        Arc::clone(&recorder),
        WriterConfig::default(),
        Arc::clone(&stats),
        stopped,
    ));
    let print = |event: &str| print_stats(event, args.format, &queue, &stats, &recorder);
    match args.format {
        Format::Json => println!(
            "{}",
            json!({"event": "ready", "t": unix_seconds(), "db": url.at(),
                   "schema": kb::SCHEMA_VERSION, "domain": args.dds.domain})
        ),
        Format::Text => println!("syncing domain {} into {}", args.dds.domain, url.at()),
    }
    let end = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(end);
    let terminated = terminated();
    tokio::pin!(terminated);
    let mut keyframes = tokio::time::interval(args.keyframe);
    keyframes.tick().await;
    let mut ticker = tokio::time::interval(args.stats);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = keyframes.tick() => recorder.keyframe(false),
            _ = ticker.tick() => print("stats"),
            update = next_route(&mut route_updates) => {
                if let RouteUpdate::Route(route) = update {
                    let id = route.identity.id.clone();
                    if let Some(row) = kb::route_row(&route, written_switches.get(&id).copied()) {
                        written_switches.insert(id, route.switches);
                        queue.push(vec![kb::Row::Route(row)]);
                    }
                }
            }
            Some(sample) = modes.next() => {
                match sample.map(|s| s.into_value()) {
                    Ok(Sample::Value(wire)) => match wire.validate() {
                        Ok(()) => {
                            let last = written_modes.get(&wire.engine).map(String::as_str);
                            if let Some(row) = kb::mode_event("sync", &wire, last) {
                                written_modes.insert(wire.engine.clone(), wire.mode.clone());
                                queue.push(vec![kb::Row::Event(row)]);
                            }
                        }
                        Err(error) => tracing::warn!(%error, "kb sync: mode refused"),
                    },
                    Ok(Sample::Dispose(_)) => {}
                    Err(error) => tracing::warn!(%error, "kb sync: a mode sample that does not decode"),
                }
            }
            () = &mut end => break,
            () = &mut terminated => break,
        }
    }
    board.shutdown().await;
    selector.shutdown().await;
    let _ = stop.send(true);
    // What is queued is flushed if the database answers; a database that
    // stays down does not hold the exit up for long.
    let mut writer = writer;
    if tokio::time::timeout(Duration::from_secs(10), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    print("stopped");
    Ok(ExitCode::SUCCESS)
}

fn print_stats(
    event: &str,
    format: Format,
    queue: &KbQueue,
    stats: &WriterStats,
    recorder: &KbRecorder,
) {
    let written = stats.written.load(Ordering::Relaxed);
    let dropped = queue.dropped();
    let queued = queue.len();
    let connected = stats.connected.load(Ordering::Relaxed);
    let rss_kb = rss_kb();
    match format {
        Format::Json => println!(
            "{}",
            json!({
                "event": event,
                "t": unix_seconds(),
                "written": written,
                "batches": stats.batches.load(Ordering::Relaxed),
                "queued": queued,
                "dropped": dropped,
                "reconnects": stats.reconnects.load(Ordering::Relaxed),
                "failures": stats.failures.load(Ordering::Relaxed),
                "connected": connected,
                "nodes": recorder.nodes(),
                "rss_kb": rss_kb,
            })
        ),
        Format::Text => println!(
            "{event}: {written} written, {queued} queued, {dropped} dropped, {}",
            if connected {
                "connected"
            } else {
                "database down"
            }
        ),
    }
}

/// This process's resident set, from /proc (`None` elsewhere).
fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let (_, mut client) = args.db.connect().await?;
    let consumer = match &args.consumer {
        Some(c) => c.clone(),
        None => args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "consumer".into()),
    };
    let outcome = match kb::import(&mut client, &args.file, &consumer).await {
        Ok(outcome) => outcome,
        Err(kb::ImportError::Recording(e)) => return Err(InputError(e.to_string()).into()),
        Err(kb::ImportError::Db(e)) => return Err(kb_error(e)),
        Err(e) => return Err(e.into()),
    };
    match args.format {
        Format::Json => println!(
            "{}",
            json!({"event": "imported", "file": args.file.display().to_string(),
                   "consumer": consumer, "steps": outcome.steps, "rows": outcome.rows,
                   "routes": outcome.routes, "damage": outcome.damage})
        ),
        Format::Text => println!(
            "{}: {} inputs, {} rows, {} routes of consumer {consumer}",
            args.file.display(),
            outcome.steps,
            outcome.rows,
            outcome.routes
        ),
    }
    if let Some(damage) = &outcome.damage {
        eprintln!("warning: {}: {damage}", args.file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves an optional time flag.
async fn time(
    client: &Client,
    flag: &str,
    text: Option<&str>,
) -> anyhow::Result<Option<SystemTime>> {
    match text {
        Some(text) => Ok(Some(
            kb::resolve_time(client, flag, text)
                .await
                .map_err(kb_error)?,
        )),
        None => Ok(None),
    }
}

async fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    // Flags before the database: a bad pattern is reported even when the
    // database is down.
    let pattern = Pattern::parse(&args.pattern).map_err(|e| InputError(e.to_string()))?;
    let state = match &args.state {
        Some(text) => Some(
            State::parse_with_reason(text)
                .map_err(|e| InputError(format!("--state: {e}")))?
                .0
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let (_, client) = args.db.connect().await?;
    let mut filter = HistoryFilter::new(LtreeFilter::of(&pattern));
    filter.state = state;
    filter.since = time(&client, "--since", args.since.as_deref()).await?;
    filter.until = time(&client, "--until", args.until.as_deref()).await?;
    filter.limit = args.limit.max(0);
    let rows = kb::history(&client, &filter).await.map_err(kb_error)?;
    for row in &rows {
        match args.format {
            Format::Json => println!("{}", serde_json::to_string(row)?),
            Format::Text => {
                let reason = row
                    .reason
                    .as_ref()
                    .map_or(String::new(), |r| format!(" ({r})"));
                println!(
                    "{}  {:<27}  {:<16} {:<40} {}{reason}",
                    row.from,
                    row.until.as_deref().unwrap_or("(still)"),
                    row.producer,
                    row.path,
                    row.state
                );
            }
        }
    }
    if args.format == Format::Text && rows.is_empty() {
        println!("no history matches {pattern}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn why(args: WhyArgs) -> anyhow::Result<ExitCode> {
    let (_, client) = args.db.connect().await?;
    let at = kb::resolve_time(&client, "--at", &args.at)
        .await
        .map_err(kb_error)?;
    let answer = kb::why(&client, &args.consumer, at)
        .await
        .map_err(kb_error)?;
    if args.format == Format::Json {
        println!("{}", serde_json::to_string(&answer)?);
    }
    let Some(route) = &answer.route else {
        eprintln!(
            "no route of consumer `{}` is known at {}",
            args.consumer, answer.at
        );
        return Ok(ExitCode::FAILURE);
    };
    if args.format == Format::Text {
        println!(
            "at {} consumer {} followed {} (since {}: {}; left {})",
            answer.at,
            answer.consumer,
            route.producer.as_deref().unwrap_or("(none)"),
            route.t,
            route.cause,
            route.previous.as_deref().unwrap_or("(none)")
        );
        for event in &answer.events {
            let field = |k: &str| event[k].as_str().unwrap_or("").to_owned();
            if field("what") == "health" {
                println!(
                    "  {}  {} {} -> {}{}",
                    field("t"),
                    field("producer"),
                    field("path"),
                    field("state"),
                    event["reason"]
                        .as_str()
                        .map_or(String::new(), |r| format!(" ({r})"))
                );
            } else {
                println!("  {}  {} {}", field("t"), field("producer"), field("kind"));
            }
        }
        for earlier in &answer.earlier {
            println!(
                "  before, since {}: {} ({})",
                earlier.t,
                earlier.producer.as_deref().unwrap_or("(none)"),
                earlier.cause
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn tree(args: TreeArgs) -> anyhow::Result<ExitCode> {
    let (_, client) = args.db.connect().await?;
    let at = kb::resolve_time(&client, "--at", &args.at)
        .await
        .map_err(kb_error)?;
    let Some(tree) = kb::tree_at(&client, &args.producer, at)
        .await
        .map_err(kb_error)?
    else {
        eprintln!(
            "no tree of producer `{}` is known at {}",
            args.producer, args.at
        );
        return Ok(ExitCode::FAILURE);
    };
    match args.format {
        Format::Json => println!("{}", serde_json::to_string(&tree)?),
        Format::Text => {
            println!(
                "{} tree version {} (since {})",
                tree.producer, tree.version, tree.valid_from
            );
            for node in &tree.nodes {
                let reason = node
                    .reason
                    .as_ref()
                    .map_or(String::new(), |r| format!(" ({r})"));
                println!(
                    "  {:<40} {}{reason}",
                    node.path,
                    node.state.as_deref().unwrap_or("(no data)")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
