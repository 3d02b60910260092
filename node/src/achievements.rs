//! Badge classes: Open Badges 3.0 `Achievement`s the node keeps, in
//! versions, with their images, and the credentials issued from them.
//!
//! A class has a handle (a UUID) and numbered versions. Version `n` has the
//! id `{base}/achievements/{handle}-v{n}`, which serves exactly the
//! achievement that credentials issued under it embed, so a credential keeps
//! the version it was issued under whatever happens to the class later.
//! Retiring a class stops issuance from it; what was issued is untouched.
//!
//! A class's request body is the `Achievement` with two members of Cairn's
//! own, never embedded in credentials: `validFor` (an ISO 8601 period of
//! years, months and days, such as `P2Y` or `P18M`: the credentials' validity
//! from their `validFrom`), `requirements` (a certification's continuing
//! education, see `certification`) and, in answers, `retired`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use cairn_verifier::context::{CREDENTIALS_V2, OB_CONTEXTS, OB_V3_0_3};
use cairn_verifier::credential::{fmt_time, parse_time, FieldError};
use cairn_verifier::image::{self, ImageKind};

/// Achievement types Open Badges 3.0 names; others must be `ext:` ones.
const ACHIEVEMENT_TYPES: [&str; 31] = [
    "Achievement",
    "ApprenticeshipCertificate",
    "Assessment",
    "Assignment",
    "AssociateDegree",
    "Award",
    "Badge",
    "BachelorDegree",
    "Certificate",
    "CertificateOfCompletion",
    "Certification",
    "CommunityService",
    "Competency",
    "Course",
    "CoCurricular",
    "Degree",
    "Diploma",
    "DoctoralDegree",
    "Fieldwork",
    "GeneralEducationDevelopment",
    "JourneymanCertificate",
    "LearningProgram",
    "License",
    "Membership",
    "ProfessionalDoctorate",
    "QualityAssuranceCredential",
    "MasterCertificate",
    "MasterDegree",
    "MicroCredential",
    "ResearchDoctorate",
    "SecondarySchoolDiploma",
];

/// A badge class's record: which version is current, and whether it is
/// retired.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassRecord {
    pub handle: String,
    pub version: u32,
    pub created: String,
    pub updated: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<String>,
}

/// An image the node holds: the hex SHA-256 of its bytes and its format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldImage {
    pub sha256: String,
    pub kind: ImageKind,
}

/// One version of a class, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassVersion {
    /// The achievement as credentials embed it (its `id` is this version's).
    pub achievement: Value,
    /// `@context` entries beyond VC 2.0 and Open Badges 3.0, which
    /// credentials issued from the class carry too.
    #[serde(default)]
    pub contexts: Vec<Value>,
    /// The validity of credentials issued from it, from their `validFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<HeldImage>,
    /// What earns a certification of this class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<crate::certification::Requirements>,
}

impl ClassVersion {
    fn context(&self) -> Value {
        let mut c = vec![json!(CREDENTIALS_V2), json!(OB_V3_0_3)];
        c.extend(self.contexts.iter().cloned());
        Value::Array(c)
    }

    /// The version's own document: the achievement with its contexts, what
    /// its id serves.
    pub fn document(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("@context".into(), self.context());
        if let Value::Object(a) = &self.achievement {
            doc.extend(a.clone());
        }
        Value::Object(doc)
    }

    /// The class as its management endpoints show it: the document with
    /// `validFor` and `retired`.
    pub fn view(&self, record: &ClassRecord) -> Value {
        let mut doc = self.document();
        if let Some(p) = &self.valid_for {
            doc["validFor"] = json!(p);
        }
        if let Some(r) = &self.requirements {
            doc["requirements"] = serde_json::to_value(r).expect("requirements serialize");
        }
        if let Some(r) = &record.retired {
            doc["retired"] = json!(r);
        }
        doc
    }

