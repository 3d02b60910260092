//! The console (`/console`): the issuer's staff's desk in the browser,
//! server-rendered HTML over the same node calls as the API.
//!
//! Sign-in starts a session (`crate::sessions`) from a bearer token or a
//! one-time link (`cairn-node console-link`); the session's role is the
//! token's, checked as the API checks it. Every form posts the session's
//! form token, and a form from another origin is refused before its body
//! is read. The cookie is HttpOnly, SameSite=Strict, scoped to `/console`,
//! and Secure when the node's public URL is https.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Query, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use super::{Param, Problem, Shared};
use crate::analytics::{day_name, day_of};
use crate::node::{Beside, Issued, Node};
use crate::roster::{self, Field, Mapping};
use crate::sessions::{Session, SignedInWith};
use crate::store::{Contact, CredentialStatus};
use crate::tokens::Role;

const COOKIE: &str = "cairn_session";
/// The sign-in forms' token, before there is a session: the form carries
/// the same value as this cookie (so another site cannot sign a browser in
/// as someone else).
const SIGN_IN_COOKIE: &str = "cairn_sign_in";
/// A console form, a class image or a roster at most.
const MAX_FORM: usize = 4 << 20;
/// Rosters held at once (uploaded, checked or issuing).
const MAX_ROSTERS: usize = 64;
/// A roster is forgotten this long after it was uploaded.
const ROSTER_LIFE: Duration = Duration::from_secs(24 * 3600);
/// Credentials a search reads at most, and lists at most.
const SEARCH_READS: usize = 20_000;
const SEARCH_SHOWS: usize = 50;
/// Gas of one anchor transaction (docs/performance.md: 46,725 measured),
/// rounded up: what the balance is weighed against.
const ANCHOR_GAS: u64 = 50_000;

/// The console's state: the node, and the rosters being checked or issued.
pub(super) struct Console {
    node: Shared,
    rosters: Mutex<HashMap<String, Arc<Mutex<Draft>>>>,
}

type Desk = State<Arc<Console>>;

pub(super) fn routes(node: Shared) -> Router {
    let console = Arc::new(Console {
        node,
        rosters: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/console", get(home))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route(
            "/console/sign-in/{secret}",
            get(link_page).post(link_sign_in),
        )
        .route("/console/sign-out", post(sign_out))
        .route("/console/classes", get(classes))
        .route("/console/classes/new", get(new_class).post(create_class))
        .route(
            "/console/classes/{handle}",
            get(edit_class).post(save_class),
        )
        .route("/console/classes/{handle}/retire", post(retire_class))
        .route("/console/roster", get(roster_page).post(upload_roster))
        .route("/console/roster/{id}", get(roster_view))
        .route("/console/roster/{id}/mapping", post(roster_mapping))
        .route("/console/roster/{id}/file", post(roster_file))
        .route("/console/roster/{id}/issue", post(roster_issue))
        .route("/console/roster/{id}/progress", get(roster_progress))
        .route("/console/roster/{id}/result.csv", get(roster_result))
        .route("/console/credentials", get(credentials))
        .route("/console/credentials/{id}", get(credential_view))
        .route("/console/credentials/{id}/status", post(credential_status))
        .route("/console/credentials/{id}/renew", post(credential_renew))
        .route("/console/analytics", get(analytics_page))
        .route("/console/analytics.csv", get(analytics_csv))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .with_state(console)
}

// --- Errors, pages, sessions ------------------------------------------------

/// A refusal shown as a page (the API's problem, for a person).
pub(super) struct Refusal(Problem);

impl<E: Into<Problem>> From<E> for Refusal {
    fn from(e: E) -> Self {
        Refusal(e.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let p = self.0;
        let body = crate::pages::console(
            "error.html",
            &json!({
                "title": p.status.canonical_reason().unwrap_or("Error"),
                "status": p.status.as_u16(),
                "detail": p.detail,
                "field": p.field,
            }),
        );
        let mut response = page_response(body);
        *response.status_mut() = p.status;
        response
    }
}

type Page = Result<Response, Refusal>;

fn page_response(html: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "same-origin"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

/// A signed-in member of staff.
struct Staff {
    session: Session,
    cookie: String,
}

fn cookie_named(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<Arc<Console>> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Response> {
        let node = &console.node;
        let found = cookie_named(&parts.headers, COOKIE)
            .and_then(|cookie| node.sessions.get(&cookie).map(|s| (s, cookie)))
            // A session ends for good when what started it is revoked (or
            // gone from the file).
            .filter(|(s, cookie)| {
                let holds = match &s.with {
                    SignedInWith::Token(id) => node.tokens.is_live(id),
                    SignedInWith::Link(id) => node.tokens.link_holds(id),
                };
                if !holds {
                    node.sessions.end(cookie);
                }
                holds
            });
        match found {
            Some((session, cookie)) => Ok(Staff { session, cookie }),
            None if parts.method == axum::http::Method::GET => {
                Err(Redirect::to("/console/sign-in").into_response())
            }
            None => Err(Refusal(
                Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "not signed in, or the session ended: sign in again",
                )
                .field("cookie"),
            )
            .into_response()),
        }
    }
}

impl Staff {
    fn may(&self, role: Role) -> Result<(), Refusal> {
        if self.session.role < role {
            return Err(Refusal(
                Problem::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "you signed in as {}; this needs {}",
                        self.session.role.as_str(),
                        role.as_str()
                    ),
                )
                .field("role"),
            ));
        }
        Ok(())
    }

    /// Checks a posted form's token.
    fn check_form(&self, form: &HashMap<String, String>) -> Result<(), Refusal> {
        match form.get("csrf") {
            Some(t) if self.session.csrf_matches(t) => Ok(()),
            _ => Err(Refusal(
                Problem::new(
                    StatusCode::FORBIDDEN,
                    "bad-form-token",
                    "the form's token is missing or not this session's: reload the page and send it again",
                )
                .field("csrf"),
            )),
        }
    }
}

/// Refuses a form sent from another origin (the browser says so in
/// `Origin` and `Sec-Fetch-Site`), before its body is read. The node's
/// origin is its public URL's, or the `Host` the request came to (a proxy
/// in front may rewrite it).
fn same_origin(node: &Node, headers: &HeaderMap) -> Result<(), Refusal> {
    let refuse = |detail: &str| {
        Refusal(Problem::new(StatusCode::FORBIDDEN, "cross-origin", detail).field("Origin"))
    };
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(refuse("a form from another site is refused"));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let public = node.base_url();
        let public_origin = public
            .match_indices('/')
            .nth(2)
            .map_or(public, |(i, _)| &public[..i]);
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let same = origin == public_origin
            || origin
                .split_once("://")
                .map(|(_, h)| h)
                .is_some_and(|h| Some(h) == host);
        if !same {
            return Err(refuse("a form from another origin is refused"));
        }
    }
    Ok(())
}

