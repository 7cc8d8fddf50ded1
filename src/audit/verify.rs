//! `audit verify FILE...`: whether each file's hash chain is intact.
//!
//! Files are checked in the order given, oldest first (`audit.jsonl.2 audit.jsonl.1
//! audit.jsonl`): a file that begins where its writer rotated from the one before
//! must begin with that file's last hash. Each line's `prev` must be the hash of the
//! line before it; the first line that does not follow is named by file and line
//! number, which points at an edit of the line before, or lines removed, inserted or
//! reordered there. Lines written before the chain existed (no `prev`, at the start of
//! a file) are reported as such, not as tampering; so are chains the writer itself
//! restarted (it says why in a `chain` line) and a line cut short by a crash. A file
//! that cannot be read is said to be so, in other words than a broken chain.

use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

use super::chain::{ChainStart, LineHash};
use crate::word::count;

/// What was found in one file.
#[derive(Debug)]
pub(crate) struct FileReport {
    pub path: PathBuf,
    pub lines: usize,
    /// Lines at the start written before the chain existed.
    pub pre_chain: usize,
    /// The hash of the last line.
    pub head: Option<LineHash>,
    /// What a reader should know that is not a break: where chains start, lines cut
    /// short, intents without an outcome.
    pub notes: Vec<String>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Intact,
    /// The first line (1-based) that does not follow, and why.
    Broken {
        line: usize,
        why: String,
    },
    Unreadable(String),
}

/// Checks `paths` in order; the result has one report per path.
pub(crate) fn verify(paths: &[PathBuf]) -> Vec<FileReport> {
    let mut reports: Vec<FileReport> = Vec::new();
    for path in paths {
        let before = reports
            .last()
            .and_then(|r| Some((r.path.as_path(), r.head?)));
        let report = match std::fs::read(path) {
            Ok(bytes) => check(path, &bytes, before),
            Err(e) => FileReport {
                path: path.clone(),
                lines: 0,
                pre_chain: 0,
                head: None,
                notes: Vec::new(),
                verdict: Verdict::Unreadable(e.to_string()),
            },
        };
        reports.push(report);
    }
    reports
}

/// 0 when every file is intact, else 1.
pub(crate) fn exit_code(reports: &[FileReport]) -> u8 {
    u8::from(reports.iter().any(|r| r.verdict != Verdict::Intact))
}

/// One line as read: its hash and, when it is a JSON object, what the chain needs.
struct Line {
    number: usize,
    hash: LineHash,
    object: Option<serde_json::Map<String, Value>>,
}

impl Line {
    fn field(&self, name: &str) -> Option<&Value> {
        self.object.as_ref()?.get(name)
    }

    fn chain_start(&self) -> Option<ChainStart> {
        (self.field("event")?.as_str()? == "chain")
            .then(|| ChainStart::from_word(self.field("chain")?.as_str()?))
            .flatten()
    }
}

/// The walk through one file's lines.
struct Walk<'a> {
    report: FileReport,
    before: Option<(&'a Path, LineHash)>,
    previous: Option<LineHash>,
    /// The line the chain began on, once it has.
    chained_since: Option<usize>,
    /// A line that is not JSON, waiting to see if the next says it was cut short.
    unparsed: Option<usize>,
    intents: std::collections::BTreeSet<String>,
    answered: std::collections::BTreeSet<String>,
}

fn check(path: &Path, bytes: &[u8], before: Option<(&Path, LineHash)>) -> FileReport {
    let mut walk = Walk {
        report: FileReport {
            path: path.to_owned(),
            lines: 0,
            pre_chain: 0,
            head: None,
            notes: Vec::new(),
            verdict: Verdict::Intact,
        },
        before,
        previous: None,
        chained_since: None,
        unparsed: None,
        intents: Default::default(),
        answered: Default::default(),
    };
    let ends_with_newline = bytes.last() == Some(&b'\n');
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if !bytes.is_empty() {
        for (i, raw) in body.split(|b| *b == b'\n').enumerate() {
            let line = Line {
                number: i + 1,
                hash: LineHash::of(raw),
                object: serde_json::from_slice::<Value>(raw)
                    .ok()
                    .and_then(|v| match v {
                        Value::Object(map) => Some(map),
                        _ => None,
                    }),
            };
            if let Err((line, why)) = walk.step(&line) {
                walk.report.verdict = Verdict::Broken { line, why };
                break;
            }
        }
    }
    walk.finish(ends_with_newline)
}

