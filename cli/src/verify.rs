//! `cairn verify`: check credentials and report every check by name:
//! offline, and with `--rpc-url` against the registry on chain, with no
//! contact to the issuer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use cairn_verifier::chain_verification::{
    Anchors, Bindings, ChainVerifier, RegistryPins, Verification,
};
use cairn_verifier::credential::parse_time;
use cairn_verifier::presentation::{is_presentation, PresentationOptions};
use cairn_verifier::registry::{default_confirmations, RegistryReader};
use cairn_verifier::verification::{Report, Standing, Status, Verdict, Verifier};
use chrono::{DateTime, Utc};
use clap::Args;

use crate::{load_contexts, Failure};

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
    /// The registry contract that speaks for the issuers, known out of
    /// band; repeatable. Only anchors in a pinned registry count, and a
    /// binding that predates naming its registry is accepted only here.
    #[arg(long = "registry", value_name = "ADDR")]
    registries: Vec<String>,
    /// The chain of the --registry pins (`eip155:<id>` or the number)
    /// [default: any chain].
    #[arg(long, value_name = "CHAIN", requires = "registries")]
    chain: Option<String>,
    /// Check proof bundles (`cairn bundle`) with no network, against
    /// --trust-block; revocation is then reported as unknown.
    #[arg(long, requires = "trust_block", conflicts_with = "rpc_urls")]
    offline: bool,
    /// The hash of the block that holds the anchor, as the verifier trusts
    /// it (from a chain node it trusts, or a block explorer).
    #[arg(long, value_name = "HASH", requires = "offline")]
    trust_block: Option<String>,
    /// A credential with no anchor proof (not yet anchored, or not issued
    /// through Cairn) is not valid; without this it is judged on its other
    /// checks, and its anchor check says `absent`.
    #[arg(long)]
    require_anchor: bool,
    /// For presentations: the challenge given to the holder, which its
    /// proof must carry.
    #[arg(long)]
    challenge: Option<String>,
    /// For presentations: the verifier's domain, which the holder's proof
    /// must carry.
    #[arg(long)]
    domain: Option<String>,
    /// For presentations: the holder must be every credential's subject.
    #[arg(long)]
    holder_is_subject: bool,
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
    let trusted: Option<alloy::primitives::B256> = match &args.trust_block {
        Some(hash) => Some(hash.parse().map_err(|_| {
            Failure(format!(
                "--trust-block {hash}: expected a 32-byte hex block hash"
            ))
        })?),
        None => None,
    };
    let items = Arc::new(items);
    let reports = verify_all(&args, items.clone(), contexts, now, trusted)?;
    // A presentation is several reports: its own, then each credential's.
    let reports: Vec<(&Item, Option<String>, Report)> = items
        .iter()
        .zip(reports)
        .flat_map(|(item, parts)| parts.into_iter().map(move |(part, r)| (item, part, r)))
        .collect();
    let overall = if reports
        .iter()
        .any(|(_, _, r)| r.verdict == Verdict::Invalid)
    {
        Verdict::Invalid
    } else if reports
        .iter()
        .any(|(_, _, r)| r.verdict == Verdict::Unknown)
    {
        Verdict::Unknown
    } else {
        Verdict::Valid
    };
    // One buffered writer: a report is a dozen lines, and stdout alone
    // flushes each.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        #[derive(serde::Serialize)]
        struct Entry<'a> {
            #[serde(flatten)]
            report: &'a Report,
            file: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            line: Option<usize>,
            /// Of a presentation: `presentation`, or `credential N`.
            #[serde(skip_serializing_if = "Option::is_none")]
            part: Option<&'a str>,
        }
        let credentials: Vec<Entry> = reports
            .iter()
            .map(|(item, part, report)| Entry {
                report,
                file: item.file.display().to_string(),
                line: item.line,
                part: part.as_deref(),
            })
            .collect();
        #[derive(serde::Serialize)]
        struct Run<'a> {
            verdict: Verdict,
            credentials: Vec<Entry<'a>>,
        }
        let run = Run {
            verdict: overall,
            credentials,
        };
        serde_json::to_writer_pretty(&mut out, &run)?;
        writeln!(out)?;
    } else {
        for (item, part, report) in &reports {
            let label = match part {
                Some(part) => format!("{} ({part})", item.label()),
                None => item.label(),
            };
            print_report(&mut out, &label, report)?;
        }
    }
    out.flush()?;
    Ok(match overall {
        Verdict::Valid => ExitCode::SUCCESS,
        Verdict::Invalid => ExitCode::from(1),
        Verdict::Unknown => ExitCode::from(3),
    })
}

