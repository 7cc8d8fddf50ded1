//! `import`: a roster fragment for one hub from its Zero to JupyterHub Helm values, to
//! adopt the tool on a hub whose admins live in `hub.config.*.admin_users` or in the
//! `admin` role of `hub.loadRoles`.
//!
//! The values files are merged as Helm merges them, the z2jh values are found (at the
//! root, or under the chart's name when z2jh is a dependency), and the admin list is
//! read from the authenticator section traitlets would use (the most specific class of
//! the authenticator in use) and from the `admin` role's `users`. The role's `groups`
//! are named, not expanded: who is in a group is known only to the hub. Other roles
//! with an admin scope are named as candidates for the roster's `admin_roles`, since
//! only the operator can say what they give. Who added each admin is unknown, so each
//! gets the placeholder [`ADDED_BY_PLACEHOLDER`], which validation refuses until a
//! person fills it in. The core ([`merge`], [`import`], [`render`]) is pure; [`run`]
//! reads the files.

use crate::adopt::fragment::{Fragment, FragmentAdmin, FragmentCommunity, FragmentHub};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

use crate::name::{UserName, printable};
use crate::roster::{ADDED_BY_PLACEHOLDER, ApiUrlError, Policy, parse_api_url};
use crate::yaml::YamlError;

/// Where the z2jh values are tried, in order, when no `--prefix` is given.
pub(crate) const PREFIXES: [&str; 3] = ["", "jupyterhub", "basehub.jupyterhub"];

/// The hub's API as seen from inside a Zero to JupyterHub release's namespace.
pub(crate) const DEFAULT_API_URL: &str = "http://hub:8081/hub/api";

pub(crate) use crate::adopt::fragment::DEFAULT_COMMUNITY;

/// The token variable left for a person to choose.
pub(crate) const DEFAULT_TOKEN_ENV: &str = "CHANGE_ME_TOKEN";

/// Why `import` could not write a fragment.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    #[error("import needs at least one values file (--z2jh-values FILE)")]
    NoValues,
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not YAML: {source}")]
    NotYaml { path: String, source: YamlError },
    #[error("{path}: Helm values must be a mapping of keys, but the file holds {kind}")]
    NotAMapping { path: String, kind: &'static str },
    #[error("--prefix {prefix:?}: {problem}")]
    BadPrefix {
        prefix: String,
        problem: &'static str,
    },
    #[error("{files}: nothing at {path} (--prefix {prefix})")]
    NothingAtPrefix {
        files: String,
        prefix: String,
        path: String,
    },
    #[error(
        "{files}: no Zero to JupyterHub values found: none of {tried} has hub.config or \
         hub.loadRoles; give --prefix KEY.PATH if the chart is nested elsewhere"
    )]
    NotFound { files: String, tried: String },
    #[error("{file}: {path} is {kind}, not a list of {what}s")]
    NotAList {
        file: String,
        path: String,
        kind: &'static str,
        /// What each entry should be (`user name`, `group name`, `scope`).
        what: &'static str,
    },
    #[error("{file}: {path} entry {index} is {kind}, not a {what}")]
    NotAName {
        file: String,
        path: String,
        index: usize,
        kind: &'static str,
        what: &'static str,
    },
    #[error("{file}: {path} is {kind}, not {what}")]
    NotAMap {
        file: String,
        path: String,
        kind: &'static str,
        what: &'static str,
    },
    #[error("--hub-name: {0}")]
    HubName(&'static str),
    #[error("--api-url {0}")]
    ApiUrl(#[from] ApiUrlError),
    #[error("cannot write the fragment: {0}")]
    Yaml(YamlError),
}

/// What the command line asked for.
#[derive(Debug, Clone)]
pub(crate) struct ImportOptions {
    /// The values files, in the order Helm is given them (later files win).
    pub values: Vec<PathBuf>,
    /// A dotted path to the z2jh values (`jupyterhub`, `basehub.jupyterhub`); `None`
    /// tries [`PREFIXES`].
    pub prefix: Option<String>,
    /// The hub's name; `None`: the first values file's stem.
    pub hub_name: Option<String>,
    pub community: String,
    pub api_url: String,
    pub token_env: String,
}

/// One parsed values file.
#[derive(Debug, Clone)]
pub(crate) struct ValuesFile {
    /// As the user named it (for messages).
    pub label: String,
    pub values: Value,
}

/// What the values say about admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Imported {
    /// Where the z2jh values sit (`""`: the root).
    pub prefix: String,
    /// Whether the prefix was given (`--prefix`) rather than found.
    pub prefix_given: bool,
    /// Where admins were found, as full dotted paths, in this order: the `admin_users`
    /// the hub's configuration reads (if a section sets it), the `users` and the `groups`
    /// of the `admin` role in `hub.loadRoles` (if it lists them).
    pub sources: Vec<String>,
    /// The admins as written (from `admin_users` and the `admin` role's users), sorted,
    /// without duplicates in normal form.
    pub admins: Vec<String>,
    /// The groups that hold the `admin` role, sorted: their members are admins of the
    /// hub, but the values cannot say who they are.
    pub admin_groups: Vec<String>,
    /// Things a person must know (the authenticator controls admin, settings ignored).
    pub warnings: Vec<String>,
    /// Things worth saying (settings overridden by a more specific class).
    pub notes: Vec<String>,
}

/// Merges `overlay` into `base` as Helm merges values files: maps merge recursively,
/// lists and scalars replace, and `null` deletes the key.
pub(crate) fn merge(base: &mut Value, overlay: Value) {
    match overlay {
        Value::Object(overlay) => {
            if !base.is_object() {
                *base = Value::Object(Map::new());
            }
            let Value::Object(base) = base else {
                unreachable!("made an object above")
            };
            for (key, value) in overlay {
                if value.is_null() {
                    base.remove(&key);
                } else if value.is_object() {
                    merge(base.entry(key).or_insert(Value::Null), value);
                } else {
                    base.insert(key, value);
                }
            }
        }
        other => *base = other,
    }
}

/// The value at a dotted path (`""`: `value` itself).
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// `prefix` joined to `path` with a dot, for messages (`""` + `hub` → `hub`).
fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}.{path}"),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn describe_prefix(prefix: &str) -> String {
    if prefix.is_empty() {
        "the root".to_string()
    } else {
        prefix.to_string()
    }
}

