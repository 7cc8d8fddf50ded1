//! The audit trail: one JSON object per line for every change made (or tried) and
//! every undeclared admin seen, appended and synced after each run of a hub.
//!
//! JupyterHub keeps no history of who granted admin; this file is that history. Lines
//! are only ever appended. If the file is moved away (log rotation) it is opened
//! again; if it cannot be written (its directory is gone) the run says so and
//! reconciling goes on.

use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::name::{HubName, UserName};
use crate::plan::{Action, Standing};
use crate::report::{HubReport, Mode};

#[derive(Debug, Serialize)]
struct Line<'a> {
    time: String,
    hub: &'a str,
    community: &'a str,
    /// As the hub spells them.
    user: &'a str,
    action: Action,
    role: Standing,
    added_by: Option<&'a UserName>,
    /// The roster's name for the person, when the hub knows them by another username.
    #[serde(skip_serializing_if = "Option::is_none")]
    person: Option<&'a UserName>,
    /// The day an administrator's entry ran out, when that is why admin was revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    expired: Option<&'a str>,
    /// `applied`, `failed` or `seen` (an undeclared admin left in place).
    event: &'static str,
    /// `ok`, the error, or why a seen admin was left.
    result: String,
    mode: Mode,
}

/// A line about the hub rather than a change: a change the daemon made that something
/// else undid (`reversed`), or a user it has stopped changing (`contested`).
#[derive(Debug, Serialize)]
struct EventLine<'a> {
    time: &'a str,
    hub: &'a str,
    community: &'a str,
    user: &'a str,
    event: &'static str,
    /// The change that was undone (and that the daemon makes again, until contested).
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<Action>,
    result: String,
    mode: Mode,
}

#[derive(Debug, thiserror::Error)]
#[error("audit log {}: {source}", path.display())]
pub struct AuditError {
    path: PathBuf,
    source: std::io::Error,
}

/// An append-only audit file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Option<File>,
    /// Undeclared admins already recorded as seen, per hub, so that an admin the
    /// policy leaves in place is written once, not at every run.
    seen: HashMap<HubName, BTreeSet<UserName>>,
}

