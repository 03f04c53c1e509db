//! Tests of the built-in checks, with simulated time.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn ms(n: u64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

fn dur_ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const OK: Verdict = Verdict::of(State::Ok);
const DEGRADED: Verdict = Verdict::of(State::Degraded);
const FAILED: Verdict = Verdict::of(State::Failed);
const NO_DATA: Verdict = Verdict::unknown(UnknownReason::NoData);
const STALE: Verdict = Verdict::unknown(UnknownReason::Stale);

fn build(spec: CheckSpec) -> Box<dyn Check> {
    assert_eq!(validate_check(&spec), Vec::<String>::new());
    build_check(&spec).unwrap()
}

fn threshold(da: Option<f64>, fa: Option<f64>, db: Option<f64>, fb: Option<f64>) -> CheckSpec {
    CheckSpec::Threshold {
        degraded_above: da,
        failed_above: fa,
        degraded_below: db,
        failed_below: fb,
        stale_after: None,
    }
}

fn rate(min_hz: f64, failed: Option<f64>, window_ms: u64) -> CheckSpec {
    CheckSpec::Rate {
        min_hz,
        failed_below_hz: failed,
        window: dur_ms(window_ms),
    }
}

fn status(state: State, reason: Option<UnknownReason>) -> Observation {
    Observation::Status { state, reason }
}

#[test]
fn every_check_starts_with_no_data() {
    let specs = [
        CheckSpec::Heartbeat {
            timeout: dur_ms(100),
        },
        threshold(Some(60.0), None, None, None),
        CheckSpec::Range {
            ok: (0.0, 1.0),
            degraded: None,
            stale_after: None,
        },
        rate(10.0, None, 1000),
        CheckSpec::Status { stale_after: None },
    ];
    for spec in specs {
        let check = build(spec);
        assert_eq!(check.evaluate(ms(5)), NO_DATA, "{}", check.kind());
        assert_eq!(check.next_change(ms(5)), None, "{}", check.kind());
    }
    assert!(build_check(&CheckSpec::Custom { name: "x".into() }).is_none());
}

#[test]
fn heartbeat_is_stale_only_after_a_silence_longer_than_timeout() {
    let mut hb = build(CheckSpec::Heartbeat {
        timeout: dur_ms(100),
    });
    hb.observe(Observation::Heartbeat, ms(1000)).unwrap();
    assert_eq!(hb.evaluate(ms(1100)), OK);
    let deadline = hb.next_change(ms(1000)).unwrap();
    assert_eq!(deadline, ms(1100) + Duration::from_nanos(1));
    assert_eq!(hb.evaluate(deadline), STALE);
    assert_eq!(hb.next_change(deadline), None);
    assert_eq!(
        hb.describe(ms(1350)),
        "no heartbeat for 0.350s (timeout 0.100s)"
    );
    // Any observation is a sign of life.
    hb.observe(Observation::Value(3.0), ms(1400)).unwrap();
    assert_eq!(hb.evaluate(ms(1450)), OK);
    hb.observe(status(State::Failed, None), ms(1500)).unwrap();
    assert_eq!(hb.evaluate(ms(1590)), OK);
    assert_eq!(
        hb.describe(ms(1520)),
        "last heartbeat 0.020s ago (timeout 0.100s)"
    );
}

#[test]
fn time_running_backwards_counts_as_the_last_time() {
    let mut hb = build(CheckSpec::Heartbeat {
        timeout: dur_ms(100),
    });
    hb.observe(Observation::Heartbeat, ms(1000)).unwrap();
    hb.observe(Observation::Heartbeat, ms(500)).unwrap();
    assert_eq!(
        hb.next_change(ms(1000)),
        Some(ms(1100) + Duration::from_nanos(1))
    );
}

