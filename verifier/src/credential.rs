//! Credentials in the VC Data Model 2.0, Open Badges 3.0 among them: building
//! badges from an achievement and a recipient, and checking the rules of VC
//! 2.0 ([`check_data_model`]) and of OB 3.0 ([`check_open_badge`]).
//!
//! Cairn works on credentials as JSON values: issuers add their own fields
//! through extension contexts, and a typed model would drop what it does not
//! know. [`check_shape`] applies the OB 3.0 rules only to credentials whose
//! type says they are badges.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rand::RngCore;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::context::{CREDENTIALS_V1, CREDENTIALS_V2, OB_CONTEXTS, OB_V3_0_3};

/// A problem with one field of a credential or of an issuance request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the field, dotted (`credentialSubject.achievement.name`).
    pub field: String,
    /// What is wrong with it, for a person to read.
    pub reason: String,
}

impl FieldError {
    /// A problem with `field` (a dotted path), for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// Who earned the badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The earner's DID, which becomes `credentialSubject.id`.
    Did(String),
    /// An email address, published only as a salted SHA-256 hash
    /// (OB 3.0 `IdentityObject`).
    Email(String),
}

impl std::str::FromStr for Recipient {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("did:") {
            let valid = rest.split_once(':').is_some_and(|(method, id)| {
                !method.is_empty()
                    && method
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    && !id.is_empty()
                    && !id.contains(char::is_whitespace)
            });
            return if valid {
                Ok(Recipient::Did(s.to_owned()))
            } else {
                Err(FieldError::new("recipient", format!("`{s}` is not a DID")))
            };
        }
        match s.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !s.contains(char::is_whitespace) =>
            {
                Ok(Recipient::Email(s.to_owned()))
            }
            _ => Err(FieldError::new(
                "recipient",
                format!("`{s}` is neither a DID nor an email address"),
            )),
        }
    }
}

impl Recipient {
    /// The OB 3.0 `AchievementSubject` naming this recipient: the DID as
    /// `id`, or the email address as a salted, hashed `IdentityObject`.
    pub fn subject(&self) -> Map<String, Value> {
        let mut subject = Map::new();
        subject.insert("type".into(), json!(["AchievementSubject"]));
        match self {
            Recipient::Did(did) => {
                subject.insert("id".into(), json!(did));
            }
            Recipient::Email(email) => {
                let mut salt = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut salt);
                let salt = hex::encode(salt);
                subject.insert(
                    "identifier".into(),
                    json!([{
                        "type": "IdentityObject",
                        "identityHash": hash_identity(email, &salt),
                        "identityType": "emailAddress",
                        "hashed": true,
                        "salt": salt,
                    }]),
                );
            }
        }
        subject
    }
}

/// Hashes an email address the OB 3.0 way: `sha256$` and the hex SHA-256 of the
/// address (trimmed, lower-cased) followed by the salt.
pub fn hash_identity(email: &str, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(email.trim().to_lowercase().as_bytes());
    h.update(salt.as_bytes());
    format!("sha256${}", hex::encode(h.finalize()))
}

/// The credentials a CLR 2.0 `ClrCredential` embeds
/// (`credentialSubject.verifiableCredential`); `None` for any other
/// document.
pub fn clr_credentials(vc: &Value) -> Option<Vec<&Value>> {
    let clr = match vc.get("type")? {
        Value::Array(types) => types.iter().any(|t| t == "ClrCredential"),
        t => t == "ClrCredential",
    };
    if !clr {
        return None;
    }
    let subjects: Vec<&Value> = match vc.get("credentialSubject")? {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    Some(
        subjects
            .into_iter()
            .flat_map(|s| match s.get("verifiableCredential") {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(one) => vec![one],
                None => Vec::new(),
            })
            .collect(),
    )
}

/// What a credential calls itself, for a person: its achievement's name
/// (the first, when in several languages), else its own `name`.
pub fn display_name(vc: &Value) -> Option<String> {
    fn text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Array(a) => a.first().and_then(text),
            Value::Object(o) => o.get("@value").and_then(text),
            _ => None,
        }
    }
    vc.get("credentialSubject")
        .and_then(|s| s.get("achievement"))
        .and_then(|a| a.get("name"))
        .and_then(text)
        .or_else(|| vc.get("name").and_then(text))
}

