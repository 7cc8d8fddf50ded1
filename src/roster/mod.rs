//! The declared roster: who should be admin on which hub, and who added them.
//!
//! This file is the data model: a validated [`Roster`], its communities and
//! [`HubSpec`]s, and the admins each hub should have ([`Desired`]). The parts, in the
//! order a roster is read:
//!
//! - `load`: [`Roster::load`] reads a YAML file, or every `*.yaml` file of a directory
//!   merged into one ([`files`]), into the raw types (`raw`, serde structs that accept
//!   exactly schema v1), and validates them all at once, returning a [`Roster`] or a
//!   [`RosterError`] listing each problem with the file and the person or hub it
//!   concerns. Code past this module never sees an unvalidated roster.
//! - `validate`: the field rules, each a small check of the `Validator`; secrets are
//!   read there, once, through [`crate::secret`].
//! - [`settings`]: the keys that exist at more than one level, resolved for each hub by
//!   one rule.
//! - `admins`: who is admin of each hub, by the usernames its login gives (`people`).
//! - `api_url`: a hub's address, parsed without echoing what may be a secret; `alerts`:
//!   a community's alert route.

mod admins;
mod alerts;
mod api_url;
pub mod files;
mod load;
mod people;
mod raw;
pub mod settings;
mod validate;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::date::{Clock, Date};
use crate::name::{HubName, UserName};
use crate::secret::source::SecretSource;
use crate::secret::tls::CaBundle;
use crate::secret::token::Token;
use crate::word::count;
use crate::word::words;

pub use alerts::{AlertRoute, RouteError};
pub use api_url::{ApiUrlError, parse_api_url};
pub use load::json_schema;
pub use settings::Settings;

/// The `added_by` that `dump` writes for admins the roster does not know yet; the
/// roster stays invalid until a person replaces it.
pub const ADDED_BY_PLACEHOLDER: &str = "FILL-IN";

/// JupyterHub's built-in role that holds every admin scope: always an admin role.
pub const ADMIN_ROLE: &str = "admin";

/// Roster files larger than this are refused before parsing.
pub const MAX_ROSTER_BYTES: u64 = 4 * 1024 * 1024;

/// What the sync may do on a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Change nothing; report every difference.
    Report,
    /// Create and grant declared admins; leave undeclared admins (reported as drift).
    Grant,
    /// Also revoke undeclared admins, within `max_revocations`.
    Enforce,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Report => "report",
            Policy::Grant => "grant",
            Policy::Enforce => "enforce",
        })
    }
}

words! {
    /// Why a person is declared admin on a hub.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Role {
        Engineer => "engineer",
        Representative => "representative",
        Administrator => "administrator",
    }
}

/// A declared admin of one hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub role: Role,
    /// Who added this administrator, by roster name (`None` for engineers and
    /// representatives).
    pub added_by: Option<UserName>,
    /// The roster's name for the person, when the hub knows them by another username
    /// (one of their `people[].ids`).
    pub person: Option<UserName>,
    /// The last day an administrator is declared (`expires`), if there is one.
    pub expires: Option<Date>,
    /// Declared in the hub's own `administrators`, not its community's.
    pub hub_level: bool,
}

impl Declared {
    /// True once the day after the entry's `expires` has begun (UTC).
    pub fn expired_on(&self, today: Date) -> bool {
        self.expires.is_some_and(|last| last < today)
    }

    /// An admin of `role` (an administrator `added_by` someone), known by their roster
    /// name, declared for the whole community, with no `expires`.
    pub fn new(role: Role, added_by: Option<UserName>) -> Declared {
        Declared {
            role,
            added_by,
            person: None,
            expires: None,
            hub_level: false,
        }
    }
}

/// The admins a hub should have, by the username the hub knows them by (normal form).
pub type Desired = BTreeMap<UserName, Declared>;

/// A person of `people`: one name in the roster, an id per kind of login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: UserName,
    /// Login kind (lowercase) → the username such hubs know the person by.
    pub ids: BTreeMap<String, UserName>,
}

#[derive(Debug, Clone)]
pub struct Administrator {
    pub name: UserName,
    pub added_by: UserName,
    /// The last day (UTC) the administrator is declared.
    pub expires: Option<Date>,
}

