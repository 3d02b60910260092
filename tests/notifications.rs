//! Notifications (issue #14): the node's durable outbox delivers every
//! event to a webhook receiver and the earners' mail to an SMTP server,
//! both started here (`interop/sinks.mjs`: nodemailer's smtp-server, and a
//! receiver that checks each Cairn-Signature with node:crypto). The receiver
//! fails its first five requests and the mail server its first two; then
//! the node is SIGKILLed while the receiver holds an `anchored` event
//! unanswered (sent, not yet marked), and restarted: every event still
//! arrives, signed, and a repeat carries the same event id.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cairn_tests::{node_token, nurse_badge, repo_root, send, NodeProcess};
use reqwest::Method;
use serde_json::{json, Value};

/// The sinks' process: its ports, and what it received, line by line.
struct Sinks {
    child: Child,
    smtp: u16,
    webhook: u16,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Sinks {
    fn start(secret: &Path, fail_webhook: u32, fail_mail: u32, hold: &str) -> Self {
        let mut child = Command::new("node")
            .arg(repo_root().join("tests/interop/sinks.mjs"))
            .arg(secret)
            .args([fail_webhook.to_string(), fail_mail.to_string(), hold.into()])
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let (tx, lines) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str::<Value>(&line).unwrap());
            }
        });
        let ports = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the sinks listen");
        Sinks {
            child,
            smtp: ports["smtp"].as_u64().unwrap() as u16,
            webhook: ports["webhook"].as_u64().unwrap() as u16,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads what arrives until `done` says yes of everything seen so far.
    #[track_caller]
    fn until(&mut self, what: &str, node: &NodeProcess, done: impl Fn(&[Value]) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left.min(Duration::from_secs(1))) {
                Ok(v) => self.seen.push(v),
                Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {}
                Err(e) => panic!(
                    "waiting for {what}: {e}; received so far:\n{:#}\nnode log:\n{}",
                    json!(self.seen),
                    node.log_text()
                ),
            }
        }
    }

    fn tell(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Sinks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn accepted<'a>(seen: &'a [Value], sink: &str) -> impl Iterator<Item = &'a Value> + 'a {
    let sink = sink.to_owned();
    seen.iter()
        .filter(move |v| v["sink"] == sink.as_str() && v["outcome"] == "accepted")
}

