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

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use ssi::json_ld::rdf_types::{generator, Id, LexicalQuad, Quad};
use ssi::json_ld::syntax::Parse;
use ssi::json_ld::{self as jld, BlankIdBuf, Expand, IriBuf, RdfQuads, ValidId};

use crate::context::Contexts;

pub const EDDSA_RDFC_2022: &str = "eddsa-rdfc-2022";
pub const ECDSA_RDFC_2019: &str = "ecdsa-rdfc-2019";

#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    #[error("JSON-LD: {0}")]
    JsonLd(String),
    /// The document names an unknown context or uses an undefined term
    /// (only when the terms are checked).
    #[error("{0}")]
    Terms(String),
    #[error("proof: {0}")]
    Proof(String),
    #[error("verification method {vm}: {reason}")]
    Key { vm: String, reason: String },
    #[error("the signature does not verify")]
    BadSignature,
}

/// The secret half of an issuer's signing key.
#[derive(Clone)]
pub enum SigningKey {
    Ed25519(ed25519_dalek::SigningKey),
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

    pub fn cryptosuite(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => EDDSA_RDFC_2022,
            Self::P256(_) => ECDSA_RDFC_2019,
        }
    }
}

/// A public key named by a `did:key` verification method.
enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

/// Decodes the public key of a `did:key` verification method URL. For did:key
/// the key is the DID itself, so no resolution is needed and no network.
fn did_key_public(vm: &str) -> Result<PublicKey, IntegrityError> {
    use ssi::multicodec::{MultiEncoded, ED25519_PUB, P256_PUB};
    let bad = |reason: String| IntegrityError::Key {
        vm: vm.to_owned(),
        reason,
    };
    let (did, fragment) = vm.split_once('#').unwrap_or((vm, ""));
    let id = did
        .strip_prefix("did:key:")
        .ok_or_else(|| bad("not a did:key verification method".into()))?;
    if !fragment.is_empty() && fragment != id {
        return Err(bad("the fragment does not name the DID's key".into()));
    }
    let (base, bytes) = multibase::decode(id).map_err(|e| bad(e.to_string()))?;
    if base != multibase::Base::Base58Btc {
        return Err(bad("did:key must be base58-btc".into()));
    }
    let encoded = MultiEncoded::new(&bytes).map_err(|e| bad(e.to_string()))?;
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

type ActiveContext = jld::Context<IriBuf, BlankIdBuf>;

/// Whether canonicalization also insists that every term is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terms {
    Check,
    Allow,
}

/// Expansion that fails on an undefined term, naming it, instead of letting
/// VC 2.0's catch-all `@vocab` map it.
const STRICT: jld::expansion::Policy = jld::expansion::Policy {
    invalid: jld::expansion::Action::Reject,
    vocab: jld::expansion::Action::Reject,
    allow_undefined: false,
};

/// Turns JSON-LD documents into canonical N-Quads.
///
/// Processing a credential's `@context` (VC 2.0 and Open Badges 3.0 define
/// hundreds of terms) costs more than expanding the credential itself, and
/// every credential of an issuer, and every proof configuration, names the
/// same contexts. So the processed context is kept, keyed by the `@context`
/// value, and documents are expanded against it with their `@context` entry
/// removed, which is what the expansion algorithm would compute first anyway.
#[derive(Clone)]
pub struct Canonicalizer {
    contexts: Arc<Contexts>,
    processed: Arc<Mutex<HashMap<String, Arc<ActiveContext>>>>,
    config_templates: Arc<Mutex<HashMap<String, Option<ConfigTemplate>>>>,
    status_templates: Arc<Mutex<HashMap<String, Option<StatusTemplate>>>>,
}

/// The canonical N-Quads that `credentialStatus` entries of the one shape
/// Cairn writes (`BitstringStatusListEntry` with an `id` and four string
/// members) add to a credential, with the entry's values as slots.
///
/// Expanding such an entry costs as much as the rest of a credential: its
/// type brings a type-scoped context, and the JSON-LD crate copies the whole
/// active context (VC 2.0 and Open Badges) to apply it. But the entries have
/// IRIs for ids and plain literals, no blank node, so their quads neither
/// affect nor depend on the canonical labels of the rest: the credential is
/// canonicalized without them and their quads, made from this template, are
/// merged in. A property test holds the result to full canonicalization.
#[derive(Clone)]
struct StatusTemplate {
    /// N-Quads lines with the [`STATUS_SLOTS`] tokens in them.
    lines: Vec<String>,
}

