//! The daily digest (`--digest-at HH:MM`): once a day, each route hears one message
//! listing its hubs' state after their last run (in sync, drift left, errors) and the
//! administrator entries that expire soon. Nothing is sent when everything is in sync
//! and nothing expires, unless `--digest-always`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use crate::alert::cap_text;
use crate::alert::{Alert, AlertKind, AlertStatus};
use crate::date::Date;
use crate::report::{HubReport, Status};
use crate::word::count;

/// A time of day, UTC (`09:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay {
    minutes: u32,
}

/// Why a text is not a time of day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time of day written HH:MM (UTC)")]
pub struct TimeOfDayError(String);

impl std::str::FromStr for TimeOfDay {
    type Err = TimeOfDayError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || TimeOfDayError(text.to_string());
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(TimeOfDay {
            minutes: h * 60 + m,
        })
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

/// Minutes since midnight UTC of `now`.
fn minutes_of_day(now: SystemTime) -> u32 {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    ((secs % 86_400) / 60) as u32
}

/// A hub's state after its last run, as the digest lists it.
#[derive(Debug, Clone)]
pub struct HubState {
    pub community: String,
    pub line: String,
    pub quiet: bool,
}

impl HubState {
    pub fn of(report: &HubReport) -> HubState {
        let line = match report.status {
            Status::InSync | Status::Changed => format!("{}: in sync", report.name),
            Status::Drift => format!(
                "{}: drift left ({}) [policy {}]",
                report.name,
                count(report.drift(), "difference"),
                report.rules.policy
            ),
            Status::Error => format!(
                "{}: error ({})",
                report.name,
                report.error.as_deref().unwrap_or("unknown")
            ),
        };
        HubState {
            community: report.community.clone(),
            quiet: matches!(report.status, Status::InSync | Status::Changed),
            line,
        }
    }
}

/// When the digest is due, and the last hub states it reports.
#[derive(Debug)]
pub struct Digest {
    at: TimeOfDay,
    always: bool,
    last_sent: Option<Date>,
    hubs: BTreeMap<String, HubState>,
}

impl Digest {
    pub fn new(at: TimeOfDay, always: bool) -> Digest {
        Digest {
            at,
            always,
            last_sent: None,
            hubs: BTreeMap::new(),
        }
    }

    /// Keeps the state of a hub's last run.
    pub fn observe(&mut self, report: &HubReport) {
        self.hubs
            .insert(report.name.to_string(), HubState::of(report));
    }

    /// Forgets a hub that left the roster.
    pub fn forget(&mut self, hub: &str) {
        self.hubs.remove(hub);
    }

    /// The messages due at `now` (one for the global route, one per community), or
    /// none when the digest was sent today or its time has not come. `expiring` lists
    /// `(community, sentence)` for entries that run out soon.
    pub fn due(&mut self, now: SystemTime, expiring: &[(String, String)]) -> Vec<Alert> {
        let today = Date::of(now);
        if self.last_sent == Some(today) || minutes_of_day(now) < self.at.minutes {
            return Vec::new();
        }
        self.last_sent = Some(today);
        let mut communities: BTreeMap<&str, Vec<&HubState>> = BTreeMap::new();
        for state in self.hubs.values() {
            communities.entry(&state.community).or_default().push(state);
        }
        let mut alerts = Vec::new();
        let all: Vec<&HubState> = self.hubs.values().collect();
        let every_expiring: Vec<&str> = expiring.iter().map(|(_, s)| s.as_str()).collect();
        if let Some(global) = self.message(None, today, &all, &every_expiring) {
            alerts.push(global);
        }
        for (community, hubs) in communities {
            let soon: Vec<&str> = expiring
                .iter()
                .filter(|(c, _)| c == community)
                .map(|(_, s)| s.as_str())
                .collect();
            if let Some(message) = self.message(Some(community), today, &hubs, &soon) {
                alerts.push(message);
            }
        }
        alerts
    }

