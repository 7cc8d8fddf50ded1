//! Who made each admin, read from a REAL hub's log through the Kubernetes API's two
//! calls (`pods` list, `pods/log` get), as the daemon reads a Zero to JupyterHub hub.
//!
//! No Kubernetes API server runs on these machines: a stand-in (`common::kube`) serves
//! the real hub's `hub.log` through exactly those two calls, over TLS with its own CA,
//! with the kubelet's stamps, `sinceTime` to the second and `limitBytes`. The hub, its
//! log and the admin changes in it are real; the restarts, token rotations and refusals
//! are the API's, played by the stand-in.

mod common;

use std::time::Duration;

use common::kube::{FakePod, KubeStandIn};
use common::{Hub, encode_name, random, wait_until};
use jupyterhub_admin_sync::evidence::kubernetes::{KubeApi, KubeError, KubeSource, PodLog};
use jupyterhub_admin_sync::evidence::{
    AdminEvent, Attributor, Change, Gap, GapKind, LineSink, LogZone, MadeBy, ReadReport, Via,
};
use reqwest::Method;
use serde_json::json;

const NAMESPACE: &str = "climate-prod";

/// Lines go to the attributor and are kept, with gaps, in the order they came.
struct Tee<'a> {
    attributor: &'a mut Attributor,
    got: Vec<String>,
}

impl<'a> Tee<'a> {
    /// A tee into `attributor` that has kept nothing yet.
    fn new(attributor: &'a mut Attributor) -> Tee<'a> {
        Tee {
            attributor,
            got: Vec::new(),
        }
    }
}

impl LineSink for Tee<'_> {
    fn line(&mut self, line: &[u8]) {
        self.attributor.line(line);
        self.got.push(String::from_utf8_lossy(line).into_owned());
    }
    fn gap(&mut self, gap: Gap) {
        self.got.push(format!("<gap {:?}>", gap.kind));
        self.attributor.gap(gap);
    }
}

fn new_attributor() -> Attributor {
    // The test hub writes this machine's local time (a hub pod's is UTC).
    Attributor::new(LogZone::system(), Duration::from_secs(60))
}

/// A stand-in for `hub`'s namespace with one hub pod serving its log from byte `from`,
/// and the pod log source reading it as a service account with token `token`.
async fn cluster(hub: &Hub, token: &str, dir: &std::path::Path) -> (KubeStandIn, KubeApi) {
    let api_server = KubeStandIn::start(NAMESPACE, token).await;
    api_server.set_pods(vec![FakePod::hub(
        "hub-5d8f7c9b4-x2x7q",
        &random("uid-"),
        &hub.log_path(),
        0,
    )]);
    let sa = api_server.service_account(dir, token);
    let api = KubeApi::service_account("127.0.0.1", &api_server.port.to_string(), &sa)
        .expect("the service account");
    (api_server, api)
}

/// A [`cluster`] for `hub` with a new random service account token in a new temporary
/// directory: the directory, the token, the stand-in and the source.
async fn new_cluster(hub: &Hub) -> (tempfile::TempDir, String, KubeStandIn, KubeApi) {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = random("sa-token-");
    let (api_server, api) = cluster(hub, &token, dir.path()).await;
    (dir, token, api_server, api)
}

fn source() -> KubeSource {
    KubeSource::new(NAMESPACE, None, None).expect("a valid source")
}

/// Reads until the API has no more, `budget` bytes a call; the reports.
async fn read_all(log: &mut PodLog, budget: u64, sink: &mut Tee<'_>) -> Vec<ReadReport> {
    let mut reports = Vec::new();
    for _ in 0..10_000 {
        let report = log.read(budget, sink).await.expect("reading the pod's log");
        let caught_up = report.caught_up;
        reports.push(report);
        if caught_up {
            return reports;
        }
    }
    panic!("not caught up after 10,000 calls: {:?}", log.position());
}

/// A new admin user of the hub (made by `test-admin`) and a token to act as them.
async fn representative(hub: &Hub) -> (String, String) {
    let name = random("rep-");
    hub.create_users(&[&name], true).await;
    let token = hub.user_token(&name).await;
    (name, token)
}

async fn as_user(hub: &Hub, token: &str, method: Method, path: &str, body: serde_json::Value) {
    let (status, text) = hub.request(method.clone(), path, token, Some(&body)).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {text}"
    );
}

/// `rep` makes `name` admin with a PATCH, and waits for its request line.
async fn patch_admin(hub: &Hub, rep: &str, token: &str, name: &str) {
    let path = format!("/users/{}", encode_name(name));
    as_user(hub, token, Method::PATCH, &path, json!({ "admin": true })).await;
    wait_for_line(hub, &format!("PATCH /hub/api{path} ({rep}@")).await;
}

