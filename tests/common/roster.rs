//! Rosters built in a line or two instead of YAML `format!`ed in every test:
//!
//! ```ignore
//! RosterBuilder::new()
//!     .defaults("max_revocations", 100)
//!     .community(
//!         Community::new("lab")
//!             .rep("rep")
//!             .admin("carol", "rep")
//!             .hub(HubEntry::new("hub", &hub.api_url, "TOKEN").set("policy", "grant")),
//!     )
//!     .write(dir.path())
//! ```
//!
//! Names and URLs are written single-quoted (any text is safe); values given to `set` and
//! `default` are written as they are (numbers, policies).

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// A whole roster file.
#[derive(Clone, Debug, Default)]
pub struct RosterBuilder {
    defaults: Vec<(String, String)>,
    engineers: Vec<String>,
    communities: Vec<Community>,
}

/// One community: its representatives, administrators (with who added them) and hubs.
#[derive(Clone, Debug)]
pub struct Community {
    name: String,
    representatives: Vec<String>,
    administrators: Vec<(String, String)>,
    hubs: Vec<HubEntry>,
    /// `alerts: {key: value}` (`webhook_env` or `webhook_file`).
    alerts: Option<(String, String)>,
}

/// One hub entry of a community.
#[derive(Clone, Debug)]
pub struct HubEntry {
    name: String,
    api_url: String,
    token_env: String,
    fields: Vec<(String, String)>,
}

/// `text` as a single-quoted YAML scalar.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl RosterBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The usual test roster: community `community` with representative `rep` and one hub.
    pub fn one_hub(community: &str, rep: &str, hub: HubEntry) -> Self {
        Self::new().community(Community::new(community).rep(rep).hub(hub))
    }

    /// Administrator `name` of the last community, added by `added_by`.
    pub fn admin(mut self, name: &str, added_by: &str) -> Self {
        let community = self.communities.last_mut().expect("a community first");
        community
            .administrators
            .push((name.to_string(), added_by.to_string()));
        self
    }

    /// `defaults: {key: value}`; `value` written as it is.
    pub fn defaults(mut self, key: &str, value: impl Display) -> Self {
        self.defaults.push((key.to_string(), value.to_string()));
        self
    }

    pub fn engineer(mut self, name: &str) -> Self {
        self.engineers.push(name.to_string());
        self
    }

    pub fn community(mut self, community: Community) -> Self {
        self.communities.push(community);
        self
    }

    /// The roster as YAML.
    pub fn yaml(&self) -> String {
        let mut out = String::new();
        if !self.defaults.is_empty() {
            out.push_str("defaults:\n");
            for (key, value) in &self.defaults {
                out.push_str(&format!("  {key}: {value}\n"));
            }
        }
        if !self.engineers.is_empty() {
            out.push_str("engineers:\n");
            for name in &self.engineers {
                out.push_str(&format!("  - name: {}\n", quote(name)));
            }
        }
        out.push_str("communities:\n");
        for c in &self.communities {
            out.push_str(&format!("  - name: {}\n", quote(&c.name)));
            if !c.representatives.is_empty() {
                out.push_str("    representatives:\n");
                for name in &c.representatives {
                    out.push_str(&format!("      - name: {}\n", quote(name)));
                }
            }
            if !c.administrators.is_empty() {
                out.push_str("    administrators:\n");
                for (name, by) in &c.administrators {
                    out.push_str(&format!(
                        "      - {{name: {}, added_by: {}}}\n",
                        quote(name),
                        quote(by)
                    ));
                }
            }
            if let Some((key, value)) = &c.alerts {
                out.push_str(&format!("    alerts: {{{key}: {}}}\n", quote(value)));
            }
            if !c.hubs.is_empty() {
                out.push_str("    hubs:\n");
                for h in &c.hubs {
                    out.push_str(&format!(
                        "      - {{name: {}, api_url: {}, token_env: {}",
                        quote(&h.name),
                        quote(&h.api_url),
                        quote(&h.token_env)
                    ));
                    for (key, value) in &h.fields {
                        out.push_str(&format!(", {key}: {value}"));
                    }
                    out.push_str("}\n");
                }
            }
        }
        out
    }

    /// Writes the roster to `dir/roster.yaml` and returns the path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        super::write_file(dir, "roster.yaml", &self.yaml())
    }

    /// Writes the roster over `path` as a ConfigMap update does (a rename).
    pub fn replace(&self, path: &Path) {
        super::replace_file(path, &self.yaml());
    }
}

impl Community {
    pub fn new(name: &str) -> Self {
        Community {
            name: name.to_string(),
            representatives: Vec::new(),
            administrators: Vec::new(),
            hubs: Vec::new(),
            alerts: None,
        }
    }

    /// The community's own alert route: `key` is `webhook_env` or `webhook_file`.
    pub fn alerts(mut self, key: &str, value: &str) -> Self {
        self.alerts = Some((key.to_string(), value.to_string()));
        self
    }

    pub fn rep(mut self, name: &str) -> Self {
        self.representatives.push(name.to_string());
        self
    }

    /// Administrator `name`, added by `added_by`.
    pub fn admin(mut self, name: &str, added_by: &str) -> Self {
        self.administrators
            .push((name.to_string(), added_by.to_string()));
        self
    }

    /// Administrators `names`, all added by `added_by`.
    pub fn admins<S: AsRef<str>>(mut self, names: &[S], added_by: &str) -> Self {
        for name in names {
            self = self.admin(name.as_ref(), added_by);
        }
        self
    }

    pub fn hub(mut self, hub: HubEntry) -> Self {
        self.hubs.push(hub);
        self
    }
}

impl HubEntry {
    /// A hub `name` at `api_url` whose token is in `$token_env`.
    pub fn new(name: &str, api_url: &str, token_env: &str) -> Self {
        HubEntry {
            name: name.to_string(),
            api_url: api_url.to_string(),
            token_env: token_env.to_string(),
            fields: Vec::new(),
        }
    }

    /// Another field, e.g. `("policy", "grant")`, `("max_revocations", 0)`; the value is
    /// written as it is.
    pub fn set(mut self, key: &str, value: impl Display) -> Self {
        self.fields.push((key.to_string(), value.to_string()));
        self
    }

    pub fn policy(self, policy: &str) -> Self {
        self.set("policy", policy)
    }

    pub fn ca_file(self, path: &Path) -> Self {
        let path = quote(&path.display().to_string());
        self.set("ca_file", path)
    }
}
