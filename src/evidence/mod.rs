//! Who made each admin change, read from the hub's own log.
//!
//! JupyterHub keeps no history of who granted admin and has no event for it, but it logs
//! every change with the actor (checked on real 4.1.6 and 6.1.1 hubs, see
//! `tests/hub_log.rs`):
//!
//! ```text
//! [I 2026-12-01 12:38:43.845 JupyterHub users:395] rep-lee setting admin=True for newbie
//! [I 2026-12-01 12:38:43.845 JupyterHub roles:281] Adding role admin for User: newbie
//! [I 2026-12-01 12:38:43.848 JupyterHub log:192] 200 PATCH /hub/api/users/newbie (rep-lee@127.0.0.1) 6.71ms
//! ```
//!
//! This module turns such lines into [`AdminEvent`]s: who was changed, how, by whom
//! ([`MadeBy`]), through what ([`Via`]), when (UTC, through the log's [`LogZone`]) and with
//! what status. [`line`](mod@line) reads one line without copying; [`attribute`] pairs the lines
//! of one request (the hub writes the request line last, at the request's end, with its
//! duration); [`file`](mod@file) reads a log file incrementally, across rotation, bounded;
//! [`kubernetes`] reads a hub pod's log through the Kubernetes API (Zero to JupyterHub),
//! incrementally, across pod restarts, bounded. The parser and the pairing take lines
//! from any source ([`LineSink`]).
//!
//! The log is evidence, never an instruction. Names are read only where the hub's format
//! fixes them: the actor of a change is the request line's user, and a message counts
//! only when it is exactly the text the hub would write for that request's actor and
//! path, so a name holding spaces, brackets or the words of these lines forges nothing;
//! where two requests could have made a change, or the log has a hole, the answer is
//! [`MadeBy::Unknown`]. One hole no log reader can close: a user name holding a line
//! break can write whole lines ([`name_can_forge_lines`] tells the caller which names).
//! Whether a change was this tool's own is the caller's to say (it knows its own
//! requests); here it is just another actor's name.

pub mod attribute;
pub mod file;
pub mod kubernetes;
pub mod ledger;
pub mod line;
pub mod source;
#[cfg(test)]
mod tests;

use std::fmt;

pub use attribute::{Attributor, Stats};
pub use file::{LogFile, Position, ReadReport};
pub use kubernetes::{KubeApi, KubeError, KubeSource, PodLog, PodPosition};
pub use ledger::{Attribution, Ledger, OwnChange, minute_utc};
pub use source::{Evidence, LogConfig, LogPlace, Reading, SourcePosition, Usable};

/// One admin change the log shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdminEvent {
    pub target: Target,
    pub change: Change,
    pub made_by: MadeBy,
    /// How the change came in; `None` when nothing in the log says.
    pub via: Option<Via>,
    /// When the hub logged the change (its local time, converted to UTC).
    pub at: jiff::Timestamp,
    /// The status of the request that made it; `None` for the hub's start or when no
    /// request is known.
    pub status: Option<u16>,
}

/// Whom a change was about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A user, spelled as the hub spells it. `name_erased`: JupyterHub 6.1.1's admin
    /// page also set the user's name to null in the same request (its "Edit User" sends
    /// the unchanged name); the hub logs `None` and `name` is the request path's name,
    /// which the hub's user list no longer shows.
    User { name: String, name_erased: bool },
    /// Members added to or removed from a group: the hub logs how many, not who.
    Members { count: u32 },
}

impl Target {
    /// The user's name, if the log names one.
    pub fn user(&self) -> Option<&str> {
        match self {
            Target::User { name, .. } => Some(name),
            Target::Members { .. } => None,
        }
    }
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// An existing user made admin.
    Granted,
    /// A user's admin taken away.
    Revoked,
    /// A user created as an admin (`POST /users` with `admin: true`).
    CreatedAdmin,
    /// Members added to a group (which may hold the `admin` role).
    AddedToGroup { group: String },
    /// Members removed from a group.
    RemovedFromGroup { group: String },
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MadeBy {
    /// A user or a service, by the name its request line gives.
    Actor(String),
    /// The hub's configuration, applied at its start (`admin_users`, `load_roles`).
    Configuration,
    /// The authenticator, at a login or a refresh of one (an explicit `admin` in its
    /// answer, `admin_groups`, `manage_roles`).
    Authenticator,
    /// This tool itself: set by the caller from its own audit intents (never read from a
    /// name in the log).
    ThisTool,
    /// The log does not say, for this reason.
    Unknown(Unknown),
}

impl fmt::Display for MadeBy {
    /// As a sentence says it: `rep-lee`, `the hub's configuration (admin_users or
    /// load_roles)`. When is the [`Via`]'s to say (`at the hub's start`, `at login`), so a
    /// phrase does not say it twice.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MadeBy::Actor(name) => f.write_str(&crate::name::printable(name)),
            MadeBy::Configuration => {
                f.write_str("the hub's configuration (admin_users or load_roles)")
            }
            MadeBy::Authenticator => f.write_str("the authenticator"),
            MadeBy::ThisTool => f.write_str("this tool"),
            MadeBy::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unknown::NoRequest => f.write_str("the hub's log shows no request that made it"),
            Unknown::Overlap { actors } => write!(
                f,
                "requests of {} at the same moment could each have made it",
                actors
                    .iter()
                    .map(|a| crate::name::printable(a))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            Unknown::Gap(kind) => write!(f, "the hub's log has a hole there ({kind:?})"),
            Unknown::NotInLog => f.write_str("the hub's log as read does not show it"),
        }
    }
}

