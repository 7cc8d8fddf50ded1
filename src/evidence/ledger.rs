//! What the hub's log has shown about each user, kept between runs, and who made a
//! change the tool sees: the latest event of the change's direction for that user.
//!
//! The ledger is bounded: a few events per user and per group, the newest kept. This
//! tool's own changes are known from its audit intents ([`Ledger::own`]), never from
//! the name in the log: an event that matches one of them (same user, same direction,
//! within a minute or so) is [`MadeBy::ThisTool`].

use std::collections::{BTreeMap, VecDeque};

use super::{AdminEvent, Change, MadeBy, Target, Unknown, Via};
use crate::name::UserName;

/// Events kept per user, and per group.
const KEEP: usize = 8;
/// This tool's own changes kept.
const KEEP_OWN: usize = 4096;
/// How far apart an event and this tool's intent for it may be, by the two clocks.
const OWN_WINDOW_SECS: i64 = 120;

/// Who made a change, how and when: what reports, the audit trail and alerts say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attribution {
    pub made_by: MadeBy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// When the hub logged it (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<jiff::Timestamp>,
}

impl Attribution {
    /// The log says nothing of it.
    pub fn unknown(why: Unknown) -> Attribution {
        Attribution {
            made_by: MadeBy::Unknown(why),
            via: None,
            at: None,
        }
    }

    pub fn is_known(&self) -> bool {
        !matches!(self.made_by, MadeBy::Unknown(_))
    }

    /// `by rep-lee in the admin page at 2026-12-01 12:38 UTC`.
    pub fn phrase(&self) -> String {
        let mut out = format!("by {}", self.made_by);
        if let Some(via) = self.via.filter(|_| self.is_known()) {
            out.push_str(&format!(" {via}"));
        }
        if let Some(at) = self.at {
            out.push_str(&format!(" at {}", minute_utc(at)));
        }
        out
    }
}

/// A time as the texts say it, to the minute: `2026-12-01 12:38 UTC`.
pub fn minute_utc(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// One change this tool made (from its audit intent).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnChange {
    /// In normal form.
    pub user: String,
    /// True for a create or a grant, false for a revocation.
    pub made_admin: bool,
    /// When the intent was written (UTC seconds).
    pub at: i64,
}

/// The admin events the hub's log has shown, by user and by group (kept in the
/// daemon's state, so a restart forgets nobody's grant).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ledger {
    users: BTreeMap<UserName, VecDeque<AdminEvent>>,
    groups: BTreeMap<String, VecDeque<AdminEvent>>,
    own: VecDeque<OwnChange>,
}

/// Whether an event made its user admin (`Some(true)`), took admin away
/// (`Some(false)`), or touched a group.
fn made_admin(change: &Change) -> bool {
    match change {
        Change::Granted | Change::CreatedAdmin | Change::AddedToGroup { .. } => true,
        Change::Revoked | Change::RemovedFromGroup { .. } => false,
    }
}

fn keep(list: &mut VecDeque<AdminEvent>, event: AdminEvent) {
    list.push_back(event);
    while list.len() > KEEP {
        list.pop_front();
    }
}

impl Ledger {
    /// Keeps `events` (in log order).
    pub fn add(&mut self, events: impl IntoIterator<Item = AdminEvent>) {
        for event in events {
            match (&event.target, &event.change) {
                (Target::User { name, .. }, _) => {
                    let events = self.users.entry(UserName::new(name)).or_default();
                    // A hub's start logs a grant for every admin it already has (the
                    // admin role in load_roles): after a grant, that says nothing new.
                    let restated = event.made_by == MadeBy::Configuration
                        && events.back().is_some_and(|last| {
                            made_admin(&last.change) == made_admin(&event.change)
                        });
                    if !restated {
                        keep(events, event);
                    }
                }
                (
                    Target::Members { .. },
                    Change::AddedToGroup { group } | Change::RemovedFromGroup { group },
                ) => keep(self.groups.entry(group.clone()).or_default(), event),
                (Target::Members { .. }, _) => {}
            }
        }
    }

    /// Remembers a change this tool is about to make, so that the log's event for it
    /// is known as its own.
    pub fn own(&mut self, change: OwnChange) {
        self.own.push_back(change);
        while self.own.len() > KEEP_OWN {
            self.own.pop_front();
        }
    }