/// Reads an urlencoded form.
async fn form(
    node: &Node,
    headers: &HeaderMap,
    body: Body,
) -> Result<HashMap<String, String>, Refusal> {
    same_origin(node, headers)?;
    let bytes = super::read_body(body, MAX_FORM).await?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// A multipart form's text fields, and its files (name → (file name, bytes)).
struct Upload {
    fields: HashMap<String, String>,
    files: HashMap<String, (String, Vec<u8>)>,
}

/// A form from a member of staff who may do `role`: its origin, the role,
/// then the body and its form token.
async fn posted_form(
    node: &Node,
    staff: &Staff,
    role: Role,
    headers: &HeaderMap,
    body: Body,
) -> Result<HashMap<String, String>, Refusal> {
    staff.may(role)?;
    let form = form(node, headers, body).await?;
    staff.check_form(&form)?;
    Ok(form)
}

/// The same, multipart.
async fn posted(
    node: &Node,
    staff: &Staff,
    role: Role,
    headers: &HeaderMap,
    multipart: Multipart,
) -> Result<Upload, Refusal> {
    same_origin(node, headers)?;
    staff.may(role)?;
    let up = upload(multipart).await?;
    staff.check_form(&up.fields)?;
    Ok(up)
}

async fn upload(mut multipart: Multipart) -> Result<Upload, Refusal> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        Refusal(Problem::new(e.status(), "bad-form", e.body_text()).field("body"))
    };
    let mut up = Upload {
        fields: HashMap::new(),
        files: HashMap::new(),
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file) => {
                let bytes = field.bytes().await.map_err(bad)?;
                if !bytes.is_empty() {
                    up.files.insert(name, (file, bytes.to_vec()));
                }
            }
            None => {
                let text = field.text().await.map_err(bad)?;
                up.fields.insert(name, text);
            }
        }
    }
    Ok(up)
}

/// Renders `template` for a signed-in member of staff: `ctx` and what every
/// page shows (the issuer, the role, the form token, the current section).
fn render(node: &Node, staff: &Staff, template: &str, nav: &str, mut ctx: Value) -> Response {
    let profile = node.profile();
    let issuer = profile
        .name
        .as_ref()
        .and_then(|n| crate::published::text_in(n, "en"))
        .unwrap_or_else(|| "Cairn".into());
    ctx["issuer"] = json!(issuer);
    ctx["role"] = json!(staff.session.role.as_str());
    ctx["may_issue"] = json!(staff.session.role >= Role::Issuer);
    ctx["may_admin"] = json!(staff.session.role >= Role::Admin);
    ctx["csrf"] = json!(staff.session.csrf);
    ctx["nav"] = json!(nav);
    ctx["version"] = json!(crate::pages::ASSET_VERSION.as_str());
    page_response(crate::pages::console(template, &ctx))
}

fn see(path: &str) -> Response {
    Redirect::to(path).into_response()
}

fn bad(field: &str, detail: impl Into<String>) -> Refusal {
    Refusal(Problem::bad(field.to_owned(), detail))
}

/// `path` with each segment percent-encoded (credential ids hold `:`).
fn credential_path(id: &str) -> String {
    format!(
        "/console/credentials/{}",
        cairn_verifier::credential::path_segment(id)
    )
}

// --- Sign-in ------------------------------------------------------------------

fn session_cookie(node: &Node, value: &str, max_age: u64) -> String {
    cookie(node, COOKIE, value, "/console", max_age)
}

fn cookie(node: &Node, name: &str, value: &str, path: &str, max_age: u64) -> String {
    let secure = if node.base_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// A sign-in page (the token form, or a link's button) with a fresh form
/// token in the form and in a cookie.
fn sign_in_form(node: &Node, mut ctx: Value, status: StatusCode) -> Response {
    let token = crate::sessions::random();
    ctx["csrf"] = json!(token);
    let mut page = public_page("sign-in.html", ctx);
    *page.status_mut() = status;
    page.headers_mut().insert(
        header::SET_COOKIE,
        cookie(node, SIGN_IN_COOKIE, &token, "/console/sign-in", 3600)
            .parse()
            .expect("a cookie is a header value"),
    );
    page
}

/// Checks a sign-in form's token against its cookie.
fn check_sign_in_form(headers: &HeaderMap, form: &HashMap<String, String>) -> Result<(), Refusal> {
    match (cookie_named(headers, SIGN_IN_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) if crate::sessions::same_secret(&c, f) => Ok(()),
        _ => Err(Refusal(
            Problem::new(
                StatusCode::FORBIDDEN,
                "bad-form-token",
                "the sign-in form's token is missing or stale: open the sign-in page again",
            )
            .field("csrf"),
        )),
    }
}

fn signed_in(node: &Node, role: Role, with: SignedInWith) -> Response {
    tracing::info!(by = with.id(), role = role.as_str(), "console sign-in");
    let (cookie, _) = node.sessions.start(role, with);
    let mut response = see("/console");
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(node, &cookie, crate::sessions::MAX_AGE.as_secs())
            .parse()
            .expect("a cookie is a header value"),
    );
    response
}

fn public_page(template: &str, ctx: Value) -> Response {
    let mut ctx = ctx;
    ctx["version"] = json!(crate::pages::ASSET_VERSION.as_str());
    page_response(crate::pages::console(template, &ctx))
}

/// `GET /console/sign-in`
async fn sign_in_page(State(console): Desk) -> Response {
    sign_in_form(&console.node, json!({"title": "Sign in"}), StatusCode::OK)
}

/// `POST /console/sign-in` with `token`: a bearer token starts a session
/// with its role.
async fn sign_in(State(console): Desk, headers: HeaderMap, body: Body) -> Page {
    let form = form(&console.node, &headers, body).await?;
    check_sign_in_form(&headers, &form)?;
    let token = form.get("token").map(|t| t.trim()).unwrap_or_default();
    match console.node.tokens.check(token) {
        Some((id, role)) => Ok(signed_in(&console.node, role, SignedInWith::Token(id))),
        None => Ok(sign_in_form(
            &console.node,
            json!({"title": "Sign in", "error": "That token is unknown or revoked."}),
            StatusCode::UNAUTHORIZED,
        )),
    }
}

/// `GET /console/sign-in/{secret}`: a button that uses the link. Opening
/// the link signs no one in, so a mail scanner that follows it uses
/// nothing up.
async fn link_page(State(console): Desk, Param(secret): Param) -> Response {
    let ctx = match console.node.tokens.check_sign_in(&secret) {
        Some(link) => json!({"title": "Sign in", "link": true, "role": link.role.as_str()}),
        None => json!({"title": "Sign in",
            "error": "This sign-in link is unknown or past its time: ask for a new one (cairn-node console-link)."}),
    };
    sign_in_form(&console.node, ctx, StatusCode::OK)
}

/// `POST /console/sign-in/{secret}`: uses the one-time link.
async fn link_sign_in(
    State(console): Desk,
    headers: HeaderMap,
    Param(secret): Param,
    body: Body,
) -> Page {
    let form = form(&console.node, &headers, body).await?;
    check_sign_in_form(&headers, &form)?;
    let node = &console.node;
    let gone = || {
        Refusal(
            Problem::new(
                StatusCode::GONE,
                "sign-in-link-used",
                "this sign-in link was used already, or is unknown or past its time: ask for a new one",
            )
            .field("link"),
        )
    };
    let link = node.tokens.check_sign_in(&secret).ok_or_else(gone)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    // Remembered as used until it would have expired anyway.
    if !node.store.use_nonce(
        &format!("console-sign-in:{}", link.hash),
        link.until * 1000,
        now_ms,
    )? {
        return Err(gone());
    }
    Ok(signed_in(node, link.role, SignedInWith::Link(link.id)))
}

/// `POST /console/sign-out`
async fn sign_out(State(console): Desk, staff: Staff, headers: HeaderMap, body: Body) -> Page {
    posted_form(&console.node, &staff, Role::Viewer, &headers, body).await?;
    console.node.sessions.end(&staff.cookie);
    let mut response = see("/console/sign-in");
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&console.node, "", 0)
            .parse()
            .expect("a cookie is a header value"),
    );
    Ok(response)
}

