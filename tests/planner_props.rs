//! Properties of the pure planner, over arbitrary desired sets and hub snapshots.
//!
//! Each case builds a desired set (engineers, representatives, administrators with
//! `added_by`) and a snapshot of a hub (users spelled in mixed case, declared or not,
//! admin or not by flag, by the admin group `hub-admins` or by the admin-equivalent
//! role `operators` held directly, sometimes the token's owner), plans under any
//! policy and brake,
//! applies the plan's `to_apply()` changes to the snapshot as the hub would, and checks
//! the result against what docs/usage.md promises ("What a run does, per hub").

use std::collections::{BTreeMap, BTreeSet};

use jupyterhub_admin_sync::name::UserName;
use jupyterhub_admin_sync::plan::{Action, Plan, plan};
use jupyterhub_admin_sync::roster::{Declared, Desired, HubRules, Policy, Role, Share};
use jupyterhub_admin_sync::snapshot::{
    AdminGroup, AdminGroups, HubSnapshot, HubUser, OwnerKind, TokenOwner,
};
use proptest::prelude::*;
use proptest::sample::select;

/// Names in normal form. Small, so that declared names, hub users, undeclared admins
/// and the token's owner collide often. Includes names whose lowercase is not ASCII.
const POOL: &[&str] = &[
    "eng-eve",
    "eng-sam",
    "rep-bob",
    "rep-rita",
    "carol",
    "dave@uni.edu",
    "erin",
    "frank",
    "mallory",
    "zed",
    "admin-sync",
    "ärger",
    "σας",
];

fn spec(c: &Case) -> HubRules {
    HubRules {
        policy: c.policy,
        max_revocations: c.max,
        max_revocation_share: Share::from_basis_points(c.share_bp),
        allow_revocations: c.allow,
    }
}

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Report),
        Just(Policy::Grant),
        Just(Policy::Enforce)
    ]
}

/// A name in normal form: from the pool, or arbitrary text normalised as the roster
/// does (the roster refuses empty names and names with '/' or control characters).
fn normal_name() -> impl Strategy<Value = UserName> {
    prop_oneof![
        4 => select(POOL).prop_map(UserName::new),
        1 => "[a-zA-Z0-9@._ -]{1,8}"
            .prop_map(|s| UserName::new(&s))
            .prop_filter("a valid roster name", |n| n.problem().is_none()),
        1 => "\\PC{1,4}"
            .prop_map(|s| UserName::new(&s))
            .prop_filter("a valid roster name", |n| n.problem().is_none()),
    ]
}

/// How a hub might spell `name`: as is, upper case, capitalised, or padded.
fn spelling(name: &UserName) -> impl Strategy<Value = String> + use<> {
    let n = name.as_str().to_string();
    (0..5u8).prop_map(move |k| match k {
        0 => n.clone(),
        1 => n.to_uppercase(),
        2 => {
            let mut c = n.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => n.clone(),
            }
        }
        3 => format!(" {n}"),
        _ => n
            .chars()
            .enumerate()
            .map(|(i, ch)| {
                if i % 2 == 0 {
                    ch.to_uppercase().collect::<String>()
                } else {
                    ch.to_string()
                }
            })
            .collect(),
    })
}

fn desired() -> impl Strategy<Value = Desired> {
    prop::collection::vec(
        (normal_name(), 0..3u8, select(POOL).prop_map(UserName::new)),
        0..8,
    )
    .prop_map(|entries| {
        let mut desired = Desired::new();
        for (name, role, by) in entries {
            let declared = match role {
                0 => Declared::new(Role::Engineer, None),
                1 => Declared::new(Role::Representative, None),
                _ => Declared::new(Role::Administrator, Some(by)),
            };
            desired.entry(name).or_insert(declared);
        }
        desired
    })
}

/// The group that holds the `admin` role on every generated hub.
const GROUP: &str = "hub-admins";
/// An admin-equivalent role some users hold directly (never removable).
const ROLE: &str = "operators";