    /// This tool's own changes remembered, oldest first (kept across restarts).
    pub fn own_changes(&self) -> impl Iterator<Item = &OwnChange> {
        self.own.iter()
    }

    fn is_own(&self, user: &UserName, made: bool, at: &jiff::Timestamp) -> bool {
        let at = at.as_second();
        self.own.iter().any(|o| {
            o.user == user.as_str() && o.made_admin == made && (o.at - at).abs() <= OWN_WINDOW_SECS
        })
    }

    /// Who made `user` admin (`made` true) or not admin (false): the first such event
    /// after the last one the other way (later ones only restate it: a hub's start
    /// logs a grant for every admin it has); for an admin only through groups, the one
    /// add to their group the log showed (it names the group and a count, not who, so
    /// two adds cannot be told apart). `None`: the log has shown nothing of it.
    pub fn who_made(&self, user: &UserName, made: bool, groups: &[&str]) -> Option<Attribution> {
        let event = self
            .users
            .get(user)
            .and_then(|events| {
                let since = events
                    .iter()
                    .rposition(|e| made_admin(&e.change) != made)
                    .map_or(0, |i| i + 1);
                events
                    .iter()
                    .skip(since)
                    .find(|e| made_admin(&e.change) == made)
            })
            .or_else(|| self.group_event(made, groups))?;
        let made_by = if self.is_own(user, made, &event.at) {
            MadeBy::ThisTool
        } else {
            event.made_by.clone()
        };
        Some(Attribution {
            made_by,
            via: event.via,
            at: Some(event.at),
        })
    }

