//! The failover demo in process: three IMUs and a consumer on the
//! in-process transport, with the demo's timeline (degrade, kill, recover,
//! flap) on a simulated clock. Thirteen simulated seconds at 1 kHz run in
//! milliseconds, and every run prints the same switches.
//!
//!     cargo run --example simulation
use std::time::{Duration, Instant};

use vigil::diag::State;
use vigil::discovery::inproc::InProcess;
use vigil::discovery::{SwitchPolicy, SyntheticSample};
use vigil::{Consumer, Event, Producer, Transport};

fn main() -> Result<(), vigil::Error> {
    let wall = Instant::now();
    let net = InProcess::new(Default::default());
    let sim = Transport::from(net.clone());
    let imu = |id: &str, accuracy: &str| {
        Producer::<SyntheticSample>::builder("imu", id)
            .capability("accuracy", accuracy)
            .start(&sim)
    };
    let (a, b, c) = (
        imu("imu_a", "0.001")?,
        imu("imu_b", "0.002")?,
        imu("imu_c", "0.01")?,
    );
    let policy = SwitchPolicy {
        hold_off: Duration::from_millis(200),
        wait_to_restore: Duration::from_secs(1),
        ..SwitchPolicy::default()
    };
    let mut consumer =
        Consumer::<SyntheticSample>::builder("imu WHERE health.state = OK PREFER accuracy ASC")
            .policy(policy)
            .hot_standby(true)
            .start(&sim)?;

    let mut producers = vec![a, b, c];
    let mut seq = 0;
    let mut run = |producers: &[Producer<SyntheticSample>], ms: u64| -> Result<(), vigil::Error> {
        for _ in 0..ms {
            net.advance(Duration::from_millis(1));
            seq += 1;
            for p in producers {
                let producer = p.advert().key.producer;
                p.publish(&SyntheticSample {
                    producer,
                    seq,
                    source_ts_ns: 0,
                    period_ns: 1_000_000,
                })?;
            }
        }
        Ok(())
    };
    run(&producers, 1500)?;
    println!("[{}] imu_a DEGRADED", net.now());
    producers[0].set("imu_a.health", State::Degraded)?;
    run(&producers, 1500)?;
    println!("[{}] imu_b killed", net.now());
    drop(producers.remove(1)); // heartbeats stop: the lease decides
    run(&producers, 1500)?;
    println!("[{}] imu_a OK", net.now());
    producers[0].set("imu_a.health", State::Ok)?;
    run(&producers, 3000)?;
    println!("[{}] imu_a flaps", net.now());
    for state in [
        State::Failed,
        State::Ok,
        State::Failed,
        State::Ok,
        State::Failed,
        State::Ok,
    ] {
        producers[0].set("imu_a.health", state)?;
        run(&producers, 150)?;
    }
    run(&producers, 4000)?;

    while let Some(event) = consumer.try_next() {
        match event {
            Event::Switched(s) => println!("[{}] switch {s}", s.at),
            Event::Resumed(r) => println!(
                "          first sample from {}: {} lost",
                r.producer, r.lost
            ),
            _ => {}
        }
    }
    let stats = consumer.stats();
    println!(
        "{} switches, {} samples delivered, {} lost, {} flaps suppressed; {:.1} ms of wall time",
        stats.switches,
        stats.delivered,
        stats.lost,
        stats.flaps_suppressed,
        wall.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
