//! `cairn renew`: have the issuer's node renew a credential: a new one for
//! the same earner and achievement, with a new validity window, naming the
//! one it renews. The old one stays valid until it expires, unless revoked.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::client::{segment, NodeArgs};
use crate::{block_on, Failure};

#[derive(Args)]
pub struct RenewArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The id of the credential to renew.
    id: String,
    /// The renewal is valid from this (YYYY-MM-DD or RFC 3339) [default: now].
    #[arg(long)]
    valid_from: Option<String>,
    /// ... until this [default: the badge class's validFor, else as long as
    /// the credential it renews was].
    #[arg(long)]
    valid_until: Option<String>,
    /// Write the new credential here instead of to stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: RenewArgs) -> Result<ExitCode, Failure> {
    if let Some(out) = &args.out {
        if out.exists() {
            return Err(Failure(format!("{} already exists", out.display())));
        }
    }
    let client = args.node.client()?;
    let mut body = json!({});
    if let Some(from) = &args.valid_from {
        body["validFrom"] = json!(from);
    }
    if let Some(until) = &args.valid_until {
        body["validUntil"] = json!(until);
    }
    let path = format!("/credentials/{}/renew", segment(&args.id));
    let reply = block_on(client.json(client.post(&path)?.json(&body)))?;
    let vc = &reply["verifiableCredential"];
    eprintln!(
        "{} renews {} (valid until {})",
        vc["id"].as_str().unwrap_or("?"),
        args.id,
        vc["validUntil"].as_str().unwrap_or("no end")
    );
    crate::issue::say_page(&reply);
    crate::write_credential(args.out.as_deref(), vc)
}
