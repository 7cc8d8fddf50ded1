//! Administrators whose `expires` date is near: the `expiring` messages the daemon
//! sends to their community's route, at most once a day per person, so that a
//! representative can extend the entry before admin is revoked.

use std::collections::{BTreeMap, HashMap};

use crate::alert::cap_text;
use crate::alert::{Alert, AlertKind, AlertStatus};
use crate::date::Date;
use crate::name::UserName;
use crate::roster::Roster;

/// Who has been told about which entry, on which day.
#[derive(Debug, Default)]
pub struct ExpiryNotices {
    /// (community, person) → the day they were last named.
    sent: HashMap<(String, UserName), Date>,
}

/// One administrator entry that runs out soon, on the hubs it covers.
#[derive(Debug)]
struct Expiring {
    expires: Date,
    added_by: Option<UserName>,
    hubs: Vec<String>,
}

impl ExpiryNotices {
    /// The `expiring` messages due on `today`: one per community and administrator
    /// whose entry ends within `window_days` days (today and that day included), unless already sent
    /// today. `selected` names the hubs this daemon reconciles (all when empty).
    pub fn due(
        &mut self,
        roster: &Roster,
        selected: &[String],
        today: Date,
        window_days: i64,
    ) -> Vec<Alert> {
        let soon = expiring(roster, selected, today, window_days);
        self.sent
            .retain(|_, day| today.days_until(*day) > -window_days);
        let mut alerts = Vec::new();
        for ((community, who), entry) in soon {
            let key = (community.clone(), who.clone());
            if self.sent.get(&key) == Some(&today) {
                continue;
            }
            self.sent.insert(key, today);
            alerts.push(message(&community, &who, &entry, today));
        }
        alerts
    }
}

/// `(community, "dave on climate-prod, climate-staging (2027-01-31)")` for every entry
/// that runs out within `window_days` days: what the daily digest lists.
pub fn soon(
    roster: &Roster,
    selected: &[String],
    today: Date,
    window_days: i64,
) -> Vec<(String, String)> {
    expiring(roster, selected, today, window_days)
        .into_iter()
        .map(|((community, who), e)| {
            (
                community,
                format!("{who} on {} ({})", e.hubs.join(", "), e.expires),
            )
        })
        .collect()
}

/// The entries that run out within `window_days` days (today included), by community
/// and person, with the hubs they cover.
fn expiring(
    roster: &Roster,
    selected: &[String],
    today: Date,
    window_days: i64,
) -> BTreeMap<(String, UserName), Expiring> {
    let mut soon: BTreeMap<(String, UserName), Expiring> = BTreeMap::new();
    for hub in roster.selected(selected) {
        for (username, d) in &hub.admins {
            let Some(expires) = d.expires else { continue };
            let left = today.days_until(expires);
            if !(0..=window_days).contains(&left) {
                continue;
            }
            let who = d.person.clone().unwrap_or_else(|| username.clone());
            let entry = soon
                .entry((hub.community.clone(), who))
                .or_insert_with(|| Expiring {
                    expires,
                    added_by: d.added_by.clone(),
                    hubs: Vec::new(),
                });
            entry.expires = entry.expires.min(expires);
            entry.hubs.push(hub.name.to_string());
        }
    }
    soon
}

fn message(community: &str, who: &UserName, e: &Expiring, today: Date) -> Alert {
    let left = today.days_until(e.expires);
    let when = match left {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        n => format!("in {n} days"),
    };
    let by = e
        .added_by
        .as_ref()
        .map(|b| format!(" (added by {b})"))
        .unwrap_or_default();
    let hubs = e.hubs.join(", ");
    let plural = if e.hubs.len() == 1 { "" } else { "s" };
    let text = cap_text(format!(
        "On {community}'s hub{plural} {hubs}, the administrator entry of {who}{by} expires on {} ({when}). \
         If {who} should stay an admin, move expires later in the roster; otherwise nothing needs doing: \
         admin is revoked after that day.",
        e.expires
    ));
    Alert {
        status: AlertStatus::Expiring,
        hub: (e.hubs.len() == 1).then(|| e.hubs[0].clone()),
        community: Some(community.to_string()),
        kind: AlertKind::Expiry,
        summary: format!(
            "{who}'s administrator entry in {community} expires on {}",
            e.expires
        ),
        text,
        details: serde_json::json!({
            "person": who,
            "expires": e.expires.to_string(),
            "days_left": left,
            "added_by": e.added_by,
            "hubs": e.hubs,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn roster(expires: &str) -> Roster {
        let text = format!(
            "communities:
  - name: climate-lab
    representatives: [{{name: rep-bob}}]
    administrators:
      - {{name: dave, added_by: rep-bob, expires: '{expires}'}}
    hubs:
      - {{name: climate-prod, api_url: 'http://a.invalid/hub/api', token_env: T}}
      - {{name: climate-staging, api_url: 'http://b.invalid/hub/api', token_env: T}}
"
        );
        Roster::parse_bytes(Path::new("r.yaml"), text.as_bytes(), &|_| {
            Some("token-1234567".into())
        })
        .unwrap()
    }

    fn day(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn an_entry_that_runs_out_within_the_window_is_announced_once_a_day() {
        let r = roster("2027-01-31");
        let mut notices = ExpiryNotices::default();
        assert!(
            notices.due(&r, &[], day("2027-01-23"), 7).is_empty(),
            "8 days before: not yet"
        );
        let due = notices.due(&r, &[], day("2027-01-24"), 7);
        assert_eq!(due.len(), 1, "one message for both hubs");
        let a = &due[0];
        assert_eq!(
            (a.status, a.kind),
            (AlertStatus::Expiring, AlertKind::Expiry)
        );
        assert_eq!(a.community.as_deref(), Some("climate-lab"));
        assert_eq!(
            a.text,
            "On climate-lab's hubs climate-prod, climate-staging, the administrator entry of dave (added by rep-bob) expires on 2027-01-31 (in 7 days). If dave should stay an admin, move expires later in the roster; otherwise nothing needs doing: admin is revoked after that day."
        );
        assert!(
            notices.due(&r, &[], day("2027-01-24"), 7).is_empty(),
            "once a day"
        );
        assert_eq!(
            notices.due(&r, &[], day("2027-01-31"), 7).len(),
            1,
            "and again on the last day"
        );
        assert!(
            notices.due(&r, &[], day("2027-02-01"), 7).is_empty(),
            "expired: revoked, not announced"
        );
    }

    #[test]
    fn past_entries_are_no_longer_declared() {
        let r = roster("2027-01-31");
        let hub = &r.hubs[0];
        let dave = UserName::new("dave");
        assert!(
            r.desired_on(hub, day("2027-01-31")).contains_key(&dave),
            "to the end of the day"
        );
        assert!(!r.desired_on(hub, day("2027-02-01")).contains_key(&dave));
        assert!(r.expired_on(hub, day("2027-02-01")).contains_key(&dave));
    }
}
