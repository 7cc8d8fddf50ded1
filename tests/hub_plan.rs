//! A saved plan on a real JupyterHub: `--dry-run --plan-out` (with `--output markdown`,
//! the live plan as a comment), then `--once --plan`: a stale plan is refused after a
//! hand-made change and nothing is changed; a fresh one is applied; a change the plan
//! does not hold is never made. Each plan flag with the other mode is refused and
//! changes nothing.

mod common;

use common::{Community, HubEntry, RosterBuilder, assert_exit, exit_report, hub_report};
use serde_json::Value;

#[tokio::test]
async fn a_stale_plan_is_refused_a_fresh_one_applied_and_nothing_beyond_the_plan() {
    let (_guard, hub) = common::exclusive_hub(&["plan-mallory"], &["plan-dave"]).await;
    let dir = tempfile::tempdir().unwrap();
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
    let env = [("PLAN_TOKEN", hub.admin_sync_token.as_str())];
    let run = |args: &[&str]| common::run_roster(&roster_path, args, &env);
    // `--dry-run --plan-out PLAN` with `args`, and `--once --plan PLAN --output json`.
    let plan_out =
        |plan: &str, args: &[&str]| run(&[&["--dry-run", "--plan-out", plan], args].concat());
    let once_with = |plan: &str| run(&["--once", "--plan", plan, "--output", "json"]);
    let plan1 = dir.path().join("plan1.json");
    let plan1 = plan1.to_str().unwrap();

    // The plan, and the live plan as markdown.
    let out = plan_out(plan1, &["--output", "markdown"]);
    assert_exit(&out, 2);
    let md = common::stdout(&out);
    assert!(md.starts_with("<!-- jupyterhub-admin-sync -->\n"), "{md}");
    for row in [
        "| ➕ would create admin | `plan-carol` | administrator, added by `plan-rep` |",
        "| ➕ would grant admin | `plan-dave` | administrator, added by `plan-carol` |",
        "| ➖ would revoke admin | `plan-mallory` | undeclared admin `by flag` (stays a user) |",
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
    let report = exit_report(&once_with(plan1), 1);
    let h = hub_report(&report, "plan-hub");
    assert_eq!(h["status"], "error", "{report}");
    assert_eq!(h["error"], "the hub changed since the plan; plan again");
    assert_eq!(h["error_kind"], "plan_changed");
    assert_eq!(hub.users().await, before, "a stale plan changed the hub");

    // A fresh plan is applied as planned.
    let plan2 = dir.path().join("plan2.json");
    let plan2 = plan2.to_str().unwrap();
    assert_exit(&plan_out(plan2, &[]), 2);
    assert_exit(&once_with(plan2), 0);
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
    assert_exit(&plan_out(plan3, &[]), 0);
    RosterBuilder::new()
        .community(community().admin("plan-frank", "plan-rep"))
        .replace(&roster_path);
    let before = hub.users().await;
    let report = exit_report(&once_with(plan3), 1);
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

/// `--plan` is `--once`'s and `--plan-out` the dry run's. With the other mode each is
/// refused before any hub is read: `--dry-run --plan` makes none of the plan's
/// changes, and `--once --plan-out` neither writes a plan nor changes the hub.
#[tokio::test]
async fn a_plan_flag_with_the_other_mode_is_refused_and_changes_nothing() {
    let (_guard, hub) = common::exclusive_hub(&["mode-rep"], &["mode-dave"]).await;
    let dir = tempfile::tempdir().unwrap();
    let roster_path = RosterBuilder::new()
        .community(
            Community::new("mode-lab")
                .rep("mode-rep")
                .admin("mode-dave", "mode-rep")
                .hub(HubEntry::new("mode-hub", &hub.api_url, "MODE_TOKEN")),
        )
        .write(dir.path());
    let env = [("MODE_TOKEN", hub.admin_sync_token.as_str())];
    let run = |args: &[&str]| common::run_roster(&roster_path, args, &env);
    let plan = dir.path().join("plan.json");
    let plan = plan.to_str().unwrap();
    assert_exit(&run(&["--dry-run", "--plan-out", plan]), 2);
    let before = hub.users().await;
    assert_eq!(before.get("mode-dave"), Some(&false), "{before:?}");

    let out = run(&["--dry-run", "--plan", plan]);
    assert_exit(&out, 1);
    common::assert_stderr_contains(&out, "cannot be used with");
    common::assert_stderr_contains(&out, "'--plan <FILE>'");
    assert_eq!(
        hub.users().await,
        before,
        "--dry-run --plan changed the hub"
    );

    let other = dir.path().join("other.json");
    let out = run(&["--once", "--plan-out", other.to_str().unwrap()]);
    assert_exit(&out, 1);
    common::assert_stderr_contains(&out, "cannot be used with");
    common::assert_stderr_contains(&out, "'--plan-out <FILE>'");
    assert!(!other.exists(), "--once --plan-out wrote a plan");
    assert_eq!(
        hub.users().await,
        before,
        "--once --plan-out changed the hub"
    );
}

#[test]
fn plan_flags_need_their_mode() {
    for (args, message) in [
        (
            &["--plan-out", "p.json"][..],
            "required arguments were not provided",
        ),
        (
            &["--plan", "p.json"],
            "required arguments were not provided",
        ),
        (&["--once", "--plan-out", "p.json"], "cannot be used with"),
        (
            &["--validate", "--plan-out", "p.json"],
            "cannot be used with",
        ),
        (&["--dry-run", "--plan", "p.json"], "cannot be used with"),
        (&["--validate", "--plan", "p.json"], "cannot be used with"),
    ] {
        let out = common::run(&[&["--config", "x.yaml"], args].concat(), &[]);
        assert_exit(&out, 1);
        common::assert_stderr_contains(&out, message);
    }
}
