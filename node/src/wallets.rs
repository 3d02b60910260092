//! Claiming an award into a wallet: the credential bound to the holder's
//! DID, and the two protocols wallets speak to get it.
//!
//! - VC-API exchanges (VCALM), as the Learner Credential Wallet speaks
//!   them: the wallet follows an interaction URL, is asked to authenticate
//!   its DID (a `DIDAuthentication` query with a challenge and a domain),
//!   and gets the credential for a presentation signed by that DID.
//! - OpenID for Verifiable Credential Issuance 1.0, pre-authorized code
//!   flow: an offer, a token for its code (and transaction code), a nonce,
//!   and the credential for an `openid4vci-proof+jwt` signed by the
//!   holder's `did:key` or `did:jwk`.
//!
//! Either way the credential is a new one, signed at claim time, whose
//! `credentialSubject.id` is the DID that proved possession of its key,
//! anchored in the next batch like every other; it marks its award claimed
//! in the same write (see `store::claims`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The one credential configuration offered: an Open Badge 3.0 credential
/// secured with Data Integrity (`ldp_vc`).
pub const CONFIGURATION_ID: &str = "OpenBadgeCredential";
/// OAuth's grant type for a pre-authorized code.
pub const PRE_AUTHORIZED_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// The `typ` of a key proof JWT.
pub const PROOF_TYP: &str = "openid4vci-proof+jwt";
/// The VC-API workflow that claims awards.
pub const WORKFLOW: &str = "claim";
/// How long a nonce lasts (ms).
pub const NONCE_TTL_MS: i64 = 5 * 60 * 1000;
/// How long an access token lasts (s).
pub const ACCESS_TTL: i64 = 5 * 60;
/// How long a VC-API exchange lasts (s).
pub const EXCHANGE_TTL: i64 = 15 * 60;
/// How far a proof's `iat` may be from the node's clock (s).
const IAT_SKEW: i64 = 5 * 60;
/// The longest proof JWT read (a did:jwk in `kid` makes them long).
pub const MAX_PROOF_JWT: usize = 8 * 1024;
/// The number of digits of a transaction code.
pub const TX_CODE_DIGITS: usize = 6;

/// An OpenID4VCI credential offer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CredentialOffer {
    pub credential_issuer: String,
    pub credential_configuration_ids: Vec<String>,
    pub grants: Grants,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grants {
    #[serde(rename = "urn:ietf:params:oauth:grant-type:pre-authorized_code")]
    pub pre_authorized_code: PreAuthorizedGrant,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreAuthorizedGrant {
    #[serde(rename = "pre-authorized_code")]
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_code: Option<TxCode>,
}

/// What a wallet tells its user of the transaction code it asks for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TxCode {
    pub input_mode: String,
    pub length: usize,
    pub description: String,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

/// The credential endpoint's request (OpenID4VCI 1.0, section 8.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    #[serde(default)]
    pub credential_configuration_id: Option<String>,
    #[serde(default)]
    pub credential_identifier: Option<String>,
    #[serde(default)]
    pub proofs: Option<Proofs>,
    /// Drafts' single proof: named, to be refused as such.
    #[serde(default)]
    pub proof: Option<Value>,
    #[serde(default)]
    pub credential_response_encryption: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Proofs {
    #[serde(default)]
    pub jwt: Option<Vec<String>>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// The credential endpoint's answer.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialResponse {
    pub credentials: Vec<IssuedCredential>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IssuedCredential {
    pub credential: Value,
}

/// An OAuth / OpenID4VCI error (`{"error", "error_description"}`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub error_description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }
}

/// The Credential Issuer Metadata of a node at `base`.
pub fn issuer_metadata(base: &str, issuer_name: Option<&str>) -> Value {
    let display = issuer_name.map_or_else(Vec::new, |n| vec![json!({"name": n})]);
    json!({
        "credential_issuer": base,
        "credential_endpoint": format!("{base}/oid4vci/credential"),
        "nonce_endpoint": format!("{base}/oid4vci/nonce"),
        "display": display,
        "credential_configurations_supported": {
            CONFIGURATION_ID: {
                "format": "ldp_vc",
                "credential_definition": {
                    "@context": [
                        cairn_verifier::context::CREDENTIALS_V2,
                        cairn_verifier::context::OB_V3_0_3,
                    ],
                    "type": ["VerifiableCredential", "OpenBadgeCredential"],
                },
                "cryptographic_binding_methods_supported": ["did:key", "did:jwk"],
                "credential_signing_alg_values_supported": ["eddsa-rdfc-2022"],
                "proof_types_supported": {
                    "jwt": {"proof_signing_alg_values_supported": ["EdDSA", "ES256"]},
                },
                "credential_metadata": {
                    "display": [{"name": "Open Badge", "locale": "en"}],
                },
            },
        },
    })
}

/// The OAuth Authorization Server Metadata of a node at `base` (the
/// credential issuer is its own authorization server).
pub fn authorization_server_metadata(base: &str) -> Value {
    json!({
        "issuer": base,
        "token_endpoint": format!("{base}/oid4vci/token"),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "pre-authorized_grant_anonymous_access_supported": true,
        "response_types_supported": [],
    })
}

/// The VC-API request for the holder's DID: a `DIDAuthentication` query.
pub fn did_authentication_request(challenge: &str, domain: &str) -> Value {
    json!({
        "verifiablePresentationRequest": {
            "query": [{
                "type": "DIDAuthentication",
                "acceptedMethods": [{"method": "key"}],
                "acceptedCryptosuites": [
                    {"cryptosuite": "Ed25519Signature2020"},
                    {"cryptosuite": "eddsa-rdfc-2022"},
                ],
            }],
            "challenge": challenge,
            "domain": domain,
        }
    })
}

/// What a valid key proof JWT proves: the holder's DID, and the nonce it
/// signed (for the caller to use up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Possession {
    pub holder: String,
    pub nonce: String,
}

