//! Verifying a credential, check by check, with no network.
//!
//! Every check is reported by name with its outcome, so a verifier sees why a
//! credential failed, not only that it did. The Data Integrity signature is
//! checked by `integrity` (Cairn's cryptosuites over `json-ld` and `ssi`'s
//! RDFC-1.0); the other checks include that the signing key belongs to the
//! credential's issuer (a valid signature by any other key proves nothing
//! about the issuer, and Data Integrity alone accepts it).

use crate::context::{Contexts, CREDENTIALS_V1};
use crate::credential::{check_data_model, check_open_badge, first_context, is_badge};
use crate::integrity::{
    Canonicalizer, IntegrityError, Terms, ECDSA_RDFC_2019, ED25519_SIGNATURE_2020, EDDSA_RDFC_2022,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// The cryptosuites Cairn accepts for the issuer's proof.
pub const ISSUER_SUITES: [&str; 2] = [EDDSA_RDFC_2022, ECDSA_RDFC_2019];

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The check was made and the credential passed it.
    Pass,
    /// The check was made and the credential failed it.
    Fail,
    /// The check could not be made (a prerequisite failed, or data is
    /// missing); says nothing either way.
    CouldNotCheck,
    /// There was nothing to check: the credential carries no such proof
    /// (no anchor proof, before its batch is anchored or when another
    /// system issued it). Leaves the verdict alone unless the caller
    /// required the check ([`Report::require`]).
    Absent,
}

/// One named check of a verification and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The check's name, kebab-case (`signature`, `issuer-key`, `validity`).
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What it found, for a person to read: why it failed or could not be
    /// made, or a note on a pass; empty when there is nothing to say.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// The overall outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every check passed.
    Valid,
    /// At least one check failed.
    Invalid,
    /// Nothing failed, but something could not be checked.
    Unknown,
}

/// What a verifier tells a person: the verdict, naming why a credential
/// that was good is no longer, when that is the only thing wrong. Expired
/// is not revoked, and neither is forged. Badge pages say the same
/// (`pageVerdict` in `web/src/verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Every check passed.
    Valid,
    /// Something failed other than the three below (a forgery, a bad
    /// signature, or more than one thing at once).
    Invalid,
    /// Only `revocation` fails: its issuer revoked it.
    Revoked,
    /// Only `revocation` fails: its issuer suspended it.
    Suspended,
    /// Only `validity` fails: it is past its `validUntil`.
    Expired,
    /// Nothing failed, but something could not be checked.
    Unknown,
}

/// What a verification found: the verdict and every check behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The overall outcome, drawn from the checks.
    pub verdict: Verdict,
    /// The verdict for a person: `revoked`, `suspended` or `expired` when
    /// that is the one thing wrong (see [`Standing`]).
    pub outcome: Standing,
    /// The credential's `id`, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The issuer's DID (`issuer` or `issuer.id`), if the credential names
    /// one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The anchor's block time: when the credential provably existed.
    #[serde(rename = "anchoredAt", skip_serializing_if = "Option::is_none")]
    pub anchored_at: Option<String>,
    /// Every check made, in the order made.
    pub checks: Vec<Check>,
    /// Things a verifier should know that do not fail the credential.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The credentials a Comprehensive Learner Record (`ClrCredential`)
    /// embeds, each verified in full (see `embedded-credentials`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<Embedded>,
}

/// One credential inside another, verified on its own.
#[derive(Debug, Clone, Serialize)]
pub struct Embedded {
    /// What it says it is (its achievement's name, else its own `name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its verification.
    #[serde(flatten)]
    pub report: Report,
}

impl Report {
    /// A report with no checks yet, for `id` issued (or held) by `issuer`.
    pub fn of(id: Option<String>, issuer: Option<String>) -> Self {
        Builder::default().finish(id, issuer)
    }

    /// The report for a credential that could not even be read.
    pub fn unreadable(reason: &str) -> Self {
        let mut b = Builder::default();
        b.push("json", Err(Fail(format!("cannot read: {reason}"))));
        b.finish(None, None)
    }

    /// The check named `name`, if it was made.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Makes the checks named `name` required: one with nothing to check
    /// ([`Status::Absent`]) becomes one that could not be made, so the
    /// verdict cannot be valid without it.
    pub fn require(&mut self, name: &'static str) {
        let mut found = false;
        for check in self.checks.iter_mut().filter(|c| c.name == name) {
            found = true;
            if check.status == Status::Absent {
                check.status = Status::CouldNotCheck;
                check.detail = format!("{}; the caller requires it", check.detail);
            }
        }
        if !found {
            self.checks.push(Check {
                name,
                status: Status::CouldNotCheck,
                detail: format!("`{name}` is required, and this verification cannot make it (no chain node given)"),
            });
        }
        self.verdict = verdict_of(&self.checks);
        self.outcome = outcome_of(self.verdict, &self.checks);
    }

