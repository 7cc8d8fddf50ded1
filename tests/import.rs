//! `import`: roster fragments from Zero to JupyterHub values (fixtures in
//! `tests/fixtures/z2jh/`), and the round trip values → fragment → filled in →
//! `--dry-run` against a real hub configured from the same values.
//!
//! The round trip starts a private hub: its admins come from `admin_users`, so it must not
//! share a hub with other tests.

mod common;

use common::{assert_exit, run, show, stderr, stdout};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Output;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/z2jh")
        .join(name)
        .display()
        .to_string()
}

/// `import --z2jh-values` followed by `args`, with no environment of its own.
fn import(args: &[&str]) -> Output {
    run(&[&["import", "--z2jh-values"], args].concat(), &[])
}

/// The fragment on stdout as a JSON value (comments dropped).
fn fragment(out: &Output) -> Value {
    jupyterhub_admin_sync::yaml::value_from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("the fragment is not YAML: {e}\n{}", show(out)))
}

fn hub_of(fragment: &Value) -> &Value {
    &fragment["communities"][0]["hubs"][0]
}

fn admin_names(fragment: &Value) -> Vec<String> {
    hub_of(fragment)["administrators"]
        .as_array()
        .expect("administrators")
        .iter()
        .map(|a| a["name"].as_str().expect("name").to_string())
        .collect()
}

/// What `prod.yaml` on top of `common.yaml` says, as a person reads it: the
/// GitHubOAuthenticator list of prod.yaml (the class in use), spelled as written.
const PROD_ADMIN_USERS: &str = "imp-Rep-Ann,imp-bob,IMP-Carol,imp-carol";

#[test]
fn values_round_trip_to_a_dry_run_in_sync_with_a_real_hub() {
    let hub = common::start_hub_with_env(&[("HUB_ADMIN_USERS", PROD_ADMIN_USERS)]);
    let dir = tempfile::tempdir().unwrap();

    let out = import(&[
        &fixture("common.yaml"),
        &fixture("prod.yaml"),
        "--hub-name",
        "imp-prod",
        "--community",
        "imp-community",
        "--api-url",
        &hub.api_url,
        "--token-env",
        "IMP_PROD_TOKEN",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "# Admins of hub imp-prod from Zero to JupyterHub values {}, {} \
             (basehub.jupyterhub.hub.config.GitHubOAuthenticator.admin_users): 3 admins.\n",
            fixture("common.yaml"),
            fixture("prod.yaml")
        )),
        "{text}"
    );
    assert!(
        text.contains("# The z2jh values are at basehub.jupyterhub (found:"),
        "{text}"
    );
    assert!(
        text.contains(
            "# note: basehub.jupyterhub.hub.config.Authenticator.admin_users is overridden"
        ),
        "{text}"
    );
    let mut fragment = fragment(&out);
    // Spelled as written, sorted and de-duplicated ignoring case.
    assert_eq!(
        admin_names(&fragment),
        ["imp-bob", "IMP-Carol", "imp-Rep-Ann"]
    );
    assert_eq!(hub_of(&fragment)["policy"], "report");
    assert!(
        hub_of(&fragment)["administrators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["added_by"] == "FILL-IN")
    );

    let token_env = [("IMP_PROD_TOKEN", hub.auditor_token.as_str())];
    // As printed, the fragment does not validate: no representative, FILL-IN.
    let raw = common::write_file(dir.path(), "raw.yaml", &text);
    let out = common::run_roster(&raw, &["--validate"], &token_env);
    assert_exit(&out, 1);
    common::assert_stderr_contains(&out, "added_by is still the placeholder");
    common::assert_stderr_contains(&out, "has no representative");

    // A person fills it in: the first admin becomes the representative and added
    // everyone else.
    let community = &mut fragment["communities"][0];
    let admins = community["hubs"][0]["administrators"]
        .as_array_mut()
        .unwrap();
    let first = admins.remove(0);
    let rep = first["name"].as_str().unwrap().to_string();
    for admin in admins.iter_mut() {
        admin["added_by"] = json!(rep);
    }
    community["representatives"] = json!([{ "name": rep }]);
    // JSON is YAML.
    let filled = common::write_file(dir.path(), "filled.yaml", &fragment.to_string());

    assert_exit(&common::run_roster(&filled, &["--validate"], &token_env), 0);

    let out = common::run_roster(&filled, &["--dry-run", "--output", "json"], &token_env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\nhub log:\n{}",
        show(&out),
        hub.log_tail(30)
    );
    let report = common::report(&out);
    let hub_report = &report["hubs"][0];
    assert_eq!(hub_report["name"], "imp-prod", "{report}");
    assert_eq!(hub_report["status"], "in_sync", "{report}");
    assert_eq!(hub_report["declared"], 3, "{report}");
}

#[test]
fn warns_when_the_authenticator_controls_admin() {
    let out = import(&[&fixture("admin-groups.yaml")]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains(
            "warning: jupyterhub.hub.config.GenericOAuthenticator.admin_groups is set: the authenticator grants and revokes admin"
        ),
        "{}",
        show(&out)
    );
    assert!(
        err.contains("warning: jupyterhub.hub.config.GenericOAuthenticator.manage_roles is true"),
        "{}",
        show(&out)
    );
    let text = stdout(&out);
    assert_eq!(text.matches("# warning: ").count(), 2, "{text}");
    let fragment = fragment(&out);
    assert_eq!(admin_names(&fragment), ["imp-dana"]);
    // Defaults: the file's stem, the in-cluster address, placeholders.
    assert_eq!(hub_of(&fragment)["name"], "admin-groups");
    assert_eq!(hub_of(&fragment)["api_url"], "http://hub:8081/hub/api");
    assert_eq!(hub_of(&fragment)["token_env"], "CHANGE_ME_TOKEN");
    assert_eq!(fragment["communities"][0]["name"], "CHANGE-ME");
}

