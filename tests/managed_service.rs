//! The single-VM form of docs/deployment.md on a real JupyterHub: the daemon as a
//! hub-managed service. The hub's config gives service `admin-sync` a `command` (the
//! built binary as a daemon) and the built-in `admin` role; the roster's hub names
//! `token_env: JUPYTERHUB_API_TOKEN`, the variable in which the hub hands a managed
//! service its token. The hub starts the daemon, the daemon reconciles that hub and
//! answers its probes, and stopping the hub stops the daemon.

mod common;

use common::{Hub, HubEntry, RosterBuilder};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const REP: &str = "vm-rep";
const ADMIN: &str = "vm-admin";

#[tokio::test]
async fn a_hub_starts_the_daemon_as_its_service_which_reconciles_it_and_stops_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("roster.yaml");
    let listen = format!("127.0.0.1:{}", common::free_port());
    let command = serde_json::json!([
        common::bin(),
        "--config",
        roster.to_str().unwrap(),
        "--listen",
        listen,
    ]);
    // The roster names the hub's API, so it is written once the hub's port is known.
    let mut hub = common::start_hub_with_env_for(|port| {
        let api_url = format!("http://127.0.0.1:{port}/hub/api");
        RosterBuilder::one_hub(
            "vm",
            REP,
            HubEntry::new("vm-hub", &api_url, "JUPYTERHUB_API_TOKEN"),
        )
        .admin(ADMIN, REP)
        .write(dir.path());
        vec![("HUB_SYNC_SERVICE_COMMAND".into(), command.to_string())]
    });
    // Started by the hub: the daemon's parent is the hub's process.
    let daemon = wait_for_process(&roster, &|| tail(&hub));
    let _cleanup = KillOnDrop(daemon);
    let hub_pid = std::fs::read_to_string(hub.dir().join("jupyterhub.pid")).unwrap();
    assert_eq!(
        parent_of(daemon).as_deref(),
        Some(hub_pid.trim()),
        "the daemon's parent is the hub\n{}",
        tail(&hub)
    );
    // With the environment JupyterHub gives a managed service: the roster's token
    // variable holds the service's token, and JUPYTERHUB_API_URL is the roster's api_url.
    let env = environment(daemon);
    assert!(
        env.iter()
            .any(|(k, v)| k == "JUPYTERHUB_API_TOKEN" && *v == hub.admin_sync_token),
        "JUPYTERHUB_API_TOKEN is the service's token (variables set: {:?})",
        env.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    for (name, value) in [
        ("JUPYTERHUB_API_URL", hub.api_url.as_str()),
        ("JUPYTERHUB_SERVICE_NAME", "admin-sync"),
    ] {
        assert!(
            env.iter().any(|(k, v)| k == name && v == value),
            "{name}={value} in the daemon's environment"
        );
    }

    // It reconciles the hub that started it: the declared representative and
    // administrator are created as admins, by the service.
    for name in [REP, ADMIN] {
        hub.wait_for_admin(name, 60, || tail(&hub)).await;
    }
    let log = hub.log();
    for name in [REP, ADMIN] {
        let line = format!("POST /hub/api/users/{name} (admin-sync@127.0.0.1)");
        assert!(log.contains(&line), "{line:?} in the hub's log\n{log}");
    }

    // Its probes answer on --listen.
    common::wait_until(
        30,
        "/healthz and /readyz answer 200",
        || tail(&hub),
        || async { get(&listen, "/healthz").await == 200 && get(&listen, "/readyz").await == 200 },
    )
    .await;

    // Stopping the hub stops the daemon: the hub interrupts its service and waits.
    assert!(hub.stop(), "the hub stops by itself\n{}", tail(&hub));
    common::wait_until_blocking(
        Duration::from_secs(15),
        Duration::from_millis(100),
        "the daemon has exited",
        || tail(&hub),
        || !running(daemon),
    );
    assert_eq!(
        get(&listen, "/healthz").await,
        0,
        "nothing answers any more"
    );
    let log = hub.log();
    assert!(
        log.contains("shutting down: letting in-flight runs finish"),
        "the daemon shut down cleanly, its log in the hub's\n{log}"
    );
}

/// The hub's log tail, for a failed assertion (the daemon logs there too).
fn tail(hub: &Hub) -> String {
    format!("--- hub log (tail)\n{}", hub.log_tail(80))
}

/// The pid of the process whose command line names `roster` (the daemon the hub
/// started), waited for up to 60 s.
fn wait_for_process(roster: &Path, context: &impl Fn() -> String) -> u32 {
    let needle = roster.to_str().unwrap().as_bytes().to_vec();
    let mut found = None;
    common::wait_until_blocking(
        Duration::from_secs(60),
        Duration::from_millis(100),
        "the hub has started the daemon",
        context,
        || {
            found = pids().into_iter().find(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle))
            });
            found.is_some()
        },
    );
    found.unwrap()
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The `PPid` of `/proc/PID/status`.
fn parent_of(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .map(|p| p.trim().to_string())
}

/// The process's environment, `(name, value)` pairs.
fn environment(pid: u32) -> Vec<(String, String)> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// True while `pid` runs (a zombie, exited but not yet reaped, does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| !s.trim_start().starts_with('Z'))
    })
}

/// The status of `GET http://listen{path}`, 0 if nothing answered.
async fn get(listen: &str, path: &str) -> u16 {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    match client.get(format!("http://{listen}{path}")).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Kills the daemon if a failed assertion leaves it behind: a hub that is killed
/// rather than stopped does not stop its services.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if running(self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}
