//! Data Integrity proofs: the `eddsa-rdfc-2022` and `ecdsa-rdfc-2019` (P-256)
//! cryptosuites, composed from maintained parts.
//!
//! JSON-LD expansion and RDF conversion come from the `json-ld` crate, RDF
//! canonicalization (RDFC-1.0) from `ssi`'s `urdna2015`, keys and signatures
//! from `ed25519-dalek` and `p256`. Cairn composes them itself rather than
//! calling `ssi`'s Data Integrity layer for two reasons:
//! - correctness: `ssi` 0.16 turns every JSON boolean into an
//!   `xsd:boolean` literal even when the context types it otherwise. Open
//!   Badges 3.0 types `IdentityObject.hashed` as
//!   `https://www.w3.org/2001/XMLSchema#boolean`, so `ssi` signs a different
//!   RDF dataset than every other implementation and its proofs on hashed
//!   email recipients fail elsewhere. The `json-ld` crate's RDF conversion
//!   follows the spec.
//! - speed: the contexts of a credential are processed once and reused (see
//!   [`Canonicalizer`]), where `ssi` processes them again for every credential.
//!
//! Algorithm (both suites, VC Data Integrity 1.0 "rdfc" suites):
//! `hashData = SHA-256(canon(proofConfig)) || SHA-256(canon(document))`, where
//! `proofConfig` is the proof without `proofValue` and with the document's
//! `@context`; Ed25519 signs `hashData` directly, P-256 ECDSA signs it with
//! SHA-256; `proofValue` is base58-btc multibase.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use ssi::json_ld::rdf_types::{generator, Id, LexicalQuad, Quad};
use ssi::json_ld::syntax::Parse;
use ssi::json_ld::{self as jld, BlankIdBuf, Expand, IriBuf, RdfQuads, ValidId};

use crate::context::Contexts;
use crate::shape::{Refusal, Shape, Template};

/// The `cryptosuite` of proofs by Ed25519 keys.
pub const EDDSA_RDFC_2022: &str = "eddsa-rdfc-2022";
/// The `cryptosuite` of proofs by P-256 keys.
pub const ECDSA_RDFC_2019: &str = "ecdsa-rdfc-2019";
/// The proof type (not a Data Integrity cryptosuite) of the Ed25519
/// Signature 2020 suite: the same RDFC-1.0 hashing as `eddsa-rdfc-2022`,
/// named by the proof's `type`, with its own context.
pub const ED25519_SIGNATURE_2020: &str = "Ed25519Signature2020";

/// Why a document could not be canonicalized or signed, or a proof does not
/// verify.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// The document is not a JSON object with an `@context`, or JSON-LD
    /// processing of it failed.
    #[error("JSON-LD: {0}")]
    JsonLd(String),
    /// The document names an unknown context or uses an undefined term
    /// (only when the terms are checked).
    #[error("{0}")]
    Terms(String),
    /// The proof is malformed: not an object, no `proofValue` or
    /// `verificationMethod`, a `proofValue` that is not base58-btc, or an
    /// unsupported cryptosuite.
    #[error("proof: {0}")]
    Proof(String),
    /// The key cannot be used: a verification method that is not a
    /// decodable Ed25519 or P-256 `did:key`, a key of the wrong type for
    /// the cryptosuite, or an unusable signing JWK.
    #[error("verification method {vm}: {reason}")]
    Key {
        /// The verification method URL (`(issuer key)` for a signing key).
        vm: String,
        /// What is wrong with the key.
        reason: String,
    },
    /// The signature is malformed or does not match the document and proof
    /// configuration.
    #[error("the signature does not verify")]
    BadSignature,
    /// The document's graph would take unbounded work to canonicalize.
    #[error("{0}")]
    TooComplex(String),
}

/// The secret half of an issuer's signing key.
#[derive(Clone)]
pub enum SigningKey {
    /// An Ed25519 key, which signs with `eddsa-rdfc-2022`.
    Ed25519(ed25519_dalek::SigningKey),
    /// A P-256 key, which signs with `ecdsa-rdfc-2019`.
    P256(p256::ecdsa::SigningKey),
}

impl SigningKey {
    /// Extracts the signing key from an `ssi` private JWK.
    pub fn from_jwk(jwk: &ssi::JWK) -> Result<Self, IntegrityError> {
        use ssi::jwk::Params;
        let bad = |r: &str| IntegrityError::Key {
            vm: "(issuer key)".into(),
            reason: r.into(),
        };
        match &jwk.params {
            Params::OKP(p) if p.curve == "Ed25519" => {
                let sk = ed25519_dalek::SigningKey::try_from(p).map_err(|e| bad(&e.to_string()))?;
                Ok(Self::Ed25519(sk))
            }
            Params::EC(p) if p.curve.as_deref() == Some("P-256") => {
                let d = p
                    .ecc_private_key
                    .as_ref()
                    .ok_or_else(|| bad("no private key"))?;
                let sk =
                    p256::ecdsa::SigningKey::from_slice(&d.0).map_err(|e| bad(&e.to_string()))?;
                Ok(Self::P256(sk))
            }
            _ => Err(bad("only Ed25519 and P-256 keys sign credentials")),
        }
    }

    /// The Data Integrity cryptosuite this key signs with.
    pub fn cryptosuite(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => EDDSA_RDFC_2022,
            Self::P256(_) => ECDSA_RDFC_2019,
        }
    }

    /// Signs a proof's hash data as its cryptosuite says.
    fn sign_bytes(&self, hash_data: &[u8]) -> Vec<u8> {
        match self {
            Self::Ed25519(sk) => {
                use ed25519_dalek::Signer;
                sk.sign(hash_data).to_bytes().to_vec()
            }
            Self::P256(sk) => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = sk.sign(hash_data);
                sig.to_bytes().to_vec()
            }
        }
    }
}

/// A public key named by a `did:key` verification method.
enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

/// The multicodec-encoded public key a `did:key` (or one of its
/// verification method URLs, whose fragment must name that key) is: the
/// key is the DID itself, so nothing is resolved and no network is used.
pub fn did_key_multicodec(vm: &str) -> Result<ssi::multicodec::MultiEncodedBuf, String> {
    let (did, fragment) = vm.split_once('#').unwrap_or((vm, ""));
    let id = did
        .strip_prefix("did:key:")
        .ok_or("not a did:key verification method")?;
    if !fragment.is_empty() && fragment != id {
        return Err("the fragment does not name the DID's key".into());
    }
    let (base, bytes) = multibase::decode(id).map_err(|e| e.to_string())?;
    if base != multibase::Base::Base58Btc {
        return Err("did:key must be base58-btc".into());
    }
    ssi::multicodec::MultiEncodedBuf::new(bytes).map_err(|e| e.to_string())
}

/// Decodes the public key of a `did:key` verification method URL.
fn did_key_public(vm: &str) -> Result<PublicKey, IntegrityError> {
    use ssi::multicodec::{ED25519_PUB, P256_PUB};
    let bad = |reason: String| IntegrityError::Key {
        vm: vm.to_owned(),
        reason,
    };
    let encoded = did_key_multicodec(vm).map_err(bad)?;
    match encoded.parts() {
        (ED25519_PUB, key) => ed25519_dalek::VerifyingKey::try_from(key)
            .map(PublicKey::Ed25519)
            .map_err(|e| bad(e.to_string())),
        (P256_PUB, key) => p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
            .map(PublicKey::P256)
            .map_err(|e| bad(e.to_string())),
        (codec, _) => Err(bad(format!(
            "unsupported key type (multicodec 0x{codec:x})"
        ))),
    }
}

/// How many distinct `@context` values a [`Canonicalizer`] keeps processed.
/// Issuers use one or two; the bound keeps hostile input from growing it.
const CONTEXT_CACHE_LIMIT: usize = 64;

/// How many document shapes a [`Canonicalizer`] keeps templates of: an
/// issuer has a shape per kind of badge and status, and a verifier one per
/// issuer and kind it sees.
const TEMPLATE_CACHE_LIMIT: usize = 512;

/// The longest shape key templated (a credential's is about 1 KB): with
/// [`TEMPLATE_CACHE_LIMIT`], it bounds what the caches can hold.
const SHAPE_KEY_LIMIT: usize = 16 * 1024;

type ActiveContext = jld::Context<IriBuf, BlankIdBuf>;