/// A hub that keeps its admins in `hub.loadRoles`: the admin role's users are imported,
/// its groups named (their members cannot be known from values), a role with admin
/// scopes is named as a candidate for `admin_roles`, and import says where it found
/// each, in the fragment and on stderr.
#[test]
fn reads_load_roles_and_says_what_it_found() {
    let out = import(&[&fixture("load-roles.yaml"), "--hub-name", "campus"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "# Admins of hub campus from Zero to JupyterHub values "
        ) && text.lines().next().unwrap().ends_with(
            "(jupyterhub.hub.loadRoles.admin.users, jupyterhub.hub.loadRoles.admin.groups): 2 admins."
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "# The hub's admins also include the members of group imp-hub-admins (the admin \
             role's groups),\n# whom values cannot name: the sync reads them from the hub.\n"
        ),
        "{text}"
    );
    let err = stderr(&out);
    for warning in [
        "warning: jupyterhub.hub.loadRoles.admin.users is the hub's exact admin list at every start:",
        "warning: jupyterhub.hub.loadRoles.admin.groups names group imp-hub-admins: its members are \
         admins of the hub too, but values cannot say who they are (the sync reads them from the \
         hub); declare them in the roster, or an enforcing run takes them out of the group\n",
        "warning: jupyterhub.hub.loadRoles.course-staff (role course-staff, held by group imp-tas) \
         has scopes admin:users, admin:groups: it may give admin rights; if it does, name it in \
         the roster (the hub's admin_roles: [course-staff]) so that its holders count as admins\n",
    ] {
        assert!(err.contains(warning), "{warning}\n{}", show(&out));
    }
    assert!(
        !err.contains("auditor"),
        "a role without admin scopes is not named: {err}"
    );
    assert_eq!(err.matches("warning: ").count(), 3, "{}", show(&out));
    assert_eq!(text.matches("# warning: ").count(), 3, "{text}");
    let campus = fragment(&out);
    assert_eq!(admin_names(&campus), ["imp-Eli", "imp-fay"]);
    assert_eq!(
        hub_of(&campus).get("admin_roles"),
        None,
        "a candidate role is suggested, never written"
    );

    // With admin_users too: every source named, each person once, and the list the hub
    // rewrites at every start.
    let out = import(&[
        &fixture("load-roles.yaml"),
        &fixture("load-roles-admin-users.yaml"),
        "--hub-name",
        "campus",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.lines().next().unwrap().ends_with(
            "(jupyterhub.hub.config.GitHubOAuthenticator.admin_users, \
             jupyterhub.hub.loadRoles.admin.users, jupyterhub.hub.loadRoles.admin.groups): 3 admins."
        ),
        "{text}"
    );
    assert_eq!(
        admin_names(&fragment(&out)),
        ["imp-Eli", "imp-Fay", "imp-hal"]
    );
    common::assert_stderr_contains(
        &out,
        "warning: jupyterhub.hub.config.GitHubOAuthenticator.admin_users and the admin role \
         jupyterhub.hub.loadRoles.admin are both set: the hub merges admin_users into the role's \
         users and applies that list exactly at every start",
    );
}

#[test]
fn prefix_given_and_errors_in_the_users_terms() {
    // --prefix names where the values are.
    let out = import(&[&fixture("admin-groups.yaml"), "--prefix", "jupyterhub"]);
    assert_exit(&out, 0);
    common::assert_stdout_contains(&out, "# The z2jh values are at jupyterhub (--prefix).\n");

    let groups = fixture("admin-groups.yaml");
    let no_config = fixture("no-hub-config.yaml");
    let not_yaml = fixture("not-yaml.yaml");
    let cases: [(&[&str], String); 5] = [
        (
            &[&groups, "--prefix", "basehub.jupyterhub"],
            format!("error: {groups}: nothing at basehub.jupyterhub (--prefix basehub.jupyterhub)"),
        ),
        (
            &[&groups, &no_config, "--prefix", "jupyterhub.hub"],
            format!(
                "error: {groups}, {no_config}: nothing at jupyterhub.hub.hub.config or \
                 jupyterhub.hub.hub.loadRoles (--prefix jupyterhub.hub)"
            ),
        ),
        (
            &[&no_config],
            format!(
                "error: {no_config}: no Zero to JupyterHub values found: none of the root, \
                 jupyterhub, basehub.jupyterhub has hub.config or hub.loadRoles; give --prefix \
                 KEY.PATH"
            ),
        ),
        (
            &[&groups, "/nonexistent/values.yaml"],
            "error: cannot read /nonexistent/values.yaml: ".to_string(),
        ),
        (&[&not_yaml], format!("error: {not_yaml} is not YAML: ")),
    ];
    for (i, (extra, expected)) in cases.iter().enumerate() {
        let out = import(extra);
        common::assert_case_exit(&format!("case {i}"), &out, 1);
        assert!(stdout(&out).is_empty(), "case {i}: {}", show(&out));
        assert!(
            stderr(&out).starts_with(expected.as_str()),
            "case {i}: wanted {expected:?}\n{}",
            show(&out)
        );
    }
    let out = import(&[&groups, "--api-url", "ftp://hub/hub/api"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).starts_with("error: --api-url "),
        "{}",
        show(&out)
    );
}
