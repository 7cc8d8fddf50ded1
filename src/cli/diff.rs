//! `diff`: compares two rosters offline (no token read, no hub contacted): who gains
//! and loses admin on which hub, and why. Exit 0 no change, 2 changes, 1 either
//! roster invalid; an invalid side is also shown on stdout as markdown or JSON, so a
//! pull-request comment names it.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::error::InvalidSide;
use super::{CliError, Output};
use crate::date::{Clock, Date, SystemClock};
use crate::roster::{OfflineRoster, Roster};

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The roster before the change (a file or a directory), e.g. the main branch's.
    #[arg(long, value_name = "FILE|DIR")]
    pub(crate) base: PathBuf,
    /// The roster after the change (a file or a directory), e.g. the pull request's.
    #[arg(long, short = 'c', value_name = "FILE|DIR")]
    pub(crate) config: PathBuf,
    /// The diff's format: text, markdown (a pull-request comment) or json.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,
    /// The day `expires` dates are judged on (YYYY-MM-DD, UTC); default: today.
    #[arg(long, value_name = "DATE", value_parser = Date::parse)]
    pub(crate) today: Option<Date>,
}

/// Loads both rosters without their secrets and prints who gains and loses admin.
pub(crate) fn cmd(args: &DiffArgs) -> Result<ExitCode, CliError> {
    let (base, new) = match (load("base", &args.base), load("new", &args.config)) {
        (Ok(base), Ok(new)) => (base, new),
        (base, new) => {
            let invalid: Vec<InvalidSide> = [base.err(), new.err()].into_iter().flatten().collect();
            print_invalid(&invalid, args.output);
            return Err(CliError::InvalidRosters(invalid));
        }
    };
    let today = args.today.unwrap_or_else(|| SystemClock.today());
    let d = crate::review::diff::diff(&base, &new, today);
    match args.output {
        Output::Text => print!("{d}"),
        Output::Json => println!("{}", d.to_json()),
        Output::Markdown => print!("{}", crate::review::markdown::diff(&d)),
    }
    Ok(ExitCode::from(d.exit_code()))
}

/// One side, its warnings to the log.
fn load(side: &'static str, path: &std::path::Path) -> Result<OfflineRoster, InvalidSide> {
    let roster = Roster::load_offline(path).map_err(|error| InvalidSide { side, error })?;
    for warning in roster.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(roster)
}

/// The invalid sides on stdout, for the pull-request comment (markdown) or a program
/// (JSON); text shows them on stderr only.
fn print_invalid(invalid: &[InvalidSide], output: Output) {
    let sides: Vec<(&str, String)> = invalid
        .iter()
        .map(|side| (side.side, side.error.to_string()))
        .collect();
    match output {
        Output::Markdown => print!("{}", crate::review::markdown::invalid(&sides)),
        Output::Json => {
            let sides: serde_json::Map<String, serde_json::Value> = sides
                .into_iter()
                .map(|(side, error)| (side.to_string(), error.into()))
                .collect();
            println!("{}", serde_json::json!({ "invalid": sides }));
        }
        Output::Text => {}
    }
}
