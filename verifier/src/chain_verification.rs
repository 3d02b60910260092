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

use crate::verification::Verifier;
use alloy::primitives::{Address, B256};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::binding::{verify_binding, Binding};
use crate::integrity::Canonicalizer;
use crate::merkle::credential_digest;
use crate::proof::AnchorEntry;
#[cfg(feature = "chain")]
use crate::registry::{ReadError, RegistryReader};
use crate::verification::{Embedded, Report, Status, Verdict};

/// How far before its anchor a credential's `validFrom` may lie before the
/// report warns of backdating: issuers date a licence from the exam, which
/// may be some days before they issue it.
pub const BACKDATING_TOLERANCE_DAYS: i64 = 30;

/// Chain checks for a verification run: the chain nodes, the depth asked
/// for, and per-run caches.
#[cfg(feature = "chain")]
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
    pins: RegistryPins,
    /// By signature, with the document compared in full: no canonical
    /// digest per credential on the verification hot path, and a document
    /// that borrows another's signature is a different entry.
    checked: Mutex<HashMap<String, Vec<(Value, BindingCell)>>>,
}

/// Binding documents a [`Bindings`] keeps checked.
const MAX_CACHED_BINDINGS: usize = 1024;
/// The most credentials one `ClrCredential` may embed: each costs a full
/// verification.
pub const MAX_EMBEDDED: usize = 256;

type BindingCell = Arc<tokio::sync::OnceCell<Result<Binding, String>>>;

impl Bindings {
    /// Bindings checked with `canonicalizer` (share the offline
    /// verifier's: binding documents name the same contexts).
    pub fn new(canonicalizer: Canonicalizer, pins: RegistryPins) -> Self {
        Self {
            canonicalizer,
            pins,
            checked: Mutex::default(),
        }
    }

