//! Settling intents: a change whose intent line has no outcome is settled against the
//! hub after the hub's next successful read.
//!
//! An intent without an outcome is left by a run killed between the two lines, or by
//! an outcome that could not be written. When the writer takes the lock it reads the
//! whole file once (one pass, parsing only the lines that name an intent: measured in
//! BENCHMARKS.md) and keeps the intents that no outcome answers. After the next
//! successful read of that hub, before any new change, each is judged against what was
//! read: the change is there (an `applied` outcome, "found after a restart") or it is
//! not (`not_applied`). Each is settled once: the outcome line answers it in the file.
//!
//! A request whose answer was lost (the connection dropped, a timeout) is recorded
//! `failed` at once, but the hub may have made it; such an intent is also kept (in
//! memory), and if the next read finds the change made, an `applied` line corrects the
//! record. Intents of a hub that is never read again (it left the roster) stay
//! unsettled, and the writer says so at start.

use serde::Deserialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};

use super::Subject;
use super::chain::{Found, LineHash};
use crate::name::UserName;
use crate::plan::Action;
use crate::snapshot::HubSnapshot;

/// How an intent came to be unsettled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Found in the file when the lock was taken: an earlier process wrote it.
    File,
    /// This process made (or tried) the change but could not write its outcome.
    Unwritten,
    /// Its request got no answer: recorded `failed`, but the hub may have made it.
    Unanswered,
}

/// An intent no outcome answers yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unsettled {
    pub id: String,
    pub subject: Subject,
    pub origin: Origin,
}

/// The unsettled intents, in the order they were written.
#[derive(Debug, Default)]
pub(super) struct Book {
    next: u64,
    by_id: HashMap<String, (u64, Unsettled)>,
}

impl Book {
    pub(super) fn add(&mut self, intent: Unsettled) {
        self.next += 1;
        self.by_id.insert(intent.id.clone(), (self.next, intent));
    }

    fn answer(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// Whether `hub` has intents to settle.
    pub(super) fn has(&self, hub: &crate::name::HubName) -> bool {
        self.by_id.values().any(|(_, u)| hub.is(&u.subject.hub))
    }

    /// Takes out `hub`'s intents, oldest first.
    pub(super) fn take(&mut self, hub: &crate::name::HubName) -> Vec<Unsettled> {
        let ids: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, (_, u))| hub.is(&u.subject.hub))
            .map(|(id, _)| id.clone())
            .collect();
        let mut taken: Vec<(u64, Unsettled)> =
            ids.iter().filter_map(|id| self.by_id.remove(id)).collect();
        taken.sort_by_key(|(order, _)| *order);
        taken.into_iter().map(|(_, u)| u).collect()
    }

    /// How many intents each hub has unsettled, by the hub's name as written.
    pub(super) fn by_hub(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for (_, u) in self.by_id.values() {
            *counts.entry(u.subject.hub.clone()).or_default() += 1;
        }
        counts
    }
}

/// What a pass over the file found: for the chain, its end; for settling, the intents
/// no outcome answers.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub found: Found,
    pub book: Book,
}

/// The fields that tie an intent to its outcome.
#[derive(Deserialize)]
struct Ties {
    event: Option<String>,
    id: Option<String>,
    intent: Option<String>,
}

/// Reads `file` from its start. `mark`: the length the last writer left, whose last
/// line's hash is wanted ([`Found::at_mark`]).
pub(super) fn scan(file: &File, mark: Option<u64>) -> io::Result<Scan> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    reader.seek(SeekFrom::Start(0))?;
    let mut scan = Scan::default();
    let mut line = Vec::new();
    let mut last = Vec::new();
    let mut pos = 0u64;
    let mut any = false;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        any = true;
        pos += n as u64;
        let newline = line.last() == Some(&b'\n');
        let body = if newline {
            &line[..line.len() - 1]
        } else {
            &line[..]
        };
        scan.found.ends_with_newline = newline;
        if newline && Some(pos) == mark {
            scan.found.at_mark = Some(LineHash::of(body));
        }
        tie(&mut scan.book, body);
        last.clear();
        last.extend_from_slice(body);
    }
    scan.found.len = pos;
    if any {
        scan.found.last_chained = serde_json::from_slice::<serde_json::Value>(&last)
            .ok()
            .is_some_and(|v| v.get("prev").is_some());
        scan.found.last = Some(last);
    } else {
        scan.found.ends_with_newline = true;
    }
    Ok(scan)
}

/// Books an intent line, or answers one with an outcome line. Only lines that hold
/// `"intent"` are parsed, which keeps a pass over a long file cheap.
fn tie(book: &mut Book, body: &[u8]) {
    if !body.windows(8).any(|w| w == b"\"intent\"") {
        return;
    }
    let Ok(ties) = serde_json::from_slice::<Ties>(body) else {
        return;
    };
    match (ties.event.as_deref(), ties.id, ties.intent) {
        (Some("intent"), Some(id), _) => {
            if let Ok(subject) = serde_json::from_slice::<Subject>(body) {
                book.add(Unsettled {
                    id,
                    subject,
                    origin: Origin::File,
                });
            }
        }
        (_, _, Some(id)) => book.answer(&id),
        _ => {}
    }
}

/// Whether the change `subject` describes is on the hub as `snapshot` shows it: its
/// user has the admin flag after a create or a grant, and after a revocation neither
/// the flag nor an admin group (what a revocation takes away; a role held directly it
/// cannot). The snapshot holds every admin, so "not admin" is known for every user.
pub(super) fn made(subject: &Subject, snapshot: &HubSnapshot) -> bool {
    let user = UserName::new(&subject.user);
    let paths = snapshot.paths();
    let mine = || paths.iter().filter(|(name, _)| UserName::new(name) == user);
    match subject.action {
        Action::Create | Action::Grant => mine().any(|(_, p)| p.flag),
        Action::Revoke => !mine().any(|(_, p)| p.removable()),
    }
}

