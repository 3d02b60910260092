//! The issuer binding: how a verifier holding only a credential learns that
//! the chain account which anchored it speaks for the credential's issuer.
//!
//! The binding document is a small VC 2.0 credential issued and signed by the
//! issuer's `did:key`, whose subject is the chain account as a `did:pkh`
//! (CAIP-10 in DID form: `did:pkh:eip155:<chainId>:<address>`), valid for a
//! window. Its digest (the same JCS digest as a batch leaf) is registered in
//! the registry contract *from that account*. So both directions hold: the
//! DID signed the document naming the account, and the account registered
//! the document. A later document with a later window moves the issuer to a
//! new account without touching credentials anchored before.
//!
//! Only terms of the VC 2.0 context are used, so any VC verifier reads it.

use alloy::primitives::Address;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::credential::fmt_time;
use crate::integrity::{Canonicalizer, IntegrityError, SigningKey, Terms};
use crate::merkle::{credential_digest, Hash};

/// The `name` every binding document carries, so it is recognisable in a
/// wallet or a log and cannot be mistaken for a badge.
pub const BINDING_NAME: &str = "Cairn anchoring account";

/// Why a binding document could not be signed or was refused.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// The document is not a well-formed binding document: not Cairn's
    /// `name`, or a missing or malformed issuer, subject, date or proof.
    #[error("binding document: {0}")]
    Shape(String),
    /// Signing failed, or the document's Data Integrity proof does not
    /// verify.
    #[error("binding document signature: {0}")]
    Signature(#[from] IntegrityError),
    /// The proof's verification method belongs to another DID than the
    /// document's issuer.
    #[error("the binding document is signed by {signer}, not by its issuer {issuer}")]
    NotIssuers {
        /// The proof's verification method.
        signer: String,
        /// The DID the document names as its issuer.
        issuer: String,
    },
}

/// What a verified binding document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The issuer's DID, which signed the document.
    pub issuer: String,
    /// The EIP-155 chain id of the account, from its `did:pkh`.
    pub chain_id: u64,
    /// The chain account the issuer anchors from.
    pub account: Address,
    /// When the binding starts to hold (`validFrom`, inclusive).
    pub valid_from: DateTime<Utc>,
    /// When it stops holding (`validUntil`, inclusive); `None`: open-ended.
    pub valid_until: Option<DateTime<Utc>>,
    /// What the registry holds for this document.
    pub hash: Hash,
}

impl Binding {
    /// Whether the binding covers time `t` (an anchor's block time).
    pub fn covers(&self, t: DateTime<Utc>) -> bool {
        self.valid_from <= t && self.valid_until.is_none_or(|u| t <= u)
    }
}

/// The `did:pkh` of an EVM account (CAIP-10 `eip155:<chainId>:<address>`).
pub fn account_did(chain_id: u64, account: Address) -> String {
    format!("did:pkh:eip155:{chain_id}:{}", account.to_checksum(None))
}

/// Builds and signs a binding document.
#[allow(clippy::too_many_arguments)]
pub async fn sign_binding(
    canonicalizer: &Canonicalizer,
    key: &SigningKey,
    issuer_did: &str,
    verification_method: &str,
    chain_id: u64,
    account: Address,
    valid_from: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
) -> Result<Value, BindingError> {
    let mut doc = json!({
        "@context": [crate::context::CREDENTIALS_V2],
        "id": uuid::Uuid::new_v4().urn().to_string(),
        "type": ["VerifiableCredential"],
        "name": BINDING_NAME,
        "description": "The issuer anchors its credentials from this chain account.",
        "issuer": issuer_did,
        "validFrom": fmt_time(valid_from),
        "credentialSubject": {"id": account_did(chain_id, account)},
    });
    if let Some(until) = valid_until {
        doc["validUntil"] = json!(fmt_time(until));
    }
    Ok(canonicalizer
        .sign(doc, key, verification_method, &fmt_time(Utc::now()))
        .await?)
}

