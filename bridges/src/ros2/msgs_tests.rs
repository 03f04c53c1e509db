use proptest::prelude::*;

use super::*;

fn sample() -> DiagnosticArray {
    DiagnosticArray {
        header: Header {
            stamp: Time { sec: 1, nanosec: 2 },
            frame_id: String::new(),
        },
        status: vec![DiagnosticStatus {
            level: level::WARN,
            name: "imu".into(),
            message: "hot".into(),
            hardware_id: String::new(),
            values: vec![KeyValue {
                key: "t".into(),
                value: "61".into(),
            }],
        }],
    }
}

/// The bytes a ROS 2 node sends for `sample()`, worked out by hand from
/// the CDR rules: little endian; a string is a u32 length that counts the
/// NUL terminator, then the bytes and the NUL; a sequence is a u32 count;
/// a u32/i32 is aligned to 4 bytes counted from the end of the
/// encapsulation header. Offsets in the comments are from that point.
#[rustfmt::skip]
const SAMPLE_BYTES: &[u8] = &[
    0x00, 0x01, 0x00, 0x00,             // encapsulation: CDR_LE, options 0
    0x01, 0x00, 0x00, 0x00,             //  0: header.stamp.sec = 1
    0x02, 0x00, 0x00, 0x00,             //  4: header.stamp.nanosec = 2
    0x01, 0x00, 0x00, 0x00,             //  8: header.frame_id length 1 ("" + NUL)
    0x00,                               // 12: NUL
    0x00, 0x00, 0x00,                   // 13: padding to 16
    0x01, 0x00, 0x00, 0x00,             // 16: status: 1 element
    0x01,                               // 20: level = WARN (a byte: no alignment)
    0x00, 0x00, 0x00,                   // 21: padding to 24
    0x04, 0x00, 0x00, 0x00,             // 24: name length 4
    b'i', b'm', b'u', 0x00,             // 28: "imu" NUL
    0x04, 0x00, 0x00, 0x00,             // 32: message length 4
    b'h', b'o', b't', 0x00,             // 36: "hot" NUL
    0x01, 0x00, 0x00, 0x00,             // 40: hardware_id length 1
    0x00,                               // 44: NUL
    0x00, 0x00, 0x00,                   // 45: padding to 48
    0x01, 0x00, 0x00, 0x00,             // 48: values: 1 element
    0x02, 0x00, 0x00, 0x00,             // 52: key length 2
    b't', 0x00,                         // 56: "t" NUL
    0x00, 0x00,                         // 58: padding to 60
    0x03, 0x00, 0x00, 0x00,             // 60: value length 3
    b'6', b'1', 0x00,                   // 64: "61" NUL; 67 bytes of data
];

#[test]
fn encoding_matches_the_hand_computed_ros2_bytes() {
    assert_eq!(encode(&sample()), SAMPLE_BYTES);
    assert_eq!(decode(SAMPLE_BYTES), Ok(sample()));
}

#[test]
fn big_endian_decodes_too() {
    let be = cdr::serialize::<_, _, cdr::CdrBe>(&sample(), cdr::Infinite).unwrap();
    assert_eq!(&be[..4], &[0, 0, 0, 0]);
    assert_eq!(decode(&be), Ok(sample()));
}

#[test]
fn a_status_alone_round_trips() {
    let status = sample().status.remove(0);
    assert_eq!(decode_status(&encode(&status)), Ok(status));
}

#[test]
fn lying_lengths_and_garbage_are_errors_not_allocations() {
    let mut huge_string = SAMPLE_BYTES.to_vec();
    huge_string[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = decode(&huge_string).unwrap_err();
    assert_eq!(err.offset, 16, "{err}");

    let mut huge_count = SAMPLE_BYTES.to_vec();
    huge_count[20..24].copy_from_slice(&0x4000_0000u32.to_le_bytes());
    assert!(decode(&huge_count).is_err());

    let mut no_nul = SAMPLE_BYTES.to_vec();
    no_nul[35] = b'!';
    assert_eq!(
        decode(&no_nul).unwrap_err().why,
        "string not terminated by NUL"
    );

    for bad in [&[][..], &[0x00], &[0x00, 0x07, 0, 0], &SAMPLE_BYTES[..40]] {
        assert!(decode(bad).is_err(), "{bad:?}");
    }
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn status() -> impl Strategy<Value = DiagnosticStatus> {
    let kv = (text(), text()).prop_map(|(key, value)| KeyValue { key, value });
    (
        any::<u8>(),
        text(),
        text(),
        text(),
        prop::collection::vec(kv, 0..3),
    )
        .prop_map(
            |(level, name, message, hardware_id, values)| DiagnosticStatus {
                level,
                name,
                message,
                hardware_id,
                values,
            },
        )
}

proptest! {
    #[test]
    fn decode_inverts_encode(
        sec in any::<i32>(),
        nanosec in any::<u32>(),
        frame_id in text(),
        status in prop::collection::vec(status(), 0..4),
    ) {
        let array = DiagnosticArray {
            header: Header { stamp: Time { sec, nanosec }, frame_id },
            status,
        };
        prop_assert_eq!(decode(&encode(&array)), Ok(array));
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
        let _ = decode_status(&bytes);
    }
}
