//! The writer against real files: write ahead, the chain across rotations and
//! restarts, settling after a kill, the lock, and a lost directory.

use super::verify::{Verdict, verify};
use super::*;
use crate::hub::HubError;
use crate::plan::Change;
use crate::report::{ChangeReport, Status};
use crate::snapshot::HubUser;

const WAIT: Duration = Duration::from_secs(2);

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn change(action: Action, user: &str) -> Change {
    Change {
        action,
        user: UserName::new(user),
        hub_name: user.to_string(),
        role: if action == Action::Revoke {
            Standing::Undeclared
        } else {
            Standing::Administrator
        },
        added_by: (action != Action::Revoke).then(|| UserName::new("rep-bob")),
        person: None,
        paths: crate::snapshot::AdminPaths {
            flag: action == Action::Revoke,
            ..Default::default()
        },
        made_by: None,
        apply: true,
    }
}

fn snapshot(admins: &[&str]) -> HubSnapshot {
    let users = admins.iter().map(|a| HubUser::new(*a, true)).collect();
    HubSnapshot::new("6.1.1", None, users)
}

fn report(changes: Vec<ChangeReport>) -> HubReport {
    HubReport::sample(Status::Drift, changes)
}

/// The journal on `path` in `mode` (the lock waited for [`WAIT`]), and a run of hub
/// `climate-prod` of `climate-lab` writing to it.
async fn open_climate(path: &Path, mode: Mode) -> (Journal, HubJournal) {
    let journal = Journal::open(path, mode, WAIT).await.unwrap();
    let hub = journal.begin_for_test("climate-prod", "climate-lab");
    (journal, hub)
}

/// Asserts that `paths`, in order, verify intact.
#[track_caller]
fn assert_intact(paths: &[PathBuf]) {
    for r in verify(paths) {
        assert_eq!(r.verdict, Verdict::Intact, "{r}");
    }
}

#[tokio::test]
async fn an_intent_is_synced_before_its_outcome_and_the_outcome_keeps_the_old_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (journal, hub) = open_climate(&path, Mode::Once).await;
    let grant = hub.intent(&change(Action::Grant, "carol")).await.unwrap();
    let id = grant.id().to_string();
    // On disk before the hub is asked: a chain line, then the intent.
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["event"], "chain");
    assert_eq!(lines[0]["chain"], "new");
    assert!(lines[0]["prev"].is_null());
    let intent = &lines[1];
    assert_eq!(intent["event"], "intent");
    assert_eq!(intent["id"], id.as_str());
    assert!(id.starts_with(journal.run().as_str()), "{id}");
    for (field, value) in [
        ("hub", "climate-prod"),
        ("community", "climate-lab"),
        ("user", "carol"),
        ("action", "grant"),
        ("role", "administrator"),
        ("added_by", "rep-bob"),
        ("mode", "once"),
    ] {
        assert_eq!(intent[field], value, "{field}: {intent}");
    }
    hub.outcome(grant, Ok(())).unwrap();
    let failing = hub.intent(&change(Action::Grant, "dave")).await.unwrap();
    let refused = HubError::Setup("refused".into());
    hub.outcome(failing, Err(&refused)).unwrap();
    let mut r = report(vec![ChangeReport::sample(
        Action::Revoke,
        "mallory",
        Standing::Undeclared,
        false,
    )]);
    hub.finish(&mut r).await;
    assert_eq!(r.error_kind, None);
    let lines = read_lines(&path);
    let applied = &lines[2];
    for (field, value) in [
        ("event", "applied"),
        ("result", "ok"),
        ("user", "carol"),
        ("action", "grant"),
        ("intent", id.as_str()),
    ] {
        assert_eq!(applied[field], value, "{field}: {applied}");
    }
    assert!(applied["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[4]["event"], "failed");
    assert!(lines[4]["result"].as_str().unwrap().contains("refused"));
    assert_eq!(lines[5]["event"], "seen");
    assert_eq!(lines[5]["result"], "policy grant does not revoke");
    for line in &lines {
        assert!(
            line.get("made_by").is_none(),
            "reserved, not written yet: {line}"
        );
    }
    assert_intact(&[path]);
}

#[tokio::test]
async fn a_rotated_file_continues_the_chain_and_a_lost_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("audit.jsonl");
    let (_journal, hub) = open_climate(&path, Mode::Daemon).await;
    let intent = hub.intent(&change(Action::Create, "carol")).await.unwrap();
    hub.outcome(intent, Ok(())).unwrap();
    let rotated = sub.join("audit.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    let intent = hub.intent(&change(Action::Grant, "dave")).await.unwrap();
    hub.outcome(intent, Ok(())).unwrap();
    let new = read_lines(&path);
    assert_eq!(new[0]["chain"], "rotated", "{new:?}");
    assert_eq!(read_lines(&rotated).len(), 3);
    assert_intact(&[rotated.clone(), path.clone()]);

    std::fs::remove_dir_all(&sub).unwrap();
    let err = hub
        .intent(&change(Action::Grant, "erin"))
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("audit log "), "{err}");
    assert!(err.to_string().contains("audit.jsonl"), "{err}");
}

