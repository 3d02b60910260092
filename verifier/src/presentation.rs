//! Verifiable presentations: a holder's proof over credentials it presents.
//!
//! A verifier asks a holder to present credentials with a fresh `challenge`
//! (and its own `domain`), so that a presentation cannot be replayed to it
//! or elsewhere. The holder's Data Integrity proof (`proofPurpose:
//! authentication`) is checked, the challenge and domain matched, the key
//! tied to the `holder` DID, and each credential inside is verified with
//! every check a credential gets on its own.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::context::{CREDENTIALS_V1, CREDENTIALS_V2};
use crate::integrity::{Canonicalizer, IntegrityError, Terms};
use crate::verification::{Report, Status, Verdict};

/// The most credentials one presentation may carry: each costs a full
/// verification.
pub const MAX_PRESENTED: usize = 100;

/// What the verifier asked of the presentation.
#[derive(Debug, Clone, Default)]
pub struct PresentationOptions {
    /// The challenge the verifier gave the holder; the proof must carry it.
    pub challenge: Option<String>,
    /// The verifier's domain; the proof must carry it.
    pub domain: Option<String>,
    /// Whether the holder must be the subject of every credential.
    pub holder_is_subject: bool,
}

/// What a presentation's verification found: its own checks (as a
/// [`Report`]) and each credential's report, in order.
#[derive(Debug, Clone, Serialize)]
pub struct PresentationReport {
    /// Valid only when the presentation and every credential are valid.
    pub verdict: Verdict,
    /// The presentation's own checks (`json`, `data-model`, `holder-proof`,
    /// `challenge`, `domain`, `holder-key`, `holder-is-subject`).
    pub presentation: Report,
    /// Each credential's report.
    pub credentials: Vec<Report>,
}

impl PresentationReport {
    /// Recomputes the overall verdict from the parts.
    pub fn finish(&mut self) {
        let verdicts = std::iter::once(self.presentation.verdict)
            .chain(self.credentials.iter().map(|r| r.verdict));
        self.verdict = verdicts.fold(Verdict::Valid, |worst, v| match (worst, v) {
            (Verdict::Invalid, _) | (_, Verdict::Invalid) => Verdict::Invalid,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            _ => Verdict::Valid,
        });
    }
}

/// Whether a document says it is a presentation.
pub fn is_presentation(doc: &Value) -> bool {
    match doc.get("type") {
        Some(Value::String(t)) => t == "VerifiablePresentation",
        Some(Value::Array(a)) => a.iter().any(|t| t == "VerifiablePresentation"),
        _ => false,
    }
}

