//! The daemon against a real JupyterHub: drift made by hand is fixed while it runs,
//! alerts fire and resolve, metrics follow, the audit trail is written, roster edits
//! take effect without a restart, and SIGTERM stops it cleanly.

mod common;

use common::webhook::{messages, receiver};
use common::{Community, Daemon, HubEntry, RosterBuilder, wait_until};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use wiremock::MockServer;

/// Waits until the first sample of `series` is `value`.
async fn wait_for_metric(daemon: &Daemon, series: &str, value: f64) {
    let check = || async { daemon.metric(series).await == Some(value) };
    wait_until(
        10,
        &format!("{series} = {value}"),
        || daemon.context(),
        check,
    )
    .await;
}

/// Waits until `receiver` got an alert of `kind` with `status` (firing, resolved).
async fn wait_for_alert(receiver: &MockServer, daemon: &Daemon, kind: &str, status: &str) {
    wait_until(
        10,
        &format!("a {status} {kind} alert"),
        || daemon.context(),
        || async {
            let sent = messages(receiver).await;
            sent.iter()
                .any(|a| a["kind"] == kind && a["status"] == status)
        },
    )
    .await;
}

/// One community `daemon-lab` with representatives `reps`, `administrators` as
/// `(name, added_by)`, and one hub `dhub`, the shared hub with `policy`, token in `$DTOKEN`.
fn lab_roster(policy: &str, administrators: &[(&str, &str)], reps: &[&str]) -> RosterBuilder {
    let entry = HubEntry::new("dhub", &common::hub().api_url, "DTOKEN").policy(policy);
    let mut community = Community::new("daemon-lab").hub(entry);
    for rep in reps {
        community = community.rep(rep);
    }
    for (name, by) in administrators {
        community = community.admin(name, by);
    }
    RosterBuilder::new()
        .defaults("max_revocations", 100)
        .defaults("max_revocation_share", 1)
        .community(community)
}

/// The daemon as these tests run it: the roster polled every 300ms, the shared hub's
/// token in `$DTOKEN`, and `env`.
fn start(roster: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
    let mut all = vec!["--roster-poll", "300ms"];
    all.extend_from_slice(args);
    let token = [("DTOKEN", common::hub().admin_sync_token.as_str())];
    Daemon::start(roster, dir, &all, &[&token[..], env].concat())
}

/// The shared hub, held alone, with the users `admins` (admin) and `users` (not admin)
/// created if missing; a healthy alert receiver; a temp dir.
async fn set_up(
    admins: &[&str],
    users: &[&str],
) -> (
    common::Exclusive,
    &'static common::Hub,
    MockServer,
    tempfile::TempDir,
) {
    let (guard, hub) = common::exclusive_hub(admins, users).await;
    let receiver = receiver(200, Duration::ZERO).await;
    (guard, hub, receiver, tempfile::tempdir().unwrap())
}

