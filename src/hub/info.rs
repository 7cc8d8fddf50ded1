//! `GET /hub/api/info`: which authenticator the hub runs, to warn when it may own the
//! admin flag (it sets or clears it at every login, and would undo the roster).
//!
//! Only admin tokens may read it; a 403 (or any failure) just means "unknown": the
//! answer is never needed to sync. What can be seen is the authenticator's class and
//! version. What cannot: whether OAuthenticator's `admin_groups` is set, or
//! JupyterHub 5's `Authenticator.manage_roles`: neither is in the answer, so the
//! warning names what to check in the hub's config.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::HubClient;
use crate::name::printable;

/// The hub's authenticator, as `GET /info` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticatorInfo {
    /// e.g. `oauthenticator.github.GitHubOAuthenticator`.
    pub class: String,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Deserialize)]
struct Info {
    authenticator: AuthenticatorInfo,
}

impl AuthenticatorInfo {
    /// True for authenticators known to set admin at login when configured to
    /// (every OAuthenticator: `admin_groups` since 17). A hub on JupyterHub ≥ 5 may
    /// also use `manage_roles` with any authenticator; that is not visible here.
    pub fn may_set_admin_at_login(&self) -> bool {
        let class = self.class.to_ascii_lowercase();
        class.contains("oauthenticator")
    }

    /// The warning a dry run gives for this hub, if any.
    pub fn warning(&self, jupyterhub_version: &str) -> Option<String> {
        let manage_roles = super::major(jupyterhub_version).is_some_and(|m| m >= 5);
        if self.may_set_admin_at_login() {
            Some(format!(
                "the hub's authenticator is {}: with admin_groups (OAuthenticator 17 or newer){} it sets or clears admin at every login and would undo the roster; check hub.config.{}.admin_groups{} (not visible through the API), and keep them in agreement with the roster or unset",
                self,
                if manage_roles { " or manage_roles" } else { "" },
                printable(self.class.rsplit('.').next().unwrap_or(&self.class)),
                if manage_roles {
                    " and Authenticator.manage_roles"
                } else {
                    ""
                },
            ))
        } else {
            None
        }
    }
}

/// The hub's words, escaped: they go into reports, logs and `dump`'s YAML comments.
impl std::fmt::Display for AuthenticatorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&printable(&self.class))?;
        match &self.version {
            Some(v) => write!(f, " {}", printable(v)),
            None => Ok(()),
        }
    }
}

impl HubClient {
    /// [`super::HubRead::authenticator`] over HTTP: the hub's authenticator, when the
    /// token may read `GET /info` (admin tokens can); `None` otherwise.
    pub(super) async fn read_authenticator(&self) -> Option<AuthenticatorInfo> {
        let answer = match self
            .send(Method::GET, "/info", "application/json", None)
            .await
        {
            Ok(answer) => answer,
            Err(error) => {
                tracing::debug!(%error, "GET /info not readable with this token; the authenticator stays unknown");
                return None;
            }
        };
        self.decode::<Info>(Method::GET, "/info", &answer)
            .ok()
            .map(|info| info.authenticator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(class: &str) -> AuthenticatorInfo {
        AuthenticatorInfo {
            class: class.into(),
            version: Some("17.1.0".into()),
        }
    }

    #[test]
    fn oauthenticators_get_a_warning_that_says_what_to_check() {
        let github = info("oauthenticator.github.GitHubOAuthenticator");
        let w = github.warning("5.2.1").expect("a warning");
        assert!(
            w.contains("hub.config.GitHubOAuthenticator.admin_groups"),
            "{w}"
        );
        assert!(w.contains("manage_roles"), "{w}");
        let w = info("oauthenticator.generic.GenericOAuthenticator")
            .warning("4.1.6")
            .unwrap();
        assert!(!w.contains("manage_roles"), "{w}");
        assert_eq!(
            info("jupyterhub.auth.DummyAuthenticator").warning("6.1.1"),
            None
        );
        // The hub's words are escaped where they are shown.
        let crafted = info("oauthenticator.X\n# injected");
        assert_eq!(crafted.to_string(), "oauthenticator.X\\n# injected 17.1.0");
        assert!(!crafted.warning("6.1.1").unwrap().contains('\n'));
    }
}
