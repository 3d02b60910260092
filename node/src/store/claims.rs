//! Awards and their claims into wallets, in the `claims` column family.
//!
//! Every credential issued to a recipient is an award: the earner can claim
//! it into a wallet once, before it expires, and the credential issued then
//! is bound to the DID the wallet proved it holds. The award is written in
//! the same synced write as the credential it awards, and the claimed
//! credential marks it claimed in its own write, so no award is claimed
//! twice, whatever races or crashes.
//!
//! Keys:
//! - `a` ++ credential id: the [`Award`];
//! - `t` ++ SHA-256(claim token): the award's credential id;
//! - `p` ++ SHA-256(pre-authorized code): the same;
//! - `x` ++ SHA-256(exchange id): the same (a VC-API exchange, kept in
//!   the award);
//! - `k` ++ SHA-256(access token): the same (OpenID4VCI);
//! - `u` ++ expiry (ms, big-endian) ++ SHA-256(nonce)[..16]: a nonce used
//!   up, until it would have expired anyway.
//!
//! No secret is an index key: every one (claim token, pre-authorized code,
//! exchange id, access token) is found by its SHA-256. The claim token and
//! the pre-authorized code are keyed hashes of the credential id under the
//! claim key kept outside the database (so the issuer can be shown its
//! claim link again); the transaction code is kept as a keyed hash. Nonces
//! carry their own expiry and tag, so handing one out writes nothing.

use base64::Engine;
use hmac::Mac;
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::sync::Arc;

use super::{cf, corrupt, synced, Store, StoreError, CLAIMS};

/// Wrong transaction codes (or uses of a pre-authorized code) an award
/// takes before it locks.
pub const MAX_TRIES: u32 = 5;
/// VC-API exchanges kept per award: a new one pushes out the oldest.
const MAX_EXCHANGES: usize = 4;
/// Expired used nonces forgotten per nonce used.
const SWEEP: usize = 64;

type HmacSha256 = hmac::Hmac<Sha256>;

/// An award: a credential its earner may claim into a wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Award {
    /// The credential awarded (as issued at first).
    pub credential: String,
    /// When the claim link stops working (Unix seconds).
    pub expires: i64,
    /// The keyed hash of the transaction code, when one is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_code: Option<String>,
    /// Failed tries (wrong transaction codes, repeated codes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
    /// Whether the pre-authorized code was exchanged for an access token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub code_used: bool,
    /// The access token's SHA-256 (hex) and when it expires (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<(String, i64)>,
    /// Open VC-API exchanges, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<Exchange>,
    /// The credentials claimed with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claimed: Vec<String>,
    /// How many times the issuer gave it a new claim link: its secrets
    /// are derived with this, so the old link stops working.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Where an award stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AwardState {
    Open,
    Claimed,
    Expired,
    Locked,
    /// Revoked or suspended by the issuer (the award itself does not know:
    /// see [`Store::award_state`]).
    Withdrawn,
}

impl AwardState {
    pub fn as_str(self) -> &'static str {
        match self {
            AwardState::Open => "open",
            AwardState::Claimed => "claimed",
            AwardState::Expired => "expired",
            AwardState::Locked => "locked",
            AwardState::Withdrawn => "withdrawn",
        }
    }
}

impl Award {
    pub fn state(&self, now: i64) -> AwardState {
        if !self.claimed.is_empty() {
            AwardState::Claimed
        } else if self.failures >= MAX_TRIES {
            AwardState::Locked
        } else if now >= self.expires {
            AwardState::Expired
        } else {
            AwardState::Open
        }
    }
}

/// A VC-API exchange for an award.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    pub id: String,
    /// When it ends (Unix seconds).
    pub expires: i64,
}

/// What issuance writes for a new award.
#[derive(Debug, Clone)]
pub struct NewAward {
    pub expires: i64,
    pub tx_code: Option<String>,
}

/// An award's entries, made by [`Store::prepare_award`].
pub struct PreparedAward([(Vec<u8>, Vec<u8>); 3]);

/// Why a pre-authorized code bought no access token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Redeem {
    #[error("no such pre-authorized code")]
    Unknown,
    #[error("the pre-authorized code was used already")]
    Used,
    #[error("the offer has expired")]
    Expired,
    #[error("the badge was claimed already")]
    Claimed,
    #[error("the issuer revoked or suspended the badge")]
    Withdrawn,
    #[error("too many wrong tries: the offer is locked")]
    Locked,
    #[error("this offer needs its transaction code (tx_code)")]
    TxCodeMissing,
    #[error("this offer takes no transaction code")]
    TxCodeUnexpected,
    #[error("wrong transaction code; {left} tries left")]
    TxCodeWrong { left: u32 },
}