/// The class a z2jh `authenticator_class` names (short entry-point names, dotted paths,
/// or a bare class name); `None` when it is none of those.
pub(crate) fn class_name(authenticator_class: &str) -> Option<String> {
    let text = authenticator_class.trim();
    if let Some((_, last)) = text.rsplit_once('.') {
        return (!last.is_empty()).then(|| last.to_string());
    }
    if text.ends_with("Authenticator") {
        return Some(text.to_string());
    }
    let short = |name: &str| -> Option<&'static str> {
        Some(match name {
            "default" | "pam" => "PAMAuthenticator",
            "dummy" => "DummyAuthenticator",
            "null" => "NullAuthenticator",
            "shared-password" => "SharedPasswordAuthenticator",
            "auth0" => "Auth0OAuthenticator",
            "azuread" => "AzureAdOAuthenticator",
            "bitbucket" => "BitbucketOAuthenticator",
            "cilogon" => "CILogonOAuthenticator",
            "generic-oauth" => "GenericOAuthenticator",
            "github" => "GitHubOAuthenticator",
            "gitlab" => "GitLabOAuthenticator",
            "globus" => "GlobusOAuthenticator",
            "google" => "GoogleOAuthenticator",
            "mediawiki" => "MWOAuthenticator",
            "openshift" => "OpenShiftOAuthenticator",
            "ldap" | "ldapauthenticator" => "LDAPAuthenticator",
            "native" | "nativeauthenticator" => "NativeAuthenticator",
            "firstuse" | "firstuseauthenticator" => "FirstUseAuthenticator",
            "tmp" | "tmpauthenticator" => "TmpAuthenticator",
            "lti" | "ltiauthenticator" | "lti11" => "LTI11Authenticator",
            "lti13" => "LTI13Authenticator",
            _ => return None,
        })
    };
    let lower = text.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("local-") {
        return short(rest)
            .filter(|c| c.ends_with("OAuthenticator"))
            .map(|c| format!("Local{c}"));
    }
    short(&lower).map(str::to_string)
}

/// The classes whose config sections apply to `class`, most specific first (its method
/// resolution order, as traitlets reads config).
pub(crate) fn class_chain(class: &str) -> Vec<String> {
    let mut chain = vec![class.to_string()];
    let tail: &[&str] = match class {
        "Authenticator" => &[],
        "LocalAuthenticator" | "OAuthenticator" => &["Authenticator"],
        "PAMAuthenticator" => &["LocalAuthenticator", "Authenticator"],
        _ => {
            if let Some(oauth) = class
                .strip_prefix("Local")
                .filter(|rest| rest.ends_with("OAuthenticator") && *rest != "OAuthenticator")
            {
                chain.extend([
                    "LocalAuthenticator".to_string(),
                    oauth.to_string(),
                    "OAuthenticator".to_string(),
                    "Authenticator".to_string(),
                ]);
                return chain;
            }
            if class.ends_with("OAuthenticator") {
                &["OAuthenticator", "Authenticator"]
            } else {
                &["Authenticator"]
            }
        }
    };
    chain.extend(tail.iter().map(|c| c.to_string()));
    chain
}

/// How specific a section is when no authenticator class is named: a concrete class
/// before the base classes, `OAuthenticator` and `LocalAuthenticator` before
/// `Authenticator`.
fn rank(section: &str) -> u8 {
    match section {
        "Authenticator" => 2,
        "OAuthenticator" | "LocalAuthenticator" => 1,
        _ => 0,
    }
}

fn is_authenticator_section(name: &str) -> bool {
    name.ends_with("Authenticator")
}

/// Non-empty: a list or mapping with entries, a string with text, `true`.
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    }
}

/// The last file that sets `path` (for messages about a merged value).
fn last_setting<'a>(files: &'a [ValuesFile], path: &str) -> &'a str {
    files
        .iter()
        .rev()
        .find(|f| at(&f.values, path).is_some_and(|v| !v.is_null()))
        .or(files.last())
        .map_or("", |f| f.label.as_str())
}

