//! What the node publishes about its credentials, read from the store alone:
//! a credential's newest form (with its anchor proof), its baked badge
//! image, and the data of its public badge page. The node serves these;
//! `cairn-node export-site` (`site`) writes them to files, beside a running
//! node or with it stopped, so both read them here.

use std::sync::Arc;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::achievements::{self, ClassVersion, HeldImage};
use crate::store::{Store, StoreError};
use cairn_verifier::image::ImageKind;
use cairn_verifier::proof::{anchor_proof, with_anchor_proof, AnchorRecord};

/// Where the binding of `account` anchoring in `registry` on `chain` is
/// kept (`meta`). Bindings from before documents named their registry were
/// kept under the key without it, and still serve the anchors made under
/// them.
pub fn binding_key(chain: &str, account: Address, registry: Option<Address>) -> String {
    match registry {
        Some(r) => format!(
            "binding/{chain}/{}/{}",
            account.to_checksum(None),
            r.to_checksum(None)
        ),
        None => format!("binding/{chain}/{}", account.to_checksum(None)),
    }
}

/// The binding document stored under `key`, if any.
pub fn stored_binding(store: &Store, key: &str) -> Option<Value> {
    serde_json::from_slice(&store.meta(key).ok()??).ok()
}

/// Where the issuer profile is kept (`meta`).
pub const PROFILE_KEY: &str = "issuer-profile";

/// The issuer profile as `PUT /issuer` last set it.
pub fn stored_profile(store: &Store) -> Result<Option<achievements::StoredProfile>, StoreError> {
    store
        .meta(PROFILE_KEY)?
        .map(|bytes| {
            serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("the issuer profile: {e}")))
        })
        .transpose()
}

/// The newest form of a credential: as signed, with its anchor proof once
/// its batch is anchored (and the binding it names is known).
pub fn current_form(
    store: &Store,
    id: &str,
    binding: impl FnOnce(&AnchorRecord) -> Option<Arc<Value>>,
) -> Result<Option<Value>, StoreError> {
    let Some(credential) = store.credential(id)? else {
        return Ok(None);
    };
    let Some(placement) = store.placement(id)? else {
        return Ok(Some(credential));
    };
    let Some(anchor) = placement.record.anchor() else {
        return Ok(Some(credential));
    };
    let Some(binding) = binding(anchor) else {
        return Ok(Some(credential));
    };
    Ok(Some(with_anchor_proof(
        credential,
        anchor_proof(anchor, &placement.inclusion, &binding),
    )))
}

/// One version of a badge class, as stored.
pub fn class_version(
    store: &Store,
    handle: &str,
    n: u32,
) -> Result<Option<ClassVersion>, StoreError> {
    store
        .badge_class_version(handle, n)?
        .map(|b| {
            serde_json::from_slice(&b)
                .map_err(|e| StoreError::Corrupt(format!("badge class {handle} v{n}: {e}")))
        })
        .transpose()
}

/// The image a credential's badge class version holds, to bake.
pub fn credential_image(
    store: &Store,
    base_url: &str,
    credential: &Value,
) -> Result<Option<(HeldImage, Vec<u8>)>, StoreError> {
    let Some(id) = credential["credentialSubject"]["achievement"]["id"].as_str() else {
        return Ok(None);
    };
    let Some((handle, Some(n))) = achievements::parse_reference(id, base_url) else {
        return Ok(None);
    };
    let Some(version) = class_version(store, &handle, n)? else {
        return Ok(None);
    };
    let Some(held) = version.image else {
        return Ok(None);
    };
    Ok(store.image(&held.sha256)?.map(|b| (held, b)))
}

/// The chain as badge pages see it. Part of [`PageData`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageChain {
    /// CAIP-2 id of the chain the node anchors on (empty before the node
    /// first connected to it).
    pub chain: String,
    /// The JSON-RPC URLs pages read the registry from (`--public-rpc-url`).
    pub rpc_urls: Vec<String>,
    /// The node's embedded dev chain, which proves nothing to outsiders.
    pub dev: bool,
}

/// The query a badge image's URL carries where it is shown rather than
/// downloaded (the page's picture, its link preview): the node counts no
/// download for it, and a static server ignores it.
pub const PREVIEW: &str = "preview";

/// `path` as asked for to be shown, not downloaded.
fn shown(path: &str) -> String {
    format!("{path}?{PREVIEW}")
}

/// A badge page's downloads, as paths under the node (and the exported
/// site). Part of [`PageData`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Downloads {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub png: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
    pub json: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The badge image to show on the page: the PNG's or the SVG's path,
    /// asked for with [`PREVIEW`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
}

