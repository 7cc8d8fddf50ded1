//! The daemon's schedule, reloads and shutdown, on paused tokio time against hubs in
//! memory (and one test against an HTTP hub that keeps failing).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::server::Health;
use super::{Connect, DaemonOptions, HttpConnect, Supervisor};
use crate::hub::memory::MemoryHub;
use crate::hub::{ClientOptions, HubError};
use crate::metrics::Metrics;
use crate::roster::HubSpec;

/// Hubs in memory, by lowercased hub name.
#[derive(Default)]
struct MemoryConnect {
    hubs: HashMap<String, MemoryHub>,
}

impl Connect for MemoryConnect {
    type Hub = MemoryHub;

    fn connect(&self, spec: &HubSpec, _stop: &CancellationToken) -> Result<MemoryHub, HubError> {
        self.hubs
            .get(&spec.name.as_str().to_lowercase())
            .cloned()
            .ok_or_else(|| HubError::Setup(format!("no memory hub {}", spec.name)))
    }
}

/// A roster with representative `rep-bob`, the given administrators (added by
/// rep-bob) and enforcing hubs at made-up URLs, tokens in `dir/token`.
fn roster(dir: &Path, administrators: &[&str], hubs: &[&str]) -> String {
    let mut yaml = String::from(
        "communities:\n  - name: lab\n    representatives: [{name: rep-bob}]\n    administrators:\n",
    );
    for a in administrators {
        yaml.push_str(&format!("      - {{name: {a}, added_by: rep-bob}}\n"));
    }
    if administrators.is_empty() {
        yaml.push_str("      []\n");
    }
    yaml.push_str("    hubs:\n");
    for h in hubs {
        yaml.push_str(&format!(
            "      - {{name: {h}, api_url: 'http://{h}.invalid/hub/api', token_file: '{}'}}\n",
            dir.join("token").display()
        ));
    }
    yaml
}

struct Running {
    _dir: tempfile::TempDir,
    config: PathBuf,
    dir: PathBuf,
    hubs: HashMap<String, MemoryHub>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: CancellationToken,
    reload: Arc<Notify>,
    task: JoinHandle<()>,
}

fn options(config: &Path) -> DaemonOptions {
    DaemonOptions {
        config: config.to_owned(),
        hubs: Vec::new(),
        interval: Duration::from_secs(60),
        jitter: 0.1,
        concurrency: 4,
        client: ClientOptions::default(),
        listen: None,
        webhook: None,
        alert_format: crate::alert::AlertFormat::Slack,
        audit_log: None,
        audit_lock_wait: Duration::from_secs(1),
        reload_poll: Duration::from_secs(2),
        grace: Duration::from_secs(8),
        expiry_warning_days: 7,
        digest_at: None,
        digest_always: false,
        state_dir: None,
    }
}

/// Starts the daemon over memory hubs named `hubs`, each with `mallory` as an
/// undeclared admin next to representative `rep-bob` (so revoking mallory does not
/// strip the hub of its admins, which the safety floor holds), and the roster
/// declaring `administrators`.
async fn start(administrators: &[&str], hubs: &[&str]) -> Running {
    let (tmp, config) = roster_dir(administrators, hubs);
    let dir = tmp.path().to_owned();
    let mut connect = MemoryConnect::default();
    for h in hubs {
        let hub = MemoryHub::new();
        hub.set_user("mallory", true).set_user("rep-bob", true);
        connect.hubs.insert(h.to_string(), hub);
    }
    let hubs = connect.hubs.clone();
    let supervisor = Supervisor::start(options(&config), connect)
        .await
        .expect("the daemon starts");
    let (metrics, health) = (supervisor.metrics(), supervisor.health());
    let shutdown = CancellationToken::new();
    let reload = Arc::new(Notify::new());
    let task = tokio::spawn(supervisor.run(shutdown.clone(), reload.clone()));
    Running {
        _dir: tmp,
        config,
        dir,
        hubs,
        metrics,
        health,
        shutdown,
        reload,
        task,
    }
}

impl Running {
    fn hub(&self, name: &str) -> &MemoryHub {
        &self.hubs[name]
    }

    /// Whether the metrics page shows `text`.
    fn shows(&self, text: &str) -> bool {
        self.metrics.render().contains(text)
    }

