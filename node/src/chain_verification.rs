//! The checks that need a chain: a credential's anchor proof against the
//! registry, read from chain nodes the verifier chooses (`registry`), with
//! no contact to the issuer.
//!
//! Four checks join the offline ones (`verification`):
//! - `inclusion`: the Merkle path leads from the credential's digest to the
//!   anchored root;
//! - `binding`: the binding document in the proof is signed by the
//!   credential's own issuer DID, the registry holds its hash from the
//!   account it names, and it covers the anchor's block time;
//! - `anchor`: the registry holds the root, from that same account, over the
//!   same number of leaves, at least N confirmations deep; its block time is
//!   the time by which the credential provably existed;
//! - `revocation`: the registry's bits for the leaf: neither revoked nor
//!   suspended.
//!
//! A disagreement between chain nodes fails the check it touches: a verifier
//! must not pick a side. A node that does not answer makes it "could not
//! check".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, B256};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::binding::{verify_binding, Binding};
use crate::integrity::Canonicalizer;
use crate::merkle::{credential_digest, Hash, InclusionProof, ANCHOR_PROOF_TYPE};
use crate::registry::{ReadError, RegistryReader};
use crate::verification::{Report, Status};

/// How far before its anchor a credential's `validFrom` may lie before the
/// report warns of backdating: issuers date a licence from the exam, which
/// may be some days before they issue it.
pub const BACKDATING_TOLERANCE_DAYS: i64 = 30;

/// The anchor proof entry, parsed.
struct AnchorEntry {
    chain_id: u64,
    registry: Address,
    root: Hash,
    inclusion: InclusionProof,
    binding: Value,
}

fn parse_entry(doc: &Value) -> Result<Option<AnchorEntry>, String> {
    let proofs: Vec<&Value> = match doc.get("proof") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(p @ Value::Object(_)) => vec![p],
        _ => return Ok(None),
    };
    let mut entries = proofs
        .into_iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some(ANCHOR_PROOF_TYPE));
    let Some(e) = entries.next() else {
        return Ok(None);
    };
    if entries.next().is_some() {
        return Err("more than one anchor proof".into());
    }
    let field = |name: &str| {
        e.get(name)
            .ok_or_else(|| format!("the anchor proof has no `{name}`"))
    };
    let chain_id = field("chain")?
        .as_str()
        .and_then(|c| c.strip_prefix("eip155:"))
        .and_then(|n| n.parse().ok())
        .ok_or("the anchor proof's `chain` is not eip155:<id>")?;
    let registry = field("registry")?
        .as_str()
        .and_then(|a| a.parse().ok())
        .ok_or("the anchor proof's `registry` is not an address")?;
    let root = field("root")?
        .as_str()
        .and_then(|r| hex::decode(r.strip_prefix("0x").unwrap_or(r)).ok())
        .and_then(|b| Hash::try_from(b).ok())
        .ok_or("the anchor proof's `root` is not 32 bytes of hex")?;
    let inclusion: InclusionProof = serde_json::from_value(serde_json::json!({
        "leafIndex": field("leafIndex")?,
        "leafCount": field("leafCount")?,
        "path": field("path")?,
    }))
    .map_err(|e| format!("the anchor proof's path: {e}"))?;
    Ok(Some(AnchorEntry {
        chain_id,
        registry,
        root,
        inclusion,
        binding: field("binding")?.clone(),
    }))
}

/// Chain checks for a verification run: the chain nodes, the depth asked
/// for, and per-run caches.
pub struct ChainVerifier {
    reader: Arc<RegistryReader>,
    confirmations: u64,
    bindings: Arc<Bindings>,
}

/// Binding documents and their checks. An issuer anchors every credential
/// from one account under one binding document: each is checked once.
/// (What a document says never changes; what the chain says of it is not
/// kept here.)
pub struct Bindings {
    canonicalizer: Canonicalizer,
    /// By signature, with the document compared in full: no canonical
    /// digest per credential on the verification hot path, and a document
    /// that borrows another's signature is a different entry.
    checked: Mutex<HashMap<String, Vec<(Value, BindingCell)>>>,
}

