//! The long-running mode: every selected hub reconciled on its own schedule, the
//! roster reloaded when it changes, and probes, metrics, alerts and the audit trail
//! kept up to date.
//!
//! One task per hub: it waits for its turn (interval with jitter, or at once when the
//! roster changes), takes a permit from the concurrency bound, reconciles, and records
//! the report. A supervisor polls the roster file (a Kubernetes ConfigMap update is a
//! symlink swap, which a poll sees where a file watch may not), reloads it on change
//! or SIGHUP (which also runs every hub at once), keeps the last good roster when a new
//! one is invalid, and on shutdown lets in-flight runs finish within a grace period.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alert::{AlertState, Webhook, WebhookUrl};
use crate::audit::AuditLog;
use crate::hub::{ClientOptions, HubClient};
use crate::metrics::Metrics;
use crate::report::{HubReport, Mode, Status};
use crate::roster::{HubSpec, Roster};
use crate::server::{self, Health};
use crate::token::TokenSource;

/// Everything the daemon is told on the command line.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub config: PathBuf,
    /// Only these hubs; empty means all.
    pub hubs: Vec<String>,
    pub interval: Duration,
    /// Each wait is `interval` × (1 ± `jitter`).
    pub jitter: f64,
    pub concurrency: usize,
    pub client: ClientOptions,
    pub listen: Option<SocketAddr>,
    pub webhook: Option<WebhookUrl>,
    pub audit_log: Option<PathBuf>,
    /// How often the roster file (and token files) are checked for changes.
    pub reload_poll: Duration,
    /// How long in-flight runs may take to finish after a shutdown signal.
    pub grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Roster(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Audit(#[from] crate::audit::AuditError),
    #[error("{0}")]
    Webhook(String),
}

/// What hub tasks share.
struct Shared {
    options: DaemonOptions,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    alerts: Mutex<AlertState>,
    /// Taken (and so closed) at shutdown.
    webhook: Mutex<Option<Webhook>>,
    audit: Option<Mutex<AuditLog>>,
    permits: Semaphore,
    /// HTTP clients shared by the hubs (one per CA bundle).
    http: crate::hub::HttpClients,
    /// Hubs of the first roster that have not finished their first run.
    first_runs_left: AtomicUsize,
}

impl Shared {
    /// Metrics, alerts and audit for one hub's run.
    fn record(&self, report: &HubReport) {
        self.metrics.observe(report);
        let alerts = self
            .alerts
            .lock()
            .map(|mut state| state.observe(report))
            .unwrap_or_default();
        self.send_alerts(alerts);
        if let Some(audit) = &self.audit {
            let written = audit
                .lock()
                .map_err(|_| "the audit log lock is poisoned".to_string())
                .and_then(|mut log| log.record(Mode::Daemon, report).map_err(|e| e.to_string()));
            if let Err(error) = written {
                self.metrics.audit_failures.inc();
                tracing::error!(hub = %report.name, %error, "cannot write the audit log; reconciling goes on");
            }
        }
        match report.status {
            Status::Error => {}
            Status::Drift => {
                tracing::info!(hub = %report.name, drift = report.drift(), "run finished with drift left by policy")
            }
            status => tracing::debug!(hub = %report.name, status = status.as_str(), "run finished"),
        }
    }

    fn send_alerts(&self, alerts: impl IntoIterator<Item = crate::alert::Alert>) {
        if let Ok(webhook) = self.webhook.lock()
            && let Some(webhook) = webhook.as_ref()
        {
            for alert in alerts {
                webhook.send(alert, &self.metrics);
            }
        }
    }

    fn first_run_done(&self) {
        let before = self.first_runs_left.fetch_sub(1, Ordering::SeqCst);
        if before == 1 {
            self.health.set_ready();
            tracing::info!("first run over every hub finished; ready");
        }
    }

    fn selected<'a>(&self, roster: &'a Roster) -> Vec<&'a HubSpec> {
        roster
            .hubs
            .iter()
            .filter(|h| {
                self.options.hubs.is_empty()
                    || self
                        .options
                        .hubs
                        .iter()
                        .any(|n| crate::roster::same_hub_name(n, &h.name))
            })
            .collect()
    }

    fn roster_result(&self, problem: Option<&str>) {
        self.metrics.roster_valid.set(i64::from(problem.is_none()));
        let alert = self.alerts.lock().ok().and_then(|mut state| {
            state.roster(&self.options.config.display().to_string(), problem)
        });
        self.send_alerts(alert);
    }
}

