//! The dev chain answers JSON-RPC on the node's port: any request body gets
//! a JSON-RPC answer, never a panic, and never corrupts the chain's log.
#![no_main]

use std::sync::LazyLock;

use cairn::devchain::DevChain;
use libfuzzer_sys::fuzz_target;

static CHAIN: LazyLock<(tempfile::TempDir, DevChain)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let chain = DevChain::open(dir.path()).unwrap();
    (dir, chain)
});

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let reply = CHAIN.1.handle(&request);
    assert!(reply.get("result").is_some() || reply.get("error").is_some());
});
