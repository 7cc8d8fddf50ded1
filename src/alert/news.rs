//! Messages that are news rather than state: drift a run found and fixed
//! (`remediated`), and provisional administrators kept, ending soon or ended
//! (`provisional`). Administrators whose roster entry expires soon (`expiring`) are the
//! other news; their messages are made in [`super::expiry`].
//!
//! News opens no firing alert. Each text is one paragraph a representative can act
//! on: who was changed which way, why, and what to change in the roster if that was
//! wrong. Texts are kept under Slack's limit for an incoming webhook's `text`.

use serde::Serialize;

use crate::alert::{Alert, AlertKind, AlertStatus};
use crate::name::printable;
use crate::plan::provisional::{Notice, Provisional};
use crate::plan::{Action, Standing};
use crate::report::{ChangeReport, HubReport};
use crate::word::count;

/// At most this many names in one sentence; the rest are counted.
const MAX_NAMES: usize = 10;

/// One change in a `remediated` message's `details`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fixed {
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub role: Standing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
    /// Why the change was made: `undeclared`, `group_member`, `not_admin`, `missing` or
    /// `expired`.
    pub reason: &'static str,
    /// The date an expired administrator's entry ran out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<String>,
}

fn fixed(change: &ChangeReport) -> Fixed {
    let reason = match (change.action, &change.expired) {
        (Action::Revoke, Some(_)) => "expired",
        // `undeclared`, or `group_member` for an admin only through a group.
        (Action::Revoke, None) => change.drift_kind().as_str(),
        (Action::Grant, _) => "not_admin",
        (Action::Create, _) => "missing",
    };
    Fixed {
        user: change.user.clone(),
        person: change.person.as_ref().map(|p| p.to_string()),
        role: change.role,
        added_by: change.added_by.as_ref().map(|p| p.to_string()),
        reason,
        expired: change.expired.clone(),
    }
}

/// `a`, `a and b`, `a, b and c`, `a, b, … and 3 more`.
fn names(list: &[String]) -> String {
    let shown: Vec<&str> = list.iter().take(MAX_NAMES).map(String::as_str).collect();
    let more = list.len().saturating_sub(MAX_NAMES);
    match (shown.as_slice(), more) {
        ([], _) => String::new(),
        ([one], 0) => (*one).to_string(),
        (all, 0) => format!(
            "{} and {}",
            all[..all.len() - 1].join(", "),
            all[all.len() - 1]
        ),
        (all, more) => format!("{} and {more} more", all.join(", ")),
    }
}

/// The `remediated` message of a run that fixed drift, if it fixed any.
pub fn remediated(report: &HubReport) -> Option<Alert> {
    let applied: Vec<&ChangeReport> = report.changes.iter().filter(|c| c.applied).collect();
    if applied.is_empty() {
        return None;
    }
    let (hub, community, policy) = (report.name.as_str(), &report.community, report.rules.policy);
    let who = |pick: &dyn Fn(&ChangeReport) -> bool| -> Vec<String> {
        applied
            .iter()
            .filter(|c| pick(c))
            .map(|c| c.who_with_paths())
            .collect()
    };
    let revoked = who(&|c| c.action == Action::Revoke && c.expired.is_none());
    let expired: Vec<&&ChangeReport> = applied
        .iter()
        .filter(|c| c.action == Action::Revoke && c.expired.is_some())
        .collect();
    let granted = who(&|c| c.action == Action::Grant);
    let created = who(&|c| c.action == Action::Create);

    let mut sentences = Vec::new();
    if !revoked.is_empty() {
        let (were, have, they, admins) = if revoked.len() == 1 {
            ("was", "has", revoked[0].as_str(), "an admin")
        } else {
            ("were", "have", "they", "admins")
        };
        sentences.push(format!(
            "On hub {hub}, {} {were} made admin outside the roster and {have} been revoked (policy {policy}). \
             If {they} should be {admins}, add them under {community}'s administrators with added_by set to who approved it.",
            names(&revoked)
        ));
    }
    for change in expired.iter().take(MAX_NAMES) {
        let by = change
            .added_by
            .as_ref()
            .map(|b| format!(", added by {b},"))
            .unwrap_or_default();
        sentences.push(format!(
            "On hub {hub}, the administrator entry of {}{by} expired on {} and admin has been revoked (policy {policy}). \
             If they should stay an admin, set a later expires in {community}'s administrators.",
            change.who(),
            change.expired.as_deref().unwrap_or_default()
        ));
    }
    if expired.len() > MAX_NAMES {
        sentences.push(format!(
            "{} more expired administrators were revoked.",
            expired.len() - MAX_NAMES
        ));
    }
    for (list, had, been) in [
        (&granted, "lost admin", "made admin again"),
        (&created, "no user on the hub", "created as admin"),
    ] {
        if list.is_empty() {
            continue;
        }
        let (has, they, an_admin) = if list.len() == 1 {
            ("has", list[0].as_str(), "an admin")
        } else {
            ("have", "they", "admins")
        };
        sentences.push(format!(
            "On hub {hub}, {} had {had} and {has} been {been} as the roster declares (policy {policy}). \
             If {they} should no longer be {an_admin}, remove them from {community}'s roster.",
            names(list),
        ));
    }
    let fixed: Vec<Fixed> = applied.iter().map(|c| fixed(c)).collect();
    let summary = format!("drift on hub {hub} fixed: {}", count(fixed.len(), "change"));
    let details = serde_json::json!({ "policy": policy, "changes": fixed });
    let words = (summary, sentences.join(" "), details);
    let (kind, status) = (AlertKind::Drift, AlertStatus::Remediated);
    Some(Alert::about(report, kind, status, words))
}

