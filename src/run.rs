//! One reconcile of one hub, and one pass over many: read → plan → apply → report.
//!
//! Used by the one-shot modes and by each tick of the daemon. Hubs fail
//! independently: an error on one hub becomes that hub's report, never the run's.

use futures::StreamExt;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::hub::{Created, HubClient, HubError};
use crate::name::UserName;
use crate::plan::{Action, Change, HubSnapshot, Plan, Standing, plan};
use crate::report::{ChangeReport, HubReport, Mode, RunReport, Status};
use crate::roster::{HubSpec, Policy, Roster};

/// Reads `spec`'s hub, plans, and (unless `mode` is a dry run) applies the plan.
///
/// Once `stop` is cancelled no further change is started; the ones left are reported
/// as skipped.
pub async fn reconcile(
    roster: &Roster,
    spec: &HubSpec,
    client: &HubClient,
    mode: Mode,
    stop: &CancellationToken,
) -> HubReport {
    let started = Instant::now();
    let requests_before = client.requests_sent();
    let desired = roster.desired(spec);
    let declared = desired.len();
    let mut report = HubReport {
        name: spec.name.clone(),
        community: spec.community.clone(),
        policy: spec.policy,
        max_revocations: spec.max_revocations,
        declared,
        status: Status::InSync,
        version: None,
        users: None,
        changes: Vec::new(),
        error: None,
        error_kind: None,
        requests: 0,
        duration_seconds: 0.0,
        warnings: Vec::new(),
    };
    let finish = |mut report: HubReport| {
        report.requests = client.requests_sent() - requests_before;
        report.duration_seconds = started.elapsed().as_secs_f64();
        report
    };

    let keep = |name: &UserName| desired.contains_key(name);
    let snapshot = match client.snapshot(&keep).await {
        Ok(snapshot) => snapshot,
        Err(error) => {
            tracing::error!(hub = %spec.name, community = %spec.community, error = %error, "cannot read the hub; nothing is changed on it this run");
            report.status = Status::Error;
            report.error_kind = Some(error.kind().to_string());
            report.error = Some(error.to_string());
            return finish(report);
        }
    };
    report.version = Some(snapshot.version.clone());
    report.users = Some(snapshot.total_users);

    let plan = plan(spec, &desired, &snapshot);
    report.warnings = adoption_warnings(&plan, &snapshot, spec, mode);
    for warning in &report.warnings {
        tracing::warn!(hub = %spec.name, "{warning}");
    }

    report.changes = plan
        .changes
        .iter()
        .map(|c| ChangeReport {
            action: c.action,
            user: c.user.clone(),
            role: c.role,
            added_by: c.added_by.clone(),
            applied: false,
            skipped: match mode {
                Mode::DryRun => Some("dry run".to_string()),
                _ => plan.why_not_applied(c).map(str::to_string),
            },
            error: None,
        })
        .collect();

    if mode != Mode::DryRun && plan.to_apply().next().is_some() {
        let owner_not_admin = snapshot
            .token_owner
            .as_ref()
            .filter(|o| o.admin == Some(false));
        if let Some(owner) = owner_not_admin {
            let error = format!(
                "the token belongs to {} {}, which is not an admin: it can read the hub but not grant or revoke admin (enough for --dry-run; give it the admin role to sync)",
                owner.kind, owner.name
            );
            tracing::error!(hub = %spec.name, error = %error, "cannot apply the plan");
            report.status = Status::Error;
            report.error_kind = Some("not_admin".to_string());
            report.error = Some(error);
            return finish(report);
        }
        apply(client, &plan, &mut report.changes, stop).await;
    }

    for change in report
        .changes
        .iter()
        .filter(|c| c.action == Action::Revoke && !c.applied)
    {
        let why = change.skipped.as_deref().unwrap_or("not revoked");
        tracing::warn!(hub = %plan.hub, community = %plan.community, user = %change.user, reason = why, "undeclared admin left in place");
    }
    report.status = status(&plan, &report.changes);
    // A dry run changes nothing, so the brake cannot fail it: it warns instead.
    if let Some(brake) = plan.brake.filter(|_| mode != Mode::DryRun) {
        let error = format!(
            "{} revocations exceed max_revocations {}; none was made this run (raise max_revocations, or fix the roster)",
            brake.revocations, brake.max_revocations
        );
        tracing::error!(hub = %spec.name, error = %error, "revocation brake");
        report.status = Status::Error;
        report.error_kind = Some("brake".to_string());
        report.error = Some(error);
    } else if report.changes.iter().any(|c| c.error.is_some()) {
        report.error_kind = Some("apply".to_string());
        report.error = Some("some changes failed; see above".to_string());
    }
    finish(report)
}

