//! `cairn-node`: the issuer's node. Issues credentials over HTTP, seals them
//! into batches, anchors each batch root on chain and serves the proofs.
//!
//! Settings come from flags, then `CAIRN_*` environment variables, then a
//! `cairn.toml` file (`--config`, or `./cairn.toml` when it exists).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use alloy::primitives::Address;
use cairn::config::{FileSettings, Settings};
use clap::{Args, Parser, Subcommand};

// JSON-LD processing allocates at a furious rate; see cli/src/main.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cairn-node",
    version,
    about = "Issue Open Badges 3.0 credentials, anchor them on chain, serve their proofs",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Where the node keeps its data (RocksDB, tokens, the dev chain).
    #[arg(long, env = "CAIRN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The issuer key file (`cairn key new`); its passphrase comes from
    /// CAIRN_PASSPHRASE or CAIRN_PASSPHRASE_FILE. Default: a demo key,
    /// created in the data directory.
    #[arg(long, env = "CAIRN_KEY")]
    key: Option<PathBuf>,
    /// Address to serve HTTP on [default: 127.0.0.1:8080].
    #[arg(long, env = "CAIRN_LISTEN")]
    listen: Option<SocketAddr>,
    /// Seal a batch once this many credentials wait and the anchorer is
    /// idle [default: 10000].
    #[arg(long, env = "CAIRN_BATCH_SIZE")]
    batch_size: Option<usize>,
    /// Seal a batch once its oldest credential has waited this long
    /// [default: 600 on a chain, 5 on the dev chain].
    #[arg(long, env = "CAIRN_BATCH_MAX_AGE", value_name = "SECONDS")]
    batch_max_age: Option<u64>,
    /// The most credentials one batch takes: while anchors are in flight
    /// credentials queue, and the next batch takes everything waiting, up
    /// to this [default: 1000000].
    #[arg(long, env = "CAIRN_BATCH_MAX_LEAVES")]
    batch_max_leaves: Option<usize>,
    /// Anchor transactions sent and not yet deep, at most [default: 4].
    #[arg(long, env = "CAIRN_MAX_ANCHORS_IN_FLIGHT")]
    max_anchors_in_flight: Option<usize>,
    /// A chain's JSON-RPC URL; without it, the embedded dev chain.
    #[arg(long, env = "CAIRN_RPC_URL")]
    rpc_url: Option<String>,
    /// The registry contract's address on that chain.
    #[arg(long, env = "CAIRN_CONTRACT")]
    contract: Option<Address>,
    /// Blocks an anchor must be deep before it counts [default: 12; dev chain 1].
    #[arg(long, env = "CAIRN_CONFIRMATIONS")]
    confirmations: Option<u64>,
    /// Never pay more than this per gas, in gwei [default: 200].
    #[arg(long, env = "CAIRN_MAX_FEE_GWEI")]
    max_fee_gwei: Option<u64>,
    /// The URL the node is reached at, written into credentials' status
    /// list entries [default: http://<listen address>].
    #[arg(long, env = "CAIRN_PUBLIC_URL")]
    public_url: Option<String>,
    /// A chain JSON-RPC URL that badge pages and the verify page read the
    /// registry from, in the reader's browser; repeatable (several must
    /// agree). It must send CORS headers. [default: none on a chain (the
    /// pages cannot check the anchor); the node's /devchain on the dev chain]
    #[arg(long = "public-rpc-url", value_name = "URL")]
    public_rpc_url: Vec<String>,
    /// Sign credentials whose terms no context defines, which only VC
    /// 2.0's @vocab maps (refused by default, naming the term).
    #[arg(long, env = "CAIRN_ALLOW_VOCAB")]
    allow_vocab: bool,
    /// An issuer extension context, URL=FILE (repeatable): credentials and
    /// badge classes may then name URL in @context for fields of their own.
    #[arg(long = "context", value_name = "URL=FILE")]
    context: Vec<String>,
    /// POST every event (issued, anchored, revoked, suspended, expiring)
    /// to this URL as JSON, signed in the Cairn-Signature header.
    #[arg(long, env = "CAIRN_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// The file holding the webhook's signing secret (at least 16 bytes).
    #[arg(long, env = "CAIRN_WEBHOOK_SECRET_FILE")]
    webhook_secret_file: Option<PathBuf>,
    /// Mail earners through this SMTP server: smtps://host:port (TLS),
    /// smtp://host:port?tls=required (STARTTLS) or smtp://host:port
    /// (plain, for a local relay); a user name in the URL logs in, with its
    /// password from CAIRN_SMTP_PASSWORD.
    #[arg(long, env = "CAIRN_SMTP_URL")]
    smtp_url: Option<String>,
    /// The sender of earners' mail, e.g. "Board of Nursing <badges@board.example>".
    #[arg(long, env = "CAIRN_MAIL_FROM")]
    mail_from: Option<String>,
    /// Tell earners and the webhook this many days before a credential
    /// runs out [default: 30].
    #[arg(long, env = "CAIRN_EXPIRY_NOTICE_DAYS", value_name = "DAYS")]
    expiry_notice_days: Option<u32>,
    /// The wait before a failed notification's first retry, doubling each
    /// time up to an hour [default: 10000].
    #[arg(long, env = "CAIRN_NOTIFY_RETRY_MS", value_name = "MS")]
    notify_retry_ms: Option<u64>,
    /// How long an award's claim link (and its wallet offers) works:
    /// 30d, 12h, 90m or 3600s [default: 30d].
    #[arg(long, env = "CAIRN_OFFER_TTL", value_name = "DURATION")]
    offer_ttl: Option<String>,
    /// Badges also carry 1EdTech's status and refresh service: a
    /// `1EdTechRevocationList` entry (GET /revocations) beside the
    /// Bitstring Status List ones, and a `1EdTechCredentialRefresh`
    /// service (GET /credentials/{id}/refresh: its current version), for
    /// Open Badges displayers that know only 1EdTech's types.
    #[arg(long = "1edtech-status", env = "CAIRN_1EDTECH_STATUS")]
    onedtech_status: bool,
    /// A settings file [default: ./cairn.toml if it exists].
    #[arg(long, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Bearer tokens for the issuer endpoints.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write the public side as static files (badge pages, baked images,
    /// JSON and proof bundles, the verify page, the issuer profile, status
    /// lists) for any web server; every page verifies in the reader's
    /// browser against the chain, so the site works with the node gone.
    /// Re-running it writes only what changed.
    ExportSite(ExportArgs),
    /// Print a one-time link that signs into the console (/console): it
    /// starts one session, with its role, within --minutes.
    ConsoleLink {
        #[arg(long, env = "CAIRN_DATA_DIR")]
        data_dir: PathBuf,
        /// The session's role: admin, issuer or viewer.
        #[arg(long, default_value = "admin", value_parser = ["admin", "issuer", "viewer"])]
        role: String,
        /// The node's public URL [default: the one the node last published,
        /// else http://127.0.0.1:8080].
        #[arg(long)]
        public_url: Option<String>,
        /// Minutes the link works for.
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1440))]
        minutes: u64,
    },
}

