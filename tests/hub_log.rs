//! Who made each admin, read from a REAL hub's own log (`hub.log`, at INFO): a
//! representative's PATCH, the 6.1.1 admin page's name-erasing edit, a bulk and a single
//! add, a group add, `admin_users` at start, a login through an authenticator that says
//! admin, two people at once, forged names, a copytruncated log, and a restart that
//! applies the `admin` role's list. Runs against JupyterHub 6.1.1 and 4.1.6 (`.ci/run`);
//! where their lines differ, the test says how.

mod common;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use common::{Hub, encode_name, exclusive, random, start_hub_with_env, wait_until};
use jupyterhub_admin_sync::evidence::{
    AdminEvent, Attributor, Change, LogFile, LogZone, MadeBy, Target, Unknown, Via,
};
use reqwest::Method;
use serde_json::json;

/// In `admin_users` of the shared hub.
const CONFIG_ADMIN: &str = "config-admin";
/// Given the built-in `admin` role in `load_roles`.
const ADMIN_GROUP: &str = "hub-admins";
/// Said admin at login by the hub's authenticator.
const LOGIN_ADMIN: &str = "login-admin";

/// The hub of this binary: admin_users, an admin group, an authenticator that says admin.
/// Its tests take turns ([`exclusive`]): a bulk add of one test (every representative is
/// made by one) would overlap another's requests, and make its changes unknown.
fn log_hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        start_hub_with_env(&[
            ("HUB_ADMIN_USERS", CONFIG_ADMIN),
            ("HUB_ADMIN_GROUPS", ADMIN_GROUP),
            ("HUB_LOGIN_ADMINS", LOGIN_ADMIN),
            // Requests creating users then interleave, as with an authenticator that asks
            // another system (so two bulk adds can overlap).
            ("HUB_ADD_USER_DELAY_MS", "50"),
        ])
    })
}

/// The start of the request line of `method path` (below `/hub/api`) by `actor`.
fn request_line(method: &str, path: &str, actor: &str) -> String {
    format!("{method} /hub/api{path} ({actor}@127.0.0.1)")
}

fn about(name: &str) -> impl Fn(&AdminEvent) -> bool + '_ {
    move |e| e.target.user() == Some(name)
}

/// A new admin user of the hub (made by `test-admin`) and a token to act as them.
async fn representative(hub: &Hub, prefix: &str) -> (String, String) {
    let name = random(prefix);
    hub.create_users(&[&name], true).await;
    let token = hub.user_token(&name).await;
    (name, token)
}

async fn as_user(
    hub: &Hub,
    token: &str,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> u16 {
    let (status, text) = hub.request(method.clone(), path, token, Some(&body)).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {text}"
    );
    status
}

/// A new user of the hub, not admin (made by `test-admin`).
async fn plain_user(hub: &Hub, prefix: &str) -> String {
    let name = random(prefix);
    hub.create_user(&name).await;
    name
}

/// The log hub, held alone, with a new representative (named from `rep`, with their
/// token) and a new plain user to act on (named from `user`).
async fn alone_with_rep_and_user(
    rep: &str,
    user: &str,
) -> (common::Exclusive, &'static Hub, (String, String), String) {
    let (alone, hub) = (exclusive().await, log_hub());
    let representative = representative(hub, rep).await;
    let user = plain_user(hub, user).await;
    (alone, hub, representative, user)
}

/// `PATCH /users/{name}` `{"admin": admin}` as the user whose token is `token`; the path.
async fn set_admin_as(hub: &Hub, token: &str, name: &str, admin: bool) -> String {
    let path = format!("/users/{}", encode_name(name));
    as_user(hub, token, Method::PATCH, &path, json!({ "admin": admin })).await;
    path
}

/// What an event says of the change and who made it, how, as one line in the words the
/// reports use: `CreatedAdmin by rep-x through the API (201)`.
fn how(event: &AdminEvent) -> String {
    let via = event.via.map(|v| format!(" {v}")).unwrap_or_default();
    let status = event.status.map_or("no request".into(), |s| s.to_string());
    format!("{:?} by {}{via} ({status})", event.change, event.made_by)
}

