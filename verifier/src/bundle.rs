//! Proof bundles: what a verifier with no network needs to check an anchor
//! against one block hash it trusts.
//!
//! A bundle holds the anchor transaction's receipt (EIP-2718 encoded), the
//! RLP header of its block, and the Merkle-Patricia proof that ties the
//! receipt to the header's receipts root. Given a trusted block hash, the
//! header is checked by its hash, the receipt by the proof, and the registry's
//! `Anchored(root, issuer, leafCount)` log in the receipt says who anchored
//! what. Revocation is not in it: a bundle shows how things stood when the
//! anchor was mined, and only a chain node knows what the issuer did since.

use alloy::consensus::{Eip658Value, Header, ReceiptEnvelope, TxReceipt};
use alloy::eips::{Decodable2718, Encodable2718};
use alloy::primitives::{keccak256, Address, Bytes, B256};
#[cfg(feature = "chain")]
use alloy::providers::{DynProvider, Provider};
use alloy::rlp::{Decodable, Encodable};
use alloy::sol_types::SolEvent;
use alloy::trie::Nibbles;
#[cfg(feature = "chain")]
use alloy::trie::{proof::ProofRetainer, root::adjust_index_for_rlp, HashBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::registry::CairnRegistry;

/// The `type` of a bundle.
pub const BUNDLE_TYPE: &str = "CairnAnchorBundle2026";

/// Why a bundle could not be built or does not prove an anchor.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Building: the chain node failed, lacks the receipt or block, or its
    /// receipts do not make the block's receipts root.
    #[error("chain RPC: {0}")]
    Rpc(String),
    /// A field of the bundle is missing or cannot be decoded.
    #[error("bundle: {0}")]
    Malformed(String),
    /// The bundle's header is not the block the verifier trusts.
    #[error("the bundle's block header hashes to {got}, not the trusted {trusted}")]
    Untrusted {
        /// The keccak-256 hash of the bundle's RLP header.
        got: B256,
        /// The block hash the verifier trusts.
        trusted: B256,
    },
    /// The receipt proof does not tie the receipt to the header's receipts
    /// root.
    #[error("the receipt is not in the block: {0}")]
    NotInBlock(String),
    /// The receipt's status says the transaction reverted.
    #[error("the anchor transaction failed")]
    Failed,
    /// The receipt has no `Anchored` log for this root (first) from this
    /// registry (second).
    #[error("the receipt holds no Anchored log for root {0} from registry {1}")]
    NoAnchor(B256, Address),
}

/// What a bundle proves, against the trusted block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFacts {
    /// The number of the block that holds the anchor.
    pub block_number: u64,
    /// That block's time, in seconds since the Unix epoch.
    pub timestamp: u64,
    /// The account that anchored the root (the `Anchored` log's `issuer`).
    pub issuer: Address,
    /// How many credentials (Merkle leaves) the anchored batch holds.
    pub leaf_count: u64,
}

#[cfg(feature = "chain")]
fn rpc(e: impl std::fmt::Display) -> BundleError {
    BundleError::Rpc(e.to_string())
}

/// The key of receipt `index` in a block's receipts trie.
fn key(index: usize) -> Nibbles {
    let mut buf = Vec::new();
    index.encode(&mut buf);
    Nibbles::unpack(&buf)
}

