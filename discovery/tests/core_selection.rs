//! Switching rules of the selection, in simulated time (issue 4 item 5).

mod core_support;

use core_support::{advert, ms, path, t, Sim};
use vigil_diag::{FlapDamping, State};
use vigil_discovery::{AdvertKey, CandidateStatus, RegistryInput, SwitchCause, SwitchPolicy};

const IMU: &str = "imu WHERE latency_p99 < 1ms PREFER accuracy";

/// a (best), b, c published at 0; a is active.
fn three(policy: SwitchPolicy) -> Sim {
    let mut sim = Sim::new(IMU, policy);
    sim.publish(advert(
        "a",
        "imu",
        &[("latency_p99", "0.5ms"), ("accuracy", "0.001")],
    ));
    sim.publish(advert(
        "b",
        "imu",
        &[("latency_p99", "0.5ms"), ("accuracy", "0.002")],
    ));
    sim.publish(advert(
        "c",
        "imu",
        &[("latency_p99", "0.5ms"), ("accuracy", "0.003")],
    ));
    assert_eq!(sim.active().as_deref(), Some("a"));
    assert_eq!(
        sim.switches(),
        vec![(0, None, Some("a".into()), SwitchCause::Initial)]
    );
    sim
}

#[test]
fn chain_and_standby_follow_the_ranking() {
    let sim = three(SwitchPolicy::default());
    let chain: Vec<&str> = sim
        .selection
        .chain()
        .iter()
        .map(|k| k.producer.as_str())
        .collect();
    assert_eq!(chain, ["a", "b", "c"]);
    assert_eq!(
        sim.selection.standby().map(|s| s.key.producer.as_str()),
        Some("b")
    );
    assert_eq!(sim.last_event().active.as_ref().map(|a| a.clause), Some(0));
}

#[test]
fn failed_switches_at_once() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(100));
    sim.state("a", "imu", State::Failed);
    assert_eq!(sim.active().as_deref(), Some("b"));
    assert_eq!(
        sim.switches()[1],
        (
            100,
            Some("a".into()),
            Some("b".into()),
            SwitchCause::ActiveFailed {
                state: State::Failed
            }
        )
    );
}

#[test]
fn unknown_from_a_heartbeat_switches_at_once() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(50));
    // Failures travel at heartbeat speed, before any new advert.
    sim.heartbeat_with("a", State::Unknown);
    assert_eq!(sim.active().as_deref(), Some("b"));
    assert_eq!(
        sim.last_event().cause,
        SwitchCause::ActiveFailed {
            state: State::Unknown
        }
    );
}

#[test]
fn lease_expiry_switches_within_the_lease() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(200));
    sim.kill("a"); // its last heartbeat was at 200 ms
    sim.advance_to(t(1_000));
    let (at, from, to, cause) = sim.switches()[1].clone();
    assert_eq!(
        (from.as_deref(), to.as_deref(), cause),
        (Some("a"), Some("b"), SwitchCause::ActiveUnreachable)
    );
    assert_eq!(at, 300, "lease 100 ms after the last heartbeat");
}

#[test]
fn disposal_switches_at_once() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(10));
    sim.kill("a");
    sim.apply(RegistryInput::Disposed(AdvertKey::new("a", "imu")));
    assert_eq!(sim.last_event().cause, SwitchCause::ActiveRemoved);
    assert_eq!(sim.active().as_deref(), Some("b"));
}