/// Whether `name` is admin, asked of the hub for that one user: its list cannot be read
/// whole here, since 6.1.1's name-erasing edit leaves users with no name in it.
async fn is_admin(hub: &Hub, name: &str) -> bool {
    let user = hub
        .get_ok(
            &format!("/users/{}", encode_name(name)),
            &hub.test_admin_token,
        )
        .await;
    user["admin"]
        .as_bool()
        .unwrap_or_else(|| panic!("{name}: no admin flag: {user}"))
}

/// Once the log shows `needle`: what its first admin line about `user` says is `want`,
/// and `user` is admin.
async fn assert_made_admin(hub: &Hub, needle: &str, user: &str, want: &str) {
    let got = hub.admin_events_once_logged(needle, 1, about(user)).await;
    assert_eq!(how(&got[0]), want);
    assert!(is_admin(hub, user).await, "{user} is admin");
}

/// The event happened between `before` and now (the log's times are this machine's).
fn assert_at_between(event: &AdminEvent, before: SystemTime) {
    let from =
        jiff::Timestamp::try_from(before).expect("a time") - jiff::SignedDuration::from_secs(1);
    let to = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    assert!(
        from <= event.at && event.at <= to,
        "{event:?} not between {from} and {to}"
    );
}

#[tokio::test]
async fn a_representatives_patch_is_theirs() {
    let (_alone, hub, (rep, token), newbie) = alone_with_rep_and_user("rep-", "newbie-").await;
    let before = SystemTime::now();
    let path = set_admin_as(hub, &token, &newbie, true).await;
    set_admin_as(hub, &token, &newbie, false).await;
    let needle = request_line("PATCH", &path, &rep);
    let got = hub
        .admin_events_once_logged(&needle, 2, about(&newbie))
        .await;
    let summary: Vec<String> = got.iter().map(how).collect();
    assert_eq!(
        summary,
        [
            format!("Granted by {rep} through the API (200)"),
            format!("Revoked by {rep} through the API (200)"),
        ]
    );
    assert_at_between(&got[0], before);
}

#[tokio::test]
async fn an_edit_that_sends_the_unchanged_name_is_read_from_the_path() {
    // JupyterHub 6.1.1's admin page sends `{"name": same, "admin": true}`: 6.1.1 sets the
    // name to None, and its admin line names `None`, or the user when `admin` came first
    // in the body. 4.1.6 keeps the name.
    let (_alone, hub) = (exclusive().await, log_hub());
    let (rep, token) = representative(hub, "rep-").await;
    // Checked on real hubs: 6.1.1 erases, 4.1.6 keeps (5.x not checked).
    let erases = hub.version_tuple() >= (6, 0, 0);
    for name_first in [true, false] {
        let newbie = plain_user(hub, "edited-").await;
        let path = format!("/users/{}", encode_name(&newbie));
        let (name, admin) = (format!("\"name\": \"{newbie}\""), "\"admin\": true");
        let body = if name_first {
            format!("{{{name}, {admin}}}")
        } else {
            format!("{{{admin}, {name}}}")
        };
        let status = hub.request_raw(Method::PATCH, &path, &token, &body).await;
        assert_eq!(status, 200, "PATCH {path} {body}");
        let needle = request_line("PATCH", &path, &rep);
        let got = hub
            .admin_events_once_logged(&needle, 1, about(&newbie))
            .await;
        let log = hub.log();
        let erased_line = format!("{rep} setting name=None for {newbie}");
        assert_eq!(log.contains(&erased_line), erases, "{}", hub.log_tail(10));
        let admin_line = if erases && name_first {
            "None"
        } else {
            newbie.as_str()
        };
        assert!(log.contains(&format!("{rep} setting admin=True for {admin_line}")));
        assert_eq!(
            got,
            vec![AdminEvent {
                target: Target::User {
                    name: newbie.clone(),
                    name_erased: erases
                },
                change: Change::Granted,
                made_by: MadeBy::Actor(rep.clone()),
                via: Some(Via::Api),
                at: got[0].at,
                status: Some(200),
            }],
            "name first: {name_first}"
        );
    }
}

