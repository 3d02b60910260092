//! The issuance pipeline after signing: the intake (group commit of signed
//! credentials to the store) and the anchorer (seals a batch when the chain
//! account is free to send it, anchors it and records it, with up to
//! `max_in_flight` anchors waiting for their depth at once).
//!
//! Every step reads its work from the store and finishes with one atomic
//! write, so the node can be killed at any moment and resume on start: a
//! credential is either queued, sealed in exactly one batch, or in an
//! anchored batch. The anchorer asks the chain before it sends (see
//! `anchor`), so a batch whose transaction went out just before a crash is
//! found on chain, not anchored twice.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::providers::Provider;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;

use crate::anchor::{AnchorError, Anchored, RpcChain};
use crate::metrics::Metrics;
use crate::store::{BatchRecord, NewCredential, Store, StoreError};

/// What the pipeline's tasks work with: the store, the metrics, the
/// batch settings, the wake-ups between the tasks and the chain head. The
/// tasks get this and the chain, never the node: the node's start-up wires
/// the pipeline, and the pipeline does not know the node.
pub struct Parts {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// Seal a batch when this many credentials wait...
    pub batch_size: usize,
    /// ... or when the oldest credential has waited this long.
    pub batch_max_age: Duration,
    /// The most credentials one batch takes.
    pub batch_max_leaves: usize,
    /// Anchors sent and not yet deep, at most.
    pub max_in_flight: usize,
    /// Blocks from one anchor's block to the head before the next batch of
    /// a burst is sealed: the confirmation window shared by the anchors in
    /// flight, so a burst costs about `max_in_flight` transactions per
    /// window, whatever the issuance rate.
    pub anchor_spacing: u64,
    /// Credentials were stored: maybe a batch is due.
    pub batch_wake: Notify,
    /// A status change was recorded, or a batch anchored.
    pub status_wake: Notify,
    head: AtomicU64,
    /// The anchorer runs (the issuer's binding is registered).
    anchoring: std::sync::atomic::AtomicBool,
    /// The newest batch went out full and is in flight: what queues behind
    /// it follows as soon as the account is free.
    following: std::sync::atomic::AtomicBool,
}

impl Parts {
    pub fn new(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        settings: &crate::config::Settings,
    ) -> Self {
        Self {
            store,
            metrics,
            batch_size: settings.batch_size,
            batch_max_age: settings.batch_max_age,
            batch_max_leaves: settings.batch_max_leaves,
            max_in_flight: settings.max_anchors_in_flight,
            anchor_spacing: settings
                .confirmations
                .div_ceil(settings.max_anchors_in_flight as u64)
                .saturating_sub(1),
            batch_wake: Notify::new(),
            status_wake: Notify::new(),
            head: AtomicU64::new(0),
            anchoring: Default::default(),
            following: Default::default(),
        }
    }

    /// The chain head, as last seen.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::Relaxed)
    }

    /// Whether the anchorer runs: before the issuer's binding is
    /// registered, credentials only queue.
    pub fn anchoring(&self) -> bool {
        self.anchoring.load(Ordering::Relaxed)
    }

    fn set_head(&self, n: u64) {
        self.head.fetch_max(n, Ordering::Relaxed);
    }
}

type Reply = oneshot::Sender<Result<u64, StoreError>>;

