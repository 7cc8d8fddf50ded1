//! SIGKILL in the middle of a `--once` run of a few hundred creates on a REAL
//! JupyterHub, at three points (once the hub shows 2, 50 and 200 of them, found by
//! polling its user count): every change the hub shows has its intent line, at most the
//! one change in flight has no outcome, and after the next start (a `--once`, or the
//! daemon) every intent has exactly one outcome, which agrees with the hub; each
//! declared admin is applied once, and the chain is intact. CI runs this binary against
//! JupyterHub 6.1.1 and 4.1.6: six kill points in all.

mod common;

use common::audit::Trail;
use common::{Community, Daemon, HubEntry, RosterBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Declared admins past the kill point that each run creates (the representative
/// and administrators): the run of the last point has a few hundred changes, and the
/// whole test stays within about a minute at the ~15 creates a second of a busy
/// 2-core machine.
const PAST_THE_KILL: usize = 20;

/// What starts after the kill.
#[derive(Debug, Clone, Copy)]
enum Next {
    Once,
    Daemon,
}

#[tokio::test]
async fn sigkill_mid_run_leaves_every_change_with_its_intent_and_the_next_start_settles_each() {
    let hub = common::hub();
    for (point, next) in [(2, Next::Once), (50, Next::Daemon), (200, Next::Once)] {
        let started = Instant::now();
        kill_at(hub, point, next).await;
        eprintln!(
            "killed after {point} changes, then {next:?}: {:.1?}",
            started.elapsed()
        );
    }
}

/// The declared admins of kill point `point`, in creation order.
fn names(point: usize) -> Vec<String> {
    (0..point + PAST_THE_KILL)
        .map(|i| format!("kill{point}-{i:03}"))
        .collect()
}

async fn kill_at(hub: &common::Hub, point: usize, next: Next) {
    let dir = tempfile::tempdir().unwrap();
    let names = names(point);
    let roster = RosterBuilder::new()
        .community(
            Community::new(&format!("kill{point}"))
                .rep(&names[0])
                .admins(&names[1..], &names[0])
                .hub(
                    HubEntry::new(&format!("khub{point}"), &hub.api_url, "KTOKEN").policy("grant"),
                ),
        )
        .write(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let env = [("KTOKEN", hub.admin_sync_token.as_str())];

    let made = run_and_kill(hub, &roster, &audit, &env, point).await;
    let mine = |users: BTreeMap<String, bool>| -> BTreeSet<String> {
        users
            .into_iter()
            .filter(|(name, admin)| *admin && names.contains(name))
            .map(|(name, _)| name)
            .collect()
    };
    let made = mine(made);
    let creates = names.len();
    let killed = Trail::read(&audit);
    let intended: BTreeSet<String> = killed.intents().into_values().collect();
    assert!(
        made.len() >= point && made.len() < creates,
        "killed mid-run: {} of {creates} made",
        made.len()
    );
    let unlined: Vec<&String> = made.difference(&intended).collect();
    assert!(
        unlined.is_empty(),
        "on the hub without an intent line: {unlined:?}"
    );
    let unsettled = killed.unsettled();
    eprintln!(
        "kill point {point}: {} made, {} intents, {} without an outcome",
        made.len(),
        intended.len(),
        unsettled.len()
    );
    assert!(
        unsettled.len() <= 1,
        "changes are made one at a time, so at most one is in flight: {unsettled:?}"
    );

    start_again(&roster, dir.path(), &audit, &env, next).await;

    let after = Trail::read(&audit);
    let outcomes = after.outcomes();
    for (id, user) in after.intents() {
        let n = outcomes.get(&id).map_or(0, Vec::len);
        assert_eq!(n, 1, "intent {id} ({user}) has {n} outcomes");
    }
    for id in &unsettled {
        let user = &killed.intents()[id];
        let outcome = outcomes[id][0];
        if made.contains(user) {
            assert_eq!(outcome["event"], "applied", "{outcome}");
            assert_eq!(outcome["note"], "found after a restart", "{outcome}");
        } else {
            assert_eq!(outcome["event"], "not_applied", "{outcome}");
        }
    }
    let mut applied: BTreeMap<String, usize> = BTreeMap::new();
    for line in after.lines.iter().filter(|l| l["event"] == "applied") {
        *applied
            .entry(line["user"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let not_once: Vec<(&String, usize)> = names
        .iter()
        .map(|n| (n, applied.get(n).copied().unwrap_or(0)))
        .filter(|(_, count)| *count != 1)
        .collect();
    assert!(not_once.is_empty(), "applied other than once: {not_once:?}");
    assert_eq!(
        mine(hub.users().await).len(),
        creates,
        "all made in the end"
    );
    let out = common::audit::verify(&[&audit]);
    common::assert_exit(&out, 0);
    common::assert_stdout_contains(&out, ": intact: ");
}

/// Runs `--once` on `roster` and SIGKILLs it once the hub has `point` more users;
/// returns the hub's users after the kill.
async fn run_and_kill(
    hub: &common::Hub,
    roster: &Path,
    audit: &Path,
    env: &[(&str, &str)],
    point: usize,
) -> BTreeMap<String, bool> {
    let base = hub.user_total().await;
    let stderr = roster.with_file_name("once.stderr");
    let mut once = common::command(env)
        .env("RUST_LOG", "info")
        .arg("--config")
        .arg(roster)
        .args(["--once", "--audit-log"])
        .arg(audit)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("start --once");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = once.try_wait().unwrap() {
            panic!(
                "the run ended ({status}) before {point} changes:\n{}",
                common::tail(&stderr, 30)
            );
        }
        assert!(Instant::now() < deadline, "{point} changes within 60 s");
        if hub.user_total().await >= base + point {
            break;
        }
        // A breath between looks, so the polls do not slow the hub's creates.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    once.kill().expect("SIGKILL");
    once.wait().unwrap();
    hub.users().await
}

/// The next start after the kill, run until every change is made.
async fn start_again(roster: &Path, dir: &Path, audit: &Path, env: &[(&str, &str)], next: Next) {
    let audit_arg = audit.to_str().unwrap();
    match next {
        Next::Once => {
            let out = common::run_roster(roster, &["--once", "--audit-log", audit_arg], env);
            // 2: the admins of earlier kill points are drift under policy grant.
            assert!(
                matches!(out.status.code(), Some(0 | 2)),
                "{}",
                common::show(&out)
            );
        }
        Next::Daemon => {
            let args = ["--audit-log", audit_arg, "--interval", "1h"];
            let mut daemon = Daemon::start(roster, dir, &args, env);
            daemon.wait_ready(60).await;
            let (code, _) = daemon.terminate();
            assert_eq!(code, Some(0), "{}", daemon.context());
        }
    }
}
