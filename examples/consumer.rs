//! A consumer with a query and a fallback: it follows the best IMU and,
//! when that fails, falls back to another topic (a GPS-aided IMU) named in
//! the query's ELSE clause. Both producers run in this process, on DDS.
//!
//!     cargo run --example consumer [-- DOMAIN]
use std::time::Duration;

use vigil::diag::State;
use vigil::discovery::{DdsConfig, SyntheticSample, SYNTHETIC_TYPE};
use vigil::{Consumer, Event, Producer, Transport};

const QUERY: &str = "imu WHERE health.state = OK AND latency_p99 < 1ms \
                     ELSE gps_imu WHERE health.state != FAILED PREFER accuracy ASC";

#[tokio::main]
async fn main() -> Result<(), vigil::Error> {
    let domain = std::env::args()
        .nth(1)
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let dds = Transport::dds(DdsConfig::new(domain))?;
    let producer = |topic: &str, id: &str, latency: &str| {
        Producer::<SyntheticSample>::builder(topic, id)
            .type_name(SYNTHETIC_TYPE)
            .capability("latency_p99", latency)
            .capability("accuracy", "0.01")
            .start(&dds)
    };
    let imu = producer("imu", "imu_a", "0.5ms")?;
    let fallback = producer("gps_imu", "gps_imu_a", "5ms")?;

    // The consumer joins on its own participant, as another process would.
    let mut consumer = Consumer::<SyntheticSample>::builder(QUERY)
        .type_name(SYNTHETIC_TYPE)
        .start(&Transport::dds(DdsConfig::new(domain))?)?;
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    let (mut seq, mut failed, mut fell_back) = (0, false, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !fell_back && tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = ticker.tick() => {
                seq += 1;
                for (p, id) in [(&imu, "imu_a"), (&fallback, "gps_imu_a")] {
                    let sample = SyntheticSample { producer: id.into(), seq, source_ts_ns: 0, period_ns: 0 };
                    p.publish(&sample)?;
                }
                // Once the consumer has had a second of imu_a: it fails.
                if seq == 200 && !failed {
                    println!("imu_a reports FAILED");
                    imu.set("imu_a.health", State::Failed)?;
                    failed = true;
                }
            }
            Some(event) = consumer.next() => match event {
                Event::Switched(switch) => {
                    let chain: Vec<String> = consumer.chain().iter().map(ToString::to_string).collect();
                    println!("switch: {switch}; chain [{}]", chain.join(", "));
                    fell_back = switch.active.is_some_and(|k| k.topic == "gps_imu");
                }
                Event::Resumed(cost) => println!("first sample from {} ({} lost)", cost.producer, cost.lost),
                _ => {}
            },
        }
    }
    println!(
        "{} samples delivered; fell back: {fell_back}",
        consumer.stats().delivered
    );
    consumer.shutdown().await;
    imu.shutdown().await?;
    fallback.shutdown().await?;
    if !fell_back {
        std::process::exit(1);
    }
    Ok(())
}
