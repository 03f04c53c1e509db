use std::time::Duration;

use proptest::prelude::*;

use super::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Strategy {
    OneForOne,
    OneForAll,
}

impl Named for Strategy {
    const WHAT: &'static str = "strategy";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("one_for_one", Strategy::OneForOne),
        ("one_for_all", Strategy::OneForAll),
    ];
}

#[derive(Debug, PartialEq)]
struct Child {
    id: String,
    shutdown: Duration,
}

#[derive(Debug, PartialEq)]
struct Group {
    strategy: Strategy,
    heartbeat: Option<Duration>,
    rate: Option<Hertz>,
    children: Vec<Child>,
    groups: Vec<Group>,
}

/// A supervisor-like file: lists of maps, nested groups, an enum, units.
fn group(node: &Node<'_>) -> Option<Group> {
    let mut map = node.map()?.describe_as("a group");
    let strategy = map.optional("strategy").unwrap_or(Strategy::OneForOne);
    let heartbeat = map.optional_or_deprecated(
        "heartbeat",
        "heartbeat_ms",
        |v| {
            v.number()
                .filter(|ms| *ms > 0.0)
                .map(|ms| Duration::from_secs_f64(ms / 1000.0))
                .ok_or_else(|| ProblemKind::Invalid("a positive number of ms".into()))
        },
        |d| format!("{}ms", d.as_millis()),
    );
    let rate = map.optional("rate");
    let mut children = Vec::new();
    for item in map
        .required_node("children", None)
        .and_then(|n| n.items())
        .unwrap_or_default()
    {
        let Some(mut child) = item.map() else {
            continue;
        };
        let id = child.required("id");
        let shutdown = child.optional("shutdown").unwrap_or(Duration::from_secs(1));
        child.finish();
        if let Some(id) = id {
            children.push(Child { id, shutdown });
        }
    }
    let groups = map
        .value("groups")
        .and_then(|n| n.items())
        .unwrap_or_default()
        .iter()
        .filter_map(group)
        .collect();
    map.finish();
    Some(Group {
        strategy,
        heartbeat,
        rate,
        children,
        groups,
    })
}

fn read(text: &str) -> Result<(Group, Vec<Problem>), Error> {
    let doc = Document::parse(text, "s.yaml");
    let group = doc.root("a supervisor file").and_then(|n| group(&n));
    doc.finish(group)
}

