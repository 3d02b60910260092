//! The node's HTTP API, shaped after the W3C VC-API where the two overlap.
//! `openapi.json` (served at `/openapi.json`) documents it.
//!
//! Issuer endpoints (issue, bulk issue) need a bearer token; reading
//! endpoints are public. Every error is an RFC 9457 `application/problem+json`
//! body naming the field at fault. Bodies are read with a size limit and a
//! time limit, and only after the token is checked.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::achievements::{ClassError, ClassRecord, ClassVersion};
use crate::analytics::Event;
use axum::Router;
use cairn_verifier::image::ImageKind;
use futures_util::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::io::StreamReader;

use crate::node::{Beside, IssueError, Issued, Node};
use crate::store::{Contact, StateFilter};
use crate::tokens::Role;
use cairn_verifier::credential::Recipient;

mod console;
mod wallets;

/// A single request body (issue, verify).
pub const MAX_BODY: usize = 1 << 20;
/// A bulk request sent as one JSON array; larger uploads use NDJSON, which
/// is streamed.
pub const MAX_BULK_ARRAY_BODY: usize = 64 << 20;
/// One NDJSON line.
pub const MAX_LINE: usize = 1 << 20;
/// Bulk results held for a client that is not reading yet (about 3 KB
/// each: the credential is in its line), so that one sending a whole upload
/// before reading gets about 16,000 items through before the node waits.
const RESULTS_AHEAD: usize = 16_384;

/// Items in one bulk request.
pub const MAX_BULK_ITEMS: usize = 100_000;
/// Time to receive a single request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
const OPENAPI: &str = include_str!("openapi.json");

/// An RFC 9457 problem.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// A short slug, the last part of the problem's `type` URI.
    pub kind: &'static str,
    pub detail: String,
    /// The request field at fault (`credential.validFrom`, `Authorization`).
    pub field: Option<String>,
    /// A member of the problem's own (RFC 9457 extension), such as an
    /// earner's `progress` when a certification is refused.
    pub extension: Option<(&'static str, Value)>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
            field: None,
            extension: None,
        }
    }

    pub fn with(mut self, name: &'static str, value: Value) -> Self {
        self.extension = Some((name, value));
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    fn bad(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-field", detail).field(field)
    }

    fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "type": format!("urn:cairn:problem:{}", self.kind),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(f) = &self.field {
            v["field"] = json!(f);
        }
        if let Some((name, value)) = &self.extension {
            v[*name] = value.clone();
        }
        v
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            self.to_json().to_string(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cairn\""),
            );
        }
        // An outage (a full disk, busy workers) passes: say when to retry.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::NoCredential(id) => unknown_credential(&id),
            // The disk (full, failing, read-only): an outage the client
            // retries, not its fault and not a bug.
            // (A store reopened read only while the disk is full refuses
            // writes as not supported.)
            StoreError::Db(e)
                if matches!(
                    e.kind(),
                    rocksdb::ErrorKind::IOError | rocksdb::ErrorKind::NotSupported
                ) =>
            {
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage-unavailable",
                    format!("the node cannot write to its store now: {e}"),
                )
            }
            StoreError::Unavailable(m) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                format!("the node cannot use its store now: {m}"),
            ),
            e @ StoreError::Counted { .. } => {
                Problem::new(StatusCode::CONFLICT, "already-counted", e.to_string())
            }
            e @ StoreError::Claimed { .. } => {
                Problem::new(StatusCode::CONFLICT, "already-claimed", e.to_string())
            }
            e @ StoreError::Unclaimable { .. } => {
                Problem::new(StatusCode::CONFLICT, "award-not-claimable", e.to_string())
            }
            other => Problem::internal(other.to_string()),
        }
    }
}

impl From<crate::pool::PoolError> for Problem {
    fn from(e: crate::pool::PoolError) -> Self {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
    }
}

impl From<crate::node::NodeError> for Problem {
    fn from(e: crate::node::NodeError) -> Self {
        match e {
            crate::node::NodeError::Store(e) => e.into(),
            other => Problem::internal(other.to_string()),
        }
    }
}

type Shared = Arc<Node>;

/// A path parameter (`{id}`, `{root}`); one that does not decode (bad
/// percent-encoding, not UTF-8) is answered as a problem naming the path.
struct Param(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Param {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        <Path<String> as axum::extract::FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| Param(p))
            .map_err(|e| Problem::bad("path", e.body_text()))
    }
}

impl From<crate::limits::TooManyInFlight> for Problem {
    fn from(e: crate::limits::TooManyInFlight) -> Self {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            e.to_string(),
        )
    }
}

pub fn router(node: Shared) -> Router {
    Router::new()
        .route("/credentials/issue", post(issue))
        .route("/credentials/issue/bulk", post(issue_bulk))
        .route("/credentials/verify", post(verify))
        .route("/presentations/verify", post(verify_presentation))
        .route("/credentials/status", post(update_status))
        .route("/credentials", get(list_credentials))
        .route("/credentials/{id}/status", get(credential_status))
        .route("/credentials/{id}/renew", post(renew))
        .route("/endorsements", post(endorse))
        .route("/earners/{id}/progress", get(earner_progress))
        .route("/earners/{id}/certifications", post(certify))
        .route("/credentials/{id}", get(credential))
        .route("/credentials/{id}/proof", get(proof))
        .route("/credentials/{id}/refresh", get(refresh))
        .route("/revocations", get(revocations))
        .route("/credentials/{id}/bundle", get(bundle))
        .route("/status-lists/{id}", get(status_list))
        .route("/batches", get(batches))
        .route("/batches/{root}", get(batch))
        .route(
            "/achievements",
            post(create_achievement).get(list_achievements),
        )
        .route(
            "/achievements/{id}",
            get(achievement)
                .put(update_achievement)
                .delete(retire_achievement),
        )
        .route("/achievements/{id}/image", get(achievement_image))
        .route("/issuer", get(issuer_profile).put(set_issuer_profile))
        .route("/issuer/image", get(issuer_image))
        .route(
            "/credentials/{id}/page",
            get(page_settings).put(set_page_settings),
        )
        .route("/b/{share}", get(badge_page))
        .route("/b/{share}/{file}", get(badge_page_file))
        .route("/verify", get(verify_page))
        .route("/events", get(page_event))
        .route("/analytics", get(analytics))
        .route("/assets/{file}", get(asset))
        .route("/credentials/{id}/badge.png", get(baked_png))
        .route("/credentials/{id}/badge.svg", get(baked_svg))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(wallets::routes())
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this endpoint does not take that method",
            )
        })
        .with_state(node.clone())
        .merge(console::routes(node))
}

/// Checks the bearer token for a change that needs `role` (or more).
fn authorize_as(node: &Node, headers: &HeaderMap, role: Role) -> Result<String, Problem> {
    let (id, has) = authenticate(node, headers)?;
    if has < role {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token {id} is a {} token; this needs {} (cairn-node token create --role)",
                has.as_str(),
                role.as_str()
            ),
        )
        .field("Authorization"));
    }
    Ok(id)
}

/// Checks the bearer token for a read (any role).
fn authorize(node: &Node, headers: &HeaderMap) -> Result<String, Problem> {
    authenticate(node, headers).map(|(id, _)| id)
}

/// Checks the bearer token; returns the token's id and role.
fn authenticate(node: &Node, headers: &HeaderMap) -> Result<(String, Role), Problem> {
    let unauthorized = |detail: &str| {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).field("Authorization")
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("this endpoint needs `Authorization: Bearer <token>` (create one with `cairn-node token create`)"))?;
    let token = value
        .to_str()
        .ok()
        // The scheme is case-insensitive (RFC 9110, 11.1).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthorized("expected `Bearer <token>`"))?;
    node.tokens
        .check(token)
        .ok_or_else(|| unauthorized("unknown or revoked token"))
}

/// Reads a whole body, up to `limit` bytes and [`BODY_TIMEOUT`].
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            format!(
                "the request body did not arrive within {} s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
        Ok(Err(e)) => {
            // axum wraps http-body-util's LengthLimitError.
            let mut source: Option<&dyn std::error::Error> = Some(&e);
            let mut too_large = false;
            while let Some(s) = source {
                too_large |= s.to_string().contains("length limit exceeded");
                source = s.source();
            }
            if too_large {
                Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    format!("the request body is over the {limit}-byte limit"),
                ))
            } else {
                Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "body-unreadable",
                    format!("reading the body: {e}"),
                ))
            }
        }
        Ok(Ok(b)) => Ok(b),
    }
}

/// Parses a JSON object body.
fn parse_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(Problem::bad(what, "expected a JSON object")),
        Err(e) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            format!("not valid JSON: {e}"),
        )
        .field(what)),
    }
}

/// The request's media type, without parameters, in lower case (`None`
/// without a `Content-Type`).
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_TYPE).map(|v| {
        let ct = String::from_utf8_lossy(v.as_bytes());
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

fn require_json(headers: &HeaderMap) -> Result<(), Problem> {
    match media_type(headers).as_deref() {
        None => Ok(()),
        Some(ct)
            if ct == "application/json"
                || (ct.starts_with("application/") && ct.ends_with("+json")) =>
        {
            Ok(())
        }
        Some(ct) => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("expected application/json, got {ct}"),
        )
        .field("Content-Type")),
    }
}

/// Splits an issuance request `{credential, options}`; `prefix` names its
/// place in a bulk request. The one option is `achievement`: the badge
/// class the credential is issued from.
/// An issuance request's parts: the credential, the badge class it is
/// issued from, and how to reach its earner.
struct IssueRequest {
    credential: Value,
    achievement: Option<String>,
    contact: Option<Contact>,
    /// Whether the claim needs a transaction code (`options.txCode`).
    tx_code: bool,
}

