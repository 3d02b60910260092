//! Hostile and unlucky input against a running node (issue #19): documents
//! that would buy unbounded CPU, ids that would shadow the node's own
//! documents, bulk uploads with bad lines in the middle, failed issuances
//! and status-list slots, doctored anchor entries, and the HTTP details
//! (media types, the bearer scheme, undecodable paths). One node for all.

use std::time::Duration;

use cairn_tests::{
    cairn, checked, encode, node_token, node_token_as, poison_credential, run, unsigned_credential,
    write_json, NodeProcess, Reply,
};
use reqwest::blocking::Client;
use serde_json::{json, Value};

fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn problem(r: Reply, status: u16, what: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "{what}");
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "{what}"
    );
    r.json().unwrap()
}

/// A metric's value from `GET /metrics`.
fn metric(node: &NodeProcess, name: &str) -> f64 {
    let text = node.get("/metrics").text().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn hostile_input_is_refused_cheaply_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &["--batch-max-age", "1"], &[]);
    let token = node_token(&data);
    let client = http();
    let post = |path: &str, body: &Value| {
        let r = client
            .post(format!("{}{path}", node.url))
            .bearer_auth(&token)
            .json(body)
            .send()
            .unwrap();
        checked("POST", path, r)
    };

    // 1. Canonicalization is bounded: the poison credential is refused as
    // too complex through every door, not worked on for minutes.
    for n in [9, 12, 20] {
        let p = problem(
            post(
                "/credentials/issue",
                &json!({"credential": poison_credential(n)}),
            ),
            400,
            &format!("issuing the poison at n = {n}"),
        );
        assert!(p["detail"].as_str().unwrap().contains("too complex"), "{p}");
    }
    // A signed poison, to verify: the bound holds for the signer too, so
    // sign a small one and grow its evidence after (the signature then
    // fails, but only after canonicalization, which must stop early).
    let small = post(
        "/credentials/issue",
        &json!({"credential": poison_credential(3)}),
    );
    assert_eq!(small.status().as_u16(), 201, "three alike nodes are fine");
    let mut signed: Value = small.json::<Value>().unwrap()["verifiableCredential"].clone();
    for n in [9, 12, 20] {
        signed["evidence"] = poison_credential(n)["evidence"].clone();
        let r: Value = post(
            "/credentials/verify",
            &json!({"verifiableCredential": signed}),
        )
        .json()
        .unwrap();
        let signature = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "signature")
            .unwrap();
        assert_eq!(signature["status"], "fail", "{r}");
        assert!(
            signature["detail"]
                .as_str()
                .unwrap()
                .contains("too complex"),
            "{r}"
        );
        let file = dir.path().join(format!("poison{n}.json"));
        write_json(&file, &signed);
        let out = run(cairn().arg("verify").arg(&file));
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stdout.contains("too complex"), "{}", out.stdout);
    }

    // 3. An id under the node's own URL space is refused: it could shadow
    // a node document.
    let mut shadow = unsigned_credential("did:example:x");
    shadow["id"] = json!(format!("{}/status-lists/revocation-1?version=0", node.url));
    let p = problem(
        post("/credentials/issue", &json!({"credential": shadow})),
        400,
        "an id under /status-lists/",
    );
    assert_eq!(p["field"], "credential.id", "{p}");
    let list = node.get_json("/status-lists/revocation-1");
    assert_eq!(list["type"][1], "BitstringStatusListCredential", "{list}");

    // 5. A refused issuance gives its status-list slot back.
    let taken = metric(&node, "cairn_status_slots_taken");
    let mut dup = unsigned_credential("did:example:dup");
    dup["id"] = json!("urn:uuid:0b7c6c0e-2f9a-4d3e-8a1c-3a2b1c0d9e8f");
    assert_eq!(
        post("/credentials/issue", &json!({"credential": dup})).status(),
        201
    );
    for _ in 0..5 {
        problem(
            post("/credentials/issue", &json!({"credential": dup})),
            409,
            "a duplicate id",
        );
    }
    assert_eq!(
        metric(&node, "cairn_status_slots_taken"),
        taken + 1.0,
        "five refused duplicates took no slot"
    );

    // 4. A bulk upload goes on after a line too long and a line that is not
    // UTF-8; every line is reported.
    let good = |s: &str| json!({"credential": unsigned_credential(s)}).to_string();
    let mut body = Vec::new();
    body.extend_from_slice(good("did:example:b0").as_bytes());
    body.push(b'\n');
    body.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 10));
    body.push(b'\n');
    body.extend_from_slice(b"{\"credential\": \"\xff\xfe\"}\n");
    body.extend_from_slice(good("did:example:b1").as_bytes());
    body.push(b'\n');
    let lines = node.bulk(&token, None, body);
    let out = format!("{lines:?}");
    let statuses: Vec<_> = lines[..4].iter().map(|l| l["status"].clone()).collect();
    assert_eq!(
        statuses,
        [json!(201), json!(413), json!(400), json!(201)],
        "{out}"
    );
    assert_eq!(lines[4]["summary"]["issued"], 2, "{out}");
    assert_eq!(lines[4]["summary"]["failed"], 2, "{out}");

    // 7. A status list is dated safely in the past and says how fresh it is.
    let list = node.get_json("/status-lists/revocation-1");
    let from = chrono::DateTime::parse_from_rfc3339(list["validFrom"].as_str().unwrap()).unwrap();
    assert!(
        chrono::Utc::now() - from.with_timezone(&chrono::Utc) > chrono::TimeDelta::minutes(30),
        "{list}"
    );
    assert!(
        list["credentialSubject"]["ttl"].as_u64().is_some(),
        "{list}"
    );

    // 6. Every field of the anchor entry is checked: a doctored block hash
    // fails the anchor check, naming the field.
    let issued: Value = post(
        "/credentials/issue",
        &json!({"credential": unsigned_credential("did:example:anchored")}),
    )
    .json()
    .unwrap();
    let id = issued["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.wait_anchored(&id, Duration::from_secs(60));
    let anchored = node.get_json(&format!("/credentials/{}", encode(&id)));
    let verify = |vc: &Value| -> Value {
        post("/credentials/verify", &json!({"verifiableCredential": vc}))
            .json()
            .unwrap()
    };
    let anchor_check = |r: &Value| {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "anchor")
            .cloned()
            .unwrap_or_else(|| panic!("no anchor check: {r}"))
    };
    let r = verify(&anchored);
    assert_eq!(r["verdict"], "valid", "{r}");
    for (field, value) in [
        ("blockHash", json!(format!("0x{}", "11".repeat(32)))),
        (
            "blockNumber",
            json!(anchored["proof"][1]["blockNumber"].as_u64().unwrap() + 1),
        ),
        ("transaction", json!(format!("0x{}", "22".repeat(32)))),
    ] {
        let mut doctored = anchored.clone();
        doctored["proof"][1][field] = value;
        let r = verify(&doctored);
        let check = anchor_check(&r);
        assert_eq!(check["status"], "fail", "{field}: {r}");
        assert!(
            check["detail"].as_str().unwrap().contains(field),
            "{field}: {r}"
        );
    }

    // 9. HTTP details: a media type that only starts like JSON, the bearer
    // scheme in capitals, a path that does not decode.
    let body =
        serde_json::to_vec(&json!({"credential": unsigned_credential("did:example:m")})).unwrap();
    let send = |ct: &str, auth: &str| {
        let r = client
            .post(format!("{}/credentials/issue", node.url))
            .header("content-type", ct)
            .header("authorization", auth)
            .body(body.clone())
            .send()
            .unwrap();
        checked("POST", "/credentials/issue", r)
    };
    let p = problem(
        send("application/jsonfoo", &format!("Bearer {token}")),
        415,
        "jsonfoo",
    );
    assert_eq!(p["field"], "Content-Type");
    assert_eq!(
        send(
            "application/json; charset=utf-8",
            &format!("BEARER {token}")
        )
        .status(),
        201,
        "the scheme is case-insensitive"
    );
    let p = problem(node.get("/credentials/%FF%FE"), 400, "an undecodable path");
    assert_eq!(p["field"], "path");
    let p = problem(
        node.get(&format!("/credentials/{}", encode("urn:uuid:nothing"))),
        404,
        "an unknown credential",
    );
    assert_eq!(p["field"], "id");

    // Wallets' endpoints: every refusal named, none costly.
    wallet_input_is_refused_and_named(&node, &client, &token);
    roles_limit_what_a_token_changes(&node, &data, &client, &token);
}

