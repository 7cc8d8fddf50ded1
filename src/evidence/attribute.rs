//! Pairing the lines of one request into an [`AdminEvent`].
//!
//! The hub logs a change while it handles the request (the `setting admin=` message, the
//! `Adding role admin for User:` line) and writes the request line last, at the
//! request's end, with its duration: each request covers `[end - duration, end]`, and
//! the lines it explains lie inside. So lines wait, pending, for the request lines that
//! follow, and are settled once the log has moved `hold` past them (or on
//! [`Attributor::flush`], when the log as read must decide):
//!
//! - a `{actor} setting admin={v} for {user}` message counts only when a `PATCH` request
//!   line for `/hub/api/users/{user}` by that actor covers it and the message is exactly
//!   the text the hub writes for them (6.1.1's admin page writes
//!   `{actor} setting name=None for {user}` and then `... for None`: both must be
//!   there);
//! - a role line is the change of the one request that covers it and could have made
//!   it (a bulk `POST /users`, `POST` or `PATCH /users/{its user}`, a login or another
//!   request of that user); none: the hub's configuration if the hub is starting,
//!   else unknown; two or more: unknown, with their actors;
//! - `Adding N users to group G` is the change of the one `POST /groups/G/users` that
//!   covers it (`Removing`: `DELETE`); the log does not name the members.
//!
//! Times are compared as the hub wrote them (its wall clock); only events are converted
//! to UTC.

use std::collections::VecDeque;

use super::line::{self, LocalTime, LogLine, Request};
use super::{AdminEvent, Change, Gap, LineSink, LogZone, MadeBy, Target, Unknown, Via};

/// Slack around a request's interval: log times are cut to the millisecond.
const SLACK_MS: i64 = 2;

/// Counts of what was read: a source whose lines are mostly skipped is not the hub's
/// log in its default format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines fed.
    pub lines: u64,
    /// Lines that did not parse (tracebacks' continuations, other formats, not UTF-8).
    pub skipped: u64,
    /// Lines of the request logger (`log.py`), the hub's own requests among them.
    pub requests: u64,
    /// Holes reported by the source.
    pub gaps: u64,
    /// Request lines by the actor of [`Attributor::watch`] (this tool: a source whose
    /// lines miss its own requests is not the hub's log at INFO in the default format).
    pub watched_requests: u64,
    /// The latest log time seen.
    pub last_time: Option<LocalTime>,
    /// Paged user listings (`GET /hub/api/users?offset=`, what this tool sends every
    /// run) by actor, for at most [`LISTERS`] actors: the caller finds its own among
    /// them once it knows its token's name.
    pub listings_by: std::collections::BTreeMap<String, u64>,
}

/// Actors whose listings [`Stats::listings_by`] counts.
const LISTERS: usize = 256;

/// Where the hub is in its life, as its own lines say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No start line seen (reading began mid-log).
    Unseen,
    /// Between `Running JupyterHub version` and `JupyterHub is now running`.
    Starting,
    Running,
}

/// What kind of request a request line is, for the changes it could have made.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `POST /users`: creates any users.
    Bulk,
    /// `POST /users/{name}`.
    Create(String),
    /// `PATCH /users/{name}`.
    Patch(String),
    /// `/hub/login` or `/hub/oauth_callback`: the request's user logged in.
    Login,
    /// `POST` (add) or `DELETE` (remove) `/groups/{name}/users`.
    Group { group: String, add: bool },
    /// Anything else by a logged-in user: the authenticator may refresh them.
    Other,
}

/// A finished request that covers a pending line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    kind: Kind,
    actor: String,
    via: Via,
    status: u16,
}

#[derive(Debug)]
struct PendingMessage {
    text: String,
    at: LocalTime,
}

#[derive(Debug)]
struct PendingRole {
    user: String,
    granted: bool,
    at: LocalTime,
    candidates: Vec<Candidate>,
}

#[derive(Debug)]
struct PendingGroup {
    group: String,
    count: u32,
    add: bool,
    at: LocalTime,
    candidates: Vec<Candidate>,
}

