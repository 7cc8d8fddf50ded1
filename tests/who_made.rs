//! Who made each admin, read from a real hub's own log file by the binary: a one-shot
//! dry run, the daemon under `enforce` (its audit lines and alerts), and a log that is
//! not the hub's at INFO (said, never a silent "unknown").
//!
//! One hub for the binary; every test holds [`common::exclusive`] and uses its own
//! users. People act on the hub with their own tokens, as the hub's admin page does.

mod common;

use common::{Community, Daemon, HubEntry, RosterBuilder, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

use common::webhook::{receiver, texts};

/// A representative who is admin, an outsider (not in the roster) who is admin, and
/// the users they act on, all created by `test-admin`.
async fn people(hub: &common::Hub, rep: &str, outsider: &str, users: &[&str]) {
    hub.create_users(&[rep, outsider], true).await;
    hub.create_users(users, false).await;
}

/// A roster of community `who` with `rep` and the hub `name` whose log is `log`.
fn roster(dir: &Path, hub: &common::Hub, rep: &str, name: &str, log: &Path) -> std::path::PathBuf {
    // Other tests' leftovers are revoked too: the limits give room for them.
    let entry = HubEntry::new(name, &hub.api_url, "TOK")
        .policy("enforce")
        .set("max_revocations", 100)
        .set("max_revocation_share", 1)
        .set("log", format!("{{file: '{}'}}", log.display()));
    RosterBuilder::new()
        .community(Community::new("who").rep(rep).hub(entry))
        .write(dir)
}

/// The JSON change for `user` on the test's hub, `whohub`.
fn change<'a>(report: &'a Value, user: &str) -> &'a Value {
    common::hub_change(report, "whohub", user)
}

