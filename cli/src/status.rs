//! `cairn revoke`, `cairn suspend`, `cairn reinstate`: ask the issuer's node
//! to change a credential's status. The node records it at once and writes
//! it to the registry; `cairn proof` / `GET /credentials/{id}/status` show
//! when the chain has it.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::client::NodeArgs;
use crate::{block_on, Failure};

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The credential's id.
    id: String,
    /// Why, kept by the node with the change.
    #[arg(long)]
    reason: Option<String>,
}

/// Sends the change; `status` is `revoked`, `suspended` or `active`.
pub fn run(args: StatusArgs, status: &str) -> Result<ExitCode, Failure> {
    let client = args.node.client()?;
    let mut body = json!({
        "credentialId": args.id,
        "credentialStatus": [{"type": "BitstringStatusListCredential", "status": status}],
    });
    if let Some(reason) = args.reason {
        body["reason"] = json!(reason);
    }
    let reply = block_on(client.json(client.post("/credentials/status")?.json(&body)))?;
    eprintln!(
        "{}: {} (on chain: {})",
        args.id,
        reply["status"].as_str().unwrap_or("?"),
        reply["onChain"].as_str().unwrap_or("?")
    );
    Ok(ExitCode::SUCCESS)
}
