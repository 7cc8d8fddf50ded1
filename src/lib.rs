//! Keeps the admins of JupyterHub hubs equal to a declared roster, and says who added
//! whom.
//!
//! Data flows one way, from the roster and the hubs to reports:
//!
//! - [`roster`]: reads and validates the roster file into a [`roster::Roster`], and
//!   gives the desired admins of each hub. [`name`] holds the name types (a user name
//!   in normal form, a hub name); [`token`] and [`tls`] read a hub's token and CA
//!   bundle once, at validation, and keep secrets out of every output, as
//!   [`webhook_url`] keeps alert webhook URLs; [`secret_source`] is where a secret is
//!   read from (`*_env` or `*_file`), [`small_file`] reads such files, bounded.
//! - [`hub`]: the JupyterHub REST API as two traits, [`hub::HubRead`] (into a
//!   [`snapshot::HubSnapshot`]) and [`hub::HubWrite`] (create, grant, revoke), with an
//!   HTTP client and an in-memory hub implementing both.
//! - [`plan`]: the pure planner, from desired and observed admins to a [`plan::Plan`],
//!   with the safety floor ([`plan::floor`]); [`fights`] notices, run after run, when
//!   something else keeps undoing its changes.
//! - [`reconcile`]: one reconcile of one hub (read → plan → apply, with no writer for
//!   a dry run) and one pass over many, producing a [`report::RunReport`] ([`report`]
//!   renders it as text or JSON; [`outcome`] names error kinds and skip reasons, with
//!   [`word`]'s `words!`, which gives such enums their one word each).
//! - [`daemon`]: the long-running mode: a supervisor of one task per hub, roster
//!   reloads, shutdown. It feeds [`metrics`], [`alert`] (state alerts and the
//!   webhook sender), [`news`] (messages about drift fixed), [`route`] (the global and
//!   per-community alert routes), [`expiry`] (administrators whose entry runs out
//!   soon), [`digest`] (the daily digest), [`audit`] (JSON lines) and [`server`]
//!   (probes). [`date`] is the calendar and the clock they read.
//! - [`cli`], [`dump`] and [`logging`]: the command line, the adoption helper and
//!   log setup; [`import`] is the other adoption helper, reading a hub's admins from its
//!   Zero to JupyterHub Helm values instead of from the live hub; both print a
//!   [`fragment`].
//! - [`diff`] compares two rosters offline (who gains and loses admin where, and
//!   why) for review; [`markdown`] renders a diff or a run's report as a
//!   pull-request comment, every name inert; [`saved_plan`] writes a dry run's plan
//!   and applies exactly that plan, on hubs that have not changed since.
//! - [`evidence`] reads a hub's own log (a file, or the hub pod's log through the
//!   Kubernetes API) to say who made each admin change (a user or service by name, the
//!   hub's configuration, the authenticator, or unknown, and why).
//! - [`retry`] and [`yaml`] are the only modules that name `backoff` and `serde_yaml`,
//!   so each can be swapped for a maintained crate in one file.

pub mod alert;
pub mod audit;
pub mod cli;
pub mod daemon;
pub mod date;
pub mod diff;
pub mod digest;
pub mod dump;
pub mod evidence;
pub mod expiry;
pub mod fights;
pub mod fragment;
pub mod hub;
pub mod import;
pub mod logging;
pub mod markdown;
pub mod metrics;
pub mod name;
pub mod news;
pub mod outcome;
pub mod plan;
pub mod reconcile;
pub mod report;
pub mod retry;
pub mod roster;
pub mod route;
pub mod saved_plan;
pub mod secret_source;
pub mod server;
pub mod small_file;
pub mod snapshot;
pub mod tls;
pub mod token;
pub mod webhook_url;
pub mod word;
pub mod yaml;
