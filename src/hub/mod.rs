//! The JupyterHub REST API, as this tool uses it.
//!
//! [`HubClient`] holds one hub's address and token. The read side ([`read`]) lists
//! users into a [`crate::plan::HubSnapshot`]; the write side ([`write`]) creates users
//! and sets admin flags. A dry run simply never calls the write side.
//!
//! Every request has a timeout and a bounded body, is retried only when the failure is
//! transient, and never follows a redirect (the token would go with it). Errors name
//! the method, the path and the status, and never the token.

mod read;
mod write;

pub use write::Created;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::retry::{self, Failure, RetryPolicy};
use crate::roster::HubSpec;

/// The `Accept` value that makes `GET /users` answer with pages. Without it the hub
/// answers a plain array silently cut at its page maximum.
pub const PAGINATION_ACCEPT: &str = "application/jupyterhub-pagination+json";

/// How a client behaves; the same for every hub of a run.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout (connect, send, read the answer).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// `limit` asked for on each page of `GET /users`; the hub clamps it to its own
    /// maximum (200 unless `api_page_max_limit` is raised) and says so in the answer.
    pub page_size: u32,
    /// Answers larger than this are refused.
    pub max_body_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            page_size: 10_000,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

/// A failed exchange with a hub.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HubError {
    #[error("{method} {path}: {message}")]
    Transport {
        method: Method,
        path: String,
        message: String,
        timeout: bool,
    },
    #[error("{method} {path}: HTTP {status}{}: {body}", hint(*status))]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        body: String,
    },
    #[error(
        "{method} {path}: the answer is not what JupyterHub sends ({message}); it began: {body}"
    )]
    Decode {
        method: Method,
        path: String,
        message: String,
        body: String,
    },
    #[error("{method} {path}: the answer is larger than {limit} bytes")]
    TooLarge {
        method: Method,
        path: String,
        limit: usize,
    },
    #[error(
        "{method} {path}: the hub redirected ({status}) to {location}; redirects are not followed, so that the token stays with the hub (is api_url right?)"
    )]
    Redirect {
        method: Method,
        path: String,
        status: StatusCode,
        location: String,
    },
    #[error("the user listing cannot be trusted: {0}; nothing is planned from it")]
    Incomplete(String),
    #[error(
        "JupyterHub {version} is too old: this tool needs 2.0 or newer, which pages its user list"
    )]
    TooOld { version: String },
    #[error("cannot set up the client: {0}")]
    Setup(String),
}

fn hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        403 => " (the hub refused the token, or its owner lacks the scope or the admin role)",
        404 => " (not found: is api_url the hub's API, ending in /hub/api?)",
        _ => "",
    }
}

