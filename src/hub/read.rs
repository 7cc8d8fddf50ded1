//! The read side: version, the token's owner, and every page of users and of groups.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;

use super::{HubClient, HubError, HubRead, Keep, PAGINATION_ACCEPT, major};
use crate::name::UserName;
use crate::snapshot::{
    AdminGroup, AdminGroups, AdminPaths, GroupPath, HubSnapshot, HubUser, NamelessUser, OwnerKind,
    TokenOwner,
};

/// A hub claiming more users (or groups) than this is not believed.
const MAX_ITEMS: usize = 10_000_000;
/// How often a listing that the hub changed under us is started again.
const LISTING_TRIES: usize = 3;

#[derive(Deserialize)]
struct Root {
    version: String,
}

#[derive(Deserialize)]
struct Me {
    #[serde(default)]
    kind: Option<String>,
    name: String,
    #[serde(default)]
    admin: Option<bool>,
}

/// A page of a paged listing (`GET /users`, `GET /groups`).
#[derive(Deserialize)]
struct Page<T> {
    items: Vec<T>,
    #[serde(rename = "_pagination")]
    pagination: Pagination,
}

/// A user of `GET /users`. Other fields vary by version and scope and are skipped
/// without being kept. `name` must be there, and may be null: a user whose name the
/// 6.1.1 admin page erased.
#[derive(Deserialize)]
struct User {
    #[serde(deserialize_with = "Option::deserialize")]
    name: Option<String>,
    #[serde(default)]
    admin: bool,
    /// Absent when the token may not read users' roles.
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    created: Option<String>,
}

/// A group of `GET /groups`: `users` needs `read:groups`, `roles` `read:roles:groups`.
#[derive(Deserialize)]
struct Group {
    name: String,
    #[serde(default)]
    users: Option<Vec<Option<String>>>,
    #[serde(default)]
    roles: Option<Vec<String>>,
}

/// What the pager needs of an item: its name, to catch one listed twice.
trait Listed {
    fn listed_name(&self) -> Option<&str>;
}

