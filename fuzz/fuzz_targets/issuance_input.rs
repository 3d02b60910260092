//! What an issuer supplies to `cairn issue` (an achievement JSON, a recipient,
//! dates) is parsed and shaped into a credential, or refused with a field
//! named; never a panic, and whatever is built passes the shape check.
#![no_main]

use cairn_verifier::credential::{build, check_shape, parse_time, CredentialRequest, IssuerProfile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{0}');
    let (Some(recipient), Some(date), Some(achievement)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let _ = parse_time(date, true);
    let Ok(recipient) = recipient.parse() else {
        return;
    };
    let Ok(achievement) = serde_json::from_str(achievement) else {
        return;
    };
    let issuer = IssuerProfile {
        id: "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2".into(),
        ..Default::default()
    };
    let request = CredentialRequest {
        achievement,
        recipient,
        valid_from: None,
        valid_until: parse_time(date, true).ok(),
        evidence: None,
        extra_contexts: vec![],
        id: None,
    };
    if let Ok(vc) = build(&issuer, &request) {
        check_shape(&vc).expect("a built credential has the required shape");
    }
});
