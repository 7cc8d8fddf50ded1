//! Where a secret the roster names is read from: an environment variable or a file,
//! never the roster itself. Hub tokens (`token_env` / `token_file`) and community
//! webhook URLs (`webhook_env` / `webhook_file`) follow the same rule (exactly one of
//! the two) in the same words; reading them (`token::resolve`,
//! `roster::alerts::resolve`) checks what each must hold.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which secret: the stem of its two roster keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    Token,
    Webhook,
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Secret::Token => "token",
            Secret::Webhook => "webhook",
        })
    }
}

/// A secret's source as the roster gives it. Displays as the roster key and its value
/// (`token_env HUB_TOKEN`, `webhook_file /run/hook`), never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSource {
    pub secret: Secret,
    pub place: Place,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Env(String),
    File(PathBuf),
}

/// Why a roster entry names no usable source (the end of a sentence that names it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("has no {0}: set {0}_env or {0}_file")]
    Neither(Secret),
    #[error("has both {0}_env and {0}_file; keep one")]
    Both(Secret),
}

impl SecretSource {
    pub fn env(secret: Secret, var: &str) -> SecretSource {
        SecretSource {
            secret,
            place: Place::Env(var.to_owned()),
        }
    }

    pub fn file(secret: Secret, path: &Path) -> SecretSource {
        SecretSource {
            secret,
            place: Place::File(path.to_owned()),
        }
    }

    /// The source of the roster's `<secret>_env` and `<secret>_file`: exactly one.
    pub fn choose(
        secret: Secret,
        env: Option<&String>,
        file: Option<&PathBuf>,
    ) -> Result<SecretSource, ChoiceError> {
        match (env, file) {
            (Some(var), None) => Ok(SecretSource::env(secret, var)),
            (None, Some(path)) => Ok(SecretSource::file(secret, path)),
            (None, None) => Err(ChoiceError::Neither(secret)),
            (Some(_), Some(_)) => Err(ChoiceError::Both(secret)),
        }
    }

    /// The variable, for an `_env` source.
    pub fn var(&self) -> Option<&str> {
        match &self.place {
            Place::Env(var) => Some(var),
            Place::File(_) => None,
        }
    }

    /// The path, for a `_file` source.
    pub fn path(&self) -> Option<&Path> {
        match &self.place {
            Place::File(path) => Some(path),
            Place::Env(_) => None,
        }
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Place::Env(var) => write!(f, "{}_env {var}", self.secret),
            Place::File(path) => write!(f, "{}_file {}", self.secret, path.display()),
        }
    }
}
