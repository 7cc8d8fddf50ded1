//! The planner: a pure function from declared and observed admins to a [`Plan`].
//!
//! No IO and no async: every rule about what may change (policies, the revocation
//! brake, who is never revoked) lives here and is tested with in-memory values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::evidence::Attribution;
use crate::name::{UserName, printable};
use crate::outcome::Skipped;
use crate::roster::{Desired, HubRules, Policy, Role};
use crate::snapshot::{AdminPaths, HubSnapshot, NamelessUser, OwnerKind};
use crate::word::count;
use crate::word::words;

pub mod floor;
pub mod provisional;

pub use floor::{Brake, Limit, floor};

words! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Action {
        /// A declared admin has no user on the hub: create it as admin.
        Create => "create",
        /// A declared admin's user exists but is not admin.
        Grant => "grant",
        /// An admin the roster does not declare.
        Revoke => "revoke",
    }
}

words! {
    /// A difference left on a hub, by what is wrong: the word the report, the metrics'
    /// `kind` label and the alerts share.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum DriftKind {
        /// A declared admin has no user on the hub.
        Missing => "missing",
        /// A declared admin's user is not admin.
        NotAdmin => "not_admin",
        /// An admin by flag whom the roster does not declare.
        Undeclared => "undeclared",
        /// A member of a group that holds an admin role, not declared (and not admin by
        /// flag: that is `undeclared`).
        GroupMember => "group_member",
        /// An admin only through an admin-equivalent role held directly, which comes
        /// from the hub's config: reported, never changed.
        RoleHolder => "role_holder",
        /// An admin the hub lists without a name (JupyterHub 6.1.1's admin page):
        /// reported, never changed.
        Nameless => "nameless",
    }
}

impl DriftKind {
    /// The words an alert lists people under.
    pub fn label(self) -> &'static str {
        match self {
            DriftKind::Missing => "missing",
            DriftKind::NotAdmin => "not admin",
            DriftKind::Undeclared => "undeclared",
            DriftKind::GroupMember => "undeclared, in an admin group",
            DriftKind::RoleHolder => "undeclared, holding an admin role",
            DriftKind::Nameless => "without a name",
        }
    }

    /// The drift a change of `action` to a user admin by `paths` would fix.
    pub fn of(action: Action, paths: &AdminPaths) -> DriftKind {
        match action {
            Action::Create => DriftKind::Missing,
            Action::Grant => DriftKind::NotAdmin,
            Action::Revoke if paths.flag => DriftKind::Undeclared,
            Action::Revoke if !paths.groups.is_empty() => DriftKind::GroupMember,
            Action::Revoke if !paths.roles.is_empty() => DriftKind::RoleHolder,
            Action::Revoke => DriftKind::Undeclared,
        }
    }
}

words! {
    /// The standing of the user a change is about.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Standing {
        Engineer => "engineer",
        Representative => "representative",
        Administrator => "administrator",
        /// An admin on the hub whom the roster does not declare.
        Undeclared => "undeclared",
    }
}

impl From<Role> for Standing {
    fn from(role: Role) -> Self {
        match role {
            Role::Engineer => Standing::Engineer,
            Role::Representative => Standing::Representative,
            Role::Administrator => Standing::Administrator,
        }
    }
}

/// One difference between the roster and the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    /// The user's name in normal form (what the roster and the hub are compared by).
    pub user: UserName,
    /// The name as the hub spells it (for create: the normal form, as created): what
    /// requests, reports and logs use.
    pub hub_name: String,
    pub role: Standing,
    pub added_by: Option<UserName>,
    /// The roster's name for the person, when the hub knows them by another username.
    pub person: Option<UserName>,
    /// For a revocation, how the user is admin: the flag and groups are taken away,
    /// roles held directly are not (only the hub's config can). Empty otherwise.
    pub paths: AdminPaths,
    /// Who made the state this change would undo (for a revocation, who made the user
    /// admin; for a grant, who took admin away), as the hub's log says; `None` when the
    /// roster names no log for the hub.
    pub made_by: Option<Attribution>,
    /// Whether the hub's policy lets this run make the change. A change that is not
    /// applied stays as drift.
    pub apply: bool,
}

