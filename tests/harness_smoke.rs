//! Proves the test harness against a real JupyterHub: tokens and roles as configured,
//! status codes the daemon relies on, pagination past one page, names that need encoding.

mod common;

use common::{encode_name, hub, start_hub};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn version_is_at_least_2_0() {
    let hub = hub();
    let (major, minor, patch) = hub.version_tuple();
    assert!(
        major >= 2,
        "JupyterHub {} ({major}.{minor}.{patch}) is older than 2.0",
        hub.version
    );
    assert!(hub.api_url.starts_with("http://127.0.0.1:"));
    assert!(hub.api_url.ends_with("/hub/api"));
    // `GET /` answers without a token and agrees with what the harness read.
    assert_eq!(hub.get_ok("/", "").await["version"], hub.version.as_str());
}

#[tokio::test]
async fn tokens_are_long_random_and_distinct() {
    let hub = hub();
    let tokens = [
        &hub.admin_sync_token,
        &hub.auditor_token,
        &hub.test_admin_token,
    ];
    for t in tokens {
        assert!(
            t.len() >= 32 && t.chars().all(|c| c.is_ascii_hexdigit()),
            "{t}"
        );
    }
    assert_ne!(tokens[0], tokens[1]);
    assert_ne!(tokens[0], tokens[2]);
    assert_ne!(tokens[1], tokens[2]);
}

#[tokio::test]
async fn admin_sync_token_is_an_admin_service() {
    let hub = hub();
    let me = hub.get_ok("/user", &hub.admin_sync_token).await;
    assert_eq!(me["name"], "admin-sync", "{me}");
    assert_eq!(me["admin"], true, "{me}");
    // `kind` is "service" in every version checked (2.3.1, 3.1.1, 4.1.6, 5.5.4, 6.1.1).
    assert_eq!(me["kind"], "service", "{me}");
}

#[tokio::test]
async fn auditor_lists_users_but_cannot_change_admin_flags() {
    let hub = hub();
    hub.create_user("audit-target").await;

    let me = hub.get_ok("/user", &hub.auditor_token).await;
    assert_eq!(me["name"], "auditor", "{me}");

    let body = hub.get_ok("/users?limit=200", &hub.auditor_token).await;
    let target = body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"))
        .iter()
        .find(|u| u["name"] == "audit-target")
        .cloned()
        .unwrap_or_else(|| panic!("audit-target not listed: {body}"));
    // `list:users` is enough to read the admin flag.
    assert_eq!(target["admin"], false, "{target}");

    let patch = json!({ "admin": true });
    let (status, body) = hub
        .request(
            Method::PATCH,
            "/users/audit-target",
            &hub.auditor_token,
            Some(&patch),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(hub.users().await.get("audit-target"), Some(&false));
}

#[tokio::test]
async fn bad_token_is_403_not_401() {
    let hub = hub();
    let bad = "0123456789abcdef0123456789abcdef";
    for path in ["/users", "/user"] {
        let (status, body) = hub.request(Method::GET, path, bad, None).await;
        assert_eq!(status, 403, "GET {path}: {body}");
    }
}

#[tokio::test]
async fn batch_of_250_is_seen_across_pages() {
    let hub = hub();
    let names: Vec<String> = (0..250).map(|i| format!("page-{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    hub.create_users(&refs, false).await;
    // All exist now: a second batch is a 409 the helper tolerates.
    hub.create_users(&refs, false).await;

    // The page maximum is 200: a larger limit is clamped.
    let page = hub
        .get_ok("/users?offset=0&limit=500", &hub.auditor_token)
        .await;
    assert_eq!(page.as_array().map(Vec::len), Some(200));

    let users = hub.users().await;
    let ours: Vec<(&String, &bool)> = users
        .iter()
        .filter(|(n, _)| n.starts_with("page-"))
        .collect();
    assert_eq!(ours.len(), 250);
    assert!(ours.iter().all(|(_, admin)| !**admin));
    assert!(hub.user_count().await >= 250);
}

#[tokio::test]
async fn admin_flag_round_trip() {
    let _guard = common::exclusive().await;
    let hub = hub();
    hub.create_users(&["flag-one", "flag-two"], false).await;
    hub.set_admin("flag-one", true).await;
    let admins = hub.admins().await;
    assert!(admins.contains("flag-one"), "{admins:?}");
    assert!(!admins.contains("flag-two"), "{admins:?}");
    hub.set_admin("flag-one", false).await;
    assert!(!hub.admins().await.contains("flag-one"));
}

#[tokio::test]
async fn names_with_at_sign_are_encoded() {
    let hub = hub();
    assert_eq!(encode_name("alice@uni.edu"), "alice%40uni.edu");
    hub.create_user("alice@uni.edu").await;
    assert_eq!(hub.users().await.get("alice@uni.edu"), Some(&false));
    let alice = hub
        .get_ok("/users/alice%40uni.edu", &hub.test_admin_token)
        .await;
    assert_eq!(alice["name"], "alice@uni.edu");
}

#[tokio::test]
async fn private_hub_is_separate_and_stops_on_drop() {
    let shared = hub();
    let private = start_hub();
    assert_ne!(private.port, shared.port);
    assert_ne!(private.admin_sync_token, shared.admin_sync_token);
    assert_eq!(private.user_count().await, 0);
    private.create_user("only-here").await;
    assert!(!shared.users().await.contains_key("only-here"));

    let port = private.port;
    let dir = private.dir().to_path_buf();
    drop(private);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the hub still listens on {port} after drop"
    );
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn binary_exists() {
    let bin = common::bin();
    assert!(std::path::Path::new(bin).exists(), "{bin}");
}
