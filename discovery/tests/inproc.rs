//! The in-process transport: scenarios of several producers on a manual
//! clock, deterministic and fast, through the same cores as DDS.

use std::time::Duration;

use vigil_diag::{CheckSpec, NodeBody, NodeSpec, Observation, Path, State, Tree, TreeSpec};
use vigil_discovery::inproc::{
    InProcAdvertiser, InProcConfig, InProcConsumer, InProcConsumerConfig, InProcess, Incoming,
};
use vigil_discovery::{AdvertiserConfig, SwitchCause};
use vigil_qos::{Capabilities, Query, Value};

const TYPE: &str = "test::Reading";

fn leaf(id: &str) -> Path {
    Path::parse(&format!("{id}.health")).unwrap()
}

fn producer(net: &InProcess, id: &str, accuracy: f64) -> InProcAdvertiser {
    let spec = TreeSpec {
        nodes: vec![NodeSpec::new(
            leaf(id),
            NodeBody::Leaf(CheckSpec::Status { stale_after: None }),
        )],
        shared: Vec::new(),
    };
    let mut tree = Tree::build(&spec).unwrap();
    let ok = Observation::Status {
        state: State::Ok,
        reason: None,
    };
    tree.observe(&leaf(id), ok, net.now()).unwrap();
    let mut caps = Capabilities::new();
    caps.insert(
        "accuracy",
        Value::parse_capability(&accuracy.to_string()).unwrap(),
    )
    .unwrap();
    let config = AdvertiserConfig::new(id, "imu", TYPE, [0; 16])
        .with_capabilities(caps)
        .with_tree(tree, None);
    net.advertise(config).unwrap()
}

fn drain<T>(consumer: &InProcConsumer<T>) -> Vec<Incoming<T>> {
    std::iter::from_fn(|| consumer.try_recv()).collect()
}

fn switches<T>(items: &[Incoming<T>]) -> Vec<(Option<String>, SwitchCause)> {
    items
        .iter()
        .filter_map(|i| match i {
            Incoming::Selected(e) => Some((
                e.active.as_ref().map(|a| a.key.producer.clone()),
                e.cause.clone(),
            )),
            Incoming::Sample(_) => None,
        })
        .collect()
}

/// Runs `ms` milliseconds, each producer in `writers` writing its name
/// every millisecond.
fn run(net: &InProcess, writers: &[&InProcAdvertiser], ms: u64) {
    for _ in 0..ms {
        net.advance(Duration::from_millis(1));
        for w in writers {
            w.write(w.producer().to_owned());
        }
    }
}

/// The switches (to whom, why) and the samples (from whom, replayed).
type Outcome = (Vec<(Option<String>, SwitchCause)>, Vec<(String, bool)>);

fn scenario(hot_standby: bool) -> Outcome {
    let net = InProcess::new(InProcConfig::default());
    let a = producer(&net, "imu_a", 0.001);
    let b = producer(&net, "imu_b", 0.01);
    let query = Query::parse("imu WHERE health.state = OK PREFER accuracy ASC").unwrap();
    let consumer = net.follow::<String>(
        &query,
        TYPE,
        InProcConsumerConfig::default().with_hot_standby(hot_standby),
    );
    run(&net, &[&a, &b], 100);
    // a dies without a word: b takes over at the lease.
    drop(a);
    run(&net, &[&b], 300);
    let items = drain(&consumer);
    let samples = items
        .iter()
        .filter_map(|i| match i {
            Incoming::Sample(s) => Some((s.value.clone(), s.replayed)),
            Incoming::Selected(_) => None,
        })
        .collect();
    (switches(&items), samples)
}

#[test]
fn a_killed_producer_is_left_at_the_lease_and_the_run_is_deterministic() {
    let (events, samples) = scenario(false);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], (Some("imu_a".into()), SwitchCause::Initial));
    assert_eq!(
        events[1],
        (Some("imu_b".into()), SwitchCause::ActiveUnreachable)
    );
    let first_b = samples.iter().position(|(p, _)| p == "imu_b").unwrap();
    assert!(samples[..first_b].iter().all(|(p, _)| p == "imu_a"));
    assert!(samples[first_b..].iter().all(|(p, _)| p == "imu_b"));
    // Same inputs, same times: same events and samples.
    assert_eq!(scenario(false), (events, samples));
}

#[test]
fn hot_standby_replays_the_lease_so_nothing_is_lost() {
    let (_, cold) = scenario(false);
    let (_, hot) = scenario(true);
    // 400 ms at 1 kHz: the cold consumer lost the lease's worth of
    // samples, the hot one got one per millisecond.
    assert!(cold.len() < 350, "{}", cold.len());
    assert_eq!(hot.len(), 400);
    assert!(hot.iter().any(|(_, replayed)| *replayed));
}

