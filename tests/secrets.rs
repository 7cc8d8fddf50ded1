//! Secrets never leave: hub tokens and the alert webhook URL appear in no output
//! channel, at any log level, in any format, whether the hub accepts the token or not
//! and whether the webhook takes the alert or not.
//!
//! Channels searched: stdout (the report, text and JSON), stderr (logs at
//! `RUST_LOG=trace`, text and JSON), the audit log, `/metrics`, `/healthz`, `/readyz`,
//! the alert bodies a receiver got, `--help`, clap's usage errors, and the `Debug` of
//! the library's types. Also: a token file readable by others gets a warning.

mod common;

use clap::Parser;
use common::{Daemon, HubEntry, RosterBuilder, random, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use jupyterhub_admin_sync::alert::WebhookUrl;
use jupyterhub_admin_sync::cli::Cli;
use jupyterhub_admin_sync::daemon::DaemonOptions;
use jupyterhub_admin_sync::hub::{ClientOptions, HubClient};
use jupyterhub_admin_sync::roster::Roster;

/// The secrets of one scenario, and the places to look for them.
struct Secrets {
    values: Vec<(String, String)>,
}

impl Secrets {
    fn new() -> Secrets {
        Secrets { values: Vec::new() }
    }

    fn token(mut self, label: &str, token: &str) -> Self {
        self.values.push((label.to_string(), token.to_string()));
        self
    }

    /// The URL, its path, and the random part of the path on its own.
    fn webhook(mut self, url: &str, secret_part: &str) -> Self {
        let parsed = url::Url::parse(url).unwrap();
        self.values.push(("webhook URL".into(), url.to_string()));
        self.values
            .push(("webhook path".into(), parsed.path().to_string()));
        self.values
            .push(("webhook secret part".into(), secret_part.to_string()));
        self
    }

    /// Panics if any secret is in `text`, naming the channel and the scenario.
    fn assert_absent(&self, channel: &str, scenario: &str, text: &str) {
        for (label, value) in &self.values {
            if let Some(at) = text.find(value.as_str()) {
                let start = text[..at]
                    .char_indices()
                    .rev()
                    .nth(200)
                    .map_or(0, |(i, _)| i);
                let end = (at + value.len() + 200).min(text.len());
                let end = (end..=text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(text.len());
                panic!(
                    "{scenario}: the {label} leaked into {channel}:\n...{}...",
                    &text[start..end]
                );
            }
        }
    }

    fn assert_output_clean(&self, scenario: &str, out: &Output) {
        self.assert_absent("stdout", scenario, &String::from_utf8_lossy(&out.stdout));
        self.assert_absent("stderr", scenario, &String::from_utf8_lossy(&out.stderr));
    }
}

/// A roster with one hub at `api_url` whose token is in `$SEC_TOKEN`; policy `grant`
/// so that a right token leaves drift (the hub's other admins) and alerts fire.
fn roster(dir: &Path, api_url: &str) -> PathBuf {
    RosterBuilder::one_hub(
        "sec-lab",
        "sec-rep",
        HubEntry::new("sec-hub", api_url, "SEC_TOKEN").policy("grant"),
    )
    .write(dir)
}

/// The binary with `token` in `$SEC_TOKEN`, logs at trace in `log_format`.
fn command(token: &str, log_format: &str) -> Command {
    common::command(&[
        ("SEC_TOKEN", token),
        ("RUST_LOG", "trace"),
        ("JUPYTERHUB_ADMIN_SYNC_LOG_FORMAT", log_format),
    ])
}

/// The shared hub with an undeclared admin (drift under policy grant), a dir with the
/// roster, and a wrong token.
async fn scenario(hub: &common::Hub) -> (tempfile::TempDir, PathBuf, String) {
    hub.create_users(&["sec-undeclared"], true).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = roster(dir.path(), &hub.api_url);
    (dir, roster, random("wrong-token-"))
}

/// A receiver that answers every alert with 500, at a secret path.
async fn failing_receiver() -> (MockServer, String, String) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("receiver is broken"))
        .mount(&server)
        .await;
    let secret = random("T0PSECRET");
    let url = format!("{}/services/{secret}/hook", server.uri());
    (server, url, secret)
}

/// A webhook URL nobody listens on.
fn unreachable_webhook() -> (String, String) {
    let port = common::free_port();
    let secret = random("UNREACHABLE");
    (
        format!("http://127.0.0.1:{port}/services/{secret}/hook"),
        secret,
    )
}

