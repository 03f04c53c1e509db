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
    let mut r = Reader::new(bytes)?;
    let header = Header {
        stamp: Time {
            sec: r.u32()? as i32,
            nanosec: r.u32()?,
        },
        frame_id: r.string()?,
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
    read_status(&mut Reader::new(bytes)?)
}

fn read_status(r: &mut Reader<'_>) -> Result<DiagnosticStatus, WireError> {
    let level = r.u8()?;
    let name = r.string()?;
    let message = r.string()?;
    let hardware_id = r.string()?;
    let count = r.count(8)?;
    let mut values = Vec::new();
    for _ in 0..count {
        values.push(KeyValue {
            key: r.string()?,
            value: r.string()?,
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

/// A bounds-checked CDR reader; alignment is relative to the end of the
/// encapsulation header.
struct Reader<'b> {
    bytes: &'b [u8],
    pos: usize,
    little: bool,
}

const ENCAPSULATION: usize = 4;

impl<'b> Reader<'b> {
    fn new(bytes: &'b [u8]) -> Result<Self, WireError> {
        let little = match bytes.get(..2) {
            Some([0, 1]) => true,
            Some([0, 0]) => false,
            Some(_) => return Err(fail(0, "encapsulation is not plain CDR (00 00 or 00 01)")),
            None => return Err(fail(0, "shorter than the encapsulation header")),
        };
        if bytes.len() < ENCAPSULATION {
            return Err(fail(0, "shorter than the encapsulation header"));
        }
        Ok(Reader {
            bytes,
            pos: ENCAPSULATION,
            little,
        })
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'b [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(fail(self.pos, what))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1, "truncated byte")?[0])
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let misalign = (self.pos - ENCAPSULATION) % 4;
        if misalign != 0 {
            self.take(4 - misalign, "truncated padding")?;
        }
        let b = self.take(4, "truncated 32-bit integer")?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// A sequence length, refused when even the smallest elements
    /// (`min_size` bytes each) could not fit in what is left.
    fn count(&mut self, min_size: usize) -> Result<usize, WireError> {
        let at = self.pos;
        let n = self.u32()? as usize;
        let left = self.bytes.len() - self.pos;
        if n.saturating_mul(min_size) > left.saturating_add(3) {
            return Err(fail(at, "sequence length larger than the message"));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, WireError> {
        let at = self.pos;
        let len = self.u32()? as usize;
        if len == 0 {
            // Not what CDR writers send (an empty string is length 1, a
            // NUL), but unambiguous.
            return Ok(String::new());
        }
        let bytes = self.take(len, "string length larger than the message")?;
        let (nul, text) = bytes.split_last().ok_or(fail(at, "empty string body"))?;
        if *nul != 0 {
            return Err(fail(at, "string not terminated by NUL"));
        }
        String::from_utf8(text.to_vec()).map_err(|_| fail(at, "string is not UTF-8"))
    }
}

fn fail(offset: usize, why: &'static str) -> WireError {
    WireError { offset, why }
}

#[cfg(test)]
#[path = "msgs_tests.rs"]
mod tests;
