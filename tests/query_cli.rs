//! `vigil query check` and `vigil query eval`, run as a user runs them
//! (issue 3's CLI contract).

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn vigil() -> Command {
    Command::cargo_bin("vigil").expect("the vigil binary is built for integration tests")
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_prints_the_normalized_query() {
    let out = vigil()
        .args([
            "query",
            "check",
            "imu where health.state <= degraded and rate >= 0.1kHz prefer rate desc, accuracy asc",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "imu WHERE health.state <= DEGRADED AND rate >= 0.1kHz PREFER rate DESC, accuracy\n"
    );
    // The normalized form is itself a valid query that normalizes to itself.
    let again = vigil()
        .args(["query", "check", stdout(&out).trim_end()])
        .output()
        .unwrap();
    assert_eq!(stdout(&again), stdout(&out));
}

#[test]
fn check_reports_line_column_and_caret_with_exit_2() {
    let out = vigil()
        .args(["query", "check", "imu WHERE latency < 5Hz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert_eq!(
        stderr(&out),
        "error at 1:21: dimension mismatch: `latency` is a time but `5Hz` is a frequency\n \
         1 | imu WHERE latency < 5Hz\n   |                     ^^^ expected a time\n"
    );

    let out = vigil()
        .args(["query", "check", "imu\nWHERE mode > 5 AND"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error at 2:19: unexpected end of query\n"),
        "{err}"
    );
    assert!(err.contains(" 2 | WHERE mode > 5 AND\n"), "{err}");
    assert!(err.contains("^ expected a condition"), "{err}");
}

#[test]
fn eval_json_selects_ranks_and_explains() {
    let query = std::fs::read_to_string(examples().join("query_imu.txt")).unwrap();
    let out = vigil()
        .args(["query", "eval", &query, "--format", "json", "--adverts"])
        .arg(examples().join("adverts.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4);
    for key in ["selected", "clause", "chain", "rejected"] {
        assert!(keys.contains(&key), "{key} in {json}");
    }
    assert_eq!(json["selected"], "imu_a");
    assert_eq!(json["clause"], 0);
    assert_eq!(
        json["chain"],
        serde_json::json!(["imu_a", "imu_b", "gps_imu_1"])
    );
    let rejected = json["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[1]["producer"], "imu_d");
    let reasons: Vec<&str> = rejected[1]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"clause 0 (imu): missing capability latency_p99"),
        "{reasons:?}"
    );
}

#[test]
fn eval_falls_back_to_else_clause_and_null_when_nothing_matches() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("adverts.json");
    std::fs::write(
        &file,
        r#"[{"producer": "a", "topic": "imu", "health": {"state": "FAILED", "confidence": 1}},
            {"producer": "g", "topic": "gps", "health": {"state": "OK", "confidence": 0.5}}]"#,
    )
    .unwrap();
    let run = |query: &str| {
        let out = vigil()
            .args(["query", "eval", query, "--format", "json", "--adverts"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let json = run("imu WHERE health.state = OK ELSE gps");
    assert_eq!(
        (json["selected"].as_str(), json["clause"].as_u64()),
        (Some("g"), Some(1))
    );
    let json = run("imu WHERE health.state = OK");
    assert!(
        json["selected"].is_null() && json["clause"].is_null(),
        "{json}"
    );
    assert_eq!(json["chain"], serde_json::json!([]));
    assert_eq!(
        json["rejected"][0]["reasons"][0],
        "health.state = OK is false (health.state = FAILED)"
    );
    assert_eq!(
        json["rejected"][1]["reasons"][0],
        "topic gps is not in the query"
    );
}

#[test]
fn eval_text_is_readable() {
    let out = vigil()
        .args([
            "query",
            "eval",
            "imu WHERE latency_p99 < 1ms PREFER rate DESC",
            "--adverts",
        ])
        .arg(examples().join("adverts.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("selected: imu_b (clause 0, topic imu)"),
        "{text}"
    );
    assert!(text.contains("  1. imu_b"), "{text}");
    assert!(
        text.contains("  imu_d:\n    - missing capability latency_p99\n"),
        "{text}"
    );
}

#[test]
fn eval_names_the_entry_and_field_of_a_malformed_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"[{"producer": "ok", "topic": "imu"}, {"producer": "imu_c", "topic": "imu", "capabilities": {"rate": "200Hzz"}}]"#,
            "adverts[1] (producer `imu_c`), field `capabilities.rate`: capability `rate`: unknown unit `Hzz`",
        ),
        (
            r#"[{"producer": "p", "topic": "imu", "health": {"state": "OK", "confidence": 2}}]"#,
            "adverts[0] (producer `p`), field `health.confidence`: confidence 2 is outside [0, 1]",
        ),
        (r#"[{"topic": "imu"}]"#, "adverts[0]: missing field `producer`"),
        (
            r#"[{"producer": "p", "topic": "imu", "qos": {"reliability": "maybe"}}]"#,
            "adverts[0] (producer `p`), field `qos.reliability`: invalid reliability `maybe`",
        ),
        (r#"[{"producer": "p", "topic": "t", "colour": 1}]"#, "adverts[0] (producer `p`), field `colour`: unknown field"),
        (r#"[{"producer": "p", "topic": "t"}, {"producer": "p", "topic": "t"}]"#, "adverts[1] (producer `p`), field `producer`: duplicate producer id (also adverts[0])"),
        (r#"{"producer": "p"}"#, "expected a JSON array of adverts"),
        ("[{,]", "invalid JSON"),
    ];
    for (i, (content, expected)) in cases.into_iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.json"));
        std::fs::write(&file, content).unwrap();
        let out = vigil()
            .args(["query", "eval", "imu", "--adverts"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{content}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(&format!("bad{i}.json")), "{err}");
        assert!(err.contains(expected), "{content}\n{err}");
    }
    let out = vigil()
        .args([
            "query",
            "eval",
            "imu",
            "--adverts",
            "/nonexistent/adverts.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read /nonexistent/adverts.json"));
}

#[test]
fn eval_with_a_bad_query_exits_2_with_the_caret() {
    let out = vigil()
        .args([
            "query",
            "eval",
            "imu WHERE health.state = 'fine'",
            "--adverts",
        ])
        .arg(examples().join("adverts.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error at 1:26: 'fine' is not a health state"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn eval_applies_the_requested_qos() {
    let out = vigil()
        .args([
            "query",
            "eval",
            "imu",
            "--format",
            "json",
            "--requested-qos",
            r#"{"reliability": "reliable", "deadline": "8ms"}"#,
            "--adverts",
        ])
        .arg(examples().join("adverts.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["chain"], serde_json::json!(["imu_b"]));
    let imu_a = &json["rejected"][0];
    assert_eq!(imu_a["producer"], "imu_a");
    assert_eq!(
        imu_a["reasons"][0],
        "QoS deadline: offered period 10ms is longer than requested 8ms"
    );
    let out = vigil()
        .args([
            "query",
            "eval",
            "imu",
            "--requested-qos",
            "{\"reliability\": 3}",
            "--adverts",
        ])
        .arg(examples().join("adverts.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--requested-qos"));
}