// --- What needs attention -------------------------------------------------------

/// `GET /console`: what expires soon, batches waiting, failed
/// notifications, the chain account's balance.
async fn home(State(console): Desk, staff: Staff) -> Page {
    let node = &console.node;
    let now = chrono::Utc::now().timestamp();
    // At most this many of the 90 days' expiry entries are read (each
    // costs two more reads to leave out what was revoked, suspended or
    // renewed), off the async threads.
    const SCANNED: usize = 10_000;
    let (expiring, cut) = {
        let node = node.clone();
        tokio::task::spawn_blocking(move || -> Result<_, Problem> {
            let scanned = node
                .store
                .expiring(now, now + 90 * 86_400, SCANNED, |_| Ok(true))?;
            let cut = (scanned.len() == SCANNED).then(|| scanned[SCANNED - 1].0);
            let mut standing = Vec::new();
            for (until, id) in scanned {
                if node
                    .store
                    .status(&id)?
                    .is_none_or(|r| r.status == CredentialStatus::Active)
                    && node.store.renewed_by(&id)?.is_none()
                {
                    standing.push((until, id));
                }
            }
            Ok((standing, cut))
        })
        .await
        .map_err(|e| Problem::internal(format!("reading what expires: {e}")))??
    };
    // Past what was read, "or more".
    let within = |days: i64| {
        let bound = now + days * 86_400;
        let n = expiring.iter().filter(|(t, _)| *t <= bound).count();
        match cut.is_some_and(|last| last <= bound) {
            true => format!("{n} or more"),
            false => n.to_string(),
        }
    };
    let soonest: Vec<Value> = expiring
        .iter()
        .take(10)
        .map(|(until, id)| {
            json!({"id": id, "href": credential_path(id),
                   "until": day_name(day_of(*until))})
        })
        .collect();
    let waiting = node.store.sealed_batches()?;
    let failed: Vec<Value> = node
        .store
        .failed_deliveries(20)?
        .into_iter()
        .map(|(sink, d)| {
            json!({"sink": sink.as_str(), "event": d.event.kind.as_str(),
                   "credential": d.event.credential_id,
                   "href": credential_path(&d.event.credential_id),
                   "attempts": d.attempts, "error": d.error})
        })
        .collect();
    let chain = match node.chain.get() {
        None => json!({"connected": false}),
        Some(info) => {
            let funds = tokio::time::timeout(Duration::from_secs(3), node.account_funds()).await;
            let mut c = json!({"connected": true, "dev": info.dev, "chain": info.chain,
                               "account": info.account.to_checksum(None)});
            if let Ok(Some((balance, gas_price))) = funds {
                let anchor = alloy::primitives::U256::from(gas_price)
                    * alloy::primitives::U256::from(ANCHOR_GAS);
                let next = waiting.len() as u64 + u64::from(node.store.queued() > 0);
                let anchors_left = if anchor.is_zero() {
                    None
                } else {
                    Some((balance / anchor).to_string())
                };
                c["balance"] = json!(alloy::primitives::utils::format_ether(balance));
                c["anchorCost"] = json!(alloy::primitives::utils::format_ether(anchor));
                c["nextCost"] = json!(alloy::primitives::utils::format_ether(
                    anchor * alloy::primitives::U256::from(next)
                ));
                c["next"] = json!(next);
                c["anchorsLeft"] = json!(anchors_left);
                c["low"] = json!(balance < anchor * alloy::primitives::U256::from(next.max(10)));
            }
            c
        }
    };
    Ok(render(
        node,
        &staff,
        "home.html",
        "home",
        json!({
            "title": "What needs attention",
            "expiring": {"d30": within(30), "d60": within(60), "d90": within(90), "soonest": soonest},
            "queued": node.store.queued(),
            "waiting": waiting.iter().map(|b| json!({"number": b.number, "leaves": b.leaf_count,
                "sealed": cairn_verifier::credential::fmt_time(
                    chrono::DateTime::from_timestamp(b.sealed_at, 0).unwrap_or_default())})).collect::<Vec<_>>(),
            "failed": failed,
            "chain": chain,
        }),
    ))
}

// --- Badge classes ----------------------------------------------------------------

/// The languages the issuer writes in: its profile's name's and the
/// class's, English when none is named.
fn languages(node: &Node, class: Option<&Value>) -> Vec<String> {
    let mut langs = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(Value::Array(items)) = v {
            for i in items {
                if let Some(l) = i["@language"].as_str() {
                    if !langs.iter().any(|x| x == l) {
                        langs.push(l.to_owned());
                    }
                }
            }
        }
    };
    add(node.profile().name.as_ref());
    if let Some(c) = class {
        add(c.get("name"));
        add(c.get("description"));
    }
    if langs.is_empty() {
        langs.push("en".into());
    }
    langs
}

/// A class as the form shows it: each text in each language.
fn class_form(node: &Node, doc: Option<&Value>) -> Value {
    let langs = languages(node, doc);
    let empty = json!(null);
    let doc = doc.unwrap_or(&empty);
    let per_lang = |v: &Value, lang: &str| -> String {
        match v {
            Value::Array(items) => items
                .iter()
                .find(|i| i["@language"] == lang)
                .and_then(|i| i["@value"].as_str())
                .unwrap_or_default()
                .to_owned(),
            other if lang == langs[0] => crate::published::text_in(other, lang).unwrap_or_default(),
            _ => String::new(),
        }
    };
    let texts: Vec<Value> = langs
        .iter()
        .map(|l| {
            json!({"lang": l,
                   "name": per_lang(&doc["name"], l),
                   "description": per_lang(&doc["description"], l),
                   "criteria": per_lang(&doc["criteria"]["narrative"], l)})
        })
        .collect();
    json!({
        "texts": texts,
        "multilingual": langs.len() > 1,
        "achievementType": doc["achievementType"],
        "validFor": doc["validFor"],
        "version": doc["version"],
        "image": doc["image"]["id"],
    })
}

/// `GET /console/classes`
async fn classes(State(console): Desk, staff: Staff) -> Page {
    let node = &console.node;
    let list: Vec<Value> = node
        .classes()?
        .iter()
        .map(|(record, version)| {
            let view = version.view(record);
            json!({"handle": record.handle, "version": record.version,
                   "name": crate::published::text_in(&view["name"], "en"),
                   "image": view["image"]["id"], "retired": record.retired,
                   "updated": record.updated})
        })
        .collect();
    Ok(render(
        node,
        &staff,
        "classes.html",
        "classes",
        json!({"title": "Badge classes", "classes": list}),
    ))
}

/// `GET /console/classes/new`
async fn new_class(State(console): Desk, staff: Staff) -> Page {
    staff.may(Role::Admin)?;
    let node = &console.node;
    Ok(render(
        node,
        &staff,
        "class.html",
        "classes",
        json!({"title": "New badge class", "class": class_form(node, None), "new": true}),
    ))
}

/// `GET /console/classes/{handle}`
async fn edit_class(
    State(console): Desk,
    staff: Staff,
    Param(handle): Param,
    Query(q): Query<HashMap<String, String>>,
) -> Page {
    let node = &console.node;
    let (record, version) = node.class(&handle)?;
    let view = version.view(&record);
    Ok(render(
        node,
        &staff,
        "class.html",
        "classes",
        json!({"title": crate::published::text_in(&view["name"], "en"),
               "class": class_form(node, Some(&view)), "handle": record.handle,
               "retired": record.retired, "saved": q.contains_key("saved"),
               "url": format!("{}/achievements/{}", node.base_url(), record.handle)}),
    ))
}

