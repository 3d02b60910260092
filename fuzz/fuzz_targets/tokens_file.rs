//! `tokens.json` may be edited by hand: parsing it gives an error, never a
//! panic, and what parses writes back to the same records.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = cairn::tokens::parse(data) {
        let text = serde_json::to_vec(&records).expect("records serialize");
        assert_eq!(
            cairn::tokens::parse(&text).expect("written records parse"),
            records
        );
    }
});