impl Change {
    pub fn drift_kind(&self) -> DriftKind {
        DriftKind::of(self.action, &self.paths)
    }

    /// A revocation the sync cannot make: the user is admin only through a role held
    /// directly.
    pub fn unremovable(&self) -> bool {
        self.action == Action::Revoke && !self.paths.removable()
    }
}

/// Everything that differs on one hub, and what the policy lets this run do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub policy: Policy,
    /// Creates, then grants, then revokes; by name within each.
    pub changes: Vec<Change>,
    /// Set when a limit of the safety floor held every revocation back this run.
    pub brake: Option<Brake>,
    /// Users whose changes this run leaves alone because something else keeps undoing
    /// them ([`crate::daemon::fights`]); their changes stay as drift.
    pub contested: BTreeSet<UserName>,
    /// Admins the hub lists without a name: drift no change can fix.
    pub nameless: Vec<NamelessUser>,
    /// Users whose change this run leaves for the next, since it is new and the hub's
    /// log does not show it yet (the hub writes a request's line after it commits).
    pub awaiting_log: BTreeSet<UserName>,
    /// Undeclared admins a one-shot run without the daemon's state leaves to the
    /// daemon: they may be provisional administrators ([`provisional`]).
    pub maybe_provisional: BTreeSet<UserName>,
}

impl Plan {
    /// True when the hub is exactly as declared.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.nameless.is_empty()
    }

    /// The changes this run makes, in the order to make them.
    pub fn to_apply(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.apply)
    }

    /// Leaves the changes of `users` undone this run (contested users).
    pub fn hold(&mut self, users: &BTreeSet<UserName>) {
        let held = self.set_aside(|c| users.contains(&c.user));
        self.contested.extend(held);
    }

    /// Leaves the changes of `users` for the next run: the hub's log does not show yet
    /// who made what they would undo.
    pub fn await_log(&mut self, users: &BTreeSet<UserName>) {
        let waiting = self.set_aside(|c| users.contains(&c.user));
        self.awaiting_log.extend(waiting);
    }

    /// Leaves every revocation of an undeclared admin to the daemon, which alone knows
    /// which of them are provisional administrators.
    pub fn leave_to_the_daemon(&mut self) {
        let left = self.set_aside(|c| c.action == Action::Revoke && c.role == Standing::Undeclared);
        self.maybe_provisional.extend(left);
    }

    /// Leaves undone the changes still to apply that `pick` chooses, and says whose
    /// they were.
    fn set_aside(&mut self, pick: impl Fn(&Change) -> bool) -> Vec<UserName> {
        let mut users = Vec::new();
        for change in self.changes.iter_mut().filter(|c| c.apply && pick(c)) {
            change.apply = false;
            users.push(change.user.clone());
        }
        users
    }

    /// Why the run leaves `change` in place, if it does.
    pub fn why_not_applied(&self, change: &Change) -> Option<Skipped> {
        if change.unremovable() {
            return Some(Skipped::RoleInConfig);
        }
        if !change.apply && self.contested.contains(&change.user) {
            return Some(Skipped::Contested);
        }
        if !change.apply && self.awaiting_log.contains(&change.user) {
            return Some(Skipped::AwaitingLog);
        }
        if !change.apply && self.maybe_provisional.contains(&change.user) {
            return Some(Skipped::MaybeProvisional);
        }
        match (change.apply, self.policy, change.action) {
            (true, _, _) => None,
            (false, Policy::Report, _) => Some(Skipped::PolicyReport),
            (false, Policy::Grant, _) => Some(Skipped::PolicyGrant),
            (false, Policy::Enforce, _) => Some(Skipped::Brake),
        }
    }

    /// The differences the policy leaves in place.
    pub fn left_as_drift(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| !c.apply)
    }
}

