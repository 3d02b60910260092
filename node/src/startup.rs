//! Starting and stopping the node: the issuer key, the chain connection
//! (the dev chain's registry deployed on first start), the pipeline's
//! tasks, the HTTP server, and a graceful shutdown. The one module that
//! wires `node`, `pipeline` and `api` together; none of them knows it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::providers::Provider;
use tokio::sync::watch;

use crate::anchor::{AnchorError, ChainConfig, RpcChain};
use crate::config::{ChainSetting, Settings};
use crate::devchain::DevChain;
use crate::key::IssuerKey;
use crate::node::{ChainInfo, Node, NodeError};

/// The passphrase of the demo key a node creates when given none. It
/// protects nothing, and says so.
pub const DEMO_PASSPHRASE: &str = "cairn-demo-key-not-secret";
pub const DEMO_KEY_FILE: &str = "demo-issuer.key";

/// Reads the issuer key named in the settings, or creates (once) and reads
/// the demo key in the data directory.
pub fn load_key(settings: &Settings) -> Result<(IssuerKey, bool), NodeError> {
    match &settings.key {
        Some(path) => {
            crate::key::read_identity(path)?;
            let passphrase = passphrase()?;
            Ok((IssuerKey::load(path, &passphrase)?, false))
        }
        None => {
            let path = settings.data_dir.join(DEMO_KEY_FILE);
            std::fs::create_dir_all(&settings.data_dir).map_err(|source| NodeError::DataDir {
                path: settings.data_dir.clone(),
                source,
            })?;
            if !path.exists() {
                let key = IssuerKey::generate(
                    Some("Cairn Demo Issuer".into()),
                    crate::key::SigningKeyType::Ed25519,
                )?;
                key.save(&path, DEMO_PASSPHRASE)?;
            }
            Ok((IssuerKey::load(&path, DEMO_PASSPHRASE)?, true))
        }
    }
}

/// The key's passphrase: `CAIRN_PASSPHRASE`, or the first line of the file
/// named by `CAIRN_PASSPHRASE_FILE` (systemd credentials, secrets mounts).
fn passphrase() -> Result<String, NodeError> {
    if let Ok(p) = std::env::var("CAIRN_PASSPHRASE") {
        if !p.is_empty() {
            return Ok(p);
        }
    }
    if let Ok(file) = std::env::var("CAIRN_PASSPHRASE_FILE") {
        let text = std::fs::read_to_string(&file).map_err(|e| {
            NodeError::Passphrase(Some(format!("CAIRN_PASSPHRASE_FILE {file}: {e}")))
        })?;
        return Ok(text.lines().next().unwrap_or("").to_owned());
    }
    Err(NodeError::Passphrase(None))
}

/// Polling intervals: fast on a chain on this machine, every 2 s elsewhere.
fn poll_interval(url: &str) -> Duration {
    let local = ["//127.0.0.1", "//localhost", "//[::1]"]
        .iter()
        .any(|h| url.contains(h));
    if local {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(2)
    }
}

/// Connects to the configured chain; on the dev chain, deploys the registry
/// from the issuer's account on first start (at the account's first CREATE
/// address, so a restart finds it).
async fn connect(
    node: &Node,
    key: &IssuerKey,
    dev_url: Option<String>,
) -> Result<RpcChain, NodeError> {
    let (url, registry) = match (&node.settings.chain, dev_url) {
        (ChainSetting::Rpc { url, contract }, _) => (url.clone(), *contract),
        (ChainSetting::Dev, Some(url)) => {
            let registry = node.account.create(0);
            let probe =
                RpcChain::connect(&url, key.account_key(), registry, ChainConfig::default())
                    .await?;
            let code = probe
                .provider()
                .get_code_at(registry)
                .await
                .map_err(|e| AnchorError::Rpc(e.to_string()))?;
            if code.is_empty() {
                let deployed = RpcChain::deploy_registry(&url, key.account_key()).await?;
                if deployed != registry {
                    return Err(NodeError::DevRegistry {
                        deployed,
                        expected: registry,
                    });
                }
                tracing::info!(%registry, "registry deployed on the dev chain");
            }
            (url, registry)
        }
        (ChainSetting::Dev, None) => unreachable!("the dev chain is served before connecting"),
    };
    let config = ChainConfig {
        confirmations: node.settings.confirmations,
        max_fee_per_gas: node.settings.max_fee_per_gas,
        poll_interval: poll_interval(&url),
        ..ChainConfig::default()
    };
    let chain = RpcChain::connect(&url, key.account_key(), registry, config).await?;
    if matches!(node.settings.chain, ChainSetting::Rpc { .. }) {
        let code = chain
            .provider()
            .get_code_at(registry)
            .await
            .map_err(|e| AnchorError::Rpc(e.to_string()))?;
        if code.is_empty() {
            return Err(NodeError::NoContract {
                registry,
                chain_id: chain.chain_id(),
            });
        }
    }
    Ok(chain)
}

