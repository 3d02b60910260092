//! Anchoring batch roots in the registry contract on an EVM chain, over
//! JSON-RPC.
//!
//! The anchorer owns the transaction's whole life: it picks the nonce from
//! the chain (so a restart never reuses or skips one), prices the transaction
//! with EIP-1559 fees under a cap, replaces it with a fee bump when it is
//! stuck past a deadline, follows it to the configured depth, and checks that
//! the block that holds it is still canonical. The chain, not the anchorer's
//! memory, is the record of truth: a root the registry already holds from this
//! account is found through its `Anchored` event instead of being sent again.

use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};

use cairn_verifier::merkle::Hash;

pub use cairn_verifier::proof::AnchorRecord;
use cairn_verifier::registry::CairnRegistry;

#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("chain RPC: {0}")]
    Rpc(String),
    #[error("RPC URL `{0}` is not a valid URL")]
    Url(String),
    #[error("the anchor transaction {0} reverted")]
    Reverted(B256),
    #[error("root {root} is anchored by {by}, not by this issuer's account")]
    AnchoredByOther { root: B256, by: Address },
    #[error("binding {hash} is registered by {by}, not by this issuer's account")]
    BoundByOther { hash: B256, by: Address },
    #[error("the fee cap {cap} wei/gas is below what the chain asks ({needed}); raise it")]
    FeeCapTooLow { cap: u128, needed: u128 },
    #[error("gave up after {0:?}: the transaction was neither mined nor replaceable")]
    Timeout(Duration),
}

impl AnchorError {
    fn rpc(e: impl std::fmt::Display) -> Self {
        Self::Rpc(e.to_string())
    }
}

/// How the anchorer treats a chain.
#[derive(Debug, Clone)]
pub struct ChainConfig {
    /// Blocks on top of the anchor's block before it counts (1: mined).
    pub confirmations: u64,
    /// Never pay more than this per gas (wei).
    pub max_fee_per_gas: u128,
    /// A transaction not mined after this long is replaced with higher fees.
    pub replace_after: Duration,
    /// Give up waiting after this long.
    pub give_up_after: Duration,
    /// How often to ask the node about a pending transaction.
    pub poll_interval: Duration,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            confirmations: 12,
            max_fee_per_gas: 200_000_000_000, // 200 gwei
            replace_after: Duration::from_secs(180),
            give_up_after: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// The outcome of [`RpcChain::anchor`].
#[derive(Debug, Clone)]
pub struct Anchored {
    pub record: AnchorRecord,
    /// Every transaction this call sent, in order: more than one when a stuck
    /// transaction was replaced or a dropped one sent again; none when the
    /// root was already anchored.
    pub sent: Vec<B256>,
}

/// What a registry transaction does.
#[derive(Clone)]
enum Work {
    Anchor {
        root: B256,
        leaf_count: u64,
    },
    Binding(B256),
    Status {
        op: StatusOp,
        root: B256,
        indices: Vec<U256>,
    },
}

/// What the registry shows of a piece of work done by this account.
enum Landed {
    /// Done, by the transaction of this receipt.
    Receipt(Box<TransactionReceipt>),
    /// Recorded, but the node does not show its log yet.
    Recorded,
}

/// A change to leaves' flags in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusOp {
    Revoke,
    Suspend,
    Reinstate,
}

/// The most leaf indices one status transaction carries: at one index per
/// bitmap word (the worst case, about 23,000 gas each) it stays well under
/// EIP-7825's 2^24 gas cap on a transaction.
pub const MAX_STATUS_INDICES: usize = 500;

/// A binding registration that stands.
#[derive(Debug, Clone)]
pub struct Registered {
    pub transaction: B256,
    pub block_number: u64,
    pub block_hash: B256,
    /// Transactions this call sent (none when it was registered before).
    pub sent: Vec<B256>,
}

/// An EVM chain reached over JSON-RPC, with the issuer's account.
pub struct RpcChain {
    provider: DynProvider,
    account: Address,
    registry: Address,
    chain_id: u64,
    config: ChainConfig,
    /// Held from picking a nonce until the transaction is mined, so that
    /// tasks sharing the account (anchoring, status changes) never race for
    /// a nonce.
    sending: tokio::sync::Mutex<()>,
}

