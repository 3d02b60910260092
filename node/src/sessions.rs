//! Console sessions: who signed in, with which role, and the form token
//! every one of their forms carries (the defence against cross-site
//! requests, beside a SameSite=Strict cookie and the Origin check).
//!
//! Sessions live in memory only: a restart signs everyone out, which costs
//! a sign-in and keeps no session secret on disk. The cookie's value is
//! never kept; a session is found by its SHA-256.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::tokens::Role;

/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(2 * 3600);
/// A session ends this long after sign-in, used or not.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// Sessions held at most; the oldest go first.
const MAX_SESSIONS: usize = 10_000;

/// What a session was started with; it ends when that is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedInWith {
    /// A bearer token, by id.
    Token(String),
    /// A one-time sign-in link, by id.
    Link(String),
}

impl SignedInWith {
    /// The token's or the link's id: who signed in, for the server's log.
    pub fn id(&self) -> &str {
        match self {
            SignedInWith::Token(id) | SignedInWith::Link(id) => id,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    pub with: SignedInWith,
    /// The form token: every form posts it back.
    pub csrf: String,
    started: Instant,
    seen: Instant,
}

impl Session {
    /// Whether `token` is this session's form token.
    pub fn csrf_matches(&self, token: &str) -> bool {
        same_secret(token, &self.csrf)
    }

    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.started) < MAX_AGE && now.duration_since(self.seen) < IDLE
    }
}

#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Session>>,
}

/// Whether two secrets are the same. Compared as digests, so the time
/// taken says nothing about a guess's prefix.
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// 32 random bytes, base64url: a cookie's or a form token's value.
pub fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn key(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

impl Sessions {
    /// Starts a session; returns the cookie's value (shown once) and the
    /// session.
    pub fn start(&self, role: Role, with: SignedInWith) -> (String, Session) {
        let cookie = random();
        let now = Instant::now();
        let session = Session {
            role,
            with,
            csrf: random(),
            started: now,
            seen: now,
        };
        let mut live = self.live.lock().expect("sessions lock");
        if live.len() >= MAX_SESSIONS {
            live.retain(|_, s| s.live(now));
            if live.len() >= MAX_SESSIONS {
                if let Some(oldest) = live.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| *k) {
                    live.remove(&oldest);
                }
            }
        }
        live.insert(key(&cookie), session.clone());
        (cookie, session)
    }

    /// The live session of `cookie`, marked as used now.
    pub fn get(&self, cookie: &str) -> Option<Session> {
        let now = Instant::now();
        let mut live = self.live.lock().expect("sessions lock");
        let k = key(cookie);
        let session = live.get_mut(&k)?;
        if !session.live(now) {
            live.remove(&k);
            return None;
        }
        session.seen = now;
        Some(session.clone())
    }

    /// Ends the session of `cookie` (signing out).
    pub fn end(&self, cookie: &str) {
        self.live
            .lock()
            .expect("sessions lock")
            .remove(&key(cookie));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_ends() {
        let sessions = Sessions::default();
        let (cookie, session) = sessions.start(Role::Viewer, SignedInWith::Token("ab12".into()));
        let found = sessions.get(&cookie).unwrap();
        assert_eq!(found.role, Role::Viewer);
        assert!(found.csrf_matches(&session.csrf));
        assert!(!found.csrf_matches(""));
        assert!(!found.csrf_matches(&cookie));
        assert!(sessions.get("forged").is_none());
        let (other, _) = sessions.start(Role::Admin, SignedInWith::Link("cd34".into()));
        sessions.end(&cookie);
        assert!(sessions.get(&cookie).is_none());
        assert_eq!(sessions.get(&other).unwrap().with.id(), "cd34");
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let now = Instant::now();
        let mut s = Session {
            role: Role::Admin,
            with: SignedInWith::Link("x".into()),
            csrf: "c".into(),
            started: now,
            seen: now,
        };
        assert!(s.live(now));
        assert!(!s.live(now + IDLE));
        s.seen = now + MAX_AGE - Duration::from_secs(1);
        assert!(!s.live(now + MAX_AGE));
    }
}
