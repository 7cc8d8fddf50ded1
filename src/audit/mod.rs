//! The audit trail: one JSON object per line, only ever appended, for every change made
//! (or tried) on a hub and every undeclared admin seen. JupyterHub keeps no history of
//! who granted admin; this file is that history, written so that it loses nothing:
//!
//! - **Write ahead.** Before each change an `intent` line is appended and synced; after
//!   it, an outcome line (`applied` or `failed`, with the fields of the trail's first
//!   format) names the intent. A run killed in between leaves an intent that the next
//!   start settles against the hub ([`settle`]).
//! - **No record, no change.** When the intent cannot be written (a full disk, the
//!   file's directory gone, another writer holding the file) the change is not made and
//!   the hub's run fails with error kind `audit`.
//! - **One writer** at a time, through a lock beside the file ([`lock`]).
//! - **Tamper-evident.** Each line carries the hash of the line before it ([`chain`]);
//!   `audit verify` checks the chain ([`verify`]).
//!
//! [`Journal`] is the handle a mode holds (none without `--audit-log`); one run of one
//! hub writes through a [`HubJournal`]. This file holds the lines' shapes and the
//! writer; `docs/audit.md` documents the format for readers.

mod chain;
mod journal;
mod lock;
mod settle;
pub(crate) mod verify;

pub(crate) use chain::LineHash;
pub(crate) use journal::{HubJournal, Journal, RunId};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use self::chain::{ChainStart, Start, with_prev};
use self::lock::{Holder, TrailState, WriterLock};
use crate::evidence::Attribution;
use crate::name::{HubName, UserName};
use crate::plan::{Action, Standing};
use crate::report::{HubReport, Mode};
use crate::snapshot::{AdminPaths, HubSnapshot};
use crate::word::count;
use crate::word::words;

/// Who and what a change is about: the fields of the trail's first format that every
/// line about a change carries, so that readers' tooling keeps working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Subject {
    pub hub: String,
    pub community: String,
    /// As the hub spells them.
    pub user: String,
    pub action: Action,
    pub role: Standing,
    /// Who added them, by roster name (null for engineers, representatives and
    /// undeclared admins).
    pub added_by: Option<String>,
    /// The roster's name for the person, when the hub knows them by another username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// The day an administrator's entry ran out, when that is why admin is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired: Option<String>,
    /// For a revocation: how the user is admin (the flag, admin groups, roles held
    /// directly), as the report's `admin_paths`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_paths: Option<AdminPaths>,
    /// Who made what the change undoes, as the hub's log says (`made_by`, `via`, `at`):
    /// for a revocation, who made the user admin in the hub; for a grant, who took
    /// admin away. Absent when the roster names no log for the hub.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub made: Option<Attribution>,
}

impl Subject {
    /// `paths` as the line's `admin_paths`: for a revocation only.
    pub(crate) fn paths_of(action: Action, paths: &AdminPaths) -> Option<AdminPaths> {
        (action == Action::Revoke).then(|| paths.clone())
    }
}

words! {
    /// What a line records (its `event`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Event {
        /// A change about to be made (synced before the hub is asked).
        Intent => "intent",
        /// The change was made (`intent` names it).
        Applied => "applied",
        /// The hub refused it, or did not answer.
        Failed => "failed",
        /// Settled after a restart: the change is not on the hub.
        NotApplied => "not_applied",
        /// An undeclared admin the policy leaves in place (once, when first seen).
        Seen => "seen",
        /// Something else undid a change the daemon made.
        Reversed => "reversed",
        /// A user the daemon stops changing.
        Contested => "contested",
        /// An admin made in the hub by someone the roster entitles, kept for a while
        /// (`ui_grants`): who made them, how and when, and until when.
        Provisional => "provisional",
        /// A provisional administrator no longer kept (its time ran out, or the one who
        /// made the grant is no longer entitled): the hub's policy applies again.
        ProvisionalEnded => "provisional_ended",
        /// A chain of hashes starts here ([`chain::ChainStart`]).
        Chain => "chain",
    }
}

