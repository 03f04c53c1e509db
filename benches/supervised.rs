//! Issue 9's harness: a supervised `vigil produce` child at 1 kHz is
//! SIGKILLed; its supervisor (`vigil supervise`, a real process) says
//! FAILED on its behalf, and the consumer's first sample from the standby
//! is timed, with and without hot standby. Prints medians and p99;
//! BENCHMARKS.md records the figures.
//!
//! `cargo bench --bench supervised` runs everything (about a minute once
//! built); `cargo bench --bench supervised -- hot` (or `cold`, `idle`) runs
//! one part.
//!
//! - **hot** / **cold**: SIGKILL of the active, supervised producer (lease
//!   100 ms, heartbeats 20 ms, 1 kHz) → the first sample from the standby
//!   (an unsupervised `vigil produce`), over 50 kills; hot standby on or
//!   off. The switch causes are counted: FAILED is the supervisor's word,
//!   `unreachable` the lease. Each kill also times the repair (MTTR): kill
//!   → restarted (100 ms backoff) → advert OK → re-selected after
//!   wait-to-restore (100 ms) → its first sample.
//! - **idle**: CPU and resident memory of `vigil supervise` with 10 idle
//!   children (`sleep`), over 10 s.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use vigil_discovery::{
    DdsConfig, Selector, SelectorConfig, Subscription, SubscriptionConfig, SwitchCause,
    SwitchPolicy, SyntheticSample, VigilParticipant, SYNTHETIC_TYPE,
};
use vigil_qos::Query;

#[path = "common/cpu_latency.rs"]
mod cpu_latency;

