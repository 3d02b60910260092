//! `cairn`: the command line for issuers and verifiers.
//!
//! Every failure ends in one line on stderr, `cairn: <reason>`, and a non-zero
//! exit code; `cairn verify` exits 0 when every credential is valid, 1 when any
//! is invalid, and 3 when none is invalid but some could not be checked.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// JSON-LD processing allocates and frees small objects at a furious rate
// (context clones, term definitions): glibc malloc took about half of the
// signing time in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod analytics;
mod award;
mod badge;
mod bake;
mod batches;
mod bundle;
mod certify;
mod client;
mod contract;
mod expiring;
mod issue;
mod key;
mod page;
mod proof;
mod quickstart;
mod renew;
mod roster;
mod status;
mod verify;

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Issue and verify Open Badges 3.0 credentials that outlive their issuer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or inspect issuer key files.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Sign an Open Badges 3.0 credential, or have a node issue one or a roster.
    Issue(Box<issue::IssueArgs>),
    /// Manage a node's badge classes.
    #[command(subcommand)]
    Badge(badge::BadgeCommand),
    /// Show or set a node's issuer profile.
    #[command(subcommand)]
    Issuer(badge::IssuerCommand),
    /// Bake a credential into a PNG or SVG badge image.
    Bake(bake::BakeArgs),
    /// Show a credential's public badge page, or make it private or public.
    #[command(subcommand)]
    Page(page::PageCommand),
    /// Show an award's claim link (into the earner's wallet), or give it a
    /// new one.
    #[command(subcommand)]
    Award(award::AwardCommand),
    /// List a node's credentials that expire before a date, soonest first.
    Expiring(expiring::ExpiringArgs),
    /// A node's analytics: badge page views, verifications, downloads,
    /// shares and wallet claims, by day and per badge class.
    Analytics(analytics::AnalyticsArgs),
    /// Show where a credential stands on its node (batch, anchor, proof).
    Proof(proof::ProofArgs),
    /// Fetch a credential's proof bundle from its node, for offline checks.
    Bundle(bundle::BundleArgs),
    /// List a node's batches.
    Batches(batches::BatchesArgs),
    /// Revoke a credential on its node (final).
    Revoke(status::StatusArgs),
    /// Suspend a credential on its node (undo with `reinstate`).
    Suspend(status::StatusArgs),
    /// Lift a suspension.
    Reinstate(status::StatusArgs),
    /// Renew a credential on its node: a new one for the same earner and
    /// achievement, naming the one it renews.
    Renew(renew::RenewArgs),
    /// Show where an earner stands against a certification's
    /// continuing-education requirements, or certify them once met.
    Certify(certify::CertifyArgs),
    /// Deploy the registry contract.
    #[command(subcommand)]
    Contract(contract::ContractCommand),
    /// Verify credentials: offline, against the chain (--rpc-url), or from
    /// proof bundles (--offline --trust-block).
    Verify(verify::VerifyArgs),
    /// Create a demo issuer, issue a credential and verify it.
    Quickstart(quickstart::QuickstartArgs),
}

/// A failure to report on one line.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(cmd) => key::run(cmd),
        Command::Issue(args) => issue::run(*args),
        Command::Badge(cmd) => badge::run(cmd),
        Command::Issuer(cmd) => badge::run_issuer(cmd),
        Command::Bake(args) => bake::run(args),
        Command::Page(cmd) => page::run(cmd),
        Command::Award(cmd) => award::run(cmd),
        Command::Expiring(args) => expiring::run(args),
        Command::Analytics(args) => analytics::run(args),
        Command::Proof(args) => proof::run(args),
        Command::Batches(args) => batches::run(args),
        Command::Bundle(args) => bundle::run(args),
        Command::Contract(cmd) => contract::run(cmd),
        Command::Revoke(args) => status::run(args, "revoked"),
        Command::Suspend(args) => status::run(args, "suspended"),
        Command::Reinstate(args) => status::run(args, "active"),
        Command::Renew(args) => renew::run(args),
        Command::Certify(args) => certify::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Quickstart(args) => quickstart::run(args),
    };
    match result {
        Ok(code) => code,
        Err(Failure(reason)) => {
            // One line, whatever the error carried.
            eprintln!("cairn: {}", reason.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// Writes a credential, pretty-printed, to `out` or to stdout.
pub fn write_credential(
    out: Option<&std::path::Path>,
    credential: &serde_json::Value,
) -> Result<ExitCode, Failure> {
    let mut text = serde_json::to_string_pretty(credential)?;
    text.push('\n');
    match out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses `URL=FILE` and reads the file: an issuer's extension context.
pub fn load_contexts(specs: &[String]) -> Result<cairn_verifier::context::Contexts, Failure> {
    let mut contexts = cairn_verifier::context::Contexts::standard();
    for spec in specs {
        let (url, path) = spec
            .rsplit_once('=')
            .ok_or_else(|| Failure(format!("--context `{spec}`: expected URL=FILE")))?;
        let text =
            std::fs::read_to_string(path).map_err(|e| Failure(format!("--context {path}: {e}")))?;
        contexts = contexts.with_extension(url, &text)?;
    }
    Ok(contexts)
}

/// Reads and parses a JSON file, naming the file in any error.
pub fn read_json(path: &PathBuf, what: &str) -> Result<serde_json::Value, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure(format!("{what} {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Failure(format!("{what} {}: not valid JSON: {e}", path.display())))
}

/// A runtime for this thread. Signing and verification are CPU work, so no
/// multi-threaded runtime is needed (a worker keeps one for all its items);
/// I/O is enabled for the commands that talk to a node or a chain.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts")
}

/// Runs one future to completion on this thread.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    runtime().block_on(f)
}
