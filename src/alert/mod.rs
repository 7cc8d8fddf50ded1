//! Drift alerts: a JSON message to a webhook when a hub starts drifting or failing,
//! and when it resolves, not at every run.
//!
//! [`AlertState`] is the pure part (which transitions happened); [`Webhook`] sends, in
//! its own task, with retries, so a slow or failing receiver never delays
//! reconciliation. The webhook URL is a secret: it is never logged or printed.

pub mod digest;
pub mod expiry;
pub mod news;
pub mod route;

use serde::Serialize;
use std::collections::HashMap;

use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

pub use crate::secret::webhook_url::{UrlError, WebhookUrl};

use crate::metrics::Metrics;
use crate::plan::DriftKind;
use crate::report::{HubReport, Status};
use crate::retry::{self, Failure, RetryPolicy};
use crate::word::count;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Drift,
    Error,
    Roster,
    /// An administrator's `expires` date is near.
    Expiry,
    /// The daily digest (`--digest-at`).
    Digest,
    /// Something else keeps changing a user's admin flag back; the daemon has stopped
    /// changing that user.
    Contested,
    /// An admin made in the hub by someone the roster entitles is kept for a while, soon
    /// ends, or ended (`ui_grants`).
    Provisional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
    /// News, not a state: drift was found and fixed in one run. Opens nothing.
    Remediated,
    /// News, not a state: an administrator's entry expires soon.
    Expiring,
    /// News, not a state: the daily digest.
    Digest,
    /// News, not a state: a provisional administrator kept, ending soon, or ended.
    Provisional,
}

/// The message POSTed to the webhook. `text` is a sentence for people, so a Slack
/// incoming webhook can take the same URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub status: AlertStatus,
    pub hub: Option<String>,
    pub community: Option<String>,
    pub kind: AlertKind,
    pub summary: String,
    pub text: String,
    pub details: serde_json::Value,
}

impl Alert {
    /// An alert about the hub of `report`, saying `words`; its text is cut under
    /// Slack's limit, whatever it lists.
    fn about(report: &HubReport, kind: AlertKind, status: AlertStatus, words: Words) -> Alert {
        let (summary, text, details) = words;
        Alert {
            status,
            hub: Some(report.name.to_string()),
            community: Some(report.community.clone()),
            kind,
            summary,
            text: cap_text(text),
            details,
        }
    }
}

/// Slack truncates (and may refuse) a `text` longer than this; ours stay under it.
pub const MAX_TEXT_CHARS: usize = 3_000;

/// Cuts `text` to fewer than [`MAX_TEXT_CHARS`] characters, on a character boundary.
pub fn cap_text(text: String) -> String {
    if text.chars().count() < MAX_TEXT_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_TEXT_CHARS - 2).collect();
    cut.push('…');
    cut
}

/// Which alerts are firing, to send transitions (and, for Alertmanager, a hub's
/// firing alerts again at each run).
#[derive(Debug, Default)]
pub struct AlertState {
    firing: HashMap<(String, AlertKind), bool>,
    /// Send a hub's firing alerts again after every run, not only when they start.
    repeat_firing: bool,
}

impl AlertState {
    /// `repeat_firing`: see [`AlertFormat::repeats_firing`].
    pub fn new(repeat_firing: bool) -> AlertState {
        AlertState {
            firing: HashMap::new(),
            repeat_firing,
        }
    }

    fn transition(
        &mut self,
        hub: &str,
        kind: AlertKind,
        now: bool,
        repeat: bool,
    ) -> Option<AlertStatus> {
        let was = self
            .firing
            .insert((hub.to_string(), kind), now)
            .unwrap_or(false);
        match (was, now) {
            (false, true) => Some(AlertStatus::Firing),
            (true, true) if repeat => Some(AlertStatus::Firing),
            (true, false) => Some(AlertStatus::Resolved),
            _ => None,
        }
    }

