//! End-to-end tests of the `cairn` command line: `key new`, `key show`,
//! `issue` and `verify`, on their good and bad paths.
//!
//! Every test works in its own temporary directory. Unlocking a key file runs
//! scrypt, so each test makes at most the keys and credentials it needs and
//! runs several cases over one issued credential where it can.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use cairn_tests::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Every check `cairn verify` makes on a readable credential.
const ALL_CHECKS: [&str; 8] = [
    "json",
    "data-model",
    "open-badges",
    "contexts",
    "signature",
    "issuer-key",
    "proof-purpose",
    "validity",
];

/// The report of the only credential in a `cairn verify --json` report.
#[track_caller]
fn only_credential(report: &Value) -> &Value {
    let creds = report["credentials"]
        .as_array()
        .unwrap_or_else(|| panic!("no `credentials` array: {report:#}"));
    assert_eq!(creds.len(), 1, "{report:#}");
    &creds[0]
}

/// Verifies one file with `--json`; returns the exit code and that file's report.
#[track_caller]
fn verify_one(file: &Path, extra: &[&str]) -> (i32, Value) {
    let (code, report) = verify_json(&[file], extra);
    let cred = only_credential(&report).clone();
    assert_eq!(
        report["verdict"], cred["verdict"],
        "one file: the overall verdict is the file's"
    );
    (code, cred)
}

fn is_hex_address(s: &str) -> bool {
    s.len() == 42 && s.starts_with("0x") && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

/// Every object key in a JSON value, recursively.
fn all_keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                out.push(k.clone());
                all_keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| all_keys(v, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------- key new/show

#[test]
fn key_new_writes_a_private_file_and_key_show_reads_it_without_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("board.key");
    let r = run(cairn()
        .args(["key", "new", "--out"])
        .arg(&path)
        .args(["--name", ISSUER_NAME]))
    .success();

    let did = field(&r.stdout, "did").expect("a `did:` line");
    let address = field(&r.stdout, "address").expect("an `address:` line");
    assert!(did.starts_with("did:key:z6Mk"), "Ed25519 did:key: {did}");
    assert!(is_hex_address(&address), "0x and 40 hex digits: {address}");
    assert!(r.stdout.contains("eddsa-rdfc-2022"), "{r:#?}");

    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "key file mode is {:o}", mode & 0o777);

    // The file holds the public half in clear and the secrets only encrypted.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(PASSPHRASE),
        "the passphrase is in the key file"
    );
    assert!(
        !text.contains("\"kty\""),
        "a JWK is in the key file in clear: {text}"
    );
    let file: Value = serde_json::from_str(&text).expect("the key file is JSON");
    assert_eq!(file["did"], did.as_str());
    assert_eq!(file["address"], address.as_str());
    let mut keys = Vec::new();
    all_keys(&file, &mut keys);
    for key in &keys {
        let k = key.to_lowercase();
        let secret_looking = [
            "secret",
            "private",
            "seed",
            "mnemonic",
            "passphrase",
            "password",
        ]
        .iter()
        .any(|s| k.contains(s))
            || ["d", "jwk", "key", "account", "signing"].contains(&k.as_str());
        assert!(!secret_looking, "secret-looking field `{key}` in {text}");
    }
    assert!(keys.iter().any(|k| k == "ciphertext"), "{text}");

    // `key show` needs no passphrase and prints the same identity.
    let shown = run(cairn()
        .env_remove("CAIRN_PASSPHRASE")
        .args(["key", "show"])
        .arg(&path))
    .success();
    assert_eq!(field(&shown.stdout, "did").as_deref(), Some(did.as_str()));
    assert_eq!(
        field(&shown.stdout, "address").as_deref(),
        Some(address.as_str())
    );
    assert_eq!(
        field(&shown.stdout, "name").as_deref(),
        Some(ISSUER_NAME),
        "{shown:#?}"
    );

    let shown = run(cairn()
        .env_remove("CAIRN_PASSPHRASE")
        .args(["key", "show", "--json"])
        .arg(&path))
    .success()
    .json();
    assert_eq!(shown["did"], did.as_str());
    assert_eq!(shown["address"], address.as_str());
    assert!(
        shown["verificationMethod"]
            .as_str()
            .is_some_and(|vm| vm.starts_with(&format!("{did}#"))),
        "{shown:#}"
    );
    assert!(
        !shown.to_string().contains("ciphertext"),
        "`key show --json` prints only the public half: {shown:#}"
    );
}

