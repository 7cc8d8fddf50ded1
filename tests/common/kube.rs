//! A stand-in for the Kubernetes API, serving a REAL hub's log through exactly the two
//! calls the pod-log source makes (no API server runs on these machines):
//!
//! - `GET /api/v1/namespaces/{ns}/pods?labelSelector=k=v[,k=v]`: a `PodList`;
//! - `GET /api/v1/namespaces/{ns}/pods/{pod}/log?container=&timestamps=&sinceTime=&limitBytes=`:
//!   the pod's log, a slice of a real `hub.log`, each line after a stamp as the kubelet
//!   writes it (RFC 3339, nine digits, UTC); `sinceTime` honoured to the second and
//!   inclusive, as the API server passes it on; `limitBytes` cuts the answer, even
//!   inside a line.
//!
//! Anything else is 404. Over TLS with a private CA, as in a cluster; a bearer token
//! other than the current one is 401; a namespace other than its own is 403, as RBAC
//! answers (and `forbid_log` makes the log call 403 too). The stamp of a line is the
//! hub's own time on it (the machine's local time, as the hub writes it) to the
//! millisecond, so many lines share a stamp; a line without one (a traceback's
//! continuation) takes the stamp before it. Every request is recorded.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::tls::{Ca, acceptor};

/// A pod of the stand-in.
#[derive(Debug, Clone)]
pub struct FakePod {
    pub name: String,
    pub uid: String,
    /// `Running`, `Pending`, ...
    pub phase: String,
    pub labels: Vec<(String, String)>,
    pub containers: Vec<String>,
    /// The hub container's restart count.
    pub restarts: u32,
    /// Its log: bytes `from..to` of a real hub log (`to`: `None` = up to its end now).
    pub log: PathBuf,
    pub from: u64,
    pub to: Option<u64>,
}

impl FakePod {
    /// A running Zero to JupyterHub hub pod (`component=hub`, container `hub`) whose log
    /// is `log` from byte `from` on.
    pub fn hub(name: &str, uid: &str, log: &Path, from: u64) -> FakePod {
        FakePod {
            name: name.to_string(),
            uid: uid.to_string(),
            phase: "Running".to_string(),
            labels: vec![
                ("app".to_string(), "jupyterhub".to_string()),
                ("component".to_string(), "hub".to_string()),
            ],
            containers: vec!["hub".to_string()],
            restarts: 0,
            log: log.to_path_buf(),
            from,
            to: None,
        }
    }
}

/// One request the stand-in answered.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query, as sent.
    pub uri: String,
    /// The bearer token it carried (empty: none).
    pub token: String,
    pub status: u16,
}

#[derive(Debug)]
struct StandInState {
    namespace: String,
    token: String,
    pods: Vec<FakePod>,
    forbid_log: bool,
    /// Put the request's token into error answers (a misbehaving proxy would).
    echo_token: bool,
    seen: Vec<Seen>,
}

type Shared = Arc<Mutex<StandInState>>;

/// The stand-in API server, stopped when dropped.
#[derive(Debug)]
pub struct KubeStandIn {
    pub port: u16,
    /// The CA its certificate (for 127.0.0.1) chains to: the pod's `ca.crt`.
    pub ca_pem: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KubeStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KubeStandIn {
    /// Serves namespace `namespace` to bearer token `token`, with no pods yet.
    pub async fn start(namespace: &str, token: &str) -> KubeStandIn {
        let ca = Ca::new("stand-in cluster CA");
        let (cert, key) = ca.server(&["127.0.0.1"], false);
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("binding");
        let port = tcp.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(StandInState {
            namespace: namespace.to_string(),
            token: token.to_string(),
            pods: Vec::new(),
            forbid_log: false,
            echo_token: false,
            seen: Vec::new(),
        }));
        let app = Router::new().fallback(answer).with_state(state.clone());
        let listener = TlsListener {
            tcp,
            tls: acceptor(cert, key),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        KubeStandIn {
            port,
            ca_pem: ca.pem(),
            state,
            task,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut StandInState) -> T) -> T {
        f(&mut self.state.lock().expect("stand-in state"))
    }

    pub fn set_pods(&self, pods: Vec<FakePod>) {
        self.with(|s| s.pods = pods);
    }

    /// The token it accepts from now on (the old one is refused, 401).
    pub fn set_token(&self, token: &str) {
        self.with(|s| s.token = token.to_string());
    }

    pub fn forbid_log(&self, forbid: bool) {
        self.with(|s| s.forbid_log = forbid);
    }

    pub fn echo_token(&self, echo: bool) {
        self.with(|s| s.echo_token = echo);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }

    /// Writes a service-account directory (`token`, `ca.crt`) into `dir`, as the
    /// kubelet mounts it.
    pub fn service_account(&self, dir: &Path, token: &str) -> PathBuf {
        let sa = super::write_dir(dir, "serviceaccount");
        super::write_file(&sa, "token", token);
        super::write_file(&sa, "ca.crt", &self.ca_pem);
        sa
    }
}

/// TLS over TCP for `axum::serve`; a failed handshake is dropped and the next awaited.
struct TlsListener {
    tcp: TcpListener,
    tls: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.tls.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A Kubernetes `Status` answer.
fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    respond(code, "application/json", body.to_string().into_bytes())
}

fn respond(code: u16, content_type: &str, body: Vec<u8>) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).expect("a status"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("a response")
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string()
}

async fn answer(State(state): State<Shared>, request: Request) -> Response {
    let uri = request.uri().clone();
    let token = bearer(request.headers());
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let mut state = state.lock().expect("stand-in state");
    let response = route(&state, uri.path(), &query, &token);
    state.seen.push(Seen {
        uri: uri.to_string(),
        token,
        status: response.status().as_u16(),
    });
    response
}

