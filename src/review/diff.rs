//! What a roster change does to who is admin where, worked out offline.
//!
//! [`diff`] compares the desired admins of every hub in two validated rosters on one
//! day: who gains admin, who loses it (no longer declared, an `expires` date passed,
//! the hub opted out of its engineers), who stays admin for another reason (a new
//! role, another `added_by`, a move between the community's administrators and the
//! hub's own, the hub moved to another community), and which hubs were
//! added or removed (a renamed hub is one of each), and the settings that change what
//! the tool does to a hub (`api_url`, the token's source, `policy`, the brake,
//! `login`, `engineers`, `admin_roles`). No hub is contacted and no secret
//! is read ([`crate::roster::Roster::load_offline`]), so it runs on untrusted pull
//! requests. The result renders as text ([`fmt::Display`]), JSON, or markdown
//! ([`crate::review::markdown`]).

use serde::Serialize;
use std::fmt;

use crate::date::Date;
use crate::name::{HubName, UserName, printable};
use crate::roster::{
    Declared, Desired, HubAccess, HubRules, HubSpec, OfflineRoster, Role, Settings,
};
use crate::word::count;

/// Why a person is admin on a hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Why {
    pub role: Role,
    /// The hub's community (not named for engineers, who are admin everywhere).
    pub community: Option<String>,
    /// The hub, for an administrator declared in the hub's own `administrators`.
    pub hub: Option<HubName>,
    pub added_by: Option<UserName>,
}

impl Why {
    fn of(declared: &Declared, hub: &HubSpec) -> Why {
        Why {
            role: declared.role,
            // A hub's own administrator is the hub's, whatever its community.
            community: (declared.role != Role::Engineer && !declared.hub_level)
                .then(|| hub.community.clone()),
            hub: declared.hub_level.then(|| hub.name.clone()),
            added_by: declared.added_by.clone(),
        }
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.role)?;
        if let Some(hub) = &self.hub {
            write!(f, " of hub {}", printable(hub.as_str()))?;
        } else if let Some(community) = &self.community {
            write!(f, " of {}", printable(community))?;
        }
        if let Some(by) = &self.added_by {
            write!(f, ", added by {by}")?;
        }
        Ok(())
    }
}

/// Why a person who was admin is no longer declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "on")]
pub(crate) enum Loss {
    /// The new roster no longer declares them on the hub.
    Undeclared,
    /// Their administrator entry's `expires` date has passed.
    Expired(Date),
    /// An engineer, on a hub that now sets `engineers: false`.
    EngineersOff,
}

/// What happens to one person's admin on one hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub(crate) enum Entry {
    Gains {
        now: Why,
    },
    Loses {
        was: Why,
        loss: Loss,
    },
    /// Admin before and after, for another reason.
    Stays {
        was: Why,
        now: Why,
    },
}

impl Entry {
    /// Orders gains, then losses, then the rest.
    fn rank(&self) -> u8 {
        match self {
            Entry::Gains { .. } => 0,
            Entry::Loses { .. } => 1,
            Entry::Stays { .. } => 2,
        }
    }
}

/// One person whose admin on a hub changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PersonChange {
    /// The username the hub knows them by (normal form).
    pub user: UserName,
    /// Their roster name, when the hub knows them by another username.
    pub person: Option<UserName>,
    #[serde(flatten)]
    pub entry: Entry,
}

impl PersonChange {
    /// `ada-l (ada)`, as the reports name people.
    pub(crate) fn who(&self) -> String {
        match &self.person {
            Some(person) => format!("{} ({person})", self.user),
            None => self.user.to_string(),
        }
    }
}

impl fmt::Display for PersonChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = self.who();
        match &self.entry {
            Entry::Gains { now } => write!(f, "+ {who} gains admin: {now}"),
            Entry::Loses { was, loss } => {
                write!(f, "- {who} loses admin: was {was}; ")?;
                match loss {
                    Loss::Undeclared => write!(f, "no longer declared"),
                    Loss::Expired(day) => write!(f, "the entry expired on {day}"),
                    Loss::EngineersOff => write!(f, "the hub now sets engineers: false"),
                }
            }
            Entry::Stays { was, now } => write!(f, "~ {who} stays admin: was {was}; now {now}"),
        }
    }
}

/// A hub setting that differs between the rosters, by its roster key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SettingChange {
    pub key: &'static str,
    pub was: String,
    pub now: String,
}

impl fmt::Display for SettingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "* {}: {} → {}",
            self.key,
            printable(&self.was),
            printable(&self.now)
        )
    }
}

