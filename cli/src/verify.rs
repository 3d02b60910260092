//! `cairn verify`: check credentials offline and report every check by name.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn::credential::parse_time;
use cairn::verification::{Report, Status, Verdict, Verifier};
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::json;

use crate::{load_contexts, runtime, Failure};

#[derive(Args)]
pub struct VerifyArgs {
    /// Credential files (JSON).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
    /// An extension context the credentials use, URL=FILE; repeatable.
    #[arg(long = "context", value_name = "URL=FILE")]
    contexts: Vec<String>,
    /// Check validity as of this time instead of now (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    at: Option<String>,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode, Failure> {
    let contexts = load_contexts(&args.contexts)?;
    let now: DateTime<Utc> = match &args.at {
        Some(s) => parse_time(s, false).map_err(|e| Failure(format!("--at: {e}")))?,
        None => Utc::now(),
    };
    let verifier = Verifier::new(contexts);
    let reports = verify_files(&verifier, &args.files, now);

    let overall = if reports.iter().any(|r| r.verdict == Verdict::Invalid) {
        Verdict::Invalid
    } else if reports.iter().any(|r| r.verdict == Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Valid
    };
    if args.json {
        let credentials: Vec<_> = args
            .files
            .iter()
            .zip(&reports)
            .map(|(file, report)| {
                let mut v = serde_json::to_value(report).expect("report serializes");
                v["file"] = json!(file.display().to_string());
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"verdict": overall, "credentials": credentials}))?
        );
    } else {
        for (file, report) in args.files.iter().zip(&reports) {
            print_report(file, report);
        }
    }
    Ok(match overall {
        Verdict::Valid => ExitCode::SUCCESS,
        Verdict::Invalid => ExitCode::from(1),
        Verdict::Unknown => ExitCode::from(3),
    })
}

/// Verifies files on every core; reports come back in the order of `files`.
fn verify_files(verifier: &Verifier, files: &[PathBuf], now: DateTime<Utc>) -> Vec<Report> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len());
    let mut reports: Vec<Option<Report>> = vec![None; files.len()];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let rt = runtime();
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        let report = match std::fs::read(file) {
                            Ok(bytes) => rt.block_on(verifier.verify(&bytes, now)),
                            Err(e) => Report::unreadable(&e.to_string()),
                        };
                        done.push((i, report));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("verification worker panicked") {
                reports[i] = Some(r);
            }
        }
    });
    reports
        .into_iter()
        .map(|r| r.expect("every file verified"))
        .collect()
}

fn print_report(file: &std::path::Path, report: &Report) {
    let verdict = match report.verdict {
        Verdict::Valid => "VALID",
        Verdict::Invalid => "INVALID",
        Verdict::Unknown => "COULD NOT CHECK",
    };
    println!("{}: {verdict}", file.display());
    if let Some(id) = &report.id {
        println!("  id      {id}");
    }
    if let Some(issuer) = &report.issuer {
        println!("  issuer  {issuer}");
    }
    for check in &report.checks {
        let status = match check.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::CouldNotCheck => "????",
        };
        if check.detail.is_empty() {
            println!("  {status}  {}", check.name);
        } else {
            println!("  {status}  {:<14} {}", check.name, check.detail);
        }
    }
}
