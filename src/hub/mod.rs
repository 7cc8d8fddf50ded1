//! The JupyterHub REST API, as this tool uses it.
//!
//! Reading and writing are two traits: [`HubRead`] (the version, the token's owner,
//! the paged user and group listings as one [`HubSnapshot`]) and [`HubWrite`] (create
//! an admin, set the admin flag, take a user out of a group). A dry run is a reconcile given no writer. [`HubClient`] is
//! both over HTTP; [`memory::MemoryHub`] is both in memory, for tests of everything
//! above this module.
//!
//! Every request has a timeout and a bounded body, is retried only when the failure is
//! transient, and never follows a redirect (the token would go with it). Errors name
//! the method, the path and the status, and never the token.

mod client;
pub mod info;
pub mod memory;
mod read;
mod write;

pub use client::{HttpClients, HubClient};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use std::future::Future;
use std::time::Duration;

use crate::name::UserName;
use crate::outcome::ErrorKind;
use crate::retry::RetryPolicy;
use crate::snapshot::{HubSnapshot, TokenOwner};

/// The read side of a hub.
pub trait HubRead: Send + Sync {
    /// `GET /`: the hub's version.
    fn version(&self) -> impl Future<Output = Result<String, HubError>> + Send;

    /// `GET /user`: whom the token belongs to.
    fn token_owner(&self) -> impl Future<Output = Result<TokenOwner, HubError>> + Send;

    /// Everything the planner needs, or an error: never part of a listing.
    ///
    /// `keep` says which users to keep besides admins, and which roles make admins, so
    /// memory does not grow with the hub.
    fn snapshot(
        &self,
        keep: &Keep<'_>,
    ) -> impl Future<Output = Result<HubSnapshot, HubError>> + Send;

    /// `GET /info`: the hub's authenticator, when the token may read it. (No default:
    /// a wrapper that forgot to pass it on would hide the authenticator warning.)
    fn authenticator(&self) -> impl Future<Output = Option<info::AuthenticatorInfo>> + Send;

    /// How many requests this reader has sent (retries included), for reports.
    fn requests_sent(&self) -> u64;
}

/// What a snapshot keeps of a hub besides the admins by flag.
#[derive(Clone, Copy)]
pub struct Keep<'a> {
    /// The users to keep whatever they are (the declared ones).
    pub user: &'a (dyn Fn(&UserName) -> bool + Sync),
    /// The roles that make whoever holds them an admin: always `admin`, and the
    /// roster's `admin_roles`. Groups holding one of them are read with their members.
    pub admin_roles: &'a [String],
}

impl std::fmt::Debug for Keep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keep")
            .field("admin_roles", &self.admin_roles)
            .finish_non_exhaustive()
    }
}

impl Keep<'_> {
    pub fn is_admin_role(&self, role: &str) -> bool {
        role == ADMIN_ROLE || self.admin_roles.iter().any(|r| r == role)
    }
}

pub use crate::roster::ADMIN_ROLE;

/// The write side of a hub. Nothing here deletes a user.
pub trait HubWrite: Send + Sync {
    /// Creates `name` as an admin; if the user exists by now, grants admin instead.
    fn create_admin(&self, name: &str) -> impl Future<Output = Result<Created, HubError>> + Send;

    /// Sets `name`'s admin flag.
    fn set_admin(
        &self,
        name: &str,
        admin: bool,
    ) -> impl Future<Output = Result<(), HubError>> + Send;

    /// Takes `name` out of `group` (`DELETE /groups/{group}/users`). A hub whose
    /// authenticator manages groups refuses: [`HubError::GroupsManaged`].
    fn remove_from_group(
        &self,
        group: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), HubError>> + Send;
}

/// How a declared admin came to exist on the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// `POST /users/{name}` created the user as admin.
    New,
    /// The user appeared since the listing (409); the admin flag was set instead.
    Existed,
}

/// The `Accept` value that makes `GET /users` answer with pages. Without it the hub
/// answers a plain array silently cut at its page maximum.
pub const PAGINATION_ACCEPT: &str = "application/jupyterhub-pagination+json";

