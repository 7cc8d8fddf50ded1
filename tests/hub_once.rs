//! The one-shot modes against a real JupyterHub started by the harness.
//!
//! Every test on the shared hub holds `common::exclusive()`: an enforcing run revokes
//! every undeclared admin on the hub, so runs must not overlap. Each test has its own
//! user names and raises `max_revocations` where leftovers of earlier tests may be
//! revoked. A test that needs "in sync" (every admin of the hub declared) starts hubs of
//! its own.

mod common;

use common::{Community, HubEntry, RosterBuilder, assert_exit, exit_report};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

/// The shared hub, held alone (see the module doc), with the users `admins` (admin)
/// and `users` (not admin) created if missing, and a temp dir.
async fn shared_hub(
    admins: &[&str],
    users: &[&str],
) -> (common::Exclusive, &'static common::Hub, tempfile::TempDir) {
    let (guard, hub) = common::exclusive_hub(admins, users).await;
    (guard, hub, tempfile::tempdir().unwrap())
}

fn status(report: &Value, hub: &str) -> String {
    let status = &common::hub_report(report, hub)["status"];
    status.as_str().expect("status").to_string()
}

/// `hub` in a roster as `name`, its token in `$TOK`.
fn entry(hub: &common::Hub, name: &str) -> HubEntry {
    HubEntry::new(name, &hub.api_url, "TOK")
}

/// Runs the binary on `roster` with `args`, `hub`'s admin-sync token in `$TOK`.
fn run_on(hub: &common::Hub, roster: &Path, args: &[&str]) -> Output {
    common::run_roster(roster, args, &[("TOK", &hub.admin_sync_token)])
}

/// `--once --output json` on `roster` against `hub` ([`run_on`]).
fn once_json(hub: &common::Hub, roster: &Path) -> Output {
    run_on(hub, roster, &["--once", "--output", "json"])
}

fn set<const N: usize>(items: [(&str, &str, bool); N]) -> BTreeSet<(String, String, bool)> {
    items
        .iter()
        .map(|(a, u, ap)| (a.to_string(), u.to_string(), *ap))
        .collect()
}