fn messages(text: &str) -> Vec<String> {
    match read(text) {
        Ok((_, warnings)) => warnings.iter().map(ToString::to_string).collect(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn reads_lists_of_maps_nested_groups_enums_and_units() {
    let text = "\
strategy: one_for_all
rate: 2.5kHz
children:
  - { id: a, shutdown: 2s }
  - id: b
groups:
  - strategy: one_for_one
    heartbeat: 20ms
    children: [{ id: c }]
";
    let (g, warnings) = read(text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(g.strategy, Strategy::OneForAll);
    assert_eq!(g.rate, Some(Hertz(2500.0)));
    assert_eq!(g.children[0].shutdown, Duration::from_secs(2));
    assert_eq!(g.children[1].id, "b");
    assert_eq!(g.groups[0].heartbeat, Some(Duration::from_millis(20)));
    assert_eq!(g.groups[0].children[0].id, "c");
}

#[test]
fn every_problem_in_one_shape_with_its_line() {
    let text = "\
strategy: one_for_none
rate: 50
children:
  - { id: a, shutdwn: 2s }
  - { shutdown: soon }
  - [x]
children: []
groups:
  - { children: 3 }
";
    let found = messages(text);
    assert_eq!(
        found,
        [
            "s.yaml:1: strategy: unknown strategy `one_for_none`; did you mean `one_for_one`?; expected one_for_one or one_for_all",
            "s.yaml:2: rate: `rate: 50`: missing unit: a rate needs Hz (e.g. `50Hz`)",
            "s.yaml:4: children[0]: unknown key `shutdwn`; did you mean `shutdown`?; expected id or shutdown",
            "s.yaml:5: children[1]: `children[1]` needs `id`",
            "s.yaml:5: children[1].shutdown: `shutdown: soon`: a duration is a number with a unit: ns, us, µs, ms, s, min or h (e.g. `100ms`)",
            "s.yaml:6: children[2]: `children[2]` must be a mapping, found a sequence",
            "s.yaml:7: file: `children` is given twice (first on line 3)",
            "s.yaml:9: groups[0].children: `children` must be a list, found the number 3",
        ],
        "{found:#?}"
    );
}

#[test]
fn deprecated_keys_read_with_a_warning_and_not_beside_the_new_one() {
    let (g, warnings) = read("heartbeat_ms: 20\nchildren: []\n").unwrap();
    assert_eq!(g.heartbeat, Some(Duration::from_millis(20)));
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].severity(), Severity::Warning);
    assert_eq!(
        warnings[0].to_string(),
        "s.yaml:1: heartbeat_ms: `heartbeat_ms` is deprecated; write `heartbeat: 20ms`"
    );
    let both = messages("heartbeat: 20ms\nheartbeat_ms: 20\nchildren: []\n");
    assert!(both[0].contains("give only `heartbeat`"), "{both:?}");
}

#[test]
fn whole_file_problems() {
    assert_eq!(
        messages(""),
        ["s.yaml:1: file: the file is empty: expected a supervisor file"]
    );
    assert!(
        messages("a: 1\n---\nb: 2\n")[0].starts_with("s.yaml:3: file: a supervisor file holds one")
    );
    assert!(messages("a: [")[0].contains("not valid YAML"));
    assert!(messages("[1]")[0].contains("`the file` must be a mapping, found a sequence"));
    assert!(messages("children: []").is_empty());
}

#[test]
fn aliases_are_shared_not_copied_and_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = format!("*a{}", i - 1);
        text.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            [prev.as_str(); 10].join(", ")
        ));
    }
    let found = messages(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("aliases expand to more than"),
        "{found:?}"
    );
    let (g, _) = read("children: &c [{ id: a }]\ngroups: [{ children: *c }]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(g.groups[0].children, g.children);
}

#[test]
fn durations_and_rates_need_units() {
    assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
    assert_eq!(parse_duration("2 s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("250μs"), Ok(Duration::from_micros(250)));
    assert_eq!(parse_duration("1.5min"), Ok(Duration::from_secs(90)));
    assert!(parse_duration("100").unwrap_err().contains("missing unit"));
    assert!(parse_duration("-1s").unwrap_err().contains("negative"));
    assert!(parse_duration("1e400s").is_err());
    assert!(parse_duration("99999999999999999999999h").is_err());
}

fn child_yaml(id: &str, ms: u32) -> String {
    format!("  - {{ id: {id}, shutdown: {ms}ms }}\n")
}

proptest! {
    #[test]
    fn never_panics_and_every_problem_has_a_line(text in "[a-z_:{}\\[\\]&*!' ,\\n0-9.-]{0,200}") {
        let lines = text.lines().count().max(1) as u32 + 1;
        if let Err(error) = read(&text) {
            prop_assert!(!error.problems.is_empty());
            for p in &error.problems {
                prop_assert!(p.line >= 1 && p.line <= lines, "{p}");
            }
        }
    }

    /// What is written is what is read; the generator writes only valid
    /// files, so every case is accepted.
    #[test]
    fn valid_files_round_trip(children in prop::collection::vec(("[a-z][a-z0-9_]{0,8}", 0u32..100_000), 0..6), all in any::<bool>()) {
        let mut text = format!("strategy: {}\nchildren:\n", if all { "one_for_all" } else { "one_for_one" });
        if children.is_empty() {
            text = text.replace("children:\n", "children: []\n");
        }
        for (id, ms) in &children {
            text.push_str(&child_yaml(id, *ms));
        }
        let (g, warnings) = read(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(warnings.is_empty());
        let got: Vec<(String, Duration)> = g.children.into_iter().map(|c| (c.id, c.shutdown)).collect();
        let want: Vec<(String, Duration)> = children.iter().map(|(id, ms)| (id.clone(), Duration::from_millis(u64::from(*ms)))).collect();
        prop_assert_eq!(got, want);
    }
}