/// Whether `email` is the recipient a credential subject names by email
/// address (an OB 3.0 `IdentityObject`, hashed or not); `None` when it
/// names none by email.
pub fn names_email(subject: &Value, email: &str) -> Option<bool> {
    let identities: Vec<&Value> = match subject.get("identifier")? {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    let mut any = false;
    for id in identities {
        if id.get("identityType").and_then(Value::as_str) != Some("emailAddress") {
            continue;
        }
        any = true;
        let Some(hash) = id.get("identityHash").and_then(Value::as_str) else {
            continue;
        };
        let matches = if id.get("hashed") == Some(&Value::Bool(true)) {
            let salt = id.get("salt").and_then(Value::as_str).unwrap_or("");
            hash.eq_ignore_ascii_case(&hash_identity(email, salt))
        } else {
            hash.trim().eq_ignore_ascii_case(email.trim())
        };
        if matches {
            return Some(true);
        }
    }
    any.then_some(false)
}

/// The issuer as it appears in credentials (an OB 3.0 `Profile`).
#[derive(Debug, Clone, Default)]
pub struct IssuerProfile {
    /// The issuer's DID.
    pub id: String,
    /// The issuer's display name (`name`): a string, or language values
    /// (`{"@value", "@language"}`) for several languages.
    pub name: Option<Value>,
    /// The issuer's web page (`url`).
    pub url: Option<String>,
    /// The URL of the issuer's logo, written as an OB 3.0 `Image`.
    pub image: Option<String>,
}

impl IssuerProfile {
    fn to_json(&self) -> Value {
        let mut p = Map::new();
        p.insert("id".into(), json!(self.id));
        p.insert("type".into(), json!(["Profile"]));
        if let Some(name) = &self.name {
            p.insert("name".into(), json!(name));
        }
        if let Some(url) = &self.url {
            p.insert("url".into(), json!(url));
        }
        if let Some(image) = &self.image {
            p.insert("image".into(), json!({"id": image, "type": "Image"}));
        }
        Value::Object(p)
    }

    /// Names this issuer in a credential that may name it already: a
    /// badge's issuer becomes this OB 3.0 Profile; any other credential's is
    /// the DID, with the name when there is one (VC 2.0 defines both, and
    /// `url` and `image` need the OB context). A credential naming another
    /// issuer is refused.
    pub fn name_in(&self, credential: &mut Map<String, Value>) -> Result<(), FieldError> {
        let did = &self.id;
        let v1 = first_context_of(credential.get("@context")) == Some(CREDENTIALS_V1);
        let named = if is_badge_type(credential.get("type")) {
            self.to_json()
        } else if v1 {
            // VC 1.1's context defines no `name`.
            json!(did)
        } else {
            match &self.name {
                Some(name) => json!({"id": did, "name": name}),
                None => json!(did),
            }
        };
        match credential.get("issuer") {
            None => {}
            Some(Value::String(s)) if s == did => {}
            Some(Value::String(s)) => {
                return Err(FieldError::new(
                    "issuer",
                    format!("{s} is not this issuer {did}"),
                ))
            }
            // The issuer's own object, as the caller wrote it.
            Some(Value::Object(o)) if o.get("id").and_then(Value::as_str) == Some(did) => {
                return Ok(())
            }
            Some(_) => {
                return Err(FieldError::new(
                    "issuer.id",
                    format!("must be this issuer {did}"),
                ))
            }
        }
        credential.insert("issuer".into(), named);
        Ok(())
    }
}

/// What an issuer asks for: one achievement awarded to one recipient.
#[derive(Debug, Clone)]
pub struct CredentialRequest {
    /// The OB 3.0 `Achievement` (the badge class).
    pub achievement: Value,
    /// Who earned it; becomes the `credentialSubject`.
    pub recipient: Recipient,
    /// The credential's `validFrom`; the time of building when absent.
    pub valid_from: Option<DateTime<Utc>>,
    /// The credential's `validUntil`, which must be after `validFrom`;
    /// absent, the credential does not expire.
    pub valid_until: Option<DateTime<Utc>>,
    /// OB 3.0 `Evidence` objects.
    pub evidence: Option<Value>,
    /// URLs of issuer extension contexts, appended to `@context`.
    pub extra_contexts: Vec<String>,
    /// The credential's id; a fresh `urn:uuid:` when absent.
    pub id: Option<String>,
}

/// Builds an unsigned `OpenBadgeCredential`.
pub fn build(issuer: &IssuerProfile, req: &CredentialRequest) -> Result<Value, FieldError> {
    let mut vc = build_unsigned(req)?;
    vc["issuer"] = issuer.to_json();
    Ok(vc)
}

/// Builds an unsigned `OpenBadgeCredential` with no `issuer`, for a node to
/// complete with its own (`cairn issue --node`).
pub fn build_unsigned(req: &CredentialRequest) -> Result<Value, FieldError> {
    let mut achievement = match &req.achievement {
        Value::Object(o) => o.clone(),
        _ => return Err(FieldError::new("achievement", "must be a JSON object")),
    };
    achievement
        .entry("type")
        .or_insert_with(|| json!(["Achievement"]));
    check_achievement(&Value::Object(achievement.clone()), "achievement")?;

    let mut subject = req.recipient.subject();
    let name = achievement
        .get("name")
        .cloned()
        .ok_or_else(|| FieldError::new("achievement.name", "missing"))?;
    subject.insert("achievement".into(), Value::Object(achievement));

    let valid_from = req.valid_from.unwrap_or_else(Utc::now);
    if let Some(until) = req.valid_until {
        if until <= valid_from {
            return Err(FieldError::new(
                "validUntil",
                format!(
                    "{} is not after validFrom {}",
                    fmt_time(until),
                    fmt_time(valid_from)
                ),
            ));
        }
    }

    let mut context = vec![json!(CREDENTIALS_V2), json!(OB_V3_0_3)];
    context.extend(req.extra_contexts.iter().map(|c| json!(c)));
    let mut vc = Map::new();
    vc.insert("@context".into(), Value::Array(context));
    vc.insert(
        "id".into(),
        json!(req
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().urn().to_string())),
    );
    vc.insert(
        "type".into(),
        json!(["VerifiableCredential", "OpenBadgeCredential"]),
    );
    vc.insert("name".into(), name);
    vc.insert("validFrom".into(), json!(fmt_time(valid_from)));
    if let Some(until) = req.valid_until {
        vc.insert("validUntil".into(), json!(fmt_time(until)));
    }
    vc.insert("credentialSubject".into(), Value::Object(subject));
    if let Some(evidence) = &req.evidence {
        let evidence = match evidence {
            Value::Array(_) => evidence.clone(),
            Value::Object(_) => json!([evidence]),
            _ => return Err(FieldError::new("evidence", "must be an object or an array")),
        };
        vc.insert("evidence".into(), evidence);
    }
    Ok(Value::Object(vc))
}

