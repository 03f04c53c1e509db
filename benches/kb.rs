//! Issue 12's figures: the knowledge base against a real, private
//! PostgreSQL server (Debian's, as in the tests; ports 21190-21192).
//!
//! `cargo bench --features kb --bench kb` runs everything; `-- write`,
//! `-- lquery` or `-- rss` runs one part.
//!
//! - **write**: 100 producers × 10-node trees flapping: 200 000 advert
//!   steps, each flipping one leaf, go through the same converter and
//!   writer as `vigil kb sync` (queue prefilled, then drained): health
//!   transitions written per second, and rows (with the adverts and
//!   events they come with) per second.
//! - **lquery**: 10 million health rows made with `generate_series`
//!   (10 000 nodes of 1 000 producers, 1 000 samples each over a day);
//!   `vigil kb query`'s history query for one producer's subtree
//!   (`fleet.p42.*`, `<@`) and an lquery across producers
//!   (`fleet.*.sub3.n7`, `~`), median of 11 runs with the GiST index on
//!   `path`, of 5 after dropping it.
//! - **rss**: `vigil kb sync` (the binary) with 10 `vigil produce`
//!   processes flapping at 10 Hz; the database stopped for 60 s: resident
//!   memory before, the most during, rows dropped; then the reconnection.

#[path = "../tests/support/pg.rs"]
mod pg;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil::kb::{
    self, DbUrl, HistoryFilter, KbQueue, KbRecorder, LtreeFilter, WriterConfig, WriterStats,
};
use vigil_diag::{Path, Pattern, State, Timestamp, Trend};
use vigil_discovery::{
    Advert, AdvertKey, HealthSummary, RecordedInput, RecordedStep, RegistryChange,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --all-targets` runs bench targets too, without `--bench`.
    if !args.iter().any(|a| a == "--bench") {
        println!("kb harness: run it with `cargo bench --features kb --bench kb`");
        return;
    }
    let only: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| only.is_empty() || only.contains(&name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if wants("write") {
        rt.block_on(write());
    }
    if wants("lquery") {
        rt.block_on(lquery());
    }
    if wants("rss") {
        rss();
    }
}

const PRODUCERS: usize = 100;
const NODES: usize = 10;
const FLAPS: usize = 2_000;

fn advert(p: usize, leaf: usize, failed: bool, sequence: u64) -> Advert {
    let producer = format!("p{p}");
    let mut nodes = BTreeMap::new();
    for j in 0..NODES - 1 {
        let state = if j == leaf && failed {
            State::Failed
        } else {
            State::Ok
        };
        let path = Path::parse(&format!("{producer}.sub.n{j}")).expect("valid path");
        nodes.insert(path, state);
    }
    Advert {
        key: AdvertKey::new(producer.clone(), "imu"),
        type_name: "vigil::Synthetic".into(),
        writer_guid: [p as u8; 16],
        capabilities: vigil_qos::Capabilities::new(),
        qos: Default::default(),
        diagnostic_root: Path::parse(&producer).ok(),
        health: HealthSummary {
            state: if failed { State::Degraded } else { State::Ok },
            reason: None,
            confidence: 1.0,
            trend: Trend::Stable,
            nodes,
        },
        heartbeat_period: Duration::from_millis(100),
        lease: Duration::from_millis(500),
        sequence,
        timestamp_ns: 0,
        supervisor: None,
    }
}

async fn write() {
    let server = pg::PgServer::start(21190);
    let url = DbUrl::parse(&server.url()).expect("url");
    let client = url.connect().await.expect("connects");
    let queue = Arc::new(KbQueue::new(usize::MAX >> 1));
    let recorder = Arc::new(KbRecorder::new("bench", Arc::clone(&queue)));
    let mut t_ns = 1_800_000_000_000_000_000u64;
    // Every advert flips one leaf: OK -> FAILED -> OK ... (leaf moves on).
    for round in 0..FLAPS {
        for p in 0..PRODUCERS {
            let a = advert(
                p,
                (round / 2) % (NODES - 1),
                round % 2 == 0,
                round as u64 + 1,
            );
            let step = RecordedStep {
                at: Timestamp::from_nanos(t_ns),
                input: RecordedInput::Advert {
                    wire: a.to_wire(),
                    sender: None,
                },
                changes: vec![if round == 0 {
                    RegistryChange::Added(a.key.clone())
                } else {
                    RegistryChange::Updated(a.key.clone())
                }],
                events: Vec::new(),
                breakers: Vec::new(),
            };
            recorder.step_at(t_ns, &step);
            t_ns += 1_000_000;
        }
    }
    let rows = queue.len();
    let stats = Arc::new(WriterStats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let writer = tokio::spawn(kb::run_writer(
        url,
        Some(client),
        Arc::clone(&recorder),
        WriterConfig::default(),
        Arc::clone(&stats),
        stopped,
    ));
    while !queue.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let _ = writer.await;
    let elapsed = started.elapsed().as_secs_f64();
    let transitions: u64 = server
        .psql("SELECT count(*) FROM health_samples")
        .parse()
        .unwrap_or(0);
    println!(
        "write: {PRODUCERS} producers x {NODES}-node trees, {FLAPS} flaps each: {rows} rows \
         ({transitions} health transitions) in {elapsed:.2} s: {:.0} transitions/s, {:.0} rows/s, \
         {} batches",
        transitions as f64 / elapsed,
        stats.written.load(Ordering::Relaxed) as f64 / elapsed,
        stats.batches.load(Ordering::Relaxed)
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn lquery() {
    let server = pg::PgServer::start(21191);
    let url = DbUrl::parse(&server.url()).expect("url");
    let client = url.connect().await.expect("connects");
    let started = Instant::now();
    // Indexes built after the load: faster than maintaining them per row.
    client
        .batch_execute(
            "DROP INDEX health_samples_path_gist, health_samples_t, health_samples_node_t;
             INSERT INTO health_samples (t, producer, path, state, keyframe)
             SELECT now() - (g / 10000) * interval '86 ms',
                    'p' || (g % 10000) / 10,
                    ('fleet.p' || (g % 10000) / 10 || '.sub' || (g % 10) || '.n' || (g / 10000) % 10)::ltree,
                    (ARRAY['OK', 'DEGRADED', 'FAILED', 'UNKNOWN'])[1 + (g / 10000 + g) % 4],
                    false
             FROM generate_series(0, 9999999) AS g;
             CREATE INDEX health_samples_t ON health_samples (t);
             CREATE INDEX health_samples_node_t ON health_samples (producer, path, t);
             CREATE INDEX health_samples_path_gist ON health_samples USING gist (path);
             ANALYZE health_samples;",
        )
        .await
        .expect("10 million rows");
    println!(
        "lquery: 10 000 000 rows and their indexes made in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let cases = [
        ("fleet.p42.*", "subtree"),
        ("fleet.*.sub3.n7", "across producers"),
    ];
    // Without the index each run reads the whole table: fewer runs.
    let measure = |label: &'static str, runs: usize| {
        let client = &client;
        async move {
            for (text, what) in cases {
                let pattern = Pattern::parse(text).expect("pattern");
                let mut filter = HistoryFilter::new(LtreeFilter::of(&pattern));
                filter.limit = 1_000_000;
                let mut times = Vec::new();
                let mut n = 0;
                for _ in 0..runs {
                    let t = Instant::now();
                    n = kb::history(client, &filter).await.expect("query").len();
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                }
                println!(
                    "lquery {label}: `{text}` ({what}, {:?}): {n} periods, median of {runs} {:.1} ms",
                    filter.pattern,
                    median(times)
                );
            }
        }
    };
    measure("with GiST", 11).await;
    client
        .batch_execute("DROP INDEX health_samples_path_gist")
        .await
        .expect("drop index");
    measure("without GiST", 5).await;
}

/// `vigil produce` with stdin held by us.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil runs")
}

fn rss() {
    let domain = "138";
    let server = pg::PgServer::start(21192);
    let db = server.url();
    let mut producers: Vec<Child> = (0..10)
        .map(|i| {
            let id = format!("p{i}");
            spawn(&[
                "produce",
                "--domain",
                domain,
                "--topic",
                "imu",
                "--id",
                &id,
                "--rate",
                "10",
                "--exit-on-eof",
            ])
        })
        .collect();
    let mut sync = spawn(&[
        "kb",
        "sync",
        "--db",
        &db,
        "--domain",
        domain,
        "--format",
        "json",
        "--stats-ms",
        "500",
    ]);
    let lines = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    {
        let lines = Arc::clone(&lines);
        let out = sync.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    lines.lock().expect("lines").push(v);
                }
            }
        });
    }
    let last = |lines: &Arc<Mutex<Vec<serde_json::Value>>>| {
        lines
            .lock()
            .expect("lines")
            .last()
            .cloned()
            .unwrap_or_default()
    };
    let mut flip = 0usize;
    let mut flap = |producers: &mut [Child], secs: u64| {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            for (i, p) in producers.iter_mut().enumerate() {
                let state = if (flip + i).is_multiple_of(2) {
                    "FAILED"
                } else {
                    "OK"
                };
                if let Some(stdin) = p.stdin.as_mut() {
                    let _ = writeln!(stdin, "set p{i}.health {state}");
                }
            }
            flip += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    flap(&mut producers, 10);
    let before = last(&lines);
    server.pg_stop();
    let mark = lines.lock().expect("lines").len();
    flap(&mut producers, 60);
    let during: Vec<serde_json::Value> = lines.lock().expect("lines")[mark..].to_vec();
    let max_rss = during
        .iter()
        .filter_map(|v| v["rss_kb"].as_u64())
        .max()
        .unwrap_or(0);
    let down = last(&lines);
    server.pg_start();
    flap(&mut producers, 10);
    let after = last(&lines);
    println!(
        "rss: before {} kB (written {}); database down 60 s: max {} kB, queued {}, dropped {}; \
         after restart: {} kB, connected {}, reconnects {}, queued {}",
        before["rss_kb"],
        before["written"],
        max_rss,
        down["queued"],
        down["dropped"],
        after["rss_kb"],
        after["connected"],
        after["reconnects"],
        after["queued"]
    );
    let _ = sync.kill();
    let _ = sync.wait();
    for mut p in producers {
        let _ = p.kill();
        let _ = p.wait();
    }
}