/// The class request body of a posted class form.
fn class_body(up: &Upload, current: Option<&Value>) -> Result<Map<String, Value>, Refusal> {
    let langs: Vec<&str> = up
        .fields
        .keys()
        .filter_map(|k| k.strip_prefix("name."))
        .collect();
    if langs.is_empty() {
        return Err(bad("name", "missing"));
    }
    let text = |member: &str| -> Value {
        let mut values: Vec<(&str, &str)> = langs
            .iter()
            .filter_map(|l| {
                up.fields
                    .get(&format!("{member}.{l}"))
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .map(|v| (*l, v))
            })
            .collect();
        values.sort();
        match values.as_slice() {
            [] => Value::Null,
            [(_, v)] if langs.len() == 1 => json!(v),
            many => json!(many
                .iter()
                .map(|(l, v)| json!({"@value": v, "@language": l}))
                .collect::<Vec<_>>()),
        }
    };
    let mut body = Map::new();
    for (member, value) in [("name", text("name")), ("description", text("description"))] {
        if value.is_null() {
            return Err(bad(member, "missing: write it in at least one language"));
        }
        body.insert(member.into(), value);
    }
    match text("criteria") {
        Value::Null => return Err(bad("criteria", "missing: say what earns the badge")),
        Value::String(s) => {
            body.insert("criteria".into(), json!({"narrative": s}));
        }
        // Criteria narratives are one string in OB 3.0: the first language.
        Value::Array(a) => {
            body.insert(
                "criteria".into(),
                json!({"narrative": a[0]["@value"].clone()}),
            );
        }
        _ => {}
    }
    for member in ["achievementType", "validFor"] {
        if let Some(v) = up
            .fields
            .get(member)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            body.insert(member.into(), json!(v));
        }
    }
    if let Some(v) = up.fields.get("version").filter(|v| !v.is_empty()) {
        let n: u64 = v.parse().map_err(|_| bad("version", "not a number"))?;
        body.insert("version".into(), json!(n));
    }
    match up.files.get("image") {
        Some((name, bytes)) => {
            let kind = if bytes.starts_with(b"\x89PNG") {
                "image/png"
            } else if name.to_ascii_lowercase().ends_with(".svg") {
                "image/svg+xml"
            } else {
                return Err(bad("image", "must be a PNG or an SVG file"));
            };
            use base64::Engine;
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
            body.insert("image".into(), json!(format!("data:{kind};base64,{data}")));
        }
        None => {
            // An edit without a new image keeps the one the class has.
            if let Some(image) = current.and_then(|c| c.get("image")) {
                body.insert("image".into(), image.clone());
            }
        }
    }
    Ok(body)
}

/// `POST /console/classes/new` (multipart, with the image)
async fn create_class(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    multipart: Multipart,
) -> Page {
    let up = posted(&console.node, &staff, Role::Admin, &headers, multipart).await?;
    let body = class_body(&up, None)?;
    let (record, _) = console.node.create_class(body).await?;
    Ok(see(&format!("/console/classes/{}?saved", record.handle)))
}

/// `POST /console/classes/{handle}` (multipart): a new version.
async fn save_class(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    Param(handle): Param,
    multipart: Multipart,
) -> Page {
    let up = posted(&console.node, &staff, Role::Admin, &headers, multipart).await?;
    let (record, version) = console.node.class(&handle)?;
    let body = class_body(&up, Some(&version.view(&record)))?;
    let (record, _) = console.node.update_class(&handle, body).await?;
    Ok(see(&format!("/console/classes/{}?saved", record.handle)))
}

/// `POST /console/classes/{handle}/retire`
async fn retire_class(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    Param(handle): Param,
    body: Body,
) -> Page {
    posted_form(&console.node, &staff, Role::Admin, &headers, body).await?;
    let (record, _) = console.node.retire_class(&handle).await?;
    Ok(see(&format!("/console/classes/{}?saved", record.handle)))
}

// --- Rosters ----------------------------------------------------------------------

/// An uploaded roster: checked, then issued.
struct Draft {
    handle: String,
    class_name: String,
    file: String,
    roster: Arc<roster::Roster>,
    /// SHA-256 of the class and the file, the ground of the rows'
    /// idempotency key ([`roster_key`]).
    digest: String,
    mapping: Mapping,
    created: Instant,
    job: Option<Arc<Job>>,
}

/// The digest of a roster `bytes` for the class `handle`.
fn roster_digest(handle: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(handle.as_bytes())
        .chain_update([0])
        .chain_update(bytes)
        .finalize();
    hex::encode(&digest[..16])
}

/// The idempotency key of a roster's rows (with each row's line): the
/// class, the file, its mapping and the day. The same file issued twice
/// the same day, by two tabs or again after a restart, replays; a later
/// day's upload of the same file is a new issue (to earners who do not
/// hold the badge by then: [`held_by`]).
fn roster_key(digest: &str, mapping: &Mapping, day: i32) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(digest.as_bytes())
        .chain_update(format!("\0{:?}\0{day}", mapping.0))
        .finalize();
    format!("console-roster-{}", hex::encode(&digest[..16]))
}

/// A roster's dry run, from one look at its draft: what it would issue
/// under `key`.
struct Checked {
    ready: Vec<roster::Row>,
    /// Rows whose earner holds an active credential of the class already:
    /// not issued again; the result names that credential.
    held: Vec<(roster::Row, String)>,
    bad: Vec<roster::BadRow>,
    key: String,
}

/// A roster being issued: its progress, and each row's outcome.
struct Job {
    total: usize,
    /// Rows whose earner held the badge already, and got its link.
    held: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicUsize,
    finished: AtomicBool,
    outcomes: Mutex<Vec<Outcome>>,
}

struct Outcome {
    line: u64,
    held: bool,
    recipient: String,
    credential: Option<String>,
    claim: Option<String>,
    share: Option<String>,
    error: Option<String>,
}

impl Job {
    fn progress(&self) -> Value {
        let (done, failed) = (
            self.done.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        );
        let held = self.held.load(Ordering::Relaxed);
        json!({"total": self.total, "done": done, "failed": failed, "held": held,
               "issued": done.saturating_sub(failed + held),
               "finished": self.finished.load(Ordering::Acquire)})
    }
}

/// Marks a job finished however its task ends (a panic included), so its
/// page never waits for ever.
struct Finish(Arc<Job>);

impl Drop for Finish {
    fn drop(&mut self) {
        self.0.finished.store(true, Ordering::Release);
    }
}

impl Console {
    fn draft(&self, id: &str) -> Result<Arc<Mutex<Draft>>, Refusal> {
        self.rosters
            .lock()
            .expect("rosters lock")
            .get(id)
            .cloned()
            .ok_or_else(|| {
                Refusal(
                    Problem::new(
                        StatusCode::NOT_FOUND,
                        "unknown-roster",
                        "no such roster (rosters are kept a day, and not across a restart): upload it again",
                    )
                    .field("id"),
                )
            })
    }

    /// The roster `id`'s issuing job, once it has one.
    fn job(&self, id: &str) -> Result<Option<Arc<Job>>, Refusal> {
        Ok(self.draft(id)?.lock().expect("roster lock").job.clone())
    }