/// What a credential id keeps unescaped in a URL path segment: RFC 3986's
/// unreserved characters and `:` (so `urn:uuid:...` reads as it is).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// A credential id as a URL path segment (`/credentials/{id}`).
pub fn path_segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, PATH_SEGMENT).to_string()
}

/// Formats a time the way Cairn writes `validFrom`: UTC, whole seconds.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a date-time as given on a command line or in a request: RFC 3339, or
/// a bare date. A bare date is the whole day, so as a `validUntil` it means the
/// end of that day (UTC) and as a `validFrom` its start.
pub fn parse_time(s: &str, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD) or RFC 3339 date-time"))?;
    let t = if end_of_day {
        d.and_hms_opt(23, 59, 59)
    } else {
        d.and_hms_opt(0, 0, 0)
    };
    Ok(t.expect("valid time of day").and_utc())
}

fn has_type(v: &Value, ty: &str) -> bool {
    match v.get("type") {
        Some(Value::String(s)) => s == ty,
        Some(Value::Array(a)) => a.iter().any(|t| t.as_str() == Some(ty)),
        _ => false,
    }
}

/// A string, a language value object (`{"@value", "@language"}`), or an array
/// of them: what VC 2.0 allows for `name` and `description`.
fn is_text(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => o.get("@value").is_some_and(Value::is_string),
        Value::Array(a) => !a.is_empty() && a.iter().all(|x| !x.is_array() && is_text(x)),
        _ => false,
    }
}

fn is_uri(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| {
        s.split_once(':')
            .is_some_and(|(scheme, rest)| !scheme.is_empty() && !rest.is_empty())
            && !s.contains(char::is_whitespace)
    })
}

fn check_achievement(a: &Value, at: &str) -> Result<(), FieldError> {
    if !a.is_object() {
        return Err(FieldError::new(at, "must be an object"));
    }
    if !is_uri(a.get("id")) {
        return Err(FieldError::new(
            format!("{at}.id"),
            "missing or not a URI (a badge class needs a stable id)",
        ));
    }
    if !has_type(a, "Achievement") {
        return Err(FieldError::new(
            format!("{at}.type"),
            "must include \"Achievement\"",
        ));
    }
    for field in ["name", "description"] {
        if !a.get(field).is_some_and(is_text) {
            return Err(FieldError::new(
                format!("{at}.{field}"),
                "missing, or not a string or language value",
            ));
        }
    }
    match a.get("criteria") {
        Some(c @ Value::Object(_)) if is_uri(c.get("id")) || c.get("narrative").is_some() => {}
        _ => {
            return Err(FieldError::new(
                format!("{at}.criteria"),
                "missing (an object with \"id\" or \"narrative\")",
            ))
        }
    }
    Ok(())
}

/// The credential types whose Open Badges 3.0 rules apply (OB 3.0 and CLR
/// 2.0 credentials).
pub const BADGE_TYPES: [&str; 4] = [
    "OpenBadgeCredential",
    "AchievementCredential",
    "EndorsementCredential",
    "ClrCredential",
];

/// Whether the credential's `type` says it is an Open Badge (one of
/// [`BADGE_TYPES`]).
pub fn is_badge(vc: &Value) -> bool {
    is_badge_type(vc.get("type"))
}

/// Whether a `type` member names one of [`BADGE_TYPES`].
pub fn is_badge_type(ty: Option<&Value>) -> bool {
    match ty {
        Some(Value::String(s)) => BADGE_TYPES.contains(&s.as_str()),
        Some(Value::Array(a)) => a
            .iter()
            .any(|t| t.as_str().is_some_and(|t| BADGE_TYPES.contains(&t))),
        _ => false,
    }
}

