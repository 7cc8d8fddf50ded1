//! What a run did, per hub: the value behind the text and JSON reports, the exit code
//! and (in the daemon) metrics, alerts and the audit trail.

use serde::Serialize;
use std::fmt;

use crate::evidence::Attribution;
use crate::name::printable;
use crate::name::{HubName, UserName};
use crate::outcome::{ErrorKind, Skipped};
use crate::plan::provisional::{Notice, Provisional};
use crate::plan::{Action, DriftKind, Standing};
use crate::roster::{HubRules, Policy};
use crate::snapshot::{AdminPaths, NamelessUser};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing differed.
    InSync,
    /// Every difference was fixed.
    Changed,
    /// Differences remain (a dry run, or a policy that leaves them).
    Drift,
    /// The hub could not be read, a change failed, or the brake held revocations.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InSync => "in_sync",
            Status::Changed => "changed",
            Status::Drift => "drift",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::InSync => "in sync",
            Status::Changed => "changed",
            Status::Drift => "drift",
            Status::Error => "error",
        })
    }
}

/// One difference and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeReport {
    pub action: Action,
    /// The user as the hub spells them (for a create: as created).
    pub user: String,
    pub role: Standing,
    pub added_by: Option<UserName>,
    /// The roster's name for the person, when the hub knows them by another username.
    pub person: Option<UserName>,
    /// For a revocation: how the user is admin (the flag, admin groups, roles held
    /// directly).
    #[serde(rename = "admin_paths", skip_serializing_if = "is_not_admin")]
    pub paths: AdminPaths,
    /// Who made what this change undoes, when the hub's log was read (`made_by`, `via`,
    /// `at`): for a revocation, who made the user admin; for a grant, who took it away.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<Attribution>,
    /// True when this run made the change on the hub.
    pub applied: bool,
    /// Why the change was not made, when the policy, the brake or a dry run kept it.
    pub skipped: Option<Skipped>,
    /// The hub's error, when the change was tried and failed.
    pub error: Option<String>,
    /// For a revocation: the date (`YYYY-MM-DD`) the person's administrator entry
    /// expired, when that is why they are no longer declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<String>,
}

impl ChangeReport {
    /// The user as the hub spells them, and the person's roster name when it differs:
    /// `ada-l (ada)`.
    pub fn who(&self) -> String {
        match &self.person {
            Some(person) => format!("{} ({person})", printable(&self.user)),
            None => printable(&self.user),
        }
    }

    /// [`ChangeReport::who`], and for a revocation of more than the flag, how the
    /// person is admin: `gadmin (by group hub-admins (by role admin))`.
    ///
    /// When the hub's log says who made what the change undoes, that too: `newbie (made
    /// admin by rep-lee in the admin page at 2026-12-01 12:38 UTC)`.
    pub fn who_with_paths(&self) -> String {
        let only_flag = self.paths.groups.is_empty() && self.paths.roles.is_empty();
        let mut notes = Vec::new();
        if self.action == Action::Revoke && !only_flag {
            notes.push(self.paths.to_string());
        }
        if let Some(made) = self.made_by.as_ref().filter(|m| m.is_known()) {
            notes.push(self.made_phrase(made));
        }
        if notes.is_empty() {
            self.who()
        } else {
            format!("{} ({})", self.who(), notes.join("; "))
        }
    }

    /// What the hub's log says of the state this change undoes: `made admin by rep-lee
    /// in the admin page at …` for a revocation, `admin taken away by …` for a grant.
    pub fn made_phrase(&self, made: &Attribution) -> String {
        match (self.action, made.is_known()) {
            (Action::Revoke, true) => format!("made admin {}", made.phrase()),
            (Action::Revoke, false) => format!("who made them admin: {}", made.made_by),
            (_, true) => format!("admin taken away {}", made.phrase()),
            (_, false) => format!("who took admin away: {}", made.made_by),
        }
    }

    /// Still a difference on the hub after this run: not made, or a revocation that
    /// left a role held directly (which only the hub's config can take away).
    pub fn outstanding(&self) -> bool {
        !self.applied || (self.action == Action::Revoke && !self.paths.roles.is_empty())
    }

    /// The kind of drift this change is about.
    pub fn drift_kind(&self) -> DriftKind {
        DriftKind::of(self.action, &self.paths)
    }
}

