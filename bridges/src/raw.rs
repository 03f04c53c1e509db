//! Type-agnostic DDS samples: the serialized payload as it came off the
//! wire, with its encoding, so a relay can forward samples of a type it
//! has never seen (`sensor_msgs/msg/Imu`, a vendor's message) unchanged.
//!
//! rustdds strips the 4-byte encapsulation header (representation id and
//! options) before a deserializer adapter sees the bytes, and puts one back
//! from the serializer adapter's `output_encoding` on the way out. So a
//! [`RawSample`] keeps the representation id next to the body, and the
//! writer side has one adapter per encoding it may have to reproduce:
//! [`RawCdrLe`] (XCDR1 little endian, what ROS 2 and Cyclone send for plain
//! types, measured) and [`RawCdr2Le`] (plain XCDR2 little endian, written
//! as `00 07`; a sample labelled with either numbering of it, `00 07` or
//! `00 11`, is forwarded as `00 07`). Note that a Cyclone writer set to
//! XCDR2 does not match a rustdds reader at all (rustdds announces no data
//! representation, which means XCDR1), so in practice relayed samples are
//! XCDR1. A relay picks the writer
//! whose encoding matches the sample ([`RawSample::encoding`]); anything
//! else cannot be forwarded without knowing the type and is counted, not
//! transcoded.
//!
//! [`RawKeyedSample`] is the same for keyed topics: vigil's own data topics
//! are keyed by producer id (a CDR string, like
//! [`SyntheticSample`](vigil_discovery::SyntheticSample)), so writing a raw
//! sample with the producer id as its key gives the instance key hash a
//! typed writer would have computed.

use std::convert::Infallible;

use rustdds::bytes::Bytes;
use rustdds::no_key::{Decode, DefaultDecoder, DeserializerAdapter, SerializerAdapter};
use rustdds::{Keyed, RepresentationIdentifier};

/// One serialized sample, its encapsulation header split off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSample {
    /// The representation identifier of the encapsulation header.
    pub encoding: RepresentationIdentifier,
    /// The serialized body, after the 4-byte header.
    pub body: Bytes,
}

impl RawSample {
    /// The sample as one byte string with its encapsulation header (what
    /// Zenoh bridges carry): representation id, two zero option bytes,
    /// body.
    pub fn to_encapsulated(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 4);
        out.extend_from_slice(&self.encoding.to_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.body);
        out
    }

    /// Splits an encapsulated sample (header and body). `None` when it is
    /// shorter than the 4-byte header.
    pub fn from_encapsulated(bytes: &[u8]) -> Option<RawSample> {
        let (header, body) = bytes.split_at_checked(4)?;
        let encoding = RepresentationIdentifier::from_bytes(&header[..2]).ok()?;
        Some(RawSample {
            encoding,
            body: Bytes::copy_from_slice(body),
        })
    }

    /// Whether [`RawCdrLe`] or [`RawCdr2Le`] can write this sample as it
    /// came.
    pub fn writable_encoding(&self) -> Option<RawEncoding> {
        RawEncoding::of(self.encoding)
    }
}

/// The encodings a raw writer can reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RawEncoding {
    /// XCDR1 (plain CDR), little endian.
    CdrLe,
    /// XCDR2, little endian.
    Cdr2Le,
}

impl RawEncoding {
    /// The writable encoding of a representation id, if it is one.
    pub fn of(id: RepresentationIdentifier) -> Option<RawEncoding> {
        if id == RepresentationIdentifier::CDR_LE {
            Some(RawEncoding::CdrLe)
        } else if id == RepresentationIdentifier::XCDR2_LE
            || id == RepresentationIdentifier::CDR2_LE
        {
            Some(RawEncoding::Cdr2Le)
        } else {
            None
        }
    }
}

