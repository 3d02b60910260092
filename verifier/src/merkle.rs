//! Merkle batches: every issued credential is a leaf, and one root per batch
//! goes on chain. The format is specified in `docs/proof-format.md`.
//!
//! Hashing follows RFC 9162 (Certificate Transparency 2.0): a leaf is
//! `SHA-256(0x00 || data)` and an inner node `SHA-256(0x01 || left || right)`,
//! so no inner node can pass for a leaf. The tree is built bottom-up and a
//! node without a sibling is carried up unchanged, which gives exactly RFC
//! 9162's left-balanced tree.
//!
//! `rs_merkle` verifies proofs, and is the reference the tests hold Cairn's
//! tree to. Cairn builds the levels itself: `rs_merkle::MerkleTree` copies
//! each level through `(index, hash)` pairs and took about 0.4 s for a batch
//! of a million on one core, while a batch must seal in well under that
//! (see docs/performance.md); here every level is one flat vector, hashed on
//! every core.
//!
//! A leaf's data is the credential digest: SHA-256 of the RFC 8785 (JCS)
//! serialization of the signed credential without its anchor proofs, so the
//! leaf commits to the issuer's proof too, and to nothing that depends on the
//! anchoring itself.

use rs_merkle::{Hasher, MerkleProof};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::proof::{is_anchor_entry, proofs};

/// A SHA-256 digest: a credential digest, a leaf, a node or a root.
pub type Hash = [u8; 32];

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// RFC 9162 hashing for `rs_merkle`.
#[derive(Clone)]
pub struct Rfc9162;

impl Hasher for Rfc9162 {
    type Hash = Hash;

    fn hash(data: &[u8]) -> Hash {
        Sha256::digest(data).into()
    }

    /// An inner node; a lone node is carried up unchanged. Overridden also
    /// because the default concatenates into a fresh `Vec` per node.
    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => {
                let mut h = Sha256::new();
                h.update([NODE_PREFIX]);
                h.update(left);
                h.update(right);
                h.finalize().into()
            }
            None => *left,
        }
    }
}

/// The leaf hash of a credential digest.
pub fn leaf_hash(digest: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(digest);
    h.finalize().into()
}

/// Why a batch, an inclusion proof or a credential digest could not be made
/// or checked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MerkleError {
    /// A batch was built over no credentials.
    #[error("a batch needs at least one credential")]
    Empty,
    /// The leaf index is not less than the batch's leaf count.
    #[error("leaf index {index} is outside a batch of {count}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// How many leaves the batch has.
        count: u64,
    },
    /// The inclusion path does not have the number of sibling hashes that
    /// the leaf's position in the tree needs.
    #[error("the path has {got} hashes; a leaf at {index} of {count} needs {want}")]
    PathLength {
        /// The leaf's index.
        index: u64,
        /// How many leaves the batch has.
        count: u64,
        /// How many hashes the path has.
        got: usize,
        /// How many hashes it should have.
        want: usize,
    },
    /// A credential to digest is not a JSON object.
    #[error("the credential is not a JSON object")]
    NotAnObject,
}

/// SHA-256 of the JCS form of `credential` without its anchor proofs.
pub fn credential_digest(credential: &Value) -> Result<Hash, MerkleError> {
    let obj = credential.as_object().ok_or(MerkleError::NotAnObject)?;
    let proof = match (proofs(credential), obj.get("proof")) {
        (Ok(list), _) => {
            let kept: Vec<&Value> = list.iter().filter(|p| !is_anchor_entry(p)).collect();
            match kept.len() {
                0 => Proof::Absent,
                // A proof set of one is written as a single object, as it
                // was before the anchor proof joined it.
                1 => Proof::One(kept[0]),
                _ => Proof::Set(kept),
            }
        }
        // Not a proof set: digested as it stands (no signature will
        // verify anyway).
        (Err(_), Some(p)) => Proof::One(p),
        (Err(_), None) => Proof::Absent,
    };
    let jcs = serde_json_canonicalizer::to_vec(&WithoutAnchor(obj, proof))
        .expect("a JSON value serializes");
    Ok(Sha256::digest(jcs).into())
}

/// A credential without its anchor proof, serialized from the borrowed
/// parts: the digest is taken for every credential a verifier reads, and a
/// copy of each would cost more than the hashing.
struct WithoutAnchor<'a>(&'a serde_json::Map<String, Value>, Proof<'a>);

