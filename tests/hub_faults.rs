//! Faults a real JupyterHub cannot be made to produce, shown against mock servers.
//!
//! Each test builds a roster and a [`HubClient`] with tiny timeouts and a fast retry
//! policy, mounts a well-behaved fake hub ([`mount_hub`]: version, token owner, a user
//! list paged [`PAGE_MAX`] at a time) and then states only its fault on top of it, at a
//! higher priority. Faults wiremock cannot make (a reset, a body without
//! `Content-Length`) come from [`RawHub`], a few lines of HTTP/1.1 over a tokio
//! `TcpListener`.
//!
//! Whatever breaks a read must change nothing: every read fault is also run through
//! [`run::reconcile`] in `Mode::Once` on a hub whose listed users include undeclared
//! admins, and the mock must have received no write.

mod common;

use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use common::mock::mount_get_json;

use jupyterhub_admin_sync::hub::{
    ClientOptions, HubClient, HubError, HubRead, HubWrite, Keep, PAGINATION_ACCEPT,
};
use jupyterhub_admin_sync::outcome::ErrorKind;
use jupyterhub_admin_sync::reconcile::reconcile;
use jupyterhub_admin_sync::report::{HubReport, Status};
use jupyterhub_admin_sync::retry::RetryPolicy;
use jupyterhub_admin_sync::roster::{HubSpec, Roster};

/// The hub token every test uses; it must never show in an error or a report.
const TOKEN: &str = "token-0123456789";
/// The fake hub's page maximum (the real one's is 200): small, so a few users make
/// several pages.
const PAGE_MAX: usize = 2;
/// The administrators every roster declares besides `eng-eve` and `rep-bob`.
const NO_ADMINISTRATORS: &[&str] = &[];
/// A hub in sync with the roster except for two undeclared admins, one on each of the
/// first two pages: an accepted listing would revoke them.
const DRIFTED: &[(&str, bool)] = &[
    ("eng-eve", true),
    ("mallory", true),
    ("rep-bob", true),
    ("trudy", true),
    ("zed", false),
];

// ---------------------------------------------------------------------------------------
// The roster, the client, and what they did
// ---------------------------------------------------------------------------------------

struct Fixture {
    roster: Roster,
    spec: HubSpec,
    client: HubClient,
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_interval: Duration::from_millis(10),
        max_interval: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(5),
        max_retry_after: Duration::from_secs(2),
    }
}

fn options() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        retry: fast_retry(),
        // More than the hub's maximum: the hub clamps it, as a real one does.
        page_size: 100,
        max_body_bytes: 1024 * 1024,
    }
}

/// A roster with engineer `eng-eve`, representative `rep-bob` and `administrators`
/// (added by `rep-bob`), and one enforcing hub at `base` (a server's root URI).
fn fixture_with(base: &str, administrators: &[&str], options: &ClientOptions) -> Fixture {
    let mut yaml = String::from(
        "engineers:\n  - name: eng-eve\ncommunities:\n  - name: lab\n    representatives:\n      - name: rep-bob\n",
    );
    if !administrators.is_empty() {
        yaml.push_str("    administrators:\n");
        for name in administrators {
            // A JSON string is a YAML double-quoted scalar.
            let quoted = serde_json::to_string(name).unwrap();
            yaml.push_str(&format!(
                "      - name: {quoted}\n        added_by: rep-bob\n"
            ));
        }
    }
    yaml.push_str(&format!(
        "    hubs:\n      - name: lab-hub\n        api_url: {base}/hub/api\n        token_env: HUB_TOKEN\n        policy: enforce\n        max_revocations: 10\n"
    ));
    let roster = Roster::parse_bytes(Path::new("faults.yaml"), yaml.as_bytes(), &|_| {
        Some(TOKEN.into())
    })
    .unwrap_or_else(|e| panic!("test roster is invalid: {e}\n{yaml}"));
    let spec = roster.hubs[0].clone();
    let client = HubClient::new(&spec, options).expect("client");
    Fixture {
        roster,
        spec,
        client,
    }
}

/// Keeps no user but admins, with only the built-in admin role.
fn keep_none() -> Keep<'static> {
    static ADMIN: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["admin".to_string()]);
    Keep {
        user: &|_| false,
        admin_roles: &ADMIN,
    }
}

fn fixture(base: &str) -> Fixture {
    fixture_with(base, NO_ADMINISTRATORS, &options())
}

impl Fixture {
    async fn snapshot_error(&self) -> HubError {
        match self.client.snapshot(&keep_none()).await {
            Ok(snapshot) => panic!("the read should fail, but gave {snapshot:?}"),
            Err(e) => e,
        }
    }

    async fn reconcile(&self) -> HubReport {
        // Never cancelled: these tests are about the hub, not about shutdown.
        let stop = CancellationToken::new();
        let desired = self.roster.desired(&self.spec);
        reconcile(
            &self.spec,
            &desired,
            &self.client,
            Some(&self.client),
            &stop,
        )
        .await
    }

