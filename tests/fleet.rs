//! A synthetic fleet shaped like a real managed service (30 clusters, 171 hubs, 8
//! engineers with two ids each who opt out of 19 workshop hubs, a 95-hub program,
//! GitHub handles, emails, ORCID iDs and Auth0 ids in mixed case), written twice by
//! `tests/fixtures/fleet/generate.py`: as each hub's Zero to JupyterHub values, and as
//! a roster directory. The roster must give every hub exactly the admins its values
//! give it, in at most twice the lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use jupyterhub_admin_sync::hub::memory::MemoryHub;
use jupyterhub_admin_sync::reconcile::run_all;
use jupyterhub_admin_sync::report::{Mode, Status};
use jupyterhub_admin_sync::roster::Roster;
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fleet")
}

/// Hub name → (cluster, admin_users as the values spell them).
fn values() -> BTreeMap<String, (String, Vec<String>)> {
    let mut hubs = BTreeMap::new();
    for cluster in std::fs::read_dir(fixture().join("values")).unwrap() {
        let cluster = cluster.unwrap().path();
        for file in std::fs::read_dir(&cluster).unwrap() {
            let file = file.unwrap().path();
            let text = std::fs::read_to_string(&file).unwrap();
            let doc: Value = jupyterhub_admin_sync::yaml::from_str(&text).unwrap();
            let config = doc["jupyterhub"]["hub"]["config"].as_object().unwrap();
            assert_eq!(config.len(), 1, "{}", file.display());
            let (_, section) = config.iter().next().unwrap();
            let admins = section["admin_users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let name = file.file_stem().unwrap().to_string_lossy().into_owned();
            let cluster = cluster.file_name().unwrap().to_string_lossy().into_owned();
            hubs.insert(name, (cluster, admins));
        }
    }
    hubs
}

fn lines(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            n += lines(&path);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            n += std::fs::read_to_string(&path).unwrap().lines().count();
        }
    }
    n
}

fn load() -> Roster {
    let env = |var: &str| (var == "FLEET_TOKEN").then(|| "fleet-fixture-token-0123".to_string());
    Roster::load_with(&fixture().join("roster"), &env, &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_fixture_has_the_shape_of_the_real_fleet() {
    let values = values();
    let roster = load();
    assert_eq!(values.len(), 171);
    assert_eq!(roster.hubs.len(), 171);
    let clusters: BTreeSet<&String> = values.values().map(|(c, _)| c).collect();
    assert_eq!(clusters.len(), 30);
    assert_eq!(roster.engineers.len(), 8);
    for engineer in &roster.engineers {
        let person = roster.person(engineer).expect("engineers are people");
        assert_eq!(
            person.ids.len(),
            2,
            "{engineer}: a GitHub handle and an email"
        );
    }
    assert_eq!(
        roster.hubs.iter().filter(|h| !h.settings.engineers).count(),
        19
    );
    let program = roster
        .hubs
        .iter()
        .filter(|h| h.community == "state-colleges")
        .count();
    assert_eq!(program, 95);
    let all: Vec<&String> = values.values().flat_map(|(_, a)| a).collect();
    let kinds = [
        ("an email", all.iter().any(|n| n.contains('@'))),
        (
            "an ORCID iD",
            all.iter()
                .any(|n| n.len() == 19 && n.starts_with("0000-000")),
        ),
        (
            "an Auth0 id",
            all.iter().any(|n| n.starts_with("google-oauth2|")),
        ),
        (
            "mixed case",
            all.iter().any(|n| n.chars().any(char::is_uppercase)),
        ),
    ];
    for (kind, found) in kinds {
        assert!(found, "the fleet has {kind}");
    }
    let mut per_hub: Vec<usize> = values.values().map(|(_, a)| a.len()).collect();
    per_hub.sort();
    assert!(
        *per_hub.last().unwrap() <= 15 + 8,
        "at most 15 admins a hub, and the engineers"
    );
}

#[test]
fn the_roster_reproduces_every_hubs_admins_in_at_most_twice_the_lines() {
    let values = values();
    let started = Instant::now();
    let roster = load();
    let took = started.elapsed();
    for (name, (_, admins)) in &values {
        let hub = roster
            .hub(name)
            .unwrap_or_else(|| panic!("hub {name} is in the roster"));
        let declared: BTreeSet<String> = hub.admins.keys().map(|n| n.to_string()).collect();
        let expected: BTreeSet<String> = admins.iter().map(|n| n.to_lowercase()).collect();
        assert_eq!(declared, expected, "hub {name}");
    }
    let (roster_lines, values_lines) = (
        lines(&fixture().join("roster")),
        lines(&fixture().join("values")),
    );
    eprintln!(
        "fleet: 171 hubs; roster {roster_lines} lines, Helm values {values_lines} lines ({:.2}x); loaded and validated in {took:.1?} (debug build)",
        roster_lines as f64 / values_lines as f64
    );
    assert!(
        roster_lines <= 2 * values_lines,
        "{roster_lines} lines of roster for {values_lines} of values"
    );
}

/// A dry run against hubs serving exactly the values' admins (as the values spell
/// them, among other users): every hub is in sync.
#[tokio::test]
async fn a_dry_run_against_hubs_serving_those_admins_is_all_in_sync() {
    let values = values();
    let roster = load();
    let targets: Vec<_> = roster
        .hubs
        .iter()
        .map(|spec| {
            let hub = MemoryHub::new();
            for admin in &values[spec.name.as_str()].1 {
                hub.set_user(admin, true);
            }
            hub.set_user("a-plain-user", false);
            (spec.clone(), hub)
        })
        .collect();
    let report = run_all(&roster, &targets, Mode::DryRun, 8, Default::default()).await;
    let drifting: Vec<String> = report
        .hubs
        .iter()
        .filter(|h| h.status != Status::InSync)
        .map(|h| h.to_string())
        .collect();
    assert!(drifting.is_empty(), "{}", drifting.join(""));
    assert_eq!(report.exit_code(), 0);
}