/// What suggests that the roster does not fit the hub: every admin it has would be
/// revoked (the wrong hub, or names spelled differently), or a dry run shows more
/// revocations than the brake allows. The moment a first adoption goes wrong.
fn adoption_warnings(
    plan: &Plan,
    snapshot: &HubSnapshot,
    spec: &HubSpec,
    mode: Mode,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let revocations = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Revoke)
        .count();
    let admins = snapshot.users.iter().filter(|u| u.admin).count();
    if revocations > 0 && revocations == admins {
        warnings.push(format!(
            "every admin the hub has now ({admins}) would be revoked: is api_url the right hub, and are the names spelled as the hub spells them? `jupyterhub-admin-sync dump` lists the hub's admins"
        ));
    }
    if mode == Mode::DryRun
        && spec.policy == Policy::Enforce
        && revocations > spec.max_revocations as usize
    {
        warnings.push(format!(
            "{revocations} revocations exceed max_revocations {}: an enforcing run would revoke none and report an error",
            spec.max_revocations
        ));
    }
    warnings
}

fn status(plan: &Plan, changes: &[ChangeReport]) -> Status {
    if changes.iter().any(|c| c.error.is_some()) {
        Status::Error
    } else if plan.is_empty() {
        Status::InSync
    } else if changes.iter().any(ChangeReport::outstanding) {
        Status::Drift
    } else {
        Status::Changed
    }
}

/// Makes the plan's changes in order (creates, grants, then revokes), logging each
/// with who added whom, and records the result in `reports` (same order as
/// `plan.changes`).
async fn apply(
    client: &HubClient,
    plan: &Plan,
    reports: &mut [ChangeReport],
    stop: &CancellationToken,
) {
    // Once the hub stops answering (retries spent), the rest waits for the next run
    // rather than each change spending the retry budget again.
    let mut hub_down = false;
    for (change, report) in plan.changes.iter().zip(reports.iter_mut()) {
        if !change.apply {
            continue;
        }
        if stop.is_cancelled() {
            report.skipped = Some("shutting down".to_string());
            continue;
        }
        if hub_down {
            report.skipped = Some("not tried: the hub stopped answering".to_string());
            continue;
        }
        let result = match change.action {
            Action::Create => client.create_admin(&change.hub_name).await.map(Some),
            Action::Grant => client.set_admin(&change.hub_name, true).await.map(|_| None),
            Action::Revoke => client
                .set_admin(&change.hub_name, false)
                .await
                .map(|_| None),
        };
        match result {
            Ok(created) => {
                report.applied = true;
                log_applied(plan, change, created);
            }
            Err(error) => {
                tracing::error!(
                    hub = %plan.hub,
                    community = %plan.community,
                    user = %change.user,
                    action = %change.action,
                    error = %error,
                    "change failed"
                );
                hub_down = matches!(error, HubError::Transport { .. });
                report.error = Some(error.to_string());
            }
        }
    }
}

fn log_applied(plan: &Plan, change: &Change, created: Option<Created>) {
    let added_by = change
        .added_by
        .as_ref()
        .map(UserName::as_str)
        .unwrap_or("-");
    let message = match (change.action, created) {
        (Action::Create, Some(Created::Existed)) => {
            "granted admin (the user appeared since the listing)"
        }
        (Action::Create, _) => "created admin",
        (Action::Grant, _) => "granted admin",
        (Action::Revoke, _) => "revoked admin",
    };
    if change.role == Standing::Undeclared {
        tracing::info!(hub = %plan.hub, user = %change.user, community = %plan.community, role = %change.role, "{message}");
    } else {
        tracing::info!(hub = %plan.hub, user = %change.user, added_by = %added_by, community = %plan.community, role = %change.role, "{message}");
    }
}

/// Reconciles every hub in `targets`, at most `concurrency` at a time; the report
/// keeps the order of `targets`.
pub async fn run_all(
    roster: &Roster,
    targets: &[(HubSpec, HubClient)],
    mode: Mode,
    concurrency: usize,
) -> RunReport {
    let never = CancellationToken::new();
    // Unordered, so that one slow hub does not hold back the start of the others.
    let mut done: Vec<(usize, HubReport)> = futures::stream::iter(targets.iter().enumerate())
        .map(|(i, (spec, client))| {
            let never = &never;
            async move { (i, reconcile(roster, spec, client, mode, never).await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    RunReport {
        mode,
        hubs: done.into_iter().map(|(_, report)| report).collect(),
    }
}

/// The report of a hub that could not even be set up (its client failed to build).
pub fn setup_failure(spec: &HubSpec, error: &str) -> HubReport {
    HubReport {
        name: spec.name.clone(),
        community: spec.community.clone(),
        policy: spec.policy,
        max_revocations: spec.max_revocations,
        declared: 0,
        status: Status::Error,
        version: None,
        users: None,
        changes: Vec::new(),
        error: Some(error.to_string()),
        error_kind: Some("setup".to_string()),
        requests: 0,
        duration_seconds: 0.0,
        warnings: Vec::new(),
    }
}