#[test]
fn threshold_bands_above_and_below_failed_beats_degraded() {
    let mut t = build(threshold(Some(60.0), Some(80.0), Some(10.0), Some(0.0)));
    let cases = [
        (50.0, OK),
        (60.0, OK),
        (72.0, DEGRADED),
        (80.0, DEGRADED),
        (80.5, FAILED),
        (10.0, OK),
        (5.0, DEGRADED),
        (-1.0, FAILED),
    ];
    for (value, want) in cases {
        t.observe(Observation::Value(value), ms(1)).unwrap();
        assert_eq!(t.evaluate(ms(1)), want, "value {value}");
    }
    t.observe(Observation::Value(72.0), ms(2)).unwrap();
    assert_eq!(t.describe(ms(2)), "value 72 above degraded_above 60");
    t.observe(Observation::Value(-3.5), ms(3)).unwrap();
    assert_eq!(t.describe(ms(3)), "value -3.5 below failed_below 0");
    // No stale_after: only a new value changes it.
    assert_eq!(t.next_change(ms(3)), None);
}

#[test]
fn value_checks_refuse_non_finite_values_states_and_heartbeats() {
    let mut t = build(threshold(Some(60.0), None, None, None));
    t.observe(Observation::Value(1.0), ms(1)).unwrap();
    for bad in [
        Observation::Value(f64::NAN),
        Observation::Value(f64::INFINITY),
        status(State::Ok, None),
        Observation::Heartbeat,
    ] {
        let err = t.observe(bad, ms(2)).unwrap_err();
        assert_eq!(err.check, "threshold");
        assert_eq!(format!("{:?}", err.observation), format!("{bad:?}"));
    }
    assert_eq!(t.evaluate(ms(3)), OK);
    let mut r = build(CheckSpec::Range {
        ok: (0.0, 1.0),
        degraded: None,
        stale_after: None,
    });
    assert!(r
        .observe(Observation::Value(f64::NEG_INFINITY), ms(1))
        .is_err());
    assert_eq!(r.evaluate(ms(1)), NO_DATA);
}

#[test]
fn value_checks_go_stale() {
    let mut t = build(CheckSpec::Threshold {
        degraded_above: Some(60.0),
        failed_above: None,
        degraded_below: None,
        failed_below: None,
        stale_after: Some(dur_ms(500)),
    });
    t.observe(Observation::Value(72.0), ms(100)).unwrap();
    let at = t.next_change(ms(100)).unwrap();
    assert_eq!(at, ms(600) + Duration::from_nanos(1));
    assert_eq!(t.evaluate(ms(600)), DEGRADED);
    assert_eq!(t.evaluate(at), STALE);
    assert_eq!(
        t.describe(ms(700)),
        "no value for 0.600s (stale_after 0.500s; last value 72)"
    );
}

#[test]
fn range_is_inclusive() {
    let mut r = build(CheckSpec::Range {
        ok: (26.0, 30.0),
        degraded: Some((24.0, 32.0)),
        stale_after: None,
    });
    for (value, want) in [
        (26.0, OK),
        (30.0, OK),
        (25.0, DEGRADED),
        (32.0, DEGRADED),
        (32.1, FAILED),
        (0.0, FAILED),
    ] {
        r.observe(Observation::Value(value), ms(1)).unwrap();
        assert_eq!(r.evaluate(ms(1)), want, "value {value}");
    }
    r.observe(Observation::Value(25.0), ms(2)).unwrap();
    assert_eq!(
        r.describe(ms(2)),
        "value 25 outside ok [26, 30], inside degraded [24, 32]"
    );
    let mut plain = build(CheckSpec::Range {
        ok: (0.0, 1.0),
        degraded: None,
        stale_after: None,
    });
    plain.observe(Observation::Value(1.5), ms(1)).unwrap();
    assert_eq!(plain.evaluate(ms(1)), FAILED);
}

