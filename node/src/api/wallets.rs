//! The endpoints wallets and earners use to claim an award: the claim page,
//! VC-API exchanges (the Learner Credential Wallet) and OpenID4VCI 1.0
//! (see `crate::wallets`). VC-API errors are problems (RFC 9457);
//! OpenID4VCI's are OAuth's `{"error", "error_description"}`, as its
//! clients read them.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::{authorize, authorize_as, html, parse_object, read_body, Param, Problem, Shared};
use crate::store::{Award, AwardState, Redeem, RedeemError, StoreError};
use crate::tokens::Role;
use crate::wallets::{
    self as protocol, CredentialOffer, CredentialRequest, CredentialResponse, Grants,
    IssuedCredential, OAuthError, PreAuthorizedGrant, TokenResponse, TxCode, ACCESS_TTL,
    CONFIGURATION_ID, EXCHANGE_TTL, NONCE_TTL_MS, PRE_AUTHORIZED_GRANT, WORKFLOW,
};

/// What a query parameter's value escapes: all but RFC 3986's unreserved
/// characters (a base64url token stays as it is, and the QR code short).
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The largest body a wallet sends (a presentation, a token request).
const MAX_WALLET_BODY: usize = 64 * 1024;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/credentials/{id}/award", get(award).post(renew_award))
        .route("/claim/{token}", get(claim_page))
        .route("/claim/{token}/{file}", get(claim_file))
        .route("/interactions/{token}", get(interaction))
        .route("/workflows/{workflow}/exchanges", post(create_exchange))
        .route(
            "/workflows/{workflow}/exchanges/{exchange}",
            post(exchange_step),
        )
        .route(
            "/.well-known/openid-credential-issuer",
            get(issuer_metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(authorization_server_metadata),
        )
        .route("/oid4vci/offers/{token}", get(offer))
        .route("/oid4vci/token", post(token))
        .route("/oid4vci/nonce", post(nonce))
        .route("/oid4vci/credential", post(credential))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn unknown_claim() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "unknown-claim",
        "no such claim link (check the whole link was copied)",
    )
    .field("token")
}

/// What the issuer is told of an award: its claim link (of `token`), when
/// the link ends, and the transaction code (only when just made: it is
/// kept hashed).
fn claim_fields(
    node: &crate::node::Node,
    token: &str,
    expires: i64,
    tx_code: Option<&str>,
) -> Value {
    let mut v = json!({
        "claimUrl": claim_link(node, token),
        "claimExpires": rfc3339(expires),
    });
    if let Some(code) = tx_code {
        v["txCode"] = json!(code);
    }
    v
}

/// [`claim_fields`] of a stored award.
pub(super) fn award_fields(
    node: &crate::node::Node,
    award: &Award,
    tx_code: Option<&str>,
) -> Value {
    claim_fields(node, &node.store.claim_token(award), award.expires, tx_code)
}

/// [`claim_fields`] of the award a credential new now was issued with (no
/// read: it is the first generation, as `made`).
pub(super) fn new_award_fields(
    node: &crate::node::Node,
    id: &str,
    made: &crate::store::NewAward,
) -> Value {
    let token = node.store.first_claim_token(id);
    claim_fields(node, &token, made.expires, made.tx_code.as_deref())
}

/// The award's claim link.
pub(super) fn claim_url(node: &crate::node::Node, award: &Award) -> String {
    claim_link(node, &node.store.claim_token(award))
}

fn claim_link(node: &crate::node::Node, token: &str) -> String {
    format!("{}/claim/{token}", base(node))
}

fn base(node: &crate::node::Node) -> String {
    node.base_url().trim_end_matches('/').to_owned()
}

fn interaction_url(node: &crate::node::Node, token: &str) -> String {
    format!("{}/interactions/{token}?iuv=1", base(node))
}

fn offer_uri(node: &crate::node::Node, token: &str) -> String {
    let uri = format!("{}/oid4vci/offers/{token}", base(node));
    format!(
        "openid-credential-offer://?credential_offer_uri={}",
        percent_encoding::utf8_percent_encode(&uri, QUERY_VALUE)
    )
}

