//! The supervisor's YAML file into a [`GroupSpec`], read with vigil's one
//! config reader ([`vigil_diag::config`]): every problem with its line, in
//! the same shape as the other config files (unknown keys with
//! did-you-mean, wrong types, missing and duplicate keys).
//!
//! Durations carry their unit (`100ms`, `2s`); a bare number is refused,
//! since `shutdown: 2` could mean seconds or milliseconds.
//!
//! ```yaml
//! name: node1                   # optional; the supervisor's name in health paths
//! strategy: one_for_one         # one_for_one | one_for_all | rest_for_one
//! intensity: 3                  # restarts allowed ...
//! period: 10s                   # ... within this window, else escalate
//! backoff: { initial: 100ms, max: 5s, multiplier: 2, jitter: 0.1, reset_after: 10s }
//! children:
//!   - id: imu_a
//!     command: [vigil, produce, --domain, "7", --topic, imu, --id, imu_a]
//!     restart: permanent        # permanent | transient | temporary
//!     produces: [imu_a]
//!     shutdown: 2s
//!     watchdog: 500ms           # optional; needs WATCHDOG=1 pings
//!     ready: notify             # optional; default: started = ready
//!     ready_timeout: 90s        # optional; how long `notify` waits for READY=1
//!   - group: drivers            # a nested group; unset settings come from its parent
//!     strategy: rest_for_one
//!     children: [...]
//! ```

use std::collections::HashMap;
use std::time::Duration;

use vigil_diag::config::{one_of, Document, Map, Named, Node};
use vigil_diag::is_valid_label;

use crate::spec::{Backoff, ChildSpec, GroupSpec, MemberSpec, Ready, Restart, Strategy};

pub use vigil_diag::config::{parse_duration, Error as ConfigError, Problem as ConfigProblem};

/// The name of a supervisor whose file names none.
pub const DEFAULT_NAME: &str = "supervisor";

/// What problems call a text that did not come from a file.
const UNNAMED: &str = "<config>";

/// Reads a supervisor file's text; `file` names it in problems
/// (`FILE:LINE: key: message`). The top level is a group named by `name:`
/// (default [`DEFAULT_NAME`]).
pub fn load_config(text: &str, file: &str) -> Result<GroupSpec, ConfigError> {
    let doc = Document::parse(text, file);
    let mut names = Vec::new();
    let spec = doc
        .root("a supervisor config with `children`")
        .and_then(|root| group(&root, None, &mut names));
    duplicates(&names);
    // Nothing in this format is deprecated yet: there are no warnings.
    doc.finish(spec).map(|(spec, _warnings)| spec)
}

/// [`load_config`] of a text that has no file name; problems name it
/// `<config>`.
pub fn load_config_str(text: &str) -> Result<GroupSpec, ConfigError> {
    load_config(text, UNNAMED)
}

// The names are read as `value`: the key in front of each problem already
// says which setting it is (`restart: unknown value `sometimes``).
impl Named for Strategy {
    const WHAT: &'static str = "value";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("one_for_one", Strategy::OneForOne),
        ("one_for_all", Strategy::OneForAll),
        ("rest_for_one", Strategy::RestForOne),
    ];
}

impl Named for Restart {
    const WHAT: &'static str = "value";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("permanent", Restart::Permanent),
        ("transient", Restart::Transient),
        ("temporary", Restart::Temporary),
    ];
}

impl Named for Ready {
    const WHAT: &'static str = "value";
    const NAMES: &'static [(&'static str, Self)] =
        &[("started", Ready::Started), ("notify", Ready::Notify)];
}

/// What a nested group takes from its parent when unset.
#[derive(Clone, Copy)]
struct Inherited {
    strategy: Strategy,
    intensity: u32,
    period: Duration,
    backoff: Backoff,
}

/// Every child id and group name, where it was written: they must be
/// unique across the whole file, not only within one mapping.
type Names<'d> = Vec<(String, Node<'d>)>;

/// A group; the top level when `parent` is `None`. The spec it returns is
/// only used if the document has no errors, so a bad value falls back to
/// its default here and the load fails on the recorded problem.
fn group<'d>(
    node: &Node<'d>,
    parent: Option<Inherited>,
    names: &mut Names<'d>,
) -> Option<GroupSpec> {
    let what = if parent.is_some() {
        "a group"
    } else {
        "a supervisor config"
    };
    let mut map = node.map()?.describe_as(what);
    let base = parent.unwrap_or(Inherited {
        strategy: Strategy::OneForOne,
        intensity: 1,
        period: Duration::from_secs(5),
        backoff: Backoff::default(),
    });
    let (name_key, other_key, other_why) = if parent.is_some() {
        ("group", "name", "a nested group is named by `group:`")
    } else {
        ("name", "group", "the top level is named by `name:`")
    };
    let name = match map.value(name_key) {
        Some(value) => match label(&value) {
            Some(name) if parent.is_some() => {
                names.push((name.clone(), value));
                name
            }
            Some(name) => name,
            None => String::new(),
        },
        None => DEFAULT_NAME.to_owned(),
    };
    let inherited = Inherited {
        strategy: map.optional("strategy").unwrap_or(base.strategy),
        intensity: map.optional("intensity").unwrap_or(base.intensity),
        period: positive(&mut map, "period").unwrap_or(base.period),
        backoff: map
            .value("backoff")
            .map_or(base.backoff, |value| backoff(&value, base.backoff)),
    };
    let example = Some("children: [{ id: imu_a, command: [imu_driver] }]");
    let members = match map.required_node("children", example) {
        Some(value) => members(&value, inherited, names),
        None => Vec::new(),
    };
    // The other group's naming key is read only to say how to name this
    // one; it is left out of the keys an unknown key is told to expect.
    if let Some(other) = map.value(other_key) {
        other.invalid(other_why);
    }
    let keys = [
        name_key,
        "strategy",
        "intensity",
        "period",
        "backoff",
        "children",
    ];
    map.finish_expecting(Some(&one_of(&keys)));
    Some(GroupSpec {
        name,
        strategy: inherited.strategy,
        intensity: inherited.intensity,
        period: inherited.period,
        backoff: inherited.backoff,
        members,
    })
}

