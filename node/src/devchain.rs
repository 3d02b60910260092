//! The embedded dev chain: the registry's bytecode run in-process by `revm`,
//! one block per transaction, kept on disk, answering the Ethereum JSON-RPC
//! methods that Cairn's anchorer and verifier use.
//!
//! It is for demos and development: it lives inside the issuer's own node,
//! so an anchor on it proves nothing to anyone else. A configured RPC URL
//! replaces it with a real chain and nothing else changes, because the
//! anchorer (`anchor::RpcChain`) and the verifier talk to both the same way.
//!
//! On disk it is a log of blocks, one JSON line each (number, time, the raw
//! signed transactions), appended and synced before a transaction is
//! answered. Opening the log replays it: same transactions, same times, so
//! the same state, receipts and block hashes, after any restart.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alloy::consensus::{
    proofs::{calculate_receipt_root, calculate_transaction_root},
    transaction::SignerRecoverable,
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope,
};
use alloy::eips::Decodable2718;
use alloy::primitives::{Address, Bloom, Bytes, Log, TxKind, B256, U256};
use alloy::rpc::types::{Filter, TransactionRequest};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainnetContext, MainnetEvm};
use revm::{ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The dev chain's id: distinct from anvil's 31337 and from public chains.
pub const DEV_CHAIN_ID: u64 = 1337;
const BLOCK_GAS_LIMIT: u64 = 30_000_000;
/// EIP-7825's cap on one transaction's gas, which revm's default fork applies.
const TX_GAS_CAP: u64 = 1 << 24;
/// What the dev chain's faucet gives an account it has not seen, so that an
/// issuer's fresh account can pay for gas with no set-up.
const FAUCET: u128 = 1_000_000_000_000_000_000_000; // 1,000 ether

#[derive(Debug, thiserror::Error)]
pub enum DevChainError {
    #[error("dev chain log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dev chain log {path}, line {line}: {reason}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("transaction rejected: {0}")]
    Rejected(String),
}

/// One line of the log.
#[derive(Serialize, Deserialize)]
struct LoggedBlock {
    number: u64,
    timestamp: u64,
    transactions: Vec<Bytes>,
}

struct MinedTx {
    envelope: TxEnvelope,
    from: Address,
    receipt: ReceiptEnvelope<Log>,
    gas_used: u64,
    contract_address: Option<Address>,
}

struct Block {
    header: Header,
    hash: B256,
    txs: Vec<MinedTx>,
}

struct State {
    db: CacheDB<EmptyDB>,
    blocks: Vec<Block>,
    /// Transaction hash → (block number, index in block).
    index: HashMap<B256, (u64, usize)>,
    log: File,
}

/// The embedded chain. Cheap to clone; every clone is the same chain.
#[derive(Clone)]
pub struct DevChain {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

impl DevChain {
    /// Opens (or creates) the chain kept in `dir`, replaying its log.
    pub fn open(dir: &Path) -> Result<Self, DevChainError> {
        let path = dir.join("devchain.jsonl");
        let io = |source| DevChainError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io)?;
        let mut state = State {
            db: CacheDB::default(),
            blocks: Vec::new(),
            index: HashMap::new(),
            log,
        };
        state.push_genesis();
        let reader = BufReader::new(File::open(&path).map_err(io)?);
        for (n, line) in reader.lines().enumerate() {
            let corrupt = |reason: String| DevChainError::Corrupt {
                path: path.clone(),
                line: n + 1,
                reason,
            };
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            let block: LoggedBlock =
                serde_json::from_str(&line).map_err(|e| corrupt(e.to_string()))?;
            if block.number != state.blocks.len() as u64 {
                return Err(corrupt(format!("block {} out of order", block.number)));
            }
            let mut txs = Vec::new();
            for raw in &block.transactions {
                txs.push(decode(raw).map_err(|e| corrupt(e.to_string()))?);
            }
            state
                .mine(txs, block.timestamp)
                .map_err(|e| corrupt(e.to_string()))?;
        }
        Ok(Self {
            state: Arc::new(Mutex::new(state)),
            path,
        })
    }

    /// The log file this chain lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Answers one JSON-RPC request object with a response object.
    pub fn handle(&self, request: &Value) -> Value {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let params = request.get("params").cloned().unwrap_or(json!([]));
        match self.call(method, &params) {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            }
        }
    }

    fn call(&self, method: &str, params: &Value) -> Result<Value, (i64, String)> {
        let bad = |m: &str| (-32602, format!("invalid params: {m}"));
        let param = |i: usize| params.get(i).cloned().unwrap_or(Value::Null);
        let mut s = self.state.lock().expect("dev chain lock");
        let quantity = |n: u64| json!(format!("0x{n:x}"));
        match method {
            "eth_chainId" => Ok(quantity(DEV_CHAIN_ID)),
            "net_version" => Ok(json!(DEV_CHAIN_ID.to_string())),
            "eth_blockNumber" => Ok(quantity(s.head())),
            "eth_gasPrice" | "eth_maxPriorityFeePerGas" => Ok(quantity(0)),
            "eth_feeHistory" => {
                let count = param(0)
                    .as_str()
                    .and_then(|c| u64::from_str_radix(c.trim_start_matches("0x"), 16).ok())
                    .or_else(|| param(0).as_u64())
                    .unwrap_or(1)
                    .clamp(1, 1024);
                let percentiles = param(2).as_array().map_or(0, Vec::len);
                Ok(json!({
                    "oldestBlock": quantity(s.head().saturating_sub(count - 1)),
                    "baseFeePerGas": vec!["0x0"; count as usize + 1],
                    "gasUsedRatio": vec![0.0; count as usize],
                    "reward": vec![vec!["0x0"; percentiles]; count as usize],
                }))
            }
            "eth_getTransactionCount" => {
                let who: Address =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                let nonce = s.db.cache.accounts.get(&who).map_or(0, |a| a.info.nonce);
                Ok(quantity(nonce))
            }
            "eth_getBalance" => {
                let who: Address =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                let balance =
                    s.db.cache
                        .accounts
                        .get(&who)
                        .map_or(U256::ZERO, |a| a.info.balance);
                Ok(json!(balance))
            }
            "eth_getCode" => {
                let who: Address =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                let code =
                    s.db.cache
                        .accounts
                        .get(&who)
                        .and_then(|a| a.info.code.as_ref().map(|c| c.original_bytes()))
                        .unwrap_or_default();
                Ok(json!(code))
            }
            "eth_call" | "eth_estimateGas" => {
                let request: TransactionRequest =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                let (result, gas) = s.simulate(&request).map_err(|e| (3, e))?;
                if method == "eth_call" {
                    Ok(json!(result))
                } else {
                    Ok(quantity(gas))
                }
            }
            "eth_sendRawTransaction" => {
                let raw: Bytes =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                let tx = decode(&raw).map_err(|e| (-32000, e.to_string()))?;
                let hash = *tx.envelope.tx_hash();
                s.send(tx, now()).map_err(|e| (-32000, e.to_string()))?;
                Ok(json!(hash))
            }
            "eth_getTransactionReceipt" => {
                let hash: B256 =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                Ok(s.receipt_json(hash).unwrap_or(Value::Null))
            }
            "eth_getTransactionByHash" => {
                let hash: B256 =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                Ok(s.transaction_json(hash).unwrap_or(Value::Null))
            }
            "eth_getBlockByNumber" => {
                let number = match param(0).as_str() {
                    Some("latest" | "pending" | "safe" | "finalized") => s.head(),
                    Some("earliest") => 0,
                    Some(n) => u64::from_str_radix(n.trim_start_matches("0x"), 16)
                        .map_err(|_| bad("block number"))?,
                    None => return Err(bad("block number")),
                };
                Ok(s.block_json(number).unwrap_or(Value::Null))
            }
            "eth_getBlockByHash" => {
                let hash: B256 =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                let number = s.blocks.iter().position(|b| b.hash == hash);
                Ok(number
                    .and_then(|n| s.block_json(n as u64))
                    .unwrap_or(Value::Null))
            }
            "eth_getLogs" => {
                let filter: Filter =
                    serde_json::from_value(param(0)).map_err(|e| bad(&e.to_string()))?;
                Ok(Value::Array(s.logs(&filter)))
            }
            other => Err((
                -32601,
                format!("method `{other}` is not served by the dev chain"),
            )),
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An EVM over `db` for a block at `number` and `timestamp`.
fn evm(
    db: CacheDB<EmptyDB>,
    number: u64,
    timestamp: u64,
) -> MainnetEvm<MainnetContext<CacheDB<EmptyDB>>> {
    Context::mainnet()
        .modify_cfg_chained(|c| c.chain_id = DEV_CHAIN_ID)
        .modify_block_chained(|b| {
            b.number = U256::from(number);
            b.timestamp = U256::from(timestamp);
            b.gas_limit = BLOCK_GAS_LIMIT;
            b.basefee = 0;
        })
        .with_db(db)
        .build_mainnet()
}

struct Decoded {
    envelope: TxEnvelope,
    from: Address,
    raw: Bytes,
}

fn decode(raw: &Bytes) -> Result<Decoded, DevChainError> {
    let envelope = TxEnvelope::decode_2718(&mut raw.as_ref())
        .map_err(|e| DevChainError::Rejected(format!("not a signed transaction: {e}")))?;
    let from = envelope
        .recover_signer()
        .map_err(|e| DevChainError::Rejected(format!("bad signature: {e}")))?;
    Ok(Decoded {
        envelope,
        from,
        raw: raw.clone(),
    })
}

impl State {
    fn head(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }

    fn push_genesis(&mut self) {
        let header = Header {
            number: 0,
            gas_limit: BLOCK_GAS_LIMIT,
            base_fee_per_gas: Some(0),
            ..Default::default()
        };
        let hash = header.hash_slow();
        self.blocks.push(Block {
            header,
            hash,
            txs: Vec::new(),
        });
    }

    /// Gives an account the faucet's ether the first time it is seen.
    fn faucet(db: &mut CacheDB<EmptyDB>, who: Address) {
        use revm::Database;
        let info = db.basic(who).ok().flatten().unwrap_or_default();
        if info.nonce == 0
            && info.balance.is_zero()
            && info.code_hash == revm::primitives::KECCAK_EMPTY
        {
            let mut info = info;
            info.balance = U256::from(FAUCET);
            db.insert_account_info(who, info);
        }
    }

    fn tx_env(envelope: &TxEnvelope, from: Address) -> Result<TxEnv, DevChainError> {
        TxEnv::builder()
            .tx_type(Some(envelope.tx_type() as u8))
            .caller(from)
            .gas_limit(envelope.gas_limit())
            .gas_price(envelope.max_fee_per_gas())
            .gas_priority_fee(envelope.max_priority_fee_per_gas())
            .kind(envelope.kind())
            .value(envelope.value())
            .data(envelope.input().clone())
            .nonce(envelope.nonce())
            .chain_id(envelope.chain_id())
            .build()
            .map_err(|e| DevChainError::Rejected(format!("{e:?}")))
    }

    /// Mines one block of `txs` at `timestamp` (each must execute).
    fn mine(&mut self, txs: Vec<Decoded>, timestamp: u64) -> Result<(), DevChainError> {
        let number = self.blocks.len() as u64;
        let parent = self.blocks.last().expect("genesis exists");
        let timestamp = timestamp.max(parent.header.timestamp + 1);
        let parent_hash = parent.hash;
        let mut db = std::mem::take(&mut self.db);
        let mut mined = Vec::new();
        let mut cumulative = 0;
        for tx in txs {
            Self::faucet(&mut db, tx.from);
            let env = Self::tx_env(&tx.envelope, tx.from)?;
            let mut evm = evm(db, number, timestamp);
            let result = evm.transact_commit(env);
            db = evm.ctx.journaled_state.database;
            let result = match result {
                Ok(r) => r,
                Err(e) => {
                    self.db = db;
                    return Err(DevChainError::Rejected(format!("{e:?}")));
                }
            };
            let gas_used = result.gas().tx_gas_used();
            cumulative += gas_used;
            let contract_address = match &result {
                ExecutionResult::Success {
                    output: Output::Create(_, address),
                    ..
                } => *address,
                _ => None,
            };
            let logs: Vec<Log> = result.logs().to_vec();
            let receipt = Receipt {
                status: Eip658Value::Eip658(result.is_success()),
                cumulative_gas_used: cumulative,
                logs,
            };
            let bloom = receipt.bloom_slow();
            let with_bloom = ReceiptWithBloom::new(receipt, bloom);
            let receipt = match tx.envelope.tx_type() {
                alloy::consensus::TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
                alloy::consensus::TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
                _ => ReceiptEnvelope::Eip1559(with_bloom),
            };
            mined.push(MinedTx {
                envelope: tx.envelope,
                from: tx.from,
                receipt,
                gas_used,
                contract_address,
            });
        }
        self.db = db;
        let txs = mined;
        let envelopes: Vec<&TxEnvelope> = txs.iter().map(|t| &t.envelope).collect();
        let receipts: Vec<&ReceiptEnvelope<Log>> = txs.iter().map(|t| &t.receipt).collect();
        let header = Header {
            parent_hash,
            number,
            timestamp,
            gas_limit: BLOCK_GAS_LIMIT,
            gas_used: cumulative,
            base_fee_per_gas: Some(0),
            transactions_root: calculate_transaction_root(&envelopes),
            receipts_root: calculate_receipt_root(&receipts),
            logs_bloom: receipts.iter().fold(Bloom::default(), |mut b, r| {
                b.accrue_bloom(r.logs_bloom());
                b
            }),
            ..Default::default()
        };
        let hash = header.hash_slow();
        for (i, t) in txs.iter().enumerate() {
            self.index.insert(*t.envelope.tx_hash(), (number, i));
        }
        self.blocks.push(Block { header, hash, txs });
        Ok(())
    }

    /// Mines `tx` in a new block and appends that block to the log, synced,
    /// before answering.
    fn send(&mut self, tx: Decoded, timestamp: u64) -> Result<(), DevChainError> {
        let expected = self
            .db
            .cache
            .accounts
            .get(&tx.from)
            .map_or(0, |a| a.info.nonce);
        if tx.envelope.nonce() != expected {
            return Err(DevChainError::Rejected(format!(
                "nonce {} is not the account's next nonce {expected}",
                tx.envelope.nonce()
            )));
        }
        if tx.envelope.chain_id() != Some(DEV_CHAIN_ID) {
            return Err(DevChainError::Rejected("wrong chain id".into()));
        }
        let raw = tx.raw.clone();
        self.mine(vec![tx], timestamp)?;
        let block = self.blocks.last().expect("just mined");
        let line = serde_json::to_string(&LoggedBlock {
            number: block.header.number,
            timestamp: block.header.timestamp,
            transactions: vec![raw],
        })
        .expect("block serializes");
        let io = |e: std::io::Error| DevChainError::Rejected(format!("dev chain log: {e}"));
        writeln!(self.log, "{line}").map_err(io)?;
        self.log.sync_data().map_err(io)?;
        Ok(())
    }

    /// Runs a call on a copy of the state: (output, gas used).
    fn simulate(&self, request: &TransactionRequest) -> Result<(Bytes, u64), String> {
        let mut db = self.db.clone();
        let from = request.from.unwrap_or_default();
        Self::faucet(&mut db, from);
        let nonce = db.cache.accounts.get(&from).map_or(0, |a| a.info.nonce);
        let env = TxEnv::builder()
            .caller(from)
            .gas_limit(request.gas.unwrap_or(TX_GAS_CAP).min(TX_GAS_CAP))
            .gas_price(0)
            .kind(request.to.unwrap_or(TxKind::Create))
            .value(request.value.unwrap_or_default())
            .data(request.input.input().cloned().unwrap_or_default())
            .nonce(nonce)
            .chain_id(Some(DEV_CHAIN_ID))
            .build()
            .map_err(|e| format!("{e:?}"))?;
        let head = self.blocks.last().expect("genesis exists");
        let mut evm = evm(
            db,
            head.header.number + 1,
            now().max(head.header.timestamp + 1),
        );
        let result = evm.transact(env).map_err(|e| format!("{e:?}"))?.result;
        match result {
            ExecutionResult::Success { gas, output, .. } => {
                Ok((output.into_data(), gas.tx_gas_used()))
            }
            ExecutionResult::Revert { output, .. } => {
                Err(format!("execution reverted: 0x{}", hex::encode(output)))
            }
            ExecutionResult::Halt { reason, .. } => Err(format!("execution halted: {reason:?}")),
        }
    }

    fn block_json(&self, number: u64) -> Option<Value> {
        let b = self.blocks.get(number as usize)?;
        let mut v = serde_json::to_value(&b.header).expect("header serializes");
        v["hash"] = json!(b.hash);
        v["transactions"] = json!(b
            .txs
            .iter()
            .map(|t| *t.envelope.tx_hash())
            .collect::<Vec<_>>());
        v["uncles"] = json!([]);
        v["totalDifficulty"] = json!("0x0");
        Some(v)
    }

    fn located(&self, hash: B256) -> Option<(&Block, usize, &MinedTx)> {
        let (number, i) = *self.index.get(&hash)?;
        let block = &self.blocks[number as usize];
        Some((block, i, &block.txs[i]))
    }

    /// The RPC form of log `k` (`log_index` within its block) of
    /// transaction `i` of `block`.
    fn log_json(block: &Block, i: usize, log_index: usize, log: &Log) -> Value {
        json!({
            "address": log.address,
            "topics": log.data.topics(),
            "data": log.data.data,
            "blockHash": block.hash,
            "blockNumber": format!("0x{:x}", block.header.number),
            "blockTimestamp": format!("0x{:x}", block.header.timestamp),
            "transactionHash": block.txs[i].envelope.tx_hash(),
            "transactionIndex": format!("0x{i:x}"),
            "logIndex": format!("0x{log_index:x}"),
            "removed": false,
        })
    }

    /// Transaction `i`'s logs with their indices within the block.
    fn indexed_logs(block: &Block, i: usize) -> impl Iterator<Item = (usize, &Log)> {
        let first: usize = block.txs[..i].iter().map(|t| t.receipt.logs().len()).sum();
        block.txs[i]
            .receipt
            .logs()
            .iter()
            .enumerate()
            .map(move |(k, log)| (first + k, log))
    }

    fn receipt_json(&self, hash: B256) -> Option<Value> {
        let (block, i, t) = self.located(hash)?;
        let r = t.receipt.as_receipt_with_bloom()?;
        Some(json!({
            "type": format!("0x{:x}", t.envelope.tx_type() as u8),
            "status": if r.receipt.status.coerce_status() { "0x1" } else { "0x0" },
            "cumulativeGasUsed": format!("0x{:x}", r.receipt.cumulative_gas_used),
            "logs": Self::indexed_logs(block, i)
                .map(|(n, log)| Self::log_json(block, i, n, log))
                .collect::<Vec<_>>(),
            "logsBloom": r.logs_bloom,
            "transactionHash": hash,
            "transactionIndex": format!("0x{i:x}"),
            "blockHash": block.hash,
            "blockNumber": format!("0x{:x}", block.header.number),
            "gasUsed": format!("0x{:x}", t.gas_used),
            "effectiveGasPrice": format!("0x{:x}", t.envelope.max_priority_fee_per_gas().unwrap_or_else(|| t.envelope.max_fee_per_gas())),
            "from": t.from,
            "to": t.envelope.to(),
            "contractAddress": t.contract_address,
        }))
    }

    fn transaction_json(&self, hash: B256) -> Option<Value> {
        let (block, i, t) = self.located(hash)?;
        let mut v = serde_json::to_value(&t.envelope).ok()?;
        v["hash"] = json!(hash);
        v["from"] = json!(t.from);
        v["blockHash"] = json!(block.hash);
        v["blockNumber"] = json!(format!("0x{:x}", block.header.number));
        v["transactionIndex"] = json!(format!("0x{i:x}"));
        Some(v)
    }

    fn logs(&self, filter: &Filter) -> Vec<Value> {
        let head = self.head();
        let from = filter.get_from_block().unwrap_or(0);
        let to = filter.get_to_block().unwrap_or(head).min(head);
        let mut out = Vec::new();
        for block in self.blocks.iter().take(to as usize + 1).skip(from as usize) {
            for i in 0..block.txs.len() {
                for (n, log) in Self::indexed_logs(block, i) {
                    if filter.matches_address(log.address) && filter.matches_topics(log.topics()) {
                        out.push(Self::log_json(block, i, n, log));
                    }
                }
            }
        }
        out
    }
}

/// Serves the chain's JSON-RPC on `listener` (single and batch requests).
#[cfg(feature = "server")]
pub async fn serve(chain: DevChain, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(chain)).await
}

/// The JSON-RPC endpoint as an axum router, for the node to mount.
#[cfg(feature = "server")]
pub fn router(chain: DevChain) -> axum::Router {
    use axum::routing::post;
    axum::Router::new().route(
        "/",
        post(|axum::extract::State(chain): axum::extract::State<DevChain>, body: axum::body::Bytes| async move {
            let reply = match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(batch)) => {
                    Value::Array(batch.iter().map(|r| chain.handle(r)).collect())
                }
                Ok(single) => chain.handle(&single),
                Err(e) => json!({"jsonrpc": "2.0", "id": null,
                                  "error": {"code": -32700, "message": format!("parse error: {e}")}}),
            };
            axum::Json(reply)
        }),
    )
    .with_state(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(chain: &DevChain, method: &str, params: Value) -> Value {
        chain.handle(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
    }

    #[test]
    fn bad_requests_get_json_rpc_errors() {
        let dir = tempfile::tempdir().unwrap();
        let chain = DevChain::open(dir.path()).unwrap();
        assert_eq!(rpc(&chain, "eth_chainId", json!([]))["result"], "0x539");
        assert_eq!(rpc(&chain, "eth_mine", json!([]))["error"]["code"], -32601);
        assert_eq!(
            rpc(&chain, "eth_getTransactionCount", json!(["not an address"]))["error"]["code"],
            -32602
        );
        let r = rpc(&chain, "eth_sendRawTransaction", json!(["0x02f8"]));
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not a signed transaction"),
            "{r}"
        );
        assert_eq!(
            rpc(&chain, "eth_getBlockByNumber", json!(["0x99", false]))["result"],
            Value::Null
        );
        assert_eq!(
            rpc(&chain, "eth_getTransactionReceipt", json!([B256::ZERO]))["result"],
            Value::Null
        );
        assert_eq!(chain.handle(&json!("garbage"))["error"]["code"], -32601);
    }

    #[test]
    fn a_damaged_log_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("devchain.jsonl"),
            "{\"number\": 2, \"timestamp\": 5, \"transactions\": []}\n",
        )
        .unwrap();
        let err = DevChain::open(dir.path()).err().unwrap();
        assert!(
            matches!(err, DevChainError::Corrupt { line: 1, .. }),
            "{err}"
        );
        std::fs::write(dir.path().join("devchain.jsonl"), "not json\n").unwrap();
        assert!(matches!(
            DevChain::open(dir.path()),
            Err(DevChainError::Corrupt { line: 1, .. })
        ));
    }
}
