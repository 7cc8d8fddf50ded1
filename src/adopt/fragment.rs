//! A roster fragment for one hub, as `dump` (from a live hub) and `import` (from Zero
//! to JupyterHub values) print it: one community with one hub, in the roster's own
//! schema, for a person to complete (`added_by: FILL-IN`) and paste in.

use serde::Serialize;
use std::path::PathBuf;

use crate::roster::{ADDED_BY_PLACEHOLDER, Policy};

/// The community name left for a person to choose.
pub(crate) const DEFAULT_COMMUNITY: &str = "CHANGE-ME";

#[derive(Debug, Serialize)]
pub(crate) struct Fragment {
    pub version: u32,
    pub communities: Vec<FragmentCommunity>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FragmentCommunity {
    pub name: String,
    pub representatives: Vec<Named>,
    /// The community's administrators (left out when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administrators: Option<Vec<FragmentAdmin>>,
    pub hubs: Vec<FragmentHub>,
}

/// A representative (or anyone named by name alone).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Named {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct FragmentAdmin {
    pub name: String,
    pub added_by: String,
}

impl FragmentAdmin {
    /// An administrator whose `added_by` a person must fill in (validation refuses the
    /// placeholder).
    pub(crate) fn placeholder(name: String) -> FragmentAdmin {
        FragmentAdmin {
            name,
            added_by: ADDED_BY_PLACEHOLDER.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct FragmentHub {
    pub name: String,
    pub api_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    pub policy: Policy,
    /// The hub's own administrators (left out when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub administrators: Option<Vec<FragmentAdmin>>,
}

impl Fragment {
    /// A fragment of one community with one hub.
    pub(crate) fn one_hub(community: FragmentCommunity) -> Fragment {
        Fragment {
            version: 1,
            communities: vec![community],
        }
    }
}
