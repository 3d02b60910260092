//! Signing credentials with the issuer's key: a Data Integrity proof,
//! `eddsa-rdfc-2022` for Ed25519 keys and `ecdsa-rdfc-2019` for P-256 keys.

use serde_json::Value;
use ssi::claims::data_integrity::{AnySuite, CryptographicSuite, ProofOptions};
use ssi::claims::vc::v2::JsonCredential;
use ssi::claims::SignatureEnvironment;
use ssi::dids::{DIDKey, DIDResolver, VerificationMethodDIDResolver};
use ssi::json_ld::IriBuf;
use ssi::verification_methods::{AnyMethod, ReferenceOrOwned, SingleSecretSigner};

use crate::context::Contexts;
use crate::credential::{self, FieldError, IssuerProfile};
use crate::key::{IssuerKey, SigningKeyType};

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The credential is malformed; the field is named.
    #[error("{0}")]
    Field(#[from] FieldError),
    /// A JSON-LD problem: an unknown context or an undefined term.
    #[error("{0}")]
    JsonLd(String),
    #[error("signing failed: {0}")]
    Signature(String),
}

/// Signs credentials for one issuer. Cheap to share between threads.
pub struct Signer {
    profile: IssuerProfile,
    suite: AnySuite,
    verification_method: IriBuf,
    jwk: ssi::JWK,
    contexts: Contexts,
    resolver: VerificationMethodDIDResolver<DIDKey, AnyMethod>,
}

impl Signer {
    pub fn new(key: &IssuerKey, profile: IssuerProfile, contexts: Contexts) -> Self {
        let suite = match key.identity.signing_key_type {
            SigningKeyType::Ed25519 => AnySuite::EdDsaRdfc2022,
            SigningKeyType::P256 => AnySuite::EcdsaRdfc2019,
        };
        Self {
            profile,
            suite,
            verification_method: IriBuf::new(key.identity.verification_method.clone())
                .expect("a did:key URL is an IRI"),
            jwk: key.signing_jwk().clone(),
            contexts,
            resolver: DIDKey.into_vm_resolver(),
        }
    }

    /// The issuer profile written into every credential.
    pub fn profile(&self) -> &IssuerProfile {
        &self.profile
    }

    pub fn contexts(&self) -> &Contexts {
        &self.contexts
    }

    /// Builds and signs a credential.
    pub async fn issue(&self, req: &credential::CredentialRequest) -> Result<Value, SignError> {
        let unsigned = credential::build(&self.profile, req)?;
        self.sign(unsigned).await
    }

    /// Signs an unsigned credential. It must be an `OpenBadgeCredential`
    /// issued by this signer's DID, use only known contexts and define every
    /// term it uses.
    pub async fn sign(&self, unsigned: Value) -> Result<Value, SignError> {
        credential::check_shape(&unsigned)?;
        if unsigned["issuer"]["id"].as_str() != Some(self.profile.id.as_str()) {
            return Err(FieldError::new(
                "issuer.id",
                format!("must be this issuer's DID {}", self.profile.id),
            )
            .into());
        }
        if unsigned.get("proof").is_some() {
            return Err(FieldError::new("proof", "the credential is already signed").into());
        }
        crate::context::check_terms(&unsigned, &self.contexts)
            .await
            .map_err(SignError::JsonLd)?;
        let vc: JsonCredential = serde_json::from_value(unsigned)
            .map_err(|e| FieldError::new("(credential)", e.to_string()))?;
        let options = ProofOptions::from_method(ReferenceOrOwned::Reference(
            self.verification_method.clone(),
        ));
        let signed = self
            .suite
            .sign_with(
                SignatureEnvironment {
                    json_ld_loader: self.contexts.clone(),
                    eip712_loader: (),
                },
                vc,
                &self.resolver,
                SingleSecretSigner::new(self.jwk.clone()).into_local(),
                options,
                Default::default(),
            )
            .await
            .map_err(|e| SignError::Signature(e.to_string()))?;
        serde_json::to_value(&signed).map_err(|e| SignError::Signature(e.to_string()))
    }
}