/// What an unsettled intent's outcome says, if it gets one: `(made, result, note)`.
pub(super) fn verdict(intent: &Unsettled, made: bool) -> Option<(bool, String, &'static str)> {
    let user = crate::name::printable(&intent.subject.user);
    let now = match (intent.subject.action, made) {
        (Action::Revoke, true) | (Action::Create | Action::Grant, false) => "not admin",
        _ => "admin",
    };
    let later = match intent.origin {
        Origin::File => "after a restart",
        Origin::Unwritten | Origin::Unanswered => "at a later read",
    };
    match (made, intent.origin) {
        (true, Origin::Unanswered) => Some((
            true,
            "ok".into(),
            "found at a later read: the request reached the hub though its answer was lost",
        )),
        (true, Origin::File) => Some((true, "ok".into(), "found after a restart")),
        (true, Origin::Unwritten) => Some((
            true,
            "ok".into(),
            "found at a later read: its outcome could not be written then",
        )),
        // The `failed` line already says it: nothing to correct.
        (false, Origin::Unanswered) => None,
        (false, _) => Some((
            false,
            format!("not found {later}: {user} is {now} on the hub"),
            "",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Standing;
    use crate::snapshot::HubUser;
    use std::io::Write;

    fn subject(user: &str, action: Action) -> Subject {
        Subject {
            hub: "climate-prod".into(),
            community: "climate-lab".into(),
            user: user.into(),
            action,
            role: Standing::Administrator,
            added_by: Some("rep-bob".into()),
            person: None,
            expired: None,
            admin_paths: None,
            made: None,
        }
    }

    fn line(fields: serde_json::Value) -> String {
        let mut text = fields.to_string();
        text.push('\n');
        text
    }

    #[test]
    fn a_pass_keeps_the_intents_no_outcome_answers_and_the_end_of_the_file() {
        let mut file = tempfile::tempfile().unwrap();
        let intent = |id: &str, user: &str| {
            let mut v = serde_json::to_value(subject(user, Action::Create)).unwrap();
            v["event"] = "intent".into();
            v["id"] = id.into();
            line(v)
        };
        let text = [
            line(serde_json::json!({"event": "seen", "result": "no intent here"})),
            intent("r1.1", "carol"),
            line(serde_json::json!({"event": "applied", "intent": "r1.1"})),
            intent("r1.2", "dave"),
            intent("r2.1", "erin"),
            line(serde_json::json!({"event": "failed", "intent": "r2.1", "prev": null})),
        ]
        .concat();
        file.write_all(text.as_bytes()).unwrap();
        let marked = text.find("\n").unwrap() as u64 + 1;
        let mut scan = scan(&file, Some(marked)).unwrap();
        let left = scan.book.take(&crate::name::HubName::new("Climate-Prod"));
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].id, "r1.2");
        assert_eq!(left[0].subject, subject("dave", Action::Create));
        assert!(scan.book.by_hub().is_empty());
        let found = scan.found;
        assert_eq!(found.len, text.len() as u64);
        assert!(found.ends_with_newline);
        assert!(found.last_chained, "the last line has prev");
        assert_eq!(
            found.at_mark,
            Some(LineHash::of(text.lines().next().unwrap().as_bytes()))
        );

        let empty = scan_of(b"");
        assert_eq!((empty.len, empty.last.is_none()), (0, true));
        let cut = scan_of(b"{\"a\":1}\n{\"b\":");
        assert!(!cut.ends_with_newline);
        assert_eq!(cut.last.as_deref(), Some(&b"{\"b\":"[..]));
    }

    fn scan_of(bytes: &[u8]) -> Found {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        scan(&file, None).unwrap().found
    }

    #[test]
    fn a_change_is_found_made_by_the_admin_flag_it_left() {
        let mut snapshot = HubSnapshot::new(
            "6.1.1",
            None,
            vec![HubUser::new("Carol", true), HubUser::new("dave", false)],
        );
        assert!(made(&subject("carol", Action::Create), &snapshot));
        assert!(made(&subject("carol", Action::Grant), &snapshot));
        assert!(!made(&subject("carol", Action::Revoke), &snapshot));
        assert!(!made(&subject("dave", Action::Grant), &snapshot));
        assert!(made(&subject("dave", Action::Revoke), &snapshot));
        assert!(!made(&subject("nobody", Action::Create), &snapshot));
        assert!(made(&subject("nobody", Action::Revoke), &snapshot));
        // A revocation leaves no admin group either.
        snapshot.admin_groups =
            crate::snapshot::AdminGroups::Read(vec![crate::snapshot::AdminGroup {
                name: "hub-admins".into(),
                roles: vec!["admin".into()],
                members: vec!["dave".into()],
            }]);
        assert!(!made(&subject("dave", Action::Revoke), &snapshot));

        let of = |origin, action, made| {
            verdict(
                &Unsettled {
                    id: "r.1".into(),
                    subject: subject("carol", action),
                    origin,
                },
                made,
            )
        };
        let (applied, result, note) = of(Origin::File, Action::Create, true).unwrap();
        assert_eq!(
            (applied, result.as_str(), note),
            (true, "ok", "found after a restart")
        );
        let (applied, result, _) = of(Origin::File, Action::Revoke, false).unwrap();
        assert!(!applied);
        assert_eq!(
            result,
            "not found after a restart: carol is admin on the hub"
        );
        assert_eq!(of(Origin::Unanswered, Action::Grant, false), None);
        assert!(of(Origin::Unanswered, Action::Grant, true).unwrap().0);
    }
}
