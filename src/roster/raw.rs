//! The roster file as written: serde structs that accept exactly schema v1.
//!
//! Nothing outside [`crate::roster`] sees these types; [`super::validate`] turns them
//! into a [`super::Roster`] or a list of every problem found.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

use super::Policy;

/// At most this many list entries (people, communities, hubs) in one roster, aliases
/// expanded: a small file must not expand into millions of administrators.
pub(super) const MAX_ENTRIES: usize = 100_000;

thread_local! {
    static ENTRIES: Cell<usize> = const { Cell::new(0) };
}

/// Starts a new count of list entries (call before each parse).
pub(super) fn reset_entry_budget() {
    ENTRIES.with(|n| n.set(0));
}

/// A list whose entries count against [`MAX_ENTRIES`].
fn bounded<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list (entries start with `- `)")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                let n = ENTRIES.with(|n| {
                    n.set(n.get() + 1);
                    n.get()
                });
                if n > MAX_ENTRIES {
                    return Err(A::Error::custom(format!(
                        "the roster has more than {MAX_ENTRIES} entries (aliases expanded)"
                    )));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(Bounded(PhantomData))
}

/// A [`bounded`] list whose absence (or `null`, as for the other optional keys) is told
/// apart from an empty one.
fn bounded_some<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(bound = "T: Deserialize<'de>")]
    struct List<T>(#[serde(deserialize_with = "bounded")] Vec<T>);
    Option::<List<T>>::deserialize(deserializer).map(|list| list.map(|l| l.0))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a roster: a mapping with communities (and optionally version, people, engineers, defaults)"
)]
#[schemars(rename = "Roster")]
pub(super) struct RawRoster {
    /// Optional schema version; only 1 exists.
    #[serde(default)]
    pub version: Option<u32>,
    /// Who has which id on which kind of login.
    #[serde(default, deserialize_with = "bounded")]
    pub people: Vec<RawPerson>,
    #[serde(default, deserialize_with = "bounded")]
    pub engineers: Vec<RawEngineer>,
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default, deserialize_with = "bounded")]
    pub communities: Vec<RawCommunity>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "defaults: a mapping with policy, max_revocations, max_revocation_share, login and admin_roles"
)]
#[schemars(rename = "Defaults")]
pub(super) struct RawDefaults {
    pub policy: Option<Policy>,
    pub max_revocations: Option<u32>,
    /// A fraction from 0 to 1.
    pub max_revocation_share: Option<f64>,
    /// The `people[].ids` key hubs log in by, unless a hub says otherwise.
    pub login: Option<String>,
    /// Roles, besides `admin` (always implied), that give admin rights on every hub:
    /// JupyterHub has no API that shows a role's scopes, so the operator names them.
    #[serde(default, deserialize_with = "bounded_some")]
    pub admin_roles: Option<Vec<String>>,
    /// Admins made in a hub's admin page by someone the roster entitles, kept for a
    /// while (`{keep_for: 30d}`), on every hub unless a community or a hub says
    /// otherwise.
    pub ui_grants: Option<RawUiGrants>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "ui_grants: a mapping with keep_for (`{keep_for: 30d}`; 0 turns it off)"
)]
#[schemars(rename = "UiGrants")]
pub(super) struct RawUiGrants {
    /// How long an admin made in the hub by someone the roster entitles is kept, from
    /// the grant's time in the hub's log (`30d`, `12h`; `0` keeps none).
    pub keep_for: String,
}

/// The settings one level of the roster writes, as written (see
/// [`super::settings`]): what `validate` checks into a [`super::settings::Written`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct RawSettings<'a> {
    pub policy: Option<Policy>,
    pub max_revocations: Option<u32>,
    pub max_revocation_share: Option<f64>,
    pub login: Option<&'a str>,
    pub engineers: Option<bool>,
    pub admin_roles: Option<&'a [String]>,
    pub ui_grants: Option<&'a RawUiGrants>,
}

impl RawSettings<'_> {
    /// True when the level writes no setting: every key is unwritten, as in the default
    /// (so a new key counts here without a line of its own).
    pub(super) fn is_empty(&self) -> bool {
        *self == RawSettings::default()
    }
}

impl RawDefaults {
    /// The settings `defaults` writes (every key of `defaults` is one).
    pub(super) fn settings(&self) -> RawSettings<'_> {
        let RawDefaults {
            policy,
            max_revocations,
            max_revocation_share,
            login,
            admin_roles,
            ui_grants,
        } = self;
        RawSettings {
            policy: *policy,
            max_revocations: *max_revocations,
            max_revocation_share: *max_revocation_share,
            login: login.as_deref(),
            engineers: None,
            admin_roles: admin_roles.as_deref(),
            ui_grants: ui_grants.as_ref(),
        }
    }

    /// True when the document writes no key of `defaults` (then it is not the file that
    /// holds them).
    pub(super) fn is_empty(&self) -> bool {
        self.settings().is_empty()
    }
}

