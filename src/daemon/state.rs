//! What the daemon keeps between runs, in `--state-dir`: one store for every feature
//! that remembers something per hub, rather than a file format per feature.
//!
//! Each hub has one JSON file, [`HubState`], with a section per feature: the fight
//! records ([`Fights`]), the position read in the hub's log and what it showed (the
//! ledger), the admins seen at the last run; the next features add a section with
//! `#[serde(default)]`, so an older file still loads. A file is written whole and atomically (a temporary file synced, then
//! renamed over the old one, then the directory synced), only when its state changed.
//! Losing it loses memory of past runs, never correctness of a run: the audit trail's
//! own intents live in the audit file, which is their write-ahead log.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

use std::collections::BTreeSet;

use super::fights::Fights;
use crate::evidence::{Ledger, SourcePosition};
use crate::plan::provisional::Records;

/// The format version written and read.
const VERSION: u32 = 1;

/// Everything the daemon remembers of one hub.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HubState {
    #[serde(default = "version")]
    pub version: u32,
    /// Fight records ([`crate::daemon::fights`]).
    #[serde(default)]
    pub fights: Fights,
    /// Where reading the hub's log stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<SourcePosition>,
    /// What the hub's log has shown, and this tool's own changes, so a restart forgets
    /// nobody's grant.
    #[serde(default)]
    pub ledger: Ledger,
    /// The hub's admins (any path, normal form) at the last run, to tell a change new
    /// since then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admins: Option<BTreeSet<String>>,
    /// Provisional administrators ([`crate::plan::provisional`]): kept for a while
    /// because someone the roster entitles made them admin in the hub.
    #[serde(default, skip_serializing_if = "Records::is_empty")]
    pub provisional: Records,
}

fn version() -> u32 {
    VERSION
}

/// Why state could not be read or kept. Never fatal: the state is memory of past runs.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a state file of this tool: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: state version {version} is newer than this release reads ({VERSION})", path.display())]
    Version { path: PathBuf, version: u32 },
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    pub fn new(dir: &Path) -> StateStore {
        StateStore {
            dir: dir.to_owned(),
        }
    }

    /// The file of hub `hub`: its name made safe for a file name, and a hash of the
    /// exact name, so that two hubs whose names differ only in characters that are
    /// replaced never share a file.
    pub fn path(&self, hub: &str) -> PathBuf {
        let safe: String = hub
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let hash = hub.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        self.dir
            .join(format!("hub-{safe}-{:08x}.json", hash as u32))
    }

    /// The file an earlier release kept a hub's fights in.
    fn fights_file(&self, hub: &str) -> PathBuf {
        let name = self.path(hub);
        let safe = name
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("hub-"))
            .and_then(|n| n.rsplit_once('-'))
            .map(|(safe, _)| safe.to_string())
            .unwrap_or_default();
        self.dir.join(format!("fights-{safe}.json"))
    }

    /// The state of `hub`; none kept yet is an empty state. A state written by an
    /// earlier release (`fights-HUB.json`) is read once, into the new file's section.
    pub fn load(&self, hub: &str) -> Result<HubState, StateError> {
        let path = self.path(hub);
        match read_json::<HubState>(&path)? {
            Some(state) if state.version > VERSION => Err(StateError::Version {
                path,
                version: state.version,
            }),
            Some(state) => Ok(state),
            None => Ok(HubState {
                version: VERSION,
                fights: read_json(&self.fights_file(hub))?.unwrap_or_default(),
                ..HubState::default()
            }),
        }
    }

    /// Writes `state` for `hub` whole and atomically, and drops the earlier release's
    /// file once its content lives in the new one.
    pub fn save(&self, hub: &str, state: &HubState) -> Result<(), StateError> {
        let path = self.path(hub);
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(state).map_err(|source| StateError::Json {
            path: path.clone(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        let _ = std::fs::remove_file(self.fights_file(hub));
        Ok(())
    }
}

/// The JSON at `path`, or `None` when there is no file.
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StateError::Json {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_round_trips_and_an_empty_dir_is_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        assert_eq!(
            store.load("h1").unwrap(),
            HubState {
                version: 1,
                ..HubState::default()
            }
        );
        let mut state = store.load("h1").unwrap();
        state.fights.after_apply(
            &Default::default(),
            [(
                &crate::name::UserName::new("m"),
                crate::plan::Action::Revoke,
            )],
        );
        store.save("h1", &state).unwrap();
        assert_eq!(store.load("h1").unwrap(), state);
        assert!(!store.path("h1").with_extension("json.tmp").exists());
    }

    #[test]
    fn hubs_whose_names_differ_only_in_replaced_characters_keep_apart() {
        let store = StateStore::new(Path::new("/state"));
        assert_ne!(store.path("a.b"), store.path("a_b"));
        assert!(
            store
                .path("a.b")
                .to_str()
                .unwrap()
                .starts_with("/state/hub-a_b-")
        );
    }

    #[test]
    fn an_earlier_releases_fight_file_is_read_once_then_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let mut fights = Fights::default();
        fights.after_apply(
            &Default::default(),
            [(&crate::name::UserName::new("m"), crate::plan::Action::Grant)],
        );
        let old = dir.path().join("fights-h_1.json");
        std::fs::write(&old, serde_json::to_vec(&fights).unwrap()).unwrap();
        let state = store.load("h.1").unwrap();
        assert_eq!(state.fights, fights);
        store.save("h.1", &state).unwrap();
        assert!(!old.exists());
        assert_eq!(store.load("h.1").unwrap().fights, fights);
    }

    #[test]
    fn a_newer_or_broken_file_is_an_error_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        std::fs::write(store.path("h"), r#"{"version": 9}"#).unwrap();
        assert!(matches!(
            store.load("h"),
            Err(StateError::Version { version: 9, .. })
        ));
        std::fs::write(store.path("h"), "not json").unwrap();
        assert!(matches!(store.load("h"), Err(StateError::Json { .. })));
    }
}
