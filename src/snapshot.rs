//! What was read from one hub: the value the hub's read side produces and the planner
//! plans from.

use crate::name::UserName;

/// A user as the hub listed them. `name` is spelled as the hub spells it, since the
/// hub's API looks users up by that exact spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubUser {
    pub name: String,
    pub admin: bool,
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
/// needs: every admin, and every user whose name is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSnapshot {
    pub version: String,
    pub token_owner: Option<TokenOwner>,
    pub users: Vec<HubUser>,
    /// How many users the hub listed in all.
    pub total_users: usize,
}

impl HubSnapshot {
    /// The admins' names in normal form, sorted, each once (spellings that differ only
    /// by case are one person to the hub).
    pub fn admin_names(&self) -> Vec<UserName> {
        let mut names: Vec<UserName> = self
            .users
            .iter()
            .filter(|u| u.admin)
            .map(|u| UserName::new(&u.name))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
