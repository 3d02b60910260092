//! `cairn verify`: check credentials and report every check by name:
//! offline, and with `--rpc-url` against the registry on chain, with no
//! contact to the issuer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cairn::chain_verification::ChainVerifier;
use cairn::credential::parse_time;
use cairn::registry::{default_confirmations, RegistryReader};
use cairn::verification::{Report, Status, Verdict, Verifier};
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::json;

use crate::{load_contexts, runtime, Failure};

#[derive(Args)]
pub struct VerifyArgs {
    /// Credentials: JSON files, directories of them, or NDJSON files
    /// (`.ndjson`, `.jsonl`: one credential per line).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A chain node's JSON-RPC URL, to check the anchor, the issuer binding
    /// and revocation; repeat it to ask several nodes, which must agree.
    #[arg(long = "rpc-url", value_name = "URL")]
    rpc_urls: Vec<String>,
    /// How many of the --rpc-url nodes must answer each question (and
    /// agree) [default: all of them].
    #[arg(long, requires = "rpc_urls")]
    quorum: Option<usize>,
    /// Blocks an anchor must be deep [default: per chain, e.g. 12 on
    /// Ethereum, 128 on Polygon, 1 on local dev chains].
    #[arg(long, requires = "rpc_urls")]
    confirmations: Option<u64>,
    /// Check proof bundles (`cairn bundle`) with no network, against
    /// --trust-block; revocation is then reported as unknown.
    #[arg(long, requires = "trust_block", conflicts_with = "rpc_urls")]
    offline: bool,
    /// The hash of the block that holds the anchor, as the verifier trusts
    /// it (from a chain node it trusts, or a block explorer).
    #[arg(long, value_name = "HASH", requires = "offline")]
    trust_block: Option<String>,
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
    let items = collect(&args.files)?;
    let verifier = Verifier::new(contexts);
    let mut reports = verify_items(&verifier, &items, now);
    if !args.rpc_urls.is_empty() {
        check_chain(&args, &items, &mut reports)?;
    }
    if let Some(hash) = &args.trust_block {
        let trusted: alloy::primitives::B256 = hash.parse().map_err(|_| {
            Failure(format!(
                "--trust-block {hash}: expected a 32-byte hex block hash"
            ))
        })?;
        check_bundles(&items, &mut reports, trusted);
    }

    let overall = if reports.iter().any(|r| r.verdict == Verdict::Invalid) {
        Verdict::Invalid
    } else if reports.iter().any(|r| r.verdict == Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Valid
    };
    if args.json {
        let credentials: Vec<_> = items
            .iter()
            .zip(&reports)
            .map(|(item, report)| {
                let mut v = serde_json::to_value(report).expect("report serializes");
                v["file"] = json!(item.file.display().to_string());
                if let Some(line) = item.line {
                    v["line"] = json!(line);
                }
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"verdict": overall, "credentials": credentials}))?
        );
    } else {
        for (item, report) in items.iter().zip(&reports) {
            print_report(&item.label(), report);
        }
    }
    Ok(match overall {
        Verdict::Valid => ExitCode::SUCCESS,
        Verdict::Invalid => ExitCode::from(1),
        Verdict::Unknown => ExitCode::from(3),
    })
}

/// One credential to verify: from a file, or a line of an NDJSON file.
struct Item {
    file: PathBuf,
    line: Option<usize>,
    bytes: Result<Vec<u8>, String>,
    /// The anchor bundle, when the file is a proof bundle
    /// (`{verifiableCredential, anchorBundle}`).
    bundle: Option<serde_json::Value>,
}

impl Item {
    fn new(file: &Path, line: Option<usize>, bytes: Result<Vec<u8>, String>) -> Self {
        // A proof bundle: verify the credential inside, keep the bundle.
        if let Ok(b) = &bytes {
            if let Ok(serde_json::Value::Object(mut o)) = serde_json::from_slice(b) {
                if let (Some(vc), Some(bundle)) =
                    (o.remove("verifiableCredential"), o.remove("anchorBundle"))
                {
                    return Self {
                        file: file.to_owned(),
                        line,
                        bytes: Ok(serde_json::to_vec(&vc).expect("JSON serializes")),
                        bundle: Some(bundle),
                    };
                }
            }
        }
        Self {
            file: file.to_owned(),
            line,
            bytes,
            bundle: None,
        }
    }
}

