//! The audit trail against a REAL JupyterHub: no change without its line on a full
//! disk, one writer at a time, `audit verify` on a trail the tool wrote (intact,
//! edited, removed, reordered, rotated by the daemon, and from before the chain), and
//! intents of a hub no run reads, left and said so.
//!
//! The full disk is a small tmpfs, filled: mounting it needs root, which CI has; run
//! as anyone else, that test fails and says so rather than skip. The tests share one
//! hub and each changes its admins, so they run one at a time ([`common::exclusive`]):
//! a saved plan, for one, holds only while the hub's admins stay as planned.

mod common;

use common::audit::Trail;
use common::{Community, Daemon, HubEntry, RosterBuilder};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A roster of one community `community` whose representative is `rep`, with
/// `admins` added by `rep`, and one hub `hub` (policy grant) on the shared hub.
fn roster(dir: &Path, community: &str, hub: &str, rep: &str, admins: &[&str]) -> PathBuf {
    RosterBuilder::new()
        .community(
            Community::new(community)
                .rep(rep)
                .admins(admins, rep)
                .hub(HubEntry::new(hub, &common::hub().api_url, "ATOKEN").policy("grant")),
        )
        .write(dir)
}

fn env() -> [(&'static str, &'static str); 2] {
    [
        ("ATOKEN", common::hub().admin_sync_token.as_str()),
        ("RUST_LOG", "info"),
    ]
}

/// `--once --output json --audit-log audit` and `args` on `roster`.
fn once(roster: &Path, audit: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--once", "--output", "json", "--audit-log"];
    all.push(audit.to_str().unwrap());
    all.extend_from_slice(args);
    common::run_roster(roster, &all, &env())
}

// ---------------------------------------------------------------------------------------
// A full disk
// ---------------------------------------------------------------------------------------

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let uid = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|ids| ids.split_whitespace().nth(1).map(str::to_string))
            })
            .flatten();
        assert_eq!(
            uid.as_deref(),
            Some("0"),
            "this test mounts a small tmpfs to fill it, which needs root (CI runs as root): run it as root"
        );
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount -t tmpfs on {}",
            dir.path().display()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = [0u8; 4096];
        loop {
            match filler.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC: {e}");
                    break;
                }
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[tokio::test]
async fn on_a_full_disk_no_change_is_made_and_the_run_fails_with_kind_audit() {
    let _alone = common::exclusive().await;
    let hub = common::hub();
    let dir = tempfile::tempdir().unwrap();
    // A new trail on the full disk, and a trail whose last block is full.
    let page = format!(
        "{{\"event\":\"seen\",\"pad\":\"{}\"}}\n",
        "x".repeat(4096 - 26)
    );
    assert_eq!(page.len(), 4096);
    for (case, existing) in [("new", None), ("existing", Some(page))] {
        let disk = Tmpfs::mount("64k");
        let audit = disk.path().join("audit.jsonl");
        if let Some(text) = &existing {
            std::fs::write(&audit, text).unwrap();
            std::fs::write(disk.path().join("audit.jsonl.lock"), "").unwrap();
        }
        disk.fill();
        let (rep, admin) = (format!("full-{case}-rep"), format!("full-{case}-carol"));
        let roster = roster(dir.path(), "full", "fullhub", &rep, &[&admin]);
        let out = once(&roster, &audit, &[]);
        let report = common::exit_report(&out, 1);
        let hub_report = common::hub_report(&report, "fullhub");
        assert_eq!(hub_report["error_kind"], "audit", "{case}: {hub_report}");
        let error = hub_report["error"].as_str().unwrap();
        assert!(
            error.contains("No space left on device") && error.contains("audit.jsonl"),
            "{case}: {error}"
        );
        let users = hub.users().await;
        assert!(
            !users.contains_key(&rep) && !users.contains_key(&admin),
            "{case}: nothing changed on the hub"
        );
        let changes = hub_report["changes"].as_array().unwrap();
        assert!(
            changes.iter().all(|c| c["applied"] == false),
            "{case}: {hub_report}"
        );
        assert_eq!(
            std::fs::read_to_string(&audit).unwrap(),
            existing.unwrap_or_default(),
            "{case}: no half line left"
        );
    }
}

