//! One reconcile of one hub, and one pass over many: read → plan → apply → report.
//!
//! Used by the one-shot modes and by each run of the daemon. [`reconcile`] takes a
//! reader and, unless this is a dry run, a writer: a dry run is simply no writer.
//! Hubs fail independently: an error on one hub becomes that hub's report, never the
//! run's.

use futures::StreamExt;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditError, HubJournal, Journal};
use crate::date::{Clock, SystemClock};
use crate::evidence::Unknown;
use crate::evidence::source::Reading;
use crate::evidence::{Attribution, Evidence, Ledger, Usable};
use crate::hub::{Created, HubError, HubRead, HubWrite, Keep};
use crate::name::UserName;
use crate::outcome::{ErrorKind, Skipped};
use crate::plan::{Action, Change, Plan, Standing, plan, provisional};
use crate::report::{
    BrakeReport, ChangeReport, HubReport, Mode, NamelessReport, RunReport, Status,
};
use crate::roster::{Desired, HubSpec, Roster};
use crate::snapshot::{AdminGroups, HubSnapshot};

/// An empty report of `spec`'s hub, to be filled in by a run.
pub fn blank_report(spec: &HubSpec, declared: usize) -> HubReport {
    HubReport::blank(
        spec.name.clone(),
        &spec.community,
        spec.settings.rules,
        declared,
    )
}

/// Reads `spec`'s hub, plans from `desired`, and applies the plan with `writer`
/// (none: a dry run, which changes nothing).
///
/// Once `stop` is cancelled no further change is started; the ones left are reported
/// as skipped.
pub async fn reconcile<R: HubRead, W: HubWrite>(
    spec: &HubSpec,
    desired: &Desired,
    reader: &R,
    writer: Option<&W>,
    stop: &CancellationToken,
) -> HubReport {
    let mut nothing = |_: &mut Plan, _: &HubSnapshot| {};
    let with = RunWith {
        journal: None,
        evidence: None,
        before_apply: &mut nothing,
    };
    reconcile_with(spec, desired, reader, writer, with, stop).await
}

/// What a run of one hub works with besides the hub itself.
pub struct RunWith<'a> {
    /// The audit trail, written ahead: no change is made without its intent line
    /// (none: no `--audit-log`).
    pub journal: Option<&'a HubJournal>,
    /// The hub's own log, read while the hub is, to say who made each change (none:
    /// the roster names no log for the hub).
    pub evidence: Option<&'a mut Evidence>,
    /// Sees and amends the plan, with the snapshot it came from, before anything is
    /// applied: the daemon holds the changes of contested users there
    /// ([`crate::daemon::fights`]), and of users whose change the hub's log does not
    /// show yet.
    pub before_apply: &'a mut (dyn FnMut(&mut Plan, &HubSnapshot) + Send),
}

impl std::fmt::Debug for RunWith<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunWith")
            .field("journal", &self.journal.is_some())
            .field("evidence", &self.evidence)
            .finish_non_exhaustive()
    }
}