fn split_request(mut req: Map<String, Value>, prefix: &str) -> Result<IssueRequest, Problem> {
    for key in req.keys() {
        if key != "credential" && key != "options" {
            return Err(Problem::bad(
                format!("{prefix}{key}"),
                "unknown member; an issuance request has `credential` and `options`",
            ));
        }
    }
    let mut achievement = None;
    let (mut email, mut language) = (None, None);
    let mut tx_code = false;
    match req.get("options") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("achievement", Value::String(a)) => achievement = Some(a.clone()),
                    ("achievement", _) => {
                        return Err(Problem::bad(
                            format!("{prefix}options.achievement"),
                            "must be a badge class id",
                        ))
                    }
                    // An address mail can go to: the credential's own rule,
                    // and the mailer's.
                    ("recipientEmail", Value::String(e))
                        if matches!(e.parse(), Ok(Recipient::Email(_)))
                            && e.trim().parse::<lettre::Address>().is_ok()
                            && e.len() <= 254 =>
                    {
                        email = Some(e.trim().to_owned())
                    }
                    ("recipientEmail", _) => {
                        return Err(Problem::bad(
                            format!("{prefix}options.recipientEmail"),
                            "must be the earner's email address",
                        ))
                    }
                    ("language", Value::String(l))
                        if (2..=35).contains(&l.len())
                            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
                    {
                        language = Some(l.clone())
                    }
                    ("language", _) => {
                        return Err(Problem::bad(
                            format!("{prefix}options.language"),
                            "must be a language tag (BCP 47), such as en or fr-CA",
                        ))
                    }
                    ("txCode", Value::Bool(b)) => tx_code = *b,
                    ("txCode", _) => {
                        return Err(Problem::bad(
                            format!("{prefix}options.txCode"),
                            "must be true or false: whether a wallet claiming the badge needs a code sent apart from the link",
                        ))
                    }
                    _ => {
                        return Err(Problem::bad(
                            format!("{prefix}options.{k}"),
                            "unknown option",
                        ))
                    }
                }
            }
        }
        Some(_) => {
            return Err(Problem::bad(
                format!("{prefix}options"),
                "must be an object",
            ))
        }
    }
    let credential = match req.remove("credential") {
        Some(c @ Value::Object(_)) => c,
        Some(_) => {
            return Err(Problem::bad(
                format!("{prefix}credential"),
                "must be an object",
            ))
        }
        None => return Err(Problem::bad(format!("{prefix}credential"), "missing")),
    };
    if language.is_some() && email.is_none() {
        return Err(Problem::bad(
            format!("{prefix}options.language"),
            "is the language of the earner's mail: give options.recipientEmail too",
        ));
    }
    Ok(IssueRequest {
        credential,
        achievement,
        contact: email.map(|email| Contact { email, language }),
        tx_code,
    })
}

/// The credential an issuance request asks for: as given, or built from the
/// badge class `options.achievement` names.
fn requested_credential(node: &Node, req: IssueRequest, prefix: &str) -> Result<Value, Problem> {
    let credential = match req.achievement {
        None => req.credential,
        Some(reference) => class_credential(node, &reference, req.credential, prefix)?,
    };
    // The address mail goes to must be the one the credential names (when
    // it names one), so a typo never mails a stranger.
    if let Some(contact) = &req.contact {
        if cairn_verifier::credential::names_email(&credential["credentialSubject"], &contact.email)
            == Some(false)
        {
            return Err(Problem::bad(
                format!("{prefix}options.recipientEmail"),
                "is not the email address the credential's recipient identifier names",
            ));
        }
    }
    Ok(credential)
}

fn class_credential(
    node: &Node,
    reference: &str,
    credential: Value,
    prefix: &str,
) -> Result<Value, Problem> {
    node.credential_from_class(reference, credential)
        .map_err(|e| match e {
            ClassError::Field(f) => issue_problem(IssueError::Field(f), prefix),
            ClassError::Unknown(_) => Problem::new(
                StatusCode::BAD_REQUEST,
                "unknown-achievement",
                format!("no badge class {reference} (see GET /achievements)"),
            )
            .field(format!("{prefix}options.achievement")),
            other => class_problem(other).field(format!("{prefix}options.achievement")),
        })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        Problem::bad(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )
    };
    let s = v.to_str().map_err(|_| bad())?.trim().trim_matches('"');
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_owned()))
}

fn issue_problem(e: IssueError, prefix: &str) -> Problem {
    match e {
        IssueError::Field(f) => {
            let field = if f.field.is_empty() {
                format!("{prefix}credential")
            } else {
                format!("{prefix}credential.{}", f.field)
            };
            Problem::bad(field, f.reason)
        }
        IssueError::Duplicate(id) => Problem::new(
            StatusCode::CONFLICT,
            "duplicate",
            format!("credential {id} exists already"),
        )
        .field(format!("{prefix}credential.id")),
        IssueError::Store(e) => e.into(),
        IssueError::Busy(e) => e.into(),
        IssueError::Internal(m) => Problem::internal(m),
    }
}

