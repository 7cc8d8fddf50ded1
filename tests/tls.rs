//! An https hub signed by a private CA: `ca_file` makes it trusted, and nothing else
//! does. Certificate checks are never switched off.
//!
//! The hub is the real shared JupyterHub behind a TLS-terminating proxy on 127.0.0.1
//! (tokio-rustls, in this process), with a CA and server certificate made by `rcgen`
//! for each test. The proxy counts completed handshakes: a refused certificate must
//! mean that no request (and so no token) reached the hub.

mod common;

use common::tls::{Ca, acceptor};
use common::{HubEntry, RosterBuilder};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A TLS-terminating proxy on 127.0.0.1 in front of the shared hub, serving `cert`.
struct TlsProxy {
    port: u16,
    handshakes: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl TlsProxy {
    async fn start(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> TlsProxy {
        let hub_port = common::hub().port;
        let acceptor = acceptor(cert, key);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (h, c) = (handshakes.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                let h = h.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    h.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", hub_port)).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        TlsProxy {
            port,
            handshakes,
            connections,
        }
    }

    fn api_url(&self) -> String {
        format!("https://127.0.0.1:{}/hub/api", self.port)
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A roster with one hub at `api_url`, token in `$TLS_TOKEN`, and `ca_file` if given.
fn roster(dir: &Path, api_url: &str, ca_file: Option<&Path>) -> String {
    let mut hub = HubEntry::new("tls-hub", api_url, "TLS_TOKEN").policy("enforce");
    if let Some(ca_file) = ca_file {
        hub = hub.ca_file(ca_file);
    }
    let roster = RosterBuilder::one_hub("tls-lab", "tls-rep", hub);
    roster.write(dir).to_str().unwrap().to_string()
}

/// Runs the binary on `roster` with `args` and the shared hub's token, without blocking
/// the runtime (the proxy lives on it).
async fn run(roster: &str, args: &[&str]) -> Output {
    let token = &common::hub().admin_sync_token;
    let args = [&["--config", roster][..], args].concat();
    common::run_async(&args, &[("TLS_TOKEN", token), ("RUST_LOG", "info")]).await
}

/// A dry run with one attempt: a refused certificate fails at once.
async fn dry_run_once(roster: &str) -> Output {
    run(
        roster,
        &["--dry-run", "--output", "json", "--max-attempts", "1"],
    )
    .await
}

/// A private CA, the proxy serving a certificate it signed for 127.0.0.1, a temp dir.
async fn private_ca_hub() -> (Ca, TlsProxy, tempfile::TempDir) {
    let ca = Ca::new("admin-sync test CA");
    let (cert, key) = ca.server(&["127.0.0.1"], false);
    let proxy = TlsProxy::start(cert, key).await;
    (ca, proxy, tempfile::tempdir().unwrap())
}

/// Asserts a `--dry-run --output json` that failed on the certificate: exit 1, error
/// kind `transport`, a message that names the certificate problem, nothing planned,
/// and no TLS session ever established (so no request, no token, reached the hub).
fn assert_refused(out: &Output, proxy: &TlsProxy, why: &str) {
    let report = common::exit_report(out, 1);
    let hub = &report["hubs"][0];
    assert_eq!(hub["status"], "error", "{}", common::show(out));
    assert_eq!(hub["changes"], serde_json::json!([]), "nothing planned");
    // A certificate error, on the first request, that says why (in any case).
    let error = hub["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("GET /"), "{error}");
    common::assert_contains_all(error, &["certificate"]);
    common::assert_contains_all(&error.to_lowercase(), &[&why.to_lowercase()]);
    assert!(proxy.connections() >= 1, "the tool did connect");
    assert_eq!(proxy.handshakes(), 0, "no TLS session was established");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_and_once_work_over_https_with_the_private_ca_in_ca_file() {
    let _guard = common::exclusive().await;
    let (ca, proxy, dir) = private_ca_hub().await;
    let ca_file = common::write_file(dir.path(), "ca.pem", &ca.pem());
    let roster = roster(dir.path(), &proxy.api_url(), Some(&ca_file));

    // Drift: exit 2.
    let out = run(&roster, &["--dry-run", "--output", "json"]).await;
    let hub = &common::exit_report(&out, 2)["hubs"][0];
    assert_eq!(hub["version"], common::hub().version.as_str());
    let planned: Vec<(&str, &str)> = hub["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["user"] == "tls-rep")
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["skipped"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(planned, [("create", "dry run")]);
    assert!(proxy.handshakes() >= 1);

    // And a sync over the same channel: the representative is created.
    let out = run(
        &roster,
        &["--once", "--hub", "tls-hub", "--max-attempts", "1"],
    )
    .await;
    assert!(
        matches!(out.status.code(), Some(0) | Some(2)),
        "{}",
        common::show(&out)
    );
    assert!(common::hub().admins().await.contains("tls-rep"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ca_file_the_private_certificate_is_refused_and_nothing_is_planned() {
    let (_ca, proxy, dir) = private_ca_hub().await;
    let roster = roster(dir.path(), &proxy.api_url(), None);

    let out = dry_run_once(&roster).await;
    assert_refused(&out, &proxy, "set the hub's ca_file");
    // The text report and the log say it too.
    let out = run(&roster, &["--once", "--max-attempts", "1"]).await;
    common::assert_exit(&out, 1);
    common::assert_stderr_contains(&out, "certificate");
    assert_eq!(proxy.handshakes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_error_is_not_retried_as_if_it_were_transient() {
    let (_ca, proxy, dir) = private_ca_hub().await;
    let roster = roster(dir.path(), &proxy.api_url(), None);
    let started = std::time::Instant::now();
    let out = run(&roster, &["--dry-run", "--output", "json"]).await;
    common::assert_exit(&out, 1);
    // A certificate error is permanent: one attempt, not the retry budget.
    assert_eq!(
        proxy.connections(),
        1,
        "one attempt, not {} (took {:.1?})",
        proxy.connections(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_is_never_off_wrong_ca_wrong_name_expired() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("admin-sync test CA");
    let other = Ca::new("some other CA");
    let ca_file = common::write_file(dir.path(), "ca.pem", &ca.pem());
    let other_file = common::write_file(dir.path(), "other-ca.pem", &other.pem());
    let cases = [
        // A ca_file with another CA: still refused.
        (
            ca.server(&["127.0.0.1"], false),
            &other_file,
            "set the hub's ca_file",
        ),
        // The right CA, but a certificate for another name.
        (
            ca.server(&["hub.example.org"], false),
            &ca_file,
            "not issued for the host in api_url",
        ),
        // The right CA and name, expired.
        (ca.server(&["127.0.0.1"], true), &ca_file, "expired"),
    ];
    for ((cert, key), ca_file, why) in cases {
        let proxy = TlsProxy::start(cert, key).await;
        let roster = roster(dir.path(), &proxy.api_url(), Some(ca_file));
        assert_refused(&dry_run_once(&roster).await, &proxy, why);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_that_is_not_pem_is_a_clear_error() {
    let (ca, proxy, dir) = private_ca_hub().await;
    let cases = [
        ("ca.der", ca.der()),
        ("ca.txt", b"this is not a certificate\n".to_vec()),
        ("empty.pem", Vec::new()),
        (
            "truncated.pem",
            ca.pem()
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        ),
    ];
    for (name, bytes) in &cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let roster = roster(dir.path(), &proxy.api_url(), Some(&path));
        for mode in ["--dry-run", "--once"] {
            let out = run(&roster, &[mode]).await;
            let stderr = common::stderr(&out);
            common::assert_case_exit(&format!("{name} {mode}"), &out, 1);
            assert!(
                stderr.contains("ca_file") && stderr.contains(name),
                "{name} {mode}: the error names the ca_file: {}",
                common::show(&out)
            );
            assert!(!stderr.contains("panicked"), "{}", common::show(&out));
        }
    }
    assert_eq!(proxy.connections(), 0, "nothing was sent to the hub");
    // `--validate` parses the ca_file as PEM too, as every other mode does.
    for (name, _) in &cases {
        let roster = roster(dir.path(), &proxy.api_url(), Some(&dir.path().join(name)));
        let out = run(&roster, &["--validate"]).await;
        let case = format!("{name}: --validate accepts a ca_file without a certificate");
        common::assert_case_exit(&case, &out, 1);
    }
}

#[tokio::test]
async fn ca_file_on_an_http_hub_or_missing_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("admin-sync test CA");
    let ca_file = common::write_file(dir.path(), "ca.pem", &ca.pem());
    let missing = dir.path().join("nope.pem");
    for (api_url, ca_file, error) in [
        (
            "http://127.0.0.1:9/hub/api",
            &ca_file,
            "ca_file is set but api_url is not https",
        ),
        (
            "https://127.0.0.1:9/hub/api",
            &missing,
            "nope.pem cannot be read",
        ),
    ] {
        let out = run(&roster(dir.path(), api_url, Some(ca_file)), &["--validate"]).await;
        common::assert_case_exit(error, &out, 1);
        common::assert_stderr_contains(&out, error);
    }
}

/// A self-signed certificate as `openssl req -x509` makes it (marked CA:TRUE), for
/// `names`, and its key: the certificate is its own issuer.
fn self_signed_ca_cert(
    names: &[&str],
) -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "self-signed hub");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (
        cert.pem(),
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_ca_certificate_in_ca_file_is_trusted_and_its_name_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, cert, key) = self_signed_ca_cert(&["127.0.0.1"]);
    let proxy = TlsProxy::start(cert, key).await;
    let ca_file = common::write_file(dir.path(), "self-signed.pem", &pem);
    let roster_path = roster(dir.path(), &proxy.api_url(), Some(&ca_file));
    let out = run(&roster_path, &["--dry-run", "--output", "json"]).await;
    assert!(
        matches!(out.status.code(), Some(0) | Some(2)),
        "the hub is read over TLS: {}",
        common::show(&out)
    );
    assert_eq!(
        common::report(&out)["hubs"][0]["version"],
        common::hub().version.as_str()
    );
    assert!(proxy.handshakes() >= 1);

    // The same kind of certificate for another name is refused, with what to do.
    let (pem, cert, key) = self_signed_ca_cert(&["hub.example.org"]);
    let proxy = TlsProxy::start(cert, key).await;
    let ca_file = common::write_file(dir.path(), "other-name.pem", &pem);
    let roster_path = roster(dir.path(), &proxy.api_url(), Some(&ca_file));
    let out = dry_run_once(&roster_path).await;
    assert_refused(&out, &proxy, "not issued for the host in api_url");
}
