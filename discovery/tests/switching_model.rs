//! Issue 14: the switching policy's Promela model
//! (`discovery/src/selection/switching.pml`) is checked by spin, and its
//! constants are the Rust ones.
//!
//! Needs `spin` and a C compiler (scripts/test installs Debian's `spin`);
//! a missing one fails the test, it is never skipped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_diag::FlapDamping;
use vigil_discovery::{BreakerPolicy, SwitchPolicy};

const MODEL: &str = "src/selection/switching.pml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The model's `#define NAME NUMBER` lines.
fn defines(model: &str) -> HashMap<String, i64> {
    model
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "#define").then_some(())?;
            let name = words.next()?;
            let value = words.next()?.parse().ok()?;
            Some((name.to_owned(), value))
        })
        .collect()
}

fn define(d: &HashMap<String, i64>, name: &str) -> i64 {
    *d.get(name)
        .unwrap_or_else(|| panic!("{MODEL} has no `#define {name} N`"))
}

#[test]
fn model_constants_are_the_rust_defaults() {
    let model = std::fs::read_to_string(root().join(MODEL)).expect("read the model");
    let d = defines(&model);
    let policy = SwitchPolicy::default();
    let flap = FlapDamping::default();
    assert_eq!(
        define(&d, "HOLD_OFF_MS"),
        policy.hold_off.as_millis() as i64
    );
    assert_eq!(
        define(&d, "WAIT_TO_RESTORE_MS"),
        policy.wait_to_restore.as_millis() as i64
    );
    assert_eq!(define(&d, "REVERTIVE"), i64::from(policy.revertive));
    assert_eq!(
        define(&d, "HALF_LIFE_MS"),
        flap.half_life.as_millis() as i64
    );
    // The model counts the penalty in quarters.
    let quarters = |x: f64| (x * 4.0).round() as i64;
    assert_eq!(define(&d, "PENALTY_Q"), quarters(flap.penalty));
    assert_eq!(define(&d, "SUPPRESS_Q"), quarters(flap.suppress));
    assert_eq!(define(&d, "REUSE_Q"), quarters(flap.reuse));
    for (x, name) in [
        (flap.penalty, "penalty"),
        (flap.suppress, "suppress"),
        (flap.reuse, "reuse"),
    ] {
        assert_eq!(
            x * 4.0,
            (x * 4.0).round(),
            "{name} {x} is not whole quarters"
        );
    }
    // The penalty's ceiling is private to vigil-diag: read its source.
    let damping = std::fs::read_to_string(root().join("../diag/src/damping.rs"))
        .expect("read diag/src/damping.rs");
    let rust_cap = damping
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("const MAX_SUPPRESS_HALF_LIVES: i32 = ")
        })
        .and_then(|v| v.trim_end_matches(';').parse::<i64>().ok())
        .expect("MAX_SUPPRESS_HALF_LIVES in diag/src/damping.rs");
    assert_eq!(define(&d, "MAX_SUPPRESS_HALF_LIVES"), rust_cap);
    assert_eq!(policy.margin, 0.0, "the model has no margin");
    // The circuit breakers' (issue 14): the probe window and the share.
    // The ejection's length is free in the model, so base and maximum
    // ejection need no constant there.
    let breaker = BreakerPolicy::default();
    assert_eq!(
        define(&d, "PROBE_WINDOW_MS"),
        breaker.probe_window.as_millis() as i64
    );
    assert_eq!(
        define(&d, "MAX_EJECTED_SHARE_PCT"),
        (breaker.max_ejected_share * 100.0).round() as i64
    );
    assert_eq!(
        breaker.max_ejected_share * 100.0,
        (breaker.max_ejected_share * 100.0).round(),
        "the share is whole percents"
    );
}

/// Every ltl claim of the model.
const CLAIMS: [&str; 3] = ["half_open_ends", "ends_well", "no_livelock"];