enum Proof<'a> {
    Absent,
    One(&'a Value),
    Set(Vec<&'a Value>),
}

impl serde::Serialize for WithoutAnchor<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.0 {
            if k != "proof" {
                map.serialize_entry(k, v)?;
            }
        }
        match &self.1 {
            Proof::Absent => {}
            Proof::One(p) => map.serialize_entry("proof", p)?,
            Proof::Set(ps) => map.serialize_entry("proof", ps)?,
        }
        map.end()
    }
}

/// A sealed batch: the tree over its credentials' digests, in order.
pub struct Batch {
    /// `levels[0]` holds the leaf hashes, the last level the root alone.
    levels: Vec<Vec<Hash>>,
}

/// Below this many hashes a level is hashed on one thread: spawning costs
/// more than it saves.
const PARALLEL_MIN: usize = 16 * 1024;

impl Batch {
    /// Builds the tree over credential digests (leaf `i` is `digests[i]`).
    pub fn build(digests: &[Hash]) -> Result<Self, MerkleError> {
        if digests.is_empty() {
            return Err(MerkleError::Empty);
        }
        let mut leaves = vec![[0u8; 32]; digests.len()];
        in_parallel(&mut leaves, |range, out| {
            for (o, d) in out.iter_mut().zip(&digests[range]) {
                *o = leaf_hash(d);
            }
        });
        let mut levels = vec![leaves];
        while let Some(below) = levels.last().filter(|l| l.len() > 1) {
            let mut level = vec![[0u8; 32]; below.len().div_ceil(2)];
            in_parallel(&mut level, |range, out| {
                for (o, i) in out.iter_mut().zip(range) {
                    *o = Rfc9162::concat_and_hash(&below[2 * i], below.get(2 * i + 1));
                }
            });
            levels.push(level);
        }
        Ok(Self { levels })
    }

    /// How many credentials (leaves) the batch holds.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Whether the batch has no leaves (never, once built).
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The tree's root: what goes on chain for the batch.
    pub fn root(&self) -> Hash {
        self.levels.last().expect("a built batch has levels")[0]
    }

    /// The inclusion proof of leaf `index`: its sibling on every level that
    /// has one, from the leaves up.
    pub fn proof(&self, index: usize) -> Result<InclusionProof, MerkleError> {
        if index >= self.len() {
            return Err(MerkleError::IndexOutOfRange {
                index: index as u64,
                count: self.len() as u64,
            });
        }
        let mut path = Vec::with_capacity(self.levels.len());
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(i ^ 1) {
                path.push(*sibling);
            }
            i /= 2;
        }
        Ok(InclusionProof {
            leaf_index: index as u64,
            leaf_count: self.len() as u64,
            path,
        })
    }
}

/// Fills `out` by calling `fill(range, chunk)` on chunks of it, one per core
/// when `out` is large.
fn in_parallel(out: &mut [Hash], fill: impl Fn(std::ops::Range<usize>, &mut [Hash]) + Sync) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(out.len().div_ceil(PARALLEL_MIN));
    if threads <= 1 {
        let len = out.len();
        return fill(0..len, out);
    }
    let chunk = out.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (n, part) in out.chunks_mut(chunk).enumerate() {
            let fill = &fill;
            s.spawn(move || fill(n * chunk..n * chunk + part.len(), part));
        }
    });
}

/// Everything needed to tie one credential digest to a batch root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// The credential's position in the batch, from 0.
    pub leaf_index: u64,
    /// How many credentials (leaves) the batch holds.
    pub leaf_count: u64,
    /// Sibling hashes from the leaf up, skipping levels where the node has no
    /// sibling and is carried up.
    #[serde(with = "hex_hashes")]
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// The root this proof leads to from a credential digest.
    pub fn root_for(&self, digest: &Hash) -> Result<Hash, MerkleError> {
        if self.leaf_index >= self.leaf_count {
            return Err(MerkleError::IndexOutOfRange {
                index: self.leaf_index,
                count: self.leaf_count,
            });
        }
        let want = path_length(self.leaf_index, self.leaf_count);
        if self.path.len() != want {
            return Err(MerkleError::PathLength {
                index: self.leaf_index,
                count: self.leaf_count,
                got: self.path.len(),
                want,
            });
        }
        MerkleProof::<Rfc9162>::new(self.path.clone())
            .root(
                &[self.leaf_index as usize],
                &[leaf_hash(digest)],
                self.leaf_count as usize,
            )
            .map_err(|_| MerkleError::PathLength {
                index: self.leaf_index,
                count: self.leaf_count,
                got: self.path.len(),
                want,
            })
    }

    /// Whether the credential digest is leaf `leaf_index` of the tree with
    /// `root`.
    pub fn verify(&self, digest: &Hash, root: &Hash) -> bool {
        self.root_for(digest).is_ok_and(|r| &r == root)
    }
}

