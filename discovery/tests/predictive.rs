//! Issue 14, predictive switching, measured: a sensor whose temperature
//! drifts up over seconds (DEGRADED above 60, FAILED above 80, +10 per
//! second from 40) on the in-process transport at 1 kHz. Counted: the
//! samples the consumer got from the producer while its health was
//! DEGRADED, with and without `predictive`, for several hold-offs; and
//! what predictive costs on a mere blip (DEGRADED for 100 ms): switches.
//!
//! Deterministic (a simulated clock): the counts are behaviour, not speed.
//! `cargo test -p vigil-discovery --test predictive -- --nocapture` prints
//! the table BENCHMARKS.md quotes.

use std::time::Duration;

use vigil_diag::{CheckSpec, NodeBody, NodeSpec, Observation, Path, State, Tree, TreeSpec};
use vigil_discovery::inproc::{
    InProcAdvertiser, InProcConfig, InProcConsumerConfig, InProcess, Incoming,
};
use vigil_discovery::{AdvertiserConfig, SwitchCause, SwitchPolicy};
use vigil_qos::{Capabilities, Query, Value};

const TYPE: &str = "test::Reading";

fn temp(id: &str) -> Path {
    Path::parse(&format!("{id}.temp")).unwrap()
}

/// A producer whose tree is one temperature threshold leaf.
fn producer(net: &InProcess, id: &str, accuracy: f64) -> InProcAdvertiser {
    let spec = TreeSpec {
        nodes: vec![NodeSpec::new(
            temp(id),
            NodeBody::Leaf(CheckSpec::Threshold {
                degraded_above: Some(60.0),
                failed_above: Some(80.0),
                degraded_below: None,
                failed_below: None,
                stale_after: None,
            }),
        )],
        shared: Vec::new(),
    };
    let mut tree = Tree::build(&spec).unwrap();
    tree.observe(&temp(id), Observation::Value(40.0), net.now())
        .unwrap();
    let mut caps = Capabilities::new();
    caps.insert(
        "accuracy",
        Value::parse_capability(&accuracy.to_string()).unwrap(),
    )
    .unwrap();
    let config = AdvertiserConfig::new(id, "imu", TYPE, [0; 16])
        .with_capabilities(caps)
        .with_tree(tree, None);
    net.advertise(config).unwrap()
}

/// What one run gave.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Samples delivered from imu_a while its advert was DEGRADED.
    degraded: u64,
    /// Samples delivered from imu_a while it was FAILED.
    failed: u64,
    switches: Vec<SwitchCause>,
}

/// imu_a (the better) and imu_b at 1 kHz; imu_a's temperature follows
/// `temperature(ms)` for `total_ms`.
fn run(policy: SwitchPolicy, total_ms: u64, temperature: impl Fn(u64) -> f64) -> Outcome {
    let net = InProcess::new(InProcConfig::default());
    let a = producer(&net, "imu_a", 0.001);
    let b = producer(&net, "imu_b", 0.01);
    let query = Query::parse("imu WHERE health.state != FAILED PREFER accuracy ASC").unwrap();
    let consumer = net.follow::<String>(
        &query,
        TYPE,
        InProcConsumerConfig::default()
            .with_policy(policy)
            .with_hot_standby(true),
    );
    let mut outcome = Outcome {
        degraded: 0,
        failed: 0,
        switches: Vec::new(),
    };
    let mut last = 40.0;
    for ms in 0..total_ms {
        net.advance(Duration::from_millis(1));
        let t = temperature(ms);
        if t != last {
            a.observe(&temp("imu_a"), Observation::Value(t)).unwrap();
            last = t;
        }
        let state = a.health(&temp("imu_a")).map(|h| h.state);
        a.write("imu_a".to_owned());
        b.write("imu_b".to_owned());
        while let Some(item) = consumer.try_recv() {
            match item {
                Incoming::Selected(e) => outcome.switches.push(e.cause.clone()),
                Incoming::Sample(s) if s.value == "imu_a" => match state {
                    Some(State::Degraded) => outcome.degraded += 1,
                    Some(State::Failed) => outcome.failed += 1,
                    _ => {}
                },
                Incoming::Sample(_) => {}
            }
        }
    }
    outcome
}

fn policy(hold_off_ms: u64, predictive: bool) -> SwitchPolicy {
    SwitchPolicy {
        hold_off: Duration::from_millis(hold_off_ms),
        predictive,
        ..SwitchPolicy::default()
    }
}

/// +10 per second from 40 after one second: DEGRADED at 3 s, FAILED at
/// 5 s. Updated every 100 ms, as a sensor driver would.
fn drift(ms: u64) -> f64 {
    let steps = ms.saturating_sub(1_000) / 100;
    40.0 + steps as f64
}

#[test]
fn predictive_leaves_a_degrading_sensor_before_its_samples_go_bad() {
    println!("hold-off | degraded samples delivered: reactive | predictive");
    for hold_off in [200, 1_000, 3_000] {
        let reactive = run(policy(hold_off, false), 7_000, drift);
        let predictive = run(policy(hold_off, true), 7_000, drift);
        println!(
            "{hold_off} ms | {} (+{} FAILED) | {} (+{} FAILED)",
            reactive.degraded, reactive.failed, predictive.degraded, predictive.failed
        );
        // Reactive rides the hold-off out (or until FAILED).
        assert!(
            reactive.degraded >= hold_off.min(2_000) - 10,
            "{reactive:?}"
        );
        assert!(
            matches!(
                predictive.switches.get(1),
                Some(SwitchCause::Degrading {
                    state: State::Degraded
                })
            ),
            "{predictive:?}"
        );
        assert!(predictive.degraded < reactive.degraded, "{predictive:?}");
        assert_eq!(predictive.failed, 0, "{predictive:?}");
        assert!(predictive.degraded <= 2, "{predictive:?}");
    }
}

#[test]
fn what_predictive_costs_on_a_blip() {
    // DEGRADED for 100 ms, then OK: within the hold-off, reactive stays;
    // predictive leaves and comes back after wait-to-restore.
    let blip = |ms: u64| {
        if (2_000..2_100).contains(&ms) {
            65.0
        } else {
            40.0
        }
    };
    let reactive = run(policy(200, false), 5_000, blip);
    let predictive = run(policy(200, true), 5_000, blip);
    println!(
        "blip of 100 ms: switches reactive {}, predictive {}; degraded samples {} | {}",
        reactive.switches.len(),
        predictive.switches.len(),
        reactive.degraded,
        predictive.degraded
    );
    assert_eq!(reactive.switches, [SwitchCause::Initial]);
    assert_eq!(predictive.switches.len(), 3, "{predictive:?}");
    assert_eq!(predictive.switches[2], SwitchCause::Restored);
}
