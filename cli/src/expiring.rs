//! `cairn expiring`: the credentials of a node that run out before a date,
//! soonest first, to renew them or tell their earners.

use std::process::ExitCode;

use clap::Args;

use crate::client::NodeArgs;
use crate::{block_on, Failure};

#[derive(Args)]
pub struct ExpiringArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// List those whose validity ends before this (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    before: String,
    /// ... and not before this [default: now].
    #[arg(long)]
    after: Option<String>,
    /// Only those of this badge class (handle or URL).
    #[arg(long)]
    achievement: Option<String>,
    /// At most this many [default: 100; at most 1000].
    #[arg(long)]
    limit: Option<u32>,
}

/// One line per credential: its end, its status, its id, its badge page.
pub fn run(args: ExpiringArgs) -> Result<ExitCode, Failure> {
    let client = args.node.client()?;
    let mut query = vec![("expiring-before", args.before)];
    query.extend(args.after.map(|a| ("expiring-after", a)));
    query.extend(args.achievement.map(|a| ("achievement", a)));
    query.extend(args.limit.map(|n| ("limit", n.to_string())));
    let mut url = reqwest::Url::parse("http://x/credentials").expect("a URL");
    url.query_pairs_mut().extend_pairs(&query);
    let path = format!("/credentials?{}", url.query().unwrap_or(""));
    let request = client.authorized(reqwest::Method::GET, &path)?;
    let reply = block_on(client.json(request))?;
    let list = reply["credentials"].as_array().cloned().unwrap_or_default();
    for c in &list {
        println!(
            "{}  {:<9}  {}  {}",
            c["validUntil"].as_str().unwrap_or("?"),
            c["status"].as_str().unwrap_or("?"),
            c["id"].as_str().unwrap_or("?"),
            c["shareUrl"].as_str().unwrap_or(""),
        );
    }
    eprintln!("{} expiring", list.len());
    Ok(ExitCode::SUCCESS)
}