/// The one-shot modes, text and JSON logs at trace, wrong and right token, with the
/// webhook in the environment and on the command line (which the one-shot modes
/// ignore, but must not print either).
#[tokio::test]
async fn one_shot_modes_never_print_tokens_or_the_webhook_url() {
    let _guard = common::exclusive().await;
    let hub = common::hub();
    let (dir, roster, wrong) = scenario(hub).await;
    let roster = roster.to_str().unwrap();
    let (_receiver, webhook, secret) = failing_receiver().await;
    let secrets = Secrets::new()
        .token("right token", &hub.admin_sync_token)
        .token("wrong token", &wrong)
        .token("test-admin token", &hub.test_admin_token)
        .webhook(&webhook, &secret);

    for log_format in ["text", "json"] {
        for (token_label, token) in [
            ("wrong", wrong.as_str()),
            ("right", hub.admin_sync_token.as_str()),
        ] {
            let audit = dir
                .path()
                .join(format!("audit-{log_format}-{token_label}.jsonl"));
            let runs: [(&str, Vec<&str>); 5] = [
                ("--validate", vec!["--validate"]),
                ("--dry-run text", vec!["--dry-run"]),
                ("--dry-run json", vec!["--dry-run", "--output", "json"]),
                (
                    "--once json",
                    vec![
                        "--once",
                        "--output",
                        "json",
                        "--audit-log",
                        audit.to_str().unwrap(),
                    ],
                ),
                (
                    "--once text, webhook flag",
                    vec![
                        "--once",
                        "--alert-webhook-url",
                        &webhook,
                        "--audit-log",
                        audit.to_str().unwrap(),
                    ],
                ),
            ];
            for (what, args) in runs {
                let scenario = format!("{what} (logs {log_format}, {token_label} token)");
                let out = command(token, log_format)
                    .args(["--config", roster])
                    .args(&args)
                    .env("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL", &webhook)
                    .output()
                    .unwrap();
                let expected = match (what, token_label) {
                    ("--validate", _) => 0,
                    (_, "wrong") => 1,
                    // grant leaves sec-undeclared as drift
                    _ => 2,
                };
                assert_eq!(
                    out.status.code(),
                    Some(expected),
                    "{scenario}: {}",
                    common::show(&out)
                );
                if token_label == "wrong" && what != "--validate" {
                    assert!(
                        String::from_utf8_lossy(&out.stdout).contains("HTTP 403"),
                        "{scenario}: the refusal is reported: {}",
                        common::show(&out)
                    );
                }
                if what != "--validate" {
                    assert!(
                        String::from_utf8_lossy(&out.stderr).contains("TRACE"),
                        "{scenario}: trace-level logs (reqwest, hyper) are on: {}",
                        common::show(&out)
                    );
                }
                if log_format == "json" {
                    let first = String::from_utf8_lossy(&out.stderr);
                    if let Some(line) = first.lines().next() {
                        assert!(line.starts_with('{'), "{scenario}: JSON logs: {line}");
                    }
                }
                secrets.assert_output_clean(&scenario, &out);
            }
            let audit_text = std::fs::read_to_string(&audit).unwrap_or_default();
            if token_label == "right" {
                assert!(audit_text.contains("sec-undeclared"), "{audit_text}");
            }
            secrets.assert_absent(
                "the audit log",
                &format!("{log_format}/{token_label}"),
                &audit_text,
            );
        }
    }
}

