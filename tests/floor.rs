//! The safety floor on a real JupyterHub of this binary's own: a roster written with
//! the wrong kind of ids strips nobody, and an operator who has read the dry run lets
//! exactly that plan through once with `--allow-revocations`.

mod common;

use common::{Community, HubEntry, RosterBuilder};
use serde_json::Value;
use std::collections::BTreeSet;

#[tokio::test]
async fn a_roster_with_the_wrong_ids_strips_nobody_until_a_reviewed_plan_is_allowed() {
    let hub = common::start_hub();
    let dir = tempfile::tempdir().unwrap();
    // A hub that logs in by email, with three admins and an ordinary user.
    let real = ["floor-ada@uni.edu", "floor-bo@uni.edu", "floor-cy@uni.edu"];
    hub.create_users(&real, true).await;
    hub.create_users(&["floor-zed@uni.edu"], false).await;
    let before = hub.users().await;
    // The same people by GitHub handle: the wrong kind of ids for this hub. The limits
    // by count and share are as loose as they go: the floor still holds.
    let roster = RosterBuilder::new()
        .defaults("max_revocations", 100)
        .defaults("max_revocation_share", 1)
        .community(
            Community::new("floor")
                .rep("floor-ada-gh")
                .admin("floor-bo-gh", "floor-ada-gh")
                .admin("floor-cy-gh", "floor-ada-gh")
                .hub(HubEntry::new("floor-hub", &hub.api_url, "TOK").policy("enforce")),
        )
        .write(dir.path());
    let roster = roster.to_str().unwrap();
    let env = [("TOK", hub.admin_sync_token.as_str())];

    // The dry run says what would hold, and exits 2 (drift).
    let out = common::run(&["-c", roster, "--dry-run", "--output", "json"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", common::show(&out));
    let report = common::report(&out);
    assert_eq!(
        report["hubs"][0]["brake"]["limit"], "every_admin",
        "{report}"
    );
    assert_eq!(report["hubs"][0]["brake"]["revocations"], 3, "{report}");
    // The dry run names the hub's authenticator (GET /info, which the admin token
    // may read); a token that may only list users leaves it unknown.
    assert_eq!(
        report["hubs"][0]["authenticator"]["class"], "jupyterhub.auth.DummyAuthenticator",
        "{report}"
    );
    let out = common::run(
        &["-c", roster, "--dry-run", "--output", "json"],
        &[("TOK", hub.auditor_token.as_str())],
    );
    assert_eq!(out.status.code(), Some(2), "{}", common::show(&out));
    assert_eq!(
        common::report(&out)["hubs"][0]["authenticator"],
        Value::Null
    );

    // Enforce: nobody revoked, no look-alike created, exit 1, and the report says why.
    for _ in 0..2 {
        let out = common::run(&["-c", roster, "--once", "--output", "json"], &env);
        assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));
        let report = common::report(&out);
        let h = &report["hubs"][0];
        assert_eq!(h["status"], "error", "{report}");
        assert_eq!(h["error_kind"], "brake", "{report}");
        assert_eq!(h["brake"]["limit"], "every_admin", "{report}");
        assert_eq!(h["brake"]["allowed"], 2, "{report}");
        let error = h["error"].as_str().unwrap();
        assert!(error.contains("wrong roster"), "{error}");
        assert!(
            error.contains("--allow-revocations floor-hub=3"),
            "the error says how to let it through: {error}"
        );
        assert!(
            common::changes(&report, "floor-hub")
                .iter()
                .all(|(_, _, applied)| !applied)
        );
        assert_eq!(hub.users().await, before, "the hub changed");
    }
    // The text report says the same to a person.
    let out = common::run(&["-c", roster, "--once"], &env);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error: 3 revocations would leave the hub without any of its 3 admins"),
        "{text}"
    );

    // A reviewed plan of 2 revocations does not let 3 through.
    let out = common::run(
        &[
            "-c",
            roster,
            "--once",
            "--allow-revocations",
            "floor-hub=2",
            "--output",
            "json",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));
    let report = common::report(&out);
    assert_eq!(report["hubs"][0]["brake"]["limit"], "allow_revocations");
    assert_eq!(hub.users().await, before, "the hub changed");
    // --allow-revocations needs --once.
    let out = common::run(
        &[
            "-c",
            roster,
            "--dry-run",
            "--allow-revocations",
            "floor-hub=3",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));

    // The reviewed plan, exactly: 3 revocations, made once.
    let out = common::run(
        &[
            "-c",
            roster,
            "--once",
            "--allow-revocations",
            "floor-hub=3",
            "--output",
            "json",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
    let admins = hub.admins().await;
    let expected: BTreeSet<String> = ["floor-ada-gh", "floor-bo-gh", "floor-cy-gh"]
        .map(String::from)
        .into();
    assert_eq!(admins, expected);
    let after = hub.users().await;
    for name in before.keys() {
        assert!(after.contains_key(name), "{name} was deleted");
    }
    // The allowance was for that run only: the next is in sync without it.
    let out = common::run(&["-c", roster, "--once"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
}

#[tokio::test]
async fn more_than_half_of_the_admins_holds_but_one_stray_admin_goes() {
    let hub = common::start_hub();
    let dir = tempfile::tempdir().unwrap();
    hub.create_users(&["half-rep"], true).await;
    hub.create_users(&["half-x1", "half-x2"], true).await;
    let env = [("TOK", hub.admin_sync_token.as_str())];
    let roster = RosterBuilder::one_hub(
        "half",
        "half-rep",
        HubEntry::new("hhub", &hub.api_url, "TOK"),
    )
    .write(dir.path());
    let roster = roster.to_str().unwrap();
    // 2 of 3 admins: more than the default share of 0.5.
    let out = common::run(&["-c", roster, "--once", "--output", "json"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));
    let report = common::report(&out);
    let h = &report["hubs"][0];
    assert_eq!(h["brake"]["limit"], "max_revocation_share", "{report}");
    assert_eq!(
        (&h["brake"]["allowed"], &h["max_revocation_share"]),
        (&Value::from(1), &Value::from(0.5))
    );
    assert!(
        h["error"]
            .as_str()
            .unwrap()
            .contains("exceed max_revocation_share 0.5 of the hub's 3 admins (at most 1) by 1"),
        "{report}"
    );
    assert_eq!(hub.admins().await.len(), 3);
    // One stray admin (granted in the UI, say) is always revocable.
    hub.set_admin("half-x2", false).await;
    let out = common::run(&["-c", roster, "--once", "--output", "json"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
    let admins = hub.admins().await;
    assert!(
        admins.contains("half-rep") && !admins.contains("half-x1"),
        "{admins:?}"
    );
}