#[test]
fn a_degraded_producer_is_left_after_the_hold_off_and_a_clean_exit_at_once() {
    let net = InProcess::new(InProcConfig::default());
    let a = producer(&net, "imu_a", 0.001);
    let b = producer(&net, "imu_b", 0.01);
    let c = producer(&net, "imu_c", 0.1);
    let query = Query::parse("imu WHERE health.state = OK PREFER accuracy ASC").unwrap();
    let consumer = net.follow::<String>(&query, TYPE, InProcConsumerConfig::default());
    net.advance(Duration::from_millis(10));
    let degraded = Observation::Status {
        state: State::Degraded,
        reason: None,
    };
    let t0 = net.now();
    a.observe(&leaf("imu_a"), degraded).unwrap();
    net.advance(Duration::from_millis(400));
    let events = drain(&consumer);
    let Some(Incoming::Selected(left)) = events
        .iter()
        .rev()
        .find(|i| matches!(i, Incoming::Selected(_)))
    else {
        panic!("no switch");
    };
    assert_eq!(left.active.as_ref().unwrap().key.producer, "imu_b");
    assert!(matches!(left.cause, SwitchCause::HoldOffExpired { .. }));
    // The default hold-off is 200 ms: not before.
    assert!(left.at.saturating_since(t0) >= Duration::from_millis(200));
    // b leaves cleanly: c at once, no lease.
    let t1 = net.now();
    b.shutdown();
    let events = switches(&drain(&consumer));
    assert_eq!(
        events,
        vec![(Some("imu_c".into()), SwitchCause::ActiveRemoved)]
    );
    assert_eq!(net.now(), t1);
    // a is DEGRADED, which `health.state = OK` excludes from the chain.
    assert_eq!(consumer.chain().len(), 1);
    drop(c);
}

#[test]
fn a_late_consumer_gets_every_current_advert_at_once() {
    let net = InProcess::new(InProcConfig::default());
    let _a = producer(&net, "imu_a", 0.001);
    net.advance(Duration::from_secs(5));
    let query = Query::parse("imu").unwrap();
    let consumer = net.follow::<String>(&query, TYPE, InProcConsumerConfig::default());
    assert_eq!(consumer.active().unwrap().key.producer, "imu_a");
}

#[test]
fn samples_of_another_rust_type_are_counted_not_delivered() {
    let net = InProcess::new(InProcConfig::default());
    let a = producer(&net, "imu_a", 0.001);
    let query = Query::parse("imu").unwrap();
    let consumer = net.follow::<String>(&query, TYPE, InProcConsumerConfig::default());
    a.write(42_u32);
    assert_eq!(consumer.stats().data.errors, 1);
    assert!(drain(&consumer)
        .iter()
        .all(|i| matches!(i, Incoming::Selected(_))));
}

#[test]
fn thousands_of_simulated_seconds_run_in_a_blink() {
    let net = InProcess::new(InProcConfig::default());
    let producers: Vec<_> = (0..20)
        .map(|i| producer(&net, &format!("p{i}"), 0.001 * f64::from(i + 1)))
        .collect();
    let consumer = net.follow::<String>(&Query::parse("imu").unwrap(), TYPE, Default::default());
    net.advance(Duration::from_secs(60));
    assert_eq!(consumer.chain().len(), producers.len());
    assert!(consumer.stats().registry.heartbeats >= 20 * 60 * 49);
}

/// Review finding: a crashed producer's advert leaves the transient-local
/// store with it, as a dead DDS writer's data does, so a consumer that
/// joins later never selects it.
#[test]
fn a_consumer_joining_after_a_crash_never_hears_the_dead_producer() {
    let net = InProcess::new(InProcConfig::default());
    let a = producer(&net, "imu_a", 0.001);
    let _b = producer(&net, "imu_b", 0.01);
    net.advance(Duration::from_millis(10));
    drop(a);
    let query = Query::parse("imu PREFER accuracy ASC").unwrap();
    let consumer = net.follow::<String>(&query, TYPE, InProcConsumerConfig::default());
    assert_eq!(consumer.active().unwrap().key.producer, "imu_b");
    assert_eq!(consumer.chain().len(), 1);
}

#[test]
fn a_liveness_contract_that_cannot_work_is_refused() {
    let zero = InProcConfig::default().with_liveness(Duration::ZERO, Duration::from_millis(100));
    assert!(zero.validate().is_err());
    let short = InProcConfig::default()
        .with_liveness(Duration::from_millis(100), Duration::from_millis(100));
    assert!(short.validate().unwrap_err().to_string().contains("lease"));
    assert!(InProcConfig::default().validate().is_ok());
}

/// Issue 14: the in-process consumer judges each sample's arrival with its
/// circuit breakers, as a DDS consumer does: a producer whose samples
/// come late is ejected and left; back on time, it is probed, closed and
/// selected again.
#[test]
fn a_late_producer_is_ejected_by_the_in_process_consumer() {
    let net = InProcess::new(InProcConfig::default());
    let with_rate = |id: &str, accuracy: f64| {
        let p = producer(&net, id, accuracy);
        p.set_capability("rate_hz", Value::parse_capability("1000Hz").unwrap())
            .unwrap();
        p
    };
    let a = with_rate("imu_a", 0.001);
    let b = with_rate("imu_b", 0.01);
    let query = Query::parse("imu WHERE health.state = OK PREFER accuracy ASC").unwrap();
    let mut breaker = vigil_discovery::BreakerPolicy::default();
    breaker.base_ejection = Duration::from_millis(500);
    let policy = vigil_discovery::SwitchPolicy {
        breaker: Some(breaker),
        ..Default::default()
    };
    let consumer = net.follow::<String>(
        &query,
        TYPE,
        InProcConsumerConfig::default().with_policy(policy),
    );
    run(&net, &[&a, &b], 100);
    // a writes once every 20 ms (20 periods): late every time.
    for _ in 0..10 {
        run(&net, &[&b], 19);
        run(&net, &[&a, &b], 1);
    }
    let items = drain(&consumer);
    assert_eq!(
        switches(&items).last(),
        Some(&(Some("imu_b".into()), SwitchCause::Ejected { ejections: 1 })),
        "{:?}",
        switches(&items)
    );
    // On time again: half-open after 500 ms, closed, back after
    // wait-to-restore (1 s).
    run(&net, &[&a, &b], 2_000);
    let items = drain(&consumer);
    assert_eq!(
        switches(&items),
        [(Some("imu_a".into()), SwitchCause::Restored)]
    );
}
