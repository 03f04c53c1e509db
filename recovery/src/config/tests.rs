use std::time::Duration;

use super::*;

const ISSUE_EXAMPLE: &str = r#"
strategy: one_for_one         # one_for_one | one_for_all | rest_for_one
intensity: 3                  # restarts allowed ...
period: 10s                   # ... within this window, else escalate
backoff: { initial: 100ms, max: 5s }
children:
  - id: imu_a
    command: [vigil, produce, --domain, "7", --topic, imu, --id, imu_a]
    restart: permanent        # permanent | transient | temporary
    produces: [imu_a]
    shutdown: 2s
    watchdog: 500ms           # optional; needs WATCHDOG=1 pings
    ready: notify             # optional; default: started = ready
  - group: drivers            # a nested supervisor with its own strategy
    strategy: rest_for_one
    children:
      - id: can
        command: [can_driver]
      - id: lidar
        command: [lidar_driver, --port, "2"]
        restart: transient
"#;

fn problems(text: &str) -> Vec<String> {
    load_config_str(text)
        .unwrap_err()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn reads_the_issue_example() {
    let spec = load_config_str(ISSUE_EXAMPLE).unwrap();
    assert_eq!(spec.name, DEFAULT_NAME);
    assert_eq!(spec.strategy, Strategy::OneForOne);
    assert_eq!(spec.intensity, 3);
    assert_eq!(spec.period, Duration::from_secs(10));
    assert_eq!(spec.backoff.initial, Duration::from_millis(100));
    assert_eq!(spec.backoff.max, Duration::from_secs(5));
    let MemberSpec::Child(imu) = &spec.members[0] else {
        panic!("{spec:?}")
    };
    assert_eq!(imu.id, "imu_a");
    assert_eq!(imu.command[3], "7");
    assert_eq!(imu.produces, ["imu_a"]);
    assert_eq!(imu.shutdown, Duration::from_secs(2));
    assert_eq!(imu.watchdog, Some(Duration::from_millis(500)));
    assert_eq!(imu.ready, Ready::Notify);
    let MemberSpec::Group(drivers) = &spec.members[1] else {
        panic!("{spec:?}")
    };
    assert_eq!(drivers.name, "drivers");
    assert_eq!(drivers.strategy, Strategy::RestForOne);
    // Inherited from the top.
    assert_eq!(drivers.intensity, 3);
    assert_eq!(drivers.period, Duration::from_secs(10));
    assert_eq!(drivers.backoff.initial, Duration::from_millis(100));
    assert_eq!(spec.children().len(), 3);
}

#[test]
fn the_issue_bad_configs_all_reported_with_lines() {
    let text = "\
strategy: one_for_some
period: 0s
children:
  - id: a
    command: []
  - id: a
    command: [x]
  - id: b
    command: [y]
    restart: sometimes
";
    assert_eq!(
        problems(text),
        [
            "1: strategy: unknown value `one_for_some`: expected one of one_for_one, one_for_all, rest_for_one; did you mean `one_for_one`?",
            "2: period: must be longer than zero",
            "5: children[0].command: empty command: name a program to run",
            "6: children[1].id: duplicate name `a` (first on line 4): every child id and group name must be unique",
            "10: children[2].restart: unknown value `sometimes`: expected one of permanent, transient, temporary",
        ]
    );
}

#[test]
fn typos_get_suggestions() {
    let text = "\
stratgy: one_for_all
children:
  - id: a
    comand: [x]
    restart: permanant
";
    assert_eq!(
        problems(text),
        [
            "1: stratgy: unknown key `stratgy`; did you mean `strategy`?",
            "4: children[0].comand: unknown key `comand`; did you mean `command`?",
            "5: children[0].restart: unknown value `permanant`: expected one of permanent, transient, temporary; did you mean `permanent`?",
            "3: children[0]: missing `command`",
        ]
        .into_iter()
        .collect::<Vec<_>>()
        .tap_sort()
    );
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<&str> {
    /// In line order, as the reader reports them (stable for one line).
    fn tap_sort(mut self) -> Self {
        self.sort_by_key(|p| p.split(':').next().unwrap().parse::<u32>().unwrap());
        self
    }
}

#[test]
fn durations_need_units() {
    let text = "\
period: 10
backoff: { initial: 2s, max: 1s }
children:
  - id: a
    command: [x]
    shutdown: -1s
    watchdog: 5Hz
";
    let found = problems(text);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].starts_with("1: period: `10`"), "{found:#?}");
    assert!(found[1].contains("`initial` (2s) is longer than `max` (1s)"));
    assert!(found[2].starts_with("6: children[0].shutdown"));
    assert!(found[3].starts_with("7: children[0].watchdog"));
}

#[test]
fn duplicate_group_and_child_names() {
    let text = "\
children:
  - id: a
    command: [x]
  - group: a
    children:
      - id: b
        command: [y]
      - id: b
        command: [y]
";
    let found = problems(text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("4: children[1].group: duplicate name `a` (first on line 2)"));
    assert!(
        found[1].starts_with("8: children[1].children[1].id: duplicate name `b` (first on line 6)")
    );
}

#[test]
fn structure_problems() {
    assert_eq!(
        problems(""),
        ["1: (file): empty: expected a mapping with `children`"]
    );
    assert_eq!(
        problems("children: []\n"),
        ["1: children: a group needs at least one child"]
    );
    assert_eq!(problems("name: x\n"), ["1: (top): missing `children`"]);
    assert_eq!(
        problems("children:\n  - command: [x]\n"),
        ["2: children[0]: missing `id`"]
    );
    assert_eq!(
        problems("children:\n  - id: a.b\n    command: [x]\n"),
        ["2: children[0].id: `a.b` is not a name: letters, digits and `_` only (it becomes a health path label)"]
    );
    assert!(problems("children: [\n").len() == 1);
    assert_eq!(
        problems("intensity: -1\nchildren:\n  - id: a\n    command: [x]\n"),
        ["1: intensity: expected a whole number of restarts (0 or more), found the number -1"]
    );
}

#[test]
fn render_names_the_file() {
    let err = load_config_str("children: []\n").unwrap_err();
    assert_eq!(
        err.render("sup.yaml"),
        "sup.yaml:1: children: a group needs at least one child"
    );
}

proptest::proptest! {
    /// What the fuzz target checks, on a smaller scale: any text reads or
    /// fails with lines, never panics.
    #[test]
    fn any_text_reads_or_fails_with_lines(text in "(strategy|children|id|command|group|- |: |\\[|\\]|\\{|\\}|\n|  |[a-z0-9_]{1,6}|[0-9]{1,3}(ms|s)?)*") {
        match load_config_str(&text) {
            Ok(spec) => proptest::prop_assert!(!spec.children().is_empty()),
            Err(e) => {
                proptest::prop_assert!(!e.problems.is_empty());
                proptest::prop_assert!(e.problems.iter().all(|p| p.line >= 1));
            }
        }
    }
}
