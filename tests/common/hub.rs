//! Test harness: a REAL JupyterHub on loopback for integration tests.
//!
//! - [`jupyterhub_python`] makes (once, under a file lock) a Python venv with JupyterHub in
//!   `<CARGO_TARGET_TMPDIR>/jupyterhub-venv-<spec>`; `JUPYTERHUB_VERSION` picks the version
//!   (unset: the newest), `PYTHON` the interpreter (default `python3`).
//! - [`hub`] and [`second_hub`] are started once per test binary and shared; [`start_hub`]
//!   starts a private one. Each runs `deploy/local/jupyterhub_config.py` (no proxy) with its
//!   own sqlite database, port and random tokens.
//! - A hub dies with the test process: it holds the write end of the hub's stdin, and the
//!   config SIGTERMs the hub at EOF (`HUB_EXIT_ON_STDIN_EOF=1`), so even the shared hubs
//!   (statics, never dropped) do not outlive a test binary.
//! - The hubs log at INFO: a line for every request answered, e.g.
//!   `200 GET /hub/api/users?offset=20&limit=20 (admin-sync@127.0.0.1) 12.3ms`.
//! - Nothing here skips: whatever fails panics with what failed and the relevant log tail.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use jupyterhub_admin_sync::evidence::{AdminEvent, Attributor, LogFile, LogZone};
use reqwest::Method;

use super::free_port;

/// The JupyterHub launcher shared with the local demo and the benchmark: it makes the
/// venv (with the shared pins) and starts a hub with the shared config.
pub fn launcher() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/local/hub.py")
}

// ---------------------------------------------------------------------------------------
// The venv
// ---------------------------------------------------------------------------------------

/// The JupyterHub version asked for by `JUPYTERHUB_VERSION`; `None` means the newest.
pub fn requested_jupyterhub_version() -> Option<String> {
    std::env::var("JUPYTERHUB_VERSION")
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && v != "latest")
}

/// The venv directory for the requested version (made by [`jupyterhub_python`]).
pub fn jupyterhub_venv_dir() -> PathBuf {
    let suffix = match requested_jupyterhub_version() {
        None => "latest".to_string(),
        Some(v) => v
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
    };
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("jupyterhub-venv-{suffix}"))
}

/// Ensures the venv exists and returns its Python interpreter (`<venv>/bin/python`);
/// the hub itself is `<venv>/bin/jupyterhub`.
///
/// Made at most once at a time across threads and processes: an exclusive lock on
/// `<venv>.lock`, and `<venv>/.ready` written last, so a half-made venv is made again.
pub fn jupyterhub_python() -> PathBuf {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let venv = VENV
        .get_or_init(ensure_venv)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    venv.join("bin").join("python")
}

