//! End-to-end harness of issue 4's benchmarks, over loopback DDS. Prints
//! medians and p99; BENCHMARKS.md records the figures.
//!
//! `cargo bench --bench failover` runs everything (about three minutes
//! once built);
//! `cargo bench --bench failover -- reroute` (or `sigkill`, `throughput`,
//! `rss`) runs one part.
//!
//! - **reroute**: a producer's health goes FAILED (its advert is published)
//!   → the consumer's first sample from the next producer. Producers and
//!   consumer in this process, three participants, producers at 1 kHz.
//! - **sigkill**: a `vigil produce` child at 1 kHz with a 100 ms lease is
//!   SIGKILLed → the consumer's first sample from the standby (hot
//!   standby on), and the samples lost.
//! - **throughput**: samples per second through a [`Subscription`] vs a
//!   plain rustdds reader on the same topic, writer as fast as DDS takes.
//! - **rss**: resident memory of a consumer process holding 1 000 adverts
//!   with 10 tree nodes each (10 000 nodes).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::watch;
use vigil_diag::{Observation, Path, State};
use vigil_discovery::clock::{dds_timestamp, unix_now_ns};
use vigil_discovery::{
    guid_of, Advertiser, AdvertiserConfig, DdsConfig, Route, RouteEnd, Selector, SelectorConfig,
    Subscription, SubscriptionConfig, SwitchPolicy, SyntheticSample, VigilParticipant,
    SYNTHETIC_TYPE,
};
use vigil_qos::{Capabilities, Query, Value};

// The crate root sits in benches/, so the submodule needs its path.
#[path = "common/cpu_latency.rs"]
mod cpu_latency;
#[path = "common/ok_tree.rs"]
mod ok_tree;
#[path = "failover/rss.rs"]
mod rss;

use ok_tree::ok_tree;

use rss::{advert_flood, rss, rss_consumer, rss_raw};