/// `GET /credentials/{id}/award` (issuer): the award's claim link and
/// where it stands, with the credentials claimed with it.
async fn award(
    State(node): State<Shared>,
    Param(id): Param,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    authorize(&node, &headers)?;
    let award = award_of(&node, &id, "id")?;
    let token = node.store.claim_token(&award);
    Ok(axum::Json(json!({
        "credentialId": id,
        "state": award_state(&node, &award)?,
        "claimUrl": claim_link(&node, &token),
        "claimExpires": rfc3339(award.expires),
        "credentialOffer": offer_by_value(&node, &award),
        "credentialOfferUri": offer_uri(&node, &token),
        "txCode": award.tx_code.is_some(),
        "failedTries": award.failures,
        "claimed": award.claimed,
    }))
    .into_response())
}

/// `POST /credentials/{id}/award` (issuer): a new claim link for an award
/// not claimed yet (expired, locked, or sent to the wrong place), for
/// `--offer-ttl` from now; `{"txCode": true}` makes a new transaction
/// code, shown in this response only. The old link stops working.
async fn renew_award(
    State(node): State<Shared>,
    Param(id): Param,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    authorize_as(&node, &headers, Role::Issuer)?;
    let bytes = read_body(body, MAX_WALLET_BODY).await?;
    let mut tx_code = false;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        for (k, v) in parse_object(&bytes, "body")? {
            match (k.as_str(), v) {
                ("txCode", Value::Bool(b)) => tx_code = b,
                ("txCode", _) => return Err(Problem::bad("txCode", "must be true or false")),
                (other, _) => {
                    return Err(Problem::bad(
                        other.to_owned(),
                        "unknown member; expected txCode",
                    ))
                }
            }
        }
    }
    award_of(&node, &id, "id")?;
    let made = super::new_award(&node, tx_code);
    let renewed = node.store.renew_award(&id, &made)?;
    let mut out = award_fields(&node, &renewed, made.tx_code.as_deref());
    out["credentialId"] = json!(id);
    out["state"] = json!(award_state(&node, &renewed)?);
    Ok(private(axum::Json(out).into_response()))
}

/// The award of the credential `id`, which the request names in `field`.
fn award_of(node: &crate::node::Node, id: &str, field: &str) -> Result<Award, Problem> {
    node.store.award(id)?.ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-award",
            format!("credential {id} is not an award"),
        )
        .field(field)
    })
}

fn award_of_token(node: &crate::node::Node, token: &str) -> Result<Award, Problem> {
    node.store.award_by_token(token)?.ok_or_else(unknown_claim)
}

/// `GET /claim/{token}`: the earner's page for taking the badge into a
/// wallet (or downloading it).
async fn claim_page(State(node): State<Shared>, Param(token): Param) -> Result<Response, Problem> {
    let award = award_of_token(&node, &token)?;
    Ok(private(html(render_claim(&node, &award, &token)?)))
}