/// Stand-ins for the credential's id and an entry's values while a
/// template is made: (token, member of the entry, or "" for the credential).
const STATUS_SLOTS: [(&str, &str); 5] = [
    ("urn:cairn:slot:credential", ""),
    ("urn:cairn:slot:entry", "id"),
    ("cairnslotpurpose", "statusPurpose"),
    ("cairnslotindex", "statusListIndex"),
    ("urn:cairn:slot:list", "statusListCredential"),
];

/// The entry members, in the order of [`STATUS_SLOTS`] after the first.
const STATUS_MEMBERS: [&str; 4] = [
    "id",
    "statusPurpose",
    "statusListIndex",
    "statusListCredential",
];

/// Characters an IRI may have to go into an N-Quads line unescaped (and
/// that JSON-LD leaves as they are in an absolute IRI).
fn plain_iri(s: &str) -> bool {
    s.contains(':')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/.-_~#?=&%+@!$,;*()'[]".contains(&b))
}

fn plain_literal(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

/// The credential's status entries, if every one has Cairn's shape and
/// values that need no escaping; `None` sends the document the full way.
fn plain_status_entries(doc: &Map<String, Value>) -> Option<Vec<[&str; 4]>> {
    if !doc.get("id")?.as_str().is_some_and(plain_iri) {
        return None;
    }
    let Value::Array(entries) = doc.get("credentialStatus")? else {
        return None;
    };
    entries
        .iter()
        .map(|e| {
            let e = e.as_object()?;
            if e.len() != 5 || e.get("type")?.as_str()? != "BitstringStatusListEntry" {
                return None;
            }
            let mut values = [""; 4];
            for (slot, member) in values.iter_mut().zip(STATUS_MEMBERS) {
                *slot = e.get(member)?.as_str()?;
            }
            let [id, purpose, index, list] = values;
            (plain_iri(id) && plain_literal(purpose) && plain_literal(index) && plain_iri(list))
                .then_some(values)
        })
        .collect()
}

/// The canonical N-Quads of a proof configuration, split around the value of
/// `created`: the one part of a configuration that changes from credential to
/// credential of one issuer.
#[derive(Clone)]
struct ConfigTemplate {
    before: String,
    after: String,
}

/// Stands in for `created` while a configuration's template is made.
const CREATED_SLOT: &str = "cairn-created-slot-0b9e4c";

impl ConfigTemplate {
    /// Splits `canonical` (made with [`CREATED_SLOT`] as `created`) around
    /// the slot, if substituting another value there is exactly what
    /// canonicalizing with that value would give. That holds when the slot
    /// occurs once and the configuration has a single blank node (the proof
    /// node, `_:c14n0`): its label cannot depend on the literal, and the
    /// N-Quads lines sort by predicate before they reach the literal.
    fn split(canonical: &str) -> Option<Self> {
        if canonical.matches(CREATED_SLOT).count() != 1 || canonical.contains("_:c14n1") {
            return None;
        }
        let (before, after) = canonical.split_once(CREATED_SLOT)?;
        Some(Self {
            before: before.to_owned(),
            after: after.to_owned(),
        })
    }

    /// A `created` value that needs no escaping in an N-Quads literal, so it
    /// can go into the slot as it is: an RFC 3339 date-time always does.
    fn fits(created: &str) -> bool {
        !created.is_empty()
            && created
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":+-.".contains(&b))
    }
}

impl Canonicalizer {
    pub fn new(contexts: Contexts) -> Self {
        Self {
            contexts: Arc::new(contexts),
            processed: Arc::default(),
            config_templates: Arc::default(),
            status_templates: Arc::default(),
        }
    }

    pub fn contexts(&self) -> &Contexts {
        &self.contexts
    }

