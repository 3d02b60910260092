//! W3C Bitstring Status List, for the wallets and verifiers that know only
//! the standard: every credential a node issues carries a
//! `BitstringStatusListEntry` for revocation and one for suspension, at an
//! index of a list of [`LIST_SIZE`] entries that the node serves, signed by
//! the issuer. (Cairn's own verifier reads the registry on chain instead;
//! the lists say the same, and outlive the node only through mirrors.)
//!
//! Indices are handed out by a keyed pseudorandom permutation of the
//! issuance counter, so a list's indices are used in an order that says
//! nothing about issuance order (herd privacy), each exactly once, with no
//! per-index bookkeeping.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Entries per list: the specification's minimum for herd privacy.
pub const LIST_SIZE: u64 = 131_072;

/// Why a status list could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatusListError {
    /// The `encodedList` is not multibase, not GZIP, or inflates past the
    /// bound a verifier accepts.
    #[error("encodedList: {0}")]
    Encoding(String),
}

/// The two purposes Cairn publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A set bit means the credential is revoked, for good.
    Revocation,
    /// A set bit means the credential is suspended, until reinstated.
    Suspension,
}

impl Purpose {
    /// The `statusPurpose` value: `revocation` or `suspension`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Revocation => "revocation",
            Purpose::Suspension => "suspension",
        }
    }

    /// The purpose a `statusPurpose` value names, if Cairn publishes it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "revocation" => Some(Purpose::Revocation),
            "suspension" => Some(Purpose::Suspension),
            _ => None,
        }
    }
}

/// A list's path segment, `revocation-1`, and back.
pub fn list_name(list: u64, purpose: Purpose) -> String {
    format!("{}-{list}", purpose.as_str())
}

/// The list number and purpose a path segment such as `revocation-1` names;
/// `None` for anything else (lists are numbered from 1).
pub fn parse_list_name(name: &str) -> Option<(u64, Purpose)> {
    let (purpose, list) = name.rsplit_once('-')?;
    let list: u64 = list.parse().ok().filter(|&l| l >= 1)?;
    Some((list, Purpose::parse(purpose)?))
}

/// Maps the n-th credential to its (list, index): list `n / LIST_SIZE + 1`,
/// index a keyed permutation of `n % LIST_SIZE`.
pub struct IndexPermutation {
    key: [u8; 32],
}

impl IndexPermutation {
    /// The permutation keyed by `key`, the issuer's secret: without it the
    /// order of indices cannot be predicted.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Four-round balanced Feistel network on 18 bits, walked until the
    /// value falls below 2^17: a bijection of [0, LIST_SIZE).
    fn permute(&self, list: u64, x: u64) -> u64 {
        let mut v = x;
        loop {
            let (mut l, mut r) = (v >> 9, v & 0x1ff);
            for round in 0u8..4 {
                let f = Sha256::new()
                    .chain_update(self.key)
                    .chain_update(list.to_be_bytes())
                    .chain_update([round])
                    .chain_update(r.to_be_bytes())
                    .finalize();
                let f = u64::from(u16::from_be_bytes([f[0], f[1]])) & 0x1ff;
                (l, r) = (r, l ^ f);
            }
            v = (l << 9) | r;
            if v < LIST_SIZE {
                return v;
            }
        }
    }

    /// The (list, index) of the `n`-th credential issued, from 0.
    pub fn slot(&self, n: u64) -> (u64, u64) {
        let list = n / LIST_SIZE + 1;
        (list, self.permute(list, n % LIST_SIZE))
    }
}

/// The `credentialStatus` entries of a credential at `index` of list `list`.
pub fn entries(base_url: &str, list: u64, index: u64) -> Value {
    let entry = |purpose: Purpose| {
        let url = format!("{base_url}/status-lists/{}", list_name(list, purpose));
        json!({
            "id": format!("{url}#{index}"),
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose.as_str(),
            "statusListIndex": index.to_string(),
            "statusListCredential": url,
        })
    };
    json!([entry(Purpose::Revocation), entry(Purpose::Suspension)])
}

/// The (list, index) of the entry for `purpose` Cairn made in a credential
/// it issued. Its entries come after any of the issuer's own (which never
/// name the node's lists: issuance refuses that), so the last entry that
/// names a Cairn list is the node's, under whatever URL the node had then.
pub fn entry_of(credential: &Value, purpose: Purpose) -> Option<(u64, u64)> {
    let entries = match credential.get("credentialStatus")? {
        Value::Array(a) => a.iter().collect::<Vec<_>>(),
        v @ Value::Object(_) => vec![v],
        _ => return None,
    };
    entries.into_iter().rev().find_map(|e| {
        if e.get("statusPurpose")?.as_str()? != purpose.as_str() {
            return None;
        }
        let url = e.get("statusListCredential")?.as_str()?;
        let (list, p) = parse_list_name(url.rsplit('/').next()?)?;
        let index = e.get("statusListIndex")?.as_str()?.parse().ok()?;
        (p == purpose && index < LIST_SIZE).then_some((list, index))
    })
}

/// A bitstring of [`LIST_SIZE`] bits, all clear.
pub fn empty() -> Vec<u8> {
    vec![0u8; (LIST_SIZE / 8) as usize]
}

