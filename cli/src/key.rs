//! `cairn key new` and `cairn key show`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cairn::key::{read_identity, IssuerIdentity, IssuerKey, SigningKeyType};
use clap::Subcommand;

use crate::Failure;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a new issuer key file (a did:key and a chain account), encrypted
    /// with a passphrase from CAIRN_PASSPHRASE or the terminal.
    New {
        /// Where to write the key file; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// The issuer's display name, written into its credentials.
        #[arg(long)]
        name: Option<String>,
        /// The signing key: ed25519 (eddsa-rdfc-2022) or p256 (ecdsa-rdfc-2019).
        #[arg(long, default_value = "ed25519")]
        signing_key: SigningKeyType,
    },
    /// Print a key file's DID and address (never a secret; no passphrase needed).
    Show {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: KeyCommand) -> Result<ExitCode, Failure> {
    match cmd {
        KeyCommand::New {
            out,
            name,
            signing_key,
        } => {
            let passphrase = passphrase(true)?;
            let key = IssuerKey::generate(name, signing_key)?;
            key.save(&out, &passphrase)?;
            print_identity(&key.identity, false);
            eprintln!("wrote {} (mode 0600)", out.display());
        }
        KeyCommand::Show { file, json } => print_identity(&read_identity(&file)?, json),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_identity(id: &IssuerIdentity, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(id).expect("identity serializes")
        );
        return;
    }
    if let Some(name) = &id.name {
        println!("name:    {name}");
    }
    println!("did:     {}", id.did);
    println!("address: {}", id.address);
    println!("suite:   {}", id.signing_key_type.cryptosuite());
}

/// The passphrase: `CAIRN_PASSPHRASE`, or asked on the terminal (twice for a
/// new key, so a typo cannot lock the issuer out).
pub fn passphrase(new: bool) -> Result<String, Failure> {
    if let Ok(p) = std::env::var("CAIRN_PASSPHRASE") {
        if p.is_empty() {
            return Err(Failure("CAIRN_PASSPHRASE is empty".into()));
        }
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure(
            "no passphrase: set CAIRN_PASSPHRASE or run on a terminal".into(),
        ));
    }
    let p = rpassword::prompt_password("passphrase: ")?;
    if p.is_empty() {
        return Err(Failure("empty passphrase".into()));
    }
    if new && rpassword::prompt_password("again: ")? != p {
        return Err(Failure("the passphrases differ".into()));
    }
    Ok(p)
}

/// Unlocks a key file with the passphrase from the environment or terminal.
pub fn unlock(path: &Path) -> Result<IssuerKey, Failure> {
    // Read the public half first: a foreign file is refused before asking.
    read_identity(path)?;
    Ok(IssuerKey::load(path, &passphrase(false)?)?)
}
