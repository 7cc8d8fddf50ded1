//! A saved plan on a real JupyterHub: `--dry-run --plan-out` (with `--output markdown`,
//! the live plan as a comment), then `--once --plan`: a stale plan is refused after a
//! hand-made change and nothing is changed; a fresh one is applied; a change the plan
//! does not hold is never made.

mod common;

use common::{Community, HubEntry, RosterBuilder};
use serde_json::Value;

fn hub_report<'a>(report: &'a Value, hub: &str) -> &'a Value {
    report["hubs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == hub)
        .unwrap_or_else(|| panic!("no hub {hub} in {report}"))
}

#[tokio::test]
async fn a_stale_plan_is_refused_a_fresh_one_applied_and_nothing_beyond_the_plan() {
    let _guard = common::exclusive().await;
    let hub = common::hub();
    let dir = tempfile::tempdir().unwrap();
    hub.create_users(&["plan-mallory"], true).await;
    hub.create_users(&["plan-dave"], false).await;
    // The representative is admin already, and the share limit is off: the plans here
    // revoke hand-made admins, which the safety floor would otherwise hold.
    hub.create_users(&["plan-rep"], true).await;

    let community = || {
        Community::new("plan-lab")
            .rep("plan-rep")
            .admin("plan-carol", "plan-rep")
            .admin("plan-dave", "plan-carol")
            .hub(
                HubEntry::new("plan-hub", &hub.api_url, "PLAN_TOKEN")
                    .set("max_revocations", 50)
                    .set("max_revocation_share", 1),
            )
    };
    let roster_path = RosterBuilder::new()
        .community(community())
        .write(dir.path());
    let roster = roster_path.to_str().unwrap();
    let env = [("PLAN_TOKEN", hub.admin_sync_token.as_str())];
    let plan1 = dir.path().join("plan1.json");
    let plan1 = plan1.to_str().unwrap();

    // The plan, and the live plan as markdown.
    let out = common::run(
        &[
            "--config",
            roster,
            "--dry-run",
            "--plan-out",
            plan1,
            "--output",
            "markdown",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", common::show(&out));
    let md = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(md.starts_with("<!-- jupyterhub-admin-sync -->\n"), "{md}");
    for row in [
        "| ➕ would create admin | `plan-carol` | administrator, added by `plan-rep` |",
        "| ➕ would grant admin | `plan-dave` | administrator, added by `plan-carol` |",
        "| ➖ would revoke admin | `plan-mallory` | undeclared admin (stays a user) |",
    ] {
        assert!(md.contains(row), "{row}\n{md}");
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(plan1).unwrap()).unwrap();
    assert_eq!(saved["hubs"][0]["name"], "plan-hub");
    assert!(
        saved["hubs"][0]["admins_digest"]
            .as_str()
            .unwrap()
            .starts_with("fnv1a64:")
    );

    // A hand-made change: the plan is stale, and nothing is changed on the hub.
    hub.create_users(&["plan-eve"], true).await;
    let before = hub.users().await;
    let out = common::run(
        &[
            "--config", roster, "--once", "--plan", plan1, "--output", "json",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));
    let report = common::report(&out);
    let h = hub_report(&report, "plan-hub");
    assert_eq!(h["status"], "error", "{report}");
    assert_eq!(h["error"], "the hub changed since the plan; plan again");
    assert_eq!(h["error_kind"], "plan_changed");
    assert_eq!(hub.users().await, before, "a stale plan changed the hub");

    // A fresh plan is applied as planned.
    let plan2 = dir.path().join("plan2.json");
    let plan2 = plan2.to_str().unwrap();
    let out = common::run(
        &["--config", roster, "--dry-run", "--plan-out", plan2],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", common::show(&out));
    let out = common::run(
        &[
            "--config", roster, "--once", "--plan", plan2, "--output", "json",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
    let admins = hub.admins().await;
    for name in ["plan-carol", "plan-dave"] {
        assert!(admins.contains(name), "{name} not admin: {admins:?}");
    }
    for name in ["plan-mallory", "plan-eve"] {
        assert!(!admins.contains(name), "{name} still admin: {admins:?}");
    }

    // A plan made in sync holds no change: a roster edited since gets nothing beyond it.
    let plan3 = dir.path().join("plan3.json");
    let plan3 = plan3.to_str().unwrap();
    let out = common::run(
        &["--config", roster, "--dry-run", "--plan-out", plan3],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
    RosterBuilder::new()
        .community(community().admin("plan-frank", "plan-rep"))
        .replace(&roster_path);
    let before = hub.users().await;
    let out = common::run(
        &[
            "--config", roster, "--once", "--plan", plan3, "--output", "json",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));
    let report = common::report(&out);
    let change = &hub_report(&report, "plan-hub")["changes"][0];
    assert_eq!(change["user"], "plan-frank", "{report}");
    assert_eq!(change["applied"], false);
    assert!(
        change["error"]
            .as_str()
            .unwrap()
            .contains("not in the saved plan"),
        "{report}"
    );
    assert_eq!(
        hub.users().await,
        before,
        "a change beyond the plan was made"
    );
}

#[test]
fn plan_flags_need_their_mode() {
    for args in [
        ["--config", "x.yaml", "--once", "--plan-out", "p.json"],
        ["--config", "x.yaml", "--dry-run", "--plan", "p.json"],
    ] {
        let out = common::run(&args, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));
    }
}
