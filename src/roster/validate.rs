//! Every rule of the roster, checked at once so one run reports every problem.
//!
//! A [`Validator`] walks the raw documents once (one per file of a roster directory),
//! collecting problems, each with its file, and warnings as it goes. Each rule is a
//! small method named for what it checks; tokens and CA bundles are read here, once, by
//! [`crate::secret::token`] and [`crate::secret::tls`]; each level's settings are checked
//! here and resolved by [`super::settings`], and each hub's declared admins are worked
//! out by [`super::admins`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::admins;
use super::api_url::{parse_api_url, same_hub_key};
use super::people::People;
use super::raw::{RawAdministrator, RawCommunity, RawHub, RawLog, RawRoster, RawSettings};
use super::settings::{self, Written};
use super::{
    ADMIN_ROLE, Administrator, Community, Desired, HubAccess, HubSpec, LogConfig, LogPlace,
    Problem, Roster, RosterError, Share,
};
use crate::date::{Clock, Date, SystemClock};
use crate::evidence::{KubeSource, LogZone};
use crate::name::{HubName, UserName, printable};
use crate::secret::source::{Secret, SecretSource};
use crate::secret::tls::CaBundle;
use crate::secret::token::{self, Token};

/// Validates the documents of the roster at `path` (one, or one per file of a
/// directory, in merge order).
pub(super) fn validate(
    path: &Path,
    documents: Vec<(PathBuf, RawRoster)>,
    env: &dyn Fn(&str) -> Option<String>,
    only: &[String],
    credentials: Credentials,
) -> Result<Roster, RosterError> {
    let mut v = Validator {
        env,
        only,
        credentials,
        file: path.to_owned(),
        problems: Vec::new(),
        warnings: Vec::new(),
        people: People::default(),
        engineers: Vec::new(),
        defaults: Written::default(),
        community_names: BTreeSet::new(),
        hub_names: BTreeMap::new(),
        api_urls: BTreeMap::new(),
        missing_ids: BTreeMap::new(),
    };

    // At most one file holds people, engineers and defaults: they apply everywhere.
    let mut holder: Option<&Path> = None;
    for (file, raw) in &documents {
        v.file = file.clone();
        if let Some(version) = raw.version
            && version != 1
        {
            v.problem(
                "version",
                format!("version {version} is not supported (this release reads version 1)"),
            );
        }
        let holds = !raw.people.is_empty() || !raw.engineers.is_empty() || !raw.defaults.is_empty();
        if !holds {
            continue;
        }
        match holder {
            None => {
                holder = Some(file);
                v.global(raw);
            }
            Some(first) => v.problem(
                "roster",
                format!(
                    "holds people, engineers or defaults, which {} holds already; keep them in one file",
                    first.display()
                ),
            ),
        }
    }
    let people_file = holder.unwrap_or(path).to_owned();

    let mut communities = Vec::new();
    let mut hubs = Vec::new();
    for (file, raw) in &documents {
        v.file = file.clone();
        for raw_community in &raw.communities {
            let name = raw_community.name.trim().to_string();
            let community = v.community(&name, raw_community);
            for raw_hub in &raw_community.hubs {
                if let Some(hub) = v.hub(raw_hub, &community) {
                    hubs.push(hub);
                }
            }
            communities.push(community);
        }
    }
    v.file = people_file;
    v.report_missing_ids();
    v.file = path.to_owned();
    v.selection(&documents);

    if hubs.is_empty() && v.problems.is_empty() {
        v.warnings
            .push(format!("{}: the roster declares no hubs", path.display()));
    }
    if v.problems.is_empty() {
        Ok(Roster {
            source: path.to_owned(),
            people: v.people.into_vec(),
            engineers: v.engineers,
            communities,
            hubs,
            warnings: v.warnings,
        })
    } else {
        Err(RosterError::Invalid {
            path: path.to_owned(),
            problems: v.problems,
        })
    }
}

/// Whether validation reads the secrets a hub run needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Credentials {
    /// Resolve every selected hub's token and its community's alert route, and read
    /// every hub's `ca_file` (selected or not): a roster to run with.
    Resolve,
    /// Check that each hub names exactly one token source, but read no token, no
    /// `ca_file` and no webhook: a roster from an untrusted pull request, for `diff`.
    /// The hubs get an empty token and no CA bundle.
    Skip,
}

/// The state of one validation: what has been seen so far, and what is wrong.
struct Validator<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    credentials: Credentials,
    /// `--hub` names (empty: every hub).
    only: &'a [String],
    /// The file being read, named in problems.
    file: PathBuf,
    problems: Vec<Problem>,
    warnings: Vec<String>,
    people: People,
    engineers: Vec<UserName>,
    /// What `defaults` writes, checked.
    defaults: Written,
    /// Community names seen (lowercased).
    community_names: BTreeSet<String>,
    /// Hub names seen (lowercased) → their community.
    hub_names: BTreeMap<String, String>,
    /// Normalised api_urls seen → the hub that has it.
    api_urls: BTreeMap<String, String>,
    /// People declared on a hub whose login they have no id for → those hubs.
    missing_ids: BTreeMap<(UserName, String), Vec<String>>,
}

