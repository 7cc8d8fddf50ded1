//! The small HTTP server for probes and scraping: `/healthz`, `/readyz`, `/metrics`.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Liveness and readiness, shared between the daemon's loop and the server.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    /// Milliseconds after `started` of the loop's last heartbeat.
    heartbeat_ms: AtomicU64,
    ready: AtomicBool,
    /// The loop counts as stuck when its heartbeat is older than this.
    stuck_after: Duration,
}

impl Health {
    pub fn new(stuck_after: Duration) -> Health {
        Health {
            started: Instant::now(),
            heartbeat_ms: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            stuck_after,
        }
    }

    pub fn beat(&self) {
        self.heartbeat_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// True while the loop has beaten recently.
    pub fn is_alive(&self) -> bool {
        let last = Duration::from_millis(self.heartbeat_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last) <= self.stuck_after
    }
}

pub fn router(metrics: Arc<Metrics>, health: Arc<Health>) -> Router {
    let live = health.clone();
    Router::new()
        .route(
            "/healthz",
            get(move || async move { probe(live.is_alive(), "ok", "the reconcile loop is stuck") }),
        )
        .route(
            "/readyz",
            get(move || async move {
                let not_ready = "not ready: the first run over every hub has not finished";
                probe(health.is_ready(), "ready", not_ready)
            }),
        )
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    metrics.render(),
                )
                    .into_response()
            }),
        )
}

/// A probe's answer: 200 with `ok`, or 503 saying what is wrong.
fn probe(healthy: bool, ok: &'static str, wrong: &'static str) -> (StatusCode, String) {
    if healthy {
        (StatusCode::OK, format!("{ok}\n"))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{wrong}\n"))
    }
}

/// Serves until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, health))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