/// Users of the hub, each with whether they are in [`GROUP`]: every exact spelling at
/// most once (the reader refuses a listing with a user twice), several spellings of
/// one normal form allowed. Roles held directly are rarer than flags and groups.
fn users() -> impl Strategy<Value = Vec<(HubUser, bool)>> {
    prop::collection::vec(
        (
            normal_name(),
            any::<bool>(),
            prop::bool::weighted(0.25),
            prop::bool::weighted(0.1),
        )
            .prop_flat_map(|(name, admin, in_group, role)| {
                spelling(&name).prop_map(move |name| {
                    let mut user = HubUser::new(name, admin);
                    if role {
                        user.roles.push(ROLE.to_string());
                    }
                    (user, in_group)
                })
            }),
        0..12,
    )
    .prop_map(|users| {
        let mut seen = BTreeSet::new();
        users
            .into_iter()
            .filter(|(u, _)| seen.insert(u.name.clone()))
            .collect()
    })
}

/// The members of [`GROUP`] on `s`.
fn members(s: &HubSnapshot) -> &[String] {
    match s.admin_groups.groups() {
        [group] => &group.members,
        _ => &[],
    }
}

fn token_owner(users: Vec<HubUser>) -> impl Strategy<Value = Option<TokenOwner>> {
    // The owner's name: one of the hub's users (as spelled, or in another case), or a
    // name from the pool that may or may not be on the hub.
    let names: Vec<String> = users
        .iter()
        .flat_map(|u| [u.name.clone(), u.name.to_uppercase()])
        .chain(POOL.iter().map(|s| s.to_string()))
        .collect();
    prop::option::of((
        prop_oneof![Just(OwnerKind::User), Just(OwnerKind::Service)],
        select(names),
        prop::option::of(any::<bool>()),
    ))
    .prop_map(|o| o.map(|(kind, name, admin)| TokenOwner { kind, name, admin }))
}

fn snapshot() -> impl Strategy<Value = HubSnapshot> {
    users().prop_flat_map(|users| {
        let (users, in_group): (Vec<HubUser>, Vec<bool>) = users.into_iter().unzip();
        let group = AdminGroup {
            name: GROUP.to_string(),
            roles: vec!["admin".to_string()],
            members: users
                .iter()
                .zip(&in_group)
                .filter(|(_, g)| **g)
                .map(|(u, _)| u.name.clone())
                .collect(),
        };
        token_owner(users.clone()).prop_map(move |token_owner| {
            let mut s = HubSnapshot::new("6.1.1", token_owner, users.clone());
            s.admin_groups = AdminGroups::Read(vec![group.clone()]);
            s
        })
    })
}

/// What the hub looks like after the run makes the plan's applied changes: create adds
/// an admin user named `hub_name`; grant and revoke set the flag on the user with that
/// exact name. Panics (fails the case) on a change the hub would refuse.
fn apply(before: &HubSnapshot, plan: &Plan) -> HubSnapshot {
    let mut after = before.clone();
    for change in plan.to_apply() {
        match change.action {
            Action::Create => {
                assert!(
                    !after
                        .users
                        .iter()
                        .any(|u| UserName::new(&u.name) == change.user),
                    "create {} but the hub has a user of that name:\n{plan}",
                    change.hub_name
                );
                after
                    .users
                    .push(HubUser::new(change.hub_name.clone(), true));
                after.total_users += 1;
            }
            Action::Revoke => {
                assert!(change.paths.removable(), "{plan}");
                user_named(&mut after, &change.hub_name, plan).admin = false;
                if let AdminGroups::Read(groups) = &mut after.admin_groups {
                    groups[0].members.retain(|m| *m != change.hub_name);
                }
            }
            Action::Grant => user_named(&mut after, &change.hub_name, plan).admin = true,
        }
    }
    after
}

/// The user spelled exactly `name` on `s`; a change naming no user fails the case.
fn user_named<'a>(s: &'a mut HubSnapshot, name: &str, plan: &Plan) -> &'a mut HubUser {
    s.users
        .iter_mut()
        .find(|u| u.name == name)
        .unwrap_or_else(|| panic!("{name} names no user on the hub:\n{plan}"))
}

