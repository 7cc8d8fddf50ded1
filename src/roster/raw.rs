//! The roster file as written: serde structs that accept exactly schema v1.
//!
//! Nothing outside [`crate::roster`] sees these types; [`super::validate`] turns them
//! into a [`super::Roster`] or a list of every problem found.

use serde::Deserialize;
use std::path::PathBuf;

use super::Policy;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoster {
    /// Optional schema version; only 1 exists.
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(default)]
    pub engineers: Vec<RawEngineer>,
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub communities: Vec<RawCommunity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub policy: Option<Policy>,
    pub max_revocations: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEngineer {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRepresentative {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdministrator {
    pub name: String,
    pub added_by: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommunity {
    pub name: String,
    #[serde(default)]
    pub representatives: Vec<RawRepresentative>,
    #[serde(default)]
    pub administrators: Vec<RawAdministrator>,
    #[serde(default)]
    pub hubs: Vec<RawHub>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHub {
    pub name: String,
    pub api_url: String,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub policy: Option<Policy>,
    pub max_revocations: Option<u32>,
    /// PEM file with the CA that signed an https hub's certificate (private CAs).
    pub ca_file: Option<PathBuf>,
}
