//! Issue 13, end to end with separate OS processes over loopback DDS:
//! signed adverts, the trust policy, and no hijacking of a live producer.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustdds::with_key::Sample;
use rustdds::TopicKind;
use serde_json::Value;
use support::{keygen, selected, terminate, Proc, PATIENCE};
use vigil_discovery::{
    advert_qos, AdvertWire, DdsConfig, VigilParticipant, ADVERT_TOPIC, ADVERT_TYPE,
};

const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";

/// A fresh directory for one test's keys and trust file.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-e2e-trust-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn trust_file(dir: &Path, mode: &str) -> String {
    let text = format!(
        "mode: {mode}\nkeys:\n  - name: imu_team\n    public: imu_team.pub\n    producers: [\"imu_*\"]\n    topics: [imu]\n  - name: gps_team\n    public: gps_team.pub\n    producers: [\"gps_*\", \"imu_b\"]\n    topics: [gps]\n"
    );
    let path = dir.join("trust.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn refused(v: &Value, producer: &str, reason: &str) -> bool {
    v["event"] == "refused" && v["producer"] == producer && v["reason"] == reason
}

/// Every `selected` line the consumer printed names `producer`.
fn only_ever_selected(c: &Proc, producer: &str) {
    for v in &c.seen {
        if v["event"] == "selected" {
            assert_eq!(v["producer"], producer, "switched to a rogue: {v}");
        }
    }
}

#[test]
fn rogues_unsigned_unknown_and_not_allowed_are_refused_and_never_followed() {
    let domain = 120;
    let dir = scratch("rogues");
    let imu_key = keygen(&dir, "imu_team");
    let gps_key = keygen(&dir, "gps_team");
    let rogue_key = keygen(&dir, "rogue");
    let trust = trust_file(&dir, "enforce");
    let _a = Proc::producer(domain, "imu_a", &["accuracy=0.01"], &["--key", &imu_key]);
    let mut c = Proc::consumer(domain, QUERY, &["--trust", &trust]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });

    // Each claims a better accuracy than imu_a: followed, were it trusted.
    let _unsigned = Proc::producer(domain, "imu_a", &["accuracy=0.0001"], &[]);
    c.wait_seen(PATIENCE, |v| refused(v, "imu_a", "unsigned"));
    let _unknown = Proc::producer(
        domain,
        "imu_a",
        &["accuracy=0.0001"],
        &["--key", &rogue_key],
    );
    c.wait_seen(PATIENCE, |v| refused(v, "imu_a", "unknown_key"));
    // gps_team may advertise imu_b, but only on topic gps.
    let _gps = Proc::producer(domain, "imu_b", &["accuracy=0.0001"], &["--key", &gps_key]);
    c.wait_seen(PATIENCE, |v| refused(v, "imu_b", "not_allowed"));

    // Their heartbeats keep coming; the consumer stays on the real imu_a.
    let mark = c.mark();
    for _ in 0..2 {
        c.wait_since(mark, PATIENCE, |v| v["event"] == "stats");
    }
    std::thread::sleep(Duration::from_secs(1));
    c.wait_for(PATIENCE, |v| v["event"] == "stats");
    only_ever_selected(&c, "imu_a");
}

#[test]
fn a_live_producer_id_is_not_hijacked_even_with_signing_off() {
    let domain = 121;
    let mut a = Proc::producer(domain, "imu_a", &["accuracy=0.01"], &[]);
    let mut c = Proc::consumer(domain, QUERY, &[]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });
    let _rogue = Proc::producer(domain, "imu_a", &["accuracy=0.0001"], &[]);
    c.wait_seen(PATIENCE, |v| refused(v, "imu_a", "hijack"));
    std::thread::sleep(Duration::from_secs(1));
    c.wait_for(PATIENCE, |v| v["event"] == "stats");
    only_ever_selected(&c, "imu_a");
    let switches = c.seen.iter().filter(|v| v["event"] == "selected").count();
    assert_eq!(switches, 1, "the rogue moved the consumer: {:?}", c.seen);

    // Once the holder is gone (killed: its lease runs out), the waiting
    // newcomer takes over: a restart is delayed by one lease, not refused.
    let mark = c.mark();
    a.kill9();
    c.wait_since(mark, PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });
}

