//! One line of JupyterHub's default log format, read without copying.
//!
//! The hub writes `[I 2026-12-01 12:38:43.845 JupyterHub users:395] message`: a level
//! letter, its local time to the millisecond (no zone), the logger, the module and line
//! of the call, then the message (`app.py`'s `_log_format_default`; the same in 4.1.6 and
//! 6.1.1). Request lines come from `log.py`: `{status} {method} {uri}{location}
//! ({user}@{ip}) {ms}ms`, where `{location}` is ` -> TARGET` for a 301 or 302. The uri
//! cannot hold a space (an HTTP request line could not carry it), so status, method and
//! uri are read from the left; the user can hold anything but a line break, so
//! `({user}@{ip}) {ms}ms` is read from the right, the user ending at the last `@` (an
//! address holds none). A line that does not have this shape is not guessed at.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::date::{civil_from_days, days_from_civil, days_in_month};

/// A log level, from the line's first letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    fn from_letter(letter: u8) -> Option<Level> {
        Some(match letter {
            b'D' => Level::Debug,
            b'I' => Level::Info,
            b'W' => Level::Warning,
            b'E' => Level::Error,
            b'C' => Level::Critical,
            _ => return None,
        })
    }
}

/// A time as the hub wrote it: its local wall-clock time, milliseconds since
/// 1970-01-01 00:00:00 of that same wall clock. Only a [`super::LogZone`] makes it an
/// instant; before that it orders lines and measures requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(pub i64);

impl LocalTime {
    /// Parses `YYYY-MM-DD HH:MM:SS.mmm` (exactly 23 bytes).
    pub fn parse(text: &[u8]) -> Option<LocalTime> {
        if text.len() != 23 {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            text[range].iter().try_fold(0i64, |acc, &b| {
                b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
            })
        };
        let seps = [
            (4, b'-'),
            (7, b'-'),
            (10, b' '),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
        ];
        if seps.iter().any(|&(i, c)| text[i] != c) {
            return None;
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second, milli) =
            (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
        Some(LocalTime(seconds * 1_000 + milli))
    }

    /// Year, month, day, hour, minute, second, millisecond of this wall-clock time.
    pub fn parts(self) -> (i64, i8, i8, i8, i8, i8, i16) {
        let days = self.0.div_euclid(86_400_000);
        let ms = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, mi, s, milli) = (
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1_000 % 60,
            ms % 1_000,
        );
        // Each part is in range by construction (month 1..=12, hour < 24, ...).
        (
            y,
            m as i8,
            d as i8,
            h as i8,
            mi as i8,
            s as i8,
            milli as i16,
        )
    }
}

/// One line of the hub's log, borrowed from the bytes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLine<'a> {
    pub level: Level,
    pub time: LocalTime,
    /// `JupyterHub` for the hub's own lines.
    pub logger: &'a str,
    /// The Python module that wrote it: `users`, `roles`, `groups`, `app`, `log`, ...
    pub module: &'a str,
    pub message: &'a str,
}

/// Why a line was not read as a log line (the counts say how much was skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// Not `[L YYYY-MM-DD HH:MM:SS.mmm logger module:N] message`: a traceback's
    /// continuation, another program's output, a custom format.
    NotLogFormat,
    /// The bytes are not UTF-8 (the hub writes UTF-8).
    NotUtf8,
}

/// Skips ANSI colour sequences (`ESC [ ... letter`), which the hub adds on a terminal.
fn skip_colour(mut bytes: &[u8]) -> &[u8] {
    while let [0x1b, b'[', rest @ ..] = bytes {
        match rest.iter().position(u8::is_ascii_alphabetic) {
            Some(end) => bytes = &rest[end + 1..],
            None => return bytes,
        }
    }
    bytes
}

/// Parses one line (without its line break; a trailing `\r` is ignored).
pub fn parse_line(bytes: &[u8]) -> Result<LogLine<'_>, LineError> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let bytes = skip_colour(bytes);
    let bad = LineError::NotLogFormat;
    if bytes.len() < 28 || bytes[0] != b'[' || bytes[2] != b' ' || bytes[26] != b' ' {
        return Err(bad);
    }
    let level = Level::from_letter(bytes[1]).ok_or(bad)?;
    let time = LocalTime::parse(&bytes[3..26]).ok_or(bad)?;
    let rest = &bytes[27..];
    let close = memchr::memchr(b']', rest).ok_or(bad)?;
    let header = std::str::from_utf8(&rest[..close]).map_err(|_| LineError::NotUtf8)?;
    let (logger, place) = header.split_once(' ').ok_or(bad)?;
    let (module, lineno) = place.rsplit_once(':').ok_or(bad)?;
    if logger.is_empty() || module.is_empty() || lineno.is_empty() || place.contains(' ') {
        return Err(bad);
    }
    if !lineno.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    let after = skip_colour(&rest[close + 1..]);
    let message = match after {
        [] => &[][..],
        [b' ', message @ ..] => message,
        _ => return Err(bad),
    };
    let message = std::str::from_utf8(message).map_err(|_| LineError::NotUtf8)?;
    Ok(LogLine {
        level,
        time,
        logger,
        module,
        message,
    })
}