/// [`reconcile`] with the audit trail, the hub's log and a look at the plan
/// ([`RunWith`]).
pub async fn reconcile_with<R: HubRead, W: HubWrite>(
    spec: &HubSpec,
    desired: &Desired,
    reader: &R,
    writer: Option<&W>,
    with: RunWith<'_>,
    stop: &CancellationToken,
) -> HubReport {
    let RunWith {
        journal,
        mut evidence,
        before_apply,
    } = with;
    let started = Instant::now();
    let requests_before = reader.requests_sent();
    let mut report = blank_report(spec, desired.len());
    let finish = |mut report: HubReport| {
        report.requests = reader.requests_sent() - requests_before;
        report.duration_seconds = started.elapsed().as_secs_f64();
        report
    };

    // The hub and its log are read at the same time.
    let (snapshot, log_warning) = tokio::join!(
        read(spec, desired, reader),
        catch_up(evidence.as_deref_mut())
    );
    report.warnings.extend(log_warning);
    let snapshot = match snapshot {
        Ok(snapshot) => snapshot,
        Err(error) => {
            tracing::error!(hub = %spec.name, community = %spec.community, error = %error, "cannot read the hub; nothing is changed on it this run");
            report.fail(error.kind(), error.to_string());
            return finish(report);
        }
    };
    report.version = Some(snapshot.version.clone());
    report.users = Some(snapshot.total_users);
    if let Some(evidence) = evidence.as_deref_mut() {
        report.warnings.extend(confirm(evidence, &snapshot).await);
    }
    // What an earlier run left without an outcome is judged by what was just read.
    let mut audit_error = settle(journal, &snapshot).await;

    let mut plan = plan(&spec.settings.rules, desired, &snapshot);
    if let Some(evidence) = evidence.as_deref() {
        attribute(&mut plan, evidence.ledger());
        // Where who made an admin decides (ui_grants), a change whose lines the log has
        // not settled yet waits for them.
        if spec.settings.ui_grants.is_some() {
            plan.await_log(&evidence.pending_users());
        }
    }
    before_apply(&mut plan, &snapshot);
    describe(spec, &plan, &snapshot, &mut report, writer.is_none());
    if let Some(evidence) = evidence.as_deref() {
        describe_nameless(&mut report, evidence.ledger());
    }
    if writer.is_none() {
        check_against_the_hub(reader, &snapshot, &mut report).await;
    }
    for warning in &report.warnings {
        tracing::warn!(hub = %spec.name, "{warning}");
    }
    report.changes = change_reports(&plan, writer.is_none());

    if let Some(writer) = writer
        && plan.to_apply().next().is_some()
    {
        if let Err(error) = owner_may_apply(&snapshot) {
            tracing::error!(hub = %spec.name, error = %error, "cannot apply the plan");
            report.fail(ErrorKind::NotAdmin, error);
            return finish(report);
        }
        let unrecorded = apply(writer, journal, spec, &plan, &mut report.changes, stop).await;
        audit_error = audit_error.or(unrecorded);
    }
    conclude(spec, &plan, &mut report, audit_error, writer.is_some());
    finish(report)
}

/// The hub's log read up to now (while the hub is read): a warning when it cannot be.
async fn catch_up(evidence: Option<&mut Evidence>) -> Option<String> {
    let error = evidence?.catch_up().await.err()?;
    Some(format!(
        "who made each change cannot be said this run: {error}"
    ))
}

/// Once the hub is read, the lines its reading added, and what they say of the source:
/// a warning when it does not show this tool's own requests.
async fn confirm(evidence: &mut Evidence, snapshot: &HubSnapshot) -> Option<String> {
    let owner = snapshot.token_owner.as_ref().map(|o| o.name.as_str());
    // A source that could not be read at all was said already.
    evidence.confirm(owner).await.ok()?;
    match evidence.usable() {
        Usable::No(why) => Some(format!("who made each change cannot be said: {why}")),
        Usable::Yes | Usable::Unknown => None,
    }
}

/// Who made what each change would undo, as the hub's log shows it: for a revocation,
/// who made the user admin (by flag, or through their admin group); for a grant, who
/// took admin away. A change the log shows nothing of is unknown.
fn attribute(plan: &mut Plan, ledger: &Ledger) {
    for change in plan.changes.iter_mut() {
        let found = match change.action {
            Action::Create => continue,
            Action::Grant => ledger.who_made(&change.user, false, &[]),
            Action::Revoke => {
                let groups: Vec<&str> = change
                    .paths
                    .groups
                    .iter()
                    .map(|g| g.group.as_str())
                    .collect();
                ledger.who_made(&change.user, true, &groups)
            }
        };
        change.made_by = Some(found.unwrap_or_else(|| Attribution::unknown(Unknown::NotInLog)));
    }
}

/// A nameless admin is named by the edit that erased the name, when the hub's log shows
/// as many such edits as there are nameless admins.
fn describe_nameless(report: &mut HubReport, ledger: &Ledger) {
    let erasures = ledger.erasures();
    if erasures.is_empty() || erasures.len() != report.nameless.len() {
        return;
    }
    for (nameless, event) in report.nameless.iter_mut().zip(erasures) {
        let name = event.target.user().unwrap_or_default();
        nameless.reason = format!(
            "{} (the hub's log: made admin {} in an edit of {}, which erased the name)",
            nameless.reason,
            Attribution {
                made_by: event.made_by.clone(),
                via: event.via,
                at: Some(event.at),
            }
            .phrase(),
            crate::name::printable(name)
        );
    }
}

