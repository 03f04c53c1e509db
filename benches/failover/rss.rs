//! The memory part of the failover harness: a consumer process holding
//! 1 000 adverts, and the child roles it needs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use vigil_discovery::clock::unix_now_ns;
use vigil_discovery::{
    advert_qos, AdvertKeyWire, AdvertWire, DdsConfig, HealthWire, NodeStateWire, OfferedQosWire,
    Selector, SelectorConfig, VigilParticipant, ADVERT_TOPIC, ADVERT_TYPE, NOT_SET, SYNTHETIC_TYPE,
    WIRE_VERSION,
};
use vigil_qos::{Capabilities, Query, Value};

use super::QUERY;

fn vm_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Child role: publishes `n` adverts with 10 nodes each, until stdin closes.
pub(crate) async fn advert_flood(domain: u16, n: usize) {
    use rustdds::TopicKind;
    let p = VigilParticipant::new(DdsConfig::new(domain)).expect("participant");
    let topic = p
        .dds()
        .create_topic(
            ADVERT_TOPIC.to_owned(),
            ADVERT_TYPE.to_owned(),
            &advert_qos(),
            TopicKind::WithKey,
        )
        .expect("topic");
    let writer = p
        .publisher()
        .create_datawriter_cdr::<AdvertWire>(&topic, Some(advert_qos()))
        .expect("writer");
    let mut caps = Capabilities::new();
    caps.insert("accuracy", Value::number(0.001).expect("n"))
        .expect("cap");
    caps.insert(
        "latency_p99",
        vigil_qos::Quantity::parse("0.5ms").expect("q"),
    )
    .expect("cap");
    for i in 0..n {
        let producer = format!("flood_{i:04}");
        let nodes = (0..10)
            .map(|k| NodeStateWire {
                path: format!("{producer}.unit{k}"),
                state: 0,
            })
            .collect();
        let advert = AdvertWire {
            version: WIRE_VERSION,
            key: AdvertKeyWire {
                producer: producer.clone(),
                topic: "imu".to_owned(),
            },
            type_name: SYNTHETIC_TYPE.to_owned(),
            writer_guid: (0..16).map(|b| (b as u8) ^ (i as u8)).collect(),
            capabilities: caps.encode_cdr(),
            qos: OfferedQosWire::default(),
            diagnostic_root: producer.clone(),
            health: HealthWire {
                state: 0,
                reason: NOT_SET,
                confidence: 1.0,
                trend: 0,
                nodes,
            },
            heartbeat_period_ns: 1_000_000_000,
            // No heartbeats: a long lease keeps them all reachable.
            lease_ns: 600_000_000_000,
            sequence: 1,
            timestamp_ns: unix_now_ns(),
            signature: Vec::new(),
            supervisor: Vec::new(),
        };
        while writer.write(advert.clone(), None).is_err() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    println!("published");
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
}

/// Child role: a consumer (with a query, or the registry only); prints its
/// RSS before and after `n` adverts.
pub(crate) async fn rss_consumer(domain: u16, n: usize, with_query: bool) {
    let p = VigilParticipant::new(DdsConfig::new(domain)).expect("participant");
    let query = Query::parse(QUERY).expect("query");
    let selector = if with_query {
        Selector::start(&p, &query, SelectorConfig::default())
    } else {
        Selector::registry_only(&p, SelectorConfig::default())
    }
    .expect("selector");
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("baseline {}", vm_rss_kb());
    let _ = std::io::stdout().flush();
    let deadline = Instant::now() + Duration::from_secs(120);
    while selector.registry().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "loaded {} {} {}",
        selector.registry().len(),
        vm_rss_kb(),
        selector
            .active()
            .map(|a| a.key.producer)
            .unwrap_or_default()
    );
}

/// Child role: the same adverts read by a plain rustdds reader and dropped:
/// what DDS alone costs.
pub(crate) async fn rss_raw(domain: u16, n: usize) {
    use rustdds::TopicKind;
    let p = VigilParticipant::new(DdsConfig::new(domain)).expect("participant");
    let topic = p
        .dds()
        .create_topic(
            ADVERT_TOPIC.to_owned(),
            ADVERT_TYPE.to_owned(),
            &advert_qos(),
            TopicKind::WithKey,
        )
        .expect("topic");
    let reader = p
        .subscriber()
        .create_datareader_cdr::<AdvertWire>(&topic, Some(advert_qos()))
        .expect("reader");
    let mut stream = reader.async_sample_stream();
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("baseline {}", vm_rss_kb());
    let _ = std::io::stdout().flush();
    let mut seen = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while seen.len() < n {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(s))) => {
                if let rustdds::with_key::Sample::Value(v) = s.value() {
                    seen.insert(v.key.producer.clone());
                }
            }
            Ok(Some(Err(_))) => {}
            _ => break,
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("loaded {} {} -", seen.len(), vm_rss_kb());
}

pub(crate) fn rss(n: usize) {
    rss_role("rss-consumer", "consumer with a query", n, "99");
    rss_role("rss-registry", "registry only (vigil monitor)", n, "98");
    rss_role("rss-raw", "plain rustdds reader, adverts dropped", n, "97");
}

fn rss_role(role: &str, what: &str, n: usize, domain: &str) {
    let exe = std::env::current_exe().expect("bench executable");
    let mut consumer = Command::new(&exe)
        .args(["--role", role, domain, &n.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("consumer");
    let mut lines = BufReader::new(consumer.stdout.take().expect("stdout")).lines();
    let baseline = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    let mut flood = Command::new(&exe)
        .args(["--role", "advert-flood", domain, &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("flood");
    let loaded = lines.next().and_then(|l| l.ok()).unwrap_or_default();
    drop(flood.stdin.take());
    let _ = flood.wait();
    let _ = consumer.wait();
    let kb = |s: &str, i: usize| s.split_whitespace().nth(i).unwrap_or("?").to_owned();
    println!(
        "rss ({what}): VmRSS {} kB before adverts, {} kB holding {} adverts x 10 nodes (active {})",
        kb(&baseline, 1),
        kb(&loaded, 2),
        kb(&loaded, 1),
        kb(&loaded, 3)
    );
}
