//! Interoperability: credentials issued by `cairn` must verify with an
//! independent implementation (Digital Bazaar's `@digitalbazaar/vc`, run by
//! `tests/interop/verify.mjs`), tampered ones must not, and the W3C's
//! published test vectors must verify in `cairn verify`.
//!
//! These tests need Node.js 20+ on PATH and the Node dependencies installed
//! (`npm ci --ignore-scripts` in the repository root). Without them they fail;
//! they never skip, so a green run always means the cross-check happened.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cairn_tests::*;
use serde_json::{json, Value};

/// What `verify.mjs` said about a list of files.
#[derive(Debug)]
struct NodeVerdicts {
    code: i32,
    /// One `{"file", "verified", "errors"}` object per file, in order.
    lines: Vec<Value>,
    stderr: String,
}

/// Runs `node tests/interop/verify.mjs FILE...` from the repository root.
#[track_caller]
fn digital_bazaar_verify(files: &[&Path]) -> NodeVerdicts {
    digital_bazaar_verify_with(&[], files)
}

/// Like [`digital_bazaar_verify`], with options before the files.
#[track_caller]
fn digital_bazaar_verify_with(options: &[String], files: &[&Path]) -> NodeVerdicts {
    let root = repo_root();
    let modules = root.join("node_modules");
    assert!(
        modules.is_dir(),
        "{} is missing: run `npm ci --ignore-scripts` in {} \
         (the interop tests need Digital Bazaar's verifier and never skip)",
        modules.display(),
        root.display()
    );
    let out = Command::new("node")
        .arg("tests/interop/verify.mjs")
        .args(options)
        .args(files)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `node` ({e}): the interop tests need Node.js 20+ on PATH")
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("node was killed by a signal: {stderr}"));
    match code {
        0 | 1 => {}
        3 => panic!(
            "verify.mjs cannot load its Node dependencies: run \
             `npm ci --ignore-scripts` in {}\n{stderr}",
            root.display()
        ),
        other => panic!("verify.mjs exited {other}\nstdout: {stdout}\nstderr: {stderr}"),
    }
    let lines: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("verify.mjs printed a non-JSON line ({e}): {l}"))
        })
        .collect();
    assert_eq!(
        lines.len(),
        files.len(),
        "one line per file expected\nstdout: {stdout}\nstderr: {stderr}"
    );
    for (line, file) in lines.iter().zip(files) {
        assert_eq!(line["file"], file.display().to_string(), "{line}");
    }
    NodeVerdicts {
        code,
        lines,
        stderr,
    }
}

#[track_caller]
fn assert_all_verified(v: &NodeVerdicts) {
    for line in &v.lines {
        assert_eq!(
            line["verified"], true,
            "Digital Bazaar rejects {}: {line:#}\nstderr: {}",
            line["file"], v.stderr
        );
    }
    assert_eq!(v.code, 0, "{v:#?}");
}