    /// The `resultDescription` ids a credential's results may name.
    fn result_descriptions(&self) -> Vec<&str> {
        match self.achievement.get("resultDescription") {
            Some(Value::Array(a)) => a.iter().filter_map(|r| r["id"].as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// A reference to a class, as a path segment, an `options.achievement`
/// value, or a version's id: its handle, and the version when named.
pub fn parse_reference(reference: &str, base_url: &str) -> Option<(String, Option<u32>)> {
    let base = format!("{}/achievements/", base_url.trim_end_matches('/'));
    let rest = reference
        .strip_prefix(&base)
        .or_else(|| reference.strip_prefix("/achievements/"))
        .unwrap_or(reference);
    // A UUID's hex never holds "-v": what follows it is a version number.
    let (handle, version) = match rest.rsplit_once("-v") {
        Some((h, v)) => {
            let canonical =
                !v.is_empty() && !v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit());
            (h, Some(v.parse::<u32>().ok().filter(|_| canonical)?))
        }
        None => (rest, None),
    };
    uuid::Uuid::parse_str(handle)
        .ok()
        .filter(|u| u.hyphenated().to_string() == handle)?;
    Some((handle.to_owned(), version))
}

/// The URL of a class version (and of its image), under `base_url`.
pub fn version_url(base_url: &str, handle: &str, version: u32) -> String {
    format!(
        "{}/achievements/{handle}-v{version}",
        base_url.trim_end_matches('/')
    )
}

/// A period `P[nY][nM][nD]`, checked; returns it as given.
fn parse_period(p: &str) -> Option<(u32, u32, u32)> {
    let rest = p.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (mut years, mut months, mut days) = (0, 0, 0);
    let mut number = String::new();
    let mut last = 0;
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u32 = number.parse().ok().filter(|&n| n <= 1200)?;
        number.clear();
        let order = match c {
            'Y' => 1,
            'M' => 2,
            'D' => 3,
            _ => return None,
        };
        if order <= last {
            return None;
        }
        last = order;
        match c {
            'Y' => years = n,
            'M' => months = n,
            _ => days = n,
        }
    }
    (number.is_empty() && years + months + days > 0).then_some((years, months, days))
}

/// `from` plus a period.
pub fn add_period(
    from: chrono::DateTime<chrono::Utc>,
    period: &str,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let (y, m, d) = parse_period(period)?;
    from.checked_add_months(chrono::Months::new(y * 12 + m))?
        .checked_add_days(chrono::Days::new(d.into()))
}

/// `to` minus a period.
pub fn sub_period(
    to: chrono::DateTime<chrono::Utc>,
    period: &str,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let (y, m, d) = parse_period(period)?;
    to.checked_sub_months(chrono::Months::new(y * 12 + m))?
        .checked_sub_days(chrono::Days::new(d.into()))
}

/// An image given in a request: a `data:` URL the node is to hold, or the
/// URL of one held elsewhere.
pub enum ImageInput {
    Held(HeldImage, Vec<u8>),
    Elsewhere,
}

/// Reads an OB 3.0 `Image` member (a URL string or an object with `id`)
/// at `field`; a `data:` URL is decoded and checked, and the member is
/// rewritten to `url`, where the node serves it.
pub fn take_image(value: &mut Value, field: &str, url: &str) -> Result<ImageInput, FieldError> {
    let id = match value {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("id") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(FieldError::new(
                    format!("{field}.id"),
                    "missing or not a URL",
                ))
            }
        },
        _ => return Err(FieldError::new(field, "must be an Image object or a URL")),
    };
    let at = if value.is_object() {
        format!("{field}.id")
    } else {
        field.to_owned()
    };
    if !id.starts_with("data:") {
        if !id.starts_with("https://") && !id.starts_with("http://") {
            return Err(FieldError::new(at, "must be a data: URL or an http(s) URL"));
        }
        if let Value::String(s) = value {
            *value = json!({"id": s, "type": "Image"});
        }
        return Ok(ImageInput::Elsewhere);
    }
    let (bytes, kind) =
        image::from_data_url(&id).map_err(|e| FieldError::new(&at, e.to_string()))?;
    image::check(&bytes).map_err(|e| FieldError::new(&at, e.to_string()))?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let mut object = match value.take() {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    object.insert("id".into(), json!(url));
    object.insert("type".into(), json!("Image"));
    *value = Value::Object(object);
    Ok(ImageInput::Held(HeldImage { sha256, kind }, bytes))
}

/// What a class's body may hold beside the achievement.
pub struct ClassInput {
    pub version: ClassVersion,
    pub image: Option<(HeldImage, Vec<u8>)>,
}

/// Reads a class's request body into version `version` of class `handle`.
/// `current` is the class's current version on an update: a body that
/// names an `id` or a `version` must name that one.
pub fn read_class(
    mut body: Map<String, Value>,
    base_url: &str,
    handle: &str,
    version: u32,
    current: Option<&ClassVersion>,
    knows_context: impl Fn(&str) -> bool,
) -> Result<ClassInput, ClassError> {
    // Cairn's members.
    let valid_for =
        match body.remove("validFor") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if parse_period(&p).is_some() => Some(p),
            Some(_) => return Err(FieldError::new(
                "validFor",
                "must be an ISO 8601 period of years, months and days, such as P2Y, P18M or P1Y6M",
            )
            .into()),
        };
    body.remove("retired");
    let requirements = body
        .remove("requirements")
        .filter(|r| !r.is_null())
        .map(|r| crate::certification::Requirements::read(r, &body))
        .transpose()?;
    let contexts = match body.remove("@context") {
        None => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(c @ (Value::String(_) | Value::Object(_))) => vec![c],
        Some(_) => return Err(FieldError::new("@context", "must be an array").into()),
    };
    let mut extra = Vec::new();
    for (i, c) in contexts.into_iter().enumerate() {
        match &c {
            Value::String(url) if url == CREDENTIALS_V2 || OB_CONTEXTS.contains(&url.as_str()) => {}
            Value::String(url) if knows_context(url) => extra.push(c),
            Value::String(url) => {
                return Err(FieldError::new(
                    format!("@context[{i}]"),
                    format!("unknown context {url} (the node never fetches contexts)"),
                )
                .into())
            }
            Value::Object(_) => extra.push(c),
            _ => {
                return Err(
                    FieldError::new(format!("@context[{i}]"), "must be a URL or an object").into(),
                )
            }
        }
    }

