//! `cairn.toml` is outside input: parsing and resolving it give a one-line
//! error, never a panic.
#![no_main]

use cairn::config::{FileSettings, Settings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match FileSettings::parse(text) {
        Ok(file) => {
            if let Err(e) = Settings::resolve(file) {
                assert!(!e.to_string().contains('\n'));
            }
        }
        Err(e) => assert!(!e.contains('\n'), "{e}"),
    }
});
