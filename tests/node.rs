//! The `cairn-node` binary end to end: issuing over HTTP, batching and
//! anchoring on the embedded dev chain and on anvil, every bad request
//! answered with a problem, the CLI against a node, and a crash test that
//! kills the node at random moments.

use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use cairn_tests::{
    cairn, check, check_status, deploy, encode, node_token, run, unsigned_credential, verify_json,
    write_achievement, Anvil, NodeProcess,
};
use cairn_verifier::merkle::{credential_digest, InclusionProof};
use reqwest::blocking::Client;
use serde_json::{json, Value};

fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn issue_one(node: &NodeProcess, token: &str, subject: &str) -> (u16, Value) {
    node.issue(token, &unsigned_credential(subject))
}

fn ndjson(subjects: impl Iterator<Item = String>) -> String {
    subjects
        .map(|s| json!({"credential": unsigned_credential(&s)}).to_string() + "\n")
        .collect()
}

/// Reads the registry's anchor of `root` over JSON-RPC: (issuer, leafCount).
fn anchored_on_chain(rpc_url: &str, registry: &str, root: &str) -> (Address, u64) {
    use alloy::providers::ProviderBuilder;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use alloy::providers::Provider;
        use cairn_verifier::registry::{call, CairnRegistry};
        let provider = ProviderBuilder::new()
            .connect_http(rpc_url.parse().unwrap())
            .erased();
        let root: B256 = root.parse().unwrap();
        let a = call(
            &provider,
            registry.parse().unwrap(),
            CairnRegistry::anchorsCall { root },
        )
        .await
        .unwrap();
        (a.issuer, a.leafCount.to::<u64>())
    })
}

