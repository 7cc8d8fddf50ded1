//! The read side: version, the token's owner, and every page of users.

use reqwest::Method;
use serde::Deserialize;
use std::collections::HashSet;
use std::hash::BuildHasher;

use super::{HubClient, HubError, HubRead, PAGINATION_ACCEPT, major};
use crate::name::UserName;
use crate::snapshot::{HubSnapshot, HubUser, OwnerKind, TokenOwner};

/// A hub claiming more users than this is not believed.
const MAX_USERS: usize = 10_000_000;
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

/// A page of `GET /users`. Only `name` and `admin` are read; other fields vary by
/// version and scope and are skipped without being kept.
#[derive(Deserialize)]
struct Page {
    items: Vec<User>,
    #[serde(rename = "_pagination")]
    pagination: Pagination,
}

#[derive(Deserialize)]
struct User {
    name: String,
    #[serde(default)]
    admin: bool,
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
    /// `keep` says which users to keep besides admins (the declared ones), so memory
    /// does not grow with the hub. Any failed page, and any listing that does not add
    /// up (an offset that goes back, an empty page before the end, a user listed twice,
    /// fewer users than the hub's `total`), fails the whole read.
    async fn snapshot(
        &self,
        keep: &(dyn Fn(&UserName) -> bool + Sync),
    ) -> Result<HubSnapshot, HubError> {
        let version = self.version().await?;
        if major(&version).is_none_or(|m| m < 2) {
            return Err(HubError::TooOld { version });
        }
        let token_owner = Some(self.token_owner().await?);
        let mut last_change = String::new();
        for _ in 0..LISTING_TRIES {
            match self.list_users(keep).await {
                Ok((users, total_users)) => {
                    return Ok(HubSnapshot {
                        version,
                        token_owner,
                        users,
                        total_users,
                    });
                }
                Err(Listing::Broken(e)) => return Err(e),
                Err(Listing::Changed(why)) => {
                    tracing::info!(hub = %self.hub, %why, "the user list changed while it was read; reading it again");
                    last_change = why;
                }
            }
        }
        Err(HubError::Incomplete(format!(
            "the listing did not add up in {LISTING_TRIES} readings (last: {last_change}); either users changed while they were read, or the hub's pagination is broken"
        )))
    }

    fn requests_sent(&self) -> u64 {
        HubClient::requests_sent(self)
    }
}

impl HubClient {
    async fn list_users(
        &self,
        keep: &(dyn Fn(&UserName) -> bool + Sync),
    ) -> Result<(Vec<HubUser>, usize), Listing> {
        let mut kept = Vec::new();
        // Hashes of every name seen, to catch a user listed twice without keeping
        // every name: a collision can only refuse a listing, never accept a bad one.
        let hasher = std::collections::hash_map::RandomState::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut offset = 0usize;
        let mut total: Option<usize> = None;
        loop {
            let path = format!("/users?offset={offset}&limit={}", self.options.page_size);
            let answer = self
                .send(Method::GET, &path, PAGINATION_ACCEPT, None)
                .await?;
            let page: Page = self.decode(Method::GET, &path, &answer).map_err(|e| match e {
                HubError::Decode { method, path, message, body } => HubError::Decode {
                    method,
                    path,
                    message: format!(
                        "{message}; expected a page with items and _pagination (sent Accept: {PAGINATION_ACCEPT})"
                    ),
                    body,
                },
                other => other,
            })?;
            let p = &page.pagination;
            let broken = |why: String| Listing::Broken(HubError::Incomplete(why));
            if p.offset != offset {
                return Err(broken(format!(
                    "asked for offset {offset}, the hub answered offset {}",
                    p.offset
                )));
            }
            if p.total > MAX_USERS {
                return Err(broken(format!("the hub claims {} users", p.total)));
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
                    "the page at offset {offset} has {} users, more than its limit {}",
                    page.items.len(),
                    p.limit
                )));
            }
            let page_len = page.items.len();
            for user in page.items {
                if !seen.insert(hasher.hash_one(&user.name)) {
                    return Err(Listing::Changed(format!(
                        "user {} was listed twice",
                        user.name
                    )));
                }
                if user.admin || keep(&UserName::new(&user.name)) {
                    kept.push(HubUser {
                        name: user.name,
                        admin: user.admin,
                    });
                }
            }
            let total = total.unwrap_or(0);
            if seen.len() > total {
                return Err(Listing::Changed(format!(
                    "{} users listed, more than the total of {total}",
                    seen.len()
                )));
            }
            match &p.next {
                Some(next) => {
                    if next.offset <= offset {
                        return Err(broken(format!(
                            "the next page's offset {} does not move past {offset}",
                            next.offset
                        )));
                    }
                    if next.offset >= total {
                        return Err(broken(format!(
                            "the next page's offset {} is not below the total of {total}",
                            next.offset
                        )));
                    }
                    if page_len == 0 {
                        return Err(broken(format!(
                            "the page at offset {offset} is empty but the hub says more follow"
                        )));
                    }
                    offset = next.offset;
                }
                None => {
                    if seen.len() < total {
                        return Err(Listing::Changed(format!(
                            "the listing ended after {} users, but the hub's total is {total}",
                            seen.len()
                        )));
                    }
                    return Ok((kept, total));
                }
            }
        }
    }
}