async fn wait_for_line(hub: &Hub, needle: &str) {
    let what = format!("{needle:?} in the hub's log");
    wait_until(
        10,
        &what,
        || hub.log_tail(20),
        || async { hub.log().contains(needle) },
    )
    .await;
}

fn about<'a>(events: &'a [AdminEvent], name: &str) -> Vec<&'a AdminEvent> {
    events
        .iter()
        .filter(|e| e.target.user() == Some(name))
        .collect()
}

/// What the events about `name` say, in order: (change, made by, via).
fn changes_of<'a>(
    events: &'a [AdminEvent],
    name: &str,
) -> Vec<(&'a Change, &'a MadeBy, Option<Via>)> {
    about(events, name)
        .into_iter()
        .map(|e| (&e.change, &e.made_by, e.via))
        .collect()
}

#[tokio::test]
async fn the_hubs_own_log_through_the_two_calls_names_who_made_each_admin() {
    let hub = common::hub();
    let (rep, token) = representative(hub).await;
    let newbie = random("newbie-");
    hub.create_user(&newbie).await;
    patch_admin(hub, &rep, &token, &newbie).await;
    let fresh = [random("fresh-"), random("fresh-")];
    let body = json!({ "usernames": fresh, "admin": true });
    as_user(hub, &token, Method::POST, "/users", body).await;
    wait_for_line(hub, &format!("201 POST /hub/api/users ({rep}@")).await;

    let (_dir, sa_token, api_server, api) = new_cluster(hub).await;
    let lines_before = hub.log().lines().count();
    let mut attributor = new_attributor();
    let mut sink = Tee::new(&mut attributor);
    let mut log = PodLog::new(api, source(), None);
    // A small budget: many calls, each resuming where the last stopped.
    let reports = read_all(&mut log, 1_000, &mut sink).await;
    assert!(reports.len() > 3, "{} calls", reports.len());
    assert!(reports.iter().all(|r| r.gaps.is_empty()), "{reports:?}");

    // Every line of the real log handed on once, in order, stamps stripped.
    let got = std::mem::take(&mut sink.got);
    let log_now = hub.log();
    let now: Vec<&str> = log_now.lines().collect();
    assert!(
        got.len() >= lines_before,
        "{} of {lines_before} lines",
        got.len()
    );
    assert_eq!(
        got,
        now[..got.len()],
        "the lines handed on are not the log's"
    );

    let events = attributor.flush();
    let granted = about(&events, &newbie);
    assert_eq!(
        granted
            .iter()
            .map(|e| (&e.change, &e.made_by, e.via, e.status))
            .collect::<Vec<_>>(),
        [(
            &Change::Granted,
            &MadeBy::Actor(rep.clone()),
            Some(Via::Api),
            Some(200)
        )],
        "{events:?}"
    );
    for name in &fresh {
        assert_eq!(
            changes_of(&events, name),
            [(
                &Change::CreatedAdmin,
                &MadeBy::Actor(rep.clone()),
                Some(Via::Api)
            )],
            "{name}: {events:?}"
        );
    }

    // Exactly the two calls, as documented, with the token of the file.
    let seen = api_server.seen();
    let pods = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    for (i, call) in seen.iter().enumerate() {
        assert_eq!(
            (call.status, call.token.as_str()),
            (200, sa_token.as_str()),
            "{call:?}"
        );
        if i % 2 == 0 {
            assert_eq!(call.uri, format!("{pods}?labelSelector=component%3Dhub"));
        } else {
            let prefix =
                format!("{pods}/hub-5d8f7c9b4-x2x7q/log?container=hub&timestamps=true&limitBytes=");
            assert!(call.uri.starts_with(&prefix), "{call:?}");
            // After the first call, each one resumes from the second of the last line.
            assert_eq!(call.uri.contains("&sinceTime="), i > 1, "{call:?}");
        }
    }
    assert_eq!(seen.len(), 2 * reports.len());
}

