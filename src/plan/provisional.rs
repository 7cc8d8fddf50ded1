//! Provisional administrators: admins made in the hub by someone the roster entitles,
//! kept for a while and on record instead of undone (`ui_grants: {keep_for: 30d}`).
//!
//! The service this tool is for has representatives add administrators in the hub's
//! admin page, and administrators add more: a grant made there by someone who may add
//! administrators on that hub (the people `added_by` accepts: its community's
//! representatives and administrators, the hub's own administrators, the engineers
//! where the hub declares them, never another provisional admin) is kept from the
//! grant's time in the hub's log for `keep_for`. A re-grant does not extend it. Each
//! run checks the grant again against the current roster: a granter who is no longer
//! entitled ends it at once. The community is told when it starts (with the roster
//! lines that make it permanent), before it ends, and when it ends.
//!
//! [`decide`] is a pure function of the records kept so far, the plan's revocations
//! (which carry who made each admin, [`crate::evidence::Attribution`]), who is entitled
//! and the time; the caller keeps the records (the daemon's state) and re-plans with
//! the admins to keep left alone.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Action, Plan, Standing};
use crate::evidence::{MadeBy, Via};
use crate::name::UserName;

/// One provisional administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisional {
    /// As the hub spells them.
    pub user: String,
    /// Who made them admin, as the hub's log names them (a hub username).
    pub granted_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    /// When the hub's log says the grant was made (Unix seconds).
    pub granted_at: i64,
    /// When it ends (Unix seconds): `granted_at` plus `keep_for`.
    pub until: i64,
    /// Whether the community was told it ends soon.
    #[serde(default)]
    pub warned: bool,
}

/// The provisional administrators of one hub, by user in normal form.
pub type Records = BTreeMap<String, Provisional>;

/// The daemon's records of every hub, by hub name, as a one-shot run reads them from
/// its state.
pub type ByHub = BTreeMap<String, Records>;

/// What the community is told about a provisional administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Kept from now on: who made them admin, until when, and how to make it permanent.
    Kept(Provisional),
    /// Ends within the warning.
    Ending(Provisional),
    /// Ended early: the one who made the grant is no longer entitled (the reason).
    Lapsed(Provisional, String),
    /// `keep_for` has run out: the hub's policy applies to them again.
    Ended(Provisional),
}

/// What a run does about provisional administrators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Admins the run leaves alone (neither revoked nor drift).
    pub keep: BTreeSet<UserName>,
    /// The records to keep for the next run.
    pub records: Records,
    pub notices: Vec<Notice>,
}

/// How long grants are kept, and how long before the end the community is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keeping {
    pub keep_for: Duration,
    pub warn_before: Duration,
}

/// Decides, for each undeclared admin of `plan`, whether they are (or become) a
/// provisional administrator, at `now` (Unix seconds): a record still valid keeps them;
/// a grant the log attributes to someone `entitled` starts a record; otherwise the
/// hub's policy applies. Records of users who are no longer undeclared admins (revoked
/// by someone, or now in the roster) are dropped.
pub fn decide(
    records: &Records,
    plan: &Plan,
    entitled: &dyn Fn(&UserName) -> bool,
    now: i64,
    keeping: Keeping,
) -> Decision {
    let mut decision = Decision::default();
    let warn = seconds(keeping.warn_before);
    let is_provisional = |name: &UserName| records.contains_key(name.as_str());
    for change in plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Revoke && c.role == Standing::Undeclared)
    {
        let user = &change.user;
        let record = match records.get(user.as_str()) {
            Some(record) => record.clone(),
            None => {
                let grant = Grant {
                    user,
                    hub_name: &change.hub_name,
                    made: change.made_by.as_ref(),
                };
                let Some(record) = grant.start(entitled, &is_provisional, keeping.keep_for, now)
                else {
                    continue;
                };
                decision.notices.push(Notice::Kept(record.clone()));
                record
            }
        };
        let granter = UserName::new(&record.granted_by);
        if !entitled(&granter) || is_provisional(&granter) {
            let why = format!(
                "{} is no longer one who may add administrators on the hub",
                crate::name::printable(&record.granted_by)
            );
            decision.notices.push(Notice::Lapsed(record, why));
        } else if now >= record.until {
            decision.notices.push(Notice::Ended(record));
        } else {
            let mut record = record;
            if !record.warned && now >= record.until - warn {
                record.warned = true;
                decision.notices.push(Notice::Ending(record.clone()));
            }
            decision.keep.insert(user.clone());
            decision.records.insert(user.as_str().to_string(), record);
        }
    }
    decision
}

