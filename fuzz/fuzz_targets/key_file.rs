//! A key file is outside input (it may be damaged or planted): reading its
//! public half and unlocking it give a typed error, never a panic.
#![no_main]

use std::path::Path;

use cairn::key::{decode_identity, IssuerKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.key");
    let _ = decode_identity(path, data);
    // Unlocking runs scrypt at the file's cost; keep the fuzzer fast by only
    // trying cheap files (the cost bound itself is unit-tested).
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if v["kdf"]["logN"].as_u64().is_some_and(|n| n <= 4) {
            let _ = IssuerKey::decode(path, data, "passphrase");
        }
    }
});
