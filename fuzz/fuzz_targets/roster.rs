//! A roster is a CSV file any member of staff uploads: reading it and
//! checking every row gives rows and reasons, never a panic, whatever the
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(roster) = cairn::roster::parse(data) {
        let (good, _bad) = cairn::roster::check(&roster, &cairn::roster::guess(&roster.headers));
        for row in good {
            let _ = row.credential();
        }
    }
});