/// Whether the user spelled `name` is admin on `s`: by flag, group or role.
fn is_admin(s: &HubSnapshot, user: &HubUser) -> bool {
    user.admin || !user.roles.is_empty() || members(s).contains(&user.name)
}

/// Admins in normal form, by any path.
fn admins(s: &HubSnapshot) -> BTreeSet<UserName> {
    s.users
        .iter()
        .filter(|u| is_admin(s, u))
        .map(|u| UserName::new(&u.name))
        .collect()
}

/// Admins who hold [`ROLE`] directly, which no run can take away, in normal form.
fn role_holders(s: &HubSnapshot) -> BTreeSet<UserName> {
    s.users
        .iter()
        .filter(|u| !u.roles.is_empty())
        .map(|u| UserName::new(&u.name))
        .collect()
}

/// The token's owner in normal form, when it is a user (a service protects nobody).
fn owner(s: &HubSnapshot) -> Option<UserName> {
    s.token_owner
        .as_ref()
        .filter(|o| o.kind == OwnerKind::User)
        .map(|o| UserName::new(&o.name))
}

/// Each spelling's flag and membership of [`GROUP`].
fn flags(s: &HubSnapshot) -> BTreeMap<String, (bool, bool)> {
    s.users
        .iter()
        .map(|u| (u.name.clone(), (u.admin, members(s).contains(&u.name))))
        .collect()
}

/// One input to the planner: what is declared, what the hub has, and its policy.
#[derive(Debug, Clone)]
struct Case {
    desired: Desired,
    before: HubSnapshot,
    policy: Policy,
    max: u32,
    /// `max_revocation_share` in basis points.
    share_bp: u16,
    /// `--allow-revocations`.
    allow: Option<u32>,
}

fn case() -> impl Strategy<Value = Case> {
    let share = prop_oneof![Just(5_000u16), Just(10_000), Just(0), 0..=10_000u16];
    let allow = prop::option::weighted(0.2, 0..6u32);
    (desired(), snapshot(), policy(), 0..10u32, share, allow).prop_map(
        |(desired, before, policy, max, share_bp, allow)| Case {
            desired,
            before,
            policy,
            max,
            share_bp,
            allow,
        },
    )
}

/// Admins on the hub before the run (by spelling), and those of them that are
/// neither declared engineers nor the token's own user.
fn admin_counts(c: &Case) -> (usize, usize) {
    let owner = owner(&c.before);
    let admins: Vec<UserName> = c
        .before
        .users
        .iter()
        .filter(|u| is_admin(&c.before, u))
        .map(|u| UserName::new(&u.name))
        .collect();
    let others = admins
        .iter()
        .filter(|n| c.desired.get(*n).is_none_or(|d| d.role != Role::Engineer))
        .filter(|n| Some(*n) != owner.as_ref())
        .count();
    (admins.len(), others)
}

/// Whether the safety floor must hold `revocations`, worked out from docs/roster.md's
/// table rather than from the planner's code.
fn floor_holds(c: &Case, revocations: usize) -> bool {
    let (admins, others) = admin_counts(c);
    if c.policy != Policy::Enforce || revocations == 0 {
        return false;
    }
    match c.allow {
        Some(n) => revocations > n as usize,
        None => {
            revocations == others
                || revocations > c.max as usize
                || (revocations > 1 && revocations * 10_000 > admins * usize::from(c.share_bp))
        }
    }
}

