//! The modes file, read with `vigil_diag::config` (every problem with its
//! line, did-you-mean, durations with units).
//!
//! ```yaml
//! target: nominal            # the mode to start in and return to
//! hold: 5s                   # a rule stays active this long after it stops holding
//! modes:
//!   nominal:
//!     allow: [imu_a, imu_b]  # optional; default: every producer not isolated
//!     children: [imu_a, imu_b]   # optional; supervisor children that run (default: all)
//!   degraded_nav:
//!     isolate: [imu_a]
//!     capabilities: { gps_imu: { rate_hz: 50Hz } }
//! rules:
//!   - when: vehicle.sensors.imu_a is FAILED for 2s
//!     mode: degraded_nav
//!     priority: 10           # optional; higher wins, default 0
//! ```

use std::time::Duration;

use vigil_diag::config::{parse_duration, Document, Node, Problem, ProblemKind};
use vigil_diag::{is_valid_label, Pattern, State};
use vigil_qos::Value;

use super::{ModeSpec, Modes, Rule};

/// Reads a modes file (`file` names it in problems). `Ok` carries the
/// warnings; `Err` every problem, in line order.
pub fn load_modes_str(
    text: &str,
    file: &str,
) -> Result<(Modes, Vec<Problem>), vigil_diag::config::Error> {
    let doc = Document::parse(text, file);
    let modes = read(&doc);
    doc.finish(modes)
}

fn read(doc: &Document) -> Option<Modes> {
    let mut top = doc.root("a modes file")?.map()?;
    let target_node = top.required_node("target", Some("target: nominal"));
    let hold: Duration = top.optional("hold").unwrap_or_default();
    let modes_node = top.required_node("modes", Some("modes: { nominal: {} }"));
    let rules_node = top.value("rules");
    top.finish();

    let mut modes = Vec::new();
    if let Some(node) = modes_node {
        if let Some(mut map) = node.map() {
            for (key, value) in map.rest() {
                let name = key.text().unwrap_or_default();
                if !is_valid_label(name) {
                    key.invalid(format!(
                        "mode `{name}`: a mode name is letters, digits and `_`"
                    ));
                    continue;
                }
                if let Some(mode) = mode(name, &value) {
                    modes.push(mode);
                }
            }
            if modes.is_empty() && !doc.has_errors() {
                node.invalid("`modes` names no mode");
            }
        }
    }
    let names: Vec<&str> = modes.iter().map(|m| m.name.as_str()).collect();
    let known = |node: &Node<'_>, name: &str| {
        if !names.contains(&name) {
            node.invalid(format!(
                "no mode `{name}`; the file has {}",
                vigil_diag::config::one_of(&names)
            ));
            false
        } else {
            true
        }
    };
    let target: Option<String> = target_node.and_then(|n| {
        let name: String = n.get()?;
        known(&n, &name).then_some(name)
    });
    let mut rules = Vec::new();
    if let Some(node) = rules_node {
        for item in node.items().unwrap_or_default() {
            let Some(mut map) = item.map() else { continue };
            let map_line = map.node().line();
            let when = map.required_node("when", Some("when: vehicle.imu is FAILED for 2s"));
            let mode = map.required_node("mode", Some("mode: degraded_nav"));
            let priority = match map.value("priority") {
                Some(p) => match p.number() {
                    Some(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(n as i64),
                    _ => {
                        p.wrong_type("a whole number");
                        None
                    }
                },
                None => Some(0),
            };
            map.finish();
            let when = when.and_then(|n| Some((n.clone(), n.get::<String>()?)));
            let parsed = when.as_ref().and_then(|(n, text)| match parse_when(text) {
                Ok(parsed) => Some(parsed),
                Err(why) => {
                    n.problem(ProblemKind::BadValue {
                        key: "when".into(),
                        text: text.clone(),
                        why,
                    });
                    None
                }
            });
            let mode = mode.and_then(|n| {
                let name: String = n.get()?;
                known(&n, &name).then_some(name)
            });
            if let (Some((pattern, state, held_for)), Some(mode), Some(priority), Some((_, when))) =
                (parsed, mode, priority, when)
            {
                rules.push(Rule {
                    pattern,
                    state,
                    held_for,
                    mode,
                    priority,
                    when,
                    line: map_line,
                });
            }
        }
    }
    Some(Modes {
        target: target?,
        hold,
        modes,
        rules,
    })
}

fn mode(name: &str, node: &Node<'_>) -> Option<ModeSpec> {
    let mut map = node.map()?;
    let labels = |n: Option<Node<'_>>| -> Option<Option<Vec<String>>> {
        let Some(n) = n else { return Some(None) };
        let list: Vec<String> = n.list()?;
        for bad in list.iter().filter(|l| !is_valid_label(l)) {
            n.invalid(format!(
                "`{bad}`: a producer or child id is letters, digits and `_`"
            ));
        }
        Some(Some(list))
    };
    let allow = labels(map.value("allow"));
    let isolate = labels(map.value("isolate"));
    let children = labels(map.value("children"));
    let caps_node = map.value("capabilities");
    map.finish();
    let mut capabilities = Vec::new();
    if let Some(caps) = caps_node {
        let mut producers = caps.map()?;
        for (producer, values) in producers.rest() {
            let producer = producer.text().unwrap_or_default().to_owned();
            let Some(mut values) = values.map() else {
                continue;
            };
            for (key, value) in values.rest() {
                let key = key.text().unwrap_or_default().to_owned();
                let text: Option<String> = value.get();
                match text.as_deref().map(Value::parse_capability) {
                    Some(Ok(v)) => capabilities.push((producer.clone(), key, v)),
                    Some(Err(e)) => value.invalid(format!("`{key}`: {e}")),
                    None => {}
                }
            }
        }
    }
    let (allow, isolate, children) = (allow?, isolate?, children?);
    let isolate = isolate.unwrap_or_default();
    if let Some(allow) = &allow {
        for p in allow.iter().filter(|p| isolate.contains(p)) {
            node.invalid(format!("mode `{name}` both allows and isolates `{p}`"));
        }
    }
    Some(ModeSpec {
        name: name.to_owned(),
        allow,
        isolate,
        capabilities,
        children,
        line: node.line(),
    })
}

/// `<lquery> is <STATE> [for <duration>]`.
fn parse_when(text: &str) -> Result<(Pattern, State, Duration), String> {
    const SHAPE: &str =
        "expected `<lquery> is <STATE> [for <duration>]`, e.g. `vehicle.*.imu is FAILED for 2s`";
    let words: Vec<&str> = text.split_whitespace().collect();
    let (pattern, state, rest) = match words.as_slice() {
        [pattern, "is", state, rest @ ..] => (*pattern, *state, rest),
        _ => return Err(SHAPE.to_owned()),
    };
    let pattern = Pattern::parse(pattern).map_err(|e| e.to_string())?;
    let state = match state {
        "OK" => State::Ok,
        "DEGRADED" => State::Degraded,
        "UNKNOWN" => State::Unknown,
        "FAILED" => State::Failed,
        other => {
            return Err(format!(
                "state `{other}`: expected OK, DEGRADED, UNKNOWN or FAILED"
            ))
        }
    };
    let held_for = match rest {
        [] => Duration::ZERO,
        ["for", duration @ ..] if !duration.is_empty() => {
            parse_duration(&duration.concat()).map_err(str::to_owned)?
        }
        _ => return Err(SHAPE.to_owned()),
    };
    Ok((pattern, state, held_for))
}
