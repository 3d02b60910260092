//! `cairn award show|renew`: an award's claim link, into the earner's
//! wallet: where it stands, and a new link when the old one expired, locked
//! or went astray.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::client::{segment, NodeArgs};
use crate::{block_on, Failure};

#[derive(Subcommand)]
pub enum AwardCommand {
    /// Print the claim link, until when it works, and where it stands
    /// (open, claimed, expired, locked, withdrawn), with the credentials
    /// claimed with it.
    Show(AwardArgs),
    /// Give an award not claimed yet a new claim link (the old one stops
    /// working), for the node's --offer-ttl from now.
    Renew(RenewArgs),
}

#[derive(Args)]
pub struct AwardArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The awarded credential's id.
    id: String,
}

#[derive(Args)]
pub struct RenewArgs {
    #[command(flatten)]
    award: AwardArgs,
    /// A wallet claiming the badge must also give a new six-digit
    /// transaction code, printed once here.
    #[arg(long)]
    tx_code: bool,
}

pub fn run(cmd: AwardCommand) -> Result<ExitCode, Failure> {
    let (args, renew) = match cmd {
        AwardCommand::Show(a) => (a, None),
        AwardCommand::Renew(r) => (r.award, Some(r.tx_code)),
    };
    let client = args.node.client()?;
    let path = format!("/credentials/{}/award", segment(&args.id));
    let request = match renew {
        None => client.authorized(reqwest::Method::GET, &path)?,
        Some(tx_code) => client
            .authorized(reqwest::Method::POST, &path)?
            .json(&json!({ "txCode": tx_code })),
    };
    let award = block_on(client.json(request))?;
    println!(
        "{}  {}  until {}",
        award["claimUrl"].as_str().unwrap_or("?"),
        award["state"].as_str().unwrap_or("?"),
        award["claimExpires"].as_str().unwrap_or("?"),
    );
    for claimed in award["claimed"].as_array().into_iter().flatten() {
        println!("claimed as {}", claimed.as_str().unwrap_or("?"));
    }
    if let Some(code) = award["txCode"].as_str() {
        eprintln!(
            "transaction code: {code} (send it apart from the claim link; it is not shown again)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