fn members<'d>(node: &Node<'d>, inherited: Inherited, names: &mut Names<'d>) -> Vec<MemberSpec> {
    let Some(items) = node.items() else {
        return Vec::new();
    };
    if items.is_empty() {
        node.invalid("a group needs at least one child");
    }
    items
        .iter()
        .filter_map(|item| {
            if item.field("group").is_some() {
                group(item, Some(inherited), names).map(MemberSpec::Group)
            } else {
                child(item, names).map(MemberSpec::Child)
            }
        })
        .collect()
}

fn child<'d>(node: &Node<'d>, names: &mut Names<'d>) -> Option<ChildSpec> {
    let mut map = node.map()?.describe_as("a child");
    let mut spec = ChildSpec::new(String::new(), Vec::new());
    if let Some(value) = map.required_node("id", Some("id: imu_a")) {
        if let Some(id) = label(&value) {
            names.push((id.clone(), value));
            spec.id = id;
        }
    }
    if let Some(value) = map.required_node("command", Some("command: [imu_driver, --port, \"2\"]"))
    {
        // Arguments as written: an empty or space-padded one is legitimate.
        match arguments(&value) {
            Some(command) if command.first().is_none_or(|c| c.trim().is_empty()) => {
                value.invalid("empty command: name a program to run");
            }
            Some(command) => spec.command = command,
            None => {}
        }
    }
    if let Some(restart) = map.optional("restart") {
        spec.restart = restart;
    }
    if let Some(produces) = map.value("produces").and_then(|v| v.list()) {
        spec.produces = produces;
    }
    if let Some(shutdown) = map.optional("shutdown") {
        spec.shutdown = shutdown;
    }
    spec.watchdog = positive(&mut map, "watchdog");
    if let Some(ready) = map.optional("ready") {
        spec.ready = ready;
    }
    if let Some(timeout) = positive(&mut map, "ready_timeout") {
        spec.ready_timeout = timeout;
    }
    map.finish();
    Some(spec)
}

fn backoff(node: &Node<'_>, base: Backoff) -> Backoff {
    let Some(mut map) = node.map() else {
        return base;
    };
    let errors = node.document().error_count();
    let mut b = base;
    if let Some(initial) = map.optional("initial") {
        b.initial = initial;
    }
    if let Some(max) = map.optional("max") {
        b.max = max;
    }
    if let Some(reset_after) = positive(&mut map, "reset_after") {
        b.reset_after = reset_after;
    }
    if let Some(m) = number_in(
        &mut map,
        "multiplier",
        1.0..=1000.0,
        "a number from 1 to 1000",
    ) {
        b.multiplier = m;
    }
    if let Some(j) = number_in(&mut map, "jitter", 0.0..=1.0, "a fraction from 0 to 1") {
        b.jitter = j;
    }
    map.finish();
    if node.document().error_count() == errors && b.initial > b.max {
        node.invalid(format!(
            "`initial` ({:?}) is longer than `max` ({:?})",
            b.initial, b.max
        ));
    }
    b
}

/// A list of scalars exactly as written.
fn arguments(node: &Node<'_>) -> Option<Vec<String>> {
    let items = node.items()?;
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        match item.text() {
            Some(text) => out.push(text.to_owned()),
            None => item.wrong_type("a string"),
        }
    }
    (out.len() == items.len()).then_some(out)
}

/// A duration that must be longer than zero (a period, a watchdog).
fn positive(map: &mut Map<'_>, key: &'static str) -> Option<Duration> {
    let value = map.value(key)?;
    let duration: Duration = value.get()?;
    if duration.is_zero() {
        value.invalid("must be longer than zero");
        return None;
    }
    Some(duration)
}

fn number_in(
    map: &mut Map<'_>,
    key: &'static str,
    range: std::ops::RangeInclusive<f64>,
    expected: &str,
) -> Option<f64> {
    let value = map.value(key)?;
    match value.number() {
        Some(n) if range.contains(&n) => Some(n),
        _ => {
            value.wrong_type(expected);
            None
        }
    }
}

/// A child id or group name: it becomes a health path label.
fn label(node: &Node<'_>) -> Option<String> {
    let text: String = node.get()?;
    if is_valid_label(&text) {
        return Some(text);
    }
    node.invalid(format!(
        "`{}` is not a name: letters, digits and `_` only (it becomes a health path label)",
        vigil_diag::config::shorten(&text)
    ));
    None
}

/// Every id and group name appearing more than once: each later one is
/// reported with the line of the first.
fn duplicates(names: &Names<'_>) {
    let mut first: HashMap<&str, u32> = HashMap::new();
    for (name, node) in names {
        match first.get(name.as_str()) {
            Some(&earlier) => node.invalid(format!(
                "duplicate name `{name}` (first on line {earlier}): every child id and group name must be unique"
            )),
            None => {
                first.insert(name, node.line());
            }
        }
    }
}

#[cfg(test)]
mod tests;
