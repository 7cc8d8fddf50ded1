//! The handles on the audit trail: [`Journal`], which a mode opens once (none without
//! `--audit-log`), and [`HubJournal`], which one run of one hub writes through.
//!
//! A run asks its `HubJournal` to settle what an earlier run left unsettled once the
//! hub has been read, to write an intent before each change (no change without it) and
//! an outcome after, and to close the run. The writer's lock is taken when the journal
//! opens, waiting up to `--audit-lock-wait`; a writer that finds it held goes on, and
//! whatever it must write fails with error kind `audit`, naming the holder (after one
//! wait, later attempts within the same span try once rather than wait again).

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

use super::{AuditError, AuditLog, ChangeLine, Event, Subject, body, lock, now};
use crate::hub::HubError;
use crate::name::HubName;
use crate::outcome::ErrorKind;
use crate::plan::{Action, Change};
use crate::report::{HubReport, Mode};
use crate::roster::{Desired, HubSpec};
use crate::snapshot::HubSnapshot;

/// How often a waiting writer tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// Names one run: its start (UTC, to the second) and 32 random bits, e.g.
/// `20261128T003103Z-9f2c4e1a`. A `--once` run is the process; in the daemon, each run
/// of each hub is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    pub fn fresh() -> RunId {
        let time = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let compact: String = time.chars().filter(|c| !matches!(c, '-' | ':')).collect();
        RunId(format!("{compact}-{:08x}", fastrand::u32(..)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The audit trail of one process. Clones share it.
#[derive(Debug, Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    log: Mutex<AuditLog>,
    path: PathBuf,
    mode: Mode,
    wait: Duration,
    run: RunId,
    /// Numbers intents within the process: ids are `<run>.<n>`.
    seq: AtomicU64,
    /// After a wait for the lock ran out: until when a writer tries once instead of
    /// waiting again.
    busy_until: Mutex<Option<Instant>>,
}

impl Journal {
    /// Opens the trail at `path` for `mode`, waiting up to `lock_wait` for the lock.
    /// Fails only when the file (or its lock file) cannot be opened; a lock held by
    /// another writer is logged, and what must be written fails later.
    pub async fn open(path: &Path, mode: Mode, lock_wait: Duration) -> Result<Journal, AuditError> {
        let run = RunId::fresh();
        let log = AuditLog::open(path, mode, run.clone())?;
        let journal = Journal {
            inner: Arc::new(Inner {
                log: Mutex::new(log),
                path: path.to_owned(),
                mode,
                wait: lock_wait,
                run,
                seq: AtomicU64::new(0),
                busy_until: Mutex::new(None),
            }),
        };
        match journal.hold().await {
            Ok(()) => {}
            Err(error @ AuditError::Busy { .. }) => {
                tracing::warn!(%error, "the audit log is held by another writer; changes wait until it is free");
                journal.log().peek();
            }
            Err(error) => return Err(error),
        }
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The process's run.
    pub fn run(&self) -> &RunId {
        &self.inner.run
    }

    /// The hash of the trail's last line, once the lock is held.
    pub fn head(&self) -> Option<super::LineHash> {
        self.log().head()
    }

    /// How many intents each hub has unsettled (by the hub's name as written): a
    /// hub that no run reads keeps them, and the modes say so at start.
    pub fn unsettled(&self) -> std::collections::BTreeMap<String, usize> {
        self.log().book.by_hub()
    }

    /// Says which hubs keep intents that no run of these `hubs` will settle: a hub
    /// left out of this run, or gone from the roster, keeps them until a run reads it.
    pub fn warn_unsettled<'a>(&self, hubs: impl Iterator<Item = &'a HubSpec>) {
        let hubs: Vec<&HubSpec> = hubs.collect();
        for (hub, n) in self.unsettled() {
            if !hubs.iter().any(|h| h.name.is(&hub)) {
                tracing::warn!(
                    hub = %crate::name::printable(&hub),
                    unsettled = n,
                    "changes on this hub were left without an outcome, and it is not reconciled here: they stay unsettled until a run reads it (their intent lines in the audit log say what was about to be done)"
                );
            }
        }
    }

    /// A run of `spec`'s hub; `expired` are its administrators whose entry ran out
    /// (their revocations say so and who had added them).
    pub fn begin(&self, spec: &HubSpec, expired: &Desired) -> HubJournal {
        let run = match self.inner.mode {
            Mode::Daemon => RunId::fresh(),
            Mode::Once | Mode::DryRun => self.inner.run.clone(),
        };
        HubJournal {
            journal: self.clone(),
            hub: spec.name.clone(),
            community: spec.community.clone(),
            run,
            expired: expired.clone(),
            wrote: AtomicBool::new(false),
            spent_ns: AtomicU64::new(0),
        }
    }

    /// A run of hub `hub` of `community`, for tests.
    #[cfg(test)]
    pub(crate) fn begin_for_test(&self, hub: &str, community: &str) -> HubJournal {
        HubJournal {
            journal: self.clone(),
            hub: HubName::new(hub),
            community: community.to_string(),
            run: RunId::fresh(),
            expired: Desired::new(),
            wrote: AtomicBool::new(false),
            spent_ns: AtomicU64::new(0),
        }
    }

    fn log(&self) -> MutexGuard<'_, AuditLog> {
        self.inner.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn busy_until(&self) -> MutexGuard<'_, Option<Instant>> {
        self.inner
            .busy_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Holds the writer's lock: at once if this process does, else waiting up to the
    /// lock wait (or trying once, within a wait that already ran out).
    async fn hold(&self) -> Result<(), AuditError> {
        let started = Instant::now();
        let deadline = match *self.busy_until() {
            Some(until) if started < until => started,
            _ => started + self.inner.wait,
        };
        loop {
            let held = self.log().take()?;
            if held {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                *self.busy_until() = Some(now + self.inner.wait);
                let lock_path = self.log().lock_path.clone();
                let holder = lock::holder(&lock_path).map_or_else(
                    || "its holder could not be read".to_string(),
                    |h| h.to_string(),
                );
                return Err(AuditError::Busy {
                    path: self.inner.path.clone(),
                    holder,
                    wait: self.inner.wait,
                });
            }
            tokio::time::sleep(POLL.min(deadline - now)).await;
        }
    }
}

/// A change whose intent is written: its outcome must follow
/// ([`HubJournal::outcome`]).
#[derive(Debug)]
#[must_use = "an intent's outcome is written with HubJournal::outcome"]
pub struct Intent {
    id: String,
    subject: Subject,
}

impl Intent {
    /// `<run>.<n>`: what its outcome line names.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// One run of one hub, writing through the process's [`Journal`].
#[derive(Debug)]
pub struct HubJournal {
    journal: Journal,
    hub: HubName,
    community: String,
    run: RunId,
    expired: Desired,
    /// Whether this run wrote a line (then its end syncs).
    wrote: AtomicBool,
    /// Time spent writing and syncing this run's lines, logged at its end: what the
    /// trail costs a run.
    spent_ns: AtomicU64,
}

impl HubJournal {
    pub fn run(&self) -> &RunId {
        &self.run
    }

    /// After the hub has been read, before any change: writes the outcome of each of
    /// its intents that an earlier run left unsettled (or whose answer was lost), as
    /// `snapshot` shows it. Returns how many outcomes it wrote.
    pub async fn settle(&self, snapshot: &HubSnapshot) -> Result<usize, AuditError> {
        if !self.journal.log().book.has(&self.hub) {
            return Ok(0);
        }
        let _spent = self.spending();
        self.journal.hold().await?;
        let written = self.journal.log().settle(&self.hub, snapshot, &self.run)?;
        if written > 0 {
            self.wrote.store(true, Ordering::SeqCst);
        }
        Ok(written)
    }

    /// Writes and syncs the intent of `change`, before the hub is asked to make it.
    /// An error means the change must not be made.
    pub async fn intent(&self, change: &Change) -> Result<Intent, AuditError> {
        let _spent = self.spending();
        self.journal.hold().await?;
        let n = self.journal.inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let id = format!("{}.{n}", self.journal.inner.run);
        let subject = self.subject(change);
        let time = now();
        let line = self.line(&time, &subject, Event::Intent, None, Some(&id), None);
        let mut log = self.journal.log();
        let json = body(&line).map_err(|e| log.err(e))?;
        log.append(&[json], true)?;
        self.wrote.store(true, Ordering::SeqCst);
        Ok(Intent { id, subject })
    }

    /// Writes the outcome of `intent`: `Ok` the hub made the change, `Err` it did not
    /// (or did not answer). Written at once and synced with the next intent or at the
    /// run's end: if it is lost in a crash, its intent is settled at the next start.
    /// An error means later changes must not be made (the disk is failing).
    pub fn outcome(&self, intent: Intent, result: Result<(), &HubError>) -> Result<(), AuditError> {
        let _spent = self.spending();
        let (event, text) = match result {
            Ok(()) => (Event::Applied, "ok".to_string()),
            Err(error) => (Event::Failed, error.to_string()),
        };
        let time = now();
        let line = self.line(
            &time,
            &intent.subject,
            event,
            Some(&text),
            None,
            Some(&intent.id),
        );
        let mut log = self.journal.log();
        let written = body(&line)
            .map_err(|e| log.err(e))
            .and_then(|json| log.append(&[json], false));
        let origin = match (&written, result) {
            (Err(_), _) => Some(super::settle::Origin::Unwritten),
            (Ok(()), Err(HubError::Transport { .. })) => Some(super::settle::Origin::Unanswered),
            _ => None,
        };
        if let Some(origin) = origin {
            log.book.add(super::settle::Unsettled {
                id: intent.id,
                subject: intent.subject,
                origin,
            });
        }
        written
    }

    /// Closes the run: writes what it found undone, the undeclared admins seen for the
    /// first time and the users newly contested, syncs, and logs the trail's head. A
    /// failure fails the run with kind `audit`.
    pub async fn finish(&self, report: &mut HubReport) {
        match self.close(report).await {
            Ok(false) => {}
            Ok(true) => {
                // Logged, so that a tail removed from the file shows against the logs.
                let head = self
                    .journal
                    .head()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                let spent_ms = self.spent_ns.load(Ordering::SeqCst) as f64 / 1e6;
                tracing::info!(hub = %report.name, run = %self.run, head = %head, audit_ms = %format!("{spent_ms:.1}"), "audit log written; its head");
            }
            Err(error) => {
                tracing::error!(hub = %report.name, %error, "cannot write the audit log");
                report.fail(ErrorKind::Audit, error.to_string());
            }
        }
    }

    /// What [`HubJournal::finish`] writes; whether this run wrote any line.
    async fn close(&self, report: &HubReport) -> Result<bool, AuditError> {
        let (bodies, seen) = {
            let log = self.journal.log();
            log.closing_lines(report, &self.run)
                .map_err(|e| log.err(e))?
        };
        let wrote = self.wrote.load(Ordering::SeqCst);
        if bodies.is_empty() && !wrote {
            if let Some(seen) = seen {
                self.journal.log().seen.insert(report.name.clone(), seen);
            }
            return Ok(false);
        }
        let _spent = self.spending();
        self.journal.hold().await?;
        let mut log = self.journal.log();
        log.append(&bodies, true)?;
        if let Some(seen) = seen {
            log.seen.insert(report.name.clone(), seen);
        }
        log.note();
        Ok(true)
    }

    /// Counts the time until the guard is dropped as spent on the trail.
    fn spending(&self) -> Spending<'_> {
        Spending {
            spent_ns: &self.spent_ns,
            started: std::time::Instant::now(),
        }
    }

    /// The line's subject: the change as the hub spells its user; a revocation of an
    /// administrator whose entry expired says so and who had added them.
    fn subject(&self, change: &Change) -> Subject {
        let expired = (change.action == Action::Revoke)
            .then(|| self.expired.get(&change.user))
            .flatten();
        let (added_by, person) = match expired {
            Some(d) => (d.added_by.as_ref(), d.person.as_ref()),
            None => (change.added_by.as_ref(), change.person.as_ref()),
        };
        Subject {
            hub: self.hub.as_str().to_string(),
            community: self.community.clone(),
            user: change.hub_name.clone(),
            action: change.action,
            role: change.role,
            added_by: added_by.map(|u| u.as_str().to_string()),
            person: person.map(|u| u.as_str().to_string()),
            expired: expired.and_then(|d| d.expires).map(|day| day.to_string()),
            admin_paths: Subject::paths_of(change.action, &change.paths),
            made: change.made_by.clone(),
        }
    }

    fn line<'a>(
        &'a self,
        time: &'a str,
        subject: &'a Subject,
        event: Event,
        result: Option<&'a str>,
        id: Option<&'a str>,
        intent: Option<&'a str>,
    ) -> ChangeLine<'a> {
        ChangeLine {
            time,
            subject,
            event,
            result,
            mode: self.journal.inner.mode,
            run: &self.run,
            id,
            intent,
            note: None,
        }
    }
}

/// Adds the time it lived to a run's time spent on the trail.
struct Spending<'a> {
    spent_ns: &'a AtomicU64,
    started: std::time::Instant,
}

impl Drop for Spending<'_> {
    fn drop(&mut self) {
        let ns = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.spent_ns.fetch_add(ns, Ordering::SeqCst);
    }
}