/// A line about one change: its intent, its outcome, or an undeclared admin seen.
#[derive(Debug, Serialize)]
struct ChangeLine<'a> {
    time: &'a str,
    #[serde(flatten)]
    subject: &'a Subject,
    event: Event,
    /// `ok`, the error, or why it was left or not found (none on an intent).
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a str>,
    mode: Mode,
    run: &'a RunId,
    /// An intent's id, which its outcome names.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    /// The intent an outcome answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    intent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// A line about the hub rather than a change: a change the daemon made that something
/// else undid (`reversed`), or a user it has stopped changing (`contested`).
#[derive(Debug, Serialize)]
struct EventLine<'a> {
    time: &'a str,
    hub: &'a str,
    community: &'a str,
    user: &'a str,
    event: Event,
    /// The change that was undone (and that the daemon makes again, until contested).
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<Action>,
    result: String,
    mode: Mode,
    run: &'a RunId,
}

/// Where a chain starts, and why.
#[derive(Debug, Serialize)]
struct ChainLine<'a> {
    time: &'a str,
    event: Event,
    chain: ChainStart,
    result: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_head: Option<String>,
    mode: Mode,
    run: &'a RunId,
}

/// Why the audit trail could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "audit log {}: another writer holds it: {holder}; it did not let go within {:.1}s (--audit-lock-wait)",
        path.display(),
        wait.as_secs_f64()
    )]
    Busy {
        path: PathBuf,
        holder: String,
        /// The wait that ran out.
        wait: Duration,
    },
}

fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// A line's JSON, before its `prev`.
fn body(line: &impl Serialize) -> io::Result<String> {
    serde_json::to_string(line).map_err(io::Error::other)
}

/// The word of a mode, as lines and the lock file spell it.
fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::DryRun => "dry-run",
        Mode::Once => "once",
        Mode::Daemon => "daemon",
    }
}

/// `audit.jsonl` → `audit.jsonl.lock`.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn open_for_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
}

