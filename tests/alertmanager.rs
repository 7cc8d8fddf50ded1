//! `--alert-format alertmanager` against a REAL Alertmanager and a real JupyterHub:
//! drift that `grant` leaves stays one active alert past the four-interval lease of a
//! single message, because the daemon sends it again after every run; a roster edit
//! resolves it; and Alertmanager notifies its own receiver of both. News (the
//! representative created) is an alert of its own name that ends by itself.

mod common;

use common::alertmanager::{Alertmanager, outlast, seconds_between};
use common::webhook::{messages, receiver};
use common::{Community, Daemon, HubEntry, RosterBuilder, wait_until};
use std::time::Duration;

/// The daemon's run interval here, and so the lease of one firing message.
const INTERVAL: Duration = Duration::from_secs(1);
const LEASE: Duration = Duration::from_secs(4);

fn roster(api_url: &str, administrators: &[&str]) -> RosterBuilder {
    let mut community = Community::new("am-lab")
        .rep("am-rep")
        .hub(HubEntry::new("amhub", api_url, "AMTOKEN").policy("grant"));
    for name in administrators {
        community = community.admin(name, "am-rep");
    }
    RosterBuilder::new().community(community)
}

/// Waits until Alertmanager has told its receiver that hub amhub's alerts are `status`.
async fn told(receiver: &wiremock::MockServer, status: &str, context: &dyn Fn() -> String) {
    wait_until(
        10,
        &format!("Alertmanager told its receiver the drift is {status}"),
        context,
        || async {
            messages(receiver)
                .await
                .iter()
                .any(|m| m["status"] == status && m["commonLabels"]["hub"] == "amhub")
        },
    )
    .await;
}

#[tokio::test]
async fn drift_stays_one_active_alert_while_it_lasts_and_resolves_after_a_roster_edit() {
    let (_guard, hub) = common::exclusive_hub(&["am-erin"], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let notified = receiver(200, Duration::ZERO).await;
    let am = Alertmanager::start(dir.path(), &format!("{}/am", notified.uri())).await;
    let path = roster(&hub.api_url, &[]).write(dir.path());
    let interval = format!("{}s", INTERVAL.as_secs());
    let daemon = Daemon::start(
        &path,
        dir.path(),
        &[
            "--interval",
            &interval,
            "--roster-poll",
            "300ms",
            "--alert-format",
            "alertmanager",
        ],
        &[
            ("AMTOKEN", &hub.admin_sync_token),
            (
                "JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL",
                &format!("{}/api/v2/alerts", am.url),
            ),
        ],
    );
    let context = || format!("{}\n{}", daemon.context(), am.context());
    daemon.wait_ready(30).await;

    // grant leaves am-erin admin: drift, and the alert is active in Alertmanager.
    wait_until(
        15,
        "Alertmanager holds the drift alert",
        context,
        || async {
            am.active_for("JupyterHubAdminDrift", "amhub")
                .await
                .is_some()
        },
    )
    .await;
    let first = am
        .active_for("JupyterHubAdminDrift", "amhub")
        .await
        .unwrap();
    let lease = seconds_between(&first["startsAt"], &first["endsAt"]);
    assert!(
        lease > 0.0 && lease <= LEASE.as_secs_f64() + 1.0,
        "a firing message lasts about four intervals: {first}"
    );
    assert_eq!(first["labels"]["community"], "am-lab");
    // Creating the representative was news, under its own name, ending in an hour.
    let news = am
        .active_for("JupyterHubAdminRemediated", "amhub")
        .await
        .unwrap_or_else(|| panic!("no news of am-rep created\n{}", context()));
    assert_eq!(news["labels"]["status"], "remediated");
    assert!(
        seconds_between(&news["startsAt"], &news["endsAt"]) > 3000.0,
        "{news}"
    );

    // Longer than one message lasts: still active, its end moved on by later runs.
    outlast(LEASE).await;
    let later = am
        .active_for("JupyterHubAdminDrift", "amhub")
        .await
        .unwrap_or_else(|| panic!("the alert ended while the drift lasts\n{}", context()));
    assert!(
        seconds_between(&first["endsAt"], &later["endsAt"]) > 0.0,
        "sent again, so it lasts longer: {first} then {later}"
    );
    assert_eq!(
        later["startsAt"], first["startsAt"],
        "one alert, not a new one each run"
    );
    told(&notified, "firing", &context).await;

    // The representative declares her: resolved in Alertmanager, and said so.
    roster(&hub.api_url, &["am-erin"]).replace(&path);
    wait_until(
        15,
        "the drift alert is no longer active",
        context,
        || async {
            am.active_for("JupyterHubAdminDrift", "amhub")
                .await
                .is_none()
        },
    )
    .await;
    told(&notified, "resolved", &context).await;
}
