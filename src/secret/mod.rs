//! The secrets a roster names, read once at validation and kept out of every output:
//! where a secret is read from ([`source`]: `*_env` or `*_file`), a hub's API token
//! ([`token`]), its CA bundle ([`tls`]), and an alert webhook URL ([`webhook_url`]).

pub(crate) mod source;
pub(crate) mod tls;
pub(crate) mod token;
pub(crate) mod webhook_url;