/// A response for the earner alone: no cache keeps it.
fn private(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn render_claim(node: &crate::node::Node, award: &Award, token: &str) -> Result<String, Problem> {
    let id = &award.credential;
    let share = node.store.share_id(id);
    let (credential, downloads, mut head) = match node.badge_page(&share)? {
        Some(page) => match page.data {
            crate::published::PageData::Badge {
                credential,
                downloads,
                ..
            } => (credential, downloads, page.head),
            _ => return Err(Problem::internal("a badge page that is not one")),
        },
        // A private page: the badge is still the earner's to claim.
        None => {
            let credential = node.current_form(id)?.ok_or_else(unknown_claim)?;
            let downloads = crate::published::Downloads {
                png: None,
                svg: None,
                json: format!(
                    "/credentials/{}",
                    cairn_verifier::credential::path_segment(id)
                ),
                bundle: None,
                picture: None,
            };
            (credential, downloads, crate::published::Head::default())
        }
    };
    // The claim link is the earner's alone: no link preview names it.
    head.url = String::new();
    head.image = String::new();
    // An award guarded by a transaction code is claimed over OpenID4VCI
    // alone (a VC-API wallet is never asked for the code).
    let vc_api = award.tx_code.is_none();
    let interaction = if vc_api {
        interaction_url(node, token)
    } else {
        String::new()
    };
    let data = crate::published::PageData::Claim {
        credential,
        state: award_state(node, award)?,
        expires: rfc3339(award.expires),
        offer: offer_uri(node, token),
        offer_qr: format!("/claim/{token}/offer.png"),
        lcw_url: if vc_api {
            format!("interaction:{interaction}")
        } else {
            String::new()
        },
        interaction_url: interaction,
        interaction_qr: if vc_api {
            format!("/claim/{token}/interaction.png")
        } else {
            String::new()
        },
        downloads,
    };
    Ok(crate::pages::render(&data, &head))
}

/// `GET /claim/{token}/offer.png|interaction.png`: the page's QR codes.
async fn claim_file(
    State(node): State<Shared>,
    path: Result<axum::extract::Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<Response, Problem> {
    let axum::extract::Path((token, file)) =
        path.map_err(|e| Problem::bad("path", e.body_text()))?;
    let award = award_of_token(&node, &token)?;
    let text = match file.as_str() {
        "offer.png" => offer_uri(&node, &token),
        "interaction.png" if award.tx_code.is_none() => interaction_url(&node, &token),
        _ => {
            return Err(
                Problem::new(StatusCode::NOT_FOUND, "not-found", "no such file").field("file"),
            )
        }
    };
    let png = crate::pages::qr_png(&text).map_err(Problem::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        png,
    )
        .into_response())
}

/// `GET /interactions/{token}?iuv=1`: what a wallet that follows the
/// interaction URL may speak, each with a fresh exchange; a browser gets
/// the claim page.
async fn interaction(
    State(node): State<Shared>,
    Param(token): Param,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let award = award_of_token(&node, &token)?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("json"));
    if !wants_json {
        return Ok(private(html(render_claim(&node, &award, &token)?)));
    }
    open_award(&node, &award)?;
    let oid4vci = offer_uri(&node, &token);
    if award.tx_code.is_some() {
        // The code guards the award: only OpenID4VCI asks for it.
        return Ok(private(
            axum::Json(json!({"protocols": {"OID4VCI": oid4vci}})).into_response(),
        ));
    }
    let exchange = node
        .store
        .open_exchange(&award.credential, now(), now() + EXCHANGE_TTL)?;
    Ok(private(
        axum::Json(json!({
            "protocols": {
                "vcapi": exchange_url(&node, &exchange.id),
                "OID4VCI": oid4vci,
            }
        }))
        .into_response(),
    ))
}

fn exchange_url(node: &crate::node::Node, exchange: &str) -> String {
    format!("{}/workflows/{WORKFLOW}/exchanges/{exchange}", base(node))
}

/// Where an award stands, the issuer's word on its credential included.
fn award_state(node: &crate::node::Node, award: &Award) -> Result<AwardState, Problem> {
    Ok(node.store.award_state(award, now())?)
}

/// Refuses a VC-API claim of an award guarded by a transaction code: only
/// OpenID4VCI asks the wallet for it.
fn without_tx_code(award: &Award) -> Result<(), Problem> {
    match award.tx_code {
        None => Ok(()),
        Some(_) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "tx-code-required",
            "this badge needs the transaction code the issuer sent apart: claim it with an OpenID4VCI wallet",
        )),
    }
}

/// Refuses an award that can no longer be claimed, saying why.
fn open_award(node: &crate::node::Node, award: &Award) -> Result<(), Problem> {
    match award_state(node, award)? {
        AwardState::Open => Ok(()),
        closed_as => Err(closed(closed_as, award)),
    }
}

/// Why an award in `state` is not claimed, as a problem.
fn closed(state: AwardState, award: &Award) -> Problem {
    match state {
        AwardState::Withdrawn | AwardState::Open => Problem::new(
            StatusCode::CONFLICT,
            "award-not-claimable",
            "the issuer revoked or suspended this badge: it cannot be claimed",
        ),
        AwardState::Claimed => Problem::new(
            StatusCode::CONFLICT,
            "already-claimed",
            "this badge was claimed into a wallet already; ask the issuer for a new link",
        ),
        AwardState::Expired => Problem::new(
            StatusCode::GONE,
            "claim-expired",
            format!("this claim link ended at {}", rfc3339(award.expires)),
        ),
        AwardState::Locked => Problem::new(
            StatusCode::FORBIDDEN,
            "claim-locked",
            "too many wrong tries: this claim link is locked; ask the issuer for a new one",
        ),
    }
}

