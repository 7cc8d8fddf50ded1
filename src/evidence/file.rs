//! Reading a hub's log file a little at a time, across rotation.
//!
//! A [`Position`] says where the last read stopped: the file's identity (device and
//! inode), the offset after the last complete line, and a hash of the file's first
//! bytes. Each [`LogFile::read`] streams from there through a fixed buffer (memory does
//! not grow with the file), up to a byte budget, and hands each complete line to a
//! [`LineSink`]; a partial last line is read again next time, when it is whole.
//!
//! What happened to the file since is told from the position:
//! - same inode, at least as long, same first bytes: it grew; read on.
//! - another inode at the path: it was rotated (renamed to `NAME.1`, `NAME-20261201`...).
//!   The old inode is looked for beside it (a file whose name starts with the log's);
//!   found, it is read to its end, then the new file from its start; not found, a
//!   [`GapKind::RotatedPast`] is reported.
//! - same inode but shorter, or other first bytes: truncated or rewritten in place
//!   (logrotate's `copytruncate`). A sibling with the same first bytes, at least as long
//!   as the offset, is the copy: it is read from the offset, then the file from its start;
//!   none: a [`GapKind::Truncated`].
//!
//! A hub that keeps writing to its old file after a rename (a process that does not
//! reopen its log, as under systemd's `StandardOutput=append:`) needs `copytruncate`.

use std::fs::{self, File, Metadata};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Gap, GapKind, LineSink};

/// Bytes of the file's start that identify it (its first lines: the hub's start, with
/// times).
const HEAD: u64 = 1024;
/// The read buffer.
const BUFFER: usize = 64 * 1024;
/// A longer line is skipped whole: no line the evidence needs is that long.
pub const MAX_LINE: usize = 64 * 1024;

/// Where reading stopped; the caller keeps it (in the daemon's state) between runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub dev: u64,
    pub ino: u64,
    /// Bytes read, up to the end of the last complete line.
    pub offset: u64,
    /// How many of the first bytes [`Position::head_hash`] covers (up to 1024).
    pub head_len: u64,
    /// FNV-1a of the first `head_len` bytes.
    pub head_hash: u64,
}

/// What one [`LogFile::read`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Bytes read (complete lines and any partial one).
    pub bytes: u64,
    /// Complete lines handed on.
    pub lines: u64,
    /// Lines skipped for being longer than [`MAX_LINE`].
    pub overlong: u64,
    /// Holes found (also handed to the sink, in stream order).
    pub gaps: Vec<Gap>,
    /// True when the read reached the end of the file; false when the budget ran out.
    pub caught_up: bool,
}

/// A hub's log file, read incrementally.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    position: Option<Position>,
}

