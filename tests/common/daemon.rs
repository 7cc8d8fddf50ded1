//! The binary started as a daemon: `/healthz`, `/readyz` and `/metrics` on a free port,
//! its stderr (the log) in a file, stopped by SIGTERM; killed if a test drops it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use super::{free_port, last_lines};

/// How long [`Daemon::terminate`] waits for the process to exit before it kills it.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Daemon {
    child: Child,
    log: PathBuf,
    /// `127.0.0.1:PORT` of `/healthz`, `/readyz`, `/metrics`
    pub listen: String,
}

impl Daemon {
    /// `--config roster --listen <free port>` and `args`, with `RUST_LOG=info` and then
    /// `env` over a cleared environment ([`super::command`]); log in `dir/daemon.log`.
    pub fn start(roster: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut cmd = super::command(&[("RUST_LOG", "info")]);
        cmd.envs(env.iter().copied())
            .arg("--config")
            .arg(roster)
            .args(args);
        Daemon::spawn(cmd, dir, "daemon")
    }

    /// [`Daemon::start`] with `--interval 1s --audit-log audit --state-dir state` and
    /// `args`, `TOK` set to `token` and alerts sent to `webhook`: the daemon of the tests
    /// that follow a real hub across runs (and restarts) and read what it recorded.
    pub fn start_with_state(
        roster: &Path,
        dir: &Path,
        audit: &Path,
        state: &Path,
        token: &str,
        webhook: &str,
        args: &[&str],
    ) -> Daemon {
        let recorded = [
            "--interval",
            "1s",
            "--audit-log",
            audit.to_str().expect("a UTF-8 path"),
            "--state-dir",
            state.to_str().expect("a UTF-8 path"),
        ];
        Daemon::start(
            roster,
            dir,
            &[&recorded[..], args].concat(),
            &[
                ("TOK", token),
                ("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL", webhook),
            ],
        )
    }

    /// Starts `cmd` (the binary with its arguments) with `--listen` on a free port, its
    /// stdout in `dir/<name>.stdout` and its stderr in `dir/<name>.log`.
    pub fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Daemon {
        let listen = format!("127.0.0.1:{}", free_port());
        let log = dir.join(format!("{name}.log"));
        let stdout = dir.join(format!("{name}.stdout"));
        let create = |p: &Path| {
            std::fs::File::create(p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()))
        };
        let child = cmd
            .args(["--listen", &listen])
            .stdout(create(&stdout))
            .stderr(create(&log))
            .spawn()
            .expect("start the daemon");
        Daemon { child, log, listen }
    }

    /// The process id, e.g. to send a signal.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log's last 60 lines, for a failed assertion or a timeout.
    pub fn context(&self) -> String {
        format!("--- daemon log (tail)\n{}", last_lines(&self.log(), 60))
    }

    /// `GET http://listen{path}`: `(status, body)`, `(0, "")` if nothing answered.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("building a reqwest client");
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

    /// Waits until `/readyz` answers 200 (the first run over every hub is done).
    pub async fn wait_ready(&self, secs: u64) {
        super::wait_until(
            secs,
            "/readyz answers 200",
            || self.context(),
            || async { self.get("/readyz").await.0 == 200 },
        )
        .await;
    }

    /// The value of the first sample whose line starts with `series`.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    /// The sum of the samples whose line starts with `series` (0 when there are none).
    pub async fn metric_sum(&self, series: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Waits up to `secs` until the sum of `series` ([`Daemon::metric_sum`]) is above
    /// `previous`: a counter counted, a timestamp moved on.
    pub async fn wait_metric_above(&self, secs: u64, what: &str, series: &str, previous: f64) {
        super::wait_until(
            secs,
            &format!("{what}: {series} above {previous}"),
            || self.context(),
            || async { self.metric_sum(series).await > previous },
        )
        .await;
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (`"TERM"`, `"HUP"`, ...).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// SIGTERM, then the exit code and how long the exit took (`None`: killed after
    /// [`STOP_TIMEOUT`]).
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let started = Instant::now();
        self.signal("TERM");
        let status = wait_for_exit(&mut self.child, STOP_TIMEOUT);
        (status.and_then(|s| s.code()), started.elapsed())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `timeout` for `child` to exit; kills it and returns `None` if it does not.
pub fn wait_for_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
