//! Reading the registry contract for a verifier: anchors, bindings,
//! revocation and suspension, block times, from one or more chain nodes that
//! must agree.
//!
//! Every fact is asked of the endpoints in turn until `quorum` of them have
//! answered; any two answers that differ are an error naming both, because a
//! verifier must never settle a disagreement by picking a side. Answers are
//! cached for the reader's life (one `cairn verify` run): verifying ten
//! thousand credentials of one batch reads its anchor and status bitmaps once.
//! The chain head is the lowest head among the endpoints asked, so a lagging
//! node can only make confirmations look fewer, never more.

#[cfg(feature = "chain")]
use std::collections::HashMap;
#[cfg(feature = "chain")]
use std::fmt::Debug;
#[cfg(feature = "chain")]
use std::future::Future;
#[cfg(feature = "chain")]
use std::sync::{Arc, Mutex};

#[cfg(feature = "chain")]
use alloy::primitives::B256;
use alloy::primitives::{Address, U256};
#[cfg(feature = "chain")]
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
#[cfg(feature = "chain")]
use alloy::sol_types::SolCall;
#[cfg(feature = "chain")]
use tokio::sync::OnceCell;

alloy::sol!(
    /// The registry contract's ABI and bytecode, from the committed forge
    /// artifact: the call, return and event types that the anchorer
    /// writes with and every verifier reads with.
    #[allow(missing_docs)]
    CairnRegistry,
    "../contracts/artifacts/CairnRegistry.json"
);

/// Calls a view of the registry at `registry` and decodes its answer.
#[cfg(feature = "chain")]
pub async fn call<C: SolCall>(
    provider: &DynProvider,
    registry: Address,
    call: C,
) -> Result<C::Return, String> {
    call_at(provider, registry, call, alloy::eips::BlockId::latest()).await
}

/// [`call`] in the state of `block` (the pending state, say).
#[cfg(feature = "chain")]
pub async fn call_at<C: SolCall>(
    provider: &DynProvider,
    registry: Address,
    call: C,
    block: alloy::eips::BlockId,
) -> Result<C::Return, String> {
    use alloy::network::TransactionBuilder;
    let request = alloy::rpc::types::TransactionRequest::default()
        .with_to(registry)
        .with_input(call.abi_encode());
    let out = provider
        .call(request)
        .block(block)
        .await
        .map_err(|e| e.to_string())?;
    C::abi_decode_returns(&out).map_err(|e| e.to_string())
}

/// Bit `index` of a status bitmap as `statusWords` returns it: word
/// `index / 256`, least significant bit first.
pub fn bit(words: &[U256], index: u64) -> bool {
    words
        .get((index / 256) as usize)
        .is_some_and(|w| w.bit((index % 256) as usize))
}

/// Why a fact could not be read from the chain nodes.
#[cfg(feature = "chain")]
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    /// An RPC URL given to [`RegistryReader::connect`] does not parse.
    #[error("RPC URL `{0}` is not a valid URL")]
    Url(String),
    /// Connecting: a chain node did not say its chain id, and without it
    /// too few would be left to make the quorum.
    #[error("{url}: {reason}")]
    Rpc {
        /// The chain node's RPC URL.
        url: String,
        /// The error it gave.
        reason: String,
    },
    /// Two chain nodes gave different answers to one question.
    #[error("the chain nodes disagree on {what}: {a_url} says {a}, {b_url} says {b}")]
    Disagree {
        /// The question, for a person to read (`the anchor of root 0x…`).
        what: String,
        /// The RPC URL of the first node that answered.
        a_url: String,
        /// Its answer, debug-formatted.
        a: String,
        /// The RPC URL of the node that answered otherwise.
        b_url: String,
        /// Its answer, debug-formatted.
        b: String,
    },
    /// Connecting: the chain nodes serve different chains.
    #[error("{url} serves chain {got}, not {want} like {first}")]
    ChainMismatch {
        /// The RPC URL of the node that differs.
        url: String,
        /// The chain id it serves.
        got: u64,
        /// The chain id the first node to answer serves.
        want: u64,
        /// The RPC URL of that first node.
        first: String,
    },
    /// Fewer chain nodes answered than the quorum needs.
    #[error("only {answered} of the {quorum} chain nodes needed answered: {last}")]
    NoQuorum {
        /// How many answered.
        answered: usize,
        /// How many must answer.
        quorum: usize,
        /// The last failure (`URL: error`), or why none answered.
        last: String,
    },
}

