//! The hub's own admin page, driven in a REAL headless Chromium as a representative
//! works ("representatives may add new Hub Administrators via the JupyterHub interface"):
//! `rep-lee` signs in through the hub's login page, opens `/hub/admin`, and makes admins
//! with "Add Users" (Admin ticked) and "Edit User" (Admin ticked, Apply). The hub's own
//! log, read with the evidence core, must then say that rep-lee made them, through the
//! admin page; and the binary's dry run, reading that log file, must report the admins
//! "Add Users" made as made by rep-lee in the admin page. Runs against JupyterHub 6.1.1
//! and 4.1.6 (`.ci/run`); where they differ (6.1.1's Edit User erases the name), the test
//! says how.
//!
//! The pages are found by what a person sees (button and label texts), which both
//! versions share, while their markup differs (6.1.1's list has no Admin column, its
//! "Add Users" is a button inside a link, 4.1.6's a link inside a button). Screenshots of
//! each step are kept, with their directory named, when a test fails.

mod common;

use std::time::{Instant, SystemTime};

use common::browser::{Browser, By};
use common::{
    Hub, HubEntry, RosterBuilder, encode_name, exit_report, hub, hub_change, hub_report, random,
    run_roster, start_hub, stdout, wait_until,
};
use jupyterhub_admin_sync::evidence::{AdminEvent, Change, MadeBy, Target, Via};
use serde_json::{Value, json};

/// The representative, an admin of the hub.
const REP: &str = "rep-lee";

/// A button by the text it shows.
fn button(text: &str) -> String {
    format!("//button[normalize-space()='{text}']")
}

/// The check box labelled "Admin" (its label has no `for`: found as its neighbour).
const ADMIN_BOX: &str =
    "//input[@type='checkbox'][following-sibling::label[normalize-space()='Admin']]";

/// The row of the users list that shows `name`.
fn row(name: &str) -> String {
    format!("tr[data-testid='user-row-{name}']")
}

/// `rep-lee` (made admin by `test-admin` if need be), signed in through the hub's login
/// page in a new browser, on the admin page once it has rendered its list.
async fn representative_on_admin_page(hub: &Hub) -> Browser {
    hub.create_users(&[REP], true).await;
    let started = Instant::now();
    let mut browser = Browser::start().await;
    let base = format!("http://127.0.0.1:{}/hub", hub.port);
    browser
        .goto(&format!("{base}/login?next=%2Fhub%2Fadmin"))
        .await;
    let name = browser.wait(By::Css("form input[name='username']")).await;
    browser.type_into(&name, REP).await;
    let password = browser.wait(By::Css("form input[name='password']")).await;
    // The test hubs' authenticator takes any password.
    browser.type_into(&password, "any password").await;
    let sign_in = browser.wait(By::Css("form [type='submit']")).await;
    browser.click(&sign_in).await;
    browser.wait(By::XPath(&button("Add Users"))).await;
    browser.wait(By::Css(&row(REP))).await;
    browser.screenshot("admin-page").await;
    eprintln!(
        "admin_page: {REP} signed in, on the admin page {:.1?} after the browser's start",
        started.elapsed()
    );
    browser
}

/// The events about `name`.
fn about(name: &str) -> impl Fn(&AdminEvent) -> bool + '_ {
    move |e| e.target.user() == Some(name)
}

/// How many lines of the hub's log contain `needle`.
fn count_lines(hub: &Hub, needle: &str) -> usize {
    hub.log().lines().filter(|l| l.contains(needle)).count()
}

/// The hub's log lines that contain any of `needles`, for a failure's message.
fn lines_with(hub: &Hub, needles: &[&str]) -> String {
    let log = hub.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        .collect();
    lines.join("\n")
}

#[tokio::test]
async fn add_users_with_admin_ticked_is_the_representatives() {
    // The shared hub is this test's alone: the other has a hub of its own.
    let hub = hub();
    let mut browser = representative_on_admin_page(hub).await;
    let started = Instant::now();
    let fresh = [random("fresh-"), random("fresh-")];
    let request = format!("201 POST /hub/api/users?_xsrf=[secret] ({REP}@127.0.0.1)");
    let before = count_lines(hub, &request);

    let add = browser.wait(By::XPath(&button("Add Users"))).await;
    browser.click(&add).await;
    let names = browser.wait(By::Css("form textarea")).await;
    browser.type_into(&names, &fresh.join("\n")).await;
    let admin = browser.wait(By::XPath(ADMIN_BOX)).await;
    browser.click(&admin).await;
    browser.screenshot("add-users-filled").await;
    let submit = browser.wait(By::XPath(&button("Add Users"))).await;
    browser.click(&submit).await;
    // Back on the list, which shows the new users.
    for name in &fresh {
        browser.wait(By::Css(&row(name))).await;
    }
    browser.screenshot("add-users-done").await;
    let clicked = started.elapsed();

    let users = hub.users().await;
    for name in &fresh {
        assert_eq!(
            users.get(name),
            Some(&true),
            "{name} in GET /users: {users:?}"
        );
    }
    for name in &fresh {
        let got = hub
            .admin_events_once_logged(&request, before + 1, about(name))
            .await;
        let summary: Vec<_> = got
            .iter()
            .map(|e| (&e.change, &e.made_by, e.via, e.status))
            .collect();
        assert_eq!(
            summary,
            vec![(
                &Change::CreatedAdmin,
                &MadeBy::Actor(REP.to_string()),
                Some(Via::AdminPage),
                Some(201)
            )],
            "{name}; the log's lines about it:\n{}",
            lines_with(hub, &[name, "POST /hub/api/users"])
        );
    }
    eprintln!(
        "admin_page: Add Users of 2 admins in {clicked:.1?} (clicks to list), attributed in {:.1?}; the log's lines:\n{}",
        started.elapsed(),
        lines_with(hub, &[&fresh[0], &fresh[1], "POST /hub/api/users"])
    );
    the_binary_says_the_representative_made(hub, &fresh);
}