/// Checks a credential's anchor proof entry: its path leads from the
/// credential's digest to the root, which the registry holds from the
/// node's account.
/// A credential's anchor proof entry, its inclusion proof and root, after
/// checking that the path leads from the credential to the root.
fn included(vc: &Value) -> (&Value, InclusionProof, [u8; 32]) {
    let proofs = vc["proof"]
        .as_array()
        .unwrap_or_else(|| panic!("no anchor proof: {vc:#}"));
    assert_eq!(proofs.len(), 2, "issuer proof and anchor proof: {vc:#}");
    let anchor = &proofs[1];
    assert_eq!(anchor["type"], cairn_verifier::proof::ANCHOR_PROOF_TYPE);
    let inclusion: InclusionProof = serde_json::from_value(json!({
        "leafIndex": anchor["leafIndex"], "leafCount": anchor["leafCount"], "path": anchor["path"],
    }))
    .unwrap();
    let root: [u8; 32] = hex::decode(anchor["root"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert!(
        inclusion.verify(&credential_digest(vc).unwrap(), &root),
        "{}",
        vc["id"]
    );
    (anchor, inclusion, root)
}

fn check_anchored(vc: &Value, rpc_url: &str, account: &str) {
    let (anchor, inclusion, root) = included(vc);
    let (issuer, leaves) = anchored_on_chain(
        rpc_url,
        anchor["registry"].as_str().unwrap(),
        &format!("0x{}", hex::encode(root)),
    );
    assert_eq!(issuer, account.parse::<Address>().unwrap());
    assert_eq!(leaves, inclusion.leaf_count);
    // The binding document names the same account.
    assert!(anchor["binding"]["credentialSubject"]["id"]
        .as_str()
        .unwrap()
        .ends_with(account));
}

#[test]
fn the_node_issues_batches_and_anchors_on_its_dev_chain() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &["--batch-max-age", "1"], &[]);
    let token = node_token(&data);
    // With no key, a demo issuer is created and said to be one.
    assert!(data.join("demo-issuer.key").is_file());
    let health = node.get_json("/health");
    let did = health["issuer"].as_str().unwrap().to_owned();
    assert!(did.starts_with("did:key:z6Mk"));

    let r = http()
        .post(format!("{}/credentials/issue", node.url))
        .bearer_auth(&token)
        .json(&json!({"credential": unsigned_credential("did:example:alice"), "options": {}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let vc = r.json::<Value>().unwrap()["verifiableCredential"].clone();
    let id = vc["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("urn:uuid:"), "{id}");
    assert_eq!(location, format!("/credentials/{id}"));
    assert_eq!(vc["issuer"]["id"], did.as_str());
    assert_eq!(vc["proof"]["cryptosuite"], "eddsa-rdfc-2022");

    // Forty more in one bulk call, under an idempotency key.
    let body = ndjson((0..40).map(|i| format!("did:example:bulk{i}")));
    let lines = node.bulk(&token, Some("cohort-2026"), body.clone());
    assert_eq!(lines.len(), 41);
    assert_eq!(
        lines[40]["summary"],
        json!({"issued": 40, "replayed": 0, "failed": 0})
    );
    for (i, line) in lines[..40].iter().enumerate() {
        assert_eq!(line["index"], i);
        assert_eq!(line["status"], 201, "{line}");
    }
    let bulk_ids: Vec<String> = lines[..40]
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();

    // Anchored within seconds (batches sealed after 1 s).
    let proof = node.wait_anchored(&id, Duration::from_secs(30));
    assert!(proof["confirmations"].as_u64().unwrap() >= 1);
    let last = node.wait_anchored(&bulk_ids[39], Duration::from_secs(30));
    let health = node.get_json("/health");
    let account = health["chain"]["account"].as_str().unwrap().to_owned();
    let dev_rpc = format!("{}/devchain", node.url);
    for cid in [&id, &bulk_ids[0], &bulk_ids[39]] {
        let vc = node.get_json(&format!("/credentials/{}", encode(cid)));
        check_anchored(&vc, &dev_rpc, &account);
    }
    // The batch is listed and found by its root.
    let root = last["batch"]["root"].as_str().unwrap();
    let batch = node.get_json(&format!("/batches/{root}"));
    assert_eq!(batch["state"], "anchored");
    assert_eq!(
        batch["anchor"]["transaction"],
        last["anchor"]["transaction"]
    );
    let listed = node.get_json("/batches?state=anchored");
    let total: u64 = listed["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["leafCount"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 41, "every credential in exactly one batch");
    assert!(node.get_json("/batches?state=sealed")["batches"]
        .as_array()
        .unwrap()
        .is_empty());

    // `cairn verify` accepts the anchored credential as issued by the node.
    let file = dir.path().join("alice.json");
    std::fs::write(
        &file,
        node.get_json(&format!("/credentials/{}", encode(&id)))
            .to_string(),
    )
    .unwrap();
    run(cairn().arg("verify").arg(&file)).success();
    // So does the node's own verify endpoint, and it refuses a forgery.
    let mut forged: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let verdict = |vc: &Value| {
        http()
            .post(format!("{}/credentials/verify", node.url))
            .json(&json!({"verifiableCredential": vc}))
            .send()
            .unwrap()
            .json::<Value>()
            .unwrap()
    };
    assert_eq!(verdict(&forged)["verified"], true);
    forged["name"] = json!("Chief Surgeon");
    let report = verdict(&forged);
    assert_eq!(report["verified"], false);
    assert_eq!(report["verdict"], "invalid");

    // A retried upload issues nothing: the same ids come back.
    let again = node.bulk(&token, Some("cohort-2026"), body);
    assert_eq!(
        again[40]["summary"],
        json!({"issued": 0, "replayed": 40, "failed": 0})
    );
    for (line, first) in again[..40].iter().zip(&bulk_ids) {
        assert_eq!(line["status"], 200);
        assert_eq!(line["id"], first.as_str());
    }
    let metrics = node.get("/metrics").text().unwrap();
    assert!(
        metrics.contains("cairn_credentials_issued_total 41"),
        "{metrics}"
    );
    assert!(metrics.contains("cairn_batches{state=\"anchored\"}"));
    assert!(metrics.contains("cairn_gas_used_total"));

    // SIGTERM stops it cleanly; a restart serves the same data.
    let before = node.get_json(&format!("/credentials/{}", encode(&id)));
    assert_eq!(node.terminate(), Some(0));
    let node = NodeProcess::start(&data, &["--batch-max-age", "1"], &[]);
    assert_eq!(node.get_json("/health")["issued"], 41);
    assert_eq!(
        node.get_json(&format!("/credentials/{}", encode(&id))),
        before
    );
    let (status, _) = issue_one(&node, &token, "did:example:after-restart");
    assert_eq!(status, 201);
}

/// Every bad request gets a 4xx problem+json naming the field at fault.
/// A client that sends its whole bulk upload before reading any of the
/// response (as Python's urllib and requests do) gets every result: the node
/// keeps issuing while the results wait, though they are more than the
/// sockets hold.
#[test]
fn a_bulk_upload_sent_whole_before_reading_completes() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &[], &[]);
    let token = node_token(&data);
    // 5,000 items with long descriptions: about 20 MB each way, more than
    // loopback's socket buffers hold.
    let count = 5000;
    let body: String = (0..count)
        .map(|i| {
            let mut vc = unsigned_credential(&format!("did:example:upload{i}"));
            vc["description"] = json!("A long description. ".repeat(200));
            json!({"credential": vc}).to_string() + "\n"
        })
        .collect();
    let addr = node.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_write_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let head = format!(
        "POST /credentials/issue/bulk HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream
        .write_all(body.as_bytes())
        .expect("the node reads the whole upload while no result is read");
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "{}",
        &response[..200.min(response.len())]
    );
    let summary = response
        .lines()
        .rev()
        .find(|l| l.contains("\"summary\""))
        .expect("a summary line");
    let summary: Value = serde_json::from_str(summary).unwrap();
    assert_eq!(summary["summary"]["issued"], count, "{summary}");
}

#[test]
fn bad_requests_get_problems_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &[], &[]);
    let token = node_token(&data);
    let revoked = node_token(&data);
    let revoked_id = cairn::tokens::list(&data)
        .unwrap()
        .last()
        .unwrap()
        .id
        .clone();
    run(std::process::Command::new(cairn_tests::cairn_node_path())
        .args(["token", "revoke", "--data-dir"])
        .arg(&data)
        .arg(&revoked_id))
    .success();
    std::thread::sleep(Duration::from_millis(1100));

    let issue = |auth: Option<&str>, ct: &str, body: Vec<u8>| {
        let mut r = http()
            .post(format!("{}/credentials/issue", node.url))
            .header("content-type", ct)
            .body(body);
        if let Some(t) = auth {
            r = r.bearer_auth(t);
        }
        cairn_tests::checked("POST", "/credentials/issue", r.send().unwrap())
    };
    let expect = |r: cairn_tests::Reply, status: u16, field: Option<&str>, what: &str| {
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let p: Value = r.json().unwrap();
        assert_eq!(p["status"], status, "{what}: {p}");
        assert!(
            p["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {p}"
        );
        assert!(p["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:cairn:problem:"));
        assert_eq!(p["field"].as_str(), field, "{what}: {p}");
        p
    };
    let good = json!({"credential": unsigned_credential("did:example:x")});
    let body = |v: Value| serde_json::to_vec(&v).unwrap();
    let json_ct = "application/json";

    // Authentication comes first.
    expect(
        issue(None, json_ct, body(good.clone())),
        401,
        Some("Authorization"),
        "no token",
    );
    expect(
        issue(Some("cairn_wrong"), json_ct, body(good.clone())),
        401,
        Some("Authorization"),
        "wrong token",
    );
    expect(
        issue(Some(&revoked), json_ct, body(good.clone())),
        401,
        Some("Authorization"),
        "revoked token",
    );
    // Malformed and mistyped bodies.
    expect(
        issue(Some(&token), json_ct, b"{\"credential\": ".to_vec()),
        400,
        Some("body"),
        "malformed JSON",
    );
    expect(
        issue(Some(&token), json_ct, body(json!([1, 2]))),
        400,
        Some("body"),
        "not an object",
    );
    expect(
        issue(Some(&token), json_ct, body(json!({"credential": 5}))),
        400,
        Some("credential"),
        "credential a number",
    );
    expect(
        issue(Some(&token), json_ct, body(json!({}))),
        400,
        Some("credential"),
        "credential missing",
    );
    expect(
        issue(
            Some(&token),
            json_ct,
            body(json!({"credential": {}, "extra": 1})),
        ),
        400,
        Some("extra"),
        "unknown member",
    );
    expect(
        issue(
            Some(&token),
            json_ct,
            body(
                json!({"credential": unsigned_credential("did:example:x"), "options": {"proofType": "x"}}),
            ),
        ),
        400,
        Some("options.proofType"),
        "unknown option",
    );
    expect(
        issue(
            Some(&token),
            json_ct,
            body(json!({"credential": unsigned_credential("did:example:x"), "options": []})),
        ),
        400,
        Some("options"),
        "options an array",
    );
    let mut bad_date = unsigned_credential("did:example:x");
    bad_date["validFrom"] = json!("yesterday");
    expect(
        issue(Some(&token), json_ct, body(json!({"credential": bad_date}))),
        400,
        Some("credential.validFrom"),
        "bad date",
    );
    let mut no_name = unsigned_credential("did:example:x");
    no_name.as_object_mut().unwrap().remove("name");
    expect(
        issue(Some(&token), json_ct, body(json!({"credential": no_name}))),
        400,
        Some("credential.name"),
        "no name",
    );
    let mut other_issuer = unsigned_credential("did:example:x");
    other_issuer["issuer"] = json!("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK");
    expect(
        issue(
            Some(&token),
            json_ct,
            body(json!({"credential": other_issuer})),
        ),
        400,
        Some("credential.issuer"),
        "another issuer",
    );
    let mut typo = unsigned_credential("did:example:x");
    typo["credentialSubject"]["achievment"] = json!("typo");
    let p = expect(
        issue(Some(&token), json_ct, body(json!({"credential": typo}))),
        400,
        Some("credential"),
        "undefined term",
    );
    assert!(p["detail"].as_str().unwrap().contains("achievment"), "{p}");
    expect(
        issue(Some(&token), "text/plain", body(good.clone())),
        415,
        Some("Content-Type"),
        "content type",
    );
    // Oversize.
    let mut huge = unsigned_credential("did:example:x");
    huge["description"] = json!("x".repeat(2 << 20));
    expect(
        issue(Some(&token), json_ct, body(json!({"credential": huge}))),
        413,
        None,
        "oversize body",
    );
    // A duplicate id.
    let mut with_id = unsigned_credential("did:example:x");
    with_id["id"] = json!("urn:uuid:00000000-0000-4000-8000-000000000001");
    assert_eq!(
        issue(
            Some(&token),
            json_ct,
            body(json!({"credential": with_id.clone()}))
        )
        .status(),
        201
    );
    expect(
        issue(Some(&token), json_ct, body(json!({"credential": with_id}))),
        409,
        Some("credential.id"),
        "duplicate id",
    );
    // Bad idempotency key.
    let r = http()
        .post(format!("{}/credentials/issue", node.url))
        .bearer_auth(&token)
        .header("idempotency-key", "")
        .json(&good)
        .send()
        .unwrap();
    let r = cairn_tests::checked("POST", "/credentials/issue", r);
    expect(r, 400, Some("Idempotency-Key"), "empty idempotency key");

    // Bulk: whole-request problems, then per-item ones.
    let bulk_raw = |ct: &str, body: Vec<u8>| {
        let r = http()
            .post(format!("{}/credentials/issue/bulk", node.url))
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(body)
            .send()
            .unwrap();
        cairn_tests::checked("POST", "/credentials/issue/bulk", r)
    };
    expect(
        bulk_raw(json_ct, body(json!({"a": 1}))),
        400,
        Some("body"),
        "bulk not an array",
    );
    expect(
        bulk_raw("text/csv", b"a,b".to_vec()),
        415,
        Some("Content-Type"),
        "bulk content type",
    );
    let r = http()
        .post(format!("{}/credentials/issue/bulk", node.url))
        .body("{}")
        .send()
        .unwrap();
    let r = cairn_tests::checked("POST", "/credentials/issue/bulk", r);
    expect(r, 401, Some("Authorization"), "bulk without token");
    let mixed = format!(
        "{}\nnot json\n{}\n\n{}\n{}\n",
        json!({"credential": unsigned_credential("did:example:b0")}),
        json!({"credential": 7}),
        json!({"credential": unsigned_credential("did:example:b3")}),
        json!({"credential": {"name": "x".repeat(2 << 20)}}),
    );
    let lines: Vec<Value> = bulk_raw("application/x-ndjson", mixed.into_bytes())
        .text()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert_eq!(lines[0]["status"], 201);
    assert_eq!(lines[1]["status"], 400);
    assert_eq!(lines[1]["problem"]["field"], "[1]");
    assert_eq!(lines[2]["problem"]["field"], "[2].credential");
    assert_eq!(lines[3]["status"], 201);
    assert_eq!(lines[4]["status"], 413);
    assert_eq!(
        lines[5]["summary"],
        json!({"issued": 2, "replayed": 0, "failed": 3})
    );
    let array = json!([
        {"credential": unsigned_credential("did:example:a0")},
        {"credential": unsigned_credential("did:example:a1"), "bogus": true},
    ]);
    let lines: Vec<Value> = bulk_raw(json_ct, body(array))
        .text()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["status"], 201);
    assert_eq!(lines[1]["problem"]["field"], "[1].bogus");

    // Reading endpoints.
    expect(
        node.get("/credentials/urn:uuid:nope"),
        404,
        Some("id"),
        "unknown credential",
    );
    expect(
        node.get("/credentials/urn:uuid:nope/proof"),
        404,
        Some("id"),
        "unknown credential proof",
    );
    expect(
        node.get(&format!("/batches/{}", "ab".repeat(32))),
        404,
        Some("root"),
        "unknown batch",
    );
    expect(node.get("/batches/xyz"), 400, Some("root"), "bad root");
    expect(
        node.get("/batches?state=lost"),
        400,
        Some("state"),
        "bad state",
    );
    expect(
        node.get("/batches?limit=0"),
        400,
        Some("limit"),
        "bad limit",
    );
    expect(
        node.get("/batches?from=minus"),
        400,
        Some("from"),
        "bad from",
    );
    expect(
        node.get("/batches?colour=red"),
        400,
        Some("colour"),
        "unknown parameter",
    );
    expect(node.get("/nowhere"), 404, None, "unknown path");
    expect(
        node.get("/credentials/issue/bulk"),
        405,
        None,
        "wrong method",
    );
    let verify = |v: Value| {
        let r = http()
            .post(format!("{}/credentials/verify", node.url))
            .json(&v)
            .send()
            .unwrap();
        cairn_tests::checked("POST", "/credentials/verify", r)
    };
    expect(
        verify(json!({})),
        400,
        Some("verifiableCredential"),
        "verify without credential",
    );
    expect(
        verify(json!({"verifiableCredential": "x"})),
        400,
        Some("verifiableCredential"),
        "verify a string",
    );
    expect(
        verify(json!({"verifiableCredential": {}, "options": {"at": "soon"}})),
        400,
        Some("options.at"),
        "verify bad time",
    );
    // The node is still well after all that.
    assert_eq!(node.get_json("/health")["status"], "ok");
    let openapi = node.get_json("/openapi.json");
    assert!(openapi["paths"]["/credentials/issue"]["post"].is_object());
}

#[test]
fn the_cli_issues_a_roster_through_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &["--batch-max-age", "1"], &[]);
    let token = node_token(&data);
    let achievement = write_achievement(dir.path());
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "recipient,validUntil\nada@example.org,2031-01-01\ndid:example:grace,\nlinus@example.org,\n",
    )
    .unwrap();
    let out = dir.path().join("issued");
    let cli = |extra: &[&str]| {
        let mut cmd = cairn();
        cmd.args(["issue", "--node", &node.url, "--achievement"])
            .arg(&achievement)
            .env("CAIRN_TOKEN", &token)
            .args(extra);
        cmd
    };
    let r = run(&mut cli(&[
        "--csv",
        roster.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]))
    .success();
    assert!(
        r.stderr.contains("issued 3, already issued 0, failed 0"),
        "{r:#?}"
    );
    let files: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(files.len(), 3);
    // The same roster again issues nothing.
    let r = run(&mut cli(&["--csv", roster.to_str().unwrap()])).success();
    assert!(
        r.stderr.contains("issued 0, already issued 3, failed 0"),
        "{r:#?}"
    );
    // A bad row refuses the whole roster, naming the line.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "recipient\nok@example.org\nnot an address\n").unwrap();
    let r = run(&mut cli(&["--csv", bad.to_str().unwrap()]));
    let line = r.one_line_error();
    assert!(
        line.contains("line 3") && line.contains("nothing issued"),
        "{line}"
    );
    // No token: a one-line reason.
    let r = run(cli(&["--csv", roster.to_str().unwrap()]).env_remove("CAIRN_TOKEN"));
    assert!(r.one_line_error().contains("CAIRN_TOKEN"));
    let r = run(cli(&["--csv", roster.to_str().unwrap()]).env("CAIRN_TOKEN", "cairn_wrong"));
    assert!(r.one_line_error().contains("HTTP 401"));

    // One credential, then its proof and the batches.
    let r = run(&mut cli(&["--recipient", "did:example:hopper"])).success();
    let vc: Value = serde_json::from_str(&r.stdout).unwrap();
    let id = vc["id"].as_str().unwrap();
    node.wait_anchored(id, Duration::from_secs(30));
    let r = run(cairn().args(["proof", "--node", &node.url, id])).success();
    let proof: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(proof["status"], "anchored");
    let r = run(cairn().args(["batches", "--node", &node.url])).success();
    assert!(r.stdout.contains("anchored"), "{r:#?}");
    let r = run(cairn().args(["proof", "--node", &node.url, "urn:uuid:missing"]));
    assert!(r.one_line_error().contains("HTTP 404"));
    let r = run(cairn().args(["proof", "--node", "ftp://x", "id"]));
    assert!(r.one_line_error().contains("--node"));
}