    fn keep(&self, draft: Draft) -> Result<String, Refusal> {
        let mut rosters = self.rosters.lock().expect("rosters lock");
        rosters.retain(|_, d| {
            d.lock()
                .map(|d| d.created.elapsed() < ROSTER_LIFE)
                .unwrap_or(false)
        });
        if rosters.len() >= MAX_ROSTERS {
            // The oldest roster not issuing makes room: its rows, if
            // issued, are stored, and the same file uploaded again shows
            // them (held already) in a new result.
            let oldest = rosters
                .iter()
                .filter_map(|(id, d)| {
                    let d = d.lock().ok()?;
                    let running = d
                        .job
                        .as_ref()
                        .is_some_and(|j| !j.finished.load(Ordering::Acquire));
                    (!running).then_some((d.created, id.clone()))
                })
                .min()
                .map(|(_, id)| id);
            match oldest {
                Some(id) => {
                    rosters.remove(&id);
                }
                None => {
                    return Err(Refusal(Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "too-many-rosters",
                        format!("{MAX_ROSTERS} rosters are issuing; try again when one ends"),
                    )))
                }
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        rosters.insert(id.clone(), Arc::new(Mutex::new(draft)));
        Ok(id)
    }
}

/// `GET /console/roster`
async fn roster_page(State(console): Desk, staff: Staff) -> Page {
    staff.may(Role::Issuer)?;
    let node = &console.node;
    Ok(render(
        node,
        &staff,
        "roster.html",
        "roster",
        json!({"title": "Issue to a roster", "classes": class_choices(node, false)?}),
    ))
}

/// Badge classes for a form's choice: handle and name, the retired ones
/// left out unless `retired`.
fn class_choices(node: &Node, retired: bool) -> Result<Vec<Value>, Refusal> {
    Ok(super::class_names(node)?
        .into_iter()
        .filter(|(record, _)| retired || record.retired.is_none())
        .map(|(record, name)| json!({"handle": record.handle, "name": name}))
        .collect())
}

/// The uploaded roster: its file name, its rows and its digest for the
/// class `handle`.
fn read_roster(up: &Upload, handle: &str) -> Result<(String, roster::Roster, String), Refusal> {
    let (file, bytes) = up
        .files
        .get("file")
        .ok_or_else(|| bad("file", "choose the roster's CSV file"))?;
    let roster = roster::parse(bytes).map_err(|e| bad("file", format!("{file}: {e}")))?;
    Ok((file.clone(), roster, roster_digest(handle, bytes)))
}

/// `POST /console/roster` (multipart: the class and the CSV file)
async fn upload_roster(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    multipart: Multipart,
) -> Page {
    let up = posted(&console.node, &staff, Role::Issuer, &headers, multipart).await?;
    let class = up
        .fields
        .get("achievement")
        .map(String::as_str)
        .unwrap_or_default();
    let (record, version) = console
        .node
        .class(class)
        .map_err(|_| bad("achievement", "choose a badge class"))?;
    if record.retired.is_some() {
        return Err(bad("achievement", "this badge class is retired"));
    }
    let (file, roster, digest) = read_roster(&up, &record.handle)?;
    let id = console.keep(Draft {
        class_name: crate::published::text_in(&version.view(&record)["name"], "en")
            .unwrap_or_default(),
        handle: record.handle,
        file,
        digest,
        mapping: roster::guess(&roster.headers),
        roster: Arc::new(roster),
        created: Instant::now(),
        job: None,
    })?;
    Ok(see(&format!("/console/roster/{id}")))
}

/// A roster's dry run: each bad row with its line and reason, from the
/// row's own rules and the badge class's, and each earner who holds the
/// badge already.
/// Run off the async threads (up to 10,000 rows), from a copy of the
/// draft taken under its lock: what is issued is what was checked, under
/// the key of that file and mapping, whatever another tab changes
/// meanwhile.
async fn dry_run(node: &Shared, draft: &Mutex<Draft>) -> Result<Checked, Refusal> {
    let (roster, mapping, handle, digest) = {
        let d = draft.lock().expect("roster lock");
        (
            d.roster.clone(),
            d.mapping.clone(),
            d.handle.clone(),
            d.digest.clone(),
        )
    };
    let node = node.clone();
    tokio::task::spawn_blocking(move || check_rows(&node, &handle, &roster, &mapping, &digest))
        .await
        .map_err(|e| Refusal(Problem::internal(format!("checking the roster: {e}"))))?
}

fn check_rows(
    node: &Node,
    handle: &str,
    roster: &roster::Roster,
    mapping: &Mapping,
    digest: &str,
) -> Result<Checked, Refusal> {
    let now = chrono::Utc::now().timestamp();
    let (good, mut bad) = roster::check(roster, mapping);
    let mut ready = Vec::with_capacity(good.len());
    let mut held = Vec::new();
    // Each earner once a roster: the line that named them first.
    let mut seen: HashMap<String, u64> = HashMap::new();
    for row in good {
        let earner = earner_of(&row);
        let refuse = |reason: String| roster::BadRow {
            line: row.line,
            reason,
        };
        if let Some(first) = seen.get(&earner) {
            bad.push(refuse(format!(
                "the same earner as line {first}: each earner once a roster"
            )));
            continue;
        }
        seen.insert(earner.clone(), row.line);
        if let Err(p) = super::class_credential(node, handle, row.credential(), "") {
            bad.push(refuse(match p.field {
                Some(f) => format!("{f}: {}", p.detail),
                None => p.detail,
            }));
            continue;
        }
        match holding(node, handle, &earner, now)? {
            Holding::Active(id) => held.push((row, id)),
            Holding::Stopped(id, status) => bad.push(refuse(format!(
                "this earner's credential {id} of this class is {status}: a roster issues none over it \
                 (reinstate it, or remove the row and issue to them alone if that is meant)"
            ))),
            Holding::None => ready.push(row),
        }
    }
    bad.sort_by_key(|b| b.line);
    Ok(Checked {
        ready,
        held,
        bad,
        key: roster_key(digest, mapping, crate::analytics::day_of(now)),
    })
}

/// A roster row's earner as the node indexes earners
/// ([`crate::node::earner_key`]): the DID, else the address the credential
/// is delivered to.
fn earner_of(row: &roster::Row) -> String {
    use cairn_verifier::credential::Recipient;
    let named = match (&row.recipient, &row.email) {
        (Recipient::Did(d), _) => d,
        (_, Some(email)) | (Recipient::Email(email), None) => email,
    };
    // A row's DID or address was checked already; were it refused here,
    // it would name only itself.
    crate::node::earner_key(named).unwrap_or_else(|_| named.clone())
}

/// What an earner holds of a badge class already.
enum Holding {
    None,
    /// An active credential (not renewed): a list sent again with late
    /// additions issues to the additions only.
    Active(String),
    /// A suspended or revoked one: a list sent again must not undo that
    /// quietly.
    Stopped(String, &'static str),
}

/// Credentials of one earner a roster's check reads at most.
const EARNER_READS: usize = 1_000;

fn holding(node: &Node, handle: &str, earner: &str, now: i64) -> Result<Holding, Problem> {
    let mut found = Holding::None;
    for id in node.store.earner_credentials(earner, EARNER_READS)? {
        let Some(vc) = node.store.credential(&id)? else {
            continue;
        };
        if node.class_of(&vc) != handle || node.store.renewed_by(&id)?.is_some() {
            continue;
        }
        match status_of(node, &id, &vc, now)? {
            "active" => return Ok(Holding::Active(id)),
            s @ ("suspended" | "revoked") => found = Holding::Stopped(id, s),
            _ => {}
        }
    }
    Ok(found)
}

/// `GET /console/roster/{id}`: the mapping and the dry run, or the
/// progress once issuing.
async fn roster_view(State(console): Desk, staff: Staff, Param(id): Param) -> Page {
    staff.may(Role::Issuer)?;
    let node = &console.node;
    let draft = console.draft(&id)?;
    // Once issuing, the progress is all there is to show.
    let issuing = draft.lock().expect("roster lock").job.is_some();
    let checked = match issuing {
        true => None,
        false => Some(dry_run(node, &draft).await?),
    };
    let (good, held, bad) = checked.as_ref().map_or((0, &[][..], &[][..]), |c| {
        (c.ready.len(), &c.held[..], &c.bad[..])
    });
    let draft = draft.lock().expect("roster lock");
    let columns: Vec<Value> = draft
        .roster
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| json!({"index": i, "header": if h.is_empty() { format!("column {}", i + 1) } else { h.clone() }}))
        .collect();
    let fields: Vec<Value> = Field::ALL
        .iter()
        .map(|f| json!({"name": f.name(), "column": draft.mapping.get(*f)}))
        .collect();
    let sample: Vec<&Vec<String>> = draft.roster.rows.iter().take(3).map(|(_, r)| r).collect();
    Ok(render(
        node,
        &staff,
        "roster.html",
        "roster",
        json!({
            "title": format!("Roster: {}", draft.file),
            "id": id, "file": draft.file, "class": draft.class_name, "handle": draft.handle,
            "rows": draft.roster.rows.len(), "good": good,
            "held": held.iter().map(|(row, id)| json!({"line": row.line, "id": id, "href": credential_path(id)})).collect::<Vec<_>>(),
            "bad": bad.iter().map(|b| json!({"line": b.line, "reason": b.reason})).collect::<Vec<_>>(),
            "columns": columns, "fields": fields, "sample": sample,
            "progress": draft.job.as_ref().map(|j| j.progress()),
        }),
    ))
}

/// `POST /console/roster/{id}/mapping`: which column holds what.
async fn roster_mapping(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    Param(id): Param,
    body: Body,
) -> Page {
    let form = posted_form(&console.node, &staff, Role::Issuer, &headers, body).await?;
    let draft = console.draft(&id)?;
    let mut draft = draft.lock().expect("roster lock");
    if draft.job.is_some() {
        return Err(bad("id", "this roster is issued already"));
    }
    let columns = draft.roster.headers.len();
    for field in Field::ALL {
        let column = match form.get(field.name()).map(String::as_str) {
            None | Some("") => None,
            Some(c) => match c.parse::<usize>() {
                Ok(i) if i < columns => Some(i),
                _ => return Err(bad(field.name(), "not a column of the file")),
            },
        };
        draft.mapping.set(field, column);
    }
    Ok(see(&format!("/console/roster/{id}")))
}

/// `POST /console/roster/{id}/file` (multipart): a corrected file; the
/// mapping stays when the columns do.
async fn roster_file(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    Param(id): Param,
    multipart: Multipart,
) -> Page {
    let up = posted(&console.node, &staff, Role::Issuer, &headers, multipart).await?;
    let draft = console.draft(&id)?;
    let mut draft = draft.lock().expect("roster lock");
    let (file, roster, digest) = read_roster(&up, &draft.handle)?;
    if draft.job.is_some() {
        return Err(bad("id", "this roster is issued already"));
    }
    if roster.headers != draft.roster.headers {
        draft.mapping = roster::guess(&roster.headers);
    }
    draft.file = file;
    draft.digest = digest;
    draft.roster = Arc::new(roster);
    Ok(see(&format!("/console/roster/{id}")))
}

/// `POST /console/roster/{id}/issue`: issues every row (once: the rows'
/// idempotency keys make a second run replay the first).
async fn roster_issue(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    Param(id): Param,
    body: Body,
) -> Page {
    posted_form(&console.node, &staff, Role::Issuer, &headers, body).await?;
    let node = console.node.clone();
    let draft = console.draft(&id)?;
    let checked = dry_run(&node, &draft).await?;
    if !checked.bad.is_empty() {
        return Err(bad_rows(&checked.bad));
    }
    let (handle, job) = {
        let mut draft = draft.lock().expect("roster lock");
        if draft.job.is_some() {
            return Ok(see(&format!("/console/roster/{id}")));
        }
        let job = Arc::new(Job {
            total: checked.ready.len() + checked.held.len(),
            held: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            outcomes: Mutex::new(Vec::new()),
        });
        draft.job = Some(job.clone());
        (draft.handle.clone(), job)
    };
    // Dropped to make room for a newer upload while it was checked: put
    // back, so its page follows the job.
    console
        .rosters
        .lock()
        .expect("rosters lock")
        .entry(id.clone())
        .or_insert_with(|| draft.clone());
    tracing::info!(roster = %id, rows = checked.ready.len(), held = checked.held.len(),
        by = %staff.session.with.id(), "console roster issuing");
    let key: Arc<str> = checked.key.into();
    let rows = checked
        .held
        .into_iter()
        .map(|(row, id)| (row, Some(id)))
        .chain(checked.ready.into_iter().map(|row| (row, None)));
    tokio::spawn(async move {
        let finish = Finish(job.clone());
        futures_util::stream::iter(rows)
            .for_each_concurrent(8, |(row, held)| {
                let (node, job, key, handle) =
                    (node.clone(), job.clone(), key.clone(), handle.clone());
                async move {
                    let outcome = issue_row(&node, &handle, &key, &row, held).await;
                    if outcome.error.is_some() {
                        job.failed.fetch_add(1, Ordering::Relaxed);
                    } else if outcome.held {
                        job.held.fetch_add(1, Ordering::Relaxed);
                    }
                    job.outcomes.lock().expect("outcomes lock").push(outcome);
                    job.done.fetch_add(1, Ordering::Relaxed);
                }
            })
            .await;
        drop(finish);
    });
    Ok(see(&format!("/console/roster/{id}")))
}

fn bad_rows(bad: &[roster::BadRow]) -> Refusal {
    Refusal(
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-rows",
            format!(
                "{} rows cannot be issued (line {}: {}); fix the file and upload it again",
                bad.len(),
                bad[0].line,
                bad[0].reason
            ),
        )
        .field("file"),
    )
}

