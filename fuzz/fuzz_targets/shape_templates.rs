//! Shape templates never change a canonical form: for two JSON documents,
//! the second canonicalized after the first made its shape's template (so a
//! template made from one document is filled with another's strings), the
//! canonical N-Quads equal full canonicalization's, or both paths fail.
//! Input: the two documents, separated by a NUL byte.
#![no_main]

use cairn_verifier::context::Contexts;
use cairn_verifier::integrity::{Canonicalizer, Terms};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // See verify_credential: Cairn catches the JSON-LD library's panics.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Some(split) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let parse = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
    let (Some(a), Some(b)) = (parse(&data[..split]), parse(&data[split + 1..])) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let canon = Canonicalizer::new(Contexts::standard());
    for doc in [&a, &b] {
        for terms in [Terms::Check, Terms::Allow] {
            let fast = rt.block_on(canon.canonical_nquads(doc, terms));
            let full = rt.block_on(canon.canonical_nquads_untemplated(doc, terms));
            match (fast, full) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{terms:?} {doc}"),
                (Err(_), Err(_)) => {}
                (x, y) => panic!("{x:?} but {y:?} for {terms:?} {doc}"),
            }
        }
    }
});
