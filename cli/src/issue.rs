//! `cairn issue`: sign one Open Badges 3.0 credential, or any whole VC 2.0
//! credential (`--credential`), with a key file, or have a node issue one
//! (`--node`) or a whole roster (`--node --csv`).

use std::path::PathBuf;
use std::process::ExitCode;

use cairn::issuer::Signer;
use cairn_verifier::credential::{parse_time, CredentialRequest, IssuerProfile, Recipient};
use clap::Args;

use crate::client::{Client, NodeArgs};
use crate::{block_on, load_contexts, read_json, Failure};

#[derive(Args)]
pub struct IssueArgs {
    /// The issuer key file (signing here); not with --node.
    #[arg(long, required_unless_present = "node", conflicts_with = "node")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub node: NodeArgs,
    /// A roster to issue in bulk through the node: a CSV file with a
    /// `recipient` column and optional `name`, `validFrom`, `validUntil`
    /// and `id`.
    #[arg(long, requires = "node", conflicts_with_all = ["recipient", "id", "out"])]
    pub csv: Option<PathBuf>,
    /// With --csv: a directory to write each issued credential to.
    #[arg(long, requires = "csv")]
    pub out_dir: Option<PathBuf>,
    /// With --csv: the idempotency key; default a digest of the roster and
    /// achievement, so that running the same roster again issues nothing twice.
    #[arg(long, requires = "csv")]
    pub idempotency_key: Option<String>,
    /// The Open Badges 3.0 Achievement (badge class) as JSON.
    #[arg(long, required_unless_present_any = ["credential", "badge"])]
    pub achievement: Option<PathBuf>,
    /// A badge class the node keeps (its handle or URL; `cairn badge list`):
    /// the node builds the credential from its current version.
    #[arg(long, requires = "node", conflicts_with_all = ["achievement", "credential", "contexts"])]
    pub badge: Option<String>,
    /// The earner's name, written as `credentialSubject.name`.
    #[arg(long, conflicts_with = "csv")]
    pub recipient_name: Option<String>,
    /// With --csv: check every row (and the badge class) and report each bad
    /// one by line number; issue nothing.
    #[arg(long, requires = "csv")]
    pub dry_run: bool,
    /// A whole unsigned credential (any VC 2.0 credential) as JSON, to sign
    /// as it is; its issuer, id and validFrom are filled in when missing.
    #[arg(long, conflicts_with_all = ["achievement", "recipient", "csv", "evidence", "valid_from", "valid_until"])]
    pub credential: Option<PathBuf>,
    /// The earner: a DID, or an email address (published only salted and hashed).
    #[arg(long, required_unless_present_any = ["csv", "credential"])]
    pub recipient: Option<String>,
    /// Start of validity (YYYY-MM-DD or RFC 3339); default now.
    #[arg(long)]
    pub valid_from: Option<String>,
    /// End of validity (YYYY-MM-DD means the end of that day, UTC, or RFC 3339).
    #[arg(long)]
    pub valid_until: Option<String>,
    /// OB 3.0 Evidence: a JSON object or array.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// An issuer extension context, URL=FILE; repeatable.
    #[arg(long = "context", value_name = "URL=FILE")]
    pub contexts: Vec<String>,
    /// The issuer's web site, written into its profile.
    #[arg(long)]
    pub issuer_url: Option<String>,
    /// An image of the issuer (URL), written into its profile.
    #[arg(long)]
    pub issuer_image: Option<String>,
    /// The credential's id; default a fresh urn:uuid.
    #[arg(long)]
    pub id: Option<String>,
    /// Where to write the signed credential; default stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --node: a wallet claiming the badge must also give a six-digit
    /// transaction code, printed once here for you to send the earner apart
    /// from the claim link.
    #[arg(long, requires = "node", conflicts_with = "csv")]
    pub tx_code: bool,
}

/// What every credential of one `cairn issue` run shares.
pub struct Shared {
    pub achievement: serde_json::Value,
    pub evidence: Option<serde_json::Value>,
    /// The URLs of the `--context` extension contexts, for `@context`.
    pub extra_contexts: Vec<String>,
}

