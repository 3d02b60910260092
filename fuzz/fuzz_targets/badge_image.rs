//! A badge image is outside input twice over: an issuer's upload (checked
//! before a class keeps it) and a baked badge anyone hands to `cairn
//! verify`. Checking, unbaking and baking give a typed error, never a panic;
//! an image that passes the check bakes, and the credential comes back out.
#![no_main]

use cairn_verifier::image;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = image::unbake(data);
    if image::check(data).is_ok() {
        let credential = serde_json::json!({"name": "{fuzz} ]]> é 🎓"});
        let baked = image::bake(data, &credential).expect("a checked image bakes");
        assert_eq!(image::unbake(&baked).expect("and unbakes"), credential);
    } else {
        let _ = image::bake(data, &serde_json::json!({}));
    }
});