#[tokio::test]
async fn daemon_fixes_hand_made_drift_alerts_and_audits() {
    let (_guard, hub, receiver, dir) = set_up(&["dm-ui-admin"], &["dm-carol"]).await;
    let roster = lab_roster("grant", &[("dm-carol", "dm-rep")], &["dm-rep"]).write(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let webhook = format!("{}/hooks/secret-path-XYZ", receiver.uri());
    let mut daemon = start(
        &roster,
        dir.path(),
        &["--interval", "1s", "--audit-log", audit.to_str().unwrap()],
        &[("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL", webhook.as_str())],
    );

    daemon.wait_ready(30).await;
    assert_eq!(daemon.get("/healthz").await.0, 200);
    let admins = hub.admins().await;
    assert!(
        admins.contains("dm-carol") && admins.contains("dm-rep"),
        "{admins:?}"
    );
    // Policy grant leaves the admin granted in the UI: drift 1, an alert fires.
    let undeclared = "jupyterhub_admin_sync_drift{hub=\"dhub\",kind=\"undeclared\"}";
    assert_eq!(
        daemon.metric(undeclared).await,
        Some(1.0),
        "{}",
        daemon.get("/metrics").await.1
    );
    wait_for_alert(&receiver, &daemon, "drift", "firing").await;
    let firing = messages(&receiver).await;
    let firing = firing.iter().find(|a| a["status"] == "firing").unwrap();
    assert_eq!(firing["hub"], "dhub");
    assert_eq!(firing["community"], "daemon-lab");
    assert_eq!(
        firing["details"]["undeclared"],
        serde_json::json!(["dm-ui-admin"])
    );
    assert!(firing["text"].as_str().unwrap().contains("dm-ui-admin"));

    // A declared admin revoked by hand is granted again.
    hub.set_admin("dm-carol", false).await;
    hub.wait_for_admin("dm-carol", 10, || daemon.context())
        .await;

    // The undeclared admin removed by hand: drift goes to 0, the alert resolves.
    hub.set_admin("dm-ui-admin", false).await;
    wait_for_metric(&daemon, undeclared, 0.0).await;
    wait_for_alert(&receiver, &daemon, "drift", "resolved").await;
    let sent = messages(&receiver).await;
    assert_eq!(
        sent.iter()
            .filter(|a| a["kind"] == "drift" && a["status"] == "firing")
            .count(),
        1,
        "one firing alert, not one per run: {sent:?}"
    );

    let (code, took) = daemon.terminate();
    assert_eq!(code, Some(0), "{}", daemon.log());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let log = daemon.log();
    assert!(
        !log.contains("secret-path-XYZ"),
        "the webhook URL leaked:\n{log}"
    );
    assert!(!log.contains(&hub.admin_sync_token), "the token leaked");
    assert!(
        log.contains("granted admin") && log.contains("added_by=dm-rep"),
        "{log}"
    );

    let lines = common::json_lines(&std::fs::read_to_string(&audit).unwrap());
    let grants: Vec<&Value> = lines
        .iter()
        .filter(|l| l["user"] == "dm-carol" && l["action"] == "grant" && l["event"] == "applied")
        .collect();
    assert_eq!(grants.len(), 2, "first grant and the re-grant: {lines:?}");
    assert_eq!(grants[0]["added_by"], "dm-rep");
    assert_eq!(grants[0]["hub"], "dhub");
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "dm-rep" && l["action"] == "create")
    );
    let seen: Vec<&Value> = lines
        .iter()
        .filter(|l| l["user"] == "dm-ui-admin" && l["event"] == "seen")
        .collect();
    assert_eq!(
        seen.len(),
        1,
        "an undeclared admin is recorded once while it stays: {lines:?}"
    );
}

#[tokio::test]
async fn roster_edits_take_effect_without_restart_and_invalid_edits_are_ignored() {
    // The representative is admin already, so revoking what earlier tests left does not
    // take every admin (the safety floor would hold that).
    let (_guard, hub, receiver, dir) = set_up(&["re-rep"], &[]).await;
    let roster = lab_roster("enforce", &[], &["re-rep"]).write(dir.path());
    // A long interval: only a roster change can explain a quick second run.
    let mut daemon = start(
        &roster,
        dir.path(),
        &[
            "--interval",
            "10m",
            "--alert-webhook-url",
            &format!("{}/hook", receiver.uri()),
        ],
        &[],
    );
    daemon.wait_ready(30).await;
    assert!(hub.admins().await.contains("re-rep"));

    // A new administrator in the roster is granted without a restart.
    let declaring_re_new = lab_roster("enforce", &[("re-new", "re-rep")], &["re-rep"]);
    declaring_re_new.replace(&roster);
    hub.wait_for_admin("re-new", 15, || daemon.context()).await;

    // An invalid edit: logged, alerted, metric 0, the last good roster stays.
    lab_roster("enforce", &[("re-new", "re-rep")], &["a", "b", "c"]).replace(&roster);
    wait_for_metric(&daemon, "jupyterhub_admin_sync_roster_valid", 0.0).await;
    assert!(
        daemon.log().contains("has 3 representatives"),
        "{}",
        daemon.log()
    );
    wait_for_alert(&receiver, &daemon, "roster", "firing").await;
    // SIGHUP forces a run with the last good roster, which still declares re-new.
    hub.set_admin("re-new", false).await;
    daemon.signal("HUP");
    hub.wait_for_admin("re-new", 15, || daemon.context()).await;
    assert!(
        hub.admins().await.contains("re-rep"),
        "the invalid roster's people were not applied"
    );
    assert!(!hub.admins().await.contains("a"));

    // Fixed again: valid, resolved.
    declaring_re_new.replace(&roster);
    wait_for_metric(&daemon, "jupyterhub_admin_sync_roster_valid", 1.0).await;
    wait_for_alert(&receiver, &daemon, "roster", "resolved").await;
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0), "{}", daemon.log());
}

#[tokio::test]
async fn an_invalid_roster_at_start_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(dir.path(), "roster.yaml", "communities: [{name: x}]\n");
    let out = common::run_roster(&roster, &[], &[]);
    common::assert_exit(&out, 1);
    common::assert_stderr_contains(&out, "community x: has no representative");
}
