//! Badge pages and the verify page (issue #13), in Debian's chromium driven
//! by playwright-core (`interop/pages.mjs`, one browser session): a node on
//! anvil publishing anvil's JSON-RPC; each page verifies in the browser,
//! check by check as `cairn verify --rpc-url` does on the same files
//! (valid, expired, suspended, reinstated, revoked, each forgery, a tampered
//! baked PNG); a revocation shows on the page; the page speaks English and
//! French; and the site `cairn-node export-site` wrote, served by nginx
//! with the node stopped and its data deleted, still shows the credential
//! valid, or revoked. Screenshots go to `$CAIRN_SHOTS` (default: a
//! temporary directory).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cairn_tests::{
    cairn, check_statuses, checked, data_url, deploy, encode, node_token, png_image, repo_root,
    run, send, start_on_anvil, wait_status_confirmed, Anvil, Forgeries,
};
use reqwest::Method;
use serde_json::{json, Value};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The browser script, with a line protocol on stdin and stdout.
struct Browser {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Browser {
    fn start(config: &Path) -> Self {
        let mut child = Command::new("node")
            .arg(repo_root().join("tests/interop/pages.mjs"))
            .arg(config)
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let out = BufReader::new(child.stdout.take().unwrap());
        Browser { child, out }
    }

    /// The next phase's report.
    fn phase(&mut self, name: &str) -> Value {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "the browser script ended before phase {name}: {:?}",
            self.child.wait()
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["phase"], name, "{v:#}");
        assert_eq!(v["consoleErrors"], json!([]), "console errors in {name}");
        v
    }