#[derive(Args)]
struct ExportArgs {
    /// The node's data directory (read only; the node may be running).
    #[arg(long, env = "CAIRN_DATA_DIR")]
    data_dir: PathBuf,
    /// Where to write the site.
    #[arg(long)]
    out: PathBuf,
    /// The site's URL, if not the node's --public-url.
    #[arg(long)]
    public_url: Option<String>,
    /// Chain JSON-RPC URLs the pages read, if not the node's
    /// --public-rpc-url; repeatable.
    #[arg(long = "public-rpc-url", value_name = "URL")]
    public_rpc_url: Vec<String>,
    /// A chain node to build proof bundles from [default: the node's dev
    /// chain, else the first public RPC URL].
    #[arg(long, env = "CAIRN_RPC_URL")]
    rpc_url: Option<String>,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (it is shown once; only its hash is kept).
    Create {
        #[arg(long, env = "CAIRN_DATA_DIR")]
        data_dir: PathBuf,
        /// What it may do: admin (everything), issuer (issue, revoke,
        /// renew, certify, claim links) or viewer (read only).
        #[arg(long, default_value = "admin", value_parser = ["admin", "issuer", "viewer"])]
        role: String,
    },
    /// List tokens by id.
    List {
        #[arg(long, env = "CAIRN_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Revoke a token by id; it stops working within a second.
    Revoke {
        #[arg(long, env = "CAIRN_DATA_DIR")]
        data_dir: PathBuf,
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Token(cmd)) => token(cmd),
        Some(Command::ExportSite(args)) => export_site(args),
        Some(Command::ConsoleLink {
            data_dir,
            role,
            public_url,
            minutes,
        }) => console_link(&data_dir, &role, public_url, minutes),
        None => {
            let result = run(cli.run);
            if result.is_ok() {
                // Every write is synced and the store's background work
                // has stopped (`Store::close`), but RocksDB's static
                // destructors still race its idle pool threads at exit and
                // sometimes abort ("pthread lock: Invalid argument"): a
                // clean stop leaves without running them.
                use std::io::Write;
                let _ = std::io::stdout().flush();
                let _ = std::io::stderr().flush();
                // SAFETY: _exit ends the process at once; nothing after it
                // runs, and nothing is left unwritten.
                unsafe { libc::_exit(0) }
            }
            result
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("cairn-node: {}", reason.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn token(cmd: TokenCommand) -> Result<(), String> {
    match cmd {
        TokenCommand::Create { data_dir, role } => {
            let role: cairn::tokens::Role = role.parse()?;
            let (record, token) =
                cairn::tokens::create(&data_dir, role).map_err(|e| e.to_string())?;
            eprintln!(
                "token {} ({}) created; it is shown once:",
                record.id,
                role.as_str()
            );
            println!("{token}");
        }
        TokenCommand::List { data_dir } => {
            for r in cairn::tokens::list(&data_dir).map_err(|e| e.to_string())? {
                let role = r.role.as_str();
                match r.revoked {
                    Some(when) => {
                        println!("{}  {role}  created {}  revoked {when}", r.id, r.created)
                    }
                    None => println!("{}  {role}  created {}", r.id, r.created),
                }
            }
        }
        TokenCommand::Revoke { data_dir, id } => {
            cairn::tokens::revoke(&data_dir, &id).map_err(|e| e.to_string())?;
            eprintln!("token {id} revoked");
        }
    }
    Ok(())
}

fn console_link(
    data_dir: &std::path::Path,
    role: &str,
    public_url: Option<String>,
    minutes: u64,
) -> Result<(), String> {
    let role: cairn::tokens::Role = role.parse()?;
    // The URL the node published (readable while it runs).
    let base = public_url.unwrap_or_else(|| {
        cairn::store::Store::open_read_only(&data_dir.join("store"))
            .ok()
            .and_then(|store| cairn::published::SiteRecord::read(&store).ok().flatten())
            .map_or_else(|| "http://127.0.0.1:8080".to_owned(), |site| site.base_url)
    });
    let (record, secret) =
        cairn::tokens::create_sign_in(data_dir, role, std::time::Duration::from_secs(minutes * 60))
            .map_err(|e| e.to_string())?;
    eprintln!(
        "sign-in link {} ({}) works once, for {minutes} minutes:",
        record.id,
        role.as_str()
    );
    println!("{}/console/sign-in/{secret}", base.trim_end_matches('/'));
    Ok(())
}

fn export_site(args: ExportArgs) -> Result<(), String> {
    let export = cairn::site::Export {
        data_dir: args.data_dir,
        out: args.out,
        public_url: args.public_url,
        public_rpc_urls: args.public_rpc_url,
        rpc_url: args.rpc_url,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = runtime
        .block_on(cairn::site::export(&export))
        .map_err(|e| e.to_string())?;
    println!("{}: {report}", export.out.display());
    Ok(())
}

fn settings(args: RunArgs) -> Result<Settings, String> {
    let flags = FileSettings {
        data_dir: args.data_dir,
        key: args.key,
        listen: args.listen,
        batch_size: args.batch_size,
        batch_max_age: args.batch_max_age,
        batch_max_leaves: args.batch_max_leaves,
        max_anchors_in_flight: args.max_anchors_in_flight,
        rpc_url: args.rpc_url,
        contract: args.contract,
        confirmations: args.confirmations,
        max_fee_gwei: args.max_fee_gwei,
        public_url: args.public_url,
        public_rpc_url: (!args.public_rpc_url.is_empty()).then_some(args.public_rpc_url),
        allow_vocab: args.allow_vocab.then_some(true),
        context: (!args.context.is_empty()).then_some(args.context),
        webhook_url: args.webhook_url,
        webhook_secret_file: args.webhook_secret_file,
        smtp_url: args.smtp_url,
        mail_from: args.mail_from,
        expiry_notice_days: args.expiry_notice_days,
        notify_retry_ms: args.notify_retry_ms,
        offer_ttl: args.offer_ttl,
        onedtech_status: args.onedtech_status.then_some(true),
    };
    let file = match args.config {
        Some(path) => FileSettings::read(&path).map_err(|e| e.to_string())?,
        None if std::path::Path::new("cairn.toml").is_file() => {
            FileSettings::read(std::path::Path::new("cairn.toml")).map_err(|e| e.to_string())?
        }
        None => FileSettings::default(),
    };
    Settings::resolve(flags.or(file)).map_err(|e| e.to_string())
}

fn run(args: RunArgs) -> Result<(), String> {
    let settings = settings(args)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,alloy=warn,hyper=warn,reqwest=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let (key, demo) = cairn::startup::load_key(&settings).map_err(|e| e.to_string())?;
    if demo {
        eprintln!(
            "\n  *** DEMO ISSUER ***\n  No --key given: issuing as the demo key {} ({}).\n  \
             Its passphrase is public; create a real issuer with `cairn key new` for anything \
             that matters.\n",
            cairn::startup::demo_key_path(&settings.data_dir).display(),
            key.identity.did
        );
    }
    if settings.chain == cairn::config::ChainSetting::Dev {
        tracing::warn!(
            "no --rpc-url: anchoring on the embedded dev chain, which proves nothing to anyone \
             outside this node"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime
        .block_on(cairn::startup::run(
            settings,
            key,
            shutdown_signal(),
            |addr| {
                use std::io::Write;
                println!("cairn-node listening on http://{addr}");
                let _ = std::io::stdout().flush();
            },
        ))
        .map_err(|e| e.to_string())
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
