//! The modes that run once and exit: `--validate` (the roster only), `--dry-run` (read
//! every hub, change nothing; with `--plan-out`, save the plan) and `--once` (reconcile
//! every hub by its policy; with `--plan`, make only a saved plan's changes; with
//! `--allow-revocations`, let a reviewed plan through the safety floor).
//!
//! Exit codes: 0 in sync (or valid), 2 drift, 1 an error: the report's, or a
//! [`CliError`] before it.

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::shared::{self, CommonArgs};
use super::{CliError, Output};
use crate::audit::Journal;
use crate::daemon::state::StateStore;
use crate::hub::HubClient;
use crate::plan::provisional::ByHub;
use crate::reconcile::OneShot;
use crate::report::{Mode, RunReport};
use crate::review::saved_plan::{self, SavedPlan};
use crate::roster::{HubSpec, Roster};

/// The modes and the flags that only they take.
#[derive(Debug, Args)]
#[command(next_help_heading = "Modes (without one, the daemon runs)")]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) mode: ModeArgs,

    /// The report on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub(crate) output: Output,

    /// With --dry-run: also write the plan, with a digest of each hub's admins as
    /// read, to FILE (JSON), for --once --plan.
    // `requires` alone lets `--once --plan-out` through: clap waives a requirement
    // that conflicts with an argument given, and the modes conflict with each other.
    #[arg(long, value_name = "FILE", requires = "dry_run", conflicts_with_all = ["once", "validate"])]
    pub(crate) plan_out: Option<PathBuf>,

    /// With --once: make only the changes of this saved plan, and only on hubs whose
    /// admins are still as the plan saw them (else the hub fails, untouched).
    // As --plan-out: without the conflicts, `--dry-run --plan` made the plan's changes.
    #[arg(long, value_name = "FILE", requires = "once", conflicts_with_all = ["dry_run", "validate"])]
    pub(crate) plan: Option<PathBuf>,

    /// With --once: let a reviewed plan's revocations through the safety floor once,
    /// on hub HUB, if the plan still has at most N (repeatable). Read the --dry-run
    /// first.
    #[arg(long, value_name = "HUB=N", value_parser = parse_allowance)]
    pub(crate) allow_revocations: Vec<Allowance>,
}

/// At most one mode; none runs the daemon.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(crate) struct ModeArgs {
    /// Read every hub and report what would change; change nothing.
    /// Exit 0 in sync, 2 drift, 1 error.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Reconcile every hub once by its policy, then exit (0 in sync, 2 drift left, 1 error).
    #[arg(long)]
    pub(crate) once: bool,
    /// Check the roster (and that every hub's token resolves), then exit (0 valid, 1 not).
    #[arg(long)]
    pub(crate) validate: bool,
}

/// The mode chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunMode {
    DryRun,
    Once,
    Validate,
}

impl ModeArgs {
    /// The mode given, if any (clap lets through at most one).
    pub(crate) fn selected(&self) -> Option<RunMode> {
        match (self.dry_run, self.once, self.validate) {
            (true, _, _) => Some(RunMode::DryRun),
            (_, true, _) => Some(RunMode::Once),
            (_, _, true) => Some(RunMode::Validate),
            _ => None,
        }
    }
}

impl RunArgs {
    /// What clap cannot say: `--allow-revocations` only with `--once`, which keeps
    /// its message from before clap knew the other rules.
    pub(crate) fn check(&self) -> Result<(), CliError> {
        if !self.allow_revocations.is_empty() && self.mode.selected() != Some(RunMode::Once) {
            return Err(CliError::AllowanceWithoutOnce);
        }
        Ok(())
    }
}

/// `--allow-revocations HUB=N`: the hub and how many revocations a reviewed plan had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Allowance {
    pub(crate) hub: String,
    pub(crate) revocations: u32,
}

/// Why an `--allow-revocations` value is not `HUB=N`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AllowanceError {
    #[error("{0:?}: expected HUB=N (the hub and the revocations of the reviewed plan)")]
    Shape(String),
    #[error("{0:?}: N must be a number of revocations")]
    Number(String),
}

/// Reads `HUB=N`; the last `=` splits, so a hub's name may hold one.
pub(crate) fn parse_allowance(text: &str) -> Result<Allowance, AllowanceError> {
    let (hub, n) = text
        .rsplit_once('=')
        .filter(|(hub, _)| !hub.trim().is_empty())
        .ok_or_else(|| AllowanceError::Shape(text.to_string()))?;
    let revocations = n
        .trim()
        .parse()
        .map_err(|_| AllowanceError::Number(text.to_string()))?;
    Ok(Allowance {
        hub: hub.trim().to_string(),
        revocations,
    })
}

