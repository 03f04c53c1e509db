//! Adverts put on Zenoh by anyone (`vigil/adverts/<topic>/<producer>`):
//! arbitrary bytes never panic, a refusal names at least one field, and an
//! advert that parses prints JSON that parses to the same advert.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_bridges::zenoh::AdvertJson;

fuzz_target!(|data: &[u8]| {
    match AdvertJson::parse(data) {
        Ok(advert) => {
            let again = AdvertJson::parse(advert.to_json().as_bytes())
                .unwrap_or_else(|e| panic!("printed advert parses: {e}\n{}", advert.to_json()));
            assert_eq!(again, advert);
        }
        Err(error) => assert!(!error.issues.is_empty()),
    }
});
