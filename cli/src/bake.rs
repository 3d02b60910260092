//! `cairn bake --credential c.json --image badge.png --out baked.png`: bakes
//! a credential into a badge image here, with no node.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::{read_json, Failure};

#[derive(Args)]
pub struct BakeArgs {
    /// The signed credential (JSON).
    #[arg(long)]
    credential: PathBuf,
    /// The badge image: PNG or SVG. A credential already baked in is replaced.
    #[arg(long)]
    image: PathBuf,
    /// Where to write the baked image.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: BakeArgs) -> Result<ExitCode, Failure> {
    let credential = read_json(&args.credential, "--credential")?;
    if !credential.is_object() {
        return Err(Failure(format!(
            "--credential {}: expected a JSON object",
            args.credential.display()
        )));
    }
    let image = std::fs::read(&args.image)
        .map_err(|e| Failure(format!("--image {}: {e}", args.image.display())))?;
    let baked = cairn_verifier::image::bake(&image, &credential)
        .map_err(|e| Failure(format!("--image {}: {e}", args.image.display())))?;
    std::fs::write(&args.out, baked)
        .map_err(|e| Failure(format!("--out {}: {e}", args.out.display())))?;
    Ok(ExitCode::SUCCESS)
}
