use vigil_diag::{load_tree_str, Observation, Trend};

use super::*;

fn tree() -> Tree {
    let text = "nodes:\n  robot.imu: { check: status }\n  robot.gps: { check: status }\n";
    Tree::build(&load_tree_str(text, "t.yaml").unwrap()).unwrap()
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_nanos(secs * 1_000_000_000)
}

fn report(tree: &mut Tree, path: &str, state: State, secs: u64) -> Vec<Transition> {
    let observation = Observation::Status {
        state,
        reason: None,
    };
    tree.observe(&Path::parse(path).unwrap(), observation, at(secs))
        .unwrap()
}

#[test]
fn every_node_is_a_status_named_like_the_aggregator() {
    let mut tree = tree();
    report(&mut tree, "robot.imu", State::Ok, 1);
    report(&mut tree, "robot.gps", State::Degraded, 2);
    let array = aggregated_array(&tree, Time { sec: 2, nanosec: 5 });
    assert_eq!(array.header.stamp, Time { sec: 2, nanosec: 5 });
    let names: Vec<(&str, u8)> = array
        .status
        .iter()
        .map(|s| (s.name.as_str(), s.level))
        .collect();
    assert_eq!(names, [("/robot", 1), ("/robot/gps", 1), ("/robot/imu", 0)]);
    let gps = &array.status[1];
    assert!(gps.message.starts_with("DEGRADED"), "{}", gps.message);
    let value = |k: &str| {
        gps.values
            .iter()
            .find(|v| v.key == k)
            .map(|v| v.value.as_str())
    };
    assert_eq!(value("confidence"), Some("1.00"));
    assert_eq!(value("trend"), Some(Trend::Stable.as_str()));
    assert_eq!(value("since"), Some("2.000"));
    assert_eq!(value("reason"), None);
}

#[test]
fn unknown_is_stale_and_toplevel_takes_the_worst_root() {
    let mut tree = tree();
    let top = toplevel_state(&tree);
    assert_eq!((top.name.as_str(), top.level), ("toplevel_state", 3));
    report(&mut tree, "robot.imu", State::Ok, 1);
    // gps still UNKNOWN(no_data): the robot is UNKNOWN, never OK.
    let top = toplevel_state(&tree);
    assert_eq!(top.level, 3);
    assert!(top
        .values
        .iter()
        .any(|v| v.key == "reason" && v.value == "no_data"));
    report(&mut tree, "robot.gps", State::Failed, 2);
    assert_eq!(toplevel_state(&tree).level, 2);
}

#[test]
fn degradations_publish_at_once_improvements_wait_for_the_period() {
    let mut tree = tree();
    let mut policy = PublishPolicy::new(2.0).unwrap();
    assert!(policy.due(&[], at(0)), "the first call publishes");
    assert!(!policy.due(&[], at(0)));
    report(&mut tree, "robot.imu", State::Ok, 0);
    let worse = report(&mut tree, "robot.imu", State::Failed, 0);
    assert!(worse.iter().any(|t| t.new > t.old));
    assert!(policy.due(&worse, at(0)), "a degradation publishes at once");
    let better = report(&mut tree, "robot.imu", State::Ok, 0);
    assert!(!better.is_empty());
    assert!(!policy.due(&better, at(0)), "an improvement waits");
    assert_eq!(policy.next_due(), Some(Timestamp::from_nanos(500_000_000)));
    assert!(policy.due(&[], Timestamp::from_nanos(500_000_000)));
    assert!(PublishPolicy::new(0.0).is_none());
    assert!(PublishPolicy::new(f64::NAN).is_none());
    let mut default = PublishPolicy::default();
    assert!(default.due(&[], at(10)));
    assert!(!default.due(&[], Timestamp::from_nanos(10_999_999_999)));
    assert!(default.due(&[], at(11)));
}