type BindingCell = Arc<tokio::sync::OnceCell<Result<Binding, String>>>;

impl Bindings {
    pub fn new(canonicalizer: Canonicalizer) -> Self {
        Self {
            canonicalizer,
            checked: Mutex::default(),
        }
    }

    /// The binding document `doc`, checked (signature, issuer, chain).
    async fn check(&self, doc: &Value) -> Result<Binding, String> {
        let signature = doc["proof"]["proofValue"].as_str().unwrap_or("").to_owned();
        let cell = {
            let mut checked = self.checked.lock().expect("bindings lock");
            let entries = checked.entry(signature).or_default();
            match entries.iter().find(|(d, _)| d == doc) {
                Some((_, cell)) => cell.clone(),
                None => {
                    let cell = BindingCell::default();
                    entries.push((doc.clone(), cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_init(|| async {
            verify_binding(&self.canonicalizer, doc)
                .await
                .map_err(|e| e.to_string())
        })
        .await
        .clone()
    }

    /// The binding an anchor proof carries, if it speaks for the
    /// credential's `issuer` on the proof's chain.
    async fn for_credential(&self, entry: &AnchorEntry, issuer: &str) -> Result<Binding, String> {
        match self.check(&entry.binding).await? {
            b if b.issuer != issuer => Err(format!(
                "the binding is signed by {}, not by the credential's issuer {issuer}",
                b.issuer
            )),
            b if b.chain_id != entry.chain_id => Err(format!(
                "the binding names chain {}, not {}",
                b.chain_id, entry.chain_id
            )),
            b => Ok(b),
        }
    }
}

/// The anchor proof entry of `doc`; without one (`missing` says how that
/// counts) or with a malformed one, every chain check is reported and
/// `None` returned.
fn entry_or_report(
    doc: &Value,
    report: &mut Report,
    missing: (Status, &str),
) -> Option<AnchorEntry> {
    let (status, why) = match parse_entry(doc) {
        Ok(Some(entry)) => return Some(entry),
        Ok(None) => (missing.0, missing.1.to_owned()),
        Err(m) => (Status::Fail, m),
    };
    for name in ["inclusion", "binding", "anchor", "revocation"] {
        report.add(name, status, &why);
    }
    None
}

/// The `inclusion` check: the Merkle path leads from the credential's
/// digest to the anchored root.
fn check_inclusion(doc: &Value, entry: &AnchorEntry, report: &mut Report) {
    if credential_digest(doc).is_ok_and(|d| entry.inclusion.verify(&d, &entry.root)) {
        report.add(
            "inclusion",
            Status::Pass,
            &format!(
                "leaf {} of {} under root {}",
                entry.inclusion.leaf_index,
                entry.inclusion.leaf_count,
                hex::encode(entry.root)
            ),
        );
    } else {
        report.add(
            "inclusion",
            Status::Fail,
            "the Merkle path does not lead from this credential to the anchored root",
        );
    }
}

fn read_outcome(e: ReadError) -> (Status, String) {
    match e {
        // Chain nodes that contradict each other: fail, loudly.
        e @ ReadError::Disagree { .. } => (Status::Fail, e.to_string()),
        e => (Status::CouldNotCheck, e.to_string()),
    }
}

fn time(secs: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs as i64, 0).unwrap_or_default()
}

impl ChainVerifier {
    /// Binding documents are canonicalized with `canonicalizer`: share the
    /// offline verifier's, so its processed contexts and templates serve
    /// both.
    pub fn new(
        reader: Arc<RegistryReader>,
        confirmations: u64,
        canonicalizer: Canonicalizer,
    ) -> Self {
        Self {
            reader,
            confirmations: confirmations.max(1),
            bindings: Arc::new(Bindings::new(canonicalizer)),
        }
    }

    /// The same verifier reading the chain afresh (see
    /// [`RegistryReader::fresh`]).
    pub fn with_fresh_reader(&self) -> Self {
        Self {
            reader: Arc::new(self.reader.fresh()),
            confirmations: self.confirmations,
            bindings: self.bindings.clone(),
        }
    }

    pub fn reader(&self) -> &RegistryReader {
        &self.reader
    }

    /// Adds the chain checks for credential `doc` to its offline `report`.
    pub async fn check(&self, doc: &Value, report: &mut Report) {
        let Some(entry) = entry_or_report(
            doc,
            report,
            (
                Status::CouldNotCheck,
                "the credential carries no anchor proof (its batch may not be anchored yet)",
            ),
        ) else {
            return;
        };
        check_inclusion(doc, &entry, report);

        if entry.chain_id != self.reader.chain_id() {
            let why = format!(
                "anchored on eip155:{}, but the chain nodes serve eip155:{}",
                entry.chain_id,
                self.reader.chain_id()
            );
            for name in ["binding", "anchor", "revocation"] {
                report.add(name, Status::CouldNotCheck, &why);
            }
            return;
        }
        let issuer = report.issuer.clone().unwrap_or_default();
        let root = B256::from(entry.root);

        // The binding document itself (signature, issuer, chain), then what
        // the registry holds for it.
        let binding = match self.bindings.for_credential(&entry, &issuer).await {
            Ok(b) => match self
                .reader
                .binding(entry.registry, B256::from(b.hash))
                .await
            {
                Ok(f) if f.account == Address::ZERO => Err((
                    Status::Fail,
                    format!(
                        "the registry holds no such binding: the issuer never bound {}",
                        b.account
                    ),
                )),
                Ok(f) if f.account != b.account => Err((
                    Status::Fail,
                    format!(
                        "the binding was registered by {}, not by the account it names, {}",
                        f.account, b.account
                    ),
                )),
                Ok(_) => Ok(b),
                Err(e) => Err(read_outcome(e)),
            },
            Err(m) => Err((Status::Fail, m)),
        };

        // The anchor: who, how many leaves, how deep.
        let anchor = match self.reader.anchor(entry.registry, root).await {
            Ok(a) if a.issuer == Address::ZERO => Err((
                Status::Fail,
                format!("root {} was never anchored in registry {}", hex::encode(entry.root), entry.registry),
            )),
            Ok(a) if a.leaf_count != entry.inclusion.leaf_count => Err((
                Status::Fail,
                format!("the registry's batch has {} leaves, the proof says {}", a.leaf_count, entry.inclusion.leaf_count),
            )),
            Ok(a) => match &binding {
                Ok(b) if a.issuer != b.account => Err((
                    Status::Fail,
                    format!("anchored by {}, an account the issuer's binding does not name (it names {})", a.issuer, b.account),
                )),
                _ => match self.reader.head().await {
                    Ok(head) => {
                        let depth = (head + 1).saturating_sub(a.block_number);
                        if depth < self.confirmations {
                            Err((
                                Status::CouldNotCheck,
                                format!("{depth} of {} confirmations so far", self.confirmations),
                            ))
                        } else {
                            Ok((a, depth))
                        }
                    }
                    Err(e) => Err(read_outcome(e)),
                },
            },
            Err(e) => Err(read_outcome(e)),
        };

        match (&binding, &anchor) {
            (Ok(b), Ok((a, _))) if !b.covers(time(a.timestamp)) => report.add(
                "binding",
                Status::Fail,
                &format!(
                    "the binding of {} does not cover the anchor's time {}",
                    b.account,
                    time(a.timestamp).to_rfc3339()
                ),
            ),
            (Ok(b), _) => report.add(
                "binding",
                Status::Pass,
                &format!(
                    "{} speaks for {issuer}",
                    crate::binding::account_did(b.chain_id, b.account)
                ),
            ),
            (Err((s, m)), _) => report.add("binding", *s, m),
        }
        match &anchor {
            Ok((a, depth)) => {
                let at = time(a.timestamp);
                report.anchored_at = Some(crate::credential::fmt_time(at));
                report.add(
                    "anchor",
                    Status::Pass,
                    &format!(
                        "block {}, {}, {depth} confirmations",
                        a.block_number,
                        at.to_rfc3339()
                    ),
                );
                if let Some(from) = doc
                    .get("validFrom")
                    .and_then(Value::as_str)
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                {
                    let days = (at - from.with_timezone(&Utc)).num_days();
                    if days > BACKDATING_TOLERANCE_DAYS {
                        report.warnings.push(format!(
                            "validFrom {} is {days} days before the anchor ({}), the earliest time the credential provably existed",
                            from.to_rfc3339(),
                            at.to_rfc3339()
                        ));
                    }
                }
            }
            Err((s, m)) => report.add("anchor", *s, m),
        }

        // Revocation, read only once the anchor stands.
        match (&anchor, &binding) {
            (Ok(_), Ok(_)) => {
                match self
                    .reader
                    .status(
                        entry.registry,
                        root,
                        entry.inclusion.leaf_index,
                        entry.inclusion.leaf_count,
                    )
                    .await
                {
                    Ok(s) if s.revoked => {
                        report.add("revocation", Status::Fail, "revoked by its issuer")
                    }
                    Ok(s) if s.suspended => {
                        report.add("revocation", Status::Fail, "suspended by its issuer")
                    }
                    Ok(_) => {
                        let head = self.reader.head().await.unwrap_or_default();
                        report.add(
                            "revocation",
                            Status::Pass,
                            &format!("neither revoked nor suspended as of block {head}"),
                        )
                    }
                    Err(e) => {
                        let (s, m) = read_outcome(e);
                        report.add("revocation", s, &m)
                    }
                }
            }
            _ => report.add(
                "revocation",
                Status::CouldNotCheck,
                "the anchor or binding does not stand, so the registry's flags say nothing",
            ),
        }
    }
}

/// The chain checks from a proof bundle and one block hash the verifier
/// trusts, with no network (`cairn verify --offline --trust-block`): the
/// anchor as the bundle's receipt shows it in that block. Revocation cannot
/// be known offline; the report says as of which block the rest holds.
pub async fn check_bundle(
    bindings: &Bindings,
    doc: &Value,
    bundle: &Value,
    trusted: B256,
    report: &mut Report,
) {
    let missing = (Status::Fail, "the credential carries no anchor proof");
    let Some(entry) = entry_or_report(doc, report, missing) else {
        return;
    };
    check_inclusion(doc, &entry, report);
    let issuer = report.issuer.clone().unwrap_or_default();
    let binding = bindings.for_credential(&entry, &issuer).await;
    let facts = crate::bundle::verify(bundle, trusted, entry.registry, B256::from(entry.root));
    match (&binding, &facts) {
        (Ok(b), Ok(f)) if !b.covers(time(f.timestamp)) => report.add(
            "binding",
            Status::Fail,
            &format!(
                "the binding of {} does not cover the anchor's time",
                b.account
            ),
        ),
        (Ok(b), _) => report.add(
            "binding",
            Status::Pass,
            &format!(
                "{} speaks for {issuer} (signature checked; its registration needs a chain node)",
                crate::binding::account_did(b.chain_id, b.account)
            ),
        ),
        (Err(m), _) => report.add("binding", Status::Fail, m),
    }
    match (&facts, &binding) {
        (Err(e), _) => report.add("anchor", Status::Fail, &e.to_string()),
        (Ok(f), Ok(b)) if f.issuer != b.account => report.add(
            "anchor",
            Status::Fail,
            &format!(
                "anchored by {}, an account the issuer's binding does not name (it names {})",
                f.issuer, b.account
            ),
        ),
        (Ok(f), _) if f.leaf_count != entry.inclusion.leaf_count => report.add(
            "anchor",
            Status::Fail,
            &format!(
                "the anchor covers {} leaves, the proof says {}",
                f.leaf_count, entry.inclusion.leaf_count
            ),
        ),
        (Ok(f), _) => {
            report.anchored_at = Some(crate::credential::fmt_time(time(f.timestamp)));
            report.add(
                "anchor",
                Status::Pass,
                &format!(
                    "in trusted block {} ({trusted}), {}",
                    f.block_number,
                    time(f.timestamp).to_rfc3339()
                ),
            );
        }
    }
    let block = facts.as_ref().map_or(0, |f| f.block_number);
    report.add(
        "revocation",
        Status::CouldNotCheck,
        &format!(
            "offline: everything above holds as of block {block}; whether the issuer revoked or suspended it since needs a chain node (--rpc-url)"
        ),
    );
}
