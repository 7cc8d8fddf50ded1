//! The long-running mode: every selected hub reconciled on its own schedule, the
//! roster reloaded when it changes, and probes, metrics, alerts and the audit trail
//! kept up to date.
//!
//! A [`Supervisor`] owns one task per hub (`hub_task`) and does four things, each a
//! method: load or reload the roster (polled, since a Kubernetes ConfigMap update is
//! a symlink swap that a poll sees where a file watch may not; SIGHUP forces it and
//! runs every hub at once), start tasks for new hubs, retire the tasks of removed hubs
//! (and their metric series and alerts), and drain on shutdown. Cancellation is one
//! tree: shutdown cancels the supervisor's token, whose children are the hub tasks'
//! tokens; a cancelled token also ends the hub client's waits between retries.
//!
//! How a hub is reached is the [`Connect`] parameter: HTTP in production
//! ([`HttpConnect`]), memory in tests, so the schedule is tested on paused time.

pub mod fights;
mod hub_task;
pub mod server;
pub mod state;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alert::digest::{Digest, TimeOfDay};
use crate::alert::expiry::ExpiryNotices;
use crate::alert::route::Routes;
use crate::alert::{Alert, AlertFormat, AlertState, WebhookError, WebhookUrl};
use crate::audit::Journal;
use crate::date::{Clock, Date, SystemClock};
use crate::hub::{ClientOptions, HttpClients, HubClient, HubError, HubRead, HubWrite};
use crate::metrics::Metrics;
use crate::name::HubName;
use crate::outcome::ErrorKind;
use crate::report::{HubReport, Mode, Status};
use crate::roster::{HubSpec, Roster};
use server::Health;

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
    /// The global alert route; communities may add their own in the roster.
    pub webhook: Option<WebhookUrl>,
    /// The body alerts are POSTed as.
    pub alert_format: AlertFormat,
    pub audit_log: Option<PathBuf>,
    /// How long to wait for another writer to let go of the audit log.
    pub audit_lock_wait: Duration,
    /// How often the roster file (and token and CA files) are checked for changes.
    pub reload_poll: Duration,
    /// How long in-flight runs may take to finish after a shutdown signal.
    pub grace: Duration,
    /// How many days before an administrator's `expires` date the community is told.
    pub expiry_warning_days: i64,
    /// When (UTC) the daily digest goes out; none: no digest.
    pub digest_at: Option<TimeOfDay>,
    /// Send the digest even when every hub is in sync.
    pub digest_always: bool,
    /// Where each hub's fight state is kept across restarts (none: in memory only).
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Roster(#[from] crate::roster::RosterError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Audit(#[from] crate::audit::AuditError),
    #[error("{0}")]
    Webhook(#[from] WebhookError),
    #[error("{0}")]
    StateDirNeeded(String),
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `addr` until the returned token is
/// cancelled.
async fn listen(
    addr: SocketAddr,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
) -> Result<
    (
        CancellationToken,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ),
    DaemonError,
> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Listen { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    tracing::info!(listen = %local, "serving /healthz, /readyz and /metrics");
    let stop = CancellationToken::new();
    let task = tokio::spawn(server::serve(
        listener,
        metrics.clone(),
        health.clone(),
        stop.clone(),
    ));
    Ok((stop, task))
}

/// Why the daemon cannot run `roster` without `--state-dir`: hubs that keep admins
/// made in them (`ui_grants`), whose records live there. None when it can.
fn state_dir_needed(roster: &Roster, options: &DaemonOptions) -> Option<String> {
    if options.state_dir.is_some() {
        return None;
    }
    let hubs: Vec<String> = roster
        .selected(&options.hubs)
        .filter(|h| h.settings.ui_grants.is_some())
        .map(|h| crate::name::printable(h.name.as_str()))
        .collect();
    if hubs.is_empty() {
        return None;
    }
    let one = hubs.len() == 1;
    Some(format!(
        "{} {} keep{} admins made in the hub for a while (ui_grants), and the daemon keeps their records in its state: give --state-dir DIR (JUPYTERHUB_ADMIN_SYNC_STATE_DIR), or set ui_grants: {{keep_for: 0}}",
        if one { "hub" } else { "hubs" },
        hubs.join(", "),
        if one { "s" } else { "" },
    ))
}

/// How the daemon reaches a hub.
pub trait Connect: Send + Sync + 'static {
    type Hub: HubRead + HubWrite + 'static;

    /// A reader and writer for `spec`'s hub whose retries end when `stop` is cancelled.
    fn connect(&self, spec: &HubSpec, stop: &CancellationToken) -> Result<Self::Hub, HubError>;
}

/// Hubs over HTTP, sharing one HTTP client per CA bundle.
#[derive(Debug)]
pub struct HttpConnect {
    options: ClientOptions,
    clients: HttpClients,
}

impl HttpConnect {
    pub fn new(options: ClientOptions) -> HttpConnect {
        HttpConnect {
            options,
            clients: HttpClients::default(),
        }
    }
}

impl Connect for HttpConnect {
    type Hub = HubClient;

    fn connect(&self, spec: &HubSpec, stop: &CancellationToken) -> Result<HubClient, HubError> {
        HubClient::shared(spec, &self.options, &self.clients).map(|c| c.with_stop(stop.clone()))
    }
}

/// What hub tasks share.
struct Shared<C> {
    options: DaemonOptions,
    connect: C,
    /// What day it is (expiry, digest).
    clock: Arc<dyn Clock>,
    /// The daily digest, when asked for: the hubs' last states.
    digest: Option<Mutex<Digest>>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    alerts: Mutex<AlertState>,
    /// The global and community alert routes; closed at shutdown.
    routes: Mutex<Routes>,
    /// The audit trail (`--audit-log`); each hub's run writes through it.
    audit: Option<Journal>,
    permits: Semaphore,
    /// Hubs of the first roster that have not finished their first run.
    first_runs_left: AtomicUsize,
    /// Cancelled at shutdown; the parent of every hub task's token.
    stopping: CancellationToken,
    /// Bumped at each SIGHUP: hub tasks then forget their fights.
    fights_epoch: std::sync::atomic::AtomicU64,
    /// Each hub's provisional administrators after its last run, so that a grant the
    /// same person made on every hub of a community is told as the community's.
    provisional: Mutex<std::collections::BTreeMap<String, crate::plan::provisional::Records>>,
}

impl<C> Shared<C> {
    /// Metrics and alerts for one hub's run (its audit lines are written by then).
    fn record(&self, report: &HubReport) {
        self.metrics.observe(report);
        if report.error_kind == Some(ErrorKind::Audit) {
            self.metrics.audit_failures.inc();
        }
        if let Some(digest) = &self.digest
            && let Ok(mut digest) = digest.lock()
        {
            digest.observe(report);
        }
        // The news of drift this run fixed, then the state alerts it starts or ends.
        let mut alerts: Vec<Alert> = crate::alert::news::remediated(report).into_iter().collect();
        alerts.extend(crate::alert::news::provisional(report));
        alerts.extend(
            self.alerts
                .lock()
                .map(|mut state| state.observe(report))
                .unwrap_or_default(),
        );
        self.send_alerts(alerts);
        match report.status {
            Status::Error => {}
            Status::Drift => {
                tracing::info!(hub = %report.name, drift = report.drift(), "run finished with drift left by policy")
            }
            status => tracing::debug!(hub = %report.name, status = status.as_str(), "run finished"),
        }
    }

    fn send_alerts(&self, alerts: impl IntoIterator<Item = Alert>) {
        if let Ok(routes) = self.routes.lock() {
            for alert in alerts {
                routes.send(alert);
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

    fn roster_result(&self, problem: Option<&str>) {
        self.metrics.roster_valid.set(i64::from(problem.is_none()));
        let alert = self.alerts.lock().ok().and_then(|mut state| {
            state.roster(&self.options.config.display().to_string(), problem)
        });
        self.send_alerts(alert);
    }
}

/// A hub's task and the token that stops it.
struct HubTask {
    stop: CancellationToken,
    handle: JoinHandle<()>,
    /// True until the task finishes the first run that readiness waits for.
    first_pending: Arc<AtomicBool>,
}

/// The daemon: the roster in force, one task per hub, and what they share.
pub struct Supervisor<C: Connect> {
    shared: Arc<Shared<C>>,
    roster_tx: watch::Sender<Arc<Roster>>,
    tasks: HashMap<HubName, HubTask>,
    /// Which `expiring` messages were sent today.
    expiry: ExpiryNotices,
    fingerprint: u64,
    server: Option<(CancellationToken, JoinHandle<std::io::Result<()>>)>,
}

impl<C: Connect> std::fmt::Debug for Supervisor<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("hubs", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// Runs the daemon over HTTP until `shutdown` is cancelled. `reload` forces a roster
/// reload (SIGHUP). Returns an error only when it cannot start.
pub async fn run(
    options: DaemonOptions,
    shutdown: CancellationToken,
    reload: Arc<Notify>,
) -> Result<(), DaemonError> {
    let connect = HttpConnect::new(options.client.clone());
    Supervisor::start(options, connect)
        .await?
        .run(shutdown, reload)
        .await;
    Ok(())
}

impl<C: Connect> Supervisor<C> {
    /// Loads the roster, opens the audit log, the webhook and the listener, and starts
    /// a task for every selected hub.
    pub async fn start(options: DaemonOptions, connect: C) -> Result<Supervisor<C>, DaemonError> {
        Supervisor::start_with_clock(options, connect, Arc::new(SystemClock)).await
    }

    /// [`Supervisor::start`] with the day told by `clock` (tests).
    pub async fn start_with_clock(
        options: DaemonOptions,
        connect: C,
        clock: Arc<dyn Clock>,
    ) -> Result<Supervisor<C>, DaemonError> {
        let roster = Roster::load_selected(&options.config, &options.hubs)?;
        if let Some(why) = state_dir_needed(&roster, &options) {
            return Err(DaemonError::StateDirNeeded(why));
        }
        for warning in &roster.warnings {
            tracing::warn!("{warning}");
        }
        let metrics = Arc::new(Metrics::new());
        let stuck_after = (options.reload_poll * 10).max(Duration::from_secs(60));
        let health = Arc::new(Health::new(stuck_after));
        health.beat();
        metrics.roster_valid.set(1);

        let server = match options.listen {
            Some(addr) => Some(listen(addr, &metrics, &health).await?),
            None => None,
        };
        let audit = match &options.audit_log {
            Some(path) => {
                let journal = Journal::open(path, Mode::Daemon, options.audit_lock_wait).await?;
                journal.warn_unsettled(roster.selected(&options.hubs));
                Some(journal)
            }
            None => None,
        };
        let mut routes = Routes::new(
            options.webhook.clone(),
            options.alert_format,
            crate::alert::firing_lasts(options.interval),
            options.client.retry,
            metrics.clone(),
        )?;
        routes.rebuild(&roster);
        let repeat_firing = options.alert_format.repeats_firing();
        let shared = Arc::new(Shared {
            permits: Semaphore::new(options.concurrency.max(1)),
            first_runs_left: AtomicUsize::new(0),
            stopping: CancellationToken::new(),
            digest: options
                .digest_at
                .map(|at| Mutex::new(Digest::new(at, options.digest_always))),
            fights_epoch: std::sync::atomic::AtomicU64::new(0),
            provisional: Mutex::new(Default::default()),
            options,
            connect,
            clock,
            metrics,
            health,
            alerts: Mutex::new(AlertState::new(repeat_firing)),
            routes: Mutex::new(routes),
            audit,
        });
        let fingerprint = fingerprint(&shared.options, &roster);
        let (roster_tx, _) = watch::channel(Arc::new(roster));
        let mut supervisor = Supervisor {
            shared,
            roster_tx,
            tasks: HashMap::new(),
            expiry: ExpiryNotices::default(),
            fingerprint,
            server,
        };
        // Counted before any task starts, so that none can finish first.
        let first = supervisor
            .roster_tx
            .borrow()
            .selected(&supervisor.shared.options.hubs)
            .count();
        supervisor
            .shared
            .first_runs_left
            .store(first, Ordering::SeqCst);
        if first == 0 {
            supervisor.shared.health.set_ready();
        }
        supervisor.start_new_hubs(true);
        tracing::info!(
            roster = %supervisor.shared.options.config.display(),
            hubs = first,
            interval = %humantime::format_duration(supervisor.shared.options.interval),
            "daemon started"
        );
        Ok(supervisor)
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    pub fn health(&self) -> Arc<Health> {
        self.shared.health.clone()
    }

    /// Polls the roster (or reloads at `reload`) until `shutdown`, then drains.
    pub async fn run(mut self, shutdown: CancellationToken, reload: Arc<Notify>) {
        loop {
            self.shared.health.beat();
            let forced = tokio::select! {
                _ = tokio::time::sleep(self.shared.options.reload_poll) => false,
                _ = reload.notified() => true,
                _ = shutdown.cancelled() => break,
            };
            self.reload(forced).await;
            self.announce_expiring();
        }
        self.drain().await;
    }

    /// Tells each community, once a day, whose administrator entries run out soon.
    fn announce_expiring(&mut self) {
        let roster = self.roster_tx.borrow().clone();
        let options = &self.shared.options;
        let due = self.expiry.due(
            &roster,
            &options.hubs,
            self.shared.clock.today(),
            options.expiry_warning_days,
        );
        for alert in &due {
            tracing::info!(
                community = alert.community.as_deref().unwrap_or("-"),
                "{}",
                alert.summary
            );
        }
        self.shared.send_alerts(due);
        self.send_digest(&roster);
    }

    /// The daily digest, when its time has come and every hub has had a first run
    /// (before that it would have nothing to say about them).
    fn send_digest(&self, roster: &Roster) {
        let Some(digest) = &self.shared.digest else {
            return;
        };
        if !self.shared.health.is_ready() {
            return;
        }
        let options = &self.shared.options;
        let now = self.shared.clock.now();
        let soon = crate::alert::expiry::soon(
            roster,
            &options.hubs,
            Date::of(now),
            options.expiry_warning_days,
        );
        let due = digest
            .lock()
            .map(|mut d| d.due(now, &soon))
            .unwrap_or_default();
        if !due.is_empty() {
            tracing::info!(messages = due.len(), "daily digest sent");
        }
        // One message a route: the whole fleet's to the global route, each
        // community's to its own.
        if let Ok(routes) = self.shared.routes.lock() {
            for alert in due {
                routes.send_digest(alert);
            }
        }
    }

    /// Starts a task for every selected hub of the roster in force that has none.
    fn start_new_hubs(&mut self, first: bool) {
        let roster = self.roster_tx.borrow().clone();
        for spec in roster.selected(&self.shared.options.hubs) {
            if self.tasks.contains_key(&spec.name) {
                continue;
            }
            let stop = self.shared.stopping.child_token();
            let first_pending = Arc::new(AtomicBool::new(first));
            let handle = tokio::spawn(hub_task::run(
                self.shared.clone(),
                spec.name.clone(),
                self.roster_tx.subscribe(),
                stop.clone(),
                first_pending.clone(),
            ));
            self.tasks.insert(
                spec.name.clone(),
                HubTask {
                    stop,
                    handle,
                    first_pending,
                },
            );
        }
    }

    /// Stops the tasks of hubs no longer selected in the roster in force, and then
    /// drops their metric series and alert state. Each retirement runs on its own, so
    /// that a run still in flight (given the grace period to finish and be audited)
    /// does not hold up the supervisor.
    fn retire_removed_hubs(&mut self) {
        let roster = self.roster_tx.borrow().clone();
        let keep: Vec<HubName> = roster
            .selected(&self.shared.options.hubs)
            .map(|h| h.name.clone())
            .collect();
        let gone: Vec<HubName> = self
            .tasks
            .keys()
            .filter(|name| !keep.contains(name))
            .cloned()
            .collect();
        for name in gone {
            let Some(task) = self.tasks.remove(&name) else {
                continue;
            };
            tracing::info!(hub = %name, "the hub left the roster; no longer reconciled");
            let shared = self.shared.clone();
            tokio::spawn(async move {
                task.stop.cancel();
                join(&name, task.handle, shared.options.grace).await;
                // After the task has ended, so that no last run brings a series back.
                shared.metrics.forget_hub(name.as_str());
                if let Ok(mut alerts) = shared.alerts.lock() {
                    alerts.forget_hub(name.as_str());
                }
                if let Some(digest) = &shared.digest
                    && let Ok(mut digest) = digest.lock()
                {
                    digest.forget(name.as_str());
                }
                if task.first_pending.load(Ordering::SeqCst) {
                    shared.first_run_done();
                }
            });
        }
    }

    /// Reloads the roster if it changed on disk (or `forced`); an invalid roster keeps
    /// the last good one in force.
    async fn reload(&mut self, forced: bool) {
        let current = self.roster_tx.borrow().clone();
        let now = fingerprint(&self.shared.options, &current);
        if forced {
            self.shared.fights_epoch.fetch_add(1, Ordering::SeqCst);
        }
        if !forced && now == self.fingerprint {
            return;
        }
        self.fingerprint = now;
        let options = &self.shared.options;
        let loaded =
            Roster::load_selected(&options.config, &options.hubs).map_err(|e| e.to_string());
        let loaded = loaded.and_then(|new| match state_dir_needed(&new, options) {
            Some(why) => Err(why),
            None => Ok(new),
        });
        match loaded {
            Ok(new) => {
                for warning in &new.warnings {
                    tracing::warn!("{warning}");
                }
                self.shared.metrics.roster_reloads.inc();
                self.shared.roster_result(None);
                tracing::info!(
                    hubs = new.selected(&options.hubs).count(),
                    forced,
                    "roster reloaded"
                );
                if let Ok(mut routes) = self.shared.routes.lock() {
                    routes.rebuild(&new);
                }
                // Every running hub sees the change and runs at once.
                self.roster_tx.send_replace(Arc::new(new));
                self.retire_removed_hubs();
                self.tasks.retain(|_, t| !t.handle.is_finished());
                self.start_new_hubs(false);
            }
            Err(error) => {
                tracing::error!(%error, "the new roster is invalid; the last good roster stays in force");
                self.shared.roster_result(Some(&error));
                if forced {
                    // SIGHUP still means "run now": with the last good roster.
                    self.roster_tx.send_modify(|_| {});
                }
            }
        }
    }

    /// Shutdown: no new runs, no retries; in-flight requests finish within the grace
    /// period; queued alerts are sent; the server stops.
    async fn drain(mut self) {
        tracing::info!("shutting down: letting in-flight runs finish");
        self.shared.stopping.cancel();
        let deadline = tokio::time::Instant::now() + self.shared.options.grace;
        for (name, task) in std::mem::take(&mut self.tasks) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            join(&name, task.handle, left).await;
        }
        // Closing the queues ends each route's task once what is queued is sent.
        let tasks = match self.shared.routes.lock() {
            Ok(mut routes) => routes.close(),
            Err(_) => Vec::new(),
        };
        for mut task in tasks {
            if tokio::time::timeout_at(deadline + Duration::from_secs(1), &mut task)
                .await
                .is_err()
            {
                tracing::warn!("alerts still queued at shutdown were dropped");
                task.abort();
            }
        }
        if let Some((stop, mut server)) = self.server.take() {
            // Probes and scrapes need no grace: a moment for answers in flight, then
            // connections kept alive by a scraper are dropped.
            stop.cancel();
            if tokio::time::timeout(Duration::from_millis(250), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        tracing::info!("stopped");
    }
}

/// Waits for a stopped task, at most `grace`; then aborts it.
async fn join(name: &HubName, mut handle: JoinHandle<()>, grace: Duration) {
    if tokio::time::timeout(grace, &mut handle).await.is_err() {
        tracing::warn!(hub = %name, "a run did not finish within the grace period; stopped");
        handle.abort();
    }
}

/// What identifies the roster on disk: its files' names and bytes (a roster directory
/// changes when any file in it does), and the identity of the token and CA files it
/// names.
fn fingerprint(options: &DaemonOptions, roster: &Roster) -> u64 {
    let mut h = DefaultHasher::new();
    match crate::roster::files::read(&options.config) {
        Ok(files) => files.hash(&mut h),
        Err(e) => e.to_string().hash(&mut h),
    }
    for hub in &roster.hubs {
        if let Some(path) = hub.access.token_source.path() {
            file_identity(path).hash(&mut h);
        }
        if let Some(ca) = &hub.access.ca {
            file_identity(ca.path()).hash(&mut h);
        }
    }
    for community in &roster.communities {
        if let Some(route) = &community.alerts
            && let Some(path) = route.source.path()
        {
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

#[cfg(test)]
mod tests;