/// Why a key proof was refused: `invalid_nonce` or `invalid_proof`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("{0}")]
    Nonce(String),
    #[error("{0}")]
    Proof(String),
}

impl ProofError {
    pub fn oauth(&self) -> OAuthError {
        match self {
            ProofError::Nonce(m) => OAuthError::new("invalid_nonce", m.clone()),
            ProofError::Proof(m) => OAuthError::new("invalid_proof", m.clone()),
        }
    }
}

#[derive(Deserialize)]
struct ProofClaims {
    #[serde(default)]
    aud: Option<Value>,
    #[serde(default)]
    iat: Option<Value>,
    #[serde(default)]
    nonce: Option<String>,
}

/// The public key a holder's DID (`did:key` or `did:jwk`) names, as a
/// JWK: the DID is the key, so nothing is resolved over the network.
pub fn holder_key(kid: &str) -> Result<(String, ssi::JWK), ProofError> {
    use base64::Engine;
    use ssi::multicodec::{ED25519_PUB, P256_PUB};
    let bad = |m: String| ProofError::Proof(format!("kid `{kid}`: {m}"));
    let (did, fragment) = kid.split_once('#').unwrap_or((kid, ""));
    if did.starts_with("did:key:") {
        let encoded = cairn_verifier::integrity::did_key_multicodec(kid).map_err(bad)?;
        if !matches!(encoded.codec(), ED25519_PUB | P256_PUB) {
            return Err(bad("only Ed25519 and P-256 keys are taken".into()));
        }
        let jwk = ssi::JWK::from_multicodec(&encoded).map_err(|e| bad(e.to_string()))?;
        Ok((did.to_owned(), jwk))
    } else if let Some(id) = did.strip_prefix("did:jwk:") {
        if !fragment.is_empty() && fragment != "0" {
            return Err(bad("a did:jwk's key is `#0`".into()));
        }
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id)
            .map_err(|e| bad(e.to_string()))?;
        let jwk: ssi::JWK = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
        if jwk.to_public() != jwk {
            return Err(bad("a did:jwk holds a public key only".into()));
        }
        Ok((did.to_owned(), jwk))
    } else {
        Err(bad("the holder must be a did:key or did:jwk".into()))
    }
}