    /// The read fails with `kind`, and a one-shot reconcile fails the same way without
    /// planning or changing anything. Returns the read's error.
    async fn read_fails_and_nothing_changes(&self, kind: &str) -> HubError {
        let error = self.snapshot_error().await;
        assert_eq!(error.kind().as_str(), kind, "{error}");
        let report = self.reconcile().await;
        assert_eq!(report.status, Status::Error, "{report}");
        assert_eq!(
            report.error_kind.map(ErrorKind::as_str),
            Some(kind),
            "{report}"
        );
        assert!(report.changes.is_empty(), "{report}");
        assert_eq!(report.users, None, "{report}");
        error
    }
}

/// `METHOD path` of every request `server` received that is not a GET.
async fn writes(server: &MockServer) -> Vec<String> {
    received(server)
        .await
        .into_iter()
        .filter(|r| !r.starts_with("GET "))
        .collect()
}

/// `METHOD path?query` of every request `server` received, in order.
async fn received(server: &MockServer) -> Vec<String> {
    common::mock::requests(server)
        .await
        .iter()
        .map(|r| {
            let mut line = format!("{} {}", r.method, r.url.path());
            if let Some(q) = r.url.query() {
                line.push('?');
                line.push_str(q);
            }
            line
        })
        .collect()
}

async fn count(server: &MockServer, prefix: &str) -> usize {
    received(server)
        .await
        .iter()
        .filter(|r| r.starts_with(prefix))
        .count()
}

// ---------------------------------------------------------------------------------------
// A well-behaved fake hub
// ---------------------------------------------------------------------------------------

/// A hub's users as `(name, admin)`: `admins`, then `others`, in that order.
fn admins_then_others<'a>(admins: &[&'a str], others: &[&'a str]) -> Vec<(&'a str, bool)> {
    let admins = admins.iter().map(|n| (*n, true));
    admins.chain(others.iter().map(|n| (*n, false))).collect()
}

fn owned(users: &[(&str, bool)]) -> Vec<(String, bool)> {
    users.iter().map(|(n, a)| (n.to_string(), *a)).collect()
}

/// One page of `GET /users` as JupyterHub answers it, `limit` clamped to [`PAGE_MAX`].
fn users_page(users: &[(String, bool)], offset: usize, limit: usize) -> Value {
    let limit = limit.clamp(1, PAGE_MAX);
    let items: Vec<Value> = users
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(name, admin)| json!({"kind": "user", "name": name, "admin": admin, "roles": []}))
        .collect();
    let end = offset + limit;
    let next = (end < users.len()).then(|| next(end, limit));
    page(offset, limit, users.len(), next, items)
}

fn next(offset: usize, limit: usize) -> Value {
    json!({
        "offset": offset,
        "limit": limit,
        "url": format!("http://hub:8081/hub/api/users?offset={offset}&limit={limit}"),
    })
}

/// A page with whatever `_pagination` a test wants the hub to claim.
fn page(
    offset: usize,
    limit: usize,
    total: usize,
    next: Option<Value>,
    items: Vec<Value>,
) -> Value {
    json!({
        "items": items,
        "_pagination": {
            "offset": offset,
            "limit": limit,
            "total": total,
            "next": next.unwrap_or(Value::Null),
        }
    })
}

fn items(users: &[(&str, bool)]) -> Vec<Value> {
    users
        .iter()
        .map(|(name, admin)| json!({"kind": "user", "name": name, "admin": admin}))
        .collect()
}

/// `offset` and `limit` of a `/users?...` request (JupyterHub's defaults if absent).
fn offset_limit(url: &url::Url) -> (usize, usize) {
    let mut offset = 0;
    let mut limit = 50;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "offset" => offset = v.parse().unwrap_or(0),
            "limit" => limit = v.parse().unwrap_or(50),
            _ => {}
        }
    }
    (offset, limit)
}

/// Answers `GET /users` from a fixed list, honouring the request's offset.
struct PagedUsers(Vec<(String, bool)>);

impl Respond for PagedUsers {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (offset, limit) = offset_limit(&request.url);
        ResponseTemplate::new(200).set_body_json(users_page(&self.0, offset, limit))
    }
}

/// Answers each page from a table keyed by offset (a hub whose pagination lies).
struct Pages(Vec<(usize, Value)>);

impl Respond for Pages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (offset, _) = offset_limit(&request.url);
        match self.0.iter().find(|(o, _)| *o == offset) {
            Some((_, body)) => ResponseTemplate::new(200).set_body_json(body),
            None => ResponseTemplate::new(404).set_body_json(json!({"status": 404})),
        }
    }
}

