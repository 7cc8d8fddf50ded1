//! A community's own alert route in the roster (`alerts: {webhook_env | webhook_file}`):
//! where its URL is read from, read once at validation. The URL is never written in
//! the roster and never prints.

use std::fmt;
use std::path::PathBuf;

use crate::webhook_url::{UrlError, WebhookUrl};

/// Webhook files larger than this are refused: a URL is short.
const MAX_WEBHOOK_FILE_BYTES: u64 = 8 * 1024;

/// Where a community's webhook URL is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookSource {
    Env(String),
    File(PathBuf),
}

impl fmt::Display for WebhookSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookSource::Env(var) => write!(f, "webhook_env {var}"),
            WebhookSource::File(path) => write!(f, "webhook_file {}", path.display()),
        }
    }
}

/// A community's alert route: where its URL came from, and the URL (which never
/// prints).
#[derive(Debug, Clone)]
pub struct AlertRoute {
    pub source: WebhookSource,
    pub url: WebhookUrl,
}

/// Why a community's webhook URL cannot be had. Names the source, never what it held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("{0} is not set")]
    NotSet(WebhookSource),
    #[error("{from} cannot be read: {problem}")]
    Unreadable {
        from: WebhookSource,
        problem: String,
    },
    #[error("{0} is larger than {MAX_WEBHOOK_FILE_BYTES} bytes: not a URL")]
    TooLarge(WebhookSource),
    #[error("{from}: {error}")]
    Invalid {
        from: WebhookSource,
        error: UrlError,
    },
}

/// Reads the webhook URL at `source` (`env` looks up variables).
pub fn resolve(
    source: &WebhookSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AlertRoute, RouteError> {
    let text = match source {
        WebhookSource::Env(var) => env(var)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| RouteError::NotSet(source.clone()))?,
        WebhookSource::File(path) => {
            let unreadable = |e: std::io::Error| RouteError::Unreadable {
                from: source.clone(),
                problem: e.kind().to_string(),
            };
            let meta = std::fs::metadata(path).map_err(unreadable)?;
            if meta.len() > MAX_WEBHOOK_FILE_BYTES {
                return Err(RouteError::TooLarge(source.clone()));
            }
            std::fs::read_to_string(path).map_err(unreadable)?
        }
    };
    let url = WebhookUrl::parse(&text).map_err(|error| RouteError::Invalid {
        from: source.clone(),
        error,
    })?;
    Ok(AlertRoute {
        source: source.clone(),
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_resolve_without_printing_the_url() {
        let secret = "https://hooks.example.org/services/T0/B0/SECRETSECRET";
        let env = |v: &str| (v == "HOOK").then(|| secret.to_string());
        let route = resolve(&WebhookSource::Env("HOOK".into()), &env).unwrap();
        assert!(!format!("{route:?}").contains("SECRET"), "{route:?}");
        assert_eq!(
            resolve(&WebhookSource::Env("NOPE".into()), &env)
                .unwrap_err()
                .to_string(),
            "webhook_env NOPE is not set"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hook");
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let from_file = resolve(&WebhookSource::File(file.clone()), &env).unwrap();
        assert!(from_file.url.same(&route.url));
        let missing = resolve(&WebhookSource::File(dir.path().join("x")), &env).unwrap_err();
        assert!(missing.to_string().contains("cannot be read"), "{missing}");
        std::fs::write(&file, "not a url SECRET").unwrap();
        let bad = resolve(&WebhookSource::File(file), &env)
            .unwrap_err()
            .to_string();
        assert!(!bad.contains("SECRET"), "{bad}");
    }
}
