//! A hub's log as evidence for one run after another: where it is read (a file, or the
//! hub pod through the Kubernetes API), the pairing of its lines, and the [`Ledger`] of
//! what it showed, with where reading stopped for the next run.
//!
//! A file is parsed on a blocking thread, so that a run reads the hub and its log at
//! the same time. Whether the source works is said, not guessed: the tool's own
//! requests appear in the hub's log at INFO, so a source that shows none of them after
//! the tool has read the hub is the wrong file, a level above INFO, or another format
//! ([`Usable`]).

use std::time::Duration;

use super::attribute::Attributor;
use super::file::{LogFile, Position};
use super::kubernetes::{KubeApi, KubeError, PodLog, PodPosition};
use super::ledger::Ledger;
use super::{Gap, LineSink};

/// Where a hub's own log is read, and the zone of its times.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub place: LogPlace,
    pub zone: super::LogZone,
}

/// Where a hub writes its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPlace {
    /// A file, followed across rotation.
    File(std::path::PathBuf),
    /// The hub pod's container in Kubernetes (the pod found by its labels).
    Kubernetes(super::KubeSource),
}

impl std::fmt::Display for LogPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogPlace::File(path) => write!(f, "file {}", path.display()),
            LogPlace::Kubernetes(k) => write!(
                f,
                "kubernetes namespace {}, pods {}, container {}",
                k.namespace, k.selector, k.container
            ),
        }
    }
}

/// How long after a line its request may still end (the hub writes the request line
/// when the request ends).
const HOLD: Duration = Duration::from_secs(30);

/// Where reading stopped, kept in the daemon's state between runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourcePosition {
    File(Position),
    Kubernetes(PodPosition),
}

/// Why the log could not be read this time.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("the hub's log {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("the hub's log in Kubernetes: {0}")]
    Kubernetes(#[from] KubeError),
    #[error("the hub's log in Kubernetes cannot be read from here: {0}")]
    Unavailable(String),
}

/// How a run reads the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// A one-shot run: the whole log, once; every line settled with what was read.
    Once,
    /// The daemon: what the log gained since the last run, bounded; a line is settled
    /// once the log has moved past the time its request could still end.
    Follow,
}

/// What one catch-up may read: a one-shot run reads the whole log (an hour at the
/// benchmark's 100 MiB/s is far beyond any hub's log), the daemon a bounded part of what
/// it gained, so one run never stalls on a huge backlog.
fn budget(reading: Reading) -> u64 {
    match reading {
        Reading::Once => 1 << 40,
        Reading::Follow => 256 << 20,
    }
}

/// What the latest read says of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usable {
    /// Not judged yet (nothing of the tool's own was due in it).
    Unknown,
    /// It shows the tool's own requests.
    Yes,
    /// It does not, for this reason: who made each change cannot be said.
    No(String),
}

enum Reader {
    File(Option<LogFile>),
    Kubernetes(Box<PodLog>),
    /// The source cannot be set up (not in a cluster, say): the reason.
    Broken(String),
}

/// One hub's log, read run after run.
pub struct Evidence {
    place: String,
    reader: Reader,
    attributor: Option<Attributor>,
    ledger: Ledger,
    usable: Usable,
    reading: Reading,
    /// The tool's own user listings the log showed at the last judgement.
    listed_before: u64,
}

impl std::fmt::Debug for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evidence")
            .field("place", &self.place)
            .field("usable", &self.usable)
            .finish_non_exhaustive()
    }
}

/// A line sink that is the attributor, for a source that wants `Send`.
struct Sink<'a>(&'a mut Attributor);

impl LineSink for Sink<'_> {
    fn line(&mut self, line: &[u8]) {
        self.0.feed(line);
    }
    fn gap(&mut self, gap: Gap) {
        self.0.on_gap(&gap);
    }
}

impl Evidence {
    /// The log of a hub as the roster places it, read from `position` on (none: from
    /// its start), adding to `ledger` (what earlier runs read, and the tool's own
    /// changes).
    pub fn new(
        config: &LogConfig,
        reading: Reading,
        position: Option<SourcePosition>,
        ledger: Ledger,
    ) -> Evidence {
        let reader = match (&config.place, position) {
            (LogPlace::File(path), position) => {
                let position = match position {
                    Some(SourcePosition::File(p)) => Some(p),
                    _ => None,
                };
                Reader::File(Some(LogFile::new(path, position)))
            }
            (LogPlace::Kubernetes(source), position) => match KubeApi::in_cluster() {
                Ok(api) => {
                    let position = match position {
                        Some(SourcePosition::Kubernetes(p)) => Some(p),
                        _ => None,
                    };
                    Reader::Kubernetes(Box::new(PodLog::new(api, source.clone(), position)))
                }
                Err(e) => Reader::Broken(e.to_string()),
            },
        };
        Evidence {
            place: config.place.to_string(),
            reader,
            attributor: Some(Attributor::new(config.zone.clone(), HOLD)),
            ledger,
            usable: Usable::Unknown,
            reading,
            listed_before: 0,
        }
    }

