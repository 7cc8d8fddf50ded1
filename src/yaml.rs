//! The one place that names the YAML crate.
//!
//! The design card asks for `serde_yaml`, which is archived upstream. Everything else
//! in the crate goes through these two functions and [`YamlError`], so moving to a
//! maintained fork (`serde_norway`, `yaml_serde`) is a change to this file alone.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A YAML document that could not be read or written, with where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// The parser's message (it includes the line and column where it knows them).
    pub message: String,
    /// 1-based line of the problem, when the parser knows it.
    pub line: Option<usize>,
    /// 1-based column of the problem, when the parser knows it.
    pub column: Option<usize>,
}

impl From<serde_yaml::Error> for YamlError {
    fn from(err: serde_yaml::Error) -> Self {
        let location = err.location();
        YamlError {
            message: err.to_string(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
        }
    }
}

/// Parses one YAML document into `T`.
///
/// Aliases are expanded with the crate's own limit, so a "billion laughs" document is
/// an error, not an allocation storm.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    Ok(serde_yaml::from_str(text)?)
}

/// Writes `value` as a YAML document.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    Ok(serde_yaml::to_string(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = from_str::<BTreeMap<String, String>>("a: b\nc: [d\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.column.is_some());
        assert!(err.message.contains("line"), "{}", err.message);
    }

    #[test]
    fn round_trip() {
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), "v".to_string());
        let text = to_string(&m).unwrap();
        assert_eq!(from_str::<BTreeMap<String, String>>(&text).unwrap(), m);
    }
}
