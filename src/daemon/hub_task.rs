//! One hub's task: wait for its turn (the interval with jitter, or at once when the
//! roster changes), take a permit from the concurrency bound, reconcile, record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Connect, Shared};
use crate::hub::HubError;
use crate::name::HubName;
use crate::reconcile::{mark_expired, reconcile, setup_failure};
use crate::roster::{HubAccess, Roster};

/// True when a client built for `a` serves `b` as well.
fn same_access(a: &HubAccess, b: &HubAccess) -> bool {
    a.api_url == b.api_url && a.token.expose() == b.token.expose() && a.ca == b.ca
}

fn jittered(interval: Duration, jitter: f64) -> Duration {
    let factor = 1.0 + jitter * (fastrand::f64() * 2.0 - 1.0);
    interval.mul_f64(factor.max(0.0))
}

/// Reconciles the hub called `name` until `stop` is cancelled (shutdown, or the hub
/// left the roster). `first_pending`: this task's first run is one the daemon's
/// readiness waits for; cleared when it is done (the supervisor counts a retired
/// task's pending run as done).
pub(super) async fn run<C: Connect>(
    shared: Arc<Shared<C>>,
    name: HubName,
    mut roster_rx: watch::Receiver<Arc<Roster>>,
    stop: CancellationToken,
    first_pending: Arc<AtomicBool>,
) {
    let (shared, name, stop) = (&*shared, &name, &stop);
    // Spread the first runs a little so many hubs do not start at the same instant.
    let spread = shared
        .options
        .interval
        .mul_f64(shared.options.jitter)
        .min(Duration::from_secs(2));
    tokio::select! {
        _ = tokio::time::sleep(spread.mul_f64(fastrand::f64())) => {}
        _ = stop.cancelled() => return,
    }
    let mut client: Option<(HubAccess, C::Hub)> = None;
    loop {
        let roster = roster_rx.borrow_and_update().clone();
        // The supervisor retires a hub that left the roster; until then, nothing to do.
        let Some(spec) = roster.hub(name.as_str()) else {
            stop.cancelled().await;
            return;
        };
        if !client
            .as_ref()
            .is_some_and(|(access, _)| same_access(access, &spec.access))
        {
            client = match shared.connect.connect(spec, stop) {
                Ok(c) => Some((spec.access.clone(), c)),
                Err(error) => {
                    tracing::error!(hub = %name, %error, "cannot set up the hub's client");
                    None
                }
            };
        }
        let permit = tokio::select! {
            permit = shared.permits.acquire() => permit,
            _ = stop.cancelled() => return,
        };
        let report = match &client {
            Some((_, hub)) => {
                let today = shared.clock.today();
                let desired = roster.desired_on(spec, today);
                let mut report = reconcile(spec, &desired, hub, Some(hub), stop).await;
                mark_expired(&mut report, &roster.expired_on(spec, today));
                report
            }
            None => setup_failure(
                spec,
                &HubError::Setup("cannot set up the hub's client (see the log)".into()),
            ),
        };
        drop(permit);
        if stop.is_cancelled() {
            // A run cut short by shutdown says nothing about the hub: what it changed
            // is audited, but it fires no alert, moves no metric, and makes nothing
            // ready.
            shared.audit(&report);
            return;
        }
        shared.record(&report);
        if first_pending.swap(false, Ordering::SeqCst) {
            shared.first_run_done();
        }
        let wait = jittered(shared.options.interval, shared.options.jitter);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = roster_rx.changed() => if changed.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}
