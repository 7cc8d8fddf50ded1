//! The command line: arguments, and what each mode does with them.

use clap::{Args, Parser, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::alert::{AlertFormat, WebhookUrl};
use crate::audit::Journal;
use crate::daemon::DaemonOptions;
use crate::hub::{ClientOptions, HubClient, HubError};
use crate::logging::LogFormat;
use crate::report::Mode;
use crate::retry::RetryPolicy;
use crate::review::saved_plan::SavedPlan;
use crate::roster::{HubSpec, Roster};

/// Keep JupyterHub admins equal to a declared roster, and say who added whom.
#[derive(Debug, Parser)]
#[command(name = "jupyterhub-admin-sync", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub roster: RosterArg,

    #[command(flatten)]
    pub mode: ModeArgs,

    /// Only these hubs (repeat for more); default: every hub in the roster.
    #[arg(long = "hub", value_name = "NAME")]
    pub hubs: Vec<String>,

    /// The report on stdout.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// With --dry-run: also write the plan, with a digest of each hub's admins as
    /// read, to FILE (JSON), for --once --plan.
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    pub plan_out: Option<PathBuf>,

    /// With --once: make only the changes of this saved plan, and only on hubs whose
    /// admins are still as the plan saw them (else the hub fails, untouched).
    #[arg(long, value_name = "FILE", requires = "once")]
    pub plan: Option<PathBuf>,

    /// The logs on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "JUPYTERHUB_ADMIN_SYNC_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// How many hubs are reconciled at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Timeout of each request to a hub (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Duration,

    /// Attempts per request before a transient failure counts (1 = no retry).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// --once: let a reviewed plan's revocations through the safety floor once, on hub
    /// HUB, if the plan still has at most N (repeatable). Read the --dry-run first.
    #[arg(long, value_name = "HUB=N", value_parser = parse_allowance)]
    pub allow_revocations: Vec<Allowance>,

    /// Append JSON lines to FILE (daemon and --once): a line before each change and
    /// its outcome after, each undeclared admin seen. No change is made without its
    /// line. See docs/audit.md.
    #[arg(long, value_name = "FILE", env = "JUPYTERHUB_ADMIN_SYNC_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,

    /// How long a writer waits for another writer (a daemon, a --once) to let go of
    /// the audit log before its hubs' runs fail with error kind audit.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub audit_lock_wait: Duration,

    /// Daemon: time between runs of each hub (30s, 2m, 1h), with ±10% jitter.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,

    /// Daemon: serve /healthz, /readyz and /metrics on this address (e.g. 0.0.0.0:9090).
    #[arg(long, value_name = "ADDR", env = "JUPYTERHUB_ADMIN_SYNC_LISTEN")]
    pub listen: Option<std::net::SocketAddr>,

    /// Daemon: POST drift alerts here (a secret: never printed). Prefer the environment variable.
    #[arg(
        long,
        value_name = "URL",
        env = "JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL",
        hide_env_values = true
    )]
    pub alert_webhook_url: Option<SecretArg>,

    /// Daemon: the body of alert messages: the JSON message with a Slack-compatible
    /// `text`, or an Alertmanager-compatible list of alerts.
    #[arg(long, value_enum, default_value_t = AlertFormat::Slack, env = "JUPYTERHUB_ADMIN_SYNC_ALERT_FORMAT")]
    pub alert_format: AlertFormat,

    /// Daemon: how often the roster file and token files are checked for changes.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub roster_poll: Duration,

    /// Daemon: how long before an administrator's `expires` date their community is told (e.g. 7d).
    #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
    pub expiry_warning: Duration,

    /// Daemon: send each alert route a daily digest of its hubs at this time (HH:MM, UTC).
    #[arg(long, value_name = "HH:MM")]
    pub digest_at: Option<crate::alert::digest::TimeOfDay>,

    /// Daemon: send the digest even when every hub is in sync and nothing expires.
    #[arg(long, requires = "digest_at")]
    pub digest_always: bool,
    /// Daemon: keep each hub's fight state (contested users) here across restarts.
    #[arg(long, value_name = "DIR", env = "JUPYTERHUB_ADMIN_SYNC_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Daemon: how long in-flight runs may take to finish after SIGTERM.
    #[arg(long, default_value = "8s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_grace: Duration,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a roster fragment for a live hub's current admins (to start adopting).
    Dump(DumpArgs),
    /// Print a roster fragment for one hub from its Zero to JupyterHub Helm values.
    Import(ImportArgs),
    /// Compare two rosters offline: who gains and loses admin on which hub, and why.
    /// Reads no token and contacts no hub. Exit 0 no change, 2 changes, 1 either
    /// roster invalid.
    Diff(DiffArgs),
    /// Print the roster's JSON Schema (config/roster.schema.json), for editors and CI.
    Schema,
    /// The audit trail written by --audit-log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of audit files, oldest first (audit.jsonl.1 audit.jsonl).
    /// Exit 0 every chain intact, 1 a chain broken (the first line that does not
    /// follow is named) or a file unreadable.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The files, oldest first: a rotated file before the one that follows it.
    #[arg(value_name = "FILE", required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The roster before the change (a file or a directory), e.g. the main branch's.
    #[arg(long, value_name = "FILE|DIR")]
    pub base: PathBuf,
    /// The roster after the change (a file or a directory), e.g. the pull request's.
    #[arg(long, short = 'c', value_name = "FILE|DIR")]
    pub config: PathBuf,
    /// The diff's format: text, markdown (a pull-request comment) or json.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The day `expires` dates are judged on (YYYY-MM-DD, UTC); default: today.
    #[arg(long, value_name = "DATE", value_parser = crate::date::Date::parse)]
    pub today: Option<crate::date::Date>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The hub's Helm values files, in the order given to helm (later files win: maps
    /// merge, lists and scalars replace, null deletes).
    #[arg(
        long = "z2jh-values",
        value_name = "FILE",
        required = true,
        num_args = 1..
    )]
    pub values: Vec<PathBuf>,
    /// Where the z2jh values sit when the chart is a dependency, as a dotted path
    /// (jupyterhub, basehub.jupyterhub); default: the first of the root, jupyterhub and
    /// basehub.jupyterhub that has hub.config.
    #[arg(long, value_name = "KEY.PATH")]
    pub prefix: Option<String>,
    /// The hub's name in the roster; default: the first values file's name without
    /// its extension.
    #[arg(long, value_name = "NAME")]
    pub hub_name: Option<String>,
    /// The community's name.
    #[arg(long, value_name = "NAME", default_value = crate::adopt::import::DEFAULT_COMMUNITY)]
    pub community: String,
    /// The hub's API as the tool will reach it (the default is the hub's address inside
    /// the release's namespace).
    #[arg(long, value_name = "URL", default_value = crate::adopt::import::DEFAULT_API_URL)]
    pub api_url: String,
    /// The environment variable that will hold the hub's token.
    #[arg(long, value_name = "VAR", default_value = crate::adopt::import::DEFAULT_TOKEN_ENV)]
    pub token_env: String,
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The hub's API, e.g. http://hub:8081/hub/api (with --token-env).
    #[arg(
        long,
        value_name = "URL",
        requires = "token_env",
        conflicts_with = "hub"
    )]
    pub api_url: Option<String>,
    /// The environment variable that holds the hub's token.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// A hub of the roster given with --config, instead of --api-url.
    #[arg(long, value_name = "NAME", requires = "config")]
    pub hub: Option<String>,
    #[command(flatten)]
    pub roster: RosterArg,
    /// Timeout of each request to the hub.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Duration,
}

