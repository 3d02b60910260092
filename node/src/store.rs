//! The node's store: RocksDB on disk, every state change one atomic, synced
//! write.
//!
//! Layout (column families):
//! - `credentials`: credential id → the signed credential, as issued (anchor
//!   proofs are assembled on reading, from the batch record and placement);
//! - `queue`: sequence number (u64, big-endian) → issuance time (i64 unix
//!   seconds, big-endian) ++ leaf digest ++ credential id, for issued
//!   credentials not yet sealed into a batch, in issuance order;
//! - `batches`: batch number (u64, big-endian) → [`BatchRecord`];
//! - `roots`: batch root → batch number;
//! - `leaves`: batch number ++ leaf index (both u64, big-endian) → credential
//!   id, the batch's leaf order;
//! - `placement`: credential id → batch number ++ leaf index ++ the
//!   inclusion path (32-byte hashes), written when the batch is sealed;
//! - `status`: credential id → [`StatusRecord`], the issuer's latest word on
//!   it (active, suspended, revoked) with its reason and history;
//! - `status_queue`: sequence number → credential id, status changes not yet
//!   confirmed on chain;
//! - `meta`: counters and node settings (the binding document, the issuer
//!   profile);
//! - `badges`: badge classes: `class/{handle}` → the class record,
//!   `version/{handle}/{n}` (n a u32, big-endian) → one version, and
//!   `image/{sha256}` → an image's bytes (kept once however many versions
//!   and profiles use it);
//! - `outbox`: events and their deliveries to webhooks and mail, and how
//!   to reach each earner (see [`outbox`]).
//!
//! Invariants this module keeps, each by writing everything in one batch:
//! a credential acknowledged by [`Store::add_credentials`] is on disk (synced
//! write-ahead log) before the call returns; sealing removes credentials from
//! the queue in the same write that places them in a batch, so none lands in
//! two batches and none is lost between them; anchoring a batch is one write
//! of its record, so every proof of the batch becomes complete at once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use cairn_verifier::merkle::{credential_digest, Batch, Hash, InclusionProof, MerkleError};
use cairn_verifier::proof::AnchorRecord;

const CREDENTIALS: &str = "credentials";
const QUEUE: &str = "queue";
const BATCHES: &str = "batches";
const ROOTS: &str = "roots";
const LEAVES: &str = "leaves";
const PLACEMENT: &str = "placement";
const META: &str = "meta";
const STATUS: &str = "status";
const STATUS_QUEUE: &str = "status_queue";
const BADGES: &str = "badges";
const OUTBOX: &str = "outbox";
const CLAIMS: &str = "claims";
const ANALYTICS: &str = "analytics";
const FAMILIES: [&str; 13] = [
    CREDENTIALS,
    QUEUE,
    BATCHES,
    ROOTS,
    LEAVES,
    PLACEMENT,
    META,
    STATUS,
    STATUS_QUEUE,
    BADGES,
    OUTBOX,
    CLAIMS,
    ANALYTICS,
];

mod analytics;
mod claims;
mod outbox;
pub use claims::{
    claim_key_file, random_secret, Award, AwardState, Exchange, NewAward, PreparedAward, Redeem,
    RedeemError,
};
pub use outbox::{Contact, Delivery, Due, Event, EventKind, Sink};

const NEXT_SEQ: &[u8] = b"next-seq";
const NEXT_BATCH: &[u8] = b"next-batch";
const ISSUED: &[u8] = b"issued";
const NEXT_STATUS_SEQ: &[u8] = b"next-status-seq";
/// Status list slots are handed out from memory and reserved on disk in
/// blocks, so issuance pays no extra write per credential; a crash skips
/// the rest of a block (an unused index is harmless).
const STATUS_SLOTS_RESERVED: &[u8] = b"status-slots-reserved";
const SLOT_BLOCK: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("store: a record is damaged ({0})")]
    Corrupt(String),
    /// The store cannot be used now (reopening it after a full disk failed).
    #[error("the store cannot be used now: {0}")]
    Unavailable(String),
    #[error("credential {0} exists already")]
    Duplicate(String),
    #[error("the credential has no string `id`")]
    NoId,
    #[error("{0}")]
    Merkle(#[from] MerkleError),
    #[error("batch {0} does not exist")]
    NoBatch(u64),
    #[error("credential {0} does not exist")]
    NoCredential(String),
    #[error("credential {0} is revoked, and revocation is final")]
    RevocationIsFinal(String),
    /// A credential already counted for a certification is never counted
    /// for another.
    #[error("credential {credential} was counted for the certification {certification} already")]
    Counted {
        credential: String,
        certification: String,
    },
    /// An award is claimed once.
    #[error("the award {award} was claimed already, as {by}")]
    Claimed { award: String, by: String },
    /// A withdrawn (revoked or suspended), expired or locked award is not
    /// claimed.
    #[error("the award {award} is {}: it cannot be claimed", .state.as_str())]
    Unclaimable { award: String, state: AwardState },
}

/// What the issuer says of a credential now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialStatus {
    Active,
    Suspended,
    Revoked,
}

/// One status change, as the issuer made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: CredentialStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// A credential's status as the node keeps it: the current one, whether the
/// chain shows it yet, and every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRecord {
    pub status: CredentialStatus,
    /// The transaction that wrote the current status on chain, once
    /// confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<alloy::primitives::B256>,
    pub history: Vec<StatusChange>,
}

/// Where a batch is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum BatchState {
    /// Sealed: root computed, not yet confirmed on chain.
    Sealed,
    /// Anchored to the configured depth; every credential's proof is
    /// complete.
    Anchored {
        anchor: AnchorRecord,
        /// Unix seconds when the anchor reached its depth.
        #[serde(rename = "anchoredAt")]
        anchored_at: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRecord {
    pub number: u64,
    #[serde(with = "hex_hash")]
    pub root: Hash,
    pub leaf_count: u64,
    /// Unix seconds when the batch was sealed.
    pub sealed_at: i64,
    #[serde(flatten)]
    pub state: BatchState,
}

impl BatchRecord {
    pub fn anchor(&self) -> Option<&AnchorRecord> {
        match &self.state {
            BatchState::Anchored { anchor, .. } => Some(anchor),
            BatchState::Sealed => None,
        }
    }
}

/// A signed credential ready to be stored: its id, its JSON and its leaf
/// digest, computed by the caller (on a worker, not under the store's lock).
pub struct NewCredential {
    pub id: String,
    pub json: Vec<u8>,
    pub digest: Hash,
    /// When it expires (`validUntil`, or VC 1.1's `expirationDate`), in
    /// Unix seconds: indexed, for `GET /credentials?expiring-before=`.
    pub valid_until: Option<i64>,
    /// What an `EndorsementCredential` endorses (its subject's id):
    /// indexed, for the badge pages of what it endorses.
    pub endorses: Option<String>,
    /// How to reach the earner, kept beside it (never in it).
    pub contact: Option<Contact>,
    /// Who earned it, for finding an earner's credentials: `did:…` (its
    /// subject's id) or `mailto:…` (the address the issuer gave).
    pub earner: Option<String>,
    /// The credentials it renews (`relatedResource`), whose current
    /// version it becomes (`GET /credentials/{id}/refresh`).
    pub renews: Vec<String>,
    /// The credentials this certification was earned with: each is marked
    /// counted in the same write, and a credential counted before refuses
    /// the whole write.
    pub counts: Vec<String>,
    /// Its award: the earner may claim it into a wallet (see `claims`,
    /// [`Store::prepare_award`]).
    pub award: Option<PreparedAward>,
    /// The award it was claimed with, which it marks claimed in the same
    /// write (an award claimed before refuses the whole write).
    pub claims: Option<String>,
}

impl NewCredential {
    pub fn new(credential: &Value) -> Result<Self, StoreError> {
        let id = credential
            .get("id")
            .and_then(Value::as_str)
            .ok_or(StoreError::NoId)?
            .to_owned();
        Ok(Self {
            id,
            json: serde_json::to_vec(credential).expect("JSON serializes"),
            digest: credential_digest(credential)?,
            valid_until: valid_until(credential),
            endorses: endorses(credential),
            contact: None,
            earner: earner_of(credential),
            counts: Vec::new(),
            renews: renews_of(credential),
            award: None,
            claims: None,
        })
    }
}

/// The earner a credential names itself: its subject's DID.
fn earner_of(credential: &Value) -> Option<String> {
    credential["credentialSubject"]["id"]
        .as_str()
        .filter(|s| s.starts_with("did:"))
        .map(str::to_owned)
}

/// The credentials a credential renews: its `relatedResource` ids.
fn renews_of(credential: &Value) -> Vec<String> {
    match &credential["relatedResource"] {
        Value::Array(a) => a
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect(),
        Value::Object(r) => r
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// The subject of an Open Badges `EndorsementCredential`.
fn endorses(credential: &Value) -> Option<String> {
    let endorsement = match credential.get("type")? {
        Value::Array(types) => types.iter().any(|t| t == "EndorsementCredential"),
        t => t == "EndorsementCredential",
    };
    endorsement
        .then(|| {
            credential["credentialSubject"]["id"]
                .as_str()
                .map(str::to_owned)
        })
        .flatten()
}

/// The endorsement index's key: what is endorsed, NUL, the endorsement.
fn endorsement_key(subject: &str, id: &str) -> Vec<u8> {
    [
        b"endorsement/".as_slice(),
        subject.as_bytes(),
        b"\0",
        id.as_bytes(),
    ]
    .concat()
}

/// The earner index's key: the earner, NUL, the credential.
fn earner_key(earner: &str, id: &str) -> Vec<u8> {
    [
        b"earner/".as_slice(),
        earner.as_bytes(),
        b"\0",
        id.as_bytes(),
    ]
    .concat()
}

/// Which credential renews a credential (the latest written).
fn renewed_key(id: &str) -> Vec<u8> {
    [b"renewed/".as_slice(), id.as_bytes()].concat()
}

/// Which certification counted a credential.
fn counted_key(id: &str) -> Vec<u8> {
    [b"counted/".as_slice(), id.as_bytes()].concat()
}

/// A credential's end of validity, in Unix seconds.
pub(crate) fn valid_until(credential: &Value) -> Option<i64> {
    let s = credential
        .get("validUntil")
        .or_else(|| credential.get("expirationDate"))?
        .as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

/// The expiry index's key: `expiry/`, the time (big-endian, so keys sort
/// by it; times before 1970 count as 1970), the credential id.
fn expiry_key(until: i64, id: &str) -> Vec<u8> {
    [
        b"expiry/".as_slice(),
        &be(until.max(0) as u64),
        id.as_bytes(),
    ]
    .concat()
}

/// Where a sealed credential sits: its batch and its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub record: BatchRecord,
    pub inclusion: InclusionProof,
}

/// Which batches to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Any,
    Sealed,
    Anchored,
}

pub struct Store {
    /// `None` only while a reopen (see [`Store::recover`]) could not open it.
    db: std::sync::RwLock<Option<Arc<DB>>>,
    dir: std::path::PathBuf,
    /// Slots given back by writes that failed on I/O: such a write may have
    /// landed after all, so they go free only when a reopen shows their
    /// credentials absent. (slot, credential id)
    doubtful_slots: Mutex<Vec<(u64, String)>>,
    /// When the last reopen was tried.
    last_reopen: Mutex<Option<std::time::Instant>>,
    /// Serializes the read-modify-write of counters and the queue; RocksDB
    /// makes each write atomic, this makes each sequence of them so.
    write: Mutex<()>,
    queued: AtomicU64,
    issued: AtomicU64,
    /// No batch below this number is still `Sealed`.
    low_water: AtomicU64,
    /// The next status list slot, and the end of the reserved block.
    /// (next, reserved end, slots handed out and given back unused).
    slots: Mutex<(u64, u64, Vec<u64>)>,
    /// Batch records by number, as last written: every proof request reads
    /// one, and a batch changes at most twice (sealed, anchored).
    batch_cache: std::sync::RwLock<HashMap<u64, BatchRecord>>,
    /// Why the last write of credentials failed, until one succeeds.
    write_error: Mutex<Option<String>>,
    /// The key that makes each credential's share id (see [`share_id`]).
    share_key: [u8; 32],
    /// The keys of claim links and codes (see `claims`).
    claim_keys: std::sync::RwLock<Arc<claims::ClaimKeys>>,
    /// Whether changes write events (see [`Store::set_notifying`]).
    notifying: std::sync::atomic::AtomicBool,
    /// The end of the validity window already announced as `expiring`
    /// (Unix seconds; 0 before the first announcement).
    expiry_notice_cursor: std::sync::atomic::AtomicI64,
}

/// Where the key of share ids is kept (`meta`).
const SHARE_KEY: &str = "setting/share-key";
/// Set once every stored credential has its share id, expiry, endorsement,
/// earner and renewal indexed (v1 lacked the last two).
const SHARE_INDEX: &str = "setting/indexes-v2";

/// A credential's share id: the public, stable and unguessable name of its
/// badge page (`/b/{share id}`). A keyed hash of its id, so that knowing
/// one page's address tells nothing of another's, and the same credential
/// always gets the same one: 128 bits, base64url.
pub fn share_id(key: &[u8; 32], credential_id: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(credential_id.as_bytes());
    let tag = mac.finalize().into_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..16])
}