fn is_not_admin(paths: &AdminPaths) -> bool {
    !paths.is_admin()
}

/// An admin the hub lists without a name: what is known of them, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamelessReport {
    /// When the hub created the user, as it wrote it.
    pub created: Option<String>,
    pub admin_paths: AdminPaths,
    /// What happened and what to do, in a sentence.
    pub reason: String,
}

impl NamelessReport {
    pub fn new(user: &NamelessUser, hub: &HubName) -> NamelessReport {
        let created = user
            .created
            .as_deref()
            .map(|c| format!(" (created {})", printable(c)))
            .unwrap_or_default();
        NamelessReport {
            created: user.created.clone(),
            admin_paths: user.paths.clone(),
            reason: format!(
                "a user with no name is admin on hub {hub}{created}, {}; JupyterHub 6.1.1's admin page erases a user's name when Edit User is applied: restore the name in the hub's database, and change admins with Add Users or the API until the hub is upgraded",
                user.paths
            ),
        }
    }
}

/// Which limit of the safety floor held, and by how much: the typed reason behind a
/// `brake` error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrakeReport {
    /// `every_admin`, `max_revocations`, `max_revocation_share` or `allow_revocations`.
    pub limit: &'static str,
    /// The revocations the plan has.
    pub revocations: usize,
    /// The most the limit lets through.
    pub allowed: usize,
    /// The sentence the report and the error give.
    pub reason: String,
}

impl From<crate::plan::Brake> for BrakeReport {
    fn from(brake: crate::plan::Brake) -> Self {
        BrakeReport {
            limit: brake.limit.name(),
            revocations: brake.revocations,
            allowed: brake.limit.allowed(),
            reason: brake.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HubReport {
    pub name: HubName,
    pub community: String,
    /// What the run may do on the hub: its policy and the limits of the safety floor
    /// (`policy`, `max_revocations`, `max_revocation_share` in the JSON).
    #[serde(flatten)]
    pub rules: HubRules,
    /// The limit of the safety floor that held every revocation, when one did (in a
    /// dry run: the one that would hold).
    pub brake: Option<BrakeReport>,
    /// How many admins the roster declares for the hub.
    pub declared: usize,
    pub status: Status,
    /// The hub's JupyterHub version, when it could be read.
    pub version: Option<String>,
    /// How many users the hub listed, when it could be read.
    pub users: Option<usize>,
    /// The hub's authenticator (`GET /info`), read by dry runs when the token may.
    pub authenticator: Option<crate::hub::info::AuthenticatorInfo>,
    pub changes: Vec<ChangeReport>,
    pub error: Option<String>,
    /// What kind of error it was (`transport`, `status`, `brake`, ...).
    pub error_kind: Option<ErrorKind>,
    /// HTTP requests sent to the hub in this run, retries included.
    pub requests: u64,
    pub duration_seconds: f64,
    /// Signs that the roster may not fit the hub (an adoption gone wrong), worth a
    /// look before an enforcing run.
    pub warnings: Vec<String>,
    /// Daemon: users something else keeps changing back, whom the daemon leaves alone
    /// ([`crate::daemon::fights`]).
    pub contested: Vec<ContestedReport>,
    /// Changes of earlier runs that something else undid, found this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reversals: Vec<ReversalReport>,
    /// Whether admin through groups was checked (false: the token may not read groups;
    /// a warning says so).
    pub groups_checked: bool,
    /// Admins the hub lists without a name: drift no run can fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nameless: Vec<NamelessReport>,
    /// Provisional administrators: made in the hub by someone the roster entitles,
    /// kept for a while (`ui_grants`), neither revoked nor drift.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provisional: Vec<Provisional>,
    /// What this run has to tell the community about them (news, audit lines).
    #[serde(skip)]
    pub provisional_notices: Vec<Notice>,
    /// Provisional administrators (as the hub spells them) whom the same person made
    /// admin on every hub of the community: the roster line goes in the community.
    #[serde(skip)]
    pub provisional_community_wide: std::collections::BTreeSet<String>,
}

/// A change the daemon made that something else undid since (fight detection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReversalReport {
    /// The user in normal form.
    pub user: String,
    /// The change the daemon is about to make again (the one that was undone).
    pub action: Action,
    /// Reversals of this user within the last day.
    pub count: usize,
}

/// A contested user: who, since when, and what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContestedReport {
    /// The user in normal form.
    pub user: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    /// True in the run that found it contested.
    pub new: bool,
    /// The likely cause and what to change.
    pub reason: String,
}

impl HubReport {
    /// The report of a hub before a run fills it in: in sync, nothing read, nothing
    /// changed.
    pub fn blank(name: HubName, community: &str, rules: HubRules, declared: usize) -> HubReport {
        HubReport {
            name,
            community: community.to_string(),
            rules,
            brake: None,
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
            contested: Vec::new(),
            reversals: Vec::new(),
            authenticator: None,
            groups_checked: true,
            nameless: Vec::new(),
            provisional: Vec::new(),
            provisional_notices: Vec::new(),
            provisional_community_wide: Default::default(),
        }
    }

