//! The words for how a run of a hub turned out, shared by the report, the JSON, the
//! metrics, the alerts and the audit trail: why it failed ([`ErrorKind`]) and why a
//! change was left undone ([`Skipped`]).

use serde::{Serialize, Serializer};
use std::fmt;

/// Why a run of a hub ended in an error. Its `as_str` is the JSON `error_kind` and
/// the `kind` label of `jupyterhub_admin_sync_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The hub could not be reached, or the connection failed.
    Transport,
    /// A request timed out.
    Timeout,
    /// The hub answered with an error status.
    Status,
    /// The answer is not what JupyterHub sends.
    Decode,
    /// The answer was larger than allowed.
    TooLarge,
    /// The hub redirected (never followed: the token would go with it).
    Redirect,
    /// The user listing did not add up.
    Incomplete,
    /// The hub is older than JupyterHub 2.0.
    TooOld,
    /// The hub's client could not be set up.
    Setup,
    /// The token's owner is not an admin, so it cannot change admin flags.
    NotAdmin,
    /// The revocation brake held.
    Brake,
    /// Some changes failed.
    Apply,
    /// `--plan`: the hub's admins are not what they were when the plan was made, or a
    /// change is not in the plan.
    PlanChanged,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::Status,
        ErrorKind::Decode,
        ErrorKind::TooLarge,
        ErrorKind::Redirect,
        ErrorKind::Incomplete,
        ErrorKind::TooOld,
        ErrorKind::Setup,
        ErrorKind::NotAdmin,
        ErrorKind::Brake,
        ErrorKind::Apply,
        ErrorKind::PlanChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "status",
            ErrorKind::Decode => "decode",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Redirect => "redirect",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::TooOld => "too_old",
            ErrorKind::Setup => "setup",
            ErrorKind::NotAdmin => "not_admin",
            ErrorKind::Brake => "brake",
            ErrorKind::Apply => "apply",
            ErrorKind::PlanChanged => "plan_changed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a planned change was not made this run. Serialised as the sentence people
/// read (`"skipped": "policy grant does not revoke"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skipped {
    /// `--dry-run`: nothing is changed.
    DryRun,
    /// Policy `report` changes nothing.
    PolicyReport,
    /// Policy `grant` does not revoke.
    PolicyGrant,
    /// The revocation brake held every revocation this run.
    Brake,
    /// Something else keeps undoing this change (hub config, authenticator): the daemon
    /// leaves the user alone until the roster changes for them or SIGHUP.
    Contested,
    /// The daemon was stopping.
    ShuttingDown,
    /// An earlier change found the hub unreachable; the rest wait for the next run.
    HubStoppedAnswering,
}

impl Skipped {
    pub fn as_str(self) -> &'static str {
        match self {
            Skipped::DryRun => "dry run",
            Skipped::PolicyReport => "policy report changes nothing",
            Skipped::PolicyGrant => "policy grant does not revoke",
            Skipped::Brake => "held by the brake",
            Skipped::Contested => "contested: something else keeps undoing it",
            Skipped::ShuttingDown => "shutting down",
            Skipped::HubStoppedAnswering => "not tried: the hub stopped answering",
        }
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Skipped {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