/// What a page's browser code renders from (`web/src/page-data.ts` is the
/// same type), written into the page as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "page",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum PageData {
    Badge {
        chain: PageChain,
        credential: Value,
        share_url: String,
        downloads: Downloads,
        endorsements: Vec<Value>,
    },
    Verify {
        chain: PageChain,
    },
    /// An award's claim page (`GET /claim/{token}`).
    Claim {
        credential: Value,
        state: crate::store::AwardState,
        expires: String,
        /// The OpenID4VCI offer link (by reference).
        offer: String,
        offer_qr: String,
        /// The VC-API interaction URL (`?iuv=1`), which the LCW QR holds.
        interaction_url: String,
        interaction_qr: String,
        /// What the Learner Credential Wallet's button opens:
        /// `interaction:` and the interaction URL.
        lcw_url: String,
        downloads: Downloads,
    },
}

/// What the node last published about itself, kept in the store so that
/// `export-site` writes the pages the node would serve.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteRecord {
    /// The node's public URL (`--public-url`).
    pub base_url: String,
    pub chain: PageChain,
    /// The issuer's chain account, whose bindings the anchor proofs carry.
    pub account: Address,
    /// The issuer profile document (`GET /issuer`).
    #[serde(default)]
    pub issuer: Value,
}

/// Where the [`SiteRecord`] is kept (`meta`).
pub const SITE_KEY: &str = "site";

impl SiteRecord {
    pub fn read(store: &Store) -> Result<Option<Self>, StoreError> {
        store
            .meta(SITE_KEY)?
            .map(|b| {
                serde_json::from_slice(&b)
                    .map_err(|e| StoreError::Corrupt(format!("the site record: {e}")))
            })
            .transpose()
    }
}

/// The paths of a badge page and its files, under the node and in an
/// exported site alike.
pub fn page_path(share: &str) -> String {
    format!("/b/{share}")
}

/// A badge page's data and what its `<head>` says, for the credential
/// behind `share`; `None` when there is none or its page is private.
pub struct BadgePage {
    pub id: String,
    pub data: PageData,
    pub head: Head,
    /// The badge image's kind, when the credential's class has one.
    pub image: Option<ImageKind>,
}

/// What a page's `<head>` says to link previews (Open Graph, Twitter).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Head {
    pub title: String,
    pub description: String,
    /// The page's own absolute URL.
    pub url: String,
    /// An absolute URL of an image for previews.
    pub image: String,
    pub lang: String,
}

/// The credential behind a public badge page `share`: `None` when there is
/// none, its page is private, or it is one of the node's own documents
/// (status lists are stored as credentials under its URL, with no page).
pub fn published_id(
    store: &Store,
    base_url: &str,
    share: &str,
) -> Result<Option<String>, StoreError> {
    let Some(id) = store.shared(share)? else {
        return Ok(None);
    };
    if store.is_private(&id)? || id.starts_with(&format!("{base_url}/")) {
        return Ok(None);
    }
    Ok(Some(id))
}

/// Reads a badge page from the store.
pub fn badge_page(
    store: &Store,
    site: &SiteRecord,
    share: &str,
    binding: impl Fn(&AnchorRecord) -> Option<Arc<Value>>,
    bundle_ready: bool,
) -> Result<Option<BadgePage>, StoreError> {
    let Some(id) = published_id(store, &site.base_url, share)? else {
        return Ok(None);
    };
    let Some(credential) = current_form(store, &id, &binding)? else {
        return Ok(None);
    };
    let endorsements = endorsements(store, site, &credential, &binding)?;
    let image = credential_image(store, &site.base_url, &credential)?.map(|(held, _)| held.kind);
    let path = page_path(share);
    let anchored = store
        .placement(&id)?
        .is_some_and(|p| p.record.anchor().is_some());
    let downloads = Downloads {
        png: (image == Some(ImageKind::Png)).then(|| format!("{path}/badge.png")),
        svg: (image == Some(ImageKind::Svg)).then(|| format!("{path}/badge.svg")),
        json: format!("{path}/credential.json"),
        bundle: (anchored && bundle_ready).then(|| format!("{path}/bundle.json")),
        picture: image.map(|kind| shown(&format!("{path}/badge.{}", kind.extension()))),
    };
    let share_url = format!("{}{path}", site.base_url);
    let head = head_of(&credential, &share_url, &site.base_url, &downloads);
    Ok(Some(BadgePage {
        id,
        data: PageData::Badge {
            chain: site.chain.clone(),
            credential,
            share_url,
            downloads,
            endorsements,
        },
        head,
        image,
    }))
}

/// Endorsements a page shows at most.
const MAX_ENDORSEMENTS: usize = 20;