/// A request line of `log.py`, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    pub status: u16,
    pub method: &'a str,
    /// The path as logged: percent-encoded, without the query.
    pub path: &'a str,
    /// The query as logged (secrets already `[secret]` by the hub), if there was one.
    pub query: Option<&'a str>,
    /// The name of whoever made the request (`""`: nobody logged in).
    pub user: &'a str,
    pub ip: &'a str,
    /// How long the request took, in microseconds (the line is written at its end).
    pub duration_us: u64,
}

impl Request<'_> {
    /// True when the query carries `_xsrf=`: the admin page's requests do, API
    /// clients' do not.
    pub fn has_xsrf(&self) -> bool {
        self.query.is_some_and(|q| {
            q.split('&')
                .any(|p| p.split_once('=').is_some_and(|(k, _)| k == "_xsrf"))
        })
    }

    /// The path's segments, each percent-decoded; `None` when one is not UTF-8 once
    /// decoded (no user or group name is).
    pub fn decoded_segments(&self) -> Option<Vec<Cow<'_, str>>> {
        self.path
            .split('/')
            .skip(1)
            .map(|s| percent_decode_str(s).decode_utf8().ok())
            .collect()
    }
}

/// Parses a `log.py` request message; `None` if it is not one.
pub fn parse_request(message: &str) -> Option<Request<'_>> {
    let (status, rest) = message.split_once(' ')?;
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (method, rest) = rest.split_once(' ')?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let (uri, rest) = rest.split_once(' ')?;
    if !uri.starts_with('/') {
        return None;
    }
    // `rest` is `[-> LOCATION ](user@ip) N.NNms`.
    let open = if rest.starts_with('(') {
        0
    } else {
        let location = rest.strip_prefix("-> ")?;
        3 + location.find(" (")? + 1
    };
    let inner_and_time = &rest[open + 1..];
    let (inner, time) = inner_and_time.rsplit_once(") ")?;
    let duration_us = parse_ms(time.strip_suffix("ms")?)?;
    let (user, ip) = inner.rsplit_once('@')?;
    if ip.is_empty() || ip.contains([' ', '(', ')']) {
        return None;
    }
    let (path, query) = match uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (uri, None),
    };
    Some(Request {
        status: status.parse().ok()?,
        method,
        path,
        query,
        user,
        ip,
        duration_us,
    })
}

/// `6.71` → 6710 µs. Digits, at most one point; no sign, no exponent.
fn parse_ms(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 12 || frac.len() > 3 {
        return None;
    }
    if !(whole.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let mut frac_us: u64 = 0;
    for (i, b) in frac.bytes().enumerate() {
        frac_us += u64::from(b - b'0') * [100, 10, 1][i];
    }
    Some(whole * 1_000 + frac_us)
}

/// Cuts a stream of byte chunks (a pod's log over HTTP, say) into lines, keeping a
/// partial last line for the next chunk. A line longer than `max_line` bytes is
/// dropped whole (and counted): no line the evidence needs is that long, and memory
/// stays bounded.
#[derive(Debug)]
pub struct Splitter {
    carry: Vec<u8>,
    max_line: usize,
    overlong: bool,
    /// Lines dropped for their length.
    pub dropped: u64,
}

impl Splitter {
    pub fn new(max_line: usize) -> Splitter {
        Splitter {
            carry: Vec::new(),
            max_line,
            overlong: false,
            dropped: 0,
        }
    }

    /// Calls `line` for each complete line in `chunk` (after what was carried).
    pub fn push(&mut self, mut chunk: &[u8], mut line: impl FnMut(&[u8])) {
        while let Some(end) = memchr::memchr(b'\n', chunk) {
            let (head, tail) = (&chunk[..end], &chunk[end + 1..]);
            if self.overlong {
                self.overlong = false;
            } else if self.carry.is_empty() {
                line(head);
            } else if self.carry.len() + head.len() <= self.max_line {
                self.carry.extend_from_slice(head);
                line(&self.carry);
            } else {
                self.dropped += 1;
            }
            self.carry.clear();
            chunk = tail;
        }
        if self.overlong {
            return;
        }
        if self.carry.len() + chunk.len() > self.max_line {
            self.carry.clear();
            self.overlong = true;
            self.dropped += 1;
        } else {
            self.carry.extend_from_slice(chunk);
        }
    }

    /// The partial line held for the next chunk, if any.
    pub fn pending(&self) -> &[u8] {
        &self.carry
    }
}
