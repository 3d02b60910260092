//! `cairn-node export-site`: the node's public side as static files that
//! any web server serves (nginx, an object store behind a CDN), at the
//! node's own paths: every public badge page (`b/{share}/index.html`) with
//! its baked image, JSON and proof bundle, the verify page, the issuer
//! profile, the badge class versions credentials name, the newest status
//! lists, and the pages' code. Every check a page makes runs in the
//! reader's browser against the chain, so the site works with the node
//! gone.
//!
//! It reads the store read only, so it runs beside a running node as well
//! as after it stopped. Re-running it writes only files whose bytes
//! changed, and removes those it wrote before that are no longer published
//! (a page made private), listed in `.cairn-export`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use serde_json::Value;

use crate::published::{self, PageData, SiteRecord};
use crate::store::{Store, StoreError};
use cairn_verifier::image::ImageKind;

/// The list of files the last export wrote, relative to the site.
const MANIFEST: &str = ".cairn-export";

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("the store: {0}")]
    Store(#[from] StoreError),
    #[error(
        "the node has not published a site yet: start it once (this version) so that it connects to its chain"
    )]
    NoSite,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--public-rpc-url `{0}`: expected an http(s) URL (or a path on the site)")]
    RpcUrl(String),
}

/// What to export, and where.
pub struct Export {
    pub data_dir: PathBuf,
    pub out: PathBuf,
    /// The site's URL, if not the node's (`--public-url`).
    pub public_url: Option<String>,
    /// The chain nodes pages read, if not the node's `--public-rpc-url`s.
    pub public_rpc_urls: Vec<String>,
    /// A chain node to build proof bundles from [default: the dev chain at
    /// the node's URL, else the first absolute public RPC URL].
    pub rpc_url: Option<String>,
}

/// What an export did.
#[derive(Debug, Default)]
pub struct Exported {
    pub pages: usize,
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Why proof bundles were left out, if they were.
    pub bundles_skipped: Option<String>,
}

impl std::fmt::Display for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} badge pages; {} files written, {} unchanged, {} removed",
            self.pages, self.written, self.unchanged, self.removed
        )?;
        if let Some(why) = &self.bundles_skipped {
            write!(f, "; proof bundles left out: {why}")?;
        }
        Ok(())
    }
}

/// Writes the site.
pub async fn export(options: &Export) -> Result<Exported, SiteError> {
    let store = Store::open_read_only(&options.data_dir.join("store"))?;
    let mut site = SiteRecord::read(&store)?.ok_or(SiteError::NoSite)?;
    if let Some(url) = &options.public_url {
        site.base_url = url.trim_end_matches('/').to_owned();
    }
    if !options.public_rpc_urls.is_empty() {
        if let Some(bad) = options.public_rpc_urls.iter().find(|u| {
            !(u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/'))
        }) {
            return Err(SiteError::RpcUrl(bad.clone()));
        }
        site.chain.rpc_urls = options.public_rpc_urls.clone();
    }
    let mut report = Exported::default();
    let provider = bundle_source(options, &site).await;
    let provider = match provider {
        Ok(p) => Some(p),
        Err(why) => {
            report.bundles_skipped = Some(why);
            None
        }
    };
    let files = collect(&store, &site, provider.as_ref(), &mut report).await?;
    write_site(&options.out, &files, &mut report)?;
    Ok(report)
}

/// The chain node bundles are built from, checked to serve the site's chain.
async fn bundle_source(options: &Export, site: &SiteRecord) -> Result<DynProvider, String> {
    let url = match &options.rpc_url {
        Some(u) => u.clone(),
        None if site.chain.dev => format!("{}/devchain", site.base_url),
        None => site
            .chain
            .rpc_urls
            .iter()
            .find(|u| u.starts_with("http"))
            .cloned()
            .ok_or("no chain node to build them from (--rpc-url)")?,
    };
    let parsed = url
        .parse()
        .map_err(|_| format!("--rpc-url `{url}` is not a URL"))?;
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(parsed)
        .erased();
    let chain_id =
        tokio::time::timeout(std::time::Duration::from_secs(10), provider.get_chain_id())
            .await
            .map_err(|_| format!("{url} did not answer"))?
            .map_err(|e| format!("{url}: {e}"))?;
    if site.chain.chain != format!("eip155:{chain_id}") {
        return Err(format!(
            "{url} serves eip155:{chain_id}, not the node's {}",
            site.chain.chain
        ));
    }
    Ok(provider)
}

type Files = BTreeMap<String, Vec<u8>>;

fn json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON serializes")
}