/// Checks a key proof JWT (OpenID4VCI 1.0, appendix F.1): its type and
/// algorithm, its signature by the key `kid` names, its audience (this
/// credential issuer) and its `iat`. The nonce is returned for the caller
/// to check and use up.
pub fn check_proof_jwt(jwt: &str, audience: &str, now: i64) -> Result<Possession, ProofError> {
    use ssi::claims::jws;
    use ssi::jwk::Algorithm;
    let bad = |m: &str| ProofError::Proof(m.to_owned());
    if jwt.len() > MAX_PROOF_JWT {
        return Err(bad("the proof JWT is too long"));
    }
    let (header, payload, signature) =
        jws::split_jws(jwt).map_err(|_| bad("the proof is not a compact JWS"))?;
    let (parts, signing_bytes) = jws::decode_jws_parts(header, payload.as_bytes(), signature)
        .map_err(|e| ProofError::Proof(format!("the proof JWT: {e}")))?
        .into_jws_and_signing_bytes();
    let header = &parts.header;
    if header.type_.as_deref() != Some(PROOF_TYP) {
        return Err(bad("the proof JWT's typ must be openid4vci-proof+jwt"));
    }
    if !matches!(header.algorithm, Algorithm::EdDSA | Algorithm::ES256) {
        return Err(bad("the proof JWT's alg must be EdDSA or ES256"));
    }
    if header.jwk.is_some() || header.x509_certificate_chain.is_some() {
        return Err(bad("the key is named by kid alone (a did:key or did:jwk)"));
    }
    let kid = header
        .key_id
        .as_deref()
        .ok_or_else(|| bad("the proof JWT names no kid"))?;
    let (holder, jwk) = holder_key(kid)?;
    jws::verify_bytes(
        header.algorithm,
        &signing_bytes,
        &jwk,
        parts.signature.as_bytes(),
    )
    .map_err(|_| bad("the proof JWT's signature does not verify with the key kid names"))?;
    let claims: ProofClaims = serde_json::from_slice(&parts.payload)
        .map_err(|e| ProofError::Proof(format!("the proof JWT's claims: {e}")))?;
    let audiences = match &claims.aud {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&audience) {
        return Err(ProofError::Proof(format!(
            "the proof JWT's aud must be the credential issuer {audience}"
        )));
    }
    let iat = claims
        .iat
        .as_ref()
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("the proof JWT has no numeric iat"))? as i64;
    if (iat - now).abs() > IAT_SKEW {
        return Err(bad("the proof JWT's iat is too far from now"));
    }
    let nonce = claims.nonce.ok_or_else(|| {
        ProofError::Nonce("the proof JWT carries no nonce: get one from the nonce endpoint".into())
    })?;
    Ok(Possession { holder, nonce })
}

#[cfg(feature = "server")]
pub use claim::ClaimError;

/// Claiming (with the node): the credential issued to the holder.
#[cfg(feature = "server")]
mod claim;

/// A fresh transaction code: [`TX_CODE_DIGITS`] random digits.
pub fn new_tx_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..TX_CODE_DIGITS)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use ed25519_dalek::Signer;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn did_key(key: &ed25519_dalek::SigningKey) -> String {
        let mut bytes = vec![0xed, 0x01];
        bytes.extend_from_slice(key.verifying_key().as_bytes());
        format!(
            "did:key:{}",
            multibase::encode(multibase::Base::Base58Btc, bytes)
        )
    }

    fn jwt(key: &ed25519_dalek::SigningKey, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = key.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    }

    const AUD: &str = "https://issuer.example";

    #[test]
    fn a_key_proof_names_its_holder_and_nonce() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let did = did_key(&key);
        let id = did.trim_start_matches("did:key:").to_owned();
        let now = 1_800_000_000;
        let good =
            |header: Value, claims: Value| check_proof_jwt(&jwt(&key, header, claims), AUD, now);
        let header = json!({"typ": PROOF_TYP, "alg": "EdDSA", "kid": format!("{did}#{id}")});
        let claims = json!({"aud": AUD, "iat": now, "nonce": "n1"});
        assert_eq!(
            good(header.clone(), claims.clone()),
            Ok(Possession {
                holder: did.clone(),
                nonce: "n1".into()
            })
        );
        // Each rule, broken alone.
        let mut h = header.clone();
        h["typ"] = json!("JWT");
        assert!(matches!(good(h, claims.clone()), Err(ProofError::Proof(_))));
        let mut c = claims.clone();
        c["aud"] = json!("https://elsewhere.example");
        assert!(matches!(good(header.clone(), c), Err(ProofError::Proof(m)) if m.contains("aud")));
        let mut c = claims.clone();
        c["iat"] = json!(now - 3600);
        assert!(matches!(good(header.clone(), c), Err(ProofError::Proof(m)) if m.contains("iat")));
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove("nonce");
        assert!(matches!(good(header.clone(), c), Err(ProofError::Nonce(_))));
        // Signed by another key than kid names.
        let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        let forged = jwt(&other, header.clone(), claims.clone());
        assert!(
            matches!(check_proof_jwt(&forged, AUD, now), Err(ProofError::Proof(m)) if m.contains("signature"))
        );
        // A did:jwk holder.
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())});
        let did_jwk = format!("did:jwk:{}", b64(jwk.to_string().as_bytes()));
        let h = json!({"typ": PROOF_TYP, "alg": "EdDSA", "kid": format!("{did_jwk}#0")});
        assert_eq!(good(h, claims.clone()).map(|p| p.holder), Ok(did_jwk));
        // Not JSON, not three parts, too long.
        for junk in ["", "a.b", "a.b.c", "...", &"x".repeat(MAX_PROOF_JWT + 1)] {
            assert!(check_proof_jwt(junk, AUD, now).is_err(), "{junk:.20}");
        }
    }

    #[test]
    fn tx_codes_are_digits() {
        let code = new_tx_code();
        assert_eq!(code.len(), TX_CODE_DIGITS);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
    }
}
