//! A hub in memory that reads and writes like the real one, so that reconcile and the
//! daemon are tested without HTTP, and on paused time.
//!
//! It keeps users by the hub's spelling, lists admins and kept users as the HTTP
//! client does, and records every write. Faults are set by hand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use reqwest::{Method, StatusCode};

use super::{Created, HubError, HubRead, HubWrite, Keep};
use crate::name::UserName;
use crate::snapshot::{AdminGroup, AdminGroups, HubSnapshot, HubUser, OwnerKind, TokenOwner};

/// A write the hub was asked to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Create(String),
    SetAdmin(String, bool),
    /// `(group, user)`.
    RemoveFromGroup(String, String),
}

/// A group: the roles it holds and its members by the hub's spelling.
#[derive(Debug, Clone, Default)]
struct Group {
    roles: Vec<String>,
    members: std::collections::BTreeSet<String>,
}

#[derive(Debug)]
struct State {
    version: String,
    owner: TokenOwner,
    /// By the hub's spelling.
    users: BTreeMap<String, bool>,
    /// Roles held directly besides `admin`, by the hub's spelling.
    roles: BTreeMap<String, Vec<String>>,
    groups: BTreeMap<String, Group>,
    /// The token may not read groups.
    groups_hidden: bool,
    /// The authenticator manages groups: writes to them are refused.
    groups_managed: bool,
    reads: u64,
    writes: Vec<Write>,
    read_failure: Option<HubError>,
    write_failure: Option<HubError>,
    /// How long each snapshot takes (on tokio's clock, so paused tests can wait).
    read_delay: std::time::Duration,
}

/// A hub in memory. Clones share the same hub.
#[derive(Debug, Clone)]
pub struct MemoryHub {
    state: Arc<Mutex<State>>,
}

impl Default for MemoryHub {
    fn default() -> Self {
        MemoryHub::new()
    }
}