#[test]
fn key_new_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = new_key(dir.path(), "board");
    let before = std::fs::read(&path).unwrap();

    let r = run(cairn().args(["key", "new", "--out"]).arg(&path));
    let line = r.one_line_error();
    assert!(line.contains("exists"), "{line}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the key file changed"
    );

    // Any other existing file is protected too.
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "keep me").unwrap();
    run(cairn().args(["key", "new", "--out"]).arg(&other)).one_line_error();
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me");
}

#[test]
fn key_new_p256_gives_a_p256_did_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p256.key");
    let r = run(cairn()
        .args(["key", "new", "--signing-key", "p256", "--out"])
        .arg(&path))
    .success();
    let did = field(&r.stdout, "did").expect("a `did:` line");
    assert!(did.starts_with("did:key:zDn"), "P-256 did:key: {did}");
    assert!(r.stdout.contains("ecdsa-rdfc-2019"), "{r:#?}");
    assert!(is_hex_address(&field(&r.stdout, "address").unwrap()));
}

#[test]
fn key_new_rejects_an_unknown_signing_key_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    let r = run(cairn()
        .args(["key", "new", "--signing-key", "rsa", "--out"])
        .arg(&path));
    assert_ne!(r.code, 0, "{r:#?}");
    assert!(!path.exists(), "a key file was written");
}

// ------------------------------------------------------ passphrases, key files

#[test]
fn wrong_passphrase_is_refused() {
    let Board {
        dir,
        key,
        achievement,
        ..
    } = Board::create();
    let out = dir.path().join("cred.json");
    let r = run(issue_command(&key, &achievement, "did:example:123")
        .env("CAIRN_PASSPHRASE", "not the passphrase")
        .arg("--out")
        .arg(&out));
    let line = r.one_line_error();
    assert!(line.contains("wrong passphrase"), "{line}");
    assert!(!out.exists(), "a credential was written");
}

