//! Sign and verify one Open Badges 3.0 credential (eddsa-rdfc-2022), on one
//! core and on every core.
//!
//! `cargo bench -p cairn-node --bench credentials`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn::issuer::Signer;
use cairn::key::{IssuerKey, SigningKeyType};
use cairn_verifier::context::Contexts;
use cairn_verifier::credential::{CredentialRequest, IssuerProfile};
use cairn_verifier::verification::{Verdict, Verifier};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

// As in the binaries: see cli/src/main.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One runtime per thread, as the CLI's workers keep: signing is CPU work.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn request(i: usize) -> CredentialRequest {
    CredentialRequest {
        achievement: json!({
            "id": "https://board.example/badges/rn",
            "type": ["Achievement"],
            "name": [{"@value": "Registered Nurse", "@language": "en"},
                     {"@value": "Infirmière autorisée", "@language": "fr"}],
            "description": "Licensed to practise as a registered nurse.",
            "criteria": {"narrative": "Passed the national licensing examination."},
            "tag": ["nursing", "licence"]
        }),
        recipient: format!("nurse{i}@example.org").parse().unwrap(),
        valid_from: None,
        valid_until: None,
        evidence: None,
        extra_contexts: vec![],
        id: None,
    }
}

fn new_signer(key: &IssuerKey) -> Signer {
    let profile = IssuerProfile {
        id: key.identity.did.clone(),
        name: key.identity.name.clone().map(Into::into),
        ..Default::default()
    };
    Signer::new(key, profile, Contexts::standard())
}

/// Runs `per_item` over `n` items on every core; returns the elapsed time.
fn on_all_cores(n: usize, per_item: impl Fn(&tokio::runtime::Runtime, usize) + Sync) -> Duration {
    let next = AtomicUsize::new(0);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                let rt = runtime();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    per_item(&rt, i);
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let key =
        IssuerKey::generate(Some("Board of Nursing".into()), SigningKeyType::Ed25519).unwrap();
    let signer = new_signer(&key);
    let verifier = Verifier::new(Contexts::standard());
    let rt = runtime();
    let req = request(0);
    let signed = serde_json::to_vec(&rt.block_on(signer.issue(&req)).unwrap()).unwrap();
    let now = chrono::Utc::now();
    assert_eq!(
        rt.block_on(verifier.verify(&signed, now)).verdict,
        Verdict::Valid
    );

    let mut g = c.benchmark_group("one core");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign", |b| {
        b.iter(|| rt.block_on(signer.issue(&req)).unwrap())
    });
    // A fresh signer processes the VC 2.0 and OB 3.0 contexts again, as every
    // credential would without the processed-context cache.
    g.bench_function("sign, contexts processed each time", |b| {
        b.iter(|| rt.block_on(new_signer(&key).issue(&req)).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| rt.block_on(verifier.verify(&signed, now)))
    });
    // As the node issues: with its two Bitstring Status List entries.
    let with_status = {
        let mut c = cairn_verifier::credential::build(signer.profile(), &req).unwrap();
        c["credentialStatus"] =
            cairn_verifier::statuslist::entries("https://node.example", 1, 4242);
        c
    };
    g.bench_function("sign with status entries", |b| {
        b.iter(|| rt.block_on(signer.sign(with_status.clone())).unwrap())
    });
    g.finish();

    // Throughput with every core busy, as the node and `cairn verify` run.
    const BATCH: usize = 256;
    let mut g = c.benchmark_group("all cores");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    g.bench_function("sign", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    on_all_cores(BATCH, |rt, i| {
                        rt.block_on(signer.issue(&request(i))).unwrap();
                    })
                })
                .sum()
        })
    });
    g.bench_function("verify", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    on_all_cores(BATCH, |rt, _| {
                        rt.block_on(verifier.verify(&signed, now));
                    })
                })
                .sum()
        })
    });
    g.finish();
}

/// Counting a reader's act (what every badge page view pays): an increment
/// under the counter's lock, for one of 1,000 credentials.
fn analytics(c: &mut Criterion) {
    let counter = cairn::analytics::Counter::default();
    let ids: Vec<String> = (0..1000).map(|i| format!("urn:uuid:{i:036}")).collect();
    let mut i = 0;
    let mut g = c.benchmark_group("analytics");
    g.throughput(Throughput::Elements(1));
    g.bench_function("count a page view", |b| {
        b.iter(|| {
            i = (i + 1) % ids.len();
            counter.count(
                cairn::analytics::Event::PageView,
                "3f1c6e2a-9b7d-4c1e-8f0a-2d5b6c7e8f90",
                Some(&ids[i]),
            );
        })
    });
    g.finish();
}

criterion_group!(benches, bench, analytics);
criterion_main!(benches);