/// One credential to verify: from a file, or a line of an NDJSON file.
struct Item {
    file: Arc<Path>,
    line: Option<usize>,
    bytes: Result<Vec<u8>, String>,
}

impl Item {
    fn label(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.file.display()),
            None => self.file.display().to_string(),
        }
    }
}

/// Expands the arguments into credentials: directories into their `.json`,
/// `.png` and `.svg` files (sorted), NDJSON files into their lines, baked
/// badge images into the credential baked in. An unreadable file is an
/// item that fails `json`, not an error of the run.
fn collect(paths: &[PathBuf]) -> Result<Vec<Item>, Failure> {
    let mut items = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Failure(format!("{}: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x == "json" || x == "png" || x == "svg")
                })
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
    let file: Arc<Path> = path.into();
    let item = |line, bytes| Item {
        file: file.clone(),
        line,
        bytes,
    };
    match std::fs::read(path) {
        Ok(bytes) if ndjson => {
            for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                items.push(item(Some(n + 1), Ok(line.to_vec())));
            }
        }
        // A baked badge: the credential inside it.
        Ok(bytes) if cairn_verifier::image::sniff(&bytes).is_some() => {
            let credential = cairn_verifier::image::unbake(&bytes)
                .map(|vc| serde_json::to_vec(&vc).expect("JSON serializes"))
                .map_err(|e| e.to_string());
            items.push(item(None, credential))
        }
        Ok(bytes) => items.push(item(None, Ok(bytes))),
        Err(e) => items.push(item(None, Err(e.to_string()))),
    }
}

/// The reports of one item: one for a credential; for a presentation, its
/// own (`presentation`) and then each credential's (`credential N`).
type Parts = Vec<(Option<String>, Report)>;

/// Verifies every item in one pass on every core: each credential is
/// parsed once, checked offline, then against the chain (`--rpc-url`) or
/// its proof bundle (`--trust-block`). One runtime for all, so the chain
/// nodes' connections are shared and every anchor, binding and status
/// bitmap is read once per run. Reports come back in the order of `items`.
fn verify_all(
    args: &VerifyArgs,
    items: Arc<Vec<Item>>,
    contexts: cairn_verifier::context::Contexts,
    now: DateTime<Utc>,
    trusted: Option<alloy::primitives::B256>,
) -> Result<Vec<Parts>, Failure> {
    use futures_util::StreamExt;
    let asked = PresentationOptions {
        challenge: args.challenge.clone(),
        domain: args.domain.clone(),
        holder_is_subject: args.holder_is_subject,
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| Failure(e.to_string()))?;
    rt.block_on(async {
        let offline = Arc::new(Verifier::new(contexts));
        let bindings = Arc::new(Bindings::new(offline.canonicalizer().clone(), pins(args)?));
        let anchors = match (trusted, args.rpc_urls.is_empty()) {
            (Some(trusted), _) => Anchors::Bundle { trusted },
            (None, false) => Anchors::Chain(Arc::new(connect(args, bindings.clone()).await?)),
            (None, true) => Anchors::Skip,
        };
        let verification =
            Verification::new(offline, bindings, anchors).requiring_anchor(args.require_anchor);
        let work = (0..items.len()).map(|i| {
            let (items, verification, asked) = (items.clone(), verification.clone(), asked.clone());
            tokio::spawn(async move {
                let doc = match &items[i].bytes {
                    Ok(bytes) => cairn_verifier::verification::parse(bytes),
                    Err(e) => return vec![(None, Report::unreadable(e))],
                };
                match doc {
                    Ok(doc) if is_presentation(&doc) => {
                        let r = verification.verify_presentation(&doc, &asked, now).await;
                        let mut parts = vec![(Some("presentation".to_owned()), r.presentation)];
                        parts.extend(
                            r.credentials
                                .into_iter()
                                .enumerate()
                                .map(|(n, c)| (Some(format!("credential {}", n + 1)), c)),
                        );
                        parts
                    }
                    Ok(doc) => vec![(None, verification.verify(&doc, now).await)],
                    Err(report) => vec![(None, *report)],
                }
            })
        });
        // Enough in flight to keep every core busy while a few wait on the
        // chain; `buffered` keeps the order.
        let reports: Vec<_> = futures_util::stream::iter(work)
            .buffered(4 * workers + 16)
            .collect()
            .await;
        reports
            .into_iter()
            .map(|r| r.map_err(|e| Failure(format!("verification worker failed: {e}"))))
            .collect()
    })
}