/// A viewer token reads everything and changes nothing; an issuer token
/// issues and revokes but leaves badge classes, the profile and
/// endorsements to an admin.
fn roles_limit_what_a_token_changes(
    node: &NodeProcess,
    data: &std::path::Path,
    client: &Client,
    admin: &str,
) {
    let viewer = node_token_as(data, "viewer");
    let issuer = node_token_as(data, "issuer");
    let call = |method: reqwest::Method, path: &str, token: &str, body: Value| {
        let r = client
            .request(method.clone(), format!("{}{path}", node.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .unwrap();
        checked(method.as_str(), path, r)
    };
    let r = call(
        reqwest::Method::POST,
        "/credentials/issue",
        admin,
        json!({"credential": unsigned_credential("did:example:roles")}),
    );
    let issued: Value = r.json().unwrap();
    let id = issued["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let enc = encode(&id);
    use reqwest::Method as M;
    let changes = [
        (
            M::POST,
            "/credentials/issue".to_owned(),
            json!({"credential": unsigned_credential("did:example:v")}),
        ),
        (
            M::POST,
            "/credentials/issue/bulk".to_owned(),
            json!([{"credential": unsigned_credential("did:example:v")}]),
        ),
        (
            M::POST,
            "/credentials/status".to_owned(),
            json!({"credentialId": id, "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "suspended"}]}),
        ),
        (M::POST, format!("/credentials/{enc}/renew"), json!({})),
        (
            M::PUT,
            format!("/credentials/{enc}/page"),
            json!({"private": true}),
        ),
        (M::POST, format!("/credentials/{enc}/award"), json!({})),
        (
            M::POST,
            "/earners/did%3Aexample%3Aroles/certifications".to_owned(),
            json!({"achievement": "x"}),
        ),
        (M::POST, "/endorsements".to_owned(), json!({})),
        (M::POST, "/achievements".to_owned(), json!({})),
        (M::PUT, "/achievements/x".to_owned(), json!({})),
        (M::DELETE, "/achievements/x".to_owned(), json!({})),
        (M::PUT, "/issuer".to_owned(), json!({})),
        (
            M::POST,
            "/workflows/claim/exchanges".to_owned(),
            json!({"variables": {"credentialId": id}}),
        ),
    ];
    for (method, path, body) in &changes {
        let p = problem(
            call(method.clone(), path, &viewer, body.clone()),
            403,
            &format!("viewer {method} {path}"),
        );
        assert_eq!(p["field"], "Authorization", "{p}");
        assert!(p["detail"].as_str().unwrap().contains("viewer"), "{p}");
    }
    // The viewer reads.
    for path in [
        format!("/credentials/{enc}/award"),
        format!("/credentials/{enc}/page"),
        "/credentials?expiring-before=2100-01-01".to_owned(),
    ] {
        assert_eq!(
            call(M::GET, &path, &viewer, json!(null)).status().as_u16(),
            200,
            "viewer GET {path}"
        );
    }
    // The issuer issues and suspends, and is refused the admin's changes.
    assert_eq!(
        call(
            M::POST,
            "/credentials/issue",
            &issuer,
            json!({"credential": unsigned_credential("did:example:i")})
        )
        .status()
        .as_u16(),
        201
    );
    assert_eq!(
        call(
            M::POST,
            "/credentials/status",
            &issuer,
            changes[2].2.clone()
        )
        .status()
        .as_u16(),
        200
    );
    for (method, path, body) in &changes[7..12] {
        let p = problem(
            call(method.clone(), path, &issuer, body.clone()),
            403,
            &format!("issuer {method} {path}"),
        );
        assert!(p["detail"].as_str().unwrap().contains("needs admin"), "{p}");
    }
}

/// An OAuth error: its status, `application/json` (what OpenID4VCI
/// clients read), `no-store`, and the error code.
fn oauth_error(r: Reply, status: u16, error: &str, what: &str) {
    assert_eq!(r.status().as_u16(), status, "{what}");
    assert_eq!(r.headers()["content-type"], "application/json", "{what}");
    assert_eq!(r.headers()["cache-control"], "no-store", "{what}");
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], error, "{what}: {v}");
}

fn wallet_input_is_refused_and_named(node: &NodeProcess, client: &Client, token: &str) {
    let post_raw = |path: &str, ct: &str, body: Vec<u8>, bearer: Option<&str>| {
        let mut r = client
            .post(format!("{}{path}", node.url))
            .header("content-type", ct)
            .body(body);
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        checked("POST", path, r.send().unwrap())
    };
    let form = "application/x-www-form-urlencoded";
    // The token endpoint: too big, another grant, no code, junk bytes.
    oauth_error(
        post_raw("/oid4vci/token", form, vec![b'a'; 70_000], None),
        413,
        "invalid_request",
        "a huge form",
    );
    oauth_error(
        post_raw(
            "/oid4vci/token",
            form,
            b"grant_type=authorization_code&code=x".to_vec(),
            None,
        ),
        400,
        "unsupported_grant_type",
        "another grant",
    );
    oauth_error(
        post_raw(
            "/oid4vci/token",
            form,
            b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code".to_vec(),
            None,
        ),
        400,
        "invalid_request",
        "no code",
    );
    oauth_error(
        post_raw("/oid4vci/token", form, vec![0xff, 0xfe, b'=', 0x80], None),
        400,
        "invalid_request",
        "junk bytes",
    );
    // The credential endpoint: no token, a made-up one.
    let r = post_raw(
        "/oid4vci/credential",
        "application/json",
        b"{}".to_vec(),
        None,
    );
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    oauth_error(r, 401, "invalid_token", "no access token");
    oauth_error(
        post_raw(
            "/oid4vci/credential",
            "application/json",
            b"{}".to_vec(),
            Some("made-up"),
        ),
        401,
        "invalid_token",
        "a made-up access token",
    );
    // Claim links and exchanges that do not exist, however long or odd.
    let p = problem(
        node.get(&format!("/claim/{}", "A".repeat(10_000))),
        404,
        "a long token",
    );
    assert_eq!(p["field"], "token");
    assert_eq!(
        problem(node.get("/claim/%FF%FE"), 400, "an undecodable token")["field"],
        "path"
    );
    let p = problem(
        post_raw(
            "/workflows/claim/exchanges/nothing",
            "application/json",
            b"{}".to_vec(),
            None,
        ),
        404,
        "an unknown exchange",
    );
    assert_eq!(p["field"], "exchangeId");
    let p = problem(
        post_raw(
            "/workflows/other/exchanges",
            "application/json",
            b"{}".to_vec(),
            None,
        ),
        404,
        "another workflow",
    );
    assert_eq!(p["field"], "workflow");
    let p = problem(
        post_raw(
            "/workflows/claim/exchanges",
            "application/json",
            b"{\"variables\":".to_vec(),
            None,
        ),
        400,
        "a broken body",
    );
    assert_eq!(p["field"], "body");

    // A real award: its exchange takes a presentation built to cost
    // factorial work in canonicalization, and refuses it at once; its
    // access token takes proofs that are too long or unsigned.
    let issue = |options: Value| {
        let r = client
            .post(format!("{}/credentials/issue", node.url))
            .bearer_auth(token)
            .json(&json!({"credential": unsigned_credential("did:example:wallet"), "options": options}))
            .send()
            .unwrap();
        let v: Value = checked("POST", "/credentials/issue", r).json().unwrap();
        v["claimUrl"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let claim = issue(json!({}));
    let r = client
        .get(format!("{}/interactions/{claim}?iuv=1", node.url))
        .header("accept", "application/json")
        .send()
        .unwrap();
    let protocols: Value = checked("GET", &format!("/interactions/{claim}"), r)
        .json()
        .unwrap();
    let exchange = protocols["protocols"]["vcapi"].as_str().unwrap().to_owned();
    let path = &exchange[node.url.len()..];
    let vpr: Value = post_raw(path, "application/json", b"{}".to_vec(), None)
        .json()
        .unwrap();
    let request = &vpr["verifiablePresentationRequest"];
    let mut vp = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "verifiableCredential": [poison_credential(30)],
    });
    vp["proof"] = json!({
        "type": "Ed25519Signature2020",
        "verificationMethod": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "proofPurpose": "authentication",
        "challenge": request["challenge"],
        "domain": request["domain"],
        "created": "2026-12-01T00:00:00Z",
        "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKKiW8fzmBJhVzSPYe",
    });
    let started = std::time::Instant::now();
    let p = problem(
        post_raw(
            path,
            "application/json",
            serde_json::to_vec(&json!({"verifiablePresentation": vp})).unwrap(),
            None,
        ),
        400,
        "a poisoned presentation",
    );
    assert_eq!(p["field"], "verifiablePresentation.proof", "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("too complex to canonicalize"),
        "{p}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refused in {:?}",
        started.elapsed()
    );

    let claim = issue(json!({}));
    let offer: Value = node
        .get(&format!("/oid4vci/offers/{claim}"))
        .json()
        .unwrap();
    let code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
        ["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let granted: Value = post_raw(
        "/oid4vci/token",
        form,
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}").into_bytes(),
        None,
    )
    .json()
    .unwrap();
    let access = granted["access_token"].as_str().unwrap().to_owned();
    let ask = |proofs: Value| {
        let body = json!({"credential_configuration_id": "OpenBadgeCredential", "proofs": proofs});
        post_raw(
            "/oid4vci/credential",
            "application/json",
            serde_json::to_vec(&body).unwrap(),
            Some(&access),
        )
    };
    oauth_error(
        ask(json!({"jwt": ["x".repeat(9_000)]})),
        400,
        "invalid_proof",
        "a proof too long",
    );
    // alg none: {"alg":"none","typ":"openid4vci-proof+jwt"} . {} . (no signature)
    oauth_error(
        ask(json!({"jwt": ["eyJhbGciOiJub25lIiwidHlwIjoib3BlbmlkNHZjaS1wcm9vZitqd3QifQ.e30."]})),
        400,
        "invalid_proof",
        "an unsigned proof",
    );
    oauth_error(
        ask(json!({"jwt": ["a", "b"]})),
        400,
        "invalid_proof",
        "two proofs",
    );
    oauth_error(
        ask(json!({"ldp_vp": [{}]})),
        400,
        "invalid_proof",
        "another proof type",
    );
    let body = json!({"credential_configuration_id": "Nothing", "proofs": {"jwt": ["a"]}});
    oauth_error(
        post_raw(
            "/oid4vci/credential",
            "application/json",
            serde_json::to_vec(&body).unwrap(),
            Some(&access),
        ),
        400,
        "unknown_credential_configuration",
        "an unknown configuration",
    );
    oauth_error(
        post_raw(
            "/oid4vci/credential",
            "application/json",
            b"[1,2".to_vec(),
            Some(&access),
        ),
        400,
        "invalid_credential_request",
        "a broken request",
    );
}

/// A shell command run in the node's user and mount namespaces, where its
/// small filesystem is mounted: (success, stdout).
fn in_node_namespace(node: &NodeProcess, script: &str) -> (bool, String) {
    let out = std::process::Command::new("nsenter")
        .args([
            "-t",
            &node.pid().to_string(),
            "-U",
            "-m",
            "--preserve-credentials",
        ])
        .args(["sh", "-c", script])
        .output()
        .expect("nsenter runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The node's data directory on a 40 MB filesystem of its own (a tmpfs in a
/// user and mount namespace: no root needed) is filled until writes fail.
/// The node answers 503 with `Retry-After`, `/health` says why, nothing it
/// acknowledged is lost, and once space is freed it issues again without a
/// restart; every status-list slot is held by a stored credential.
#[test]
fn a_full_disk_is_an_outage_the_node_recovers_from() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("fs");
    std::fs::create_dir(&mount).unwrap();
    let data = mount.join("data");
    let mount_arg = mount.to_str().unwrap().to_owned();
    let node = NodeProcess::start_wrapped(
        &[
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs -o size=40m tmpfs \"$0\" && exec \"$@\"",
            &mount_arg,
        ],
        &data,
        &["--batch-max-age", "3600"],
        &[],
    );
    let (ok, token) = in_node_namespace(
        &node,
        &format!(
            "{} token create --data-dir {}",
            cairn_tests::cairn_node_path().display(),
            data.display()
        ),
    );
    assert!(ok, "token create in the node's namespace");
    let token = token.trim().to_owned();
    let avail = |node: &NodeProcess| -> u64 {
        let (ok, out) = in_node_namespace(
            node,
            &format!("df -B1 --output=avail {mount_arg} | tail -1"),
        );
        assert!(ok);
        out.trim().parse().unwrap()
    };
    // Leave 1.5 MB, under the warning's mark (a twentieth of the
    // filesystem), then issue until the disk is full.
    let (ok, _) = in_node_namespace(
        &node,
        &format!(
            "fallocate -l {} {mount_arg}/filler",
            avail(&node) - (3 << 19)
        ),
    );
    assert!(ok, "fallocate");
    // The warning comes before the failures.
    node.poll(Duration::from_secs(10), || {
        match node.log_text().contains("nearly full") {
            true => Ok(()),
            false => Err("no warning of a nearly full disk".to_owned()),
        }
    });
    assert!(metric(&node, "cairn_store_free_bytes") < (2 << 20) as f64);
    let mut acknowledged = Vec::new();
    let mut full = false;
    for round in 0..40 {
        let body: String = (0..500)
            .map(|i| {
                json!({"credential": unsigned_credential(&format!("did:example:r{round}-{i}"))})
                    .to_string()
                    + "\n"
            })
            .collect();
        for line in node.bulk(&token, None, body) {
            match line["status"].as_u64() {
                Some(201) => acknowledged.push(line["id"].as_str().unwrap().to_owned()),
                Some(503) => full = true,
                Some(s) => panic!("status {s}: {line}"),
                None => {}
            }
        }
        if full {
            break;
        }
    }
    assert!(full, "the disk never filled");
    // Not a byte left, so that no reopen can write either; what RocksDB
    // preallocated for its log takes a few more credentials.
    let _ = in_node_namespace(
        &node,
        &format!(
            "dd if=/dev/zero of={mount_arg}/filler2 bs=64k 2>/dev/null; \
             dd if=/dev/zero of={mount_arg}/filler3 bs=512 2>/dev/null"
        ),
    );
    let (status, retry_after, problem) = node.poll(Duration::from_secs(60), || {
        let r = http()
            .post(format!("{}/credentials/issue", node.url))
            .bearer_auth(&token)
            .json(&json!({"credential": unsigned_credential("did:example:full")}))
            .send()
            .unwrap();
        let retry = r.headers().get("retry-after").cloned();
        let status = r.status().as_u16();
        let body = r.json::<Value>().unwrap();
        match status {
            201 => {
                acknowledged.push(
                    body["verifiableCredential"]["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
                Err("still writing".to_owned())
            }
            _ => Ok((status, retry, body)),
        }
    });
    assert_eq!(status, 503, "{problem}");
    assert!(retry_after.is_some());
    assert_eq!(problem["type"], "urn:cairn:problem:storage-unavailable");
    let health = node.get("/health");
    assert_eq!(health.status(), 503);
    let health: Value = health.json().unwrap();
    assert_eq!(health["status"], "degraded");
    assert!(
        health["store"]["cannotWrite"]
            .as_str()
            .unwrap()
            .contains("No space"),
        "{health}"
    );

    // Reads go on meanwhile, whatever the reopens find.
    std::thread::sleep(Duration::from_secs(3));
    for id in acknowledged.iter().step_by(97) {
        let r = node.get(&format!("/credentials/{}", encode(id)));
        assert_eq!(r.status(), 200, "{id} unreadable while the disk is full");
    }

    // Space comes back: the node writes again by itself.
    let (ok, _) = in_node_namespace(
        &node,
        &format!("rm {mount_arg}/filler {mount_arg}/filler2 {mount_arg}/filler3"),
    );
    assert!(ok);
    let last = node.poll(Duration::from_secs(30), || {
        let (status, body) = node.issue(&token, &unsigned_credential("did:example:after"));
        match status {
            201 => Ok(body["verifiableCredential"]["id"]
                .as_str()
                .unwrap()
                .to_owned()),
            s => Err(format!("still {s}: {body}")),
        }
    });
    acknowledged.push(last);
    assert_eq!(node.get_json("/health")["status"], "ok");
    for id in &acknowledged {
        assert_eq!(
            node.get(&format!("/credentials/{}", encode(id))).status(),
            200,
            "{id} lost"
        );
    }
    let issued = node.get_json("/health")["issued"].as_u64().unwrap();
    assert_eq!(
        issued,
        acknowledged.len() as u64,
        "every stored credential was acknowledged"
    );
    assert_eq!(
        metric(&node, "cairn_status_slots_taken") as u64,
        issued,
        "no slot wasted"
    );
}
