//! Advert validation: one row per bad field, and the round trip.

mod core_support;

use core_support::{advert, path, set_state};
use vigil_diag::{State, Trend, UnknownReason};
use vigil_discovery::{
    Advert, AdvertError, AdvertWire, Heartbeat, ProblemKind, MAX_NODES, NOT_SET,
};
use vigil_qos::{Durability, Liveliness, LivelinessKind, Period, Reliability};

fn good() -> AdvertWire {
    let mut a = advert(
        "imu_a",
        "imu",
        &[("rate", "200Hz"), ("latency_p99", "0.4ms")],
    );
    a.diagnostic_root = Some(path("vehicle.sensors.imu"));
    a.health
        .nodes
        .insert(path("vehicle.sensors.imu"), State::Ok);
    a.to_wire()
}

/// `(what is broken, how, the field it must be reported under)`.
type Row = (&'static str, fn(&mut AdvertWire), &'static str);

const TABLE: &[Row] = &[
    ("empty producer", |w| w.key.producer.clear(), "key.producer"),
    ("empty topic", |w| w.key.topic.clear(), "key.topic"),
    (
        "supervisor not a GUID prefix",
        |w| w.supervisor = vec![1; 5],
        "supervisor",
    ),
    (
        "huge producer",
        |w| w.key.producer = "p".repeat(10_000),
        "key.producer",
    ),
    (
        "control character",
        |w| w.key.producer = "a\u{1b}[2J".into(),
        "key.producer",
    ),
    ("short guid", |w| w.writer_guid = vec![0; 12], "writer_guid"),
    ("long guid", |w| w.writer_guid = vec![0; 17], "writer_guid"),
    (
        "capability bytes",
        |w| w.capabilities = vec![0, 1, 0, 0, 9, 9, 9],
        "capabilities",
    ),
    (
        "truncated capabilities",
        |w| w.capabilities.truncate(5),
        "capabilities",
    ),
    (
        "reliability code",
        |w| w.qos.reliability = 7,
        "qos.reliability",
    ),
    (
        "durability code",
        |w| w.qos.durability = 4,
        "qos.durability",
    ),
    (
        "liveliness code",
        |w| w.qos.liveliness = 3,
        "qos.liveliness",
    ),
    ("ownership code", |w| w.qos.ownership = 2, "qos.ownership"),
    (
        "destination order code",
        |w| w.qos.destination_order = 2,
        "qos.destination_order",
    ),
    (
        "bad root path",
        |w| w.diagnostic_root = "vehicle..imu".into(),
        "diagnostic_root",
    ),
    ("state code", |w| w.health.state = 4, "health.state"),
    (
        "reason without unknown",
        |w| w.health.reason = 1,
        "health.reason",
    ),
    (
        "unknown without reason",
        |w| {
            w.health.state = 3;
            w.health.reason = NOT_SET;
        },
        "health.reason",
    ),
    (
        "confidence NaN",
        |w| w.health.confidence = f32::NAN,
        "health.confidence",
    ),
    (
        "confidence above 1",
        |w| w.health.confidence = 1.5,
        "health.confidence",
    ),
    (
        "confidence negative",
        |w| w.health.confidence = -0.1,
        "health.confidence",
    ),
    ("trend code", |w| w.health.trend = 4, "health.trend"),
    (
        "node path",
        |w| w.health.nodes[0].path = "bad path".into(),
        "health.nodes[0].path",
    ),
    (
        "node state",
        |w| w.health.nodes[0].state = 200,
        "health.nodes[0].state",
    ),
    (
        "duplicate node",
        |w| {
            let n = w.health.nodes[0].clone();
            w.health.nodes.push(n);
        },
        "health.nodes[1].path",
    ),
    (
        "too many nodes",
        |w| {
            let n = w.health.nodes[0].clone();
            w.health.nodes = vec![n; MAX_NODES + 1];
        },
        "health.nodes",
    ),
    (
        "zero heartbeat period",
        |w| w.heartbeat_period_ns = 0,
        "heartbeat_period_ns",
    ),
    ("zero lease", |w| w.lease_ns = 0, "lease_ns"),
    (
        "lease below period",
        |w| w.lease_ns = w.heartbeat_period_ns - 1,
        "lease_ns",
    ),
];

#[test]
fn each_bad_field_is_named() {
    for (what, break_it, field) in TABLE {
        let mut wire = good();
        break_it(&mut wire);
        let err = Advert::from_wire(&wire).expect_err(what);
        let fields: Vec<&str> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, [*field], "{what}: {err}");
        assert!(err.to_string().contains(field), "{what}: {err}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut wire = good();
    wire.writer_guid.clear();
    wire.health.confidence = 2.0;
    wire.lease_ns = 0;
    let err = Advert::from_wire(&wire).expect_err("three problems");
    assert_eq!(err.problems().len(), 3, "{err}");
    assert!(matches!(err.problems()[0].kind, ProblemKind::GuidLength(0)));
}

#[test]
fn an_unknown_version_is_not_read_further() {
    let mut wire = good();
    wire.version = 2;
    wire.writer_guid.clear();
    let err = Advert::from_wire(&wire).expect_err("version");
    assert!(
        matches!(
            err,
            AdvertError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "advert imu_a/imu: unsupported wire version 2 (this build reads version 1)"
    );
}

#[test]
fn round_trip() {
    let mut a = Advert::from_wire(&good()).expect("good advert");
    a.qos.reliability = Some(Reliability::BestEffort);
    a.qos.durability = Some(Durability::TransientLocal);
    a.qos.deadline = Some(Period::Finite(std::time::Duration::from_millis(10)));
    a.qos.liveliness = Some(Liveliness {
        kind: LivelinessKind::ManualByTopic,
        lease: Period::Infinite,
    });
    a.health.trend = Trend::Intermittent;
    set_state(&mut a, State::Unknown);
    a.health.reason = Some(UnknownReason::Conflicting);
    a.health.confidence = 0.5;
    a.supervisor = Some([3; 12]);
    let back = Advert::from_wire(&a.to_wire()).expect("round trip");
    assert_eq!(back, a);
    assert_eq!(a.key.to_string(), "imu_a/imu");
}

#[test]
fn heartbeat_validation() {
    let hb = Heartbeat {
        producer: "imu_a".into(),
        topic: String::new(),
        sequence: 3,
        state: State::Degraded,
        advert_sequence: 2,
        timestamp_ns: 5,
    };
    assert_eq!(Heartbeat::from_wire(&hb.to_wire()), Ok(hb.clone()));
    let mut bad = hb.to_wire();
    bad.producer.clear();
    bad.state = 17;
    let err = Heartbeat::from_wire(&bad).expect_err("bad heartbeat");
    let fields: Vec<&str> = err.problems().iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["producer", "state"]);
}
