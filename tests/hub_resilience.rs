//! A real JupyterHub that crashes, loses its database, or is edited by hand while the
//! tool runs against it.
//!
//! - SIGKILL mid-apply under `--once`: the run ends with exit 1 and a clear message,
//!   the audit trail records as applied only what the hub really got, and the next
//!   run converges with no change applied twice.
//! - SIGKILL mid-read under the daemon: the daemon keeps running and healthy, counts
//!   the failed runs, and converges once the hub is back.
//! - The hub's database lost: the daemon creates the declared admins again.
//! - Drift made by hand, round after round, while the daemon runs every 500ms: each
//!   drift is fixed and nothing else is touched.
//!
//! The tests that kill a hub use a private one ([`common::start_hub`]); seeding
//! thousands of users goes straight into its stopped database
//! ([`common::start_hub_with_users`]), since the API would take minutes.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A roster of one community (`rs-lab`) with representative `rep`, `administrators`
/// (all added by `rep`) and one hub `rhub` at `api_url`, token in `$RTOKEN`.
fn roster_text(api_url: &str, rep: &str, administrators: &[String], policy: &str) -> String {
    let mut text = format!(
        "defaults: {{max_revocations: 10}}\ncommunities:\n  - name: rs-lab\n    representatives: [{{name: {rep}}}]\n    administrators:\n"
    );
    if administrators.is_empty() {
        text.push_str("      []\n");
    }
    for name in administrators {
        text.push_str(&format!("      - {{name: {name}, added_by: {rep}}}\n"));
    }
    text.push_str(&format!(
        "    hubs: [{{name: rhub, api_url: '{api_url}', token_env: RTOKEN, policy: {policy}}}]\n"
    ));
    text
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
        .collect()
}

