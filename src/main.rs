use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match jupyterhub_admin_sync::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    jupyterhub_admin_sync::logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(jupyterhub_admin_sync::cli::run(cli))
}
