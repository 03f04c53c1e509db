//! The supervisor's YAML file into a [`GroupSpec`], every problem reported
//! with its line.
//!
//! Written on the shared `vigil_diag::yaml` helpers and kept to this one
//! module, so it can move onto vigil's common typed config reader when that
//! lands. Durations carry their unit (`100ms`, `2s`); a bare number is
//! refused, since `shutdown: 2` could mean seconds or milliseconds.
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
use std::fmt;
use std::time::Duration;

use saphyr::MarkedYaml;
use vigil_diag::{is_valid_label, yaml};
use vigil_qos::{Dimension, Quantity};

use crate::spec::{Backoff, ChildSpec, GroupSpec, MemberSpec, Ready, Restart, Strategy};

/// The name of a supervisor whose file names none.
pub const DEFAULT_NAME: &str = "supervisor";

/// One problem of a supervisor file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigProblem {
    /// 1-based line.
    pub line: u32,
    /// Where in the file (`children[1].restart`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    /// `LINE: key: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.line, self.key, self.message)
    }
}

/// A supervisor file that cannot be used: every problem, in line order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ConfigError {
    /// At least one.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// One `FILE:LINE: key: message` line per problem.
    pub fn render(&self, file: &str) -> String {
        let lines: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("{file}:{p}"))
            .collect();
        lines.join("\n")
    }
}

impl fmt::Display for ConfigError {
    /// One problem per line, `LINE: key: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            problem.fmt(f)?;
        }
        Ok(())
    }
}

/// Reads a supervisor file; the top level is a group named by `name:`
/// (default [`DEFAULT_NAME`]).
pub fn load_config_str(text: &str) -> Result<GroupSpec, ConfigError> {
    let mut r = Reader::default();
    let docs = match yaml::load(text) {
        Ok(docs) => docs,
        Err(e) => {
            let line = u32::try_from(e.marker().line()).unwrap_or(u32::MAX).max(1);
            return Err(ConfigError {
                problems: vec![ConfigProblem {
                    line,
                    key: "(file)".into(),
                    message: format!("not YAML: {}", e.info()),
                }],
            });
        }
    };
    let spec = match docs.as_slice() {
        [doc] => r.group(doc, "", None),
        [] => {
            r.problem_at(1, "(file)", "empty: expected a mapping with `children`");
            None
        }
        [_, second, ..] => {
            r.push(
                second,
                "(file)",
                "one YAML document expected, found several",
            );
            None
        }
    };
    r.duplicates();
    match spec {
        Some(spec) if r.problems.is_empty() => Ok(spec),
        _ => {
            let mut problems = r.problems;
            problems.sort_by_key(|p| p.line);
            Err(ConfigError { problems })
        }
    }
}

const GROUP_KEYS: &[&str] = &[
    "name",
    "group",
    "strategy",
    "intensity",
    "period",
    "backoff",
    "children",
];
const CHILD_KEYS: &[&str] = &[
    "id",
    "command",
    "restart",
    "produces",
    "shutdown",
    "watchdog",
    "ready",
    "ready_timeout",
];
const BACKOFF_KEYS: &[&str] = &["initial", "max", "multiplier", "jitter", "reset_after"];
const READY_NAMES: &[&str] = &["started", "notify"];

/// What a nested group takes from its parent when unset.
#[derive(Clone, Copy)]
struct Inherited {
    strategy: Strategy,
    intensity: u32,
    period: Duration,
    backoff: Backoff,
}

#[derive(Default)]
struct Reader {
    problems: Vec<ConfigProblem>,
    /// Every child id and group name with its line and key.
    names: Vec<(String, u32, String)>,
}