    /// Differences left on the hub after this run, by kind.
    pub fn drift_by_kind(&self) -> [(DriftKind, usize); DriftKind::ALL.len()] {
        DriftKind::ALL.map(|kind| (kind, self.outstanding(kind).len()))
    }

    /// The people (as the hub spells them) whose difference of `kind` is left;
    /// nameless admins as `(no name, created …)`.
    pub fn outstanding(&self, kind: DriftKind) -> Vec<String> {
        if kind == DriftKind::Nameless {
            return self
                .nameless
                .iter()
                .map(|n| match &n.created {
                    Some(c) => format!("(no name, created {})", printable(c)),
                    None => "(no name)".to_string(),
                })
                .collect();
        }
        self.changes
            .iter()
            .filter(|c| c.drift_kind() == kind && c.outstanding())
            .map(ChangeReport::who)
            .collect()
    }

    /// [`HubReport::outstanding`], each revocation also saying how the person is admin
    /// when it is more than the flag: `gadmin (by group hub-admins (by role admin))`.
    pub fn outstanding_with_paths(&self, kind: DriftKind) -> Vec<String> {
        if kind == DriftKind::Nameless {
            return self.outstanding(kind);
        }
        self.changes
            .iter()
            .filter(|c| c.drift_kind() == kind && c.outstanding())
            .map(ChangeReport::who_with_paths)
            .collect()
    }

    /// Sets the error, its kind and the error status.
    pub fn fail(&mut self, kind: ErrorKind, error: impl Into<String>) {
        self.status = Status::Error;
        self.error_kind = Some(kind);
        self.error = Some(error.into());
    }