/// The settings of a hub that change what the tool does to it, as the roster names
/// them (after defaults are applied).
fn settings(hub: &HubSpec) -> [(&'static str, String); 10] {
    // Every field by name, no `..`: a new one must be listed here or named as not a
    // setting, so it cannot be left out of the diff unseen.
    let HubSpec {
        name: _,
        community: _,
        settings,
        access,
        log,
        // People: compared one by one (`compare`).
        admins: _,
    } = hub;
    let Settings {
        rules,
        login,
        engineers,
        admin_roles,
        ui_grants,
    } = settings;
    let HubRules {
        policy,
        max_revocations,
        max_revocation_share,
        // Given on the command line, never in the roster.
        allow_revocations: _,
    } = rules;
    let HubAccess {
        api_url,
        token_source,
        // Secrets and what is read from files: not read offline.
        token: _,
        ca: _,
    } = access;
    [
        ("api_url", api_url.to_string()),
        ("token", token_source.to_string()),
        ("policy", policy.to_string()),
        ("max_revocations", max_revocations.to_string()),
        ("max_revocation_share", max_revocation_share.to_string()),
        ("login", login.clone().unwrap_or_else(|| "(none)".into())),
        ("engineers", engineers.to_string()),
        ("admin_roles", admin_roles.join(", ")),
        (
            "ui_grants",
            ui_grants.map_or("(none)".into(), |keep| {
                format!("keep_for {}", humantime::format_duration(keep))
            }),
        ),
        (
            "log",
            log.as_ref().map_or("(none)".into(), |l| {
                format!("{} (zone {})", l.place, l.zone)
            }),
        ),
    ]
}

fn setting_changes(old: &HubSpec, hub: &HubSpec) -> Vec<SettingChange> {
    settings(old)
        .into_iter()
        .zip(settings(hub))
        .filter(|((_, was), (_, now))| was != now)
        .map(|((key, was), (_, now))| SettingChange { key, was, now })
        .collect()
}

/// How a hub differs between the rosters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HubStatus {
    Added,
    Removed,
    Changed,
}

/// One hub that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HubDiff {
    pub name: HubName,
    /// Its community (in the new roster; in the old one for a removed hub).
    pub community: String,
    /// Its community in the old roster, when it moved to another.
    pub was_community: Option<String>,
    pub status: HubStatus,
    /// How many admins the old roster declared for the hub (0 for an added hub); for a
    /// removed hub, they stay as they are on the hub, which is no longer kept in sync.
    pub declared_before: usize,
    /// For a hub in both rosters: its settings that changed.
    pub settings: Vec<SettingChange>,
    pub changes: Vec<PersonChange>,
}

impl fmt::Display for HubDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hub {} (community {}",
            printable(self.name.as_str()),
            printable(&self.community)
        )?;
        if let Some(was) = &self.was_community {
            write!(f, ", was {}", printable(was))?;
        }
        match self.status {
            HubStatus::Added => writeln!(f, "): added, {}", admins(self.changes.len()))?,
            HubStatus::Removed => writeln!(
                f,
                "): removed from the roster, no longer kept in sync ({} declared stay as they are on the hub)",
                admins(self.declared_before)
            )?,
            HubStatus::Changed => {
                let n = self.settings.len() + self.changes.len();
                writeln!(f, "): {}", count(n, "change"))?
            }
        }
        for setting in &self.settings {
            writeln!(f, "  {setting}")?;
        }
        for change in &self.changes {
            writeln!(f, "  {change}")?;
        }
        Ok(())
    }
}

fn admins(n: usize) -> String {
    count(n, "admin")
}

/// Every hub that differs between two rosters, on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RosterDiff {
    /// The day expiry was judged on.
    pub on: Date,
    /// Hubs in both rosters, compared.
    pub compared: usize,
    pub hubs: Vec<HubDiff>,
}

impl RosterDiff {
    pub(crate) fn is_empty(&self) -> bool {
        self.hubs.is_empty()
    }

