//! The hash chain that makes the audit trail tamper-evident.
//!
//! Every line ends with `"prev"`: the SHA-256 (hex) of the bytes of the line before it,
//! without its newline. A line edited, removed, inserted or moved no longer matches the
//! `prev` of the line after it, which `audit verify` names. A chain starts with a
//! `chain` line saying why it starts there ([`ChainStart`]): a new trail, a file the
//! writer rotated to (its `prev` is then the last hash of the file before, so the chain
//! runs on across files), a file found emptied, replaced or truncated while no writer
//! held it (a new chain, which says so and names the last head known), or the first
//! chained line after lines written before the chain existed.
//!
//! The chain shows edits; it cannot stop someone who rewrites every line after theirs,
//! nor see a removed tail by itself. So the head (the hash of the last line) is also
//! logged at INFO after each run that writes, and kept in the lock file, where a
//! removed or rewritten tail shows.
//!
//! SHA-256 comes from aws-lc-rs, which rustls already builds into this binary: no new
//! crate to vet, and a library kept by AWS with FIPS validation in mind.

use std::fmt;

use super::lock::TrailState;
use crate::word::words;

/// The SHA-256 of one line's bytes (without its newline).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineHash([u8; 32]);

impl LineHash {
    pub fn of(line: &[u8]) -> LineHash {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, line);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        LineHash(bytes)
    }

    /// From 64 hex digits (either case).
    pub fn parse(hex: &str) -> Option<LineHash> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(LineHash(bytes))
    }
}

impl fmt::Display for LineHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for LineHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LineHash({self})")
    }
}

/// Ends the JSON object `body` with `"prev"`: the chain's field comes last, after what
/// the line says.
pub(super) fn with_prev(mut body: String, prev: Option<LineHash>) -> String {
    debug_assert!(body.ends_with('}'), "a JSON object: {body}");
    body.pop();
    if body.len() > 1 {
        body.push(',');
    }
    match prev {
        Some(hash) => body.push_str(&format!("\"prev\":\"{hash}\"}}")),
        None => body.push_str("\"prev\":null}"),
    }
    body
}

words! {
    /// Why a chain starts at a `chain` line (its `chain` field).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum ChainStart {
        /// A new, empty trail.
        New => "new",
        /// This writer's file was rotated away (renamed, or copied and truncated); its
        /// `prev` is the last hash of the file before.
        Rotated => "rotated",
        /// The first chained line after lines written before the chain existed.
        Begins => "begins",
        /// The file was emptied, replaced, truncated or changed while no writer held it,
        /// or another writer appended to it: what came before cannot be vouched for.
        Restarted => "restarted",
        /// The line before was cut short (a crash while it was written).
        Cut => "cut",
    }
}

/// What the writer found in the file when it took the lock.
#[derive(Debug, Clone, Default)]
pub(super) struct Found {
    pub len: u64,
    /// Device and inode.
    pub identity: (u64, u64),
    /// The last line, without its newline.
    pub last: Option<Vec<u8>>,
    pub ends_with_newline: bool,
    /// Whether the last line carries `prev`.
    pub last_chained: bool,
    /// The hash of the line that ends where the last writer's file ended (see
    /// [`TrailState::len`]), when the file is that long.
    pub at_mark: Option<LineHash>,
}

/// A chain line to write before the next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Start {
    pub kind: ChainStart,
    /// The sentence the line says (`result`).
    pub reason: String,
    /// The last head the writer knew of, when it cannot be the `prev`.
    pub last_head: Option<LineHash>,
}

impl Start {
    pub(super) fn new(kind: ChainStart, reason: impl Into<String>) -> Start {
        Start {
            kind,
            reason: reason.into(),
            last_head: None,
        }
    }
}