/// `(user, action)` → how many audit lines say it was applied.
fn applied_counts(lines: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for l in lines.iter().filter(|l| l["event"] == "applied") {
        let key = (
            l["user"].as_str().unwrap().to_string(),
            l["action"].as_str().unwrap().to_string(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn users_with_event(lines: &[Value], event: &str) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| l["event"] == event)
        .map(|l| l["user"].as_str().unwrap().to_string())
        .collect()
}

fn show(out: &Output) -> String {
    format!(
        "--- exit {:?}\n--- stdout\n{}\n--- stderr (tail)\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        last_lines(&String::from_utf8_lossy(&out.stderr), 40)
    )
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs the binary to completion with `$RTOKEN` set.
fn run(args: &[&str], token: &str) -> Output {
    Command::new(common::bin())
        .args(args)
        .env("RTOKEN", token)
        .env("RUST_LOG", "info")
        .env_remove("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL")
        .env_remove("JUPYTERHUB_ADMIN_SYNC_AUDIT_LOG")
        .output()
        .expect("run jupyterhub-admin-sync")
}

/// Polls `check` until it is true or `secs` pass; panics with `what` and `context()`.
async fn eventually<F, Fut>(secs: u64, what: &str, context: impl Fn() -> String, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {secs}s waiting for: {what}\n{}", context());
}

/// The daemon, started with `--listen` on a free port and its stderr in a file.
struct Daemon {
    child: Child,
    log: PathBuf,
    listen: String,
}

impl Daemon {
    fn start(roster: &Path, dir: &Path, extra: &[&str], token: &str) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join("daemon.log");
        let child = Command::new(common::bin())
            .args(["--config", roster.to_str().unwrap(), "--listen", &listen])
            .args(extra)
            .env("RTOKEN", token)
            .env("RUST_LOG", "info")
            .env_remove("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL")
            .env_remove("JUPYTERHUB_ADMIN_SYNC_AUDIT_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the daemon");
        Daemon { child, log, listen }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn context(&self) -> String {
        format!("--- daemon log (tail)\n{}", last_lines(&self.log(), 60))
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        match client
            .get(format!("http://{}{path}", self.listen))
            .send()
            .await
        {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }

    /// The sum of the samples whose line starts with `series` (0 when there are none).
    async fn metric_sum(&self, series: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then the exit code (None if it had to be killed after 20 s).
    fn terminate(&mut self) -> Option<i32> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private hub that also holds `n` ordinary users named `{prefix}{i:04}`, put
/// straight into its database before it starts.
fn hub_with_users(prefix: &str, n: usize, page_max: u32) -> (common::Hub, Vec<String>) {
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i:04}")).collect();
    (common::start_hub_with_users(&names, page_max), names)
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// SIGKILL while `--once` applies 340 changes to a hub of 2,000 users. With
/// `--max-attempts 1` every change after the kill fails at once (connection refused),
/// so the run ends quickly and deterministically; retrying across a restart is the
/// daemon test's business.
#[tokio::test]
async fn once_killed_mid_apply_fails_cleanly_audits_honestly_and_the_next_run_converges() {
    let (mut hub, users) = hub_with_users("rk-u", 2000, 200);
    assert_eq!(hub.user_count().await, 2000);
    // 300 existing users to grant, 40 new ones to create, and the representative.
    let mut declared: Vec<String> = users[..300].to_vec();
    declared.extend((0..40).map(|i| format!("rk-new{i:02}")));
    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &roster_text(&hub.api_url, "rk-rep", &declared, "enforce"),
    );
    let roster = roster.to_str().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let stderr_path = dir.path().join("once1.stderr");
    let stdout_path = dir.path().join("once1.stdout");
    let mut once = Command::new(common::bin())
        .args([
            "--config",
            roster,
            "--once",
            "--output",
            "json",
            "--max-attempts",
            "1",
            "--audit-log",
            audit.to_str().unwrap(),
        ])
        .env("RTOKEN", &hub.admin_sync_token)
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();

    // Kill the hub once some 30 changes are through (each is logged as it is made).
    let applied_so_far = || {
        std::fs::read_to_string(&stderr_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" admin") && l.contains("hub=rhub"))
            .filter(|l| l.contains("created admin") || l.contains("granted admin"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while applied_so_far() < 30 {
        assert!(
            Instant::now() < deadline && matches!(once.try_wait(), Ok(None)),
            "--once finished or stalled before 30 changes were made:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    hub.kill();
    let killed_at = Instant::now();

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = once.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = once.kill();
            panic!("--once did not end within 30 s of the hub's death");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: std::fs::read(&stdout_path).unwrap(),
        stderr: std::fs::read(&stderr_path).unwrap(),
    };
    eprintln!("--once ended {:.1?} after the kill", killed_at.elapsed(),);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!stderr.contains("panicked"), "{}", show(&out));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", show(&out)));
    let hub_report = &report["hubs"][0];
    assert_eq!(hub_report["status"], "error", "{hub_report}");
    let changes = hub_report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 341, "rk-rep, 40 creates, 300 grants");
    let failed: Vec<&Value> = changes.iter().filter(|c| !c["error"].is_null()).collect();
    assert!(!failed.is_empty(), "{hub_report}");
    // The message says what happened: the hub could not be reached.
    let first_error = failed[0]["error"].as_str().unwrap();
    assert!(
        first_error.contains("cannot connect") || first_error.contains("request failed"),
        "{first_error}"
    );
    assert!(
        first_error.starts_with("PATCH /users/") || first_error.starts_with("POST /users/"),
        "the error names the request: {first_error}"
    );

    // The audit trail against the hub's own state (same database, restarted).
    let lines = audit_lines(&audit);
    let applied = users_with_event(&lines, "applied");
    let failed_users = users_with_event(&lines, "failed");
    assert!(applied.len() >= 30, "{} applied", applied.len());
    assert!(applied.is_disjoint(&failed_users));
    // After the first failure the rest are not tried (the hub stopped answering):
    // the report says so, and the audit trail records only what was tried.
    let not_tried = changes
        .iter()
        .filter(|c| c["skipped"] == "not tried: the hub stopped answering")
        .count();
    assert_eq!(
        applied.len() + failed_users.len() + not_tried,
        341,
        "every change is audited as applied or failed, or reported as not tried (none silently dropped)"
    );
    assert_eq!(
        failed_users.len(),
        failed.len(),
        "every failed change is audited"
    );
    hub.restart(false);
    let admins = hub.admins().await;
    let dishonest: Vec<&String> = applied.iter().filter(|u| !admins.contains(*u)).collect();
    assert!(
        dishonest.is_empty(),
        "audited as applied, but the hub does not have them as admin: {dishonest:?}"
    );
    // At most the one request in flight at the kill reached the hub without an answer.
    let landed_unacknowledged: Vec<&String> = failed_users
        .iter()
        .filter(|u| admins.contains(*u))
        .collect();
    assert!(
        landed_unacknowledged.len() <= 1,
        "audited as failed but admin on the hub: {landed_unacknowledged:?}"
    );

    // The next run converges.
    let out = run(
        &[
            "--config",
            roster,
            "--once",
            "--output",
            "json",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &hub.admin_sync_token,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut expected: BTreeSet<String> = declared.iter().cloned().collect();
    expected.insert("rk-rep".into());
    assert_eq!(hub.admins().await, expected);
    let users_now = hub.users().await;
    assert_eq!(
        users_now.len(),
        2000 + 41,
        "40 created and rk-rep; none deleted"
    );
    assert!(
        users[300..]
            .iter()
            .all(|u| users_now.get(u) == Some(&false)),
        "ordinary users stay ordinary"
    );

    // No change applied twice; a change without an applied line is the one whose
    // answer the kill swallowed.
    let counts = applied_counts(&audit_lines(&audit));
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "applied more than once: {twice:?}");
    let never: Vec<&String> = expected
        .iter()
        .filter(|u| !counts.keys().any(|(user, _)| user == *u))
        .collect();
    assert!(
        never.iter().all(|u| landed_unacknowledged.contains(u)),
        "declared admins with no applied line: {never:?}"
    );

    let out = run(&["--config", roster, "--dry-run"], &hub.admin_sync_token);
    assert_eq!(out.status.code(), Some(0), "in sync: {}", show(&out));
}

/// A hub that dies mid-apply and stays dead: `--once` with the default retries must
/// still end promptly, not spend the whole retry budget on every change left.
#[tokio::test]
async fn once_gives_up_promptly_on_a_hub_that_died_mid_apply() {
    let mut hub = common::start_hub();
    let declared: Vec<String> = (0..200).map(|i| format!("rp-new{i:03}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &roster_text(&hub.api_url, "rp-rep", &declared, "enforce"),
    );
    let stderr_path = dir.path().join("once.stderr");
    let mut once = Command::new(common::bin())
        .args([
            "--config",
            roster.to_str().unwrap(),
            "--once",
            "--output",
            "json",
        ])
        .env("RTOKEN", &hub.admin_sync_token)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let created = || {
        std::fs::read_to_string(&stderr_path)
            .unwrap_or_default()
            .matches("created admin")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while created() < 20 {
        assert!(
            Instant::now() < deadline && matches!(once.try_wait(), Ok(None)),
            "--once finished or stalled before 20 creates:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    hub.kill();
    let killed = Instant::now();
    let limit = Duration::from_secs(15);
    let status = loop {
        if let Some(status) = once.try_wait().unwrap() {
            break Some(status);
        }
        if killed.elapsed() > limit {
            let _ = once.kill();
            let _ = once.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    // `apply()` stops at the first change that fails with a transport error once its
    // retries are spent, and marks the rest "not tried: the hub stopped answering",
    // rather than spending the retry budget again on each of the ~180 changes left.
    let status = status.unwrap_or_else(|| {
        panic!(
            "--once still running {limit:?} after the hub died ({} \"will retry\" warnings so far); log tail:\n{}",
            stderr.matches("will retry").count(),
            last_lines(&stderr, 10)
        )
    });
    assert_eq!(status.code(), Some(1), "{}", last_lines(&stderr, 20));
    assert!(!stderr.contains("panicked"));
}

/// SIGKILL while the daemon reads a hub of 2,000 users 20 a page (100 pages, so it is
/// almost always mid-listing), kept down for a few seconds, then restarted on the same
/// database. `--max-attempts 2` so the outage outlasts the retries and runs fail.
#[tokio::test]
async fn daemon_outlives_a_hub_killed_mid_read_and_converges_after_restart() {
    let (mut hub, _users) = hub_with_users("rd-u", 2000, 20);
    let declared: Vec<String> = vec!["rd-carol".into(), "rd-u0100".into()];
    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &roster_text(&hub.api_url, "rd-rep", &declared, "enforce"),
    );
    let audit = dir.path().join("audit.jsonl");
    let mut daemon = Daemon::start(
        &roster,
        dir.path(),
        &[
            "--interval",
            "500ms",
            "--max-attempts",
            "2",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &hub.admin_sync_token,
    );
    eventually(
        60,
        "ready",
        || daemon.context(),
        || async { daemon.get("/readyz").await.0 == 200 },
    )
    .await;
    assert!(hub.admins().await.contains("rd-carol"));
    let errors = "jupyterhub_admin_sync_errors_total{hub=\"rhub\"";
    let errors_before = daemon.metric_sum(errors).await;

    // Kill about 1 s into a run: a run starts 500ms (±10%) after the last one ended
    // and reads 100 pages, so the kill lands mid-listing. The drift made just before
    // can only be fixed by a run after the restart (or, if this run got past the
    // listing, by its grant, which the kill then fails: audited as failed).
    let last_run = "jupyterhub_admin_sync_last_run_timestamp_seconds{hub=\"rhub\"}";
    let previous = daemon.metric_sum(last_run).await;
    eventually(
        30,
        "a run ends",
        || daemon.context(),
        || async { daemon.metric_sum(last_run).await > previous },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(900)).await;
    hub.set_admin("rd-u0100", false).await;
    hub.kill();
    // Down for 4 s: runs fail, the daemon stays up and healthy.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(daemon.alive(), "{}", daemon.context());
    assert_eq!(daemon.get("/healthz").await.0, 200, "{}", daemon.context());
    eventually(
        10,
        "a failed run counted",
        || daemon.context(),
        || async { daemon.metric_sum(errors).await > errors_before },
    )
    .await;
    hub.restart(false);
    eventually(
        20,
        "rd-u0100 granted again",
        || daemon.context(),
        || async { hub.admins().await.contains("rd-u0100") },
    )
    .await;
    eventually(
        10,
        "drift gauges at 0",
        || daemon.context(),
        || async {
            daemon
                .metric_sum("jupyterhub_admin_sync_drift{hub=\"rhub\"")
                .await
                == 0.0
        },
    )
    .await;

    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.context());
    let log = daemon.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        log.contains("cannot read the hub; nothing is changed on it this run"),
        "{}",
        daemon.context()
    );
    assert!(log.contains("cannot connect"), "{}", daemon.context());
    let lines = audit_lines(&audit);
    // A failed read changes nothing; only the one grant a run past its listing may
    // have been making at the kill can have failed.
    let failed: Vec<&Value> = lines.iter().filter(|l| l["event"] == "failed").collect();
    assert!(
        failed
            .iter()
            .all(|l| l["user"] == "rd-u0100" && l["action"] == "grant"),
        "{failed:?}"
    );
    let first_error = log
        .lines()
        .find(|l| l.contains("cannot read the hub"))
        .unwrap_or_default();
    eprintln!(
        "killed mid-listing: {} (first failed read: {first_error})",
        first_error.contains("/users?")
    );
    let counts = applied_counts(&lines);
    assert_eq!(
        counts.get(&("rd-u0100".to_string(), "grant".to_string())),
        Some(&2),
        "granted at start and once after the restart: {counts:?}"
    );
    let mut expected: BTreeSet<String> = declared.into_iter().collect();
    expected.insert("rd-rep".into());
    assert_eq!(hub.admins().await, expected);
    assert_eq!(
        hub.user_count().await,
        2000 + 2,
        "rd-carol and rd-rep created"
    );
}

/// The hub's database is lost (a new volume): every user is gone, and the daemon's
/// next run creates the declared admins again.
#[tokio::test]
async fn daemon_recreates_declared_admins_when_the_hub_loses_its_database() {
    let mut hub = common::start_hub();
    hub.create_users(&["rf-plain"], false).await;
    let declared: Vec<String> = vec!["rf-carol".into(), "rf-dave".into(), "rf-plain".into()];
    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &roster_text(&hub.api_url, "rf-rep", &declared, "enforce"),
    );
    let audit = dir.path().join("audit.jsonl");
    let mut daemon = Daemon::start(
        &roster,
        dir.path(),
        &["--interval", "1s", "--audit-log", audit.to_str().unwrap()],
        &hub.admin_sync_token,
    );
    let mut expected: BTreeSet<String> = declared.iter().cloned().collect();
    expected.insert("rf-rep".into());
    eventually(
        30,
        "declared admins granted",
        || daemon.context(),
        || async { hub.admins().await == expected },
    )
    .await;

    hub.kill();
    hub.restart(true);
    // The restart may race the daemon's next run; either way the users come back.
    eventually(
        20,
        "declared admins created again",
        || daemon.context(),
        || async { hub.admins().await == expected },
    )
    .await;
    assert_eq!(
        hub.users().await.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "only the declared admins exist on the new database"
    );
    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.context());

    // rf-plain was granted, the others created; after the loss all are created.
    let counts = applied_counts(&audit_lines(&audit));
    let mut want = BTreeMap::new();
    for user in &expected {
        if user == "rf-plain" {
            want.insert((user.clone(), "grant".to_string()), 1);
            want.insert((user.clone(), "create".to_string()), 1);
        } else {
            want.insert((user.clone(), "create".to_string()), 2);
        }
    }
    assert_eq!(counts, want);
}

/// 20 rounds of hand-made drift (an ordinary user made admin, a declared admin
/// revoked) against the daemon at 500ms: each is fixed, nothing else changes.
#[tokio::test]
async fn hand_made_drift_is_fixed_every_round_and_nothing_else_is_touched() {
    let _guard = common::exclusive().await;
    let hub = common::hub();
    let ordinary: Vec<String> = (0..40).map(|i| format!("hd-o{i:02}")).collect();
    let ordinary_refs: Vec<&str> = ordinary.iter().map(String::as_str).collect();
    hub.create_users(&ordinary_refs, false).await;
    let administrators: Vec<String> = (0..10).map(|i| format!("hd-a{i:02}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &roster_text(&hub.api_url, "hd-rep", &administrators, "enforce"),
    );
    let audit = dir.path().join("audit.jsonl");
    let mut daemon = Daemon::start(
        &roster,
        dir.path(),
        &[
            "--interval",
            "500ms",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &hub.admin_sync_token,
    );
    let mut declared: BTreeSet<String> = administrators.iter().cloned().collect();
    declared.insert("hd-rep".into());
    eventually(
        30,
        "in sync at start",
        || daemon.context(),
        || async { hub.admins().await == declared },
    )
    .await;
    let users_before = hub.users().await;
    let lines_before = audit_lines(&audit).len();

    let seed = fastrand::u64(..);
    eprintln!("drift rounds: seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let declared_list: Vec<&String> = declared.iter().collect();
    let rounds = 20;
    let started = Instant::now();
    for round in 0..rounds {
        let intruder = &ordinary[rng.usize(..ordinary.len())];
        let victim = declared_list[rng.usize(..declared_list.len())];
        hub.set_admin(intruder, true).await;
        hub.set_admin(victim, false).await;
        eventually(
            10,
            &format!("round {round} (seed {seed}): {intruder} revoked, {victim} granted"),
            || daemon.context(),
            || async { hub.admins().await == declared },
        )
        .await;
    }
    eprintln!("{rounds} rounds fixed in {:.1?}", started.elapsed());
    assert_eq!(daemon.terminate(), Some(0), "{}", daemon.context());

    let users_after = hub.users().await;
    assert_eq!(
        users_after.keys().collect::<Vec<_>>(),
        users_before.keys().collect::<Vec<_>>(),
        "no user created or deleted"
    );
    for (name, admin) in &users_after {
        assert_eq!(*admin, declared.contains(name), "{name}");
    }
    let lines = audit_lines(&audit)[lines_before..].to_vec();
    let revokes = lines
        .iter()
        .filter(|l| l["event"] == "applied" && l["action"] == "revoke")
        .count();
    let grants = lines
        .iter()
        .filter(|l| l["event"] == "applied" && l["action"] == "grant")
        .count();
    assert_eq!(revokes, rounds, "one revoke per round: {lines:?}");
    assert_eq!(grants, rounds, "one grant per round: {lines:?}");
    assert_eq!(lines.len(), 2 * rounds, "nothing else audited: {lines:?}");
    assert!(
        lines
            .iter()
            .filter(|l| l["action"] == "revoke")
            .all(|l| ordinary.iter().any(|o| l["user"] == o.as_str())),
        "only hand-made admins revoked"
    );
}