    /// The active context a document's `@context` value produces.
    async fn active_context(&self, context: &Value) -> Result<ActiveContext, String> {
        use jld::context_processing::Process;
        use jld::syntax::TryFromJson;
        let key = context.to_string();
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
        value
            .expand_full(&mut (), active, None, &*self.contexts, options, ())
            .await
            .map_err(|e| match e {
                E::KeyExpansionFailed(term) => {
                    format!("undefined term `{term}`: no context in @context defines it")
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

    async fn canonicalize(
        &self,
        doc: &Value,
        without_proof: bool,
        terms: Terms,
    ) -> Result<String, IntegrityError> {
        if let Some(fast) = self
            .canonicalize_with_status_template(doc, without_proof, terms)
            .await?
        {
            return Ok(fast);
        }
        let skip: &[&str] = if without_proof { &["proof"] } else { &[] };
        self.canonicalize_fully(doc, skip, terms).await
    }

    /// [`StatusTemplate`]'s way, when it applies: `None` when it does not.
    async fn canonicalize_with_status_template(
        &self,
        doc: &Value,
        without_proof: bool,
        terms: Terms,
    ) -> Result<Option<String>, IntegrityError> {
        let Some(map) = doc.as_object() else {
            return Ok(None);
        };
        let Some(entries) = plain_status_entries(map) else {
            return Ok(None);
        };
        let Some(template) = self.status_template(map).await else {
            return Ok(None);
        };
        let credential = map["id"].as_str().expect("checked by plain_status_entries");
        let skip: &[&str] = if without_proof {
            &["proof", "credentialStatus"]
        } else {
            &["credentialStatus"]
        };
        let rest = self.canonicalize_fully(doc, skip, terms).await?;
        let mut lines: Vec<String> = rest.lines().map(|l| format!("{l}\n")).collect();
        for values in entries {
            for line in &template.lines {
                let mut line = line.replace(STATUS_SLOTS[0].0, credential);
                for ((token, _), value) in STATUS_SLOTS[1..].iter().zip(values) {
                    line = line.replace(token, value);
                }
                lines.push(line);
            }
        }
        lines.sort_unstable();
        lines.dedup();
        Ok(Some(lines.concat()))
    }

    /// The status template for a credential with this `@context` and
    /// `type`, made once (by canonicalizing a probe credential that has
    /// only an id, its type and one entry of slots) and cached.
    async fn status_template(&self, doc: &Map<String, Value>) -> Option<StatusTemplate> {
        let key = serde_json::to_string(&(doc.get("@context"), doc.get("type"))).ok()?;
        if let Some(known) = self.status_templates.lock().expect("cache lock").get(&key) {
            return known.clone();
        }
        let mut probe = Map::new();
        probe.insert("@context".into(), doc.get("@context")?.clone());
        probe.insert("id".into(), json!(STATUS_SLOTS[0].0));
        if let Some(t) = doc.get("type") {
            probe.insert("type".into(), t.clone());
        }
        let mut entry = Map::new();
        entry.insert("type".into(), json!("BitstringStatusListEntry"));
        for (token, member) in &STATUS_SLOTS[1..] {
            entry.insert((*member).into(), json!(token));
        }
        probe.insert("credentialStatus".into(), json!([entry]));
        let template = match self
            .canonicalize_fully(&Value::Object(probe), &["proof"], Terms::Check)
            .await
        {
            // The entry's lines are those naming it; none may hold a blank
            // node, and each slot must appear (or the shape is not ours).
            Ok(canonical) if !canonical.contains("_:") => {
                let lines: Vec<String> = canonical
                    .lines()
                    .filter(|l| l.contains(STATUS_SLOTS[1].0))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let all = lines.concat();
                STATUS_SLOTS
                    .iter()
                    .all(|(token, _)| all.contains(token))
                    .then_some(StatusTemplate { lines })
            }
            _ => None,
        };
        let mut cache = self.status_templates.lock().expect("cache lock");
        if cache.len() < CONTEXT_CACHE_LIMIT {
            cache.insert(key, template.clone());
        }
        template
    }

    async fn canonicalize_fully(
        &self,
        doc: &Value,
        skip: &[&str],
        terms: Terms,
    ) -> Result<String, IntegrityError> {
        let mut expanded = match terms {
            Terms::Check => self
                .expand(doc, skip, STRICT)
                .await
                .map_err(IntegrityError::Terms)?,
            Terms::Allow => self
                .expand(doc, skip, Default::default())
                .await
                .map_err(IntegrityError::JsonLd)?,
        };
        let mut blanks = generator::Blank::new();
        expanded.identify_all(&mut blanks);
        let quads: Vec<LexicalQuad> = expanded
            .rdf_quads(&mut blanks, None)
            .cloned()
            .filter_map(|Quad(s, p, o, g)| {
                let ValidId::Iri(p) = p else { return None };
                Some(Quad(id(s), p, o, g.map(id)))
            })
            .collect();
        Ok(
            ssi::rdf::urdna2015::normalize(quads.iter().map(LexicalQuad::as_lexical_quad_ref))
                .into_nquads(),
        )
    }

    /// `SHA-256(canon(proofConfig)) || SHA-256(canon(document))`.
    /// `doc` without its `proof` member is the unsecured document.
    async fn hash_data(
        &self,
        doc: &Value,
        config: &Value,
        terms: Terms,
    ) -> Result<Vec<u8>, IntegrityError> {
        let doc = self.canonicalize(doc, true, terms).await?;
        let config = self.canonical_config(config).await?;
        let mut out = Sha256::digest(config.as_bytes()).to_vec();
        out.extend_from_slice(&Sha256::digest(doc.as_bytes()));
        Ok(out)
    }

    /// The canonical N-Quads of a proof configuration. Configurations of one
    /// issuer differ only in `created`, so each is canonicalized once with a
    /// slot for it (see [`ConfigTemplate`]); that halves the JSON-LD work of
    /// signing and verifying. The terms are Data Integrity's own, never
    /// checked as the document's are.
    async fn canonical_config(&self, config: &Value) -> Result<String, IntegrityError> {
        let created = config.get("created").and_then(Value::as_str);
        let Some(created) = created.filter(|c| ConfigTemplate::fits(c)) else {
            return self.canonical_nquads(config, Terms::Allow).await;
        };
        let mut slotted = config.clone();
        slotted["created"] = json!(CREATED_SLOT);
        let key = slotted.to_string();
        let known = self
            .config_templates
            .lock()
            .expect("cache lock")
            .get(&key)
            .cloned();
        let template = match known {
            Some(template) => template,
            None => {
                let canonical = self.canonical_nquads(&slotted, Terms::Allow).await?;
                let template = ConfigTemplate::split(&canonical);
                let mut cache = self.config_templates.lock().expect("cache lock");
                if cache.len() < CONTEXT_CACHE_LIMIT {
                    cache.insert(key, template.clone());
                }
                template
            }
        };
        match template {
            Some(t) => Ok(format!("{}{created}{}", t.before, t.after)),
            None => self.canonical_nquads(config, Terms::Allow).await,
        }
    }

    /// Adds a Data Integrity proof to `unsecured` (which must have no `proof`).
    /// A document with an undefined term is refused.
    pub async fn sign(
        &self,
        mut unsecured: Value,
        key: &SigningKey,
        verification_method: &str,
        created: &str,
    ) -> Result<Value, IntegrityError> {
        let context = unsecured
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
        let mut config = proof.clone();
        config["@context"] = context;
        let hash_data = self.hash_data(&unsecured, &config, Terms::Check).await?;
        let signature = match key {
            SigningKey::Ed25519(sk) => {
                use ed25519_dalek::Signer;
                sk.sign(&hash_data).to_bytes().to_vec()
            }
            SigningKey::P256(sk) => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = sk.sign(&hash_data);
                sig.to_bytes().to_vec()
            }
        };
        proof["proofValue"] = json!(multibase::encode(multibase::Base::Base58Btc, signature));
        unsecured
            .as_object_mut()
            .ok_or_else(|| IntegrityError::JsonLd("the document is not an object".into()))?
            .insert("proof".into(), proof);
        Ok(unsecured)
    }

    /// Verifies one Data Integrity `proof` over `doc` (whose own `proof`
    /// member, if any, is ignored: proofs in a set are independent).
    pub async fn verify(
        &self,
        doc: &Value,
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
        let suite = config
            .get("cryptosuite")
            .and_then(Value::as_str)
            .unwrap_or_default()
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
        let hash_data = self.hash_data(doc, &Value::Object(config), terms).await?;
        let ok = match (suite.as_str(), key) {
            (EDDSA_RDFC_2022, PublicKey::Ed25519(pk)) => {
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
            (EDDSA_RDFC_2022 | ECDSA_RDFC_2019, _) => {
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

fn id<T, B>(v: ValidId<T, B>) -> Id<T, B> {
    match v {
        ValidId::Iri(i) => Id::Iri(i),
        ValidId::Blank(b) => Id::Blank(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{IssuerKey, SigningKeyType};
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

    proptest! {
        // Each case canonicalizes or signs (about a millisecond in release,
        // more in debug); a few dozen cases cover escaping and Unicode well.
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The templated canonical form of a proof configuration is exactly
        /// the one canonicalization gives, for any `created` that fits.
        #[test]
        fn config_template_matches_full_canonicalization(
            created in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})|[A-Za-z0-9:+.-]{1,30}",
            ob in any::<bool>(),
        ) {
            let canon = Canonicalizer::new(Contexts::standard());
            let mut context = vec![json!("https://www.w3.org/ns/credentials/v2")];
            if ob {
                context.push(json!(crate::context::OB_V3_0_3));
            }
            let config = json!({
                "@context": context,
                "type": "DataIntegrityProof",
                "cryptosuite": EDDSA_RDFC_2022,
                "created": created,
                "verificationMethod": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
                "proofPurpose": "assertionMethod",
            });
            let full = block_on(canon.canonical_nquads(&config, Terms::Allow)).unwrap();
            // Twice: once making the template, once using it.
            prop_assert_eq!(&block_on(canon.canonical_config(&config)).unwrap(), &full);
            prop_assert_eq!(&block_on(canon.canonical_config(&config)).unwrap(), &full);
            // ... and the template was made and used, not skipped.
            let templates = canon.config_templates.lock().unwrap();
            prop_assert!(templates.len() == 1 && templates.values().all(Option::is_some));
        }


        /// Status entries merged from the template give exactly the
        /// canonical form of the whole credential, for any values the
        /// template takes; values it does not take go the full way.
        #[test]
        fn status_template_matches_full_canonicalization(
            index in "[0-9]{1,6}|[A-Za-z0-9_-]{1,12}",
            purpose in "revocation|suspension|[a-z]{1,10}",
            base in "https://[a-z0-9.-]{1,20}(:[0-9]{2,5})?(/[a-zA-Z0-9._~-]{0,10}){0,3}",
            second in any::<bool>(),
            odd in prop::option::of(r#"[ <>"{}|^`\\\x{80}-\x{10FFFF}]"#),
        ) {
            let canon = Canonicalizer::new(Contexts::standard());
            let mut doc = super::tests::unsigned("did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2");
            let list = format!("{base}/status-lists/{purpose}-1");
            let mut entries = vec![json!({
                "id": format!("{list}#{index}"), "type": "BitstringStatusListEntry",
                "statusPurpose": purpose, "statusListIndex": index, "statusListCredential": list,
            })];
            if second {
                entries.push(json!({
                    "id": format!("{list}-b#{index}"), "type": "BitstringStatusListEntry",
                    "statusPurpose": "suspension", "statusListIndex": index,
                    "statusListCredential": format!("{list}-b"),
                }));
            }
            if let Some(odd) = &odd {
                entries[0]["statusListIndex"] = json!(format!("{index}{odd}"));
            }
            doc["credentialStatus"] = json!(entries);
            let full = block_on(canon.canonicalize_fully(&doc, &["proof"], Terms::Allow)).unwrap();
            let fast = block_on(canon.canonicalize_with_status_template(&doc, true, Terms::Allow)).unwrap();
            prop_assert_eq!(fast.is_some(), odd.is_none(), "the template applies to plain values only");
            if let Some(fast) = fast {
                prop_assert_eq!(fast, full.clone());
            }
            prop_assert_eq!(block_on(canon.canonicalize(&doc, true, Terms::Allow)).unwrap(), full);
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