/// How a client behaves; the same for every hub of a run.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout (connect, send, read the answer).
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// `limit` asked for on each page of `GET /users`; the hub clamps it to its own
    /// maximum (200 unless `api_page_max_limit` is raised) and says so in the answer.
    pub page_size: u32,
    /// Answers larger than this are refused.
    pub max_body_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            page_size: 10_000,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

/// A failed exchange with a hub.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HubError {
    #[error("{method} {path}: {message}")]
    Transport {
        method: Method,
        path: String,
        message: String,
        timeout: bool,
    },
    #[error("{method} {path}: HTTP {status}{}: {body}", hint(*status))]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        body: String,
    },
    #[error(
        "{method} {path}: the answer is not what JupyterHub sends ({message}); it began: {body}"
    )]
    Decode {
        method: Method,
        path: String,
        message: String,
        body: String,
    },
    #[error("{method} {path}: the answer is larger than {limit} bytes")]
    TooLarge {
        method: Method,
        path: String,
        limit: usize,
    },
    #[error(
        "{method} {path}: the hub redirected ({status}) to {location}; redirects are not followed, so that the token stays with the hub (is api_url right?)"
    )]
    Redirect {
        method: Method,
        path: String,
        status: StatusCode,
        location: String,
    },
    #[error("the user listing cannot be trusted: {0}; nothing is planned from it")]
    Incomplete(String),
    #[error(
        "JupyterHub {version} is too old: this tool needs 2.0 or newer, which pages its user list"
    )]
    TooOld { version: String },
    #[error("cannot set up the client: {0}")]
    Setup(String),
    /// The hub's authenticator manages groups (`manage_groups`): the groups API
    /// answers 400 "Group management via API is disabled". Not an error of the run:
    /// the membership is drift left for the identity provider to change.
    #[error(
        "{method} {path}: the hub's authenticator manages groups, so the groups API does not change them"
    )]
    GroupsManaged { method: Method, path: String },
    /// `--plan` (see [`crate::review::saved_plan`]): the hub is not as planned (its kind
    /// `plan_changed`), or a change is not in the plan (that change's error; the run's
    /// kind is then `apply`); nothing was sent to the hub for it.
    #[error("{0}")]
    PlanChanged(String),
}

fn hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        403 => " (the hub refused the token, or its owner lacks the scope or the admin role)",
        404 => " (not found: is api_url the hub's API, ending in /hub/api?)",
        _ => "",
    }
}

impl HubError {
    /// The kind of error (a metric label, the JSON `error_kind`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            HubError::Transport { timeout: true, .. } => ErrorKind::Timeout,
            HubError::Transport { .. } => ErrorKind::Transport,
            HubError::Status { .. } => ErrorKind::Status,
            HubError::Decode { .. } => ErrorKind::Decode,
            HubError::TooLarge { .. } => ErrorKind::TooLarge,
            HubError::Redirect { .. } => ErrorKind::Redirect,
            HubError::Incomplete(_) => ErrorKind::Incomplete,
            HubError::TooOld { .. } => ErrorKind::TooOld,
            HubError::Setup(_) => ErrorKind::Setup,
            HubError::PlanChanged(_) => ErrorKind::PlanChanged,
            HubError::GroupsManaged { .. } => ErrorKind::Status,
        }
    }

    /// The HTTP status, for errors that have one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            HubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Path segments are percent-encoded except for RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The major version of a JupyterHub version string (`"5.0.0b1"` → 5).
pub(super) fn major(version: &str) -> Option<u64> {
    let digits: String = version
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Encodes one path segment (a user name): `alice@uni.edu` → `alice%40uni.edu`.
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_versions() {
        assert_eq!(major("6.1.1"), Some(6));
        assert_eq!(major("5.0.0b1"), Some(5));
        assert_eq!(major("1.5.0"), Some(1));
        assert_eq!(major("dev"), None);
    }

    #[test]
    fn segments_are_percent_encoded() {
        for (name, encoded) in [
            ("alice@uni.edu", "alice%40uni.edu"),
            ("a b/c", "a%20b%2Fc"),
            ("x-y_z.~", "x-y_z.~"),
            ("zoë", "zo%C3%AB"),
        ] {
            assert_eq!(encode_segment(name), encoded, "{name}");
        }
    }
}