/// Checks a credential for issuance: the VC 2.0 rules
/// ([`check_data_model`]) and, when its type says it is an Open Badge, the
/// Open Badges 3.0 rules ([`check_open_badge`]). Returns the first problem.
pub fn check_shape(vc: &Value) -> Result<(), FieldError> {
    check_data_model(vc)?;
    // Open Badges 3.0 is VC 2.0; other credentials may be VC 1.1, which
    // the installed base of verifiers and wallets still reads.
    if is_badge(vc) {
        if first_context(vc) != Some(CREDENTIALS_V2) {
            return Err(FieldError::new(
                "@context",
                format!("must start with {CREDENTIALS_V2}: Open Badges 3.0 credentials are VC 2.0"),
            ));
        }
        check_open_badge(vc)?;
    }
    Ok(())
}

/// Whether a credential claims the VC 1.1 data model (its first context).
pub fn is_v1(vc: &Value) -> bool {
    first_context(vc) == Some(CREDENTIALS_V1)
}

/// The URLs of a document's `@context` (embedded contexts left out).
fn context_urls(vc: &Value) -> Result<Vec<&str>, FieldError> {
    match vc.get("@context") {
        Some(Value::Array(a)) => Ok(a.iter().filter_map(Value::as_str).collect()),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        _ => Err(FieldError::new("@context", "missing")),
    }
}

/// The first `@context` entry, when it is a URL: which data model a
/// document claims.
pub fn first_context(doc: &Value) -> Option<&str> {
    first_context_of(doc.get("@context"))
}

/// The first URL of a `@context` member.
fn first_context_of(context: Option<&Value>) -> Option<&str> {
    match context? {
        Value::Array(a) => a.first()?.as_str(),
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The members VC 2.0 says hold objects that must each have a `type`.
const TYPED_MEMBERS: [&str; 6] = [
    "credentialStatus",
    "credentialSchema",
    "evidence",
    "refreshService",
    "termsOfUse",
    "renderMethod",
];

/// Checks the rules of the VC Data Model 2.0 that a JSON-LD processor does
/// not: the base context first, the `VerifiableCredential` type, URLs where
/// URLs are due, the issuer, the validity period and its order, a subject,
/// and a `type` on every object of the members that need one. Returns the
/// first problem found.
pub fn check_data_model(vc: &Value) -> Result<(), FieldError> {
    let Some(obj) = vc.as_object() else {
        return Err(FieldError::new("(document)", "must be a JSON object"));
    };
    let contexts = context_urls(vc)?;
    // VC 1.1 credentials are verified too: the period is issuanceDate
    // (required) and expirationDate.
    let v1 = contexts.first() == Some(&CREDENTIALS_V1);
    if !v1 && contexts.first() != Some(&CREDENTIALS_V2) {
        return Err(FieldError::new(
            "@context",
            format!(
                "must start with {CREDENTIALS_V2} (VC Data Model 2.0) or {CREDENTIALS_V1} (1.1)"
            ),
        ));
    }
    if v1 && obj.get("issuanceDate").is_none() {
        return Err(FieldError::new(
            "issuanceDate",
            "missing (VC Data Model 1.1)",
        ));
    }
    if !has_type(vc, "VerifiableCredential") {
        return Err(FieldError::new(
            "type",
            "must include \"VerifiableCredential\"",
        ));
    }
    if obj.contains_key("id") && !is_uri(obj.get("id")) {
        return Err(FieldError::new("id", "not a URL"));
    }
    match obj.get("issuer") {
        Some(Value::String(_)) if is_uri(obj.get("issuer")) => {}
        Some(Value::String(_)) => return Err(FieldError::new("issuer", "not a URL")),
        Some(issuer @ Value::Object(_)) => {
            if !is_uri(issuer.get("id")) {
                return Err(FieldError::new("issuer.id", "missing or not a URL"));
            }
        }
        Some(_) => {
            return Err(FieldError::new(
                "issuer",
                "must be a URL or an object with an id",
            ))
        }
        None => return Err(FieldError::new("issuer", "missing")),
    }
    for field in ["name", "description"] {
        if obj.get(field).is_some_and(|v| !is_text(v)) {
            return Err(FieldError::new(field, "not a string or language value"));
        }
    }
    let mut period = [None, None];
    let names = match v1 {
        true => ["issuanceDate", "expirationDate"],
        false => ["validFrom", "validUntil"],
    };
    for (i, field) in names.into_iter().enumerate() {
        match obj.get(field) {
            None => {}
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) => period[i] = Some(t),
                Err(_) => {
                    return Err(FieldError::new(
                        field,
                        "not a date-time with a time zone (RFC 3339)",
                    ))
                }
            },
            Some(_) => return Err(FieldError::new(field, "must be a date-time string")),
        }
    }
    if let [Some(from), Some(until)] = period {
        if until < from {
            return Err(FieldError::new(
                names[1],
                format!("{until} is before {} {from}", names[0]),
            ));
        }
    }
    match obj.get("credentialSubject") {
        // A subject with no claims says nothing.
        Some(Value::Object(o)) if o.is_empty() => {
            return Err(FieldError::new(
                "credentialSubject",
                "holds no claim: a subject needs at least one property",
            ))
        }
        Some(Value::Object(_)) => {}
        Some(Value::Array(a)) if !a.is_empty() => {
            if let Some(i) = a
                .iter()
                .position(|s| s.as_object().is_none_or(|o| o.is_empty()))
            {
                return Err(FieldError::new(
                    format!("credentialSubject[{i}]"),
                    "must be an object holding at least one claim",
                ));
            }
        }
        Some(_) => {
            return Err(FieldError::new(
                "credentialSubject",
                "must be an object or a non-empty array of objects",
            ))
        }
        None => return Err(FieldError::new("credentialSubject", "missing")),
    }
    check_related_resources(obj.get("relatedResource"))?;
    for member in TYPED_MEMBERS {
        let items: Vec<(String, &Value)> = match obj.get(member) {
            None => continue,
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{member}[{i}]"), v))
                .collect(),
            Some(v) => vec![(member.to_owned(), v)],
        };
        for (at, item) in items {
            if !item.is_object() {
                return Err(FieldError::new(at, "must be an object"));
            }
            match item.get("type") {
                Some(Value::String(t)) if !t.is_empty() => {}
                Some(Value::Array(a))
                    if !a.is_empty()
                        && a.iter().all(|t| t.as_str().is_some_and(|t| !t.is_empty())) => {}
                _ => {
                    return Err(FieldError::new(
                        format!("{at}.type"),
                        "missing: VC 2.0 requires a type here",
                    ))
                }
            }
            if item.get("id").is_some() && !is_uri(item.get("id")) {
                return Err(FieldError::new(format!("{at}.id"), "not a URL"));
            }
            if member == "credentialSchema" && item.get("id").is_none() {
                return Err(FieldError::new(
                    format!("{at}.id"),
                    "missing: a schema is named by its URL",
                ));
            }
            if member == "credentialStatus" && has_type(item, "BitstringStatusListEntry") {
                check_bitstring_entry(item, &at)?;
            }
        }
    }
    Ok(())
}

