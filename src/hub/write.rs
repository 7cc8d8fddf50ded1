//! The write side: create a user as admin, set or clear the admin flag. Nothing here
//! deletes a user.

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
}

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
