//! Issue 14: false failovers per hour on a lossy, jittery link, by
//! liveness setting, through the real registry in simulated time
//! (`lossy_lease/sim.rs`). Prints the BENCHMARKS.md table.
//!
//! ```sh
//! cargo bench -p vigil-discovery --bench lossy_lease
//! ```
//!
//! Settings that fail often are counted directly; for the ones a bounded
//! run never sees fail, the count is extrapolated by the model those
//! check (`loss^m` per heartbeat).

#[path = "../tests/core_support/mod.rs"]
mod core_support;
#[path = "lossy_lease/sim.rs"]
mod sim;

use std::time::Duration;

use sim::{model_per_heartbeat, run, Link};

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`.
    if !std::env::args().any(|a| a == "--bench") {
        println!("lossy_lease: run it with `cargo bench -p vigil-discovery --bench lossy_lease`");
        return;
    }
    let hours: f64 = std::env::var("LOSSY_HOURS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(20.0);
    let ms = Duration::from_millis;
    println!("simulated {hours} h per setting (real registry, seeded; adverts left out)");
    println!("| loss | jitter | period | lease | k | false failovers counted | per hour, counted | per hour, model |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (loss, jitter) in [(0.05, 20), (0.05, 0), (0.10, 20), (0.01, 20)] {
        for (period, lease) in [
            (20, 40),
            (20, 60),
            (20, 80),
            (20, 100),
            (10, 100),
            (10, 150),
            (20, 200),
        ] {
            let link = Link {
                period: ms(period),
                lease: ms(lease),
                loss,
                jitter: ms(jitter),
            };
            let span = Duration::from_secs_f64(hours * 3600.0);
            let out = run(link, span, 14);
            let received_per_hour = (out.sent - out.lost) as f64 / hours;
            println!(
                "| {:.0} % | {jitter} ms | {period} ms | {lease} ms | {} | {} | {:.3} | {:.2e} |",
                loss * 100.0,
                lease / period,
                out.false_failovers,
                out.false_failovers as f64 / hours,
                model_per_heartbeat(link) * received_per_hour,
            );
        }
    }
}
