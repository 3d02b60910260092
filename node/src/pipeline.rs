//! The issuance pipeline after signing: the intake (group commit of signed
//! credentials to the store), the batcher (seals batches by size or age) and
//! the anchorer (anchors each sealed batch, oldest first, and records it).
//!
//! Every step reads its work from the store and finishes with one atomic
//! write, so the node can be killed at any moment and resume on start: a
//! credential is either queued, sealed in exactly one batch, or in an
//! anchored batch. The anchorer asks the chain before it sends (see
//! `anchor`), so a batch whose transaction went out just before a crash is
//! found on chain, not anchored twice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alloy::providers::Provider;
use tokio::sync::{mpsc, oneshot, watch, Notify};

use crate::anchor::RpcChain;
use crate::metrics::Metrics;
use crate::store::{NewCredential, Store, StoreError};

/// What the pipeline's tasks work with: the store, the metrics, the
/// batch settings, the wake-ups between the tasks and the chain head. The
/// tasks get this and the chain, never the node: the node's start-up wires
/// the pipeline, and the pipeline does not know the node.
pub struct Parts {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// Seal a batch when this many credentials wait.
    pub batch_size: usize,
    /// Seal a batch when its oldest credential has waited this long.
    pub batch_max_age: Duration,
    /// Credentials wait: maybe a batch is due.
    pub batch_wake: Notify,
    /// A batch was sealed.
    pub anchor_wake: Notify,
    /// A status change was recorded, or a batch anchored.
    pub status_wake: Notify,
    head: AtomicU64,
}

impl Parts {
    pub fn new(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        batch_size: usize,
        batch_max_age: Duration,
    ) -> Self {
        Self {
            store,
            metrics,
            batch_size,
            batch_max_age,
            batch_wake: Notify::new(),
            anchor_wake: Notify::new(),
            status_wake: Notify::new(),
            head: AtomicU64::new(0),
        }
    }

    /// The chain head, as last seen.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Relaxed)
    }

    fn set_head(&self, n: u64) {
        self.head.fetch_max(n, Ordering::Relaxed);
    }
}

type Reply = oneshot::Sender<Result<u64, StoreError>>;

/// The most credentials written in one group commit.
const GROUP_MAX: usize = 1024;
/// The batcher seals no further batch while this many wait for their
/// anchor: while the chain is slow or down, credentials wait in the queue
/// and go out in full batches when it is back, not in a transaction per
/// `batch_max_age`.
const SEALED_AHEAD: usize = 2;

/// Hands signed credentials to one writer thread, which stores everything
/// waiting in one synced write.
#[derive(Clone)]
pub struct Intake {
    tx: mpsc::Sender<(NewCredential, Reply)>,
}

