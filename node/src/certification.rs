//! Certifications kept by continuing education: what a class of type
//! `Certification` requires (credits within a cycle, minimums per
//! category, which classes count), where an earner stands, and the CLR 2.0
//! `ClrCredential` that carries the credentials a certification was earned
//! with. The rules only: no I/O (the node gathers and verifies the
//! earner's credentials, then asks here).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use cairn_verifier::context::{CLR_V2P0, CREDENTIALS_V2, OB_V3_0_3};
use cairn_verifier::credential::{fmt_time, FieldError};

/// The most credentials of one earner weighed for one certification.
pub const MAX_CANDIDATES: usize = 200;

/// What earns a certification: `credits` in all within one `cycle`, at
/// least `categories[c]` of them in each category `c`, from credentials of
/// the classes `achievements` names (any class, when empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirements {
    /// An ISO 8601 period (`P3Y`): the window credits must fall in.
    pub cycle: String,
    pub credits: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub achievements: Vec<String>,
}

impl Requirements {
    /// Reads a class's `requirements` member; `achievement` is the rest of
    /// the class, which must be a `Certification` (or `License`).
    pub fn read(value: Value, achievement: &Map<String, Value>) -> Result<Self, FieldError> {
        let kind = achievement
            .get("achievementType")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !matches!(kind, "Certification" | "License") {
            return Err(FieldError::new(
                "requirements",
                "only a class whose achievementType is Certification or License has requirements",
            ));
        }
        let r: Requirements = serde_json::from_value(value).map_err(|e| {
            FieldError::new(
                "requirements",
                format!("{e} (expected {{\"cycle\": \"P3Y\", \"credits\": 30, \"categories\": {{\"ethics\": 5}}, \"achievements\": [...]}})"),
            )
        })?;
        if crate::achievements::add_period(Utc::now(), &r.cycle).is_none() {
            return Err(FieldError::new(
                "requirements.cycle",
                "must be an ISO 8601 period of years, months and days, such as P3Y",
            ));
        }
        if !(r.credits.is_finite() && r.credits > 0.0 && r.credits <= 10_000.0) {
            return Err(FieldError::new(
                "requirements.credits",
                "must be a number of credits above 0",
            ));
        }
        for (c, min) in &r.categories {
            if c.trim().is_empty() || !(min.is_finite() && *min > 0.0 && *min <= r.credits) {
                return Err(FieldError::new(
                    format!("requirements.categories.{c}"),
                    "must be a category name with a number of credits above 0, at most `credits`",
                ));
            }
        }
        if r.categories.len() > 50 || r.achievements.len() > 200 {
            return Err(FieldError::new(
                "requirements",
                "at most 50 categories and 200 achievements",
            ));
        }
        Ok(r)
    }
}

/// One of the earner's credentials, as the node found it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub credential: Value,
    /// Its class's handle, when the node issued it from one.
    pub handle: Option<String>,
    /// Why it cannot count whatever the requirements say: not valid (its
    /// outcome: revoked, suspended, expired, invalid), not anchored yet,
    /// counted for a certification already. `None`: it may count.
    pub barred: Option<String>,
}