#[derive(Default)]
struct ShapeCache {
    /// Per shape, the slots whose values steer expansion, which the
    /// template key holds.
    plans: HashMap<String, Vec<usize>>,
    /// Templates by shape and values of the fixed slots; `None` for shapes
    /// that have none.
    templates: HashMap<String, Option<Arc<Template>>>,
}

/// Whether canonicalization also insists that every term is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terms {
    /// A term that no context defines is an error
    /// ([`IntegrityError::Terms`]), even when a context's `@vocab` (the VC
    /// examples context, VC 2.0's undefined-terms context) would map it.
    Check,
    /// Undefined terms are mapped as JSON-LD expansion maps them.
    Allow,
    /// Terms a context's `@vocab` maps are kept (and signed); a term nothing
    /// maps is an error, as with `Check`, since expansion would drop it
    /// and leave it unsigned (`--allow-vocab`).
    Vocab,
}

/// Expansion that fails on an undefined term, naming it, instead of letting
/// a catch-all `@vocab` map it.
const STRICT: jld::expansion::Policy = jld::expansion::Policy {
    invalid: jld::expansion::Action::Reject,
    vocab: jld::expansion::Action::Reject,
    allow_undefined: false,
};

/// Expansion that lets a `@vocab` map terms but fails on any term nothing
/// maps.
const VOCAB: jld::expansion::Policy = jld::expansion::Policy {
    invalid: jld::expansion::Action::Reject,
    vocab: jld::expansion::Action::Keep,
    allow_undefined: false,
};

/// A `@context` with each embedded context wrapped as a context document
/// (`{"@context": {...}}`, as the W3C test vectors write some) unwrapped,
/// as JSON-LD processors in the field (jsonld.js) read them.
fn unwrapped(context: &Value) -> std::borrow::Cow<'_, Value> {
    let wrapped = |v: &Value| {
        v.as_object()
            .is_some_and(|o| o.len() == 1 && o.get("@context").is_some_and(Value::is_object))
    };
    match context {
        Value::Array(items) if items.iter().any(wrapped) => std::borrow::Cow::Owned(Value::Array(
            items
                .iter()
                .map(|v| match wrapped(v) {
                    true => v["@context"].clone(),
                    false => v.clone(),
                })
                .collect(),
        )),
        v if wrapped(v) => std::borrow::Cow::Owned(v["@context"].clone()),
        v => std::borrow::Cow::Borrowed(v),
    }
}

/// The namespaces of the catch-all `@vocab`s of the bundled contexts: a term
/// expanded into one of them is one no context defines.
const VOCAB_NAMESPACES: [&str; 3] = [
    "https://www.w3.org/ns/credentials/undefined-term#",
    "https://www.w3.org/ns/credentials/examples#",
    "https://www.w3.org/ns/credentials/issuer-dependent#",
];

/// Turns JSON-LD documents into canonical N-Quads.
///
/// Processing a credential's `@context` (VC 2.0 and Open Badges 3.0 define
/// hundreds of terms) costs more than expanding the credential itself, and
/// every credential of an issuer, and every proof configuration, names the
/// same contexts. So the processed context is kept, keyed by the `@context`
/// value, and documents are expanded against it with their `@context` entry
/// removed, which is what the expansion algorithm would compute first anyway.
///
/// Expanding the document itself is then most of the cost, and an issuer's
/// documents share a few shapes: each shape is expanded once, into a
/// template that the document's strings fill (see [`crate::shape`]).
#[derive(Clone)]
pub struct Canonicalizer {
    contexts: Arc<Contexts>,
    processed: Arc<Mutex<HashMap<String, Arc<ActiveContext>>>>,
    /// Shape templates, one cache per [`Terms`] (indexed by it).
    shapes: Arc<[Mutex<ShapeCache>; 3]>,
    /// Part of every probe token: random, so no document holds one.
    nonce: Arc<str>,
}

impl Canonicalizer {
    /// A canonicalizer that resolves contexts from `contexts`, with empty
    /// caches.
    pub fn new(contexts: Contexts) -> Self {
        Self {
            contexts: Arc::new(contexts),
            processed: Arc::default(),
            shapes: Arc::default(),
            nonce: format!("{:016x}", rand::random::<u64>()).into(),
        }
    }

    /// The contexts it resolves `@context` URLs from.
    pub fn contexts(&self) -> &Contexts {
        &self.contexts
    }

    /// The active context a document's `@context` value produces.
    async fn active_context(&self, context: &Value) -> Result<ActiveContext, String> {
        use jld::context_processing::Process;
        use jld::syntax::TryFromJson;
        let key = unwrapped(context).to_string();
        if let Some(done) = self.processed.lock().expect("cache lock").get(&key) {
            return Ok((**done).clone());
        }
        let (json, _) = jld::syntax::Value::parse_str(&key).map_err(|e| e.to_string())?;
        let local = jld::syntax::context::Context::try_from_json(json)
            .map_err(|e| format!("@context: {e}"))?;
        let processed = local
            .process_full(
                &mut (),
                &ActiveContext::default(),
                &*self.contexts,
                None,
                jld::expansion::Options::default().into(),
                (),
            )
            .await
            .map_err(|e| format!("@context: {e}"))?
            .into_processed();
        let mut cache = self.processed.lock().expect("cache lock");
        if cache.len() < CONTEXT_CACHE_LIMIT {
            cache.insert(key, Arc::new(processed.clone()));
        }
        Ok(processed)
    }

    /// Expands `doc` against its (cached) context, leaving out the members
    /// named in `skip` (`proof`: the unsecured document of Data Integrity).
    async fn expand(
        &self,
        doc: &Value,
        skip: &[&str],
        policy: jld::expansion::Policy,
    ) -> Result<jld::ExpandedDocument, String> {
        use jld::expansion::Error as E;
        let map = doc.as_object().ok_or("the document is not a JSON object")?;
        let active = match map.get("@context") {
            Some(context) => self.active_context(context).await?,
            None => ActiveContext::default(),
        };
        let text = serde_json::to_string(&Without(map, skip)).expect("JSON value serializes");
        let (value, _) = jld::syntax::Value::parse_str(&text).map_err(|e| e.to_string())?;
        let options = jld::expansion::Options {
            policy,
            ..Default::default()
        };
        // The `json-ld` crate hashes IRIs by their decoded characters and
        // panics where that is not UTF-8 (`%e9` alone): that, and any other
        // panic in it, is a bad document, never a dead thread.
        let mut vocabulary = ();
        let expansion =
            value.expand_full(&mut vocabulary, active, None, &*self.contexts, options, ());
        std::panic::AssertUnwindSafe(expansion)
            .catch_unwind()
            .await
            .map_err(|_| PANICKED.to_owned())?
            .map_err(|e| match e {
                E::KeyExpansionFailed(term) => {
                    format!("undefined term `{term}`: no context in @context defines it")
                }
                E::InvalidTypeValue if policy.vocab == jld::expansion::Action::Reject => {
                    "a `type` value that no context in @context defines".to_owned()
                }
                E::ContextProcessing(e) => format!("@context: {e}"),
                other => other.to_string(),
            })
    }

    /// Checks that `doc` uses only known contexts and defines every term it
    /// uses: a term that only VC 2.0's catch-all `@vocab` would map is an
    /// error that names it.
    pub async fn check_terms(&self, doc: &Value) -> Result<(), String> {
        // Proofs are not the credential's claims: the issuer's is judged by
        // its signature, and others (the anchor proof) by their own checks.
        self.expand(doc, &["proof"], STRICT).await.map(|_| ())
    }

