//! The binary run to completion, with an environment cleared of the variables it reads,
//! so that the caller's shell cannot change a test.

use std::process::{Command, Output, Stdio};

use super::bin;

/// Every environment variable the binary reads, besides the hubs' token variables.
const READS: [&str; 8] = [
    "RUST_LOG",
    "JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL",
    "JUPYTERHUB_ADMIN_SYNC_AUDIT_LOG",
    "JUPYTERHUB_ADMIN_SYNC_CONFIG",
    "JUPYTERHUB_ADMIN_SYNC_LISTEN",
    "JUPYTERHUB_ADMIN_SYNC_LOG_FORMAT",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The binary with `env` set over a cleared environment (see [`READS`]) and stdin null.
pub fn command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    for name in READS {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied()).stdin(Stdio::null());
    cmd
}

/// Runs the binary with `args` and `env` to completion.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(env)
        .args(args)
        .output()
        .expect("run jupyterhub-admin-sync")
}

/// [`run`] without blocking the runtime, for a test whose runtime serves something the
/// binary talks to (a mock hub, a TLS proxy).
pub async fn run_async(args: &[&str], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::from(command(env))
        .args(args)
        .output()
        .await
        .expect("run jupyterhub-admin-sync")
}

/// The exit code, stdout and the last 60 lines of stderr, for a failed assertion.
pub fn show(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    format!(
        "--- exit {:?}\n--- stdout\n{}\n--- stderr (last 60 of {} lines)\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        stderr.lines().count(),
        last_lines(&stderr, 60)
    )
}

/// Stdout and the whole of stderr, to search for a message.
pub fn output_text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The JSON report on stdout (`--output json`).
pub fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", show(out)))
}

/// The `(action, user, applied)` of every change a JSON report lists for `hub`.
pub fn changes(
    report: &serde_json::Value,
    hub: &str,
) -> std::collections::BTreeSet<(String, String, bool)> {
    let hub = report["hubs"]
        .as_array()
        .expect("hubs")
        .iter()
        .find(|h| h["name"] == hub)
        .unwrap_or_else(|| panic!("no hub {hub} in {report}"));
    hub["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["user"].as_str().unwrap().to_string(),
                c["applied"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
