//! `ros_discovery_info`: which ROS 2 node owns which DDS writer.
//!
//! Since Foxy a ROS 2 process has one DDS participant for all its nodes (a
//! component container holds many), so a writer's participant does not
//! name its node. rmw publishes the mapping on the DDS topic
//! `ros_discovery_info` (type `rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_`,
//! reliable, transient-local, keep last 1): per participant, each node's
//! namespace, name, and reader and writer GIDs.
//!
//! A GID is the entity's DDS GUID. Its message holds 24 bytes up to Humble
//! (the GUID and 8 zero bytes) and 16 from Iron on; [`decode`] reads both,
//! by trying 16 and then 24 and keeping the reading that accounts for the
//! whole sample. Lengths are checked against the input before anything is
//! allocated: the sample comes from any peer on the domain.

use thiserror::Error;

use super::cdr::CdrReader;
use super::msgs::WireError;

/// The DDS topic.
pub const DISCOVERY_INFO_TOPIC: &str = "ros_discovery_info";
/// The DDS type.
pub const DISCOVERY_INFO_TYPE: &str = "rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_";

/// One participant's nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantEntities {
    /// The participant's GUID.
    pub participant: [u8; 16],
    /// Its nodes.
    pub nodes: Vec<NodeEntities>,
}

/// One node and its writers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntities {
    /// The node's namespace (`/` for the root).
    pub namespace: String,
    /// The node's name.
    pub name: String,
    /// The GUIDs of its writers.
    pub writers: Vec<[u8; 16]>,
}

/// A sample that is not a `ParticipantEntitiesInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("not a ParticipantEntitiesInfo: {why}")]
pub struct DiscoveryInfoError {
    why: String,
}

/// Decodes a sample with its 4-byte encapsulation header (XCDR1, either
/// endianness).
pub fn decode(bytes: &[u8]) -> Result<ParticipantEntities, DiscoveryInfoError> {
    let mut last = None;
    for gid_len in [16, 24] {
        let mut reader = CdrReader::new(bytes).map_err(DiscoveryInfoError::from)?;
        match participant(&mut reader, gid_len) {
            // Trailing padding up to the next 4 bytes is allowed.
            Ok(info) if reader.remaining() < 4 => return Ok(info),
            Ok(_) => last = Some("bytes left over".to_owned()),
            Err(error) => last = Some(error.to_string()),
        }
    }
    Err(DiscoveryInfoError {
        why: last.unwrap_or_default(),
    })
}

impl From<WireError> for DiscoveryInfoError {
    fn from(error: WireError) -> Self {
        DiscoveryInfoError {
            why: error.to_string(),
        }
    }
}

fn gid(r: &mut CdrReader<'_>, len: usize) -> Result<[u8; 16], WireError> {
    let bytes = r.take(len, "truncated GID")?;
    let mut guid = [0; 16];
    guid.copy_from_slice(&bytes[..16]);
    Ok(guid)
}

fn gids(r: &mut CdrReader<'_>, len: usize) -> Result<Vec<[u8; 16]>, WireError> {
    let n = r.count(len)?;
    (0..n).map(|_| gid(r, len)).collect()
}

fn participant(r: &mut CdrReader<'_>, gid_len: usize) -> Result<ParticipantEntities, WireError> {
    let participant = gid(r, gid_len)?;
    // Each node: two strings (at least 5 bytes each) and two counts.
    let n = r.count(18)?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let namespace = r.string()?;
        let name = r.string()?;
        let _readers = gids(r, gid_len)?;
        let writers = gids(r, gid_len)?;
        nodes.push(NodeEntities {
            namespace,
            name,
            writers,
        });
    }
    Ok(ParticipantEntities { participant, nodes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample as rmw writes it, GIDs of `gid_len` bytes.
    fn sample(gid_len: usize, nodes: &[(&str, &str, &[[u8; 16]])]) -> Vec<u8> {
        let mut out = vec![0, 1, 0, 0];
        let body_at = out.len();
        let align = |out: &mut Vec<u8>| {
            while !(out.len() - body_at).is_multiple_of(4) {
                out.push(0);
            }
        };
        let gid = |out: &mut Vec<u8>, g: &[u8; 16]| {
            out.extend_from_slice(g);
            out.resize(out.len() + gid_len - 16, 0);
        };
        let string = |out: &mut Vec<u8>, s: &str| {
            align(out);
            out.extend_from_slice(&(s.len() as u32 + 1).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        };
        gid(&mut out, &[7; 16]);
        align(&mut out);
        out.extend_from_slice(&(nodes.len() as u32).to_le_bytes());
        for (ns, name, writers) in nodes {
            string(&mut out, ns);
            string(&mut out, name);
            align(&mut out);
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&(writers.len() as u32).to_le_bytes());
            for w in *writers {
                gid(&mut out, w);
            }
        }
        out
    }

    #[test]
    fn both_gid_sizes_decode() {
        let nodes: &[(&str, &str, &[[u8; 16]])] = &[
            ("/", "imu_a", &[[1; 16]]),
            ("/robot", "imu_b", &[[2; 16], [3; 16]]),
        ];
        for gid_len in [16, 24] {
            let info = decode(&sample(gid_len, nodes)).expect("decodes");
            assert_eq!(info.participant, [7; 16], "gid {gid_len}");
            assert_eq!(info.nodes.len(), 2);
            assert_eq!(info.nodes[1].namespace, "/robot");
            assert_eq!(info.nodes[1].name, "imu_b");
            assert_eq!(info.nodes[1].writers, vec![[2; 16], [3; 16]]);
        }
    }

    #[test]
    fn lies_about_lengths_are_refused_without_allocating() {
        let mut bytes = sample(16, &[("/", "n", &[])]);
        // The node count claims four billion nodes.
        bytes[4 + 16..4 + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&bytes).is_err());
        assert!(decode(&[0, 1, 0]).is_err());
        assert!(decode(&[0, 7, 0, 0, 1]).is_err());
        let truncated = sample(24, &[("/", "imu_a", &[[1; 16]])]);
        assert!(decode(&truncated[..truncated.len() - 5]).is_err());
    }
}