/// Runs `mode` (`--validate`, `--dry-run` or `--once`) on the roster at
/// `config` and prints its report on stdout.
pub(crate) async fn cmd(
    mode: RunMode,
    args: &RunArgs,
    common: &CommonArgs,
    config: &Path,
) -> Result<ExitCode, CliError> {
    let roster = shared::load_roster(config, &common.hubs)?;
    let mode = match mode {
        RunMode::Validate => {
            println!("{}", valid(&roster));
            return Ok(ExitCode::SUCCESS);
        }
        RunMode::DryRun => Mode::DryRun,
        RunMode::Once => Mode::Once,
    };
    let journal = match (&common.audit_log, mode) {
        (Some(path), Mode::Once) => Some(Journal::open(path, mode, common.audit_lock_wait).await?),
        _ => None,
    };
    if let Some(journal) = &journal {
        journal.warn_unsettled(roster.selected(&common.hubs));
    }
    let saved = args.plan.as_deref().map(SavedPlan::read).transpose()?;
    let mut targets = shared::clients(roster.selected(&common.hubs), &common.client_options())?;
    allow_revocations(&mut targets, &args.allow_revocations)?;
    let concurrency = common.concurrency.into();
    let kept = provisional_records(common.state_dir.as_deref(), &targets)?;
    let with = OneShot {
        journal: journal.as_ref(),
        kept: kept.as_ref(),
    };
    let report = match (&args.plan_out, &saved) {
        (Some(path), _) => {
            let (report, plan) =
                saved_plan::plan_all(&roster, &targets, concurrency, with.kept).await;
            plan.write(path)?;
            report
        }
        (None, Some(plan)) => {
            saved_plan::apply_all(&roster, &targets, plan, concurrency, with).await
        }
        (None, None) => crate::reconcile::run_all(&roster, &targets, mode, concurrency, with).await,
    };
    print_report(&report, args.output);
    Ok(ExitCode::from(report.exit_code() as u8))
}

/// The daemon's records of provisional administrators of the hubs with `ui_grants`,
/// read (never written) from its state dir; none without `--state-dir`.
fn provisional_records(
    state_dir: Option<&Path>,
    targets: &[(HubSpec, HubClient)],
) -> Result<Option<ByHub>, CliError> {
    let Some(dir) = state_dir else {
        return Ok(None);
    };
    let store = StateStore::new(dir);
    let mut kept = ByHub::new();
    for (spec, _) in targets
        .iter()
        .filter(|(s, _)| s.settings.ui_grants.is_some())
    {
        let state = store.load(spec.name.as_str()).map_err(CliError::State)?;
        kept.insert(spec.name.as_str().to_string(), state.provisional);
    }
    Ok(Some(kept))
}

/// `--validate`'s line: the roster and how much it declares.
fn valid(roster: &Roster) -> String {
    let people: usize = roster
        .communities
        .iter()
        .map(|c| c.representatives.len() + c.administrators.len())
        .sum::<usize>()
        + roster.engineers.len();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}: valid ({}, {}, {})",
        roster.source.display(),
        plural(roster.communities.len(), "community", "communities"),
        plural(roster.hubs.len(), "hub", "hubs"),
        plural(people, "person", "people")
    )
}

/// Lets each allowance's hub through the safety floor for this run; an allowance for
/// a hub this run does not reconcile is an error, since the review it stands for was
/// of another run.
fn allow_revocations(
    targets: &mut [(HubSpec, HubClient)],
    allowances: &[Allowance],
) -> Result<(), CliError> {
    for allowance in allowances {
        let Some((spec, _)) = targets
            .iter_mut()
            .find(|(spec, _)| spec.name.is(&allowance.hub))
        else {
            return Err(CliError::AllowanceNoSuchHub(allowance.clone()));
        };
        spec.settings.rules.allow_revocations = Some(allowance.revocations);
    }
    Ok(())
}

fn print_report(report: &RunReport, output: Output) {
    match output {
        Output::Text => print!("{report}"),
        Output::Json => println!("{}", report.to_json()),
        Output::Markdown => print!("{}", crate::review::markdown::report(report)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowance_is_a_hub_and_a_number_of_revocations() {
        assert_eq!(
            parse_allowance("climate-prod=3"),
            Ok(Allowance {
                hub: "climate-prod".into(),
                revocations: 3
            })
        );
        assert_eq!(
            parse_allowance(" climate-prod = 0 "),
            Ok(Allowance {
                hub: "climate-prod".into(),
                revocations: 0
            })
        );
        // The last `=` splits.
        assert_eq!(
            parse_allowance("a=b=2"),
            Ok(Allowance {
                hub: "a=b".into(),
                revocations: 2
            })
        );
    }

    #[test]
    fn an_allowance_without_a_hub_or_a_number_is_refused_naming_the_text() {
        for text in ["climate-prod", "=3", " =3", ""] {
            assert_eq!(
                parse_allowance(text),
                Err(AllowanceError::Shape(text.to_string())),
                "{text:?}"
            );
        }
        for text in [
            "climate-prod=",
            "climate-prod=x",
            "climate-prod=-1",
            "h=1.5",
        ] {
            assert_eq!(
                parse_allowance(text),
                Err(AllowanceError::Number(text.to_string())),
                "{text:?}"
            );
        }
        assert_eq!(
            AllowanceError::Number("h=x".into()).to_string(),
            "\"h=x\": N must be a number of revocations"
        );
        assert_eq!(
            AllowanceError::Shape("h".into()).to_string(),
            "\"h\": expected HUB=N (the hub and the revocations of the reviewed plan)"
        );
    }
}
