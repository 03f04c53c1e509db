//! Parser tables (good and bad queries, caret positions), evaluation,
//! rejection reasons and ranking.

use vigil_diag::State;

use super::*;
use crate::candidate::AdvertView;
use crate::dds_qos::Reliability;
use crate::value::Value;

/// Good queries and their normalized form.
#[test]
fn parses_and_normalizes() {
    let table = [
        ("imu", "imu"),
        ("/imu/data", "/imu/data"),
        ("sensors.imu where rate > 100Hz", "sensors.imu WHERE rate > 100Hz"),
        ("'my topic' WHERE x = 1", "'my topic' WHERE x = 1"),
        ("'where'", "'where'"),
        (
            "imu WHERE health.state = OK AND health.confidence > 0.9\n  AND latency_p99 < 1ms AND health('vehicle.sensors') != FAILED\n  PREFER accuracy ASC, rate DESC",
            "imu WHERE health.state = OK AND health.confidence > 0.9 AND latency_p99 < 1ms AND health('vehicle.sensors') != FAILED PREFER accuracy, rate DESC",
        ),
        ("imu where a = 1 or b = 2 and c = 3", "imu WHERE a = 1 OR b = 2 AND c = 3"),
        ("imu where (a = 1 or b = 2) and c = 3", "imu WHERE (a = 1 OR b = 2) AND c = 3"),
        ("imu where a = 1 and (b = 2 and c = 3)", "imu WHERE a = 1 AND (b = 2 AND c = 3)"),
        ("imu where not not a = 1", "imu WHERE NOT NOT a = 1"),
        ("imu where not (a = 1 or b = 2)", "imu WHERE NOT (a = 1 OR b = 2)"),
        ("imu where frame in ('a', 'b''c')", "imu WHERE frame IN ('a', 'b''c')"),
        ("imu where mode not in (1, 2)", "imu WHERE NOT mode IN (1, 2)"),
        ("imu where exists jitter", "imu WHERE EXISTS jitter"),
        ("imu where path ~ 'vehicle.*.imu'", "imu WHERE path ~ 'vehicle.*.imu'"),
        ("imu where health.trend != 'Degrading'", "imu WHERE health.trend != 'degrading'"),
        ("imu where health.state <= 'warn'", "imu WHERE health.state <= DEGRADED"),
        (
            "imu where qos.reliability >= 'RELIABLE' and qos.durability = 'transient_local' and qos.deadline <= 10ms",
            "imu WHERE qos.reliability >= 'reliable' AND qos.durability = 'transient_local' AND qos.deadline <= 10ms",
        ),
        ("imu where x <> -1.5e3", "imu WHERE x != -1500"),
        ("imu where latency < 500µs", "imu WHERE latency < 500us"),
        ("imu where drop_rate < 1%", "imu WHERE drop_rate < 1%"),
        ("imu where flag = TRUE", "imu WHERE flag = true"),
        ("imu else gps where rate >= 10Hz prefer rate desc else 'x y'", "imu ELSE gps WHERE rate >= 10Hz PREFER rate DESC ELSE 'x y'"),
        ("imu prefer health.confidence desc, qos.deadline", "imu PREFER health.confidence DESC, qos.deadline"),
    ];
    for (input, normalized) in table {
        let q = Query::parse(input).unwrap_or_else(|e| panic!("{input}: {}", e.render()));
        assert_eq!(q.to_string(), normalized, "{input}");
        assert_eq!(Query::parse(normalized).unwrap(), q, "{input}");
    }
}

