use proptest::prelude::*;

use super::*;

#[test]
fn topics_map_both_ways() {
    let table = [
        ("/imu/data", "rt/imu/data"),
        ("/diagnostics", "rt/diagnostics"),
        ("/_hidden/x1", "rt/_hidden/x1"),
        ("/a/b_c/D9", "rt/a/b_c/D9"),
    ];
    for (ros, dds) in table {
        assert_eq!(topic_to_dds(ros).as_deref(), Ok(dds), "{ros}");
        assert_eq!(topic_from_dds(dds).as_deref(), Ok(ros), "{dds}");
    }
}

#[test]
fn services_map_both_ways() {
    let (rq, rr) = service_to_dds("/add_two_ints").unwrap();
    assert_eq!(rq, "rq/add_two_intsRequest");
    assert_eq!(rr, "rr/add_two_intsReply");
    assert_eq!(
        service_from_dds("rq/add_two_intsRequest"),
        Ok(("/add_two_ints".to_owned(), ServiceRole::Request))
    );
    assert_eq!(
        service_from_dds("rr/ns/add_two_intsReply"),
        Ok(("/ns/add_two_ints".to_owned(), ServiceRole::Reply))
    );
    assert!(service_from_dds("rq/add_two_ints").is_err());
    assert!(service_from_dds("rt/add_two_intsRequest").is_err());
}

#[test]
fn types_map_both_ways() {
    let table = [
        ("sensor_msgs/msg/Imu", "sensor_msgs::msg::dds_::Imu_"),
        (
            "diagnostic_msgs/msg/DiagnosticArray",
            "diagnostic_msgs::msg::dds_::DiagnosticArray_",
        ),
        (
            "example_interfaces/srv/AddTwoInts_Request",
            "example_interfaces::srv::dds_::AddTwoInts_Request_",
        ),
    ];
    for (ros, dds) in table {
        assert_eq!(type_to_dds(ros).as_deref(), Ok(dds), "{ros}");
        assert_eq!(type_from_dds(dds).as_deref(), Ok(ros), "{dds}");
    }
    assert_eq!(
        type_to_dds("std_msgs/String").as_deref(),
        Ok("std_msgs::msg::dds_::String_")
    );
    assert_eq!(
        service_type_to_dds("example_interfaces/srv/AddTwoInts"),
        Ok((
            "example_interfaces::srv::dds_::AddTwoInts_Request_".to_owned(),
            "example_interfaces::srv::dds_::AddTwoInts_Response_".to_owned()
        ))
    );
    for bad in [
        "",
        "Sensor_msgs/msg/Imu",
        "sensor_msgs/foo/Imu",
        "sensor_msgs/msg/",
        "sensor_msgs/msg/1mu",
        "a/b/c/d",
    ] {
        assert!(type_to_dds(bad).is_err(), "{bad}");
    }
    assert!(type_from_dds("sensor_msgs::msg::Imu_").is_err());
    assert!(type_from_dds("sensor_msgs::msg::dds_::Imu").is_err());
    assert!(service_type_to_dds("sensor_msgs/msg/Imu").is_err());
}

#[test]
fn invalid_names_say_what_and_where() {
    use NameErrorKind::*;
    let table: &[(&str, usize, NameErrorKind)] = &[
        ("", 0, Empty),
        ("/imu/da ta", 7, BadChar(' ')),
        ("/imu-data", 4, BadChar('-')),
        ("/imu/9data", 5, TokenStartsWithDigit('9')),
        ("9imu", 0, TokenStartsWithDigit('9')),
        ("/imu//data", 5, RepeatedSlash),
        ("/imu__data", 5, RepeatedUnderscore),
        ("/imu/", 4, TrailingSlash),
        ("~imu", 0, MisplacedTilde),
        ("/a~", 2, MisplacedTilde),
        ("{node/x", 5, UnbalancedBrace),
        ("x}", 1, UnbalancedBrace),
        ("/{robot}/x", 1, UnknownSubstitution("robot".into())),
    ];
    for (name, position, kind) in table {
        let err = validate_name(name).unwrap_err();
        assert_eq!(
            (err.position, &err.kind),
            (*position, kind),
            "{name}: {err}"
        );
    }
    let err = topic_to_dds("imu").unwrap_err();
    assert_eq!(err.kind, NotFullyQualified);
    let long = format!("/{}", "a".repeat(MAX_NAME_LEN));
    assert!(matches!(
        topic_to_dds(&long).unwrap_err().kind,
        TooLong { .. }
    ));
    let err = topic_from_dds("rt/imu//data").unwrap_err();
    assert_eq!((err.position, &err.kind), (7, &RepeatedSlash));
    assert_eq!(
        err.to_string(),
        "invalid ROS 2 name `rt/imu//data` at character 7: `/` must not be repeated"
    );
}

#[test]
fn relative_private_and_substituted_names_resolve() {
    let table = [
        ("imu", "/", "driver", "/imu"),
        ("imu", "/robot", "driver", "/robot/imu"),
        ("~/imu", "/robot", "driver", "/robot/driver/imu"),
        ("~", "/robot", "driver", "/robot/driver"),
        ("/abs", "/robot", "driver", "/abs"),
        ("{node}/out", "/r", "cam", "/r/cam/out"),
        ("{ns}/x", "/r", "cam", "/r/x"),
        ("{namespace}/x", "/", "cam", "/x"),
    ];
    for (name, ns, node, want) in table {
        assert_eq!(resolve_name(name, ns, node).as_deref(), Ok(want), "{name}");
    }
    assert!(resolve_name("imu", "robot", "driver").is_err());
    assert!(resolve_name("imu", "/r", "a/b").is_err());
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9]{0,6}(_[A-Za-z0-9]{1,4}){0,2}"
        .prop_filter("no __", |t: &String| !t.contains("__"))
}

proptest! {
    #[test]
    fn topic_names_round_trip(tokens in prop::collection::vec(token(), 1..5)) {
        let ros = format!("/{}", tokens.join("/"));
        let dds = topic_to_dds(&ros).unwrap();
        prop_assert_eq!(topic_from_dds(&dds).unwrap(), ros.clone());
        let (rq, rr) = service_to_dds(&ros).unwrap();
        prop_assert_eq!(service_from_dds(&rq).unwrap(), (ros.clone(), ServiceRole::Request));
        prop_assert_eq!(service_from_dds(&rr).unwrap(), (ros, ServiceRole::Reply));
    }

    #[test]
    fn type_names_round_trip(
        package in "[a-z][a-z0-9_]{0,12}",
        kind in prop::sample::select(vec!["msg", "srv", "action"]),
        name in "[A-Z][A-Za-z0-9]{0,12}",
    ) {
        let ros = format!("{package}/{kind}/{name}");
        let dds = type_to_dds(&ros).unwrap();
        prop_assert_eq!(type_from_dds(&dds).unwrap(), ros);
    }

    #[test]
    fn validation_never_panics_and_errors_point_inside(name in "\\PC{0,20}") {
        if let Err(e) = validate_name(&name) {
            prop_assert!(e.position <= name.chars().count());
        }
        let _ = topic_from_dds(&name);
        let _ = service_from_dds(&name);
        let _ = type_from_dds(&name);
    }
}
