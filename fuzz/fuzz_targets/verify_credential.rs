//! Any bytes handed to `cairn verify` (or, later, `POST /credentials/verify`)
//! give a report, never a panic, and only a well-formed credential whose every
//! check passes is called valid.
#![no_main]

use std::sync::LazyLock;

use cairn_verifier::context::Contexts;
use cairn_verifier::verification::{Status, Verdict, Verifier};
use libfuzzer_sys::fuzz_target;

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| Verifier::new(Contexts::standard()));

fuzz_target!(|data: &[u8]| {
    // The JSON-LD library panics on some input (IRIs whose percent-encoding
    // is not UTF-8); Cairn catches that and reports a bad document. A
    // silent hook lets it: a panic that escapes still ends the run, as
    // libfuzzer-sys catches the unwind and aborts.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let report = rt.block_on(VERIFIER.verify(data, now));
    if report.verdict == Verdict::Valid {
        assert!(report.checks.iter().all(|c| c.status == Status::Pass));
    }
});