/// The key claim secrets are derived from.
pub(super) struct ClaimKeys([u8; 32]);

impl ClaimKeys {
    /// A stand-in until [`Store::set_claim_key`]: derived from the store's
    /// share key (for a store opened alone, as in tests).
    pub(super) fn new(share_key: &[u8; 32]) -> Self {
        let mut mac = HmacSha256::new_from_slice(share_key).expect("any key length");
        mac.update(b"cairn claim key v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, what: &str, id: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("any key length");
        mac.update(what.as_bytes());
        mac.update(b"\0");
        mac.update(id.as_bytes());
        mac
    }

    fn tag(&self, what: &str, id: &str) -> [u8; 32] {
        self.mac(what, id).finalize().into_bytes().into()
    }

    pub(super) fn secret(&self, what: &str, id: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.tag(what, id)[..16])
    }

    /// The award's claim token (the first generation's is the keyed hash
    /// of its id alone).
    pub(super) fn token(&self, award: &Award) -> String {
        self.secret("token", &generational(award))
    }

    pub(super) fn code(&self, award: &Award) -> String {
        self.secret("pre-authorized-code", &generational(award))
    }

    fn tx_code_hash(&self, id: &str, code: &str) -> String {
        hex::encode(self.tag("tx-code", &format!("{id}\0{code}")))
    }

    /// Whether `code` is the one `hash` was made of (in constant time).
    fn tx_code_matches(&self, id: &str, code: &str, hash: &str) -> bool {
        let Ok(expected) = hex::decode(hash) else {
            return false;
        };
        self.mac("tx-code", &format!("{id}\0{code}"))
            .verify_slice(&expected)
            .is_ok()
    }

    /// The tag of a nonce's body (its expiry and randomness), truncated.
    fn nonce_tag(&self, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("any key length");
        mac.update(b"nonce\0");
        mac.update(body);
        mac
    }
}

/// The claim key in `path` (32 bytes), made on first use: kept beside the
/// database, never in it, so that a copy of the database alone cannot
/// derive a claim link, a pre-authorized code or a challenge.
pub fn claim_key_file(path: &std::path::Path) -> Result<[u8; 32], StoreError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| StoreError::Unavailable(format!("{}: {e}", path.display()));
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| corrupt(format!("{} is not a 32-byte claim key", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(failed)?;
            file.write_all(&key)
                .and_then(|()| file.sync_all())
                .map_err(failed)?;
            Ok(key)
        }
        Err(e) => Err(failed(e)),
    }
}

/// What an award's secrets are derived from: its credential id, and its
/// generation once the issuer renewed its link.
fn generational(award: &Award) -> String {
    match award.generation {
        0 => award.credential.clone(),
        g => format!("{}\0{g}", award.credential),
    }
}

/// The longest string taken as a secret (ours are 22 characters).
const MAX_SECRET: usize = 64;

