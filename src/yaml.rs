//! The one place that names the YAML crate.
//!
//! The design card asks for `serde_yaml`, which is archived upstream. Everything else
//! in the crate goes through these functions and [`YamlError`], so moving to a
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

/// Parses one YAML document of any shape (Helm values, say) into a JSON value.
///
/// Merge keys (`<<: *anchor`) are applied and tags dropped; mapping keys become strings
/// as Helm makes them (`1` → `"1"`, `true` → `"true"`, `~` → `"null"`); floats that JSON
/// cannot hold (NaN, infinities) become `null`. An empty document is `null`.
pub fn value_from_str(text: &str) -> Result<serde_json::Value, YamlError> {
    check_flow_depth(text)?;
    let mut value: serde_yaml::Value = serde_yaml::from_str(text)?;
    value.apply_merge()?;
    Ok(to_json(value))
}

fn to_json(value: serde_yaml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    use serde_yaml::Value as Y;
    match value {
        Y::Null => J::Null,
        Y::Bool(b) => J::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                J::from(i)
            } else if let Some(u) = n.as_u64() {
                J::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(J::Null, J::Number)
            }
        }
        Y::String(s) => J::String(s),
        Y::Sequence(items) => J::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => J::Object(
            map.into_iter()
                .map(|(k, v)| (key_string(k), to_json(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => to_json(tagged.value),
    }
}

/// A mapping key as a string: scalars as written, anything else as compact JSON.
fn key_string(key: serde_yaml::Value) -> String {
    match to_json(key) {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
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
    fn value_keys_merges_and_empty_documents() {
        let v = value_from_str(
            "base: &b {x: 1, y: [a]}\nderived:\n  <<: *b\n  y: [b]\n1: one\ntrue: yes\nf: 1.5\nt: !custom z\n",
        )
        .unwrap();
        assert_eq!(v["derived"], serde_json::json!({"x": 1, "y": ["b"]}));
        assert_eq!(v["1"], "one");
        assert_eq!(v["true"], "yes");
        assert_eq!(v["f"], 1.5);
        assert_eq!(v["t"], "z");
        assert_eq!(
            value_from_str("# only a comment\n").unwrap(),
            serde_json::Value::Null
        );
        let err = value_from_str("a: [b\n").unwrap_err();
        assert!(err.line.is_some(), "{err}");
    }

    #[test]
    fn round_trip() {
        let mut m = BTreeMap::new();
        m.insert("k".to_string(), "v".to_string());
        let text = to_string(&m).unwrap();
        assert_eq!(from_str::<BTreeMap<String, String>>(&text).unwrap(), m);
    }
}
