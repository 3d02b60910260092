//! Claiming awards into wallets (issue #15), on anvil, with the wallets'
//! own libraries: the Learner Credential Wallet's (`@digitalcredentials/*`,
//! `interop/lcw-wallet.mjs`) over VC-API exchanges, and an OpenID4VCI 1.0
//! client (`@openid4vc/openid4vci`, `interop/oid4vci-wallet.mjs`) that reads
//! the offer from the claim page's QR code. Each claimed credential names
//! the wallet's DID as its subject, is anchored, and passes `cairn verify
//! --rpc-url` with the node gone; every wrong challenge, domain, signature,
//! replay, code, nonce, audience and key gets the protocol's refusal, and
//! the abuse limits hold across a restart.

use std::process::Command;

use cairn_tests::{
    cairn, checked, deploy, encode, field, node_token, nurse_badge, repo_root, run, send,
    start_on_anvil, write_achievement, Anvil, NodeProcess,
};
use reqwest::Method;
use serde_json::{json, Value};

fn award(node: &NodeProcess, token: &str, email: &str, tx_code: bool) -> Value {
    let credential = nurse_badge(email);
    let (status, body) = send(
        node,
        token,
        Method::POST,
        "/credentials/issue",
        Some(
            &json!({"credential": credential, "options": {"recipientEmail": email, "txCode": tx_code}}),
        ),
    );
    assert_eq!(status, 201, "{body:#}");
    assert!(body["claimUrl"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/claim/", node.url)));
    assert_eq!(body["txCode"].is_string(), tx_code, "{body:#}");
    body
}

/// Runs a wallet script; its one JSON line.
fn wallet(script: &str, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(repo_root().join("tests/interop").join(script))
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{script} {args:?} printed {stdout}: {e}"))
}

fn claim_state(node: &NodeProcess, token: &str, id: &str) -> Value {
    let (status, award) = send(
        node,
        token,
        Method::GET,
        &format!("/credentials/{}/award", encode(id)),
        None,
    );
    assert_eq!(status, 200, "{award:#}");
    award
}

/// The claim token at the end of a claim link.
fn token_of(claim_url: &str) -> &str {
    claim_url.rsplit('/').next().unwrap()
}

/// The OpenID4VCI offer behind a claim token, and its pre-authorized code.
fn offer_of(node: &NodeProcess, claim_token: &str) -> (Value, String) {
    let offer = node.get_json(&format!("/oid4vci/offers/{claim_token}"));
    let code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
        ["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();
    (offer, code)
}

/// What a wallet following the claim link's interaction URL is told.
fn interaction(node: &NodeProcess, claim_url: &str) -> (u16, Value) {
    let token = token_of(claim_url);
    let path = format!("/interactions/{token}");
    let r = reqwest::blocking::Client::new()
        .get(format!("{}{path}?iuv=1", node.url))
        .header("accept", "application/json")
        .send()
        .unwrap();
    let r = checked("GET", &path, r);
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// The claim page's data, as its browser code reads it.
fn claim_page(node: &NodeProcess, claim_url: &str) -> Value {
    let html = node.get(&claim_url[node.url.len()..]).text().unwrap();
    let start = html.find("id=\"cairn-page\">").unwrap() + 16;
    let end = html[start..].find("</script>").unwrap() + start;
    serde_json::from_str(&html[start..end]).unwrap()
}

fn revoke(node: &NodeProcess, token: &str, id: &str) {
    let (status, body) = send(
        node,
        token,
        Method::POST,
        "/credentials/status",
        Some(
            &json!({"credentialId": id, "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]}),
        ),
    );
    assert_eq!(status, 200, "{body:#}");
}

fn token_request(node: &NodeProcess, code: &str, tx_code: &str) -> (u16, Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/oid4vci/token", node.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code={code}&tx_code={tx_code}"
        ))
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

#[test]
fn wallets_claim_badges_bound_to_their_dids() {
    let anvil = Anvil::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (key, registry, _) = deploy(&anvil, dir.path());
    let data = dir.path().join("node");
    let node = start_on_anvil(&data, &anvil, &key, &registry, &[]);
    let token = node_token(&data);

    // The Learner Credential Wallet, over a VC-API exchange.
    let lcw = award(&node, &token, "ada@nurses.example", false);
    let claim_url = lcw["claimUrl"].as_str().unwrap();
    let page = node.get(&claim_url[node.url.len()..]);
    assert_eq!(page.status(), 200);
    let claimed = wallet("lcw-wallet.mjs", &[claim_url]);
    let did = claimed["did"].as_str().unwrap();
    assert!(did.starts_with("did:key:z6Mk"), "{claimed:#}");
    let lcw_vc = &claimed["credential"];
    assert_eq!(lcw_vc["credentialSubject"]["id"], did);
    assert_ne!(lcw_vc["id"], lcw["verifiableCredential"]["id"]);
    assert_eq!(
        claimed["verified"]["verified"], true,
        "{:#}",
        claimed["verified"]
    );
    let original = lcw["verifiableCredential"]["id"].as_str().unwrap();
    let state = claim_state(&node, &token, original);
    assert_eq!(state["state"], "claimed");
    assert_eq!(state["claimed"], json!([lcw_vc["id"]]));

    // Wrong challenge, wrong domain, a tampered presentation: refused, the
    // field named, and the award still open.
    let other = award(&node, &token, "bea@nurses.example", false);
    let other_url = other["claimUrl"].as_str().unwrap();
    for (mode, field) in [
        ("wrong-challenge", "verifiablePresentation.proof.challenge"),
        ("wrong-domain", "verifiablePresentation.proof.domain"),
        ("bad-signature", "verifiablePresentation.proof"),
    ] {
        let out = wallet("lcw-wallet.mjs", &[other_url, mode]);
        assert_eq!(out["status"], 400, "{mode}: {out:#}");
        assert_eq!(out["body"]["field"], field, "{mode}: {out:#}");
    }
    assert_eq!(
        claim_state(
            &node,
            &token,
            other["verifiableCredential"]["id"].as_str().unwrap()
        )["state"],
        "open"
    );
    // A presentation sent again, and a new exchange once claimed.
    let out = wallet("lcw-wallet.mjs", &[other_url, "replay"]);
    assert_eq!(out["status"], 409, "{out:#}");
    assert_eq!(
        out["body"]["type"], "urn:cairn:problem:exchange-complete",
        "{out:#}"
    );
    assert_eq!(out["secondExchange"]["status"], 409, "{out:#}");
    assert_eq!(out["claimState"], "claimed", "{out:#}");
    // Revoking the award revokes the credential claimed with it.
    let other_id = other["verifiableCredential"]["id"].as_str().unwrap();
    let copy = claim_state(&node, &token, other_id)["claimed"][0]
        .as_str()
        .unwrap()
        .to_owned();
    revoke(&node, &token, other_id);
    let status = node.get_json(&format!("/credentials/{}/status", encode(&copy)));
    assert_eq!(status["status"], "revoked", "{status:#}");

    // A revoked award is not claimed, by either protocol.
    let revoked = award(&node, &token, "fay@nurses.example", false);
    let revoked_url = revoked["claimUrl"].as_str().unwrap();
    revoke(
        &node,
        &token,
        revoked["verifiableCredential"]["id"].as_str().unwrap(),
    );
    assert_eq!(claim_page(&node, revoked_url)["state"], "withdrawn");
    let (status, body) = interaction(&node, revoked_url);
    assert_eq!(
        (status, body["type"].as_str()),
        (409, Some("urn:cairn:problem:award-not-claimable")),
        "{body:#}"
    );
    let claim_token = token_of(revoked_url);
    let offer = node.get(&format!("/oid4vci/offers/{claim_token}"));
    assert_eq!(offer.status(), 409);
    assert_eq!(offer.json::<Value>().unwrap()["error"], "invalid_request");

    // A transaction code guards the award on every path: no VC-API
    // exchange (which never asks for it), no LCW link on the page.
    let guarded = award(&node, &token, "gus@nurses.example", true);
    let guarded_url = guarded["claimUrl"].as_str().unwrap();
    let page = claim_page(&node, guarded_url);
    assert_eq!(
        (page["lcwUrl"].as_str(), page["state"].as_str()),
        (Some(""), Some("open")),
        "{page:#}"
    );
    assert!(!page
        .to_string()
        .contains(guarded["txCode"].as_str().unwrap()));
    let (status, body) = interaction(&node, guarded_url);
    assert_eq!(status, 200);
    assert!(
        body["protocols"]["vcapi"].is_null() && body["protocols"]["OID4VCI"].is_string(),
        "{body:#}"
    );
    let (status, body) = send(
        &node,
        "",
        Method::POST,
        "/workflows/claim/exchanges",
        Some(&json!({"variables": {"claimToken": token_of(guarded_url)}})),
    );
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("urn:cairn:problem:tx-code-required")),
        "{body:#}"
    );

    // An OpenID4VCI wallet, with a transaction code, Ed25519 and P-256.
    let verify_args = json!([]).to_string();
    let mut oid4vci_vcs = Vec::new();
    for mode in ["happy", "es256"] {
        // The first through `cairn issue --tx-code`, which prints the claim
        // link and the code.
        let (claim_url, tx_code) = if mode == "happy" {
            let out = run(cairn()
                .args(["issue", "--node", &node.url, "--token", &token, "--tx-code"])
                .arg("--achievement")
                .arg(write_achievement(dir.path()))
                .args(["--recipient", "cy@nurses.example"]))
            .success();
            let link = field(&out.stderr, "claim link").unwrap();
            let code = field(&out.stderr, "transaction code").unwrap();
            let link = link.split(' ').next().unwrap().to_owned();
            let code = code.split(' ').next().unwrap().to_owned();
            assert!(
                code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
                "{out:#?}"
            );
            (link, code)
        } else {
            let offer = award(&node, &token, "cy@nurses.example", true);
            (
                offer["claimUrl"].as_str().unwrap().to_owned(),
                offer["txCode"].as_str().unwrap().to_owned(),
            )
        };
        let out = Command::new("node")
            .arg(repo_root().join("tests/interop/oid4vci-wallet.mjs"))
            .args([claim_url.as_str(), tx_code.as_str(), mode])
            .env("VERIFY_ARGS", &verify_args)
            .current_dir(repo_root())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line: Value =
            serde_json::from_str(stdout.lines().last().unwrap_or("null")).unwrap_or(Value::Null);
        assert!(
            out.status.success(),
            "{mode}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(line["holderBound"], true, "{line:#}");
        assert_eq!(line["credential"]["credentialSubject"]["id"], line["did"]);
        oid4vci_vcs.push(line["credential"].clone());
    }
    // Each refusal as OpenID4VCI 1.0 names it.
    for (mode, error) in [
        ("reused-code", "invalid_grant"),
        ("wrong-tx-code", "invalid_grant"),
        ("stale-nonce", "invalid_nonce"),
        ("unknown-nonce", "invalid_nonce"),
        ("wrong-aud", "invalid_proof"),
        ("other-key", "invalid_proof"),
    ] {
        let offer = award(&node, &token, "dee@nurses.example", true);
        let out = wallet(
            "oid4vci-wallet.mjs",
            &[
                offer["claimUrl"].as_str().unwrap(),
                offer["txCode"].as_str().unwrap(),
                mode,
            ],
        );
        assert_eq!(out["error"], error, "{mode}: {out:#}");
        assert_eq!(out["expected"], error, "{mode}: {out:#}");
    }

    // Wrong transaction codes lock the offer, across a restart; the right
    // code is then refused too.
    let locked = award(&node, &token, "eve@nurses.example", true);
    let locked_id = locked["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let claim_token = token_of(locked["claimUrl"].as_str().unwrap()).to_owned();
    let (_, code) = offer_of(&node, &claim_token);
    let right = locked["txCode"].as_str().unwrap().to_owned();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..2 {
        assert_eq!(
            token_request(&node, &code, wrong).1["error"],
            "invalid_grant"
        );
    }
    // The issuer's analytics count each wallet claim once, for the award
    // claimed (by either protocol), before the node is killed.
    let (status, report) = send(&node, &token, Method::GET, "/analytics", None);
    assert_eq!(status, 200, "{report:#}");
    let claimed: Vec<&str> = report["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["walletClaims"] != 0)
        .inspect(|c| assert_eq!(c["walletClaims"], 1, "{c:#}"))
        .map(|c| c["credential"].as_str().unwrap())
        .collect();
    assert_eq!(report["totals"]["walletClaims"], claimed.len());
    assert!(claimed.len() >= 2 + oid4vci_vcs.len(), "{report:#}");
    assert!(
        claimed.contains(&original) && claimed.contains(&other_id),
        "{report:#}"
    );

    drop(node);
    let node = start_on_anvil(&data, &anvil, &key, &registry, &[]);
    for _ in 0..3 {
        assert_eq!(
            token_request(&node, &code, wrong).1["error"],
            "invalid_grant"
        );
    }
    let (status, body) = token_request(&node, &code, &right);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body:#}"
    );
    assert_eq!(claim_state(&node, &token, &locked_id)["state"], "locked");
    assert_eq!(claim_state(&node, &token, &locked_id)["failedTries"], 5);
    // The issuer gives it a new link and code: the old link is gone, the
    // new code buys a token.
    let (status, renewed) = send(
        &node,
        &token,
        Method::POST,
        &format!("/credentials/{}/award", encode(&locked_id)),
        Some(&json!({"txCode": true})),
    );
    assert_eq!(status, 200, "{renewed:#}");
    assert_eq!(renewed["state"], "open");
    let new_url = renewed["claimUrl"].as_str().unwrap();
    assert_ne!(new_url, locked["claimUrl"].as_str().unwrap());
    // The same from the command line: the award as it stands, and a
    // claimed award refused a new link in one line.
    let out = run(cairn().args([
        "award", "show", "--node", &node.url, "--token", &token, &locked_id,
    ]))
    .success();
    assert!(
        out.stdout.contains(new_url) && out.stdout.contains(" open "),
        "{out:#?}"
    );
    let out = run(cairn().args([
        "award", "renew", "--node", &node.url, "--token", &token, original,
    ]));
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(out.one_line_error().contains("claimed"), "{out:#?}");
    let old = node.get(&format!("/claim/{claim_token}"));
    assert_eq!(old.status(), 404);
    let new_token = token_of(new_url);
    let (offer, code) = offer_of(&node, new_token);
    // The same offer by value, for issuers who send it themselves.
    let award = claim_state(&node, &token, &locked_id);
    let by_value = award["credentialOffer"].as_str().unwrap();
    let by_value = by_value
        .strip_prefix("openid-credential-offer://?credential_offer=")
        .unwrap();
    let by_value: Value = serde_json::from_str(
        &percent_encoding::percent_decode_str(by_value)
            .decode_utf8()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(by_value, offer);
    assert!(award["credentialOfferUri"]
        .as_str()
        .unwrap()
        .ends_with(&format!("%2F{new_token}")));
    let (status, body) = token_request(&node, &code, renewed["txCode"].as_str().unwrap());
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["token_type"], "Bearer");

    // Every claimed credential is anchored, and verifies with the node gone.
    let mut files = Vec::new();
    for (i, vc) in std::iter::once(lcw_vc).chain(&oid4vci_vcs).enumerate() {
        let id = vc["id"].as_str().unwrap();
        node.wait_anchored(id, std::time::Duration::from_secs(60));
        let (status, bundle) = send(
            &node,
            &token,
            Method::GET,
            &format!("/credentials/{}/bundle", encode(id)),
            None,
        );
        assert_eq!(status, 200, "{bundle:#}");
        let file = dir.path().join(format!("claimed-{i}.json"));
        std::fs::write(&file, bundle.to_string()).unwrap();
        files.push(file);
    }
    drop(node);
    let out = run(cairn()
        .args(["verify", "--json", "--rpc-url", &anvil.url])
        .args(&files));
    let report = out.json();
    let reports = report["credentials"].as_array().unwrap();
    assert_eq!(reports.len(), 3, "{report:#}");
    for r in reports {
        assert_eq!(r["verdict"], "valid", "{r:#}");
        for check in r["checks"].as_array().unwrap() {
            assert_eq!(check["status"], "pass", "{r:#}");
        }
    }
}
