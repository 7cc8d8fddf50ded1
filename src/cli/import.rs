//! `import`: a roster fragment for one hub from its Zero to JupyterHub Helm values,
//! merged as Helm merges them, without contacting the hub. Exit 0 with the fragment
//! on stdout (its warnings on stderr), 1 if the values do not give one.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
use crate::adopt::import::{DEFAULT_API_URL, DEFAULT_COMMUNITY, DEFAULT_TOKEN_ENV, ImportOptions};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The hub's Helm values files, in the order given to helm (later files win: maps
    /// merge, lists and scalars replace, null deletes).
    #[arg(
        long = "z2jh-values",
        value_name = "FILE",
        required = true,
        num_args = 1..
    )]
    pub(crate) values: Vec<PathBuf>,
    /// Where the z2jh values sit when the chart is a dependency, as a dotted path
    /// (jupyterhub, basehub.jupyterhub); default: the first of the root, jupyterhub and
    /// basehub.jupyterhub that has hub.config.
    #[arg(long, value_name = "KEY.PATH")]
    pub(crate) prefix: Option<String>,
    /// The hub's name in the roster; default: the first values file's name without
    /// its extension.
    #[arg(long, value_name = "NAME")]
    pub(crate) hub_name: Option<String>,
    /// The community's name.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_COMMUNITY)]
    pub(crate) community: String,
    /// The hub's API as the tool will reach it (the default is the hub's address inside
    /// the release's namespace).
    #[arg(long, value_name = "URL", default_value = DEFAULT_API_URL)]
    pub(crate) api_url: String,
    /// The environment variable that will hold the hub's token.
    #[arg(long, value_name = "VAR", default_value = DEFAULT_TOKEN_ENV)]
    pub(crate) token_env: String,
}

/// Prints the fragment on stdout and its warnings on stderr.
pub(crate) fn cmd(args: &ImportArgs) -> Result<ExitCode, CliError> {
    let options = ImportOptions {
        values: args.values.clone(),
        prefix: args.prefix.clone(),
        hub_name: args.hub_name.clone(),
        community: args.community.clone(),
        api_url: args.api_url.clone(),
        token_env: args.token_env.clone(),
    };
    let output = crate::adopt::import::run(&options)?;
    for warning in &output.warnings {
        eprintln!("warning: {}", crate::name::printable(warning));
    }
    print!("{}", output.fragment);
    Ok(ExitCode::SUCCESS)
}