/// What the registry holds for an anchored root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorFacts {
    /// Zero: the root was never anchored.
    pub issuer: Address,
    /// The block in which the root was anchored.
    pub block_number: u64,
    /// That block's time, in seconds since the Unix epoch.
    pub timestamp: u64,
    /// How many credentials (Merkle leaves) the batch holds.
    pub leaf_count: u64,
}

/// What the registry holds for a binding hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingFacts {
    /// Zero: never registered.
    pub account: Address,
    /// The block in which the hash was registered.
    pub block_number: u64,
    /// That block's time, in seconds since the Unix epoch.
    pub timestamp: u64,
}

/// Where a transaction that anchored a root was mined.
#[cfg(feature = "chain")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorTransaction {
    /// Its block.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
}

/// A leaf's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeafStatus {
    /// The issuer revoked the credential, for good.
    pub revoked: bool,
    /// The issuer suspended the credential (it may reinstate it).
    pub suspended: bool,
}

#[cfg(feature = "chain")]
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bitmaps {
    revoked: Vec<U256>,
    suspended: Vec<U256>,
}

#[cfg(feature = "chain")]
type Cell<T> = Arc<OnceCell<Result<T, ReadError>>>;

#[cfg(feature = "chain")]
#[derive(Default)]
struct Cache {
    anchors: HashMap<(Address, B256), Cell<AnchorFacts>>,
    bindings: HashMap<(Address, B256), Cell<BindingFacts>>,
    bitmaps: HashMap<(Address, B256), Cell<Bitmaps>>,
    blocks: HashMap<u64, Cell<Option<B256>>>,
    anchor_transactions: HashMap<(Address, B256, B256), Cell<Option<AnchorTransaction>>>,
    head: Option<Cell<u64>>,
}

/// Reads the registry from one or more chain nodes of one chain, which
/// must agree, caching every answer for its life.
#[cfg(feature = "chain")]
pub struct RegistryReader {
    endpoints: Vec<(String, DynProvider)>,
    quorum: usize,
    chain_id: u64,
    cache: Mutex<Cache>,
}

#[cfg(feature = "chain")]
fn cell<K: std::hash::Hash + Eq, T>(map: &mut HashMap<K, Cell<T>>, key: K) -> Cell<T> {
    map.entry(key).or_default().clone()
}

