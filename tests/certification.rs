//! Continuing education adding up to a certification (issue #14), on
//! anvil: a nurse earns five CE credentials, one is revoked and stops
//! counting, the certification is refused while short, and issued with a
//! CLR 2.0 `ClrCredential` once a sixth arrives; with the node gone,
//! `cairn verify --rpc-url` passes the CLR and each credential inside it,
//! by name. A credential counted once never counts again.

use cairn_tests::{
    cairn, deploy, node_token, run, send, start_on_anvil, wait_status_confirmed, Anvil,
};
use reqwest::Method;
use serde_json::{json, Value};

#[test]
fn a_nurse_earns_a_certification_by_continuing_education() {
    let anvil = Anvil::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (key, registry, _) = deploy(&anvil, dir.path());
    let data = dir.path().join("node");
    let node = start_on_anvil(&data, &anvil, &key, &registry, &[]);
    let token = node_token(&data);
    node.wait_anchoring();
    let post = |path: &str, body: Value| send(&node, &token, Method::POST, path, Some(&body));

    let class = |body: Value| -> String {
        let (status, c) = post("/achievements", body);
        assert_eq!(status, 201, "{c:#}");
        c["id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let clinical = class(json!({
        "name": "Clinical practice update", "description": "Eight hours of clinical practice.",
        "criteria": {"narrative": "Attended the workshop."}, "achievementType": "Course",
        "creditsAvailable": 8, "tag": ["clinical"],
    }));
    let ethics = class(json!({
        "name": "Ethics in nursing", "description": "Three hours of ethics.",
        "criteria": {"narrative": "Attended the seminar."}, "achievementType": "Course",
        "creditsAvailable": 3,
        "alignment": [{"type": ["Alignment"], "targetName": "Ethics", "targetCode": "ethics",
                       "targetUrl": "https://board.example/ce/ethics"}],
    }));
    // Requirements are a certification's; a plain badge is refused them.
    let (status, p) = post(
        "/achievements",
        json!({"name": "X", "description": "X", "criteria": {"narrative": "X"},
               "requirements": {"cycle": "P3Y", "credits": 30}}),
    );
    assert_eq!(
        (status, p["field"].as_str()),
        (400, Some("requirements")),
        "{p}"
    );
    let certification = class(json!({
        "name": "Registered Nurse: continuing competence",
        "description": "Kept by 30 credits of continuing education every three years, 5 in ethics.",
        "criteria": {"narrative": "30 CE credits in a three-year cycle, at least 5 in ethics."},
        "achievementType": "Certification", "validFor": "P3Y",
        "requirements": {"cycle": "P3Y", "credits": 30, "categories": {"ethics": 5},
                         "achievements": [clinical, ethics]},
    }));

    let nurse = "did:example:nurse-ana";
    let issue = |handle: &str| -> String {
        let (status, r) = post(
            "/credentials/issue",
            json!({"credential": {"credentialSubject": {"id": nurse}}, "options": {"achievement": handle}}),
        );
        assert_eq!(status, 201, "{r:#}");
        r["verifiableCredential"]["id"].as_str().unwrap().to_owned()
    };
    let c1 = issue(&clinical);
    let c2 = issue(&clinical);
    let c3 = issue(&clinical);
    let e1 = issue(&ethics);
    let e2 = issue(&ethics);
    // Someone else's credential never counts for her.
    let (status, _) = post(
        "/credentials/issue",
        json!({"credential": {"credentialSubject": {"id": "did:example:someone-else"}}, "options": {"achievement": clinical}}),
    );
    assert_eq!(status, 201);
    for id in [&c1, &c2, &c3, &e1, &e2] {
        node.wait_anchored(id, std::time::Duration::from_secs(60));
    }
    let progress = || {
        let (status, p) = send(
            &node,
            &token,
            Method::GET,
            &format!("/earners/{nurse}/progress?achievement={certification}"),
            None,
        );
        assert_eq!(status, 200, "{p:#}");
        p
    };
    let p = progress();
    assert_eq!(
        (p["met"].as_bool(), p["earned"]["credits"].as_f64()),
        (Some(true), Some(30.0)),
        "{p:#}"
    );

    // c3 is revoked: it stops counting, and she is 8 credits short.
    let (status, r) = post(
        "/credentials/status",
        json!({"credentialId": c3, "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]}),
    );
    assert!(status < 300, "{r}");
    let p = progress();
    assert_eq!(p["met"], false, "{p:#}");
    assert_eq!(p["earned"]["credits"], 22.0);
    assert_eq!(p["earned"]["categories"]["ethics"], 6.0);
    assert_eq!(p["missing"]["credits"], 8.0);
    assert_eq!(p["missing"]["categories"], json!({}));
    assert!(p["window"]["closes"].as_str().is_some(), "{p:#}");
    let excluded = p["excluded"].as_array().unwrap();
    assert!(
        excluded
            .iter()
            .any(|x| x["id"] == c3.as_str() && x["reason"] == "revoked"),
        "{p:#}"
    );
    // `cairn certify --progress` says the same, and exits 3 while short.
    let out = run(cairn().args([
        "certify",
        "--node",
        &node.url,
        "--token",
        &token,
        nurse,
        "--achievement",
        &certification,
        "--progress",
    ]));
    assert_eq!(out.code, 3, "{out:#?}");
    assert!(out.stderr.contains("22 of 30 credits"), "{out:#?}");
    assert!(
        out.stderr.contains("not counted") && out.stderr.contains("revoked"),
        "{out:#?}"
    );
    let (status, refused) = post(
        &format!("/earners/{nurse}/certifications"),
        json!({"achievement": certification}),
    );
    assert_eq!(status, 409, "{refused:#}");
    assert_eq!(refused["type"], "urn:cairn:problem:requirements-not-met");
    assert_eq!(refused["progress"]["missing"]["credits"], 8.0);

    // Bad requests name their field.
    for (path, field) in [
        (
            format!("/earners/not-an-earner/progress?achievement={certification}"),
            "id",
        ),
        (
            format!("/earners/{nurse}/progress?achievement={clinical}"),
            "achievement",
        ),
        (format!("/earners/{nurse}/progress"), "achievement"),
    ] {
        let (status, p) = send(&node, &token, Method::GET, &path, None);
        assert_eq!(
            (status, p["field"].as_str()),
            (400, Some(field)),
            "{path}: {p}"
        );
    }

    // The sixth arrives.
    let c4 = issue(&clinical);
    node.wait_anchored(&c4, std::time::Duration::from_secs(60));
    let (status, certified) = post(
        &format!("/earners/{nurse}/certifications"),
        json!({"achievement": certification}),
    );
    assert_eq!(status, 201, "{certified:#}");
    let cert = &certified["verifiableCredential"];
    let clr = &certified["clrCredential"];
    assert_eq!(cert["credentialSubject"]["id"], nurse);
    assert!(clr["type"]
        .as_array()
        .unwrap()
        .contains(&json!("ClrCredential")));
    let embedded: Vec<&str> = clr["credentialSubject"]["verifiableCredential"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    let mut expected = vec![
        c1.as_str(),
        c2.as_str(),
        e1.as_str(),
        e2.as_str(),
        c4.as_str(),
    ];
    expected.sort();
    let mut got = embedded.clone();
    got.sort();
    assert_eq!(got, expected, "the revoked one is not in it");
    let associations = clr["credentialSubject"]["association"].as_array().unwrap();
    assert_eq!(
        associations.len(),
        2,
        "one per counted achievement: {associations:#?}"
    );
    assert!(associations.iter().all(|a| a["targetId"]
        == cert["credentialSubject"]["achievement"]["id"]
        && a["associationType"] == "isPartOf"));

    // Counted once: nothing counts again, and a second certification is refused.
    let p = progress();
    assert_eq!(p["earned"]["credits"], 0.0, "{p:#}");
    assert_eq!(p["renews"], cert["id"]);
    let (status, _) = post(
        &format!("/earners/{nurse}/certifications"),
        json!({"achievement": certification}),
    );
    assert_eq!(status, 409);

    let cert_id = cert["id"].as_str().unwrap().to_owned();
    let clr_id = clr["id"].as_str().unwrap().to_owned();
    node.wait_anchored(&cert_id, std::time::Duration::from_secs(60));
    node.wait_anchored(&clr_id, std::time::Duration::from_secs(60));
    wait_status_confirmed(&node, &c3, "revoked");
    let fetch = |id: &str| node.get_json(&format!("/credentials/{}", cairn_tests::encode(id)));
    let (cert_file, clr_file) = (dir.path().join("cert.json"), dir.path().join("clr.json"));
    std::fs::write(&cert_file, fetch(&cert_id).to_string()).unwrap();
    std::fs::write(&clr_file, fetch(&clr_id).to_string()).unwrap();
    // The node's own verify endpoint says the same of the record.
    let (status, report) = post(
        "/credentials/verify",
        json!({"verifiableCredential": fetch(&clr_id)}),
    );
    assert_eq!(
        (status, &report["verdict"]),
        (200, &json!("valid")),
        "{report:#}"
    );
    assert_eq!(report["credentials"].as_array().map(Vec::len), Some(5));
    assert!(report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "embedded-credentials" && c["status"] == "pass"));
    let revoked_file = dir.path().join("c3.json");
    std::fs::write(&revoked_file, fetch(&c3).to_string()).unwrap();

    // The node is gone for good; the chain and the files remain.
    node.kill();
    std::fs::remove_dir_all(&data).unwrap();
    let out = run(cairn()
        .args(["verify", "--rpc-url", &anvil.url])
        .arg(&clr_file)
        .arg(&cert_file))
    .success();
    let text = out.stdout.clone();
    assert!(text.contains(": VALID"), "{text}");
    for name in ["Clinical practice update", "Ethics in nursing"] {
        assert!(text.contains(&format!("\"{name}\": VALID")), "{text}");
    }
    assert_eq!(text.matches("> credential").count(), 5, "{text}");
    assert!(text.contains("pass  embedded-credentials"), "{text}");

    let out = run(cairn()
        .args(["verify", "--json", "--rpc-url", &anvil.url])
        .arg(&clr_file));
    let report = out.json()["credentials"][0].clone();
    let inside = report["credentials"].as_array().unwrap();
    assert_eq!(inside.len(), 5);
    for c in inside {
        assert_eq!(c["verdict"], "valid", "{c:#}");
        assert!(c["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "anchor" && k["status"] == "pass"));
    }

    // Digital Bazaar's verifier, which shares no code with Cairn, checks the
    // record's signature over everything inside it (the CLR context from
    // the file Cairn bundles).
    let out = std::process::Command::new("node")
        .current_dir(cairn_tests::repo_root())
        .arg("tests/interop/verify.mjs")
        .arg("--context")
        .arg(format!(
            "{}={}",
            cairn_verifier::context::CLR_V2P0,
            cairn_tests::repo_root()
                .join("verifier/contexts/clr-v2p0-context-2.0.1.json")
                .display()
        ))
        .arg(&clr_file)
        .output()
        .expect("node runs");
    let line: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(line["verified"], true, "{line:#}");

    // The revoked one, on its own, is revoked, not forged.
    let out = run(cairn()
        .args(["verify", "--rpc-url", &anvil.url])
        .arg(&revoked_file));
    assert!(out.stdout.contains("INVALID: REVOKED"), "{}", out.stdout);
}
