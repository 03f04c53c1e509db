//! Wire v2 over real DDS on loopback (issue 14): one participant's
//! advertisers send one heartbeat bundle per period; each entry names its
//! (producer, topic); a state change goes out at once; and while a reader
//! that speaks only v1 is on the domain, the writer sends single v1
//! heartbeats instead, going back to bundles when it leaves.
//!
//! The listening side is plain rustdds, as another build would be: a
//! participant with a bundle reader only, and one with only a reader on
//! the v1 heartbeat topic (a v1 build). Domain 191.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rustdds::with_key::Sample;
use rustdds::{DomainParticipantBuilder, TopicKind};
use vigil_diag::{Observation, Path, State, Tree};
use vigil_discovery::{
    heartbeat_qos, Advertiser, AdvertiserConfig, DdsConfig, HeartbeatBundleWire, HeartbeatWire,
    VigilParticipant, HEARTBEAT_BUNDLE_TOPIC, HEARTBEAT_BUNDLE_TYPE, HEARTBEAT_TOPIC,
    HEARTBEAT_TYPE,
};

const DOMAIN: u16 = 191;
/// Generous: discovery on a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(20);

fn tree(id: &str) -> (Path, Tree) {
    let leaf = Path::parse(&format!("{id}.health")).expect("path");
    let mut spec = vigil_diag::TreeSpec::default();
    spec.nodes.push(vigil_diag::NodeSpec {
        path: leaf.clone(),
        body: vigil_diag::NodeBody::Leaf(vigil_diag::CheckSpec::Status { stale_after: None }),
        criticality: Default::default(),
        filter: Default::default(),
        origin: None,
    });
    let tree = Tree::build(&spec).expect("tree");
    (leaf, tree)
}

fn status(state: State) -> Observation {
    Observation::Status {
        state,
        reason: None,
    }
}

/// Reads bundles until `done` says so (given each bundle), or panics
/// after [`WAIT`] naming `what`.
async fn bundles_until<S>(
    stream: &mut S,
    what: &str,
    mut done: impl FnMut(&HeartbeatBundleWire) -> bool,
) where
    S: futures::Stream<
            Item = rustdds::dds::ReadResult<rustdds::with_key::DataSample<HeartbeatBundleWire>>,
        > + Unpin,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        match next {
            Err(_) => panic!("no bundle {what} within {WAIT:?}"),
            Ok(None) => panic!("bundle stream ended while waiting for {what}"),
            Ok(Some(Err(e))) => panic!("bad bundle sample: {e}"),
            Ok(Some(Ok(sample))) => {
                if let Sample::Value(bundle) = sample.into_value() {
                    if done(&bundle) {
                        return;
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_name_topics_and_give_way_to_v1_readers() {
    // Long periods: an out-of-period heartbeat is then plainly one.
    let config =
        DdsConfig::new(DOMAIN).with_liveness(Duration::from_millis(200), Duration::from_secs(2));
    let producer_side = VigilParticipant::new(config).expect("participant");
    let guid = |n: u8| {
        let mut g = [n; 16];
        g[15] = 0x02;
        g
    };
    // One producer id, two topics; another producer beside it.
    let (leaf, imu_tree) = tree("multi");
    let imu = Advertiser::start(
        &producer_side,
        AdvertiserConfig::new("multi", "imu", "T", guid(1)).with_tree(imu_tree, None),
    )
    .expect("advertiser");
    imu.observe(&leaf, status(State::Ok)).expect("ok");
    let _raw = Advertiser::start(
        &producer_side,
        AdvertiserConfig::new("multi", "imu_raw", "T", guid(2)),
    )
    .expect("advertiser");
    let _solo = Advertiser::start(
        &producer_side,
        AdvertiserConfig::new("solo", "gps", "T", guid(3)),
    )
    .expect("advertiser");

    // A v2 listener: bundles only.
    let v2 = DomainParticipantBuilder::new(DOMAIN)
        .with_only_networks([std::net::Ipv4Addr::LOCALHOST])
        .build()
        .expect("participant");
    let topic = v2
        .create_topic(
            HEARTBEAT_BUNDLE_TOPIC.to_owned(),
            HEARTBEAT_BUNDLE_TYPE.to_owned(),
            &heartbeat_qos(),
            TopicKind::WithKey,
        )
        .expect("topic");
    let subscriber = v2.create_subscriber(&heartbeat_qos()).expect("subscriber");
    let reader = subscriber
        .create_datareader_cdr::<HeartbeatBundleWire>(&topic, Some(heartbeat_qos()))
        .expect("reader");
    let mut bundles = reader.async_sample_stream();

    let expected: BTreeSet<(String, String)> =
        [("multi", "imu"), ("multi", "imu_raw"), ("solo", "gps")]
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
    let prefix = producer_side.guid_prefix().to_vec();
    bundles_until(&mut bundles, "with all three (producer, topic)s", |b| {
        let named: BTreeSet<(String, String)> = b
            .entries
            .iter()
            .map(|e| (e.producer.clone(), e.topic.clone()))
            .collect();
        b.participant == prefix && b.part == 0 && named == expected
    })
    .await;

    // A state change goes out at once, out of period, for its producer
    // and topic only.
    imu.observe(&leaf, status(State::Failed)).expect("failed");
    bundles_until(&mut bundles, "out of period saying FAILED", |b| {
        b.part == u32::MAX
            && b.entries.len() == 1
            && b.entries[0].producer == "multi"
            && b.entries[0].topic == "imu"
            && b.entries[0].state == State::Failed.ros_level()
    })
    .await;

    // A v1 build joins: a reader of single heartbeats, none of bundles.
    let v1 = DomainParticipantBuilder::new(DOMAIN)
        .with_only_networks([std::net::Ipv4Addr::LOCALHOST])
        .build()
        .expect("participant");
    let topic = v1
        .create_topic(
            HEARTBEAT_TOPIC.to_owned(),
            HEARTBEAT_TYPE.to_owned(),
            &heartbeat_qos(),
            TopicKind::WithKey,
        )
        .expect("topic");
    let subscriber = v1.create_subscriber(&heartbeat_qos()).expect("subscriber");
    let single_reader = subscriber
        .create_datareader_cdr::<HeartbeatWire>(&topic, Some(heartbeat_qos()))
        .expect("reader");
    let mut singles = single_reader.async_sample_stream();
    let mut heard = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while heard != expected {
        match tokio::time::timeout_at(deadline, singles.next()).await {
            Err(_) => panic!("v1 reader heard only {heard:?} within {WAIT:?}"),
            Ok(Some(Ok(sample))) => {
                if let Sample::Value(beat) = sample.into_value() {
                    heard.insert((beat.producer, beat.topic));
                }
            }
            Ok(other) => panic!("v1 heartbeat stream: {other:?}"),
        }
    }
    // Meanwhile no bundles: drain what was in flight, then none for
    // several periods.
    let quiet_from = Instant::now() + Duration::from_millis(500);
    let mut bundles_after = 0;
    while Instant::now() < quiet_from + Duration::from_secs(1) {
        if let Ok(Some(Ok(_))) =
            tokio::time::timeout(Duration::from_millis(100), bundles.next()).await
        {
            if Instant::now() > quiet_from {
                bundles_after += 1;
            }
        }
    }
    assert_eq!(bundles_after, 0, "bundles sent while a v1 reader listens");

    // The v1 reader leaves: bundles again.
    drop(singles);
    drop(subscriber);
    drop(v1);
    bundles_until(&mut bundles, "after the v1 reader left", |b| {
        b.participant == prefix && b.part == 0
    })
    .await;
}