    /// The binding document `doc`, checked (signature, issuer, chain).
    async fn check(&self, doc: &Value) -> Result<Binding, String> {
        let signature = doc["proof"]["proofValue"].as_str().unwrap_or("").to_owned();
        let cell = {
            let mut checked = self.checked.lock().expect("bindings lock");
            // An issuer has a binding or two; a long-running node verifying
            // anyone's documents keeps a bounded number.
            if checked.len() >= MAX_CACHED_BINDINGS && !checked.contains_key(&signature) {
                checked.clear();
            }
            let entries = checked.entry(signature).or_default();
            if entries.len() >= 8 {
                entries.clear();
            }
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
    /// credential's `issuer` on the proof's chain and names the proof's
    /// registry (or, for a binding from before bindings named one, the
    /// verifier pinned it: the warning says so).
    async fn for_credential(
        &self,
        entry: &AnchorEntry,
        issuer: &str,
    ) -> Result<(Binding, Option<String>), String> {
        let chain_id = entry.chain_id().unwrap_or_default();
        if !self.pins.allows(chain_id, entry.registry) {
            return Err(format!(
                "the anchor proof names registry {} on {}, which is not one the verifier pinned (--registry)",
                entry.registry, entry.chain
            ));
        }
        let b = self.check(&entry.binding).await?;
        if b.issuer != issuer {
            return Err(format!(
                "the binding is signed by {}, not by the credential's issuer {issuer}",
                b.issuer
            ));
        }
        if b.chain_id != chain_id {
            return Err(format!(
                "the binding names chain eip155:{}, not {}",
                b.chain_id, entry.chain
            ));
        }
        match b.registry {
            Some(r) if r == entry.registry => Ok((b, None)),
            Some(r) => Err(format!(
                "the binding names registry {r}, not the anchor proof's {}: no other registry speaks for the issuer",
                entry.registry
            )),
            None if self.pins.pinned(chain_id, entry.registry) => {
                let warning = format!(
                    "the issuer's binding names no registry (it predates registry pinning); registry {} is accepted because the verifier pinned it",
                    entry.registry
                );
                Ok((b, Some(warning)))
            }
            None => Err(format!(
                "the binding names no registry (it predates registry pinning): pin the issuer's registry with --registry {} to accept it",
                entry.registry
            )),
        }
    }
}

/// Registries a verifier knows, out of band, to speak for the issuers it
/// checks (`cairn verify --registry ADDR [--chain ID]`). Empty: any
/// registry that the issuer's binding names.
#[derive(Debug, Clone, Default)]
pub struct RegistryPins(Vec<(Option<u64>, Address)>);

impl RegistryPins {
    /// Pins `registry`, on chain `chain_id` or on any chain.
    pub fn pin(&mut self, chain_id: Option<u64>, registry: Address) {
        self.0.push((chain_id, registry));
    }

    /// Whether `registry` on `chain_id` is pinned.
    pub fn pinned(&self, chain_id: u64, registry: Address) -> bool {
        self.0
            .iter()
            .any(|(c, r)| *r == registry && c.is_none_or(|c| c == chain_id))
    }

    /// Whether `registry` may speak at all: it is pinned, or nothing is.
    pub fn allows(&self, chain_id: u64, registry: Address) -> bool {
        self.0.is_empty() || self.pinned(chain_id, registry)
    }
}

/// A check's outcome before it is reported.
type Outcome<T> = Result<T, (Status, String)>;

/// What a source (the registry through chain nodes, or a bundle's receipt
/// in a trusted block) says of the anchor a credential's entry names.
struct AnchorSeen {
    /// The account that anchored the root.
    issuer: Address,
    block_number: u64,
    /// The hash of that block, as the source knows it.
    block_hash: B256,
    timestamp: u64,
    leaf_count: u64,
    /// How the source vouches for it ("3 confirmations", "in trusted
    /// block ...").
    vouched: String,
    /// What the source could not say of the binding, if anything.
    binding_caveat: &'static str,
}

/// The anchor proof entry of `doc`; without one (`missing` says how that
/// counts) or with a malformed one, every chain check is reported and
/// `None` returned.
fn entry_or_report(
    doc: &Value,
    report: &mut Report,
    missing: (Status, &str),
) -> Option<AnchorEntry> {
    let (status, why) = match AnchorEntry::of(doc) {
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

/// The rules that tie the binding and the anchor together, whichever
/// source the facts come from: the anchor covers as many leaves as the
/// proof, it was sent from the account the issuer's binding names, and the
/// binding covers the anchor's time. Reports `binding` and `anchor` (with
/// `anchoredAt` and the backdating warning); true when both stand, so that
/// the revocation flags mean something.
fn judge(
    doc: &Value,
    entry: &AnchorEntry,
    issuer: &str,
    binding: Outcome<Binding>,
    anchor: Outcome<AnchorSeen>,
    report: &mut Report,
) -> bool {
    let anchor = anchor.and_then(|a| {
        if a.block_number != entry.block_number {
            return Err((
                Status::Fail,
                format!(
                    "the anchor proof's blockNumber {} is not the anchor's block {}",
                    entry.block_number, a.block_number
                ),
            ));
        }
        if a.block_hash != entry.block_hash {
            return Err((
                Status::Fail,
                format!(
                    "the anchor proof's blockHash {} is not block {}'s hash {}",
                    entry.block_hash, a.block_number, a.block_hash
                ),
            ));
        }
        if a.leaf_count != entry.inclusion.leaf_count {
            return Err((
                Status::Fail,
                format!(
                    "the anchor covers {} leaves, the proof says {}",
                    a.leaf_count, entry.inclusion.leaf_count
                ),
            ));
        }
        match &binding {
            Ok(b) if a.issuer != b.account => Err((
                Status::Fail,
                format!(
                    "anchored by {}, an account the issuer's binding does not name (it names {})",
                    a.issuer, b.account
                ),
            )),
            _ => Ok(a),
        }
    });
    let binding = match (binding, &anchor) {
        (Ok(b), Ok(a)) if !b.covers(time(a.timestamp)) => Err((
            Status::Fail,
            format!(
                "the binding of {} does not cover the anchor's time {}",
                b.account,
                time(a.timestamp).to_rfc3339()
            ),
        )),
        (binding, _) => binding,
    };
    match &binding {
        Ok(b) => report.add(
            "binding",
            Status::Pass,
            &format!(
                "{} speaks for {issuer}{}",
                crate::binding::account_did(b.chain_id, b.account),
                anchor.as_ref().map_or("", |a| a.binding_caveat)
            ),
        ),
        Err((s, m)) => report.add("binding", *s, m),
    }
    match &anchor {
        Ok(a) => {
            let at = time(a.timestamp);
            report.anchored_at = Some(crate::credential::fmt_time(at));
            report.add(
                "anchor",
                Status::Pass,
                &format!(
                    "block {}, {}, {}",
                    a.block_number,
                    at.to_rfc3339(),
                    a.vouched
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
    binding.is_ok() && anchor.is_ok()
}

#[cfg(feature = "chain")]
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

#[cfg(feature = "chain")]
impl ChainVerifier {
    /// Binding documents are canonicalized with `canonicalizer`: share the
    /// offline verifier's, so its processed contexts and templates serve
    /// both.
    pub fn new(reader: Arc<RegistryReader>, confirmations: u64, bindings: Arc<Bindings>) -> Self {
        Self {
            reader,
            confirmations: confirmations.max(1),
            bindings,
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

    /// The chain nodes it reads.
    pub fn reader(&self) -> &RegistryReader {
        &self.reader
    }

    /// The canonical hash of the anchor's block `number` and the chain
    /// head, after checking that the entry's `transaction` is the one that
    /// anchored `root` in that block.
    async fn anchor_block(
        &self,
        entry: &AnchorEntry,
        root: B256,
        number: u64,
    ) -> Outcome<(B256, u64)> {
        let hash = match self.reader.block_hash(number).await {
            Ok(Some(h)) => h,
            Ok(None) => {
                return Err((
                    Status::CouldNotCheck,
                    format!("the chain nodes do not have block {number} yet"),
                ))
            }
            Err(e) => return Err(read_outcome(e)),
        };
        match self
            .reader
            .anchor_transaction(entry.registry, root, entry.transaction)
            .await
        {
            Ok(Some(t)) if t.block_hash == hash => {}
            Ok(_) => {
                return Err((
                    Status::Fail,
                    format!(
                        "the anchor proof's transaction {} is not the one that anchored root {} in block {number}",
                        entry.transaction,
                        hex::encode(root)
                    ),
                ))
            }
            Err(e) => return Err(read_outcome(e)),
        }
        let head = self.reader.head().await.map_err(read_outcome)?;
        Ok((hash, head))
    }

    /// Adds the chain checks for credential `doc` to its offline `report`.
    pub async fn check(&self, doc: &Value, report: &mut Report) {
        let Some(entry) = entry_or_report(
            doc,
            report,
            (
                Status::Absent,
                "not anchored: the credential carries no anchor proof (its batch is not anchored yet, or another system issued it)",
            ),
        ) else {
            return;
        };
        check_inclusion(doc, &entry, report);

        if entry.chain_id() != Some(self.reader.chain_id()) {
            let why = format!(
                "anchored on {}, but the chain nodes serve eip155:{}",
                entry.chain,
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
            Ok((b, warning)) => match self
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
                Ok(_) => {
                    report.warnings.extend(warning);
                    Ok(b)
                }
                Err(e) => Err(read_outcome(e)),
            },
            Err(m) => Err((Status::Fail, m)),
        };

        // The anchor as the registry holds it, and how deep it is.
        let anchor = match self.reader.anchor(entry.registry, root).await {
            Ok(a) if a.issuer == Address::ZERO => Err((
                Status::Fail,
                format!(
                    "root {} was never anchored in registry {}",
                    hex::encode(entry.root),
                    entry.registry
                ),
            )),
            Ok(a) => match self.anchor_block(&entry, root, a.block_number).await {
                Err(e) => Err(e),
                Ok((block_hash, head)) => {
                    let depth = (head + 1).saturating_sub(a.block_number);
                    if depth < self.confirmations {
                        Err((
                            Status::CouldNotCheck,
                            format!("{depth} of {} confirmations so far", self.confirmations),
                        ))
                    } else {
                        Ok(AnchorSeen {
                            issuer: a.issuer,
                            block_number: a.block_number,
                            block_hash,
                            timestamp: a.timestamp,
                            leaf_count: a.leaf_count,
                            vouched: format!("{depth} confirmations"),
                            binding_caveat: "",
                        })
                    }
                }
            },
            Err(e) => Err(read_outcome(e)),
        };

        // Revocation, read only once the anchor and the binding stand.
        if !judge(doc, &entry, &issuer, binding, anchor, report) {
            report.add(
                "revocation",
                Status::CouldNotCheck,
                "the anchor or binding does not stand, so the registry's flags say nothing",
            );
            return;
        }
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
            Ok(s) if s.revoked => report.add("revocation", Status::Fail, "revoked by its issuer"),
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
    let binding = match bindings.for_credential(&entry, &issuer).await {
        Ok((b, warning)) => {
            report.warnings.extend(warning);
            Ok(b)
        }
        Err(m) => Err((Status::Fail, m)),
    };
    let facts = crate::bundle::verify(bundle, trusted, entry.registry, B256::from(entry.root));
    let block = facts.as_ref().map_or(0, |f| f.block_number);
    let anchor = facts
        .map(|f| AnchorSeen {
            issuer: f.issuer,
            block_number: f.block_number,
            block_hash: trusted,
            timestamp: f.timestamp,
            leaf_count: f.leaf_count,
            vouched: format!(
                "in trusted block {trusted} (a bundle does not prove the transaction hash)"
            ),
            binding_caveat: " (signature checked; its registration needs a chain node)",
        })
        .map_err(|e| (Status::Fail, e.to_string()));
    judge(doc, &entry, &issuer, binding, anchor, report);
    report.add(
        "revocation",
        Status::CouldNotCheck,
        &format!(
            "offline: everything above holds as of block {block}; whether the issuer revoked or suspended it since needs a chain node (--rpc-url)"
        ),
    );
}

/// What a verification checks beyond the credential itself.
#[derive(Clone)]
pub enum Anchors {
    /// The offline checks alone.
    Skip,
    /// The anchor, binding and revocation, read from chain nodes.
    #[cfg(feature = "chain")]
    Chain(Arc<ChainVerifier>),
    /// Proof bundles, against one block hash the verifier trusts, with no
    /// network.
    Bundle {
        /// The hash of the block that holds the anchor.
        trusted: B256,
    },
}

/// One verification setup: the offline checks and, as [`Anchors`] says,
/// the chain or bundle checks. `cairn verify`, the node's
/// `POST /credentials/verify` and any embedder get their verdicts here.
#[derive(Clone)]
pub struct Verification {
    offline: Arc<Verifier>,
    bindings: Arc<Bindings>,
    anchors: Anchors,
    /// Whether a credential with no anchor is short of valid.
    anchor_required: bool,
}

impl Verification {
    /// A setup checking binding documents with `bindings` (make them
    /// with `offline`'s canonicalizer, and share them with the
    /// [`ChainVerifier`]).
    pub fn new(offline: Arc<Verifier>, bindings: Arc<Bindings>, anchors: Anchors) -> Self {
        Self {
            offline,
            bindings,
            anchors,
            anchor_required: false,
        }
    }

    /// The same setup, requiring an anchor (`cairn verify --require-anchor`,
    /// `options.checks` naming `anchor`): a credential that carries none,
    /// or whose anchor cannot be checked, is not valid. Without it, a
    /// signed credential with no anchor yet is judged on its other checks.
    pub fn requiring_anchor(mut self, required: bool) -> Self {
        self.anchor_required = required;
        self
    }

    /// The same setup with other anchor checks (a node reads the chain
    /// afresh for every request).
    pub fn with_anchors(&self, anchors: Anchors) -> Self {
        Self {
            offline: self.offline.clone(),
            bindings: self.bindings.clone(),
            anchors,
            anchor_required: self.anchor_required,
        }
    }

    /// The binding documents' checks (and the registry pins).
    pub fn bindings(&self) -> &Arc<Bindings> {
        &self.bindings
    }

    /// The offline verifier.
    pub fn offline(&self) -> &Verifier {
        &self.offline
    }

    /// Verifies one document as JSON bytes (a file, an NDJSON line).
    pub async fn verify_bytes(&self, bytes: &[u8], at: DateTime<Utc>) -> Report {
        match crate::verification::parse(bytes) {
            Ok(doc) => self.verify(&doc, at).await,
            Err(report) => *report,
        }
    }

    /// Verifies one document, a credential or a proof bundle
    /// (`{verifiableCredential, anchorBundle}`), as of `at`: the offline
    /// checks, then the anchor checks.
    pub async fn verify(&self, document: &Value, at: DateTime<Utc>) -> Report {
        let (credential, bundle) = split_bundle(document);
        let mut report = self.offline.verify_value(credential, at).await;
        self.check_anchor(credential, bundle, &mut report).await;
        self.check_embedded(credential, at, &mut report).await;
        report
    }

    /// A `ClrCredential`'s embedded credentials, each verified as one on
    /// its own (its proofs, its anchor, its status): the CLR is valid only
    /// if every one is. Other documents have none; nothing is added.
    pub async fn check_embedded(&self, credential: &Value, at: DateTime<Utc>, report: &mut Report) {
        let offline = self.embedded_offline(credential, at).await;
        self.finish_embedded(credential, offline, report).await;
    }

    /// The offline half of [`Verification::check_embedded`]: CPU work, for
    /// a caller that runs it on its own workers. `None` for a document that
    /// embeds nothing; `Err(n)` when it embeds too many (`n`).
    pub async fn embedded_offline(
        &self,
        credential: &Value,
        at: DateTime<Utc>,
    ) -> Option<Result<Vec<Report>, usize>> {
        let embedded = crate::credential::clr_credentials(credential)?;
        if embedded.len() > MAX_EMBEDDED {
            return Some(Err(embedded.len()));
        }
        let mut reports = Vec::with_capacity(embedded.len());
        for vc in embedded {
            reports.push(match vc {
                Value::Object(_) => self.offline.verify_value(vc, at).await,
                _ => Report::unreadable(
                    "not a credential object (an enveloped credential is not read)",
                ),
            });
        }
        Some(Ok(reports))
    }

    /// The rest of [`Verification::check_embedded`]: each embedded
    /// credential's anchor checks, then the record's own check.
    pub async fn finish_embedded(
        &self,
        credential: &Value,
        offline: Option<Result<Vec<Report>, usize>>,
        report: &mut Report,
    ) {
        let (Some(embedded), Some(offline)) =
            (crate::credential::clr_credentials(credential), offline)
        else {
            return;
        };
        let reports = match offline {
            Ok(r) if r.len() == embedded.len() => r,
            Ok(_) | Err(_) => {
                report.add(
                    "embedded-credentials",
                    Status::Fail,
                    &format!(
                        "{} credentials: at most {MAX_EMBEDDED} are verified",
                        embedded.len()
                    ),
                );
                return;
            }
        };
        let mut failed = Vec::new();
        let mut unknown = 0;
        for (vc, mut r) in embedded.into_iter().zip(reports) {
            if vc.is_object() {
                self.check_anchor(vc, None, &mut r).await;
            }
            let name = crate::credential::display_name(vc);
            match r.verdict {
                Verdict::Valid => {}
                Verdict::Unknown => unknown += 1,
                Verdict::Invalid => failed.push(format!(
                    "{} ({}): {}",
                    name.as_deref().unwrap_or("unnamed"),
                    r.id.as_deref().unwrap_or("no id"),
                    serde_json::to_value(r.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )),
            }
            report.credentials.push(Embedded { name, report: r });
        }
        let count = report.credentials.len();
        if !failed.is_empty() {
            report.add("embedded-credentials", Status::Fail, &failed.join("; "));
        } else if unknown > 0 {
            report.add(
                "embedded-credentials",
                Status::CouldNotCheck,
                &format!("{unknown} of {count} could not be checked in full"),
            );
        } else {
            report.add(
                "embedded-credentials",
                Status::Pass,
                &format!("{count} valid"),
            );
        }
    }

    /// The checks after the offline ones, for a caller that ran
    /// [`Verifier::verify_value`] elsewhere (a node runs CPU work on its
    /// own workers).
    pub async fn check_anchor(
        &self,
        credential: &Value,
        bundle: Option<&Value>,
        report: &mut Report,
    ) {
        match &self.anchors {
            Anchors::Skip => {}
            #[cfg(feature = "chain")]
            Anchors::Chain(chain) => chain.check(credential, report).await,
            Anchors::Bundle { trusted } => match bundle {
                Some(bundle) => {
                    check_bundle(&self.bindings, credential, bundle, *trusted, report).await
                }
                None => report.add(
                    "anchor",
                    Status::CouldNotCheck,
                    "not a proof bundle: make one with `cairn bundle`, or verify with --rpc-url",
                ),
            },
        }
        if self.anchor_required {
            report.require("anchor");
        }
    }
}

impl Verification {
    /// Verifies a presentation: the holder's proof, `challenge` and `domain`
    /// as `options` ask, and every credential inside with all its checks
    /// (offline, then the anchor checks this setup makes).
    pub async fn verify_presentation(
        &self,
        vp: &Value,
        options: &crate::presentation::PresentationOptions,
        at: DateTime<Utc>,
    ) -> crate::presentation::PresentationReport {
        let mut report = crate::presentation::verify_offline(&self.offline, vp, options, at).await;
        self.check_presented(vp, &mut report).await;
        report
    }

    /// The anchor checks of a presentation's credentials, for a caller that
    /// ran [`crate::presentation::verify_offline`] elsewhere.
    pub async fn check_presented(
        &self,
        vp: &Value,
        report: &mut crate::presentation::PresentationReport,
    ) {
        let presented = crate::presentation::presented(vp);
        for (vc, credential) in presented.into_iter().zip(report.credentials.iter_mut()) {
            self.check_anchor(vc, None, credential).await;
        }
        report.finish();
    }
}

/// A credential, and its anchor bundle when `doc` is a proof bundle
/// (`{verifiableCredential, anchorBundle}`, as `cairn bundle` writes).
pub fn split_bundle(doc: &Value) -> (&Value, Option<&Value>) {
    match (doc.get("verifiableCredential"), doc.get("anchorBundle")) {
        (Some(vc), Some(bundle)) => (vc, Some(bundle)),
        _ => (doc, None),
    }
}