/// Every encoding a raw reader accepts: it never looks inside.
const ACCEPTED: &[RepresentationIdentifier] = &[
    RepresentationIdentifier::CDR_LE,
    RepresentationIdentifier::CDR_BE,
    RepresentationIdentifier::PL_CDR_LE,
    RepresentationIdentifier::PL_CDR_BE,
    RepresentationIdentifier::CDR2_LE,
    RepresentationIdentifier::CDR2_BE,
    RepresentationIdentifier::PL_CDR2_LE,
    RepresentationIdentifier::PL_CDR2_BE,
    RepresentationIdentifier::D_CDR_LE,
    RepresentationIdentifier::D_CDR_BE,
    RepresentationIdentifier::XCDR2_LE,
    RepresentationIdentifier::XCDR2_BE,
    RepresentationIdentifier::D_CDR2_LE,
    RepresentationIdentifier::D_CDR2_BE,
    RepresentationIdentifier::PL_XCDR2_LE,
    RepresentationIdentifier::PL_XCDR2_BE,
];

/// The reader adapter of [`RawSample`]: keeps the bytes, never fails.
#[derive(Debug)]
pub struct RawReader;

/// The decoder behind [`RawReader`].
#[derive(Clone, Copy, Debug)]
pub struct RawDecoder;

impl<'de> Decode<'de, RawSample> for RawDecoder {
    type Error = Infallible;

    fn decode_bytes(
        self,
        input_bytes: &'de [u8],
        encoding: RepresentationIdentifier,
    ) -> Result<RawSample, Infallible> {
        Ok(RawSample {
            encoding,
            body: Bytes::copy_from_slice(input_bytes),
        })
    }
}

impl DeserializerAdapter<RawSample> for RawReader {
    type Error = Infallible;
    type Decoded = RawSample;

    fn supported_encodings() -> &'static [RepresentationIdentifier] {
        ACCEPTED
    }

    fn transform_decoded(decoded: RawSample) -> RawSample {
        decoded
    }
}

impl DefaultDecoder<RawSample> for RawReader {
    type Decoder = RawDecoder;
    const DECODER: RawDecoder = RawDecoder;
}

/// The writer adapter that sends a raw body as XCDR1 little endian.
#[derive(Debug)]
pub struct RawCdrLe;

/// The writer adapter that sends a raw body as XCDR2 little endian.
#[derive(Debug)]
pub struct RawCdr2Le;

impl SerializerAdapter<RawSample> for RawCdrLe {
    type Error = Infallible;

    fn output_encoding() -> RepresentationIdentifier {
        RepresentationIdentifier::CDR_LE
    }

    fn to_bytes(value: &RawSample) -> Result<Bytes, Infallible> {
        Ok(value.body.clone())
    }
}

impl SerializerAdapter<RawSample> for RawCdr2Le {
    type Error = Infallible;

    /// `00 07`, XCDR2 as DDS-XTypes 1.3 numbers it and Cyclone DDS sends
    /// it. rustdds's `CDR2_LE` (`00 11`) is an older numbering that Cyclone
    /// rejects as a malformed packet, dropping the whole RTPS message.
    fn output_encoding() -> RepresentationIdentifier {
        RepresentationIdentifier::XCDR2_LE
    }

    fn to_bytes(value: &RawSample) -> Result<Bytes, Infallible> {
        Ok(value.body.clone())
    }
}

/// A raw writer on a keyless topic that puts each sample out in the
/// encoding it came in: the XCDR1 writer exists from the start (so
/// subscribers have matched it before the first sample), the XCDR2 one is
/// created when a sample needs it.
pub struct RawWriter {
    publisher: rustdds::Publisher,
    topic: rustdds::Topic,
    qos: rustdds::QosPolicies,
    cdr: rustdds::no_key::DataWriter<RawSample, RawCdrLe>,
    cdr2: Option<rustdds::no_key::DataWriter<RawSample, RawCdr2Le>>,
}

impl std::fmt::Debug for RawWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use rustdds::TopicDescription;
        f.debug_struct("RawWriter")
            .field("topic", &self.topic.name())
            .finish_non_exhaustive()
    }
}

/// Why a raw sample was not written.
#[derive(Debug, thiserror::Error)]
pub enum RawWriteError {
    /// Big endian or parameter-list CDR: not writable without the type.
    #[error("encoding {0:?} cannot be forwarded without the type (only little-endian XCDR1 and XCDR2 can)")]
    Encoding(RepresentationIdentifier),
    /// rustdds refused (creating the writer, or the write).
    #[error("{0}")]
    Dds(String),
}

