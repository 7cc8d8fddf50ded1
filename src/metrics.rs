//! Prometheus metrics, prefix `jupyterhub_admin_sync_`. Labels carry hub names,
//! actions and kinds, never user names (cardinality, and privacy).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::outcome::ErrorKind;
use crate::plan::{Action, DriftKind};
use crate::report::{HubReport, Status};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HubLabel {
    pub hub: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabels {
    pub hub: String,
    /// missing / not_admin / undeclared
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChangeLabels {
    pub hub: String,
    /// create / grant / revoke
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub hub: String,
    pub kind: String,
}

/// An alert route: `global`, or the name of the community whose route it is.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

/// The buckets of `run_duration_seconds`.
const RUN_SECONDS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Declares every metric once, in the order `/metrics` lists them: its field in
/// [`Metrics`], its type, its name (after the prefix) and its help, and how it is
/// made when not by `Default`.
macro_rules! metrics {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident: $ty:ty = $name:literal, $help:literal $(, $make:expr)?;
    )+) => {
        /// Every metric the daemon exports, and the registry that renders them.
        #[derive(Debug)]
        pub struct Metrics {
            registry: Registry,
            $( $(#[doc = $doc])* pub $field: $ty, )+
        }

        impl Metrics {
            pub fn new() -> Metrics {
                let mut registry = Registry::with_prefix("jupyterhub_admin_sync");
                $(
                    let $field: $ty = metrics!(@make $($make)?);
                    registry.register($name, $help, $field.clone());
                )+
                let version = env!("CARGO_PKG_VERSION").to_string();
                registry.register("build", "The running build", Info::new(VersionLabel { version }));
                Metrics { registry, $($field),+ }
            }
        }
    };
    (@make) => { Default::default() };
    (@make $make:expr) => { $make };
}

metrics! {
    drift: Family<DriftLabels, Gauge> = "drift",
        "Differences between the roster and the hub left after the last run (0 = in sync), by kind";
    last_success: Family<HubLabel, Gauge<f64, AtomicU64>> = "last_success_timestamp_seconds",
        "Unix time of the last run that read the hub and made every change it planned";
    last_run: Family<HubLabel, Gauge<f64, AtomicU64>> = "last_run_timestamp_seconds",
        "Unix time the last run of the hub finished, successful or not";
    changes: Family<ChangeLabels, Counter> = "changes",
        "Changes made on hubs, by action";
    errors: Family<ErrorLabels, Counter> = "errors",
        "Runs of a hub that ended in an error, by kind";
    requests: Family<HubLabel, Counter> = "requests",
        "HTTP requests sent to hubs, retries included";
    run_duration: Family<HubLabel, Histogram> = "run_duration_seconds",
        "How long one run of a hub took (read, plan, apply)",
        Family::new_with_constructor(|| Histogram::new(RUN_SECONDS));
    roster_valid: Gauge = "roster_valid",
        "1 when the roster file on disk is valid; 0 while it is not (the last good roster stays in force)";
    roster_reloads: Counter = "roster_reloads",
        "Roster files loaded after the first";
    webhook_failures: Family<RouteLabel, Counter> = "webhook_failures",
        "Alert messages a route's webhook did not accept after every retry, or dropped from a full queue";
    /// Users something else keeps changing back, left alone by the daemon.
    contested: Family<HubLabel, Gauge> = "contested",
        "Users whose admin flag something else keeps changing back (hub config admin_users, the authenticator); the daemon leaves them alone";
    audit_failures: Counter = "audit_failures",
        "Times the audit log could not be written";
    /// Admins kept for a while because someone the roster entitles made them admin in
    /// the hub (`ui_grants`).
    provisional: Family<HubLabel, Gauge> = "provisional",
        "Provisional administrators: made admin in the hub by someone the roster entitles, kept for ui_grants.keep_for, neither revoked nor counted as drift";
    /// Whether a hub's log shows this tool's own requests (a source that works).
    log_usable: Family<HubLabel, Gauge> = "log_usable",
        "1 when the hub's log the roster names shows this tool's own requests (who made each change can be said); 0 when it does not (the wrong file or pod, a level above INFO, another format); absent for hubs whose log is not read or not judged yet";
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Records one hub's run.
    pub fn observe(&self, report: &HubReport) {
        let name = report.name.to_string();
        let hub = HubLabel { hub: name.clone() };
        let now = now_seconds();
        self.last_run.get_or_create(&hub).set(now);
        self.run_duration
            .get_or_create(&hub)
            .observe(report.duration_seconds);
        self.requests.get_or_create(&hub).inc_by(report.requests);
        for change in report.changes.iter().filter(|c| c.applied) {
            self.changes
                .get_or_create(&ChangeLabels {
                    hub: name.clone(),
                    action: change.action.as_str().to_string(),
                })
                .inc();
        }
        if report.status == Status::Error {
            self.errors
                .get_or_create(&ErrorLabels {
                    hub: name.clone(),
                    kind: report
                        .error_kind
                        .map_or("unknown", ErrorKind::as_str)
                        .to_string(),
                })
                .inc();
        } else {
            self.last_success.get_or_create(&hub).set(now);
        }
        // A hub that could not be read keeps its last known contests and drift.
        if report.version.is_some() {
            self.contested
                .get_or_create(&hub)
                .set(report.contested.len() as i64);
            self.provisional
                .get_or_create(&hub)
                .set(report.provisional.len() as i64);
            for (kind, n) in report.drift_by_kind() {
                self.drift
                    .get_or_create(&DriftLabels {
                        hub: name.clone(),
                        kind: kind.as_str().to_string(),
                    })
                    .set(n as i64);
            }
        }
    }

    /// Counts a message the route's webhook did not take.
    /// What the latest read of a hub's log says of it (nothing while it is not judged).
    pub fn log_usable(&self, hub: &str, usable: &crate::evidence::Usable) {
        use crate::evidence::Usable;
        let label = HubLabel {
            hub: hub.to_string(),
        };
        match usable {
            Usable::Yes => self.log_usable.get_or_create(&label).set(1),
            Usable::No(_) => self.log_usable.get_or_create(&label).set(0),
            Usable::Unknown => return,
        };
    }

    pub fn webhook_failed(&self, route: &str) {
        self.webhook_failures
            .get_or_create(&RouteLabel {
                route: route.to_string(),
            })
            .inc();
    }

    /// Drops every series of a hub that left the roster, so that no alert rule goes
    /// on firing for a hub that no longer exists.
    pub fn forget_hub(&self, name: &str) {
        let hub = HubLabel {
            hub: name.to_string(),
        };
        self.last_run.remove(&hub);
        self.last_success.remove(&hub);
        self.run_duration.remove(&hub);
        self.requests.remove(&hub);
        self.contested.remove(&hub);
        self.log_usable.remove(&hub);
        self.provisional.remove(&hub);
        for kind in DriftKind::ALL {
            self.drift.remove(&DriftLabels {
                hub: name.to_string(),
                kind: kind.as_str().to_string(),
            });
        }
        for action in Action::ALL {
            self.changes.remove(&ChangeLabels {
                hub: name.to_string(),
                action: action.as_str().to_string(),
            });
        }
        for kind in ErrorKind::ALL.iter().map(|k| k.as_str()).chain(["unknown"]) {
            self.errors.remove(&ErrorLabels {
                hub: name.to_string(),
                kind: kind.to_string(),
            });
        }
    }

    /// The metrics in the text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Standing;
    use crate::report::ChangeReport;

    fn report(status: Status, changes: Vec<ChangeReport>) -> HubReport {
        HubReport::sample(status, changes)
    }

    fn change(action: Action, user: &str, applied: bool) -> ChangeReport {
        ChangeReport::sample(action, user, Standing::Undeclared, applied)
    }

    #[test]
    fn observe_renders_the_documented_series_without_user_names() {
        let m = Metrics::new();
        m.roster_valid.set(1);
        m.observe(&report(
            Status::Drift,
            vec![
                change(Action::Grant, "dave", true),
                change(Action::Revoke, "mallory", false),
            ],
        ));
        let text = m.render();
        for needle in [
            "jupyterhub_admin_sync_drift{hub=\"climate-prod\",kind=\"undeclared\"} 1",
            "jupyterhub_admin_sync_drift{hub=\"climate-prod\",kind=\"missing\"} 0",
            "jupyterhub_admin_sync_changes_total{hub=\"climate-prod\",action=\"grant\"} 1",
            "jupyterhub_admin_sync_requests_total{hub=\"climate-prod\"} 4",
            "jupyterhub_admin_sync_last_success_timestamp_seconds{hub=\"climate-prod\"}",
            "jupyterhub_admin_sync_run_duration_seconds_count{hub=\"climate-prod\"} 1",
            "jupyterhub_admin_sync_roster_valid 1",
            "jupyterhub_admin_sync_build_info{version=\"",
        ] {
            assert!(text.contains(needle), "{needle} not in\n{text}");
        }
        assert!(
            !text.contains("dave") && !text.contains("mallory"),
            "{text}"
        );

        let mut failed = report(Status::Error, vec![]);
        failed.version = None;
        failed.error_kind = Some(ErrorKind::Transport);
        m.observe(&failed);
        let text = m.render();
        assert!(
            text.contains(
                "jupyterhub_admin_sync_errors_total{hub=\"climate-prod\",kind=\"transport\"} 1"
            ),
            "{text}"
        );
        // Unreadable: the last known drift stays.
        assert!(text.contains("kind=\"undeclared\"} 1"), "{text}");

        m.forget_hub("climate-prod");
        let text = m.render();
        assert!(
            !text.contains("climate-prod"),
            "a hub that left the roster keeps no series:\n{text}"
        );
    }
}
