//! Reading the hub's log from its pod, through the Kubernetes API (Zero to JupyterHub).
//!
//! In Zero to JupyterHub the hub writes its log to the `hub` container's output, which
//! only the Kubernetes API serves. A [`PodLog`] reads it with two calls and nothing
//! else, as the pod's service account (`pods: [list]` and `pods/log: [get]` in the
//! hub's namespace):
//!
//! 1. `GET /api/v1/namespaces/{ns}/pods?labelSelector={selector}` finds the one running
//!    hub pod (none, or more than one, is an error: nothing is guessed);
//! 2. `GET /api/v1/namespaces/{ns}/pods/{pod}/log?container={c}&timestamps=true&sinceTime={t}&limitBytes={n}`
//!    streams its lines, each after the time the container runtime received it.
//!
//! The stamps make reading incremental. A [`PodPosition`] keeps the pod (name and uid),
//! the hub container's restart count, the stamp of the last line read and how many
//! lines carry exactly that stamp. The API honours `sinceTime` only to the second (the
//! API server passes it on to the kubelet without its fraction) and includes lines at
//! that second, so lines read last time come again: those stamped before the last one,
//! and the first `at_last` stamped with it, are dropped; the rest are new. `limitBytes`
//! bounds each call: what comes again (counted in the position) plus the budget.
//!
//! A pod with another uid (the hub restarted, the pod was replaced) or a hub container
//! restarted in place starts a new log: whatever of the old one was not read is lost,
//! so the sink gets a [`GapKind::SourceLost`] and the new log is read from its start.
//! The stamp and its space are stripped before a line reaches the [`LineSink`].
//!
//! Why plain `reqwest` and not the `kube` crate: `docs/evidence.md`, "Reading a hub's
//! log in Kubernetes" (the measured build time and binary size).
//!
//! The service-account token is read again for every call (bound tokens are rotated
//! by the kubelet, about hourly) and never reaches an error, a log line or `Debug`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde::{Deserialize, Serialize};
use url::Url;

use super::file::{MAX_LINE, ReadReport};
use super::line::Splitter;
use super::{Gap, GapKind, LineSink};
use crate::secret::tls::{CaBundle, CaError};
use crate::secret::token::Token;
use crate::small_file::{self, ReadError};