/// Where the roster is, for the modes and for `dump --hub`.
#[derive(Debug, Args)]
pub struct RosterArg {
    /// The roster: a YAML file, or a directory whose *.yaml files are merged into one.
    #[arg(
        short,
        long,
        env = "JUPYTERHUB_ADMIN_SYNC_CONFIG",
        value_name = "FILE|DIR"
    )]
    pub config: Option<PathBuf>,
}

/// At most one mode; none runs the daemon.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct ModeArgs {
    /// Read every hub and report what would change; change nothing.
    /// Exit 0 in sync, 2 drift, 1 error.
    #[arg(long)]
    pub dry_run: bool,
    /// Reconcile every hub once by its policy, then exit (0 in sync, 2 drift left, 1 error).
    #[arg(long)]
    pub once: bool,
    /// Check the roster (and that every hub's token resolves), then exit (0 valid, 1 not).
    #[arg(long)]
    pub validate: bool,
}

/// A secret given on the command line or in the environment. Parsing never fails (so
/// clap never echoes it in an error), and its `Debug` never shows it; it is checked
/// later, with messages that do not repeat it.
#[derive(Clone)]
pub struct SecretArg(String);

impl std::str::FromStr for SecretArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretArg(s.to_string()))
    }
}

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    /// A pull-request comment: a table per hub, every name in an inert code span.
    Markdown,
}