/// Decides which undeclared admins of `plan` are provisional administrators
/// ([`crate::plan::provisional`]) given the `records` kept so far, at `now` (Unix
/// seconds), and plans again leaving them alone. None when the hub keeps no grants made
/// in it (`ui_grants` unset).
pub fn keep_provisional(
    plan: &mut Plan,
    spec: &HubSpec,
    desired: &Desired,
    snapshot: &HubSnapshot,
    records: &provisional::Records,
    now: i64,
    warn_before: std::time::Duration,
) -> Option<provisional::Decision> {
    let keep_for = spec.settings.ui_grants?;
    let keeping = provisional::Keeping {
        keep_for,
        warn_before,
    };
    let entitled = |name: &UserName| desired.contains_key(name);
    let decision = provisional::decide(records, plan, &entitled, now, keeping);
    replan_keeping(plan, spec, desired, snapshot, &decision.keep);
    Some(decision)
}

/// Plans again leaving the undeclared admins in `keep` alone (provisional
/// administrators), keeping what the first plan learned of each change it still has.
fn replan_keeping(
    plan: &mut Plan,
    spec: &HubSpec,
    desired: &Desired,
    snapshot: &HubSnapshot,
    keep: &std::collections::BTreeSet<UserName>,
) {
    if keep.is_empty() {
        return;
    }
    let mut again = crate::plan::plan_keeping(&spec.settings.rules, desired, snapshot, keep);
    for change in again.changes.iter_mut() {
        change.made_by = plan
            .changes
            .iter()
            .find(|c| c.user == change.user && c.action == change.action)
            .and_then(|c| c.made_by.clone());
    }
    again.await_log(&plan.awaiting_log);
    *plan = again;
}

/// The hub's snapshot: every admin by any path, and the declared users.
async fn read<R: HubRead>(
    spec: &HubSpec,
    desired: &Desired,
    reader: &R,
) -> Result<HubSnapshot, HubError> {
    let declared = |name: &UserName| desired.contains_key(name);
    let keep = Keep {
        user: &declared,
        admin_roles: &spec.settings.admin_roles,
    };
    reader.snapshot(&keep).await
}

/// What the report says of the hub besides its changes: signs that the roster may not
/// fit it, paths to admin that could not be checked, admins without a name.
fn describe(
    spec: &HubSpec,
    plan: &Plan,
    snapshot: &HubSnapshot,
    report: &mut HubReport,
    dry_run: bool,
) {
    report
        .warnings
        .extend(adoption_warnings(plan, snapshot, dry_run));
    report.warnings.extend(unchecked_paths(spec, snapshot));
    report.groups_checked = matches!(snapshot.admin_groups, AdminGroups::Read(_));
    report.nameless = plan
        .nameless
        .iter()
        .map(|n| NamelessReport::new(n, &spec.name))
        .collect();
}

/// A dry run is where the roster is checked against the hub: say whether the hub's
/// authenticator may own the admin flag, and whether its admin page erases names.
async fn check_against_the_hub<R: HubRead>(
    reader: &R,
    snapshot: &HubSnapshot,
    report: &mut HubReport,
) {
    report.authenticator = reader.authenticator().await;
    if let Some(warning) = report
        .authenticator
        .as_ref()
        .and_then(|a| a.warning(&snapshot.version))
    {
        report.warnings.push(warning);
    }
    report
        .warnings
        .extend(admin_page_warning(&snapshot.version));
}

/// Each planned change as the report shows it, before anything is applied.
fn change_reports(plan: &Plan, dry_run: bool) -> Vec<ChangeReport> {
    plan.changes
        .iter()
        .map(|c| ChangeReport {
            action: c.action,
            user: c.hub_name.clone(),
            role: c.role,
            paths: c.paths.clone(),
            made_by: c.made_by.clone(),
            added_by: c.added_by.clone(),
            person: c.person.clone(),
            applied: false,
            skipped: if dry_run {
                Some(Skipped::DryRun)
            } else {
                plan.why_not_applied(c)
            },
            error: None,
            expired: None,
        })
        .collect()
}

/// Only an admin may change anyone's admin flag: a token whose owner the hub says is
/// not one can read the hub but not sync it.
fn owner_may_apply(snapshot: &HubSnapshot) -> Result<(), String> {
    match snapshot
        .token_owner
        .as_ref()
        .filter(|o| o.admin == Some(false))
    {
        Some(owner) => Err(format!(
            "the token belongs to {} {}, which is not an admin: it can read the hub but not grant or revoke admin (enough for --dry-run; give it the admin role to sync)",
            owner.kind_str(),
            owner.name
        )),
        None => Ok(()),
    }
}

