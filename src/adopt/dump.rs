//! `dump`: a roster fragment for a live hub's current admins, to start adopting the
//! tool on a hub that already has admins.
//!
//! Admins the roster already knows keep their role and `added_by`; the others get the
//! placeholder [`ADDED_BY_PLACEHOLDER`], which validation refuses until a person writes
//! who added them.

use std::path::PathBuf;

use crate::adopt::fragment::{Fragment, FragmentAdmin, FragmentCommunity, FragmentHub, Named};

use crate::evidence::{Evidence, Ledger, Reading, Usable};
use crate::hub::info::AuthenticatorInfo;
use crate::hub::{ClientOptions, HubClient, HubError, HubRead, Keep};
use crate::name::{HubName, UserName, printable};
use crate::roster::{
    ADDED_BY_PLACEHOLDER, ApiUrlError, Desired, HubAccess, HubRules, HubSpec, Policy, Role, Roster,
    RosterError, Settings, parse_api_url,
};
use crate::secret::source::{Secret, SecretSource};
use crate::secret::token::{self, TokenError};
use crate::snapshot::{AdminGroups, HubSnapshot};
use crate::word::count;
use crate::yaml::YamlError;

/// Why `dump` could not write a fragment.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DumpError {
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
pub(crate) enum Target {
    /// A hub of a roster, by name.
    Roster { config: PathBuf, hub: String },
    /// A hub given directly.
    Direct { api_url: String, token_env: String },
}

/// Reads the hub's admins and returns the fragment as YAML (with comments).
pub(crate) async fn dump(target: &Target, options: &ClientOptions) -> Result<String, DumpError> {
    let (spec, roster) = target_spec(target)?;
    let client = HubClient::new(&spec, options)?;
    let keep = Keep {
        user: &|_| false,
        admin_roles: &spec.settings.admin_roles,
    };
    let snapshot = client.snapshot(&keep).await?;
    let authenticator = client.authenticator().await;
    let admins = snapshot.admin_names();
    // Who is declared today, as a run judges it (an expired administrator is not).
    let declared = roster
        .as_ref()
        .map(|r| r.desired(&spec))
        .unwrap_or_default();
    let made = who_made_each(&spec, &declared, &admins).await;
    let sorted = sort(&admins, &spec.admins);
    let in_roster = roster.is_some();
    let body = crate::yaml::to_string(&fragment(&spec, in_roster, &sorted))?;
    let mut out = header(&spec, &snapshot, authenticator.as_ref(), admins.len());
    for note in path_notes(&snapshot, &spec.name).into_iter().chain(made) {
        out.push_str(&format!("# {note}\n"));
    }
    out.push_str(&sorted.notes(in_roster));
    out.push_str(&body);
    Ok(out)
}

/// The hub to dump: from the roster, or given directly (then a hub of no community,
/// under policy report until someone reviews the fragment).
fn target_spec(target: &Target) -> Result<(HubSpec, Option<Roster>), DumpError> {
    match target {
        Target::Roster { config, hub } => {
            let roster = Roster::load_selected(config, std::slice::from_ref(hub))?;
            let spec = roster
                .hub(hub)
                .cloned()
                .ok_or_else(|| DumpError::NoSuchHub {
                    path: config.display().to_string(),
                    hub: hub.clone(),
                })?;
            Ok((spec, Some(roster)))
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
                log: None,
                admins: Default::default(),
            };
            Ok((spec, None))
        }
    }
}

/// The hub's admins sorted into the fragment's places by what the roster declares
/// for the hub (by its usernames; nothing for a hub given directly).
#[derive(Debug, Default)]
struct Sorted {
    representatives: Vec<Named>,
    administrators: Vec<FragmentAdmin>,
    /// Admins the roster does not know (their `added_by` is the placeholder).
    unknown: usize,
    engineers_left_out: bool,
    /// `username is person`, for admins the roster names as one of its people.
    known_as: Vec<String>,
}

fn sort(admins: &[UserName], declared: &Desired) -> Sorted {
    let mut sorted = Sorted::default();
    for name in admins {
        let entry = declared.get(name);
        // The roster's name for the person: their `people` name, or the username.
        let roster_name = match entry.and_then(|d| d.person.as_ref()) {
            Some(person) => {
                sorted.known_as.push(format!("{name} is {person}"));
                person.to_string()
            }
            None => name.to_string(),
        };
        match entry {
            Some(d) if d.role == Role::Engineer => sorted.engineers_left_out = true,
            Some(d) if d.role == Role::Representative => {
                sorted.representatives.push(Named { name: roster_name })
            }
            Some(d) => sorted.administrators.push(FragmentAdmin {
                name: roster_name,
                added_by: d
                    .added_by
                    .as_ref()
                    .map_or(ADDED_BY_PLACEHOLDER.to_string(), UserName::to_string),
            }),
            None => {
                sorted.unknown += 1;
                sorted
                    .administrators
                    .push(FragmentAdmin::placeholder(roster_name));
            }
        }
    }
    sorted
}