/// Reads lines in order and yields the admin events they prove. Memory holds only the
/// lines still waiting for their request (bounded by `hold`).
#[derive(Debug)]
pub struct Attributor {
    zone: LogZone,
    hold_ms: i64,
    phase: Phase,
    messages: VecDeque<PendingMessage>,
    roles: VecDeque<PendingRole>,
    groups: VecDeque<PendingGroup>,
    settled: Vec<AdminEvent>,
    stats: Stats,
    /// `({name}@`, for [`Stats::watched_requests`].
    watched: Option<(String, String)>,
}

impl Attributor {
    /// `hold`: how long after a line (by the log's clock) its request may still end.
    /// A request that lasts longer than `hold` is missed (its lines become unknown).
    pub fn new(zone: LogZone, hold: std::time::Duration) -> Attributor {
        Attributor {
            zone,
            hold_ms: i64::try_from(hold.as_millis()).unwrap_or(i64::MAX),
            phase: Phase::Unseen,
            messages: VecDeque::new(),
            roles: VecDeque::new(),
            groups: VecDeque::new(),
            settled: Vec::new(),
            stats: Stats::default(),
            watched: None,
        }
    }

    /// Counts the request lines of `actor` (say, this tool's service) in
    /// [`Stats::watched_requests`], so the caller can tell a log that shows its own
    /// requests from one that does not (a wrong file, a level above INFO, another format).
    pub fn watch(&mut self, actor: &str) {
        self.watched = Some((actor.to_string(), format!("({actor}@")));
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Lines still waiting for a request line (or for `hold` to pass).
    pub fn pending(&self) -> usize {
        self.roles.len() + self.groups.len() + self.messages.len()
    }

    /// The users whose admin role lines still wait for their request (or for `hold` to
    /// pass): who made their change is not known yet.
    pub fn pending_users(&self) -> impl Iterator<Item = &str> {
        self.roles.iter().map(|r| r.user.as_str())
    }

    /// The events settled so far (the log has moved `hold` past them).
    pub fn take_settled(&mut self) -> Vec<AdminEvent> {
        std::mem::take(&mut self.settled)
    }

    /// Settles everything still pending with what was read (the log as read decides:
    /// a request line not written yet makes its change unknown), and returns every event
    /// not yet taken.
    pub fn flush(&mut self) -> Vec<AdminEvent> {
        self.settle(None);
        self.messages.clear();
        self.take_settled()
    }

    /// One line of the log.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.stats.lines += 1;
        let Ok(line) = line::parse_line(bytes) else {
            self.stats.skipped += 1;
            return;
        };
        if self.stats.last_time.is_none_or(|t| line.time > t) {
            self.stats.last_time = Some(line.time);
        }
        // Every line of the hub's own loggers (app, access, tornado) is named after it.
        if line.logger != "JupyterHub" {
            return;
        }
        match line.module {
            "log" => self.on_request_line(&line),
            "users" => self.on_users_line(&line),
            "roles" => self.on_role_line(&line),
            "groups" => self.on_group_line(&line),
            "app" => self.on_app_line(&line),
            _ => {}
        }
        if self.pending() > 0 {
            let clock = self.stats.last_time.map(|t| LocalTime(t.0 - self.hold_ms));
            self.settle(clock);
        }
    }

    /// A hole in the log: whatever waits can no longer be paired with certainty.
    pub fn on_gap(&mut self, gap: &Gap) {
        self.stats.gaps += 1;
        self.messages.clear();
        let why = MadeBy::Unknown(Unknown::Gap(gap.kind));
        for role in std::mem::take(&mut self.roles) {
            let event = self.role_event(&role, (why.clone(), None, None));
            self.settled.push(event);
        }
        for group in std::mem::take(&mut self.groups) {
            let event = self.group_event(&group, (why.clone(), None, None));
            self.settled.push(event);
        }
        self.phase = Phase::Unseen;
    }

    fn on_users_line(&mut self, line: &LogLine<'_>) {
        if line.message.contains(" setting ") {
            self.messages.push_back(PendingMessage {
                text: line.message.to_string(),
                at: line.time,
            });
        }
    }