/// The run's status, and its error: an audit line that could not be written first
/// (no change is made without one), then the brake (which only fails a run that could
/// apply), then changes that failed.
fn conclude(
    spec: &HubSpec,
    plan: &Plan,
    report: &mut HubReport,
    audit_error: Option<AuditError>,
    applying: bool,
) {
    for change in report
        .changes
        .iter()
        .filter(|c| c.action == Action::Revoke && !c.applied)
    {
        let why = change.skipped.map_or("not revoked", Skipped::as_str);
        tracing::warn!(hub = %spec.name, community = %spec.community, user = %change.user, reason = why, "undeclared admin left in place");
    }
    report.status = status(plan, &report.changes);
    // A dry run changes nothing, so the brake cannot fail it: it warns instead.
    report.brake = plan.brake.map(BrakeReport::from);
    if let Some(error) = audit_error {
        tracing::error!(hub = %spec.name, community = %spec.community, %error, "no change is made without its audit line");
        report.fail(ErrorKind::Audit, error.to_string());
    } else if let Some(brake) = plan.brake.filter(|_| applying) {
        let error = format!(
            "{brake}; none was made this run (check the plan with --dry-run, fix the roster, or let a reviewed plan through once with --once --allow-revocations {}={})",
            spec.name, brake.revocations
        );
        tracing::error!(hub = %spec.name, limit = brake.limit.name(), revocations = brake.revocations, allowed = brake.limit.allowed(), error = %error, "revocation brake");
        report.fail(ErrorKind::Brake, error);
    } else if report.changes.iter().any(|c| c.error.is_some()) {
        report.error_kind = Some(ErrorKind::Apply);
        report.error = Some("some changes failed; see above".to_string());
    }
}

/// Settles, before any change, the intents an earlier run of the hub left without an
/// outcome (see [`crate::audit`]); the error that keeps them unsettled.
async fn settle(journal: Option<&HubJournal>, snapshot: &HubSnapshot) -> Option<AuditError> {
    journal?.settle(snapshot).await.err()
}

/// What suggests that the roster does not fit the hub: every admin it has would be
/// revoked (the wrong hub, or names spelled differently), or a dry run shows more
/// revocations than the brake allows. The moment a first adoption goes wrong.
fn adoption_warnings(plan: &Plan, snapshot: &HubSnapshot, dry_run: bool) -> Vec<String> {
    let mut warnings = Vec::new();
    let revocations = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Revoke)
        .count();
    let admins = snapshot.paths().values().filter(|p| p.is_admin()).count();
    if revocations > 0 && revocations == admins {
        warnings.push(format!(
            "every admin the hub has now ({admins}) would be revoked: is api_url the right hub, and are the names spelled as the hub spells them? `jupyterhub-admin-sync dump` lists the hub's admins"
        ));
    }
    if let Some(brake) = plan.brake.filter(|_| dry_run) {
        warnings.push(format!(
            "{brake}: an enforcing run would revoke none and report an error"
        ));
    }
    warnings
}

/// JupyterHub 6.1's admin page erases the name of a user edited with "Edit User"
/// (the same-name PATCH leaves `new_name` unset, which the handler then writes): said
/// once per dry run, since representatives work in that page.
fn admin_page_warning(version: &str) -> Option<String> {
    version.trim().starts_with("6.1.").then(|| format!(
        "JupyterHub {version}'s admin page erases a user's name when Edit User is applied (the user stays, nameless, and cannot be changed by name): change admins with Add Users or the API until the hub is upgraded"
    ))
}

/// Paths to admin this run could not see: groups the token may not read, and roles held
/// directly when the token may not read users' roles and the roster names roles
/// besides `admin`. Said, never a silent "in sync".
fn unchecked_paths(spec: &HubSpec, snapshot: &HubSnapshot) -> Vec<String> {
    let mut warnings = Vec::new();
    if let AdminGroups::NotChecked(why) = &snapshot.admin_groups {
        warnings.push(format!(
            "admin through groups was not checked: {why}; members of a group holding the admin role are admins whatever their flag says"
        ));
    }
    let other_roles: Vec<&str> = spec
        .settings
        .admin_roles
        .iter()
        .map(String::as_str)
        .filter(|r| *r != crate::hub::ADMIN_ROLE)
        .collect();
    if !snapshot.roles_checked && !other_roles.is_empty() {
        warnings.push(format!(
            "admin through roles held directly ({}) was not checked: the token may not read users' roles (it needs read:roles:users, which the admin role has)",
            other_roles.join(", ")
        ));
    }
    warnings
}