    // The version first: an edit of an earlier version is a conflict
    // whatever else it says.
    match (body.remove("version"), current) {
        (None, _) => {}
        (Some(v), Some(cur)) if v == cur.achievement["version"] => {}
        (Some(v), Some(cur)) => {
            return Err(ClassError::Conflict(format!(
                "the class changed: it is at version {} now, the request edits version {v}; read it again",
                cur.achievement["version"]
            )))
        }
        (Some(_), None) => {
            return Err(FieldError::new("version", "is assigned by the node; leave it out").into())
        }
    }
    let class_url = format!("{}/achievements/{handle}", base_url.trim_end_matches('/'));
    match (body.remove("id"), current) {
        (None, _) => {}
        (Some(Value::String(id)), Some(_))
            if parse_reference(&id, base_url).is_some_and(|(h, _)| h == handle) => {}
        (Some(_), None) => {
            return Err(FieldError::new("id", "is assigned by the node; leave it out").into())
        }
        (Some(_), Some(_)) => {
            return Err(
                FieldError::new("id", format!("is not this class's id ({class_url})")).into(),
            )
        }
    }
    let id = version_url(base_url, handle, version);
    match body.get("type") {
        None => {
            body.insert("type".into(), json!(["Achievement"]));
        }
        Some(t) if is_achievement_type(t) => {}
        Some(_) => return Err(FieldError::new("type", "must include \"Achievement\"").into()),
    }
    if let Some(t) = body.get("achievementType") {
        let ok = t.as_str().is_some_and(|t| {
            ACHIEVEMENT_TYPES.contains(&t) || t.strip_prefix("ext:").is_some_and(|r| !r.is_empty())
        });
        if !ok {
            return Err(FieldError::new(
                "achievementType",
                "must be an Open Badges 3.0 achievement type (License, Certification, Course, ...) or an ext: one",
            )
            .into());
        }
    }
    if let Some(c) = body.get("creditsAvailable") {
        if !c.as_f64().is_some_and(|c| c >= 0.0) {
            return Err(FieldError::new("creditsAvailable", "must be a number, 0 or more").into());
        }
    }
    if let Some(tags) = body.get("tag") {
        if !tags
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string))
        {
            return Err(FieldError::new("tag", "must be an array of strings").into());
        }
    }
    if let Some(Value::Array(results)) = body.get_mut("resultDescription") {
        for (i, r) in results.iter_mut().enumerate() {
            let Value::Object(r) = r else {
                return Err(FieldError::new(
                    format!("resultDescription[{i}]"),
                    "must be an object",
                )
                .into());
            };
            r.entry("id")
                .or_insert_with(|| json!(format!("{id}#result-{}", i + 1)));
            r.entry("type")
                .or_insert_with(|| json!(["ResultDescription"]));
        }
    }
    let image = match body.get_mut("image") {
        None => None,
        Some(v) => match take_image(v, "image", &format!("{id}/image"))? {
            ImageInput::Held(held, bytes) => Some((held, bytes)),
            ImageInput::Elsewhere => None,
        },
    };
    // An update that keeps the image it was given (the URL of the previous
    // version's) keeps holding it.
    let held = match (&image, current) {
        (Some((h, _)), _) => Some(h.clone()),
        (None, Some(cur)) if cur.image.is_some() => {
            let previous = cur.achievement["image"]["id"].as_str();
            let kept = body.get_mut("image").filter(|image| {
                previous.is_some() && image.get("id").and_then(Value::as_str) == previous
            });
            match kept {
                Some(image) => {
                    image["id"] = json!(format!("{id}/image"));
                    cur.image.clone()
                }
                None => None,
            }
        }
        _ => None,
    };
    body.insert("id".into(), json!(id));
    body.insert("version".into(), json!(version.to_string()));
    // `id` first: people read these.
    let mut achievement = Map::new();
    achievement.insert("id".into(), json!(id));
    achievement.extend(body);
    Ok(ClassInput {
        version: ClassVersion {
            achievement: Value::Object(achievement),
            contexts: extra,
            valid_for,
            image: held,
            requirements,
        },
        image,
    })
}

