//! A hub in memory that reads and writes like the real one, so that reconcile and the
//! daemon are tested without HTTP, and on paused time.
//!
//! It keeps users by the hub's spelling, lists admins and kept users as the HTTP
//! client does, and records every write. Faults are set by hand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use reqwest::{Method, StatusCode};

use super::{Created, HubError, HubRead, HubWrite};
use crate::name::UserName;
use crate::snapshot::{HubSnapshot, HubUser, OwnerKind, TokenOwner};

/// A write the hub was asked to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Create(String),
    SetAdmin(String, bool),
}

#[derive(Debug)]
struct State {
    version: String,
    owner: TokenOwner,
    /// By the hub's spelling.
    users: BTreeMap<String, bool>,
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

    async fn snapshot(
        &self,
        keep: &(dyn Fn(&UserName) -> bool + Sync),
    ) -> Result<HubSnapshot, HubError> {
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
        Ok(HubSnapshot {
            version: state.version.clone(),
            token_owner: Some(state.owner.clone()),
            users: state
                .users
                .iter()
                .filter(|(name, admin)| **admin || keep(&UserName::new(name)))
                .map(|(name, admin)| HubUser {
                    name: name.clone(),
                    admin: *admin,
                })
                .collect(),
            total_users: state.users.len(),
        })
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
}