/// `POST /credentials/issue`
async fn issue(
    State(node): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let issued = issue_one(&node, &headers, body).await.inspect_err(|p| {
        if p.status != StatusCode::UNAUTHORIZED {
            node.metrics.issue_refused.inc();
        }
    })?;
    let (issued, made) = issued;
    Ok(match issued {
        Issued::New(vc, json) => {
            let id = vc["id"].as_str().unwrap_or("");
            let location = format!(
                "/credentials/{}",
                cairn_verifier::credential::path_segment(id)
            );
            // The JSON as stored, wrapped: no second serialization.
            let share = Value::String(node.share_url(id)).to_string();
            let award = wallets::new_award_fields(&node, id, &made).to_string();
            let mut body = Vec::with_capacity(json.len() + share.len() + award.len() + 40);
            body.extend_from_slice(b"{\"verifiableCredential\":");
            body.extend_from_slice(&json);
            body.extend_from_slice(b",\"shareUrl\":");
            body.extend_from_slice(share.as_bytes());
            // The award's members, after the comma: `{"claimUrl":…}`.
            if award.len() > 2 {
                body.push(b',');
                body.extend_from_slice(&award.as_bytes()[1..]);
            } else {
                body.push(b'}');
            }
            let mut response = (
                StatusCode::CREATED,
                [
                    (header::LOCATION, location),
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                ],
                body,
            )
                .into_response();
            if made.tx_code.is_some() {
                // The transaction code is shown once: no cache keeps it.
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            response
        }
        Issued::Replayed(vc) => {
            let id = vc["id"].as_str().unwrap_or("");
            let mut out = json!({"verifiableCredential": vc, "shareUrl": node.share_url(id)});
            if let (Value::Object(out), Value::Object(award)) =
                (&mut out, award_members(&node, id, None)?)
            {
                out.extend(award);
            }
            (StatusCode::OK, axum::Json(out)).into_response()
        }
    })
}

/// A new award (or a new link for one): its claim link ends `--offer-ttl`
/// from now, and a transaction code is made when asked for.
fn new_award(node: &Node, tx_code: bool) -> crate::store::NewAward {
    let ttl = i64::try_from(node.settings.offer_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    crate::store::NewAward {
        expires: chrono::Utc::now().timestamp().saturating_add(ttl),
        tx_code: tx_code.then(crate::wallets::new_tx_code),
    }
}

/// The issue response's award members (`claimUrl`, `claimExpires`, and
/// `txCode` when just made): an empty object for a credential that is no
/// award.
fn award_members(node: &Node, id: &str, tx_code: Option<&str>) -> Result<Value, Problem> {
    Ok(match node.store.award(id)? {
        Some(award) => wallets::award_fields(node, &award, tx_code),
        None => json!({}),
    })
}

/// Issues one request; with the award it made (whose transaction code, if
/// any, is shown only for a credential new now).
async fn issue_one(
    node: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Issued, crate::store::NewAward), Problem> {
    authorize_as(node, headers, Role::Issuer)?;
    require_json(headers)?;
    let key = idempotency_key(headers)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let req = split_request(parse_object(&bytes, "body")?, "")?;
    let contact = req.contact.clone();
    let award = new_award(node, req.tx_code);
    let credential = requested_credential(node, req, "")?;
    let issued = node
        .issue(
            credential,
            key.as_deref().map(|k| (k, 0)),
            Beside {
                contact,
                award: Some(award.clone()),
                ..Beside::default()
            },
        )
        .await
        .map_err(|e| issue_problem(e, ""))?;
    Ok((issued, award))
}

/// One line of a bulk response.
async fn bulk_item(
    node: Shared,
    index: usize,
    item: Result<Value, Problem>,
    key: Option<Arc<str>>,
) -> Value {
    let prefix = format!("[{index}].");
    let outcome = async {
        let item = item?;
        let req = match item {
            Value::Object(o) => o,
            _ => return Err(Problem::bad(format!("[{index}]"), "expected an object")),
        };
        let req = split_request(req, &prefix)?;
        let contact = req.contact.clone();
        let award = new_award(&node, req.tx_code);
        let credential = requested_credential(&node, req, &prefix)?;
        let issued = node
            .issue(
                credential,
                key.as_deref().map(|k| (k, index)),
                Beside {
                    contact,
                    award: Some(award.clone()),
                    ..Beside::default()
                },
            )
            .await
            .map_err(|e| issue_problem(e, &prefix))?;
        Ok((issued, award))
    }
    .await;
    let line = |status: u16, vc: Value, award: Option<Value>| {
        let id = vc["id"].as_str().unwrap_or("").to_owned();
        let mut line = json!({"index": index, "status": status, "id": id, "verifiableCredential": vc, "shareUrl": node.share_url(&id)});
        let award = award.or_else(|| award_members(&node, &id, None).ok());
        if let (Value::Object(line), Some(Value::Object(award))) = (&mut line, award) {
            line.extend(award);
        }
        line
    };
    match outcome {
        Ok((Issued::New(vc, _), made)) => {
            let award = wallets::new_award_fields(&node, vc["id"].as_str().unwrap_or(""), &made);
            line(201, vc, Some(award))
        }
        Ok((Issued::Replayed(vc), _)) => line(200, vc, None),
        Err(p) => {
            node.metrics.issue_refused.inc();
            json!({"index": index, "status": p.status.as_u16(), "problem": p.to_json()})
        }
    }
}

/// A bulk upload's line that cannot be an item; the lines after it are
/// still read.
enum BadLine {
    TooLong,
    NotUtf8,
}

/// NDJSON lines that go on after a bad line: `LinesCodec` reports a line
/// over the limit or not UTF-8 as an error, and `FramedRead` ends the
/// stream at a decoder's first error, which left every later line
/// unreported.
struct Lines(LinesCodec);

impl Lines {
    fn item(
        r: Result<Option<String>, LinesCodecError>,
    ) -> Result<Option<Result<String, BadLine>>, std::io::Error> {
        match r {
            Ok(line) => Ok(line.map(Ok)),
            Err(LinesCodecError::MaxLineLengthExceeded) => Ok(Some(Err(BadLine::TooLong))),
            // The codec's own I/O error is its UTF-8 check (the line is
            // consumed); the body's read errors reach `FramedRead` directly.
            Err(LinesCodecError::Io(_)) => Ok(Some(Err(BadLine::NotUtf8))),
        }
    }
}

impl tokio_util::codec::Decoder for Lines {
    type Item = Result<String, BadLine>;
    type Error = std::io::Error;

    fn decode(
        &mut self,
        buf: &mut tokio_util::bytes::BytesMut,
    ) -> Result<Option<Self::Item>, Self::Error> {
        Self::item(self.0.decode(buf))
    }

    fn decode_eof(
        &mut self,
        buf: &mut tokio_util::bytes::BytesMut,
    ) -> Result<Option<Self::Item>, Self::Error> {
        Self::item(self.0.decode_eof(buf))
    }
}

#[derive(Default)]
struct Tally {
    issued: AtomicU64,
    replayed: AtomicU64,
    failed: AtomicU64,
}

/// `POST /credentials/issue/bulk`: NDJSON (streamed, one request per line)
/// or a JSON array of issuance requests. The response streams one NDJSON
/// result per item, in order, then a summary line. With an
/// `Idempotency-Key`, a retried upload returns the credentials issued the
/// first time (status 200) instead of issuing again.
async fn issue_bulk(State(node): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let prepared = async {
        authorize_as(&node, &headers, Role::Issuer)?;
        let key: Option<Arc<str>> = idempotency_key(&headers)?.map(Into::into);
        let ct = media_type(&headers);
        let ndjson = matches!(
            ct.as_deref(),
            Some("application/x-ndjson" | "application/jsonl" | "application/ndjson")
        );
        let items: stream::BoxStream<'static, (usize, Result<Value, Problem>)> = if ndjson {
            let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
            let lines = FramedRead::new(reader, Lines(LinesCodec::new_with_max_length(MAX_LINE)));
            lines
                .filter(|l| {
                    let blank = matches!(l, Ok(Ok(s)) if s.trim().is_empty());
                    async move { !blank }
                })
                .take(MAX_BULK_ITEMS + 1)
                .enumerate()
                .map(|(i, line)| {
                    let item = if i == MAX_BULK_ITEMS {
                        Err(Problem::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too-many-items",
                            format!("a bulk request holds at most {MAX_BULK_ITEMS} items; the rest were not read"),
                        ))
                    } else {
                        match line {
                            Ok(Ok(text)) => serde_json::from_str::<Value>(&text).map_err(|e| {
                                Problem::new(StatusCode::BAD_REQUEST, "malformed-json", format!("line is not valid JSON: {e}"))
                                    .field(format!("[{i}]"))
                            }),
                            Ok(Err(BadLine::TooLong)) => Err(Problem::new(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                "line-too-long",
                                format!("a line is over the {MAX_LINE}-byte limit"),
                            )
                            .field(format!("[{i}]"))),
                            Ok(Err(BadLine::NotUtf8)) => Err(Problem::new(
                                StatusCode::BAD_REQUEST,
                                "malformed-json",
                                "the line is not UTF-8",
                            )
                            .field(format!("[{i}]"))),
                            Err(e) => Err(Problem::new(
                                StatusCode::BAD_REQUEST,
                                "body-unreadable",
                                format!("reading the body: {e}"),
                            )),
                        }
                    };
                    (i, item)
                })
                // An unreadable body ends the stream after its error line.
                .scan(false, |ended, (i, item)| {
                    let stop = *ended;
                    *ended |= matches!(&item, Err(p) if p.kind == "body-unreadable" || p.kind == "too-many-items");
                    async move { (!stop).then_some((i, item)) }
                })
                .boxed()
        } else if matches!(ct.as_deref(), None | Some("application/json")) {
            let bytes = read_body(body, MAX_BULK_ARRAY_BODY).await?;
            let list = match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Array(list)) => list,
                Ok(_) => return Err(Problem::bad("body", "expected a JSON array of issuance requests (or send NDJSON)")),
                Err(e) => {
                    return Err(Problem::new(StatusCode::BAD_REQUEST, "malformed-json", format!("not valid JSON: {e}")).field("body"))
                }
            };
            if list.len() > MAX_BULK_ITEMS {
                return Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-many-items",
                    format!("{} items; a bulk request holds at most {MAX_BULK_ITEMS}", list.len()),
                )
                .field("body"));
            }
            stream::iter(list.into_iter().map(Ok).enumerate()).boxed()
        } else {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!("expected application/x-ndjson or application/json, got {}", ct.unwrap_or_default()),
            )
            .field("Content-Type"));
        };
        Ok((items, key))
    }
    .await;
    let (items, key) = match prepared {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let tally = Arc::new(Tally::default());
    // Enough in flight to keep every worker busy and group commits large.
    let in_flight = node.pool.threads() * 32;
    let results = {
        let node = node.clone();
        let tally = tally.clone();
        items
            .map(move |(i, item)| bulk_item(node.clone(), i, item, key.clone()))
            .buffered(in_flight)
            .map(move |line| {
                let counter = match line["status"].as_u64() {
                    Some(201) => &tally.issued,
                    Some(200) => &tally.replayed,
                    _ => &tally.failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                line
            })
    };
    let summary = stream::once(async move {
        json!({"summary": {
            "issued": tally.issued.load(Ordering::Relaxed),
            "replayed": tally.replayed.load(Ordering::Relaxed),
            "failed": tally.failed.load(Ordering::Relaxed),
        }})
    });
    // Issue whether or not the client reads yet. Clients that send the whole
    // upload before reading a byte (Python's urllib and requests) would
    // otherwise stall for good: once the sockets hold a few MB of results,
    // writing stops, so reading items stops, so their upload never ends.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(RESULTS_AHEAD);
    tokio::spawn(async move {
        let mut lines = std::pin::pin!(results.chain(summary));
        while let Some(v) = lines.next().await {
            let mut line = serde_json::to_vec(&v).expect("JSON serializes");
            line.push(b'\n');
            if tx.send(Bytes::from(line)).await.is_err() {
                break; // the client went away: issue no more
            }
        }
    });
    let body = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|line| (Ok::<_, Infallible>(line), rx))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response()
}

/// The `options` of a verification request (VC-API): `at`, `checks`
/// (every check is always made; `anchor` makes an unanchored credential
/// short of valid, `holder-is-subject` asks that a presentation's holder be
/// every credential's subject) and, for presentations, `challenge` and
/// `domain`.
struct VerifyOptions {
    at: chrono::DateTime<chrono::Utc>,
    anchor_required: bool,
    presentation: cairn_verifier::presentation::PresentationOptions,
}

impl VerifyOptions {
    fn parse(options: Option<&Value>, presentation: bool) -> Result<Self, Problem> {
        let mut parsed = Self {
            at: chrono::Utc::now(),
            anchor_required: false,
            presentation: Default::default(),
        };
        let o = match options {
            None | Some(Value::Null) => return Ok(parsed),
            Some(Value::Object(o)) => o,
            Some(_) => return Err(Problem::bad("options", "must be an object")),
        };
        for (k, v) in o {
            match (k.as_str(), v) {
                ("at", Value::String(s)) => {
                    parsed.at = cairn_verifier::credential::parse_time(s, false)
                        .map_err(|e| Problem::bad("options.at", e))?
                }
                ("at", _) => return Err(Problem::bad("options.at", "must be a date-time string")),
                ("checks", Value::Array(checks)) if checks.iter().all(Value::is_string) => {
                    parsed.anchor_required = checks.iter().any(|c| c == "anchor");
                    parsed.presentation.holder_is_subject =
                        checks.iter().any(|c| c == "holder-is-subject");
                }
                ("checks", _) => {
                    return Err(Problem::bad(
                        "options.checks",
                        "must be an array of check names",
                    ))
                }
                ("challenge" | "domain", Value::String(s)) if presentation => {
                    let field = match k.as_str() {
                        "challenge" => &mut parsed.presentation.challenge,
                        _ => &mut parsed.presentation.domain,
                    };
                    *field = Some(s.clone());
                }
                ("challenge" | "domain", _) if presentation => {
                    return Err(Problem::bad(format!("options.{k}"), "must be a string"))
                }
                _ => return Err(Problem::bad(format!("options.{k}"), "unknown option")),
            }
        }
        Ok(parsed)
    }
}

