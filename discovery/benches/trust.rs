//! Issue 13: what verifying costs a consumer.
//!
//! - `advert_verify`: one signed advert, Ed25519 (`verify_strict`), key
//!   decoded from the cache; a different advert each time (5 000 of them,
//!   more than the verified-signature cache holds).
//! - `advert_verify_repeat`: the same advert again (a producer's repeat
//!   every second): from the verified-signature cache.
//! - `advert_verify_batch64`: 64 adverts in one batch (per batch; divide
//!   by 64).
//! - `heartbeat_chain_step`: one heartbeat's hash-chain check (one SHA-256).
//! - `registry_heartbeat_{unsigned,signed}`: the whole core input, a
//!   heartbeat applied to a registry of 1 000 producers, mode off with
//!   unsigned producers vs mode enforce with signed ones. Times 50 000 a
//!   second (1 000 producers at 50 Hz) is the consumer core's CPU.
//!
//! - `consumer_cpu` (printed, not a criterion figure): the CPU time
//!   (user + sys from `/proc/self/stat`, not wall time: the machine is
//!   shared) the registry spends on 10 s worth of heartbeats from 1 000
//!   producers at 50 Hz, signed (mode enforce) vs unsigned (mode off), as
//!   a percentage of one core.
//!
//! `cargo bench -p vigil-discovery --bench trust`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use vigil_diag::Timestamp;
use vigil_discovery::{
    sign_advert, AdvertKeyWire, AdvertWire, ChainCheck, HashChain, HealthWire, HeartbeatAuth,
    HeartbeatWire, KeyPair, OfferedQosWire, Registry, RegistryConfig, RegistryInput, TrustMode,
    TrustPolicy, TrustedKey, Verifier, NOT_SET, WIRE_VERSION,
};
use vigil_qos::Capabilities;

const PRODUCERS: usize = 1000;

fn advert(producer: &str, n: usize) -> AdvertWire {
    let mut guid = [0u8; 16];
    guid[..8].copy_from_slice(&(n as u64).to_le_bytes());
    guid[15] = 2;
    AdvertWire {
        version: WIRE_VERSION,
        key: AdvertKeyWire {
            producer: producer.into(),
            topic: "imu".into(),
        },
        type_name: "sensor_msgs::msg::dds_::Imu_".into(),
        writer_guid: guid.to_vec(),
        capabilities: Capabilities::new().encode_cdr(),
        qos: OfferedQosWire {
            reliability: NOT_SET,
            durability: NOT_SET,
            deadline_ns: u64::MAX,
            liveliness: NOT_SET,
            liveliness_lease_ns: u64::MAX,
            ownership: NOT_SET,
            destination_order: NOT_SET,
        },
        diagnostic_root: String::new(),
        health: HealthWire {
            state: 0,
            reason: NOT_SET,
            confidence: 1.0,
            trend: 0,
            nodes: vec![],
        },
        heartbeat_period_ns: 20_000_000,
        lease_ns: 3_600_000_000_000,
        sequence: 1,
        timestamp_ns: 1,
        signature: vec![],
        supervisor: vec![],
    }
}

fn sender(n: usize) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&(n as u64).to_le_bytes());
    s[15] = 3;
    s
}

fn heartbeat(producer: &str, sequence: u64, auth: Vec<u8>) -> HeartbeatWire {
    HeartbeatWire {
        version: WIRE_VERSION,
        producer: producer.into(),
        topic: String::new(),
        sequence,
        state: 0,
        advert_sequence: 1,
        timestamp_ns: sequence,
        auth,
    }
}

fn verification(c: &mut Criterion) {
    let key = KeyPair::from_seed([1; 32]);
    let mut signed = advert("imu_0", 0);
    sign_advert(&mut signed, &key, [7; 32]).unwrap();
    let verifier = Verifier::new();
    let distinct: Vec<AdvertWire> = (0..5000u64)
        .map(|n| {
            let mut a = advert("imu_0", 0);
            a.sequence = n + 1;
            sign_advert(&mut a, &key, [7; 32]).unwrap();
            a
        })
        .collect();
    let mut next = 0;
    c.bench_function("advert_verify", |b| {
        b.iter(|| {
            next = (next + 1) % distinct.len();
            black_box(verifier.verify_advert(black_box(&distinct[next])).unwrap())
        })
    });
    c.bench_function("advert_verify_repeat", |b| {
        b.iter(|| black_box(verifier.verify_advert(black_box(&signed)).unwrap()))
    });
    let batch: Vec<&AdvertWire> = std::iter::repeat_n(&signed, 64).collect();
    c.bench_function("advert_verify_batch64", |b| {
        b.iter(|| verifier.verify_batch(black_box(&batch)).unwrap())
    });
    // One step of a long chain, the check state reset every CHAIN_LEN.
    let mut chain = HashChain::from_seed([2; 32]);
    let mut check = ChainCheck::new(chain.anchor());
    c.bench_function("heartbeat_chain_step", |b| {
        b.iter(|| {
            let auth = match chain.next_auth() {
                Some(auth) => auth,
                None => {
                    chain = HashChain::from_seed([2; 32]);
                    check = ChainCheck::new(chain.anchor());
                    chain.next_auth().unwrap()
                }
            };
            let auth = HeartbeatAuth::decode(&auth).unwrap().unwrap();
            check.verify(black_box(&auth)).unwrap();
        })
    });
}

