//! A producer with a diagnostic tree: an IMU publishes readings of its own
//! type on DDS while its temperature climbs, and its advert's health
//! follows the tree (OK, then DEGRADED above 60 °C, FAILED above 80 °C).
//!
//!     cargo run --example producer [-- DOMAIN]
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil::diag::{Observation, State};
use vigil::discovery::DdsConfig;
use vigil::{Keyed, Producer, Transport};

/// The application's own sample type: serde for CDR, a DDS key.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reading {
    seq: u64,
    yaw_rate: f64,
}

impl Keyed for Reading {
    type K = ();
    fn key(&self) {}
}

#[tokio::main]
async fn main() -> Result<(), vigil::Error> {
    let domain = std::env::args()
        .nth(1)
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let dds = Transport::dds(DdsConfig::new(domain))?;
    let imu = Producer::<Reading>::builder("imu", "imu_a")
        .type_name("example::Reading")
        .capability("accuracy", "0.001")
        .capability("rate_hz", "100Hz")
        .tree_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/imu.tree.yaml"
        ))
        .start(&dds)?;
    imu.set("imu.driver", State::Ok)?;

    let mut last = None;
    for seq in 0..300u64 {
        imu.publish(&Reading {
            seq,
            yaw_rate: 0.01 * seq as f64,
        })?;
        if seq % 10 == 0 {
            // The temperature climbs 3 °C a tick, from 35 °C.
            let celsius = 35.0 + 3.0 * (seq / 10) as f64;
            imu.observe("imu.temperature", Observation::Value(celsius))?;
            let state = imu.health("imu").map(|h| h.state);
            if state != last {
                println!("{celsius:.0} °C: advert says {state:?}");
                last = state;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if let Some(why) = imu.explain("imu") {
        println!("why:\n{why}");
    }
    // Withdraws the advert: consumers switch away at once.
    imu.shutdown().await
}
