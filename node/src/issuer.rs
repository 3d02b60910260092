//! Signing credentials with the issuer's key: a Data Integrity proof,
//! `eddsa-rdfc-2022` for Ed25519 keys and `ecdsa-rdfc-2019` for P-256 keys.

use serde_json::Value;

use crate::key::IssuerKey;
use cairn_verifier::context::Contexts;
use cairn_verifier::credential::{self, FieldError, IssuerProfile};
use cairn_verifier::integrity::{Canonicalizer, IntegrityError, SigningKey, Terms};

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The credential is malformed; the field is named.
    #[error("{0}")]
    Field(#[from] FieldError),
    /// A JSON-LD problem: an unknown context or an undefined term.
    #[error("{0}")]
    JsonLd(String),
    #[error("signing failed: {0}")]
    Signature(#[from] IntegrityError),
}

/// Signs credentials for one issuer. Cheap to share between threads.
pub struct Signer {
    profile: IssuerProfile,
    key: SigningKey,
    verification_method: String,
    canonicalizer: Canonicalizer,
    /// Whether terms only VC 2.0's `@vocab` maps are signed (`--allow-vocab`)
    /// or refused.
    terms: Terms,
}

impl Signer {
    pub fn new(key: &IssuerKey, profile: IssuerProfile, contexts: Contexts) -> Self {
        Self {
            profile,
            key: SigningKey::from_jwk(key.signing_jwk())
                .expect("an unlocked issuer key holds an Ed25519 or P-256 secret"),
            verification_method: key.identity.verification_method.clone(),
            canonicalizer: Canonicalizer::new(contexts),
            terms: Terms::Check,
        }
    }

    /// The same signer, signing documents with terms that no context
    /// defines and only a catch-all `@vocab` maps (the VC examples context,
    /// VC 2.0's undefined-terms context), when `allow` (`--allow-vocab`). A
    /// term nothing maps is refused either way: it would go unsigned.
    pub fn allowing_vocab(mut self, allow: bool) -> Self {
        self.terms = if allow { Terms::Vocab } else { Terms::Check };
        self
    }

    /// The issuer profile written into every credential.
    pub fn profile(&self) -> &IssuerProfile {
        &self.profile
    }

    pub fn contexts(&self) -> &Contexts {
        self.canonicalizer.contexts()
    }

    /// Signs a binding document naming `account` on chain `chain_id` as this
    /// issuer's anchoring account (see `binding`).
    pub async fn sign_binding(
        &self,
        chain_id: u64,
        account: alloy::primitives::Address,
        registry: alloy::primitives::Address,
        valid_from: chrono::DateTime<chrono::Utc>,
        valid_until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Value, cairn_verifier::binding::BindingError> {
        cairn_verifier::binding::sign_binding(
            &self.canonicalizer,
            &self.key,
            &self.profile.id,
            &self.verification_method,
            chain_id,
            account,
            registry,
            valid_from,
            valid_until,
        )
        .await
    }

    /// Signs any VC 2.0 document as this issuer (status list credentials):
    /// no Open Badges shape is required, but every term must be defined.
    pub async fn sign_document(&self, doc: Value) -> Result<Value, SignError> {
        let created = credential::fmt_time(chrono::Utc::now());
        self.canonicalizer
            .add_proof(
                doc,
                &self.key,
                &self.verification_method,
                &created,
                serde_json::Map::new(),
                self.terms,
            )
            .await
            .map_err(|e| match e {
                // What is wrong with the document is the client's to mend.
                IntegrityError::Terms(m) => SignError::JsonLd(format!(
                    "{m}: define it in a context (--context), or, when a context's @vocab maps it, allow such terms (--allow-vocab)"
                )),
                IntegrityError::JsonLd(m) | IntegrityError::TooComplex(m) => SignError::JsonLd(m),
                other => SignError::Signature(other),
            })
    }

    /// Builds and signs a credential.
    pub async fn issue(&self, req: &credential::CredentialRequest) -> Result<Value, SignError> {
        let unsigned = credential::build(&self.profile, req)?;
        self.sign(unsigned).await
    }

    /// Signs an unsigned credential. It must keep VC 2.0's rules (and Open
    /// Badges 3.0's when its type says badge), be issued by this signer's
    /// DID, use only known contexts and define every term it uses.
    pub async fn sign(&self, unsigned: Value) -> Result<Value, SignError> {
        credential::check_shape(&unsigned)?;
        let (issuer, field) = match &unsigned["issuer"] {
            Value::String(s) => (Some(s.as_str()), "issuer"),
            other => (other["id"].as_str(), "issuer.id"),
        };
        if issuer != Some(self.profile.id.as_str()) {
            return Err(FieldError::new(
                field,
                format!("must be this issuer's DID {}", self.profile.id),
            )
            .into());
        }
        if unsigned.get("proof").is_some() {
            return Err(FieldError::new("proof", "the credential is already signed").into());
        }
        self.sign_document(unsigned).await
    }
}
