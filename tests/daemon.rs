//! The daemon against a real JupyterHub: drift made by hand is fixed while it runs,
//! alerts fire and resolve, metrics follow, the audit trail is written, roster edits
//! take effect without a restart, and SIGTERM stops it cleanly.

mod common;

use serde_json::Value;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Daemon {
    child: Child,
    log: PathBuf,
    listen: String,
}

impl Daemon {
    fn start(roster: &Path, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join("daemon.log");
        let mut cmd = Command::new(common::bin());
        cmd.args([
            "--config",
            roster.to_str().unwrap(),
            "--listen",
            &listen,
            "--roster-poll",
            "300ms",
        ])
        .args(extra)
        .env_remove("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the daemon");
        Daemon { child, log, listen }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        match client
            .get(format!("http://{}{path}", self.listen))
            .send()
            .await
        {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }

    /// The value of the first sample line that starts with `series`.
    async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    fn terminate(&mut self) -> (Option<i32>, Duration) {
        let started = Instant::now();
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                return (None, started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it is true or `secs` pass; panics with `what` and the log.
async fn eventually<F, Fut>(secs: u64, what: &str, daemon: &Daemon, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "timed out waiting for: {what}\n--- daemon log\n{}",
        daemon.log()
    );
}

async fn alerts(receiver: &MockServer) -> Vec<Value> {
    receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("alert is JSON"))
        .collect()
}

fn roster_text(api_url: &str, policy: &str, admins: &[(&str, &str)], reps: &[&str]) -> String {
    let admins: Vec<String> = admins
        .iter()
        .map(|(n, by)| format!("{{name: {n}, added_by: {by}}}"))
        .collect();
    let reps: Vec<String> = reps.iter().map(|r| format!("{{name: {r}}}")).collect();
    format!(
        "defaults: {{max_revocations: 100}}\ncommunities:\n  - name: daemon-lab\n    representatives: [{}]\n    administrators: [{}]\n    hubs: [{{name: dhub, api_url: '{api_url}', token_env: DTOKEN, policy: {policy}}}]\n",
        reps.join(", "),
        admins.join(", ")
    )
}

/// Writes the roster the way a ConfigMap update does: a new file renamed over the
/// old one.
fn replace_file(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn daemon_fixes_hand_made_drift_alerts_and_audits() {
    let _guard = common::exclusive().await;
    let hub = common::hub();
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    hub.create_users(&["dm-ui-admin"], true).await;
    hub.create_users(&["dm-carol"], false).await;

    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &roster_text(
            &hub.api_url,
            "grant",
            &[("dm-carol", "dm-rep")],
            &["dm-rep"],
        ),
    );
    let audit = dir.path().join("audit.jsonl");
    let webhook = format!("{}/hooks/secret-path-XYZ", receiver.uri());
    let mut daemon = Daemon::start(
        &roster,
        dir.path(),
        &["--interval", "1s", "--audit-log", audit.to_str().unwrap()],
        &[
            ("DTOKEN", hub.admin_sync_token.as_str()),
            ("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL", webhook.as_str()),
        ],
    );

    eventually(30, "/readyz answers 200", &daemon, || async {
        daemon.get("/readyz").await.0 == 200
    })
    .await;
    assert_eq!(daemon.get("/healthz").await.0, 200);
    let admins = hub.admins().await;
    assert!(
        admins.contains("dm-carol") && admins.contains("dm-rep"),
        "{admins:?}"
    );
    // Policy grant leaves the admin granted in the UI: drift 1, an alert fires.
    let undeclared = "jupyterhub_admin_sync_drift{hub=\"dhub\",kind=\"undeclared\"}";
    assert_eq!(
        daemon.metric(undeclared).await,
        Some(1.0),
        "{}",
        daemon.get("/metrics").await.1
    );
    eventually(10, "a firing drift alert", &daemon, || async {
        alerts(&receiver)
            .await
            .iter()
            .any(|a| a["status"] == "firing" && a["kind"] == "drift")
    })
    .await;
    let firing = alerts(&receiver).await;
    let firing = firing.iter().find(|a| a["status"] == "firing").unwrap();
    assert_eq!(firing["hub"], "dhub");
    assert_eq!(firing["community"], "daemon-lab");
    assert_eq!(
        firing["details"]["undeclared"],
        serde_json::json!(["dm-ui-admin"])
    );
    assert!(firing["text"].as_str().unwrap().contains("dm-ui-admin"));

    // A declared admin revoked by hand is granted again.
    hub.set_admin("dm-carol", false).await;
    eventually(10, "dm-carol granted again", &daemon, || async {
        hub.admins().await.contains("dm-carol")
    })
    .await;

    // The undeclared admin removed by hand: drift goes to 0, the alert resolves.
    hub.set_admin("dm-ui-admin", false).await;
    eventually(10, "drift gauge at 0", &daemon, || async {
        daemon.metric(undeclared).await == Some(0.0)
    })
    .await;
    eventually(10, "a resolved drift alert", &daemon, || async {
        alerts(&receiver)
            .await
            .iter()
            .any(|a| a["status"] == "resolved" && a["kind"] == "drift")
    })
    .await;
    let sent = alerts(&receiver).await;
    assert_eq!(
        sent.iter()
            .filter(|a| a["kind"] == "drift" && a["status"] == "firing")
            .count(),
        1,
        "one firing alert, not one per run: {sent:?}"
    );

    let (code, took) = daemon.terminate();
    assert_eq!(code, Some(0), "{}", daemon.log());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let log = daemon.log();
    assert!(
        !log.contains("secret-path-XYZ"),
        "the webhook URL leaked:\n{log}"
    );
    assert!(!log.contains(&hub.admin_sync_token), "the token leaked");
    assert!(
        log.contains("granted admin") && log.contains("added_by=dm-rep"),
        "{log}"
    );

    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect();
    let grants: Vec<&Value> = lines
        .iter()
        .filter(|l| l["user"] == "dm-carol" && l["action"] == "grant" && l["event"] == "applied")
        .collect();
    assert_eq!(grants.len(), 2, "first grant and the re-grant: {lines:?}");
    assert_eq!(grants[0]["added_by"], "dm-rep");
    assert_eq!(grants[0]["hub"], "dhub");
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "dm-rep" && l["action"] == "create")
    );
    let seen: Vec<&Value> = lines
        .iter()
        .filter(|l| l["user"] == "dm-ui-admin" && l["event"] == "seen")
        .collect();
    assert_eq!(
        seen.len(),
        1,
        "an undeclared admin is recorded once while it stays: {lines:?}"
    );
}

