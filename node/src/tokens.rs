//! Bearer tokens for the issuer endpoints.
//!
//! Kept in `tokens.json` in the data directory, apart from RocksDB, so that
//! `cairn-node token create` works while the node runs (RocksDB allows one
//! process). Only each token's SHA-256 is stored: a leaked file grants
//! nothing. Every change rewrites the file atomically (write, sync, rename);
//! the node re-reads it when it changes.
//!
//! A one-time sign-in link for the console (`cairn-node console-link`) is a
//! record of the same file with `signInUntil`: it is no bearer token, it
//! starts one console session before that time, and the node keeps it from
//! being used twice (its store remembers the link's hash until it expires).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const FILE: &str = "tokens.json";
/// How often the node looks at the file for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("no token {0}")]
    Unknown(String),
}

/// What a token may do. Each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything, change nothing.
    Viewer,
    /// Issue, revoke, suspend, renew, certify; hand out claim links.
    Issuer,
    /// Everything: badge classes, the issuer profile, endorsements too.
    /// Tokens from before roles are admins.
    #[default]
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Issuer => "issuer",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "issuer" => Ok(Role::Issuer),
            "admin" => Ok(Role::Admin),
            other => Err(format!("no role `{other}`: admin, issuer or viewer")),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRecord {
    /// A short public name for the token (to list and revoke it).
    pub id: String,
    /// SHA-256 of the token, hex.
    pub hash: String,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    #[serde(default)]
    pub role: Role,
    /// A one-time console sign-in link, valid until then (RFC 3339), not a
    /// bearer token.
    #[serde(
        default,
        rename = "signInUntil",
        skip_serializing_if = "Option::is_none"
    )]
    pub sign_in_until: Option<String>,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Reads the token records (none if the file does not exist).
pub fn list(data_dir: &Path) -> Result<Vec<TokenRecord>, TokenError> {
    let path = path_in(data_dir);
    let err = |reason: String| TokenError::File {
        path: path.clone(),
        reason,
    };
    match std::fs::read(&path) {
        Ok(bytes) => parse(&bytes).map_err(err),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(err(e.to_string())),
    }
}

/// Parses the text of a tokens file.
pub fn parse(bytes: &[u8]) -> Result<Vec<TokenRecord>, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

