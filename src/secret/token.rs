//! Hub API tokens: where they come from, and a type that never prints them.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::Path;

use crate::secret::source::{Place, SecretSource};
use crate::small_file::{self, ReadError};

/// A hub API token. Its `Debug` shows `[REDACTED]`; the only way to the value is
/// [`Token::expose`], used once, where the `Authorization` header is built.
#[derive(Clone)]
pub struct Token(SecretString);

impl Token {
    pub fn new(value: &str) -> Self {
        Token(SecretString::from(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([REDACTED])")
    }
}

/// Why a token cannot be had. Messages say which source failed and why, never what
/// it held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("{0} is not set")]
    NotSet(SecretSource),
    #[error("{0} is empty")]
    Empty(SecretSource),
    #[error("{0} holds white space or control characters inside the token")]
    BadCharacters(SecretSource),
    #[error("{from} {problem}")]
    File {
        from: SecretSource,
        problem: FileProblem,
    },
}

/// What is wrong with a token file (the end of a sentence that names it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FileProblem {
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("is not a regular file")]
    NotRegular,
    #[error("is larger than {MAX_TOKEN_FILE_BYTES} bytes: not a token")]
    TooLarge,
    #[error("is not UTF-8 text")]
    NotUtf8,
}

/// A token and what was noticed while reading it.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub token: Token,
    pub warnings: Vec<String>,
}

/// Reads the token from its source. Errors say which source failed and why, never
/// what it held. `env` looks up environment variables (a parameter so tests need not
/// touch the process environment).
pub(crate) fn resolve(
    source: &SecretSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, TokenError> {
    let mut warnings = Vec::new();
    let value = match &source.place {
        Place::Env(var) => match env(var) {
            Some(value) => value,
            None => return Err(TokenError::NotSet(source.clone())),
        },
        Place::File(path) => {
            let value = read_token_file(path).map_err(|problem| TokenError::File {
                from: source.clone(),
                problem,
            })?;
            if let Some(w) = readable_by_others(path) {
                warnings.push(w);
            }
            value
        }
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(TokenError::Empty(source.clone()));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TokenError::BadCharacters(source.clone()));
    }
    Ok(Resolved {
        token: Token::new(value),
        warnings,
    })
}

/// A token file is small: more than this is a mistaken path, not a token.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Reads a token file: a regular file (a FIFO or a device would block or never end)
/// of at most [`MAX_TOKEN_FILE_BYTES`]. The error is what is wrong with the file.
fn read_token_file(path: &Path) -> Result<String, FileProblem> {
    let bytes = small_file::read_regular(path, MAX_TOKEN_FILE_BYTES).map_err(|e| match e {
        ReadError::Io(e) => FileProblem::Unreadable(e.to_string()),
        ReadError::NotRegular => FileProblem::NotRegular,
        ReadError::TooLarge { .. } => FileProblem::TooLarge,
    })?;
    String::from_utf8(bytes).map_err(|_| FileProblem::NotUtf8)
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "token_file {} is readable by every user on this machine (mode {:o}); chmod o-r it",
            path.display(),
            mode & 0o777
        )
    })
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::source::Secret;

    #[test]
    fn debug_never_shows_the_value() {
        let t = Token::new("s3cr3t-value-123");
        assert_eq!(format!("{t:?}"), "Token([REDACTED])");
    }

    #[test]
    fn env_source() {
        let env = |k: &str| (k == "T").then(|| " abcdefgh\n".to_string());
        let r = resolve(&SecretSource::env(Secret::Token, "T"), &env).unwrap();
        assert_eq!(r.token.expose(), "abcdefgh");
        let err = resolve(&SecretSource::env(Secret::Token, "U"), &env).unwrap_err();
        assert_eq!(err.to_string(), "token_env U is not set");
    }

    #[test]
    fn empty_and_inner_space_are_errors() {
        let env = |_: &str| Some("  ".to_string());
        assert_eq!(
            resolve(&SecretSource::env(Secret::Token, "T"), &env)
                .unwrap_err()
                .to_string(),
            "token_env T is empty"
        );
        let env = |_: &str| Some("ab cd".to_string());
        let err = resolve(&SecretSource::env(Secret::Token, "T"), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("white space"), "{err}");
        assert!(!err.contains("ab cd"));
    }

    #[cfg(unix)]
    #[test]
    fn file_source_warns_when_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok");
        std::fs::write(&path, "abcdefgh12\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let r = resolve(&SecretSource::file(Secret::Token, &path), &|_| None).unwrap();
        assert_eq!(r.token.expose(), "abcdefgh12");
        assert!(r.warnings.is_empty());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let r = resolve(&SecretSource::file(Secret::Token, &path), &|_| None).unwrap();
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].contains("readable by every user"));
        let missing = dir.path().join("nope");
        let err = resolve(&SecretSource::file(Secret::Token, &missing), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("token_file "), "{err}");
        assert!(err.contains("cannot be read"), "{err}");
    }
}
