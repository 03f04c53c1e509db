//! What vigil costs when nothing happens (issue 17): CPU, wake-ups and
//! resident memory of idle producers, consumers and monitors in domains of
//! 20 to 200 producers. Prints one line per point of each curve;
//! BENCHMARKS.md keeps them.
//!
//! `cargo bench --bench idle` runs every part (about six minutes);
//! `cargo bench --bench idle -- producer` (or `consumer`) runs one.
//!
//! - **producer**: one `vigil produce` at 1 Hz data among N-1 other
//!   producers and one `vigil monitor`, with 100 ms heartbeats (the
//!   issue's idle scenario) and with the default heartbeat period.
//! - **consumer**: `vigil consume` (one query over the domain's topic) and
//!   `vigil monitor` with N producers at 10 Hz heartbeats; RSS per held
//!   advert from the monitor's curve.
//!
//! Up to 20 producers each is its own `vigil produce` process, as in a
//! robot; above, the others are advertisers held by one process (this
//! executable, re-run with `--role advertisers`), as a ROS 2 agent holds
//! the proxies of many nodes: 200 participants would not fit the domain's
//! port range. The two differ in what DDS discovery costs: every
//! participant talks to every other (see BENCHMARKS.md). CPU is read from `/proc` as the process's own user+system
//! time, so other load on the machine changes it little; wake-ups are the
//! context switches of all its threads.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vigil_discovery::clock::{dds_timestamp, unix_now_ns};
use vigil_discovery::{
    guid_of, Advertiser, AdvertiserConfig, DdsConfig, SyntheticSample, VigilParticipant,
    SYNTHETIC_TYPE,
};

#[path = "common/ok_tree.rs"]
mod ok_tree;

use ok_tree::ok_tree;