/// Four daemons at once (logs text and JSON, wrong and right token, a failing and an
/// unreachable webhook, passed by flag and by environment): alerts are tried and
/// fail, runs fail or drift, and no secret shows anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_never_prints_tokens_or_the_webhook_url() {
    let _guard = common::exclusive().await;
    let hub = common::hub();
    // The scenario's roster, with the community's own alert route (below).
    let (dir, _, wrong) = scenario(hub).await;
    let (receiver, failing_url, failing_secret) = failing_receiver().await;
    let (unreachable_url, unreachable_secret) = unreachable_webhook();
    // The community's own route, failing too: by variable for half the daemons, by
    // file for the others.
    let (community_receiver, community_url, community_secret) = failing_receiver().await;
    let hook_file = common::write_file(dir.path(), "community-hook", &community_url);
    let routed = |key: &str, value: &str, file: &str| {
        RosterBuilder::new()
            .community(
                common::Community::new("sec-lab")
                    .rep("sec-rep")
                    .alerts(key, value)
                    .hub(HubEntry::new("sec-hub", &hub.api_url, "SEC_TOKEN").policy("grant")),
            )
            .write(&common::write_dir(dir.path(), file))
    };
    let roster_env = routed("webhook_env", "SEC_COMMUNITY_HOOK", "env");
    let roster_file = routed("webhook_file", hook_file.to_str().unwrap(), "file");
    let secrets = Secrets::new()
        .token("right token", &hub.admin_sync_token)
        .token("wrong token", &wrong)
        .token("test-admin token", &hub.test_admin_token)
        .webhook(&failing_url, &failing_secret)
        .webhook(&unreachable_url, &unreachable_secret)
        .webhook(&community_url, &community_secret);

    struct Case<'a> {
        name: &'static str,
        log_format: &'static str,
        token: &'a str,
        webhook: &'a str,
        by_flag: bool,
    }
    let cases = [
        Case {
            name: "text-wrong-failing-flag",
            log_format: "text",
            token: &wrong,
            webhook: &failing_url,
            by_flag: true,
        },
        Case {
            name: "json-right-failing-env",
            log_format: "json",
            token: &hub.admin_sync_token,
            webhook: &failing_url,
            by_flag: false,
        },
        Case {
            name: "json-wrong-unreachable-env",
            log_format: "json",
            token: &wrong,
            webhook: &unreachable_url,
            by_flag: false,
        },
        Case {
            name: "text-right-unreachable-flag",
            log_format: "text",
            token: &hub.admin_sync_token,
            webhook: &unreachable_url,
            by_flag: true,
        },
    ];
    let mut daemons = Vec::new();
    for case in &cases {
        let audit = dir.path().join(format!("{}.audit.jsonl", case.name));
        let mut cmd = command(case.token, case.log_format);
        let roster = if case.by_flag {
            &roster_env
        } else {
            &roster_file
        };
        cmd.env("SEC_COMMUNITY_HOOK", &community_url);
        cmd.args(["--config", roster.to_str().unwrap()]);
        cmd.args(["--audit-log", audit.to_str().unwrap()]);
        if case.by_flag {
            cmd.args(["--alert-webhook-url", case.webhook]);
        } else {
            cmd.env("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL", case.webhook);
        }
        cmd.args(["--interval", "1s", "--shutdown-grace", "1s"]);
        daemons.push((Daemon::spawn(cmd, dir.path(), case.name), audit));
    }

    for (case, (daemon, _)) in cases.iter().zip(&daemons) {
        // The alert was tried, failed, and a retry is planned: the webhook's error
        // path (the one most likely to print a URL) has run.
        let awaited = [
            (30, "a failed alert", "alert not delivered yet"),
            (15, "ready", "first run over every hub finished"),
        ];
        for (secs, what, line) in awaited {
            let what = format!("{}: {what}", case.name);
            let check = || async { daemon.log().contains(line) };
            wait_until(secs, &what, || daemon.context(), check).await;
        }
    }
    let mut scraped = Vec::new();
    for (case, (daemon, _)) in cases.iter().zip(&daemons) {
        for path in ["/metrics", "/healthz", "/readyz"] {
            scraped.push((format!("{} {path}", case.name), daemon.get(path).await.1));
        }
    }
    for (case, (daemon, _)) in cases.iter().zip(daemons.iter_mut()) {
        assert_eq!(
            daemon.terminate().0,
            Some(0),
            "{}: {}",
            case.name,
            daemon.log()
        );
    }

    for (channel, text) in &scraped {
        assert!(
            !text.is_empty() || channel.ends_with("z"),
            "{channel} answered"
        );
        secrets.assert_absent(channel, "daemon", text);
    }
    assert!(
        scraped.iter().any(|(c, t)| c.ends_with("/metrics")
            && t.contains("jupyterhub_admin_sync_webhook_failures_total{route=\"global\"}")
            && t.contains("jupyterhub_admin_sync_webhook_failures_total{route=\"sec-lab\"}")),
        "metrics were scraped, with a series per route"
    );
    for (case, (daemon, audit)) in cases.iter().zip(&daemons) {
        let log = daemon.log();
        assert!(!log.contains("panicked"), "{}", case.name);
        if case.log_format == "json" {
            assert!(
                log.lines().all(|l| l.starts_with('{')),
                "{}: JSON logs",
                case.name
            );
        }
        assert!(log.contains("TRACE"), "{}: trace-level logs", case.name);
        secrets.assert_absent("stderr", case.name, &log);
        let stdout =
            std::fs::read_to_string(dir.path().join(format!("{}.stdout", case.name))).unwrap();
        secrets.assert_absent("stdout", case.name, &stdout);
        let audit = std::fs::read_to_string(audit).unwrap_or_default();
        secrets.assert_absent("the audit log", case.name, &audit);
    }
    let mut bodies: Vec<String> = Vec::new();
    for server in [&receiver, &community_receiver] {
        let got = server.received_requests().await.unwrap_or_default();
        assert!(!got.is_empty(), "both routes were tried");
        bodies.extend(
            got.iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned()),
        );
    }
    assert!(
        bodies.iter().any(|b| b.contains("\"kind\":\"error\"")),
        "the wrong token's error alert reached the receiver: {bodies:?}"
    );
    assert!(
        bodies.iter().any(|b| b.contains("\"kind\":\"drift\"")),
        "the drift alert reached the receiver: {bodies:?}"
    );
    for body in &bodies {
        secrets.assert_absent("an alert body", "daemon", body);
    }
}

