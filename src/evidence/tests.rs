//! Reading and pairing real lines: excerpts of JupyterHub 4.1.6 and 6.1.1 logs (from
//! `tests/hub_log.rs`'s hubs and issue 21), forged names, interleaved requests.

use std::time::Duration;

use proptest::prelude::*;

use super::line::{LineError, LocalTime, Splitter, parse_line, parse_request};
use super::{
    AdminEvent, Attributor, Change, Gap, GapKind, LineSink, LogZone, MadeBy, Target, Unknown, Via,
};

const HOLD: Duration = Duration::from_secs(60);

/// A sink that keeps the lines and gaps it is handed, in the order they came (a gap as
/// `<gap KIND>`): what the file and pod log readers' tests compare.
#[derive(Debug, Default)]
pub(super) struct Collect(pub(super) Vec<String>);

impl LineSink for Collect {
    fn line(&mut self, line: &[u8]) {
        self.0.push(String::from_utf8_lossy(line).into_owned());
    }
    fn gap(&mut self, gap: Gap) {
        self.0.push(format!("<gap {:?}>", gap.kind));
    }
}

/// Every event of `log`, read as a whole (UTC).
fn events(log: &str) -> Vec<AdminEvent> {
    let mut attributor = Attributor::new(LogZone::utc(), HOLD);
    for line in log.lines() {
        attributor.feed(line.as_bytes());
    }
    attributor.flush()
}

/// The one event of `log`.
fn only(log: &str) -> AdminEvent {
    let mut got = events(log);
    assert_eq!(got.len(), 1, "{got:?}");
    got.remove(0)
}

fn user(name: &str) -> Target {
    Target::User {
        name: name.to_string(),
        name_erased: false,
    }
}

fn actor(name: &str) -> MadeBy {
    MadeBy::Actor(name.to_string())
}

fn at(text: &str) -> jiff::Timestamp {
    text.parse().expect("a timestamp")
}

/// The issue's excerpt, as a 6.1.1 hub wrote it.
const ISSUE_21: &str = "\
[I 2026-12-01 12:38:43.845 JupyterHub users:395] rep-lee setting admin=True for newbie
[I 2026-12-01 12:38:43.845 JupyterHub roles:281] Adding role admin for User: newbie
[I 2026-12-01 12:38:43.848 JupyterHub log:192] 200 PATCH /hub/api/users/newbie (rep-lee@127.0.0.1) 6.71ms
[I 2026-12-01 12:38:43.855 JupyterHub roles:281] Adding role admin for User: fresh1
[I 2026-12-01 12:38:43.857 JupyterHub log:192] 201 POST /hub/api/users (rep-lee@127.0.0.1) 9.08ms
[I 2026-12-01 12:38:43.864 JupyterHub roles:281] Adding role admin for User: fresh2
[I 2026-12-01 12:38:43.866 JupyterHub log:192] 201 POST /hub/api/users/fresh2 (rep-lee@127.0.0.1) 8.20ms
[I 2026-12-01 12:38:43.714 JupyterHub roles:281] Adding role admin for User: mallory
";

#[test]
fn a_line_of_the_default_format_is_read() {
    let line = parse_line(
        b"[I 2026-12-01 12:38:43.845 JupyterHub users:395] rep-lee setting admin=True for newbie",
    )
    .expect("a log line");
    assert_eq!(line.level, super::line::Level::Info);
    assert_eq!(line.logger, "JupyterHub");
    assert_eq!(line.module, "users");
    assert_eq!(line.message, "rep-lee setting admin=True for newbie");
    assert_eq!(
        line.time,
        LocalTime::parse(b"2026-12-01 12:38:43.845").expect("a time")
    );
    let (y, mo, d, h, mi, s, ms) = line.time.parts();
    assert_eq!((y, mo, d, h, mi, s, ms), (2026, 12, 1, 12, 38, 43, 845));
}

#[test]
fn colours_and_carriage_returns_are_ignored() {
    let line = parse_line(
        b"\x1b[32m[W 2026-12-01 12:38:43.845 JupyterHub log:192]\x1b[0m 404 GET /hub/x (@127.0.0.1) 1.00ms\r",
    )
    .expect("a log line");
    assert_eq!(line.level, super::line::Level::Warning);
    assert_eq!(line.message, "404 GET /hub/x (@127.0.0.1) 1.00ms");
}