impl RpcChain {
    /// Connects to `rpc_url` with the issuer's chain account key.
    pub async fn connect(
        rpc_url: &str,
        account_key: &k256::ecdsa::SigningKey,
        registry: Address,
        config: ChainConfig,
    ) -> Result<Self, AnchorError> {
        let signer = PrivateKeySigner::from_signing_key(account_key.clone());
        let account = signer.address();
        let url = rpc_url
            .parse()
            .map_err(|_| AnchorError::Url(rpc_url.to_owned()))?;
        // No fillers: nonce, fees and gas are this module's decisions.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url)
            .erased();
        let chain_id = provider.get_chain_id().await.map_err(AnchorError::rpc)?;
        Ok(Self {
            provider,
            account,
            registry,
            chain_id,
            config,
            sending: tokio::sync::Mutex::new(()),
        })
    }

    /// Deploys a fresh registry from the issuer's account and returns its
    /// address (`cairn contract deploy`, and tests).
    pub async fn deploy_registry(
        rpc_url: &str,
        account_key: &k256::ecdsa::SigningKey,
    ) -> Result<Address, AnchorError> {
        let signer = PrivateKeySigner::from_signing_key(account_key.clone());
        let url = rpc_url
            .parse()
            .map_err(|_| AnchorError::Url(rpc_url.to_owned()))?;
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url);
        let deploy =
            TransactionRequest::default().with_deploy_code(CairnRegistry::BYTECODE.clone());
        let receipt = provider
            .send_transaction(deploy)
            .await
            .map_err(AnchorError::rpc)?
            .get_receipt()
            .await
            .map_err(AnchorError::rpc)?;
        if !receipt.status() {
            return Err(AnchorError::Reverted(receipt.transaction_hash));
        }
        receipt
            .contract_address
            .ok_or_else(|| AnchorError::Rpc("the deployment receipt names no contract".into()))
    }

    pub fn account(&self) -> Address {
        self.account
    }

    /// A view of the registry, at the latest block.
    async fn view<C: SolCall>(&self, call: C) -> Result<C::Return, AnchorError> {
        cairn_verifier::registry::call(&self.provider, self.registry, call)
            .await
            .map_err(AnchorError::Rpc)
    }

    pub fn registry(&self) -> Address {
        self.registry
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    fn caip2(&self) -> String {
        format!("eip155:{}", self.chain_id)
    }

    /// Anchors `root` over `leaf_count` credentials and waits until the
    /// anchor is `confirmations` deep on the canonical chain.
    pub async fn anchor(&self, root: Hash, leaf_count: u64) -> Result<Anchored, AnchorError> {
        self.anchor_in_flight(root, leaf_count, None).await
    }

    /// As [`anchor`](Self::anchor), and says on `mined` as soon as the
    /// anchor no longer holds the account's next nonce (its transaction is
    /// mined, or one sent before is found), so that the next anchor can go
    /// out while this one waits for its depth. `mined` is dropped unsaid
    /// when this fails first.
    pub async fn anchor_in_flight(
        &self,
        root: Hash,
        leaf_count: u64,
        mined: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<Anchored, AnchorError> {
        let root = B256::from(root);
        let done = self
            .transact(Work::Anchor { root, leaf_count }, mined)
            .await?;
        Ok(Anchored {
            record: AnchorRecord {
                chain: self.caip2(),
                registry: self.registry,
                transaction: done.transaction,
                block_number: done.block_number,
                block_hash: done.block_hash,
                root,
                leaf_count,
            },
            sent: done.sent,
        })
    }

    /// Registers a binding document's hash from this account (see
    /// `binding`), waiting for the configured depth. Idempotent: a hash this
    /// account registered before is found, not sent again.
    pub async fn register_binding(&self, hash: Hash) -> Result<Registered, AnchorError> {
        self.transact(Work::Binding(B256::from(hash)), None).await
    }

    /// Sets leaves' flags in the registry (`indices` sorted, distinct, at
    /// most [`MAX_STATUS_INDICES`]) and waits for the configured depth. The
    /// change is idempotent, so after a restart or a reorganisation it is
    /// simply sent again.
    pub async fn set_status(
        &self,
        op: StatusOp,
        root: Hash,
        indices: &[u64],
    ) -> Result<Registered, AnchorError> {
        self.transact(
            Work::Status {
                op,
                root: B256::from(root),
                indices: indices.iter().map(|&i| U256::from(i)).collect(),
            },
            None,
        )
        .await
    }

    /// Does `work` in one registry transaction and waits until it is
    /// `confirmations` deep on the canonical chain: the one loop behind
    /// anchors, bindings and status changes. Work the registry shows as
    /// done by this account (sent before a restart, or by a replacement) is
    /// found, not sent again; work reorganised away is sent again. `mined`
    /// is said once the work holds no unmined nonce of the account.
    async fn transact(
        &self,
        work: Work,
        mut mined: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<Registered, AnchorError> {
        let mut say_mined = || {
            if let Some(m) = mined.take() {
                let _ = m.send(());
            }
        };
        let started = Instant::now();
        let mut sent = Vec::new();
        // Status changes leave no record to find: their own last receipt.
        let mut ours: Option<TransactionReceipt> = None;
        loop {
            let landed = match &work {
                Work::Status { .. } => ours.take().map(|r| Landed::Receipt(Box::new(r))),
                _ => self.landed(&work).await?,
            };
            if landed.is_some() {
                say_mined();
            }
            if let Some(Landed::Recorded) = landed {
                // Recorded, but its log not found yet: wait for it, as long
                // as anything else.
                if started.elapsed() > self.config.give_up_after {
                    return Err(AnchorError::Timeout(self.config.give_up_after));
                }
                tokio::time::sleep(self.config.poll_interval).await;
                continue;
            }
            if let Some(Landed::Receipt(r)) = landed {
                let number = r.block_number.unwrap_or_default();
                let hash = r.block_hash.unwrap_or_default();
                if self.is_deep(number, hash).await? {
                    return Ok(Registered {
                        transaction: r.transaction_hash,
                        block_number: number,
                        block_hash: hash,
                        sent,
                    });
                }
                if self.block_is_canonical(number, hash).await? {
                    ours = Some(*r);
                    tokio::time::sleep(self.config.poll_interval).await;
                    continue;
                }
                // Reorganised away: do it again.
            }
            if started.elapsed() > self.config.give_up_after {
                return Err(AnchorError::Timeout(self.config.give_up_after));
            }
            // A transaction of ours already carries the anchor (sent before
            // a restart, still in the pool): wait for it rather than send a
            // second one that could only revert.
            if let Work::Anchor { root, .. } = &work {
                if self.pending_anchorer(*root).await? == Some(self.account) {
                    say_mined();
                    tokio::time::sleep(self.config.poll_interval).await;
                    continue;
                }
            }
            let receipt = self.send_and_follow(work.clone(), &mut sent).await?;
            say_mined();
            if !receipt.status() {
                // Reverted: most likely another of our transactions (sent
                // before a restart) anchored the root first.
                if matches!(work, Work::Anchor { .. }) && self.landed(&work).await?.is_some() {
                    continue;
                }
                return Err(AnchorError::Reverted(receipt.transaction_hash));
            }
            ours = Some(receipt);
        }
    }

    /// The receipt of whichever of `sent` (one nonce's transactions) was
    /// mined, newest first.
    async fn receipt_of_sent(
        &self,
        sent: &[B256],
    ) -> Result<Option<TransactionReceipt>, AnchorError> {
        for hash in sent.iter().rev() {
            if let Some(r) = self
                .provider
                .get_transaction_receipt(*hash)
                .await
                .map_err(AnchorError::rpc)?
            {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Whether an anchor recorded earlier still stands: its block is
    /// canonical and deep enough. When a reorganisation dropped it, anchors
    /// again and returns the new record (the proofs' root and paths are
    /// unchanged; their transaction and block change).
    pub async fn recheck(&self, record: &AnchorRecord) -> Result<Option<Anchored>, AnchorError> {
        if self
            .block_is_canonical(record.block_number, record.block_hash)
            .await?
        {
            return Ok(None);
        }
        let again = self.anchor(record.root.0, record.leaf_count).await?;
        Ok((again.record != *record).then_some(again))
    }

    /// Sends `anchor(root, leafCount)` and waits for a receipt, replacing the
    /// transaction with bumped fees (same nonce) whenever it waits longer
    /// than `replace_after`.
    /// When our nonce turns out to be used by a transaction we do not know
    /// of, the receipt of whichever of ours did `work` is looked up.
    async fn send_and_follow(
        &self,
        work: Work,
        sent: &mut Vec<B256>,
    ) -> Result<TransactionReceipt, AnchorError> {
        let _sending = self.sending.lock().await;
        let input = match &work {
            Work::Anchor { root, leaf_count } => CairnRegistry::anchorCall {
                root: *root,
                leafCount: U256::from(*leaf_count),
            }
            .abi_encode(),
            Work::Binding(hash) => {
                CairnRegistry::registerBindingCall { bindingHash: *hash }.abi_encode()
            }
            Work::Status { op, root, indices } => {
                let (root, indices) = (*root, indices.clone());
                match op {
                    StatusOp::Revoke => CairnRegistry::revokeCall { root, indices }.abi_encode(),
                    StatusOp::Suspend => CairnRegistry::suspendCall { root, indices }.abi_encode(),
                    StatusOp::Reinstate => {
                        CairnRegistry::reinstateCall { root, indices }.abi_encode()
                    }
                }
            }
        };
        let nonce = self
            .provider
            .get_transaction_count(self.account)
            .pending()
            .await
            .map_err(AnchorError::rpc)?;
        let fees = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(AnchorError::rpc)?;
        let cap = self.config.max_fee_per_gas;
        let mut max_fee = fees.max_fee_per_gas.min(cap);
        let mut tip = fees.max_priority_fee_per_gas.min(max_fee);
        let base = TransactionRequest::default()
            .with_from(self.account)
            .with_to(self.registry)
            .with_input(input)
            .with_chain_id(self.chain_id)
            .with_nonce(nonce);
        let gas = self
            .provider
            .estimate_gas(base.clone())
            .await
            .map_err(AnchorError::rpc)?;
        let started = Instant::now();
        loop {
            let tx = base
                .clone()
                .with_gas_limit(gas + gas / 5)
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(tip);
            match self.provider.send_transaction(tx).await {
                Ok(pending) => {
                    let hash = *pending.tx_hash();
                    tracing::info!(%hash, nonce, max_fee, tip, "registry transaction sent");
                    sent.push(hash);
                }
                // The node refused the replacement (an earlier one was mined
                // meanwhile, or the bump was too small for its pool); keep
                // following what was sent.
                Err(e) if !sent.is_empty() => {
                    tracing::warn!(error = %e, "replacement refused");
                }
                Err(e) => return Err(AnchorError::rpc(e)),
            }
            let deadline = Instant::now() + self.config.replace_after;
            while Instant::now() < deadline {
                if let Some(r) = self.receipt_of_sent(sent).await? {
                    return Ok(r);
                }
                // Our nonce used by a transaction we do not know of (sent
                // before a restart): the caller looks the root up again.
                let mined_nonce = self
                    .provider
                    .get_transaction_count(self.account)
                    .latest()
                    .await
                    .map_err(AnchorError::rpc)?;
                if mined_nonce > nonce {
                    // The nonce may have moved on between the receipt
                    // look-ups above and the count: ask again for ours
                    // before concluding that another transaction took it
                    // (concluding too early sent each status change again
                    // and again).
                    if let Some(r) = self.receipt_of_sent(sent).await? {
                        return Ok(r);
                    }
                    if let Some(Landed::Receipt(r)) = self.landed(&work).await? {
                        return Ok(*r);
                    }
                    // Status changes are idempotent: the caller sends again
                    // rather than search for an earlier one.
                    if let Work::Status { .. } = work {
                        return Err(AnchorError::Rpc(
                            "the nonce was taken by an earlier transaction; send again".into(),
                        ));
                    }
                }
                if started.elapsed() > self.config.give_up_after {
                    return Err(AnchorError::Timeout(self.config.give_up_after));
                }
                tokio::time::sleep(self.config.poll_interval).await;
            }
            // Stuck: bump both fees by a quarter (nodes want at least 10%).
            if max_fee >= cap {
                let needed = self
                    .provider
                    .estimate_eip1559_fees()
                    .await
                    .map_err(AnchorError::rpc)?
                    .max_fee_per_gas;
                if needed > cap {
                    return Err(AnchorError::FeeCapTooLow { cap, needed });
                }
            }
            max_fee = (max_fee + max_fee / 4 + 1).min(cap);
            tip = (tip + tip / 4 + 1).min(max_fee);
            tracing::warn!(nonce, max_fee, tip, "registry transaction stuck; replacing");
        }
    }

    /// Who anchors `root` in the pending state (the pool applied on top of
    /// the head), if anyone.
    async fn pending_anchorer(&self, root: B256) -> Result<Option<Address>, AnchorError> {
        let pending = cairn_verifier::registry::call_at(
            &self.provider,
            self.registry,
            CairnRegistry::anchorsCall { root },
            alloy::eips::BlockId::pending(),
        )
        .await
        .map_err(AnchorError::Rpc)?;
        Ok((pending.issuer != Address::ZERO).then_some(pending.issuer))
    }

    /// The receipt of this account's transaction that did `work`, found
    /// through the registry's record and its event in the one block the
    /// record names (public RPC providers refuse `eth_getLogs` over long
    /// ranges), so it is right whichever of our transactions (original,
    /// replacement, one sent before a restart) did it. `None` while the
    /// registry shows no such work; an error when another account did it.
    async fn landed(&self, work: &Work) -> Result<Option<Landed>, AnchorError> {
        let (filter, block) = match work {
            Work::Anchor { root, .. } => {
                let root = *root;
                let a = self.view(CairnRegistry::anchorsCall { root }).await?;
                match a.issuer {
                    Address::ZERO => return Ok(None),
                    by if by != self.account => {
                        return Err(AnchorError::AnchoredByOther { root, by })
                    }
                    _ => {}
                }
                let filter = Filter::new()
                    .event_signature(CairnRegistry::Anchored::SIGNATURE_HASH)
                    .topic1(root);
                (filter, a.blockNumber)
            }
            Work::Binding(hash) => {
                let hash = *hash;
                let b = self
                    .view(CairnRegistry::bindingsCall { bindingHash: hash })
                    .await?;
                match b.account {
                    Address::ZERO => return Ok(None),
                    by if by != self.account => return Err(AnchorError::BoundByOther { hash, by }),
                    _ => {}
                }
                let filter = Filter::new()
                    .event_signature(CairnRegistry::BindingRegistered::SIGNATURE_HASH)
                    .topic1(self.account.into_word())
                    .topic2(hash);
                (filter, b.blockNumber)
            }
            // Idempotent and unrecorded: nothing to find.
            Work::Status { .. } => return Ok(None),
        };
        Ok(Some(
            match self
                .receipt_of_log(filter.address(self.registry), block)
                .await?
            {
                Some(r) => Landed::Receipt(Box::new(r)),
                None => Landed::Recorded,
            },
        ))
    }

    /// The receipt of the transaction that emitted the last log `filter`
    /// matches in block `block` (the one the registry records).
    async fn receipt_of_log(
        &self,
        filter: Filter,
        block: u64,
    ) -> Result<Option<TransactionReceipt>, AnchorError> {
        let filter = filter.from_block(block).to_block(block);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(AnchorError::rpc)?;
        let Some(tx) = logs.last().and_then(|l| l.transaction_hash) else {
            return Ok(None);
        };
        self.provider
            .get_transaction_receipt(tx)
            .await
            .map_err(AnchorError::rpc)
    }

    /// Whether block `number` is `confirmations` deep and still `hash`.
    async fn is_deep(&self, number: u64, hash: B256) -> Result<bool, AnchorError> {
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(AnchorError::rpc)?;
        let depth = head.saturating_sub(number) + 1;
        Ok(depth >= self.config.confirmations && self.block_is_canonical(number, hash).await?)
    }

    async fn block_is_canonical(&self, number: u64, hash: B256) -> Result<bool, AnchorError> {
        let block = self
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(AnchorError::rpc)?;
        Ok(block.is_some_and(|b| b.header.hash == hash))
    }
}