#[test]
fn help_hides_the_webhook_url_from_the_environment() {
    let (url, secret) = unreachable_webhook();
    let secrets = Secrets::new().webhook(&url, &secret);
    for flag in ["--help", "-h"] {
        let out = command("unused-token", "text")
            .arg(flag)
            .env("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL", &url)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL"),
            "{}",
            common::show(&out)
        );
        secrets.assert_output_clean(flag, &out);
    }
}

/// clap's usage errors echo some values: none of them may be the webhook URL.
#[test]
fn usage_errors_do_not_echo_the_webhook_url() {
    let (url, secret) = unreachable_webhook();
    let secrets = Secrets::new().webhook(&url, &secret);
    let flag_eq = format!("--alert-webhook-url={url}");
    let typo_eq = format!("--alert-webhook={url}");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "the flag twice",
            vec![
                "-c",
                "r.yaml",
                "--alert-webhook-url",
                &url,
                "--alert-webhook-url",
                &url,
            ],
        ),
        (
            "the flag=value twice",
            vec!["-c", "r.yaml", &flag_eq, &flag_eq],
        ),
        (
            "an invalid duration next to it",
            vec![
                "-c",
                "r.yaml",
                "--alert-webhook-url",
                &url,
                "--interval",
                "soon",
            ],
        ),
        (
            "an unknown flag after it",
            vec![
                "-c",
                "r.yaml",
                "--alert-webhook-url",
                &url,
                "--no-such-flag",
            ],
        ),
        (
            "two modes",
            vec![
                "-c",
                "r.yaml",
                "--alert-webhook-url",
                &url,
                "--dry-run",
                "--once",
            ],
        ),
        ("a misspelt flag=value", vec!["-c", "r.yaml", &typo_eq]),
        (
            "a misspelt flag, value apart",
            vec!["-c", "r.yaml", "--alert-webhook", &url],
        ),
        ("no --config", vec!["--alert-webhook-url", &url]),
        (
            "the flag without a value, env set",
            vec!["-c", "r.yaml", "--alert-webhook-url"],
        ),
    ];
    for (what, args) in cases {
        let out = command("unused-token", "text")
            .args(&args)
            .env("JUPYTERHUB_ADMIN_SYNC_ALERT_WEBHOOK_URL", &url)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: a usage error exits 1: {}",
            common::show(&out)
        );
        assert!(!out.stderr.is_empty(), "{what}: says why");
        secrets.assert_output_clean(what, &out);
    }
    // A webhook URL that is not a URL: refused by the daemon without echoing it.
    let bad = format!("hooks.example.org/{secret}");
    let dir = tempfile::tempdir().unwrap();
    let roster = roster(dir.path(), "http://127.0.0.1:9/hub/api");
    let out = command("some-token-1234", "text")
        .args(["-c", roster.to_str().unwrap(), "--alert-webhook-url", &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("webhook URL"),
        "{}",
        common::show(&out)
    );
    Secrets::new()
        .token("bad webhook", &bad)
        .token("bad webhook secret", &secret)
        .assert_output_clean("an invalid webhook URL", &out);
}