fn ensure_venv() -> Result<PathBuf, String> {
    let venv = jupyterhub_venv_dir();
    let parent = venv.parent().expect("venv has a parent");
    fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    let lock_path = with_suffix(&venv, ".lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("opening lock file {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;

    let ready = venv.join(".ready");
    if ready.exists() && venv.join("bin/jupyterhub").exists() {
        return Ok(venv);
    }
    // The venv and its pins are the demo's and the benchmark's: `hub.py venv`.
    let started = Instant::now();
    eprintln!(
        "harness: creating JupyterHub venv {} (jupyterhub {})",
        venv.display(),
        requested_jupyterhub_version()
            .as_deref()
            .unwrap_or("newest")
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let log_path = with_suffix(&venv, ".install.log");
    let _ = fs::remove_file(&log_path);
    run_logged(
        Command::new(&python).arg(launcher()).arg("venv").arg(&venv),
        &log_path,
        &format!("`{python} deploy/local/hub.py venv {}`", venv.display()),
    )?;
    eprintln!(
        "harness: JupyterHub {} installed in {:.1?}",
        fs::read_to_string(&ready).unwrap_or_default().trim(),
        started.elapsed()
    );
    Ok(venv)
}

/// `path` with `suffix` appended to its last component.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Runs a command with its output appended to `log`; on failure, the log's tail is in the error.
fn run_logged(cmd: &mut Command, log: &Path, what: &str) -> Result<(), String> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("opening {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| format!("could not run {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({status}); last lines of {}:\n{}",
            log.display(),
            tail(log, 40)
        ))
    }
}

/// The last `lines` lines of a text file (or why it could not be read).
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

// ---------------------------------------------------------------------------------------
// Hubs
// ---------------------------------------------------------------------------------------

/// A running JupyterHub with its own database, port and tokens.
#[derive(Debug)]
pub struct Hub {
    /// e.g. `http://127.0.0.1:PORT/hub/api` (no trailing slash)
    pub api_url: String,
    pub port: u16,
    /// service `admin-sync`, built-in `admin` role
    pub admin_sync_token: String,
    /// service `auditor`, scope `list:users` only
    pub auditor_token: String,
    /// service `test-admin`, built-in `admin` role; used by the helpers below
    pub test_admin_token: String,
    /// from `GET /hub/api/`, e.g. `6.1.1`
    pub version: String,
    child: Child,
    dir: tempfile::TempDir,
    /// Extra environment for `deploy/local/jupyterhub_config.py` (`HUB_ADMIN_USERS`),
    /// given again at every restart, as a hub's config is.
    env: Vec<(String, String)>,
}

/// The hub shared by the tests of this binary (started on first use).
pub fn hub() -> &'static Hub {
    static HUB: OnceLock<Result<Hub, String>> = OnceLock::new();
    HUB.get_or_init(try_start_hub)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A second shared hub, distinct from [`hub`] (started on first use).
pub fn second_hub() -> &'static Hub {
    static HUB: OnceLock<Result<Hub, String>> = OnceLock::new();
    HUB.get_or_init(try_start_hub)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh hub of the caller's own, stopped when dropped.
pub fn start_hub() -> Hub {
    try_start_hub().unwrap_or_else(|e| panic!("{e}"))
}

/// Held by a test that has the shared hubs to itself ([`exclusive`]).
pub type Exclusive = tokio::sync::MutexGuard<'static, ()>;

/// Serialises tests whose results depend on the whole hub's admin set.
pub async fn exclusive() -> Exclusive {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// The shared [`hub`], held alone ([`exclusive`]), with the users `admins` (admin) and
/// `users` (not admin) created if missing.
pub async fn exclusive_hub(admins: &[&str], users: &[&str]) -> (Exclusive, &'static Hub) {
    let guard = exclusive().await;
    let hub = hub();
    for (names, admin) in [(admins, true), (users, false)] {
        if !names.is_empty() {
            hub.create_users(names, admin).await;
        }
    }
    (guard, hub)
}

const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn try_start_hub() -> Result<Hub, String> {
    start_in_new_dir(|_| {}, 200, &|_| Vec::new())
}

/// A fresh hub of the caller's own (as [`start_hub`]) with extra environment for
/// `deploy/local/jupyterhub_config.py`, e.g. `HUB_ADMIN_USERS`; restarts keep it.
pub fn start_hub_with_env(env: &[(&str, &str)]) -> Hub {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    start_in_new_dir(|_| {}, 200, &|_| env.clone()).unwrap_or_else(|e| panic!("{e}"))
}

/// [`start_hub_with_env`] for an environment that depends on the hub's port, asked for
/// each port tried (say, a service the hub starts, given the hub's API URL); what
/// `env` writes for a port not taken is overwritten at the next.
pub fn start_hub_with_env_for(env: impl Fn(u16) -> Vec<(String, String)>) -> Hub {
    start_in_new_dir(|_| {}, 200, &env).unwrap_or_else(|e| panic!("{e}"))
}

/// Starts a hub in a new dir under `<CARGO_TARGET_TMPDIR>/jupyterhub-hubs` after
/// `prepare(dir)` (say, filling its database), with random tokens, on a free port.
fn start_in_new_dir(
    prepare: impl FnOnce(&Path),
    page_max: u32,
    env_for_port: &dyn Fn(u16) -> Vec<(String, String)>,
) -> Result<Hub, String> {
    jupyterhub_python();
    let hubs_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("jupyterhub-hubs");
    fs::create_dir_all(&hubs_dir).map_err(|e| format!("creating {}: {e}", hubs_dir.display()))?;
    sweep_stale_hub_dirs(&hubs_dir);
    let dir = tempfile::Builder::new()
        .prefix("hub-")
        .tempdir_in(&hubs_dir)
        .map_err(|e| format!("creating a hub dir in {}: {e}", hubs_dir.display()))?;
    let started = Instant::now();
    prepare(dir.path());
    let [admin_sync_token, auditor_token, test_admin_token] =
        [random_token()?, random_token()?, random_token()?];
    // The port is free when we look but could be taken before the hub binds it: try again.
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port();
        let env = env_for_port(port);
        let tokens = [&*admin_sync_token, &*auditor_token, &*test_admin_token];
        match respawn(dir.path(), port, tokens, page_max, &env) {
            Ok((child, version)) => {
                let api_url = format!("http://127.0.0.1:{port}/hub/api");
                eprintln!(
                    "harness: JupyterHub {version} ready at {api_url} in {:.1?} (dir {})",
                    started.elapsed(),
                    dir.path().display()
                );
                return Ok(Hub {
                    api_url,
                    port,
                    admin_sync_token,
                    auditor_token,
                    test_admin_token,
                    version,
                    child,
                    dir,
                    env,
                });
            }
            Err(e) => {
                let port_in_use = e.contains("Address already in use");
                last_error = e;
                if !port_in_use {
                    break;
                }
            }
        }
    }
    Err(last_error)
}

/// `GET /hub/api/` over plain HTTP/1.0; the version if the hub answered 200 with one,
/// and only if it is the hub started with `token` (`GET /hub/api/user` with it answers
/// `test-admin`): another process that took the port between our look and the hub's
/// bind (another hub's proxy, say) answers the first but not the second.
fn probe_version(port: u16, token: &str) -> Option<String> {
    let version = get_json(port, "/hub/api/", None)?
        .get("version")?
        .as_str()?
        .to_string();
    let me = get_json(port, "/hub/api/user", Some(token))?;
    (me.get("name")?.as_str()? == "test-admin").then_some(version)
}

/// `GET path` over plain HTTP/1.0 (with `token`, if any); the JSON body of a 200.
fn get_json(port: u16, path: &str, token: Option<&str>) -> Option<serde_json::Value> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: token {t}\r\n"));
    stream
        .write_all(
            format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n").as_bytes(),
        )
        .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status_line = head.lines().next()?;
    if status_line.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    serde_json::from_str(body).ok()
}