#[cfg(feature = "chain")]
impl RegistryReader {
    /// Connects to every URL and checks that they serve one chain. `quorum`
    /// (at least 1, at most the number of URLs) is how many must answer each
    /// question, and agree.
    pub async fn connect(urls: &[String], quorum: usize) -> Result<Self, ReadError> {
        let mut endpoints = Vec::new();
        for url in urls {
            let parsed = url.parse().map_err(|_| ReadError::Url(url.clone()))?;
            let provider = ProviderBuilder::new()
                .disable_recommended_fillers()
                .connect_http(parsed)
                .erased();
            endpoints.push((url.clone(), provider));
        }
        let quorum = quorum.clamp(1, endpoints.len().max(1));
        let mut chain_id = None;
        for (url, provider) in &endpoints {
            match provider.get_chain_id().await {
                Ok(id) => match chain_id {
                    None => chain_id = Some((id, url.clone())),
                    Some((want, ref first)) if want != id => {
                        return Err(ReadError::ChainMismatch {
                            url: url.clone(),
                            got: id,
                            want,
                            first: first.clone(),
                        })
                    }
                    Some(_) => {}
                },
                Err(e) if endpoints.len() > quorum => {
                    tracing::warn!(%url, error = %e, "chain node unreachable");
                }
                Err(e) => {
                    return Err(ReadError::Rpc {
                        url: url.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        let (chain_id, _) = chain_id.ok_or_else(|| ReadError::NoQuorum {
            answered: 0,
            quorum,
            last: "no chain node answered".into(),
        })?;
        Ok(Self {
            endpoints,
            quorum,
            chain_id,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The EIP-155 chain id the chain nodes serve.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The same chain nodes with an empty cache: for a long-running node,
    /// one per verification request, so a revocation is never served stale.
    pub fn fresh(&self) -> Self {
        Self {
            endpoints: self.endpoints.clone(),
            quorum: self.quorum,
            chain_id: self.chain_id,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// How many chain nodes must answer each question, and agree.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// Asks endpoints in turn until `quorum` agree; fails on any
    /// disagreement.
    async fn agreed<T, F, Fut>(&self, what: String, ask: F) -> Result<T, ReadError>
    where
        T: PartialEq + Debug,
        F: Fn(DynProvider) -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let mut first: Option<(String, T)> = None;
        let mut answered = 0;
        let mut last = String::new();
        for (url, provider) in &self.endpoints {
            match ask(provider.clone()).await {
                Ok(v) => {
                    answered += 1;
                    match &first {
                        None => first = Some((url.clone(), v)),
                        Some((a_url, a)) if *a != v => {
                            return Err(ReadError::Disagree {
                                what,
                                a_url: a_url.clone(),
                                a: format!("{a:?}"),
                                b_url: url.clone(),
                                b: format!("{v:?}"),
                            })
                        }
                        Some(_) => {}
                    }
                    if answered >= self.quorum {
                        break;
                    }
                }
                Err(e) => last = format!("{url}: {e}"),
            }
        }
        match first {
            Some((_, v)) if answered >= self.quorum => Ok(v),
            _ => Err(ReadError::NoQuorum {
                answered,
                quorum: self.quorum,
                last,
            }),
        }
    }

    /// The registry's record of `root`.
    pub async fn anchor(&self, registry: Address, root: B256) -> Result<AnchorFacts, ReadError> {
        let c = cell(
            &mut self.cache.lock().expect("cache lock").anchors,
            (registry, root),
        );
        c.get_or_init(|| {
            self.agreed(format!("the anchor of root {root}"), move |p| async move {
                let a = call(&p, registry, CairnRegistry::anchorsCall { root }).await?;
                Ok(AnchorFacts {
                    issuer: a.issuer,
                    block_number: a.blockNumber,
                    timestamp: a.timestamp,
                    leaf_count: a.leafCount.saturating_to::<u64>(),
                })
            })
        })
        .await
        .clone()
    }

    /// The registry's record of binding `hash`.
    pub async fn binding(&self, registry: Address, hash: B256) -> Result<BindingFacts, ReadError> {
        let c = cell(
            &mut self.cache.lock().expect("cache lock").bindings,
            (registry, hash),
        );
        c.get_or_init(|| {
            self.agreed(format!("binding {hash}"), move |p| async move {
                let b = call(
                    &p,
                    registry,
                    CairnRegistry::bindingsCall { bindingHash: hash },
                )
                .await?;
                Ok(BindingFacts {
                    account: b.account,
                    block_number: b.blockNumber,
                    timestamp: b.timestamp,
                })
            })
        })
        .await
        .clone()
    }

    /// Leaf `index`'s flags. The first question about a root reads its whole
    /// bitmaps (`leaf_count` bits each) in one call.
    pub async fn status(
        &self,
        registry: Address,
        root: B256,
        index: u64,
        leaf_count: u64,
    ) -> Result<LeafStatus, ReadError> {
        let c = cell(
            &mut self.cache.lock().expect("cache lock").bitmaps,
            (registry, root),
        );
        let words = leaf_count.div_ceil(256).max(1);
        let maps = c
            .get_or_init(|| {
                self.agreed(format!("the status of root {root}"), move |p| async move {
                    let r = call(
                        &p,
                        registry,
                        CairnRegistry::statusWordsCall {
                            root,
                            fromWord: U256::ZERO,
                            count: U256::from(words),
                        },
                    )
                    .await?;
                    Ok(Bitmaps {
                        revoked: r.revoked,
                        suspended: r.suspended,
                    })
                })
            })
            .await
            .clone()?;
        Ok(LeafStatus {
            revoked: bit(&maps.revoked, index),
            suspended: bit(&maps.suspended, index),
        })
    }

    /// The hash of canonical block `number`, if the chain has it.
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>, ReadError> {
        let c = cell(&mut self.cache.lock().expect("cache lock").blocks, number);
        c.get_or_init(|| {
            self.agreed(format!("block {number}"), move |p| async move {
                let b = p
                    .get_block_by_number(number.into())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(b.map(|b| b.header.hash))
            })
        })
        .await
        .clone()
    }

    /// Where transaction `tx` was mined, if it succeeded and its receipt
    /// holds the registry's `Anchored` log for `root`; `None` otherwise
    /// (unknown, failed, or another transaction).
    pub async fn anchor_transaction(
        &self,
        registry: Address,
        root: B256,
        tx: B256,
    ) -> Result<Option<AnchorTransaction>, ReadError> {
        use alloy::sol_types::SolEvent;
        let c = cell(
            &mut self.cache.lock().expect("cache lock").anchor_transactions,
            (registry, root, tx),
        );
        c.get_or_init(|| {
            self.agreed(format!("transaction {tx}"), move |p| async move {
                let Some(r) = p
                    .get_transaction_receipt(tx)
                    .await
                    .map_err(|e| e.to_string())?
                else {
                    return Ok(None);
                };
                let anchors = r.inner.logs().iter().any(|l| {
                    l.address() == registry
                        && l.topics().first() == Some(&CairnRegistry::Anchored::SIGNATURE_HASH)
                        && l.topics().get(1) == Some(&root)
                });
                Ok((r.status() && anchors).then(|| AnchorTransaction {
                    block_number: r.block_number.unwrap_or_default(),
                    block_hash: r.block_hash.unwrap_or_default(),
                }))
            })
        })
        .await
        .clone()
    }

    /// The chain head: the lowest among the endpoints asked (heads differ
    /// by a block or two between honest nodes; the lowest never overstates
    /// confirmations). Read once per reader.
    pub async fn head(&self) -> Result<u64, ReadError> {
        let c = self
            .cache
            .lock()
            .expect("cache lock")
            .head
            .get_or_insert_with(Default::default)
            .clone();
        c.get_or_init(|| async {
            let mut lowest: Option<u64> = None;
            let mut answered = 0;
            let mut last = String::new();
            for (url, p) in &self.endpoints {
                match p.get_block_number().await {
                    Ok(n) => {
                        answered += 1;
                        lowest = Some(lowest.map_or(n, |l| l.min(n)));
                        if answered >= self.quorum {
                            break;
                        }
                    }
                    Err(e) => last = format!("{url}: {e}"),
                }
            }
            match lowest {
                Some(n) if answered >= self.quorum => Ok(n),
                _ => Err(ReadError::NoQuorum {
                    answered,
                    quorum: self.quorum,
                    last,
                }),
            }
        })
        .await
        .clone()
    }
}

/// Confirmations a verifier asks for by default on a chain: enough that a
/// reorganisation deeper than that has not happened on it.
pub fn default_confirmations(chain_id: u64) -> u64 {
    match chain_id {
        // Local development chains: anvil, Cairn's dev chain.
        31337 | 1337 => 1,
        // Polygon PoS has seen reorganisations over 100 blocks deep.
        137 => 128,
        // Rollups with 2 s blocks (OP, Base) and Arbitrum's 0.25 s blocks:
        // about a minute.
        10 | 8453 => 30,
        42161 => 240,
        // Ethereum and its testnets, and anything else: 12 blocks.
        _ => 12,
    }
}
