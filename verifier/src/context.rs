//! The JSON-LD contexts Cairn knows, all bundled in the binary.
//!
//! Nothing is ever fetched: a credential naming a context outside this set is
//! refused with the URL named. Issuers extend the set with their own context
//! documents (`--context URL=FILE`), which are then bundled the same way.
//!
//! Documents are parsed once per process and shared; each load hands out a
//! clone of the parsed tree, not the text.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use ssi::json_ld::syntax::Parse;
use ssi::json_ld::{self as jld, Iri, IriBuf, LoadError, Loader, RemoteDocument};

/// JSON-LD context of VC Data Model 2.0.
pub const CREDENTIALS_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// JSON-LD context of VC Data Model 1.1.
pub const CREDENTIALS_V1: &str = "https://www.w3.org/2018/credentials/v1";
/// The Data Integrity context, which a VC 1.1 credential signed with a
/// `DataIntegrityProof` must name (VC 2.0's context includes it).
pub const DATA_INTEGRITY_V2: &str = "https://w3id.org/security/data-integrity/v2";
/// The context of the `Ed25519Signature2020` proof suite, which VC 1.1
/// credentials of the installed base are signed with.
pub const ED25519_2020_V1: &str = "https://w3id.org/security/suites/ed25519-2020/v1";
/// VC 2.0's context for terms no other context defines: its `@vocab` maps
/// them all to one namespace.
pub const UNDEFINED_TERMS_V2: &str = "https://www.w3.org/ns/credentials/undefined-terms/v2";
/// The Open Badges 3.0.3 context, the one Cairn issues with.
pub const OB_V3_0_3: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
/// The Comprehensive Learner Record 2.0 context (`ClrCredential`).
pub const CLR_V2P0: &str = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json";
/// The Open Badges 3.0 extensions context: 1EdTech's status and refresh
/// types (`1EdTechRevocationList`, `1EdTechCredentialRefresh`).
pub const OB_EXTENSIONS: &str = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json";
/// Every published Open Badges 3.0 context URL; credentials from other issuers
/// may use any of them.
pub const OB_CONTEXTS: [&str; 4] = [
    "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
    OB_V3_0_3,
];

/// Why an issuer's extension context was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context document's text does not parse as JSON.
    #[error("context {url}: not valid JSON: {reason}")]
    Json {
        /// The URL the context was to be served under.
        url: String,
        /// The parser's message.
        reason: String,
    },
    /// The URL given for the context is not an absolute IRI.
    #[error("context URL `{0}` is not an absolute IRI")]
    Iri(String),
    /// The document (at this URL) is JSON but not an object with `@context`.
    #[error("context {0}: a JSON-LD context document must be an object with \"@context\"")]
    Shape(String),
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown JSON-LD context (Cairn never fetches contexts; bundle it with --context URL=FILE)"
)]
struct UnknownContext;

fn doc(url: &str, text: &str) -> (IriBuf, RemoteDocument) {
    let iri = IriBuf::new(url.to_owned()).expect("bundled context URL is an IRI");
    let (value, _) = jld::syntax::Value::parse_str(text).expect("bundled context is JSON");
    (
        iri.clone(),
        RemoteDocument::new(
            Some(iri),
            Some("application/ld+json".parse().expect("mime")),
            value,
        ),
    )
}

