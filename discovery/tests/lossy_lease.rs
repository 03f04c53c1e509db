//! Issue 14: at 5 % heartbeat loss and 20 ms jitter, the default liveness
//! (10 ms heartbeats, 100 ms lease) declares no live producer unreachable,
//! through the real registry over simulated hours; the control shows the
//! same harness counts false failovers where they happen.

mod core_support;
#[path = "../benches/lossy_lease/sim.rs"]
mod sim;

use std::time::Duration;

use sim::{model_per_heartbeat, run, Link};
use vigil_discovery::DdsConfig;

const HOURS: u64 = 2;

fn link(period: Duration, lease: Duration) -> Link {
    Link {
        period,
        lease,
        loss: 0.05,
        jitter: Duration::from_millis(20),
    }
}

#[test]
fn default_liveness_has_no_false_failover_at_five_percent_loss() {
    let default = link(
        DdsConfig::DEFAULT_HEARTBEAT_PERIOD,
        DdsConfig::DEFAULT_LEASE,
    );
    let out = run(default, Duration::from_secs(HOURS * 3600), 14);
    // The model gives about 1e-5 an hour (docs/stress.md): zero here is
    // the expectation, and the model agrees it is below one in 1 000 h.
    assert_eq!(out.false_failovers, 0, "{out:?}");
    let per_hour = model_per_heartbeat(default) * 3600.0 / default.period.as_secs_f64();
    assert!(per_hour < 1e-3, "model: {per_hour} an hour");
    // The loss did happen, at the rate asked.
    let rate = out.lost as f64 / out.sent as f64;
    assert!((0.045..0.055).contains(&rate), "loss {rate}");
}

#[test]
fn the_harness_counts_false_failovers_of_a_short_lease() {
    // Control: 4 heartbeats per lease fail about 10 times an hour at this
    // loss, so the zero above is the lease's doing, not a blind counter.
    let short = link(Duration::from_millis(20), Duration::from_millis(80));
    let out = run(short, Duration::from_secs(HOURS * 3600), 14);
    assert!(out.false_failovers >= 3, "{out:?}");
}