/// Runs the node until `shutdown` resolves: serves HTTP, seals and anchors.
/// On shutdown, stops taking requests, lets those in flight finish (each
/// credential they acknowledged is on disk), and leaves batches where they
/// are: the next start resumes them.
pub async fn run(
    settings: Settings,
    key: IssuerKey,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listen: impl FnOnce(std::net::SocketAddr),
) -> Result<(), NodeError> {
    let listen = settings.listen;
    let dev = settings.chain == ChainSetting::Dev;
    let data_dir: PathBuf = settings.data_dir.clone();
    let webhook = settings
        .webhook
        .as_ref()
        .map(|(url, secret)| crate::notifications::Webhook::new(url, secret))
        .transpose()?;
    let mail = settings
        .smtp
        .as_ref()
        .map(|(url, from)| {
            crate::notifications::Mail::new(url, from, std::env::var("CAIRN_SMTP_PASSWORD").ok())
        })
        .transpose()?;
    let node = Node::open(settings, &key)?;
    // Before the first request: events are written from then on.
    node.store
        .set_notifying(webhook.is_some() || mail.is_some());
    let devchain = if dev {
        Some(DevChain::open(&data_dir.join("devchain"))?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| NodeError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| NodeError::Listen {
        addr: listen,
        source,
    })?;
    let mut app = crate::api::router(node.clone());
    if let Some(chain) = devchain {
        app = app.nest("/devchain", crate::devchain::router(chain));
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let disk = tokio::spawn(crate::pipeline::disk_watcher(
        node.parts.clone(),
        Duration::from_secs(2),
    ));
    // Analytics are counted in memory and written every few seconds, so
    // counting never waits on the disk.
    let counts = {
        let node = node.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(crate::analytics::FLUSH_EVERY).await;
                let node = node.clone();
                let _ = tokio::task::spawn_blocking(move || node.flush_analytics()).await;
            }
        })
    };
    let server = {
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            // The client's address, for the per-client limits of the
            // endpoints that need no token.
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            })
            .await
        })
    };
    let _ = node.base_url.set(match &node.settings.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
        None => format!("http://{addr}"),
    });
    on_listen(addr);
    tracing::info!(%addr, issuer = %key.identity.did, "listening");
    let notifier = tokio::spawn(
        Arc::new(crate::notifications::Notifier {
            store: node.store.clone(),
            metrics: node.metrics.clone(),
            webhook,
            mail,
            base_url: node.base_url().to_owned(),
            retry_min: node.settings.notify_retry,
            expiry_notice: node.settings.expiry_notice,
        })
        .run(),
    );

    let dev_url = dev.then(|| {
        let port = addr.port();
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            addr.ip().to_string()
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        format!("http://{host}:{port}/devchain")
    });
    let chain_tasks = {
        let node = node.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            let chain = loop {
                match connect(&node, &key, dev_url.clone()).await {
                    Ok(c) => break Arc::new(c),
                    Err(e) => {
                        node.metrics.chain_errors.inc();
                        tracing::error!(error = %e, "cannot connect to the chain; retrying");
                        let wait = Duration::from_secs(1 << failures.min(5));
                        failures += 1;
                        tokio::time::sleep(wait).await;
                    }
                }
            };
            let _ = node.chain.set(ChainInfo {
                chain: format!("eip155:{}", chain.chain_id()),
                chain_id: chain.chain_id(),
                registry: chain.registry(),
                account: chain.account(),
                dev,
            });
            tracing::info!(chain = chain.chain_id(), registry = %chain.registry(),
                account = %chain.account(), "chain connected");
            if let Err(e) = node.record_site() {
                tracing::warn!(error = %e, "cannot record the site for export-site");
            }
            if !dev && node.settings.public_rpc_urls.is_empty() {
                tracing::warn!(
                    "no --public-rpc-url: badge pages cannot check anchors or revocation in \
                     the reader's browser"
                );
            }
            let _ = node.chain_provider.set(chain.provider().clone());
            match cairn_verifier::registry::RegistryReader::connect(
                &[chain_url(&node, dev_url.as_deref())],
                1,
            )
            .await
            {
                Ok(reader) => node.verify_against(reader),
                Err(e) => tracing::warn!(error = %e, "verification will skip the chain checks"),
            }
            let every = poll_interval(&chain_url(&node, dev_url.as_deref()))
                .max(Duration::from_millis(200));
            let watcher = tokio::spawn(crate::pipeline::head_watcher(
                node.parts.clone(),
                chain.clone(),
                every,
            ));
            let statuses = tokio::spawn(crate::pipeline::status_writer(
                node.parts.clone(),
                chain.clone(),
            ));
            // The anchorer starts once the binding is registered, so every
            // anchor proof carries a binding the chain confirms.
            let mut failures = 0;
            while let Err(e) = node.ensure_binding(&chain).await {
                node.metrics.chain_errors.inc();
                tracing::error!(error = %e, "cannot register the issuer binding; retrying");
                tokio::time::sleep(crate::pipeline::backoff(failures)).await;
                failures += 1;
            }
            crate::pipeline::anchorer(node.parts.clone(), chain).await;
            watcher.abort();
            statuses.abort();
        })
    };

    shutdown.await;
    tracing::info!("shutting down: finishing requests in flight");
    let _ = stop_tx.send(true);
    chain_tasks.abort();
    disk.abort();
    notifier.abort();
    match tokio::time::timeout(Duration::from_secs(30), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error"),
        Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
        Err(_) => tracing::warn!("requests still running after 30 s; stopping anyway"),
    }
    counts.abort();
    node.flush_analytics();
    node.store.close();
    tracing::info!(queued = node.store.queued(), "stopped");
    Ok(())
}

fn chain_url(node: &Node, dev_url: Option<&str>) -> String {
    match &node.settings.chain {
        ChainSetting::Rpc { url, .. } => url.clone(),
        ChainSetting::Dev => dev_url.unwrap_or_default().to_owned(),
    }
}

/// Where the demo key lives in a data directory.
pub fn demo_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DEMO_KEY_FILE)
}