#[test]
fn lines_of_other_shapes_are_not_log_lines() {
    let bad: &[&[u8]] = &[
        b"",
        b"garbage",
        b"    Traceback (most recent call last):",
        b"jupyterhub_config.py: JupyterHub 6.1.1 on http://127.0.0.1:1/hub/api",
        b"[X 2026-12-01 12:38:43.845 JupyterHub users:395] x",
        b"[I 2026-13-01 12:38:43.845 JupyterHub users:395] x",
        b"[I 2026-02-30 12:38:43.845 JupyterHub users:395] x",
        b"[I 2026-12-01 24:38:43.845 JupyterHub users:395] x",
        b"[I 2026-12-01 12:38:43.845 JupyterHub users:395 x",
        b"[I 2026-12-01 12:38:43.845 JupyterHub users] x",
        b"[I 2026-12-01 12:38:43.845 JupyterHub users:x9] x",
        b"[I 2026-12-01 12:38:43.845 JupyterHub users:1]x",
    ];
    for line in bad {
        assert_eq!(
            parse_line(line),
            Err(LineError::NotLogFormat),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(
        parse_line(b"[I 2026-12-01 12:38:43.845 JupyterHub users:1] \xff"),
        Err(LineError::NotUtf8)
    );
}

#[test]
fn a_request_line_is_read_from_both_ends() {
    let r = parse_request("200 PATCH /hub/api/users/alice%40uni.edu (rep-lee@127.0.0.1) 6.71ms")
        .expect("a request");
    assert_eq!(
        (
            r.status,
            r.method,
            r.path,
            r.query,
            r.user,
            r.ip,
            r.duration_us
        ),
        (
            200,
            "PATCH",
            "/hub/api/users/alice%40uni.edu",
            None,
            "rep-lee",
            "127.0.0.1",
            6_710
        )
    );
    let segments = r.decoded_segments().expect("UTF-8");
    assert_eq!(segments.last().map(|s| s.as_ref()), Some("alice@uni.edu"));

    // A user holding `) (`, `@` and the tail of a request line.
    let r = parse_request("200 GET /hub/api/user (a) (b@c@127.0.0.1) 1.00ms@::1) 3.5ms")
        .expect("a request");
    assert_eq!(
        (r.user, r.ip, r.duration_us),
        ("a) (b@c@127.0.0.1) 1.00ms", "::1", 3_500)
    );

    // The admin page's query, a redirect's target, nobody logged in.
    let r = parse_request("201 POST /hub/api/users?_xsrf=[secret] (rep-lee@127.0.0.1) 9.08ms")
        .expect("a request");
    assert_eq!(
        (r.path, r.query, r.has_xsrf()),
        ("/hub/api/users", Some("_xsrf=[secret]"), true)
    );
    let r = parse_request(
        "302 POST /hub/login?next=%2Fhub%2Fhome -> /hub/home (loginadmin@127.0.0.1) 99.68ms",
    )
    .expect("a request");
    assert_eq!(
        (r.path, r.user, r.has_xsrf()),
        ("/hub/login", "loginadmin", false)
    );
    let r = parse_request("200 GET /hub/api/ (@127.0.0.1) 1.96ms").expect("a request");
    assert_eq!(r.user, "");
}

#[test]
fn messages_that_are_not_request_lines_are_refused() {
    for message in [
        "rep-lee setting admin=True for newbie",
        "200 PATCH /hub/api/users/x (rep-lee@127.0.0.1)",
        "200 PATCH /hub/api/users/x (rep-lee@127.0.0.1) 6.71",
        "200 PATCH /hub/api/users/x (rep-lee) 6.71ms",
        "200 PATCH /hub/api/users/x (rep-lee@1 2) 6.71ms",
        "2000 PATCH /hub/api/users/x (rep-lee@127.0.0.1) 6.71ms",
        "200 patch /hub/api/users/x (rep-lee@127.0.0.1) 6.71ms",
        "200 PATCH hub/api/users/x (rep-lee@127.0.0.1) 6.71ms",
        "200 PATCH /hub/api/users/x (rep-lee@127.0.0.1) -1ms",
        "302 GET /hub/ => /hub/home (a@127.0.0.1) 1ms",
        "{",
    ] {
        assert_eq!(parse_request(message), None, "{message}");
    }
    let bad_utf8 = parse_request("200 PATCH /hub/api/users/%FF (a@127.0.0.1) 1ms").expect("parses");
    assert_eq!(bad_utf8.decoded_segments(), None);
}

#[test]
fn the_issue_excerpt_names_who_made_each_admin() {
    let got = events(ISSUE_21);
    assert_eq!(
        got,
        vec![
            AdminEvent {
                target: user("newbie"),
                change: Change::Granted,
                made_by: actor("rep-lee"),
                via: Some(Via::Api),
                at: at("2026-12-01T12:38:43.845Z"),
                status: Some(200),
            },
            AdminEvent {
                target: user("fresh1"),
                change: Change::CreatedAdmin,
                made_by: actor("rep-lee"),
                via: Some(Via::Api),
                at: at("2026-12-01T12:38:43.855Z"),
                status: Some(201),
            },
            AdminEvent {
                target: user("fresh2"),
                change: Change::CreatedAdmin,
                made_by: actor("rep-lee"),
                via: Some(Via::Api),
                at: at("2026-12-01T12:38:43.864Z"),
                status: Some(201),
            },
            AdminEvent {
                target: user("mallory"),
                change: Change::Granted,
                made_by: MadeBy::Unknown(Unknown::NoRequest),
                via: None,
                at: at("2026-12-01T12:38:43.714Z"),
                status: None,
            },
        ]
    );
}

#[test]
fn times_are_converted_to_utc_with_the_logs_zone() {
    let berlin = LogZone::named("Europe/Berlin").expect("a zone");
    let winter = LocalTime::parse(b"2026-12-01 12:38:43.845").expect("a time");
    let summer = LocalTime::parse(b"2026-07-01 12:38:43.845").expect("a time");
    assert_eq!(berlin.to_utc(winter), at("2026-12-01T11:38:43.845Z"));
    assert_eq!(berlin.to_utc(summer), at("2026-07-01T10:38:43.845Z"));
    assert_eq!(
        LogZone::utc().to_utc(winter),
        at("2026-12-01T12:38:43.845Z")
    );
    assert!(LogZone::named("Mars/Olympus").is_err());

    let mut attributor = Attributor::new(berlin, HOLD);
    for line in ISSUE_21.lines().take(3) {
        attributor.feed(line.as_bytes());
    }
    let got = attributor.flush();
    assert_eq!(got[0].at, at("2026-12-01T11:38:43.845Z"));
}

#[test]
fn the_admin_page_is_told_by_its_xsrf_query() {
    let event = only(
        "\
[I 2026-12-01 12:38:43.855 JupyterHub roles:281] Adding role admin for User: fresh1
[I 2026-12-01 12:38:43.857 JupyterHub log:192] 201 POST /hub/api/users?_xsrf=[secret] (rep-lee@127.0.0.1) 9.08ms
",
    );
    assert_eq!(
        (&event.target, &event.change, &event.made_by, event.via),
        (
            &user("fresh1"),
            &Change::CreatedAdmin,
            &actor("rep-lee"),
            Some(Via::AdminPage)
        )
    );
}

#[test]
fn the_611_admin_page_erasing_a_name_is_read_from_the_path() {
    // 6.1.1's "Edit User" sends the unchanged name: the hub sets it to None.
    let got = events(
        "\
[I 2026-12-01 13:44:11.813 JupyterHub users:395] rep-lee setting name=None for newbie
[I 2026-12-01 13:44:11.813 JupyterHub users:395] rep-lee setting admin=True for None
[I 2026-12-01 13:44:11.838 JupyterHub roles:281] Adding role admin for User: None
[I 2026-12-01 13:44:11.842 JupyterHub log:192] 200 PATCH /hub/api/users/newbie?_xsrf=[secret] (rep-lee@127.0.0.1) 33.19ms
",
    );
    assert_eq!(
        got,
        vec![AdminEvent {
            target: Target::User {
                name: "newbie".to_string(),
                name_erased: true
            },
            change: Change::Granted,
            made_by: actor("rep-lee"),
            via: Some(Via::AdminPage),
            at: at("2026-12-01T13:44:11.813Z"),
            status: Some(200),
        }]
    );
}

#[test]
fn the_611_erasure_is_seen_whichever_key_came_first() {
    // A body with `admin` before `name` (as a client with sorted keys sends it): the
    // admin line still names the user, the erasure follows.
    let event = only(
        "\
[I 2026-12-01 14:00:14.424 JupyterHub users:395] rep-c setting admin=True for edited
[I 2026-12-01 14:00:14.445 JupyterHub roles:281] Adding role admin for User: edited
[I 2026-12-01 14:00:14.485 JupyterHub users:395] rep-c setting name=None for edited
[I 2026-12-01 14:00:14.497 JupyterHub log:192] 200 PATCH /hub/api/users/edited (rep-c@127.0.0.1) 126.21ms
",
    );
    assert_eq!(
        (&event.target, &event.made_by),
        (
            &Target::User {
                name: "edited".to_string(),
                name_erased: true
            },
            &actor("rep-c")
        )
    );
}

#[test]
fn the_416_edit_keeps_the_name() {
    let event = only(
        "\
[I 2026-12-01 13:44:18.679 JupyterHub users:339] rep-lee setting name='newbie' for newbie
[I 2026-12-01 13:44:18.679 JupyterHub users:339] rep-lee setting admin=False for newbie
[I 2026-12-01 13:44:18.706 JupyterHub roles:258] Removing role admin for User: newbie
[I 2026-12-01 13:44:18.708 JupyterHub log:192] 200 PATCH /hub/api/users/newbie (rep-lee@127.0.0.1) 35.47ms
",
    );
    assert_eq!(
        (&event.target, &event.change, &event.made_by),
        (&user("newbie"), &Change::Revoked, &actor("rep-lee"))
    );
}

#[test]
fn the_hubs_start_is_its_configuration() {
    let got = events(
        "\
[I 2026-12-01 13:44:10.277 JupyterHub app:3493] Running JupyterHub version 6.1.1
[I 2026-12-01 13:44:10.961 JupyterHub roles:281] Adding role admin for User: cfg-admin
[W 2026-12-01 13:44:11.100 JupyterHub app:2672] Removing admin=True from <User(gone 0/1 running)>
[I 2026-12-01 13:44:11.101 JupyterHub app:2659] Setting admin=True on <User(odd name) 0/0 running)>
[I 2026-12-01 13:44:11.395 JupyterHub app:3946] JupyterHub is now running, internal Hub API at http://127.0.0.1:18931/hub/
[I 2026-12-01 13:44:11.500 JupyterHub roles:281] Adding role admin for User: later
",
    );
    let summary: Vec<_> = got
        .iter()
        .map(|e| (e.target.user().unwrap_or(""), &e.change, &e.made_by, e.via))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "cfg-admin",
                &Change::Granted,
                &MadeBy::Configuration,
                Some(Via::HubStart)
            ),
            (
                "gone",
                &Change::Revoked,
                &MadeBy::Configuration,
                Some(Via::HubStart)
            ),
            (
                "odd name)",
                &Change::Granted,
                &MadeBy::Configuration,
                Some(Via::HubStart)
            ),
            (
                "later",
                &Change::Granted,
                &MadeBy::Unknown(Unknown::NoRequest),
                None
            ),
        ]
    );
}

