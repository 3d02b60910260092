//! The `analytics` column family: counts by day, event, badge class and
//! credential, added to every few seconds by the one writer that flushes
//! [`crate::analytics::Counter`].
//!
//! Key: day (4 bytes, big-endian, offset so that order is time order) ++
//! event code ++ class ++ `0` ++ credential; value: the count, 8 bytes
//! big-endian. Days first, so a report reads one range.

use std::collections::HashMap;

use rocksdb::WriteBatch;

use super::{cf, corrupt, read_u64, synced, Store, StoreError, ANALYTICS};
use crate::analytics::{Event, Key};

fn day_bytes(day: i32) -> [u8; 4] {
    ((day as u32) ^ 0x8000_0000).to_be_bytes()
}

fn encode(key: &Key) -> Vec<u8> {
    let mut k = Vec::with_capacity(6 + key.achievement.len() + key.credential.len());
    k.extend_from_slice(&day_bytes(key.day));
    k.push(key.event.code());
    k.extend_from_slice(key.achievement.as_bytes());
    k.push(0);
    k.extend_from_slice(key.credential.as_bytes());
    k
}

fn decode(k: &[u8]) -> Result<Key, StoreError> {
    let bad = || corrupt("an analytics key does not decode");
    let day = u32::from_be_bytes(k.get(..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let event = Event::from_code(*k.get(4).ok_or_else(bad)?).ok_or_else(bad)?;
    let rest = &k[5..];
    let split = rest.iter().position(|b| *b == 0).ok_or_else(bad)?;
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| bad());
    Ok(Key {
        day: (day ^ 0x8000_0000) as i32,
        event,
        achievement: text(&rest[..split])?,
        credential: text(&rest[split + 1..])?,
    })
}

impl Store {
    /// Adds `counts` to what is stored, in one synced write.
    pub fn add_counts(&self, counts: &HashMap<Key, u64>) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let db = self.db()?;
        let family = cf(&db, ANALYTICS);
        let _guard = self.write.lock().expect("store lock");
        let keys: Vec<Vec<u8>> = counts.keys().map(encode).collect();
        let stored = db.multi_get_cf(keys.iter().map(|k| (family, k)));
        let mut batch = WriteBatch::default();
        for ((k, n), old) in keys.iter().zip(counts.values()).zip(stored) {
            let old = match old? {
                Some(v) => read_u64(&v)?,
                None => 0,
            };
            batch.put_cf(family, k, old.saturating_add(*n).to_be_bytes());
        }
        self.noted(db.write_opt(batch, &synced()))
    }

    /// The stored counts of days `from..=to`.
    pub fn counts(&self, from: i32, to: i32) -> Result<Vec<(Key, u64)>, StoreError> {
        let db = self.db()?;
        let start = day_bytes(from);
        let end = day_bytes(to.saturating_add(1));
        let mut out = Vec::new();
        let mut options = rocksdb::ReadOptions::default();
        options.set_iterate_upper_bound(end.to_vec());
        let iter = db.iterator_cf_opt(
            cf(&db, ANALYTICS),
            options,
            rocksdb::IteratorMode::From(&start, rocksdb::Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            out.push((decode(&k)?, read_u64(&v)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(day: i32, event: Event, a: &str, c: &str) -> Key {
        Key {
            day,
            event,
            achievement: a.into(),
            credential: c.into(),
        }
    }

    #[test]
    fn keys_round_trip_and_sort_by_day() {
        let k = key(20_424, Event::ShareCopyLink, "nurse", "urn:uuid:1");
        assert_eq!(decode(&encode(&k)).unwrap(), k);
        assert!(encode(&key(-1, Event::Claim, "", "")) < encode(&key(0, Event::PageView, "", "")));
        assert!(decode(b"\x80\x00").is_err());
        assert!(decode(b"\x80\x00\x00\x00\xffab").is_err());
    }

    #[test]
    fn counts_add_up_across_writes_and_reopens_and_read_by_day_range() {
        let dir = tempfile::tempdir().unwrap();
        let a = key(100, Event::PageView, "nurse", "urn:a");
        let b = key(101, Event::DownloadPng, "nurse", "");
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .add_counts(&HashMap::from([(a.clone(), 2), (b.clone(), 1)]))
                .unwrap();
            store.add_counts(&HashMap::from([(a.clone(), 3)])).unwrap();
            store.close();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.counts(100, 101).unwrap(),
            vec![(a.clone(), 5), (b.clone(), 1)]
        );
        assert_eq!(store.counts(101, 200).unwrap(), vec![(b, 1)]);
        assert_eq!(store.counts(99, 99).unwrap(), vec![]);
    }
}