/// Reads a verification request: `{<member>, options}`.
async fn verification_request(
    headers: &HeaderMap,
    body: Body,
    member: &'static str,
) -> Result<(Value, VerifyOptions), Problem> {
    require_json(headers)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let mut req = parse_object(&bytes, "body")?;
    for key in req.keys() {
        if key != member && key != "options" {
            return Err(Problem::bad(
                key.clone(),
                format!("unknown member; expected `{member}` and `options`"),
            ));
        }
    }
    let options = VerifyOptions::parse(req.get("options"), member == "verifiablePresentation")?;
    match req.remove(member) {
        Some(v @ Value::Object(_)) => Ok((v, options)),
        Some(_) => Err(Problem::bad(member, "must be an object")),
        None => Err(Problem::bad(member, "missing")),
    }
}

/// 200 with the report when it holds, 400 with the same report when it
/// does not (the VC-API test suites' convention).
fn verdict_response(verdict: cairn_verifier::verification::Verdict, mut out: Value) -> Response {
    let verified = verdict == cairn_verifier::verification::Verdict::Valid;
    out["verified"] = json!(verified);
    let status = match verified {
        true => StatusCode::OK,
        false => StatusCode::BAD_REQUEST,
    };
    (status, axum::Json(out)).into_response()
}

/// `POST /credentials/verify` (VC-API): every check, by name.
async fn verify(
    State(node): State<Shared>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let _slot = node.clients.enter(client.ip())?;
    let (vc, options) = verification_request(&headers, body, "verifiableCredential").await?;
    let at = options.at;
    // The offline checks are CPU work for the pool; the chain's are reads
    // on the server's runtime.
    let verification = node
        .verification()
        .requiring_anchor(options.anchor_required);
    let offline = verification.clone();
    // A learner record's embedded credentials are CPU work too.
    let (mut report, embedded, vc) = node
        .pool
        .run_shared(move || async move {
            let report = offline.offline().verify_value(&vc, at).await;
            let embedded = offline.embedded_offline(&vc, at).await;
            (report, embedded, vc)
        })
        .await?;
    verification.check_anchor(&vc, None, &mut report).await;
    verification
        .finish_embedded(&vc, embedded, &mut report)
        .await;
    own_status(&node, &mut report);
    // Counted for the stored credential, under its own class: what the
    // caller posted says nothing about which class to count. A count never
    // turns a verdict into a failure.
    if let Some(id) = vc["id"].as_str() {
        if let Ok(Some(stored)) = node.store.credential(id) {
            node.count(Event::VerifyApi, &stored, tracked(&headers));
        }
    }
    let out = serde_json::to_value(&report).expect("a report serializes");
    Ok(verdict_response(report.verdict, out))
}

/// `POST /presentations/verify` (VC-API): the holder's proof, challenge
/// and domain, and every credential inside with all its checks.
async fn verify_presentation(
    State(node): State<Shared>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let _slot = node.clients.enter(client.ip())?;
    let (vp, options) = verification_request(&headers, body, "verifiablePresentation").await?;
    let verification = node
        .verification()
        .requiring_anchor(options.anchor_required);
    let offline = verification.clone();
    let (mut report, vp) = node
        .pool
        .run_shared(move || async move {
            let report = cairn_verifier::presentation::verify_offline(
                offline.offline(),
                &vp,
                &options.presentation,
                options.at,
            )
            .await;
            (report, vp)
        })
        .await?;
    verification.check_presented(&vp, &mut report).await;
    for credential in &mut report.credentials {
        own_status(&node, credential);
    }
    report.finish();
    let out = serde_json::to_value(&report).expect("a report serializes");
    Ok(verdict_response(report.verdict, out))
}

/// For a credential of this node's issuer that is not anchored yet, the
/// registry has no status to read: the node's own record answers the
/// `revocation` check instead.
fn own_status(node: &Node, report: &mut cairn_verifier::verification::Report) {
    use cairn_verifier::verification::Status;
    let (Some(id), Some(issuer)) = (&report.id, &report.issuer) else {
        return;
    };
    if *issuer != node.signer.profile().id
        || report.check("revocation").map(|c| c.status) != Some(Status::Absent)
    {
        return;
    }
    let status = match node.store.status(id) {
        Ok(Some(record)) => record.status,
        Ok(None) if node.store.contains(id).unwrap_or(false) => {
            crate::store::CredentialStatus::Active
        }
        _ => return,
    };
    let (status, detail) = match status {
        crate::store::CredentialStatus::Active => (
            Status::Pass,
            "active, by this node's record (the registry holds it once anchored)",
        ),
        crate::store::CredentialStatus::Revoked => (Status::Fail, "revoked, by this node's record"),
        crate::store::CredentialStatus::Suspended => {
            (Status::Fail, "suspended, by this node's record")
        }
    };
    report.checks.retain(|c| c.name != "revocation");
    report.add("revocation", status, detail);
}

/// `POST /credentials/status` (VC-API): `{credentialId, credentialStatus:
/// [{type, status}], reason?}` with status `revoked`, `suspended` or
/// `active`. Recorded at once; written to the registry in the next status
/// transaction.
async fn update_status(
    State(node): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<Value>, Problem> {
    use crate::store::CredentialStatus;
    {
        authorize_as(&node, &headers, Role::Issuer)?;
        require_json(&headers)?;
        let bytes = read_body(body, MAX_BODY).await?;
        let req = parse_object(&bytes, "body")?;
        for key in req.keys() {
            if !["credentialId", "credentialStatus", "reason"].contains(&key.as_str()) {
                return Err(Problem::bad(
                    key.clone(),
                    "unknown member; expected credentialId, credentialStatus, reason",
                ));
            }
        }
        let id = req
            .get("credentialId")
            .and_then(Value::as_str)
            .ok_or_else(|| Problem::bad("credentialId", "missing, or not a string"))?;
        let entry = match req.get("credentialStatus") {
            Some(Value::Array(list)) if list.len() == 1 => &list[0],
            _ => {
                return Err(Problem::bad(
                    "credentialStatus",
                    "expected an array of one {type, status} object",
                ))
            }
        };
        match entry.get("type").and_then(Value::as_str) {
            Some("BitstringStatusListCredential") => {}
            _ => {
                return Err(Problem::bad(
                    "credentialStatus[0].type",
                    "expected BitstringStatusListCredential",
                ))
            }
        }
        let status = match entry.get("status").and_then(Value::as_str) {
            Some("revoked") => CredentialStatus::Revoked,
            Some("suspended") => CredentialStatus::Suspended,
            Some("active") => CredentialStatus::Active,
            _ => {
                return Err(Problem::bad(
                    "credentialStatus[0].status",
                    "expected revoked, suspended or active",
                ))
            }
        };
        let reason = match req.get("reason") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) if r.len() <= 1000 => Some(r.clone()),
            Some(_) => return Err(Problem::bad("reason", "a string of at most 1000 bytes")),
        };
        let record = change_status(&node, id, status, reason)?;
        Ok(axum::Json(status_json(id, &record)))
    }
}

/// Sets `id`'s status (the status writer puts it on chain).
fn change_status(
    node: &Node,
    id: &str,
    status: crate::store::CredentialStatus,
    reason: Option<String>,
) -> Result<crate::store::StatusRecord, Problem> {
    use crate::store::{StatusChange, StoreError};
    let change = StatusChange {
        status,
        reason,
        at: chrono::Utc::now().timestamp(),
    };
    let record = node.store.set_status(id, change).map_err(|e| match e {
        StoreError::NoCredential(_) => unknown_credential(id).field("credentialId"),
        StoreError::RevocationIsFinal(_) => Problem::new(
            StatusCode::CONFLICT,
            "revocation-is-final",
            format!("{id} is revoked; revocation cannot be undone"),
        )
        .field("credentialStatus[0].status"),
        other => other.into(),
    })?;
    node.parts.status_wake.notify_one();
    Ok(record)
}

fn status_json(id: &str, record: &crate::store::StatusRecord) -> Value {
    json!({
        "credentialId": id,
        "status": record.status,
        "onChain": if record.transaction.is_some() { "confirmed" } else { "pending" },
        "transaction": record.transaction,
        "history": record.history,
    })
}

/// `GET /credentials/{id}/status`: the issuer's latest word and whether the
/// chain shows it yet.
async fn credential_status(
    State(node): State<Shared>,
    Param(id): Param,
) -> Result<axum::Json<Value>, Problem> {
    match node.store.status(&id)? {
        Some(record) => Ok(axum::Json(status_json(&id, &record))),
        None if node.store.contains(&id)? => Ok(axum::Json(json!({
            "credentialId": id, "status": "active", "onChain": "confirmed", "history": [],
        }))),
        None => Err(unknown_credential(&id)),
    }
}

/// `GET /status-lists/{id}` (`revocation-1`, `suspension-1`, ...): the
/// issuer's signed Bitstring Status List credential.
async fn status_list(
    State(node): State<Shared>,
    Param(id): Param,
) -> Result<axum::Json<Value>, Problem> {
    let unknown = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-status-list",
            format!("no status list {id}"),
        )
        .field("id")
    };
    let (list, purpose) = cairn_verifier::statuslist::parse_list_name(&id).ok_or_else(unknown)?;
    node.status_list(list, purpose)
        .await?
        .map(axum::Json)
        .ok_or_else(unknown)
}

