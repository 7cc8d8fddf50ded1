//! The command line: the top-level parser, and the one place that runs a mode or a
//! subcommand and prints its error.
//!
//! Each mode and subcommand has its own file with its arguments and its handler, as
//! cargo-deny lays out its subcommands: `run.rs` (`--dry-run`, `--once`,
//! `--validate`), `daemon.rs` (no mode), `dump.rs`, `import.rs`, `diff.rs`,
//! `schema.rs` and `audit.rs` (`audit verify`). `shared.rs` holds what several of them
//! use: where the roster is, the flags of every run against hubs, and the parsers. A
//! handler returns its exit code or an error (`error.rs`); [`run()`] prints the error,
//! once, as `error: …`, and exits 1. Usage errors that clap finds also exit 1, since 2
//! means drift here.

use clap::{Parser, ValueEnum};
use std::process::ExitCode;

use crate::logging::LogFormat;

mod audit;
mod daemon;
mod diff;
mod dump;
mod error;
mod import;
mod run;
mod schema;
mod shared;
#[cfg(test)]
mod tests;

pub(crate) use error::CliError;

/// Keep JupyterHub admins equal to a declared roster, and say who added whom.
#[derive(Debug, Parser)]
#[command(name = "jupyterhub-admin-sync", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    #[command(flatten)]
    pub(crate) roster: shared::RosterArg,

    #[command(flatten)]
    pub(crate) common: shared::CommonArgs,

    #[command(flatten)]
    pub(crate) modes: run::RunArgs,

    #[command(flatten)]
    pub(crate) daemon: daemon::DaemonArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print a roster fragment for a live hub's current admins (to start adopting).
    Dump(dump::DumpArgs),
    /// Print a roster fragment for one hub from its Zero to JupyterHub Helm values.
    Import(import::ImportArgs),
    /// Compare two rosters offline: who gains and loses admin on which hub, and why.
    /// Reads no token and contacts no hub. Exit 0 no change, 2 changes, 1 either
    /// roster invalid.
    Diff(diff::DiffArgs),
    /// Print the roster's JSON Schema (config/roster.schema.json), for editors and CI.
    Schema,
    /// The audit trail written by --audit-log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

/// The format of a report or a diff on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
    /// A pull-request comment: a table per hub, every name in an inert code span.
    Markdown,
}

/// Parses the command line. Usage errors exit 1 (2 means drift here); `--help` and
/// `--version` exit 0.
pub fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    })
}

impl Cli {
    /// The format of the logs on stderr, which are set up before anything runs.
    pub fn log_format(&self) -> LogFormat {
        self.common.log_format
    }
}

/// Runs the mode or subcommand on a new async runtime and returns the process's exit
/// code. This is the one place a handler's error is printed.
pub fn run(cli: Cli) -> ExitCode {
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
        .and_then(|runtime| runtime.block_on(dispatch(cli)));
    match result {
        Ok(code) => code,
        Err(error) => {
            for message in error.messages() {
                eprintln!("error: {message}");
            }
            error.exit_code()
        }
    }
}

/// Hands the command line to its subcommand's or mode's handler. Without a subcommand
/// the roster is needed; without a mode the daemon runs.
async fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let Cli {
        command,
        roster,
        common,
        modes,
        daemon,
    } = cli;
    match command {
        Some(Command::Dump(args)) => return dump::cmd(&args).await,
        Some(Command::Import(args)) => return import::cmd(&args),
        Some(Command::Diff(args)) => return diff::cmd(&args),
        Some(Command::Schema) => return schema::cmd(),
        Some(Command::Audit(command)) => return audit::cmd(&command),
        None => {}
    }
    let config = roster.config.ok_or(CliError::NoRoster)?;
    modes.check()?;
    match modes.mode.selected() {
        None => daemon::cmd(&daemon, &common, config).await,
        Some(mode) => run::cmd(mode, &modes, &common, &config).await,
    }
}
