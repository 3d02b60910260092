//! The console (issue #16): a registrar's day in Debian's chromium driven by
//! playwright-core (`interop/console.mjs`, one browser session), on the
//! node's dev chain; and, over plain HTTP, what a console session may
//! change: a viewer nothing, a form without its token or from another
//! origin nothing, a session after sign-out nothing. Screenshots go to
//! `$CAIRN_SHOTS` (default: a temporary directory).

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_tests::{
    cairn, cairn_node_path, node_token, node_token_as, png_image, repo_root, run, NodeProcess,
};
use reqwest::blocking::{multipart, Client};
use serde_json::{json, Value};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `cairn-node console-link`: the link it prints.
fn console_link(data: &Path, role: &str) -> String {
    console_link_and_id(data, role).0
}

/// The link and the id of its record (`token revoke` takes it).
fn console_link_and_id(data: &Path, role: &str) -> (String, String) {
    let out = Command::new(cairn_node_path())
        .args(["console-link", "--role", role, "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let note = String::from_utf8(out.stderr).unwrap();
    let id = note.split_whitespace().nth(2).unwrap().to_owned();
    (String::from_utf8(out.stdout).unwrap().trim().to_owned(), id)
}

fn revoke_token(data: &Path, id: &str) {
    let out = Command::new(cairn_node_path())
        .args(["token", "revoke", "--data-dir"])
        .arg(data)
        .arg(id)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_registrar_designs_issues_revokes_and_reads_the_figures_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shots = std::env::var_os("CAIRN_SHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| d.join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let data = d.join("node");
    let node = NodeProcess::start(&data, &["--batch-max-age", "1"], &[]);
    node.wait_anchoring();
    let token = node_token(&data);
    // The link names the URL the node published.
    let link = console_link(&data, "admin");
    assert!(
        link.starts_with(&format!("{}/console/sign-in/", node.url)),
        "{link}"
    );

    let image = write(d, "badge.png", &png_image(64, 64));
    let bad = write(
        d,
        "roster-bad.csv",
        b"Full Name,Email,Valid Until\nAda Lovelace,ada@example.org,2031-06-30\nGrace Hopper,grace.example.org,2031-06-30\nKatherine Johnson,katherine@example.org,2031-06-30\n",
    );
    let good = write(
        d,
        "roster.csv",
        b"Full Name,Email,Valid Until\nAda Lovelace,ada@example.org,2031-06-30\nGrace Hopper,grace@example.org,2031-06-30\nKatherine Johnson,katherine@example.org,2031-06-30\n",
    );
    let config = write(
        d,
        "config.json",
        json!({"link": link, "image": image, "badRoster": bad, "goodRoster": good, "shots": shots})
            .to_string()
            .as_bytes(),
    );
    let out = Command::new("node")
        .arg(repo_root().join("tests/interop/console.mjs"))
        .arg(&config)
        .current_dir(repo_root())
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        r["failure"].is_null(),
        "{}\n{r:#}\nlog:\n{}",
        r["failure"],
        node.log_text()
    );
    assert_eq!(r["consoleErrors"], json!([]), "{r:#}");

    // Signed in by the link's button, as an admin, with nothing failing.
    assert!(r["linkPage"].as_str().unwrap().contains("admin"), "{r:#}");
    assert_eq!(r["signedIn"], format!("{}/console", node.url));
    assert_eq!(r["attention"]["failures"], "None.");
    // The class: the preview followed the form, the image is the node's.
    assert_eq!(r["preview"]["name"], "Infection Control");
    assert_eq!(
        r["preview"]["criteria"],
        "Passed the infection control assessment."
    );
    assert!(
        r["preview"]["image"].as_str().unwrap().starts_with("blob:"),
        "{r:#}"
    );
    assert!(
        r["classImage"].as_str().unwrap().ends_with("-v1/image"),
        "{r:#}"
    );
    let handle = r["classUrl"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches("?saved")
        .to_owned();
    let class = node.get_json(&format!("/achievements/{handle}"));
    assert_eq!(class["name"], "Infection Control");
    assert_eq!(class["validFor"], "P2Y");
    assert_eq!(class["achievementType"], "Certificate");

    // The dry run named line 3 and offered nothing to issue.
    assert_eq!(r["dryRun"]["bad"].as_array().unwrap().len(), 1, "{r:#}");
    assert_eq!(r["dryRun"]["bad"][0][0], "3");
    assert!(
        r["dryRun"]["bad"][0][1]
            .as_str()
            .unwrap()
            .contains("grace.example.org"),
        "{r:#}"
    );
    assert_eq!(r["dryRun"]["issueButton"], false);
    assert_eq!(r["dryRun"]["mapping"], "Email");
    assert!(
        r["fixed"].as_str().unwrap().starts_with("3 rows ready"),
        "{r:#}"
    );
    // The bar ended full, and again after a reload.
    assert_eq!(r["progress"], json!({"value": 3, "max": 3}));
    assert_eq!(r["progressText"], "Done: 3 issued.");
    assert_eq!(
        r["afterReload"],
        json!({"url": true, "text": "Done: 3 issued."})
    );
    // The result: a line per row with its credential and claim link.
    let result: Vec<Vec<&str>> = r["result"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(
        result[0],
        [
            "line",
            "recipient",
            "credentialId",
            "claimUrl",
            "shareUrl",
            "error",
            "outcome"
        ]
    );
    assert_eq!(result.len(), 4);
    for (row, line) in result[1..].iter().zip(["2", "3", "4"]) {
        assert_eq!(row[0], line);
        assert!(row[2].starts_with("urn:uuid:"), "{row:?}");
        assert!(
            row[3].starts_with(&format!("{}/claim/", node.url)),
            "{row:?}"
        );
        assert_eq!(row[5], "");
        assert_eq!(row[6], "issued");
    }
    let ada = result[1][2].to_owned();

    // Found by address, revoked with a reason after the confirmation.
    assert_eq!(r["search"], 1);
    assert_eq!(r["detail"]["id"], ada.as_str());
    assert_eq!(r["detail"]["status"], "active");
    assert!(
        r["confirm"]
            .as_str()
            .unwrap()
            .contains("Revocation is final"),
        "{r:#}"
    );
    assert_eq!(r["revoked"]["status"], "revoked");
    assert!(r["revoked"]["history"]
        .as_str()
        .unwrap()
        .contains("Certificate issued in error"));
    let status = node.get_json(&format!(
        "/credentials/{}/status",
        cairn_tests::encode(&ada)
    ));
    assert_eq!(status["status"], "revoked");
    assert_eq!(
        status["history"][0]["reason"],
        "Certificate issued in error"
    );

    // The reader's view, verification and download, counted.
    assert_eq!(r["readerVerdict"], "valid");
    assert!(r["pngName"].as_str().unwrap().ends_with(".png"), "{r:#}");
    assert_eq!(r["analytics"]["views"], "1", "{r:#}");
    assert_eq!(r["analytics"]["downloads"], "1, 0, 0, 0", "{r:#}");
    assert_eq!(r["analytics"]["verifyPage"], "1", "{r:#}");
    assert_eq!(r["analytics"]["classes"], json!(["Infection Control"]));
    assert_eq!(r["analytics"]["bars"], 60, "30 days, two bars each");
    // At phone width nothing is wider than the screen; the keyboard's
    // first stop skips to the content.
    assert!(
        r["phone"]["scroll"].as_u64() <= r["phone"]["width"].as_u64(),
        "{r:#}"
    );
    assert_eq!(r["firstTab"], "Skip to content");
    assert_eq!(r["afterSignOut"], format!("{}/console/sign-in", node.url));

    // The same figures through the API and the CLI.
    let grace = result[2][2];
    let class_report = || -> Value {
        Client::new()
            .get(format!("{}/analytics?achievement={handle}", node.url))
            .bearer_auth(&token)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let report = class_report();
    assert_eq!(report["totals"]["pageViews"], 1, "{report:#}");
    assert_eq!(report["credentials"][0]["credential"], grace);
    assert_eq!(report["credentials"][0]["downloadsPng"], 1);
    let csv =
        run(cairn().args(["analytics", "--csv", "--node", &node.url, "--token", &token])).success();
    assert!(
        csv.stdout
            .starts_with("day,achievement,credential,pageViews,"),
        "{}",
        csv.stdout
    );
    assert!(
        csv.stdout
            .contains(&format!(",{handle},{grace},1,1,0,1,0,0,0,0,0,0")),
        "{}",
        csv.stdout
    );
    let table = run(cairn().args(["analytics", "--node", &node.url, "--token", &token])).success();
    let total = table
        .stdout
        .lines()
        .find(|l| l.starts_with("total "))
        .unwrap_or_else(|| panic!("{}", table.stdout));
    let figures: Vec<&str> = total.split_whitespace().skip(1).collect();
    assert_eq!(figures[..4], ["1", "1", "0", "1"], "{}", table.stdout);
    assert!(
        table.stdout.contains("Infection Control"),
        "{}",
        table.stdout
    );
    let refused = run(cairn().args([
        "analytics",
        "--from",
        "2026-13-01",
        "--node",
        &node.url,
        "--token",
        &token,
    ]));
    assert!(refused.one_line_error().contains("from"), "{refused:#?}");

    // The page's picture and its link preview (og:image) ask with
    // ?preview: shown, no download; the same file without it is one.
    let page = Client::new()
        .get(result[2][4])
        .send()
        .unwrap()
        .text()
        .unwrap();
    let og_image = page
        .lines()
        .find(|l| l.starts_with("<meta property=\"og:image\""))
        .unwrap_or_else(|| panic!("{page}"));
    assert!(
        og_image.ends_with("&#x2f;badge.png?preview\">"),
        "{og_image}"
    );
    for url in [
        format!("{}/badge.png?preview", result[2][4]),
        format!(
            "{}/credentials/{}/badge.png?preview",
            node.url,
            cairn_tests::encode(grace)
        ),
        format!("{}/badge.png", result[2][4]),
    ] {
        let r = Client::new().get(&url).send().unwrap();
        assert_eq!(r.status(), 200, "{url}");
    }
    let report = class_report();
    assert_eq!(report["credentials"][0]["downloadsPng"], 2, "{report:#}");
}

/// A badge class named `name` and a credential issued from it to
/// did:example:earner: the class's handle and the issue response.
fn class_and_credential(node: &NodeProcess, token: &str, name: &str) -> (String, Value) {
    let http = Client::new();
    let class: Value = http
        .post(format!("{}/achievements", node.url))
        .bearer_auth(token)
        .json(
            &json!({"name": name, "description": format!("{name}, as the course teaches it."),
                      "criteria": {"narrative": "Passed the course."}}),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    // The class's URL ends in its handle; the answer names its version.
    let handle = class["id"].as_str().unwrap().rsplit('/').next().unwrap();
    let handle = handle.trim_end_matches("-v1").to_owned();
    let issued: Value = http
        .post(format!("{}/credentials/issue", node.url))
        .bearer_auth(token)
        .json(
            &json!({"credential": {"credentialSubject": {"id": "did:example:earner"}},
                      "options": {"achievement": handle}}),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    (handle, issued)
}

/// A signed-in session's cookie and its form token.
struct Session {
    cookie: String,
    csrf: String,
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `form` with the form token `csrf`.
fn with_token<'a>(form: &[(&'a str, &'a str)], csrf: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut form = form.to_vec();
    form.push(("csrf", csrf));
    form
}

/// The form token in a console page.
fn form_token(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no form token: {page}"))
        .to_owned()
}

/// A sign-in page at `url` (the token form or a link's button): the cookie
/// its form token goes with, that token, and the page.
struct SignInForm {
    cookie: String,
    csrf: String,
    page: String,
}

impl SignInForm {
    fn open(url: &str) -> SignInForm {
        let r = client().get(url).send().unwrap();
        let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console/sign-in"] {
            assert!(set.contains(attribute), "{set}");
        }
        let cookie = set.split(';').next().unwrap().to_owned();
        let page = r.text().unwrap();
        SignInForm {
            cookie,
            csrf: form_token(&page),
            page,
        }
    }

    /// Posts the form to `url` with its token and `fields`.
    fn post(&self, url: &str, fields: &[(&str, &str)]) -> reqwest::blocking::Response {
        let mut form = fields.to_vec();
        form.push(("csrf", &self.csrf));
        client()
            .post(url)
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .unwrap()
    }
}

fn sign_in(node: &NodeProcess, token: &str) -> Session {
    let url = format!("{}/console/sign-in", node.url);
    let r = SignInForm::open(&url).post(&url, &[("token", token)]);
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(attribute), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = client()
        .get(format!("{}/console", node.url))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    Session {
        cookie,
        csrf: form_token(&page),
    }
}

impl Session {
    fn post(&self, node: &NodeProcess, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = client()
            .post(format!("{}{path}", node.url))
            .header("cookie", &self.cookie)
            .header("origin", &node.url)
            .form(form)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    fn post_multipart(&self, node: &NodeProcess, path: &str, form: multipart::Form) -> u16 {
        client()
            .post(format!("{}{path}", node.url))
            .header("cookie", &self.cookie)
            .multipart(form)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }
}

#[test]
fn a_console_session_changes_only_what_its_role_its_form_token_and_its_origin_allow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &[], &[]);
    let admin_token = node_token(&data);
    let viewer_token = node_token_as(&data, "viewer");
    // A class and a credential to aim at.
    let (handle, issued) = class_and_credential(&node, &admin_token, "First Aid");
    let id = issued["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/console/credentials/{}", cairn_tests::encode(&id));

    // A viewer reads every page and changes nothing.
    let viewer = sign_in(&node, &viewer_token);
    for page in [
        "/console",
        "/console/classes",
        "/console/credentials?q=earner",
        &path,
        "/console/analytics",
        &format!("/console/classes/{handle}"),
    ] {
        let r = client()
            .get(format!("{}{page}", node.url))
            .header("cookie", &viewer.cookie)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{page}");
    }
    let csrf = viewer.csrf.as_str();
    for (changing, form) in [
        (
            format!("/console/classes/{handle}/retire"),
            vec![("csrf", csrf)],
        ),
        (
            "/console/roster/0123/mapping".to_owned(),
            vec![("csrf", csrf)],
        ),
        (
            "/console/roster/0123/issue".to_owned(),
            vec![("csrf", csrf)],
        ),
        (
            format!("{path}/status"),
            vec![
                ("csrf", csrf),
                ("status", "revoked"),
                ("reason", "x"),
                ("confirm", "yes"),
            ],
        ),
        (format!("{path}/renew"), vec![("csrf", csrf)]),
    ] {
        let (status, body) = viewer.post(&node, &changing, &form);
        assert_eq!(status, 403, "{changing}: {body}");
        assert!(
            body.contains("you signed in as viewer"),
            "{changing}: {body}"
        );
    }
    for changing in [
        "/console/classes/new",
        &format!("/console/classes/{handle}"),
        "/console/roster",
        "/console/roster/0123/file",
    ] {
        let form = multipart::Form::new()
            .text("csrf", viewer.csrf.clone())
            .text("name.en", "Renamed")
            .text("achievement", handle.clone())
            .part(
                "file",
                multipart::Part::bytes(b"recipient\na@b.org\n".to_vec()).file_name("r.csv"),
            );
        assert_eq!(
            viewer.post_multipart(&node, changing, form),
            403,
            "{changing}"
        );
    }
    for page in ["/console/roster", "/console/classes/new"] {
        let r = client()
            .get(format!("{}{page}", node.url))
            .header("cookie", &viewer.cookie)
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "{page}");
    }
    assert_eq!(
        node.get_json(&format!("/credentials/{}/status", cairn_tests::encode(&id)))["status"],
        "active"
    );
    assert!(node.get_json(&format!("/achievements/{handle}"))["retired"].is_null());

    // An admin's form without its token, with another session's, or from
    // another origin, is refused; the same form sent properly works.
    let admin = sign_in(&node, &admin_token);
    let suspend = [
        ("status", "suspended"),
        ("reason", "Under review"),
        ("confirm", "yes"),
    ];
    let (status, body) = admin.post(&node, &format!("{path}/status"), &suspend);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("csrf"), "{body}");
    let (status, _) = admin.post(
        &node,
        &format!("{path}/status"),
        &with_token(&suspend, &viewer.csrf),
    );
    assert_eq!(status, 403, "another session's token");
    for (header, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = client()
            .post(format!("{}{path}/status", node.url))
            .header("cookie", &admin.cookie)
            .header(header, value)
            .form(&with_token(&suspend, &admin.csrf))
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "{header}: {value}");
        assert!(r.text().unwrap().contains("Origin"));
    }
    assert_eq!(
        node.get_json(&format!("/credentials/{}/status", cairn_tests::encode(&id)))["status"],
        "active"
    );
    let (status, body) = admin.post(
        &node,
        &format!("{path}/status"),
        &with_token(&suspend, &admin.csrf),
    );
    assert_eq!(status, 303, "{body}");
    assert_eq!(
        node.get_json(&format!("/credentials/{}/status", cairn_tests::encode(&id)))["status"],
        "suspended"
    );
    // Without `confirm` the change waits for a confirmation page.
    let (status, body) = admin.post(
        &node,
        &format!("{path}/status"),
        &[
            ("csrf", admin.csrf.as_str()),
            ("status", "revoked"),
            ("reason", "Fraud"),
        ],
    );
    assert_eq!(status, 200);
    assert!(body.contains("Revocation is final"), "{body}");
    assert_eq!(
        node.get_json(&format!("/credentials/{}/status", cairn_tests::encode(&id)))["status"],
        "suspended"
    );

    // After sign-out the cookie opens nothing and changes nothing.
    let (status, _) = admin.post(&node, "/console/sign-out", &[("csrf", admin.csrf.as_str())]);
    assert_eq!(status, 303);
    let r = client()
        .get(format!("{}/console", node.url))
        .header("cookie", &admin.cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/sign-in");
    let (status, _) = admin.post(
        &node,
        &format!("{path}/renew"),
        &[("csrf", admin.csrf.as_str())],
    );
    assert_eq!(status, 401);
    // A forged cookie is no session; an unknown token signs no one in.
    let r = client()
        .get(format!("{}/console", node.url))
        .header("cookie", "cairn_session=forged")
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let url = format!("{}/console/sign-in", node.url);
    let form = SignInForm::open(&url);
    assert_eq!(form.post(&url, &[("token", "cairn_guess")]).status(), 401);
    // A sign-in form without its token, or whose token is not its
    // cookie's, is refused before the token is looked at.
    for (cookie, csrf) in [
        ("", form.csrf.as_str()),
        (form.cookie.as_str(), ""),
        (form.cookie.as_str(), "other"),
    ] {
        let r = client()
            .post(&url)
            .header("cookie", cookie)
            .form(&[("token", admin_token.as_str()), ("csrf", csrf)])
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "cookie {cookie:?}, token {csrf:?}");
        assert!(r.headers().get("set-cookie").is_none());
    }

    // A sign-in link works once, and its session ends when it is revoked.
    let (link, link_id) = console_link_and_id(&data, "issuer");
    let form = SignInForm::open(&link);
    assert!(form.page.contains("issuer"), "{}", form.page);
    let first = form.post(&link, &[]);
    assert_eq!(first.status(), 303);
    let link_cookie = first.headers()["set-cookie"].to_str().unwrap();
    let link_cookie = link_cookie.split(';').next().unwrap().to_owned();
    let console_with = |cookie: &str| {
        client()
            .get(format!("{}/console", node.url))
            .header("cookie", cookie)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(console_with(&link_cookie), 200);
    assert_eq!(form.post(&link, &[]).status(), 410);
    let bogus = form.post(&format!("{}/console/sign-in/cairn_nothing", node.url), &[]);
    assert_eq!(bogus.status(), 410);
    revoke_token(&data, &link_id);
    node.poll(std::time::Duration::from_secs(10), || {
        match console_with(&link_cookie) {
            303 => Ok(()),
            s => Err(format!("a revoked link's session still answers {s}")),
        }
    });

    // Revoking the token ends the sessions it started.
    let revoked = sign_in(&node, &viewer_token);
    let id_of_viewer = String::from_utf8(
        Command::new(cairn_node_path())
            .args(["token", "list", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .lines()
    .find(|l| l.contains("viewer"))
    .and_then(|l| l.split_whitespace().next())
    .unwrap()
    .to_owned();
    revoke_token(&data, &id_of_viewer);
    node.poll(std::time::Duration::from_secs(10), || {
        let r = client()
            .get(format!("{}/console", node.url))
            .header("cookie", &revoked.cookie)
            .send()
            .unwrap();
        match r.status().as_u16() {
            303 => Ok(()),
            s => Err(format!("a revoked token's session still answers {s}")),
        }
    });
}

#[test]
fn a_roster_sent_again_issues_to_the_additions_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &[], &[]);
    let token = node_token(&data);
    // did:example:earner holds the class's badge already.
    let (handle, issued) = class_and_credential(&node, &token, "First Aid");
    let held = issued["verifiableCredential"]["id"].as_str().unwrap();
    let admin = sign_in(&node, &token);
    let file = "recipient,name\ndid:example:earner,Ada\ndid:example:late,Bob\n";
    let upload_file = |file: &str| {
        let r = client()
            .post(format!("{}/console/roster", node.url))
            .header("cookie", &admin.cookie)
            .header("origin", &node.url)
            .multipart(
                multipart::Form::new()
                    .text("csrf", admin.csrf.clone())
                    .text("achievement", handle.clone())
                    .part(
                        "file",
                        multipart::Part::bytes(file.as_bytes().to_vec()).file_name("class.csv"),
                    ),
            )
            .send()
            .unwrap();
        assert_eq!(r.status(), 303);
        r.headers()["location"].to_str().unwrap().to_owned()
    };
    let upload = || upload_file(file);
    let page = |path: &str| {
        let r = client()
            .get(format!("{}{path}", node.url))
            .header("cookie", &admin.cookie)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };

    // The dry run names the earner who holds it; issuing gives the other.
    let first = upload();
    let (_, dry) = page(&first);
    assert!(
        dry.contains("1 rows ready, 1 already hold this badge"),
        "{dry}"
    );
    assert!(dry.contains(held), "{dry}");
    let (status, _) = admin.post(
        &node,
        &format!("{first}/issue"),
        &[("csrf", admin.csrf.as_str())],
    );
    assert_eq!(status, 303);
    let mut progress = Value::Null;
    node.poll(std::time::Duration::from_secs(30), || {
        progress = serde_json::from_str(&page(&format!("{first}/progress")).1).unwrap();
        match progress["finished"].as_bool() {
            Some(true) => Ok(()),
            _ => Err(format!("still issuing: {progress}")),
        }
    });
    assert_eq!(
        (
            &progress["total"],
            &progress["held"],
            &progress["issued"],
            &progress["failed"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(0)),
        "{progress}"
    );
    let (_, result) = page(&format!("{first}/result.csv"));
    let rows: Vec<Vec<&str>> = result
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{result}");
    assert_eq!((rows[0][0], rows[0][2], rows[0][6]), ("2", held, "held"));
    assert_eq!((rows[1][0], rows[1][6]), ("3", "issued"));
    assert_ne!(rows[1][2], held);

    // The same list again: both hold it now, nothing more to issue.
    let again = upload();
    let (_, dry) = page(&again);
    assert!(
        dry.contains("0 rows ready, 2 already hold this badge"),
        "{dry}"
    );
    assert!(dry.contains("Make the result file"), "{dry}");

    // An earner twice in one file (an address in another case is the same
    // address) is a bad row, and so is one whose badge is suspended: a
    // list sent again never undoes a suspension.
    let (_, dry) = page(&upload_file(
        "recipient,name\nann@example.org,Ann\nAnn@Example.org,Ann\ndid:example:late,Bob\n",
    ));
    assert!(
        dry.contains("1 rows ready, 1 already hold this badge, <strong>1 with problems"),
        "{dry}"
    );
    assert!(
        dry.contains("<td>3</td><td>the same earner as line 2"),
        "{dry}"
    );
    let r = Client::new()
        .post(format!("{}/credentials/status", node.url))
        .bearer_auth(&token)
        .json(&json!({"credentialId": held, "credentialStatus": [{"type": "BitstringStatusListCredential", "status": "suspended"}]}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
    let (_, dry) = page(&upload());
    assert!(
        dry.contains(&format!(
            "<td>2</td><td>this earner&#x27;s credential {held} of this class is suspended"
        )),
        "{dry}"
    );
    assert!(!dry.contains("id=\"issue\""), "{dry}");

    // Rosters past the limit make room by dropping the oldest one that is
    // not issuing: the first, issued and finished.
    for _ in 0..61 {
        upload();
    }
    assert_eq!(page(&first).0, 404);
    assert_eq!(page(&again).0, 200);
}

#[test]
fn analytics_count_readers_but_not_those_who_ask_not_to_be_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data, &[], &[]);
    let token = node_token(&data);
    let http = Client::new();
    let (handle, issued) = class_and_credential(&node, &token, "CPR");
    let id = issued["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = issued["shareUrl"].as_str().unwrap().to_owned();
    let share = page.rsplit('/').next().unwrap().to_owned();

    // Two tracked views, one DNT view, one GPC view, a share click and a
    // bad event.
    assert_eq!(http.get(&page).send().unwrap().status(), 200);
    assert_eq!(http.get(&page).send().unwrap().status(), 200);
    assert_eq!(
        http.get(&page).header("dnt", "1").send().unwrap().status(),
        200
    );
    assert_eq!(
        http.get(&page)
            .header("sec-gpc", "1")
            .send()
            .unwrap()
            .status(),
        200
    );
    let event = |e: &str| {
        http.get(format!("{}/events?share={share}&event={e}", node.url))
            .send()
            .unwrap()
    };
    assert_eq!(event("linkedin").status(), 204);
    let bad = event("bogus");
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().unwrap()["field"], "event");
    assert_eq!(
        http.get(format!("{}/events?share=nope&event=verified", node.url))
            .send()
            .unwrap()
            .status(),
        404
    );

    let get = |q: &str, token: Option<&str>| {
        let mut r = http.get(format!("{}/analytics{q}", node.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().unwrap()
    };
    assert_eq!(get("", None).status(), 401);
    let viewer = node_token_as(&data, "viewer");
    let report: Value = get("", Some(&viewer)).json().unwrap();
    assert_eq!(report["totals"]["pageViews"], 4, "{report:#}");
    assert_eq!(report["totals"]["sharesLinkedIn"], 1);
    assert_eq!(report["days"].as_array().unwrap().len(), 30);
    assert_eq!(report["achievements"][0]["achievement"], handle.as_str());
    assert_eq!(report["achievements"][0]["pageViews"], 4);
    assert_eq!(report["credentials"][0]["credential"], id.as_str());
    assert_eq!(
        report["credentials"][0]["pageViews"], 2,
        "the untracked two are the class's only"
    );
    for (q, field) in [
        ("?from=2026-13-01", "from"),
        ("?from=2020-01-01&to=2026-01-01", "from"),
        ("?format=xml", "format"),
        ("?achievement=nope", "achievement"),
        ("?limit=3", "limit"),
    ] {
        let r = get(q, Some(&viewer));
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(r.json::<Value>().unwrap()["field"], field, "{q}");
    }
    let csv = get("?format=csv", Some(&viewer));
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().unwrap();
    assert!(
        text.contains(&format!(",{handle},{id},2,0,0,0,0,0,0,1,0,0\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(",{handle},,2,0,0,0,0,0,0,0,0,0\n")),
        "{text}"
    );

    // Counted in memory, written every few seconds and at a clean stop:
    // the figures survive a restart.
    node.terminate();
    let node = NodeProcess::start(&data, &[], &[]);
    let report: Value = http
        .get(format!("{}/analytics", node.url))
        .bearer_auth(&viewer)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(report["totals"]["pageViews"], 4, "{report:#}");
}