/// `GET /credentials/{id}/bundle`: the credential with the anchor's
/// receipt, block header and receipt proof, for verifying with no network.
async fn bundle(
    State(node): State<Shared>,
    headers: HeaderMap,
    Param(id): Param,
) -> Result<axum::Json<Value>, Problem> {
    match node.bundle(&id).await? {
        Some(b) => {
            node.count(
                Event::DownloadBundle,
                &b["verifiableCredential"],
                tracked(&headers),
            );
            Ok(axum::Json(b))
        }
        None if node.store.contains(&id)? => Err(Problem::new(
            StatusCode::CONFLICT,
            "not-anchored",
            format!("{id} is not anchored yet; its bundle exists once it is"),
        )
        .field("id")),
        None => Err(unknown_credential(&id)),
    }
}

/// `POST /credentials/{id}/renew` with an optional `{"validFrom",
/// "validUntil"}`: a new credential for the same earner and achievement,
/// naming the one it renews; the old one stays as it is. A revoked
/// credential is not renewed.
async fn renew(
    State(node): State<Shared>,
    headers: HeaderMap,
    Param(id): Param,
    body: Body,
) -> Result<Response, Problem> {
    authorize_as(&node, &headers, Role::Issuer)?;
    let bytes = read_body(body, 4096).await?;
    let body = match bytes.iter().all(u8::is_ascii_whitespace) {
        true => Map::new(),
        false => {
            require_json(&headers)?;
            parse_object(&bytes, "body")?
        }
    };
    if let Some(other) = body
        .keys()
        .find(|k| !["validFrom", "validUntil"].contains(&k.as_str()))
    {
        return Err(Problem::bad(
            other.clone(),
            "unknown member: expected validFrom, validUntil",
        ));
    }
    let time =
        |name: &str, end_of_day: bool| -> Result<Option<chrono::DateTime<chrono::Utc>>, Problem> {
            match body.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => cairn_verifier::credential::parse_time(s, end_of_day)
                    .map(Some)
                    .map_err(|e| Problem::bad(name.to_owned(), e)),
                Some(_) => Err(Problem::bad(
                    name.to_owned(),
                    "must be a date or date-time string",
                )),
            }
        };
    let (from, until) = (time("validFrom", false)?, time("validUntil", true)?);
    let vc = renew_credential(&node, &id, from, until).await?;
    let location = format!(
        "/credentials/{}",
        cairn_verifier::credential::path_segment(vc["id"].as_str().unwrap_or(""))
    );
    let share_url = node.share_url(vc["id"].as_str().unwrap_or(""));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(json!({"verifiableCredential": vc, "shareUrl": share_url, "renews": id})),
    )
        .into_response())
}

/// Issues the renewal of `id` (validity from `from` to `until`, else as
/// the class or the old credential says); the old one stays as it is.
async fn renew_credential(
    node: &Shared,
    id: &str,
    from: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Value, Problem> {
    // The node's own documents (status lists) are stored as credentials
    // under its URL; they are not anyone's to renew.
    if !node.store.contains(id)? || id.starts_with(&format!("{}/", node.base_url())) {
        return Err(unknown_credential(id));
    }
    if node
        .store
        .status(id)?
        .is_some_and(|r| r.status == crate::store::CredentialStatus::Revoked)
    {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "revoked",
            format!("{id} is revoked: a revoked credential is not renewed"),
        )
        .field("id"));
    }
    let unsigned = node
        .renewal(id, from, until)?
        .ok_or_else(|| unknown_credential(id))?;
    match node
        .issue(
            unsigned,
            None,
            Beside {
                contact: node.store.contact(id)?,
                ..Beside::default()
            },
        )
        .await
        .map_err(|e| issue_problem(e, ""))?
    {
        Issued::New(vc, _) | Issued::Replayed(vc) => Ok(vc),
    }
}

/// `POST /endorsements`: an Open Badges 3.0 `EndorsementCredential` about
/// an achievement or profile (this issuer's or another's), issued and
/// anchored like any credential; the badge pages of what it endorses show
/// it.
async fn endorse(
    State(node): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    authorize_as(&node, &headers, Role::Admin)?;
    require_json(&headers)?;
    let body = parse_object(&read_body(body, MAX_BODY).await?, "body")?;
    let unsigned = crate::achievements::endorsement_from(body)
        .map_err(|e| Problem::bad(e.field.clone(), e.reason.clone()))?;
    let vc = match node
        .issue(unsigned, None, Beside::default())
        .await
        .map_err(|e| issue_problem(e, ""))?
    {
        Issued::New(vc, _) | Issued::Replayed(vc) => vc,
    };
    let id = vc["id"].as_str().unwrap_or("").to_owned();
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!(
                "/credentials/{}",
                cairn_verifier::credential::path_segment(&id)
            ),
        )],
        axum::Json(json!({"verifiableCredential": vc, "shareUrl": node.share_url(&id)})),
    )
        .into_response())
}

// --- Analytics ---------------------------------------------------------------

/// Days a report covers at most.
const MAX_REPORT_DAYS: i32 = 366;

/// A report's days and badge class from `from`, `to` (`YYYY-MM-DD`, the
/// last 30 days by default) and `achievement` (a class by handle, URL or
/// version id).
fn report_range(
    node: &Node,
    from: Option<&str>,
    to: Option<&str>,
    achievement: Option<&str>,
) -> Result<(i32, i32, Option<String>), Problem> {
    use crate::analytics::{day_of, parse_day};
    let day = |name: &'static str, v: Option<&str>| {
        v.filter(|s| !s.is_empty())
            .map(|s| parse_day(s).ok_or_else(|| Problem::bad(name, "expected a date, YYYY-MM-DD")))
            .transpose()
    };
    let to = day("to", to)?.unwrap_or_else(|| day_of(chrono::Utc::now().timestamp()));
    let from = day("from", from)?.unwrap_or(to - 29);
    if from > to {
        return Err(Problem::bad("from", "is after `to`"));
    }
    if to - from >= MAX_REPORT_DAYS {
        return Err(Problem::bad(
            "from",
            format!("a report covers at most {MAX_REPORT_DAYS} days"),
        ));
    }
    let handle = match achievement.filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(class_param(node, a)?),
    };
    Ok((from, to, handle))
}

/// The handle of the class an `achievement` parameter names (by handle,
/// class URL or version id: every version counts).
fn class_param(node: &Node, reference: &str) -> Result<String, Problem> {
    match node.class(reference) {
        Ok((record, _)) => Ok(record.handle),
        Err(ClassError::Unknown(_)) => Err(Problem::bad(
            "achievement",
            format!("no badge class `{reference}` on this node"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The analytics report of days `from..=to`, of one class or all.
fn report(
    node: &Node,
    from: i32,
    to: i32,
    handle: Option<String>,
) -> Result<crate::analytics::Report, Problem> {
    let rows = node.counts(from, to, handle.as_deref())?;
    let names = class_names(node)?
        .into_iter()
        .map(|(record, name)| (record.handle, name))
        .collect();
    Ok(crate::analytics::Report::new(
        from, to, handle, &rows, &names,
    ))
}

/// Every badge class with its name (in English when it has several).
fn class_names(node: &Node) -> Result<Vec<(ClassRecord, String)>, Problem> {
    Ok(node
        .classes()?
        .into_iter()
        .map(|(record, version)| {
            let name =
                crate::published::text_in(&version.view(&record)["name"], "en").unwrap_or_default();
            (record, name)
        })
        .collect())
}

/// The analytics CSV of days `from..=to`, of one class or all.
fn analytics_csv(
    node: &Node,
    from: i32,
    to: i32,
    handle: Option<&str>,
) -> Result<Response, Problem> {
    let rows = node.counts(from, to, handle)?;
    Ok(csv_response(
        crate::analytics::csv(&rows),
        &format!(
            "analytics-{}-{}.csv",
            crate::analytics::day_name(from),
            crate::analytics::day_name(to)
        ),
    ))
}

/// `GET /analytics?from=YYYY-MM-DD&to=YYYY-MM-DD&achievement=ID`: badge
/// page views, verifications, downloads, shares and wallet claims by day,
/// per badge class and per credential; CSV with `format=csv` or `Accept:
/// text/csv`.
async fn analytics(
    State(node): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, Problem> {
    authorize(&node, &headers)?;
    const PARAMS: [&str; 4] = ["from", "to", "achievement", "format"];
    if let Some(k) = q.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(Problem::bad(
            k.clone(),
            format!("unknown parameter; expected {}", PARAMS.join(", ")),
        ));
    }
    let (from, to, handle) = report_range(
        &node,
        q.get("from").map(String::as_str),
        q.get("to").map(String::as_str),
        q.get("achievement").map(String::as_str),
    )?;
    let csv = match q.get("format").map(String::as_str) {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => return Err(Problem::bad("format", "expected json or csv")),
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv")),
    };
    if csv {
        return analytics_csv(&node, from, to, handle.as_deref());
    }
    Ok(axum::Json(report(&node, from, to, handle)?).into_response())
}

/// A CSV download.
fn csv_response(text: String, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        text,
    )
        .into_response()
}

// --- Badge pages, the verify page ------------------------------------------

/// A credential's badge page as its issuer sees it.
fn page_view(node: &Node, id: &str) -> Result<Value, Problem> {
    if !node.store.contains(id)? {
        return Err(unknown_credential(id));
    }
    Ok(json!({
        "credentialId": id,
        "shareUrl": node.share_url(id),
        "private": node.store.is_private(id)?,
    }))
}

/// `GET /credentials/{id}/page`: the badge page's address and whether it
/// is private.
async fn page_settings(
    State(node): State<Shared>,
    headers: HeaderMap,
    Param(id): Param,
) -> Result<axum::Json<Value>, Problem> {
    authorize(&node, &headers)?;
    Ok(axum::Json(page_view(&node, &id)?))
}

/// `PUT /credentials/{id}/page` with `{"private": true|false}`: a private
/// page answers 404 to everyone (and `export-site` leaves it out).
async fn set_page_settings(
    State(node): State<Shared>,
    headers: HeaderMap,
    Param(id): Param,
    body: Body,
) -> Result<axum::Json<Value>, Problem> {
    authorize_as(&node, &headers, Role::Issuer)?;
    require_json(&headers)?;
    let body = parse_object(&read_body(body, 4096).await?, "body")?;
    if let Some(other) = body.keys().find(|k| *k != "private") {
        return Err(Problem::bad(
            other.clone(),
            "unknown member: only `private` can be set",
        ));
    }
    let private = match body.get("private") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Problem::bad("private", "expected true or false")),
        None => return Err(Problem::bad("private", "missing")),
    };
    if !node.store.contains(&id)? {
        return Err(unknown_credential(&id));
    }
    node.store.set_private(&id, private)?;
    Ok(axum::Json(page_view(&node, &id)?))
}

fn unknown_page() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "unknown-page", "no such badge page").field("share")
}

