//! An OpenID4VCI key proof JWT comes from any wallet: checking it gives a
//! refusal, never a panic, whatever the bytes (and its `kid`, a did:key or
//! did:jwk, is decoded without the network).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cairn::wallets::check_proof_jwt(text, "https://issuer.example", 1_800_000_000);
        let _ = cairn::wallets::holder_key(text);
    }
});
