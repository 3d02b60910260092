//! Talking to a `cairn-node` over HTTP: `issue --node`, `proof`, `batches`.

use clap::Args;
use serde_json::Value;

use crate::Failure;

/// Where the node is and how to authenticate.
#[derive(Args, Clone)]
pub struct NodeArgs {
    /// The node's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "CAIRN_NODE")]
    pub node: Option<String>,
    /// A bearer token for the issuer endpoints (`cairn-node token create`).
    #[arg(long, env = "CAIRN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl NodeArgs {
    /// A client for the node these arguments name, which they must.
    pub fn client(&self) -> Result<Client, Failure> {
        let node = self
            .node
            .as_deref()
            .ok_or_else(|| Failure("--node is required (or CAIRN_NODE)".into()))?;
        Client::new(node, self.token.clone())
    }
}

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Result<Self, Failure> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure(format!(
                "--node {base}: expected an http:// or https:// URL"
            )));
        }
        Ok(Self {
            base,
            token,
            http: reqwest::Client::new(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn post(&self, path: &str) -> Result<reqwest::RequestBuilder, Failure> {
        self.authorized(reqwest::Method::POST, path)
    }

    /// A request to an issuer endpoint, which needs the token.
    pub fn authorized(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let token = self.token.as_deref().ok_or_else(|| {
            Failure("this needs the node's token: set CAIRN_TOKEN or pass --token".into())
        })?;
        Ok(self.http.request(method, self.url(path)).bearer_auth(token))
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    /// Sends a request and returns its JSON body, or the node's problem as
    /// one line.
    pub async fn json(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let bytes = self.body(request).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Failure(format!(
                "{}: the node answered with invalid JSON: {e}",
                self.base
            ))
        })
    }
}

impl Client {
    /// Sends a request and returns its body, or the node's problem as one
    /// line.
    pub async fn body(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| Failure(format!("{}: {}", self.base, reqwest_reason(&e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure(format!("{}: {}", self.base, reqwest_reason(&e))))?;
        if !status.is_success() {
            return Err(Failure(problem_line(status.as_u16(), &bytes)));
        }
        Ok(bytes.to_vec())
    }
}

fn reqwest_reason(e: &reqwest::Error) -> String {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = format!("{reason}: {s}");
        source = s.source();
    }
    reason
}

/// An RFC 9457 problem body as one line: `HTTP 400: field: detail`.
pub fn problem_line(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(p) => problem_text(status, &p),
        Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim()),
    }
}

pub fn problem_text(status: u16, p: &Value) -> String {
    let detail = p["detail"].as_str().unwrap_or("");
    match p["field"].as_str() {
        Some(field) => format!("HTTP {status}: {field}: {detail}"),
        None => format!("HTTP {status}: {detail}"),
    }
}

/// Percent-encodes a credential id for a URL path segment.
pub fn segment(id: &str) -> String {
    cairn_verifier::credential::path_segment(id)
}