/// Checks a binding document's shape and signature (by its own issuer's
/// did:key) and returns what it binds. Whether the registry holds its hash
/// from that account, and whether it covers an anchor's time, are the
/// caller's to check against the chain.
pub async fn verify_binding(
    canonicalizer: &Canonicalizer,
    doc: &Value,
) -> Result<Binding, BindingError> {
    let shape = |m: &str| BindingError::Shape(m.to_owned());
    if doc.get("name").and_then(Value::as_str) != Some(BINDING_NAME) {
        return Err(shape("not a Cairn binding document"));
    }
    let issuer = doc
        .get("issuer")
        .and_then(Value::as_str)
        .ok_or_else(|| shape("no issuer DID"))?;
    let subject = doc["credentialSubject"]["id"]
        .as_str()
        .ok_or_else(|| shape("no credentialSubject.id"))?;
    let (chain_id, account) = subject
        .strip_prefix("did:pkh:eip155:")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(chain, addr)| Some((chain.parse().ok()?, addr.parse::<Address>().ok()?)))
        .ok_or_else(|| shape("credentialSubject.id is not a did:pkh:eip155 account"))?;
    let time = |field: &str| -> Result<Option<DateTime<Utc>>, BindingError> {
        doc.get(field)
            .map(|v| {
                v.as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| BindingError::Shape(format!("{field} is not a date-time")))
            })
            .transpose()
    };
    let valid_from = time("validFrom")?.ok_or_else(|| shape("no validFrom"))?;
    let valid_until = time("validUntil")?;
    let proof = doc.get("proof").ok_or_else(|| shape("no proof"))?;
    let signer = proof["verificationMethod"].as_str().unwrap_or_default();
    if signer.split('#').next() != Some(issuer) {
        return Err(BindingError::NotIssuers {
            signer: signer.to_owned(),
            issuer: issuer.to_owned(),
        });
    }
    canonicalizer.verify(doc, proof, Terms::Check).await?;
    Ok(Binding {
        issuer: issuer.to_owned(),
        chain_id,
        account,
        valid_from,
        valid_until,
        hash: credential_digest(doc).map_err(|e| BindingError::Shape(e.to_string()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Contexts;
    use crate::integrity::test_keys::{IssuerKey, SigningKeyType};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn binding_round_trip_and_forgeries() {
        let canon = Canonicalizer::new(Contexts::standard());
        let key = IssuerKey::generate(None, SigningKeyType::Ed25519).unwrap();
        let other = IssuerKey::generate(None, SigningKeyType::Ed25519).unwrap();
        let sk = SigningKey::from_jwk(key.signing_jwk()).unwrap();
        let account = Address::repeat_byte(0x42);
        let from = crate::credential::parse_time("2026-01-01", false).unwrap();
        let until = crate::credential::parse_time("2026-12-31", true).unwrap();
        let sign = |issuer: &str| {
            block_on(sign_binding(
                &canon,
                &sk,
                issuer,
                &key.identity.verification_method,
                1,
                account,
                from,
                Some(until),
            ))
            .unwrap()
        };

        let doc = sign(&key.identity.did);
        let b = block_on(verify_binding(&canon, &doc)).unwrap();
        assert_eq!((b.chain_id, b.account), (1, account));
        assert_eq!(b.issuer, key.identity.did);
        assert!(b.covers(crate::credential::parse_time("2026-06-01", false).unwrap()));
        assert!(!b.covers(crate::credential::parse_time("2027-01-01", false).unwrap()));
        assert_eq!(b.hash, credential_digest(&doc).unwrap());

        // Claimed for another issuer than the key that signed it.
        let doc = sign(&other.identity.did);
        assert!(matches!(
            block_on(verify_binding(&canon, &doc)),
            Err(BindingError::NotIssuers { .. })
        ));

        // A longer window than was signed.
        let mut doc = sign(&key.identity.did);
        doc.as_object_mut().unwrap().remove("validUntil");
        assert!(matches!(
            block_on(verify_binding(&canon, &doc)),
            Err(BindingError::Signature(_))
        ));
    }
}