#[tokio::test]
async fn an_intent_left_by_a_killed_run_is_settled_once_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    {
        let (journal, hub) = open_climate(&path, Mode::Once).await;
        for user in ["carol", "dave", "erin"] {
            // Killed before any outcome: the intents are all there is.
            let _ = hub.intent(&change(Action::Create, user)).await.unwrap();
        }
        let other = journal.begin_for_test("ocean-prod", "ocean");
        let _ = other.intent(&change(Action::Grant, "fay")).await.unwrap();
    }
    let journal = Journal::open(&path, Mode::Daemon, WAIT).await.unwrap();
    assert_eq!(
        journal.unsettled(),
        [
            ("climate-prod".to_string(), 3),
            ("ocean-prod".to_string(), 1)
        ]
        .into()
    );
    let hub = journal.begin_for_test("Climate-Prod", "climate-lab");
    // carol and dave were made; erin's request never reached the hub.
    let read = snapshot(&["carol", "Dave"]);
    assert_eq!(hub.settle(&read).await.unwrap(), 3);
    assert_eq!(hub.settle(&read).await.unwrap(), 0, "settled once");
    let lines = read_lines(&path);
    let outcome = |user: &str| {
        lines
            .iter()
            .find(|l| l["user"] == user && l.get("intent").is_some())
            .unwrap_or_else(|| panic!("no outcome for {user}: {lines:?}"))
    };
    assert_eq!(outcome("carol")["event"], "applied");
    assert_eq!(outcome("carol")["result"], "ok");
    assert_eq!(outcome("carol")["note"], "found after a restart");
    assert_eq!(outcome("dave")["event"], "applied");
    assert_eq!(outcome("erin")["event"], "not_applied");
    assert_eq!(
        outcome("erin")["result"],
        "not found after a restart: erin is not admin on the hub"
    );
    assert_eq!(journal.unsettled(), [("ocean-prod".to_string(), 1)].into());
    drop(journal);
    // A third start finds only ocean-prod's intent unsettled.
    let journal = Journal::open(&path, Mode::Once, WAIT).await.unwrap();
    assert_eq!(journal.unsettled(), [("ocean-prod".to_string(), 1)].into());
    assert_intact(&[path]);
}

#[tokio::test]
async fn an_unanswered_request_found_made_later_is_corrected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let (journal, hub) = open_climate(&path, Mode::Daemon).await;
    let lost = HubError::Transport {
        method: reqwest::Method::PATCH,
        path: "/users/carol".into(),
        message: "connection reset".into(),
        timeout: false,
    };
    for user in ["carol", "dave"] {
        let intent = hub.intent(&change(Action::Grant, user)).await.unwrap();
        hub.outcome(intent, Err(&lost)).unwrap();
    }
    let next = journal.begin_for_test("climate-prod", "climate-lab");
    assert_eq!(next.settle(&snapshot(&["carol"])).await.unwrap(), 1);
    let lines = read_lines(&path);
    let events_of = |user: &str| -> Vec<&str> {
        lines
            .iter()
            .filter(|l| l["user"] == user)
            .map(|l| l["event"].as_str().unwrap())
            .collect()
    };
    assert_eq!(events_of("carol"), ["intent", "failed", "applied"]);
    assert_eq!(
        events_of("dave"),
        ["intent", "failed"],
        "its failed line stands"
    );
}

#[tokio::test]
async fn a_file_from_before_the_chain_and_one_emptied_while_no_writer_held_it_start_chains_that_say_so()
 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "{\"event\":\"applied\",\"user\":\"old\"}\n").unwrap();
    let write_one = |mode| {
        let path = path.clone();
        async move {
            let (_journal, hub) = open_climate(&path, mode).await;
            let intent = hub.intent(&change(Action::Grant, "carol")).await.unwrap();
            hub.outcome(intent, Ok(())).unwrap();
            let mut r = report(Vec::new());
            hub.finish(&mut r).await;
        }
    };
    write_one(Mode::Once).await;
    let lines = read_lines(&path);
    assert_eq!(lines[1]["chain"], "begins", "{lines:?}");
    let report = verify(std::slice::from_ref(&path)).remove(0);
    assert_eq!(report.verdict, Verdict::Intact, "{report}");
    assert_eq!(report.pre_chain, 1);

    // Emptied (copy-and-truncate by hand) while no writer held it.
    let text = std::fs::read_to_string(&path).unwrap();
    let head = text.lines().last().unwrap().to_string();
    std::fs::write(&path, "").unwrap();
    write_one(Mode::Once).await;
    let lines = read_lines(&path);
    assert_eq!(lines[0]["chain"], "restarted", "{lines:?}");
    assert!(lines[0]["prev"].is_null());
    assert_eq!(
        lines[0]["last_head"],
        LineHash::of(head.as_bytes()).to_string().as_str(),
        "names the head it had"
    );
    assert_intact(&[path]);
}

#[tokio::test(start_paused = true)]
async fn a_second_writer_waits_for_the_lock_then_fails_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let first = Journal::open(&path, Mode::Daemon, WAIT).await.unwrap();
    let started = tokio::time::Instant::now();
    let second = Journal::open(&path, Mode::Once, WAIT).await.unwrap();
    assert!(started.elapsed() >= WAIT, "waited {:?}", started.elapsed());
    let hub = second.begin_for_test("climate-prod", "climate-lab");
    let again = tokio::time::Instant::now();
    let err = hub
        .intent(&change(Action::Grant, "carol"))
        .await
        .unwrap_err();
    assert!(
        again.elapsed() < WAIT,
        "within the wait that ran out, one try"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "another writer holds it: pid {}",
            std::process::id()
        )),
        "{text}"
    );
    assert!(text.contains("(daemon, since "), "{text}");
    assert!(std::fs::read_to_string(&path).unwrap().is_empty());

    // Let go by the first: the second takes it within its wait.
    let release = tokio::spawn(async move {
        tokio::time::sleep(WAIT + Duration::from_millis(500)).await;
        drop(first);
    });
    tokio::time::sleep(WAIT).await;
    let intent = hub.intent(&change(Action::Grant, "carol")).await.unwrap();
    hub.outcome(intent, Ok(())).unwrap();
    release.await.unwrap();
    assert_intact(&[path]);
}