#[tokio::test]
async fn a_dry_run_says_who_made_each_undeclared_admin_in_the_hub() {
    let (_guard, hub) = common::exclusive_hub(&[], &[]).await;
    people(hub, "wm-rep", "wm-outsider", &["wm-newbie", "wm-stray"]).await;
    hub.make_admin_as("wm-rep", "wm-newbie").await;
    hub.make_admin_as("wm-outsider", "wm-stray").await;
    let dir = tempfile::tempdir().unwrap();
    let roster = roster(dir.path(), hub, "wm-rep", "whohub", &hub.log_path());
    let run = |args: &[&str]| common::run_roster(&roster, args, &[("TOK", &hub.admin_sync_token)]);

    let report = common::exit_report(&run(&["--dry-run", "--output", "json"]), 2);
    let newbie = change(&report, "wm-newbie");
    assert_eq!(newbie["made_by"], json!({"actor": "wm-rep"}), "{newbie}");
    assert_eq!(newbie["via"], "api", "{newbie}");
    assert!(
        newbie["at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{newbie}"
    );
    assert_eq!(
        change(&report, "wm-stray")["made_by"],
        json!({"actor": "wm-outsider"})
    );
    // The outsider was made admin by test-admin, through the API.
    assert_eq!(
        change(&report, "wm-outsider")["made_by"],
        json!({"actor": "test-admin"})
    );
    let text = common::stdout(&run(&["--dry-run"]));
    common::assert_contains_all(
        &text,
        &[
            "would revoke admin from wm-newbie: undeclared admin by flag (stays a user); made admin by wm-rep through the API at ",
        ],
    );
}

#[tokio::test]
async fn the_daemon_revokes_and_its_audit_and_alerts_name_who_made_each_admin() {
    let (_guard, hub) = common::exclusive_hub(&[], &[]).await;
    people(
        hub,
        "wd-rep",
        "wd-outsider",
        &["wd-early", "wd-late", "wd-carol"],
    )
    .await;
    // Made admin before the daemon starts, by someone the roster does not declare.
    hub.make_admin_as("wd-outsider", "wd-early").await;
    let dir = tempfile::tempdir().unwrap();
    let roster = roster(dir.path(), hub, "wd-rep", "whohub", &hub.log_path());
    let (audit, state) = (dir.path().join("audit.jsonl"), dir.path().join("state"));
    std::fs::create_dir(&state).unwrap();
    let alerts = receiver(200, Duration::ZERO).await;
    let mut daemon = Daemon::start_with_state(
        &roster,
        dir.path(),
        &audit,
        &state,
        &hub.admin_sync_token,
        &alerts.uri(),
        &[],
    );
    hub.wait_for_not_admin(&["wd-early", "wd-outsider"], 30, || daemon.context())
        .await;
    // Made admin while the daemon runs, by the representative.
    hub.make_admin_as("wd-rep", "wd-late").await;
    hub.wait_for_not_admin(&["wd-late"], 30, || daemon.context())
        .await;

    let trail = common::audit::Trail::read(&audit);
    let intent = |user: &str| {
        trail
            .lines
            .iter()
            .find(|l| l["event"] == "intent" && l["user"] == user)
            .unwrap_or_else(|| panic!("no intent for {user}: {:#?}", trail.lines))
            .clone()
    };
    assert_eq!(
        intent("wd-early")["made_by"],
        json!({"actor": "wd-outsider"})
    );
    assert_eq!(intent("wd-late")["made_by"], json!({"actor": "wd-rep"}));
    assert_eq!(intent("wd-late")["via"], "api");
    // The news of each revocation names who had made them admin. The news is sent once
    // the run has applied its changes, so it may arrive after the flag is seen changed.
    let said = |user: &str, by: &str| format!("{user} (made admin by {by} through the API at ");
    let news_names_both = || async {
        let texts = texts(&alerts).await;
        [("wd-early", "wd-outsider"), ("wd-late", "wd-rep")]
            .iter()
            .all(|(user, by)| texts.iter().any(|t| t.contains(&said(user, by))))
    };
    wait_until(
        30,
        "news naming who made wd-early and wd-late admin",
        || daemon.context(),
        news_names_both,
    )
    .await;
    // The daemon's own revocation is its own in the log, known from its intent: the
    // representative granting wd-early again is who made them admin now.
    assert_eq!(
        daemon
            .metric("jupyterhub_admin_sync_log_usable{hub=\"whohub\"}")
            .await,
        Some(1.0)
    );
    daemon.terminate();
}

#[tokio::test]
async fn a_log_that_is_not_the_hubs_at_info_is_said_to_be_unusable() {
    let (_guard, hub) = common::exclusive_hub(&[], &[]).await;
    people(hub, "wu-rep", "wu-outsider", &["wu-user"]).await;
    hub.make_admin_as("wu-outsider", "wu-user").await;
    let dir = tempfile::tempdir().unwrap();
    // The hub's log as a hub at WARNING would have written it: no request lines.
    let warnings: String = hub
        .log()
        .lines()
        .filter(|l| l.starts_with("[W ") || l.starts_with("[E "))
        .map(|l| format!("{l}\n"))
        .collect();
    let log = dir.path().join("hub-at-warning.log");
    std::fs::write(
        &log,
        format!("{warnings}[W 2026-12-01 12:00:00.000 JupyterHub app:1] a warning\n"),
    )
    .unwrap();
    let roster = roster(dir.path(), hub, "wu-rep", "whohub", &log);
    let out = common::run_roster(
        &roster,
        &["--dry-run", "--output", "json"],
        &[("TOK", &hub.admin_sync_token)],
    );
    let report = common::exit_report(&out, 2);
    let warnings = report["hubs"][0]["warnings"].to_string();
    common::assert_contains_all(
        &warnings,
        &["who made each change cannot be said", "no request line"],
    );
    assert_eq!(
        change(&report, "wu-user")["made_by"],
        json!({"unknown": "not_in_log"}),
        "{report}"
    );
    // A log that is not there is said too, and the run goes on.
    let missing = roster_missing(dir.path(), hub);
    let out = common::run_roster(
        &missing,
        &["--dry-run", "--output", "json"],
        &[("TOK", &hub.admin_sync_token)],
    );
    let report = common::exit_report(&out, 2);
    assert!(
        report["hubs"][0]["warnings"]
            .to_string()
            .contains("cannot be said this run"),
        "{report}"
    );
}

/// The roster of [`a_log_that_is_not_the_hubs_at_info_is_said_to_be_unusable`] with a
/// log file that does not exist.
fn roster_missing(dir: &Path, hub: &common::Hub) -> std::path::PathBuf {
    let sub = dir.join("missing");
    std::fs::create_dir_all(&sub).unwrap();
    roster(&sub, hub, "wu-rep", "whohub", &sub.join("no-such.log"))
}
