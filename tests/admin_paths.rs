//! Every path to admin, on a real JupyterHub: the flag, a group that holds the `admin`
//! role, and a group or a user holding an admin-equivalent role the roster names.
//! (Users the hub lists without a name: `tests/nameless.rs`.)
//!
//! One hub for the binary, configured as a campus hub that keeps admins in
//! `load_roles`: the group `hub-admins` holds the `admin` role, and the role
//! `operators` (admin scopes) is held by the group `ops` and by the user `direct-op`.
//! Every test holds [`common::exclusive`] and starts from [`reset`]: no admin flags and
//! empty groups but for its own users, so each test's floor and exit code depend only
//! on them.

mod common;

use common::{
    Community, Exclusive, Hub, HubEntry, RosterBuilder, assert_contains_all, assert_exit,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

const ADMIN_GROUP: &str = "hub-admins";
const OPS_GROUP: &str = "ops";

/// The role `operators`: admin scopes, held by the group `ops` and the user `direct-op`.
const EXTRA_ROLES: &str = r#"[{"name": "operators", "scopes": ["admin:users", "admin:groups", "list:users"], "groups": ["ops"], "users": ["direct-op"]}]"#;

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        common::start_hub_with_env(&[
            ("HUB_ADMIN_GROUPS", ADMIN_GROUP),
            ("HUB_EXTRA_ROLES", EXTRA_ROLES),
        ])
    })
}

/// The hub alone, with no admin flag set but on `flagged` and both groups empty but for
/// `members` in `group` (the users made if missing).
async fn reset(
    flagged: &[&str],
    group: &str,
    members: &[&str],
) -> (Exclusive, &'static Hub, tempfile::TempDir) {
    let guard = common::exclusive().await;
    let hub = hub();
    for admin in hub.admins().await {
        hub.set_admin(&admin, false).await;
    }
    for group in [ADMIN_GROUP, OPS_GROUP] {
        let members = hub.group_members(group).await;
        let named: Vec<&str> = members
            .iter()
            .map(String::as_str)
            .filter(|m| *m != "null")
            .collect();
        if !named.is_empty() {
            hub.remove_from_group(group, &named).await;
        }
    }
    let mut users = [flagged, members].concat();
    users.sort_unstable();
    users.dedup();
    hub.create_users(&users, false).await;
    for name in flagged {
        hub.set_admin(name, true).await;
    }
    hub.add_to_group(group, members).await;
    (guard, hub, tempfile::tempdir().unwrap())
}

/// A roster of one community `rep` with `admins` (added by `rep`), and the hub as `name`
/// under `policy` with `fields` more.
fn roster(dir: &Path, rep: &str, admins: &[&str], name: &str, fields: &[(&str, &str)]) -> PathBuf {
    let hub = hub();
    let mut entry = HubEntry::new(name, &hub.api_url, "TOK");
    for (k, v) in fields {
        entry = entry.set(k, v);
    }
    let community = Community::new("campus")
        .rep(rep)
        .admins(admins, rep)
        .hub(entry);
    RosterBuilder::new().community(community).write(dir)
}

fn run(roster: &Path, token: &str, args: &[&str]) -> Output {
    common::run_roster(roster, args, &[("TOK", token)])
}

/// The JSON report of `mode` (`--dry-run` or `--once`), which must exit with `code`.
fn json_report(roster: &Path, token: &str, mode: &str, code: i32) -> Value {
    common::exit_report(&run(roster, token, &[mode, "--output", "json"]), code)
}

/// The JSON change for `user` on the only hub of `report`, if there is one.
fn change_for<'a>(report: &'a Value, user: &str) -> Option<&'a Value> {
    report["hubs"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["user"] == user)
}

#[tokio::test]
async fn a_member_of_a_group_holding_the_admin_role_is_drift_and_enforce_takes_them_out() {
    let (_guard, hub, dir) = reset(&["gm-rep"], ADMIN_GROUP, &["gm-member"]).await;
    let roster = roster(
        dir.path(),
        "gm-rep",
        &[],
        "campus",
        &[("policy", "enforce")],
    );

    // `GET /users` says `"admin": false`, yet the member has every admin scope.
    assert_eq!(hub.users().await.get("gm-member"), Some(&false));
    let report = json_report(&roster, &hub.admin_sync_token, "--dry-run", 2);
    let change = change_for(&report, "gm-member").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(change["action"], "revoke", "{change}");
    assert_eq!(
        change["admin_paths"],
        json!({"flag": false, "groups": [{"group": ADMIN_GROUP, "roles": ["admin"]}]}),
        "{change}"
    );
    let text = run(&roster, &hub.admin_sync_token, &["--dry-run"]);
    common::assert_stdout_contains(
        &text,
        "would revoke admin from gm-member: undeclared admin by group hub-admins (by role admin)",
    );

    // dump says how the member is admin.
    let roster_arg = roster.to_str().unwrap();
    let dump = common::run(
        &["dump", "--config", roster_arg, "--hub", "campus"],
        &[("TOK", &hub.admin_sync_token)],
    );
    assert_exit(&dump, 0);
    common::assert_stdout_contains(
        &dump,
        "# gm-member is admin by group hub-admins (by role admin).",
    );

    let once = run(&roster, &hub.admin_sync_token, &["--once"]);
    assert_exit(&once, 0);
    assert_eq!(hub.group_members(ADMIN_GROUP).await, Vec::<String>::new());
    assert!(
        hub.log().contains("Removing 1 users from group hub-admins"),
        "{}",
        hub.log_tail(20)
    );
    assert_eq!(
        hub.users().await.get("gm-member"),
        Some(&false),
        "never deleted"
    );
    let again = json_report(&roster, &hub.admin_sync_token, "--once", 0);
    assert_eq!(again["hubs"][0]["status"], "in_sync", "{again}");
}

