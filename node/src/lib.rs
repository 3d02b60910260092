//! Cairn: verifiable credentials that stand even when their issuer is gone.
//!
//! This crate holds the node and everything a verifier needs. With default
//! features off it is only the credential layer (keys, contexts, Open Badges
//! 3.0 credentials, signing and verification), which builds without RocksDB or
//! an HTTP server so that a licensing board can embed the verifier.

pub mod anchor;
pub mod binding;
pub mod context;
pub mod credential;
pub mod devchain;
pub mod integrity;
pub mod issuer;
pub mod key;
pub mod merkle;
pub mod verification;