/// The offline chain checks, from each file's proof bundle.
fn check_bundles(items: &[Item], reports: &mut [Report], trusted: alloy::primitives::B256) {
    let rt = runtime();
    let canonicalizer = cairn::integrity::Canonicalizer::new(cairn::context::Contexts::standard());
    for (item, report) in items.iter().zip(reports.iter_mut()) {
        let Ok(bytes) = &item.bytes else { continue };
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            continue;
        };
        match &item.bundle {
            Some(bundle) => rt.block_on(cairn::chain_verification::check_bundle(
                &canonicalizer,
                &doc,
                bundle,
                trusted,
                report,
            )),
            None => report.add(
                "anchor",
                Status::CouldNotCheck,
                "not a proof bundle: make one with `cairn bundle`, or verify with --rpc-url",
            ),
        }
    }
}

impl Item {
    fn label(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }
}

/// Expands the arguments into credentials: directories into their `.json`
/// files (sorted), NDJSON files into their lines. An unreadable file is an
/// item that fails `json`, not an error of the run.
fn collect(paths: &[PathBuf]) -> Result<Vec<Item>, Failure> {
    let mut items = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Failure(format!("{}: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for f in files {
                push_file(&mut items, &f);
            }
        } else {
            push_file(&mut items, path);
        }
    }
    Ok(items)
}

fn push_file(items: &mut Vec<Item>, path: &Path) {
    let ndjson = path
        .extension()
        .is_some_and(|x| x == "ndjson" || x == "jsonl");
    match std::fs::read(path) {
        Ok(bytes) if ndjson => {
            for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                items.push(Item::new(path, Some(n + 1), Ok(line.to_vec())));
            }
        }
        Ok(bytes) => items.push(Item::new(path, None, Ok(bytes))),
        Err(e) => items.push(Item::new(path, None, Err(e.to_string()))),
    }
}

/// The chain checks, for every credential the offline checks could read.
/// One runtime for all: the chain nodes' connections are shared, and every
/// anchor, binding and status bitmap is read once per run.
fn check_chain(args: &VerifyArgs, items: &[Item], reports: &mut [Report]) -> Result<(), Failure> {
    use futures_util::StreamExt;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(e.to_string()))?;
    rt.block_on(async {
        let quorum = args.quorum.unwrap_or(args.rpc_urls.len());
        if quorum == 0 || quorum > args.rpc_urls.len() {
            return Err(Failure(format!(
                "--quorum {quorum}: between 1 and the {} --rpc-url given",
                args.rpc_urls.len()
            )));
        }
        let reader = RegistryReader::connect(&args.rpc_urls, quorum)
            .await
            .map_err(|e| Failure(format!("--rpc-url: {e}")))?;
        let depth = args
            .confirmations
            .unwrap_or_else(|| default_confirmations(reader.chain_id()));
        let chain = Arc::new(ChainVerifier::new(Arc::new(reader), depth));
        let work = items.iter().zip(reports.iter_mut()).map(|(item, report)| {
            let chain = chain.clone();
            async move {
                let Ok(bytes) = &item.bytes else { return };
                let Ok(doc) = serde_json::from_slice::<serde_json::Value>(bytes) else {
                    return;
                };
                if doc.is_object() {
                    chain.check(&doc, report).await;
                }
            }
        });
        futures_util::stream::iter(work)
            .buffer_unordered(64)
            .collect::<Vec<()>>()
            .await;
        Ok(())
    })
}

/// Verifies on every core; reports come back in the order of `items`.
fn verify_items(verifier: &Verifier, items: &[Item], now: DateTime<Utc>) -> Vec<Report> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len());
    let mut reports: Vec<Option<Report>> = vec![None; items.len()];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let rt = runtime();
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let report = match &item.bytes {
                            Ok(bytes) => rt.block_on(verifier.verify(bytes, now)),
                            Err(e) => Report::unreadable(e),
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

fn print_report(label: &str, report: &Report) {
    let verdict = match report.verdict {
        Verdict::Valid => "VALID",
        Verdict::Invalid => "INVALID",
        Verdict::Unknown => "COULD NOT CHECK",
    };
    println!("{label}: {verdict}");
    if let Some(id) = &report.id {
        println!("  id      {id}");
    }
    if let Some(issuer) = &report.issuer {
        println!("  issuer  {issuer}");
    }
    if let Some(at) = &report.anchored_at {
        println!("  existed by {at} (anchor block time)");
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
    for w in &report.warnings {
        println!("  warning: {w}");
    }
}