fn share_key_of(share: &str) -> String {
    format!("page/share/{share}")
}

fn private_key_of(id: &str) -> String {
    format!("page/private/{id}")
}

/// Batch records kept in memory (about 300 bytes each).
const BATCH_CACHE_LIMIT: usize = 100_000;

fn cf<'a>(db: &'a DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name)
        .expect("column families are created on open")
}

/// Free bytes below which a failed store is not reopened yet.
const MIN_FREE_TO_REOPEN: u64 = 1 << 20;

/// The database in `dir`, read only: what serves reads while a full disk
/// keeps it from opening for writing.
fn open_db_read_only(dir: &Path) -> Result<DB, StoreError> {
    // A store from before a family existed is still read.
    let present = DB::list_cf(&Options::default(), dir)?;
    let families = FAMILIES
        .iter()
        .copied()
        .filter(|f| present.iter().any(|p| p == f));
    Ok(DB::open_cf_for_read_only(
        &Options::default(),
        dir,
        families,
        false,
    )?)
}

/// Opens the database in `dir` with Cairn's options.
fn open_db(dir: &Path) -> Result<DB, StoreError> {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    // One memory budget for the memtables of all column families (each
    // would otherwise take 64 MiB, twice): the node's memory stays flat
    // however many credentials pass through. Much smaller, and flushes
    // and compactions take the CPU that signing needs.
    options.set_db_write_buffer_size(256 << 20);
    // Index and filter blocks live in one bounded block cache rather
    // than beside each open table file, where they grow with the data.
    let cache = rocksdb::Cache::new_lru_cache(64 << 20);
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_cache(&cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    // Issuance asks for ids that do not exist yet: a Bloom filter
    // answers most of those without reading a block.
    table.set_bloom_filter(10.0, false);
    let mut family = Options::default();
    family.set_compression_type(rocksdb::DBCompressionType::Lz4);
    family.set_block_based_table_factory(&table);
    let families = FAMILIES
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, family.clone()));
    Ok(DB::open_cf_descriptors(&options, dir, families)?)
}

fn synced() -> WriteOptions {
    let mut o = WriteOptions::default();
    o.set_sync(true);
    o
}

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn read_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt("a counter is not 8 bytes".into()))
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A queue entry: time ++ digest ++ id.
struct Queued {
    key: Box<[u8]>,
    time: i64,
    digest: Hash,
    id: String,
}