    /// 0 when no one's admin changes, 2 when it does.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.is_empty() { 0 } else { 2 }
    }

    /// How many (gain, lose, stay for another reason) entries there are in all.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let mut n = (0, 0, 0);
        for change in self.hubs.iter().flat_map(|h| &h.changes) {
            match change.entry {
                Entry::Gains { .. } => n.0 += 1,
                Entry::Loses { .. } => n.1 += 1,
                Entry::Stays { .. } => n.2 += 1,
            }
        }
        n
    }

    fn count(&self, status: HubStatus) -> usize {
        self.hubs.iter().filter(|h| h.status == status).count()
    }

    /// How many hub settings change in all.
    pub(crate) fn settings_changed(&self) -> usize {
        self.hubs.iter().map(|h| h.settings.len()).sum()
    }

    /// One line: `3 hubs differ (1 added, 1 removed, 1 changed): 2 gain admin, ...`.
    pub(crate) fn summary(&self) -> String {
        if self.is_empty() {
            return format!(
                "no change to who is admin ({} compared, on {})",
                count(self.compared, "hub"),
                self.on
            );
        }
        let (gain, lose, stay) = self.counts();
        let settings = match self.settings_changed() {
            0 => String::new(),
            1 => ", 1 hub setting changes".to_string(),
            n => format!(", {n} hub settings change"),
        };
        format!(
            "{} hub{} differ{} ({} added, {} removed, {} changed): {gain} gain admin, {lose} lose admin, {stay} stay admin for another reason{settings} (on {})",
            self.hubs.len(),
            if self.hubs.len() == 1 { "" } else { "s" },
            if self.hubs.len() == 1 { "s" } else { "" },
            self.count(HubStatus::Added),
            self.count(HubStatus::Removed),
            self.count(HubStatus::Changed),
            self.on
        )
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for RosterDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for hub in &self.hubs {
            write!(f, "{hub}")?;
        }
        writeln!(f, "diff: {}", self.summary())
    }
}

/// Compares the desired admins of every hub of `base` and `new` on `today`. Hubs are
/// matched by name (ignoring case): new hubs in the new roster's order, then removed
/// ones in the old roster's.
pub(crate) fn diff(base: &OfflineRoster, new: &OfflineRoster, today: Date) -> RosterDiff {
    let mut hubs = Vec::new();
    let mut compared = 0;
    for hub in new.hubs() {
        let now = new.desired_on(hub, today);
        match base.hubs().iter().find(|h| h.name == hub.name) {
            None => {
                let changes = now
                    .iter()
                    .map(|(user, d)| PersonChange {
                        user: user.clone(),
                        person: d.person.clone(),
                        entry: Entry::Gains {
                            now: Why::of(d, hub),
                        },
                    })
                    .collect();
                hubs.push(HubDiff {
                    name: hub.name.clone(),
                    community: hub.community.clone(),
                    was_community: None,
                    status: HubStatus::Added,
                    declared_before: 0,
                    settings: Vec::new(),
                    changes,
                });
            }
            Some(old) => {
                compared += 1;
                let was = base.desired_on(old, today);
                let expired = new.expired_on(hub, today);
                let changes = compare(old, &was, hub, &now, &expired);
                let settings = setting_changes(old, hub);
                if !changes.is_empty() || !settings.is_empty() {
                    hubs.push(HubDiff {
                        name: hub.name.clone(),
                        community: hub.community.clone(),
                        was_community: (old.community != hub.community)
                            .then(|| old.community.clone()),
                        status: HubStatus::Changed,
                        declared_before: was.len(),
                        settings,
                        changes,
                    });
                }
            }
        }
    }
    for old in base.hubs() {
        if !new.hubs().iter().any(|h| h.name == old.name) {
            hubs.push(HubDiff {
                name: old.name.clone(),
                community: old.community.clone(),
                was_community: None,
                status: HubStatus::Removed,
                declared_before: base.desired_on(old, today).len(),
                settings: Vec::new(),
                changes: Vec::new(),
            });
        }
    }
    RosterDiff {
        on: today,
        compared,
        hubs,
    }
}

