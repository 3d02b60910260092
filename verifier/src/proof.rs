//! The wire formats of Cairn's proofs, defined once for the node that
//! writes them and every verifier that reads them (docs/proof-format.md):
//! the proof set, the anchor proof entry that joins the issuer's proof in
//! it, and the anchor record it is made from.

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::merkle::{Hash, InclusionProof};

/// The `type` of the anchor proof entry.
pub const ANCHOR_PROOF_TYPE: &str = "CairnAnchorProof2026";

/// Where the anchor proof entry's terms are defined.
const ANCHOR_ENTRY_VOCAB: &str =
    "https://github.com/cairn-vc/cairn/blob/main/docs/proof-format.md#anchor-entry-";

/// The anchor proof entry's terms as a JSON-LD context, for a document that
/// embeds anchored credentials with their whole proof sets (a CLR), so that
/// its own signature covers the entries too. Inline: nothing is fetched.
/// `path` and `binding` are JSON literals, kept exactly as written.
pub fn anchor_entry_context() -> Value {
    let term = |name: &str| Value::String(format!("{ANCHOR_ENTRY_VOCAB}{}", name.to_lowercase()));
    let json = |name: &str| serde_json::json!({"@id": term(name), "@type": "@json"});
    serde_json::json!({
        ANCHOR_PROOF_TYPE: term(ANCHOR_PROOF_TYPE),
        "chain": term("chain"),
        "registry": term("registry"),
        "transaction": term("transaction"),
        "blockNumber": term("blockNumber"),
        "blockHash": term("blockHash"),
        "root": term("root"),
        "leafIndex": term("leafIndex"),
        "leafCount": term("leafCount"),
        "path": json("path"),
        "binding": json("binding"),
    })
}

/// A document's `proof`: one proof object, or a set of them (VC Data
/// Integrity allows both, and a credential gains a second proof when its
/// batch is anchored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProofSet<T = Value> {
    /// A single proof object.
    One(T),
    /// An array of proofs.
    Set(Vec<T>),
}

/// `proof` is there but is neither an object nor an array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`proof` is neither an object nor an array")]
pub struct NotAProofSet;

impl<T> ProofSet<T> {
    /// The proofs, in order.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            ProofSet::One(p) => vec![p],
            ProofSet::Set(ps) => ps,
        }
    }
}

/// The proofs of `doc`, borrowed: none when it has no `proof`.
pub fn proofs(doc: &Value) -> Result<&[Value], NotAProofSet> {
    match doc.get("proof") {
        None => Ok(&[]),
        Some(Value::Array(list)) => Ok(list),
        Some(p @ Value::Object(_)) => Ok(std::slice::from_ref(p)),
        Some(_) => Err(NotAProofSet),
    }
}

/// Whether `proof` is an anchor proof entry.
pub fn is_anchor_entry(proof: &Value) -> bool {
    proof.get("type").and_then(Value::as_str) == Some(ANCHOR_PROOF_TYPE)
}

/// Where and when a root was anchored: what a credential's anchor proof
/// names, and what a verifier looks up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorRecord {
    /// CAIP-2 chain id, `eip155:<chainId>`.
    pub chain: String,
    /// The registry contract.
    pub registry: Address,
    /// The anchor transaction.
    pub transaction: B256,
    /// The block that holds it.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// The batch root.
    pub root: B256,
    /// Leaves in the batch.
    pub leaf_count: u64,
}

/// The anchor proof entry: everything that ties one credential to the
/// chain, next to the issuer's proof in its `proof` set. Which fields a
/// verifier checks, and against what, is docs/proof-format.md's business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorEntry {
    /// Always [`ANCHOR_PROOF_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// CAIP-2 chain id, `eip155:<chainId>`.
    pub chain: String,
    /// The registry contract, EIP-55 checksummed.
    #[serde(with = "checksummed")]
    pub registry: Address,
    /// The anchor transaction.
    pub transaction: B256,
    /// The block that holds it.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// The batch root: 64 hex digits, no `0x` (one is tolerated on reading).
    #[serde(with = "bare_hex")]
    pub root: Hash,
    /// The credential's leaf, the batch size and the Merkle path.
    #[serde(flatten)]
    pub inclusion: InclusionProof,
    /// The issuer binding document (`binding.rs`), as signed.
    pub binding: Value,
}

impl AnchorEntry {
    /// The entry for one credential of an anchored batch.
    pub fn new(record: &AnchorRecord, inclusion: &InclusionProof, binding: &Value) -> Self {
        Self {
            kind: ANCHOR_PROOF_TYPE.to_owned(),
            chain: record.chain.clone(),
            registry: record.registry,
            transaction: record.transaction,
            block_number: record.block_number,
            block_hash: record.block_hash,
            root: record.root.0,
            inclusion: inclusion.clone(),
            binding: binding.clone(),
        }
    }