/// Issues one roster row as `POST /credentials/issue` would, with the
/// class, the earner's address and a claim link, under the roster's key
/// and the row's line; or, for an earner who holds the badge already
/// (`held`), tells that credential.
async fn issue_row(
    node: &Shared,
    handle: &str,
    key: &str,
    row: &roster::Row,
    held: Option<String>,
) -> Outcome {
    let recipient = match &row.recipient {
        cairn_verifier::credential::Recipient::Did(d) => d.clone(),
        cairn_verifier::credential::Recipient::Email(e) => e.clone(),
    };
    let was_held = held.is_some();
    let issued = async {
        if let Some(id) = held {
            let award = super::award_members(node, &id, None)?;
            return Ok::<_, Problem>((id, award));
        }
        let request = super::IssueRequest {
            credential: row.credential(),
            achievement: Some(handle.to_owned()),
            contact: row.email.clone().map(|email| Contact {
                email,
                language: None,
            }),
            tx_code: false,
        };
        let contact = request.contact.clone();
        let credential = super::requested_credential(node, request, "")?;
        let issued = node
            .issue(
                credential,
                Some((key, usize::try_from(row.line).unwrap_or(usize::MAX))),
                Beside {
                    contact,
                    award: Some(super::new_award(node, false)),
                    ..Beside::default()
                },
            )
            .await
            .map_err(|e| super::issue_problem(e, ""))?;
        let (Issued::New(vc, _) | Issued::Replayed(vc)) = issued;
        let id = vc["id"].as_str().unwrap_or_default().to_owned();
        let award = super::award_members(node, &id, None)?;
        Ok::<_, Problem>((id, award))
    }
    .await;
    match issued {
        Ok((id, award)) => Outcome {
            line: row.line,
            held: was_held,
            recipient,
            share: Some(node.share_url(&id)),
            claim: award["claimUrl"].as_str().map(str::to_owned),
            credential: Some(id),
            error: None,
        },
        Err(p) => Outcome {
            line: row.line,
            held: was_held,
            recipient,
            credential: None,
            claim: None,
            share: None,
            error: Some(p.detail),
        },
    }
}

