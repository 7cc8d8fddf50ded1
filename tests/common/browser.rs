//! A REAL headless Chromium, driven the way a person uses a hub's pages: Debian's
//! `chromium` and `chromium-driver`, spoken to in W3C WebDriver (JSON over HTTP) by a
//! small client of our own, since the few calls a test needs do not justify a browser
//! automation crate. Installed with apt-get when missing and the tests run as root (as
//! CI does), otherwise the test says what to install.
//!
//! A [`Browser`] is one chromedriver on a free loopback port with one session; dropping
//! it ends the session and kills chromedriver's process group (Chromium with it). Pages
//! such as JupyterHub's admin page are React apps that render after load: every lookup
//! polls with a deadline ([`Browser::wait`]), and a lookup that times out panics with a
//! screenshot's path and the page's text. Screenshots go to the browser's own directory,
//! kept (and named on stderr) when the test fails or `BROWSER_KEEP` is set (to look at
//! a page's steps while writing a test).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::{apt_install_as_root, free_port, tail};

/// Debian's Chromium and its WebDriver.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The key W3C WebDriver gives an element reference under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a lookup waits for a page to render what it looks for.
const WAIT: Duration = Duration::from_secs(20);

/// Chromium's flags on a machine whose only network is loopback: without the
/// background-networking flags its own connections out are refused and slow it down.
const FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
];

/// Installs Debian's `chromium` and `chromium-driver` when they are missing and this is
/// root (once per test binary); panics saying what to install when they are still
/// missing.
fn ensure_installed() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(install_if_missing);
}

fn install_if_missing() {
    let present = || Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).exists();
    if present() {
        return;
    }
    apt_install_as_root(&["chromium", "chromium-driver"]);
    assert!(
        present(),
        "no {CHROMIUM} or {CHROMEDRIVER}: install Debian's chromium and chromium-driver"
    );
}

/// How to find an element.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    Css(&'a str),
    XPath(&'a str),
}

impl By<'_> {
    fn strategy(&self) -> Value {
        match self {
            By::Css(s) => json!({ "using": "css selector", "value": s }),
            By::XPath(s) => json!({ "using": "xpath", "value": s }),
        }
    }
}

/// An element of the current page (valid until the page re-renders it away).
#[derive(Debug, Clone)]
pub struct Element(String);

