//! Anchoring against a real Ethereum node (anvil): one transaction for a
//! batch of a thousand credentials, a stuck transaction replaced, a reorged
//! anchor sent again, and the nonce right after a restart.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use cairn::anchor::{Anchored, ChainConfig, RpcChain};
use cairn::devchain::DevChain;
use cairn::issuer::Signer;
use cairn::key::{IssuerKey, SigningKeyType};
use cairn_tests::{achievement_json, Anvil};
use cairn_verifier::context::Contexts;
use cairn_verifier::credential::{CredentialRequest, IssuerProfile};
use cairn_verifier::merkle::{credential_digest, Batch, Hash};
use cairn_verifier::proof::{anchor_proof, with_anchor_proof};
use cairn_verifier::registry::{call, CairnRegistry};

fn issuer() -> IssuerKey {
    IssuerKey::generate(Some("Board of Nursing".into()), SigningKeyType::Ed25519).unwrap()
}

fn fast(confirmations: u64) -> ChainConfig {
    ChainConfig {
        confirmations,
        poll_interval: Duration::from_millis(20),
        replace_after: Duration::from_millis(300),
        give_up_after: Duration::from_secs(60),
        ..ChainConfig::default()
    }
}

async fn rpc<R: serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + Unpin + 'static>(
    chain: &RpcChain,
    method: &'static str,
    params: serde_json::Value,
) -> R {
    chain
        .provider()
        .raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// Funds the issuer's account, deploys a registry from it and connects.
async fn setup(anvil: &Anvil, key: &IssuerKey, config: ChainConfig) -> RpcChain {
    let probe = RpcChain::connect(&anvil.url, key.account_key(), Address::ZERO, config.clone())
        .await
        .unwrap();
    // The account is the issuer's own, derived in key.rs: alloy agrees.
    assert_eq!(probe.account().to_checksum(None), key.identity.address);
    let _: serde_json::Value = rpc(
        &probe,
        "anvil_setBalance",
        serde_json::json!([probe.account(), "0x56BC75E2D63100000"]),
    )
    .await;
    let registry = {
        let provider = probe.provider().clone();
        let deploy = tokio::spawn({
            let url = anvil.url.clone();
            let sk = key.account_key().clone();
            async move { RpcChain::deploy_registry(&url, &sk).await }
        });
        // Under --no-mining the deployment waits for a block.
        loop {
            if deploy.is_finished() {
                break deploy.await.unwrap().unwrap();
            }
            let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    };
    RpcChain::connect(&anvil.url, key.account_key(), registry, config)
        .await
        .unwrap()
}

fn root_of(n: usize, seed: u8) -> Hash {
    let mut r = [seed; 32];
    r[..8].copy_from_slice(&(n as u64).to_be_bytes());
    r
}

/// What the registry holds for the root `record` anchored.
async fn anchor_on_chain(
    chain: &RpcChain,
    record: &cairn::anchor::AnchorRecord,
) -> CairnRegistry::anchorsReturn {
    call(
        chain.provider(),
        record.registry,
        CairnRegistry::anchorsCall { root: record.root },
    )
    .await
    .unwrap()
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_credentials_in_one_transaction() {
    let anvil = Anvil::start(&[]);
    let key = issuer();
    let chain = setup(&anvil, &key, fast(3)).await;
    a_thousand_credentials(&chain, &key, 3).await;
}

/// Keeps mining blocks (anvil's `evm_mine`) while a test waits for depth.
fn keep_mining(chain: &RpcChain) -> tokio::task::JoinHandle<()> {
    let provider = chain.provider().clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _: Result<serde_json::Value, _> = provider.raw_request("evm_mine".into(), ()).await;
        }
    })
}