/// Runs spin, gcc and pan on `model` in a fresh directory; returns pan's
/// output for the safety run and each of `claims`.
fn check(model: &str, dir: &Path, claims: &[&str]) -> Vec<(String, String)> {
    std::fs::create_dir_all(dir).expect("work dir");
    std::fs::write(dir.join("model.pml"), model).expect("write model");
    let run = |program: &str, args: &[&str]| -> String {
        let out = Command::new(program)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {program} ({e}): install Debian's `spin` and gcc (scripts/test does)")
            });
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() || program == "./pan" || program == "./pan_safety",
            "{program} {args:?}: {text}"
        );
        text
    };
    run("spin", &["-a", "model.pml"]);
    run(
        "gcc",
        &["-O2", "-DSAFETY", "-DNOCLAIM", "-o", "pan_safety", "pan.c"],
    );
    run("gcc", &["-O2", "-o", "pan", "pan.c"]);
    let mut results = vec![("safety".to_owned(), run("./pan_safety", &["-m200000"]))];
    for &claim in claims {
        results.push((
            claim.to_owned(),
            run("./pan", &["-a", "-m200000", "-N", claim]),
        ));
    }
    results
}

fn errors(output: &str) -> Option<u64> {
    output
        .split("errors: ")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn work_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vigil-spin-{}-{name}", std::process::id()))
}

#[test]
fn spin_proves_the_switching_policy() {
    let model = std::fs::read_to_string(root().join(MODEL)).expect("read the model");
    let dir = work_dir("model");
    for (what, output) in check(&model, &dir, &CLAIMS) {
        assert_eq!(errors(&output), Some(0), "{what}:\n{output}");
        // The whole state space was searched, not cut at the depth limit.
        assert!(
            !output.contains("max search depth too small"),
            "{what}:\n{output}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn spin_finds_a_policy_that_switches_to_a_flapping_producer() {
    // Control: the same model with flap suppression ignored by the
    // revertive rule must fail the damping check, so a pass above means
    // something.
    let model = std::fs::read_to_string(root().join(MODEL)).expect("read the model");
    let guard = "&& !supp[other] && stable[other] >= WTR_T";
    assert!(
        model.contains(guard),
        "the revertive guard changed: update this control"
    );
    let broken = model.replace(guard, "&& stable[other] >= WTR_T");
    let dir = work_dir("broken");
    let results = check(&broken, &dir, &[]);
    let (_, safety) = &results[0];
    assert!(errors(safety).is_some_and(|e| e > 0), "{safety}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Replaces `from` (which must be in the model) by `to`.
fn broken(model: &str, from: &str, to: &str) -> String {
    assert!(
        model.contains(from),
        "`{from}` changed: update this control"
    );
    model.replace(from, to)
}

#[test]
fn spin_finds_a_policy_that_selects_an_ejected_producer() {
    // Control: a best pick that ignores the breakers must break "never an
    // ejected producer while a closed one qualifies".
    let model = std::fs::read_to_string(root().join(MODEL)).expect("read the model");
    let model = broken(
        &model,
        "#define free(i)  (qualifies(i) && !ej(i) && !supp[i])",
        "#define free(i)  (qualifies(i) && !supp[i])",
    );
    let dir = work_dir("ejected");
    let results = check(&model, &dir, &[]);
    let (_, safety) = &results[0];
    assert!(errors(safety).is_some_and(|e| e > 0), "{safety}");
    assert!(safety.contains("assertion violated"), "{safety}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn spin_finds_a_half_open_that_never_ends() {
    // Control: a probe window whose timer never runs (the Resilience4j
    // complaint) must break half_open_ends.
    let model = std::fs::read_to_string(root().join(MODEL)).expect("read the model");
    let model = broken(
        &model,
        ":: br[i] == HALF && bt[i] > 0 -> bt[i]--",
        ":: br[i] == HALF && bt[i] > 0 -> skip",
    );
    let dir = work_dir("stuck");
    let results = check(&model, &dir, &["half_open_ends"]);
    let (_, claim) = &results[1];
    assert!(errors(claim).is_some_and(|e| e > 0), "{claim}");
    let _ = std::fs::remove_dir_all(dir);
}