    /// Adds a check and updates the verdict.
    pub fn add(&mut self, name: &'static str, status: Status, detail: &str) {
        self.checks.push(Check {
            name,
            status,
            detail: detail.to_owned(),
        });
        self.verdict = verdict_of(&self.checks);
        self.outcome = outcome_of(self.verdict, &self.checks);
    }
}

/// The prefix of the `validity` check's detail when a credential is past
/// its end.
const EXPIRED: &str = "expired at ";

fn outcome_of(verdict: Verdict, checks: &[Check]) -> Standing {
    match verdict {
        Verdict::Valid => return Standing::Valid,
        Verdict::Unknown => return Standing::Unknown,
        Verdict::Invalid => {}
    }
    let mut failing = checks.iter().filter(|c| c.status == Status::Fail);
    match (failing.next(), failing.next()) {
        (Some(only), None) => match only.name {
            "revocation" if only.detail.starts_with("revoked") => Standing::Revoked,
            "revocation" if only.detail.starts_with("suspended") => Standing::Suspended,
            "validity" if only.detail.starts_with(EXPIRED) => Standing::Expired,
            _ => Standing::Invalid,
        },
        _ => Standing::Invalid,
    }
}

fn verdict_of(checks: &[Check]) -> Verdict {
    if checks.iter().any(|c| c.status == Status::Fail) {
        Verdict::Invalid
    } else if checks.iter().any(|c| c.status == Status::CouldNotCheck) {
        Verdict::Unknown
    } else {
        Verdict::Valid
    }
}

#[derive(Default)]
struct Builder {
    checks: Vec<Check>,
    warnings: Vec<String>,
}

impl Builder {
    fn push(&mut self, name: &'static str, result: Result<String, Outcome>) {
        let (status, detail) = match result {
            Ok(detail) => (Status::Pass, detail),
            Err(Outcome::Fail(d)) => (Status::Fail, d),
            Err(Outcome::Unchecked(d)) => (Status::CouldNotCheck, d),
        };
        self.checks.push(Check {
            name,
            status,
            detail,
        });
    }

    fn finish(self, id: Option<String>, issuer: Option<String>) -> Report {
        let verdict = verdict_of(&self.checks);
        Report {
            verdict,
            outcome: outcome_of(verdict, &self.checks),
            id,
            issuer,
            anchored_at: None,
            checks: self.checks,
            warnings: self.warnings,
            credentials: Vec::new(),
        }
    }
}

enum Outcome {
    Fail(String),
    Unchecked(String),
}

use Outcome::{Fail, Unchecked};

/// Verifies credentials against the bundled contexts. Cheap to share.
pub struct Verifier {
    canonicalizer: Canonicalizer,
}

impl Verifier {
    /// A verifier that knows `contexts` (the bundled ones and any issuer
    /// extensions).
    pub fn new(contexts: Contexts) -> Self {
        Self {
            canonicalizer: Canonicalizer::new(contexts),
        }
    }

    /// Its canonicalizer, to share with the chain checks (binding
    /// documents name the same contexts).
    pub fn canonicalizer(&self) -> &Canonicalizer {
        &self.canonicalizer
    }

    /// Verifies one credential given as JSON bytes, as of `now`.
    pub async fn verify(&self, bytes: &[u8], now: DateTime<Utc>) -> Report {
        match parse(bytes) {
            Ok(doc) => self.verify_value(&doc, now).await,
            Err(report) => *report,
        }
    }