/// The most credentials written in one group commit.
const GROUP_MAX: usize = 1024;
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
                    // A batch is due at `batch_size`, or at once while a
                    // full batch is in flight (a burst goes on); the
                    // anchorer's own timer covers the age limit.
                    if node.store.queued() >= node.batch_size as u64
                        || node.following.load(Ordering::Relaxed)
                    {
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

/// Anchors sealed batches and seals the next one when it is due, forever.
/// Start it only once the issuer's binding of its chain account is
/// registered (the node's start-up does). Can be dropped at any await point:
/// all its state is in the store and on chain.
///
/// A batch is sealed only when the account is free to send it: no anchor of
/// ours waits to be mined, and fewer than `max_in_flight` wait for their
/// depth. Until then credentials queue, so the next batch takes everything
/// waiting (up to `batch_max_leaves`) and a burst of any size goes out in
/// about one transaction per block, each followed to its depth on its own.
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
    let mut flying: JoinSet<(BatchRecord, Result<Anchored, AnchorError>)> = JoinSet::new();
    // The batches in `flying`, by number.
    let mut in_flight: BTreeSet<u64> = BTreeSet::new();
    node.anchoring.store(true, Ordering::Relaxed);
    let mut failures = 0u32;
    // After a failure, nothing new is sent before this.
    let mut resume_at = Instant::now();
    let mut last_recheck = Instant::now();
    // The chain head before which no new batch is sealed.
    let mut not_before = 0u64;
    loop {
        node.following
            .store(burst_goes_on(&node, &in_flight), Ordering::Relaxed);
        while let Some(done) = flying.try_join_next() {
            land(
                &node,
                &chain,
                done,
                &mut in_flight,
                &mut recent,
                &mut failures,
                &mut resume_at,
            )
            .await;
        }
        if in_flight.len() < node.max_in_flight && Instant::now() >= resume_at {
            if let Some(batch) = next_batch(&node, &in_flight, not_before).await {
                let (mined_tx, mined) = oneshot::channel();
                in_flight.insert(batch.number);
                node.metrics.anchors_in_flight.set(in_flight.len() as i64);
                let sender = chain.clone();
                flying.spawn(async move {
                    let done = sender
                        .anchor_in_flight(batch.root, batch.leaf_count, Some(mined_tx))
                        .await;
                    (batch, done)
                });
                // The account's next nonce is this anchor's until it is
                // mined; the queue keeps growing meanwhile, and anchors
                // reaching their depth are recorded.
                let mut mined = std::pin::pin!(mined);
                loop {
                    tokio::select! {
                        _ = &mut mined => break,
                        Some(done) = flying.join_next() => {
                            land(&node, &chain, done, &mut in_flight, &mut recent, &mut failures, &mut resume_at).await;
                        }
                    }
                }
                // The next new batch waits for its share of the window.
                let mined_at = chain
                    .provider()
                    .get_block_number()
                    .await
                    .unwrap_or(node.head());
                node.set_head(mined_at);
                not_before = mined_at + node.anchor_spacing;
                continue;
            }
        }
        if last_recheck.elapsed() >= RECHECK_EVERY {
            recheck(&node, &chain, &mut recent).await;
            last_recheck = Instant::now();
        }
        // Waiting for the head to pass `not_before`: look again soon.
        let spacing = match node.head() < not_before && node.store.queued() > 0 {
            true => Duration::from_millis(200),
            false => Duration::MAX,
        };
        let wait = next_due(&node)
            .min(spacing)
            .min(RECHECK_EVERY.saturating_sub(last_recheck.elapsed()))
            .max(resume_at.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(20));
        tokio::select! {
            Some(done) = flying.join_next() => {
                land(&node, &chain, done, &mut in_flight, &mut recent, &mut failures, &mut resume_at).await;
            }
            _ = node.batch_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// How long the anchorer waits after a failure: doubling from a second up
/// to a minute.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

/// How often recent anchors are rechecked for reorganisations.
const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// The batch to send next: the oldest sealed one not in flight (sealed
/// before a restart, or whose anchoring failed), else a new one when due and
/// the head has passed `not_before`.
async fn next_batch(
    node: &Parts,
    in_flight: &BTreeSet<u64>,
    not_before: u64,
) -> Option<BatchRecord> {
    let sealed = node.store.sealed_batches().unwrap_or_else(|e| {
        tracing::error!(error = %e, "store: cannot list sealed batches");
        Vec::new()
    });
    if let Some(b) = sealed.into_iter().find(|b| !in_flight.contains(&b.number)) {
        return Some(b);
    }
    let queued = node.store.queued();
    if queued == 0 || node.head() < not_before {
        return None;
    }
    let now = chrono::Utc::now().timestamp();
    let full = queued >= node.batch_size as u64;
    let aged = || {
        node.store
            .oldest_queued()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "store: cannot read the queue");
                None
            })
            .is_some_and(|t| now - t >= node.batch_max_age.as_secs() as i64)
    };
    if !(full || burst_goes_on(node, in_flight) || aged()) {
        return None;
    }
    let store = node.store.clone();
    let max = node.batch_max_leaves;
    match tokio::task::spawn_blocking(move || store.seal(max, now)).await {
        Ok(Ok(Some(batch))) => {
            tracing::info!(
                batch = batch.number,
                root = %hex::encode(batch.root),
                leaves = batch.leaf_count,
                "batch sealed"
            );
            Some(batch)
        }
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "sealing a batch failed; retrying");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "the sealing task failed");
            None
        }
    }
}