impl Sorted {
    /// The comment lines that say what the fragment leaves out and what to fill in.
    fn notes(&self, in_roster: bool) -> String {
        let mut out = String::new();
        if self.engineers_left_out {
            out.push_str("# Engineers are left out: the roster's engineers list covers them.\n");
        }
        if !self.known_as.is_empty() {
            out.push_str(&format!(
                "# Named as the roster's people (their ids for this hub's login): {}.\n",
                self.known_as.join(", ")
            ));
        }
        if self.unknown > 0 {
            out.push_str(&format!(
                "# {} the roster does not know: replace added_by {ADDED_BY_PLACEHOLDER} with who added each;\n# validation refuses the placeholder.\n",
                count(self.unknown, "admin")
            ));
        }
        if !in_roster {
            out.push_str("# Name the community, move one or two administrators to representatives,\n# and keep policy report until a dry run shows what you expect.\n");
        }
        out
    }
}

/// The roster fragment for the hub.
fn fragment(spec: &HubSpec, in_roster: bool, sorted: &Sorted) -> Fragment {
    let source = &spec.access.token_source;
    Fragment::one_hub(FragmentCommunity {
        name: spec.community.clone(),
        representatives: sorted.representatives.clone(),
        administrators: Some(sorted.administrators.clone()),
        hubs: vec![FragmentHub {
            name: spec.name.to_string(),
            api_url: spec.access.api_url.to_string(),
            token_env: source.var().map(str::to_owned),
            token_file: source.path().map(std::path::Path::to_path_buf),
            policy: if in_roster {
                spec.settings.rules.policy
            } else {
                Policy::Report
            },
            administrators: None,
        }],
    })
}

/// The first comment lines: which hub, when, its version and admin count, and its
/// authenticator (with its warning, if it may own the admin flag).
fn header(
    spec: &HubSpec,
    snapshot: &HubSnapshot,
    authenticator: Option<&AuthenticatorInfo>,
    admins: usize,
) -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut out = format!(
        "# Admins of hub {} ({}) as of {now}, JupyterHub {}: {admins} admin{}.\n",
        spec.name,
        spec.access.api_url,
        snapshot.version,
        if admins == 1 { "" } else { "s" }
    );
    match authenticator {
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
    out
}

/// What a dump says of admins who are not admin by the flag alone, of nameless admins,
/// and of groups it could not read: one comment line each.
fn path_notes(snapshot: &HubSnapshot, hub: &HubName) -> Vec<String> {
    let mut notes: Vec<String> = snapshot
        .paths()
        .into_iter()
        .filter(|(_, p)| p.is_admin() && !(p.groups.is_empty() && p.roles.is_empty()))
        .map(|(name, p)| format!("{} is admin {p}.", printable(name)))
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

/// Who made each admin, from the hub's own log when the roster names it: one comment
/// line each (`newbie: made admin by rep-lee in the admin page at …`), or why it
/// cannot be said.
async fn who_made_each(spec: &HubSpec, declared: &Desired, admins: &[UserName]) -> Vec<String> {
    let Some(log) = &spec.log else {
        return Vec::new();
    };
    let mut evidence = Evidence::new(log, Reading::Once, None, Ledger::default());
    if let Err(error) = evidence.catch_up().await {
        return vec![format!("Who made each admin cannot be said: {error}.")];
    }
    if let Usable::No(why) = evidence.usable() {
        return vec![format!("Who made each admin cannot be said: {why}.")];
    }
    admins
        .iter()
        .map(|name| match evidence.ledger().who_made(name, true, &[]) {
            Some(made) => format!(
                "{}: made admin {}{}.",
                printable(name.as_str()),
                made.phrase(),
                provisional_until(spec, declared, name, &made)
                    .map(|until| format!("; a provisional administrator until {until} (ui_grants)"))
                    .unwrap_or_default()
            ),
            None => format!(
                "{}: the hub's log as read does not show who made them admin.",
                printable(name.as_str())
            ),
        })
        .collect()
}

/// Until when `ui_grants` keeps `name`, an admin the roster does not declare, whom
/// `made` says someone `declared` on the hub made admin (as a one-shot run judges it:
/// from the log as read, without the daemon's records).
fn provisional_until(
    spec: &HubSpec,
    declared: &Desired,
    name: &UserName,
    made: &crate::evidence::Attribution,
) -> Option<String> {
    let keep_for = spec.settings.ui_grants?;
    if declared.contains_key(name) {
        return None;
    }
    let grant = crate::plan::provisional::Grant {
        user: name,
        hub_name: name.as_str(),
        made: Some(made),
    };
    let entitled = |n: &UserName| declared.contains_key(n);
    let now = jiff::Timestamp::now().as_second();
    let record = grant.start(&entitled, &|_| false, keep_for, now)?;
    Some(record.until_text())
}
