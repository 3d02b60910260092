//! The node's store: RocksDB on disk, every state change one atomic, synced
//! write.
//!
//! Layout (column families):
//! - `credentials`: credential id → the credential's newest form (signed;
//!   with its anchor proof once anchored);
//! - `queue`: sequence number (u64, big-endian) → credential id, for issued
//!   credentials not yet sealed into a batch, in issuance order;
//! - `batches`: batch number (u64, big-endian) → [`BatchRecord`];
//! - `leaves`: batch number ++ leaf index (both u64, big-endian) → credential
//!   id, the batch's leaf order;
//! - `placement`: credential id → batch number ++ leaf index;
//! - `meta`: counters.
//!
//! Invariants this module keeps, each by writing everything in one batch:
//! a credential acknowledged by [`Store::add_credential`] is on disk (synced
//! write-ahead log) before the call returns; sealing removes credentials from
//! the queue in the same write that places them in a batch, so none lands in
//! two batches and none is lost between them.

use std::path::Path;
use std::sync::Mutex;

use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::anchor::AnchorRecord;
use crate::merkle::{credential_digest, Batch, Hash, MerkleError};

const CREDENTIALS: &str = "credentials";
const QUEUE: &str = "queue";
const BATCHES: &str = "batches";
const LEAVES: &str = "leaves";
const PLACEMENT: &str = "placement";
const META: &str = "meta";
const FAMILIES: [&str; 6] = [CREDENTIALS, QUEUE, BATCHES, LEAVES, PLACEMENT, META];

const NEXT_SEQ: &[u8] = b"next-seq";
const NEXT_BATCH: &[u8] = b"next-batch";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("store: a record is damaged ({0})")]
    Corrupt(String),
    #[error("credential {0} exists already")]
    Duplicate(String),
    #[error("the credential has no string `id`")]
    NoId,
    #[error("{0}")]
    Merkle(#[from] MerkleError),
    #[error("batch {0} does not exist")]
    NoBatch(u64),
}

/// Where a batch is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum BatchState {
    /// Sealed: root computed, not yet confirmed on chain.
    Sealed,
    /// Anchored to the configured depth; every credential carries its proof.
    Anchored { anchor: AnchorRecord },
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