/// Whether a burst goes on: the newest batch went out full and is still in
/// flight, so what queued behind it follows as soon as the account is free,
/// not at the age limit.
fn burst_goes_on(node: &Parts, in_flight: &BTreeSet<u64>) -> bool {
    in_flight.last().is_some_and(|&n| {
        node.store.batch_count().is_ok_and(|count| count == n + 1)
            && node
                .store
                .batch(n)
                .ok()
                .flatten()
                .is_some_and(|b| b.leaf_count >= node.batch_size as u64)
    })
}

/// How long until the oldest queued credential reaches the age limit.
fn next_due(node: &Parts) -> Duration {
    let max_age = node.batch_max_age;
    match node.store.oldest_queued() {
        Ok(Some(t)) => {
            let age = (chrono::Utc::now().timestamp() - t).max(0) as u64;
            max_age.saturating_sub(Duration::from_secs(age))
        }
        _ => max_age,
    }
}

/// Records an anchor that reached its depth, or notes the failure: the
/// batch stays sealed and is sent again after a [`backoff`].
async fn land(
    node: &Parts,
    chain: &RpcChain,
    done: Result<(BatchRecord, Result<Anchored, AnchorError>), tokio::task::JoinError>,
    in_flight: &mut BTreeSet<u64>,
    recent: &mut VecDeque<(u64, cairn_verifier::proof::AnchorRecord)>,
    failures: &mut u32,
    resume_at: &mut Instant,
) {
    let (batch, result) = match done {
        Ok(done) => done,
        Err(e) => {
            // Only a panic ends a task early; its batch is looked up again
            // from the store.
            tracing::error!(error = %e, "an anchoring task failed");
            in_flight.clear();
            node.metrics.anchors_in_flight.set(0);
            return;
        }
    };
    in_flight.remove(&batch.number);
    node.metrics.anchors_in_flight.set(in_flight.len() as i64);
    let mut fail = |what: &str| {
        *failures += 1;
        *resume_at = Instant::now() + backoff(*failures);
        tracing::error!(
            batch = batch.number,
            error = what,
            "anchoring failed; retrying"
        );
    };
    let anchored = match result {
        Ok(a) => a,
        Err(e) => {
            node.metrics.chain_errors.inc();
            fail(&e.to_string());
            return;
        }
    };
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = node
        .store
        .mark_anchored(batch.number, anchored.record.clone(), now)
    {
        fail(&format!("store: cannot record the anchor: {e}"));
        return;
    }
    *failures = 0;
    // Status changes may have waited for this anchor.
    node.status_wake.notify_one();
    node.metrics
        .anchor_latency
        .observe((now - batch.sealed_at).max(0) as f64);
    node.metrics.transactions.inc_by(anchored.sent.len() as u64);
    if !anchored.sent.is_empty() {
        record_fees(node, chain, anchored.record.transaction).await;
    }
    tracing::info!(
        batch = batch.number,
        leaves = batch.leaf_count,
        transaction = %anchored.record.transaction,
        block = anchored.record.block_number,
        "batch anchored"
    );
    recent.push_back((batch.number, anchored.record));
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

/// Free space under which the disk watcher warns: a twentieth of the
/// filesystem, or 256 MiB, whichever is less.
fn low_space(total: u64) -> u64 {
    (total / 20).min(256 << 20)
}

/// Watches the store's disk: publishes its free space, warns (once per
/// crossing) when it runs low, before writes start failing, and after a
/// failed write reopens the store every few seconds until it writes again,
/// so a node whose disk filled up resumes by itself once space is freed.
pub async fn disk_watcher(node: Arc<Parts>, every: Duration) {
    let mut warned = false;
    loop {
        if let Some((free, total)) = node.store.free_space() {
            node.metrics
                .store_free_bytes
                .set(free.min(i64::MAX as u64) as i64);
            let low = free < low_space(total);
            if low && !warned {
                tracing::warn!(
                    free_bytes = free,
                    total_bytes = total,
                    "the store's disk is nearly full: issuance stops when it is (503)"
                );
            }
            warned = low;
        }
        // Reopens a store whose writes fail; settles parked slots either way.
        let store = node.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.recover()).await;
        tokio::time::sleep(every).await;
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
