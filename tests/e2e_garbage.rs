//! Issue 4: garbage on the advert topic (another struct under the advert
//! type name, and random bytes) is counted as rejected and ignored; the
//! consumer keeps selecting and receiving.

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use rustdds::{DomainParticipantBuilder, Keyed, TopicKind};
use serde::{Deserialize, Serialize};
use support::{selected, Proc, PATIENCE};
use vigil_discovery::{advert_qos, ADVERT_TOPIC, ADVERT_TYPE};

/// Not an advert, but published as one.
#[derive(Debug, Serialize, Deserialize)]
struct Junk {
    id: u32,
    bytes: Vec<u8>,
}

impl Keyed for Junk {
    type K = u32;
    fn key(&self) -> u32 {
        self.id
    }
}

#[test]
fn garbage_adverts_are_rejected_and_ignored() {
    let domain = 44;
    let _a = Proc::producer(domain, "imu_a", &["accuracy=0.001"], &[]);
    let _b = Proc::producer(domain, "imu_b", &["accuracy=0.002"], &[]);
    let mut c = Proc::consumer(
        domain,
        "imu WHERE health.state = OK PREFER accuracy ASC",
        &[],
    );
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));

    let dp = DomainParticipantBuilder::new(domain)
        .with_only_networks([Ipv4Addr::LOCALHOST])
        .build()
        .expect("participant");
    let topic = dp
        .create_topic(
            ADVERT_TOPIC.to_owned(),
            ADVERT_TYPE.to_owned(),
            &advert_qos(),
            TopicKind::WithKey,
        )
        .expect("topic");
    let publisher = dp.create_publisher(&advert_qos()).expect("publisher");
    let writer = publisher
        .create_datawriter_cdr::<Junk>(&topic, Some(advert_qos()))
        .expect("writer");
    // Random-looking bytes of several lengths, including ones long enough
    // to start like an advert.
    let mut seed = 0x9e37_79b9_u32;
    for id in 0..20u32 {
        let len = (id as usize * 37) % 300;
        let bytes = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        writer.write(Junk { id, bytes }, None).expect("write");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Counted...
    let stats = c.wait_for(PATIENCE, |v| {
        v["event"] == "stats" && v["rejected"].as_u64().unwrap_or(0) >= 1
    });
    assert!(stats["malformed"].as_u64().unwrap_or(0) >= 1, "{stats}");
    // ...and ignored: still on imu_a, still receiving from it.
    let later = c.wait_for(PATIENCE, |v| {
        v["event"] == "stats" && v["samples"]["imu_a"].as_u64().unwrap_or(0) > 0
    });
    assert_eq!(later["active"], "imu_a", "{later}");
    assert!(
        !c.seen
            .iter()
            .any(|v| v["event"] == "selected" && v["producer"] != "imu_a"),
        "garbage made the consumer switch: {:?}",
        c.seen
    );

    // The monitor sees the two real adverts and the rejections too (it
    // joins late: transient-local gives it the junk still held).
    let mut m = Proc::spawn(
        "monitor",
        &[
            "monitor",
            "--domain",
            "44",
            "--once",
            "--format",
            "json",
            "--settle-ms",
            "2000",
        ],
    );
    let snapshot = m.wait_for(PATIENCE, |v| v.get("adverts").is_some());
    let producers: Vec<&str> = snapshot["adverts"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["producer"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(producers, ["imu_a", "imu_b"], "{snapshot}");
    assert!(
        snapshot["stats"]["rejected"].as_u64().unwrap_or(0) >= 1,
        "{snapshot}"
    );
}