    /// The alerts one hub's run starts or resolves (the news of drift it fixed is
    /// [`crate::alert::news::remediated`]).
    pub fn observe(&mut self, report: &HubReport) -> Vec<Alert> {
        let hub = report.name.to_string();
        // A hub that could not be read says nothing new about contests or drift.
        let read = report.version.is_some();
        let firing = [
            (AlertKind::Error, Some(report.status == Status::Error)),
            // A user whose admin flag something else keeps setting back (fight
            // detection): fires while any is contested, resolves when none is.
            (
                AlertKind::Contested,
                read.then_some(!report.contested.is_empty()),
            ),
            (AlertKind::Drift, read.then_some(report.drift() > 0)),
        ];
        let mut alerts = Vec::new();
        for (kind, now) in firing {
            let repeat = self.repeat_firing;
            let Some(status) = now.and_then(|now| self.transition(&hub, kind, now, repeat)) else {
                continue;
            };
            let words = match kind {
                AlertKind::Error => error_words(report, status),
                AlertKind::Contested => contested_words(report, status),
                AlertKind::Drift => drift_words(report, status),
                AlertKind::Roster
                | AlertKind::Expiry
                | AlertKind::Digest
                | AlertKind::Provisional => {
                    unreachable!("not a hub's state alert")
                }
            };
            alerts.push(Alert::about(report, kind, status, words));
        }
        alerts
    }

    /// The alert a roster (re)load starts or resolves: `problem` is the error, if any.
    pub fn roster(&mut self, path: &str, problem: Option<&str>) -> Option<Alert> {
        let status = self.transition("", AlertKind::Roster, problem.is_some(), false)?;
        let (summary, text) = match status {
            AlertStatus::Firing => (
                "the roster is invalid".to_string(),
                format!(
                    "The roster {path} is invalid; the last good roster stays in force. {}",
                    problem.unwrap_or_default()
                ),
            ),
            _resolved_or_news => (
                "the roster is valid again".to_string(),
                format!("The roster {path} is valid again and in force."),
            ),
        };
        Some(Alert {
            status,
            hub: None,
            community: None,
            kind: AlertKind::Roster,
            summary,
            // The problems can be many.
            text: cap_text(text),
            details: serde_json::json!({ "path": path, "error": problem }),
        })
    }

    /// Forgets a hub that left the roster (its alerts are not resolved by it).
    pub fn forget_hub(&mut self, hub: &str) {
        self.firing.retain(|(h, _), _| h != hub);
    }
}

/// What an alert says: its summary, its text and its details.
type Words = (String, String, serde_json::Value);

fn error_words(report: &HubReport, status: AlertStatus) -> Words {
    let (hub, community) = (&report.name, &report.community);
    let (summary, text) = match status {
        AlertStatus::Firing => (
            format!("cannot sync hub {hub}"),
            format!(
                "jupyterhub-admin-sync cannot sync hub {hub} ({community}): {}",
                report.error.as_deref().unwrap_or_default()
            ),
        ),
        _resolved_or_news => (
            format!("hub {hub} syncs again"),
            format!("jupyterhub-admin-sync syncs hub {hub} ({community}) again."),
        ),
    };
    let details = serde_json::json!({
        "error": report.error,
        "error_kind": report.error_kind,
    });
    (summary, text, details)
}