#[tokio::test]
async fn a_bulk_add_with_admin_names_its_actor_not_its_users() {
    let (_alone, hub) = (exclusive().await, log_hub());
    let (rep, token) = representative(hub, "rep-").await;
    let fresh = [random("fresh-"), random("fresh-")];
    let body = json!({ "usernames": fresh, "admin": true });
    as_user(hub, &token, Method::POST, "/users", body).await;
    let needle = request_line("POST", "/users", &rep);
    for name in &fresh {
        let got = hub.admin_events_once_logged(&needle, 1, about(name)).await;
        let want = format!("CreatedAdmin by {rep} through the API (201)");
        assert_eq!(how(&got[0]), want);
    }
    // The request line names the actor only: the users come from the role lines.
    let request = format!("201 POST /hub/api/users ({rep}@127.0.0.1)");
    assert!(
        hub.log().contains(&request),
        "{request}\n{}",
        hub.log_tail(20)
    );
}

#[tokio::test]
async fn a_single_add_with_the_admin_pages_query_is_the_admin_page() {
    let (_alone, hub) = (exclusive().await, log_hub());
    let (rep, token) = representative(hub, "rep-").await;
    let name = random("single-");
    let path = format!(
        "/users/{}?_xsrf=not-checked-with-a-token",
        encode_name(&name)
    );
    as_user(hub, &token, Method::POST, &path, json!({ "admin": true })).await;
    let needle = request_line("POST", &format!("/users/{name}?_xsrf=[secret]"), &rep);
    let got = hub.admin_events_once_logged(&needle, 1, about(&name)).await;
    let want = format!("CreatedAdmin by {rep} in the admin page (201)");
    assert_eq!(how(&got[0]), want);
    // The hub hides the query's value.
    assert!(hub.log().contains(&format!(
        "201 POST /hub/api/users/{name}?_xsrf=[secret] ({rep}@127.0.0.1)"
    )));
}

#[tokio::test]
async fn a_group_add_counts_members_and_names_the_actor() {
    let (_alone, hub, (rep, token), member) = alone_with_rep_and_user("grouper-", "member-").await;
    let path = format!("/groups/{ADMIN_GROUP}/users");
    let before = SystemTime::now();
    as_user(
        hub,
        &token,
        Method::POST,
        &path,
        json!({ "users": [member] }),
    )
    .await;
    let by_rep = |e: &AdminEvent| e.made_by == MadeBy::Actor(rep.clone());
    let got = hub
        .admin_events_once_logged(&request_line("POST", &path, &rep), 1, by_rep)
        .await;
    assert_eq!(
        (&got[0].target, &got[0].change, got[0].via),
        (
            &Target::Members { count: 1 },
            &Change::AddedToGroup {
                group: ADMIN_GROUP.to_string()
            },
            Some(Via::Api)
        )
    );
    assert_at_between(&got[0], before);
    // The hub logs how many, not who: no line about a group names the member.
    let log = hub.log();
    assert!(log.contains(&format!("Adding 1 users to group {ADMIN_GROUP}")));
    let named = log
        .lines()
        .filter(|l| l.contains(&member) && l.contains("group"))
        .collect::<Vec<_>>();
    assert!(named.is_empty(), "{named:?}");
}

#[tokio::test]
async fn admin_users_at_start_are_the_hubs_configuration() {
    let (_alone, hub) = (exclusive().await, log_hub());
    let want = "Granted by the hub's configuration (admin_users or load_roles) at the hub's start (no request)";
    assert_made_admin(hub, "JupyterHub is now running", CONFIG_ADMIN, want).await;
}

#[tokio::test]
async fn the_log_shows_the_requests_of_whoever_is_watched() {
    // How a caller tells the hub's log (its own requests are in it) from a wrong file.
    let (_alone, hub) = (exclusive().await, log_hub());
    hub.get_ok("/users?offset=0&limit=1", &hub.test_admin_token)
        .await;
    let needle = "GET /hub/api/users?offset=0&limit=1 (test-admin@127.0.0.1)";
    hub.admin_events_once_logged(needle, 1, |_| false).await;
    let mut attributor = Attributor::new(LogZone::system(), Duration::from_secs(60));
    attributor.watch("test-admin");
    LogFile::new(hub.log_path(), None)
        .read(u64::MAX, &mut attributor)
        .expect("reading hub.log");
    let stats = attributor.stats();
    assert!(stats.watched_requests >= 1, "{stats:?}");
    assert!(stats.requests > stats.watched_requests, "{stats:?}");
    // The hub's own lines all parse; only its config's one stderr line does not.
    assert!(stats.skipped <= 2, "{stats:?}\n{}", hub.log_tail(40));
}