impl fmt::Display for Via {
    /// `in the admin page`, `through the API`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::AdminPage => "in the admin page",
            Via::Api => "through the API",
            Via::HubStart => "at the hub's start",
            Via::Login => "at login",
            Via::Refresh => "at a login refresh",
        })
    }
}

/// Why the log cannot say who made a change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// No request that could have made it covers the line (or none was written yet
    /// when the reading was settled).
    NoRequest,
    /// Two or more requests could have made it (two bulk adds at once): their actors.
    Overlap { actors: Vec<String> },
    /// The log has a hole around it.
    Gap(GapKind),
    /// The log as read has no line about the change (it is older than what was read,
    /// or the source is not the hub's log).
    NotInLog,
}

/// The way a change came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The hub's admin page: its requests carry `?_xsrf=`.
    AdminPage,
    /// The REST API (a token, no `_xsrf` in the query).
    Api,
    /// The hub's start.
    HubStart,
    /// A login (`/hub/login`, `/hub/oauth_callback`).
    Login,
    /// Another request of the user themselves, during which the authenticator
    /// refreshed their login.
    Refresh,
}

/// A part of the log that could not be read: changes in it are unknown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gap {
    pub kind: GapKind,
    /// Bytes known lost, when known.
    pub bytes_lost: Option<u64>,
}

/// How a part of the log was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// The file was rotated and the old one was gone (or compressed) before it was
    /// read to its end.
    RotatedPast,
    /// The file was truncated or rewritten in place (copytruncate): what was after the
    /// saved position is gone.
    Truncated,
    /// The source said lines were lost (say, a pod restarted).
    SourceLost,
}

/// Where lines go: the pairing ([`Attributor`]) implements it; any source feeds it.
pub trait LineSink {
    /// One line, without its line break.
    fn line(&mut self, line: &[u8]);
    /// A hole in the log, at this point of the stream.
    fn gap(&mut self, gap: Gap);
}

/// The zone of the hub's log times (the log writes none).
#[derive(Clone, Debug, PartialEq)]
pub struct LogZone(jiff::tz::TimeZone);

/// A zone name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a time zone (an IANA name such as Europe/Berlin, or UTC)")]
pub struct ZoneError {
    pub name: String,
}

impl LogZone {
    /// UTC, the zone of a hub in a container (Zero to JupyterHub).
    pub fn utc() -> LogZone {
        LogZone(jiff::tz::TimeZone::UTC)
    }

    /// This machine's zone: a hub writing its log here (a VM, The Littlest JupyterHub)
    /// writes its times in it.
    pub fn system() -> LogZone {
        LogZone(jiff::tz::TimeZone::system())
    }

    /// An IANA zone (`Europe/Berlin`) or `UTC`; summer time is followed.
    pub fn named(name: &str) -> Result<LogZone, ZoneError> {
        jiff::tz::TimeZone::get(name)
            .map(LogZone)
            .map_err(|_| ZoneError {
                name: name.to_string(),
            })
    }

    /// The instant a log time stands for. A time the clock shows twice (summer time
    /// ends) is taken as the earlier; one it skips as after the jump.
    pub fn to_utc(&self, time: line::LocalTime) -> jiff::Timestamp {
        let (y, mo, d, h, mi, s, ms) = time.parts();
        let civil =
            jiff::civil::DateTime::new(y as i16, mo, d, h, mi, s, i32::from(ms) * 1_000_000);
        civil
            .ok()
            .and_then(|dt| self.0.to_ambiguous_timestamp(dt).compatible().ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
}

impl fmt::Display for LogZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.iana_name().unwrap_or("UTC"))
    }
}

/// True when a user or service name could write whole lines into the log (it holds a
/// line break): a hub with such a name cannot be read as evidence, since the name can
/// forge any line, header and all. The caller checks the names it lists.
pub fn name_can_forge_lines(name: &str) -> bool {
    name.contains(['\n', '\r'])
}