/// Bad queries: (input, caret column, text in the message, text in expected).
#[test]
fn rejects_with_caret_and_expectation() {
    let table = [
        ("", 1, "unexpected end of query", "a topic"),
        ("WHERE x = 1", 1, "unexpected keyword WHERE", "a topic"),
        ("imu WHERE", 10, "unexpected end of query", "a condition"),
        (
            "imu WHERE latency < 5Hz",
            21,
            "dimension mismatch: `latency` is a time but `5Hz` is a frequency",
            "a time",
        ),
        (
            "imu WHERE 5Hz > latency_p99",
            17,
            "dimension mismatch",
            "a frequency",
        ),
        (
            "imu WHERE rate > 5hz",
            19,
            "unknown unit `hz` (did you mean `Hz`?)",
            "a unit",
        ),
        ("imu WHERE x = 'abc", 15, "unterminated string", "a closing"),
        (
            "imu WHERE x = 1 AND",
            20,
            "unexpected end of query",
            "a condition",
        ),
        ("imu WHERE x 1", 13, "unexpected `1`", "a comparison"),
        ("imu WHERE (x = 1", 17, "unexpected end of query", "`)`"),
        (
            "imu WHERE x = 1 y",
            17,
            "unexpected `y`",
            "AND, OR, PREFER, ELSE or end of query",
        ),
        (
            "imu PREFER rate x",
            17,
            "unexpected `x`",
            "`,`, ELSE or end of query",
        ),
        ("imu PREFER 5", 12, "not a constant", "a capability key"),
        (
            "imu WHERE health.state = 'fine'",
            26,
            "'fine' is not a health state",
            "a health state",
        ),
        (
            "imu WHERE health.trend < 'stable'",
            24,
            "`<` does not apply to a trend",
            "= or !=",
        ),
        (
            "imu WHERE health.state = 5ms",
            26,
            "type mismatch",
            "a health state",
        ),
        (
            "imu WHERE health.bogus = OK",
            11,
            "unknown health field",
            "health.state",
        ),
        (
            "imu WHERE qos.speed = 1",
            11,
            "unknown QoS field",
            "qos.reliability",
        ),
        (
            "imu WHERE qos.reliability = 'sometimes'",
            29,
            "is not a reliability",
            "a reliability",
        ),
        (
            "imu WHERE health('a..b') = OK",
            18,
            "empty label",
            "a dotted path",
        ),
        (
            "imu WHERE rate ~ 'a.b'",
            16,
            "`~` matches the producer's diagnostic path",
            "path ~",
        ),
        (
            "imu WHERE path ~ 'a.{'",
            18,
            "invalid lquery pattern",
            "an lquery pattern",
        ),
        (
            "imu WHERE frame IN (1, 'a')",
            21,
            "type mismatch",
            "a string",
        ),
        ("imu WHERE x = \"a\"", 15, "single quotes", ""),
        (
            "imu WHERE a.b = 1",
            11,
            "invalid capability key `a.b`",
            "a capability key",
        ),
        (
            "imu\nWHERE x = 1\n  AND y >",
            10,
            "unexpected end of query",
            "an operand",
        ),
        ("imu ELSE", 9, "unexpected end of query", "a topic"),
        (
            "imu WHERE EXISTS 5",
            18,
            "unexpected `5`",
            "a capability key",
        ),
    ];
    for (input, column, message, expected) in table {
        let e = Query::parse(input).expect_err(input);
        let rendered = e.render();
        assert_eq!(e.column(), column, "{input}\n{rendered}");
        assert!(e.message().contains(message), "{input}: {rendered}");
        let exp = e.expected().unwrap_or("");
        assert!(
            exp.contains(expected) || (expected == "an operand" && exp.contains("capability key")),
            "{input}: {rendered}"
        );
        assert!(
            rendered.starts_with(&format!("error at {}:{column}: ", e.line())),
            "{rendered}"
        );
    }
    // The line of a multi-line query is the line of the offending token.
    assert_eq!(
        Query::parse("imu\nWHERE x = 1\n  AND y >")
            .unwrap_err()
            .line(),
        3
    );
}

#[test]
fn caret_display() {
    let e = Query::parse("imu WHERE latency < 5Hz").unwrap_err();
    assert_eq!(
        e.render(),
        "error at 1:21: dimension mismatch: `latency` is a time but `5Hz` is a frequency\n \
         1 | imu WHERE latency < 5Hz\n   |                     ^^^ expected a time"
    );
}

