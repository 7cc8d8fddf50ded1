//! `dump`: a roster fragment for a live hub's current admins, to start adopting the
//! tool on a hub that already has admins.
//!
//! Admins the roster already knows keep their role and `added_by`; the others get the
//! placeholder [`ADDED_BY_PLACEHOLDER`], which validation refuses until a person writes
//! who added them.

use std::path::PathBuf;

use crate::adopt::fragment::{Fragment, FragmentAdmin, FragmentCommunity, FragmentHub, Named};

use crate::hub::{ClientOptions, HubClient, HubError, HubRead, Keep};
use crate::name::{HubName, UserName};
use crate::roster::{
    ADDED_BY_PLACEHOLDER, ApiUrlError, HubAccess, HubRules, HubSpec, Policy, Role, Roster,
    RosterError, Settings, parse_api_url,
};
use crate::secret::source::{Secret, SecretSource};
use crate::secret::token::{self, TokenError};
use crate::snapshot::{AdminGroups, HubSnapshot};
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
            let source = SecretSource::env(Secret::Token, token_env);
            let resolved = token::resolve(&source, &|v| std::env::var(v).ok())?;
            let spec = HubSpec {
                name: HubName::new(url.host_str().unwrap_or("hub")),
                community: crate::adopt::fragment::DEFAULT_COMMUNITY.to_string(),
                // Dry runs by default until someone reviews the fragment.
                settings: Settings {
                    rules: HubRules::new(Policy::Report),
                    ..Settings::builtin()
                },
                access: HubAccess {
                    api_url: url,
                    token_source: source,
                    token: resolved.token,
                    ca: None,
                },
                admins: Default::default(),
            };
            (spec, None)
        }
    };
    let client = HubClient::new(&spec, options)?;
    let keep = Keep {
        user: &|_| false,
        admin_roles: &spec.settings.admin_roles,
    };
    let snapshot = client.snapshot(&keep).await?;
    let authenticator = client.authenticator().await;
    let admins = snapshot.admin_names();

    // What the roster declares for this hub, by the hub's usernames (people already
    // mapped to their ids for its login); nothing for a hub given directly.
    let declared = &spec.admins;
    let mut representatives = Vec::new();
    let mut administrators = Vec::new();
    let mut unknown = 0;
    let mut engineers_left_out = false;
    let mut known_as = Vec::new();
    for name in &admins {
        let entry = declared.get(name);
        // The roster's name for the person: their `people` name, or the username.
        let roster_name = match entry.and_then(|d| d.person.as_ref()) {
            Some(person) => {
                known_as.push(format!("{name} is {person}"));
                person.to_string()
            }
            None => name.to_string(),
        };
        match entry {
            Some(d) if d.role == Role::Engineer => engineers_left_out = true,
            Some(d) if d.role == Role::Representative => {
                representatives.push(Named { name: roster_name })
            }
            Some(d) => administrators.push(FragmentAdmin {
                name: roster_name,
                added_by: d
                    .added_by
                    .as_ref()
                    .map_or(ADDED_BY_PLACEHOLDER.to_string(), UserName::to_string),
            }),
            None => {
                unknown += 1;
                administrators.push(FragmentAdmin::placeholder(roster_name));
            }
        }
    }
    let source = &spec.access.token_source;
    let (token_env, token_file) = (
        source.var().map(str::to_owned),
        source.path().map(std::path::Path::to_path_buf),
    );
    let fragment = Fragment::one_hub(FragmentCommunity {
        name: spec.community.clone(),
        representatives,
        administrators: Some(administrators),
        hubs: vec![FragmentHub {
            name: spec.name.to_string(),
            api_url: spec.access.api_url.to_string(),
            token_env,
            token_file,
            policy: if roster.is_some() {
                spec.settings.rules.policy
            } else {
                Policy::Report
            },
            administrators: None,
        }],
    });
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
    match &authenticator {
        Some(a) => {
            out.push_str(&format!("# Authenticator: {a}.\n"));
            if let Some(warning) = a.warning(&snapshot.version) {
                out.push_str(&format!("# Warning: {warning}.\n"));
            }
        }
        None => {
            out.push_str("# Authenticator: unknown (GET /hub/api/info needs an admin token).\n")
        }
    }
    for note in path_notes(&snapshot, &spec.name) {
        out.push_str(&format!("# {note}\n"));
    }
    if engineers_left_out {
        out.push_str("# Engineers are left out: the roster's engineers list covers them.\n");
    }
    if !known_as.is_empty() {
        out.push_str(&format!(
            "# Named as the roster's people (their ids for this hub's login): {}.\n",
            known_as.join(", ")
        ));
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

/// What a dump says of admins who are not admin by the flag alone, of nameless admins,
/// and of groups it could not read: one comment line each.
fn path_notes(snapshot: &HubSnapshot, hub: &HubName) -> Vec<String> {
    let mut notes: Vec<String> = snapshot
        .paths()
        .into_iter()
        .filter(|(_, p)| p.is_admin() && !(p.groups.is_empty() && p.roles.is_empty()))
        .map(|(name, p)| format!("{} is admin {p}.", crate::name::printable(name)))
        .collect();
    if let AdminGroups::NotChecked(why) = &snapshot.admin_groups {
        notes.push(format!("Admin through groups was not checked: {why}."));
    }
    for user in &snapshot.nameless {
        let report = crate::report::NamelessReport::new(user, hub);
        notes.push(format!("Warning: {}.", report.reason));
    }
    notes
}