impl Shared {
    pub fn read(args: &IssueArgs) -> Result<Self, Failure> {
        let achievement = args
            .achievement
            .as_ref()
            .ok_or_else(|| Failure("--achievement is required".into()))?;
        Ok(Self {
            achievement: read_json(achievement, "--achievement")?,
            evidence: args
                .evidence
                .as_ref()
                .map(|p| read_json(p, "--evidence"))
                .transpose()?,
            extra_contexts: args
                .contexts
                .iter()
                .filter_map(|s| s.rsplit_once('=').map(|(url, _)| url.to_owned()))
                .collect(),
        })
    }
}

pub fn run(args: IssueArgs) -> Result<ExitCode, Failure> {
    if let Some(csv) = &args.csv {
        return crate::roster::run(&args, csv);
    }
    if let Some(file) = &args.credential {
        let credential = read_json(file, "--credential")?;
        let signed = whole(&args, credential)?;
        return write_out(&args, &signed);
    }
    // Check everything that needs no secret before asking for the passphrase.
    let recipient: Recipient = args
        .recipient
        .as_deref()
        .expect("clap requires --recipient without --csv")
        .parse()?;
    if let Some(badge) = &args.badge {
        let credential = from_badge(
            &recipient,
            args.recipient_name.as_deref(),
            args.valid_from.as_deref(),
            args.valid_until.as_deref(),
            args.id.as_deref(),
            args.evidence
                .as_ref()
                .map(|p| read_json(p, "--evidence"))
                .transpose()?,
        )
        .map_err(|e| Failure(format!("--{e}")))?;
        let client = args.node.client()?;
        let reply = block_on(client.json(client.post("/credentials/issue")?.json(
            &serde_json::json!({"credential": credential, "options": with_tx_code(options(&recipient, Some(badge)), args.tx_code)}),
        )))?;
        say_page(&reply);
        return write_out(&args, &reply["verifiableCredential"]);
    }
    let Shared {
        achievement,
        evidence,
        extra_contexts,
    } = Shared::read(&args)?;
    let valid_from = args
        .valid_from
        .as_deref()
        .map(|s| parse_time(s, false).map_err(|e| Failure(format!("--valid-from: {e}"))))
        .transpose()?;
    let valid_until = args
        .valid_until
        .as_deref()
        .map(|s| parse_time(s, true).map_err(|e| Failure(format!("--valid-until: {e}"))))
        .transpose()?;
    let contexts = load_contexts(&args.contexts)?;
    if let Some(out) = &args.out {
        if out.exists() {
            return Err(Failure(format!("{} already exists", out.display())));
        }
    }

    let request = CredentialRequest {
        achievement,
        recipient,
        valid_from,
        valid_until,
        evidence,
        extra_contexts,
        id: args.id.clone(),
    };
    let signed = match (&args.key, &args.node.node) {
        (_, Some(node)) => {
            let client = Client::new(node, args.node.token.clone())?;
            let unsigned = cairn_verifier::credential::build_unsigned(&request)?;
            let reply = block_on(
                client.json(
                    client
                        .post("/credentials/issue")?
                        .json(&serde_json::json!({"credential": unsigned, "options": with_tx_code(options(&request.recipient, None), args.tx_code)})),
                ),
            )?;
            say_page(&reply);
            reply["verifiableCredential"].clone()
        }
        (Some(key), None) => sign_locally(&args, key, contexts, &request)?,
        (None, None) => unreachable!("clap requires --key or --node"),
    };
    write_out(&args, &signed)
}

/// An issuance request's options: the badge class, and the earner's
/// address when the recipient is one, so the node can mail them (it keeps
/// it beside the credential, which holds only its salted hash).
pub fn options(recipient: &Recipient, badge: Option<&str>) -> serde_json::Value {
    let mut options = serde_json::Map::new();
    if let Some(badge) = badge {
        options.insert("achievement".into(), badge.into());
    }
    if let Recipient::Email(email) = recipient {
        options.insert("recipientEmail".into(), email.as_str().into());
    }
    serde_json::Value::Object(options)
}

