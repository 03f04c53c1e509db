//! `diagnostic_msgs` as ROS 2 puts them on the wire.
//!
//! Field order and types follow the ROS 2 IDL (`diagnostic_msgs/msg/*.msg`,
//! `std_msgs/msg/Header`, `builtin_interfaces/msg/Time`), so the serde
//! derives give the same CDR bytes as a ROS 2 node: encode with
//! [`encode`] (the `cdr` crate, the bytes rustdds sends after its 4-byte
//! encapsulation header), decode with [`decode`].
//!
//! [`decode`] does not go through serde: the `cdr` crate allocates a
//! string's length before checking that the bytes are there, and a length
//! on the wire is not to be trusted. It checks every length and count
//! against what is left of the input first.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::cdr::CdrReader;

/// DDS type name of `diagnostic_msgs/msg/DiagnosticArray`.
pub const DIAGNOSTIC_ARRAY_TYPE: &str = "diagnostic_msgs::msg::dds_::DiagnosticArray_";
/// DDS type name of `diagnostic_msgs/msg/DiagnosticStatus`.
pub const DIAGNOSTIC_STATUS_TYPE: &str = "diagnostic_msgs::msg::dds_::DiagnosticStatus_";
/// DDS topic of `/diagnostics` (DiagnosticArray), what nodes publish.
pub const DIAGNOSTICS_TOPIC: &str = "rt/diagnostics";
/// DDS topic of `/diagnostics_agg` (DiagnosticArray), the aggregated tree.
pub const DIAGNOSTICS_AGG_TOPIC: &str = "rt/diagnostics_agg";
/// DDS topic of `/diagnostics_toplevel_state` (DiagnosticStatus).
pub const DIAGNOSTICS_TOPLEVEL_TOPIC: &str = "rt/diagnostics_toplevel_state";

/// `builtin_interfaces/msg/Time`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    /// Seconds.
    pub sec: i32,
    /// Nanoseconds within the second.
    pub nanosec: u32,
}

impl Time {
    /// The time `unix_ns` nanoseconds after the Unix epoch (seconds
    /// saturate at `i32::MAX`, in 2038, as ROS 2's `Time` does).
    pub fn from_unix_nanos(unix_ns: u64) -> Time {
        Time {
            sec: i32::try_from(unix_ns / 1_000_000_000).unwrap_or(i32::MAX),
            nanosec: (unix_ns % 1_000_000_000) as u32,
        }
    }
}

/// `std_msgs/msg/Header`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// When the data was taken.
    pub stamp: Time,
    /// The coordinate frame (empty for diagnostics).
    pub frame_id: String,
}

/// `diagnostic_msgs/msg/KeyValue`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// What the value is.
    pub key: String,
    /// The value, as text.
    pub value: String,
}

/// `diagnostic_msgs/msg/DiagnosticStatus`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticStatus {
    /// The [`level`] as its byte: OK=0, WARN=1, ERROR=2, STALE=3.
    pub level: u8,
    /// What is being reported on (`/imu_node: IMU`).
    pub name: String,
    /// A short human-readable description.
    pub message: String,
    /// Which piece of hardware.
    pub hardware_id: String,
    /// Extra values.
    pub values: Vec<KeyValue>,
}

/// `diagnostic_msgs/msg/DiagnosticArray`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticArray {
    /// Stamp of the array.
    pub header: Header,
    /// The statuses.
    pub status: Vec<DiagnosticStatus>,
}

/// The levels of a [`DiagnosticStatus`].
pub mod level {
    /// Working.
    pub const OK: u8 = 0;
    /// Working, with a problem.
    pub const WARN: u8 = 1;
    /// Not working.
    pub const ERROR: u8 = 2;
    /// No recent report.
    pub const STALE: u8 = 3;
}

/// Bytes that are not a CDR-encoded message of the expected type.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("malformed CDR at byte {offset}: {why}")]
#[non_exhaustive]
pub struct WireError {
    /// Offset in the input, encapsulation header included.
    pub offset: usize,
    /// What is wrong.
    pub why: &'static str,
}

/// Encodes a message as CDR little endian with its encapsulation header
/// (`00 01 00 00`), as ROS 2 on DDS sends it.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    // Serializing plain structs of strings and integers into a Vec cannot
    // fail with an unbounded size limit; an empty result would be refused
    // by every reader, never silently accepted.
    cdr::serialize::<_, _, cdr::CdrLe>(message, cdr::Infinite).unwrap_or_default()
}

/// Decodes a CDR `DiagnosticArray` (little or big endian, with its
/// encapsulation header).
pub fn decode(bytes: &[u8]) -> Result<DiagnosticArray, WireError> {
    let mut r = CdrReader::new(bytes)?;
    let header = Header {
        stamp: Time {
            sec: r.u32()? as i32,
            nanosec: r.u32()?,
        },
        frame_id: r.string_or_empty()?,
    };
    let count = r.count(20)?;
    let mut status = Vec::new();
    for _ in 0..count {
        status.push(read_status(&mut r)?);
    }
    Ok(DiagnosticArray { header, status })
}

/// Decodes a CDR `DiagnosticStatus` (`/diagnostics_toplevel_state`).
pub fn decode_status(bytes: &[u8]) -> Result<DiagnosticStatus, WireError> {
    read_status(&mut CdrReader::new(bytes)?)
}

fn read_status(r: &mut CdrReader<'_>) -> Result<DiagnosticStatus, WireError> {
    let level = r.u8()?;
    let name = r.string_or_empty()?;
    let message = r.string_or_empty()?;
    let hardware_id = r.string_or_empty()?;
    let count = r.count(8)?;
    let mut values = Vec::new();
    for _ in 0..count {
        values.push(KeyValue {
            key: r.string_or_empty()?,
            value: r.string_or_empty()?,
        });
    }
    Ok(DiagnosticStatus {
        level,
        name,
        message,
        hardware_id,
        values,
    })
}

#[cfg(test)]
#[path = "msgs_tests.rs"]
mod tests;
