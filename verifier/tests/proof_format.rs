//! docs/proof-format.md's vectors (tests/vectors/proof-format/, computed by
//! an independent Python script from the document alone) held against the
//! code: the digest of a credential in each of its forms (a proof set of
//! one, the anchor entry beside the issuer's proof), the tree and its paths
//! (a path entry is the left input when the node's index is odd), the
//! status bit order, and the binding digest over the whole document.

use alloy::primitives::U256;
use cairn_verifier::merkle::{credential_digest, Batch, Hash};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!(
        "../../tests/vectors/proof-format/proof-format.json"
    ))
    .unwrap()
}

fn hash(v: &Value) -> Hash {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn every_form_of_a_credential_has_one_digest() {
    let v = vectors();
    let want = v["digest"]["digest"].as_str().unwrap();
    for (name, doc) in v["digest"]["forms"].as_object().unwrap() {
        assert_eq!(hex::encode(credential_digest(doc).unwrap()), want, "{name}");
    }
}

#[test]
fn the_tree_and_its_paths_are_the_documents() {
    let v = vectors();
    let t = &v["tree"];
    let digests: Vec<Hash> = t["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| credential_digest(c).unwrap())
        .collect();
    let expected: Vec<Hash> = t["digests"].as_array().unwrap().iter().map(hash).collect();
    assert_eq!(digests, expected);
    let batch = Batch::build(&digests).unwrap();
    assert_eq!(hex::encode(batch.root()), t["root"].as_str().unwrap());
    for (i, path) in t["paths"].as_array().unwrap().iter().enumerate() {
        let proof = batch.proof(i).unwrap();
        let want: Vec<Hash> = path.as_array().unwrap().iter().map(hash).collect();
        assert_eq!(proof.path, want, "leaf {i}");
        assert!(proof.verify(&digests[i], &hash(&t["root"])), "leaf {i}");
    }
}

#[test]
fn status_bits_are_least_significant_first_within_256_bit_words() {
    let v = vectors();
    let s = &v["statusWords"];
    let words: Vec<U256> = s["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().parse().unwrap())
        .collect();
    for i in s["set"].as_array().unwrap() {
        assert!(
            cairn_verifier::registry::bit(&words, i.as_u64().unwrap()),
            "{i}"
        );
    }
    for i in s["clear"].as_array().unwrap() {
        assert!(
            !cairn_verifier::registry::bit(&words, i.as_u64().unwrap()),
            "{i}"
        );
    }
}

#[test]
fn the_binding_digest_covers_its_own_proof() {
    let v = vectors();
    let b = &v["binding"];
    let digest = hex::encode(credential_digest(&b["document"]).unwrap());
    assert_eq!(digest, b["digest"].as_str().unwrap());
    assert_ne!(digest, b["digestWithoutProof"].as_str().unwrap());
}

#[test]
fn the_registry_calls_and_an_answer_are_the_abis() {
    use alloy::primitives::{Address, B256};
    use alloy::sol_types::SolCall;
    use cairn_verifier::registry::CairnRegistry;
    let v = vectors();
    let c = &v["calls"];
    let root = B256::from(hash(&v["tree"]["root"]));
    let binding = B256::from(credential_digest(&v["binding"]["document"]).unwrap());
    let data = |call: Vec<u8>| format!("0x{}", hex::encode(call));
    assert_eq!(
        data(CairnRegistry::anchorsCall { root }.abi_encode()),
        c["anchors"]["data"].as_str().unwrap()
    );
    assert_eq!(
        data(
            CairnRegistry::bindingsCall {
                bindingHash: binding
            }
            .abi_encode()
        ),
        c["bindings"]["data"].as_str().unwrap()
    );
    assert_eq!(
        data(
            CairnRegistry::statusWordsCall {
                root,
                fromWord: U256::ZERO,
                count: U256::from(1)
            }
            .abi_encode()
        ),
        c["statusWords"]["data"].as_str().unwrap()
    );
    let answer = hex::decode(
        c["anchors"]["answer"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    let decoded = CairnRegistry::anchorsCall::abi_decode_returns(&answer).unwrap();
    let want = &c["anchors"]["decoded"];
    assert_eq!(
        decoded.issuer,
        want["issuer"].as_str().unwrap().parse::<Address>().unwrap()
    );
    assert_eq!(decoded.blockNumber, want["blockNumber"].as_u64().unwrap());
    assert_eq!(decoded.timestamp, want["timestamp"].as_u64().unwrap());
    assert_eq!(
        decoded.leafCount,
        U256::from(want["leafCount"].as_u64().unwrap())
    );
}
