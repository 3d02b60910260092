//! The running node: its parts, and issuance from a request to a stored
//! credential. How it starts and stops is `startup`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use alloy::primitives::Address;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::achievements::{self, ClassError, ClassRecord, ClassVersion, HeldImage};
use crate::anchor::{AnchorError, RpcChain};
use crate::config::Settings;
use crate::issuer::{SignError, Signer};
use crate::key::IssuerKey;
use crate::metrics::Metrics;
use crate::pipeline::Intake;
use crate::pool::Pool;
use crate::store::{NewCredential, Store, StoreError};
use crate::tokens::Tokens;
use cairn_verifier::chain_verification::{
    Anchors, Bindings, ChainVerifier, RegistryPins, Verification,
};
use cairn_verifier::context::Contexts;
use cairn_verifier::credential::{fmt_time, FieldError, IssuerProfile};
use cairn_verifier::verification::Verifier;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Key(#[from] crate::key::KeyError),
    #[error("{0}")]
    Tokens(#[from] crate::tokens::TokenError),
    #[error("{0}")]
    DevChain(#[from] crate::devchain::DevChainError),
    #[error("{0}")]
    Chain(#[from] AnchorError),
    #[error("{0}")]
    Binding(#[from] cairn_verifier::binding::BindingError),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the store's status permutation key is damaged")]
    PermutationKey,
    #[error("the chain is not connected yet")]
    NotConnected,
    #[error("proof bundle: {0}")]
    Bundle(#[from] cairn_verifier::bundle::BundleError),
    #[error("signing a status list: {0}")]
    StatusList(String),
    #[error("{0}")]
    Busy(#[from] crate::pool::PoolError),
    #[error("{0}")]
    Notify(#[from] crate::notifications::NotifyError),
    #[error("--key needs its passphrase in CAIRN_PASSPHRASE or CAIRN_PASSPHRASE_FILE{}", .0.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Passphrase(Option<String>),
    #[error("the dev chain registry landed at {deployed}, not {expected}: the issuer account was used before")]
    DevRegistry {
        deployed: Address,
        expected: Address,
    },
    #[error("--contract {registry}: no contract there on chain {chain_id} (deploy one with `cairn contract deploy`)")]
    NoContract { registry: Address, chain_id: u64 },
    #[error("--context {url}={}: {reason}", .path.display())]
    Context {
        url: String,
        path: std::path::PathBuf,
        reason: String,
    },
}

/// The chain the node anchors on, once connected.
#[derive(Debug, Clone)]
pub struct ChainInfo {
    /// CAIP-2, `eip155:<id>`.
    pub chain: String,
    pub chain_id: u64,
    pub registry: Address,
    pub account: Address,
    pub dev: bool,
}

/// Why an issuance request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The request is malformed; the field is named (relative to the
    /// credential).
    #[error("{0}")]
    Field(#[from] FieldError),
    #[error("credential {0} exists already")]
    Duplicate(String),
    /// The store failed (a full disk, say).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// No worker took the job in time.
    #[error("{0}")]
    Busy(#[from] crate::pool::PoolError),
    #[error("{0}")]
    Internal(String),
}

/// A status list slot taken for an issuance: given back unless the
/// credential that holds it is stored.
struct SlotLease<'a> {
    store: &'a Store,
    slot: u64,
}

impl SlotLease<'_> {
    /// The credential holding the slot goes to the store: from here on it
    /// may be stored even if the request is dropped, so the slot is no
    /// longer given back on drop; the caller gives it back if the write
    /// fails.
    fn hand_over(self) -> u64 {
        let slot = self.slot;
        std::mem::forget(self);
        slot
    }
}

impl Drop for SlotLease<'_> {
    fn drop(&mut self) {
        self.store.return_status_slot(self.slot);
    }
}

/// What the node keeps beside a credential it issues, never in it.
#[derive(Debug, Default)]
pub struct Beside {
    /// How to reach the earner (`options.recipientEmail`).
    pub contact: Option<crate::store::Contact>,
    /// The earner, when the credential's subject does not say (`mailto:`).
    pub earner: Option<String>,
    /// The credentials a certification counts (see `certification`).
    pub counts: Vec<String>,
    /// Makes it an award its earner may claim into a wallet.
    pub award: Option<crate::store::NewAward>,
    /// The award this credential claims (see `wallets`).
    pub claims: Option<String>,
}

/// Why a certification was not issued.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    #[error("{0}")]
    Class(#[from] ClassError),
    #[error("the requirements are not met")]
    NotMet(Box<crate::certification::Progress>),
    #[error("{0}")]
    Issue(#[from] IssueError),
}

/// A certification and the learner record it was earned with.
pub struct Certified {
    pub certification: Value,
    pub record: Value,
}

/// An earner as `/earners/{id}` names them (a DID, or an email address)
/// in the form the earner index keeps.
pub fn earner_key(id: &str) -> Result<String, FieldError> {
    let id = id.trim();
    if id.starts_with("did:") {
        return Ok(id.to_owned());
    }
    match id.strip_prefix("mailto:").unwrap_or(id).parse() {
        Ok(cairn_verifier::credential::Recipient::Email(e)) => {
            Ok(format!("mailto:{}", e.to_lowercase()))
        }
        _ => Err(FieldError::new(
            "id",
            "must be the earner's DID or email address",
        )),
    }
}

/// How an accepted issuance request ended.
pub enum Issued {
    /// Signed and stored now: the credential, and its JSON as stored.
    New(Value, Vec<u8>),
    /// Stored before, under the same idempotency key: the stored credential.
    Replayed(Value),
}

pub struct Node {
    pub settings: Settings,
    pub store: Arc<Store>,
    pub signer: Arc<Signer>,
    /// Offline checks (`verification()` adds the chain's).
    verification: Verification,
    pub pool: Pool,
    /// Per-client limits of the endpoints that need no token.
    pub clients: crate::limits::ClientLimits,
    pub tokens: Tokens,
    /// Console sessions (in memory).
    pub sessions: crate::sessions::Sessions,
    /// Analytics counted and not yet written.
    pub analytics: crate::analytics::Counter,
    /// Held while counts move from memory to the store, and while a report
    /// reads both: a report never sees counts that are in neither.
    analytics_moving: std::sync::Mutex<()>,
    pub metrics: Arc<Metrics>,
    /// What the pipeline's tasks share with the node.
    pub parts: Arc<crate::pipeline::Parts>,
    pub intake: OnceLock<Intake>,
    pub chain: OnceLock<ChainInfo>,
    /// The chain node the node anchors through, for proof bundles.
    pub chain_provider: OnceLock<alloy::providers::DynProvider>,
    /// Proof bundles by anchor transaction (a batch's never changes, short of
    /// a reorganisation, which gives a new transaction).
    bundles: std::sync::Mutex<HashMap<alloy::primitives::B256, Arc<Value>>>,
    /// The chain checks of `POST /credentials/verify`.
    chain_verifier: OnceLock<ChainVerifier>,
    /// The issuer's chain account (from its key).
    pub account: Address,
    /// Binding documents by `<chain>/<account>`.
    bindings: RwLock<HashMap<String, Arc<Value>>>,
    /// The URL the node is reached at, for the status list URLs it writes
    /// into credentials (`--public-url`, else its listening address).
    pub base_url: OnceLock<String>,
    permutation: cairn_verifier::statuslist::IndexPermutation,
    /// The newest built version of each status list: (status version it
    /// reflects, its store key).
    status_lists: tokio::sync::Mutex<HashMap<(u64, Purpose), (u64, String)>>,
    /// The issuer as credentials name it (`PUT /issuer`, else the key's name).
    profile: RwLock<Arc<IssuerProfile>>,
    /// Serializes changes to badge classes (each a read, then a write).
    class_changes: tokio::sync::Mutex<()>,
}

use cairn_verifier::statuslist::Purpose;

use crate::published::binding_key;
use crate::published::stored_profile;

impl Node {
    /// How `POST /credentials/verify` checks a credential: offline, and
    /// against the chain once it is connected, read afresh so that a
    /// revocation is never served stale.
    pub fn verification(&self) -> Verification {
        match self.chain_verifier.get() {
            Some(chain) => self
                .verification
                .with_anchors(Anchors::Chain(Arc::new(chain.with_fresh_reader()))),
            None => self.verification.clone(),
        }
    }

    /// Opens the store and tokens and prepares the signer. The chain is
    /// connected later, by [`run`].
    pub fn open(settings: Settings, key: &IssuerKey) -> Result<Arc<Self>, NodeError> {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| NodeError::DataDir {
            path: settings.data_dir.clone(),
            source,
        })?;
        let store = Arc::new(Store::open(&settings.data_dir.join("store"))?);
        store.set_claim_key(&crate::store::claim_key_file(
            &settings.data_dir.join("claim.key"),
        )?);
        let tokens = Tokens::open(&settings.data_dir)?;
        let profile = IssuerProfile {
            id: key.identity.did.clone(),
            name: key.identity.name.clone().map(Into::into),
            ..Default::default()
        };
        let mut contexts = Contexts::standard();
        for (url, path) in &settings.contexts {
            let failed = |reason: String| NodeError::Context {
                url: url.clone(),
                path: path.clone(),
                reason,
            };
            let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
            contexts = contexts
                .with_extension(url, &text)
                .map_err(|e| failed(e.to_string()))?;
        }
        let signer = Arc::new(
            Signer::new(key, profile.clone(), contexts.clone())
                .allowing_vocab(settings.allow_vocab),
        );
        let profile = match stored_profile(&store)? {
            Some(stored) => stored.embedded(),
            None => profile,
        };
        let offline = Arc::new(Verifier::new(contexts));
        let bindings = Arc::new(Bindings::new(
            offline.canonicalizer().clone(),
            RegistryPins::default(),
        ));
        let verification = Verification::new(offline, bindings, Anchors::Skip);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let metrics = Arc::new(Metrics::new());
        metrics.issued.inc_by(store.issued());
        let permutation_key: [u8; 32] = match store.meta("status-permutation-key")? {
            Some(k) => k.try_into().map_err(|_| NodeError::PermutationKey)?,
            None => {
                let mut k = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
                store.put_meta("status-permutation-key", &k)?;
                k
            }
        };
        let parts = Arc::new(crate::pipeline::Parts::new(
            store.clone(),
            metrics.clone(),
            &settings,
        ));
        let node = Arc::new(Self {
            settings,
            store,
            signer,
            verification,
            pool: Pool::new(threads),
            clients: Default::default(),
            tokens,
            sessions: Default::default(),
            analytics: Default::default(),
            analytics_moving: Default::default(),
            metrics,
            parts,
            intake: OnceLock::new(),
            chain: OnceLock::new(),
            chain_verifier: OnceLock::new(),
            chain_provider: OnceLock::new(),
            bundles: std::sync::Mutex::new(HashMap::new()),
            account: crate::key::eth_address(key.account_key().verifying_key())
                .parse()
                .expect("an EIP-55 address parses"),
            bindings: RwLock::new(HashMap::new()),
            base_url: OnceLock::new(),
            permutation: cairn_verifier::statuslist::IndexPermutation::new(permutation_key),
            status_lists: tokio::sync::Mutex::new(HashMap::new()),
            profile: RwLock::new(Arc::new(profile)),
            class_changes: tokio::sync::Mutex::new(()),
        });
        let _ = node.intake.set(Intake::start(node.parts.clone()));
        Ok(node)
    }

    /// From now on, `verification()` also checks credentials against the
    /// chain `reader` reads.
    pub fn verify_against(&self, reader: cairn_verifier::registry::RegistryReader) {
        let _ = self.chain_verifier.set(ChainVerifier::new(
            Arc::new(reader),
            self.settings.confirmations,
            self.verification.bindings().clone(),
        ));
    }

    /// The chain head, as last seen.
    pub fn head(&self) -> u64 {
        self.parts.head()
    }

    /// The id a request gets from its idempotency key and position: the same
    /// retried request gets the same id, so the store refuses a second copy.
    pub fn idempotent_id(key: &str, index: usize) -> String {
        let digest = Sha256::new()
            .chain_update(b"cairn idempotency\0")
            .chain_update(key.as_bytes())
            .chain_update(b"\0")
            .chain_update(index.to_be_bytes())
            .finalize();
        let bytes: [u8; 16] = digest[..16].try_into().expect("16 bytes");
        uuid::Uuid::new_v8(bytes).urn().to_string()
    }

    /// Completes an unsigned credential from a request: an id when it has
    /// none, this issuer's profile, `validFrom` now.
    fn complete(
        &self,
        mut credential: Value,
        id: Option<String>,
    ) -> Result<(Value, Option<SlotLease<'_>>), IssueError> {
        let obj = credential
            .as_object_mut()
            .ok_or_else(|| FieldError::new("", "must be a JSON object"))?;
        if !obj.contains_key("id") {
            let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().urn().to_string());
            obj.insert("id".into(), json!(id));
        }
        if let Some(id) = obj.get("id").and_then(Value::as_str) {
            self.check_id(id)?;
        }
        self.profile().name_in(obj)?;
        let v1 = cairn_verifier::credential::is_v1(&Value::Object(obj.clone()));
        let now = fmt_time(chrono::Utc::now());
        if v1 {
            obj.entry("issuanceDate").or_insert_with(|| json!(now));
            // A Data Integrity proof on a VC 1.1 credential needs its terms
            // from the Data Integrity context (VC 2.0's includes them).
            if let Some(c @ Value::String(_)) = obj.get_mut("@context") {
                *c = Value::Array(vec![c.take()]);
            }
            if let Some(Value::Array(contexts)) = obj.get_mut("@context") {
                let di = json!(cairn_verifier::context::DATA_INTEGRITY_V2);
                if !contexts.contains(&di) {
                    contexts.push(di);
                }
            }
        } else {
            obj.entry("validFrom").or_insert_with(|| json!(now));
        }
        // The node's status list entries, after any of the issuer's own.
        // Their terms are VC 2.0's: a VC 1.1 credential keeps only what it
        // brings (the registry's bitmaps still revoke it).
        let mut status: Vec<Value> = match obj.remove("credentialStatus") {
            None => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(one) => vec![one],
        };
        // The node's lists are the node's: an entry of the caller's naming
        // one could aim a revocation at another credential's bit.
        for (i, entry) in status.iter().enumerate() {
            for member in ["id", "statusListCredential"] {
                if let Some(url) = entry.get(member).and_then(Value::as_str) {
                    self.check_id(url).map_err(|e| {
                        FieldError::new(format!("credentialStatus[{i}].{member}"), e.reason)
                    })?;
                }
            }
        }
        let slot = match v1 {
            true => None,
            false => Some(SlotLease {
                store: &self.store,
                slot: self.store.next_status_slot()?,
            }),
        };
        if let Some(slot) = &slot {
            let (list, index) = self.permutation.slot(slot.slot);
            if let Value::Array(ours) =
                cairn_verifier::statuslist::entries(self.base_url(), list, index)
            {
                status.extend(ours);
            }
        }
        // 1EdTech's revocation list and refresh service, for displayers that
        // know no other status type; the chain's bitmaps stay the authority.
        if self.settings.onedtech_status
            && !v1
            && cairn_verifier::credential::is_badge_type(obj.get("type"))
        {
            let base = self.base_url().trim_end_matches('/').to_owned();
            status.push(
                json!({"id": format!("{base}/revocations"), "type": "1EdTechRevocationList"}),
            );
            let id = obj
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            obj.entry("refreshService").or_insert_with(|| {
                json!({
                    "id": format!("{base}/credentials/{}/refresh", cairn_verifier::credential::path_segment(&id)),
                    "type": "1EdTechCredentialRefresh",
                })
            });
            if let Some(Value::Array(contexts)) = obj.get_mut("@context") {
                let ext = json!(cairn_verifier::context::OB_EXTENSIONS);
                if !contexts.contains(&ext) {
                    contexts.push(ext);
                }
            }
        }
        match status.len() {
            0 => {}
            1 => {
                obj.insert("credentialStatus".into(), status.pop().expect("one"));
            }
            _ => {
                obj.insert("credentialStatus".into(), Value::Array(status));
            }
        }
        Ok((credential, slot))
    }

    /// Refuses an id in the node's own URL space: a credential stored under
    /// it could be served in place of a node document (a status list).
    fn check_id(&self, id: &str) -> Result<(), FieldError> {
        let base = format!("{}/", self.base_url().trim_end_matches('/'));
        let lower = id.to_ascii_lowercase();
        if lower.starts_with(&base.to_ascii_lowercase()) {
            return Err(FieldError::new(
                "id",
                format!("`{id}` is under this node's own URL {base}; choose another id (or none: the node assigns one)"),
            ));
        }
        Ok(())
    }

    /// Issues one credential: completes, signs (on a worker), stores
    /// (durably) and queues it for a batch. With an idempotency key, a
    /// credential already stored under the same id is returned instead.
    pub async fn issue(
        self: &Arc<Self>,
        credential: Value,
        idempotency: Option<(&str, usize)>,
        beside: Beside,
    ) -> Result<Issued, IssueError> {
        let derived = idempotency.map(|(key, i)| Self::idempotent_id(key, i));
        let (credential, slot) = self.complete(credential, derived)?;
        let id = credential["id"]
            .as_str()
            .ok_or_else(|| IssueError::Field(FieldError::new("id", "must be a string")))?
            .to_owned();
        let replay = |node: &Self| -> Result<Issued, IssueError> {
            match node.store.credential(&id) {
                Ok(Some(c)) if idempotency.is_some() => Ok(Issued::Replayed(c)),
                Ok(_) => Err(IssueError::Duplicate(id.clone())),
                Err(e) => Err(e.into()),
            }
        };
        if self.store.contains(&id)? {
            return replay(self);
        }
        let signer = self.signer.clone();
        let signed = self
            .pool
            .run(move || async move {
                let signed = signer.sign(credential).await?;
                let new = NewCredential::new(&signed)
                    .map_err(|e| SignError::Field(FieldError::new("credential", e.to_string())))?;
                Ok::<_, SignError>((signed, new))
            })
            .await?;
        let (signed, mut new) = signed.map_err(|e| match e {
            SignError::Field(f) => IssueError::Field(f),
            SignError::JsonLd(m) => IssueError::Field(FieldError::new("", m)),
            SignError::Signature(e) => IssueError::Internal(e.to_string()),
        })?;
        if let Some(earner) = beside.earner {
            new.earner = Some(earner);
        } else if new.earner.is_none() {
            new.earner = beside
                .contact
                .as_ref()
                .map(|c| format!("mailto:{}", c.email.to_lowercase()));
        }
        new.contact = beside.contact;
        new.counts = beside.counts;
        new.award = beside
            .award
            .map(|award| self.store.prepare_award(&new.id, &award));
        new.claims = beside.claims;
        let intake = self.intake.get().expect("the intake starts with the node");
        let json = new.json.clone();
        let slot = slot.map(SlotLease::hand_over);
        match intake.submit(new).await {
            Ok(_) => Ok(Issued::New(signed, json)),
            Err(e) => {
                // Not stored (a duplicate id, a failed write): the slot is
                // free again, once it is sure the write did not land.
                if let Some(slot) = slot {
                    let absent = matches!(
                        e,
                        StoreError::Duplicate(_)
                            | StoreError::Counted { .. }
                            | StoreError::Claimed { .. }
                            | StoreError::Unclaimable { .. }
                    );
                    self.store.return_unstored_slot(slot, &id, absent);
                }
                match e {
                    StoreError::Duplicate(_) => replay(self),
                    e => Err(e.into()),
                }
            }
        }
    }

    /// The credential with its proof bundle (see `bundle`), once anchored.
    pub async fn bundle(&self, id: &str) -> Result<Option<Value>, NodeError> {
        let Some(vc) = self.current_form(id)? else {
            return Ok(None);
        };
        let Some(anchor) = self
            .store
            .placement(id)?
            .and_then(|p| p.record.anchor().cloned())
        else {
            return Ok(None);
        };
        let cached = self
            .bundles
            .lock()
            .expect("bundles lock")
            .get(&anchor.transaction)
            .cloned();
        let bundle = match cached {
            Some(b) => b,
            None => {
                let provider = self.chain_provider.get().ok_or(NodeError::NotConnected)?;
                let b =
                    Arc::new(cairn_verifier::bundle::build(provider, anchor.transaction).await?);
                let mut cache = self.bundles.lock().expect("bundles lock");
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(anchor.transaction, b.clone());
                b
            }
        };
        Ok(Some(
            json!({"verifiableCredential": vc, "anchorBundle": *bundle}),
        ))
    }

    pub fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map_or("http://127.0.0.1:8080", String::as_str)
    }

    /// Counts `event` for `credential` (for its badge class too); not for
    /// the credential itself when the reader asked not to be tracked.
    pub fn count(&self, event: crate::analytics::Event, credential: &Value, tracked: bool) {
        self.analytics.count(
            event,
            &self.class_of(credential),
            credential["id"].as_str().filter(|_| tracked),
        );
    }

    /// What a credential was issued from: its badge class's handle, or the
    /// id of an achievement that is no class here; empty for none.
    pub fn class_of(&self, credential: &Value) -> String {
        let achievement = credential["credentialSubject"]["achievement"]["id"]
            .as_str()
            .unwrap_or_default();
        match crate::achievements::parse_reference(achievement, self.base_url()) {
            Some((handle, _)) => handle,
            None => achievement.to_owned(),
        }
    }

    /// The chain account's balance and the chain's gas price (wei), when
    /// the chain answers.
    pub async fn account_funds(&self) -> Option<(alloy::primitives::U256, u128)> {
        use alloy::providers::Provider;
        let provider = self.chain_provider.get()?;
        let balance = provider.get_balance(self.account).await.ok()?;
        let price = provider.get_gas_price().await.ok()?;
        Some((balance, price))
    }

    /// Writes the analytics counted so far; after a failed write they wait
    /// for the next one.
    pub fn flush_analytics(&self) {
        let _moving = self.analytics_moving.lock().expect("analytics lock");
        let counts = self.analytics.take();
        if let Err(e) = self.store.add_counts(&counts) {
            tracing::warn!(error = %e, "analytics not written; they wait for the next write");
            self.analytics.put_back(counts);
        }
    }

    /// Every count of days `from..=to`, written or not, of the badge class
    /// `handle` or of all.
    pub fn counts(
        &self,
        from: i32,
        to: i32,
        handle: Option<&str>,
    ) -> Result<Vec<(crate::analytics::Key, u64)>, StoreError> {
        let _moving = self.analytics_moving.lock().expect("analytics lock");
        let mut rows = self.store.counts(from, to)?;
        rows.extend(self.analytics.pending(from, to));
        if let Some(h) = handle {
            rows.retain(|(k, _)| k.achievement == h);
        }
        Ok(rows)
    }

    /// The signed status list `list` for `purpose`, current as of the last
    /// status change, with its anchor proof once anchored; `None` for a list
    /// no credential uses yet. Each new version is signed once and queued
    /// for the next batch, so any mirror's copy can be checked against the
    /// chain.
    pub async fn status_list(
        self: &Arc<Self>,
        list: u64,
        purpose: Purpose,
    ) -> Result<Option<Value>, NodeError> {
        use cairn_verifier::statuslist::LIST_SIZE;
        // Checked: a list number from a URL may be anything.
        let first = list.checked_sub(1).and_then(|l| l.checked_mul(LIST_SIZE));
        if first.is_none_or(|first| first >= self.store.status_slots_reserved()) {
            return Ok(None);
        }
        // One builder at a time: a burst of readers after a change signs the
        // new version once.
        let mut lists = self.status_lists.lock().await;
        let version = self.store.status_version()?;
        if let Some((built, key)) = lists.get(&(list, purpose)) {
            if *built == version {
                return Ok(self.current_form(key)?);
            }
        }
        let mut bits = cairn_verifier::statuslist::empty();
        let wanted = match purpose {
            Purpose::Revocation => crate::store::CredentialStatus::Revoked,
            Purpose::Suspension => crate::store::CredentialStatus::Suspended,
        };
        for (id, record) in self.store.statuses()? {
            if record.status != wanted {
                continue;
            }
            let Some(credential) = self.store.credential(&id)? else {
                continue;
            };
            // A VC 1.1 credential has no entry of the node's (only, maybe,
            // its issuer's own).
            if cairn_verifier::credential::is_v1(&credential) {
                continue;
            }
            if let Some((l, index)) = cairn_verifier::statuslist::entry_of(&credential, purpose) {
                if l == list {
                    cairn_verifier::statuslist::set(&mut bits, index);
                }
            }
        }
        let unsigned = cairn_verifier::statuslist::list_credential(
            self.base_url(),
            list,
            purpose,
            &bits,
            &self.signer.profile().id,
            // Dated safely in the past: a list signed on the first read
            // after a change would otherwise be "not yet valid" to a
            // verifier whose clock is a little behind the node's (wallets
            // then show the credential as revoked). `ttl` says how fresh
            // it is.
            &fmt_time(chrono::Utc::now() - cairn_verifier::statuslist::CLOCK_SKEW),
        );
        let key = format!(
            "{}?version={version}",
            unsigned["id"].as_str().unwrap_or("")
        );
        if self.store.contains(&key)? {
            lists.insert((list, purpose), (version, key.clone()));
            return Ok(self.current_form(&key)?);
        }
        let signer = self.signer.clone();
        let signed = self
            .pool
            .run(move || async move { signer.sign_document(unsigned).await })
            .await?
            .map_err(|e| NodeError::StatusList(e.to_string()))?;
        let mut leaf = NewCredential::new(&signed)?;
        leaf.id = key.clone();
        let intake = self.intake.get().expect("the intake starts with the node");
        match intake.submit(leaf).await {
            Ok(_) | Err(StoreError::Duplicate(_)) => {}
            Err(e) => return Err(e.into()),
        }
        lists.insert((list, purpose), (version, key));
        Ok(Some(signed))
    }

    /// The binding document for anchors in `registry` on `chain` from this
    /// issuer's account, if one was made (one from before bindings named
    /// their registry, for anchors made under it).
    pub fn binding(&self, chain: &str, account: Address, registry: Address) -> Option<Arc<Value>> {
        self.binding_at(binding_key(chain, account, Some(registry)))
            .or_else(|| self.binding_at(binding_key(chain, account, None)))
    }

    fn binding_at(&self, key: String) -> Option<Arc<Value>> {
        if let Some(b) = self.bindings.read().expect("bindings lock").get(&key) {
            return Some(b.clone());
        }
        let doc = Arc::new(crate::published::stored_binding(&self.store, &key)?);
        self.bindings
            .write()
            .expect("bindings lock")
            .insert(key, doc.clone());
        Some(doc)
    }

    /// Makes sure the registry holds this issuer's binding of its chain
    /// account: signs the document once (kept in the store, so a restart
    /// registers the same one), then registers it, idempotently.
    pub async fn ensure_binding(&self, chain: &RpcChain) -> Result<(), NodeError> {
        let caip2 = format!("eip155:{}", chain.chain_id());
        // Only a binding that names this registry: an older one (naming
        // none) gives way to a new document.
        let key = binding_key(&caip2, chain.account(), Some(chain.registry()));
        let doc = match self.binding_at(key.clone()) {
            Some(doc) => (*doc).clone(),
            None => {
                // A minute early: block times may run a little behind ours.
                // A binding from before documents named their registry
                // covers anchors from its own start: the new one keeps that
                // start, so the anchors made under it still verify.
                let legacy = self
                    .binding_at(binding_key(&caip2, chain.account(), None))
                    .and_then(|doc| {
                        serde_json::from_value::<cairn_verifier::binding::BindingDocument>(
                            (*doc).clone(),
                        )
                        .ok()
                    })
                    .and_then(|b| {
                        cairn_verifier::credential::parse_time(&b.valid_from, false).ok()
                    });
                let from =
                    legacy.unwrap_or_else(|| chrono::Utc::now() - chrono::Duration::minutes(1));
                let doc = self
                    .signer
                    .sign_binding(
                        chain.chain_id(),
                        chain.account(),
                        chain.registry(),
                        from,
                        None,
                    )
                    .await?;
                self.store
                    .put_meta(&key, &serde_json::to_vec(&doc).expect("JSON serializes"))?;
                doc
            }
        };
        let canonicalizer = cairn_verifier::integrity::Canonicalizer::new(Contexts::standard());
        let bound = cairn_verifier::binding::verify_binding(&canonicalizer, &doc).await?;
        let registered = chain.register_binding(bound.hash).await?;
        self.metrics
            .transactions
            .inc_by(registered.sent.len() as u64);
        tracing::info!(account = %chain.account(), transaction = %registered.transaction,
            "issuer binding registered");
        Ok(())
    }

    /// The newest form of a credential: as signed, with its anchor proof once
    /// its batch is anchored.
    pub fn current_form(&self, id: &str) -> Result<Option<Value>, StoreError> {
        crate::published::current_form(&self.store, id, |a| {
            self.binding(&a.chain, self.account, a.registry)
        })
    }

    /// What badge pages publish about the node: its URL, its chain and the
    /// URLs pages read the chain from.
    pub fn site(&self) -> crate::published::SiteRecord {
        let (chain, dev) = match self.chain.get() {
            Some(c) => (c.chain.clone(), c.dev),
            None => (
                String::new(),
                self.settings.chain == crate::config::ChainSetting::Dev,
            ),
        };
        let rpc_urls = match (&self.settings.public_rpc_urls, dev) {
            (urls, _) if !urls.is_empty() => urls.clone(),
            (_, true) => vec!["/devchain".to_owned()],
            (_, false) => Vec::new(),
        };
        crate::published::SiteRecord {
            base_url: self.base_url().to_owned(),
            chain: crate::published::PageChain {
                chain,
                rpc_urls,
                dev,
            },
            account: self.account,
            // Only export-site reads it: filled in by `record_site`, not
            // on every page view.
            issuer: Value::Null,
        }
    }

    /// Keeps [`Node::site`] in the store, for `export-site`.
    pub fn record_site(&self) -> Result<(), StoreError> {
        let mut site = self.site();
        site.issuer = self.profile_document()?;
        let site = serde_json::to_vec(&site).expect("the site record serializes");
        if self.store.meta(crate::published::SITE_KEY)?.as_deref() != Some(&site[..]) {
            self.store.put_meta(crate::published::SITE_KEY, &site)?;
        }
        Ok(())
    }

    /// The public address of a credential's badge page.
    pub fn share_url(&self, id: &str) -> String {
        format!(
            "{}{}",
            self.base_url(),
            crate::published::page_path(&self.store.share_id(id))
        )
    }

    /// The badge page behind `share`, unless there is none or it is
    /// private.
    pub fn badge_page(
        &self,
        share: &str,
    ) -> Result<Option<crate::published::BadgePage>, StoreError> {
        crate::published::badge_page(
            &self.store,
            &self.site(),
            share,
            |a| self.binding(&a.chain, self.account, a.registry),
            self.chain_provider.get().is_some(),
        )
    }

    /// The issuer as credentials name it now.
    pub fn profile(&self) -> Arc<IssuerProfile> {
        self.profile.read().expect("profile lock").clone()
    }

    /// The issuer profile document (`GET /issuer`): as set with `PUT
    /// /issuer`, else what the key file says.
    pub fn profile_document(&self) -> Result<Value, StoreError> {
        if let Some(stored) = stored_profile(&self.store)? {
            return Ok(stored.document);
        }
        let p = self.profile();
        let mut doc = json!({
            "@context": [cairn_verifier::context::CREDENTIALS_V2, cairn_verifier::context::OB_V3_0_3],
            "id": p.id,
            "type": ["Profile"],
        });
        if let Some(name) = &p.name {
            doc["name"] = name.clone();
        }
        Ok(doc)
    }

    /// The image of the issuer profile, when the node holds it.
    pub fn profile_image(
        &self,
    ) -> Result<Option<(cairn_verifier::image::ImageKind, Vec<u8>)>, StoreError> {
        let Some(stored) = stored_profile(&self.store)? else {
            return Ok(None);
        };
        match stored.image {
            Some(held) => Ok(self.store.image(&held.sha256)?.map(|b| (held.kind, b))),
            None => Ok(None),
        }
    }

    /// Replaces the issuer profile; credentials issued from now on embed it.
    pub async fn set_profile(
        &self,
        body: serde_json::Map<String, Value>,
    ) -> Result<Value, ClassError> {
        // One change at a time: the store and memory end up agreeing.
        let _one_at_a_time = self.class_changes.lock().await;
        let (stored, image) =
            achievements::read_profile(body, &self.signer.profile().id, self.base_url())?;
        // A profile every credential will embed is tried on one first.
        let mut sample = json!({
            "@context": [cairn_verifier::context::CREDENTIALS_V2, cairn_verifier::context::OB_V3_0_3],
            "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": "A sample",
            "validFrom": fmt_time(chrono::Utc::now()),
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "id": "did:example:cairn-profile-check",
                "achievement": {
                    "id": "urn:uuid:00000000-0000-4000-8000-000000000001",
                    "type": ["Achievement"],
                    "name": "A sample",
                    "description": "A sample.",
                    "criteria": {"narrative": "None."}
                }
            }
        });
        stored
            .embedded()
            .name_in(sample.as_object_mut().expect("an object"))?;
        self.try_sign(sample, "issuer").await?;
        let json = serde_json::to_vec(&stored).expect("a profile serializes");
        let image = stored.image.as_ref().zip(image.as_deref());
        self.store.put_meta_with_image(
            crate::published::PROFILE_KEY,
            &json,
            image.map(|(h, b)| (h.sha256.as_str(), b)),
        )?;
        *self.profile.write().expect("profile lock") = Arc::new(stored.embedded());
        Ok(stored.document)
    }

    fn read_class(&self, handle: &str) -> Result<Option<(ClassRecord, ClassVersion)>, ClassError> {
        let Some(record) = self.store.badge_class(handle)? else {
            return Ok(None);
        };
        let record: ClassRecord = serde_json::from_slice(&record)
            .map_err(|e| StoreError::Corrupt(format!("badge class {handle}: {e}")))?;
        let version = self
            .class_version(handle, record.version)?
            .ok_or_else(|| StoreError::Corrupt(format!("badge class {handle} lost its version")))?;
        Ok(Some((record, version)))
    }

    /// One version of a class.
    pub fn class_version(&self, handle: &str, n: u32) -> Result<Option<ClassVersion>, StoreError> {
        crate::published::class_version(&self.store, handle, n)
    }

    /// A class by reference (handle, class URL or version id), with its
    /// current version, or the version the reference names.
    pub fn class(&self, reference: &str) -> Result<(ClassRecord, ClassVersion), ClassError> {
        let unknown = || ClassError::Unknown(reference.to_owned());
        let (handle, n) =
            achievements::parse_reference(reference, self.base_url()).ok_or_else(unknown)?;
        let (record, current) = self.read_class(&handle)?.ok_or_else(unknown)?;
        match n {
            None => Ok((record, current)),
            Some(n) if n == record.version => Ok((record, current)),
            Some(n) => {
                let v = self.class_version(&handle, n)?.ok_or_else(unknown)?;
                Ok((record, v))
            }
        }
    }

    /// Every class, current versions.
    pub fn classes(&self) -> Result<Vec<(ClassRecord, ClassVersion)>, ClassError> {
        let mut out = Vec::new();
        for bytes in self.store.badge_classes()? {
            let record: ClassRecord = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("a badge class record: {e}")))?;
            if let Some(c) = self.read_class(&record.handle)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// An image the node holds.
    pub fn held_image(&self, held: &HeldImage) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.image(&held.sha256)
    }

    /// Signs a credential from `version` for a made-up recipient and throws
    /// it away: a class that could not issue is refused when it is written,
    /// naming its field, not at its first issuance.
    async fn try_class(&self, version: &ClassVersion) -> Result<(), ClassError> {
        let mut sample = achievements::credential_from(
            version,
            json!({"credentialSubject": {"id": "did:example:cairn-class-check"}}),
        )?;
        let obj = sample.as_object_mut().expect("an object");
        obj.insert(
            "id".into(),
            json!("urn:uuid:00000000-0000-4000-8000-000000000000"),
        );
        self.profile().name_in(obj)?;
        self.try_sign(sample, "credentialSubject.achievement")
            .await
            .map_err(|e| match e {
                // An undefined term: the member of the class that uses it.
                ClassError::Field(f) if f.field.is_empty() => {
                    let term = f.reason.split('`').nth(1).unwrap_or_default();
                    let field =
                        achievements::key_path(&version.achievement, term).unwrap_or_default();
                    ClassError::Field(FieldError::new(field, f.reason))
                }
                other => other,
            })
    }

    /// Signs a sample credential on a worker and throws it away: what a
    /// class or profile every later credential will carry would do to
    /// issuance shows before it is kept. A refusal names its field within
    /// `part` (`issuer`, `credentialSubject.achievement`).
    async fn try_sign(&self, sample: Value, part: &str) -> Result<(), ClassError> {
        let signer = self.signer.clone();
        let signed = self
            .pool
            .run(move || async move { signer.sign(sample).await.map(drop) })
            .await?;
        signed.map_err(|e| {
            let f = match e {
                SignError::Field(f) => f,
                SignError::JsonLd(m) => FieldError::new("", m),
                SignError::Signature(e) => FieldError::new("", e.to_string()),
            };
            let field = f
                .field
                .strip_prefix(part)
                .map(|rest| rest.trim_start_matches('.'))
                .unwrap_or(&f.field)
                .to_owned();
            ClassError::Field(FieldError::new(field, f.reason))
        })
    }

    /// Creates a class from a request body: version 1.
    pub async fn create_class(
        &self,
        body: serde_json::Map<String, Value>,
    ) -> Result<(ClassRecord, ClassVersion), ClassError> {
        let handle = uuid::Uuid::new_v4().hyphenated().to_string();
        let contexts = self.signer.contexts().clone();
        let input = achievements::read_class(body, self.base_url(), &handle, 1, None, |u| {
            contexts.knows(u)
        })?;
        self.try_class(&input.version).await?;
        let now = fmt_time(chrono::Utc::now());
        let record = ClassRecord {
            handle: handle.clone(),
            version: 1,
            created: now.clone(),
            updated: now,
            retired: None,
        };
        self.write_class(&record, Some(&input.version), input.image.as_ref())?;
        Ok((record, input.version))
    }

    /// A new version of a class; credentials issued before keep theirs.
    pub async fn update_class(
        &self,
        reference: &str,
        body: serde_json::Map<String, Value>,
    ) -> Result<(ClassRecord, ClassVersion), ClassError> {
        let _one_at_a_time = self.class_changes.lock().await;
        // An edit is of the class, held to its current version whichever
        // version's id the request names.
        let unknown = || ClassError::Unknown(reference.to_owned());
        let (handle, _) =
            achievements::parse_reference(reference, self.base_url()).ok_or_else(unknown)?;
        let (mut record, current) = self.read_class(&handle)?.ok_or_else(unknown)?;
        if record.retired.is_some() {
            return Err(ClassError::Retired(record.handle));
        }
        let contexts = self.signer.contexts().clone();
        let next = record.version + 1;
        let input = achievements::read_class(
            body,
            self.base_url(),
            &record.handle,
            next,
            Some(&current),
            |u| contexts.knows(u),
        )?;
        self.try_class(&input.version).await?;
        record.version = next;
        record.updated = fmt_time(chrono::Utc::now());
        self.write_class(&record, Some(&input.version), input.image.as_ref())?;
        Ok((record, input.version))
    }

    /// Retires a class: no more issuance from it. Retiring twice is one.
    pub async fn retire_class(
        &self,
        reference: &str,
    ) -> Result<(ClassRecord, ClassVersion), ClassError> {
        let _one_at_a_time = self.class_changes.lock().await;
        let (mut record, current) = self.class(reference)?;
        if record.retired.is_none() {
            record.retired = Some(fmt_time(chrono::Utc::now()));
            self.write_class(&record, None, None)?;
        }
        Ok((record, current))
    }

    fn write_class(
        &self,
        record: &ClassRecord,
        version: Option<&ClassVersion>,
        image: Option<&(HeldImage, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        let record_json = serde_json::to_vec(record).expect("a record serializes");
        let version_json = version.map(|v| serde_json::to_vec(v).expect("a version serializes"));
        self.store.put_badge_class(
            &record.handle,
            &record_json,
            version_json.as_deref().map(|j| (record.version, j)),
            image.map(|(h, b)| (h.sha256.as_str(), b.as_slice())),
        )
    }

    /// The unsigned credential `credential` asks for from the class
    /// `reference` names (`options.achievement`: its handle, or the id of
    /// any of its versions): always its current version, which must not be
    /// retired.
    pub fn credential_from_class(
        &self,
        reference: &str,
        credential: Value,
    ) -> Result<Value, ClassError> {
        let unknown = || ClassError::Unknown(reference.to_owned());
        let (handle, _) =
            achievements::parse_reference(reference, self.base_url()).ok_or_else(unknown)?;
        let (record, current) = self.read_class(&handle)?.ok_or_else(unknown)?;
        if record.retired.is_some() {
            return Err(ClassError::Retired(record.handle));
        }
        Ok(achievements::credential_from(&current, credential)?)
    }

    /// The unsigned renewal of credential `id` (`None`: no such credential):
    /// the same earner and achievement (the current version of its badge
    /// class, when it came from one), valid from `valid_from` (default now)
    /// until `valid_until` (default: the class's `validFor`, else as long
    /// as the old window), naming the credential it renews in
    /// `relatedResource` with the SHA-256 of its JCS form (the digest its
    /// batch commits to), so the link is to exactly that credential.
    pub fn renewal(
        &self,
        id: &str,
        valid_from: Option<chrono::DateTime<chrono::Utc>>,
        valid_until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Option<Value>, ClassError> {
        let Some(old) = self.store.credential(id)? else {
            return Ok(None);
        };
        if old.get("issuanceDate").is_some() {
            return Err(FieldError::new(
                "id",
                "a VC 1.1 credential is not renewed (its context has no relatedResource): issue a VC 2.0 one",
            )
            .into());
        }
        let related = related_to(id, &old)?;
        let from = valid_from.unwrap_or_else(chrono::Utc::now);
        let class = old["credentialSubject"]["achievement"]["id"]
            .as_str()
            .and_then(|a| achievements::parse_reference(a, self.base_url()))
            .filter(|(handle, n)| {
                n.is_some() && self.store.badge_class(handle).ok().flatten().is_some()
            });
        if let Some((handle, _)) = class {
            // The earner, not the old assessment: results are the old one's.
            let mut subject = old["credentialSubject"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            subject.retain(|k, _| ["id", "identifier", "name", "type"].contains(&k.as_str()));
            let mut given = json!({
                "credentialSubject": subject,
                "validFrom": fmt_time(from),
                "relatedResource": related,
            });
            if let Some(until) = valid_until {
                given["validUntil"] = json!(fmt_time(until));
            }
            return self.credential_from_class(&handle, given).map(Some);
        }
        let mut renewed = old.clone();
        let fields = renewed
            .as_object_mut()
            .expect("a stored credential is an object");
        for k in [
            "id",
            "proof",
            "validFrom",
            "validUntil",
            "issuer",
            "refreshService",
        ] {
            fields.remove(k);
        }
        // The issuer's own status entries go on; the node adds its own anew.
        let own = format!("{}/", self.base_url());
        if let Some(Value::Array(entries)) = fields.remove("credentialStatus") {
            let kept: Vec<Value> = entries
                .into_iter()
                .filter(|e| {
                    !["statusListCredential", "id"]
                        .iter()
                        .any(|m| e[*m].as_str().is_some_and(|u| u.starts_with(&own)))
                })
                .collect();
            if !kept.is_empty() {
                fields.insert("credentialStatus".into(), Value::Array(kept));
            }
        }
        let window = |field: &str| {
            old[field]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
        };
        let until = valid_until.or_else(|| match (window("validFrom"), window("validUntil")) {
            (Some(a), Some(b)) if b > a => Some(from + (b - a)),
            _ => None,
        });
        fields.insert("validFrom".into(), json!(fmt_time(from)));
        if let Some(until) = until {
            fields.insert("validUntil".into(), json!(fmt_time(until)));
        }
        fields.insert("relatedResource".into(), related);
        Ok(Some(renewed))
    }

    /// The image a credential's badge class version holds, to bake.
    pub fn credential_image(
        &self,
        credential: &Value,
    ) -> Result<Option<(HeldImage, Vec<u8>)>, StoreError> {
        crate::published::credential_image(&self.store, self.base_url(), credential)
    }
}

impl Node {
    /// The current version of credential `id`: its newest renewal (a
    /// renewal's renewal included), else itself; `None` if unknown.
    pub fn current_version(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let mut current = id.to_owned();
        // A chain of renewals is short; the bound only guards the store.
        for _ in 0..64 {
            match self.store.renewed_by(&current)? {
                Some(next) if next != current => current = next,
                _ => break,
            }
        }
        self.current_form(&current)
    }

    /// 1EdTech's revocation list of this issuer: every revoked credential,
    /// with its reason.
    pub fn revocation_list(&self) -> Result<Value, StoreError> {
        let revoked: Vec<Value> = self
            .store
            .statuses()?
            .into_iter()
            .filter(|(_, r)| r.status == crate::store::CredentialStatus::Revoked)
            .map(|(id, r)| {
                let mut entry = json!({ "id": id });
                if let Some(reason) = r.history.last().and_then(|c| c.reason.clone()) {
                    entry["revocationReason"] = json!(reason);
                }
                entry
            })
            .collect();
        Ok(json!({
            "id": format!("{}/revocations", self.base_url().trim_end_matches('/')),
            "issuer": self.profile().id,
            "revokedCredentials": revoked,
        }))
    }
}

/// `relatedResource` naming `old` by id and digest (the SHA-256 of its JCS
/// form), for a credential that renews it.
fn related_to(id: &str, old: &Value) -> Result<Value, FieldError> {
    use base64::Engine;
    let digest = cairn_verifier::merkle::credential_digest(old)
        .map_err(|e| FieldError::new("id", e.to_string()))?;
    Ok(json!([{
        "id": id,
        "digestSRI": format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest)),
    }]))
}

/// An earner's credentials weighed for a certification class.
struct Weighed {
    progress: crate::certification::Progress,
    candidates: Vec<crate::certification::Candidate>,
    class: ClassVersion,
    /// The certification it would renew.
    held: Option<(String, Value)>,
}

impl Node {
    /// Where `earner` stands against the requirements of the certification
    /// class `reference` names.
    pub async fn progress(
        &self,
        earner: &str,
        reference: &str,
    ) -> Result<crate::certification::Progress, ClassError> {
        Ok(self.weigh(earner, reference).await?.progress)
    }

    /// Every credential of the earner, verified in full as any verifier
    /// would (the chain's anchor, binding and status, expiry), with the
    /// node's own record of statuses not yet on chain.
    async fn weigh(&self, earner: &str, reference: &str) -> Result<Weighed, ClassError> {
        use crate::certification::{Candidate, Held, MAX_CANDIDATES};
        use cairn_verifier::verification::{Status, Verdict};
        let key = earner_key(earner)?;
        let (record, class) = self.class(reference)?;
        let Some(req) = class.requirements.clone() else {
            return Err(FieldError::new(
                "achievement",
                "this class declares no requirements: only a certification with requirements is earned by credits",
            )
            .into());
        };
        let now = chrono::Utc::now();
        let verification = self.verification();
        let mut candidates = Vec::new();
        let mut held: Option<(Held, Value)> = None;
        for id in self.store.earner_credentials(&key, MAX_CANDIDATES)? {
            let Some(vc) = self.current_form(&id)? else {
                continue;
            };
            if cairn_verifier::credential::clr_credentials(&vc).is_some() {
                continue;
            }
            let handle = vc["credentialSubject"]["achievement"]["id"]
                .as_str()
                .and_then(|a| achievements::parse_reference(a, self.base_url()))
                .map(|(h, _)| h);
            let offline = verification.clone();
            let checked = vc.clone();
            let mut report = self
                .pool
                .run_shared(
                    move || async move { offline.offline().verify_value(&checked, now).await },
                )
                .await?;
            verification.check_anchor(&vc, None, &mut report).await;
            let recorded = self.store.status(&id)?.map(|r| r.status);
            let standing = match recorded {
                Some(
                    s @ (crate::store::CredentialStatus::Revoked
                    | crate::store::CredentialStatus::Suspended),
                ) => Some(format!("{s:?}").to_lowercase()),
                _ if report.verdict != Verdict::Valid => Some(
                    serde_json::to_value(report.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "invalid".into()),
                ),
                _ => None,
            };
            if handle.as_deref() == Some(record.handle.as_str()) {
                // A certification of this class: the current one, if valid.
                let from = vc["validFrom"]
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&chrono::Utc));
                if let (None, Some(from)) = (&standing, from) {
                    if held.as_ref().is_none_or(|(h, _)| h.valid_from < from) {
                        held = Some((
                            Held {
                                id: id.clone(),
                                valid_from: from,
                            },
                            vc,
                        ));
                    }
                }
                continue;
            }
            let barred = match standing {
                Some(s) => Some(s),
                None if report.check("anchor").map(|c| c.status) != Some(Status::Pass) => {
                    Some("not anchored yet".into())
                }
                None => match self.store.renewed_by(&id)? {
                    // Its renewal stands for it: one activity counts once.
                    Some(by) => Some(format!("renewed by {by}, which counts instead")),
                    None => self.counted_in_line(&vc)?.map(|(which, by)| {
                        format!("{which} was counted for the certification {by} already")
                    }),
                },
            };
            candidates.push(Candidate {
                id,
                credential: vc,
                handle,
                barred,
            });
        }
        let achievement = class.achievement["id"].as_str().unwrap_or("").to_owned();
        let handles: Vec<String> = req
            .achievements
            .iter()
            .filter_map(|a| achievements::parse_reference(a, self.base_url()))
            .map(|(h, _)| h)
            .collect();
        let progress = crate::certification::progress(
            &req,
            &handles,
            &achievement,
            &key,
            &candidates,
            held.as_ref().map(|(h, _)| h),
            now,
        );
        Ok(Weighed {
            progress,
            candidates,
            class,
            held: held.map(|(h, vc)| (h.id, vc)),
        })
    }

    /// Whether a credential, or one it renews (and so on back), was counted
    /// for a certification: (which one, by which certification).
    fn counted_in_line(&self, vc: &Value) -> Result<Option<(String, String)>, StoreError> {
        let mut line: Vec<String> = vc["id"].as_str().map(str::to_owned).into_iter().collect();
        // Renewal chains are short; the bound guards against a loop.
        for _ in 0..16 {
            let Some(id) = line.pop() else { break };
            if let Some(by) = self.store.counted_for(&id)? {
                return Ok(Some((id, by)));
            }
            if let Some(older) = self.store.credential(&id)? {
                line.extend(
                    older["relatedResource"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r["id"].as_str().map(str::to_owned)),
                );
            }
        }
        Ok(None)
    }

    /// Issues (or renews) the certification `reference` names to `earner`
    /// once its requirements are met, with the CLR 2.0 `ClrCredential`
    /// embedding the credentials counted (each as anchored) and their
    /// associations to it. Each counted credential is marked in the
    /// certification's own write, so none counts twice.
    pub async fn certify(
        self: &Arc<Self>,
        earner: &str,
        reference: &str,
    ) -> Result<Certified, CertifyError> {
        let weighed = self.weigh(earner, reference).await?;
        if !weighed.progress.met {
            return Err(CertifyError::NotMet(Box::new(weighed.progress)));
        }
        let key = weighed.progress.earner.clone();
        let counted: Vec<&crate::certification::Candidate> = weighed
            .progress
            .counted
            .iter()
            .filter_map(|c| weighed.candidates.iter().find(|x| x.id == c.id))
            .collect();
        let subject = match key.strip_prefix("mailto:") {
            Some(email) => cairn_verifier::credential::Recipient::Email(email.to_owned()).subject(),
            None => {
                let mut s = serde_json::Map::new();
                s.insert("type".into(), json!(["AchievementSubject"]));
                s.insert("id".into(), json!(key));
                s
            }
        };
        let mut given = json!({"credentialSubject": subject});
        if let Some((id, old)) = &weighed.held {
            given["relatedResource"] = related_to(id, old).map_err(ClassError::from)?;
        }
        let unsigned =
            achievements::credential_from(&weighed.class, given).map_err(ClassError::from)?;
        // The earner's address, as given with a credential counted.
        let mut contact = None;
        for c in &counted {
            if let Some(found) = self.store.contact(&c.id).map_err(ClassError::from)? {
                contact = Some(found);
                break;
            }
        }
        let certification = match self
            .issue(
                unsigned,
                None,
                Beside {
                    contact: contact.clone(),
                    earner: Some(key.clone()),
                    counts: counted.iter().map(|c| c.id.clone()).collect(),
                    ..Beside::default()
                },
            )
            .await?
        {
            Issued::New(vc, _) | Issued::Replayed(vc) => vc,
        };
        let mut clr_subject = serde_json::Map::new();
        match certification["credentialSubject"].get("id") {
            Some(id) => {
                clr_subject.insert("id".into(), id.clone());
            }
            None => {
                if let Some(identifier) = certification["credentialSubject"].get("identifier") {
                    clr_subject.insert("identifier".into(), identifier.clone());
                }
            }
        }
        let embedded: Vec<Value> = counted.iter().map(|c| c.credential.clone()).collect();
        let record = crate::certification::learner_record(&certification, &embedded, clr_subject);
        let record = match self
            .issue(
                record,
                None,
                Beside {
                    earner: Some(key),
                    ..Beside::default()
                },
            )
            .await?
        {
            Issued::New(vc, _) | Issued::Replayed(vc) => vc,
        };
        Ok(Certified {
            certification,
            record,
        })
    }
}