/// Builds the bundle of transaction `tx` (mined) from a chain node.
#[cfg(feature = "chain")]
pub async fn build(provider: &DynProvider, tx: B256) -> Result<Value, BundleError> {
    let receipt = provider
        .get_transaction_receipt(tx)
        .await
        .map_err(rpc)?
        .ok_or_else(|| BundleError::Rpc(format!("no receipt for {tx}")))?;
    let block_hash = receipt
        .block_hash
        .ok_or_else(|| BundleError::Rpc("the receipt has no block".into()))?;
    let block = provider
        .get_block_by_hash(block_hash)
        .await
        .map_err(rpc)?
        .ok_or_else(|| BundleError::Rpc(format!("no block {block_hash}")))?;
    // Every receipt of the block, in order: the trie is built over them all.
    let mut encoded = Vec::new();
    for hash in block.transactions.hashes() {
        let r = provider
            .get_transaction_receipt(hash)
            .await
            .map_err(rpc)?
            .ok_or_else(|| BundleError::Rpc(format!("no receipt for {hash}")))?;
        encoded.push(r.inner.into_primitives_receipt().encoded_2718());
    }
    let index = receipt
        .transaction_index
        .ok_or_else(|| BundleError::Rpc("the receipt has no index".into()))?
        as usize;
    let target = key(index);
    let mut builder = HashBuilder::default().with_proof_retainer(ProofRetainer::new(vec![target]));
    for i in 0..encoded.len() {
        let i = adjust_index_for_rlp(i, encoded.len());
        builder.add_leaf(key(i), &encoded[i]);
    }
    let root = builder.root();
    let header = block.header.inner;
    if root != header.receipts_root {
        return Err(BundleError::Rpc(format!(
            "the receipts of block {block_hash} make root {root}, not its receiptsRoot {}",
            header.receipts_root
        )));
    }
    let proof: Vec<Vec<u8>> = builder
        .take_proof_nodes()
        .into_nodes_sorted()
        .into_iter()
        .map(|(_, node)| node.to_vec())
        .collect();
    let mut header_rlp = Vec::new();
    header.encode(&mut header_rlp);
    let bundle = ProofBundle {
        kind: BUNDLE_TYPE.to_owned(),
        block_hash,
        header: header_rlp,
        transaction_index: index as u64,
        receipt: encoded.swap_remove(index),
        receipt_proof: proof,
    };
    Ok(serde_json::to_value(bundle).expect("a bundle serializes"))
}

/// A proof bundle, as written and read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofBundle {
    /// Always [`BUNDLE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The block that holds the anchor (`keccak256(header)`).
    pub block_hash: B256,
    /// The RLP of the block header.
    #[serde(with = "hex_bytes")]
    pub header: Vec<u8>,
    /// The anchor transaction's place in the block.
    pub transaction_index: u64,
    /// Its EIP-2718 encoded receipt.
    #[serde(with = "hex_bytes")]
    pub receipt: Vec<u8>,
    /// The receipts trie's nodes from the root to the receipt.
    #[serde(with = "hex_list")]
    pub receipt_proof: Vec<Vec<u8>>,
}

/// Bytes as hex with no `0x`; a `0x` is tolerated on reading.
mod hex_bytes {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(D::Error::custom)
    }
}

/// A list of [`hex_bytes`].
mod hex_list {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(D::Error::custom))
            .collect()
    }
}

/// Checks a bundle against a trusted block hash: the root `root` was
/// anchored in `registry` in that block; returns by whom and over how many
/// leaves.
pub fn verify(
    bundle: &Value,
    trusted: B256,
    registry: Address,
    root: B256,
) -> Result<BundleFacts, BundleError> {
    let bundle =
        ProofBundle::deserialize(bundle).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let header_rlp = &bundle.header;
    let got = keccak256(header_rlp);
    if got != trusted {
        return Err(BundleError::Untrusted { got, trusted });
    }
    let header = Header::decode(&mut &header_rlp[..])
        .map_err(|e| BundleError::Malformed(format!("header: {e}")))?;
    let receipt_bytes = bundle.receipt;
    let index = bundle.transaction_index;
    let proof: Vec<Bytes> = bundle.receipt_proof.into_iter().map(Bytes::from).collect();
    alloy::trie::proof::verify_proof(
        header.receipts_root,
        key(index as usize),
        Some(receipt_bytes.clone()),
        &proof,
    )
    .map_err(|e| BundleError::NotInBlock(e.to_string()))?;
    let receipt = ReceiptEnvelope::decode_2718(&mut &receipt_bytes[..])
        .map_err(|e| BundleError::Malformed(format!("receipt: {e}")))?;
    if receipt.status_or_post_state() != Eip658Value::Eip658(true) {
        return Err(BundleError::Failed);
    }
    let log = receipt
        .logs()
        .iter()
        .find(|l| {
            l.address == registry
                && l.topics().first() == Some(&CairnRegistry::Anchored::SIGNATURE_HASH)
                && l.topics().get(1) == Some(&root)
        })
        .ok_or(BundleError::NoAnchor(root, registry))?;
    let event = CairnRegistry::Anchored::decode_log_data(&log.data)
        .map_err(|e| BundleError::Malformed(format!("Anchored log: {e}")))?;
    Ok(BundleFacts {
        block_number: header.number,
        timestamp: header.timestamp,
        issuer: event.issuer,
        leaf_count: event.leafCount.saturating_to::<u64>(),
    })
}