// ---------------------------------------------------------------------------------------
// One writer
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_second_writer_waits_then_fails_naming_the_holder_and_lines_never_interleave() {
    let _alone = common::exclusive().await;
    let hub = common::hub();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let daemon_dir = common::write_dir(dir.path(), "daemon");
    let roster_d = roster(
        &daemon_dir,
        "two-d",
        "twohub-d",
        "two-d-rep",
        &["two-d-carol"],
    );
    let audit_arg = audit.to_str().unwrap();
    let mut daemon = Daemon::start(
        &roster_d,
        &daemon_dir,
        &["--audit-log", audit_arg, "--interval", "1s"],
        &env(),
    );
    daemon.wait_ready(60).await;
    hub.wait_for_admin("two-d-carol", 30, || daemon.context())
        .await;

    // A hand-run --once beside the daemon, on the same file.
    let once_dir = common::write_dir(dir.path(), "once");
    let roster_o = roster(&once_dir, "two-o", "twohub-o", "two-o-rep", &["two-o-dave"]);
    let started = Instant::now();
    let out = once(&roster_o, &audit, &["--audit-lock-wait", "2s"]);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2), "it waited: {waited:?}");
    let report = common::exit_report(&out, 1);
    let hub_report = common::hub_report(&report, "twohub-o");
    assert_eq!(hub_report["error_kind"], "audit", "{hub_report}");
    let error = hub_report["error"].as_str().unwrap();
    common::assert_contains_all(
        error,
        &[
            &format!("another writer holds it: pid {}", daemon.pid()),
            "(daemon, since ",
            "it did not let go within 2.0s",
        ],
    );
    assert!(!hub.users().await.contains_key("two-o-dave"), "not made");

    // The daemon goes on writing: drift made by hand is fixed and recorded.
    hub.set_admin("two-d-carol", false).await;
    hub.wait_for_admin("two-d-carol", 30, || daemon.context())
        .await;
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0), "{}", daemon.context());

    // With the daemon gone, the same run takes the lock and makes its change.
    let out = once(&roster_o, &audit, &["--audit-lock-wait", "2s"]);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        common::show(&out)
    );
    assert_eq!(hub.users().await.get("two-o-dave"), Some(&true));

    // Whole lines only, one chain: neither writer's lines cut into the other's.
    let trail = Trail::read(&audit);
    assert!(trail.unsettled().is_empty(), "{:?}", trail.lines);
    let grants = trail
        .lines
        .iter()
        .filter(|l| l["user"] == "two-d-carol" && l["event"] == "applied")
        .count();
    assert_eq!(grants, 2, "created, then granted again");
    assert!(trail.users_with("applied").contains("two-o-dave"));
    let verified = common::audit::verify(&[&audit]);
    common::assert_exit(&verified, 0);
}

// ---------------------------------------------------------------------------------------
// audit verify
// ---------------------------------------------------------------------------------------

/// A trail written by a real `--once --plan` run (the saved plan's path writes ahead
/// too), then changed by hand in each of the ways the chain shows.
#[tokio::test]
async fn audit_verify_passes_an_untouched_trail_and_names_the_first_line_that_does_not_follow() {
    let _alone = common::exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let admins = ["ver-carol", "ver-dave", "ver-erin"];
    let roster = roster(dir.path(), "ver", "verhub", "ver-rep", &admins);
    let plan = dir.path().join("plan.json");
    let out = common::run_roster(
        &roster,
        &["--dry-run", "--plan-out", plan.to_str().unwrap()],
        &env(),
    );
    assert!(
        matches!(out.status.code(), Some(2)),
        "{}",
        common::show(&out)
    );
    let audit = dir.path().join("audit.jsonl");
    let out = once(&roster, &audit, &["--plan", plan.to_str().unwrap()]);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        common::show(&out)
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let trail = Trail::read(&audit);
    assert_eq!(
        trail.intents().len(),
        4,
        "the representative and three: {text}"
    );
    assert!(trail.unsettled().is_empty());

    let write = |name: &str, lines: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        path
    };
    let edited_line = lines[3].replacen("ver-", "ver-mallory-", 1);
    let mut edited = lines.clone();
    edited[3] = &edited_line;
    let mut removed = lines.clone();
    removed.remove(3);
    let mut reordered = lines.clone();
    reordered.swap(2, 3);
    // (case, file, exit, what the output says)
    let cases: [(&str, PathBuf, i32, String); 4] = [
        (
            "untouched",
            audit.clone(),
            0,
            format!("{}: intact: {} chained lines", audit.display(), lines.len()),
        ),
        (
            "edited",
            write("edited.jsonl", &edited),
            1,
            "edited.jsonl:5: BROKEN: does not follow line 4".into(),
        ),
        (
            "removed",
            write("removed.jsonl", &removed),
            1,
            "removed.jsonl:4: BROKEN: does not follow line 3".into(),
        ),
        (
            "reordered",
            write("reordered.jsonl", &reordered),
            1,
            "reordered.jsonl:3: BROKEN: does not follow line 2".into(),
        ),
    ];
    for (case, path, code, said) in cases {
        let out = common::audit::verify(&[&path]);
        common::assert_case_exit(case, &out, code);
        assert!(
            common::stdout(&out).contains(&said),
            "{case}: {}",
            common::show(&out)
        );
    }

    // Lines from before the chain existed are said to be so, not tampering.
    let old = write(
        "old.jsonl",
        &[
            r#"{"time":"2026-11-28T00:31:03.336794Z","hub":"climate-prod","community":"climate-lab","user":"carol","action":"grant","role":"administrator","added_by":"rep-bob","event":"applied","result":"ok","mode":"daemon"}"#,
        ],
    );
    let out = common::audit::verify(&[&old]);
    common::assert_case_exit("pre-chain", &out, 0);
    common::assert_stdout_contains(
        &out,
        "1 lines, all written before the chain existed (no prev): not checked",
    );
    // A file that cannot be read: another message.
    let out = common::audit::verify(&[&dir.path().join("missing.jsonl")]);
    common::assert_case_exit("missing", &out, 1);
    common::assert_stderr_contains(&out, "missing.jsonl: cannot read: ");
}