#[test]
fn a_restart_signed_by_the_same_key_takes_over_while_the_old_one_lives() {
    let domain = 122;
    let dir = scratch("restart");
    let imu_key = keygen(&dir, "imu_team");
    keygen(&dir, "gps_team");
    let trust = trust_file(&dir, "enforce");
    let _old = Proc::producer(domain, "imu_a", &["accuracy=0.01"], &["--key", &imu_key]);
    let mut c = Proc::consumer(domain, QUERY, &["--trust", &trust]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });
    let mark = c.mark();
    // The old process still heartbeats: only the key proves the newcomer.
    let _new = Proc::producer(domain, "imu_a", &["accuracy=0.01"], &["--key", &imu_key]);
    let switch = c.wait_since(mark, PATIENCE, |v| selected(v, "imu_a"));
    assert!(
        switch["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("endpoint")
            || switch["cause"]
                .as_str()
                .unwrap_or_default()
                .contains("writer"),
        "{switch}"
    );
    assert!(
        !c.seen.iter().any(|v| v["event"] == "refused"),
        "{:?}",
        c.seen
    );
}

#[test]
fn warn_mode_accepts_what_enforce_would_refuse() {
    let domain = 123;
    let dir = scratch("warn");
    keygen(&dir, "imu_team");
    keygen(&dir, "gps_team");
    let trust = trust_file(&dir, "warn");
    let _a = Proc::producer(domain, "imu_a", &["accuracy=0.01"], &[]);
    let mut c = Proc::consumer(domain, QUERY, &["--trust", &trust]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });
    assert!(!c.seen.iter().any(|v| v["event"] == "refused"));
    assert!(
        c.stderr().contains("would refuse"),
        "warn mode logs: {}",
        c.stderr()
    );
}

/// The supervisor's FAILED-on-behalf is signed (`vigil supervise --key`)
/// and believed under `enforce` because the policy lets its key speak for
/// the producers: the consumer leaves a SIGKILLed child at once, not at
/// the end of its 5 s lease, and the restarted child (a new writer, the
/// same key) is let back in.
#[test]
fn a_signed_supervisor_fails_its_dead_child_at_once_under_enforce() {
    let domain = 124;
    let dir = scratch("supervised");
    let imu_key = keygen(&dir, "imu_team");
    keygen(&dir, "gps_team");
    let sup_key = keygen(&dir, "supervisor");
    let trust = trust_file(&dir, "enforce");
    let mut text = std::fs::read_to_string(&trust).unwrap();
    text.push_str("  - name: supervisor\n    public: supervisor.pub\n    speaks_for: [\"*\"]\n");
    std::fs::write(&trust, text).unwrap();
    let config = dir.join("sup.yaml");
    std::fs::write(
        &config,
        format!(
            "
name: node
intensity: 5
period: 10s
backoff: {{ initial: 500ms, max: 1s, jitter: 0 }}
children:
  - id: imu_a_proc
    command: [{vigil}, produce, --domain, '{domain}', --topic, imu, --id, imu_a,
              --rate, '200', --lease-ms, '5000', --cap, accuracy=0.001, --key, '{imu_key}']
    produces: [imu_a]
",
            vigil = env!("CARGO_BIN_EXE_vigil"),
        ),
    )
    .unwrap();
    // imu_b first, followed by the consumer: it must be a candidate when
    // imu_a dies (on a loaded machine its discovery may otherwise still
    // be under way at the kill, and no switch to it is then possible).
    let _b = Proc::producer(domain, "imu_b", &["accuracy=0.002"], &["--key", &imu_key]);
    let mut c = Proc::consumer(domain, QUERY, &["--trust", &trust]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_b"));
    let mut sup = Proc::spawn(
        "supervisor",
        &[
            "supervise",
            "--config",
            &config.display().to_string(),
            "--domain",
            &domain.to_string(),
            "--format",
            "json",
            "--key",
            &sup_key,
        ],
    );
    let started = |v: &Value| v["event"] == "started" && v["child"] == "imu_a_proc";
    let pid = sup.wait_for(PATIENCE, started)["pid"].as_u64().unwrap();
    // The more accurate imu_a takes over once it is heard.
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });

    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    sup.wait_for(PATIENCE, |v| v["event"] == "failed");
    let switch = c.wait_for(PATIENCE, |v| selected(v, "imu_b"));
    let cause = switch["cause"].as_str().unwrap_or_default();
    // A lease expiry would say so: FAILED is the supervisor's word.
    assert!(cause.contains("FAILED"), "cause: {cause}\n{switch}");

    sup.wait_for(PATIENCE, started);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    assert!(
        !c.seen.iter().any(|v| v["event"] == "refused"),
        "{:?}",
        c.seen
    );
    terminate(&sup);
    sup.wait_exit(Duration::from_secs(10));
}