fn html(page: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // The page's own code and nothing else: its data is inert JSON,
            // and it reads only the chain's JSON-RPC (any origin: the
            // reader's choice of node is published by the issuer).
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors *",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page,
    )
        .into_response()
}

/// `GET /b/{share}`: a credential's public badge page.
async fn badge_page(
    State(node): State<Shared>,
    headers: HeaderMap,
    Param(share): Param,
) -> Result<Response, Problem> {
    let page = node.badge_page(&share)?.ok_or_else(unknown_page)?;
    if let crate::published::PageData::Badge { credential, .. } = &page.data {
        node.count(Event::PageView, credential, tracked(&headers));
    }
    Ok(html(crate::pages::render(&page.data, &page.head)))
}

/// Whether the reader lets itself be counted per credential: not when it
/// sends `DNT: 1` or `Sec-GPC: 1`.
fn tracked(headers: &HeaderMap) -> bool {
    !["dnt", "sec-gpc"].iter().any(|h| {
        headers
            .get(*h)
            .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
    })
}

/// `GET /events?share=…&event=verified|linkedin|copy-link`: what a badge
/// page's reader did there (its verification ran, a share button was
/// used), counted as `GET /b/{share}` is. A GET, answered 204, so that the
/// same call on an exported site, which serves an empty `events` file,
/// fails nowhere.
async fn page_event(
    State(node): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, Problem> {
    let event = match q.get("event").map(String::as_str) {
        Some("verified") => Event::VerifyInPage,
        Some("linkedin") => Event::ShareLinkedIn,
        Some("copy-link") => Event::ShareCopyLink,
        _ => {
            return Err(Problem::bad(
                "event",
                "expected verified, linkedin or copy-link",
            ))
        }
    };
    let share = q
        .get("share")
        .ok_or_else(|| Problem::bad("share", "missing: the badge page's share id"))?;
    let id = crate::published::published_id(&node.store, node.base_url(), share)?
        .ok_or_else(unknown_page)?;
    let vc = node.store.credential(&id)?.ok_or_else(unknown_page)?;
    node.count(event, &vc, tracked(&headers));
    Ok((
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "no-store")],
    )
        .into_response())
}

/// `GET /b/{share}/{file}`: the page's downloads (`badge.png`, `badge.svg`,
/// `credential.json`, `bundle.json`), at the same paths as in an exported
/// site.
async fn badge_page_file(
    State(node): State<Shared>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<Response, Problem> {
    let Path((share, file)) = path.map_err(|e| Problem::bad("path", e.body_text()))?;
    // The page's own picture and its link preview (`og:image`, which
    // LinkedIn's and others' crawlers fetch when the link is shared) ask
    // with `?preview`: shown, not downloaded.
    let shown = shown(query.as_deref(), &headers);
    // The file alone: no page rendered to find it.
    let id = crate::published::published_id(&node.store, node.base_url(), &share)?
        .ok_or_else(unknown_page)?;
    match file.as_str() {
        "credential.json" => {
            let vc = node.current_form(&id)?.ok_or_else(unknown_page)?;
            node.count(Event::DownloadJson, &vc, tracked(&headers));
            Ok(axum::Json(vc).into_response())
        }
        "bundle.json" => {
            let _slot = node.clients.enter(client.ip())?;
            match node.bundle(&id).await? {
                Some(b) => {
                    node.count(
                        Event::DownloadBundle,
                        &b["verifiableCredential"],
                        tracked(&headers),
                    );
                    Ok(axum::Json(b).into_response())
                }
                None => Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    "not-anchored",
                    "this credential is not anchored yet; its bundle exists once it is",
                )),
            }
        }
        "badge.png" => baked(node, client, &headers, id, ImageKind::Png, shown).await,
        "badge.svg" => baked(node, client, &headers, id, ImageKind::Svg, shown).await,
        _ => Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "no such file").field("file")),
    }
}

/// `GET /verify`: check a credential, a baked badge or a proof bundle in
/// the browser, against the published chain nodes; nothing is uploaded.
async fn verify_page(State(node): State<Shared>) -> Response {
    let data = crate::published::PageData::Verify {
        chain: node.site().chain,
    };
    let mut head = crate::pages::verify_head();
    head.url = format!("{}/verify", node.base_url());
    html(crate::pages::render(&data, &head))
}

/// `GET /assets/{file}`: the pages' code and style, cached for good (their
/// URLs carry their version).
async fn asset(Param(file): Param, headers: HeaderMap) -> Result<Response, Problem> {
    let (kind, asset) = match file.as_str() {
        "cairn.js" => ("text/javascript; charset=utf-8", &*crate::pages::JS),
        "cairn.css" => ("text/css; charset=utf-8", &*crate::pages::CSS),
        "console.js" => (
            "text/javascript; charset=utf-8",
            &*crate::pages::CONSOLE_SCRIPT,
        ),
        "console.css" => ("text/css; charset=utf-8", &*crate::pages::CONSOLE_STYLE),
        _ => {
            return Err(
                Problem::new(StatusCode::NOT_FOUND, "not-found", "no such asset").field("file"),
            )
        }
    };
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case("gzip"))
                && !parts.any(|p| p.replace(' ', "") == "q=0")
        });
    let mut response = (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::VARY, "accept-encoding"),
        ],
        Body::from(match gzip {
            true => asset.gzipped.as_slice(),
            false => asset.plain,
        }),
    )
        .into_response();
    if gzip {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

// --- Badge classes, the issuer profile, baked badges ----------------------

impl From<ClassError> for Problem {
    fn from(e: ClassError) -> Self {
        class_problem(e)
    }
}

fn class_problem(e: ClassError) -> Problem {
    match e {
        ClassError::Field(f) => {
            let field = if f.field.is_empty() {
                "body".to_owned()
            } else {
                f.field
            };
            Problem::bad(field, f.reason)
        }
        ClassError::Unknown(r) => Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-achievement",
            format!("no badge class {r}"),
        )
        .field("id"),
        e @ ClassError::Retired(_) => {
            Problem::new(StatusCode::CONFLICT, "achievement-retired", e.to_string()).field("id")
        }
        ClassError::Conflict(m) => {
            Problem::new(StatusCode::CONFLICT, "achievement-changed", m).field("version")
        }
        ClassError::Busy(e) => e.into(),
        ClassError::Store(e) => e.into(),
    }
}

/// A certification's problems: the earner is the path's `id`, the class
/// `achievement`.
fn certification_problem(e: ClassError) -> Problem {
    match e {
        ClassError::Field(f) if f.field == "id" => Problem::bad("id", f.reason),
        ClassError::Field(f) => Problem::bad("achievement", f.reason),
        ClassError::Unknown(r) => Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-achievement",
            format!("no badge class {r}"),
        )
        .field("achievement"),
        other => class_problem(other),
    }
}