/// (type, credential id) of each webhook event accepted.
fn webhook_events(seen: &[Value]) -> BTreeSet<(String, String)> {
    accepted(seen, "webhook")
        .map(|v| {
            (
                v["event"]["type"].as_str().unwrap().to_owned(),
                v["event"]["credentialId"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn issue(node: &NodeProcess, token: &str, email: &str, extra: Value) -> String {
    let mut options = json!({"recipientEmail": email});
    if let Some(lang) = extra.get("language") {
        options["language"] = lang.clone();
    }
    let mut credential = nurse_badge(email);
    credential["credentialSubject"]["achievement"]["name"] = json!([
        {"@value": "Registered Nurse", "@language": "en"},
        {"@value": "Infirmière diplômée", "@language": "fr"},
    ]);
    if let Some(until) = extra.get("validUntil") {
        credential["validUntil"] = until.clone();
    }
    let (status, body) = send(
        node,
        token,
        Method::POST,
        "/credentials/issue",
        Some(&json!({"credential": credential, "options": options})),
    );
    assert_eq!(status, 201, "{body:#}");
    body["verifiableCredential"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn every_event_arrives_signed_across_failures_and_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("webhook-secret");
    std::fs::write(&secret, "a-webhook-secret-of-32-characters\n").unwrap();
    let mut sinks = Sinks::start(&secret, 5, 2, "anchored");
    let data = dir.path().join("node");
    let webhook_url = format!("http://127.0.0.1:{}/hooks/cairn", sinks.webhook);
    let smtp_url = format!("smtp://127.0.0.1:{}", sinks.smtp);
    let args = [
        "--webhook-url",
        &webhook_url,
        "--webhook-secret-file",
        secret.to_str().unwrap(),
        "--smtp-url",
        &smtp_url,
        "--mail-from",
        "Board of Nursing <badges@board.example>",
        "--notify-retry-ms",
        "100",
        "--batch-max-age",
        "1",
    ];
    let node = NodeProcess::start(&data, &args, &[]);
    let token = node_token(&data);

    // Bad options are refused, naming the field; nothing is issued.
    for (options, field) in [
        (
            json!({"recipientEmail": "not an address"}),
            "options.recipientEmail",
        ),
        (
            json!({"recipientEmail": "someone-else@example.org"}),
            "options.recipientEmail",
        ),
        (json!({"language": "fr"}), "options.language"),
        (
            json!({"recipientEmail": "a@example.org", "language": "<script>"}),
            "options.language",
        ),
    ] {
        let credential = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "credentialSubject": {"identifier": [{"type": "IdentityObject", "identityType": "emailAddress", "hashed": false, "identityHash": "a@example.org"}]},
        });
        let (status, problem) = send(
            &node,
            &token,
            Method::POST,
            "/credentials/issue",
            Some(&json!({"credential": credential, "options": options})),
        );
        assert_eq!(
            (status, problem["field"].as_str()),
            (400, Some(field)),
            "{problem:#}"
        );
    }

    let soon = (chrono::Utc::now() + chrono::Duration::days(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ada = issue(
        &node,
        &token,
        "ada@example.org",
        json!({"validUntil": soon}),
    );
    let bea = issue(
        &node,
        &token,
        "bea@example.org",
        json!({"language": "fr-CA"}),
    );
    let cy = issue(&node, &token, "cy@example.org", json!({}));
    let ids = [ada.clone(), bea.clone(), cy.clone()];

    // The receiver refuses five requests; after that it takes everything,
    // and holds the first `anchored` event unanswered.
    sinks.until("an anchored event held", &node, |seen| {
        seen.iter().any(|v| v["outcome"] == "held")
    });
    let held = sinks.seen.iter().find(|v| v["outcome"] == "held").unwrap()["event"].clone();
    // Sent and not yet marked delivered: a crash here repeats it.
    node.kill();
    sinks.tell("release");
    let node = NodeProcess::start(&data, &args, &[]);

    for (id, to) in [(&cy, "revoked"), (&bea, "suspended")] {
        let body = json!({"credentialId": id, "credentialStatus": [{"type": "BitstringStatusListCredential", "status": to}]});
        let (status, _) = send(
            &node,
            &token,
            Method::POST,
            "/credentials/status",
            Some(&body),
        );
        assert!(status < 300, "{status}");
    }

    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for id in &ids {
        expected.insert(("issued".into(), id.clone()));
        expected.insert(("anchored".into(), id.clone()));
    }
    expected.insert(("expiring".into(), ada.clone()));
    expected.insert(("revoked".into(), cy.clone()));
    expected.insert(("suspended".into(), bea.clone()));
    let wanted = expected.clone();
    sinks.until("every webhook event", &node, move |seen| {
        wanted.is_subset(&webhook_events(seen))
    });
    sinks.until("every mail", &node, |seen| {
        let messages: BTreeSet<_> = accepted(seen, "mail")
            .filter_map(|m| m["messageId"].as_str())
            .collect();
        messages.len() >= 5
    });
    let seen = sinks.seen.clone();

    // Every request the receiver got was signed right; it refused none.
    assert!(
        seen.iter().all(|v| v["outcome"] != "refused"),
        "{:#}",
        json!(seen)
    );
    assert_eq!(webhook_events(&seen), expected, "no event of another kind");
    // One event id per event, however often it was sent; the held one came
    // again after the restart, and so did each of the five refused.
    let mut ids_of: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for v in seen.iter().filter(|v| v["sink"] == "webhook") {
        let e = &v["event"];
        ids_of
            .entry((
                e["type"].as_str().unwrap().into(),
                e["credentialId"].as_str().unwrap().into(),
            ))
            .or_default()
            .insert(e["id"].as_str().unwrap().into());
        assert!(e["id"].as_str().unwrap().starts_with("evt_"), "{e}");
        assert!(e["created"].as_str().unwrap().ends_with('Z'), "{e}");
        assert_eq!(e.as_object().unwrap().len(), 4, "{e}");
    }
    assert!(ids_of.values().all(|ids| ids.len() == 1), "{ids_of:#?}");
    let accepted_ids: BTreeSet<&str> = accepted(&seen, "webhook")
        .map(|v| v["event"]["id"].as_str().unwrap())
        .collect();
    assert!(
        accepted_ids.contains(held["id"].as_str().unwrap()),
        "the held event came again: {held}"
    );
    let failed: Vec<&Value> = seen
        .iter()
        .filter(|v| v["sink"] == "webhook" && v["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 5);
    for f in failed {
        assert!(accepted_ids.contains(f["event"]["id"].as_str().unwrap()));
    }
    assert!(accepted(&seen, "webhook").all(|v| v["contentType"] == "application/json"));

    // Mail: each earner hears their badge is ready (the bounced two were
    // sent again), Ada that hers runs out, Cy that his is revoked; nobody
    // is mailed of a suspension. Bea's mail is in French. A message sent
    // twice (the kill may fall between a send and its record) is the same
    // message: its id is its event's.
    let mut by_id: BTreeMap<String, &Value> = BTreeMap::new();
    for m in accepted(&seen, "mail") {
        let id = m["messageId"].as_str().unwrap().to_owned();
        if let Some(before) = by_id.insert(id, m) {
            assert_eq!(
                (&before["to"], &before["subject"]),
                (&m["to"], &m["subject"])
            );
        }
    }
    let mails: Vec<&Value> = by_id.into_values().collect();
    let about = |to: &str, subject_has: &str| {
        mails
            .iter()
            .any(|m| m["to"] == json!([to]) && m["subject"].as_str().unwrap().contains(subject_has))
    };
    assert!(
        about("ada@example.org", "Your badge \"Registered Nurse\""),
        "{mails:#?}"
    );
    assert!(about("ada@example.org", "expires on"), "{mails:#?}");
    assert!(
        about("bea@example.org", "Votre badge « Infirmière diplômée »"),
        "{mails:#?}"
    );
    assert!(about("cy@example.org", "Your badge"), "{mails:#?}");
    assert!(about("cy@example.org", "revoked"), "{mails:#?}");
    assert_eq!(mails.len(), 5, "{mails:#?}");
    assert_eq!(
        seen.iter()
            .filter(|v| v["sink"] == "mail" && v["outcome"] == "failed")
            .count(),
        2
    );
    for m in &mails {
        assert_eq!(m["from"], "badges@board.example");
        let text = m["text"].as_str().unwrap();
        // The link is the badge page's share id: no address, no id in it.
        let link = text
            .lines()
            .find(|l| l.starts_with("http://127.0.0.1:") && l.contains("/b/"))
            .unwrap_or_else(|| panic!("no page link in {text}"));
        assert!(!link.contains('@'), "{link}");
        let page = node.get(&link[link.find("/b/").unwrap()..]);
        assert!(
            page.status() == 200,
            "the mailed link opens the badge page: {link}"
        );
        // The message id is the event's: a repeat is the same message.
        let event_id = m["messageId"]
            .as_str()
            .unwrap()
            .trim_matches(['<', '>'])
            .split('@')
            .next()
            .unwrap()
            .to_owned();
        assert!(
            accepted_ids.contains(event_id.as_str()),
            "{event_id} is an event's id"
        );
    }

    // The outbox is empty once everything is delivered.
    let metrics = node.get("/metrics").text().unwrap();
    assert!(
        metrics.contains("cairn_notifications_total{sink=\"webhook\",outcome=\"delivered\"}"),
        "{metrics}"
    );
}

#[test]
fn notification_settings_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "tiny").unwrap();
    for (args, says) in [
        (
            vec!["--webhook-url", "http://127.0.0.1:9/x"],
            "--webhook-secret-file",
        ),
        (
            vec![
                "--webhook-url",
                "http://127.0.0.1:9/x",
                "--webhook-secret-file",
                short.to_str().unwrap(),
            ],
            "16 bytes",
        ),
        (vec!["--smtp-url", "smtp://127.0.0.1:25"], "--mail-from"),
        (
            vec![
                "--smtp-url",
                "http://127.0.0.1:25",
                "--mail-from",
                "a@b.org",
            ],
            "--smtp-url",
        ),
        (
            vec![
                "--smtp-url",
                "smtp://u:pw@127.0.0.1:25",
                "--mail-from",
                "a@b.org",
            ],
            "CAIRN_SMTP_PASSWORD",
        ),
        (
            vec![
                "--smtp-url",
                "smtp://127.0.0.1:25",
                "--mail-from",
                "not an address",
            ],
            "--mail-from",
        ),
    ] {
        let out = Command::new(cairn_tests::cairn_node_path())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