    fn on_role_line(&mut self, line: &LogLine<'_>) {
        let (granted, user) =
            if let Some(u) = line.message.strip_prefix("Adding role admin for User: ") {
                (true, u)
            } else if let Some(u) = line.message.strip_prefix("Removing role admin for User: ") {
                (false, u)
            } else {
                return;
            };
        let role = PendingRole {
            user: user.to_string(),
            granted,
            at: line.time,
            candidates: Vec::new(),
        };
        if self.phase == Phase::Starting {
            let event = self.role_event(&role, AT_START);
            self.settled.push(event);
        } else {
            self.roles.push_back(role);
        }
    }

    fn on_group_line(&mut self, line: &LogLine<'_>) {
        let (add, rest, middle) = if let Some(r) = line.message.strip_prefix("Adding ") {
            (true, r, " users to group ")
        } else if let Some(r) = line.message.strip_prefix("Removing ") {
            (false, r, " users from group ")
        } else {
            return;
        };
        let Some((count, group)) = rest.split_once(middle) else {
            return;
        };
        let Ok(count) = count.parse::<u32>() else {
            return;
        };
        self.groups.push_back(PendingGroup {
            group: group.to_string(),
            count,
            add,
            at: line.time,
            candidates: Vec::new(),
        });
    }

    /// The hub's start: `Running JupyterHub version` opens it (a restart: requests of the
    /// old process will never end), `JupyterHub is now running` closes it. 6.1.1 also
    /// applies an `admin` role of `load_roles` at start with `Setting admin=True on
    /// <User(name 0/0 running)>` and `Removing admin=True from <User(...)>`.
    fn on_app_line(&mut self, line: &LogLine<'_>) {
        let m = line.message;
        if m.starts_with("Running JupyterHub version ") {
            self.settle(None);
            self.messages.clear();
            self.phase = Phase::Starting;
        } else if m.starts_with("JupyterHub is now running") {
            self.phase = Phase::Running;
        } else if self.phase == Phase::Starting {
            let (granted, repr) = if let Some(r) = m.strip_prefix("Setting admin=True on ") {
                (true, r)
            } else if let Some(r) = m.strip_prefix("Removing admin=True from ") {
                (false, r)
            } else {
                return;
            };
            if let Some(user) = user_from_repr(repr) {
                let role = PendingRole {
                    user: user.to_string(),
                    granted,
                    at: line.time,
                    candidates: Vec::new(),
                };
                let event = self.role_event(&role, AT_START);
                self.settled.push(event);
            }
        }
    }

    fn on_request_line(&mut self, line: &LogLine<'_>) {
        self.stats.requests += 1;
        if let Some((actor, needle)) = &self.watched {
            // A cheap look first; the parse then makes sure the name is the user's whole
            // name, not part of another's.
            let by_actor = line.message.contains(needle.as_str())
                && line::parse_request(line.message).is_some_and(|r| r.user == actor);
            self.stats.watched_requests += u64::from(by_actor);
        }
        if line.message.contains("/hub/api/users?offset=")
            && let Some(request) = line::parse_request(line.message)
            && (self.stats.listings_by.len() < LISTERS
                || self.stats.listings_by.contains_key(request.user))
        {
            *self
                .stats
                .listings_by
                .entry(request.user.to_string())
                .or_default() += 1;
        }
        // Most lines are requests, and most find nothing waiting: not read further.
        if self.pending() == 0 {
            return;
        }
        let Some(request) = line::parse_request(line.message) else {
            return;
        };
        let Some(kind) = kind_of(&request) else {
            return;
        };
        let end = line.time.0 + SLACK_MS;
        let start = line.time.0
            - i64::try_from(request.duration_us.div_ceil(1_000)).unwrap_or(i64::MAX / 2)
            - SLACK_MS;
        let covers = |at: LocalTime| (start..=end).contains(&at.0);
        let candidate = Candidate {
            kind,
            actor: request.user.to_string(),
            via: if request.has_xsrf() {
                Via::AdminPage
            } else {
                Via::Api
            },
            status: request.status,
        };
        if let Kind::Patch(user) = &candidate.kind {
            self.pair_patch(user, &candidate, &covers);
        }
        for role in self.roles.iter_mut().filter(|r| covers(r.at)) {
            if could_change_role(&candidate, &role.user) {
                role.candidates.push(candidate.clone());
            }
        }
        if let Kind::Group { group, add } = &candidate.kind {
            for g in self.groups.iter_mut().filter(|g| covers(g.at)) {
                if g.group == *group && g.add == *add {
                    g.candidates.push(candidate.clone());
                }
            }
        }
    }