fn labels(files: &[ValuesFile]) -> String {
    files
        .iter()
        .map(|f| f.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits and checks a `--prefix`; `.` and `""` are the root.
fn parse_prefix(prefix: &str) -> Result<String, ImportError> {
    let trimmed = prefix.trim();
    if trimmed.is_empty() || trimmed == "." {
        return Ok(String::new());
    }
    if trimmed.split('.').any(str::is_empty) {
        return Err(ImportError::BadPrefix {
            prefix: prefix.to_string(),
            problem: "a dotted path of keys such as jupyterhub or basehub.jupyterhub; no empty keys",
        });
    }
    Ok(trimmed.to_string())
}

/// Reads the admins from parsed values files (merged in order), phase by phase: where
/// the z2jh values are, the `admin_users` of the authenticator section the hub reads,
/// and the `admin` role of `hub.loadRoles`.
pub(crate) fn import(files: &[ValuesFile], prefix: Option<&str>) -> Result<Imported, ImportError> {
    if files.is_empty() {
        return Err(ImportError::NoValues);
    }
    let mut merged = Value::Object(Map::new());
    for file in files {
        merge(&mut merged, file.values.clone());
    }
    let (prefix, prefix_given) = find_prefix(&merged, files, prefix)?;
    let mut said = Said::default();
    let admin_users = read_admin_users(&merged, files, &prefix, &mut said)?;
    let roles = read_load_roles(&merged, files, &prefix)?;
    roles.warn(admin_users.as_ref(), &mut said);

    let mut sources = Vec::new();
    let mut admins = Vec::new();
    if let Some(found) = admin_users {
        sources.push(found.path);
        admins.extend(found.names);
    }
    if let Some(users) = roles.admin_users {
        sources.push(users.path);
        admins.extend(users.names);
    }
    let mut admin_groups = Vec::new();
    if let Some(groups) = roles.admin_groups {
        sources.push(groups.path);
        admin_groups = groups.names;
    }
    // Each person once, by the roster's normal form.
    admins.sort_by_key(|a| (UserName::new(a), a.clone()));
    admins.dedup_by_key(|a| UserName::new(a));
    Ok(Imported {
        prefix,
        prefix_given,
        sources,
        admins,
        admin_groups,
        warnings: said.warnings,
        notes: said.notes,
    })
}

/// What `import` says besides the admins.
#[derive(Debug, Default)]
struct Said {
    warnings: Vec<String>,
    notes: Vec<String>,
}

/// Names read from one place in the values.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    /// The full dotted path they were read from.
    path: String,
    /// As written, trimmed.
    names: Vec<String>,
}

/// Where the z2jh values are: `--prefix` (which must hold `hub.config` or
/// `hub.loadRoles`), or the first of [`PREFIXES`] that does.
fn find_prefix(
    merged: &Value,
    files: &[ValuesFile],
    prefix: Option<&str>,
) -> Result<(String, bool), ImportError> {
    // `hub.loadRoles` of the wrong type counts, to be refused with its path.
    let has_hub = |p: &str| {
        at(merged, &join(p, "hub.config")).is_some_and(Value::is_object)
            || at(merged, &join(p, "hub.loadRoles")).is_some_and(|v| !v.is_null())
    };
    match prefix {
        Some(given) => {
            let p = parse_prefix(given)?;
            if !at(merged, &p).is_some_and(Value::is_object) {
                return Err(ImportError::NothingAtPrefix {
                    files: labels(files),
                    prefix: given.to_string(),
                    path: describe_prefix(&p),
                });
            }
            if !has_hub(&p) {
                return Err(ImportError::NothingAtPrefix {
                    files: labels(files),
                    prefix: given.to_string(),
                    path: format!(
                        "{} or {}",
                        join(&p, "hub.config"),
                        join(&p, "hub.loadRoles")
                    ),
                });
            }
            Ok((p, true))
        }
        None => {
            let found =
                PREFIXES
                    .iter()
                    .find(|p| has_hub(p))
                    .ok_or_else(|| ImportError::NotFound {
                        files: labels(files),
                        tried: PREFIXES
                            .iter()
                            .map(|p| describe_prefix(p))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
            Ok((found.to_string(), false))
        }
    }
}

/// The `admin_users` the hub's configuration reads, if a section sets it (even to an
/// empty list), with what to know about the other sections on the way.
fn read_admin_users(
    merged: &Value,
    files: &[ValuesFile],
    prefix: &str,
    said: &mut Said,
) -> Result<Option<Found>, ImportError> {
    let config_path = join(prefix, "hub.config");
    let empty = Map::new();
    let config = at(merged, &config_path)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let setting = sections_setting_admin_users(config);
    warn_when_the_authenticator_controls_admin(config, &config_path, said);
    let chain = class_chain_in_use(config, &config_path, said);
    let winner = pick_section(&setting, chain.as_deref(), &config_path, said);
    note_overridden_sections(&setting, winner, chain.as_deref(), &config_path, said);
    let Some((name, value)) = winner else {
        return Ok(None);
    };
    let path = format!("{config_path}.{name}.admin_users");
    let names = names_at(files, &path, value, "user name")?;
    Ok(Some(Found { path, names }))
}

/// Every authenticator section that sets `admin_users` (even to an empty list), the
/// most specific first.
fn sections_setting_admin_users(config: &Map<String, Value>) -> Vec<(&str, &Value)> {
    let mut setting: Vec<(&str, &Value)> = config
        .iter()
        .filter(|(name, _)| is_authenticator_section(name))
        .filter_map(|(name, section)| {
            section
                .get("admin_users")
                .filter(|v| !v.is_null())
                .map(|v| (name.as_str(), v))
        })
        .collect();
    setting.sort_by_key(|(name, _)| (rank(name), name.to_string()));
    setting
}

/// Warnings for `admin_groups` and `manage_roles: true`, which give the authenticator
/// control of admin at every login.
fn warn_when_the_authenticator_controls_admin(
    config: &Map<String, Value>,
    config_path: &str,
    said: &mut Said,
) {
    for (name, section) in config
        .iter()
        .filter(|(name, _)| is_authenticator_section(name))
    {
        let here = format!("{config_path}.{name}");
        if section.get("admin_groups").is_some_and(is_set) {
            said.warnings.push(format!(
                "{here}.admin_groups is set: the authenticator grants and revokes admin at every \
                 login by group, so the roster and the authenticator would fight; keep one of them"
            ));
        }
        if section.get("manage_roles") == Some(&Value::Bool(true)) {
            said.warnings.push(format!(
                "{here}.manage_roles is true: the authenticator assigns roles (admin among them) \
                 at every login, so the roster and the authenticator would fight; keep one of them"
            ));
        }
    }
}

/// The class chain of `JupyterHub.authenticator_class`, when it names a class this
/// tool knows (a note otherwise).
fn class_chain_in_use(
    config: &Map<String, Value>,
    config_path: &str,
    said: &mut Said,
) -> Option<Vec<String>> {
    let text = config
        .get("JupyterHub")
        .and_then(|j| j.get("authenticator_class"))
        .and_then(Value::as_str)?;
    let chain = class_name(text).map(|name| class_chain(&name));
    if chain.is_none() {
        said.notes.push(format!(
            "{config_path}.JupyterHub.authenticator_class {text:?} is not a class this tool \
             knows: the most specific section that sets admin_users was used"
        ));
    }
    chain
}

/// The section whose `admin_users` the hub reads: the first of the class chain that
/// sets it, or without a chain the most specific (a warning when that is ambiguous).
/// Sections the class in use does not read are warned about.
fn pick_section<'a>(
    setting: &[(&'a str, &'a Value)],
    chain: Option<&[String]>,
    config_path: &str,
    said: &mut Said,
) -> Option<(&'a str, &'a Value)> {
    let class_path = format!("{config_path}.JupyterHub.authenticator_class");
    match chain {
        Some(chain) => {
            for (name, _) in setting {
                if !chain.iter().any(|c| c == name) {
                    said.warnings.push(format!(
                        "{config_path}.{name}.admin_users is ignored by the hub: it uses {} \
                         ({class_path}), whose configuration does not read that section",
                        chain[0]
                    ));
                }
            }
            chain
                .iter()
                .find_map(|c| setting.iter().find(|(name, _)| name == c).copied())
        }
        None => {
            let first = setting.first().copied();
            if let Some((name, _)) = first {
                let rivals: Vec<&str> = setting
                    .iter()
                    .filter(|(other, _)| *other != name && rank(other) == rank(name))
                    .map(|(other, _)| *other)
                    .collect();
                if !rivals.is_empty() {
                    said.warnings.push(format!(
                        "{name} and {} all set admin_users and {class_path} is not set: used \
                         {name}; set authenticator_class to say which the hub uses",
                        rivals.join(", ")
                    ));
                }
            }
            first
        }
    }
}

/// A note for each section whose `admin_users` the winner overrides.
fn note_overridden_sections(
    setting: &[(&str, &Value)],
    winner: Option<(&str, &Value)>,
    chain: Option<&[String]>,
    config_path: &str,
    said: &mut Said,
) {
    let Some((name, _)) = winner else { return };
    for (other, _) in setting {
        let overridden = match chain {
            Some(chain) => {
                chain.iter().position(|c| c == other) > chain.iter().position(|c| c == name)
            }
            None => rank(other) > rank(name),
        };
        if overridden {
            said.notes.push(format!(
                "{config_path}.{other}.admin_users is overridden by the more specific \
                 {config_path}.{name}.admin_users"
            ));
        }
    }
}

/// The names of a list at `path` (each a `what`), trimmed, or an error naming the file
/// that set it.
fn names_at(
    files: &[ValuesFile],
    path: &str,
    value: &Value,
    what: &'static str,
) -> Result<Vec<String>, ImportError> {
    let file = last_setting(files, path).to_string();
    let items = value.as_array().ok_or_else(|| ImportError::NotAList {
        file: file.clone(),
        path: path.to_string(),
        kind: kind(value),
        what,
    })?;
    let mut names = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match item.as_str().map(str::trim) {
            Some(name) if !name.is_empty() => names.push(name.to_string()),
            _ => {
                return Err(ImportError::NotAName {
                    file,
                    path: path.to_string(),
                    index: index + 1,
                    kind: if item.as_str().is_some() {
                        "empty"
                    } else {
                        kind(item)
                    },
                    what,
                });
            }
        }
    }
    Ok(names)
}

/// The scopes that let a role's holders make admins or change who is in a group: a role
/// other than `admin` that has one may be admin-equivalent.
const ADMIN_SCOPES: [&str; 2] = ["admin:users", "admin:groups"];

/// What `hub.loadRoles` says about admins.
#[derive(Debug, Default)]
struct LoadRoles {
    /// The full paths of the roles named `admin` (by their `name`, or else their key).
    admin_roles: Vec<String>,
    /// The `users` of the `admin` role, when it lists them (even none).
    admin_users: Option<Found>,
    /// The `groups` of the `admin` role, when it lists them (even none), sorted.
    admin_groups: Option<Found>,
    /// Other roles that have an admin scope.
    candidates: Vec<Candidate>,
}

/// A role other than `admin` with a scope of [`ADMIN_SCOPES`]: it may give admin rights,
/// which only the operator can tell (no API shows a role's scopes to the sync).
#[derive(Debug)]
struct Candidate {
    path: String,
    name: String,
    scopes: Vec<String>,
    /// `user NAME` and `group NAME`, as the values list them.
    holders: Vec<String>,
}

/// Reads `hub.loadRoles`: a mapping of keys to roles, each named by its `name` or else
/// its key (as the chart does).
fn read_load_roles(
    merged: &Value,
    files: &[ValuesFile],
    prefix: &str,
) -> Result<LoadRoles, ImportError> {
    let path = join(prefix, "hub.loadRoles");
    let mut roles = LoadRoles::default();
    let Some(value) = at(merged, &path) else {
        return Ok(roles);
    };
    let map = mapping(value, files, &path, "a mapping of role names to roles")?;
    for (key, spec) in map {
        let role = Role::read(files, format!("{path}.{key}"), key, spec)?;
        if role.name == crate::roster::ADMIN_ROLE {
            roles.admin_roles.push(role.path.clone());
            roles.admin_users = merge_found(roles.admin_users, role.list("users", "user name")?);
            roles.admin_groups =
                merge_found(roles.admin_groups, role.list("groups", "group name")?);
        } else if let Some(candidate) = role.candidate()? {
            roles.candidates.push(candidate);
        }
    }
    if let Some(groups) = &mut roles.admin_groups {
        groups.names.sort();
        groups.names.dedup();
    }
    Ok(roles)
}

/// `value`, set at `path`, as a mapping; else the error naming the file that set it and
/// `what` it should be.
fn mapping<'v>(
    value: &'v Value,
    files: &[ValuesFile],
    path: &str,
    what: &'static str,
) -> Result<&'v Map<String, Value>, ImportError> {
    value.as_object().ok_or_else(|| ImportError::NotAMap {
        file: last_setting(files, path).to_string(),
        path: path.to_string(),
        kind: kind(value),
        what,
    })
}