/// `--allow-revocations HUB=N`: the hub and how many revocations a reviewed plan had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    pub hub: String,
    pub revocations: u32,
}

/// Why an `--allow-revocations` value is not `HUB=N`.
#[derive(Debug, thiserror::Error)]
pub enum AllowanceError {
    #[error("{0:?}: expected HUB=N (the hub and the revocations of the reviewed plan)")]
    Shape(String),
    #[error("{0:?}: N must be a number of revocations")]
    Number(String),
}

fn parse_allowance(text: &str) -> Result<Allowance, AllowanceError> {
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

/// Durations as `30s`, `2m`, `1h`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| format!("{text:?}: {e}"))?;
    if d.is_zero() {
        return Err(format!("{text:?}: must be more than zero"));
    }
    Ok(d)
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
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            request_timeout: self.request_timeout,
            retry: RetryPolicy {
                max_attempts: self.max_attempts,
                ..RetryPolicy::default()
            },
            ..ClientOptions::default()
        }
    }
}

/// Loads the roster for the hubs named (all when none is), printing every problem
/// (and warning) on stderr.
pub fn load_roster(path: &std::path::Path, hubs: &[String]) -> Option<Roster> {
    match Roster::load_selected(path, hubs) {
        Ok(roster) => {
            for warning in &roster.warnings {
                tracing::warn!("{warning}");
            }
            Some(roster)
        }
        Err(error) => {
            eprintln!("error: {error}");
            None
        }
    }
}

/// Builds a client for each hub; a hub whose client cannot be built is an error.
pub fn clients<'a>(
    hubs: impl Iterator<Item = &'a HubSpec>,
    options: &ClientOptions,
) -> Result<Vec<(HubSpec, HubClient)>, HubError> {
    let http = crate::hub::HttpClients::default();
    hubs.map(|spec| HubClient::shared(spec, options, &http).map(|client| (spec.clone(), client)))
        .collect()
}

