//! `cairn badge create|list|show|update|retire --node URL`: a node's badge
//! classes, and `cairn issuer show|set`: its issuer profile.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::client::{segment, NodeArgs};
use crate::{block_on, read_json, Failure};

#[derive(Subcommand)]
pub enum BadgeCommand {
    /// Create a badge class from an OB 3.0 Achievement (JSON, without id).
    Create(ClassArgs),
    /// List the node's badge classes.
    List(ListArgs),
    /// Show one badge class (its handle or URL) as JSON.
    Show(OneArgs),
    /// Make a new version of a badge class; credentials issued before keep theirs.
    Update(UpdateArgs),
    /// Retire a badge class: no more issuance from it.
    Retire(OneArgs),
}

#[derive(Args)]
pub struct ClassArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The Achievement as JSON.
    #[arg(long)]
    file: PathBuf,
    /// The badge image (PNG or SVG), put into the class's `image`.
    #[arg(long)]
    image: Option<PathBuf>,
}

#[derive(Args)]
pub struct UpdateArgs {
    /// The class's handle or URL.
    id: String,
    #[command(flatten)]
    class: ClassArgs,
}

#[derive(Args)]
pub struct OneArgs {
    /// The class's handle or URL.
    id: String,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Print the node's JSON.
    #[arg(long)]
    json: bool,
}

/// An image file as a `data:` URL, its type from its bytes.
pub fn data_url(path: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let kind = cairn_verifier::image::sniff(&bytes)
        .ok_or_else(|| Failure(format!("{}: not a PNG or SVG image", path.display())))?;
    Ok(format!(
        "data:{};base64,{}",
        kind.media_type(),
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

fn class_body(args: &ClassArgs) -> Result<Value, Failure> {
    let mut body = read_json(&args.file, "--file")?;
    if !body.is_object() {
        return Err(Failure(format!(
            "--file {}: expected a JSON object (an Achievement)",
            args.file.display()
        )));
    }
    if let Some(image) = &args.image {
        body["image"] = json!({"id": data_url(image)?, "type": "Image"});
    }
    Ok(body)
}

/// The class's path: a handle as it is, a URL percent-encoded.
fn class_path(id: &str) -> String {
    format!("/achievements/{}", segment(id))
}

fn print(v: &Value) -> Result<ExitCode, Failure> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(ExitCode::SUCCESS)
}

/// The handle of a class from its JSON: its id is `.../achievements/{handle}-v{n}`.
fn handle(class: &Value) -> &str {
    class["id"].as_str().map(class_handle).unwrap_or("")
}

/// The class a reference names (a handle, a version's id, either as a
/// URL): its handle.
pub fn class_handle(reference: &str) -> &str {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.rsplit_once("-v").map_or(last, |(h, _)| h)
}

pub fn run(cmd: BadgeCommand) -> Result<ExitCode, Failure> {
    match cmd {
        BadgeCommand::Create(args) => {
            let client = args.node.client()?;
            let body = class_body(&args)?;
            let class = block_on(client.json(client.post("/achievements")?.json(&body)))?;
            eprintln!("badge class {}", handle(&class));
            print(&class)
        }
        BadgeCommand::Update(args) => {
            let client = args.class.node.client()?;
            let body = class_body(&args.class)?;
            let request = client
                .authorized(reqwest::Method::PUT, &class_path(&args.id))?
                .json(&body);
            print(&block_on(client.json(request))?)
        }
        BadgeCommand::Retire(args) => {
            let client = args.node.client()?;
            let request = client.authorized(reqwest::Method::DELETE, &class_path(&args.id))?;
            let class = block_on(client.json(request))?;
            eprintln!("badge class {} retired", handle(&class));
            Ok(ExitCode::SUCCESS)
        }
        BadgeCommand::Show(args) => {
            let client = args.node.client()?;
            print(&block_on(client.json(client.get(&class_path(&args.id))))?)
        }
        BadgeCommand::List(args) => {
            let client = args.node.client()?;
            let list = block_on(client.json(client.get("/achievements")))?;
            if args.json {
                return print(&list);
            }
            println!(
                "{:<36}  {:>7}  {:<8}  name",
                "badge class", "version", "state"
            );
            for c in list["achievements"].as_array().into_iter().flatten() {
                let name = match &c["name"] {
                    Value::String(s) => s.clone(),
                    other => other
                        .as_array()
                        .and_then(|a| a.first())
                        .or(Some(other))
                        .and_then(|v| v["@value"].as_str())
                        .unwrap_or("")
                        .to_owned(),
                };
                println!(
                    "{:<36}  {:>7}  {:<8}  {name}",
                    handle(c),
                    c["version"].as_str().unwrap_or(""),
                    if c.get("retired").is_some() {
                        "retired"
                    } else {
                        "active"
                    },
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Subcommand)]
pub enum IssuerCommand {
    /// Show the node's issuer profile.
    Show(ShowProfileArgs),
    /// Set the node's issuer profile: from a JSON file (an OB 3.0 Profile),
    /// the flags, or both (the flags win).
    Set(ProfileArgs),
}

#[derive(Args)]
pub struct ShowProfileArgs {
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The profile as JSON.
    #[arg(long)]
    file: Option<PathBuf>,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    url: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// The issuer's logo (PNG or SVG), held by the node.
    #[arg(long)]
    image: Option<PathBuf>,
}

pub fn run_issuer(cmd: IssuerCommand) -> Result<ExitCode, Failure> {
    match cmd {
        IssuerCommand::Show(args) => {
            let client = args.node.client()?;
            print(&block_on(client.json(client.get("/issuer")))?)
        }
        IssuerCommand::Set(args) => {
            let client = args.node.client()?;
            let mut body = match &args.file {
                Some(f) => read_json(f, "--file")?,
                None => Value::Object(Map::new()),
            };
            let Some(obj) = body.as_object_mut() else {
                return Err(Failure("--file: expected a JSON object (a Profile)".into()));
            };
            for (key, value) in [
                ("name", &args.name),
                ("url", &args.url),
                ("email", &args.email),
                ("description", &args.description),
            ] {
                if let Some(v) = value {
                    obj.insert(key.into(), json!(v));
                }
            }
            if let Some(image) = &args.image {
                obj.insert(
                    "image".into(),
                    json!({"id": data_url(image)?, "type": "Image"}),
                );
            }
            let request = client
                .authorized(reqwest::Method::PUT, "/issuer")?
                .json(&body);
            print(&block_on(client.json(request))?)
        }
    }
}
