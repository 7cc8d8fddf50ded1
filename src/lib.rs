//! Keeps the admins of JupyterHub hubs equal to a declared roster, and says who added
//! whom.
//!
//! Data flows one way, from the roster and the hubs to reports:
//!
//! - [`roster`]: reads and validates the roster file into a [`roster::Roster`], and
//!   gives the desired admins of each hub. [`name`] is the normal form user names are
//!   compared in; [`token`] reads hub tokens and keeps them out of every output.
//! - [`hub`]: the JupyterHub REST API client. Its read side lists users into a
//!   [`plan::HubSnapshot`]; its write side creates users and sets admin flags.
//! - [`plan`]: the pure planner, from desired and observed admins to a [`plan::Plan`].
//! - [`run`]: one reconcile of one hub (read → plan → apply) and one pass over many,
//!   producing a [`report::RunReport`] ([`report`] renders it as text or JSON).
//! - [`daemon`]: the long-running mode: schedules, roster reloads, shutdown. It feeds
//!   [`metrics`], [`alert`] (webhook), [`audit`] (JSON lines) and [`server`] (probes).
//! - [`cli`] and [`logging`]: the command line and log setup.
//! - [`retry`] and [`yaml`] are the only modules that name `backoff` and `serde_yaml`,
//!   so each can be swapped for a maintained crate in one file.

pub mod alert;
pub mod audit;
pub mod cli;
pub mod daemon;
pub mod dump;
pub mod hub;
pub mod logging;
pub mod metrics;
pub mod name;
pub mod plan;
pub mod report;
pub mod retry;
pub mod roster;
pub mod run;
pub mod server;
pub mod token;
pub mod yaml;