static STANDARD: LazyLock<HashMap<IriBuf, RemoteDocument>> = LazyLock::new(|| {
    use ssi::json_ld as s;
    let mut map: HashMap<IriBuf, RemoteDocument> = [
        &*s::CREDENTIALS_V2_CONTEXT_DOCUMENT,
        &*s::CREDENTIALS_V1_CONTEXT_DOCUMENT,
        &*s::CREDENTIALS_EXAMPLES_V2_CONTEXT_DOCUMENT,
        &*s::W3ID_DATA_INTEGRITY_V1_CONTEXT_DOCUMENT,
        &*s::W3ID_DATA_INTEGRITY_V2_CONTEXT_DOCUMENT,
        &*s::W3ID_MULTIKEY_V1_CONTEXT_DOCUMENT,
        &*s::DID_V1_CONTEXT_DOCUMENT,
        &*s::SECURITY_V2_CONTEXT_DOCUMENT,
    ]
    .into_iter()
    .map(|d| {
        (
            d.url().expect("static context has a URL").to_owned(),
            d.clone(),
        )
    })
    .collect();
    for (url, text) in [
        (
            ED25519_2020_V1,
            include_str!("../contexts/ed25519-signature-2020-v1.jsonld"),
        ),
        (
            UNDEFINED_TERMS_V2,
            include_str!("../contexts/credentials-undefined-terms-v2.jsonld"),
        ),
        (
            OB_CONTEXTS[0],
            include_str!("../contexts/ob-v3p0-context-3.0.json"),
        ),
        (
            OB_CONTEXTS[1],
            include_str!("../contexts/ob-v3p0-context-3.0.1.json"),
        ),
        (
            OB_CONTEXTS[2],
            include_str!("../contexts/ob-v3p0-context-3.0.2.json"),
        ),
        (
            OB_CONTEXTS[3],
            include_str!("../contexts/ob-v3p0-context-3.0.3.json"),
        ),
        (
            CLR_V2P0,
            include_str!("../contexts/clr-v2p0-context-2.0.1.json"),
        ),
        (
            OB_EXTENSIONS,
            include_str!("../contexts/ob-v3p0-extensions.json"),
        ),
    ] {
        let (iri, d) = doc(url, text);
        map.insert(iri, d);
    }
    map
});

/// A document loader over the bundled contexts plus any issuer extensions.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Contexts {
    extensions: Arc<HashMap<IriBuf, RemoteDocument>>,
}

impl Contexts {
    /// The bundled contexts only.
    pub fn standard() -> Self {
        Self::default()
    }

    /// Adds an issuer's extension context, given as the text of a JSON-LD
    /// context document and the URL credentials will name it by.
    pub fn with_extension(mut self, url: &str, text: &str) -> Result<Self, ContextError> {
        let iri = IriBuf::new(url.to_owned()).map_err(|_| ContextError::Iri(url.to_owned()))?;
        let (value, _) = jld::syntax::Value::parse_str(text).map_err(|e| ContextError::Json {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        if value
            .as_object()
            .and_then(|o| o.get("@context").next())
            .is_none()
        {
            return Err(ContextError::Shape(url.to_owned()));
        }
        let d = RemoteDocument::new(
            Some(iri.clone()),
            Some("application/ld+json".parse().expect("mime")),
            value,
        );
        Arc::make_mut(&mut self.extensions).insert(iri, d);
        Ok(self)
    }

    /// Whether `url` names a context this loader can serve.
    pub fn knows(&self, url: &str) -> bool {
        match Iri::new(url) {
            Ok(iri) => STANDARD.contains_key(iri) || self.extensions.contains_key(iri),
            Err(_) => false,
        }
    }
}

impl Loader for Contexts {
    async fn load(&self, url: &Iri) -> Result<RemoteDocument<IriBuf>, LoadError> {
        STANDARD
            .get(url)
            .or_else(|| self.extensions.get(url))
            .cloned()
            .ok_or_else(|| LoadError::new(url.to_owned(), UnknownContext))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_bundled_and_extensions_only() {
        let c = Contexts::standard();
        assert!(c.knows(CREDENTIALS_V2));
        assert!(c.knows(OB_V3_0_3));
        assert!(!c.knows("https://example.org/ctx"));
        let c = c
            .with_extension(
                "https://example.org/ctx",
                r#"{"@context":{"licenseNumber":"https://example.org/licenseNumber"}}"#,
            )
            .unwrap();
        assert!(c.knows("https://example.org/ctx"));
        assert!(matches!(
            Contexts::standard().with_extension("https://example.org/x", "[1,2]"),
            Err(ContextError::Shape(_))
        ));
        assert!(matches!(
            Contexts::standard().with_extension("not a url", "{}"),
            Err(ContextError::Iri(_))
        ));
    }
}
