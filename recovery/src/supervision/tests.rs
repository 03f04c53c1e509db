use vigil_diag::{State, Timestamp, Tree};

use super::*;
use crate::load_config_str;

fn ms(n: u64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

/// Runs every timer due up to `until` and returns the actions.
fn run_timers(sup: &mut Supervisor, until: Timestamp) -> Vec<Action> {
    let mut out = Vec::new();
    while let Some(at) = sup.next_deadline().filter(|d| *d <= until) {
        out.extend(sup.on_timer(at));
    }
    out
}

fn node() -> Supervisor {
    let spec = load_config_str(
        "name: node1
strategy: one_for_one
intensity: 5
period: 10s
backoff: { initial: 100ms, max: 100ms }
children:
  - id: steady
    command: [sleep, '60']
  - group: drivers
    intensity: 1
    period: 10s
    backoff: { initial: 100ms, max: 100ms }
    children:
      - id: imu_a
        command: [sleep, '60']
",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Supervisor::new(spec)
}

fn leaf(health: &SupervisionHealth, sup: &Supervisor, name: &str, at: Timestamp) -> ChildHealth {
    let id = sup.child_id(name).unwrap();
    health.child(sup, id, at)
}

/// Feeds the actions to the health, as the shell does.
fn seen(health: &mut SupervisionHealth, sup: &Supervisor, actions: &[Action]) {
    for action in actions {
        health.on_action(sup, action);
    }
}

#[test]
fn paths_follow_the_groups() {
    let sup = node();
    let health = SupervisionHealth::new(&sup).unwrap();
    let paths: Vec<String> = health
        .children(&sup, ms(0))
        .iter()
        .map(|c| c.path.to_string())
        .collect();
    assert_eq!(paths, ["node1.steady", "node1.drivers.imu_a"]);
    // The spec builds into a tree with the groups as inner nodes.
    let tree = Tree::build(&health.tree_spec()).unwrap();
    assert!(tree.health(&"node1.drivers".parse().unwrap()).is_some());
}

#[test]
fn unknown_before_start_ok_while_running() {
    let mut sup = node();
    let mut health = SupervisionHealth::new(&sup).unwrap();
    assert_eq!(leaf(&health, &sup, "imu_a", ms(0)).state, State::Unknown);
    let actions = sup.start(ms(0));
    seen(&mut health, &sup, &actions);
    let imu = leaf(&health, &sup, "imu_a", ms(1));
    assert_eq!(
        (imu.state, imu.why.as_str()),
        (State::Ok, "child imu_a running")
    );
}

#[test]
fn a_crash_is_degraded_while_restarting_and_intermittent_until_the_window_passes() {
    let mut sup = node();
    let mut health = SupervisionHealth::new(&sup).unwrap();
    let actions = sup.start(ms(0));
    seen(&mut health, &sup, &actions);
    let imu = sup.child_id("imu_a").unwrap();
    health.on_exit(imu, &Exit::Signal(9), ms(1000));
    let actions = sup.on_exit(imu, Exit::Signal(9), ms(1000));
    seen(&mut health, &sup, &actions);
    let down = leaf(&health, &sup, "imu_a", ms(1001));
    assert_eq!(down.state, State::Degraded);
    assert_eq!(
        down.why,
        "child imu_a exited with signal 9, restarting, 1 restart in 10s"
    );
    let actions = run_timers(&mut sup, ms(1200));
    assert!(actions.contains(&Action::Start(imu)));
    seen(&mut health, &sup, &actions);
    let back = leaf(&health, &sup, "imu_a", ms(1300));
    assert_eq!(back.state, State::Degraded);
    assert!(back
        .why
        .starts_with("intermittent: child imu_a exited with signal 9"));
    // Ten seconds after the crash the restart left the window.
    let later = leaf(&health, &sup, "imu_a", ms(11_001));
    assert_eq!(later.state, State::Ok);
    // The other child never noticed.
    assert_eq!(leaf(&health, &sup, "steady", ms(1300)).state, State::Ok);
}

#[test]
fn a_group_that_gave_up_is_failed_until_its_parent_restarts_it() {
    let mut sup = node();
    let mut health = SupervisionHealth::new(&sup).unwrap();
    let actions = sup.start(ms(0));
    seen(&mut health, &sup, &actions);
    let imu = sup.child_id("imu_a").unwrap();
    // Intensity 1: the second crash within 10 s makes `drivers` give up.
    let mut escalated = false;
    let mut restarted = false;
    for at in [1000, 2000] {
        health.on_exit(imu, &Exit::Code(1), ms(at));
        let actions = sup.on_exit(imu, Exit::Code(1), ms(at));
        if actions.iter().any(|a| matches!(a, Action::Escalated(_))) {
            escalated = true;
            seen(&mut health, &sup, &actions);
            // Seen between the escalation and the parent's restart.
            let failed = leaf(&health, &sup, "imu_a", ms(at));
            assert_eq!(failed.state, State::Failed);
            assert_eq!(
                failed.why,
                "group drivers gave up after more than 1 restarts in 10s: child imu_a exited with code 1"
            );
            let actions = run_timers(&mut sup, ms(at + 500));
            restarted = actions.contains(&Action::Start(imu));
            seen(&mut health, &sup, &actions);
        } else {
            seen(&mut health, &sup, &actions);
            let actions = run_timers(&mut sup, ms(at + 500));
            seen(&mut health, &sup, &actions);
        }
    }
    assert!(escalated && restarted);
    // The top level restarted the group: up again, intermittent.
    let again = leaf(&health, &sup, "imu_a", ms(2600));
    assert_eq!(again.state, State::Degraded, "{}", again.why);
}
