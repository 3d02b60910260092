//! `cairn issue`: sign one Open Badges 3.0 credential.

use std::path::PathBuf;
use std::process::ExitCode;

use cairn::credential::{parse_time, CredentialRequest, IssuerProfile, Recipient};
use cairn::issuer::Signer;
use clap::Args;

use crate::{block_on, load_contexts, read_json, Failure};

#[derive(Args)]
pub struct IssueArgs {
    /// The issuer key file.
    #[arg(long)]
    key: PathBuf,
    /// The Open Badges 3.0 Achievement (badge class) as JSON.
    #[arg(long)]
    achievement: PathBuf,
    /// The earner: a DID, or an email address (published only salted and hashed).
    #[arg(long)]
    recipient: String,
    /// Start of validity (YYYY-MM-DD or RFC 3339); default now.
    #[arg(long)]
    valid_from: Option<String>,
    /// End of validity (YYYY-MM-DD means the end of that day, UTC, or RFC 3339).
    #[arg(long)]
    valid_until: Option<String>,
    /// OB 3.0 Evidence: a JSON object or array.
    #[arg(long)]
    evidence: Option<PathBuf>,
    /// An issuer extension context, URL=FILE; repeatable.
    #[arg(long = "context", value_name = "URL=FILE")]
    contexts: Vec<String>,
    /// The issuer's web site, written into its profile.
    #[arg(long)]
    issuer_url: Option<String>,
    /// An image of the issuer (URL), written into its profile.
    #[arg(long)]
    issuer_image: Option<String>,
    /// The credential's id; default a fresh urn:uuid.
    #[arg(long)]
    id: Option<String>,
    /// Where to write the signed credential; default stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: IssueArgs) -> Result<ExitCode, Failure> {
    // Check everything that needs no secret before asking for the passphrase.
    let recipient: Recipient = args.recipient.parse()?;
    let achievement = read_json(&args.achievement, "--achievement")?;
    let evidence = args
        .evidence
        .as_ref()
        .map(|p| read_json(p, "--evidence"))
        .transpose()?;
    let valid_from = args
        .valid_from
        .as_deref()
        .map(|s| parse_time(s, false).map_err(|e| Failure(format!("--valid-from: {e}"))))
        .transpose()?;
    let valid_until = args
        .valid_until
        .as_deref()
        .map(|s| parse_time(s, true).map_err(|e| Failure(format!("--valid-until: {e}"))))
        .transpose()?;
    let contexts = load_contexts(&args.contexts)?;
    let extra_contexts = args
        .contexts
        .iter()
        .filter_map(|s| s.rsplit_once('=').map(|(url, _)| url.to_owned()))
        .collect();
    if let Some(out) = &args.out {
        if out.exists() {
            return Err(Failure(format!("{} already exists", out.display())));
        }
    }

    let key = crate::key::unlock(&args.key)?;
    let profile = IssuerProfile {
        id: key.identity.did.clone(),
        name: key.identity.name.clone(),
        url: args.issuer_url,
        image: args.issuer_image,
    };
    let signer = Signer::new(&key, profile, contexts);
    let request = CredentialRequest {
        achievement,
        recipient,
        valid_from,
        valid_until,
        evidence,
        extra_contexts,
        id: args.id,
    };
    let signed = block_on(signer.issue(&request))?;
    let mut text = serde_json::to_string_pretty(&signed)?;
    text.push('\n');
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
