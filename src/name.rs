//! User names as JupyterHub's default authenticator sees them.
//!
//! The hub's `POST /users` lowercases names while `POST /users/{name}` keeps their case,
//! so the roster and the hub are compared on one normal form: trimmed and lowercased.

use std::fmt;

/// A user name in normal form (trimmed, lowercased). Two people are the same person
/// exactly when their `UserName`s are equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    /// Brings `raw` into normal form.
    pub fn new(raw: &str) -> Self {
        UserName(raw.trim().to_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Why this name cannot be a JupyterHub user name, if it cannot.
    pub fn problem(&self) -> Option<&'static str> {
        if self.0.is_empty() {
            Some("the name is empty")
        } else if self.0.contains('/') {
            Some("JupyterHub user names cannot contain '/'")
        } else if self.0.chars().any(char::is_control) {
            Some("the name contains a control character")
        } else {
            None
        }
    }
}

/// Control characters (never valid in a name) are shown escaped, so that a name can
/// neither break a message across lines nor write escape codes into a log.
impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl From<&str> for UserName {
    fn from(raw: &str) -> Self {
        UserName::new(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_form_is_trimmed_and_lowercased() {
        assert_eq!(UserName::new("  Frank "), UserName::new("frank"));
        assert_eq!(UserName::new("Alice@Uni.EDU").as_str(), "alice@uni.edu");
    }

    #[test]
    fn problems() {
        assert!(UserName::new(" ").problem().is_some());
        assert!(UserName::new("a/b").problem().is_some());
        assert!(UserName::new("a\u{7}b").problem().is_some());
        assert_eq!(UserName::new("alice@uni.edu").problem(), None);
    }
}