    /// The terms of `doc` (its proofs aside) that no context defines and
    /// only a catch-all `@vocab` maps, sorted: what a reader cannot know the
    /// meaning of. An error when a term is not even mapped.
    pub async fn vocab_terms(&self, doc: &Value) -> Result<Vec<String>, IntegrityError> {
        let nquads = self
            .canonicalize_fully(doc, &["proof"], Terms::Vocab)
            .await?;
        let mut terms: Vec<String> = VOCAB_NAMESPACES
            .iter()
            .flat_map(|ns| {
                nquads
                    .split(&format!("<{ns}"))
                    .skip(1)
                    .filter_map(|rest| rest.split_once('>').map(|(term, _)| term.to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        terms.sort();
        terms.dedup();
        Ok(terms)
    }

    /// The RDFC-1.0 canonical N-Quads of a JSON-LD document. With `terms`,
    /// an undefined term is an error ([`IntegrityError::Terms`]); checking in
    /// the same expansion saves expanding the document twice.
    pub async fn canonical_nquads(
        &self,
        doc: &Value,
        terms: Terms,
    ) -> Result<String, IntegrityError> {
        self.canonicalize(doc, false, terms).await
    }

    /// The same, never through a shape template: the reference that the
    /// templated path is held to (the property tests and a fuzz target).
    pub async fn canonical_nquads_untemplated(
        &self,
        doc: &Value,
        terms: Terms,
    ) -> Result<String, IntegrityError> {
        self.canonicalize_fully(doc, &[], terms).await
    }

    async fn canonicalize(
        &self,
        doc: &Value,
        without_proof: bool,
        terms: Terms,
    ) -> Result<String, IntegrityError> {
        let skip: &[&str] = if without_proof { &["proof"] } else { &[] };
        let Some(map) = doc.as_object() else {
            return self.canonicalize_fully(doc, skip, terms).await;
        };
        let shape = Shape::of(map, skip);
        // Whether an undecodable IRI is an IRI there, only expansion knows;
        // and a shape past the bound would let hostile documents fill the
        // caches with megabytes each. Both go the full way.
        if shape.bad_iri.is_some() || shape.key.len() > SHAPE_KEY_LIMIT {
            return self.canonicalize_fully(doc, skip, terms).await;
        }
        let cache = &self.shapes[terms as usize];
        let (plan, known) = {
            let cache = cache.lock().expect("cache lock");
            let plan = cache.plans.get(&shape.key).cloned().unwrap_or_default();
            let known = cache.templates.get(shape.key_with(&plan).as_ref()).cloned();
            (plan, known)
        };
        let template = match known {
            Some(template) => template,
            None => {
                let (fixed, template) = self.template(map, skip, terms, &shape, plan.clone()).await;
                let template = template.map(Arc::new);
                let mut cache = cache.lock().expect("cache lock");
                if fixed != plan {
                    bounded_insert(&mut cache.plans, shape.key.clone(), fixed.clone());
                }
                let key = shape.key_with(&fixed).into_owned();
                bounded_insert(&mut cache.templates, key, template.clone());
                template
            }
        };
        match template.and_then(|t| t.fill(&shape.values)) {
            Some(quads) => canonical(quads),
            None => self.canonicalize_fully(doc, skip, terms).await,
        }
    }

    /// The template of `shape` with the slots in `fixed` (and any more its
    /// probes show must be) fixed, made by expanding a probe; `None` if the
    /// shape cannot have one, or the probe does not expand (the document
    /// then goes the full way, which reports why).
    async fn template(
        &self,
        map: &Map<String, Value>,
        skip: &[&str],
        terms: Terms,
        shape: &Shape<'_>,
        mut fixed: Vec<usize>,
    ) -> (Vec<usize>, Option<Template>) {
        if shape.nested_context
            || !crate::shape::plain_contexts(map.get("@context"), &self.contexts).await
        {
            return (fixed, None);
        }
        // Each round fixes what the last one showed steers expansion; a
        // fixed value can steer others (a type brings a context), so more
        // than one round may be needed, but never many.
        for _ in 0..4 {
            let Some(tokens) = shape.tokens(&self.nonce, &fixed) else {
                return (fixed, None);
            };
            let probe = crate::shape::probe(map, skip, &tokens);
            // The probe is built by a walk of its own: its strings must be
            // the tokens, in slot order, or slots would be filled crosswise.
            match probe.as_object() {
                Some(p) if Shape::of(p, skip).values == tokens => {}
                _ => return (fixed, None),
            }
            let Ok(quads) = self.quads(&probe, skip, terms).await else {
                return (fixed, None);
            };
            match Template::new(quads, &tokens, &fixed, &self.nonce) {
                Ok(template) => return (fixed, Some(template)),
                Err(Refusal::Fix(more)) if more.iter().any(|i| !fixed.contains(i)) => {
                    fixed.extend(more);
                    fixed.sort_unstable();
                    fixed.dedup();
                }
                Err(_) => return (fixed, None),
            }
        }
        (fixed, None)
    }

    async fn canonicalize_fully(
        &self,
        doc: &Value,
        skip: &[&str],
        terms: Terms,
    ) -> Result<String, IntegrityError> {
        canonical(self.quads(doc, skip, terms).await?)
    }

    /// The RDF quads of `doc` (without the members in `skip`).
    async fn quads(
        &self,
        doc: &Value,
        skip: &[&str],
        terms: Terms,
    ) -> Result<Vec<LexicalQuad>, IntegrityError> {
        let mut expanded = match terms {
            Terms::Check => self
                .expand(doc, skip, STRICT)
                .await
                .map_err(IntegrityError::Terms)?,
            Terms::Allow => self
                .expand(doc, skip, Default::default())
                .await
                .map_err(IntegrityError::JsonLd)?,
            Terms::Vocab => self
                .expand(doc, skip, VOCAB)
                .await
                .map_err(IntegrityError::Terms)?,
        };
        let mut blanks = generator::Blank::new();
        expanded.identify_all(&mut blanks);
        Ok(expanded
            .rdf_quads(&mut blanks, None)
            .cloned()
            .filter_map(|Quad(s, p, o, g)| {
                let ValidId::Iri(p) = p else { return None };
                Some(Quad(id(s), p, o, g.map(id)))
            })
            .collect())
    }

    /// `SHA-256(canon(proofConfig)) || SHA-256(canon(document))`.
    /// `doc` without its `proof` member is the unsecured document.
    async fn hash_data(
        &self,
        doc: &Value,
        without_proof: bool,
        config: &Value,
        terms: Terms,
    ) -> Result<Vec<u8>, IntegrityError> {
        let doc = self.canonicalize(doc, without_proof, terms).await?;
        let config = self.canonical_config(config).await?;
        let mut out = Sha256::digest(config.as_bytes()).to_vec();
        out.extend_from_slice(&Sha256::digest(doc.as_bytes()));
        Ok(out)
    }

    /// The canonical N-Quads of a proof configuration. Its terms are Data
    /// Integrity's own, never checked as the document's are; configurations
    /// of one issuer differ only in `created`, so they share a template.
    async fn canonical_config(&self, config: &Value) -> Result<String, IntegrityError> {
        self.canonical_nquads(config, Terms::Allow).await
    }

    /// Adds a Data Integrity proof to `unsecured` (which has no `proof`).
    /// A document with an undefined term is refused.
    pub async fn sign(
        &self,
        unsecured: Value,
        key: &SigningKey,
        verification_method: &str,
        created: &str,
    ) -> Result<Value, IntegrityError> {
        self.add_proof(
            unsecured,
            key,
            verification_method,
            created,
            serde_json::Map::new(),
            Terms::Check,
        )
        .await
    }

    /// Adds a Data Integrity proof to a document that may hold proofs
    /// already: to its proof set, or, when `options` names a
    /// `previousProof`, as the next link of a proof chain (signing the
    /// document with the proofs it names). `options` go into the proof as
    /// they are (`id`, `previousProof`, ...).
    pub async fn add_proof(
        &self,
        mut doc: Value,
        key: &SigningKey,
        verification_method: &str,
        created: &str,
        options: serde_json::Map<String, Value>,
        terms: Terms,
    ) -> Result<Value, IntegrityError> {
        let context = doc
            .get("@context")
            .cloned()
            .ok_or_else(|| IntegrityError::JsonLd("the document has no @context".into()))?;
        let mut proof = json!({
            "type": "DataIntegrityProof",
            "cryptosuite": key.cryptosuite(),
            "created": created,
            "verificationMethod": verification_method,
            "proofPurpose": "assertionMethod",
        });
        proof.as_object_mut().expect("an object").extend(options);
        let mut config = proof.clone();
        config["@context"] = context;
        let hash_data = match previous_of(&doc, &proof).map_err(IntegrityError::Proof)? {
            None => self.hash_data(&doc, true, &config, terms).await?,
            Some(previous) => {
                let mut secured = doc.clone();
                secured["proof"] = previous;
                self.hash_data(&secured, false, &config, terms).await?
            }
        };
        proof["proofValue"] = json!(multibase::encode(
            multibase::Base::Base58Btc,
            key.sign_bytes(&hash_data)
        ));
        let mut set = crate::proof::proofs(&doc)
            .map_err(|e| IntegrityError::Proof(e.to_string()))?
            .to_vec();
        set.push(proof);
        let obj = doc
            .as_object_mut()
            .ok_or_else(|| IntegrityError::JsonLd("the document is not an object".into()))?;
        obj.insert(
            "proof".into(),
            match set.len() {
                1 => set.pop().expect("one"),
                _ => Value::Array(set),
            },
        );
        Ok(doc)
    }

    /// Verifies one Data Integrity `proof` over `doc` (whose own `proof`
    /// member, if any, is ignored: proofs in a set are independent).
    pub async fn verify(
        &self,
        doc: &Value,
        proof: &Value,
        terms: Terms,
    ) -> Result<(), IntegrityError> {
        self.verify_over(doc, true, proof, terms).await
    }

    /// Verifies a `proof` of a proof chain: it signed `doc` with `previous`
    /// (the proof, or array of proofs, its `previousProof` names) as the
    /// document's `proof` member, as Data Integrity's chains are made.
    pub async fn verify_chained(
        &self,
        doc: &Value,
        previous: Value,
        proof: &Value,
        terms: Terms,
    ) -> Result<(), IntegrityError> {
        let mut secured = doc.clone();
        secured
            .as_object_mut()
            .ok_or_else(|| IntegrityError::JsonLd("the document is not an object".into()))?
            .insert("proof".into(), previous);
        self.verify_over(&secured, false, proof, terms).await
    }

    async fn verify_over(
        &self,
        doc: &Value,
        without_proof: bool,
        proof: &Value,
        terms: Terms,
    ) -> Result<(), IntegrityError> {
        let mut config = proof
            .as_object()
            .cloned()
            .ok_or_else(|| IntegrityError::Proof("not an object".into()))?;
        let proof_value = match config.remove("proofValue") {
            Some(Value::String(s)) => s,
            _ => return Err(IntegrityError::Proof("no proofValue".into())),
        };
        let suite = match config.get("type").and_then(Value::as_str) {
            Some(ED25519_SIGNATURE_2020) => ED25519_SIGNATURE_2020,
            _ => config
                .get("cryptosuite")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        }
        .to_owned();
        let vm = config
            .get("verificationMethod")
            .and_then(Value::as_str)
            .ok_or_else(|| IntegrityError::Proof("no verificationMethod".into()))?
            .to_owned();
        let context = doc
            .get("@context")
            .cloned()
            .ok_or_else(|| IntegrityError::JsonLd("the document has no @context".into()))?;
        config.insert("@context".into(), context);
        let (base, signature) = multibase::decode(&proof_value)
            .map_err(|e| IntegrityError::Proof(format!("proofValue: {e}")))?;
        if base != multibase::Base::Base58Btc {
            return Err(IntegrityError::Proof("proofValue is not base58-btc".into()));
        }
        let key = did_key_public(&vm)?;
        let hash_data = self
            .hash_data(doc, without_proof, &Value::Object(config), terms)
            .await?;
        let ok = match (suite.as_str(), key) {
            (EDDSA_RDFC_2022 | ED25519_SIGNATURE_2020, PublicKey::Ed25519(pk)) => {
                let sig = ed25519_dalek::Signature::from_slice(&signature)
                    .map_err(|_| IntegrityError::BadSignature)?;
                pk.verify_strict(&hash_data, &sig).is_ok()
            }
            (ECDSA_RDFC_2019, PublicKey::P256(pk)) => {
                use p256::ecdsa::signature::Verifier;
                let sig = p256::ecdsa::Signature::from_slice(&signature)
                    .map_err(|_| IntegrityError::BadSignature)?;
                pk.verify(&hash_data, &sig).is_ok()
            }
            (EDDSA_RDFC_2022 | ECDSA_RDFC_2019 | ED25519_SIGNATURE_2020, _) => {
                return Err(IntegrityError::Key {
                    vm,
                    reason: format!("wrong key type for {suite}"),
                })
            }
            (other, _) => {
                return Err(IntegrityError::Proof(format!(
                    "unsupported cryptosuite `{other}`"
                )))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(IntegrityError::BadSignature)
        }
    }
}

/// Serializes a JSON object without its `@context` and the members named,
/// without copying it.
struct Without<'a>(&'a Map<String, Value>, &'a [&'a str]);

impl serde::Serialize for Without<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.0
                .iter()
                .filter(|(k, _)| *k != "@context" && !self.1.contains(&k.as_str())),
        )
    }
}

