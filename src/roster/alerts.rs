//! A community's own alert route in the roster (`alerts: {webhook_env | webhook_file}`):
//! where its URL is read from, read once at validation. The URL is never written in
//! the roster and never prints.

use crate::secret::source::{Place, SecretSource};
use crate::secret::webhook_url::{UrlError, WebhookUrl};
use crate::small_file::{self, ReadError};

/// Webhook files larger than this are refused: a URL is short.
const MAX_WEBHOOK_FILE_BYTES: u64 = 8 * 1024;

/// A community's alert route: where its URL came from, and the URL (which never
/// prints).
#[derive(Debug, Clone)]
pub struct AlertRoute {
    pub source: SecretSource,
    pub url: WebhookUrl,
}

/// Why a community's webhook URL cannot be had. Names the source, never what it held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("{0} is not set")]
    NotSet(SecretSource),
    #[error("{from} cannot be read: {problem}")]
    Unreadable { from: SecretSource, problem: String },
    #[error("{0} is larger than {MAX_WEBHOOK_FILE_BYTES} bytes: not a URL")]
    TooLarge(SecretSource),
    #[error("{from}: {error}")]
    Invalid { from: SecretSource, error: UrlError },
}

/// Reads the webhook URL at `source` (`env` looks up variables).
pub(super) fn resolve(
    source: &SecretSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AlertRoute, RouteError> {
    let text = match &source.place {
        Place::Env(var) => env(var)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| RouteError::NotSet(source.clone()))?,
        Place::File(path) => {
            let unreadable = |problem: String| RouteError::Unreadable {
                from: source.clone(),
                problem,
            };
            let bytes =
                small_file::read_regular(path, MAX_WEBHOOK_FILE_BYTES).map_err(|e| match e {
                    ReadError::Io(e) => unreadable(e.kind().to_string()),
                    ReadError::NotRegular => unreadable("not a regular file".into()),
                    ReadError::TooLarge { .. } => RouteError::TooLarge(source.clone()),
                })?;
            String::from_utf8(bytes).map_err(|_| unreadable("not UTF-8 text".into()))?
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
    use crate::secret::source::Secret;

    #[test]
    fn sources_resolve_without_printing_the_url() {
        let secret = "https://hooks.example.org/services/T0/B0/SECRETSECRET";
        let env = |v: &str| (v == "HOOK").then(|| secret.to_string());
        let route = resolve(&SecretSource::env(Secret::Webhook, "HOOK"), &env).unwrap();
        assert!(!format!("{route:?}").contains("SECRET"), "{route:?}");
        assert_eq!(
            resolve(&SecretSource::env(Secret::Webhook, "NOPE"), &env)
                .unwrap_err()
                .to_string(),
            "webhook_env NOPE is not set"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hook");
        std::fs::write(&file, format!("{secret}\n")).unwrap();
        let from_file = resolve(&SecretSource::file(Secret::Webhook, &file), &env).unwrap();
        assert!(from_file.url.same(&route.url));
        let missing = resolve(
            &SecretSource::file(Secret::Webhook, &dir.path().join("x")),
            &env,
        )
        .unwrap_err();
        assert!(missing.to_string().contains("cannot be read"), "{missing}");
        // A FIFO or a directory would block or mean nothing: refused, not read.
        let dir_source = SecretSource::file(Secret::Webhook, dir.path());
        let not_a_file = resolve(&dir_source, &env).unwrap_err().to_string();
        assert!(not_a_file.ends_with("not a regular file"), "{not_a_file}");
        let fifo = dir.path().join("hook.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let from_fifo = resolve(&SecretSource::file(Secret::Webhook, &fifo), &env);
        let from_fifo = from_fifo.unwrap_err().to_string();
        assert!(from_fifo.ends_with("not a regular file"), "{from_fifo}");
        let huge = dir.path().join("huge");
        std::fs::write(&huge, "x".repeat(8 * 1024 + 1)).unwrap();
        let too_large = resolve(&SecretSource::file(Secret::Webhook, &huge), &env);
        assert_eq!(
            too_large.unwrap_err().to_string(),
            format!(
                "webhook_file {} is larger than 8192 bytes: not a URL",
                huge.display()
            )
        );
        std::fs::write(&file, "not a url SECRET").unwrap();
        let bad = resolve(&SecretSource::file(Secret::Webhook, &file), &env)
            .unwrap_err()
            .to_string();
        assert!(!bad.contains("SECRET"), "{bad}");
    }
}