#[tokio::test]
async fn roster_edits_take_effect_without_restart_and_invalid_edits_are_ignored() {
    let _guard = common::exclusive().await;
    let hub = common::hub();
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &roster_text(&hub.api_url, "enforce", &[], &["re-rep"]),
    );
    // A long interval: only a roster change can explain a quick second run.
    let mut daemon = Daemon::start(
        &roster,
        dir.path(),
        &[
            "--interval",
            "10m",
            "--alert-webhook-url",
            &format!("{}/hook", receiver.uri()),
        ],
        &[("DTOKEN", hub.admin_sync_token.as_str())],
    );
    eventually(30, "ready", &daemon, || async {
        daemon.get("/readyz").await.0 == 200
    })
    .await;
    assert!(hub.admins().await.contains("re-rep"));

    // A new administrator in the roster is granted without a restart.
    replace_file(
        &roster,
        &roster_text(
            &hub.api_url,
            "enforce",
            &[("re-new", "re-rep")],
            &["re-rep"],
        ),
    );
    eventually(15, "re-new created as admin", &daemon, || async {
        hub.admins().await.contains("re-new")
    })
    .await;

    // An invalid edit: logged, alerted, metric 0, the last good roster stays.
    replace_file(
        &roster,
        &roster_text(
            &hub.api_url,
            "enforce",
            &[("re-new", "re-rep")],
            &["a", "b", "c"],
        ),
    );
    eventually(10, "roster_valid 0", &daemon, || async {
        daemon.metric("jupyterhub_admin_sync_roster_valid").await == Some(0.0)
    })
    .await;
    assert!(
        daemon.log().contains("has 3 representatives"),
        "{}",
        daemon.log()
    );
    eventually(10, "a roster alert", &daemon, || async {
        alerts(&receiver)
            .await
            .iter()
            .any(|a| a["kind"] == "roster" && a["status"] == "firing")
    })
    .await;
    // SIGHUP forces a run with the last good roster, which still declares re-new.
    hub.set_admin("re-new", false).await;
    Command::new("kill")
        .args(["-HUP", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    eventually(
        15,
        "re-new granted again under the last good roster",
        &daemon,
        || async { hub.admins().await.contains("re-new") },
    )
    .await;
    assert!(
        hub.admins().await.contains("re-rep"),
        "the invalid roster's people were not applied"
    );
    assert!(!hub.admins().await.contains("a"));

    // Fixed again: valid, resolved.
    replace_file(
        &roster,
        &roster_text(
            &hub.api_url,
            "enforce",
            &[("re-new", "re-rep")],
            &["re-rep"],
        ),
    );
    eventually(10, "roster_valid 1", &daemon, || async {
        daemon.metric("jupyterhub_admin_sync_roster_valid").await == Some(1.0)
    })
    .await;
    eventually(10, "a resolved roster alert", &daemon, || async {
        alerts(&receiver)
            .await
            .iter()
            .any(|a| a["kind"] == "roster" && a["status"] == "resolved")
    })
    .await;
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0), "{}", daemon.log());
}

#[tokio::test]
async fn an_invalid_roster_at_start_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let roster = common::write_file(dir.path(), "roster.yaml", "communities: [{name: x}]\n");
    let out = Command::new(common::bin())
        .args(["--config", roster.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("community x: has no representative"),
        "{stderr}"
    );
}
