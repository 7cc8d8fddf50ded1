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

use common::daemon::wait_for_exit;
use common::{Community, Daemon, HubEntry, RosterBuilder, wait_until};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A roster of one community (`rs-lab`) with representative `rep`, `administrators`
/// (all added by `rep`) and one hub `rhub` at `api_url`, token in `$RTOKEN`.
fn lab_roster(api_url: &str, rep: &str, administrators: &[String], policy: &str) -> RosterBuilder {
    RosterBuilder::new()
        .defaults("max_revocations", 10)
        .community(
            Community::new("rs-lab")
                .rep(rep)
                .admins(administrators, rep)
                .hub(HubEntry::new("rhub", api_url, "RTOKEN").policy(policy)),
        )
}

/// The environment of every run here: the hub's token in `$RTOKEN`, logs at info.
fn env(token: &str) -> [(&str, &str); 2] {
    [("RTOKEN", token), ("RUST_LOG", "info")]
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

/// The daemon on `roster` against `hub` every `interval`, with `args`; its audit trail
/// in `dir/audit.jsonl`.
fn start_daemon(
    roster: &Path,
    dir: &Path,
    hub: &common::Hub,
    interval: &str,
    args: &[&str],
) -> (Daemon, PathBuf) {
    let audit = dir.join("audit.jsonl");
    let mut all = vec![
        "--interval",
        interval,
        "--audit-log",
        audit.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    (
        Daemon::start(roster, dir, &all, &env(&hub.admin_sync_token)),
        audit,
    )
}

/// Waits until the hub's admins are exactly `expected`.
async fn wait_for_admins(
    hub: &common::Hub,
    daemon: &Daemon,
    expected: &BTreeSet<String>,
    secs: u64,
    what: &str,
) {
    let check = || async { hub.admins().await == *expected };
    wait_until(secs, what, || daemon.context(), check).await;
}

/// The offsets of the pages of `GET /hub/api/users` a hub's log shows for the last
/// listing that began in it (at offset 0), in order; empty if none began.
fn current_listing(log: &str) -> Vec<usize> {
    let offsets: Vec<usize> = log
        .lines()
        .filter_map(|l| {
            l.split_once("GET /hub/api/users?offset=")?
                .1
                .split('&')
                .next()
        })
        .filter_map(|o| o.parse().ok())
        .collect();
    match offsets.iter().rposition(|o| *o == 0) {
        Some(start) => offsets[start..].to_vec(),
        None => Vec::new(),
    }
}

/// Waits until `n` lines of the log at `log` are changes `made` (each is logged as it
/// is made) while `child` runs, then SIGKILLs the hub: a kill mid-apply.
fn kill_hub_after_changes(
    hub: &mut common::Hub,
    child: &mut Child,
    log: &Path,
    n: usize,
    made: impl Fn(&str) -> bool,
) {
    let read_log = || std::fs::read_to_string(log).unwrap_or_default();
    common::wait_until_blocking(
        Duration::from_secs(30),
        Duration::from_millis(10),
        &format!("{n} changes made while the run goes on"),
        || common::last_lines(&read_log(), 40),
        || {
            assert!(
                matches!(child.try_wait(), Ok(None)),
                "the run ended before {n} changes were made:\n{}",
                read_log()
            );
            read_log().lines().filter(|l| made(l)).count() >= n
        },
    );
    hub.kill();
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
    let roster = lab_roster(&hub.api_url, "rk-rep", &declared, "enforce").write(dir.path());
    let roster = roster.to_str().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let stderr_path = dir.path().join("once1.stderr");
    let stdout_path = dir.path().join("once1.stdout");
    let mut once = common::command(&env(&hub.admin_sync_token))
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
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();

    // Kill the hub once some 30 changes are through.
    kill_hub_after_changes(&mut hub, &mut once, &stderr_path, 30, |l| {
        l.contains("hub=rhub") && (l.contains("created admin") || l.contains("granted admin"))
    });
    let killed_at = Instant::now();
    let status = wait_for_exit(&mut once, Duration::from_secs(30))
        .expect("--once ends within 30 s of the hub's death");
    let out = Output {
        status,
        stdout: std::fs::read(&stdout_path).unwrap(),
        stderr: std::fs::read(&stderr_path).unwrap(),
    };
    eprintln!("--once ended {:.1?} after the kill", killed_at.elapsed(),);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));
    assert!(!stderr.contains("panicked"), "{}", common::show(&out));
    let report = common::report(&out);
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
    let out = common::run(
        &[
            "--config",
            roster,
            "--once",
            "--output",
            "json",
            "--audit-log",
            audit.to_str().unwrap(),
        ],
        &env(&hub.admin_sync_token),
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
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

    let out = common::run(
        &["--config", roster, "--dry-run"],
        &env(&hub.admin_sync_token),
    );
    common::assert_case_exit("in sync", &out, 0);
}

/// A hub that dies mid-apply and stays dead: `--once` with the default retries must
/// still end promptly, not spend the whole retry budget on every change left.
#[tokio::test]
async fn once_gives_up_promptly_on_a_hub_that_died_mid_apply() {
    let mut hub = common::start_hub();
    let declared: Vec<String> = (0..200).map(|i| format!("rp-new{i:03}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let roster = lab_roster(&hub.api_url, "rp-rep", &declared, "enforce").write(dir.path());
    let stderr_path = dir.path().join("once.stderr");
    let mut once = common::command(&env(&hub.admin_sync_token))
        .args([
            "--config",
            roster.to_str().unwrap(),
            "--once",
            "--output",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    kill_hub_after_changes(&mut hub, &mut once, &stderr_path, 20, |l| {
        l.contains("created admin")
    });
    let limit = Duration::from_secs(15);
    let status = wait_for_exit(&mut once, limit);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    // `apply()` stops at the first change that fails with a transport error once its
    // retries are spent, and marks the rest "not tried: the hub stopped answering",
    // rather than spending the retry budget again on each of the ~180 changes left.
    let status = status.unwrap_or_else(|| {
        panic!(
            "--once still running {limit:?} after the hub died ({} \"will retry\" warnings so far); log tail:\n{}",
            stderr.matches("will retry").count(),
            common::last_lines(&stderr, 10)
        )
    });
    assert_eq!(
        status.code(),
        Some(1),
        "{}",
        common::last_lines(&stderr, 20)
    );
    assert!(!stderr.contains("panicked"));
}

/// SIGKILL while the daemon reads a hub of 2,000 users 20 a page (101 pages), once the
/// hub's own log shows the listing 20 pages in; kept down for a few seconds, then
/// restarted on the same database. The hub's log then shows that the listing was cut
/// short. `--max-attempts 2` so the outage outlasts the retries and runs fail.
#[tokio::test]
async fn daemon_outlives_a_hub_killed_mid_read_and_converges_after_restart() {
    let (mut hub, _users) = hub_with_users("rd-u", 2000, 20);
    let declared: Vec<String> = vec!["rd-carol".into(), "rd-u0100".into()];
    let dir = tempfile::tempdir().unwrap();
    let roster = lab_roster(&hub.api_url, "rd-rep", &declared, "enforce").write(dir.path());
    let (mut daemon, audit) =
        start_daemon(&roster, dir.path(), &hub, "500ms", &["--max-attempts", "2"]);
    daemon.wait_ready(60).await;
    assert!(hub.admins().await.contains("rd-carol"));
    let errors = "jupyterhub_admin_sync_errors_total{hub=\"rhub\"";
    let errors_before = daemon.metric_sum(errors).await;

    // Make drift between two runs, then kill the hub once the next run's listing is 20
    // pages in (the hub logs every page it serves). The drift can only be fixed by a run
    // after the restart.
    let last_run = "jupyterhub_admin_sync_last_run_timestamp_seconds{hub=\"rhub\"}";
    let previous = daemon.metric_sum(last_run).await;
    daemon
        .wait_metric_above(30, "a run ends", last_run, previous)
        .await;
    hub.set_admin("rd-u0100", false).await;
    let mark = hub.log().len();
    let listing_since_mark = |hub: &common::Hub| current_listing(&hub.log()[mark..]);
    common::wait_until_blocking(
        Duration::from_secs(30),
        Duration::from_millis(5),
        "a listing begun after the drift, 20 pages in",
        || hub.log_tail(20),
        || listing_since_mark(&hub).iter().any(|o| *o >= 400),
    );
    hub.kill();
    // The kill landed mid-listing: the hub served that listing's first 20 pages but
    // never its last (2,002 users: offset 2000).
    let listing = listing_since_mark(&hub);
    let last_page = 2000;
    assert!(
        listing.len() >= 20 && listing.iter().all(|o| *o < last_page),
        "pages served by the listing the kill cut: {listing:?}"
    );
    // Down for 4 s: runs fail, the daemon stays up and healthy.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(daemon.alive(), "{}", daemon.context());
    assert_eq!(daemon.get("/healthz").await.0, 200, "{}", daemon.context());
    daemon
        .wait_metric_above(10, "a failed run counted", errors, errors_before)
        .await;
    hub.restart(false);
    hub.wait_for_admin("rd-u0100", 20, || daemon.context())
        .await;
    wait_until(
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

    assert_eq!(daemon.terminate().0, Some(0), "{}", daemon.context());
    let log = daemon.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        log.contains("cannot read the hub; nothing is changed on it this run"),
        "{}",
        daemon.context()
    );
    assert!(log.contains("cannot connect"), "{}", daemon.context());
    let lines = audit_lines(&audit);
    // A failed read changes nothing: no change was tried, so none failed.
    let failed: Vec<&Value> = lines.iter().filter(|l| l["event"] == "failed").collect();
    assert!(failed.is_empty(), "{failed:?}");
    // The first failed read is a page of the listing, not the next run's first request.
    let first_error = log
        .lines()
        .find(|l| l.contains("cannot read the hub"))
        .unwrap_or_default();
    assert!(
        first_error.contains("/users?"),
        "the first failed read is a page of users: {first_error}"
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
    let roster = lab_roster(&hub.api_url, "rf-rep", &declared, "enforce").write(dir.path());
    let (mut daemon, audit) = start_daemon(&roster, dir.path(), &hub, "1s", &[]);
    let mut expected: BTreeSet<String> = declared.iter().cloned().collect();
    expected.insert("rf-rep".into());
    wait_for_admins(&hub, &daemon, &expected, 30, "declared admins granted").await;

    hub.kill();
    hub.restart(true);
    // The restart may race the daemon's next run; either way the users come back.
    wait_for_admins(
        &hub,
        &daemon,
        &expected,
        20,
        "declared admins created again",
    )
    .await;
    assert_eq!(
        hub.users().await.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "only the declared admins exist on the new database"
    );
    assert_eq!(daemon.terminate().0, Some(0), "{}", daemon.context());

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
    let administrators: Vec<String> = (0..20).map(|i| format!("hd-a{i:02}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let roster = lab_roster(&hub.api_url, "hd-rep", &administrators, "enforce").write(dir.path());
    let (mut daemon, audit) = start_daemon(&roster, dir.path(), hub, "500ms", &[]);
    let mut declared: BTreeSet<String> = administrators.iter().cloned().collect();
    declared.insert("hd-rep".into());
    wait_for_admins(hub, &daemon, &declared, 30, "in sync at start").await;
    let users_before = hub.users().await;
    let lines_before = audit_lines(&audit).len();

    let seed = fastrand::u64(..);
    eprintln!("drift rounds: seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    // Each user is drifted by hand at most once: the same user undone twice within a
    // day is, by design, contested and left alone (fight detection).
    let mut intruders: Vec<&String> = ordinary.iter().collect();
    rng.shuffle(&mut intruders);
    let mut victims: Vec<&String> = declared.iter().collect();
    rng.shuffle(&mut victims);
    let rounds = 20;
    let started = Instant::now();
    for round in 0..rounds {
        let intruder = intruders[round];
        let victim = victims[round];
        hub.set_admin(intruder, true).await;
        hub.set_admin(victim, false).await;
        wait_for_admins(
            hub,
            &daemon,
            &declared,
            10,
            &format!("round {round} (seed {seed}): {intruder} revoked, {victim} granted"),
        )
        .await;
    }
    eprintln!("{rounds} rounds fixed in {:.1?}", started.elapsed());
    assert_eq!(daemon.terminate().0, Some(0), "{}", daemon.context());

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
    let reversed = lines.iter().filter(|l| l["event"] == "reversed").count();
    assert_eq!(revokes, rounds, "one revoke per round: {lines:?}");
    assert_eq!(grants, rounds, "one grant per round: {lines:?}");
    // The victim's admin, which the daemon had granted, was undone by hand: a reversal.
    assert_eq!(reversed, rounds, "one reversal per round: {lines:?}");
    let intents = lines.iter().filter(|l| l["event"] == "intent").count();
    assert_eq!(intents, 2 * rounds, "each change written ahead: {lines:?}");
    assert_eq!(lines.len(), 5 * rounds, "nothing else audited: {lines:?}");
    assert!(
        lines
            .iter()
            .filter(|l| l["action"] == "revoke")
            .all(|l| ordinary.iter().any(|o| l["user"] == o.as_str())),
        "only hand-made admins revoked"
    );
}