    /// Verifies one credential, parsed, as of `now`.
    pub async fn verify_value(&self, doc: &Value, now: DateTime<Utc>) -> Report {
        let mut report = Builder::default();
        if !doc.is_object() {
            report.push("json", Err(Fail("not a JSON object".into())));
            return report.finish(None, None);
        }
        report.push("json", Ok(String::new()));
        let id = doc.get("id").and_then(Value::as_str).map(str::to_owned);
        let issuer = issuer_id(doc).map(str::to_owned);

        report.push(
            "data-model",
            check_data_model(doc)
                .map(|()| String::new())
                .map_err(|e| Fail(e.to_string())),
        );
        // The Open Badges rules, for credentials whose type says badge.
        if is_badge(doc) {
            report.push(
                "open-badges",
                check_open_badge(doc)
                    .map(|()| String::new())
                    .map_err(|e| Fail(e.to_string())),
            );
        }
        // Every issuer proof of a proof set or chain is verified. The first
        // one's strict expansion also answers the contexts check; only when
        // it stops early, or on undefined terms, is a second one needed.
        let proofs = issuer_proofs(doc);
        let mut contexts = None;
        let mut signatures = Vec::new();
        match &proofs {
            Err(e) => signatures.push(Err(Fail(e.clone()))),
            Ok(set) => {
                for (i, p) in set.iter().enumerate() {
                    let terms = if i == 0 { Terms::Check } else { Terms::Allow };
                    let outcome = match self.verify_proof(doc, p, terms).await {
                        Ok(()) => Ok(suite_of(p)),
                        Err(IntegrityError::Terms(m)) => {
                            // Terms only a catch-all @vocab maps are the
                            // issuer's to define: a reader is warned, the
                            // credential does not fail for them. A term
                            // nothing maps fails.
                            match self.canonicalizer.vocab_terms(doc).await {
                                Ok(terms) => {
                                    report.warnings.push(format!(
                                        "terms no context defines, which only a catch-all @vocab maps (their meaning is the issuer's to say): {}",
                                        terms.join(", ")
                                    ));
                                    contexts = Some(Ok(String::new()));
                                    signature_outcome(
                                        self.verify_proof(doc, p, Terms::Vocab).await,
                                        p,
                                    )
                                }
                                Err(_) => {
                                    contexts = Some(Err(Fail(m)));
                                    signature_outcome(
                                        self.verify_proof(doc, p, Terms::Allow).await,
                                        p,
                                    )
                                }
                            }
                        }
                        Err(IntegrityError::BadSignature) => {
                            Err(Fail("the signature does not verify".into()))
                        }
                        Err(other) => {
                            if i == 0 {
                                contexts = Some(self.check_contexts(doc).await);
                            }
                            Err(Fail(other.to_string()))
                        }
                    };
                    if i == 0 && contexts.is_none() {
                        contexts = Some(Ok(String::new()));
                    }
                    // In a set, each check names the proof it is about.
                    let vm = p["verificationMethod"].as_str().unwrap_or("(no key)");
                    signatures.push(match (set.len(), outcome) {
                        (1, outcome) => outcome,
                        (_, Ok(suite)) => Ok(format!("{suite} by {vm}")),
                        (_, Err(Fail(m))) => Err(Fail(format!("the proof by {vm}: {m}"))),
                        (_, other) => other,
                    });
                }
            }
        }
        let contexts = match contexts {
            Some(c) => c,
            None => self.check_contexts(doc).await,
        };
        report.push("contexts", contexts);
        for signature in signatures {
            report.push("signature", signature);
        }

        // The issuer's own proof: the first whose key is the issuer's.
        let own = match (&proofs, issuer.as_deref()) {
            (Ok(set), Some(issuer)) => set
                .iter()
                .find(|p| check_issuer_key(p, issuer).is_ok())
                .or(set.first()),
            (Ok(set), None) => set.first(),
            (Err(_), _) => None,
        };
        let key_check = match (own, issuer.as_deref()) {
            (None, _) => Err(Unchecked("no issuer proof".into())),
            (Some(_), None) => Err(Fail("the credential names no issuer".into())),
            (Some(p), Some(issuer)) => check_issuer_key(p, issuer),
        };
        report.push("issuer-key", key_check);

        let purpose = match own {
            None => Err(Unchecked("no issuer proof".into())),
            Some(p) => match p.get("proofPurpose").and_then(Value::as_str) {
                Some("assertionMethod") => Ok(String::new()),
                Some(other) => Err(Fail(format!(
                    "proof purpose is `{other}`, not `assertionMethod`"
                ))),
                None => Err(Fail("proof has no proofPurpose".into())),
            },
        };
        report.push("proof-purpose", purpose);
        report.push("validity", check_validity(doc, now));

        report.finish(id, issuer)
    }

    /// Verifies one issuer proof: over the document alone, or, for a link
    /// of a proof chain, over the document with the proofs its
    /// `previousProof` names.
    async fn verify_proof(
        &self,
        doc: &Value,
        proof: &Value,
        terms: Terms,
    ) -> Result<(), IntegrityError> {
        match crate::integrity::previous_of(doc, proof).map_err(IntegrityError::Proof)? {
            None => self.canonicalizer.verify(doc, proof, terms).await,
            Some(previous) => {
                self.canonicalizer
                    .verify_chained(doc, previous, proof, terms)
                    .await
            }
        }
    }