impl LogFile {
    /// `position`: where the previous run stopped (`None`: read from the start).
    pub fn new(path: impl Into<PathBuf>, position: Option<Position>) -> LogFile {
        LogFile {
            path: path.into(),
            position,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the next read starts; keep it for the next run.
    pub fn position(&self) -> Option<&Position> {
        self.position.as_ref()
    }

    /// Reads at most about `max_bytes` (whole buffers) of new lines into `sink`.
    /// A missing file is an error (`NotFound`), unless a rotated copy still holds lines
    /// after the position.
    pub fn read(&mut self, max_bytes: u64, sink: &mut dyn LineSink) -> io::Result<ReadReport> {
        let mut report = ReadReport::default();
        let mut budget = max_bytes;
        let current = match fs::metadata(&self.path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.position.is_some() => None,
            Err(e) => return Err(e),
        };
        if let Some(pos) = self.position.clone() {
            let same = current
                .as_ref()
                .is_some_and(|m| (m.dev(), m.ino()) == (pos.dev, pos.ino));
            let intact = same && self.still_intact(&pos, current.as_ref())?;
            if !intact {
                // Rotated or truncated: finish the old lines where they now are.
                let kind = if same {
                    GapKind::Truncated
                } else {
                    GapKind::RotatedPast
                };
                match self.find_old(&pos, same)? {
                    Some(old) => {
                        let mut file = File::open(&old)?;
                        let end =
                            read_lines(&mut file, pos.offset, budget, true, sink, &mut report)?;
                        if !report.caught_up {
                            // The budget ran out inside the old file: go on there next time.
                            self.position = Some(Position { offset: end, ..pos });
                            return Ok(report);
                        }
                        budget = budget.saturating_sub(report.bytes);
                    }
                    None => {
                        let gap = Gap {
                            kind,
                            bytes_lost: None,
                        };
                        sink.gap(gap.clone());
                        report.gaps.push(gap);
                    }
                }
                self.position = None;
            }
        }
        let Some(meta) = current else {
            report.caught_up = true;
            return Ok(report);
        };
        let mut file = File::open(&self.path)?;
        let mut pos = match self.position.clone() {
            Some(pos) => pos,
            None => fresh_position(&mut file, &meta)?,
        };
        pos.offset = read_lines(&mut file, pos.offset, budget, false, sink, &mut report)?;
        refresh_head(&mut file, &mut pos)?;
        self.position = Some(pos);
        Ok(report)
    }

    /// Same inode: is it at least as long as the offset, with the same first bytes?
    fn still_intact(&self, pos: &Position, meta: Option<&Metadata>) -> io::Result<bool> {
        let Some(meta) = meta else { return Ok(false) };
        if meta.len() < pos.offset {
            return Ok(false);
        }
        let mut file = File::open(&self.path)?;
        Ok(head_hash(&mut file, pos.head_len)? == pos.head_hash)
    }

    /// The file holding the lines after `pos`: beside the log, named after it, with the
    /// old inode (renamed) or, after a truncation, with the same first bytes (the copy).
    fn find_old(&self, pos: &Position, truncated: bool) -> io::Result<Option<PathBuf>> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Ok(None);
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let name = name.to_string_lossy();
        let mut siblings: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter(|e| {
                let other = e.file_name();
                let other = other.to_string_lossy();
                other.len() > name.len() && other.starts_with(&*name)
            })
            .map(|e| e.path())
            .collect();
        siblings.sort();
        for path in siblings {
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() || meta.len() < pos.offset {
                continue;
            }
            let renamed = (meta.dev(), meta.ino()) == (pos.dev, pos.ino);
            if !renamed && !truncated {
                continue;
            }
            let mut file = File::open(&path)?;
            if head_hash(&mut file, pos.head_len)? == pos.head_hash {
                return Ok(Some(path));
            }
        }
        Ok(None)
    }
}

/// A position at the start of `file`.
fn fresh_position(file: &mut File, meta: &Metadata) -> io::Result<Position> {
    let head_len = meta.len().min(HEAD);
    Ok(Position {
        dev: meta.dev(),
        ino: meta.ino(),
        offset: 0,
        head_len,
        head_hash: head_hash(file, head_len)?,
    })
}

/// A file that was shorter than [`HEAD`] when first seen is identified by more of its
/// start once it has grown (its start unchanged, or it would not have been read on).
fn refresh_head(file: &mut File, pos: &mut Position) -> io::Result<()> {
    if pos.head_len < HEAD {
        let len = file.metadata()?.len().min(HEAD);
        if len > pos.head_len {
            pos.head_len = len;
            pos.head_hash = head_hash(file, len)?;
        }
    }
    Ok(())
}

/// FNV-1a of the first `len` bytes of `file` (fewer if it is shorter).
fn head_hash(file: &mut File, len: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut head = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut head)?;
    Ok(head.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }))
}