#[tokio::test]
async fn a_restarted_hub_pod_is_a_gap_then_the_new_pod_from_its_start() {
    // A hub of its own, restarted: its log file goes on, but the new pod's log is only
    // what the new process wrote.
    let mut hub = common::start_hub();
    let (rep, token) = representative(&hub).await;
    let (before, lost, after) = (random("before-"), random("lost-"), random("after-"));
    hub.create_users(&[&before, &lost, &after], false).await;
    patch_admin(&hub, &rep, &token, &before).await;

    let (_dir, _, api_server, api) = new_cluster(&hub).await;
    let mut attributor = new_attributor();
    let mut log = PodLog::new(api, source(), None);
    let mut sink = Tee::new(&mut attributor);
    read_all(&mut log, 64 * 1024, &mut sink).await;
    let old = log.position().cloned().expect("a position");
    let first = sink.attributor.flush();
    assert_eq!(
        about(&first, &before)[0].made_by,
        MadeBy::Actor(rep.clone())
    );

    // A change the old pod logs but nobody reads, then the hub restarts in a new pod.
    patch_admin(&hub, &rep, &token, &lost).await;
    hub.kill();
    let offset = std::fs::metadata(hub.log_path()).expect("hub.log").len();
    hub.restart(false);
    let new_uid = random("uid-");
    api_server.set_pods(vec![FakePod::hub(
        "hub-5d8f7c9b4-k9w2m",
        &new_uid,
        &hub.log_path(),
        offset,
    )]);
    patch_admin(&hub, &rep, &token, &after).await;

    sink.got.clear();
    let reports = read_all(&mut log, 64 * 1024, &mut sink).await;
    assert_eq!(
        reports[0].gaps,
        [Gap {
            kind: GapKind::SourceLost,
            bytes_lost: None
        }]
    );
    // The gap, then the new pod's log from its first line: the new hub's start.
    let tail = std::fs::read(hub.log_path()).expect("hub.log");
    let new_log = String::from_utf8_lossy(&tail[offset as usize..]).into_owned();
    assert_eq!(sink.got[0], "<gap SourceLost>");
    assert_eq!(sink.got[1], new_log.lines().next().expect("a first line"));
    let position = log.position().expect("a position");
    assert_eq!(
        (position.pod.as_str(), position.uid.as_str()),
        ("hub-5d8f7c9b4-k9w2m", new_uid.as_str())
    );
    assert_ne!(position.uid, old.uid);

    let events = attributor.flush();
    let by_rep = |name: &str| {
        about(&events, name)
            .into_iter()
            .filter(|e| e.made_by == MadeBy::Actor(rep.clone()))
            .count()
    };
    assert_eq!(by_rep(&after), 1, "{events:?}");
    // The PATCH of `lost` was in the unread part of the old pod's log: the gap.
    assert_eq!(by_rep(&lost), 0, "{events:?}");
    // A fact of both 4.1.6 and 6.1.1 with the `admin` role in load_roles (this kit's
    // config, and the recommended one): the start logs `Adding role admin for User:`
    // for every admin it finds, which reads as the configuration's grant at start.
    assert_eq!(
        changes_of(&events, &before),
        [(
            &Change::Granted,
            &MadeBy::Configuration,
            Some(Via::HubStart)
        )],
        "{events:?}"
    );
}

#[tokio::test]
async fn a_log_the_kubelet_rotated_past_is_a_gap() {
    // The kubelet rotates a container's log file (10 MiB by default) and serves only
    // the newest: lines not read before are lost, and the pod is the same.
    let hub = common::hub();
    let (rep, token) = representative(hub).await;
    let (before, lost, after) = (random("before-"), random("lost-"), random("after-"));
    hub.create_users(&[&before, &lost, &after], false).await;
    patch_admin(hub, &rep, &token, &before).await;
    let (_dir, _, api_server, api) = new_cluster(hub).await;
    let mut attributor = new_attributor();
    let mut log = PodLog::new(api, source(), None);
    let mut sink = Tee::new(&mut attributor);
    read_all(&mut log, 1 << 20, &mut sink).await;
    patch_admin(hub, &rep, &token, &lost).await;
    let rotated_at = std::fs::metadata(hub.log_path()).expect("hub.log").len();
    let uid = log.position().expect("read").uid.clone();
    api_server.set_pods(vec![FakePod::hub(
        "hub-5d8f7c9b4-x2x7q",
        &uid,
        &hub.log_path(),
        rotated_at,
    )]);
    patch_admin(hub, &rep, &token, &after).await;

    let reports = read_all(&mut log, 1 << 20, &mut sink).await;
    assert_eq!(
        reports[0].gaps.iter().map(|g| g.kind).collect::<Vec<_>>(),
        [GapKind::RotatedPast]
    );
    let events = attributor.flush();
    assert_eq!(
        about(&events, &before)[0].made_by,
        MadeBy::Actor(rep.clone()),
        "{events:?}"
    );
    assert_eq!(
        about(&events, &after)[0].made_by,
        MadeBy::Actor(rep.clone()),
        "{events:?}"
    );
    assert!(about(&events, &lost).is_empty(), "{events:?}");

    // Read on with nothing rotated since: no gap.
    let mut again = new_attributor();
    let mut sink = Tee::new(&mut again);
    let reports = read_all(&mut log, 1 << 20, &mut sink).await;
    assert!(reports.iter().all(|r| r.gaps.is_empty()), "{reports:?}");
}