const TOPIC: &str = "idle";
/// How long each point is measured, after the warm-up.
const OVER: Duration = Duration::from_secs(20);
/// Discovery of the domain settles (SPDP/SEDP, transient-local adverts).
const WARM_UP: Duration = Duration::from_secs(5);
const COUNTS: [usize; 4] = [20, 50, 100, 200];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--role") {
        return role(&args[at + 1..]);
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` builds and
    // runs bench targets too, without it: minutes of idling, so there it
    // only says how to run it.
    if !args.iter().any(|a| a == "--bench") {
        println!("idle harness: run it with `cargo bench --bench idle`");
        return;
    }
    let wants = |part: &str| {
        let named: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        named.is_empty() || named.iter().any(|a| a.as_str() == part)
    };
    if wants("producer") {
        producer_curve();
    }
    if wants("consumer") {
        consumer_curve();
    }
}

/// Re-run of this executable as one of the domain's processes.
fn role(args: &[String]) {
    match args {
        [name, domain, n, heartbeat_ms, wire @ ..] if name == "advertisers" => {
            // WIRE (default 2): 1 sends single heartbeats as a build
            // before wire v2 did (issue 14's bytes, before and after).
            let wire = wire.first().map_or(Ok(2), |w| w.parse());
            let (Ok(domain), Ok(n), Ok(heartbeat_ms), Ok(wire)) =
                (domain.parse(), n.parse(), heartbeat_ms.parse(), wire)
            else {
                eprintln!("advertisers DOMAIN N HEARTBEAT_MS [WIRE]");
                std::process::exit(2);
            };
            advertisers(domain, n, Duration::from_millis(heartbeat_ms), wire);
        }
        _ => {
            eprintln!("unknown role {args:?}");
            std::process::exit(2);
        }
    }
}

/// `n` producers in one participant, each with its own data writer and
/// advertiser, writing one sample a second each; runs until killed.
fn advertisers(domain: u16, n: usize, heartbeat: Duration, wire: u16) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let config = DdsConfig::new(domain)
            .with_liveness(heartbeat, heartbeat * 10)
            .with_wire_version(wire);
        let p = VigilParticipant::new(config).expect("participant");
        let topic = p.data_topic(TOPIC, SYNTHETIC_TYPE).expect("topic");
        let mut held = Vec::with_capacity(n);
        for i in 0..n {
            let writer = p
                .data_writer::<SyntheticSample>(&topic, None)
                .expect("writer");
            let id = format!("held_{i}");
            let advertiser = Advertiser::start(
                &p,
                AdvertiserConfig::new(&id, TOPIC, SYNTHETIC_TYPE, guid_of(&writer))
                    .with_tree(ok_tree(&id).1, None),
            )
            .expect("advertiser");
            held.push((id, writer, advertiser));
        }
        println!("ready");
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut seq = 0;
        loop {
            tick.tick().await;
            seq += 1;
            for (id, writer, _) in &held {
                let ts = unix_now_ns();
                let sample = SyntheticSample {
                    producer: id.clone(),
                    seq,
                    source_ts_ns: ts,
                    period_ns: 1_000_000_000,
                };
                let _ = writer.write(sample, Some(dds_timestamp(ts)));
            }
        }
    });
}

/// Processes that stop with the harness.
struct Domain(Vec<Child>);

impl Drop for Domain {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Domain {
    /// `n` advertisers with this heartbeat, held by one process.
    fn with_advertisers(domain: u16, n: usize, heartbeat_ms: u64) -> Domain {
        let mut d = Domain(Vec::new());
        if n > 0 {
            d.spawn_advertisers(domain, n, heartbeat_ms);
        }
        d
    }

    fn spawn_advertisers(&mut self, domain: u16, n: usize, heartbeat_ms: u64) {
        use std::io::{BufRead, BufReader};
        let exe = std::env::current_exe().expect("bench executable");
        let mut child = Command::new(exe)
            .args(["--role", "advertisers"])
            .args([domain.to_string(), n.to_string(), heartbeat_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("advertisers");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        if !matches!(lines.next(), Some(Ok(l)) if l == "ready") {
            panic!("the advertisers process did not start");
        }
        std::thread::spawn(move || for _ in lines {});
        self.0.push(child);
    }

    /// `n` idle `vigil produce` processes (1 Hz) with this heartbeat.
    fn with_producers(domain: u16, n: usize, heartbeat_ms: u64) -> Domain {
        let mut d = Domain(Vec::new());
        let domain_arg = domain.to_string();
        let hb = heartbeat_ms.to_string();
        let lease = (heartbeat_ms * 10).to_string();
        for i in 0..n {
            let id = format!("other_{i}");
            d.vigil(&[
                "produce",
                "--domain",
                &domain_arg,
                "--topic",
                TOPIC,
                "--id",
                &id,
                "--rate",
                "1",
                "--heartbeat-ms",
                &hb,
                "--lease-ms",
                &lease,
            ]);
        }
        d
    }

    /// A `vigil` subcommand in the domain, output discarded.
    fn vigil(&mut self, args: &[&str]) -> u32 {
        let child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("vigil");
        let pid = child.id();
        self.0.push(child);
        pid
    }
}

/// A process's own CPU time, resident memory and context switches.
#[derive(Clone, Copy)]
struct Usage {
    cpu: Duration,
    rss_kb: u64,
    switches: u64,
}

fn usage(pid: u32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    // After the command: utime and stime are fields 14 and 15 (1-based).
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb = field(&status, "VmRSS:")?;
    let mut switches = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        switches += field(&status, "voluntary_ctxt_switches:").unwrap_or(0)
            + field(&status, "nonvoluntary_ctxt_switches:").unwrap_or(0);
    }
    // USER_HZ is 100 on Linux.
    Some(Usage {
        cpu: Duration::from_millis(ticks * 10),
        rss_kb,
        switches,
    })
}

fn field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU (% of one core), wake-ups per second and RSS (MB) of each pid over
/// [`OVER`], measured together.
fn measure(pids: &[u32]) -> Vec<Option<(f64, f64, f64)>> {
    std::thread::sleep(WARM_UP);
    let before: Vec<Option<Usage>> = pids.iter().map(|&p| usage(p)).collect();
    std::thread::sleep(OVER);
    let secs = OVER.as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(&pid, before)| {
            let (before, after) = (before?, usage(pid)?);
            Some((
                (after.cpu - before.cpu).as_secs_f64() / secs * 100.0,
                (after.switches - before.switches) as f64 / secs,
                after.rss_kb as f64 / 1024.0,
            ))
        })
        .collect()
}

fn print(what: &str, m: Option<(f64, f64, f64)>) {
    match m {
        Some((cpu, wakeups, rss)) => {
            println!("{what}: CPU {cpu:.2} % of one core, {wakeups:.0} wake-ups/s, RSS {rss:.1} MB")
        }
        None => println!("{what}: the process is gone"),
    }
}

/// One idle `vigil produce` among `n - 1` others and a monitor.
fn producer_curve() {
    for (heartbeat_ms, label) in [(100, "100 ms heartbeats"), (0, "default heartbeats")] {
        for (i, n) in [1, 5].into_iter().chain(COUNTS).enumerate() {
            let domain = 200 + i as u16 + if heartbeat_ms == 0 { 10 } else { 0 };
            let others = if n <= 20 {
                Domain::with_producers(domain, n - 1, heartbeat_ms.max(10))
            } else {
                Domain::with_advertisers(domain, n - 1, heartbeat_ms.max(10))
            };
            let mut d = others;
            let domain_arg = domain.to_string();
            let mut args = vec![
                "produce",
                "--domain",
                &domain_arg,
                "--topic",
                TOPIC,
                "--id",
                "measured",
                "--rate",
                "1",
            ];
            let hb = heartbeat_ms.to_string();
            if heartbeat_ms > 0 {
                args.extend(["--heartbeat-ms", &hb, "--lease-ms", "1000"]);
            }
            let producer = d.vigil(&args);
            d.vigil(&["monitor", "--domain", &domain_arg]);
            let m = measure(&[producer]);
            print(
                &format!("idle producer ({label}), domain of {n} producers"),
                m[0],
            );
        }
    }
}

/// `vigil consume` and `vigil monitor` over `n` producers at 10 Hz
/// heartbeats.
fn consumer_curve() {
    let mut rss = Vec::new();
    for (i, n) in COUNTS.into_iter().enumerate() {
        let domain = 220 + i as u16;
        let mut d = Domain::with_advertisers(domain, n, 100);
        let domain_arg = domain.to_string();
        let query = format!("{TOPIC} WHERE health.state = OK");
        let consumer = d.vigil(&["consume", "--domain", &domain_arg, "--query", &query]);
        let monitor = d.vigil(&["monitor", "--domain", &domain_arg]);
        let m = measure(&[consumer, monitor]);
        print(
            &format!("vigil consume, {n} producers at 10 Hz heartbeats"),
            m[0],
        );
        print(
            &format!("vigil monitor, {n} producers at 10 Hz heartbeats"),
            m[1],
        );
        if let Some((_, _, mb)) = m[1] {
            rss.push((n, mb));
        }
    }
    if let (Some(&(n0, r0)), Some(&(n1, r1))) = (rss.first(), rss.last()) {
        if n1 > n0 {
            println!(
                "vigil monitor: RSS per held advert {:.1} kB ({n0} -> {n1} producers)",
                (r1 - r0) * 1024.0 / (n1 - n0) as f64
            );
        }
    }
}