/// `GET /earners/{id}/progress?achievement=ID`: where an earner (a DID or
/// an email address) stands against a certification's requirements:
/// credits per category, what is missing, when the window closes, and
/// which of their credentials count and which do not, and why.
async fn earner_progress(
    State(node): State<Shared>,
    headers: HeaderMap,
    Param(id): Param,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<axum::Json<Value>, Problem> {
    authorize(&node, &headers)?;
    if let Some(k) = q.keys().find(|k| k.as_str() != "achievement") {
        return Err(Problem::bad(
            k.clone(),
            "unknown parameter; expected achievement",
        ));
    }
    let achievement = q
        .get("achievement")
        .ok_or_else(|| Problem::bad("achievement", "missing: the certification's badge class"))?;
    let progress = node
        .progress(&id, achievement)
        .await
        .map_err(certification_problem)?;
    Ok(axum::Json(
        serde_json::to_value(progress).expect("progress serializes"),
    ))
}

/// `POST /earners/{id}/certifications` with `{"achievement": ID}`: issues
/// (or renews) the certification once the earner meets its requirements,
/// with the CLR 2.0 `ClrCredential` that embeds the credentials counted.
/// 409 `requirements-not-met` carries the earner's `progress`.
async fn certify(
    State(node): State<Shared>,
    headers: HeaderMap,
    Param(id): Param,
    body: Body,
) -> Result<Response, Problem> {
    authorize_as(&node, &headers, Role::Issuer)?;
    require_json(&headers)?;
    let bytes = read_body(body, 4096).await?;
    let body = parse_object(&bytes, "body")?;
    if let Some(other) = body.keys().find(|k| k.as_str() != "achievement") {
        return Err(Problem::bad(
            other.clone(),
            "unknown member: expected achievement",
        ));
    }
    let Some(Value::String(achievement)) = body.get("achievement") else {
        return Err(Problem::bad(
            "achievement",
            "missing, or not a badge class id",
        ));
    };
    let certified = node.certify(&id, achievement).await.map_err(|e| match e {
        crate::node::CertifyError::Class(e) => certification_problem(e),
        crate::node::CertifyError::NotMet(progress) => Problem::new(
            StatusCode::CONFLICT,
            "requirements-not-met",
            format!(
                "{id} does not meet the requirements of {achievement} yet: {} credits missing{}",
                progress.missing.credits,
                progress
                    .missing
                    .categories
                    .iter()
                    .map(|(c, n)| format!(", {n} in {c}"))
                    .collect::<String>()
            ),
        )
        .field("id")
        .with(
            "progress",
            serde_json::to_value(&progress).expect("progress serializes"),
        ),
        crate::node::CertifyError::Issue(e) => issue_problem(e, ""),
    })?;
    let cert_id = certified.certification["id"].as_str().unwrap_or("");
    let location = format!(
        "/credentials/{}",
        cairn_verifier::credential::path_segment(cert_id)
    );
    let share_url = node.share_url(cert_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(json!({
            "verifiableCredential": certified.certification,
            "clrCredential": certified.record,
            "shareUrl": share_url,
        })),
    )
        .into_response())
}

/// A badge class's body: an image in a `data:` URL makes it larger than
/// other requests.
const MAX_CLASS_BODY: usize = 2 * cairn_verifier::image::MAX_IMAGE_BYTES;

fn class_response(status: StatusCode, record: &ClassRecord, version: &ClassVersion) -> Response {
    let location = format!("/achievements/{}", record.handle);
    let content_location = format!("/achievements/{}-v{}", record.handle, record.version);
    (
        status,
        [
            (header::LOCATION, location),
            (header::CONTENT_LOCATION, content_location),
        ],
        axum::Json(version.view(record)),
    )
        .into_response()
}

async fn class_body(
    node: &Node,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, Problem> {
    authorize_as(node, headers, Role::Admin)?;
    require_json(headers)?;
    let bytes = read_body(body, MAX_CLASS_BODY).await?;
    parse_object(&bytes, "body")
}

/// `POST /achievements`: a new badge class.
async fn create_achievement(
    State(node): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let body = class_body(&node, &headers, body).await?;
    let (record, version) = node.create_class(body).await?;
    Ok(class_response(StatusCode::CREATED, &record, &version))
}

/// `GET /achievements`: every badge class, retired ones included.
async fn list_achievements(State(node): State<Shared>) -> Result<axum::Json<Value>, Problem> {
    let classes: Vec<Value> = node
        .classes()?
        .iter()
        .map(|(record, version)| version.view(record))
        .collect();
    Ok(axum::Json(json!({"achievements": classes})))
}

/// `GET /achievements/{id}`: the class at its current version; or, for a
/// version's id (`{handle}-v{n}`), what that id names: the achievement
/// exactly as credentials issued under it embed it.
async fn achievement(State(node): State<Shared>, Param(id): Param) -> Result<Response, Problem> {
    let (record, version) = node.class(&id)?;
    let names_version = crate::achievements::parse_reference(&id, node.base_url())
        .is_some_and(|(_, n)| n.is_some());
    Ok(match names_version {
        true => axum::Json(version.document()).into_response(),
        false => class_response(StatusCode::OK, &record, &version),
    })
}

/// `PUT /achievements/{id}`: a new version of the class.
async fn update_achievement(
    State(node): State<Shared>,
    Param(id): Param,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let body = class_body(&node, &headers, body).await?;
    let (record, version) = node.update_class(&id, body).await?;
    Ok(class_response(StatusCode::OK, &record, &version))
}

/// `DELETE /achievements/{id}`: retires the class.
async fn retire_achievement(
    State(node): State<Shared>,
    Param(id): Param,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    authorize_as(&node, &headers, Role::Admin)?;
    let (record, version) = node.retire_class(&id).await?;
    Ok(class_response(StatusCode::OK, &record, &version))
}

/// Serves an image the node holds, with headers that keep an SVG from
/// doing anything but being drawn.
fn image_response(kind: ImageKind, bytes: Vec<u8>, filename: Option<String>) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, kind.media_type().to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response();
    if let Some(name) = filename {
        if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, v);
        }
    }
    response
}

fn no_image(what: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no-image",
        format!("the node holds no image for {what}"),
    )
}

async fn class_image(node: &Node, reference: &str) -> Result<Response, Problem> {
    let (_, version) = node.class(reference)?;
    let held = version.image.ok_or_else(|| no_image(reference))?;
    let bytes = node.held_image(&held)?.ok_or_else(|| no_image(reference))?;
    Ok(image_response(held.kind, bytes, None))
}

/// `GET /achievements/{id}/image`: the current version's image, or the
/// named version's.
async fn achievement_image(
    State(node): State<Shared>,
    Param(id): Param,
) -> Result<Response, Problem> {
    class_image(&node, &id).await
}

/// `GET /issuer`: the issuer's OB 3.0 Profile.
async fn issuer_profile(State(node): State<Shared>) -> Result<axum::Json<Value>, Problem> {
    Ok(axum::Json(node.profile_document()?))
}

/// `PUT /issuer`: replaces the issuer profile.
async fn set_issuer_profile(
    State(node): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<Value>, Problem> {
    let body = class_body(&node, &headers, body).await?;
    Ok(axum::Json(node.set_profile(body).await?))
}

/// `GET /issuer/image`
async fn issuer_image(State(node): State<Shared>) -> Result<Response, Problem> {
    let (kind, bytes) = node
        .profile_image()?
        .ok_or_else(|| no_image("the issuer"))?;
    Ok(image_response(kind, bytes, None))
}

/// Whether a badge image was fetched to be shown, not downloaded: asked
/// for with `?preview`, or by a browser for an `<img>` (`Sec-Fetch-Dest:
/// image`).
fn shown(query: Option<&str>, headers: &HeaderMap) -> bool {
    query == Some(crate::published::PREVIEW)
        || headers
            .get("sec-fetch-dest")
            .is_some_and(|d| d.as_bytes() == b"image")
}

/// The credential's badge image, baked; counted as a download unless it
/// was fetched to be `shown`.
async fn baked(
    node: Shared,
    client: std::net::SocketAddr,
    headers: &HeaderMap,
    id: String,
    want: ImageKind,
    shown: bool,
) -> Result<Response, Problem> {
    let _slot = node.clients.enter(client.ip())?;
    let vc = node
        .current_form(&id)?
        .ok_or_else(|| unknown_credential(&id))?;
    let (held, image) = node.credential_image(&vc)?.ok_or_else(|| {
        no_image(&format!(
            "credential {id} (its achievement is not a badge class of this node with an image)"
        ))
    })?;
    if held.kind != want {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "no-image",
            format!(
                "this badge's image is {}: ask for badge.{}",
                held.kind.media_type(),
                held.kind.extension()
            ),
        ));
    }
    // Microseconds: the class image was checked when it was uploaded, so
    // baking only splices (docs/performance.md).
    let baked = cairn_verifier::image::bake_checked(&image, &vc)
        .map_err(|e| Problem::internal(format!("baking: {e}")))?;
    if !shown {
        let event = match want {
            ImageKind::Png => Event::DownloadPng,
            ImageKind::Svg => Event::DownloadSvg,
        };
        node.count(event, &vc, tracked(headers));
    }
    let stem: String = id
        .rsplit(':')
        .next()
        .unwrap_or("badge")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    Ok(image_response(
        want,
        baked,
        Some(format!("badge-{stem}.{}", want.extension())),
    ))
}

/// `GET /credentials/{id}/badge.png`: the class image with the credential
/// (and its anchor proof, once anchored) baked in.
async fn baked_png(
    State(node): State<Shared>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    Param(id): Param,
) -> Result<Response, Problem> {
    let shown = shown(query.as_deref(), &headers);
    baked(node, client, &headers, id, ImageKind::Png, shown).await
}

/// `GET /credentials/{id}/badge.svg`
async fn baked_svg(
    State(node): State<Shared>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    Param(id): Param,
) -> Result<Response, Problem> {
    let shown = shown(query.as_deref(), &headers);
    baked(node, client, &headers, id, ImageKind::Svg, shown).await
}

fn unknown_credential(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "unknown-credential",
        format!("no credential {id}"),
    )
    .field("id")
}

/// `GET /credentials/{id}`: the newest form, with its anchor proof once
/// anchored.
async fn credential(
    State(node): State<Shared>,
    Param(id): Param,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let vc = node
        .current_form(&id)?
        .ok_or_else(|| unknown_credential(&id))?;
    // The credential's body is the signed document itself, so its badge
    // page is named beside it, in a link (`GET /credentials/{id}/page` too),
    // and, to the issuer alone, its claim link (`GET /credentials/{id}/award`).
    let mut link = format!(
        "<{}>; rel=\"alternate\"; type=\"text/html\"",
        node.share_url(&id)
    );
    if headers.contains_key(header::AUTHORIZATION) && authorize(&node, &headers).is_ok() {
        if let Some(award) = node.store.award(&id)? {
            link.push_str(&format!(
                ", <{}>; rel=\"claim\"",
                wallets::claim_url(&node, &award)
            ));
        }
    }
    let mut response = axum::Json(vc).into_response();
    if let Ok(v) = HeaderValue::from_str(&link) {
        response.headers_mut().insert(header::LINK, v);
    }
    Ok(response)
}

