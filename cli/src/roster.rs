//! `cairn issue --node URL --csv roster.csv`: a whole roster in one bulk
//! request, with a progress bar and a summary.
//!
//! Every row is checked before anything is sent: a roster with a bad row is
//! refused whole, naming the rows, so that fixing it and running again never
//! leaves a half-issued roster under a different idempotency key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cairn_verifier::credential::{
    build_unsigned, fmt_time, parse_time, CredentialRequest, Recipient,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::client::{problem_text, Client};
use crate::issue::IssueArgs;
use crate::{block_on, Failure};

/// Rows a roster may have: a bulk request's items at most.
const MAX_ROWS: usize = 100_000;

/// The columns a roster may have, by normalized header name.
#[derive(Default)]
struct Columns {
    recipient: Option<usize>,
    name: Option<usize>,
    valid_from: Option<usize>,
    valid_until: Option<usize>,
    id: Option<usize>,
}

fn columns(headers: &[String], path: &Path) -> Result<Columns, Failure> {
    let mut c = Columns::default();
    for (i, h) in headers.iter().enumerate() {
        let name: String = h
            .trim()
            .chars()
            .filter(|ch| !matches!(ch, '_' | '-' | ' '))
            .collect::<String>()
            .to_lowercase();
        match name.as_str() {
            "recipient" => c.recipient = Some(i),
            "name" => c.name = Some(i),
            "validfrom" => c.valid_from = Some(i),
            "validuntil" => c.valid_until = Some(i),
            "id" => c.id = Some(i),
            _ => {
                return Err(Failure(format!(
                "{}: unknown column `{h}` (expected recipient, name, validFrom, validUntil, id)",
                path.display()
            )))
            }
        }
    }
    if c.recipient.is_none() {
        return Err(Failure(format!(
            "{}: no `recipient` column",
            path.display()
        )));
    }
    Ok(c)
}

pub fn run(args: &IssueArgs, csv_path: &Path) -> Result<ExitCode, Failure> {
    let node = args
        .node
        .node
        .as_deref()
        .expect("clap requires --node with --csv");
    let client = Client::new(node, args.node.token.clone())?;
    // Rows become whole credentials from --achievement, or the recipient's
    // part of one from the node's badge class (--badge).
    let shared = match &args.badge {
        Some(_) => None,
        None => Some(crate::issue::Shared::read(args)?),
    };
    let evidence = match &shared {
        Some(s) => s.evidence.clone(),
        None => args
            .evidence
            .as_ref()
            .map(|p| crate::read_json(p, "--evidence"))
            .transpose()?,
    };
    let bytes =
        std::fs::read(csv_path).map_err(|e| Failure(format!("{}: {e}", csv_path.display())))?;
    // Read as the console reads rosters: the same lines named, blank lines
    // counted.
    let roster = cairn::roster::read(&bytes, usize::MAX, MAX_ROWS)
        .map_err(|e| Failure(format!("{}: {e}", csv_path.display())))?;
    let cols = columns(&roster.headers, csv_path)?;

    // Check every row first.
    let mut lines = Vec::new();
    let mut rows = Vec::new();
    let mut options = Vec::new();
    let mut bad = Vec::new();
    for (line, record) in &roster.rows {
        let line = *line;
        let cell = |c: Option<usize>| {
            c.and_then(|i| record.get(i))
                .filter(|s| !s.is_empty())
                .cloned()
        };
        let row = (|| -> Result<(Value, Value), String> {
            let recipient: Recipient = cell(cols.recipient)
                .ok_or("recipient: empty")?
                .parse()
                .map_err(|e| format!("recipient: {e}"))?;
            let opts = crate::issue::options(&recipient, args.badge.as_deref());
            let valid_from = cell(cols.valid_from)
                .map(|s| parse_time(&s, false).map_err(|e| format!("validFrom: {e}")))
                .transpose()?;
            let valid_until = cell(cols.valid_until)
                .map(|s| parse_time(&s, true).map_err(|e| format!("validUntil: {e}")))
                .transpose()?;
            let name = cell(cols.name);
            let mut credential = match &shared {
                Some(shared) => {
                    let request = CredentialRequest {
                        achievement: shared.achievement.clone(),
                        recipient,
                        valid_from,
                        valid_until,
                        evidence: evidence.clone(),
                        extra_contexts: shared.extra_contexts.clone(),
                        id: cell(cols.id),
                    };
                    let mut c = build_unsigned(&request).map_err(|e| e.to_string())?;
                    if let Some(name) = name {
                        c["credentialSubject"]["name"] = json!(name);
                    }
                    c
                }
                None => {
                    if let (Some(f), Some(u)) = (valid_from, valid_until) {
                        if u <= f {
                            return Err(format!("validUntil: {u} is not after validFrom {f}"));
                        }
                    }
                    let mut subject = recipient.subject();
                    if let Some(name) = name {
                        subject.insert("name".into(), json!(name));
                    }
                    let mut c = json!({"credentialSubject": subject});
                    if let Some(f) = valid_from {
                        c["validFrom"] = json!(fmt_time(f));
                    }
                    if let Some(u) = valid_until {
                        c["validUntil"] = json!(fmt_time(u));
                    }
                    if let Some(id) = cell(cols.id) {
                        c["id"] = json!(id);
                    }
                    if let Some(e) = &evidence {
                        c["evidence"] = if e.is_array() { e.clone() } else { json!([e]) };
                    }
                    c
                }
            };
            if cols
                .id
                .and_then(|i| record.get(i))
                .is_none_or(String::is_empty)
            {
                // The node derives the id from the idempotency key and the
                // row's position, so that a rerun finds what it issued.
                credential.as_object_mut().expect("an object").remove("id");
            }
            Ok((credential, opts))
        })();
        match row {
            Ok((credential, opts)) => {
                rows.push(credential);
                options.push(opts);
                lines.push(line);
            }
            Err(reason) => bad.push(format!("line {line}: {reason}")),
        }
    }
    if args.dry_run {
        return dry_run(&client, args.badge.as_deref(), csv_path, &bad, rows.len());
    }
    if !bad.is_empty() {
        return Err(Failure(format!(
            "{}: {} ({} of {} rows invalid; nothing issued)",
            csv_path.display(),
            bad.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
            bad.len(),
            bad.len() + rows.len()
        )));
    }
    if rows.is_empty() {
        return Err(Failure(format!("{}: no rows", csv_path.display())));
    }
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    }
    let key = match &args.idempotency_key {
        Some(k) => k.clone(),
        None => {
            let achievement_bytes = match (&shared, &args.badge) {
                (Some(s), _) => serde_json::to_vec(&s.achievement).expect("JSON serializes"),
                (None, Some(badge)) => badge.as_bytes().to_vec(),
                (None, None) => unreachable!("--achievement or --badge"),
            };
            let digest = Sha256::new()
                .chain_update(b"cairn roster\0")
                .chain_update(&bytes)
                .chain_update(b"\0")
                .chain_update(achievement_bytes)
                .finalize();
            format!("roster-{}", hex::encode(&digest[..16]))
        }
    };
    let mut body = Vec::new();
    for (credential, options) in rows.iter().zip(&options) {
        let item = json!({"credential": credential, "options": options});
        serde_json::to_writer(&mut body, &item).expect("JSON writes");
        body.push(b'\n');
    }
    let request = client
        .post("/credentials/issue/bulk")?
        .header("content-type", "application/x-ndjson")
        .header("idempotency-key", &key)
        .body(body);
    block_on(send(
        request,
        &rows,
        &lines,
        args.out_dir.as_deref(),
        csv_path,
    ))
}