#[test]
fn deep_and_long_queries_are_bounded() {
    let deep = format!("imu WHERE {}x = 1{}", "(".repeat(100), ")".repeat(100));
    assert!(Query::parse(&deep)
        .unwrap_err()
        .message()
        .contains("nested"));
    let nots = format!("imu WHERE {}x = 1", "NOT ".repeat(100));
    assert!(Query::parse(&nots).is_err());
    let long = format!("imu WHERE x = 1{}", " AND x = 1".repeat(2000));
    assert!(Query::parse(&long)
        .unwrap_err()
        .message()
        .contains("conditions"));
    let ok = format!("imu WHERE x = 1{}", " AND x = 1".repeat(200));
    assert!(Query::parse(&ok).is_ok());
}

fn advert(
    producer: &str,
    topic: &str,
    caps: &[(&str, &str)],
    state: State,
    confidence: f64,
) -> AdvertView {
    let mut a = AdvertView::new(producer, topic);
    for (k, v) in caps {
        a.capabilities
            .insert(k, Value::parse_capability(v).unwrap())
            .unwrap();
    }
    a.health.state = state;
    a.health.confidence = confidence;
    a
}

fn producers(adverts: &[AdvertView], ranking: &Ranking) -> Vec<String> {
    ranking
        .chain()
        .iter()
        .map(|r| adverts[r.index].producer.clone())
        .collect()
}

#[test]
fn evaluates_units_states_and_missing_keys() {
    let adverts = vec![
        advert(
            "a",
            "imu",
            &[("rate", "0.1kHz"), ("latency_p99", "900us")],
            State::Ok,
            0.9,
        ),
        advert("b", "imu", &[("rate", "100Hz")], State::Degraded, 0.9),
        advert(
            "c",
            "imu",
            &[("rate", "99Hz"), ("latency_p99", "2ms")],
            State::Failed,
            0.9,
        ),
    ];
    let pick = |q: &str| producers(&adverts, &Query::parse(q).unwrap().compile().rank(&adverts));
    assert_eq!(pick("imu WHERE rate = 100Hz"), ["a", "b"]);
    assert_eq!(pick("imu WHERE health.state <= DEGRADED"), ["a", "b"]);
    assert_eq!(pick("imu WHERE latency_p99 < 1ms"), ["a"]);
    // Missing is unknown, and NOT unknown is still unknown.
    assert_eq!(pick("imu WHERE NOT latency_p99 < 1ms"), ["c"]);
    assert_eq!(pick("imu WHERE NOT EXISTS latency_p99"), ["b"]);
    assert_eq!(
        pick("imu WHERE latency_p99 < 1ms OR health.state = DEGRADED"),
        ["a", "b"]
    );
    assert_eq!(
        pick("imu WHERE rate IN (99Hz, 0.1kHz) PREFER rate"),
        ["c", "a", "b"]
    );
    assert_eq!(pick("gps"), Vec::<String>::new());
}

#[test]
fn rejection_reasons_name_the_condition_and_value() {
    let adverts = [
        advert(
            "a",
            "imu",
            &[("latency_p99", "2ms"), ("mode", "fast")],
            State::Ok,
            0.9,
        ),
        advert("b", "imu", &[], State::Ok, 0.9),
        advert("g", "gps", &[], State::Ok, 0.9),
    ];
    let q = Query::parse("imu WHERE latency_p99 < 1ms AND mode > 5")
        .unwrap()
        .compile();
    let why = |i: usize| {
        q.explain(&adverts[i])
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        why(0),
        [
            "latency_p99 < 1ms is false (latency_p99 = 2ms)",
            "mode > 5 cannot be evaluated: different kinds of value (mode = fast)"
        ]
    );
    assert_eq!(
        why(1),
        ["missing capability latency_p99", "missing capability mode"]
    );
    assert_eq!(why(2), ["topic gps is not in the query"]);
    let q = Query::parse("imu WHERE health('vehicle.power') = OK AND path ~ 'vehicle.*'")
        .unwrap()
        .compile();
    let reasons: Vec<String> = q
        .explain(&adverts[0])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        reasons,
        [
            "no health reported for node vehicle.power",
            "no diagnostic path"
        ]
    );
}

