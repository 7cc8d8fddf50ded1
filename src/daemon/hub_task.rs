//! One hub's task: wait for its turn (the interval with jitter, or at once when the
//! roster changes), take a permit from the concurrency bound, reconcile, record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use std::collections::BTreeSet;

use super::fights::{FightEvent, Fights, explain};
use super::state::{HubState, StateStore};
use super::{Connect, Shared};
use crate::evidence::{Evidence, OwnChange, Reading};
use crate::hub::HubError;
use crate::name::{HubName, UserName};
use crate::plan::Action;
use crate::plan::Plan;
use crate::plan::provisional;
use crate::reconcile::{RunWith, keep_provisional, mark_expired, reconcile_with, setup_failure};
use crate::report::{ContestedReport, HubReport, ReversalReport};
use crate::roster::{HubAccess, HubSpec, LogConfig, Roster};
use crate::snapshot::HubSnapshot;

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
    let mut state = load_state(store.as_ref(), name);
    let mut epoch = shared.fights_epoch.load(Ordering::SeqCst);
    let mut evidence: Option<(LogConfig, Evidence)> = None;
    loop {
        let roster = roster_rx.borrow_and_update().clone();
        // The supervisor retires a hub that left the roster; until then, nothing to do.
        let Some(spec) = roster.hub(name.as_str()) else {
            stop.cancelled().await;
            break;
        };
        follow_log(spec, &mut evidence, &mut state);
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
            _ = stop.cancelled() => break,
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
            Some((_, hub)) => {
                let evidence = evidence.as_mut().map(|(_, e)| e);
                run_once(shared, &roster, spec, hub, &mut state, evidence, stop).await
            }
            None => setup_failure(
                spec,
                &HubError::Setup("cannot set up the hub's client (see the log)".into()),
            ),
        };
        drop(permit);
        if state != before {
            keep_state(store.as_ref(), name, &state);
        }
        if stop.is_cancelled() {
            // A run cut short by shutdown says nothing about the hub: it fires no
            // alert, moves no metric, and makes nothing ready.
            break;
        }
        shared.record(&report);
        if first_pending.swap(false, Ordering::SeqCst) {
            shared.first_run_done();
        }
        let wait = jittered(shared.options.interval, shared.options.jitter);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = roster_rx.changed() => if changed.is_err() { break },
            _ = stop.cancelled() => break,
        }
    }
    // Stopping: the log's lines still waiting for their request are settled with what
    // was read, so the next start, which reads on from here, has them in its ledger.
    if let Some((_, evidence)) = evidence.as_mut() {
        evidence.settle_pending();
        state.ledger = evidence.ledger().clone();
        keep_state(store.as_ref(), name, &state);
    }
}

/// The hub's state as the state dir keeps it; none kept, no state dir or a state that
/// cannot be read (a warning) is a fresh one.
fn load_state(store: Option<&StateStore>, name: &HubName) -> HubState {
    match store.map(|s| s.load(name.as_str())) {
        None => HubState::default(),
        Some(Ok(state)) => state,
        Some(Err(error)) => {
            tracing::warn!(hub = %name, %error, "cannot read the hub's state; starting afresh");
            HubState::default()
        }
    }
}

/// Writes the hub's state to the state dir, if there is one; a failure is a warning
/// (the state is memory of past runs).
fn keep_state(store: Option<&StateStore>, name: &HubName, state: &HubState) {
    if let Some(store) = store
        && let Err(error) = store.save(name.as_str(), state)
    {
        tracing::warn!(hub = %name, %error, "cannot keep the hub's state (only memory of past runs is lost)");
    }
}

