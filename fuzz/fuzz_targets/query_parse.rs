//! Constraint queries: parsing never panics (errors render their caret
//! display), the normalized `Display` parses back to the same AST, and the
//! compiled query evaluates and explains a sample advert without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_qos::{AdvertView, Quantity, Query, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let query = match Query::parse(text) {
        Ok(query) => query,
        Err(error) => {
            let _ = error.render();
            return;
        }
    };
    let shown = query.to_string();
    assert_eq!(
        Query::parse(&shown).as_ref(),
        Ok(&query),
        "Display must round-trip: {shown}"
    );
    let compiled = query.compile();
    let mut advert = AdvertView::new("p", query.clauses()[0].topic());
    if let Ok(rate) = Quantity::parse("100Hz") {
        let _ = advert.capabilities.insert("rate", rate);
    }
    let _ = advert
        .capabilities
        .insert("frame", Value::Text("imu".into()));
    let adverts = [advert];
    let _ = compiled.rank(&adverts);
    let _ = compiled.explain(&adverts[0]);
});
