//! Keeps the admins of JupyterHub hubs equal to a declared roster, and says who added
//! whom.
//!
//! Data flows one way, from the roster and the hubs to reports; the modules below are
//! in that order. ARCHITECTURE.md has the map and the recipes for common changes.
//!
//! - [`roster`]: reads and validates the roster into a [`roster::Roster`]: who should
//!   be admin on which hub, and who added them. [`secret`] reads the secrets it names
//!   (hub tokens, CA bundles, webhook URLs) once, at validation, and keeps them out of
//!   every output; [`small_file`] reads such files, bounded; [`name`] holds the name
//!   types (a user name in normal form, a hub name).
//! - [`hub`]: the JupyterHub REST API as two traits, [`hub::HubRead`] (users and
//!   groups, into a [`snapshot::HubSnapshot`]) and [`hub::HubWrite`] (create, grant,
//!   revoke, leave a group), with an HTTP client and an in-memory hub.
//! - [`evidence`]: who made each admin change, read from the hub's own log (a file,
//!   or the hub pod's log through the Kubernetes API).
//! - [`plan`]: the pure planner, from desired and observed admins to a [`plan::Plan`],
//!   with the safety floor ([`plan::floor`]).
//! - [`reconcile`]: one reconcile of one hub (read, plan, apply; a dry run is no
//!   writer) and one pass over many, producing a [`report::RunReport`] ([`report`]
//!   renders it; [`outcome`] names error kinds and skip reasons, with [`word`]'s
//!   `words!`, which gives such enums their one word each).
//! - [`audit`]: the audit trail, written ahead: an intent before each change, no change
//!   without it, one writer, a hash chain, `audit verify`.
//! - [`metrics`] and [`alert`] (drift alerts, routes, news, expiry notices, the
//!   daily digest): what the daemon tells people and Prometheus.
//! - [`daemon`]: the long-running mode (a task per hub, roster reloads, fights, probes,
//!   shutdown). [`date`] is the calendar and the clock it reads.
//! - [`review`]: `diff` of two rosters, markdown for pull requests, saved plans.
//! - [`adopt`]: `dump` and `import`, which write a roster fragment for a hub's admins.
//! - [`cli`] and [`logging`]: the command line (a file per mode and subcommand) and
//!   log set-up.
//! - [`retry`] and [`yaml`] are the only modules that name `backoff` and `serde_yaml`,
//!   so each can be swapped for a maintained crate in one file.

// The roster: what is declared.
pub mod name;
pub mod roster;
pub(crate) mod secret;
pub(crate) mod small_file;

// The hub: what is there, and who made it so.
pub mod evidence;
pub mod hub;
pub mod snapshot;

// Plan, apply, and what a run did.
pub mod outcome;
pub mod plan;
pub mod reconcile;
pub mod report;
pub(crate) mod word;

// What a run leaves behind: the audit trail, metrics, alerts.
pub mod alert;
pub(crate) mod audit;
pub(crate) mod metrics;

// The modes.
pub(crate) mod adopt;
pub mod cli;
pub mod daemon;
pub(crate) mod review;

// Shared services.
pub(crate) mod date;
pub mod logging;
pub mod retry;
pub mod yaml;
