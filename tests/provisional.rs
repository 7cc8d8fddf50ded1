//! Provisional administrators on a real hub (`ui_grants: {keep_for: 30d}`): an admin
//! made in the hub by someone the roster entitles is kept, on record and told to the
//! community, across runs and a restart of the daemon; one made by anyone else (an
//! outsider, or a provisional administrator) is revoked under `enforce`; a grant whose
//! maker leaves the roster ends at once. A one-shot run keeps what its reading of the
//! hub's log shows; without the daemon's state it revokes no undeclared admin there, and
//! with it reads the daemon's records; the daemon refuses to start without its state.
//!
//! One hub for the binary; every test holds [`common::exclusive`] and uses its own
//! users. People act on the hub with their own tokens, as the hub's admin page does.
//! That keep_for runs out (and the warning before it) is shown on explicit times in
//! `src/plan/provisional.rs`, not by waiting here.

mod common;

use common::webhook::{receiver, texts};
use common::{Community, Daemon, HubEntry, RosterBuilder, wait_until};
use jupyterhub_admin_sync::daemon::state::{HubState, StateStore};
use jupyterhub_admin_sync::plan::provisional::Provisional;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `actor` adds the new user `user` as an admin (the API's bulk add) with their own token.
async fn add_as_admin(hub: &common::Hub, actor: &str, user: &str) {
    let token = hub.user_token(actor).await;
    let body = json!({"usernames": [user], "admin": true});
    let (status, answer) = hub
        .request(reqwest::Method::POST, "/users", &token, Some(&body))
        .await;
    assert_eq!(status, 201, "{actor} adding {user} as admin: {answer}");
}

/// The shared hub, held alone, with `admins` made admin by `test-admin` one by one
/// (`PATCH`, whose lines the log settles at once, where a bulk add's wait for the log to
/// move on) and `users`.
async fn exclusive_hub_with_admins(
    admins: &[&str],
    users: &[&str],
) -> (common::Exclusive, &'static common::Hub) {
    let all: Vec<&str> = admins.iter().chain(users).copied().collect();
    let (guard, hub) = common::exclusive_hub(&[], &all).await;
    for admin in admins {
        hub.set_admin(admin, true).await;
    }
    (guard, hub)
}

/// Community `prov` with representative `rep`, the administrators `admins` (added by
/// `rep`) and hub `provhub` under `enforce`, keeping grants made in it for 30 days.
fn roster(hub: &common::Hub, rep: &str, admins: &[&str]) -> RosterBuilder {
    // Other tests' leftovers are revoked too: the limits give room for them.
    let entry = HubEntry::new("provhub", &hub.api_url, "TOK")
        .policy("enforce")
        .set("max_revocations", 100)
        .set("max_revocation_share", 1)
        .set("ui_grants", "{keep_for: 30d}")
        .set("log", format!("{{file: '{}'}}", hub.log_path().display()));
    RosterBuilder::new().community(
        Community::new("prov")
            .rep(rep)
            .admins(admins, rep)
            .hub(entry),
    )
}

/// The daemon over `roster`, its audit trail in `dir/audit.jsonl` and its state in `state`.
fn start(roster: &Path, dir: &Path, state: &Path, alerts: &str, hub: &common::Hub) -> Daemon {
    let audit = dir.join("audit.jsonl");
    Daemon::start_with_state(
        roster,
        dir,
        &audit,
        state,
        &hub.admin_sync_token,
        alerts,
        &[],
    )
}

/// The audit lines of `event` for `user`.
fn audit_lines(path: &Path, event: &str, user: &str) -> Vec<Value> {
    common::audit::Trail::read(path)
        .lines
        .into_iter()
        .filter(|l| l["event"] == event && l["user"] == user)
        .collect()
}

/// Waits up to `secs` until the audit trail `audit` has `user` on record as `event`.
async fn wait_recorded(daemon: &Daemon, audit: &Path, event: &str, user: &str, secs: u64) {
    wait_until(
        secs,
        &format!("{user} on record as {event}"),
        || daemon.context(),
        || async { !audit_lines(audit, event, user).is_empty() },
    )
    .await;
}

#[tokio::test]
async fn the_daemon_keeps_admins_the_roster_entitles_made_in_the_hub_and_revokes_the_rest() {
    let (_guard, hub) = exclusive_hub_with_admins(
        &["pd-rep", "pd-carol", "pd-outsider"],
        &["pd-kept", "pd-stray", "pd-chain", "pd-bycarol"],
    )
    .await;
    // Before the daemon starts: the representative and an outsider each make an admin;
    // the representative also adds a new user as admin (the API's bulk add).
    hub.make_admin_as("pd-rep", "pd-kept").await;
    add_as_admin(hub, "pd-rep", "pd-bulk").await;
    hub.make_admin_as("pd-outsider", "pd-stray").await;
    let dir = tempfile::tempdir().unwrap();
    let state: PathBuf = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let path = roster(hub, "pd-rep", &["pd-carol"]).write(dir.path());
    let alerts = receiver(200, Duration::ZERO).await;
    let mut daemon = start(&path, dir.path(), &state, &alerts.uri(), hub);

    let admins = || async { hub.admins().await };
    hub.wait_for_not_admin(&["pd-stray", "pd-outsider"], 30, || daemon.context())
        .await;
    let now = admins().await;
    assert!(
        now.contains("pd-kept") && now.contains("pd-bulk"),
        "{}",
        daemon.context()
    );
    // The bulk add's role line waits until the log has moved on past any request that
    // could still cover it; pd-bulk is left alone meanwhile, then kept (below).
    // On record: who made them, how, and until when (the run's closing lines follow
    // its changes).
    wait_recorded(&daemon, &audit, "provisional", "pd-kept", 10).await;
    let kept = audit_lines(&audit, "provisional", "pd-kept");
    assert_eq!(kept.len(), 1, "{kept:#?}");
    let result = kept[0]["result"].as_str().unwrap_or_default();
    assert!(
        result.contains("made admin by pd-rep through the API at ")
            && result.contains("kept until "),
        "{result}"
    );
    // Told to the community, with the roster line that makes it permanent.
    let told = "pd-rep made pd-kept admin of hub provhub in the hub (through the API); pd-kept is kept as a provisional administrator until ";
    let line = "To make it permanent, add under hub provhub's administrators in prov: `- {name: pd-kept, added_by: pd-rep}`.";
    wait_until(
        30,
        "news of pd-kept",
        || daemon.context(),
        || async {
            texts(&alerts)
                .await
                .iter()
                .any(|t| t.contains(told) && t.contains(line))
        },
    )
    .await;

    // While it runs: an administrator's grant is kept, a provisional admin's is not.
    hub.make_admin_as("pd-carol", "pd-bycarol").await;
    hub.make_admin_as("pd-kept", "pd-chain").await;
    hub.wait_for_not_admin(&["pd-chain"], 30, || daemon.context())
        .await;
    wait_recorded(&daemon, &audit, "provisional", "pd-bycarol", 30).await;
    assert!(admins().await.contains("pd-bycarol"));
    assert!(audit_lines(&audit, "provisional", "pd-chain").is_empty());
    wait_recorded(&daemon, &audit, "provisional", "pd-bulk", 90).await;
    assert_eq!(
        daemon
            .metric("jupyterhub_admin_sync_provisional{hub=\"provhub\"}")
            .await,
        Some(3.0)
    );

    // A bulk add the daemon has seen, whose log lines still wait when it stops: the stop
    // settles them, so the restarted daemon knows who made pd-late admin.
    add_as_admin(hub, "pd-rep", "pd-late").await;
    wait_until(
        30,
        "pd-late seen, its log lines waiting",
        || daemon.context(),
        || async {
            daemon
                .log()
                .contains("user=pd-late reason=\"new since the last run")
        },
    )
    .await;

    // A restart keeps the records: nothing is told or recorded again.
    daemon.terminate();
    let mut daemon = start(&path, dir.path(), &state, &alerts.uri(), hub);
    wait_until(
        20,
        "pd-late kept at the first run after the restart",
        || daemon.context(),
        || async {
            daemon
                .metric("jupyterhub_admin_sync_provisional{hub=\"provhub\"}")
                .await
                == Some(4.0)
        },
    )
    .await;
    assert!(admins().await.contains("pd-late"));
    for user in ["pd-kept", "pd-bulk", "pd-late"] {
        assert_eq!(audit_lines(&audit, "provisional", user).len(), 1, "{user}");
    }

    // pd-carol leaves the roster: the grant she made ends at once, and the policy applies.
    roster(hub, "pd-rep", &[]).replace(&path);
    hub.wait_for_not_admin(&["pd-bycarol"], 30, || daemon.context())
        .await;
    // The run's closing audit lines follow its changes.
    wait_recorded(&daemon, &audit, "provisional_ended", "pd-bycarol", 10).await;
    let ended = audit_lines(&audit, "provisional_ended", "pd-bycarol");
    assert_eq!(ended.len(), 1, "{ended:#?}");
    assert!(
        ended[0]["result"]
            .as_str()
            .unwrap_or_default()
            .contains("pd-carol is no longer one who may add administrators on the hub"),
        "{ended:#?}"
    );
    assert!(admins().await.contains("pd-kept"), "{}", daemon.context());
    daemon.terminate();
}

#[tokio::test]
async fn a_one_shot_run_without_the_daemons_state_revokes_no_undeclared_admin_and_with_it_reads_it()
{
    let (_guard, hub) = exclusive_hub_with_admins(
        &["po-rep", "po-outsider"],
        &["po-kept", "po-stray", "po-recorded"],
    )
    .await;
    hub.make_admin_as("po-rep", "po-kept").await;
    hub.make_admin_as("po-outsider", "po-stray").await;
    // The log says an outsider made po-recorded admin; the daemon's records (below)
    // say the representative did, as they would once the log rotated away.
    hub.make_admin_as("po-outsider", "po-recorded").await;
    let dir = tempfile::tempdir().unwrap();
    let path = roster(hub, "po-rep", &[]).write(dir.path());
    let run = |args: &[&str]| common::run_roster(&path, args, &[("TOK", &hub.admin_sync_token)]);

    // Without --state-dir: what the log shows the representative made is provisional;
    // every other undeclared admin is left to the daemon.
    let report = common::report(&run(&["--dry-run", "--output", "json"]));
    let provhub = common::hub_report(&report, "provhub");
    let provisional = |hub: &Value, user: &str| {
        hub["provisional"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["user"] == user).cloned())
    };
    let kept = provisional(provhub, "po-kept").unwrap_or_else(|| panic!("{provhub:#}"));
    assert_eq!(kept["granted_by"], "po-rep");
    let change = |hub: &Value, user: &str| {
        hub["changes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["user"] == user).cloned())
    };
    assert!(change(provhub, "po-kept").is_none(), "{provhub:#}");
    let text = common::stdout(&run(&["--dry-run"]));
    common::assert_contains_all(
        &text,
        &["provisional administrator po-kept: made admin by po-rep through the API at "],
    );
    // dump says who made each admin, and which of them ui_grants keeps.
    let dump = common::run(
        &[
            "dump",
            "--config",
            path.to_str().unwrap(),
            "--hub",
            "provhub",
        ],
        &[("TOK", &hub.admin_sync_token)],
    );
    common::assert_contains_all(
        &common::stdout(&dump),
        &[
            "# po-kept: made admin by po-rep through the API at ",
            "; a provisional administrator until ",
        ],
    );
    let report = common::report(&run(&["--once", "--output", "json"]));
    let provhub = common::hub_report(&report, "provhub");
    for user in ["po-stray", "po-recorded"] {
        let left = change(provhub, user).unwrap_or_else(|| panic!("{provhub:#}"));
        assert_eq!(left["action"], "revoke");
        assert_eq!(
            left["skipped"],
            "may be provisional: the daemon decides (its records are in --state-dir)",
            "{left:#}"
        );
    }
    let admins = hub.admins().await;
    for user in ["po-kept", "po-stray", "po-recorded"] {
        assert!(admins.contains(user), "{user}: {admins:?}");
    }

    // With the daemon's state: its records are read (never written), and the policy
    // applies to the rest.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let store = StateStore::new(&state);
    let now = jiff::Timestamp::now().as_second();
    let record = Provisional {
        user: "po-recorded".into(),
        granted_by: "po-rep".into(),
        via: None,
        granted_at: now - 3_600,
        until: now + 86_400,
        warned: false,
    };
    let kept_state = HubState {
        provisional: [("po-recorded".to_string(), record)].into(),
        ..HubState::default()
    };
    store.save("provhub", &kept_state).unwrap();
    let before = std::fs::read(store.path("provhub")).unwrap();
    let state_arg = state.to_str().unwrap();
    common::assert_exit(&run(&["--once", "--state-dir", state_arg]), 0);
    let admins = hub.admins().await;
    assert!(
        admins.contains("po-kept") && admins.contains("po-recorded"),
        "{admins:?}"
    );
    assert!(!admins.contains("po-stray"), "{admins:?}");
    assert_eq!(std::fs::read(store.path("provhub")).unwrap(), before);
}

#[test]
fn the_daemon_refuses_to_start_on_hubs_with_ui_grants_without_its_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = RosterBuilder::new()
        .community(
            Community::new("prov").rep("pr-rep").hub(
                HubEntry::new("provhub", "http://127.0.0.1:9/hub/api", "TOK")
                    .set("ui_grants", "{keep_for: 30d}")
                    .set("log", "{file: /var/log/hub.log}"),
            ),
        )
        .write(dir.path());
    let out = common::run_roster(&path, &[], &[("TOK", "a-token-0123")]);
    common::assert_exit(&out, 1);
    common::assert_stderr_contains(
        &out,
        "hub provhub keeps admins made in the hub for a while (ui_grants), and the daemon keeps their records in its state: give --state-dir DIR",
    );
}
