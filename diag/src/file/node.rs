//! One node entry: its kind (leaf, inner, mount), criticality and filters,
//! plus the typed field readers the check module shares.
//!
//! Every reader reports its own problems and returns `None` on failure, so
//! the caller simply moves on to the next key: that is what lets a file
//! with three mistakes get three messages.

use std::time::Duration;

use super::{check, entries, unknown_key, LoadProblemKind, Problems};
use crate::config::{did_you_mean, parse_duration, shorten, Node};
use crate::path::Path;
use crate::spec::{CheckSpec, Criticality, Debounce, FilterSpec, FlapDamping, NodeBody, Rule};

const NODE_KEYS: &[&str] = &[
    "check",
    "rule",
    "mount",
    "criticality",
    "debounce",
    "flap",
    "latch",
];

/// What a node entry says, apart from its path.
pub(super) type Parts = (NodeBody, Criticality, FilterSpec);

/// Reads the value of a node entry; `None` when it had problems (all of
/// them reported).
pub(super) fn read_body(body: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<Parts> {
    let mut parts = (
        NodeBody::Inner(Rule::Worst),
        Criticality::default(),
        FilterSpec::default(),
    );
    if body.is_null() {
        return Some(parts);
    }
    let Some(entries) = entries(body) else {
        let found = body.describe();
        p.push(
            body,
            path,
            LoadProblemKind::WrongType {
                key: path.into(),
                expected: "a mapping such as `{ check: status }`",
                found,
            },
        );
        return None;
    };
    let mut ok = true;
    // Which of the mutually exclusive kinds were given, and what each read to.
    let mut kinds: Vec<(&'static str, Option<NodeBody>)> = Vec::new();
    for (key, value) in entries {
        let (key, value) = (&key, &value);
        let name = key.text().unwrap_or("");
        match name {
            "check" => kinds.push(("check", check::read(value, path, p).map(NodeBody::Leaf))),
            "rule" => kinds.push(("rule", read_rule(value, path, p).map(NodeBody::Inner))),
            "mount" => kinds.push(("mount", read_mount(value, path, p).map(NodeBody::Mount))),
            "criticality" => {
                ok &= read_criticality(value, path, p)
                    .map(|c| parts.1 = c)
                    .is_some()
            }
            "debounce" => {
                ok &= read_debounce(value, path, p)
                    .map(|d| parts.2.debounce = Some(d))
                    .is_some()
            }
            "flap" => {
                ok &= read_flap(value, path, p)
                    .map(|f| parts.2.flap = f)
                    .is_some()
            }
            "latch" => {
                ok &= flag(value, "latch", path, p)
                    .map(|l| parts.2.latch = l)
                    .is_some()
            }
            other => {
                let expected = "check, rule, mount, criticality, debounce, flap or latch";
                p.push(key, path, unknown_key(other, NODE_KEYS, expected));
                ok = false;
            }
        }
    }
    match kinds.as_mut_slice() {
        [] => {}
        [(_, body)] => match body.take() {
            Some(body) => parts.0 = body,
            None => ok = false,
        },
        many => {
            let names: Vec<String> = many.iter().map(|(k, _)| format!("`{k}`")).collect();
            let why = format!(
                "a node is one of a leaf (`check`), an inner node (`rule`) or a mount (`mount`); this one has {}",
                names.join(" and ")
            );
            p.push(body, path, LoadProblemKind::Conflict(why));
            ok = false;
        }
    }
    ok.then_some(parts)
}

/// The body a node with problems stands in with (see `load_tree_partial`):
/// a leaf if it tried to be one, else an inner node, which is valid
/// whatever its children.
pub(super) fn stand_in(body: &Node<'_>) -> Parts {
    let is_leaf = body.field("check").is_some();
    let body = if is_leaf {
        NodeBody::Leaf(CheckSpec::Status { stale_after: None })
    } else {
        NodeBody::Inner(Rule::Worst)
    };
    (body, Criticality::default(), FilterSpec::default())
}

fn read_rule(value: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<Rule> {
    const EXPECTED: &str = "worst, any or { vote: K }";
    if let Some(name) = value.text() {
        return match name {
            "worst" => Some(Rule::Worst),
            "any" => Some(Rule::Any),
            "vote" => {
                p.push(
                    value,
                    path,
                    LoadProblemKind::Missing {
                        what: "a vote",
                        key: "vote",
                        example: "rule: { vote: 2 }",
                    },
                );
                None
            }
            other => {
                let suggestion = did_you_mean(other, &["worst", "any", "vote"]);
                let name = shorten(other).into_owned();
                p.push(
                    value,
                    path,
                    LoadProblemKind::UnknownName {
                        what: "rule",
                        name,
                        expected: EXPECTED,
                        suggestion,
                    },
                );
                None
            }
        };
    }
    let fields = Fields::read(value, "rule", &["vote"], "vote", path, p)?;
    let Some((key, k)) = fields.get("vote") else {
        p.push(
            value,
            path,
            LoadProblemKind::Missing {
                what: "a vote",
                key: "vote",
                example: "rule: { vote: 2 }",
            },
        );
        return None;
    };
    let k = count(k, "vote", path, p)?;
    if k == 0 {
        p.push(
            key,
            path,
            LoadProblemKind::Invalid(
                "`vote: 0` would be OK with no child OK; use at least 1".into(),
            ),
        );
        return None;
    }
    Some(Rule::Vote { k: k as usize })
}

fn read_criticality(value: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<Criticality> {
    const NAMES: &[&str] = &["critical", "essential", "standard", "low"];
    let name = text(
        value,
        "criticality",
        "critical, essential, standard or low",
        path,
        p,
    )?;
    match name {
        "critical" => Some(Criticality::Critical),
        "essential" => Some(Criticality::Essential),
        "standard" => Some(Criticality::Standard),
        "low" => Some(Criticality::Low),
        other => {
            let kind = LoadProblemKind::UnknownName {
                what: "criticality",
                name: shorten(other).into_owned(),
                expected: "critical, essential, standard or low",
                suggestion: did_you_mean(other, NAMES),
            };
            p.push(value, path, kind);
            None
        }
    }
}

fn read_mount(value: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<Path> {
    let target = text(
        value,
        "mount",
        "a shared path such as `power.bus_a`",
        path,
        p,
    )?;
    Path::parse(target)
        .map_err(|e| p.push(value, path, LoadProblemKind::BadPath(e)))
        .ok()
}

fn read_debounce(value: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<Debounce> {
    const EXAMPLE: &str = "debounce: { trip: 3, limit: 10 }` or `debounce: { hold: 2s }";
    let f = Fields::read(
        value,
        "debounce",
        &["trip", "limit", "hold"],
        "trip, limit or hold",
        path,
        p,
    )?;
    match (f.get("trip"), f.get("limit"), f.get("hold")) {
        (None, None, Some((_, hold))) => {
            let hold = positive_duration(hold, "hold", path, p)?;
            Some(Debounce::Hold(hold))
        }
        (Some((_, trip)), limit, None) => {
            let trip = count(trip, "trip", path, p)?;
            let limit = match limit {
                Some((_, limit)) => count(limit, "limit", path, p)?,
                None => trip, // documented: the counter saturates where it trips
            };
            if trip == 0 || limit < trip {
                let why =
                    format!("debounce needs 1 <= trip <= limit, found trip {trip}, limit {limit}");
                p.push(value, path, LoadProblemKind::Invalid(why));
                return None;
            }
            Some(Debounce::Counter { trip, limit })
        }
        (None, Some(_), None) => {
            p.push(
                value,
                path,
                LoadProblemKind::Missing {
                    what: "a counter debounce",
                    key: "trip",
                    example: EXAMPLE,
                },
            );
            None
        }
        (None, None, None) => {
            p.push(
                value,
                path,
                LoadProblemKind::Missing {
                    what: "debounce",
                    key: "trip` or `hold",
                    example: EXAMPLE,
                },
            );
            None
        }
        (_, _, Some(_)) => {
            let why =
                "debounce is either a counter (`trip`, `limit`) or a hold time (`hold`), not both";
            p.push(value, path, LoadProblemKind::Conflict(why.into()));
            None
        }
    }
}

/// `flap: true` (defaults), `flap: false` (none) or `flap: { ... }`.
fn read_flap(value: &Node<'_>, path: &str, p: &mut Problems<'_>) -> Option<Option<FlapDamping>> {
    if let Some(on) = value.boolean() {
        return Some(on.then(FlapDamping::default));
    }
    let keys = &["penalty", "half_life", "suppress", "reuse"];
    let f = Fields::read(
        value,
        "flap",
        keys,
        "`true`, or penalty, half_life, suppress, reuse",
        path,
        p,
    )?;
    let mut flap = FlapDamping::default();
    let mut ok = true;
    for (name, slot) in [
        ("penalty", &mut flap.penalty),
        ("suppress", &mut flap.suppress),
        ("reuse", &mut flap.reuse),
    ] {
        if let Some((_, v)) = f.get(name) {
            match number(v, name, path, p) {
                Some(n) => *slot = n,
                None => ok = false,
            }
        }
    }
    if let Some((_, v)) = f.get("half_life") {
        match positive_duration(v, "half_life", path, p) {
            Some(d) => flap.half_life = d,
            None => ok = false,
        }
    }
    if ok && !(flap.penalty > 0.0 && flap.reuse >= 0.0 && flap.reuse < flap.suppress) {
        let why = format!(
            "flap damping needs penalty > 0 and 0 <= reuse < suppress, found penalty {}, reuse {}, suppress {}",
            flap.penalty, flap.reuse, flap.suppress
        );
        p.push(value, path, LoadProblemKind::Invalid(why));
        ok = false;
    }
    ok.then_some(Some(flap))
}

/// The known keys of a parameter mapping; unknown ones are reported.
pub(super) struct Fields<'a> {
    entries: Vec<(&'static str, Node<'a>, Node<'a>)>,
}

impl<'a> Fields<'a> {
    /// Reads `value` as a mapping whose keys are among `allowed`; `None` if
    /// it is not a mapping. Null reads as an empty mapping.
    pub(super) fn read(
        value: &Node<'a>,
        what: &str,
        allowed: &[&'static str],
        expected: &'static str,
        path: &str,
        p: &mut Problems<'_>,
    ) -> Option<Self> {
        let mut out = Vec::new();
        if value.is_null() {
            return Some(Fields { entries: out });
        }
        let Some(iter) = entries(value) else {
            let found = value.describe();
            p.push(
                value,
                path,
                LoadProblemKind::WrongType {
                    key: what.into(),
                    expected: "a mapping",
                    found,
                },
            );
            return None;
        };
        for (key, v) in iter {
            let name = key.text().unwrap_or("");
            match allowed.iter().find(|a| **a == name) {
                Some(known) => out.push((*known, key, v)),
                None => p.push(&key, path, unknown_key(name, allowed, expected)),
            }
        }
        Some(Fields { entries: out })
    }

    /// The key and value of `name`, if given.
    pub(super) fn get(&self, name: &str) -> Option<(&Node<'a>, &Node<'a>)> {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, k, v)| (k, v))
    }
}

/// A scalar's text.
pub(super) fn text<'n>(
    value: &'n Node<'_>,
    key: &str,
    expected: &'static str,
    path: &str,
    p: &mut Problems<'_>,
) -> Option<&'n str> {
    let found = value.text().filter(|t| !t.is_empty());
    if found.is_none() {
        let found = value.describe();
        p.push(
            value,
            path,
            LoadProblemKind::WrongType {
                key: key.into(),
                expected,
                found,
            },
        );
    }
    found
}

/// A finite number.
pub(super) fn number(value: &Node<'_>, key: &str, path: &str, p: &mut Problems<'_>) -> Option<f64> {
    let n = value.number();
    if n.is_none() {
        let found = value.describe();
        p.push(
            value,
            path,
            LoadProblemKind::WrongType {
                key: key.into(),
                expected: "a number",
                found,
            },
        );
    }
    n
}

/// A whole number that fits in `u32`.
fn count(value: &Node<'_>, key: &str, path: &str, p: &mut Problems<'_>) -> Option<u32> {
    let n = value.unsigned().and_then(|n| u32::try_from(n).ok());
    if n.is_none() {
        let found = value.describe();
        p.push(
            value,
            path,
            LoadProblemKind::WrongType {
                key: key.into(),
                expected: "a whole number",
                found,
            },
        );
    }
    n
}

/// `true` or `false`.
fn flag(value: &Node<'_>, key: &str, path: &str, p: &mut Problems<'_>) -> Option<bool> {
    let b = value.boolean();
    if b.is_none() {
        let found = value.describe();
        p.push(
            value,
            path,
            LoadProblemKind::WrongType {
                key: key.into(),
                expected: "`true` or `false`",
                found,
            },
        );
    }
    b
}

/// A duration longer than zero, with its unit.
pub(super) fn positive_duration(
    value: &Node<'_>,
    key: &str,
    path: &str,
    p: &mut Problems<'_>,
) -> Option<Duration> {
    let Some(raw) = value.text() else {
        let found = value.describe();
        p.push(
            value,
            path,
            LoadProblemKind::WrongType {
                key: key.into(),
                expected: "a duration such as `100ms`",
                found,
            },
        );
        return None;
    };
    let bad = |why| LoadProblemKind::BadDuration {
        key: key.into(),
        text: shorten(raw).into_owned(),
        why,
    };
    match parse_duration(raw) {
        Ok(d) if d > Duration::ZERO => Some(d),
        Ok(_) => {
            p.push(value, path, bad("must be longer than zero"));
            None
        }
        Err(why) => {
            p.push(value, path, bad(why));
            None
        }
    }
}