/// Works out the changes that bring `observed` to `desired` under a hub's `rules`.
///
/// - A declared admin missing from the hub is created as admin; one who exists and is
///   admin no way is granted the flag. A user is admin by the flag, through a group
///   that holds an admin role, or by an admin-equivalent role held directly; a
///   declared person admin any of these ways is in sync.
/// - An admin who is not declared is revoked (the flag cleared and every admin group
///   left: one revocation, however many paths), unless it is the token's own identity
///   (the sync must not lock itself out). A role held directly cannot be taken away:
///   such a revocation is drift no run applies. Engineers are declared on every hub,
///   so they are never revoked. Users are never deleted: no action can.
/// - Admins the hub lists without a name are drift no change can fix.
/// - `report` applies nothing, `grant` applies creates and grants, `enforce` also
///   revokes, unless a limit of the safety floor holds ([`floor`]), in which case
///   none is applied this run (grants still are; creates too, unless the run would
///   revoke every admin who is not an engineer, the signature of a wrong roster whose
///   creates would be look-alike users).
pub fn plan(rules: &HubRules, desired: &Desired, observed: &HubSnapshot) -> Plan {
    plan_keeping(rules, desired, observed, &BTreeSet::new())
}

/// [`plan`], leaving alone the undeclared admins in `keep` (provisional
/// administrators, [`provisional`]): neither revoked nor drift, still admins of the hub
/// for the safety floor's counts.
pub fn plan_keeping(
    rules: &HubRules,
    desired: &Desired,
    observed: &HubSnapshot,
    keep: &BTreeSet<UserName>,
) -> Plan {
    let by_name = by_normal_name(observed);
    let owner = observed
        .token_owner
        .as_ref()
        .filter(|o| o.kind == OwnerKind::User)
        .map(|o| UserName::new(&o.name));
    let (mut creates, mut grants) = declared_changes(desired, &by_name);
    let mut revokes = undeclared_changes(desired, &by_name, owner.as_ref());
    revokes.retain(|c| !keep.contains(&c.user));

    let apply_grants = matches!(rules.policy, Policy::Grant | Policy::Enforce);
    let mut apply_revokes = rules.policy == Policy::Enforce;
    let mut brake = None;
    let mut strips_the_hub = false;
    // Only a revocation the sync can make counts: an admin through a role held
    // directly stays whatever this run does.
    let revocations = revokes.iter().filter(|c| !c.unremovable()).count();
    if apply_revokes {
        let (admins, others) = admin_counts(desired, &by_name, owner.as_ref());
        brake = floor(rules, revocations, admins, others);
        strips_the_hub = revocations > 0 && revocations >= others;
        apply_revokes = brake.is_none();
    }
    // A roster that would take every admin the hub has would also create look-alike
    // users nobody can log in as (the wrong kind of ids): those wait with the
    // revocations. Grants to users the hub has still apply.
    let apply_creates = apply_grants && !(brake.is_some() && strips_the_hub);
    for c in creates.iter_mut() {
        c.apply = apply_creates;
    }
    for c in grants.iter_mut() {
        c.apply = apply_grants;
    }
    for c in revokes.iter_mut() {
        c.apply = apply_revokes && !c.unremovable();
    }

    let mut changes = creates;
    changes.append(&mut grants);
    changes.append(&mut revokes);
    Plan {
        policy: rules.policy,
        changes,
        brake,
        contested: BTreeSet::new(),
        nameless: observed.nameless.clone(),
        awaiting_log: BTreeSet::new(),
        maybe_provisional: BTreeSet::new(),
    }
}

/// Normal form → the hub's spellings of it, each with how it is admin. Several
/// spellings can share one normal form on a hub whose users were created with mixed
/// case.
type ByName<'a> = BTreeMap<UserName, Vec<(&'a str, AdminPaths)>>;

fn by_normal_name(observed: &HubSnapshot) -> ByName<'_> {
    let mut by_name: ByName<'_> = BTreeMap::new();
    for (spelling, paths) in observed.paths() {
        by_name
            .entry(UserName::new(spelling))
            .or_default()
            .push((spelling, paths));
    }
    by_name
}

