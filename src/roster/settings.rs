//! The settings that a roster can write at more than one level (`defaults`, a
//! community, a hub), and the one rule that resolves them for a hub.
//!
//! Each level's keys are checked where they are read (`validate`) into a [`Written`]:
//! what that level says, `None` where it says nothing. [`resolve`] then turns the
//! levels of one hub into its [`Settings`]: the nearest level that writes a key wins
//! (hub, then community, then defaults, then the built-in default), and a list that
//! extends (`admin_roles`) is the union of every level. Both destructure every key, so
//! a new setting does not compile until it has its rule here.

use super::{ADMIN_ROLE, DEFAULT_MAX_REVOCATIONS, HubRules, Policy, Share};

/// The policy of a hub whose roster names none.
pub const DEFAULT_POLICY: Policy = Policy::Enforce;

/// What one level of the roster writes, checked; `None`: the level does not say.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Written {
    pub policy: Option<Policy>,
    pub max_revocations: Option<u32>,
    pub max_revocation_share: Option<Share>,
    /// The `people[].ids` key a hub's usernames are.
    pub login: Option<String>,
    /// Whether the engineers are declared on a hub.
    pub engineers: Option<bool>,
    /// Roles besides `admin` that give admin rights (checked role names, no `admin`).
    pub admin_roles: Option<Vec<String>>,
    /// How long admins made in the hub by someone the roster entitles are kept
    /// (`Duration::ZERO`: none).
    pub ui_grants: Option<std::time::Duration>,
}

/// A hub's settings, resolved from every level of the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// What a run may do on the hub (the planner's input).
    pub rules: HubRules,
    /// The `people[].ids` key its usernames are, if any.
    pub login: Option<String>,
    /// Whether the engineers are declared on it.
    pub engineers: bool,
    /// The roles whose holders (users, and members of groups holding them) are admins
    /// of the hub: `admin` and every level's `admin_roles`, sorted, each once. The
    /// roster names them because JupyterHub has no API that shows a role's scopes.
    pub admin_roles: Vec<String>,
    /// `ui_grants.keep_for`: admins made in the hub by someone the roster entitles are
    /// kept this long (provisional administrators); `None`: none is.
    pub ui_grants: Option<std::time::Duration>,
}

impl Settings {
    /// The settings of a hub no roster level says anything about.
    pub fn builtin() -> Settings {
        resolve(&[])
    }
}

/// Resolves `levels`, nearest first (hub, community, defaults): the first level that
/// writes a key gives its value; `admin_roles` of every level add up.
pub(super) fn resolve(levels: &[&Written]) -> Settings {
    let mut policy = None;
    let mut max_revocations = None;
    let mut max_revocation_share = None;
    let mut login = None;
    let mut engineers = None;
    let mut ui_grants = None;
    let mut admin_roles = vec![ADMIN_ROLE.to_string()];
    for level in levels {
        // Every key by name, no `..`: a new setting does not compile until it has a rule.
        let Written {
            policy: p,
            max_revocations: m,
            max_revocation_share: s,
            login: l,
            engineers: e,
            admin_roles: r,
            ui_grants: u,
        } = level;
        policy = policy.or(*p);
        max_revocations = max_revocations.or(*m);
        max_revocation_share = max_revocation_share.or(*s);
        login = login.or_else(|| l.clone());
        engineers = engineers.or(*e);
        ui_grants = ui_grants.or(*u);
        admin_roles.extend(r.iter().flatten().cloned());
    }
    admin_roles.sort();
    admin_roles.dedup();
    Settings {
        rules: HubRules {
            policy: policy.unwrap_or(DEFAULT_POLICY),
            max_revocations: max_revocations.unwrap_or(DEFAULT_MAX_REVOCATIONS),
            max_revocation_share: max_revocation_share.unwrap_or(Share::HALF),
            allow_revocations: None,
        },
        login,
        engineers: engineers.unwrap_or(true),
        admin_roles,
        ui_grants: ui_grants.filter(|keep| !keep.is_zero()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Option<Vec<String>> {
        Some(r.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn nothing_written_is_the_builtin_defaults() {
        let s = Settings::builtin();
        assert_eq!(s.rules, HubRules::new(Policy::Enforce));
        assert_eq!((s.login, s.engineers), (None, true));
        assert_eq!(s.admin_roles, ["admin"]);
    }

    #[test]
    fn the_nearest_level_wins_and_admin_roles_add_up() {
        let defaults = Written {
            policy: Some(Policy::Grant),
            max_revocations: Some(3),
            login: Some("github".into()),
            admin_roles: roles(&["hub-managers"]),
            ..Written::default()
        };
        let community = Written {
            max_revocations: Some(7),
            ..Written::default()
        };
        let hub = Written {
            policy: Some(Policy::Report),
            engineers: Some(false),
            admin_roles: roles(&["course-staff", "hub-managers"]),
            ..Written::default()
        };
        let s = resolve(&[&hub, &community, &defaults]);
        assert_eq!(s.rules.policy, Policy::Report);
        assert_eq!(s.rules.max_revocations, 7);
        assert_eq!(s.rules.max_revocation_share, Share::HALF);
        assert_eq!(s.login.as_deref(), Some("github"));
        assert!(!s.engineers);
        assert_eq!(s.admin_roles, ["admin", "course-staff", "hub-managers"]);
        // The defaults alone.
        let d = resolve(&[&defaults]);
        assert_eq!(
            (d.rules.policy, d.rules.max_revocations),
            (Policy::Grant, 3)
        );
    }
}
