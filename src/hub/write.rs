//! The write side: create a user as admin, set or clear the admin flag, take a user
//! out of a group. Nothing here deletes a user.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{Created, HubClient, HubError, HubWrite, encode_segment};

impl HubWrite for HubClient {
    /// `POST /users/{name}` with `admin: true`; on 409 (the user appeared since the
    /// listing), `PATCH` instead.
    async fn create_admin(&self, name: &str) -> Result<Created, HubError> {
        let path = format!("/users/{}", encode_segment(name));
        let body = json!({"admin": true});
        match self
            .send(Method::POST, &path, "application/json", Some(&body))
            .await
        {
            Ok(answer) => {
                self.check_admin(Method::POST, &path, &answer, true)?;
                Ok(Created::New)
            }
            Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
                self.set_admin(name, true).await?;
                Ok(Created::Existed)
            }
            Err(e) => Err(e),
        }
    }

    /// `PATCH /users/{name}` (idempotent on the hub's side).
    async fn set_admin(&self, name: &str, admin: bool) -> Result<(), HubError> {
        let path = format!("/users/{}", encode_segment(name));
        let body = json!({"admin": admin});
        let answer = self
            .send(Method::PATCH, &path, "application/json", Some(&body))
            .await?;
        self.check_admin(Method::PATCH, &path, &answer, admin)
    }

    /// `DELETE /groups/{group}/users` with the one user (idempotent on the hub's side:
    /// a user already out of the group is a warning in its log). The answer is the
    /// group, which must no longer hold the user.
    async fn remove_from_group(&self, group: &str, name: &str) -> Result<(), HubError> {
        let path = format!("/groups/{}/users", encode_segment(group));
        let body = json!({"users": [name]});
        let answer = match self
            .send(Method::DELETE, &path, "application/json", Some(&body))
            .await
        {
            Err(HubError::Status { status, body, .. })
                if status == StatusCode::BAD_REQUEST && body.contains(GROUPS_MANAGED) =>
            {
                return Err(HubError::GroupsManaged {
                    method: Method::DELETE,
                    path,
                });
            }
            other => other?,
        };
        #[derive(Deserialize)]
        struct Answer {
            users: Vec<Option<String>>,
        }
        let group_now: Answer = self.decode(Method::DELETE, &path, &answer)?;
        if group_now.users.iter().flatten().any(|u| u == name) {
            return Err(HubError::Decode {
                method: Method::DELETE,
                path,
                message: "the hub answered, but the group still holds the user".to_string(),
                body: self.snippet(&answer),
            });
        }
        Ok(())
    }
}

/// What a hub whose authenticator manages groups answers a write to the groups API.
const GROUPS_MANAGED: &str = "Group management via API is disabled";

impl HubClient {
    /// The hub answers a write with the user; the change counts only if that user has
    /// the admin flag asked for, so that an answer from something that is not
    /// JupyterHub (a login page, say) is never taken for a change made.
    fn check_admin(
        &self,
        method: Method,
        path: &str,
        body: &[u8],
        wanted: bool,
    ) -> Result<(), HubError> {
        #[derive(Deserialize)]
        struct Answer {
            admin: bool,
        }
        let answer: Answer = self.decode(method.clone(), path, body)?;
        if answer.admin == wanted {
            Ok(())
        } else {
            Err(HubError::Decode {
                method,
                path: path.to_string(),
                message: format!(
                    "the hub answered, but the user's admin flag is {}",
                    answer.admin
                ),
                body: self.snippet(body),
            })
        }
    }
}