/// Key rotation: the trust file gains the new key while the consumer runs
/// (reloaded on change, no route dropped), the producer restarted with the
/// new key waits (the old one is live: another key is no proof), and
/// takes over the moment the old one withdraws.
///
/// A rotation by restart (a new process with the new key) is a takeover:
/// the waiting successor is no candidate until it is promoted, so the
/// samples between the old writer's last and the promotion are lost (one,
/// typically, at the default rate; the count is printed). The lossless
/// rotation is in place: the next test.
#[test]
fn key_rotation_reloads_the_policy_and_hands_over_at_once() {
    let domain = 126;
    let dir = scratch("rotation");
    let old_key = keygen(&dir, "imu_team");
    keygen(&dir, "gps_team");
    let new_key = keygen(&dir, "imu_team_next");
    let trust = trust_file(&dir, "enforce");
    let mut old = Proc::producer(domain, "imu_a", &["accuracy=0.01"], &["--key", &old_key]);
    let mut c = Proc::consumer(domain, QUERY, &["--trust", &trust]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });

    // The overlap: both keys may advertise imu_*. The file is replaced
    // whole (written aside, renamed), as an editor or a deployment would.
    let mut text = std::fs::read_to_string(&trust).unwrap();
    text.push_str(
        "  - name: imu_team_next\n    public: imu_team_next.pub\n    producers: [\"imu_*\"]\n    topics: [imu]\n",
    );
    let aside = dir.join("trust.yaml.new");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, &trust).unwrap();
    // The reload is polled every second: the new key is known within two.
    std::thread::sleep(Duration::from_secs(3));

    let _new = Proc::producer(domain, "imu_a", &["accuracy=0.01"], &["--key", &new_key]);
    // Refused while the old one lives, as a hijack, not as an unknown key.
    c.wait_seen(PATIENCE, |v| refused(v, "imu_a", "hijack"));
    let mark = c.mark();
    terminate(&old);
    assert_eq!(old.wait_exit(PATIENCE), Some(true));
    c.wait_since(mark, PATIENCE, |v| selected(v, "imu_a"));
    c.wait_since(mark, PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });
    let stats = c.wait_since(mark, PATIENCE, |v| v["event"] == "stats");
    let stats = c.wait_since(c.mark(), PATIENCE, |v| {
        v["event"] == "stats" && v["t"].as_f64() > stats["t"].as_f64()
    });
    assert!(
        !c.seen.iter().any(|v| refused(v, "imu_a", "unknown_key")),
        "the new key was never loaded: {:?}",
        c.seen
    );
    assert!(
        !c.seen
            .iter()
            .any(|v| v["event"] == "selected" && v["producer"].is_null()),
        "the route was dropped: {:?}",
        c.seen
    );
    eprintln!(
        "key rotation: {} sample(s) lost at the handover",
        stats["lost"]
    );
}

