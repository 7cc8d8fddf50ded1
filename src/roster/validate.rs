//! Every rule of the roster, checked at once so one run reports every problem.
//!
//! A [`Validator`] walks the raw roster once, collecting problems and warnings as it
//! goes; tokens and CA bundles are read here, once, by [`crate::token`] and
//! [`crate::tls`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use super::raw::{RawCommunity, RawHub, RawRoster};
use super::{
    Administrator, Community, HubAccess, HubRules, HubSpec, Policy, Problem, Roster, RosterError,
};
use crate::name::{HubName, UserName};
use crate::tls::CaBundle;
use crate::token::{self, TokenSource};

const DEFAULT_POLICY: Policy = Policy::Enforce;
const DEFAULT_MAX_REVOCATIONS: u32 = 5;

pub(super) fn validate(
    path: &Path,
    raw: RawRoster,
    env: &dyn Fn(&str) -> Option<String>,
    only: &[String],
) -> Result<Roster, RosterError> {
    let mut v = Validator {
        env,
        only,
        problems: Vec::new(),
        warnings: Vec::new(),
        engineers: Vec::new(),
        defaults: HubRules {
            policy: raw.defaults.policy.unwrap_or(DEFAULT_POLICY),
            max_revocations: raw
                .defaults
                .max_revocations
                .unwrap_or(DEFAULT_MAX_REVOCATIONS),
        },
        community_names: BTreeSet::new(),
        hub_names: BTreeMap::new(),
        api_urls: BTreeMap::new(),
    };
    if let Some(version) = raw.version
        && version != 1
    {
        v.problem(
            "version",
            format!("version {version} is not supported (this release reads version 1)"),
        );
    }
    v.engineers(&raw);

    let mut communities = Vec::new();
    let mut hubs = Vec::new();
    for raw_community in &raw.communities {
        let name = raw_community.name.trim().to_string();
        let community = v.community(&name, raw_community);
        for raw_hub in &raw_community.hubs {
            if let Some(hub) = v.hub(raw_hub, &name) {
                hubs.push(hub);
            }
        }
        communities.push(community);
    }
    v.selection(&raw);

    if hubs.is_empty() && v.problems.is_empty() {
        v.warnings
            .push(format!("{}: the roster declares no hubs", path.display()));
    }
    if v.problems.is_empty() {
        Ok(Roster {
            source: path.to_owned(),
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

/// The state of one validation: what has been seen so far, and what is wrong.
struct Validator<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    /// `--hub` names (empty: every hub).
    only: &'a [String],
    problems: Vec<Problem>,
    warnings: Vec<String>,
    engineers: Vec<UserName>,
    defaults: HubRules,
    /// Community names seen (lowercased).
    community_names: BTreeSet<String>,
    /// Hub names seen (lowercased) → their community.
    hub_names: BTreeMap<String, String>,
    /// Normalised api_urls seen → the hub that has it.
    api_urls: BTreeMap<String, String>,
}

impl Validator<'_> {
    fn problem(&mut self, subject: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            subject: subject.into(),
            message: message.into(),
        });
    }

    fn is_engineer(&self, name: &UserName) -> bool {
        self.engineers.contains(name)
    }

    fn engineers(&mut self, raw: &RawRoster) {
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
        let administrators: Vec<Administrator> = raw
            .administrators
            .iter()
            .map(|a| Administrator {
                name: UserName::new(&a.name),
                added_by: UserName::new(&a.added_by),
            })
            .collect();

        // Each person once per community, and not also an engineer.
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
            if self.is_engineer(person) {
                self.problem(
                    &who,
                    "is also an engineer (engineers are admin on every hub); list them once",
                );
            }
            if let Some(first) = seen.insert(person, role) {
                self.problem(
                    &who,
                    format!("appears more than once in the community (also as {first})"),
                );
            }
        }
        self.added_by(&subject, name, &representatives, &administrators);
        Community {
            name: name.to_string(),
            representatives,
            administrators,
        }
    }

    /// `added_by` names a representative or administrator of the community, or an
    /// engineer, and following it always ends at a representative or an engineer.
    fn added_by(
        &mut self,
        subject: &str,
        community: &str,
        representatives: &[UserName],
        administrators: &[Administrator],
    ) {
        let is_root = |name: &UserName| representatives.contains(name) || self.is_engineer(name);
        let added_by: BTreeMap<&UserName, &UserName> = administrators
            .iter()
            .map(|a| (&a.name, &a.added_by))
            .collect();
        let mut found = Vec::new();
        for admin in administrators {
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
            if !is_root(&admin.added_by) && !added_by.contains_key(&admin.added_by) {
                found.push((
                    who,
                    format!(
                        "added_by {} is not a representative or administrator of {community}, nor an engineer",
                        admin.added_by
                    ),
                ));
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
        for (who, message) in found {
            self.problem(who, message);
        }
    }

    fn hub(&mut self, raw: &RawHub, community: &str) -> Option<HubSpec> {
        let name = raw.name.trim().to_string();
        let who = format!(
            "community {}: hub {}",
            printable(community),
            printable(&name)
        );
        if name.chars().any(char::is_control) {
            self.problem(&who, "the name contains a control character");
            return None;
        }
        let selected = self.only.is_empty() || self.only.iter().any(|n| HubName::new(&name).is(n));
        let problems_before = self.problems.len();
        if name.is_empty() {
            self.problem(format!("community {community}"), "a hub has an empty name");
        } else if let Some(other) = self
            .hub_names
            .insert(name.to_lowercase(), community.to_string())
        {
            self.problem(
                &who,
                format!(
                    "hub names must be unique in the file; {name} is also a hub of community {other}"
                ),
            );
        }

        let api_url = match parse_api_url(&raw.api_url) {
            Ok(url) => Some(url),
            Err(why) => {
                self.problem(&who, format!("api_url {why}"));
                None
            }
        };
        if let Some(url) = &api_url
            && let Some(other) = self.api_urls.insert(same_hub_key(url), name.clone())
        {
            self.problem(
                &who,
                format!(
                    "api_url {url} is also the api_url of hub {other}: one hub listed twice would see the other's admins as undeclared, and an enforcing run would revoke them; list each hub once"
                ),
            );
        }

        let source = match (&raw.token_env, &raw.token_file) {
            (Some(var), None) => Some(TokenSource::Env(var.clone())),
            (None, Some(file)) => Some(TokenSource::File(file.clone())),
            (None, None) => {
                self.problem(&who, "has no token: set token_env or token_file");
                None
            }
            (Some(_), Some(_)) => {
                self.problem(&who, "has both token_env and token_file; keep one");
                None
            }
        };
        // A hub left out of this run (--hub) needs no token here.
        let token = match source.as_ref().filter(|_| selected) {
            None => None,
            Some(source) => match token::resolve(source, self.env) {
                Ok(resolved) => {
                    self.warnings
                        .extend(resolved.warnings.into_iter().map(|w| format!("{who}: {w}")));
                    Some(resolved.token)
                }
                Err(why) => {
                    self.problem(&who, why.to_string());
                    None
                }
            },
        };

        let mut ca = None;
        if let Some(path) = &raw.ca_file {
            if api_url.as_ref().is_some_and(|u| u.scheme() != "https") {
                self.problem(&who, "ca_file is set but api_url is not https");
            }
            match CaBundle::read(path) {
                Ok(bundle) => ca = Some(Arc::new(bundle)),
                Err(why) => self.problem(&who, why.to_string()),
            }
        }

        let ok = self.problems.len() == problems_before;
        match (ok, api_url, source, token) {
            (true, Some(api_url), Some(token_source), Some(token)) => Some(HubSpec {
                name: HubName::new(&name),
                community: community.to_string(),
                rules: HubRules {
                    policy: raw.policy.unwrap_or(self.defaults.policy),
                    max_revocations: raw.max_revocations.unwrap_or(self.defaults.max_revocations),
                },
                access: HubAccess {
                    api_url,
                    token_source,
                    token,
                    ca,
                },
            }),
            _ => None,
        }
    }

    /// Every `--hub` name must name a hub of the roster.
    fn selection(&mut self, raw: &RawRoster) {
        for name in self.only {
            if self.hub_names.contains_key(&name.trim().to_lowercase()) {
                continue;
            }
            let known: Vec<&str> = raw
                .communities
                .iter()
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

/// Two api_urls name the same hub when scheme, host, port (the default one written
/// or not) and path (trailing slash or not) agree.
fn same_hub_key(url: &url::Url) -> String {
    format!(
        "{}://{}:{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default().to_lowercase(),
        url.port_or_known_default().unwrap_or_default(),
        url.path().trim_end_matches('/')
    )
}

/// Why an `api_url` (or `--api-url`) is refused; the text never repeats a part of the
/// URL that may hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ApiUrlError(String);

pub fn parse_api_url(text: &str) -> Result<url::Url, ApiUrlError> {
    let text = text.trim();
    // Text that may hold a secret (a password, a `?token=`) is never echoed.
    let echo = if text.contains(['@', '?', '#']) {
        "(not shown: it may hold a secret)".to_string()
    } else {
        format!("{text:?}")
    };
    let mut url =
        url::Url::parse(text).map_err(|e| ApiUrlError(format!("{echo} is not a URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(ApiUrlError(format!("{echo} is not an http or https URL")));
    }
    // `http:///x` and `http:x` parse as if `x` were the host: refuse what was not written.
    let after_scheme = &text[url.scheme().len()..];
    let authority = after_scheme.strip_prefix("://").unwrap_or("");
    if authority.is_empty()
        || authority.starts_with('/')
        || url.host_str().is_none_or(str::is_empty)
    {
        return Err(ApiUrlError(format!("{echo} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiUrlError(
            "must not carry a user name or password; use token_env or token_file".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        return Err(ApiUrlError(format!(
            "\"{}://{}{port}{}\" must not have a query or fragment",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.path()
        )));
    }
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

/// A name as it may appear in a message: control characters escaped, so that a name
/// can neither break a problem across lines nor write escape codes into a log.
fn printable(name: &str) -> String {
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

fn join(names: &[UserName]) -> String {
    names
        .iter()
        .map(UserName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::{Role, Roster, RosterError};
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
        assert_eq!(prod.rules.policy, super::Policy::Grant);
        assert_eq!(prod.rules.max_revocations, 3);
        let staging = &roster.hubs[1];
        assert_eq!(staging.rules.policy, super::Policy::Enforce);
        assert_eq!(staging.rules.max_revocations, 1);
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
        assert_eq!(roster.hubs[0].rules.policy, super::Policy::Enforce);
        assert_eq!(roster.hubs[0].rules.max_revocations, 5);
    }

    #[test]
    fn zero_representatives() {
        assert_eq!(
            problems(&community("[]", "[]")),
            ["community c: has no representative; a community has one or two"]
        );
    }

    #[test]
    fn three_representatives() {
        assert_eq!(
            problems(&community("[{name: a}, {name: b}, {name: c}]", "[]")),
            ["community c: has 3 representatives (a, b, c); a community has one or two"]
        );
    }

    #[test]
    fn added_by_unknown() {
        assert_eq!(
            problems(&community("[{name: r}]", "[{name: x, added_by: nobody}]")),
            [
                "community c: administrator x: added_by nobody is not a representative or administrator of c, nor an engineer"
            ]
        );
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
    fn added_by_placeholder_from_dump() {
        assert_eq!(
            problems(&community("[{name: r}]", "[{name: x, added_by: FILL-IN}]")),
            [
                "community c: administrator x: added_by is still the placeholder written by `dump`; write who added x"
            ]
        );
    }

    #[test]
    fn added_by_cycle() {
        let p = problems(&community(
            "[{name: r}]",
            "[{name: x, added_by: y}, {name: y, added_by: x}, {name: z, added_by: z}]",
        ));
        assert_eq!(
            p,
            [
                "community c: administrator x: the added_by chain x → y → x is a cycle that never reaches a representative or an engineer",
                "community c: administrator y: the added_by chain y → x → y is a cycle that never reaches a representative or an engineer",
                "community c: administrator z: the added_by chain z → z is a cycle that never reaches a representative or an engineer",
            ]
        );
    }

    #[test]
    fn duplicates_after_normalisation() {
        let p = problems(&community(
            "[{name: Rep}]",
            "[{name: ' rep ', added_by: eng-eve}, {name: ENG-EVE, added_by: rep}]",
        ));
        assert_eq!(
            p,
            [
                "community c: administrator rep: appears more than once in the community (also as representative)",
                "community c: administrator eng-eve: is also an engineer (engineers are admin on every hub); list them once",
            ]
        );
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

    #[test]
    fn hub_names_unique_across_communities() {
        let text = "communities:
  - name: a
    representatives: [{name: r}]
    hubs: [{name: h, api_url: 'http://h/hub/api', token_env: T}]
  - name: b
    representatives: [{name: s}]
    hubs: [{name: H, api_url: 'http://h2/hub/api', token_env: T}]
";
        assert_eq!(
            problems(text),
            [
                "community b: hub H: hub names must be unique in the file; H is also a hub of community a"
            ]
        );
    }

    #[test]
    fn one_hub_listed_twice_is_refused_however_its_url_is_written() {
        let text = "communities:
  - name: a
    representatives: [{name: r}]
    hubs: [{name: h1, api_url: 'https://Hub.Example.org/hub/api', token_env: T}]
  - name: b
    representatives: [{name: s}]
    hubs:
      - {name: h2, api_url: 'https://hub.example.org:443/hub/api/', token_env: T}
      - {name: h3, api_url: 'https://hub.example.org/other/hub/api', token_env: T}
      - {name: h4, api_url: 'http://hub.example.org/hub/api', token_env: T}
";
        assert_eq!(
            problems(text),
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

    #[test]
    fn token_rules() {
        let hub = |tok: &str| {
            format!(
                "communities:\n  - name: c\n    representatives: [{{name: r}}]\n    hubs: [{{name: h, api_url: 'http://h/hub/api', {tok}}}]\n"
            )
        };
        assert_eq!(
            problems(&hub("policy: grant")),
            ["community c: hub h: has no token: set token_env or token_file"]
        );
        assert_eq!(
            problems(&hub("token_env: T, token_file: /x")),
            ["community c: hub h: has both token_env and token_file; keep one"]
        );
        assert_eq!(
            problems(&hub("token_env: MISSING")),
            ["community c: hub h: token_env MISSING is not set"]
        );
        let p = problems(&hub("token_file: /nonexistent/tok"));
        assert!(
            p[0].starts_with("community c: hub h: token_file /nonexistent/tok cannot be read"),
            "{p:?}"
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
    fn policy_must_be_known() {
        let err = parse("defaults: {policy: yolo}\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant `yolo`"), "{err}");
    }
}