/// Mounts JupyterHub 6.1.1 with the token owned by an admin service, `users` listed
/// [`PAGE_MAX`] a page, and writes that succeed (so that a write a test forbids shows
/// up as received, not as a 404).
async fn mount_hub(server: &MockServer, users: &[(&str, bool)]) {
    mount_base(server, "6.1.1").await;
    Mock::given(method("GET"))
        .and(path("/hub/api/users"))
        .and(header("accept", PAGINATION_ACCEPT))
        .respond_with(PagedUsers(owned(users)))
        .mount(server)
        .await;
}

/// Like [`mount_hub`], with the user list answered from `pages` by offset.
async fn mount_pages(server: &MockServer, pages: Vec<(usize, Value)>) {
    mount_base(server, "6.1.1").await;
    Mock::given(method("GET"))
        .and(path("/hub/api/users"))
        .and(header("accept", PAGINATION_ACCEPT))
        .respond_with(Pages(pages))
        .mount(server)
        .await;
}

async fn mount_base(server: &MockServer, version: &str) {
    mount_get_json(server, "/hub/api/", json!({"version": version})).await;
    common::mock::mount_groups(server, json!([])).await;
    let owner = json!({"kind": "service", "name": "admin-sync", "admin": true, "roles": ["admin"]});
    mount_get_json(server, "/hub/api/user", owner).await;
    Mock::given(method("PATCH"))
        .and(path_regex("^/hub/api/users/[^/]+$"))
        .respond_with(EchoUser(200))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex("^/hub/api/users/[^/]+$"))
        .respond_with(EchoUser(201))
        .mount(server)
        .await;
}

/// Answers a write as JupyterHub does: with the user, its admin flag as asked.
struct EchoUser(u16);

impl wiremock::Respond for EchoUser {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let asked: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let name = request
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        ResponseTemplate::new(self.0).set_body_json(
            json!({"kind": "user", "name": name, "admin": asked["admin"].as_bool().unwrap_or(false)}),
        )
    }
}

/// A fault on `GET path`, ahead of the fake hub's own answer.
fn on_get(path_: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET")).and(path(path_))
}

/// A fault on the page at `offset`, ahead of the fake hub's own answer.
fn on_page(offset: usize) -> wiremock::MockBuilder {
    on_get("/hub/api/users").and(query_param("offset", offset.to_string()))
}

async fn started_hub(users: &[(&str, bool)]) -> MockServer {
    let server = MockServer::start().await;
    mount_hub(&server, users).await;
    server
}

/// The fake hub with [`DRIFTED`] users and `fault` ahead of its own answers, and the
/// fixture for it.
async fn drifted_hub_with(fault: Mock) -> (MockServer, Fixture) {
    let server = started_hub(DRIFTED).await;
    fault.with_priority(1).mount(&server).await;
    let f = fixture(&server.uri());
    (server, f)
}

/// `503 Service Unavailable` on the page at `offset`.
fn unavailable_on_page(offset: usize) -> Mock {
    on_page(offset).respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
}

/// Asserts that `error`'s message starts with `start` and holds each of `parts`.
#[track_caller]
fn assert_says(error: &HubError, start: &str, parts: &[&str]) {
    let message = error.to_string();
    assert!(message.starts_with(start), "{message}");
    for part in parts {
        assert!(message.contains(part), "{part:?} is missing: {message}");
    }
}

// ---------------------------------------------------------------------------------------
// A raw HTTP/1.1 hub, for what wiremock cannot do
// ---------------------------------------------------------------------------------------

/// How [`RawHub`] answers one request.
enum Answer {
    /// A complete answer with `Content-Length`.
    Json(Value),
    /// Close the connection without answering, with a TCP reset.
    Reset,
    /// 200 with `body` and no `Content-Length`: the end is the closed connection.
    CloseDelimited(Vec<u8>),
    /// 200 with `body` in `Transfer-Encoding: chunked`, 64 KiB a chunk.
    Chunked(Vec<u8>),
}

type Answerer = dyn Fn(&str, &url::Url) -> Answer + Send + Sync;

/// One request a connection, `Connection: close` on every answer, so that the client
/// never reuses a connection (and never retries on its own).
struct RawHub {
    base: String,
    /// `METHOD target` of every request, in order.
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawHub {
    async fn start(answer: impl Fn(&str, &url::Url) -> Answer + Send + Sync + 'static) -> RawHub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answerer> = Arc::new(answer);
        let log = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, answer.clone(), log.clone()));
            }
        });
        RawHub {
            base,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| !r.starts_with("GET "))
            .collect()
    }

    /// How many requests began with `prefix` (`METHOD target`).
    fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