fn status(plan: &Plan, changes: &[ChangeReport]) -> Status {
    if changes.iter().any(|c| c.error.is_some()) {
        Status::Error
    } else if plan.is_empty() {
        Status::InSync
    } else if changes.iter().any(ChangeReport::outstanding) || !plan.nameless.is_empty() {
        Status::Drift
    } else {
        Status::Changed
    }
}

/// Makes the plan's changes in order (creates, grants, then revokes), logging each
/// with who added whom, and records the result in `reports` (same order as
/// `plan.changes`). With a `journal`, each change's intent is written (and synced)
/// before it and its outcome after; a change whose intent cannot be written is not
/// made, nor any after it, and the audit error is returned.
async fn apply<W: HubWrite>(
    writer: &W,
    journal: Option<&HubJournal>,
    spec: &HubSpec,
    plan: &Plan,
    reports: &mut [ChangeReport],
    stop: &CancellationToken,
) -> Option<AuditError> {
    // Once the hub stops answering (retries spent), the rest waits for the next run
    // rather than each change spending the retry budget again.
    let mut hub_down = false;
    let mut unrecorded: Option<AuditError> = None;
    for (change, report) in plan.changes.iter().zip(reports.iter_mut()) {
        if !change.apply {
            continue;
        }
        if stop.is_cancelled() {
            report.skipped = Some(Skipped::ShuttingDown);
            continue;
        }
        if hub_down {
            report.skipped = Some(Skipped::HubStoppedAnswering);
            continue;
        }
        if unrecorded.is_some() {
            report.skipped = Some(Skipped::NotRecorded);
            continue;
        }
        // No record, no change.
        let intent = match journal {
            Some(journal) => match journal.intent(change).await {
                Ok(intent) => Some(intent),
                Err(error) => {
                    report.error = Some(format!("not made: {error}"));
                    unrecorded = Some(error);
                    continue;
                }
            },
            None => None,
        };
        let result = match change.action {
            Action::Create => writer.create_admin(&change.hub_name).await.map(Some),
            Action::Grant => writer.set_admin(&change.hub_name, true).await.map(|_| None),
            Action::Revoke => revoke(writer, change).await.map(|_| None),
        };
        if let (Some(journal), Some(intent)) = (journal, intent)
            && let Err(error) = journal.outcome(intent, result.as_ref().map(|_| ()))
        {
            unrecorded = Some(error);
        }
        match result {
            Ok(created) => {
                report.applied = true;
                log_applied(spec, change, created);
            }
            Err(HubError::GroupsManaged { path, .. }) => {
                tracing::warn!(hub = %spec.name, community = %spec.community, user = %change.hub_name, %path, "the authenticator manages groups: the user stays in the admin group");
                report.skipped = Some(Skipped::GroupsManaged);
            }
            Err(error) => {
                tracing::error!(
                    hub = %spec.name,
                    community = %spec.community,
                    user = %change.hub_name,
                    action = %change.action,
                    error = %error,
                    "change failed"
                );
                hub_down = matches!(error, HubError::Transport { .. });
                report.error = Some(error.to_string());
            }
        }
    }
    unrecorded
}

/// Takes every removable path to admin away: the flag, then each admin group. Stops at
/// the first failure (the rest is tried again next run).
async fn revoke<W: HubWrite>(writer: &W, change: &Change) -> Result<(), HubError> {
    if change.paths.flag {
        writer.set_admin(&change.hub_name, false).await?;
    }
    for group in &change.paths.groups {
        writer
            .remove_from_group(&group.group, &change.hub_name)
            .await?;
    }
    Ok(())
}

fn log_applied(spec: &HubSpec, change: &Change, created: Option<Created>) {
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
        let paths = change.paths.to_string();
        tracing::info!(hub = %spec.name, user = %change.hub_name, community = %spec.community, role = %change.role, paths, "{message}");
    } else {
        let person = change.person.as_ref().map(UserName::as_str);
        tracing::info!(hub = %spec.name, user = %change.hub_name, person, added_by = %added_by, community = %spec.community, role = %change.role, "{message}");
    }
}

