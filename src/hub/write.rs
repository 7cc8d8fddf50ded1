//! The write side: create a user as admin, set or clear the admin flag. Nothing here
//! deletes a user.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{HubClient, HubError, encode_segment};

/// How a declared admin came to exist on the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// `POST /users/{name}` created the user as admin.
    New,
    /// The user appeared since the listing (409); the admin flag was set instead.
    Existed,
}

impl HubClient {
    /// Creates `name` as an admin. If the user exists by now, grants admin instead.
    pub async fn create_admin(&self, name: &str) -> Result<Created, HubError> {
        let path = format!("/users/{}", encode_segment(name));
        match self
            .send(
                Method::POST,
                &path,
                "application/json",
                Some(&json!({"admin": true})),
            )
            .await
        {
            Ok(_) => Ok(Created::New),
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                self.set_admin(name, true).await?;
                Ok(Created::Existed)
            }
            Err(e) => Err(e),
        }
    }

    /// Sets `name`'s admin flag (idempotent on the hub's side).
    pub async fn set_admin(&self, name: &str, admin: bool) -> Result<(), HubError> {
        let path = format!("/users/{}", encode_segment(name));
        self.send(
            Method::PATCH,
            &path,
            "application/json",
            Some(&json!({"admin": admin})),
        )
        .await
        .map(|_| ())
    }
}
