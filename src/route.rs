//! Where alerts go: the global webhook (`--alert-webhook-url`) and each community's
//! own (`communities[].alerts` in the roster, `webhook_env` or `webhook_file`, never
//! the URL itself).
//!
//! A message about a hub goes to its community's route and to the global one; a
//! message about the roster goes to the global one. Each route has its own queue and
//! sending task ([`Webhook`]), so a route that fails or hangs delays neither
//! reconciling nor another route; its failures are counted under its name
//! (`route="global"` or the community's name). [`Routes::rebuild`] follows the roster
//! in force: routes of new communities start, changed URLs restart, removed ones
//! drain and end.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::task::JoinHandle;

use crate::alert::{Alert, AlertFormat, Webhook, WebhookError, WebhookUrl};
use crate::metrics::{Metrics, RouteLabel};
use crate::retry::RetryPolicy;
use crate::roster::Roster;

/// The name of the route every message goes to.
pub const GLOBAL: &str = "global";

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
        error: WebhookError,
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

/// One route's queue and task.
struct Sink {
    url: WebhookUrl,
    webhook: Webhook,
    task: JoinHandle<()>,
}

/// Every route of the daemon.
pub struct Routes {
    global: Option<Sink>,
    communities: HashMap<String, Sink>,
    format: AlertFormat,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
    /// Tasks of routes that were replaced or removed, still sending what they hold.
    retired: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.communities.keys().collect();
        names.sort();
        f.debug_struct("Routes")
            .field("global", &self.global.is_some())
            .field("communities", &names)
            .finish_non_exhaustive()
    }
}

impl Routes {
    /// The global route (if any); community routes come with [`Routes::rebuild`].
    pub fn new(
        global: Option<WebhookUrl>,
        format: AlertFormat,
        retry: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Routes, WebhookError> {
        let mut routes = Routes {
            global: None,
            communities: HashMap::new(),
            format,
            retry,
            metrics,
            retired: Vec::new(),
        };
        if let Some(url) = global {
            routes.global = Some(routes.sink(GLOBAL, url)?);
        }
        Ok(routes)
    }

    fn sink(&self, route: &str, url: WebhookUrl) -> Result<Sink, WebhookError> {
        let (webhook, task) = Webhook::start(
            route,
            url.clone(),
            self.format,
            self.retry,
            self.metrics.clone(),
        )?;
        // The series exists (at 0) while the route does.
        drop(self.metrics.webhook_failures.get_or_create(&RouteLabel {
            route: route.to_string(),
        }));
        Ok(Sink { url, webhook, task })
    }

    /// Makes the community routes those of `roster`: starts new ones, restarts those
    /// whose URL changed, and lets removed ones drain and end.
    pub fn rebuild(&mut self, roster: &Roster) {
        let mut keep = HashMap::new();
        for community in &roster.communities {
            let Some(route) = &community.alerts else {
                continue;
            };
            match self.communities.remove(&community.name) {
                Some(sink) if sink.url.same(&route.url) => {
                    keep.insert(community.name.clone(), sink);
                }
                old => {
                    if let Some(old) = old {
                        self.retired.push(old.task);
                    }
                    match self.sink(&community.name, route.url.clone()) {
                        Ok(sink) => {
                            tracing::info!(route = %community.name, source = %route.source, "alert route ready");
                            keep.insert(community.name.clone(), sink);
                        }
                        Err(error) => {
                            tracing::error!(route = %community.name, %error, "cannot start the community's alert route")
                        }
                    }
                }
            }
        }
        for (name, gone) in self.communities.drain() {
            tracing::info!(route = %name, "the community's alert route was removed");
            self.metrics
                .webhook_failures
                .remove(&RouteLabel { route: name });
            self.retired.push(gone.task);
        }
        self.communities = keep;
        self.retired.retain(|t| !t.is_finished());
    }

    /// Queues `alert` on its community's route (if it has one) and the global one.
    /// Never waits.
    pub fn send(&self, alert: Alert) {
        if let Some(sink) = alert
            .community
            .as_ref()
            .and_then(|c| self.communities.get(c))
        {
            sink.webhook.send(alert.clone(), &self.metrics);
        }
        if let Some(global) = &self.global {
            global.webhook.send(alert, &self.metrics);
        }
    }

    /// Queues `alert` on its community's route only (a digest of that community); none
    /// when the community has no route of its own.
    pub fn send_to_community(&self, alert: Alert) {
        if let Some(sink) = alert
            .community
            .as_ref()
            .and_then(|c| self.communities.get(c))
        {
            sink.webhook.send(alert, &self.metrics);
        }
    }

    /// Closes every queue; the returned tasks end once what is queued is sent.
    pub fn close(&mut self) -> Vec<JoinHandle<()>> {
        let mut tasks = std::mem::take(&mut self.retired);
        tasks.extend(self.global.take().map(|s| s.task));
        tasks.extend(self.communities.drain().map(|(_, s)| s.task));
        tasks
    }
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