/// The W3C Bitstring Status List's rules for an entry: a purpose, an index
/// written as a decimal string, and the URL of the list credential.
fn check_bitstring_entry(entry: &Value, at: &str) -> Result<(), FieldError> {
    if entry
        .get("statusPurpose")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(FieldError::new(
            format!("{at}.statusPurpose"),
            "missing: a BitstringStatusListEntry says what its bit means",
        ));
    }
    let index = entry.get("statusListIndex").and_then(Value::as_str);
    if !index
        .is_some_and(|i| !i.is_empty() && i.len() <= 20 && i.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(FieldError::new(
            format!("{at}.statusListIndex"),
            "must be a non-negative integer written as a string",
        ));
    }
    if !is_uri(entry.get("statusListCredential")) {
        return Err(FieldError::new(
            format!("{at}.statusListCredential"),
            "missing or not a URL",
        ));
    }
    Ok(())
}

/// VC 2.0's `relatedResource`: objects, each with a URL `id` no other names,
/// and a `digestSRI` or `digestMultibase` to check the resource by.
fn check_related_resources(related: Option<&Value>) -> Result<(), FieldError> {
    let items: Vec<(String, &Value)> = match related {
        None => return Ok(()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("relatedResource[{i}]"), v))
            .collect(),
        Some(v) => vec![("relatedResource".to_owned(), v)],
    };
    let mut seen = std::collections::HashSet::new();
    for (at, item) in items {
        if !item.is_object() {
            return Err(FieldError::new(at, "must be an object"));
        }
        if !is_uri(item.get("id")) {
            return Err(FieldError::new(format!("{at}.id"), "missing or not a URL"));
        }
        if !seen.insert(item["id"].as_str().unwrap_or_default()) {
            return Err(FieldError::new(
                format!("{at}.id"),
                "names a resource another entry names",
            ));
        }
        if item.get("digestSRI").is_none() && item.get("digestMultibase").is_none() {
            return Err(FieldError::new(
                at,
                "needs a digestSRI or a digestMultibase",
            ));
        }
    }
    Ok(())
}

/// CLR 2.0's association types.
const ASSOCIATION_TYPES: [&str; 8] = [
    "exactMatchOf",
    "isChildOf",
    "isParentOf",
    "isPartOf",
    "isPeerOf",
    "isRelatedTo",
    "precedes",
    "replacedBy",
];

