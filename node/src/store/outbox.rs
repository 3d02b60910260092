//! The outbox: what happened to credentials (issued, anchored, revoked,
//! suspended, running out) and its delivery to each sink, in the `outbox`
//! column family.
//!
//! Keys:
//! - `e` ++ seq: an event not yet fanned out to the sinks;
//! - `d` ++ sink ++ due (ms, big-endian) ++ seq: a delivery waiting for its
//!   time, so the next ones due are the first keys;
//! - `x` ++ sink ++ seq: a delivery given up (the mail server refused the
//!   address for good), kept for the issuer to see;
//! - `c` ++ credential id: the earner's address and language, as given at
//!   issuance (never in a credential, a page or a URL).
//!
//! An event is written in the same synced write as the change it reports,
//! so none is lost and none is told of a change that did not land. A
//! delivery leaves the outbox only after its sink took it: a crash between
//! the two repeats it, with the same event id.

use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use rocksdb::DB;

use super::{be, cf, corrupt, read_u64, synced, Store, StoreError, META, OUTBOX};

const NEXT_EVENT: &[u8] = b"next-event";
/// The end of the window of validity ends already announced as `expiring`.
const EXPIRY_NOTICE_CURSOR: &[u8] = b"expiry-notice-cursor";

/// What happened to a credential: the body of a webhook, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique for ever; a repeated delivery carries the same one.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[serde(rename = "credentialId")]
    pub credential_id: String,
    /// When it happened (RFC 3339, UTC).
    pub created: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Issued,
    Anchored,
    Revoked,
    Suspended,
    Expiring,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Issued => "issued",
            EventKind::Anchored => "anchored",
            EventKind::Revoked => "revoked",
            EventKind::Suspended => "suspended",
            EventKind::Expiring => "expiring",
        }
    }

    /// What the earner is emailed about: their badge is ready, about to run
    /// out, or revoked.
    pub fn mailed(self) -> bool {
        matches!(
            self,
            EventKind::Anchored | EventKind::Expiring | EventKind::Revoked
        )
    }
}

