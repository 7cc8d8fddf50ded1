//! Pieces of a mock hub (wiremock), for what a real JupyterHub cannot be made to do,
//! and the requests a mock received.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Mounts `GET path` answered 200 with `body` as JSON.
pub async fn mount_get_json(server: &MockServer, path_: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(path_))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

/// Mounts `GET /hub/api/groups` answered with one page holding `groups` (a hub's
/// groups as JupyterHub lists them to an admin: name, users, roles).
pub async fn mount_groups(server: &MockServer, groups: Value) {
    let total = groups.as_array().map_or(0, Vec::len);
    let body = serde_json::json!({
        "items": groups,
        "_pagination": {"offset": 0, "limit": 200, "total": total, "next": null}
    });
    mount_get_json(server, "/hub/api/groups", body).await;
}

/// Every request `server` received, in order.
pub async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

/// The requests `server` received with `method_` (`"PATCH"`, ...), in order.
pub async fn requests_with_method(server: &MockServer, method_: &str) -> Vec<Request> {
    requests(server)
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == method_)
        .collect()
}