#[tokio::test]
async fn dry_run_then_once_converge_two_hubs_across_pages() {
    let (_guard, a, dir) = shared_hub(&[], &[]).await;
    let b = common::second_hub();

    // Hub A: 250 ordinary users, so the listing has two pages of 200; a declared
    // administrator who is not admin; an undeclared admin created last, so it is on
    // the last page.
    let fillers: Vec<String> = (0..250).map(|i| format!("conv-u{i:03}")).collect();
    let filler_refs: Vec<&str> = fillers.iter().map(String::as_str).collect();
    a.create_users(&filler_refs, false).await;
    a.create_users(&["conv-dave"], false).await;
    a.create_users(&["conv-mallory"], true).await;
    // The representatives are admin already: a roster that would revoke every admin
    // but the engineers is held by the safety floor (tests/floor.rs).
    a.create_users(&["conv-rep"], true).await;
    // Hub B (another community): an undeclared admin next to its representative.
    b.create_users(&["conv-beta-mallory", "conv-beta-rep"], true)
        .await;

    let roster = RosterBuilder::new()
        .engineer("conv-eng")
        .defaults("max_revocations", 100)
        .defaults("max_revocation_share", 1)
        .community(
            Community::new("alpha")
                .rep("conv-rep")
                .admin("conv-carol", "conv-rep")
                .admin("conv-dave", "conv-carol")
                .admin("Conv-Alice@Uni.edu", "conv-eng")
                .hub(HubEntry::new("alpha-hub", &a.api_url, "ALPHA_TOKEN")),
        )
        .community(
            Community::new("beta")
                .rep("conv-beta-rep")
                .hub(HubEntry::new(
                    "beta-hub",
                    &format!("{}/", b.api_url),
                    "BETA_TOKEN",
                )),
        )
        .write(dir.path());
    let env = [
        ("ALPHA_TOKEN", a.admin_sync_token.as_str()),
        ("BETA_TOKEN", b.admin_sync_token.as_str()),
    ];
    let run = |args: &[&str]| common::run_roster(&roster, args, &env);
    let a_before = a.users().await;
    let b_before = b.users().await;
    assert!(a_before.len() > 200, "hub A must need more than one page");

    // --dry-run: reports every difference, changes nothing, exits 2.
    let report = exit_report(&run(&["--dry-run", "--output", "json"]), 2);
    assert_eq!(report["mode"], "dry-run");
    let a_changes = common::changes(&report, "alpha-hub");
    for expected in [
        ("create", "conv-eng"),
        ("create", "conv-carol"),
        ("create", "conv-alice@uni.edu"),
        ("grant", "conv-dave"),
        ("revoke", "conv-mallory"),
    ] {
        assert!(
            a_changes.contains(&(expected.0.to_string(), expected.1.to_string(), false)),
            "missing {expected:?} in {a_changes:?}"
        );
    }
    assert_eq!(
        common::changes(&report, "beta-hub"),
        set([
            ("create", "conv-eng", false),
            ("revoke", "conv-beta-mallory", false)
        ])
    );
    assert_eq!(a.users().await, a_before, "dry run changed hub A");
    assert_eq!(b.users().await, b_before, "dry run changed hub B");

    // --once: converges, exits 0, deletes nobody.
    let report = exit_report(&run(&["--once", "--output", "json"]), 0);
    assert_eq!(status(&report, "alpha-hub"), "changed");
    assert_eq!(status(&report, "beta-hub"), "changed");
    let a_after = a.users().await;
    for name in a_before.keys() {
        assert!(a_after.contains_key(name), "{name} was deleted from hub A");
    }
    let a_admins = a.admins().await;
    for name in [
        "conv-eng",
        "conv-rep",
        "conv-carol",
        "conv-dave",
        "conv-alice@uni.edu",
    ] {
        assert!(
            a_admins.contains(name),
            "{name} is not admin on hub A: {a_admins:?}"
        );
    }
    assert!(!a_admins.contains("conv-mallory"));
    assert_eq!(
        a_after.get("conv-mallory"),
        Some(&false),
        "mallory must stay a user"
    );
    assert!(!a_after["conv-u249"], "ordinary users stay ordinary");
    let b_admins = b.admins().await;
    assert!(b_admins.contains("conv-beta-rep") && b_admins.contains("conv-eng"));
    assert!(!b_admins.contains("conv-beta-mallory"));
    assert!(
        !b_admins.contains("conv-carol"),
        "alpha's administrators stay off beta"
    );
    for name in b_before.keys() {
        assert!(
            b.users().await.contains_key(name),
            "{name} was deleted from hub B"
        );
    }

    // A second --once changes nothing; a dry run agrees.
    let report = exit_report(&run(&["--once", "--output", "json"]), 0);
    for hub in ["alpha-hub", "beta-hub"] {
        assert_eq!(status(&report, hub), "in_sync", "{report}");
        assert!(common::changes(&report, hub).is_empty());
    }
    assert_eq!(a.users().await, a_after);
    assert_exit(&run(&["--dry-run"]), 0);
}

#[tokio::test]
async fn applied_changes_are_logged_with_who_added_whom() {
    let (_guard, a, dir) = shared_hub(&[], &["log-dave"]).await;
    let roster = RosterBuilder::one_hub("logc", "log-rep", entry(a, "loghub"))
        .admin("log-dave", "log-rep")
        .defaults("policy", "grant")
        .write(dir.path());
    let out = run_on(a, &roster, &["--once", "--log-format", "json"]);
    let stderr = common::stderr(&out);
    let lines = common::json_lines(&stderr);
    let granted = common::find_line(
        &lines,
        &[("message", "granted admin"), ("user", "log-dave")],
    )
    .unwrap_or_else(|| panic!("no grant logged:\n{stderr}"));
    assert_eq!(granted["hub"], "loghub");
    assert_eq!(granted["added_by"], "log-rep");
    assert_eq!(granted["community"], "logc");
    assert_eq!(granted["level"], "INFO");
    let created = [("message", "created admin"), ("user", "log-rep")];
    assert!(common::find_line(&lines, &created).is_some(), "{stderr}");
}

#[tokio::test]
async fn policy_grant_leaves_undeclared_admins_and_exits_2() {
    let (_guard, a, dir) = shared_hub(&["grant-intruder"], &["grant-dave"]).await;
    let roster = RosterBuilder::one_hub("g", "grant-rep", entry(a, "ghub").policy("grant"))
        .admin("grant-dave", "grant-rep")
        .write(dir.path());
    let report = exit_report(&once_json(a, &roster), 2);
    assert_eq!(status(&report, "ghub"), "drift");
    let c = common::changes(&report, "ghub");
    assert!(
        c.contains(&("grant".into(), "grant-dave".into(), true)),
        "{c:?}"
    );
    assert!(
        c.contains(&("revoke".into(), "grant-intruder".into(), false)),
        "{c:?}"
    );
    let admins = a.admins().await;
    assert!(
        admins.contains("grant-intruder"),
        "policy grant must not revoke"
    );
    assert!(admins.contains("grant-dave") && admins.contains("grant-rep"));
}

