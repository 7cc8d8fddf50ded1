//! Keeps the admins of JupyterHub hubs equal to a declared roster.
pub mod alert;
pub mod audit;
pub mod cli;
pub mod daemon;
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
