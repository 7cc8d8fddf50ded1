//! `schema`: the roster's JSON Schema, for editors and CI; the same text as
//! `config/roster.schema.json`, which a test keeps in step. Exit 0.

use std::process::ExitCode;

use super::CliError;

/// Prints the schema on stdout.
pub(crate) fn cmd() -> Result<ExitCode, CliError> {
    print!("{}", schema_text());
    Ok(ExitCode::SUCCESS)
}

/// The roster's JSON Schema as shipped in `config/roster.schema.json`: pretty, with a
/// final newline.
pub(crate) fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::roster::json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_pretty_json_with_a_final_newline() {
        let text = schema_text();
        assert!(
            text.ends_with("}\n"),
            "{}",
            &text[text.len().saturating_sub(40)..]
        );
        let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(value.get("properties").is_some(), "{value}");
    }
}