async fn collect(
    store: &Store,
    site: &SiteRecord,
    provider: Option<&DynProvider>,
    report: &mut Exported,
) -> Result<Files, SiteError> {
    let mut files = Files::new();
    files.insert("assets/cairn.js".into(), crate::pages::CAIRN_JS.to_vec());
    files.insert("assets/cairn.css".into(), crate::pages::CAIRN_CSS.to_vec());
    // What the badge pages' script sends their readers' events to: counted
    // by a node, answered (and not counted) by the site.
    files.insert("events".into(), Vec::new());
    let verify = PageData::Verify {
        chain: site.chain.clone(),
    };
    let mut head = crate::pages::verify_head();
    head.url = format!("{}/verify", site.base_url);
    files.insert(
        "verify/index.html".into(),
        crate::pages::render(&verify, &head).into_bytes(),
    );

    // The issuer profile and its image.
    match published::stored_profile(store)? {
        Some(p) => {
            files.insert("issuer/index.json".into(), json(&p.document));
            if let Some(held) = &p.image {
                if let Some(bytes) = store.image(&held.sha256)? {
                    files.insert("issuer/image".into(), bytes);
                }
            }
        }
        None if site.issuer.is_object() => {
            files.insert("issuer/index.json".into(), json(&site.issuer));
        }
        None => {}
    }

    // Every version of every badge class: the achievements credentials
    // embed name them by URL.
    for record in store.badge_classes()? {
        let Ok(record) = serde_json::from_slice::<crate::achievements::ClassRecord>(&record) else {
            continue;
        };
        for n in 1..=record.version {
            if let Some(v) = published::class_version(store, &record.handle, n)? {
                files.insert(
                    format!("achievements/{}-v{n}/index.json", record.handle),
                    json(&v.achievement),
                );
            }
        }
    }

    // Badge pages, and the node's status lists (stored as credentials
    // under its URL, one per version: the newest of each).
    let lists_prefix = format!("{}/status-lists/", site.base_url);
    let mut lists: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let binding = |a: &cairn_verifier::proof::AnchorRecord| {
        published::stored_binding(
            store,
            &published::binding_key(&a.chain, site.account, Some(a.registry)),
        )
        .or_else(|| {
            published::stored_binding(store, &published::binding_key(&a.chain, site.account, None))
        })
        .map(Arc::new)
    };
    let mut bundles: BTreeMap<alloy::primitives::B256, Value> = BTreeMap::new();
    for (share, id) in store.shares()? {
        if let Some(rest) = id.strip_prefix(&lists_prefix) {
            let (name, version) = rest.split_once("?version=").unwrap_or((rest, "0"));
            let version: u64 = version.parse().unwrap_or(0);
            if lists.get(name).is_none_or(|(v, _)| *v < version) {
                lists.insert(name.to_owned(), (version, id.clone()));
            }
            continue;
        }
        let Some(page) = published::badge_page(store, site, &share, binding, provider.is_some())?
        else {
            continue;
        };
        let PageData::Badge {
            credential,
            downloads,
            ..
        } = &page.data
        else {
            continue;
        };
        let dir = format!("b/{share}");
        report.pages += 1;
        files.insert(format!("{dir}/credential.json"), json(credential));
        if let Some((held, image)) = published::credential_image(store, &site.base_url, credential)?
        {
            // Checked when the class was kept: baking only splices.
            if let Ok(baked) = cairn_verifier::image::bake_checked(&image, credential) {
                let name = match held.kind {
                    ImageKind::Png => "badge.png",
                    ImageKind::Svg => "badge.svg",
                };
                files.insert(format!("{dir}/{name}"), baked);
            }
        }
        if let (Some(provider), Some(_)) = (provider, &downloads.bundle) {
            let anchor = store
                .placement(&page.id)?
                .and_then(|p| p.record.anchor().cloned());
            if let Some(anchor) = anchor {
                let bundle = match bundles.get(&anchor.transaction) {
                    Some(b) => Some(b.clone()),
                    None => match cairn_verifier::bundle::build(provider, anchor.transaction).await
                    {
                        Ok(b) => {
                            bundles.insert(anchor.transaction, b.clone());
                            Some(b)
                        }
                        Err(e) => {
                            report.bundles_skipped = Some(e.to_string());
                            None
                        }
                    },
                };
                if let Some(bundle) = bundle {
                    files.insert(
                        format!("{dir}/bundle.json"),
                        json(&serde_json::json!({"verifiableCredential": credential, "anchorBundle": bundle})),
                    );
                }
            }
        }
        // The page links only the files that are here.
        let mut data = page.data.clone();
        if let PageData::Badge { downloads, .. } = &mut data {
            if !files.contains_key(&format!("{dir}/bundle.json")) {
                downloads.bundle = None;
            }
        }
        files.insert(
            format!("{dir}/index.html"),
            crate::pages::render(&data, &page.head).into_bytes(),
        );
    }
    for (name, (_, id)) in lists {
        let doc = published::current_form(store, &id, binding)?;
        if let Some(doc) = doc {
            files.insert(format!("status-lists/{name}/index.json"), json(&doc));
        }
    }
    Ok(files)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SiteError + '_ {
    move |source| SiteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `files` under `out`, each only if its bytes changed (through a
/// temporary file and a rename, so a server never serves half a file), and
/// removes what the last export wrote that is no longer there.
fn write_site(out: &Path, files: &Files, report: &mut Exported) -> Result<(), SiteError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let manifest_path = out.join(MANIFEST);
    let before: BTreeSet<String> = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(_) => BTreeSet::new(),
    };
    for (name, bytes) in files {
        let path = out.join(name);
        if std::fs::read(&path).is_ok_and(|old| &old == bytes) {
            report.unchanged += 1;
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let tmp = path.with_extension("cairn-tmp");
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        report.written += 1;
    }
    for gone in before.iter().filter(|n| !files.contains_key(*n)) {
        // Only names this export could have written: never a path that
        // leaves the site.
        if gone
            .split('/')
            .any(|part| part.is_empty() || part == ".." || part == ".")
        {
            continue;
        }
        let path = out.join(gone);
        if std::fs::remove_file(&path).is_ok() {
            report.removed += 1;
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
    let manifest: String = files.keys().map(|k| format!("{k}\n")).collect();
    std::fs::write(&manifest_path, manifest).map_err(io(&manifest_path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_write_touches_only_what_changed_and_removes_what_left() {
        let out = tempfile::tempdir().unwrap();
        let mut files = Files::new();
        files.insert("b/one/index.html".into(), b"one".to_vec());
        files.insert("b/two/index.html".into(), b"two".to_vec());
        let mut r = Exported::default();
        write_site(out.path(), &files, &mut r).unwrap();
        assert_eq!((r.written, r.unchanged, r.removed), (2, 0, 0));

        files.remove("b/two/index.html");
        files.insert("b/one/index.html".into(), b"one, changed".to_vec());
        std::fs::write(out.path().join("mine.txt"), b"not the export's").unwrap();
        let mut r = Exported::default();
        write_site(out.path(), &files, &mut r).unwrap();
        assert_eq!((r.written, r.unchanged, r.removed), (1, 0, 1));
        assert!(!out.path().join("b/two").exists());
        assert!(out.path().join("mine.txt").exists());

        let mut r = Exported::default();
        write_site(out.path(), &files, &mut r).unwrap();
        assert_eq!((r.written, r.unchanged, r.removed), (0, 1, 0));
    }
}