#[test]
fn the_node_anchors_on_anvil_with_settings_from_file_and_environment() {
    let anvil = Anvil::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (key, registry, account) = deploy(&anvil, dir.path());
    let data = dir.path().join("node");
    // The file says 1000 and 60 s; the flags' 25 win over the file and the
    // environment gives the RPC URL: 60 credentials make three batches at
    // once, none waiting for the age limit.
    let config = dir.path().join("cairn.toml");
    std::fs::write(
        &config,
        format!(
            "batch-size = 1000\nbatch-max-leaves = 1000\nbatch-max-age = 60\nconfirmations = 1\ncontract = \"{registry}\"\nkey = \"{}\"\n",
            key.display()
        ),
    )
    .unwrap();
    let node = NodeProcess::start(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "--batch-size",
            "25",
            "--batch-max-leaves",
            "25",
        ],
        &[("CAIRN_RPC_URL", &anvil.url)],
    );
    let token = node_token(&data);
    let lines = node.bulk(
        &token,
        None,
        ndjson((0..60).map(|i| format!("did:example:n{i}"))),
    );
    assert_eq!(lines[60]["summary"]["issued"], 60);
    let first = lines[0]["id"].as_str().unwrap();
    let proof = node.wait_anchored(first, Duration::from_secs(60));
    assert_eq!(proof["batch"]["leafCount"], 25);
    assert_eq!(proof["anchor"]["chain"], "eip155:31337");
    let vc = node.get_json(&format!("/credentials/{}", encode(first)));
    check_anchored(&vc, &anvil.url, &account);
    let health = node.get_json("/health");
    assert_eq!(
        health["chain"]["registry"].as_str().unwrap().to_lowercase(),
        registry.to_lowercase()
    );
    assert_eq!(health["chain"]["dev"], false);

    // Bad settings stop the node with one line.
    let out = std::process::Command::new(cairn_tests::cairn_node_path())
        .arg("--data-dir")
        .arg(dir.path().join("other"))
        .args(["--rpc-url", &anvil.url])
        .env_remove("CAIRN_CONTRACT")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.trim()
            .starts_with("cairn-node: --rpc-url needs --contract"),
        "{err}"
    );
}