/// Where an earner stands: `GET /earners/{id}/progress`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub achievement: String,
    pub earner: String,
    /// Whether the counted credentials meet every requirement.
    pub met: bool,
    pub window: Window,
    pub required: Tally,
    pub earned: Tally,
    /// What is still missing: credits in all and per category.
    pub missing: Tally,
    /// The credentials that count, with their credits and categories.
    pub counted: Vec<Counted>,
    /// The earner's credentials that do not count, and why.
    pub excluded: Vec<Excluded>,
    /// The certification this would renew (the earner's current one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renews: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub start: String,
    /// When the window closes: the end of the current certification's
    /// cycle, or (with none) when the oldest counted credit falls out of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub credits: f64,
    pub categories: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counted {
    pub id: String,
    pub achievement: String,
    pub credits: f64,
    pub categories: Vec<String>,
    pub earned: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Excluded {
    pub id: String,
    pub reason: String,
}

/// The credits a credential earned: its subject's `creditsEarned`, else
/// its achievement's `creditsAvailable`.
fn credits_of(vc: &Value) -> Option<f64> {
    let subject = &vc["credentialSubject"];
    subject["creditsEarned"]
        .as_f64()
        .or_else(|| subject["achievement"]["creditsAvailable"].as_f64())
        .filter(|c| c.is_finite() && *c > 0.0)
}

/// A credential's categories: its achievement's tags and the codes and
/// names of its alignments, lower-cased.
fn categories_of(vc: &Value) -> Vec<String> {
    let a = &vc["credentialSubject"]["achievement"];
    let mut out: Vec<String> = Vec::new();
    if let Some(tags) = a["tag"].as_array() {
        out.extend(tags.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    if let Some(aligned) = a["alignment"].as_array() {
        for al in aligned {
            for k in ["targetCode", "targetName"] {
                if let Some(s) = al[k].as_str() {
                    out.push(s.to_owned());
                }
            }
        }
    }
    let mut out: Vec<String> = out.into_iter().map(|s| s.trim().to_lowercase()).collect();
    out.sort();
    out.dedup();
    out
}

fn earned_at(vc: &Value) -> Option<DateTime<Utc>> {
    vc["validFrom"]
        .as_str()
        .or_else(|| vc["issuanceDate"].as_str())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The certification an earner holds now (of this class, valid), from which
/// a new cycle is counted: its id and `validFrom`.
pub struct Held {
    pub id: String,
    pub valid_from: DateTime<Utc>,
}

/// Weighs an earner's credentials against `req` as of `now`. `handles`
/// are the classes `req.achievements` names, as the node resolved them
/// (a handle, a class URL or a version's id each).
pub fn progress(
    req: &Requirements,
    handles: &[String],
    achievement: &str,
    earner: &str,
    candidates: &[Candidate],
    held: Option<&Held>,
    now: DateTime<Utc>,
) -> Progress {
    let cycle_after = |t: DateTime<Utc>| crate::achievements::add_period(t, &req.cycle);
    // A renewal counts what was earned since the current certification; a
    // first certification, what was earned within one cycle back.
    let start = match held {
        Some(h) => h.valid_from,
        None => crate::achievements::sub_period(now, &req.cycle).unwrap_or(now),
    };
    let mut counted = Vec::new();
    let mut excluded = Vec::new();
    let wanted = |c: &Candidate| -> bool {
        if req.achievements.is_empty() {
            return true;
        }
        let id = c.credential["credentialSubject"]["achievement"]["id"]
            .as_str()
            .unwrap_or("");
        req.achievements.iter().any(|a| a == id)
            || c.handle.as_ref().is_some_and(|h| handles.contains(h))
    };
    for c in candidates {
        let exclude = |reason: String| Excluded {
            id: c.id.clone(),
            reason,
        };
        let Some(credits) = credits_of(&c.credential) else {
            continue;
        };
        if !wanted(c) {
            excluded.push(exclude("its achievement is not one that counts".into()));
            continue;
        }
        if let Some(why) = &c.barred {
            excluded.push(exclude(why.clone()));
            continue;
        }
        let Some(earned) = earned_at(&c.credential) else {
            excluded.push(exclude("it has no validFrom".into()));
            continue;
        };
        if earned < start || earned > now {
            excluded.push(exclude(format!(
                "earned {} outside the cycle from {}",
                fmt_time(earned),
                fmt_time(start)
            )));
            continue;
        }
        counted.push((
            earned,
            Counted {
                id: c.id.clone(),
                achievement: c.credential["credentialSubject"]["achievement"]["id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                credits,
                categories: categories_of(&c.credential),
                earned: fmt_time(earned),
            },
        ));
    }
    counted.sort_by_key(|a| a.0);
    let mut earned = Tally::default();
    for (_, c) in &counted {
        earned.credits += c.credits;
        for cat in req.categories.keys() {
            if c.categories.contains(&cat.to_lowercase()) {
                *earned.categories.entry(cat.clone()).or_default() += c.credits;
            }
        }
    }
    let mut missing = Tally {
        credits: (req.credits - earned.credits).max(0.0),
        categories: BTreeMap::new(),
    };
    for (cat, min) in &req.categories {
        let have = earned.categories.get(cat).copied().unwrap_or(0.0);
        earned.categories.entry(cat.clone()).or_insert(0.0);
        if have < *min {
            missing.categories.insert(cat.clone(), min - have);
        }
    }
    let closes = match held {
        Some(h) => cycle_after(h.valid_from),
        None => counted.first().and_then(|(t, _)| cycle_after(*t)),
    };
    Progress {
        achievement: achievement.to_owned(),
        earner: earner.to_owned(),
        met: missing.credits == 0.0 && missing.categories.is_empty(),
        window: Window {
            start: fmt_time(start),
            closes: closes.map(fmt_time),
        },
        required: Tally {
            credits: req.credits,
            categories: req.categories.clone(),
        },
        earned,
        missing,
        counted: counted.into_iter().map(|(_, c)| c).collect(),
        excluded,
        renews: held.map(|h| h.id.clone()),
    }
}

/// The unsigned CLR 2.0 `ClrCredential` for a certification: the earner
/// (`subject`: the certification's own recipient), the credentials counted
/// (each as stored, with its proofs), the achievements of both, and an
/// association from each counted achievement to the certification's.
pub fn learner_record(
    certification: &Value,
    counted: &[Value],
    subject: Map<String, Value>,
) -> Value {
    let target = certification["credentialSubject"]["achievement"].clone();
    let target_id = target["id"].as_str().unwrap_or("").to_owned();
    let mut achievements = vec![target.clone()];
    let mut associations = Vec::new();
    for vc in counted {
        let a = &vc["credentialSubject"]["achievement"];
        let Some(source) = a["id"].as_str() else {
            continue;
        };
        if !achievements.iter().any(|x| x["id"] == a["id"]) {
            achievements.push(a.clone());
            associations.push(json!({
                "type": "Association",
                "associationType": "isPartOf",
                "sourceId": source,
                "targetId": target_id,
            }));
        }
    }
    let name = cairn_verifier::credential::display_name(certification)
        .unwrap_or_else(|| "Certification".into());
    let mut clr_subject = subject;
    clr_subject.insert("type".into(), json!(["ClrSubject"]));
    clr_subject.insert(
        "verifiableCredential".into(),
        Value::Array(counted.to_vec()),
    );
    clr_subject.insert("achievement".into(), Value::Array(achievements));
    clr_subject.insert("association".into(), Value::Array(associations));
    let mut clr = json!({
        // The anchor entries of the credentials inside are signed too.
        "@context": [CREDENTIALS_V2, CLR_V2P0, OB_V3_0_3, cairn_verifier::proof::anchor_entry_context()],
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": format!("{name}: the credentials it was earned with"),
        "credentialSubject": clr_subject,
    });
    if let Some(from) = certification.get("validFrom") {
        clr["validFrom"] = from.clone();
    }
    clr
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ce(id: &str, credits: f64, tag: &str, earned: &str) -> Candidate {
        Candidate {
            id: id.into(),
            handle: Some("ce".into()),
            barred: None,
            credential: json!({
                "validFrom": earned,
                "credentialSubject": {"creditsEarned": credits, "achievement": {
                    "id": format!("https://b.example/achievements/{id}"), "tag": [tag]}},
            }),
        }
    }

    fn req() -> Requirements {
        Requirements {
            cycle: "P3Y".into(),
            credits: 30.0,
            categories: [("Ethics".to_owned(), 5.0)].into(),
            achievements: vec![],
        }
    }

    #[test]
    fn credits_add_up_per_category_within_the_cycle() {
        let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let mut all = vec![
            ce("a", 10.0, "clinical", "2026-01-01T00:00:00Z"),
            ce("b", 10.0, "clinical", "2025-01-01T00:00:00Z"),
            ce("c", 4.0, "ethics", "2024-01-01T00:00:00Z"),
            ce("old", 20.0, "clinical", "2022-01-01T00:00:00Z"),
        ];
        let p = progress(&req(), &[], "cert", "did:example:n", &all, None, now);
        assert!(!p.met);
        assert_eq!(p.earned.credits, 24.0);
        assert_eq!(p.missing.credits, 6.0);
        assert_eq!(p.missing.categories["Ethics"], 1.0);
        assert_eq!(p.excluded.len(), 1, "{:?}", p.excluded);
        assert_eq!(p.window.closes.as_deref(), Some("2027-01-01T00:00:00Z"));

        all.push(ce("d", 6.0, "ETHICS", "2026-06-01T00:00:00Z"));
        all[0].barred = Some("revoked".into());
        let p = progress(&req(), &[], "cert", "did:example:n", &all, None, now);
        assert!(!p.met, "the revoked one does not count");
        all[0].barred = None;
        let p = progress(&req(), &[], "cert", "did:example:n", &all, None, now);
        assert!(p.met, "{p:?}");
        assert_eq!(p.earned.categories["Ethics"], 10.0);

        // A renewal counts from the current certification on.
        let held = Held {
            id: "cert-1".into(),
            valid_from: "2025-06-01T00:00:00Z".parse().unwrap(),
        };
        let p = progress(&req(), &[], "cert", "did:example:n", &all, Some(&held), now);
        assert_eq!(p.earned.credits, 16.0);
        assert_eq!(p.window.closes.as_deref(), Some("2028-06-01T00:00:00Z"));
    }

    #[test]
    fn requirements_are_read_only_for_certifications() {
        let cert = json!({"achievementType": "Certification"});
        let ok = json!({"cycle": "P3Y", "credits": 30, "categories": {"ethics": 5}});
        assert!(Requirements::read(ok.clone(), cert.as_object().unwrap()).is_ok());
        let badge = json!({"achievementType": "Badge"});
        assert!(Requirements::read(ok, badge.as_object().unwrap()).is_err());
        for (bad, field) in [
            (
                json!({"cycle": "3 years", "credits": 30}),
                "requirements.cycle",
            ),
            (
                json!({"cycle": "P3Y", "credits": 0}),
                "requirements.credits",
            ),
            (
                json!({"cycle": "P3Y", "credits": 3, "categories": {"ethics": 5}}),
                "requirements.categories.ethics",
            ),
            (
                json!({"cycle": "P3Y", "credits": 3, "extra": 1}),
                "requirements",
            ),
        ] {
            let e = Requirements::read(bad, cert.as_object().unwrap()).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }
}
