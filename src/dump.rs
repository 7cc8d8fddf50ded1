//! `dump`: a roster fragment for a live hub's current admins, to start adopting the
//! tool on a hub that already has admins.
//!
//! Admins the roster already knows keep their role and `added_by`; the others get the
//! placeholder [`ADDED_BY_PLACEHOLDER`], which validation refuses until a person writes
//! who added them.

use serde::Serialize;
use std::path::PathBuf;

use crate::hub::{ClientOptions, HubClient, HubError, HubRead};
use crate::name::{HubName, UserName};
use crate::roster::{
    ADDED_BY_PLACEHOLDER, ApiUrlError, HubAccess, HubRules, HubSpec, Policy, Roster, RosterError,
    parse_api_url,
};
use crate::token::{self, TokenError, TokenSource};
use crate::yaml::YamlError;

/// Why `dump` could not write a fragment.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{0}")]
    Roster(#[from] RosterError),
    #[error("{path}: no hub named {hub}")]
    NoSuchHub { path: String, hub: String },
    #[error("--api-url {0}")]
    ApiUrl(#[from] ApiUrlError),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Hub(#[from] HubError),
    #[error("cannot write the fragment: {0}")]
    Yaml(#[from] YamlError),
}

#[derive(Serialize)]
struct Fragment {
    version: u32,
    communities: Vec<FragmentCommunity>,
}

#[derive(Serialize)]
struct FragmentCommunity {
    name: String,
    representatives: Vec<Person>,
    administrators: Vec<Admin>,
    hubs: Vec<FragmentHub>,
}

#[derive(Serialize)]
struct Person {
    name: String,
}

#[derive(Serialize)]
struct Admin {
    name: String,
    added_by: String,
}

#[derive(Serialize)]
struct FragmentHub {
    name: String,
    api_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_file: Option<PathBuf>,
    policy: Policy,
}

/// Where the hub to dump is described.
#[derive(Debug, Clone)]
pub enum Target {
    /// A hub of a roster, by name.
    Roster { config: PathBuf, hub: String },
    /// A hub given directly.
    Direct { api_url: String, token_env: String },
}

/// Reads the hub's admins and returns the fragment as YAML (with comments).
pub async fn dump(target: &Target, options: &ClientOptions) -> Result<String, DumpError> {
    let (spec, roster) = match target {
        Target::Roster { config, hub } => {
            let roster = Roster::load_selected(config, std::slice::from_ref(hub))?;
            let spec = roster
                .hub(hub)
                .cloned()
                .ok_or_else(|| DumpError::NoSuchHub {
                    path: config.display().to_string(),
                    hub: hub.clone(),
                })?;
            (spec, Some(roster))
        }
        Target::Direct { api_url, token_env } => {
            let url = parse_api_url(api_url)?;
            let source = TokenSource::Env(token_env.clone());
            let resolved = token::resolve(&source, &|v| std::env::var(v).ok())?;
            let spec = HubSpec {
                name: HubName::new(url.host_str().unwrap_or("hub")),
                community: "CHANGE-ME".to_string(),
                // Dry runs by default until someone reviews the fragment.
                rules: HubRules {
                    policy: Policy::Report,
                    max_revocations: 5,
                },
                access: HubAccess {
                    api_url: url,
                    token_source: source,
                    token: resolved.token,
                    ca: None,
                },
                login: None,
                engineers: true,
                admins: Default::default(),
            };
            (spec, None)
        }
    };
    let client = HubClient::new(&spec, options)?;
    let snapshot = client.snapshot(&|_| false).await?;
    let mut admins: Vec<UserName> = snapshot
        .users
        .iter()
        .filter(|u| u.admin)
        .map(|u| UserName::new(&u.name))
        .collect();
    admins.sort();
    admins.dedup();

    let community = roster.as_ref().and_then(|r| r.community(&spec.community));
    let engineers = roster
        .as_ref()
        .map(|r| r.engineers.clone())
        .unwrap_or_default();
    let mut representatives = Vec::new();
    let mut administrators = Vec::new();
    let mut unknown = 0;
    for name in &admins {
        if engineers.contains(name) {
            continue;
        }
        if community.is_some_and(|c| c.representatives.contains(name)) {
            representatives.push(Person {
                name: name.to_string(),
            });
            continue;
        }
        let known = community.and_then(|c| c.administrators.iter().find(|a| &a.name == name));
        let added_by = match known {
            Some(a) => a.added_by.to_string(),
            None => {
                unknown += 1;
                ADDED_BY_PLACEHOLDER.to_string()
            }
        };
        administrators.push(Admin {
            name: name.to_string(),
            added_by,
        });
    }
    let (token_env, token_file) = match &spec.access.token_source {
        TokenSource::Env(v) => (Some(v.clone()), None),
        TokenSource::File(p) => (None, Some(p.clone())),
    };
    let fragment = Fragment {
        version: 1,
        communities: vec![FragmentCommunity {
            name: spec.community.clone(),
            representatives,
            administrators,
            hubs: vec![FragmentHub {
                name: spec.name.to_string(),
                api_url: spec.access.api_url.to_string(),
                token_env,
                token_file,
                policy: if roster.is_some() {
                    spec.rules.policy
                } else {
                    Policy::Report
                },
            }],
        }],
    };
    let body = crate::yaml::to_string(&fragment)?;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut out = format!(
        "# Admins of hub {} ({}) as of {now}, JupyterHub {}: {} admin{}.\n",
        spec.name,
        spec.access.api_url,
        snapshot.version,
        admins.len(),
        if admins.len() == 1 { "" } else { "s" }
    );
    if !engineers.is_empty() {
        out.push_str("# Engineers are left out: the roster's engineers list covers them.\n");
    }
    if unknown > 0 {
        out.push_str(&format!(
            "# {unknown} admin{} the roster does not know: replace added_by {ADDED_BY_PLACEHOLDER} with who added each;\n# validation refuses the placeholder.\n",
            if unknown == 1 { "" } else { "s" }
        ));
    }
    if roster.is_none() {
        out.push_str("# Name the community, move one or two administrators to representatives,\n# and keep policy report until a dry run shows what you expect.\n");
    }
    out.push_str(&body);
    Ok(out)
}
