//! vigil's ROS 2 wire types against Eclipse Cyclone DDS playing unmodified
//! ROS 2 nodes (`tests/peers/`), both ways, over loopback.
//!
//! - Cyclone → rustdds: `cyclone_ros_node.py` publishes `/diagnostics` and
//!   `/imu/data`; a typed rustdds reader of [`DiagnosticArray`] decodes the
//!   arrays (and vigil's own bounds-checked [`decode`] agrees), a raw reader
//!   gets the IMU samples byte for byte. Also checks the node's JSON
//!   contract (writer GUIDs, `level`, `pause-imu`) that `vigil agent`'s tests
//!   rely on.
//! - rustdds → Cyclone: a rustdds writer publishes `/diagnostics_agg`;
//!   `cyclone_reader.py` prints every field.
//!
//! Domains 50 and 51, one per test.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use rustdds::no_key::{DataReader, DataSample, DefaultDecoder};
use rustdds::policy::{Durability, History, Reliability};
use rustdds::{QosPolicies, QosPolicyBuilder, RepresentationIdentifier, Topic, TopicKind};
use serde_json::{json, Value};
use support::{unix_now, Proc, CYCLONE_LOOPBACK, PATIENCE};
use vigil_bridges::ros2::{
    decode, level, DiagnosticArray, DiagnosticStatus, Header, KeyValue, Time,
    DIAGNOSTICS_AGG_TOPIC, DIAGNOSTICS_TOPIC, DIAGNOSTIC_ARRAY_TYPE,
};
use vigil_bridges::{RawReader, RawSample};
use vigil_discovery::{DdsConfig, VigilParticipant};

const IMU_TOPIC: &str = "rt/imu/data";
const IMU_TYPE: &str = "sensor_msgs::msg::dds_::Imu_";
const NODE: &str = "cyc_imu";

/// What `cyclone_ros_node.py` puts in its IMU samples besides the header,
/// so the body can be checked at known offsets.
const IMU_ORIENTATION_W: f64 = 1.0;
const IMU_LINEAR_ACCELERATION_Z: f64 = 9.81;

fn participant(domain: u16) -> VigilParticipant {
    VigilParticipant::new(DdsConfig::new(domain)).expect("rustdds participant on loopback")
}

/// rclcpp's default QoS (reliable, volatile), with `depth` as history.
fn ros_qos(depth: i32) -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(Reliability::Reliable {
            max_blocking_time: rustdds::Duration::from_millis(100),
        })
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth })
        .build()
}

/// ROS 2 topics are keyless.
fn ros_topic(p: &VigilParticipant, name: &str, type_name: &str) -> Topic {
    p.dds()
        .create_topic(
            name.to_owned(),
            type_name.to_owned(),
            &ros_qos(10),
            TopicKind::NoKey,
        )
        .unwrap_or_else(|e| panic!("topic {name}: {e:?}"))
}

fn cyclone_node(domain: u16, extra: &[&str]) -> Proc {
    let domain = domain.to_string();
    let mut args = vec!["--domain", &domain, "--node", NODE];
    args.extend_from_slice(extra);
    Proc::python_peer(
        "cyclone node",
        "cyclone_ros_node.py",
        &args,
        &[("CYCLONEDDS_URI", CYCLONE_LOOPBACK)],
    )
}

/// The next sample accepted by `pred`, taking (and dropping) the others.
/// rustdds readers here have no blocking take, so this polls; a sample that
/// does not deserialize fails the test, since it means the types disagree.
fn take_until<D: 'static, DA: DefaultDecoder<D>>(
    reader: &mut DataReader<D, DA>,
    what: &str,
    mut pred: impl FnMut(&DataSample<D>) -> bool,
) -> DataSample<D> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match reader.take_next_sample() {
            Ok(Some(sample)) if pred(&sample) => return sample,
            Ok(Some(_)) => {}
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => panic!("no {what} within {PATIENCE:?}"),
            Err(e) => panic!("{what}: rustdds could not read a sample: {e:?}"),
        }
    }
}

