//! A hub whose authenticator manages groups (`Authenticator.manage_groups`), as an
//! OAuthenticator that copies the identity provider's groups at login: the group
//! `ops` holds the admin-equivalent role `operators`, and a login puts the user in it.
//!
//! Up to JupyterHub 5.2 the groups API refuses writes on such a hub (400 "Group
//! management via API is disabled"): the undeclared member is drift left in place with
//! what to change, exit 2, not an error. From 5.3 the API takes the removal, and the
//! next login puts the user back: the identity provider's group is where it is fixed.
//! Its own binary: the hub's authenticator is configured at start.

mod common;

use common::{Community, HubEntry, RosterBuilder, assert_contains_all};
use serde_json::Value;

const ROLES: &str =
    r#"[{"name": "operators", "scopes": ["admin:users", "list:users"], "groups": ["ops"]}]"#;

/// Whether the hub's groups API refuses writes when the authenticator manages groups
/// (JupyterHub before 5.3).
fn refuses_group_writes(hub: &common::Hub) -> bool {
    let (major, minor, _) = hub.version_tuple();
    (major, minor) < (5, 3)
}

#[tokio::test]
async fn a_member_the_authenticator_put_in_an_admin_group_is_left_to_the_identity_provider() {
    let hub = common::start_hub_with_env(&[
        ("HUB_MANAGE_GROUPS", "1"),
        ("HUB_LOGIN_GROUPS", "ops"),
        ("HUB_EXTRA_ROLES", ROLES),
    ]);
    hub.create_users(&["mg-rep"], true).await;
    assert_eq!(hub.login("mg-user", "any").await, 302);
    assert_eq!(
        hub.group_members("ops").await,
        ["mg-user"],
        "the login put them in ops"
    );

    let dir = tempfile::tempdir().unwrap();
    let entry = HubEntry::new("managed", &hub.api_url, "TOK")
        .policy("enforce")
        .set("admin_roles", "[operators]");
    let roster = RosterBuilder::new()
        .community(Community::new("idp").rep("mg-rep").hub(entry))
        .write(dir.path());
    let run = |args: &[&str]| common::run_roster(&roster, args, &[("TOK", &hub.admin_sync_token)]);
    let out = run(&["--once", "--output", "json"]);
    if refuses_group_writes(&hub) {
        let report = common::exit_report(&out, 2);
        let hub_report = &report["hubs"][0];
        assert_eq!(hub_report["status"], "drift", "{report}");
        assert_eq!(hub_report["error"], Value::Null, "{report}");
        let change = &hub_report["changes"][0];
        assert_eq!(
            (change["user"].as_str(), change["applied"].as_bool()),
            (Some("mg-user"), Some(false))
        );
        assert_contains_all(
            change["skipped"].as_str().unwrap(),
            &["the authenticator manages groups", "identity provider"],
        );
        assert_eq!(hub.group_members("ops").await, ["mg-user"]);
        assert!(
            hub.log().contains("Group management via API is disabled"),
            "{}",
            hub.log_tail(20)
        );
    } else {
        // The API takes the removal; the authenticator gives the group back at login.
        let report = common::exit_report(&out, 0);
        assert_eq!(report["hubs"][0]["changes"][0]["applied"], true, "{report}");
        assert_eq!(hub.group_members("ops").await, Vec::<String>::new());
        assert_eq!(hub.login("mg-user", "any").await, 302);
        assert_eq!(hub.group_members("ops").await, ["mg-user"]);
        let again = common::exit_report(&run(&["--dry-run", "--output", "json"]), 2);
        assert_eq!(again["hubs"][0]["changes"][0]["user"], "mg-user", "{again}");
    }
}