/// The rules of a CLR 2.0 `ClrCredential` beyond those it shares with
/// Open Badges: its context, a `ClrSubject` embedding credentials, and
/// well-formed associations. The embedded credentials are verified as
/// credentials of their own (`embedded-credentials`).
fn check_learner_record(vc: &Value, contexts: &[&str]) -> Result<(), FieldError> {
    if !contexts.contains(&crate::context::CLR_V2P0) {
        return Err(FieldError::new(
            "@context",
            format!("a ClrCredential names {}", crate::context::CLR_V2P0),
        ));
    }
    let subject = match vc.get("credentialSubject") {
        Some(s @ Value::Object(_)) => s,
        _ => return Err(FieldError::new("credentialSubject", "must be one object")),
    };
    if !has_type(subject, "ClrSubject") {
        return Err(FieldError::new(
            "credentialSubject.type",
            "must include \"ClrSubject\"",
        ));
    }
    match subject.get("verifiableCredential") {
        Some(Value::Array(a)) if !a.is_empty() => {}
        _ => {
            return Err(FieldError::new(
                "credentialSubject.verifiableCredential",
                "must be a non-empty array of credentials",
            ))
        }
    }
    if let Some(associations) = subject.get("association") {
        let Value::Array(associations) = associations else {
            return Err(FieldError::new(
                "credentialSubject.association",
                "must be an array",
            ));
        };
        for (i, a) in associations.iter().enumerate() {
            let at = |f: &str| format!("credentialSubject.association[{i}].{f}");
            if !a
                .get("associationType")
                .and_then(Value::as_str)
                .is_some_and(|t| ASSOCIATION_TYPES.contains(&t))
            {
                return Err(FieldError::new(
                    at("associationType"),
                    format!("must be one of {}", ASSOCIATION_TYPES.join(", ")),
                ));
            }
            for f in ["sourceId", "targetId"] {
                if !is_uri(a.get(f)) {
                    return Err(FieldError::new(at(f), "missing or not a URI"));
                }
            }
        }
    }
    Ok(())
}

