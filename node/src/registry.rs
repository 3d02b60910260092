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

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use tokio::sync::OnceCell;

use crate::anchor::CairnRegistry;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("RPC URL `{0}` is not a valid URL")]
    Url(String),
    #[error("{url}: {reason}")]
    Rpc { url: String, reason: String },
    #[error("the chain nodes disagree on {what}: {a_url} says {a}, {b_url} says {b}")]
    Disagree {
        what: String,
        a_url: String,
        a: String,
        b_url: String,
        b: String,
    },
    #[error("{url} serves chain {got}, not {want} like {first}")]
    ChainMismatch {
        url: String,
        got: u64,
        want: u64,
        first: String,
    },
    #[error("only {answered} of the {quorum} chain nodes needed answered: {last}")]
    NoQuorum {
        answered: usize,
        quorum: usize,
        last: String,
    },
}

/// What the registry holds for an anchored root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnchorFacts {
    /// Zero: the root was never anchored.
    pub issuer: Address,
    pub block_number: u64,
    pub timestamp: u64,
    pub leaf_count: u64,
}

/// What the registry holds for a binding hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingFacts {
    /// Zero: never registered.
    pub account: Address,
    pub block_number: u64,
    pub timestamp: u64,
}

/// A leaf's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeafStatus {
    pub revoked: bool,
    pub suspended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Bitmaps {
    revoked: Vec<U256>,
    suspended: Vec<U256>,
}

type Cell<T> = Arc<OnceCell<Result<T, ReadError>>>;

#[derive(Default)]
struct Cache {
    anchors: HashMap<(Address, B256), Cell<AnchorFacts>>,
    bindings: HashMap<(Address, B256), Cell<BindingFacts>>,
    bitmaps: HashMap<(Address, B256), Cell<Bitmaps>>,
    blocks: HashMap<u64, Cell<Option<B256>>>,
    head: Option<Cell<u64>>,
}

pub struct RegistryReader {
    endpoints: Vec<(String, DynProvider)>,
    quorum: usize,
    chain_id: u64,
    cache: Mutex<Cache>,
}

fn cell<K: std::hash::Hash + Eq, T>(map: &mut HashMap<K, Cell<T>>, key: K) -> Cell<T> {
    map.entry(key).or_default().clone()
}

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
                let a = CairnRegistry::new(registry, &p)
                    .anchors(root)
                    .call()
                    .await
                    .map_err(|e| e.to_string())?;
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
                let b = CairnRegistry::new(registry, &p)
                    .bindings(hash)
                    .call()
                    .await
                    .map_err(|e| e.to_string())?;
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
                    let r = CairnRegistry::new(registry, &p)
                        .statusWords(root, U256::ZERO, U256::from(words))
                        .call()
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Bitmaps {
                        revoked: r.revoked,
                        suspended: r.suspended,
                    })
                })
            })
            .await
            .clone()?;
        let bit = |words: &[U256]| {
            words
                .get((index / 256) as usize)
                .is_some_and(|w| w.bit((index % 256) as usize))
        };
        Ok(LeafStatus {
            revoked: bit(&maps.revoked),
            suspended: bit(&maps.suspended),
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