#[test]
fn hard_constraint_violation_switches_at_once() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(40));
    sim.update("a", "imu", |a| {
        a.capabilities = core_support::caps(&[("latency_p99", "2ms"), ("accuracy", "0.001")]);
    });
    assert_eq!(sim.active().as_deref(), Some("b"));
    match &sim.last_event().cause {
        SwitchCause::ConstraintViolated { reason } => {
            assert!(reason.contains("latency_p99"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hold_off_is_honoured() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(100));
    sim.state("a", "imu", State::Degraded);
    sim.advance_to(t(299));
    assert_eq!(
        sim.active().as_deref(),
        Some("a"),
        "still within the 200 ms hold-off"
    );
    sim.advance_to(t(400));
    assert_eq!(
        sim.switches()[1],
        (
            300,
            Some("a".into()),
            Some("b".into()),
            SwitchCause::HoldOffExpired {
                state: State::Degraded
            }
        )
    );
}

#[test]
fn hold_off_is_cancelled_by_recovery() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(100));
    sim.state("a", "imu", State::Degraded);
    sim.advance_to(t(250));
    sim.state("a", "imu", State::Ok);
    sim.advance_to(t(3_000));
    assert_eq!(sim.switches().len(), 1, "{:?}", sim.switches());
    assert_eq!(sim.selection.next_deadline(), None);
}

#[test]
fn degraded_under_a_state_ok_query_gets_the_hold_off() {
    let mut sim = Sim::new(
        "imu WHERE health.state = OK PREFER accuracy",
        SwitchPolicy::default(),
    );
    sim.publish(advert("a", "imu", &[("accuracy", "0.001")]));
    sim.publish(advert("b", "imu", &[("accuracy", "0.002")]));
    sim.advance_to(t(100));
    sim.state("a", "imu", State::Degraded);
    assert_eq!(
        sim.active().as_deref(),
        Some("a"),
        "merely degraded: not a hard violation"
    );
    let why = sim.selection.explain(&sim.registry).why_active;
    assert!(why.contains("hold-off"), "{why}");
    sim.advance_to(t(300));
    assert_eq!(sim.active().as_deref(), Some("b"));
    assert_eq!(
        sim.last_event().cause,
        SwitchCause::HoldOffExpired {
            state: State::Degraded
        }
    );
}

#[test]
fn degraded_with_nothing_better_stays() {
    let mut sim = Sim::new(IMU, SwitchPolicy::default());
    sim.publish(advert("a", "imu", &[("latency_p99", "0.5ms")]));
    sim.advance_to(t(10));
    sim.state("a", "imu", State::Degraded);
    sim.advance_to(t(2_000));
    assert_eq!(sim.active().as_deref(), Some("a"));
    assert_eq!(sim.switches().len(), 1);
}

#[test]
fn wait_to_restore_then_revert() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(100));
    sim.state("a", "imu", State::Failed);
    sim.advance_to(t(500));
    sim.state("a", "imu", State::Ok);
    sim.advance_to(t(1_499));
    assert_eq!(sim.active().as_deref(), Some("b"), "within wait-to-restore");
    sim.advance_to(t(2_000));
    assert_eq!(
        sim.switches()[2],
        (
            1_500,
            Some("b".into()),
            Some("a".into()),
            SwitchCause::Restored
        )
    );
}

#[test]
fn a_relapse_during_wait_to_restore_restarts_it() {
    // Four changes in 700 ms would be flap-suppressed: damping off here.
    let no_damping = FlapDamping {
        suppress: 1_000.0,
        reuse: 1.0,
        ..FlapDamping::default()
    };
    let mut sim = three(SwitchPolicy {
        flap: no_damping,
        ..SwitchPolicy::default()
    });
    sim.state("a", "imu", State::Failed);
    sim.advance_to(t(100));
    sim.state("a", "imu", State::Ok);
    sim.advance_to(t(600));
    sim.state("a", "imu", State::Degraded);
    sim.advance_to(t(700));
    sim.state("a", "imu", State::Ok);
    sim.advance_to(t(1_699));
    assert_eq!(sim.active().as_deref(), Some("b"));
    sim.advance_to(t(1_700));
    assert_eq!(sim.active().as_deref(), Some("a"));
}

#[test]
fn non_revertive_stays() {
    let policy = SwitchPolicy {
        revertive: false,
        ..SwitchPolicy::default()
    };
    let mut sim = three(policy);
    sim.state("a", "imu", State::Failed);
    sim.advance_to(t(100));
    sim.state("a", "imu", State::Ok);
    sim.advance_to(t(10_000));
    assert_eq!(sim.active().as_deref(), Some("b"));
    assert_eq!(sim.switches().len(), 2);
    let why = sim.selection.explain(&sim.registry).why_active;
    assert!(why.contains("non-revertive"), "{why}");
}