/// How a writer taking the lock goes on from what it `found` and what the last writer
/// left in the lock file (`before`): `None` when the chain simply goes on.
pub(super) fn start(found: &Found, before: Option<&TrailState>) -> Option<Start> {
    let last_head = before.and_then(|b| b.head.as_deref().and_then(LineHash::parse));
    if found.len == 0 {
        return Some(match before {
            Some(b) if b.len > 0 => Start {
                last_head,
                ..Start::new(
                    ChainStart::Restarted,
                    format!(
                        "a new chain: the file was emptied, removed or rotated while no writer held it (it had {} bytes)",
                        b.len
                    ),
                )
            },
            _ => Start::new(ChainStart::New, "a new audit trail"),
        });
    }
    if !found.ends_with_newline {
        return Some(Start::new(
            ChainStart::Cut,
            "the line before was cut short (a crash while it was written)",
        ));
    }
    if !found.last_chained {
        return Some(Start::new(
            ChainStart::Begins,
            "the chain begins: the lines before carry no prev (written before the chain existed)",
        ));
    }
    let before = before?;
    let why = if (before.dev, before.ino) != found.identity {
        "the file was replaced"
    } else if found.len < before.len {
        "the file was truncated"
    } else if found.at_mark.map(|h| h.to_string()) != before.head {
        "the file was changed"
    } else {
        return None;
    };
    Some(Start {
        last_head,
        ..Start::new(
            ChainStart::Restarted,
            format!("a new chain: {why} while no writer held it"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_in_hex_and_read_back() {
        // SHA-256("") is well known.
        let empty = LineHash::of(b"");
        assert_eq!(
            empty.to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(LineHash::parse(&empty.to_string()), Some(empty));
        assert_eq!(
            LineHash::parse(&empty.to_string().to_uppercase()),
            Some(empty)
        );
        assert_eq!(LineHash::parse("e3b0"), None);
        assert_eq!(LineHash::parse(&"zz".repeat(32)), None);
    }

    #[test]
    fn prev_is_the_last_field() {
        let h = LineHash::of(b"x");
        assert_eq!(
            with_prev(r#"{"a":1}"#.into(), Some(h)),
            format!(r#"{{"a":1,"prev":"{h}"}}"#)
        );
        assert_eq!(with_prev("{}".into(), None), r#"{"prev":null}"#);
    }

    fn found(len: u64) -> Found {
        Found {
            len,
            identity: (1, 2),
            last: Some(b"{}".to_vec()),
            ends_with_newline: true,
            last_chained: true,
            at_mark: Some(LineHash::of(b"mark")),
        }
    }

    fn state(len: u64) -> TrailState {
        TrailState {
            dev: 1,
            ino: 2,
            len,
            head: Some(LineHash::of(b"mark").to_string()),
        }
    }

    #[track_caller]
    fn assert_contains(text: &str, part: &str) {
        assert!(text.contains(part), "{part:?} is missing from {text:?}");
    }

    #[test]
    fn a_chain_goes_on_only_when_the_file_is_as_the_last_writer_left_it_or_longer() {
        assert_eq!(start(&found(100), Some(&state(100))), None);
        assert_eq!(start(&found(150), Some(&state(100))), None, "grown");
        assert_eq!(start(&found(100), None), None, "no record: go on");
        let kind = |f: &Found, s: Option<&TrailState>| start(f, s).map(|s| s.kind);
        assert_eq!(kind(&found(0), None), Some(ChainStart::New));
        assert_eq!(kind(&found(0), Some(&state(0))), Some(ChainStart::New));
        let emptied = start(&found(0), Some(&state(100))).unwrap();
        assert_eq!(emptied.kind, ChainStart::Restarted);
        assert_eq!(emptied.last_head, Some(LineHash::of(b"mark")));
        // Why a chain restarts on a file the last writer left at 100 bytes.
        let reason = |f: &Found| start(f, Some(&state(100))).unwrap().reason;
        assert_contains(&emptied.reason, "100 bytes");
        assert_contains(&reason(&found(50)), "truncated");
        let mut replaced = found(100);
        replaced.identity = (1, 3);
        assert_contains(&reason(&replaced), "replaced");
        let mut changed = found(100);
        changed.at_mark = Some(LineHash::of(b"other"));
        assert_contains(&reason(&changed), "changed");
        let mut cut = found(100);
        cut.ends_with_newline = false;
        assert_eq!(kind(&cut, None), Some(ChainStart::Cut));
        let mut old = found(100);
        old.last_chained = false;
        assert_eq!(kind(&old, None), Some(ChainStart::Begins));
    }
}
