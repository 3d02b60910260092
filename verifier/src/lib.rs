//! Cairn's credentials and their verification: everything that an issuer's
//! node and any verifier share, and nothing of the node.
//!
//! A wallet, a licensing board's system or a web page embeds this crate to
//! check a Cairn credential with no contact to its issuer: the bundled
//! JSON-LD contexts, the Open Badges 3.0 shape, Data Integrity proofs
//! (`eddsa-rdfc-2022`, `ecdsa-rdfc-2019`), Merkle inclusion proofs, issuer
//! binding documents, Bitstring Status Lists, proof bundles and the
//! registry's read-only bindings. With the `chain` feature (on by default)
//! it also reads the registry from chain nodes (`registry::RegistryReader`,
//! `chain_verification::ChainVerifier`); without it, it builds without
//! alloy's provider stack and verifies credentials and proof bundles with
//! no network at all.
//!
//! It never depends on the node's storage, HTTP server, dev chain, key
//! files or transaction signing: `cargo tree -p cairn-verifier -e normal`
//! shows none of them, and a test holds it so.

#![warn(missing_docs)]

pub mod binding;
pub mod bundle;
pub mod chain_verification;
pub mod context;
pub mod credential;
pub mod image;
pub mod integrity;
pub mod merkle;
pub mod presentation;
pub mod proof;
pub mod registry;
mod shape;
pub mod statuslist;
pub mod verification;