#[test]
fn a_login_is_the_authenticator() {
    let event = only(
        "\
[I 2026-12-01 13:44:12.384 JupyterHub roles:281] Adding role user for User: loginadmin
[I 2026-12-01 13:44:12.440 JupyterHub roles:281] Adding role admin for User: loginadmin
[I 2026-12-01 13:44:12.469 JupyterHub base:1033] User logged in: loginadmin
[I 2026-12-01 13:44:12.475 JupyterHub log:192] 302 POST /hub/login?next=%2Fhub%2Fhome -> /hub/home (loginadmin@127.0.0.1) 99.68ms
",
    );
    assert_eq!(
        (
            &event.target,
            &event.change,
            &event.made_by,
            event.via,
            event.status
        ),
        (
            &user("loginadmin"),
            &Change::Granted,
            &MadeBy::Authenticator,
            Some(Via::Login),
            Some(302)
        )
    );
}

#[test]
fn an_oauth_callback_is_the_authenticator_too() {
    // OAuthenticator's admin_groups: a user not in them loses admin at sign-in.
    let event = only(
        "\
[I 2026-12-01 10:00:00.101 JupyterHub roles:302] Removing role admin for User: gh-user
[I 2026-12-01 10:00:00.150 JupyterHub log:192] 302 GET /hub/oauth_callback?code=[secret]&state=[secret] -> /hub/home (gh-user@10.0.0.1) 250.00ms
",
    );
    assert_eq!(
        (&event.change, &event.made_by, event.via),
        (&Change::Revoked, &MadeBy::Authenticator, Some(Via::Login))
    );
}