impl Event {
    fn new(kind: EventKind, credential_id: &str, now: i64) -> Self {
        let mut id = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        Self {
            id: format!("evt_{}", hex::encode(id)),
            kind,
            credential_id: credential_id.to_owned(),
            created: chrono::DateTime::from_timestamp(now, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// How to reach the earner of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub email: String,
    /// The language of their messages (a BCP 47 tag), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// Where events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// The issuer's systems (`--webhook-url`): every event.
    Webhook,
    /// The earner's mailbox (`--smtp-url`): what [`EventKind::mailed`] says.
    Mail,
}

impl Sink {
    pub fn as_str(self) -> &'static str {
        match self {
            Sink::Webhook => "webhook",
            Sink::Mail => "mail",
        }
    }

    fn byte(self) -> u8 {
        match self {
            Sink::Webhook => b'w',
            Sink::Mail => b'm',
        }
    }
}

/// One event on its way to one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub event: Event,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The earner, for mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Contact>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A delivery as stored: its key (which moves when it is rescheduled).
#[derive(Debug, Clone)]
pub struct Due {
    key: Vec<u8>,
    pub delivery: Delivery,
}

impl Due {
    /// Its sink and sequence number, from its key.
    fn place(&self) -> Result<(Sink, u64), StoreError> {
        let sink = match self.key.get(1) {
            Some(b'w') => Sink::Webhook,
            Some(b'm') => Sink::Mail,
            _ => return Err(corrupt("an outbox key names no sink")),
        };
        Ok((sink, read_u64(self.key.get(10..18).unwrap_or_default())?))
    }
}

fn pending_key(seq: u64) -> Vec<u8> {
    [b"e".as_slice(), &be(seq)].concat()
}

fn delivery_key(sink: Sink, due_ms: i64, seq: u64) -> Vec<u8> {
    [
        &[b'd', sink.byte()][..],
        &be(due_ms.max(0) as u64),
        &be(seq),
    ]
    .concat()
}

fn dead_key(sink: Sink, seq: u64) -> Vec<u8> {
    [&[b'x', sink.byte()][..], &be(seq)].concat()
}

pub(super) fn contact_key(id: &str) -> Vec<u8> {
    [b"c".as_slice(), id.as_bytes()].concat()
}

/// Events to write with a change, under the store's write lock: takes
/// sequence numbers and puts each pending event in `batch`.
pub(super) struct Events {
    next: u64,
    now: i64,
}

impl Events {
    pub(super) fn push(&mut self, db: &DB, batch: &mut WriteBatch, kind: EventKind, id: &str) {
        let event = Event::new(kind, id, self.now);
        batch.put_cf(
            cf(db, OUTBOX),
            pending_key(self.next),
            serde_json::to_vec(&event).expect("an event serializes"),
        );
        self.next += 1;
    }

    /// Records the sequence numbers taken, in the same write.
    pub(super) fn finish(self, db: &DB, batch: &mut WriteBatch) {
        batch.put_cf(cf(db, META), NEXT_EVENT, be(self.next));
    }
}

impl Store {
    /// Events are written only while some sink listens: with none
    /// configured, changes cost no extra write.
    pub fn set_notifying(&self, on: bool) {
        // The window announced before a restart stays announced.
        if let Ok(db) = self.db() {
            if let Ok(Some(v)) = db.get_cf(cf(&db, META), EXPIRY_NOTICE_CURSOR) {
                if let Ok(t) = read_u64(&v) {
                    self.expiry_notice_cursor
                        .store(t as i64, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        self.notifying
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The event writer for one write, if events are on. Call under the
    /// write lock.
    pub(super) fn events(&self, now: i64) -> Result<Option<Events>, StoreError> {
        if !self.notifying.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        Ok(Some(Events {
            next: self.counter(NEXT_EVENT)?,
            now,
        }))
    }

    /// How to reach the earner of `id`, if the issuer said.
    pub fn contact(&self, id: &str) -> Result<Option<Contact>, StoreError> {
        let db = self.db()?;
        db.get_cf(cf(&db, OUTBOX), contact_key(id))?
            .map(|v| serde_json::from_slice(&v).map_err(corrupt))
            .transpose()
    }

    /// Announces, once each, the credentials whose validity ends within
    /// `notice` seconds of `now` (and after the last call's window), unless
    /// revoked. Returns how many.
    pub fn announce_expiring(&self, now: i64, notice: i64) -> Result<usize, StoreError> {
        let db = self.db()?;
        let _guard = self.write.lock().expect("store lock");
        let Some(mut events) = self.events(now)? else {
            return Ok(0);
        };
        let from = match db.get_cf(cf(&db, META), EXPIRY_NOTICE_CURSOR)? {
            Some(v) => read_u64(&v)? as i64,
            None => now,
        }
        .max(now);
        let until = now.saturating_add(notice);
        if until <= from {
            return Ok(0);
        }
        let ending = self.expiring(from, until, usize::MAX, |id| {
            Ok(self
                .status(id)?
                .is_none_or(|r| r.status != super::CredentialStatus::Revoked))
        })?;
        let mut batch = WriteBatch::default();
        for (_, id) in &ending {
            events.push(&db, &mut batch, EventKind::Expiring, id);
        }
        events.finish(&db, &mut batch);
        batch.put_cf(cf(&db, META), EXPIRY_NOTICE_CURSOR, be(until as u64));
        self.noted(db.write_opt(batch, &synced()))?;
        self.expiry_notice_cursor
            .store(until, std::sync::atomic::Ordering::Relaxed);
        Ok(ending.len())
    }

    /// Turns up to `max` pending events into deliveries, one per sink that
    /// takes it (mail only where the earner's address is known), in one
    /// write. Returns how many events.
    pub fn fan_out(&self, sinks: &[Sink], now_ms: i64, max: usize) -> Result<usize, StoreError> {
        let db = self.db()?;
        let _guard = self.write.lock().expect("store lock");
        let mut batch = WriteBatch::default();
        let mut count = 0;
        for item in db.prefix_iterator_cf(cf(&db, OUTBOX), b"e") {
            let (k, v) = item?;
            if !k.starts_with(b"e") || count >= max {
                break;
            }
            let seq = read_u64(&k[1..])?;
            let event: Event = serde_json::from_slice(&v).map_err(corrupt)?;
            for &sink in sinks {
                let to = match sink {
                    Sink::Webhook => None,
                    Sink::Mail if event.kind.mailed() => {
                        match self.contact(&event.credential_id)? {
                            Some(c) => Some(c),
                            None => continue,
                        }
                    }
                    Sink::Mail => continue,
                };
                let delivery = Delivery {
                    event: event.clone(),
                    attempts: 0,
                    to,
                    error: None,
                };
                batch.put_cf(
                    cf(&db, OUTBOX),
                    delivery_key(sink, now_ms, seq),
                    serde_json::to_vec(&delivery).expect("a delivery serializes"),
                );
            }
            batch.delete_cf(cf(&db, OUTBOX), &k);
            count += 1;
        }
        if count > 0 {
            self.noted(db.write_opt(batch, &synced()))?;
        }
        Ok(count)
    }

    /// The deliveries to `sink` due by `now_ms`, soonest first, at most
    /// `max`; and when the next one after them is due.
    pub fn due(
        &self,
        sink: Sink,
        now_ms: i64,
        max: usize,
    ) -> Result<(Vec<Due>, Option<i64>), StoreError> {
        let db = self.db()?;
        let prefix = [b'd', sink.byte()];
        let mut out = Vec::new();
        for item in db.prefix_iterator_cf(cf(&db, OUTBOX), prefix) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || k.len() != 18 {
                break;
            }
            let due = read_u64(&k[2..10])? as i64;
            if due > now_ms || out.len() >= max {
                return Ok((out, Some(due)));
            }
            out.push(Due {
                key: k.to_vec(),
                delivery: serde_json::from_slice(&v).map_err(corrupt)?,
            });
        }
        Ok((out, None))
    }

    /// Deliveries waiting for `sink`, due or not.
    pub fn waiting(&self, sink: Sink) -> Result<usize, StoreError> {
        let db = self.db()?;
        let prefix = [b'd', sink.byte()];
        Ok(db
            .prefix_iterator_cf(cf(&db, OUTBOX), prefix)
            .take_while(|i| i.as_ref().is_ok_and(|(k, _)| k.starts_with(&prefix)))
            .count())
    }

    /// Deliveries that failed: those given up, then those waiting for a
    /// retry, each with its sink; at most `max`, looking at no more than
    /// `max * 16` waiting ones.
    pub fn failed_deliveries(&self, max: usize) -> Result<Vec<(Sink, Delivery)>, StoreError> {
        let db = self.db()?;
        let mut out = Vec::new();
        for (prefix, only_failed) in [(b'x', false), (b'd', true)] {
            let mut looked = 0;
            for item in db.prefix_iterator_cf(cf(&db, OUTBOX), [prefix]) {
                let (k, v) = item?;
                looked += 1;
                if !k.starts_with(&[prefix]) || out.len() >= max || looked > max * 16 {
                    break;
                }
                let sink = match k.get(1) {
                    Some(b'w') => Sink::Webhook,
                    Some(b'm') => Sink::Mail,
                    _ => continue,
                };
                let delivery: Delivery = serde_json::from_slice(&v).map_err(corrupt)?;
                if !only_failed || delivery.attempts > 0 {
                    out.push((sink, delivery));
                }
            }
        }
        Ok(out)
    }

    /// The sink took it: it leaves the outbox.
    pub fn delivered(&self, due: &Due) -> Result<(), StoreError> {
        let db = self.db()?;
        self.noted(db.delete_cf_opt(cf(&db, OUTBOX), &due.key, &synced()))
    }

    /// It failed: it waits until `at_ms`, with its attempts counted.
    pub fn retry_at(&self, due: &Due, error: String, at_ms: i64) -> Result<(), StoreError> {
        let (sink, seq) = due.place()?;
        self.move_failed(due, error, delivery_key(sink, at_ms, seq))
    }

    /// It can never succeed (the mail server refuses the address for good):
    /// kept aside, never retried.
    pub fn give_up(&self, due: &Due, error: String) -> Result<(), StoreError> {
        let (sink, seq) = due.place()?;
        self.move_failed(due, error, dead_key(sink, seq))
    }

    /// A failed delivery, its attempt and error counted, moved to `to`.
    fn move_failed(&self, due: &Due, error: String, to: Vec<u8>) -> Result<(), StoreError> {
        let db = self.db()?;
        let mut delivery = due.delivery.clone();
        delivery.attempts += 1;
        delivery.error = Some(error);
        let mut batch = WriteBatch::default();
        batch.delete_cf(cf(&db, OUTBOX), &due.key);
        batch.put_cf(
            cf(&db, OUTBOX),
            to,
            serde_json::to_vec(&delivery).expect("a delivery serializes"),
        );
        self.noted(db.write_opt(batch, &synced()))
    }
}
