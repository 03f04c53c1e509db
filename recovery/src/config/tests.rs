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
    load_config(text, "sup.yaml")
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
            "sup.yaml:1: strategy: unknown value `one_for_some`; did you mean `one_for_one`?; expected one_for_one, one_for_all or rest_for_one",
            "sup.yaml:2: period: must be longer than zero",
            "sup.yaml:5: children[0].command: empty command: name a program to run",
            "sup.yaml:6: children[1].id: duplicate name `a` (first on line 4): every child id and group name must be unique",
            "sup.yaml:10: children[2].restart: unknown value `sometimes`; expected permanent, transient or temporary",
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
            "sup.yaml:1: file: unknown key `stratgy`; did you mean `strategy`?; expected name, strategy, intensity, period, backoff or children",
            "sup.yaml:3: children[0]: a child needs `command`, e.g. `command: [imu_driver, --port, \"2\"]`",
            "sup.yaml:4: children[0]: unknown key `comand`; did you mean `command`?; expected id, command, restart, produces, shutdown, watchdog, ready or ready_timeout",
            "sup.yaml:5: children[0].restart: unknown value `permanant`; did you mean `permanent`?; expected permanent, transient or temporary",
        ]
    );
}

#[test]
fn duplicate_keys_and_wrong_types() {
    let text = "\
children:
  - id: a
    command: [x]
    id: b
    produces: imu_a
    backoff: { jitter: 2 }
group: top
";
    assert_eq!(
        problems(text),
        [
            "sup.yaml:4: children[0]: `id` is given twice (first on line 2)",
            "sup.yaml:5: children[0].produces: `produces` must be a list, found `imu_a`",
            "sup.yaml:6: children[0]: unknown key `backoff`; expected id, command, restart, produces, shutdown, watchdog, ready or ready_timeout",
            "sup.yaml:7: group: the top level is named by `name:`",
        ]
    );
}

#[test]
fn command_arguments_are_kept_as_written() {
    let spec = load_config_str("children:\n  - id: a\n    command: [echo, \"\", \" x \"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(spec.children()[0].command, ["echo", "", " x "]);
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
    assert_eq!(
        found,
        [
            "sup.yaml:1: period: `period: 10`: missing unit: a duration needs one of ns, us, µs, ms, s, min or h (e.g. `100ms`)",
            "sup.yaml:2: backoff: `initial` (2s) is longer than `max` (1s)",
            "sup.yaml:6: children[0].shutdown: `shutdown: -1s`: durations cannot be negative",
            "sup.yaml:7: children[0].watchdog: `watchdog: 5Hz`: unknown unit: expected ns, us, µs, ms, s, min or h",
        ]
    );
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
    assert!(
        found[0].starts_with("sup.yaml:4: children[1].group: duplicate name `a` (first on line 2)"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with(
            "sup.yaml:8: children[1].children[1].id: duplicate name `b` (first on line 6)"
        ),
        "{found:#?}"
    );
}

#[test]
fn structure_problems() {
    assert_eq!(
        problems(""),
        ["sup.yaml:1: file: the file is empty: expected a supervisor config with `children`"]
    );
    assert_eq!(
        problems("children: []\n"),
        ["sup.yaml:1: children: a group needs at least one child"]
    );
    assert_eq!(
        problems("name: x\n"),
        ["sup.yaml:1: file: a supervisor config needs `children`, e.g. `children: [{ id: imu_a, command: [imu_driver] }]`"]
    );
    assert_eq!(
        problems("children:\n  - command: [x]\n"),
        ["sup.yaml:2: children[0]: a child needs `id`, e.g. `id: imu_a`"]
    );
    assert_eq!(
        problems("children:\n  - id: a.b\n    command: [x]\n"),
        ["sup.yaml:2: children[0].id: `a.b` is not a name: letters, digits and `_` only (it becomes a health path label)"]
    );
    assert!(problems("children: [\n").len() == 1);
    assert_eq!(
        problems("intensity: -1\nchildren:\n  - id: a\n    command: [x]\n"),
        ["sup.yaml:1: intensity: `intensity` must be a whole number, found the number -1"]
    );
}

#[test]
fn problems_name_the_file() {
    let err = load_config("children: []\n", "sup.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "sup.yaml:1: children: a group needs at least one child"
    );
    let err = load_config_str("children: []\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "<config>:1: children: a group needs at least one child"
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
