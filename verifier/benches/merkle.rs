//! Building Merkle batches and serving inclusion proofs.
//!
//! `cargo bench -p cairn-verifier --bench merkle`

use cairn_verifier::merkle::{Batch, Hash};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sha2::{Digest, Sha256};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn digests(n: usize) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| Sha256::digest(i.to_be_bytes()).into())
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("build batch");
    g.sample_size(10);
    for n in [1_000usize, 100_000, 1_000_000] {
        let d = digests(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &d, |b, d| {
            b.iter(|| Batch::build(d).unwrap())
        });
    }
    g.finish();

    let n = 1_000_000;
    let d = digests(n);
    let batch = Batch::build(&d).unwrap();
    let root = batch.root();
    let mut g = c.benchmark_group("1M-leaf batch");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("proof", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            batch.proof(i).unwrap()
        })
    });
    let proofs: Vec<_> = (0..1024).map(|k| batch.proof(k * 977).unwrap()).collect();
    let mut k = 0usize;
    g.bench_function("verify proof", |b| {
        b.iter(|| {
            k = (k + 1) % proofs.len();
            assert!(proofs[k].verify(&d[k * 977], &root));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