/// `GET /console/roster/{id}/progress`: the progress bar's JSON.
async fn roster_progress(State(console): Desk, staff: Staff, Param(id): Param) -> Page {
    staff.may(Role::Issuer)?;
    let progress = console.job(&id)?.map(|j| j.progress()).unwrap_or(
        json!({"total": 0, "done": 0, "failed": 0, "held": 0, "issued": 0, "finished": false}),
    );
    Ok(axum::Json(progress).into_response())
}

/// `GET /console/roster/{id}/result.csv`: each row's line, recipient,
/// credential id, claim link and badge page, or why it failed, and the
/// outcome (issued, held or failed).
async fn roster_result(State(console): Desk, staff: Staff, Param(id): Param) -> Page {
    staff.may(Role::Issuer)?;
    let job = console
        .job(&id)?
        .ok_or_else(|| bad("id", "this roster is not issued yet"))?;
    let mut outcomes: Vec<(u64, Vec<String>)> = job
        .outcomes
        .lock()
        .expect("outcomes lock")
        .iter()
        .map(|o| {
            (
                o.line,
                vec![
                    o.line.to_string(),
                    o.recipient.clone(),
                    o.credential.clone().unwrap_or_default(),
                    o.claim.clone().unwrap_or_default(),
                    o.share.clone().unwrap_or_default(),
                    o.error.clone().unwrap_or_default(),
                    match (o.held, &o.error) {
                        (_, Some(_)) => "failed",
                        (true, None) => "held",
                        (false, None) => "issued",
                    }
                    .to_owned(),
                ],
            )
        })
        .collect();
    outcomes.sort_by_key(|(line, _)| *line);
    let mut text = String::from("line,recipient,credentialId,claimUrl,shareUrl,error,outcome\n");
    for (_, cells) in outcomes {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| crate::analytics::csv_cell(c))
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    Ok(super::csv_response(text, &format!("roster-{id}.csv")))
}

// --- Credentials --------------------------------------------------------------------

fn status_of(node: &Node, id: &str, vc: &Value, now: i64) -> Result<&'static str, Problem> {
    Ok(match node.store.status(id)?.map(|r| r.status) {
        Some(CredentialStatus::Revoked) => "revoked",
        Some(CredentialStatus::Suspended) => "suspended",
        _ if vc["validUntil"]
            .as_str()
            .and_then(|t| cairn_verifier::credential::parse_time(t, false).ok())
            .is_some_and(|t| t.timestamp() < now) =>
        {
            "expired"
        }
        _ => "active",
    })
}

/// Who a credential is for, as staff know them: the DID, the name, the
/// earner's address (kept apart from the credential).
fn recipient_of(node: &Node, id: &str, vc: &Value) -> Result<Value, Problem> {
    let subject = &vc["credentialSubject"];
    Ok(json!({
        "did": subject["id"],
        "name": subject["name"],
        "email": node.store.contact(id)?.map(|c| c.email),
    }))
}

/// `GET /console/credentials?q=&achievement=&status=&from=&to=&after=`:
/// a search by recipient (address, DID or name), badge class, status and
/// issue date, reading at most [`SEARCH_READS`] credentials a page.
async fn credentials(
    State(console): Desk,
    staff: Staff,
    Query(q): Query<HashMap<String, String>>,
) -> Page {
    let node = &console.node;
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let text = get("q").map(str::to_lowercase);
    let handle = match get("achievement") {
        None => None,
        Some(a) => Some(
            node.class(a)
                .map_err(|_| bad("achievement", "no such badge class"))?
                .0
                .handle,
        ),
    };
    let status = get("status");
    if let Some(s) = status {
        if !["active", "suspended", "revoked", "expired"].contains(&s) {
            return Err(bad(
                "status",
                "expected active, suspended, revoked or expired",
            ));
        }
    }
    let date = |name: &str, end: bool| {
        get(name)
            .map(|s| {
                cairn_verifier::credential::parse_time(s, end)
                    .map(|t| t.timestamp())
                    .map_err(|e| bad(name, e))
            })
            .transpose()
    };
    let (from, to) = (date("from", false)?, date("to", true)?);
    let now = chrono::Utc::now().timestamp();
    let own = format!("{}/", node.base_url());
    let mut found = Vec::new();
    let mut last = String::new();
    let mut read = 0;
    let mut failure = None;
    node.store
        .scan_credentials(get("after").unwrap_or_default(), SEARCH_READS, |id, vc| {
            last = id.to_owned();
            read += 1;
            if id.starts_with(&own) || !vc["credentialSubject"].is_object() {
                return true;
            }
            let result = (|| -> Result<Option<Value>, Problem> {
                if handle.as_ref().is_some_and(|h| *h != node.class_of(&vc)) {
                    return Ok(None);
                }
                let issued = vc["validFrom"]
                    .as_str()
                    .and_then(|t| cairn_verifier::credential::parse_time(t, false).ok())
                    .map(|t| t.timestamp());
                if from.is_some_and(|f| issued.is_none_or(|i| i < f))
                    || to.is_some_and(|t| issued.is_none_or(|i| i > t))
                {
                    return Ok(None);
                }
                let recipient = recipient_of(node, id, &vc)?;
                if let Some(text) = &text {
                    let subject = &vc["credentialSubject"];
                    let hit = id.to_lowercase().contains(text.as_str())
                        || [&recipient["did"], &recipient["email"]].iter().any(|v| {
                            v.as_str()
                                .is_some_and(|s| s.to_lowercase().contains(text.as_str()))
                        })
                        || crate::published::text_in(&subject["name"], "en")
                            .is_some_and(|n| n.to_lowercase().contains(text.as_str()))
                        || cairn_verifier::credential::names_email(subject, text) == Some(true);
                    if !hit {
                        return Ok(None);
                    }
                }
                let state = status_of(node, id, &vc, now)?;
                if status.is_some_and(|s| s != state) {
                    return Ok(None);
                }
                Ok(Some(json!({
                    "id": id, "href": credential_path(id),
                    "name": crate::published::text_in(&vc["name"], "en"),
                    "recipient": recipient, "status": state,
                    "issued": vc["validFrom"], "until": vc["validUntil"],
                })))
            })();
            match result {
                Ok(Some(row)) => {
                    found.push(row);
                    found.len() < SEARCH_SHOWS
                }
                Ok(None) => true,
                Err(p) => {
                    failure = Some(p);
                    false
                }
            }
        })?;
    if let Some(p) = failure {
        return Err(Refusal(p));
    }
    // Another page while this one filled up or stopped reading.
    let more = (found.len() == SEARCH_SHOWS || read == SEARCH_READS).then(|| {
        let mut params: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "after")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        params.push(("after".into(), last.clone()));
        params.sort();
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
    });
    let searched = q.keys().any(|k| k != "after");
    Ok(render(
        node,
        &staff,
        "credentials.html",
        "credentials",
        json!({
            "title": "Credentials",
            "q": get("q"), "achievement": handle, "status": status,
            "from": get("from"), "to": get("to"),
            "classes": class_choices(node, true)?,
            "found": found, "searched": searched, "more": more,
        }),
    ))
}