/// How many siblings leaf `index` of `count` has on its way up.
fn path_length(mut index: u64, mut count: u64) -> usize {
    let mut n = 0;
    while count > 1 {
        if index ^ 1 < count {
            n += 1;
        }
        index /= 2;
        count = count.div_ceil(2);
    }
    n
}

mod hex_hashes {
    use super::Hash;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(path: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(path.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|h| {
                let bytes = hex::decode(h).map_err(D::Error::custom)?;
                Hash::try_from(bytes.as_slice())
                    .map_err(|_| D::Error::custom("a path hash must be 32 bytes"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::ANCHOR_PROOF_TYPE;
    use proptest::prelude::*;

    fn digests(n: usize, seed: u8) -> Vec<Hash> {
        (0..n)
            .map(|i| Sha256::digest([&[seed][..], &(i as u64).to_be_bytes()].concat()).into())
            .collect()
    }

    /// RFC 9162 section 2.1.1's recursive definition, written out plainly,
    /// as the reference the `rs_merkle` tree must agree with.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = n.next_power_of_two() / 2;
                Rfc9162::concat_and_hash(&mth(&leaves[..k]), Some(&mth(&leaves[k..])))
            }
        }
    }

    #[test]
    fn every_proof_of_every_small_tree_verifies() {
        for n in 1..=300 {
            let d = digests(n, 1);
            let batch = Batch::build(&d).unwrap();
            assert_eq!(batch.root(), mth(&d), "size {n}");
            for (i, digest) in d.iter().enumerate() {
                let proof = batch.proof(i).unwrap();
                assert!(proof.verify(digest, &batch.root()), "size {n} leaf {i}");
            }
        }
    }

    /// The vectors in tests/vectors/merkle/merkle.json were computed by an
    /// independent Python implementation of RFC 9162 (`generate.py` there).
    #[test]
    fn published_vectors() {
        let text = include_str!("../../tests/vectors/merkle/merkle.json");
        let file: Value = serde_json::from_str(text).unwrap();
        let unhex = |v: &Value| -> Hash {
            hex::decode(v.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        };
        let vectors = file["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 8);
        for v in vectors {
            let d: Vec<Hash> = v["digests"].as_array().unwrap().iter().map(unhex).collect();
            let batch = Batch::build(&d).unwrap();
            assert_eq!(batch.root(), unhex(&v["root"]), "root of {}", d.len());
            for (i, p) in v["proofs"].as_array().unwrap().iter().enumerate() {
                let published: InclusionProof = serde_json::from_value(p.clone()).unwrap();
                assert_eq!(
                    batch.proof(i).unwrap(),
                    published,
                    "leaf {i} of {}",
                    d.len()
                );
                assert!(published.verify(&d[i], &batch.root()));
            }
        }
    }

    /// Cairn's levels and proofs are exactly `rs_merkle`'s, given the same
    /// hashing.
    #[test]
    fn agrees_with_rs_merkle() {
        for n in [1, 2, 3, 6, 7, 100, 1023, 1025, 40_000] {
            let d = digests(n, 6);
            let ours = Batch::build(&d).unwrap();
            let leaves: Vec<Hash> = d.iter().map(leaf_hash).collect();
            let theirs = rs_merkle::MerkleTree::<Rfc9162>::from_leaves(&leaves);
            assert_eq!(Some(ours.root()), theirs.root(), "size {n}");
            for i in [0, n / 3, n / 2, n - 1] {
                assert_eq!(
                    ours.proof(i).unwrap().path,
                    theirs.proof(&[i]).proof_hashes(),
                    "size {n} leaf {i}"
                );
            }
        }
    }

    #[test]
    fn a_node_cannot_pass_for_a_leaf() {
        // Leaves 0 and 1 of a two-leaf tree: their parent is not the leaf
        // hash of their concatenation, so a one-leaf "tree" with that data
        // has another root.
        let d = digests(2, 2);
        let root = Batch::build(&d).unwrap().root();
        let l0 = leaf_hash(&d[0]);
        let l1 = leaf_hash(&d[1]);
        let node_data: Vec<u8> = [l0, l1].concat();
        assert_ne!(
            root,
            <Rfc9162 as Hasher>::hash(&[&[0u8][..], &node_data].concat())
        );
        assert_eq!(root, Rfc9162::concat_and_hash(&l0, Some(&l1)));
    }

    #[test]
    fn bad_proofs_are_errors_not_panics() {
        let d = digests(5, 3);
        let batch = Batch::build(&d).unwrap();
        assert_eq!(
            batch.proof(5).unwrap_err(),
            MerkleError::IndexOutOfRange { index: 5, count: 5 }
        );
        let mut p = batch.proof(4).unwrap();
        p.path.push([0; 32]);
        assert!(matches!(
            p.root_for(&d[4]),
            Err(MerkleError::PathLength { .. })
        ));
        let p = InclusionProof {
            leaf_index: 9,
            leaf_count: 0,
            path: vec![],
        };
        assert!(!p.verify(&d[0], &batch.root()));
        assert_eq!(Batch::build(&[]).err(), Some(MerkleError::Empty));
    }

    #[test]
    fn digest_ignores_anchor_proofs_and_key_order() {
        let issuer_proof = serde_json::json!({"type": "DataIntegrityProof", "proofValue": "z1"});
        let plain = serde_json::json!({"id": "urn:x", "name": "n", "proof": issuer_proof});
        let anchored = serde_json::json!({
            "name": "n", "id": "urn:x",
            "proof": [issuer_proof, {"type": ANCHOR_PROOF_TYPE, "root": "ab"}]
        });
        assert_eq!(
            credential_digest(&plain).unwrap(),
            credential_digest(&anchored).unwrap()
        );
        // The digest is JCS of the credential with the anchor proof taken
        // out: a set of one becomes the object, a set of none goes.
        let jcs = |v: &Value| -> Hash {
            Sha256::digest(serde_json_canonicalizer::to_vec(v).unwrap()).into()
        };
        assert_eq!(credential_digest(&anchored).unwrap(), jcs(&plain));
        let second = serde_json::json!({"type": "DataIntegrityProof", "proofValue": "z3"});
        let two = serde_json::json!({"id": "urn:x", "proof": [issuer_proof, {"type": ANCHOR_PROOF_TYPE}, second]});
        assert_eq!(
            credential_digest(&two).unwrap(),
            jcs(&serde_json::json!({"id": "urn:x", "proof": [issuer_proof, second]}))
        );
        let only_anchor = serde_json::json!({"id": "urn:x", "proof": {"type": ANCHOR_PROOF_TYPE}});
        assert_eq!(
            credential_digest(&only_anchor).unwrap(),
            jcs(&serde_json::json!({"id": "urn:x"}))
        );
        let mut other = plain.clone();
        other["proof"]["proofValue"] = "z2".into();
        assert_ne!(
            credential_digest(&plain).unwrap(),
            credential_digest(&other).unwrap()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// For any batch size, every leaf's proof verifies, and the proof
        /// fails for another leaf, another index, another root, or any
        /// flipped bit of the path. (The leaf count is not among these: it
        /// comes from the chain, which records it with the root.)
        #[test]
        fn proofs_verify_and_nothing_else_does(
            n in 1usize..3000,
            pick in any::<prop::sample::Index>(),
            other in any::<prop::sample::Index>(),
            bit in any::<prop::sample::Index>(),
        ) {
            let d = digests(n, 4);
            let batch = Batch::build(&d).unwrap();
            let root = batch.root();
            for (i, digest) in d.iter().enumerate() {
                prop_assert!(batch.proof(i).unwrap().verify(digest, &root));
            }
            let i = pick.index(n);
            let proof = batch.proof(i).unwrap();
            let j = other.index(n);
            if j != i {
                prop_assert!(!proof.verify(&d[j], &root), "another leaf");
                let moved = InclusionProof { leaf_index: j as u64, ..proof.clone() };
                prop_assert!(!moved.verify(&d[i], &root), "another index");
            }
            let mut wrong_root = root;
            wrong_root[0] ^= 1;
            prop_assert!(!proof.verify(&d[i], &wrong_root), "another root");
            if !proof.path.is_empty() {
                let bits = proof.path.len() * 256;
                let b = bit.index(bits);
                let mut flipped = proof.clone();
                flipped.path[b / 256][(b % 256) / 8] ^= 1 << (b % 8);
                prop_assert!(!flipped.verify(&d[i], &root), "flipped bit {}", b);
            }
        }

        #[test]
        fn proof_json_round_trips(n in 1usize..200, pick in any::<prop::sample::Index>()) {
            let d = digests(n, 5);
            let proof = Batch::build(&d).unwrap().proof(pick.index(n)).unwrap();
            let json = serde_json::to_string(&proof).unwrap();
            prop_assert_eq!(serde_json::from_str::<InclusionProof>(&json).unwrap(), proof);
        }
    }
}