    pub fn drift(&self) -> usize {
        self.drift_by_kind().iter().map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
impl ChangeReport {
    /// A change to `user`, of standing `role` (an administrator is added by rep-bob),
    /// for tests. One not applied was kept by policy grant.
    pub(crate) fn sample(action: Action, user: &str, role: Standing, applied: bool) -> Self {
        ChangeReport {
            action,
            user: user.to_string(),
            role,
            added_by: (role == Standing::Administrator).then(|| UserName::new("rep-bob")),
            person: None,
            paths: AdminPaths {
                flag: action == Action::Revoke,
                ..AdminPaths::default()
            },
            made_by: None,
            applied,
            skipped: (!applied).then_some(Skipped::PolicyGrant),
            error: None,
            expired: None,
        }
    }
}

#[cfg(test)]
impl HubReport {
    /// A report of hub climate-prod (community climate-lab, policy grant), for tests.
    pub(crate) fn sample(status: Status, changes: Vec<ChangeReport>) -> HubReport {
        let rules = HubRules::new(Policy::Grant);
        let mut report = HubReport::blank(HubName::new("climate-prod"), "climate-lab", rules, 2);
        report.status = status;
        report.version = Some("6.1.1".into());
        report.users = Some(3);
        report.changes = changes;
        report.requests = 4;
        report.duration_seconds = 0.2;
        report
    }
}

/// Whether changes were made or only looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    DryRun,
    Once,
    Daemon,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub mode: Mode,
    pub hubs: Vec<HubReport>,
}

impl RunReport {
    /// 1 if any hub failed, else 2 if any drift remains, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.hubs.iter().any(|h| h.status == Status::Error) {
            1
        } else if self.hubs.iter().any(|h| h.status == Status::Drift) {
            2
        } else {
            0
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for ChangeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match (self.applied, &self.error, self.action) {
            (true, _, Action::Create) => "created admin",
            (true, _, Action::Grant) => "granted admin to",
            (true, _, Action::Revoke) => "revoked admin from",
            (false, Some(_), Action::Create) => "FAILED to create admin",
            (false, Some(_), Action::Grant) => "FAILED to grant admin to",
            (false, Some(_), Action::Revoke) => "FAILED to revoke admin from",
            (false, None, Action::Create) => "would create admin",
            (false, None, Action::Grant) => "would grant admin to",
            (false, None, Action::Revoke) => "would revoke admin from",
        };
        write!(f, "{verb} {}", self.who())?;
        match (&self.role, &self.added_by, &self.expired) {
            (Standing::Undeclared, Some(by), Some(day)) => write!(
                f,
                ": administrator entry expired on {day} (added by {by}; stays a user)"
            )?,
            (Standing::Undeclared, _, _) => {
                write!(f, ": undeclared admin {} (stays a user)", self.paths)?
            }
            (role, Some(by), _) => write!(f, ": {role}, added by {by}")?,
            (role, None, _) => write!(f, ": {role}")?,
        }
        if let Some(made) = &self.made_by {
            write!(f, "; {}", self.made_phrase(made))?;
        }
        if let Some(error) = &self.error {
            write!(f, " — {error}")?;
        } else if let Some(why) = self.skipped.filter(|w| *w != Skipped::DryRun) {
            write!(f, " [{why}]")?;
        } else if self.applied && !self.paths.roles.is_empty() {
            write!(
                f,
                " [still admin by role {}: {}]",
                self.paths.roles.join(", "),
                Skipped::RoleInConfig
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for HubReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hub {} (community {}, policy {}",
            self.name, self.community, self.rules.policy
        )?;
        if self.rules.policy == Policy::Enforce {
            write!(
                f,
                ", max_revocations {}, max_revocation_share {}",
                self.rules.max_revocations, self.rules.max_revocation_share
            )?;
        }
        if let Some(v) = &self.version {
            write!(f, ", JupyterHub {v}")?;
        }
        if let Some(n) = self.users {
            write!(f, ", {n} users")?;
        }
        if let Some(a) = &self.authenticator {
            write!(f, ", authenticator {a}")?;
        }
        write!(f, "): {}", self.status)?;
        if self.status == Status::InSync {
            write!(
                f,
                ", {} declared admin{}",
                self.declared,
                if self.declared == 1 { "" } else { "s" }
            )?;
        }
        writeln!(f)?;
        for change in &self.changes {
            writeln!(f, "  {change}")?;
        }
        for nameless in &self.nameless {
            writeln!(f, "  nameless admin: {}", nameless.reason)?;
        }
        for p in &self.provisional {
            writeln!(f, "  provisional administrator {}", describe_provisional(p))?;
        }
        for warning in &self.warnings {
            writeln!(f, "  warning: {warning}")?;
        }
        for contested in &self.contested {
            writeln!(f, "  contested: {}", contested.reason)?;
        }
        if let Some(error) = &self.error {
            writeln!(f, "  error: {error}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for hub in &self.hubs {
            write!(f, "{hub}")?;
        }
        let count = |s| self.hubs.iter().filter(|h| h.status == s).count();
        let n = self.hubs.len();
        writeln!(
            f,
            "{}: {n} hub{}: {} in sync, {} changed, {} drift, {} error",
            match self.mode {
                Mode::DryRun => "dry run (nothing was changed)",
                Mode::Once | Mode::Daemon => "once (changes applied by policy)",
            },
            if n == 1 { "" } else { "s" },
            count(Status::InSync),
            count(Status::Changed),
            count(Status::Drift),
            count(Status::Error),
        )
    }
}

/// `newbie: made admin by rep-lee in the admin page at 2026-12-01 12:38 UTC, kept until
/// 2026-12-31 (ui_grants)`.
pub fn describe_provisional(p: &Provisional) -> String {
    let at = jiff::Timestamp::from_second(p.granted_at).ok();
    let until = p.until_text();
    let made = Attribution {
        made_by: crate::evidence::MadeBy::Actor(p.granted_by.clone()),
        via: p.via,
        at,
    };
    format!(
        "{}: made admin {}, kept until {until} (ui_grants)",
        printable(&p.user),
        made.phrase()
    )
}