#[test]
fn group_changes_count_members_and_name_the_actor() {
    let got = events(
        "\
[I 2026-12-01 13:44:12.201 JupyterHub groups:166] Adding 1 users to group hub-admins
[I 2026-12-01 13:44:12.231 JupyterHub log:192] 200 POST /hub/api/groups/hub-admins/users (rep-lee@127.0.0.1) 39.78ms
[I 2026-12-01 13:44:12.237 JupyterHub groups:184] Removing 2 users from group hub admins
[I 2026-12-01 13:44:12.266 JupyterHub log:192] 200 DELETE /hub/api/groups/hub%20admins/users (rep-lee@127.0.0.1) 34.16ms
[I 2026-12-01 13:44:12.300 JupyterHub groups:166] Adding 1 users to group other
[I 2026-12-01 13:44:12.310 JupyterHub log:192] 200 POST /hub/api/groups/hub-admins/users (rep-lee@127.0.0.1) 39.78ms
",
    );
    let summary: Vec<_> = got
        .iter()
        .map(|e| (&e.target, &e.change, &e.made_by))
        .collect();
    let group = |g: &str| g.to_string();
    assert_eq!(
        summary,
        vec![
            (
                &Target::Members { count: 1 },
                &Change::AddedToGroup {
                    group: group("hub-admins")
                },
                &actor("rep-lee")
            ),
            (
                &Target::Members { count: 2 },
                &Change::RemovedFromGroup {
                    group: group("hub admins")
                },
                &actor("rep-lee")
            ),
            // The request is for another group: not its line.
            (
                &Target::Members { count: 1 },
                &Change::AddedToGroup {
                    group: group("other")
                },
                &MadeBy::Unknown(Unknown::NoRequest)
            ),
        ]
    );
}