/// One run of a hub that has a client: reconcile (leaving contested users alone), learn
/// the run's fights, mark expired entries, and close the run's audit lines (written
/// even while stopping: what was changed is recorded).
#[allow(clippy::too_many_arguments)]
async fn run_once<C: Connect>(
    shared: &Shared<C>,
    roster: &Roster,
    spec: &HubSpec,
    hub: &C::Hub,
    state: &mut HubState,
    mut evidence: Option<&mut Evidence>,
    stop: &CancellationToken,
) -> HubReport {
    let today = shared.clock.today();
    let desired = roster.desired_on(spec, today);
    let expired = roster.expired_on(spec, today);
    let journal = shared.audit.as_ref().map(|j| j.begin(spec, &expired));
    // Fight windows are read on the same clock as expiry.
    let now = unix_seconds(shared.clock.now());
    let mut events = Vec::new();
    let (fights, seen) = (&mut state.fights, &mut state.admins);
    let following_log = evidence.is_some();
    let records = &state.provisional;
    // The community is told a provisional administrator's end as early as of an
    // administrator's expiry.
    let warn_before = Duration::from_secs(
        u64::try_from(shared.options.expiry_warning_days.max(0)).unwrap_or(0) * 86_400,
    );
    let mut decision = None;
    let mut before_apply = |plan: &mut Plan, snapshot: &HubSnapshot| {
        let at = i64::try_from(now).unwrap_or(i64::MAX);
        decision = keep_provisional(plan, spec, &desired, snapshot, records, at, warn_before);
        events = fights.before_apply(now, &desired, plan);
        plan.hold(&fights.contested());
        let admins: BTreeSet<String> = snapshot
            .admin_names()
            .into_iter()
            .map(|n| n.as_str().to_string())
            .collect();
        if following_log && let Some(before) = seen.as_ref() {
            plan.await_log(&new_and_unlogged(plan, before));
        }
        *seen = Some(admins);
    };
    let with = RunWith {
        journal: journal.as_ref(),
        evidence: evidence.as_deref_mut(),
        before_apply: &mut before_apply,
    };
    let mut report = reconcile_with(spec, &desired, hub, Some(hub), with, stop).await;
    if let Some(decision) = decision {
        report.provisional = decision.records.values().cloned().collect();
        report.provisional_notices = decision.notices;
        report.provisional_community_wide = community_wide(shared, roster, spec, &decision.records);
        state.provisional = decision.records;
    }
    let applied: Vec<(UserName, Action)> = report
        .changes
        .iter()
        .filter(|c| c.applied)
        .map(|c| (UserName::new(&c.user), c.action))
        .collect();
    if let Some(evidence) = evidence {
        remember_own(evidence, &applied, now);
        state.log = evidence.position();
        state.ledger = evidence.ledger().clone();
        shared
            .metrics
            .log_usable(spec.name.as_str(), evidence.usable());
    }
    state
        .fights
        .after_apply(&desired, applied.iter().map(|(u, a)| (u, *a)));
    record_fights(&mut report, &state.fights, &events);
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
/// The users whose change is new since the last run (a revocation of someone who was
/// not admin then, a grant to someone who was) and whom the hub's log does not show
/// yet: the hub commits before it writes the request's line, so the next run looks
/// again before anything is done.
fn new_and_unlogged(plan: &Plan, before: &BTreeSet<String>) -> BTreeSet<UserName> {
    plan.changes
        .iter()
        .filter(|c| c.made_by.as_ref().is_none_or(|a| !a.is_known()))
        .filter(|c| match c.action {
            Action::Revoke => !before.contains(c.user.as_str()),
            Action::Grant => before.contains(c.user.as_str()),
            Action::Create => false,
        })
        .map(|c| c.user.clone())
        .collect()
}

/// The hub's log as the roster places it, followed from where the last run (or the
/// daemon before a restart) stopped; set up again when the roster moves it.
fn follow_log(spec: &HubSpec, evidence: &mut Option<(LogConfig, Evidence)>, state: &mut HubState) {
    let placed = evidence.as_ref().map(|(config, _)| config);
    if placed == spec.log.as_ref() {
        return;
    }
    *evidence = spec.log.as_ref().map(|config| {
        let position = state.log.take();
        let ledger = std::mem::take(&mut state.ledger);
        let evidence = Evidence::new(config, Reading::Follow, position, ledger);
        (config.clone(), evidence)
    });
}

/// The provisional administrators of `spec`'s hub whom the same person made admin on
/// every hub of its community (as far as the hubs' last runs know), after noting this
/// hub's `records` for the others.
fn community_wide<C>(
    shared: &Shared<C>,
    roster: &Roster,
    spec: &HubSpec,
    records: &provisional::Records,
) -> BTreeSet<String> {
    let Ok(mut known) = shared.provisional.lock() else {
        return BTreeSet::new();
    };
    known.insert(spec.name.as_str().to_string(), records.clone());
    let hubs: Vec<&str> = roster
        .hubs
        .iter()
        .filter(|h| h.community == spec.community)
        .map(|h| h.name.as_str())
        .collect();
    provisional::granted_on_every_hub(records, &known, &hubs)
}

/// Remembers the changes this run made, so the log's lines for them are known as this
/// tool's own (from its intents, never from the name in the log).
fn remember_own(evidence: &mut Evidence, applied: &[(UserName, Action)], now: u64) {
    for (user, action) in applied {
        evidence.ledger_mut().own(OwnChange {
            user: user.as_str().to_string(),
            made_admin: *action != Action::Revoke,
            at: i64::try_from(now).unwrap_or(i64::MAX),
        });
    }
}

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
                let reason = explain_with_log(report, &hub, user, *action);
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

/// The contested user's reason: the likely cause, and the actual one when the hub's log
/// says who undid the change.
fn explain_with_log(report: &HubReport, hub: &str, user: &UserName, action: Action) -> String {
    let likely = explain(hub, user.as_str(), action);
    let logged = report
        .changes
        .iter()
        .find(|c| &UserName::new(&c.user) == user)
        .and_then(|c| c.made_by.as_ref())
        .filter(|a| a.is_known());
    match logged {
        Some(attribution) => {
            let undone = match action {
                Action::Revoke => "made admin again",
                Action::Grant | Action::Create => "made not admin again",
            };
            format!(
                "The hub's log says: {undone} {}. {likely}",
                attribution.phrase()
            )
        }
        None => likely,
    }
}
