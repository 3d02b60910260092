//! Cairn's issuer side: the key file, signing credentials, anchoring batch
//! roots (the only code that sends transactions), the embedded dev chain,
//! and, with the default `server` feature, the node itself (RocksDB store,
//! pipeline, HTTP API).
//!
//! What a verifier needs lives in `cairn-verifier`, which this crate builds
//! on and which never depends on it. With default features off this crate
//! is what the `cairn` command needs to sign and anchor, without RocksDB's
//! C++ or axum.

#[cfg(feature = "server")]
pub mod achievements;
pub mod analytics;
pub mod anchor;
#[cfg(feature = "server")]
pub mod api;
#[cfg(feature = "server")]
pub mod certification;
pub mod config;
pub mod devchain;
pub mod issuer;
pub mod key;
#[cfg(feature = "server")]
pub mod limits;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod node;
#[cfg(feature = "server")]
pub mod notifications;
#[cfg(feature = "server")]
pub mod pages;
#[cfg(feature = "server")]
pub mod pipeline;
#[cfg(feature = "server")]
pub mod pool;
#[cfg(feature = "server")]
pub mod published;
pub mod roster;
#[cfg(feature = "server")]
pub mod sessions;
#[cfg(feature = "server")]
pub mod site;
#[cfg(feature = "server")]
pub mod startup;
#[cfg(feature = "server")]
pub mod store;
pub mod tokens;
pub mod wallets;
