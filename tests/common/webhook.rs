//! A webhook receiver on loopback (a mock server: a real chat service cannot run
//! here), and the messages it got.

use serde_json::Value;
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A receiver that answers every POST with `status` after `delay`.
pub async fn receiver(status: u16, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_delay(delay))
        .mount(&server)
        .await;
    server
}

/// Every message `server` got, as JSON, in order.
pub async fn messages(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a message is JSON"))
        .collect()
}

/// The `text` of every message `server` got, in order (`""` for one without).
pub async fn texts(server: &MockServer) -> Vec<String> {
    messages(server)
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}
