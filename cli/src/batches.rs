//! `cairn batches --node URL`: a node's batches and where each stands.

use std::process::ExitCode;

use clap::Args;

use crate::client::NodeArgs;
use crate::{block_on, Failure};

#[derive(Args)]
pub struct BatchesArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Only batches in this state: sealed, anchored or any.
    #[arg(long, default_value = "any")]
    state: String,
    /// Print the node's JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BatchesArgs) -> Result<ExitCode, Failure> {
    let client = args.node.client()?;
    let mut all = Vec::new();
    let mut from = 0u64;
    loop {
        let page = block_on(client.json(client.get("/batches").query(&[
            ("state", args.state.as_str()),
            ("from", &from.to_string()),
            ("limit", "1000"),
        ])))?;
        let list = page["batches"].as_array().cloned().unwrap_or_default();
        let Some(last) = list.last().and_then(|b| b["number"].as_u64()) else {
            break;
        };
        let full = list.len() == 1000;
        all.extend(list);
        if !full {
            break;
        }
        from = last + 1;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"batches": all}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>6}  {:<64}  {:>7}  {:<8}  transaction",
        "batch", "root", "leaves", "state"
    );
    for b in &all {
        println!(
            "{:>6}  {:<64}  {:>7}  {:<8}  {}",
            b["number"],
            b["root"].as_str().unwrap_or(""),
            b["leafCount"],
            b["state"].as_str().unwrap_or(""),
            b["anchor"]["transaction"].as_str().unwrap_or("-"),
        );
    }
    Ok(ExitCode::SUCCESS)
}