#[tokio::test]
async fn a_rotated_token_file_is_read_again_for_each_call() {
    let hub = common::hub();
    let (dir, first, api_server, api) = new_cluster(hub).await;
    let token_file = dir.path().join("serviceaccount/token");
    let mut attributor = new_attributor();
    let mut log = PodLog::new(api, source(), None);
    let mut sink = Tee::new(&mut attributor);
    log.read(1 << 20, &mut sink)
        .await
        .expect("with the first token");

    // The kubelet writes a new token (a rename over the old) and the old one expires.
    let second = random("sa-token-");
    common::replace_file(&token_file, &second);
    api_server.set_token(&second);
    log.read(1 << 20, &mut sink)
        .await
        .expect("with the rotated token");
    let tokens: Vec<String> = api_server.seen().into_iter().map(|s| s.token).collect();
    assert_eq!(tokens, [&*first, &*first, &*second, &*second]);

    // A token the API no longer takes: 401, said without the token.
    api_server.set_token(&random("sa-token-"));
    api_server.echo_token(true);
    let err = log.read(1 << 20, &mut sink).await.expect_err("refused");
    assert!(matches!(err, KubeError::Unauthorized { .. }), "{err:?}");
    assert_never_shows(&err, &[&first, &second]);
}

/// `err`, shown every way, holds none of `secrets`.
fn assert_never_shows(err: &KubeError, secrets: &[&str]) {
    let shown = format!("{err} {err:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "the token shows: {shown}");
    }
}

#[tokio::test]
async fn what_the_api_refuses_is_said_in_rbac_terms_and_never_with_the_token() {
    let hub = common::hub();
    let (_dir, sa_token, api_server, api) = new_cluster(hub).await;
    // A misbehaving server echoes the token in its refusals: it is cut out.
    api_server.echo_token(true);
    let mut attributor = new_attributor();
    let mut sink = Tee::new(&mut attributor);
    let other = KubeSource::new("other-ns", None, None).expect("valid");
    let pod_log = |source: KubeSource| PodLog::new(api.clone(), source, None);

    let err = pod_log(other)
        .read(1 << 20, &mut sink)
        .await
        .expect_err("no Role in other-ns");
    assert!(matches!(err, KubeError::Forbidden { .. }), "{err:?}");
    for part in [
        "403 Forbidden",
        "may not list pods in namespace other-ns",
        "a Role there granting pods: [list]",
        "hubLogs.kubernetes.namespaces",
        "cannot list resource \"pods\"",
    ] {
        assert!(err.to_string().contains(part), "{part:?} not in: {err}");
    }
    assert_never_shows(&err, &[&sa_token]);

    api_server.forbid_log(true);
    let err = pod_log(source())
        .read(1 << 20, &mut sink)
        .await
        .expect_err("no pods/log get");
    for part in [
        "may not get pods/log in namespace climate-prod",
        "granting pods/log: [get]",
    ] {
        assert!(err.to_string().contains(part), "{part:?} not in: {err}");
    }
    assert_never_shows(&err, &[&sa_token]);
    api_server.forbid_log(false);

    // No running hub pod, or two: said, nothing guessed.
    let log_path = hub.log_path();
    let mut pending = FakePod::hub("hub-new", "u1", &log_path, 0);
    pending.phase = "Pending".to_string();
    api_server.set_pods(vec![pending]);
    let err = pod_log(source())
        .read(1 << 20, &mut sink)
        .await
        .expect_err("none runs");
    assert_eq!(err.kind(), "no_running_pod", "{err}");
    assert!(err.to_string().contains("hub-new (Pending)"), "{err}");
    api_server.set_pods(vec![
        FakePod::hub("hub-a", "u1", &log_path, 0),
        FakePod::hub("hub-b", "u2", &log_path, 0),
    ]);
    let err = pod_log(source())
        .read(1 << 20, &mut sink)
        .await
        .expect_err("two run");
    assert_eq!(err.kind(), "several_pods", "{err}");
    let wrong = KubeSource::new(NAMESPACE, None, Some("notebook")).expect("valid");
    api_server.set_pods(vec![FakePod::hub("hub-a", "u1", &log_path, 0)]);
    let err = pod_log(wrong)
        .read(1 << 20, &mut sink)
        .await
        .expect_err("no such container");
    assert!(
        err.to_string()
            .contains("has no container \"notebook\" (it has: hub)"),
        "{err}"
    );
    assert!(sink.got.is_empty(), "nothing read: {:?}", sink.got);
}
