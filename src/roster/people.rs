//! `people`: one name per person in the roster, and the username each kind of login
//! gives them. A hub's `login` says which id its usernames are; a name not in `people`
//! is a username as it is.

use std::collections::BTreeMap;

use super::Person;
use super::raw::RawPerson;
use crate::name::UserName;

/// The people of the roster, checked.
#[derive(Debug, Default)]
pub(super) struct People {
    by_name: BTreeMap<UserName, Person>,
}

/// Why a person cannot be named on a hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NoId {
    pub person: UserName,
    pub login: String,
}

impl People {
    /// Checks `raw` and keeps the people that pass; `problem(subject, message)` hears
    /// each broken rule.
    pub(super) fn build(raw: &[RawPerson], problem: &mut dyn FnMut(String, String)) -> People {
        let mut people = People::default();
        // (login, id) → who claims it.
        let mut claimed: BTreeMap<(String, UserName), UserName> = BTreeMap::new();
        for raw_person in raw {
            let name = UserName::new(&raw_person.name);
            let who = format!("person {name}");
            if let Some(why) = name.problem() {
                problem(who, why.to_string());
                continue;
            }
            if people.by_name.contains_key(&name) {
                problem(who, "is listed more than once in people".to_string());
                continue;
            }
            let mut ids = BTreeMap::new();
            for (login, id) in &raw_person.ids {
                let login = login.trim().to_lowercase();
                if login.is_empty() || login.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    problem(
                        who.clone(),
                        format!("{login:?} is not a login name (like github, google, orcid)"),
                    );
                    continue;
                }
                let id = UserName::new(id);
                if let Some(why) = id.problem() {
                    problem(who.clone(), format!("{login} id: {why}"));
                    continue;
                }
                if let Some(other) = claimed.insert((login.clone(), id.clone()), name.clone()) {
                    problem(
                        who.clone(),
                        format!(
                            "{login} id {id} is also the {login} id of {other}; an id belongs to one person"
                        ),
                    );
                    continue;
                }
                ids.insert(login, id);
            }
            people.by_name.insert(name.clone(), Person { name, ids });
        }
        people
    }

    /// The username `name` has on a hub whose usernames are `login` ids: their id for
    /// a person of `people`, the name itself otherwise (or on a hub with no login).
    pub(super) fn username(&self, name: &UserName, login: Option<&str>) -> Result<UserName, NoId> {
        match (self.by_name.get(name), login) {
            (Some(person), Some(login)) => person.ids.get(login).cloned().ok_or_else(|| NoId {
                person: name.clone(),
                login: login.to_string(),
            }),
            _ => Ok(name.clone()),
        }
    }

    pub(super) fn into_vec(self) -> Vec<Person> {
        self.by_name.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, ids: &[(&str, &str)]) -> RawPerson {
        RawPerson {
            name: name.into(),
            ids: ids
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn ids_map_people_to_usernames_and_belong_to_one_person() {
        let mut problems = Vec::new();
        let people = People::build(
            &[
                raw("Ada", &[("github", "Ada-L"), ("google", "ada@example.org")]),
                raw("bob", &[("GitHub", "ada-l")]),
            ],
            &mut |s, m| problems.push(format!("{s}: {m}")),
        );
        assert_eq!(
            problems,
            [
                "person bob: github id ada-l is also the github id of ada; an id belongs to one person"
            ]
        );
        let ada = UserName::new("ada");
        assert_eq!(
            people.username(&ada, Some("github")),
            Ok(UserName::new("ada-l"))
        );
        assert_eq!(people.username(&ada, None), Ok(ada.clone()));
        assert_eq!(
            people.username(&ada, Some("orcid")),
            Err(NoId {
                person: ada.clone(),
                login: "orcid".into()
            })
        );
        let plain = UserName::new("Jo.Doe@college.example.edu");
        assert_eq!(people.username(&plain, Some("google")), Ok(plain.clone()));
    }
}