fn unknown_workflow(workflow: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "unknown-workflow",
        format!("no workflow {workflow}; this node's is `{WORKFLOW}`"),
    )
    .field("workflow")
}

/// `POST /workflows/claim/exchanges`: a new exchange for an award, named
/// by the issuer (`variables.credentialId`, with its token) or by the
/// earner (`variables.claimToken`).
async fn create_exchange(
    State(node): State<Shared>,
    Param(workflow): Param,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    if workflow != WORKFLOW {
        return Err(unknown_workflow(&workflow));
    }
    let bytes = read_body(body, MAX_WALLET_BODY).await?;
    let body = parse_object(&bytes, "body")?;
    let variables = body.get("variables").cloned().unwrap_or(Value::Null);
    let award = match (
        variables.get("credentialId").and_then(Value::as_str),
        variables.get("claimToken").and_then(Value::as_str),
    ) {
        (Some(id), None) => {
            authorize_as(&node, &headers, Role::Issuer)?;
            award_of(&node, id, "variables.credentialId")?
        }
        (None, Some(token)) => award_of_token(&node, token)
            .map_err(|p| p.field("variables.claimToken"))?,
        _ => {
            return Err(Problem::bad(
                "variables",
                "name the award: variables.credentialId (with the issuer's token) or variables.claimToken",
            ))
        }
    };
    open_award(&node, &award)?;
    without_tx_code(&award)?;
    let exchange = node
        .store
        .open_exchange(&award.credential, now(), now() + EXCHANGE_TTL)?;
    let url = exchange_url(&node, &exchange.id);
    let token = node.store.claim_token(&award);
    let mut response = (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": url,
            "exchangeId": exchange.id,
            "interactionUrl": interaction_url(&node, &token),
            "expires": rfc3339(exchange.expires),
        })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `POST /workflows/claim/exchanges/{exchange}`: `{}` asks what the
/// exchange needs (the holder's DID, authenticated); `{"verifiablePresentation"}`
/// answers it and gets the credential, bound to that DID.
async fn exchange_step(
    State(node): State<Shared>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    path: Result<axum::extract::Path<(String, String)>, axum::extract::rejection::PathRejection>,
    body: Body,
) -> Result<Response, Problem> {
    let axum::extract::Path((workflow, exchange_id)) =
        path.map_err(|e| Problem::bad("path", e.body_text()))?;
    if workflow != WORKFLOW {
        return Err(unknown_workflow(&workflow));
    }
    let unknown = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-exchange",
            "no such exchange",
        )
        .field("exchangeId")
    };
    let award = node
        .store
        .award_by_exchange(&exchange_id)?
        .ok_or_else(unknown)?;
    let exchange = award
        .exchanges
        .iter()
        .find(|x| x.id == exchange_id)
        .cloned()
        .ok_or_else(unknown)?;
    let bytes = read_body(body, MAX_WALLET_BODY).await?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        parse_object(&bytes, "body")?
    };
    without_tx_code(&award)?;
    let challenge = node.store.exchange_challenge(&exchange.id);
    let Some(vp) = body.get("verifiablePresentation") else {
        open_award(&node, &award)?;
        if exchange.expires <= now() {
            return Err(exchange_expired());
        }
        return Ok(axum::Json(protocol::did_authentication_request(
            &challenge,
            &base(&node),
        ))
        .into_response());
    };
    if award.state(now()) == AwardState::Claimed {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "exchange-complete",
            "this exchange is complete: a presentation sent again is a replay",
        )
        .field("verifiablePresentation"));
    }
    open_award(&node, &award)?;
    if exchange.expires <= now() {
        return Err(exchange_expired());
    }
    let _slot = node.clients.enter(client.ip())?;
    let options = cairn_verifier::presentation::PresentationOptions {
        challenge: Some(challenge),
        domain: Some(base(&node)),
        holder_is_subject: false,
    };
    let verification = node.verification();
    let vp = vp.clone();
    let report = node
        .pool
        .run_shared(move || async move {
            cairn_verifier::presentation::check_presentation(
                verification.offline().canonicalizer(),
                &vp,
                &options,
            )
            .await
        })
        .await?;
    let holder = did_authenticated(&report)?;
    let vc = claim(&node, &award, &holder).await?;
    Ok(axum::Json(json!({
        "verifiablePresentation": {
            "@context": [cairn_verifier::context::CREDENTIALS_V2],
            "type": ["VerifiablePresentation"],
            "verifiableCredential": [vc],
        }
    }))
    .into_response())
}