    /// Reads what the log has gained since the last call into the ledger (a run does
    /// this while it reads the hub).
    pub async fn catch_up(&mut self) -> Result<(), SourceError> {
        self.read().await
    }

    /// After the hub was read: reads the few lines the reading added and judges the
    /// source by them. The hub writes a request's line before it answers the next
    /// request, so once the hub is read its log holds this run's listing of users by
    /// `owner` (the name the token has on the hub).
    pub async fn confirm(&mut self, owner: Option<&str>) -> Result<(), SourceError> {
        let result = self.read().await;
        self.judge(owner);
        result
    }

    async fn read(&mut self) -> Result<(), SourceError> {
        let budget = budget(self.reading);
        let Some(mut attributor) = self.attributor.take() else {
            return Ok(());
        };
        let result = match &mut self.reader {
            Reader::File(slot) => {
                let mut file = slot.take().expect("a file reader between reads");
                let path = file.path().display().to_string();
                let (file, attributor_back, result) = tokio::task::spawn_blocking(move || {
                    let result = file.read(budget, &mut attributor);
                    (file, attributor, result)
                })
                .await
                .expect("the log reader does not panic");
                *slot = Some(file);
                attributor = attributor_back;
                result
                    .map(|_| ())
                    .map_err(|source| SourceError::File { path, source })
            }
            Reader::Kubernetes(pod) => pod
                .read(budget, &mut Sink(&mut attributor))
                .await
                .map(|_| ())
                .map_err(SourceError::from),
            Reader::Broken(why) => Err(SourceError::Unavailable(why.clone())),
        };
        let events = if self.reading == Reading::Once {
            attributor.flush()
        } else {
            attributor.take_settled()
        };
        self.ledger.add(events);
        self.attributor = Some(attributor);
        result
    }

    /// Settles the lines still waiting for their request with what was read (as a
    /// one-shot run does), into the ledger: at a daemon's stop, so that a restart, which
    /// goes on from where reading stopped, loses no change the log showed.
    pub fn settle_pending(&mut self) {
        if let Some(attributor) = self.attributor.as_mut() {
            let events = attributor.flush();
            self.ledger.add(events);
        }
    }

    /// Judges the source: a log that shows lines but no request at all is not the
    /// hub's log at INFO; one that does not show `owner`'s listing of users since the
    /// last judgement is the wrong file or pod, or another format.
    fn judge(&mut self, owner: Option<&str>) {
        let Some(stats) = self.attributor.as_ref().map(|a| a.stats()) else {
            return;
        };
        let listed = owner
            .and_then(|o| stats.listings_by.get(o))
            .copied()
            .unwrap_or(0);
        if stats.lines > 0 && stats.requests == 0 {
            self.usable = Usable::No(format!(
                "the hub's log ({}) has {} lines but no request line: a log level above INFO, or not JupyterHub's default format",
                self.place, stats.lines
            ));
        } else if let Some(owner) = owner.filter(|_| listed == self.listed_before) {
            self.usable = Usable::No(format!(
                "the hub's log ({}) does not show this run's listing of users by {}: the wrong file or pod, a log level above INFO, or not JupyterHub's default format",
                self.place,
                crate::name::printable(owner)
            ));
        } else if owner.is_some() {
            self.usable = Usable::Yes;
        }
        self.listed_before = listed;
    }

    pub fn usable(&self) -> &Usable {
        &self.usable
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The users whose change the log shows but does not attribute yet: its lines wait
    /// for their request line, or for the log to move on (a bulk add's role line waits
    /// until no other request can still cover it). Empty once the log as read decided.
    pub fn pending_users(&self) -> std::collections::BTreeSet<crate::name::UserName> {
        self.attributor
            .iter()
            .flat_map(|a| a.pending_users())
            .map(crate::name::UserName::new)
            .collect()
    }

    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// Where reading stopped, for the next run.
    pub fn position(&self) -> Option<SourcePosition> {
        match &self.reader {
            Reader::File(Some(file)) => file.position().cloned().map(SourcePosition::File),
            Reader::Kubernetes(pod) => pod.position().cloned().map(SourcePosition::Kubernetes),
            _ => None,
        }
    }

    /// Where the log is, as the roster places it.
    pub fn place(&self) -> &str {
        &self.place
    }
}
