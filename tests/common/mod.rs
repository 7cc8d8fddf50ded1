//! The test kit, shared by every test binary through `mod common;` (each uses part of it).
//!
//! - [`hub`]: a REAL JupyterHub on loopback (the venv, shared and private hubs, kill and
//!   restart, users put straight into a stopped hub's database, API helpers).
//! - [`daemon`]: the binary started as a daemon: probes, metrics, signals, its log.
//! - [`run`]: the binary run to completion: exit code, stdout, stderr, the JSON report.
//! - [`mock`]: a mock hub's pieces (wiremock), and the requests it received.
//! - [`kube`]: a stand-in Kubernetes API serving a real hub's log (pods, pods/log).
//! - [`tls`]: a private CA and the server side of TLS.
//! - [`roster`]: rosters built by a small builder rather than `format!`ed YAML.
//! - [`alertmanager`]: a REAL Prometheus Alertmanager, for `--alert-format alertmanager`.
//! - [`audit`]: an audit trail's lines, intents and outcomes, and `audit verify`.
//! - [`browser`]: a REAL headless Chromium over WebDriver, for the hub's own pages.
//! - [`poll`]: waiting until something holds, with a deadline and a useful panic.
//!
//! Nothing here skips: whatever fails panics with what failed and the relevant log tail.
#![allow(dead_code, unused_imports)]

pub mod alertmanager;
pub mod audit;
pub mod browser;
pub mod daemon;
pub mod hub;
pub mod kube;
pub mod mock;
pub mod poll;
pub mod roster;
pub mod run;
pub mod tls;
pub mod webhook;

pub use daemon::Daemon;
pub use hub::{
    Exclusive, Hub, encode_name, exclusive, exclusive_hub, hub, jupyterhub_python, launcher,
    second_hub, start_hub, start_hub_with_env, start_hub_with_env_for, start_hub_with_users, tail,
};
pub use poll::{wait_until, wait_until_blocking};
pub use roster::{Community, HubEntry, RosterBuilder};
pub use run::{
    assert_case_exit, assert_contains_all, assert_exit, assert_output_contains,
    assert_stderr_contains, assert_stdout_contains, changes, command, exit_report, find_line,
    hub_change, hub_report, json_lines, last_lines, output_text, report, run, run_async,
    run_roster, show, stderr, stdout,
};

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The crate's binary, built by cargo for integration tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_jupyterhub-admin-sync")
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// Creates (if need be) and returns the directory `dir/name`.
pub fn write_dir(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
    path
}

/// Writes `contents` over `path` the way a ConfigMap update does: a new file renamed
/// over the old one.
pub fn replace_file(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, contents).unwrap_or_else(|e| panic!("writing {}: {e}", tmp.display()));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("renaming over {}: {e}", path.display()));
}

/// A port on 127.0.0.1 that was free when asked (someone may take it before it is used).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("finding a free port on 127.0.0.1: {e}"))
}

/// Installs Debian's `packages` with apt-get when the tests run as root (as CI does);
/// otherwise does nothing, and the caller's check says what to install.
pub fn apt_install_as_root(packages: &[&str]) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root {
        return;
    }
    eprintln!(
        "installing Debian's {} (apt-get), once",
        packages.join(" and ")
    );
    let install = format!(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {} >/dev/null",
        packages.join(" ")
    );
    let installed = Command::new("sh")
        .args(["-c", &install])
        .status()
        .is_ok_and(|s| s.success());
    assert!(installed, "apt-get install {} failed", packages.join(" "));
}

/// A random hex string after `prefix`: a secret or a name no output holds by chance.
pub fn random(prefix: &str) -> String {
    format!(
        "{prefix}{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}
