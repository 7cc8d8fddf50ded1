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
