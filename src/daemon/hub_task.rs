//! One hub's task: wait for its turn (the interval with jitter, or at once when the
//! roster changes), take a permit from the concurrency bound, reconcile, record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::fights::{FightEvent, Fights, explain};
use super::state::{HubState, StateStore};
use super::{Connect, Shared};
use crate::hub::HubError;
use crate::name::{HubName, UserName};
use crate::plan::Action;
use crate::reconcile::{mark_expired, reconcile_with, setup_failure};
use crate::report::{ContestedReport, HubReport, ReversalReport};
use crate::roster::{HubAccess, HubSpec, Roster};

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
    let store = shared.options.state_dir.as_deref().map(StateStore::new);
    let mut state = match store.as_ref().map(|s| s.load(name.as_str())) {
        None => HubState::default(),
        Some(Ok(state)) => state,
        Some(Err(error)) => {
            tracing::warn!(hub = %name, %error, "cannot read the hub's state; starting afresh");
            HubState::default()
        }
    };
    let mut epoch = shared.fights_epoch.load(Ordering::SeqCst);
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
        let now_epoch = shared.fights_epoch.load(Ordering::SeqCst);
        if now_epoch != epoch {
            epoch = now_epoch;
            if !state.fights.users.is_empty() {
                tracing::info!(hub = %name, "SIGHUP: contested users and fight history cleared");
            }
            state.fights.clear();
        }
        let before = state.clone();
        let report = match &client {
            Some((_, hub)) => run_once(shared, &roster, spec, hub, &mut state.fights, stop).await,
            None => setup_failure(
                spec,
                &HubError::Setup("cannot set up the hub's client (see the log)".into()),
            ),
        };
        drop(permit);
        if state != before
            && let Some(store) = &store
            && let Err(error) = store.save(name.as_str(), &state)
        {
            tracing::warn!(hub = %name, %error, "cannot keep the hub's state (only memory of past runs is lost)");
        }
        if stop.is_cancelled() {
            // A run cut short by shutdown says nothing about the hub: it fires no
            // alert, moves no metric, and makes nothing ready.
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

/// One run of a hub that has a client: reconcile (leaving contested users alone), learn
/// the run's fights, mark expired entries, and close the run's audit lines (written
/// even while stopping: what was changed is recorded).
async fn run_once<C: Connect>(
    shared: &Shared<C>,
    roster: &Roster,
    spec: &HubSpec,
    hub: &C::Hub,
    fights: &mut Fights,
    stop: &CancellationToken,
) -> HubReport {
    let today = shared.clock.today();
    let desired = roster.desired_on(spec, today);
    let expired = roster.expired_on(spec, today);
    let journal = shared.audit.as_ref().map(|j| j.begin(spec, &expired));
    // Fight windows are read on the same clock as expiry.
    let now = unix_seconds(shared.clock.now());
    let mut events = Vec::new();
    let mut report = reconcile_with(
        spec,
        &desired,
        hub,
        Some(hub),
        journal.as_ref(),
        stop,
        &mut |plan| {
            events = fights.before_apply(now, &desired, plan);
            plan.hold(&fights.contested());
        },
    )
    .await;
    let applied: Vec<(UserName, Action)> = report
        .changes
        .iter()
        .filter(|c| c.applied)
        .map(|c| (UserName::new(&c.user), c.action))
        .collect();
    fights.after_apply(&desired, applied.iter().map(|(u, a)| (u, *a)));
    record_fights(&mut report, fights, &events);
    mark_expired(&mut report, &expired);
    if let Some(journal) = &journal {
        journal.finish(&mut report).await;
    }
    report
}

fn unix_seconds(now: std::time::SystemTime) -> u64 {
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Logs a run's fight events and lists the contested users in its report.
fn record_fights(report: &mut HubReport, fights: &Fights, events: &[FightEvent]) {
    let hub = report.name.to_string();
    let mut newly = std::collections::BTreeMap::new();
    for event in events {
        match event {
            FightEvent::Reversed {
                user,
                action,
                count,
            } => {
                tracing::warn!(hub = %hub, user = %user, action = %action, reversals = count, "something else undid the last change to this user");
                report.reversals.push(ReversalReport {
                    user: user.to_string(),
                    action: *action,
                    count: *count,
                });
            }
            FightEvent::Contested { user, action } => {
                let reason = explain(&hub, user.as_str(), *action);
                tracing::error!(hub = %hub, user = %user, "{reason}");
                newly.insert(user.as_str().to_string(), reason);
            }
            FightEvent::Cleared { user } => {
                tracing::info!(hub = %hub, user = %user, "the roster changed for a contested user: no longer contested");
            }
        }
    }
    report.contested = fights
        .users
        .iter()
        .filter_map(|(user, fight)| {
            let since = fight.contested_since?;
            let new = newly.contains_key(user);
            let reason = newly.remove(user).unwrap_or_else(|| {
                let action = report
                    .changes
                    .iter()
                    .find(|c| UserName::new(&c.user).as_str() == user)
                    .map_or(Action::Revoke, |c| c.action);
                explain(&hub, user, action)
            });
            Some(ContestedReport {
                user: user.clone(),
                since,
                new,
                reason,
            })
        })
        .collect();
}