impl HubError {
    /// A short, stable name for the kind of error (a metric label).
    pub fn kind(&self) -> &'static str {
        match self {
            HubError::Transport { timeout: true, .. } => "timeout",
            HubError::Transport { .. } => "transport",
            HubError::Status { .. } => "status",
            HubError::Decode { .. } => "decode",
            HubError::TooLarge { .. } => "too_large",
            HubError::Redirect { .. } => "redirect",
            HubError::Incomplete(_) => "incomplete",
            HubError::TooOld { .. } => "too_old",
            HubError::Setup(_) => "setup",
        }
    }

    /// The HTTP status, for errors that have one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Path segments are percent-encoded except for RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes one path segment (a user name): `alice@uni.edu` → `alice%40uni.edu`.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Reads a PEM bundle of CA certificates (a hub's `ca_file`); the error names the file.
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("ca_file {} cannot be read: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("ca_file {} is not a PEM bundle: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "ca_file {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

/// A client for one hub's API.
#[derive(Debug, Clone)]
pub struct HubClient {
    hub: String,
    http: reqwest::Client,
    /// `token …`, marked sensitive; sent with every request but `GET /`.
    auth: HeaderValue,
    /// The API base without a trailing slash.
    base: String,
    /// The token itself, only to scrub it from anything the hub echoes back.
    token: crate::token::Token,
    options: ClientOptions,
    requests: Arc<AtomicU64>,
}

/// The HTTP clients of a run, one per distinct `ca_file`: building a client loads the
/// system's root certificates (milliseconds and ~100 KiB each), so hubs share them.
/// A client is keyed by the CA file's path and contents, so a rotated CA is picked up.
#[derive(Debug, Default)]
pub struct HttpClients {
    clients: std::sync::Mutex<std::collections::HashMap<CaKey, reqwest::Client>>,
}

/// A CA file's path and contents, or none for the system's roots.
type CaKey = Option<(PathBuf, Vec<u8>)>;

impl HttpClients {
    /// The client for `ca_file` (none: the system's roots only), built on first use.
    pub fn get(
        &self,
        ca_file: Option<&std::path::Path>,
        options: &ClientOptions,
    ) -> Result<reqwest::Client, String> {
        let key = match ca_file {
            Some(path) => Some((
                path.to_owned(),
                std::fs::read(path)
                    .map_err(|e| format!("ca_file {} cannot be read: {e}", path.display()))?,
            )),
            None => None,
        };
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| "the HTTP client cache is poisoned".to_string())?;
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("jupyterhub-admin-sync/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            // Pages follow each other at once; an idle connection is not kept for long,
            // so a pass over many hubs does not hold one per hub until it ends.
            .pool_idle_timeout(std::time::Duration::from_secs(10));
        if let Some(path) = ca_file {
            for cert in read_ca_file(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

impl HubClient {
    /// A client for `spec`'s hub with its own HTTP client.
    pub fn new(spec: &HubSpec, options: &ClientOptions) -> Result<HubClient, HubError> {
        HubClient::shared(spec, options, &HttpClients::default())
    }

    /// A client for `spec`'s hub, sharing HTTP clients (and their connection pools)
    /// with the other hubs of `clients`.
    pub fn shared(
        spec: &HubSpec,
        options: &ClientOptions,
        clients: &HttpClients,
    ) -> Result<HubClient, HubError> {
        let mut auth =
            HeaderValue::from_str(&format!("token {}", spec.token.expose())).map_err(|_| {
                HubError::Setup(format!(
                    "hub {}: the token is not a valid header value",
                    spec.name
                ))
            })?;
        auth.set_sensitive(true);
        let http = clients
            .get(spec.ca_file.as_deref(), options)
            .map_err(|why| HubError::Setup(format!("hub {}: {why}", spec.name)))?;
        Ok(HubClient {
            hub: spec.name.clone(),
            http,
            auth,
            base: spec.api_url.as_str().trim_end_matches('/').to_string(),
            token: spec.token.clone(),
            options: options.clone(),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn hub(&self) -> &str {
        &self.hub
    }

    /// How many HTTP requests this client has sent (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends one request, retrying transient failures, and returns a 2xx body or the
    /// error. `path` is relative to the API base and already encoded (`/users/x`).
    async fn send(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, HubError> {
        self.send_as(method, path, accept, body, true).await
    }

    /// [`Self::send`], with or without the token (`GET /` needs none, and the hub
    /// answers it faster without one).
    async fn send_as(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        body: Option<&serde_json::Value>,
        with_token: bool,
    ) -> Result<Vec<u8>, HubError> {
        let url = format!("{}{path}", self.base);
        retry::retry(
            &self.options.retry,
            || self.attempt(method.clone(), &url, path, accept, body, with_token),
            |error, wait| {
                tracing::warn!(hub = %self.hub, error = %error, retry_in = ?wait, "transient error; will retry");
            },
        )
        .await
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        path: &str,
        accept: &str,
        body: Option<&serde_json::Value>,
        with_token: bool,
    ) -> Result<Vec<u8>, Failure<HubError>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(ACCEPT, accept);
        if with_token {
            request = request.header(AUTHORIZATION, self.auth.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |e: reqwest::Error| HubError::Transport {
            method: method.clone(),
            path: path.to_string(),
            message: describe(&e),
            timeout: e.is_timeout(),
        };
        let response = request.send().await.map_err(|e| {
            if is_tls_error(&e) {
                // A refused certificate stays refused: trying again would not help.
                Failure::Permanent(transport(e))
            } else {
                Failure::Transient {
                    error: transport(e),
                    retry_after: None,
                }
            }
        })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location)")
                .to_string();
            return Err(Failure::Permanent(HubError::Redirect {
                method,
                path: path.to_string(),
                status,
                location: self.scrub(&location),
            }));
        }
        if !status.is_success() {
            // Only the start of an error's body is shown; the rest is not read.
            let body = self.read_error_body(response).await;
            let error = HubError::Status {
                method,
                path: path.to_string(),
                status,
                body: self.snippet(&body),
            };
            return if matches!(status.as_u16(), 429 | 502 | 503 | 504) {
                Err(Failure::Transient { error, retry_after })
            } else {
                Err(Failure::Permanent(error))
            };
        }
        self.read_body(response, &method, path)
            .await
            .map_err(|error| match error {
                e @ HubError::Transport { .. } => Failure::Transient {
                    error: e,
                    retry_after: None,
                },
                e => Failure::Permanent(e),
            })
    }

    /// Up to 4 KiB of an error answer's body (whatever arrives before a failure).
    async fn read_error_body(&self, mut response: reqwest::Response) -> Vec<u8> {
        const LIMIT: usize = 4096;
        let mut body = Vec::new();
        while body.len() < LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(LIMIT);
        body
    }

    /// Reads the body, refusing more than `max_body_bytes`.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        method: &Method,
        path: &str,
    ) -> Result<Vec<u8>, HubError> {
        let limit = self.options.max_body_bytes;
        let too_large = || HubError::TooLarge {
            method: method.clone(),
            path: path.to_string(),
            limit,
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    return Err(HubError::Transport {
                        method: method.clone(),
                        path: path.to_string(),
                        message: describe(&e),
                        timeout: e.is_timeout(),
                    });
                }
            }
        }
    }

    /// The start of a body, printable, for an error message; the token is scrubbed
    /// in case a hostile or broken server echoes it.
    fn snippet(&self, body: &[u8]) -> String {
        const MAX: usize = 200;
        // Scrub before cutting, over a window one token longer than what can be shown,
        // so that a token cut in half never survives as a prefix.
        let window = 4 * MAX + self.token.expose().len();
        let text = self.scrub(&String::from_utf8_lossy(&body[..body.len().min(window)]));
        let mut out: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX)
            .collect();
        if text.chars().count() > MAX || body.len() > window {
            out.push('…');
        }
        out.trim().to_string()
    }

    fn scrub(&self, text: &str) -> String {
        let token = self.token.expose();
        if token.is_empty() {
            text.to_string()
        } else {
            text.replace(token, "[REDACTED]")
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &[u8],
    ) -> Result<T, HubError> {
        serde_json::from_slice(body).map_err(|e| HubError::Decode {
            method,
            path: path.to_string(),
            message: e.to_string(),
            body: self.snippet(body),
        })
    }
}

/// A transport error's message with its causes (reqwest's own is often just
/// "error sending request").
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut message = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// True when a TLS error (a certificate refused, say) is among the causes.
fn is_tls_error(error: &reqwest::Error) -> bool {
    std::error::Error::source(error).is_some_and(has_tls_cause)
}

/// Looks through the causes, and inside `io::Error`s, whose `source()` skips the error
/// they wrap (the TLS stack nests a `rustls::Error` two `io::Error`s deep).
fn has_tls_cause(error: &(dyn std::error::Error + 'static)) -> bool {
    if error.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
        && has_tls_cause(inner)
    {
        return true;
    }
    error.source().is_some_and(has_tls_cause)
}

/// `Retry-After` in seconds (the HTTP-date form is left to the backoff).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("alice@uni.edu"), "alice%40uni.edu");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(encode_segment("x-y_z.~"), "x-y_z.~");
        assert_eq!(encode_segment("zoë"), "zo%C3%AB");
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }
}