impl RawWriter {
    /// A writer on `topic` (keyless) with `qos`.
    pub fn new(
        publisher: &rustdds::Publisher,
        topic: &rustdds::Topic,
        qos: rustdds::QosPolicies,
    ) -> Result<RawWriter, RawWriteError> {
        let cdr = publisher
            .create_datawriter_no_key::<RawSample, RawCdrLe>(topic, Some(qos.clone()))
            .map_err(|e| RawWriteError::Dds(format!("{e:?}")))?;
        Ok(RawWriter {
            publisher: publisher.clone(),
            topic: topic.clone(),
            qos,
            cdr,
            cdr2: None,
        })
    }

    /// The GUID of the XCDR1 writer (the one adverts name).
    pub fn guid(&self) -> [u8; 16] {
        use rustdds::RTPSEntity;
        self.cdr.guid().to_bytes()
    }

    /// Writes `sample` in its own encoding.
    pub fn write(&mut self, sample: RawSample) -> Result<(), RawWriteError> {
        self.write_stamped(sample, None)
    }

    /// Writes `sample` in its own encoding with this source timestamp
    /// (`None`: none is sent).
    pub fn write_stamped(
        &mut self,
        sample: RawSample,
        timestamp: Option<rustdds::Timestamp>,
    ) -> Result<(), RawWriteError> {
        let refused = |e: String| RawWriteError::Dds(e);
        match sample.writable_encoding() {
            None => Err(RawWriteError::Encoding(sample.encoding)),
            Some(RawEncoding::CdrLe) => self
                .cdr
                .write(sample, timestamp)
                .map_err(|e| refused(format!("{e:?}"))),
            Some(RawEncoding::Cdr2Le) => {
                let writer = match &mut self.cdr2 {
                    Some(writer) => writer,
                    empty => empty.insert(
                        self.publisher
                            .create_datawriter_no_key::<RawSample, RawCdr2Le>(
                                &self.topic,
                                Some(self.qos.clone()),
                            )
                            .map_err(|e| refused(format!("{e:?}")))?,
                    ),
                };
                writer
                    .write(sample, timestamp)
                    .map_err(|e| refused(format!("{e:?}")))
            }
        }
    }
}

/// A raw sample of a keyed topic whose key is one string (vigil's data
/// topics: the producer id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawKeyedSample {
    /// The instance key.
    pub key: String,
    /// The serialized sample.
    pub sample: RawSample,
}

impl Keyed for RawKeyedSample {
    type K = String;

    fn key(&self) -> String {
        self.key.clone()
    }
}

impl SerializerAdapter<RawKeyedSample> for RawCdrLe {
    type Error = cdr_key::KeyError;

    fn output_encoding() -> RepresentationIdentifier {
        RepresentationIdentifier::CDR_LE
    }

    fn to_bytes(value: &RawKeyedSample) -> Result<Bytes, cdr_key::KeyError> {
        Ok(value.sample.body.clone())
    }
}

impl rustdds::with_key::SerializerAdapter<RawKeyedSample> for RawCdrLe {
    fn key_to_bytes(value: &String) -> Result<Bytes, cdr_key::KeyError> {
        cdr_key::string(value)
    }
}

/// The serialized key of a [`RawKeyedSample`] (sent with a dispose), as the
/// typed CDR writer would send it.
mod cdr_key {
    use rustdds::bytes::Bytes;

    /// A key that CDR cannot encode (longer than 4 GiB).
    #[derive(Debug, thiserror::Error)]
    #[error("the instance key cannot be CDR-encoded: {0}")]
    pub struct KeyError(String);

    /// A CDR little-endian string: length with the terminating NUL, bytes,
    /// NUL.
    pub(super) fn string(key: &str) -> Result<Bytes, KeyError> {
        let length = u32::try_from(key.len() + 1).map_err(|e| KeyError(e.to_string()))?;
        let mut out = Vec::with_capacity(key.len() + 5);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.push(0);
        Ok(Bytes::from(out))
    }
}

pub use cdr_key::KeyError;

/// The reader adapter of [`RawKeyedSample`]: reads a keyed topic of any
/// type without knowing it, so a bridge can forward it as it came.
///
/// rustdds only creates a keyed reader for a keyed topic, and a keyed
/// reader must name each sample's instance. The instance key is taken as
/// the sample's leading CDR string when it has one (vigil's data types and
/// [`RawKeyedSample`] writers put the producer id there) and is empty
/// otherwise: the key only sorts samples into reader-side instances, and a
/// relay that follows writers by GUID does not depend on it. Decoding never
/// fails and never trusts a length it read.
// Only the Zenoh bridge reads keyed topics raw so far.
#[cfg_attr(not(feature = "zenoh"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct RawKeyedReader;