#[tokio::test]
async fn a_declared_person_admin_only_through_the_group_is_in_sync() {
    let (_guard, hub, dir) = reset(&[], ADMIN_GROUP, &["gd-rep", "gd-admin"]).await;
    let roster = roster(
        dir.path(),
        "gd-rep",
        &["gd-admin"],
        "campus",
        &[("policy", "enforce")],
    );
    let report = json_report(&roster, &hub.admin_sync_token, "--once", 0);
    assert_eq!(report["hubs"][0]["status"], "in_sync", "{report}");
    assert_eq!(report["hubs"][0]["groups_checked"], true, "{report}");
    assert_eq!(hub.group_members(ADMIN_GROUP).await, ["gd-admin", "gd-rep"]);
    assert!(
        hub.admins().await.is_empty(),
        "no flag was set: the group suffices"
    );
}

#[tokio::test]
async fn admin_by_flag_and_group_is_one_revocation_for_the_floor_and_loses_both() {
    let (_guard, hub, dir) = reset(&["fg-rep", "fg-both"], ADMIN_GROUP, &["fg-both"]).await;
    // One revocation allowed: the person admin two ways counts once.
    let fields = [("policy", "enforce"), ("max_revocations", "1")];
    let roster = roster(dir.path(), "fg-rep", &[], "campus", &fields);
    let report = json_report(&roster, &hub.admin_sync_token, "--once", 0);
    let change = change_for(&report, "fg-both").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(change["applied"], true, "{change}");
    assert_eq!(change["admin_paths"]["flag"], true, "{change}");
    assert_eq!(hub.admins().await, ["fg-rep".to_string()].into());
    assert_eq!(hub.group_members(ADMIN_GROUP).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_token_that_may_not_read_groups_says_so_instead_of_a_silent_in_sync() {
    let (_guard, hub, dir) = reset(&["tk-rep"], ADMIN_GROUP, &["tk-member"]).await;
    let roster = roster(dir.path(), "tk-rep", &[], "campus", &[]);
    // The auditor token has `list:users` only.
    let report = json_report(&roster, &hub.auditor_token, "--dry-run", 0);
    let hub_report = &report["hubs"][0];
    assert_eq!(hub_report["status"], "in_sync", "{report}");
    assert_eq!(hub_report["groups_checked"], false, "{report}");
    let warnings = hub_report["warnings"].to_string();
    assert_contains_all(
        &warnings,
        &["admin through groups was not checked", "list:groups"],
    );
    let text = run(&roster, &hub.auditor_token, &["--dry-run"]);
    common::assert_stdout_contains(&text, "warning: admin through groups was not checked");
    // The admin token sees the member.
    let report = json_report(&roster, &hub.admin_sync_token, "--dry-run", 2);
    assert!(change_for(&report, "tk-member").is_some(), "{report}");
}

#[tokio::test]
async fn a_role_the_roster_names_makes_admins_through_a_group_and_held_directly() {
    let (_guard, hub, dir) = reset(&["op-rep"], OPS_GROUP, &["op-member", "op-staff"]).await;
    let fields = [
        ("policy", "enforce"),
        ("admin_roles", "[operators]"),
        ("max_revocation_share", "1"),
    ];
    // op-staff is declared; op-member is not; direct-op holds the role from load_roles.
    let roster = roster(dir.path(), "op-rep", &["op-staff"], "campus", &fields);
    let report = json_report(&roster, &hub.admin_sync_token, "--dry-run", 2);
    let member = change_for(&report, "op-member").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        member["admin_paths"]["groups"],
        json!([{"group": OPS_GROUP, "roles": ["operators"]}]),
        "{member}"
    );
    let direct = change_for(&report, "direct-op").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        direct["admin_paths"],
        json!({"flag": false, "roles": ["operators"]}),
        "{direct}"
    );
    assert!(
        change_for(&report, "op-staff").is_none(),
        "declared, in sync: {report}"
    );

    // The member leaves the group; the role held directly stays, reported with what to
    // change: drift (exit 2), not an error.
    let report = json_report(&roster, &hub.admin_sync_token, "--once", 2);
    assert_eq!(hub.group_members(OPS_GROUP).await, ["op-staff"]);
    let direct = change_for(&report, "direct-op").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(direct["applied"], false, "{direct}");
    assert_contains_all(direct["skipped"].as_str().unwrap(), &["load_roles"]);
    assert_eq!(report["hubs"][0]["error"], Value::Null, "{report}");
    // Without admin_roles, the ops group gives nothing the tool counts.
    let plain = roster_without_roles(dir.path());
    let report = json_report(&plain, &hub.admin_sync_token, "--dry-run", 0);
    assert_eq!(report["hubs"][0]["status"], "in_sync", "{report}");
}

/// The roster of [`a_role_the_roster_names_makes_admins_through_a_group_and_held_directly`]
/// without `admin_roles` (op-staff not declared), in its own file.
fn roster_without_roles(dir: &Path) -> PathBuf {
    let sub = dir.join("plain");
    std::fs::create_dir_all(&sub).unwrap();
    roster(&sub, "op-rep", &[], "campus", &[])
}
