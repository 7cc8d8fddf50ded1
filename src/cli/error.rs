//! Why a mode or a subcommand stopped before its report: the one error type of the
//! command line's handlers, printed once, by [`super::run()`], as `error: …`.
//!
//! The messages are the ones scripts, the chart, CI workflows and the docs have seen
//! since the modes existed: a wrapped error shows its own message, unchanged.

use std::process::ExitCode;

use super::run::Allowance;
use crate::adopt::dump::DumpError;
use crate::adopt::import::ImportError;
use crate::alert::UrlError;
use crate::audit::AuditError;
use crate::daemon::DaemonError;
use crate::hub::HubError;
use crate::review::saved_plan::SavedPlanError;
use crate::roster::RosterError;

/// Why a handler failed. Every case exits 1 (2 means drift here).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A mode, or the daemon, without `--config` or its variable.
    #[error("the roster is needed: --config FILE, or JUPYTERHUB_ADMIN_SYNC_CONFIG (see --help)")]
    NoRoster,
    /// `--allow-revocations` outside `--once`.
    #[error("--allow-revocations lets one reviewed plan through once: it needs --once")]
    AllowanceWithoutOnce,
    /// `--allow-revocations HUB=N` for a hub this run does not reconcile.
    #[error(
        "--allow-revocations {}={}: no hub {} in this run",
        .0.hub, .0.revocations, .0.hub
    )]
    AllowanceNoSuchHub(Allowance),
    /// `dump` with neither of its two ways to name a hub.
    #[error("dump needs --api-url URL --token-env VAR, or --config FILE|DIR --hub NAME")]
    DumpTarget,
    /// The roster does not load or is invalid.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// `diff`: one side or both are invalid; each is its own line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidRosters(Vec<InvalidSide>),
    /// A hub's client cannot be set up (its CA bundle, its URL).
    #[error(transparent)]
    Client(#[from] HubError),
    /// The plan of `--plan` does not read, or that of `--plan-out` does not write.
    #[error(transparent)]
    Plan(#[from] SavedPlanError),
    /// The audit log cannot be opened or is held by another writer.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// `--alert-webhook-url` is not a webhook URL (the message never repeats it).
    #[error(transparent)]
    Webhook(#[from] UrlError),
    /// The daemon cannot catch SIGTERM, SIGINT and SIGHUP.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// The daemon's state (`--state-dir`) cannot be read.
    #[error(transparent)]
    State(crate::daemon::state::StateError),
    /// The daemon cannot start (its roster, its address, its audit log, its alerts).
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    /// `dump` cannot read the hub or write its fragment.
    #[error(transparent)]
    Dump(#[from] DumpError),
    /// `import` cannot read the values or find the hub's admins in them.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The async runtime does not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// One invalid side of a `diff`.
#[derive(Debug, thiserror::Error)]
#[error("the {side} roster: {error}")]
pub(crate) struct InvalidSide {
    /// `base` or `new`.
    pub(crate) side: &'static str,
    pub(crate) error: RosterError,
}

impl CliError {
    /// What is printed, one `error: ` line (or block) each: one message, or one per
    /// invalid side of a `diff`.
    pub(crate) fn messages(&self) -> Vec<String> {
        match self {
            CliError::InvalidRosters(sides) => sides.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }

    /// The process's exit code: 1 for every error.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn unreadable(path: &str) -> RosterError {
        RosterError::Read {
            path: PathBuf::from(path),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }
    }

    #[test]
    fn each_invalid_side_of_a_diff_is_its_own_message() {
        let error = CliError::InvalidRosters(vec![
            InvalidSide {
                side: "base",
                error: unreadable("a.yaml"),
            },
            InvalidSide {
                side: "new",
                error: unreadable("b.yaml"),
            },
        ]);
        let messages = error.messages();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].starts_with("the base roster: a.yaml: cannot read the roster"),
            "{messages:?}"
        );
        assert!(
            messages[1].starts_with("the new roster: b.yaml: cannot read the roster"),
            "{messages:?}"
        );
    }

    #[test]
    fn a_wrapped_error_keeps_its_own_message() {
        let error = CliError::from(unreadable("r.yaml"));
        assert_eq!(error.messages(), vec![unreadable("r.yaml").to_string()]);
        assert_eq!(error.exit_code(), ExitCode::from(1));
    }

    #[test]
    fn the_messages_of_usage_errors_are_as_scripts_know_them() {
        let allowance = Allowance {
            hub: "nohub".into(),
            revocations: 1,
        };
        for (error, message) in [
            (
                CliError::NoRoster,
                "the roster is needed: --config FILE, or JUPYTERHUB_ADMIN_SYNC_CONFIG (see --help)",
            ),
            (
                CliError::AllowanceWithoutOnce,
                "--allow-revocations lets one reviewed plan through once: it needs --once",
            ),
            (
                CliError::AllowanceNoSuchHub(allowance),
                "--allow-revocations nohub=1: no hub nohub in this run",
            ),
            (
                CliError::DumpTarget,
                "dump needs --api-url URL --token-env VAR, or --config FILE|DIR --hub NAME",
            ),
        ] {
            assert_eq!(error.messages(), vec![message.to_string()]);
        }
    }
}