impl Listed for User {
    fn listed_name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl Listed for Group {
    fn listed_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

#[derive(Deserialize)]
struct Pagination {
    offset: usize,
    limit: usize,
    total: usize,
    next: Option<Next>,
}

#[derive(Deserialize)]
struct Next {
    offset: usize,
}

/// Why a listing was not complete: the hub changed during it (worth listing again)
/// or it does not add up (an error).
enum Listing {
    Changed(String),
    Broken(HubError),
}

impl From<HubError> for Listing {
    fn from(e: HubError) -> Self {
        Listing::Broken(e)
    }
}

/// The users of a listing, as far as the snapshot keeps them.
#[derive(Default)]
struct Users {
    kept: Vec<HubUser>,
    total: usize,
    roles_checked: bool,
    /// Users without a name, with the groups they are in (resolved against the admin
    /// groups once those are read).
    nameless: Vec<(User, Vec<String>)>,
}

impl HubRead for HubClient {
    /// `GET /`: the hub's version, which needs no token.
    async fn version(&self) -> Result<String, HubError> {
        let answer = self
            .send_as(Method::GET, "/", "application/json", None, false)
            .await?;
        let root: Root = self.decode(Method::GET, "/", &answer)?;
        Ok(root.version)
    }

    async fn authenticator(&self) -> Option<crate::hub::info::AuthenticatorInfo> {
        self.read_authenticator().await
    }

    /// `GET /user`: whom the token belongs to.
    async fn token_owner(&self) -> Result<TokenOwner, HubError> {
        let answer = self
            .send(Method::GET, "/user", "application/json", None)
            .await?;
        let me: Me = self.decode(Method::GET, "/user", &answer)?;
        Ok(TokenOwner {
            kind: match me.kind.as_deref() {
                None | Some("user") => OwnerKind::User,
                Some(_) => OwnerKind::Service,
            },
            name: me.name,
            admin: me.admin,
        })
    }

    /// Reads everything the planner needs from the hub, or fails without a snapshot.
    ///
    /// Any failed page, and any listing that does not add up (an offset that goes back,
    /// an empty page before the end, an item listed twice, fewer items than the hub's
    /// `total`), fails the whole read. Groups the token may not read are a fact of the
    /// snapshot ([`AdminGroups::NotChecked`]), not a failure.
    async fn snapshot(&self, keep: &Keep<'_>) -> Result<HubSnapshot, HubError> {
        let version = self.version().await?;
        if major(&version).is_none_or(|m| m < 2) {
            return Err(HubError::TooOld { version });
        }
        let token_owner = Some(self.token_owner().await?);
        let users = self
            .again_if_changed("user", || self.list_users(keep))
            .await?;
        let admin_groups = match self.again_if_changed("group", || self.list_groups(keep)).await {
            Ok(groups) => groups,
            Err(e) if e.status() == Some(StatusCode::FORBIDDEN) => AdminGroups::NotChecked(
                "the token may not list groups (it needs list:groups, read:groups and read:roles:groups, which the admin role has)".to_string(),
            ),
            Err(e) => return Err(e),
        };
        let nameless = nameless_admins(users.nameless, &admin_groups, keep);
        Ok(HubSnapshot {
            version,
            token_owner,
            users: users.kept,
            total_users: users.total,
            admin_groups,
            roles_checked: users.roles_checked,
            nameless,
        })
    }

    fn requests_sent(&self) -> u64 {
        HubClient::requests_sent(self)
    }
}

/// The nameless users who are admins by any path, with their paths.
fn nameless_admins(
    nameless: Vec<(User, Vec<String>)>,
    groups: &AdminGroups,
    keep: &Keep<'_>,
) -> Vec<NamelessUser> {
    let roles_of: BTreeMap<&str, &[String]> = groups
        .groups()
        .iter()
        .map(|g| (g.name.as_str(), g.roles.as_slice()))
        .collect();
    nameless
        .into_iter()
        .filter_map(|(user, in_groups)| {
            let paths = AdminPaths {
                flag: user.admin,
                groups: in_groups
                    .iter()
                    .filter_map(|g| {
                        roles_of.get(g.as_str()).map(|roles| GroupPath {
                            group: g.clone(),
                            roles: roles.to_vec(),
                        })
                    })
                    .collect(),
                roles: admin_roles_besides_admin(user.roles.as_deref(), keep),
            };
            paths.is_admin().then_some(NamelessUser {
                created: user.created,
                paths,
            })
        })
        .collect()
}

/// The admin-equivalent roles in `roles` other than `admin` itself (whose holders have
/// the flag), in the hub's order.
fn admin_roles_besides_admin(roles: Option<&[String]>, keep: &Keep<'_>) -> Vec<String> {
    roles
        .unwrap_or_default()
        .iter()
        .filter(|r| r.as_str() != super::ADMIN_ROLE && keep.is_admin_role(r))
        .cloned()
        .collect()
}

impl HubClient {
    /// Runs a listing up to [`LISTING_TRIES`] times while the hub changes under it.
    async fn again_if_changed<T, F, Fut>(&self, what: &str, list: F) -> Result<T, HubError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, Listing>>,
    {
        let mut last_change = String::new();
        for _ in 0..LISTING_TRIES {
            match list().await {
                Ok(done) => return Ok(done),
                Err(Listing::Broken(e)) => return Err(e),
                Err(Listing::Changed(why)) => {
                    tracing::info!(hub = %self.hub, %why, "the {what} list changed while it was read; reading it again");
                    last_change = why;
                }
            }
        }
        Err(HubError::Incomplete(format!(
            "the {what} listing did not add up in {LISTING_TRIES} readings (last: {last_change}); either {what}s changed while they were read, or the hub's pagination is broken"
        )))
    }

    async fn list_users(&self, keep: &Keep<'_>) -> Result<Users, Listing> {
        let mut users = Users::default();
        let total = self
            .walk("/users", "user", |user: User| {
                if user.roles.is_some() {
                    users.roles_checked = true;
                }
                let Some(name) = &user.name else {
                    let groups = user.groups.clone().unwrap_or_default();
                    users.nameless.push((user, groups));
                    return;
                };
                let roles = admin_roles_besides_admin(user.roles.as_deref(), keep);
                if user.admin || !roles.is_empty() || (keep.user)(&UserName::new(name)) {
                    users.kept.push(HubUser {
                        name: name.clone(),
                        admin: user.admin,
                        roles,
                    });
                }
            })
            .await?;
        users.total = total;
        // A hub with no users shows no roles, and has none to check.
        users.roles_checked |= users.total == 0;
        Ok(users)
    }

    /// The groups that hold an admin-equivalent role, with their members; or why the
    /// token could not tell (a group shown without its members or roles).
    async fn list_groups(&self, keep: &Keep<'_>) -> Result<AdminGroups, Listing> {
        let mut groups = Vec::new();
        let mut hidden: Option<&'static str> = None;
        self.walk("/groups", "group", |group: Group| {
            let (Some(users), Some(roles)) = (group.users, group.roles) else {
                hidden = Some("the token may not read groups' members and roles (it needs read:groups and read:roles:groups, which the admin role has)");
                return;
            };
            let roles: Vec<String> = roles.into_iter().filter(|r| keep.is_admin_role(r)).collect();
            if !roles.is_empty() {
                groups.push(AdminGroup {
                    name: group.name,
                    roles,
                    members: users.into_iter().flatten().collect(),
                });
            }
        })
        .await?;
        Ok(match hidden {
            Some(why) => AdminGroups::NotChecked(why.to_string()),
            None => AdminGroups::Read(groups),
        })
    }

    /// Reads every page of `path`, handing each item to `each`, and returns the
    /// hub's total; fails unless the pages add up.
    async fn walk<T: DeserializeOwned + Listed>(
        &self,
        path: &str,
        what: &str,
        mut each: impl FnMut(T),
    ) -> Result<usize, Listing> {
        // Hashes of every name seen, to catch an item listed twice without keeping
        // every name: a collision can only refuse a listing, never accept a bad one.
        let hasher = std::collections::hash_map::RandomState::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut listed = 0usize;
        let mut offset = 0usize;
        let mut total: Option<usize> = None;
        loop {
            let page_path = format!("{path}?offset={offset}&limit={}", self.options.page_size);
            let page: Page<T> = self.page(&page_path).await?;
            let p = &page.pagination;
            let broken = |why: String| Listing::Broken(HubError::Incomplete(why));
            if p.offset != offset {
                return Err(broken(format!(
                    "asked for offset {offset}, the hub answered offset {}",
                    p.offset
                )));
            }
            if p.total > MAX_ITEMS {
                return Err(broken(format!("the hub claims {} {what}s", p.total)));
            }
            match total {
                None => total = Some(p.total),
                Some(t) if t != p.total => {
                    return Err(Listing::Changed(format!(
                        "total went from {t} to {} at offset {offset}",
                        p.total
                    )));
                }
                Some(_) => {}
            }
            if page.items.len() > p.limit.max(1) {
                return Err(broken(format!(
                    "the page at offset {offset} has {} {what}s, more than its limit {}",
                    page.items.len(),
                    p.limit
                )));
            }
            let page_len = page.items.len();
            let next = page.pagination.next.as_ref().map(|n| n.offset);
            for item in page.items {
                listed += 1;
                if let Some(name) = item.listed_name()
                    && !seen.insert(hasher.hash_one(name))
                {
                    return Err(Listing::Changed(format!("{what} {name} was listed twice")));
                }
                each(item);
            }
            let total = total.unwrap_or(0);
            if listed > total {
                return Err(Listing::Changed(format!(
                    "{listed} {what}s listed, more than the total of {total}"
                )));
            }
            match next {
                Some(next) => {
                    if next <= offset {
                        return Err(broken(format!(
                            "the next page's offset {next} does not move past {offset}"
                        )));
                    }
                    if next >= total {
                        return Err(broken(format!(
                            "the next page's offset {next} is not below the total of {total}"
                        )));
                    }
                    if page_len == 0 {
                        return Err(broken(format!(
                            "the page at offset {offset} is empty but the hub says more follow"
                        )));
                    }
                    offset = next;
                }
                None => {
                    if listed < total {
                        return Err(Listing::Changed(format!(
                            "the listing ended after {listed} {what}s, but the hub's total is {total}"
                        )));
                    }
                    return Ok(total);
                }
            }
        }
    }

    /// One page of a listing, decoded.
    async fn page<T: DeserializeOwned>(&self, path: &str) -> Result<Page<T>, HubError> {
        let answer = self
            .send(Method::GET, path, PAGINATION_ACCEPT, None)
            .await?;
        self.decode(Method::GET, path, &answer).map_err(|e| match e {
            HubError::Decode { method, path, message, body } => HubError::Decode {
                method,
                path,
                message: format!(
                    "{message}; expected a page with items and _pagination (sent Accept: {PAGINATION_ACCEPT})"
                ),
                body,
            },
            other => other,
        })
    }
}
