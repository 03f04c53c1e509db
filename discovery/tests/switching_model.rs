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
use vigil_discovery::SwitchPolicy;

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
}

/// Runs spin, gcc and pan on `model` in a fresh directory; returns pan's
/// output for the safety run and each claim.
fn check(model: &str, dir: &Path) -> Vec<(String, String)> {
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
    for claim in ["ends_well", "no_livelock"] {
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
    for (what, output) in check(&model, &dir) {
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
    let results = check(&broken, &dir);
    let (_, safety) = &results[0];
    assert!(errors(safety).is_some_and(|e| e > 0), "{safety}");
    let _ = std::fs::remove_dir_all(dir);
}
