//! The verifier's dependency boundary: whoever embeds it (a wallet, a
//! board's system, a page) must never get the node's storage, server, dev
//! chain, key-file encryption or transaction signing with it.

use std::process::Command;

/// The crates that belong to the issuer's node, never to a verifier.
const NODE_ONLY: [&str; 7] = [
    "rocksdb",
    "librocksdb-sys",
    "axum",
    "revm",
    "scrypt",
    "chacha20poly1305",
    "alloy-signer-local",
];

/// `cargo tree -p cairn-verifier -e normal` with `features`, one crate name
/// a line.
fn tree(features: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "-p",
            "cairn-verifier",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}"])
        .args(features)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn assert_none_of(crates: &[String], forbidden: &[&str], what: &str) {
    assert!(
        crates.len() > 50,
        "{what}: the tree looks truncated: {crates:?}"
    );
    for c in forbidden {
        assert!(!crates.iter().any(|n| n == c), "{what} depends on {c}");
    }
}

#[test]
fn the_offline_verifier_has_no_node_parts_and_no_provider_stack() {
    let crates = tree(&["--no-default-features"]);
    assert!(crates.iter().any(|c| c == "cairn-verifier"));
    assert_none_of(&crates, &NODE_ONLY, "cairn-verifier without features");
    assert_none_of(
        &crates,
        &["alloy-provider", "alloy-transport-http", "alloy-contract"],
        "cairn-verifier without `chain`",
    );
}

#[test]
fn the_chain_verifier_has_no_node_parts() {
    let crates = tree(&["--features", "chain"]);
    assert!(
        crates.iter().any(|c| c == "alloy-provider"),
        "`chain` reads the chain"
    );
    assert_none_of(&crates, &NODE_ONLY, "cairn-verifier with `chain`");
}
