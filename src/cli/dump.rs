//! `dump`: a roster fragment for a live hub's current admins, to start adopting it.
//! The hub is named directly (`--api-url`, `--token-env`) or as a hub of a roster
//! (`--config`, `--hub`). Exit 0 with the fragment on stdout, 1 if it cannot be
//! written.

use clap::Args;
use std::process::ExitCode;
use std::time::Duration;

use super::CliError;
use super::shared::{RosterArg, parse_duration};
use crate::adopt::dump::Target;
use crate::hub::ClientOptions;

#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    /// The hub's API, e.g. http://hub:8081/hub/api (with --token-env).
    #[arg(
        long,
        value_name = "URL",
        requires = "token_env",
        conflicts_with = "hub"
    )]
    pub(crate) api_url: Option<String>,
    /// The environment variable that holds the hub's token.
    #[arg(long, value_name = "VAR")]
    pub(crate) token_env: Option<String>,
    /// A hub of the roster given with --config, instead of --api-url.
    #[arg(long, value_name = "NAME", requires = "config")]
    pub(crate) hub: Option<String>,
    #[command(flatten)]
    pub(crate) roster: RosterArg,
    /// Timeout of each request to the hub.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) request_timeout: Duration,
}

impl DumpArgs {
    /// The hub to dump, from whichever of the two ways names it.
    fn target(&self) -> Result<Target, CliError> {
        match (
            &self.api_url,
            &self.token_env,
            &self.hub,
            &self.roster.config,
        ) {
            (Some(api_url), Some(token_env), None, _) => Ok(Target::Direct {
                api_url: api_url.clone(),
                token_env: token_env.clone(),
            }),
            (None, _, Some(hub), Some(config)) => Ok(Target::Roster {
                config: config.clone(),
                hub: hub.clone(),
            }),
            _ => Err(CliError::DumpTarget),
        }
    }
}

/// Prints the fragment on stdout.
pub(crate) async fn cmd(args: &DumpArgs) -> Result<ExitCode, CliError> {
    let target = args.target()?;
    let options = ClientOptions {
        request_timeout: args.request_timeout,
        ..ClientOptions::default()
    };
    let text = crate::adopt::dump::dump(&target, &options).await?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
