//! `audit verify`: checks the hash chain of audit files written by `--audit-log`,
//! oldest first. Each file's verdict is on stdout (an unreadable file's on stderr);
//! exit 0 every chain intact, 1 a chain broken or a file unreadable.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
use crate::audit::verify::{self, Verdict};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain of audit files, oldest first (audit.jsonl.1 audit.jsonl).
    /// Exit 0 every chain intact, 1 a chain broken (the first line that does not
    /// follow is named) or a file unreadable.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The files, oldest first: a rotated file before the one that follows it.
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub(crate) files: Vec<PathBuf>,
}

/// Runs the `audit` subcommand given.
pub(crate) fn cmd(command: &AuditCommand) -> Result<ExitCode, CliError> {
    match command {
        AuditCommand::Verify(args) => Ok(verify(args)),
    }
}

/// Prints each file's verdict. A broken or unreadable file is a verdict of the
/// check, not an error of the command: every file is checked and named.
fn verify(args: &VerifyArgs) -> ExitCode {
    let reports = verify::verify(&args.files);
    for report in &reports {
        match report.verdict {
            Verdict::Unreadable(_) => eprint!("error: {report}"),
            _ => print!("{report}"),
        }
    }
    ExitCode::from(verify::exit_code(&reports))
}
