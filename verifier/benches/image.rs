//! Baking badges: what `GET /credentials/{id}/badge.png|svg` costs per
//! request (the class image decoded once more to check it, then the chunk or
//! element spliced in), and reading a baked badge back (`cairn verify
//! badge.png`).
//!
//! `cargo bench -p cairn-verifier --bench image`

use cairn_verifier::image;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A badge-sized RGBA PNG with some texture, so it compresses like a
/// drawing rather than a flat colour.
fn png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = (0..side * side * 4)
        .map(|i| ((i / 4 % side) ^ (i / 4 / side)) as u8)
        .collect();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

fn svg() -> Vec<u8> {
    let mut s =
        String::from("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"512\" height=\"512\">");
    for i in 0..200 {
        s += &format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"9\" fill=\"#1d5c8f\"/>",
            i * 2,
            i
        );
    }
    s += "</svg>";
    s.into_bytes()
}

/// About the size of an anchored OB 3.0 credential (3 KB).
fn credential() -> serde_json::Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
        "id": "urn:uuid:0b0e5f8c-3c1e-4f57-9d43-1a2b3c4d5e6f",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Licensed Electrician {Class A} ®",
        "description": "x".repeat(1500),
        "credentialSubject": {"id": "did:example:ana", "name": "Ana Núñez 🎓"},
        "proof": [{"type": "DataIntegrityProof", "proofValue": "z".repeat(88)}, {"type": "CairnAnchor", "path": vec!["ab".repeat(32); 14]}]
    })
}

fn bench(c: &mut Criterion) {
    let vc = credential();
    let mut g = c.benchmark_group("bake");
    for side in [256u32, 600] {
        let image = png(side);
        g.bench_with_input(BenchmarkId::new("png", side), &image, |b, i| {
            b.iter(|| image::bake(i, &vc).unwrap())
        });
        // What the node does: its class images were checked on upload.
        g.bench_with_input(BenchmarkId::new("png checked", side), &image, |b, i| {
            b.iter(|| image::bake_checked(i, &vc).unwrap())
        });
    }
    let s = svg();
    g.bench_function("svg", |b| b.iter(|| image::bake(&s, &vc).unwrap()));
    g.finish();

    let mut g = c.benchmark_group("unbake");
    let baked = image::bake(&png(600), &vc).unwrap();
    g.bench_function("png 600", |b| b.iter(|| image::unbake(&baked).unwrap()));
    let baked = image::bake(&s, &vc).unwrap();
    g.bench_function("svg", |b| b.iter(|| image::unbake(&baked).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