/// Everything that arrives within `window`.
fn drain<D: 'static, DA: DefaultDecoder<D>>(
    reader: &mut DataReader<D, DA>,
    window: Duration,
) -> Vec<DataSample<D>> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        match reader.take_next_sample() {
            Ok(Some(sample)) => out.push(sample),
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("rustdds could not read a sample: {e:?}"),
        }
    }
    out
}

fn guid_hex<D>(sample: &DataSample<D>) -> String {
    let bytes = sample.sample_info().publication_handle().to_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encoding_name(id: RepresentationIdentifier) -> String {
    match id {
        RepresentationIdentifier::CDR_LE => "CDR_LE (XCDR1, 00 01)".to_owned(),
        RepresentationIdentifier::CDR2_LE => "CDR2_LE (00 11)".to_owned(),
        RepresentationIdentifier::XCDR2_LE => "XCDR2_LE (00 07)".to_owned(),
        other => format!("{:02x?}", other.to_bytes()),
    }
}

/// The status the node publishes, whatever its level.
fn is_node_status(array: &DiagnosticArray) -> bool {
    array
        .status
        .first()
        .is_some_and(|s| s.name == format!("{NODE}: IMU driver"))
}

/// The node's status in an array, checked field by field against what
/// `cyclone_ros_node.py` documents; returns its `published` count.
fn check_node_status(array: &DiagnosticArray, level: u8, message: &str) -> u64 {
    assert_eq!(array.status.len(), 1, "one status per array: {array:?}");
    let status = &array.status[0];
    assert_eq!(status.level, level, "{status:?}");
    assert_eq!(status.message, message, "{status:?}");
    assert_eq!(status.hardware_id, NODE, "{status:?}");
    assert_eq!(status.values.len(), 1, "{status:?}");
    assert_eq!(status.values[0].key, "published", "{status:?}");
    // The stamp is the node's clock: same machine, so close to ours.
    let stamp = f64::from(array.header.stamp.sec) + f64::from(array.header.stamp.nanosec) / 1e9;
    assert!(
        (stamp - unix_now()).abs() < 60.0,
        "header stamp {stamp} is not now: {array:?}"
    );
    assert!(array.header.stamp.nanosec < 1_000_000_000, "{array:?}");
    status.values[0]
        .value
        .parse()
        .unwrap_or_else(|e| panic!("published count {:?}: {e}", status.values[0].value))
}

/// An IMU sample's body, read at the offsets of `sensor_msgs/msg/Imu` in
/// plain CDR (`max_align` 8, XCDR1) or XCDR2 (`max_align` 4). Returns the
/// frame id, after checking the length and the fields the node sets.
fn check_imu_body(body: &[u8], max_align: usize) -> String {
    let u32_at = |at: usize| -> usize {
        let b: [u8; 4] = body
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_else(|| panic!("IMU body of {} bytes ends before {at}", body.len()));
        u32::from_le_bytes(b) as usize
    };
    let f64_at = |at: usize| -> f64 {
        let b: [u8; 8] = body
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_else(|| panic!("IMU body of {} bytes ends before {at}", body.len()));
        f64::from_le_bytes(b)
    };
    // header.stamp (sec, nanosec), then header.frame_id: length with NUL.
    let nanosec = u32_at(4);
    assert!(nanosec < 1_000_000_000, "stamp nanosec {nanosec}");
    let len = u32_at(8);
    let text = body
        .get(12..12 + len)
        .unwrap_or_else(|| panic!("frame_id of {len} bytes overruns the body"));
    let (nul, frame) = text.split_last().expect("frame_id has its NUL");
    assert_eq!(*nul, 0, "frame_id ends with NUL");
    let frame_id = String::from_utf8(frame.to_vec()).expect("frame_id is UTF-8");
    // Then 37 doubles: orientation (4), 9, angular_velocity (3), 9,
    // linear_acceleration (3), 9, the first one aligned to `max_align`.
    let doubles = (12 + len).next_multiple_of(max_align);
    assert_eq!(
        body.len(),
        doubles + 37 * 8,
        "an Imu with frame_id {frame_id:?} and max alignment {max_align}"
    );
    assert_eq!(f64_at(doubles + 3 * 8), IMU_ORIENTATION_W, "orientation.w");
    let linear_acceleration = doubles + (4 + 9 + 3 + 9) * 8;
    assert_eq!(
        f64_at(linear_acceleration + 2 * 8),
        IMU_LINEAR_ACCELERATION_Z,
        "linear_acceleration.z"
    );
    frame_id
}

/// The sequence number in a frame id `cyc_imu/SEQ`.
fn imu_seq(frame_id: &str) -> u64 {
    frame_id
        .strip_prefix(&format!("{NODE}/"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("frame_id {frame_id:?} is not {NODE}/SEQ"))
}

/// Checks a raw IMU sample came from `writer` and returns its seq.
fn check_imu_sample(sample: &DataSample<RawSample>, writer: &str) -> u64 {
    assert_eq!(
        guid_hex(sample),
        writer,
        "IMU sample from the node's IMU writer"
    );
    let raw = sample.value();
    // What the relay's raw writers can reproduce. Note rustdds's `CDR2_LE`
    // is 00 11; Cyclone's XCDR2 is 00 07 (rustdds `XCDR2_LE`), and Cyclone
    // drops a 00 11 sample as a malformed packet (measured by hand).
    let max_align = match raw.encoding {
        RepresentationIdentifier::CDR_LE => 8,
        RepresentationIdentifier::CDR2_LE => 4,
        other => panic!(
            "Cyclone sent the Imu as {}: neither CDR_LE nor CDR2_LE, a raw relay cannot \
             forward it",
            encoding_name(other)
        ),
    };
    imu_seq(&check_imu_body(&raw.body, max_align))
}

#[test]
fn cyclone_ros_node_reaches_rustdds_diagnostics_and_imu() {
    let domain = 50;
    let p = participant(domain);
    let diag_topic = ros_topic(&p, DIAGNOSTICS_TOPIC, DIAGNOSTIC_ARRAY_TYPE);
    let imu_topic = ros_topic(&p, IMU_TOPIC, IMU_TYPE);
    let mut diagnostics = p
        .subscriber()
        .create_datareader_no_key_cdr::<DiagnosticArray>(&diag_topic, Some(ros_qos(100)))
        .expect("typed DiagnosticArray reader");
    let mut raw_diagnostics = p
        .subscriber()
        .create_datareader_no_key::<RawSample, RawReader>(&diag_topic, Some(ros_qos(100)))
        .expect("raw DiagnosticArray reader");
    let mut imu = p
        .subscriber()
        .create_datareader_no_key::<RawSample, RawReader>(&imu_topic, Some(ros_qos(1000)))
        .expect("raw Imu reader");

    let started = Instant::now();
    let mut node = cyclone_node(domain, &["--rate", "100", "--diag-period", "0.2"]);
    let ready = node.wait_for(PATIENCE, |v| v["event"] == "ready");
    assert_eq!(ready["node"], NODE, "{ready}");
    let guid = |key: &str| -> String {
        let g = ready[key].as_str().unwrap_or_default().to_owned();
        let hex = g.len() == 32 && g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        assert!(hex, "{key} is not 32 lowercase hex digits: {ready}");
        g
    };
    let (imu_writer, diag_writer) = (guid("imu_writer"), guid("diag_writer"));
    assert_ne!(imu_writer, diag_writer);

    // Cyclone → typed rustdds reader: every field of vigil's DiagnosticArray.
    let first = take_until(&mut diagnostics, "DiagnosticArray from the node", |s| {
        is_node_status(s.value())
    });
    println!(
        "first DiagnosticArray from Cyclone after {:?}",
        started.elapsed()
    );
    assert_eq!(
        guid_hex(&first),
        diag_writer,
        "the ready line's diag_writer"
    );
    let published_before = check_node_status(first.value(), level::OK, "ok");

    // The same arrays raw: vigil's own bounds-checked decoder agrees.
    let raw = take_until(&mut raw_diagnostics, "raw DiagnosticArray", |s| {
        guid_hex(s) == diag_writer
    });
    println!(
        "Cyclone's DiagnosticArray encoding: {}",
        encoding_name(raw.value().encoding)
    );
    let decoded = decode(&raw.value().to_encapsulated())
        .unwrap_or_else(|e| panic!("vigil_bridges::decode of Cyclone's array: {e}"));
    assert!(is_node_status(&decoded), "{decoded:?}");
    check_node_status(&decoded, level::OK, "ok");

    // Cyclone → raw rustdds reader: Imu samples, consecutive, byte for byte.
    let mut last = None;
    let mut encodings = Vec::new();
    for _ in 0..20 {
        let sample = take_until(&mut imu, "Imu sample", |_| true);
        let seq = check_imu_sample(&sample, &imu_writer);
        if let Some(prev) = last {
            assert_eq!(seq, prev + 1, "IMU samples in order, none lost");
        }
        last = Some(seq);
        encodings.push(sample.value().encoding);
    }
    encodings.dedup();
    println!(
        "Cyclone's Imu encoding: {}",
        encodings
            .iter()
            .map(|e| encoding_name(*e))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // A level change goes out at once, with its default message.
    let sent = Instant::now();
    node.send("level 2");
    node.wait_for(PATIENCE, |v| v["event"] == "level" && v["level"] == 2);
    let error = take_until(&mut diagnostics, "array at level 2", |s| {
        is_node_status(s.value()) && s.value().status[0].level == level::ERROR
    });
    println!(
        "level 2 reached rustdds {:?} after the command",
        sent.elapsed()
    );
    let published_after = check_node_status(error.value(), level::ERROR, "error");
    assert!(
        published_after > published_before,
        "the published count grows: {published_before} then {published_after}"
    );
    node.send("level 1 bias drifting");
    let warn = take_until(&mut diagnostics, "array at level 1", |s| {
        is_node_status(s.value()) && s.value().status[0].level == level::WARN
    });
    check_node_status(warn.value(), level::WARN, "bias drifting");

    // pause-imu stops the samples (what staleness tests rely on), and
    // resume-imu restarts them where the count stopped. The count comes from
    // an array published after the pause (a level change publishes at once).
    node.send("pause-imu");
    node.wait_for(PATIENCE, |v| v["event"] == "paused");
    node.send("level 0");
    let after_pause = take_until(&mut diagnostics, "array at level 0", |s| {
        is_node_status(s.value()) && s.value().status[0].level == level::OK
    });
    let paused_at = check_node_status(after_pause.value(), level::OK, "ok");
    // Every sample written before the pause arrives, in order, then none.
    let mut seq = last.expect("IMU samples seen");
    while seq < paused_at {
        let sample = take_until(&mut imu, "Imu sample written before the pause", |_| true);
        let next = check_imu_sample(&sample, &imu_writer);
        assert_eq!(next, seq + 1, "IMU samples in order, none lost");
        seq = next;
    }
    assert_eq!(seq, paused_at, "no IMU sample after the pause");
    let while_paused = drain(&mut imu, Duration::from_millis(500));
    assert!(
        while_paused.is_empty(),
        "{} IMU samples while paused",
        while_paused.len()
    );
    node.send("resume-imu");
    node.wait_for(PATIENCE, |v| v["event"] == "resumed");
    let resumed = take_until(&mut imu, "Imu sample after resume-imu", |_| true);
    assert_eq!(check_imu_sample(&resumed, &imu_writer), paused_at + 1);

    node.send("quit");
    assert_eq!(node.wait_exit(PATIENCE), Some(true), "{}", node.stderr());
}

/// What rustdds publishes on `/diagnostics_agg`: every level, strings of
/// every length modulo 4 (CDR alignment), an empty one, non-ASCII text.
fn aggregated(levels: [u8; 4]) -> DiagnosticArray {
    let kv = |k: &str, v: &str| KeyValue {
        key: k.to_owned(),
        value: v.to_owned(),
    };
    let status = |level, name: &str, message: &str, hardware_id: &str, values| DiagnosticStatus {
        level,
        name: name.to_owned(),
        message: message.to_owned(),
        hardware_id: hardware_id.to_owned(),
        values,
    };
    let now = unix_now();
    DiagnosticArray {
        header: Header {
            stamp: Time {
                sec: now as i32,
                nanosec: (now.fract() * 1e9) as u32,
            },
            frame_id: String::new(),
        },
        status: vec![
            status(
                levels[0],
                "/vigil/imu",
                "ok",
                "imu0",
                vec![kv("rate_hz", "100"), kv("source", NODE)],
            ),
            status(levels[1], "/vigil/imu/driver", "", "", vec![]),
            status(
                levels[2],
                "/vigil/power",
                "bus 2 undervoltage: 21.3 V",
                "pdu-1",
                vec![kv("bus", "2")],
            ),
            status(
                levels[3],
                "/vigil/gps",
                "stale — no fix for 2.0 s",
                "gnss",
                vec![kv("last_seen", "très ancien"), kv("x", "")],
            ),
        ],
    }
}

/// An array as `cyclone_reader.py` prints its statuses.
fn as_printed(array: &DiagnosticArray) -> Value {
    array
        .status
        .iter()
        .map(|s| {
            let values: serde_json::Map<String, Value> = s
                .values
                .iter()
                .map(|kv| (kv.key.clone(), json!(kv.value)))
                .collect();
            json!({
                "name": s.name,
                "level": s.level,
                "message": s.message,
                "hardware_id": s.hardware_id,
                "values": values,
            })
        })
        .collect()
}

#[test]
fn rustdds_diagnostics_reach_cyclone_reader() {
    let domain = 51;
    let started = Instant::now();
    let mut reader = Proc::python_peer(
        "cyclone reader",
        "cyclone_reader.py",
        &[
            "--domain",
            &domain.to_string(),
            "--topic",
            DIAGNOSTICS_AGG_TOPIC,
            "--kind",
            "diagnostics",
        ],
        &[("CYCLONEDDS_URI", CYCLONE_LOOPBACK)],
    );
    reader.wait_for(PATIENCE, |v| v["event"] == "ready");
    let p = participant(domain);
    let topic = ros_topic(&p, DIAGNOSTICS_AGG_TOPIC, DIAGNOSTIC_ARRAY_TYPE);
    let writer = p
        .publisher()
        .create_datawriter_no_key_cdr::<DiagnosticArray>(&topic, Some(ros_qos(10)))
        .expect("DiagnosticArray writer");

    for (round, levels) in [[0, 1, 2, 3], [3, 2, 1, 0]].into_iter().enumerate() {
        let array = aggregated(levels);
        let expected = as_printed(&array);
        // Volatile: nothing written before discovery matched the reader
        // reaches it, so write until one arrives.
        let deadline = Instant::now() + PATIENCE;
        let got = loop {
            writer
                .write(array.clone(), None)
                .unwrap_or_else(|e| panic!("write DiagnosticArray: {e:?}"));
            let got = reader.try_wait_for(Duration::from_millis(100), |v| {
                v["event"] == "array" && v["statuses"][0]["level"] == levels[0]
            });
            if let Some(got) = got {
                break got;
            }
            assert!(
                Instant::now() < deadline,
                "cyclone reader printed no array within {PATIENCE:?}\nseen: {:?}\nstderr: {}",
                reader.seen,
                reader.stderr()
            );
        };
        println!(
            "round {round}: Cyclone printed rustdds's array {:?} after start",
            started.elapsed()
        );
        assert_eq!(got["statuses"], expected, "round {round}");
    }

    reader.close_stdin();
    assert_eq!(
        reader.wait_exit(PATIENCE),
        Some(true),
        "the reader exits on EOF: {}",
        reader.stderr()
    );
}