/// The end-to-end anchoring check, on any chain: a thousand credentials, one
/// transaction, every proof against the root read back from the registry, the
/// issuer binding. `depth`: the chain's configured confirmations; above one,
/// blocks are mined in the background (anvil's `evm_mine`) to reach it.
pub async fn a_thousand_credentials(chain: &RpcChain, key: &IssuerKey, depth: u64) {
    // A thousand real credentials, signed on both cores.
    let signer = Arc::new(Signer::new(
        key,
        IssuerProfile {
            id: key.identity.did.clone(),
            name: key.identity.name.clone().map(Into::into),
            ..Default::default()
        },
        Contexts::standard(),
    ));
    let mut handles = Vec::new();
    for half in 0..2 {
        let signer = signer.clone();
        handles.push(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            (0..500)
                .map(|i| {
                    let req = CredentialRequest {
                        achievement: achievement_json(),
                        recipient: format!("nurse{}@example.org", half * 500 + i)
                            .parse()
                            .unwrap(),
                        valid_from: None,
                        valid_until: None,
                        evidence: None,
                        extra_contexts: vec![],
                        id: None,
                    };
                    rt.block_on(signer.issue(&req)).unwrap()
                })
                .collect::<Vec<_>>()
        }));
    }
    let credentials: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let digests: Vec<Hash> = credentials
        .iter()
        .map(|c| credential_digest(c).unwrap())
        .collect();
    let batch = Batch::build(&digests).unwrap();

    // Three confirmations: mine blocks in the background while it waits.
    let miner = (depth > 1).then(|| keep_mining(chain));
    let Anchored { record, sent } = chain.anchor(batch.root(), 1000).await.unwrap();
    if let Some(m) = miner {
        m.abort();
    }
    assert_eq!(sent.len(), 1, "one transaction for the whole batch");
    assert_eq!(record.transaction, sent[0]);
    assert_eq!(record.chain, format!("eip155:{}", chain.chain_id()));
    let receipt = chain
        .provider()
        .get_transaction_receipt(record.transaction)
        .await
        .unwrap()
        .unwrap();
    assert!(receipt.status());
    assert!(
        receipt.gas_used <= 60_000,
        "anchor used {} gas",
        receipt.gas_used
    );
    let head = chain.provider().get_block_number().await.unwrap();
    assert!(
        head + 1 >= record.block_number + depth,
        "{depth} confirmations deep"
    );

    // Every credential's proof leads to the root the contract holds.
    let on_chain = anchor_on_chain(chain, &record).await;
    assert_eq!(on_chain.issuer, chain.account());
    assert_eq!(on_chain.leafCount, U256::from(1000));
    assert_eq!(on_chain.blockNumber, record.block_number);
    for (i, digest) in digests.iter().enumerate() {
        let proof = batch.proof(i).unwrap();
        assert!(proof.verify(digest, &record.root.0), "credential {i}");
    }
    // The issuer binds its chain account: a document signed by its did:key
    // naming the account, registered from that account.
    let binding = signer
        .sign_binding(
            chain.chain_id(),
            chain.account(),
            chain.registry(),
            chrono::Utc::now() - chrono::Duration::hours(1),
            None,
        )
        .await
        .unwrap();
    let canonicalizer = cairn_verifier::integrity::Canonicalizer::new(Contexts::standard());
    let bound = cairn_verifier::binding::verify_binding(&canonicalizer, &binding)
        .await
        .unwrap();
    assert_eq!(bound.issuer, key.identity.did);
    assert_eq!(bound.account, chain.account());
    assert_eq!(bound.chain_id, chain.chain_id());
    let miner = (depth > 1).then(|| keep_mining(chain));
    let registered = chain.register_binding(bound.hash).await.unwrap();
    assert_eq!(registered.sent.len(), 1);
    let again = chain.register_binding(bound.hash).await.unwrap();
    if let Some(m) = miner {
        m.abort();
    }
    assert!(again.sent.is_empty(), "registered once");
    assert_eq!(again.transaction, registered.transaction);
    let on_chain = call(
        chain.provider(),
        record.registry,
        CairnRegistry::bindingsCall {
            bindingHash: bound.hash.into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(on_chain.account, chain.account());
    let anchor_time =
        chrono::DateTime::from_timestamp(anchor_on_chain(chain, &record).await.timestamp as i64, 0)
            .unwrap();
    assert!(bound.covers(anchor_time));
    // A binding edited to name another account no longer verifies.
    let mut forged_binding = binding.clone();
    forged_binding["credentialSubject"]["id"] =
        cairn_verifier::binding::account_did(31337, Address::repeat_byte(0x11)).into();
    assert!(
        cairn_verifier::binding::verify_binding(&canonicalizer, &forged_binding)
            .await
            .is_err()
    );

    // Each credential carries its anchor proof; its digest, and so its
    // proof, is unchanged by it, and `cairn`'s verifier still accepts the
    // issuer's signature beside it.
    let verifier = cairn_verifier::verification::Verifier::new(Contexts::standard());
    for i in [0, 499, 999] {
        let anchored = with_anchor_proof(
            credentials[i].clone(),
            anchor_proof(&record, &batch.proof(i).unwrap(), &binding),
        );
        assert_eq!(anchored["proof"].as_array().unwrap().len(), 2);
        assert_eq!(credential_digest(&anchored).unwrap(), digests[i]);
        let report = verifier
            .verify(&serde_json::to_vec(&anchored).unwrap(), chrono::Utc::now())
            .await;
        assert_eq!(
            report.verdict,
            cairn_verifier::verification::Verdict::Valid,
            "{report:?}"
        );
        // Re-anchoring replaces the anchor proof rather than adding one.
        let again = with_anchor_proof(
            anchored,
            anchor_proof(&record, &batch.proof(i).unwrap(), &binding),
        );
        assert_eq!(again["proof"].as_array().unwrap().len(), 2);
    }

    // ... and a credential changed after sealing is not in the batch.
    let mut forged = credentials[7].clone();
    forged["name"] = "Brain Surgeon".into();
    assert!(!batch
        .proof(7)
        .unwrap()
        .verify(&credential_digest(&forged).unwrap(), &record.root.0));

    // Anchoring the same root again finds the anchor; nothing is sent.
    let again = chain.anchor(batch.root(), 1000).await.unwrap();
    assert!(again.sent.is_empty());
    assert_eq!(again.record, record);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_transaction_is_replaced_with_higher_fees() {
    let anvil = Anvil::start(&["--no-mining"]);
    let key = issuer();
    let chain = Arc::new(setup(&anvil, &key, fast(1)).await);
    let root = root_of(1, 0xaa);
    let task = tokio::spawn({
        let chain = chain.clone();
        async move { chain.anchor(root, 10).await }
    });
    // Nothing is mined: the anchorer replaces its transaction every 300 ms.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!task.is_finished());
    let _: serde_json::Value = rpc(&chain, "evm_mine", serde_json::json!([])).await;
    let Anchored { record, sent } = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(sent.len() >= 2, "replaced at least once: {sent:?}");
    assert_eq!(
        record.transaction,
        *sent.last().unwrap(),
        "the replacement was mined"
    );
    // The deployment had nonce 0; every replacement kept the anchor's, 1.
    assert_eq!(nonce_of(&chain, record.transaction).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorged_anchor_is_sent_again() {
    let anvil = Anvil::start(&[]);
    let key = issuer();
    let chain = setup(&anvil, &key, fast(1)).await;
    let snapshot: U256 = rpc(&chain, "evm_snapshot", serde_json::json!([])).await;
    let first = chain.anchor(root_of(2, 0xbb), 42).await.unwrap().record;

    // The block that held the anchor disappears, and other blocks take its
    // place at the same height.
    let reverted: bool = rpc(&chain, "evm_revert", serde_json::json!([snapshot])).await;
    assert!(reverted);
    let _: serde_json::Value = rpc(&chain, "anvil_mine", serde_json::json!(["0x3"])).await;
    let on_chain = anchor_on_chain(&chain, &first).await;
    assert_eq!(
        on_chain.issuer,
        Address::ZERO,
        "the reorg dropped the anchor"
    );

    let again = chain.recheck(&first).await.unwrap().expect("re-anchored");
    assert_eq!(again.sent.len(), 1);
    assert_eq!(again.record.root, first.root);
    assert_ne!(
        again.record.block_hash, first.block_hash,
        "the proofs' anchor changes"
    );
    assert_eq!(
        anchor_on_chain(&chain, &first).await.issuer,
        chain.account()
    );
    // A standing anchor needs nothing.
    assert!(chain.recheck(&again.record).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nonce_is_right_after_a_restart() {
    let anvil = Anvil::start(&["--no-mining"]);
    let key = issuer();
    let before = Arc::new(setup(&anvil, &key, fast(1)).await);

    // The node sends an anchor, then dies before it is mined.
    let root = root_of(3, 0xcc);
    let lost = tokio::spawn({
        let before = before.clone();
        async move { before.anchor(root, 5).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    lost.abort();

    // Restarted, it anchors the same root: whichever transaction lands, the
    // root is anchored once, and the record names the one that did.
    let after = Arc::new(
        RpcChain::connect(&anvil.url, key.account_key(), before.registry(), fast(1))
            .await
            .unwrap(),
    );
    let task = tokio::spawn({
        let after = after.clone();
        async move { after.anchor(root, 5).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _: serde_json::Value = rpc(&after, "evm_mine", serde_json::json!([])).await;
    let Anchored { record, sent } = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The restarted node saw its earlier transaction in the pool and sent
    // none of its own; the record names that one, nonce 1 (the deployment
    // had 0).
    assert!(sent.is_empty(), "sent {sent:?}");
    assert_eq!(nonce_of(&after, record.transaction).await, 1);

    // A new root after the restart takes the next free nonce.
    let task = tokio::spawn({
        let after = after.clone();
        async move { after.anchor(root_of(4, 0xdd), 5).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _: serde_json::Value = rpc(&after, "evm_mine", serde_json::json!([])).await;
    let next = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        nonce_of(&after, next.record.transaction).await,
        2,
        "no nonce skipped or reused"
    );
}

async fn nonce_of(chain: &RpcChain, tx: B256) -> u64 {
    use alloy::consensus::Transaction;
    chain
        .provider()
        .get_transaction_by_hash(tx)
        .await
        .unwrap()
        .expect("the transaction is known")
        .inner
        .nonce()
}

/// Serves a dev chain kept in `dir` on a free loopback port.
async fn serve_devchain(dir: &std::path::Path) -> (String, tokio::task::JoinHandle<()>) {
    let chain = DevChain::open(dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        cairn::devchain::serve(chain, listener).await.unwrap();
    });
    (url, server)
}

/// The same end-to-end anchoring on the embedded dev chain, which needs no
/// set-up (its faucet funds the issuer's account), and its anchors survive a
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_chain_anchors_and_keeps_its_anchors_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let key = issuer();
    let (url, server) = serve_devchain(dir.path()).await;
    let registry = RpcChain::deploy_registry(&url, key.account_key())
        .await
        .unwrap();
    let chain = RpcChain::connect(&url, key.account_key(), registry, fast(1))
        .await
        .unwrap();
    assert_eq!(chain.chain_id(), cairn::devchain::DEV_CHAIN_ID);
    a_thousand_credentials(&chain, &key, 1).await;
    let first = chain.anchor(root_of(5, 0xee), 9).await.unwrap().record;
    let head_before = chain.provider().get_block_number().await.unwrap();
    server.abort();
    let _ = server.await;

    // Restarted from its directory: same blocks, same anchors, and the next
    // transaction takes the next nonce.
    let (url, server) = serve_devchain(dir.path()).await;
    let chain = RpcChain::connect(&url, key.account_key(), registry, fast(1))
        .await
        .unwrap();
    assert_eq!(
        chain.provider().get_block_number().await.unwrap(),
        head_before
    );
    let again = chain.anchor(root_of(5, 0xee), 9).await.unwrap();
    assert!(again.sent.is_empty(), "found, not sent again");
    assert_eq!(again.record, first, "same transaction, block and hash");
    assert!(chain.recheck(&first).await.unwrap().is_none());
    let next = chain.anchor(root_of(6, 0xee), 9).await.unwrap();
    assert_eq!(next.sent.len(), 1);
    assert_eq!(next.record.block_number, head_before + 1);
    server.abort();
}