/// The credentials a presentation carries (an object or an array of them).
pub fn presented(vp: &Value) -> Vec<&Value> {
    match vp.get("verifiableCredential") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// The presentation's own checks, with no network: its shape, the holder's
/// proof, challenge and domain, the holder's key and, when asked, that the
/// holder is every credential's subject.
pub async fn check_presentation(
    canonicalizer: &Canonicalizer,
    vp: &Value,
    options: &PresentationOptions,
) -> Report {
    let holder = vp.get("holder").and_then(|h| match h {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    });
    let mut report = Report::of(
        vp.get("id").and_then(Value::as_str).map(str::to_owned),
        holder.map(str::to_owned),
    );
    if !vp.is_object() {
        report.add("json", Status::Fail, "not a JSON object");
        return report;
    }
    report.add("json", Status::Pass, "");
    let shape = check_shape(vp);
    let shaped = shape.is_ok();
    match shape {
        Ok(()) => report.add("data-model", Status::Pass, ""),
        Err(m) => report.add("data-model", Status::Fail, &m),
    }

    let proof = match crate::proof::proofs(vp) {
        Ok([]) => None,
        Ok([p]) => Some(p),
        Ok(_) => {
            report.add(
                "holder-proof",
                Status::Fail,
                "more than one proof; a holder signs a presentation once",
            );
            return report;
        }
        Err(e) => {
            report.add("holder-proof", Status::Fail, &e.to_string());
            return report;
        }
    };
    let Some(proof) = proof else {
        // An unsigned presentation proves nothing of its holder: fine for
        // carrying credentials, not for answering a challenge.
        let status = match options.challenge.is_some() || options.domain.is_some() {
            true => Status::Fail,
            false => Status::Absent,
        };
        report.add("holder-proof", status, "the presentation is not signed");
        return report;
    };
    if shaped {
        let outcome = match canonicalizer.verify(vp, proof, Terms::Vocab).await {
            Ok(()) => Ok(proof["cryptosuite"].as_str().unwrap_or_default().to_owned()),
            Err(IntegrityError::BadSignature) => Err("the signature does not verify".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(suite) => report.add("holder-proof", Status::Pass, &suite),
            Err(m) => report.add("holder-proof", Status::Fail, &m),
        }
    }
    match proof.get("proofPurpose").and_then(Value::as_str) {
        Some("authentication") => report.add("proof-purpose", Status::Pass, ""),
        other => report.add(
            "proof-purpose",
            Status::Fail,
            &format!(
                "proof purpose is {}, not `authentication`",
                other.map_or("missing".to_owned(), |p| format!("`{p}`"))
            ),
        ),
    }
    for (name, expected) in [
        ("challenge", &options.challenge),
        ("domain", &options.domain),
    ] {
        let Some(expected) = expected else { continue };
        let given = match proof.get(name) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if given.contains(&expected.as_str()) {
            report.add(name, Status::Pass, "");
        } else {
            report.add(
                name,
                Status::Fail,
                &format!("the proof's {name} is not the verifier's `{expected}`"),
            );
        }
    }
    let vm = proof
        .get("verificationMethod")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let signer = vm.split_once('#').map_or(vm, |(did, _)| did);
    match holder {
        Some(h) if h == signer => report.add("holder-key", Status::Pass, vm),
        Some(h) => report.add(
            "holder-key",
            Status::Fail,
            &format!("signed by {signer}, which is not the holder {h}"),
        ),
        None => report.add(
            "holder-key",
            Status::Absent,
            "the presentation names no holder",
        ),
    }
    if options.holder_is_subject {
        let strangers: Vec<usize> = presented(vp)
            .iter()
            .enumerate()
            .filter(|(_, vc)| !subjects(vc).contains(&signer))
            .map(|(i, _)| i)
            .collect();
        match strangers.as_slice() {
            [] => report.add("holder-is-subject", Status::Pass, ""),
            _ => report.add(
                "holder-is-subject",
                Status::Fail,
                &format!("the signer {signer} is not the subject of credential(s) {strangers:?}"),
            ),
        }
    }
    report
}

/// The ids of a credential's subjects.
fn subjects(vc: &Value) -> Vec<&str> {
    match vc.get("credentialSubject") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.get("id").and_then(Value::as_str))
            .collect(),
        Some(s) => s.get("id").and_then(Value::as_str).into_iter().collect(),
        None => Vec::new(),
    }
}

/// VC 2.0's rules for a presentation (VC 1.1's context is taken too:
/// wallets on older libraries still sign with it).
fn check_shape(vp: &Value) -> Result<(), String> {
    if !matches!(
        crate::credential::first_context(vp),
        Some(CREDENTIALS_V2 | CREDENTIALS_V1)
    ) {
        return Err(format!(
            "@context must start with {CREDENTIALS_V2} (VC Data Model 2.0) or {CREDENTIALS_V1}"
        ));
    }
    if !is_presentation(vp) {
        return Err("type must include \"VerifiablePresentation\"".into());
    }
    match vp.get("verifiableCredential") {
        None | Some(Value::Object(_)) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_object) => {
            if a.len() > MAX_PRESENTED {
                return Err(format!(
                    "verifiableCredential holds {} credentials; at most {MAX_PRESENTED}",
                    a.len()
                ));
            }
        }
        Some(_) => return Err("verifiableCredential must hold credential objects".into()),
    }
    Ok(())
}

/// Verifies a presentation with no network: its own checks, and each
/// credential's offline checks as of `at`. The caller adds the credentials'
/// anchor checks (`Verification::verify_presentation` does).
pub async fn verify_offline(
    offline: &crate::verification::Verifier,
    vp: &Value,
    options: &PresentationOptions,
    at: DateTime<Utc>,
) -> PresentationReport {
    let presentation = check_presentation(offline.canonicalizer(), vp, options).await;
    let mut credentials = Vec::new();
    if presentation.check("data-model").map(|c| c.status) == Some(Status::Pass) {
        for vc in presented(vp) {
            credentials.push(offline.verify_value(vc, at).await);
        }
    }
    let mut report = PresentationReport {
        verdict: Verdict::Valid,
        presentation,
        credentials,
    };
    report.finish();
    report
}