/// Applying the plan gives exactly the admins the policy wants, and the brake holds
/// exactly when enforce has more revocations than allowed.
fn applied_plan_reaches_the_policys_admins(c: &Case) -> Result<(), TestCaseError> {
    let (desired, before, policy) = (&c.desired, &c.before, c.policy);
    let p = plan(&spec(c), desired, before);
    let after = apply(before, &p);
    let want: BTreeSet<UserName> = desired.keys().cloned().collect();
    // Only revocations a run can make count: a role held directly stays.
    let revocations = p
        .changes
        .iter()
        .filter(|c| c.action == Action::Revoke && c.paths.removable())
        .count();

    prop_assert_eq!(p.brake.is_some(), floor_holds(c, revocations), "{}", p);
    if let Some(brake) = p.brake {
        prop_assert_eq!(brake.revocations, revocations);
        prop_assert!(brake.limit.allowed() < revocations, "{}", p);
    }

    match (policy, p.brake) {
        (Policy::Report, _) => {
            prop_assert_eq!(p.to_apply().count(), 0, "{}", p);
            prop_assert_eq!(&after, before);
        }
        (Policy::Enforce, None) => {
            // Desired, plus the token's own user if it was admin, plus whoever holds
            // an admin role directly (only the hub's config takes it away).
            let mut expected = want.clone();
            if let Some(o) = owner(before).filter(|o| admins(before).contains(o)) {
                expected.insert(o);
            }
            expected.extend(role_holders(before));
            prop_assert_eq!(admins(&after), expected, "{}", p);
        }
        // Grant, and enforce with the brake held: grants and creates only (no creates
        // when the brake held because every admin but the engineers would go).
        (Policy::Grant, _) | (Policy::Enforce, Some(_)) => {
            prop_assert!(p.to_apply().all(|c| c.action != Action::Revoke), "{}", p);
            let every_admin = p.brake.is_some() && revocations == admin_counts(c).1;
            let on_hub: BTreeSet<UserName> = before
                .users
                .iter()
                .map(|u| UserName::new(&u.name))
                .collect();
            let granted: BTreeSet<UserName> = want
                .iter()
                .filter(|n| !every_admin || on_hub.contains(*n))
                .cloned()
                .collect();
            let expected: BTreeSet<UserName> = admins(before).union(&granted).cloned().collect();
            prop_assert_eq!(admins(&after), expected, "{}", p);
            // Undeclared users keep their flags and groups, spelling by spelling.
            let (b, a) = (flags(before), flags(&after));
            for (name, admin) in &b {
                if !want.contains(&UserName::new(name)) {
                    prop_assert_eq!(a.get(name), Some(admin), "{} changed\n{}", name, p);
                }
            }
        }
    }
    Ok(())
}

/// Engineers, every declared person and the token's own user are never revoked, not
/// even as drift; nothing the plan does deletes a user; applied revocations stay within
/// the limits of the safety floor, and never take every admin who is not an engineer.
fn never_revoked_never_deleted_within_the_brake(c: &Case) -> Result<(), TestCaseError> {
    let (desired, before) = (&c.desired, &c.before);
    let p = plan(&spec(c), desired, before);
    let owner = owner(before);
    for ch in p.changes.iter().filter(|ch| ch.action == Action::Revoke) {
        prop_assert!(
            !desired.contains_key(&ch.user),
            "revokes declared {}\n{}",
            ch.user,
            p
        );
        prop_assert!(
            Some(&ch.user) != owner.as_ref(),
            "revokes the token's user\n{}",
            p
        );
    }
    for (name, declared) in desired {
        if declared.role == Role::Engineer {
            prop_assert!(
                p.changes
                    .iter()
                    .all(|ch| !(ch.action == Action::Revoke && &ch.user == name)),
                "revokes engineer {}\n{}",
                name,
                p
            );
        }
    }
    let applied = p
        .to_apply()
        .filter(|ch| ch.action == Action::Revoke)
        .count();
    prop_assert!(
        p.to_apply()
            .all(|ch| ch.action != Action::Revoke || ch.paths.removable()),
        "applies a revocation of a role held directly\n{}",
        p
    );
    let (admins_before, others) = admin_counts(c);
    match c.allow {
        Some(n) => prop_assert!(applied <= n as usize, "{} > allowed {}\n{}", applied, n, p),
        None => {
            prop_assert!(
                applied <= c.max as usize,
                "{} revocations > {}\n{}",
                applied,
                c.max,
                p
            );
            prop_assert!(
                applied <= 1 || applied * 10_000 <= admins_before * usize::from(c.share_bp),
                "{} revocations > share {} of {} admins\n{}",
                applied,
                c.share_bp,
                admins_before,
                p
            );
            prop_assert!(
                applied == 0 || applied < others,
                "revokes all {} admins who are not engineers\n{}",
                others,
                p
            );
        }
    }
    if c.policy != Policy::Enforce {
        prop_assert_eq!(applied, 0, "{}", p);
    }

    let after = apply(before, &p);
    let before_names: BTreeSet<&str> = before.users.iter().map(|u| u.name.as_str()).collect();
    let after_names: BTreeSet<&str> = after.users.iter().map(|u| u.name.as_str()).collect();
    prop_assert!(after_names.is_superset(&before_names), "{}", p);
    Ok(())
}