/// A burst on a chain with one-second blocks: while an anchor is in flight
/// credentials queue and the next batch takes them all (beyond
/// `--batch-size`, up to `--batch-max-leaves`); the next anchor goes out
/// once the previous one is mined, not deep; and no more than
/// `--max-anchors-in-flight` wait for their depth at once.
#[test]
fn a_burst_goes_out_in_growing_batches_with_anchors_in_flight_together() {
    let anvil = Anvil::start(&["--block-time", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let (key, registry, account) = deploy(&anvil, dir.path());
    let data = dir.path().join("node");
    let (size, most, depth) = (50u64, 400u64, 3u64);
    let node = NodeProcess::start(
        &data,
        &[
            "--key",
            key.to_str().unwrap(),
            "--rpc-url",
            &anvil.url,
            "--contract",
            &registry,
            "--confirmations",
            &depth.to_string(),
            "--batch-size",
            &size.to_string(),
            "--batch-max-leaves",
            &most.to_string(),
            "--max-anchors-in-flight",
            "2",
            // No batch waits for its age: a burst's tail follows it.
            "--batch-max-age",
            "3600",
        ],
        &[],
    );
    let token = node_token(&data);
    let n = 2000;
    let lines = node.bulk(
        &token,
        None,
        ndjson((0..n).map(|i| format!("did:example:burst{i}"))),
    );
    assert_eq!(lines[n]["summary"]["issued"], n);
    let last = lines[n - 1]["id"].as_str().unwrap();
    node.wait_anchored(last, Duration::from_secs(120));
    let mut least = u64::MAX;
    let mut progressed = Instant::now();
    let batches = loop {
        let all = node.get_json("/batches?limit=1000");
        let batches = all["batches"].as_array().unwrap().clone();
        let waiting = node.get_json("/health")["queued"].as_u64().unwrap()
            + batches.iter().filter(|b| b["state"] != "anchored").count() as u64;
        if waiting == 0 {
            break batches;
        }
        if waiting < least {
            (least, progressed) = (waiting, Instant::now());
        }
        assert!(
            progressed.elapsed() < Duration::from_secs(60),
            "stuck at {waiting}: {all}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let leaves: Vec<u64> = batches
        .iter()
        .map(|b| b["leafCount"].as_u64().unwrap())
        .collect();
    assert_eq!(leaves.iter().sum::<u64>(), n as u64, "{leaves:?}");
    assert!(leaves.iter().all(|&l| l <= most), "{leaves:?}");
    assert!(
        leaves.iter().any(|&l| l > size),
        "no batch grew beyond --batch-size: {leaves:?}"
    );
    let blocks: Vec<u64> = batches
        .iter()
        .map(|b| b["anchor"]["blockNumber"].as_u64().unwrap())
        .collect();
    eprintln!("batches {leaves:?} anchored in blocks {blocks:?}");
    assert!(
        blocks.windows(2).any(|w| w[1] < w[0] + depth),
        "every anchor waited for the previous one's depth: {blocks:?}"
    );
    assert!(
        blocks.windows(3).all(|w| w[2] >= w[0] + depth),
        "more than two anchors in flight: {blocks:?}"
    );
    for b in &batches {
        let root = format!("0x{}", b["root"].as_str().unwrap());
        let (by, count) = anchored_on_chain(&anvil.url, &registry, &root);
        assert_eq!(by, account.parse::<Address>().unwrap());
        assert_eq!(count, b["leafCount"].as_u64().unwrap());
    }
    let metrics = node.get("/metrics").text().unwrap();
    assert!(metrics.contains("cairn_anchors_in_flight 0"), "{metrics}");
}

/// The crash test: issuance requests stream in while the node is killed
/// with SIGKILL at random moments (sealing, between sending an anchor and
/// its confirmation, while recording it), twenty times. At the end every
/// acknowledged credential is anchored exactly once, with a valid proof
/// against the chain.
#[test]
fn no_acknowledged_credential_is_lost_across_kills() {
    // Blocks every 200 ms and two confirmations: each anchor spends time
    // between sending and confirmation, where kills land.
    let anvil = Anvil::start(&["--block-time", "0.2"]);
    let dir = tempfile::tempdir().unwrap();
    let (key, registry, account) = deploy(&anvil, dir.path());
    let data = dir.path().join("node");
    let args = [
        "--key",
        key.to_str().unwrap(),
        "--rpc-url",
        &anvil.url,
        "--contract",
        &registry,
        "--confirmations",
        "2",
        "--batch-size",
        "50",
        "--batch-max-age",
        "1",
    ];
    std::fs::create_dir_all(&data).unwrap();
    let token = node_token(&data);
    let mut acknowledged: Vec<String> = Vec::new();
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        // xorshift: reproducible, no dependency.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let rounds = 20;
    let test_started = Instant::now();
    for round in 0..rounds {
        let node = NodeProcess::start(&data, &args, &[]);
        let url = node.url.clone();
        let token = token.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let url = url.clone();
                let token = token.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let client = Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .unwrap();
                    let mut acked = Vec::new();
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        n += 1;
                        let sent = client
                            .post(format!("{url}/credentials/issue"))
                            .bearer_auth(&token)
                            .json(&json!({"credential": unsigned_credential(&format!("did:example:r{round}c{c}n{n}"))}))
                            .send();
                        // Only a 201 that arrived is an acknowledgement; a
                        // connection cut by the kill is not.
                        if let Ok(r) = sent {
                            if r.status() == 201 {
                                if let Ok(v) = r.json::<Value>() {
                                    acked.push(v["verifiableCredential"]["id"].as_str().unwrap().to_owned());
                                }
                            }
                        }
                    }
                    acked
                })
            })
            .collect();
        let wait = 300 + next() % 1500;
        std::thread::sleep(Duration::from_millis(wait));
        node.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for c in clients {
            acknowledged.extend(c.join().unwrap());
        }
    }
    assert!(
        acknowledged.len() > 100,
        "only {} acknowledged",
        acknowledged.len()
    );
    eprintln!(
        "{} acknowledged over {rounds} kills in {:?}",
        acknowledged.len(),
        test_started.elapsed()
    );
    let drain = Instant::now();

    // A last start drains everything. It waits on progress, not a fixed
    // time: a release build acknowledges many more credentials, which take
    // longer to anchor; what must not happen is a drain that stops.
    let node = NodeProcess::start(&data, &args, &[]);
    let mut least = u64::MAX;
    let mut progressed = Instant::now();
    loop {
        let health = node.get_json("/health");
        let sealed = node.get_json("/batches?state=sealed");
        let remaining =
            health["queued"].as_u64().unwrap() + sealed["batches"].as_array().unwrap().len() as u64;
        if remaining == 0 {
            break;
        }
        if remaining < least {
            least = remaining;
            progressed = Instant::now();
        }
        assert!(
            progressed.elapsed() < Duration::from_secs(60),
            "the drain stopped at {remaining} for 60 s: {health} {sealed}\nlog:\n{}",
            node.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("drained in {:?}", drain.elapsed());
    let issued = node.get_json("/health")["issued"].as_u64().unwrap();
    assert!(issued >= acknowledged.len() as u64);
    // Every stored credential sits in exactly one batch: the batches' leaves
    // add up to the credentials stored, and each has one placement.
    let mut from = 0;
    let mut leaves = 0;
    let mut roots = std::collections::HashSet::new();
    loop {
        let page = node.get_json(&format!("/batches?from={from}&limit=1000"));
        let list = page["batches"].as_array().unwrap();
        for b in list {
            leaves += b["leafCount"].as_u64().unwrap();
            assert!(
                roots.insert(b["root"].as_str().unwrap().to_owned()),
                "a root twice"
            );
            let (on_chain_by, on_chain_leaves) = anchored_on_chain(
                &anvil.url,
                &registry,
                &format!("0x{}", b["root"].as_str().unwrap()),
            );
            assert_eq!(on_chain_by, account.parse::<Address>().unwrap());
            assert_eq!(on_chain_leaves, b["leafCount"].as_u64().unwrap());
        }
        if list.len() < 1000 {
            break;
        }
        from = list.last().unwrap()["number"].as_u64().unwrap() + 1;
    }
    assert_eq!(leaves, issued, "every credential in exactly one batch");
    let unique: std::collections::HashSet<_> = acknowledged.iter().collect();
    assert_eq!(unique.len(), acknowledged.len());
    for id in &acknowledged {
        let vc = node.get_json(&format!("/credentials/{}", encode(id)));
        let (anchor, _, _) = included(&vc);
        assert!(roots.contains(anchor["root"].as_str().unwrap()));
    }
    eprintln!("checked in {:?} overall", test_started.elapsed());
    // One credential end to end against the chain, binding included.
    let vc = node.get_json(&format!("/credentials/{}", encode(&acknowledged[0])));
    check_anchored(&vc, &anvil.url, &account);
}

/// Any well-formed VC 2.0 credential is issued, not only badges, and VC
/// 2.0's rules are enforced, each refusal naming its field. A credential not
/// yet anchored verifies on its own checks, its anchor `absent` (the
/// node's record answers for its status), with 200; asking for the anchor
/// (`options.checks`, `--require-anchor`) or a failing check gives 400 with
/// the same report.
#[test]
fn any_vc_2_credential_is_issued_and_verifies_before_its_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    // No batch is sealed while the test runs.
    let node = NodeProcess::start(&data, &["--batch-max-age", "3600"], &[]);
    let token = node_token(&data);
    node.wait_anchoring();
    let plain = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "name": "Licence to practise",
        "credentialSubject": {"id": "did:example:licensee"}
    });
    let (status, r) = node.issue(&token, &plain);
    assert_eq!(status, 201, "{r}");
    let vc = r["verifiableCredential"].clone();
    // Not a badge: the issuer is named, not made an OB Profile.
    let issuer = node.get_json("/health")["issuer"].clone();
    let named = match &vc["issuer"] {
        Value::Object(o) => o.get("id") == Some(&issuer) && !o.contains_key("type"),
        other => *other == issuer,
    };
    assert!(named, "{vc:#}");

    for (member, value) in [
        ("termsOfUse", json!({"id": "https://board.example/terms"})),
        (
            "evidence",
            json!([{"type": ["Evidence"]}, {"id": "https://board.example/e/1"}]),
        ),
        ("credentialSchema", json!({"type": "JsonSchema"})),
        ("validUntil", json!("2001-01-01T00:00:00Z")),
    ] {
        let mut bad = plain.clone();
        bad[member] = value;
        let (status, problem) = node.issue(&token, &bad);
        assert_eq!(status, 400, "{member}: {problem}");
        assert!(
            problem["field"]
                .as_str()
                .unwrap()
                .starts_with(&format!("credential.{member}")),
            "{member}: {problem}"
        );
    }

    let verify = |vc: &Value, options: Value| {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/credentials/verify", node.url))
            .json(&json!({"verifiableCredential": vc, "options": options}))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (status, report) = verify(&vc, json!({"checks": ["proof", "credentialStatus"]}));
    assert_eq!(
        (status, &report["verified"]),
        (200, &json!(true)),
        "{report:#}"
    );
    assert_eq!(check_status(&report, "signature"), "pass");
    assert_eq!(check_status(&report, "data-model"), "pass");
    assert_eq!(check_status(&report, "anchor"), "absent", "{report:#}");
    assert_eq!(check_status(&report, "revocation"), "pass", "{report:#}");
    assert!(report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] != "open-badges"));

    let (status, report) = verify(&vc, json!({"checks": ["proof", "anchor"]}));
    assert_eq!(status, 400, "{report:#}");
    assert_eq!(
        (&report["verified"], &report["verdict"]),
        (&json!(false), &json!("unknown"))
    );
    assert_eq!(check_status(&report, "anchor"), "could-not-check");
    let (status, problem) = verify(&vc, json!({"checks": "anchor"}));
    assert_eq!(
        (status, problem["field"].as_str()),
        (400, Some("options.checks"))
    );

    let mut altered = vc.clone();
    altered["name"] = json!("Licence to operate");
    let (status, report) = verify(&altered, json!({}));
    assert_eq!(
        (status, &report["verdict"]),
        (400, &json!("invalid")),
        "{report:#}"
    );
    assert_eq!(check_status(&report, "signature"), "fail");

    // The CLI: valid on its own checks, unknown when the anchor is required.
    let file = dir.path().join("licence.json");
    std::fs::write(&file, vc.to_string()).unwrap();
    let devchain = format!("{}/devchain", node.url);
    let (code, report) = verify_json(&[&file], &["--rpc-url", &devchain]);
    assert_eq!(
        (code, &report["verdict"]),
        (0, &json!("valid")),
        "{report:#}"
    );
    let (code, report) = verify_json(&[&file], &["--rpc-url", &devchain, "--require-anchor"]);
    assert_eq!(
        (code, &report["verdict"]),
        (3, &json!("unknown")),
        "{report:#}"
    );

    // Terms no context defines, which only a catch-all @vocab maps (VC
    // 2.0's undefined-terms context): refused, naming the way out, unless
    // the issuer allows them; a verifier then warns, naming them, and does
    // not fail the credential. A term nothing maps is refused either way:
    // expansion would drop it, unsigned.
    let mut unmapped = plain.clone();
    unmapped["type"] = json!(["VerifiableCredential", "LicenseCredential"]);
    unmapped["credentialSubject"]["licenseNumber"] = json!("RN-1234");
    let mut vocab = unmapped.clone();
    vocab["@context"] = json!([
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/undefined-terms/v2"
    ]);
    let (status, problem) = node.issue(&token, &vocab);
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("--allow-vocab"),
        "{problem}"
    );
    let lenient = NodeProcess::start(
        &dir.path().join("lenient"),
        &["--batch-max-age", "3600", "--allow-vocab"],
        &[],
    );
    let lenient_token = node_token(&dir.path().join("lenient"));
    let (status, problem) = lenient.issue(&lenient_token, &unmapped);
    assert_eq!(status, 400, "{problem}");
    let (status, r) = lenient.issue(&lenient_token, &vocab);
    assert_eq!(status, 201, "{r}");
    // Its vocab terms are signed: altering one breaks the signature.
    let mut forged = r["verifiableCredential"].clone();
    forged["credentialSubject"]["licenseNumber"] = json!("RN-9999");
    let (status, report) = verify(&forged, json!({}));
    assert_eq!(
        (status, check_status(&report, "signature")),
        (400, "fail"),
        "{report:#}"
    );
    let (status, report) = verify(&r["verifiableCredential"], json!({}));
    assert_eq!(
        (status, &report["verdict"]),
        (200, &json!("valid")),
        "{report:#}"
    );
    let warning = report["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("LicenseCredential") && warning.contains("licenseNumber"),
        "{report:#}"
    );
    drop(lenient);

    // Revoked before its anchor: the node's record says so.
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/credentials/status", node.url))
        .bearer_auth(&token)
        .json(&json!({"credentialId": vc["id"], "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    let (status, report) = verify(&vc, json!({}));
    assert_eq!(
        (status, &report["verdict"]),
        (400, &json!("invalid")),
        "{report:#}"
    );
    assert!(check(&report, "revocation")["detail"]
        .as_str()
        .unwrap()
        .contains("revoked"));
}

/// `POST /presentations/verify`: the holder's proof with the verifier's
/// challenge and domain, the holder's key, the holder as the credentials'
/// subject when asked, and every credential inside with all its checks; a
/// wrong challenge, an unsigned answer to a challenge or an altered
/// credential gives 400 with the report naming it.
#[test]
fn a_presentation_answers_the_challenge_and_carries_valid_credentials() {
    use cairn::key::{IssuerKey, SigningKeyType};
    use cairn_verifier::context::Contexts;
    use cairn_verifier::integrity::{Canonicalizer, SigningKey, Terms};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &["--batch-max-age", "3600"], &[]);
    let token = node_token(&data);
    node.wait_anchoring();
    let holder = IssuerKey::generate(None, SigningKeyType::Ed25519).unwrap();
    let (_, r) = node.issue(&token, &unsigned_credential(&holder.identity.did));
    let mine = r["verifiableCredential"].clone();
    let (_, r) = node.issue(&token, &unsigned_credential("did:example:someone-else"));
    let theirs = r["verifiableCredential"].clone();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let canon = Canonicalizer::new(Contexts::standard());
    let present = |credentials: Vec<&Value>, proof: Option<(&str, &str)>| -> Value {
        let vp = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "holder": holder.identity.did,
            "verifiableCredential": credentials,
        });
        let Some((challenge, domain)) = proof else {
            return vp;
        };
        let options =
            json!({"proofPurpose": "authentication", "challenge": challenge, "domain": domain});
        rt.block_on(canon.add_proof(
            vp,
            &SigningKey::from_jwk(holder.signing_jwk()).unwrap(),
            &holder.identity.verification_method,
            "2026-12-01T00:00:00Z",
            options.as_object().unwrap().clone(),
            Terms::Vocab,
        ))
        .unwrap()
    };
    let verify = |vp: &Value, options: Value| {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/presentations/verify", node.url))
            .json(&json!({"verifiablePresentation": vp, "options": options}))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let asked =
        json!({"challenge": "c-123", "domain": "board.example", "checks": ["holder-is-subject"]});

    let (status, report) = verify(
        &present(vec![&mine], Some(("c-123", "board.example"))),
        asked.clone(),
    );
    assert_eq!(
        (status, &report["verified"]),
        (200, &json!(true)),
        "{report:#}"
    );
    for name in [
        "holder-proof",
        "proof-purpose",
        "challenge",
        "domain",
        "holder-key",
        "holder-is-subject",
    ] {
        assert_eq!(
            check_status(&report["presentation"], name),
            "pass",
            "{name}: {report:#}"
        );
    }
    assert_eq!(report["credentials"][0]["verdict"], "valid", "{report:#}");

    let (status, report) = verify(
        &present(vec![&mine], Some(("c-999", "board.example"))),
        asked.clone(),
    );
    assert_eq!(
        (status, &report["verdict"]),
        (400, &json!("invalid")),
        "{report:#}"
    );
    assert_eq!(check_status(&report["presentation"], "challenge"), "fail");
    assert_eq!(
        check_status(&report["presentation"], "holder-proof"),
        "pass"
    );

    let (status, report) = verify(&present(vec![&mine], None), asked.clone());
    assert_eq!(status, 400, "{report:#}");
    assert_eq!(
        check_status(&report["presentation"], "holder-proof"),
        "fail"
    );

    let mut altered = mine.clone();
    altered["name"] = json!("Chief Surgeon");
    let (status, report) = verify(
        &present(vec![&altered], Some(("c-123", "board.example"))),
        asked.clone(),
    );
    assert_eq!(status, 400, "{report:#}");
    assert_eq!(
        check_status(&report["presentation"], "holder-proof"),
        "pass"
    );
    assert_eq!(check_status(&report["credentials"][0], "signature"), "fail");

    let (status, report) = verify(
        &present(vec![&mine, &theirs], Some(("c-123", "board.example"))),
        asked,
    );
    assert_eq!(status, 400, "{report:#}");
    assert_eq!(
        check_status(&report["presentation"], "holder-is-subject"),
        "fail"
    );
    assert_eq!(report["credentials"][1]["verdict"], "valid");

    // `cairn verify` on a presentation: its report, then each credential's.
    let file = dir.path().join("vp.json");
    std::fs::write(
        &file,
        present(vec![&mine], Some(("c-123", "board.example"))).to_string(),
    )
    .unwrap();
    let devchain = format!("{}/devchain", node.url);
    let args = [
        "--rpc-url",
        &devchain,
        "--challenge",
        "c-123",
        "--domain",
        "board.example",
    ];
    let (code, report) = verify_json(&[&file], &args);
    assert_eq!(code, 0, "{report:#}");
    let parts: Vec<&str> = report["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["part"].as_str().unwrap())
        .collect();
    assert_eq!(parts, ["presentation", "credential 1"], "{report:#}");
    let (code, report) = verify_json(&[&file], &["--rpc-url", &devchain, "--challenge", "c-999"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(check_status(&report["credentials"][0], "challenge"), "fail");

    let (status, problem) = verify(&present(vec![&mine], None), json!({"challenge": 7}));
    assert_eq!(
        (status, problem["field"].as_str()),
        (400, Some("options.challenge"))
    );
}

/// `cairn verify --rpc-url` and `POST /credentials/verify` are one
/// sequence of checks (`cairn_verifier::chain_verification::Verification`):
/// the same checks with the same statuses, for valid and invalid
/// credentials alike; and a proof bundle of a backdated credential gets the
/// backdating warning offline, as the chain checks give it online.
#[test]
fn cairn_verify_and_the_node_give_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &["--batch-max-age", "1"], &[]);
    let token = node_token(&data);
    let mut backdated = unsigned_credential("did:example:early");
    backdated["validFrom"] = json!("2020-01-01T00:00:00Z");
    let mut ids = Vec::new();
    for vc in [unsigned_credential("did:example:v"), backdated] {
        let (_, r) = node.issue(&token, &vc);
        ids.push(r["verifiableCredential"]["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        node.wait_anchored(id, Duration::from_secs(30));
    }
    let anchored = node.get_json(&format!("/credentials/{}", encode(&ids[0])));
    let backdated = node.get_json(&format!("/credentials/{}", encode(&ids[1])));
    let mut tampered = anchored.clone();
    tampered["name"] = json!("Registered Surgeon");
    let mut wrong_path = anchored.clone();
    wrong_path["proof"][1]["path"] = json!([]);
    let mut unanchored = anchored.clone();
    unanchored["proof"] = anchored["proof"][0].clone();
    let cases = [
        ("valid", anchored),
        ("backdated", backdated.clone()),
        ("tampered", tampered),
        ("wrong path", wrong_path),
        ("unanchored", unanchored),
    ];
    let dev_rpc = format!("{}/devchain", node.url);
    let checks = cairn_tests::check_statuses;
    for (what, vc) in &cases {
        let file = dir.path().join(format!("{what}.json"));
        cairn_tests::write_json(&file, vc);
        let (_, cli) = cairn_tests::verify_json(&[&file], &["--rpc-url", &dev_rpc]);
        let cli = &cli["credentials"][0];
        let api: Value = http()
            .post(format!("{}/credentials/verify", node.url))
            .json(&json!({"verifiableCredential": vc}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if *what == "unanchored" {
            // With no anchor there is no registry status to read; the node
            // answers from its own record, which the CLI cannot.
            let without = |r: &Value| {
                let mut c = checks(r);
                c.retain(|(name, _)| name != "revocation");
                c
            };
            assert_eq!(without(cli), without(&api), "{what}: {cli:#} {api:#}");
            assert_eq!(check_status(cli, "revocation"), "absent", "{cli:#}");
            assert_eq!(check_status(&api, "revocation"), "pass", "{api:#}");
            assert_eq!(check_status(&api, "anchor"), "absent", "{api:#}");
        } else {
            assert_eq!(checks(cli), checks(&api), "{what}: {cli:#} {api:#}");
        }
        assert_eq!(cli["verdict"], api["verdict"], "{what}");
        assert_eq!(cli["warnings"], api["warnings"], "{what}");
        // Not anchored is not a failure: judged on its other checks.
        let expected = match *what {
            "valid" | "backdated" | "unanchored" => "valid",
            _ => "invalid",
        };
        assert_eq!(api["verdict"], expected, "{what}: {api:#}");
    }
    let warned = |report: &Value| {
        report["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w.as_str().unwrap().contains("days before the anchor"))
        })
    };
    // The backdating warning, online and from a bundle offline.
    let api: Value = http()
        .post(format!("{}/credentials/verify", node.url))
        .json(&json!({"verifiableCredential": backdated}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(warned(&api), "{api:#}");
    let bundle = node.get_json(&format!("/credentials/{}/bundle", encode(&ids[1])));
    let file = dir.path().join("bundle.json");
    cairn_tests::write_json(&file, &bundle);
    let block = backdated["proof"][1]["blockHash"].as_str().unwrap();
    let (code, offline) =
        cairn_tests::verify_json(&[&file], &["--offline", "--trust-block", block]);
    assert_eq!(code, 3, "revocation is unknown offline: {offline:#}");
    let offline = &offline["credentials"][0];
    assert_eq!(
        cairn_tests::check_status(offline, "anchor"),
        "pass",
        "{offline:#}"
    );
    assert!(warned(offline), "{offline:#}");
}

/// A VC 1.1 credential is issued as the installed base reads it
/// (`issuanceDate`, the Data Integrity context added for its proof, the
/// issuer a DID), and verifies; a credential bringing a status entry of its
/// issuer's own keeps it, beside the node's, and the node's lists set only
/// their own bits.
#[test]
fn a_vc_1_1_credential_and_an_issuers_own_status_entry_are_issued() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &["--batch-max-age", "3600"], &[]);
    let token = node_token(&data);
    let v1 = json!({
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:example:licensee"}
    });
    let (status, r) = node.issue(&token, &v1);
    assert_eq!(status, 201, "{r}");
    let vc = &r["verifiableCredential"];
    assert!(
        vc["issuanceDate"].is_string() && vc.get("validFrom").is_none(),
        "{vc:#}"
    );
    assert_eq!(
        vc["@context"],
        json!([
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/security/data-integrity/v2"
        ])
    );
    assert_eq!(vc["issuer"], node.get_json("/health")["issuer"]);
    assert_eq!(vc["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    assert!(
        vc.get("credentialStatus").is_none(),
        "VC 1.1 has no BitstringStatusListEntry term"
    );
    let report: Value = http()
        .post(format!("{}/credentials/verify", node.url))
        .json(&json!({"verifiableCredential": vc}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(report["verdict"], "valid", "{report:#}");
    // An Open Badge is VC 2.0.
    let mut badge_v1 = unsigned_credential("did:example:x");
    badge_v1["@context"][0] = json!("https://www.w3.org/2018/credentials/v1");
    let (status, p) = node.issue(&token, &badge_v1);
    assert_eq!(
        (status, &p["field"]),
        (400, &json!("credential.@context")),
        "{p}"
    );

    // The issuer's own status entry, on a list elsewhere, comes first.
    let theirs = json!({
        "id": "https://board.example/status/3#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://board.example/status-lists/revocation-1"
    });
    let mut own = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "did:example:holder"},
        "credentialStatus": theirs
    });
    let (status, r) = node.issue(&token, &own);
    assert_eq!(status, 201, "{r}");
    let vc = r["verifiableCredential"].clone();
    let entries = vc["credentialStatus"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{vc:#}");
    assert_eq!(entries[0], theirs);
    let ours = entries[1]["statusListIndex"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let r = http()
        .post(format!("{}/credentials/status", node.url))
        .bearer_auth(&token)
        .json(&json!({"credentialId": vc["id"],
            "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let list = node.get_json("/status-lists/revocation-1");
    let bits = cairn_verifier::statuslist::decode(
        list["credentialSubject"]["encodedList"].as_str().unwrap(),
    )
    .unwrap();
    assert!(cairn_verifier::statuslist::get(&bits, ours));
    assert!(
        !cairn_verifier::statuslist::get(&bits, 94567),
        "not the node's bit to set"
    );
    // A list of the node's is the node's to name: an entry of the caller's
    // could aim a revocation at another credential's bit.
    let mut aimed = own.clone();
    aimed["credentialStatus"] = json!({
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": ours.to_string(),
        "statusListCredential": format!("{}/status-lists/revocation-1", node.url)
    });
    let (status, p) = node.issue(&token, &aimed);
    assert_eq!(
        (status, &p["field"]),
        (
            400,
            &json!("credential.credentialStatus[0].statusListCredential")
        ),
        "{p}"
    );
    // An entry under the node's own URL is the node's to make.
    own["credentialStatus"]["id"] = json!(format!("{}/status-lists/revocation-1#1", node.url));
    let (status, p) = node.issue(&token, &own);
    assert_eq!(
        (status, &p["field"]),
        (400, &json!("credential.credentialStatus[0].id")),
        "{p}"
    );
}
