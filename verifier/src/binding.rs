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
//! The subject also names the one registry the account anchors in
//! (`anchorRegistry`, a CAIP-10 account id `eip155:<chainId>:<address>`), so
//! a verifier learns from the issuer's signature which registry speaks for
//! it: a look-alike contract, or a second copy of the registry in which the
//! root was anchored again, can never make a credential valid. Bindings from
//! before that term (they name no registry) stand only where a verifier
//! pins the registry itself (`cairn verify --registry`).
//!
//! Terms of the VC 2.0 context are used, and `anchorRegistry`, defined by an
//! inline context, so any VC verifier reads it with no context to fetch.

use alloy::primitives::Address;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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

/// The IRI of `anchorRegistry`: the section of the proof format that
/// defines it.
pub const ANCHOR_REGISTRY_IRI: &str =
    "https://github.com/cairn-vc/cairn/blob/main/docs/proof-format.md#anchorregistry";

/// The `@context` of a binding document: VC 2.0 and `anchorRegistry`.
pub fn binding_context() -> Value {
    json!([
        crate::context::CREDENTIALS_V2,
        {"anchorRegistry": {"@id": ANCHOR_REGISTRY_IRI, "@type": "@id"}}
    ])
}

/// The binding document's subject, as written and read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingSubject {
    /// The chain account, `did:pkh:eip155:<chainId>:<address>`.
    pub id: String,
    /// The registry the account anchors in, `eip155:<chainId>:<address>`
    /// (absent from bindings made before it was defined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_registry: Option<String>,
}

/// The binding document's fields that carry meaning, as written and read
/// (the signed JSON itself is what its proof covers).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingDocument {
    /// Always [`BINDING_NAME`].
    pub name: String,
    /// The issuer's DID (a string, not a profile object).
    pub issuer: String,
    /// When the binding starts to hold.
    pub valid_from: String,
    /// When it stops holding, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// The account and its registry.
    pub credential_subject: BindingSubject,
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
    /// The registry the account anchors in, on `chain_id`; `None` for a
    /// binding made before documents named it.
    pub registry: Option<Address>,
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
    format!("did:pkh:{}", caip10(chain_id, account))
}

/// A CAIP-10 account id, `eip155:<chainId>:<EIP-55 address>`.
pub fn caip10(chain_id: u64, account: Address) -> String {
    format!("eip155:{chain_id}:{}", account.to_checksum(None))
}

/// Parses a CAIP-10 `eip155` account id (with `did:pkh:` before it or not).
fn parse_caip10(s: &str) -> Option<(u64, Address)> {
    let (chain, addr) = s
        .strip_prefix("did:pkh:")
        .unwrap_or(s)
        .strip_prefix("eip155:")?
        .split_once(':')?;
    Some((chain.parse().ok()?, addr.parse().ok()?))
}

/// Builds and signs a binding document: `account` on `chain_id` anchors
/// the issuer's credentials in `registry`.
#[allow(clippy::too_many_arguments)]
pub async fn sign_binding(
    canonicalizer: &Canonicalizer,
    key: &SigningKey,
    issuer_did: &str,
    verification_method: &str,
    chain_id: u64,
    account: Address,
    registry: Address,
    valid_from: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
) -> Result<Value, BindingError> {
    let fields = BindingDocument {
        name: BINDING_NAME.to_owned(),
        issuer: issuer_did.to_owned(),
        valid_from: fmt_time(valid_from),
        valid_until: valid_until.map(fmt_time),
        credential_subject: BindingSubject {
            id: account_did(chain_id, account),
            anchor_registry: Some(caip10(chain_id, registry)),
        },
    };
    let mut doc = serde_json::to_value(fields).expect("a binding serializes");
    doc["@context"] = binding_context();
    doc["id"] = json!(uuid::Uuid::new_v4().urn().to_string());
    doc["type"] = json!(["VerifiableCredential"]);
    doc["description"] =
        json!("The issuer anchors its credentials from this chain account, in this registry.");
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
    // The context exactly as written: the fields are read from the JSON,
    // the signature covers what the context makes of it, and no other
    // context may make the two differ.
    let context = doc.get("@context");
    if context != Some(&binding_context())
        && context != Some(&json!([crate::context::CREDENTIALS_V2]))
    {
        return Err(shape("the @context is not a binding document's"));
    }
    let fields: BindingDocument = serde_json::from_value(doc.clone())
        .map_err(|e| BindingError::Shape(format!("not a binding document: {e}")))?;
    let issuer = fields.issuer.as_str();
    let (chain_id, account) = fields
        .credential_subject
        .id
        .starts_with("did:pkh:")
        .then(|| parse_caip10(&fields.credential_subject.id))
        .flatten()
        .ok_or_else(|| shape("credentialSubject.id is not a did:pkh:eip155 account"))?;
    let registry = match &fields.credential_subject.anchor_registry {
        None => None,
        Some(r) => match parse_caip10(r) {
            Some((chain, registry)) if chain == chain_id => Some(registry),
            Some(_) => return Err(shape("anchorRegistry is on another chain than the account")),
            None => return Err(shape("anchorRegistry is not an eip155 CAIP-10 account id")),
        },
    };
    let time = |field: &str, v: &str| -> Result<DateTime<Utc>, BindingError> {
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| BindingError::Shape(format!("{field} is not a date-time")))
    };
    let valid_from = time("validFrom", &fields.valid_from)?;
    let valid_until = fields
        .valid_until
        .as_deref()
        .map(|v| time("validUntil", v))
        .transpose()?;
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
        registry,
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
        let registry = Address::repeat_byte(0x17);
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
                registry,
                from,
                Some(until),
            ))
            .unwrap()
        };

        let doc = sign(&key.identity.did);
        let b = block_on(verify_binding(&canon, &doc)).unwrap();
        assert_eq!(b.registry, Some(registry));
        assert_eq!(
            doc["credentialSubject"]["anchorRegistry"],
            format!("eip155:1:{}", registry.to_checksum(None))
        );
        assert_eq!(
            doc["credentialSubject"]["id"],
            format!("did:pkh:eip155:1:{}", account.to_checksum(None))
        );
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
