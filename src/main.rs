use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match jupyterhub_admin_sync::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    jupyterhub_admin_sync::logging::init(cli.log_format());
    jupyterhub_admin_sync::cli::run(cli)
}
