//! Keeps the admins of JupyterHub hubs equal to a declared roster.
pub mod name;
pub mod plan;
pub mod retry;
pub mod roster;
pub mod token;
pub mod yaml;
