//! The proof of independence: credentials issued and anchored by a node on
//! anvil, one revoked and one suspended, then the node stopped and its data
//! directory deleted. `cairn verify` with only the credential files and
//! anvil's RPC tells valid from revoked from suspended, and fails every
//! forgery: an anchor sent by an account the issuer never bound, a signature
//! by a key that is not the issuer's, an altered Merkle path, a root that was
//! never anchored; it cannot vouch for an anchor short of its depth, and it
//! refuses to choose between chain nodes that disagree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn::key::IssuerKey;
use cairn_tests::{
    cairn, check, check_status, connect_chain, deploy, encode, node_token, run, start_on_anvil,
    unsigned_credential, wait_status_confirmed, Anvil, Forgeries,
};
use cairn_verifier::context::Contexts;
use cairn_verifier::integrity::Canonicalizer;
use serde_json::{json, Value};

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

/// `cairn verify --json --rpc-url ...` on files: (exit code, per-file reports).
fn verify(files: &[&Path], extra: &[&str]) -> (i32, Vec<Value>) {
    let r = run(cairn().args(["verify", "--json"]).args(extra).args(files));
    assert!(!r.stderr.contains("panicked"), "{r:#?}");
    let report = r.json();
    (r.code, report["credentials"].as_array().unwrap().clone())
}

