//! Markdown for a pull-request comment: a roster diff ([`crate::review::diff`]) or a run's
//! report (`--dry-run --output markdown`), a table per hub that a reviewer reads in
//! seconds.
//!
//! Every name and message that comes from a roster or a hub goes through [`code`]:
//! a code span in which nothing is markup, so a crafted name cannot break a table
//! (`|`), close the span (backticks), start a new line, mention anyone (`@team`),
//! link anywhere (`[x](…)`) or inject HTML (`<script>`). Problems of an invalid
//! roster go in a fenced block ([`fenced`]) that no line of theirs can close.

use std::fmt::Write as _;

use crate::name::printable;
use crate::plan::Action;
use crate::report::{ChangeReport, HubReport, Mode, RunReport, Status};
use crate::review::diff::{
    Entry, HubDiff, HubStatus, Loss, PersonChange, RosterDiff, SettingChange, Why,
};
use crate::word::count;

/// The first line of every comment this tool writes: a workflow finds its own comment
/// by it, to update it instead of adding another.
pub(crate) const MARKER: &str = "<!-- jupyterhub-admin-sync -->";

/// `text` as an inline code span that is safe in a GitHub table cell.
///
/// Control characters are escaped (no new line can start); `|` becomes `\|`, which the
/// table's cell splitter reads as a literal pipe even inside a code span (and a pipe
/// after a backslash is always taken as escaped); the span's fence is one backtick
/// longer than the longest run of backticks inside, padded with a space when the text
/// starts or ends with one. Inside a code span GitHub makes no mention, link, emphasis
/// or HTML.
pub(crate) fn code(text: &str) -> String {
    let text = printable(text).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.trim().is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `text` as a fenced code block that none of its lines can close.
pub(crate) fn fenced(text: &str) -> String {
    let mut longest = 0;
    for line in text.lines() {
        let t = line.trim_start();
        longest = longest.max(t.chars().take_while(|&c| c == '`').count());
        longest = longest.max(t.chars().take_while(|&c| c == '~').count());
    }
    let fence = "`".repeat(longest.max(2) + 1);
    let body: String = text
        .lines()
        .map(|l| format!("{}\n", printable(l)))
        .collect();
    format!("{fence}text\n{body}{fence}\n")
}

fn why(w: &Why) -> String {
    let mut out = w.role.to_string();
    if let Some(hub) = &w.hub {
        let _ = write!(out, " of hub {}", code(hub.as_str()));
    } else if let Some(community) = &w.community {
        let _ = write!(out, " of {}", code(community));
    }
    if let Some(by) = &w.added_by {
        let _ = write!(out, ", added by {}", code(by.as_str()));
    }
    out
}

fn who(user: &str, person: Option<&str>) -> String {
    match person {
        Some(person) => format!("{} ({})", code(user), code(person)),
        None => code(user),
    }
}

fn person_row(change: &PersonChange) -> String {
    let name = who(
        change.user.as_str(),
        change.person.as_ref().map(|p| p.as_str()),
    );
    let (what, reason) = match &change.entry {
        Entry::Gains { now } => ("➕ gains admin", why(now)),
        Entry::Loses { was, loss } => {
            let because = match loss {
                Loss::Undeclared => "no longer declared".to_string(),
                Loss::Expired(day) => format!("the entry expired on {day}"),
                Loss::EngineersOff => "the hub now sets `engineers: false`".to_string(),
            };
            ("➖ loses admin", format!("was {}; {because}", why(was)))
        }
        Entry::Stays { was, now } => (
            "🔁 stays admin",
            format!("was {}; now {}", why(was), why(now)),
        ),
    };
    format!("| {what} | {name} | {reason} |\n")
}

fn hub_heading(name: &str, community: &str, was: Option<&str>) -> String {
    let mut out = format!("**Hub {}** (community {}", code(name), code(community));
    if let Some(was) = was {
        let _ = write!(out, ", moved from {}", code(was));
    }
    out.push(')');
    out
}

fn hub_diff(out: &mut String, hub: &HubDiff) {
    let heading = hub_heading(
        hub.name.as_str(),
        &hub.community,
        hub.was_community.as_deref(),
    );
    match hub.status {
        HubStatus::Removed => {
            let _ = writeln!(
                out,
                "{heading}: **removed** from the roster, no longer kept in sync; its {} stay as they are on the hub.\n",
                count(hub.declared_before, "declared admin")
            );
            return;
        }
        HubStatus::Added => {
            let _ = writeln!(out, "{heading}: **added**\n");
        }
        HubStatus::Changed => {
            let _ = writeln!(out, "{heading}\n");
            settings(out, &hub.settings);
            if hub.changes.is_empty() {
                return;
            }
        }
    }
    if hub.changes.is_empty() {
        out.push_str("No admins declared.\n\n");
        return;
    }
    out.push_str("| | user | why |\n|---|---|---|\n");
    for change in &hub.changes {
        out.push_str(&person_row(change));
    }
    out.push('\n');
}

/// The settings of a hub that change, as a table, with what a new policy means.
fn settings(out: &mut String, settings: &[SettingChange]) {
    if settings.is_empty() {
        return;
    }
    out.push_str("| setting | was | now |\n|---|---|---|\n");
    for s in settings {
        let _ = writeln!(out, "| {} | {} | {} |", s.key, code(&s.was), code(&s.now));
    }
    out.push('\n');
    if settings
        .iter()
        .any(|s| s.key == "policy" && s.now == "enforce")
    {
        out.push_str("**Policy becomes `enforce`**: admins the roster does not declare will be revoked on this hub (within the brake).\n\n");
    }
}

/// A roster diff as a pull-request comment.
pub(crate) fn diff(d: &RosterDiff) -> String {
    let mut out = format!("{MARKER}\n### Admin changes in this roster change\n\n");
    if d.is_empty() {
        let _ = writeln!(out, "No one gains or loses admin: {}.", d.summary());
        return out;
    }
    let (gain, lose, stay) = d.counts();
    let settings = match d.settings_changed() {
        0 => String::new(),
        1 => ", **1** hub setting changes".to_string(),
        n => format!(", **{n}** hub settings change"),
    };
    let _ = writeln!(
        out,
        "**{gain}** gain admin, **{lose}** lose admin, **{stay}** stay admin for another reason{settings}, on {} (judged on {}).\n",
        count(d.hubs.len(), "hub"),
        d.on
    );
    for hub in &d.hubs {
        hub_diff(&mut out, hub);
    }
    out
}

/// The problems of each invalid roster (`side` is `base` or `new`, with the error).
pub(crate) fn invalid(sides: &[(&str, String)]) -> String {
    let mut out = format!("{MARKER}\n");
    for (side, message) in sides {
        let _ = write!(
            out,
            "### The {side} roster is invalid\n\n{}\n",
            fenced(message)
        );
    }
    out
}

fn change_row(c: &ChangeReport) -> String {
    let what = match (c.applied, &c.error, c.action) {
        (true, _, Action::Create) => "created admin",
        (true, _, Action::Grant) => "granted admin",
        (true, _, Action::Revoke) => "revoked admin",
        (false, Some(_), _) => "**failed**",
        (false, None, Action::Create) => "➕ would create admin",
        (false, None, Action::Grant) => "➕ would grant admin",
        (false, None, Action::Revoke) => "➖ would revoke admin",
    };
    let name = who(&c.user, c.person.as_ref().map(|p| p.as_str()));
    let mut reason = match (&c.added_by, &c.expired) {
        (Some(by), Some(day)) if c.action == Action::Revoke => format!(
            "administrator entry expired on {}, added by {}",
            code(day),
            code(by.as_str())
        ),
        _ if c.action == Action::Revoke => {
            format!(
                "undeclared admin {} (stays a user)",
                code(&c.paths.to_string())
            )
        }
        (Some(by), _) => format!("{}, added by {}", c.role, code(by.as_str())),
        (None, _) => c.role.to_string(),
    };
    if let Some(made) = &c.made_by {
        let _ = write!(reason, "; {}", code(&c.made_phrase(made)));
    }
    if let Some(error) = &c.error {
        let _ = write!(reason, "; {}", code(error));
    } else if let Some(skipped) = c.skipped.filter(|s| *s != crate::outcome::Skipped::DryRun) {
        let _ = write!(reason, " ({skipped})");
    }
    format!("| {what} | {name} | {reason} |\n")
}

fn hub_report(out: &mut String, hub: &HubReport) {
    let _ = writeln!(
        out,
        "{}: {}, policy {}\n",
        hub_heading(hub.name.as_str(), &hub.community, None),
        match hub.status {
            Status::Error => "**error**".to_string(),
            s => s.to_string(),
        },
        hub.rules.policy
    );
    if !hub.changes.is_empty() || !hub.nameless.is_empty() {
        out.push_str("| | user | why |\n|---|---|---|\n");
        for change in &hub.changes {
            out.push_str(&change_row(change));
        }
        for nameless in &hub.nameless {
            let _ = writeln!(
                out,
                "| ⚠️ nameless admin | (no name) | {} |",
                code(&nameless.reason)
            );
        }
        out.push('\n');
    }
    for warning in &hub.warnings {
        let _ = writeln!(out, "- warning: {}", code(warning));
    }
    if let Some(error) = &hub.error {
        let _ = writeln!(out, "- error: {}", code(error));
    }
    if !hub.warnings.is_empty() || hub.error.is_some() {
        out.push('\n');
    }
}

/// A run's report (`--dry-run` or `--once`) in the shape of [`diff`]. Hubs in sync
/// are named on one line.
pub(crate) fn report(r: &RunReport) -> String {
    let mut out = format!(
        "{MARKER}\n### {}\n\n",
        match r.mode {
            Mode::DryRun => "Admin changes a sync would make (dry run, nothing changed)",
            Mode::Once | Mode::Daemon => "Admin changes made",
        }
    );
    let with = |s| r.hubs.iter().filter(|h| h.status == s).count();
    let _ = writeln!(
        out,
        "{}: {} in sync, {} changed, {} drift, {} error.\n",
        count(r.hubs.len(), "hub"),
        with(Status::InSync),
        with(Status::Changed),
        with(Status::Drift),
        with(Status::Error)
    );
    // A hub in sync with a warning (admin through groups not checked, say) is shown
    // whole: never a silent "in sync".
    let quiet = |h: &&HubReport| h.status == Status::InSync && h.warnings.is_empty();
    for hub in r.hubs.iter().filter(|h| !quiet(h)) {
        hub_report(&mut out, hub);
    }
    let in_sync: Vec<String> = r
        .hubs
        .iter()
        .filter(quiet)
        .map(|h| code(h.name.as_str()))
        .collect();
    if !in_sync.is_empty() {
        let _ = writeln!(out, "In sync: {}.", in_sync.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text outside code spans of one line, and whether its spans are closed.
    fn outside_code(line: &str) -> (String, bool) {
        let chars: Vec<char> = line.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '`' {
                let n = chars[i..].iter().take_while(|&&c| c == '`').count();
                // find the closing run of exactly n backticks
                let mut j = i + n;
                let mut closed = None;
                while j < chars.len() {
                    if chars[j] == '`' {
                        let m = chars[j..].iter().take_while(|&&c| c == '`').count();
                        if m == n {
                            closed = Some(j + m);
                            break;
                        }
                        j += m;
                    } else {
                        j += 1;
                    }
                }
                match closed {
                    Some(end) => i = end,
                    None => return (out, false),
                }
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        (out, true)
    }

    /// Unescaped pipes: the cell delimiters GitHub's table splitter sees.
    fn delimiters(line: &str) -> usize {
        let b = line.as_bytes();
        (0..b.len())
            .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
            .count()
    }

    const CRAFTED: [&str; 10] = [
        "a|b",
        "x`y",
        "``z",
        "w`",
        "@octocat",
        "<script>alert(1)</script>",
        "[click](https://evil.example)",
        "line\nbreak",
        "back\\|slash\\",
        "**bold** _em_ <img src=x onerror=alert(1)>",
    ];

    #[test]
    fn crafted_names_stay_inside_one_cell_and_one_code_span() {
        for name in CRAFTED {
            let row = format!("| x | {} | y |", code(name));
            assert_eq!(row.lines().count(), 1, "{row}");
            assert_eq!(delimiters(&row), 4, "{name:?} → {row}");
            let (outside, closed) = outside_code(&row);
            assert!(closed, "{name:?} → {row}");
            assert_eq!(outside, "| x |  | y |", "{name:?} → {row}");
        }
    }

    #[test]
    fn a_code_span_shows_the_name_as_written() {
        assert_eq!(code("carol"), "`carol`");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("w`"), "`` w` ``");
        assert_eq!(code("line\nbreak"), "`line\\nbreak`");
    }

    #[test]
    fn a_fenced_block_cannot_be_closed_from_inside() {
        let text = "ok\n```\n````` and ~~~~\n@here <b>";
        let block = fenced(text);
        let fence = block.lines().next().unwrap().trim_end_matches("text");
        assert_eq!(fence.len(), 6);
        let inner: Vec<&str> = block.lines().skip(1).collect();
        let closing = inner
            .iter()
            .position(|l| l.trim_start().starts_with(fence))
            .unwrap();
        assert_eq!(closing, inner.len() - 1, "{block}");
    }
}
