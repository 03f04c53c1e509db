//! Issue 11's figures that need no network: the metrics scrape with 1 000
//! adverts, and a one-hour recording of the demo replayed.
//!
//! - `scrape`: a consumer's [`CoreMetrics`] holding 1 000 producers (all
//!   with a `vigil_producer_health` series, the limit raised to 1 000; then
//!   the default limit of 100), scraped 200 times over HTTP on loopback
//!   as Prometheus does (`GET /metrics`, the whole body read). Prints the
//!   median, p99 and max of one scrape and the body's size.
//! - `hour`: the demo's timeline (three IMUs at the DDS shell's default
//!   liveness, 10 ms heartbeats and a 100 ms lease; degrade, kill, recover,
//!   flap) played again and again on the in-process transport for one
//!   simulated hour, the consumer's core recorded by the flight recorder
//!   to an MCAP file; then the file replayed and checked, as `vigil
//!   replay` does (read, decompress, parse, feed a fresh core, compare),
//!   three times. Prints the steps, the file's size and the replay times.
//!
//!   cargo bench --bench ops [-- scrape|hour]          # release build
//!   cargo test --bench ops -- --bench [scrape|hour]    # debug build

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil::diag::{State, Timestamp};
use vigil::discovery::inproc::InProcess;
use vigil::discovery::{
    AdvertKey, RecordedInput, RecordedStep, Recorder, RegistryChange, SwitchPolicy, SyntheticSample,
};
use vigil::metrics::{CoreMetrics, MetricsServer};
use vigil::record::{replay, FlightRecorder, RecordConfig};
use vigil::{Consumer, Producer, Transport};

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if run("scrape") {
        scrape(1000);
        scrape(100);
    }
    if run("hour") {
        hour();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// 1 000 producers known, `limit` of them with a health series.
fn scrape(limit: usize) {
    let metrics = Arc::new(CoreMetrics::new(None).with_producer_limit(limit));
    for i in 0..1000u64 {
        let key = AdvertKey::new(format!("imu_{i:04}"), "imu");
        let at = Timestamp::from_nanos(i + 1);
        metrics.step(RecordedStep {
            at,
            input: RecordedInput::Tick,
            changes: vec![RegistryChange::Added(key.clone())],
            events: Vec::new(),
            breakers: Vec::new(),
        });
        metrics.step(RecordedStep {
            at,
            input: RecordedInput::Tick,
            changes: vec![RegistryChange::HealthChanged {
                key,
                old: State::Unknown,
                new: if i % 10 == 0 {
                    State::Degraded
                } else {
                    State::Ok
                },
            }],
            events: Vec::new(),
            breakers: Vec::new(),
        });
    }
    let server = MetricsServer::start("127.0.0.1:0".parse().expect("addr"), metrics)
        .expect("metrics server");
    let get = || {
        let mut s = TcpStream::connect(server.addr()).expect("connect");
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut body = Vec::new();
        s.read_to_end(&mut body).expect("response");
        body.len()
    };
    let size = get();
    let mut times = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        get();
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "scrape, 1000 adverts, {limit} health series: median {:?}, p99 {:?}, max {:?}; {size} bytes",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
}

fn hour() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hour.mcap");
    let flight = FlightRecorder::create(RecordConfig::new(&path)).expect("recorder");
    let generate = Instant::now();
    let net = InProcess::new(Default::default());
    let sim = Transport::from(net.clone());
    let imu = |id: &str, accuracy: &str| {
        Producer::<SyntheticSample>::builder("imu", id)
            .capability("accuracy", accuracy)
            .start(&sim)
            .expect("producer")
    };
    let policy = SwitchPolicy {
        hold_off: Duration::from_millis(200),
        wait_to_restore: Duration::from_secs(1),
        ..SwitchPolicy::default()
    };
    let mut consumer =
        Consumer::<SyntheticSample>::builder("imu WHERE health.state = OK PREFER accuracy ASC")
            .policy(policy)
            .recorder(Arc::clone(&flight) as Arc<dyn Recorder>)
            .start(&sim)
            .expect("consumer");
    let hour = Timestamp::from_nanos(3_600_000_000_000);
    let mut cycles = 0;
    let a = imu("imu_a", "0.001");
    let _c = imu("imu_c", "0.01");
    // The demo's timeline (14.4 s a cycle here, with 6 s to let imu_b go),
    // then again, for an hour. Samples are not the core's inputs (only the
    // data filter sees them): the recording holds adverts, heartbeats and
    // timer runs.
    let mut step = |ms: u64| {
        net.advance(Duration::from_millis(ms));
        // A simulation outruns any disk (a live core does not): wait for
        // the writer instead of having the recorder drop steps.
        while {
            let s = flight.stats();
            s.steps + s.dropped + 20_000 < flight.offered()
        } {
            std::thread::sleep(Duration::from_millis(1));
        }
        while consumer.try_next().is_some() {}
    };
    while net.now() < hour {
        let b = imu("imu_b", "0.002");
        step(1500);
        a.set("imu_a.health", State::Degraded).expect("set");
        step(1500);
        drop(b); // killed: its heartbeats stop, the lease decides
        step(1500);
        a.set("imu_a.health", State::Ok).expect("set");
        step(3000);
        for state in [
            State::Failed,
            State::Ok,
            State::Failed,
            State::Ok,
            State::Failed,
            State::Ok,
        ] {
            a.set("imu_a.health", state).expect("set");
            step(150);
        }
        step(6000);
        // The grace (5 s) has removed imu_b by now: it starts again next
        // cycle as a restarted process would.
        cycles += 1;
    }
    drop(consumer);
    let stats = flight.finish().expect("finish the recording");
    println!(
        "hour: {cycles} demo cycles in {} simulated, generated in {:.1} s: {} steps, {} dropped, {:.2} MB",
        net.now(),
        generate.elapsed().as_secs_f64(),
        stats.steps,
        stats.dropped,
        stats.bytes as f64 / 1e6
    );
    for run in 1..=3 {
        let start = Instant::now();
        let outcome = replay(&path, |_| {}).expect("replay");
        let took = start.elapsed();
        assert_eq!(outcome.divergence, None, "the replay diverged");
        assert_eq!(outcome.damage, None, "the recording is damaged");
        println!(
            "hour: replay {run}: {} steps, {} decisions ({} switches) reproduced in {:.3} s ({:.0} steps/s)",
            outcome.steps,
            outcome.decisions,
            outcome.selections,
            took.as_secs_f64(),
            outcome.steps as f64 / took.as_secs_f64()
        );
    }
}
