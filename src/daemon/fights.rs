//! Fight detection: noticing that something else keeps changing a user's admin flag.
//!
//! JupyterHub re-grants every name of `c.Authenticator.admin_users` at each start, and
//! an authenticator with `admin_groups` (OAuthenticator ≥ 17) or `manage_roles`
//! (JupyterHub 5) sets or clears the flag at each login. A reconciler that disagrees
//! revokes, the hub re-grants, and the loop goes on forever. [`Fights`] remembers, per
//! user of one hub, the change the daemon last made; when the next plan wants the same
//! change again while the roster did not change for that user, that is a *reversal*.
//! After [`REVERSALS`] reversals within [`WINDOW_SECS`], the user is *contested*: the
//! daemon stops changing them (the change stays as drift, [`crate::outcome::Skipped::Contested`])
//! until the roster changes for them or the state is cleared (SIGHUP).
//!
//! Pure: time is a parameter (seconds since the Unix epoch), so every rule is tested
//! with injected time. The state is a small serde value the daemon may keep on disk;
//! losing it only means fights are noticed again from scratch.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::name::UserName;
use crate::plan::{Action, Plan};
use crate::roster::{Desired, Role};

/// Reversals within [`WINDOW_SECS`] that make a user contested.
pub const REVERSALS: usize = 2;
/// A day.
pub const WINDOW_SECS: u64 = 24 * 60 * 60;

/// What the roster says of a user, to see whether it changed for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Declared {
    Not,
    Engineer,
    Representative,
    Administrator,
}

impl Declared {
    fn of(desired: &Desired, user: &UserName) -> Declared {
        match desired.get(user).map(|d| d.role) {
            None => Declared::Not,
            Some(Role::Engineer) => Declared::Engineer,
            Some(Role::Representative) => Declared::Representative,
            Some(Role::Administrator) => Declared::Administrator,
        }
    }
}

/// Which way the daemon set the flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Made {
    /// Granted, or created as admin.
    Granted,
    Revoked,
}

impl From<Action> for Made {
    fn from(action: Action) -> Made {
        match action {
            Action::Revoke => Made::Revoked,
            Action::Grant | Action::Create => Made::Granted,
        }
    }
}

/// One user's history on one hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFight {
    /// The change the daemon last made (grant or create: admin; revoke: not), not yet
    /// undone.
    pub made: Option<Made>,
    /// What the roster said of the user when the daemon made it.
    pub declared: Declared,
    /// When each reversal was seen (seconds since the epoch), within the window.
    pub reversals: Vec<u64>,
    /// Since when the user is contested.
    pub contested_since: Option<u64>,
}

/// What a run found, for the log, the audit trail and the alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FightEvent {
    /// The daemon's last change to `user` was undone by something else.
    Reversed {
        user: UserName,
        action: Action,
        count: usize,
    },
    /// `user` is now contested: the daemon leaves them alone.
    Contested { user: UserName, action: Action },
    /// The roster changed for `user`: no longer contested.
    Cleared { user: UserName },
}

/// The fight state of one hub.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fights {
    /// By username in normal form.
    pub users: BTreeMap<String, UserFight>,
}

impl Fights {
    /// The users the daemon leaves alone.
    pub fn contested(&self) -> BTreeSet<UserName> {
        self.users
            .iter()
            .filter(|(_, f)| f.contested_since.is_some())
            .map(|(u, _)| UserName::new(u))
            .collect()
    }

    /// Forgets everything (SIGHUP).
    pub fn clear(&mut self) {
        self.users.clear();
    }