#[test]
fn credentials_stand_and_fall_with_their_issuer_gone() {
    let anvil = Anvil::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (key, registry, account) = deploy(&anvil, dir.path());
    let data = dir.path().join("node");
    let node = start_on_anvil(&data, &anvil, &key, &registry, &[]);
    let token = node_token(&data);
    // Five badges, the fifth dated long before its issuance, and a sixth
    // credential that is no badge, only VC 2.0.
    let mut body = String::new();
    for i in 0..6 {
        let mut c = unsigned_credential(&format!("did:example:nurse{i}"));
        if i == 4 {
            c["validFrom"] = json!("2024-01-01T00:00:00Z");
        }
        if i == 5 {
            c = json!({
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "name": "Licence to practise",
                "credentialSubject": {"id": "did:example:licensee"}
            });
        }
        body += &(json!({ "credential": c }).to_string() + "\n");
    }
    let lines = node.bulk(&token, None, body);
    let ids: Vec<String> = lines[..6]
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &ids {
        node.wait_anchored(id, Duration::from_secs(60));
    }
    // Revoke one, suspend one, suspend and reinstate a third, through the CLI.
    let nonce = || {
        let n = anvil.rpc("eth_getTransactionCount", json!([account, "latest"]));
        u64::from_str_radix(n.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    let before = nonce();
    let cli = |cmd: &str, id: &str| {
        run(cairn()
            .args([cmd, "--node", &node.url, id, "--reason", "test"])
            .env("CAIRN_TOKEN", &token))
        .success()
    };
    cli("revoke", &ids[1]);
    cli("suspend", &ids[2]);
    cli("suspend", &ids[3]);
    wait_status_confirmed(&node, &ids[3], "suspended");
    cli("reinstate", &ids[3]);
    wait_status_confirmed(&node, &ids[1], "revoked");
    wait_status_confirmed(&node, &ids[2], "suspended");
    wait_status_confirmed(&node, &ids[3], "active");
    // One transaction per status change at most (the two suspensions may
    // share one): a change the writer sent is recognized when it is mined,
    // not sent again and again.
    let sent = nonce() - before;
    assert!(
        (3..=4).contains(&sent),
        "{sent} transactions for 4 status changes"
    );
    // Revocation is final, at the node too.
    let r = run(cairn()
        .args(["reinstate", "--node", &node.url, &ids[1]])
        .env("CAIRN_TOKEN", &token));
    assert!(r.one_line_error().contains("409"), "{r:#?}");

    let files: Vec<PathBuf> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            write(
                dir.path(),
                &format!("c{i}"),
                &node.get_json(&format!("/credentials/{}", encode(id))),
            )
        })
        .collect();

    // A proof bundle, for verifying with no network at all.
    let bundle_file = dir.path().join("bundle0.json");
    run(cairn()
        .args(["bundle", "--node", &node.url, &ids[0], "--out"])
        .arg(&bundle_file))
    .success();
    let r = run(cairn().args(["bundle", "--node", &node.url, "urn:uuid:missing"]));
    assert!(r.one_line_error().contains("404"));

    // The issuer is gone for good.
    assert_eq!(node.terminate(), Some(0));
    std::fs::remove_dir_all(&data).unwrap();

    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (code, reports) = verify(&paths, &["--rpc-url", &anvil.url]);
    assert_eq!(code, 1, "two are invalid: {reports:#?}");
    for i in [0, 3, 4, 5] {
        assert_eq!(reports[i]["verdict"], "valid", "c{i}: {:#}", reports[i]);
        for name in ["inclusion", "binding", "anchor", "revocation"] {
            assert_eq!(check_status(&reports[i], name), "pass", "c{i} {name}");
        }
        assert!(reports[i]["anchoredAt"].is_string());
    }
    assert_eq!(reports[1]["verdict"], "invalid");
    assert_eq!(check_status(&reports[1], "revocation"), "fail");
    assert!(check(&reports[1], "revocation")["detail"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    assert_eq!(check_status(&reports[2], "revocation"), "fail");
    assert!(check(&reports[2], "revocation")["detail"]
        .as_str()
        .unwrap()
        .contains("suspended"));
    // Backdating is a warning, not a failure.
    assert!(reports[0].get("warnings").is_none());
    assert!(reports[4]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("before the anchor"));
    // Same from the text report.
    let r = run(cairn()
        .args(["verify", "--rpc-url", &anvil.url])
        .arg(&files[1]));
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("FAIL  revocation"), "{}", r.stdout);

    let good: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let anchor_entry = good["proof"][1].clone();

    // Not yet confirmed: asking for more depth than there is.
    let (code, reports) = verify(
        &[&files[0]],
        &["--rpc-url", &anvil.url, "--confirmations", "1000"],
    );
    assert_eq!(code, 3);
    assert_eq!(check_status(&reports[0], "anchor"), "could-not-check");
    assert!(check(&reports[0], "anchor")["detail"]
        .as_str()
        .unwrap()
        .contains("of 1000 confirmations"));

    let Forgeries {
        altered,
        unanchored,
        impostor,
        unbound,
    } = Forgeries::of(&anvil, &key, &registry, &good);
    let forged = [
        write(dir.path(), "altered", &altered),
        write(dir.path(), "unanchored", &unanchored),
        write(dir.path(), "impostor", &impostor),
        write(dir.path(), "unbound", &unbound),
    ];
    let paths: Vec<&Path> = forged.iter().map(PathBuf::as_path).collect();
    let (code, reports) = verify(&paths, &["--rpc-url", &anvil.url]);
    assert_eq!(code, 1);
    for r in &reports {
        assert_eq!(r["verdict"], "invalid", "{r:#}");
    }
    assert_eq!(check_status(&reports[0], "inclusion"), "fail");
    assert_eq!(check_status(&reports[1], "anchor"), "fail");
    assert!(check(&reports[1], "anchor")["detail"]
        .as_str()
        .unwrap()
        .contains("never anchored"));
    assert_eq!(check_status(&reports[2], "issuer-key"), "fail");
    assert_eq!(check_status(&reports[3], "signature"), "pass");
    assert_eq!(check_status(&reports[3], "inclusion"), "pass");
    assert_eq!(check_status(&reports[3], "anchor"), "fail");
    assert!(check(&reports[3], "anchor")["detail"]
        .as_str()
        .unwrap()
        .contains("does not name"));

    // A second implementation of the anchor side, written from
    // docs/proof-format.md alone (tests/independent/verify_anchor.py),
    // agrees with `cairn verify` on every file: valid, revoked, suspended,
    // backdated, each forgery, and entries whose block, transaction or
    // registry were altered.
    let mut doctored = Vec::new();
    for (name, field, value) in [
        (
            "block-hash",
            "blockHash",
            json!(format!("0x{}", "11".repeat(32))),
        ),
        (
            "block-number",
            "blockNumber",
            json!(anchor_entry["blockNumber"].as_u64().unwrap() + 1),
        ),
        (
            "transaction",
            "transaction",
            json!(format!("0x{}", "22".repeat(32))),
        ),
        (
            "registry",
            "registry",
            json!("0x00000000000000000000000000000000000000aa"),
        ),
        (
            "leaf-count",
            "leafCount",
            json!(anchor_entry["leafCount"].as_u64().unwrap() + 1),
        ),
    ] {
        let mut d = good.clone();
        d["proof"][1][field] = value;
        doctored.push(write(dir.path(), &format!("doctored-{name}"), &d));
    }
    let all: Vec<&Path> = files
        .iter()
        .chain(&forged)
        .chain(&doctored)
        .map(PathBuf::as_path)
        .collect();
    let (_, reports) = verify(&all, &["--rpc-url", &anvil.url]);
    let second = std::process::Command::new("python3")
        .arg(cairn_tests::repo_root().join("tests/independent/verify_anchor.py"))
        .args(["--rpc-url", &anvil.url])
        .args(&all)
        .output()
        .expect("python3 runs");
    assert!(second.status.success(), "{second:?}");
    let second: Vec<Value> = String::from_utf8(second.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(second.len(), all.len());
    for ((path, ours), theirs) in all.iter().zip(&reports).zip(&second) {
        let anchor_side: Vec<&str> = ["inclusion", "binding", "anchor", "revocation"]
            .iter()
            .map(|name| check_status(ours, name))
            .collect();
        let verdict = if anchor_side.contains(&"fail") {
            "invalid"
        } else if anchor_side.contains(&"could-not-check") {
            "unknown"
        } else {
            "valid"
        };
        assert_eq!(
            verdict,
            theirs["verdict"],
            "{}: cairn {ours:#}, the second verifier {theirs}",
            path.display()
        );
    }

    // Offline: the bundle against the block hash the verifier trusts (here
    // read from anvil, as from any chain node or explorer it trusts).
    let block = good["proof"][1]["blockNumber"].as_u64().unwrap();
    let trusted = anvil.rpc(
        "eth_getBlockByNumber",
        json!([format!("0x{block:x}"), false]),
    )["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, reports) = verify(&[&bundle_file], &["--offline", "--trust-block", &trusted]);
    assert_eq!(code, 3, "revocation is unknown offline: {reports:#?}");
    for name in ["signature", "issuer-key", "inclusion", "binding", "anchor"] {
        assert_eq!(
            check_status(&reports[0], name),
            "pass",
            "{name}: {:#}",
            reports[0]
        );
    }
    assert_eq!(check_status(&reports[0], "revocation"), "could-not-check");
    assert!(check(&reports[0], "revocation")["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("as of block {block}")));
    // Another block hash, or a doctored receipt, and the anchor fails.
    let (code, reports) = verify(
        &[&bundle_file],
        &[
            "--offline",
            "--trust-block",
            &format!("0x{}", "11".repeat(32)),
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(check_status(&reports[0], "anchor"), "fail");
    let mut doctored: Value =
        serde_json::from_slice(&std::fs::read(&bundle_file).unwrap()).unwrap();
    let receipt = doctored["anchorBundle"]["receipt"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if receipt.ends_with('0') { "1" } else { "0" };
    doctored["anchorBundle"]["receipt"] =
        json!(format!("{}{flipped}", &receipt[..receipt.len() - 1]));
    let doctored = write(dir.path(), "doctored-bundle", &doctored);
    let (code, reports) = verify(&[&doctored], &["--offline", "--trust-block", &trusted]);
    assert_eq!(code, 1);
    assert!(
        check(&reports[0], "anchor")["detail"]
            .as_str()
            .unwrap()
            .contains("not in the block"),
        "{:#}",
        reports[0]
    );
    // --offline needs --trust-block, and a hash that is one.
    let r = run(cairn().args(["verify", "--offline"]).arg(&bundle_file));
    assert_ne!(r.code, 0);
    let r = run(cairn()
        .args(["verify", "--offline", "--trust-block", "nope"])
        .arg(&bundle_file));
    assert!(r.one_line_error().contains("--trust-block"));

    // Two chain nodes that disagree: a second anvil where the same account
    // deployed the same registry but anchored nothing.
    let other = Anvil::start(&[]);
    other.fund(&account);
    let r = run(cairn()
        .args(["contract", "deploy", "--rpc-url", &other.url, "--key"])
        .arg(&key))
    .success();
    assert_eq!(
        r.stdout.trim(),
        registry,
        "same account, same first address"
    );
    let (code, reports) = verify(
        &[&files[0]],
        &["--rpc-url", &anvil.url, "--rpc-url", &other.url],
    );
    assert_eq!(code, 1);
    assert_eq!(check_status(&reports[0], "binding"), "fail");
    assert!(check(&reports[0], "binding")["detail"]
        .as_str()
        .unwrap()
        .contains("disagree"));
    // With a quorum of one, the first node answers alone.
    let (code, _) = verify(
        &[&files[0]],
        &[
            "--rpc-url",
            &anvil.url,
            "--rpc-url",
            &other.url,
            "--quorum",
            "1",
        ],
    );
    assert_eq!(code, 0);
    // Bad chain arguments are one-line errors.
    let r = run(cairn()
        .args(["verify", "--rpc-url", "http://127.0.0.1:9"])
        .arg(&files[0]));
    assert!(r.one_line_error().contains("--rpc-url"));
    let r = run(cairn()
        .args(["verify", "--rpc-url", &anvil.url, "--quorum", "2"])
        .arg(&files[0]));
    assert!(r.one_line_error().contains("--quorum"));
}

/// The registry is named by the issuer: its binding document names the one
/// registry its account anchors in. Whoever holds the issuer's account key
/// can deploy a second copy of the registry, register the same binding and
/// anchor the same root there with no revocation bits; an anchor entry
/// pointed at that copy is refused by `cairn verify --rpc-url`, by the
/// node's `POST /credentials/verify` and by a bundle offline. A pin
/// (`--registry`) narrows further and cannot widen.
#[test]
fn a_registry_the_binding_does_not_name_never_makes_a_credential_valid() {
    let anvil = Anvil::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (key, registry, _account) = deploy(&anvil, dir.path());
    let data = dir.path().join("node");
    let node = start_on_anvil(&data, &anvil, &key, &registry, &[]);
    let token = node_token(&data);
    let (_, issued) = node.issue(&token, &unsigned_credential("did:example:struck-off"));
    let id = issued["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.wait_anchored(&id, Duration::from_secs(60));
    run(cairn()
        .args(["revoke", "--node", &node.url, &id])
        .env("CAIRN_TOKEN", &token))
    .success();
    wait_status_confirmed(&node, &id, "revoked");
    let revoked = node.get_json(&format!("/credentials/{}", encode(&id)));
    let entry = revoked["proof"][1].clone();
    assert_eq!(
        entry["binding"]["credentialSubject"]["anchorRegistry"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        format!("eip155:31337:{}", registry.to_lowercase())
    );

    // A second copy of the registry, from the issuer's own account: the
    // same binding registered, the same root anchored, no revocation.
    let copy = run(cairn()
        .args(["contract", "deploy", "--rpc-url", &anvil.url, "--key"])
        .arg(&key))
    .success()
    .stdout
    .trim()
    .to_owned();
    let issuer = IssuerKey::load(&key, cairn_tests::PASSPHRASE).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let canonicalizer = Canonicalizer::new(Contexts::standard());
    let (record, bundle) = rt.block_on(async {
        let chain = connect_chain(&anvil, &issuer, &copy).await;
        let bound = cairn_verifier::binding::verify_binding(&canonicalizer, &entry["binding"])
            .await
            .unwrap();
        chain.register_binding(bound.hash).await.unwrap();
        let root: [u8; 32] = hex::decode(entry["root"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let anchored = chain
            .anchor(root, entry["leafCount"].as_u64().unwrap())
            .await
            .unwrap();
        let bundle = cairn_verifier::bundle::build(chain.provider(), anchored.record.transaction)
            .await
            .unwrap();
        (anchored.record, bundle)
    });
    let mut forged = revoked.clone();
    forged["proof"][1]["registry"] = json!(record.registry.to_checksum(None));
    forged["proof"][1]["transaction"] = json!(record.transaction);
    forged["proof"][1]["blockNumber"] = json!(record.block_number);
    forged["proof"][1]["blockHash"] = json!(record.block_hash);
    let forged_file = write(dir.path(), "forged", &forged);

    // Online: refused for the registry, not merely for revocation.
    let names_registry = |report: &Value| {
        check_status(report, "binding") == "fail"
            && check(report, "binding")["detail"]
                .as_str()
                .unwrap()
                .contains("names registry")
    };
    let (code, reports) = verify(&[&forged_file], &["--rpc-url", &anvil.url]);
    assert_eq!(code, 1, "{reports:#?}");
    assert!(names_registry(&reports[0]), "{:#}", reports[0]);
    assert_eq!(check_status(&reports[0], "revocation"), "could-not-check");
    // A pin of the copy does not make it speak for the issuer either.
    let (code, reports) = verify(
        &[&forged_file],
        &[
            "--rpc-url",
            &anvil.url,
            "--registry",
            &copy,
            "--chain",
            "eip155:31337",
        ],
    );
    assert_eq!(code, 1);
    assert!(names_registry(&reports[0]), "{:#}", reports[0]);
    // A pin of another registry refuses the genuine credential's registry.
    let genuine = write(dir.path(), "genuine", &revoked);
    let (code, reports) = verify(&[&genuine], &["--rpc-url", &anvil.url, "--registry", &copy]);
    assert_eq!(code, 1);
    assert!(
        check(&reports[0], "binding")["detail"]
            .as_str()
            .unwrap()
            .contains("not one the verifier pinned"),
        "{:#}",
        reports[0]
    );
    // The node's verification endpoint says the same.
    let api: Value = reqwest::blocking::Client::new()
        .post(format!("{}/credentials/verify", node.url))
        .json(&json!({"verifiableCredential": forged}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(api["verdict"], "invalid", "{api:#}");
    assert!(names_registry(&api), "{api:#}");
    // Any other address is refused the same way, before it is read: a
    // look-alike contract answering with the real records never gets asked.
    let mut look_alike = forged.clone();
    look_alike["proof"][1]["registry"] = json!("0x00000000000000000000000000000000000000aa");
    let look_alike_file = write(dir.path(), "look-alike", &look_alike);
    let (code, reports) = verify(&[&look_alike_file], &["--rpc-url", &anvil.url]);
    assert_eq!(code, 1);
    assert!(names_registry(&reports[0]), "{:#}", reports[0]);
    let api: Value = reqwest::blocking::Client::new()
        .post(format!("{}/credentials/verify", node.url))
        .json(&json!({"verifiableCredential": look_alike}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(names_registry(&api), "{api:#}");
    // Offline, from a genuine bundle of the copy's anchor.
    let bundle_file = write(
        dir.path(),
        "forged-bundle",
        &json!({"verifiableCredential": forged, "anchorBundle": bundle}),
    );
    let (code, reports) = verify(
        &[&bundle_file],
        &["--offline", "--trust-block", &record.block_hash.to_string()],
    );
    assert_eq!(code, 1, "{reports:#?}");
    assert!(names_registry(&reports[0]), "{:#}", reports[0]);
}