#[tokio::test]
async fn the_brake_holds_every_revocation_but_grants_apply() {
    let (_guard, a, dir) = shared_hub(&[], &[]).await;
    // Whatever admins earlier tests left are undeclared here too: count them in.
    a.create_users(&["brake-x1", "brake-x2"], true).await;
    a.create_users(&["brake-dave"], false).await;
    // The representative is admin, so the revocations do not take every admin.
    a.create_users(&["brake-rep"], true).await;
    let before = a.admins().await;
    let roster =
        RosterBuilder::one_hub("b", "brake-rep", entry(a, "bhub").set("max_revocations", 1))
            .admin("brake-dave", "brake-rep")
            .write(dir.path());
    let report = exit_report(&once_json(a, &roster), 1);
    assert_eq!(status(&report, "bhub"), "error");
    let hub = &report["hubs"][0];
    assert_eq!(hub["error_kind"], "brake");
    assert!(
        hub["error"]
            .as_str()
            .unwrap()
            .contains("exceed max_revocations 1")
    );
    let after = a.admins().await;
    for name in &before {
        assert!(after.contains(name), "{name} was revoked despite the brake");
    }
    assert!(after.contains("brake-dave") && after.contains("brake-rep"));
}

#[tokio::test]
async fn wrong_token_fails_changes_nothing_and_never_prints_the_token() {
    let (_guard, a, dir) = shared_hub(&["wrong-intruder"], &[]).await;
    let before = a.users().await;
    let roster = RosterBuilder::one_hub("w", "wrong-rep", entry(a, "whub")).write(dir.path());
    let secret = "not-the-token-0123456789abcdef";
    for mode in ["--dry-run", "--once"] {
        for output in ["text", "json"] {
            let args = [mode, "--output", output, "--log-format", output];
            let out = common::run_roster(&roster, &args, &[("TOK", secret), ("RUST_LOG", "trace")]);
            let all = common::output_text(&out);
            assert_eq!(out.status.code(), Some(1), "{all}");
            assert!(all.contains("403"), "{all}");
            assert!(!all.contains(secret), "the token leaked:\n{all}");
        }
    }
    assert_eq!(a.users().await, before);
}