/// Zero to JupyterHub's hub pod label.
pub const DEFAULT_SELECTOR: &str = "component=hub";
/// Zero to JupyterHub's hub container.
pub const DEFAULT_CONTAINER: &str = "hub";
/// Where the kubelet mounts a pod's service account (token, CA, namespace).
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A service-account token is a JWT of a few KiB: more is a wrong file.
const MAX_TOKEN_BYTES: u64 = 64 * 1024;
/// The pods the selector matches, as JSON: a hub's namespace answers with a few.
const MAX_POD_LIST_BYTES: usize = 8 * 1024 * 1024;
/// The stamp before each line: `2026-12-01T12:38:43.845123456Z ` (31 bytes) or shorter.
const MAX_STAMP: usize = 40;
/// How much of an error answer's body an error keeps.
const BODY_START: usize = 300;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a hub's log is in Kubernetes: the roster's `log: {kubernetes: {namespace,
/// selector, container}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeSource {
    pub namespace: String,
    /// A label selector that matches the hub pod alone (`component=hub`).
    pub selector: String,
    /// The container whose log is the hub's (`hub`).
    pub container: String,
}

/// A `log.kubernetes` value that cannot be used, said in the roster's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error(
        "log.kubernetes.namespace {0:?} is not a namespace name (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
    )]
    Namespace(String),
    #[error(
        "log.kubernetes.container {0:?} is not a container name (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
    )]
    Container(String),
    #[error(
        "log.kubernetes.selector {0:?} is not a label selector (such as component=hub; printable ASCII, not empty)"
    )]
    Selector(String),
}

impl KubeSource {
    /// `selector` and `container` default to Zero to JupyterHub's ([`DEFAULT_SELECTOR`],
    /// [`DEFAULT_CONTAINER`]).
    pub fn new(
        namespace: &str,
        selector: Option<&str>,
        container: Option<&str>,
    ) -> Result<KubeSource, SourceError> {
        let selector = selector.unwrap_or(DEFAULT_SELECTOR).trim();
        let container = container.unwrap_or(DEFAULT_CONTAINER);
        if !is_dns_label(namespace) {
            return Err(SourceError::Namespace(namespace.to_string()));
        }
        if !is_dns_label(container) {
            return Err(SourceError::Container(container.to_string()));
        }
        if selector.is_empty() || !selector.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(SourceError::Selector(selector.to_string()));
        }
        Ok(KubeSource {
            namespace: namespace.to_string(),
            selector: selector.to_string(),
            container: container.to_string(),
        })
    }
}

/// An RFC 1123 label: what Kubernetes requires of namespace and container names.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
}

/// One of the two calls, for errors: what was asked, and the RBAC rule it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `GET .../pods?labelSelector=`: needs `pods: [list]`.
    ListPods { namespace: String },
    /// `GET .../pods/{pod}/log`: needs `pods/log: [get]`.
    GetLog { namespace: String, pod: String },
}

impl Access {
    pub fn namespace(&self) -> &str {
        match self {
            Access::ListPods { namespace } | Access::GetLog { namespace, .. } => namespace,
        }
    }

    /// The RBAC resource and verb this call needs.
    pub fn rule(&self) -> (&'static str, &'static str) {
        match self {
            Access::ListPods { .. } => ("pods", "list"),
            Access::GetLog { .. } => ("pods/log", "get"),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::ListPods { namespace } => {
                write!(f, "listing the pods of namespace {namespace}")
            }
            Access::GetLog { namespace, pod } => {
                write!(f, "reading the log of pod {pod} in namespace {namespace}")
            }
        }
    }
}

/// Why a pod's log could not be read. No variant holds the token.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error(
        "not inside a Kubernetes pod: {var} is not set (a log.kubernetes source reads through the pod's service account)"
    )]
    NotInCluster { var: &'static str },
    #[error("the service-account token {}: {problem}", path.display())]
    Token { path: PathBuf, problem: String },
    #[error("the Kubernetes API address {address:?} is not a URL")]
    Address { address: String },
    #[error("the cluster's CA certificate: {0}")]
    Ca(#[from] CaError),
    #[error("the HTTP client for the Kubernetes API: {0}")]
    Client(String),
    #[error("{access}: no answer from the Kubernetes API: {message}")]
    Transport { access: Access, message: String },
    #[error(
        "{access}: 401 Unauthorized: the Kubernetes API refused the service-account token (expired, or its account deleted): {body}"
    )]
    Unauthorized { access: Access, body: String },
    #[error(
        "{access}: 403 Forbidden: the service account may not {verb} {resource} in namespace {namespace} (RBAC: it needs a Role there granting {resource}: [{verb}], bound to it; the chart makes one for each namespace of hubLogs.kubernetes.namespaces): {body}",
        verb = access.rule().1, resource = access.rule().0, namespace = access.namespace()
    )]
    Forbidden { access: Access, body: String },
    #[error("{access}: {status}: {body}")]
    Status {
        access: Access,
        status: u16,
        body: String,
    },
    #[error("{access}: not an answer of the Kubernetes API: {message}")]
    Answer { access: Access, message: String },
    #[error(
        "no running pod in namespace {namespace} matches {selector:?}{}",
        seen_list(seen)
    )]
    NoRunningPod {
        namespace: String,
        selector: String,
        /// The pods that match but do not run: `name (Phase)`.
        seen: Vec<String>,
    },
    #[error(
        "{} running pods in namespace {namespace} match {selector:?} ({}): the selector must pick the hub pod alone",
        names.len(), names.join(", ")
    )]
    SeveralPods {
        namespace: String,
        selector: String,
        names: Vec<String>,
    },
    #[error("pod {pod} in namespace {namespace} has no container {container:?} (it has: {})", has.join(", "))]
    NoContainer {
        namespace: String,
        pod: String,
        container: String,
        has: Vec<String>,
    },
    #[error("{access}: a line longer than the {limit} bytes of one call cannot be read past")]
    Stalled { access: Access, limit: u64 },
}

fn seen_list(seen: &[String]) -> String {
    if seen.is_empty() {
        String::new()
    } else {
        format!(" (matching but not running: {})", seen.join(", "))
    }
}

impl KubeError {
    /// One word per variant, for a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            KubeError::NotInCluster { .. } => "not_in_cluster",
            KubeError::Token { .. } => "token",
            KubeError::Address { .. } => "address",
            KubeError::Ca(_) => "ca",
            KubeError::Client(_) => "client",
            KubeError::Transport { .. } => "transport",
            KubeError::Unauthorized { .. } => "unauthorized",
            KubeError::Forbidden { .. } => "forbidden",
            KubeError::Status { .. } => "status",
            KubeError::Answer { .. } => "answer",
            KubeError::NoRunningPod { .. } => "no_running_pod",
            KubeError::SeveralPods { .. } => "several_pods",
            KubeError::NoContainer { .. } => "no_container",
            KubeError::Stalled { .. } => "stalled",
        }
    }
}

/// The Kubernetes API as this pod's service account. Holds where the token is, never
/// the token.
#[derive(Debug, Clone)]
pub struct KubeApi {
    base: Url,
    token_path: PathBuf,
    http: reqwest::Client,
}

impl KubeApi {
    /// The API of the cluster this process runs in (`KUBERNETES_SERVICE_HOST`,
    /// `KUBERNETES_SERVICE_PORT`, the service account at [`SERVICE_ACCOUNT_DIR`]).
    pub fn in_cluster() -> Result<KubeApi, KubeError> {
        let var = |var: &'static str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or(KubeError::NotInCluster { var })
        };
        let (host, port) = (
            var("KUBERNETES_SERVICE_HOST")?,
            var("KUBERNETES_SERVICE_PORT")?,
        );
        KubeApi::service_account(&host, &port, Path::new(SERVICE_ACCOUNT_DIR))
    }

    /// `https://{host}:{port}`, with the token and the CA (`token`, `ca.crt`) of a
    /// service-account directory `dir`.
    pub fn service_account(host: &str, port: &str, dir: &Path) -> Result<KubeApi, KubeError> {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let address = format!("https://{host}:{port}");
        let base = Url::parse(&address).map_err(|_| KubeError::Address { address })?;
        let ca = CaBundle::read(&dir.join("ca.crt"))?;
        KubeApi::new(base, dir.join("token"), Some(&ca))
    }

    /// `base` (`https://10.96.0.1:443`), the token file (read at each call), and the CA
    /// that alone is trusted for the API's certificate (`None`: the system's roots).
    pub fn new(
        base: Url,
        token_path: PathBuf,
        ca: Option<&CaBundle>,
    ) -> Result<KubeApi, KubeError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("jupyterhub-admin-sync/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        if let Some(ca) = ca {
            builder = builder.tls_backend_preconfigured(ca.client_config()?);
        }
        let http = builder
            .build()
            .map_err(|e| KubeError::Client(e.to_string()))?;
        Ok(KubeApi {
            base,
            token_path,
            http,
        })
    }

    /// The token as it is now (the kubelet rewrites the file as it rotates it).
    fn token(&self) -> Result<Token, KubeError> {
        let problem = |problem: String| KubeError::Token {
            path: self.token_path.clone(),
            problem,
        };
        let bytes = small_file::read_regular(&self.token_path, MAX_TOKEN_BYTES).map_err(|e| {
            problem(match e {
                ReadError::Io(e) => format!("cannot be read: {e}"),
                ReadError::NotRegular => "not a regular file".to_string(),
                ReadError::TooLarge { .. } => format!("larger than {MAX_TOKEN_BYTES} bytes"),
            })
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| problem("not UTF-8".to_string()))?;
        match text.trim() {
            "" => Err(problem("empty".to_string())),
            token => Ok(Token::new(token)),
        }
    }

    /// `/api/v1/namespaces/{namespace}/pods` and `segments` after it.
    fn url(&self, namespace: &str, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["api", "v1", "namespaces", namespace, "pods"])
                .extend(segments);
        }
        url
    }

    /// A GET with the token as it is now; any status but 2xx is an error.
    async fn get(&self, url: Url, access: &Access) -> Result<reqwest::Response, KubeError> {
        let token = self.token()?;
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                KubeError::Token {
                    path: self.token_path.clone(),
                    problem: "not a valid header value".to_string(),
                }
            })?;
        auth.set_sensitive(true);
        let response = self
            .http
            .get(url)
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json, */*")
            .send()
            .await
            .map_err(|e| KubeError::Transport {
                access: access.clone(),
                message: e.without_url().to_string(),
            })?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        let body = body_start(response, &token).await;
        let access = access.clone();
        Err(match status {
            401 => KubeError::Unauthorized { access, body },
            403 => KubeError::Forbidden { access, body },
            _ => KubeError::Status {
                access,
                status,
                body,
            },
        })
    }
}

/// The start of an error answer: the `message` of a Kubernetes `Status`, else the
/// body's first bytes, on one line, with the token cut out should the server echo it.
async fn body_start(mut response: reqwest::Response, token: &Token) -> String {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > 4 * 1024 {
            break;
        }
    }
    #[derive(Deserialize)]
    struct Status {
        message: String,
    }
    let text = match serde_json::from_slice::<Status>(&bytes) {
        Ok(status) => status.message,
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    let text = text.replace(token.expose(), "[token]");
    let mut text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.len() > BODY_START {
        let cut = (0..=BODY_START).rev().find(|&i| text.is_char_boundary(i));
        text.truncate(cut.unwrap_or(0));
        text.push('…');
    }
    text
}

/// Where reading stopped; the caller keeps it (in the daemon's state) between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodPosition {
    pub pod: String,
    pub uid: String,
    /// The hub container's restart count when read: another count is another
    /// instance of the container, whose log starts anew.
    pub restarts: u32,
    /// The stamp of the last line read; `None`: nothing read yet.
    pub last: Option<Timestamp>,
    /// Lines read that carry exactly `last` (they come again, and are dropped).
    pub at_last: u64,
    /// Bytes (stamp and line break included) of the lines read within the second of
    /// `last`: the API sends them again, since it honours `sinceTime` to the second.
    pub again_bytes: u64,
}

impl PodPosition {
    /// The start of `pod`'s log.
    fn start(pod: &HubPod) -> PodPosition {
        PodPosition {
            pod: pod.name.clone(),
            uid: pod.uid.clone(),
            restarts: pod.restarts,
            last: None,
            at_last: 0,
            again_bytes: 0,
        }
    }

    /// `sinceTime`: the second of the last line read (the API's precision).
    fn since_time(&self) -> Option<Timestamp> {
        self.last
            .and_then(|t| Timestamp::from_second(t.as_second()).ok())
    }

    /// `limitBytes`: what will come again, and the budget.
    fn limit_bytes(&self, max_bytes: u64) -> u64 {
        let again = if self.last.is_some() {
            self.again_bytes
        } else {
            0
        };
        // The API refuses `limitBytes=0`.
        again.saturating_add(max_bytes.max(1))
    }
}

/// What a line of an answer is to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// Read before: dropped.
    Again,
    /// New.
    New,
    /// New, but the lines read last are no longer in the log: the kubelet rotated the
    /// container's log file (it serves the newest file only), and what was between
    /// is lost.
    NewAfterLoss,
}

/// The lines of one answer, told apart: those read before (dropped) and new ones.
#[derive(Debug)]
struct Resume {
    /// The position's `last` and `at_last` when the call was made.
    last: Option<Timestamp>,
    at_last: u64,
    /// Lines stamped `last` met so far in this answer.
    met_at_last: u64,
    /// A new line was met (whether the lines read last came again is then known).
    met_new: bool,
}

impl Resume {
    fn new(position: &PodPosition) -> Resume {
        Resume {
            last: position.last,
            at_last: position.at_last,
            met_at_last: 0,
            met_new: false,
        }
    }

    /// The lines read last should come again before any new one (`sinceTime` is
    /// inclusive); when they do not, they are gone.
    fn lost(&self) -> bool {
        self.last.is_some() && self.met_at_last < self.at_last
    }

    /// What a line stamped `at` is; a new one is counted into the position (`len`: its
    /// bytes as sent, stamp and line break included).
    fn admit(&mut self, at: Timestamp, len: u64, position: &mut PodPosition) -> Admit {
        if let Some(last) = self.last {
            if at < last {
                return Admit::Again;
            }
            if at == last && self.met_at_last < self.at_last {
                self.met_at_last += 1;
                return Admit::Again;
            }
        }
        let first_new = !std::mem::replace(&mut self.met_new, true);
        let same_second = position
            .last
            .is_some_and(|last| last.as_second() == at.as_second());
        position.again_bytes = if same_second {
            position.again_bytes + len
        } else {
            len
        };
        if position.last == Some(at) {
            position.at_last += 1;
        } else {
            position.last = Some(at);
            position.at_last = 1;
        }
        if first_new && self.lost() {
            Admit::NewAfterLoss
        } else {
            Admit::New
        }
    }

    /// At the end of a whole answer with nothing new: were the lines read last gone?
    fn lost_at_end(&self) -> bool {
        !self.met_new && self.lost()
    }
}

/// Splits `2026-12-01T12:38:43.845123456Z message` into the stamp and the line.
pub fn strip_stamp(line: &[u8]) -> Option<(Timestamp, &[u8])> {
    let space = memchr::memchr(b' ', &line[..line.len().min(MAX_STAMP)])?;
    let stamp = std::str::from_utf8(&line[..space]).ok()?;
    if !stamp.ends_with('Z') {
        return None;
    }
    let at = stamp.parse::<Timestamp>().ok()?;
    Some((at, &line[space + 1..]))
}

/// The hub pod as the pod list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HubPod {
    name: String,
    uid: String,
    restarts: u32,
}

/// The parts of a `PodList` this reads (every other field is ignored).
#[derive(Debug, Deserialize)]
struct PodList {
    items: Vec<Pod>,
}

#[derive(Debug, Deserialize)]
struct Pod {
    metadata: PodMeta,
    #[serde(default)]
    spec: PodSpec,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodMeta {
    name: String,
    uid: String,
    deletion_timestamp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PodSpec {
    #[serde(default)]
    containers: Vec<Named>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    phase: Option<String>,
    #[serde(default)]
    container_statuses: Vec<ContainerStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatus {
    name: String,
    #[serde(default)]
    restart_count: u32,
}

/// The one running, not terminating, pod of `list`, with `container`.
fn choose_pod(list: PodList, source: &KubeSource) -> Result<HubPod, KubeError> {
    let (running, others): (Vec<Pod>, Vec<Pod>) = list.items.into_iter().partition(|pod| {
        pod.status.phase.as_deref() == Some("Running") && pod.metadata.deletion_timestamp.is_none()
    });
    let namespace = source.namespace.clone();
    let selector = source.selector.clone();
    let pod = match <[Pod; 1]>::try_from(running) {
        Ok([pod]) => pod,
        Err(running) if running.is_empty() => {
            let seen = others.iter().map(describe).collect();
            return Err(KubeError::NoRunningPod {
                namespace,
                selector,
                seen,
            });
        }
        Err(running) => {
            let names = running.into_iter().map(|p| p.metadata.name).collect();
            return Err(KubeError::SeveralPods {
                namespace,
                selector,
                names,
            });
        }
    };
    if !pod
        .spec
        .containers
        .iter()
        .any(|c| c.name == source.container)
    {
        return Err(KubeError::NoContainer {
            namespace,
            pod: pod.metadata.name,
            container: source.container.clone(),
            has: pod.spec.containers.into_iter().map(|c| c.name).collect(),
        });
    }
    let restarts = pod
        .status
        .container_statuses
        .iter()
        .find(|c| c.name == source.container)
        .map_or(0, |c| c.restart_count);
    Ok(HubPod {
        name: pod.metadata.name,
        uid: pod.metadata.uid,
        restarts,
    })
}

/// `name (Phase)`, or `name (Running, terminating)`.
fn describe(pod: &Pod) -> String {
    let phase = pod.status.phase.as_deref().unwrap_or("no phase");
    match pod.metadata.deletion_timestamp {
        Some(_) => format!("{} ({phase}, terminating)", pod.metadata.name),
        None => format!("{} ({phase})", pod.metadata.name),
    }
}

/// A hub's log in its pod, read incrementally through the Kubernetes API.
#[derive(Debug)]
pub struct PodLog {
    api: KubeApi,
    source: KubeSource,
    position: Option<PodPosition>,
}

impl PodLog {
    /// `position`: where the previous run stopped (`None`: the pod's log from its start).
    pub fn new(api: KubeApi, source: KubeSource, position: Option<PodPosition>) -> PodLog {
        PodLog {
            api,
            source,
            position,
        }
    }

    pub fn source(&self) -> &KubeSource {
        &self.source
    }

    /// Where the next read starts; keep it for the next run.
    pub fn position(&self) -> Option<&PodPosition> {
        self.position.as_ref()
    }

    /// Reads about `max_bytes` of new lines of the hub pod's log into `sink`:
    /// `caught_up` when the API had no more. A new pod or container instance is a gap,
    /// then its log from the start. On an error the position stays where the last line
    /// handed on left it. A line longer than `max_bytes` cannot be read past
    /// ([`KubeError::Stalled`]): give at least [`MAX_LINE`], the longest line kept.
    pub async fn read(
        &mut self,
        max_bytes: u64,
        sink: &mut (dyn LineSink + Send),
    ) -> Result<ReadReport, KubeError> {
        let pod = self.hub_pod().await?;
        let mut report = ReadReport::default();
        let position = self.follow(&pod, sink, &mut report);
        let (limit, since) = (position.limit_bytes(max_bytes), position.since_time());
        let access = Access::GetLog {
            namespace: self.source.namespace.clone(),
            pod: pod.name.clone(),
        };
        let mut url = self.api.url(&self.source.namespace, &[&pod.name, "log"]);
        url.query_pairs_mut()
            .append_pair("container", &self.source.container)
            .append_pair("timestamps", "true")
            .append_pair("limitBytes", &limit.to_string());
        if let Some(since) = since {
            url.query_pairs_mut()
                .append_pair("sinceTime", &since.to_string());
        }
        let response = self.api.get(url, &access).await?;
        // The same pod again: its position, and no second gap.
        let position = self.follow(&pod, sink, &mut report);
        let streamed = stream_lines(response, limit, position, sink, &mut report, &access).await;
        if streamed.whole && streamed.fed == 0 && !report.caught_up {
            return Err(KubeError::Stalled { access, limit });
        }
        Ok(report)
    }

    /// The running hub pod (call 1).
    async fn hub_pod(&self) -> Result<HubPod, KubeError> {
        let access = Access::ListPods {
            namespace: self.source.namespace.clone(),
        };
        let mut url = self.api.url(&self.source.namespace, &[]);
        url.query_pairs_mut()
            .append_pair("labelSelector", &self.source.selector);
        let mut response = self.api.get(url, &access).await?;
        let answer = |message: String| KubeError::Answer {
            access: access.clone(),
            message,
        };
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| answer(e.without_url().to_string()))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_POD_LIST_BYTES {
                return Err(answer(format!(
                    "a pod list over {MAX_POD_LIST_BYTES} bytes"
                )));
            }
        }
        let list: PodList =
            serde_json::from_slice(&body).map_err(|e| answer(format!("not a pod list: {e}")))?;
        choose_pod(list, &self.source)
    }

    /// The position in `pod`'s log: the saved one if it is the same pod and container
    /// instance, else its start, after a gap for what the old one still held.
    fn follow(
        &mut self,
        pod: &HubPod,
        sink: &mut (dyn LineSink + Send),
        report: &mut ReadReport,
    ) -> &mut PodPosition {
        let same = self
            .position
            .as_ref()
            .is_some_and(|p| p.uid == pod.uid && p.restarts == pod.restarts);
        if !same {
            if self.position.is_some() {
                let gap = Gap {
                    kind: GapKind::SourceLost,
                    bytes_lost: None,
                };
                sink.gap(gap.clone());
                report.gaps.push(gap);
            }
            self.position = Some(PodPosition::start(pod));
        }
        self.position.get_or_insert_with(|| PodPosition::start(pod))
    }
}

/// What [`stream_lines`] did.
#[derive(Debug)]
struct Streamed {
    /// Lines handed on.
    fed: u64,
    /// False when the stream broke off before its end.
    whole: bool,
}

/// Hands the new lines of a log answer to `sink`, stamps stripped, moving `position`
/// past each. A last line without its line break (cut by `limitBytes`, or not written
/// whole yet) waits for the next call, as does whatever a broken stream did not bring.
/// The lines read last missing from the answer are a gap ([`GapKind::RotatedPast`]).
async fn stream_lines(
    mut response: reqwest::Response,
    limit: u64,
    position: &mut PodPosition,
    sink: &mut (dyn LineSink + Send),
    report: &mut ReadReport,
    access: &Access,
) -> Streamed {
    let mut splitter = Splitter::new(MAX_LINE + MAX_STAMP);
    let mut resume = Resume::new(position);
    let mut fed = 0u64;
    let rotated = || Gap {
        kind: GapKind::RotatedPast,
        bytes_lost: None,
    };
    let whole = loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break true,
            Err(e) => {
                tracing::debug!(%access, error = %e.without_url(), "the log stream broke off");
                break false;
            }
        };
        report.bytes += chunk.len() as u64;
        splitter.push(&chunk, |line| {
            let Some((at, text)) = strip_stamp(line) else {
                tracing::debug!(%access, "a log line without its time stamp, skipped");
                return;
            };
            match resume.admit(at, line.len() as u64 + 1, position) {
                Admit::Again => return,
                Admit::New => {}
                Admit::NewAfterLoss => {
                    sink.gap(rotated());
                    report.gaps.push(rotated());
                }
            }
            sink.line(text);
            fed += 1;
        });
    };
    report.caught_up = whole && report.bytes < limit;
    if report.caught_up && resume.lost_at_end() {
        sink.gap(rotated());
        report.gaps.push(rotated());
        // Nothing of the old file is left to come again.
        position.at_last = 0;
        position.again_bytes = 0;
    }
    report.lines += fed;
    report.overlong += splitter.dropped;
    Streamed { fed, whole }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::tests::Collect;

    fn ts(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    #[test]
    fn the_stamp_and_its_space_are_stripped() {
        let line = b"2026-12-01T12:38:43.845123456Z [I 2026-12-01 12:38:43.845 JupyterHub users:395] rep-lee setting admin=True for newbie";
        let (at, text) = strip_stamp(line).expect("stamped");
        assert_eq!(at, ts("2026-12-01T12:38:43.845123456Z"));
        assert_eq!(
            text,
            b"[I 2026-12-01 12:38:43.845 JupyterHub users:395] rep-lee setting admin=True for newbie"
        );
        // The runtime's stamps drop trailing zeros; an empty line keeps its stamp.
        assert_eq!(
            strip_stamp(b"2026-12-01T12:38:43.8Z "),
            Some((ts("2026-12-01T12:38:43.8Z"), &b""[..]))
        );
        // Only the first space ends the stamp: the line's own spaces stay.
        assert_eq!(
            strip_stamp(b"2026-12-01T12:38:43Z  two  spaces").map(|(_, t)| t),
            Some(&b" two  spaces"[..])
        );
    }

    #[test]
    fn a_line_without_a_stamp_is_not_read_as_one() {
        for line in [
            &b"[I 2026-12-01 12:38:43.845 JupyterHub users:395] no stamp"[..],
            b"2026-12-01T12:38:43.845",
            b"2026-12-01 12:38:43.845 local time, no zone",
            b"2026-12-01T12:38:43.845+01:00 another zone",
            b"",
            b"    Traceback continuation",
        ] {
            assert_eq!(strip_stamp(line), None, "{}", String::from_utf8_lossy(line));
        }
    }

    fn position() -> PodPosition {
        PodPosition::start(&HubPod {
            name: "hub-1".into(),
            uid: "uid-1".into(),
            restarts: 0,
        })
    }

    /// Feeds `(stamp, text)` lines as one answer; the texts handed on.
    fn answer(lines: &[(&str, &str)], position: &mut PodPosition) -> Vec<String> {
        let mut resume = Resume::new(position);
        lines
            .iter()
            .filter(|(at, text)| {
                let len = (at.len() + 1 + text.len() + 1) as u64;
                resume.admit(ts(at), len, position) != Admit::Again
            })
            .map(|(_, text)| text.to_string())
            .collect()
    }

    /// What the API sends for `sinceTime` = the position's second: every line from it.
    fn from_since<'a>(
        log: &[(&'a str, &'a str)],
        position: &PodPosition,
    ) -> Vec<(&'a str, &'a str)> {
        let since = position.since_time();
        log.iter()
            .copied()
            .filter(|(at, _)| since.is_none_or(|s| ts(at) >= s))
            .collect()
    }

    #[test]
    fn a_resume_at_equal_stamps_hands_each_line_on_once() {
        let log = [
            ("2026-12-01T12:38:42.900Z", "a"),
            ("2026-12-01T12:38:43.100Z", "b"),
            ("2026-12-01T12:38:43.845Z", "c1"),
            ("2026-12-01T12:38:43.845Z", "c2"),
            ("2026-12-01T12:38:43.845Z", "c3"),
            ("2026-12-01T12:38:44.000Z", "d"),
        ];
        let mut pos = position();
        // The first call ends after c2 (its budget), the second reads on.
        assert_eq!(answer(&log[..4], &mut pos), ["a", "b", "c1", "c2"]);
        assert_eq!(pos.last, Some(ts("2026-12-01T12:38:43.845Z")));
        assert_eq!(pos.at_last, 2);
        assert_eq!(pos.since_time(), Some(ts("2026-12-01T12:38:43Z")));
        // b, c1, c2 come again (their second), with c3 and d: only c3 and d are new.
        let again = from_since(&log, &pos);
        assert_eq!(again.len(), 5);
        assert_eq!(answer(&again, &mut pos), ["c3", "d"]);
        assert_eq!(
            (pos.last, pos.at_last),
            (Some(ts("2026-12-01T12:38:44Z")), 1)
        );
        // Nothing new: nothing handed on.
        assert!(answer(&from_since(&log, &pos), &mut pos).is_empty());
    }

    #[test]
    fn a_saved_position_resumes_the_same_way() {
        let log = [
            ("2026-12-01T12:38:43.845Z", "c1"),
            ("2026-12-01T12:38:43.845Z", "c2"),
            ("2026-12-01T12:38:43.845Z", "c3"),
        ];
        let mut pos = position();
        assert_eq!(answer(&log[..1], &mut pos), ["c1"]);
        let saved = serde_json::to_string(&pos).expect("json");
        assert!(
            saved.contains("\"last\":\"2026-12-01T12:38:43.845Z\""),
            "{saved}"
        );
        let mut pos: PodPosition = serde_json::from_str(&saved).expect("json");
        assert_eq!(answer(&from_since(&log, &pos), &mut pos), ["c2", "c3"]);
    }

    #[test]
    fn lines_read_last_that_do_not_come_again_were_rotated_away() {
        let mut pos = position();
        let read = [
            ("2026-12-01T12:38:43.845Z", "c1"),
            ("2026-12-01T12:38:43.845Z", "c2"),
        ];
        answer(&read, &mut pos);
        // The kubelet's new file holds only later lines: c1 and c2 are gone.
        let mut resume = Resume::new(&pos);
        let later = ts("2026-12-01T12:40:00Z");
        assert_eq!(resume.admit(later, 30, &mut pos), Admit::NewAfterLoss);
        assert_eq!(resume.admit(later, 30, &mut pos), Admit::New);
        // Only one of the two came again: the other is gone too.
        let mut pos = position();
        answer(&read, &mut pos);
        let mut resume = Resume::new(&pos);
        assert_eq!(resume.admit(ts(read[0].0), 30, &mut pos), Admit::Again);
        assert_eq!(resume.admit(later, 30, &mut pos), Admit::NewAfterLoss);
        // Both came again: nothing lost, and nothing new is not a loss either.
        let mut pos = position();
        answer(&read, &mut pos);
        let mut resume = Resume::new(&pos);
        for (at, _) in read {
            assert_eq!(resume.admit(ts(at), 30, &mut pos), Admit::Again);
        }
        assert!(!resume.lost_at_end());
        assert_eq!(resume.admit(later, 30, &mut pos), Admit::New);
        // An answer without them, and with nothing new: lost as well.
        assert!(Resume::new(&pos).lost_at_end());
        assert!(
            !Resume::new(&position()).lost_at_end(),
            "nothing read yet, nothing lost"
        );
    }

    #[test]
    fn what_comes_again_is_counted_into_the_limit() {
        let mut pos = position();
        assert_eq!(pos.limit_bytes(0), 1, "the API refuses limitBytes=0");
        assert_eq!(pos.limit_bytes(1 << 20), 1 << 20);
        let log = [
            ("2026-12-01T12:38:42.900Z", "a"),
            ("2026-12-01T12:38:43.100Z", "b"),
            ("2026-12-01T12:38:43.200Z", "c"),
        ];
        answer(&log, &mut pos);
        // b and c (27 bytes each with stamp, space and line break) come again; a does not.
        assert_eq!(pos.again_bytes, 2 * 27);
        assert_eq!(pos.limit_bytes(1 << 20), (1 << 20) + 2 * 27);
    }

    fn pods(json: serde_json::Value) -> PodList {
        serde_json::from_value(json).expect("a pod list")
    }

    fn pod(name: &str, phase: &str, containers: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"), "labels": {"component": "hub"}},
            "spec": {"containers": containers.iter().map(|c| serde_json::json!({"name": c})).collect::<Vec<_>>()},
            "status": {"phase": phase, "containerStatuses": [{"name": "hub", "restartCount": 2, "ready": true}]}
        })
    }

    #[test]
    fn the_one_running_hub_pod_is_chosen_and_anything_else_said() {
        let source = KubeSource::new("hub-ns", None, None).expect("valid");
        let mut terminating = pod("hub-old", "Running", &["hub"]);
        terminating["metadata"]["deletionTimestamp"] = "2026-12-01T12:00:00Z".into();
        let list = serde_json::json!({"kind": "PodList", "items": [
            pod("hub-new", "Running", &["hub"]), terminating, pod("hub-x", "Pending", &["hub"]),
        ]});
        assert_eq!(
            choose_pod(pods(list), &source).expect("one"),
            HubPod {
                name: "hub-new".into(),
                uid: "uid-hub-new".into(),
                restarts: 2
            }
        );
        let none = serde_json::json!({"items": [pod("hub-x", "Pending", &["hub"])]});
        let err = choose_pod(pods(none), &source).expect_err("none runs");
        assert!(matches!(err, KubeError::NoRunningPod { .. }));
        assert!(err.to_string().contains("hub-x (Pending)"), "{err}");
        let two = serde_json::json!({"items": [pod("a", "Running", &["hub"]), pod("b", "Running", &["hub"])]});
        let err = choose_pod(pods(two), &source).expect_err("two run");
        assert!(
            err.to_string()
                .contains("2 running pods in namespace hub-ns match \"component=hub\" (a, b)"),
            "{err}"
        );
        let other = serde_json::json!({"items": [pod("a", "Running", &["notebook"])]});
        let err = choose_pod(pods(other), &source).expect_err("no hub container");
        assert!(
            err.to_string()
                .contains("no container \"hub\" (it has: notebook)"),
            "{err}"
        );
    }

    #[test]
    fn a_source_is_checked_in_the_rosters_terms() {
        let source = KubeSource::new("climate-prod", None, None).expect("valid");
        assert_eq!(
            (source.selector.as_str(), source.container.as_str()),
            ("component=hub", "hub")
        );
        let cases = [
            (
                ("Climate", None, None),
                "log.kubernetes.namespace \"Climate\"",
            ),
            (("-x", None, None), "log.kubernetes.namespace \"-x\""),
            (
                ("ns", None, Some("Hub")),
                "log.kubernetes.container \"Hub\"",
            ),
            (("ns", Some(" "), None), "log.kubernetes.selector \"\""),
            (("ns", Some("a=\u{e9}"), None), "log.kubernetes.selector"),
        ];
        for ((ns, selector, container), message) in cases {
            let err = KubeSource::new(ns, selector, container).expect_err(message);
            assert!(err.to_string().starts_with(message), "{err}");
        }
    }

    #[test]
    fn the_api_and_its_errors_never_show_the_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = "eyJhbGciOiJSUzI1NiJ9.secret-part.signature";
        std::fs::write(dir.path().join("token"), token).expect("token");
        let base = Url::parse("https://10.96.0.1:443").expect("url");
        let api = KubeApi::new(base, dir.path().join("token"), None).expect("api");
        assert_eq!(api.token().expect("read").expose(), token);
        let shown = format!("{api:?} {:?}", api.token());
        assert!(!shown.contains("secret-part"), "{shown}");
        std::fs::write(dir.path().join("token"), "\n").expect("token");
        let err = api.token().expect_err("empty");
        assert_eq!(err.kind(), "token");
        assert!(err.to_string().ends_with("/token: empty"), "{err}");
    }

    #[test]
    fn urls_are_the_two_endpoints() {
        let base = Url::parse("https://[fd00::1]:6443").expect("url");
        let api = KubeApi::new(base, PathBuf::from("/nonexistent"), None).expect("api");
        assert_eq!(
            api.url("hub-ns", &["hub-7d9f", "log"]).as_str(),
            "https://[fd00::1]:6443/api/v1/namespaces/hub-ns/pods/hub-7d9f/log"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let err = KubeApi::service_account("fd00::1", "6443", dir.path()).expect_err("no ca.crt");
        assert_eq!(err.kind(), "ca");
    }

    #[test]
    fn a_new_pod_or_container_instance_is_a_gap_then_its_start() {
        let base = Url::parse("https://10.96.0.1").expect("url");
        let api = KubeApi::new(base, PathBuf::from("/nonexistent"), None).expect("api");
        let source = KubeSource::new("ns", None, None).expect("valid");
        let mut log = PodLog::new(api, source, None);
        let (mut sink, mut report) = (Collect::default(), ReadReport::default());
        let first = HubPod {
            name: "hub-1".into(),
            uid: "u1".into(),
            restarts: 0,
        };
        log.follow(&first, &mut sink, &mut report).last = Some(ts("2026-12-01T12:00:00Z"));
        log.follow(&first, &mut sink, &mut report);
        assert!(sink.0.is_empty(), "the same pod: no gap");
        let restarted = HubPod {
            restarts: 1,
            ..first.clone()
        };
        assert_eq!(log.follow(&restarted, &mut sink, &mut report).last, None);
        let replaced = HubPod {
            name: "hub-2".into(),
            uid: "u2".into(),
            restarts: 0,
        };
        let position = log.follow(&replaced, &mut sink, &mut report).clone();
        assert_eq!(sink.0, ["<gap SourceLost>", "<gap SourceLost>"]);
        assert_eq!(
            (position.pod.as_str(), position.uid.as_str(), position.last),
            ("hub-2", "u2", None)
        );
    }
}