impl AuditLog {
    /// Opens (creating if needed) the file for appending.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let mut log = AuditLog {
            path: path.to_owned(),
            file: None,
            seen: HashMap::new(),
        };
        log.file = Some(log.reopen()?);
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: std::io::Error) -> AuditError {
        AuditError {
            path: self.path.clone(),
            source,
        }
    }

    fn reopen(&self) -> Result<File, AuditError> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.err(e))
    }

    /// The open file, opened again if the path no longer names it.
    fn file(&mut self) -> Result<&mut File, AuditError> {
        let current = match (&self.file, std::fs::metadata(&self.path)) {
            (Some(file), Ok(on_disk)) => same_file(file, &on_disk),
            _ => false,
        };
        if !current {
            self.file = None;
            self.file = Some(self.reopen()?);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// Appends the lines for one hub's run and syncs them to disk.
    pub fn record(&mut self, mode: Mode, report: &HubReport) -> Result<usize, AuditError> {
        let time = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
        let mut lines = Vec::new();
        let mut seen_now = BTreeSet::new();
        let seen_before = self.seen.get(&report.name);
        // What this run found undone comes before what it did about it.
        for r in &report.reversals {
            let line = EventLine {
                time: &time,
                hub: report.name.as_str(),
                community: &report.community,
                user: &r.user,
                event: "reversed",
                action: Some(r.action),
                result: format!(
                    "something else undid the last change ({} reversal{} within a day)",
                    r.count,
                    if r.count == 1 { "" } else { "s" }
                ),
                mode,
            };
            lines.push(serde_json::to_string(&line).map_err(|e| self.err(e.into()))? + "\n");
        }
        for change in &report.changes {
            let (event, result) = if change.applied {
                ("applied", "ok".to_string())
            } else if let Some(error) = &change.error {
                ("failed", error.clone())
            } else if change.role == Standing::Undeclared {
                let who = UserName::new(&change.user);
                let known = seen_before.is_some_and(|s| s.contains(&who));
                seen_now.insert(who);
                if known {
                    continue;
                }
                (
                    "seen",
                    change
                        .skipped
                        .map_or("not revoked", |s| s.as_str())
                        .to_string(),
                )
            } else {
                continue;
            };
            let line = Line {
                time: time.clone(),
                hub: report.name.as_str(),
                community: &report.community,
                user: &change.user,
                action: change.action,
                role: change.role,
                added_by: change.added_by.as_ref(),
                person: change.person.as_ref(),
                expired: change.expired.as_deref(),
                event,
                result,
                mode,
            };
            let mut text = serde_json::to_string(&line).map_err(|e| self.err(e.into()))?;
            text.push('\n');
            lines.push(text);
        }
        for c in report.contested.iter().filter(|c| c.new) {
            let line = EventLine {
                time: &time,
                hub: report.name.as_str(),
                community: &report.community,
                user: &c.user,
                event: "contested",
                action: None,
                result: c.reason.clone(),
                mode,
            };
            lines.push(serde_json::to_string(&line).map_err(|e| self.err(e.into()))? + "\n");
        }
        // A hub that could not be read says nothing about who is admin now.
        if report.version.is_some() {
            self.seen.insert(report.name.clone(), seen_now);
        }
        if lines.is_empty() {
            return Ok(0);
        }
        let file = self.file()?;
        let written = lines
            .iter()
            .try_for_each(|l| file.write_all(l.as_bytes()))
            .and_then(|_| file.flush())
            .and_then(|_| file.sync_data());
        written.map_err(|e| self.err(e))?;
        Ok(lines.len())
    }
}

#[cfg(unix)]
fn same_file(file: &File, on_disk: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata()
        .map(|open| open.dev() == on_disk.dev() && open.ino() == on_disk.ino())
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn same_file(_file: &File, _on_disk: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ChangeReport, Status};

    fn report(changes: Vec<ChangeReport>) -> HubReport {
        HubReport::sample(Status::Drift, changes)
    }

    fn read_lines(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn applied_and_newly_seen_are_written_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
        let mut log = AuditLog::open(&path).unwrap();
        let r = report(vec![
            ChangeReport::sample(Action::Grant, "carol", Standing::Administrator, true),
            ChangeReport::sample(Action::Revoke, "mallory", Standing::Undeclared, false),
        ]);
        assert_eq!(log.record(Mode::Daemon, &r).unwrap(), 2);
        // The same undeclared admin next run: not written again.
        let r2 = report(vec![ChangeReport::sample(
            Action::Revoke,
            "mallory",
            Standing::Undeclared,
            false,
        )]);
        assert_eq!(log.record(Mode::Daemon, &r2).unwrap(), 0);
        let lines = read_lines(&path);
        assert_eq!(lines.len(), 3, "existing lines are kept");
        assert_eq!(lines[0]["earlier"], true);
        let grant = &lines[1];
        assert_eq!(grant["hub"], "climate-prod");
        assert_eq!(grant["community"], "climate-lab");
        assert_eq!(grant["user"], "carol");
        assert_eq!(grant["action"], "grant");
        assert_eq!(grant["role"], "administrator");
        assert_eq!(grant["added_by"], "rep-bob");
        assert_eq!(grant["event"], "applied");
        assert_eq!(grant["result"], "ok");
        assert!(grant["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(lines[2]["event"], "seen");
        assert_eq!(lines[2]["result"], "policy grant does not revoke");
    }

    #[test]
    fn a_rotated_file_is_opened_again_and_a_lost_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("logs");
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        let r = report(vec![ChangeReport::sample(
            Action::Grant,
            "carol",
            Standing::Administrator,
            true,
        )]);
        log.record(Mode::Daemon, &r).unwrap();
        std::fs::rename(&path, sub.join("audit.jsonl.1")).unwrap();
        log.record(Mode::Daemon, &r).unwrap();
        assert_eq!(read_lines(&path).len(), 1, "a new file after rotation");
        assert_eq!(read_lines(&sub.join("audit.jsonl.1")).len(), 1);

        std::fs::remove_dir_all(&sub).unwrap();
        let err = log.record(Mode::Daemon, &r).unwrap_err();
        assert!(err.to_string().starts_with("audit log "), "{err}");
        assert!(err.to_string().contains("audit.jsonl"), "{err}");
    }
}