#[derive(Debug, Clone)]
pub struct Community {
    pub name: String,
    pub representatives: Vec<UserName>,
    pub administrators: Vec<Administrator>,
    /// The community's own alert route, resolved when one of its hubs is selected.
    pub alerts: Option<AlertRoute>,
    /// The settings it writes for its hubs (resolved into each hub's [`Settings`]).
    settings: settings::Written,
}

/// What a run may do on a hub: all the planner needs to know of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HubRules {
    pub policy: Policy,
    /// The revocation brake: more revocations than this in one run, and none is made.
    pub max_revocations: u32,
    /// The brake by share: a run that would revoke more than this share of the hub's
    /// current admins (and more than one of them) revokes none.
    pub max_revocation_share: Share,
    /// `--once --allow-revocations HUB=N`: an operator reviewed a plan with N
    /// revocations; up to N are made whatever the other limits say, more are held.
    /// (Not in reports: it is given for one run, not a setting of the hub.)
    #[serde(skip)]
    pub allow_revocations: Option<u32>,
}

impl HubRules {
    /// The default limits under `policy`.
    pub fn new(policy: Policy) -> HubRules {
        HubRules {
            policy,
            max_revocations: DEFAULT_MAX_REVOCATIONS,
            max_revocation_share: Share::HALF,
            allow_revocations: None,
        }
    }
}

/// `max_revocations` unless the roster says otherwise.
pub const DEFAULT_MAX_REVOCATIONS: u32 = 5;

/// A share from 0 to 1, kept in basis points (1/10,000) so rules stay `Eq` and the
/// comparisons exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Share(u16);

impl Share {
    pub const HALF: Share = Share(5_000);
    pub const ALL: Share = Share(10_000);

    /// A fraction from 0 to 1 (rounded to 1/10,000), or `None` outside that range.
    pub fn from_fraction(fraction: f64) -> Option<Share> {
        (fraction.is_finite() && (0.0..=1.0).contains(&fraction))
            .then(|| Share((fraction * 10_000.0).round() as u16))
    }

    pub fn from_basis_points(bp: u16) -> Share {
        Share(bp.min(10_000))
    }

    pub fn as_fraction(self) -> f64 {
        f64::from(self.0) / 10_000.0
    }

    /// The most of `n` that is not more than this share of it.
    pub fn of(self, n: usize) -> usize {
        n * usize::from(self.0) / 10_000
    }

    /// True when `part` is more than this share of `whole`.
    pub fn exceeded_by(self, part: usize, whole: usize) -> bool {
        part * 10_000 > whole * usize::from(self.0)
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_fraction())
    }
}

impl Serialize for Share {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_fraction())
    }
}

/// How to reach a hub: its address and credentials, read once at validation.
#[derive(Debug, Clone)]
pub struct HubAccess {
    /// The hub's API base, without a trailing slash (`http://hub:8081/hub/api`).
    pub api_url: url::Url,
    pub token_source: SecretSource,
    pub token: Token,
    /// The hub's own CA bundle (`ca_file`), when it has one.
    pub ca: Option<Arc<CaBundle>>,
}

/// Where a hub's own log is read ([`crate::evidence`] owns the type; the roster names it).
pub use crate::evidence::{LogConfig, LogPlace};

/// One hub to keep in sync.
#[derive(Debug, Clone)]
pub struct HubSpec {
    pub name: HubName,
    pub community: String,
    /// Its settings, resolved from the roster's levels ([`settings`]).
    pub settings: Settings,
    pub access: HubAccess,
    /// Where its own log is read, to say who made each admin change, if it is.
    pub log: Option<LogConfig>,
    /// The admins it should have, worked out at validation.
    pub admins: Desired,
}

/// A validated roster.
#[derive(Debug, Clone)]
pub struct Roster {
    /// The file or directory it was read from (named in messages).
    pub source: PathBuf,
    pub people: Vec<Person>,
    pub engineers: Vec<UserName>,
    pub communities: Vec<Community>,
    /// Every hub, in file order.
    pub hubs: Vec<HubSpec>,
    /// Things worth a warning that do not make the roster invalid.
    pub warnings: Vec<String>,
}