/// Streams complete lines from `from` into `sink` until the end of the file or until
/// `budget` bytes were read; returns the offset after the last complete line. `finished`:
/// the file gets no more lines (a rotated copy), so a last line without a line break is
/// handed on too.
fn read_lines(
    file: &mut File,
    from: u64,
    budget: u64,
    finished: bool,
    sink: &mut dyn LineSink,
    report: &mut ReadReport,
) -> io::Result<u64> {
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::with_capacity(BUFFER, file);
    let mut line = Vec::new();
    let mut overlong = false;
    let (mut read, mut done) = (0u64, from);
    report.caught_up = false;
    while read < budget {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            report.caught_up = true;
            break;
        }
        let n = buf.len();
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &buf[start..]) {
            let end = start + i;
            let piece = &buf[start..end];
            if overlong || line.len() + piece.len() > MAX_LINE {
                report.overlong += 1;
            } else if line.is_empty() {
                sink.line(piece);
                report.lines += 1;
            } else {
                line.extend_from_slice(piece);
                sink.line(&line);
                report.lines += 1;
            }
            line.clear();
            overlong = false;
            start = end + 1;
            done = from + read + start as u64;
        }
        let rest = &buf[start..];
        if !overlong && line.len() + rest.len() > MAX_LINE {
            overlong = true;
            line.clear();
        } else if !overlong {
            line.extend_from_slice(rest);
        }
        reader.consume(n);
        read += n as u64;
    }
    report.bytes += read;
    if finished && report.caught_up && (!line.is_empty() || overlong) {
        if overlong {
            report.overlong += 1;
        } else {
            sink.line(&line);
            report.lines += 1;
        }
        done = from + read;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::evidence::tests::Collect;

    fn append(path: &Path, text: &str) {
        let mut f = File::options()
            .create(true)
            .append(true)
            .open(path)
            .expect("open for append");
        f.write_all(text.as_bytes()).expect("append");
    }

    fn read_all(log: &mut LogFile) -> Vec<String> {
        let mut sink = Collect::default();
        log.read(u64::MAX, &mut sink).expect("read");
        sink.0
    }

    /// A new folder whose `hub.log` holds `text`, and a reader that has read it.
    fn read_past(text: &str) -> (tempfile::TempDir, PathBuf, LogFile) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.log");
        append(&path, text);
        let mut log = LogFile::new(&path, None);
        read_all(&mut log);
        (dir, path, log)
    }

    #[test]
    fn a_partial_last_line_waits_for_its_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.log");
        append(&path, "one\ntwo\nthr");
        let mut log = LogFile::new(&path, None);
        assert_eq!(read_all(&mut log), ["one", "two"]);
        assert_eq!(log.position().map(|p| p.offset), Some(8));
        append(&path, "ee\n");
        assert_eq!(read_all(&mut log), ["three"]);
        assert!(read_all(&mut log).is_empty());
    }

    #[test]
    fn a_saved_position_resumes_where_the_last_run_stopped() {
        let (_dir, path, log) = read_past("one\n");
        let saved = serde_json::to_string(log.position().expect("a position")).expect("json");
        append(&path, "two\n");
        let position: Position = serde_json::from_str(&saved).expect("json");
        let mut log = LogFile::new(&path, Some(position));
        assert_eq!(read_all(&mut log), ["two"]);
    }

    #[test]
    fn a_read_stops_at_its_budget_and_goes_on_next_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.log");
        let line = "x".repeat(99) + "\n";
        append(&path, &line.repeat(3_000)); // 300,000 bytes
        let mut log = LogFile::new(&path, None);
        let mut sink = Collect::default();
        let first = log.read(BUFFER as u64, &mut sink).expect("read");
        assert!(!first.caught_up);
        assert_eq!(first.bytes, BUFFER as u64);
        assert_eq!(first.lines, (BUFFER / 100) as u64);
        let rest = log.read(u64::MAX, &mut sink).expect("read");
        assert!(rest.caught_up);
        assert_eq!(sink.0.len(), 3_000);
        assert!(sink.0.iter().all(|l| l.len() == 99));
    }

    #[test]
    fn a_rotated_file_is_finished_then_the_new_one_read() {
        let (dir, path, mut log) = read_past("one\n");
        append(&path, "two\nlast without a line break");
        fs::rename(&path, dir.path().join("hub.log.1")).expect("rename");
        append(&path, "three\n");
        assert_eq!(
            read_all(&mut log),
            ["two", "last without a line break", "three"]
        );
        append(&path, "four\n");
        assert_eq!(read_all(&mut log), ["four"]);
    }

    #[test]
    fn a_rotation_whose_old_file_is_gone_is_a_gap() {
        let (dir, path, mut log) = read_past("one\n");
        append(&path, "lost\n");
        fs::rename(&path, dir.path().join("elsewhere")).expect("rename");
        append(&path, "three\n");
        let mut sink = Collect::default();
        let report = log.read(u64::MAX, &mut sink).expect("read");
        assert_eq!(sink.0, ["<gap RotatedPast>", "three"]);
        assert_eq!(report.gaps.len(), 1);
    }

    #[test]
    fn a_copytruncate_is_followed_through_the_copy() {
        let (dir, path, mut log) = read_past("one\n");
        append(&path, "two\n");
        fs::copy(&path, dir.path().join("hub.log.1")).expect("copy");
        File::create(&path).expect("truncate");
        append(&path, "three\n");
        assert_eq!(read_all(&mut log), ["two", "three"]);
    }

    #[test]
    fn a_truncation_without_a_copy_is_a_gap() {
        let (_dir, path, mut log) = read_past("one line that is long enough\n");
        // Shorter than before.
        File::create(&path).expect("truncate");
        append(&path, "new\n");
        assert_eq!(read_all(&mut log), ["<gap Truncated>", "new"]);
        // Rewritten in place, longer than before: its first bytes tell.
        File::create(&path).expect("truncate");
        append(&path, "other start, and longer than the old one was\n");
        assert_eq!(
            read_all(&mut log),
            [
                "<gap Truncated>",
                "other start, and longer than the old one was"
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_skipped_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.log");
        append(
            &path,
            &format!("before\n{}\nafter\n", "y".repeat(MAX_LINE + 10)),
        );
        let mut log = LogFile::new(&path, None);
        let mut sink = Collect::default();
        let report = log.read(u64::MAX, &mut sink).expect("read");
        assert_eq!(sink.0, ["before", "after"]);
        assert_eq!(report.overlong, 1);
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = LogFile::new(dir.path().join("hub.log"), None);
        let err = log
            .read(u64::MAX, &mut Collect::default())
            .expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
