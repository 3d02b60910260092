//! `cairn bundle --node URL ID`: a credential with its proof bundle, for
//! verifying with no network (`cairn verify --offline --trust-block`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::client::{segment, NodeArgs};
use crate::{block_on, Failure};

#[derive(Args)]
pub struct BundleArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The credential's id.
    id: String,
    /// Where to write the bundle; default stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: BundleArgs) -> Result<ExitCode, Failure> {
    let client = args.node.client()?;
    let bundle =
        block_on(client.json(client.get(&format!("/credentials/{}/bundle", segment(&args.id)))))?;
    let mut text = serde_json::to_string_pretty(&bundle)?;
    text.push('\n');
    match args.out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