fn parse_queued(key: Box<[u8]>, v: &[u8]) -> Result<Queued, StoreError> {
    if v.len() < 40 {
        return Err(corrupt("a queue entry is too short"));
    }
    Ok(Queued {
        key,
        time: read_u64(&v[..8])? as i64,
        digest: v[8..40].try_into().expect("32 bytes"),
        id: String::from_utf8(v[40..].to_vec()).map_err(corrupt)?,
    })
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = open_db(dir)?;
        let share_key: [u8; 32] = match db.get_cf(cf(&db, META), SHARE_KEY)? {
            Some(k) => k
                .try_into()
                .map_err(|_| corrupt("the share key is not 32 bytes"))?,
            None => {
                let mut k = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut k);
                db.put_cf_opt(cf(&db, META), SHARE_KEY, k, &synced())?;
                k
            }
        };
        let store = Self::over(db, dir, share_key);
        let reserved = store.counter(STATUS_SLOTS_RESERVED)?;
        *store.slots.lock().expect("slots lock") = (reserved, reserved, Vec::new());
        store.load_state()?;
        store.index_shares()?;
        Ok(store)
    }

    fn over(db: DB, dir: &Path, share_key: [u8; 32]) -> Self {
        Self {
            share_key,
            claim_keys: std::sync::RwLock::new(Arc::new(claims::ClaimKeys::new(&share_key))),
            db: std::sync::RwLock::new(Some(Arc::new(db))),
            dir: dir.to_owned(),
            write: Mutex::new(()),
            queued: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            low_water: AtomicU64::new(0),
            slots: Mutex::new((0, 0, Vec::new())),
            doubtful_slots: Mutex::new(Vec::new()),
            batch_cache: std::sync::RwLock::new(HashMap::new()),
            write_error: Mutex::new(None),
            last_reopen: Mutex::new(None),
            notifying: std::sync::atomic::AtomicBool::new(false),
            expiry_notice_cursor: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The store in `dir`, read only (beside a running node, which keeps
    /// writing): what `cairn-node export-site` reads.
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        if !dir.join("CURRENT").is_file() {
            return Err(StoreError::Unavailable(format!(
                "{} holds no store",
                dir.display()
            )));
        }
        let db = open_db_read_only(dir)?;
        let share_key: [u8; 32] = db
            .get_cf(cf(&db, META), SHARE_KEY)?
            .ok_or_else(|| {
                StoreError::Unavailable(
                    "the store has no share ids yet: start this version of the node on it once"
                        .into(),
                )
            })?
            .try_into()
            .map_err(|_| corrupt("the share key is not 32 bytes"))?;
        Ok(Self::over(db, dir, share_key))
    }

    /// Gives every credential stored before share ids and the expiry index
    /// existed its share id and expiry entry, once.
    fn index_shares(&self) -> Result<(), StoreError> {
        let db = self.db()?;
        if db.get_cf(cf(&db, META), SHARE_INDEX)?.is_some() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for item in db.iterator_cf(cf(&db, CREDENTIALS), rocksdb::IteratorMode::Start) {
            let (id, json) = item?;
            let id = String::from_utf8(id.to_vec()).map_err(corrupt)?;
            batch.put_cf(
                cf(&db, BADGES),
                share_key_of(&share_id(&self.share_key, &id)),
                id.as_bytes(),
            );
            let credential: Value = serde_json::from_slice(&json).map_err(corrupt)?;
            if let Some(until) = valid_until(&credential) {
                batch.put_cf(cf(&db, BADGES), expiry_key(until, &id), b"");
            }
            if let Some(subject) = endorses(&credential) {
                batch.put_cf(cf(&db, BADGES), endorsement_key(&subject, &id), b"");
            }
            if let Some(earner) = earner_of(&credential) {
                batch.put_cf(cf(&db, BADGES), earner_key(&earner, &id), b"");
            }
            for old in renews_of(&credential) {
                batch.put_cf(cf(&db, BADGES), renewed_key(&old), id.as_bytes());
            }
            if batch.len() >= 10_000 {
                self.noted(db.write(std::mem::take(&mut batch)))?;
            }
        }
        batch.put_cf(cf(&db, META), SHARE_INDEX, b"1");
        self.noted(db.write_opt(batch, &synced()))?;
        Ok(())
    }

    /// The share id of the credential `id` (whether or not it is stored).
    pub fn share_id(&self, id: &str) -> String {
        share_id(&self.share_key, id)
    }

    /// Credentials whose validity ends in `[from, before)` (Unix seconds),
    /// soonest first: (end, id), at most `limit`, those `keep` says yes to.
    pub fn expiring(
        &self,
        from: i64,
        before: i64,
        limit: usize,
        mut keep: impl FnMut(&str) -> Result<bool, StoreError>,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let db = self.db()?;
        let end = expiry_key(before, "");
        let start = expiry_key(from, "");
        let mut out = Vec::new();
        let iter = db.iterator_cf(
            cf(&db, BADGES),
            rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward),
        );
        for item in iter {
            let (k, _) = item?;
            if *k >= *end || out.len() >= limit {
                break;
            }
            let time = read_u64(&k[7..15])? as i64;
            let id = String::from_utf8(k[15..].to_vec()).map_err(corrupt)?;
            if keep(&id)? {
                out.push((time, id));
            }
        }
        Ok(out)
    }

    /// The credentials of `earner` (`did:…` or `mailto:…`), at most `limit`.
    pub fn earner_credentials(
        &self,
        earner: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.ids_under(&earner_key(earner, ""), limit)
    }

    /// The newest credential that renews `id`, if one does.
    pub fn renewed_by(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.id_at(&renewed_key(id))
    }

    /// The certification that counted credential `id`, if one did.
    pub fn counted_for(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.id_at(&counted_key(id))
    }

    /// The credential id an index entry of `badges` holds.
    fn id_at(&self, key: &[u8]) -> Result<Option<String>, StoreError> {
        let db = self.db()?;
        db.get_cf(cf(&db, BADGES), key)?
            .map(|v| String::from_utf8(v).map_err(corrupt))
            .transpose()
    }

    /// The endorsements of `subject` (an achievement or profile id) this
    /// store holds, at most `limit`.
    pub fn endorsements_of(&self, subject: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.ids_under(&endorsement_key(subject, ""), limit)
    }

    /// The credential ids that follow `prefix` in the keys of `badges`'
    /// index entries, at most `limit`.
    fn ids_under(&self, prefix: &[u8], limit: usize) -> Result<Vec<String>, StoreError> {
        let db = self.db()?;
        let mut out = Vec::new();
        for item in db.prefix_iterator_cf(cf(&db, BADGES), prefix) {
            let (k, _) = item?;
            let Some(id) = k.strip_prefix(prefix) else {
                break;
            };
            if out.len() >= limit {
                break;
            }
            out.push(String::from_utf8(id.to_vec()).map_err(corrupt)?);
        }
        Ok(out)
    }

    /// The credential whose badge page is `share`, if any.
    pub fn shared(&self, share: &str) -> Result<Option<String>, StoreError> {
        let db = self.db()?;
        db.get_cf(cf(&db, BADGES), share_key_of(share))?
            .map(|v| String::from_utf8(v).map_err(corrupt))
            .transpose()
    }

    /// Every share id and its credential, in share id order.
    pub fn shares(&self) -> Result<Vec<(String, String)>, StoreError> {
        let db = self.db()?;
        let prefix = share_key_of("");
        let mut out = Vec::new();
        for item in db.prefix_iterator_cf(cf(&db, BADGES), prefix.as_bytes()) {
            let (k, v) = item?;
            let Some(share) = k.strip_prefix(prefix.as_bytes()) else {
                break;
            };
            out.push((
                String::from_utf8(share.to_vec()).map_err(corrupt)?,
                String::from_utf8(v.to_vec()).map_err(corrupt)?,
            ));
        }
        Ok(out)
    }

    /// Whether the credential's badge page is private (404 to all).
    pub fn is_private(&self, id: &str) -> Result<bool, StoreError> {
        let db = self.db()?;
        let private = db
            .get_pinned_cf(cf(&db, BADGES), private_key_of(id))?
            .is_some();
        Ok(private)
    }

    /// Makes the credential's badge page private, or public again.
    pub fn set_private(&self, id: &str, private: bool) -> Result<(), StoreError> {
        let db = self.db()?;
        let key = private_key_of(id);
        let r = match private {
            true => db.put_cf_opt(cf(&db, BADGES), key, b"", &synced()),
            false => db.delete_cf_opt(cf(&db, BADGES), key, &synced()),
        };
        self.noted(r)
    }

    /// Records a failed write: an I/O error (a full disk) leaves RocksDB
    /// refusing writes until [`Store::recover`] reopens it.
    fn note(&self, e: rocksdb::Error) -> StoreError {
        if e.kind() == rocksdb::ErrorKind::IOError {
            *self.write_error.lock().expect("write error lock") = Some(e.to_string());
        }
        StoreError::Db(e)
    }

    fn noted<T>(&self, r: Result<T, rocksdb::Error>) -> Result<T, StoreError> {
        r.map_err(|e| self.note(e))
    }

    /// Free and total bytes of the filesystem the store is on.
    pub fn free_space(&self) -> Option<(u64, u64)> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.dir.as_os_str().as_bytes()).ok()?;
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a statvfs the call fills in.
        if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
            return None;
        }
        let block = stat.f_frsize as u64;
        Some((stat.f_bavail as u64 * block, stat.f_blocks as u64 * block))
    }

    /// The database, unless a reopen after a write failure left it closed.
    fn db(&self) -> Result<Arc<DB>, StoreError> {
        self.db.read().expect("db lock").clone().ok_or_else(|| {
            StoreError::Unavailable("the store is closed after a failed reopen".into())
        })
    }

    /// After a failed write (a full disk), RocksDB refuses every later write
    /// until the database is opened again; nothing it acknowledged is lost
    /// by that. At most once a second, and only while the last write
    /// failed: close and reopen the database, then write a probe, which
    /// clears the failure when it lands. Slots given back by the failed
    /// writes go free only once it is certain their credentials were not
    /// stored after all.
    pub fn recover(&self) {
        if self.write_error().is_none() {
            // A failure that cleared without a reopen leaves slots parked.
            self.settle_doubtful_slots();
            return;
        }
        {
            let mut last = self.last_reopen.lock().expect("reopen lock");
            if last.is_some_and(|t: std::time::Instant| {
                t.elapsed() < std::time::Duration::from_secs(1)
            }) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        // Opening writes files (a manifest, a log): on a disk still full it
        // would fail, and leave reads without a database too.
        if self
            .free_space()
            .is_some_and(|(free, _)| free < MIN_FREE_TO_REOPEN)
        {
            return;
        }
        // Take the handle once no call holds it. A call may hold it and ask
        // for it again, so the lock is never held while waiting.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut slot = loop {
            let slot = self.db.write().expect("db lock");
            if slot.as_ref().is_none_or(|db| Arc::strong_count(db) == 1) {
                break slot;
            }
            drop(slot);
            if std::time::Instant::now() > deadline {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        if let Some(old) = slot.take() {
            old.cancel_all_background_work(true);
            drop(old);
        }
        match open_db(&self.dir) {
            Ok(db) => {
                let probe = db.put_cf_opt(
                    cf(&db, META),
                    b"write-probe",
                    chrono::Utc::now().timestamp().to_be_bytes(),
                    &synced(),
                );
                *slot = Some(Arc::new(db));
                drop(slot);
                // A write reported failed may have landed: what is on disk
                // is the truth for the counters, the cache and the slots.
                if let Err(e) = self.load_state() {
                    tracing::error!(error = %e, "store: reloading its state after a reopen");
                }
                match probe {
                    Ok(()) => {
                        *self.write_error.lock().expect("write error lock") = None;
                        tracing::info!("the store writes again");
                    }
                    Err(e) => {
                        *self.write_error.lock().expect("write error lock") = Some(e.to_string())
                    }
                }
                self.settle_doubtful_slots();
            }
            Err(e) => {
                *self.write_error.lock().expect("write error lock") = Some(e.to_string());
                // Reads go on while writes cannot.
                *slot = open_db_read_only(&self.dir).ok().map(Arc::new);
            }
        }
    }

    /// Frees the parked slots whose credentials are not stored, and drops
    /// those whose credentials are (their writes landed after all).
    fn settle_doubtful_slots(&self) {
        let doubtful = std::mem::take(&mut *self.doubtful_slots.lock().expect("slots lock"));
        if doubtful.is_empty() {
            return;
        }
        let mut free = Vec::new();
        let mut keep = Vec::new();
        for (n, id) in doubtful {
            match self.contains(&id) {
                Ok(false) => free.push(n),
                Ok(true) => {}
                Err(_) => keep.push((n, id)),
            }
        }
        self.slots.lock().expect("slots lock").2.extend(free);
        self.doubtful_slots.lock().expect("slots lock").extend(keep);
    }

    /// The counters and caches kept in memory, read from the database: on
    /// opening, and again after a reopen.
    fn load_state(&self) -> Result<(), StoreError> {
        self.batch_cache.write().expect("cache lock").clear();
        let db = self.db()?;
        let queued = db
            .iterator_cf(cf(&db, QUEUE), rocksdb::IteratorMode::Start)
            .count() as u64;
        drop(db);
        self.queued.store(queued, Ordering::Relaxed);
        self.issued.store(self.counter(ISSUED)?, Ordering::Relaxed);
        let low = self
            .batches()?
            .iter()
            .find(|b| b.state == BatchState::Sealed)
            .map_or(self.counter(NEXT_BATCH)?, |b| b.number);
        self.low_water.store(low, Ordering::Relaxed);
        Ok(())
    }

    fn counter(&self, key: &[u8]) -> Result<u64, StoreError> {
        let db = self.db()?;
        match db.get_cf(cf(&db, META), key)? {
            Some(v) => read_u64(&v),
            None => Ok(0),
        }
    }

    /// Stores one newly issued credential (see [`Store::add_credentials`]).
    pub fn add_credential(&self, credential: &Value) -> Result<u64, StoreError> {
        let new = NewCredential::new(credential)?;
        let now = chrono::Utc::now().timestamp();
        self.add_credentials(vec![new], now)
            .pop()
            .expect("one result per credential")
    }

    /// Stores newly issued credentials and queues them for the next batch,
    /// in one synced write: a group commit, so that many concurrent requests
    /// share one disk flush. Returns once they are durably on disk, with each
    /// one's sequence number, or `Duplicate` for an id already stored (or
    /// repeated in `items`).
    pub fn add_credentials(
        &self,
        items: Vec<NewCredential>,
        now: i64,
    ) -> Vec<Result<u64, StoreError>> {
        // After a failed write, the database is reopened first.
        self.recover();
        let db = match self.db() {
            Ok(db) => db,
            Err(e) => {
                let reason = e.to_string();
                return items
                    .iter()
                    .map(|_| Err(StoreError::Unavailable(reason.clone())))
                    .collect();
            }
        };
        let _guard = self.write.lock().expect("store lock");
        let mut results = Vec::with_capacity(items.len());
        let mut seq = match self.counter(NEXT_SEQ) {
            Ok(s) => s,
            Err(e) => return items.iter().map(|_| Err(corrupt(&e))).collect::<Vec<_>>(),
        };
        let mut events = match self.events(now) {
            Ok(e) => e,
            Err(e) => return items.iter().map(|_| Err(corrupt(&e))).collect::<Vec<_>>(),
        };
        let mut batch = WriteBatch::default();
        let mut seen = std::collections::HashSet::new();
        let mut counting = std::collections::HashMap::new();
        let mut claiming = std::collections::HashMap::new();
        for item in &items {
            let exists = match db.get_pinned_cf(cf(&db, CREDENTIALS), &item.id) {
                Ok(v) => v.is_some(),
                Err(e) => {
                    results.push(Err(StoreError::Db(e)));
                    continue;
                }
            };
            if let Some(taken) = item.counts.iter().find_map(|c| {
                if let Some(by) = counting.get(c.as_str()) {
                    return Some(Ok((c.clone(), String::clone(by))));
                }
                match db.get_cf(cf(&db, BADGES), counted_key(c)) {
                    Ok(Some(by)) => {
                        Some(Ok((c.clone(), String::from_utf8_lossy(&by).into_owned())))
                    }
                    Ok(None) => None,
                    Err(e) => Some(Err(e)),
                }
            }) {
                results.push(Err(match taken {
                    Ok((credential, certification)) => StoreError::Counted {
                        credential,
                        certification,
                    },
                    Err(e) => StoreError::Db(e),
                }));
                continue;
            }
            if exists || seen.contains(item.id.as_str()) {
                results.push(Err(StoreError::Duplicate(item.id.clone())));
                continue;
            }
            if let Some(award) = &item.claims {
                if let Err(e) =
                    self.claim_award(&mut batch, &db, award, &item.id, now, &mut claiming)
                {
                    results.push(Err(e));
                    continue;
                }
            }
            seen.insert(item.id.as_str());
            batch.put_cf(cf(&db, CREDENTIALS), &item.id, &item.json);
            if let Some(award) = &item.award {
                self.put_award(&mut batch, &db, award);
            }
            batch.put_cf(
                cf(&db, BADGES),
                share_key_of(&share_id(&self.share_key, &item.id)),
                item.id.as_bytes(),
            );
            if let Some(until) = item.valid_until {
                batch.put_cf(cf(&db, BADGES), expiry_key(until, &item.id), b"");
            }
            if let Some(subject) = &item.endorses {
                batch.put_cf(cf(&db, BADGES), endorsement_key(subject, &item.id), b"");
            }
            for c in &item.counts {
                batch.put_cf(cf(&db, BADGES), counted_key(c), item.id.as_bytes());
                counting.insert(c.as_str(), item.id.clone());
            }
            for old in &item.renews {
                batch.put_cf(cf(&db, BADGES), renewed_key(old), item.id.as_bytes());
            }
            if let Some(earner) = &item.earner {
                batch.put_cf(cf(&db, BADGES), earner_key(earner, &item.id), b"");
            }
            if let Some(contact) = &item.contact {
                batch.put_cf(
                    cf(&db, OUTBOX),
                    outbox::contact_key(&item.id),
                    serde_json::to_vec(contact).expect("a contact serializes"),
                );
            }
            if let Some(events) = &mut events {
                events.push(&db, &mut batch, EventKind::Issued, &item.id);
                // Ending inside a window already announced: announced now.
                let announced = self.expiry_notice_cursor.load(Ordering::Relaxed);
                if item.valid_until.is_some_and(|t| t > now && t < announced) {
                    events.push(&db, &mut batch, EventKind::Expiring, &item.id);
                }
            }
            let entry = [&be(now as u64)[..], &item.digest, item.id.as_bytes()].concat();
            batch.put_cf(cf(&db, QUEUE), be(seq), entry);
            results.push(Ok(seq));
            seq += 1;
        }
        let added = seen.len() as u64;
        if added == 0 {
            return results;
        }
        let issued = self.issued.load(Ordering::Relaxed) + added;
        batch.put_cf(cf(&db, META), NEXT_SEQ, be(seq));
        batch.put_cf(cf(&db, META), ISSUED, be(issued));
        if let Some(events) = events {
            events.finish(&db, &mut batch);
        }
        if let Err(e) = db.write_opt(batch, &synced()) {
            // A full or failing disk: an outage the caller reports as one,
            // not a damaged record.
            *self.write_error.lock().expect("write error lock") = Some(e.to_string());
            return results
                .into_iter()
                .map(|r| r.and(Err(StoreError::Db(e.clone()))))
                .collect();
        }
        *self.write_error.lock().expect("write error lock") = None;
        self.queued.fetch_add(added, Ordering::Relaxed);
        self.issued.store(issued, Ordering::Relaxed);
        results
    }

    /// A stored credential, as signed.
    pub fn credential(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let db = self.db()?;
        db.get_cf(cf(&db, CREDENTIALS), id)?
            .map(|v| serde_json::from_slice(&v).map_err(corrupt))
            .transpose()
    }

    /// Calls `each` with stored credentials in id order, from the first id
    /// after `after`, until it returns false or `max` were read.
    pub fn scan_credentials(
        &self,
        after: &str,
        max: usize,
        mut each: impl FnMut(&str, Value) -> bool,
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let start = format!("{after}\0");
        let iter = db.iterator_cf(
            cf(&db, CREDENTIALS),
            rocksdb::IteratorMode::From(start.as_bytes(), rocksdb::Direction::Forward),
        );
        for item in iter.take(max) {
            let (k, v) = item?;
            let id = std::str::from_utf8(&k).map_err(corrupt)?;
            if !each(id, serde_json::from_slice(&v).map_err(corrupt)?) {
                break;
            }
        }
        Ok(())
    }

    /// Whether a credential with this id is stored.
    pub fn contains(&self, id: &str) -> Result<bool, StoreError> {
        let db = self.db()?;
        let found = db.get_pinned_cf(cf(&db, CREDENTIALS), id)?.is_some();
        Ok(found)
    }

    /// How many credentials wait for a batch.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// How many credentials were ever issued.
    pub fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// When the oldest queued credential was issued (unix seconds).
    pub fn oldest_queued(&self) -> Result<Option<i64>, StoreError> {
        let db = self.db()?;
        let mut it = db.iterator_cf(cf(&db, QUEUE), rocksdb::IteratorMode::Start);
        match it.next() {
            Some(item) => {
                let (k, v) = item?;
                Ok(Some(parse_queued(k, &v)?.time))
            }
            None => Ok(None),
        }
    }

    /// Seals up to `max` queued credentials, oldest first, into a new batch.
    /// In one write: the batch record, its root index, its leaf order, each
    /// credential's placement and inclusion path, and their removal from the
    /// queue.
    pub fn seal(&self, max: usize, now: i64) -> Result<Option<BatchRecord>, StoreError> {
        let db = self.db()?;
        let _guard = self.write.lock().expect("store lock");
        let mut entries = Vec::new();
        for item in db
            .iterator_cf(cf(&db, QUEUE), rocksdb::IteratorMode::Start)
            .take(max)
        {
            let (k, v) = item?;
            entries.push(parse_queued(k, &v)?);
        }
        if entries.is_empty() {
            return Ok(None);
        }
        let digests: Vec<Hash> = entries.iter().map(|e| e.digest).collect();
        let tree = Batch::build(&digests)?;
        let number = self.counter(NEXT_BATCH)?;
        let record = BatchRecord {
            number,
            root: tree.root(),
            leaf_count: entries.len() as u64,
            sealed_at: now,
            state: BatchState::Sealed,
        };
        let mut batch = WriteBatch::default();
        for (i, entry) in entries.iter().enumerate() {
            let place = [be(number), be(i as u64)].concat();
            let mut placement = place.clone();
            for hash in tree.proof(i)?.path {
                placement.extend_from_slice(&hash);
            }
            batch.put_cf(cf(&db, LEAVES), &place, &entry.id);
            batch.put_cf(cf(&db, PLACEMENT), &entry.id, placement);
        }
        // The sealed entries are the queue's first keys (sequence numbers,
        // written under the same lock): one range tombstone rather than one
        // per entry, so that reading the queue's head stays one seek after
        // a million-leaf seal.
        let last = entries.last().expect("not empty");
        let mut end = last.key.to_vec();
        end.push(0);
        batch.delete_range_cf(cf(&db, QUEUE), &entries[0].key[..], &end[..]);
        batch.put_cf(
            cf(&db, BATCHES),
            be(number),
            serde_json::to_vec(&record).expect("record serializes"),
        );
        batch.put_cf(cf(&db, ROOTS), record.root, be(number));
        batch.put_cf(cf(&db, META), NEXT_BATCH, be(number + 1));
        self.noted(db.write_opt(batch, &synced()))?;
        self.remember(&record);
        self.queued
            .fetch_sub(entries.len() as u64, Ordering::Relaxed);
        Ok(Some(record))
    }

    pub fn batch(&self, number: u64) -> Result<Option<BatchRecord>, StoreError> {
        let db = self.db()?;
        if let Some(b) = self.batch_cache.read().expect("cache lock").get(&number) {
            return Ok(Some(b.clone()));
        }
        let record: Option<BatchRecord> = db
            .get_cf(cf(&db, BATCHES), be(number))?
            .map(|v| serde_json::from_slice(&v).map_err(corrupt))
            .transpose()?;
        if let Some(r) = &record {
            self.remember(r);
        }
        Ok(record)
    }

    /// Keeps a batch record written (or read) in the cache.
    fn remember(&self, record: &BatchRecord) {
        let mut cache = self.batch_cache.write().expect("cache lock");
        if cache.len() >= BATCH_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(record.number, record.clone());
    }

    pub fn batch_by_root(&self, root: &Hash) -> Result<Option<BatchRecord>, StoreError> {
        let db = self.db()?;
        match db.get_cf(cf(&db, ROOTS), root)? {
            Some(n) => self.batch(read_u64(&n)?),
            None => Ok(None),
        }
    }

    /// Every batch, oldest first.
    pub fn batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        self.list_batches(StateFilter::Any, 0, usize::MAX)
    }

    /// Up to `limit` batches numbered `from` or above in state `filter`,
    /// oldest first.
    pub fn list_batches(
        &self,
        filter: StateFilter,
        from: u64,
        limit: usize,
    ) -> Result<Vec<BatchRecord>, StoreError> {
        let db = self.db()?;
        let mut out = Vec::new();
        let mode = rocksdb::IteratorMode::From(&be(from), rocksdb::Direction::Forward);
        for item in db.iterator_cf(cf(&db, BATCHES), mode) {
            if out.len() >= limit {
                break;
            }
            let (_, v) = item?;
            let record: BatchRecord = serde_json::from_slice(&v).map_err(corrupt)?;
            let keep = match filter {
                StateFilter::Any => true,
                StateFilter::Sealed => record.state == BatchState::Sealed,
                StateFilter::Anchored => record.state != BatchState::Sealed,
            };
            if keep {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// How many batches were ever sealed.
    pub fn batch_count(&self) -> Result<u64, StoreError> {
        self.counter(NEXT_BATCH)
    }

    /// Batches sealed but not yet anchored, oldest first (the anchorer's
    /// work, also after a restart).
    pub fn sealed_batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        self.list_batches(
            StateFilter::Sealed,
            self.low_water.load(Ordering::Relaxed),
            usize::MAX,
        )
    }

    /// The credential ids of a batch in leaf order.
    pub fn leaves(&self, number: u64) -> Result<Vec<String>, StoreError> {
        let db = self.db()?;
        let prefix = be(number);
        db.prefix_iterator_cf(cf(&db, LEAVES), prefix)
            .take_while(|item| item.as_ref().is_ok_and(|(k, _)| k.starts_with(&prefix)))
            .map(|item| {
                let (_, v) = item?;
                String::from_utf8(v.to_vec()).map_err(corrupt)
            })
            .collect()
    }

    /// The batch and inclusion proof of a credential, once sealed.
    pub fn placement(&self, id: &str) -> Result<Option<Placement>, StoreError> {
        let db = self.db()?;
        let Some(v) = db.get_cf(cf(&db, PLACEMENT), id)? else {
            return Ok(None);
        };
        if v.len() < 16 || (v.len() - 16) % 32 != 0 {
            return Err(corrupt(format!("placement of {id}")));
        }
        let batch = read_u64(&v[..8])?;
        let leaf_index = read_u64(&v[8..16])?;
        let record = self.batch(batch)?.ok_or(StoreError::NoBatch(batch))?;
        let leaf_count = record.leaf_count;
        let path = v[16..]
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect();
        Ok(Some(Placement {
            record,
            inclusion: InclusionProof {
                leaf_index,
                leaf_count,
                path,
            },
        }))
    }

    /// Records that a batch is anchored, in one write: from then on every
    /// credential in it has a complete proof.
    pub fn mark_anchored(
        &self,
        number: u64,
        anchor: AnchorRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let _guard = self.write.lock().expect("store lock");
        let mut record = self.batch(number)?.ok_or(StoreError::NoBatch(number))?;
        // A batch anchored again after a reorganisation is news to no one.
        let first = record.state == BatchState::Sealed;
        record.state = BatchState::Anchored {
            anchor,
            anchored_at: now,
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(
            cf(&db, BATCHES),
            be(number),
            serde_json::to_vec(&record).expect("record serializes"),
        );
        if let Some(mut events) = self.events(now)?.filter(|_| first) {
            for id in self.leaves(number)? {
                events.push(&db, &mut batch, EventKind::Anchored, &id);
            }
            events.finish(&db, &mut batch);
        }
        self.noted(db.write_opt(batch, &synced()))?;
        self.remember(&record);
        // Batches are anchored in order; skip past every anchored one.
        let mut low = self.low_water.load(Ordering::Relaxed);
        while let Some(b) = self.batch(low)? {
            if b.state == BatchState::Sealed {
                break;
            }
            low += 1;
        }
        self.low_water.store(low, Ordering::Relaxed);
        Ok(())
    }

    /// The next status list slot (see `statuslist`): never handed out twice,
    /// across restarts and crashes.
    pub fn next_status_slot(&self) -> Result<u64, StoreError> {
        let db = self.db()?;
        let mut slots = self.slots.lock().expect("slots lock");
        if let Some(slot) = slots.2.pop() {
            return Ok(slot);
        }
        if slots.0 == slots.1 {
            let end = slots.1 + SLOT_BLOCK;
            db.put_cf_opt(cf(&db, META), STATUS_SLOTS_RESERVED, be(end), &synced())
                .map_err(|e| self.note(e))?;
            slots.1 = end;
        }
        let slot = slots.0;
        slots.0 += 1;
        Ok(slot)
    }

    /// Waits for RocksDB's background flushes and compactions to stop and
    /// cancels the rest, before the process exits: exiting while they run
    /// aborts in RocksDB's static destructors ("pthread lock: Invalid
    /// argument"). Every write is synced already; nothing is lost either way,
    /// but a clean stop exits 0.
    pub fn close(&self) {
        if let Ok(db) = self.db() {
            db.cancel_all_background_work(true);
        }
    }

    /// Why the last write of credentials failed, while no later one has
    /// succeeded.
    pub fn write_error(&self) -> Option<String> {
        self.write_error.lock().expect("write error lock").clone()
    }

    /// Gives back a slot that no stored credential uses (its issuance
    /// failed), to be handed out again.
    pub fn return_status_slot(&self, slot: u64) {
        self.slots.lock().expect("slots lock").2.push(slot);
    }

    /// Gives back the slot of credential `id`, whose write failed. Unless
    /// the failure says the credential was not stored (a duplicate id), the
    /// write may have landed after all: the slot waits until the store can
    /// tell ([`Store::recover`]).
    pub fn return_unstored_slot(&self, slot: u64, id: &str, surely_absent: bool) {
        if surely_absent {
            self.return_status_slot(slot);
        } else {
            self.doubtful_slots
                .lock()
                .expect("slots lock")
                .push((slot, id.to_owned()));
        }
    }

    /// The status list slots handed out and not given back: the next new
    /// slot less those waiting to be handed out again.
    pub fn status_slots_taken(&self) -> u64 {
        let slots = self.slots.lock().expect("slots lock");
        slots.0 - slots.2.len() as u64
    }

    /// How many status list slots were handed out or reserved.
    pub fn status_slots_reserved(&self) -> u64 {
        self.slots.lock().expect("slots lock").1
    }

    /// Counts status changes ever made: a status list built at one count is
    /// current until the count moves.
    pub fn status_version(&self) -> Result<u64, StoreError> {
        self.counter(NEXT_STATUS_SEQ)
    }

    /// Every credential whose status the issuer changed, with its record.
    pub fn statuses(&self) -> Result<Vec<(String, StatusRecord)>, StoreError> {
        let db = self.db()?;
        db.iterator_cf(cf(&db, STATUS), rocksdb::IteratorMode::Start)
            .map(|item| {
                let (k, v) = item?;
                Ok((
                    String::from_utf8(k.to_vec()).map_err(corrupt)?,
                    serde_json::from_slice(&v).map_err(corrupt)?,
                ))
            })
            .collect()
    }

    /// The status the issuer gave a credential, if it ever changed it.
    pub fn status(&self, id: &str) -> Result<Option<StatusRecord>, StoreError> {
        let db = self.db()?;
        db.get_cf(cf(&db, STATUS), id)?
            .map(|v| serde_json::from_slice(&v).map_err(corrupt))
            .transpose()
    }

    /// Records a status change and queues it for the chain, in one write.
    /// Refuses any change of a revoked credential but to `Revoked` again
    /// (which changes nothing).
    /// The issuer's word on `id`, queued for the chain. An award's word
    /// is its claimed credentials' too (a revoked licence is revoked in
    /// every wallet), in the same write; a claimed credential revoked
    /// already stays so.
    pub fn set_status(&self, id: &str, change: StatusChange) -> Result<StatusRecord, StoreError> {
        let db = self.db()?;
        let _guard = self.write.lock().expect("store lock");
        if !self.contains(id)? {
            return Err(StoreError::NoCredential(id.to_owned()));
        }
        let mut ids = vec![id.to_owned()];
        if let Some(award) = claims::read_award(&db, id)? {
            ids.extend(award.claimed);
        }
        let mut seq = self.counter(NEXT_STATUS_SEQ)?;
        let mut batch = WriteBatch::default();
        let mut answer = None;
        for (i, each) in ids.iter().enumerate() {
            let mut record = self.status(each)?.unwrap_or(StatusRecord {
                status: CredentialStatus::Active,
                transaction: None,
                history: Vec::new(),
            });
            let unchanged = record.status == change.status;
            if record.status == CredentialStatus::Revoked && !unchanged {
                if i == 0 {
                    return Err(StoreError::RevocationIsFinal(id.to_owned()));
                }
                continue;
            }
            if !unchanged {
                record.status = change.status;
                record.transaction = None;
                record.history.push(change.clone());
                batch.put_cf(
                    cf(&db, STATUS),
                    each,
                    serde_json::to_vec(&record).expect("record serializes"),
                );
                batch.put_cf(cf(&db, STATUS_QUEUE), be(seq), each.as_bytes());
                seq += 1;
            }
            if i == 0 {
                answer = Some(record);
            }
        }
        if !batch.is_empty() {
            batch.put_cf(cf(&db, META), NEXT_STATUS_SEQ, be(seq));
            self.noted(db.write_opt(batch, &synced()))?;
        }
        Ok(answer.expect("the credential itself comes first"))
    }

    /// Status changes waiting for the chain, oldest first: (queue key,
    /// credential id), at most `max`.
    pub fn pending_status(&self, max: usize) -> Result<Vec<(u64, String)>, StoreError> {
        let db = self.db()?;
        db.iterator_cf(cf(&db, STATUS_QUEUE), rocksdb::IteratorMode::Start)
            .take(max)
            .map(|item| {
                let (k, v) = item?;
                Ok((
                    read_u64(&k)?,
                    String::from_utf8(v.to_vec()).map_err(corrupt)?,
                ))
            })
            .collect()
    }

    /// Records that the chain shows the statuses behind queue entries
    /// `done` (each credential's current status, written by `transaction`),
    /// and drops the entries, in one write. A credential whose status changed
    /// again meanwhile has a newer entry, which stays.
    pub fn status_written(
        &self,
        done: &[(u64, String, CredentialStatus)],
        transaction: alloy::primitives::B256,
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let _guard = self.write.lock().expect("store lock");
        let mut events = self.events(chrono::Utc::now().timestamp())?;
        // Several queued changes of one credential end in one event.
        let mut told = std::collections::HashSet::new();
        let mut batch = WriteBatch::default();
        for (seq, id, written) in done {
            batch.delete_cf(cf(&db, STATUS_QUEUE), be(*seq));
            if let Some(mut record) = self.status(id)? {
                if record.status == *written {
                    record.transaction = Some(transaction);
                    batch.put_cf(
                        cf(&db, STATUS),
                        id,
                        serde_json::to_vec(&record).expect("record serializes"),
                    );
                    let kind = match written {
                        CredentialStatus::Revoked => Some(EventKind::Revoked),
                        CredentialStatus::Suspended => Some(EventKind::Suspended),
                        CredentialStatus::Active => None,
                    };
                    if let (Some(events), Some(kind)) = (&mut events, kind) {
                        if told.insert(id.as_str()) {
                            events.push(&db, &mut batch, kind, id);
                        }
                    }
                }
            }
        }
        if let Some(events) = events {
            events.finish(&db, &mut batch);
        }
        self.noted(db.write_opt(batch, &synced()))?;
        Ok(())
    }

    /// A node setting kept with the data.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        Ok(db.get_cf(cf(&db, META), format!("setting/{key}"))?)
    }

    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let db = self.db()?;
        db.put_cf_opt(cf(&db, META), format!("setting/{key}"), value, &synced())
            .map_err(|e| self.note(e))?;
        Ok(())
    }

    /// A node setting and the image it names, in one write.
    pub fn put_meta_with_image(
        &self,
        key: &str,
        value: &[u8],
        image: Option<(&str, &[u8])>,
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let mut batch = WriteBatch::default();
        if let Some((hash, bytes)) = image {
            batch.put_cf(cf(&db, BADGES), format!("image/{hash}"), bytes);
        }
        batch.put_cf(cf(&db, META), format!("setting/{key}"), value);
        self.noted(db.write_opt(batch, &synced()))?;
        Ok(())
    }

    /// A badge class's record.
    pub fn badge_class(&self, handle: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        Ok(db.get_cf(cf(&db, BADGES), format!("class/{handle}"))?)
    }

    /// Every badge class's record, in handle order.
    pub fn badge_classes(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let db = self.db()?;
        let mut out = Vec::new();
        let iter = db.iterator_cf(
            cf(&db, BADGES),
            rocksdb::IteratorMode::From(b"class/", rocksdb::Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            if !key.starts_with(b"class/") {
                break;
            }
            out.push(value.into_vec());
        }
        Ok(out)
    }

    /// One version of a badge class.
    pub fn badge_class_version(
        &self,
        handle: &str,
        version: u32,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        Ok(db.get_cf(cf(&db, BADGES), version_key(handle, version))?)
    }

    /// Writes a badge class's record, with a new version and its image when
    /// given, in one synced write: a class is never half-created.
    pub fn put_badge_class(
        &self,
        handle: &str,
        record: &[u8],
        version: Option<(u32, &[u8])>,
        image: Option<(&str, &[u8])>,
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let mut batch = WriteBatch::default();
        if let Some((hash, bytes)) = image {
            batch.put_cf(cf(&db, BADGES), format!("image/{hash}"), bytes);
        }
        if let Some((n, doc)) = version {
            batch.put_cf(cf(&db, BADGES), version_key(handle, n), doc);
        }
        batch.put_cf(cf(&db, BADGES), format!("class/{handle}"), record);
        self.noted(db.write_opt(batch, &synced()))?;
        Ok(())
    }

    /// An image by the hex SHA-256 of its bytes.
    pub fn image(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        Ok(db.get_cf(cf(&db, BADGES), format!("image/{hash}"))?)
    }
}

fn version_key(handle: &str, version: u32) -> Vec<u8> {
    let mut key = format!("version/{handle}/").into_bytes();
    key.extend_from_slice(&version.to_be_bytes());
    key
}

mod hex_hash {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(&text)
            .map_err(D::Error::custom)?
            .try_into()
            .map_err(|_| D::Error::custom("a root is 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An anchor record for a sealed batch, as the anchorer would write it.
    fn anchored_as(batch: &BatchRecord) -> AnchorRecord {
        AnchorRecord {
            chain: "eip155:1".into(),
            registry: Default::default(),
            transaction: Default::default(),
            block_number: 1,
            block_hash: Default::default(),
            root: batch.root.into(),
            leaf_count: batch.leaf_count,
        }
    }

    fn cred(i: u32) -> Value {
        json!({"id": format!("urn:uuid:{i:08}"), "name": "n", "proof": {"type": "DataIntegrityProof", "proofValue": format!("z{i}")}})
    }

    fn awarded(store: &Store, i: u32, expires: i64, tx_code: Option<&str>) -> NewCredential {
        let mut new = NewCredential::new(&cred(i)).unwrap();
        let award = NewAward {
            expires,
            tx_code: tx_code.map(str::to_owned),
        };
        new.award = Some(store.prepare_award(&new.id, &award));
        new
    }

    #[test]
    fn an_award_is_claimed_once_whatever_the_race() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.add_credentials(vec![awarded(&store, 0, 2_000, None)], 1_000)[0].is_ok());
        let id = cred(0)["id"].as_str().unwrap().to_owned();
        let by_token = store
            .award_by_token(&store.claim_token(&store.award(&id).unwrap().unwrap()))
            .unwrap()
            .unwrap();
        assert_eq!(by_token.credential, id);
        assert_eq!(by_token.state(1_500), AwardState::Open);
        assert_eq!(by_token.state(2_000), AwardState::Expired);
        assert!(store.award_by_token("not-a-token").unwrap().is_none());
        // What the issue response names without a read.
        assert_eq!(store.first_claim_token(&id), store.claim_token(&by_token));
        // Two claims in one write, and one after: the first wins alone.
        let claim = |i| {
            let mut c = NewCredential::new(&cred(i)).unwrap();
            c.claims = Some(id.clone());
            c
        };
        let results = store.add_credentials(vec![claim(1), claim(2)], 1_100);
        assert!(results[0].is_ok());
        assert!(
            matches!(results[1], Err(StoreError::Claimed { .. })),
            "{results:?}"
        );
        assert!(!store.contains(cred(2)["id"].as_str().unwrap()).unwrap());
        assert!(matches!(
            store.add_credentials(vec![claim(3)], 1_200)[0],
            Err(StoreError::Claimed { .. })
        ));
        let award = store.award(&id).unwrap().unwrap();
        assert_eq!(
            award.claimed,
            vec![cred(1)["id"].as_str().unwrap().to_owned()]
        );
        assert_eq!(award.state(1_500), AwardState::Claimed);
        // A claimed award gets no new link.
        assert!(matches!(
            store.renew_award(
                &id,
                &NewAward {
                    expires: 9_000,
                    tx_code: None
                }
            ),
            Err(StoreError::Claimed { .. })
        ));
        // A credential that is no award cannot be claimed.
        let mut stray = NewCredential::new(&cred(4)).unwrap();
        stray.claims = Some("urn:uuid:none".into());
        assert!(store.add_credentials(vec![stray], 1_300)[0].is_err());
    }

    #[test]
    fn codes_lock_after_wrong_tries_and_buy_one_token_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_000;
        {
            let store = Store::open(dir.path()).unwrap();
            let items = vec![
                awarded(&store, 0, 5_000, Some("123456")),
                awarded(&store, 1, 5_000, None),
            ];
            assert!(store.add_credentials(items, now).iter().all(Result::is_ok));
            let code = store.pre_authorized_code(
                &store
                    .award(cred(0)["id"].as_str().unwrap())
                    .unwrap()
                    .unwrap(),
            );
            for left in [4, 3] {
                assert_eq!(
                    store
                        .redeem_code(&code, Some("000000"), now, "t", 9)
                        .unwrap_err()
                        .to_string(),
                    Redeem::TxCodeWrong { left }.to_string()
                );
            }
            assert!(matches!(
                store.redeem_code(&code, None, now, "t", 9),
                Err(RedeemError::Refused(Redeem::TxCodeMissing))
            ));
        }
        let store = Store::open(dir.path()).unwrap();
        let id = &cred(0)["id"].as_str().unwrap().to_owned();
        let code = store.pre_authorized_code(&store.award(id).unwrap().unwrap());
        for _ in 0..3 {
            assert!(store
                .redeem_code(&code, Some("999999"), now, "t", 9)
                .is_err());
        }
        assert!(matches!(
            store.redeem_code(&code, Some("123456"), now, "t", 9),
            Err(RedeemError::Refused(Redeem::Locked))
        ));
        assert_eq!(
            store.award(id).unwrap().unwrap().state(now),
            AwardState::Locked
        );
        // A new link: the old one and its code stop working, tries start
        // again, and the new code buys a token.
        let old_token = store.claim_token(&store.award(id).unwrap().unwrap());
        let renewed = store
            .renew_award(
                id,
                &NewAward {
                    expires: 9_000,
                    tx_code: Some("654321".into()),
                },
            )
            .unwrap();
        assert_eq!(
            (renewed.state(now), renewed.generation),
            (AwardState::Open, 1)
        );
        assert!(store.award_by_token(&old_token).unwrap().is_none());
        assert_eq!(
            store
                .award_by_token(&store.claim_token(&renewed))
                .unwrap()
                .map(|a| a.credential),
            Some(id.clone())
        );
        assert!(matches!(
            store.redeem_code(&code, Some("654321"), now, "t", 9),
            Err(RedeemError::Refused(Redeem::Unknown))
        ));
        let new_code = store.pre_authorized_code(&renewed);
        assert!(store
            .redeem_code(&new_code, Some("654321"), now, "access-0", 9)
            .is_ok());
        // The other award: one token for its code, then the code is spent.
        let other = &cred(1)["id"].as_str().unwrap().to_owned();
        let code = store.pre_authorized_code(&store.award(other).unwrap().unwrap());
        assert!(matches!(
            store.redeem_code(&code, Some("1"), now, "t", 9),
            Err(RedeemError::Refused(Redeem::TxCodeUnexpected))
        ));
        store
            .redeem_code(&code, None, now, "access-1", 2_000_000)
            .unwrap();
        assert_eq!(
            store
                .award_by_access("access-1", 1_000_000)
                .unwrap()
                .map(|a| a.credential),
            Some(other.to_owned())
        );
        assert!(store
            .award_by_access("access-1", 2_000_000)
            .unwrap()
            .is_none());
        assert!(store
            .award_by_access("access-2", 1_000_000)
            .unwrap()
            .is_none());
        assert!(matches!(
            store.redeem_code(&code, None, now, "access-3", 2_000_000),
            Err(RedeemError::Refused(Redeem::Used))
        ));
        assert!(matches!(
            store.redeem_code("made-up", None, now, "t", 9),
            Err(RedeemError::Refused(Redeem::Unknown))
        ));
    }

    #[test]
    fn nonces_carry_their_expiry_and_are_used_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let nonce = store.new_nonce(10_000);
        assert_eq!(store.nonce_expiry(&nonce), Some(10_000));
        assert!(store.use_nonce(&nonce, 10_000, 5_000).unwrap());
        assert!(!store.use_nonce(&nonce, 10_000, 6_000).unwrap());
        // Not the node's: a changed character, another store's, junk.
        let mut forged = nonce.clone().into_bytes();
        forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            store.nonce_expiry(&String::from_utf8(forged).unwrap()),
            None
        );
        let other = tempfile::tempdir().unwrap();
        let other = Store::open(other.path()).unwrap();
        assert_eq!(store.nonce_expiry(&other.new_nonce(10_000)), None);
        for junk in ["", "!!", &"A".repeat(43), &"A".repeat(10_000)] {
            assert_eq!(store.nonce_expiry(junk), None);
        }
        // Used nonces are forgotten once past their expiry.
        let later = store.new_nonce(20_000);
        assert!(store.use_nonce(&later, 20_000, 15_000).unwrap());
        let db = store.db().unwrap();
        let used = db
            .prefix_iterator_cf(cf(&db, CLAIMS), b"u")
            .take_while(|i| i.as_ref().is_ok_and(|(k, _)| k.starts_with(b"u")))
            .count();
        assert_eq!(used, 1);
    }

    #[test]
    fn an_award_keeps_its_newest_exchanges() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.add_credentials(vec![awarded(&store, 0, 5_000, None)], 1_000)[0].is_ok());
        let id = &cred(0)["id"].as_str().unwrap().to_owned();
        let exchanges: Vec<_> = (0..6)
            .map(|_| store.open_exchange(id, 1_000, 2_000).unwrap())
            .collect();
        assert!(store.award_by_exchange(&exchanges[0].id).unwrap().is_none());
        assert!(store.award_by_exchange(&exchanges[5].id).unwrap().is_some());
        assert_eq!(store.award(id).unwrap().unwrap().exchanges.len(), 4);
        // Ended exchanges are forgotten when the next opens.
        store.open_exchange(id, 3_000, 4_000).unwrap();
        assert_eq!(store.award(id).unwrap().unwrap().exchanges.len(), 1);
        assert!(store.award_by_exchange(&exchanges[5].id).unwrap().is_none());
        // A challenge is the exchange's own, the same when asked again,
        // and changes with the claim key (kept outside the database).
        let challenge = store.exchange_challenge(&exchanges[5].id);
        assert_eq!(store.exchange_challenge(&exchanges[5].id), challenge);
        assert_ne!(store.exchange_challenge(&exchanges[4].id), challenge);
        let token = store.claim_token(&store.award(id).unwrap().unwrap());
        store.set_claim_key(&[9; 32]);
        assert_ne!(store.exchange_challenge(&exchanges[5].id), challenge);
        assert_ne!(store.claim_token(&store.award(id).unwrap().unwrap()), token);
    }

    #[test]
    fn events_wait_in_the_outbox_until_each_sink_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        // Off: issuing writes no event.
        store.add_credential(&cred(0)).unwrap();
        assert_eq!(store.fan_out(&[Sink::Webhook], 0, 100).unwrap(), 0);
        store.set_notifying(true);
        let mut with_contact = NewCredential::new(&cred(1)).unwrap();
        with_contact.contact = Some(Contact {
            email: "ana@example.org".into(),
            language: Some("fr".into()),
        });
        let plain = NewCredential::new(&cred(2)).unwrap();
        assert!(store
            .add_credentials(vec![with_contact, plain], 1_000)
            .iter()
            .all(Result::is_ok));
        let batch = store.seal(100, 1_000).unwrap().unwrap();
        let anchor = anchored_as(&batch);
        store.mark_anchored(batch.number, anchor, 1_001).unwrap();
        // Two issued (cred 0 was stored before events were on), three anchored.
        let sinks = [Sink::Webhook, Sink::Mail];
        assert_eq!(store.fan_out(&sinks, 5_000, 100).unwrap(), 5);
        assert_eq!(store.fan_out(&sinks, 5_000, 100).unwrap(), 0);
        assert_eq!(store.waiting(Sink::Webhook).unwrap(), 5);
        // Mail only where the earner's address is known, and only for anchored.
        let (mail, _) = store.due(Sink::Mail, 5_000, 100).unwrap();
        assert_eq!(mail.len(), 1);
        assert_eq!(mail[0].delivery.event.kind, EventKind::Anchored);
        assert_eq!(
            mail[0].delivery.to.as_ref().unwrap().language.as_deref(),
            Some("fr")
        );
        // A failure waits; its id stays; delivery removes it; a reopen keeps the rest.
        let (hooks, _) = store.due(Sink::Webhook, 5_000, 100).unwrap();
        let first = hooks[0].clone();
        store.retry_at(&first, "503".into(), 9_000).unwrap();
        let (due, next) = store.due(Sink::Webhook, 5_000, 100).unwrap();
        assert_eq!((due.len(), next), (4, Some(9_000)));
        for d in &due {
            store.delivered(d).unwrap();
        }
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let (later, _) = store.due(Sink::Webhook, 9_000, 100).unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].delivery.event.id, first.delivery.event.id);
        assert_eq!(later[0].delivery.attempts, 1);
    }

    #[test]
    fn one_event_per_news_however_often_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.set_notifying(true);
        store.add_credential(&cred(1)).unwrap();
        let id = "urn:uuid:00000001";
        for status in [CredentialStatus::Suspended, CredentialStatus::Revoked] {
            store
                .set_status(
                    id,
                    StatusChange {
                        status,
                        reason: None,
                        at: 0,
                    },
                )
                .unwrap();
        }
        let queued: Vec<(u64, String, CredentialStatus)> = store
            .pending_status(10)
            .unwrap()
            .into_iter()
            .map(|(seq, id)| (seq, id, CredentialStatus::Revoked))
            .collect();
        assert_eq!(queued.len(), 2);
        store.status_written(&queued, Default::default()).unwrap();
        // A batch anchored twice (a reorganisation) is announced once.
        let batch = store.seal(10, 0).unwrap().unwrap();
        let anchor = anchored_as(&batch);
        store
            .mark_anchored(batch.number, anchor.clone(), 1)
            .unwrap();
        store.mark_anchored(batch.number, anchor, 2).unwrap();
        store.fan_out(&[Sink::Webhook], 0, 100).unwrap();
        let (due, _) = store.due(Sink::Webhook, 0, 100).unwrap();
        let kinds: Vec<EventKind> = due.iter().map(|d| d.delivery.event.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::Issued, EventKind::Revoked, EventKind::Anchored]
        );
    }

    #[test]
    fn a_credential_counts_for_one_certification_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.add_credential(&cred(1)).unwrap();
        let mut first = NewCredential::new(&cred(2)).unwrap();
        first.counts = vec![cred(1)["id"].as_str().unwrap().into()];
        let mut second = NewCredential::new(&cred(3)).unwrap();
        second.counts = first.counts.clone();
        let results = store.add_credentials(vec![first, second], 0);
        assert!(results[0].is_ok());
        assert!(
            matches!(results[1], Err(StoreError::Counted { .. })),
            "{results:?}"
        );
        assert!(!store.contains("urn:uuid:00000003").unwrap());
        assert_eq!(
            store.counted_for("urn:uuid:00000001").unwrap().as_deref(),
            Some("urn:uuid:00000002")
        );
    }

    #[test]
    fn credentials_survive_a_reopen_and_seal_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            for i in 0..10 {
                assert_eq!(store.add_credential(&cred(i)).unwrap(), i as u64);
            }
            assert!(matches!(
                store.add_credential(&cred(3)),
                Err(StoreError::Duplicate(_))
            ));
            assert!(matches!(
                store.add_credential(&json!({"name": 1})),
                Err(StoreError::NoId)
            ));
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!((store.queued(), store.issued()), (10, 10));
        assert!(store.oldest_queued().unwrap().is_some());
        let first = store.seal(4, 100).unwrap().unwrap();
        let second = store.seal(100, 101).unwrap().unwrap();
        assert!(
            store.seal(100, 102).unwrap().is_none(),
            "nothing left to seal"
        );
        assert_eq!(store.oldest_queued().unwrap(), None);
        assert_eq!((first.number, first.leaf_count), (0, 4));
        assert_eq!((second.number, second.leaf_count), (1, 6));
        // Issuance order, each credential in exactly one batch.
        let mut all = store.leaves(0).unwrap();
        all.extend(store.leaves(1).unwrap());
        let expected: Vec<String> = (0..10).map(|i| format!("urn:uuid:{i:08}")).collect();
        assert_eq!(all, expected);
        // The root is the tree over the stored credentials' digests, and the
        // stored path leads to it.
        let digests: Vec<Hash> = (4..10)
            .map(|i| credential_digest(&cred(i)).unwrap())
            .collect();
        let tree = Batch::build(&digests).unwrap();
        assert_eq!(second.root, tree.root());
        let placed = store.placement("urn:uuid:00000005").unwrap().unwrap();
        assert_eq!(placed.record.number, 1);
        assert_eq!(placed.inclusion, tree.proof(1).unwrap());
        assert!(placed.inclusion.verify(&digests[1], &second.root));
        assert_eq!(
            store.batch_by_root(&second.root).unwrap(),
            Some(second.clone())
        );
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.batches().unwrap(), vec![first.clone(), second]);
        assert_eq!(store.queued(), 0);
        assert_eq!(store.sealed_batches().unwrap().len(), 2);
        assert_eq!(
            store.list_batches(StateFilter::Any, 1, 10).unwrap().len(),
            1
        );
        assert_eq!(
            store.list_batches(StateFilter::Any, 0, 1).unwrap(),
            vec![first]
        );
    }

    #[test]
    fn status_slots_are_never_handed_out_twice() {
        let dir = tempfile::tempdir().unwrap();
        let first: Vec<u64> = {
            let store = Store::open(dir.path()).unwrap();
            (0..10).map(|_| store.next_status_slot().unwrap()).collect()
        };
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        // After a restart (or a crash), the rest of the block is skipped.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.next_status_slot().unwrap(), SLOT_BLOCK);
    }

    #[test]
    fn a_group_commit_refuses_duplicates_item_by_item() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.add_credential(&cred(1)).unwrap();
        let items = [cred(1), cred(2), cred(2), cred(3)]
            .iter()
            .map(|c| NewCredential::new(c).unwrap())
            .collect();
        let results = store.add_credentials(items, 7);
        assert!(matches!(results[0], Err(StoreError::Duplicate(_))));
        assert_eq!(results[1].as_ref().unwrap(), &1);
        assert!(matches!(results[2], Err(StoreError::Duplicate(_))));
        assert_eq!(results[3].as_ref().unwrap(), &2);
        assert_eq!((store.queued(), store.issued()), (3, 3));
        assert!(store.contains("urn:uuid:00000003").unwrap());
        assert!(!store.contains("urn:uuid:00000004").unwrap());
    }

    #[test]
    fn anchoring_is_one_write_of_the_batch_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for i in 0..3 {
            store.add_credential(&cred(i)).unwrap();
        }
        let sealed = store.seal(10, 1).unwrap().unwrap();
        store.add_credential(&cred(9)).unwrap();
        let next = store.seal(10, 2).unwrap().unwrap();
        let anchor = AnchorRecord {
            chain: "eip155:1337".into(),
            registry: Default::default(),
            transaction: Default::default(),
            block_number: 3,
            block_hash: Default::default(),
            root: sealed.root.into(),
            leaf_count: 3,
        };
        store.mark_anchored(0, anchor.clone(), 5).unwrap();
        assert_eq!(store.batch(0).unwrap().unwrap().anchor(), Some(&anchor));
        assert_eq!(store.sealed_batches().unwrap(), vec![next]);
        assert_eq!(
            store
                .list_batches(StateFilter::Anchored, 0, 10)
                .unwrap()
                .len(),
            1
        );
        assert!(matches!(
            store.mark_anchored(9, anchor, 5),
            Err(StoreError::NoBatch(9))
        ));
        store.put_meta("x", b"y").unwrap();
        assert_eq!(store.meta("x").unwrap().as_deref(), Some(&b"y"[..]));
    }
}
