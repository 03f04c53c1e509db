//! Issue 14: false failovers on a lossy link. Real processes on three
//! hosts (network namespaces, tests/support/hosts.rs; needs root): for
//! each liveness setting, a producer `a_T` on the lossy host P and a
//! worse one `b_T` on the clean host Q, on their own topic `T`, and a
//! consumer on C preferring `a_T`. P's cable drops each packet with the
//! given probability (iptables `statistic`, `apt-get install iptables`;
//! the kernel here has no netem, so no jitter is injected: a jitter J acts
//! as a lease shorter by J). Run it with `LOSSY_LOSS=0` too: on a loaded
//! machine, late heartbeats of starved processes look the same, and only
//! the difference is the link's doing.
//! Every switch away from the live `a_T` as unreachable is a false
//! failover; the harness prints them per hour of `a_T` being active.
//!
//! ```sh
//! LOSSY_MINUTES=10 LOSSY_LOSS=0.05 cargo bench --bench lossy
//! ```
//!
//! Short leases (2-4 heartbeats) fail often enough to be counted in a
//! bounded run; they check the model (a false failover needs k-1 lost
//! heartbeats in a row, probability loss^(k-1) per heartbeat) that
//! extrapolates to the longer ones, which a bounded run cannot see fail.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::hosts::Lan;
use support::{Proc, PATIENCE};

/// One liveness setting under test.
struct Setting {
    topic: &'static str,
    period_ms: u64,
    lease_ms: u64,
}

const SETTINGS: &[Setting] = &[
    Setting {
        topic: "k2",
        period_ms: 20,
        lease_ms: 40,
    },
    Setting {
        topic: "k3",
        period_ms: 20,
        lease_ms: 60,
    },
    Setting {
        topic: "k4",
        period_ms: 20,
        lease_ms: 80,
    },
    Setting {
        topic: "k5",
        period_ms: 20,
        lease_ms: 100,
    },
    Setting {
        topic: "k10",
        period_ms: 10,
        lease_ms: 100,
    },
];

/// What one consumer saw.
#[derive(Default)]
struct Count {
    false_failovers: u64,
    a_active: Duration,
    active_since: Option<Instant>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn producer(lan: &Lan, host: &str, domain: u16, id: &str, s: &Setting, cap: &str) -> Proc {
    let h = lan.host(host);
    let mut command = h.vigil();
    command.args([
        "produce",
        "--domain",
        &domain.to_string(),
        "--interface",
        &h.interface(),
        "--topic",
        s.topic,
        "--id",
        id,
        "--rate",
        "20",
        "--heartbeat-ms",
        &s.period_ms.to_string(),
        "--lease-ms",
        &s.lease_ms.to_string(),
        "--cap",
        cap,
        "--format",
        "json",
        "--exit-on-eof",
    ]);
    let mut p = Proc::spawn_command(id, command);
    p.wait_for(PATIENCE, |v| v["event"] == "ready");
    p
}

/// The share of packets P's cable dropped on the way out (the DROP and
/// the counting ACCEPT rule of `Host::lossy` on OUTPUT).
fn realised_loss(lan: &Lan) -> Option<f64> {
    let out = lan
        .host("p")
        .command("iptables")
        .args(["-L", "OUTPUT", "-v", "-n", "-x"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let packets = |target: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.split_whitespace().nth(2) == Some(target))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let (dropped, passed) = (packets("DROP")?, packets("ACCEPT")?);
    Some(dropped as f64 / (dropped + passed).max(1) as f64)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("lossy-link harness: run it with `cargo bench --bench lossy` (root)");
        return;
    }
    let minutes: f64 = env_or("LOSSY_MINUTES", 10.0);
    let loss: f64 = env_or("LOSSY_LOSS", 0.05);
    let Some(lan) = Lan::new("ls", 20, &["p", "q", "c"]) else {
        return;
    };
    let domain = 170;
    let mut procs = Vec::new();
    let mut consumers = Vec::new();
    for s in SETTINGS {
        let a = format!("a_{}", s.topic);
        procs.push(producer(&lan, "p", domain, &a, s, "accuracy=0.001"));
        let b = format!("b_{}", s.topic);
        procs.push(producer(&lan, "q", domain, &b, s, "accuracy=0.002"));
        let c_if = lan.host("c").interface();
        let query = format!("{} WHERE health.state = OK PREFER accuracy ASC", s.topic);
        let mut c = Proc::consumer_with(
            lan.host("c").vigil(),
            domain,
            &query,
            &["--interface", &c_if, "--wait-to-restore-ms", "100"],
        );
        c.wait_for(PATIENCE, |v| v["event"] == "selected" && v["producer"] == a);
        consumers.push((
            a,
            c,
            Count {
                active_since: Some(Instant::now()),
                ..Count::default()
            },
        ));
    }
    // Loss only once everything is discovered: the run measures the
    // steady state, not discovery over a lossy link.
    lan.host("p").lossy(loss);
    let started = Instant::now();
    let run_for = Duration::from_secs_f64(minutes * 60.0);
    while started.elapsed() < run_for {
        for (a, c, count) in &mut consumers {
            while let Some(v) =
                c.try_wait_for(Duration::from_millis(5), |v| v["event"] == "selected")
            {
                let now = Instant::now();
                if v["previous"] == a.as_str() {
                    if let Some(since) = count.active_since.take() {
                        count.a_active += now - since;
                    }
                    let cause = v["cause"].as_str().unwrap_or_default();
                    if cause.contains("unreachable") {
                        count.false_failovers += 1;
                    }
                }
                if v["producer"] == a.as_str() {
                    count.active_since = Some(now);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let realised = realised_loss(&lan);
    println!(
        "loss {loss} (realised on P's output: {}), {minutes} min; no jitter injected",
        realised.map_or("?".to_owned(), |r| format!("{r:.4}"))
    );
    println!("setting | period | lease | k | a active (min) | false failovers | per hour");
    for (s, (_, _, count)) in SETTINGS.iter().zip(&mut consumers) {
        if let Some(since) = count.active_since.take() {
            count.a_active += since.elapsed();
        }
        let hours = count.a_active.as_secs_f64() / 3600.0;
        println!(
            "{} | {} ms | {} ms | {} | {:.1} | {} | {:.1}",
            s.topic,
            s.period_ms,
            s.lease_ms,
            s.lease_ms / s.period_ms,
            hours * 60.0,
            count.false_failovers,
            count.false_failovers as f64 / hours.max(f64::MIN_POSITIVE)
        );
    }
    drop(consumers);
    drop(procs);
}