/// Runs the one-shot modes; returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match &cli.command {
        Some(Command::Dump(args)) => return dump(args).await,
        Some(Command::Import(args)) => return import(args),
        Some(Command::Diff(args)) => return diff(args),
        Some(Command::Schema) => {
            print!("{}", schema_text());
            return ExitCode::SUCCESS;
        }
        Some(Command::Audit(AuditCommand::Verify(args))) => return audit_verify(args),
        None => {}
    }
    let Some(config) = cli.roster.config.clone() else {
        eprintln!(
            "error: the roster is needed: --config FILE, or JUPYTERHUB_ADMIN_SYNC_CONFIG (see --help)"
        );
        return ExitCode::from(1);
    };
    if !cli.allow_revocations.is_empty() && !cli.mode.once {
        eprintln!(
            "error: --allow-revocations lets one reviewed plan through once: it needs --once"
        );
        return ExitCode::from(1);
    }
    if !(cli.mode.dry_run || cli.mode.once || cli.mode.validate) {
        return daemon(cli, config).await;
    }
    let Some(roster) = load_roster(&config, &cli.hubs) else {
        return ExitCode::from(1);
    };
    if cli.mode.validate {
        let people: usize = roster
            .communities
            .iter()
            .map(|c| c.representatives.len() + c.administrators.len())
            .sum::<usize>()
            + roster.engineers.len();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        println!(
            "{}: valid ({}, {}, {})",
            roster.source.display(),
            plural(roster.communities.len(), "community", "communities"),
            plural(roster.hubs.len(), "hub", "hubs"),
            plural(people, "person", "people")
        );
        return ExitCode::SUCCESS;
    }
    let mode = if cli.mode.dry_run {
        Mode::DryRun
    } else {
        Mode::Once
    };
    let journal = match (&cli.audit_log, mode) {
        (Some(path), Mode::Once) => match Journal::open(path, mode, cli.audit_lock_wait).await {
            Ok(journal) => Some(journal),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        },
        _ => None,
    };
    if let Some(journal) = &journal {
        journal.warn_unsettled(roster.selected(&cli.hubs));
    }
    let saved = match cli.plan.as_deref().map(SavedPlan::read).transpose() {
        Ok(saved) => saved,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    let mut targets = match clients(roster.selected(&cli.hubs), &cli.client_options()) {
        Ok(t) => t,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    for allowance in &cli.allow_revocations {
        let Some((spec, _)) = targets
            .iter_mut()
            .find(|(spec, _)| spec.name.is(&allowance.hub))
        else {
            eprintln!(
                "error: --allow-revocations {}={}: no hub {} in this run",
                allowance.hub, allowance.revocations, allowance.hub
            );
            return ExitCode::from(1);
        };
        spec.rules.allow_revocations = Some(allowance.revocations);
    }
    let concurrency = cli.concurrency.into();
    let report = match (&cli.plan_out, &saved) {
        (Some(path), _) => {
            let (report, plan) =
                crate::review::saved_plan::plan_all(&roster, &targets, concurrency).await;
            if let Err(error) = plan.write(path) {
                eprintln!("error: {error}");
                return ExitCode::from(1);
            }
            report
        }
        (None, Some(plan)) => {
            crate::review::saved_plan::apply_all(
                &roster,
                &targets,
                plan,
                concurrency,
                journal.as_ref(),
            )
            .await
        }
        (None, None) => {
            crate::reconcile::run_all(&roster, &targets, mode, concurrency, journal.as_ref()).await
        }
    };
    match cli.output {
        Output::Text => print!("{report}"),
        Output::Json => println!("{}", report.to_json()),
        Output::Markdown => print!("{}", crate::review::markdown::report(&report)),
    }
    ExitCode::from(report.exit_code() as u8)
}

/// `audit verify`: each file's verdict on stdout; exit 0 intact, 1 broken or unreadable.
fn audit_verify(args: &VerifyArgs) -> ExitCode {
    let reports = crate::audit::verify::verify(&args.files);
    for report in &reports {
        match report.verdict {
            crate::audit::verify::Verdict::Unreadable(_) => eprint!("error: {report}"),
            _ => print!("{report}"),
        }
    }
    ExitCode::from(crate::audit::verify::exit_code(&reports))
}

/// Runs the daemon until SIGTERM or SIGINT (exit 0); SIGHUP reloads the roster.
async fn daemon(cli: Cli, config: PathBuf) -> ExitCode {
    let webhook = match cli
        .alert_webhook_url
        .as_ref()
        .map(|url| WebhookUrl::parse(&url.0))
    {
        None => None,
        Some(Ok(url)) => Some(url),
        Some(Err(error)) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    let options = DaemonOptions {
        config,
        hubs: cli.hubs.clone(),
        interval: cli.interval,
        jitter: 0.1,
        concurrency: cli.concurrency.into(),
        client: cli.client_options(),
        listen: cli.listen,
        webhook,
        alert_format: cli.alert_format,
        audit_log: cli.audit_log.clone(),
        audit_lock_wait: cli.audit_lock_wait,
        reload_poll: cli.roster_poll,
        grace: cli.shutdown_grace,
        expiry_warning_days: (cli.expiry_warning.as_secs() / 86_400).max(1) as i64,
        digest_at: cli.digest_at,
        digest_always: cli.digest_always,
        state_dir: cli.state_dir.clone(),
    };
    let shutdown = CancellationToken::new();
    let reload = Arc::new(Notify::new());
    if let Err(e) = spawn_signal_handlers(shutdown.clone(), reload.clone()) {
        eprintln!("error: cannot install signal handlers: {e}");
        return ExitCode::from(1);
    }
    match crate::daemon::run(options, shutdown, reload).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `dump`: prints the fragment on stdout.
async fn dump(args: &DumpArgs) -> ExitCode {
    let target = match (
        &args.api_url,
        &args.token_env,
        &args.hub,
        &args.roster.config,
    ) {
        (Some(api_url), Some(token_env), None, _) => crate::adopt::dump::Target::Direct {
            api_url: api_url.clone(),
            token_env: token_env.clone(),
        },
        (None, _, Some(hub), Some(config)) => crate::adopt::dump::Target::Roster {
            config: config.clone(),
            hub: hub.clone(),
        },
        _ => {
            eprintln!(
                "error: dump needs --api-url URL --token-env VAR, or --config FILE|DIR --hub NAME"
            );
            return ExitCode::from(1);
        }
    };
    let options = ClientOptions {
        request_timeout: args.request_timeout,
        ..ClientOptions::default()
    };
    match crate::adopt::dump::dump(&target, &options).await {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `diff`: loads both rosters without their secrets and prints who gains and loses
/// admin. An invalid side's problems go to stderr (and, as markdown, to stdout, so
/// the pull-request comment shows them).
fn diff(args: &DiffArgs) -> ExitCode {
    use crate::date::Clock;
    let mut sides = Vec::new();
    let mut invalid = Vec::new();
    for (side, path) in [("base", &args.base), ("new", &args.config)] {
        match Roster::load_offline(path) {
            Ok(roster) => {
                for warning in roster.warnings() {
                    tracing::warn!("{warning}");
                }
                sides.push(roster);
            }
            Err(error) => {
                eprintln!("error: the {side} roster: {error}");
                invalid.push((side, error.to_string()));
            }
        }
    }
    if !invalid.is_empty() {
        match args.output {
            Output::Markdown => print!("{}", crate::review::markdown::invalid(&invalid)),
            Output::Json => {
                let sides: serde_json::Map<String, serde_json::Value> = invalid
                    .into_iter()
                    .map(|(side, error)| (side.to_string(), error.into()))
                    .collect();
                println!("{}", serde_json::json!({ "invalid": sides }));
            }
            Output::Text => {}
        }
        return ExitCode::from(1);
    }
    let today = args
        .today
        .unwrap_or_else(|| crate::date::SystemClock.today());
    let d = crate::review::diff::diff(&sides[0], &sides[1], today);
    match args.output {
        Output::Text => print!("{d}"),
        Output::Json => println!("{}", d.to_json()),
        Output::Markdown => print!("{}", crate::review::markdown::diff(&d)),
    }
    ExitCode::from(d.exit_code())
}

/// The roster's JSON Schema as shipped in `config/roster.schema.json`: pretty, with a
/// final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::roster::json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// `import`: prints the fragment on stdout and its warnings on stderr.
fn import(args: &ImportArgs) -> ExitCode {
    let options = crate::adopt::import::ImportOptions {
        values: args.values.clone(),
        prefix: args.prefix.clone(),
        hub_name: args.hub_name.clone(),
        community: args.community.clone(),
        api_url: args.api_url.clone(),
        token_env: args.token_env.clone(),
    };
    match crate::adopt::import::run(&options) {
        Ok(output) => {
            for warning in &output.warnings {
                eprintln!("warning: {}", crate::name::printable(warning));
            }
            print!("{}", output.fragment);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// SIGTERM and SIGINT stop the daemon (a second one exits at once); SIGHUP reloads.
#[cfg(unix)]
fn spawn_signal_handlers(shutdown: CancellationToken, reload: Arc<Notify>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the roster");
                    reload.notify_one();
                    continue;
                }
            };
            if shutdown.is_cancelled() {
                tracing::warn!(signal = name, "second stop signal: exiting now");
                std::process::exit(1);
            }
            tracing::info!(signal = name, "stopping");
            shutdown.cancel();
        }
    });
    Ok(())
}

#[cfg(not(unix))]
fn spawn_signal_handlers(shutdown: CancellationToken, _reload: Arc<Notify>) -> std::io::Result<()> {
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    });
    Ok(())
}
