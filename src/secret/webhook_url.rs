//! A webhook URL: a credential (Slack's, for one), so it never prints. The roster
//! (community routes) and the alert sender both hold one; this module depends on
//! neither.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Why a text is not a webhook URL. Never holds the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the alert webhook URL is not a URL ({0})")]
    NotAUrl(String),
    #[error("the alert webhook URL must be http or https")]
    NotHttp,
}

/// A webhook URL. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct WebhookUrl(SecretString);

impl WebhookUrl {
    pub fn parse(text: &str) -> Result<WebhookUrl, UrlError> {
        let url = url::Url::parse(text.trim()).map_err(|e| UrlError::NotAUrl(e.to_string()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(UrlError::NotHttp);
        }
        Ok(WebhookUrl(SecretString::from(url.to_string())))
    }

    /// True when both are the same URL (compared without printing either).
    pub fn same(&self, other: &WebhookUrl) -> bool {
        self.0.expose_secret() == other.0.expose_secret()
    }

    /// The URL itself, for the one place a request is sent to it.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl([REDACTED])")
    }
}

impl std::str::FromStr for WebhookUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WebhookUrl::parse(s)
    }
}