const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--role") {
        let role = args.get(i + 1).map(String::as_str).unwrap_or("");
        let domain: u16 = args.get(i + 2).and_then(|d| d.parse().ok()).unwrap_or(90);
        let n: usize = args.get(i + 3).and_then(|d| d.parse().ok()).unwrap_or(1000);
        let rt = runtime();
        match role {
            "advert-flood" => rt.block_on(advert_flood(domain, n)),
            "rss-consumer" => rt.block_on(rss_consumer(domain, n, true)),
            "rss-registry" => rt.block_on(rss_consumer(domain, n, false)),
            "rss-raw" => rt.block_on(rss_raw(domain, n)),
            other => eprintln!("unknown role {other}"),
        }
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` builds and
    // runs bench targets too, without it. This harness takes minutes over
    // real processes, so under `cargo test` it only says how to run it.
    if !args.iter().any(|a| a == "--bench") {
        println!("failover harness: run it with `cargo bench --bench failover`");
        return;
    }
    let only: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| only.is_empty() || only.contains(&name);
    // `--cpu-latency-us N`: held for the whole run.
    let _cpu_latency = cpu_latency::hold_from_args(&args);
    let rt = runtime();
    if wants("reroute") {
        rt.block_on(reroute(200, false, Watch::Nothing));
        rt.block_on(reroute(200, true, Watch::Nothing));
    }
    // Issue 11: the same reroute with the flight recorder on (`--record`).
    if wants("reroute-record") {
        rt.block_on(reroute(200, false, Watch::Nothing));
        rt.block_on(reroute(200, false, Watch::Record));
    }
    // Issue 17: where the reroute's time goes, stage by stage, and where
    // its tail comes from.
    if wants("stages") {
        let reps = count_arg(&args, "--reps").unwrap_or(2000);
        rt.block_on(reroute(reps, true, Watch::Stages));
        rt.block_on(reroute(reps, false, Watch::Stages));
    }
    if wants("sigkill") {
        rt.block_on(sigkill(20));
    }
    if wants("throughput") {
        rt.block_on(throughput(7, Duration::from_secs(3)));
    }
    if wants("rss") {
        rss(1000);
    }
}

/// `--NAME N` among the harness's arguments.
fn count_arg(args: &[String], name: &str) -> Option<usize> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

/// What a reroute run watches besides its two end points.
#[derive(Clone, Copy, PartialEq)]
enum Watch {
    Nothing,
    /// The flight recorder (`--record`) on the selector.
    Record,
    /// Each stage's time ([`StageClock`]).
    Stages,
}

/// The selector's switches away from `bench_a` as the harness sees them:
/// when the input that caused each was taken from rustdds (the step's
/// `at`) and when its route had been published (the recorder is called
/// after that). Keeps times only.
#[derive(Debug, Default)]
struct StageClock {
    switches: std::sync::Mutex<Vec<(Instant, Instant)>>,
}

impl vigil_discovery::Recorder for StageClock {
    fn session(&self, _: vigil_discovery::RecordedSession) {}

    fn step(&self, step: vigil_discovery::RecordedStep) {
        let published = Instant::now();
        let left_a = step
            .events
            .iter()
            .any(|e| e.previous.as_ref().is_some_and(|k| k.producer == "bench_a"));
        if left_a {
            let taken = vigil_discovery::clock::instant_of(step.at);
            if let Ok(mut switches) = self.switches.lock() {
                switches.push((taken, published));
            }
        }
    }
}

impl StageClock {
    /// The first switch whose input was taken at or after `since`.
    fn switch_after(&self, since: Instant) -> Option<(Instant, Instant)> {
        let switches = self.switches.lock().ok()?;
        switches.iter().copied().find(|(taken, _)| *taken >= since)
    }
}

/// One reroute's stages, in milliseconds.
#[derive(Clone, Copy, Debug)]
struct Stages {
    /// `observe`: the tree, the advert's serialization, rustdds's write.
    observe: f64,
    /// From the write's return to the selector task taking the advert:
    /// rustdds's two event loops, loopback UDP, the tokio wake-up.
    transport: f64,
    /// The registry, the selection, the route published.
    decide: f64,
    /// From the route's publication to the new producer's first sample in
    /// the harness: a hot-standby replay, or waiting for its next sample.
    deliver: f64,
    /// Whether that first sample was replayed from the standby buffer.
    replayed: bool,
    /// When it started, in seconds since the run's first reroute: a tail
    /// with a period points at a timer.
    at: f64,
}

impl Stages {
    fn total(&self) -> f64 {
        self.observe + self.transport + self.decide + self.deliver
    }
}

/// Medians, p99 and max of each stage, then the slowest 1 % one by one.
fn report_stages(mode: &str, stages: &[Stages]) {
    let column = |f: fn(&Stages) -> f64| stages.iter().map(f).collect::<Vec<f64>>();
    report(
        &format!("stages ({mode}): total"),
        &mut column(Stages::total),
    );
    report(
        &format!("stages ({mode}): observe"),
        &mut column(|s| s.observe),
    );
    report(
        &format!("stages ({mode}): transport"),
        &mut column(|s| s.transport),
    );
    report(
        &format!("stages ({mode}): decide"),
        &mut column(|s| s.decide),
    );
    report(
        &format!("stages ({mode}): deliver"),
        &mut column(|s| s.deliver),
    );
    let mut slowest = stages.to_vec();
    slowest.sort_by(|a, b| b.total().total_cmp(&a.total()));
    slowest.truncate((stages.len() / 100).max(1));
    for s in slowest {
        println!(
            "stages ({mode}): slow one at {:.3} s: total {:.3} = observe {:.3} + transport {:.3} + decide {:.3} + deliver {:.3}{}",
            s.at,
            s.total(),
            s.observe,
            s.transport,
            s.decide,
            s.deliver,
            if s.replayed { " (replayed)" } else { "" }
        );
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Prints median, p99 and max of `xs` (milliseconds).
fn report(what: &str, xs: &mut [f64]) {
    if xs.is_empty() {
        println!("{what}: no samples");
        return;
    }
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((xs.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what}: n={} median={:.3} ms p99={:.3} ms max={:.3} ms min={:.3} ms",
        xs.len(),
        at(0.5),
        at(0.99),
        xs[xs.len() - 1],
        xs[0]
    );
}

/// A producer in this process: data writer at `rate` and an advertiser.
struct LocalProducer {
    advertiser: Advertiser,
    leaf: Path,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalProducer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn local_producer(config: &DdsConfig, id: &str, accuracy: f64, rate: f64) -> LocalProducer {
    let p = VigilParticipant::new(config.clone()).expect("participant");
    let topic = p.data_topic("imu", SYNTHETIC_TYPE).expect("topic");
    let writer = p
        .data_writer::<SyntheticSample>(&topic, None)
        .expect("writer");
    let (leaf, tree) = ok_tree(id);
    let mut caps = Capabilities::new();
    caps.insert("accuracy", Value::number(accuracy).expect("number"))
        .expect("cap");
    let advertiser = Advertiser::start(
        &p,
        AdvertiserConfig::new(id, "imu", SYNTHETIC_TYPE, guid_of(&writer))
            .with_capabilities(caps)
            .with_tree(tree, None),
    )
    .expect("advertiser");
    let producer = id.to_owned();
    let period = Duration::from_secs_f64(1.0 / rate);
    let task = tokio::spawn(async move {
        let _keep = p;
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut seq = 0;
        loop {
            interval.tick().await;
            seq += 1;
            let ts = unix_now_ns();
            let sample = SyntheticSample {
                producer: producer.clone(),
                seq,
                source_ts_ns: ts,
                period_ns: period.as_nanos() as u64,
            };
            let _ = writer.write(sample, Some(dds_timestamp(ts)));
        }
    });
    LocalProducer {
        advertiser,
        leaf,
        task,
    }
}

/// Receives until a sample of `producer` arrives; the time it did and
/// whether it was replayed from the standby buffer.
async fn first_delivery(
    sub: &mut Subscription<SyntheticSample>,
    producer: &str,
    limit: Duration,
) -> Option<(Instant, bool)> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(d)) if d.value.producer == producer => {
                return Some((Instant::now(), d.replayed))
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Receives until a sample of `producer` arrives; the time it did.
async fn first_from(
    sub: &mut Subscription<SyntheticSample>,
    producer: &str,
    limit: Duration,
) -> Option<Instant> {
    first_delivery(sub, producer, limit).await.map(|(at, _)| at)
}

fn no_flap_damping() -> vigil_diag::FlapDamping {
    vigil_diag::FlapDamping {
        suppress: 1e12,
        reuse: 1e11,
        ..Default::default()
    }
}

async fn reroute(reps: usize, hot_standby: bool, watch: Watch) {
    let record = watch == Watch::Record;
    let config = DdsConfig::new(match (hot_standby, watch) {
        (_, Watch::Record) => 104,
        (true, Watch::Nothing) => 89,
        (false, Watch::Nothing) => 91,
        (true, Watch::Stages) => 105,
        (false, Watch::Stages) => 106,
    });
    let mode = match (hot_standby, record) {
        (true, false) => "hot standby",
        (false, false) => "no hot standby",
        (true, true) => "hot standby, recording",
        (false, true) => "no hot standby, recording",
    };
    let recording = std::env::temp_dir().join(format!("vigil-bench-{}.mcap", std::process::id()));
    let recorder = record.then(|| {
        vigil::record::FlightRecorder::create(vigil::record::RecordConfig::new(&recording))
            .expect("recorder")
    });
    let clock = (watch == Watch::Stages).then(|| std::sync::Arc::new(StageClock::default()));
    let watcher: Option<std::sync::Arc<dyn vigil_discovery::Recorder>> = match (&recorder, &clock) {
        (Some(recorder), _) => Some(recorder.clone()),
        (None, Some(clock)) => Some(clock.clone()),
        (None, None) => None,
    };
    let a = local_producer(&config, "bench_a", 0.001, 1000.0);
    let _b = local_producer(&config, "bench_b", 0.002, 1000.0);
    let consumer = VigilParticipant::new(config).expect("participant");
    let policy = SwitchPolicy {
        wait_to_restore: Duration::from_millis(50),
        flap: no_flap_damping(),
        ..SwitchPolicy::default()
    };
    let query = Query::parse(QUERY).expect("query");
    let selector = Selector::start(
        &consumer,
        &query,
        SelectorConfig::default()
            .with_policy(policy)
            .with_settle(Duration::from_millis(500))
            .with_recorder(watcher),
    )
    .expect("selector");
    let mut sub = selector
        .subscribe::<SyntheticSample>(
            SYNTHETIC_TYPE,
            SubscriptionConfig::default().with_hot_standby(hot_standby),
        )
        .expect("subscription");
    let mut events = selector.events();
    let mut to_sample = Vec::new();
    let mut to_decision = Vec::new();
    let mut stages = Vec::new();
    let mut run_start: Option<Instant> = None;
    for _ in 0..reps {
        if first_from(&mut sub, "bench_a", Duration::from_secs(10))
            .await
            .is_none()
        {
            println!("reroute: consumer never (re)selected bench_a; stopping");
            break;
        }
        while events.try_recv().is_ok() {}
        let failed = Observation::Status {
            state: State::Failed,
            reason: None,
        };
        let t0 = Instant::now();
        a.advertiser.observe(&a.leaf, failed).expect("observe");
        let written = Instant::now();
        let Some((t1, replayed)) =
            first_delivery(&mut sub, "bench_b", Duration::from_secs(10)).await
        else {
            println!("reroute: no sample from bench_b within 10 s");
            break;
        };
        to_sample.push((t1 - t0).as_secs_f64() * 1e3);
        if let Some((taken, published)) = clock.as_ref().and_then(|c| c.switch_after(t0)) {
            let ms = |later: Instant, earlier: Instant| {
                later.saturating_duration_since(earlier).as_secs_f64() * 1e3
            };
            stages.push(Stages {
                observe: ms(written, t0),
                transport: ms(taken, written),
                decide: ms(published, taken),
                deliver: ms(t1, published),
                replayed,
                at: t0
                    .duration_since(*run_start.get_or_insert(t0))
                    .as_secs_f64(),
            });
        }
        // The decision: the selector's event for this switch (a late event
        // of the previous revert may come first).
        let limit = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(Ok(event)) = tokio::time::timeout_at(limit, events.recv()).await {
            let left_a = event
                .previous
                .as_ref()
                .is_some_and(|k| k.producer == "bench_a");
            if left_a {
                let decided = vigil_discovery::clock::instant_of(event.at);
                to_decision.push(decided.saturating_duration_since(t0).as_secs_f64() * 1e3);
                break;
            }
        }
        let ok = Observation::Status {
            state: State::Ok,
            reason: None,
        };
        a.advertiser.observe(&a.leaf, ok).expect("observe");
    }
    report(
        &format!("reroute ({mode}): health change published -> first sample from the new producer (1 kHz)"),
        &mut to_sample,
    );
    report(
        &format!("reroute ({mode}): health change published -> switch decided"),
        &mut to_decision,
    );
    if watch == Watch::Stages {
        report_stages(mode, &stages);
    }
    if let Some(recorder) = recorder {
        selector.shutdown().await;
        let stats = recorder.finish().expect("recording");
        let replayed = vigil::record::replay(&recording, |_| {}).expect("replay");
        println!(
            "reroute ({mode}): recorded {} steps ({} dropped, {} bytes); replay: {} decisions \
             reproduced, divergence {:?}",
            stats.steps,
            stats.dropped,
            stats.bytes,
            replayed.decisions,
            replayed.divergence.map(|d| d.step)
        );
        let _ = std::fs::remove_file(&recording);
    }
}

/// A `vigil produce` child.
fn spawn_producer(domain: u16, id: &str, accuracy: &str) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args([
            "produce",
            "--domain",
            &domain.to_string(),
            "--topic",
            "imu",
            "--id",
            id,
        ])
        .args(["--cap", &format!("accuracy={accuracy}"), "--rate", "1000"])
        .args([
            "--lease-ms",
            "100",
            "--heartbeat-ms",
            "20",
            "--format",
            "json",
        ])
        .arg("--exit-on-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil produce");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        if line.map(|l| l.contains("\"ready\"")).unwrap_or(false) {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

async fn sigkill(reps: usize) {
    let domain = 92;
    let config = DdsConfig::new(domain);
    let mut b = spawn_producer(domain, "kill_b", "0.002");
    let consumer = VigilParticipant::new(config).expect("participant");
    let policy = SwitchPolicy {
        wait_to_restore: Duration::from_millis(100),
        flap: no_flap_damping(),
        ..SwitchPolicy::default()
    };
    let query = Query::parse(QUERY).expect("query");
    let selector = Selector::start(
        &consumer,
        &query,
        SelectorConfig::default().with_policy(policy),
    )
    .expect("selector");
    let mut sub = selector
        .subscribe::<SyntheticSample>(
            SYNTHETIC_TYPE,
            SubscriptionConfig::default().with_hot_standby(true),
        )
        .expect("subscription");
    // Every sample kill_b sends, seen by a plain reader beside the
    // subscription: a sample is lost when kill_b sent it after the last one
    // delivered from kill_a and it was not delivered before kill_b's first.
    let seen_b = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let witness = {
        let topic = consumer.data_topic("imu", SYNTHETIC_TYPE).expect("topic");
        let reader = consumer
            .data_reader::<SyntheticSample>(&topic, None)
            .expect("reader");
        let seen_b = std::sync::Arc::clone(&seen_b);
        tokio::spawn(async move {
            let mut stream = reader.async_sample_stream();
            while let Some(s) = stream.next().await {
                if let Ok(s) = s {
                    if let rustdds::with_key::Sample::Value(v) = s.value() {
                        if v.producer == "kill_b" {
                            if let Ok(mut seen) = seen_b.lock() {
                                seen.push(v.source_ts_ns);
                            }
                        }
                    }
                }
            }
        })
    };
    let mut failover = Vec::new();
    let mut lost_total = 0u64;
    let mut lost_max = 0u64;
    let mut unobserved = 0usize;
    for _ in 0..reps {
        let mut a = spawn_producer(domain, "kill_a", "0.001");
        if first_from(&mut sub, "kill_a", Duration::from_secs(20))
            .await
            .is_none()
        {
            println!("sigkill: consumer never selected kill_a; stopping");
            let _ = a.kill();
            break;
        }
        // Warm the standby buffer, and let the standby be chosen.
        let warm_until = tokio::time::Instant::now() + Duration::from_millis(400);
        let mut last_ts = 0;
        while let Ok(Some(d)) = tokio::time::timeout_at(warm_until, sub.recv()).await {
            last_ts = d.value.source_ts_ns;
        }
        let t0 = Instant::now();
        let _ = a.kill();
        let mut lost = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(Some(d)) = tokio::time::timeout_at(deadline, sub.recv()).await {
            if d.value.producer == "kill_b" {
                failover.push(t0.elapsed().as_secs_f64() * 1e3);
                let first = d.value.source_ts_ns;
                // Give the witness time to have seen everything up to `first`.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let missed = seen_b
                    .lock()
                    .map(|seen| {
                        seen.iter()
                            .filter(|&&ts| ts > last_ts && ts < first)
                            .count()
                    })
                    .unwrap_or(0);
                lost = Some(missed as u64);
                break;
            }
            last_ts = d.value.source_ts_ns;
        }
        let _ = a.wait();
        // A failover that never completed is reported apart: folding a
        // sentinel into the sum would print nonsense.
        match lost {
            Some(lost) => {
                lost_total += lost;
                lost_max = lost_max.max(lost);
            }
            None => unobserved += 1,
        }
    }
    let _ = b.kill();
    let _ = b.wait();
    witness.abort();
    report(
        "sigkill: kill -9 of the active producer (lease 100 ms, 1 kHz) -> first sample from the standby",
        &mut failover,
    );
    println!(
        "sigkill: samples lost with hot standby: total {lost_total} over {} failovers, max {lost_max}; incomplete replays {}; failovers not seen within 10 s: {unobserved}",
        failover.len(),
        sub.stats().incomplete_replays
    );
}

/// Writes as fast as DDS admits for `run`; returns samples per second the
/// reader side received.
async fn throughput_once(domain: u16, filtered: bool, run: Duration) -> f64 {
    let config = DdsConfig::new(domain);
    let wp = VigilParticipant::new(config.clone()).expect("participant");
    let rp = VigilParticipant::new(config).expect("participant");
    let topic = wp.data_topic("tput", SYNTHETIC_TYPE).expect("topic");
    let writer = wp
        .data_writer::<SyntheticSample>(&topic, None)
        .expect("writer");
    let guid = guid_of(&writer);
    let rtopic = rp.data_topic("tput", SYNTHETIC_TYPE).expect("topic");
    let (_route_tx, route_rx) = watch::channel(Route {
        active: Some(RouteEnd {
            producer: "w".to_owned(),
            topic: "tput".to_owned(),
            writer_guid: guid,
        }),
        standby: None,
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_w = std::sync::Arc::clone(&stop);
    // Discovery first, then the clock starts.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let writer_task = tokio::task::spawn_blocking(move || {
        let mut seq = 0u64;
        while !stop_w.load(std::sync::atomic::Ordering::Relaxed) {
            seq += 1;
            let ts = unix_now_ns();
            let s = SyntheticSample {
                producer: "w".to_owned(),
                seq,
                source_ts_ns: ts,
                period_ns: 0,
            };
            if writer.write(s, Some(dds_timestamp(ts))).is_err() {
                std::thread::yield_now();
            }
        }
    });
    let count = if filtered {
        let mut sub = Subscription::<SyntheticSample>::new(
            &rp,
            &["tput".to_owned()],
            SYNTHETIC_TYPE,
            route_rx,
            SubscriptionConfig::default(),
        )
        .expect("subscription");
        first_from(&mut sub, "w", Duration::from_secs(10)).await;
        let end = tokio::time::Instant::now() + run;
        let mut n = 0u64;
        while let Ok(Some(_)) = tokio::time::timeout_at(end, sub.recv()).await {
            n += 1;
        }
        n
    } else {
        let reader = rp
            .data_reader::<SyntheticSample>(&rtopic, None)
            .expect("reader");
        let mut stream = reader.async_sample_stream();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        let end = tokio::time::Instant::now() + run;
        let mut n = 0u64;
        while let Ok(Some(s)) = tokio::time::timeout_at(end, stream.next()).await {
            if s.is_ok() {
                n += 1;
            }
        }
        n
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = writer_task.await;
    count as f64 / run.as_secs_f64()
}

async fn throughput(rounds: u16, run: Duration) {
    let mut raw = Vec::new();
    let mut vigil = Vec::new();
    for round in 0..rounds {
        // Alternate, on fresh domains, so neither side gets a warmer machine.
        raw.push(throughput_once(93 + 2 * round, false, run).await);
        vigil.push(throughput_once(94 + 2 * round, true, run).await);
    }
    raw.sort_by(f64::total_cmp);
    vigil.sort_by(f64::total_cmp);
    let (r, v) = (raw[raw.len() / 2], vigil[vigil.len() / 2]);
    println!(
        "throughput: plain rustdds reader median {r:.0} samples/s, vigil Subscription median {v:.0} samples/s, ratio {:.3} (runs: raw {raw:.0?}, vigil {vigil:.0?})",
        v / r
    );
}
