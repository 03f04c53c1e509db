//! Test fixtures shared by the bridge's unit tests.

use vigil_discovery::{
    AdvertKeyWire, AdvertWire, HealthWire, OfferedQosWire, NOT_SET, WIRE_VERSION,
};
use vigil_qos::Capabilities;

/// A valid advert of `producer` on `imu` (type `T`), with a writer GUID
/// made of its id's length, no capabilities, lease 100 ms.
pub(super) fn wire(producer: &str, sequence: u64, state: u8) -> AdvertWire {
    AdvertWire {
        version: WIRE_VERSION,
        key: AdvertKeyWire {
            producer: producer.to_owned(),
            topic: "imu".to_owned(),
        },
        type_name: "T".to_owned(),
        writer_guid: vec![producer.len() as u8; 16],
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
            state,
            reason: NOT_SET,
            confidence: 1.0,
            trend: 0,
            nodes: Vec::new(),
        },
        heartbeat_period_ns: 20_000_000,
        lease_ns: 100_000_000,
        sequence,
        timestamp_ns: 0,
        signature: Vec::new(),
        supervisor: Vec::new(),
    }
}
