//! `cairn analytics`: a node's badge page views, verifications, downloads,
//! shares and wallet claims, by day and per badge class, or the whole CSV.

use std::process::ExitCode;

use cairn::analytics::{Counts, Event, Report};
use clap::Args;

use crate::client::NodeArgs;
use crate::{block_on, Failure};

#[derive(Args)]
pub struct AnalyticsArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The first day (YYYY-MM-DD) [default: 29 days before --to].
    #[arg(long)]
    from: Option<String>,
    /// The last day (YYYY-MM-DD) [default: today, UTC].
    #[arg(long)]
    to: Option<String>,
    /// Only this badge class (handle or URL).
    #[arg(long)]
    achievement: Option<String>,
    /// Print the CSV (a line per day, badge class and credential) instead.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// Print the report as JSON (`GET /analytics`).
    #[arg(long)]
    json: bool,
}

pub fn run(args: AnalyticsArgs) -> Result<ExitCode, Failure> {
    let client = args.node.client()?;
    let mut url = reqwest::Url::parse("http://x/analytics").expect("a URL");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in [
            ("from", &args.from),
            ("to", &args.to),
            ("achievement", &args.achievement),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.append_pair("format", if args.csv { "csv" } else { "json" });
    }
    let path = format!("/analytics?{}", url.query().unwrap_or(""));
    let request = client.authorized(reqwest::Method::GET, &path)?;
    let body = block_on(client.body(request))?;
    if args.csv {
        print!("{}", String::from_utf8_lossy(&body));
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        println!("{}", String::from_utf8_lossy(&body));
        return Ok(ExitCode::SUCCESS);
    }
    let report: Report = serde_json::from_slice(&body)
        .map_err(|e| Failure(format!("the node's report does not read: {e}")))?;
    let header = |first: &str| {
        let mut line = format!("{first:<36}");
        for e in Event::ALL {
            line.push_str(&format!(" {:>8}", short(e)));
        }
        line
    };
    let row = |first: &str, c: &Counts| {
        let mut line = format!("{first:<36}");
        for e in Event::ALL {
            line.push_str(&format!(" {:>8}", c.get(e)));
        }
        line
    };
    println!("{} to {}", report.from, report.to);
    println!("{}", header("day"));
    for d in &report.days {
        println!("{}", row(&d.day, &d.counts));
    }
    println!("{}", row("total", &report.totals));
    if !report.achievements.is_empty() {
        println!();
        println!("{}", header("badge class"));
        for a in &report.achievements {
            let name = a.name.as_deref().unwrap_or(&a.achievement);
            println!(
                "{}",
                row(if name.is_empty() { "(none)" } else { name }, &a.counts)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A column's heading.
fn short(e: Event) -> &'static str {
    match e {
        Event::PageView => "views",
        Event::VerifyInPage => "ver-page",
        Event::VerifyApi => "ver-api",
        Event::DownloadPng => "png",
        Event::DownloadSvg => "svg",
        Event::DownloadJson => "json",
        Event::DownloadBundle => "bundle",
        Event::ShareLinkedIn => "linkedin",
        Event::ShareCopyLink => "copy",
        Event::Claim => "claims",
    }
}