/// What identifies the roster on disk: its bytes and the identity of token files.
fn fingerprint(options: &DaemonOptions, roster: &Roster) -> u64 {
    let mut h = DefaultHasher::new();
    match std::fs::read(&options.config) {
        Ok(bytes) => bytes.hash(&mut h),
        Err(e) => e.kind().to_string().hash(&mut h),
    }
    for hub in &roster.hubs {
        if let TokenSource::File(path) = &hub.token_source {
            file_identity(path).hash(&mut h);
        }
    }
    h.finish()
}

#[cfg(unix)]
fn file_identity(path: &std::path::Path) -> Option<(u64, u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

#[cfg(not(unix))]
fn file_identity(path: &std::path::Path) -> Option<(u64, u64, u64, i64, i64)> {
    std::fs::metadata(path).ok().map(|m| (0, 0, m.len(), 0, 0))
}

/// True when a client built for `a` serves `b` as well.
fn same_client(a: &HubSpec, b: &HubSpec) -> bool {
    a.api_url == b.api_url && a.token.expose() == b.token.expose() && a.ca_file == b.ca_file
}

fn jittered(interval: Duration, jitter: f64) -> Duration {
    let factor = 1.0 + jitter * (fastrand::f64() * 2.0 - 1.0);
    interval.mul_f64(factor.max(0.0))
}

/// One hub's loop, until the hub leaves the roster or `stop` is cancelled.
async fn hub_loop(
    shared: Arc<Shared>,
    name: String,
    mut roster_rx: watch::Receiver<Arc<Roster>>,
    stop: CancellationToken,
    mut first: bool,
) {
    let mut client: Option<(HubSpec, HubClient)> = None;
    // Spread the first runs a little so many hubs do not start at the same instant.
    let spread = shared
        .options
        .interval
        .mul_f64(shared.options.jitter)
        .min(Duration::from_secs(2));
    tokio::select! {
        _ = tokio::time::sleep(spread.mul_f64(fastrand::f64())) => {}
        _ = stop.cancelled() => return,
    }
    loop {
        let roster = roster_rx.borrow_and_update().clone();
        let Some(spec) = roster.hub(&name).cloned() else {
            tracing::info!(hub = %name, "the hub left the roster; no longer reconciled");
            shared.metrics.forget_hub(&name);
            if let Ok(mut alerts) = shared.alerts.lock() {
                alerts.forget_hub(&name);
            }
            if first {
                shared.first_run_done();
            }
            return;
        };
        if !client
            .as_ref()
            .is_some_and(|(old, _)| same_client(old, &spec))
        {
            match HubClient::shared(&spec, &shared.options.client, &shared.http) {
                Ok(c) => client = Some((spec.clone(), c)),
                Err(error) => {
                    tracing::error!(hub = %name, %error, "cannot set up the hub's client");
                    client = None;
                }
            }
        }
        let permit = tokio::select! {
            permit = shared.permits.acquire() => permit,
            _ = stop.cancelled() => return,
        };
        let report = match &client {
            Some((_, c)) => crate::run::reconcile(&roster, &spec, c, Mode::Daemon, &stop).await,
            None => {
                crate::run::setup_failure(&spec, "cannot set up the hub's client (see the log)")
            }
        };
        drop(permit);
        shared.record(&report);
        if first {
            first = false;
            shared.first_run_done();
        }
        let wait = jittered(shared.options.interval, shared.options.jitter);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = roster_rx.changed() => if changed.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

/// Runs the daemon until `shutdown` is cancelled. `reload` forces a roster reload
/// (SIGHUP). Returns an error only when it cannot start.
pub async fn run(
    options: DaemonOptions,
    shutdown: CancellationToken,
    reload: Arc<Notify>,
) -> Result<(), DaemonError> {
    let roster = Roster::load_selected(&options.config, &options.hubs)
        .map_err(|e| DaemonError::Roster(e.to_string()))?;
    for warning in &roster.warnings {
        tracing::warn!("{warning}");
    }

    let metrics = Arc::new(Metrics::new());
    let stuck_after = (options.reload_poll * 10).max(Duration::from_secs(60));
    let health = Arc::new(Health::new(stuck_after));
    health.beat();
    metrics.roster_valid.set(1);

    let server_stop = CancellationToken::new();
    let server = match options.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| DaemonError::Listen { addr, source })?;
            let local = listener.local_addr().unwrap_or(addr);
            tracing::info!(listen = %local, "serving /healthz, /readyz and /metrics");
            Some(tokio::spawn(server::serve(
                listener,
                metrics.clone(),
                health.clone(),
                server_stop.clone(),
            )))
        }
        None => None,
    };
    let audit = match &options.audit_log {
        Some(path) => Some(Mutex::new(AuditLog::open(path)?)),
        None => None,
    };
    let (webhook, webhook_task) = match &options.webhook {
        Some(url) => {
            let (w, t) = Webhook::start(url.clone(), options.client.retry, metrics.clone())
                .map_err(DaemonError::Webhook)?;
            (Some(w), Some(t))
        }
        None => (None, None),
    };

    let shared = Arc::new(Shared {
        permits: Semaphore::new(options.concurrency.max(1)),
        http: crate::hub::HttpClients::default(),
        first_runs_left: AtomicUsize::new(0),
        options,
        metrics,
        health,
        alerts: Mutex::new(AlertState::default()),
        webhook: Mutex::new(webhook),
        audit,
    });
    let initial: Vec<String> = shared
        .selected(&roster)
        .iter()
        .map(|h| h.name.clone())
        .collect();
    shared
        .first_runs_left
        .store(initial.len(), Ordering::SeqCst);
    if initial.is_empty() {
        shared.health.set_ready();
    }
    tracing::info!(
        roster = %shared.options.config.display(),
        hubs = initial.len(),
        interval = %humantime::format_duration(shared.options.interval),
        "daemon started"
    );

    let mut last_fingerprint = fingerprint(&shared.options, &roster);
    let (roster_tx, roster_rx) = watch::channel(Arc::new(roster));
    let stop = CancellationToken::new();
    let mut tasks: HashMap<String, JoinHandle<()>> = HashMap::new();
    for name in initial {
        let task = tokio::spawn(hub_loop(
            shared.clone(),
            name.clone(),
            roster_rx.clone(),
            stop.clone(),
            true,
        ));
        tasks.insert(name, task);
    }

    loop {
        shared.health.beat();
        let forced = tokio::select! {
            _ = tokio::time::sleep(shared.options.reload_poll) => false,
            _ = reload.notified() => true,
            _ = shutdown.cancelled() => break,
        };
        let current = roster_tx.borrow().clone();
        let now = fingerprint(&shared.options, &current);
        if !forced && now == last_fingerprint {
            continue;
        }
        last_fingerprint = now;
        match Roster::load_selected(&shared.options.config, &shared.options.hubs) {
            Ok(new) => {
                for warning in &new.warnings {
                    tracing::warn!("{warning}");
                }
                shared.metrics.roster_reloads.inc();
                shared.roster_result(None);
                let names: Vec<String> = shared
                    .selected(&new)
                    .iter()
                    .map(|h| h.name.clone())
                    .collect();
                tracing::info!(hubs = names.len(), forced, "roster reloaded");
                roster_tx.send_replace(Arc::new(new));
                tasks.retain(|_, t| !t.is_finished());
                for name in names {
                    if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(name) {
                        let name = slot.key().clone();
                        slot.insert(tokio::spawn(hub_loop(
                            shared.clone(),
                            name,
                            roster_rx.clone(),
                            stop.clone(),
                            false,
                        )));
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "the new roster is invalid; the last good roster stays in force");
                shared.roster_result(Some(&error.to_string()));
                if forced {
                    // SIGHUP still means "run now": with the last good roster.
                    roster_tx.send_modify(|_| {});
                }
            }
        }
    }

    // Shutdown: no new runs; in-flight ones finish within the grace period.
    tracing::info!("shutting down: letting in-flight runs finish");
    stop.cancel();
    let deadline = tokio::time::Instant::now() + shared.options.grace;
    for (name, mut task) in tasks {
        match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(hub = %name, "a run did not finish within the grace period; stopped");
                task.abort();
            }
        }
    }
    // Closing the queue ends the webhook task once what is queued is sent.
    if let Ok(mut webhook) = shared.webhook.lock() {
        webhook.take();
    }
    if let Some(mut task) = webhook_task
        && tokio::time::timeout_at(deadline + Duration::from_secs(1), &mut task)
            .await
            .is_err()
    {
        tracing::warn!("alerts still queued at shutdown were dropped");
        task.abort();
    }
    server_stop.cancel();
    if let Some(server) = server {
        let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    }
    tracing::info!("stopped");
    Ok(())
}