/// RDFC-1.0 over a dataset: a set, so a quad that expansion gives twice
/// counts once (on every path alike, templated or not).
/// Inserts into a cache of at most [`TEMPLATE_CACHE_LIMIT`] entries.
/// Hostile input may bring endless shapes: make room rather than stop
/// learning the issuer's own.
fn bounded_insert<V>(cache: &mut HashMap<String, V>, key: String, value: V) {
    if cache.len() >= TEMPLATE_CACHE_LIMIT && !cache.contains_key(&key) {
        let evict = cache.keys().next().cloned();
        evict.map(|k| cache.remove(&k));
    }
    cache.insert(key, value);
}

const PANICKED: &str = "the JSON-LD library failed on this document \
    (it does on an IRI whose percent-encoding is not UTF-8)";

/// Quads are sorted by their text (to find repeats), not by `Ord`, which
/// compares IRIs by decoded characters: slower, and a panic on bad input.
fn canonical(quads: Vec<LexicalQuad>) -> Result<String, IntegrityError> {
    std::panic::catch_unwind(move || canonical_unguarded(quads))
        .map_err(|_| IntegrityError::JsonLd(PANICKED.into()))?
}

fn canonical_unguarded(mut quads: Vec<LexicalQuad>) -> Result<String, IntegrityError> {
    fn id(id: &Id) -> (bool, &str) {
        match id {
            Id::Iri(iri) => (true, iri.as_str()),
            Id::Blank(blank) => (false, blank.as_str()),
        }
    }
    fn object(o: &ssi::json_ld::rdf_types::Term) -> (Option<(bool, &str)>, &str, &str) {
        use ssi::json_ld::rdf_types::{LiteralType, Term};
        match o {
            Term::Id(i) => (Some(id(i)), "", ""),
            Term::Literal(l) => match &l.type_ {
                LiteralType::Any(t) => (None, &l.value, t.as_str()),
                LiteralType::LangString(tag) => (None, &l.value, tag.as_str()),
            },
        }
    }
    type Text<'a> = (
        (bool, &'a str),
        &'a str,
        (Option<(bool, &'a str)>, &'a str, &'a str),
        Option<(bool, &'a str)>,
    );
    fn text(q: &LexicalQuad) -> Text<'_> {
        (id(&q.0), q.1.as_str(), object(&q.2), q.3.as_ref().map(id))
    }
    quads.sort_unstable_by(|a, b| text(a).cmp(&text(b)));
    quads.dedup_by(|a, b| text(a) == text(b));
    let refs: Vec<_> = quads.iter().map(LexicalQuad::as_lexical_quad_ref).collect();
    check_complexity(&refs)?;
    Ok(ssi::rdf::urdna2015::normalize(refs).into_nquads())
}

/// The most blank nodes that RDFC-1.0 may have to tell apart through one
/// another at once. Blank nodes whose own quads look alike (the same
/// first-degree hash) are told apart by the N-degree hashing, which tries
/// every order of those that point at each other: its work grows with the
/// factorial of such a cluster, and a crafted 3 KB credential with nine
/// makes it run for a minute. Real credentials have none or a few (two
/// identical alignment objects, say), never a cluster of this size. RDFC-1.0
/// leaves the bound to implementations, as Digital Bazaar's `rdf-canonize`
/// bounds its deep iterations.
pub const MAX_ALIKE_BLANK_NODES: usize = 5;

/// Refuses a dataset whose canonicalization could take unbounded work: a
/// cluster of more than [`MAX_ALIKE_BLANK_NODES`] blank nodes that share a
/// first-degree hash and are linked by quads. Linear in the quads.
fn check_complexity(
    quads: &[ssi::json_ld::rdf_types::LexicalQuadRef],
) -> Result<(), IntegrityError> {
    use ssi::rdf::urdna2015::{
        hash_first_degree_quads, BlankIdPosition, BlankNodeComponents, IdentifierIssuer,
        NormalizationState,
    };
    let mut state = NormalizationState {
        blank_node_to_quads: Default::default(),
        hash_to_blank_nodes: Default::default(),
        canonical_issuer: IdentifierIssuer::new("_:c14n".into()),
    };
    for quad in quads {
        for blank in quad.blank_node_components() {
            state
                .blank_node_to_quads
                .entry(blank)
                .or_default()
                .push(*quad);
        }
    }
    // Where N-degree hashing tries orders: for a blank node, the related
    // blank nodes that share a position and predicate (or graph) and a
    // hash class. A node related twice the same way (every quad of a node
    // in one blank graph, say) counts twice.
    type Related<'q> = Vec<(char, &'q str, &'q ssi::json_ld::rdf_types::BlankId)>;
    let mut related_of: std::collections::HashMap<_, Related> = Default::default();
    for quad in quads {
        for (x, _) in quad.blank_node_components_with_position() {
            let list = related_of.entry(x).or_default();
            for (c, position) in quad.blank_node_components_with_position() {
                if c != x {
                    let predicate = match position {
                        BlankIdPosition::Graph => "",
                        _ => quad.1.as_str(),
                    };
                    list.push((position.into_char(), predicate, c));
                }
            }
        }
    }
    // Few blank nodes, none related twice the same way: no order to try
    // can exceed the bound (most credentials stop here, unhashed).
    for list in related_of.values_mut() {
        list.sort_unstable();
    }
    if related_of.len() <= MAX_ALIKE_BLANK_NODES
        && related_of
            .values()
            .all(|list| list.windows(2).all(|w| w[0] != w[1]))
    {
        return Ok(());
    }
    let blanks: Vec<_> = state.blank_node_to_quads.keys().copied().collect();
    let mut hashes = Vec::with_capacity(blanks.len());
    let mut by_hash: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, blank) in blanks.iter().enumerate() {
        let hash = hash_first_degree_quads(&mut state, blank);
        by_hash.entry(hash.clone()).or_default().push(i);
        hashes.push(hash);
    }
    let mut alike = vec![false; blanks.len()];
    for group in by_hash.values().filter(|g| g.len() > 1) {
        for &i in group {
            alike[i] = true;
        }
    }
    let index: std::collections::HashMap<_, _> =
        blanks.iter().enumerate().map(|(i, b)| (*b, i)).collect();
    let too_complex = |what: &str| {
        Err(IntegrityError::TooComplex(format!(
            "too complex to canonicalize: {what} (RDFC-1.0's work would grow with their factorial); at most {MAX_ALIKE_BLANK_NODES}"
        )))
    };
    // Each alike node's orders to try: the related nodes of one kind.
    for (_, x) in blanks.iter().enumerate().filter(|(i, _)| alike[*i]) {
        let mut groups: std::collections::HashMap<(char, &str, &str), usize> = Default::default();
        for &(position, predicate, c) in related_of.get(x).into_iter().flatten() {
            let class = match index.get(c) {
                Some(&j) if alike[j] => hashes[j].as_str(),
                _ => c.as_str(),
            };
            let n = groups.entry((position, predicate, class)).or_default();
            *n += 1;
            if *n > MAX_ALIKE_BLANK_NODES {
                return too_complex("a blank node is related the same way to more than the bound of alike blank nodes, or to one more often");
            }
        }
    }
    // Clusters of alike blank nodes that share a quad (union-find).
    let mut parent: Vec<usize> = (0..blanks.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for quad in quads {
        let mut first = None;
        for blank in quad.blank_node_components() {
            let i = index[blank];
            if !alike[i] {
                continue;
            }
            match first {
                None => first = Some(i),
                Some(f) => {
                    let (a, b) = (root(&mut parent, f), root(&mut parent, i));
                    parent[a] = b;
                }
            }
        }
    }
    let mut sizes: std::collections::HashMap<usize, usize> = Default::default();
    for i in (0..blanks.len()).filter(|&i| alike[i]) {
        let r = root(&mut parent, i);
        let size = sizes.entry(r).or_default();
        *size += 1;
        if *size > MAX_ALIKE_BLANK_NODES {
            return too_complex("more alike blank nodes point at each other than the bound");
        }
    }
    Ok(())
}

fn id<T, B>(v: ValidId<T, B>) -> Id<T, B> {
    match v {
        ValidId::Iri(i) => Id::Iri(i),
        ValidId::Blank(b) => Id::Blank(b),
    }
}

/// The proofs a chained `proof` names in `previousProof` (one id, or an
/// array of ids), as the document's `proof` member was when it was made:
/// the proof itself for one id, an array for several. `None` for a proof
/// that starts no chain; an error when a named proof is not in the set.
pub(crate) fn previous_of(doc: &Value, proof: &Value) -> Result<Option<Value>, String> {
    let ids: Vec<&str> = match proof.get("previousProof") {
        None => return Ok(None),
        Some(Value::String(id)) => vec![id],
        Some(Value::Array(ids)) if !ids.is_empty() => ids
            .iter()
            .map(|id| id.as_str().ok_or("previousProof holds a non-string"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("previousProof must be a proof id or an array of them".into()),
    };
    let set = crate::proof::proofs(doc).map_err(|e| e.to_string())?;
    let mut found = Vec::with_capacity(ids.len());
    for id in &ids {
        let previous = set
            .iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(|| {
                format!("previousProof `{id}` is not in the proof set: the chain is broken")
            })?;
        found.push(previous.clone());
    }
    Ok(Some(match proof.get("previousProof") {
        Some(Value::String(_)) => found.pop().expect("one"),
        _ => Value::Array(found),
    }))
}

/// Throwaway issuer keys for the crate's tests (the issuer key file lives
/// in the node's crate).
#[cfg(test)]
pub(crate) mod test_keys {
    use ssi::dids::DIDKey;
    use ssi::JWK;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SigningKeyType {
        Ed25519,
        P256,
    }

    pub struct Identity {
        pub did: String,
        pub verification_method: String,
    }

    pub struct IssuerKey {
        pub identity: Identity,
        jwk: JWK,
    }

    impl IssuerKey {
        pub fn generate(_name: Option<String>, kind: SigningKeyType) -> Result<Self, String> {
            let jwk = match kind {
                SigningKeyType::Ed25519 => JWK::generate_ed25519().map_err(|e| e.to_string())?,
                SigningKeyType::P256 => JWK::generate_p256(),
            };
            let identity = Identity {
                did: DIDKey::generate(&jwk)
                    .map_err(|e| e.to_string())?
                    .to_string(),
                verification_method: DIDKey::generate_url(&jwk)
                    .map_err(|e| e.to_string())?
                    .to_string(),
            };
            Ok(Self { identity, jwk })
        }

        pub fn signing_jwk(&self) -> &JWK {
            &self.jwk
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrity::test_keys::{IssuerKey, SigningKeyType};
    use ssi::claims::data_integrity::{AnySuite, CryptographicSuite, DataIntegrity, ProofOptions};
    use ssi::claims::vc::v2::JsonCredential;
    use ssi::claims::{SignatureEnvironment, VerificationParameters};
    use ssi::dids::{DIDKey, DIDResolver};
    use ssi::verification_methods::{AnyMethod, ReferenceOrOwned, SingleSecretSigner};

    pub(super) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// An OB 3.0 credential without JSON booleans, where ssi and the spec agree.
    pub(super) fn unsigned(issuer: &str) -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/credentials/v2",
                         "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
            "id": "urn:uuid:6a9e6f1e-8a0e-4c52-9d43-6a51f1b6e0aa",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": "Registered Nurse",
            "issuer": {"id": issuer, "type": ["Profile"], "name": "Board"},
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {
                "id": "did:example:nurse",
                "type": ["AchievementSubject"],
                "achievement": {
                    "id": "https://board.example/rn", "type": ["Achievement"],
                    "name": [{"@value": "Nurse", "@language": "en"}],
                    "description": "d", "criteria": {"narrative": "n"}
                }
            }
        })
    }

    /// An embedded context wrapped as a context document
    /// (`{"@context": {...}}`) reads as the context itself, as jsonld.js
    /// reads it (the W3C Data Integrity test vectors use the form).
    #[test]
    fn a_wrapped_embedded_context_reads_as_the_context() {
        let canon = Canonicalizer::new(Contexts::standard());
        let inner = json!({"licenseNumber": "https://board.example/vocab#licenseNumber"});
        let doc = |extra: Value| {
            json!({
                "@context": ["https://www.w3.org/ns/credentials/v2", extra],
                "type": ["VerifiableCredential"],
                "issuer": "did:example:board",
                "credentialSubject": {"id": "did:example:n", "licenseNumber": "RN-1"}
            })
        };
        let plain = block_on(canon.canonical_nquads(&doc(inner.clone()), Terms::Check)).unwrap();
        let wrapped =
            block_on(canon.canonical_nquads(&doc(json!({"@context": inner})), Terms::Check))
                .unwrap();
        assert_eq!(plain, wrapped);
        assert!(plain.contains("https://board.example/vocab#licenseNumber"));
    }

    /// Every issuer proof of a set or of a chain is verified and reported;
    /// one bad proof fails the credential, and so does a chain whose link
    /// names a proof that is not there.
    #[test]
    fn every_proof_of_a_set_or_a_chain_is_verified() {
        use crate::verification::{Status, Verdict, Verifier};
        let canon = Canonicalizer::new(Contexts::standard());
        let verifier = Verifier::new(Contexts::standard());
        let issuer = IssuerKey::generate(None, SigningKeyType::Ed25519).unwrap();
        let witness = IssuerKey::generate(None, SigningKeyType::P256).unwrap();
        let add = |doc: &Value, key: &IssuerKey, options: Value| {
            let sk = SigningKey::from_jwk(key.signing_jwk()).unwrap();
            block_on(canon.add_proof(
                doc.clone(),
                &sk,
                &key.identity.verification_method,
                "2026-01-02T00:00:00Z",
                options.as_object().unwrap().clone(),
                Terms::Check,
            ))
            .unwrap()
        };
        let first = add(
            &unsigned(&issuer.identity.did),
            &issuer,
            json!({"id": "urn:proof:1"}),
        );
        let set = add(&first, &witness, json!({"id": "urn:proof:2"}));
        let chain = add(
            &first,
            &witness,
            json!({"id": "urn:proof:2", "previousProof": "urn:proof:1"}),
        );
        let signatures = |doc: &Value| {
            let r = block_on(verifier.verify_value(doc, chrono::Utc::now()));
            let s: Vec<Status> = r
                .checks
                .iter()
                .filter(|c| c.name == "signature")
                .map(|c| c.status)
                .collect();
            (r, s)
        };
        for doc in [&set, &chain] {
            let (r, s) = signatures(doc);
            assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
            assert_eq!(s, [Status::Pass, Status::Pass]);
            assert_eq!(r.check("issuer-key").unwrap().status, Status::Pass);
        }
        // The chain's link signed the issuer's proof too: as a proof of the
        // set alone it does not verify.
        let mut unlinked = chain.clone();
        unlinked["proof"][1]
            .as_object_mut()
            .unwrap()
            .remove("previousProof");
        assert_eq!(signatures(&unlinked).1, [Status::Pass, Status::Fail]);
        let mut bad = set.clone();
        bad["proof"][1]["proofValue"] = chain["proof"][1]["proofValue"].clone();
        let (r, s) = signatures(&bad);
        assert_eq!(
            (r.verdict, s),
            (Verdict::Invalid, vec![Status::Pass, Status::Fail])
        );
        let mut broken = chain.clone();
        broken["proof"][1]["previousProof"] = json!("urn:proof:9");
        let (r, s) = signatures(&broken);
        assert_eq!(
            (r.verdict, s),
            (Verdict::Invalid, vec![Status::Pass, Status::Fail])
        );
        assert!(
            r.checks
                .iter()
                .any(|c| c.detail.contains("the chain is broken")),
            "{r:#?}"
        );
    }

    /// `n` alike blank nodes (evidence typed VerifiableCredential) that all
    /// point at each other: RDFC-1.0's factorial case.
    fn poison(n: usize) -> Value {
        let node = |i: usize| {
            json!({"id": format!("_:e{i}"), "type": ["VerifiableCredential"],
                   "credentialSubject": (0..n).filter(|&j| j != i)
                       .map(|j| json!({"id": format!("_:e{j}")})).collect::<Vec<_>>()})
        };
        json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": "did:example:x",
            "credentialSubject": {"id": "did:example:y"},
            "evidence": (0..n).map(node).collect::<Vec<_>>(),
        })
    }

    /// Canonicalization stops at a cluster of alike blank nodes over the
    /// bound, before the work that grows with its factorial, and goes on
    /// below it; alike nodes that do not point at each other are no cluster.
    #[test]
    fn canonicalization_work_is_bounded() {
        let canon = Canonicalizer::new(Contexts::standard());
        for n in [MAX_ALIKE_BLANK_NODES + 1, 12, 20] {
            let err =
                block_on(canon.canonical_nquads_untemplated(&poison(n), Terms::Allow)).unwrap_err();
            assert!(
                matches!(&err, IntegrityError::TooComplex(m) if m.contains("too complex")),
                "{n}: {err}"
            );
        }
        let ok = block_on(
            canon.canonical_nquads_untemplated(&poison(MAX_ALIKE_BLANK_NODES), Terms::Allow),
        )
        .unwrap();
        assert!(ok.contains("_:c14n"));
        // Twenty identical evidence entries that point nowhere: alike, but
        // each is told apart on its own.
        let mut flat = poison(0);
        flat["evidence"] = Value::Array(
            (0..20)
                .map(|i| json!({"id": format!("_:f{i}"), "type": ["VerifiableCredential"], "name": "same"}))
                .collect(),
        );
        block_on(canon.canonical_nquads_untemplated(&flat, Terms::Allow)).unwrap();
        // Two alike nodes in one blank graph: each is related to the graph
        // once per quad, and those relations would be tried in every order.
        let names: Vec<String> = (0..12).map(|i| format!("a{i}")).collect();
        let mut graph = poison(0);
        graph["credentialSubject"] =
            json!({"@graph": [{"id": "_:x1", "name": names}, {"id": "_:x2", "name": names}]});
        let err = block_on(canon.canonical_nquads_untemplated(&graph, Terms::Allow)).unwrap_err();
        assert!(matches!(err, IntegrityError::TooComplex(_)), "{err}");
        graph["credentialSubject"] = json!({"@graph": [
            {"id": "_:x1", "name": &names[..3]}, {"id": "_:x2", "name": &names[..3]}
        ]});
        block_on(canon.canonical_nquads_untemplated(&graph, Terms::Allow)).unwrap();
    }

    /// Cairn's proofs verify in ssi, and ssi's in Cairn, for both suites: the
    /// two canonicalization paths agree wherever ssi follows the spec.
    #[test]
    fn agrees_with_ssi_both_ways() {
        for kind in [SigningKeyType::Ed25519, SigningKeyType::P256] {
            let key = IssuerKey::generate(None, kind).unwrap();
            let vm = key.identity.verification_method.clone();
            let canon = Canonicalizer::new(Contexts::standard());
            let doc = unsigned(&key.identity.did);
            let ours = block_on(canon.sign(
                doc.clone(),
                &SigningKey::from_jwk(key.signing_jwk()).unwrap(),
                &vm,
                "2026-01-01T00:00:00Z",
            ))
            .unwrap();

            let resolver = DIDKey.into_vm_resolver::<AnyMethod>();
            let params = VerificationParameters::from_resolver(&resolver)
                .with_json_ld_loader(Contexts::standard());
            let parsed: DataIntegrity<JsonCredential, AnySuite> =
                serde_json::from_value(ours.clone()).unwrap();
            assert!(
                block_on(parsed.verify(&params)).unwrap().is_ok(),
                "{kind:?}"
            );

            let suite = match kind {
                SigningKeyType::Ed25519 => AnySuite::EdDsaRdfc2022,
                SigningKeyType::P256 => AnySuite::EcdsaRdfc2019,
            };
            let vc: JsonCredential = serde_json::from_value(doc).unwrap();
            let theirs = block_on(suite.sign_with(
                SignatureEnvironment {
                    json_ld_loader: Contexts::standard(),
                    eip712_loader: (),
                },
                vc,
                &resolver,
                SingleSecretSigner::new(key.signing_jwk().clone()).into_local(),
                ProofOptions::from_method(ReferenceOrOwned::Reference(
                    ssi::json_ld::IriBuf::new(vm.clone()).unwrap(),
                )),
                Default::default(),
            ))
            .unwrap();
            let theirs = serde_json::to_value(&theirs).unwrap();
            block_on(canon.verify(&theirs, &theirs["proof"], Terms::Check)).unwrap();

            let mut tampered = theirs.clone();
            tampered["name"] = json!("Brain Surgeon");
            assert!(matches!(
                block_on(canon.verify(&tampered, &theirs["proof"], Terms::Check)),
                Err(IntegrityError::BadSignature)
            ));
        }
    }

    #[test]
    fn verification_method_must_be_the_did_key() {
        for (vm, why) in [
            ("https://issuer.example/key#1", "not a did:key"),
            (
                "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#other",
                "fragment",
            ),
            ("did:key:zzzz", ""),
        ] {
            let err = did_key_public(vm).err().expect(vm);
            assert!(err.to_string().contains(why), "{vm}: {err}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::tests::block_on;
    use super::*;
    use proptest::prelude::*;

    /// One canonicalizer for every case, so cases fill templates that
    /// other cases made.
    fn shared() -> &'static Canonicalizer {
        static CANON: std::sync::OnceLock<Canonicalizer> = std::sync::OnceLock::new();
        CANON.get_or_init(|| Canonicalizer::new(Contexts::standard()))
    }

    /// Strings for literal positions: any text, escapes, and strings that
    /// look like IRIs or dates.
    fn text_value() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "\\PC{0,24}",
            1 => r#"[\x{0}-\x{1f}"\\<> ]{1,6}"#,
            1 => "(https://|urn:|did:|ex:|_:)[a-z0-9]{0,8}",
            1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z",
            1 => Just(String::new()),
        ]
    }

    /// Strings for IRI positions: mostly IRIs of the schemes credentials
    /// use, some of them non-ASCII, and now and then the awkward ones: a
    /// compact IRI whose prefix a context defines (`ex:`), blank node ids,
    /// relative references, text.
    fn iri_value() -> impl Strategy<Value = String> {
        prop_oneof![
            36 => "https://[a-z0-9.-]{1,10}(/[a-zé0-9._~-]{0,8}(%2[0-9A-F]|%C3%A9)?){0,2}(#[a-z0-9]{0,4})?",
            16 => "(urn:uuid|did:key|did:example|mailto):[A-Za-z0-9._-]{1,16}",
            1 => "(ex|exx|kind|xsd):[a-z0-9]{0,8}",
            1 => "(_:b|#|/)[a-z0-9]{0,4}",
            1 => "\\PC{0,8}",
        ]
    }

    /// An Open Badges credential with `values` in its string positions;
    /// `extra_context` 1 adds a prefix term (`ex`), 2 also an alias of
    /// `@type` (`kind`, which the shape cannot know steers expansion).
    fn varied(values: &[String], extra_context: u8, status: bool) -> Value {
        let v = |i: usize| json!(values[i]);
        let mut context = vec![
            json!("https://www.w3.org/ns/credentials/v2"),
            json!(crate::context::OB_V3_0_3),
        ];
        match extra_context {
            1 => context.push(json!({"ex": "https://example.org/ns#"})),
            2 => context.push(json!({"ex": "https://example.org/ns#", "kind": "@type"})),
            _ => {}
        }
        let mut doc = json!({
            "@context": context,
            "id": v(0),
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": v(1),
            "description": [{"@value": v(2), "@language": "en"}],
            "issuer": {"id": v(3), "type": ["Profile"], "name": v(4), "url": v(5)},
            "validFrom": v(6),
            "credentialSubject": {
                "id": v(7),
                "type": ["AchievementSubject"],
                "achievement": {
                    "id": v(8), "type": ["Achievement"], "name": v(9),
                    "description": v(10), "criteria": {"narrative": v(11)},
                    "image": {"id": v(12), "type": "Image"},
                    "tag": [v(13), v(1)]
                }
            },
            "proof": {"type": "DataIntegrityProof", "proofValue": v(14)}
        });
        if extra_context > 0 {
            doc["credentialSubject"]["ex:note"] = v(15);
        }
        if extra_context > 1 {
            doc["issuer"]["kind"] = v(15);
        }
        if status {
            doc["credentialStatus"] = json!([{
                "id": v(15), "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                "statusListIndex": v(13), "statusListCredential": v(5),
            }]);
        }
        doc
    }

    /// A document whose shape is past the bound (here a long type, which
    /// the shape holds whole) is canonicalized the full way, and nothing
    /// of it is cached.
    #[test]
    fn an_oversized_shape_is_not_cached() {
        let canon = Canonicalizer::new(Contexts::standard());
        let long_type = format!("https://example.org/{}", "t".repeat(SHAPE_KEY_LIMIT));
        let doc = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential", long_type],
            "issuer": "did:example:board",
            "credentialSubject": {"id": "did:example:nurse"}
        });
        let full = block_on(canon.canonicalize_fully(&doc, &[], Terms::Allow)).unwrap();
        assert!(full.contains(&long_type));
        assert_eq!(
            block_on(canon.canonicalize(&doc, false, Terms::Allow)).unwrap(),
            full
        );
        assert!(canon.shapes[Terms::Allow as usize]
            .lock()
            .unwrap()
            .templates
            .is_empty());
        assert!(canon.shapes[Terms::Allow as usize]
            .lock()
            .unwrap()
            .plans
            .is_empty());
    }

    /// An IRI whose percent-encoding is not UTF-8 makes the `json-ld`
    /// crate panic; here it is an error of the document, whether the IRI
    /// is a value, a type or a member name, and a thread lives on.
    #[test]
    fn undecodable_percent_encoding_is_an_error_not_a_panic() {
        let canon = Canonicalizer::new(Contexts::standard());
        let doc = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": "did:example:board",
            "credentialSubject": {"id": "did:example:nurse"}
        });
        let mut as_id = doc.clone();
        as_id["id"] = json!("https://a.example/%e9");
        let mut as_type = doc.clone();
        as_type["type"] = json!(["VerifiableCredential", "https://a.example/%ff"]);
        let mut as_member = doc.clone();
        as_member["credentialSubject"]["https://a.example/%c3"] = json!("x");
        for bad in [as_id, as_type, as_member] {
            for terms in [Terms::Check, Terms::Allow, Terms::Vocab] {
                let err = block_on(canon.canonicalize(&bad, true, terms)).unwrap_err();
                assert!(err.to_string().contains("JSON-LD"), "{err}");
            }
            assert!(block_on(canon.check_terms(&bad)).is_err());
        }
        // As a literal it is only text.
        let mut literal = doc.clone();
        literal["credentialSubject"]["name"] = json!("https://a.example/%e9");
        assert!(block_on(canon.canonicalize(&literal, true, Terms::Check)).is_ok());
    }

    /// The credentials Cairn issues are templated (not sent the full way
    /// every time), and their canonical form is the full one.
    #[test]
    fn issued_shapes_are_templated() {
        let canon = Canonicalizer::new(Contexts::standard());
        let plain: Vec<String> = [
            "urn:uuid:6a9e6f1e-8a0e-4c52-9d43-6a51f1b6e0aa",
            "Registered Nurse",
            "RN",
            "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
            "Board",
            "https://board.example",
            "2026-01-01T00:00:00Z",
            "did:example:nurse",
            "https://board.example/rn",
            "Nurse",
            "d",
            "n",
            "https://board.example/rn.png",
            "nursing",
            "z2RjsYT7N6",
            "https://board.example/status-lists/revocation-1#77",
        ]
        .map(String::from)
        .to_vec();
        let doc = varied(&plain, 0, true);
        let full = block_on(canon.canonicalize_fully(&doc, &["proof"], Terms::Check)).unwrap();
        assert_eq!(
            block_on(canon.canonicalize(&doc, true, Terms::Check)).unwrap(),
            full
        );
        let cache = canon.shapes[Terms::Check as usize].lock().unwrap();
        let templates = &cache.templates;
        assert_eq!(templates.len(), 1);
        assert!(
            templates.values().all(Option::is_some),
            "no template for Cairn's own shape"
        );
    }

    /// A value that steers expansion where the shape cannot tell is fixed
    /// in the shape once a probe shows it: `proofPurpose`'s value is a term
    /// of the Data Integrity context, so each purpose gets its own template
    /// while `created` and the method stay slots; each gives the full form.
    #[test]
    fn a_steering_value_is_fixed_in_the_shape() {
        let canon = Canonicalizer::new(Contexts::standard());
        let config = |purpose: &str, created: &str| {
            json!({
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": "DataIntegrityProof",
                "cryptosuite": EDDSA_RDFC_2022,
                "created": created,
                "verificationMethod": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
                "proofPurpose": purpose,
            })
        };
        for (purpose, created) in [
            ("assertionMethod", "2026-01-01T00:00:00Z"),
            ("authentication", "2026-01-01T00:00:00Z"),
            ("assertionMethod", "2027-06-30T12:00:00Z"),
        ] {
            let config = config(purpose, created);
            let full = block_on(canon.canonicalize_fully(&config, &[], Terms::Allow)).unwrap();
            assert!(full.contains(purpose) && full.contains(created));
            assert_eq!(
                block_on(canon.canonicalize(&config, false, Terms::Allow)).unwrap(),
                full
            );
        }
        let cache = canon.shapes[Terms::Allow as usize].lock().unwrap();
        let templates = &cache.templates;
        assert_eq!(
            templates.values().filter(|t| t.is_some()).count(),
            2,
            "one per purpose"
        );
        assert_eq!(cache.plans.len(), 1);
    }

    /// Contexts whose terms the shape cannot see through (a keyword alias,
    /// an IRI-looking term, a reverse property) get no templates, and the
    /// documents that a review found to fool them canonicalize as in full,
    /// each after the one that would have made the template.
    #[test]
    fn tricky_contexts_and_fixed_values_match_full_canonicalization() {
        let vc = "https://www.w3.org/ns/credentials/v2";
        let subject = |extra: Value, p: &str| {
            let mut ctx = json!({"p": {"@id": "https://e.org/p", "@type": "@vocab"}});
            ctx.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({
                "@context": [vc, ctx], "id": "urn:s", "type": ["VerifiableCredential"],
                "issuer": "did:example:i", "credentialSubject": {"id": "did:example:s", "p": p}
            })
        };
        let graph = |a: &str, b: &str| {
            json!({
                "@context": [vc, {"g": "@graph"}],
                "g": [{"id": a, "name": "x"}, {"id": b, "name": "x"}]
            })
        };
        let pairs = [
            (
                subject(json!({"urn:": "https://evil.example/"}), "urn:a"),
                subject(json!({"urn:": "https://evil.example/"}), "urn:"),
            ),
            (
                subject(
                    json!({"urn:x": {"@reverse": "https://evil.example/r"}}),
                    "urn:a",
                ),
                subject(
                    json!({"urn:x": {"@reverse": "https://evil.example/r"}}),
                    "urn:x",
                ),
            ),
            (
                subject(json!({"urn:x": null}), "urn:a"),
                subject(json!({"urn:x": null}), "urn:x"),
            ),
            (
                json!({"@context": [vc, {"urn:": "@id"}], "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": "urn:a", "name": "n"}}),
                json!({"@context": [vc, {"urn:": "@id"}], "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": "urn:", "name": "n"}}),
            ),
            (
                json!({"@context": [vc], "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": "_:s", "name": "n\u{0}x"}, "issuer": "_:t"}),
                json!({"@context": [vc], "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": "_:s\u{0}n", "name": "x"}, "issuer": "_:t"}),
            ),
            (
                graph("https://a.example/B", "https://a.example/C"),
                graph("https://a.example/%41", "https://a.example/A"),
            ),
            (
                json!({"@context": [vc, {"g": "@graph"}], "g": [{"name": "x"}, {"name": "y"}]}),
                json!({"@context": [vc, {"g": "@graph"}], "g": [{"name": "x"}, {"name": "x"}]}),
            ),
        ];
        for (a, b) in pairs {
            for (first, second) in [(&a, &b), (&b, &a)] {
                let canon = Canonicalizer::new(Contexts::standard());
                for doc in [first, second] {
                    for terms in [Terms::Allow, Terms::Check] {
                        let fast = block_on(canon.canonicalize(doc, false, terms))
                            .map_err(|e| e.to_string());
                        let full = block_on(canon.canonicalize_fully(doc, &[], terms))
                            .map_err(|e| e.to_string());
                        match (&fast, &full) {
                            (Ok(x), Ok(y)) => assert_eq!(x, y, "{terms:?} {doc}"),
                            (Err(_), Err(_)) => {}
                            _ => panic!("{fast:?} but {full:?} for {terms:?} {doc}"),
                        }
                    }
                }
            }
        }
    }

    proptest! {
        // Each case canonicalizes or signs (about a millisecond in release,
        // more in debug); a few dozen cases cover escaping and Unicode well.
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Canonicalizing through shape templates gives exactly what full
        /// canonicalization gives, or the same error: for any strings, in
        /// literal and IRI positions, under contexts with and without prefix
        /// terms and a keyword alias, on one canonicalizer whose templates
        /// earlier cases made.
        #[test]
        fn templates_match_full_canonicalization(
            iris in prop::collection::vec(iri_value(), 7),
            texts in prop::collection::vec(text_value(), 9),
            extra_context in 0..3u8,
            status in any::<bool>(),
        ) {
            let canon = shared();
            // The positions `varied` gives IRIs, and the rest.
            let mut values = vec![String::new(); 16];
            for (i, v) in [0, 3, 5, 7, 8, 12, 15].into_iter().zip(iris) {
                values[i] = v;
            }
            for (i, v) in [1, 2, 4, 6, 9, 10, 11, 13, 14].into_iter().zip(texts) {
                values[i] = v;
            }
            let doc = varied(&values, extra_context, status);
            for terms in [Terms::Check, Terms::Allow, Terms::Vocab] {
                let fast = block_on(canon.canonicalize(&doc, true, terms)).map_err(|e| e.to_string());
                let full = block_on(canon.canonicalize_fully(&doc, &["proof"], terms)).map_err(|e| e.to_string());
                match (&fast, &full) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{:?} {}", terms, doc),
                    (Err(_), Err(_)) => {}
                    _ => prop_assert!(false, "{fast:?} but {full:?} for {terms:?} {doc}"),
                }
            }
        }

        /// Any text survives canonicalization: the proof over a name with
        /// quotes, backslashes, control characters or any Unicode verifies,
        /// and changing the name by one character breaks it.
        #[test]
        fn any_text_signs_and_verifies(name in "\\PC{1,40}|[\"\\\\\n\r\t\u{0}-\u{1f}]{1,8}", flip in any::<prop::sample::Index>()) {
            let canon = Canonicalizer::new(Contexts::standard());
            let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
            let jwk = ssi::JWK::from(ssi::jwk::Params::OKP(ssi::jwk::OctetParams {
                curve: "Ed25519".into(),
                public_key: ssi::jwk::Base64urlUInt(sk.verifying_key().to_bytes().to_vec()),
                private_key: Some(ssi::jwk::Base64urlUInt(sk.to_bytes().to_vec())),
            }));
            let vm = ssi::dids::DIDKey::generate_url(&jwk).unwrap().to_string();
            let doc = json!({
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "issuer": vm.split('#').next().unwrap(),
                "validFrom": "2026-01-01T00:00:00Z",
                "name": name,
                "credentialSubject": {"id": "did:example:x", "name": name}
            });
            let signed = block_on(canon.sign(doc, &SigningKey::Ed25519(sk), &vm, "2026-01-01T00:00:00Z")).unwrap();
            prop_assert!(block_on(canon.verify(&signed, &signed["proof"], Terms::Check)).is_ok());

            let mut chars: Vec<char> = name.chars().collect();
            let i = flip.index(chars.len());
            chars[i] = if chars[i] == 'x' { 'y' } else { 'x' };
            let mut tampered = signed.clone();
            tampered["credentialSubject"]["name"] = json!(chars.into_iter().collect::<String>());
            prop_assert!(matches!(
                block_on(canon.verify(&tampered, &signed["proof"], Terms::Check)),
                Err(IntegrityError::BadSignature)
            ));
        }
    }
}