/// One broken rule, with the file and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The roster file the problem is in.
    pub file: PathBuf,
    /// What the problem is about: `community climate-lab: administrator carol`.
    pub subject: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subject.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.subject, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("{}: cannot read the roster: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the roster is {size} bytes, more than the {MAX_ROSTER_BYTES} allowed", path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{}: the roster is empty", path.display())]
    Empty { path: PathBuf },
    #[error("{}: the roster directory has {count} files, more than the {} allowed", path.display(), files::MAX_FILES)]
    TooManyFiles { path: PathBuf, count: usize },
    #[error("{}: the roster is not valid UTF-8 (byte {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{}: {error}", path.display())]
    Syntax {
        path: PathBuf,
        error: crate::yaml::YamlError,
    },
    #[error("{}", invalid_message(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn invalid_message(path: &Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "{} is not a valid roster ({}):",
        path.display(),
        count(problems.len(), "problem")
    );
    for p in problems {
        out.push_str(&format!("\n  {}: {p}", p.file.display()));
    }
    out
}

impl Roster {
    pub fn community(&self, name: &str) -> Option<&Community> {
        self.communities.iter().find(|c| c.name == name)
    }

    /// The hub called `name` (hub names are compared ignoring case).
    pub fn hub(&self, name: &str) -> Option<&HubSpec> {
        self.hubs.iter().find(|h| h.name.is(name))
    }

    /// The hubs named in `names` (every hub when it is empty), in roster order.
    pub fn selected<'a>(&'a self, names: &'a [String]) -> impl Iterator<Item = &'a HubSpec> {
        self.hubs
            .iter()
            .filter(move |h| names.is_empty() || names.iter().any(|n| h.name.is(n)))
    }

    /// The admins `hub` should have: the engineers (unless the hub opts out), its
    /// community's representatives and administrators, and its own administrators,
    /// by the usernames the hub knows them by.
    ///
    /// Administrators whose `expires` date has passed by the machine's clock are left
    /// out (see [`Roster::desired_on`]).
    pub fn desired(&self, hub: &HubSpec) -> Desired {
        self.desired_on(hub, crate::date::SystemClock.today())
    }

    /// [`Roster::desired`] on `today`: an administrator is declared up to and
    /// including the day `expires` names (UTC).
    pub fn desired_on(&self, hub: &HubSpec, today: Date) -> Desired {
        hub.admins
            .iter()
            .filter(|(_, d)| !d.expired_on(today))
            .map(|(n, d)| (n.clone(), d.clone()))
            .collect()
    }

    /// The administrators of `hub` whose `expires` date has passed on `today`.
    pub fn expired_on(&self, hub: &HubSpec, today: Date) -> Desired {
        hub.admins
            .iter()
            .filter(|(_, d)| d.expired_on(today))
            .map(|(n, d)| (n.clone(), d.clone()))
            .collect()
    }

    /// The person of `people` called `name`, if there is one.
    pub fn person(&self, name: &UserName) -> Option<&Person> {
        self.people.iter().find(|p| &p.name == name)
    }
}

/// A roster validated without its secrets ([`Roster::load_offline`]): who is declared
/// where, but no way to reach a hub (its hubs' tokens are empty, they have no CA
/// bundle and communities no alert route), so it is not a [`Roster`].
#[derive(Debug, Clone)]
pub struct OfflineRoster(Roster);

impl OfflineRoster {
    /// The file or directory it was read from.
    pub fn source(&self) -> &Path {
        &self.0.source
    }

    /// Every hub, in file order. Their `access` carries no credentials.
    pub fn hubs(&self) -> &[HubSpec] {
        &self.0.hubs
    }

    pub fn warnings(&self) -> &[String] {
        &self.0.warnings
    }

    /// See [`Roster::desired_on`].
    pub fn desired_on(&self, hub: &HubSpec, today: Date) -> Desired {
        self.0.desired_on(hub, today)
    }

    /// See [`Roster::expired_on`].
    pub fn expired_on(&self, hub: &HubSpec, today: Date) -> Desired {
        self.0.expired_on(hub, today)
    }
}
