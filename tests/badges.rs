//! Badge classes, the issuer profile and baked badges (issue #12), through
//! the node binary and the `cairn` CLI: an issuer's day on anvil ending with
//! the node gone and its baked badges still verifying (with `cairn verify`
//! and with Digital Bazaar's verifier after an independent PNG chunk reader
//! and XML parser took the credential out), and the bad input a class, a
//! profile or a roster can bring.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cairn_tests::{
    cairn, check_status, deploy, encode, node_token, png_image, repo_root, run, Anvil, NodeProcess,
    Run,
};
use cairn_tests::{data_url, send, start_on_anvil};
use serde_json::{json, Value};

/// The board's extension context.
const CONTEXT: &str = "https://electricians.example/ctx/v1";

const SVG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"200\" viewBox=\"0 0 200 200\">\n  <circle cx=\"100\" cy=\"100\" r=\"90\" fill=\"#1d5c8f\"/>\n  <text x=\"100\" y=\"110\" text-anchor=\"middle\" fill=\"#fff\">Électricien</text>\n</svg>\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

/// `node tests/interop/unbake.mjs MODE ARGS...`
fn unbake_mjs(args: &[&str]) -> (i32, Value) {
    let out = Command::new("node")
        .current_dir(repo_root())
        .arg("tests/interop/unbake.mjs")
        .args(args)
        .output()
        .expect("node runs");
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(
        code, 3,
        "unbake.mjs cannot load its Node dependencies: run `npm ci --ignore-scripts`"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("null");
    (
        code,
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {stdout} {:?}", out.stderr)),
    )
}

/// Digital Bazaar's verifier on credential files: each file's verdict.
fn digital_bazaar(options: &[&str], files: &[&Path]) -> Vec<Value> {
    let out = Command::new("node")
        .current_dir(repo_root())
        .arg("tests/interop/verify.mjs")
        .args(options)
        .args(files)
        .output()
        .expect("node runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify(files: &[&Path], extra: &[&str]) -> (i32, Vec<Value>) {
    let r = run(cairn().args(["verify", "--json"]).args(extra).args(files));
    assert!(!r.stderr.contains("panicked"), "{r:#?}");
    let report = r.json();
    (r.code, report["credentials"].as_array().unwrap().clone())
}

fn cli(node: &NodeProcess, token: &str, args: &[&str]) -> Run {
    run(cairn()
        .args(args)
        .env("CAIRN_NODE", &node.url)
        .env("CAIRN_TOKEN", token))
}

/// `cairn issue --badge BADGE --csv ROSTER EXTRA...` through the node.
fn issue_roster(
    node: &NodeProcess,
    token: &str,
    badge: &str,
    roster: &Path,
    extra: &[&str],
) -> Run {
    let mut args = vec!["issue", "--badge", badge, "--csv", roster.to_str().unwrap()];
    args.extend(extra);
    cli(node, token, &args)
}

#[test]
fn baked_badges_verify_with_their_issuer_gone() {
    let anvil = Anvil::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, registry, _) = deploy(&anvil, d);
    let data = d.join("node");
    // The board's own context, for a field of its own on its classes.
    let context = write(
        d,
        "ctx.json",
        json!({"@context": {"licenseClass": "https://electricians.example/vocab#licenseClass"}})
            .to_string()
            .as_bytes(),
    );
    let context_arg = format!("{CONTEXT}={}", context.display());
    let node = start_on_anvil(&data, &anvil, &key, &registry, &["--context", &context_arg]);
    let token = node_token(&data);

    // The issuer's day: its profile, then a badge class with a PNG image
    // and one with an SVG image.
    let logo = write(d, "logo.svg", SVG.as_bytes());
    let profile = cli(
        &node,
        &token,
        &[
            "issuer",
            "set",
            "--name",
            "Board of Electricians ®",
            "--url",
            "https://electricians.example",
            "--email",
            "registrar@electricians.example",
            "--image",
            logo.to_str().unwrap(),
        ],
    )
    .success()
    .json();
    assert_eq!(
        profile["image"]["id"],
        json!(format!("{}/issuer/image", node.url))
    );
    let served = node.get("/issuer/image");
    assert_eq!(served.headers()["content-type"], "image/svg+xml");
    assert_eq!(served.bytes().unwrap(), SVG.as_bytes());

    let png_bytes = png_image(48, 40);
    let png_file = write(d, "badge.png", &png_bytes);
    let class_file = d.join("class.json");
    std::fs::write(
        &class_file,
        json!({
            "@context": [CONTEXT],
            "licenseClass": "A",
            "name": "Licensed Electrician",
            "description": "Licensed to carry out electrical installation work.",
            "criteria": {"narrative": "Passed the board's practical and written exams."},
            "achievementType": "License",
            "tag": ["electrical", "licence"],
            "creditsAvailable": 12,
            "validFor": "P2Y",
            "resultDescription": [{"name": "Exam score", "resultType": "Percent"}]
        })
        .to_string(),
    )
    .unwrap();
    let class = cli(
        &node,
        &token,
        &[
            "badge",
            "create",
            "--file",
            class_file.to_str().unwrap(),
            "--image",
            png_file.to_str().unwrap(),
        ],
    )
    .success()
    .json();
    let class_id = class["id"].as_str().unwrap().to_owned();
    // The class's handle: its id names version 1 of it, `{handle}-v1`.
    let handle = class_id
        .rsplit('/')
        .next()
        .unwrap()
        .strip_suffix("-v1")
        .unwrap()
        .to_owned();
    assert_eq!(class["version"], "1");
    assert_eq!(class["validFor"], "P2Y");
    assert_eq!(node.get_json(&format!("/achievements/{handle}-v1")), {
        let mut doc = class.clone();
        doc.as_object_mut().unwrap().remove("validFor");
        doc
    });
    assert_eq!(
        node.get(&format!("/achievements/{handle}/image"))
            .bytes()
            .unwrap(),
        &png_bytes[..]
    );
    let (status, svg_class) = send(
        &node,
        &token,
        reqwest::Method::POST,
        "/achievements",
        Some(&json!({
            "@context": [{"sealColour": "https://electricians.example/vocab#sealColour"}],
            "sealColour": "blue",
            "name": [{"@value": "Master Electrician", "@language": "en"},
                     {"@value": "Maître électricien", "@language": "fr"}],
            "description": "Supervises installations.",
            "criteria": {"id": "https://electricians.example/master"},
            "achievementType": "Certification",
            "image": {"id": data_url("image/svg+xml", SVG.as_bytes()), "caption": "The master's seal"}
        })),
    );
    assert_eq!(status, 201, "{svg_class}");

    // A roster, checked first, then issued from the class.
    let roster = write(
        d,
        "roster.csv",
        b"recipient,name,validFrom\ndid:example:ana,Ana N\xc3\xba\xc3\xb1ez,2026-01-15\nbo@electricians.example,Bo Li,\n",
    );
    let dry = issue_roster(&node, &token, &handle, &roster, &["--dry-run"]).success();
    assert!(
        dry.stdout.contains("2 rows would be issued, 0 are bad"),
        "{dry:#?}"
    );
    let out_dir = d.join("issued");
    issue_roster(
        &node,
        &token,
        &handle,
        &roster,
        &["--out-dir", out_dir.to_str().unwrap()],
    )
    .success();
    let mut roster_ids: Vec<Value> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    roster_ids
        .sort_by_key(|vc: &Value| vc["credentialSubject"]["name"].as_str().map(str::to_owned));
    let ana = &roster_ids[0];
    assert_eq!(ana["credentialSubject"]["name"], "Ana Núñez");
    assert_eq!(
        ana["validUntil"], "2028-01-15T00:00:00Z",
        "validFor P2Y from validFrom"
    );
    assert_eq!(ana["issuer"]["name"], "Board of Electricians ®");
    assert_eq!(
        ana["issuer"]["image"]["id"],
        json!(format!("{}/issuer/image", node.url))
    );
    assert_eq!(
        ana["credentialSubject"]["achievement"]["id"],
        json!(class_id)
    );

    // One whose strings hold braces, ®, é and an emoji, with a result.
    let result_id = class["resultDescription"][0]["id"].as_str().unwrap();
    let (status, tricky) = send(
        &node,
        &token,
        reqwest::Method::POST,
        "/credentials/issue",
        Some(&json!({
            "credential": {
                "credentialSubject": {"id": "did:example:cy", "name": "Cy {the} }}{{ Électricien® ⚡🎓",
                                      "result": [{"resultDescription": result_id, "value": "97"}]}
            },
            "options": {"achievement": class_id}
        })),
    );
    assert_eq!(status, 201, "{tricky}");
    let tricky_id = tricky["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A new version: what was issued keeps the old one.
    let mut edited = class.clone();
    edited["name"] = json!("Licensed Electrician (Class A)");
    let updated = cli(
        &node,
        &token,
        &[
            "badge",
            "update",
            &handle,
            "--file",
            &write_json(d, "edited.json", &edited),
        ],
    )
    .success()
    .json();
    assert_eq!(updated["version"], "2");
    assert_eq!(
        updated["image"]["id"],
        json!(format!("{}/image", updated["id"].as_str().unwrap()))
    );
    let stale = cli(
        &node,
        &token,
        &[
            "badge",
            "update",
            &handle,
            "--file",
            &write_json(d, "stale.json", &edited),
        ],
    );
    assert!(stale.one_line_error().contains("409"), "{stale:#?}");
    // The id of version 1 names the class: it issues the current version.
    let (status, newer) = send(
        &node,
        &token,
        reqwest::Method::POST,
        "/credentials/issue",
        Some(
            &json!({"credential": {"credentialSubject": {"id": "did:example:di"}},
                     "options": {"achievement": class_id}}),
        ),
    );
    assert_eq!(status, 201, "{newer}");
    let newer_id = newer["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, svg_vc) = send(
        &node,
        &token,
        reqwest::Method::POST,
        "/credentials/issue",
        Some(
            &json!({"credential": {"credentialSubject": {"id": "did:example:eve"}},
                     "options": {"achievement": svg_class["id"]}}),
        ),
    );
    assert_eq!(status, 201, "{svg_vc}");
    let svg_id = svg_vc["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Baked badges, once anchored.
    let ana_id = ana["id"].as_str().unwrap().to_owned();
    for id in [&ana_id, &tricky_id, &newer_id, &svg_id] {
        node.wait_anchored(id, Duration::from_secs(60));
    }
    let download = |id: &str, ext: &str| -> PathBuf {
        let r = node.get(&format!("/credentials/{}/badge.{ext}", encode(id)));
        assert_eq!(r.status(), 200, "{id} badge.{ext}");
        let name = format!("{}.{ext}", id.rsplit(':').next().unwrap());
        write(d, &name, &r.bytes().unwrap())
    };
    let ana_png = download(&ana_id, "png");
    let tricky_png = download(&tricky_id, "png");
    let newer_png = download(&newer_id, "png");
    let eve_svg = download(&svg_id, "svg");
    // Asking for the other format names the right one.
    let r = node.get(&format!("/credentials/{}/badge.svg", encode(&ana_id)));
    assert_eq!(r.status(), 404);
    assert!(r.text().unwrap().contains("badge.png"));

    // The issuer is gone for good.
    assert_eq!(node.terminate(), Some(0));
    std::fs::remove_dir_all(&data).unwrap();

    let (code, reports) = verify(
        &[&ana_png, &tricky_png, &newer_png, &eve_svg],
        &["--rpc-url", &anvil.url, "--context", &context_arg],
    );
    assert_eq!(code, 0, "{reports:#?}");
    for r in &reports {
        assert_eq!(r["verdict"], "valid", "{r:#}");
        for name in ["inclusion", "binding", "anchor", "revocation"] {
            assert_eq!(check_status(r, name), "pass", "{name}: {r:#}");
        }
    }

    // An independent chunk reader and XML parser, then Digital Bazaar.
    let mut extracted = Vec::new();
    for (image, name) in [
        (&ana_png, "ana"),
        (&tricky_png, "tricky"),
        (&eve_svg, "eve"),
    ] {
        let out = d.join(format!("{name}-extracted.json"));
        let (code, said) = unbake_mjs(&["extract", image.to_str().unwrap(), out.to_str().unwrap()]);
        assert_eq!(code, 0, "{said}");
        extracted.push(out);
    }
    let paths: Vec<&Path> = extracted.iter().map(PathBuf::as_path).collect();
    for v in digital_bazaar(&["--context", &context_arg], &paths) {
        assert_eq!(v["verified"], true, "{v}");
    }
    // The old version's name, and the new one's.
    let old: Value = serde_json::from_slice(&std::fs::read(&extracted[0]).unwrap()).unwrap();
    assert_eq!(
        old["credentialSubject"]["achievement"]["name"],
        "Licensed Electrician"
    );
    let newer_vc = cairn_verifier::image::unbake(&std::fs::read(&newer_png).unwrap()).unwrap();
    assert_eq!(
        newer_vc["credentialSubject"]["achievement"]["name"],
        "Licensed Electrician (Class A)"
    );
    assert_eq!(newer_vc["credentialSubject"]["achievement"]["version"], "2");

    // The Learner Credential Wallet's way: count braces from the keyword.
    let naive = d.join("tricky-naive.json");
    let (code, said) = unbake_mjs(&[
        "naive",
        tricky_png.to_str().unwrap(),
        naive.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{said}");
    let naive_vc: Value = serde_json::from_slice(&std::fs::read(&naive).unwrap()).unwrap();
    assert_eq!(
        naive_vc["credentialSubject"]["name"],
        "Cy {the} }}{{ Électricien® ⚡🎓"
    );
    let raw = std::fs::read(&tricky_png).unwrap();
    assert!(
        raw.windows("Électricien® ⚡🎓".len())
            .any(|w| w == "Électricien® ⚡🎓".as_bytes()),
        "UTF-8 is baked byte for byte"
    );
    let (code, reports) = verify(
        &[&naive],
        &["--rpc-url", &anvil.url, "--context", &context_arg],
    );
    assert_eq!((code, &reports[0]["verdict"]), (0, &json!("valid")));

    // Same pixels as the class image.
    let (code, said) = unbake_mjs(&[
        "pixels",
        png_file.to_str().unwrap(),
        ana_png.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{said}");

    // One byte changed in the embedded credential: rebaked, and raw.
    let mut forged = old.clone();
    forged["credentialSubject"]["name"] = json!("Ana Nuñez");
    let forged_file = d.join("forged.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let forged_png = d.join("forged.png");
    run(cairn()
        .args(["bake", "--credential"])
        .arg(&forged_file)
        .arg("--image")
        .arg(&ana_png)
        .arg("--out")
        .arg(&forged_png))
    .success();
    let mut flipped = std::fs::read(&eve_svg).unwrap();
    let at = String::from_utf8_lossy(&flipped)
        .find("did:example:eve")
        .unwrap()
        + 12;
    flipped[at] = b'E';
    let flipped_svg = write(d, "flipped.svg", &flipped);
    let (code, reports) = verify(
        &[&forged_png, &flipped_svg],
        &["--rpc-url", &anvil.url, "--context", &context_arg],
    );
    assert_eq!(code, 1, "{reports:#?}");
    for r in &reports {
        assert_eq!(r["verdict"], "invalid", "{r:#}");
    }
}

fn write_json(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn badge_classes_refuse_bad_input_and_keep_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("node");
    let node = NodeProcess::start(&data, &["--batch-max-age", "3600"], &[]);
    let token = node_token(&data);
    let class = |image: Value| {
        json!({
            "name": "First Aid",
            "description": "Can give first aid.",
            "criteria": {"narrative": "A day's course."},
            "image": image
        })
    };
    let post = |body: &Value| {
        send(
            &node,
            &token,
            reqwest::Method::POST,
            "/achievements",
            Some(body),
        )
    };
    let big = {
        let mut b = png_image(8, 8);
        b.resize(cairn_verifier::image::MAX_IMAGE_BYTES + 1, 0);
        b
    };
    let script = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"9\" height=\"9\"><script>alert(1)</script></svg>";
    let cases = [
        (
            class(json!({"id": data_url("image/png", &big)})),
            "image.id",
            "bytes",
        ),
        (
            class(json!({"id": data_url("image/png", b"GIF89a not really")})),
            "image.id",
            "not a PNG or SVG",
        ),
        (
            class(json!(data_url("image/svg+xml", script.as_bytes()))),
            "image",
            "script",
        ),
        (
            class(json!({"id": data_url("image/svg+xml", &png_image(4, 4))})),
            "image.id",
            "declared",
        ),
        (
            json!({"name": "No criteria", "description": "x"}),
            "criteria",
            "",
        ),
        (
            json!({"name": "Typo", "description": "x", "criteria": {"narrative": "x", "narative": "x"}}),
            "criteria.narative",
            "undefined term",
        ),
        (
            json!({"name": "X", "description": "x", "criteria": {"narrative": "x"}, "validFor": "2 years"}),
            "validFor",
            "",
        ),
        (
            json!({"name": "X", "description": "x", "criteria": {"narrative": "x"}, "id": "https://x.example/a"}),
            "id",
            "",
        ),
    ];
    for (body, field, words) in &cases {
        let (status, problem) = post(body);
        assert_eq!(status, 400, "{field}: {problem}");
        assert_eq!(problem["field"], *field, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(words),
            "{problem}"
        );
    }
    // Nothing half-created.
    assert_eq!(node.get_json("/achievements")["achievements"], json!([]));
    let r = http()
        .post(format!("{}/achievements", node.url))
        .json(&class(json!("https://x.example/a.png")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    let (status, created) = post(&class(
        json!({"id": data_url("image/png", &png_image(16, 16))}),
    ));
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // A new version without the image member; then an edit of version 1,
    // named by its own id, is a conflict, not a silent revert.
    let v1_path = format!("/achievements/{}", encode(&id));
    let (status, v2) = send(
        &node,
        &token,
        reqwest::Method::PUT,
        &v1_path,
        Some(&json!({"name": "First Aid", "description": "d", "criteria": {"narrative": "x"}})),
    );
    assert_eq!((status, &v2["version"]), (200, &json!("2")), "{v2}");
    assert!(v2.get("image").is_none());
    let mut stale = created.clone();
    stale["name"] = json!("First Aid (old)");
    let (status, p) = send(&node, &token, reqwest::Method::PUT, &v1_path, Some(&stale));
    assert_eq!((status, &p["field"]), (409, &json!("version")), "{p}");

    // Issuance from an unknown class, a retired one, or with a recipient missing.
    let issue = |achievement: &str, credential: Value| {
        send(
            &node,
            &token,
            reqwest::Method::POST,
            "/credentials/issue",
            Some(&json!({"credential": credential, "options": {"achievement": achievement}})),
        )
    };
    let (status, p) = issue(
        "0b0e5f8c-3c1e-4f57-9d43-1a2b3c4d5e6f",
        json!({"credentialSubject": {"id": "did:example:a"}}),
    );
    assert_eq!(
        (status, &p["field"]),
        (400, &json!("options.achievement")),
        "{p}"
    );
    let (status, p) = issue(&id, json!({"credentialSubject": {"name": "nobody"}}));
    assert_eq!(
        (status, &p["field"]),
        (400, &json!("credential.credentialSubject")),
        "{p}"
    );
    let (status, p) = issue(
        &id,
        json!({"credentialSubject": {"id": "did:example:a", "achievement": {}}}),
    );
    assert_eq!(
        (status, &p["field"]),
        (400, &json!("credential.credentialSubject.achievement")),
        "{p}"
    );
    let (status, ok) = issue(&id, json!({"credentialSubject": {"id": "did:example:a"}}));
    assert_eq!(status, 201, "{ok}");
    // Issued before, issued under version 1: still verifies at the node.
    let before = ok["verifiableCredential"].clone();

    // A roster with bad rows: each named by line, nothing issued.
    let roster = write(
        d,
        "roster.csv",
        b"recipient,validFrom,validUntil\ndid:example:a,,\nnot-a-recipient,,\ndid:example:c,2026-05-01,2026-04-01\ndid:example:d,yesterday,\n",
    );
    let issued_before = node.get_json("/health")["issued"].clone();
    let dry = issue_roster(&node, &token, &id, &roster, &["--dry-run"]);
    assert_eq!(dry.code, 1, "{dry:#?}");
    for line in [
        "line 3: recipient",
        "line 4: validUntil",
        "line 5: validFrom",
    ] {
        assert!(dry.stdout.contains(line), "{line}: {dry:#?}");
    }
    assert!(
        dry.stdout.contains("1 rows would be issued, 3 are bad"),
        "{dry:#?}"
    );
    let real = issue_roster(&node, &token, &id, &roster, &[]);
    assert!(
        real.one_line_error()
            .contains("3 of 4 rows invalid; nothing issued"),
        "{real:#?}"
    );
    assert_eq!(node.get_json("/health")["issued"], issued_before);

    // Retired: no more issuance, by request or roster; what was issued stands.
    let retired = cli(&node, &token, &["badge", "retire", &id]).success();
    assert!(retired.stderr.contains("retired"), "{retired:#?}");
    let (status, p) = issue(&id, json!({"credentialSubject": {"id": "did:example:b"}}));
    assert_eq!(
        (status, &p["field"]),
        (409, &json!("options.achievement")),
        "{p}"
    );
    let r = cli(
        &node,
        &token,
        &["issue", "--badge", &id, "--recipient", "did:example:b"],
    );
    assert!(r.one_line_error().contains("409"), "{r:#?}");
    let dry = issue_roster(&node, &token, &id, &roster, &["--dry-run"]);
    assert!(dry.one_line_error().contains("retired"), "{dry:#?}");
    let list = cli(&node, &token, &["badge", "list"]).success();
    assert!(list.stdout.contains("retired"), "{list:#?}");
    let (status, p) = send(
        &node,
        &token,
        reqwest::Method::PUT,
        &format!("/achievements/{}", encode(&id)),
        Some(&created),
    );
    assert_eq!(status, 409, "{p}");
    let r = http()
        .post(format!("{}/credentials/verify", node.url))
        .json(&json!({"verifiableCredential": before}))
        .send()
        .unwrap();
    let report: Value = r.json().unwrap();
    assert_eq!(report["verdict"], "valid", "{report:#}");

    // A bad issuer profile names its field; the profile stays as it was.
    let profile_before = node.get_json("/issuer");
    for (body, field) in [
        (json!({"url": "https://x.example"}), "name"),
        (json!({"name": "B", "email": "not an address"}), "email"),
        (json!({"name": "B", "motto": "x"}), "motto"),
        // Tried on a sample credential before it is kept: this one would
        // have broken every issuance after it.
        (
            json!({"name": {"@value": "B", "@language": "en", "@type": "x"}}),
            "body",
        ),
        (
            json!({"name": "B", "image": data_url("image/svg+xml", script.as_bytes())}),
            "image",
        ),
    ] {
        let (status, p) = send(&node, &token, reqwest::Method::PUT, "/issuer", Some(&body));
        assert_eq!((status, &p["field"]), (400, &json!(field)), "{p}");
    }
    assert_eq!(node.get_json("/issuer"), profile_before);
    // A baked badge of a credential whose class has no image held here.
    let (_, plain) = node.issue(&token, &cairn_tests::unsigned_credential("did:example:z"));
    let r = node.get(&format!(
        "/credentials/{}/badge.png",
        encode(plain["verifiableCredential"]["id"].as_str().unwrap())
    ));
    assert_eq!(r.status(), 404);
}

#[test]
fn credentials_running_out_are_listed_and_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &[], &[]);
    let token = node_token(&data);
    let (status, class) = send(
        &node,
        &token,
        reqwest::Method::POST,
        "/achievements",
        Some(&json!({
            "name": "First Aid", "description": "Gives first aid.",
            "criteria": {"narrative": "A day's course."}, "validFor": "P1Y"
        })),
    );
    assert_eq!(status, 201, "{class}");
    let handle = class["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let issue = |body: Value| -> String {
        let (status, r) = send(
            &node,
            &token,
            reqwest::Method::POST,
            "/credentials/issue",
            Some(&body),
        );
        assert_eq!(status, 201, "{r}");
        r["verifiableCredential"]["id"].as_str().unwrap().to_owned()
    };
    let from_class = |subject: &str, from: &str| {
        json!({"credential": {"credentialSubject": {"id": subject}, "validFrom": from},
               "options": {"achievement": class["id"]}})
    };
    // Runs out 2027-01-15 (P1Y), 2026-11-01 (gone already), 2027-02-01,
    // and never.
    let soon = issue(from_class("did:example:ana", "2026-01-15T00:00:00Z"));
    let gone = issue(from_class("did:example:bo", "2025-11-01T00:00:00Z"));
    let mut whole = cairn_tests::unsigned_credential("did:example:cy");
    whole["validUntil"] = json!("2027-02-01T00:00:00Z");
    let later = issue(json!({ "credential": whole }));
    issue(json!({ "credential": cairn_tests::unsigned_credential("did:example:dee") }));

    let list = |query: &str| {
        send(
            &node,
            &token,
            reqwest::Method::GET,
            &format!("/credentials?{query}"),
            None,
        )
    };
    let ids = |v: &Value| -> Vec<String> {
        v["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, r) = list("expiring-before=2027-03-01");
    assert_eq!(status, 200, "{r}");
    assert_eq!(ids(&r), [soon.clone(), later.clone()]);
    assert_eq!(r["credentials"][0]["validUntil"], "2027-01-15T00:00:00Z");
    assert_eq!(r["credentials"][0]["achievement"], class["id"]);
    assert_eq!(r["credentials"][0]["status"], "active");
    assert!(r["credentials"][0]["shareUrl"]
        .as_str()
        .unwrap()
        .contains("/b/"));
    assert_eq!(
        ids(&list("expiring-before=2027-03-01&expiring-after=2025-01-01").1),
        [gone.clone(), soon.clone(), later.clone()]
    );
    assert_eq!(
        ids(&list(&format!("expiring-before=2027-03-01&achievement={handle}")).1),
        std::slice::from_ref(&soon)
    );
    assert_eq!(
        ids(&list("expiring-before=2027-03-01&limit=1").1),
        std::slice::from_ref(&soon)
    );

    // From the CLI, with the status the issuer set.
    run(cairn()
        .args(["suspend", "--node", &node.url, &soon])
        .env("CAIRN_TOKEN", &token))
    .success();
    let r = run(cairn()
        .args([
            "expiring",
            "--node",
            &node.url,
            "--before",
            "2027-03-01",
            "--achievement",
            &handle,
        ])
        .env("CAIRN_TOKEN", &token))
    .success();
    assert_eq!(r.stdout.lines().count(), 1, "{r:#?}");
    assert!(
        r.stdout.starts_with("2027-01-15T00:00:00Z  suspended  "),
        "{r:#?}"
    );
    assert!(r.stdout.contains(&soon));

    // Bad requests name their parameter; the list is the issuer's.
    for (query, field) in [
        ("", "expiring-before"),
        ("expiring-before=tomorrow", "expiring-before"),
        (
            "expiring-before=2027-01-01&expiring-after=soon",
            "expiring-after",
        ),
        ("expiring-before=2027-01-01&limit=0", "limit"),
        (
            "expiring-before=2027-01-01&achievement=no-such-class",
            "achievement",
        ),
        ("expiring-before=2027-01-01&colour=blue", "colour"),
    ] {
        let (status, p) = list(query);
        assert_eq!((status, &p["field"]), (400, &json!(field)), "{query}: {p}");
    }
    let r = cairn_tests::checked(
        "GET",
        "/credentials",
        reqwest::blocking::get(format!(
            "{}/credentials?expiring-before=2027-01-01",
            node.url
        ))
        .unwrap(),
    );
    assert_eq!(r.status(), 401);
    let r = run(cairn()
        .args(["expiring", "--node", &node.url, "--before", "soon"])
        .env("CAIRN_TOKEN", &token));
    assert_eq!(r.code, 1);
    assert!(r.one_line_error().contains("expiring-before"), "{r:#?}");

    // Renewal: the same earner and class, a new window, a link to exactly
    // the credential it renews (the old one untouched).
    let renewed_file = dir.path().join("renewed.json");
    let r = run(cairn()
        .args(["renew", "--node", &node.url, &soon, "--out"])
        .arg(&renewed_file)
        .env("CAIRN_TOKEN", &token))
    .success();
    assert!(r.stderr.contains(&format!("renews {soon}")), "{r:#?}");
    let renewed: Value = serde_json::from_slice(&std::fs::read(&renewed_file).unwrap()).unwrap();
    let old = node.get_json(&format!("/credentials/{}", encode(&soon)));
    use base64::Engine;
    let digest = cairn_verifier::merkle::credential_digest(&old).unwrap();
    let sri = format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    assert_eq!(
        renewed["relatedResource"],
        json!([{"id": soon, "digestSRI": sri}])
    );
    assert_eq!(renewed["credentialSubject"]["id"], "did:example:ana");
    assert_eq!(
        renewed["credentialSubject"]["achievement"]["id"],
        class["id"]
    );
    let from =
        chrono::DateTime::parse_from_rfc3339(renewed["validFrom"].as_str().unwrap()).unwrap();
    let until =
        chrono::DateTime::parse_from_rfc3339(renewed["validUntil"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - from.to_utc()).num_seconds().abs() < 60);
    assert_eq!((until - from).num_days(), 365, "the class's P1Y from now");
    let r = run(cairn().arg("verify").arg(&renewed_file));
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(
        node.get_json(&format!("/credentials/{}", encode(&soon))),
        old
    );

    // A credential not from a class keeps its own fields; a window given.
    let renew = |id: &str, body: Option<&Value>| {
        send(
            &node,
            &token,
            reqwest::Method::POST,
            &format!("/credentials/{}/renew", encode(id)),
            body,
        )
    };
    let (status, r) = renew(&later, Some(&json!({"validUntil": "2030-01-01"})));
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["renews"], json!(later));
    assert_eq!(
        r["verifiableCredential"]["validUntil"],
        "2030-01-01T23:59:59Z"
    );
    assert_eq!(
        r["verifiableCredential"]["credentialSubject"]["id"],
        "did:example:cy"
    );
    assert!(r["shareUrl"].as_str().unwrap().contains("/b/"));
    // Not a revoked one, an unknown one, a node document, or with a body
    // it cannot read.
    run(cairn()
        .args(["revoke", "--node", &node.url, &gone])
        .env("CAIRN_TOKEN", &token))
    .success();
    let (status, p) = renew(&gone, None);
    assert_eq!((status, &p["field"]), (409, &json!("id")), "{p}");
    assert_eq!(renew("urn:uuid:no-such-credential", None).0, 404);
    // A status list is stored as a credential too, under `{id}?version=N`.
    let list = node.get_json("/status-lists/revocation-1");
    for version in 0..4 {
        let stored = format!("{}?version={version}", list["id"].as_str().unwrap());
        assert_eq!(renew(&stored, None).0, 404, "a node document: {stored}");
    }
    let (status, p) = renew(&later, Some(&json!({"colour": "blue"})));
    assert_eq!((status, &p["field"]), (400, &json!("colour")), "{p}");
    let (status, p) = renew(&later, Some(&json!({"validUntil": "soon"})));
    assert_eq!((status, &p["field"]), (400, &json!("validUntil")), "{p}");
}

/// With `--1edtech-status`, a badge also carries 1EdTech's revocation list
/// entry and refresh service (issue #14): the list names what the issuer
/// revoked, and the refresh service gives a credential's current version,
/// its renewal once renewed. Cairn and Digital Bazaar both verify such a
/// badge (the extensions context is bundled).
#[test]
fn badges_carry_1edtech_status_and_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &["--1edtech-status"], &[]);
    let token = node_token(&data);
    let post =
        |path: &str, body: Value| send(&node, &token, reqwest::Method::POST, path, Some(&body));
    let (status, class) = post(
        "/achievements",
        json!({"name": "First Aid", "description": "Gives first aid.",
               "criteria": {"narrative": "A day's course."}, "validFor": "P1Y"}),
    );
    assert_eq!(status, 201, "{class}");
    let issue = |subject: &str| -> Value {
        let (status, r) = post(
            "/credentials/issue",
            json!({"credential": {"credentialSubject": {"id": subject}}, "options": {"achievement": class["id"]}}),
        );
        assert_eq!(status, 201, "{r}");
        r["verifiableCredential"].clone()
    };
    let ana = issue("did:example:ana");
    let bo = issue("did:example:bo");
    let ana_id = ana["id"].as_str().unwrap();
    let entries = ana["credentialStatus"].as_array().unwrap();
    let list_url = format!("{}/revocations", node.url);
    assert!(
        entries
            .iter()
            .any(|e| e["type"] == "1EdTechRevocationList" && e["id"] == list_url.as_str()),
        "{entries:#?}"
    );
    assert!(entries
        .iter()
        .any(|e| e["type"] == "BitstringStatusListEntry"));
    assert_eq!(ana["refreshService"]["type"], "1EdTechCredentialRefresh");
    assert_eq!(
        ana["refreshService"]["id"],
        format!("{}/credentials/{}/refresh", node.url, encode(ana_id))
    );
    assert!(ana["@context"].as_array().unwrap().contains(&json!(
        "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
    )));
    let file = dir.path().join("ana.json");
    std::fs::write(&file, ana.to_string()).unwrap();
    let (code, reports) = verify(&[&file], &[]);
    assert_eq!(
        (code, &reports[0]["verdict"]),
        (0, &json!("valid")),
        "{reports:#?}"
    );
    let db = digital_bazaar(&[], &[&file]);
    assert_eq!(db[0]["verified"], true, "{db:#?}");

    // The list names what is revoked, with the reason, at once.
    let (status, _) = post(
        "/credentials/status",
        json!({"credentialId": ana_id, "reason": "licence withdrawn",
               "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "revoked"}]}),
    );
    assert!(status < 300);
    let list = node.get_json("/revocations");
    assert_eq!(list["id"], list_url.as_str());
    assert_eq!(list["issuer"], ana["issuer"]["id"]);
    assert_eq!(
        list["revokedCredentials"],
        json!([{"id": ana_id, "revocationReason": "licence withdrawn"}])
    );

    // Refresh: itself until renewed, then the renewal (which gets its own
    // refresh service and one 1EdTech entry, not the old ones).
    let bo_id = bo["id"].as_str().unwrap();
    let refresh = |id: &str| node.get_json(&format!("/credentials/{}/refresh", encode(id)));
    assert_eq!(refresh(bo_id)["id"], bo_id);
    let (status, renewed) = post(&format!("/credentials/{}/renew", encode(bo_id)), json!({}));
    assert_eq!(status, 201, "{renewed}");
    let new_id = renewed["verifiableCredential"]["id"].as_str().unwrap();
    assert_eq!(refresh(bo_id)["id"], new_id);
    assert_eq!(refresh(new_id)["id"], new_id);
    let new = &renewed["verifiableCredential"];
    assert_eq!(
        new["refreshService"]["id"],
        format!("{}/credentials/{}/refresh", node.url, encode(new_id))
    );
    assert_eq!(
        new["credentialStatus"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "1EdTechRevocationList")
            .count(),
        1
    );
    assert_eq!(
        node.get("/credentials/urn:uuid:nothing/refresh").status(),
        404
    );
}