/// The decoder behind [`RawKeyedReader`].
// Only the Zenoh bridge reads keyed topics raw so far.
#[cfg_attr(not(feature = "zenoh"), allow(dead_code))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawKeyedDecoder;

/// GUID (or any) bytes as lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The big-endian representation ids, in both numberings rustdds knows
/// (DDS-XTypes 1.3 §7.6.3.1.2: `00 00` CDR_BE, `00 02` PL_CDR_BE, `00 06`
/// XCDR2_BE, `00 08` D_CDR2_BE, `00 0a` PL_XCDR2_BE; and the older
/// `00 10`, `00 12`, `00 14`). Every one of them has its low bit clear.
// Only the Zenoh bridge reads keyed topics raw so far.
#[cfg_attr(not(feature = "zenoh"), allow(dead_code))]
const BIG_ENDIAN: &[RepresentationIdentifier] = &[
    RepresentationIdentifier::CDR_BE,
    RepresentationIdentifier::PL_CDR_BE,
    RepresentationIdentifier::XCDR2_BE,
    RepresentationIdentifier::D_CDR2_BE,
    RepresentationIdentifier::PL_XCDR2_BE,
    RepresentationIdentifier::CDR2_BE,
    RepresentationIdentifier::PL_CDR2_BE,
    RepresentationIdentifier::D_CDR_BE,
];

/// The leading CDR string of `bytes` (a u32 length that counts the
/// terminating NUL, in the byte order of `encoding`, then the bytes and the
/// NUL), or an empty string when `bytes` does not start with one.
// Only the Zenoh bridge reads keyed topics raw so far.
#[cfg_attr(not(feature = "zenoh"), allow(dead_code))]
fn leading_string(bytes: &[u8], encoding: RepresentationIdentifier) -> String {
    let big_endian = BIG_ENDIAN.contains(&encoding);
    let Some((length, rest)) = bytes.split_first_chunk::<4>() else {
        return String::new();
    };
    let length = if big_endian {
        u32::from_be_bytes(*length)
    } else {
        u32::from_le_bytes(*length)
    };
    let Ok(length) = usize::try_from(length) else {
        return String::new();
    };
    match rest.get(..length) {
        Some([text @ .., 0]) => std::str::from_utf8(text)
            .map(str::to_owned)
            .unwrap_or_default(),
        _ => String::new(),
    }
}

impl<'de> Decode<'de, RawKeyedSample> for RawKeyedDecoder {
    type Error = Infallible;

    fn decode_bytes(
        self,
        input_bytes: &'de [u8],
        encoding: RepresentationIdentifier,
    ) -> Result<RawKeyedSample, Infallible> {
        Ok(RawKeyedSample {
            key: leading_string(input_bytes, encoding),
            sample: RawSample {
                encoding,
                body: Bytes::copy_from_slice(input_bytes),
            },
        })
    }
}

impl<'de> rustdds::with_key::Decode<'de, RawKeyedSample, String> for RawKeyedDecoder {
    fn decode_key_bytes(
        self,
        input_key_bytes: &'de [u8],
        encoding: RepresentationIdentifier,
    ) -> Result<String, Infallible> {
        Ok(leading_string(input_key_bytes, encoding))
    }
}

impl DeserializerAdapter<RawKeyedSample> for RawKeyedReader {
    type Error = Infallible;
    type Decoded = RawKeyedSample;

    fn supported_encodings() -> &'static [RepresentationIdentifier] {
        ACCEPTED
    }

    fn transform_decoded(decoded: RawKeyedSample) -> RawKeyedSample {
        decoded
    }
}

impl DefaultDecoder<RawKeyedSample> for RawKeyedReader {
    type Decoder = RawKeyedDecoder;
    const DECODER: RawKeyedDecoder = RawKeyedDecoder;
}

impl rustdds::with_key::DeserializerAdapter<RawKeyedSample> for RawKeyedReader {
    type DecodedKey = String;

