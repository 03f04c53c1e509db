//! Tests of the node filter: every rule in simulated time, and proptests.
use proptest::prelude::*;

use super::*;
use State::{Degraded as D, Failed as F, Ok as O, Unknown as U};
use Trend::{Degrading, Intermittent, Recovering, Stable};

fn ms(n: u64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

fn spec(debounce: Option<Debounce>, flap: Option<FlapDamping>, latch: bool) -> FilterSpec {
    FilterSpec {
        debounce,
        flap,
        latch,
    }
}

fn debounced(debounce: Debounce) -> Filter {
    Filter::new(&spec(Some(debounce), None, false))
}

fn out(state: State, trend: Trend) -> Filtered {
    Filtered { state, trend }
}

/// Applies `(time ms, raw)` steps and returns the last result.
fn run(filter: &mut Filter, steps: &[(u64, State)]) -> Filtered {
    steps
        .iter()
        .fold(out(U, Stable), |_, &(t, raw)| filter.apply(raw, ms(t)))
}

#[test]
fn no_spec_passes_through_and_tracks_the_trend() {
    let mut f = Filter::new(&FilterSpec::default());
    assert_eq!(f.next_change(ms(0)), None);
    assert_eq!(f.apply(O, ms(0)), out(O, Stable));
    assert_eq!(f.apply(F, ms(1000)), out(F, Degrading));
    assert_eq!(f.next_change(ms(1000)), Some(ms(11_000)));
    assert_eq!(f.apply(F, ms(10_999)), out(F, Degrading));
    assert_eq!(f.apply(F, ms(11_000)), out(F, Stable));
    assert_eq!(f.next_change(ms(11_000)), None);
    assert_eq!(f.apply(D, ms(12_000)), out(D, Recovering));
    assert!(!f.reset(ms(12_000)) && !f.is_latched());
    assert!(std::mem::size_of::<Filter>() <= 32);
}

#[test]
fn counter_trips_after_n_bad_and_clears_only_when_drained() {
    let mut f = debounced(Debounce::Counter { trip: 3, limit: 5 });
    f.apply(O, ms(0));
    // Bad, good, bad, good: the counter never reaches 3.
    for (i, raw) in [F, O, F, O, F, F].into_iter().enumerate() {
        assert_eq!(f.apply(raw, ms(i as u64)).state, O, "step {i}");
    }
    assert_eq!(f.apply(F, ms(10)), out(F, Degrading));
    for t in 11..20 {
        f.apply(F, ms(t)); // the counter stays at its limit, 5
    }
    for t in 20..24 {
        assert_eq!(f.apply(O, ms(t)), out(F, Recovering), "draining at {t}");
    }
    // Counters never schedule, and the pending recovery outlasts the
    // trend window.
    assert_eq!(f.next_change(ms(24)), None);
    assert_eq!(f.apply(O, ms(24)), out(O, Recovering));
}

#[test]
fn counter_clears_each_boundary_on_its_own() {
    let mut f = debounced(Debounce::Counter { trip: 1, limit: 2 });
    let steps = [(0, O), (1, F), (2, F)];
    assert_eq!(run(&mut f, &steps).state, F, "trip 1: at once");
    assert_eq!(f.apply(D, ms(3)).state, F);
    assert_eq!(f.apply(D, ms(4)).state, D, "worse-than-DEGRADED drained");
    assert_eq!(f.apply(D, ms(5)).state, D);
}

#[test]
fn hold_delays_improvements_step_by_step() {
    let mut f = debounced(Debounce::Hold(Duration::from_secs(1)));
    f.apply(O, ms(0));
    assert_eq!(
        f.apply(F, ms(1000)),
        out(F, Degrading),
        "degradations at once"
    );
    assert_eq!(f.apply(O, ms(2000)), out(F, Recovering));
    assert_eq!(f.next_change(ms(2000)), Some(ms(3000)));
    assert_eq!(f.apply(O, ms(2999)), out(F, Recovering));
    assert_eq!(f.apply(O, ms(3000)), out(O, Recovering));
    f.apply(F, ms(4000));
    f.apply(D, ms(4500));
    f.apply(O, ms(5000));
    assert_eq!(f.next_change(ms(5000)), Some(ms(5500)));
    assert_eq!(f.apply(O, ms(5500)).state, D);
    assert_eq!(f.apply(O, ms(6000)).state, O);
    // A relapse restarts the hold.
    f.apply(D, ms(7000));
    f.apply(O, ms(7500));
    assert_eq!(f.apply(O, ms(8400)).state, D);
    assert_eq!(f.apply(O, ms(8500)).state, O);
}

#[test]
fn flapping_is_suppressed_until_the_penalty_decays() {
    let mut f = Filter::new(&spec(None, Some(FlapDamping::default()), false));
    let steps = [(0, O), (100, F), (200, O)];
    assert_eq!(run(&mut f, &steps), out(O, Recovering));
    // The third change takes the penalty above 2.5.
    assert_eq!(f.apply(D, ms(300)), out(D, Intermittent));
    assert_eq!(
        f.apply(O, ms(400)),
        out(D, Intermittent),
        "never better while suppressed"
    );
    assert_eq!(f.apply(F, ms(500)), out(F, Intermittent));
    assert_eq!(f.apply(O, ms(600)), out(F, Intermittent));
    let release = f.next_change(ms(600)).unwrap();
    // Six changes in 0.5 s: penalty ≈ 5.8, released log2(5.8 / 0.75) × 5 s
    // ≈ 14.75 s later.
    assert!(release > ms(15_300) && release < ms(15_400), "{release}");
    let before = Timestamp::from_nanos(release.as_nanos() - 1);
    assert_eq!(f.clone().apply(O, before), out(F, Intermittent));
    assert_eq!(f.apply(O, release), out(O, Recovering));
}

#[test]
fn suppression_holds_the_reported_state_it_started_from() {
    let hold = Some(Debounce::Hold(Duration::from_secs(60)));
    let mut f = Filter::new(&spec(hold, Some(FlapDamping::default()), false));
    let steps = [(0, F), (10, O), (20, F), (30, O)];
    assert_eq!(run(&mut f, &steps), out(F, Intermittent));
}

#[test]
fn latch_keeps_failed_until_reset() {
    let mut f = Filter::new(&spec(None, None, true));
    f.apply(O, ms(0));
    assert_eq!(f.apply(F, ms(1)).state, F);
    assert!(f.is_latched());
    assert_eq!(
        f.apply(O, ms(2)),
        out(F, Degrading),
        "no recovery shown while latched"
    );
    assert!(f.reset(ms(3)));
    assert!(!f.is_latched());
    assert_eq!(f.apply(O, ms(4)), out(O, Recovering));
    assert!(!f.reset(ms(5)));
    // A first apply of FAILED latches too.
    let mut g = Filter::new(&spec(None, None, true));
    g.apply(F, ms(0));
    assert_eq!(g.apply(O, ms(1)).state, F);
}

#[test]
fn reset_clears_debounce_memory() {
    let counter = Some(Debounce::Counter { trip: 1, limit: 10 });
    let mut f = Filter::new(&spec(counter, None, true));
    run(&mut f, &[(0, O), (1, F), (2, F), (3, O)]);
    assert!(f.reset(ms(4)));
    assert_eq!(f.apply(O, ms(5)).state, O, "no counter left to drain");
}

#[test]
fn time_never_runs_backwards() {
    let mut f = Filter::new(&FilterSpec::default());
    f.apply(O, ms(5000));
    assert_eq!(f.apply(F, ms(1000)), out(F, Degrading));
    assert_eq!(f.next_change(ms(0)), Some(ms(15_000)));
}

#[test]
fn validation_names_each_field() {
    let bad = spec(
        Some(Debounce::Counter { trip: 3, limit: 2 }),
        Some(FlapDamping {
            penalty: f64::NAN,
            half_life: Duration::ZERO,
            suppress: 1.0,
            reuse: 2.0,
        }),
        false,
    );
    let problems = validate_filter(&bad);
    let wanted = [
        "debounce.limit (2)",
        "flap.penalty",
        "flap.half_life",
        "flap.reuse (2)",
    ];
    assert_eq!(problems.len(), wanted.len(), "{problems:?}");
    for (p, w) in problems.iter().zip(wanted) {
        assert!(p.contains(w), "{p:?} should name {w:?}");
    }
    let zero = spec(Some(Debounce::Counter { trip: 0, limit: 0 }), None, false);
    assert!(validate_filter(&zero)[0].contains("debounce.trip"));
    assert!(
        validate_filter(&spec(Some(Debounce::Hold(Duration::ZERO)), None, false))[0]
            .contains("debounce.hold")
    );
    assert!(validate_filter(&spec(None, Some(FlapDamping::default()), true)).is_empty());
}

fn state() -> impl Strategy<Value = State> {
    prop::sample::select(State::ALL.to_vec())
}

/// Time gaps in ms (often zero or small, so flapping happens) and raw states.
fn steps() -> impl Strategy<Value = Vec<(u64, State)>> {
    prop::collection::vec(
        (prop_oneof![Just(0u64), 0u64..300, 0u64..20_000], state()),
        1..40,
    )
}

fn debounce(counter: bool) -> impl Strategy<Value = Option<Debounce>> {
    let hold = (0u64..3000).prop_map(|n| Some(Debounce::Hold(Duration::from_millis(n))));
    if counter {
        (1u32..4, 0u32..4)
            .prop_map(|(trip, extra)| {
                Some(Debounce::Counter {
                    trip,
                    limit: trip + extra,
                })
            })
            .boxed()
    } else {
        prop_oneof![Just(None), hold].boxed()
    }
}

fn flap() -> impl Strategy<Value = Option<FlapDamping>> {
    prop_oneof![
        Just(None),
        Just(Some(FlapDamping::default())),
        (0.5f64..2.0, 10u64..5000).prop_map(|(penalty, half)| Some(FlapDamping {
            penalty,
            half_life: Duration::from_millis(half),
            suppress: 2.0,
            reuse: 0.5,
        })),
    ]
}

fn any_spec(counter: bool) -> impl Strategy<Value = FilterSpec> {
    (debounce(counter), flap(), any::<bool>()).prop_map(|(d, f, l)| spec(d, f, l))
}

/// Runs the steps, calling `check(raw, result)` after each.
fn replay(spec: &FilterSpec, steps: &[(u64, State)], mut check: impl FnMut(State, Filtered)) {
    let mut f = Filter::new(spec);
    let mut now = Timestamp::ZERO;
    for &(gap, raw) in steps {
        now = now + Duration::from_millis(gap);
        let result = f.apply(raw, now);
        check(raw, result);
    }
}

proptest! {
    #[test]
    fn without_a_spec_output_is_raw(steps in steps()) {
        replay(&FilterSpec::default(), &steps, |raw, result| assert_eq!(result.state, raw));
    }

    #[test]
    fn a_latch_holds_failed_until_reset(spec in prop_oneof![any_spec(false), any_spec(true)], steps in steps(), resets in prop::collection::vec(any::<bool>(), 40)) {
        let spec = FilterSpec { latch: true, ..spec };
        let mut f = Filter::new(&spec);
        let (mut now, mut failed) = (Timestamp::ZERO, false);
        for (i, &(gap, raw)) in steps.iter().enumerate() {
            now = now + Duration::from_millis(gap);
            if resets[i] && i % 5 == 0 {
                prop_assert_eq!(f.reset(now), failed);
                failed = false;
            }
            let result = f.apply(raw, now);
            prop_assert!(!failed || result.state == F, "latched yet {:?}", result);
            failed |= result.state == F;
            prop_assert_eq!(f.is_latched(), failed);
        }
    }

    #[test]
    fn improvements_are_delayed_never_invented(spec in any_spec(false), limit in prop::option::of(1u32..4), hold in 0u64..3000, steps in steps()) {
        // Hold, or a counter that trips at once: degradations are not delayed.
        let debounce = match limit {
            Some(limit) => Debounce::Counter { trip: 1, limit },
            None => Debounce::Hold(Duration::from_millis(hold)),
        };
        let spec = FilterSpec { debounce: Some(debounce), ..spec };
        replay(&spec, &steps, |raw, result| assert!(result.state >= raw, "{result:?} better than raw {raw:?}"));
    }

    #[test]
    fn a_counter_never_invents_a_degradation(spec in any_spec(true), steps in steps()) {
        let mut worst = O;
        replay(&spec, &steps, |raw, result| {
            worst = worst.max(raw);
            assert!(result.state <= worst);
        });
    }

    #[test]
    fn suppressed_never_gets_better(spec in prop_oneof![any_spec(false), any_spec(true)], steps in steps()) {
        let mut last: Option<Filtered> = None;
        replay(&spec, &steps, |_, result| {
            if let Some(prev) = last.filter(|p| p.trend == Intermittent && result.trend == Intermittent) {
                assert!(result.state >= prev.state, "{prev:?} -> {result:?}");
            }
            last = Some(result);
        });
    }

    /// Same raw: the result holds strictly before `next_change` and
    /// changes at it (counter debounces progress per apply, so excluded).
    #[test]
    fn next_change_is_exact(spec in any_spec(false), steps in steps(), probes in prop::collection::vec(0u64..40_000, 4)) {
        let mut f = Filter::new(&spec);
        let mut now = Timestamp::ZERO;
        let mut here = out(U, Stable);
        for &(gap, raw) in &steps {
            now = now + Duration::from_millis(gap);
            here = f.apply(raw, now);
        }
        let raw = steps[steps.len() - 1].1;
        let next = f.next_change(now);
        for probe in probes {
            let t = now + Duration::from_millis(probe);
            if next.is_none_or(|n| t < n) {
                prop_assert_eq!(f.clone().apply(raw, t), here, "at {} (next {:?})", t, next);
            }
        }
        if let Some(n) = next {
            prop_assert!(n > now);
            prop_assert_ne!(f.clone().apply(raw, n), here, "nothing changed at {}", n);
            prop_assert_eq!(f.clone().apply(raw, Timestamp::from_nanos(n.as_nanos() - 1)), here);
        }
    }
}