/// Checks the fields Open Badges 3.0 requires of an `OpenBadgeCredential`
/// beyond VC 2.0 ([`check_data_model`] first). Returns the first problem.
pub fn check_open_badge(vc: &Value) -> Result<(), FieldError> {
    let Some(obj) = vc.as_object() else {
        return Err(FieldError::new("(document)", "must be a JSON object"));
    };
    let contexts = context_urls(vc)?;
    if !contexts.iter().any(|c| OB_CONTEXTS.contains(c)) {
        return Err(FieldError::new(
            "@context",
            "no Open Badges 3.0 context".to_string(),
        ));
    }
    let endorsement = has_type(vc, "EndorsementCredential");
    let record = has_type(vc, "ClrCredential");
    if !(endorsement
        || record
        || has_type(vc, "OpenBadgeCredential")
        || has_type(vc, "AchievementCredential"))
    {
        return Err(FieldError::new(
            "type",
            "must include \"OpenBadgeCredential\"",
        ));
    }
    if !is_uri(obj.get("id")) {
        return Err(FieldError::new("id", "missing or not a URI"));
    }
    if !obj.get("name").is_some_and(is_text) {
        return Err(FieldError::new("name", "missing"));
    }
    match obj.get("issuer") {
        Some(issuer @ Value::Object(_)) => {
            if !is_uri(issuer.get("id")) {
                return Err(FieldError::new("issuer.id", "missing or not a URI"));
            }
            if !has_type(issuer, "Profile") {
                return Err(FieldError::new("issuer.type", "must include \"Profile\""));
            }
        }
        _ => {
            return Err(FieldError::new(
                "issuer",
                "must be an object (an OB 3.0 Profile)",
            ))
        }
    }
    if obj.get("validFrom").is_none() {
        return Err(FieldError::new("validFrom", "missing"));
    }
    if record {
        return check_learner_record(vc, &contexts);
    }
    let subject = match obj.get("credentialSubject") {
        Some(s @ Value::Object(_)) => s,
        Some(Value::Array(_)) => {
            return Err(FieldError::new(
                "credentialSubject",
                "must be a single AchievementSubject",
            ))
        }
        _ => return Err(FieldError::new("credentialSubject", "missing")),
    };
    // An endorsement's subject is what it endorses: an EndorsementSubject
    // naming it by id.
    if endorsement {
        if !has_type(subject, "EndorsementSubject") {
            return Err(FieldError::new(
                "credentialSubject.type",
                "must include \"EndorsementSubject\"",
            ));
        }
        if !is_uri(subject.get("id")) {
            return Err(FieldError::new(
                "credentialSubject.id",
                "missing or not a URI: the endorsed achievement or profile",
            ));
        }
        return Ok(());
    }
    if !has_type(subject, "AchievementSubject") {
        return Err(FieldError::new(
            "credentialSubject.type",
            "must include \"AchievementSubject\"",
        ));
    }
    if subject.get("id").is_none() && subject.get("identifier").is_none() {
        return Err(FieldError::new(
            "credentialSubject",
            "needs an \"id\" or an \"identifier\"",
        ));
    }
    match subject.get("achievement") {
        Some(a) => check_achievement(a, "credentialSubject.achievement"),
        None => Err(FieldError::new("credentialSubject.achievement", "missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endorsement_names_what_it_endorses() {
        let mut e = json!({
            "@context": [crate::context::CREDENTIALS_V2, crate::context::OB_V3_0_3],
            "id": "urn:uuid:0e",
            "type": ["VerifiableCredential", "EndorsementCredential"],
            "name": "Endorsement",
            "issuer": {"id": "did:key:z6Mk", "type": ["Profile"]},
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": "https://provider.example/courses/cpr", "type": ["EndorsementSubject"],
                                  "endorsementComment": "Meets our standard."}
        });
        assert_eq!(check_open_badge(&e), Ok(()));
        e["credentialSubject"]["type"] = json!(["AchievementSubject"]);
        assert_eq!(
            check_open_badge(&e).unwrap_err().field,
            "credentialSubject.type"
        );
        e["credentialSubject"] = json!({"type": ["EndorsementSubject"]});
        assert_eq!(
            check_open_badge(&e).unwrap_err().field,
            "credentialSubject.id"
        );
    }

    #[test]
    fn ids_become_path_segments() {
        assert_eq!(path_segment("urn:uuid:1f0e-ab"), "urn:uuid:1f0e-ab");
        assert_eq!(
            path_segment("https://board.example/c/7 b?x=1"),
            "https:%2F%2Fboard.example%2Fc%2F7%20b%3Fx%3D1"
        );
    }

    fn achievement() -> Value {
        json!({
            "id": "https://board.example/badges/rn",
            "type": ["Achievement"],
            "name": [{"@value": "Registered Nurse", "@language": "en"},
                     {"@value": "Infirmière autorisée", "@language": "fr"}],
            "description": "Licensed to practise nursing.",
            "criteria": {"narrative": "Passed the licensing exam."}
        })
    }

    fn request(recipient: &str) -> CredentialRequest {
        CredentialRequest {
            achievement: achievement(),
            recipient: recipient.parse().unwrap(),
            valid_from: None,
            valid_until: None,
            evidence: None,
            extra_contexts: vec![],
            id: None,
        }
    }

    #[test]
    fn bitstring_entries_keep_their_rules() {
        let entry = json!({
            "id": "https://board.example/status/3#94567",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "94567",
            "statusListCredential": "https://board.example/status/3"
        });
        let vc = |e: Value| {
            json!({
                "@context": [CREDENTIALS_V2],
                "type": ["VerifiableCredential"],
                "issuer": "did:example:issuer",
                "credentialSubject": {"id": "did:example:x"},
                "credentialStatus": e
            })
        };
        check_data_model(&vc(entry.clone())).unwrap();
        for (member, value, field) in [
            (
                "statusListIndex",
                json!(true),
                "credentialStatus.statusListIndex",
            ),
            (
                "statusListIndex",
                json!(-4),
                "credentialStatus.statusListIndex",
            ),
            (
                "statusPurpose",
                Value::Null,
                "credentialStatus.statusPurpose",
            ),
            (
                "statusListCredential",
                json!("not a url"),
                "credentialStatus.statusListCredential",
            ),
        ] {
            let mut bad = entry.clone();
            match value {
                Value::Null => {
                    bad.as_object_mut().unwrap().remove(member);
                }
                v => bad[member] = v,
            }
            assert_eq!(check_data_model(&vc(bad)).unwrap_err().field, field);
        }
        let e = check_data_model(&vc(json!([entry, {"type": "BitstringStatusListEntry"}])))
            .unwrap_err();
        assert_eq!(e.field, "credentialStatus[1].statusPurpose");
    }

    fn issuer() -> IssuerProfile {
        IssuerProfile {
            id: "did:key:z6MkexampleIssuer".into(),
            name: Some("Board".into()),
            ..Default::default()
        }
    }

    #[test]
    fn built_credential_passes_shape_check() {
        let vc = build(&issuer(), &request("did:example:123")).unwrap();
        check_shape(&vc).unwrap();
        assert_eq!(vc["credentialSubject"]["id"], "did:example:123");
        assert!(vc["id"].as_str().unwrap().starts_with("urn:uuid:"));
    }

    #[test]
    fn an_email_is_matched_to_the_recipient_it_names() {
        let subject = Value::Object(Recipient::Email("Nurse@Example.org".into()).subject());
        assert_eq!(names_email(&subject, "nurse@example.org"), Some(true));
        assert_eq!(names_email(&subject, "other@example.org"), Some(false));
        let did = Value::Object(Recipient::Did("did:example:x".into()).subject());
        assert_eq!(names_email(&did, "nurse@example.org"), None);
        let plain = json!({"identifier": {"identityType": "emailAddress", "hashed": false, "identityHash": "a@b.org"}});
        assert_eq!(names_email(&plain, "A@B.org"), Some(true));
    }

    #[test]
    fn email_recipient_is_hashed_with_salt() {
        let vc = build(&issuer(), &request("Nurse@Example.org")).unwrap();
        let ident = &vc["credentialSubject"]["identifier"][0];
        let salt = ident["salt"].as_str().unwrap();
        assert_eq!(
            ident["identityHash"],
            hash_identity("nurse@example.org", salt)
        );
        assert!(!vc.to_string().to_lowercase().contains("nurse@example.org"));
    }

    #[test]
    fn recipient_parsing() {
        assert!("did:web:x".parse::<Recipient>().is_ok());
        for bad in [
            "did:",
            "did:Web:x",
            "did:web:",
            "bob",
            "a@b",
            "@b.org",
            "a b@c.org",
        ] {
            assert!(bad.parse::<Recipient>().is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_fields_are_named() {
        let mut vc = build(&issuer(), &request("did:example:1")).unwrap();
        vc["credentialSubject"]["achievement"]
            .as_object_mut()
            .unwrap()
            .remove("criteria");
        assert_eq!(
            check_shape(&vc).unwrap_err().field,
            "credentialSubject.achievement.criteria"
        );
        let mut req = request("did:example:1");
        req.achievement.as_object_mut().unwrap().remove("id");
        assert_eq!(build(&issuer(), &req).unwrap_err().field, "achievement.id");
        let mut vc = build(&issuer(), &request("did:example:1")).unwrap();
        vc["issuer"] = json!("did:key:z6Mk");
        assert_eq!(check_shape(&vc).unwrap_err().field, "issuer");
    }

    fn plain() -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
            "type": ["VerifiableCredential", "LicenseCredential"],
            "issuer": "did:key:z6MkexampleIssuer",
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:nurse", "name": "A. Nurse"}
        })
    }

    #[test]
    fn any_vc_2_credential_passes_and_its_rules_are_named() {
        check_shape(&plain()).unwrap();
        assert!(!is_badge(&plain()));
        let broken = |f: &dyn Fn(&mut Value)| {
            let mut vc = plain();
            f(&mut vc);
            check_shape(&vc).unwrap_err().field
        };
        assert_eq!(broken(&|v| v["issuer"] = json!("no url")), "issuer");
        assert_eq!(
            broken(&|v| v["issuer"] = json!({"name": "Board"})),
            "issuer.id"
        );
        assert_eq!(broken(&|v| v["id"] = json!("not a url")), "id");
        assert_eq!(
            broken(&|v| v["type"] = json!(["LicenseCredential"])),
            "type"
        );
        assert_eq!(
            broken(&|v| v["validUntil"] = json!("2025-12-31T00:00:00Z")),
            "validUntil"
        );
        assert_eq!(
            broken(&|v| v["validFrom"] = json!("2026-01-01")),
            "validFrom"
        );
        assert_eq!(
            broken(&|v| v["credentialSubject"] = json!([])),
            "credentialSubject"
        );
        assert_eq!(
            broken(&|v| v["credentialSubject"] = json!([{"id": "did:example:a"}, 3])),
            "credentialSubject[1]"
        );
        assert_eq!(broken(&|v| v["name"] = json!(7)), "name");
        assert_eq!(
            broken(&|v| v["credentialSubject"] = json!({})),
            "credentialSubject"
        );
        let resource = json!({"id": "https://a.example/r", "digestSRI": "sha384-x"});
        check_shape(&{
            let mut v = plain();
            v["relatedResource"] = json!([resource]);
            v
        })
        .unwrap();
        assert_eq!(
            broken(&|v| v["relatedResource"] = json!(["https://a.example/r"])),
            "relatedResource[0]"
        );
        assert_eq!(
            broken(&|v| v["relatedResource"] = json!({"digestSRI": "x"})),
            "relatedResource.id"
        );
        assert_eq!(
            broken(&|v| v["relatedResource"] = json!([resource, resource])),
            "relatedResource[1].id"
        );
        assert_eq!(
            broken(&|v| v["relatedResource"] = json!({"id": "https://a.example/r"})),
            "relatedResource"
        );
        for member in TYPED_MEMBERS {
            assert_eq!(
                broken(&|v| v[member] = json!({"id": "https://a.example/x"})),
                format!("{member}.type")
            );
            assert_eq!(
                broken(
                    &|v| v[member] = json!([{"type": "X", "id": "https://a.example/x"}, {"id": "https://a.example/y"}])
                ),
                format!("{member}[1].type")
            );
        }
        assert_eq!(
            broken(&|v| v["credentialSchema"] = json!({"type": "JsonSchema"})),
            "credentialSchema.id"
        );
        // The badge rules apply when the type says badge.
        assert_eq!(
            broken(&|v| v["type"] = json!(["VerifiableCredential", "OpenBadgeCredential"])),
            "@context"
        );
    }

    #[test]
    fn valid_until_must_follow_valid_from() {
        let mut req = request("did:example:1");
        req.valid_from = Some(parse_time("2027-01-01", false).unwrap());
        req.valid_until = Some(parse_time("2026-12-31", true).unwrap());
        assert_eq!(build(&issuer(), &req).unwrap_err().field, "validUntil");
        assert_eq!(
            fmt_time(parse_time("2027-12-31", true).unwrap()),
            "2027-12-31T23:59:59Z"
        );
        assert!(parse_time("31/12/2027", true).is_err());
    }
}