impl Intake {
    pub fn start(node: Arc<Parts>) -> Self {
        let (tx, mut rx) = mpsc::channel::<(NewCredential, Reply)>(GROUP_MAX * 4);
        std::thread::Builder::new()
            .name("cairn-intake".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut group = vec![first];
                    while group.len() < GROUP_MAX {
                        match rx.try_recv() {
                            Ok(item) => group.push(item),
                            Err(_) => break,
                        }
                    }
                    let (items, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
                    let now = chrono::Utc::now().timestamp();
                    let results = node.store.add_credentials(items, now);
                    let added = results.iter().filter(|r| r.is_ok()).count() as u64;
                    node.metrics.issued.inc_by(added);
                    for (reply, result) in replies.into_iter().zip(results) {
                        let _ = reply.send(result);
                    }
                    if node.store.queued() >= node.batch_size as u64 {
                        node.batch_wake.notify_one();
                    }
                }
            })
            .expect("the intake thread starts");
        Self { tx }
    }

    /// Stores a signed credential; returns once it is on disk.
    pub async fn submit(&self, item: NewCredential) -> Result<u64, StoreError> {
        let (tx, rx) = oneshot::channel();
        let stopped = || StoreError::Corrupt("the node is shutting down".into());
        self.tx.send((item, tx)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

/// Seals a batch whenever `batch_size` credentials wait or the oldest has
/// waited `batch_max_age`; returns when `stop` turns true.
pub async fn batcher(node: Arc<Parts>, mut stop: watch::Receiver<bool>) {
    let size = node.batch_size;
    let max_age = node.batch_max_age.as_secs() as i64;
    loop {
        let now = chrono::Utc::now().timestamp();
        let oldest = match node.store.oldest_queued() {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "store: cannot read the queue");
                None
            }
        };
        let queued = node.store.queued();
        let backlog = node.store.sealed_batches().map_or(0, |b| b.len());
        let due = backlog < SEALED_AHEAD
            && (queued >= size as u64 || oldest.is_some_and(|t| now - t >= max_age));
        if due {
            let store = node.store.clone();
            match tokio::task::spawn_blocking(move || store.seal(size, now)).await {
                Ok(Ok(Some(batch))) => {
                    tracing::info!(
                        batch = batch.number,
                        root = %hex::encode(batch.root),
                        leaves = batch.leaf_count,
                        "batch sealed"
                    );
                    node.anchor_wake.notify_one();
                    continue;
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "sealing a batch failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => tracing::error!(error = %e, "the sealing task failed"),
            }
        }
        let wait = match oldest {
            Some(t) => Duration::from_secs((t + max_age - now).clamp(0, max_age) as u64)
                .max(Duration::from_millis(100)),
            None => node.batch_max_age,
        };
        tokio::select! {
            _ = node.batch_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// How long the anchorer waits after a failure: doubling from a second up
/// to a minute.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

/// Anchors sealed batches, oldest first, forever. Start it only once the
/// issuer's binding of its chain account is registered (the node's
/// start-up does). Can be dropped at any await point: all its state is in
/// the store and on chain.
pub async fn anchorer(node: Arc<Parts>, chain: Arc<RpcChain>) {
    // Anchors made recently, rechecked for reorganisations until deep.
    let mut recent: VecDeque<(u64, cairn_verifier::proof::AnchorRecord)> = VecDeque::new();
    if let Ok(done) = node
        .store
        .list_batches(crate::store::StateFilter::Anchored, 0, usize::MAX)
    {
        for b in done.into_iter().rev().take(8) {
            if let Some(a) = b.anchor() {
                recent.push_front((b.number, a.clone()));
            }
        }
    }
    let mut failures = 0;
    loop {
        let sealed = node.store.sealed_batches().unwrap_or_else(|e| {
            tracing::error!(error = %e, "store: cannot list sealed batches");
            Vec::new()
        });
        let mut failed = false;
        for batch in sealed {
            match chain.anchor(batch.root, batch.leaf_count).await {
                Ok(anchored) => {
                    let now = chrono::Utc::now().timestamp();
                    if let Err(e) =
                        node.store
                            .mark_anchored(batch.number, anchored.record.clone(), now)
                    {
                        tracing::error!(error = %e, "store: cannot record an anchor");
                        failed = true;
                        break;
                    }
                    node.batch_wake.notify_one();
                    // Status changes may have waited for this anchor.
                    node.status_wake.notify_one();
                    node.metrics
                        .anchor_latency
                        .observe((now - batch.sealed_at).max(0) as f64);
                    node.metrics.transactions.inc_by(anchored.sent.len() as u64);
                    if !anchored.sent.is_empty() {
                        record_fees(&node, &chain, anchored.record.transaction).await;
                    }
                    tracing::info!(
                        batch = batch.number,
                        transaction = %anchored.record.transaction,
                        block = anchored.record.block_number,
                        "batch anchored"
                    );
                    recent.push_back((batch.number, anchored.record));
                    failures = 0;
                }
                Err(e) => {
                    node.metrics.chain_errors.inc();
                    tracing::error!(batch = batch.number, error = %e, "anchoring failed; retrying");
                    failed = true;
                    break;
                }
            }
        }
        recheck(&node, &chain, &mut recent).await;
        idle(&node.anchor_wake, failed, &mut failures).await;
    }
}

/// Waits for `wake` or a while: five seconds after a round that went well,
/// a growing [`backoff`] after failures in a row.
async fn idle(wake: &tokio::sync::Notify, failed: bool, failures: &mut u32) {
    let wait = if failed {
        *failures += 1;
        backoff(*failures)
    } else {
        *failures = 0;
        Duration::from_secs(5)
    };
    tokio::select! {
        _ = wake.notified() => {}
        _ = tokio::time::sleep(wait) => {}
    }
}

/// Rechecks recent anchors: one dropped by a reorganisation is anchored again
/// and its new record stored. Anchors 64 blocks under the head are dropped
/// from the list.
async fn recheck(
    node: &Parts,
    chain: &RpcChain,
    recent: &mut VecDeque<(u64, cairn_verifier::proof::AnchorRecord)>,
) {
    let head = node.head();
    recent.retain(|(_, r)| head.saturating_sub(r.block_number) < 64);
    for (number, record) in recent.iter_mut() {
        match chain.recheck(record).await {
            Ok(None) => {}
            Ok(Some(again)) => {
                tracing::warn!(batch = *number, transaction = %again.record.transaction,
                    "anchor dropped by a reorganisation; anchored again");
                let now = chrono::Utc::now().timestamp();
                match node.store.mark_anchored(*number, again.record.clone(), now) {
                    Ok(()) => *record = again.record,
                    Err(e) => tracing::error!(error = %e, "store: cannot record an anchor"),
                }
            }
            Err(e) => {
                node.metrics.chain_errors.inc();
                tracing::warn!(error = %e, "rechecking an anchor failed");
                return;
            }
        }
    }
}

async fn record_fees(node: &Parts, chain: &RpcChain, tx: alloy::primitives::B256) {
    match chain.provider().get_transaction_receipt(tx).await {
        Ok(Some(r)) => {
            node.metrics.gas_used.inc_by(r.gas_used);
            node.metrics
                .fees_paid_wei
                .inc_by(r.gas_used as f64 * r.effective_gas_price as f64);
        }
        Ok(None) => {}
        Err(e) => tracing::debug!(error = %e, "no receipt for fee accounting"),
    }
}

/// Follows the chain head, for confirmation counts.
pub async fn head_watcher(node: Arc<Parts>, chain: Arc<RpcChain>, every: Duration) {
    loop {
        match chain.provider().get_block_number().await {
            Ok(n) => node.set_head(n),
            Err(e) => tracing::debug!(error = %e, "head unknown"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Writes the issuer's status changes (revoke, suspend, reinstate) to the
/// registry: pending changes are grouped by batch root and operation, one
/// transaction per group of up to `MAX_STATUS_INDICES` leaves, and each
/// entry leaves the queue only once its transaction is confirmed. A change to
/// a credential whose batch is not anchored yet waits for the anchor.
pub async fn status_writer(node: Arc<Parts>, chain: Arc<RpcChain>) {
    use crate::anchor::{StatusOp, MAX_STATUS_INDICES};
    use crate::store::CredentialStatus;
    use std::collections::BTreeMap;
    let mut failures = 0;
    loop {
        let pending = node.store.pending_status(10_000).unwrap_or_else(|e| {
            tracing::error!(error = %e, "store: cannot read status changes");
            Vec::new()
        });
        type Entry = (u64, u64, String, CredentialStatus);
        let mut groups: BTreeMap<(cairn_verifier::merkle::Hash, StatusOp), Vec<Entry>> =
            BTreeMap::new();
        for (seq, id) in pending {
            let (Ok(Some(record)), Ok(Some(placement))) =
                (node.store.status(&id), node.store.placement(&id))
            else {
                continue;
            };
            if placement.record.anchor().is_none() {
                continue;
            }
            let op = match record.status {
                CredentialStatus::Revoked => StatusOp::Revoke,
                CredentialStatus::Suspended => StatusOp::Suspend,
                CredentialStatus::Active => StatusOp::Reinstate,
            };
            groups
                .entry((placement.record.root, op))
                .or_default()
                .push((placement.inclusion.leaf_index, seq, id, record.status));
        }
        let mut failed = false;
        'groups: for ((root, op), mut entries) in groups {
            entries.sort();
            let mut leaves: Vec<u64> = entries.iter().map(|e| e.0).collect();
            leaves.dedup();
            for chunk in leaves.chunks(MAX_STATUS_INDICES) {
                let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
                match chain.set_status(op, root, chunk).await {
                    Ok(done) => {
                        node.metrics.transactions.inc_by(done.sent.len() as u64);
                        record_fees(&node, &chain, done.transaction).await;
                        let written: Vec<_> = entries
                            .iter()
                            .filter(|e| (first..=last).contains(&e.0))
                            .map(|e| (e.1, e.2.clone(), e.3))
                            .collect();
                        if let Err(e) = node.store.status_written(&written, done.transaction) {
                            tracing::error!(error = %e, "store: cannot record a status transaction");
                        }
                        tracing::info!(?op, leaves = chunk.len(), transaction = %done.transaction,
                            "status change confirmed on chain");
                        failures = 0;
                    }
                    Err(e) => {
                        node.metrics.chain_errors.inc();
                        tracing::error!(?op, error = %e, "writing a status change failed; retrying");
                        failed = true;
                        break 'groups;
                    }
                }
            }
        }
        idle(&node.status_wake, failed, &mut failures).await;
    }
}