#[tokio::test]
async fn unreachable_hub_fails_alone_and_the_other_converges() {
    let (_guard, a, dir) = shared_hub(&[], &[]).await;
    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/hub/api", dead.local_addr().unwrap());
    drop(dead);
    // Its representative is admin already, next to an intruder to revoke.
    a.create_users(&["up-rep", "up-intruder"], true).await;
    let roster = RosterBuilder::one_hub(
        "down",
        "down-rep",
        HubEntry::new("dead-hub", &dead_url, "TOK"),
    )
    .defaults("max_revocations", 100)
    .defaults("max_revocation_share", 1)
    .community(Community::new("up").rep("up-rep").hub(entry(a, "live-hub")))
    .write(dir.path());
    let out = run_on(
        a,
        &roster,
        &["--once", "--output", "json", "--max-attempts", "2"],
    );
    let report = exit_report(&out, 1);
    assert_eq!(status(&report, "dead-hub"), "error");
    let dead_hub = common::hub_report(&report, "dead-hub");
    assert!(
        dead_hub["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{dead_hub}"
    );
    assert!(dead_hub["changes"].as_array().unwrap().is_empty());
    assert_eq!(status(&report, "live-hub"), "changed");
    let admins = a.admins().await;
    assert!(admins.contains("up-rep") && !admins.contains("up-intruder"));
    assert!(!common::stderr(&out).contains(&a.admin_sync_token));
}

#[tokio::test]
async fn bad_roster_exits_1_names_the_problem_and_changes_nothing() {
    let (_guard, a, dir) = shared_hub(&["bad-intruder"], &[]).await;
    let before = a.users().await;
    let crowded = RosterBuilder::new().community(
        Community::new("crowded")
            .rep("r1")
            .rep("r2")
            .rep("r3")
            .admin("x", "nobody")
            .hub(entry(a, "h")),
    );
    let roster = common::write_file(dir.path(), "bad-roster.yaml", &crowded.yaml());
    for mode in ["--once", "--dry-run", "--validate"] {
        let out = run_on(a, &roster, &[mode]);
        assert_exit(&out, 1);
        for problem in [
            "bad-roster.yaml",
            "community crowded: has 3 representatives (r1, r2, r3)",
            "administrator x: added_by nobody",
        ] {
            common::assert_stderr_contains(&out, problem);
        }
        assert!(out.stdout.is_empty(), "{mode}: {}", common::show(&out));
    }
    assert_eq!(a.users().await, before);
}

#[tokio::test]
async fn list_users_token_is_enough_for_a_dry_run_but_not_to_sync() {
    let (_guard, a, dir) = shared_hub(&[], &["audit-dave"]).await;
    let before = a.users().await;
    let roster = RosterBuilder::one_hub("au", "audit-dave", entry(a, "ahub")).write(dir.path());
    let run = |args: &[&str]| common::run_roster(&roster, args, &[("TOK", &a.auditor_token)]);
    let report = exit_report(&run(&["--dry-run", "--output", "json"]), 2);
    let grant = ("grant".into(), "audit-dave".into(), false);
    assert!(
        common::changes(&report, "ahub").contains(&grant),
        "{report}"
    );

    let out = run(&["--once"]);
    assert_exit(&out, 1);
    common::assert_output_contains(&out, "not an admin");
    assert_eq!(a.users().await, before);
}

#[tokio::test]
async fn a_user_created_with_capitals_is_matched_in_normal_form() {
    let (_guard, a, dir) = shared_hub(&[], &[]).await;
    // POST /users/{name} keeps the case; the roster says "case-frank".
    a.create_user("Case-Frank").await;
    let roster = RosterBuilder::one_hub("cs", "case-frank", entry(a, "chub"))
        .defaults("policy", "grant")
        .write(dir.path());
    let out = once_json(a, &roster);
    let report = common::report(&out);
    let c = common::changes(&report, "chub");
    assert!(
        c.contains(&("grant".into(), "Case-Frank".into(), true)),
        "the report names the user as the hub spells them: {c:?}\n{}",
        common::output_text(&out)
    );
    let users = a.users().await;
    assert_eq!(
        users.get("Case-Frank"),
        Some(&true),
        "the hub's own spelling is granted"
    );
    assert!(
        !users.contains_key("case-frank"),
        "no second user is created"
    );
}

#[tokio::test]
async fn dry_run_warns_when_every_admin_would_be_revoked_or_the_brake_would_hold() {
    let (_guard, a, dir) = shared_hub(&["warn-old-admin"], &[]).await;
    // A roster whose people are none of the hub's admins (say, the wrong hub).
    let roster = RosterBuilder::one_hub(
        "wc",
        "warn-newcomer",
        entry(a, "whub").set("max_revocations", 0),
    )
    .write(dir.path());
    // A warning does not fail the dry run.
    let out = run_on(a, &roster, &["--dry-run", "--output", "json"]);
    let report = exit_report(&out, 2);
    let warnings: Vec<&str> = report["hubs"][0]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("every admin the hub has now")),
        "{warnings:?}"
    );
    // The floor's first limit that holds is named, with what an enforcing run does.
    assert!(
        warnings.iter().any(|w| w.contains("wrong roster")
            && w.ends_with("an enforcing run would revoke none and report an error")),
        "{warnings:?}"
    );
    assert_eq!(
        report["hubs"][0]["brake"]["limit"], "every_admin",
        "{report}"
    );
    common::assert_stderr_contains(&out, "WARN");
}

/// `dump` with `args`, which must succeed: the fragment.
fn dump(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = common::run(&[&["dump"], args].concat(), env);
    assert_exit(&out, 0);
    common::stdout(&out)
}

/// `dump --config ROSTER --hub HUB`, which must succeed: the fragment.
fn dump_roster(roster: &Path, hub: &str, env: &[(&str, &str)]) -> String {
    dump(&["--config", roster.to_str().unwrap(), "--hub", hub], env)
}

