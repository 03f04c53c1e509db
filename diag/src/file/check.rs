//! The `check:` of a leaf: `check: status`, or one kind with its
//! parameters, `check: { threshold: { degraded_above: 60 } }`.

use super::node::{number, positive_duration, text, Fields};
use super::{entries, LoadProblemKind, Problems};
use crate::config::{did_you_mean, shorten, Node};
use crate::spec::CheckSpec;

const KINDS: &[&str] = &[
    "heartbeat",
    "threshold",
    "range",
    "rate",
    "status",
    "custom",
];
const KINDS_EXPECTED: &str = "heartbeat, threshold, range, rate, status or custom";

/// Reads a check; `None` when it had problems (all reported).
pub(super) fn read(value: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<CheckSpec> {
    if let Some(name) = value.text() {
        return match name {
            "status" => Some(CheckSpec::Status { stale_after: None }),
            "heartbeat" | "threshold" | "range" | "rate" | "custom" => {
                let why = format!(
                    "a {name} check needs parameters, e.g. `check: {{ {} }}`",
                    example(name)
                );
                p.push(value, path, LoadProblemKind::Invalid(why));
                None
            }
            other => {
                unknown_kind(value, other, path, p);
                None
            }
        };
    }
    let Some(mut entries) = entries(value) else {
        let found = value.describe();
        let expected = "a check such as `status` or `{ heartbeat: { timeout: 100ms } }`";
        p.push(
            value,
            path,
            LoadProblemKind::WrongType {
                key: "check".into(),
                expected,
                found,
            },
        );
        return None;
    };
    let Some((kind_key, params)) = entries.next() else {
        let why = format!("`check` is empty: name one of {KINDS_EXPECTED}");
        p.push(value, path, LoadProblemKind::Invalid(why));
        return None;
    };
    let (kind_key, params) = (&kind_key, &params);
    if let Some((second, _)) = entries.next() {
        let why = format!(
            "a check has one kind; found `{}` and `{}`",
            kind_key.text().unwrap_or("?"),
            second.text().unwrap_or("?")
        );
        p.push(&second, path, LoadProblemKind::Conflict(why));
        return None;
    }
    match kind_key.text().unwrap_or("") {
        "heartbeat" => heartbeat(params, path, p),
        "threshold" => threshold(params, path, p),
        "range" => range(params, path, p),
        "rate" => rate(params, path, p),
        "status" => {
            let f = Fields::read(params, "status", &["stale_after"], "stale_after", path, p)?;
            let stale_after = optional_duration(&f, "stale_after", path, p)?;
            Some(CheckSpec::Status { stale_after })
        }
        "custom" => {
            let name = text(params, "custom", "the name of a registered check", path, p)?;
            Some(CheckSpec::Custom {
                name: name.to_owned(),
            })
        }
        other => {
            unknown_kind(kind_key, other, path, p);
            None
        }
    }
}

fn example(kind: &str) -> &'static str {
    match kind {
        "heartbeat" => "heartbeat: { timeout: 100ms }",
        "threshold" => "threshold: { degraded_above: 60, failed_above: 80 }",
        "range" => "range: { ok: [26, 30], degraded: [24, 32] }",
        "rate" => "rate: { min: 50Hz, window: 1s }",
        "custom" => "custom: my_check",
        _ => "status",
    }
}

fn unknown_kind(node: &Node<'_>, name: &str, path: &str, p: &mut Problems<'_>) {
    let kind = LoadProblemKind::UnknownName {
        what: "check",
        name: shorten(name).into_owned(),
        expected: KINDS_EXPECTED,
        suggestion: did_you_mean(name, KINDS),
    };
    p.push(node, path, kind);
}