/// An undeclared admin of a hub and who made them admin, as the hub's log says.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// The user in normal form.
    pub user: &'a UserName,
    /// The user as the hub spells them (what the record keeps).
    pub hub_name: &'a str,
    pub made: Option<&'a crate::evidence::Attribution>,
}

impl Grant<'_> {
    /// The record `ui_grants` starts for this grant at `now` (Unix seconds): when the log
    /// names a person `entitled` to add administrators, who is neither the user nor a
    /// provisional administrator, and `keep_for` from the grant's time has not run out.
    pub fn start(
        &self,
        entitled: &dyn Fn(&UserName) -> bool,
        is_provisional: &dyn Fn(&UserName) -> bool,
        keep_for: Duration,
        now: i64,
    ) -> Option<Provisional> {
        let made = self.made?;
        let MadeBy::Actor(name) = &made.made_by else {
            return None;
        };
        let granter = UserName::new(name);
        if !entitled(&granter) || is_provisional(&granter) || granter == *self.user {
            return None;
        }
        let granted_at = made.at.map_or(0, |t| t.as_second());
        let until = granted_at.saturating_add(seconds(keep_for));
        (until > now).then(|| Provisional {
            user: self.hub_name.to_string(),
            granted_by: name.clone(),
            via: made.via,
            granted_at,
            until,
            warned: false,
        })
    }
}

/// The users of `records` (one hub's) whom the same person made admin on every one of
/// `hubs`, when they are two or more, as `known` (each hub's records) says: their roster
/// line belongs to the community. As the hub spells them.
pub fn granted_on_every_hub(records: &Records, known: &ByHub, hubs: &[&str]) -> BTreeSet<String> {
    let on_every_hub = |user: &String, record: &Provisional| {
        hubs.len() > 1
            && hubs.iter().all(|hub| {
                known
                    .get(*hub)
                    .and_then(|r| r.get(user))
                    .is_some_and(|r| r.granted_by == record.granted_by)
            })
    };
    records
        .iter()
        .filter(|(user, record)| on_every_hub(user, record))
        .map(|(_, record)| record.user.clone())
        .collect()
}

impl Provisional {
    /// When the grant ends, as the texts say it: `2026-12-31 12:38 UTC`.
    pub fn until_text(&self) -> String {
        jiff::Timestamp::from_second(self.until)
            .map(crate::evidence::minute_utc)
            .unwrap_or_default()
    }
}

fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Attribution;
    use crate::plan::{Change, Plan};
    use crate::roster::Policy;
    use crate::snapshot::AdminPaths;

    const DAY: i64 = 86_400;

    fn revoke(user: &str, by: Option<&str>, at: i64) -> Change {
        Change {
            action: Action::Revoke,
            user: UserName::new(user),
            hub_name: user.to_string(),
            role: Standing::Undeclared,
            added_by: None,
            person: None,
            paths: AdminPaths {
                flag: true,
                ..AdminPaths::default()
            },
            made_by: by.map(|b| Attribution {
                made_by: MadeBy::Actor(b.to_string()),
                via: Some(Via::AdminPage),
                at: Some(jiff::Timestamp::from_second(at).unwrap()),
            }),
            apply: true,
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            policy: Policy::Enforce,
            changes,
            brake: None,
            contested: BTreeSet::new(),
            nameless: Vec::new(),
            awaiting_log: BTreeSet::new(),
            maybe_provisional: BTreeSet::new(),
        }
    }

    const KEEP: Keeping = Keeping {
        keep_for: Duration::from_secs(30 * 86_400),
        warn_before: Duration::from_secs(7 * 86_400),
    };

    fn entitled(n: &UserName) -> bool {
        ["rep-lee", "carol"].contains(&n.as_str())
    }

    /// A plan that revokes `newbie`, whom `by` made admin on day 10.
    fn newbie_made_by(by: &str) -> Plan {
        plan(vec![revoke("newbie", Some(by), 10 * DAY)])
    }

    /// The first decision over `p`: on day 11, no records yet, the roster [`entitled`].
    fn first_decision(p: &Plan) -> Decision {
        decide(&Records::new(), p, &entitled, 11 * DAY, KEEP)
    }

    #[test]
    fn a_grant_by_someone_the_roster_entitles_is_kept_from_its_time_in_the_log() {
        let p = plan(vec![
            revoke("newbie", Some("rep-lee"), 10 * DAY),
            revoke("mallory", Some("stranger"), 10 * DAY),
            revoke("old", None, 0),
        ]);
        let d = first_decision(&p);
        assert_eq!(d.keep, [UserName::new("newbie")].into());
        let record = &d.records["newbie"];
        assert_eq!(
            (record.granted_by.as_str(), record.until),
            ("rep-lee", 40 * DAY)
        );
        assert!(matches!(&d.notices[..], [Notice::Kept(r)] if r.user == "newbie"));
        // A grant older than keep_for is not kept at all.
        let d = decide(&Records::new(), &p, &entitled, 41 * DAY, KEEP);
        assert!(d.keep.is_empty() && d.notices.is_empty());
    }

    #[test]
    fn a_record_is_kept_without_news_warned_once_then_ends_and_a_regrant_does_not_extend_it() {
        let p = newbie_made_by("rep-lee");
        let first = first_decision(&p);
        let again = decide(&first.records, &p, &entitled, 12 * DAY, KEEP);
        assert_eq!((again.keep.len(), again.notices.len()), (1, 0));
        // The representative grants again later: the record's end stays.
        let regrant = plan(vec![revoke("newbie", Some("rep-lee"), 20 * DAY)]);
        let warned = decide(&again.records, &regrant, &entitled, 34 * DAY, KEEP);
        assert!(matches!(&warned.notices[..], [Notice::Ending(r)] if r.until == 40 * DAY));
        let quiet = decide(&warned.records, &regrant, &entitled, 35 * DAY, KEEP);
        assert!(quiet.notices.is_empty() && quiet.keep.len() == 1);
        let ended = decide(&quiet.records, &regrant, &entitled, 40 * DAY, KEEP);
        assert!(ended.keep.is_empty() && ended.records.is_empty());
        assert!(matches!(&ended.notices[..], [Notice::Ended(_)]));
    }

    #[test]
    fn a_granter_no_longer_entitled_ends_their_grants_at_once() {
        let p = newbie_made_by("carol");
        let first = first_decision(&p);
        let only_rep = |n: &UserName| n.as_str() == "rep-lee";
        let lapsed = decide(&first.records, &p, &only_rep, 12 * DAY, KEEP);
        assert!(lapsed.keep.is_empty());
        assert!(matches!(&lapsed.notices[..], [Notice::Lapsed(_, why)] if why.contains("carol")));
    }

    #[test]
    fn a_provisional_admin_makes_no_provisional_admins() {
        let kept = first_decision(&newbie_made_by("rep-lee"));
        // newbie (provisional) grants another; even were the roster to entitle them.
        let p = plan(vec![
            revoke("newbie", Some("rep-lee"), 10 * DAY),
            revoke("friend", Some("newbie"), 11 * DAY),
        ]);
        let everyone = |_: &UserName| true;
        let d = decide(&kept.records, &p, &everyone, 12 * DAY, KEEP);
        assert_eq!(d.keep, [UserName::new("newbie")].into());
    }

    #[test]
    fn records_of_users_no_longer_undeclared_admins_are_dropped() {
        let first = first_decision(&newbie_made_by("rep-lee"));
        // Added to the roster (no revocation planned any more), or revoked by someone.
        let d = decide(&first.records, &plan(Vec::new()), &entitled, 12 * DAY, KEEP);
        assert!(d.records.is_empty() && d.notices.is_empty());
    }

    #[test]
    fn a_grant_by_the_same_person_on_every_hub_of_the_community_is_the_communitys() {
        let a = first_decision(&newbie_made_by("rep-lee")).records;
        let b_carol = first_decision(&newbie_made_by("carol")).records;
        let every = |known: &[(&str, &Records)], hubs: &[&str]| {
            let known: ByHub = known
                .iter()
                .map(|(hub, r)| (hub.to_string(), (*r).clone()))
                .collect();
            granted_on_every_hub(&a, &known, hubs)
        };
        let newbie: BTreeSet<String> = ["newbie".to_string()].into();
        assert_eq!(every(&[("a", &a), ("b", &a)], &["a", "b"]), newbie);
        // Another person on one hub, a hub not run yet, or a community of one hub: the hub's.
        assert!(every(&[("a", &a), ("b", &b_carol)], &["a", "b"]).is_empty());
        assert!(every(&[("a", &a)], &["a", "b"]).is_empty());
        assert!(every(&[("a", &a)], &["a"]).is_empty());
    }
}