/// `--dry-run`: every bad row on its own line, and whether the badge class
/// can issue; nothing is sent for issuance.
fn dry_run(
    client: &Client,
    badge: Option<&str>,
    csv_path: &Path,
    bad: &[String],
    good: usize,
) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    for b in bad {
        let _ = writeln!(out, "{}: {b}", csv_path.display());
    }
    if let Some(badge) = badge {
        let path = format!(
            "/achievements/{}",
            crate::client::segment(crate::badge::class_handle(badge))
        );
        let class = block_on(client.json(client.get(&path)))
            .map_err(|Failure(e)| Failure(format!("--badge {badge}: {e}")))?;
        if class.get("retired").is_some() {
            return Err(Failure(format!(
                "--badge {badge}: the badge class is retired; nothing would be issued"
            )));
        }
    }
    let _ = writeln!(
        out,
        "{}: {good} rows would be issued, {} are bad; nothing issued (dry run)",
        csv_path.display(),
        bad.len()
    );
    if bad.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure(format!(
            "{}: {} of {} rows invalid",
            csv_path.display(),
            bad.len(),
            bad.len() + good
        )))
    }
}

async fn send(
    request: reqwest::RequestBuilder,
    rows: &[Value],
    lines: &[u64],
    out_dir: Option<&Path>,
    csv_path: &Path,
) -> Result<ExitCode, Failure> {
    let mut response = request
        .send()
        .await
        .map_err(|e| Failure(format!("the node: {e}")))?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        return Err(Failure(crate::client::problem_line(status, &body)));
    }
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} issued  {per_sec}  eta {eta}",
        )
        .expect("a valid template"),
    );
    let mut buffer: Vec<u8> = Vec::new();
    let mut summary = None;
    let mut failures = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| Failure(format!("the node stopped answering: {e}")))?;
        let Some(chunk) = chunk else { break };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let item: Value = serde_json::from_slice(&line)
                .map_err(|e| Failure(format!("the node sent an unreadable result: {e}")))?;
            if let Some(s) = item.get("summary") {
                summary = Some(s.clone());
                continue;
            }
            let index = item["index"].as_u64().unwrap_or(0) as usize;
            let line_no = lines.get(index).copied().unwrap_or(0);
            match item["status"].as_u64() {
                Some(200 | 201) => {
                    if let Some(dir) = out_dir {
                        write_credential(dir, &item["verifiableCredential"])?;
                    }
                }
                Some(status) => failures.push(format!(
                    "{} line {line_no}: {}",
                    csv_path.display(),
                    problem_text(status as u16, &item["problem"])
                )),
                None => {}
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let Some(summary) = summary else {
        return Err(Failure(
            "the node closed the response before its summary; run the same command again: \
             nothing is issued twice"
                .into(),
        ));
    };
    let mut err = std::io::stderr().lock();
    for f in &failures {
        let _ = writeln!(err, "{f}");
    }
    let _ = writeln!(
        err,
        "issued {}, already issued {}, failed {}",
        summary["issued"], summary["replayed"], summary["failed"]
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_credential(dir: &Path, vc: &Value) -> Result<(), Failure> {
    let id = vc["id"].as_str().unwrap_or("credential");
    let name: String = id
        .strip_prefix("urn:uuid:")
        .unwrap_or(id)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path: PathBuf = dir.join(format!("{name}.json"));
    let mut text = serde_json::to_string_pretty(vc).expect("JSON serializes");
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))
}