/// Issue 13: key rotation without a dropped sample. The consumers' policy
/// allows the new key beside the old one; the producer's key file is
/// replaced (written aside, renamed); `vigil produce` reads it again and
/// signs its advert with the new key at once: the same writer, so no
/// takeover and no new route. Once the old key leaves the policy, what
/// the producer says is still accepted (an advert is checked against the
/// policy each time it is repeated, once a second: one still signed with
/// the old key would be refused as `unknown_key`), and not one sample
/// was lost.
#[test]
fn key_rotation_in_place_keeps_the_route_and_loses_no_sample() {
    let domain = 201;
    let dir = scratch("rotation-in-place");
    let old_key = keygen(&dir, "imu_team");
    keygen(&dir, "gps_team");
    let new_key = keygen(&dir, "imu_team_next");
    let live_key = dir.join("live.key");
    std::fs::copy(&old_key, &live_key).unwrap();
    let trust = trust_file(&dir, "enforce");
    let replace = |path: &Path, text: &str| {
        let aside = dir.join("aside.tmp");
        std::fs::write(&aside, text).unwrap();
        std::fs::rename(&aside, path).unwrap();
    };
    let mut p = Proc::producer(
        domain,
        "imu_a",
        &["accuracy=0.01"],
        &["--key", &live_key.display().to_string()],
    );
    let mut c = Proc::consumer(domain, QUERY, &["--trust", &trust]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });

    // The overlap: the policy allows both keys.
    let both = std::fs::read_to_string(&trust).unwrap()
        + "  - name: imu_team_next\n    public: imu_team_next.pub\n    producers: [\"imu_*\"]\n    topics: [imu]\n";
    replace(Path::new(&trust), &both);
    // The reload is polled every second: the new key is known within two.
    std::thread::sleep(Duration::from_secs(3));
    replace(&live_key, &std::fs::read_to_string(&new_key).unwrap());
    let rotated = p.wait_for(PATIENCE, |v| v["event"] == "key_rotated");
    assert!(
        rotated["public"].as_str().is_some_and(|k| !k.is_empty()),
        "{rotated}"
    );

    // The old key leaves the policy.
    std::thread::sleep(Duration::from_secs(2));
    let only_new = both.replace(
        "  - name: imu_team\n    public: imu_team.pub\n    producers: [\"imu_*\"]\n    topics: [imu]\n",
        "",
    );
    assert_ne!(only_new, both, "the old key's entry was found");
    replace(Path::new(&trust), &only_new);
    std::thread::sleep(Duration::from_secs(4));
    let mark = c.mark();
    let stats = c.wait_since(mark, PATIENCE, |v| v["event"] == "stats");
    let stats = c.wait_since(c.mark(), PATIENCE, |v| {
        v["event"] == "stats" && v["t"].as_f64() > stats["t"].as_f64()
    });
    let refusals: Vec<&Value> = c.seen.iter().filter(|v| v["event"] == "refused").collect();
    assert!(refusals.is_empty(), "refused: {refusals:?}");
    let selections: Vec<&Value> = c.seen.iter().filter(|v| v["event"] == "selected").collect();
    assert_eq!(selections.len(), 1, "one route throughout: {selections:?}");
    assert_eq!(stats["lost"], 0, "{stats}");
    // Still flowing from the same producer after the old key went.
    assert!(
        stats["samples"]["imu_a"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    terminate(&p);
    assert_eq!(p.wait_exit(PATIENCE), Some(true), "{}", p.stderr());
}

/// Issue 13: a captured advert sent again is refused. The test process
/// plays the attacker: a DDS participant of its own records the
/// producer's signed adverts off the wire and publishes them again. While
/// the producer lives, an older advert of it is refused as a replay;
/// after it died and the consumer forgot it (its grace), its last advert,
/// sent again, does not bring it back.
#[test]
fn a_captured_advert_sent_again_is_refused() {
    let domain = 202;
    let dir = scratch("replay");
    let key = keygen(&dir, "imu_team");
    keygen(&dir, "gps_team");
    let trust = trust_file(&dir, "enforce");
    let mut p = Proc::producer(domain, "imu_a", &["accuracy=0.01"], &["--key", &key]);
    let mut c = Proc::consumer(domain, QUERY, &["--trust", &trust]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));

    let rogue = VigilParticipant::new(DdsConfig::new(domain)).expect("the rogue joins");
    let topic = rogue
        .dds()
        .create_topic(
            ADVERT_TOPIC.to_owned(),
            ADVERT_TYPE.to_owned(),
            &advert_qos(),
            TopicKind::WithKey,
        )
        .unwrap();
    let mut tap = rogue
        .subscriber()
        .create_datareader_cdr::<AdvertWire>(&topic, Some(advert_qos()))
        .unwrap();
    let replayer = rogue
        .publisher()
        .create_datawriter_cdr::<AdvertWire>(&topic, Some(advert_qos()))
        .unwrap();
    // The producer's signed advert with a sequence of at least `from`.
    let mut capture = |from: u64| -> AdvertWire {
        let deadline = std::time::Instant::now() + PATIENCE;
        while std::time::Instant::now() < deadline {
            while let Ok(Some(sample)) = tap.take_next_sample() {
                if let Sample::Value(wire) = sample.into_value() {
                    if wire.key.producer == "imu_a"
                        && !wire.signature.is_empty()
                        && wire.sequence >= from
                    {
                        return wire;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no signed advert of imu_a with sequence >= {from} captured");
    };
    let first = capture(0);
    p.send("cap accuracy=0.02");
    let last = capture(first.sequence + 1);

    // Live: an older advert of it, from the rogue.
    replayer.write(first, None).unwrap();
    c.wait_seen(PATIENCE, |v| refused(v, "imu_a", "replayed"));

    // Dead and forgotten: its last advert, from the rogue.
    p.kill9();
    c.wait_for(PATIENCE, |v| v["event"] == "stats" && v["active"].is_null());
    std::thread::sleep(DdsConfig::DEFAULT_GRACE + Duration::from_secs(2));
    let mark = c.mark();
    replayer.write(last, None).unwrap();
    c.wait_since(mark, PATIENCE, |v| refused(v, "imu_a", "replayed"));
    let stats = c.wait_since(mark, PATIENCE, |v| v["event"] == "stats");
    c.wait_since(c.mark(), PATIENCE, |v| {
        v["event"] == "stats" && v["t"].as_f64() > stats["t"].as_f64()
    });
    let back: Vec<&Value> = c.seen[mark..]
        .iter()
        .filter(|v| v["event"] == "selected" && !v["producer"].is_null())
        .collect();
    assert!(back.is_empty(), "the dead producer came back: {back:?}");
}