/// `GET /credentials/{id}/refresh` (1EdTech's `1EdTechCredentialRefresh`):
/// the credential's current version: its newest renewal if renewed, else
/// itself as it stands (with its anchor proof once anchored).
async fn refresh(State(node): State<Shared>, Param(id): Param) -> Result<Response, Problem> {
    let vc = node
        .current_version(&id)?
        .ok_or_else(|| unknown_credential(&id))?;
    Ok(axum::Json(vc).into_response())
}

/// `GET /revocations` (1EdTech's `1EdTechRevocationList`): every credential
/// this issuer revoked, for displayers that know no other status type.
async fn revocations(State(node): State<Shared>) -> Result<Response, Problem> {
    let list = node.revocation_list()?;
    let mut response = axum::Json(list).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    Ok(response)
}

/// `GET /credentials/{id}/proof`: where the credential stands (queued,
/// sealed, anchored), with its inclusion proof, anchor and confirmations.
async fn proof(State(node): State<Shared>, Param(id): Param) -> Result<axum::Json<Value>, Problem> {
    let Some(placement) = node.store.placement(&id)? else {
        return match node.store.contains(&id)? {
            true => Ok(axum::Json(json!({"credentialId": id, "status": "queued"}))),
            false => Err(unknown_credential(&id)),
        };
    };
    let record = &placement.record;
    let mut out = json!({
        "credentialId": id,
        "status": "sealed",
        "batch": {"number": record.number, "root": hex::encode(record.root), "leafCount": record.leaf_count},
        "inclusionProof": placement.inclusion,
    });
    if let Some(anchor) = record.anchor() {
        out["status"] = json!("anchored");
        out["anchor"] = json!(anchor);
        let head = node.head();
        out["confirmations"] = json!((head + 1).saturating_sub(anchor.block_number).max(1));
    }
    Ok(axum::Json(out))
}

struct BatchQuery {
    state: Option<String>,
    from: Option<String>,
    limit: Option<String>,
}

/// `GET /credentials?expiring-before=DATE[&expiring-after=DATE]
/// [&achievement=ID][&limit=N]`: what runs out, soonest first, for the
/// issuer (a token is needed: it names earners).
async fn list_credentials(
    State(node): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<axum::Json<Value>, Problem> {
    authorize(&node, &headers)?;
    const PARAMS: [&str; 4] = ["expiring-before", "expiring-after", "achievement", "limit"];
    if let Some(k) = q.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(Problem::bad(
            k.clone(),
            format!("unknown parameter; expected {}", PARAMS.join(", ")),
        ));
    }
    let time = |name: &str, end_of_day: bool| -> Result<Option<i64>, Problem> {
        q.get(name)
            .map(|s| {
                cairn_verifier::credential::parse_time(s, end_of_day)
                    .map(|t| t.timestamp())
                    .map_err(|e| Problem::bad(name.to_owned(), e))
            })
            .transpose()
    };
    let before = time("expiring-before", false)?.ok_or_else(|| {
        Problem::bad(
            "expiring-before",
            "missing: a date (YYYY-MM-DD) or RFC 3339 date-time",
        )
    })?;
    let after = time("expiring-after", false)?.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let limit = match q.get("limit").map(|s| s.parse::<usize>()) {
        None => 100,
        Some(Ok(n @ 1..=1000)) => n,
        Some(_) => return Err(Problem::bad("limit", "must be between 1 and 1000")),
    };
    // A class by handle, class URL or version id: every version counts.
    let class = match q.get("achievement") {
        None => None,
        Some(a) => Some(class_param(&node, a)?),
    };
    let achievement_of = |vc: &Value| {
        vc["credentialSubject"]["achievement"]["id"]
            .as_str()
            .map(str::to_owned)
    };
    let found = node.store.expiring(after, before, limit, |id| {
        let Some(handle) = &class else {
            return Ok(true);
        };
        let vc = node.store.credential(id)?.unwrap_or_default();
        Ok(achievement_of(&vc)
            .and_then(|a| crate::achievements::parse_reference(&a, node.base_url()))
            .is_some_and(|(h, _)| &h == handle))
    })?;
    let mut credentials = Vec::with_capacity(found.len());
    for (until, id) in found {
        let vc = node.store.credential(&id)?.unwrap_or_default();
        let status = node
            .store
            .status(&id)?
            .map_or(json!("active"), |r| json!(r.status));
        credentials.push(json!({
            "id": id,
            "validUntil": vc.get("validUntil").or_else(|| vc.get("expirationDate")).cloned()
                .unwrap_or_else(|| json!(cairn_verifier::credential::fmt_time(
                    chrono::DateTime::from_timestamp(until, 0).unwrap_or_default()))),
            "achievement": achievement_of(&vc),
            "status": status,
            "shareUrl": node.share_url(&id),
        }));
    }
    Ok(axum::Json(json!({ "credentials": credentials })))
}

/// `GET /batches?state=sealed|anchored&from=N&limit=N`
async fn batches(
    State(node): State<Shared>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<axum::Json<Value>, Problem> {
    {
        for k in q.keys() {
            if !["state", "from", "limit"].contains(&k.as_str()) {
                return Err(Problem::bad(
                    k.clone(),
                    "unknown parameter; expected state, from, limit",
                ));
            }
        }
        let q = BatchQuery {
            state: q.get("state").cloned(),
            from: q.get("from").cloned(),
            limit: q.get("limit").cloned(),
        };
        let filter = match q.state.as_deref() {
            None | Some("any") => StateFilter::Any,
            Some("sealed") => StateFilter::Sealed,
            Some("anchored") => StateFilter::Anchored,
            Some(other) => {
                return Err(Problem::bad(
                    "state",
                    format!("`{other}`: expected sealed, anchored or any"),
                ))
            }
        };
        let from = match q.from.as_deref() {
            None => 0,
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| Problem::bad("from", "must be a batch number"))?,
        };
        let limit = match q.limit.as_deref() {
            None => 100,
            Some(s) => match s.parse::<usize>() {
                Ok(n @ 1..=1000) => n,
                _ => return Err(Problem::bad("limit", "must be between 1 and 1000")),
            },
        };
        let list = node.store.list_batches(filter, from, limit)?;
        Ok(axum::Json(json!({"batches": list})))
    }
}

/// `GET /batches/{root}` (hex, with or without 0x).
async fn batch(State(node): State<Shared>, Param(root): Param) -> Result<Response, Problem> {
    let hex_root = root.strip_prefix("0x").unwrap_or(&root);
    let parsed = hex::decode(hex_root)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| Problem::bad("root", "must be 32 bytes in hex"))?;
    match node.store.batch_by_root(&parsed)? {
        Some(b) => Ok(axum::Json(b).into_response()),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-batch",
            format!("no batch with root {hex_root}"),
        )
        .field("root")),
    }
}

/// `GET /health`
async fn health(State(node): State<Shared>) -> Response {
    let chain = node.chain.get().map(|c| {
        json!({"chain": c.chain, "registry": c.registry.to_checksum(None),
               "account": c.account.to_checksum(None), "dev": c.dev, "head": node.head(),
               "anchoring": node.parts.anchoring()})
    });
    // A store that cannot write makes the node unready (503) for load
    // balancers, and says why.
    let store_error = node.store.write_error();
    let status = match store_error {
        Some(_) => StatusCode::SERVICE_UNAVAILABLE,
        None => StatusCode::OK,
    };
    (
        status,
        axum::Json(json!({
            "status": if store_error.is_some() { "degraded" } else { "ok" },
            "store": store_error.map_or(json!("ok"), |e| json!({"cannotWrite": e})),
            "issuer": node.signer.profile().id,
            "chain": chain,
            "issued": node.store.issued(),
            "queued": node.store.queued(),
            "storeFreeBytes": node.store.free_space().map(|(free, _)| free),
        })),
    )
        .into_response()
}

/// `GET /metrics` (Prometheus text format).
async fn metrics(State(node): State<Shared>) -> Response {
    node.metrics.pending.set(node.store.queued() as i64);
    node.metrics
        .status_slots
        .set(node.store.status_slots_taken() as i64);
    if let (Ok(sealed), Ok(all)) = (node.store.sealed_batches(), node.store.batch_count()) {
        let sealed = sealed.len() as u64;
        node.metrics.set_batches(sealed, all - sealed);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        node.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let mut documented: Vec<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        documented.sort();
        // The routes `router` registers, in OpenAPI's template syntax.
        let sources = [include_str!("api.rs"), include_str!("api/wallets.rs")];
        let code: String = sources
            .iter()
            .map(|s| s.split("#[cfg(test)]").next().unwrap())
            .collect();
        let mut routed: Vec<String> = code
            .split(".route(")
            .skip(1)
            .filter_map(|after| after.trim_start().strip_prefix('"'))
            .map(|l| l.split('"').next().unwrap().to_owned())
            .collect();
        routed.sort();
        assert_eq!(documented, routed);
    }

    #[test]
    fn problems_name_their_field() {
        let p = Problem::bad("credential.validFrom", "not a date");
        let v = p.to_json();
        assert_eq!(v["status"], 400);
        assert_eq!(v["field"], "credential.validFrom");
        assert_eq!(v["type"], "urn:cairn:problem:invalid-field");
    }
}