/// One entry of `hub.loadRoles`, checked to be a mapping.
struct Role<'a> {
    files: &'a [ValuesFile],
    path: String,
    name: &'a str,
    spec: &'a Map<String, Value>,
}

impl<'a> Role<'a> {
    fn read(
        files: &'a [ValuesFile],
        path: String,
        key: &'a str,
        spec: &'a Value,
    ) -> Result<Role<'a>, ImportError> {
        let what = "a role (a mapping with users, groups, services, scopes)";
        let spec = mapping(spec, files, &path, what)?;
        let name = spec.get("name").and_then(Value::as_str).unwrap_or(key);
        Ok(Role {
            files,
            path,
            name,
            spec,
        })
    }

    /// The list `field` of the role (each entry a `what`), when it is there.
    fn list(&self, field: &str, what: &'static str) -> Result<Option<Found>, ImportError> {
        let path = format!("{}.{field}", self.path);
        match self.spec.get(field).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(value) => Ok(Some(Found {
                names: names_at(self.files, &path, value, what)?,
                path,
            })),
        }
    }

    /// The role as a candidate for `admin_roles`, when it has an admin scope (exactly:
    /// `admin:users!group=…` reaches only some users).
    fn candidate(&self) -> Result<Option<Candidate>, ImportError> {
        let scopes: Vec<String> = self
            .list("scopes", "scope")?
            .map(|found| found.names)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| ADMIN_SCOPES.contains(&s.as_str()))
            .collect();
        if scopes.is_empty() {
            return Ok(None);
        }
        let mut holders = Vec::new();
        for (field, what, kind) in [
            ("users", "user name", "user"),
            ("groups", "group name", "group"),
        ] {
            if let Some(found) = self.list(field, what)? {
                holders.extend(found.names.iter().map(|n| format!("{kind} {n}")));
            }
        }
        Ok(Some(Candidate {
            path: self.path.clone(),
            name: self.name.to_string(),
            scopes,
            holders,
        }))
    }
}

/// Two lists of the `admin` role (two keys naming it) read as one.
fn merge_found(a: Option<Found>, b: Option<Found>) -> Option<Found> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.path = format!("{}, {}", a.path, b.path);
            a.names.extend(b.names);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

impl LoadRoles {
    /// What a person must know about the roles: the admin list the hub rewrites at
    /// every start, the groups whose members the values cannot name, and roles that may
    /// give admin rights.
    fn warn(&self, admin_users: Option<&Found>, said: &mut Said) {
        if self.admin_roles.len() > 1 {
            said.notes.push(format!(
                "{} all name the admin role: the hub applies them in turn (the last one's lists \
                 win); the users and groups of all of them were read",
                self.admin_roles.join(", ")
            ));
        }
        let admin_users = admin_users.filter(|f| !f.names.is_empty());
        if let (Some(role), Some(found)) = (self.admin_roles.first(), admin_users) {
            said.warnings.push(format!(
                "{} and the admin role {role} are both set: the hub merges admin_users into the \
                 role's users and applies that list exactly at every start (\"Configuration \
                 specifies both admin_users and users in the admin role specification\" in its \
                 log), so anyone else made admin (on the admin page, through the API, by the sync) \
                 loses admin when the hub restarts; once the roster holds the admins, remove \
                 admin_users",
                found.path
            ));
        } else if let Some(users) = &self.admin_users {
            said.warnings.push(format!(
                "{} is the hub's exact admin list at every start: anyone else made admin (on the \
                 admin page, through the API, by the sync) loses admin when the hub restarts; once \
                 the roster holds the admins, remove the role's users (keep its services)",
                users.path
            ));
        }
        if let Some(groups) = self.admin_groups.as_ref().filter(|g| !g.names.is_empty()) {
            let one = groups.names.len() == 1;
            said.warnings.push(format!(
                "{} names group{} {}: {} members are admins of the hub too, but values cannot say \
                 who they are (the sync reads them from the hub); declare them in the roster, or an \
                 enforcing run takes them out of the group",
                groups.path,
                if one { "" } else { "s" },
                groups.names.join(", "),
                if one { "its" } else { "their" },
            ));
        }
        for Candidate {
            path,
            name,
            scopes,
            holders,
        } in &self.candidates
        {
            let held = if holders.is_empty() {
                String::new()
            } else {
                format!(", held by {}", holders.join(", "))
            };
            said.warnings.push(format!(
                "{path} (role {name}{held}) has scope{} {}: it may give admin rights; if it does, \
                 name it in the roster (the hub's admin_roles: [{name}]) so that its holders count \
                 as admins",
                if scopes.len() == 1 { "" } else { "s" },
                scopes.join(", "),
            ));
        }
    }
}

