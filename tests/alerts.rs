//! Alerts against a real JupyterHub: a hand-made grant that `enforce` undoes is news on
//! the community's route and the global one; drift left by `grant` fires and resolves
//! after a roster edit; a route that fails or hangs delays neither reconciling nor the
//! other route. (Expiry is tested on paused time in `src/daemon/tests.rs`.)

mod common;

use common::{Community, Daemon, HubEntry, RosterBuilder, wait_until};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use wiremock::MockServer;

use common::webhook::{messages, receiver};

/// The messages `server` got whose status is `status` and that name `user`.
async fn about(server: &MockServer, status: &str, user: &str) -> Vec<Value> {
    messages(server)
        .await
        .into_iter()
        .filter(|m| m["status"] == status && m["details"].to_string().contains(user))
        .collect()
}

async fn wait_for(server: &MockServer, daemon: &Daemon, status: &str, user: &str, what: &str) {
    wait_until(
        15,
        &format!("{what}: a {status} message about {user}"),
        || daemon.context(),
        || async { !about(server, status, user).await.is_empty() },
    )
    .await;
}

/// Community `alerts-lab` (representative `rep`, the same in every test so that
/// none sees another's representative as undeclared, `administrators` added by it, its
/// own route in `$LAB_HOOK`) with hub `ahub` under `policy`.
fn roster(api_url: &str, policy: &str, rep: &str, administrators: &[&str]) -> RosterBuilder {
    let mut community = Community::new("alerts-lab")
        .rep(rep)
        .alerts("webhook_env", "LAB_HOOK")
        .hub(HubEntry::new("ahub", api_url, "ATOKEN").policy(policy));
    for name in administrators {
        community = community.admin(name, rep);
    }
    RosterBuilder::new()
        .defaults("max_revocations", 100)
        .community(community)
}

/// The daemon with the global route at `global` and the community's at `lab`.
fn start(roster: &Path, dir: &Path, token: &str, global: &str, lab: &str) -> Daemon {
    Daemon::start(
        roster,
        dir,
        &[
            "--roster-poll",
            "300ms",
            "--interval",
            "1s",
            "--max-attempts",
            "2",
        ],
        &[
            ("ATOKEN", token),
            ("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL", global),
            ("LAB_HOOK", lab),
        ],
    )
}

/// A ready daemon over hub `ahub` under `policy`, alerting to the receivers `global`
/// and `lab` (the community's), with the roster in the returned directory.
async fn start_ready(
    hub: &common::Hub,
    policy: &str,
    global: &MockServer,
    lab: &MockServer,
) -> (Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = roster(&hub.api_url, policy, "al-rep", &[]).write(dir.path());
    let daemon = start(
        &path,
        dir.path(),
        &hub.admin_sync_token,
        &format!("{}/global/hook", global.uri()),
        &format!("{}/lab/hook", lab.uri()),
    );
    daemon.wait_ready(30).await;
    (daemon, dir)
}

/// The shared hub, held alone, with `admins` and `users` created; two healthy
/// receivers (global, community) and a ready daemon over it under `policy`
/// ([`start_ready`]).
async fn start_with_two_routes(
    admins: &[&str],
    users: &[&str],
    policy: &str,
) -> (
    common::Exclusive,
    &'static common::Hub,
    [MockServer; 2],
    Daemon,
    tempfile::TempDir,
) {
    let (guard, hub) = common::exclusive_hub(admins, users).await;
    let routes = [
        receiver(200, Duration::ZERO).await,
        receiver(200, Duration::ZERO).await,
    ];
    let (daemon, dir) = start_ready(hub, policy, &routes[0], &routes[1]).await;
    (guard, hub, routes, daemon, dir)
}

#[tokio::test]
async fn a_grant_undone_by_enforce_is_one_remediated_message_on_both_routes() {
    let (_guard, hub, [global, lab], daemon, _dir) =
        start_with_two_routes(&[], &["en-dave"], "enforce").await;

    // dave is made admin by hand, in the hub's admin page.
    hub.set_admin("en-dave", true).await;
    wait_until(
        15,
        "en-dave revoked",
        || daemon.context(),
        || async { !hub.admins().await.contains("en-dave") },
    )
    .await;
    for (route, server) in [("global", &global), ("alerts-lab", &lab)] {
        wait_for(server, &daemon, "remediated", "en-dave", route).await;
    }
    // A few more runs: still one message per route, and no firing alert.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for (route, server) in [("global", &global), ("alerts-lab", &lab)] {
        let news = about(server, "remediated", "en-dave").await;
        assert_eq!(news.len(), 1, "{route}: {news:#?}\n{}", daemon.context());
        let m = &news[0];
        assert_eq!((&m["kind"], &m["hub"]), (&"drift".into(), &"ahub".into()));
        assert_eq!(m["community"], "alerts-lab");
        assert_eq!(
            m["text"],
            "On hub ahub, en-dave was made admin outside the roster and has been revoked (policy enforce). \
             If en-dave should be an admin, add them under alerts-lab's administrators with added_by set to who approved it."
        );
        assert_eq!(m["details"]["policy"], "enforce");
        let change = &m["details"]["changes"][0];
        assert_eq!(
            (&change["user"], &change["reason"]),
            (&"en-dave".into(), &"undeclared".into())
        );
        let firing: Vec<_> = messages(server)
            .await
            .into_iter()
            .filter(|m| m["status"] == "firing")
            .collect();
        assert!(firing.is_empty(), "{route}: {firing:#?}");
        for m in messages(server).await {
            let text = m["text"].as_str().unwrap_or_default();
            assert!(text.chars().count() < 3000, "Slack's limit: {text}");
        }
    }
}