    fn tell(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx serving `root` at the node's paths, as docs/pages.md says.
struct Nginx {
    child: Child,
    url: String,
}

impl Nginx {
    fn start(root: &Path, dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let root_user = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let temp = dir.join("nginx-temp");
        std::fs::create_dir_all(&temp).unwrap();
        let conf = format!(
            "{user}worker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/nginx-error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n  access_log off;\n\
               client_body_temp_path {t}/body; proxy_temp_path {t}/proxy; fastcgi_temp_path {t}/fastcgi;\n\
               uwsgi_temp_path {t}/uwsgi; scgi_temp_path {t}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {root};\n\
                 location / {{ try_files $uri $uri/index.html $uri/index.json =404; }}\n  }}\n}}\n",
            user = if root_user { "user root;\n" } else { "" },
            dir = dir.display(),
            t = temp.display(),
            root = root.display(),
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        // Debian's, in /usr/sbin, which a user's PATH may not hold.
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .unwrap_or("nginx");
        let child = Command::new(nginx)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.join("nginx-error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs (Debian's nginx: .ci/run installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while reqwest::blocking::get(format!("{url}/verify")).is_err() {
            assert!(std::time::Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, url }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn badge_pages_verify_in_the_browser_and_outlive_the_node() {
    let anvil = Anvil::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shots = std::env::var_os("CAIRN_SHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| d.join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let (key, registry, _) = deploy(&anvil, d);
    let data = d.join("node");
    let node = start_on_anvil(
        &data,
        &anvil,
        &key,
        &registry,
        &["--public-rpc-url", &anvil.url],
    );
    let token = node_token(&data);

    // A licence with a PNG badge, named in English and French.
    let (status, class) = send(
        &node,
        &token,
        Method::POST,
        "/achievements",
        Some(&json!({
            "name": [{"@value": "Registered Nurse", "@language": "en"},
                     {"@value": "Infirmière diplômée", "@language": "fr"}],
            "description": "Licensed to practise nursing in the province.",
            "criteria": {"narrative": "Passed the board examination and 1,000 supervised hours."},
            "achievementType": "License",
            "image": {"id": data_url("image/png", &png_image(96, 96))}
        })),
    );
    assert_eq!(status, 201, "{class}");
    // The board's own endorsement of its licence, which its pages show.
    let (status, endorsement) = send(
        &node,
        &token,
        Method::POST,
        "/endorsements",
        Some(&json!({"credentialSubject": {"id": class["id"],
            "endorsementComment": "Meets the provincial standard of practice."}})),
    );
    assert_eq!(status, 201, "{endorsement}");
    let (status, p) = send(
        &node,
        &token,
        Method::POST,
        "/endorsements",
        Some(&json!({"credentialSubject": {"id": "not a URL"}})),
    );
    assert_eq!(
        (status, &p["field"]),
        (400, &json!("credentialSubject.id")),
        "{p}"
    );
    let issue = |subject: Value, extra: Value| -> (String, String) {
        let mut credential = json!({ "credentialSubject": subject });
        credential
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, r) = send(
            &node,
            &token,
            Method::POST,
            "/credentials/issue",
            Some(&json!({"credential": credential, "options": {"achievement": class["id"]}})),
        );
        assert_eq!(status, 201, "{r}");
        let id = r["verifiableCredential"]["id"].as_str().unwrap().to_owned();
        let share = r["shareUrl"].as_str().unwrap().to_owned();
        (id, share)
    };
    let named = |id: &str, name: &str| json!({"id": id, "name": name});
    let (valid, valid_url) = issue(named("did:example:ana", "Ana Núñez"), json!({}));
    let (kept, kept_url) = issue(named("did:example:bo", "Bo Li"), json!({}));
    let (expired, expired_url) = issue(
        named("did:example:cy", "Cy Wong"),
        json!({"validFrom": "2020-01-01T00:00:00Z", "validUntil": "2021-01-01T00:00:00Z"}),
    );
    let (suspended, suspended_url) = issue(named("did:example:dee", "Dee Ray"), json!({}));
    let (reinstated, reinstated_url) = issue(named("did:example:eli", "Eli Moss"), json!({}));
    let all = [&valid, &kept, &expired, &suspended, &reinstated];
    for id in all {
        node.wait_anchored(id, Duration::from_secs(60));
    }
    let cli = |cmd: &str, id: &str| {
        run(cairn()
            .args([cmd, "--node", &node.url, id, "--reason", "test"])
            .env("CAIRN_TOKEN", &token))
        .success()
    };
    cli("suspend", &suspended);
    cli("suspend", &reinstated);
    wait_status_confirmed(&node, &reinstated, "suspended");
    cli("reinstate", &reinstated);
    wait_status_confirmed(&node, &suspended, "suspended");
    wait_status_confirmed(&node, &reinstated, "active");

    // The share URL: the same from the issuer's side, unguessable, and a
    // page that names the badge for link previews.
    let node_url = node.url.clone();
    let path_of = |url: &str| url.strip_prefix(&node_url).unwrap().to_owned();
    let (status, page) = send(
        &node,
        &token,
        Method::GET,
        &format!("/credentials/{}/page", encode(&valid)),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(page["shareUrl"], json!(valid_url));
    assert_eq!(page["private"], false);
    let share = path_of(&valid_url);
    assert_eq!(share.len(), "/b/".len() + 22, "{share}");
    let r = checked(
        "GET",
        &format!("/credentials/{}", encode(&valid)),
        reqwest::blocking::get(format!("{}/credentials/{}", node.url, encode(&valid))).unwrap(),
    );
    assert!(r.headers()["link"]
        .to_str()
        .unwrap()
        .contains(&format!("<{valid_url}>")));
    let html = node.get(&share).text().unwrap();
    assert!(
        html.contains("<meta property=\"og:title\" content=\"Registered Nurse"),
        "{html}"
    );
    assert!(html.contains(&format!("{share}/badge.png")));
    // The page shows its picture asked for as shown, not downloaded.
    assert!(
        html.contains(&format!("\"picture\":\"{share}/badge.png?preview\"")),
        "{html}"
    );

    // The pages' code, gzipped for browsers that take it (all of them).
    let js = reqwest::blocking::Client::new()
        .get(format!("{}/assets/cairn.js", node.url))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .unwrap();
    assert_eq!(js.headers()["content-encoding"], "gzip");
    let gz = js.bytes().unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert_eq!(
        plain,
        std::fs::read(repo_root().join("web/dist/cairn.js")).unwrap()
    );

    // The files both verifiers are given.
    let files = d.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let current = |id: &str| node.get_json(&format!("/credentials/{}", encode(id)));
    let good = current(&valid);
    let forged = Forgeries::of(&anvil, &key, &registry, &good);
    let baked = node.get(&format!("{share}/badge.png")).bytes().unwrap();
    let mut tampered = cairn_verifier::image::unbake(&baked).unwrap();
    tampered["credentialSubject"]["name"] = json!("Mallory");
    let tampered = cairn_verifier::image::bake(&baked, &tampered).unwrap();
    let json_file = |name: &str, v: &Value| {
        (
            name.to_owned(),
            write(
                &files,
                &format!("{name}.json"),
                &serde_json::to_vec(v).unwrap(),
            ),
        )
    };
    let cases = vec![
        json_file("valid", &good),
        json_file("expired", &current(&expired)),
        json_file("suspended", &current(&suspended)),
        json_file("reinstated", &current(&reinstated)),
        json_file("altered-path", &forged.altered),
        json_file("non-issuer-key", &forged.impostor),
        json_file("unbound-account", &forged.unbound),
        json_file("never-anchored", &forged.unanchored),
        ("baked-png".to_owned(), write(&files, "baked.png", &baked)),
        (
            "tampered-png".to_owned(),
            write(&files, "tampered.png", &tampered),
        ),
    ];
    let claim_path = |id: &str| {
        let (status, award) = send(
            &node,
            &token,
            Method::GET,
            &format!("/credentials/{}/award", encode(id)),
            None,
        );
        assert_eq!(status, 200, "{award:#}");
        path_of(award["claimUrl"].as_str().unwrap())
    };
    let config = d.join("pages.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({
            "node": node.url,
            "pages": {
                "valid": share,
                "kept": path_of(&kept_url),
                "expired": path_of(&expired_url),
                "suspended": path_of(&suspended_url),
                "reinstated": path_of(&reinstated_url),
            },
            "claims": {"open": claim_path(&valid), "withdrawn": claim_path(&suspended)},
            "cases": cases.iter().map(|(n, f)| json!({"name": n, "file": f})).collect::<Vec<_>>(),
            "shots": shots,
        }))
        .unwrap(),
    )
    .unwrap();

    let mut browser = Browser::start(&config);
    let report = browser.phase("pages");
    let pages = &report["pages"];
    let valid_page = &pages["valid"];
    assert_eq!(valid_page["verdict"], "valid", "{valid_page:#}");
    let names: Vec<String> = check_statuses(valid_page)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for name in [
        "signature",
        "issuer-key",
        "validity",
        "inclusion",
        "binding",
        "anchor",
        "revocation",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert!(check_statuses(valid_page).iter().all(|(_, s)| s == "pass"));
    assert!(valid_page["text"].as_str().unwrap().contains("Ana Núñez"));
    let linked_in = valid_page["linkedIn"].as_str().unwrap();
    assert!(
        linked_in.contains("startTask=CERTIFICATION_NAME"),
        "{linked_in}"
    );
    let linked_in = reqwest::Url::parse(linked_in).unwrap();
    let field = |k: &str| {
        linked_in
            .query_pairs()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(field("certUrl").as_deref(), Some(valid_url.as_str()));
    assert_eq!(field("certId").as_deref(), Some(valid.as_str()));
    assert_eq!(field("name").as_deref(), Some("Registered Nurse"));
    assert_eq!(valid_page["qr"], true);
    assert_eq!(
        valid_page["endorsements"],
        json!(["valid"]),
        "{valid_page:#}"
    );
    // Two languages: the reader's (Accept-Language), and the switch.
    assert_eq!(valid_page["lang"], "en");
    for fr in [&pages["validFr"], &pages["validSwitched"]] {
        assert_eq!(fr["lang"], "fr", "{fr:#}");
        assert_eq!(fr["htmlLang"], "fr");
        assert_eq!(fr["verdict"], "valid");
        assert!(fr["text"].as_str().unwrap().contains("Infirmière diplômée"));
        assert_ne!(fr["panelText"], valid_page["panelText"]);
    }
    assert_eq!(pages["expired"]["verdict"], "expired");
    assert_eq!(pages["suspended"]["verdict"], "suspended");
    assert_eq!(pages["reinstated"]["verdict"], "valid");
    assert_eq!(pages["missing"], 404);

    // The claim page: both wallets' links and QR codes (loaded), in the
    // reader's language; none once the issuer suspended the badge.
    let claims = &report["claims"];
    let open = &claims["open"];
    assert_eq!(open["state"], "open", "{open:#}");
    assert_eq!(open["name"], "Registered Nurse", "{open:#}");
    let lcw = open["lcwHref"].as_str().unwrap();
    assert!(
        lcw.starts_with(&format!("interaction:{}/interactions/", node.url))
            && lcw.ends_with("?iuv=1"),
        "{lcw}"
    );
    let offer = open["offerHref"].as_str().unwrap();
    assert!(
        offer.starts_with("openid-credential-offer://?credential_offer_uri="),
        "{offer}"
    );
    assert!(
        open["lcwQr"].as_u64().unwrap() > 100 && open["offerQr"].as_u64().unwrap() > 100,
        "{open:#}"
    );
    assert_eq!(open["altsOk"], true);
    assert!(
        !open["downloads"].as_array().unwrap().is_empty(),
        "{open:#}"
    );
    assert_eq!(claims["openFr"]["lang"], "fr");
    assert_eq!(claims["openFr"]["state"], "open");
    assert_ne!(claims["openFr"]["status"], open["status"]);
    let withdrawn = &claims["withdrawn"];
    assert_eq!(withdrawn["state"], "withdrawn", "{withdrawn:#}");
    assert!(
        withdrawn["lcwHref"].is_null() && withdrawn["offerHref"].is_null(),
        "{withdrawn:#}"
    );
    assert!(!withdrawn["status"].as_str().unwrap().is_empty());

    // One verdict, two implementations: the verify page and `cairn verify
    // --rpc-url`, check by check.
    let paths: Vec<&Path> = cases.iter().map(|(_, f)| f.as_path()).collect();
    let r = run(cairn()
        .args(["verify", "--json", "--rpc-url", &anvil.url])
        .args(&paths));
    let rust = r.json()["credentials"].as_array().unwrap().clone();
    assert_eq!(rust.len(), cases.len());
    for ((name, _), rust) in cases.iter().zip(&rust) {
        let browser = &report["cases"][name];
        assert_eq!(
            check_statuses(browser),
            check_statuses(rust),
            "{name}: the browser and cairn verify disagree\nbrowser: {browser:#}\ncairn: {rust:#}"
        );
    }
    let expect = [
        ("valid", "valid"),
        ("expired", "expired"),
        ("suspended", "suspended"),
        ("reinstated", "valid"),
        ("altered-path", "invalid"),
        ("non-issuer-key", "invalid"),
        ("unbound-account", "invalid"),
        ("never-anchored", "invalid"),
        ("baked-png", "valid"),
        ("tampered-png", "invalid"),
    ];
    for ((name, verdict), rust) in expect.iter().zip(&rust) {
        assert_eq!(report["cases"][name]["verdict"], *verdict, "{name}");
        // `cairn verify` tells expired, revoked and suspended from forged
        // in the same words.
        assert_eq!(rust["outcome"], *verdict, "{name}: {rust:#}");
    }
    // So does the node.
    let r = checked(
        "POST",
        "/credentials/verify",
        reqwest::blocking::Client::new()
            .post(format!("{}/credentials/verify", node.url))
            .json(&json!({"verifiableCredential": current(&expired)}))
            .send()
            .unwrap(),
    );
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().unwrap()["outcome"], "expired");

    // Revoked, the same page says so.
    cli("revoke", &valid);
    wait_status_confirmed(&node, &valid, "revoked");
    browser.tell("revoked");
    let revoked = browser.phase("revoked");
    assert_eq!(revoked["revoked"]["verdict"], "revoked", "{revoked:#}");

    // A private page is gone for everyone else.
    let private_path = format!("/credentials/{}/page", encode(&expired));
    let r = run(cairn()
        .args(["page", "private", "--node", &node.url, &expired])
        .env("CAIRN_TOKEN", &token))
    .success();
    assert_eq!(r.stdout.trim(), format!("{expired_url}  private"));
    assert_eq!(node.get(&path_of(&expired_url)).status(), 404);
    let (status, problem) = send(
        &node,
        &token,
        Method::PUT,
        &private_path,
        Some(&json!({"private": "yes"})),
    );
    assert_eq!((status, &problem["field"]), (400, &json!("private")));

    // The node goes; its exported site stays.
    assert_eq!(node.terminate(), Some(0));
    let site = d.join("site");
    let export = |out: &Path| {
        run(Command::new(cairn_tests::cairn_node_path())
            .args(["export-site", "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(out))
        .success()
    };
    let first = export(&site);
    // Five badges, one private, and the endorsement.
    assert!(first.stdout.contains("5 badge pages"), "{first:#?}");
    assert!(site.join(format!("{}/index.html", &share[1..])).is_file());
    assert!(site.join(format!("{}/badge.png", &share[1..])).is_file());
    assert!(site.join(format!("{}/bundle.json", &share[1..])).is_file());
    assert!(!site.join(&path_of(&expired_url)[1..]).exists(), "private");
    let again = export(&site);
    assert!(again.stdout.contains(" 0 files written"), "{again:#?}");
    std::fs::remove_dir_all(&data).unwrap();
    let nginx = Nginx::start(&site, d);
    browser.tell(&nginx.url);
    let exported = browser.phase("site");
    assert_eq!(exported["exported"]["revoked"]["verdict"], "revoked");
    assert_eq!(exported["exported"]["kept"]["verdict"], "valid");
    assert_eq!(exported["exported"]["verifyPage"], "valid");
}
