//! `cairn certify`: where an earner stands against a certification's
//! continuing-education requirements (`--progress`), or have the node
//! certify them once they are met: the certification and the CLR 2.0
//! record of the credentials that earned it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{json, Value};

use crate::client::{segment, NodeArgs};
use crate::{block_on, Failure};

#[derive(Args)]
pub struct CertifyArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The earner: a DID, or the email address their credentials were
    /// issued with.
    earner: String,
    /// The certification's badge class (handle or id).
    #[arg(long)]
    achievement: String,
    /// Only show where the earner stands; issue nothing.
    #[arg(long)]
    progress: bool,
    /// Write the certification and its record (`certification.json`,
    /// `record.json`) into this directory instead of printing them.
    #[arg(long, conflicts_with = "progress")]
    out_dir: Option<PathBuf>,
}

fn say_progress(p: &Value) {
    let credits = |t: &Value| t["credits"].as_f64().unwrap_or(0.0);
    eprintln!(
        "{}: {} of {} credits since {}{}",
        p["earner"].as_str().unwrap_or("?"),
        credits(&p["earned"]),
        credits(&p["required"]),
        p["window"]["start"].as_str().unwrap_or("?"),
        p["window"]["closes"]
            .as_str()
            .map(|c| format!(" (the window closes {c})"))
            .unwrap_or_default()
    );
    if let Some(cats) = p["required"]["categories"].as_object() {
        for (c, min) in cats {
            eprintln!(
                "  {c}: {} of {}",
                p["earned"]["categories"][c].as_f64().unwrap_or(0.0),
                min
            );
        }
    }
    for x in p["excluded"].as_array().into_iter().flatten() {
        eprintln!(
            "  not counted: {} ({})",
            x["id"].as_str().unwrap_or("?"),
            x["reason"].as_str().unwrap_or("?")
        );
    }
}

pub fn run(args: CertifyArgs) -> Result<ExitCode, Failure> {
    let client = args.node.client()?;
    let earner = segment(&args.earner);
    if args.progress {
        let path = format!(
            "/earners/{earner}/progress?achievement={}",
            segment(&args.achievement)
        );
        let p = block_on(client.json(client.authorized(reqwest::Method::GET, &path)?))?;
        say_progress(&p);
        println!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(if p["met"] == true {
            ExitCode::SUCCESS
        } else {
            // Not met yet: scripts can test for it.
            ExitCode::from(3)
        });
    }
    if let Some(dir) = &args.out_dir {
        for f in ["certification.json", "record.json"] {
            if dir.join(f).exists() {
                return Err(Failure(format!("{} already exists", dir.join(f).display())));
            }
        }
    }
    let path = format!("/earners/{earner}/certifications");
    let reply = block_on(
        client.json(
            client
                .post(&path)?
                .json(&json!({"achievement": args.achievement})),
        ),
    )?;
    let cert = &reply["verifiableCredential"];
    let record = &reply["clrCredential"];
    eprintln!(
        "{} certified: {} (with the learner record {} of {} credentials)",
        args.earner,
        cert["id"].as_str().unwrap_or("?"),
        record["id"].as_str().unwrap_or("?"),
        record["credentialSubject"]["verifiableCredential"]
            .as_array()
            .map_or(0, Vec::len)
    );
    crate::issue::say_page(&reply);
    match &args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
            crate::write_credential(Some(&dir.join("certification.json")), cert)?;
            crate::write_credential(Some(&dir.join("record.json")), record)
        }
        None => crate::write_credential(None, &json!({"certification": cert, "record": record})),
    }
}