fn write(data_dir: &Path, records: &[TokenRecord]) -> Result<(), TokenError> {
    let path = path_in(data_dir);
    let err = |e: std::io::Error| TokenError::File {
        path: path.clone(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(data_dir).map_err(err)?;
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(err)?;
    file.write_all(&serde_json::to_vec_pretty(records).expect("records serialize"))
        .map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(())
}

/// Creates a token; returns its record and the token itself, which is shown
/// once and never stored.
pub fn create(data_dir: &Path, role: Role) -> Result<(TokenRecord, String), TokenError> {
    add(data_dir, role, None)
}

/// Creates a one-time console sign-in secret, good for `ttl`; sign-in
/// records past their time are dropped from the file meanwhile.
pub fn create_sign_in(
    data_dir: &Path,
    role: Role,
    ttl: Duration,
) -> Result<(TokenRecord, String), TokenError> {
    let until = chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
    add(data_dir, role, Some(until))
}

fn add(
    data_dir: &Path,
    role: Role,
    sign_in_until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(TokenRecord, String), TokenError> {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!(
        "cairn_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let mut id = [0u8; 4];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let record = TokenRecord {
        id: hex::encode(id),
        hash: hash(&token),
        created: cairn_verifier::credential::fmt_time(chrono::Utc::now()),
        revoked: None,
        role,
        sign_in_until: sign_in_until.map(cairn_verifier::credential::fmt_time),
    };
    let now = chrono::Utc::now().timestamp();
    let mut records = list(data_dir)?;
    // A link's record outlives the link by a session's longest life: while
    // a session it started may be alive, revoking the link must still end
    // it, and a link id the node cannot find ends its sessions.
    let kept = crate::sessions::MAX_AGE.as_secs() as i64;
    records.retain(|r| r.sign_in_until.is_none() || sign_in_end(r).is_some_and(|t| t + kept > now));
    records.push(record.clone());
    write(data_dir, &records)?;
    Ok((record, token))
}

/// When a sign-in record stops working (Unix seconds).
fn sign_in_end(record: &TokenRecord) -> Option<i64> {
    record
        .sign_in_until
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
}

/// Revokes a token by id; it stops working within a second.
pub fn revoke(data_dir: &Path, id: &str) -> Result<(), TokenError> {
    let mut records = list(data_dir)?;
    let record = records
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| TokenError::Unknown(id.to_owned()))?;
    record
        .revoked
        .get_or_insert_with(|| cairn_verifier::credential::fmt_time(chrono::Utc::now()));
    write(data_dir, &records)
}

/// The node's view of the tokens: hashes of the live ones, refreshed when the
/// file changes.
pub struct Tokens {
    data_dir: PathBuf,
    state: Mutex<Loaded>,
}

struct Loaded {
    checked: Instant,
    modified: Option<SystemTime>,
    /// hash → token id and role
    live: HashMap<String, (String, Role)>,
    /// hash → sign-in record id, role and end (Unix seconds)
    sign_ins: HashMap<String, (String, Role, i64)>,
    /// Ids of revoked records.
    revoked: std::collections::HashSet<String>,
}

/// A console sign-in secret's record, while it is good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub id: String,
    pub role: Role,
    /// Unix seconds.
    pub until: i64,
    /// SHA-256 of the secret, hex: what the node remembers as used.
    pub hash: String,
}

impl Tokens {
    pub fn open(data_dir: &Path) -> Result<Self, TokenError> {
        let tokens = Self {
            data_dir: data_dir.to_owned(),
            state: Mutex::new(Loaded {
                checked: Instant::now(),
                modified: None,
                live: HashMap::new(),
                sign_ins: HashMap::new(),
                revoked: Default::default(),
            }),
        };
        tokens.reload(&mut tokens.state.lock().expect("tokens lock"))?;
        Ok(tokens)
    }

    fn reload(&self, state: &mut Loaded) -> Result<(), TokenError> {
        state.checked = Instant::now();
        let modified = std::fs::metadata(path_in(&self.data_dir))
            .and_then(|m| m.modified())
            .ok();
        if modified == state.modified && modified.is_some() {
            return Ok(());
        }
        let records = list(&self.data_dir)?;
        state.revoked = records
            .iter()
            .filter(|r| r.revoked.is_some())
            .map(|r| r.id.clone())
            .collect();
        state.sign_ins = records
            .iter()
            .filter(|r| r.revoked.is_none())
            .filter_map(|r| Some((r.hash.clone(), (r.id.clone(), r.role, sign_in_end(r)?))))
            .collect();
        state.live = records
            .into_iter()
            .filter(|r| r.revoked.is_none() && r.sign_in_until.is_none())
            .map(|r| (r.hash, (r.id, r.role)))
            .collect();
        state.modified = modified;
        Ok(())
    }

    /// The id and role of the live token `token`, if it is one. A revocation is seen
    /// within [`RELOAD_EVERY`]; a token created meanwhile at once (an
    /// unknown token makes the node look at the file, which costs a stat).
    pub fn check(&self, token: &str) -> Option<(String, Role)> {
        let hashed = hash(token);
        let state = self.fresh(|s| s.live.contains_key(&hashed));
        state.live.get(&hashed).cloned()
    }

    /// Whether the bearer token `id` is still live (a console session
    /// started with it ends when it is revoked).
    pub fn is_live(&self, id: &str) -> bool {
        let state = self.fresh(|_| true);
        state.live.values().any(|(i, _)| i == id)
    }

    /// Whether the sign-in link `id` is still on file and not revoked (a
    /// console session started with it ends otherwise). The link may be
    /// past its time: that ends its use, not the sessions it started.
    pub fn link_holds(&self, id: &str) -> bool {
        let state = self.fresh(|_| true);
        state.sign_ins.values().any(|(i, ..)| i == id)
    }

    /// The sign-in record of `secret`, if it is one and not past its time.
    /// Whether it was used already is the caller's to remember.
    pub fn check_sign_in(&self, secret: &str) -> Option<SignIn> {
        let hashed = hash(secret);
        let state = self.fresh(|s| s.sign_ins.contains_key(&hashed));
        let (id, role, until) = state.sign_ins.get(&hashed)?.clone();
        (until > chrono::Utc::now().timestamp()).then_some(SignIn {
            id,
            role,
            until,
            hash: hashed,
        })
    }

    /// The state, re-read if `known` says the wanted record is not there
    /// or the last look is older than [`RELOAD_EVERY`].
    fn fresh(&self, known: impl Fn(&Loaded) -> bool) -> std::sync::MutexGuard<'_, Loaded> {
        let mut state = self.state.lock().expect("tokens lock");
        if !known(&state) || state.checked.elapsed() >= RELOAD_EVERY {
            if let Err(e) = self.reload(&mut state) {
                // Keep the tokens known so far; a half-written edit by hand
                // must not lock every issuer out or let anyone in.
                tracing::warn!(error = %e, "tokens file unreadable; keeping the previous tokens");
            }
        }
        state
    }

    /// How many live tokens there are.
    pub fn count(&self) -> usize {
        self.state.lock().expect("tokens lock").live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_tokens_work_until_revoked_and_only_hashes_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (a, token_a) = create(dir.path(), Role::Admin).unwrap();
        let (b, token_b) = create(dir.path(), Role::Viewer).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!text.contains(&token_a) && text.contains(&a.hash));
        let tokens = Tokens::open(dir.path()).unwrap();
        assert_eq!(tokens.check(&token_a), Some((a.id.clone(), Role::Admin)));
        assert_eq!(tokens.check(&token_b), Some((b.id.clone(), Role::Viewer)));
        assert!(tokens.check("cairn_guess").is_none());
        revoke(dir.path(), &a.id).unwrap();
        assert!(matches!(
            revoke(dir.path(), "nope"),
            Err(TokenError::Unknown(_))
        ));
        // Seen at the next reload.
        std::thread::sleep(RELOAD_EVERY + Duration::from_millis(50));
        assert!(tokens.check(&token_a).is_none());
        assert!(tokens.check(&token_b).is_some());
        assert_eq!(list(dir.path()).unwrap().len(), 2);
    }

    #[test]
    fn sign_in_links_are_no_bearer_tokens_and_end() {
        let dir = tempfile::tempdir().unwrap();
        let (record, secret) =
            create_sign_in(dir.path(), Role::Issuer, Duration::from_secs(600)).unwrap();
        let (_, short) = create_sign_in(dir.path(), Role::Admin, Duration::ZERO).unwrap();
        let tokens = Tokens::open(dir.path()).unwrap();
        assert!(
            tokens.check(&secret).is_none(),
            "a sign-in link is no bearer token"
        );
        let found = tokens.check_sign_in(&secret).unwrap();
        assert_eq!(
            (found.id.as_str(), found.role),
            (record.id.as_str(), Role::Issuer)
        );
        assert!(tokens.check_sign_in(&short).is_none(), "past its time");
        let (_, bearer) = create(dir.path(), Role::Admin).unwrap();
        assert!(tokens.check_sign_in(&bearer).is_none());
        assert!(tokens.link_holds(&record.id));
        assert!(!tokens.link_holds("0a1b2c3d"), "no such link");
        revoke(dir.path(), &record.id).unwrap();
        std::thread::sleep(RELOAD_EVERY + Duration::from_millis(50));
        assert!(!tokens.link_holds(&record.id));
        assert!(tokens.check_sign_in(&secret).is_none(), "revoked");

        // A link past its time stays on file while a session it started
        // may live; one older than that is gone at the next creation.
        let mut records = list(dir.path()).unwrap();
        assert_eq!(records.len(), 3);
        let mut old = records[0].clone();
        old.id = "0a1b2c3d".into();
        old.revoked = None;
        old.sign_in_until = Some("2026-01-01T00:00:00Z".into());
        records.push(old);
        write(dir.path(), &records).unwrap();
        create(dir.path(), Role::Viewer).unwrap();
        let ids: Vec<String> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids.len(), 4, "{ids:?}");
        assert!(!ids.contains(&"0a1b2c3d".to_owned()));
    }

    #[test]
    fn tokens_from_before_roles_are_admins() {
        let old = br#"[{"id": "0a1b2c3d", "hash": "00", "created": "2026-11-01T00:00:00Z"}]"#;
        assert_eq!(parse(old).unwrap()[0].role, Role::Admin);
        assert!(Role::Admin > Role::Issuer && Role::Issuer > Role::Viewer);
        assert_eq!("viewer".parse::<Role>(), Ok(Role::Viewer));
        assert!("root".parse::<Role>().is_err());
    }
}