#[tokio::test]
async fn drift_left_by_grant_fires_on_both_routes_and_resolves_after_a_roster_edit() {
    let (_guard, hub, [global, lab], daemon, dir) =
        start_with_two_routes(&["gr-erin"], &[], "grant").await;
    let path = dir.path().join("roster.yaml");
    for (route, server) in [("global", &global), ("alerts-lab", &lab)] {
        wait_for(server, &daemon, "firing", "gr-erin", route).await;
        let firing = about(server, "firing", "gr-erin").await;
        assert_eq!(
            firing[0]["details"]["undeclared"],
            serde_json::json!(["gr-erin"])
        );
    }
    assert!(
        hub.admins().await.contains("gr-erin"),
        "grant leaves her admin"
    );

    // The representative declares her: the drift resolves.
    roster(&hub.api_url, "grant", "al-rep", &["gr-erin"]).replace(&path);
    for (route, server) in [("global", &global), ("alerts-lab", &lab)] {
        wait_until(
            15,
            &format!("{route}: a resolved drift message"),
            || daemon.context(),
            || async {
                messages(server)
                    .await
                    .iter()
                    .any(|m| m["status"] == "resolved" && m["kind"] == "drift")
            },
        )
        .await;
    }
}

/// One route answers 500 or hangs: the hub is still reconciled within an interval, the
/// other route still gets its messages at once, and the failing route's failures are
/// counted under its name.
#[tokio::test]
async fn a_failing_or_hanging_route_delays_nothing_else() {
    let _guard = common::exclusive().await;
    let hub = common::hub();
    struct Case {
        name: &'static str,
        broken_is_global: bool,
        status: u16,
        delay: Duration,
    }
    let cases = [
        Case {
            name: "community-500",
            broken_is_global: false,
            status: 500,
            delay: Duration::ZERO,
        },
        Case {
            name: "community-hangs",
            broken_is_global: false,
            status: 200,
            delay: Duration::from_secs(600),
        },
        Case {
            name: "global-hangs",
            broken_is_global: true,
            status: 200,
            delay: Duration::from_secs(600),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        // One user per round: the same user made admin again and again would be, by
        // design, contested after two reversals (fight detection) and left alone.
        let users: Vec<String> = (0..3).map(|r| format!("ff-{i}-{r}-frank")).collect();
        let healthy = receiver(200, Duration::ZERO).await;
        let broken = receiver(case.status, case.delay).await;
        let (global, lab) = if case.broken_is_global {
            (&broken, &healthy)
        } else {
            (&healthy, &broken)
        };
        let names: Vec<&str> = users.iter().map(String::as_str).collect();
        hub.create_users(&names, false).await;
        let (mut daemon, _dir) = start_ready(hub, "enforce", global, lab).await;
        // Several messages queue on the broken route (the first run's news, then
        // these); none holds up the next run or the healthy route.
        for user in &users {
            hub.set_admin(user, true).await;
            wait_until(
                5,
                &format!("{}: {user} revoked within a few intervals", case.name),
                || daemon.context(),
                || async { !hub.admins().await.contains(user) },
            )
            .await;
            wait_until(
                5,
                &format!("{}: the healthy route got the news", case.name),
                || daemon.context(),
                || async { !about(&healthy, "remediated", user).await.is_empty() },
            )
            .await;
        }
        if case.status == 500 {
            daemon
                .wait_metric_above(
                    20,
                    &format!("{}: failures counted for the community's route", case.name),
                    "jupyterhub_admin_sync_webhook_failures_total{route=\"alerts-lab\"}",
                    0.0,
                )
                .await;
            assert_eq!(
                daemon
                    .metric("jupyterhub_admin_sync_webhook_failures_total{route=\"global\"}")
                    .await,
                Some(0.0),
                "{}",
                case.name
            );
        }
        let (code, took) = daemon.terminate();
        assert_eq!(code, Some(0), "{}: {}", case.name, daemon.context());
        assert!(
            took < Duration::from_secs(15),
            "{}: a hanging route holds shutdown only for the grace period: {took:?}",
            case.name
        );
    }
}
