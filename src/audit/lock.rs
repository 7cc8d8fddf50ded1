//! One writer at a time: an advisory lock on `<audit file>.lock`.
//!
//! The lock file sits beside the audit file rather than being the audit file, so that
//! it survives rotation (a lock on the audit file would stay with the rotated inode).
//! Whoever holds it writes into it who they are (pid, host, mode, since) and the state
//! of the trail (the file's identity, length and head, after each run), so that a
//! waiting writer can name the holder and the next holder can tell a file emptied,
//! truncated or replaced while no one held it.
//!
//! The lock is `flock(2)`, through std's `File::try_lock`: the kernel drops it when
//! its holder dies, even by SIGKILL, so a crash leaves no stale lock. Like every
//! advisory lock it binds only the writers that take it (this tool), not `cat >>`.
//! The lock file is written in place and never renamed or removed: a lock belongs to
//! an inode, and a file renamed over it would let two writers each hold "the" lock.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::SystemTime;

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Holder {
    pub pid: u32,
    /// The machine (a pod's name in Kubernetes), when it can be read.
    pub host: Option<String>,
    /// `daemon` or `once`.
    pub mode: String,
    /// When it took the lock (RFC 3339, UTC).
    pub since: String,
}

impl Holder {
    /// This process, writing in `mode`, as of now.
    pub(super) fn this_process(mode: &str) -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        Holder {
            pid: std::process::id(),
            host,
            mode: mode.to_string(),
            since: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if let Some(host) = &self.host {
            write!(f, " on {}", crate::name::printable(host))?;
        }
        write!(
            f,
            " ({}, since {})",
            crate::name::printable(&self.mode),
            crate::name::printable(&self.since)
        )
    }
}

/// The audit file as its last writer left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct TrailState {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    /// The hash of its last line.
    pub head: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    holder: Holder,
    #[serde(default)]
    trail: Option<TrailState>,
}

/// The lock, held until dropped (or the process ends).
#[derive(Debug)]
pub(super) struct WriterLock {
    file: File,
    holder: Holder,
}

impl WriterLock {
    /// Takes the lock at `path` if no one holds it (`None` if someone does), with the
    /// state of the trail its last holder left.
    pub(super) fn try_take(
        path: &Path,
        holder: Holder,
    ) -> io::Result<Option<(WriterLock, Option<TrailState>)>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(e),
        }
        let before = read_record(&file).and_then(|r| r.trail);
        let lock = WriterLock { file, holder };
        lock.note(before.as_ref());
        Ok(Some((lock, before)))
    }

    /// Writes who holds the lock and the trail's state into the lock file. Best
    /// effort: on a full disk the lock still works, and the audit lines themselves
    /// are what fails.
    pub(super) fn note(&self, trail: Option<&TrailState>) {
        let record = Record {
            holder: self.holder.clone(),
            trail: trail.cloned(),
        };
        let mut text = serde_json::to_vec(&record).unwrap_or_default();
        text.push(b'\n');
        let written = (&self.file)
            .seek(SeekFrom::Start(0))
            .and_then(|_| (&self.file).write_all(&text))
            .and_then(|_| self.file.set_len(text.len() as u64));
        if let Err(error) = written {
            tracing::debug!(%error, "cannot note the audit lock's holder");
        }
    }
}

fn read_record(mut file: &File) -> Option<Record> {
    let mut text = Vec::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(64 * 1024).read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Who holds the lock at `path`, as they wrote it (nothing if it cannot be read).
pub(super) fn holder(path: &Path) -> Option<Holder> {
    read_record(&File::open(path).ok()?).map(|r| r.holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_and_can_name_the_holder_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl.lock");
        let first = Holder::this_process("daemon");
        let (lock, before) = WriterLock::try_take(&path, first.clone())
            .unwrap()
            .expect("free");
        assert_eq!(before, None);
        let trail = TrailState {
            dev: 1,
            ino: 2,
            len: 3,
            head: Some("ab".into()),
        };
        lock.note(Some(&trail));
        assert!(
            WriterLock::try_take(&path, Holder::this_process("once"))
                .unwrap()
                .is_none(),
            "held"
        );
        let named = holder(&path).expect("the holder is written");
        assert_eq!(named, first);
        assert!(
            named
                .to_string()
                .starts_with(&format!("pid {}", std::process::id())),
            "{named}"
        );
        assert!(named.to_string().contains("(daemon, since "), "{named}");
        drop(lock);
        let (_again, before) = WriterLock::try_take(&path, Holder::this_process("once"))
            .unwrap()
            .expect("free again");
        assert_eq!(before, Some(trail), "the last holder's trail state");
    }
}