    /// Before a run applies `plan`: a change the plan wants again, that the daemon made
    /// last time while the roster said the same of the user, is a reversal. Returns the
    /// events; afterwards [`Fights::contested`] is what the run must leave alone.
    pub fn before_apply(&mut self, now: u64, desired: &Desired, plan: &Plan) -> Vec<FightEvent> {
        let mut events = Vec::new();
        let wanted: BTreeMap<&str, Action> = plan
            .changes
            .iter()
            .map(|c| (c.user.as_str(), c.action))
            .collect();
        self.users.retain(|name, fight| {
            let user = &UserName::new(name);
            // A roster change for the user ends the fight: the people in charge spoke.
            if fight.declared != Declared::of(desired, user) {
                if fight.contested_since.is_some() {
                    events.push(FightEvent::Cleared { user: user.clone() });
                }
                return false;
            }
            fight
                .reversals
                .retain(|t| now.saturating_sub(*t) < WINDOW_SECS);
            if let (Some(made), Some(&again)) = (fight.made, wanted.get(name.as_str()))
                && made == Made::from(again)
            {
                fight.made = None;
                fight.reversals.push(now);
                events.push(FightEvent::Reversed {
                    user: user.clone(),
                    action: again,
                    count: fight.reversals.len(),
                });
                if fight.contested_since.is_none() && fight.reversals.len() >= REVERSALS {
                    fight.contested_since = Some(now);
                    events.push(FightEvent::Contested {
                        user: user.clone(),
                        action: again,
                    });
                }
            }
            // Keep what still says something: a change to watch, reversals in the
            // window, or a contest.
            fight.made.is_some() || !fight.reversals.is_empty() || fight.contested_since.is_some()
        });
        events
    }

    /// After the run: remembers the changes it made (`applied`: user and action).
    pub fn after_apply<'a>(
        &mut self,
        desired: &Desired,
        applied: impl IntoIterator<Item = (&'a UserName, Action)>,
    ) {
        for (user, action) in applied {
            let declared = Declared::of(desired, user);
            let fight = self
                .users
                .entry(user.as_str().to_string())
                .or_insert_with(|| UserFight {
                    made: None,
                    declared,
                    reversals: Vec::new(),
                    contested_since: None,
                });
            fight.made = Some(action.into());
            fight.declared = declared;
        }
    }
}