#[test]
fn interleaved_requests_are_each_paired_with_their_own_lines() {
    let got = events(
        "\
[I 2026-12-01 10:00:00.100 JupyterHub users:395] rep-lee setting admin=True for u1
[I 2026-12-01 10:00:00.101 JupyterHub users:395] rep-kim setting admin=False for u2
[I 2026-12-01 10:00:00.102 JupyterHub roles:281] Adding role admin for User: u1
[I 2026-12-01 10:00:00.103 JupyterHub roles:302] Removing role admin for User: u2
[I 2026-12-01 10:00:00.104 JupyterHub log:192] 200 GET /hub/api/users (admin-sync@127.0.0.1) 30.00ms
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 200 PATCH /hub/api/users/u2 (rep-kim@127.0.0.1) 10.00ms
[I 2026-12-01 10:00:00.106 JupyterHub log:192] 200 PATCH /hub/api/users/u1 (rep-lee@127.0.0.1) 10.00ms
",
    );
    let summary: Vec<_> = got
        .iter()
        .map(|e| (e.target.user(), &e.change, &e.made_by))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("u2"), &Change::Revoked, &actor("rep-kim")),
            (Some("u1"), &Change::Granted, &actor("rep-lee")),
        ]
    );
}

#[test]
fn two_bulk_adds_at_once_cannot_be_told_apart() {
    let got = events(
        "\
[I 2026-12-01 10:00:00.100 JupyterHub roles:281] Adding role admin for User: from-a
[I 2026-12-01 10:00:00.110 JupyterHub roles:281] Adding role admin for User: from-b
[I 2026-12-01 10:00:00.120 JupyterHub log:192] 201 POST /hub/api/users (rep-lee@127.0.0.1) 30.00ms
[I 2026-12-01 10:00:00.125 JupyterHub log:192] 201 POST /hub/api/users (rep-kim@127.0.0.1) 40.00ms
[I 2026-12-01 10:00:01.000 JupyterHub roles:281] Adding role admin for User: alone
[I 2026-12-01 10:00:01.010 JupyterHub log:192] 201 POST /hub/api/users (rep-kim@127.0.0.1) 20.00ms
",
    );
    let both = MadeBy::Unknown(Unknown::Overlap {
        actors: vec!["rep-lee".to_string(), "rep-kim".to_string()],
    });
    let summary: Vec<_> = got.iter().map(|e| (e.target.user(), &e.made_by)).collect();
    assert_eq!(
        summary,
        vec![
            (Some("from-a"), &both),
            (Some("from-b"), &both),
            (Some("alone"), &actor("rep-kim"))
        ]
    );
}