/// Where a secret's award is found: its kind and its SHA-256, so the
/// database never holds the secret itself.
fn secret_key(prefix: u8, secret: &str) -> Vec<u8> {
    key(prefix, &digest(secret))
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn key(prefix: u8, rest: &[u8]) -> Vec<u8> {
    [&[prefix][..], rest].concat()
}

pub(super) fn award_key(id: &str) -> Vec<u8> {
    key(b'a', id.as_bytes())
}

/// A random 128-bit secret, base64url.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Store {
    /// Derives claim secrets from `key` (see [`claim_key_file`]) from now on.
    pub fn set_claim_key(&self, key: &[u8; 32]) {
        *self.claim_keys.write().expect("claim keys lock") = Arc::new(ClaimKeys(*key));
    }

    fn claim_keys(&self) -> Arc<ClaimKeys> {
        self.claim_keys.read().expect("claim keys lock").clone()
    }

    /// The award of the new credential `id`, ready to write: its record
    /// and its token and code indexes. Made before the issuance's write
    /// (the hashing stays out of the store's lock).
    pub fn prepare_award(&self, id: &str, award: &NewAward) -> PreparedAward {
        let keys = self.claim_keys();
        let record = Award {
            credential: id.to_owned(),
            expires: award.expires,
            tx_code: award.tx_code.as_deref().map(|c| keys.tx_code_hash(id, c)),
            failures: 0,
            code_used: false,
            access: None,
            exchanges: Vec::new(),
            claimed: Vec::new(),
            generation: 0,
        };
        PreparedAward([
            (
                award_key(id),
                serde_json::to_vec(&record).expect("an award serializes"),
            ),
            (
                secret_key(b't', &keys.token(&record)),
                id.as_bytes().to_vec(),
            ),
            (
                secret_key(b'p', &keys.code(&record)),
                id.as_bytes().to_vec(),
            ),
        ])
    }

    /// Puts a prepared award in the issuance's `batch`.
    pub(super) fn put_award(
        &self,
        batch: &mut WriteBatch,
        db: &rocksdb::DB,
        award: &PreparedAward,
    ) {
        for (k, v) in &award.0 {
            batch.put_cf(cf(db, CLAIMS), k, v);
        }
    }

    /// Gives the award `id` a new claim link (and code), ending at
    /// `expires`: the old link, its code, exchanges and access token stop
    /// working, and its tries start again. An award claimed already keeps
    /// its state.
    pub fn renew_award(&self, id: &str, award: &NewAward) -> Result<Award, StoreError> {
        self.change_award(id, |record, batch, db| {
            if !record.claimed.is_empty() {
                return Err(StoreError::Claimed {
                    award: id.to_owned(),
                    by: record.claimed.join(", "),
                });
            }
            let keys = self.claim_keys();
            let family = cf(db, CLAIMS);
            batch.delete_cf(family, secret_key(b't', &keys.token(record)));
            batch.delete_cf(family, secret_key(b'p', &keys.code(record)));
            for x in record.exchanges.drain(..) {
                batch.delete_cf(family, secret_key(b'x', &x.id));
            }
            if let Some((hash, _)) = record.access.take() {
                if let Ok(hash) = hex::decode(hash) {
                    batch.delete_cf(family, key(b'k', &hash));
                }
            }
            record.generation += 1;
            record.expires = award.expires;
            record.tx_code = award.tx_code.as_deref().map(|c| keys.tx_code_hash(id, c));
            record.failures = 0;
            record.code_used = false;
            batch.put_cf(family, secret_key(b't', &keys.token(record)), id);
            batch.put_cf(family, secret_key(b'p', &keys.code(record)), id);
            Ok(record.clone())
        })
    }

    /// Marks the award `award` claimed by the credential `by`, in `batch`;
    /// an award claimed already refuses (`pending` holds the awards this
    /// write claims so far).
    pub(super) fn claim_award(
        &self,
        batch: &mut WriteBatch,
        db: &rocksdb::DB,
        award: &str,
        by: &str,
        now: i64,
        pending: &mut std::collections::HashMap<String, Award>,
    ) -> Result<(), StoreError> {
        let mut record = match pending.remove(award) {
            Some(r) => r,
            None => read_award(db, award)?.ok_or_else(|| StoreError::NoCredential(award.into()))?,
        };
        // Under the write lock, as status changes and tries are: a
        // revocation or a lock lands before this claim (refused) or after
        // it (and reaches it).
        let refusal = match self.award_state(&record, now)? {
            AwardState::Open => None,
            AwardState::Claimed => Some(StoreError::Claimed {
                award: award.to_owned(),
                by: record.claimed.join(", "),
            }),
            state => Some(StoreError::Unclaimable {
                award: award.to_owned(),
                state,
            }),
        };
        if let Some(e) = refusal {
            pending.insert(award.to_owned(), record);
            return Err(e);
        }
        record.claimed.push(by.to_owned());
        batch.put_cf(
            cf(db, CLAIMS),
            award_key(award),
            serde_json::to_vec(&record).expect("an award serializes"),
        );
        pending.insert(award.to_owned(), record);
        Ok(())
    }

    /// The award's claim token: the secret in its claim link.
    pub fn claim_token(&self, award: &Award) -> String {
        self.claim_keys().token(award)
    }

    /// The claim token of a new award of `id` (its first generation).
    pub fn first_claim_token(&self, id: &str) -> String {
        self.claim_keys().secret("token", id)
    }

    /// The award's pre-authorized code.
    pub fn pre_authorized_code(&self, award: &Award) -> String {
        self.claim_keys().code(award)
    }

    /// Where an award stands, the issuer's word on its credential
    /// included: one revoked or suspended (and not claimed) is withdrawn.
    pub fn award_state(&self, award: &Award, now: i64) -> Result<AwardState, StoreError> {
        let state = award.state(now);
        Ok(match self.status(&award.credential)?.map(|r| r.status) {
            Some(super::CredentialStatus::Revoked | super::CredentialStatus::Suspended)
                if state != AwardState::Claimed =>
            {
                AwardState::Withdrawn
            }
            _ => state,
        })
    }

    /// The award of the credential `id`.
    pub fn award(&self, id: &str) -> Result<Option<Award>, StoreError> {
        read_award(&*self.db()?, id)
    }

    /// The award a secret of kind `prefix` names (none for a string no
    /// secret of ours could be).
    fn award_by(&self, prefix: u8, secret: &str) -> Result<Option<Award>, StoreError> {
        if secret.len() > MAX_SECRET {
            return Ok(None);
        }
        let db = self.db()?;
        let Some(id) = db.get_cf(cf(&db, CLAIMS), secret_key(prefix, secret))? else {
            return Ok(None);
        };
        read_award(&db, std::str::from_utf8(&id).map_err(corrupt)?)
    }

    /// The award whose claim token this is.
    pub fn award_by_token(&self, token: &str) -> Result<Option<Award>, StoreError> {
        self.award_by(b't', token)
    }

    /// The award an exchange belongs to.
    pub fn award_by_exchange(&self, exchange: &str) -> Result<Option<Award>, StoreError> {
        self.award_by(b'x', exchange)
    }

    /// The award an access token was given for, while the token lasts.
    pub fn award_by_access(&self, token: &str, now_ms: i64) -> Result<Option<Award>, StoreError> {
        let hash = hex::encode(digest(token));
        Ok(self
            .award_by(b'k', token)?
            .filter(|a| matches!(&a.access, Some((h, until)) if *h == hash && now_ms < *until)))
    }

    /// Changes the award `id` under the store's write lock and writes it
    /// (with `also`'s puts) synced, unless `change` refuses.
    fn change_award<T, E: From<StoreError>>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Award, &mut WriteBatch, &rocksdb::DB) -> Result<T, E>,
    ) -> Result<T, E> {
        let db = self.db()?;
        let _guard = self.write.lock().expect("store lock");
        let before = read_award(&db, id)?.ok_or_else(|| StoreError::NoCredential(id.into()))?;
        let mut award = before.clone();
        let mut batch = WriteBatch::default();
        let outcome = change(&mut award, &mut batch, &db);
        // A refusal may count a try, so the award is written whatever the
        // outcome, but only when something changed: a refusal that counts
        // nothing costs no synced write.
        if award != before || !batch.is_empty() {
            batch.put_cf(
                cf(&db, CLAIMS),
                award_key(id),
                serde_json::to_vec(&award).expect("an award serializes"),
            );
            self.noted(db.write_opt(batch, &synced()))
                .map_err(E::from)?;
        }
        outcome
    }

    /// Opens a new VC-API exchange for the award `id`, ending at `expires`;
    /// the oldest is dropped past [`MAX_EXCHANGES`].
    pub fn open_exchange(&self, id: &str, now: i64, expires: i64) -> Result<Exchange, StoreError> {
        self.change_award(id, |award, batch, db| {
            let exchange = Exchange {
                id: random_secret(),
                expires: expires.min(award.expires),
            };
            let (live, ended): (Vec<_>, Vec<_>) = std::mem::take(&mut award.exchanges)
                .into_iter()
                .partition(|x| x.expires > now);
            award.exchanges = live;
            for old in ended {
                batch.delete_cf(cf(db, CLAIMS), secret_key(b'x', &old.id));
            }
            while award.exchanges.len() >= MAX_EXCHANGES {
                let old = award.exchanges.remove(0);
                batch.delete_cf(cf(db, CLAIMS), secret_key(b'x', &old.id));
            }
            batch.put_cf(cf(db, CLAIMS), secret_key(b'x', &exchange.id), id);
            award.exchanges.push(exchange.clone());
            Ok(exchange)
        })
    }

    /// The challenge of the exchange `exchange`: a keyed hash of its id,
    /// so that asking for it again writes nothing and gives the same.
    pub fn exchange_challenge(&self, exchange: &str) -> String {
        self.claim_keys().secret("challenge", exchange)
    }

    /// Exchanges the pre-authorized code `code` (and transaction code) for
    /// an access token lasting until `until_ms`; a wrong transaction code
    /// counts a try, and the award locks after [`MAX_TRIES`].
    pub fn redeem_code(
        &self,
        code: &str,
        tx_code: Option<&str>,
        now: i64,
        access: &str,
        until_ms: i64,
    ) -> Result<Award, RedeemError> {
        let Some(found) = self.award_by(b'p', code)? else {
            return Err(Redeem::Unknown.into());
        };
        let keys = self.claim_keys();
        self.change_award(&found.credential, |award, batch, db| {
            match self.award_state(award, now)? {
                AwardState::Claimed => return Err(Redeem::Claimed.into()),
                AwardState::Locked => return Err(Redeem::Locked.into()),
                AwardState::Expired => return Err(Redeem::Expired.into()),
                AwardState::Withdrawn => return Err(Redeem::Withdrawn.into()),
                AwardState::Open => {}
            }
            if award.code_used {
                // A code seen again: someone else may hold it.
                award.failures += 1;
                return Err(Redeem::Used.into());
            }
            match (&award.tx_code, tx_code) {
                (None, None) => {}
                (None, Some(_)) => return Err(Redeem::TxCodeUnexpected.into()),
                (Some(_), None) => return Err(Redeem::TxCodeMissing.into()),
                (Some(hash), Some(given)) => {
                    if !keys.tx_code_matches(&award.credential, given, hash) {
                        award.failures += 1;
                        return Err(Redeem::TxCodeWrong {
                            left: MAX_TRIES.saturating_sub(award.failures),
                        }
                        .into());
                    }
                }
            }
            award.code_used = true;
            let hash = digest(access);
            if let Some((old, _)) = &award.access {
                if let Ok(old) = hex::decode(old) {
                    batch.delete_cf(cf(db, CLAIMS), key(b'k', &old));
                }
            }
            award.access = Some((hex::encode(hash), until_ms));
            batch.put_cf(
                cf(db, CLAIMS),
                key(b'k', &hash),
                award.credential.as_bytes(),
            );
            Ok(award.clone())
        })
    }

    /// Uses up `nonce` (whose own expiry is `expires_ms`): false if it was
    /// used already. Used nonces are forgotten once they would have
    /// expired anyway.
    pub fn use_nonce(&self, nonce: &str, expires_ms: i64, now_ms: i64) -> Result<bool, StoreError> {
        let db = self.db()?;
        let _guard = self.write.lock().expect("store lock");
        let family = cf(&db, CLAIMS);
        let k = key(
            b'u',
            &[&(expires_ms as u64).to_be_bytes()[..], &digest(nonce)[..16]].concat(),
        );
        if db.get_pinned_cf(family, &k)?.is_some() {
            return Ok(false);
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(family, &k, b"");
        // Forget a few used nonces past their expiry (point deletes: range
        // tombstones would pile up in front of every read).
        let end = key(b'u', &(now_ms.max(0) as u64).to_be_bytes());
        for item in db.prefix_iterator_cf(family, b"u").take(SWEEP) {
            let (k, _) = item?;
            if !k.starts_with(b"u") || *k >= *end {
                break;
            }
            batch.delete_cf(family, &k);
        }
        self.noted(db.write_opt(batch, &synced()))?;
        Ok(true)
    }

    /// A fresh nonce lasting until `expires_ms`: its expiry, 64 random
    /// bits and a tag, so that handing one out writes nothing.
    pub fn new_nonce(&self, expires_ms: i64) -> String {
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&(expires_ms.max(0) as u64).to_be_bytes());
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut body[8..]);
        let tag = self.claim_keys().nonce_tag(&body).finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([&body[..], &tag[..16]].concat())
    }

    /// When `nonce` expires (Unix ms), if this node made it.
    pub fn nonce_expiry(&self, nonce: &str) -> Option<i64> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .filter(|b| b.len() == 32)?;
        self.claim_keys()
            .nonce_tag(&bytes[..16])
            .verify_truncated_left(&bytes[16..])
            .ok()?;
        Some(u64::from_be_bytes(bytes[..8].try_into().ok()?) as i64)
    }
}

pub(super) fn read_award(db: &rocksdb::DB, id: &str) -> Result<Option<Award>, StoreError> {
    db.get_cf(cf(db, CLAIMS), award_key(id))?
        .map(|v| serde_json::from_slice(&v).map_err(corrupt))
        .transpose()
}

/// A refused redemption, or the store failing.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error(transparent)]
    Refused(#[from] Redeem),
    #[error(transparent)]
    Store(#[from] StoreError),
}