#[test]
fn a_challenger_must_beat_the_margin() {
    let policy = SwitchPolicy {
        margin: 0.1,
        ..SwitchPolicy::default()
    };
    let mut sim = Sim::new(IMU, policy);
    sim.publish(advert(
        "b",
        "imu",
        &[("latency_p99", "0.5ms"), ("accuracy", "0.010")],
    ));
    // 5 % better: not enough.
    sim.publish(advert(
        "c",
        "imu",
        &[("latency_p99", "0.5ms"), ("accuracy", "0.0095")],
    ));
    sim.advance_to(t(3_000));
    assert_eq!(sim.active().as_deref(), Some("b"));
    let explained = sim.selection.explain(&sim.registry);
    let c = explained
        .candidates
        .iter()
        .find(|c| c.key.producer == "c")
        .expect("c explained");
    assert!(
        c.reasons.iter().any(|r| r.contains("margin")),
        "{:?}",
        c.reasons
    );
    // 20 % better: switch, after wait-to-restore from its arrival.
    sim.publish(advert(
        "d",
        "imu",
        &[("latency_p99", "0.5ms"), ("accuracy", "0.008")],
    ));
    sim.advance_to(t(5_000));
    assert_eq!(
        sim.switches()[1],
        (
            4_000,
            Some("b".into()),
            Some("d".into()),
            SwitchCause::BetterCandidate
        )
    );
}

#[test]
fn zero_margin_takes_any_better_rank() {
    let mut sim = Sim::new(IMU, SwitchPolicy::default());
    sim.publish(advert(
        "b",
        "imu",
        &[("latency_p99", "0.5ms"), ("accuracy", "0.010")],
    ));
    sim.publish(advert(
        "c",
        "imu",
        &[("latency_p99", "0.5ms"), ("accuracy", "0.0099")],
    ));
    sim.advance_to(t(1_500));
    assert_eq!(sim.active().as_deref(), Some("c"));
}

#[test]
fn flapping_producer_is_suppressed_and_counted() {
    let policy = SwitchPolicy {
        flap: FlapDamping::default(), // three quick changes suppress
        ..SwitchPolicy::default()
    };
    let mut sim = three(policy);
    // a flaps: FAILED, OK, FAILED, OK within half a second.
    for (i, state) in [State::Failed, State::Ok, State::Failed, State::Ok]
        .into_iter()
        .enumerate()
    {
        sim.advance_to(t(100 + 100 * i as u64));
        sim.state("a", "imu", state);
    }
    assert_eq!(sim.active().as_deref(), Some("b"));
    // Well past wait-to-restore, a is still suppressed: no revert.
    sim.advance_to(t(3_000));
    assert_eq!(sim.active().as_deref(), Some("b"));
    assert_eq!(sim.selection.stats().flaps_suppressed, 1);
    let explained = sim.selection.explain(&sim.registry);
    let a = explained
        .candidates
        .iter()
        .find(|c| c.key.producer == "a")
        .expect("a explained");
    assert!(
        a.reasons.iter().any(|r| r.contains("flap-suppressed")),
        "{:?}",
        a.reasons
    );
    // Once calm, the penalty decays below reuse and a is restored.
    sim.advance_to(t(30_000));
    assert_eq!(sim.active().as_deref(), Some("a"));
    assert_eq!(sim.last_event().cause, SwitchCause::Restored);
    assert_eq!(
        sim.selection.stats().flaps_suppressed,
        1,
        "counted once per episode"
    );
}