/// The chain checks' verifier, from `--rpc-url`, `--quorum` and
/// `--confirmations`.
async fn connect(args: &VerifyArgs, bindings: Arc<Bindings>) -> Result<ChainVerifier, Failure> {
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
    Ok(ChainVerifier::new(Arc::new(reader), depth, bindings))
}

/// The registry pins from `--registry` and `--chain`.
fn pins(args: &VerifyArgs) -> Result<RegistryPins, Failure> {
    let chain = match &args.chain {
        None => None,
        Some(c) => Some(
            c.strip_prefix("eip155:")
                .unwrap_or(c)
                .parse::<u64>()
                .map_err(|_| Failure(format!("--chain {c}: expected eip155:<id> or a chain id")))?,
        ),
    };
    let mut pins = RegistryPins::default();
    for r in &args.registries {
        let address = r
            .parse()
            .map_err(|_| Failure(format!("--registry {r}: expected a 0x contract address")))?;
        pins.pin(chain, address);
    }
    Ok(pins)
}

fn print_report(out: &mut impl Write, label: &str, report: &Report) -> std::io::Result<()> {
    // Expired, revoked and suspended are not forged: the line says which.
    let verdict = match report.outcome {
        Standing::Valid => "VALID",
        Standing::Invalid => "INVALID",
        Standing::Revoked => "INVALID: REVOKED",
        Standing::Suspended => "INVALID: SUSPENDED",
        Standing::Expired => "INVALID: EXPIRED",
        Standing::Unknown => "COULD NOT CHECK",
    };
    writeln!(out, "{label}: {verdict}")?;
    if let Some(id) = &report.id {
        writeln!(out, "  id      {id}")?;
    }
    if let Some(issuer) = &report.issuer {
        writeln!(out, "  issuer  {issuer}")?;
    }
    if let Some(at) = &report.anchored_at {
        writeln!(out, "  existed by {at} (anchor block time)")?;
    }
    for check in &report.checks {
        let status = match check.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::CouldNotCheck => "????",
            Status::Absent => "----",
        };
        if check.detail.is_empty() {
            writeln!(out, "  {status}  {}", check.name)?;
        } else {
            writeln!(out, "  {status}  {:<14} {}", check.name, check.detail)?;
        }
    }
    for w in &report.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    // A learner record's credentials, each by name, each with its checks.
    for (n, embedded) in report.credentials.iter().enumerate() {
        let name = embedded.name.as_deref().unwrap_or("unnamed");
        print_report(
            out,
            &format!("{label} > credential {} \"{name}\"", n + 1),
            &embedded.report,
        )?;
    }
    Ok(())
}