    fn transform_decoded_key(decoded_key: String) -> String {
        decoded_key
    }
}

impl rustdds::with_key::DefaultDecoder<RawKeyedSample> for RawKeyedReader {
    type Decoder = RawKeyedDecoder;
    const DECODER: RawKeyedDecoder = RawKeyedDecoder;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encapsulation_round_trips_and_short_input_is_refused() {
        let sample = RawSample {
            encoding: RepresentationIdentifier::CDR_LE,
            body: Bytes::from_static(&[1, 2, 3]),
        };
        let bytes = sample.to_encapsulated();
        assert_eq!(bytes, [0, 1, 0, 0, 1, 2, 3]);
        assert_eq!(RawSample::from_encapsulated(&bytes), Some(sample));
        assert_eq!(RawSample::from_encapsulated(&[0, 1, 0]), None);
    }

    #[test]
    fn only_little_endian_cdr_is_writable() {
        assert_eq!(
            RawEncoding::of(RepresentationIdentifier::CDR_LE),
            Some(RawEncoding::CdrLe)
        );
        assert_eq!(
            RawEncoding::of(RepresentationIdentifier::CDR2_LE),
            Some(RawEncoding::Cdr2Le)
        );
        assert_eq!(
            RawEncoding::of(RepresentationIdentifier::XCDR2_LE),
            Some(RawEncoding::Cdr2Le)
        );
        assert_eq!(
            <RawCdr2Le as SerializerAdapter<RawSample>>::output_encoding().to_bytes(),
            [0, 7]
        );
        assert_eq!(RawEncoding::of(RepresentationIdentifier::CDR_BE), None);
    }

    #[test]
    fn big_endian_is_every_accepted_id_with_its_low_bit_clear() {
        for &id in ACCEPTED {
            let low_bit_clear = id.to_bytes()[1] & 1 == 0;
            assert_eq!(BIG_ENDIAN.contains(&id), low_bit_clear, "{id:?}");
        }
        assert_eq!(BIG_ENDIAN.len(), ACCEPTED.len() / 2);
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn the_string_key_is_the_cdr_of_a_string() {
        let encoded = cdr::serialize::<_, _, cdr::CdrLe>(&"imu_a", cdr::Infinite).unwrap();
        // cdr adds its own 4-byte encapsulation header.
        assert_eq!(cdr_key::string("imu_a").unwrap().as_ref(), &encoded[4..]);
    }

    #[test]
    fn the_keyed_reader_takes_the_leading_string_as_key_and_never_fails() {
        let le = RepresentationIdentifier::CDR_LE;
        let body = cdr::serialize::<_, _, cdr::CdrLe>(&("imu_a", 7u64), cdr::Infinite).unwrap();
        let decoded = RawKeyedDecoder.decode_bytes(&body[4..], le).unwrap();
        assert_eq!(decoded.key, "imu_a");
        assert_eq!(decoded.sample.body.as_ref(), &body[4..]);
        let be = cdr::serialize::<_, _, cdr::CdrBe>(&"imu_b", cdr::Infinite).unwrap();
        assert_eq!(
            leading_string(&be[4..], RepresentationIdentifier::CDR_BE),
            "imu_b"
        );
        // Every big-endian encoding reads the length big endian.
        for &id in BIG_ENDIAN {
            assert_eq!(leading_string(&be[4..], id), "imu_b", "{id:?}");
            assert_ne!(leading_string(&body[4..], id), "imu_a", "{id:?}");
        }
        for id in [
            RepresentationIdentifier::XCDR2_LE,
            RepresentationIdentifier::D_CDR2_LE,
            RepresentationIdentifier::PL_XCDR2_LE,
            RepresentationIdentifier::PL_CDR_LE,
        ] {
            assert_eq!(leading_string(&body[4..], id), "imu_a", "{id:?}");
        }
        // Lengths past the end, no NUL, not UTF-8, too short: empty key.
        for bad in [
            &[0xff, 0xff, 0xff, 0x7f, b'a'][..],
            &[2, 0, 0, 0, b'a', b'b'],
            &[2, 0, 0, 0, 0xff, 0],
            &[1, 0],
            &[],
        ] {
            assert_eq!(leading_string(bad, le), "", "{bad:?}");
        }
    }
}
