//! The daemon, which runs when no mode is given: its flags, and the signals that
//! stop it (SIGTERM, SIGINT; a second one exits at once) or reload its roster
//! (SIGHUP). Exit 0 after a stop signal, 1 if it cannot start.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::CliError;
use super::shared::{CommonArgs, SecretArg, parse_duration};
use crate::alert::digest::TimeOfDay;
use crate::alert::{AlertFormat, WebhookUrl};
use crate::daemon::DaemonOptions;

/// The flags only the daemon takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Daemon (no mode)")]
pub(crate) struct DaemonArgs {
    /// Time between runs of each hub (30s, 2m, 1h), with ±10% jitter.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) interval: Duration,

    /// Serve /healthz, /readyz and /metrics on this address (e.g. 0.0.0.0:9090).
    #[arg(long, value_name = "ADDR", env = "JUPYTERHUB_ADMIN_SYNC_LISTEN")]
    pub(crate) listen: Option<std::net::SocketAddr>,

    /// POST drift alerts here (a secret: never printed). Prefer the environment
    /// variable.
    #[arg(
        long,
        value_name = "URL",
        env = "JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL",
        hide_env_values = true
    )]
    pub(crate) alert_webhook_url: Option<SecretArg>,

    /// The body of alert messages: the JSON message with a Slack-compatible `text`,
    /// or an Alertmanager-compatible list of alerts.
    #[arg(long, value_enum, default_value_t = AlertFormat::Slack, env = "JUPYTERHUB_ADMIN_SYNC_ALERT_FORMAT")]
    pub(crate) alert_format: AlertFormat,

    /// How often the roster file and token files are checked for changes.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) roster_poll: Duration,

    /// How long before an administrator's `expires` date their community is told
    /// (e.g. 7d).
    #[arg(long, default_value = "7d", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) expiry_warning: Duration,

    /// Send each alert route a daily digest of its hubs at this time (HH:MM, UTC).
    #[arg(long, value_name = "HH:MM")]
    pub(crate) digest_at: Option<TimeOfDay>,

    /// Send the digest even when every hub is in sync and nothing expires.
    #[arg(long, requires = "digest_at")]
    pub(crate) digest_always: bool,

    /// How long in-flight runs may take to finish after SIGTERM.
    #[arg(long, default_value = "8s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) shutdown_grace: Duration,
}

/// Runs the daemon on the roster at `config` until SIGTERM or SIGINT (exit 0).
pub(crate) async fn cmd(
    args: &DaemonArgs,
    common: &CommonArgs,
    config: PathBuf,
) -> Result<ExitCode, CliError> {
    let webhook = args
        .alert_webhook_url
        .as_ref()
        .map(|url| WebhookUrl::parse(url.expose()))
        .transpose()?;
    let options = options(args, common, config, webhook);
    let shutdown = CancellationToken::new();
    let reload = Arc::new(Notify::new());
    spawn_signal_handlers(shutdown.clone(), reload.clone()).map_err(CliError::Signals)?;
    crate::daemon::run(options, shutdown, reload).await?;
    Ok(ExitCode::SUCCESS)
}

/// The daemon's options from the command line.
fn options(
    args: &DaemonArgs,
    common: &CommonArgs,
    config: PathBuf,
    webhook: Option<WebhookUrl>,
) -> DaemonOptions {
    DaemonOptions {
        config,
        hubs: common.hubs.clone(),
        interval: args.interval,
        jitter: 0.1,
        concurrency: common.concurrency.into(),
        client: common.client_options(),
        listen: args.listen,
        webhook,
        alert_format: args.alert_format,
        audit_log: common.audit_log.clone(),
        audit_lock_wait: common.audit_lock_wait,
        reload_poll: args.roster_poll,
        grace: args.shutdown_grace,
        expiry_warning_days: expiry_warning_days(args.expiry_warning),
        digest_at: args.digest_at,
        digest_always: args.digest_always,
        state_dir: common.state_dir.clone(),
    }
}

/// `--expiry-warning` in whole days, at least one: expiry is judged by the day.
fn expiry_warning_days(warning: Duration) -> i64 {
    (warning.as_secs() / 86_400).max(1) as i64
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_warning_counts_whole_days_and_at_least_one() {
        assert_eq!(expiry_warning_days(Duration::from_secs(7 * 86_400)), 7);
        assert_eq!(expiry_warning_days(Duration::from_secs(86_400 + 3_600)), 1);
        assert_eq!(expiry_warning_days(Duration::from_secs(60)), 1);
    }
}
