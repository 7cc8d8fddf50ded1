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

/// Read back (from the daemon's state) in normal form, whatever was written.
impl<'de> serde::Deserialize<'de> for UserName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|raw| UserName::new(&raw))
    }
}

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

/// A name as it may appear in a message: control characters escaped, so that a name
/// (from the roster or from a hub) can neither break a message across lines nor write
/// escape codes into a log.
pub fn printable(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Control characters (never valid in a name) are shown escaped.
impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&self.0))
    }
}

impl From<&str> for UserName {
    fn from(raw: &str) -> Self {
        UserName::new(raw)
    }
}

/// A hub's name as the roster writes it. Hub names are unique ignoring case, and
/// `--hub` matches them so: two `HubName`s are equal when they differ only in case.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct HubName(String);

impl HubName {
    pub fn new(raw: &str) -> Self {
        HubName(raw.trim().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key hub names are compared by.
    fn key(&self) -> String {
        self.0.to_lowercase()
    }

    /// True when `other` (a `--hub` argument, say) names this hub.
    pub fn is(&self, other: &str) -> bool {
        self.key() == other.trim().to_lowercase()
    }
}

impl PartialEq for HubName {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for HubName {}

impl std::hash::Hash for HubName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for HubName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
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

    #[test]
    fn hub_names_compare_ignoring_case_and_keep_their_spelling() {
        let h = HubName::new(" Climate-Prod ");
        assert_eq!(h, HubName::new("climate-prod"));
        assert!(h.is("CLIMATE-PROD"));
        assert_eq!(h.to_string(), "Climate-Prod");
    }
}
