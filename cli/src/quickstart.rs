//! `cairn quickstart`: the shortest path from nothing to a verified badge.

use std::path::PathBuf;
use std::process::ExitCode;

use cairn::issuer::Signer;
use cairn::key::{IssuerKey, SigningKeyType};
use cairn_verifier::credential::{CredentialRequest, IssuerProfile};
use cairn_verifier::verification::{Verdict, Verifier};
use clap::Args;
use serde_json::json;

use crate::{block_on, Failure};

/// Used only when CAIRN_PASSPHRASE is unset; the demo key protects nothing.
const DEMO_PASSPHRASE: &str = "cairn-quickstart";

#[derive(Args)]
pub struct QuickstartArgs {
    /// Directory for the demo issuer key, badge class and credential.
    #[arg(long, default_value = "cairn-quickstart")]
    dir: PathBuf,
}

pub fn run(args: QuickstartArgs) -> Result<ExitCode, Failure> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    let passphrase =
        std::env::var("CAIRN_PASSPHRASE").unwrap_or_else(|_| DEMO_PASSPHRASE.to_owned());
    let key_path = dir.join("issuer.key");
    let key = if key_path.exists() {
        IssuerKey::load(&key_path, &passphrase)?
    } else {
        if std::env::var("CAIRN_PASSPHRASE").is_err() {
            eprintln!(
                "DEMO KEY: {} is encrypted with the public passphrase \"{DEMO_PASSPHRASE}\"; \
                 never issue real credentials with it",
                key_path.display()
            );
        }
        let key = IssuerKey::generate(
            Some("Cairn Quickstart Board".into()),
            SigningKeyType::Ed25519,
        )?;
        key.save(&key_path, &passphrase)?;
        key
    };
    println!("issuer   {}", key.identity.did);
    println!("account  {}", key.identity.address);

    let achievement = json!({
        "id": "https://quickstart.example/badges/first-aid",
        "type": ["Achievement"],
        "name": [
            {"@value": "First Aid Responder", "@language": "en"},
            {"@value": "Secouriste", "@language": "fr"}
        ],
        "description": "Completed sixteen hours of first aid training and a practical assessment.",
        "criteria": {"narrative": "Attend the course and pass the practical assessment."},
        "tag": ["first-aid", "health"]
    });
    let achievement_path = dir.join("achievement.json");
    std::fs::write(
        &achievement_path,
        serde_json::to_string_pretty(&achievement)? + "\n",
    )?;

    let signer = Signer::new(
        &key,
        IssuerProfile {
            id: key.identity.did.clone(),
            name: key.identity.name.clone().map(Into::into),
            ..Default::default()
        },
        cairn_verifier::context::Contexts::standard(),
    );
    let request = CredentialRequest {
        achievement,
        recipient: "earner@example.org".parse()?,
        valid_from: None,
        valid_until: None,
        evidence: None,
        extra_contexts: vec![],
        id: None,
    };
    let credential = block_on(signer.issue(&request))?;
    let cred_path = dir.join("credential.json");
    let text = serde_json::to_string_pretty(&credential)? + "\n";
    std::fs::write(&cred_path, &text)?;
    println!("issued   {}", cred_path.display());

    let report = block_on(
        Verifier::new(cairn_verifier::context::Contexts::standard())
            .verify(text.as_bytes(), chrono::Utc::now()),
    );
    for check in &report.checks {
        println!("  {:?}  {}", check.status, check.name);
    }
    if report.verdict != Verdict::Valid {
        return Err(Failure(format!(
            "the quickstart credential did not verify: {:?}",
            report.verdict
        )));
    }
    println!(
        "verified {} — try: cargo run -q --bin cairn -- verify {}",
        cred_path.display(),
        cred_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