/// The hub name: `--hub-name`, or the first values file's stem.
fn hub_name(options: &ImportOptions) -> Result<String, ImportError> {
    let name = match &options.hub_name {
        Some(name) => name.trim().to_string(),
        None => options
            .values
            .first()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if name.is_empty() {
        return Err(ImportError::HubName("must not be empty"));
    }
    Ok(name)
}

/// The fragment as YAML, with leading comments saying where it came from, what to fill
/// in, and every warning and note.
pub(crate) fn render(
    imported: &Imported,
    files: &[ValuesFile],
    options: &ImportOptions,
) -> Result<String, ImportError> {
    let hub = hub_name(options)?;
    let api_url = parse_api_url(&options.api_url)?;
    let fragment = Fragment::one_hub(FragmentCommunity {
        name: options.community.clone(),
        representatives: Vec::new(),
        administrators: None,
        hubs: vec![FragmentHub {
            name: hub.clone(),
            api_url: api_url.to_string(),
            token_env: Some(options.token_env.clone()),
            token_file: None,
            // Dry runs until someone reviews the fragment.
            policy: Policy::Report,
            administrators: Some(
                imported
                    .admins
                    .iter()
                    .map(|name| FragmentAdmin::placeholder(name.clone()))
                    .collect(),
            ),
        }],
    });
    let body = crate::yaml::to_string(&fragment).map_err(ImportError::Yaml)?;
    let n = imported.admins.len();
    // Every name from the values files is escaped: a key with a line break must not end
    // a comment line and write YAML into the fragment.
    let sources = if imported.sources.is_empty() {
        "no authenticator section sets admin_users, and hub.loadRoles has no admin role that \
         lists users or groups"
            .to_string()
    } else {
        imported.sources.join(", ")
    };
    let mut out = format!(
        "# Admins of hub {} from Zero to JupyterHub values {} ({}): {n} admin{}.\n",
        printable(&hub),
        printable(&labels(files)),
        printable(&sources),
        if n == 1 { "" } else { "s" },
    );
    out.push_str(&format!(
        "# The z2jh values are at {}{}.\n",
        describe_prefix(&imported.prefix),
        if imported.prefix_given {
            " (--prefix)"
        } else {
            " (found: the first of the root, jupyterhub, basehub.jupyterhub with hub.config or hub.loadRoles)"
        }
    ));
    if !imported.admin_groups.is_empty() {
        out.push_str(&format!(
            "# The hub's admins also include the members of group{} {} (the admin role's groups),\n\
             # whom values cannot name: the sync reads them from the hub.\n",
            if imported.admin_groups.len() == 1 {
                ""
            } else {
                "s"
            },
            printable(&imported.admin_groups.join(", ")),
        ));
    }
    for warning in &imported.warnings {
        out.push_str(&format!("# warning: {}\n", printable(warning)));
    }
    for note in &imported.notes {
        out.push_str(&format!("# note: {}\n", printable(note)));
    }
    if n == 0 {
        out.push_str(
            "# No admins to import: declare the community's representatives (one or two), who are\n\
             # admin on every hub of the community.\n",
        );
    } else {
        out.push_str(&format!(
            "# Replace added_by {ADDED_BY_PLACEHOLDER} with who added each (validation refuses the placeholder);\n\
             # move one or two to the community's representatives.\n"
        ));
    }
    out.push_str(
        "# Name the community, set token_env to the variable that holds the hub's token, and keep\n\
         # policy report until a dry run shows what you expect. Then remove admin_users (and the\n\
         # admin role's users) from the values: the hub re-grants those names at every start.\n",
    );
    out.push_str(&body);
    Ok(out)
}

/// Reads one values file.
pub(crate) fn read_values(path: &Path) -> Result<ValuesFile, ImportError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: label.clone(),
        source,
    })?;
    let values = crate::yaml::value_from_str(&text).map_err(|source| ImportError::NotYaml {
        path: label.clone(),
        source,
    })?;
    let values = match values {
        Value::Null => Value::Object(Map::new()),
        Value::Object(_) => values,
        other => {
            return Err(ImportError::NotAMapping {
                path: label,
                kind: kind(&other),
            });
        }
    };
    Ok(ValuesFile { label, values })
}

/// The fragment and its warnings (which the caller also shows on stderr).
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub fragment: String,
    pub warnings: Vec<String>,
}