#[test]
fn debug_of_library_types_never_shows_secrets() {
    let token = random("tok-");
    let (url, secret) = unreachable_webhook();
    let secrets = Secrets::new().token("token", &token).webhook(&url, &secret);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.yaml");
    let yaml = "engineers: [{name: eng}]\ncommunities:\n  - name: c\n    representatives: [{name: r}]\n    alerts: {webhook_env: HOOK}\n    hubs:\n      - {name: h1, api_url: 'http://127.0.0.1:9/hub/api', token_env: T1}\n      - {name: h2, api_url: 'https://127.0.0.1:9/hub/api', token_env: T1}\n";
    let env = |var: &str| match var {
        "T1" => Some(token.clone()),
        "HOOK" => Some(url.clone()),
        _ => None,
    };
    let roster = Roster::parse_bytes(&path, yaml.as_bytes(), &env).expect("valid roster");
    assert_eq!(roster.hubs[0].access.token.expose(), token);
    assert!(
        roster.communities[0].alerts.is_some(),
        "the community's route"
    );
    let community = &roster.communities[0];
    secrets.assert_absent("Community Debug", "community", &format!("{community:#?}"));
    secrets.assert_absent("Roster Debug", "roster", &format!("{roster:?}"));
    secrets.assert_absent("Roster Debug", "roster (pretty)", &format!("{roster:#?}"));
    let spec = &roster.hubs[0];
    secrets.assert_absent("HubSpec Debug", "hub spec", &format!("{spec:#?}"));
    let client = HubClient::new(spec, &ClientOptions::default()).unwrap();
    secrets.assert_absent("HubClient Debug", "client", &format!("{client:?}"));
    secrets.assert_absent(
        "HubClient Debug",
        "client (pretty)",
        &format!("{client:#?}"),
    );

    let webhook = WebhookUrl::parse(&url).unwrap();
    secrets.assert_absent("WebhookUrl Debug", "webhook", &format!("{webhook:?}"));
    let options = DaemonOptions {
        config: path.clone(),
        hubs: vec![],
        interval: Duration::from_secs(1),
        jitter: 0.1,
        concurrency: 1,
        client: ClientOptions::default(),
        listen: None,
        webhook: Some(webhook),
        alert_format: jupyterhub_admin_sync::alert::AlertFormat::Alertmanager,
        audit_log: None,
        audit_lock_wait: Duration::from_secs(1),
        reload_poll: Duration::from_secs(1),
        grace: Duration::from_secs(1),
        expiry_warning_days: 7,
        digest_at: None,
        digest_always: false,
        state_dir: None,
    };
    secrets.assert_absent(
        "DaemonOptions Debug",
        "daemon options",
        &format!("{options:#?}"),
    );
}

#[test]
fn debug_of_the_parsed_command_line_never_shows_the_webhook_url() {
    let (url, secret) = unreachable_webhook();
    let secrets = Secrets::new().webhook(&url, &secret);
    let cli = Cli::try_parse_from([
        "jupyterhub-admin-sync",
        "-c",
        "r.yaml",
        "--alert-webhook-url",
        &url,
    ])
    .expect("parses");
    // The webhook URL is held in a type whose `Debug` is redacted.
    secrets.assert_absent("Cli Debug", "parsed command line", &format!("{cli:?}"));
}

/// A token file others can read gets a warning on `--validate`; mode 0600 none.
#[cfg(unix)]
#[test]
fn a_token_file_readable_by_others_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let token_file =
        common::write_file(dir.path(), "token", &format!("{}\n", random("file-token-")));
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    let roster = common::write_file(
        dir.path(),
        "roster.yaml",
        &format!(
            "communities:\n  - name: c\n    representatives: [{{name: r}}]\n    hubs: [{{name: h, api_url: 'http://127.0.0.1:9/hub/api', token_file: '{}'}}]\n",
            token_file.display()
        ),
    );
    let secrets = Secrets::new().token("file token", &token);
    let validate = |log_format: &str| {
        command("unused", log_format)
            .env("RUST_LOG", "info")
            .args(["-c", roster.to_str().unwrap(), "--validate"])
            .output()
            .unwrap()
    };

    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    for log_format in ["text", "json"] {
        let out = validate(log_format);
        assert_eq!(
            out.status.code(),
            Some(0),
            "a warning, not an error: {}",
            common::show(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("WARN")
                && stderr.contains("readable by every user")
                && stderr.contains("644"),
            "{log_format}: {}",
            common::show(&out)
        );
        assert!(
            stderr.contains(token_file.to_str().unwrap()),
            "names the file: {stderr}"
        );
        secrets.assert_output_clean("0644 token file", &out);
    }

    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = validate("text");
    assert_eq!(out.status.code(), Some(0), "{}", common::show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("readable"), "no warning at 0600: {stderr}");
    assert!(!stderr.contains("WARN"), "no warning at 0600: {stderr}");

    // Group-readable (0640, a typical Kubernetes Secret mount with fsGroup) is not
    // "every user": no warning either.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = validate("text");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("readable"),
        "{}",
        common::show(&out)
    );
}
