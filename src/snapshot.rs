//! What was read from one hub: the value the hub's read side produces and the planner
//! plans from.
//!
//! A user can be admin three ways, and a snapshot keeps what each needs: the `admin`
//! flag ([`HubUser::admin`], which is the built-in `admin` role held directly), a
//! group that holds an admin role ([`AdminGroups`]), and an admin-equivalent role held
//! directly ([`HubUser::roles`]). Users the hub lists with no name (JupyterHub 6.1.1's
//! admin page erases them) are kept apart ([`NamelessUser`]): they cannot be addressed.

use crate::name::UserName;

/// A user as the hub listed them. `name` is spelled as the hub spells it, since the
/// hub's API looks users up by that exact spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubUser {
    pub name: String,
    pub admin: bool,
    /// The admin-equivalent roles other than `admin` that the user holds directly
    /// (from the user's `roles`; empty when the token may not read roles).
    pub roles: Vec<String>,
}

impl HubUser {
    /// A user with the admin flag or not, and no other admin-equivalent role.
    pub fn new(name: impl Into<String>, admin: bool) -> HubUser {
        HubUser {
            name: name.into(),
            admin,
            roles: Vec::new(),
        }
    }
}

/// A group that holds an admin-equivalent role: each of its members is an admin of the
/// hub, whatever their flag says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGroup {
    pub name: String,
    /// The admin-equivalent roles it holds (`admin`, or one the roster names).
    pub roles: Vec<String>,
    /// Its members as the hub spells them (members without a name left out).
    pub members: Vec<String>,
}

/// The hub's groups that hold an admin-equivalent role, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminGroups {
    Read(Vec<AdminGroup>),
    /// The token may not read groups, or their members or roles: admin through a group
    /// was not checked on this hub. Holds the reason, naming the scope missing.
    NotChecked(String),
}

impl AdminGroups {
    /// The groups read (none when they could not be).
    pub fn groups(&self) -> &[AdminGroup] {
        match self {
            AdminGroups::Read(groups) => groups,
            AdminGroups::NotChecked(_) => &[],
        }
    }
}

/// An admin the hub lists with `"name": null` (JupyterHub 6.1.1's admin page sets it so
/// when "Edit User" is applied): one bad record, reported and never changed, since no
/// request can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamelessUser {
    /// When the hub created the user (`created`, as the hub wrote it), if it says.
    pub created: Option<String>,
    /// How the user is admin.
    pub paths: AdminPaths,
}

/// What the token belongs to, as `GET /user` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    User,
    /// A service (or anything else that is not a user: it protects no user name).
    Service,
}

/// Whom the hub says the token belongs to (`GET /user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub kind: OwnerKind,
    pub name: String,
    /// Whether the hub says the owner is an admin (`None` when it does not say).
    pub admin: Option<bool>,
}

impl TokenOwner {
    pub fn kind_str(&self) -> &'static str {
        match self.kind {
            OwnerKind::User => "user",
            OwnerKind::Service => "service",
        }
    }
}

/// What was read from one hub, complete: a listing that failed part-way never becomes
/// a snapshot.
///
/// To keep memory flat however large the hub, `users` holds only the users the plan
/// needs: every admin by flag or by a role held directly, and every user whose name
/// is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSnapshot {
    pub version: String,
    pub token_owner: Option<TokenOwner>,
    pub users: Vec<HubUser>,
    /// How many users the hub listed in all.
    pub total_users: usize,
    pub admin_groups: AdminGroups,
    /// Whether the listing showed users' roles (the token may read them): if not, an
    /// admin-equivalent role held directly was not checked.
    pub roles_checked: bool,
    /// Users listed without a name.
    pub nameless: Vec<NamelessUser>,
}

impl HubSnapshot {
    /// A snapshot of `users` (every group read, none holding an admin role; roles
    /// read), as tests and the in-memory hub build one.
    pub fn new(version: &str, token_owner: Option<TokenOwner>, users: Vec<HubUser>) -> Self {
        HubSnapshot {
            version: version.to_string(),
            token_owner,
            total_users: users.len(),
            users,
            admin_groups: AdminGroups::Read(Vec::new()),
            roles_checked: true,
            nameless: Vec::new(),
        }
    }

    /// The admins' names in normal form (by flag, by a group or by a role held
    /// directly), sorted, each once (spellings that differ only by case are one person
    /// to the hub).
    pub fn admin_names(&self) -> Vec<UserName> {
        let mut names: Vec<UserName> = self
            .paths()
            .into_iter()
            .filter(|(_, p)| p.is_admin())
            .map(|(name, _)| UserName::new(name))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A group through which a user is admin, and the admin-equivalent roles it holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct GroupPath {
    pub group: String,
    pub roles: Vec<String>,
}

/// How one user is admin on a hub: the flag, groups holding an admin role, roles held
/// directly. Empty: not admin.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdminPaths {
    /// The admin flag (the built-in `admin` role held directly).
    pub flag: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupPath>,
    /// Admin-equivalent roles held directly: they come from the hub's config
    /// (`load_roles`), and no API takes them away.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl AdminPaths {
    pub fn is_admin(&self) -> bool {
        self.flag || !self.groups.is_empty() || !self.roles.is_empty()
    }

    /// Whether the sync can take any of these paths away (the flag, a group).
    pub fn removable(&self) -> bool {
        self.flag || !self.groups.is_empty()
    }
}

impl std::fmt::Display for AdminPaths {
    /// `by flag`, `by flag and group hub-admins (by role admin)`, `by role operators
    /// held directly`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.flag {
            parts.push("flag".to_string());
        }
        for g in &self.groups {
            parts.push(format!(
                "group {} (by role {})",
                crate::name::printable(&g.group),
                g.roles.join(", ")
            ));
        }
        if !self.roles.is_empty() {
            let s = if self.roles.len() == 1 { "" } else { "s" };
            parts.push(format!("role{s} {} held directly", self.roles.join(", ")));
        }
        if parts.is_empty() {
            return f.write_str("not admin");
        }
        write!(f, "by {}", join_and(&parts))
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl HubSnapshot {
    /// Every user the snapshot keeps or an admin group holds, by the hub's spelling,
    /// with how they are admin (empty paths: a kept user who is not admin).
    pub fn paths(&self) -> std::collections::BTreeMap<&str, AdminPaths> {
        let mut paths: std::collections::BTreeMap<&str, AdminPaths> = self
            .users
            .iter()
            .map(|u| {
                let p = AdminPaths {
                    flag: u.admin,
                    groups: Vec::new(),
                    roles: u.roles.clone(),
                };
                (u.name.as_str(), p)
            })
            .collect();
        for group in self.admin_groups.groups() {
            for member in &group.members {
                paths
                    .entry(member.as_str())
                    .or_default()
                    .groups
                    .push(GroupPath {
                        group: group.name.clone(),
                        roles: group.roles.clone(),
                    });
            }
        }
        paths
    }
}