/// The sentence an operator reads about a contested user: the likely cause and what to
/// change.
pub fn explain(hub: &str, user: &str, action: Action) -> String {
    let (undone, state) = match action {
        Action::Revoke => ("revoked", "admin again"),
        Action::Grant | Action::Create => ("granted", "not admin again"),
    };
    format!(
        "{user} on hub {hub} is contested: twice within a day the sync {undone} admin and later found them {state}, while the roster did not change for them; it stops changing {user} (still reported as drift). Likely cause: the hub's config lists {user} in c.Authenticator.admin_users (re-granted at every hub start; remove it there), or an admin role in load_roles with a users list (applied as an exact list at start), or the authenticator sets admin at login (OAuthenticator admin_groups, JupyterHub 5 manage_roles: make the group membership agree with the roster, or turn that off). Fix the other side or the roster; a roster change for {user} or SIGHUP clears it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;
    use crate::roster::{Declared as RosterDeclared, HubRules, Policy};
    use crate::snapshot::{HubSnapshot, HubUser};

    const HOUR: u64 = 60 * 60;

    fn desired(admins: &[&str]) -> Desired {
        admins
            .iter()
            .map(|n| {
                (
                    UserName::new(n),
                    RosterDeclared::new(Role::Representative, None),
                )
            })
            .collect()
    }

    /// One run of the daemon at `now` on a hub whose admins are `admins` (of
    /// `users`), as the hub task does it: plan, hold the contested, apply the rest.
    /// Returns the events and the users changed.
    fn run(
        fights: &mut Fights,
        now: u64,
        desired: &Desired,
        admins: &[&str],
    ) -> (Vec<FightEvent>, Vec<(String, Action)>) {
        let users = ["rep", "mallory", "eve"]
            .iter()
            .map(|n| HubUser::new(*n, admins.contains(n)))
            .collect();
        let snapshot = HubSnapshot::new("6.1.1", None, users);
        let mut p = plan(&HubRules::new(Policy::Enforce), desired, &snapshot);
        let events = fights.before_apply(now, desired, &p);
        p.hold(&fights.contested());
        let applied: Vec<(UserName, Action)> =
            p.to_apply().map(|c| (c.user.clone(), c.action)).collect();
        fights.after_apply(desired, applied.iter().map(|(u, a)| (u, *a)));
        (
            events,
            applied
                .into_iter()
                .map(|(u, a)| (u.as_str().to_string(), a))
                .collect(),
        )
    }

    #[test]
    fn two_reversals_within_a_day_make_a_user_contested_and_left_alone() {
        let mut f = Fights::default();
        let d = desired(&["rep"]);
        // Run 1: mallory (undeclared) is revoked.
        let (events, applied) = run(&mut f, 0, &d, &["rep", "mallory"]);
        assert!(events.is_empty());
        assert_eq!(applied, [("mallory".to_string(), Action::Revoke)]);
        // Run 2: in sync.
        assert_eq!(run(&mut f, HOUR, &d, &["rep"]), (vec![], vec![]));
        // The hub restarts and re-grants: reversal 1, revoked again.
        let (events, applied) = run(&mut f, 2 * HOUR, &d, &["rep", "mallory"]);
        assert_eq!(
            events,
            [FightEvent::Reversed {
                user: UserName::new("mallory"),
                action: Action::Revoke,
                count: 1
            }]
        );
        assert_eq!(applied.len(), 1);
        // Reversal 2: contested, not revoked.
        let (events, applied) = run(&mut f, 3 * HOUR, &d, &["rep", "mallory"]);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            matches!(&events[1], FightEvent::Contested { user, .. } if user.as_str() == "mallory")
        );
        assert!(applied.is_empty());
        assert_eq!(f.contested(), BTreeSet::from([UserName::new("mallory")]));
        // Later runs leave mallory alone and say nothing new.
        assert_eq!(
            run(&mut f, 4 * HOUR, &d, &["rep", "mallory"]),
            (vec![], vec![])
        );
    }

    #[test]
    fn reversals_more_than_a_day_apart_are_not_a_fight() {
        let mut f = Fights::default();
        let d = desired(&["rep"]);
        run(&mut f, 0, &d, &["rep", "mallory"]);
        run(&mut f, HOUR, &d, &["rep", "mallory"]); // reversal 1
        let (events, applied) = run(&mut f, 26 * HOUR, &d, &["rep", "mallory"]);
        assert!(
            matches!(events[..], [FightEvent::Reversed { count: 1, .. }]),
            "{events:?}"
        );
        assert_eq!(applied.len(), 1);
        assert!(f.contested().is_empty());
    }

    #[test]
    fn a_grant_undone_at_login_counts_too() {
        let mut f = Fights::default();
        let d = desired(&["rep", "eve"]);
        run(&mut f, 0, &d, &["rep"]); // grant eve
        run(&mut f, 10, &d, &["rep"]); // reversal 1, grant again
        let (events, applied) = run(&mut f, 20, &d, &["rep"]);
        assert!(events.iter().any(|e| matches!(
            e,
            FightEvent::Contested {
                action: Action::Grant,
                ..
            }
        )));
        assert!(applied.is_empty());
        assert!(explain("h", "eve", Action::Grant).contains("not admin again"));
    }

    /// Three runs that each revoke mallory, whom something keeps making admin again
    /// (from time `from`): she is contested after the third.
    fn revoke_mallory_three_times(fights: &mut Fights, from: u64) {
        let d = desired(&["rep"]);
        for t in from..from + 3 {
            run(fights, t, &d, &["rep", "mallory"]);
        }
    }

    #[test]
    fn a_roster_change_for_the_user_or_clear_ends_the_contest() {
        let mut f = Fights::default();
        revoke_mallory_three_times(&mut f, 0);
        assert_eq!(f.contested().len(), 1);
        // The roster now declares mallory: cleared, and nothing to change.
        let d2 = desired(&["rep", "mallory"]);
        let (events, _) = run(&mut f, 5, &d2, &["rep", "mallory"]);
        assert!(
            matches!(&events[..], [FightEvent::Cleared { .. }]),
            "{events:?}"
        );
        assert!(f.contested().is_empty());
        // And SIGHUP forgets everything.
        revoke_mallory_three_times(&mut f, 10);
        assert_eq!(f.contested().len(), 1);
        f.clear();
        let (_, applied) = run(&mut f, 20, &desired(&["rep"]), &["rep", "mallory"]);
        assert_eq!(applied.len(), 1, "changed again after SIGHUP");
    }
}