/// One headless Chromium session through its own chromedriver.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    port: u16,
    client: reqwest::Client,
    dir: Option<tempfile::TempDir>,
    shots: usize,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session with a new, empty
    /// profile in the browser's own directory.
    pub async fn start() -> Browser {
        ensure_installed();
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browsers");
        std::fs::create_dir_all(&base).expect("creating the browsers' directory");
        let dir = tempfile::Builder::new()
            .prefix("browser-")
            .tempdir_in(&base)
            .expect("creating a browser directory");
        let started = Instant::now();
        let (driver, port) = start_driver(dir.path());
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building a reqwest client");
        let mut browser = Browser {
            driver,
            session: String::new(),
            port,
            client,
            dir: Some(dir),
            shots: 0,
        };
        let profile = browser.dir().join("profile");
        let mut args: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let url = format!("http://127.0.0.1:{port}/session");
        let value = browser
            .send(reqwest::Method::POST, &url, Some(capabilities))
            .await;
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session: no sessionId: {value}"));
        browser.session = format!("{url}/{id}");
        eprintln!(
            "browser: Chromium {} ready in {:.1?} (dir {})",
            value["capabilities"]["browserVersion"]
                .as_str()
                .unwrap_or("?"),
            started.elapsed(),
            browser.dir().display()
        );
        browser
    }

    /// The browser's directory: its profile, chromedriver's log, the screenshots.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("the browser's directory").path()
    }

    /// One WebDriver command; the answer's `value`. Panics with the WebDriver error.
    async fn send(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method.clone(), url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {url}: no answer: {e}"));
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("WebDriver {method} {url}: not JSON ({e}): {text}"));
        assert!(
            status.is_success(),
            "WebDriver {method} {url}: {status}: {}: {}",
            body["value"]["error"],
            body["value"]["message"]
        );
        body["value"].clone()
    }

    /// A command of this session (`path` after `/session/ID`).
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.send(method, &format!("{}{path}", self.session), body)
            .await
    }

    /// Opens `url` and waits until it has loaded (not until scripts have rendered).
    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The address of the current page.
    pub async fn url(&self) -> String {
        let value = self.command(reqwest::Method::GET, "/url", None).await;
        value.as_str().unwrap_or_default().to_string()
    }

    /// The elements `by` finds now (none: an empty list, no waiting).
    pub async fn find_all(&self, by: By<'_>) -> Vec<Element> {
        let value = self
            .command(reqwest::Method::POST, "/elements", Some(by.strategy()))
            .await;
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element `by` finds, waiting up to [`WAIT`] for the page to render it;
    /// then panics with a screenshot and the page's text.
    pub async fn wait(&mut self, by: By<'_>) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(element) = self.find_all(by).await.into_iter().next() {
                return element;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("no element {by:?} after {WAIT:?}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits up to [`WAIT`] until the script (a function body returning a value) returns
    /// `true`; then panics with `what`, a screenshot and the page's text.
    pub async fn wait_for_script(&mut self, what: &str, script: &str, args: Value) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.execute(script, args.clone()).await == Value::Bool(true) {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {WAIT:?} waiting for: {what}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks an element (scrolled into view first, as a person's click is).
    pub async fn click(&self, element: &Element) {
        let path = format!("/element/{}/click", element.0);
        self.command(reqwest::Method::POST, &path, Some(json!({})))
            .await;
    }

    /// Types `text` into an element (a field, a text area).
    pub async fn type_into(&self, element: &Element, text: &str) {
        let path = format!("/element/{}/value", element.0);
        self.command(reqwest::Method::POST, &path, Some(json!({ "text": text })))
            .await;
    }

    /// The element's rendered text.
    pub async fn text(&self, element: &Element) -> String {
        let path = format!("/element/{}/text", element.0);
        let value = self.command(reqwest::Method::GET, &path, None).await;
        value.as_str().unwrap_or_default().to_string()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`, elements passed as
    /// [`Element::arg`]) in the page; what it returns.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.command(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// The page's visible text.
    pub async fn page_text(&self) -> String {
        let value = self
            .execute(
                "return document.body ? document.body.innerText : '';",
                json!([]),
            )
            .await;
        value.as_str().unwrap_or_default().to_string()
    }

    /// The page's console messages and uncaught errors since the last call (Chromium's
    /// log, `level` and `message` each), taken from the browser.
    pub async fn console(&self) -> Vec<Value> {
        let body = json!({ "type": "browser" });
        let value = self
            .command(reqwest::Method::POST, "/se/log", Some(body))
            .await;
        value.as_array().cloned().unwrap_or_default()
    }

    /// Saves a screenshot of the page as `NN-name.png` in the browser's directory.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let value = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot: not base64: {e}"));
        self.shots += 1;
        let path = self.dir().join(format!("{:02}-{name}.png", self.shots));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// Panics with `why`, a fresh screenshot's path and the page's address and text
    /// (the directory, with chromedriver's log, is kept).
    pub async fn fail(&mut self, why: &str) -> ! {
        let shot = self.screenshot("failure").await;
        let (url, text) = (self.url().await, self.page_text().await);
        panic!("{why}\nscreenshot: {}\npage {url}:\n{text}", shot.display());
    }
}

impl Element {
    /// The element as an argument of [`Browser::execute`].
    pub fn arg(&self) -> Value {
        json!({ ELEMENT: self.0 })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session (Chromium exits cleanly), then chromedriver's process group
        // (Chromium's too, should it linger).
        if let Some(id) = self.session.rsplit('/').next().filter(|id| !id.is_empty()) {
            delete_session(self.port, id);
        }
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
        let keep = std::thread::panicking() || std::env::var_os("BROWSER_KEEP").is_some();
        if keep && let Some(dir) = self.dir.take() {
            eprintln!(
                "browser: screenshots and chromedriver.log kept in {}",
                dir.keep().display()
            );
        }
    }
}

/// Starts chromedriver in a process group of its own on a free port, logging to
/// `dir/chromedriver.log`; ready when `/status` says so. Tries another port if the
/// one it was given was taken meanwhile.
fn start_driver(dir: &Path) -> (Child, u16) {
    use std::os::unix::process::CommandExt as _;
    let log = dir.join("chromedriver.log");
    for _ in 0..3 {
        let port = free_port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(dir.join("chromedriver.err")).expect("chromedriver.err"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            if driver_ready(port) {
                return (child, port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!(
        "chromedriver did not start; {}:\n{}\n{}",
        log.display(),
        tail(&log, 20),
        tail(&dir.join("chromedriver.err"), 20)
    );
}

/// `GET /status` over plain HTTP: whether chromedriver says it is ready.
fn driver_ready(port: u16) -> bool {
    http11(port, "GET", "/status").is_some_and(|body| body.contains("\"ready\":true"))
}

fn delete_session(port: u16, id: &str) {
    let _ = http11(port, "DELETE", &format!("/session/{id}"));
}

/// A body-less HTTP/1.1 request to chromedriver (which refuses HTTP/1.0 and keeps the
/// connection open whatever the request says: the body is read to its
/// `Content-Length`); the answer's body. Blocking, for the places no runtime may be
/// (start-up polling, `Drop`).
fn http11(port: u16, method: &str, path: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })?;
            if body.len() >= length {
                return Some(body.to_string());
            }
        }
    }
}