/// A well-behaved answer from `users`, for [`RawHub`].
fn raw_hub_answer(users: &[(String, bool)], method: &str, url: &url::Url) -> Answer {
    match (method, url.path()) {
        ("GET", "/hub/api/") => Answer::Json(json!({"version": "6.1.1"})),
        ("GET", "/hub/api/user") => {
            Answer::Json(json!({"kind": "service", "name": "admin-sync", "admin": true}))
        }
        ("GET", "/hub/api/users") => {
            let (offset, limit) = offset_limit(url);
            Answer::Json(users_page(users, offset, limit))
        }
        _ => Answer::Json(json!({"kind": "user"})),
    }
}

async fn serve(mut stream: TcpStream, answer: Arc<Answerer>, log: Arc<Mutex<Vec<String>>>) {
    // The request head, then as much body as Content-Length says.
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let content_length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + content_length {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let mut request_line = head.lines().next().unwrap_or("").split_whitespace();
    let method = request_line.next().unwrap_or("").to_string();
    let target = request_line.next().unwrap_or("/").to_string();
    log.lock().unwrap().push(format!("{method} {target}"));
    let url = url::Url::parse(&format!("http://hub{target}")).expect("request target");

    let head = |extra: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}Connection: close\r\n\r\n"
        )
    };
    // A client that stops reading (a body over its limit) makes writes fail: fine.
    let _ = match answer(&method, &url) {
        Answer::Json(value) => {
            let body = value.to_string();
            let out = head(&format!("Content-Length: {}\r\n", body.len())) + &body;
            stream.write_all(out.as_bytes()).await
        }
        Answer::Reset => {
            let _ = stream.set_zero_linger();
            return;
        }
        Answer::CloseDelimited(body) => {
            if stream.write_all(head("").as_bytes()).await.is_ok() {
                stream.write_all(&body).await
            } else {
                Ok(())
            }
        }
        Answer::Chunked(body) => {
            let mut out = head("Transfer-Encoding: chunked\r\n").into_bytes();
            for chunk in body.chunks(64 * 1024) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            stream.write_all(&out).await
        }
    };
    let _ = stream.shutdown().await;
}

/// A JSON-looking body of `len` bytes: a page whose items never end.
fn huge_body(len: usize) -> Vec<u8> {
    let mut body = br#"{"items":["#.to_vec();
    let item = br#"{"name":"someone","admin":false},"#;
    while body.len() + item.len() < len {
        body.extend_from_slice(item);
    }
    body.resize(len, b' ');
    body
}

// ---------------------------------------------------------------------------------------
// Transient faults: retried, then fine
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn two_503s_on_a_page_are_retried_and_the_snapshot_succeeds() {
    let (server, f) = drifted_hub_with(unavailable_on_page(2).up_to_n_times(2)).await;

    let snapshot = f.client.snapshot(&keep_none()).await.expect("snapshot");

    assert_eq!(snapshot.total_users, 5);
    let admins: Vec<&str> = snapshot
        .users
        .iter()
        .filter(|u| u.admin)
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(admins, ["eng-eve", "mallory", "rep-bob", "trudy"]);
    // GET /, GET /user, three pages, two retries of the page at offset 2, the groups.
    assert_eq!(f.client.requests_sent(), 8);
    assert_eq!(count(&server, "GET /hub/api/users?offset=2").await, 3);
}

#[tokio::test]
async fn a_503_that_persists_gives_up_after_max_attempts_and_changes_nothing() {
    let (server, f) = drifted_hub_with(unavailable_on_page(2)).await;

    let error = f.read_fails_and_nothing_changes("status").await;

    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_says(
        &error,
        "GET /users?offset=2&limit=100",
        &["Service Unavailable"],
    );
    // Three attempts for the snapshot, three for the reconcile's own read.
    assert_eq!(count(&server, "GET /hub/api/users?offset=2").await, 6);
    assert_eq!(writes(&server).await, Vec::<String>::new());
}

#[tokio::test]
async fn retry_after_on_a_429_is_honoured() {
    let too_many = ResponseTemplate::new(429)
        .insert_header("Retry-After", "1")
        .set_body_json(json!({"status": 429, "message": "Too many requests"}));
    let (_server, f) = drifted_hub_with(on_page(0).respond_with(too_many).up_to_n_times(1)).await;

    let started = Instant::now();
    let snapshot = f.client.snapshot(&keep_none()).await.expect("snapshot");
    let elapsed = started.elapsed();

    assert_eq!(snapshot.total_users, 5);
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    // Not the backoff's milliseconds, nor the 2 s cap.
    assert!(elapsed < Duration::from_millis(1900), "waited {elapsed:?}");
    // GET /, GET /user, three pages, one retry, the groups.
    assert_eq!(f.client.requests_sent(), 7);
}