    fn rewrite(&self, administrators: &[&str], hubs: &[&str]) {
        std::fs::write(&self.config, roster(&self.dir, administrators, hubs)).unwrap();
    }

    /// Stops the daemon and returns how long it took, on tokio's clock.
    async fn stop(self) -> Duration {
        let started = tokio::time::Instant::now();
        self.shutdown.cancel();
        self.task.await.expect("the daemon's task");
        started.elapsed()
    }
}

async fn sleep(seconds: u64) {
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

#[tokio::test(start_paused = true)]
async fn each_hub_runs_at_start_then_every_interval_with_jitter() {
    let d = start(&["carol"], &["h1"]).await;
    sleep(3).await;
    let hub = d.hub("h1");
    assert_eq!(hub.reads(), 1, "the first run starts within the 2 s spread");
    assert_eq!(hub.admins(), ["carol", "rep-bob"], "drift fixed");
    assert!(d.health.is_ready());
    // The next run is 60 s ± 10% after the first (which was at 0–2 s).
    sleep(50).await;
    assert_eq!(hub.reads(), 1, "not before 54 s");
    sleep(17).await;
    assert_eq!(hub.reads(), 2, "by 68 s");
    assert_eq!(
        d.stop().await,
        Duration::ZERO,
        "a stop between runs is immediate"
    );
}

#[tokio::test(start_paused = true)]
async fn a_roster_change_runs_hubs_at_once_and_a_removed_hub_leaves_no_series() {
    let d = start(&[], &["h1", "h2"]).await;
    sleep(3).await;
    assert!(d.shows("hub=\"h2\""));
    let h2_reads = d.hub("h2").reads();

    d.rewrite(&["carol"], &["h1"]);
    sleep(3).await;
    assert_eq!(d.hub("h1").reads(), 2, "the edit ran h1 at once");
    assert_eq!(d.hub("h1").admins(), ["carol", "rep-bob"]);
    let text = d.metrics.render();
    assert!(
        !text.contains("hub=\"h2\""),
        "a hub that left the roster keeps no series:\n{text}"
    );
    sleep(120).await;
    assert_eq!(d.hub("h2").reads(), h2_reads, "h2 is no longer reconciled");
    assert!(!d.shows("hub=\"h2\""));
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_invalid_roster_keeps_the_last_good_one_and_sighup_runs_every_hub() {
    let d = start(&["carol"], &["h1"]).await;
    sleep(3).await;
    std::fs::write(&d.config, "communities: [\n").unwrap();
    sleep(3).await;
    assert!(d.shows("jupyterhub_admin_sync_roster_valid 0"));
    // Someone revokes carol by hand; SIGHUP runs the hub now, with the last good roster.
    d.hub("h1").set_user("carol", false);
    d.reload.notify_one();
    sleep(1).await;
    assert_eq!(d.hub("h1").reads(), 2);
    assert_eq!(d.hub("h1").admins(), ["carol", "rep-bob"]);
    d.stop().await;
}

/// A roster edit that turns on ui_grants while the daemon has no state dir is refused
/// like an invalid roster: the last good one stays in force.
#[tokio::test(start_paused = true)]
async fn a_reloaded_roster_with_ui_grants_and_no_state_dir_keeps_the_last_good_one() {
    let d = start(&["carol"], &["h1"]).await;
    sleep(3).await;
    let edited = roster(&d.dir, &["carol"], &["h1"])
        .replace("    hubs:\n", "    ui_grants: {keep_for: 30d}\n    hubs:\n");
    let edited = edited.replace("'}\n", "', log: {file: /var/log/h1.log}}\n");
    assert!(
        edited.contains("ui_grants") && edited.contains("log: {file"),
        "{edited}"
    );
    std::fs::write(&d.config, edited).unwrap();
    let valid = crate::roster::Roster::load_selected(&d.config, &[]);
    assert!(valid.is_ok(), "valid in itself: {:?}", valid.err());
    sleep(3).await;
    assert!(d.shows("jupyterhub_admin_sync_roster_valid 0"));
    // The last good roster still runs the hub.
    d.reload.notify_one();
    sleep(1).await;
    assert_eq!(d.hub("h1").admins(), ["carol", "rep-bob"]);
    d.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_run_in_flight_at_shutdown_gets_the_grace_and_nothing_becomes_ready() {
    let tmp_hub = "slow";
    let d = start(&[], &[tmp_hub]).await;
    d.hub(tmp_hub).delay_reads(Duration::from_secs(30));
    // Let the run start (within the 2 s spread), then stop while it reads.
    sleep(3).await;
    assert_eq!(d.hub(tmp_hub).reads(), 1);
    let health = d.health.clone();
    let took = d.stop().await;
    assert_eq!(
        took,
        Duration::from_secs(8),
        "the grace period, then stopped"
    );
    assert!(
        !health.is_ready(),
        "a daemon that is stopping never reports ready"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hub_removed_before_its_first_run_does_not_hold_back_readiness() {
    let d = start(&[], &["h1", "h2"]).await;
    d.hub("h2").delay_reads(Duration::from_secs(600));
    sleep(3).await;
    assert!(!d.health.is_ready(), "h2 has not finished its first run");
    d.rewrite(&[], &["h1"]);
    // Its run in flight is given the 8 s grace, then stopped; the daemon is ready.
    sleep(3 + 8).await;
    assert!(d.health.is_ready());
    d.stop().await;
}

/// Against a hub that answers 503 to everything: the client retries with backoff,
/// and a shutdown ends those waits at once instead of sitting out the grace period.
#[tokio::test]
async fn shutdown_ends_retries_against_a_failing_hub_at_once() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("token"), "failing-token-1234\n").unwrap();
    let config = roster_file(
        tmp.path(),
        format!(
            "communities:\n  - name: lab\n    representatives: [{{name: rep-bob}}]\n    hubs:\n      - {{name: down, api_url: '{}/hub/api', token_file: '{}'}}\n",
            server.uri(),
            tmp.path().join("token").display()
        ),
    );
    let mut options = options(&config);
    options.interval = Duration::from_secs(600);
    options.jitter = 0.0;
    // Waits of 2, 4, 8, 16 s between attempts: without the fix a stop sat them out
    // until the 8 s grace ran out.
    options.client.retry.initial_interval = Duration::from_secs(2);
    options.client.retry.max_attempts = 10;
    let connect = HttpConnect::new(options.client.clone());
    let supervisor = Supervisor::start(options, connect).await.unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(supervisor.run(shutdown.clone(), Arc::new(Notify::new())));
    // Wait until the hub has been asked at least once (it is now backing off).
    for _ in 0..100 {
        if !server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = server.received_requests().await.unwrap_or_default().len();
    assert!(asked >= 1, "the daemon never asked the hub");
    let started = std::time::Instant::now();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the daemon stops")
        .unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "stopping took {took:?} while a hub was failing"
    );
    assert_eq!(
        server.received_requests().await.unwrap_or_default().len(),
        asked,
        "no request after the stop"
    );
}

#[tokio::test(start_paused = true)]
async fn a_roster_directory_reloads_when_one_file_changes_as_a_configmap_swap_does() {
    let tmp = token_dir();
    let dir = tmp.path();
    // A ConfigMap volume: keys are links into ..data, itself a link to a dated dir.
    let write_version = |name: &str, admins: &[&str]| {
        let version = dir.join(name);
        std::fs::create_dir(&version).unwrap();
        std::fs::write(version.join("lab.yaml"), roster(dir, admins, &["h1"])).unwrap();
        std::fs::write(
            version.join("ocean.yaml"),
            "communities:\n  - name: ocean\n    representatives: [{name: rep-olu}]\n",
        )
        .unwrap();
        let tmp_link = dir.join("..data_tmp");
        std::os::unix::fs::symlink(name, &tmp_link).unwrap();
        std::fs::rename(&tmp_link, dir.join("..data")).unwrap();
    };
    write_version("..2026_11_30_01", &[]);
    for key in ["lab.yaml", "ocean.yaml"] {
        std::os::unix::fs::symlink(format!("..data/{key}"), dir.join(key)).unwrap();
    }
    let hub = MemoryHub::new();
    let mut connect = MemoryConnect::default();
    connect.hubs.insert("h1".into(), hub.clone());
    let supervisor = Supervisor::start(options(dir), connect).await.unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(supervisor.run(shutdown.clone(), Arc::new(Notify::new())));
    sleep(3).await;
    assert_eq!(hub.admins(), ["rep-bob"]);
    write_version("..2026_11_30_02", &["carol"]);
    sleep(3).await;
    assert_eq!(
        hub.admins(),
        ["carol", "rep-bob"],
        "the swap was seen and applied"
    );
    shutdown.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_administrator_is_revoked_after_the_day_their_entry_expires_and_the_audit_says_so() {
    use crate::date::{Date, FixedClock};
    let tmp = token_dir();
    let dir = tmp.path();
    let config = roster_file(
        dir,
        format!(
            "communities:\n  - name: lab\n    representatives: [{{name: rep-bob}}]\n    administrators:\n      - {{name: carol, added_by: rep-bob, expires: '2027-01-31'}}\n    hubs:\n      - {{name: h1, api_url: 'http://h1.invalid/hub/api', token_file: '{}'}}\n",
            dir.join("token").display()
        ),
    );
    let hub = MemoryHub::new();
    let mut connect = MemoryConnect::default();
    connect.hubs.insert("h1".into(), hub.clone());
    let clock = Arc::new(FixedClock::new(Date::parse("2027-01-31").unwrap()));
    let mut opts = options(&config);
    opts.audit_log = Some(dir.join("audit.jsonl"));
    let (shutdown, task) = spawn_with_clock(opts, connect, clock.clone()).await;
    sleep(3).await;
    assert_eq!(
        hub.admins(),
        ["carol", "rep-bob"],
        "declared to the end of its day"
    );
    clock.set(Date::parse("2027-02-01").unwrap());
    sleep(70).await;
    assert_eq!(
        hub.admins(),
        ["rep-bob"],
        "revoked at the next run after the date"
    );
    assert!(hub.users().contains(&"carol".to_string()), "stays a user");
    shutdown.cancel();
    task.await.unwrap();
    let revoked = audit_lines(&dir.join("audit.jsonl"))
        .into_iter()
        .find(|l| l["action"] == "revoke")
        .expect("a revoke line");
    assert_eq!(revoked["user"], "carol");
    assert_eq!(revoked["expired"], "2027-01-31", "{revoked}");
    assert_eq!(revoked["added_by"], "rep-bob", "{revoked}");
}

/// The lines of the audit trail at `path`, as JSON.
fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
    let audit = std::fs::read_to_string(path).expect("the audit trail");
    audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A webhook receiver that takes every POST.
async fn receiver() -> wiremock::MockServer {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    receiver
}

/// A directory holding the memory hubs' token file, `token`.
fn token_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("token"), "memory-token-1234\n").unwrap();
    tmp
}

/// Starts the daemon with `opts` over `connect`, its calendar at `clock`: the token that
/// stops it, and its task.
async fn spawn_with_clock(
    opts: DaemonOptions,
    connect: MemoryConnect,
    clock: Arc<crate::date::FixedClock>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let supervisor = Supervisor::start_with_clock(opts, connect, clock)
        .await
        .expect("the daemon starts");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(supervisor.run(shutdown.clone(), Arc::new(Notify::new())));
    (shutdown, task)
}

/// Writes `text` as the roster file in `dir`, and returns its path.
fn roster_file(dir: &Path, text: String) -> PathBuf {
    let config = dir.join("roster.yaml");
    std::fs::write(&config, text).unwrap();
    config
}

/// A [`token_dir`] with `roster.yaml` in it, as [`roster`] writes it, and that file's path.
fn roster_dir(administrators: &[&str], hubs: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = token_dir();
    let config = roster_file(tmp.path(), roster(tmp.path(), administrators, hubs));
    (tmp, config)
}

/// Polls `done` every `every` until it is true or `secs` of real time have passed; the
/// assertions after it say what a timeout means.
async fn poll<F, Fut>(secs: u64, every: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !done().await && std::time::Instant::now() < deadline {
        tokio::time::sleep(every).await;
    }
}

/// The expiring notice and the daily digest reach the routes: the community's digest
/// only its own route, the fleet's only the global one (a real receiver, real time,
/// the day from a fixed clock).
#[tokio::test]
async fn expiring_notices_and_the_digest_reach_their_routes() {
    use crate::date::{Date, FixedClock};
    let receiver = receiver().await;
    let tmp = token_dir();
    let dir = tmp.path();
    std::fs::write(dir.join("lab-hook"), format!("{}/lab\n", receiver.uri())).unwrap();
    let config = roster_file(
        dir,
        format!(
            "communities:\n  - name: lab\n    representatives: [{{name: rep-bob}}]\n    alerts: {{webhook_file: '{}'}}\n    administrators:\n      - {{name: carol, added_by: rep-bob, expires: '2027-01-31'}}\n    hubs:\n      - {{name: h1, api_url: 'http://h1.invalid/hub/api', token_file: '{}'}}\n",
            dir.join("lab-hook").display(),
            dir.join("token").display()
        ),
    );
    let hub = MemoryHub::new();
    hub.set_user("mallory", true);
    hub.fail_writes(Some(MemoryHub::unavailable("/users/mallory")));
    let mut connect = MemoryConnect::default();
    connect.hubs.insert("h1".into(), hub.clone());
    let mut opts = options(&config);
    opts.reload_poll = Duration::from_millis(100);
    opts.jitter = 0.0;
    opts.webhook =
        Some(crate::alert::WebhookUrl::parse(&format!("{}/global", receiver.uri())).unwrap());
    opts.digest_at = Some("00:00".parse().unwrap());
    let clock = Arc::new(FixedClock::new(Date::parse("2027-01-28").unwrap()));
    let (shutdown, task) = spawn_with_clock(opts, connect, clock).await;
    let got = |path: &'static str, status: &'static str| {
        let receiver = &receiver;
        async move {
            let to_path = messages(receiver, Some(path)).await;
            to_path.iter().filter(|m| m["status"] == status).count()
        }
    };
    // The digest waits for the hub's first run (its state): the write fails, so the
    // hub ends the run in error and the digest has something to say.
    poll(10, Duration::from_millis(50), || async {
        got("/lab", "digest").await > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(got("/lab", "expiring").await, 1, "carol expires in 3 days");
    assert_eq!(got("/global", "expiring").await, 1);
    assert_eq!(got("/lab", "digest").await, 1, "the community's digest");
    assert_eq!(
        got("/global", "digest").await,
        1,
        "the fleet's digest, once"
    );
}

/// What the hub's config does with `admin_users` at each start: mallory is admin again.
#[tokio::test(start_paused = true)]
async fn a_user_something_else_keeps_making_admin_is_contested_and_left_alone() {
    let d = start(&[], &["h1"]).await;
    let hub = d.hub("h1");
    let contested = || {
        d.metrics
            .contested
            .get_or_create(&crate::metrics::HubLabel { hub: "h1".into() })
            .get()
    };
    sleep(3).await;
    assert_eq!(hub.admins(), ["rep-bob"], "run 1 revokes mallory");
    // The hub re-grants; the next run revokes again (reversal 1).
    hub.set_user("mallory", true);
    sleep(70).await;
    assert_eq!(hub.admins(), ["rep-bob"], "run 2 revokes again");
    assert_eq!(contested(), 0);
    // Reversal 2: contested, left alone, still drift.
    hub.set_user("mallory", true);
    sleep(70).await;
    assert_eq!(
        hub.admins(),
        ["mallory", "rep-bob"],
        "not revoked a third time"
    );
    assert_eq!(contested(), 1);
    let writes = hub.writes().len();
    sleep(70).await;
    assert_eq!(hub.writes().len(), writes, "no change to a contested user");
    assert!(d.shows("jupyterhub_admin_sync_drift{hub=\"h1\",kind=\"undeclared\"} 1"));
    // SIGHUP clears it: the next run revokes.
    d.reload.notify_one();
    sleep(3).await;
    assert_eq!(hub.admins(), ["rep-bob"], "revoked after SIGHUP");
    assert_eq!(contested(), 0);
    d.stop().await;
}

/// With `--alert-format alertmanager`, a hub's firing alert is sent again after every
/// run, each lasting four intervals, so Alertmanager keeps it while the hub stays in
/// error (a real receiver, real time, short intervals).
#[tokio::test]
async fn for_alertmanager_a_firing_alert_is_sent_again_after_every_run() {
    let receiver = receiver().await;
    let (_tmp, config) = roster_dir(&[], &["h1"]);
    let hub = MemoryHub::new();
    hub.set_user("mallory", true).set_user("rep-bob", true);
    hub.fail_writes(Some(MemoryHub::unavailable("/users/mallory")));
    let mut connect = MemoryConnect::default();
    connect.hubs.insert("h1".into(), hub);
    let mut opts = options(&config);
    opts.interval = Duration::from_millis(200);
    opts.jitter = 0.0;
    opts.alert_format = crate::alert::AlertFormat::Alertmanager;
    opts.webhook = Some(crate::alert::WebhookUrl::parse(&receiver.uri()).unwrap());
    let supervisor = Supervisor::start(opts, connect).await.unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(supervisor.run(shutdown.clone(), Arc::new(Notify::new())));
    let errors = || async {
        messages(&receiver, None)
            .await
            .into_iter()
            .filter(|b| b[0]["labels"]["alertname"] == "JupyterHubAdminSyncError")
            .collect::<Vec<_>>()
    };
    poll(20, Duration::from_millis(50), || async {
        errors().await.len() >= 3
    })
    .await;
    shutdown.cancel();
    task.await.unwrap();
    let sent = errors().await;
    assert!(sent.len() >= 3, "sent again after each run: {sent:?}");
    for alert in &sent {
        let (starts, ends) = (&alert[0]["startsAt"], &alert[0]["endsAt"]);
        assert!(
            ends.as_str() >= starts.as_str(),
            "each lasts until the next runs: {alert}"
        );
    }
}

/// `--audit-log` whose directory is gone (removed, not re-creatable): no change is
/// made, the run fails with kind `audit`, the failure is counted and alerted, and the
/// daemon goes on reading and reporting; with the directory back, the next run makes
/// the change, written ahead in a new file that continues the chain.
#[tokio::test]
async fn with_the_audit_log_unwritable_no_change_is_made_and_the_error_alert_fires() {
    let receiver = receiver().await;
    let (tmp, config) = roster_dir(&["carol"], &["h1"]);
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let hub = MemoryHub::new();
    hub.set_user("rep-bob", true);
    let mut connect = MemoryConnect::default();
    connect.hubs.insert("h1".into(), hub.clone());
    let mut opts = options(&config);
    opts.jitter = 0.0;
    opts.audit_log = Some(logs.join("audit.jsonl"));
    opts.webhook = Some(crate::alert::WebhookUrl::parse(&receiver.uri()).unwrap());
    let supervisor = Supervisor::start(opts, connect).await.unwrap();
    // Opened at start; gone before the first run (which needs this task to yield).
    std::fs::remove_dir_all(&logs).unwrap();
    let (metrics, health) = (supervisor.metrics(), supervisor.health());
    let (shutdown, reload) = (CancellationToken::new(), Arc::new(Notify::new()));
    let task = tokio::spawn(supervisor.run(shutdown.clone(), reload.clone()));
    let error_alerts = || async {
        messages(&receiver, None)
            .await
            .into_iter()
            .filter(|m| m["kind"] == "error" && m["status"] == "firing")
            .collect::<Vec<_>>()
    };
    poll(10, Duration::from_millis(20), || async {
        !error_alerts().await.is_empty()
    })
    .await;
    let alert = error_alerts().await.pop().expect("the error alert fires");
    assert_eq!(alert["details"]["error_kind"], "audit", "{alert}");
    assert!(
        alert["text"].as_str().unwrap().contains("audit.jsonl"),
        "{alert}"
    );
    assert!(hub.writes().is_empty(), "no change without its line");
    assert!(health.is_ready(), "the run finished: reading goes on");
    let text = metrics.render();
    for needle in [
        "jupyterhub_admin_sync_errors_total{hub=\"h1\",kind=\"audit\"} 1",
        "jupyterhub_admin_sync_audit_failures_total 1",
        "jupyterhub_admin_sync_drift{hub=\"h1\",kind=\"missing\"} 1",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }

    std::fs::create_dir(&logs).unwrap();
    reload.notify_one();
    poll(10, Duration::from_millis(20), || async {
        hub.admins() == ["carol", "rep-bob"]
    })
    .await;
    assert_eq!(
        hub.admins(),
        ["carol", "rep-bob"],
        "made once it can be written"
    );
    shutdown.cancel();
    task.await.unwrap();
    let events: Vec<(String, String)> = audit_lines(&logs.join("audit.jsonl"))
        .into_iter()
        .map(|l| (l["event"].to_string(), l["user"].to_string()))
        .collect();
    assert_eq!(
        events,
        [
            ("\"chain\"".into(), "null".into()),
            ("\"intent\"".into(), "\"carol\"".into()),
            ("\"applied\"".into(), "\"carol\"".into()),
        ],
        "the change came after its intent, once the trail could be written"
    );
}

/// ui_grants on paused time: an admin the representative made in the hub (as its log
/// says) is kept, the community hears `--expiry-warning` before the end, and once
/// keep_for has run out the policy applies: revoked, and the audit says why.
#[tokio::test(start_paused = true)]
async fn a_provisional_administrator_is_warned_before_keep_for_runs_out_and_revoked_after() {
    use crate::date::{Date, FixedClock};
    let receiver = receiver().await;
    let tmp = token_dir();
    let dir = tmp.path();
    // The hub's log: rep-bob makes newbie admin through the API on 2027-01-01 at noon.
    let log = dir.join("hub.log");
    std::fs::write(&log, granted_in_the_hub("rep-bob", "newbie", 12)).unwrap();
    let config = roster_file(
        dir,
        format!(
            "communities:\n  - name: lab\n    representatives: [{{name: rep-bob}}]\n    ui_grants: {{keep_for: 30d}}\n    hubs:\n      - {{name: h1, api_url: 'http://h1.invalid/hub/api', token_file: '{}', log: {{file: '{}'}}}}\n",
            dir.join("token").display(),
            log.display()
        ),
    );
    let hub = MemoryHub::new();
    hub.set_user("rep-bob", true).set_user("newbie", true);
    let mut connect = MemoryConnect::default();
    connect.hubs.insert("h1".into(), hub.clone());
    let mut opts = options(&config);
    opts.jitter = 0.0;
    opts.audit_log = Some(dir.join("audit.jsonl"));
    opts.state_dir = Some(dir.to_owned());
    opts.webhook = Some(crate::alert::WebhookUrl::parse(&receiver.uri()).unwrap());
    let clock = Arc::new(FixedClock::new(Date::parse("2027-01-02").unwrap()));
    let (shutdown, task) = spawn_with_clock(opts, connect, clock.clone()).await;
    told(
        &receiver,
        "newbie is kept as a provisional administrator until 2027-01-31 12:00 UTC",
    )
    .await;
    assert_eq!(hub.admins(), ["newbie", "rep-bob"], "kept");

    // Within the week before the end: warned once, still kept. Once keep_for has run
    // out: the policy (enforce) applies, and the community hears of the end.
    let later: [(&str, &[&str], &str); 2] = [
        (
            "2027-01-25",
            &["newbie", "rep-bob"],
            "newbie, made admin of hub h1 in the hub by rep-bob, is a provisional administrator until 2027-01-31 12:00 UTC: add them to lab's roster to keep them",
        ),
        (
            "2027-02-01",
            &["rep-bob"],
            "newbie's time as a provisional administrator of hub h1 (made admin by rep-bob) ended 2027-01-31 12:00 UTC",
        ),
    ];
    for (day, admins, news) in later {
        clock.set(Date::parse(day).unwrap());
        sleep(61).await;
        told(&receiver, news).await;
        assert_eq!(hub.admins(), admins, "on {day}");
    }
    assert!(hub.users().contains(&"newbie".to_string()), "stays a user");
    shutdown.cancel();
    task.await.unwrap();
    let events: Vec<(String, String)> = audit_lines(&dir.join("audit.jsonl"))
        .into_iter()
        .filter(|l| l["user"] == "newbie")
        .map(|l| {
            let event = l["event"].as_str().unwrap_or_default().to_string();
            (event, l["result"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let ended = events
        .iter()
        .position(|(e, r)| e == "provisional_ended" && r == "ui_grants keep_for ran out");
    let revoked = events.iter().position(|(e, _)| e == "applied");
    assert!(
        matches!((ended, revoked), (Some(_), Some(_))),
        "provisional, ended and revoked on record: {events:?}"
    );
    assert_eq!(events[0].0, "provisional", "{events:?}");
}

/// The hub's log lines of `by` making `user` admin through the API on 2027-01-01 at
/// `hour`:00, and a request five minutes later, so the grant's lines are settled.
fn granted_in_the_hub(by: &str, user: &str, hour: u8) -> String {
    format!(
        "[I 2027-01-01 {hour:02}:00:00.100 JupyterHub users:395] {by} setting admin=True for {user}\n\
         [I 2027-01-01 {hour:02}:00:00.101 JupyterHub roles:281] Adding role admin for User: {user}\n\
         [I 2027-01-01 {hour:02}:00:00.106 JupyterHub log:192] 200 PATCH /hub/api/users/{user} ({by}@127.0.0.1) 6.71ms\n\
         [I 2027-01-01 {hour:02}:05:00.000 JupyterHub log:192] 200 GET /hub/api/ (@127.0.0.1) 0.71ms\n"
    )
}

/// A provisional administrator the same person made on every hub of the community is
/// given the community's roster line; one made on one hub only, that hub's line.
#[tokio::test(start_paused = true)]
async fn a_grant_on_every_hub_of_a_community_is_given_the_communitys_line() {
    use crate::date::{Date, FixedClock};
    let receiver = receiver().await;
    let tmp = token_dir();
    let dir = tmp.path();
    let mut connect = MemoryConnect::default();
    let mut hubs = String::new();
    for (name, made) in [("h1", &["newbie", "solo"][..]), ("h2", &["newbie"][..])] {
        let log = dir.join(format!("{name}.log"));
        let lines: String = (12..)
            .zip(made)
            .map(|(hour, user)| granted_in_the_hub("rep-bob", user, hour))
            .collect();
        std::fs::write(&log, lines).unwrap();
        let hub = MemoryHub::new();
        hub.set_user("rep-bob", true);
        for user in made {
            hub.set_user(user, true);
        }
        connect.hubs.insert(name.into(), hub);
        hubs.push_str(&format!(
            "      - {{name: {name}, api_url: 'http://{name}.invalid/hub/api', token_file: '{}', log: {{file: '{}'}}}}\n",
            dir.join("token").display(),
            log.display()
        ));
    }
    let config = roster_file(
        dir,
        format!(
            "communities:\n  - name: lab\n    representatives: [{{name: rep-bob}}]\n    ui_grants: {{keep_for: 30d}}\n    hubs:\n{hubs}"
        ),
    );
    let mut opts = options(&config);
    opts.jitter = 0.0;
    opts.state_dir = Some(dir.to_owned());
    opts.webhook = Some(crate::alert::WebhookUrl::parse(&receiver.uri()).unwrap());
    let clock = Arc::new(FixedClock::new(Date::parse("2027-01-02").unwrap()));
    let (shutdown, task) = spawn_with_clock(opts, connect, clock).await;
    // The hub whose run comes second knows newbie was made admin on both.
    told(
        &receiver,
        "add under lab's administrators: `- {name: newbie, added_by: rep-bob}`",
    )
    .await;
    told(
        &receiver,
        "add under hub h1's administrators in lab: `- {name: solo, added_by: rep-bob}`",
    )
    .await;
    shutdown.cancel();
    task.await.unwrap();
}

/// The messages `receiver` got (at `path`, when given), as JSON.
async fn messages(receiver: &wiremock::MockServer, path: Option<&str>) -> Vec<serde_json::Value> {
    let requests = receiver.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| path.is_none_or(|p| r.url.path() == p))
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON message"))
        .collect()
}

/// Waits (real time, up to 10 s) until `receiver` got a `provisional` message whose text
/// holds `what`, and fails naming the texts it got if none does.
async fn told(receiver: &wiremock::MockServer, what: &str) {
    let texts = || async {
        messages(receiver, None)
            .await
            .into_iter()
            .filter(|m| m["status"] == "provisional")
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<String>>()
    };
    poll(10, Duration::from_millis(50), || async {
        texts().await.iter().any(|t| t.contains(what))
    })
    .await;
    let got = texts().await;
    assert!(
        got.iter().any(|t| t.contains(what)),
        "{what:?} not told: {got:?}"
    );
}
