//! The binary run to completion, with an environment cleared of the variables it reads,
//! so that the caller's shell cannot change a test.

use std::process::{Command, Output, Stdio};

use super::bin;

/// Every environment variable the binary reads, besides the hubs' token variables.
const READS: [&str; 10] = [
    "RUST_LOG",
    "JUPYTERHUB_ADMIN_SYNC_ALERT_FORMAT",
    "JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL",
    "JUPYTERHUB_ADMIN_SYNC_AUDIT_LOG",
    "JUPYTERHUB_ADMIN_SYNC_CONFIG",
    "JUPYTERHUB_ADMIN_SYNC_LISTEN",
    "JUPYTERHUB_ADMIN_SYNC_LOG_FORMAT",
    "JUPYTERHUB_ADMIN_SYNC_STATE_DIR",
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

/// [`run`] with `--config roster` before `args`.
pub fn run_roster(roster: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(env)
        .arg("--config")
        .arg(roster)
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

/// Stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that the run exited with `code`; the failure shows the run ([`show`]).
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", show(out));
}

/// [`assert_exit`] for one case of several (a table, a loop): the failure names `case`.
#[track_caller]
pub fn assert_case_exit(case: &str, out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{case}: {}", show(out));
}

/// Asserts that `text` holds each of `parts`; the failure names the part missing.
#[track_caller]
pub fn assert_contains_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} is missing from:\n{text}");
    }
}

/// Asserts that the run exited with `code` and returns its JSON report (`--output json`).
#[track_caller]
pub fn exit_report(out: &Output, code: i32) -> serde_json::Value {
    assert_exit(out, code);
    report(out)
}

/// Asserts that stdout holds `needle`; the failure shows the whole output.
#[track_caller]
pub fn assert_stdout_contains(out: &Output, needle: &str) {
    assert_holds(out, "stdout", &stdout(out), needle);
}

/// Asserts that stderr holds `needle`; the failure shows the whole output.
#[track_caller]
pub fn assert_stderr_contains(out: &Output, needle: &str) {
    assert_holds(out, "stderr", &stderr(out), needle);
}

/// Asserts that stdout or stderr holds `needle`; the failure shows the whole output.
#[track_caller]
pub fn assert_output_contains(out: &Output, needle: &str) {
    assert_holds(out, "the output", &output_text(out), needle);
}

#[track_caller]
fn assert_holds(out: &Output, part: &str, text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "{part} lacks {needle:?}\n{}",
        output_text(out)
    );
}

/// The JSON report on stdout (`--output json`).
pub fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", show(out)))
}

/// The part of a JSON report about `hub`.
pub fn hub_report<'a>(report: &'a serde_json::Value, hub: &str) -> &'a serde_json::Value {
    report["hubs"]
        .as_array()
        .expect("hubs")
        .iter()
        .find(|h| h["name"] == hub)
        .unwrap_or_else(|| panic!("no hub {hub} in {report}"))
}

/// The change a JSON report lists for `user` on `hub`.
pub fn hub_change<'a>(
    report: &'a serde_json::Value,
    hub: &str,
    user: &str,
) -> &'a serde_json::Value {
    hub_report(report, hub)["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["user"] == user))
        .unwrap_or_else(|| panic!("no change for {user} on hub {hub} in {report}"))
}

/// The `(action, user, applied)` of every change a JSON report lists for `hub`.
pub fn changes(
    report: &serde_json::Value,
    hub: &str,
) -> std::collections::BTreeSet<(String, String, bool)> {
    hub_report(report, hub)["changes"]
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

/// Every line of `text` (a JSON-lines file: an audit log, a JSON log) as JSON.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// The first of `lines` (see [`json_lines`]) whose every field in `fields` has its value.
pub fn find_line<'a>(
    lines: &'a [serde_json::Value],
    fields: &[(&str, &str)],
) -> Option<&'a serde_json::Value> {
    lines
        .iter()
        .find(|l| fields.iter().all(|(k, v)| l[*k] == *v))
}

/// The last `n` lines of `text`.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