#[tokio::test]
async fn a_login_that_says_admin_is_the_authenticator() {
    let (_alone, hub) = (exclusive().await, log_hub());
    assert_eq!(hub.login(LOGIN_ADMIN, "any password").await, 302);
    let needle = format!("POST /hub/login?next=%2Fhub%2Fhome -> /hub/home ({LOGIN_ADMIN}@");
    let want = "Granted by the authenticator at login (302)";
    assert_made_admin(hub, &needle, LOGIN_ADMIN, want).await;
}

#[tokio::test]
async fn two_people_at_once_are_told_apart_or_unknown() {
    let (_alone, hub) = (exclusive().await, log_hub());
    let (a, token_a) = representative(hub, "rep-a-").await;
    let (b, token_b) = representative(hub, "rep-b-").await;
    // Two bulk adds sent together: the hub runs them one after the other, but each
    // request's interval starts when it arrived, so the first one's lines lie in both.
    let mut overlapped = false;
    for round in 1..=3 {
        let from_a: Vec<String> = (0..4).map(|_| random("from-a-")).collect();
        let from_b: Vec<String> = (0..4).map(|_| random("from-b-")).collect();
        let send = |token: &str, names: &[String]| {
            let body = json!({ "usernames": names, "admin": true });
            let token = token.to_string();
            async move { as_user(hub, &token, Method::POST, "/users", body).await }
        };
        tokio::join!(send(&token_a, &from_a), send(&token_b, &from_b));
        for (names, actor) in [(&from_a, &a), (&from_b, &b)] {
            for name in names {
                let needle = request_line("POST", "/users", actor);
                let got = hub
                    .admin_events_once_logged(&needle, round, about(name))
                    .await;
                match &got[0].made_by {
                    MadeBy::Actor(who) => assert_eq!(who, actor, "{name}"),
                    MadeBy::Unknown(Unknown::Overlap { actors }) => {
                        assert!(actors.contains(&a) && actors.contains(&b), "{actors:?}");
                        overlapped = true;
                    }
                    other => panic!("{name}: {other:?}"),
                }
            }
        }
        if overlapped {
            break;
        }
    }
    assert!(
        overlapped,
        "two bulk adds sent at once never overlapped:\n{}",
        hub.log_tail(40)
    );

    // Two PATCHes at once: each message names its actor exactly, so each is told apart.
    let (u1, u2) = (random("patched-a-"), random("patched-b-"));
    hub.create_users(&[&u1, &u2], false).await;
    tokio::join!(
        set_admin_as(hub, &token_a, &u1, true),
        set_admin_as(hub, &token_b, &u2, true)
    );
    for (name, actor) in [(&u1, &a), (&u2, &b)] {
        let needle = request_line("PATCH", &format!("/users/{name}"), actor);
        let got = hub.admin_events_once_logged(&needle, 1, about(name)).await;
        assert_eq!(got[0].made_by, MadeBy::Actor(actor.clone()), "{name}");
    }
}

#[tokio::test]
async fn forged_names_name_only_the_real_actor() {
    let (_alone, hub, (rep, _), victim) = alone_with_rep_and_user("rep-", "victim-").await;
    // An admin whose name reads as the representative's message, and one whose name
    // holds `) (` and `@` and an address: their requests are theirs.
    let forgers = [
        format!("{rep} setting admin=True for {victim}"),
        format!("x) ({rep}@127.0.0.1) 1.00ms ({rep}"),
    ];
    for forger in &forgers {
        // `POST /users/{name}` keeps the case (`POST /users` would lowercase `True`).
        hub.create_user(forger).await;
        hub.set_admin(forger, true).await;
        let token = hub.user_token(forger).await;
        let target = plain_user(hub, "target-").await;
        let path = set_admin_as(hub, &token, &target, true).await;
        let needle = request_line("PATCH", &path, forger);
        let got = hub
            .admin_events_once_logged(&needle, 1, about(&target))
            .await;
        assert_eq!(
            got[0].made_by,
            MadeBy::Actor(forger.clone()),
            "{}",
            hub.log_tail(10)
        );
    }
    // Nothing says the representative made the victim (or anyone) admin.
    let all = hub.admin_events();
    assert!(
        !all.iter()
            .any(|e| e.made_by == MadeBy::Actor(rep.clone()) || about(&victim)(e)),
        "{all:?}"
    );
}