/// What a badge class's credential needs from the issuer's side: the
/// recipient and this credential's own fields. The error names the field.
pub fn from_badge(
    recipient: &Recipient,
    name: Option<&str>,
    valid_from: Option<&str>,
    valid_until: Option<&str>,
    id: Option<&str>,
    evidence: Option<serde_json::Value>,
) -> Result<serde_json::Value, String> {
    let mut subject = recipient.subject();
    if let Some(name) = name {
        subject.insert("name".into(), name.into());
    }
    let mut credential = serde_json::json!({ "credentialSubject": subject });
    let from = valid_from
        .map(|s| parse_time(s, false).map_err(|e| format!("valid-from: {e}")))
        .transpose()?;
    let until = valid_until
        .map(|s| parse_time(s, true).map_err(|e| format!("valid-until: {e}")))
        .transpose()?;
    if let (Some(f), Some(u)) = (from, until) {
        if u <= f {
            return Err(format!("valid-until: {u} is not after validFrom {f}"));
        }
    }
    if let Some(f) = from {
        credential["validFrom"] = cairn_verifier::credential::fmt_time(f).into();
    }
    if let Some(u) = until {
        credential["validUntil"] = cairn_verifier::credential::fmt_time(u).into();
    }
    if let Some(id) = id {
        credential["id"] = id.into();
    }
    if let Some(e) = evidence {
        credential["evidence"] = match e {
            serde_json::Value::Array(_) => e,
            other => serde_json::json!([other]),
        };
    }
    Ok(credential)
}

/// `options` asking for a transaction code (`--tx-code`).
fn with_tx_code(mut options: serde_json::Value, tx_code: bool) -> serde_json::Value {
    if tx_code {
        options["txCode"] = true.into();
    }
    options
}

/// The credential's public badge page, which the earner can share, and
/// the claim link that takes it into a wallet (with its transaction code,
/// shown this once).
pub fn say_page(reply: &serde_json::Value) {
    if let Some(url) = reply["shareUrl"].as_str() {
        eprintln!("badge page: {url}");
    }
    if let Some(url) = reply["claimUrl"].as_str() {
        let until = reply["claimExpires"].as_str().unwrap_or("?");
        eprintln!("claim link: {url} (single use, until {until})");
    }
    if let Some(code) = reply["txCode"].as_str() {
        eprintln!(
            "transaction code: {code} (send it apart from the claim link; it is not shown again)"
        );
    }
}

fn write_out(args: &IssueArgs, signed: &serde_json::Value) -> Result<ExitCode, Failure> {
    crate::write_credential(args.out.as_deref(), signed)
}

/// `--credential`: signs a whole credential here (`--key`) or has the node
/// issue it (`--node`), which fills in what it lacks the same way.
fn whole(args: &IssueArgs, credential: serde_json::Value) -> Result<serde_json::Value, Failure> {
    if let Some(out) = &args.out {
        if out.exists() {
            return Err(Failure(format!("{} already exists", out.display())));
        }
    }
    let serde_json::Value::Object(mut obj) = credential else {
        return Err(Failure("--credential: not a JSON object".into()));
    };
    match (&args.key, &args.node.node) {
        (_, Some(node)) => {
            let client = Client::new(node, args.node.token.clone())?;
            let reply = block_on(
                client.json(
                    client
                        .post("/credentials/issue")?
                        .json(&serde_json::json!({"credential": obj})),
                ),
            )?;
            say_page(&reply);
            Ok(reply["verifiableCredential"].clone())
        }
        (Some(key), None) => {
            let contexts = load_contexts(&args.contexts)?;
            let key = crate::key::unlock(key)?;
            let profile = profile(args, &key);
            profile.name_in(&mut obj)?;
            obj.entry("id")
                .or_insert_with(|| uuid::Uuid::new_v4().urn().to_string().into());
            obj.entry("validFrom")
                .or_insert_with(|| cairn_verifier::credential::fmt_time(chrono::Utc::now()).into());
            let signer = Signer::new(&key, profile, contexts);
            Ok(block_on(signer.sign(serde_json::Value::Object(obj)))?)
        }
        (None, None) => unreachable!("clap requires --key or --node"),
    }
}

fn profile(args: &IssueArgs, key: &cairn::key::IssuerKey) -> IssuerProfile {
    IssuerProfile {
        id: key.identity.did.clone(),
        name: key.identity.name.clone().map(Into::into),
        url: args.issuer_url.clone(),
        image: args.issuer_image.clone(),
    }
}

fn sign_locally(
    args: &IssueArgs,
    key: &std::path::Path,
    contexts: cairn_verifier::context::Contexts,
    request: &CredentialRequest,
) -> Result<serde_json::Value, Failure> {
    let key = crate::key::unlock(key)?;
    let signer = Signer::new(&key, profile(args, &key), contexts);
    Ok(block_on(signer.issue(request))?)
}