/// Declared admins the hub lacks (creates) or has without any admin path (grants).
/// A declared person who is admin through a group or a role is in sync.
fn declared_changes(desired: &Desired, by_name: &ByName<'_>) -> (Vec<Change>, Vec<Change>) {
    let mut creates = Vec::new();
    let mut grants = Vec::new();
    for (name, declared) in desired {
        let change = |action, hub_name: &str| Change {
            action,
            user: name.clone(),
            hub_name: hub_name.to_string(),
            role: declared.role.into(),
            added_by: declared.added_by.clone(),
            person: declared.person.clone(),
            paths: AdminPaths::default(),
            made_by: None,
            apply: false,
        };
        match by_name.get(name) {
            None => creates.push(change(Action::Create, name.as_str())),
            Some(users) => {
                // Prefer the exact spelling; otherwise the first the hub listed.
                let (spelling, _) = users
                    .iter()
                    .find(|(n, _)| *n == name.as_str())
                    .unwrap_or(&users[0]);
                if !users.iter().any(|(_, p)| p.is_admin()) {
                    grants.push(change(Action::Grant, spelling));
                }
            }
        }
    }
    (creates, grants)
}

/// Admins the roster does not declare, one revocation each, whatever their paths;
/// never the token's own identity (the sync must not lock itself out).
fn undeclared_changes(
    desired: &Desired,
    by_name: &ByName<'_>,
    owner: Option<&UserName>,
) -> Vec<Change> {
    let mut revokes = Vec::new();
    for (name, users) in by_name {
        if desired.contains_key(name) || owner == Some(name) {
            continue;
        }
        for (spelling, paths) in users.iter().filter(|(_, p)| p.is_admin()) {
            revokes.push(Change {
                action: Action::Revoke,
                user: name.clone(),
                hub_name: spelling.to_string(),
                role: Standing::Undeclared,
                added_by: None,
                person: None,
                paths: paths.clone(),
                made_by: None,
                apply: false,
            });
        }
    }
    revokes
}