#[test]
fn damaged_or_foreign_key_files_are_refused() {
    let Board {
        dir,
        key,
        achievement,
        ..
    } = Board::create();
    let text = std::fs::read(&key).unwrap();

    // Half a key file.
    let truncated = dir.path().join("truncated.key");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let r = issue(
        &truncated,
        &achievement,
        "did:example:123",
        &dir.path().join("c1.json"),
        &[],
    );
    let line = r.one_line_error();
    assert!(line.contains("truncated.key"), "names the file: {line}");

    // Foreign files: other JSON, and bytes that are not text at all.
    let json_file = dir.path().join("hello.json");
    std::fs::write(&json_file, r#"{"hello":1}"#).unwrap();
    let binary = dir.path().join("random.bin");
    std::fs::write(
        &binary,
        (0..512u32).map(|i| (i * 37 + 11) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    for foreign in [&json_file, &binary] {
        let r = issue(
            foreign,
            &achievement,
            "did:example:123",
            &dir.path().join("c2.json"),
            &[],
        );
        let line = r.one_line_error();
        assert!(line.contains("not a Cairn issuer key file"), "{line}");
        // `key show` refuses it the same way, without a passphrase.
        let r = run(cairn()
            .env_remove("CAIRN_PASSPHRASE")
            .args(["key", "show"])
            .arg(foreign));
        let line = r.one_line_error();
        assert!(line.contains("not a Cairn issuer key file"), "{line}");
    }

    // An edited public half (the name is authenticated with the secrets).
    let edited = dir.path().join("edited.key");
    let s = String::from_utf8(text.clone()).unwrap();
    assert!(s.contains(ISSUER_NAME));
    std::fs::write(&edited, s.replace(ISSUER_NAME, "Board of Nursing Inc")).unwrap();
    let r = issue(
        &edited,
        &achievement,
        "did:example:123",
        &dir.path().join("c3.json"),
        &[],
    );
    let line = r.one_line_error();
    assert!(line.contains("altered"), "{line}");

    // A missing key file.
    let r = issue(
        &dir.path().join("nowhere.key"),
        &achievement,
        "did:example:123",
        &dir.path().join("c4.json"),
        &[],
    );
    let line = r.one_line_error();
    assert!(line.contains("nowhere.key"), "{line}");

    for n in 1..=4 {
        assert!(!dir.path().join(format!("c{n}.json")).exists());
    }
}

#[test]
fn missing_passphrase_without_a_terminal_is_refused() {
    let Board {
        dir,
        key,
        achievement,
        ..
    } = Board::create();
    let out = dir.path().join("cred.json");

    let r = run(issue_command(&key, &achievement, "did:example:123")
        .env_remove("CAIRN_PASSPHRASE")
        .stdin(Stdio::null())
        .arg("--out")
        .arg(&out));
    let line = r.one_line_error();
    assert!(line.contains("CAIRN_PASSPHRASE"), "{line}");
    assert!(!out.exists());

    let new = dir.path().join("new.key");
    let r = run(cairn()
        .env_remove("CAIRN_PASSPHRASE")
        .stdin(Stdio::null())
        .args(["key", "new", "--out"])
        .arg(&new));
    let line = r.one_line_error();
    assert!(line.contains("CAIRN_PASSPHRASE"), "{line}");
    assert!(!new.exists(), "a key file was written without a passphrase");
}

// ------------------------------------------------------------- issue + verify

#[test]
fn issue_to_a_did_and_verify() {
    let Board {
        dir,
        key,
        did,
        achievement,
    } = Board::create();
    let cred_path = issue_ok(
        dir.path(),
        &key,
        &achievement,
        "did:example:123",
        "cred",
        &["--valid-until", "2099-12-31"],
    );

    let cred = read_json(&cred_path);
    assert_eq!(cred["validUntil"], "2099-12-31T23:59:59Z");
    assert_eq!(cred["credentialSubject"]["id"], "did:example:123");
    assert_eq!(cred["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    assert_eq!(cred["proof"]["proofPurpose"], "assertionMethod");
    assert_eq!(cred["issuer"]["id"], did.as_str());
    assert_eq!(cred["issuer"]["name"], ISSUER_NAME);
    assert!(
        cred["proof"]["verificationMethod"]
            .as_str()
            .is_some_and(|vm| vm.starts_with(&format!("{did}#"))),
        "{cred:#}"
    );
    // The achievement is carried whole, languages included.
    assert_eq!(
        cred["credentialSubject"]["achievement"],
        achievement_json(),
        "the achievement changed on the way into the credential"
    );
    let types = cred["type"].as_array().unwrap();
    assert!(types.contains(&json!("VerifiableCredential")));
    assert!(types.contains(&json!("OpenBadgeCredential")));

    // Human output.
    let r = run(cairn().arg("verify").arg(&cred_path)).success();
    assert!(
        r.stdout.contains("VALID") && !r.stdout.contains("INVALID"),
        "{r:#?}"
    );

    // JSON output.
    let (code, report) = verify_json(&[&cred_path], &[]);
    assert_eq!(code, 0, "{report:#}");
    let top: Vec<&String> = report.as_object().unwrap().keys().collect();
    assert_eq!(top.len(), 2, "top-level keys: {top:?}");
    assert_eq!(report["verdict"], "valid");
    let c = only_credential(&report);
    assert_eq!(c["file"], cred_path.display().to_string());
    assert_eq!(c["verdict"], "valid");
    if let Some(issuer) = c.get("issuer") {
        assert_eq!(issuer, &json!(did));
    }
    for check in c["checks"].as_array().unwrap() {
        assert!(check["name"].is_string(), "{check}");
        assert!(
            ["pass", "fail", "could-not-check"].contains(&check["status"].as_str().unwrap_or("")),
            "{check}"
        );
        if let Some(detail) = check.get("detail") {
            assert!(detail.is_string(), "{check}");
        }
    }
    for name in ALL_CHECKS {
        assert_eq!(check_status(c, name), "pass", "{c:#}");
    }
}

#[test]
fn issue_to_an_email_publishes_only_a_salted_hash() {
    let Board {
        dir,
        key,
        achievement,
        ..
    } = Board::create();
    let email = "Jane.Nurse@Example.org";

    // No --out: the credential goes to stdout.
    let r = run(&mut issue_command(&key, &achievement, email)).success();
    for out in [&r.stdout, &r.stderr] {
        assert!(
            !out.to_lowercase().contains(&email.to_lowercase()),
            "the email address is in the output: {r:#?}"
        );
    }
    let cred = r.json();
    let subject = &cred["credentialSubject"];
    assert!(subject.get("id").is_none(), "{subject:#}");
    let ident = &subject["identifier"][0];
    assert_eq!(ident["hashed"], true, "{ident:#}");
    assert_eq!(ident["identityType"], "emailAddress", "{ident:#}");
    let hash = ident["identityHash"].as_str().expect("identityHash");
    assert!(hash.starts_with("sha256$"), "{hash}");
    let salt = ident["salt"].as_str().expect("salt");
    assert!(!salt.is_empty());
    // OB 3.0: sha256$ + hex SHA-256 of the (normalized) address then the salt.
    let expected: String = Sha256::digest(format!("{}{salt}", email.to_lowercase()))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hash, format!("sha256${expected}"));

    let path = dir.path().join("cred.json");
    std::fs::write(&path, &r.stdout).unwrap();
    let (code, c) = verify_one(&path, &[]);
    assert_eq!(code, 0, "{c:#}");
}

#[test]
fn issue_rejects_bad_arguments() {
    let Board {
        dir,
        key,
        achievement,
        ..
    } = Board::create();
    let out = dir.path().join("cred.json");

    let line = issue(&key, &achievement, "not-an-id", &out, &[])
        .one_line_error()
        .to_owned();
    assert!(line.contains("recipient"), "{line}");

    let malformed = dir.path().join("broken-badge.json");
    std::fs::write(&malformed, r#"{"id": "https://board.example/b", "name": "#).unwrap();
    let line = issue(&key, &malformed, "did:example:123", &out, &[])
        .one_line_error()
        .to_owned();
    assert!(line.contains("broken-badge.json"), "{line}");

    let line = issue(
        &key,
        &achievement,
        "did:example:123",
        &out,
        &["--valid-until", "31/12/2027"],
    )
    .one_line_error()
    .to_owned();
    assert!(line.contains("--valid-until"), "{line}");
    assert!(!out.exists());

    // An existing --out is never overwritten.
    std::fs::write(&out, "precious").unwrap();
    let line = issue(&key, &achievement, "did:example:123", &out, &[])
        .one_line_error()
        .to_owned();
    assert!(line.contains("exists"), "{line}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
}

#[test]
fn issue_rejects_incomplete_or_undefined_achievements() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = new_key(dir.path(), "board");

    let mut no_criteria = achievement_json();
    no_criteria.as_object_mut().unwrap().remove("criteria");
    let path = dir.path().join("no-criteria.json");
    write_json(&path, &no_criteria);
    let out = dir.path().join("c1.json");
    let r = issue(&key, &path, "did:example:123", &out, &[]);
    let line = r.one_line_error();
    assert!(line.contains("achievement.criteria"), "{line}");
    assert!(!out.exists());

    let mut undefined = achievement_json();
    undefined["favouriteColour"] = json!("blue");
    let path = dir.path().join("undefined-term.json");
    write_json(&path, &undefined);
    let out = dir.path().join("c2.json");
    let r = issue(&key, &path, "did:example:123", &out, &[]);
    let line = r.one_line_error();
    assert!(line.contains("favouriteColour"), "{line}");
    assert!(!out.exists());
}

#[test]
fn extension_context_is_needed_to_issue_and_to_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = new_key(dir.path(), "board");
    let url = "https://board.example/ctx/v1";
    let ctx_path = dir.path().join("board-context.json");
    write_json(
        &ctx_path,
        &json!({"@context": {"boardCode": "https://board.example/ns#boardCode"}}),
    );
    let spec = format!("{url}={}", ctx_path.display());
    let mut a = achievement_json();
    a["boardCode"] = json!("RN-7");
    let achievement = dir.path().join("achievement.json");
    write_json(&achievement, &a);

    let cred_path = issue_ok(
        dir.path(),
        &key,
        &achievement,
        "did:example:123",
        "cred",
        &["--context", &spec],
    );
    let cred = read_json(&cred_path);
    let contexts = cred["@context"].as_array().expect("@context array");
    assert_eq!(contexts.last(), Some(&json!(url)), "{cred:#}");
    assert_eq!(
        cred["credentialSubject"]["achievement"]["boardCode"],
        "RN-7"
    );

    // Without the context Cairn cannot know the term: it never fetches.
    let (code, c) = verify_one(&cred_path, &[]);
    assert_eq!(code, 1, "{c:#}");
    assert_eq!(check_status(&c, "contexts"), "fail", "{c:#}");
    let detail = check(&c, "contexts")["detail"].as_str().unwrap_or("");
    assert!(detail.contains(url), "the failure names the context: {c:#}");

    let (code, c) = verify_one(&cred_path, &["--context", &spec]);
    assert_eq!(code, 0, "{c:#}");
    for name in ALL_CHECKS {
        assert_eq!(check_status(&c, name), "pass", "{c:#}");
    }
}

// ------------------------------------------------------------ verify failures

#[test]
fn verify_names_the_failing_check_of_altered_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, did) = new_key(d, "board");
    let (_, other_did) = new_key(d, "impostor");
    let achievement = write_achievement(d);
    let good_path = issue_ok(d, &key, &achievement, "did:example:123", "good", &[]);
    let good = read_json(&good_path);
    let (code, c) = verify_one(&good_path, &[]);
    assert_eq!(code, 0, "the untouched credential must verify: {c:#}");

    let variant = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        edit(&mut v);
        assert_ne!(v, good, "{name}: the edit changed nothing");
        let path = d.join(format!("{name}.json"));
        write_json(&path, &v);
        path
    };

    // A changed achievement name: the signature no longer covers it.
    assert_eq!(
        good["credentialSubject"]["achievement"]["name"][0]["@value"],
        "Registered Nurse"
    );
    let renamed = variant("renamed", &|v: &mut Value| {
        v["credentialSubject"]["achievement"]["name"][0]["@value"] =
            json!("Registered Nurse Practitioner")
    });
    let (code, c) = verify_one(&renamed, &[]);
    assert_eq!(code, 1, "{c:#}");
    assert_eq!(c["verdict"], "invalid");
    assert_eq!(check_status(&c, "signature"), "fail", "{c:#}");
    assert_eq!(check_status(&c, "issuer-key"), "pass", "{c:#}");

    // Another issuer claimed: the signature breaks and the key is not the issuer's.
    let swapped = variant("swapped-issuer", &|v: &mut Value| {
        v["issuer"]["id"] = json!(other_did.as_str())
    });
    let (code, c) = verify_one(&swapped, &[]);
    assert_eq!(code, 1, "{c:#}");
    assert_eq!(check_status(&c, "signature"), "fail", "{c:#}");
    assert_eq!(check_status(&c, "issuer-key"), "fail", "{c:#}");
    if let Some(issuer) = c.get("issuer") {
        assert_eq!(issuer, &json!(other_did));
    }
    assert_ne!(did, other_did);

    // No proof at all.
    let unsigned = variant("unsigned", &|v: &mut Value| {
        v.as_object_mut().unwrap().remove("proof");
    });
    let (code, c) = verify_one(&unsigned, &[]);
    assert_eq!(code, 1, "{c:#}");
    assert_eq!(check_status(&c, "signature"), "fail", "{c:#}");
    assert_eq!(check_status(&c, "open-badges"), "pass", "{c:#}");

    // A proof made for another purpose.
    let purpose = variant("authentication", &|v: &mut Value| {
        v["proof"]["proofPurpose"] = json!("authentication")
    });
    let (code, c) = verify_one(&purpose, &[]);
    assert_eq!(code, 1, "{c:#}");
    assert_eq!(check_status(&c, "proof-purpose"), "fail", "{c:#}");

    // Several files, one good: exit 1, each reported, in the order given.
    let malformed = d.join("malformed.json");
    std::fs::write(&malformed, "{\"@context\": [").unwrap();
    let missing = d.join("missing.json");
    let files = [&good_path, &renamed, &malformed, &missing, &swapped];
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (code, report) = verify_json(&paths, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["verdict"], "invalid");
    let creds = report["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), files.len(), "{report:#}");
    for (c, file) in creds.iter().zip(files) {
        assert_eq!(c["file"], file.display().to_string(), "{report:#}");
    }
    let verdicts: Vec<&str> = creds
        .iter()
        .map(|c| c["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["valid", "invalid", "invalid", "invalid", "invalid"],
        "{report:#}"
    );

    // The human report also lists every file, in order.
    let r = run(cairn().arg("verify").args(&paths));
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(!r.stderr.contains("panicked"), "{r:#?}");
    let positions: Vec<usize> = files
        .iter()
        .map(|f| {
            r.stdout
                .find(&f.display().to_string())
                .unwrap_or_else(|| panic!("{} not in the report: {r:#?}", f.display()))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{r:#?}");
}

#[test]
fn verify_checks_the_validity_period() {
    let Board {
        dir,
        key,
        achievement,
        ..
    } = Board::create();
    let path = issue_ok(
        dir.path(),
        &key,
        &achievement,
        "did:example:123",
        "expired",
        &["--valid-from", "2020-01-01", "--valid-until", "2020-12-31"],
    );
    let cred = read_json(&path);
    assert_eq!(cred["validFrom"], "2020-01-01T00:00:00Z");
    assert_eq!(cred["validUntil"], "2020-12-31T23:59:59Z");

    let (code, c) = verify_one(&path, &[]);
    assert_eq!(code, 1, "expired today: {c:#}");
    assert_eq!(check_status(&c, "validity"), "fail", "{c:#}");
    assert_eq!(check_status(&c, "signature"), "pass", "{c:#}");

    let (code, c) = verify_one(&path, &["--at", "2020-06-01"]);
    assert_eq!(code, 0, "valid within its period: {c:#}");
    assert_eq!(check_status(&c, "validity"), "pass", "{c:#}");

    let (code, c) = verify_one(&path, &["--at", "2019-06-01"]);
    assert_eq!(code, 1, "not yet valid: {c:#}");
    assert_eq!(check_status(&c, "validity"), "fail", "{c:#}");
}

#[test]
fn verify_reports_unreadable_files_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let malformed = d.join("malformed.json");
    std::fs::write(
        &malformed,
        "{\"@context\": [\"https://www.w3.org/ns/credentials/v2\",",
    )
    .unwrap();
    let array = d.join("array.json");
    std::fs::write(&array, "[{\"id\": \"urn:x\"}]").unwrap();
    let binary = d.join("binary.json");
    std::fs::write(&binary, b"\xff\xfe\x00\x81\x7b").unwrap();
    let empty = d.join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let missing = d.join("does-not-exist.json");

    for file in [&malformed, &array, &binary, &empty, &missing] {
        let r = run(cairn().args(["verify", "--json"]).arg(file));
        assert_eq!(r.code, 1, "{}: {r:#?}", file.display());
        assert!(!r.stderr.contains("panicked"), "{r:#?}");
        let report = r.json();
        let c = only_credential(&report);
        assert_eq!(c["file"], file.display().to_string());
        assert_eq!(c["verdict"], "invalid", "{report:#}");
        assert_eq!(check_status(c, "json"), "fail", "{report:#}");

        let r = run(cairn().arg("verify").arg(file));
        assert_eq!(r.code, 1, "{r:#?}");
        assert!(!r.stderr.contains("panicked"), "{r:#?}");
    }
}

#[test]
fn verify_without_files_is_a_usage_error() {
    let r = run(cairn().arg("verify"));
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(!r.stderr.is_empty(), "{r:#?}");
    let r = run(cairn().args(["verify", "--json"]));
    assert_eq!(r.code, 2, "{r:#?}");
}

/// `cairn issue --credential FILE --key K` signs any whole VC 2.0
/// credential, naming the issuer as the kind of credential wants (a DID for
/// a licence, an OB Profile for a badge), and refuses one naming another
/// issuer in one line.
#[test]
fn issue_signs_a_whole_credential() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = new_key(dir.path(), "board");
    let licence = dir.path().join("licence.json");
    write_json(
        &licence,
        &json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "name": "Licence to practise",
            "credentialSubject": {"id": "did:example:licensee"}
        }),
    );
    let out = dir.path().join("signed.json");
    run(cairn()
        .args(["issue", "--credential"])
        .arg(&licence)
        .arg("--key")
        .arg(&key)
        .arg("--out")
        .arg(&out))
    .success();
    let signed = read_json(&out);
    assert_eq!(signed["issuer"]["name"], ISSUER_NAME, "{signed:#}");
    assert!(signed["issuer"].get("type").is_none(), "{signed:#}");
    assert!(signed["id"].as_str().unwrap().starts_with("urn:uuid:"));
    let (code, report) = verify_one(&out, &[]);
    assert_eq!(
        (code, &report["verdict"]),
        (0, &json!("valid")),
        "{report:#}"
    );

    let badge = dir.path().join("badge.json");
    write_json(&badge, &unsigned_credential("did:example:nurse"));
    let r = run(cairn()
        .args(["issue", "--credential"])
        .arg(&badge)
        .arg("--key")
        .arg(&key))
    .success();
    let signed: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(signed["issuer"]["type"], json!(["Profile"]), "{signed:#}");

    let mut foreign = read_json(&licence);
    foreign["issuer"] = json!("did:example:someone-else");
    write_json(&licence, &foreign);
    let r = run(cairn()
        .args(["issue", "--credential"])
        .arg(&licence)
        .arg("--key")
        .arg(&key));
    assert!(r.one_line_error().contains("issuer"), "{r:#?}");
}