/// The daemon's file renamed away (logrotate): the new file begins with the last hash
/// of the old one, and both verify together, in order.
#[tokio::test]
async fn a_file_rotated_under_the_daemon_continues_the_chain() {
    let _alone = common::exclusive().await;
    let hub = common::hub();
    let dir = tempfile::tempdir().unwrap();
    let roster = roster(dir.path(), "rot", "rothub", "rot-rep", &["rot-carol"]);
    let audit = dir.path().join("audit.jsonl");
    let mut daemon = Daemon::start(
        &roster,
        dir.path(),
        &["--audit-log", audit.to_str().unwrap(), "--interval", "1s"],
        &env(),
    );
    daemon.wait_ready(60).await;
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&audit, &rotated).unwrap();
    hub.set_admin("rot-carol", false).await;
    hub.wait_for_admin("rot-carol", 30, || daemon.context())
        .await;
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0), "{}", daemon.context());
    let new = Trail::read(&audit);
    assert_eq!(new.lines[0]["chain"], "rotated", "{:?}", new.lines);
    assert!(new.users_with("applied").contains("rot-carol"));
    let out = common::audit::verify(&[&rotated, &audit]);
    common::assert_exit(&out, 0);
    common::assert_stdout_contains(&out, "line 1 follows the last line of");
    // Alone, the new file says where it continues from; the old one's tail removed
    // breaks the link.
    let old = std::fs::read_to_string(&rotated).unwrap();
    let cut: String = old
        .lines()
        .take(old.lines().count() - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&rotated, cut).unwrap();
    let out = common::audit::verify(&[&rotated, &audit]);
    common::assert_exit(&out, 1);
    common::assert_stdout_contains(
        &out,
        "audit.jsonl:1: BROKEN: does not follow the last line of",
    );
}

/// An intent of a hub that left the roster: no run reads that hub, so it stays
/// unsettled, and a run says so at start.
#[tokio::test]
async fn an_intent_of_a_hub_no_run_reads_is_left_and_said_so() {
    let _alone = common::exclusive().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    std::fs::write(
        &audit,
        r#"{"time":"2026-11-28T00:31:03Z","hub":"gone-hub","community":"gone","user":"carol","action":"grant","role":"administrator","added_by":"rep-bob","event":"intent","mode":"once","run":"20261128T003103Z-00000000","id":"20261128T003103Z-00000000.1"}
"#,
    )
    .unwrap();
    let roster = roster(dir.path(), "left", "lefthub", "left-rep", &[]);
    let out = once(&roster, &audit, &[]);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        common::show(&out)
    );
    common::assert_stderr_contains(&out, "hub=gone-hub unsettled=1");
    common::assert_stderr_contains(&out, "they stay unsettled until a run reads it");
    assert_eq!(
        Trail::read(&audit).unsettled().len(),
        1,
        "not settled against another hub"
    );
}