/// The hub's admins by any path (counted by the hub's spellings), and how many of them
/// the floor protects as a group: every admin but the engineers and the token's own
/// identity, which are never revoked anyway.
fn admin_counts(
    desired: &Desired,
    by_name: &ByName<'_>,
    owner: Option<&UserName>,
) -> (usize, usize) {
    let engineer = |n: &UserName| desired.get(n).is_some_and(|d| d.role == Role::Engineer);
    let (mut admins, mut others) = (0, 0);
    for (name, users) in by_name {
        let n = users.iter().filter(|(_, p)| p.is_admin()).count();
        admins += n;
        if !engineer(name) && owner != Some(name) {
            others += n;
        }
    }
    (admins, others)
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<6} {}", self.action, printable(&self.hub_name))?;
        if let Some(person) = &self.person {
            write!(f, " ({person})")?;
        }
        match (&self.role, &self.added_by) {
            (Standing::Undeclared, _) => write!(f, ": undeclared admin {}", self.paths),
            (role, Some(by)) => write!(f, ": {role}, added by {by}"),
            (role, None) => write!(f, ": {role}"),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy {}: ", self.policy)?;
        if self.is_empty() {
            return writeln!(f, "in sync");
        }
        writeln!(f, "{}", count(self.changes.len(), "difference"))?;
        for change in &self.changes {
            write!(f, "  {change}")?;
            if let Some(why) = self.why_not_applied(change) {
                write!(f, "  [drift: {why}]")?;
            }
            writeln!(f)?;
        }
        if let Some(brake) = self.brake {
            writeln!(f, "  brake: {brake}; none is made this run")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::{Declared, Share};
    use crate::snapshot::{HubUser, TokenOwner};

    fn spec(policy: Policy, max_revocations: u32) -> HubRules {
        HubRules {
            max_revocations,
            ..HubRules::new(policy)
        }
    }

    /// The enforcing plan for [`desired`] on `s`, with `max_revocations`.
    fn enforce(max_revocations: u32, s: &HubSnapshot) -> Plan {
        plan(&spec(Policy::Enforce, max_revocations), &desired(), s)
    }

    fn desired() -> Desired {
        let mut d = Desired::new();
        let mut add = |n: &str, role, by: Option<&str>| {
            d.insert(UserName::new(n), Declared::new(role, by.map(UserName::new)));
        };
        add("eng-eve", Role::Engineer, None);
        add("rep-bob", Role::Representative, None);
        add("carol", Role::Administrator, Some("rep-bob"));
        add("dave", Role::Administrator, Some("carol"));
        d
    }

    fn snapshot(users: &[(&str, bool)]) -> HubSnapshot {
        let owner = TokenOwner {
            kind: OwnerKind::Service,
            name: "admin-sync".into(),
            admin: Some(true),
        };
        let users = users.iter().map(|(n, a)| HubUser::new(*n, *a)).collect();
        HubSnapshot::new("6.1.1", Some(owner), users)
    }

    /// eng-eve and rep-bob are admins, carol is missing, dave is not admin,
    /// mallory is an undeclared admin, zed an ordinary user.
    fn drifted() -> HubSnapshot {
        snapshot(&[
            ("eng-eve", true),
            ("rep-bob", true),
            ("dave", false),
            ("mallory", true),
            ("zed", false),
        ])
    }

    fn summary(plan: &Plan) -> Vec<(Action, &str, bool)> {
        plan.changes
            .iter()
            .map(|c| (c.action, c.user.as_str(), c.apply))
            .collect()
    }

    #[test]
    fn in_sync_hub_has_an_empty_plan() {
        let s = snapshot(&[
            ("eng-eve", true),
            ("rep-bob", true),
            ("carol", true),
            ("dave", true),
            ("zed", false),
        ]);
        let p = enforce(5, &s);
        assert!(p.is_empty());
        assert_eq!(p.to_string(), "policy enforce: in sync\n");
    }

    #[test]
    fn each_policy_applies_what_it_allows_and_leaves_the_rest_as_drift() {
        let changes = [
            (Action::Create, "carol"),
            (Action::Grant, "dave"),
            (Action::Revoke, "mallory"),
        ];
        for (policy, applied) in [
            (Policy::Enforce, [true, true, true]),
            (Policy::Grant, [true, true, false]),
            (Policy::Report, [false, false, false]),
        ] {
            let p = plan(&spec(policy, 5), &desired(), &drifted());
            let want: Vec<_> = changes
                .iter()
                .zip(applied)
                .map(|(&(action, user), apply)| (action, user, apply))
                .collect();
            assert_eq!(summary(&p), want, "policy {policy}");
            let left = applied.iter().filter(|a| !**a).count();
            assert_eq!(p.left_as_drift().count(), left, "policy {policy}");
            assert_eq!(p.brake, None, "policy {policy}");
        }
    }

    #[test]
    fn changes_name_the_standing_and_who_added_whom() {
        let p = enforce(5, &drifted());
        let carol = &p.changes[0];
        assert_eq!(carol.role, Standing::Administrator);
        assert_eq!(carol.added_by, Some(UserName::new("rep-bob")));
        assert_eq!(p.changes[2].role, Standing::Undeclared);
    }

    #[test]
    fn brake_holds_every_revocation_but_not_grants() {
        let s = snapshot(&[
            ("eng-eve", true),
            ("rep-bob", true),
            ("carol", true),
            ("dave", false),
            ("m1", true),
            ("m2", true),
            ("m3", true),
        ]);
        let p = enforce(2, &s);
        assert_eq!(
            p.brake,
            Some(Brake {
                revocations: 3,
                limit: Limit::MaxRevocations(2)
            })
        );
        assert_eq!(
            p.brake.unwrap().to_string(),
            "3 revocations exceed max_revocations 2 by 1"
        );
        assert_eq!(
            summary(&p),
            [
                (Action::Grant, "dave", true),
                (Action::Revoke, "m1", false),
                (Action::Revoke, "m2", false),
                (Action::Revoke, "m3", false),
            ]
        );
        // Exactly at the limit is allowed.
        let p = enforce(3, &s);
        assert_eq!(p.brake, None);
        assert_eq!(
            p.to_apply().filter(|c| c.action == Action::Revoke).count(),
            3
        );
        // Zero means "never revoke".
        let p = enforce(0, &s);
        assert!(p.brake.is_some());
    }

    /// Three admins the roster does not know (the wrong kind of ids) and an engineer.
    fn wrong_ids() -> HubSnapshot {
        snapshot(&[
            ("eng-eve", true),
            ("ada@uni.edu", true),
            ("bo@uni.edu", true),
            ("cy@uni.edu", true),
            ("zed@uni.edu", false),
        ])
    }

    fn revocations_applied(p: &Plan) -> usize {
        p.to_apply().filter(|c| c.action == Action::Revoke).count()
    }

    #[test]
    fn revoking_every_admin_but_the_engineers_holds_whatever_the_counts() {
        let p = enforce(100, &wrong_ids());
        let brake = p.brake.expect("held");
        assert_eq!(brake.limit, Limit::EveryAdmin { admins: 3 });
        assert_eq!(revocations_applied(&p), 0);
        // Nor are the look-alike users created.
        assert_eq!(p.to_apply().count(), 0, "{p}");
        assert!(
            p.changes
                .iter()
                .all(|c| p.why_not_applied(c) == Some(Skipped::Brake))
        );
        assert!(brake.to_string().contains("wrong roster"), "{brake}");
        // One admin the roster does not know, on a hub where it is the only one: a
        // grant to a user the hub has still applies, and the next run revokes.
        let one = snapshot(&[("eng-eve", true), ("stray", true), ("rep-bob", false)]);
        let p = enforce(5, &one);
        assert_eq!(p.brake.unwrap().limit, Limit::EveryAdmin { admins: 1 });
        let applied: Vec<_> = p.to_apply().map(|c| c.user.as_str()).collect();
        assert_eq!(applied, ["rep-bob"]);
        // Once a declared admin is admin, the stray goes.
        let later = snapshot(&[("eng-eve", true), ("rep-bob", true), ("stray", true)]);
        let p = enforce(5, &later);
        assert_eq!((p.brake, revocations_applied(&p)), (None, 1));
    }

    #[test]
    fn the_share_holds_more_than_half_but_never_one_stray_admin() {
        // 6 admins: eng-eve, rep-bob, carol, and undeclared m1..m3.
        let mut users = vec![("eng-eve", true), ("rep-bob", true), ("carol", true)];
        users.extend([("m1", true), ("m2", true), ("m3", true)]);
        let p = enforce(5, &snapshot(&users));
        assert_eq!(
            (p.brake, revocations_applied(&p)),
            (None, 3),
            "half is allowed"
        );
        users.push(("m4", true));
        let p = enforce(5, &snapshot(&users));
        let brake = p.brake.expect("4 of 7 is more than half");
        assert_eq!(
            brake.limit,
            Limit::MaxRevocationShare {
                share: Share::HALF,
                admins: 7
            }
        );
        assert_eq!(
            brake.to_string(),
            "4 revocations exceed max_revocation_share 0.5 of the hub's 7 admins (at most 3) by 1"
        );
        // One of two admins is more than any small share, and still revocable.
        let two = snapshot(&[("rep-bob", true), ("stray", true)]);
        let rules = HubRules {
            max_revocation_share: Share::from_fraction(0.1).unwrap(),
            ..spec(Policy::Enforce, 5)
        };
        let p = plan(&rules, &desired(), &two);
        assert_eq!((p.brake, revocations_applied(&p)), (None, 1));
    }

    #[test]
    fn allow_revocations_lets_exactly_a_reviewed_plan_through() {
        let allowed = |n| HubRules {
            allow_revocations: Some(n),
            ..spec(Policy::Enforce, 5)
        };
        let p = plan(&allowed(3), &desired(), &wrong_ids());
        assert_eq!((p.brake, revocations_applied(&p)), (None, 3));
        let p = plan(&allowed(2), &desired(), &wrong_ids());
        assert_eq!(p.brake.unwrap().limit, Limit::Allowed(2));
        assert_eq!(revocations_applied(&p), 0);
        // It lets nothing through under a policy that does not revoke.
        let rules = HubRules {
            policy: Policy::Grant,
            ..allowed(3)
        };
        assert_eq!(
            revocations_applied(&plan(&rules, &desired(), &wrong_ids())),
            0
        );
    }

    #[test]
    fn engineers_and_the_token_owner_are_never_revoked() {
        let mut s = snapshot(&[("eng-eve", true), ("rep-bob", true), ("sync-bot", true)]);
        s.token_owner = Some(TokenOwner {
            kind: OwnerKind::User,
            name: "Sync-Bot".into(),
            admin: Some(true),
        });
        let p = enforce(5, &s);
        assert!(p.changes.iter().all(|c| c.action != Action::Revoke), "{p}");
        // A service that happens to share a user's name protects nobody.
        s.token_owner.as_mut().unwrap().kind = OwnerKind::Service;
        let p = enforce(5, &s);
        assert_eq!(
            p.changes
                .iter()
                .filter(|c| c.action == Action::Revoke)
                .count(),
            1
        );
    }

    #[test]
    fn names_match_in_normal_form_and_keep_the_hub_spelling() {
        let s = snapshot(&[("Eng-Eve", true), ("REP-BOB", false), ("Mallory", true)]);
        let p = enforce(5, &s);
        let grant = p
            .changes
            .iter()
            .find(|c| c.action == Action::Grant)
            .unwrap();
        assert_eq!(grant.user.as_str(), "rep-bob");
        assert_eq!(grant.hub_name, "REP-BOB");
        let revoke = p
            .changes
            .iter()
            .find(|c| c.action == Action::Revoke)
            .unwrap();
        assert_eq!(revoke.hub_name, "Mallory");
        assert!(p.changes.iter().all(|c| c.user.as_str() != "eng-eve"));
    }

    #[test]
    fn a_declared_name_with_two_spellings_is_admin_if_either_is() {
        let s = snapshot(&[
            ("eng-eve", true),
            ("rep-bob", true),
            ("carol", true),
            ("Dave", true),
            ("dave", false),
        ]);
        let p = enforce(5, &s);
        assert!(p.is_empty(), "{p}");
    }

    #[test]
    fn planning_is_idempotent_once_applied() {
        let hub = spec(Policy::Enforce, 5);
        let first = plan(&hub, &desired(), &drifted());
        // Apply the plan to the snapshot by hand.
        let mut after = drifted();
        for c in first.to_apply() {
            match c.action {
                Action::Create => after.users.push(HubUser::new(c.hub_name.clone(), true)),
                Action::Grant | Action::Revoke => {
                    let u = after
                        .users
                        .iter_mut()
                        .find(|u| u.name == c.hub_name)
                        .unwrap();
                    u.admin = c.action == Action::Grant;
                }
            }
        }
        assert!(plan(&hub, &desired(), &after).is_empty());
        assert_eq!(first, plan(&hub, &desired(), &drifted()));
    }

    /// `snapshot(users)` with the group `hub-admins` (role `admin`) of `members`.
    fn with_group(users: &[(&str, bool)], members: &[&str]) -> HubSnapshot {
        let mut s = snapshot(users);
        s.admin_groups = crate::snapshot::AdminGroups::Read(vec![crate::snapshot::AdminGroup {
            name: "hub-admins".into(),
            roles: vec!["admin".into()],
            members: members.iter().map(|m| m.to_string()).collect(),
        }]);
        s
    }

    #[test]
    fn a_member_of_an_admin_group_is_an_admin() {
        let in_sync = [
            ("eng-eve", true),
            ("rep-bob", false),
            ("carol", true),
            ("dave", true),
        ];
        // rep-bob is admin only through the group: in sync.
        let p = enforce(5, &with_group(&in_sync, &["rep-bob"]));
        assert!(p.is_empty(), "{p}");
        // gadmin is not declared: a revocation naming the group, of its own kind.
        let mut users = in_sync.to_vec();
        users[1].1 = true;
        let p = enforce(5, &with_group(&users, &["gadmin"]));
        assert_eq!(summary(&p), [(Action::Revoke, "gadmin", true)]);
        let revoke = &p.changes[0];
        assert_eq!(revoke.drift_kind(), DriftKind::GroupMember);
        assert!(!revoke.paths.flag);
        assert_eq!(revoke.paths.groups[0].group, "hub-admins");
        assert_eq!(
            revoke.to_string(),
            "revoke gadmin: undeclared admin by group hub-admins (by role admin)"
        );
    }

    #[test]
    fn flag_and_group_are_one_revocation_for_the_floor() {
        // Six admins; mallory by flag and group, m2 by group only, m3 by flag: three
        // revocations of six admins pass the share, four would not.
        let users = [
            ("eng-eve", true),
            ("rep-bob", true),
            ("carol", true),
            ("mallory", true),
            ("m3", true),
        ];
        let p = enforce(3, &with_group(&users, &["mallory", "m2"]));
        assert_eq!(p.brake, None, "{p}");
        let mallory = p
            .changes
            .iter()
            .find(|c| c.user.as_str() == "mallory")
            .unwrap();
        assert!(mallory.paths.flag && mallory.paths.groups.len() == 1);
        assert_eq!(mallory.drift_kind(), DriftKind::Undeclared);
        assert_eq!(revocations_applied(&p), 3);
        // The same three against max_revocations 2: held, all of them.
        let p = enforce(2, &with_group(&users, &["mallory", "m2"]));
        assert_eq!(p.brake.map(|b| b.revocations), Some(3));
        assert_eq!(revocations_applied(&p), 0);
    }

    #[test]
    fn a_role_held_directly_is_drift_no_run_applies() {
        let mut s = snapshot(&[
            ("eng-eve", true),
            ("rep-bob", true),
            ("carol", true),
            ("dave", true),
        ]);
        let mut op = HubUser::new("direct-op", false);
        op.roles = vec!["operators".into()];
        s.users.push(op);
        let p = enforce(0, &s);
        // Not a revocation the floor counts: max_revocations 0 does not brake.
        assert_eq!(p.brake, None, "{p}");
        let c = &p.changes[0];
        assert!(c.unremovable() && !c.apply);
        assert_eq!(c.drift_kind(), DriftKind::RoleHolder);
        assert_eq!(p.why_not_applied(c), Some(Skipped::RoleInConfig));
        // A declared person holding it is in sync.
        let mut d = desired();
        d.insert(
            UserName::new("direct-op"),
            Declared::new(Role::Administrator, Some(UserName::new("rep-bob"))),
        );
        assert!(plan(&spec(Policy::Enforce, 5), &d, &s).is_empty());
    }

    #[test]
    fn a_nameless_admin_is_drift_without_a_change() {
        let mut s = snapshot(&[
            ("eng-eve", true),
            ("rep-bob", true),
            ("carol", true),
            ("dave", true),
        ]);
        s.nameless.push(NamelessUser {
            created: Some("2026-12-01T12:48:00Z".into()),
            paths: AdminPaths {
                flag: true,
                ..AdminPaths::default()
            },
        });
        let p = enforce(5, &s);
        assert!(!p.is_empty());
        assert!(p.changes.is_empty());
        assert_eq!(p.nameless.len(), 1);
    }

    #[test]
    fn display_is_readable() {
        let p = plan(
            &spec(Policy::Grant, 5),
            &desired(),
            &snapshot(&[("eng-eve", true), ("REP-BOB", false), ("mallory", true)]),
        );
        insta::assert_snapshot!(p.to_string(), @r"
        policy grant: 4 differences
          create carol: administrator, added by rep-bob
          create dave: administrator, added by carol
          grant  REP-BOB: representative
          revoke mallory: undeclared admin by flag  [drift: policy grant does not revoke]
        ");
    }
}