    /// The chain id of `chain`, if it is `eip155:<id>`.
    pub fn chain_id(&self) -> Option<u64> {
        self.chain.strip_prefix("eip155:")?.parse().ok()
    }

    /// The anchor entry of `doc`: `None` without one; an error naming what
    /// is wrong with a malformed one, or with two.
    pub fn of(doc: &Value) -> Result<Option<Self>, String> {
        let proofs = proofs(doc).map_err(|e| e.to_string())?;
        let mut entries = proofs.iter().filter(|p| is_anchor_entry(p));
        let Some(e) = entries.next() else {
            return Ok(None);
        };
        if entries.next().is_some() {
            return Err("more than one anchor proof".into());
        }
        let entry = Self::deserialize(e).map_err(|e| format!("the anchor proof: {e}"))?;
        if entry.chain_id().is_none() {
            return Err("the anchor proof's `chain` is not eip155:<id>".into());
        }
        Ok(Some(entry))
    }
}

/// The anchor proof entry a credential gains once its batch is anchored.
pub fn anchor_proof(record: &AnchorRecord, inclusion: &InclusionProof, binding: &Value) -> Value {
    serde_json::to_value(AnchorEntry::new(record, inclusion, binding))
        .expect("an anchor entry serializes")
}

/// `credential` with `anchor` in its proof set, replacing any earlier anchor
/// proof (a re-anchored batch gets new ones). The issuer's proof is kept as
/// it is, so the issuer's signature still verifies anywhere.
pub fn with_anchor_proof(mut credential: Value, anchor: Value) -> Value {
    let mut proofs = match credential.get_mut("proof").map(Value::take) {
        Some(Value::Null) | None => Vec::new(),
        Some(p) => serde_json::from_value::<ProofSet>(p)
            .map(ProofSet::into_vec)
            .unwrap_or_default(),
    };
    proofs.retain(|p| !is_anchor_entry(p));
    proofs.push(anchor);
    credential["proof"] = Value::Array(proofs);
    credential
}

/// An address written EIP-55 checksummed; read in any case.
mod checksummed {
    use alloy::primitives::Address;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&a.to_checksum(None))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| D::Error::custom(format!("`{s}` is not an address")))
    }
}

/// 32 bytes as 64 hex digits with no `0x`; a `0x` is tolerated on reading.
mod bare_hex {
    use crate::merkle::Hash;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s.strip_prefix("0x").unwrap_or(&s))
            .ok()
            .and_then(|b| Hash::try_from(b).ok())
            .ok_or_else(|| D::Error::custom("`root` is not 32 bytes of hex"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_entry_round_trips_in_the_published_format() {
        let record = AnchorRecord {
            chain: "eip155:31337".into(),
            registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3"
                .parse()
                .unwrap(),
            transaction: B256::repeat_byte(1),
            block_number: 7,
            block_hash: B256::repeat_byte(2),
            root: B256::repeat_byte(0xab),
            leaf_count: 2,
        };
        let inclusion = InclusionProof {
            leaf_index: 1,
            leaf_count: 2,
            path: vec![[0xcd; 32]],
        };
        let v = anchor_proof(&record, &inclusion, &json!({"b": 1}));
        assert_eq!(v["type"], ANCHOR_PROOF_TYPE);
        assert_eq!(v["registry"], "0x5FbDB2315678afecb367f032d93F642f64180aa3");
        assert_eq!(v["root"], "ab".repeat(32));
        assert_eq!(v["path"], json!(["cd".repeat(32)]));
        assert_eq!(v["leafIndex"], 1);
        assert_eq!(v["blockNumber"], 7);
        let doc = with_anchor_proof(json!({"proof": {"type": "DataIntegrityProof"}}), v.clone());
        let entry = AnchorEntry::of(&doc).unwrap().unwrap();
        assert_eq!(
            entry,
            AnchorEntry::new(&record, &inclusion, &json!({"b": 1}))
        );
        assert_eq!(entry.chain_id(), Some(31337));
        // A second anchoring replaces the entry; the issuer's proof stays.
        let again = with_anchor_proof(doc, v);
        assert_eq!(proofs(&again).unwrap().len(), 2);
    }

    #[test]
    fn malformed_entries_are_named() {
        let two = json!({"proof": [{"type": ANCHOR_PROOF_TYPE}, {"type": ANCHOR_PROOF_TYPE}]});
        assert_eq!(
            AnchorEntry::of(&two).unwrap_err(),
            "more than one anchor proof"
        );
        let bad = json!({"proof": {"type": ANCHOR_PROOF_TYPE, "chain": "eip155:1"}});
        assert!(AnchorEntry::of(&bad)
            .unwrap_err()
            .starts_with("the anchor proof:"));
        assert_eq!(
            AnchorEntry::of(&json!({"proof": 3})).unwrap_err(),
            NotAProofSet.to_string()
        );
        assert_eq!(AnchorEntry::of(&json!({})).unwrap(), None);
    }
}