impl MemoryHub {
    /// An empty JupyterHub 6.1.1 whose token belongs to the admin service `admin-sync`.
    pub fn new() -> MemoryHub {
        MemoryHub {
            state: Arc::new(Mutex::new(State {
                version: "6.1.1".to_string(),
                owner: TokenOwner {
                    kind: OwnerKind::Service,
                    name: "admin-sync".to_string(),
                    admin: Some(true),
                },
                users: BTreeMap::new(),
                roles: BTreeMap::new(),
                groups: BTreeMap::new(),
                groups_hidden: false,
                groups_managed: false,
                reads: 0,
                writes: Vec::new(),
                read_failure: None,
                write_failure: None,
                read_delay: std::time::Duration::ZERO,
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or changes a user by hand (as the hub's admin page would).
    pub fn set_user(&self, name: &str, admin: bool) -> &Self {
        self.state().users.insert(name.to_string(), admin);
        self
    }

    /// Makes `group` hold `roles` and have `members` (by the hub's spelling).
    pub fn set_group(&self, group: &str, roles: &[&str], members: &[&str]) -> &Self {
        self.state().groups.insert(
            group.to_string(),
            Group {
                roles: roles.iter().map(|r| r.to_string()).collect(),
                members: members.iter().map(|m| m.to_string()).collect(),
            },
        );
        self
    }

    /// Gives `name` (who must exist) these roles directly, besides `admin`.
    pub fn set_roles(&self, name: &str, roles: &[&str]) -> &Self {
        let roles = roles.iter().map(|r| r.to_string()).collect();
        self.state().roles.insert(name.to_string(), roles);
        self
    }

    /// The token may not read groups (`hidden`), as a `list:users` token.
    pub fn hide_groups(&self, hidden: bool) {
        self.state().groups_hidden = hidden;
    }

    /// The authenticator manages groups: the groups API refuses writes.
    pub fn manage_groups(&self, managed: bool) {
        self.state().groups_managed = managed;
    }

    /// The members of `group`, by the hub's spelling.
    pub fn members(&self, group: &str) -> Vec<String> {
        let state = self.state();
        state
            .groups
            .get(group)
            .map(|g| g.members.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The token's owner, as `GET /user` will say.
    pub fn set_owner(&self, owner: TokenOwner) {
        self.state().owner = owner;
    }

    /// Every read fails with `error` until cleared with `None`.
    pub fn fail_reads(&self, error: Option<HubError>) {
        self.state().read_failure = error;
    }

    /// Each snapshot takes this long from now on.
    pub fn delay_reads(&self, delay: std::time::Duration) {
        self.state().read_delay = delay;
    }

    /// Every write fails with `error` until cleared with `None`.
    pub fn fail_writes(&self, error: Option<HubError>) {
        self.state().write_failure = error;
    }

    /// The admins, by the hub's spelling.
    pub fn admins(&self) -> Vec<String> {
        let state = self.state();
        state
            .users
            .iter()
            .filter(|(_, admin)| **admin)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Every user, by the hub's spelling.
    pub fn users(&self) -> Vec<String> {
        self.state().users.keys().cloned().collect()
    }

    /// How many snapshots were asked for.
    pub fn reads(&self) -> u64 {
        self.state().reads
    }

    /// The writes made so far, in order.
    pub fn writes(&self) -> Vec<Write> {
        self.state().writes.clone()
    }

    /// A 503, as a hub behind a restarting proxy answers.
    pub fn unavailable(path: &str) -> HubError {
        HubError::Status {
            method: Method::GET,
            path: path.to_string(),
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: "Service Unavailable".to_string(),
        }
    }
}

impl HubRead for MemoryHub {
    async fn version(&self) -> Result<String, HubError> {
        let state = self.state();
        match &state.read_failure {
            Some(error) => Err(error.clone()),
            None => Ok(state.version.clone()),
        }
    }

    async fn token_owner(&self) -> Result<TokenOwner, HubError> {
        let state = self.state();
        match &state.read_failure {
            Some(error) => Err(error.clone()),
            None => Ok(state.owner.clone()),
        }
    }

    async fn snapshot(&self, keep: &Keep<'_>) -> Result<HubSnapshot, HubError> {
        let delay = {
            let mut state = self.state();
            state.reads += 1;
            state.read_delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let state = self.state();
        if let Some(error) = &state.read_failure {
            return Err(error.clone());
        }
        let roles_of = |name: &str| -> Vec<String> {
            let held = state.roles.get(name).map(Vec::as_slice).unwrap_or_default();
            held.iter()
                .filter(|r| r.as_str() != super::ADMIN_ROLE && keep.is_admin_role(r))
                .cloned()
                .collect()
        };
        let users = state
            .users
            .iter()
            .map(|(name, admin)| HubUser {
                name: name.clone(),
                admin: *admin,
                roles: roles_of(name),
            })
            .filter(|u| u.admin || !u.roles.is_empty() || (keep.user)(&UserName::new(&u.name)))
            .collect();
        let admin_groups = if state.groups_hidden {
            AdminGroups::NotChecked("the token may not list groups".to_string())
        } else {
            AdminGroups::Read(
                state
                    .groups
                    .iter()
                    .map(|(name, g)| AdminGroup {
                        name: name.clone(),
                        roles: g
                            .roles
                            .iter()
                            .filter(|r| keep.is_admin_role(r))
                            .cloned()
                            .collect(),
                        members: g.members.iter().cloned().collect(),
                    })
                    .filter(|g| !g.roles.is_empty())
                    .collect(),
            )
        };
        let mut snapshot = HubSnapshot::new(&state.version, Some(state.owner.clone()), users);
        snapshot.total_users = state.users.len();
        snapshot.admin_groups = admin_groups;
        Ok(snapshot)
    }

    /// A hub in memory has no authenticator to report.
    async fn authenticator(&self) -> Option<super::info::AuthenticatorInfo> {
        None
    }

    fn requests_sent(&self) -> u64 {
        self.state().reads
    }
}

impl HubWrite for MemoryHub {
    async fn create_admin(&self, name: &str) -> Result<Created, HubError> {
        let mut state = self.state();
        if let Some(error) = &state.write_failure {
            return Err(error.clone());
        }
        state.writes.push(Write::Create(name.to_string()));
        let existed = state.users.insert(name.to_string(), true).is_some();
        Ok(if existed {
            Created::Existed
        } else {
            Created::New
        })
    }

    async fn set_admin(&self, name: &str, admin: bool) -> Result<(), HubError> {
        let mut state = self.state();
        if let Some(error) = &state.write_failure {
            return Err(error.clone());
        }
        state.writes.push(Write::SetAdmin(name.to_string(), admin));
        match state.users.get_mut(name) {
            Some(flag) => {
                *flag = admin;
                Ok(())
            }
            None => Err(HubError::Status {
                method: Method::PATCH,
                path: format!("/users/{}", super::encode_segment(name)),
                status: StatusCode::NOT_FOUND,
                body: "Not Found".to_string(),
            }),
        }
    }

    async fn remove_from_group(&self, group: &str, name: &str) -> Result<(), HubError> {
        let mut state = self.state();
        if let Some(error) = &state.write_failure {
            return Err(error.clone());
        }
        let path = format!("/groups/{}/users", super::encode_segment(group));
        if state.groups_managed {
            return Err(HubError::GroupsManaged {
                method: Method::DELETE,
                path,
            });
        }
        state
            .writes
            .push(Write::RemoveFromGroup(group.to_string(), name.to_string()));
        match state.groups.get_mut(group) {
            Some(g) => {
                g.members.remove(name);
                Ok(())
            }
            None => Err(HubError::Status {
                method: Method::DELETE,
                path,
                status: StatusCode::NOT_FOUND,
                body: "Not Found".to_string(),
            }),
        }
    }
}