/// The binary's dry run, with the hub's log file in the roster, reports each of `made`
/// (admins the roster does not declare) as made admin by the representative in the
/// admin page: JSON `made_by`, `via`, `at`, and the text report's line.
fn the_binary_says_the_representative_made(hub: &Hub, made: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let entry = HubEntry::new("pagehub", &hub.api_url, "TOK")
        .set("log", format!("{{file: '{}'}}", hub.log_path().display()));
    let roster = RosterBuilder::one_hub("page", REP, entry).write(dir.path());
    let run = |args: &[&str]| run_roster(&roster, args, &[("TOK", &hub.admin_sync_token)]);

    let report = exit_report(&run(&["--dry-run", "--output", "json"]), 2);
    let warnings = &hub_report(&report, "pagehub")["warnings"];
    assert!(
        !warnings.to_string().contains("cannot be said"),
        "the hub's log is usable: {warnings}"
    );
    for name in made {
        let change = hub_change(&report, "pagehub", name);
        assert_eq!(change["action"], "revoke", "{change}");
        assert_eq!(change["made_by"], json!({"actor": REP}), "{change}");
        assert_eq!(change["via"], "admin_page", "{change}");
        let at: jiff::Timestamp = change["at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no time in {change}"));
        let age = jiff::Timestamp::now().duration_since(at);
        assert!(
            age >= jiff::SignedDuration::ZERO && age < jiff::SignedDuration::from_secs(600),
            "{name} made admin at {at}, not during this test"
        );
    }
    let text = stdout(&run(&["--dry-run"]));
    for name in made {
        let line = format!(
            "would revoke admin from {name}: undeclared admin by flag (stays a user); made admin by {REP} in the admin page at "
        );
        assert!(text.contains(&line), "{line:?} is missing from:\n{text}");
    }

    // With ui_grants, the admins the representative made in the admin page are kept as
    // provisional administrators: no change, on record with who, how and until when.
    let entry = HubEntry::new("pagehub", &hub.api_url, "TOK")
        .set("log", format!("{{file: '{}'}}", hub.log_path().display()))
        .set("ui_grants", "{keep_for: 30d}");
    let roster = RosterBuilder::one_hub("page", REP, entry).write(dir.path());
    let out = run_roster(
        &roster,
        &["--dry-run", "--output", "json"],
        &[("TOK", &hub.admin_sync_token)],
    );
    let report = common::report(&out);
    let pagehub = hub_report(&report, "pagehub");
    for name in made {
        let kept = pagehub["provisional"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["user"] == name.as_str()))
            .unwrap_or_else(|| panic!("{name} is not provisional: {pagehub:#}"));
        assert_eq!(kept["granted_by"], REP, "{kept}");
        assert_eq!(kept["via"], "admin_page", "{kept}");
        let changed = pagehub["changes"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["user"] == name.as_str()));
        assert!(!changed, "{name} is provisional, not a change: {pagehub:#}");
    }
}

