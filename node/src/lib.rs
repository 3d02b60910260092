//! Cairn: verifiable credentials that stand even when their issuer is gone.
//!
//! This crate holds the node and everything a verifier needs. With default
//! features off (no `server`) it is the library alone: keys, contexts, Open
//! Badges 3.0 credentials, signing and verification, Merkle batches,
//! anchoring and the dev chain; it builds without RocksDB's C++, so that a
//! licensing board can embed the verifier.

pub mod anchor;
#[cfg(feature = "server")]
pub mod api;
pub mod binding;
pub mod bundle;
pub mod chain_verification;
pub mod config;
pub mod context;
pub mod credential;
pub mod devchain;
pub mod integrity;
pub mod issuer;
pub mod key;
pub mod merkle;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod node;
#[cfg(feature = "server")]
pub mod pipeline;
#[cfg(feature = "server")]
pub mod pool;
pub mod registry;
mod shape;
pub mod statuslist;
#[cfg(feature = "server")]
pub mod store;
pub mod tokens;
pub mod verification;
