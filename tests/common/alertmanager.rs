//! A REAL Prometheus Alertmanager on loopback (Debian's `prometheus-alertmanager`),
//! notifying a webhook receiver of its own; installed with apt-get when missing and
//! the tests run as root (as CI does), otherwise the test says what to install.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{apt_install_as_root, free_port, last_lines, wait_until};

/// The names the Alertmanager binary goes by (Debian's, then upstream's).
const BINARIES: [&str; 2] = ["prometheus-alertmanager", "alertmanager"];

/// The Alertmanager binary: `$ALERTMANAGER`, or one of [`BINARIES`] on `PATH`, after
/// installing Debian's package if need be.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ALERTMANAGER") {
        return PathBuf::from(path);
    }
    let on_path = || {
        BINARIES.iter().find_map(|name| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    };
    if let Some(path) = on_path() {
        return path;
    }
    apt_install_as_root(&["prometheus-alertmanager"]);
    on_path().unwrap_or_else(|| {
        panic!(
            "no Alertmanager: install Debian's prometheus-alertmanager (or set ALERTMANAGER to the binary)"
        )
    })
}

pub struct Alertmanager {
    child: Child,
    log: PathBuf,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Alertmanager {
    /// Starts Alertmanager in `dir`, routing every alert to `receiver` (resolved ones
    /// too), with no wait before a group's first notification and one second between a
    /// group's notifications; ready when `/-/ready` answers.
    pub async fn start(dir: &Path, receiver: &str) -> Alertmanager {
        let config = super::write_file(
            dir,
            "alertmanager.yml",
            &format!(
                "route:\n  receiver: hook\n  group_by: [alertname, hub]\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: '{receiver}'\n        send_resolved: true\n"
            ),
        );
        let port = free_port();
        let log = dir.join("alertmanager.log");
        let child = Command::new(binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // One instance: no gossip port.
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create alertmanager.log"))
            .spawn()
            .expect("start Alertmanager");
        let am = Alertmanager {
            child,
            log,
            url: format!("http://127.0.0.1:{port}"),
        };
        wait_until(
            20,
            "Alertmanager answers /-/ready",
            || am.context(),
            || async {
                reqwest::get(format!("{}/-/ready", am.url))
                    .await
                    .is_ok_and(|r| r.status() == 200)
            },
        )
        .await;
        am
    }

    /// Its log's last 40 lines.
    pub fn context(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- alertmanager.log\n{}", last_lines(&log, 40))
    }

    /// The alerts it holds as active (not resolved, not silenced).
    pub async fn active(&self) -> Vec<Value> {
        let url = format!(
            "{}/api/v2/alerts?active=true&silenced=false&inhibited=false",
            self.url
        );
        match reqwest::get(url).await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// The active alert named `alertname` whose `hub` label is `hub`, if any.
    pub async fn active_for(&self, alertname: &str, hub: &str) -> Option<Value> {
        self.active()
            .await
            .into_iter()
            .find(|a| a["labels"]["alertname"] == alertname && a["labels"]["hub"] == hub)
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long until a timestamp Alertmanager wrote (RFC 3339) from another, in seconds.
pub fn seconds_between(from: &Value, to: &Value) -> f64 {
    let parse = |v: &Value| {
        humantime::parse_rfc3339_weak(v.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("not a timestamp: {v}: {e}"))
    };
    match parse(to).duration_since(parse(from)) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Waits long enough for a lease of `lease` to run out.
pub async fn outlast(lease: Duration) {
    tokio::time::sleep(lease + Duration::from_secs(2)).await;
}
