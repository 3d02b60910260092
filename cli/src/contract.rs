//! `cairn contract deploy`: deploy the registry on a chain from the issuer's
//! account.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::{block_on, Failure};

#[derive(Subcommand)]
pub enum ContractCommand {
    /// Deploy the registry contract and print its address.
    Deploy(DeployArgs),
}

#[derive(Args)]
pub struct DeployArgs {
    /// The chain's JSON-RPC URL.
    #[arg(long)]
    rpc_url: String,
    /// The issuer key file; its chain account pays for the deployment.
    #[arg(long)]
    key: PathBuf,
}

pub fn run(cmd: ContractCommand) -> Result<ExitCode, Failure> {
    match cmd {
        ContractCommand::Deploy(args) => {
            let key = crate::key::unlock(&args.key)?;
            let address = block_on(cairn::anchor::RpcChain::deploy_registry(
                &args.rpc_url,
                key.account_key(),
            ))
            .map_err(|e| Failure(format!("deploying from {}: {e}", key.identity.address)))?;
            println!("{}", address.to_checksum(None));
            Ok(ExitCode::SUCCESS)
        }
    }
}
