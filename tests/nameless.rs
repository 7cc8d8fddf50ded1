//! A user the hub lists without a name, on a real JupyterHub: JupyterHub 6.1.1's admin
//! page ("Edit User", Apply) sends the unchanged name with the form, and the hub then
//! sets the name to null. Such an admin is one bad record: reported, never changed,
//! and the rest of the hub is reconciled. Its own binary, because nothing can repair
//! the record through the API: the hub keeps it for the rest of its life.

mod common;

use common::{Community, HubEntry, RosterBuilder, assert_contains_all};
use serde_json::{Value, json};

#[tokio::test]
async fn a_nameless_admin_is_reported_and_the_rest_of_the_hub_reconciled() {
    let hub = common::hub();
    let dir = tempfile::tempdir().unwrap();
    hub.create_users(&["nl-rep", "nl-edited", "nl-stray", "nl-carol"], false)
        .await;
    hub.set_admin("nl-rep", true).await;
    hub.set_admin("nl-stray", true).await;
    // What the 6.1.1 admin page's Edit User sends: the unchanged name with admin ticked.
    let body = json!({"name": "nl-edited", "admin": true});
    let (status, answer) = hub
        .request(
            reqwest::Method::PATCH,
            "/users/nl-edited",
            &hub.test_admin_token,
            Some(&body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let erased = serde_json::from_str::<Value>(&answer).unwrap()["name"].is_null();
    let community = Community::new("campus")
        .rep("nl-rep")
        .admin("nl-carol", "nl-rep")
        .hub(
            HubEntry::new("campus", &hub.api_url, "TOK")
                .policy("enforce")
                .set("max_revocation_share", 1),
        );
    let roster = RosterBuilder::new().community(community).write(dir.path());
    let run = |args: &[&str]| common::run_roster(&roster, args, &[("TOK", &hub.admin_sync_token)]);
    let out = run(&["--once", "--output", "json"]);
    if hub.version.starts_with("6.1.") {
        assert!(erased, "JupyterHub {} kept the name: {answer}", hub.version);
        // The rest of the hub is reconciled: the stray revoked, carol granted; the
        // nameless admin leaves the hub drifting (exit 2), not failing.
        let report = common::exit_report(&out, 2);
        let hub_report = &report["hubs"][0];
        assert_eq!(hub_report["status"], "drift", "{report}");
        assert_eq!(hub_report["error"], Value::Null, "{report}");
        let nameless = &hub_report["nameless"][0];
        assert_eq!(nameless["admin_paths"]["flag"], true, "{report}");
        assert!(nameless["created"].is_string(), "{report}");
        assert_contains_all(
            nameless["reason"].as_str().unwrap(),
            &[
                "a user with no name is admin on hub campus",
                "restore the name",
                "Add Users",
            ],
        );
        assert_eq!(
            hub.admins().await,
            ["nl-carol".to_string(), "nl-rep".to_string()].into()
        );
        let text = run(&["--dry-run"]);
        assert_contains_all(
            &common::stdout(&text),
            &[
                "nameless admin: a user with no name is admin",
                "admin page erases a user's name",
            ],
        );
    } else {
        // Older hubs keep the name on a same-name PATCH: an ordinary undeclared admin.
        assert!(
            !erased,
            "JupyterHub {} erased the name: {answer}",
            hub.version
        );
        let report = common::exit_report(&out, 0);
        assert!(report["hubs"][0].get("nameless").is_none(), "{report}");
        assert_eq!(
            hub.admins().await,
            ["nl-carol".to_string(), "nl-rep".to_string()].into()
        );
    }
}