fn exchange_expired() -> Problem {
    Problem::new(
        StatusCode::GONE,
        "exchange-expired",
        "this exchange has ended; follow the claim link again",
    )
    .field("exchangeId")
}

/// The holder a DID authentication proved, or the first check it failed,
/// named as the field at fault.
fn did_authenticated(report: &cairn_verifier::verification::Report) -> Result<String, Problem> {
    use cairn_verifier::verification::Status;
    for (check, field) in [
        ("json", "verifiablePresentation"),
        ("data-model", "verifiablePresentation"),
        ("holder-proof", "verifiablePresentation.proof"),
        ("proof-purpose", "verifiablePresentation.proof.proofPurpose"),
        ("challenge", "verifiablePresentation.proof.challenge"),
        ("domain", "verifiablePresentation.proof.domain"),
        ("holder-key", "verifiablePresentation.holder"),
    ] {
        match report.check(check) {
            Some(c) if c.status == Status::Pass => {}
            found => {
                let detail = found.map_or_else(
                    || format!("the presentation fails `{check}`"),
                    |c| format!("{check}: {}", c.detail),
                );
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "did-authentication-failed",
                    detail,
                )
                .field(field));
            }
        }
    }
    report
        .issuer
        .clone()
        .filter(|h| h.starts_with("did:key:"))
        .ok_or_else(|| {
            Problem::bad(
                "verifiablePresentation.holder",
                "the holder must be a did:key",
            )
        })
}

/// Claims the award for `holder`; the store's refusals (under its write
/// lock) in the same terms as [`open_award`]'s early ones.
async fn claim(node: &Shared, award: &Award, holder: &str) -> Result<Value, Problem> {
    use crate::node::IssueError;
    use protocol::ClaimError;
    let claimed = node.claim(award, holder).await;
    if claimed.is_ok() {
        // A count never turns a claim made into a failure.
        if let Ok(Some(vc)) = node.store.credential(&award.credential) {
            // The earner's own act, not a reader's: counted per credential.
            node.count(crate::analytics::Event::Claim, &vc, true);
        }
    }
    claimed.map_err(|e| match e {
        ClaimError::Issue(IssueError::Store(StoreError::Claimed { .. })) => {
            closed(AwardState::Claimed, award)
        }
        ClaimError::Issue(IssueError::Store(StoreError::Unclaimable { state, .. })) => {
            closed(state, award)
        }
        ClaimError::Expired | ClaimError::NoSubject => {
            Problem::new(StatusCode::CONFLICT, "award-not-claimable", e.to_string())
        }
        ClaimError::OtherHolder(_) => {
            Problem::new(StatusCode::FORBIDDEN, "other-holder", e.to_string())
                .field("verifiablePresentation.holder")
        }
        ClaimError::Gone(id) => Problem::new(
            StatusCode::GONE,
            "award-gone",
            format!("the awarded credential {id} is gone"),
        ),
        ClaimError::Issue(e) => super::issue_problem(e, ""),
    })
}

// OpenID4VCI: errors are OAuth's JSON (not problems), as its clients read
// them.

struct OAuth(StatusCode, OAuthError);

impl IntoResponse for OAuth {
    fn into_response(self) -> Response {
        let mut error = self.1;
        // RFC 6749's characters for error_description: printable ASCII
        // without `"` and `\`.
        error.error_description = error
            .error_description
            .chars()
            .map(|c| match c {
                ' '..='~' if c != '"' && c != '\\' => c,
                _ => '?',
            })
            .collect();
        let mut response = (
            self.0,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(&error),
        )
            .into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            let challenge = format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                error.error, error.error_description
            );
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}