fn heartbeat(params: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<CheckSpec> {
    let f = Fields::read(params, "heartbeat", &["timeout"], "timeout", path, p)?;
    let Some((_, timeout)) = f.get("timeout") else {
        let example = example("heartbeat");
        p.push(
            params,
            path,
            LoadProblemKind::Missing {
                what: "a heartbeat check",
                key: "timeout",
                example,
            },
        );
        return None;
    };
    let timeout = positive_duration(timeout, "timeout", path, p)?;
    Some(CheckSpec::Heartbeat { timeout })
}

fn threshold(params: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<CheckSpec> {
    const KEYS: &[&str] = &[
        "degraded_above",
        "failed_above",
        "degraded_below",
        "failed_below",
        "stale_after",
    ];
    let expected = "degraded_above, failed_above, degraded_below, failed_below or stale_after";
    let f = Fields::read(params, "threshold", KEYS, expected, path, p)?;
    let mut ok = true;
    let mut bound = |name: &str| match f.get(name) {
        None => None,
        Some((_, v)) => {
            let n = number(v, name, path, p);
            ok &= n.is_some();
            n
        }
    };
    let (degraded_above, failed_above) = (bound("degraded_above"), bound("failed_above"));
    let (degraded_below, failed_below) = (bound("degraded_below"), bound("failed_below"));
    let stale_after = optional_duration(&f, "stale_after", path, p);
    if !ok || stale_after.is_none() {
        return None;
    }
    let mut invalid = |why: String| {
        p.push(params, path, LoadProblemKind::Invalid(why));
        None
    };
    let bounds = [degraded_above, failed_above, degraded_below, failed_below];
    if bounds.iter().all(Option::is_none) {
        return invalid("a threshold check needs at least one of degraded_above, failed_above, degraded_below, failed_below".into());
    }
    if let (Some(d), Some(f)) = (degraded_above, failed_above) {
        if f < d {
            return invalid(format!(
                "failed_above {f} is below degraded_above {d}: FAILED must lie beyond DEGRADED"
            ));
        }
    }
    if let (Some(d), Some(f)) = (degraded_below, failed_below) {
        if f > d {
            return invalid(format!(
                "failed_below {f} is above degraded_below {d}: FAILED must lie beyond DEGRADED"
            ));
        }
    }
    let lowest_above = [degraded_above, failed_above]
        .into_iter()
        .flatten()
        .reduce(f64::min);
    let highest_below = [degraded_below, failed_below]
        .into_iter()
        .flatten()
        .reduce(f64::max);
    if let (Some(above), Some(below)) = (lowest_above, highest_below) {
        if below > above {
            return invalid(format!(
                "the bands overlap: the `_below` bound {below} is above the `_above` bound {above}"
            ));
        }
    }
    Some(CheckSpec::Threshold {
        degraded_above,
        failed_above,
        degraded_below,
        failed_below,
        stale_after: stale_after.flatten(),
    })
}

fn range(params: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<CheckSpec> {
    let f = Fields::read(
        params,
        "range",
        &["ok", "degraded", "stale_after"],
        "ok, degraded or stale_after",
        path,
        p,
    )?;
    let ok = match f.get("ok") {
        Some((_, v)) => pair(v, "ok", path, p),
        None => {
            p.push(
                params,
                path,
                LoadProblemKind::Missing {
                    what: "a range check",
                    key: "ok",
                    example: example("range"),
                },
            );
            None
        }
    };
    let degraded = f.get("degraded").map(|(_, v)| pair(v, "degraded", path, p));
    let stale_after = optional_duration(&f, "stale_after", path, p);
    let (ok, degraded, stale_after) = (
        ok?,
        degraded.map_or(Some(None), |d| d.map(Some))?,
        stale_after?,
    );
    if let Some(d) = degraded {
        if d.0 > ok.0 || d.1 < ok.1 {
            let why = format!(
                "`degraded: [{}, {}]` must contain `ok: [{}, {}]`",
                d.0, d.1, ok.0, ok.1
            );
            p.push(params, path, LoadProblemKind::Invalid(why));
            return None;
        }
    }
    Some(CheckSpec::Range {
        ok,
        degraded,
        stale_after,
    })
}

fn rate(params: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<CheckSpec> {
    // `min_hz`/`failed_below_hz` (bare numbers) are the older spelling of
    // `min`/`failed_below` (rates with their unit): still read, with a
    // warning.
    let keys = &["min", "failed_below", "window", "min_hz", "failed_below_hz"];
    let f = Fields::read(params, "rate", keys, "min, failed_below or window", path, p)?;
    let mut hertz = |new: &'static str, old: &'static str, example: &'static str| match (
        f.get(new),
        f.get(old),
    ) {
        (Some((_, v)), None) => Some(Some(rate_value(v, path, p)?)),
        (None, Some((key, v))) => {
            p.push(key, path, LoadProblemKind::Deprecated { old, new: example });
            Some(Some(number(v, old, path, p)?))
        }
        (Some((key, _)), Some(_)) => {
            let why = format!("`{new}` and its older spelling `{old}` cannot go together");
            p.push(key, path, LoadProblemKind::Conflict(why));
            None
        }
        (None, None) => Some(None),
    };
    let min = hertz("min", "min_hz", "min: 50Hz");
    let failed = hertz("failed_below", "failed_below_hz", "failed_below: 10Hz");
    let window = match f.get("window") {
        Some((_, v)) => positive_duration(v, "window", path, p),
        None => None,
    };
    for (key, missing) in [
        ("min", min == Some(None)),
        ("window", f.get("window").is_none()),
    ] {
        if missing {
            p.push(
                params,
                path,
                LoadProblemKind::Missing {
                    what: "a rate check",
                    key,
                    example: example("rate"),
                },
            );
        }
    }
    let (min_hz, window, failed_below_hz) = (min??, window?, failed?);
    if min_hz <= 0.0 || failed_below_hz.is_some_and(|f| f < 0.0 || f > min_hz) {
        let why = format!(
            "a rate check needs min > 0 and 0 <= failed_below <= min, found min {min_hz} Hz{}",
            failed_below_hz
                .map(|f| format!(", failed_below {f} Hz"))
                .unwrap_or_default()
        );
        p.push(params, path, LoadProblemKind::Invalid(why));
        return None;
    }
    Some(CheckSpec::Rate {
        min_hz,
        failed_below_hz,
        window,
    })
}

/// A rate with its unit (`50Hz`, `2kHz`), in hertz.
/// The reader's message names the key and the value as written.
fn rate_value(value: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<f64> {
    match <crate::config::Hertz as crate::config::FromYaml>::from_yaml(value) {
        Ok(hz) => Some(hz.0),
        Err(kind) => {
            p.push(value, path, LoadProblemKind::Invalid(kind.to_string()));
            None
        }
    }
}

/// `[lo, hi]` with `lo <= hi`.
fn pair(value: &Node<'_>, key: &str, path: &str, p: &mut Problems<'_>) -> Option<(f64, f64)> {
    let numbers: Option<Vec<f64>> = value
        .is_list()
        .then(|| value.items())
        .flatten()
        .and_then(|items| items.iter().map(Node::number).collect());
    match numbers.as_deref() {
        Some(&[lo, hi]) if lo <= hi => Some((lo, hi)),
        Some(&[lo, hi]) => {
            let why = format!("`{key}: [{lo}, {hi}]`: the low bound is above the high bound");
            p.push(value, path, LoadProblemKind::Invalid(why));
            None
        }
        _ => {
            let found = value.describe();
            p.push(
                value,
                path,
                LoadProblemKind::WrongType {
                    key: key.into(),
                    expected: "a pair of numbers `[low, high]`",
                    found,
                },
            );
            None
        }
    }
}

/// `Some(None)` when absent, `Some(Some(d))` when valid, `None` on a problem.
fn optional_duration(
    f: &Fields<'_>,
    key: &str,
    path: &str,
    p: &mut Problems<'_>,
) -> Option<Option<std::time::Duration>> {
    match f.get(key) {
        None => Some(None),
        Some((_, v)) => positive_duration(v, key, path, p).map(Some),
    }
}