#[track_caller]
fn assert_none_verified(v: &NodeVerdicts) {
    for line in &v.lines {
        assert_eq!(
            line["verified"], false,
            "Digital Bazaar accepts a tampered credential {}: {line:#}",
            line["file"]
        );
        assert!(
            line["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "a rejection must say why: {line:#}"
        );
    }
    assert_eq!(v.code, 1, "{v:#?}");
}

/// Writes a copy of `cred` changed by `edit` to `dir/<name>.json`.
fn tampered(dir: &Path, name: &str, cred: &Value, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v = cred.clone();
    edit(&mut v);
    assert_ne!(&v, cred, "{name}: the edit changed nothing");
    let path = dir.join(format!("{name}.json"));
    write_json(&path, &v);
    path
}

#[test]
fn digital_bazaar_verifies_cairn_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let achievement = write_achievement(d);
    let (ed_key, ed_did) = new_key(d, "board");
    let (p256_key, p256_did) = new_key_of_type(d, "board-p256", "p256");
    assert!(p256_did.starts_with("did:key:zDn"), "{p256_did}");

    let to_did = issue_ok(d, &ed_key, &achievement, "did:example:123", "to-did", &[]);
    let to_email = issue_ok(
        d,
        &ed_key,
        &achievement,
        "jane.nurse@example.org",
        "to-email",
        &["--valid-until", "2099-12-31"],
    );
    let p256 = issue_ok(d, &p256_key, &achievement, "did:example:456", "p256", &[]);

    // Make sure each credential exercises what it is meant to.
    let c = read_json(&to_did);
    assert_eq!(c["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    assert_eq!(c["issuer"]["id"], ed_did.as_str());
    let names = c["credentialSubject"]["achievement"]["name"]
        .as_array()
        .expect("a multilingual name");
    let languages: Vec<&Value> = names.iter().map(|n| &n["@language"]).collect();
    assert_eq!(languages, [&json!("en"), &json!("fr")]);
    assert!(
        c["credentialSubject"]["achievement"]["alignment"].is_array(),
        "{c:#}"
    );
    let c = read_json(&to_email);
    let ident = &c["credentialSubject"]["identifier"][0];
    assert_eq!(ident["type"], "IdentityObject", "{c:#}");
    // A JSON boolean the OB context types as xsd:boolean: a classic source of
    // canonicalization mismatches between implementations.
    assert_eq!(ident["hashed"], true, "{c:#}");
    let c = read_json(&p256);
    assert_eq!(c["proof"]["cryptosuite"], "ecdsa-rdfc-2019");
    assert_eq!(c["issuer"]["id"], p256_did.as_str());

    let files = [to_did.as_path(), to_email.as_path(), p256.as_path()];
    assert_all_verified(&digital_bazaar_verify(&files));

    // And Cairn's own verifier agrees.
    let (code, report) = verify_json(&files, &[]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn digital_bazaar_rejects_tampered_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let achievement = write_achievement(d);
    let (key, _) = new_key(d, "board");
    let (_, other_did) = new_key(d, "impostor");
    let good_path = issue_ok(d, &key, &achievement, "did:example:123", "good", &[]);
    let good = read_json(&good_path);

    // The untouched credential verifies: the rejections below are about the
    // edits, not the environment.
    assert_all_verified(&digital_bazaar_verify(&[&good_path]));

    assert_eq!(
        good["credentialSubject"]["achievement"]["name"][0]["@value"],
        "Registered Nurse"
    );
    let renamed = tampered(d, "renamed", &good, |v| {
        v["credentialSubject"]["achievement"]["name"][0]["@value"] =
            json!("Registered Nurse Practitioner")
    });
    let other_subject = tampered(d, "other-subject", &good, |v| {
        v["credentialSubject"]["id"] = json!("did:example:456")
    });
    let other_issuer = tampered(d, "other-issuer", &good, |v| {
        v["issuer"]["id"] = json!(other_did)
    });
    let files = [
        renamed.as_path(),
        other_subject.as_path(),
        other_issuer.as_path(),
    ];
    assert_none_verified(&digital_bazaar_verify(&files));

    // Cairn rejects the same three, on the signature.
    let (code, report) = verify_json(&files, &[]);
    assert_eq!(code, 1, "{report:#}");
    for c in report["credentials"].as_array().unwrap() {
        assert_eq!(check_status(c, "signature"), "fail", "{c:#}");
    }
}

/// Changes the last character of one string claim of the credential subject
/// (other than its id, when there is one).
fn flip_subject_char(cred: &mut Value) {
    let subject = match &mut cred["credentialSubject"] {
        Value::Array(a) => &mut a[0],
        v => v,
    };
    let obj = subject
        .as_object_mut()
        .expect("credentialSubject is an object");
    let key = obj
        .iter()
        .find(|(k, v)| k.as_str() != "id" && v.as_str().is_some_and(|s| !s.is_empty()))
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| "id".to_owned());
    let mut chars: Vec<char> = obj[&key]
        .as_str()
        .expect("a string claim in credentialSubject")
        .chars()
        .collect();
    let last = chars.last_mut().expect("a non-empty claim");
    *last = if *last == 'x' { 'y' } else { 'x' };
    obj.insert(key, Value::String(chars.into_iter().collect()));
}

/// `cairn verify` on a W3C cryptosuite test vector: the signature must verify,
/// and must stop verifying when one character of a claim changes.
fn check_w3c_vector(file: &str, cryptosuite: &str) {
    let path = repo_root().join("tests/vectors/w3c").join(file);
    assert!(
        path.is_file(),
        "{} is missing (the W3C test vectors are part of the repository)",
        path.display()
    );
    let vector = read_json(&path);
    assert_eq!(vector["proof"]["cryptosuite"], cryptosuite, "{vector:#}");

    let (code, report) = verify_json(&[&path], &[]);
    let c = &report["credentials"][0];
    assert_eq!(check_status(c, "signature"), "pass", "{report:#}");
    // The vector is a generic VC 2.0 AlumniCredential, not an Open Badge: it
    // keeps VC 2.0's rules and gets no Open Badges check, but its issuer is
    // an https URL, not a did:key, so Cairn cannot tie the signing key to the
    // issuer offline. Cairn therefore calls it invalid as a whole, while the
    // signature itself (the part the vector exists to test) verifies.
    assert_eq!(check_status(c, "data-model"), "pass", "{report:#}");
    assert!(
        c["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["name"] != "open-badges"),
        "{report:#}"
    );
    assert_eq!(check_status(c, "issuer-key"), "fail", "{report:#}");
    assert_eq!(c["verdict"], "invalid", "{report:#}");
    assert_eq!(code, 1, "{report:#}");

    let dir = tempfile::tempdir().unwrap();
    let altered = tampered(dir.path(), "altered", &vector, flip_subject_char);
    let (code, report) = verify_json(&[&altered], &[]);
    let c = &report["credentials"][0];
    assert_eq!(check_status(c, "signature"), "fail", "{report:#}");
    assert_eq!(code, 1, "{report:#}");
}

#[test]
fn w3c_eddsa_rdfc_2022_vector_verifies() {
    check_w3c_vector("eddsa-rdfc-2022-signed.json", "eddsa-rdfc-2022");
}

#[test]
fn w3c_ecdsa_rdfc_2019_p256_vector_verifies() {
    check_w3c_vector("ecdsa-rdfc-2019-p256-signed.json", "ecdsa-rdfc-2019");
}

/// A credential carrying Cairn's anchor proof beside the issuer's proof still
/// verifies in Digital Bazaar's verifier, which does not know the anchor
/// proof's type; tampering is still caught.
#[test]
fn digital_bazaar_verifies_anchored_credentials() {
    use cairn_verifier::merkle::{credential_digest, Batch};
    use cairn_verifier::proof::{anchor_proof, with_anchor_proof, AnchorRecord};

    let Board {
        dir,
        key,
        achievement,
        ..
    } = Board::create();
    let d = dir.path();
    let cred = read_json(&issue_ok(
        d,
        &key,
        &achievement,
        "did:example:123",
        "cred",
        &[],
    ));
    let digest = credential_digest(&cred).unwrap();
    let batch = Batch::build(&[digest, [7; 32], [9; 32]]).unwrap();
    let record = AnchorRecord {
        chain: "eip155:31337".into(),
        registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
            .parse()
            .unwrap(),
        transaction: [1; 32].into(),
        block_number: 7,
        block_hash: [2; 32].into(),
        root: batch.root().into(),
        leaf_count: 3,
    };
    let issuer = cairn::key::IssuerKey::load(&key, PASSPHRASE).unwrap();
    let signer = cairn::issuer::Signer::new(
        &issuer,
        cairn_verifier::credential::IssuerProfile {
            id: issuer.identity.did.clone(),
            ..Default::default()
        },
        cairn_verifier::context::Contexts::standard(),
    );
    let binding = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(signer.sign_binding(
            31337,
            record.registry,
            record.registry,
            chrono::Utc::now(),
            None,
        ))
        .unwrap();
    let anchored = with_anchor_proof(
        cred,
        anchor_proof(&record, &batch.proof(0).unwrap(), &binding),
    );
    let path = d.join("anchored.json");
    write_json(&path, &anchored);
    assert_all_verified(&digital_bazaar_verify(&[&path]));

    let bad = tampered(d, "anchored-tampered", &anchored, |c| {
        c["credentialSubject"]["id"] = json!("did:example:456");
    });
    assert_none_verified(&digital_bazaar_verify(&[&bad]));
}

/// Digital Bazaar's `@digitalbazaar/vc-bitstring-status-list` reads the
/// status lists a node serves: the revoked credential's revocation bit and
/// the suspended one's suspension bit are set, every other bit clear, and
/// the lists' signatures verify as the issuer's.
#[test]
fn digital_bazaar_reads_cairn_status_lists() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &[], &[]);
    let token = node_token(&data);
    let http = reqwest::blocking::Client::new();
    let mut ids = Vec::new();
    let mut files = Vec::new();
    for i in 0..3 {
        let r: Value = http
            .post(format!("{}/credentials/issue", node.url))
            .bearer_auth(&token)
            .json(&json!({"credential": unsigned_credential(&format!("did:example:s{i}"))}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let vc = r["verifiableCredential"].clone();
        let entries = vc["credentialStatus"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["statusPurpose"], "revocation");
        assert_eq!(entries[1]["statusPurpose"], "suspension");
        ids.push(vc["id"].as_str().unwrap().to_owned());
        let path = dir.path().join(format!("s{i}.json"));
        write_json(&path, &vc);
        files.push(path);
    }
    let change = |id: &str, status: &str| {
        let r = http
            .post(format!("{}/credentials/status", node.url))
            .bearer_auth(&token)
            .json(&json!({"credentialId": id,
                "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status}]}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    change(&ids[1], "revoked");
    change(&ids[2], "suspended");
    let mut options = vec!["--status".to_owned()];
    for purpose in ["revocation", "suspension"] {
        let url = format!("{}/status-lists/{purpose}-1", node.url);
        let list = node.get_json(&format!("/status-lists/{purpose}-1"));
        assert_eq!(list["id"], url.as_str());
        let bits = cairn_verifier::statuslist::decode(
            list["credentialSubject"]["encodedList"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(bits.len() as u64 * 8, cairn_verifier::statuslist::LIST_SIZE);
        let path = dir.path().join(format!("{purpose}.json"));
        write_json(&path, &list);
        options.push("--context".into());
        options.push(format!("{url}={}", path.display()));
    }
    assert_eq!(
        node.get("/status-lists/revocation-2").status(),
        404,
        "no credential uses list 2"
    );
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let v = digital_bazaar_verify_with(&options, &paths);
    assert_all_verified(&v);
    let set = |line: &Value, purpose: &str| -> bool {
        line["statuses"]
            .as_array()
            .unwrap_or_else(|| panic!("no statuses: {line:#}"))
            .iter()
            .find(|s| s["purpose"] == purpose)
            .unwrap_or_else(|| panic!("no {purpose} status: {line:#}"))["set"]
            .as_bool()
            .unwrap_or_else(|| panic!("{purpose} not checked: {line:#}"))
    };
    assert_eq!(v.lines[0]["statusChecked"], true);
    assert!(!set(&v.lines[0], "revocation") && !set(&v.lines[0], "suspension"));
    assert!(set(&v.lines[1], "revocation") && !set(&v.lines[1], "suspension"));
    assert!(!set(&v.lines[2], "revocation") && set(&v.lines[2], "suspension"));
}

/// A VC 1.1 credential signed `Ed25519Signature2020` by Digital Bazaar's
/// stack (tests/interop/sign-2020.mjs), as the Learner Credential Wallet's
/// installed base holds them, verifies with every offline check; altered,
/// it fails its signature.
#[test]
fn a_vc_1_1_ed25519_signature_2020_credential_from_digital_bazaar_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("node")
        .arg(repo_root().join("tests/interop/sign-2020.mjs"))
        .arg("did:example:holder")
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed["proof"]["type"], "Ed25519Signature2020");
    let file = dir.path().join("vc11.json");
    write_json(&file, &signed);
    let (code, report) = verify_json(&[&file], &[]);
    let c = &report["credentials"][0];
    assert_eq!(code, 0, "{report:#}");
    for name in [
        "data-model",
        "contexts",
        "signature",
        "issuer-key",
        "proof-purpose",
        "validity",
    ] {
        assert_eq!(check_status(c, name), "pass", "{name}: {report:#}");
    }
    assert_eq!(check(c, "signature")["detail"], "Ed25519Signature2020");

    let mut altered = signed.clone();
    altered["expirationDate"] = json!("2100-01-01T00:00:00Z");
    write_json(&file, &altered);
    let (code, report) = verify_json(&[&file], &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(check_status(&report["credentials"][0], "signature"), "fail");

    // Expired by its VC 1.1 expirationDate.
    let (code, report) = verify_json(&[&file], &["--at", "2100-06-01"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(check_status(&report["credentials"][0], "validity"), "fail");
}

/// `node tests/interop/lcw-verify.mjs --clock-offset-seconds N FILE`: the
/// Learner Credential Wallet's own verifier (`@digitalcredentials/verifier-core`)
/// with its clock N seconds off the machine's.
fn learner_credential_wallet(file: &Path, offset: i64) -> Value {
    let out = std::process::Command::new("node")
        .current_dir(repo_root())
        .arg("tests/interop/lcw-verify.mjs")
        .args(["--clock-offset-seconds", &offset.to_string()])
        .arg(file)
        .output()
        .expect("node runs");
    assert_ne!(
        out.status.code(),
        Some(3),
        "lcw-verify.mjs cannot load its Node dependencies: run `npm ci --ignore-scripts`"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// A wallet whose clock is behind the node's never reads a status list as
/// "not yet valid" (which the Learner Credential Wallet shows as "Not
/// Verified" and "has been revoked"): lists are signed valid from well
/// before their signing. The wallet's own verifier, 2 s and 10 min behind,
/// reads a fresh list as it is: not revoked, then revoked, then suspended.
#[test]
fn the_learner_credential_wallet_reads_status_lists_with_its_clock_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &[], &[]);
    let token = node_token(&data);
    let http = reqwest::blocking::Client::new();
    // Earned last month: the credential itself is valid to any clock; what
    // is tried here is the status list, signed the moment it is read.
    let earned = |subject: &str| -> PathBuf {
        let mut c = unsigned_credential(subject);
        c["validFrom"] = json!("2026-11-01T00:00:00Z");
        let (status, r) = node.issue(&token, &c);
        assert_eq!(status, 201, "{r}");
        let path = dir
            .path()
            .join(format!("{}.json", subject.rsplit(':').next().unwrap()));
        write_json(&path, &r["verifiableCredential"]);
        path
    };
    let first = earned("did:example:lcw1");
    let second = earned("did:example:lcw2");
    for offset in [-2, -600, 0, 600] {
        let v = learner_credential_wallet(&first, offset);
        assert_eq!(v["verified"], true, "clock {offset:+} s: {v:#}");
        assert_eq!(v["notYetValid"], false, "clock {offset:+} s: {v:#}");
        assert_eq!(
            (&v["revoked"], &v["suspended"]),
            (&json!(false), &json!(false)),
            "{v:#}"
        );
    }
    let change = |file: &Path, status: &str| {
        let vc: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let r = http
            .post(format!("{}/credentials/status", node.url))
            .bearer_auth(&token)
            .json(&json!({"credentialId": vc["id"],
                "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status}]}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    };
    // A change makes the node sign a new version of the list on its next
    // read: that is the version a slow clock must still accept.
    change(&first, "revoked");
    change(&second, "suspended");
    for offset in [-2, -600] {
        let v = learner_credential_wallet(&first, offset);
        assert_eq!(
            (&v["verified"], &v["revoked"]),
            (&json!(false), &json!(true)),
            "{v:#}"
        );
        assert_eq!(v["notYetValid"], false, "clock {offset:+} s: {v:#}");
        let v = learner_credential_wallet(&second, offset);
        assert_eq!(
            (&v["verified"], &v["suspended"]),
            (&json!(false), &json!(true)),
            "{v:#}"
        );
        assert_eq!(v["notYetValid"], false, "clock {offset:+} s: {v:#}");
    }
}