/// `GET /console/credentials/{id}`: its page, batch, anchor, history,
/// claim and analytics; and what staff may do with it.
async fn credential_view(State(console): Desk, staff: Staff, Param(id): Param) -> Page {
    let node = &console.node;
    let vc = node
        .store
        .credential(&id)?
        .ok_or_else(|| super::unknown_credential(&id))?;
    let now = chrono::Utc::now().timestamp();
    let status = node.store.status(&id)?;
    let history: Vec<Value> = status
        .iter()
        .flat_map(|r| r.history.iter())
        .map(|c| {
            json!({"status": c.status, "reason": c.reason,
                   "at": cairn_verifier::credential::fmt_time(
                       chrono::DateTime::from_timestamp(c.at, 0).unwrap_or_default())})
        })
        .collect();
    let batch = node.store.placement(&id)?.map(|p| {
        let anchor = p.record.anchor().map(|a| {
            json!({"transaction": a.transaction.to_string(), "block": a.block_number,
                   "chain": a.chain})
        });
        json!({"number": p.record.number, "root": hex::encode(p.record.root),
               "leaves": p.record.leaf_count, "anchor": anchor})
    });
    let award = match node.store.award(&id)? {
        Some(a) => Some(json!({"state": node.store.award_state(&a, now)?.as_str(),
                               "claimed": a.claimed})),
        None => None,
    };
    let today = day_of(now);
    let class = node.class_of(&vc);
    let counts = node
        .counts(today - 29, today, Some(&class))?
        .into_iter()
        .filter(|(k, _)| k.credential == id)
        .fold(crate::analytics::Counts::default(), |mut c, (k, n)| {
            c.add(k.event, n);
            c
        });
    let achievement = node.class(&class).ok().map(|(record, _)| record.handle);
    let state = status_of(node, &id, &vc, now)?;
    Ok(render(
        node,
        &staff,
        "credential.html",
        "credentials",
        json!({
            "title": crate::published::text_in(&vc["name"], "en").unwrap_or_else(|| id.clone()),
            "id": id, "path": credential_path(&id),
            "status": state,
            "onChain": status.as_ref().map(|r| r.transaction.is_some()),
            "recipient": recipient_of(node, &id, &vc)?,
            "issued": vc["validFrom"], "until": vc["validUntil"],
            "achievement": achievement,
            "share": node.share_url(&id),
            "private": node.store.is_private(&id)?,
            "batch": batch, "queued": batch.is_none(),
            "history": history, "award": award,
            "renewedBy": node.store.renewed_by(&id)?.map(|r| json!({"id": r, "href": credential_path(&r)})),
            "counts": counts,
        }),
    ))
}

/// `POST /console/credentials/{id}/status` with `status` (revoked,
/// suspended, active) and `reason`: first a page to confirm it, then, with
/// `confirm`, the change.
async fn credential_status(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    Param(id): Param,
    body: Body,
) -> Page {
    let form = posted_form(&console.node, &staff, Role::Issuer, &headers, body).await?;
    let node = &console.node;
    let status = match form.get("status").map(String::as_str) {
        Some("revoked") => CredentialStatus::Revoked,
        Some("suspended") => CredentialStatus::Suspended,
        Some("active") => CredentialStatus::Active,
        _ => return Err(bad("status", "expected revoked, suspended or active")),
    };
    let reason = form
        .get("reason")
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.len() > 1000) {
        return Err(bad("reason", "at most 1000 bytes"));
    }
    if status != CredentialStatus::Active && reason.is_none() {
        return Err(bad("reason", "say why: the earner and the record see it"));
    }
    if form.get("confirm").map(String::as_str) != Some("yes") {
        let vc = node
            .store
            .credential(&id)?
            .ok_or_else(|| super::unknown_credential(&id))?;
        return Ok(render(
            node,
            &staff,
            "confirm.html",
            "credentials",
            json!({"title": "Confirm", "id": id, "path": credential_path(&id),
                   "name": crate::published::text_in(&vc["name"], "en"),
                   "recipient": recipient_of(node, &id, &vc)?,
                   "status": form.get("status"), "reason": reason}),
        ));
    }
    super::change_status(node, &id, status, reason)?;
    tracing::info!(credential = %id, by = %staff.session.with.id(), "console status change");
    Ok(see(&credential_path(&id)))
}

/// `POST /console/credentials/{id}/renew`: the renewal, as `POST
/// /credentials/{id}/renew` with no body.
async fn credential_renew(
    State(console): Desk,
    staff: Staff,
    headers: HeaderMap,
    Param(id): Param,
    body: Body,
) -> Page {
    posted_form(&console.node, &staff, Role::Issuer, &headers, body).await?;
    let vc = super::renew_credential(&console.node, &id, None, None).await?;
    Ok(see(&credential_path(vc["id"].as_str().unwrap_or_default())))
}

// --- Analytics ------------------------------------------------------------------------

/// A report's days and badge class from the page's query.
fn range_of(
    node: &Node,
    q: &HashMap<String, String>,
) -> Result<(i32, i32, Option<String>), Problem> {
    let get = |k: &str| q.get(k).map(String::as_str);
    super::report_range(node, get("from"), get("to"), get("achievement"))
}

/// `GET /console/analytics?from=&to=&achievement=`: the report, with a
/// chart of each day.
async fn analytics_page(
    State(console): Desk,
    staff: Staff,
    Query(q): Query<HashMap<String, String>>,
) -> Page {
    let node = &console.node;
    let (from, to, handle) = range_of(node, &q)?;
    let report = super::report(node, from, to, handle)?;
    // Bars of page views and downloads per day, scaled to the busiest.
    let peak = report
        .days
        .iter()
        .map(|d| d.counts.page_views.max(d.counts.downloads()))
        .max()
        .unwrap_or(0)
        .max(1);
    let width = 16;
    let bars: Vec<Value> = report
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = |n: u64| (n * 100 / peak) as u32;
            json!({"x": i * width, "day": d.day, "views": d.counts.page_views,
                   "downloads": d.counts.downloads(),
                   "vh": h(d.counts.page_views), "dh": h(d.counts.downloads())})
        })
        .collect();
    let mut csv = form_urlencoded::Serializer::new(String::new());
    csv.append_pair("from", &report.from)
        .append_pair("to", &report.to);
    if let Some(a) = &report.achievement {
        csv.append_pair("achievement", a);
    }
    Ok(render(
        node,
        &staff,
        "analytics.html",
        "analytics",
        json!({
            "title": "Analytics",
            "top": report.credentials.iter().take(20).map(|c| json!({"id": c.credential,
                "href": credential_path(&c.credential), "counts": c.counts})).collect::<Vec<_>>(),
            "report": report, "bars": bars, "chartWidth": bars.len() * width,
            "peak": peak, "csv": format!("/console/analytics.csv?{}", csv.finish()),
            "classes": class_choices(node, true)?,
        }),
    ))
}

/// `GET /console/analytics.csv`: as `GET /analytics?format=csv`.
async fn analytics_csv(
    State(console): Desk,
    _staff: Staff,
    Query(q): Query<HashMap<String, String>>,
) -> Page {
    let node = &console.node;
    let (from, to, handle) = range_of(node, &q)?;
    Ok(super::analytics_csv(node, from, to, handle.as_deref())?)
}