#[test]
fn status_reports_what_it_is_told() {
    let mut s = build(CheckSpec::Status {
        stale_after: Some(dur_ms(1000)),
    });
    s.observe(status(State::Degraded, Some(UnknownReason::Stale)), ms(0))
        .unwrap();
    assert_eq!(
        s.evaluate(ms(0)),
        DEGRADED,
        "a reason only goes with UNKNOWN"
    );
    s.observe(status(State::Unknown, None), ms(10)).unwrap();
    assert_eq!(s.evaluate(ms(10)), NO_DATA);
    s.observe(
        status(State::Unknown, Some(UnknownReason::Unreachable)),
        ms(20),
    )
    .unwrap();
    assert_eq!(
        s.evaluate(ms(20)),
        Verdict::unknown(UnknownReason::Unreachable)
    );
    s.observe(status(State::Failed, None), ms(30)).unwrap();
    assert_eq!(s.describe(ms(40)), "reported FAILED 0.010s ago");
    assert_eq!(
        s.next_change(ms(40)),
        Some(ms(1030) + Duration::from_nanos(1))
    );
    assert_eq!(s.evaluate(ms(1031)), STALE);
    assert!(s.observe(Observation::Value(1.0), ms(50)).is_err());
    assert!(s.observe(Observation::Heartbeat, ms(50)).is_err());
}

#[test]
fn rate_warms_up_then_counts_a_sliding_window() {
    // 10 Hz minimum over 1 s: 10 events per window are needed.
    let mut r = build(rate(10.0, Some(5.0), 1000));
    r.observe(Observation::Heartbeat, ms(0)).unwrap();
    assert_eq!(r.evaluate(ms(999)), OK, "warming up");
    assert_eq!(r.next_change(ms(500)), Some(ms(1000)));
    assert_eq!(
        r.evaluate(ms(1000)),
        FAILED,
        "the first event left; none remain"
    );
    assert!(r.observe(status(State::Ok, None), ms(1000)).is_err());
    // 12 events, one every 50 ms from t=1000.
    for i in 0..12 {
        r.observe(Observation::Value(0.0), ms(1000 + 50 * i))
            .unwrap();
    }
    let now = ms(1550);
    assert_eq!(r.evaluate(now), OK);
    // 12 events; it becomes DEGRADED when the 10th newest (t=1100) leaves.
    assert_eq!(r.next_change(now), Some(ms(2100)));
    assert_eq!(r.evaluate(ms(2099)), OK);
    assert_eq!(r.evaluate(ms(2100)), DEGRADED);
    assert_eq!(
        r.describe(ms(2100)),
        "9 events in 1.000s = 9.0 Hz < min 10 Hz"
    );
    // FAILED when fewer than 5 remain: the 5th newest is t=1350.
    assert_eq!(r.next_change(ms(2100)), Some(ms(2350)));
    assert_eq!(r.evaluate(ms(2350)), FAILED);
    assert_eq!(
        r.describe(ms(2350)),
        "4 events in 1.000s = 4.0 Hz < failed_below 5 Hz"
    );
    assert_eq!(r.next_change(ms(2350)), None);
}

#[test]
fn rate_warm_up_ends_late_when_the_count_holds() {
    let mut r = build(rate(2.0, None, 1000));
    for t in [0, 700, 800] {
        r.observe(Observation::Heartbeat, ms(t)).unwrap();
    }
    // At 1000 the window holds 700 and 800: still 2 Hz. The 2nd newest
    // (700) leaves at 1700.
    assert_eq!(r.next_change(ms(900)), Some(ms(1700)));
    assert_eq!(r.evaluate(ms(1699)), OK);
    assert_eq!(r.evaluate(ms(1700)), DEGRADED);
}