#[test]
fn a_suppressed_producer_is_the_last_resort() {
    let mut sim = Sim::new(IMU, SwitchPolicy::default());
    sim.publish(advert("a", "imu", &[("latency_p99", "0.5ms")]));
    sim.publish(advert("b", "imu", &[("latency_p99", "0.5ms")]));
    for (i, state) in [State::Failed, State::Ok, State::Failed, State::Ok]
        .into_iter()
        .enumerate()
    {
        sim.advance_to(t(10 + 10 * i as u64));
        sim.state("a", "imu", state);
    }
    assert_eq!(sim.active().as_deref(), Some("b"));
    sim.advance_to(t(100));
    sim.state("b", "imu", State::Failed);
    assert_eq!(
        sim.active().as_deref(),
        Some("a"),
        "suppressed, but nothing else qualifies"
    );
}

#[test]
fn else_clause_fallback_and_return() {
    let query = "imu WHERE health.state = OK ELSE gps_imu";
    let mut sim = Sim::new(query, SwitchPolicy::default());
    sim.publish(advert("gps", "gps_imu", &[]));
    sim.publish(advert("a", "imu", &[]));
    // The clause-0 newcomer waits wait-to-restore like any challenger.
    assert_eq!(sim.active().as_deref(), Some("gps"));
    sim.advance_to(t(1_000));
    assert_eq!(sim.active().as_deref(), Some("a"));
    assert_eq!(sim.selection.active().map(|a| a.clause), Some(0));
    sim.advance_to(t(1_100));
    sim.state("a", "imu", State::Failed);
    assert_eq!(sim.active().as_deref(), Some("gps"));
    assert_eq!(sim.selection.active().map(|a| a.clause), Some(1));
    sim.advance_to(t(1_200));
    sim.state("a", "imu", State::Ok);
    sim.advance_to(t(2_199));
    assert_eq!(
        sim.active().as_deref(),
        Some("gps"),
        "return to clause 0 waits to restore"
    );
    sim.advance_to(t(2_200));
    assert_eq!(sim.active().as_deref(), Some("a"));
    assert_eq!(sim.last_event().cause, SwitchCause::Restored);
}

#[test]
fn else_is_used_only_when_no_earlier_candidate() {
    let query = "imu WHERE health.state <= DEGRADED ELSE gps_imu";
    let mut sim = Sim::new(query, SwitchPolicy::default());
    sim.publish(advert("a", "imu", &[]));
    sim.publish(advert("gps", "gps_imu", &[]));
    sim.state("a", "imu", State::Degraded);
    sim.advance_to(t(2_000));
    assert_eq!(
        sim.active().as_deref(),
        Some("a"),
        "a degraded clause-0 producer beats any ELSE"
    );
}

#[test]
fn no_candidate_then_available() {
    let mut sim = three(SwitchPolicy::default());
    for p in ["a", "b", "c"] {
        sim.state(p, "imu", State::Failed);
    }
    assert_eq!(sim.active(), None);
    assert_eq!(sim.selection.chain(), &[] as &[AdvertKey]);
    sim.advance_to(t(100));
    sim.state("c", "imu", State::Ok);
    assert_eq!(sim.active().as_deref(), Some("c"));
    assert_eq!(sim.last_event().cause, SwitchCause::Available);
}

#[test]
fn a_restart_with_a_new_writer_is_followed() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(100));
    sim.update("a", "imu", |a| {
        a.writer_guid = core_support::guid("a", 1);
        a.sequence = 1; // a new incarnation starts again
    });
    // The old incarnation is live until it withdraws (issue 13: no
    // hijacking); then the new one takes over at once.
    assert_eq!(
        sim.last_event().active.as_ref().map(|a| a.writer_guid),
        Some(core_support::guid("a", 0))
    );
    sim.apply(RegistryInput::Disposed(AdvertKey::new("a", "imu")));
    let e = sim.last_event();
    assert_eq!(e.cause, SwitchCause::EndpointChanged);
    assert_eq!(
        e.active.as_ref().map(|a| a.writer_guid),
        Some(core_support::guid("a", 1))
    );
}