#[tokio::test]
async fn a_groups_listing_that_fails_or_does_not_add_up_fails_the_read_and_changes_nothing() {
    let unavailable = ResponseTemplate::new(503).set_body_string("Service Unavailable");
    let short = page(
        0,
        200,
        3,
        None,
        vec![json!({"name": "hub-admins", "users": ["mallory"], "roles": ["admin"]})],
    );
    for (case, answer, kind) in [
        ("a 503 that persists", unavailable, "status"),
        (
            "fewer groups than the total",
            ResponseTemplate::new(200).set_body_json(short),
            "incomplete",
        ),
    ] {
        let (server, f) = drifted_hub_with(on_get("/hub/api/groups").respond_with(answer)).await;
        let error = f.read_fails_and_nothing_changes(kind).await;
        assert!(error.to_string().contains("group"), "{case}: {error}");
        assert_eq!(writes(&server).await, Vec::<String>::new(), "{case}");
    }
}

// ---------------------------------------------------------------------------------------
// Transport faults
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_hung_page_times_out_and_the_error_names_the_path() {
    let hung = ResponseTemplate::new(200)
        .set_body_json(json!({}))
        .set_delay(Duration::from_secs(5));
    let (server, _) = drifted_hub_with(on_page(2).respond_with(hung)).await;
    let f = fixture_with(
        &server.uri(),
        NO_ADMINISTRATORS,
        &ClientOptions {
            request_timeout: Duration::from_millis(200),
            ..options()
        },
    );

    let started = Instant::now();
    let error = f.snapshot_error().await;
    let elapsed = started.elapsed();

    assert_eq!(error.kind().as_str(), "timeout", "{error}");
    assert_says(&error, "GET /users?offset=2&limit=100: ", &["timed out"]);
    // A timeout is transient: three attempts of 200 ms, then give up.
    assert_eq!(count(&server, "GET /hub/api/users?offset=2").await, 3);
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert_eq!(writes(&server).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_connection_reset_on_page_3_fails_the_read_and_revokes_nobody() {
    // Pages 1 and 2 list the undeclared admins mallory and trudy; page 3 never comes.
    let users = owned(&[
        ("eng-eve", true),
        ("mallory", true),
        ("rep-bob", true),
        ("trudy", true),
        ("zed", false),
        ("yves", false),
    ]);
    let hub = RawHub::start(move |method, url| {
        if url.path() == "/hub/api/users" && offset_limit(url).0 == 4 {
            Answer::Reset
        } else {
            raw_hub_answer(&users, method, url)
        }
    })
    .await;
    let f = fixture(&hub.base);

    let error = f.read_fails_and_nothing_changes("transport").await;

    assert_says(&error, "GET /users?offset=4&limit=100: ", &[]);
    assert_eq!(hub.writes(), Vec::<String>::new());
    // Retried like any transient fault: three attempts per read.
    let resets = hub.count("GET /hub/api/users?offset=4");
    assert_eq!(resets, 6, "{:?}", hub.requests());
}

// ---------------------------------------------------------------------------------------
// Answers that are not what JupyterHub sends
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_on_page_2_is_a_decode_error_that_shows_the_body() {
    let truncated = r#"{"items":[{"name":"carol","admin":tru"#;
    let answer = ResponseTemplate::new(200).set_body_raw(truncated, "application/json");
    let (server, f) = drifted_hub_with(on_page(2).respond_with(answer)).await;

    let error = f.read_fails_and_nothing_changes("decode").await;

    assert_says(
        &error,
        "GET /users?offset=2&limit=100: ",
        &[&format!("it began: {truncated}")],
    );
    // Not transient: one request per read.
    assert_eq!(count(&server, "GET /hub/api/users?offset=2").await, 2);
    assert_eq!(writes(&server).await, Vec::<String>::new());
}

#[tokio::test]
async fn an_html_login_page_is_a_decode_error() {
    let login = "<!DOCTYPE html>\n<html><head><title>JupyterHub</title></head>\
                 <body><form action=\"/hub/login\" method=\"post\">Sign in</form></body></html>";
    let answer = ResponseTemplate::new(200).set_body_raw(login, "text/html; charset=UTF-8");
    let (server, f) = drifted_hub_with(Mock::given(method("GET")).respond_with(answer)).await;

    let error = f.read_fails_and_nothing_changes("decode").await;

    assert_says(&error, "GET /: ", &["it began: <!DOCTYPE html>"]);
    assert_eq!(writes(&server).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_plain_array_from_users_is_a_decode_error_that_names_the_accept_header() {
    // A hub (or a proxy in front of it) that ignores the pagination Accept header.
    let plain = ResponseTemplate::new(200).set_body_json(json!(items(DRIFTED)));
    let (server, f) = drifted_hub_with(on_get("/hub/api/users").respond_with(plain)).await;

    let error = f.read_fails_and_nothing_changes("decode").await;

    let accept = format!("Accept: {PAGINATION_ACCEPT}");
    let start = "GET /users?offset=0&limit=100: ";
    assert_says(&error, start, &[&accept, r#"it began: [{"#]);
    assert_eq!(writes(&server).await, Vec::<String>::new());
}

#[tokio::test]
async fn jupyterhub_1_5_is_too_old_and_its_users_are_not_listed() {
    let server = MockServer::start().await;
    mount_base(&server, "1.5.0").await;
    let f = fixture(&server.uri());

    let error = f.read_fails_and_nothing_changes("too_old").await;

    assert!(error.to_string().contains("JupyterHub 1.5.0"), "{error}");
    assert_eq!(
        received(&server).await,
        ["GET /hub/api/", "GET /hub/api/"],
        "only the version is asked for, once per read"
    );
}

// ---------------------------------------------------------------------------------------
// Listings that do not add up
// ---------------------------------------------------------------------------------------

/// A listing whose pagination does not add up, and what the error says.
struct Listing {
    what: &'static str,
    /// The pages the lying hub serves (by offset), one a line, as
    /// `offset O, limit L, total T, next N: USER USER` (`no next` on the last page);
    /// every listed user is an admin.
    pages: &'static [&'static str],
    error: &'static str,
}

const LISTINGS_THAT_DO_NOT_ADD_UP: &[Listing] = &[
    Listing {
        what: "a total that claims more users than listed (10 claimed, 4 listed)",
        pages: &[
            "offset 0, limit 2, total 10, next 2: eng-eve mallory",
            "offset 2, limit 2, total 10, no next: rep-bob trudy",
        ],
        error: "the listing ended after 4 users, but the hub's total is 10",
    },
    Listing {
        what: "a total that claims fewer users than listed (2 claimed, 4 come)",
        pages: &[
            "offset 0, limit 2, total 2, next 2: eng-eve mallory",
            "offset 2, limit 2, total 2, no next: rep-bob trudy",
        ],
        error: "the next page's offset 2 is not below the total of 2",
    },
    Listing {
        what: "a total that claims fewer users than one page holds",
        pages: &["offset 0, limit 3, total 2, no next: eng-eve mallory rep-bob"],
        error: "more than the total of 2",
    },
    Listing {
        what: "a next offset that loops back",
        pages: &[
            "offset 0, limit 2, total 6, next 2: eng-eve mallory",
            "offset 2, limit 2, total 6, next 0: rep-bob trudy",
        ],
        error: "the next page's offset 0 does not move past 2",
    },
    Listing {
        what: "an empty page before the end",
        pages: &[
            "offset 0, limit 2, total 6, next 2: eng-eve mallory",
            "offset 2, limit 2, total 6, next 4:",
            "offset 4, limit 2, total 6, no next: rep-bob trudy",
        ],
        error: "the page at offset 2 is empty but the hub says more follow",
    },
    Listing {
        // The users at 2 and 3 are never listed (one of them could be an undeclared
        // admin, or a declared one).
        what: "a next offset that skips users",
        pages: &[
            "offset 0, limit 2, total 6, next 4: eng-eve mallory",
            "offset 4, limit 2, total 6, no next: rep-bob trudy",
        ],
        error: "the listing ended after 4 users, but the hub's total is 6",
    },
    Listing {
        what: "a user on two pages",
        pages: &[
            "offset 0, limit 2, total 4, next 2: eng-eve mallory",
            "offset 2, limit 2, total 4, no next: mallory rep-bob",
        ],
        error: "user mallory was listed twice",
    },
];

/// A page of [`Listing::pages`] as `(offset, the page's JSON)`.
fn lying_page(line: &str) -> (usize, Value) {
    let (head, names) = line
        .split_once(':')
        .unwrap_or_else(|| panic!("no ':' in the page {line:?}"));
    // `field N` among the comma-separated fields, if there.
    let field = |name: &str| -> Option<usize> {
        let prefix = format!("{name} ");
        let value = head.split(", ").find_map(|f| f.strip_prefix(&prefix))?;
        Some(
            value
                .parse()
                .unwrap_or_else(|e| panic!("{line:?}: {name}: {e}")),
        )
    };
    let number = |name: &str| field(name).unwrap_or_else(|| panic!("{line:?}: no {name}"));
    let (offset, limit, total) = (number("offset"), number("limit"), number("total"));
    let next_offset = field("next");
    assert!(
        next_offset.is_some() || head.ends_with(", no next"),
        "{line:?}: neither next nor no next"
    );
    let listed: Vec<(&str, bool)> = names.split_whitespace().map(|n| (n, true)).collect();
    let next = next_offset.map(|o| next(o, limit));
    (offset, page(offset, limit, total, next, items(&listed)))
}

#[tokio::test]
async fn a_listing_that_does_not_add_up_is_incomplete_and_revokes_nobody() {
    for Listing {
        what,
        pages,
        error: message,
    } in LISTINGS_THAT_DO_NOT_ADD_UP
    {
        let server = MockServer::start().await;
        mount_pages(&server, pages.iter().map(|p| lying_page(p)).collect()).await;
        let f = fixture(&server.uri());

        let error = f.read_fails_and_nothing_changes("incomplete").await;

        assert!(error.to_string().contains(message), "{what}: {error}");
        if message.contains("does not move past") {
            // The loop is not followed: the first page once per read (the snapshot,
            // then the reconcile), never a third time.
            let first_page = count(&server, "GET /hub/api/users?offset=0").await;
            assert_eq!(first_page, 2, "{what}");
        }
        assert_eq!(writes(&server).await, Vec::<String>::new(), "{what}");
    }
}

// ---------------------------------------------------------------------------------------
// Names in paths
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn user_names_are_percent_encoded_in_the_paths_of_writes() {
    // alice@uni.edu is missing (create), zoë is not admin (grant), "a b" is an
    // undeclared admin (revoke).
    let users = admins_then_others(&["a b", "eng-eve", "rep-bob"], &["zoë"]);
    let server = started_hub(&users).await;
    let f = fixture_with(&server.uri(), &["alice@uni.edu", "zoë"], &options());

    let report = f.reconcile().await;

    assert_eq!(report.status, Status::Changed, "{report}");
    let writes: Vec<(String, String, Value)> = common::mock::requests(&server)
        .await
        .iter()
        .filter(|r| r.method.as_str() != "GET")
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        writes,
        [
            (
                "POST".to_string(),
                "/hub/api/users/alice%40uni.edu".to_string(),
                json!({"admin": true})
            ),
            (
                "PATCH".to_string(),
                "/hub/api/users/zo%C3%AB".to_string(),
                json!({"admin": true})
            ),
            (
                "PATCH".to_string(),
                "/hub/api/users/a%20b".to_string(),
                json!({"admin": false})
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Bodies over the limit
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_body_over_the_limit_with_content_length_is_too_large() {
    let huge =
        ResponseTemplate::new(200).set_body_raw(huge_body(2 * 1024 * 1024), "application/json");
    let (server, f) = drifted_hub_with(on_page(0).respond_with(huge)).await;

    let error = f.read_fails_and_nothing_changes("too_large").await;

    assert_says(
        &error,
        "GET /users?offset=0&limit=100: the answer is larger than 1048576 bytes",
        &[],
    );
    // Not transient: one request per read.
    assert_eq!(count(&server, "GET /hub/api/users").await, 2);
    assert_eq!(writes(&server).await, Vec::<String>::new());
}

/// A raw hub whose first page is 2 MiB, framed by `framing`.
async fn too_large_without_content_length(framing: fn(Vec<u8>) -> Answer) {
    let users = owned(DRIFTED);
    let hub = RawHub::start(move |method, url| {
        if url.path() == "/hub/api/users" {
            framing(huge_body(2 * 1024 * 1024))
        } else {
            raw_hub_answer(&users, method, url)
        }
    })
    .await;
    let f = fixture(&hub.base);

    let error = f.read_fails_and_nothing_changes("too_large").await;

    assert_says(
        &error,
        "GET /users?offset=0&limit=100: ",
        &["the answer is larger than 1048576 bytes"],
    );
    let pages = hub.count("GET /hub/api/users");
    assert_eq!(pages, 2, "one request per read: {:?}", hub.requests());
    assert_eq!(hub.writes(), Vec::<String>::new());
}

#[tokio::test]
async fn a_close_delimited_body_over_the_limit_is_too_large() {
    too_large_without_content_length(Answer::CloseDelimited).await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_too_large() {
    too_large_without_content_length(Answer::Chunked).await;
}

// ---------------------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let thief = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "6.1.1"})))
        .mount(&thief)
        .await;
    let location = format!("{}/steal", thief.uri());
    let redirect = ResponseTemplate::new(302).insert_header("Location", location.as_str());
    let (server, f) = drifted_hub_with(on_get("/hub/api/").respond_with(redirect)).await;

    let error = f.read_fails_and_nothing_changes("redirect").await;

    let redirected = format!("redirected (302 Found) to {location}");
    assert_says(&error, "GET /: ", &[&redirected]);
    assert_eq!(received(&thief).await, Vec::<String>::new());
    // Not retried either.
    assert_eq!(received(&server).await, ["GET /hub/api/", "GET /hub/api/"]);
}

// ---------------------------------------------------------------------------------------
// Failed writes, and the token
// ---------------------------------------------------------------------------------------

/// Echoes the request's `Authorization` header in its body, as a broken or hostile
/// server might.
struct EchoAuthorization {
    status: u16,
    /// Text before the echoed header.
    prefix: String,
}

/// `GET /user` answered 500 by [`EchoAuthorization`] with `prefix`.
fn token_echoed_on_user(prefix: String) -> Mock {
    on_get("/hub/api/user").respond_with(EchoAuthorization {
        status: 500,
        prefix,
    })
}

impl Respond for EchoAuthorization {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)");
        ResponseTemplate::new(self.status).set_body_raw(
            format!("{}Authorization: {auth}", self.prefix),
            "text/plain",
        )
    }
}

#[tokio::test]
async fn a_403_on_patch_is_reported_on_each_change_without_the_token() {
    // rep-bob needs a grant, mallory a revoke; the hub refuses both. Administrator
    // carol is admin, so the revocation does not take every admin (the safety floor).
    let users = admins_then_others(&["eng-eve", "carol", "mallory"], &["rep-bob"]);
    let server = started_hub(&users).await;
    Mock::given(method("PATCH"))
        .respond_with(EchoAuthorization {
            status: 403,
            prefix: r#"{"status": 403, "message": "Only admins can modify other admins"} "#.into(),
        })
        .with_priority(1)
        .mount(&server)
        .await;
    let f = fixture_with(&server.uri(), &["carol"], &options());

    let report = f.reconcile().await;

    assert_eq!(report.status, Status::Error, "{report}");
    assert_eq!(
        report.error_kind.map(ErrorKind::as_str),
        Some("apply"),
        "{report}"
    );
    assert_eq!(report.changes.len(), 2, "{report}");
    for change in &report.changes {
        assert!(!change.applied, "{report}");
        let error = change.error.as_deref().expect("the change has an error");
        assert!(error.contains("HTTP 403 Forbidden"), "{error}");
        assert!(
            error.contains("Only admins can modify other admins"),
            "{error}"
        );
        assert!(error.contains("[REDACTED]"), "{error}");
    }
    // The server did get the token, and echoed it.
    let patches = common::mock::requests_with_method(&server, "PATCH").await;
    assert_eq!(patches.len(), 2, "403 is not retried");
    assert_eq!(
        patches[0].headers.get("authorization").unwrap(),
        &format!("token {TOKEN}")
    );
    let debug = format!("{report:?}");
    let json = serde_json::to_string(&report).unwrap();
    let text = report.to_string();
    for shown in [&debug, &json, &text] {
        assert!(!shown.contains(TOKEN), "the token leaked: {shown}");
    }
}

#[tokio::test]
async fn an_echoed_token_in_a_500_body_is_redacted() {
    let echo = token_echoed_on_user("Internal Server Error; request headers: ".into());
    let (_server, f) = drifted_hub_with(echo).await;

    let error = f.read_fails_and_nothing_changes("status").await;

    assert_says(
        &error,
        "GET /user: HTTP 500",
        &["Authorization: token [REDACTED]"],
    );
    assert!(!error.to_string().contains(TOKEN), "{error}");
    assert!(!format!("{error:?}").contains(TOKEN), "{error:?}");
}

#[tokio::test]
async fn an_echoed_token_cut_by_the_snippet_limit_does_not_show_in_part() {
    // 169 characters, "Authorization: token " (21), then the token at character 190:
    // a snippet of 200 characters cuts it after "token-0123".
    let (_server, f) =
        drifted_hub_with(token_echoed_on_user(format!("{} ", "x".repeat(168)))).await;

    let error = f.snapshot_error().await;

    assert_eq!(error.kind().as_str(), "status", "{error}");
    let message = error.to_string();
    assert!(
        !message.contains(&TOKEN[..10]),
        "a part of the token shows: {message}"
    );
}

#[tokio::test]
async fn a_write_answered_by_something_that_is_not_jupyterhub_is_not_counted_as_applied() {
    let server = MockServer::start().await;
    // A login page answers the PATCH with 200, ahead of the hub.
    Mock::given(method("PATCH"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body>Sign in</body></html>"),
        )
        .mount(&server)
        .await;
    mount_hub(&server, &[("rep-bob", false), ("eng-eve", true)]).await;
    let f = fixture(&server.uri());
    let err = f.client.set_admin("rep-bob", true).await.unwrap_err();
    assert_eq!(err.kind().as_str(), "decode", "{err}");
    let report = f.reconcile().await;
    assert_eq!(report.status, Status::Error, "{report}");
    assert!(report.changes.iter().all(|c| !c.applied), "{report}");
    assert!(report.changes.iter().all(|c| c.error.is_some()), "{report}");
}

#[tokio::test]
async fn the_version_is_read_without_the_token_and_everything_else_with_it() {
    let server = started_hub(DRIFTED).await;
    let f = fixture(&server.uri());
    f.client.snapshot(&keep_none()).await.expect("snapshot");
    let requests = common::mock::requests(&server).await;
    for request in &requests {
        let has_token = request.headers.get("authorization").is_some();
        if request.url.path() == "/hub/api/" {
            assert!(!has_token, "GET / needs no token");
        } else {
            assert!(has_token, "{} without the token", request.url);
        }
    }
    assert!(requests.iter().any(|r| r.url.path() == "/hub/api/users"));
}