    fn group_event(&self, made: bool, groups: &[&str]) -> Option<&AdminEvent> {
        let mut found = groups.iter().flat_map(|g| {
            self.groups
                .get(*g)
                .into_iter()
                .flatten()
                .filter(|e| made_admin(&e.change) == made)
        });
        match (found.next(), found.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    }

    /// The edits that erased a user's name (JupyterHub 6.1's admin page), newest last.
    pub fn erasures(&self) -> Vec<&AdminEvent> {
        let mut found: Vec<&AdminEvent> = self
            .users
            .values()
            .flatten()
            .filter(|e| {
                matches!(
                    e.target,
                    Target::User {
                        name_erased: true,
                        ..
                    }
                )
            })
            .collect();
        found.sort_by_key(|e| e.at);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: &str, change: Change, by: &str, secs: i64) -> AdminEvent {
        AdminEvent {
            target: Target::User {
                name: user.into(),
                name_erased: false,
            },
            change,
            made_by: MadeBy::Actor(by.into()),
            via: Some(Via::AdminPage),
            at: jiff::Timestamp::from_second(secs).unwrap(),
            status: Some(200),
        }
    }

    #[test]
    fn the_latest_event_of_the_changes_direction_says_who_made_it() {
        let mut ledger = Ledger::default();
        ledger.add([
            event("newbie", Change::CreatedAdmin, "dave", 50),
            event("newbie", Change::Revoked, "carol", 60),
            event("Newbie", Change::Granted, "rep-lee", 100),
        ]);
        let made = ledger
            .who_made(&UserName::new("newbie"), true, &[])
            .unwrap();
        assert_eq!(made.made_by, MadeBy::Actor("rep-lee".into()));
        assert_eq!(
            made.phrase(),
            "by rep-lee in the admin page at 1970-01-01 00:01 UTC"
        );
        // The grant after the revocation explains the admin now: no event since says
        // who made them not admin.
        let newbie = UserName::new("newbie");
        assert!(ledger.who_made(&newbie, false, &[]).is_none());
        ledger.add([event("newbie", Change::Revoked, "carol", 200)]);
        let lost = ledger.who_made(&newbie, false, &[]).unwrap();
        assert_eq!(lost.made_by, MadeBy::Actor("carol".into()));
        assert!(
            ledger
                .who_made(&UserName::new("other"), true, &[])
                .is_none()
        );
    }

    #[test]
    fn this_tools_own_change_is_known_from_its_intent_not_its_name() {
        let carol = UserName::new("carol");
        // A grant in the log by the name the tool's token has, after an intent of the
        // tool's (`intent`: whether it made carol admin), if any.
        let made_by = |intent: Option<bool>| {
            let mut ledger = Ledger::default();
            ledger.add([event("carol", Change::Granted, "admin-sync", 1000)]);
            if let Some(made_admin) = intent {
                let user = carol.as_str().into();
                ledger.own(OwnChange {
                    user,
                    made_admin,
                    at: 1001,
                });
            }
            ledger.who_made(&carol, true, &[]).unwrap().made_by
        };
        assert_eq!(made_by(None), MadeBy::Actor("admin-sync".into()));
        assert_eq!(made_by(Some(true)), MadeBy::ThisTool);
        // A revocation intent does not claim a grant.
        assert_ne!(made_by(Some(false)), MadeBy::ThisTool);
    }

    #[test]
    fn a_group_add_names_its_actor_only_when_it_is_the_only_one() {
        let add = |by: &str, secs| AdminEvent {
            target: Target::Members { count: 1 },
            change: Change::AddedToGroup {
                group: "hub-admins".into(),
            },
            made_by: MadeBy::Actor(by.into()),
            via: Some(Via::Api),
            at: jiff::Timestamp::from_second(secs).unwrap(),
            status: Some(200),
        };
        let mut ledger = Ledger::default();
        ledger.add([add("rep-lee", 10)]);
        let gadmin = UserName::new("gadmin");
        let found = ledger.who_made(&gadmin, true, &["hub-admins"]).unwrap();
        assert_eq!(found.made_by, MadeBy::Actor("rep-lee".into()));
        ledger.add([add("mallory", 20)]);
        assert!(ledger.who_made(&gadmin, true, &["hub-admins"]).is_none());
    }

    #[test]
    fn a_hub_start_restating_an_admin_does_not_hide_who_made_them() {
        let start = |secs| AdminEvent {
            made_by: MadeBy::Configuration,
            via: Some(Via::HubStart),
            ..event("newbie", Change::Granted, "x", secs)
        };
        let mut ledger = Ledger::default();
        ledger.add([event("newbie", Change::Granted, "rep-lee", 10)]);
        ledger.add((0..20).map(|i| start(100 + i)));
        let made = ledger
            .who_made(&UserName::new("newbie"), true, &[])
            .unwrap();
        assert_eq!(made.made_by, MadeBy::Actor("rep-lee".into()));
        // A start that makes admin again someone this tool revoked is the cause.
        ledger.add([
            event("newbie", Change::Revoked, "admin-sync", 200),
            start(300),
        ]);
        let made = ledger
            .who_made(&UserName::new("newbie"), true, &[])
            .unwrap();
        assert_eq!(made.made_by, MadeBy::Configuration);
    }

    #[test]
    fn a_phrase_says_how_once_for_the_hubs_start_and_a_login() {
        let phrase = |made_by, via| {
            Attribution {
                made_by,
                via: Some(via),
                at: Some(jiff::Timestamp::from_second(21_600).unwrap()),
            }
            .phrase()
        };
        assert_eq!(
            phrase(MadeBy::Configuration, Via::HubStart),
            "by the hub's configuration (admin_users or load_roles) at the hub's start at 1970-01-01 06:00 UTC"
        );
        assert_eq!(
            phrase(MadeBy::Authenticator, Via::Login),
            "by the authenticator at login at 1970-01-01 06:00 UTC"
        );
        assert_eq!(
            phrase(MadeBy::Authenticator, Via::Refresh),
            "by the authenticator at a login refresh at 1970-01-01 06:00 UTC"
        );
    }

    #[test]
    fn the_ledger_is_bounded_per_user() {
        let mut ledger = Ledger::default();
        ledger.add((0..100).map(|i| {
            let change = if i % 2 == 0 {
                Change::Granted
            } else {
                Change::Revoked
            };
            event("u", change, &format!("a{i}"), i)
        }));
        assert_eq!(ledger.users[&UserName::new("u")].len(), KEEP);
        let made = ledger.who_made(&UserName::new("u"), false, &[]).unwrap();
        assert_eq!(made.made_by, MadeBy::Actor("a99".into()));
    }
}
