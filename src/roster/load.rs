//! Loading a roster: reading its files (one YAML file, or a directory's `*.yaml`
//! merged into one), parsing each into the raw types, and validating them all at once
//! into a [`Roster`] or a [`RosterError`] that lists every problem. Also the roster's
//! JSON Schema, generated from the raw types.

use std::path::{Path, PathBuf};

use super::validate::{self, Credentials};
use super::{OfflineRoster, Roster, RosterError, files, raw};

impl Roster {
    /// Reads, parses and validates the roster at `path`, resolving hub tokens from
    /// the process environment and from files.
    pub fn load(path: &Path) -> Result<Roster, RosterError> {
        Roster::load_selected(path, &[])
    }

    /// Like [`Roster::load`], for the hubs named in `only` (all when empty): the other
    /// hubs are checked but left out, and their tokens are not needed, so a shard of
    /// a shared roster needs only its own hubs' tokens. A name in `only` that no hub
    /// has is a problem.
    pub fn load_selected(path: &Path, only: &[String]) -> Result<Roster, RosterError> {
        Roster::load_with(path, &|var| std::env::var(var).ok(), only)
    }

    /// [`Roster::load_selected`], looking up `token_env` variables with `env`.
    pub fn load_with(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        only: &[String],
    ) -> Result<Roster, RosterError> {
        let documents = read_documents(path)?;
        validate::validate(path, documents, env, only, Credentials::Resolve)
    }

    /// Parses and validates roster bytes; `path` is only named in messages, and `env`
    /// looks up `token_env` variables.
    pub fn parse_bytes(
        path: &Path,
        bytes: &[u8],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Roster, RosterError> {
        Roster::parse_selected(path, bytes, env, &[])
    }

    /// [`Roster::parse_bytes`] for the hubs named in `only` (see [`Roster::load_selected`]).
    pub fn parse_selected(
        path: &Path,
        bytes: &[u8],
        env: &dyn Fn(&str) -> Option<String>,
        only: &[String],
    ) -> Result<Roster, RosterError> {
        let raw = parse_document(path, bytes)?;
        validate::validate(
            path,
            vec![(path.to_owned(), raw)],
            env,
            only,
            Credentials::Resolve,
        )
    }

    /// Reads and validates the roster at `path` by every rule except those that read
    /// secrets: no token, `ca_file` or webhook is read, and no variable looked up, so
    /// a roster from an untrusted pull request can be checked and compared
    /// ([`crate::review::diff`]). The result cannot be run against a hub.
    pub fn load_offline(path: &Path) -> Result<OfflineRoster, RosterError> {
        let documents = read_documents(path)?;
        validate::validate(path, documents, &|_| None, &[], Credentials::Skip).map(OfflineRoster)
    }
}

/// The roster's files at `path` (a file, or a directory's `*.yaml`), each parsed.
fn read_documents(path: &Path) -> Result<Vec<(PathBuf, raw::RawRoster)>, RosterError> {
    files::read(path)?
        .into_iter()
        .map(|(file, bytes)| parse_document(&file, &bytes).map(|raw| (file, raw)))
        .collect()
}

/// The roster file's JSON Schema (for editors and CI), generated from the types that
/// parse it, so the two cannot drift apart. It checks the shape (keys, types, unknown
/// keys refused), not the rules `--validate` checks.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(raw::RawRoster).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "title".into(),
            "jupyterhub-admin-sync roster (version 1)".into(),
        );
    }
    schema
}

/// One YAML document of the roster, parsed but not validated.
fn parse_document(path: &Path, bytes: &[u8]) -> Result<raw::RawRoster, RosterError> {
    let text = std::str::from_utf8(bytes).map_err(|e| RosterError::NotUtf8 {
        path: path.to_owned(),
        offset: e.valid_up_to(),
    })?;
    raw::reset_entry_budget();
    let raw: Option<raw::RawRoster> =
        crate::yaml::from_str(text).map_err(|error| RosterError::Syntax {
            path: path.to_owned(),
            error,
        })?;
    // An empty document (a file truncated mid-write, say) is not "no hubs": it must
    // never replace a good roster.
    raw.ok_or_else(|| RosterError::Empty {
        path: path.to_owned(),
    })
}