#[tokio::test]
async fn edit_user_ticking_admin_is_the_representatives() {
    // A hub of its own: on 6.1.1 the user this edit leaves without a name breaks the
    // admin page for every later visit (shown below), so no other test may follow it.
    let hub = &start_hub();
    let newbie = random("newbie-");
    hub.create_user(&newbie).await;
    let path = format!("/users/{}", encode_name(&newbie));
    let created = hub.get_ok(&path, &hub.test_admin_token).await["created"].clone();
    assert!(created.is_string(), "{newbie} has no created time");
    let mut browser = representative_on_admin_page(hub).await;
    let started = Instant::now();
    let at_click = SystemTime::now();

    let edit = format!(
        "//tr[@data-testid='user-row-{newbie}']{}",
        button("Edit User")
    );
    let edit = browser.wait(By::XPath(&edit)).await;
    browser.click(&edit).await;
    let heading = format!("//*[normalize-space()='Editing user {newbie}']");
    browser.wait(By::XPath(&heading)).await;
    let admin = browser.wait(By::XPath(ADMIN_BOX)).await;
    browser.click(&admin).await;
    browser.screenshot("edit-user-ticked").await;
    let apply = browser.wait(By::XPath(&button("Apply"))).await;
    browser.click(&apply).await;
    let request = format!("200 PATCH /hub/api/users/{newbie}?_xsrf=[secret] ({REP}@127.0.0.1)");
    let got = hub
        .admin_events_once_logged(&request, 1, about(&newbie))
        .await;
    browser.screenshot("edit-user-applied").await;
    let applied = started.elapsed();

    // Checked on real hubs: 6.1.1's page sends the unchanged name and the hub erases it;
    // 4.1.6 keeps it (5.x not checked).
    let erases = hub.version_tuple() >= (6, 0, 0);
    let log = lines_with(hub, &[&newbie, &format!("{REP} setting")]);
    if erases {
        let (status, _) = hub
            .request(reqwest::Method::GET, &path, &hub.test_admin_token, None)
            .await;
        assert_eq!(
            status, 404,
            "{newbie} still found by name on {}",
            hub.version
        );
        let nameless = nameless_admin_created_at(hub, &created).await;
        assert!(nameless, "no admin without a name created at {created}");
        for line in [
            format!("{REP} setting name=None for {newbie}"),
            format!("{REP} setting admin=True for None"),
        ] {
            assert!(log.contains(&line), "{line:?} not in:\n{log}");
        }
        admin_page_is_broken(hub, &mut browser).await;
    } else {
        let users = hub.users().await;
        assert_eq!(users.get(&newbie), Some(&true), "{newbie} in GET /users");
        let line = format!("{REP} setting admin=True for {newbie}");
        assert!(log.contains(&line), "{line:?} not in:\n{log}");
        // The page shows it too, in its Admin column.
        browser
            .goto(&format!("http://127.0.0.1:{}/hub/admin", hub.port))
            .await;
        let cell = format!("{} td[data-testid='user-row-admin']", row(&newbie));
        let cell = browser.wait(By::Css(&cell)).await;
        assert_eq!(browser.text(&cell).await, "admin");
    }
    assert_eq!(
        got,
        vec![AdminEvent {
            target: Target::User {
                name: newbie.clone(),
                name_erased: erases,
            },
            change: Change::Granted,
            made_by: MadeBy::Actor(REP.to_string()),
            via: Some(Via::AdminPage),
            at: got.first().map_or(jiff::Timestamp::UNIX_EPOCH, |e| e.at),
            status: Some(200),
        }],
        "JupyterHub {}; the log's lines:\n{log}",
        hub.version
    );
    let from =
        jiff::Timestamp::try_from(at_click).expect("a time") - jiff::SignedDuration::from_secs(1);
    assert!(from <= got[0].at, "{:?} before the click at {from}", got[0]);
    eprintln!(
        "admin_page: Edit User on JupyterHub {} in {applied:.1?} (clicks to attribution); the log's lines:\n{log}",
        hub.version
    );
}

/// Opens the admin page again: the listing it asks for fails (500: the hub cannot
/// build the model of a user without a name, `url_escape_path(None)`), and the page
/// shows nothing, so a representative can no longer use it at all.
async fn admin_page_is_broken(hub: &Hub, browser: &mut Browser) {
    let failed = "500 GET /hub/api/users?include_stopped_servers=1&offset=0";
    let by_rep = format!("({REP}@127.0.0.1)");
    let failures = || {
        hub.log()
            .lines()
            .filter(|l| l.contains(failed) && l.contains(&by_rep))
            .count()
    };
    let before = failures();
    browser
        .goto(&format!("http://127.0.0.1:{}/hub/admin", hub.port))
        .await;
    let what = "the admin page's listing failing again";
    wait_until(
        10,
        what,
        || hub.log_tail(20),
        || async { failures() > before },
    )
    .await;
    let nothing = "const root = document.getElementById('react-admin-hook');
        return root !== null && root.innerText.trim() === '';";
    browser
        .wait_for_script("the admin page showing nothing", nothing, json!([]))
        .await;
    browser.screenshot("admin-page-broken").await;
}

/// Whether `GET /users` lists an admin with no name (`"name": null`) created at
/// `created`: the user 6.1.1's Edit User erased, known by its creation time.
async fn nameless_admin_created_at(hub: &Hub, created: &Value) -> bool {
    // A plain list (no pagination header) of this binary's few users.
    let users = hub.get_ok("/users", &hub.test_admin_token).await;
    let users = users.as_array().cloned().unwrap_or_default();
    users
        .iter()
        .any(|u| u["name"].is_null() && u["admin"] == json!(true) && u["created"] == *created)
}