impl RawHub {
    /// The settings a hub writes (the rest of its keys say where and how to reach it,
    /// and who its own administrators are).
    pub(super) fn settings(&self) -> RawSettings<'_> {
        let RawHub {
            name: _,
            api_url: _,
            token_env: _,
            token_file: _,
            ca_file: _,
            administrators: _,
            log: _,
            policy,
            max_revocations,
            max_revocation_share,
            login,
            engineers,
            admin_roles,
            ui_grants,
        } = self;
        RawSettings {
            policy: *policy,
            max_revocations: *max_revocations,
            max_revocation_share: *max_revocation_share,
            login: login.as_deref(),
            engineers: *engineers,
            admin_roles: (!admin_roles.is_empty()).then_some(admin_roles.as_slice()),
            ui_grants: ui_grants.as_ref(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a person: a mapping with a name and ids (`- {name: ada, ids: {github: ada-l}}`)"
)]
#[schemars(rename = "Person")]
pub(super) struct RawPerson {
    pub name: String,
    /// Login kind (`github`, `google`, `orcid`, …) → the username a hub of that kind
    /// gives the person.
    #[serde(default)]
    pub ids: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "an engineer: a mapping with a name (`- name: ada`)"
)]
#[schemars(rename = "Engineer")]
pub(super) struct RawEngineer {
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a representative: a mapping with a name (`- name: ada`)"
)]
#[schemars(rename = "Representative")]
pub(super) struct RawRepresentative {
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "an administrator: a mapping with name, added_by and optionally expires"
)]
#[schemars(rename = "Administrator")]
pub(super) struct RawAdministrator {
    pub name: String,
    pub added_by: String,
    /// The last day (UTC, YYYY-MM-DD) the person is declared.
    #[serde(default)]
    pub expires: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a community: a mapping with name, representatives, administrators and hubs"
)]
#[schemars(rename = "Community")]
pub(super) struct RawCommunity {
    pub name: String,
    #[serde(default, deserialize_with = "bounded")]
    pub representatives: Vec<RawRepresentative>,
    #[serde(default, deserialize_with = "bounded")]
    pub administrators: Vec<RawAdministrator>,
    #[serde(default, deserialize_with = "bounded")]
    pub hubs: Vec<RawHub>,
    /// Where this community's alerts go, on top of the global webhook.
    pub alerts: Option<RawAlerts>,
    /// Admins made in its hubs' admin pages by someone the roster entitles, kept for a
    /// while (overrides `defaults.ui_grants`; a hub may override it).
    pub ui_grants: Option<RawUiGrants>,
}

impl RawCommunity {
    /// The settings a community writes (the rest of its keys are its people, its hubs
    /// and its alert route).
    pub fn settings(&self) -> RawSettings<'_> {
        let RawCommunity {
            name: _,
            representatives: _,
            administrators: _,
            hubs: _,
            alerts: _,
            ui_grants,
        } = self;
        RawSettings {
            ui_grants: ui_grants.as_ref(),
            ..RawSettings::default()
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "alerts: a mapping with webhook_env or webhook_file (never the URL itself)"
)]
#[schemars(rename = "Alerts")]
pub(super) struct RawAlerts {
    pub webhook_env: Option<String>,
    pub webhook_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a hub: a mapping with name, api_url, token_env or token_file, and optionally policy, login, engineers, administrators, admin_roles"
)]
#[schemars(rename = "Hub")]
pub(super) struct RawHub {
    pub name: String,
    pub api_url: String,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub policy: Option<Policy>,
    pub max_revocations: Option<u32>,
    /// A fraction from 0 to 1 (overrides `defaults.max_revocation_share`).
    pub max_revocation_share: Option<f64>,
    /// PEM file with the CA that signed an https hub's certificate (private CAs).
    pub ca_file: Option<PathBuf>,
    /// The `people[].ids` key this hub's usernames are (overrides `defaults.login`).
    pub login: Option<String>,
    /// Whether the engineers are declared on this hub (default true).
    pub engineers: Option<bool>,
    /// Administrators of this hub only, on top of the community's.
    #[serde(default, deserialize_with = "bounded")]
    pub administrators: Vec<RawAdministrator>,
    /// Roles that give admin rights on this hub, on top of `defaults.admin_roles` (and
    /// `admin`, always implied).
    #[serde(default, deserialize_with = "bounded")]
    pub admin_roles: Vec<String>,
    /// Where the hub's own log is read, to say who made each admin change in the hub.
    pub log: Option<RawLog>,
    /// Admins made in this hub's admin page by someone the roster entitles, kept for a
    /// while (overrides the community's and the defaults').
    pub ui_grants: Option<RawUiGrants>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "log: a mapping with file or kubernetes, and optionally zone"
)]
#[schemars(rename = "Log")]
pub(super) struct RawLog {
    /// The file the hub writes its log to (a VM; The Littlest JupyterHub with its
    /// output appended to a file), followed across rotation.
    pub file: Option<PathBuf>,
    /// The hub pod's log in Zero to JupyterHub, read through the Kubernetes API with
    /// the daemon's service account.
    pub kubernetes: Option<RawKubernetes>,
    /// The time zone of the log's times, which carry none (an IANA name such as
    /// Europe/Berlin; default UTC, the zone of a hub in a container).
    pub zone: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "kubernetes: a mapping with namespace, and optionally selector and container"
)]
#[schemars(rename = "KubernetesLog")]
pub(super) struct RawKubernetes {
    /// The hub's namespace.
    pub namespace: String,
    /// The label selector of the hub pod (default `component=hub`).
    pub selector: Option<String>,
    /// The hub's container in the pod (default `hub`).
    pub container: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of each key `defaults` takes; the test fails when a key is missing here.
    const ONE_OF_EACH: [&str; 6] = [
        "policy: enforce",
        "max_revocations: 3",
        "max_revocation_share: 0.5",
        "login: github",
        "admin_roles: []",
        "ui_grants: {keep_for: 30d}",
    ];

    #[test]
    fn defaults_that_write_any_one_key_are_not_empty() {
        let schema = schemars::schema_for!(RawDefaults).to_value();
        let keys = schema["properties"].as_object().expect("properties");
        assert_eq!(keys.len(), ONE_OF_EACH.len(), "a key of defaults: {keys:?}");
        for one in ONE_OF_EACH {
            let defaults: RawDefaults = crate::yaml::from_str(one).expect(one);
            assert!(!defaults.is_empty(), "{one}");
        }
        let none: RawDefaults = crate::yaml::from_str("{}").unwrap();
        assert!(none.is_empty());
    }
}