/// Planning again on the result leaves nothing to apply, and planning the same input
/// twice gives the same plan.
fn planning_is_idempotent_and_deterministic(c: &Case) -> Result<(), TestCaseError> {
    let hub = spec(c);
    let first = plan(&hub, &c.desired, &c.before);
    prop_assert_eq!(&first, &plan(&hub, &c.desired, &c.before));

    let after = apply(&c.before, &first);
    let second = plan(&hub, &c.desired, &after);
    // Held revocations (and creates held with them) may pass once the grants made
    // the hub's declared admins admin (the floor counts the admins the hub has);
    // nothing else is left to apply.
    let left_to_apply = second
        .to_apply()
        .filter(|ch| first.brake.is_none() || ch.action == Action::Grant)
        .count();
    prop_assert_eq!(left_to_apply, 0, "first:\n{}second:\n{}", first, second);
    if c.policy == Policy::Enforce && first.brake.is_none() {
        // Only admins by a role held directly are left, and nothing applies to them.
        prop_assert!(
            second.changes.iter().all(|ch| ch.unremovable()),
            "first:\n{}second:\n{}",
            first,
            second
        );
    }
    // What the first run leaves as drift is what the second plan reports: what it did
    // not apply, and the roles held directly of the admins it revoked.
    let left: Vec<_> = first
        .changes
        .iter()
        .filter(|ch| !ch.apply || !ch.paths.roles.is_empty())
        .map(|ch| (ch.action, ch.hub_name.clone()))
        .collect();
    let again: Vec<_> = second
        .changes
        .iter()
        .map(|ch| (ch.action, ch.hub_name.clone()))
        .collect();
    prop_assert_eq!(left, again, "first:\n{}second:\n{}", first, second);
    Ok(())
}

/// The shape of a plan: creates, then grants, then revokes, by name within each;
/// creates and grants only for declared people, once each, carrying their role and
/// `added_by`; a create uses the normal form as the hub name.
fn plan_shape(c: &Case) -> Result<(), TestCaseError> {
    let p = plan(&spec(c), &c.desired, &c.before);
    let keys: Vec<_> = p
        .changes
        .iter()
        .map(|ch| (ch.action, ch.user.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    prop_assert_eq!(&keys, &sorted, "{}", p);
    let mut granted = BTreeSet::new();
    for ch in p.changes.iter().filter(|ch| ch.action != Action::Revoke) {
        let Some(declared) = c.desired.get(&ch.user) else {
            return Err(TestCaseError::fail(format!(
                "{} is not declared\n{p}",
                ch.user
            )));
        };
        prop_assert_eq!(ch.role, declared.role.into());
        prop_assert_eq!(&ch.added_by, &declared.added_by);
        prop_assert!(granted.insert(ch.user.clone()), "{} twice\n{}", ch.user, p);
        prop_assert_eq!(UserName::new(&ch.hub_name), ch.user.clone());
        if ch.action == Action::Create {
            prop_assert_eq!(ch.hub_name.as_str(), ch.user.as_str());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Every property on each generated case (one generator run: debug-mode proptest
    /// generation is the slow part).
    #[test]
    fn planner_properties(c in case()) {
        applied_plan_reaches_the_policys_admins(&c)?;
        never_revoked_never_deleted_within_the_brake(&c)?;
        planning_is_idempotent_and_deterministic(&c)?;
        plan_shape(&c)?;
    }
}

/// The normal form is a fixed point, so a user created under it matches it next run.
#[test]
fn normal_form_is_idempotent_for_every_char() {
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let once = UserName::new(&c.to_string());
        let twice = UserName::new(once.as_str());
        assert_eq!(once, twice, "U+{:04X}", c as u32);
    }
}