/// Runs `each` for every target, at most `concurrency` at a time, and returns the
/// results in the order of `targets`. Unordered while running, so that one slow hub
/// does not hold back the start of the others.
pub async fn each_hub<'a, C, T, F, Fut>(
    targets: &'a [(HubSpec, C)],
    concurrency: usize,
    each: F,
) -> Vec<T>
where
    F: Fn(&'a HubSpec, &'a C) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut done: Vec<(usize, T)> = futures::stream::iter(targets.iter().enumerate())
        .map(|(i, (spec, client))| {
            let run = each(spec, client);
            async move { (i, run.await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}

/// What a one-shot run works with besides the hubs.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneShot<'a> {
    /// The audit trail (`--once --audit-log`).
    pub journal: Option<&'a Journal>,
    /// The daemon's records of provisional administrators, read from its state
    /// (`--state-dir`); none: on a hub with `ui_grants`, the daemon decides.
    pub kept: Option<&'a provisional::ByHub>,
}

/// A one-shot run of [`reconcile`] against the roster as it stands today (by the
/// machine's clock): administrators whose entry expired are not declared, and their
/// revocations are marked as expired. With a `journal`, the run is written to the
/// audit trail. Nothing stops it half-way (the daemon's runs go through
/// [`reconcile_with`] with its shutdown token).
pub async fn reconcile_today<R: HubRead, W: HubWrite>(
    roster: &Roster,
    spec: &HubSpec,
    reader: &R,
    writer: Option<&W>,
    with: OneShot<'_>,
) -> HubReport {
    let OneShot { journal, kept } = with;
    let today = SystemClock.today();
    let desired = roster.desired_on(spec, today);
    let expired = roster.expired_on(spec, today);
    let journal = journal.map(|j| j.begin(spec, &expired));
    // A one-shot run reads the hub's whole log once: the log as read decides.
    let mut evidence = spec
        .log
        .as_ref()
        .map(|log| Evidence::new(log, Reading::Once, None, Ledger::default()));
    // Provisional administrators: the daemon's records (`kept`, read from its state)
    // and the grants this run's reading of the hub's log shows; without the records,
    // no undeclared admin is revoked on the hub (the daemon decides).
    let now = jiff::Timestamp::now().as_second();
    let none = provisional::Records::new();
    let records = kept
        .and_then(|k| k.get(spec.name.as_str()))
        .unwrap_or(&none);
    let mut decision = None;
    let mut keep = |plan: &mut Plan, snapshot: &HubSnapshot| {
        let zero = std::time::Duration::ZERO;
        decision = keep_provisional(plan, spec, &desired, snapshot, records, now, zero);
        if decision.is_some() && kept.is_none() {
            plan.leave_to_the_daemon();
        }
    };
    let with = RunWith {
        journal: journal.as_ref(),
        evidence: evidence.as_mut(),
        before_apply: &mut keep,
    };
    let never = CancellationToken::new();
    let mut report = reconcile_with(spec, &desired, reader, writer, with, &never).await;
    if let Some(decision) = decision {
        report.provisional = decision.records.into_values().collect();
        report.provisional_notices = decision.notices;
    }
    mark_expired(&mut report, &expired);
    if let Some(journal) = &journal {
        journal.finish(&mut report).await;
    }
    report
}

/// Reconciles every hub in `targets` (a dry run when `mode` is [`Mode::DryRun`]), at
/// most `concurrency` at a time, with the audit trail and the daemon's records `with`;
/// the report keeps the order of `targets`.
pub async fn run_all<C: HubRead + HubWrite>(
    roster: &Roster,
    targets: &[(HubSpec, C)],
    mode: Mode,
    concurrency: usize,
    with: OneShot<'_>,
) -> RunReport {
    let hubs = each_hub(targets, concurrency, |spec, client| async move {
        let writer = (mode != Mode::DryRun).then_some(client);
        reconcile_today(roster, spec, client, writer, with).await
    })
    .await;
    RunReport { mode, hubs }
}

/// Marks the revocations of administrators whose `expires` date has passed: the
/// report, the audit line and the news then say it expired, and who had added them.
pub fn mark_expired(report: &mut HubReport, expired: &Desired) {
    for change in report
        .changes
        .iter_mut()
        .filter(|c| c.action == Action::Revoke)
    {
        if let Some(d) = expired.get(&UserName::new(&change.user)) {
            change.expired = d.expires.map(|day| day.to_string());
            change.added_by = d.added_by.clone();
            change.person = d.person.clone();
        }
    }
}

/// The report of a hub that could not even be set up (its client failed to build).
pub fn setup_failure(spec: &HubSpec, error: &HubError) -> HubReport {
    let mut report = blank_report(spec, 0);
    report.fail(ErrorKind::Setup, error.to_string());
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::memory::{MemoryHub, Write};
    use crate::plan::DriftKind;
    use crate::roster::Roster;

    const ROSTER: &str = "engineers: [{name: eng-eve}]
communities:
  - name: college
    representatives: [{name: rep-bob}]
    administrators:
      - {name: jo.doe@college.example.edu, added_by: rep-bob}
      - {name: carol, added_by: rep-bob}
    hubs:
      - {name: college-a, api_url: 'http://college-a.invalid/hub/api', token_env: T, max_revocations: 3}
";

    fn roster() -> Roster {
        Roster::parse_bytes(std::path::Path::new("r.yaml"), ROSTER.as_bytes(), &|_| {
            Some("memory-token-1".into())
        })
        .unwrap()
    }

    /// A hub where eng-eve is admin, Jo.Doe (the hub's spelling) is a plain user,
    /// rep-bob is missing, and mallory is an undeclared admin.
    fn hub() -> MemoryHub {
        let hub = MemoryHub::new();
        hub.set_user("eng-eve", true)
            .set_user("Jo.Doe@college.example.edu", false)
            .set_user("carol", true)
            .set_user("mallory", true);
        hub
    }

    async fn run(hub: &MemoryHub, write: bool) -> HubReport {
        let roster = roster();
        let spec = &roster.hubs[0];
        let desired = roster.desired(spec);
        let writer = write.then_some(hub);
        reconcile(spec, &desired, hub, writer, &CancellationToken::new()).await
    }

    #[tokio::test]
    async fn a_dry_run_is_a_reconcile_without_a_writer() {
        let hub = hub();
        let report = run(&hub, false).await;
        assert_eq!(report.status, Status::Drift, "{report}");
        assert!(hub.writes().is_empty());
        assert!(
            report
                .changes
                .iter()
                .all(|c| c.skipped == Some(Skipped::DryRun))
        );
    }

    #[tokio::test]
    async fn enforce_converges_and_a_second_run_changes_nothing() {
        let hub = hub();
        let report = run(&hub, true).await;
        assert_eq!(report.status, Status::Changed, "{report}");
        assert_eq!(
            hub.writes(),
            [
                Write::Create("rep-bob".into()),
                Write::SetAdmin("Jo.Doe@college.example.edu".into(), true),
                Write::SetAdmin("mallory".into(), false),
            ]
        );
        assert_eq!(
            hub.users(),
            [
                "Jo.Doe@college.example.edu",
                "carol",
                "eng-eve",
                "mallory",
                "rep-bob"
            ],
            "nobody deleted"
        );
        let again = run(&hub, true).await;
        assert_eq!(again.status, Status::InSync, "{again}");
        assert_eq!(hub.writes().len(), 3);
    }

    #[tokio::test]
    async fn reports_name_people_as_the_hub_spells_them() {
        let report = run(&hub(), true).await;
        let text = report.to_string();
        assert!(
            text.contains(
                "granted admin to Jo.Doe@college.example.edu: administrator, added by rep-bob"
            ),
            "{text}"
        );
        assert!(!text.contains("jo.doe@"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["changes"][1]["user"], "Jo.Doe@college.example.edu");
    }

    #[tokio::test]
    async fn a_token_that_is_not_admin_changes_nothing() {
        let hub = hub();
        hub.set_owner(crate::snapshot::TokenOwner {
            kind: crate::snapshot::OwnerKind::User,
            name: "auditor".into(),
            admin: Some(false),
        });
        let report = run(&hub, true).await;
        assert_eq!(report.error_kind, Some(ErrorKind::NotAdmin), "{report}");
        assert!(hub.writes().is_empty());
    }

    #[tokio::test]
    async fn with_an_audit_log_each_change_is_written_ahead_and_without_its_line_none_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/audit.jsonl");
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        let journal = Journal::open(&path, Mode::Once, std::time::Duration::from_secs(1))
            .await
            .unwrap();
        let roster = roster();
        let spec = &roster.hubs[0];
        let desired = roster.desired(spec);
        let never = CancellationToken::new();
        let run = |hub: MemoryHub| {
            let journal = journal.begin(spec, &Desired::new());
            let (desired, never) = (&desired, &never);
            async move {
                let mut nothing = |_: &mut Plan, _: &HubSnapshot| {};
                let with = RunWith {
                    journal: Some(&journal),
                    evidence: None,
                    before_apply: &mut nothing,
                };
                let mut report = reconcile_with(spec, desired, &hub, Some(&hub), with, never).await;
                journal.finish(&mut report).await;
                report
            }
        };
        let report = run(hub()).await;
        assert_eq!(report.status, Status::Changed, "{report}");
        let text = std::fs::read_to_string(&path).unwrap();
        let events: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
            .collect();
        assert_eq!(
            events,
            [
                "chain", "intent", "applied", "intent", "applied", "intent", "applied"
            ]
            .map(|e| format!("\"{e}\"")),
            "{text}"
        );

        // The directory gone: nothing is made, the run fails with kind audit.
        let drifted = hub();
        std::fs::remove_dir_all(dir.path().join("logs")).unwrap();
        let report = run(drifted.clone()).await;
        assert_eq!(report.error_kind, Some(ErrorKind::Audit), "{report}");
        assert!(drifted.writes().is_empty(), "no change without its line");
        let first = report.changes.iter().find(|c| c.error.is_some()).unwrap();
        assert!(
            first
                .error
                .as_deref()
                .unwrap()
                .starts_with("not made: audit log "),
            "{first:?}"
        );
        assert!(
            report
                .changes
                .iter()
                .filter(|c| c.error.is_none())
                .all(|c| c.skipped == Some(Skipped::NotRecorded)),
            "{report}"
        );
    }

    #[tokio::test]
    async fn an_unreadable_hub_is_an_error_with_its_kind() {
        let hub = hub();
        hub.fail_reads(Some(MemoryHub::unavailable("/users")));
        let report = run(&hub, true).await;
        assert_eq!(report.status, Status::Error);
        assert_eq!(report.error_kind, Some(ErrorKind::Status));
        assert!(report.changes.is_empty());
        assert!(hub.writes().is_empty());
    }

    /// The hub of [`hub`] with rep-bob admin only through the group `hub-admins`, and
    /// gadmin (undeclared) in it too.
    fn hub_with_group() -> MemoryHub {
        let hub = hub();
        hub.set_user("rep-bob", false)
            .set_user("gadmin", false)
            .set_group("hub-admins", &["admin"], &["rep-bob", "gadmin"]);
        hub
    }

    #[tokio::test]
    async fn enforce_takes_an_undeclared_member_out_of_the_admin_group() {
        let hub = hub_with_group();
        let report = run(&hub, false).await;
        let gadmin = report.changes.iter().find(|c| c.user == "gadmin").unwrap();
        assert_eq!(gadmin.drift_kind(), DriftKind::GroupMember, "{report}");
        assert!(
            report.to_string().contains(
                "would revoke admin from gadmin: undeclared admin by group hub-admins (by role admin)"
            ),
            "{report}"
        );
        let report = run(&hub, true).await;
        assert!(
            hub.writes().contains(&Write::RemoveFromGroup(
                "hub-admins".into(),
                "gadmin".into()
            )),
            "{:?}",
            hub.writes()
        );
        assert_eq!(hub.members("hub-admins"), ["rep-bob"], "{report}");
        assert_eq!(run(&hub, true).await.status, Status::InSync);
    }

    #[tokio::test]
    async fn a_hub_whose_authenticator_manages_groups_is_left_drifting_not_failing() {
        let hub = hub_with_group();
        hub.manage_groups(true);
        let report = run(&hub, true).await;
        assert_eq!(report.status, Status::Drift, "{report}");
        assert_eq!(report.error, None, "{report}");
        let gadmin = report.changes.iter().find(|c| c.user == "gadmin").unwrap();
        assert_eq!(gadmin.skipped, Some(Skipped::GroupsManaged));
        assert!(report.to_string().contains("identity provider"), "{report}");
    }

    #[tokio::test]
    async fn a_token_that_may_not_read_groups_says_so() {
        let hub = hub();
        hub.set_user("mallory", false).hide_groups(true);
        hub.set_user("rep-bob", true);
        let report = run(&hub, false).await;
        assert_eq!(report.status, Status::Drift, "{report}");
        assert!(!report.groups_checked);
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.starts_with("admin through groups was not checked")),
            "{report}"
        );
    }
}
