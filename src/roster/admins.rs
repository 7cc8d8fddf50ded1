//! Who is declared admin of one hub, by the usernames the hub knows them by: the
//! engineers (unless the hub opts out), its community's representatives and
//! administrators, and the hub's own administrators. A function of the validated
//! parts of the roster that returns its result and its problems; the validator says
//! which file they are in.

use std::collections::BTreeMap;

use super::people::{NoId, People};
use super::{Administrator, Community, Declared, Desired, Role};
use crate::name::UserName;

/// Where an administrator is declared: the community (every hub of it) or one hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Community,
    Hub,
}

/// One hub's declared admins, and what is wrong with its entries.
#[derive(Debug, Default)]
pub(super) struct HubAdmins {
    pub desired: Desired,
    /// `(subject, why)`: `administrator carol`, "is declared twice …".
    pub problems: Vec<(String, String)>,
    /// Entries that change nothing.
    pub warnings: Vec<String>,
    /// People declared on the hub who have no id for its login: `(person, login)`.
    pub missing_ids: Vec<(UserName, String)>,
}

/// The admins of one hub whose declared `engineers` (none when it opts out), community
/// and own administrators `own` are given, named by its `login` through `people`. No
/// one is declared twice for the hub; an engineer's own entry on a hub that declares
/// the engineers declares them once, as an engineer.
pub(super) fn hub_admins(
    engineers: &[UserName],
    community: &Community,
    own: &[Administrator],
    people: &People,
    login: Option<&str>,
) -> HubAdmins {
    let entries = engineers
        .iter()
        .map(|e| (Role::Engineer, Level::Community, e, None))
        .chain(
            community
                .representatives
                .iter()
                .map(|r| (Role::Representative, Level::Community, r, None)),
        )
        .chain(
            community
                .administrators
                .iter()
                .map(|a| (Role::Administrator, Level::Community, &a.name, Some(a))),
        )
        .chain(
            own.iter()
                .map(|a| (Role::Administrator, Level::Hub, &a.name, Some(a))),
        );
    let mut found = HubAdmins::default();
    let mut declarations = Declarations::default();
    for (role, level, name, admin) in entries {
        if name.problem().is_some() {
            continue;
        }
        let username = match people.username(name, login) {
            Ok(username) => username,
            Err(NoId { person, login }) => {
                found.missing_ids.push((person, login));
                continue;
            }
        };
        let entry = Entry {
            role,
            level,
            name,
            admin,
        };
        match declarations.add(username, entry) {
            Ok(Added::Declared) => {}
            Ok(Added::AsEngineer) if level == Level::Hub => found.warnings.push(format!(
                "administrator {name}: is an engineer, declared as one on this hub (it does not set engineers: false), so this entry changes nothing"
            )),
            Ok(Added::AsEngineer) => {}
            Err(why) => found.problems.push((format!("{role} {name}"), why)),
        }
    }
    found.desired = declarations.desired;
    found
}

/// One roster entry that declares a person on a hub.
#[derive(Debug, Clone, Copy)]
struct Entry<'a> {
    role: Role,
    level: Level,
    /// The roster's name for the person.
    name: &'a UserName,
    /// The administrator entry, for an administrator.
    admin: Option<&'a Administrator>,
}

/// What became of an entry that is not a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Added {
    Declared,
    /// An engineer's own representative or administrator entry on a hub that declares
    /// the engineers: they are declared once, as an engineer.
    AsEngineer,
}

/// The admins of one hub as its entries are read (engineers first), with the entry that
/// declared each username, so that a duplicate names both sides.
#[derive(Debug, Default)]
struct Declarations {
    desired: Desired,
    /// Username → the first entry that declared it.
    first: BTreeMap<UserName, (Role, Level, UserName)>,
    /// Username → the first entry that is not an engineer's: an engineer's own
    /// representative or administrator entries are checked against each other as
    /// anyone's, whether the hub declares the engineers or not.
    others: BTreeMap<UserName, (Role, Level, UserName)>,
}

impl Declarations {
    /// Declares `username` by `entry`, or says why that declares them twice.
    fn add(&mut self, username: UserName, entry: Entry<'_>) -> Result<Added, String> {
        let Entry {
            role,
            level,
            name,
            admin,
        } = entry;
        let earlier = match role {
            Role::Engineer => self.first.get(&username),
            _ => self
                .others
                .get(&username)
                .or_else(|| self.first.get(&username)),
        };
        if let Some((first_role, first_level, first_name)) = earlier.cloned() {
            let same_person = &first_name == name;
            if same_person && first_role == Role::Engineer {
                self.others.insert(username, (role, level, name.clone()));
                return Ok(Added::AsEngineer);
            }
            // Reported once for the whole community ("appears more than once").
            if same_person && first_level == Level::Community && level == Level::Community {
                return Ok(Added::Declared);
            }
            let also = if same_person {
                format!("{first_role}")
            } else {
                format!("{first_role} {first_name}, whose username here is also {username}")
            };
            let place = match level {
                Level::Community => "the community's",
                Level::Hub => "the hub's",
            };
            return Err(format!(
                "is declared twice for this hub ({place} {role}, and {also}); list each person once per hub"
            ));
        }
        if role != Role::Engineer {
            self.others
                .insert(username.clone(), (role, level, name.clone()));
        }
        self.first
            .insert(username.clone(), (role, level, name.clone()));
        self.desired.insert(
            username.clone(),
            Declared {
                role,
                added_by: admin.map(|a| a.added_by.clone()),
                person: (&username != name).then(|| name.clone()),
                expires: admin.and_then(|a| a.expires),
                hub_level: level == Level::Hub,
            },
        );
        Ok(Added::Declared)
    }
}