#[test]
fn validation_names_every_offending_field() {
    let cases: Vec<(CheckSpec, &[&str])> = vec![
        (
            CheckSpec::Heartbeat {
                timeout: Duration::ZERO,
            },
            &["heartbeat.timeout"],
        ),
        (
            threshold(None, None, None, None),
            &["threshold sets no bound"],
        ),
        (
            threshold(Some(80.0), Some(60.0), None, None),
            &["threshold.degraded_above (80)"],
        ),
        (
            threshold(None, None, Some(1.0), Some(2.0)),
            &["threshold.degraded_below (1)"],
        ),
        (
            threshold(Some(f64::NAN), None, None, None),
            &["threshold.degraded_above must be a finite"],
        ),
        (
            threshold(Some(10.0), None, Some(20.0), None),
            &["leave no OK value"],
        ),
        (
            CheckSpec::Range {
                ok: (2.0, 1.0),
                degraded: Some((0.0, f64::INFINITY)),
                stale_after: Some(Duration::ZERO),
            },
            &[
                "range.ok is reversed",
                "range.degraded bounds must be finite",
                "range.stale_after",
            ],
        ),
        (
            CheckSpec::Range {
                ok: (0.0, 10.0),
                degraded: Some((1.0, 5.0)),
                stale_after: None,
            },
            &["must contain range.ok"],
        ),
        (
            rate(0.0, Some(-1.0), 0),
            &[
                "rate.window",
                "rate.min_hz",
                "rate.failed_below_hz must be a positive",
            ],
        ),
        (
            rate(10.0, Some(20.0), 1000),
            &["rate.failed_below_hz (20 Hz) must not be above"],
        ),
        (rate(1e6, None, 1000), &["shorten the window"]),
        (
            CheckSpec::Status {
                stale_after: Some(Duration::ZERO),
            },
            &["status.stale_after"],
        ),
        (CheckSpec::Custom { name: " ".into() }, &["custom.name"]),
    ];
    for (spec, wanted) in cases {
        let problems = validate_check(&spec);
        assert_eq!(problems.len(), wanted.len(), "{spec:?}: {problems:?}");
        for (problem, want) in problems.iter().zip(wanted) {
            assert!(
                problem.contains(want),
                "{problem:?} should contain {want:?}"
            );
        }
    }
    assert!(validate_check(&threshold(Some(60.0), Some(60.0), None, None)).is_empty());
}

/// One step of a random observation sequence.
fn step() -> impl Strategy<Value = (u64, u8, f64)> {
    (0u64..400, 0u8..3, -20.0f64..120.0)
}

fn observation(kind: u8, value: f64) -> Observation {
    match kind {
        0 => Observation::Heartbeat,
        1 => Observation::Value(value),
        _ => status(
            State::ALL[(value.abs() as usize) % 4],
            Some(UnknownReason::Stale),
        ),
    }
}

proptest! {
    /// `next_change` is exact: the verdict holds until just before it and
    /// differs at it; with `None` it never changes.
    #[test]
    fn next_change_is_exact(steps in prop::collection::vec(step(), 0..30), probes in prop::collection::vec(0u64..3000, 1..8)) {
        let specs = [
            CheckSpec::Heartbeat { timeout: dur_ms(100) },
            CheckSpec::Threshold { degraded_above: Some(60.0), failed_above: Some(80.0), degraded_below: None, failed_below: None, stale_after: Some(dur_ms(250)) },
            CheckSpec::Range { ok: (0.0, 50.0), degraded: Some((-10.0, 70.0)), stale_after: Some(dur_ms(150)) },
            rate(20.0, Some(10.0), 300),
            CheckSpec::Status { stale_after: Some(dur_ms(200)) },
        ];
        for spec in specs {
            let mut check = build_check(&spec).unwrap();
            let mut now = Timestamp::ZERO;
            for &(gap, kind, value) in &steps {
                now = now + dur_ms(gap);
                let _ = check.observe(observation(kind, value), now);
            }
            let here = check.evaluate(now);
            let next = check.next_change(now);
            for &probe in &probes {
                let t = now + dur_ms(probe);
                if next.is_none_or(|n| t < n) {
                    prop_assert_eq!(check.evaluate(t), here, "{:?} at {} (next {:?})", spec, t, next);
                }
            }
            if let Some(n) = next {
                prop_assert!(n > now);
                prop_assert_ne!(check.evaluate(n), here, "{:?}: no change at {}", spec, n);
                let before = Timestamp::from_nanos(n.as_nanos() - 1);
                prop_assert_eq!(check.evaluate(before), here);
            }
        }
    }
}