    /// A `PATCH /users/{user}` by `actor`: its exact `setting admin=` message makes the
    /// event, and the role lines it explains are done. 6.1.1 erases the name when the
    /// body repeats it (`setting name=None for {user}`); the admin line then names
    /// `None` if the name came first in the body, the user if it came after.
    fn pair_patch(
        &mut self,
        user: &str,
        candidate: &Candidate,
        covers: &dyn Fn(LocalTime) -> bool,
    ) {
        let actor = &candidate.actor;
        let erased_text = format!("{actor} setting name=None for {user}");
        let find = |messages: &VecDeque<PendingMessage>, text: &str| {
            messages.iter().position(|m| covers(m.at) && m.text == text)
        };
        let erased = find(&self.messages, &erased_text).is_some();
        let spellings: &[&str] = if erased { &[user, "None"] } else { &[user] };
        let found = [true, false].into_iter().find_map(|value| {
            let word = if value { "True" } else { "False" };
            spellings.iter().find_map(|spelled| {
                find(
                    &self.messages,
                    &format!("{actor} setting admin={word} for {spelled}"),
                )
                .map(|i| (value, i))
            })
        });
        let Some((value, i)) = found else { return };
        let Some(message) = self.messages.remove(i) else {
            return;
        };
        if let Some(j) = find(&self.messages, &erased_text) {
            self.messages.remove(j);
        }
        self.roles.retain(|r| {
            let same = r.user == user || (erased && r.user == "None");
            !(covers(r.at) && same && r.granted == value)
        });
        self.settled.push(AdminEvent {
            target: Target::User {
                name: user.to_string(),
                name_erased: erased,
            },
            change: if value {
                Change::Granted
            } else {
                Change::Revoked
            },
            made_by: MadeBy::Actor(actor.clone()),
            via: Some(candidate.via),
            at: self.zone.to_utc(message.at),
            status: Some(candidate.status),
        });
    }

    /// Decides every pending line logged at or before `until` (`None`: all of them).
    fn settle(&mut self, until: Option<LocalTime>) {
        let due = |at: LocalTime| until.is_none_or(|u| at <= u);
        while pop_due(&mut self.messages, |m| due(m.at)).is_some() {}
        while let Some(role) = pop_due(&mut self.roles, |r| due(r.at)) {
            let event = self.role_event(&role, decide(&role.candidates, self.phase));
            self.settled.push(event);
        }
        while let Some(group) = pop_due(&mut self.groups, |g| due(g.at)) {
            let event = self.group_event(&group, decide(&group.candidates, self.phase));
            self.settled.push(event);
        }
    }

    fn role_event(&self, role: &PendingRole, (made_by, via, status): Made) -> AdminEvent {
        // The 6.1.1 admin page erased the name: the role line says `None`, the request
        // path still names the user.
        let patched = role.candidates.iter().find_map(|c| match &c.kind {
            Kind::Patch(name)
                if role.candidates.len() == 1 && role.user == "None" && name != "None" =>
            {
                Some(name.clone())
            }
            _ => None,
        });
        let created = role.granted
            && role.candidates.len() == 1
            && matches!(role.candidates[0].kind, Kind::Bulk | Kind::Create(_));
        AdminEvent {
            target: Target::User {
                name_erased: patched.is_some(),
                name: patched.unwrap_or_else(|| role.user.clone()),
            },
            change: match (role.granted, created) {
                (true, true) => Change::CreatedAdmin,
                (true, false) => Change::Granted,
                (false, _) => Change::Revoked,
            },
            made_by,
            via,
            at: self.zone.to_utc(role.at),
            status,
        }
    }