    async fn check_contexts(&self, doc: &Value) -> Result<String, Outcome> {
        self.canonicalizer
            .check_terms(doc)
            .await
            .map(|()| String::new())
            .map_err(Fail)
    }
}

/// Parses a credential: a JSON object, or the report that says why not.
pub fn parse(bytes: &[u8]) -> Result<Value, Box<Report>> {
    let mut report = Builder::default();
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => {
            report.push("json", Err(Fail("not a JSON object".into())));
            Err(Box::new(report.finish(None, None)))
        }
        Err(e) => {
            report.push("json", Err(Fail(format!("malformed JSON: {e}"))));
            Err(Box::new(report.finish(None, None)))
        }
    }
}

fn suite_of(proof: &Value) -> String {
    match proof["type"].as_str() {
        Some(ED25519_SIGNATURE_2020) => ED25519_SIGNATURE_2020.to_owned(),
        _ => proof["cryptosuite"].as_str().unwrap_or_default().to_owned(),
    }
}

fn signature_outcome(result: Result<(), IntegrityError>, proof: &Value) -> Result<String, Outcome> {
    match result {
        Ok(()) => Ok(suite_of(proof)),
        Err(IntegrityError::BadSignature) => Err(Fail("the signature does not verify".into())),
        Err(e) => Err(Fail(e.to_string())),
    }
}

fn issuer_id(doc: &Value) -> Option<&str> {
    match doc.get("issuer")? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id")?.as_str(),
        _ => None,
    }
}

/// The issuer proofs: every Data Integrity proof of a suite Cairn accepts,
/// in the order of the proof set (one, a set, or the links of a chain).
/// Proofs of other types (the anchor proof) are left for other checks.
fn issuer_proofs(doc: &Value) -> Result<Vec<Value>, String> {
    let proofs = crate::proof::proofs(doc).map_err(|e| e.to_string())?;
    if doc.get("proof").is_none() {
        return Err("the credential has no proof".into());
    }
    let ours: Vec<Value> = proofs
        .iter()
        .filter(|p| match p.get("type").and_then(Value::as_str) {
            Some("DataIntegrityProof") => p
                .get("cryptosuite")
                .and_then(Value::as_str)
                .is_some_and(|s| ISSUER_SUITES.contains(&s)),
            Some(t) => t == ED25519_SIGNATURE_2020,
            None => false,
        })
        .cloned()
        .collect();
    if ours.is_empty() {
        return Err(format!(
            "no DataIntegrityProof with cryptosuite {}, and no {ED25519_SIGNATURE_2020}",
            ISSUER_SUITES.join(" or ")
        ));
    }
    Ok(ours)
}

/// The proof's verification method must be a key of the issuer's own DID.
/// For did:key the DID is the key, so the method's DID must equal the issuer.
fn check_issuer_key(proof: &Value, issuer: &str) -> Result<String, Outcome> {
    let vm = proof
        .get("verificationMethod")
        .and_then(Value::as_str)
        .ok_or_else(|| Fail("proof has no verificationMethod".into()))?;
    let (did, _fragment) = vm.split_once('#').unwrap_or((vm, ""));
    if !issuer.starts_with("did:key:") {
        return Err(Fail(format!(
            "issuer `{issuer}` is not a did:key, so its keys cannot be known offline"
        )));
    }
    if did != issuer {
        return Err(Fail(format!(
            "signed by {did}, which is not the issuer {issuer}"
        )));
    }
    Ok(vm.to_owned())
}

fn check_validity(doc: &Value, now: DateTime<Utc>) -> Result<String, Outcome> {
    let parse = |field: &str| -> Result<Option<DateTime<Utc>>, Outcome> {
        match doc.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| Fail(format!("{field} `{s}` is not an RFC 3339 date-time"))),
            Some(_) => Err(Fail(format!("{field} is not a string"))),
        }
    };
    // VC 1.1 names the period issuanceDate and expirationDate.
    let v1 = first_context(doc) == Some(CREDENTIALS_V1);
    let (from, until) = match v1 {
        true => ("issuanceDate", "expirationDate"),
        false => ("validFrom", "validUntil"),
    };
    let from = parse(from)?;
    let until = parse(until)?;
    if let Some(from) = from {
        if now < from {
            return Err(Fail(format!("not valid before {}", from.to_rfc3339())));
        }
    }
    if let Some(until) = until {
        if now > until {
            return Err(Fail(format!("{EXPIRED}{}", until.to_rfc3339())));
        }
        return Ok(format!("valid until {}", until.to_rfc3339()));
    }
    Ok("no expiry".into())
}