/// The `added_by` the fragment gives administrator `name`.
fn added_by(fragment: &str, name: &str) -> String {
    let doc: Value = jupyterhub_admin_sync::yaml::from_str(fragment).expect("the fragment is YAML");
    doc["communities"][0]["administrators"]
        .as_array()
        .expect("administrators")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the fragment"))["added_by"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn dump_writes_a_fragment_that_names_unknown_admins_for_a_person_to_fill_in() {
    let (_guard, a, dir) = shared_hub(&["dump-known", "dump-stranger"], &[]).await;
    let env = [("TOK", a.admin_sync_token.as_str())];

    // Straight from the hub.
    let fragment = dump(&["--api-url", &a.api_url, "--token-env", "TOK"], &env);
    assert_eq!(
        added_by(&fragment, "dump-stranger"),
        "FILL-IN",
        "{fragment}"
    );
    assert!(fragment.contains("policy: report"), "{fragment}");
    assert!(!fragment.contains(&a.admin_sync_token));

    // From a roster that knows one of them: it keeps its added_by.
    let roster = RosterBuilder::one_hub("dc", "dump-rep", entry(a, "dhub"))
        .admin("dump-known", "dump-rep")
        .write(dir.path());
    let fragment = dump_roster(&roster, "dhub", &env);
    assert_eq!(added_by(&fragment, "dump-known"), "dump-rep", "{fragment}");
    assert_eq!(
        added_by(&fragment, "dump-stranger"),
        "FILL-IN",
        "{fragment}"
    );

    // The fragment as written is refused until a person fills in the placeholder.
    let dumped = common::write_file(dir.path(), "dumped.yaml", &fragment);
    let out = common::run_roster(&dumped, &["--validate"], &env);
    assert_exit(&out, 1);
    common::assert_output_contains(
        &out,
        "administrator dump-stranger: added_by is still the placeholder written by `dump`",
    );
}

#[test]
fn an_unknown_hub_name_is_an_error_in_every_mode_and_case_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    // Two unreachable hubs (two ports: one hub may not be listed twice).
    let roster = RosterBuilder::new()
        .community(
            Community::new("c")
                .rep("r")
                .hub(HubEntry::new(
                    "Climate-Prod",
                    "http://127.0.0.1:9/hub/api",
                    "TOK",
                ))
                .hub(HubEntry::new(
                    "other",
                    "http://127.0.0.1:10/hub/api",
                    "OTHER_TOKEN_NOT_SET",
                )),
        )
        .write(dir.path());
    let roster = roster.to_str().unwrap();
    let env = [("TOK", "token-0123456789")];
    for mode in [&["--validate"][..], &["--dry-run"], &[]] {
        let mut args = vec!["-c", roster, "--hub", "nope"];
        args.extend_from_slice(mode);
        let out = common::run(&args, &env);
        let text = common::output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{mode:?}: {text}");
        assert!(
            text.contains("hub nope: is named with --hub but the roster has no such hub (hubs: Climate-Prod, other)"),
            "{mode:?}: {text}"
        );
    }
    // A shard names its hub in any case and needs only that hub's token.
    let out = common::run(&["-c", roster, "--hub", "climate-prod", "--validate"], &env);
    assert_exit(&out, 0);
}

/// People known by an id: a run creates them under the id, the report and the audit
/// name both, and `dump` names them as the roster's people.
#[tokio::test]
async fn people_are_synced_by_their_id_and_named_as_people() {
    let (_guard, a, dir) = shared_hub(&[], &[]).await;
    let env = [("TOK", a.admin_sync_token.as_str())];
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &format!(
            "people:\n  - {{name: ppl-ada, ids: {{github: PplAda-GH, email: ppl-ada@example.org}}}}\ndefaults: {{login: github, policy: grant}}\ncommunities:\n  - name: ppl\n    representatives: [{{name: ppl-ada}}]\n    hubs: [{{name: pplhub, api_url: '{}', token_env: TOK}}]\n",
            a.api_url
        ),
    );
    let audit = dir.path().join("audit.jsonl");
    let audit_log = ["--audit-log", audit.to_str().unwrap()];
    let out = run_on(
        a,
        &roster,
        &[&["--once", "--output", "json"][..], &audit_log].concat(),
    );
    // Exit 2 when admins that earlier tests left (which the safety floor may have kept)
    // stay as drift under policy grant.
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        common::output_text(&out)
    );
    let report = common::report(&out);
    let change = &report["hubs"][0]["changes"][0];
    assert_eq!(change["user"], "pplada-gh", "{report}");
    assert_eq!(change["applied"], true, "{report}");
    assert_eq!(change["person"], "ppl-ada", "{report}");
    assert_eq!(a.users().await.get("pplada-gh"), Some(&true));
    let lines = common::json_lines(&std::fs::read_to_string(&audit).unwrap());
    let line = common::find_line(&lines, &[("event", "applied")]).expect("an applied line");
    assert_eq!(
        (&line["user"], &line["person"]),
        (&Value::from("pplada-gh"), &Value::from("ppl-ada"))
    );

    let fragment = dump_roster(&roster, "pplhub", &env);
    assert!(fragment.contains("pplada-gh is ppl-ada"), "{fragment}");
    let doc: Value = jupyterhub_admin_sync::yaml::from_str(&fragment).unwrap();
    assert_eq!(
        doc["communities"][0]["representatives"][0]["name"], "ppl-ada",
        "{fragment}"
    );
}