    fn group_event(&self, group: &PendingGroup, (made_by, via, status): Made) -> AdminEvent {
        let name = group.group.clone();
        AdminEvent {
            target: Target::Members { count: group.count },
            change: if group.add {
                Change::AddedToGroup { group: name }
            } else {
                Change::RemovedFromGroup { group: name }
            },
            made_by,
            via,
            at: self.zone.to_utc(group.at),
            status,
        }
    }
}

impl LineSink for Attributor {
    fn line(&mut self, line: &[u8]) {
        self.feed(line);
    }

    fn gap(&mut self, gap: Gap) {
        self.on_gap(&gap);
    }
}

/// Who made a change, how it came in, and the status of the request that made it.
type Made = (MadeBy, Option<Via>, Option<u16>);

/// A change the hub's configuration makes at its start.
const AT_START: Made = (MadeBy::Configuration, Some(Via::HubStart), None);

/// The front of `queue`, taken off if `due` says its time has come.
fn pop_due<T>(queue: &mut VecDeque<T>, due: impl FnOnce(&T) -> bool) -> Option<T> {
    if queue.front().is_some_and(due) {
        queue.pop_front()
    } else {
        None
    }
}

/// Who made a line's change, from the requests that cover it.
fn decide(candidates: &[Candidate], phase: Phase) -> Made {
    match candidates {
        [] if phase == Phase::Starting => AT_START,
        [] => (MadeBy::Unknown(Unknown::NoRequest), None, None),
        [only] => {
            let status = Some(only.status);
            match only.kind {
                Kind::Login => (MadeBy::Authenticator, Some(Via::Login), status),
                Kind::Other => (MadeBy::Authenticator, Some(Via::Refresh), status),
                _ => (MadeBy::Actor(only.actor.clone()), Some(only.via), status),
            }
        }
        many => {
            let actors = many.iter().map(|c| c.actor.clone()).collect();
            (MadeBy::Unknown(Unknown::Overlap { actors }), None, None)
        }
    }
}

/// Whether a request of this kind could have changed `user`'s admin role.
fn could_change_role(candidate: &Candidate, user: &str) -> bool {
    match &candidate.kind {
        Kind::Bulk => true,
        Kind::Create(name) => name == user,
        // `None`: 6.1.1's admin page erased the name first.
        Kind::Patch(name) => name == user || user == "None",
        Kind::Login | Kind::Other => !candidate.actor.is_empty() && candidate.actor == user,
        Kind::Group { .. } => false,
    }
}

/// The kind of a request, from its method and path (any base URL before `/hub/`).
fn kind_of(request: &Request<'_>) -> Option<Kind> {
    let segments = request.decoded_segments()?;
    let names: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
    let method = request.method;
    let kind = match (method, names.as_slice()) {
        ("POST", [.., "hub", "api", "users"]) => Kind::Bulk,
        ("POST", [.., "hub", "api", "users", name]) => Kind::Create((*name).to_string()),
        ("PATCH", [.., "hub", "api", "users", name]) => Kind::Patch((*name).to_string()),
        ("POST" | "DELETE", [.., "hub", "api", "groups", group, "users"]) => Kind::Group {
            group: (*group).to_string(),
            add: method == "POST",
        },
        (_, [.., "hub", "login" | "oauth_callback"]) => Kind::Login,
        _ if !request.user.is_empty() => Kind::Other,
        _ => return None,
    };
    Some(kind)
}

/// `<User(newbie 0/1 running)>` → `newbie`.
fn user_from_repr(repr: &str) -> Option<&str> {
    let inner = repr.strip_prefix("<User(")?.strip_suffix(" running)>")?;
    let (name, counts) = inner.rsplit_once(' ')?;
    let (running, total) = counts.split_once('/')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(running) && digits(total)).then_some(name)
}