impl Reader {
    fn problem_at(&mut self, line: u32, key: &str, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            line,
            key: key.to_owned(),
            message: message.into(),
        });
    }

    fn push(&mut self, node: &MarkedYaml<'_>, key: &str, message: impl Into<String>) {
        self.problem_at(yaml::line(node), key, message);
    }

    fn wrong(&mut self, node: &MarkedYaml<'_>, key: &str, expected: &str) {
        let found = yaml::describe(node);
        self.push(node, key, format!("expected {expected}, found {found}"));
    }

    /// The entries of a mapping with known keys; unknown keys reported.
    fn mapping<'n, 'a>(
        &mut self,
        node: &'n MarkedYaml<'a>,
        at: &str,
        known: &[&'static str],
    ) -> Option<Vec<(&'n str, &'n MarkedYaml<'a>)>> {
        let Some(entries) = yaml::entries(node) else {
            self.wrong(node, display(at), "a mapping");
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(name) = yaml::raw(k) else {
                self.wrong(k, display(at), "a key");
                continue;
            };
            if known.contains(&name) {
                out.push((name, v));
            } else {
                let hint = match yaml::did_you_mean(name, known) {
                    Some(s) => format!("; did you mean `{s}`?"),
                    None => format!("; expected one of {}", known.join(", ")),
                };
                self.push(
                    k,
                    &join(at, name),
                    format!("unknown key `{}`{hint}", yaml::shorten(name)),
                );
            }
        }
        Some(out)
    }

    fn group(
        &mut self,
        node: &MarkedYaml<'_>,
        at: &str,
        parent: Option<Inherited>,
    ) -> Option<GroupSpec> {
        let entries = self.mapping(node, at, GROUP_KEYS)?;
        let base = parent.unwrap_or(Inherited {
            strategy: Strategy::OneForOne,
            intensity: 1,
            period: Duration::from_secs(5),
            backoff: Backoff::default(),
        });
        let mut name = None;
        let mut inherited = base;
        let mut children = None;
        let mut ok = true;
        let name_key = if parent.is_some() { "group" } else { "name" };
        for (key, value) in &entries {
            let here = join(at, key);
            match *key {
                "name" | "group" if *key != name_key => {
                    let message = if parent.is_some() {
                        "a nested group is named by `group:`"
                    } else {
                        "the top level is named by `name:`"
                    };
                    self.push(value, &here, message);
                    ok = false;
                }
                "name" | "group" => name = self.label(value, &here).map(|n| (n, yaml::line(value))),
                "strategy" => match self.choice(value, &here, Strategy::NAMES) {
                    Some(s) => inherited.strategy = Strategy::parse(s).unwrap_or(base.strategy),
                    None => ok = false,
                },
                "intensity" => match yaml::unsigned(value).and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => inherited.intensity = n,
                    None => {
                        self.wrong(value, &here, "a whole number of restarts (0 or more)");
                        ok = false;
                    }
                },
                "period" => match self.duration(value, &here, true) {
                    Some(d) => inherited.period = d,
                    None => ok = false,
                },
                "backoff" => match self.backoff(value, &here, base.backoff) {
                    Some(b) => inherited.backoff = b,
                    None => ok = false,
                },
                _ => {}
            }
        }
        // Children last: nested groups inherit this group's settings
        // wherever `children` stands among them.
        match entries.iter().find(|(k, _)| *k == "children") {
            Some((_, value)) => children = self.members(value, &join(at, "children"), inherited),
            None => {
                self.push(node, display(at), "missing `children`");
                ok = false;
            }
        }
        let name = match name {
            Some((name, line)) => {
                if parent.is_some() {
                    self.names.push((name.clone(), line, join(at, "group")));
                }
                name
            }
            None if parent.is_none() => DEFAULT_NAME.to_owned(),
            None => return None,
        };
        let members = children?;
        ok.then_some(GroupSpec {
            name,
            strategy: inherited.strategy,
            intensity: inherited.intensity,
            period: inherited.period,
            backoff: inherited.backoff,
            members,
        })
    }

    fn members(
        &mut self,
        node: &MarkedYaml<'_>,
        at: &str,
        inherited: Inherited,
    ) -> Option<Vec<MemberSpec>> {
        let Some(items) = yaml::items(node) else {
            self.wrong(node, at, "a list of children");
            return None;
        };
        if items.is_empty() {
            self.push(node, at, "a group needs at least one child");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let is_group = yaml::entries(item)
                .is_some_and(|mut e| e.any(|(k, _)| yaml::raw(k) == Some("group")));
            let member = if is_group {
                self.group(item, &here, Some(inherited))
                    .map(MemberSpec::Group)
            } else {
                self.child(item, &here).map(MemberSpec::Child)
            };
            match member {
                Some(m) => out.push(m),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn child(&mut self, node: &MarkedYaml<'_>, at: &str) -> Option<ChildSpec> {
        let entries = self.mapping(node, at, CHILD_KEYS)?;
        let mut spec = ChildSpec::new(String::new(), Vec::new());
        let mut ok = true;
        let mut id = None;
        let mut command = false;
        for (key, value) in entries {
            let here = join(at, key);
            match key {
                "id" => {
                    id = self.label(value, &here);
                    if let Some(id) = &id {
                        self.names.push((id.clone(), yaml::line(value), here));
                    }
                }
                "command" => {
                    command = true;
                    match self.strings(value, &here) {
                        Some(cmd) if cmd.is_empty() || cmd[0].trim().is_empty() => {
                            self.push(value, &here, "empty command: name a program to run");
                            ok = false;
                        }
                        Some(cmd) => spec.command = cmd,
                        None => ok = false,
                    }
                }
                "restart" => match self.choice(value, &here, Restart::NAMES) {
                    Some(r) => spec.restart = Restart::parse(r).unwrap_or(Restart::Permanent),
                    None => ok = false,
                },
                "produces" => match self.strings(value, &here) {
                    Some(p) => spec.produces = p,
                    None => ok = false,
                },
                "shutdown" => match self.duration(value, &here, false) {
                    Some(d) => spec.shutdown = d,
                    None => ok = false,
                },
                "watchdog" => match self.duration(value, &here, true) {
                    Some(d) => spec.watchdog = Some(d),
                    None => ok = false,
                },
                "ready" => match self.choice(value, &here, READY_NAMES) {
                    Some("notify") => spec.ready = Ready::Notify,
                    Some(_) => spec.ready = Ready::Started,
                    None => ok = false,
                },
                "ready_timeout" => match self.duration(value, &here, true) {
                    Some(d) => spec.ready_timeout = d,
                    None => ok = false,
                },
                _ => {}
            }
        }
        if !command {
            self.push(node, at, "missing `command`");
            ok = false;
        }
        match id {
            Some(id) => spec.id = id,
            None => {
                if !self.problems.iter().any(|p| p.key == join(at, "id")) {
                    self.push(node, at, "missing `id`");
                }
                ok = false;
            }
        }
        ok.then_some(spec)
    }

    fn backoff(&mut self, node: &MarkedYaml<'_>, at: &str, base: Backoff) -> Option<Backoff> {
        let entries = self.mapping(node, at, BACKOFF_KEYS)?;
        let mut b = base;
        let mut ok = true;
        for (key, value) in entries {
            let here = join(at, key);
            match key {
                "initial" => match self.duration(value, &here, false) {
                    Some(d) => b.initial = d,
                    None => ok = false,
                },
                "max" => match self.duration(value, &here, false) {
                    Some(d) => b.max = d,
                    None => ok = false,
                },
                "reset_after" => match self.duration(value, &here, true) {
                    Some(d) => b.reset_after = d,
                    None => ok = false,
                },
                "multiplier" => match yaml::number(value) {
                    Some(m) if (1.0..=1000.0).contains(&m) => b.multiplier = m,
                    _ => {
                        self.wrong(value, &here, "a number from 1 to 1000");
                        ok = false;
                    }
                },
                "jitter" => match yaml::number(value) {
                    Some(j) if (0.0..=1.0).contains(&j) => b.jitter = j,
                    _ => {
                        self.wrong(value, &here, "a fraction from 0 to 1");
                        ok = false;
                    }
                },
                _ => {}
            }
        }
        if ok && b.initial > b.max {
            self.push(
                node,
                at,
                format!(
                    "`initial` ({:?}) is longer than `max` ({:?})",
                    b.initial, b.max
                ),
            );
            ok = false;
        }
        ok.then_some(b)
    }

    fn label(&mut self, node: &MarkedYaml<'_>, at: &str) -> Option<String> {
        match yaml::raw(node) {
            Some(text) if is_valid_label(text) => Some(text.to_owned()),
            Some(text) => {
                self.push(
                    node,
                    at,
                    format!(
                        "`{}` is not a name: letters, digits and `_` only (it becomes a health path label)",
                        yaml::shorten(text)
                    ),
                );
                None
            }
            None => {
                self.wrong(node, at, "a name");
                None
            }
        }
    }

    fn choice(
        &mut self,
        node: &MarkedYaml<'_>,
        at: &str,
        names: &[&'static str],
    ) -> Option<&'static str> {
        let Some(text) = yaml::raw(node) else {
            self.wrong(node, at, &format!("one of {}", names.join(", ")));
            return None;
        };
        if let Some(name) = names.iter().find(|n| **n == text) {
            return Some(name);
        }
        let hint = match yaml::did_you_mean(text, names) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => String::new(),
        };
        self.push(
            node,
            at,
            format!(
                "unknown value `{}`: expected one of {}{hint}",
                yaml::shorten(text),
                names.join(", ")
            ),
        );
        None
    }

    fn strings(&mut self, node: &MarkedYaml<'_>, at: &str) -> Option<Vec<String>> {
        let Some(items) = yaml::items(node) else {
            self.wrong(node, at, "a list of strings");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match yaml::raw(item) {
                Some(text) => out.push(text.to_owned()),
                None => {
                    self.wrong(item, &format!("{at}[{i}]"), "a string");
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A duration with its unit; `positive` refuses zero.
    fn duration(&mut self, node: &MarkedYaml<'_>, at: &str, positive: bool) -> Option<Duration> {
        let Some(text) = yaml::raw(node) else {
            self.wrong(node, at, "a duration such as `500ms` or `2s`");
            return None;
        };
        match parse_duration(text) {
            Ok(d) if positive && d.is_zero() => {
                self.push(node, at, "must be longer than zero");
                None
            }
            Ok(d) => Some(d),
            Err(why) => {
                self.push(node, at, format!("`{}`: {why}", yaml::shorten(text)));
                None
            }
        }
    }

    /// Every id and group name appearing more than once: each later one
    /// is reported with the line of the first.
    fn duplicates(&mut self) {
        let mut first: HashMap<&str, u32> = HashMap::new();
        let mut found = Vec::new();
        for (name, line, key) in &self.names {
            match first.get(name.as_str()) {
                Some(&earlier) => found.push(ConfigProblem {
                    line: *line,
                    key: key.clone(),
                    message: format!(
                        "duplicate name `{name}` (first on line {earlier}): every child id and group name must be unique"
                    ),
                }),
                None => {
                    first.insert(name, *line);
                }
            }
        }
        self.problems.extend(found);
    }
}

/// A duration written with its unit (`500ms`, `2s`, `1.5min`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let q = Quantity::parse(text.trim()).map_err(|e| e.to_string())?;
    if q.dimension() != Dimension::Time {
        return Err("expected a duration with its unit, such as 500ms or 2s".into());
    }
    if q.base() < 0.0 {
        return Err("must not be negative".into());
    }
    Duration::try_from_secs_f64(q.base()).map_err(|e| e.to_string())
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn display(at: &str) -> &str {
    if at.is_empty() {
        "(top)"
    } else {
        at
    }
}

#[cfg(test)]
mod tests;
