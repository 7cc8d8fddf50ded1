//! Adopting the tool on hubs that already have admins: [`dump`] reads a live hub's
//! admins, [`import`] reads them from Zero to JupyterHub Helm values; both print a
//! roster [`fragment`] for a person to complete (who added whom).

pub(crate) mod dump;
pub(crate) mod fragment;
pub(crate) mod import;