fn contested_words(report: &HubReport, status: AlertStatus) -> Words {
    let (hub, community) = (&report.name, &report.community);
    let users: Vec<&str> = report.contested.iter().map(|c| c.user.as_str()).collect();
    let (summary, text) = match status {
        AlertStatus::Firing => (
            format!("admin of {} on hub {hub} is contested", users.join(", ")),
            format!(
                "On hub {hub} ({community}), something else keeps changing the admin flag of {} back after jupyterhub-admin-sync changes it, so it has stopped changing them and reports the drift instead. {}",
                users.join(", "),
                report
                    .contested
                    .iter()
                    .map(|c| c.reason.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        _resolved_or_news => (
            format!("no admin flag is contested on hub {hub}"),
            format!("On hub {hub} ({community}), no admin flag is contested any more."),
        ),
    };
    let details = serde_json::json!({ "contested": report.contested });
    (summary, text, details)
}

fn drift_words(report: &HubReport, status: AlertStatus) -> Words {
    let (hub, community) = (&report.name, &report.community);
    let lists = DriftKind::ALL.map(|kind| (kind, report.outstanding_with_paths(kind)));
    let (summary, text) = match status {
        AlertStatus::Firing => {
            let drift = report.drift();
            let parts: Vec<String> = lists
                .iter()
                .filter(|(_, list)| !list.is_empty())
                .map(|(kind, list)| {
                    format!("{} {} ({})", list.len(), kind.label(), list.join(", "))
                })
                .collect();
            (
                format!(
                    "admins of hub {hub} drifted: {}",
                    count(drift, "difference")
                ),
                format!(
                    "Admins of hub {hub} ({community}) drifted from the roster: {} [policy {}].",
                    parts.join(", "),
                    report.rules.policy
                ),
            )
        }
        _resolved_or_news => (
            format!("admins of hub {hub} match the roster"),
            format!("Admins of hub {hub} ({community}) match the roster again."),
        ),
    };
    let mut details = serde_json::json!({ "policy": report.rules.policy });
    for (kind, list) in lists {
        details[kind.as_str()] = serde_json::json!(list);
    }
    (summary, text, details)
}

/// Why the webhook cannot be used, or did not take an alert. Never holds the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("cannot set up the webhook client: {0}")]
    Client(String),
    #[error("cannot reach the webhook: {0}")]
    Unreachable(String),
    #[error("the webhook answered HTTP {0}")]
    Refused(reqwest::StatusCode),
}

/// The body POSTed to a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AlertFormat {
    /// The [`Alert`] as JSON; its `text` is what a Slack incoming webhook shows.
    #[default]
    Slack,
    /// A JSON list of one alert as Alertmanager's `POST /api/v2/alerts` takes it.
    Alertmanager,
}

impl AlertFormat {
    /// Alertmanager ends an alert that is not sent again before its `endsAt` (or its
    /// `resolve_timeout`), as Prometheus re-sends its own: a hub's firing alerts go
    /// again after every run of the hub, each lasting [`firing_lasts`] from then. A
    /// chat channel gets each transition once.
    pub fn repeats_firing(self) -> bool {
        self == AlertFormat::Alertmanager
    }
}

/// How long a firing Alertmanager alert lasts unless sent again: four run intervals,
/// as Prometheus gives its alerts four evaluation intervals. A hub that leaves the
/// roster, or a daemon that stops, lets its alerts end by themselves.
pub fn firing_lasts(interval: Duration) -> Duration {
    interval * 4
}

/// Sends alerts from a queue in its own task.
#[derive(Debug, Clone)]
pub struct Webhook {
    route: String,
    queue: mpsc::Sender<Alert>,
}

/// How many alerts may wait to be sent before new ones are dropped (and counted).
const QUEUE: usize = 1024;

impl Webhook {
    /// Starts the sending task; it ends when every `Webhook` clone is dropped and the
    /// queue is drained.
    pub fn start(
        route: &str,
        url: WebhookUrl,
        format: AlertFormat,
        firing_lasts: Duration,
        retry: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<(Webhook, tokio::task::JoinHandle<()>), WebhookError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jupyterhub-admin-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Client(e.without_url().to_string()))?;
        let (tx, mut rx) = mpsc::channel::<Alert>(QUEUE);
        let name = route.to_string();
        let task = tokio::spawn(async move {
            while let Some(alert) = rx.recv().await {
                let body = body(&alert, format, SystemTime::now(), firing_lasts);
                match send(&client, &url, &retry, &body).await {
                    Ok(()) => {
                        tracing::info!(route = %name, kind = ?alert.kind, status = ?alert.status, hub = alert.hub.as_deref().unwrap_or("-"), "alert sent")
                    }
                    Err(error) => {
                        metrics.webhook_failed(&name);
                        tracing::error!(route = %name, kind = ?alert.kind, status = ?alert.status, hub = alert.hub.as_deref().unwrap_or("-"), %error, "the alert webhook did not take the alert");
                    }
                }
            }
        });
        Ok((
            Webhook {
                route: route.to_string(),
                queue: tx,
            },
            task,
        ))
    }

    /// Queues an alert; never waits.
    pub fn send(&self, alert: Alert, metrics: &Metrics) {
        if self.queue.try_send(alert).is_err() {
            metrics.webhook_failed(&self.route);
            tracing::error!(route = %self.route, "the alert queue is full; an alert was dropped");
        }
    }
}