/// The endorsements the store holds of a credential's achievement: of the
/// version it was issued under, or of its badge class.
fn endorsements(
    store: &Store,
    site: &SiteRecord,
    credential: &Value,
    binding: impl Fn(&AnchorRecord) -> Option<Arc<Value>>,
) -> Result<Vec<Value>, StoreError> {
    let Some(achievement) = credential["credentialSubject"]["achievement"]["id"].as_str() else {
        return Ok(Vec::new());
    };
    let mut subjects = vec![achievement.to_owned()];
    if let Some((handle, Some(_))) = achievements::parse_reference(achievement, &site.base_url) {
        subjects.push(format!("{}/achievements/{handle}", site.base_url));
    }
    let mut out = Vec::new();
    for subject in subjects {
        for id in store.endorsements_of(&subject, MAX_ENDORSEMENTS - out.len())? {
            out.extend(current_form(store, &id, &binding)?);
        }
    }
    Ok(out)
}

/// The link preview of a badge: the achievement's name and the issuer's,
/// the achievement's description, and the baked PNG.
fn head_of(credential: &Value, url: &str, base_url: &str, downloads: &Downloads) -> Head {
    let achievement = &credential["credentialSubject"]["achievement"];
    let lang = first_language(&achievement["name"]).unwrap_or("en");
    let name = text_in(&achievement["name"], lang)
        .or_else(|| text_in(&credential["name"], lang))
        .unwrap_or_else(|| "Credential".into());
    let issuer = match &credential["issuer"] {
        Value::Object(o) => o.get("name").and_then(|n| text_in(n, lang)),
        _ => None,
    };
    let title = match issuer {
        Some(issuer) => format!("{name} — {issuer}"),
        None => name,
    };
    let description = text_in(&achievement["description"], lang)
        .or_else(|| text_in(&credential["description"], lang))
        .unwrap_or_default();
    Head {
        title,
        description,
        url: url.to_owned(),
        image: downloads
            .png
            .as_ref()
            .map(|p| format!("{base_url}{}", shown(p)))
            .unwrap_or_default(),
        lang: lang.to_owned(),
    }
}

/// A plain string, or a VC 2.0 language value (or a list of them: the one
/// in `lang`, else the first).
pub fn text_in(v: &Value, lang: &str) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("@value")?.as_str().map(str::to_owned),
        Value::Array(items) => items
            .iter()
            .find(|i| i["@language"].as_str().is_some_and(|l| l.starts_with(lang)))
            .or(items.first())
            .and_then(|i| text_in(i, lang)),
        _ => None,
    }
}

fn first_language(v: &Value) -> Option<&str> {
    match v {
        Value::Object(o) => o.get("@language")?.as_str(),
        Value::Array(items) => items.first().and_then(first_language),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn page_data_is_the_shape_the_browser_code_reads() {
        let data = PageData::Badge {
            chain: PageChain {
                chain: "eip155:31337".into(),
                rpc_urls: vec!["http://127.0.0.1:8545".into()],
                dev: false,
            },
            credential: json!({"id": "urn:uuid:1"}),
            share_url: "https://node/b/x".into(),
            downloads: Downloads {
                png: Some("/b/x/badge.png".into()),
                svg: None,
                json: "/b/x/credential.json".into(),
                bundle: None,
                picture: None,
            },
            endorsements: vec![],
        };
        assert_eq!(
            serde_json::to_value(&data).unwrap(),
            json!({"page": "badge", "chain": {"chain": "eip155:31337", "rpcUrls": ["http://127.0.0.1:8545"], "dev": false},
                "credential": {"id": "urn:uuid:1"}, "shareUrl": "https://node/b/x",
                "downloads": {"png": "/b/x/badge.png", "json": "/b/x/credential.json"}, "endorsements": []})
        );
        let verify = PageData::Verify {
            chain: PageChain::default(),
        };
        assert_eq!(serde_json::to_value(&verify).unwrap()["page"], "verify");
    }

    #[test]
    fn previews_name_the_badge_in_its_own_language() {
        let vc = json!({
            "issuer": {"id": "did:key:z", "name": "Board of Nursing"},
            "credentialSubject": {"achievement": {
                "name": [{"@value": "Infirmière", "@language": "fr"}, {"@value": "Nurse", "@language": "en"}],
                "description": "Licensed."
            }}
        });
        let d = Downloads {
            png: Some("/b/s/badge.png".into()),
            svg: None,
            json: String::new(),
            bundle: None,
            picture: None,
        };
        let head = head_of(&vc, "https://n/b/s", "https://n", &d);
        assert_eq!(head.title, "Infirmière — Board of Nursing");
        assert_eq!(
            (head.lang.as_str(), head.description.as_str()),
            ("fr", "Licensed.")
        );
        assert_eq!(head.image, "https://n/b/s/badge.png?preview");
    }
}