#[test]
fn forged_names_forge_nothing() {
    // Each case: the lines, then who the event must name (or that there is none).
    /// What the case is, its lines, and the (target, actor) its event must name, if any.
    type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);
    let cases: &[Case] = &[
        (
            "a user named like a message: eve changed them, not rep-lee",
            "\
[I 2026-12-01 10:00:00.100 JupyterHub users:395] eve setting admin=True for rep-lee setting admin=True for mallory
[I 2026-12-01 10:00:00.101 JupyterHub roles:281] Adding role admin for User: rep-lee setting admin=True for mallory
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 200 PATCH /hub/api/users/rep-lee%20setting%20admin%3DTrue%20for%20mallory (eve@127.0.0.1) 10.00ms
",
            Some(("rep-lee setting admin=True for mallory", "eve")),
        ),
        (
            "an actor named with `) (` and `@`: the whole name is the actor",
            "\
[I 2026-12-01 10:00:00.100 JupyterHub users:395] rep-lee) (rep-lee@1.2.3.4 setting admin=True for mallory
[I 2026-12-01 10:00:00.101 JupyterHub roles:281] Adding role admin for User: mallory
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 200 PATCH /hub/api/users/mallory (rep-lee) (rep-lee@1.2.3.4@127.0.0.1) 10.00ms
",
            Some(("mallory", "rep-lee) (rep-lee@1.2.3.4")),
        ),
        (
            "a message that names another actor than the request line: the role line decides, by the request's actor",
            "\
[I 2026-12-01 10:00:00.100 JupyterHub users:542] Service x requested API token for rep-lee setting admin=True for mallory
[I 2026-12-01 10:00:00.101 JupyterHub roles:281] Adding role admin for User: mallory
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 200 PATCH /hub/api/users/mallory (eve@127.0.0.1) 10.00ms
",
            Some(("mallory", "eve")),
        ),
        (
            "a message with no request line of its actor proves nothing",
            "\
[I 2026-12-01 10:00:00.100 JupyterHub users:395] rep-lee setting admin=True for mallory
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 200 PATCH /hub/api/users/mallory (eve@127.0.0.1) 10.00ms
[I 2026-12-01 10:00:00.106 JupyterHub log:192] 200 PATCH /hub/api/users/someone (rep-lee@127.0.0.1) 10.00ms
",
            None,
        ),
        (
            "a name holding a whole request line inside the user part",
            "\
[I 2026-12-01 10:00:00.101 JupyterHub roles:281] Adding role admin for User: mallory
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 200 POST /hub/api/users/mallory (eve (rep-lee@127.0.0.1) 1.00ms@127.0.0.1) 10.00ms
",
            Some(("mallory", "eve (rep-lee@127.0.0.1) 1.00ms")),
        ),
        (
            "lines of another logger or module than the hub's own are not the hub's",
            "\
[I 2026-12-01 10:00:00.100 SomethingElse users:395] rep-lee setting admin=True for mallory
[I 2026-12-01 10:00:00.101 JupyterHub base:281] Adding role admin for User: mallory
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 200 PATCH /hub/api/users/mallory (rep-lee@127.0.0.1) 10.00ms
",
            None,
        ),
    ];
    for (what, log, want) in cases {
        let got = events(log);
        let named: Vec<_> = got
            .iter()
            .filter_map(|e| match &e.made_by {
                MadeBy::Actor(a) => Some((e.target.user().unwrap_or(""), a.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            named,
            want.iter().copied().collect::<Vec<_>>(),
            "{what}: {got:?}"
        );
    }
}

#[test]
fn bad_lines_are_skipped_and_counted() {
    let mut attributor = Attributor::new(LogZone::utc(), HOLD);
    let log = "\
not a log line
[E 2026-12-01 10:00:00.050 JupyterHub app:3408]
    Traceback (most recent call last):
[I 2026-12-01 10:00:00.101 JupyterHub roles:281] Adding role admin for User: u1
\x1b[31mhalf a line
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 201 POST /hub/api/users/u1 (eve@127.0.0.1) 10.00ms
";
    for line in log.lines() {
        attributor.feed(line.as_bytes());
    }
    attributor.feed(b"[I 2026-12-01 10:00:00.200 JupyterHub log:192] \xff\xfe");
    let stats = attributor.stats().clone();
    assert_eq!((stats.lines, stats.skipped, stats.requests), (7, 4, 1));
    let got = attributor.flush();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].made_by, actor("eve"));
}

#[test]
fn events_settle_once_the_log_has_moved_past_the_hold() {
    let mut attributor = Attributor::new(LogZone::utc(), HOLD);
    for line in ISSUE_21.lines().take(5) {
        attributor.feed(line.as_bytes());
    }
    // The PATCH's message paired at once; the bulk add's role line waits for `hold`.
    assert_eq!(attributor.take_settled().len(), 1);
    assert_eq!(attributor.pending(), 1);
    attributor.feed(
        b"[I 2026-12-01 12:39:43.854 JupyterHub log:192] 200 GET /hub/api/ (@127.0.0.1) 1.00ms",
    );
    assert_eq!(attributor.take_settled().len(), 0);
    attributor.feed(
        b"[I 2026-12-01 12:39:43.855 JupyterHub log:192] 200 GET /hub/api/ (@127.0.0.1) 1.00ms",
    );
    let got = attributor.take_settled();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].target.user(), &got[0].made_by),
        (Some("fresh1"), &actor("rep-lee"))
    );
}