/// How long Alertmanager should keep a one-off message (remediated, expiring) before
/// it resolves by itself.
const NEWS_LASTS: Duration = Duration::from_secs(3600);

/// The body of `alert` in `format`, sent at `now`; a firing Alertmanager alert lasts
/// `firing_lasts` unless sent again.
pub fn body(
    alert: &Alert,
    format: AlertFormat,
    now: SystemTime,
    firing_lasts: Duration,
) -> serde_json::Value {
    match format {
        AlertFormat::Slack => serde_json::to_value(alert).unwrap_or_default(),
        AlertFormat::Alertmanager => {
            let at = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
            let name = match alert.kind {
                // News of drift fixed is no page: its own name, to route apart.
                AlertKind::Drift if alert.status == AlertStatus::Remediated => {
                    "JupyterHubAdminRemediated"
                }
                AlertKind::Drift => "JupyterHubAdminDrift",
                AlertKind::Error => "JupyterHubAdminSyncError",
                AlertKind::Roster => "JupyterHubAdminRosterInvalid",
                AlertKind::Expiry => "JupyterHubAdminExpiring",
                AlertKind::Digest => "JupyterHubAdminDigest",
                AlertKind::Contested => "JupyterHubAdminContested",
                AlertKind::Provisional => "JupyterHubAdminProvisional",
            };
            let mut labels = serde_json::json!({
                "alertname": name,
                "kind": alert.kind,
                "service": "jupyterhub-admin-sync",
            });
            let ends = match alert.status {
                // Sent again after each run while it fires; ended by its resolved
                // message, or by itself when no longer sent.
                AlertStatus::Firing => now + firing_lasts,
                AlertStatus::Resolved => now,
                AlertStatus::Remediated
                | AlertStatus::Expiring
                | AlertStatus::Digest
                | AlertStatus::Provisional => {
                    // News is an alert of its own (its `status` a label), ending by
                    // itself; firing and resolved must share labels to be one alert.
                    labels["status"] = serde_json::to_value(alert.status).unwrap_or_default();
                    now + NEWS_LASTS
                }
            };
            if let Some(hub) = &alert.hub {
                labels["hub"] = hub.clone().into();
            }
            if let Some(community) = &alert.community {
                labels["community"] = community.clone().into();
            }
            let one = serde_json::json!({
                "labels": labels,
                "annotations": {
                    "summary": alert.summary,
                    "description": alert.text,
                    "details": alert.details.to_string(),
                },
                "startsAt": at(now),
                "endsAt": at(ends),
            });
            serde_json::json!([one])
        }
    }
}