impl From<Problem> for OAuth {
    fn from(p: Problem) -> Self {
        let error = match p.status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                "temporarily_unavailable"
            }
            s if s.is_server_error() => "server_error",
            _ => "invalid_request",
        };
        OAuth(p.status, OAuthError::new(error, p.detail))
    }
}

impl From<StoreError> for OAuth {
    fn from(e: StoreError) -> Self {
        Problem::from(e).into()
    }
}

fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> OAuth {
    OAuth(status, OAuthError::new(error, description))
}

/// `GET /.well-known/openid-credential-issuer`
async fn issuer_metadata(State(node): State<Shared>) -> Response {
    let name = node
        .profile()
        .name
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_owned);
    axum::Json(protocol::issuer_metadata(&base(&node), name.as_deref())).into_response()
}

/// `GET /.well-known/oauth-authorization-server`
async fn authorization_server_metadata(State(node): State<Shared>) -> Response {
    axum::Json(protocol::authorization_server_metadata(&base(&node))).into_response()
}

/// `GET /oid4vci/offers/{token}`: the credential offer behind a claim link.
async fn offer(State(node): State<Shared>, Param(token): Param) -> Result<Response, OAuth> {
    let award = node.store.award_by_token(&token)?.ok_or_else(|| {
        oauth(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "no such credential offer",
        )
    })?;
    open_award(&node, &award)?;
    let offer = credential_offer(&node, &award);
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(offer)).into_response())
}

/// The award's OpenID4VCI credential offer.
fn credential_offer(node: &crate::node::Node, award: &Award) -> CredentialOffer {
    CredentialOffer {
        credential_issuer: base(node),
        credential_configuration_ids: vec![CONFIGURATION_ID.to_owned()],
        grants: Grants {
            pre_authorized_code: PreAuthorizedGrant {
                code: node.store.pre_authorized_code(award),
                tx_code: award.tx_code.as_ref().map(|_| TxCode {
                    input_mode: "numeric".into(),
                    length: protocol::TX_CODE_DIGITS,
                    description: "The code the issuer sent you apart from this link".into(),
                }),
            },
        },
    }
}

/// The award's offer by value (`openid-credential-offer://?credential_offer=`),
/// for an issuer that sends it itself rather than the claim link.
fn offer_by_value(node: &crate::node::Node, award: &Award) -> String {
    let json = serde_json::to_string(&credential_offer(node, award)).expect("an offer serializes");
    format!(
        "openid-credential-offer://?credential_offer={}",
        percent_encoding::utf8_percent_encode(&json, QUERY_VALUE)
    )
}

/// `POST /oid4vci/token`: an access token for a pre-authorized code (and
/// its transaction code). Unknown parameters are ignored, as OAuth says.
async fn token(State(node): State<Shared>, body: Body) -> Result<Response, OAuth> {
    let bytes = read_body(body, MAX_WALLET_BODY).await?;
    let mut grant_type = None;
    let mut code = None;
    let mut tx_code = None;
    for (k, v) in form_urlencoded::parse(&bytes) {
        match k.as_ref() {
            "grant_type" => grant_type = Some(v.into_owned()),
            "pre-authorized_code" => code = Some(v.into_owned()),
            "tx_code" => tx_code = Some(v.into_owned()),
            _ => {}
        }
    }
    match grant_type.as_deref() {
        Some(PRE_AUTHORIZED_GRANT) => {}
        Some(_) => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the pre-authorized code grant is supported",
            ))
        }
        None => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            ))
        }
    }
    let code = code.ok_or_else(|| {
        oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "pre-authorized_code is missing",
        )
    })?;
    let access = crate::store::random_secret();
    let until_ms = (now() + ACCESS_TTL) * 1000;
    match node
        .store
        .redeem_code(&code, tx_code.as_deref(), now(), &access, until_ms)
    {
        Ok(_) => Ok((
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(TokenResponse {
                access_token: access,
                token_type: "Bearer".into(),
                expires_in: ACCESS_TTL,
            }),
        )
            .into_response()),
        Err(RedeemError::Store(e)) => Err(e.into()),
        Err(RedeemError::Refused(r)) => {
            let error = match r {
                Redeem::TxCodeMissing | Redeem::TxCodeUnexpected => "invalid_request",
                _ => "invalid_grant",
            };
            Err(oauth(StatusCode::BAD_REQUEST, error, r.to_string()))
        }
    }
}

