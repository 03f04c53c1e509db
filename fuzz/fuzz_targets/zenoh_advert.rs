//! Adverts put on Zenoh by anyone (`vigil/adverts/<topic>/<producer>`):
//! arbitrary bytes never panic, a refusal names at least one field, and an
//! advert that parses prints JSON that parses to the same advert (its
//! signature member aside: a signature is appended to printed text). The
//! signature member is taken apart without panicking, and what it says
//! was signed is the payload without it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_bridges::zenoh::{open_signed, AdvertJson};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(signed)) = open_signed(data) {
        assert!(signed.message.len() < data.len(), "the member was taken out");
        assert_eq!(signed.message.last(), Some(&b'}'));
    }
    match AdvertJson::parse(data) {
        Ok(advert) => {
            let again = AdvertJson::parse(advert.to_json().as_bytes())
                .unwrap_or_else(|e| panic!("printed advert parses: {e}\n{}", advert.to_json()));
            let mut expected = advert.clone();
            expected.signature_member = false;
            assert_eq!(again, expected);
        }
        Err(error) => assert!(!error.issues.is_empty()),
    }
});