/// A registry holding PRODUCERS adverts (signed under mode enforce, or
/// unsigned under mode off) and each producer's heartbeat chain.
fn loaded_registry(signed: bool) -> (Registry, Vec<Option<HashChain>>) {
    let registry = Registry::new(RegistryConfig::default());
    let key = KeyPair::from_seed([1; 32]);
    if signed {
        registry.set_policy(TrustPolicy::new(
            TrustMode::Enforce,
            vec![TrustedKey::new("all", key.public()).advertising(&["*"], &[])],
        ));
    }
    let mut chains = Vec::new();
    for n in 0..PRODUCERS {
        let mut wire = advert(&format!("imu_{n}"), n);
        if signed {
            let chain = HashChain::from_seed([n as u8; 32]);
            sign_advert(&mut wire, &key, chain.anchor()).unwrap();
            chains.push(Some(chain));
        } else {
            chains.push(None);
        }
        registry.apply(
            RegistryInput::AdvertFrom {
                wire,
                sender: sender(n),
            },
            Timestamp::from_nanos(1),
        );
    }
    assert_eq!(registry.len(), PRODUCERS);
    (registry, chains)
}

/// A registry of PRODUCERS producers and their heartbeats, round robin.
fn registry_heartbeats(c: &mut Criterion) {
    for signed in [false, true] {
        let (registry, mut chains) = loaded_registry(signed);
        // Heartbeats prepared ahead (the producer's cost is not the
        // consumer's): 4 000 per producer at most.
        let rounds = 4000usize;
        let mut beats = Vec::with_capacity(PRODUCERS * 8);
        let ids: Vec<String> = (0..PRODUCERS).map(|n| format!("imu_{n}")).collect();
        let mut round = 0u64;
        let mut i = 0usize;
        let name = if signed {
            "registry_heartbeat_signed"
        } else {
            "registry_heartbeat_unsigned"
        };
        c.bench_function(name, |b| {
            b.iter_batched(
                || {
                    if beats.is_empty() {
                        round += 1;
                        assert!(
                            round as usize <= rounds,
                            "chains ran out; lower the sample count"
                        );
                        for (n, chain) in chains.iter_mut().enumerate() {
                            let auth = chain
                                .as_mut()
                                .and_then(HashChain::next_auth)
                                .unwrap_or_default();
                            beats.push((heartbeat(&ids[n], round, auth), sender(n)));
                        }
                        beats.reverse();
                    }
                    i += 1;
                    let (wire, sender) = beats.pop().unwrap();
                    (wire, sender, Timestamp::from_nanos(2 + i as u64))
                },
                |(wire, sender, at)| {
                    registry.apply(RegistryInput::HeartbeatFrom { wire, sender }, at)
                },
                criterion::BatchSize::SmallInput,
            )
        });
        assert_eq!(registry.stats().refused.total(), 0);
    }
}

/// This process's CPU time so far (user + sys), from `/proc/self/stat`.
fn cpu_time() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name (which may hold spaces): utime and
    // stime are the 12th and 13th after it, in clock ticks.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // CLK_TCK is 100 on Linux (USER_HZ is fixed for the /proc interface).
    std::time::Duration::from_millis(ticks * 10)
}

/// CPU time of 10 s worth of 1 000 producers x 50 Hz heartbeats through
/// the registry, signed vs unsigned, as a percentage of one core.
fn consumer_cpu(_: &mut Criterion) {
    const HZ: usize = 50;
    const SECONDS: usize = 10;
    for signed in [false, true] {
        let (registry, mut chains) = loaded_registry(signed);
        let ids: Vec<String> = (0..PRODUCERS).map(|n| format!("imu_{n}")).collect();
        // Prepared ahead: the producers' hashing is not the consumer's.
        let mut beats = Vec::with_capacity(PRODUCERS * HZ * SECONDS);
        for round in 1..=(HZ * SECONDS) as u64 {
            for (n, chain) in chains.iter_mut().enumerate() {
                let auth = chain
                    .as_mut()
                    .and_then(HashChain::next_auth)
                    .unwrap_or_default();
                beats.push((heartbeat(&ids[n], round, auth), sender(n)));
            }
        }
        let before = cpu_time();
        for (i, (wire, sender)) in beats.into_iter().enumerate() {
            // Simulated time: 20 ms per round.
            let at = Timestamp::from_nanos(2 + (i / PRODUCERS) as u64 * 20_000_000);
            black_box(registry.apply(RegistryInput::HeartbeatFrom { wire, sender }, at));
        }
        let spent = cpu_time() - before;
        assert_eq!(registry.stats().refused.total(), 0);
        println!(
            "consumer_cpu {}: {:.3} s CPU for {SECONDS} s of {PRODUCERS} producers x {HZ} Hz = {:.2} % of one core",
            if signed { "signed" } else { "unsigned" },
            spent.as_secs_f64(),
            spent.as_secs_f64() / SECONDS as f64 * 100.0
        );
    }
}

criterion_group! {
    name = benches;
    // Short: the signed registry bench spends its heartbeat chains.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = verification, registry_heartbeats, consumer_cpu
}
criterion_main!(benches);
