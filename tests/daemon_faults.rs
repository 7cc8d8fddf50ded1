//! The daemon against mock hubs, for what a real hub cannot be made to do: hang in the
//! middle of a run while SIGTERM arrives, or stay down while another hub is due.

mod common;

use common::mock::{mount_get_json, requests, requests_with_method};
use common::{Community, Daemon, HubEntry, RosterBuilder};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A mock hub with one admin user; the user listing answers after `delay`.
async fn mock_hub(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    mount_get_json(&server, "/hub/api/", json!({"version": "6.1.1"})).await;
    let owner = json!({"kind": "service", "name": "admin-sync", "admin": true});
    mount_get_json(&server, "/hub/api/user", owner).await;
    common::mock::mount_groups(&server, json!([])).await;
    Mock::given(method("GET"))
        .and(path("/hub/api/users"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "items": [{"name": "rep", "admin": true}, {"name": "intruder", "admin": true}],
                    "_pagination": {"offset": 0, "limit": 200, "total": 2, "next": null}
                }))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    server
}

/// One community with a hub `name` at `uri` (a mock hub) for each of `hubs`, policy grant.
fn roster(dir: &Path, hubs: &[(&str, &str)]) -> PathBuf {
    let mut community = Community::new("c").rep("rep");
    for (name, uri) in hubs {
        community =
            community.hub(HubEntry::new(name, &format!("{uri}/hub/api"), "TOK").policy("grant"));
    }
    RosterBuilder::new().community(community).write(dir)
}

/// A temp dir with a roster of the one mock `hub`, named `name`, and the path of an
/// audit log in it (not created).
fn one_hub_and_an_audit_log(hub: &MockServer, name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let roster = roster(dir.path(), &[(name, &hub.uri())]);
    let audit = dir.path().join("audit.jsonl");
    (dir, roster, audit)
}

fn start(roster: &Path, dir: &Path, args: &[&str]) -> Daemon {
    Daemon::start(roster, dir, args, &[("TOK", "token-0123456789abcdef")])
}

/// Sends SIGTERM once the listing request is in flight; asserts the daemon exits 0
/// within 10 s, and returns its log.
async fn sigterm_mid_listing(hub: &MockServer, daemon: &mut Daemon) -> String {
    common::wait_until(
        10,
        "the daemon asks for users",
        || daemon.context(),
        || async { listing_requests(hub).await > 0 },
    )
    .await;
    let (code, took) = daemon.terminate();
    let log = daemon.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(took < Duration::from_secs(10), "took {took:?}\n{log}");
    log
}

async fn listing_requests(server: &MockServer) -> usize {
    requests(server)
        .await
        .iter()
        .filter(|r| r.url.path() == "/hub/api/users")
        .count()
}

#[tokio::test]
async fn sigterm_during_a_hung_run_exits_0_within_10_seconds_with_the_audit_log_intact() {
    let hub = mock_hub(Duration::from_secs(120)).await;
    let (dir, roster, audit) = one_hub_and_an_audit_log(&hub, "slow");
    let earlier = "{\"earlier\":\"line\"}\n";
    std::fs::write(&audit, earlier).unwrap();
    let mut daemon = start(
        &roster,
        dir.path(),
        &[
            "--audit-log",
            audit.to_str().unwrap(),
            "--request-timeout",
            "60s",
        ],
    );
    let log = sigterm_mid_listing(&hub, &mut daemon).await;
    assert!(
        log.contains("did not finish within the grace period"),
        "{log}"
    );
    assert_eq!(std::fs::read_to_string(&audit).unwrap(), earlier);
    assert_eq!(requests_with_method(&hub, "PATCH").await.len(), 0);
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_run_finish_then_exits_0() {
    // The listing takes 1.5 s; SIGTERM arrives during it. The run finishes reading and
    // records its audit lines; the audit file holds only whole JSON lines.
    let hub = mock_hub(Duration::from_millis(1500)).await;
    let (dir, roster, audit) = one_hub_and_an_audit_log(&hub, "h");
    let mut daemon = start(
        &roster,
        dir.path(),
        &["--audit-log", audit.to_str().unwrap()],
    );
    let log = sigterm_mid_listing(&hub, &mut daemon).await;
    assert!(
        !log.contains("grace period"),
        "the run should have finished in time:\n{log}"
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines = common::json_lines(&text);
    // Policy grant: the undeclared admin is recorded as seen.
    let seen = [("user", "intruder"), ("event", "seen")];
    assert!(common::find_line(&lines, &seen).is_some(), "{text}\n{log}");
}

#[tokio::test]
async fn a_hub_that_hangs_does_not_delay_another() {
    let stuck = mock_hub(Duration::from_secs(60)).await;
    let fine = mock_hub(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = roster(
        dir.path(),
        &[("stuck", &stuck.uri()), ("fine", &fine.uri())],
    );
    let mut daemon = start(
        &roster,
        dir.path(),
        &[
            "--interval",
            "500ms",
            "--concurrency",
            "2",
            "--request-timeout",
            "30s",
        ],
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let fine_runs = listing_requests(&fine).await;
    let stuck_runs = listing_requests(&stuck).await;
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(stuck_runs, 1, "the stuck hub is still in its first run");
    assert!(
        fine_runs >= 4,
        "the fine hub ran {fine_runs} times in 4 s at a 500 ms interval"
    );
}
