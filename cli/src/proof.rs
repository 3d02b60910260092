//! `cairn proof --node URL ID`: where a credential stands, from its node.

use std::process::ExitCode;

use clap::Args;

use crate::client::{segment, NodeArgs};
use crate::{block_on, Failure};

#[derive(Args)]
pub struct ProofArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The credential's id.
    id: String,
}

pub fn run(args: ProofArgs) -> Result<ExitCode, Failure> {
    let client = args.node.client()?;
    let proof =
        block_on(client.json(client.get(&format!("/credentials/{}/proof", segment(&args.id)))))?;
    println!("{}", serde_json::to_string_pretty(&proof)?);
    Ok(ExitCode::SUCCESS)
}
