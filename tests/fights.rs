//! Fight detection on a real JupyterHub of this binary's own: a hub whose config lists
//! an admin the roster does not declare (`c.Authenticator.admin_users`) re-grants it at
//! every start. The daemon revokes, the restart re-grants, twice: then the user is
//! contested and left alone.

mod common;

use common::webhook::{messages, receiver};
use common::{Daemon, HubEntry, RosterBuilder};
use serde_json::Value;
use std::time::Duration;

const STRAY: &str = "fight-stray";

#[tokio::test]
async fn a_hub_that_regrants_admin_users_at_each_start_ends_with_the_user_contested() {
    // The representative is in admin_users too, so the restart takes nothing from it
    // (the hub applies admin_users with the admin role as the exact admin list).
    let mut hub = common::start_hub_with_env(&[("HUB_ADMIN_USERS", "fight-rep,fight-stray")]);
    let dir = tempfile::tempdir().unwrap();
    let roster = RosterBuilder::one_hub(
        "fight",
        "fight-rep",
        HubEntry::new("fhub", &hub.api_url, "TOK"),
    )
    .write(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let alerts = receiver(200, Duration::ZERO).await;
    let webhook = format!("{}/hook", alerts.uri());
    let daemon = Daemon::start_with_state(
        &roster,
        dir.path(),
        &audit,
        &state,
        &hub.admin_sync_token,
        &webhook,
        &["--max-attempts", "1"],
    );
    wait_not_admin(&hub, &daemon, "the first revoke").await;

    // Restart 1: the hub re-grants; the daemon revokes again (reversal 1).
    hub.kill();
    hub.restart(false);
    wait_not_admin(&hub, &daemon, "the revoke after reversal 1").await;
    assert_eq!(contested(&daemon).await, 0.0);

    // Restart 2: reversal 2, contested: no further revoke.
    hub.kill();
    hub.restart(false);
    common::wait_until(
        60,
        "contested{hub=fhub} 1",
        || daemon.context(),
        || async { contested(&daemon).await == 1.0 },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        hub.admins().await.contains(STRAY),
        "a contested user is not revoked\n{}",
        daemon.context()
    );
    let log = daemon.log();
    assert_eq!(
        log.matches("fight-stray on hub fhub is contested").count(),
        1,
        "one contested message\n{log}"
    );
    assert!(log.contains("c.Authenticator.admin_users"), "{log}");
    assert_eq!(
        log.matches("something else undid the last change to this user")
            .count(),
        2,
        "each reversal is logged\n{log}"
    );
    // The audit trail: exactly two revokes of the stray admin, none after.
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let revokes = lines
        .iter()
        .filter(|l| l["user"] == STRAY && l["action"] == "revoke" && l["event"] == "applied")
        .count();
    assert_eq!(revokes, 2, "{lines:?}");
    // Each step: the reversals the daemon found, then the contest, with its cause.
    let events: Vec<&str> = lines
        .iter()
        .filter(|l| l["user"] == STRAY)
        .filter_map(|l| l["event"].as_str())
        .filter(|e| *e != "seen")
        .collect();
    assert_eq!(
        events,
        [
            "intent",
            "applied",
            "intent",
            "applied",
            "reversed",
            "reversed",
            "contested"
        ],
        "each change written ahead, then its outcome; what a run found undone closes the run: {lines:?}"
    );
    let contested = lines.iter().find(|l| l["event"] == "contested").unwrap();
    assert!(
        contested["result"]
            .as_str()
            .unwrap()
            .contains("admin_users"),
        "{contested}"
    );
    // One contested alert, naming the likely cause.
    let contests: Vec<Value> = messages(&alerts)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "contested" && m["status"] == "firing")
        .collect();
    assert_eq!(contests.len(), 1, "{contests:#?}");
    let text = contests[0]["text"].as_str().unwrap();
    assert!(
        text.contains(STRAY) && text.contains("admin_users"),
        "{text}"
    );
    // The state is on disk, for a restart of the daemon.
    let file = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("hub-fhub-")
        })
        .unwrap_or_else(|| panic!("no state file of hub fhub in {}", state.display()));
    let kept = std::fs::read_to_string(file).unwrap();
    assert!(kept.contains("contested_since"), "{kept}");
}

/// Waits until the stray admin is not admin (a hub that is down does not count).
async fn wait_not_admin(hub: &common::Hub, daemon: &Daemon, what: &str) {
    let (api, token) = (hub.api_url.as_str(), hub.test_admin_token.as_str());
    common::wait_until(
        60,
        what,
        || daemon.context(),
        || async move { !admins(api, token).await.iter().any(|a| a == STRAY) },
    )
    .await;
}

/// The hub's admins, read with the harness's own admin token.
async fn admins(api_url: &str, token: &str) -> Vec<String> {
    let client = reqwest::Client::new();
    let Ok(response) = client
        .get(format!("{api_url}/users?limit=200"))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
    else {
        return vec![STRAY.to_string()];
    };
    let users: Vec<Value> = response.json().await.unwrap_or_default();
    users
        .iter()
        .filter(|u| u["admin"] == true)
        .filter_map(|u| u["name"].as_str().map(String::from))
        .collect()
}

async fn contested(daemon: &Daemon) -> f64 {
    daemon
        .metric("jupyterhub_admin_sync_contested{hub=\"fhub\"}")
        .await
        .unwrap_or(-1.0)
}