impl Validator<'_> {
    /// Whether this run selects the hub named `hub` (`--hub`; all when none is given).
    fn selects(&self, hub: &str) -> bool {
        let hub = HubName::new(hub);
        self.only.is_empty() || self.only.iter().any(|n| hub.is(n))
    }

    /// Reports each problem of [`added_by_problems`].
    fn check_added_by(
        &mut self,
        subject: &str,
        whom: &str,
        roots: &[UserName],
        checked: &[Administrator],
        adders: &[Administrator],
    ) {
        for (who, message) in added_by_problems(subject, whom, roots, checked, adders) {
            self.problem(who, message);
        }
    }

    fn problem(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            subject: subject.into(),
            message: message.into(),
        });
    }

    fn is_engineer(&self, name: &UserName) -> bool {
        self.engineers.contains(name)
    }

    /// `people`, `engineers` and `defaults`.
    fn global(&mut self, raw: &RawRoster) {
        let mut found = Vec::new();
        self.people = People::build(&raw.people, &mut |subject, message| {
            found.push((subject, message))
        });
        for (subject, message) in found {
            self.problem(subject, message);
        }
        for e in &raw.engineers {
            let name = UserName::new(&e.name);
            let who = format!("engineer {name}");
            if let Some(why) = name.problem() {
                self.problem(&who, why);
            } else if self.is_engineer(&name) {
                self.problem(&who, "is listed more than once");
            } else {
                self.engineers.push(name);
            }
        }
        self.defaults = self.written("defaults", raw.defaults.settings());
    }

    /// The settings one level writes, each key checked (a problem, and the key left
    /// unwritten, where it is wrong).
    fn written(&mut self, subject: &str, raw: RawSettings<'_>) -> Written {
        // Every key by name, no `..`: a new setting does not compile until it is checked.
        let RawSettings {
            policy,
            max_revocations,
            max_revocation_share,
            login,
            engineers,
            admin_roles,
            ui_grants,
        } = raw;
        Written {
            policy,
            max_revocations,
            max_revocation_share: self.share(subject, max_revocation_share),
            login: login.and_then(|l| self.login(subject, l)),
            engineers,
            admin_roles: admin_roles.map(|r| self.role_names(subject, r)),
            ui_grants: ui_grants.and_then(|u| self.keep_for(subject, &u.keep_for)),
        }
    }

    /// `ui_grants.keep_for`: a duration (`30d`, `12h`, `0`).
    fn keep_for(&mut self, subject: &str, raw: &str) -> Option<std::time::Duration> {
        let raw = raw.trim();
        if raw == "0" {
            return Some(std::time::Duration::ZERO);
        }
        match humantime::parse_duration(raw) {
            Ok(keep) => Some(keep),
            Err(_) => {
                self.problem(
                    subject,
                    format!("ui_grants.keep_for {raw:?} is not a duration (like 30d or 12h; 0 keeps none)"),
                );
                None
            }
        }
    }

    /// `max_revocation_share`, which must be a fraction from 0 to 1.
    fn share(&mut self, subject: &str, raw: Option<f64>) -> Option<Share> {
        let raw = raw?;
        let share = Share::from_fraction(raw);
        if share.is_none() {
            self.problem(
                subject,
                format!(
                    "max_revocation_share {raw} is not a fraction from 0 to 1 (0.5 = at most half of the hub's admins in one run)"
                ),
            );
        }
        share
    }

    /// A login name (`github`, `google`, …), in lowercase.
    fn login(&mut self, subject: &str, raw: &str) -> Option<String> {
        let login = raw.trim().to_lowercase();
        if login.is_empty() || login.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.problem(
                subject,
                format!("login {raw:?} is not a login name (like github, google, orcid)"),
            );
            return None;
        }
        Some(login)
    }

    fn community(&mut self, name: &str, raw: &RawCommunity) -> Community {
        let subject = format!("community {}", printable(name));
        if name.chars().any(char::is_control) {
            self.problem(&subject, "the name contains a control character");
        }
        if name.is_empty() {
            self.problem("community", "a community has an empty name");
        } else if !self.community_names.insert(name.to_lowercase()) {
            self.problem(&subject, "the community is declared more than once");
        }
        let representatives: Vec<UserName> = raw
            .representatives
            .iter()
            .map(|r| UserName::new(&r.name))
            .collect();
        match representatives.len() {
            1 | 2 => {}
            0 => self.problem(
                &subject,
                "has no representative; a community has one or two",
            ),
            n => self.problem(
                &subject,
                format!(
                    "has {n} representatives ({}); a community has one or two",
                    join(&representatives)
                ),
            ),
        }
        let administrators = administrators(&raw.administrators);
        self.expiries(&subject, &raw.administrators);

        // Each person once per community. An engineer may also be a representative (an
        // operator's own hubs have only staff as admins) or an administrator (a real
        // fleet lists engineers as admins of communities whose hubs opt out of the
        // engineers): where the engineers are declared, they are declared once, as an
        // engineer; on hubs that set `engineers: false`, in that role.
        let mut seen: BTreeMap<&UserName, &'static str> = BTreeMap::new();
        let people = representatives
            .iter()
            .map(|n| (n, "representative"))
            .chain(administrators.iter().map(|a| (&a.name, "administrator")));
        for (person, role) in people {
            let who = format!("{subject}: {role} {person}");
            if let Some(why) = person.problem() {
                self.problem(&who, why);
                continue;
            }
            if let Some(first) = seen.insert(person, role) {
                self.problem(
                    &who,
                    format!("appears more than once in the community (also as {first})"),
                );
            }
        }
        let whom = format!("a representative or administrator of {name}, nor an engineer");
        let roots: Vec<UserName> = representatives
            .iter()
            .chain(self.engineers.iter())
            .cloned()
            .collect();
        self.check_added_by(&subject, &whom, &roots, &administrators, &administrators);
        self.engineer_entries_without_effect(&subject, raw, &administrators);
        let alerts = self.alerts(&subject, raw);
        let settings = self.written(&subject, raw.settings());
        Community {
            name: name.to_string(),
            representatives,
            administrators,
            alerts,
            settings,
        }
    }

    /// A warning for each engineer listed as an administrator of a community whose every
    /// hub declares the engineers: there they are declared as engineers, so the entry
    /// changes nothing (its `added_by` and `expires` included).
    fn engineer_entries_without_effect(
        &mut self,
        subject: &str,
        raw: &RawCommunity,
        administrators: &[Administrator],
    ) {
        if raw.hubs.is_empty() || raw.hubs.iter().any(|h| h.engineers == Some(false)) {
            return;
        }
        for admin in administrators {
            if self.is_engineer(&admin.name) {
                self.warnings.push(format!(
                    "{}: {subject}: administrator {}: is an engineer, declared as one on every hub of the community (none sets engineers: false), so this entry changes nothing",
                    self.file.display(),
                    admin.name
                ));
            }
        }
    }

    /// The community's alert route: one source, resolved (its variable set, its file
    /// readable, a URL) when one of its hubs is selected.
    fn alerts(&mut self, subject: &str, raw: &RawCommunity) -> Option<super::AlertRoute> {
        let alerts = raw.alerts.as_ref()?;
        let who = format!("{subject}: alerts");
        let source = SecretSource::choose(
            Secret::Webhook,
            alerts.webhook_env.as_ref(),
            alerts.webhook_file.as_ref(),
        )
        .map_err(|why| self.problem(&who, why.to_string()))
        .ok()?;
        let selected = raw.hubs.iter().any(|h| self.selects(&h.name));
        if !selected || self.credentials == Credentials::Skip {
            return None;
        }
        match super::alerts::resolve(&source, self.env) {
            Ok(route) => Some(route),
            Err(why) => {
                self.problem(&who, why.to_string());
                None
            }
        }
    }

    fn hub(&mut self, raw: &RawHub, community: &Community) -> Option<HubSpec> {
        let name = raw.name.trim().to_string();
        let who = format!(
            "community {}: hub {}",
            printable(&community.name),
            printable(&name)
        );
        if name.chars().any(char::is_control) {
            self.problem(&who, "the name contains a control character");
            return None;
        }
        let selected = self.selects(&name);
        let problems_before = self.problems.len();
        self.hub_name(&who, &name, community);
        let api_url = self.api_url(&who, &name, raw);
        let (source, token) = self.hub_token(&who, raw, selected);
        let ca = self.ca_file(&who, raw, api_url.as_ref());
        let log = raw.log.as_ref().and_then(|l| self.log(&who, l));
        let written = self.written(&who, raw.settings());
        let settings = settings::resolve(&[&written, &community.settings, &self.defaults]);
        if settings.ui_grants.is_some() && raw.log.is_none() {
            self.problem(
                &who,
                "ui_grants keeps admins made in the hub by whom the hub's log names, and the hub has no log; add log: {file: …} or log: {kubernetes: …}, or ui_grants: {keep_for: 0}",
            );
        }
        let admins = self.hub_admins(
            &who,
            &name,
            community,
            raw,
            settings.login.as_deref(),
            settings.engineers,
        );

        let ok = self.problems.len() == problems_before;
        match (ok, api_url, source, token) {
            (true, Some(api_url), Some(token_source), Some(token)) => Some(HubSpec {
                name: HubName::new(&name),
                community: community.name.clone(),
                settings,
                access: HubAccess {
                    api_url,
                    token_source,
                    token,
                    ca,
                },
                log,
                admins,
            }),
            _ => None,
        }
    }

    /// A hub's name is not empty and no other hub has it (ignoring case).
    fn hub_name(&mut self, who: &str, name: &str, community: &Community) {
        if name.is_empty() {
            self.problem(
                format!("community {}", community.name),
                "a hub has an empty name",
            );
        } else if let Some(other) = self
            .hub_names
            .insert(name.to_lowercase(), community.name.clone())
        {
            self.problem(
                who,
                format!(
                    "hub names must be unique in the file; {name} is also a hub of community {other}"
                ),
            );
        }
    }

    /// The hub's `api_url`, which no other hub has (however it is written).
    fn api_url(&mut self, who: &str, name: &str, raw: &RawHub) -> Option<url::Url> {
        let api_url = match parse_api_url(&raw.api_url) {
            Ok(url) => Some(url),
            Err(why) => {
                self.problem(who, format!("api_url {why}"));
                None
            }
        };
        if let Some(url) = &api_url
            && let Some(other) = self.api_urls.insert(same_hub_key(url), name.to_string())
        {
            self.problem(
                who,
                format!(
                    "api_url {url} is also the api_url of hub {other}: one hub listed twice would see the other's admins as undeclared, and an enforcing run would revoke them; list each hub once"
                ),
            );
        }
        api_url
    }

    /// The hub's one token source, and its token when the hub is selected (empty when
    /// credentials are skipped).
    fn hub_token(
        &mut self,
        who: &str,
        raw: &RawHub,
        selected: bool,
    ) -> (Option<SecretSource>, Option<Token>) {
        let source = SecretSource::choose(
            Secret::Token,
            raw.token_env.as_ref(),
            raw.token_file.as_ref(),
        )
        .map_err(|why| self.problem(who, why.to_string()))
        .ok();
        // A hub left out of this run (--hub) needs no token here.
        let token = match source.as_ref().filter(|_| selected) {
            None => None,
            Some(_) if self.credentials == Credentials::Skip => Some(Token::new("")),
            Some(source) => match token::resolve(source, self.env) {
                Ok(resolved) => {
                    self.warnings
                        .extend(resolved.warnings.into_iter().map(|w| format!("{who}: {w}")));
                    Some(resolved.token)
                }
                Err(why) => {
                    self.problem(who, why.to_string());
                    None
                }
            },
        };
        (source, token)
    }

    /// The hub's `ca_file`, read (when credentials are resolved) and only for https.
    fn ca_file(
        &mut self,
        who: &str,
        raw: &RawHub,
        api_url: Option<&url::Url>,
    ) -> Option<Arc<CaBundle>> {
        let path = raw.ca_file.as_ref()?;
        if api_url.is_some_and(|u| u.scheme() != "https") {
            self.problem(who, "ca_file is set but api_url is not https");
        }
        if self.credentials == Credentials::Skip {
            return None;
        }
        match CaBundle::read(path) {
            Ok(bundle) => Some(Arc::new(bundle)),
            Err(why) => {
                self.problem(who, why.to_string());
                None
            }
        }
    }

    /// `log`: exactly one place (a file, or the hub pod in Kubernetes), and a zone that
    /// is one.
    fn log(&mut self, who: &str, raw: &RawLog) -> Option<LogConfig> {
        let zone = match raw.zone.as_deref() {
            None => LogZone::utc(),
            Some(name) => match LogZone::named(name.trim()) {
                Ok(zone) => zone,
                Err(why) => {
                    self.problem(who, format!("log.zone: {why}"));
                    return None;
                }
            },
        };
        let place = match (&raw.file, &raw.kubernetes) {
            (Some(file), None) if file.is_absolute() => LogPlace::File(file.clone()),
            (Some(file), None) => {
                self.problem(
                    who,
                    format!("log.file {} is not an absolute path", file.display()),
                );
                return None;
            }
            (None, Some(k)) => {
                let source = KubeSource::new(
                    k.namespace.trim(),
                    k.selector.as_deref(),
                    k.container.as_deref().map(str::trim),
                );
                match source {
                    Ok(source) => LogPlace::Kubernetes(source),
                    Err(why) => {
                        self.problem(who, why.to_string());
                        return None;
                    }
                }
            }
            (Some(_), Some(_)) => {
                self.problem(
                    who,
                    "log names both a file and kubernetes; a hub writes one log",
                );
                return None;
            }
            (None, None) => {
                self.problem(who, "log names neither a file nor kubernetes");
                return None;
            }
        };
        Some(LogConfig { place, zone })
    }

    /// The entries of an `admin_roles` list that are JupyterHub role names (each other
    /// entry is a problem), without `admin`, which is always an admin role (listing it
    /// is a warning, as it changes nothing).
    fn role_names(&mut self, subject: &str, raw: &[String]) -> Vec<String> {
        let mut names = Vec::new();
        for role in raw {
            if !is_role_name(role) {
                self.problem(
                    subject,
                    format!(
                        "admin_roles: {role:?} is not a JupyterHub role name (3 to 255 characters: lowercase letters, digits and - _ ~ ., starting with a letter and ending with a letter or digit), so no hub has such a role"
                    ),
                );
            } else if role == ADMIN_ROLE {
                self.warnings.push(format!(
                    "{}: {subject}: admin_roles lists admin, which is always an admin role; remove it",
                    self.file.display()
                ));
            } else {
                names.push(role.clone());
            }
        }
        names
    }

    /// The admins of one hub, by its usernames: the engineers (unless it opts out),
    /// the community's representatives and administrators, and its own
    /// administrators. Checks the hub's own administrators, and that no one is
    /// declared twice for the hub.
    fn hub_admins(
        &mut self,
        who: &str,
        hub: &str,
        community: &Community,
        raw: &RawHub,
        login: Option<&str>,
        engineers: bool,
    ) -> Desired {
        let own = administrators(&raw.administrators);
        self.expiries(who, &raw.administrators);
        self.check_hub_administrators(who, hub, community, &own, engineers);

        let engineers: &[UserName] = if engineers { &self.engineers } else { &[] };
        let found = admins::hub_admins(engineers, community, &own, &self.people, login);
        for (person, login) in found.missing_ids {
            self.missing_ids
                .entry((person, login))
                .or_default()
                .push(hub.to_string());
        }
        for (subject, why) in found.problems {
            self.problem(format!("{who}: {subject}"), why);
        }
        for warning in found.warnings {
            self.warnings
                .push(format!("{}: {who}: {warning}", self.file.display()));
        }
        found.desired
    }

    /// The hub's own administrators: names that JupyterHub accepts, and an `added_by`
    /// that is one of the community's people, the hub's engineers, or one of each other.
    fn check_hub_administrators(
        &mut self,
        who: &str,
        hub: &str,
        community: &Community,
        own: &[Administrator],
        engineers: bool,
    ) {
        for admin in own {
            if let Some(why) = admin.name.problem() {
                self.problem(format!("{who}: administrator {}", admin.name), why);
            }
        }
        let mut roots: Vec<UserName> = community.representatives.clone();
        if engineers {
            roots.extend(self.engineers.iter().cloned());
        }
        let adders: Vec<Administrator> = community
            .administrators
            .iter()
            .chain(own.iter())
            .cloned()
            .collect();
        let whom = format!("a representative, administrator or engineer of hub {hub}");
        self.check_added_by(who, &whom, &roots, own, &adders);
    }

    /// `expires` is a date; one that has passed is a warning (the person is no longer
    /// declared, so an enforcing run revokes them).
    fn expiries(&mut self, subject: &str, raw: &[RawAdministrator]) {
        let today = SystemClock.today();
        for admin in raw {
            let Some(text) = &admin.expires else { continue };
            let who = format!("{subject}: administrator {}", UserName::new(&admin.name));
            match Date::parse(text) {
                Err(e) => self.problem(who, format!("expires {e}")),
                Ok(last) if last < today => self.warnings.push(format!(
                    "{}: {who}: expires {last} has passed: no longer declared, so an enforcing run revokes them (remove the entry, or extend it)",
                    self.file.display()
                )),
                Ok(_) => {}
            }
        }
    }

    /// One problem per person and login they lack an id for, naming the hubs.
    fn report_missing_ids(&mut self) {
        let missing = std::mem::take(&mut self.missing_ids);
        for ((person, login), hubs) in missing {
            let shown: Vec<&str> = hubs.iter().take(5).map(String::as_str).collect();
            let more = hubs.len().saturating_sub(shown.len());
            let hubs_text = if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            };
            self.problem(
                format!("person {person}"),
                format!(
                    "has no {login} id, but is declared on hub{} {hubs_text}, which log{} in by {login}; add it under people[].ids",
                    if hubs.len() == 1 { "" } else { "s" },
                    if hubs.len() == 1 { "s" } else { "" },
                ),
            );
        }
    }

    /// Every `--hub` name must name a hub of the roster.
    fn selection(&mut self, documents: &[(PathBuf, RawRoster)]) {
        for name in self.only {
            if self.hub_names.contains_key(&name.trim().to_lowercase()) {
                continue;
            }
            let known: Vec<&str> = documents
                .iter()
                .flat_map(|(_, raw)| raw.communities.iter())
                .flat_map(|c| c.hubs.iter().map(|h| h.name.trim()))
                .collect();
            self.problem(
                format!("hub {name}"),
                format!(
                    "is named with --hub but the roster has no such hub (hubs: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
    }
}

/// A name JupyterHub accepts for a role (`jupyterhub/roles.py`, since 2.0): 3 to 255
/// characters, lowercase ASCII letters, digits and `-_~.`, starting with a letter and
/// ending with a letter or digit. A role with any other name cannot exist on a hub.
fn is_role_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let end_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (3..=255).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes.last().is_some_and(end_ok)
        && bytes.iter().all(|b| end_ok(b) || b"-_~.".contains(b))
}

fn administrators(raw: &[RawAdministrator]) -> Vec<Administrator> {
    raw.iter()
        .map(|a| Administrator {
            name: UserName::new(&a.name),
            added_by: UserName::new(&a.added_by),
            expires: a.expires.as_deref().and_then(|d| Date::parse(d).ok()),
        })
        .collect()
}

/// The problems with the `added_by` of each of `checked`: it names a root (one of
/// `roots`) or one of `adders`, and following it always ends at a root. `whom`
/// completes "is not …" for an unknown name.
fn added_by_problems(
    subject: &str,
    whom: &str,
    roots: &[UserName],
    checked: &[Administrator],
    adders: &[Administrator],
) -> Vec<(String, String)> {
    let is_root = |name: &UserName| roots.contains(name);
    let added_by: BTreeMap<&UserName, &UserName> =
        adders.iter().map(|a| (&a.name, &a.added_by)).collect();
    let mut found = Vec::new();
    for admin in checked {
        let who = format!("{subject}: administrator {}", admin.name);
        if admin.added_by.problem().is_some() {
            found.push((who, "added_by is empty".to_string()));
            continue;
        }
        if admin.added_by == UserName::new(super::ADDED_BY_PLACEHOLDER) {
            found.push((
                who,
                format!(
                    "added_by is still the placeholder written by `dump`; write who added {}",
                    admin.name
                ),
            ));
            continue;
        }
        // An engineer (a root) listed as an administrator did not add themselves.
        if admin.added_by == admin.name && is_root(&admin.name) {
            found.push((
                who,
                format!(
                    "added_by names {} themselves; write who added them",
                    admin.name
                ),
            ));
            continue;
        }
        if !is_root(&admin.added_by) && !added_by.contains_key(&admin.added_by) {
            found.push((who, format!("added_by {} is not {whom}", admin.added_by)));
            continue;
        }
        // Follow the chain; it must reach a root without revisiting anyone.
        let mut chain = vec![&admin.name];
        let mut current = &admin.added_by;
        while !is_root(current) {
            if chain.contains(&current) {
                chain.push(current);
                found.push((
                    who,
                    format!(
                        "the added_by chain {} is a cycle that never reaches a representative or an engineer",
                        chain.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" → ")
                    ),
                ));
                break;
            }
            chain.push(current);
            match added_by.get(current) {
                Some(next) => current = next,
                // Reported on the administrator whose added_by is unknown.
                None => break,
            }
        }
    }
    found
}