const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";
const KILLS: usize = 50;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--cpu-latency-us N`: held for the whole run.
    let _cpu_latency = cpu_latency::hold_from_args(&args);
    // `cargo test --all-targets` runs bench targets too, without `--bench`.
    if !args.iter().any(|a| a == "--bench") {
        println!("supervised harness: run it with `cargo bench --bench supervised`");
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
    if wants("hot") {
        rt.block_on(kills(95, true, KILLS));
    }
    if wants("cold") {
        rt.block_on(kills(96, false, KILLS));
    }
    if wants("idle") {
        idle(97, 10, Duration::from_secs(10));
    }
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

fn produce_args(domain: u16, id: &str, accuracy: &str) -> Vec<String> {
    [
        "produce",
        "--domain",
        &domain.to_string(),
        "--topic",
        "imu",
        "--id",
        id,
        "--cap",
        &format!("accuracy={accuracy}"),
        "--rate",
        "1000",
        "--lease-ms",
        "100",
        "--heartbeat-ms",
        "20",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The unsupervised standby, waited for until ready.
fn standby(domain: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(produce_args(domain, "kill_b", "0.002"))
        .args(["--format", "json", "--exit-on-eof"])
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

/// `vigil supervise` with `children` (YAML list items); its stdout (and
/// the children's) read on a thread that records each `started` pid.
struct Supervise {
    child: Child,
    pid: Arc<Mutex<Option<u32>>>,
    /// Unix seconds of each `failed` line (printed right after the FAILED
    /// went out).
    failed: Arc<Mutex<Vec<f64>>>,
    /// Unix seconds of each `exited` line (printed once the exit is
    /// reaped, after SIGCHLD).
    exited: Arc<Mutex<Vec<f64>>>,
    /// Unix seconds of each `dying` line (the kernel's early word, printed
    /// right after the FAILED it caused went out; Linux, as root).
    dying: Arc<Mutex<Vec<f64>>>,
    _dir: std::path::PathBuf,
}

impl Supervise {
    fn start(domain: u16, children: &str) -> Supervise {
        let dir =
            std::env::temp_dir().join(format!("vigil-bench-sup-{}-{domain}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("sup.yaml");
        std::fs::write(
            &config,
            format!(
                "name: bench\nintensity: 1000\nperiod: 10s\n\
                 backoff: {{ initial: 100ms, max: 100ms, jitter: 0 }}\nchildren:\n{children}"
            ),
        )
        .expect("config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["supervise", "--config"])
            .arg(&config)
            .args(["--domain", &domain.to_string(), "--format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vigil supervise");
        let pid = Arc::new(Mutex::new(None));
        let failed = Arc::new(Mutex::new(Vec::new()));
        let exited = Arc::new(Mutex::new(Vec::new()));
        let dying = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        {
            let pid = Arc::clone(&pid);
            let failed = Arc::clone(&failed);
            let exited = Arc::clone(&exited);
            let dying = Arc::clone(&dying);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    if v["event"] == "started" {
                        if let Ok(mut p) = pid.lock() {
                            *p = v["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
                        }
                    }
                    let times = match v["event"].as_str() {
                        Some("failed") => &failed,
                        Some("exited") => &exited,
                        Some("dying") => &dying,
                        _ => continue,
                    };
                    if let (Ok(mut f), Some(t)) = (times.lock(), v["t"].as_f64()) {
                        f.push(t);
                    }
                }
            });
        }
        Supervise {
            child,
            pid,
            failed,
            exited,
            dying,
            _dir: dir,
        }
    }

    fn child_pid(&self) -> Option<u32> {
        self.pid.lock().ok().and_then(|p| *p)
    }

    /// The first `failed` line at or after `since` (Unix seconds).
    fn failed_after(&self, since: f64) -> Option<f64> {
        first_at_or_after(&self.failed, since)
    }

    /// The first `exited` line at or after `since` (Unix seconds).
    fn exited_after(&self, since: f64) -> Option<f64> {
        first_at_or_after(&self.exited, since)
    }

    /// The first `dying` line at or after `since` (Unix seconds).
    fn dying_after(&self, since: f64) -> Option<f64> {
        first_at_or_after(&self.dying, since)
    }

    fn stop(mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn first_at_or_after(times: &Mutex<Vec<f64>>, since: f64) -> Option<f64> {
    let times = times.lock().ok()?;
    times.iter().copied().find(|&t| t >= since)
}

/// Receives until a sample of `producer` arrives; the time it did.
async fn first_from(
    sub: &mut Subscription<SyntheticSample>,
    producer: &str,
    limit: Duration,
) -> Option<Instant> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(d)) if d.value.producer == producer => return Some(Instant::now()),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return None,
        }
    }
}

async fn kills(domain: u16, hot_standby: bool, reps: usize) {
    let mode = if hot_standby {
        "hot standby"
    } else {
        "no hot standby"
    };
    let mut b = standby(domain);
    let command = produce_args(domain, "kill_a", "0.001")
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sup = Supervise::start(
        domain,
        &format!(
            "  - id: kill_a_proc\n    command: ['{}', {command}]\n    produces: [kill_a]\n",
            env!("CARGO_BIN_EXE_vigil")
        ),
    );
    let consumer = VigilParticipant::new(DdsConfig::new(domain)).expect("participant");
    let policy = SwitchPolicy {
        wait_to_restore: Duration::from_millis(100),
        flap: vigil_diag::FlapDamping {
            suppress: 1e12,
            reuse: 1e11,
            ..Default::default()
        },
        ..SwitchPolicy::default()
    };
    let query = Query::parse(QUERY).expect("query");
    let selector = Selector::start(
        &consumer,
        &query,
        SelectorConfig::default().with_policy(policy),
    )
    .expect("selector");
    let mut events = selector.events();
    let mut sub = selector
        .subscribe::<SyntheticSample>(
            SYNTHETIC_TYPE,
            SubscriptionConfig::default().with_hot_standby(hot_standby),
        )
        .expect("subscription");
    let mut failover = Vec::new();
    let mut said = Vec::new();
    let mut reaped = Vec::new();
    let mut early = Vec::new();
    let mut mttr = Vec::new();
    let mut killed_at: Option<Instant> = None;
    for _ in 0..reps {
        let Some(back) = first_from(&mut sub, "kill_a", Duration::from_secs(20)).await else {
            println!("supervised ({mode}): kill_a never (re)selected; stopping");
            break;
        };
        if let Some(t0) = killed_at {
            mttr.push((back - t0).as_secs_f64() * 1e3);
        }
        // Warm the standby buffer, and let the standby be chosen.
        let warm_until = tokio::time::Instant::now() + Duration::from_millis(400);
        while let Ok(Some(_)) = tokio::time::timeout_at(warm_until, sub.recv()).await {}
        let Some(pid) = sup.child_pid() else {
            println!("supervised ({mode}): no child pid; stopping");
            break;
        };
        let t0 = Instant::now();
        let t0_unix = unix_now();
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        killed_at = Some(t0);
        match first_from(&mut sub, "kill_b", Duration::from_secs(10)).await {
            Some(at) => failover.push((at - t0).as_secs_f64() * 1e3),
            None => println!("supervised ({mode}): no sample from the standby within 10 s"),
        }
        // The `failed` line may still be on its way through the pipe.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(t) = sup.failed_after(t0_unix) {
            said.push((t - t0_unix) * 1e3);
        }
        if let Some(t) = sup.exited_after(t0_unix) {
            reaped.push((t - t0_unix) * 1e3);
        }
        if let Some(t) = sup.dying_after(t0_unix) {
            early.push((t - t0_unix) * 1e3);
        }
    }
    if let Some(t0) = killed_at {
        if let Some(back) = first_from(&mut sub, "kill_a", Duration::from_secs(20)).await {
            mttr.push((back - t0).as_secs_f64() * 1e3);
        }
    }
    let (mut by_failed, mut by_lease) = (0, 0);
    while let Ok(event) = events.try_recv() {
        match event.cause {
            SwitchCause::ActiveFailed { .. } => by_failed += 1,
            SwitchCause::ActiveUnreachable => by_lease += 1,
            _ => {}
        }
    }
    report(
        &format!("supervised ({mode}): kill -9 of a supervised child (lease 100 ms, 1 kHz) -> first sample from the standby"),
        &mut failover,
    );
    println!(
        "supervised ({mode}): switches away by FAILED on behalf {by_failed}, by lease {by_lease}"
    );
    report(
        &format!(
            "supervised ({mode}): kill -> the kernel's early word (the supervisor's `dying` line)"
        ),
        &mut early,
    );
    report(
        &format!("supervised ({mode}): kill -> exit reaped after SIGCHLD (the supervisor's `exited` line)"),
        &mut reaped,
    );
    report(
        &format!("supervised ({mode}): of which kill -> FAILED published (the supervisor's `failed` line)"),
        &mut said,
    );
    report(
        &format!("supervised ({mode}): MTTR, kill -> restarted -> re-selected -> first sample"),
        &mut mttr,
    );
    drop(sub);
    drop(selector);
    sup.stop();
    let _ = b.kill();
    let _ = b.wait();
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// utime + stime of `pid` in clock ticks, and its VmRSS in kB.
fn usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based).
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks, rss))
}

fn idle(domain: u16, children: usize, over: Duration) {
    let list: String = (0..children)
        .map(|i| format!("  - {{ id: idle_{i}, command: [sleep, '600'] }}\n"))
        .collect();
    let sup = Supervise::start(domain, &list);
    std::thread::sleep(Duration::from_secs(2));
    let pid = sup.child.id();
    let Some((before, _)) = usage(pid) else {
        println!("idle: cannot read /proc/{pid}");
        return sup.stop();
    };
    std::thread::sleep(over);
    let Some((after, rss)) = usage(pid) else {
        println!("idle: cannot read /proc/{pid}");
        return sup.stop();
    };
    // USER_HZ is 100 on Linux.
    let cpu = (after - before) as f64 / 100.0 / over.as_secs_f64() * 100.0;
    println!(
        "idle: vigil supervise with {children} children over {:?}: CPU {cpu:.2} % of one core, RSS {:.1} MB",
        over,
        rss as f64 / 1024.0
    );
    sup.stop();
}