#[test]
fn else_clauses_form_the_chain_and_cross_topics() {
    let adverts = vec![
        advert("gps1", "gps_imu", &[("rate", "10Hz")], State::Ok, 0.8),
        advert("imu1", "imu", &[("rate", "100Hz")], State::Failed, 0.9),
        advert("imu2", "/imu", &[("rate", "100Hz")], State::Ok, 0.9),
    ];
    let q = Query::parse("imu WHERE health.state = OK ELSE gps_imu")
        .unwrap()
        .compile();
    let r = q.rank(&adverts);
    assert_eq!(producers(&adverts, &r), ["gps1"]);
    assert_eq!(r.selected().map(|s| s.clause), Some(1));
    assert_eq!(r.rejected(), [1, 2]);
    // ROS 2 names match their DDS form.
    let q = Query::parse("'rt/imu' WHERE health.state = OK ELSE gps_imu")
        .unwrap()
        .compile();
    let r = q.rank(&adverts);
    assert_eq!(producers(&adverts, &r), ["imu2", "gps1"]);
    assert_eq!(r.chain()[1].clause, 1);
}

#[test]
fn ranking_is_deterministic() {
    let adverts = vec![
        advert("d", "imu", &[("accuracy", "0.01")], State::Ok, 0.5),
        advert("c", "imu", &[("accuracy", "0.001")], State::Ok, 0.5),
        advert("b", "imu", &[("accuracy", "0.001")], State::Ok, 0.9),
        advert("a", "imu", &[("accuracy", "0.001")], State::Ok, 0.5),
        advert("e", "imu", &[], State::Ok, 1.0),
    ];
    let q = Query::parse("imu PREFER accuracy").unwrap().compile();
    // Accuracy ascending; missing last; ties by confidence desc, then id.
    assert_eq!(
        producers(&adverts, &q.rank(&adverts)),
        ["b", "a", "c", "d", "e"]
    );
    let mut reversed = adverts.clone();
    reversed.reverse();
    assert_eq!(
        producers(&reversed, &q.rank(&reversed)),
        ["b", "a", "c", "d", "e"]
    );
    let q = Query::parse("imu PREFER accuracy DESC").unwrap().compile();
    assert_eq!(
        producers(&adverts, &q.rank(&adverts)),
        ["d", "b", "a", "c", "e"]
    );
    // `compare` agrees with `rank`, for incremental re-ranking.
    let r = q.rank(&adverts);
    for w in r.chain().windows(2) {
        assert_eq!(
            q.compare(0, &adverts[w[0].index], &adverts[w[1].index]),
            std::cmp::Ordering::Less
        );
    }
}

#[test]
fn requested_qos_rejects_with_reasons() {
    let mut a = advert("a", "imu", &[], State::Ok, 1.0);
    a.qos.reliability = Some(Reliability::BestEffort);
    let b = advert("b", "imu", &[], State::Ok, 1.0);
    let adverts = [a, b];
    let requested = crate::dds_qos::QosPolicies {
        reliability: Some(Reliability::Reliable),
        ..Default::default()
    };
    let q = Query::parse("imu")
        .unwrap()
        .compile()
        .with_requested_qos(requested);
    assert_eq!(producers(&adverts, &q.rank(&adverts)), ["b"]);
    assert_eq!(
        q.explain(&adverts[0])[0].to_string(),
        "QoS reliability: offered BEST_EFFORT is weaker than requested RELIABLE"
    );
    let q = Query::parse("imu WHERE qos.reliability >= 'reliable'")
        .unwrap()
        .compile();
    assert_eq!(producers(&adverts, &q.rank(&adverts)), ["b"]);
    // A deadline left out is infinite: longer than any finite one.
    let q = Query::parse("imu WHERE qos.deadline <= 10ms")
        .unwrap()
        .compile();
    assert_eq!(producers(&adverts, &q.rank(&adverts)), Vec::<String>::new());
    let q = Query::parse("imu WHERE qos.deadline > 10ms")
        .unwrap()
        .compile();
    assert_eq!(producers(&adverts, &q.rank(&adverts)), ["a", "b"]);
}
