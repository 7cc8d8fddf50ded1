//! The audit trail as the tests read it: its lines, its intents and their outcomes,
//! and `audit verify` run on it.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

/// The lines of an audit file (none if it does not exist); panics on a line that is
/// not JSON, which would be lines interleaved or cut.
#[derive(Debug, Clone)]
pub struct Trail {
    pub lines: Vec<Value>,
}

impl Trail {
    pub fn read(path: &Path) -> Trail {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Trail {
            lines: super::json_lines(&text),
        }
    }

    /// Intent id → the user it is about.
    pub fn intents(&self) -> BTreeMap<String, String> {
        self.lines
            .iter()
            .filter(|l| l["event"] == "intent")
            .map(|l| (text(&l["id"]), text(&l["user"])))
            .collect()
    }

    /// Intent id → the outcome lines that name it.
    pub fn outcomes(&self) -> BTreeMap<String, Vec<&Value>> {
        let mut outcomes: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for line in self.lines.iter().filter(|l| l["intent"].is_string()) {
            outcomes
                .entry(text(&line["intent"]))
                .or_default()
                .push(line);
        }
        outcomes
    }

    /// The intents that no outcome names.
    pub fn unsettled(&self) -> BTreeSet<String> {
        let outcomes = self.outcomes();
        self.intents()
            .into_keys()
            .filter(|id| !outcomes.contains_key(id))
            .collect()
    }

    /// The users of the lines whose `event` is `event`.
    pub fn users_with(&self, event: &str) -> BTreeSet<String> {
        self.lines
            .iter()
            .filter(|l| l["event"] == event)
            .map(|l| text(&l["user"]))
            .collect()
    }
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_string()
}

/// `audit verify` on `paths`, in order.
pub fn verify(paths: &[&Path]) -> Output {
    let mut args = vec!["audit".to_string(), "verify".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    super::run(&args, &[])
}