    fn message(
        &self,
        community: Option<&str>,
        today: Date,
        hubs: &[&HubState],
        expiring: &[&str],
    ) -> Option<Alert> {
        let loud: Vec<&str> = hubs
            .iter()
            .filter(|h| !h.quiet)
            .map(|h| h.line.as_str())
            .collect();
        if loud.is_empty() && expiring.is_empty() && !self.always {
            return None;
        }
        let scope = community.map_or("every hub".to_string(), |c| format!("{c}'s hubs"));
        let in_sync = hubs.len() - loud.len();
        let mut text = format!(
            "Admin-sync digest for {today}, {scope}: {}, {in_sync} in sync.",
            count(hubs.len(), "hub")
        );
        for line in &loud {
            text.push_str(&format!(" {line}."));
        }
        if !expiring.is_empty() {
            text.push_str(&format!(" Expiring soon: {}.", expiring.join("; ")));
        }
        // Routing goes by community: the global message carries none.
        let route_community = community.map(str::to_string);
        Some(Alert {
            status: AlertStatus::Digest,
            hub: None,
            community: route_community,
            kind: AlertKind::Digest,
            summary: format!(
                "admin-sync digest for {today}: {} of {} hubs need a look",
                loud.len(),
                hubs.len()
            ),
            text: cap_text(text),
            details: serde_json::json!({
                "date": today.to_string(),
                "hubs": hubs.len(),
                "in_sync": in_sync,
                "attention": loud,
                "expiring": expiring,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::HubName;
    use std::time::Duration;

    fn at(text: &str) -> SystemTime {
        // 2027-01-20 at HH:MM UTC.
        let day = Date::parse("2027-01-20").unwrap();
        let (h, m) = text.split_once(':').unwrap();
        let secs = Date::parse("1970-01-01").unwrap().days_until(day) as u64 * 86_400
            + h.parse::<u64>().unwrap() * 3600
            + m.parse::<u64>().unwrap() * 60;
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn report(name: &str, community: &str, status: Status) -> HubReport {
        let mut r = HubReport::sample(status, Vec::new());
        r.name = HubName::new(name);
        r.community = community.into();
        if status == Status::Error {
            r.error = Some("GET /users: HTTP 503".into());
        }
        r
    }

    #[test]
    fn times_of_day_parse() {
        assert_eq!("09:00".parse::<TimeOfDay>().unwrap().to_string(), "09:00");
        for bad in ["9:00", "24:00", "09:60", "0900", "nine"] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
    }

    #[test]
    fn one_message_a_day_per_route_after_its_time_and_none_when_all_is_well() {
        let mut d = Digest::new("09:00".parse().unwrap(), false);
        d.observe(&report("climate-prod", "climate-lab", Status::InSync));
        d.observe(&report("ocean-prod", "ocean", Status::Error));
        assert!(d.due(at("08:59"), &[]).is_empty(), "not before its time");
        let sent = d.due(at("09:00"), &[]);
        let routes: Vec<Option<&str>> = sent.iter().map(|a| a.community.as_deref()).collect();
        assert_eq!(
            routes,
            [None, Some("ocean")],
            "climate-lab is all in sync: nothing"
        );
        assert_eq!(
            sent[1].text,
            "Admin-sync digest for 2027-01-20, ocean's hubs: 1 hub, 0 in sync. ocean-prod: error (GET /users: HTTP 503)."
        );
        assert!(d.due(at("17:00"), &[]).is_empty(), "once a day");

        let mut quiet = Digest::new("09:00".parse().unwrap(), false);
        quiet.observe(&report("climate-prod", "climate-lab", Status::InSync));
        assert!(quiet.due(at("10:00"), &[]).is_empty());
        let soon = [(
            "climate-lab".to_string(),
            "dave on climate-prod (2027-01-25)".to_string(),
        )];
        let mut expiring = Digest::new("09:00".parse().unwrap(), false);
        expiring.observe(&report("climate-prod", "climate-lab", Status::InSync));
        assert_eq!(
            expiring.due(at("10:00"), &soon).len(),
            2,
            "expiring entries are news"
        );
        let mut always = Digest::new("09:00".parse().unwrap(), true);
        always.observe(&report("climate-prod", "climate-lab", Status::InSync));
        assert_eq!(always.due(at("10:00"), &[]).len(), 2, "--digest-always");
    }
}