impl Walk<'_> {
    fn step(&mut self, line: &Line) -> Result<(), (usize, String)> {
        self.report.lines = line.number;
        self.report.head = Some(line.hash);
        let previous = self.previous.replace(line.hash);
        if line.object.is_none() {
            if let Some(k) = self.unparsed {
                return Err((k, "not a JSON line".into()));
            }
            self.unparsed = Some(line.number);
            return Ok(());
        }
        self.tie(line);
        let Some(prev) = line.field("prev") else {
            if let Some(k) = self.unparsed {
                return Err((k, "not a JSON line".into()));
            }
            return match self.chained_since {
                None => {
                    self.report.pre_chain += 1;
                    Ok(())
                }
                Some(since) => Err((
                    line.number,
                    format!(
                        "has no prev, though the chain began at line {since}: a line inserted, or its prev removed"
                    ),
                )),
            };
        };
        let prev = match prev {
            Value::Null => None,
            Value::String(hex) => Some(
                LineHash::parse(hex)
                    .ok_or_else(|| (line.number, format!("prev {hex:?} is not a SHA-256 hash")))?,
            ),
            _ => return Err((line.number, "prev is not a SHA-256 hash".into())),
        };
        self.chained_since.get_or_insert(line.number);
        match previous {
            None => self.first(line, prev)?,
            Some(expected) => self.follows(line, prev, expected)?,
        }
        Ok(())
    }

    /// Line 1 with a `prev`: a new chain, or one that runs on from the file before.
    fn first(&mut self, line: &Line, prev: Option<LineHash>) -> Result<(), (usize, String)> {
        let start = line.chain_start();
        match (prev, start, self.before) {
            (None, Some(_), _) => {
                self.note_chain(line);
                Ok(())
            }
            (None, None, _) => Err((
                1,
                "prev is null, but this is not a chain line: only a chain line starts a chain"
                    .into(),
            )),
            (Some(prev), _, Some((file, head))) if prev == head => {
                self.report.notes.push(format!(
                    "line 1 follows the last line of {}",
                    file.display()
                ));
                Ok(())
            }
            (Some(prev), _, Some((file, head))) => Err((
                1,
                format!(
                    "does not follow the last line of {} (its prev is {prev}, that line hashes to {head}): files given out of order, or lines removed there",
                    file.display()
                ),
            )),
            (Some(prev), Some(_), None) => {
                self.report.notes.push(format!(
                    "line 1 continues a chain from an earlier file, whose last line hashes to {prev} (give that file first to check the link)"
                ));
                Ok(())
            }
            (Some(prev), None, None) => Err((
                1,
                format!(
                    "the file does not begin where a chain begins (prev is {prev}): lines before line 1 were removed, or give the file before it first"
                ),
            )),
        }
    }

    /// A line after the first must carry the hash of the line before it.
    fn follows(
        &mut self,
        line: &Line,
        prev: Option<LineHash>,
        expected: LineHash,
    ) -> Result<(), (usize, String)> {
        let n = line.number;
        let cut = line.chain_start() == Some(ChainStart::Cut);
        if let Some(k) = self.unparsed.filter(|_| !cut) {
            return Err((k, "not a JSON line".into()));
        }
        let Some(prev) = prev else {
            return Err((
                n,
                "prev is null: only a file's first line starts a chain from nothing".into(),
            ));
        };
        if prev != expected {
            return Err((
                n,
                format!(
                    "does not follow line {} (its prev is {prev}, line {} hashes to {expected}): line {} was edited, or lines were removed, inserted or reordered here",
                    n - 1,
                    n - 1,
                    n - 1
                ),
            ));
        }
        if let Some(k) = self.unparsed.take() {
            self.report.notes.push(format!(
                "line {k} was cut short (a crash while it was written)"
            ));
        }
        if line.chain_start().is_some_and(|s| s != ChainStart::Cut) {
            self.note_chain(line);
        }
        Ok(())
    }

    fn note_chain(&mut self, line: &Line) {
        let said = line
            .field("result")
            .and_then(Value::as_str)
            .unwrap_or("a chain starts");
        let mut note = format!("line {}: {}", line.number, crate::name::printable(said));
        if let Some(head) = line.field("last_head").and_then(Value::as_str) {
            note.push_str(&format!(
                " (the last head known before: {})",
                crate::name::printable(head)
            ));
        }
        self.report.notes.push(note);
    }

    fn tie(&mut self, line: &Line) {
        let text = |name| line.field(name).and_then(Value::as_str).map(str::to_string);
        if text("event").as_deref() == Some("intent")
            && let Some(id) = text("id")
        {
            self.intents.insert(id);
        } else if let Some(id) = text("intent") {
            self.answered.insert(id);
        }
    }

    fn finish(mut self, ends_with_newline: bool) -> FileReport {
        if self.report.verdict == Verdict::Intact
            && let Some(k) = self.unparsed
        {
            if k == self.report.lines && !ends_with_newline {
                self.report.notes.push(format!(
                    "line {k}, the last, is cut short (a crash while it was written, or a writer at work)"
                ));
            } else {
                self.report.verdict = Verdict::Broken {
                    line: k,
                    why: "not a JSON line".into(),
                };
            }
        }
        let open = self.intents.difference(&self.answered).count();
        if open > 0 {
            self.report.notes.push(format!(
                "{} without an outcome here (settled at the next start, or answered in a later file)",
                count(open, "intent")
            ));
        }
        self.report
    }
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.verdict {
            Verdict::Unreadable(error) => return writeln!(f, "{path}: cannot read: {error}"),
            Verdict::Broken { line, why } => writeln!(f, "{path}:{line}: BROKEN: {why}")?,
            Verdict::Intact => {
                let chained = self.lines - self.pre_chain;
                write!(f, "{path}: intact: ")?;
                match (self.pre_chain, chained) {
                    (0, 0) => write!(f, "empty")?,
                    (pre, 0) => write!(
                        f,
                        "{pre} lines, all written before the chain existed (no prev): not checked"
                    )?,
                    (0, n) => write!(f, "{n} chained lines")?,
                    (pre, n) => write!(
                        f,
                        "lines 1-{pre} written before the chain existed (no prev, not checked), then {n} chained lines"
                    )?,
                }
                match self.head {
                    Some(head) => writeln!(f, ", head {head}")?,
                    None => writeln!(f)?,
                }
            }
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::chain::with_prev;

    /// A trail of `n` chained lines after a `new` chain line, as the writer makes it.
    fn trail(n: usize, first_prev: Option<LineHash>) -> Vec<String> {
        let mut lines = vec![with_prev(
            r#"{"event":"chain","chain":"new","result":"a new audit trail"}"#.into(),
            first_prev,
        )];
        if first_prev.is_some() {
            lines[0] = lines[0].replace("\"new\"", "\"rotated\"");
        }
        for i in 0..n {
            let prev = LineHash::of(lines.last().unwrap().as_bytes());
            let body = if i % 2 == 0 {
                format!(r#"{{"event":"intent","id":"r.{i}","user":"u{i}"}}"#)
            } else {
                format!(
                    r#"{{"event":"applied","intent":"r.{}","user":"u{i}"}}"#,
                    i - 1
                )
            };
            lines.push(with_prev(body, Some(prev)));
        }
        lines
    }

    fn run(files: &[(&str, String)]) -> Vec<FileReport> {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = files
            .iter()
            .map(|(name, text)| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).unwrap();
                path
            })
            .collect();
        verify(&paths)
    }

    fn text(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn every_case_is_told_apart() {
        let intact = trail(6, None);
        let mut edited = intact.clone();
        edited[3] = edited[3].replace("u2", "mallory");
        let mut removed = intact.clone();
        removed.remove(3);
        let mut reordered = intact.clone();
        reordered.swap(2, 3);
        let mut inserted = intact.clone();
        inserted.insert(4, r#"{"event":"applied","user":"forged"}"#.into());
        let pre_chain = [r#"{"event":"applied","user":"old"}"#.to_string()];
        let mut upgraded = pre_chain.to_vec();
        upgraded.push(with_prev(
            r#"{"event":"chain","chain":"begins","result":"the chain begins"}"#.into(),
            Some(LineHash::of(pre_chain[0].as_bytes())),
        ));
        let mut head_cut = intact.clone();
        head_cut.remove(0);
        // (case, text, the first line that does not follow)
        let cases: [(&str, String, Option<usize>); 8] = [
            ("intact", text(&intact), None),
            ("edited", text(&edited), Some(5)),
            ("removed", text(&removed), Some(4)),
            ("reordered", text(&reordered), Some(3)),
            ("inserted", text(&inserted), Some(5)),
            ("pre-chain only", text(&pre_chain), None),
            ("pre-chain then chained", text(&upgraded), None),
            ("first lines removed", text(&head_cut), Some(1)),
        ];
        for (case, text, broken) in cases {
            let report = run(&[("audit.jsonl", text)]).remove(0);
            let line = match &report.verdict {
                Verdict::Broken { line, .. } => Some(*line),
                Verdict::Intact => None,
                Verdict::Unreadable(e) => panic!("{case}: {e}"),
            };
            assert_eq!(line, broken, "{case}: {report}");
        }
        let report = run(&[("audit.jsonl", text(&edited))]).remove(0);
        let shown = report.to_string();
        assert!(
            shown.starts_with(&format!(
                "{}:5: BROKEN: does not follow line 4",
                report.path.display()
            )),
            "{shown}"
        );
        assert!(shown.contains("line 4 was edited"), "{shown}");
        let old = run(&[("old.jsonl", text(&pre_chain))])
            .remove(0)
            .to_string();
        assert!(
            old.contains("all written before the chain existed"),
            "{old}"
        );
        assert!(!old.contains("BROKEN"), "{old}");
    }

    #[test]
    fn a_rotation_links_files_given_in_order() {
        let first = trail(4, None);
        let head = LineHash::of(first.last().unwrap().as_bytes());
        let second = trail(2, Some(head));
        let reports = run(&[
            ("audit.jsonl.1", text(&first)),
            ("audit.jsonl", text(&second)),
        ]);
        assert_eq!(exit_code(&reports), 0, "{}{}", reports[0], reports[1]);
        assert!(
            reports[1].notes[0].contains("follows the last line of"),
            "{:?}",
            reports[1].notes
        );
        // The rotated file's tail removed: the next file's first line names it.
        let reports = run(&[
            ("audit.jsonl.1", text(&first[..first.len() - 1])),
            ("audit.jsonl", text(&second)),
        ]);
        assert_eq!(exit_code(&reports), 1);
        assert!(
            matches!(reports[1].verdict, Verdict::Broken { line: 1, .. }),
            "{}",
            reports[1]
        );
        assert!(
            reports[1]
                .to_string()
                .contains("does not follow the last line of")
        );
        // Alone, the newer file says where it continues from.
        let alone = run(&[("audit.jsonl", text(&second))]).remove(0);
        assert_eq!(alone.verdict, Verdict::Intact);
        assert!(alone.notes[0].contains(&head.to_string()), "{alone}");
    }

    #[test]
    fn a_cut_line_a_missing_file_and_open_intents_are_said_so() {
        let mut lines = trail(3, None);
        lines.push(r#"{"event":"intent","id":"r.9"#.to_string());
        let cut_at_end = text(&lines).trim_end().to_string();
        let report = run(&[("a.jsonl", cut_at_end)]).remove(0);
        assert_eq!(report.verdict, Verdict::Intact, "{report}");
        assert!(
            report
                .to_string()
                .contains("line 5, the last, is cut short"),
            "{report}"
        );
        assert!(
            report.to_string().contains("1 intent without an outcome"),
            "{report}"
        );
        // Cut, then the writer's `cut` chain line.
        let cut = LineHash::of(lines.last().unwrap().as_bytes());
        lines.push(with_prev(
            r#"{"event":"chain","chain":"cut","result":"cut short"}"#.into(),
            Some(cut),
        ));
        let report = run(&[("b.jsonl", text(&lines))]).remove(0);
        assert_eq!(report.verdict, Verdict::Intact, "{report}");
        assert!(
            report.to_string().contains("line 5 was cut short"),
            "{report}"
        );
        // Not JSON in the middle, with no `cut` line after it: broken.
        let mut garbage = trail(3, None);
        garbage.insert(2, "not json".into());
        let report = run(&[("c.jsonl", text(&garbage))]).remove(0);
        assert!(
            matches!(report.verdict, Verdict::Broken { line: 3, .. }),
            "{report}"
        );

        let dir = tempfile::tempdir().unwrap();
        let reports = verify(&[dir.path().join("missing.jsonl")]);
        assert_eq!(exit_code(&reports), 1);
        let shown = reports[0].to_string();
        assert!(shown.contains("missing.jsonl: cannot read: "), "{shown}");
        assert!(!shown.contains("BROKEN"), "{shown}");
    }
}
