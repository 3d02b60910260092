//! A proof bundle is outside input (`cairn verify --offline`): checking one
//! gives a typed error, never a panic. The trusted hash is the header's own,
//! so the fuzzer gets past the first check into the trie proof and receipt.
#![no_main]

use alloy::primitives::{keccak256, Address, B256};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let trusted = bundle["header"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .map(keccak256)
        .unwrap_or(B256::ZERO);
    let _ = cairn_verifier::bundle::verify(&bundle, trusted, Address::ZERO, B256::ZERO);
});
