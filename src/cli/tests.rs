//! The command line as users and scripts call it: every flag, variable and default
//! they rely on, which mode each call chooses, and the combinations refused.

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use std::time::Duration;

use super::run::{Allowance, RunMode};
use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("jupyterhub-admin-sync").chain(args.iter().copied()))
}

fn parsed(args: &[&str]) -> Cli {
    parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn refused(args: &[&str]) -> ErrorKind {
    match parse(args) {
        Ok(cli) => panic!("{args:?} parsed: {cli:?}"),
        Err(e) => e.kind(),
    }
}

#[test]
fn the_command_line_is_well_formed() {
    Cli::command().debug_assert();
}

#[test]
fn each_mode_flag_chooses_its_mode_and_none_the_daemon() {
    for (args, mode) in [
        (&["-c", "r.yaml"][..], None),
        (&["-c", "r.yaml", "--dry-run"], Some(RunMode::DryRun)),
        (&["-c", "r.yaml", "--once"], Some(RunMode::Once)),
        (
            &["--config", "r.yaml", "--validate"],
            Some(RunMode::Validate),
        ),
    ] {
        let cli = parsed(args);
        assert!(cli.command.is_none(), "{args:?}");
        assert_eq!(cli.modes.mode.selected(), mode, "{args:?}");
        assert_eq!(
            cli.roster.config.as_deref(),
            Some(std::path::Path::new("r.yaml"))
        );
    }
}

#[test]
fn at_most_one_mode_and_no_mode_with_a_subcommand() {
    for args in [
        &["--dry-run", "--once"][..],
        &["--dry-run", "--validate"],
        &["--once", "--validate"],
    ] {
        assert_eq!(refused(args), ErrorKind::ArgumentConflict, "{args:?}");
    }
    assert_eq!(refused(&["--dry-run", "dump"]), ErrorKind::ArgumentConflict);
    assert_eq!(
        refused(&["dump", "-c", "r.yaml", "--dry-run"]),
        ErrorKind::UnknownArgument
    );
    assert_eq!(refused(&["nosuch"]), ErrorKind::InvalidSubcommand);
}

#[test]
fn a_saved_plan_is_written_by_a_dry_run_and_applied_by_once_only() {
    assert_eq!(
        refused(&["-c", "r.yaml", "--plan-out", "p.json"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        refused(&["-c", "r.yaml", "--plan", "p.json"]),
        ErrorKind::MissingRequiredArgument
    );
    // With the other mode, `requires` alone let these through: `--dry-run --plan`
    // made the plan's changes.
    for args in [
        &["--once", "--plan-out", "p.json"][..],
        &["--validate", "--plan-out", "p.json"],
        &["--dry-run", "--plan", "p.json"],
        &["--validate", "--plan", "p.json"],
    ] {
        assert_eq!(refused(args), ErrorKind::ArgumentConflict, "{args:?}");
    }
    let cli = parsed(&["-c", "r.yaml", "--dry-run", "--plan-out", "p.json"]);
    assert_eq!(cli.modes.plan_out.as_deref(), Some("p.json".as_ref()));
    let cli = parsed(&["-c", "r.yaml", "--once", "--plan", "p.json"]);
    assert_eq!(cli.modes.plan.as_deref(), Some("p.json".as_ref()));
}

#[test]
fn revocations_are_allowed_per_hub_and_only_with_once() {
    let cli = parsed(&[
        "-c",
        "r.yaml",
        "--once",
        "--allow-revocations",
        "climate-prod=3",
        "--allow-revocations",
        "ocean-prod=0",
    ]);
    assert_eq!(
        cli.modes.allow_revocations,
        vec![
            Allowance {
                hub: "climate-prod".into(),
                revocations: 3
            },
            Allowance {
                hub: "ocean-prod".into(),
                revocations: 0
            },
        ]
    );
    assert!(cli.modes.check().is_ok());
    for mode in [&[][..], &["--dry-run"], &["--validate"]] {
        let mut args = vec!["-c", "r.yaml", "--allow-revocations", "h=1"];
        args.extend_from_slice(mode);
        assert!(
            matches!(
                parsed(&args).modes.check(),
                Err(CliError::AllowanceWithoutOnce)
            ),
            "{args:?}"
        );
    }
    for bad in ["h", "=1", "h=x", "h=-1"] {
        assert_eq!(
            refused(&["--once", "--allow-revocations", bad]),
            ErrorKind::ValueValidation,
            "{bad}"
        );
    }
}

#[test]
fn durations_and_numbers_have_their_defaults_and_bounds() {
    let cli = parsed(&["-c", "r.yaml"]);
    assert_eq!(cli.common.request_timeout, Duration::from_secs(30));
    assert_eq!(cli.common.audit_lock_wait, Duration::from_secs(10));
    assert_eq!(cli.common.concurrency, 8);
    assert_eq!(cli.common.max_attempts, 5);
    assert_eq!(cli.daemon.interval, Duration::from_secs(300));
    assert_eq!(cli.daemon.roster_poll, Duration::from_secs(2));
    assert_eq!(cli.daemon.expiry_warning, Duration::from_secs(7 * 86_400));
    assert_eq!(cli.daemon.shutdown_grace, Duration::from_secs(8));
    assert_eq!(cli.modes.output, Output::Text);

    let cli = parsed(&[
        "-c",
        "r.yaml",
        "--interval",
        "90s",
        "--request-timeout",
        "500ms",
        "--expiry-warning",
        "14d",
        "--concurrency",
        "256",
        "--max-attempts",
        "1",
    ]);
    assert_eq!(cli.daemon.interval, Duration::from_secs(90));
    assert_eq!(cli.common.request_timeout, Duration::from_millis(500));
    assert_eq!(cli.daemon.expiry_warning, Duration::from_secs(14 * 86_400));
    assert_eq!(cli.common.concurrency, 256);
    assert_eq!(cli.common.max_attempts, 1);
    assert_eq!(cli.common.client_options().retry.max_attempts, 1);
    assert_eq!(
        cli.common.client_options().request_timeout,
        Duration::from_millis(500)
    );

    for args in [
        &["--interval", "0s"][..],
        &["--shutdown-grace", "soon"],
        &["--concurrency", "0"],
        &["--concurrency", "257"],
        &["--max-attempts", "21"],
        &["--digest-at", "25:00"],
    ] {
        assert_eq!(refused(args), ErrorKind::ValueValidation, "{args:?}");
    }
    assert_eq!(
        refused(&["-c", "r.yaml", "--digest-always"]),
        ErrorKind::MissingRequiredArgument
    );
    assert!(
        parsed(&["-c", "r.yaml", "--digest-at", "08:30", "--digest-always"])
            .daemon
            .digest_always
    );
}

#[test]
fn dump_names_its_hub_one_way_or_the_other() {
    assert_eq!(
        refused(&["dump", "--api-url", "http://hub/hub/api"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        refused(&["dump", "--hub", "h"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        refused(&[
            "dump",
            "--api-url",
            "http://hub/hub/api",
            "--token-env",
            "T",
            "--hub",
            "h",
            "-c",
            "r.yaml"
        ]),
        ErrorKind::ArgumentConflict
    );
    let cli = parsed(&["dump", "-c", "r.yaml", "--hub", "h"]);
    assert!(
        matches!(cli.command, Some(Command::Dump(ref args)) if args.hub.as_deref() == Some("h"))
    );
}

#[test]
fn the_subcommands_take_their_own_arguments() {
    let cli = parsed(&[
        "diff", "--base", "a.yaml", "-c", "b.yaml", "--output", "markdown",
    ]);
    let Some(Command::Diff(args)) = cli.command else {
        panic!("diff")
    };
    assert_eq!(args.output, Output::Markdown);
    assert_eq!(args.base, std::path::Path::new("a.yaml"));
    assert_eq!(
        refused(&["diff", "--base", "a.yaml"]),
        ErrorKind::MissingRequiredArgument
    );

    let cli = parsed(&["import", "--z2jh-values", "a.yaml", "b.yaml"]);
    let Some(Command::Import(args)) = cli.command else {
        panic!("import")
    };
    assert_eq!(args.values.len(), 2);
    assert_eq!(args.community, crate::adopt::import::DEFAULT_COMMUNITY);
    assert_eq!(refused(&["import"]), ErrorKind::MissingRequiredArgument);

    assert!(matches!(parsed(&["schema"]).command, Some(Command::Schema)));
    assert_eq!(refused(&["schema", "extra"]), ErrorKind::UnknownArgument);

    let cli = parsed(&["audit", "verify", "a.jsonl.1", "a.jsonl"]);
    let Some(Command::Audit(audit::AuditCommand::Verify(args))) = cli.command else {
        panic!("audit verify")
    };
    assert_eq!(args.files.len(), 2);
    assert_eq!(
        refused(&["audit", "verify"]),
        ErrorKind::MissingRequiredArgument
    );
}

/// Scripts, the chart and the docs name these: each flag keeps its name and each
/// variable its flag.
#[test]
fn every_flag_and_variable_users_rely_on_is_there() {
    let command = Cli::command();
    let flag = |long: &str| {
        command
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .unwrap_or_else(|| panic!("--{long} is gone"))
    };
    for long in [
        "config",
        "dry-run",
        "once",
        "validate",
        "plan",
        "plan-out",
        "allow-revocations",
        "hub",
        "output",
        "log-format",
        "concurrency",
        "request-timeout",
        "max-attempts",
        "audit-log",
        "audit-lock-wait",
        "interval",
        "listen",
        "alert-webhook-url",
        "alert-format",
        "roster-poll",
        "expiry-warning",
        "digest-at",
        "digest-always",
        "state-dir",
        "shutdown-grace",
    ] {
        flag(long);
    }
    for (long, var) in [
        ("config", "JUPYTERHUB_ADMIN_SYNC_CONFIG"),
        ("log-format", "JUPYTERHUB_ADMIN_SYNC_LOG_FORMAT"),
        ("audit-log", "JUPYTERHUB_ADMIN_SYNC_AUDIT_LOG"),
        ("listen", "JUPYTERHUB_ADMIN_SYNC_LISTEN"),
        (
            "alert-webhook-url",
            "JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL",
        ),
        ("alert-format", "JUPYTERHUB_ADMIN_SYNC_ALERT_FORMAT"),
        ("state-dir", "JUPYTERHUB_ADMIN_SYNC_STATE_DIR"),
    ] {
        assert_eq!(
            flag(long).get_env().and_then(|v| v.to_str()),
            Some(var),
            "--{long}"
        );
    }
    assert!(flag("alert-webhook-url").is_hide_env_values_set());
    assert_eq!(flag("config").get_short(), Some('c'));
    let subcommands: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
    assert_eq!(subcommands, ["dump", "import", "diff", "schema", "audit"]);
}

#[test]
fn the_debug_of_the_command_line_hides_the_webhook_url() {
    let url = "https://hooks.example.org/services/T0/B0/s3cr3t-path";
    let cli = parsed(&["-c", "r.yaml", "--alert-webhook-url", url]);
    assert_eq!(
        cli.daemon.alert_webhook_url.as_ref().map(|u| u.expose()),
        Some(url)
    );
    let debug = format!("{cli:?} {cli:#?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(!debug.contains("hooks.example.org"), "{debug}");
}