fn join(names: &[UserName]) -> String {
    names
        .iter()
        .map(UserName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::{Role, Roster, RosterError, Share};
    use crate::name::UserName;
    use std::path::Path;

    const GOOD: &str = r#"
engineers:
  - name: eng-eve
defaults:
  policy: enforce
  max_revocations: 3
communities:
  - name: climate-lab
    representatives:
      - name: rep-bob
    administrators:
      - name: carol
        added_by: rep-bob
      - name: Dave
        added_by: carol
      - name: erin
        added_by: eng-eve
    hubs:
      - name: climate-prod
        api_url: http://127.0.0.1:8081/hub/api/
        token_env: CLIMATE_PROD_TOKEN
        policy: grant
      - name: climate-staging
        api_url: https://staging.example.org/hub/api
        token_env: CLIMATE_STAGING_TOKEN
        max_revocations: 1
"#;

    fn env(var: &str) -> Option<String> {
        match var {
            "CLIMATE_PROD_TOKEN" | "CLIMATE_STAGING_TOKEN" | "T" => Some("abcdefgh123".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Roster, RosterError> {
        Roster::parse_bytes(Path::new("roster.yaml"), text.as_bytes(), &env)
    }

    /// All problem lines of an invalid roster.
    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Err(RosterError::Invalid { problems, .. }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            Err(other) => panic!("expected Invalid, got {other}"),
            Ok(_) => panic!("expected Invalid, got a valid roster"),
        }
    }

    fn community(reps: &str, admins: &str) -> String {
        format!(
            "engineers: [{{name: eng-eve}}]\ncommunities:\n  - name: c\n    representatives: {reps}\n    administrators: {admins}\n    hubs: [{{name: h, api_url: 'http://h/hub/api', token_env: T}}]\n"
        )
    }

    #[test]
    fn good_roster_validates_with_defaults_and_overrides() {
        let roster = parse(GOOD).unwrap();
        assert_eq!(roster.engineers, vec![UserName::new("eng-eve")]);
        assert_eq!(roster.hubs.len(), 2);
        let prod = &roster.hubs[0];
        assert_eq!(
            prod.access.api_url.as_str(),
            "http://127.0.0.1:8081/hub/api"
        );
        assert_eq!(prod.settings.rules.policy, crate::roster::Policy::Grant);
        assert_eq!(prod.settings.rules.max_revocations, 3);
        let staging = &roster.hubs[1];
        assert_eq!(
            staging.settings.rules.policy,
            crate::roster::Policy::Enforce
        );
        assert_eq!(staging.settings.rules.max_revocations, 1);
        assert_eq!(staging.community, "climate-lab");

        let desired = roster.desired(prod);
        assert_eq!(desired.len(), 5);
        assert_eq!(desired[&UserName::new("eng-eve")].role, Role::Engineer);
        assert_eq!(
            desired[&UserName::new("rep-bob")].role,
            Role::Representative
        );
        let dave = &desired[&UserName::new("dave")];
        assert_eq!(dave.role, Role::Administrator);
        assert_eq!(dave.added_by, Some(UserName::new("carol")));
    }

    #[test]
    fn defaults_are_enforce_and_five() {
        let roster = parse(&community("[{name: r}]", "[]")).unwrap();
        assert_eq!(
            roster.hubs[0].settings.rules.policy,
            crate::roster::Policy::Enforce
        );
        assert_eq!(roster.hubs[0].settings.rules.max_revocations, 5);
    }

    /// Rules about a community's people: (what, representatives, administrators, the
    /// problems, in order).
    const COMMUNITY_RULES: &[(&str, &str, &str, &[&str])] = &[
        (
            "no representative",
            "[]",
            "[]",
            &["community c: has no representative; a community has one or two"],
        ),
        (
            "three representatives",
            "[{name: a}, {name: b}, {name: c}]",
            "[]",
            &["community c: has 3 representatives (a, b, c); a community has one or two"],
        ),
        (
            "added_by someone unknown",
            "[{name: r}]",
            "[{name: x, added_by: nobody}]",
            &[
                "community c: administrator x: added_by nobody is not a representative or administrator of c, nor an engineer",
            ],
        ),
        (
            "added_by left as dump's placeholder",
            "[{name: r}]",
            "[{name: x, added_by: FILL-IN}]",
            &[
                "community c: administrator x: added_by is still the placeholder written by `dump`; write who added x",
            ],
        ),
        (
            "added_by chains that are cycles",
            "[{name: r}]",
            "[{name: x, added_by: y}, {name: y, added_by: x}, {name: z, added_by: z}]",
            &[
                "community c: administrator x: the added_by chain x → y → x is a cycle that never reaches a representative or an engineer",
                "community c: administrator y: the added_by chain y → x → y is a cycle that never reaches a representative or an engineer",
                "community c: administrator z: the added_by chain z → z is a cycle that never reaches a representative or an engineer",
            ],
        ),
        (
            "the same person twice once names are normalised",
            "[{name: Rep}]",
            "[{name: ' rep ', added_by: eng-eve}, {name: carol, added_by: rep}, {name: Carol, added_by: rep}]",
            &[
                "community c: administrator rep: appears more than once in the community (also as representative)",
                "community c: administrator carol: appears more than once in the community (also as administrator)",
            ],
        ),
        (
            "an engineer who is a representative and an administrator",
            "[{name: eng-eve}]",
            "[{name: Eng-Eve, added_by: eng-eve}]",
            &[
                "community c: administrator eng-eve: appears more than once in the community (also as representative)",
                "community c: administrator eng-eve: added_by names eng-eve themselves; write who added them",
            ],
        ),
    ];

    #[test]
    fn community_rules_name_the_community_and_the_person() {
        for (what, reps, admins, expected) in COMMUNITY_RULES {
            assert_eq!(problems(&community(reps, admins)), *expected, "{what}");
        }
    }

    #[test]
    fn added_by_engineer_and_chains_are_fine() {
        let roster = parse(&community(
            "[{name: r}]",
            "[{name: x, added_by: eng-eve}, {name: y, added_by: x}, {name: z, added_by: y}]",
        ))
        .unwrap();
        assert_eq!(roster.communities[0].administrators.len(), 3);
    }

    #[test]
    fn duplicate_engineer_and_bad_names() {
        let text = "engineers: [{name: e}, {name: E}, {name: 'a/b'}]\n";
        assert_eq!(
            problems(text),
            [
                "engineer e: is listed more than once",
                "engineer a/b: JupyterHub user names cannot contain '/'",
            ]
        );
    }

    /// Communities a (representative r) and b (representative s) with these hubs.
    fn communities_a_and_b(a_hubs: &str, b_hubs: &str) -> String {
        format!(
            "communities:\n  - name: a\n    representatives: [{{name: r}}]\n    hubs: {a_hubs}\n  - name: b\n    representatives: [{{name: s}}]\n    hubs: {b_hubs}\n"
        )
    }

    #[test]
    fn hub_names_unique_across_communities() {
        let text = communities_a_and_b(
            "[{name: h, api_url: 'http://h/hub/api', token_env: T}]",
            "[{name: H, api_url: 'http://h2/hub/api', token_env: T}]",
        );
        assert_eq!(
            problems(&text),
            [
                "community b: hub H: hub names must be unique in the file; H is also a hub of community a"
            ]
        );
    }

    #[test]
    fn one_hub_listed_twice_is_refused_however_its_url_is_written() {
        let text = communities_a_and_b(
            "[{name: h1, api_url: 'https://Hub.Example.org/hub/api', token_env: T}]",
            "
      - {name: h2, api_url: 'https://hub.example.org:443/hub/api/', token_env: T}
      - {name: h3, api_url: 'https://hub.example.org/other/hub/api', token_env: T}
      - {name: h4, api_url: 'http://hub.example.org/hub/api', token_env: T}",
        );
        assert_eq!(
            problems(&text),
            [
                "community b: hub h2: api_url https://hub.example.org/hub/api is also the api_url of hub h1: one hub listed twice would see the other's admins as undeclared, and an enforcing run would revoke them; list each hub once"
            ]
        );
    }

    #[test]
    fn type_errors_speak_of_the_roster_with_the_line() {
        let err = parse("communities:\n  - name: c\n    hubs: oops\n").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("Raw"), "{msg}");
        assert!(msg.contains("expected a list"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        let err = parse("- a\n- b\n").unwrap_err().to_string();
        assert!(!err.contains("Raw"), "{err}");
        assert!(err.contains("expected a roster: a mapping"), "{err}");
        let err = parse("communities:\n  - just-a-name\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a community: a mapping"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn api_url_rules() {
        let hub = |url: &str| {
            format!(
                "communities:\n  - name: c\n    representatives: [{{name: r}}]\n    hubs: [{{name: h, api_url: '{url}', token_env: T}}]\n"
            )
        };
        let one = |url: &str| problems(&hub(url)).join("\n");
        assert!(one("ftp://h/x").contains("is not an http or https URL"));
        assert!(one("not a url").contains("is not a URL"));
        assert!(one("http://h/hub/api?x=1").contains("query or fragment"));
        let creds = one("http://user:hunter2@h/hub/api");
        assert!(creds.contains("must not carry a user name or password"));
        assert!(!creds.contains("hunter2"), "{creds}");
    }

    /// A roster whose one hub's token, or whose community's webhook, is given by
    /// `entries` (`{key}_env: …` and so on), and who is named in that entry's problems.
    fn with_secret(key: &str, entries: &str) -> (String, &'static str) {
        let (alerts, hub_token) = match key {
            "token" if entries.is_empty() => (String::new(), String::new()),
            "token" => (String::new(), format!(", {entries}")),
            _webhook => (
                format!("    alerts: {{{entries}}}\n"),
                ", token_env: T".to_string(),
            ),
        };
        let roster = format!(
            "communities:\n  - name: c\n    representatives: [{{name: r}}]\n{alerts}    hubs: [{{name: h, api_url: 'http://h/hub/api'{hub_token}}}]\n"
        );
        let who = match key {
            "token" => "community c: hub h",
            _webhook => "community c: alerts",
        };
        (roster, who)
    }

    #[test]
    fn tokens_and_webhooks_come_from_exactly_one_readable_source() {
        for key in ["token", "webhook"] {
            let problems_of = |entries: &str| {
                let (roster, who) = with_secret(key, entries);
                let p = problems(&roster);
                assert_eq!(p.len(), 1, "{key} {entries}: {p:?}");
                p[0].strip_prefix(&format!("{who}: "))
                    .unwrap_or_else(|| panic!("{key} {entries}: not about {who}: {p:?}"))
                    .to_string()
            };
            assert_eq!(
                problems_of(""),
                format!("has no {key}: set {key}_env or {key}_file")
            );
            assert_eq!(
                problems_of(&format!("{key}_env: T, {key}_file: /x")),
                format!("has both {key}_env and {key}_file; keep one")
            );
            assert_eq!(
                problems_of(&format!("{key}_env: MISSING")),
                format!("{key}_env MISSING is not set")
            );
            let unreadable = problems_of(&format!("{key}_file: /nonexistent/{key}"));
            assert!(
                unreadable.starts_with(&format!("{key}_file /nonexistent/{key} cannot be read")),
                "{unreadable}"
            );
        }
    }

    #[test]
    fn a_webhook_is_a_url_never_written_in_the_roster() {
        // T holds a token, not a URL; the message does not show it.
        let (roster, _) = with_secret("webhook", "webhook_env: T");
        let p = problems(&roster);
        assert!(
            p[0].contains("is not a URL") && !p[0].contains("abcdefgh"),
            "{p:?}"
        );
        let (roster, _) = with_secret("webhook", "url: 'https://hooks.example.org/x'");
        let err = parse(&roster).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `url`"),
            "the URL itself is not accepted: {err}"
        );
    }

    #[test]
    fn every_problem_reported_at_once_with_the_file() {
        let text = "engineers: [{name: e}, {name: e}]
communities:
  - name: c
    representatives: []
    administrators: [{name: x, added_by: y}]
    hubs: [{name: h, api_url: 'gopher://h', token_env: NOPE}]
";
        let err = parse(text).unwrap_err();
        let RosterError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(problems.len(), 5, "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("roster.yaml is not a valid roster (5 problems):"),
            "{msg}"
        );
        assert_eq!(msg.matches("\n  roster.yaml: ").count(), 5, "{msg}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = parse("communities:\n  - name: c\n    representatves: []\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("roster.yaml: "), "{msg}");
        assert!(msg.contains("unknown field `representatves`"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = parse("communities:\n  - name: [c\n").unwrap_err();
        let RosterError::Syntax { error, .. } = &err else {
            panic!("{err}")
        };
        assert!(error.line.is_some() && error.column.is_some(), "{err}");
    }

    #[test]
    fn a_shard_needs_only_its_own_hubs_tokens() {
        let text = "communities:
  - name: a
    representatives: [{name: r}]
    hubs:
      - {name: mine, api_url: 'http://h/hub/api', token_env: T}
      - {name: theirs, api_url: 'http://h2/hub/api', token_env: UNSET_ELSEWHERE}
";
        let only = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            Roster::parse_selected(Path::new("roster.yaml"), text.as_bytes(), &env, &names)
        };
        let roster = only(&["mine"]).unwrap();
        assert_eq!(roster.hubs.len(), 1);
        assert_eq!(roster.hubs[0].name.as_str(), "mine");
        let err = only(&["theirs"]).unwrap_err().to_string();
        assert!(
            err.contains("token_env UNSET_ELSEWHERE is not set"),
            "{err}"
        );
        let err = only(&["nope"]).unwrap_err().to_string();
        assert!(
            err.contains(
                "hub nope: is named with --hub but the roster has no such hub (hubs: mine, theirs)"
            ),
            "{err}"
        );
        assert!(
            parse(text).is_err(),
            "without a selection every token is needed"
        );
    }

    #[test]
    fn unsupported_version() {
        assert_eq!(
            problems("version: 2\n"),
            ["version: version 2 is not supported (this release reads version 1)"]
        );
    }

    #[test]
    fn not_utf8() {
        let err = Roster::parse_bytes(Path::new("r.yaml"), b"a: \xff\n", &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "r.yaml: the roster is not valid UTF-8 (byte 3)"
        );
    }

    #[test]
    fn max_revocation_share_defaults_to_half_and_must_be_a_fraction() {
        let hub = "communities:\n  - name: c\n    representatives: [{name: r}]\n    hubs: [{name: h, api_url: 'http://h.invalid/hub/api', token_env: T";
        let roster = parse(&format!("{hub}}}]\n")).unwrap();
        assert_eq!(
            roster.hubs[0].settings.rules.max_revocation_share,
            Share::HALF
        );
        let roster = parse(&format!(
            "defaults: {{max_revocation_share: 0.25}}\n{hub}}}]\n"
        ))
        .unwrap();
        assert_eq!(
            roster.hubs[0]
                .settings
                .rules
                .max_revocation_share
                .to_string(),
            "0.25"
        );
        let roster = parse(&format!(
            "defaults: {{max_revocation_share: 0.25}}\n{hub}, max_revocation_share: 1}}]\n"
        ))
        .unwrap();
        assert_eq!(
            roster.hubs[0].settings.rules.max_revocation_share,
            Share::ALL
        );
        let p = problems(&format!("{hub}, max_revocation_share: 1.5}}]\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("max_revocation_share 1.5 is not a fraction from 0 to 1"),
            "{p:?}"
        );
        let p = problems(&format!(
            "defaults: {{max_revocation_share: -1}}\n{hub}}}]\n"
        ));
        assert!(
            p[0].starts_with("defaults: max_revocation_share -1"),
            "{p:?}"
        );
    }

    #[test]
    fn policy_must_be_known() {
        let err = parse("defaults: {policy: yolo}\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant `yolo`"), "{err}");
    }

    const FLEET: &str = r#"
people:
  - name: ada
    ids: {github: Ada-L, google: ada@example.org}
  - name: coord-a
    ids: {google: coord-a@state.example.edu, github: coord-a-gh}
engineers:
  - name: ada
  - name: sam-gh
defaults:
  login: github
communities:
  - name: state-colleges
    representatives: [{name: coord-a}]
    hubs:
      - name: college-a
        api_url: https://college-a.example.org/hub/api
        token_env: T
        login: google
        engineers: false
        administrators:
          - name: Jo.Doe@college.example.edu
            added_by: coord-a
      - name: college-b
        api_url: https://college-b.example.org/hub/api
        token_env: T
        administrators:
          - name: AbcLab42
            added_by: ada
"#;

    fn admins(roster: &Roster, hub: &str) -> Vec<String> {
        roster
            .hub(hub)
            .unwrap()
            .admins
            .iter()
            .map(|(name, d)| match &d.person {
                Some(p) => format!("{name} ({p}, {})", d.role),
                None => format!("{name} ({})", d.role),
            })
            .collect()
    }

    #[test]
    fn people_are_named_by_each_hubs_login_and_hubs_have_their_own_administrators() {
        let roster = parse(FLEET).unwrap();
        assert_eq!(
            admins(&roster, "college-a"),
            [
                "coord-a@state.example.edu (coord-a, representative)",
                "jo.doe@college.example.edu (administrator)",
            ],
            "engineers: false leaves the engineers out; google ids"
        );
        assert_eq!(
            admins(&roster, "college-b"),
            [
                "abclab42 (administrator)",
                "ada-l (ada, engineer)",
                "coord-a-gh (coord-a, representative)",
                "sam-gh (engineer)",
            ],
            "the default login, github"
        );
        let college_b = roster.hub("college-b").unwrap();
        assert_eq!(
            college_b.admins[&UserName::new("abclab42")].added_by,
            Some(UserName::new("ada"))
        );
    }

    #[test]
    fn a_person_without_an_id_for_a_hubs_login_names_person_hubs_and_login() {
        let text = FLEET.replace(
            "{google: coord-a@state.example.edu, github: coord-a-gh}",
            "{github: coord-a-gh}",
        );
        assert_eq!(
            problems(&text),
            [
                "person coord-a: has no google id, but is declared on hub college-a, which logs in by google; add it under people[].ids"
            ]
        );
    }

    #[test]
    fn an_id_belongs_to_one_person_and_a_person_is_declared_once_per_hub() {
        let text = FLEET.replace(
            "  - name: coord-a\n",
            "  - name: bob\n    ids: {github: ada-l}\n  - name: coord-a\n",
        );
        assert_eq!(
            problems(&text),
            [
                "person bob: github id ada-l is also the github id of ada; an id belongs to one person"
            ]
        );
        // The representative again as a hub administrator; a plain name that is an
        // engineer's github id.
        let text = FLEET.replace(
            "          - name: AbcLab42\n            added_by: ada\n",
            "          - name: coord-a\n            added_by: ada\n          - name: ada-l\n            added_by: ada\n",
        );
        assert_eq!(
            problems(&text),
            [
                "community state-colleges: hub college-b: administrator coord-a: is declared twice for this hub (the hub's administrator, and representative); list each person once per hub",
                "community state-colleges: hub college-b: administrator ada-l: is declared twice for this hub (the hub's administrator, and engineer ada, whose username here is also ada-l); list each person once per hub",
            ]
        );
    }

    #[test]
    fn a_hub_administrators_added_by_is_one_of_that_hubs_people() {
        // ada is an engineer, but not on college-a (engineers: false).
        let text = FLEET.replace(
            "            added_by: coord-a\n",
            "            added_by: ada\n",
        );
        assert_eq!(
            problems(&text),
            [
                "community state-colleges: hub college-a: administrator jo.doe@college.example.edu: added_by ada is not a representative, administrator or engineer of hub college-a"
            ]
        );
    }

    #[test]
    fn an_engineer_may_be_a_representative() {
        let text = FLEET.replace(
            "representatives: [{name: coord-a}]",
            "representatives: [{name: coord-a}, {name: ada}]",
        );
        let roster = parse(&text).unwrap();
        let b = &roster.hub("college-b").unwrap().admins;
        assert_eq!(b[&UserName::new("ada-l")].role, Role::Engineer);
        let a = &roster.hub("college-a").unwrap().admins;
        assert_eq!(
            a[&UserName::new("ada@example.org")].role,
            Role::Representative,
            "on a hub without engineers, a representative"
        );
    }

    /// [`FLEET`] with engineer ada also an administrator of state-colleges, whose hub
    /// college-a sets `engineers: false`.
    fn fleet_with_engineer_administrator(entry: &str) -> String {
        FLEET.replace(
            "    representatives: [{name: coord-a}]\n",
            &format!("    representatives: [{{name: coord-a}}]\n    administrators: [{entry}]\n"),
        )
    }

    #[test]
    fn an_engineer_may_be_an_administrator_declared_by_the_role_that_applies_on_each_hub() {
        let roster = parse(&fleet_with_engineer_administrator(
            "{name: Ada, added_by: coord-a, expires: '2099-12-31'}",
        ))
        .unwrap();
        assert_eq!(roster.warnings, Vec::<String>::new());
        let a = &roster.hub("college-a").unwrap().admins;
        let ada = &a[&UserName::new("ada@example.org")];
        assert_eq!(
            (ada.role, &ada.added_by, &ada.person, ada.hub_level),
            (
                Role::Administrator,
                &Some(UserName::new("coord-a")),
                &Some(UserName::new("ada")),
                false
            ),
            "engineers: false: declared as the administrator, by the hub's login"
        );
        assert_eq!(
            ada.expires.map(|d| d.to_string()).as_deref(),
            Some("2099-12-31")
        );
        let b = &roster.hub("college-b").unwrap().admins;
        let ada = &b[&UserName::new("ada-l")];
        assert_eq!(
            (ada.role, &ada.added_by, ada.expires),
            (Role::Engineer, &None, None),
            "declared once, as an engineer, where the engineers are"
        );
        assert_eq!(
            admins(&roster, "college-b"),
            admins(&parse(FLEET).unwrap(), "college-b"),
            "college-b's admins as without the entry"
        );
    }

    #[test]
    fn an_engineer_administrator_keeps_the_other_duplicate_rules() {
        // Once in the community and once on a hub: a duplicate on the hub that declares
        // the engineers as on the one that does not.
        let text = fleet_with_engineer_administrator("{name: ada, added_by: coord-a}")
            .replace(
                "          - name: AbcLab42\n            added_by: ada\n",
                "          - name: ada\n            added_by: coord-a\n",
            )
            .replace(
                "          - name: Jo.Doe@college.example.edu\n",
                "          - name: ada\n            added_by: coord-a\n          - name: Jo.Doe@college.example.edu\n",
            );
        assert_eq!(
            problems(&text),
            [
                "community state-colleges: hub college-a: administrator ada: is declared twice for this hub (the hub's administrator, and administrator); list each person once per hub",
                "community state-colleges: hub college-b: administrator ada: is declared twice for this hub (the hub's administrator, and administrator); list each person once per hub",
            ]
        );
        // Added by themselves.
        assert_eq!(
            problems(&fleet_with_engineer_administrator(
                "{name: ada, added_by: ada}"
            )),
            [
                "community state-colleges: administrator ada: added_by names ada themselves; write who added them"
            ]
        );
    }

    #[test]
    fn an_engineer_administrator_entry_that_changes_nothing_is_a_warning() {
        // Every hub of the community declares the engineers.
        let roster = parse(&community("[{name: r}]", "[{name: eng-eve, added_by: r}]")).unwrap();
        assert_eq!(
            roster.warnings,
            [
                "roster.yaml: community c: administrator eng-eve: is an engineer, declared as one on every hub of the community (none sets engineers: false), so this entry changes nothing"
            ]
        );
        assert_eq!(
            roster.hubs[0].admins[&UserName::new("eng-eve")].role,
            Role::Engineer
        );
        // A hub's own administrator on a hub that declares the engineers.
        let text = FLEET.replace(
            "          - name: AbcLab42\n            added_by: ada\n",
            "          - name: ada\n            added_by: coord-a\n",
        );
        let roster = parse(&text).unwrap();
        assert_eq!(
            roster.warnings,
            [
                "roster.yaml: community state-colleges: hub college-b: administrator ada: is an engineer, declared as one on this hub (it does not set engineers: false), so this entry changes nothing"
            ]
        );
    }

    /// A roster whose defaults and one hub name `admin_roles`.
    fn with_admin_roles(defaults: &str, hub: &str) -> String {
        format!(
            "defaults: {{admin_roles: {defaults}}}\ncommunities:\n  - name: c\n    representatives: [{{name: r}}]\n    hubs:\n      - {{name: h, api_url: 'http://h/hub/api', token_env: T, admin_roles: {hub}}}\n      - {{name: g, api_url: 'http://g/hub/api', token_env: T}}\n"
        )
    }

    #[test]
    fn admin_roles_extend_the_defaults_and_always_hold_admin() {
        let roster = parse(&with_admin_roles(
            "[hub-managers, ops.team]",
            "[course-staff, hub-managers, course-staff]",
        ))
        .unwrap();
        assert_eq!(roster.warnings, Vec::<String>::new());
        assert_eq!(
            roster.hub("h").unwrap().settings.admin_roles,
            ["admin", "course-staff", "hub-managers", "ops.team"]
        );
        assert_eq!(
            roster.hub("g").unwrap().settings.admin_roles,
            ["admin", "hub-managers", "ops.team"]
        );
        let roster = parse(&community("[{name: r}]", "[]")).unwrap();
        assert_eq!(
            roster.hubs[0].settings.admin_roles,
            ["admin"],
            "none named: admin"
        );
    }

    #[test]
    fn admin_roles_are_jupyterhub_role_names_and_admin_is_a_warning() {
        assert_eq!(
            problems(&with_admin_roles(
                "['Hub Managers', '']",
                "[ok-role, x, \"a\\tb\"]"
            )),
            [
                "defaults: admin_roles: \"Hub Managers\" is not a JupyterHub role name (3 to 255 characters: lowercase letters, digits and - _ ~ ., starting with a letter and ending with a letter or digit), so no hub has such a role",
                "defaults: admin_roles: \"\" is not a JupyterHub role name (3 to 255 characters: lowercase letters, digits and - _ ~ ., starting with a letter and ending with a letter or digit), so no hub has such a role",
                "community c: hub h: admin_roles: \"x\" is not a JupyterHub role name (3 to 255 characters: lowercase letters, digits and - _ ~ ., starting with a letter and ending with a letter or digit), so no hub has such a role",
                "community c: hub h: admin_roles: \"a\\tb\" is not a JupyterHub role name (3 to 255 characters: lowercase letters, digits and - _ ~ ., starting with a letter and ending with a letter or digit), so no hub has such a role",
            ]
        );
        let roster = parse(&with_admin_roles("[admin]", "[admin, hub-managers]")).unwrap();
        assert_eq!(
            roster.warnings,
            [
                "roster.yaml: defaults: admin_roles lists admin, which is always an admin role; remove it",
                "roster.yaml: community c: hub h: admin_roles lists admin, which is always an admin role; remove it",
            ]
        );
        assert_eq!(
            roster.hub("h").unwrap().settings.admin_roles,
            ["admin", "hub-managers"]
        );
        for (name, ok) in [
            ("abc", true),
            ("a-b_c~d.e9", true),
            ("ab", false),
            ("9ab", false),
            ("abc-", false),
            ("aBc", false),
            (&"a".repeat(255), true),
            (&"a".repeat(256), false),
        ] {
            assert_eq!(super::is_role_name(name), ok, "{name}");
        }
    }

    #[test]
    fn admin_roles_null_is_not_written_and_a_scalar_is_refused() {
        let hub = "communities:\n  - name: c\n    representatives: [{name: r}]\n    hubs: [{name: h, api_url: 'http://h/hub/api', token_env: T}]\n";
        let roster = parse(&format!("defaults: {{admin_roles: ~}}\n{hub}")).unwrap();
        assert_eq!(roster.hubs[0].settings.admin_roles, ["admin"]);
        let err = parse(&format!("defaults: {{admin_roles: hub-managers}}\n{hub}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a list"), "{err}");
    }

    #[test]
    fn a_file_whose_defaults_hold_only_admin_roles_holds_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("00-people.yaml"), "engineers: [{name: ada}]\n").unwrap();
        std::fs::write(
            d.join("10-roles.yaml"),
            "defaults: {admin_roles: [hub-managers]}\n",
        )
        .unwrap();
        let err = Roster::load_with(d, &env, &[]).unwrap_err().to_string();
        assert!(
            err.contains("roster: holds people, engineers or defaults, which"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_merges_its_files_and_each_problem_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("00-people.yaml"),
            "people: [{name: ada, ids: {github: ada-l}}]\nengineers: [{name: ada}]\ndefaults: {login: github}\n",
        )
        .unwrap();
        std::fs::write(
            d.join("climate.yaml"),
            "communities:\n  - name: climate\n    representatives: [{name: rep-bob}]\n    hubs: [{name: climate-prod, api_url: 'http://c/hub/api', token_env: T}]\n",
        )
        .unwrap();
        let roster = Roster::load_with(d, &env, &[]).unwrap();
        assert_eq!(
            roster
                .hub("climate-prod")
                .unwrap()
                .admins
                .keys()
                .map(|n| n.as_str())
                .collect::<Vec<_>>(),
            ["ada-l", "rep-bob"]
        );
        // A problem in one file names that file; a second file with people is refused.
        std::fs::write(
            d.join("ocean.yaml"),
            "engineers: [{name: sam}]\ncommunities:\n  - name: ocean\n    representatives: []\n    hubs: []\n",
        )
        .unwrap();
        let err = Roster::load_with(d, &env, &[]).unwrap_err().to_string();
        let ocean = d.join("ocean.yaml").display().to_string();
        let people = d.join("00-people.yaml").display().to_string();
        assert!(
            err.contains(&format!("\n  {ocean}: roster: holds people, engineers or defaults, which {people} holds already; keep them in one file")),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "\n  {ocean}: community ocean: has no representative"
            )),
            "{err}"
        );
    }

    #[test]
    fn expires_is_a_date_and_a_past_one_is_a_warning() {
        let text = community(
            "[{name: r}]",
            "[{name: x, added_by: r, expires: '2027-02-30'}]",
        );
        assert_eq!(
            problems(&text),
            [
                "community c: administrator x: expires \"2027-02-30\" is not a date written YYYY-MM-DD"
            ]
        );
        let roster = parse(&community(
            "[{name: r}]",
            "[{name: x, added_by: r, expires: '2001-01-31'}]",
        ))
        .unwrap();
        assert_eq!(roster.warnings.len(), 1, "{:?}", roster.warnings);
        assert!(
            roster.warnings[0].contains("administrator x: expires 2001-01-31 has passed"),
            "{:?}",
            roster.warnings
        );
    }

    #[test]
    fn offline_validation_reads_no_secret_but_keeps_every_other_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.yaml");
        let text = "communities:\n  - name: c\n    representatives: [{name: r}]\n    alerts: {webhook_file: /nonexistent/hook}\n    hubs:\n      - {name: a, api_url: https://a.example.org/hub/api, token_env: UNSET_TOKEN_VAR, ca_file: /nonexistent/ca.pem}\n      - {name: b, api_url: http://b/hub/api, token_file: /nonexistent/token}\n";
        std::fs::write(&path, text).unwrap();
        let roster = Roster::load_offline(&path).unwrap();
        assert_eq!(roster.hubs().len(), 2);
        assert!(
            roster
                .hubs()
                .iter()
                .all(|h| h.access.token.expose().is_empty())
        );
        assert!(roster.hubs().iter().all(|h| h.access.ca.is_none()));
        assert!(
            Roster::load(&path).is_err(),
            "online validation still reads secrets"
        );

        std::fs::write(
            &path,
            "communities:\n  - name: c\n    representatives: [{name: r}]\n    hubs:\n      - {name: a, api_url: http://a/hub/api}\n",
        )
        .unwrap();
        let err = Roster::load_offline(&path).unwrap_err().to_string();
        assert!(
            err.contains("has no token: set token_env or token_file"),
            "{err}"
        );
    }

    #[test]
    fn a_hub_log_is_one_place_with_a_zone() {
        let with_log = |log: &str| {
            format!(
                "communities:\n  - name: c\n    representatives: [{{name: r}}]\n    hubs:\n      - name: h\n        api_url: 'http://h/hub/api'\n        token_env: T\n        log: {log}\n"
            )
        };
        let roster = parse(&with_log(
            "{file: /var/log/jupyterhub.log, zone: Europe/Berlin}",
        ))
        .unwrap();
        let log = roster.hubs[0].log.as_ref().unwrap();
        assert_eq!(
            log.place,
            super::LogPlace::File("/var/log/jupyterhub.log".into())
        );
        assert_eq!(log.zone.to_string(), "Europe/Berlin");
        let roster = parse(&with_log("{kubernetes: {namespace: jhub}}")).unwrap();
        let log = roster.hubs[0].log.as_ref().unwrap();
        let want = crate::evidence::KubeSource::new("jhub", None, None).unwrap();
        assert_eq!(log.place, super::LogPlace::Kubernetes(want));
        assert_eq!(log.zone.to_string(), "UTC");
        for (log, message) in [
            (
                "{file: hub.log}",
                "log.file hub.log is not an absolute path",
            ),
            (
                "{file: /a, kubernetes: {namespace: j}}",
                "log names both a file and kubernetes",
            ),
            ("{zone: UTC}", "log names neither a file nor kubernetes"),
            (
                "{file: /a, zone: Mars/Olympus}",
                "log.zone: \"Mars/Olympus\" is not a time zone",
            ),
            (
                "{kubernetes: {namespace: JHub}}",
                "log.kubernetes.namespace \"JHub\" is not a namespace name",
            ),
            (
                "{kubernetes: {namespace: j, selector: ''}}",
                "log.kubernetes.selector \"\" is not a label selector",
            ),
        ] {
            let found = problems(&with_log(log)).join("\n");
            assert!(found.contains(message), "{log}: {found}");
            assert!(found.contains("community c: hub h"), "{log}: {found}");
        }
    }

    #[test]
    fn ui_grants_is_a_community_setting_a_hub_overrides_and_0_turns_off() {
        let text = "defaults: {ui_grants: {keep_for: 7d}}
communities:
  - name: c
    representatives: [{name: r}]
    ui_grants: {keep_for: 30d}
    hubs:
      - {name: a, api_url: 'http://a/hub/api', token_env: T, log: {file: /var/log/a.log}}
      - {name: b, api_url: 'http://b/hub/api', token_env: T, ui_grants: {keep_for: 0}}
  - name: d
    representatives: [{name: r2}]
    hubs:
      - {name: e, api_url: 'http://e/hub/api', token_env: T, log: {file: /var/log/e.log}}
";
        let roster = parse(text).unwrap();
        let keep = |hub: &str| roster.hub(hub).unwrap().settings.ui_grants;
        assert_eq!(keep("a"), Some(std::time::Duration::from_secs(30 * 86_400)));
        assert_eq!(keep("b"), None);
        assert_eq!(keep("e"), Some(std::time::Duration::from_secs(7 * 86_400)));
        let bad = text.replace("keep_for: 30d", "keep_for: a month");
        let found = problems(&bad).join("\n");
        assert!(
            found.contains("community c: ui_grants.keep_for \"a month\" is not a duration"),
            "{found}"
        );
        // Who made an admin is known only from the hub's log.
        let no_log = text.replace(", log: {file: /var/log/e.log}", "");
        let found = problems(&no_log).join("\n");
        assert!(
            found.contains("community d: hub e: ui_grants keeps admins made in the hub by whom the hub's log names, and the hub has no log"),
            "{found}"
        );
    }
}
