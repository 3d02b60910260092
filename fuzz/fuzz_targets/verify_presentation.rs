//! Any bytes handed to `POST /presentations/verify` or `cairn verify` as a
//! presentation give a report, never a panic, and only a presentation whose
//! own checks and every credential's checks hold is called valid.
#![no_main]

use std::sync::LazyLock;

use cairn_verifier::context::Contexts;
use cairn_verifier::presentation::{verify_offline, PresentationOptions};
use cairn_verifier::verification::{Status, Verdict, Verifier};
use libfuzzer_sys::fuzz_target;

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| Verifier::new(Contexts::standard()));

fuzz_target!(|data: &[u8]| {
    // As in verify_credential: Cairn catches the JSON-LD library's panics;
    // any that escapes still ends the run.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Ok(vp) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let options = PresentationOptions {
        challenge: Some("c".into()),
        domain: None,
        holder_is_subject: true,
    };
    let report = rt.block_on(verify_offline(&VERIFIER, &vp, &options, now));
    if report.verdict == Verdict::Valid {
        let held = |s: Status| matches!(s, Status::Pass | Status::Absent);
        assert!(report.presentation.checks.iter().all(|c| held(c.status)));
        assert!(report
            .credentials
            .iter()
            .all(|r| r.checks.iter().all(|c| held(c.status))));
        // A challenge was asked: an unsigned presentation cannot hold.
        assert!(report
            .presentation
            .checks
            .iter()
            .any(|c| c.name == "challenge" && c.status == Status::Pass));
    }
});