/// `POST /oid4vci/nonce`: a fresh `c_nonce`. It writes nothing: the nonce
/// carries its own expiry, under the node's tag.
async fn nonce(State(node): State<Shared>) -> Response {
    let nonce = node
        .store
        .new_nonce(chrono::Utc::now().timestamp_millis() + NONCE_TTL_MS);
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"c_nonce": nonce})),
    )
        .into_response()
}

/// `POST /oid4vci/credential`: the credential, bound to the DID whose key
/// signed the proof, for an access token and a fresh nonce.
async fn credential(
    State(node): State<Shared>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuth> {
    let invalid_token = |m: &str| oauth(StatusCode::UNAUTHORIZED, "invalid_token", m);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .ok_or_else(|| invalid_token("an access token from the token endpoint is needed"))?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let award = node
        .store
        .award_by_access(&token, now_ms)?
        .ok_or_else(|| invalid_token("the access token is unknown or expired"))?;
    let bytes = read_body(body, MAX_WALLET_BODY).await?;
    let request: CredentialRequest = serde_json::from_slice(&bytes).map_err(|e| {
        oauth(
            StatusCode::BAD_REQUEST,
            "invalid_credential_request",
            format!("the request: {e}"),
        )
    })?;
    match (
        &request.credential_configuration_id,
        &request.credential_identifier,
    ) {
        (Some(c), None) if c == CONFIGURATION_ID => {}
        (Some(c), None) => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "unknown_credential_configuration",
                format!("no credential configuration {c}; this issuer offers {CONFIGURATION_ID}"),
            ))
        }
        (None, Some(_)) => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "unknown_credential_identifier",
                "this issuer gives no credential identifiers",
            ))
        }
        _ => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_credential_request",
                "name credential_configuration_id (and not credential_identifier)",
            ))
        }
    }
    if request.credential_response_encryption.is_some() {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_encryption_parameters",
            "this issuer does not encrypt credential responses",
        ));
    }
    let jwts = match (&request.proofs, &request.proof) {
        (Some(p), None) if p.other.is_empty() => p.jwt.clone().unwrap_or_default(),
        (Some(_), None) => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_proof",
                "only jwt proofs are taken",
            ))
        }
        _ => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "invalid_proof",
                "give one key proof as proofs.jwt[0] (OpenID4VCI 1.0)",
            ))
        }
    };
    let [jwt] = jwts.as_slice() else {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "invalid_proof",
            "give exactly one proof in proofs.jwt: one credential is issued",
        ));
    };
    let _slot = node.clients.enter(client.ip()).map_err(Problem::from)?;
    let possession = protocol::check_proof_jwt(jwt, &base(&node), now_ms / 1000)
        .map_err(|e| OAuth(StatusCode::BAD_REQUEST, e.oauth()))?;
    let stale = || {
        oauth(
            StatusCode::BAD_REQUEST,
            "invalid_nonce",
            "the nonce is unknown, expired or used: get a fresh one from the nonce endpoint",
        )
    };
    let expires = node
        .store
        .nonce_expiry(&possession.nonce)
        .ok_or_else(stale)?;
    if expires <= now_ms || !node.store.use_nonce(&possession.nonce, expires, now_ms)? {
        return Err(stale());
    }
    // Refused before the signing work when plainly closed; the store
    // refuses again, under its lock, whatever changed meanwhile.
    let denied = |p: Problem| match p.status {
        StatusCode::CONFLICT | StatusCode::GONE | StatusCode::FORBIDDEN => oauth(
            StatusCode::BAD_REQUEST,
            "credential_request_denied",
            p.detail,
        ),
        _ => p.into(),
    };
    open_award(&node, &award).map_err(denied)?;
    let vc = claim(&node, &award, &possession.holder)
        .await
        .map_err(denied)?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(CredentialResponse {
            credentials: vec![IssuedCredential { credential: vc }],
        }),
    )
        .into_response())
}