/// Where `key` is first used as a member in `v`, as a field path
/// (`criteria.narative`, `alignment[0].targetNmae`): an undefined term's
/// error names the term, a problem names the field.
pub fn key_path(v: &Value, key: &str) -> Option<String> {
    match v {
        Value::Object(o) => {
            if o.contains_key(key) {
                return Some(key.to_owned());
            }
            o.iter()
                .find_map(|(k, v)| key_path(v, key).map(|p| format!("{k}.{p}")))
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| key_path(v, key).map(|p| format!("[{i}].{p}"))),
        _ => None,
    }
    .map(|p| p.replace(".[", "["))
}

fn is_achievement_type(t: &Value) -> bool {
    match t {
        Value::String(s) => s == "Achievement",
        Value::Array(a) => a.iter().any(|t| t == "Achievement"),
        _ => false,
    }
}

/// Why a class request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClassError {
    #[error("{0}")]
    Field(#[from] FieldError),
    #[error("no badge class {0}")]
    Unknown(String),
    #[error("badge class {0} is retired: no credentials are issued from it")]
    Retired(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Busy(#[from] crate::pool::PoolError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Builds the unsigned credential for a class: `credential` holds the
/// recipient (`credentialSubject.id` or `.identifier`) and the fields of
/// this one credential (`validFrom`, `validUntil`, results, evidence, the
/// earner's `credentialSubject.name`); the class gives the rest.
pub fn credential_from(class: &ClassVersion, credential: Value) -> Result<Value, FieldError> {
    let Value::Object(mut given) = credential else {
        return Err(FieldError::new("", "must be a JSON object"));
    };
    let mut context = vec![json!(CREDENTIALS_V2), json!(OB_V3_0_3)];
    context.extend(class.contexts.iter().cloned());
    match given.remove("@context") {
        None => {}
        Some(Value::Array(a)) => {
            for c in a {
                let known = c
                    .as_str()
                    .is_some_and(|u| u == CREDENTIALS_V2 || OB_CONTEXTS.contains(&u));
                if !known && !context.contains(&c) {
                    context.push(c);
                }
            }
        }
        Some(_) => return Err(FieldError::new("@context", "must be an array")),
    }
    match given.get("type") {
        None => {
            given.insert(
                "type".into(),
                json!(["VerifiableCredential", "OpenBadgeCredential"]),
            );
        }
        Some(t) if cairn_verifier::credential::is_badge_type(Some(t)) => {}
        Some(_) => {
            return Err(FieldError::new(
                "type",
                "a badge class issues OpenBadgeCredentials: leave type out",
            ))
        }
    }
    let Some(Value::Object(mut subject)) = given.remove("credentialSubject") else {
        return Err(FieldError::new(
            "credentialSubject",
            "missing: the recipient, as credentialSubject.id (a DID) or credentialSubject.identifier",
        ));
    };
    if subject.contains_key("achievement") {
        return Err(FieldError::new(
            "credentialSubject.achievement",
            "comes from options.achievement; leave it out",
        ));
    }
    subject
        .entry("type")
        .or_insert_with(|| json!(["AchievementSubject"]));
    if let Some(Value::Array(results)) = subject.get_mut("result") {
        let known = class.result_descriptions();
        for (i, r) in results.iter_mut().enumerate() {
            let Value::Object(r) = r else {
                return Err(FieldError::new(
                    format!("credentialSubject.result[{i}]"),
                    "must be an object",
                ));
            };
            r.entry("type").or_insert_with(|| json!(["Result"]));
            if let Some(d) = r.get("resultDescription") {
                if !d.as_str().is_some_and(|d| known.contains(&d)) {
                    return Err(FieldError::new(
                        format!("credentialSubject.result[{i}].resultDescription"),
                        format!(
                            "is not one of the class's resultDescription ids ({})",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    subject.insert("achievement".into(), class.achievement.clone());
    let valid_from = match given.get("validFrom") {
        None => {
            let now = fmt_time(chrono::Utc::now());
            given.insert("validFrom".into(), json!(now));
            chrono::Utc::now()
        }
        Some(Value::String(s)) => {
            parse_time(s, false).map_err(|e| FieldError::new("validFrom", e))?
        }
        Some(_) => return Err(FieldError::new("validFrom", "must be a date-time")),
    };
    if let (None, Some(p)) = (given.get("validUntil"), &class.valid_for) {
        let until = add_period(valid_from, p).ok_or_else(|| {
            FieldError::new(
                "validFrom",
                "is too far in the future for the class's validFor",
            )
        })?;
        given.insert("validUntil".into(), json!(fmt_time(until)));
    }
    let mut vc = Map::new();
    vc.insert("@context".into(), Value::Array(context));
    if let Some(id) = given.remove("id") {
        vc.insert("id".into(), id);
    }
    vc.insert("type".into(), given.remove("type").expect("set above"));
    vc.insert(
        "name".into(),
        given
            .remove("name")
            .unwrap_or_else(|| class.achievement["name"].clone()),
    );
    vc.extend(given);
    vc.insert("credentialSubject".into(), Value::Object(subject));
    Ok(Value::Object(vc))
}

/// An Open Badges 3.0 `EndorsementCredential` from a request (`POST
/// /endorsements`): `credentialSubject.id`, the achievement or profile
/// endorsed (a URL, this issuer's or another's), and optionally its
/// `endorsementComment`, the credential's `name`, `description`,
/// `validFrom` and `validUntil`. The node adds the rest when it issues it.
pub fn endorsement_from(mut given: Map<String, Value>) -> Result<Value, FieldError> {
    const MEMBERS: [&str; 5] = [
        "credentialSubject",
        "name",
        "description",
        "validFrom",
        "validUntil",
    ];
    if let Some(other) = given.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(FieldError::new(
            other.clone(),
            format!("unknown member: expected {}", MEMBERS.join(", ")),
        ));
    }
    let Some(Value::Object(mut subject)) = given.remove("credentialSubject") else {
        return Err(FieldError::new(
            "credentialSubject",
            "missing: the endorsed achievement or profile, as credentialSubject.id",
        ));
    };
    if let Some(other) = subject
        .keys()
        .find(|k| !["id", "endorsementComment"].contains(&k.as_str()))
    {
        return Err(FieldError::new(
            format!("credentialSubject.{other}"),
            "unknown member: expected id, endorsementComment",
        ));
    }
    match subject.get("id").and_then(Value::as_str) {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {}
        _ => {
            return Err(FieldError::new(
                "credentialSubject.id",
                "must be the URL of the endorsed achievement or profile",
            ))
        }
    }
    if subject
        .get("endorsementComment")
        .is_some_and(|c| !c.is_string())
    {
        return Err(FieldError::new(
            "credentialSubject.endorsementComment",
            "must be a string",
        ));
    }
    subject.insert("type".into(), json!(["EndorsementSubject"]));
    let mut vc = Map::new();
    vc.insert("@context".into(), json!([CREDENTIALS_V2, OB_V3_0_3]));
    vc.insert(
        "type".into(),
        json!(["VerifiableCredential", "EndorsementCredential"]),
    );
    vc.insert(
        "name".into(),
        given.remove("name").unwrap_or_else(|| json!("Endorsement")),
    );
    vc.extend(given);
    vc.insert("credentialSubject".into(), Value::Object(subject));
    Ok(Value::Object(vc))
}

/// The issuer profile as a node keeps it: the document `GET /issuer`
/// serves, and the image it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredProfile {
    pub document: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<HeldImage>,
}

impl StoredProfile {
    /// What credentials embed: id, type, name, url, image.
    pub fn embedded(&self) -> cairn_verifier::credential::IssuerProfile {
        let d = &self.document;
        cairn_verifier::credential::IssuerProfile {
            id: d["id"].as_str().unwrap_or_default().to_owned(),
            name: d.get("name").cloned(),
            url: d["url"].as_str().map(str::to_owned),
            image: d["image"]["id"].as_str().map(str::to_owned),
        }
    }
}

/// The members of an issuer profile (an OB 3.0 `Profile`) a node keeps.
const PROFILE_MEMBERS: [&str; 9] = [
    "@context",
    "id",
    "type",
    "name",
    "url",
    "email",
    "description",
    "image",
    "phone",
];

/// Reads a `PUT /issuer` body for the issuer `did`; a `data:` image is
/// held by the node and served at `{base}/issuer/image`.
pub fn read_profile(
    mut body: Map<String, Value>,
    did: &str,
    base_url: &str,
) -> Result<(StoredProfile, Option<Vec<u8>>), FieldError> {
    if let Some(k) = body.keys().find(|k| !PROFILE_MEMBERS.contains(&k.as_str())) {
        return Err(FieldError::new(
            k.clone(),
            format!(
                "unknown member; a profile has {}",
                PROFILE_MEMBERS[3..].join(", ")
            ),
        ));
    }
    match body.remove("id") {
        None => {}
        Some(Value::String(id)) if id == did => {}
        Some(_) => {
            return Err(FieldError::new(
                "id",
                format!("must be this issuer's DID {did}"),
            ))
        }
    }
    match body.remove("type") {
        None => {}
        Some(t)
            if t == "Profile"
                || t.as_array()
                    .is_some_and(|a| a.iter().any(|t| t == "Profile")) => {}
        Some(_) => return Err(FieldError::new("type", "must include \"Profile\"")),
    }
    body.remove("@context");
    let text = |v: &Value| match v {
        Value::String(s) => !s.trim().is_empty(),
        Value::Object(o) => o.get("@value").is_some_and(Value::is_string),
        Value::Array(a) => {
            !a.is_empty()
                && a.iter()
                    .all(|x| x.get("@value").is_some_and(Value::is_string))
        }
        _ => false,
    };
    if !body.get("name").is_some_and(text) {
        return Err(FieldError::new(
            "name",
            "missing, or not a string or language values",
        ));
    }
    if let Some(d) = body.get("description") {
        if !text(d) {
            return Err(FieldError::new(
                "description",
                "must be a string or language values",
            ));
        }
    }
    if let Some(u) = body.get("url") {
        if !u
            .as_str()
            .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(FieldError::new("url", "must be an http(s) URL"));
        }
    }
    if let Some(e) = body.get("email") {
        let ok = e.as_str().is_some_and(|e| {
            e.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
                && !e.contains(char::is_whitespace)
        });
        if !ok {
            return Err(FieldError::new("email", "must be an email address"));
        }
    }
    if let Some(p) = body.get("phone") {
        if !p.is_string() {
            return Err(FieldError::new("phone", "must be a string"));
        }
    }
    let url = format!("{}/issuer/image", base_url.trim_end_matches('/'));
    let (held, bytes) = match body.get_mut("image") {
        None => (None, None),
        Some(v) => match take_image(v, "image", &url)? {
            ImageInput::Held(h, b) => (Some(h), Some(b)),
            ImageInput::Elsewhere => (None, None),
        },
    };
    let mut document = Map::new();
    document.insert("@context".into(), json!([CREDENTIALS_V2, OB_V3_0_3]));
    document.insert("id".into(), json!(did));
    document.insert("type".into(), json!(["Profile"]));
    document.extend(body);
    Ok((
        StoredProfile {
            document: Value::Object(document),
            image: held,
        },
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://board.example";
    const HANDLE: &str = "0b0e5f8c-3c1e-4f57-9d43-1a2b3c4d5e6f";

    fn body() -> Map<String, Value> {
        json!({
            "name": "Licensed Electrician",
            "description": "Licensed to practise.",
            "criteria": {"narrative": "Passed the board exam."},
            "achievementType": "License",
            "validFor": "P2Y",
            "resultDescription": [{"name": "Score", "resultType": "Percent"}]
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn a_term_is_found_where_it_is_used() {
        let v =
            json!({"criteria": {"narrative": "x"}, "alignment": [{"a": 1}, {"targetNmae": "y"}]});
        assert_eq!(
            key_path(&v, "targetNmae").as_deref(),
            Some("alignment[1].targetNmae")
        );
        assert_eq!(
            key_path(&v, "narrative").as_deref(),
            Some("criteria.narrative")
        );
        assert_eq!(key_path(&v, "nowhere"), None);
    }

    #[test]
    fn references_name_a_class_and_maybe_a_version() {
        let v = version_url(BASE, HANDLE, 3);
        assert_eq!(parse_reference(&v, BASE), Some((HANDLE.into(), Some(3))));
        assert_eq!(parse_reference(HANDLE, BASE), Some((HANDLE.into(), None)));
        assert_eq!(
            parse_reference(&format!("{BASE}/achievements/{HANDLE}"), BASE),
            Some((HANDLE.into(), None))
        );
        assert_eq!(parse_reference("../etc", BASE), None);
        assert_eq!(parse_reference(&format!("{HANDLE}-v0"), BASE), None);
        assert_eq!(parse_reference(&format!("{HANDLE}-vx"), BASE), None);
        assert_eq!(parse_reference(&format!("{HANDLE}-v+3"), BASE), None);
        assert_eq!(parse_reference(&format!("{HANDLE}-v03"), BASE), None);
        assert_eq!(
            parse_reference(&format!("/achievements/{HANDLE}-v12"), BASE),
            Some((HANDLE.into(), Some(12)))
        );
        assert_eq!(parse_reference(&HANDLE.to_uppercase(), BASE), None);
    }

    #[test]
    fn periods_add_calendar_months() {
        let from = parse_time("2024-01-31", false).unwrap();
        assert_eq!(
            fmt_time(add_period(from, "P1M").unwrap()),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(
            fmt_time(add_period(from, "P2Y").unwrap()),
            "2026-01-31T00:00:00Z"
        );
        assert_eq!(
            fmt_time(add_period(from, "P1Y1M1D").unwrap()),
            "2025-03-01T00:00:00Z"
        );
        for bad in [
            "P", "2Y", "P1M1Y", "P-1M", "PT5H", "P1.5Y", "P0M", "P99999Y",
        ] {
            assert!(parse_period(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_class_becomes_a_credential_with_its_version_and_validity() {
        let class = read_class(body(), BASE, HANDLE, 1, None, |_| false)
            .unwrap()
            .version;
        assert_eq!(class.achievement["id"], json!(version_url(BASE, HANDLE, 1)));
        assert!(class
            .view(&ClassRecord {
                handle: HANDLE.into(),
                version: 1,
                created: "x".into(),
                updated: "x".into(),
                retired: None
            })
            .get("validFor")
            .is_some());
        assert!(class.achievement.get("validFor").is_none());
        let result_id = class.achievement["resultDescription"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let vc = credential_from(
            &class,
            json!({
                "validFrom": "2025-03-01T00:00:00Z",
                "credentialSubject": {"id": "did:example:earner", "name": "Ana Núñez",
                                      "result": [{"resultDescription": result_id, "value": "93"}]}
            }),
        )
        .unwrap();
        assert_eq!(vc["validUntil"], json!("2027-03-01T00:00:00Z"));
        assert_eq!(vc["name"], json!("Licensed Electrician"));
        assert_eq!(vc["credentialSubject"]["achievement"], class.achievement);
        assert_eq!(
            vc["type"],
            json!(["VerifiableCredential", "OpenBadgeCredential"])
        );
        let bad = credential_from(
            &class,
            json!({"credentialSubject": {"id": "did:example:e", "result": [{"resultDescription": "urn:x"}]}}),
        )
        .unwrap_err();
        assert_eq!(bad.field, "credentialSubject.result[0].resultDescription");
        assert_eq!(
            credential_from(&class, json!({})).unwrap_err().field,
            "credentialSubject"
        );
    }

    #[test]
    fn bad_classes_name_their_field() {
        let cases: [(&str, Value, &str); 6] = [
            ("id", json!("https://x.example/a"), "id"),
            ("validFor", json!("two years"), "validFor"),
            ("achievementType", json!("Licence"), "achievementType"),
            (
                "@context",
                json!(["https://unknown.example/ctx"]),
                "@context[0]",
            ),
            (
                "image",
                json!({"id": "data:image/png;base64,AAAA"}),
                "image.id",
            ),
            ("image", json!("ftp://x.example/a.png"), "image"),
        ];
        for (member, value, field) in cases {
            let mut b = body();
            b.insert(member.into(), value);
            match read_class(b, BASE, HANDLE, 1, None, |_| false) {
                Err(ClassError::Field(f)) => assert_eq!(f.field, field, "{member}"),
                Err(e) => panic!("{member}: {e}"),
                Ok(_) => panic!("{member} accepted"),
            }
        }
    }
}