/// Reads the values files and writes the fragment.
pub(crate) fn run(options: &ImportOptions) -> Result<Output, ImportError> {
    if options.values.is_empty() {
        return Err(ImportError::NoValues);
    }
    let files = options
        .values
        .iter()
        .map(|p| read_values(p))
        .collect::<Result<Vec<_>, _>>()?;
    let imported = import(&files, options.prefix.as_deref())?;
    let fragment = render(&imported, &files, options)?;
    Ok(Output {
        fragment,
        warnings: imported.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(label: &str, yaml: &str) -> ValuesFile {
        ValuesFile {
            label: label.to_string(),
            values: crate::yaml::value_from_str(yaml).unwrap(),
        }
    }

    /// What `import` finds in one values file, `v.yaml`.
    fn import_v(yaml: &str) -> Imported {
        import(&[file("v.yaml", yaml)], None).unwrap()
    }

    fn options() -> ImportOptions {
        ImportOptions {
            values: vec![PathBuf::from("values/prod.yaml")],
            prefix: None,
            hub_name: None,
            community: DEFAULT_COMMUNITY.to_string(),
            api_url: DEFAULT_API_URL.to_string(),
            token_env: DEFAULT_TOKEN_ENV.to_string(),
        }
    }

    #[test]
    fn merge_maps_recursively_lists_and_scalars_replace_null_deletes() {
        let mut base = json!({
            "hub": {"config": {"A": {"admin_users": ["a", "b"], "keep": 1}, "B": {"x": 1}}},
            "list": [1, 2],
            "scalar": "s",
            "map_then_scalar": {"k": 1},
        });
        merge(
            &mut base,
            json!({
                "hub": {"config": {"A": {"admin_users": ["c"]}, "B": null}},
                "list": [3],
                "scalar": {"now": "a map"},
                "map_then_scalar": 5,
                "new": {"n": null, "m": 1},
            }),
        );
        assert_eq!(
            base,
            json!({
                "hub": {"config": {"A": {"admin_users": ["c"], "keep": 1}}},
                "list": [3],
                "scalar": {"now": "a map"},
                "map_then_scalar": 5,
                "new": {"m": 1},
            })
        );
    }

    #[test]
    fn later_files_win_in_import() {
        let files = [
            file(
                "a.yaml",
                "hub: {config: {Authenticator: {admin_users: [ann, bob]}}}",
            ),
            file(
                "b.yaml",
                "hub: {config: {Authenticator: {admin_users: [cat]}}}",
            ),
        ];
        assert_eq!(import(&files, None).unwrap().admins, ["cat"]);
        let files = [
            files[0].clone(),
            file(
                "c.yaml",
                "hub: {config: {Authenticator: {admin_users: null}}}",
            ),
        ];
        let imported = import(&files, None).unwrap();
        assert!(imported.admins.is_empty());
        assert_eq!(imported.sources, Vec::<String>::new());
    }

    #[test]
    fn prefix_discovery_takes_the_first_with_hub_config() {
        let nested = "jupyterhub: {hub: {config: {Authenticator: {admin_users: [x]}}}}\n\
                      basehub: {jupyterhub: {hub: {config: {Authenticator: {admin_users: [y]}}}}}\n";
        let imported = import_v(nested);
        assert_eq!(
            (imported.prefix.as_str(), imported.admins),
            ("jupyterhub", vec!["x".to_string()])
        );
        assert!(!imported.prefix_given);
        assert_eq!(
            imported.sources,
            ["jupyterhub.hub.config.Authenticator.admin_users"]
        );

        let imported = import(&[file("v.yaml", nested)], Some("basehub.jupyterhub")).unwrap();
        assert_eq!(imported.admins, ["y"]);
        assert!(imported.prefix_given);

        // A root `hub:` without `config` does not count.
        let deeper = "hub: {image: {tag: x}}\nbasehub: {jupyterhub: {hub: {config: {}}}}\n";
        let imported = import_v(deeper);
        assert_eq!(imported.prefix, "basehub.jupyterhub");
        assert!(imported.admins.is_empty());

        let root = "hub: {config: {GitHubOAuthenticator: {admin_users: [r]}}}";
        assert_eq!(
            import(&[file("v.yaml", root)], Some(".")).unwrap().prefix,
            ""
        );
    }

    #[test]
    fn nothing_found_names_files_and_paths() {
        let files = [file("a.yaml", "singleuser: {}"), file("b.yaml", "")];
        let err = import(&files, None).unwrap_err().to_string();
        assert_eq!(
            err,
            "a.yaml, b.yaml: no Zero to JupyterHub values found: none of the root, jupyterhub, \
             basehub.jupyterhub has hub.config or hub.loadRoles; give --prefix KEY.PATH if the \
             chart is nested elsewhere"
        );
        let err = import(&files, Some("jupyterhub")).unwrap_err().to_string();
        assert_eq!(
            err,
            "a.yaml, b.yaml: nothing at jupyterhub (--prefix jupyterhub)"
        );
        let files = [file("a.yaml", "jupyterhub: {hub: {}}")];
        let err = import(&files, Some("jupyterhub")).unwrap_err().to_string();
        assert_eq!(
            err,
            "a.yaml: nothing at jupyterhub.hub.config or jupyterhub.hub.loadRoles (--prefix jupyterhub)"
        );
        let err = import(&files, Some("a..b")).unwrap_err().to_string();
        assert!(err.starts_with("--prefix \"a..b\": "), "{err}");
    }

    #[test]
    fn bad_admin_users_name_the_file_that_set_them() {
        let files = [
            file(
                "a.yaml",
                "hub: {config: {Authenticator: {admin_users: [a]}}}",
            ),
            file(
                "b.yaml",
                "hub: {config: {Authenticator: {admin_users: alice}}}",
            ),
            file(
                "c.yaml",
                "hub: {config: {JupyterHub: {admin_access: true}}}",
            ),
        ];
        assert_eq!(
            import(&files, None).unwrap_err().to_string(),
            "b.yaml: hub.config.Authenticator.admin_users is a string, not a list of user names"
        );
        let files = [file(
            "a.yaml",
            "hub: {config: {Authenticator: {admin_users: [a, 12]}}}",
        )];
        assert_eq!(
            import(&files, None).unwrap_err().to_string(),
            "a.yaml: hub.config.Authenticator.admin_users entry 2 is a number, not a user name"
        );
    }

    #[test]
    fn names_keep_their_spelling_sorted_without_case_duplicates() {
        let files = [file(
            "a.yaml",
            "hub: {config: {Authenticator: {admin_users: [zed, Jo.Doe@College.edu, bob, jo.doe@college.edu, Bob, ' amy ']}}}",
        )];
        assert_eq!(
            import(&files, None).unwrap().admins,
            ["amy", "Bob", "Jo.Doe@College.edu", "zed"]
        );
    }

    #[test]
    fn class_names_and_chains() {
        let chain = |c: &str| class_chain(&class_name(c).unwrap());
        assert_eq!(
            chain("github"),
            ["GitHubOAuthenticator", "OAuthenticator", "Authenticator"]
        );
        assert_eq!(
            chain("oauthenticator.github.GitHubOAuthenticator"),
            chain("github")
        );
        assert_eq!(
            chain("generic-oauth"),
            ["GenericOAuthenticator", "OAuthenticator", "Authenticator"]
        );
        assert_eq!(chain("cilogon")[0], "CILogonOAuthenticator");
        assert_eq!(chain("auth0")[0], "Auth0OAuthenticator");
        assert_eq!(chain("google")[0], "GoogleOAuthenticator");
        assert_eq!(chain("dummy"), ["DummyAuthenticator", "Authenticator"]);
        assert_eq!(
            chain("pam"),
            ["PAMAuthenticator", "LocalAuthenticator", "Authenticator"]
        );
        assert_eq!(
            chain("local-github"),
            [
                "LocalGitHubOAuthenticator",
                "LocalAuthenticator",
                "GitHubOAuthenticator",
                "OAuthenticator",
                "Authenticator"
            ]
        );
        assert_eq!(
            chain("mymodule.CustomAuthenticator"),
            ["CustomAuthenticator", "Authenticator"]
        );
        assert_eq!(class_name("no-such-short-name"), None);
    }

    const SECTIONS: &str = "hub:\n  config:\n    Authenticator: {admin_users: [base]}\n    \
                            OAuthenticator: {admin_users: [oauth]}\n    \
                            GitHubOAuthenticator: {admin_users: [gh]}\n    \
                            GoogleOAuthenticator: {admin_users: [goo]}\n";

    fn with_class(class: &str) -> ValuesFile {
        file(
            "v.yaml",
            &format!("{SECTIONS}    JupyterHub: {{authenticator_class: {class}}}\n"),
        )
    }

    #[test]
    fn the_class_in_use_picks_the_first_of_its_chain() {
        let imported = import(&[with_class("github")], None).unwrap();
        assert_eq!(imported.admins, ["gh"]);
        assert_eq!(
            imported.sources,
            ["hub.config.GitHubOAuthenticator.admin_users"]
        );
        assert_eq!(
            imported.warnings,
            [
                "hub.config.GoogleOAuthenticator.admin_users is ignored by the hub: it uses \
              GitHubOAuthenticator (hub.config.JupyterHub.authenticator_class), whose \
              configuration does not read that section"
            ]
        );
        assert_eq!(imported.notes.len(), 2, "{:?}", imported.notes);

        // CILogon has no section of its own here: OAuthenticator's applies.
        let imported = import(&[with_class("cilogon")], None).unwrap();
        assert_eq!(imported.admins, ["oauth"]);
        assert_eq!(imported.warnings.len(), 2, "{:?}", imported.warnings);

        // The dummy authenticator reads only Authenticator's.
        let imported = import(&[with_class("dummy")], None).unwrap();
        assert_eq!(imported.admins, ["base"]);

        // A dotted path works as well as a short name.
        let imported = import(
            &[with_class("oauthenticator.google.GoogleOAuthenticator")],
            None,
        )
        .unwrap();
        assert_eq!(imported.admins, ["goo"]);
    }

    #[test]
    fn without_a_class_the_most_specific_section_wins() {
        let values = |sections: &str| {
            let text =
                format!("hub: {{config: {{Authenticator: {{admin_users: [base]}}, {sections}}}}}");
            import_v(&text)
        };
        let only_bases = values("OAuthenticator: {admin_users: [oauth]}");
        assert_eq!(only_bases.admins, ["oauth"]);
        assert!(only_bases.warnings.is_empty());

        let imported = values("GitHubOAuthenticator: {admin_users: [gh]}");
        assert_eq!(imported.admins, ["gh"]);
        assert!(imported.warnings.is_empty());
        assert_eq!(
            imported.notes,
            [
                "hub.config.Authenticator.admin_users is overridden by the more specific \
              hub.config.GitHubOAuthenticator.admin_users"
            ]
        );

        // Two specific sections and no class: ambiguous, said so.
        let imported = import_v(SECTIONS);
        assert_eq!(imported.admins, ["gh"]);
        assert_eq!(imported.warnings.len(), 1);
        assert!(
            imported.warnings[0].contains("GoogleOAuthenticator"),
            "{:?}",
            imported.warnings
        );

        // An unknown class name falls back to the same order, with a note.
        let imported = import(&[with_class("something-else")], None).unwrap();
        assert_eq!(imported.admins, ["gh"]);
        assert!(imported.notes[0].contains("\"something-else\" is not a class"));
    }

    #[test]
    fn an_empty_list_in_the_specific_section_wins_over_a_parent() {
        let imported = import_v(
            "hub: {config: {Authenticator: {admin_users: [base]}, GitHubOAuthenticator: {admin_users: []}, JupyterHub: {authenticator_class: github}}}",
        );
        assert!(imported.admins.is_empty());
        assert_eq!(
            imported.sources,
            ["hub.config.GitHubOAuthenticator.admin_users"]
        );
    }

    #[test]
    fn warns_when_the_authenticator_controls_admin() {
        let files = [file(
            "v.yaml",
            "hub:\n  config:\n    GitHubOAuthenticator: {admin_users: [a], admin_groups: [org:team]}\n    \
             Authenticator: {manage_roles: true}\n    GoogleOAuthenticator: {admin_groups: []}\n    \
             GenericOAuthenticator: {manage_roles: false}\n",
        )];
        let imported = import(&files, None).unwrap();
        assert_eq!(imported.warnings.len(), 2, "{:?}", imported.warnings);
        assert!(
            imported.warnings[0]
                .starts_with("hub.config.Authenticator.manage_roles is true: the authenticator")
        );
        assert!(
            imported.warnings[1]
                .starts_with("hub.config.GitHubOAuthenticator.admin_groups is set:")
        );
        let text = render(&imported, &files, &options()).unwrap();
        assert!(
            text.contains("# warning: hub.config.GitHubOAuthenticator.admin_groups is set:"),
            "{text}"
        );
    }

    #[test]
    fn renders_a_fragment() {
        let files = [
            file(
                "values/prod.yaml",
                "jupyterhub: {hub: {config: {JupyterHub: {authenticator_class: github}, GitHubOAuthenticator: {admin_users: [carol, Alice]}}}}",
            ),
            file("values/secret.yaml", "jupyterhub: {hub: {cookieSecret: x}}"),
        ];
        let imported = import(&files, None).unwrap();
        let text = render(&imported, &files, &options()).unwrap();
        insta::assert_snapshot!(text, @r"
        # Admins of hub prod from Zero to JupyterHub values values/prod.yaml, values/secret.yaml (jupyterhub.hub.config.GitHubOAuthenticator.admin_users): 2 admins.
        # The z2jh values are at jupyterhub (found: the first of the root, jupyterhub, basehub.jupyterhub with hub.config or hub.loadRoles).
        # Replace added_by FILL-IN with who added each (validation refuses the placeholder);
        # move one or two to the community's representatives.
        # Name the community, set token_env to the variable that holds the hub's token, and keep
        # policy report until a dry run shows what you expect. Then remove admin_users (and the
        # admin role's users) from the values: the hub re-grants those names at every start.
        version: 1
        communities:
        - name: CHANGE-ME
          representatives: []
          hubs:
          - name: prod
            api_url: http://hub:8081/hub/api
            token_env: CHANGE_ME_TOKEN
            policy: report
            administrators:
            - name: Alice
              added_by: FILL-IN
            - name: carol
              added_by: FILL-IN
        ");
    }

    #[test]
    fn a_key_with_a_line_break_stays_inside_its_comment() {
        let evil =
            r#"hub: {config: {"Evil\ncommunities: []\n#Authenticator": {admin_groups: [g]}}}"#;
        let files = [file("v.yaml", evil)];
        let imported = import(&files, None).unwrap();
        assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
        let text = render(&imported, &files, &options()).unwrap();
        assert!(
            text.lines()
                .all(|l| l.starts_with('#') || !l.contains("communities: []")),
            "{text}"
        );
        assert!(
            text.contains("Evil\\ncommunities: []\\n#Authenticator"),
            "{text}"
        );
    }

    #[test]
    fn renders_zero_admins_and_checks_options() {
        let files = [file("v.yaml", "hub: {config: {}}")];
        let imported = import(&files, None).unwrap();
        let mut opts = options();
        opts.hub_name = Some("staging".to_string());
        let text = render(&imported, &files, &opts).unwrap();
        assert!(
            text.contains(
                "(no authenticator section sets admin_users, and hub.loadRoles has no admin role \
                 that lists users or groups): 0 admins."
            ),
            "{text}"
        );
        assert!(text.contains("# No admins to import"));
        assert!(text.contains("    administrators: []\n"), "{text}");
        assert!(text.contains("  - name: staging\n"), "{text}");

        opts.api_url = "https://user:secret@hub.example.org/hub/api".to_string();
        let err = render(&imported, &files, &opts).unwrap_err().to_string();
        assert!(err.starts_with("--api-url "), "{err}");
        assert!(!err.contains("secret"), "{err}");

        opts.api_url = DEFAULT_API_URL.to_string();
        opts.hub_name = Some(" ".to_string());
        assert_eq!(
            render(&imported, &files, &opts).unwrap_err().to_string(),
            "--hub-name: must not be empty"
        );
    }

    const CAMPUS: &str = "jupyterhub:\n  hub:\n    config:\n      JupyterHub: {authenticator_class: github}\n      \
                          GitHubOAuthenticator: {admin_users: [Ann, bob]}\n    loadRoles:\n      \
                          admin: {services: [admin-sync], users: [Bob, carol], groups: [staff, hub-admins]}\n";

    #[test]
    fn load_roles_admin_users_join_the_admins_and_its_groups_are_named() {
        let files = [file("campus.yaml", CAMPUS)];
        let imported = import(&files, None).unwrap();
        assert_eq!(
            imported.sources,
            [
                "jupyterhub.hub.config.GitHubOAuthenticator.admin_users",
                "jupyterhub.hub.loadRoles.admin.users",
                "jupyterhub.hub.loadRoles.admin.groups",
            ]
        );
        assert_eq!(
            imported.admins,
            ["Ann", "Bob", "carol"],
            "once each, in normal form"
        );
        assert_eq!(imported.admin_groups, ["hub-admins", "staff"]);
        assert_eq!(
            imported.warnings,
            [
                "jupyterhub.hub.config.GitHubOAuthenticator.admin_users and the admin role \
                 jupyterhub.hub.loadRoles.admin are both set: the hub merges admin_users into the \
                 role's users and applies that list exactly at every start (\"Configuration \
                 specifies both admin_users and users in the admin role specification\" in its \
                 log), so anyone else made admin (on the admin page, through the API, by the sync) \
                 loses admin when the hub restarts; once the roster holds the admins, remove \
                 admin_users",
                "jupyterhub.hub.loadRoles.admin.groups names groups hub-admins, staff: their members \
                 are admins of the hub too, but values cannot say who they are (the sync reads them \
                 from the hub); declare them in the roster, or an enforcing run takes them out of \
                 the group",
            ]
        );
        let text = render(&imported, &files, &options()).unwrap();
        let head: Vec<&str> = text.lines().take(4).collect();
        assert_eq!(
            head,
            [
                "# Admins of hub prod from Zero to JupyterHub values campus.yaml \
                 (jupyterhub.hub.config.GitHubOAuthenticator.admin_users, \
                 jupyterhub.hub.loadRoles.admin.users, jupyterhub.hub.loadRoles.admin.groups): 3 admins.",
                "# The z2jh values are at jupyterhub (found: the first of the root, jupyterhub, basehub.jupyterhub with hub.config or hub.loadRoles).",
                "# The hub's admins also include the members of groups hub-admins, staff (the admin role's groups),",
                "# whom values cannot name: the sync reads them from the hub.",
            ]
        );
    }

    #[test]
    fn load_roles_alone_are_found_and_an_admin_users_list_is_exact_at_every_start() {
        let imported =
            import_v("basehub: {jupyterhub: {hub: {loadRoles: {admin: {users: [dee, ' Eli ']}}}}}");
        assert_eq!(imported.prefix, "basehub.jupyterhub");
        assert_eq!(
            imported.sources,
            ["basehub.jupyterhub.hub.loadRoles.admin.users"]
        );
        assert_eq!(imported.admins, ["dee", "Eli"]);
        assert!(imported.admin_groups.is_empty());
        assert_eq!(
            imported.warnings,
            [
                "basehub.jupyterhub.hub.loadRoles.admin.users is the hub's exact admin list at \
                 every start: anyone else made admin (on the admin page, through the API, by the \
                 sync) loses admin when the hub restarts; once the roster holds the admins, remove \
                 the role's users (keep its services)"
            ]
        );
        // Only services: no admin is found there, and nothing to warn about.
        let imported = import_v(
            "hub: {loadRoles: {admin: {services: [admin-sync]}}, config: {Authenticator: {admin_users: [a]}}}",
        );
        assert_eq!(imported.sources, ["hub.config.Authenticator.admin_users"]);
        assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
        assert!(
            imported.warnings[0].contains("and the admin role hub.loadRoles.admin are both set"),
            "admin_users with an admin role: {:?}",
            imported.warnings
        );
    }

    #[test]
    fn a_role_is_named_by_its_name_before_its_key() {
        let imported = import_v(
            "hub: {loadRoles: {campus-admins: {name: admin, groups: [it-staff]}, admin: {name: helpers, users: [x]}}}",
        );
        assert_eq!(imported.sources, ["hub.loadRoles.campus-admins.groups"]);
        assert!(imported.admins.is_empty(), "role helpers is not admin");
        assert_eq!(imported.admin_groups, ["it-staff"]);

        // Two roles named admin: both read, and said so.
        let imported =
            import_v("hub: {loadRoles: {admin: {users: [y]}, campus: {name: admin, users: [x]}}}");
        assert_eq!(imported.admins, ["x", "y"]);
        assert_eq!(
            imported.sources,
            ["hub.loadRoles.admin.users, hub.loadRoles.campus.users"]
        );
        assert_eq!(
            imported.notes,
            [
                "hub.loadRoles.admin, hub.loadRoles.campus all name the admin role: the hub \
                 applies them in turn (the last one's lists win); the users and groups of all of \
                 them were read"
            ]
        );
    }

    #[test]
    fn other_roles_with_admin_scopes_are_candidates_for_admin_roles() {
        let files = [file(
            "v.yaml",
            "hub:\n  config: {}\n  loadRoles:\n    managers: {scopes: [read:users, admin:users, admin:groups], users: [mo], groups: [mgrs]}\n    \
             viewers: {scopes: [list:users], users: [vi]}\n    ta: {scopes: ['admin:users!group=class-a'], users: [tia]}\n    \
             editors: {name: group-editors, scopes: [admin:groups]}\n",
        )];
        let imported = import(&files, None).unwrap();
        assert!(imported.admins.is_empty());
        assert_eq!(
            imported.warnings,
            [
                "hub.loadRoles.editors (role group-editors) has scope admin:groups: it may give \
                 admin rights; if it does, name it in the roster (the hub's admin_roles: \
                 [group-editors]) so that its holders count as admins",
                "hub.loadRoles.managers (role managers, held by user mo, group mgrs) has scopes \
                 admin:users, admin:groups: it may give admin rights; if it does, name it in the \
                 roster (the hub's admin_roles: [managers]) so that its holders count as admins",
            ],
            "a filtered scope (admin:users!group=…) is not admin over every user"
        );
    }

    #[test]
    fn bad_load_roles_name_the_file_and_the_path() {
        let cases = [
            (
                "hub: {loadRoles: [admin]}",
                "v.yaml: hub.loadRoles is a list, not a mapping of role names to roles",
            ),
            (
                "hub: {loadRoles: {admin: yes}}",
                "v.yaml: hub.loadRoles.admin is a string, not a role (a mapping with users, groups, services, scopes)",
            ),
            (
                "hub: {loadRoles: {admin: {users: alice}}}",
                "v.yaml: hub.loadRoles.admin.users is a string, not a list of user names",
            ),
            (
                "hub: {loadRoles: {admin: {groups: [ok, 7]}}}",
                "v.yaml: hub.loadRoles.admin.groups entry 2 is a number, not a group name",
            ),
            (
                "hub: {loadRoles: {managers: {scopes: admin:users}}}",
                "v.yaml: hub.loadRoles.managers.scopes is a string, not a list of scopes",
            ),
        ];
        for (values, expected) in cases {
            let err = import(&[file("v.yaml", values)], None).unwrap_err();
            assert_eq!(err.to_string(), expected, "{values}");
        }
    }
}