/// A real fleet's roster: engineer `fl-eng` is also an administrator of a community whose
/// hub sets `engineers: false`. It validates without a warning; a dry run names the role
/// that applies on each hub (the administrator added by the representative where the
/// engineers are not declared, an engineer where they are); once `fl-eng` is admin on
/// both hubs, a dry run is in sync (exit 0), and `dump` names the same roles.
#[tokio::test]
async fn an_engineer_who_is_also_an_administrator_is_in_sync_on_hubs_that_hold_them() {
    // Hubs of its own: "in sync" needs every admin of the hub declared.
    let (college, ops) = std::thread::scope(|s| {
        let college = s.spawn(common::start_hub);
        let ops = s.spawn(common::start_hub);
        (college.join().unwrap(), ops.join().unwrap())
    });
    college.create_users(&["fl-coord"], true).await;
    ops.create_users(&["fl-ops-rep"], true).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = RosterBuilder::new()
        .engineer("fl-eng")
        .community(
            Community::new("fl-colleges")
                .rep("fl-coord")
                .admin("fl-eng", "fl-coord")
                .hub(
                    HubEntry::new("fl-college", &college.api_url, "COLLEGE_TOKEN")
                        .set("engineers", false),
                ),
        )
        .community(
            Community::new("fl-ops")
                .rep("fl-ops-rep")
                .hub(HubEntry::new("fl-ops-hub", &ops.api_url, "OPS_TOKEN")),
        )
        .write(dir.path());
    let env = [
        ("COLLEGE_TOKEN", college.admin_sync_token.as_str()),
        ("OPS_TOKEN", ops.admin_sync_token.as_str()),
    ];
    let run = |args: &[&str]| common::run_roster(&roster, args, &env);

    let out = run(&["--validate"]);
    assert_exit(&out, 0);
    assert!(
        !common::output_text(&out).contains("warning"),
        "{}",
        common::show(&out)
    );

    // Not admin anywhere yet: each hub would create them, in the role that applies there.
    let report = exit_report(&run(&["--dry-run", "--output", "json"]), 2);
    // The one change on `hub`: its action, user, role and added_by.
    let change = |hub: &str| {
        let changes = common::hub_report(&report, hub)["changes"].clone();
        assert_eq!(changes.as_array().map(Vec::len), Some(1), "{report}");
        let c = &changes[0];
        json!({
            "action": c["action"], "user": c["user"], "role": c["role"], "added_by": c["added_by"]
        })
    };
    assert_eq!(
        change("fl-college"),
        json!({
            "action": "create", "user": "fl-eng", "role": "administrator", "added_by": "fl-coord"
        }),
        "{report}"
    );
    assert_eq!(
        change("fl-ops-hub"),
        json!({"action": "create", "user": "fl-eng", "role": "engineer", "added_by": null}),
        "{report}"
    );

    // Admin on both hubs: in sync, two declared admins on each.
    college.create_users(&["fl-eng"], true).await;
    ops.create_users(&["fl-eng"], true).await;
    let report = exit_report(&run(&["--dry-run", "--output", "json"]), 0);
    for hub in ["fl-college", "fl-ops-hub"] {
        let h = common::hub_report(&report, hub);
        assert_eq!(h["status"], "in_sync", "{report}");
        assert_eq!(h["declared"], 2, "{report}");
    }
    assert_exit(&run(&["--dry-run"]), 0);

    // dump names the role that applies on each hub: the administrator added by the
    // representative, and an engineer left out (the engineers list covers them).
    let fragment = dump_roster(&roster, "fl-college", &env);
    assert_eq!(added_by(&fragment, "fl-eng"), "fl-coord", "{fragment}");
    let fragment = dump_roster(&roster, "fl-ops-hub", &env);
    assert!(
        fragment.contains("# Engineers are left out") && !fragment.contains("name: fl-eng"),
        "{fragment}"
    );
}
