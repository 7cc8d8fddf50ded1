//! Review before anything changes: [`diff`] compares two rosters offline (who gains
//! and loses admin where, and why, and which hub settings change); [`markdown`]
//! renders a diff or a run's report as a pull-request comment, every name inert;
//! [`saved_plan`] writes a dry run's plan and applies exactly that plan, on hubs that
//! have not changed since.

pub(crate) mod diff;
pub(crate) mod markdown;
pub(crate) mod saved_plan;
