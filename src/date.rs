//! Calendar dates (UTC) for `expires`, and the clock that says what day it is.
//!
//! A date is a count of days since 1970-01-01; converting to and from year, month and
//! day uses the proleptic Gregorian calendar (Howard Hinnant's algorithms), which the
//! hub's log times ([`crate::evidence`]) count by too. The clock is a trait so that
//! tests choose the day.

use std::fmt;
#[cfg(test)]
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A day, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i64);

/// Why a text is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date written YYYY-MM-DD")]
pub struct DateError(String);

impl Date {
    /// Parses `YYYY-MM-DD` (a real day of a year from 1970 to 9999).
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let bad = || DateError(text.to_string());
        let t = text.trim();
        let parts: Vec<&str> = t.split('-').collect();
        if parts.len() != 3
            || parts[0].len() != 4
            || parts[1].len() != 2
            || parts[2].len() != 2
            || !t.chars().all(|c| c.is_ascii_digit() || c == '-')
        {
            return Err(bad());
        }
        let (y, m, d): (i64, i64, i64) = (
            parts[0].parse().map_err(|_| bad())?,
            parts[1].parse().map_err(|_| bad())?,
            parts[2].parse().map_err(|_| bad())?,
        );
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m)
        {
            return Err(bad());
        }
        Ok(Date(days_from_civil(y, m, d)))
    }

    /// The day `now` falls on, UTC.
    pub fn of(now: SystemTime) -> Date {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Date(secs.div_euclid(86_400))
    }

    /// `n` days later (earlier for a negative `n`).
    pub fn plus_days(self, n: i64) -> Date {
        Date(self.0 + n)
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        later.0 - self.0
    }
}

/// As `YYYY-MM-DD`.
impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// How many days month `m` (1 to 12) of year `y` has.
pub(crate) fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of year `y`, month `m` (1 to 12), day `d` (Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year, month (1 to 12) and day of day `z` since 1970-01-01: the inverse of
/// [`days_from_civil`].
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// What time and day it is.
pub trait Clock: fmt::Debug + Send + Sync {
    fn now(&self) -> SystemTime;

    /// The day it is, UTC.
    fn today(&self) -> Date {
        Date::of(self.now())
    }
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock set by hand (tests): seconds since the epoch.
#[cfg(test)]
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

#[cfg(test)]
impl FixedClock {
    /// Midnight (UTC) at the start of `today`.
    pub fn new(today: Date) -> FixedClock {
        FixedClock(AtomicI64::new(today.0 * 86_400))
    }

    /// Midnight (UTC) at the start of `today`.
    pub fn set(&self, today: Date) {
        self.0.store(today.0 * 86_400, Ordering::SeqCst);
    }
}

#[cfg(test)]
impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_secs(self.0.load(Ordering::SeqCst).max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_print_and_count() {
        let d = Date::parse("2027-01-31").unwrap();
        assert_eq!(d.to_string(), "2027-01-31");
        assert_eq!(d.plus_days(1).to_string(), "2027-02-01");
        assert_eq!(
            Date::parse("2024-02-29").unwrap().plus_days(1).to_string(),
            "2024-03-01"
        );
        assert_eq!(Date::parse("1970-01-01").unwrap(), Date(0));
        assert_eq!(
            Date::parse("2026-11-23")
                .unwrap()
                .days_until(Date::parse("2026-11-30").unwrap()),
            7
        );
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "27-01-31",
            "2027/01/31",
            "2027-1-31",
            "next tuesday",
            "2027-01-31T00:00",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        let noon = UNIX_EPOCH + std::time::Duration::from_secs(86_400 * 20_000 + 43_200);
        assert_eq!(Date::of(noon), Date(20_000));
    }
}