fn route(state: &StandInState, path: &str, query: &[(String, String)], token: &str) -> Response {
    let param = |key: &str| param(query, key);
    if token != state.token {
        let echo = if state.echo_token {
            format!(" ({token})")
        } else {
            String::new()
        };
        return status(401, "Unauthorized", &format!("Unauthorized{echo}"));
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (namespace, rest) = match parts.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", rest @ ..] => (*ns, rest),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
    };
    let user = "system:serviceaccount:admin-sync:admin-sync";
    let echo = if state.echo_token {
        format!(" with token {token}")
    } else {
        String::new()
    };
    match rest {
        [] if namespace != state.namespace => status(
            403,
            "Forbidden",
            &format!(
                "pods is forbidden: User \"{user}\"{echo} cannot list resource \"pods\" in API group \"\" in the namespace \"{namespace}\""
            ),
        ),
        [] => list_pods(state, param("labelSelector").unwrap_or("")),
        [pod, "log"] if namespace != state.namespace || state.forbid_log => status(
            403,
            "Forbidden",
            &format!(
                "pods \"{pod}\" is forbidden: User \"{user}\"{echo} cannot get resource \"pods/log\" in API group \"\" in the namespace \"{namespace}\""
            ),
        ),
        [pod, "log"] => match state.pods.iter().find(|p| p.name == *pod) {
            Some(pod) => pod_log(pod, query),
            None => status(404, "NotFound", &format!("pods \"{pod}\" not found")),
        },
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

fn list_pods(state: &StandInState, selector: &str) -> Response {
    let wanted: Vec<(&str, &str)> = selector
        .split(',')
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.split_once('='))
        .map(|(k, v)| (k, v.trim_start_matches('=')))
        .collect();
    let items: Vec<serde_json::Value> = state
        .pods
        .iter()
        .filter(|p| wanted.iter().all(|(k, v)| p.labels.iter().any(|(pk, pv)| pk == k && pv == v)))
        .map(|p| {
            let labels: serde_json::Map<String, serde_json::Value> =
                p.labels.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
            serde_json::json!({
                "metadata": {"name": p.name, "namespace": state.namespace, "uid": p.uid, "labels": labels,
                             "creationTimestamp": "2026-12-01T12:00:00Z"},
                "spec": {"containers": p.containers.iter().map(|c| serde_json::json!({"name": c, "image": "quay.io/jupyterhub/k8s-hub:4.2.0"})).collect::<Vec<_>>()},
                "status": {"phase": p.phase, "containerStatuses": p.containers.iter().map(|c| serde_json::json!(
                    {"name": c, "ready": true, "restartCount": p.restarts, "image": "quay.io/jupyterhub/k8s-hub:4.2.0"})).collect::<Vec<_>>()},
            })
        })
        .collect();
    let body = serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items});
    respond(200, "application/json", body.to_string().into_bytes())
}

/// The value of `key` in a query.
fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn pod_log(pod: &FakePod, query: &[(String, String)]) -> Response {
    let param = |key: &str| param(query, key);
    let container = param("container").unwrap_or("");
    if !pod.containers.iter().any(|c| c == container) {
        let message = format!("container {container} is not valid for pod {}", pod.name);
        return status(400, "BadRequest", &message);
    }
    let since = match param("sinceTime").map(str::parse::<Timestamp>) {
        None => None,
        Some(Ok(t)) => Some(Timestamp::from_second(t.as_second()).expect("a second")),
        Some(Err(e)) => return status(400, "BadRequest", &format!("sinceTime: {e}")),
    };
    let stamped = param("timestamps") == Some("true");
    let limit = param("limitBytes").map(|v| v.parse::<usize>().expect("limitBytes"));
    let bytes = std::fs::read(&pod.log).expect("reading the pod's log");
    let end = pod
        .to
        .map_or(bytes.len(), |to| to as usize)
        .min(bytes.len());
    let mut out = Vec::new();
    for (at, line) in stamp_lines(&bytes[(pod.from as usize).min(end)..end]) {
        if since.is_some_and(|s| at < s) {
            continue;
        }
        if stamped {
            out.extend_from_slice(format!("{at:.9} ").as_bytes());
        }
        out.extend_from_slice(line);
    }
    if let Some(limit) = limit {
        out.truncate(limit);
    }
    respond(200, "text/plain", out)
}

/// The lines of a log (line break included; a last line without one is not written
/// whole yet and left out), each with its stamp.
fn stamp_lines(log: &[u8]) -> Vec<(Timestamp, &[u8])> {
    let lines: Vec<&[u8]> = log
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
        .collect();
    let own: Vec<Option<Timestamp>> = lines.iter().map(|l| hub_time(l)).collect();
    let mut last = own
        .iter()
        .flatten()
        .next()
        .copied()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    lines
        .into_iter()
        .zip(own)
        .map(|(line, at)| {
            // A runtime's stamps only go forward.
            last = at.map_or(last, |at| at.max(last));
            (last, line)
        })
        .collect()
}

/// The time a hub line carries (`[I 2026-12-01 12:38:43.845 ...`), the machine's local time.
fn hub_time(line: &[u8]) -> Option<Timestamp> {
    let text = std::str::from_utf8(line.get(3..26)?).ok()?;
    let civil = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S%.f", text).ok()?;
    jiff::tz::TimeZone::system()
        .to_ambiguous_timestamp(civil)
        .compatible()
        .ok()
}