/// Sets bit `index`: bit 0 is the most significant bit of the first byte.
pub fn set(bits: &mut [u8], index: u64) {
    bits[(index / 8) as usize] |= 0x80 >> (index % 8);
}

/// Whether bit `index` is set (bit 0: the most significant bit of the first
/// byte); `false` past the end.
pub fn get(bits: &[u8], index: u64) -> bool {
    bits.get((index / 8) as usize)
        .is_some_and(|b| b & (0x80 >> (index % 8)) != 0)
}

/// `encodedList`: the GZIP-compressed bitstring, multibase base64url with no
/// padding.
pub fn encode(bits: &[u8]) -> String {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bits).expect("writing to memory");
    let compressed = gz.finish().expect("writing to memory");
    multibase::encode(multibase::Base::Base64Url, compressed)
}

/// The longest bitstring [`decode`] inflates (16 MiB: 134 million entries),
/// so that a hostile list cannot make a verifier inflate gigabytes.
const MAX_DECODED: u64 = 16 << 20;

/// Decodes an `encodedList`.
pub fn decode(encoded: &str) -> Result<Vec<u8>, StatusListError> {
    use std::io::Read;
    let (_, compressed) =
        multibase::decode(encoded).map_err(|e| StatusListError::Encoding(e.to_string()))?;
    let limit = MAX_DECODED;
    let mut bits = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .take(limit + 1)
        .read_to_end(&mut bits)
        .map_err(|e| StatusListError::Encoding(e.to_string()))?;
    if bits.len() as u64 > limit {
        return Err(StatusListError::Encoding("the list is too long".into()));
    }
    Ok(bits)
}

/// How far a status list's `validFrom` lies before its signing: more than
/// any honest verifier's clock is behind.
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// How long a verifier may keep a status list before reading it again, in
/// milliseconds (the list's `ttl`).
pub const TTL_MS: u64 = 5 * 60 * 1000;

/// An unsigned status list credential: list `list` for `purpose`, served
/// under `base_url`, holding `bits`, from `issuer` (its DID) and valid from
/// `valid_from` (an RFC 3339 date-time).
pub fn list_credential(
    base_url: &str,
    list: u64,
    purpose: Purpose,
    bits: &[u8],
    issuer: &str,
    valid_from: &str,
) -> Value {
    let url = format!("{base_url}/status-lists/{}", list_name(list, purpose));
    json!({
        "@context": [crate::context::CREDENTIALS_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": purpose.as_str(),
            "encodedList": encode(bits),
            "ttl": TTL_MS,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_permutation_uses_every_index_once_out_of_order() {
        let p = IndexPermutation::new([7; 32]);
        let mut seen = vec![false; LIST_SIZE as usize];
        let mut in_order = 0;
        for n in 0..LIST_SIZE {
            let (list, i) = p.slot(n);
            assert_eq!(list, 1);
            assert!(!seen[i as usize], "index {i} twice");
            seen[i as usize] = true;
            in_order += usize::from(i == n);
        }
        assert!(
            in_order < 10,
            "{in_order} indices equal their issuance number"
        );
        assert_eq!(p.slot(LIST_SIZE).0, 2);
        // Another key, another order.
        let q = IndexPermutation::new([8; 32]);
        assert!((0..100).filter(|&n| p.slot(n) == q.slot(n)).count() < 5);
    }

    #[test]
    fn list_names_round_trip_and_bad_ones_are_refused() {
        assert_eq!(list_name(3, Purpose::Suspension), "suspension-3");
        assert_eq!(
            parse_list_name("revocation-12"),
            Some((12, Purpose::Revocation))
        );
        for bad in [
            "revocation-0",
            "revocation",
            "x-1",
            "revocation--1",
            "-1",
            "",
        ] {
            assert_eq!(parse_list_name(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn set_bits_survive_encoding(indices in proptest::collection::vec(0..LIST_SIZE, 0..50)) {
            let mut bits = empty();
            for &i in &indices {
                set(&mut bits, i);
            }
            let decoded = decode(&encode(&bits)).unwrap();
            prop_assert_eq!(decoded.len(), bits.len());
            for i in (0..LIST_SIZE).step_by(997).chain(indices.iter().copied()) {
                prop_assert_eq!(get(&decoded, i), indices.contains(&i));
            }
        }
    }

    #[test]
    fn entries_point_at_their_lists() {
        let cred = json!({"credentialStatus": entries("https://n.example", 2, 4242)});
        assert_eq!(entry_of(&cred, Purpose::Revocation), Some((2, 4242)));
        assert_eq!(entry_of(&cred, Purpose::Suspension), Some((2, 4242)));
        assert_eq!(entry_of(&json!({}), Purpose::Revocation), None);
        // The issuer's own entries come first; the node's are the last.
        let mut theirs = entries("https://elsewhere.example", 1, 7);
        let ours = entries("https://n.example", 2, 4242);
        theirs
            .as_array_mut()
            .unwrap()
            .extend(ours.as_array().unwrap().clone());
        let both = json!({"credentialStatus": theirs});
        assert_eq!(entry_of(&both, Purpose::Revocation), Some((2, 4242)));
        assert!(decode("uAAAA").is_err());
        assert!(decode("not multibase").is_err());
    }
}
