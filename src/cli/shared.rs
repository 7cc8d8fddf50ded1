//! What the modes and subcommands share: where the roster is, the flags of every run
//! against hubs (the daemon's and `--once`'s alike), loading the roster, building the
//! hubs' clients, and the parsers of durations and secrets.

use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::CliError;
use crate::hub::{ClientOptions, HttpClients, HubClient};
use crate::logging::LogFormat;
use crate::retry::RetryPolicy;
use crate::roster::{HubSpec, Roster};

/// Where the roster is, for the modes and for `dump --hub`.
#[derive(Debug, Args)]
pub(crate) struct RosterArg {
    /// The roster: a YAML file, or a directory whose *.yaml files are merged into one.
    #[arg(
        short,
        long,
        env = "JUPYTERHUB_ADMIN_SYNC_CONFIG",
        value_name = "FILE|DIR"
    )]
    pub(crate) config: Option<PathBuf>,
}

/// The flags of every run against the roster's hubs: the daemon and the modes.
#[derive(Debug, Args)]
pub(crate) struct CommonArgs {
    /// Only these hubs (repeat for more); default: every hub in the roster.
    #[arg(long = "hub", value_name = "NAME")]
    pub(crate) hubs: Vec<String>,

    /// The logs on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "JUPYTERHUB_ADMIN_SYNC_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,

    /// How many hubs are reconciled at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) concurrency: u16,

    /// Timeout of each request to a hub (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) request_timeout: Duration,

    /// Attempts per request before a transient failure counts (1 = no retry).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) max_attempts: u32,

    /// Append JSON lines to FILE (daemon and --once): a line before each change and
    /// its outcome after, each undeclared admin seen. No change is made without its
    /// line. See docs/audit.md.
    #[arg(long, value_name = "FILE", env = "JUPYTERHUB_ADMIN_SYNC_AUDIT_LOG")]
    pub(crate) audit_log: Option<PathBuf>,

    /// How long a writer waits for another writer (a daemon, a --once) to let go of
    /// the audit log before its hubs' runs fail with error kind audit.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) audit_lock_wait: Duration,

    /// The daemon's state: it keeps each hub's fights, place in the hub's log and
    /// provisional administrators (ui_grants) here across restarts. A --dry-run or
    /// --once reads the provisional administrators from it (read only); without it,
    /// such a run revokes no undeclared admin on a hub with ui_grants.
    #[arg(long, value_name = "DIR", env = "JUPYTERHUB_ADMIN_SYNC_STATE_DIR")]
    pub(crate) state_dir: Option<PathBuf>,
}

impl CommonArgs {
    /// The hubs' clients' timeout and retries, from `--request-timeout` and
    /// `--max-attempts`.
    pub(crate) fn client_options(&self) -> ClientOptions {
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

/// Loads the roster for the hubs named (all when none is); its warnings go to the log.
pub(crate) fn load_roster(path: &Path, hubs: &[String]) -> Result<Roster, CliError> {
    let roster = Roster::load_selected(path, hubs)?;
    for warning in &roster.warnings {
        tracing::warn!("{warning}");
    }
    Ok(roster)
}

/// Builds a client for each hub; a hub whose client cannot be built is an error.
pub(crate) fn clients<'a>(
    hubs: impl Iterator<Item = &'a HubSpec>,
    options: &ClientOptions,
) -> Result<Vec<(HubSpec, HubClient)>, CliError> {
    let http = HttpClients::default();
    let clients = hubs
        .map(|spec| HubClient::shared(spec, options, &http).map(|client| (spec.clone(), client)))
        .collect::<Result<_, _>>()?;
    Ok(clients)
}

/// Durations as `30s`, `2m`, `1h`, `500ms`; zero is refused.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| format!("{text:?}: {e}"))?;
    if d.is_zero() {
        return Err(format!("{text:?}: must be more than zero"));
    }
    Ok(d)
}

/// A secret given on the command line or in the environment. Parsing never fails (so
/// clap never echoes it in an error), and its `Debug` never shows it; it is checked
/// later, with messages that do not repeat it.
#[derive(Clone)]
pub(crate) struct SecretArg(String);

impl SecretArg {
    /// The secret itself, for the one parser that checks it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_humans_write_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 2m "), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
    }

    #[test]
    fn a_zero_or_unreadable_duration_is_refused_naming_the_text() {
        assert_eq!(
            parse_duration("0s"),
            Err("\"0s\": must be more than zero".to_string())
        );
        let error = parse_duration("soon").unwrap_err();
        assert!(error.starts_with("\"soon\": "), "{error}");
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn a_secret_arg_is_kept_whole_and_its_debug_hides_it() {
        let secret: SecretArg = "https://hooks.example.org/T0/B0/s3cr3t".parse().unwrap();
        assert_eq!(secret.expose(), "https://hooks.example.org/T0/B0/s3cr3t");
        let debug = format!("{secret:?} {secret:#?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(!debug.contains("hooks.example.org"), "{debug}");
        assert_eq!(format!("{secret:?}"), "[REDACTED]");
    }
}