/// 40 random hex characters from the OS.
fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 20];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// Removes hub dirs left behind by earlier test processes (the shared hubs are statics and
/// never dropped): no live process in their pid file and untouched for 10 minutes.
fn sweep_stale_hub_dirs(hubs_dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(hubs_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(600));
        let alive = fs::read_to_string(path.join("jupyterhub.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if old && !alive {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

impl Hub {
    /// Stops the hub as its operator would, by SIGTERM (the hub stops the services it
    /// started first), and kills it if it has not exited within 10 s; its dir and log
    /// stay until the hub is dropped. True if it exited by itself.
    pub fn stop(&mut self) -> bool {
        // Closing stdin makes the hub SIGTERM itself (HUB_EXIT_ON_STDIN_EOF=1): a clean stop.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------
// API helpers (as service `test-admin`)
// ---------------------------------------------------------------------------------------

/// Percent-encodes a user name for a URL path segment (`alice@uni.edu` → `alice%40uni.edu`).
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A client for one helper call. Not shared across calls: each `#[tokio::test]` has its own
/// runtime, and pooled connections of a finished runtime must not be reused.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("building a reqwest client")
}

const PAGINATION: &str = "application/jupyterhub-pagination+json";

impl Hub {
    /// The hub's temp dir (database, cookie secret, `hub.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The hub's whole log (at INFO it has a line for every request it answered).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("hub.log")).unwrap_or_default()
    }

    /// The last `lines` lines of the hub's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.dir.path().join("hub.log"), lines)
    }

    /// The hub's version as numbers, e.g. `(6, 1, 1)`; missing or non-numeric parts are 0.
    pub fn version_tuple(&self) -> (u32, u32, u32) {
        let mut parts = self.version.split('.').map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        });
        (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        )
    }

    /// Any API request with any token (`""`: no `Authorization` header): `(status, body)`.
    /// `path` is below `api_url`, e.g. `/users/alice%40uni.edu`. Panics only if no answer
    /// comes back.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, String) {
        self.request_with(method, path, token, body, None).await
    }

    /// `GET path` with `token`, which must answer 200: the body as JSON.
    pub async fn get_ok(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, body) = self.request(Method::GET, path, token, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    async fn request_with(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
        accept: Option<&str>,
    ) -> (u16, String) {
        let url = format!("{}{path}", self.api_url);
        let mut req = client().request(method.clone(), &url);
        if !token.is_empty() {
            req = req.header("Authorization", format!("token {token}"));
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(accept) = accept {
            req = req.header("Accept", accept);
        }
        let resp = req.send().await.unwrap_or_else(|e| {
            panic!(
                "{method} {path}: no answer: {e}; hub log:\n{}",
                self.log_tail(30)
            )
        });
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: reading the body: {e}"));
        (status, text)
    }

    /// As `test-admin`; panics unless the status is one of `ok`. The answer, which the
    /// hub's API writes in JSON (`null` for an empty one).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        accept: Option<&str>,
        ok: &[u16],
    ) -> serde_json::Value {
        let token = &self.test_admin_token;
        let (status, text) = self
            .request_with(method.clone(), path, token, body, accept)
            .await;
        if !ok.contains(&status) {
            panic!("{method} {path}: unexpected status {status} (wanted {ok:?}); body: {text}");
        }
        if text.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
    }

    /// `POST /users` in batches of 500. Existing users are skipped and not modified by the hub;
    /// a batch in which all exist (409) is fine. The hub lowercases these names.
    pub async fn create_users(&self, names: &[&str], admin: bool) {
        for batch in names.chunks(500) {
            let body = serde_json::json!({ "usernames": batch, "admin": admin });
            self.call(Method::POST, "/users", Some(&body), None, &[201, 409])
                .await;
        }
    }

    /// `POST /users/{name}`: 201 expected (409 if it exists panics). Keeps the name's case.
    pub async fn create_user(&self, name: &str) {
        let path = format!("/users/{}", encode_name(name));
        self.call(Method::POST, &path, None, None, &[201]).await;
    }

    /// `PATCH /users/{name}` `{"admin": admin}`: 200 expected.
    pub async fn set_admin(&self, name: &str, admin: bool) {
        let path = format!("/users/{}", encode_name(name));
        let body = serde_json::json!({ "admin": admin });
        self.call(Method::PATCH, &path, Some(&body), None, &[200])
            .await;
    }

    /// All users, name → admin, read 200 a page with pagination.
    pub async fn users(&self) -> BTreeMap<String, bool> {
        let mut users = BTreeMap::new();
        let mut offset: u64 = 0;
        loop {
            let path = format!("/users?offset={offset}&limit=200");
            let page = self
                .call(Method::GET, &path, None, Some(PAGINATION), &[200])
                .await;
            let items = page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("GET {path}: no `items` array: {page}"));
            for item in items {
                // A user the hub lists as `"name": null` (the 6.1.1 admin page's Edit
                // User erases names) cannot be addressed: left out.
                if item["name"].is_null() {
                    continue;
                }
                let name = item["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("GET {path}: user without a name: {item}"));
                let admin = item["admin"]
                    .as_bool()
                    .unwrap_or_else(|| panic!("GET {path}: user without `admin`: {item}"));
                users.insert(name.to_string(), admin);
            }
            let next = &page["_pagination"]["next"];
            if next.is_null() {
                break;
            }
            let next_offset = next["offset"]
                .as_u64()
                .unwrap_or_else(|| panic!("GET {path}: bad `_pagination.next`: {page}"));
            assert!(
                next_offset > offset,
                "GET {path}: pagination does not advance: {page}"
            );
            offset = next_offset;
        }
        users
    }

    /// `POST /groups/{group}/users`: puts `names` in `group` (which must exist).
    pub async fn add_to_group(&self, group: &str, names: &[&str]) {
        let path = format!("/groups/{}/users", encode_name(group));
        let body = serde_json::json!({ "users": names });
        self.call(Method::POST, &path, Some(&body), None, &[200, 201])
            .await;
    }

    /// `DELETE /groups/{group}/users`: takes `names` out of `group`.
    pub async fn remove_from_group(&self, group: &str, names: &[&str]) {
        let path = format!("/groups/{}/users", encode_name(group));
        let body = serde_json::json!({ "users": names });
        self.call(Method::DELETE, &path, Some(&body), None, &[200])
            .await;
    }

    /// The members of `group` (`null` for a member without a name), sorted.
    pub async fn group_members(&self, group: &str) -> Vec<String> {
        let path = format!("/groups/{}", encode_name(group));
        let group = self.call(Method::GET, &path, None, None, &[200]).await;
        let mut members: Vec<String> = group["users"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {path}: no users: {group}"))
            .iter()
            .map(|u| u.as_str().unwrap_or("null").to_string())
            .collect();
        members.sort();
        members
    }

    /// The names of all admin users.
    pub async fn admins(&self) -> BTreeSet<String> {
        self.users()
            .await
            .into_iter()
            .filter_map(|(name, admin)| admin.then_some(name))
            .collect()
    }

    /// Waits up to `secs` until `name` is admin; then panics with `context()`.
    pub async fn wait_for_admin(&self, name: &str, secs: u64, context: impl Fn() -> String) {
        let what = format!("{name} admin on the hub");
        let check = || async { self.admins().await.contains(name) };
        super::wait_until(secs, &what, context, check).await;
    }

    /// Waits up to `secs` until none of `names` is admin; then panics with `context()`.
    pub async fn wait_for_not_admin(
        &self,
        names: &[&str],
        secs: u64,
        context: impl Fn() -> String,
    ) {
        let what = format!("{} not admin on the hub", names.join(" and "));
        let check = || async {
            let admins = self.admins().await;
            names.iter().all(|name| !admins.contains(*name))
        };
        super::wait_until(secs, &what, context, check).await;
    }

    /// How many users the hub has.
    pub async fn user_count(&self) -> usize {
        self.users().await.len()
    }

    /// How many users the hub has, from one small page's `_pagination.total`: cheap
    /// enough to poll while a run creates users.
    pub async fn user_total(&self) -> usize {
        let page = self
            .call(
                Method::GET,
                "/users?limit=1",
                None,
                Some(PAGINATION),
                &[200],
            )
            .await;
        page["_pagination"]["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("GET /users?limit=1: no total: {page}")) as usize
    }
}

// ---------------------------------------------------------------------------------------
// Killing and restarting a private hub (for resilience tests)
// ---------------------------------------------------------------------------------------

/// Starts the hub process of `dir` on `port` with these tokens (the same environment as
/// [`start_hub`]), and waits until it answers; returns the child and the version.
fn respawn(
    dir: &Path,
    port: u16,
    tokens: [&str; 3],
    page_max: u32,
    env: &[(String, String)],
) -> Result<(Child, String), String> {
    let python = jupyterhub_python();
    let log_path = dir.join("hub.log");
    let log = File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let [admin_sync, auditor, test_admin] = tokens;
    // The launcher execs the hub: the child is the hub process itself.
    let mut child = Command::new(&python)
        .arg(launcher())
        .arg("run")
        .arg("--dir")
        .arg(dir)
        .args(["--port", &port.to_string()])
        .args(["--page-max", &page_max.to_string()])
        .args(["--log-level", "INFO", "--exit-on-stdin-eof"])
        .env("HUB_ADMIN_SYNC_TOKEN", admin_sync)
        .env("HUB_AUDITOR_TOKEN", auditor)
        .env("HUB_TEST_ADMIN_TOKEN", test_admin)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| {
            format!(
                "starting {} {}: {e}",
                python.display(),
                launcher().display()
            )
        })?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            return Err(format!(
                "JupyterHub exited before answering ({status}) on port {port}; last lines of {}:\n{}",
                log_path.display(),
                tail(&log_path, 60)
            ));
        }
        if let Some(version) = probe_version(port, test_admin) {
            return Ok((child, version));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "JupyterHub did not answer on port {port} within {READY_TIMEOUT:?}; last lines of {}:\n{}",
                log_path.display(),
                tail(&log_path, 60)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Hub {
    /// SIGKILLs the hub process (no clean shutdown: a crash, an OOM kill, a node lost)
    /// and waits for it to be gone. Its port then refuses connections.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// True while the hub process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Starts the (killed or stopped) hub again on the same port with the same tokens.
    /// `fresh_database`: its sqlite database is deleted first, as if the hub's volume
    /// were lost: every user and admin flag is gone; the services and their tokens come
    /// back from the config. Panics if the hub is still running.
    pub fn restart(&mut self, fresh_database: bool) {
        self.restart_with_page_max(fresh_database, 200);
    }

    /// [`Hub::restart`] with another `api_page_max_limit` (a small one makes a listing
    /// take many pages, so a run lasts long enough to be interrupted).
    pub fn restart_with_page_max(&mut self, fresh_database: bool, page_max: u32) {
        assert!(
            !self.is_running(),
            "restart: the hub on port {} is still running; kill() it first",
            self.port
        );
        let dir = self.dir.path().to_path_buf();
        if fresh_database {
            for name in ["jupyterhub.sqlite", "jupyterhub.sqlite-journal"] {
                let _ = fs::remove_file(dir.join(name));
            }
        }
        let _ = fs::remove_file(dir.join("jupyterhub.pid"));
        let started = Instant::now();
        let (child, version) = respawn(
            &dir,
            self.port,
            [
                &self.admin_sync_token,
                &self.auditor_token,
                &self.test_admin_token,
            ],
            page_max,
            &self.env,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "harness: JupyterHub {version} restarted at {} in {:.1?} (fresh database: {fresh_database})",
            self.api_url,
            started.elapsed()
        );
        self.child = child;
        self.version = version;
    }

    /// Adds ordinary (non-admin) users straight into the stopped hub's database with
    /// JupyterHub's own `orm` module: thousands in a second, where the API takes
    /// minutes. Panics if the hub is running (it caches the database).
    pub fn add_users_offline(&mut self, names: &[String]) {
        assert!(
            !self.is_running(),
            "add_users_offline: stop the hub on port {} first",
            self.port
        );
        add_users_to_database(self.dir.path(), names);
    }
}

/// Adds ordinary users (role `user`) to the sqlite database in `dir` (made if missing)
/// with JupyterHub's own `orm` and `roles` modules (JupyterHub 2.0 or newer); users
/// that exist are left alone.
fn add_users_to_database(dir: &Path, names: &[String]) {
    let db = dir.join("jupyterhub.sqlite");
    let script = r#"
import sys
from jupyterhub import orm, roles
db = orm.new_session_factory("sqlite:///" + sys.argv[1])()
# A database without roles makes the hub assign roles to every user at startup, one
# by one (slow with thousands): make the default roles and give the `user` role here.
if db.query(orm.Role).first() is None:
    for role in roles.get_default_roles():
        roles.create_role(db, role)
user_role = orm.Role.find(db, "user")
existing = {name for (name,) in db.query(orm.User.name)}
for name in sys.stdin.read().split():
    if name not in existing:
        user = orm.User(name=name)
        user.roles.append(user_role)
        db.add(user)
db.commit()
"#;
    let mut child = Command::new(jupyterhub_python())
        .arg("-c")
        .arg(script)
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the venv's python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(names.join("\n").as_bytes())
        .expect("writing user names to python");
    let out = child.wait_with_output().expect("waiting for python");
    assert!(
        out.status.success(),
        "adding users to {} failed ({}):\n{}{}",
        db.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh private hub (as [`start_hub`]) whose database already holds `names` as
/// ordinary users, with `api_page_max_limit` = `page_max`. One hub start, where
/// creating thousands of users through the API would take minutes.
pub fn start_hub_with_users(names: &[String], page_max: u32) -> Hub {
    start_in_new_dir(|dir| add_users_to_database(dir, names), page_max, &|_| {
        Vec::new()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------
// Acting as a person (for the hub's log: who did what)
// ---------------------------------------------------------------------------------------

impl Hub {
    /// The hub's log file (the hub's stdout and stderr, at INFO).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("hub.log")
    }

    /// A new API token of user `name` (made by `test-admin`), to act as them.
    pub async fn user_token(&self, name: &str) -> String {
        let path = format!("/users/{}/tokens", encode_name(name));
        let body = serde_json::json!({ "note": "acting as this user in a test" });
        let token = self
            .call(Method::POST, &path, Some(&body), None, &[201])
            .await;
        token["token"]
            .as_str()
            .unwrap_or_else(|| panic!("POST {path}: no token: {token}"))
            .to_string()
    }

    /// `actor` makes `user` admin through the API with their own token (`PATCH`): 200
    /// expected.
    pub async fn make_admin_as(&self, actor: &str, user: &str) {
        let token = self.user_token(actor).await;
        let path = format!("/users/{}", encode_name(user));
        let body = serde_json::json!({"admin": true});
        let (status, answer) = self
            .request(Method::PATCH, &path, &token, Some(&body))
            .await;
        assert_eq!(status, 200, "{actor} making {user} admin: {answer}");
    }

    /// Logs `name` in through the hub's own login form (`GET /hub/login` for the xsrf
    /// cookie, then `POST /hub/login`), as a browser does; the status of the POST (302
    /// on success).
    pub async fn login(&self, name: &str, password: &str) -> u16 {
        let base = format!("http://127.0.0.1:{}/hub/login", self.port);
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building a reqwest client");
        let page = client
            .get(&base)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {base}: {e}"));
        let xsrf = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.strip_prefix("_xsrf=")?
                    .split(';')
                    .next()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| panic!("GET {base}: no _xsrf cookie"));
        let form = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let body = format!(
            "username={}&password={}&_xsrf={}",
            form(name),
            form(password),
            form(&xsrf)
        );
        let answer = client
            .post(format!("{base}?next=%2Fhub%2Fhome"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Cookie", format!("_xsrf={xsrf}"))
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {base}: {e}"));
        answer.status().as_u16()
    }
}

impl Hub {
    /// Every admin event in the hub's log so far, read from its start with the evidence
    /// core (`LogFile` + `Attributor`) as the daemon reads it, in this machine's zone.
    pub fn admin_events(&self) -> Vec<AdminEvent> {
        let mut log = LogFile::new(self.log_path(), None);
        let mut attributor = Attributor::new(LogZone::system(), Duration::from_secs(60));
        log.read(u64::MAX, &mut attributor)
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.log_path().display()));
        attributor.flush()
    }

    /// Waits until the hub's log holds `count` lines containing `needle`, then returns
    /// the events that `pick` picks. The hub writes a request's line after it has
    /// answered: read before, a change has no request yet (and is unknown).
    pub async fn admin_events_once_logged(
        &self,
        needle: &str,
        count: usize,
        pick: impl Fn(&AdminEvent) -> bool,
    ) -> Vec<AdminEvent> {
        let what = format!("{count} lines with {needle:?} in the hub's log");
        let logged = || self.log().lines().filter(|l| l.contains(needle)).count() >= count;
        super::wait_until(10, &what, || self.log_tail(40), || async { logged() }).await;
        self.admin_events()
            .into_iter()
            .filter(|e| pick(e))
            .collect()
    }
}

impl Hub {
    /// A request with a JSON body sent exactly as written (key order kept, as a browser
    /// sends it); the status.
    pub async fn request_raw(&self, method: Method, path: &str, token: &str, body: &str) -> u16 {
        let url = format!("{}{path}", self.api_url);
        client()
            .request(method.clone(), &url)
            .header("Authorization", format!("token {token}"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"))
            .status()
            .as_u16()
    }
}