#[tokio::test]
async fn a_copytruncated_log_is_read_on_through_the_copy() {
    // A hub of its own: the other tests read the shared hub's log from its start.
    let hub = &common::start_hub();
    let (rep, token) = representative(hub, "rep-").await;
    let path = hub.log_path();
    let mut log = LogFile::new(&path, None);
    let mut attributor = Attributor::new(LogZone::system(), Duration::from_secs(60));
    log.read(u64::MAX, &mut attributor)
        .expect("reading hub.log");
    attributor.flush();
    // A change written before the rotation, then logrotate's copytruncate (the hub keeps
    // its file open, appending), then a change written after.
    let (before, after) = (random("before-rotation-"), random("after-rotation-"));
    hub.create_users(&[&before, &after], false).await;
    let patched = set_admin_as(hub, &token, &before, true).await;
    let needle = request_line("PATCH", &patched, &rep);
    hub.admin_events_once_logged(&needle, 1, about(&before))
        .await;
    let rotated = path.with_file_name("hub.log.1");
    std::fs::copy(&path, &rotated).expect("copying hub.log");
    truncate(&path);
    set_admin_as(hub, &token, &after, true).await;
    wait_until(
        10,
        "the second PATCH's line",
        || hub.log_tail(10),
        || async { hub.log().contains(&format!("PATCH /hub/api/users/{after}")) },
    )
    .await;
    let report = log.read(u64::MAX, &mut attributor).expect("reading on");
    assert!(report.gaps.is_empty(), "{report:?}");
    let got = attributor.flush();
    for name in [&before, &after] {
        let event = got
            .iter()
            .find(|e| about(name)(e))
            .unwrap_or_else(|| panic!("{name}: {got:?}"));
        assert_eq!(event.made_by, MadeBy::Actor(rep.clone()));
    }
    // Without the copy, the lost part is a gap.
    let mut fresh = LogFile::new(&path, log.position().cloned());
    std::fs::remove_file(&rotated).expect("removing the copy");
    truncate(&path);
    hub.get_ok("/", "").await;
    wait_until(
        10,
        "a line after the truncation",
        || hub.log_tail(5),
        || async { !hub.log().is_empty() },
    )
    .await;
    let report = fresh.read(u64::MAX, &mut attributor).expect("reading on");
    assert_eq!(report.gaps.len(), 1, "{report:?}");
}

/// Empties the log in place, as logrotate's copytruncate does; the hub goes on appending.
fn truncate(path: &Path) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(0))
        .expect("truncating hub.log");
}

#[tokio::test]
async fn a_restart_applies_the_admin_role_list() {
    // The admin role in load_roles with admin_users merged in is an exact list at start:
    // an admin made through the API loses it at the next start. 6.x logs
    // `Removing admin=True from <User(name 0/0 running)>`; 4.1.6 says nothing.
    let mut hub = start_hub_with_env(&[("HUB_ADMIN_USERS", CONFIG_ADMIN)]);
    let name = random("api-admin-");
    hub.create_users(&[&name], true).await;
    hub.kill();
    hub.restart(false);
    assert!(
        !hub.admins().await.contains(&name),
        "the restart kept {name} admin"
    );
    let got: Vec<_> = hub
        .admin_events()
        .into_iter()
        .filter(|e| about(&name)(e))
        .collect();
    let revoked = got.iter().find(|e| e.change == Change::Revoked);
    if hub
        .log()
        .contains(&format!("Removing admin=True from <User({name} "))
    {
        let event = revoked.unwrap_or_else(|| panic!("{got:?}"));
        assert_eq!(
            (&event.made_by, event.via),
            (&MadeBy::Configuration, Some(Via::HubStart))
        );
    } else {
        assert_eq!(
            hub.version_tuple().0,
            4,
            "only 4.x revokes without a line:\n{}",
            hub.log()
        );
        assert_eq!(
            revoked, None,
            "no line, no event: the caller answers unknown"
        );
    }
}