#[cfg(unix)]
fn identity_of(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity_of(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Syncs the directory of a file just created, so that the file itself survives a
/// crash, not only its lines. Best effort.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
}

/// The file, held under the lock.
#[derive(Debug)]
struct Held {
    lock: WriterLock,
    file: File,
    identity: (u64, u64),
    /// The file's length as this writer made it.
    len: u64,
    /// The hash of the file's last line.
    head: Option<LineHash>,
    /// A chain line to write before the next line.
    start: Option<Start>,
    /// A failed write left bytes that could not be cut off yet.
    dirty: bool,
}

impl Held {
    /// Makes sure the path still names the file written to: after a rotation
    /// (renamed, removed, or copied and truncated) a new file is opened and its chain
    /// starts with a line that says so.
    fn ensure_current(&mut self, path: &Path) -> io::Result<()> {
        if self.dirty {
            self.file.set_len(self.len)?;
            self.dirty = false;
        }
        let on_disk = match std::fs::metadata(path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        match on_disk {
            Some(meta) if identity_of(&meta) == self.identity => match meta.len().cmp(&self.len) {
                std::cmp::Ordering::Equal => Ok(()),
                std::cmp::Ordering::Less => self.moved_on("the file was truncated"),
                std::cmp::Ordering::Greater => self.moved_on("another writer appended to the file"),
            },
            _ => {
                self.file = open_for_append(path)?;
                self.identity = identity_of(&self.file.metadata()?);
                sync_dir(path);
                self.moved_on("the file was renamed or removed")
            }
        }
    }

    /// After the file changed under this writer: an empty file continues the chain
    /// from this writer's last line (a rotation); one holding lines it did not write
    /// starts a new chain from its own last line.
    fn moved_on(&mut self, why: &str) -> io::Result<()> {
        let found = settle::scan(&self.file, None)?.found;
        self.len = found.len;
        if found.len == 0 && self.head.is_none() {
            // Nothing written yet: still a new trail.
            self.start
                .get_or_insert_with(|| Start::new(ChainStart::New, "a new audit trail"));
            return Ok(());
        }
        if found.len == 0 {
            tracing::info!(
                "{why}: the audit trail goes on in a new file, chained to the last line of the old one"
            );
            self.start = Some(Start::new(
                ChainStart::Rotated,
                format!("{why} (rotated): prev is the last hash of the file before"),
            ));
            return Ok(());
        }
        tracing::warn!("{why} while this writer held it: a new chain starts");
        let last_head = self.head;
        self.head = found.last.as_deref().map(LineHash::of);
        self.start = Some(if found.ends_with_newline {
            Start {
                last_head,
                ..Start::new(
                    ChainStart::Restarted,
                    format!("a new chain: {why} while this writer held it"),
                )
            }
        } else {
            Start::new(
                ChainStart::Cut,
                "the line before was cut short (a crash while it was written)",
            )
        });
        Ok(())
    }

    /// Appends `bytes` (synced if `sync`); on failure cuts them off again, so that a
    /// half-written line never stays.
    fn write(&mut self, bytes: &[u8], sync: bool) -> io::Result<()> {
        let written = self
            .file
            .write_all(bytes)
            .and_then(|_| if sync { self.file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            if self.file.set_len(self.len).is_err() {
                self.dirty = true;
            }
            return Err(e);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn state(&self) -> TrailState {
        TrailState {
            dev: self.identity.0,
            ino: self.identity.1,
            len: self.len,
            head: self.head.map(|h| h.to_string()),
        }
    }
}

/// The writer: the file, once its lock is held, and what it knows of the trail.
#[derive(Debug)]
struct AuditLog {
    path: PathBuf,
    lock_path: PathBuf,
    mode: Mode,
    /// The process's run, on lines about the file itself (chain lines).
    run: RunId,
    held: Option<Held>,
    /// Intents no outcome answers yet.
    book: settle::Book,
    /// Undeclared admins already recorded as seen, per hub, so that an admin the policy
    /// leaves in place is written once, not at every run.
    seen: HashMap<HubName, BTreeSet<UserName>>,
}

impl AuditLog {
    /// Checks that the file and its lock file can be opened (creating them): a wrong
    /// path is an error at start, not at the first change.
    fn open(path: &Path, mode: Mode, run: RunId) -> Result<AuditLog, AuditError> {
        let lock_path = lock_path(path);
        open_for_append(path).map_err(|source| AuditError::Io {
            path: path.to_owned(),
            source,
        })?;
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|source| AuditError::Io {
                path: lock_path.clone(),
                source,
            })?;
        Ok(AuditLog {
            path: path.to_owned(),
            lock_path,
            mode,
            run,
            held: None,
            book: settle::Book::default(),
            seen: HashMap::new(),
        })
    }

    fn err(&self, source: io::Error) -> AuditError {
        AuditError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Holds the lock, taking it if it is free: then reads the file once, for the end
    /// of its chain and its unsettled intents. False when another writer holds it.
    fn take(&mut self) -> Result<bool, AuditError> {
        if self.held.is_some() {
            return Ok(true);
        }
        let holder = Holder::this_process(mode_word(self.mode));
        let taken =
            WriterLock::try_take(&self.lock_path, holder).map_err(|source| AuditError::Io {
                path: self.lock_path.clone(),
                source,
            })?;
        let Some((lock, before)) = taken else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        let file = open_for_append(&self.path).map_err(|e| self.err(e))?;
        let scan = settle::scan(&file, before.as_ref().map(|b| b.len)).map_err(|e| self.err(e))?;
        let mut found = scan.found;
        found.identity = identity_of(&file.metadata().map_err(|e| self.err(e))?);
        if found.len == 0 {
            sync_dir(&self.path);
        }
        let start = chain::start(&found, before.as_ref());
        let head = found.last.as_deref().map(LineHash::of);
        self.book = scan.book;
        tracing::info!(
            path = %self.path.display(),
            bytes = found.len,
            head = %head.map(|h| h.to_string()).unwrap_or_default(),
            unsettled = self.book.by_hub().values().sum::<usize>(),
            read_ms = started.elapsed().as_millis() as u64,
            "audit log held (one writer)"
        );
        let held = Held {
            lock,
            file,
            identity: found.identity,
            len: found.len,
            head,
            start,
            dirty: false,
        };
        held.lock.note(Some(&held.state()));
        self.held = Some(held);
        Ok(true)
    }

    /// Without the lock: reads which intents look unsettled, so that a hub with none
    /// need not wait for the lock (the holder may settle them meanwhile).
    fn peek(&mut self) {
        if let Ok(file) = File::open(&self.path)
            && let Ok(scan) = settle::scan(&file, None)
        {
            self.book = scan.book;
        }
    }

    /// Appends `bodies`, each given its `prev` (after the chain line the file needs,
    /// if any); syncs when `sync` (and when `bodies` is empty, only syncs).
    fn append(&mut self, bodies: &[String], sync: bool) -> Result<(), AuditError> {
        let Some(held) = self.held.as_mut() else {
            return Err(self.err(io::Error::other("the writer's lock is not held")));
        };
        let written = (|| {
            held.ensure_current(&self.path)?;
            let mut text = String::new();
            let mut head = held.head;
            let mut push = |json: String, text: &mut String| {
                let line = with_prev(json, head);
                head = Some(LineHash::of(line.as_bytes()));
                text.push_str(&line);
                text.push('\n');
            };
            if let Some(start) = &held.start {
                if start.kind == ChainStart::Cut {
                    text.push('\n');
                }
                let time = now();
                let line = ChainLine {
                    time: &time,
                    event: Event::Chain,
                    chain: start.kind,
                    result: &start.reason,
                    last_head: start.last_head.map(|h| h.to_string()),
                    mode: self.mode,
                    run: &self.run,
                };
                push(body(&line)?, &mut text);
            }
            for b in bodies {
                push(b.clone(), &mut text);
            }
            held.write(text.as_bytes(), sync)?;
            held.head = head;
            held.start = None;
            Ok(())
        })();
        written.map_err(|e| self.err(e))
    }

    /// Keeps the trail's state in the lock file, for the next writer.
    fn note(&self) {
        if let Some(held) = &self.held {
            held.lock.note(Some(&held.state()));
        }
    }

    fn head(&self) -> Option<LineHash> {
        self.held.as_ref().and_then(|h| h.head)
    }

    /// Writes the outcomes of `hub`'s unsettled intents, judged against `snapshot`.
    fn settle(
        &mut self,
        hub: &HubName,
        snapshot: &HubSnapshot,
        run: &RunId,
    ) -> Result<usize, AuditError> {
        let intents = self.book.take(hub);
        let time = now();
        let mut bodies = Vec::new();
        let mut settled = Vec::new();
        for intent in intents {
            let made = settle::made(&intent.subject, snapshot);
            let Some((applied, result, note)) = settle::verdict(&intent, made) else {
                continue;
            };
            let s = &intent.subject;
            tracing::info!(hub = %hub, user = %s.user, action = %s.action, intent = %intent.id, found = made, "{}", if applied { "an unsettled change was found made" } else { "an unsettled change was not made" });
            let line = ChangeLine {
                time: &time,
                subject: s,
                event: if applied {
                    Event::Applied
                } else {
                    Event::NotApplied
                },
                result: Some(&result),
                mode: self.mode,
                run,
                id: None,
                intent: Some(&intent.id),
                note: Some(note).filter(|n| !n.is_empty()),
            };
            bodies.push(body(&line).map_err(|e| self.err(e))?);
            settled.push(intent);
        }
        if bodies.is_empty() {
            return Ok(0);
        }
        if let Err(e) = self.append(&bodies, true) {
            for intent in settled {
                self.book.add(intent);
            }
            return Err(e);
        }
        Ok(bodies.len())
    }

    /// The lines that close one hub's run: what it found undone (`reversed`), the
    /// undeclared admins it saw for the first time, and users it now leaves alone
    /// (`contested`); with the hub's undeclared admins, to remember once written.
    fn closing_lines(
        &self,
        report: &HubReport,
        run: &RunId,
    ) -> io::Result<(Vec<String>, Option<BTreeSet<UserName>>)> {
        let time = now();
        let mut lines = Vec::new();
        let nameless: Vec<UserName> = report
            .nameless
            .iter()
            .map(|n| {
                let created = n.created.as_deref().unwrap_or("?");
                UserName::new(&format!("(no name, created {created})"))
            })
            .collect();
        let event = |user, event, action, result| -> io::Result<String> {
            body(&EventLine {
                time: &time,
                hub: report.name.as_str(),
                community: &report.community,
                user,
                event,
                action,
                result,
                mode: self.mode,
                run,
            })
        };
        for r in &report.reversals {
            let result = format!(
                "something else undid the last change ({} within a day)",
                count(r.count, "reversal")
            );
            lines.push(event(&r.user, Event::Reversed, Some(r.action), result)?);
        }
        let seen_before = self.seen.get(&report.name);
        let mut seen_now = BTreeSet::new();
        for change in report
            .changes
            .iter()
            .filter(|c| !c.applied && c.error.is_none() && c.role == Standing::Undeclared)
        {
            let who = UserName::new(&change.user);
            let known = seen_before.is_some_and(|s| s.contains(&who));
            seen_now.insert(who);
            if known {
                continue;
            }
            let subject = Subject {
                hub: report.name.as_str().to_string(),
                community: report.community.clone(),
                user: change.user.clone(),
                action: change.action,
                role: change.role,
                added_by: change.added_by.as_ref().map(|u| u.as_str().to_string()),
                person: change.person.as_ref().map(|u| u.as_str().to_string()),
                expired: change.expired.clone(),
                admin_paths: Subject::paths_of(change.action, &change.paths),
                made: change.made_by.clone(),
            };
            let why = change.skipped.map_or("not revoked", |s| s.as_str());
            lines.push(body(&ChangeLine {
                time: &time,
                subject: &subject,
                event: Event::Seen,
                result: Some(why),
                mode: self.mode,
                run,
                id: None,
                intent: None,
                note: None,
            })?);
        }
        // Admins without a name: seen once each (by when the hub created them).
        for (who, n) in nameless.iter().zip(&report.nameless) {
            let known = seen_before.is_some_and(|s| s.contains(who));
            seen_now.insert(who.clone());
            if !known {
                lines.push(event(who.as_str(), Event::Seen, None, n.reason.clone())?);
            }
        }
        for (who, kind, result) in report
            .provisional_notices
            .iter()
            .filter_map(provisional_event)
        {
            lines.push(event(who, kind, None, result)?);
        }
        for c in report.contested.iter().filter(|c| c.new) {
            lines.push(event(&c.user, Event::Contested, None, c.reason.clone())?);
        }
        // A hub that could not be read says nothing about who is admin now.
        Ok((lines, report.version.is_some().then_some(seen_now)))
    }
}

/// The audit line a provisional administrator's notice is, if any: `(user, event,
/// result)`. Its end coming soon is news, not a record.
fn provisional_event(notice: &crate::plan::provisional::Notice) -> Option<(&str, Event, String)> {
    use crate::plan::provisional::Notice;
    Some(match notice {
        Notice::Kept(p) => (
            p.user.as_str(),
            Event::Provisional,
            format!(
                "added in the hub: {}",
                crate::report::describe_provisional(p)
            ),
        ),
        Notice::Lapsed(p, why) => (p.user.as_str(), Event::ProvisionalEnded, why.clone()),
        Notice::Ended(p) => (
            p.user.as_str(),
            Event::ProvisionalEnded,
            "ui_grants keep_for ran out".to_string(),
        ),
        Notice::Ending(_) => return None,
    })
}

#[cfg(test)]
mod tests;
