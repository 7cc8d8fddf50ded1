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

/// Flow collections (`[…]`, `{…}`) nested deeper than this are refused before parsing:
/// the parser's time grows with the square of the depth.
pub const MAX_FLOW_DEPTH: usize = 64;

/// Parses one YAML document into `T`.
///
/// Deeply nested flow collections are refused up front. Aliases are expanded with the
/// crate's own limit on alias uses; what an alias copies is bounded by the caller
/// (the roster counts its list entries).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    check_flow_depth(text)?;
    Ok(serde_yaml::from_str(text)?)
}

/// Refuses text whose `[`/`{` nesting (outside quotes and comments) passes
/// [`MAX_FLOW_DEPTH`].
fn check_flow_depth(text: &str) -> Result<(), YamlError> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let (mut single, mut double, mut comment, mut escaped) = (false, false, false, false);
    let mut previous = '\n';
    for c in text.chars() {
        column += 1;
        if c == '\n' {
            line += 1;
            column = 0;
            comment = false;
        } else if comment {
        } else if double {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                double = false;
            }
        } else if single {
            if c == '\'' {
                single = false;
            }
        } else {
            let starts_token = previous.is_whitespace() || "[{,:".contains(previous);
            match c {
                '#' if previous.is_whitespace() => comment = true,
                '"' if starts_token => double = true,
                '\'' if starts_token => single = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(YamlError {
                            message: format!(
                                "collections nested more than {MAX_FLOW_DEPTH} deep at line {line} column {column}"
                            ),
                            line: Some(line),
                            column: Some(column),
                        });
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = c;
    }
    Ok(())
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
    fn deep_flow_nesting_is_refused_quickly() {
        let deep = "a: ".to_string() + &"[".repeat(10_000);
        let err = from_str::<BTreeMap<String, String>>(&deep).unwrap_err();
        assert!(
            err.message.contains("nested more than 64 deep"),
            "{}",
            err.message
        );
        // Brackets in quotes and comments do not count.
        let quoted = format!("a: \"{}\"  # {}\n", "[".repeat(100), "{".repeat(100));
        assert_eq!(
            from_str::<BTreeMap<String, String>>(&quoted).unwrap()["a"].len(),
            100
        );
    }

    #[test]
    fn round_trip() {
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), "v".to_string());
        let text = to_string(&m).unwrap();
        assert_eq!(from_str::<BTreeMap<String, String>>(&text).unwrap(), m);
    }
}