/// The `provisional` message of a run that kept an admin made in the hub by someone the
/// roster entitles, or saw one end, with the roster lines that make it permanent.
pub fn provisional(report: &HubReport) -> Option<Alert> {
    if report.provisional_notices.is_empty() {
        return None;
    }
    let (hub, community) = (report.name.as_str(), &report.community);
    let sentences: Vec<String> = report
        .provisional_notices
        .iter()
        .map(|notice| provisional_sentence(notice, hub, community, report))
        .collect();
    let provisional = count(sentences.len(), "provisional administrator");
    let summary = format!("{provisional} on hub {hub}");
    let details = serde_json::json!({ "provisional": report.provisional });
    let words = (summary, sentences.join(" "), details);
    let (kind, status) = (AlertKind::Provisional, AlertStatus::Provisional);
    Some(Alert::about(report, kind, status, words))
}

fn provisional_sentence(notice: &Notice, hub: &str, community: &str, report: &HubReport) -> String {
    let until = Provisional::until_text;
    match notice {
        Notice::Kept(p) => {
            let user = printable(&p.user);
            let by = printable(&p.granted_by);
            // Made on every hub of the community: the community's line, else the hub's.
            let place = if report.provisional_community_wide.contains(&p.user) {
                format!("{community}'s administrators")
            } else {
                format!("hub {hub}'s administrators in {community}")
            };
            format!(
                "{by} made {user} admin of hub {hub} in the hub{}; {user} is kept as a provisional administrator until {} (ui_grants). To make it permanent, add under {place}: `- {{name: {user}, added_by: {by}}}`.",
                p.via.map(|v| format!(" ({v})")).unwrap_or_default(),
                until(p)
            )
        }
        Notice::Ending(p) => format!(
            "{}, made admin of hub {hub} in the hub by {}, is a provisional administrator until {}: add them to {community}'s roster to keep them.",
            printable(&p.user),
            printable(&p.granted_by),
            until(p)
        ),
        Notice::Lapsed(p, why) => format!(
            "{} is no longer a provisional administrator of hub {hub}: {why}; the hub's policy applies to them now (policy {}).",
            printable(&p.user),
            report.rules.policy
        ),
        Notice::Ended(p) => format!(
            "{}'s time as a provisional administrator of hub {hub} (made admin by {}) ended {}; the hub's policy applies to them now (policy {}).",
            printable(&p.user),
            printable(&p.granted_by),
            until(p),
            report.rules.policy
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{MAX_TEXT_CHARS, cap_text};
    use crate::report::Status;
    use crate::roster::Policy;

    fn change(user: &str, action: Action, role: Standing, applied: bool) -> ChangeReport {
        ChangeReport::sample(action, user, role, applied)
    }

    fn enforce(changes: Vec<ChangeReport>) -> HubReport {
        let mut r = HubReport::sample(Status::Changed, changes);
        r.rules.policy = Policy::Enforce;
        r
    }

    #[test]
    fn a_revoked_grant_says_what_to_do() {
        let r = enforce(vec![change(
            "dave",
            Action::Revoke,
            Standing::Undeclared,
            true,
        )]);
        let a = remediated(&r).unwrap();
        assert_eq!(
            (a.status, a.kind),
            (AlertStatus::Remediated, AlertKind::Drift)
        );
        assert_eq!(
            a.text,
            "On hub climate-prod, dave was made admin outside the roster and has been revoked (policy enforce). \
             If dave should be an admin, add them under climate-lab's administrators with added_by set to who approved it."
        );
        assert_eq!(a.details["changes"][0]["reason"], "undeclared");
        assert_eq!(a.details["changes"][0]["user"], "dave");
        assert_eq!(a.details["policy"], "enforce");
    }

    #[test]
    fn grants_and_creates_have_their_sentence() {
        let r = enforce(vec![
            change("carol", Action::Grant, Standing::Administrator, true),
            change("erin", Action::Create, Standing::Representative, true),
            change("frank", Action::Create, Standing::Administrator, true),
            change("left", Action::Revoke, Standing::Undeclared, false),
        ]);
        let a = remediated(&r).unwrap();
        assert_eq!(
            a.text,
            "On hub climate-prod, carol had lost admin and has been made admin again as the roster declares (policy enforce). \
             If carol should no longer be an admin, remove them from climate-lab's roster. \
             On hub climate-prod, erin and frank had no user on the hub and have been created as admin as the roster declares (policy enforce). \
             If they should no longer be admins, remove them from climate-lab's roster."
        );
        assert_eq!(a.details["changes"].as_array().unwrap().len(), 3);
        assert_eq!(a.details["changes"][0]["added_by"], "rep-bob");
    }

    #[test]
    fn nothing_applied_is_no_news() {
        let r = enforce(vec![change(
            "m",
            Action::Revoke,
            Standing::Undeclared,
            false,
        )]);
        assert!(remediated(&r).is_none());
        assert!(remediated(&enforce(vec![])).is_none());
    }

    #[test]
    fn many_names_stay_under_slacks_limit() {
        let changes = (0..5000)
            .map(|i| {
                let mut c = change(
                    &format!("user-{i:05}"),
                    Action::Revoke,
                    Standing::Undeclared,
                    true,
                );
                if i % 2 == 0 {
                    c.expired = Some("2027-01-31".into());
                }
                c
            })
            .collect();
        let a = remediated(&enforce(changes)).unwrap();
        assert!(a.text.chars().count() < MAX_TEXT_CHARS, "{}", a.text.len());
        assert!(a.text.contains("and 2490 more"), "{}", a.text);
        let long = cap_text("é".repeat(10_000));
        assert!(long.chars().count() < MAX_TEXT_CHARS);
    }
}
