//! Tick latency: from a health change handed to the engine to the first
//! action started, on the IMU troubleshooting example (issue 10).
//!
//! Each sample builds a dry run over examples/imu_pair.tree.yaml with
//! examples/imu_troubleshoot.bt.xml and examples/imu.modes.yaml, applies
//! the healthy first batch (untimed), then times `DryRun::apply` of the
//! batch that turns imu_a's driver to ERROR: the tree update, the mode
//! rules, the behaviour tree's tick and the `Restart` start it produces.
//! Prints the median, p99 and max.
//!
//!   cargo bench -p vigil-recovery --bench bt_tick

use std::time::Instant;

use vigil_diag::{load_tree_str, Observation, Path, State, Timestamp, Tree};
use vigil_recovery::bt::{load_bt_str, Action, DryRun, Record};
use vigil_recovery::modes::load_modes_str;

const BT: &str = include_str!("../../examples/imu_troubleshoot.bt.xml");
const TREE: &str = include_str!("../../examples/imu_pair.tree.yaml");
const MODES: &str = include_str!("../../examples/imu.modes.yaml");
const SAMPLES: usize = 20_000;

fn status(path: &str, state: State) -> (Path, Observation) {
    let path = Path::parse(path).expect("a path");
    (
        path,
        Observation::Status {
            state,
            reason: None,
        },
    )
}

fn main() {
    let spec = load_tree_str(TREE, "imu_pair.tree.yaml").expect("the example tree");
    let bt = load_bt_str(BT).expect("the example behaviour tree");
    let (modes, _) = load_modes_str(MODES, "imu.modes.yaml").expect("the example modes");
    let at = |s: f64| Timestamp::from_secs_f64(s).expect("a time");
    let mut nanos = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let tree = Tree::build(&spec).expect("builds");
        let mut run = DryRun::new(tree, bt.clone(), Some(modes.clone()));
        let healthy = vec![
            status("vehicle.sensors.imu_a.driver", State::Ok),
            status("vehicle.sensors.imu_b.driver", State::Ok),
            (
                Path::parse("vehicle.power.bus").expect("a path"),
                Observation::Value(28.0),
            ),
        ];
        run.apply(healthy, at(0.0)).expect("applies");
        run.take_records();
        let fault = vec![status("vehicle.sensors.imu_a.driver", State::Failed)];
        let start = Instant::now();
        run.apply(fault, at(1.0)).expect("applies");
        let elapsed = start.elapsed();
        let records = run.take_records();
        assert!(
            records.iter().any(|r| matches!(
                r,
                Record::Action {
                    action: Action::Restart { .. },
                    ..
                }
            )),
            "the fault starts a restart: {records:?}"
        );
        nanos.push(elapsed.as_nanos() as u64);
    }
    nanos.sort_unstable();
    let pct = |p: f64| nanos[((nanos.len() - 1) as f64 * p).round() as usize] as f64 / 1e3;
    println!(
        "bt tick latency (health change -> first action started), {SAMPLES} samples: median {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        pct(0.5),
        pct(0.99),
        *nanos.last().unwrap_or(&0) as f64 / 1e3
    );
}
