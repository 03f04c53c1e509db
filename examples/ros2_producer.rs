//! A producer of a ROS 2 message type: `sensor_msgs/msg/Imu` on the ROS 2
//! topic `/imu/data`, advertised to vigil consumers and read by any ROS 2
//! subscriber (`ros2 topic echo /imu/data`; the test uses Cyclone DDS).
//!
//!     cargo run --example ros2_producer [-- DOMAIN [SECONDS]]
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil::discovery::DdsConfig;
use vigil::{Keyed, Producer, Transport};

/// `sensor_msgs/msg/Imu` in its CDR layout: field order is the wire format.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Imu {
    stamp_sec: i32,
    stamp_nanosec: u32,
    frame_id: String,
    orientation: [f64; 4], // x, y, z, w
    orientation_covariance: [f64; 9],
    angular_velocity: [f64; 3],
    angular_velocity_covariance: [f64; 9],
    linear_acceleration: [f64; 3],
    linear_acceleration_covariance: [f64; 9],
}

/// ROS 2 topics are keyless (the producer is `.keyless()`); the trait is
/// still what a vigil sample implements.
impl Keyed for Imu {
    type K = ();
    fn key(&self) {}
}

#[tokio::main]
async fn main() -> Result<(), vigil::Error> {
    let mut args = std::env::args().skip(1).map(|a| a.parse().ok());
    let domain = args.next().flatten().unwrap_or(0);
    let seconds = args.next().flatten().unwrap_or(5);
    let dds = Transport::dds(DdsConfig::new(domain))?;
    // ROS 2 naming on DDS: `/imu/data` is `rt/imu/data`, and the type is
    // `sensor_msgs::msg::dds_::Imu_`.
    let imu = Producer::<Imu>::builder("rt/imu/data", "imu_ros")
        .type_name("sensor_msgs::msg::dds_::Imu_")
        .capability("rate_hz", "50Hz")
        .capability("frame", "\"imu_link\"")
        .keyless()
        .start(&dds)?;
    println!("publishing /imu/data as imu_ros for {seconds} s");
    for seq in 0..u64::from(seconds) * 50 {
        let now = dds.unix_now_ns();
        let sample = Imu {
            stamp_sec: i32::try_from(now / 1_000_000_000).unwrap_or(i32::MAX),
            stamp_nanosec: (now % 1_000_000_000) as u32,
            // NODE/SEQ: what the test's Cyclone subscriber reads back.
            frame_id: format!("imu_ros/{seq}"),
            orientation: [0.0, 0.0, 0.0, 1.0],
            linear_acceleration: [0.0, 0.0, 9.81],
            ..Imu::default()
        };
        imu.publish(&sample)?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    imu.shutdown().await
}