#[test]
fn a_gap_or_a_restart_makes_waiting_lines_unknown() {
    let mut attributor = Attributor::new(LogZone::utc(), HOLD);
    attributor
        .feed(b"[I 2026-12-01 10:00:00.101 JupyterHub roles:281] Adding role admin for User: u1");
    attributor.gap(Gap {
        kind: GapKind::RotatedPast,
        bytes_lost: None,
    });
    attributor.feed(b"[I 2026-12-01 10:00:00.105 JupyterHub log:192] 201 POST /hub/api/users/u1 (eve@127.0.0.1) 10.00ms");
    attributor
        .feed(b"[I 2026-12-01 10:00:01.101 JupyterHub roles:281] Adding role admin for User: u2");
    attributor
        .feed(b"[I 2026-12-01 10:00:02.000 JupyterHub app:3493] Running JupyterHub version 4.1.6");
    attributor.feed(b"[I 2026-12-01 10:00:02.105 JupyterHub log:192] 201 POST /hub/api/users/u2 (eve@127.0.0.1) 2000.00ms");
    let got = attributor.flush();
    let summary: Vec<_> = got.iter().map(|e| (e.target.user(), &e.made_by)).collect();
    assert_eq!(
        summary,
        vec![
            (
                Some("u1"),
                &MadeBy::Unknown(Unknown::Gap(GapKind::RotatedPast))
            ),
            (Some("u2"), &MadeBy::Unknown(Unknown::NoRequest)),
        ]
    );
    assert_eq!(attributor.stats().gaps, 1);
}

#[test]
fn a_request_of_the_user_themselves_is_a_refresh_of_their_login() {
    let event = only(
        "\
[I 2026-12-01 10:00:00.101 JupyterHub roles:302] Removing role admin for User: ex-admin
[I 2026-12-01 10:00:00.105 JupyterHub log:192] 200 GET /hub/home (ex-admin@127.0.0.1) 10.00ms
[I 2026-12-01 10:00:00.106 JupyterHub log:192] 200 GET /hub/api/users (admin-sync@127.0.0.1) 10.00ms
",
    );
    assert_eq!(
        (&event.change, &event.made_by, event.via),
        (&Change::Revoked, &MadeBy::Authenticator, Some(Via::Refresh))
    );
}

#[test]
fn the_watched_actors_own_requests_are_counted_exactly() {
    let mut attributor = Attributor::new(LogZone::utc(), HOLD);
    attributor.watch("admin-sync");
    for line in [
        "[I 2026-12-01 10:00:00.100 JupyterHub log:192] 200 GET /hub/api/users?offset=0&limit=200 (admin-sync@127.0.0.1) 12.30ms",
        "[I 2026-12-01 10:00:00.101 JupyterHub log:192] 200 GET /hub/home (x (admin-sync@10.0.0.1) 2.00ms",
        "[I 2026-12-01 10:00:00.102 JupyterHub log:192] 200 GET /hub/api/info (not-admin-sync@127.0.0.1) 2.00ms",
        "[I 2026-12-01 10:00:00.103 JupyterHub users:395] admin-sync setting admin=True for x",
    ] {
        attributor.feed(line.as_bytes());
    }
    assert_eq!(
        (
            attributor.stats().requests,
            attributor.stats().watched_requests
        ),
        (3, 1)
    );
}

#[test]
fn names_with_line_breaks_are_flagged() {
    assert!(super::name_can_forge_lines(
        "eve\n[I 2026-12-01 10:00:00.100 JupyterHub"
    ));
    assert!(super::name_can_forge_lines("eve\r"));
    assert!(!super::name_can_forge_lines(
        "rep-lee setting admin=True for mallory"
    ));
}

#[test]
fn the_splitter_keeps_partial_lines_and_drops_overlong_ones() {
    let mut splitter = Splitter::new(16);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    splitter.push(b"one\ntw", |l| lines.push(l.to_vec()));
    assert_eq!(splitter.pending(), b"tw");
    splitter.push(b"o\nthis line is far too long", |l| lines.push(l.to_vec()));
    splitter.push(b" still\nthree\n", |l| lines.push(l.to_vec()));
    assert_eq!(
        lines,
        vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
    assert_eq!(splitter.dropped, 1);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

/// Names made of the pieces that could confuse a reader.
fn tricky_name() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "rep-lee",
        "mallory",
        "eve",
        " ",
        "(",
        ")",
        ") (",
        "@",
        "@127.0.0.1) 1.00ms",
        " setting admin=True for ",
        " setting name=None for ",
        "None",
        "Adding role admin for User: ",
        "[I 2026-12-01 10:00:00.100 JupyterHub log:192] ",
        "%",
        "'",
        "\"",
        "]",
        "-> ",
        " users to group ",
        "é",
    ]);
    prop::collection::vec(pieces, 1..4).prop_map(|p| p.concat())
}

