//! [`HubClient`]: one hub over HTTP, and the HTTP clients hubs share.

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use super::{ClientOptions, HubError};
use crate::name::HubName;
use crate::retry::{self, Failure};
use crate::roster::HubSpec;
use crate::secret::tls::CaBundle;

/// The HTTP clients of a run, one per distinct CA bundle: building a client loads the
/// system's root certificates (milliseconds and ~100 KiB each), so hubs share them.
#[derive(Debug, Default)]
pub struct HttpClients {
    clients: Mutex<HashMap<Option<CaBundle>, reqwest::Client>>,
}

impl HttpClients {
    /// The client for `ca` (none: the system's roots), built on first use.
    pub fn get(
        &self,
        ca: Option<&CaBundle>,
        options: &ClientOptions,
    ) -> Result<reqwest::Client, HubError> {
        let key = ca.cloned();
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| HubError::Setup("the HTTP client cache is poisoned".to_string()))?;
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
            .pool_idle_timeout(Duration::from_secs(10));
        if let Some(ca) = ca {
            let tls = ca
                .client_config()
                .map_err(|e| HubError::Setup(e.to_string()))?;
            builder = builder.tls_backend_preconfigured(tls);
        }
        let client = builder
            .build()
            .map_err(|e| HubError::Setup(e.to_string()))?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// A client for one hub's API.
#[derive(Debug, Clone)]
pub struct HubClient {
    pub(super) hub: HubName,
    http: reqwest::Client,
    /// `token …`, marked sensitive; sent with every request but `GET /`.
    auth: HeaderValue,
    /// The API base without a trailing slash.
    base: String,
    /// The token itself, only to scrub it from anything the hub echoes back.
    token: crate::secret::token::Token,
    pub(super) options: ClientOptions,
    requests: Arc<AtomicU64>,
    /// Cancelled at shutdown: ends the waits between retries.
    stop: CancellationToken,
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
        let access = &spec.access;
        let mut auth =
            HeaderValue::from_str(&format!("token {}", access.token.expose())).map_err(|_| {
                HubError::Setup(format!(
                    "hub {}: the token is not a valid header value",
                    spec.name
                ))
            })?;
        auth.set_sensitive(true);
        let http = clients
            .get(access.ca.as_deref(), options)
            .map_err(|why| HubError::Setup(format!("hub {}: {why}", spec.name)))?;
        Ok(HubClient {
            hub: spec.name.clone(),
            http,
            auth,
            base: access.api_url.as_str().trim_end_matches('/').to_string(),
            token: access.token.clone(),
            options: options.clone(),
            requests: Arc::new(AtomicU64::new(0)),
            stop: CancellationToken::new(),
        })
    }

    /// The same client, whose retries end when `stop` is cancelled.
    pub fn with_stop(mut self, stop: CancellationToken) -> HubClient {
        self.stop = stop;
        self
    }

    pub fn hub(&self) -> &HubName {
        &self.hub
    }

    /// How many HTTP requests this client has sent (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sends one request, retrying transient failures, and returns a 2xx body or the
    /// error. `path` is relative to the API base and already encoded (`/users/x`).
    pub(super) async fn send(
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
    pub(super) async fn send_as(
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
            &self.stop,
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
            if tls_error(&e).is_some() {
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
    pub(super) fn snippet(&self, body: &[u8]) -> String {
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

    pub(super) fn scrub(&self, text: &str) -> String {
        let token = self.token.expose();
        if token.is_empty() {
            text.to_string()
        } else {
            text.replace(token, "[REDACTED]")
        }
    }

    pub(super) fn decode<T: serde::de::DeserializeOwned>(
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
    if let Some(tls) = tls_error(error) {
        return crate::secret::tls::advice(tls);
    }
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

/// The TLS error (a certificate refused, say) among the causes, if there is one.
fn tls_error(error: &reqwest::Error) -> Option<&rustls::Error> {
    std::error::Error::source(error).and_then(tls_cause)
}

/// Looks through the causes, and inside `io::Error`s, whose `source()` skips the error
/// they wrap (the TLS stack nests a `rustls::Error` two `io::Error`s deep).
fn tls_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
        && let Some(tls) = tls_cause(inner)
    {
        return Some(tls);
    }
    error.source().and_then(tls_cause)
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
