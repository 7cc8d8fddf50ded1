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
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

use crate::alert::{Alert, AlertFormat, Webhook, WebhookError};
use crate::metrics::{Metrics, RouteLabel};
use crate::retry::RetryPolicy;
use crate::roster::Roster;
use crate::secret::webhook_url::WebhookUrl;

/// The name of the route every message goes to.
pub const GLOBAL: &str = "global";

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
    firing_lasts: Duration,
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
        firing_lasts: Duration,
        retry: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Routes, WebhookError> {
        let mut routes = Routes {
            global: None,
            communities: HashMap::new(),
            format,
            firing_lasts,
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
            self.firing_lasts,
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
        if let Some(sink) = self.community_sink(&alert) {
            sink.webhook.send(alert.clone(), &self.metrics);
        }
        if let Some(global) = &self.global {
            global.webhook.send(alert, &self.metrics);
        }
    }

    /// Queues a digest where it belongs: a community's on its own route only (none
    /// when the community has no route of its own), the fleet's on the global route.
    pub fn send_digest(&self, alert: Alert) {
        if alert.community.is_none() {
            self.send(alert);
        } else if let Some(sink) = self.community_sink(&alert) {
            sink.webhook.send(alert, &self.metrics);
        }
    }

    /// The route of the alert's community, if it has one.
    fn community_sink(&self, alert: &Alert) -> Option<&Sink> {
        let community = alert.community.as_ref()?;
        self.communities.get(community)
    }

    /// Closes every queue; the returned tasks end once what is queued is sent.
    pub fn close(&mut self) -> Vec<JoinHandle<()>> {
        let mut tasks = std::mem::take(&mut self.retired);
        tasks.extend(self.global.take().map(|s| s.task));
        tasks.extend(self.communities.drain().map(|(_, s)| s.task));
        tasks
    }
}