/// One step a hub could log: a request by `actor` (PATCH, single or bulk POST, login,
/// group add) with the lines it writes, or a stray line.
#[derive(Debug, Clone)]
enum Step {
    Patch {
        actor: String,
        target: String,
        admin: bool,
        erase: bool,
    },
    Create {
        actor: String,
        target: String,
    },
    Bulk {
        actor: String,
        targets: Vec<String>,
    },
    Group {
        actor: String,
        group: String,
    },
    Stray {
        message: String,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (tricky_name(), tricky_name(), any::<bool>(), any::<bool>()).prop_map(
            |(actor, target, admin, erase)| Step::Patch {
                actor,
                target,
                admin,
                erase
            }
        ),
        (tricky_name(), tricky_name()).prop_map(|(actor, target)| Step::Create { actor, target }),
        (tricky_name(), prop::collection::vec(tricky_name(), 1..3))
            .prop_map(|(actor, targets)| Step::Bulk { actor, targets }),
        (tricky_name(), tricky_name()).prop_map(|(actor, group)| Step::Group { actor, group }),
        tricky_name().prop_map(|message| Step::Stray { message }),
    ]
}

fn encode(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The message of the hub's line for `actor`'s request: `status method /hub/api/path`, by
/// `actor` from loopback, taking `took`.
fn request_message(status: u16, method: &str, path: &str, actor: &str, took: &str) -> String {
    format!("{status} {method} /hub/api/{path} ({actor}@127.0.0.1) {took}")
}

/// The lines of `steps`, a millisecond apart, and every (actor, target) a request could
/// truly have changed (`""` for a bulk add's or a group's unnamed members).
fn log_of(steps: &[Step]) -> (Vec<String>, Vec<(String, String)>) {
    let mut lines = Vec::new();
    let mut truth = Vec::new();
    let mut ms = 0u32;
    let mut line = |module: &str, message: String| {
        ms += 1;
        lines.push(format!(
            "[I 2026-12-01 10:{:02}:{:02}.{:03} JupyterHub {module}:1] {message}",
            ms / 60_000,
            ms / 1_000 % 60,
            ms % 1_000
        ));
    };
    for step in steps {
        match step {
            Step::Patch {
                actor,
                target,
                admin,
                erase,
            } => {
                let v = if *admin { "True" } else { "False" };
                let role = if *admin { "Adding" } else { "Removing" };
                let shown = if *erase { "None" } else { target.as_str() };
                if *erase {
                    line("users", format!("{actor} setting name=None for {target}"));
                }
                line("users", format!("{actor} setting admin={v} for {shown}"));
                line("roles", format!("{role} role admin for User: {shown}"));
                let path = format!("users/{}", encode(target));
                line("log", request_message(200, "PATCH", &path, actor, "5.00ms"));
                truth.push((actor.clone(), target.clone()));
            }
            Step::Create { actor, target } => {
                line("roles", format!("Adding role admin for User: {target}"));
                let path = format!("users/{}?_xsrf=[secret]", encode(target));
                line("log", request_message(201, "POST", &path, actor, "3.00ms"));
                truth.push((actor.clone(), target.clone()));
            }
            Step::Bulk { actor, targets } => {
                for target in targets {
                    line("roles", format!("Adding role admin for User: {target}"));
                    truth.push((actor.clone(), target.clone()));
                }
                line(
                    "log",
                    request_message(201, "POST", "users", actor, "9.00ms"),
                );
            }
            Step::Group { actor, group } => {
                line("groups", format!("Adding 1 users to group {group}"));
                let path = format!("groups/{}/users", encode(group));
                line("log", request_message(200, "POST", &path, actor, "3.00ms"));
                truth.push((actor.clone(), String::new()));
            }
            Step::Stray { message } => line("users", message.clone()),
        }
    }
    (lines, truth)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No bytes make the reader panic.
    #[test]
    fn no_input_panics(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..20)) {
        let mut attributor = Attributor::new(LogZone::utc(), HOLD);
        let mut splitter = Splitter::new(128);
        for chunk in &chunks {
            splitter.push(chunk, |l| attributor.feed(l));
            let _ = parse_line(chunk);
            if let Ok(text) = std::str::from_utf8(chunk) {
                let _ = parse_request(text);
            }
        }
        let _ = attributor.flush();
    }

    /// However names are spelled, an event names as actor only a request line's user,
    /// for a user (or group) that request could have changed.
    #[test]
    fn no_forged_line_yields_another_actor(steps in prop::collection::vec(step(), 1..8)) {
        let (lines, truth) = log_of(&steps);
        let mut attributor = Attributor::new(LogZone::utc(), HOLD);
        for line in &lines {
            attributor.feed(line.as_bytes());
        }
        for event in attributor.flush() {
            if let MadeBy::Actor(a) = &event.made_by {
                let target = event.target.user().unwrap_or("").to_string();
                prop_assert!(
                    truth.contains(&(a.clone(), target.clone())),
                    "{a:?} named for {target:?}, not a request's pair; log:\n{}", lines.join("\n")
                );
            }
        }
    }
}