/// The people whose admin on one hub differs, gains first, each kind by username.
fn compare(
    old: &HubSpec,
    was: &Desired,
    hub: &HubSpec,
    now: &Desired,
    expired: &Desired,
) -> Vec<PersonChange> {
    let mut changes = Vec::new();
    for (user, d) in now {
        let after = Why::of(d, hub);
        let entry = match was.get(user) {
            None => Entry::Gains { now: after },
            Some(before) => {
                let before = Why::of(before, old);
                if before == after {
                    continue;
                }
                Entry::Stays {
                    was: before,
                    now: after,
                }
            }
        };
        changes.push(PersonChange {
            user: user.clone(),
            person: d.person.clone(),
            entry,
        });
    }
    for (user, d) in was {
        if now.contains_key(user) {
            continue;
        }
        let loss = if let Some(day) = expired.get(user).and_then(|e| e.expires) {
            Loss::Expired(day)
        } else if d.role == Role::Engineer && old.settings.engineers && !hub.settings.engineers {
            Loss::EngineersOff
        } else {
            Loss::Undeclared
        };
        changes.push(PersonChange {
            user: user.clone(),
            person: d.person.clone(),
            entry: Entry::Loses {
                was: Why::of(d, old),
                loss,
            },
        });
    }
    changes.sort_by(|a, b| (a.entry.rank(), &a.user).cmp(&(b.entry.rank(), &b.user)));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Roster;

    const BASE: &str = "engineers: [{name: eng}]\ncommunities:\n  - name: c\n    representatives: [{name: r}]\n    administrators: [{name: a, added_by: r}, {name: b, added_by: r}]\n    hubs: [{name: h, api_url: http://h/hub/api, token_env: T}]\n";

    /// The diff from [`BASE`] to `new`, on 2026-01-01.
    fn diff_to(new: &str) -> RosterDiff {
        let dir = tempfile::tempdir().unwrap();
        let load = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            Roster::load_offline(&path).unwrap()
        };
        let (base, new) = (load("a.yaml", BASE), load("b.yaml", new));
        diff(&base, &new, Date::parse("2026-01-01").unwrap())
    }

    #[test]
    fn no_change_is_empty_and_exits_0() {
        let d = diff_to(BASE);
        assert!(d.is_empty());
        assert_eq!(d.exit_code(), 0);
        assert_eq!(
            d.to_string(),
            "diff: no change to who is admin (1 hub compared, on 2026-01-01)\n"
        );
    }

    #[test]
    fn gains_losses_and_new_reasons_in_order() {
        let d = diff_to(
            &BASE
                .replace("{name: a, added_by: r}", "{name: z, added_by: r}")
                .replace("{name: b, added_by: r}", "{name: b, added_by: eng}"),
        );
        assert_eq!(d.exit_code(), 2);
        assert_eq!(
            d.to_string(),
            "hub h (community c): 3 changes\n  + z gains admin: administrator of c, added by r\n  - a loses admin: was administrator of c, added by r; no longer declared\n  ~ b stays admin: was administrator of c, added by r; now administrator of c, added by eng\ndiff: 1 hub differs (0 added, 0 removed, 1 changed): 1 gain admin, 1 lose admin, 1 stay admin for another reason (on 2026-01-01)\n"
        );
    }

    #[test]
    fn settings_that_change_what_the_tool_does_are_listed_before_people() {
        let d = diff_to(&BASE.replace(
            "token_env: T}",
            "token_env: T2, policy: grant, max_revocations: 0, engineers: false}",
        ));
        assert_eq!(d.exit_code(), 2);
        assert_eq!(d.settings_changed(), 4);
        assert_eq!(
            d.to_string(),
            "hub h (community c): 5 changes\n  * token: token_env T → token_env T2\n  * policy: enforce → grant\n  * max_revocations: 5 → 0\n  * engineers: true → false\n  - eng loses admin: was engineer; the hub now sets engineers: false\ndiff: 1 hub differs (0 added, 0 removed, 1 changed): 0 gain admin, 1 lose admin, 0 stay admin for another reason, 4 hub settings change (on 2026-01-01)\n"
        );
        // admin_roles: the hub's list on top of the defaults', always with admin.
        let d = diff_to(&format!(
            "defaults: {{admin_roles: [ops-team]}}\n{}",
            BASE.replace(
                "token_env: T}",
                "token_env: T, admin_roles: [hub-managers]}"
            )
        ));
        assert_eq!(
            d.to_string(),
            "hub h (community c): 1 change\n  * admin_roles: admin → admin, hub-managers, ops-team\ndiff: 1 hub differs (0 added, 0 removed, 1 changed): 0 gain admin, 0 lose admin, 0 stay admin for another reason, 1 hub setting changes (on 2026-01-01)\n"
        );
        // Only a setting: the hub still differs.
        let d = diff_to(&BASE.replace("token_env: T}", "token_env: T, policy: report}"));
        assert_eq!(d.exit_code(), 2);
        assert_eq!(d.hubs[0].changes, []);
        assert_eq!(d.hubs[0].settings.len(), 1);
    }

    #[test]
    fn an_engineer_listed_as_administrator_is_named_by_the_role_that_applies_on_each_hub() {
        // eng becomes an administrator of c, and h opts out of the engineers: eng stays
        // admin there, now as the administrator added by r.
        let d = diff_to(
            &BASE
                .replace(
                    "{name: b, added_by: r}]",
                    "{name: b, added_by: r}, {name: eng, added_by: r}]",
                )
                .replace("token_env: T}", "token_env: T, engineers: false}"),
        );
        assert_eq!(
            d.hubs[0].changes[0].to_string(),
            "~ eng stays admin: was engineer; now administrator of c, added by r"
        );
        assert_eq!(d.counts(), (0, 0, 1));
    }
}
