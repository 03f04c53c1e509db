//! Issue 4's main job: `vigil demo --format json` runs its timeline and
//! prints the summary object, and leaves no producer behind.

mod support;

use std::time::Duration;

use support::{producers_on, Proc, PATIENCE};

#[test]
fn demo_runs_its_timeline_and_leaves_no_producer() {
    let domain = 46;
    let mut demo = Proc::spawn(
        "demo",
        &[
            "demo",
            "--format",
            "json",
            "--domain",
            "46",
            "--lease-ms",
            "300",
        ],
    );
    let summary = demo.wait_for(Duration::from_secs(90), |v| v.get("switches").is_some());
    assert_eq!(demo.wait_exit(PATIENCE), Some(true), "{}", demo.stderr());

    let switches = summary["switches"].as_array().cloned().unwrap_or_default();
    for s in &switches {
        for key in ["t", "from", "to", "cause", "reroute_ms"] {
            assert!(s.get(key).is_some(), "switch without `{key}`: {s}");
        }
    }
    assert!(summary["samples_lost"].is_u64(), "{summary}");
    assert!(summary["flaps_suppressed"].is_u64(), "{summary}");
    // (A 300 ms lease: a busy machine must not fake a crash.)
    // The timeline's faults each moved the consumer: the degrade (hold-off),
    // the SIGKILL (unreachable) and the first flap (FAILED).
    let causes: Vec<&str> = switches
        .iter()
        .filter_map(|s| s["cause"].as_str())
        .collect();
    for expected in ["hold-off", "unreachable", "FAILED"] {
        assert!(
            causes.iter().any(|c| c.contains(expected)),
            "no switch caused by {expected}: {causes:?}"
        );
    }

    // No orphans: every producer it started is gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !producers_on(domain).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(producers_on(domain), Vec::<String>::new());
}

#[test]
fn killing_the_demo_takes_its_producers_with_it() {
    let domain = 49;
    let mut demo = Proc::spawn("demo", &["demo", "--format", "json", "--domain", "49"]);
    let deadline = std::time::Instant::now() + PATIENCE;
    while producers_on(domain).len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(producers_on(domain).len(), 3, "producers never started");
    demo.kill9();
    // Their stdin closes with the demo: they exit on EOF.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !producers_on(domain).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(producers_on(domain), Vec::<String>::new());
}