async fn send(
    client: &reqwest::Client,
    url: &WebhookUrl,
    policy: &RetryPolicy,
    body: &serde_json::Value,
) -> Result<(), WebhookError> {
    // Alerts queued at shutdown are still delivered, within the retry policy.
    let never = tokio_util::sync::CancellationToken::new();
    retry::retry(
        policy,
        &never,
        || async {
            let response = client
                .post(url.expose())
                .json(body)
                .send()
                .await
                .map_err(|e| Failure::Transient {
                    error: WebhookError::Unreachable(e.without_url().to_string()),
                    retry_after: None,
                })?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else if status.as_u16() == 429 || status.is_server_error() {
                Err(Failure::Transient {
                    error: WebhookError::Refused(status),
                    retry_after: None,
                })
            } else {
                Err(Failure::Permanent(WebhookError::Refused(status)))
            }
        },
        |error, wait| tracing::warn!(%error, retry_in = ?wait, "alert not delivered yet; will retry"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Standing};
    use crate::report::ChangeReport;

    fn report(status: Status, drift: &[(&str, Action)]) -> HubReport {
        let changes = drift
            .iter()
            .map(|(u, a)| ChangeReport::sample(*a, u, Standing::Undeclared, false))
            .collect();
        let mut report = HubReport::sample(status, changes);
        report.error = (status == Status::Error).then(|| "GET /users: HTTP 503".to_string());
        report
    }

    #[test]
    fn drift_fires_once_then_resolves() {
        let mut s = AlertState::default();
        let drifting = report(
            Status::Drift,
            &[("mallory", Action::Revoke), ("carol", Action::Create)],
        );
        let fired = s.observe(&drifting);
        assert_eq!(fired.len(), 1);
        let a = &fired[0];
        assert_eq!((a.status, a.kind), (AlertStatus::Firing, AlertKind::Drift));
        assert_eq!(a.hub.as_deref(), Some("climate-prod"));
        assert_eq!(
            a.text,
            "Admins of hub climate-prod (climate-lab) drifted from the roster: 1 missing (carol), 1 undeclared (mallory) [policy grant]."
        );
        assert_eq!(a.details["undeclared"], serde_json::json!(["mallory"]));
        assert!(
            s.observe(&drifting).is_empty(),
            "no repeat while still drifting"
        );
        let resolved = s.observe(&report(Status::InSync, &[]));
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].status, AlertStatus::Resolved);
        assert!(s.observe(&report(Status::InSync, &[])).is_empty());
    }

    #[test]
    fn an_unreadable_hub_fires_error_and_keeps_drift_state() {
        let mut s = AlertState::default();
        s.observe(&report(Status::Drift, &[("m", Action::Revoke)]));
        let mut down = report(Status::Error, &[]);
        down.version = None;
        let fired = s.observe(&down);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(
            (fired[0].status, fired[0].kind),
            (AlertStatus::Firing, AlertKind::Error)
        );
        assert!(fired[0].text.contains("HTTP 503"));
        let back = s.observe(&report(Status::InSync, &[]));
        let kinds: Vec<_> = back.iter().map(|a| (a.kind, a.status)).collect();
        assert_eq!(
            kinds,
            [
                (AlertKind::Error, AlertStatus::Resolved),
                (AlertKind::Drift, AlertStatus::Resolved)
            ]
        );
    }

    #[test]
    fn roster_alerts() {
        let mut s = AlertState::default();
        assert!(s.roster("r.yaml", None).is_none());
        let a = s.roster("r.yaml", Some("3 problems")).unwrap();
        assert_eq!(
            (a.status, a.kind, a.hub.clone()),
            (AlertStatus::Firing, AlertKind::Roster, None)
        );
        assert!(s.roster("r.yaml", Some("3 problems")).is_none());
        assert_eq!(
            s.roster("r.yaml", None).unwrap().status,
            AlertStatus::Resolved
        );
    }

    #[test]
    fn alertmanager_bodies() {
        let mut s = AlertState::default();
        let fired = s.observe(&report(Status::Drift, &[("m", Action::Revoke)]));
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let lasts = firing_lasts(Duration::from_secs(300));
        let b = body(&fired[0], AlertFormat::Alertmanager, now, lasts);
        assert_eq!(b[0]["labels"]["alertname"], "JupyterHubAdminDrift");
        assert_eq!(b[0]["labels"]["hub"], "climate-prod");
        assert_eq!(b[0]["labels"]["community"], "climate-lab");
        assert!(b[0]["labels"].get("status").is_none());
        assert_eq!(b[0]["startsAt"], "2027-01-15T08:00:00Z");
        assert_eq!(b[0]["endsAt"], "2027-01-15T08:20:00Z", "four intervals on");
        assert_eq!(b[0]["annotations"]["description"], fired[0].text);
        let resolved = s.observe(&report(Status::InSync, &[]));
        let b = body(&resolved[0], AlertFormat::Alertmanager, now, lasts);
        assert_eq!(b[0]["endsAt"], "2027-01-15T08:00:00Z");
        let mut news = fired[0].clone();
        news.status = AlertStatus::Remediated;
        let b = body(&news, AlertFormat::Alertmanager, now, lasts);
        assert_eq!(b[0]["labels"]["alertname"], "JupyterHubAdminRemediated");
        assert_eq!(b[0]["labels"]["status"], "remediated");
        assert_eq!(
            b[0]["endsAt"], "2027-01-15T09:00:00Z",
            "news ends by itself"
        );
        let slack = body(&resolved[0], AlertFormat::Slack, now, lasts);
        assert_eq!(slack["status"], "resolved");
        assert_eq!(slack["text"], resolved[0].text);
    }

    #[test]
    fn for_alertmanager_a_hub_s_firing_alerts_go_again_after_every_run() {
        let drift = report(Status::Drift, &[("m", Action::Revoke)]);
        let mut chat = AlertState::new(AlertFormat::Slack.repeats_firing());
        let mut manager = AlertState::new(AlertFormat::Alertmanager.repeats_firing());
        for run in 0..3 {
            let once = if run == 0 { 1 } else { 0 };
            assert_eq!(
                chat.observe(&drift).len(),
                once,
                "run {run}: a transition once"
            );
            let again = manager.observe(&drift);
            assert_eq!(again.len(), 1, "run {run}: every run");
            assert_eq!(again[0].status, AlertStatus::Firing);
        }
        let resolved = manager.observe(&report(Status::InSync, &[]));
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].status, AlertStatus::Resolved);
        assert!(manager.observe(&report(Status::InSync, &[])).is_empty());
        // A roster alert is a transition in either format.
        assert!(manager.roster("r.yaml", Some("bad")).is_some());
        assert!(manager.roster("r.yaml", Some("bad")).is_none());
    }

    #[test]
    fn the_url_never_prints() {
        let url =
            WebhookUrl::parse("https://hooks.example.org/services/T000/B000/SECRETSECRET").unwrap();
        assert_eq!(format!("{url:?}"), "WebhookUrl([REDACTED])");
        assert!(WebhookUrl::parse("ftp://x").is_err());
        let err = WebhookUrl::parse("not a url SECRET")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("SECRET"), "{err}");
    }

    #[test]
    fn a_contested_user_fires_once_with_the_cause_and_resolves_when_cleared() {
        let mut s = AlertState::default();
        let mut r = report(Status::Drift, &[("mallory", Action::Revoke)]);
        r.contested = vec![crate::report::ContestedReport {
            user: "mallory".into(),
            since: 0,
            new: true,
            reason: "The hub's config likely lists mallory in c.Authenticator.admin_users.".into(),
        }];
        let fired: Vec<_> = s
            .observe(&r)
            .into_iter()
            .filter(|a| a.kind == AlertKind::Contested)
            .collect();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].status, AlertStatus::Firing);
        assert!(fired[0].text.contains("admin_users"), "{}", fired[0].text);
        assert!(
            s.observe(&r).iter().all(|a| a.kind != AlertKind::Contested),
            "once"
        );
        r.contested.clear();
        let resolved: Vec<_> = s
            .observe(&r)
            .into_iter()
            .filter(|a| a.kind == AlertKind::Contested)
            .collect();
        assert_eq!(resolved[0].status, AlertStatus::Resolved);
    }
}
