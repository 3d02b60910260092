//! `cairn page show|private|public`: a credential's public badge page on
//! its node: its share URL, and whether everyone may see it.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::client::{segment, NodeArgs};
use crate::{block_on, Failure};

#[derive(Subcommand)]
pub enum PageCommand {
    /// Print the page's share URL and whether it is private.
    Show(PageArgs),
    /// Make the page private: 404 to everyone (and left out of export-site).
    Private(PageArgs),
    /// Make the page public again.
    Public(PageArgs),
}

#[derive(Args)]
pub struct PageArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The credential's id.
    id: String,
}

pub fn run(cmd: PageCommand) -> Result<ExitCode, Failure> {
    let (args, private) = match cmd {
        PageCommand::Show(a) => (a, None),
        PageCommand::Private(a) => (a, Some(true)),
        PageCommand::Public(a) => (a, Some(false)),
    };
    let client = args.node.client()?;
    let path = format!("/credentials/{}/page", segment(&args.id));
    let request = match private {
        None => client.authorized(reqwest::Method::GET, &path)?,
        Some(p) => client
            .authorized(reqwest::Method::PUT, &path)?
            .json(&json!({ "private": p })),
    };
    let page = block_on(client.json(request))?;
    println!(
        "{}  {}",
        page["shareUrl"].as_str().unwrap_or("?"),
        match page["private"].as_bool() {
            Some(true) => "private",
            _ => "public",
        }
    );
    Ok(ExitCode::SUCCESS)
}