#[test]
fn shared_component_vote_feeds_health_conditions() {
    let query = "imu WHERE health('vehicle.power.bus_a') != FAILED PREFER accuracy";
    let mut sim = Sim::new(query, SwitchPolicy::default());
    // Two observers report the bus; the IMUs do not.
    for obs in ["pdu1", "pdu2"] {
        let mut a = advert(obs, "power", &[]);
        a.health
            .nodes
            .insert(path("vehicle.power.bus_a"), State::Ok);
        sim.publish(a);
    }
    sim.publish(advert("a", "imu", &[("accuracy", "0.001")]));
    assert_eq!(sim.active().as_deref(), Some("a"));
    // One observer says FAILED: no majority, UNKNOWN(conflicting), which is
    // not FAILED: still selected.
    sim.update("pdu1", "power", |a| {
        a.health
            .nodes
            .insert(path("vehicle.power.bus_a"), State::Failed);
    });
    assert_eq!(sim.active().as_deref(), Some("a"));
    // Both say FAILED: the condition fails, a hard violation.
    sim.update("pdu2", "power", |a| {
        a.health
            .nodes
            .insert(path("vehicle.power.bus_a"), State::Failed);
    });
    assert_eq!(sim.active(), None);
    assert!(matches!(
        sim.last_event().cause,
        SwitchCause::ConstraintViolated { .. }
    ));
}

#[test]
fn explain_says_why() {
    let mut sim = three(SwitchPolicy::default());
    sim.publish(advert("slow", "imu", &[("latency_p99", "3ms")]));
    sim.state("c", "imu", State::Failed);
    sim.publish(advert("other", "lidar", &[]));
    let e = sim.selection.explain(&sim.registry);
    let status = |p: &str| {
        e.candidates
            .iter()
            .find(|c| c.key.producer == p)
            .map(|c| c.status)
    };
    assert_eq!(status("a"), Some(CandidateStatus::Active));
    assert_eq!(status("b"), Some(CandidateStatus::Standby));
    assert_eq!(status("c"), Some(CandidateStatus::Rejected));
    assert_eq!(status("slow"), Some(CandidateStatus::Rejected));
    assert_eq!(e.other_topics, 1);
    let text = e.to_string();
    assert!(text.contains("latency_p99 < 1ms is false"), "{text}");
    assert!(text.contains("health FAILED"), "{text}");
    let json = serde_json::to_value(&e).expect("json");
    assert_eq!(json["active"]["key"]["producer"], "a");
    assert_eq!(json["candidates"][0]["status"], "active");
}

#[test]
fn same_inputs_same_events() {
    let run = || {
        let mut sim = three(SwitchPolicy::default());
        sim.state("a", "imu", State::Degraded);
        sim.advance_to(t(500));
        sim.kill("b");
        sim.advance_to(t(2_000));
        sim.state("a", "imu", State::Ok);
        sim.advance_to(t(4_000));
        sim.events.clone()
    };
    let (first, second) = (run(), run());
    assert_eq!(first, second);
    assert!(first.len() >= 3, "{first:?}");
}

#[test]
fn timers_are_reported_as_deadlines() {
    let mut sim = three(SwitchPolicy::default());
    sim.advance_to(t(100));
    sim.state("a", "imu", State::Degraded);
    assert_eq!(sim.selection.next_deadline(), Some(t(300)));
    assert_eq!(sim.selection.hold_off_until(), Some(t(300)));
    sim.advance(ms(250));
    assert_eq!(sim.selection.hold_off_until(), None);
}

#[test]
fn events_carry_the_head_of_a_long_chain() {
    let mut sim = Sim::new(IMU, SwitchPolicy::default());
    for i in 0..40 {
        let accuracy = format!("0.{:03}", i + 1);
        sim.publish(advert(
            &format!("p{i:02}"),
            "imu",
            &[("latency_p99", "0.5ms"), ("accuracy", &accuracy)],
        ));
    }
    sim.state("p00", "imu", State::Failed);
    let e = sim.last_event();
    assert_eq!(e.chain.len(), vigil_discovery::EVENT_CHAIN_MAX);
    assert_eq!(e.chain_len, 39);
    assert_eq!(sim.selection.chain().len(), 39);
    assert_eq!(e.chain[0].producer, "p01");
}