pub struct Store {
    db: DB,
    /// Serializes the read-modify-write of counters and the queue; RocksDB
    /// makes each write atomic, this makes each sequence of them so.
    write: Mutex<()>,
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

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let families = FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&options, dir, families)?;
        Ok(Self {
            db,
            write: Mutex::new(()),
        })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created on open")
    }

    fn counter(&self, key: &[u8]) -> Result<u64, StoreError> {
        match self.db.get_cf(self.cf(META), key)? {
            Some(v) => read_u64(&v),
            None => Ok(0),
        }
    }

    /// Stores a newly issued credential and queues it for the next batch;
    /// returns once it is durably on disk. Refuses an id already stored.
    pub fn add_credential(&self, credential: &Value) -> Result<u64, StoreError> {
        let id = credential
            .get("id")
            .and_then(Value::as_str)
            .ok_or(StoreError::NoId)?;
        let _guard = self.write.lock().expect("store lock");
        if self.db.get_pinned_cf(self.cf(CREDENTIALS), id)?.is_some() {
            return Err(StoreError::Duplicate(id.to_owned()));
        }
        let seq = self.counter(NEXT_SEQ)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CREDENTIALS),
            id,
            serde_json::to_vec(credential).expect("JSON serializes"),
        );
        batch.put_cf(self.cf(QUEUE), be(seq), id);
        batch.put_cf(self.cf(META), NEXT_SEQ, be(seq + 1));
        self.db.write_opt(batch, &synced())?;
        Ok(seq)
    }

    /// The newest form of a credential.
    pub fn credential(&self, id: &str) -> Result<Option<Value>, StoreError> {
        self.db
            .get_cf(self.cf(CREDENTIALS), id)?
            .map(|v| serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// How many credentials wait for a batch.
    pub fn queued(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .iterator_cf(self.cf(QUEUE), rocksdb::IteratorMode::Start)
            .count() as u64)
    }

    /// Seals up to `max` queued credentials, oldest first, into a new batch.
    /// In one write: the batch record, its leaf order, each credential's
    /// placement, and their removal from the queue.
    pub fn seal(&self, max: usize, now: i64) -> Result<Option<BatchRecord>, StoreError> {
        let _guard = self.write.lock().expect("store lock");
        let mut ids = Vec::new();
        let mut keys = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(QUEUE), rocksdb::IteratorMode::Start)
            .take(max)
        {
            let (k, v) = item?;
            keys.push(k);
            ids.push(
                String::from_utf8(v.to_vec()).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        if ids.is_empty() {
            return Ok(None);
        }
        let mut digests = Vec::with_capacity(ids.len());
        for id in &ids {
            let cred = self
                .credential(id)?
                .ok_or_else(|| StoreError::Corrupt(format!("queued {id} is not stored")))?;
            digests.push(credential_digest(&cred)?);
        }
        let tree = Batch::build(&digests)?;
        let number = self.counter(NEXT_BATCH)?;
        let record = BatchRecord {
            number,
            root: tree.root(),
            leaf_count: ids.len() as u64,
            sealed_at: now,
            state: BatchState::Sealed,
        };
        let mut batch = WriteBatch::default();
        for (i, (id, key)) in ids.iter().zip(&keys).enumerate() {
            let place = [be(number), be(i as u64)].concat();
            batch.put_cf(self.cf(LEAVES), &place, id);
            batch.put_cf(self.cf(PLACEMENT), id, &place);
            batch.delete_cf(self.cf(QUEUE), key);
        }
        batch.put_cf(
            self.cf(BATCHES),
            be(number),
            serde_json::to_vec(&record).expect("record serializes"),
        );
        batch.put_cf(self.cf(META), NEXT_BATCH, be(number + 1));
        self.db.write_opt(batch, &synced())?;
        Ok(Some(record))
    }

    pub fn batch(&self, number: u64) -> Result<Option<BatchRecord>, StoreError> {
        self.db
            .get_cf(self.cf(BATCHES), be(number))?
            .map(|v| serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Every batch, oldest first (to resume work after a restart).
    pub fn batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        self.db
            .iterator_cf(self.cf(BATCHES), rocksdb::IteratorMode::Start)
            .map(|item| {
                let (_, v) = item?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// The credential ids of a batch in leaf order.
    pub fn leaves(&self, number: u64) -> Result<Vec<String>, StoreError> {
        let prefix = be(number);
        self.db
            .prefix_iterator_cf(self.cf(LEAVES), prefix)
            .take_while(|item| item.as_ref().is_ok_and(|(k, _)| k.starts_with(&prefix)))
            .map(|item| {
                let (_, v) = item?;
                String::from_utf8(v.to_vec()).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Batch number and leaf index of a credential, once sealed.
    pub fn placement(&self, id: &str) -> Result<Option<(u64, u64)>, StoreError> {
        match self.db.get_cf(self.cf(PLACEMENT), id)? {
            Some(v) if v.len() == 16 => Ok(Some((read_u64(&v[..8])?, read_u64(&v[8..])?))),
            Some(_) => Err(StoreError::Corrupt(format!("placement of {id}"))),
            None => Ok(None),
        }
    }

    /// Records that a batch is anchored and gives every credential in it its
    /// anchor proof, in one write. `anchor_proof(leaf_index)` makes the entry.
    pub fn mark_anchored(
        &self,
        number: u64,
        anchor: AnchorRecord,
        anchor_proof: impl Fn(u64) -> Value,
    ) -> Result<(), StoreError> {
        let _guard = self.write.lock().expect("store lock");
        let mut record = self.batch(number)?.ok_or(StoreError::NoBatch(number))?;
        let mut batch = WriteBatch::default();
        for (i, id) in self.leaves(number)?.iter().enumerate() {
            let cred = self
                .credential(id)?
                .ok_or_else(|| StoreError::Corrupt(format!("leaf {id} is not stored")))?;
            let anchored = crate::anchor::with_anchor_proof(cred, anchor_proof(i as u64));
            batch.put_cf(
                self.cf(CREDENTIALS),
                id,
                serde_json::to_vec(&anchored).expect("JSON serializes"),
            );
        }
        record.state = BatchState::Anchored { anchor };
        batch.put_cf(
            self.cf(BATCHES),
            be(number),
            serde_json::to_vec(&record).expect("record serializes"),
        );
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }
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

    fn cred(i: u32) -> Value {
        json!({"id": format!("urn:uuid:{i:08}"), "name": "n", "proof": {"type": "DataIntegrityProof", "proofValue": format!("z{i}")}})
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
        assert_eq!(store.queued().unwrap(), 10);
        let first = store.seal(4, 100).unwrap().unwrap();
        let second = store.seal(100, 101).unwrap().unwrap();
        assert!(
            store.seal(100, 102).unwrap().is_none(),
            "nothing left to seal"
        );
        assert_eq!((first.number, first.leaf_count), (0, 4));
        assert_eq!((second.number, second.leaf_count), (1, 6));
        // Issuance order, each credential in exactly one batch.
        let mut all = store.leaves(0).unwrap();
        all.extend(store.leaves(1).unwrap());
        let expected: Vec<String> = (0..10).map(|i| format!("urn:uuid:{i:08}")).collect();
        assert_eq!(all, expected);
        assert_eq!(store.placement("urn:uuid:00000005").unwrap(), Some((1, 1)));
        // The root is the tree over the stored credentials' digests.
        let digests: Vec<Hash> = (0..4)
            .map(|i| credential_digest(&cred(i)).unwrap())
            .collect();
        assert_eq!(first.root, Batch::build(&digests).unwrap().root());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.batches().unwrap(), vec![first, second]);
        assert_eq!(store.queued().unwrap(), 0);
    }

    #[test]
    fn anchoring_a_batch_gives_every_credential_its_proof() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for i in 0..3 {
            store.add_credential(&cred(i)).unwrap();
        }
        let sealed = store.seal(10, 1).unwrap().unwrap();
        let anchor = AnchorRecord {
            chain: "eip155:1337".into(),
            registry: Default::default(),
            transaction: Default::default(),
            block_number: 3,
            block_hash: Default::default(),
            root: sealed.root.into(),
            leaf_count: 3,
        };
        store
            .mark_anchored(
                0,
                anchor.clone(),
                |i| json!({"type": crate::merkle::ANCHOR_PROOF_TYPE, "leafIndex": i}),
            )
            .unwrap();
        assert_eq!(
            store.batch(0).unwrap().unwrap().state,
            BatchState::Anchored {
                anchor: anchor.clone()
            }
        );
        let c = store.credential("urn:uuid:00000002").unwrap().unwrap();
        assert_eq!(c["proof"][1]["leafIndex"], 2);
        // The anchor proof does not change what the leaf commits to.
        assert_eq!(
            credential_digest(&c).unwrap(),
            credential_digest(&cred(2)).unwrap()
        );
        assert!(matches!(
            store.mark_anchored(9, anchor, |_| json!({})),
            Err(StoreError::NoBatch(9))
        ));
    }
}
